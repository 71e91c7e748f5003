"""Decode a whole byte stream (a file) with line numbers: the shared reader of ``decode`` and ``import``."""

from __future__ import annotations

from collections.abc import Iterator

from .. import hj212

CHUNK = 1 << 16


def events_with_lines(data: bytes, decoder: hj212.Decoder) -> Iterator[tuple[int, int, hj212.Event]]:
    """Yield (line number, byte offset, event) for every event of ``data``, fed in chunks as a socket would."""
    offset = 0
    line = 1
    for start in range(0, len(data) + 1, CHUNK):
        piece = data[start : start + CHUNK]
        events = decoder.feed(piece) if piece else decoder.flush()
        for event in events:
            raw = event.raw
            at = data.find(raw, offset)
            if at < 0:  # events carry the exact bytes of the stream, in order; be safe anyway
                at = offset
            line += data.count(b"\n", offset, at)
            yield line, at, event
            line += raw.count(b"\n")
            offset = at + len(raw)
        if not piece:
            break
