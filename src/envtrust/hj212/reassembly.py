"""Reassembly of split uploads (Flag D bit, PNUM/PNO).

Fragments carry their own QN, so they are grouped by (MN, CN, DataTime, PNUM), as the standard's C.49/C.50
examples require.  The clock is the caller's: pass ``now`` (seconds) in and ask for expired groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Frame

__all__ = ["Reassembler", "merge_fragments"]

_Key = tuple[str, str, str, int]


@dataclass(slots=True)
class _Group:
    first_seen: float
    parts: dict[int, Frame] = field(default_factory=dict)


def merge_fragments(parts: list[Frame]) -> Frame:
    """One frame from fragments in PNO order: items concatenated; raw bytes joined; PNUM/PNO dropped."""
    first = parts[0]
    fields = {k: v for k, v in first.fields.items() if k not in ("PNUM", "PNO")}
    data = dict(first.data)
    warnings: list[str] = list(first.warnings)
    for part in parts[1:]:
        for key, value in part.data.items():
            if "-" in key:  # items; the plain fields (DataTime …) are the first fragment's
                data.setdefault(key, value)
        warnings.extend(part.warnings)
    warnings.append(f"reassembled from {len(parts)} packets")
    return Frame(
        raw=b"".join(p.raw for p in parts),
        segment=b"".join(p.segment for p in parts),
        fields=fields,
        data=data,
        version=first.version,
        crc_variant="modbus" if any(p.crc_variant == "modbus" for p in parts) else first.crc_variant,
        warnings=tuple(dict.fromkeys(warnings)),
    )


class Reassembler:
    """Collects fragments; :meth:`add` returns the whole packet once every PNO of 1..PNUM has arrived."""

    def __init__(self, timeout: float = 600.0) -> None:
        self.timeout = timeout
        self._groups: dict[_Key, _Group] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, frame: Frame, now: float) -> Frame | None:
        """Add a frame.  Unsplit frames come straight back; a fragment returns None until its packet is whole."""
        pnum, pno = frame.pnum, frame.pno
        if not frame.is_split or pnum is None or pno is None or not 1 <= pno <= pnum:
            return frame  # not a fragment, or numbered so that it can never complete a packet: keep it as is
        key = (frame.mn or "", frame.cn or "", frame.data_time or "", pnum)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(first_seen=now)
        group.parts.setdefault(pno, frame)
        if len(group.parts) >= pnum and all(i in group.parts for i in range(1, pnum + 1)):
            del self._groups[key]
            return merge_fragments([group.parts[i] for i in range(1, pnum + 1)])
        return None

    def expire(self, now: float) -> list[list[Frame]]:
        """Remove and return the fragments of packets still incomplete after ``timeout`` seconds."""
        old = [k for k, g in self._groups.items() if now - g.first_seen >= self.timeout]
        out = []
        for key in old:
            group = self._groups.pop(key)
            out.append([group.parts[i] for i in sorted(group.parts)])
        return out
