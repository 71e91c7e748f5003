"""CRC16 of HJ 212-2017 Appendix A, and the Modbus variant some data loggers send.

The standard's algorithm, per byte: ``reg = (reg >> 8) ^ byte`` then eight rounds of
``lsb = reg & 1; reg >>= 1; if lsb: reg ^= 0xA001``; start ``0xFFFF``; no final XOR; written as four hex
digits, high byte first.  Because the low byte of the register is discarded before every XOR, one byte step
is ``reg = T[(reg >> 8) ^ byte]`` with ``T`` the CRC-16/ARC table, so only the high byte carries state.
That state map ``s -> T[s] >> 8`` is GF(2)-linear and its eighth power is the identity, which lets
:func:`crc16` fold the message eight bytes at a time with integer XORs instead of a Python loop per byte
(:func:`crc16_reference` is the byte-by-byte form, kept for tests).  Consequences: only 256 checksum
values exist, and the low byte of a valid checksum is always one of 00 01 40 41 80 81 C0 C1.
"""

from __future__ import annotations

__all__ = ["crc16", "crc16_modbus", "crc16_reference", "format_crc", "looks_like_hj212_crc"]


def _arc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        reg = i
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


_T = _arc_table()
_H = tuple(t >> 8 for t in _T)  # state step: high byte of the register


def _power(k: int) -> tuple[int, ...]:
    out = list(range(256))
    for _ in range(k):
        out = [_H[x] for x in out]
    return tuple(out)


_HP = tuple(_power(k) for k in range(8))  # _HP[k][x] = H^k(x); H^8 is the identity
# the initial register 0xFFFF has state 0xFF; after m bytes its share is H^(m mod 8)(0xFF)
_INIT = tuple(_HP[k][0xFF] for k in range(8))
# within an aligned 8-byte word (big-endian), byte position p (0 = most significant) is raised to the power
# (8 - p) mod 8 when the word ends at the last folded byte
_WORD_TABLES = tuple(_HP[(8 - p) % 8] for p in range(8))
_MODBUS = _T  # the classic Modbus table is the ARC table


def crc16_reference(data: bytes) -> int:
    """The standard's algorithm step by step (slow; the definition the fast form is tested against)."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            lsb = reg & 1
            reg >>= 1
            if lsb:
                reg ^= 0xA001
    return reg


def crc16(data: bytes) -> int:
    """HJ 212-2017 Appendix A CRC16 of a data segment (the bytes from ``QN=`` to the closing ``&&``)."""
    n = len(data)
    if n == 0:
        return 0xFFFF
    m = n - 1  # bytes folded into the state before the last one
    state = _INIT[m % 8]
    if m:
        pad = (-m) % 8
        word = int.from_bytes(data[:m], "big")
        bits = (m + pad) * 8
        # XOR-fold the aligned 64-bit words together
        while bits > 64:
            words = bits // 64
            half = (words // 2) * 64
            low_mask = (1 << half) - 1
            word = (word >> half) ^ (word & low_mask)
            bits -= half
        for p in range(8):
            b = (word >> (56 - 8 * p)) & 0xFF
            if b:
                state ^= _WORD_TABLES[p][b]
    return _T[state ^ data[m]]


def crc16_modbus(data: bytes) -> int:
    """Plain Modbus CRC16 (``reg ^= byte`` before the shifts), the variant some loggers send."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ _MODBUS[(reg ^ byte) & 0xFF]
    return reg


def format_crc(value: int) -> str:
    """Four upper-case hex digits, high byte first, as the standard writes them."""
    return f"{value:04X}"


def looks_like_hj212_crc(value: int) -> bool:
    """True when ``value`` is one of the 256 values the standard's CRC can take."""
    return value in _CRC_VALUES


_CRC_VALUES = frozenset(_T) | {0xFFFF}
