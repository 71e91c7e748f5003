"""Value types of the HJ 212 codec: flags, versions, parsed frames, protocol errors and other events."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "ERROR_REPLY_CODES",
    "ExeRtn",
    "Frame",
    "FrameError",
    "Garbage",
    "Item",
    "QnRtn",
    "Version",
    "decode_flag",
]


class Version(enum.IntEnum):
    """Standard version from the Flag bits V5..V0 (bits 7..2)."""

    HJT212_2005 = 0
    HJ212_2017 = 1
    HJ212_2025 = 2

    @property
    def label(self) -> str:
        return {0: "2005", 1: "2017", 2: "2025"}[self.value]


class QnRtn(enum.IntEnum):
    """Request reply codes carried by CN 9011 (HJ 212-2017 Table 6)."""

    READY = 1
    REJECTED = 2
    PW_ERROR = 3
    MN_ERROR = 4
    ST_ERROR = 5
    FLAG_ERROR = 6
    QN_ERROR = 7
    CN_ERROR = 8
    CRC_ERROR = 9
    UNKNOWN_ERROR = 100


class ExeRtn(enum.IntEnum):
    """Execution result codes carried by CN 9012 (HJ 212-2017 Table 7)."""

    SUCCESS = 1
    FAILED = 2
    CONDITION_ERROR = 3
    TIMEOUT = 4
    BUSY = 5
    FAULT = 6
    NO_DATA = 100


def decode_flag(flag: int) -> tuple[int, bool, bool]:
    """Split a Flag value into (version bits, D = split packet, A = reply requested); a bitfield, never equality."""
    return (flag >> 2) & 0x3F, bool(flag & 0b10), bool(flag & 0b01)


@dataclass(slots=True)
class Item:
    """One CP data item group: a factor code with its suffixed values, e.g. ``a21026-Avg=12.3,a21026-Flag=N``.

    ``values`` maps the suffix (``Rtd``, ``Avg``, ``Flag``, ``Info`` …) to the text exactly as sent.
    ``code`` is the 2017 code; ``code_raw`` the code as sent (differs for mapped 2005 codes).
    Treat as immutable (not frozen only because frozen dataclasses are slow to build).
    """

    code: str
    values: dict[str, str]
    code_raw: str

    def number(self, suffix: str) -> float | None:
        """The value of ``suffix`` as a float, or None when absent or not a number."""
        text = self.values.get(suffix)
        if text is None:
            return None
        try:
            return float(text)
        except ValueError:
            return None


@dataclass(slots=True)
class Frame:
    """A well-formed frame.  ``raw`` is every byte received for it, from ``##`` to the CRLF (if any).

    ``fields`` holds the header fields as sent (QN, ST, CN, PW, MN, Flag, PNUM, PNO and any other);
    ``data`` every CP entry as sent, in order (``DataTime``, ``a21026-Avg`` …).  From it, computed once on
    first use: ``cp``, the plain CP fields (``DataTime``, ``QnRtn``, ``RtdInterval`` …), and ``items``, the
    factor groups in order (2005 codes mapped).  ``warnings`` lists every departure from the standard that
    was tolerated (lower-case CRC, missing CRLF, Modbus CRC accepted for a device in compatibility mode,
    length counted in characters, …).  Treat as immutable.
    """

    raw: bytes
    segment: bytes
    fields: dict[str, str]
    data: dict[str, str]
    version: Version | None
    crc_variant: str  # "hj212" or "modbus"
    warnings: tuple[str, ...] = ()
    _cp: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    _items: tuple[Item, ...] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def cp(self) -> dict[str, str]:
        if self._cp is None:
            self._group()
        assert self._cp is not None
        return self._cp

    @property
    def items(self) -> tuple[Item, ...]:
        if self._items is None:
            self._group()
        assert self._items is not None
        return self._items

    def _group(self) -> None:
        from .codes import map_2005_code

        cp: dict[str, str] = {}
        groups: dict[str, dict[str, str]] = {}
        for key, value in self.data.items():
            code, dash, suffix = key.partition("-")
            if dash:
                values = groups.get(code)
                if values is None:
                    values = groups[code] = {}
                values[suffix] = value
            else:
                cp[key] = value
        legacy = self.version is Version.HJT212_2005
        st = self.fields.get("ST")
        items = []
        for code, values in groups.items():
            mapped = (map_2005_code(code, st) or code) if legacy else code
            items.append(Item(code=mapped, values=values, code_raw=code))
        self._cp = cp
        self._items = tuple(items)

    @property
    def data_time(self) -> str | None:
        return self.data.get("DataTime")

    @property
    def qn(self) -> str | None:
        return self.fields.get("QN")

    @property
    def st(self) -> str | None:
        return self.fields.get("ST")

    @property
    def cn(self) -> str | None:
        return self.fields.get("CN")

    @property
    def pw(self) -> str | None:
        return self.fields.get("PW")

    @property
    def mn(self) -> str | None:
        return self.fields.get("MN")

    @property
    def flag(self) -> int | None:
        text = self.fields.get("Flag")
        return int(text) if text is not None and text.isdigit() else None

    @property
    def needs_reply(self) -> bool:
        flag = self.flag
        return flag is not None and bool(flag & 1)

    @property
    def is_split(self) -> bool:
        flag = self.flag
        return flag is not None and bool(flag & 0b10)

    @property
    def pnum(self) -> int | None:
        text = self.fields.get("PNUM")
        return int(text) if text is not None and text.isdigit() else None

    @property
    def pno(self) -> int | None:
        text = self.fields.get("PNO")
        return int(text) if text is not None and text.isdigit() else None

    @property
    def crc_ok(self) -> bool:
        return self.crc_variant == "hj212"


@dataclass(frozen=True, slots=True)
class FrameError:
    """A frame that could not be accepted.  Kept (``raw``) for quarantine, with the reason and the reply it implies.

    ``code`` is a stable machine name (``bad_crc``, ``bad_length``, ``non_ascii`` …), ``reason`` a sentence for
    people.  ``fields`` holds whatever header fields could still be read, so that the reply can echo QN/MN.
    ``qn_rtn`` is the 9011 code the standard implies (None: the frame was too broken to answer).
    """

    raw: bytes
    code: str
    reason: str
    fields: dict[str, str] = field(default_factory=dict)
    qn_rtn: QnRtn | None = QnRtn.UNKNOWN_ERROR
    crc_ok: bool | None = None

    @property
    def mn(self) -> str | None:
        return self.fields.get("MN")

    def reply(self) -> bytes | None:
        """The 9011 refusal this error implies (QnRtn from :attr:`qn_rtn`), or None when nobody can be named."""
        from .build import error_reply

        return error_reply(self)


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes outside any frame, skipped while resynchronising on ``##``."""

    raw: bytes
    reason: str = "bytes outside a frame"


ERROR_REPLY_CODES: Final[dict[str, QnRtn | None]] = {
    "bad_crc": QnRtn.CRC_ERROR,
    "bad_length": QnRtn.UNKNOWN_ERROR,
    "oversize": QnRtn.UNKNOWN_ERROR,
    "non_ascii": QnRtn.UNKNOWN_ERROR,
    "bad_header": QnRtn.UNKNOWN_ERROR,
    "bad_flag": QnRtn.FLAG_ERROR,
    "bad_cp": QnRtn.UNKNOWN_ERROR,
    "no_frame_end": None,
    "unknown_mn": QnRtn.MN_ERROR,
    "bad_pw": QnRtn.PW_ERROR,
}
