"""Enterprise data marks (decision 0012 §7): the two contest rules, exclusion, and the ``mark_contested`` check."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrust.qc import CATALOGUE, PointData, PointInfo, SeriesBuilder
from envtrust.qc.marks import DEFAULTS, MARK_CODES, MARK_TEXT, Contest, Mark, contest, excluded

from .conftest import START, make_gas, make_water

H = 60
Arrays = dict[str, np.ndarray]


def at(minute: int) -> int:
    return START + 60 * minute


def mark(code: str, lo: int, hi: int, pollutants: tuple[str, ...] | None = None, **kw: Any) -> Mark:
    """A mark over minutes [lo, hi) of the synthetic series."""
    return Mark(f"data_marks/{code}-{lo}", code, at(lo), at(hi), pollutants, **kw)


# -------------------------------------------------------------------------------------------------- the mark type
def test_codes_texts_and_defaults() -> None:
    assert set(MARK_TEXT) == set(MARK_CODES)
    assert MARK_TEXT["stopped"] == ("停运", "stopped")
    assert [MARK_TEXT[c][0] for c in MARK_CODES] == ["停运", "启停机", "维护", "校准", "故障", "通讯故障"]
    assert DEFAULTS["velocity_ms"] == 3.0 and DEFAULTS["temp_c"] == 60.0 and DEFAULTS["flow_share"] == 0.25
    assert DEFAULTS["min_minutes"] == 15 and DEFAULTS["share"] == 0.5
    assert DEFAULTS["plateau_minutes"] == 3 and DEFAULTS["plateau_range_fs"] == 0.01


def test_a_mark_rejects_unknown_codes_decisions_and_empty_spans() -> None:
    with pytest.raises(ValueError, match="unknown mark code"):
        Mark("m/1", "sleeping", 0, 60, None)
    with pytest.raises(ValueError, match="unknown decision"):
        Mark("m/1", "stopped", 0, 60, None, decision="maybe")
    with pytest.raises(ValueError, match="not after"):
        Mark("m/1", "stopped", 60, 60, None)


# ------------------------------------------------------------------------------------------ rule 1: stopped
def stack(
    velocity: float, temp: float, flow: float | None = None, lo: int = 10 * H, hi: int = 12 * H
) -> PointData:
    """A day of a running boiler; minutes [lo, hi) flagged F with the given velocity, temperature and flow."""

    def edit(v: Arrays, f: Arrays, t: np.ndarray) -> None:
        v["a01011"][lo:hi] = velocity
        v["a01012"][lo:hi] = temp
        v["a00000"][lo:hi] = velocity * 20 if flow is None else flow
        for c in f:
            f[c][lo:hi] = "F"

    return make_gas(1, edit=edit)


def test_stopped_while_running_is_contested_with_the_counts() -> None:
    pd = stack(8.0, 120.0)
    c = contest(pd, mark("stopped", 10 * H, 12 * H), DEFAULTS)
    assert c is not None and c.rule == "stopped_while_running"
    ev = c.evidence
    assert ev["minutes_with_data"] == 120 and ev["operating_minutes"] == 120 and ev["operating_share"] == 1.0
    assert ev["velocity_minutes"] == 120 and ev["hot_minutes"] == 120
    assert ev["velocity_median_operating"] == 8.0 and ev["temp_median_operating"] == 120.0
    assert ev["thresholds"]["velocity_ms"] == 3.0 and ev["thresholds"]["temp_c"] == 60.0
    assert ev["flow_code"] == "a00000" and ev["typical_flow"] is not None
    assert ev["first_operating"] == at(10 * H) and ev["last_operating"] == at(12 * H - 1)
    assert "停运" in c.message_zh and "operating in 120 of 120 minutes" in c.message_en
    json.dumps(ev)  # JSON-able


def test_a_truly_stopped_stack_is_not_contested() -> None:
    pd = stack(0.5, 30.0, flow=10.0)
    assert contest(pd, mark("stopped", 10 * H, 12 * H), DEFAULTS) is None


def test_a_hot_stack_needs_velocity_or_flow_and_a_fast_one_needs_heat() -> None:
    # cold air through a running fan: fast but cold
    assert contest(stack(8.0, 30.0), mark("stopped", 10 * H, 12 * H), DEFAULTS) is None
    # hot but still: neither velocity above 3 m/s nor a quarter of the typical flow
    assert contest(stack(1.0, 120.0, flow=20.0), mark("stopped", 10 * H, 12 * H), DEFAULTS) is None
    # slow velocity but the flow at its running level: operating
    c = contest(stack(2.0, 120.0, flow=250.0), mark("stopped", 10 * H, 12 * H), DEFAULTS)
    assert c is not None and c.evidence["velocity_minutes"] == 0 and c.evidence["flow_minutes"] == 120


def test_minimum_minutes_and_share() -> None:
    # only the first 10 minutes of a 2-hour mark operate: too few
    pd = stack(0.5, 30.0, flow=10.0, lo=10 * H + 10, hi=12 * H)
    assert contest(pd, mark("stopped", 10 * H, 12 * H), DEFAULTS) is None
    # 50 of 120 minutes operate: at least 15, but under half
    pd = stack(0.5, 30.0, flow=10.0, lo=10 * H + 50, hi=12 * H)
    m = mark("stopped", 10 * H, 12 * H)
    assert contest(pd, m, DEFAULTS) is None
    c = contest(pd, m, {"share": 0.4})  # partial parameters take the defaults
    assert c is not None and c.evidence["operating_minutes"] == 50


def test_a_water_point_at_full_flow_is_contested() -> None:
    pd = make_water(2)
    c = contest(pd, mark("stopped", 11 * H, 13 * H), DEFAULTS)  # midday: the flow at its full level
    assert c is not None and c.evidence["medium"] == "water" and c.evidence["flow_code"] == "w00000"
    assert c.evidence["operating_minutes"] == 120 and "velocity_minutes" not in c.evidence
    assert "流量" in c.message_zh


def test_a_water_point_without_flow_is_not_contested() -> None:
    def edit(v: Arrays, f: Arrays, t: np.ndarray) -> None:
        v["w00000"][11 * H : 13 * H] = 0.0

    pd = make_water(2, edit=edit)
    assert contest(pd, mark("stopped", 11 * H, 13 * H), DEFAULTS) is None


def test_a_mark_outside_the_data_is_not_contested() -> None:
    pd = make_gas(1)
    assert contest(pd, Mark("m/1", "stopped", START - 7200, START - 3600, None), DEFAULTS) is None
    assert contest(pd, Mark("m/2", "stopped", at(2 * 1440), at(2 * 1440 + 120), None), DEFAULTS) is None


def test_other_codes_are_never_contested() -> None:
    pd = stack(8.0, 120.0)
    for code in ("startup_shutdown", "maintenance", "fault", "comm_failure"):
        assert contest(pd, mark(code, 10 * H, 12 * H), DEFAULTS) is None


# -------------------------------------------------------------------------------------- rule 2: calibration
SO2 = "a21026"
FS = {SO2: 100.0}


def calibrated(lo: int = 10 * H) -> PointData:
    """An honest SO2 calibration from minute ``lo``: 3 minutes falling, 6 at zero, 3 rising, 6 at span 80, 3
    back; every minute flagged C."""

    def edit(v: Arrays, f: Arrays, t: np.ndarray) -> None:
        rng = np.random.default_rng(5)
        x = v[SO2]
        base = float(x[lo])
        seq = [*np.linspace(base, 0, 4)[1:], *(0.1 + rng.normal(0, 0.05, 6)), *np.linspace(0, 80, 4)[1:]]
        seq += [*(80 + rng.normal(0, 0.2, 6)), *np.linspace(80, base, 4)[1:]]
        x[lo : lo + len(seq)] = seq
        f[SO2][lo : lo + len(seq)] = "C"

    return make_gas(1, edit=edit)


def test_calibration_over_process_data_is_contested() -> None:
    pd = make_gas(1)
    c = contest(pd, mark("calibration", 10 * H, 10 * H + 30, (SO2,)), DEFAULTS, full_scale=FS)
    assert c is not None and c.rule == "calibration_without_pattern"
    ev = c.evidence
    assert ev["contested_codes"] == [SO2]
    code = ev["codes"][SO2]
    assert code["values"] == 30 and code["zero_plateaus"] == 0 and code["span_plateaus"] == 0
    assert code["full_scale"] == 100.0 and code["full_scale_source"] == "given"
    assert all(p["kind"] == "flat" for p in code["plateaus"])
    assert SO2 in c.message_zh and "neither a zero nor a span plateau" in c.message_en
    json.dumps(ev)


def test_calibration_of_every_analyser_when_the_mark_names_none() -> None:
    pd = calibrated()
    c = contest(
        pd, mark("calibration", 10 * H, 10 * H + 21), DEFAULTS, full_scale={SO2: 100.0, "a21002": 200.0}
    )
    # SO2 was calibrated; NOx and PM carried on as process values
    assert c is not None and SO2 not in c.evidence["contested_codes"]
    assert set(c.evidence["contested_codes"]) >= {"a21002"}
    assert set(c.evidence["codes"]) == set(pd.analysers())


def test_an_honest_calibration_is_not_contested() -> None:
    pd = calibrated()
    m = mark("calibration", 10 * H, 10 * H + 21, (SO2,))
    assert contest(pd, m, DEFAULTS, full_scale=FS) is None
    assert contest(pd, m, DEFAULTS, full_scale=FS, span_values={SO2: 80.0}) is None
    assert contest(pd, m, DEFAULTS) is None  # full scale from the series maximum (the span value)


def test_span_value_decides_the_span_plateau() -> None:
    def edit(v: Arrays, f: Arrays, t: np.ndarray) -> None:  # only a span plateau at 80, no zero
        v[SO2][10 * H : 10 * H + 10] = 80 + np.random.default_rng(2).normal(0, 0.1, 10)
        f[SO2][10 * H : 10 * H + 10] = "C"

    pd = make_gas(1, edit=edit)
    m = mark("calibration", 10 * H, 10 * H + 10, (SO2,))
    assert contest(pd, m, DEFAULTS, full_scale=FS, span_values={SO2: 80.0}) is None
    c = contest(pd, m, DEFAULTS, full_scale=FS, span_values={SO2: 50.0})  # the lot's value is 50: not a span
    assert c is not None and c.evidence["codes"][SO2]["flat_plateaus"] == 1
    assert contest(pd, m, DEFAULTS, full_scale={SO2: 500.0}) is not None  # 80 < 50 % of 500


def test_calibration_without_minute_data_needs_a_check_nearby() -> None:
    def edit(v: Arrays, f: Arrays, t: np.ndarray) -> None:
        v[SO2][10 * H : 10 * H + 20] = np.nan

    pd = make_gas(1, edit=edit)
    m = mark("calibration", 10 * H, 10 * H + 20, (SO2,))
    c = contest(pd, m, DEFAULTS)
    assert c is not None and c.evidence["minute_values"] == 0
    assert c.evidence["check_window"] == [m.start - 900, m.end + 900]
    assert contest(pd, m, DEFAULTS, check_times=[m.end + 10 * 60]) is None
    assert contest(pd, m, DEFAULTS, check_times=[m.start - 15 * 60]) is None
    assert contest(pd, m, DEFAULTS, check_times=[m.end + 20 * 60, m.start - 16 * 60]) is not None


def test_calibration_is_judged_only_once_the_data_cover_the_mark() -> None:
    pd = make_gas(1)
    assert contest(pd, Mark("m/1", "calibration", at(1440 - 10), at(1440 + 20), (SO2,)), DEFAULTS) is None
    assert contest(pd, Mark("m/2", "calibration", START - 600, START + 600, (SO2,)), DEFAULTS) is None


# ------------------------------------------------------------------------------------------------------ exclusion
def test_excluded_honours_contest_uphold_reject_and_every_channel() -> None:
    pd = stack(8.0, 120.0)
    false = mark("stopped", 10 * H, 12 * H)
    upheld = Mark("data_marks/2", "stopped", at(10 * H), at(12 * H), None, decision="uphold")
    rejected = mark("maintenance", 2 * H, 3 * H, (SO2,), decision="reject")
    maint = mark("maintenance", 4 * H, 5 * H, (SO2,))
    fault = mark("fault", 6 * H, 7 * H)

    out = excluded(pd, [false, rejected, maint, fault], DEFAULTS)
    assert out[SO2] == [(at(4 * H), at(5 * H), maint), (at(6 * H), at(7 * H), fault)]
    assert set(out) == set(pd.codes())  # the fault mark covers every channel
    assert all(m is fault for code, spans in out.items() if code != SO2 for _, _, m in spans)

    out = excluded(pd, [upheld], DEFAULTS)
    assert set(out) == set(pd.codes())
    assert out["a00000"] == [(at(10 * H), at(12 * H), upheld)]

    assert excluded(pd, [], DEFAULTS) == {}


def test_excluded_passes_the_context_to_the_contest() -> None:
    def edit(v: Arrays, f: Arrays, t: np.ndarray) -> None:
        v[SO2][10 * H : 10 * H + 20] = np.nan

    pd = make_gas(1, edit=edit)
    m = mark("calibration", 10 * H, 10 * H + 20, (SO2,))
    assert excluded(pd, [m], DEFAULTS) == {}
    assert excluded(pd, [m], DEFAULTS, check_times=[m.start]) == {SO2: [(m.start, m.end, m)]}


# ------------------------------------------------------------------------------------------------ catalogue check
def run_check(pd: PointData) -> list[Any]:
    check = CATALOGUE["mark_contested"]
    return check.fn(pd, check.defaults())


def test_the_check_is_registered_with_its_parameters() -> None:
    check = CATALOGUE["mark_contested"]
    assert (check.version, check.category) == (1, "tampering")
    assert check.title_zh == "标记与实际数据不符（虚假标记）"
    assert "MEE 2022 No. 21" in check.source
    assert {p.name for p in check.params} == {"enabled", *DEFAULTS}
    assert {k: v for k, v in check.defaults().items() if k != "enabled"} == dict(DEFAULTS)


def test_the_check_reports_each_contested_mark_with_its_evidence() -> None:
    pd = stack(8.0, 120.0)
    false = Mark("data_marks/7", "stopped", at(10 * H), at(12 * H), None, made_at=at(13 * H))
    upheld = Mark("data_marks/8", "stopped", at(10 * H), at(12 * H), None, decision="uphold")
    honest = mark("maintenance", 2 * H, 3 * H)
    pd.marks = [upheld, honest, false]  # type: ignore[attr-defined]
    out = run_check(pd)
    assert [f.evidence["mark"] for f in out] == ["data_marks/7", "data_marks/8"]
    f = out[0]
    assert (f.check, f.category, f.severity, f.pollutant) == ("mark_contested", "tampering", "high", None)
    assert (f.start, f.end) == (at(10 * H), at(12 * H))
    ev = f.evidence
    assert ev["code"] == "stopped" and ev["rule"] == "stopped_while_running" and ev["decision"] is None
    assert ev["made_at"] == at(13 * H) and ev["lag_s"] == 3 * 3600
    assert ev["operating_minutes"] == 120
    assert out[1].evidence["decision"] == "uphold" and out[1].evidence["lag_s"] is None
    zh, en = f.message.split(" | ")
    assert "停运" in zh and "data_marks/7" in zh and "marked stopped" in en
    json.dumps(f.to_json())


def test_the_check_uses_the_mark_context_and_names_a_single_pollutant() -> None:
    pd = make_gas(1)
    m = mark("calibration", 10 * H, 10 * H + 30, (SO2,))
    pd.marks = [m]  # type: ignore[attr-defined]
    pd.mark_context = {"full_scale": FS, "span_values": {}, "check_times": []}  # type: ignore[attr-defined]
    out = run_check(pd)
    assert len(out) == 1 and out[0].pollutant == SO2 and out[0].evidence["codes"][SO2]["full_scale"] == 100.0


def test_the_check_is_silent_without_marks_and_for_other_codes() -> None:
    pd = stack(8.0, 120.0)
    assert run_check(pd) == []
    pd.marks = [mark(c, 10 * H, 12 * H) for c in MARK_CODES if c not in ("stopped", "calibration")]  # type: ignore[attr-defined]
    assert run_check(pd) == []


# ------------------------------------------------------------------------------------------------------ properties
def slow_stack(velocity: list[float], temp: list[float]) -> PointData:
    """A point reporting only velocity and flue-gas temperature (no flow channel) minute by minute."""
    b = SeriesBuilder()
    for i, (v, t) in enumerate(zip(velocity, temp, strict=True)):
        b.add(START + 60 * i, "a01011", v, flag="N")
        b.add(START + 60 * i, "a01012", t, flag="N")
    return PointData(PointInfo("P9"), b.build())


minutes = st.integers(20, 240)


@given(
    minutes.flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 3, allow_nan=False), min_size=n, max_size=n),
            st.lists(st.floats(-20, 400, allow_nan=False), min_size=n, max_size=n),
            st.integers(0, n - 1),
            st.integers(1, n),
        )
    )
)
@settings(max_examples=60, deadline=None)
def test_a_stopped_mark_over_slow_gas_is_never_contested(
    case: tuple[list[float], list[float], int, int],
) -> None:
    velocity, temp, lo, length = case
    pd = slow_stack(velocity, temp)
    m = Mark("m/1", "stopped", at(lo), at(lo + length), None)
    assert contest(pd, m, DEFAULTS) is None
    assert excluded(pd, [m], DEFAULTS) == {c: [(m.start, m.end, m)] for c in ("a01011", "a01012")}


@given(st.integers(0, 2**16), st.sampled_from(MARK_CODES), st.integers(0, 300), st.integers(1, 120))
@settings(max_examples=15, deadline=None)
def test_contest_is_deterministic(seed: int, code: str, lo: int, length: int) -> None:
    m = mark(code, lo, lo + length)
    kw: dict[str, Any] = {"full_scale": FS, "check_times": [at(lo)]}
    first = contest(make_gas(0.25, seed), m, DEFAULTS, **kw)
    again = contest(make_gas(0.25, seed), m, DEFAULTS, **kw)
    assert first == again
    assert first is None or isinstance(first, Contest)
