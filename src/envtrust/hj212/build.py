"""Frame building: uploads (for the simulator and tests) and the host's replies exactly as Appendix C shows them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .crc import crc16
from .model import ExeRtn, Frame, FrameError, Item, QnRtn

__all__ = [
    "NOTIFICATIONS",
    "encode_frame",
    "encode_segment",
    "error_reply",
    "reply_9011",
    "reply_9012",
    "reply_9013",
    "reply_9014",
    "reply_for",
    "to_2017",
    "upload",
]

# field-to-host notifications that the host answers with 9013 (HJ 212-2017 §6.5, C.3)
NOTIFICATIONS = frozenset({"1013"})
_REPLIES = frozenset({"9011", "9012", "9013", "9014"})


def encode_frame(segment: bytes, *, lower_crc: bool = False, crlf: bool = True) -> bytes:
    """Wrap a data segment: ``##`` + 4-digit length + segment + CRC (+ CRLF)."""
    if len(segment) > 9999:
        raise ValueError(f"data segment of {len(segment)} bytes cannot be framed (max 9999)")
    crc = f"{crc16(segment):04x}" if lower_crc else f"{crc16(segment):04X}"
    return b"##%04d%b%b%b" % (len(segment), segment, crc.encode("ascii"), b"\r\n" if crlf else b"")


def _cp_text(cp: Mapping[str, str] | Iterable[tuple[str, str]], items: Sequence[Item]) -> str:
    pairs = cp.items() if isinstance(cp, Mapping) else cp
    parts = [f"{k}={v}" for k, v in pairs]
    for item in items:
        parts.append(
            ",".join(
                f"{item.code_raw}-{s}={v}" if s else f"{item.code_raw}={v}" for s, v in item.values.items()
            )
        )
    return ";".join(parts)


def encode_segment(
    fields: Mapping[str, str] | Iterable[tuple[str, str]],
    cp: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    items: Sequence[Item] = (),
) -> bytes:
    """``K=V;…;CP=&&…&&`` with header fields in the given order, CP fields, then one ``;`` group per item."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    head = "".join(f"{k}={v};" for k, v in pairs)
    return f"{head}CP=&&{_cp_text(cp, items)}&&".encode()


def upload(
    *,
    qn: str | None,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    data_time: str | None,
    items: Sequence[Item],
    flag: int | None = 5,
    pnum: int | None = None,
    pno: int | None = None,
    cp: Mapping[str, str] | None = None,
    lower_crc: bool = False,
) -> bytes:
    """A field-to-host data upload (2011, 2051, 2061, 2031 …) as a complete frame."""
    fields: list[tuple[str, str]] = []
    if qn is not None:
        fields.append(("QN", qn))
    fields += [("ST", st), ("CN", cn), ("PW", pw), ("MN", mn)]
    if flag is not None:
        fields.append(("Flag", str(flag)))
    if pnum is not None and pno is not None:
        fields += [("PNUM", str(pnum)), ("PNO", str(pno))]
    cp_pairs: list[tuple[str, str]] = []
    if data_time is not None:
        cp_pairs.append(("DataTime", data_time))
    if cp:
        cp_pairs += list(cp.items())
    return encode_frame(encode_segment(fields, cp_pairs, items), lower_crc=lower_crc)


def _reply(fields: Mapping[str, str], cn: str, cp: str) -> bytes:
    # Appendix C (e.g. C.14): QN=<request QN>;ST=91;CN=90xx;PW=<PW>;MN=<MN>;Flag=4;CP=&&…&&
    parts = []
    if "QN" in fields:
        parts.append(f"QN={fields['QN']}")
    parts += ["ST=91", f"CN={cn}"]
    if "PW" in fields:
        parts.append(f"PW={fields['PW']}")
    if "MN" in fields:
        parts.append(f"MN={fields['MN']}")
    parts.append("Flag=4")
    return encode_frame(f"{';'.join(parts)};CP=&&{cp}&&".encode())


def reply_9011(fields: Mapping[str, str], qn_rtn: QnRtn | int) -> bytes:
    """Request reply (应答): QnRtn for the request with this QN."""
    return _reply(fields, "9011", f"QnRtn={int(qn_rtn)}")


def reply_9012(fields: Mapping[str, str], exe_rtn: ExeRtn | int) -> bytes:
    """Execution result (执行结果)."""
    return _reply(fields, "9012", f"ExeRtn={int(exe_rtn)}")


def reply_9013(fields: Mapping[str, str]) -> bytes:
    """Notification reply (通知应答), empty CP."""
    return _reply(fields, "9013", "")


def reply_9014(fields: Mapping[str, str]) -> bytes:
    """Data reply (数据应答), empty CP, echoing the upload's QN."""
    return _reply(fields, "9014", "")


def reply_for(frame: Frame) -> bytes | None:
    """The reply the host owes for an accepted frame, or None.

    Notifications (1013) get 9013; any other upload (data, heartbeat 9015, unknown commands) gets 9014 when
    its Flag has the A bit; replies (9011–9014) are never answered.
    """
    cn = frame.cn or ""
    if cn in _REPLIES:
        return None
    if cn in NOTIFICATIONS:
        return reply_9013(frame.fields)
    if frame.needs_reply:
        return reply_9014(frame.fields)
    return None


def error_reply(error: FrameError) -> bytes | None:
    """The 9011 refusal a protocol error implies (QnRtn = 9 CRC error, 4 MN error, 3 PW error …), or None.

    None when the frame was too broken to name the sender (no QN and no MN could be read).
    """
    if error.qn_rtn is None or not ("QN" in error.fields or "MN" in error.fields):
        return None
    return reply_9011(error.fields, error.qn_rtn)


_HEADER = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")


def to_2017(frame: Frame, *, pw: str | None = None, ack: bool = True) -> bytes:
    """The frame re-encoded in the HJ 212-2017 dialect (for an upstream platform that takes only 2017): factor
    codes of 2005 mapped to their 2017 codes, the Flag's version bits set to 2017 (its D bit kept, its A bit set
    when ``ack``), ``pw`` instead of the sender's PW when given, the standard CRC in upper case and CRLF.  CP fields
    and values are kept as sent, in order."""
    version_bits = 1 << 2
    old = frame.fields.get("Flag", "")
    split = bool(int(old) & 0b10) if old.isdigit() else False
    flag = version_bits | (0b10 if split else 0) | (0b01 if ack else 0)
    fields: list[tuple[str, str]] = []
    for key in _HEADER:
        if key == "Flag":
            fields.append(("Flag", str(flag)))
        elif key == "PW" and pw is not None:
            fields.append(("PW", pw))
        elif key in frame.fields:
            fields.append((key, frame.fields[key]))
    fields += [(k, v) for k, v in frame.fields.items() if k not in _HEADER]
    items = [Item(i.code, i.values, i.code) for i in frame.items]
    return encode_frame(encode_segment(fields, frame.cp, items))
