"""Decode a whole byte stream (a file) with line numbers: the shared reader of ``decode`` and ``import``."""

from __future__ import annotations

from collections.abc import Iterator

from .. import hj212

CHUNK = 1 << 16


def events_with_lines(data: bytes, decoder: hj212.Decoder) -> Iterator[tuple[int, int, hj212.Event]]:
    """Yield (line number, byte offset, event) for every event of ``data``, fed in chunks as a socket would."""
    offset = 0
    line = 1
    # the last step feeds nothing and flushes: the end of the data releases a held frame and trailing bytes
    for start in range(0, len(data) + CHUNK, CHUNK):
        piece = data[start : start + CHUNK]
        events = decoder.feed(piece) if piece else decoder.flush()
        for event in events:
            raw = event.raw
            at = data.find(raw, offset)
            if at < 0:  # events carry the exact bytes of the stream, in order; be safe anyway
                at = offset
            line += data.count(b"\n", offset, at)
            # report the line where the record's content starts, not a blank line before it (garbage chunks
            # begin with the line end of the previous frame)
            lead = len(raw) - len(raw.lstrip(b"\r\n\t \x00"))
            yield line + raw.count(b"\n", 0, lead), at, event
            line += raw.count(b"\n")
            offset = at + len(raw)
        if not piece:
            break
