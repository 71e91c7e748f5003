"""CRC16 of HJ 212-2017 Appendix A (research §1.3), its 256-value property and the Modbus variant (E2)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from envtrust.hj212.crc import crc16, crc16_modbus, crc16_reference, format_crc, looks_like_hj212_crc

from .support import APPENDIX_A, APPENDIX_A_SEGMENT, FAST, MEDIUM, swap_bytes

LOW_BYTES = frozenset({0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1})


def _arc_table() -> list[int]:
    """CRC-16/ARC lookup table (reflected polynomial 0xA001), computed here independently of the codec."""
    table = []
    for i in range(256):
        reg = i
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return table


ARC_TABLE = frozenset(_arc_table())


def _modbus_bitwise(data: bytes) -> int:
    """Plain Modbus CRC16, textbook bitwise form: ``reg ^= byte`` (no pre-shift), then 8 shifts."""
    reg = 0xFFFF
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def test_appendix_a_example() -> None:
    """Appendix A worked example: 101-byte segment, HJ 212 CRC 1C80, while Modbus CRC16 gives 0759."""
    assert APPENDIX_A == b"##0101" + APPENDIX_A_SEGMENT + b"1C80\r\n"
    assert len(APPENDIX_A_SEGMENT) == 101
    assert crc16(APPENDIX_A_SEGMENT) == 0x1C80
    assert crc16_reference(APPENDIX_A_SEGMENT) == 0x1C80
    assert format_crc(crc16(APPENDIX_A_SEGMENT)) == "1C80"
    assert crc16_modbus(APPENDIX_A_SEGMENT) == 0x0759
    assert format_crc(swap_bytes(crc16_modbus(APPENDIX_A_SEGMENT))) == "5907"


def test_appendix_a_first_steps() -> None:
    """Research §1.3 first steps of the register: after Q 0xBC81, after N 0x8581, after = 0x7200."""
    assert crc16_reference(b"Q") == 0xBC81
    assert crc16_reference(b"QN") == 0x8581
    assert crc16_reference(b"QN=") == 0x7200
    assert [crc16(b"Q"), crc16(b"QN"), crc16(b"QN=")] == [0xBC81, 0x8581, 0x7200]


def test_empty_segment_is_ffff() -> None:
    """An empty data segment gives FFFF (the initial register, nothing shifted)."""
    assert crc16(b"") == 0xFFFF
    assert crc16_reference(b"") == 0xFFFF
    assert looks_like_hj212_crc(0xFFFF)


@MEDIUM
@given(st.binary(max_size=300))
def test_fast_crc_equals_reference(data: bytes) -> None:
    """The 8-bytes-at-a-time crc16 equals the standard's byte-by-byte algorithm on any input."""
    assert crc16(data) == crc16_reference(data)


def test_fast_crc_equals_reference_at_every_alignment() -> None:
    """Every length 0..80 and some long inputs (the fold works on 64-bit words), including all-zero bytes."""
    rng = random.Random(212)
    for n in range(81):
        for data in (rng.randbytes(n), bytes(n), b"\xff" * n):
            assert crc16(data) == crc16_reference(data), n
    for n in (1023, 1024, 1025, 4096, 9999):
        data = rng.randbytes(n)
        assert crc16(data) == crc16_reference(data), n


def test_only_256_values_exist() -> None:
    """Only 256 checksums exist, all CRC-16/ARC table entries; low byte in {00,01,40,41,80,81,C0,C1}."""
    rng = random.Random(1)
    seen = {crc16(rng.randbytes(rng.randint(1, 64))) for _ in range(20_000)}
    assert len(seen) == 256
    assert seen == ARC_TABLE
    assert {value & 0xFF for value in seen} == LOW_BYTES
    assert all(looks_like_hj212_crc(value) for value in seen)


@FAST
@given(st.binary(min_size=1, max_size=200))
def test_low_byte_property(data: bytes) -> None:
    """Any non-empty input gives a CRC-16/ARC table entry, so its low byte is one of the eight values.

    (The empty segment is the one exception: FFFF, the untouched initial register.)
    """
    value = crc16(data)
    assert value in ARC_TABLE
    assert value & 0xFF in LOW_BYTES
    assert looks_like_hj212_crc(value)


def test_modbus_values_are_recognisably_foreign() -> None:
    """The 256-value property tells the Modbus CRC of the Appendix A example apart (both byte orders)."""
    assert looks_like_hj212_crc(0x1C80)
    assert not looks_like_hj212_crc(0x0759)
    assert not looks_like_hj212_crc(0x5907)


def test_every_single_byte_error_is_detected() -> None:
    """Research §1.3: all 25,755 single-byte changes of the Appendix A segment change the CRC."""
    seg = bytearray(APPENDIX_A_SEGMENT)
    changed = 0
    for pos in range(len(seg)):
        original = seg[pos]
        for value in range(256):
            if value == original:
                continue
            seg[pos] = value
            assert crc16(bytes(seg)) != 0x1C80, (pos, value)
            changed += 1
        seg[pos] = original
    assert changed == 25_755


def test_modbus_check_value() -> None:
    """crc16_modbus is plain CRC-16/MODBUS: check value 4B37 for "123456789"."""
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_modbus(b"") == 0xFFFF


@FAST
@given(st.binary(max_size=200))
def test_modbus_equals_bitwise_form(data: bytes) -> None:
    """The table-driven Modbus CRC equals the textbook bitwise Modbus algorithm."""
    assert crc16_modbus(data) == _modbus_bitwise(data)


def test_format_crc_is_four_upper_case_digits() -> None:
    """The CRC is written as four hex digits, high byte first, zero-padded, upper case (E1: emit uppercase)."""
    assert format_crc(0x000A) == "000A"
    assert format_crc(0xC0C1) == "C0C1"
    assert format_crc(0) == "0000"
