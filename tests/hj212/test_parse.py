"""parse_frame: golden frames, header and CP syntax, tolerances (E1, E12-E15, E19, E20), refusals and dialects.

Clause references are to the research notes (``/work/shared/research/hj212.md``): §1 protocol, §3 2005 vs 2017,
§5 edge cases E1-E27.
"""

from __future__ import annotations

import itertools
from collections.abc import Container
from datetime import datetime

import pytest

from envtrust.hj212 import (
    MAX_SEGMENT,
    Frame,
    FrameError,
    Item,
    QnRtn,
    Version,
    decode_flag,
    parse_data_time,
    parse_frame,
    qn_from_time,
)
from envtrust.hj212.crc import crc16_modbus
from envtrust.hj212.model import ERROR_REPLY_CODES
from envtrust.hj212.times import format_data_time

from .support import (
    APPENDIX_A,
    APPENDIX_A_MN,
    APPENDIX_A_SEGMENT,
    RX_LOG_FRAMES,
    RX_LOG_MODBUS_MNS,
    SUFFIXES,
    frame,
    swap_bytes,
)

HEADER = "QN=20260101080000123;ST=31;CN=2011;PW=123456;MN=MN0001;Flag=5"
UPLOAD = HEADER + ";CP=&&DataTime=20260101080000;a21026-Rtd=12.5,a21026-Flag=N&&"


def ok(raw: bytes, *, max_segment: int = MAX_SEGMENT, modbus_crc: Container[str] = frozenset()) -> Frame:
    result = parse_frame(raw, max_segment=max_segment, modbus_crc=modbus_crc)
    assert isinstance(result, Frame), result
    return result


def refused(
    raw: bytes, code: str, *, max_segment: int = MAX_SEGMENT, modbus_crc: Container[str] = frozenset()
) -> FrameError:
    result = parse_frame(raw, max_segment=max_segment, modbus_crc=modbus_crc)
    assert isinstance(result, FrameError), result
    assert result.code == code, result
    assert result.raw == raw
    assert result.qn_rtn == ERROR_REPLY_CODES[code]
    return result


def has_warning(result: Frame, text: str) -> bool:
    return any(text in warning for warning in result.warnings)


# --- golden frames ------------------------------------------------------------------------------------


def test_appendix_a_golden_frame() -> None:
    """Appendix A: length 101, CRC 1C80, version 2017, A bit set (Flag=5), RtdInterval=30, no tolerance used."""
    result = ok(APPENDIX_A)
    assert result.raw == APPENDIX_A
    assert result.segment == APPENDIX_A_SEGMENT
    assert int(APPENDIX_A[2:6]) == len(result.segment) == 101
    assert APPENDIX_A[-6:] == b"1C80\r\n"
    assert result.fields == {
        "QN": "20160801085857223",
        "ST": "32",
        "CN": "1062",
        "PW": "100000",
        "MN": APPENDIX_A_MN,
        "Flag": "5",
    }
    assert result.cp == {"RtdInterval": "30"}
    assert result.items == ()
    assert result.version is Version.HJ212_2017
    assert result.version.label == "2017"
    assert result.needs_reply and not result.is_split
    assert result.crc_variant == "hj212" and result.crc_ok
    assert result.warnings == ()


def test_lower_case_crc_is_accepted_with_a_warning() -> None:
    """E1: some generators write the CRC in lower case (``%04x``); accepted, and the tolerance is named."""
    result = ok(APPENDIX_A.replace(b"1C80", b"1c80"))
    assert result.crc_ok
    assert has_warning(result, "lower-case CRC")


def _segment_with_letter_crc() -> bytes:
    """A valid segment whose CRC has at least three hex letters, to try every mix of cases."""
    for n in range(1000):
        seg = f"{HEADER};CP=&&RtdInterval={n}&&".encode()
        text = frame(seg)[-6:-2].decode()
        if sum(c.isalpha() for c in text) >= 3:
            return seg
    raise AssertionError("no such segment")


def test_crc_is_compared_case_insensitively() -> None:
    """E1: the CRC field is a hex number, so every mix of upper and lower case is the same CRC."""
    seg = _segment_with_letter_crc()
    good = frame(seg)[-6:-2].decode()
    for mask in itertools.product((str.upper, str.lower), repeat=4):
        text = "".join(f(c) for f, c in zip(mask, good, strict=True))
        raw = b"##%04d%s%s\r\n" % (len(seg), seg, text.encode())
        assert ok(raw).crc_ok
    # a wrong CRC stays wrong in lower case
    wrong = f"{int(good, 16) ^ 0x0100:04x}".encode()
    refused(b"##%04d%s%s\r\n" % (len(seg), seg, wrong), "bad_crc")


def test_wrong_crc_is_refused_with_crc_error() -> None:
    """STD Table 2: a frame whose CRC is wrong is not executed; QnRtn 9 (CRC error) and the fields echoed."""
    err = refused(APPENDIX_A.replace(b"1C80", b"1C81"), "bad_crc")
    assert err.qn_rtn is QnRtn.CRC_ERROR
    assert err.crc_ok is False
    assert err.fields["QN"] == "20160801085857223" and err.mn == APPENDIX_A_MN


@pytest.mark.parametrize("crc_field", [b"1CZ0", b"+C80", b" 1C8", b"0x1C"])
def test_crc_field_that_is_not_hex(crc_field: bytes) -> None:
    """The CRC field must be 4 hex digits; anything else is a CRC refusal (QnRtn 9)."""
    refused(b"##0101" + APPENDIX_A_SEGMENT + crc_field + b"\r\n", "bad_crc")


def test_three_digit_crc() -> None:
    """A 3-digit CRC (E3-style damage) shifts the last segment byte into the CRC field: bad_length."""
    refused(b"##0101" + APPENDIX_A_SEGMENT + b"1C8\r\n", "bad_length")


# --- Modbus CRC compatibility (E2) -------------------------------------------------------------------

MODBUS = crc16_modbus(APPENDIX_A_SEGMENT)


@pytest.mark.parametrize(
    ("value", "order"),
    [(swap_bytes(MODBUS), "low byte first"), (MODBUS, "high byte first")],
)
def test_modbus_crc_is_refused_by_default(value: int, order: str) -> None:
    """E2: a Modbus CRC16 (low byte first as real loggers send it, or high byte first) is bad_crc by default."""
    raw = frame(APPENDIX_A_SEGMENT, crc=value)
    err = refused(raw, "bad_crc")
    assert "Modbus" in err.reason
    assert err.crc_ok is False
    # enabling compatibility for another MN changes nothing
    refused(raw, "bad_crc", modbus_crc={"SOME-OTHER-MN"})


@pytest.mark.parametrize(
    ("value", "order"),
    [(swap_bytes(MODBUS), "low byte first"), (MODBUS, "high byte first")],
)
def test_modbus_crc_is_accepted_for_a_listed_mn(value: int, order: str) -> None:
    """E2: in per-device compatibility mode the frame is accepted, marked ``modbus`` and warned about."""
    result = ok(frame(APPENDIX_A_SEGMENT, crc=value), modbus_crc={APPENDIX_A_MN})
    assert result.crc_variant == "modbus"
    assert not result.crc_ok
    assert has_warning(result, f"Modbus CRC16 ({order})")
    assert result.cp == {"RtdInterval": "30"}


def test_compatibility_mode_still_checks_the_crc() -> None:
    """E2: a listed MN still has its CRC checked: neither HJ 212 nor Modbus is refused."""
    refused(frame(APPENDIX_A_SEGMENT, crc=0x1234), "bad_crc", modbus_crc={APPENDIX_A_MN})
    # and the standard CRC is still preferred for a listed device
    assert ok(APPENDIX_A, modbus_crc={APPENDIX_A_MN}).crc_variant == "hj212"


def test_real_logger_frames() -> None:
    """Real rx.log frames (golden/README.md): two good 2005-style frames, two Modbus low-byte-first frames."""
    st101, gas, modbus_short_mn, oversize = RX_LOG_FRAMES
    first = ok(st101)
    assert (first.st, first.qn, first.flag, first.version) == ("101", None, None, Version.HJT212_2005)
    assert first.mn == "41050022000017" and first.data_time == "20200922110000"
    assert [i.code for i in first.items] == ["a34010", "a34009", "ua19004", "ua19005", "ua19003"]
    assert first.items[2].values == {"Rtd": "2.017", "Flag": "N"}
    assert has_warning(first, "LF without CR")
    second = ok(gas)
    assert len(second.items) == gas.count(b"-Rtd=") == 31
    assert [(i.code, i.code_raw) for i in second.items[:3]] == [
        ("831", "831"),
        ("121", "121"),
        ("023", "023"),
    ]
    # Modbus low byte first: refused by default, accepted in compatibility mode
    err = refused(modbus_short_mn, "bad_crc")
    assert err.mn == "4201003"
    assert ok(modbus_short_mn, modbus_crc=RX_LOG_MODBUS_MNS).crc_variant == "modbus"
    # 1025-byte segment: oversize first; with a raised limit, its Modbus CRC is the next objection
    refused(oversize, "oversize")
    refused(oversize, "bad_crc", max_segment=2000)
    accepted = ok(oversize, max_segment=2000, modbus_crc=RX_LOG_MODBUS_MNS)
    assert len(accepted.segment) == 1025 and accepted.crc_variant == "modbus"


# --- header fields (E12, E15, E17, E20) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(["QN=1", "ST=31", "CN=2011", "PW=123456", "MN=M1", "Flag=4"]))[::97],
)
def test_header_fields_in_any_order(order: tuple[str, ...]) -> None:
    """E12: header fields are key=value pairs in any order (MN before PW, Flag first …)."""
    result = ok(frame(";".join(order) + ";CP=&&&&"))
    assert result.fields == {"QN": "1", "ST": "31", "CN": "2011", "PW": "123456", "MN": "M1", "Flag": "4"}
    assert list(result.fields) == [part.split("=")[0] for part in order]


@pytest.mark.parametrize("pnum_first", [True, False])
def test_pnum_and_pno(pnum_first: bool) -> None:
    """§1.6: a split packet carries PNUM and PNO (in either order, E12) and Flag with the D bit."""
    parts = "PNUM=3;PNO=2" if pnum_first else "PNO=2;PNUM=3"
    result = ok(frame(f"QN=1;ST=31;CN=2061;PW=1;MN=M;Flag=7;{parts};CP=&&DataTime=20260101000000&&"))
    assert (result.pnum, result.pno, result.is_split, result.needs_reply) == (3, 2, True, True)


@pytest.mark.parametrize("flag", range(12))
def test_flag_is_a_bitfield(flag: int) -> None:
    """§1.5: Flag = V5..V0 D A; 0-3 → 2005, 4-7 → 2017, 8-11 → 2025; D and A read as bits, never by equality."""
    result = ok(frame(f"QN=1;ST=31;CN=2011;PW=1;MN=M;Flag={flag};CP=&&&&"))
    assert result.version == Version(flag >> 2)
    assert result.needs_reply == bool(flag & 1)
    assert result.is_split == bool(flag & 2)
    assert decode_flag(flag) == (flag >> 2, bool(flag & 2), bool(flag & 1))
    assert result.warnings == ()


@pytest.mark.parametrize("flag", [12, 13, 64, 255])
def test_unknown_version_bits_are_a_warning(flag: int) -> None:
    """E20: unknown version bits are logged, not refused; the A bit still decides the reply."""
    result = ok(frame(f"QN=1;ST=31;CN=2011;PW=1;MN=M;Flag={flag};CP=&&&&"))
    assert result.version is None
    assert has_warning(result, "unknown version bits")
    assert result.needs_reply == bool(flag & 1)


@pytest.mark.parametrize("flag", ["256", "abc", "-1", "4.0", ""])
def test_flag_that_is_not_a_byte(flag: str) -> None:
    """A Flag that is not an integer 0-255 is refused with QnRtn 6 (Flag error)."""
    err = refused(frame(f"QN=1;ST=31;CN=2011;PW=1;MN=M;Flag={flag};CP=&&&&"), "bad_flag")
    assert err.qn_rtn is QnRtn.FLAG_ERROR
    assert err.crc_ok is True
    assert err.mn == "M"


def test_2005_frame_without_qn_and_flag() -> None:
    """§3: 2005 uploads often omit QN and Flag; that reads as version 2005 with no reply requested."""
    result = ok(frame("ST=32;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20200101000000&&"))
    assert (result.qn, result.flag, result.version) == (None, None, Version.HJT212_2005)
    assert not result.needs_reply and not result.is_split


def test_comma_as_header_separator() -> None:
    """E15: ``QN=…534,ST=32`` (a comma where the standard has ``;``, as in its own C.48) is read with a warning."""
    result = ok(frame("QN=20160801085857534,ST=32,CN=2011,PW=100000,MN=M,Flag=5;CP=&&&&"))
    assert result.fields["QN"] == "20160801085857534" and result.st == "32" and result.flag == 5
    assert has_warning(result, "comma")


@pytest.mark.parametrize(
    ("segment", "cp", "items"),
    [
        # typos from the standard's own Appendix C tables
        (f"{HEADER};CP=&& PolId=w01018&&", {"PolId": "w01018"}, {}),
        (
            f"{HEADER};CP=&&DataTime=20260101000000;i12003-Info =0&&",
            {"DataTime": "20260101000000"},
            {"i12003": {"Info": "0"}},
        ),
        (
            f"{HEADER};CP=&&DataTime=20260101000000;VaseNo=1 &&",
            {"DataTime": "20260101000000", "VaseNo": "1"},
            {},
        ),
        (f"{HEADER}CP=&&RtdInterval=30&&", {"RtdInterval": "30"}, {}),
        (
            " QN = 1 ; ST=31 ;CN= 2011;PW=1;MN=M;Flag=5;CP=&& a21026-Rtd = 1.5 , a21026-Flag = N &&",
            {},
            {"a21026": {"Rtd": "1.5", "Flag": "N"}},
        ),
    ],
)
def test_spaces_and_typos_around_keys_and_values(
    segment: str, cp: dict[str, str], items: dict[str, dict[str, str]]
) -> None:
    """E15: spaces around keys and values are trimmed; ``Flag=5CP=&&`` (missing ``;``) still reads Flag=5."""
    result = ok(frame(segment))
    assert result.cp == cp
    assert {i.code: i.values for i in result.items} == items
    assert (result.flag, result.cn, result.mn) == (5, "2011", "MN0001" if "MN0001" in segment else "M")


def test_space_before_cp_data_area() -> None:
    """E15: ``CP= &&…`` (a space before the opening ``&&``) is read, with a warning."""
    result = ok(frame(f"{HEADER};CP= &&RtdInterval=30&&"))
    assert result.cp == {"RtdInterval": "30"}
    assert has_warning(result, "space before CP")


def test_empty_qn_is_kept() -> None:
    """E17: an empty ``QN=`` is kept as sent (QN only correlates replies)."""
    assert ok(frame("QN=;ST=31;CN=2011;PW=1;MN=M;Flag=4;CP=&&&&")).qn == ""


@pytest.mark.parametrize(
    "segment",
    [
        "QN=1;ST=101;CN=2011;PW=123456;MN=1234567;Flag=4;CP=&&&&",  # ST=101, MN of 7 characters
        "QN=1;ST=80;CN=2011;PW=ABCDEFGHIJKLMNOPQRSTUVWX;MN=ab_cd-17chars_xyz;Flag=4;CP=&&&&",
        "QN=1;ST=39;CN=2011;PW=1;MN=M;Flag=4;XX=vendor;CP=&&&&",  # a vendor header field
    ],
)
def test_non_standard_values_are_accepted(segment: str) -> None:
    """E13: ST=101/80/39, PW of 24 characters, MN of 7 or 17 characters with ``_``: accepted and stored raw."""
    result = ok(frame(segment))
    assert result.fields == dict(part.split("=", 1) for part in segment.split(";CP=")[0].split(";"))


@pytest.mark.parametrize(
    ("segment", "missing"),
    [("QN=1;ST=31;CN=2011;PW=1;Flag=4;CP=&&&&", "MN"), ("QN=1;ST=31;PW=1;MN=M;Flag=4;CP=&&&&", "CN")],
)
def test_missing_mn_or_cn(segment: str, missing: str) -> None:
    """A frame without MN or CN cannot be attributed or interpreted: bad_header."""
    err = refused(frame(segment), "bad_header")
    assert missing in err.reason


# --- CP data area (§1.7, E14, E16, E19) ------------------------------------------------------------------


def test_trailing_semicolon_and_empty_cp() -> None:
    """E19: a trailing ``;`` before ``&&`` and the empty data area ``CP=&&&&`` are accepted."""
    trailing = ok(frame(f"{HEADER};CP=&&DataTime=20260101000000;a21026-Rtd=1.0;&&"))
    assert trailing.cp == {"DataTime": "20260101000000"}
    assert [(i.code, i.values) for i in trailing.items] == [("a21026", {"Rtd": "1.0"})]
    empty = ok(frame(f"{HEADER};CP=&&&&"))
    assert (empty.cp, empty.items, empty.warnings) == ({}, (), ())


def test_missing_closing_ampersands() -> None:
    """E11: a data area without its closing ``&&`` is read, with a warning."""
    result = ok(frame(f"{HEADER};CP=&&DataTime=20260101000000;a21026-Rtd=1.0"))
    assert result.data_time == "20260101000000"
    assert result.items[0].values == {"Rtd": "1.0"}
    assert has_warning(result, "not closed by &&")


@pytest.mark.parametrize(
    ("cp", "expected"),
    [("", "no CP= field"), ("CP=RtdInterval=30", "does not start with &&")],
)
def test_data_area_that_cannot_be_read(cp: str, expected: str) -> None:
    """No ``CP=`` or a CP that does not open with ``&&``: bad_cp, with the header still echoed."""
    err = refused(frame(f"{HEADER};{cp}" if cp else HEADER), "bad_cp")
    assert expected in err.reason
    assert err.mn == "MN0001" and err.crc_ok is True


def test_duplicate_items_keep_the_first() -> None:
    """E16: ``a21-Rtd`` twice in one packet: the first value is kept and the duplicate is named."""
    result = ok(frame(f"{HEADER};CP=&&DataTime=1;a21026-Rtd=2.0,a21026-Flag=N;a21026-Rtd=9.9;DataTime=2&&"))
    assert result.items[0].values == {"Rtd": "2.0", "Flag": "N"}
    assert result.cp == {"DataTime": "1"}
    assert has_warning(result, "duplicate CP entry a21026-Rtd")
    assert has_warning(result, "duplicate CP entry DataTime")


def test_duplicate_header_field_keeps_the_first() -> None:
    """E16: a header field sent twice: the first is kept, with a warning."""
    result = ok(frame("QN=1;ST=31;CN=2011;PW=1;MN=FIRST;MN=SECOND;Flag=4;CP=&&&&"))
    assert result.mn == "FIRST"
    assert has_warning(result, "duplicate header field MN")


def test_every_suffix_is_kept_with_its_text() -> None:
    """§1.7 Table 4: every per-factor suffix keeps its value exactly as sent (no number formatting)."""
    texts = {
        "Rtd": "012.340",
        "Avg": "-0.5",
        "Min": "0",
        "Max": "1.0E3",
        "Cou": "123456.78",
        "ZsRtd": "7.",
        "ZsAvg": ".25",
        "ZsMin": "+3",
        "ZsMax": "99999999999999.99",
        "Flag": "N",
        "EFlag": "A01",
        "SampleTime": "20260101075959",
        "Info": "1",
        "SN": "010000A8900016F000169DC0",
    }
    assert set(texts) == set(SUFFIXES)
    group = ",".join(f"a21026-{suffix}={value}" for suffix, value in texts.items())
    result = ok(frame(f"{HEADER};CP=&&DataTime=20260101080000;{group};SB1-RS=1,SB1-RT=23.5;SB12-RS=4&&"))
    assert result.items == (
        Item("a21026", texts, "a21026"),
        Item("SB1", {"RS": "1", "RT": "23.5"}, "SB1"),
        Item("SB12", {"RS": "4"}, "SB12"),
    )
    assert list(result.items[0].values) == list(texts)
    assert result.items[0].number("Max") == 1000.0 and result.items[0].number("Flag") is None


def test_info_log_text_is_kept_whole() -> None:
    """§1.7, C.40: ``-Info=//…//`` log text with ``;`` ``,`` ``=`` and Chinese (UTF-8) is one value."""
    log = "//清洗管路;a=1,b=2;设备 状态=正常//"
    seg = f"{HEADER};CP=&&DataTime=20260101080000;i11001-Info={log};i12001-Info=0,i12001-EFlag=A&&"
    result = ok(frame(seg))
    assert [(i.code, i.values) for i in result.items] == [
        ("i11001", {"Info": log}),
        ("i12001", {"Info": "0", "EFlag": "A"}),
    ]
    assert result.warnings == ()
    assert len(result.segment) == len(seg.encode("utf-8"))


def test_unknown_and_vendor_codes_are_kept() -> None:
    """E14: truncated, vendor and odd codes (``a21``, ``O3``, ``ua19004``, ``01018``) are kept, never dropped."""
    result = ok(frame(f"{HEADER};CP=&&DataTime=1;a21-Rtd=1;O3-Rtd=2;ua19004-Rtd=3;01018-Rtd=4;FANSTATUS=1&&"))
    assert [i.code for i in result.items] == ["a21", "O3", "ua19004", "01018"]
    assert result.cp == {"DataTime": "1", "FANSTATUS": "1"}


# --- encoding (§1.2 character set, E6, E27) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "where"),
    [
        ("QN=1;ST=31;CN=2011;PW=1;MN=监测点;Flag=4;CP=&&&&", "header field MN"),
        (f"{HEADER};CP=&&DataTime=二〇二六;a21026-Rtd=1&&", "CP field DataTime"),
        (f"{HEADER};CP=&&a21026-Rtd=１２&&", "item a21026-Rtd"),
        (f"{HEADER};CP=&&二氧化硫-Rtd=12&&", "item code"),
        (f"{HEADER};CP=&&a21026-Flag=正常&&", "item a21026-Flag"),
    ],
)
def test_non_ascii_outside_info_is_refused(segment: str, where: str) -> None:
    """§1.2: only ``-Info`` may carry UTF-8 text; anywhere else non-ASCII is refused as non_ascii."""
    err = refused(frame(segment), "non_ascii")
    assert where in err.reason
    assert err.qn_rtn is QnRtn.UNKNOWN_ERROR


def test_invalid_utf8_is_refused_with_its_offset() -> None:
    """E27: bytes that are not UTF-8 are refused as non_ascii; the reason gives the offset in the frame."""
    seg = f"{HEADER};CP=&&i11001-Info=//".encode() + b"\xc7\xe5\xcf\xb4" + b"//&&"  # GBK, not UTF-8
    raw = frame(seg)
    err = refused(raw, "non_ascii")
    offset = raw.index(b"\xc7")
    assert f"offset {offset}" in err.reason
    assert "0xC7" in err.reason
    assert err.mn == "MN0001"  # still attributable


def test_length_counted_in_characters_is_accepted_with_a_warning() -> None:
    """E6: C.40-style Info frame whose length field counts characters, not bytes: accepted, tolerance named."""
    seg = f"{HEADER};CP=&&DataTime=20260101080000;i11001-Info=//清洗管路//&&".encode()
    chars = len(seg.decode("utf-8"))
    assert chars == len(seg) - 8
    result = ok(frame(seg, length=b"%04d" % chars))
    assert has_warning(result, "counts characters")
    assert result.items[0].values["Info"] == "//清洗管路//"
    # counted in bytes, as the framer does: no warning
    assert ok(frame(seg)).warnings == ()
    # neither bytes nor characters: refused
    refused(frame(seg, length=b"%04d" % (chars + 1)), "bad_length")


# --- length and size (Table 2, E5, E11) ---------------------------------------------------------------------


def test_two_digit_length_header_is_refused() -> None:
    """E11: ``##81…`` (a 2-digit length, seen in a real forwarder log) is bad_length; QN and MN still read."""
    seg = UPLOAD.encode()
    err = refused(frame(seg, length=b"%d" % (len(seg) % 100)), "bad_length")
    assert "not 4 digits" in err.reason
    assert err.fields["QN"] == "20260101080000123" and err.mn == "MN0001"


@pytest.mark.parametrize("delta", [-100, -1, 1, 7])
def test_wrong_length_is_refused(delta: int) -> None:
    """Table 2: the length field must equal the data segment's byte count."""
    seg = UPLOAD.encode()
    err = refused(frame(seg, length=b"%04d" % (len(seg) + delta)), "bad_length")
    assert f"says {len(seg) + delta}" in err.reason
    assert err.mn == "MN0001"


def _upload_of_size(size: int) -> bytes:
    seg = f"{HEADER};CP=&&DataTime=20260101080000;a21026-Rtd=".encode()
    return seg + b"1" * (size - len(seg) - 2) + b"&&"


def test_segment_limit_is_1024() -> None:
    """Table 2 / E5: a 1024-byte segment is fine, 1025 is oversize; a raised ``max_segment`` accepts it."""
    assert len(ok(frame(_upload_of_size(1024))).segment) == 1024
    big = frame(_upload_of_size(1025))
    err = refused(big, "oversize")
    assert "1025" in err.reason and err.mn == "MN0001"
    assert len(ok(big, max_segment=9999).segment) == 1025
    refused(frame(_upload_of_size(3000)), "oversize", max_segment=2999)


@pytest.mark.parametrize(
    ("tail", "warning"),
    [(b"\r\n", None), (b"\n", "LF without CR"), (b"\r", "CR without LF"), (b"", "no CRLF")],
)
def test_missing_or_partial_crlf(tail: bytes, warning: str | None) -> None:
    """E7: frames are delimited by length; a missing or partial CRLF is tolerated and named."""
    result = ok(frame(UPLOAD, tail=tail))
    assert result.raw.endswith(b"&&" + result.raw[-4 - len(tail) :])
    if warning is None:
        assert result.warnings == ()
    else:
        assert result.warnings == (warning,)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"#0101" + APPENDIX_A_SEGMENT + b"1C80\r\n", "bad_header"),
        (b"xx" + APPENDIX_A[2:], "bad_header"),
        (b"##0004\r\n", "bad_length"),
        (b"##\r\n", "bad_length"),
        (b"", "bad_header"),
    ],
)
def test_broken_envelope(raw: bytes, code: str) -> None:
    """A frame must start with ``##`` and hold at least a 4-character CRC field."""
    refused(raw, code)


# --- dialects (§3, E14, E23) ----------------------------------------------------------------------------------


def test_2005_air_codes_are_mapped() -> None:
    """§2.5/§3: under ST=31, 2005 codes 01, 02, S01, B02 map to a34013, a21026, a19001, a00000; raw code kept."""
    seg = "ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20200101000000;"
    seg += "01-Rtd=10.5,01-Flag=N;02-Rtd=20.1;S01-Rtd=8.9;B02-Rtd=123.0;99-Rtd=1&&"
    result = ok(frame(seg))
    assert result.version is Version.HJT212_2005
    assert [(i.code, i.code_raw) for i in result.items] == [
        ("a34013", "01"),
        ("a21026", "02"),
        ("a19001", "S01"),
        ("a00000", "B02"),
        ("99", "99"),  # unknown 2005 code: kept as sent
    ]
    assert result.items[0].values == {"Rtd": "10.5", "Flag": "N"}


def test_2005_water_codes_are_mapped() -> None:
    """§2.5/§3: under ST=32, 2005 water codes 011 and 060 map to w01018 (COD) and w21003 (NH3-N)."""
    seg = "QN=20200101000000000;ST=32;CN=2011;PW=123456;MN=W1;Flag=0;CP=&&DataTime=20200101000000;"
    seg += "011-Rtd=35.2;060-Rtd=1.25;B01-Cou=12.0&&"
    result = ok(frame(seg))
    assert [(i.code, i.code_raw) for i in result.items] == [
        ("w01018", "011"),
        ("w21003", "060"),
        ("w00000", "B01"),
    ]


def test_2017_codes_are_taken_as_sent() -> None:
    """§3: mapping applies to 2005 traffic only; a 2017 frame's codes are not reinterpreted."""
    result = ok(frame(f"{HEADER};CP=&&DataTime=1;01-Rtd=1;a21026-Rtd=2&&"))
    assert [(i.code, i.code_raw) for i in result.items] == [("01", "01"), ("a21026", "a21026")]


@pytest.mark.parametrize("flag", [8, 9, 10, 11])
@pytest.mark.parametrize("cn", ["9015", "1014", "2013", "2052", "2111", "4321"])
def test_2025_traffic_is_a_frame(flag: int, cn: str) -> None:
    """Key finding 7, E25: 2025 traffic (Flag 8-11, heartbeat 9015, new or unknown CNs) parses, never dropped."""
    result = ok(frame(f"QN=20260101000000000;ST=31;CN={cn};PW=123456;MN=M2025;Flag={flag};CP=&&&&"))
    assert result.version is Version.HJ212_2025
    assert result.version.label == "2025"
    assert result.cn == cn


# --- every refusal names its reply ----------------------------------------------------------------------------


def test_every_error_code_has_a_reply_code() -> None:
    """Each FrameError code maps to the QnRtn the standard implies: 9 CRC, 6 Flag, 100 otherwise, None no frame."""
    assert ERROR_REPLY_CODES["bad_crc"] is QnRtn.CRC_ERROR
    assert ERROR_REPLY_CODES["bad_flag"] is QnRtn.FLAG_ERROR
    for code in ("bad_length", "oversize", "non_ascii", "bad_header", "bad_cp"):
        assert ERROR_REPLY_CODES[code] is QnRtn.UNKNOWN_ERROR
    assert ERROR_REPLY_CODES["no_frame_end"] is None


# --- times (§1.7 data types, E18) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260101080000", datetime(2026, 1, 1, 8, 0, 0)),
        ("20160801085857223", datetime(2016, 8, 1, 8, 58, 57, 223_000)),  # E18: with milliseconds
        ("20261301080000", None),  # month 13
        ("2026010108000", None),  # 13 digits
        ("2026-01-01T08", None),
        ("２０２６０１０１０８００００", None),  # full-width digits: not N14 (int() would accept them)
        ("", None),
    ],
)
def test_parse_data_time(text: str, expected: datetime | None) -> None:
    """DataTime is N14 ``YYYYMMDDhhmmss``; some loggers add milliseconds (E18); anything else is None."""
    assert parse_data_time(text) == expected


def test_qn_and_data_time_formatting() -> None:
    """QN is ``YYYYMMDDhhmmsszzz`` (17 digits, milliseconds); DataTime is 14 digits."""
    moment = datetime(2016, 8, 1, 8, 58, 57, 223_456)
    assert qn_from_time(moment) == "20160801085857223"
    assert format_data_time(moment) == "20160801085857"
    assert parse_data_time(qn_from_time(moment)) == moment.replace(microsecond=223_000)
