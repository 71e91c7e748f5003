"""Every check on synthetic data: honest data give no tampering or anomaly, each signature is found where it is."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from envtrust import qc
from envtrust.qc import PointData

from .conftest import START, make_gas, make_water

H = 60  # minutes per hour
DAY = 1440


def run(*points: PointData, only: str | None = None) -> list[qc.Finding]:
    return qc.run(points, qc.configure(only=[only] if only else None))


def found(findings: list[qc.Finding], check: str, lo: int, hi: int) -> list[qc.Finding]:
    """Findings of ``check`` overlapping minutes [lo, hi) of the synthetic series."""
    a, b = START + 60 * lo, START + 60 * hi
    return [f for f in findings if f.check == check and f.start < b and f.end > a]


@pytest.fixture(scope="module")
def honest() -> PointData:
    return make_gas(4)


def test_honest_data_raise_no_tampering_or_anomaly(honest: PointData) -> None:
    bad = [f for f in run(honest) if f.category in ("tampering", "anomaly")]
    assert bad == []


def test_findings_follow_the_shared_shape(honest: PointData) -> None:
    def edit(v: dict[str, np.ndarray], f: dict[str, np.ndarray], t: np.ndarray) -> None:
        v["a21026"][2000:2200] = 60.0

    f = run(make_gas(3, edit=edit))[0].to_json()
    assert set(f) == {
        "mn",
        "pollutant",
        "check",
        "category",
        "severity",
        "start",
        "end",
        "message",
        "evidence",
    }
    assert f["start"].endswith("+08:00")


Edit = Callable[[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray], None]


def scenario(edit: Edit, days: float = 4, **kw: object) -> list[qc.Finding]:
    return run(make_gas(days, edit=edit, **kw))  # type: ignore[arg-type]


def test_constant_values_are_tampering() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a21026"][3000:3100] = 17.3  # held value: no spread inside the minutes either
        v["~a21026"][3000:3100] = 0

    hits = found(scenario(edit), "flat_line", 3000, 3100)
    assert hits and hits[0].category == "tampering" and hits[0].pollutant == "a21026"
    assert hits[0].start <= START + 60 * 3065


def test_a_low_level_channel_alternating_for_hours_is_flat() -> None:
    """Ammonia nitrogen at a low level, where its noise (0.3 %) is below the 0.01 resolution, may repeat values
    honestly for an hour; alternating between two neighbouring values for four and a half hours is not."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["w21003"][3000:3270] = np.where(np.arange(270) % 2 == 0, 1.3, 1.31)  # usual level 4.5, noise 0.3 %

    pd = make_water(4, edit=edit)
    hits = [f for f in run(pd) if f.check == "flat_line" and f.pollutant == "w21003"]
    assert [(f.start <= START + 60 * 3005, f.end >= START + 60 * 3265) for f in hits] == [(True, True)]


def test_values_alternating_within_the_resolution_are_flat() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a21002"][3000:3100] = np.where(np.arange(100) % 2 == 0, 22.1, 22.11)
        v["~a21002"][3000:3100] = 0

    assert found(scenario(edit), "flat_line", 3000, 3100)


def test_smoothed_data_collapse_the_variance() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        x = v["a21002"]
        smooth = np.convolve(x, np.ones(60) / 60, "same")
        x[3000:3400] = smooth[3000:3400]
        v["~a21002"][3000:3400] = 0

    hits = found(scenario(edit), "low_variance", 3000, 3400)
    assert hits and hits[0].category == "tampering"


def test_smoothing_is_found_from_the_minute_values_alone() -> None:
    """A 30-minute moving average that leaves the reported minute Min/Max alone: the second differences of the
    minute values (the measurement noise) collapse, whatever the process does meanwhile."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        x = v["a21026"]
        smooth = np.convolve(x, np.ones(30) / 30)[: x.size]
        x[2 * DAY : 2 * DAY + 5 * H] = smooth[2 * DAY : 2 * DAY + 5 * H]

    hits = found(scenario(edit), "low_variance", 2 * DAY, 2 * DAY + 5 * H)
    assert [h.pollutant for h in hits] == ["a21026"] and hits[0].category == "tampering"
    shares = hits[0].evidence["share_of_typical"]
    assert shares["second_difference"] < 1 / 3 < shares["minute_spread"]  # the spreads were left alone


def test_smoothing_on_a_water_point_whose_level_wanders() -> None:
    """Water quality wanders by itself much more than the analyser's noise: the minute-to-minute change keeps
    most of that movement under a moving average, the second difference does not."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        x = v["w21003"]
        smooth = np.convolve(x, np.ones(45) / 45)[: x.size]
        x[3 * DAY : 3 * DAY + 8 * H] = smooth[3 * DAY : 3 * DAY + 8 * H]

    findings = run(make_water(6, edit=edit))
    hits = found(findings, "low_variance", 3 * DAY, 3 * DAY + 8 * H)
    assert [h.pollutant for h in hits] == ["w21003"]
    assert [f for f in findings if f.category in ("tampering", "anomaly") and f not in hits] == []


def test_smoothing_below_the_resolution_shows_in_the_minute_spread() -> None:
    """TP moves by less than its reporting step from one minute to the next, so its minute values cannot show a
    moving average; the logger's minute Min and Max can: they vary by about a step in a live analyser and collapse
    onto the average in fabricated minutes."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        x = v["w21011"]
        smooth = np.convolve(x, np.ones(45) / 45)[: x.size]
        x[3 * DAY : 3 * DAY + 8 * H] = smooth[3 * DAY : 3 * DAY + 8 * H]
        v["~w21011"][3 * DAY : 3 * DAY + 8 * H] = 0.0

    findings = run(make_water(6, edit=edit, spread=0.015))
    hits = found(findings, "low_variance", 3 * DAY, 3 * DAY + 8 * H)
    assert [h.pollutant for h in hits] == ["w21011"]
    assert hits[0].evidence["share_of_typical"]["minute_spread"] < 0.1
    assert [f for f in findings if f.category in ("tampering", "anomaly") and f not in hits] == []


def test_honest_water_point_raises_no_tampering_or_anomaly() -> None:
    """Independent wandering of four pollutants, channels whose noise is below the reporting resolution (TP)."""
    for spread in (None, 0.015):
        bad = [
            f for f in run(make_water(10, seed=3, spread=spread)) if f.category in ("tampering", "anomaly")
        ]
        assert bad == []


def test_load_changes_move_every_channel_and_are_not_tampering() -> None:
    """A day at half load, a slow ramp and a quiet night: flow and every pollutant move together, so ratios stay
    and the noise scales with the level."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        factor = np.ones(t.size)
        factor[2 * DAY : 3 * DAY] = 0.5
        factor[3 * DAY : 3 * DAY + 6 * H] = np.linspace(0.5, 1.0, 6 * H)
        factor[5 * DAY : 5 * DAY + 8 * H] = 0.7
        v["a19001"] += 4.0 * v["a00000"] / 300 * (1 - factor)  # more excess air at lower load
        for c in ("a00000", "a01011", "a21026", "a21002", "a34013"):
            v[c] *= factor

    findings = scenario(edit, 7)
    assert [f for f in findings if f.check in ("ratio_shift", "low_variance")] == []
    assert [f for f in findings if f.category == "tampering"] == []


def test_a_genuine_upset_of_one_pollutant_is_not_tampering() -> None:
    """One pollutant rising alone to three times its level for six hours (a process upset, flags N) is an
    exceedance, not a ratio shift: tampering lowers what is reported."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        ramp = np.ones(t.size)
        a = 3 * DAY + 10 * H
        ramp[a : a + 6 * H] = 3.0
        ramp[a - 10 : a] = np.linspace(1.0, 3.0, 10)
        ramp[a + 6 * H : a + 6 * H + 10] = np.linspace(3.0, 1.0, 10)
        v["a21026"] *= ramp

    findings = scenario(edit, 7)
    assert [f for f in findings if f.category == "tampering"] == []
    assert [f for f in findings if f.check == "exceedance_hour"]


def test_slope_tampering_shifts_the_ratio_to_every_other_channel() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a21026"][4 * DAY : 5 * DAY + 12 * H] *= 0.55

    hits = found(scenario(edit, 7), "ratio_shift", 4 * DAY, 5 * DAY + 12 * H)
    assert [h.pollutant for h in hits] == ["a21026"]
    assert hits[0].evidence["direction"] == "down"


def test_intercept_tampering_lowers_the_ratio_to_every_other_channel() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        x = v["a21002"]
        x[3 * DAY + 5 * H : 5 * DAY] = np.maximum(0.0, x[3 * DAY + 5 * H : 5 * DAY] - 0.4 * np.median(x))

    hits = found(scenario(edit, 8), "ratio_shift", 3 * DAY + 5 * H, 5 * DAY)
    assert [h.pollutant for h in hits] == ["a21002"]
    assert hits[0].evidence["direction"] == "down"
    # the stretch is placed within a few hours of the truth
    assert abs(hits[0].start - (START + 60 * (3 * DAY + 5 * H))) <= 4 * 3600
    assert abs(hits[0].end - (START + 60 * 5 * DAY)) <= 4 * 3600


def test_a_milder_slope_change_lasting_to_the_end_of_the_data() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a34013"][5 * DAY :] *= 0.78

    hits = found(scenario(edit, 7), "ratio_shift", 5 * DAY, 7 * DAY)
    assert [h.pollutant for h in hits] == ["a34013"] and hits[0].end == START + 60 * 7 * DAY


@pytest.mark.parametrize("code", ["w01018", "w21003", "w21011", "w21001"])
def test_slope_tampering_on_a_water_point_whose_pollutants_wander_apart(code: str) -> None:
    """Waste-water pollutants vary independently of each other: the ratios are noisy, and the step is judged
    against the point's own noise of the step statistic."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v[code][3 * DAY : 5 * DAY] *= 0.7

    findings = run(make_water(8, edit=edit), only="ratio_shift")
    assert [(h.pollutant, h.evidence["direction"]) for h in findings] == [(code, "down")]
    assert found(findings, "ratio_shift", 3 * DAY, 5 * DAY)


def test_room_air_while_running() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a19001"][3000:3090] = 20.8
        v["a21026"][3000:3090] = 0.1

    hits = found(scenario(edit), "o2_ambient", 3000, 3090)
    assert hits and hits[0].category == "tampering"


def test_understated_o2() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a19001"][3 * DAY : 3 * DAY + 12 * H] -= 3.0

    hits = found(scenario(edit, 5), "o2_shift", 3 * DAY, 3 * DAY + 12 * H)
    assert hits and hits[0].evidence["drop_points"] > 2


def test_values_capped_under_the_limit() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(5)
        v["a19001"][3000:3600] = 6.0
        v["a21026"][3000:3600] = 35 * 0.95 * (1 + rng.normal(0, 0.005, 600))

    hits = found(scenario(edit), "limit_bunching", 3000, 3600)
    assert hits and hits[0].category == "tampering"


def test_calibration_flags_over_process_data_above_the_limit() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        # routine: zero then span plateaus at 02:00 every day
        for d in range(4):
            a = d * DAY + 120
            f["a21026"][a : a + 20] = "C"
            v["a21026"][a : a + 10] = 0.2
            v["a21026"][a + 10 : a + 20] = 70.0
        # cover: process data above the limit flagged C in the afternoon
        f["a21026"][2 * DAY + 900 : 2 * DAY + 1020] = "C"
        v["a21026"][2 * DAY + 900 : 2 * DAY + 1020] *= 3.0

    hits = [h for h in scenario(edit) if h.check == "flag_cover"]
    assert len(hits) == 1 and hits[0].start == START + 60 * (2 * DAY + 900)


def test_stopped_flag_while_running() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in f:
            f[c][3000:3200] = "F"

    hits = found(scenario(edit), "stop_while_running", 3000, 3200)
    assert hits and hits[0].category == "tampering"


def test_honest_shutdown_is_not_stop_while_running() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in f:
            f[c][3000:3300] = "F"
        v["a00000"][3000:3300] = 3.0
        v["a01011"][3000:3300] = 0.15
        v["a19001"][3000:3300] = 20.8

    assert [h for h in scenario(edit) if h.category in ("tampering", "anomaly")] == []


def test_replayed_period_names_its_source() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in v:
            v[c][4000:4300] = v[c][4000 - DAY : 4300 - DAY]

    hits = found(scenario(edit), "replay", 4000, 4300)
    assert hits and hits[0].evidence["offset_s"] == 86400


def test_a_replayed_maintenance_is_found_from_the_process_channels() -> None:
    """A replay of an earlier maintenance: the analysers are flagged M and read room air (nothing to match), but
    the flow, velocity and temperature of the record repeat exactly."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        src = slice(4000 - DAY, 4200 - DAY)
        for c in ("a21026", "a21002", "a34013"):
            f[c][src] = "M"
            v[c][src] = 0.0
        v["a19001"][src] = 20.9
        for c in v:
            v[c][4000:4200] = v[c][src]
        for c in f:
            f[c][4000:4200] = f[c][src]

    hits = found(scenario(edit), "replay", 4000, 4200)
    assert hits and hits[0].evidence["offset_s"] == 86400
    assert {"a00000", "a01012"} <= set(hits[0].evidence["channels"])


def test_data_copied_from_another_point() -> None:
    a = make_gas(3, seed=1, mn="A")

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in v:
            v[c][2000:2240] = copy_from[c][2000:2240]

    copy_from: dict[str, np.ndarray] = {}
    make_gas(3, seed=1, mn="A", edit=lambda v, f, t: copy_from.update({k: x.copy() for k, x in v.items()}))
    copy_from.update({k: np.zeros(1) for k in ()})
    b = make_gas(3, seed=2, mn="B", edit=edit, level=0.6)
    hits = [h for h in run(a, b) if h.check == "cross_point_copy"]
    assert {h.mn for h in hits} == {"B"}
    assert hits[0].evidence["other_mn"] == "A"


def test_a_copy_cut_by_gaps_at_its_source_names_only_the_copy() -> None:
    """The source point lost frames twice during the copy: the middle piece starts and ends next to the source's
    gaps, so it cannot tell by itself which point broke off; the first piece does, for the whole copy."""
    copy_from: dict[str, np.ndarray] = {}

    def gaps(v, f, t):  # type: ignore[no-untyped-def]
        for c in v:
            v[c][2100:2115] = np.nan
            v[c][2200:2215] = np.nan
        copy_from.update({k: x.copy() for k, x in v.items()})

    a = make_gas(3, seed=1, mn="A", edit=gaps)

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in v:
            v[c][2000:2300] = np.where(
                np.isnan(copy_from[c][2000:2300]), v[c][2000:2300], copy_from[c][2000:2300]
            )

    b = make_gas(3, seed=2, mn="B", edit=edit, level=0.6)
    hits = [h for h in run(a, b) if h.check == "cross_point_copy"]
    assert len(hits) >= 2 and {h.mn for h in hits} == {"B"}
    assert any(h.start >= START + 60 * 2115 and h.end <= START + 60 * 2200 for h in hits)


def test_hand_made_numbers() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(3)
        x = v["a21002"][3000:3720]
        v["a21002"][3000:3720] = np.round(x / 5 + rng.normal(0, 0.3, x.size)) * 5
        v["~a21002"][3000:3720] = 0

    hits = found(scenario(edit), "digit_preference", 3000, 3720)
    assert hits and hits[0].category == "tampering"


def test_gaps_at_high_load() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        flow = v["a00000"]
        for d in (2, 3):
            day = slice(d * DAY, (d + 1) * DAY)
            top = flow[day] > np.quantile(flow[day], 0.75)
            for c in v:
                v[c][day][top] = np.nan

    hits = found(scenario(edit, 5), "gap_load", 2 * DAY, 4 * DAY)
    assert hits and hits[0].category == "tampering"


def test_random_network_gaps_are_not_tampering() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(9)
        for start in rng.integers(0, 5 * DAY - 200, 12):
            for c in v:
                v[c][start : start + rng.integers(10, 120)] = np.nan

    hits = [h for h in scenario(edit, 5) if h.category in ("tampering", "anomaly")]
    assert hits == []


def test_unrelated_channels_moving_identically() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a34013"][3000:3720] = 0.4 * v["a01011"][3000:3720]

    hits = found(scenario(edit), "channel_twins", 3000, 3720)
    assert hits and hits[0].pollutant == "a34013" and hits[0].evidence["other"] in ("a00000", "a01011")


def test_a_spike_is_an_anomaly() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a21026"][3000] *= 8

    hits = found(scenario(edit), "spike", 3000, 3001)
    assert hits and hits[0].category == "anomaly"


def test_exceedance_hours_on_converted_valid_averages() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a21026"][2 * DAY + 600 : 2 * DAY + 780] = 60.0  # three hours at 60 mg/m³ (raw)
        v["a19001"][2 * DAY + 600 : 2 * DAY + 780] = 6.0  # at the reference O2: converted = raw

    hits = [h for h in scenario(edit) if h.check == "exceedance_hour"]
    assert len(hits) == 1
    assert [h["value"] for h in hits[0].evidence["hours"]] == [60.0, 60.0, 60.0]
    assert hits[0].category == "exceedance"


def test_an_hour_with_44_valid_minutes_is_invalid_and_never_exceeds() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a19001"][2 * DAY + 600 : 2 * DAY + 660] = 6.0
        v["a21026"][2 * DAY + 600 : 2 * DAY + 660] = 80.0
        f["a21026"][2 * DAY + 600 : 2 * DAY + 616] = "M"  # 16 minutes of maintenance: 44 valid

    findings = scenario(edit)
    assert not [h for h in findings if h.check == "exceedance_hour"]
    hv = found(findings, "hour_validity", 2 * DAY + 600, 2 * DAY + 660)
    assert hv and hv[0].evidence["valid_minutes"] == [44]


@pytest.mark.parametrize(
    ("lost", "hourly_flag", "judged"), [("missing", "N", True), ("M", "N", False), ("missing", "M", False)]
)
def test_an_hour_whose_minutes_were_lost_is_judged_on_the_loggers_hourly_value(
    lost: str, hourly_flag: str, judged: bool
) -> None:
    """31 minute frames of an exceeding hour arrive, the rest are lost in the network; the logger's hourly frame
    (2061) arrives with flag N and the hour's average: the hour is judged on it.  Not when the short minutes were
    flagged (maintenance is not a transmission loss) nor when the hourly value itself is not valid."""
    h0 = 2 * DAY + 600

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a19001"][h0 : h0 + 60] = 6.0
        v["a21026"][h0 : h0 + 60] = 80.0
        if lost == "missing":
            for c in v:
                if not c.startswith("~"):
                    v[c][h0 + 31 : h0 + 60] = np.nan
        else:
            f["a21026"][h0 + 31 : h0 + 60] = lost

    pd = make_gas(4, edit=edit)
    hours = qc.SeriesBuilder()
    t = START + 60 * h0
    hours.add(t, "a21026", 80.0, 70.0, 90.0, 80.0, hourly_flag, float(t + 3700))
    pd = PointData(pd.info, pd.minute, hours.build(3600))
    hits = [h for h in run(pd) if h.check == "exceedance_hour"]
    if not judged:
        assert not hits
        return
    [hit] = hits
    assert hit.start == t and hit.evidence["hours"] == [
        {"start": t, "value": 80.0, "valid_minutes": 60, "source": "hourly frame (2061)"}
    ]


def test_time_shift_against_the_process() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in ("a21026", "a21002", "a34013"):
            v[c][3 * DAY : 5 * DAY] = v[c][3 * DAY - 45 : 5 * DAY - 45]

    hits = found(scenario(edit, 6), "time_shift", 3 * DAY, 5 * DAY)
    assert hits and abs(hits[0].evidence["lag_minutes"]) >= 30


# ---------------------------------------------------------------------------------------------- 5-minute data
FIVE = 5  # minutes per value of the coarser minute data (HJ 212 CN 2051 sent every 5 minutes)


def test_honest_5_and_10_minute_data_raise_no_tampering_or_anomaly() -> None:
    for minutes in (5, 10):
        findings = run(make_gas(4, minutes=minutes), make_water(6, minutes=minutes, spread=0.01))
        assert [f for f in findings if f.category in ("tampering", "anomaly")] == [], minutes


def test_a_routine_calibration_sent_as_three_5_minute_values_is_not_a_cover() -> None:
    """A 15-minute zero-then-span calibration at 00:45 every day: sent every 5 minutes it is three values (zero,
    a mix of zero and span, span) whose steps do not look like plateaus and whose mean is above the limit; three
    values cannot show plateaus, so the episode's contents are not judged."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for d in range(4):
            a = d * DAY + 45
            f["a34013"][a : a + 15] = "C"
            v["a34013"][a : a + 7] = 0.3
            v["a34013"][a + 7 : a + 15] = 20.0

    assert [h for h in scenario(edit, minutes=FIVE) if h.check == "flag_cover"] == []
    assert [h for h in scenario(edit) if h.check == "flag_cover"] == []  # at 1 minute the plateaus show


def test_a_low_noise_channel_at_a_low_level_repeats_values_honestly_at_5_minutes() -> None:
    """TP whose spread and steps are above the resolution at its usual level falls to 0.15 for two hours: there
    its noise is below the resolution and its 5-minute values repeat; only an exact hold of three hours would
    count there."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        a = 3 * DAY + 2 * H
        v["w21011"][a : a + 2 * H] = 0.151 * (1 + np.random.default_rng(3).normal(0, 0.001, 2 * H))

    findings = run(make_water(6, edit=edit, spread=0.015, minutes=FIVE))
    assert [f for f in findings if f.category in ("tampering", "anomaly")] == []


def test_a_rise_over_10_minutes_is_not_an_abrupt_step_at_5_minutes() -> None:
    """A genuine exceedance ramps up over 10 minutes: at 5-minute data that is one or two steps of more than the
    level before it, which a ramp of the process explains."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        a = 2 * DAY + 10 * H + 3  # the ramp starts inside a slot: its steepest part lies in one step
        x = v["a21026"]
        x[a : a + 5 * H] *= np.minimum(1 + 9 * np.arange(1, 5 * H + 1) / 10, 10.0)

    hits = [h for h in scenario(edit, minutes=FIVE) if h.check in ("rate_of_change", "spike")]
    assert hits == []


def test_stopped_flag_at_night_on_a_water_point_at_5_minutes() -> None:
    """A waste-water outfall flagged stopped at night while its (low, night-time) flow goes on."""

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        a = 3 * DAY + 2 * H
        for c in f:
            f[c][a : a + 2 * H] = "F"

    hits = found(run(make_water(6, minutes=FIVE)), "stop_while_running", 0, 1)
    assert hits == []
    hits = found(run(make_water(6, edit=edit, minutes=FIVE)), "stop_while_running", 3 * DAY, 4 * DAY)
    assert hits and hits[0].category == "tampering"


def test_constant_values_and_smoothing_are_found_at_5_minutes() -> None:
    def edit(v, f, t):  # type: ignore[no-untyped-def]
        v["a21026"][3000:3240] = 17.37  # held value
        v["~a21026"][3000:3240] = 0
        x = v["a21002"]
        smooth = np.convolve(x, np.ones(60) / 60, "same")
        x[2 * DAY : 2 * DAY + 10 * H] = smooth[2 * DAY : 2 * DAY + 10 * H]
        v["~a21002"][2 * DAY : 2 * DAY + 10 * H] = 0.001

    findings = scenario(edit, minutes=FIVE)
    flat = found(findings, "flat_line", 3000, 3240)
    assert [h.pollutant for h in flat] == ["a21026"] and flat[0].category == "tampering"
    smooth = found(findings, "low_variance", 2 * DAY, 2 * DAY + 10 * H)
    assert [h.pollutant for h in smooth] == ["a21002"]
    assert [f for f in findings if f.category in ("tampering", "anomaly") and f not in flat + smooth] == []


def test_a_copy_starting_inside_a_5_minute_slot_names_only_the_copy() -> None:
    """The copy begins and ends two minutes into a 5-minute slot: that slot mixes both points and halves the
    step into the copy; the step over two slots still shows which point broke off."""
    copy_from: dict[str, np.ndarray] = {}
    a = make_gas(
        3,
        seed=1,
        mn="A",
        minutes=FIVE,
        edit=lambda v, f, t: copy_from.update({k: x.copy() for k, x in v.items()}),
    )

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in v:
            v[c][2002:2602] = copy_from[c][2002:2602]

    b = make_gas(3, seed=2, mn="B", edit=edit, level=0.97, minutes=FIVE)  # a level close to the source's
    hits = [h for h in run(a, b) if h.check == "cross_point_copy"]
    assert hits and {h.mn for h in hits} == {"B"}


def test_a_copy_between_plants_of_similar_levels_is_told_by_the_process_channels() -> None:
    """Both plants emit at the same level, so on 5-minute data the copied analysers break off from the copy's own
    data no more than from the source's; the copied flow of the smaller plant does."""
    copy_from: dict[str, np.ndarray] = {}
    a = make_gas(
        3,
        seed=1,
        mn="A",
        minutes=FIVE,
        edit=lambda v, f, t: copy_from.update({k: x.copy() for k, x in v.items()}),
    )

    def edit(v, f, t):  # type: ignore[no-untyped-def]
        for c in ("a00000", "a01011"):
            v[c] *= 1.6  # a bigger plant
        for c in v:
            v[c][2002:2602] = copy_from[c][2002:2602]

    b = make_gas(3, seed=2, mn="B", edit=edit, minutes=FIVE)
    hits = [h for h in run(a, b) if h.check == "cross_point_copy"]
    assert hits and {h.mn for h in hits} == {"B"}
