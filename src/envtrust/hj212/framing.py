"""Streaming framer: bytes in any chunking → frames, protocol errors and skipped garbage, in order.

Frames are delimited by their length field (``##`` + 4 digits + segment + 4 CRC chars), not by CRLF, so a
frame split across reads or several frames in one read come out right; CRLF after the CRC is consumed when
present.  A frame whose length field disagrees with its line (a CRLF or the next ``##`` comes first) is cut
at that line end and reported with the reason.  Bytes before a ``##`` are reported as :class:`Garbage`.
Nothing is buffered beyond ``max_frame`` bytes.  A frame that ends without CRLF is held until the next byte
shows whether a CRLF follows; :meth:`Decoder.flush` releases it when the peer goes quiet.
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
        events: list[Event] = []
        buf = self._buf
        while buf:
            start = buf.find(b"##")
            if start < 0:
                # hold garbage until a frame start, the end of input or the size bound, so it is reported in
                # one piece rather than byte by byte
                if final or len(buf) >= self.max_frame:
                    self._garbage(len(buf), events)
                break
            if start > 0:
                self._garbage(start, events)
                continue
            n = len(buf)
            if n < 6 and not final:
                lf = buf.find(b"\n")
                if lf < 0:
                    break
                self._take(lf + 1, events)
                continue
            head = buf[2:6]
            if len(head) == 4 and _DIGITS.issuperset(head):
                end = 6 + int(head) + 4
                lf = buf.find(b"\n", 2, end)
                if lf >= 0:
                    # the line ends before the declared length: a wrong length field
                    self._take(lf + 1, events)
                    continue
                nxt = buf.find(b"##", 2, end)
                if n < end:
                    if nxt >= 0 and _plausible_start(buf, nxt):
                        # a new frame starts inside the declared length: the length field was too large
                        self._take(nxt, events)
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
                elif buf.startswith(b"##", end) or (n == end + 1 and tail == 0x23):
                    self._take(end, events)
                else:
                    # more bytes follow without CRLF: the length field was too small; cut at the line end
                    lf = buf.find(b"\n", end)
                    if lf < 0:
                        nxt = buf.find(b"##", end)
                        if nxt >= 0:
                            self._take(nxt, events)
                            continue
                        if n < self.max_frame and not final:
                            break
                        self._take(min(n, self.max_frame), events)
                        continue
                    if lf + 1 > self.max_frame:
                        self._oversize(events)
                        continue
                    self._take(lf + 1, events)
                continue
            # no 4-digit length: cut at the line end (or the next ##) and let the parser name the problem
            lf = buf.find(b"\n")
            nxt = buf.find(b"##", 2)
            cut = min(x for x in (lf + 1 if lf >= 0 else -1, nxt) if x > 0) if (lf >= 0 or nxt > 0) else -1
            if cut < 0:
                if n < self.max_frame and not final:
                    break
                if n >= self.max_frame:
                    self._oversize(events)
                    continue
                cut = n
            if cut > self.max_frame:
                self._oversize(events)
                continue
            self._take(cut, events)
        return events

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


def _plausible_start(buf: bytearray, at: int) -> bool:
    head = buf[at + 2 : at + 6]
    return len(head) < 4 or _DIGITS.issuperset(head)
