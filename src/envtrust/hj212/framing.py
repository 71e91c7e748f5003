"""Streaming framer: bytes in any chunking → frames, protocol errors and skipped garbage, in order.

Frames are delimited by their length field (``##`` + 4 digits + segment + 4 CRC chars), not by CRLF, so a
frame split across reads or several frames in one read come out right; CRLF after the CRC is consumed when
present.  A frame whose length field disagrees with its line (a LF, or the next ``##`` + 4 digits, comes
first) is cut there and reported with the reason.  Bytes before a ``##`` are reported as :class:`Garbage`
(a run ``###`` starts the frame at its last pair).  Nothing is buffered beyond ``max_frame`` bytes: a frame
with no end within that bound is a ``no_frame_end`` error.  A frame that ends without CRLF is held until the
next byte shows whether a CRLF follows; :meth:`Decoder.flush` releases it when the peer goes quiet.  The
events depend only on the bytes, never on how they were split into reads.
"""

from __future__ import annotations

from collections.abc import Container

from .model import Frame, FrameError, Garbage
from .parse import MAX_SEGMENT, parse_frame

__all__ = ["MAX_FRAME", "Decoder", "Event"]

Event = Frame | FrameError | Garbage

MAX_FRAME = 6 + 9999 + 4 + 2  # the largest frame the 4-digit length field can describe
_DIGITS = frozenset(b"0123456789")


class Decoder:
    """Sans-IO HJ 212 decoder for one byte stream (one TCP connection, one file)."""

    def __init__(
        self,
        *,
        max_segment: int = MAX_SEGMENT,
        max_frame: int = MAX_FRAME,
        modbus_crc: Container[str] = frozenset(),
    ) -> None:
        self._buf = bytearray()
        self.max_segment = max_segment
        self.max_frame = max_frame
        self.modbus_crc = modbus_crc
        self.garbage_bytes = 0

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Event]:
        """Add received bytes; return every event they complete."""
        if data:
            self._buf += data
        return self._drain(final=False)

    def flush(self) -> list[Event]:
        """End of input (or the peer went quiet): release a held frame and report any leftover bytes."""
        return self._drain(final=True)

    def _parse(self, raw: bytes) -> Frame | FrameError:
        return parse_frame(raw, max_segment=self.max_segment, modbus_crc=self.modbus_crc)

    def _garbage(self, n: int, events: list[Event]) -> None:
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        if chunk.strip(b"\r\n\x00 "):
            self.garbage_bytes += len(chunk)
            events.append(Garbage(chunk))

    def _take(self, n: int, events: list[Event]) -> None:
        raw = bytes(self._buf[:n])
        del self._buf[:n]
        events.append(self._parse(raw))

    def _drain(self, *, final: bool) -> list[Event]:
        # Every decision below depends only on bytes already received (or on ``final``), never on how they
        # were chunked, and looks no further than ``max_frame`` bytes: any chunking gives the same events.
        events: list[Event] = []
        buf = self._buf
        cap = self.max_frame
        while buf:
            n = len(buf)
            start = buf.find(b"##")
            while start >= 0 and start + 2 < n and buf[start + 2] == 0x23:
                start += 1  # in a run "###…" the frame starts at the last pair
            if start < 0 or start + 2 > cap:
                # hold garbage until a frame start, the end of input or the size bound, so it is reported in
                # one piece rather than byte by byte (a trailing "#" may begin the next "##")
                if n >= cap:
                    self._garbage(cap - 1 if buf[cap - 1] == 0x23 and cap > 1 else cap, events)
                    continue
                if final:
                    self._garbage(n, events)
                break
            if start + 2 == n and not final:
                break  # the next byte tells whether the "##" run goes on
            if start > 0:
                self._garbage(start, events)
                continue
            if n < 6 and not final:
                lf = buf.find(b"\n")
                if lf < 0:
                    break
                self._take(lf + 1, events)
                continue
            head = buf[2:6]
            if len(head) == 4 and _DIGITS.issuperset(head):
                end = 6 + int(head) + 4
                limit = min(end, cap)
                # a line end or another frame start inside the declared length: the length field is wrong
                lf = buf.find(b"\n", 2, limit)
                nxt = _next_start(buf, 2, lf if lf >= 0 else limit, final, cap)
                if nxt == _WAIT:
                    break
                if nxt >= 0 or lf >= 0:
                    self._take(nxt if nxt >= 0 else lf + 1, events)
                    continue
                if n < end:
                    if n >= cap:
                        self._oversize(events)
                        continue
                    if final:
                        self._take(n, events)
                    break
                # the whole declared frame is here; consume a CRLF tail if present
                if n == end:
                    if not final:
                        break  # wait for one more byte: CR, LF or the next frame
                    self._take(end, events)
                    continue
                tail = buf[end]
                if tail == 0x0A:
                    self._take(end + 1, events)
                elif tail == 0x0D:
                    if n == end + 1 and not final:
                        break
                    self._take(end + 2 if n > end + 1 and buf[end + 1] == 0x0A else end + 1, events)
                elif tail == 0x23 and (n == end + 1 or buf[end + 1] == 0x23):
                    if n == end + 1 and not final:
                        break  # a lone "#": wait to see whether a frame starts here
                    self._take(end, events)
                elif not self._cut(end, final, events):
                    break  # more bytes follow without CRLF (length field too small): wait for the line end
                continue
            # no 4-digit length: cut at the line end (or the next ##) and let the parser name the problem
            if not self._cut(2, final, events):
                break
        return events

    def _cut(self, at: int, final: bool, events: list[Event]) -> bool:
        """Take the frame up to the first line end or ``##`` at or after ``at``; False to wait for more bytes."""
        buf = self._buf
        cap = self.max_frame
        lf = buf.find(b"\n", at, cap)
        nxt = buf.find(b"##", at, cap if lf < 0 else lf)
        if nxt >= 0:
            self._take(nxt, events)
        elif lf >= 0:
            self._take(lf + 1, events)
        elif len(buf) >= cap:
            self._oversize(events)
        elif final:
            self._take(len(buf), events)
        else:
            return False
        return True

    def _oversize(self, events: list[Event]) -> None:
        raw = bytes(self._buf[: self.max_frame])
        del self._buf[: self.max_frame]
        events.append(
            FrameError(
                raw=raw,
                code="no_frame_end",
                reason=f"no frame end within {self.max_frame} bytes",
                qn_rtn=None,
            )
        )


_WAIT = -2


def _next_start(buf: bytearray, lo: int, hi: int, final: bool, cap: int) -> int:
    """Position of the first ``##`` + 4 digits starting in ``[lo, hi)`` and ending within ``cap``; -1 if none.

    ``_WAIT`` when a ``##`` whose following bytes are digits so far is cut off by the end of the buffer.
    """
    at = buf.find(b"##", lo, hi + 1)
    while 0 <= at < hi and at + 6 <= cap:
        head = buf[at + 2 : at + 6]
        if _DIGITS.issuperset(head):
            if len(head) == 4:
                return at
            if not final:
                return _WAIT
        at = buf.find(b"##", at + 1, hi + 1)
    return -1
