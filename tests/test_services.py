"""The ingest use case: what every received record is (accepted, duplicate, quarantined) and the reply it earns."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from envtrust import hj212
from envtrust.services import Ingest, Prepared
from envtrust.store import FrameRow
from envtrust.verify import verify

if TYPE_CHECKING:
    from conftest import FrameFactory

T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())  # 20260101080000 in Asia/Shanghai


def reply_of(prepared: Prepared) -> hj212.Frame:
    assert prepared.reply is not None
    reply = hj212.parse_frame(prepared.reply)
    assert isinstance(reply, hj212.Frame), reply
    assert prepared.reply.endswith(b"\r\n")
    return reply


def prepare(ingest: Ingest, raw: bytes, **kw: object) -> Prepared:
    decoder = ingest.decoder()
    events = decoder.feed(raw) + decoder.flush()
    assert len(events) == 1, events
    return ingest.prepare(events[0], peer="10.0.0.7:50123", **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------- accepted
def test_a_good_minute_frame_is_accepted_with_readings_in_utc_and_a_9014_reply(
    ingest: Ingest, make_frame: FrameFactory
) -> None:
    raw = make_frame(
        "2051",
        qn="20260101080012345",
        data_time="20260101080000",
        items={
            "a21026": {"Avg": "12.5", "Min": "10.1", "Max": "15", "ZsAvg": "13.9", "Flag": "N"},
            "a21002": {"Avg": "40", "Cou": "0.25", "Flag": "M", "EFlag": "A01"},
        },
    )
    p = prepare(ingest, raw)
    row = p.row
    assert (row.status, row.error_code, row.reason) == ("ok", None, None)
    assert (row.mn, row.cn, row.qn, row.version) == (make_frame.gas_mn, "2051", "20260101080012345", "2017")
    assert (row.format, row.origin, row.peer) == ("hj212", "tcp", "10.0.0.7:50123")
    assert (row.crc_ok, row.crc_variant, row.skip_if_known) == (True, "hj212", False)
    assert row.raw == raw
    assert row.digest == hashlib.sha256(raw[6:-6]).digest()  # the data segment, not the frame
    # DataTime is read in the point's zone (Asia/Shanghai): 08:00 there is 00:00 UTC
    assert [r.data_time for r in p.readings] == [T0, T0]
    so2, nox = p.readings
    assert (so2.mn, so2.kind, so2.pollutant, so2.code_raw) == (
        make_frame.gas_mn,
        "minute",
        "a21026",
        "a21026",
    )
    assert so2.values == {"avg": 12.5, "min": 10.1, "max": 15.0, "zs_avg": 13.9}
    assert (so2.flag, so2.eflag, so2.extra) == ("N", None, None)
    assert nox.values == {"avg": 40.0, "cou": 0.25}
    assert (nox.flag, nox.eflag) == ("M", "A01")
    reply = reply_of(p)
    assert reply.cn == "9014"
    assert reply.qn == "20260101080012345"  # echoes the upload's QN
    assert (reply.st, reply.mn, reply.fields["Flag"]) == ("91", make_frame.gas_mn, "4")


@pytest.mark.parametrize(
    ("cn", "kind", "suffixes"),
    [
        ("2011", "rtd", {"Rtd": "1.5", "ZsRtd": "1.7", "Flag": "N"}),
        ("2051", "minute", {"Avg": "1.5", "Min": "1", "Max": "2", "Cou": "3", "Flag": "N"}),
        ("2061", "hour", {"Avg": "1.5", "ZsAvg": "1.7", "ZsMin": "1.1", "ZsMax": "2.1", "Flag": "N"}),
        ("2031", "day", {"Avg": "1.5", "Min": "1", "Max": "2", "Cou": "36", "Flag": "D"}),
    ],
)
def test_each_data_command_gives_its_kind_of_reading(
    ingest: Ingest, make_frame: FrameFactory, cn: str, kind: str, suffixes: dict[str, str]
) -> None:
    p = prepare(ingest, make_frame(cn, items={"a21026": suffixes}))
    [r] = p.readings
    assert r.kind == kind
    numeric = {k: v for k, v in suffixes.items() if k != "Flag"}
    columns = {"Rtd": "rtd", "ZsRtd": "zs_rtd", "Avg": "avg", "Min": "min", "Max": "max", "Cou": "cou"}
    columns |= {"ZsAvg": "zs_avg", "ZsMin": "zs_min", "ZsMax": "zs_max"}
    assert r.values == {columns[k]: float(v) for k, v in numeric.items()}
    assert r.flag == suffixes["Flag"]
    [result] = ingest.record([p])
    assert (result.status, result.readings_new) == ("ok", 1)
    [stored] = ingest.store.readings(kind=kind)
    assert stored["data_time"] == T0


def test_data_time_is_read_in_the_zone_of_the_point(ingest: Ingest, make_frame: FrameFactory) -> None:
    water = ingest.point(make_frame.water_mn)
    assert water is not None
    ingest.load_registry([dataclasses.replace(water, timezone="Europe/Berlin")])
    p = prepare(ingest, make_frame("2061", mn=make_frame.water_mn, items={"w01018": {"Avg": "20"}}))
    # 2026-01-01 08:00 in Berlin (UTC+1) is 07:00 UTC
    assert p.readings[0].data_time == T0 + 7 * 3600
    gas = prepare(ingest, make_frame("2061"))
    assert gas.readings[0].data_time == T0


def test_a_2005_frame_maps_old_codes_and_keeps_the_code_as_sent(
    ingest: Ingest, make_frame: FrameFactory
) -> None:
    raw = make_frame("2011", flag=None, items={"02": {"Rtd": "30.5", "Flag": "N"}})
    p = prepare(ingest, raw)
    assert (p.row.status, p.row.version) == ("ok", "2005")
    [r] = p.readings
    assert (r.pollutant, r.code_raw, r.values) == ("a21026", "02", {"rtd": 30.5})


def test_a_water_point_without_pw_accepts_any_pw(ingest: Ingest, make_frame: FrameFactory) -> None:
    p = prepare(
        ingest, make_frame("2061", mn=make_frame.water_mn, pw="anything", items={"w01018": {"Avg": "5"}})
    )
    assert p.row.status == "ok"
    assert p.readings[0].mn == make_frame.water_mn


def test_an_import_origin_marks_rows_to_skip_when_known(ingest: Ingest, make_frame: FrameFactory) -> None:
    assert prepare(ingest, make_frame(), origin="import").row.skip_if_known
    assert prepare(ingest, make_frame(crc="bad"), origin="import").row.skip_if_known
    assert ingest.prepare(hj212.Garbage(b"junk\n"), peer="file:x:1", origin="import").row.skip_if_known


# ----------------------------------------------------------------------------------------------- refused
def test_an_unknown_mn_is_quarantined_with_a_9011_mn_error(ingest: Ingest, make_frame: FrameFactory) -> None:
    raw = make_frame(mn=make_frame.unknown_mn, qn="20260101080000111")
    p = prepare(ingest, raw)
    assert (p.row.status, p.row.error_code) == ("quarantine", "unknown_mn")
    assert make_frame.unknown_mn in (p.row.reason or "")
    assert (p.row.raw, p.row.mn, p.row.cn, p.row.qn) == (
        raw,
        make_frame.unknown_mn,
        "2051",
        "20260101080000111",
    )
    assert p.row.crc_ok is True
    assert p.readings == []
    reply = reply_of(p)
    assert (reply.cn, reply.qn, reply.cp) == ("9011", "20260101080000111", {"QnRtn": "4"})


def test_a_wrong_pw_is_quarantined_with_a_9011_pw_error(ingest: Ingest, make_frame: FrameFactory) -> None:
    p = prepare(ingest, make_frame(pw="000000"))
    assert (p.row.status, p.row.error_code) == ("quarantine", "bad_pw")
    assert p.readings == []
    reply = reply_of(p)
    assert (reply.cn, reply.cp) == ("9011", {"QnRtn": "3"})


def test_a_bad_crc_is_quarantined_with_a_9011_crc_error(ingest: Ingest, make_frame: FrameFactory) -> None:
    raw = make_frame(crc="bad", qn="20260101080000222")
    event = make_frame.event(raw)
    assert isinstance(event, hj212.FrameError) and event.code == "bad_crc"
    p = ingest.prepare(event, peer="10.0.0.7:50123")
    assert (p.row.status, p.row.error_code, p.row.crc_ok) == ("quarantine", "bad_crc", False)
    assert p.row.raw == raw
    assert (p.row.mn, p.row.qn) == (make_frame.gas_mn, "20260101080000222")
    assert p.readings == []
    reply = reply_of(p)
    assert (reply.cn, reply.qn, reply.cp) == ("9011", "20260101080000222", {"QnRtn": "9"})


def test_garbage_is_quarantined_without_a_reply(ingest: Ingest) -> None:
    p = ingest.prepare(hj212.Garbage(b"AT+CSQ\r\n\x00\xff"), peer="10.0.0.7:50123")
    assert (p.row.status, p.row.format, p.row.error_code) == ("quarantine", "garbage", "garbage")
    assert p.row.raw == b"AT+CSQ\r\n\x00\xff"
    assert p.row.reason
    assert p.reply is None
    [result] = ingest.record([p])
    assert result.status == "quarantine"
    [stored] = ingest.store.frames()
    assert stored["raw"] == b"AT+CSQ\r\n\x00\xff"


# ----------------------------------------------------------------------------------------------- Modbus CRC
def test_a_modbus_crc_is_accepted_only_for_a_point_in_compatibility_mode(
    ingest: Ingest, make_frame: FrameFactory
) -> None:
    raw = make_frame("2011", items={"a21026": {"Rtd": "7", "Flag": "N"}}, crc="modbus")
    refused = prepare(ingest, raw)
    assert refused.row.error_code == "bad_crc"
    assert "Modbus" in (refused.row.reason or "")

    decoder = ingest.decoder()  # made before the registry changes: it must see the change
    gas = ingest.point(make_frame.gas_mn)
    assert gas is not None
    ingest.load_registry([dataclasses.replace(gas, crc_compat="modbus")])
    assert make_frame.gas_mn in ingest.modbus_mns
    [event] = decoder.feed(raw) + decoder.flush()
    assert isinstance(event, hj212.Frame)
    p = ingest.prepare(event, peer="10.0.0.7:50123")
    assert (p.row.status, p.row.crc_variant) == ("ok", "modbus")
    assert "Modbus" in (p.row.warnings or "")
    assert p.readings[0].values == {"rtd": 7.0}
    # another point's Modbus CRC is still refused
    other = make_frame("2011", mn=make_frame.water_mn, items={"w01018": {"Rtd": "1"}}, crc="modbus")
    assert prepare(ingest, other).row.error_code == "bad_crc"


# ----------------------------------------------------------------------------------------------- values
def test_values_that_are_not_numbers_go_to_extra_with_a_warning(
    ingest: Ingest, make_frame: FrameFactory
) -> None:
    items = {
        "a21026": {"Avg": "--", "Max": "12", "Flag": "N", "SampleTime": "20260101075900"},
        "a21002": {"Avg": "NaN", "Min": "inf"},
        "i12001": {"Info": "炉膛温度异常"},
    }
    p = prepare(ingest, make_frame("2051", items=items))
    assert p.row.status == "ok"
    by_code = {r.pollutant: r for r in p.readings}
    assert by_code["a21026"].values == {"max": 12.0}
    assert json.loads(by_code["a21026"].extra or "{}") == {"Avg": "--", "SampleTime": "20260101075900"}
    assert by_code["a21002"].values == {}  # NaN and infinity are not measurements
    assert json.loads(by_code["a21002"].extra or "{}") == {"Avg": "NaN", "Min": "inf"}
    assert json.loads(by_code["i12001"].extra or "{}") == {"Info": "炉膛温度异常"}
    warnings = p.row.warnings or ""
    for text in ("a21026-Avg='--'", "a21002-Avg='NaN'", "a21002-Min='inf'"):
        assert text in warnings
    [result] = ingest.record([p])
    assert result.readings_new == 3
    stored = {r["pollutant"]: r for r in ingest.store.readings()}
    assert stored["a21002"]["avg"] is None and stored["a21002"]["min"] is None


def test_a_frame_without_a_valid_data_time_is_kept_without_readings(
    ingest: Ingest, make_frame: FrameFactory
) -> None:
    p = prepare(ingest, make_frame("2051", data_time="20261301000000"))
    assert (p.row.status, p.readings) == ("ok", [])
    assert "DataTime" in (p.row.warnings or "")


@pytest.mark.parametrize(
    ("cn", "cp", "data_time"),
    [
        ("9015", (), None),  # heartbeat
        ("2081", (("RestartTime", "20260101075500"),), "20260101080000"),  # data logger restart
    ],
)
def test_frames_that_carry_no_readings_are_stored(
    ingest: Ingest, make_frame: FrameFactory, cn: str, cp: tuple[tuple[str, str], ...], data_time: str | None
) -> None:
    raw = make_frame(cn, items={}, cp=cp, data_time=data_time)
    p = prepare(ingest, raw)
    assert (p.row.status, p.row.cn, p.readings) == ("ok", cn, [])
    [result] = ingest.record([p])
    assert (result.status, result.readings_new) == ("ok", 0)
    [stored] = ingest.store.frames()
    assert (stored["raw"], stored["cn"], stored["status"]) == (raw, cn, "ok")
    assert ingest.store.reading_count() == 0


# ----------------------------------------------------------------------------------------------- recording
def test_record_stores_once_keeps_every_copy_and_logs_each(ingest: Ingest, make_frame: FrameFactory) -> None:
    raw = make_frame()
    first = ingest.record([prepare(ingest, raw)])
    again = ingest.record([prepare(ingest, raw), prepare(ingest, raw[:-2] + b"\n")])
    assert [r.status for r in first + again] == ["ok", "duplicate", "duplicate"]
    assert first[0].readings_new == 1 and sum(r.readings_new for r in again) == 0
    status = ingest.store.status()
    assert (status.frames, status.duplicates, status.readings, status.ledger_size) == (
        3,
        2,
        1,
        3 + 2,
    )  # three records, two registry entries
    assert verify(ingest.store, None).ok


# ----------------------------------------------------------------------------------------------- CSV rows
def csv_row(line: str = "") -> FrameRow:
    raw = line.encode()
    return FrameRow(
        0, "file:data.csv:2", "import", "csv", raw, hashlib.sha256(raw).digest(), skip_if_known=True
    )


def cells(**kw: str) -> dict[str, str]:
    base = {"mn": "21010012345678", "pollutant": "a21026", "time": "2026-01-01T08:00:00", "value": "12.5"}
    return base | kw


@pytest.mark.parametrize(
    ("given", "kind", "when"),
    [
        ({}, "hour", T0),  # no zone: the point's zone
        ({"time": "2026-01-01T08:00:00+08:00"}, "hour", T0),
        ({"time": "2026-01-01T00:00:00Z"}, "hour", T0),
        ({"time": "2026-01-01 09:00:00", "kind": "2051"}, "minute", T0 + 3600),
        ({"kind": "rtd", "flag": "N"}, "rtd", T0),
        ({"kind": "day", "flag": "D"}, "day", T0),
    ],
)
def test_a_good_csv_row_is_one_reading(ingest: Ingest, given: dict[str, str], kind: str, when: int) -> None:
    p = ingest.prepare_csv(csv_row(), cells(**given))
    assert (p.row.status, p.row.error_code, p.row.mn) == ("ok", None, "21010012345678")
    assert p.row.received_us > 0
    [r] = p.readings
    assert (r.kind, r.pollutant, r.data_time, r.flag) == (kind, "a21026", when, given.get("flag"))
    assert r.values == {("rtd" if kind == "rtd" else "avg"): 12.5}


@pytest.mark.parametrize(
    ("given", "code", "words"),
    [
        ({"mn": "99999999999999"}, "unknown_mn", "99999999999999"),
        ({"time": "01/02/2026 08:00"}, "bad_csv", "time"),
        ({"time": "2026-13-01T00:00:00"}, "bad_csv", "time"),
        ({"value": "abc"}, "bad_csv", "value"),
        ({"value": "nan"}, "bad_csv", "value"),
        ({"value": "-inf"}, "bad_csv", "value"),
        ({"flag": "Q"}, "bad_csv", "flag"),
        ({"kind": "weekly"}, "bad_csv", "kind"),
        ({"pollutant": ""}, "bad_csv", "missing pollutant"),
        ({"value": ""}, "bad_csv", "missing value"),
    ],
)
def test_a_bad_csv_row_is_quarantined_with_a_clear_reason(
    ingest: Ingest, given: dict[str, str], code: str, words: str
) -> None:
    p = ingest.prepare_csv(csv_row("the line"), cells(**given))
    assert (p.row.status, p.row.error_code) == ("quarantine", code)
    assert words in (p.row.reason or "")
    assert p.readings == []
    [result] = ingest.record([p])
    assert result.status == "quarantine"
    [stored] = ingest.store.frames()
    assert (stored["raw"], stored["error_code"], stored["reason"]) == (b"the line", code, p.row.reason)
