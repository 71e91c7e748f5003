"""Frame building: replies exactly as HJ 212-2017 Appendix C shows them (§1.8, E21), refusal replies, and
hypothesis round trips upload → parse_frame (→ Decoder)."""

from __future__ import annotations

import string
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrust.hj212 import (
    ExeRtn,
    Frame,
    FrameError,
    Item,
    QnRtn,
    Version,
    encode_frame,
    encode_segment,
    error_reply,
    parse_frame,
    reply_9011,
    reply_9012,
    reply_9013,
    reply_9014,
    reply_for,
    upload,
)
from envtrust.hj212.crc import crc16_reference

from .support import APPENDIX_A, APPENDIX_A_SEGMENT, FAST, MEDIUM, SUFFIXES, decode, frame, sizes_from_cuts

FIELDS = {"QN": "20260101080000123", "ST": "31", "CN": "2011", "PW": "123456", "MN": "MN0001", "Flag": "5"}


def expected_frame(segment: str) -> bytes:
    """The bytes a reply must be, written out by hand: ``##`` + byte count + segment + CRC + CRLF."""
    seg = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(seg), seg, crc16_reference(seg))


def parsed(raw: bytes) -> Frame:
    result = parse_frame(raw)
    assert isinstance(result, Frame), result
    return result


def incoming(segment: str) -> Frame:
    return parsed(frame(segment))


# --- replies (Appendix C) -------------------------------------------------------------------------------


def test_9014_data_reply_to_an_upload_with_a_bit() -> None:
    """C.14-C.19 / E21: an upload with A=1 gets ``QN=<upload QN>;ST=91;CN=9014;PW;MN;Flag=4;CP=&&&&``."""
    up = incoming(
        "QN=20260101080000123;ST=31;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
        "CP=&&DataTime=20260101080000;a21026-Avg=12.5,a21026-Flag=N&&"
    )
    reply = reply_for(up)
    assert reply == expected_frame(
        "QN=20260101080000123;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
    )
    back = parsed(reply)
    assert (back.cn, back.st, back.flag, back.qn) == ("9014", "91", 4, up.qn)
    assert not back.needs_reply and back.warnings == ()
    assert reply_9014(up.fields) == reply


@pytest.mark.parametrize("flag", ["4", "6", "0", "8", None])
def test_no_reply_when_a_bit_is_clear(flag: str | None) -> None:
    """§1.8: no reply when Flag.A = 0 (including 2005 frames without Flag and 2025 Flag=8)."""
    flag_part = "" if flag is None else f"Flag={flag};"
    up = incoming(f"QN=1;ST=31;CN=2011;PW=123456;MN=M;{flag_part}CP=&&DataTime=20260101080000&&")
    assert reply_for(up) is None


@pytest.mark.parametrize("flag", ["5", "4"])
def test_9013_for_a_notification(flag: str) -> None:
    """§1.8 / C.3: CN 1013 (field asks for time calibration) is a notification, answered with 9013."""
    note = incoming(f"QN=20260101080000123;ST=31;CN=1013;PW=123456;MN=M1;Flag={flag};CP=&&&&")
    reply = reply_for(note)
    assert reply == expected_frame("QN=20260101080000123;ST=91;CN=9013;PW=123456;MN=M1;Flag=4;CP=&&&&")
    assert reply == reply_9013(note.fields)


@pytest.mark.parametrize("cn", ["9011", "9012", "9013", "9014"])
def test_replies_are_never_answered(cn: str) -> None:
    """§1.8: replies 9011-9014 end an exchange; even with A=1 they get no reply (no ping-pong)."""
    assert reply_for(incoming(f"QN=1;ST=91;CN={cn};PW=123456;MN=M;Flag=5;CP=&&&&")) is None


def test_heartbeat_and_unknown_commands_with_a_bit_get_9014() -> None:
    """E25, key finding 7: a 2025 heartbeat (9015) or an unknown CN asking for a reply gets a data reply."""
    for cn in ("9015", "2013", "4321"):
        up = incoming(f"QN=20260101080000123;ST=31;CN={cn};PW=123456;MN=M;Flag=9;CP=&&&&")
        assert up.version is Version.HJ212_2025
        assert reply_for(up) == expected_frame(
            "QN=20260101080000123;ST=91;CN=9014;PW=123456;MN=M;Flag=4;CP=&&&&"
        )


def test_reply_9011_and_9012() -> None:
    """§1.8 request flow: 9011 carries ``QnRtn``, 9012 ``ExeRtn``, both echoing the request's QN (Flag=4)."""
    assert reply_9011(FIELDS, 1) == expected_frame(
        "QN=20260101080000123;ST=91;CN=9011;PW=123456;MN=MN0001;Flag=4;CP=&&QnRtn=1&&"
    )
    assert reply_9011(FIELDS, QnRtn.READY) == reply_9011(FIELDS, 1)
    assert reply_9012(FIELDS, ExeRtn.SUCCESS) == expected_frame(
        "QN=20260101080000123;ST=91;CN=9012;PW=123456;MN=MN0001;Flag=4;CP=&&ExeRtn=1&&"
    )
    assert b"CP=&&ExeRtn=100&&" in reply_9012(FIELDS, ExeRtn.NO_DATA)


def test_reply_to_the_appendix_a_frame() -> None:
    """The Appendix A frame (Flag=5) asks for a reply; its answer echoes QN, PW and MN with ST=91, Flag=4."""
    reply = reply_for(parsed(APPENDIX_A))
    assert reply == expected_frame(
        "QN=20160801085857223;ST=91;CN=9014;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
    )


def test_reply_without_qn() -> None:
    """E17: a request without QN gets a reply without QN (nothing is invented)."""
    up = incoming("ST=31;CN=2011;PW=123456;MN=M;Flag=5;CP=&&&&")
    assert reply_for(up) == expected_frame("ST=91;CN=9014;PW=123456;MN=M;Flag=4;CP=&&&&")


def test_split_fragments_are_acknowledged_with_their_own_qn() -> None:
    """§1.6, C.49/C.50: with Flag=7 each fragment is acknowledged by a 9014 echoing that fragment's QN."""
    for qn, pno in (("20160801085857534", 1), ("20160801085857535", 2)):
        part = incoming(
            f"QN={qn};ST=32;CN=2011;PW=100000;MN=M;Flag=7;PNUM=2;PNO={pno};CP=&&DataTime=20160801085857&&"
        )
        reply = parsed(reply_for(part) or b"")
        assert reply.qn == qn and reply.cn == "9014"


# --- refusal replies ---------------------------------------------------------------------------------------


def test_error_reply_for_a_crc_error() -> None:
    """STD Table 2 / Table 6: a bad CRC is answered with 9011 QnRtn=9, echoing QN, PW and MN."""
    err = parse_frame(APPENDIX_A.replace(b"1C80", b"1C81"))
    assert isinstance(err, FrameError)
    assert error_reply(err) == expected_frame(
        "QN=20160801085857223;ST=91;CN=9011;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=9&&"
    )


def _qn_rtn_of(reply: bytes | None) -> str:
    result = parsed(reply or b"")
    assert (result.cn, result.st, result.flag) == ("9011", "91", 4)
    return result.cp["QnRtn"]


@pytest.mark.parametrize(
    ("raw", "code", "qn_rtn"),
    [
        (frame(APPENDIX_A_SEGMENT, length=b"0102"), "bad_length", "100"),
        (frame(APPENDIX_A_SEGMENT, length=b"101"), "bad_length", "100"),
        (frame(APPENDIX_A_SEGMENT.replace(b"Flag=5", b"Flag=X")), "bad_flag", "6"),
        (frame(APPENDIX_A_SEGMENT.replace(b"CP=&&", b"CP=")), "bad_cp", "100"),
        (frame(APPENDIX_A_SEGMENT.replace(b"=30", "=三十".encode())), "non_ascii", "100"),
        (frame(APPENDIX_A_SEGMENT.replace(b"CN=1062;", b"")), "bad_header", "100"),
        (frame(APPENDIX_A_SEGMENT + b";" + b"X=1" * 400), "oversize", "100"),
    ],
)
def test_every_refusal_implies_its_reply(raw: bytes, code: str, qn_rtn: str) -> None:
    """Every FrameError carries the reply it implies: 9011 with QnRtn 9 (CRC), 6 (Flag), 100 (unknown)."""
    err = parse_frame(raw)
    assert isinstance(err, FrameError) and err.code == code
    reply = error_reply(err)
    assert _qn_rtn_of(reply) == qn_rtn
    back = parsed(reply or b"")
    assert back.qn == "20160801085857223" and back.mn == "010000A8900016F000169DC0"


def test_error_reply_echoes_what_could_be_read() -> None:
    """A broken 2005-style frame (MN but no QN): the refusal echoes the MN and invents no QN."""
    err = parse_frame(frame("ST=31;CN=2011;PW=1;MN=M7;Flag=5;CP=&&DataTime=1&&", crc=0x0001))
    assert isinstance(err, FrameError) and err.code == "bad_crc"
    assert error_reply(err) == expected_frame("ST=91;CN=9011;PW=1;MN=M7;Flag=4;CP=&&QnRtn=9&&")


@pytest.mark.parametrize(
    "raw",
    [
        b"##0010hello12345678\r\n",  # nothing that names the sender
        b"##99\r\n",
        b"##ABCD\r\n",
    ],
)
def test_no_error_reply_when_nothing_identifies_the_sender(raw: bytes) -> None:
    """A refusal is addressed by QN/MN; when neither could be read there is no reply (None)."""
    err = parse_frame(raw)
    assert isinstance(err, FrameError)
    assert not ({"QN", "MN"} & set(err.fields))
    assert error_reply(err) is None


def test_no_reply_for_a_missing_frame_end() -> None:
    """``no_frame_end`` (the framer gave up) implies no reply: its QnRtn is None."""
    err = FrameError(raw=b"##9999xxxx", code="no_frame_end", reason="test", fields={"MN": "M"}, qn_rtn=None)
    assert error_reply(err) is None


def test_mn_and_pw_refusals() -> None:
    """Table 6: refusals for an unknown MN (QnRtn 4) and a wrong PW (QnRtn 3) are 9011 replies too."""
    for rtn in (QnRtn.MN_ERROR, QnRtn.PW_ERROR):
        err = FrameError(raw=b"", code="x", reason="x", fields=dict(FIELDS), qn_rtn=rtn)
        assert _qn_rtn_of(error_reply(err)) == str(int(rtn))


# --- encoding ----------------------------------------------------------------------------------------------


def test_encode_frame_reproduces_appendix_a() -> None:
    """encode_frame writes ``##`` + 4-digit byte count + segment + upper-case CRC + CRLF."""
    assert encode_frame(APPENDIX_A_SEGMENT) == APPENDIX_A
    assert encode_frame(APPENDIX_A_SEGMENT, lower_crc=True) == APPENDIX_A.replace(b"1C80", b"1c80")
    assert encode_frame(APPENDIX_A_SEGMENT, crlf=False) == APPENDIX_A[:-2]
    assert encode_frame(b"") == b"##0000FFFF\r\n"


def test_encode_frame_counts_bytes_and_refuses_what_cannot_be_framed() -> None:
    """The length counts UTF-8 bytes (E6: frame on bytes); more than 9999 bytes cannot be described."""
    seg = "QN=1;ST=31;CN=3020;PW=1;MN=M;Flag=4;CP=&&i11001-Info=//清洗管路//&&".encode()
    assert encode_frame(seg)[2:6] == b"%04d" % len(seg)
    assert len(encode_frame(b"x" * 9999)) == 9999 + 12
    with pytest.raises(ValueError, match="9999"):
        encode_frame(b"x" * 10_000)


def test_encode_segment_keeps_the_given_order() -> None:
    """Header fields in the given order, then CP fields, then one ``;`` group per item (``,`` inside it)."""
    seg = encode_segment(
        [("MN", "M"), ("QN", "1")],
        {"DataTime": "20260101000000"},
        [Item("a21026", {"Rtd": "1", "Flag": "N"}, "a21026"), Item("a34013", {"Avg": "2"}, "01")],
    )
    assert seg == b"MN=M;QN=1;CP=&&DataTime=20260101000000;a21026-Rtd=1,a21026-Flag=N;01-Avg=2&&"


def test_upload_defaults() -> None:
    """upload() builds a 2017 frame asking for a reply (Flag=5) with DataTime first in CP."""
    raw = upload(
        qn="20260101000000000",
        st="31",
        cn="2011",
        pw="123456",
        mn="M",
        data_time="20260101000000",
        items=[Item("a21026", {"Rtd": "1.0"}, "a21026")],
    )
    assert raw == expected_frame(
        "QN=20260101000000000;ST=31;CN=2011;PW=123456;MN=M;Flag=5;CP=&&DataTime=20260101000000;a21026-Rtd=1.0&&"
    )


# --- round trips (hypothesis) --------------------------------------------------------------------------------

CODES = (
    "a21026",
    "a21002",
    "a21005",
    "a34013",
    "a19001",
    "a01011",
    "a01012",
    "a00000",
    "a24088",
    "a05024",
    "w01018",
    "w21003",
    "w00000",
    "w01001",
    "i12001",
    "i13004",
    "e70101",
    "g11901",
    "LA",
    "Leq",
)
FLAG_LETTERS = "NFMSDCTB"

digits = st.text(string.digits, min_size=1, max_size=8)
numbers = st.one_of(
    st.builds("{}.{}".format, digits, digits),
    st.builds("-{}.{}".format, digits, digits),
    digits,
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
)
times = st.datetimes(min_value=datetime(2000, 1, 1)).map(lambda d: d.strftime("%Y%m%d%H%M%S"))
log_text = st.text(
    st.characters(codec="utf-8", exclude_characters="/#\r\n", exclude_categories=["Cs", "Cc"]),
    max_size=40,
).map(lambda s: f"//{s}//")


def _value(suffix: str) -> st.SearchStrategy[str]:
    if suffix in ("Flag",):
        return st.sampled_from(FLAG_LETTERS)
    if suffix == "EFlag":
        return st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=4)
    if suffix == "SampleTime":
        return times
    if suffix == "Info":
        return st.one_of(numbers, log_text)
    if suffix == "SN":
        return st.text("0123456789ABCDEF", min_size=24, max_size=24)
    return numbers


@st.composite
def items(draw: st.DrawFn) -> list[Item]:
    codes = draw(st.lists(st.sampled_from(CODES), unique=True, max_size=6))
    out = []
    for code in codes:
        suffixes = draw(st.lists(st.sampled_from(SUFFIXES), unique=True, min_size=1, max_size=5))
        out.append(Item(code, {s: draw(_value(s)) for s in suffixes}, code))
    if draw(st.booleans()):
        n = draw(st.integers(1, 9))
        out.append(Item(f"SB{n}", {"RS": str(draw(st.integers(0, 5))), "RT": draw(numbers)}, f"SB{n}"))
    return out


uploads = st.fixed_dictionaries(
    {
        "qn": st.one_of(st.none(), st.text(string.digits, min_size=17, max_size=17)),
        "st": st.sampled_from(["31", "32", "22", "21", "101", "A1"]),
        "cn": st.sampled_from(["2011", "2051", "2061", "2031", "2041", "2081", "3020", "9015"]),
        "pw": st.text(string.ascii_letters + string.digits, min_size=6, max_size=6),
        "mn": st.text(string.digits + "ABCDEF", min_size=1, max_size=24),
        "data_time": st.one_of(st.none(), times),
        "items": items(),
        "flag": st.sampled_from([None, 0, 1, 4, 5, 8, 9]),
        "lower_crc": st.booleans(),
    }
)


def _expected_fields(kw: dict[str, object]) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = [] if kw["qn"] is None else [("QN", kw["qn"])]
    fields += [("ST", kw["st"]), ("CN", kw["cn"]), ("PW", kw["pw"]), ("MN", kw["mn"])]
    if kw["flag"] is not None:
        fields.append(("Flag", str(kw["flag"])))
    return fields


def _check_round_trip(kw: dict[str, object], result: Frame | FrameError) -> None:
    assert isinstance(result, Frame), result
    assert list(result.fields.items()) == _expected_fields(kw)
    assert result.cp == ({} if kw["data_time"] is None else {"DataTime": kw["data_time"]})
    sent: list[Item] = kw["items"]  # type: ignore[assignment]
    assert [(i.code_raw, list(i.values.items())) for i in result.items] == [
        (i.code_raw, list(i.values.items())) for i in sent
    ]
    assert [i.code for i in result.items] == [i.code for i in sent]  # 2017 codes are never remapped
    flag = kw["flag"]
    assert result.version == Version((flag or 0) >> 2)
    assert result.crc_ok
    assert all(w == "lower-case CRC hex" for w in result.warnings)
    # and the host's answer: a 9014 echoing QN, PW and MN exactly when the A bit is set
    reply = reply_for(result)
    if flag is None or not flag & 1:
        assert reply is None
    else:
        back = parsed(reply or b"")
        assert (back.cn, back.st, back.flag) == ("9014", "91", 4)
        assert (back.qn, back.pw, back.mn) == (kw["qn"], kw["pw"], kw["mn"])


@MEDIUM
@given(uploads)
def test_upload_round_trip(kw: dict[str, object]) -> None:
    """build.upload → parse_frame gives back the same fields, CP and items, in order, text for text."""
    raw = upload(**kw)  # type: ignore[arg-type]
    _check_round_trip(kw, parse_frame(raw, max_segment=9999))


@FAST
@given(st.lists(uploads, min_size=1, max_size=4), st.lists(st.integers(0, 10_000), max_size=30))
def test_upload_round_trip_through_the_decoder(batch: list[dict[str, object]], cuts: list[int]) -> None:
    """Several uploads in one stream, cut at random: the decoder yields one matching Frame per upload."""
    raws = [upload(**kw) for kw in batch]  # type: ignore[arg-type]
    data = b"".join(raws)
    events = decode(data, sizes_from_cuts(cuts, len(data)), max_segment=9999)
    assert len(events) == len(batch)
    for kw, raw, event in zip(batch, raws, events, strict=True):
        assert event.raw == raw
        _check_round_trip(kw, event)
