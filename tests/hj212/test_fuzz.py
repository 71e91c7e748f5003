"""Fuzzing the pure codec (DESIGN §6): random bytes and mutated valid frames, fed to the Decoder in random
chunkings and to parse_frame, yield events or protocol errors and nothing else, and lose no byte.

The bulk runs as seeded ``random.Random`` loops (fast and deterministic: 102,000 inputs in total); the
hypothesis tests at the end state the same properties on smaller inputs, where shrinking helps.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from envtrust.hj212 import (
    MAX_FRAME,
    Decoder,
    Event,
    Frame,
    FrameError,
    Garbage,
    Item,
    error_reply,
    parse_frame,
    reply_for,
    upload,
)
from envtrust.hj212.crc import crc16_modbus

from .support import (
    APPENDIX_A,
    APPENDIX_A_SEGMENT,
    MEDIUM,
    RX_LOG_FRAMES,
    assert_lossless,
    decode,
    frame,
    sizes_from_cuts,
    swap_bytes,
)

VALID: list[bytes] = [
    APPENDIX_A,
    APPENDIX_A.replace(b"1C80", b"1c80"),
    frame(APPENDIX_A_SEGMENT, crc=swap_bytes(crc16_modbus(APPENDIX_A_SEGMENT))),  # Modbus, MN listed below
    upload(
        qn="20260101080000123",
        st="31",
        cn="2011",
        pw="123456",
        mn="MN0001",
        data_time="20260101080000",
        items=[
            Item("a21026", {"Rtd": "12.5", "ZsRtd": "14.1", "Flag": "N"}, "a21026"),
            Item("a19001", {"Rtd": "8.9", "Flag": "N", "SampleTime": "20260101075959"}, "a19001"),
        ],
    ),
    frame(
        "QN=20260101080000124;ST=31;CN=3020;PW=123456;MN=MN0001;Flag=4;CP=&&DataTime=20260101080000;"
        "i11001-Info=//清洗管路;a=1,b=2//;i12001-Info=0&&"
    ),
    frame(
        "ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20200101000000;01-Rtd=1;02-Rtd=2;S01-Rtd=3&&",
        tail=b"\n",
    ),
    frame(
        "QN=20160801085857534;ST=32;CN=2061;PW=100000;MN=W1;Flag=7;PNUM=2;PNO=1;"
        "CP=&&DataTime=20160801080000;w01018-Avg=3.1,w01018-Flag=N;&&"
    ),
    frame("QN=20260101080000125;ST=31;CN=9015;PW=123456;MN=MN2025;Flag=9;CP=&&&&", tail=b""),
    RX_LOG_FRAMES[0],
    RX_LOG_FRAMES[2],
]
MODBUS_MNS = frozenset({"010000A8900016F000169DC0", "4201003"})
INTERESTING = b"##0123456789\r\n&&;;==,,//\x00\xff "
EVENT_TYPES = (Frame, FrameError, Garbage)


# --- mutations -------------------------------------------------------------------------------------------


def _flip(rng: random.Random, data: bytearray) -> None:
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def _insert(rng: random.Random, data: bytearray) -> None:
    byte = rng.choice(INTERESTING) if rng.random() < 0.6 else rng.randrange(256)
    data.insert(rng.randint(0, len(data)), byte)


def _delete(rng: random.Random, data: bytearray) -> None:
    if data:
        start = rng.randrange(len(data))
        del data[start : start + rng.choice((1, 1, 1, 2, rng.randint(1, 40)))]


def _truncate(rng: random.Random, data: bytearray) -> None:
    del data[rng.randint(0, len(data)) :]


def _duplicate(rng: random.Random, data: bytearray) -> None:
    if data:
        start = rng.randrange(len(data))
        piece = data[start : start + rng.randint(1, 60)]
        data[rng.randint(0, len(data)) : 0] = piece


def _splice(rng: random.Random, data: bytearray) -> None:
    other = rng.choice(VALID)
    data[rng.randint(0, len(data)) :] = other[rng.randint(0, len(other)) :]


MUTATIONS: tuple[Callable[[random.Random, bytearray], None], ...] = (
    _flip,
    _insert,
    _delete,
    _truncate,
    _duplicate,
    _splice,
)


def mutated_stream(rng: random.Random) -> bytes:
    """One to three valid frames (sometimes with junk between), then one to four mutations."""
    data = bytearray()
    for _ in range(rng.randint(1, 3)):
        data += rng.choice(VALID)
        if rng.random() < 0.2:
            data += bytes(rng.choice(INTERESTING) for _ in range(rng.randint(1, 6)))
    for _ in range(rng.randint(1, 4)):
        rng.choice(MUTATIONS)(rng, data)
    return bytes(data)


def random_bytes(rng: random.Random) -> bytes:
    """Uniform random bytes, or bytes from the protocol's own alphabet (reaches deeper into the parser)."""
    n = rng.randint(0, 400)
    if rng.random() < 0.5:
        return rng.randbytes(n)
    alphabet = INTERESTING + b"QNSTCPWMFlag-Rtd"
    out = bytes(rng.choice(alphabet) for _ in range(n))
    return b"##" + out if rng.random() < 0.5 else out


# --- the properties ----------------------------------------------------------------------------------------


def check_decoder(data: bytes, sizes: list[int], *, modbus: bool = False) -> list[Event]:
    """Feed in the given chunks: only events, nothing raised, bounded buffer, nothing lost, empty after flush."""
    decoder = Decoder(modbus_crc=MODBUS_MNS if modbus else frozenset())
    events: list[Event] = []
    pos = 0
    for size in sizes:
        events += decoder.feed(data[pos : pos + size])
        pos += size
        assert decoder.buffered < MAX_FRAME
    assert pos >= len(data)
    events += decoder.flush()
    assert decoder.buffered == 0
    for event in events:
        assert isinstance(event, EVENT_TYPES), event
        check_reply(event)
    assert_lossless(data, events)
    return events


def check_reply(event: Event) -> None:
    """The reply an event implies can always be built: bytes framed with ``##`` and CRLF, or None."""
    if isinstance(event, Frame):
        reply = reply_for(event)
    elif isinstance(event, FrameError):
        reply = error_reply(event)
    else:
        return
    assert reply is None or (reply.startswith(b"##") and reply.endswith(b"\r\n"))


def check_parse(data: bytes, *, modbus: bool = False) -> None:
    """parse_frame on any bytes: a Frame or a FrameError holding exactly those bytes, never an exception."""
    result = parse_frame(data, modbus_crc=MODBUS_MNS if modbus else frozenset())
    assert isinstance(result, (Frame, FrameError))
    assert result.raw == data
    check_reply(result)


def chunking(rng: random.Random, total: int) -> list[int]:
    """Random read sizes: up to eight random cuts, now and then byte by byte or 7 bytes at a time."""
    roll = rng.random()
    if roll < 0.004:
        return [1] * total
    if roll < 0.014:
        return [7] * (total // 7 + 1)
    return sizes_from_cuts([rng.randint(0, total) for _ in range(rng.randint(0, 8))], total) or [0]


RANDOM_INPUTS = 30_000
MUTATED_INPUTS = 72_000
assert RANDOM_INPUTS + MUTATED_INPUTS >= 100_000  # the issue asks for at least 100,000 fuzz inputs


def run(seed: int, count: int, make: Callable[[random.Random], bytes]) -> int:
    """Check ``count`` inputs from ``make``; returns how many were checked."""
    rng = random.Random(seed)
    checked = 0
    for n in range(count):
        data = make(rng)
        modbus = rng.random() < 0.3
        try:
            events = check_decoder(data, chunking(rng, len(data)), modbus=modbus)
            # the same events whatever the chunking (compared on a quarter of the inputs: it doubles the cost)
            if n % 4 == 0:
                assert decode(data, modbus_crc=MODBUS_MNS if modbus else frozenset()) == events
            check_parse(data, modbus=modbus)
        except Exception as exc:
            raise AssertionError(f"seed {seed}, input {n}: {data!r}") from exc
        checked += 1
    return checked


def test_fuzz_random_bytes() -> None:
    """30,000 random inputs (uniform bytes or the protocol's alphabet) through Decoder and parse_frame."""
    assert run(seed=212, count=RANDOM_INPUTS, make=random_bytes) == RANDOM_INPUTS


def test_fuzz_mutated_frames() -> None:
    """72,000 mutated streams of valid frames (bit flips, insertions, deletions, truncations, duplications,
    splices) through Decoder and parse_frame; together with the random bytes, 102,000 inputs."""
    assert run(seed=2017, count=MUTATED_INPUTS, make=mutated_stream) == MUTATED_INPUTS


def test_every_single_byte_deletion_and_flip_is_caught() -> None:
    """Each valid frame with each single byte deleted or case-flipped (x ^ 0x20): the decoder and parser
    still account for every byte, and any change before the line end is refused (never a silent Frame),
    except a flip of a CRC hex letter, which only changes its case (E1)."""
    for raw in VALID:
        declared = int(raw[2:6])
        end = 6 + declared + 4  # where the line end starts
        for pos in range(len(raw)):
            flipped = raw[:pos] + bytes([raw[pos] ^ 0x20]) + raw[pos + 1 :]
            for data in (raw[:pos] + raw[pos + 1 :], flipped):
                check_decoder(data, [len(data)])
                check_parse(data)
                case_only = data is flipped and end - 4 <= pos < end and chr(raw[pos]).isalpha()
                if pos < end and not case_only:
                    assert isinstance(parse_frame(data, modbus_crc=MODBUS_MNS), FrameError), (raw, pos)


# --- hypothesis: the same properties on small inputs ---------------------------------------------------------


@MEDIUM
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=20))
def test_any_bytes_any_chunking(data: bytes, cuts: list[int]) -> None:
    """Any bytes, any chunking: events only, nothing lost, and the same events as when fed in one piece."""
    events = check_decoder(data, sizes_from_cuts(cuts, len(data)) or [0])
    assert events == decode(data)
    check_parse(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=3))))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data.insert(pos, draw(st.sampled_from(INTERESTING)))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            del data[pos:]
    return bytes(data)


@MEDIUM
@given(mutated(), st.lists(st.integers(0, 2000), max_size=20))
def test_mutated_frames_any_chunking(data: bytes, cuts: list[int]) -> None:
    """Mutated valid frames, any chunking: events only, nothing lost, the same events as in one piece."""
    events = check_decoder(data, sizes_from_cuts(cuts, len(data)) or [0])
    assert events == decode(data)
    check_parse(data)
