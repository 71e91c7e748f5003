"""Helpers shared by the HJ 212 codec tests: golden frames, an independent frame writer, chunked decoding."""

from __future__ import annotations

import random
from collections.abc import Container, Iterable, Iterator
from pathlib import Path

from hypothesis import HealthCheck, settings

from envtrust.hj212 import MAX_FRAME, MAX_SEGMENT, Decoder, Event, FrameError, Garbage
from envtrust.hj212.crc import crc16_reference

GOLDEN = Path(__file__).parent / "golden"

APPENDIX_A = (GOLDEN / "appendix_a.hj212").read_bytes()
APPENDIX_A_SEGMENT = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
)
APPENDIX_A_MN = "010000A8900016F000169DC0"

RX_LOG = (GOLDEN / "rx_log_tonyxia2016.txt").read_bytes()
RX_LOG_FRAMES = [line + b"\n" for line in RX_LOG.splitlines()]
RX_LOG_MODBUS_MNS = frozenset({"4201003", "88888880000001"})

WHITESPACE = b"\r\n\x00 "
"""Bytes the decoder drops without a ``Garbage`` event when a gap between frames holds nothing else."""

SUFFIXES = (
    "Rtd",
    "Avg",
    "Min",
    "Max",
    "Cou",
    "ZsRtd",
    "ZsAvg",
    "ZsMin",
    "ZsMax",
    "Flag",
    "EFlag",
    "SampleTime",
    "Info",
    "SN",
)
"""Every per-factor suffix of HJ 212-2017 Table 4 that the issue names."""

# hypothesis on a slow shared machine: no deadline, no example database written into the work tree
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(FAST, max_examples=150)


def frame(
    segment: bytes | str,
    *,
    crc: int | None = None,
    lower: bool = False,
    length: bytes | None = None,
    tail: bytes = b"\r\n",
) -> bytes:
    """A frame written without the codec's own builder: ``##`` + length + segment + CRC + tail.

    The CRC is the standard's byte-by-byte algorithm unless ``crc`` is given; ``length`` overrides the
    4-digit byte count.
    """
    seg = segment.encode() if isinstance(segment, str) else segment
    value = crc16_reference(seg) if crc is None else crc
    crc_text = f"{value:04x}" if lower else f"{value:04X}"
    head = b"%04d" % len(seg) if length is None else length
    return b"##" + head + seg + crc_text.encode("ascii") + tail


def swap_bytes(value: int) -> int:
    """A 16-bit value written low byte first, as the Modbus-variant loggers send their CRC."""
    return ((value & 0xFF) << 8) | (value >> 8)


def decode(
    data: bytes,
    sizes: Iterable[int] | None = None,
    *,
    max_segment: int = MAX_SEGMENT,
    max_frame: int = MAX_FRAME,
    modbus_crc: Container[str] = frozenset(),
) -> list[Event]:
    """Feed ``data`` to a fresh decoder in chunks of the given sizes (the rest in one piece), then flush."""
    decoder = Decoder(max_segment=max_segment, max_frame=max_frame, modbus_crc=modbus_crc)
    events: list[Event] = []
    pos = 0
    for size in sizes or ():
        if pos >= len(data):
            break
        events += decoder.feed(data[pos : pos + size])
        pos += size
    events += decoder.feed(data[pos:])
    events += decoder.flush()
    assert decoder.buffered == 0
    return events


def every(n: int) -> Iterator[int]:
    """Chunk sizes n, n, n, …"""
    while True:
        yield n


def random_sizes(rng: random.Random, total: int) -> list[int]:
    """A random chunking of ``total`` bytes: mostly small pieces, sometimes large ones."""
    sizes = []
    left = total
    while left > 0:
        size = rng.choice((1, 1, 2, 3, rng.randint(1, 16), rng.randint(1, 300)))
        sizes.append(size)
        left -= size
    return sizes


def sizes_from_cuts(cuts: Iterable[int], total: int) -> list[int]:
    """Chunk sizes that cut ``total`` bytes at the given positions (hypothesis draws positions: they shrink well)."""
    points = sorted({c for c in cuts if 0 < c < total})
    return [b - a for a, b in zip([0, *points], [*points, total], strict=True)]


def summary(events: Iterable[Event]) -> list[tuple[str, str, bytes]]:
    """(kind, error code, raw) per event: compact to compare and readable in a failure message."""
    out = []
    for event in events:
        code = event.code if isinstance(event, FrameError) else ""
        out.append((type(event).__name__, code, event.raw))
    return out


def assert_lossless(data: bytes, events: list[Event]) -> None:
    """The decoder's promise about bytes: nothing lost, nothing invented.

    The input is exactly the events' raw bytes in order, except for gaps that the decoder drops silently:
    a run of bytes between two frames (or before the first, or after the last) that holds nothing but CR,
    LF, NUL and space.  Any other gap is one ``Garbage`` event holding the whole run, whitespace included.
    So below ``MAX_FRAME`` bytes of input (where garbage is never split into bounded pieces): a reported
    ``Garbage`` is never whitespace only, two ``Garbage`` events never follow each other, and a dropped gap
    never touches a ``Garbage`` event and is followed by a frame start ``##`` or the end of the input.
    """
    bounded = len(data) < MAX_FRAME
    pos = 0
    previous: Event | None = None
    for index, event in enumerate(events):
        raw = event.raw
        assert raw, f"event {index} has no bytes"
        garbage = isinstance(event, Garbage)
        if garbage:
            assert raw.strip(WHITESPACE), f"whitespace-only garbage reported: {raw!r}"
            if bounded:
                assert not isinstance(previous, Garbage), f"garbage not coalesced at event {index}"
        gap = pos
        while not data.startswith(raw, pos):
            assert pos < len(data), f"event {index} ({raw[:40]!r}…) is not in the input"
            assert data[pos] in WHITESPACE, f"byte {data[pos]:#04x} at {pos} lost before event {index}"
            pos += 1
        if pos > gap and bounded:
            assert not garbage and not isinstance(previous, Garbage), f"gap next to garbage at event {index}"
            assert raw.startswith(b"##"), f"dropped gap before a non-frame at event {index}"
        pos += len(raw)
        previous = event
    assert not data[pos:].strip(WHITESPACE), f"bytes lost at the end: {data[pos:][:40]!r}"
    if pos < len(data) and bounded:
        assert not isinstance(previous, Garbage), "dropped gap after garbage at the end"
