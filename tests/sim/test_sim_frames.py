"""Frames of the simulated data loggers: every one decodes, QNs are unique, the stream is deterministic."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from envtrust.hj212 import MAX_SEGMENT, Decoder, Frame, Item, parse_data_time
from envtrust.registry import load_registry
from envtrust.sim import demo_registry_path
from envtrust.sim.frames import FrameSource, Outgoing, build_upload
from envtrust.sim.physics import PointModel, local_datetime, local_seconds

from .support import gas_point, points, water_point

START = local_seconds(datetime(2026, 1, 15, 23, 10, 10))


def _frames(
    point_index: int = 0, seed: int = 1, start: float = START, hours: float = 2.0, **kw: object
) -> list[Outgoing]:
    model = PointModel(points()[point_index], seed)
    src = FrameSource(model, start, **kw)  # type: ignore[arg-type]
    out, _ = src.advance(start + hours * 3600)
    return out


def _decode(frames: list[Outgoing]) -> list[Frame]:
    decoder = Decoder()
    decoded = []
    for o in frames:
        events = decoder.feed(o.frame)
        assert len(events) == 1, events
        ev = events[0]
        assert isinstance(ev, Frame), ev
        assert ev.crc_ok and not ev.warnings, ev.warnings
        assert ev.qn == o.qn and ev.cn == o.cn and ev.data_time == o.data_time
        decoded.append(ev)
    return decoded


@pytest.mark.parametrize("index", [0, 1, 2])
def test_every_frame_decodes(index: int) -> None:
    point = points()[index]
    frames = _frames(index, hours=1.5)
    decoded = _decode(frames)
    counts = Counter(f.cn for f in decoded)
    assert counts["2011"] == 180  # every 30 s from 23:10:30 to 00:40:10
    assert counts["2051"] == 90
    assert counts["2061"] == 1  # 23:00–24:00
    assert counts["2031"] == 1  # the day that ended at midnight
    for f in decoded:
        assert f.mn == point.mn
        assert f.st == point.system_code
        assert f.pw == (point.pw or "123456")
        assert f.flag == 5 and f.needs_reply
        assert f.fields["QN"].isdigit() and len(f.fields["QN"]) == 17
        assert len(f.segment) <= MAX_SEGMENT
        codes = [it.code for it in f.items]
        assert codes == [c.code for c in PointModel(point).channels]
        for it in f.items:
            assert it.values["Flag"] in {"N", "C", "M", "F"}
            for suffix, text in it.values.items():
                if suffix != "Flag":
                    float(text)
    qns = [f.qn or "" for f in decoded]
    assert len(set(qns)) == len(qns)
    assert qns == sorted(qns)


def test_frame_contents_by_command() -> None:
    decoded = _decode(_frames(0, hours=1.5))
    rtd = next(f for f in decoded if f.cn == "2011")
    so2 = next(it for it in rtd.items if it.code == "a21026")
    assert set(so2.values) == {"Rtd", "ZsRtd", "Flag"}
    flow = next(it for it in rtd.items if it.code == "a00000")
    assert set(flow.values) == {"Rtd", "Flag"}
    assert rtd.data_time == "20260115231030"
    minute = next(f for f in decoded if f.cn == "2051")
    so2 = next(it for it in minute.items if it.code == "a21026")
    assert set(so2.values) == {"Cou", "Min", "Avg", "Max", "ZsMin", "ZsAvg", "ZsMax", "Flag"}
    o2 = next(it for it in minute.items if it.code == "a19001")
    assert set(o2.values) == {"Min", "Avg", "Max", "Flag"}
    assert minute.data_time == "20260115231000"  # the period start
    assert minute.qn == "20260115231100100"  # produced at the period end
    for it in minute.items:
        lo, avg, hi = it.number("Min"), it.number("Avg"), it.number("Max")
        assert lo is not None and avg is not None and hi is not None
        assert lo <= avg <= hi
    hourly = next(f for f in decoded if f.cn == "2061")
    assert hourly.data_time == "20260115230000"
    daily = next(f for f in decoded if f.cn == "2031")
    assert daily.data_time == "20260115000000"
    assert daily.qn == "20260116000000300"


def test_water_frames_have_no_converted_values() -> None:
    decoded = _decode(_frames(1, hours=0.2))
    for f in decoded:
        for it in f.items:
            assert not any(s.startswith("Zs") for s in it.values)
    assert decoded[0].st == "32"
    assert decoded[0].pw == "654321"


def test_same_seed_same_frames_different_seed_different() -> None:
    a = [o.frame for o in _frames(0, seed=3, hours=1.0)]
    b = [o.frame for o in _frames(0, seed=3, hours=1.0)]
    c = [o.frame for o in _frames(0, seed=4, hours=1.0)]
    assert a == b
    assert len(a) == len(c)
    assert sum(x != y for x, y in zip(a, c, strict=True)) > 0.9 * len(a)


def test_frames_do_not_depend_on_start_or_on_how_time_advances() -> None:
    model = PointModel(gas_point(), 5)
    whole = FrameSource(model, START)
    one_go, _ = whole.advance(START + 7200)
    late_start = START + 17 * 60 + 3
    stepped = FrameSource(PointModel(gas_point(), 5), late_start)
    pieces: list[Outgoing] = []
    t = late_start
    while t < START + 7200:
        t = min(START + 7200, t + 7.3)
        if stepped.pending_prefill and int(t) % 3 == 0:
            stepped.prefill_step()
        out, _ = stepped.advance(t)
        pieces += out
    by_qn = {o.qn: o.frame for o in one_go}
    assert pieces
    for o in pieces:
        assert by_qn[o.qn] == o.frame  # including the hourly and daily aggregates, which need pre-start data


def test_minute_interval_and_disabled_streams() -> None:
    frames = _frames(0, hours=1.0, minute_interval=10, rtd_interval=None, hourly=False, daily=False)
    decoded = _decode(frames)
    assert {f.cn for f in decoded} == {"2051"}
    times = [parse_data_time(f.data_time or "") for f in decoded]
    assert all(t is not None and t.minute % 10 == 0 and t.second == 0 for t in times)
    assert len(decoded) == 6
    with pytest.raises(ValueError, match="minute_interval"):
        FrameSource(PointModel(gas_point()), START, minute_interval=7)


def test_minute_interval_aggregates_match_one_minute_data() -> None:
    start = local_seconds(datetime(2026, 1, 15, 10, 0, 0))
    tens = [f for f in _decode(_frames(0, start=start, hours=0.5, minute_interval=10)) if f.cn == "2051"]
    ones = [f for f in _decode(_frames(0, start=start, hours=0.5)) if f.cn == "2051"]
    first = tens[0]
    assert first.data_time == "20260115100000"
    minutes = [f for f in ones if "20260115100000" <= (f.data_time or "") < "20260115101000"]
    assert len(minutes) == 10

    def num(f: Frame, code: str, suffix: str) -> float:
        it = next(i for i in f.items if i.code == code)
        v = it.number(suffix)
        assert v is not None
        return v

    assert num(first, "a00000", "Max") == max(num(f, "a00000", "Max") for f in minutes)
    assert num(first, "a00000", "Cou") == pytest.approx(
        sum(num(f, "a00000", "Cou") for f in minutes), abs=0.1
    )


def test_flags_follow_events_in_frames() -> None:
    model = PointModel(water_point(), 1)
    cal = next(w for w in model.windows(int(START // 86400) + 1) if w.kind == "C")
    src = FrameSource(model, cal.start - 300)
    out, events = src.advance(cal.end + 300)
    decoded = _decode(out)
    assert any("calibration" in text for _, text in events)
    during = [
        f
        for f in decoded
        if f.cn == "2011"
        and cal.start <= local_seconds(parse_data_time(f.data_time or "") or datetime.min) < cal.end
    ]
    assert during
    for f in during:
        flags = {it.code: it.values["Flag"] for it in f.items}
        assert flags["w01018"] == "C" and flags["w00000"] == "N"
    minute_flags = [
        next(it for it in f.items if it.code == "w01018").values["Flag"] for f in decoded if f.cn == "2051"
    ]
    assert "C" in minute_flags and minute_flags[0] == "N" and minute_flags[-1] == "N"


def test_oversize_uploads_are_split() -> None:
    model = PointModel(gas_point(), 1)
    items = [
        Item(f"a{n:05d}", {"Avg": "123.456", "Min": "100.000", "Max": "150.000", "Flag": "N"}, f"a{n:05d}")
        for n in range(40)
    ]
    out = build_upload(model, "2051", START, START - 60, items)
    assert len(out) > 1
    decoded = _decode(out)
    assert [f.pno for f in decoded] == list(range(1, len(out) + 1))
    assert {f.pnum for f in decoded} == {len(out)}
    assert all(f.flag == 7 and f.is_split and len(f.segment) <= MAX_SEGMENT for f in decoded)
    assert [it.code for f in decoded for it in f.items] == [it.code for it in items]
    assert len({f.qn for f in decoded}) == len(out)


def test_demo_registry_loads_and_every_point_produces_valid_frames() -> None:
    pts = load_registry(demo_registry_path())
    assert 16 <= len(pts) <= 20
    assert len({p.enterprise.name for p in pts}) >= 12
    assert {p.medium for p in pts} == {"gas", "water"}
    for p in pts:
        assert len(p.mn) == 24 and all(c in "0123456789ABCDEF" for c in p.mn)
        assert p.region.startswith("2101") and len(p.region) == 6
        assert p.enterprise.credit_code is not None and len(p.enterprise.credit_code) == 18
        assert p.limits
        if p.medium == "gas":
            assert p.reference_o2 is not None
        model = PointModel(p, 1)
        src = FrameSource(model, START)
        out, _ = src.advance(START + 1800)
        _decode(out)


def test_local_datetime_of_outgoing() -> None:
    out = _frames(0, hours=0.05)
    assert local_datetime(out[0].at) == datetime(2026, 1, 15, 23, 10, 30)


def test_pre_start_work_is_paced() -> None:
    start = local_seconds(datetime(2026, 1, 15, 10, 37, 20))
    src = FrameSource(PointModel(gas_point(), 1), start)
    assert src.pending_prefill
    assert src.prefill_owed(start) == 0
    assert 1 <= src.prefill_owed(start + 30) <= 3  # a trickle, not 37 minutes + 10 hours at once
    src.prefill_step(5, start + 30)
    assert src.prefill_owed(start + 30) == 0
    hour_half = start + 0.5 * (local_seconds(datetime(2026, 1, 15, 11, 0)) - start)
    assert src.prefill_owed(hour_half) >= 36 - 5
