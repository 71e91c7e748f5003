"""Injected tampering and honest events: each scenario changes its window and nothing else, labels, the offline
frames log (parses, counts, determinism) and the wiring of ``envtrust simulate --tamper``."""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.hj212 import Decoder, Frame
from envtrust.registry import format_registry, load_registry, parse_registry
from envtrust.sim import demo_registry_path
from envtrust.sim.fleet import FleetStats
from envtrust.sim.frames import FrameSource
from envtrust.sim.offline import generate_log, plan_fleet
from envtrust.sim.physics import DAY, ZS_O2_CUTOFF, MinuteData, PointModel, local_seconds
from envtrust.sim.synthetic import credit_code, fleet_points, synthetic_registry
from envtrust.sim.tamper import (
    SCENARIOS,
    Injection,
    TamperedModel,
    TamperError,
    TamperSpec,
    exceedance_hours,
    network_gaps,
    parse_spec,
    plan_injections,
    resolve_spec,
)

from .support import REGISTRY, points
from .test_sim_fleet import Host, _serve

runner = CliRunner()
SPAN_START = datetime(2026, 1, 1)
SPAN = (int(local_seconds(SPAN_START)), int(local_seconds(SPAN_START + timedelta(days=10))))
WINDOW_START = datetime(2026, 1, 7, 10, 0)  # a Wednesday, daytime: no routine calibration
MARGIN = 90  # minutes compared on each side of a window


def _models() -> list[PointModel]:
    return [PointModel(p, 1) for p in points()]  # gas power boiler, waste water, gas cement kiln


def _inject(
    scenario: str, index: int, hours: float = 6.0, **kw: Any
) -> tuple[PointModel, TamperedModel, Injection]:
    models = _models()
    truth = models[index]
    spec = TamperSpec(scenario, truth.point.mn, kw.get("pollutant"), kw.get("start", WINDOW_START), hours)
    inj = resolve_spec(spec, truth, seed=1, span=SPAN, peers=models)
    return truth, TamperedModel(truth, [inj], peers={m.point.mn: m for m in models}), inj


def _minutes(inj: Injection) -> range:
    return range(inj.start // 60 - MARGIN, inj.end // 60 + MARGIN)


def _assert_zs_consistent(model: PointModel, d: MinuteData) -> None:
    ref = model.reference_o2
    if ref is None:
        assert all(z is None for z in d.zs)
        return
    o2 = d.values[model.index["a19001"]]
    for j in model.pollutants:
        z = d.zs[j]
        assert z is not None
        for c, o, zi in zip(d.values[j], o2, z, strict=True):
            expected = c if o >= ZS_O2_CUTOFF else c * (21.0 - ref) / (21.0 - o)
            assert zi == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _mean(xs: Any) -> float:
    return sum(xs) / len(xs)


# --------------------------------------------------------------------------------------------------------------
# specifications


def test_parse_spec_forms() -> None:
    assert parse_spec("flat:MN1") == TamperSpec("flat", "MN1")
    assert parse_spec("scale/a21026:MN1:2026-01-05") == TamperSpec(
        "scale", "MN1", "a21026", datetime(2026, 1, 5), None
    )
    assert parse_spec("clip:MN1:2026-01-05T08:30") == TamperSpec(
        "clip", "MN1", None, datetime(2026, 1, 5, 8, 30)
    )
    assert parse_spec("clip:MN1:2026-01-05T08:30:12") == TamperSpec(
        "clip", "MN1", None, datetime(2026, 1, 5, 8, 30), 12.0
    )
    assert parse_spec("spike:MN1:2026-01-05:2.5").hours == 2.5


@pytest.mark.parametrize(
    "text",
    [
        "flat",
        "nonsense:MN1",
        "flat:",
        "flat:MN1:2026-13-01",
        "flat:MN1:2026-01-05T08",
        "flat:MN1:2026-01-05:x",
    ],
)
def test_parse_spec_refuses(text: str) -> None:
    with pytest.raises(TamperError):
        parse_spec(text)


def test_gas_only_scenarios_refuse_water_points() -> None:
    models = _models()
    with pytest.raises(TamperError, match="not a flue-gas point"):
        resolve_spec(TamperSpec("o2_ambient", models[1].point.mn), models[1], seed=1, span=SPAN, peers=models)
    with pytest.raises(TamperError, match="no other water point"):
        resolve_spec(TamperSpec("copy_point", models[1].point.mn), models[1], seed=1, span=SPAN, peers=models)


def test_injections_are_deterministic_and_windows_avoid_the_first_two_days() -> None:
    models = [PointModel(p, 7) for p in points()]
    for name, scenario in SCENARIOS.items():
        for model in models:
            if (scenario.gas_only and model.medium != "gas") or (
                name == "copy_point" and model.medium == "water"
            ):
                continue
            spec = TamperSpec(name, model.point.mn)
            a = resolve_spec(spec, model, seed=7, span=SPAN, peers=models)
            b = resolve_spec(spec, PointModel(model.point, 7), seed=7, span=SPAN, peers=models)
            assert a == b
            assert SPAN[0] + 2 * DAY <= a.start < a.end <= SPAN[1], name
            lo, hi = scenario.hours
            assert lo * 3600 - 60 <= a.end - a.start <= hi * 3600 + 60, name


# --------------------------------------------------------------------------------------------------------------
# every scenario: its window changes, nothing else does

CASES = [
    (name, index)
    for name, s in SCENARIOS.items()
    for index in (0, 1, 2)
    if not (s.gas_only and index == 1) and not (name == "copy_point" and index == 1)
]


@pytest.mark.parametrize(("scenario", "index"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_scenario_changes_its_window_and_nothing_else(scenario: str, index: int) -> None:
    truth, tm, inj = _inject(scenario, index)
    changed = 0
    for m in _minutes(inj):
        a, b = truth.minute(m), tm.minute(m)
        if not inj.covers(60 * m):
            assert a == b, f"minute {m} outside the window changed"
            continue
        if a != b:
            changed += 1
            _assert_zs_consistent(tm, b)
            assert b.m == m and len(b.flags) == len(tm.channels)
    if scenario == "gaps_high_load":  # frames, not values
        assert changed == 0
    elif scenario == "spike":
        assert changed == len(inj.detail["spikes"]) >= 3
    elif scenario == "false_flag":
        assert changed == sum(ep[1] for ep in inj.detail["episodes"])
    else:
        assert changed >= 0.9 * (inj.end - inj.start) / 60, (changed, inj)
    # real-time samples come from the same minutes: they lie within the tampered minute's range
    m = (inj.start + inj.end) // 120
    d = tm.minute(m)
    sample = tm.sample(60 * m + 17)
    for j, ch in enumerate(tm.channels):
        assert min(d.values[j]) <= sample.values[ch.code] <= max(d.values[j])


def _window_minutes(tm: TamperedModel, inj: Injection) -> list[int]:
    return [m for m in range(inj.start // 60, inj.end // 60) if tm.truth(m).state == "N"]


def test_flat_holds_one_value_or_two_one_step_apart() -> None:
    for index in (0, 1, 2):
        _, tm, inj = _inject("flat", index)
        j = tm.index[inj.pollutant or ""]
        seen = set()
        for m in _window_minutes(tm, inj):
            vals = tm.minute(m).values[j]
            assert len(set(vals)) == 1
            seen.add(vals[0])
        step = inj.detail["step"]
        if inj.detail["variant"] == "constant":
            assert seen == {inj.detail["value"]}
        else:
            assert len(seen) == 2 and max(seen) - min(seen) == pytest.approx(step)


def test_smooth_is_a_trailing_mean_without_variance() -> None:
    truth, tm, inj = _inject("smooth", 0)
    j = tm.index[inj.pollutant or ""]
    width = inj.detail["minutes"]
    for m in _window_minutes(tm, inj)[::37]:
        vals = tm.minute(m).values[j]
        assert len(set(vals)) == 1
        window = [truth.minute(k) for k in range(m - width + 1, m + 1)]
        expected = sum(sum(d.values[j]) for d in window if d.flags[j] == "N") / (
            12 * sum(d.flags[j] == "N" for d in window)
        )
        assert vals[0] == pytest.approx(expected)


@pytest.mark.parametrize("scenario", ["scale", "offset"])
def test_scale_and_offset(scenario: str) -> None:
    truth, tm, inj = _inject(scenario, 0)
    j = tm.index[inj.pollutant or ""]
    for m in _window_minutes(tm, inj)[::13]:
        a, b = truth.minute(m).values[j], tm.minute(m).values[j]
        if scenario == "scale":
            assert 0.4 <= inj.detail["factor"] <= 0.7
            assert b == pytest.approx([c * inj.detail["factor"] for c in a])
        else:
            assert b == pytest.approx([max(0.0, c - inj.detail["delta"]) for c in a])
        # the process is unchanged
        assert truth.minute(m).values[0] == tm.minute(m).values[0]


def test_minute_hourly_and_real_time_frames_agree_inside_a_window() -> None:
    truth, tm, inj = _inject("scale", 0, hours=3, start=datetime(2026, 1, 7, 10, 0), pollutant="a21026")
    out, _ = FrameSource(tm, inj.start, rtd_interval=30).advance(inj.start + 3600)
    decoder = Decoder()
    frames = [f for o in out for f in decoder.feed(o.frame) if isinstance(f, Frame)]
    minutes = [f.items[5].number("ZsAvg") or 0.0 for f in frames if f.cn == "2051"]
    (hour,) = [f for f in frames if f.cn == "2061"]
    assert hour.items[5].code == "a21026" and len(minutes) == 60
    assert hour.items[5].number("ZsAvg") == pytest.approx(_mean(minutes), abs=0.01)
    plain = FrameSource(truth, inj.start, rtd_interval=None).advance(inj.start + 3600)[0]
    (plain_hour,) = [
        f for o in plain for f in decoder.feed(o.frame) if isinstance(f, Frame) and f.cn == "2061"
    ]
    ratio = (hour.items[5].number("ZsAvg") or 0.0) / (plain_hour.items[5].number("ZsAvg") or 1.0)
    assert ratio == pytest.approx(inj.detail["factor"], rel=0.002)
    rtd = [f.items[5].number("Rtd") or 0.0 for f in frames if f.cn == "2011"]
    assert min(rtd) >= (hour.items[5].number("Min") or 0.0) and max(rtd) <= (
        hour.items[5].number("Max") or 0.0
    )


def test_o2_ambient_and_o2_low() -> None:
    truth, tm, inj = _inject("o2_ambient", 0)
    o2 = tm.index["a19001"]
    for m in _window_minutes(tm, inj)[::11]:
        a, b = truth.minute(m), tm.minute(m)
        assert all(20.5 <= v <= 20.95 for v in b.values[o2])
        for j in tm.pollutants:
            assert max(b.values[j]) < 0.02 * tm.limits[tm.codes[j]]
            assert b.zs[j] == b.values[j]  # near-ambient O2: converted = measured
        assert b.values[:4] == a.values[:4] and set(b.flags) == {"N"}
    truth, tm, inj = _inject("o2_low", 2)
    for m in _window_minutes(tm, inj)[::11]:
        a, b = truth.minute(m), tm.minute(m)
        assert _mean(b.values[o2]) == pytest.approx(_mean(a.values[o2]) - inj.detail["delta"])
        for j in tm.pollutants:
            assert b.values[j] == a.values[j]
            assert _mean(b.zs[j] or ()) < _mean(a.zs[j] or ())


@pytest.mark.parametrize("index", [0, 1])
def test_clip_caps_a_hidden_exceedance(index: int) -> None:
    _, tm, inj = _inject("clip", index, hours=8)
    j = tm.index[inj.pollutant or ""]
    limit = tm.limits[inj.pollutant or ""]
    for m in _window_minutes(tm, inj):
        d = tm.minute(m)
        reported = d.zs[j] if d.zs[j] is not None else d.values[j]
        assert max(reported or ()) <= 1.03 * inj.detail["cap_ratio"] * limit
    (label,) = tm.labels()
    hidden = exceedance_hours(tm, inj.pollutant or "", inj.start, inj.end, lambda m: tm.hidden(inj, m))
    reported_hours = exceedance_hours(tm, inj.pollutant or "", inj.start, inj.end, tm.minute)
    assert len(label["hours"]) == len(hidden) >= 5 and reported_hours == []


def test_false_flag_flags_exceedances_away_from_the_calibration_time() -> None:
    truth, tm, inj = _inject("false_flag", 0, hours=60, start=datetime(2026, 1, 6))
    labels = tm.labels()
    assert len(labels) == len(inj.detail["episodes"]) >= 2
    j = tm.index[inj.pollutant or ""]
    for label, (off, length, flag, _) in zip(labels, inj.detail["episodes"], strict=True):
        a = inj.start + 60 * off
        assert (a % DAY) / 3600 >= 8 and (a % DAY + 60 * length) / 3600 <= 21
        assert 1 <= length / 60 <= 4
        d = tm.minute(a // 60 + 1)
        assert d.flags[j] == flag and d.flags[0] == "N"  # analysers flagged, the flow meter not
        assert label["detail"]["flag"] == flag and label["hours"]
        assert truth.minute(a // 60 + 1).flags[j] == "N"  # truly normal operation


def test_false_stop_replay_copy_point() -> None:
    truth, tm, inj = _inject("false_stop", 0)
    for m in _window_minutes(tm, inj)[::17]:
        a, b = truth.minute(m), tm.minute(m)
        assert set(b.flags) == {"F"} and b.values == a.values
    truth, tm, inj = _inject("replay", 1)
    back = inj.detail["days_back"]
    assert 1 <= back <= 6
    for m in range(inj.start // 60, inj.end // 60, 29):
        src = truth.minute(m - 1440 * back)
        assert (tm.minute(m).values, tm.minute(m).flags) == (src.values, src.flags)
    truth, tm, inj = _inject("copy_point", 0)
    donor = PointModel(next(p for p in points() if p.mn == inj.detail["source_mn"]), 1)
    for m in range(inj.start // 60, inj.end // 60, 29):
        assert tm.minute(m).values == donor.minute(m).values


def test_digits_are_round_and_constant_within_the_minute() -> None:
    for index in (0, 1):
        _, tm, inj = _inject("digits", index, hours=24)
        j = tm.index[inj.pollutant or ""]
        unit = inj.detail["unit"]
        fives = 0
        minutes = _window_minutes(tm, inj)
        for m in minutes:
            vals = tm.minute(m).values[j]
            assert len(set(vals)) == 1
            k = vals[0] / unit
            assert k == pytest.approx(round(k), abs=1e-6)
            fives += round(k) % 5 == 0
        assert fives > 0.5 * len(minutes)


def test_time_shift_and_twin_channels() -> None:
    truth, tm, inj = _inject("time_shift", 0)
    lag = inj.detail["lag_minutes"]
    o2 = tm.index["a19001"]
    for m in _window_minutes(tm, inj)[::23]:
        b, src, now = tm.minute(m), truth.minute(m - lag), truth.minute(m)
        if src.state == "N":
            assert b.values[o2] == src.values[o2] and b.values[0] == now.values[0]
    for index, source in ((0, "a01011"), (1, "w00000")):
        _, tm, inj = _inject("twin_channels", index)
        j, i = tm.index[inj.pollutant or ""], tm.index[source]
        for m in _window_minutes(tm, inj)[::23]:
            d = tm.minute(m)
            for c, v in zip(d.values[j], d.values[i], strict=True):
                assert c == pytest.approx(inj.detail["k"] * v, rel=0.01)


def test_gaps_high_load_drops_minute_frames_at_the_days_peak_only() -> None:
    truth, tm, inj = _inject("gaps_high_load", 0, hours=48, start=datetime(2026, 1, 6))
    start = inj.start - 6 * 3600
    plain = FrameSource(truth, start, rtd_interval=60).advance(inj.end + 6 * 3600)[0]
    cut = FrameSource(tm, start, rtd_interval=60).advance(inj.end + 6 * 3600)[0]
    kept = {o.qn for o in cut}
    lost = [o for o in plain if o.qn not in kept]
    assert {o.cn for o in lost} == {"2011", "2051"}
    assert all(inj.start <= o.at - (60 if o.cn == "2051" else 0) < inj.end for o in lost)
    minutes = [o for o in plain if o.cn == "2051" and inj.covers(o.at - 60)]
    share = sum(1 for o in lost if o.cn == "2051") / len(minutes)
    assert 0.2 < share < 0.3
    assert Counter(o.cn for o in cut)["2061"] == Counter(o.cn for o in plain)["2061"]  # hourly still sent


def test_exceedance_hours_lost_in_a_network_gap_are_marked_unreceived() -> None:
    """An exceedance hour whose hourly frame and more than 15 minute frames are lost never reaches a checker."""
    truth, tm, inj = _inject("exceedance", 0, hours=4, start=datetime(2026, 1, 7, 10, 20))
    (label,) = tm.labels()
    assert len(label["hours"]) >= 3 and label["hours_unreceived"] == []
    first = int(local_seconds(datetime.fromisoformat(label["hours"][1]).replace(tzinfo=None)))
    # frames are lost by production time: minutes 5… of the hour, and the hourly frame sent at its end
    gapped = TamperedModel(truth, [inj], gaps=[(first + 300, first + 3600 + 60)])
    (lost,) = gapped.labels()[:1]
    assert lost["hours"] == label["hours"] and lost["hours_unreceived"] == [label["hours"][1]]
    # a shorter gap leaves 45 minute frames (those sent up to 45 minutes into the hour): it can still be judged
    short = TamperedModel(truth, [inj], gaps=[(first + 2760, first + 3600 + 60)])
    assert short.labels()[0]["hours_unreceived"] == []


def test_exceedance_hours_are_exact() -> None:
    """The label's hours equal those computed from the decoded minute frames, as a checker would."""
    for index in (0, 1):
        _, tm, inj = _inject("exceedance", index, hours=4, start=datetime(2026, 1, 7, 10, 20))
        (label,) = tm.labels()
        assert label["category"] == "exceedance" and label["hours"]
        code = inj.pollutant or ""
        src = FrameSource(tm, inj.start - 3600, rtd_interval=None)
        out, _ = src.advance(inj.end + 7200)
        decoder = Decoder()
        per_hour: dict[str, list[float]] = {}
        for o in out:
            (f,) = decoder.feed(o.frame)
            assert isinstance(f, Frame)
            if f.cn != "2051":
                continue
            item = next(i for i in f.items if i.code == code)
            if item.values["Flag"] == "N":
                value = item.number("ZsAvg") if "ZsAvg" in item.values else item.number("Avg")
                assert value is not None
                per_hour.setdefault(o.data_time[:10], []).append(value)
        limit = tm.limits[code]
        found = [h for h, v in per_hour.items() if len(v) >= 45 and sum(v) / len(v) > limit]
        assert [h.replace("-", "").replace("T", "").replace(":", "")[:10] for h in label["hours"]] == found
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00\+08:00", h) for h in label["hours"])


# --------------------------------------------------------------------------------------------------------------
# planning


def test_tamper_random_assignment() -> None:
    pts = fleet_points(points(), 24, seed=3)
    models = [PointModel(p, 3) for p in pts]
    spans = {p.mn: SPAN for p in pts}
    injections = plan_injections(models, seed=3, spans=spans, random_k=1)
    tampering = [i for i in injections if i.category != "exceedance"]
    assert sorted(i.scenario for i in tampering) == sorted(
        n for n, s in SCENARIOS.items() if s.category != "exceedance"
    )
    assert len({i.mn for i in tampering}) == len(tampering)  # one scenario per point
    assert len(pts) - len(tampering) >= 0.2 * len(pts)
    by_mn = {m.point.mn: m for m in models}
    for i in tampering:
        if SCENARIOS[i.scenario].gas_only:
            assert by_mn[i.mn].medium == "gas"
        assert i.start >= SPAN[0] + 2 * DAY
    for i in (i for i in injections if i.category == "exceedance"):  # honest upsets avoid the tampering
        for t in (t for t in tampering if t.mn == i.mn):
            assert i.end <= t.start or i.start >= t.end
    assert injections == plan_injections(models, seed=3, spans=spans, random_k=1)
    with pytest.raises(TamperError, match="need at least"):
        plan_injections(models[:10], seed=3, spans=spans, random_k=1)


def test_tamper_random_in_a_fleet_too_small_for_k() -> None:
    pts = fleet_points(points(), 30, seed=1)
    models = [PointModel(p, 1) for p in pts]
    notes: list[str] = []
    injections = plan_injections(
        models, seed=1, spans={p.mn: SPAN for p in pts}, random_k=2, exceedance_rate=0.0, notes=notes
    )
    counts = Counter(i.scenario for i in injections)
    assert len(injections) == 24 == len({i.mn for i in injections})  # 80 % of 30, one scenario per point
    assert set(counts) == {n for n, s in SCENARIOS.items() if s.category != "exceedance"}
    assert set(counts.values()) == {1, 2}
    assert len(notes) == 1 and "needs 40 points" in notes[0]


def test_network_gaps_are_few_and_short() -> None:
    gaps = [g for d in range(1000) for g in network_gaps(1, "MN1", d)]
    assert 0.5 < len(gaps) / 1000 < 0.9
    assert all(600 <= b - a <= 7200 and a % 60 == 0 for a, b in gaps)
    assert max(Counter(a // DAY for a, _ in gaps).values()) <= 2


# --------------------------------------------------------------------------------------------------------------
# synthetic registry


def test_synthetic_registry() -> None:
    pts = synthetic_registry(40, seed=5)
    assert pts == synthetic_registry(40, seed=5) and pts[:10] == synthetic_registry(10, seed=5)
    assert len({p.mn for p in pts}) == 40
    assert {p.medium for p in pts} == {"gas", "water"}
    assert len({p.extra["process"] for p in pts}) >= 6
    for p in pts:
        assert re.fullmatch(r"010000B170A000[12][0-9A-F]{9}", p.mn)
        code = p.enterprise.credit_code or ""
        assert code == credit_code(code[2:8], code[8:16]) and code[2:8] == p.region
        assert p.limits and (p.reference_o2 is not None) == (p.medium == "gas")
        PointModel(p, 1)  # the simulator models it
    again = parse_registry(format_registry(pts, header="test\nregistry"))
    assert again == pts
    # demo credit codes satisfy the same check characters
    assert credit_code("210106", "691NJ19H") == "91210106691NJ19H24"


def test_format_registry_keeps_every_field() -> None:
    pts = points()
    text = format_registry(pts)
    assert parse_registry(text) == pts
    assert tomllib.loads(text)["point"][0]["process"] == "power_boiler"


# --------------------------------------------------------------------------------------------------------------
# offline generation and the command line


def _registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def _decode_log(path: Path) -> list[Frame]:
    decoder = Decoder()
    frames = []
    for line in path.read_bytes().splitlines(keepends=True):
        (ev,) = decoder.feed(line)
        assert isinstance(ev, Frame) and ev.crc_ok and not ev.warnings, ev
        frames.append(ev)
    return frames


def test_offline_log_parses_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "fleet.log"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--registry",
            str(_registry_file(tmp_path)),
            "--days",
            "1",
            "--start",
            "2026-01-05",
            "--no-gaps",
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    frames = _decode_log(out)
    counts = Counter(f.cn for f in frames)
    assert counts == {"2051": 3 * 1440, "2061": 3 * 24, "2031": 3}
    for mn in {f.mn for f in frames}:  # per-point order: data times never go back
        times = [f.data_time for f in frames if f.mn == mn and f.cn == "2051"]
        assert times == sorted(times) and len(set(times)) == 1440
    produced = [(f.qn or "")[:14] for f in frames]
    assert produced == sorted(produced)  # across points too: in production order (QN = production time)
    assert "wrote" in result.stderr


def test_offline_log_with_rtd_and_gaps(tmp_path: Path) -> None:
    plan = plan_fleet(points(), seed=2, start=datetime(2026, 1, 5), seconds=86400)
    full = generate_log(plan, tmp_path / "full.log", rtd_interval=60.0, gaps=False, jobs=1)
    assert full.frames == {"2011": 3 * 1441, "2031": 3, "2051": 3 * 1440, "2061": 3 * 24}
    result = generate_log(plan, tmp_path / "a.log", rtd_interval=60.0, gaps=True, jobs=1)
    gaps = [label for label in result.labels if label["scenario"] == "network_gap"]
    assert gaps and all(g["category"] == "honest" and g["pollutant"] is None for g in gaps)
    lost = sum(
        (datetime.fromisoformat(g["end"]) - datetime.fromisoformat(g["start"])).total_seconds() // 60
        for g in gaps
    )
    # every real-time and minute frame produced in a gap is lost (overlapping gaps of one point counted twice)
    missing = full.frames["2011"] + full.frames["2051"] - result.frames["2011"] - result.frames["2051"]
    assert 0 < missing <= 2 * lost
    assert sum(result.frames.values()) == len(_decode_log(tmp_path / "a.log"))


def test_offline_is_deterministic_whatever_the_workers(tmp_path: Path) -> None:
    def run(name: str, jobs: int) -> bytes:
        plan = plan_fleet(
            points(),
            seed=4,
            start=datetime(2026, 1, 5, 6, 30),
            seconds=5 * 3600,
            specs=[parse_spec(f"flat:{points()[0].mn}:2026-01-05T08:00:2")],
        )
        res = generate_log(plan, tmp_path / name, jobs=jobs)
        assert res.workers == jobs
        return (tmp_path / name).read_bytes()

    one = run("a.log", 1)
    assert one == run("b.log", 1) == run("c.log", 2)
    assert len(one) > 100_000


def test_cli_labels(tmp_path: Path) -> None:
    gas, water, kiln = (p.mn for p in points())
    labels = tmp_path / "labels.jsonl"
    args = [
        "simulate",
        "--out",
        str(tmp_path / "x.log"),
        "--registry",
        str(_registry_file(tmp_path)),
        "--days",
        "0.5",
        "--start",
        "2026-01-05T06:00",
        "--labels",
        str(labels),
        "--tamper",
        f"exceedance:{gas}:2026-01-05T09:10:2",
        "--tamper",
        f"false_stop:{water}:2026-01-05T10:00:1.5",
        "--tamper",
        f"clip/a21026:{kiln}:2026-01-05T12:00:3",
        "--jobs",
        "1",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    keys = {"mn", "scenario", "category", "pollutant", "start", "end", "detail"}
    for row in rows:
        assert keys <= row.keys() and row["category"] in ("tampering", "anomaly", "exceedance", "honest")
        assert datetime.fromisoformat(row["start"]) < datetime.fromisoformat(row["end"])
        assert row["start"].endswith("+08:00")
    by = {r["scenario"]: r for r in rows}
    assert by["exceedance"]["hours"] and by["exceedance"]["mn"] == gas
    assert by["false_stop"] == {
        "mn": water,
        "scenario": "false_stop",
        "category": "tampering",
        "pollutant": None,
        "start": "2026-01-05T10:00:00+08:00",
        "end": "2026-01-05T11:30:00+08:00",
        "detail": {},
    }
    assert by["clip"]["pollutant"] == "a21026" and by["clip"]["hours"]
    # the false stop is in the log: every minute frame of the water point in its window is flagged F
    flags = {
        f.data_time: {i.values.get("Flag") for i in f.items}
        for f in _decode_log(tmp_path / "x.log")
        if f.mn == water and f.cn == "2051" and "20260105100000" <= (f.data_time or "") < "20260105113000"
    }
    assert len(flags) == 90 and all(v == {"F"} for v in flags.values())


def test_cli_points_and_write_registry(tmp_path: Path) -> None:
    reg = tmp_path / "used.toml"
    out = tmp_path / "x.log"
    args = ["simulate", "--out", str(out), "--points", "24", "--days", "0.05", "--start", "2026-02-01"]
    result = runner.invoke(app, [*args, "--write-registry", str(reg), "--jobs", "2", "--tamper-random", "1"])
    assert result.exit_code == 0, result.output
    used = parse_registry(reg.read_text(encoding="utf-8"))
    assert len(used) == 24 and used[:19] == load_registry(demo_registry_path())
    assert {f.mn for f in _decode_log(out)} <= {p.mn for p in used}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tamper", "bogus:X"], "unknown scenario"),
        (["--tamper", "flat:NOSUCHMN"], "no such point"),
        (["--tamper-random", "3"], "need at least"),
    ],
)
def test_cli_refuses_bad_tampering(tmp_path: Path, extra: list[str], message: str) -> None:
    args = ["simulate", "--out", str(tmp_path / "x.log"), "--registry", str(_registry_file(tmp_path)), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr


def test_tcp_mode_accepts_tamper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --out the fleet runs over TCP with the tampered models (run_fleet is replaced to see them)."""
    seen: dict[str, Any] = {}

    async def fake_run_fleet(points: Any, host: str, port: int, **kw: Any) -> FleetStats:
        seen.update(kw, points=points)
        return FleetStats()

    monkeypatch.setattr("envtrust.sim.fleet.run_fleet", fake_run_fleet)
    gas = points()[0].mn
    labels = tmp_path / "l.jsonl"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--registry",
            str(_registry_file(tmp_path)),
            "--tamper",
            f"false_stop:{gas}",
            "--tamper",
            f"scale/a21026:{gas}:2026-03-02T09:00:5",
            "--start",
            "2026-03-02T08:00",
            "--days",
            "3",
            "--labels",
            str(labels),
            "--no-rtd",
            "--duration",
            "0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    model = seen["models"][gas]
    assert isinstance(model, TamperedModel) and [i.scenario for i in model.injections] == [
        "scale",
        "false_stop",
    ]
    assert not isinstance(seen["models"][points()[1].mn], TamperedModel)
    assert seen["rtd_interval"] == 0.0 and seen["start"] == datetime(2026, 3, 2, 8, 0)
    assert len(labels.read_text(encoding="utf-8").splitlines()) == 2


def test_tcp_fleet_sends_the_tampered_frames() -> None:
    gas = points()[0]
    start = datetime(2026, 3, 2, 8, 0)
    truth = PointModel(gas, 1)
    inj = resolve_spec(TamperSpec("false_stop", gas.mn, None, start, 2.0), truth, seed=1, span=SPAN, peers=[])
    host = Host()
    stats, _ = asyncio.run(
        _serve(
            host,
            points=[gas],
            seed=1,
            rtd_interval=0.0,
            speed=600.0,
            start=start,
            duration=1.5,
            outage_rate=0.0,
            models={gas.mn: TamperedModel(truth, [inj])},
        )
    )
    frames = [f for f in host.unique(gas.mn) if f.cn == "2051"]
    assert not stats.errors and len(frames) >= 5
    assert all({i.values["Flag"] for i in f.items} == {"F"} for f in frames)


def test_scenario_table_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, s in SCENARIOS.items():
        assert f"`{name}`" in doc and s.term in doc, name
