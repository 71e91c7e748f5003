"""Decoder (streaming framer): sticky and half packets (E8, E9), garbage and resync (E10), missing CRLF (E7),
wrong lengths (E11), size bounds (E5) and the same events for any chunking of the input (research §7)."""

from __future__ import annotations

import random
from collections.abc import Container

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrust.hj212 import MAX_FRAME, MAX_SEGMENT, Decoder, Event, Frame, FrameError, Garbage, error_reply

from .support import (
    APPENDIX_A,
    APPENDIX_A_SEGMENT,
    MEDIUM,
    RX_LOG_FRAMES,
    RX_LOG_MODBUS_MNS,
    assert_lossless,
    decode,
    every,
    frame,
    random_sizes,
    sizes_from_cuts,
    summary,
)

UP = frame(
    "QN=20260101080000123;ST=31;CN=2011;PW=123456;MN=MN0001;Flag=5;"
    "CP=&&DataTime=20260101080000;a21026-Rtd=12.5,a21026-Flag=N&&"
)
UP2 = frame(
    "QN=20260101080000456;ST=32;CN=2051;PW=123456;MN=MN0002;Flag=4;CP=&&DataTime=20260101080000;w01018-Avg=3&&"
)


def same_in_every_chunking(
    data: bytes, *, max_segment: int = MAX_SEGMENT, modbus_crc: Container[str] = frozenset()
) -> list[Event]:
    """Decode ``data`` whole, byte by byte, 7 bytes at a time and in random pieces; all must agree exactly."""
    options = {"max_segment": max_segment, "modbus_crc": modbus_crc}
    whole = decode(data, **options)
    assert decode(data, every(1), **options) == whole
    assert decode(data, every(7), **options) == whole
    rng = random.Random(len(data))
    for _ in range(3):
        assert decode(data, random_sizes(rng, len(data)), **options) == whole
    assert_lossless(data, whole)
    return whole


def kinds(events: list[Event]) -> list[str]:
    return [e.code if isinstance(e, FrameError) else type(e).__name__ for e in events]


# --- half and sticky packets (E8, E9) -----------------------------------------------------------------


def test_frame_split_across_two_reads_at_every_position() -> None:
    """E9: a frame split anywhere across two reads comes out once, whole, when its last byte arrives."""
    for cut in range(1, len(APPENDIX_A)):
        decoder = Decoder()
        assert decoder.feed(APPENDIX_A[:cut]) == []
        assert decoder.buffered == cut
        events = decoder.feed(APPENDIX_A[cut:])
        assert summary(events) == [("Frame", "", APPENDIX_A)]
        assert decoder.buffered == 0


def test_several_frames_in_one_read() -> None:
    """E8: several frames in one read are all found, in order, and nothing stays buffered."""
    decoder = Decoder()
    events = decoder.feed(APPENDIX_A + UP + UP2 + APPENDIX_A)
    assert [e.raw for e in events] == [APPENDIX_A, UP, UP2, APPENDIX_A]
    assert all(isinstance(e, Frame) for e in events)
    assert decoder.buffered == 0


# --- the acceptance stream (research §7) ---------------------------------------------------------------

STREAM_PARTS: list[tuple[bytes, str]] = [
    (b"GET / HTTP/1.0\r\n\r\n", "Garbage"),
    (APPENDIX_A, "Frame"),
    (b"\r\n\r\n\x00 ", ""),  # blank lines between frames: dropped silently
    (UP[:-2], "Frame"),  # no CRLF, directly followed by the next frame
    (UP2, "Frame"),
    (b"\x01\x02junk#x\xff\xfe", "Garbage"),
    (UP.replace(b"a21026-Rtd", b"a21026-Rtd=1;a21026-Max"), "bad_length"),  # length field too small
    (frame(APPENDIX_A_SEGMENT, length=b"0120"), "bad_length"),  # too large, cut at the line end
    (frame(APPENDIX_A_SEGMENT, length=b"81"), "bad_length"),  # E11: 2-digit length
    (APPENDIX_A.replace(b"1C80", b"1c80"), "Frame"),  # E1
    (frame(APPENDIX_A_SEGMENT, crc=0x0759), "bad_crc"),  # E2 Modbus, not enabled for this MN
    (RX_LOG_FRAMES[0], "Frame"),  # LF only (real log)
    (RX_LOG_FRAMES[3], "oversize"),  # real 1025-byte segment
    (frame("QN=1;ST=31;CN=3020;PW=1;MN=M;Flag=4;CP=&&i11001-Info=//##告警## 清洗;a=b//&&"), "Frame"),
    (b"#", "Garbage"),
    (UP, "Frame"),
    (UP[:-2], "Frame"),  # the stream ends with a frame without CRLF: released by flush()
]
STREAM = b"".join(part for part, _ in STREAM_PARTS)


def test_acceptance_stream_whole() -> None:
    """Research §7: frames, garbage, broken frames in one stream: each is found, in order, with its verdict."""
    events = decode(STREAM)
    expected = [(kind, part) for part, kind in STREAM_PARTS if kind]
    assert [(e.code if isinstance(e, FrameError) else type(e).__name__, e.raw) for e in events] == expected
    assert_lossless(STREAM, events)


def test_acceptance_stream_in_1_and_7_byte_pieces() -> None:
    """Research §7: the stream fed 1 byte and 7 bytes at a time gives the same events in the same order."""
    whole = decode(STREAM)
    assert decode(STREAM, every(1)) == whole
    assert decode(STREAM, every(7)) == whole


STREAM_EVENTS = decode(STREAM)


@MEDIUM
@given(st.lists(st.integers(0, len(STREAM)), max_size=60))
def test_acceptance_stream_in_random_pieces(cuts: list[int]) -> None:
    """Research §7: any random chunking of the stream gives the same events in the same order."""
    assert decode(STREAM, sizes_from_cuts(cuts, len(STREAM))) == STREAM_EVENTS


def test_real_log_with_compatibility_mode() -> None:
    """E2/E5: the real log decodes to four frames once its Modbus MNs and the large segment are allowed."""
    data = b"".join(RX_LOG_FRAMES)
    strict = same_in_every_chunking(data)
    assert kinds(strict) == ["Frame", "Frame", "bad_crc", "oversize"]
    lenient = same_in_every_chunking(data, max_segment=9999, modbus_crc=RX_LOG_MODBUS_MNS)
    assert [e.crc_variant for e in lenient if isinstance(e, Frame)] == ["hj212", "hj212", "modbus", "modbus"]


# --- garbage and resync (E10) ----------------------------------------------------------------------------


def test_garbage_is_reported_once_however_it_arrives() -> None:
    """E10: bytes before a ``##`` are one Garbage event even when they trickle in one byte at a time."""
    junk = b"AT+CSQ\r\n+CSQ: 21,99\r\nOK\r\n"
    decoder = Decoder()
    events: list[Event] = []
    for byte in junk + APPENDIX_A:
        events += decoder.feed(bytes([byte]))
    assert summary(events) == [("Garbage", "", junk), ("Frame", "", APPENDIX_A)]
    assert decoder.garbage_bytes == len(junk)


def test_frames_after_garbage_are_found() -> None:
    """E10: resync on the next ``##``: garbage with single ``#`` and digits, even a ``#`` glued to the frame's
    ``##``, does not hide the next frame."""
    junk = b"#1#0101 x#"
    events = same_in_every_chunking(junk + UP + b"noise" + UP2)
    assert summary(events) == [
        ("Garbage", "", junk),
        ("Frame", "", UP),
        ("Garbage", "", b"noise"),
        ("Frame", "", UP2),
    ]


def test_a_run_of_hashes_starts_the_frame_at_its_last_pair() -> None:
    """E10: ``###0101…`` (a stray ``#`` glued to a frame) resyncs on the last ``##``; the ``#`` is garbage."""
    assert kinds(same_in_every_chunking(b"###" + UP[1:])) == ["Garbage", "Frame"]
    events = same_in_every_chunking(UP + b"#" + UP2)
    assert summary(events) == [("Frame", "", UP), ("Garbage", "", b"#"), ("Frame", "", UP2)]
    events = same_in_every_chunking(b"abc####" + UP[2:])
    assert summary(events) == [("Garbage", "", b"abc##"), ("Frame", "", UP)]


def test_whitespace_between_frames_is_dropped_silently() -> None:
    """Blank lines, NULs and spaces between frames are not garbage; a gap with anything else is reported whole."""
    events = same_in_every_chunking(b"\r\n" + UP + b"\r\n\r\n\x00\x00  " + UP2 + b"\n\n")
    assert kinds(events) == ["Frame", "Frame"]
    events = same_in_every_chunking(UP + b"\r\n-\r\n" + UP2)
    assert summary(events)[1] == ("Garbage", "", b"\r\n-\r\n")


def test_garbage_without_frames_is_bounded() -> None:
    """E10: a peer sending only garbage never makes the decoder hold more than ``max_frame`` bytes."""
    junk = bytes(random.Random(5).choice(b"abc#\r\n ") for _ in range(25_000)).replace(b"##", b"#a")
    decoder = Decoder()
    events: list[Event] = []
    for start in range(0, len(junk), 999):
        events += decoder.feed(junk[start : start + 999])
        assert decoder.buffered < MAX_FRAME
    events += decoder.flush()
    assert all(isinstance(e, Garbage) and len(e.raw) <= MAX_FRAME for e in events)
    assert_lossless(junk, events)


# --- frame ends (E7) -----------------------------------------------------------------------------------------


def test_frame_without_crlf_followed_by_another_frame() -> None:
    """E7: frames are delimited by length, so a frame without CRLF is complete when the next ``##`` arrives."""
    events = same_in_every_chunking(UP[:-2] + UP2)
    assert summary(events) == [("Frame", "", UP[:-2]), ("Frame", "", UP2)]
    first = events[0]
    assert isinstance(first, Frame) and "no CRLF" in first.warnings


def test_flush_releases_a_frame_without_crlf() -> None:
    """E7: a last frame without CRLF is held (a CR may still come) until flush() says the input ended."""
    decoder = Decoder()
    assert decoder.feed(UP[:-2]) == []
    assert decoder.buffered == len(UP) - 2
    events = decoder.flush()
    assert summary(events) == [("Frame", "", UP[:-2])]
    assert decoder.buffered == 0
    assert decoder.flush() == []


@pytest.mark.parametrize("tail", [b"\n", b"\r", b"\r\r\n", b"\n\r"])
def test_partial_line_ends(tail: bytes) -> None:
    """E7: LF only, CR only and doubled line ends: the frame and the next frame are both decoded."""
    events = same_in_every_chunking(UP[:-2] + tail + UP2)
    assert kinds(events) == ["Frame", "Frame"]
    assert events[0].raw.startswith(UP[:-2]) and events[1].raw == UP2


def test_truncated_frame_followed_by_a_frame_in_the_same_read() -> None:
    """E9/E10: a frame cut short (lost bytes) followed by a good frame: the good frame is still decoded,
    whether both arrive in one read or byte by byte (the cut is at the next ``##`` + 4 digits)."""
    truncated = UP[:70]
    events = same_in_every_chunking(truncated + UP2)
    assert summary(events) == [("FrameError", "bad_length", truncated), ("Frame", "", UP2)]


def test_trailing_junk_after_a_frame_without_crlf() -> None:
    """E7/E11: bytes after the CRC without a line end belong to a broken frame; the next frame still decodes."""
    events = same_in_every_chunking(UP[:-2] + b"-x" + UP2)
    assert summary(events) == [("FrameError", "bad_length", UP[:-2] + b"-x"), ("Frame", "", UP2)]


# --- wrong length fields (E11) -------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [1, 5, 300, 9000, -1, -5, -60])
def test_wrong_length_is_cut_at_the_line_end(delta: int) -> None:
    """E11: a wrong length field followed by CRLF is cut at the line end (bad_length); the next frame decodes."""
    seg = UP[6:-6]
    bad = frame(seg, length=b"%04d" % (len(seg) + delta))
    events = same_in_every_chunking(bad + UP2)
    assert summary(events) == [("FrameError", "bad_length", bad), ("Frame", "", UP2)]
    err = events[0]
    assert isinstance(err, FrameError) and err.mn == "MN0001"
    assert error_reply(err) is not None


def test_two_digit_length_is_cut_at_the_line_end() -> None:
    """E11: ``##81…`` (2-digit length, real forwarder log) is reported as bad_length and the stream goes on."""
    bad = frame(UP[6:-6], length=b"81")
    assert kinds(same_in_every_chunking(bad + UP2 + bad)) == ["bad_length", "Frame", "bad_length"]


def test_length_counted_in_characters_in_a_stream() -> None:
    """E6: a frame whose length counts characters ends early by the byte count; the line end still frames it."""
    seg = "QN=1;ST=31;CN=3020;PW=1;MN=M;Flag=4;CP=&&DataTime=20260101080000;i11001-Info=//清洗管路完成//&&"
    raw = frame(seg, length=b"%04d" % len(seg))
    events = same_in_every_chunking(raw + UP2)
    assert kinds(events) == ["Frame", "Frame"]
    first = events[0]
    assert isinstance(first, Frame) and first.raw == raw
    assert any("counts characters" in w for w in first.warnings)


# --- size bounds (E5) ----------------------------------------------------------------------------------------------


def test_endless_frame_never_buffers_more_than_max_frame() -> None:
    """E5/E9: ``##9999`` then a stream without end: at most ``max_frame`` bytes held, then ``no_frame_end``."""
    data = b"##9999" + b"QN=1;ST=31;CN=2011;" * 1500
    for max_frame in (MAX_FRAME, 2048):
        for size in (1, 7, 1000):
            decoder = Decoder(max_frame=max_frame)
            events: list[Event] = []
            for start in range(0, min(len(data), 12_000 if size == 1 else len(data)), size):
                events += decoder.feed(data[start : start + size])
                assert decoder.buffered <= max_frame
            err = events[0]
            assert isinstance(err, FrameError) and err.code == "no_frame_end"
            assert err.raw == data[:max_frame]
            assert err.qn_rtn is None and error_reply(err) is None


def test_oversize_frame_is_kept_raw() -> None:
    """E5: a frame with a segment over 1024 bytes is ``oversize`` and its error holds exactly the bytes received."""
    seg = "QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&DataTime=20260101080000;" + ";".join(
        f"a{n:05d}-Rtd=1.000" for n in range(90)
    )
    big = frame(seg + "&&")
    events = same_in_every_chunking(big + UP)
    err = events[0]
    assert isinstance(err, FrameError) and err.code == "oversize"
    assert err.raw == big
    assert kinds(events) == ["oversize", "Frame"]
    assert kinds(same_in_every_chunking(big + UP, max_segment=9999)) == ["Frame", "Frame"]


def test_largest_describable_frame() -> None:
    """A 9999-byte segment (the most a 4-digit length can say) is framed and, with the limit raised, parsed."""
    head = "QN=1;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&a21026-Info=//"
    seg = head + "x" * (9999 - len(head) - 4) + "//&&"
    raw = frame(seg)
    assert len(raw) == MAX_FRAME
    events = decode(raw + UP, every(1000), max_segment=9999)
    assert kinds(events) == ["Frame", "Frame"]


def test_empty_input() -> None:
    """Nothing in, nothing out; flush on an empty decoder is harmless."""
    decoder = Decoder()
    assert decoder.feed(b"") == []
    assert decoder.flush() == []
    assert decoder.buffered == 0
