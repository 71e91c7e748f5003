"""Physics of the simulator: determinism, realistic ranges, the reference-O2 conversion and honest events."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from envtrust.registry import Point
from envtrust.sim.physics import (
    DAY,
    O2_AMBIENT,
    PROCESSES,
    SAMPLES_PER_MINUTE,
    ZS_O2_CUTOFF,
    ChannelStats,
    PointModel,
    Window,
    converted,
    local_datetime,
    local_seconds,
    point_key,
)

from .support import gas_point, points, water_point

D0 = int(local_seconds(datetime(2026, 1, 12)) // DAY)  # a Monday in the heating season
D_SUMMER = int(local_seconds(datetime(2026, 7, 13)) // DAY)  # a Monday in summer: lower loads at night


def _find_day(model: PointModel, kind: str, limit: int = 4000) -> Window:
    """The first event window of ``kind`` (M or F) on or after D0, searching the deterministic schedule."""
    for d in range(D0, D0 + limit):
        for w in model.windows(d):
            if w.kind == kind and w.start >= d * DAY:
                return w
    raise AssertionError(f"no {kind} window in {limit} days")


def test_point_key_is_stable_and_seed_dependent() -> None:
    assert point_key(1, "MN1") == point_key(1, "MN1")
    assert point_key(1, "MN1") != point_key(2, "MN1")
    assert point_key(1, "MN1") != point_key(1, "MN2")
    assert 0 <= point_key(1, "MN1") < 2**64


def test_same_seed_same_values_whatever_the_order() -> None:
    a, b = PointModel(gas_point(), seed=7), PointModel(gas_point(), seed=7)
    minutes = [D0 * 1440 + k * 37 for k in range(60)]
    forward = [a.minute(m) for m in minutes]
    backward = [b.minute(m) for m in reversed(minutes)][::-1]
    assert forward == backward
    s = D0 * DAY + 12345.0
    assert a.sample(s) == b.sample(s)
    assert a.windows(D0 + 3) == b.windows(D0 + 3)


def test_different_seed_different_values() -> None:
    a, b = PointModel(gas_point(), seed=1), PointModel(gas_point(), seed=2)
    s = D0 * DAY + 10 * 3600.0
    assert a.sample(s).values != b.sample(s).values
    assert (a.calibration_offset, a.calibration_minutes, a.o2_full) != (
        b.calibration_offset,
        b.calibration_minutes,
        b.o2_full,
    )


def test_local_time_round_trip() -> None:
    t = datetime(2026, 3, 1, 8, 30, 15)
    assert local_datetime(local_seconds(t)) == t
    from zoneinfo import ZoneInfo

    aware = datetime(2026, 3, 1, 0, 30, 15, tzinfo=ZoneInfo("UTC"))
    assert local_datetime(local_seconds(aware, ZoneInfo("Asia/Shanghai"))) == t


def test_converted_formula() -> None:
    assert converted(20.0, 11.0, 6.0) == pytest.approx(20.0 * 15.0 / 10.0)
    assert converted(20.0, 6.0, 6.0) == pytest.approx(20.0)
    assert converted(5.0, 20.9, 6.0) == 5.0  # near-ambient O2: no conversion


def test_zs_values_follow_the_reference_o2_formula() -> None:
    model = PointModel(gas_point(), seed=3)
    ref = 6.0
    o2 = model.index["a19001"]
    checked = 0
    for m in range(D0 * 1440, D0 * 1440 + 1440, 7):
        data = model.minute(m)
        for j in model.pollutants:
            zs = data.zs[j]
            assert zs is not None
            for i in range(SAMPLES_PER_MINUTE):
                c, ox = data.values[j][i], data.values[o2][i]
                expected = c if ox >= ZS_O2_CUTOFF else c * (21 - ref) / (21 - ox)
                assert zs[i] == pytest.approx(expected, rel=1e-12, abs=1e-12)
                checked += 1
    assert checked > 1000


def test_water_points_have_no_converted_values() -> None:
    model = PointModel(water_point(), seed=3)
    assert all(z is None for z in model.minute(D0 * 1440).zs)
    assert model.sample(D0 * DAY).zs == {}


def _normal_minutes(model: PointModel, days: int = 3, step: int = 5, first: int = D0) -> list[int]:
    return [m for m in range(first * 1440, (first + days) * 1440, step) if model.minute(m).state == "N"]


def test_gas_values_in_realistic_ranges() -> None:
    model = PointModel(gas_point(), seed=5)
    idx = model.index
    lows: list[float] = []
    highs: list[float] = []
    for m in _normal_minutes(model) + _normal_minutes(model, first=D_SUMMER):
        data = model.minute(m)
        s = 60.0 * m + 30
        load = model.load(s)
        assert 0.4 <= load <= 1.0
        for i in range(SAMPLES_PER_MINUTE):
            flow = data.values[idx["a00000"]][i]
            assert data.values[idx["a01011"]][i] == pytest.approx(flow / model.duct_area)
            assert flow == pytest.approx(model.design_flow * load, rel=0.15)
            assert 100.0 <= data.values[idx["a01012"]][i] <= 150.0
            assert 4.0 <= data.values[idx["a01014"]][i] <= 13.0
            o2 = data.values[idx["a19001"]][i]
            assert 3.5 <= o2 <= 14.5
            (highs if load > 0.9 else lows if load < 0.5 else []).append(o2)
    assert highs and lows
    assert sum(highs) / len(highs) < 8.0  # ~5-9 % at full load
    assert sum(lows) / len(lows) > 10.0  # higher at low load


def test_converted_concentrations_sit_well_below_the_limits() -> None:
    model = PointModel(gas_point(), seed=5)
    hours = [model.period_stats(3600.0 * h, 3600.0 * h + 3600) for h in range(D0 * 24, D0 * 24 + 72)]
    for code, limit in (("a21026", 35.0), ("a21002", 50.0), ("a34013", 10.0)):
        j = model.index[code]
        hourly = []
        for stats in hours:
            st = stats.channels[j]
            if st.flag("gas") == "N":
                avg = st.avg(zs=True)
                assert avg is not None
                hourly.append(avg / limit)
        assert len(hourly) > 60
        inside = [f for f in hourly if 0.25 <= f <= 0.85]
        assert len(inside) >= 0.95 * len(hourly), (code, min(hourly), max(hourly))
        assert max(hourly) < 1.0


@pytest.mark.parametrize("process", sorted(p for p in PROCESSES if PROCESSES[p].medium == "gas"))
def test_o2_bounds_for_every_gas_process(process: str) -> None:
    base = gas_point()
    point = Point(
        mn=f"PROC{process[:8].upper()}",
        enterprise=base.enterprise,
        name=process,
        region="210106",
        medium="gas",
        reference_o2=6.0,
        limits=dict(base.limits),
        extra={"process": process},
    )
    model = PointModel(point, seed=11)
    p = PROCESSES[process]
    o2i = model.index["a19001"]
    for m in _normal_minutes(model, days=2, step=11):
        for o2 in model.minute(m).values[o2i]:
            assert p.o2_full - 2.5 <= o2 <= max(p.o2_low + 1.5, 14.5), (process, o2)


def test_daily_calibration_window_and_flags() -> None:
    model = PointModel(gas_point(), seed=9)
    assert 10 <= model.calibration_minutes <= 20
    for d in range(D0, D0 + 3):
        win = [w for w in model.windows(d) if w.kind == "C"]
        assert len(win) == 1
        w = win[0]
        assert w.start - d * DAY == model.calibration_offset  # same time every day
        assert w.end - w.start == 60 * model.calibration_minutes
        if model.shutdown_at(w.start) or any(x.kind == "M" and x.covers(w.start) for x in model.windows(d)):
            continue
        half = w.start + (w.end - w.start) // 2
        so2 = model.index["a21026"]
        span = model.span_value("a21026")
        for m in range(w.start // 60, w.end // 60):
            data = model.minute(m)
            assert data.state == "C"
            flags = dict(zip(model.codes, data.flags, strict=True))
            assert flags["a21026"] == flags["a19001"] == flags["a34013"] == "C"
            assert flags["a00000"] == flags["a01012"] == "N"
            mean = sum(data.values[so2]) / SAMPLES_PER_MINUTE
            if 60 * m < half:
                assert mean < 0.05 * span  # zero gas
            else:
                assert mean == pytest.approx(span, rel=0.05)  # span gas
        assert model.minute(w.start // 60 - 1).state == "N"
        assert model.minute(w.end // 60).state == "N"


def test_shutdown_behaviour() -> None:
    model = PointModel(gas_point(), seed=4)
    w = _find_day(model, "F")
    idx = model.index
    assert w.end - w.start >= 3600
    late = model.minute(w.start // 60 + 45)
    assert late.state == "F"
    assert set(late.flags) == {"F"}
    assert model.load(w.start + 2700.0) == 0.0
    assert max(late.values[idx["a00000"]]) < 0.07 * model.design_flow
    assert min(late.values[idx["a19001"]]) > 20.3
    assert max(late.values[idx["a19001"]]) <= 20.95
    assert late.values[idx["a01011"]][0] == pytest.approx(late.values[idx["a00000"]][0] / model.duct_area)
    # the stack cools down towards ambient
    early_t = model.minute(w.start // 60 + 1).values[idx["a01012"]][0]
    later = min(w.end - 60, w.start + 6 * 3600)
    assert model.minute(int(later // 60)).values[idx["a01012"]][0] < early_t
    # the point runs again after the shutdown, at reduced load while ramping up
    after = model.minute(w.end // 60 + 1)
    if model.shutdown_at(w.end + 60.0) is None:
        assert "F" not in after.flags
        assert model.load(w.end + 60.0) < model.load(w.end + 3 * 3600.0) + 1e-9


def test_maintenance_flags_analysers_only() -> None:
    model = PointModel(gas_point(), seed=4)
    w = _find_day(model, "M")
    m = w.start // 60 + 1
    if model.shutdown_at(60.0 * m):
        pytest.skip("maintenance inside a shutdown for this seed")
    data = model.minute(m)
    assert data.state == "M"
    flags = dict(zip(model.codes, data.flags, strict=True))
    assert flags["a21026"] == "M" and flags["a00000"] == "N"
    assert min(data.values[model.index["a19001"]]) > 20.5  # the analyser reads room air
    assert 8.5 * 60 <= (w.start % DAY) / 60 <= 15 * 60
    assert 3600 <= w.end - w.start <= 4 * 3600


def test_water_values_in_realistic_ranges() -> None:
    model = PointModel(water_point(), seed=5)
    idx = model.index
    night: list[float] = []
    day: list[float] = []
    for m in _normal_minutes(model, days=2, step=3):
        data = model.minute(m)
        for v in data.values[idx["w01001"]]:
            assert 6.5 <= v <= 8.5
        for code in ("w01018", "w21003", "w21011", "w21001"):
            for v in data.values[idx[code]]:
                assert 0 < v < model.limits[code]
        hour = (m % 1440) / 60
        flow = data.values[idx["w00000"]][0]
        (night if 3 <= hour < 6 else day if 9 <= hour < 11 else []).append(flow)
    assert sum(night) / len(night) < 0.85 * sum(day) / len(day)  # the daily cycle of a sewage works


def test_water_shutdown_and_calibration() -> None:
    model = PointModel(water_point(), seed=2)
    w = _find_day(model, "F", limit=20000)
    data = model.minute(w.start // 60)
    assert set(data.flags) == {"F"}
    assert max(data.values[model.index["w00000"]]) < 0.02 * model.design_flow
    cal = next(x for x in model.windows(D0) if x.kind == "C")
    cdata = model.minute(cal.start // 60)
    flags = dict(zip(model.codes, cdata.flags, strict=True))
    assert flags["w01018"] == "C" and flags["w00000"] == "N" and flags["w01001"] == "N"


def test_rtd_sample_lies_within_the_minute_statistics() -> None:
    model = PointModel(gas_point(), seed=8)
    for k in range(50):
        s = D0 * DAY + 977.0 * k + 5 * (k % 12)
        sample = model.sample(s)
        st = model.minute_stats(math.floor(s / 60))
        for j, code in enumerate(model.codes):
            lo, hi = st.channels[j].all.min, st.channels[j].all.max
            assert lo <= sample.values[code] <= hi


def test_minute_statistics_and_cou() -> None:
    model = PointModel(gas_point(), seed=8)
    m = D0 * 1440 + 600
    data = model.minute(m)
    st = model.minute_stats(m)
    flow = st.channels[0]
    avg = flow.avg()
    assert avg == pytest.approx(sum(data.values[0]) / SAMPLES_PER_MINUTE)
    assert avg is not None and flow.cou == pytest.approx(avg * 60)  # m³ in the minute
    so2 = st.channels[model.index["a21026"]]
    expected_kg = (
        sum(c * q for c, q in zip(data.values[model.index["a21026"]], data.values[0], strict=True)) * 5e-6
    )
    if data.flags[model.index["a21026"]] == "N":
        assert so2.cou == pytest.approx(expected_kg)
    hour = model.period_stats(60.0 * (m - m % 60), 60.0 * (m - m % 60) + 3600)
    assert hour.samples == 60 * SAMPLES_PER_MINUTE


def test_period_flag_rules() -> None:
    st = ChannelStats(False)
    st.flags = {"N": 46 * 12, "C": 14 * 12}
    assert st.flag("gas") == "N"  # ≥ 75 % normal
    assert st.flag("water") == "N"
    assert st.flag("water", strict=True) == "C"  # water minute data: one abnormal value marks the period
    st.flags = {"N": 40 * 12, "C": 20 * 12}
    assert st.flag("gas") == "C"
    st.flags = {"N": 12, "F": 600, "M": 12}
    assert st.flag("gas") == "F"


def test_every_registry_point_is_modelled() -> None:
    for p in points():
        model = PointModel(p, seed=1)
        sample = model.sample(D0 * DAY + 3600.0)
        assert set(sample.values) == set(model.codes)
        assert set(sample.flags.values()) <= {"N", "C", "M", "F"}


def test_ambient_points_are_refused() -> None:
    base = gas_point()
    ambient = Point(mn="AMB1", enterprise=base.enterprise, name="站", region="210102", medium="ambient")
    with pytest.raises(ValueError, match="ambient"):
        PointModel(ambient)


def test_ambient_o2_constant() -> None:
    assert O2_AMBIENT == 20.9
