"""QA criteria, checks, comparisons, QAL3 CUSUM and out-of-control intervals (decision 0012 §2, §3, §6, §12)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from envtrust.qc.qa import (
    DEFAULT_CRITERIA,
    T_975,
    Blocked,
    CheckKind,
    Criteria,
    QaError,
    QaRecord,
    cusum,
    default_profile,
    evaluate_check,
    evaluate_comparison,
    grace_for,
    out_of_control,
    overdue,
    t_975,
    union,
)

C = Criteria.from_config()
CN = timezone(timedelta(hours=8))


def at(month: int, day: int, hour: int) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=CN).timestamp())


def code_of(excinfo: pytest.ExceptionInfo[QaError]) -> str:
    return excinfo.value.code


# ---------------------------------------------------------------------------------------------------------------
# Criteria, profiles


def test_default_criteria_are_json_and_the_digest_is_canonical_sha256() -> None:
    text = json.dumps(C.config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert C.digest == hashlib.sha256(text.encode()).hexdigest()
    assert json.loads(json.dumps(DEFAULT_CRITERIA)) == json.loads(text)
    assert Criteria.from_config().digest == C.digest == Criteria.from_config({}).digest
    gas = ["so2", "nox", "pm", "o2", "gas", "velocity", "temperature", "humidity"]
    water = ["cod", "nh3n", "tp", "tn", "ph", "temperature", "flow"]
    assert C.profile_names() == sorted([f"hj75/{g}" for g in gas] + [f"hj355/{w}" for w in water])


def test_override_changes_one_profile_only_and_the_digest() -> None:
    c2 = Criteria.from_config({"profiles": {"hj75/so2": {"checks": {"zero": {"technical": 2.0}}}}})
    assert c2.digest != C.digest
    assert c2.profile("hj75/so2").check("zero").technical == 2.0  # type: ignore[union-attr]
    # the default tables share nothing: NOx (same gas row) is untouched
    assert c2.profile("hj75/nox").check("zero").technical == 2.5  # type: ignore[union-attr]
    args = {"reference": 0.0, "reading": 2.2, "range_low": 0.0, "range_high": 100.0}
    assert evaluate_check(C, "hj75/so2", "zero", **args).verdict == "pass"
    assert evaluate_check(c2, "hj75/so2", "zero", **args).verdict == "adjust"
    # whole numbers and decimals give one digest
    a = Criteria.from_config({"profiles": {"hj75/so2": {"checks": {"zero": {"technical": 3}}}}})
    b = Criteria.from_config({"profiles": {"hj75/so2": {"checks": {"zero": {"technical": 3.0}}}}})
    assert a.digest == b.digest
    # lists (bands) replace wholesale
    c3 = Criteria.from_config(
        {
            "profiles": {
                "hj75/temperature": {
                    "comparison": {"bands": [{"max": None, "metric": "absolute", "limit": 2}]}
                }
            }
        }
    )
    assert c3.profile("hj75/temperature").comparison.bands[0].limit == 2.0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"foo": 1}, "unknown key(s) foo"),
        ({"profiles": {"hj75/so2": {"checks": {"zero": {"tecnical": 2}}}}}, "profiles.hj75/so2.checks.zero"),
        ({"profiles": {"hj75/so2": {"checks": {"zero": {"technical": "2.5"}}}}}, "expected a number"),
        ({"profiles": {"hj75/so2": {"checks": {"zero": {"technical": True}}}}}, "expected a number"),
        ({"profiles": {"hj75/so2": {"checks": {"zero": {"technical": -1}}}}}, "expected a number > 0"),
        ({"profiles": {"hj75/so2": {"checks": {"zero": {"out_of_control": 2}}}}}, "below the technical"),
        ({"profiles": {"hj75/so2": {"checks": {"drift": {}}}}}, "unknown key(s) drift"),
        ({"profiles": {"hj75/so2": {"medium": "air"}}}, "expected one of gas, water"),
        ({"profiles": {"hj75/so2": {"comparison": {"min_pairs": 1}}}}, "min_pairs"),
        ({"profiles": {"hj75/so2": {"comparison": {"judge": "median"}}}}, "judge"),
        ({"profiles": {"hj75/so2": {"comparison": {"bands": []}}}}, "non-empty list"),
        (
            {"profiles": {"hj75/so2": {"comparison": {"bands": [{"max": 5, "metric": "ra", "limit": 15}]}}}},
            "null in the last band",
        ),
        (
            {
                "profiles": {
                    "hj75/pm": {
                        "comparison": {
                            "bands": [
                                {"max": 20, "metric": "absolute", "limit": 5},
                                {"max": 10, "metric": "absolute", "limit": 6},
                                {"max": None, "metric": "relative", "limit": 15},
                            ]
                        }
                    }
                }
            },
            "must increase",
        ),
        # water pairs are judged one by one: no RA
        (
            {
                "profiles": {
                    "hj355/ph": {"comparison": {"bands": [{"max": None, "metric": "ra", "limit": 15}]}}
                }
            },
            "metric",
        ),
        ({"cusum": {"h_x": 0}}, "cusum.h_x"),
        ({"rounding": {"check_decimals": 1.5}}, "rounding.check_decimals"),
        ({"profiles": {"new/co": {"medium": "gas"}}}, "missing key(s)"),
        ({"profiles": []}, "expected a table"),
    ],
)
def test_bad_criteria_are_refused_with_the_path(overrides: dict[str, object], needle: str) -> None:
    with pytest.raises(QaError) as e:
        Criteria.from_config(overrides)
    assert e.value.code == "bad_criteria"
    assert needle in e.value.message_en
    assert e.value.message_zh.startswith("质控判据配置错误")


def test_profiles_can_be_removed_and_added() -> None:
    new = json.loads(json.dumps(DEFAULT_CRITERIA["profiles"]["hj75/gas"]))
    new["parameter"] = "co"
    c2 = Criteria.from_config({"profiles": {"hj75/gas": None, "local/co": new}})
    assert "hj75/gas" not in c2.profile_names() and "local/co" in c2.profile_names()
    with pytest.raises(QaError) as e:
        c2.profile("hj75/gas")
    assert e.value.code == "unknown_profile"
    assert str(e.value) == f"{e.value.message_zh} | {e.value.message_en}"
    assert isinstance(e.value, ValueError)


def test_profile_intervals_checks_and_default_s_ams() -> None:
    so2, pm, vel = C.profile("hj75/so2"), C.profile("hj75/pm"), C.profile("hj75/velocity")
    assert (so2.medium, so2.parameter, so2.checks()) == ("gas", "so2", ("zero", "span"))
    assert so2.interval_h("zero", True) == 24 and so2.interval_h("span", False) == 7 * 24
    assert pm.interval_h("span", False) == 15 * 24 and vel.interval_h("zero", False) == 30 * 24
    assert vel.checks() == ("zero",) and vel.interval_h("span", True) is None
    assert so2.interval_h("comparison", True) == 184 * 24 and so2.interval_h("comparison", False) == 92 * 24
    assert C.profile("hj75/temperature").checks() == () == C.profile("hj75/humidity").checks()
    assert C.profile("hj75/temperature").interval_h("zero", True) is None
    cod = C.profile("hj355/cod")
    assert cod.checks() == ("standard",) and cod.interval_h("standard", True) == 24
    assert cod.interval_h("comparison", True) == 31 * 24 and cod.medium == "water"
    assert so2.default_s_ams("span") == pytest.approx(2.5 / 3)
    assert pm.default_s_ams("zero") == pytest.approx(2.0 / 3)
    assert cod.default_s_ams("standard") == pytest.approx(10 / 3)
    assert C.profile("hj355/ph").default_s_ams("standard") == pytest.approx(0.1 / 3)
    assert so2.default_s_ams("standard") is None
    c2 = Criteria.from_config({"profiles": {"hj75/so2": {"checks": {"span": {"s_ams": 0.5}}}}})
    assert c2.profile("hj75/so2").default_s_ams("span") == 0.5
    assert C.cusum_parameters() == {"h_x": 2.85, "k_x": 0.501, "h_s": 6.9, "k_s": 1.85}


@pytest.mark.parametrize(
    ("code", "medium", "profile"),
    [
        ("a21026", "gas", "hj75/so2"),
        ("a21002", "gas", "hj75/nox"),
        ("a34013", "gas", "hj75/pm"),
        ("a19001", "gas", "hj75/o2"),
        ("a01011", "gas", "hj75/velocity"),
        ("a01012", "gas", "hj75/temperature"),
        ("a01014", "gas", "hj75/humidity"),
        ("a21005", "gas", "hj75/gas"),
        ("a24088", "gas", "hj75/gas"),
        ("a05001", "gas", "hj75/gas"),
        ("w01018", "water", "hj355/cod"),
        ("w01020", "water", "hj355/cod"),
        ("w21003", "water", "hj355/nh3n"),
        ("w21011", "water", "hj355/tp"),
        ("w21001", "water", "hj355/tn"),
        ("w01001", "water", "hj355/ph"),
        ("w01010", "water", "hj355/temperature"),
        ("w00000", "water", "hj355/flow"),
        ("a00000", "gas", None),
        ("w01019", "water", None),
        ("a21026", "water", None),
        ("w21003", "gas", None),
        ("a01013", "gas", None),
    ],
)
def test_default_profile(code: str, medium: str, profile: str | None) -> None:
    assert default_profile(code, medium) == profile
    if profile is not None:
        C.profile(profile)


# ---------------------------------------------------------------------------------------------------------------
# Zero / span / standard checks (§2.1, §2.3)

DRIFT_ROWS = [
    ("hj75/so2", "zero", 2.5, 5.0),
    ("hj75/so2", "span", 2.5, 10.0),
    ("hj75/nox", "zero", 2.5, 5.0),
    ("hj75/nox", "span", 2.5, 10.0),
    ("hj75/pm", "zero", 2.0, 8.0),
    ("hj75/pm", "span", 2.0, 8.0),
    ("hj75/o2", "zero", 2.5, 5.0),
    ("hj75/o2", "span", 2.5, 10.0),
    ("hj75/gas", "zero", 2.5, 5.0),
    ("hj75/gas", "span", 2.5, 10.0),
    ("hj75/velocity", "zero", 3.0, 8.0),
]


@pytest.mark.parametrize(("profile", "kind", "tech", "ooc"), DRIFT_ROWS)
@pytest.mark.parametrize("sign", [1, -1])
def test_drift_limits_at_and_just_beyond_their_edges(
    profile: str, kind: CheckKind, tech: float, ooc: float, sign: int
) -> None:
    ref = 0.0 if kind == "zero" else 40.0
    for drift, verdict in ((tech, "pass"), (tech + 0.01, "adjust"), (ooc, "adjust"), (ooc + 0.01, "fail")):
        r = evaluate_check(
            C, profile, kind, reference=ref, reading=ref + sign * drift, range_low=0.0, range_high=100.0
        )
        assert r.value == pytest.approx(sign * drift) and r.verdict == verdict, (profile, kind, drift)
        assert (r.unit, r.technical_limit, r.out_of_control_limit) == ("%FS", tech, ooc)


def test_drift_is_in_percent_of_the_registered_range_and_rounded_to_001() -> None:
    r = evaluate_check(C, "hj75/so2", "span", reference=400.0, reading=410.0, range_low=0.0, range_high=500.0)
    assert (r.value, r.verdict) == (2.0, "pass")
    r = evaluate_check(
        C, "hj75/so2", "span", reference=400.0, reading=412.52, range_low=0.0, range_high=500.0
    )
    assert (r.value, r.verdict) == (2.5, "pass")  # 2.504 % rounds to 2.50 [D]
    r = evaluate_check(
        C, "hj75/so2", "span", reference=400.0, reading=412.53, range_low=0.0, range_high=500.0
    )
    assert (r.value, r.verdict) == (2.51, "adjust")
    r = evaluate_check(C, "hj75/so2", "zero", reference=0.0, reading=5.0, range_low=-50.0, range_high=50.0)
    assert r.value == 5.0  # F.S. = high − low


def test_check_reasons_name_the_numbers() -> None:
    r = evaluate_check(C, "hj75/so2", "zero", reference=0.0, reading=-6.0, range_low=0.0, range_high=100.0)
    assert r.verdict == "fail"
    assert r.reason_zh.startswith("零点漂移 -6.0% F.S.，超出失控限 ±5.0%")
    assert r.reason_en.startswith("zero drift -6.0 % F.S., beyond the out-of-control limit ±5.0 %")
    r = evaluate_check(C, "hj75/so2", "span", reference=50.0, reading=53.0, range_low=0.0, range_high=100.0)
    assert r.verdict == "adjust" and "±2.5" in r.reason_en and "±10.0" in r.reason_en and "3.0" in r.reason_zh
    r = evaluate_check(
        C, "hj355/cod", "standard", reference=20.0, reading=22.4, range_low=0.0, range_high=200.0
    )
    assert r.reason_zh == "标样核查相对误差 12.0%，超出 ±10.0%"
    assert r.reason_en == "standard check relative error 12.0 %, beyond ±10.0 %"


@pytest.mark.parametrize("profile", ["hj355/cod", "hj355/nh3n", "hj355/tp", "hj355/tn"])
def test_water_standard_check_is_plus_minus_10_percent_pass_or_fail(profile: str) -> None:
    def verdict(reading: float) -> str:
        r = evaluate_check(
            C, profile, "standard", reference=20.0, reading=reading, range_low=0.0, range_high=100.0
        )
        assert r.unit == "%" and r.technical_limit == r.out_of_control_limit == 10.0
        return r.verdict

    assert [verdict(x) for x in (22.0, 22.002, 18.0, 17.998, 20.0)] == [
        "pass",
        "fail",
        "pass",
        "fail",
        "pass",
    ]


def test_ph_standard_check_is_plus_minus_01_ph() -> None:
    def check(reading: float) -> tuple[float, str]:
        r = evaluate_check(
            C, "hj355/ph", "standard", reference=6.86, reading=reading, range_low=0.0, range_high=14.0
        )
        assert r.unit == "pH"
        return r.value, r.verdict

    assert check(6.96) == (0.1, "pass")
    assert check(6.97) == (0.11, "fail")
    assert check(6.76) == (-0.1, "pass")
    assert check(6.75) == (-0.11, "fail")


def test_check_errors() -> None:
    ok = {"reference": 1.0, "reading": 1.0, "range_low": 0.0, "range_high": 10.0}
    for profile, kind in (("hj75/velocity", "span"), ("hj75/temperature", "zero"), ("hj355/cod", "zero")):
        with pytest.raises(QaError) as e:
            evaluate_check(C, profile, kind, **ok)  # type: ignore[arg-type]
        assert e.value.code == "no_criteria"
    with pytest.raises(QaError) as e:
        evaluate_check(C, "hj75/so2", "zero", **{**ok, "range_high": 0.0})
    assert e.value.code == "bad_range"
    for bad in (math.nan, math.inf):
        with pytest.raises(QaError) as e:
            evaluate_check(C, "hj75/so2", "zero", **{**ok, "reading": bad})
        assert e.value.code == "bad_value"
    with pytest.raises(QaError) as e:
        evaluate_check(C, "hj355/cod", "standard", **{**ok, "reference": 0.0})
    assert e.value.code == "zero_reference"
    with pytest.raises(QaError) as e:
        evaluate_check(C, "hj75/nope", "zero", **ok)
    assert e.value.code == "unknown_profile"


# ---------------------------------------------------------------------------------------------------------------
# Comparisons (§2.2, §2.3)

MIN_PAIRS = {"hj75/so2": 9, "hj75/nox": 9, "hj75/o2": 9, "hj75/gas": 9, "hj75/pm": 5, "hj75/velocity": 5}
MIN_PAIRS |= {"hj75/temperature": 5, "hj75/humidity": 5}


def same(profile: str, rm: float, cems: float) -> list[tuple[float, float]]:
    return [(rm, cems)] * MIN_PAIRS.get(profile, 3)


BAND_ROWS = [
    ("hj75/so2", 56.99, "absolute", 17.0, "RM < 57 mg/m³"),
    ("hj75/so2", 57.0, "relative", 30.0, "57 ≤ RM < 143 mg/m³"),
    ("hj75/so2", 142.99, "relative", 30.0, None),
    ("hj75/so2", 143.0, "absolute", 57.0, "143 ≤ RM < 715 mg/m³"),
    ("hj75/so2", 714.99, "absolute", 57.0, None),
    ("hj75/so2", 715.0, "ra", 15.0, "RM ≥ 715 mg/m³"),
    ("hj75/nox", 40.99, "absolute", 12.0, None),
    ("hj75/nox", 41.0, "relative", 30.0, None),
    ("hj75/nox", 102.99, "relative", 30.0, None),
    ("hj75/nox", 103.0, "absolute", 41.0, None),
    ("hj75/nox", 512.99, "absolute", 41.0, None),
    ("hj75/nox", 513.0, "ra", 15.0, None),
    ("hj75/pm", 10.0, "absolute", 5.0, "RM ≤ 10 mg/m³"),
    ("hj75/pm", 10.01, "absolute", 6.0, "10 < RM ≤ 20 mg/m³"),
    ("hj75/pm", 20.0, "absolute", 6.0, None),
    ("hj75/pm", 20.01, "relative", 30.0, None),
    ("hj75/pm", 50.0, "relative", 30.0, None),
    ("hj75/pm", 50.01, "relative", 25.0, None),
    ("hj75/pm", 100.0, "relative", 25.0, None),
    ("hj75/pm", 100.01, "relative", 20.0, None),
    ("hj75/pm", 200.0, "relative", 20.0, None),
    ("hj75/pm", 200.01, "relative", 15.0, "RM > 200 mg/m³"),
    ("hj75/o2", 5.0, "absolute", 1.0, "RM ≤ 5 %"),
    ("hj75/o2", 5.01, "ra", 15.0, "RM > 5 %"),
    ("hj75/gas", 3.0, "ra", 15.0, "RM: all levels"),
    ("hj75/velocity", 10.0, "relative", 12.0, None),
    ("hj75/velocity", 10.01, "relative", 10.0, None),
    ("hj75/humidity", 5.0, "absolute", 1.5, None),
    ("hj75/humidity", 5.01, "relative", 25.0, None),
    ("hj75/temperature", 150.0, "absolute", 3.0, None),
]


@pytest.mark.parametrize(("profile", "rm", "metric", "limit", "band"), BAND_ROWS)
def test_comparison_band_edges(profile: str, rm: float, metric: str, limit: float, band: str | None) -> None:
    r = evaluate_comparison(C, profile, same(profile, rm, rm))
    assert (r.metric, r.limit, r.verdict, r.value) == (metric, limit, "pass", 0.0)
    assert (r.t_value is not None) == (metric == "ra")
    if band is not None:
        assert r.band == band


LIMIT_ROWS = [
    ("hj75/so2", 30.0, 47.0, "pass", 17.0),
    ("hj75/so2", 30.0, 47.01, "fail", 17.01),
    ("hj75/so2", 30.0, 13.0, "pass", -17.0),
    ("hj75/so2", 100.0, 130.0, "pass", 30.0),
    ("hj75/so2", 100.0, 130.1, "fail", 30.1),
    ("hj75/so2", 300.0, 357.0, "pass", 57.0),
    ("hj75/so2", 300.0, 242.99, "fail", -57.01),
    ("hj75/nox", 30.0, 42.0, "pass", 12.0),
    ("hj75/nox", 30.0, 42.1, "fail", 12.1),
    ("hj75/nox", 60.0, 78.0, "pass", 30.0),
    ("hj75/nox", 60.0, 78.1, "fail", 30.2),
    ("hj75/nox", 200.0, 241.0, "pass", 41.0),
    ("hj75/nox", 200.0, 241.1, "fail", 41.1),
    ("hj75/pm", 8.0, 13.0, "pass", 5.0),
    ("hj75/pm", 8.0, 14.0, "fail", 6.0),
    ("hj75/pm", 8.0, 13.4, "pass", 5.0),  # absolute errors rounded to PM's resolution (N4: 1 mg/m³) [D]
    ("hj75/pm", 8.0, 3.0, "pass", -5.0),
    ("hj75/pm", 15.0, 21.0, "pass", 6.0),
    ("hj75/pm", 15.0, 22.0, "fail", 7.0),
    ("hj75/pm", 40.0, 52.0, "pass", 30.0),
    ("hj75/pm", 40.0, 52.2, "fail", 30.5),
    ("hj75/pm", 80.0, 100.0, "pass", 25.0),
    ("hj75/pm", 80.0, 100.4, "fail", 25.5),
    ("hj75/pm", 150.0, 180.0, "pass", 20.0),
    ("hj75/pm", 150.0, 180.3, "fail", 20.2),
    ("hj75/pm", 300.0, 345.0, "pass", 15.0),
    ("hj75/pm", 300.0, 345.6, "fail", 15.2),
    ("hj75/o2", 4.0, 5.0, "pass", 1.0),
    ("hj75/o2", 4.0, 5.1, "fail", 1.1),
    ("hj75/velocity", 8.0, 8.96, "pass", 12.0),
    ("hj75/velocity", 8.0, 8.97, "fail", 12.1),
    ("hj75/velocity", 15.0, 16.5, "pass", 10.0),
    ("hj75/velocity", 15.0, 16.52, "fail", 10.1),
    ("hj75/humidity", 4.0, 5.5, "pass", 1.5),
    ("hj75/humidity", 4.0, 5.6, "fail", 1.6),
    ("hj75/humidity", 8.0, 10.0, "pass", 25.0),
    ("hj75/humidity", 8.0, 10.01, "fail", 25.1),
    ("hj75/temperature", 150.0, 153.0, "pass", 3.0),
    ("hj75/temperature", 150.0, 153.1, "fail", 3.1),
    ("hj75/gas", 100.0, 85.0, "pass", 15.0),  # RA with S_d = 0: |d̄| / RM̄
    ("hj75/gas", 100.0, 84.99, "fail", 15.01),
]


@pytest.mark.parametrize(("profile", "rm", "cems", "verdict", "value"), LIMIT_ROWS)
def test_comparison_criteria_at_and_just_beyond_the_limit(
    profile: str, rm: float, cems: float, verdict: str, value: float
) -> None:
    r = evaluate_comparison(C, profile, same(profile, rm, cems))
    assert (r.verdict, r.value) == (verdict, value)
    assert r.rm_mean == pytest.approx(rm) and r.cems_mean == pytest.approx(cems) and r.n == MIN_PAIRS[profile]


def test_qc_9_7_relative_accuracy_6_31_percent_with_t_2_306() -> None:
    # 9 runs, d̄ = 4, S_d = 3, RM̄ = 100 → cc = 2.306 · 3 / 3, RA = 6.306 % → 6.31 % (4 decimals as a fraction)
    d = [4 + 3 * k / math.sqrt(7.5) for k in range(-4, 5)]
    r = evaluate_comparison(C, "hj75/gas", [(100.0, 100.0 - x) for x in d])
    assert (r.metric, r.t_value, r.value, r.limit, r.verdict) == ("ra", 2.306, 6.31, 15.0, "pass")
    assert r.rm_mean == pytest.approx(100) and r.cems_mean == pytest.approx(96)
    assert "6.31%" in r.reason_zh and "t = 2.306" in r.reason_en and "n = 9" in r.reason_en


def test_ra_band_of_so2_uses_the_spread_of_the_differences() -> None:
    d = [4 + 3 * k / math.sqrt(7.5) for k in range(-4, 5)]
    r = evaluate_comparison(C, "hj75/so2", [(800.0, 800.0 - 25 * x) for x in d])
    # d̄ = 100, S_d = 75, cc = 2.306 · 75 / 3 = 57.65 → RA = 157.65 / 800 = 0.1970625 → 19.71 %
    assert (r.metric, r.value, r.verdict, r.band) == ("ra", 19.71, "fail", "RM ≥ 715 mg/m³")
    r = evaluate_comparison(C, "hj75/so2", [(800.0, 800.0 - 10 * x) for x in d])
    # d̄ = 40, S_d = 30, cc = 23.06 → RA = 63.06 / 800 = 0.078825 → 7.88 %
    assert (r.metric, r.value, r.verdict) == ("ra", 7.88, "pass")


def test_qc_9_8_so2_30_vs_44_passes_and_36_vs_60_fails() -> None:
    ok = evaluate_comparison(C, "hj75/so2", same("hj75/so2", 30.0, 44.0))
    assert (ok.metric, ok.value, ok.limit, ok.verdict, ok.band) == (
        "absolute",
        14.0,
        17.0,
        "pass",
        "RM < 57 mg/m³",
    )
    assert "绝对误差 14.0 mg/m³" in ok.reason_zh and "within ±17.0 mg/m³" in ok.reason_en
    bad = evaluate_comparison(C, "hj75/so2", same("hj75/so2", 36.0, 60.0))
    assert (bad.value, bad.verdict) == (24.0, "fail")
    assert "beyond ±17.0 mg/m³: fail" in bad.reason_en and "不合格" in bad.reason_zh


WATER_ROWS = [
    ("hj355/nh3n", 1.5, 1.75, "pass", "absolute", 0.25),
    ("hj355/nh3n", 5.0, 5.9, "fail", "relative", 18.0),
    ("hj355/nh3n", 1.99, 2.29, "pass", "absolute", 0.3),
    ("hj355/nh3n", 1.99, 2.3, "fail", "absolute", 0.31),
    ("hj355/nh3n", 2.0, 2.3, "pass", "relative", 15.0),
    ("hj355/nh3n", 2.0, 2.31, "fail", "relative", 15.5),
    ("hj355/tn", 1.0, 0.7, "pass", "absolute", -0.3),
    ("hj355/tn", 10.0, 11.6, "fail", "relative", 16.0),
    ("hj355/tp", 0.3, 0.34, "pass", "absolute", 0.04),
    ("hj355/tp", 0.3, 0.35, "fail", "absolute", 0.05),
    ("hj355/tp", 0.4, 0.46, "pass", "relative", 15.0),
    ("hj355/cod", 22.0, 27.0, "pass", "absolute", 5.0),  # < 30: a 20–25 mg/L standard, ±5 mg/L
    ("hj355/cod", 22.0, 27.1, "fail", "absolute", 5.1),
    ("hj355/cod", 29.9, 25.0, "pass", "absolute", -4.9),
    ("hj355/cod", 30.0, 39.0, "pass", "relative", 30.0),
    ("hj355/cod", 30.0, 39.1, "fail", "relative", 30.3),
    ("hj355/cod", 60.0, 72.0, "pass", "relative", 20.0),
    ("hj355/cod", 60.0, 72.1, "fail", "relative", 20.2),
    ("hj355/cod", 100.0, 115.0, "pass", "relative", 15.0),
    ("hj355/cod", 100.0, 115.1, "fail", "relative", 15.1),
    ("hj355/ph", 7.0, 7.5, "pass", "absolute", 0.5),
    ("hj355/ph", 7.0, 6.5, "pass", "absolute", -0.5),
    ("hj355/ph", 7.0, 7.51, "fail", "absolute", 0.51),
    ("hj355/temperature", 20.0, 20.5, "pass", "absolute", 0.5),
    ("hj355/temperature", 20.0, 20.6, "fail", "absolute", 0.6),
    ("hj355/flow", 100.0, 110.0, "pass", "relative", 10.0),
    ("hj355/flow", 100.0, 110.1, "fail", "relative", 10.1),
]


@pytest.mark.parametrize(("profile", "lab", "reading", "verdict", "metric", "value"), WATER_ROWS)
def test_water_comparison_rows(
    profile: str, lab: float, reading: float, verdict: str, metric: str, value: float
) -> None:
    r = evaluate_comparison(C, profile, [(lab, reading)] * 3)
    assert (r.verdict, r.metric, r.value) == (verdict, metric, value)


def test_water_pairs_are_judged_one_by_one_and_the_worst_is_reported() -> None:
    # the means agree exactly, one pair is off by 0.5 mg/L: fail (the stricter reading [D])
    r = evaluate_comparison(C, "hj355/nh3n", [(1.0, 1.5), (1.0, 0.5), (1.0, 1.0)])
    assert (r.rm_mean, r.cems_mean, r.verdict, r.value, r.limit) == (1.0, 1.0, "fail", 0.5, 0.3)
    assert "2 beyond" in r.reason_en and "2 对超出" in r.reason_zh
    # pairs in different bands: each judged in the band of its own lab value
    r = evaluate_comparison(C, "hj355/nh3n", [(1.0, 1.2), (4.0, 4.4), (10.0, 11.0)])
    assert (r.verdict, r.metric, r.value, r.limit) == ("pass", "absolute", 0.2, 0.3)
    assert r.band == "lab < 2 mg/L"
    r = evaluate_comparison(C, "hj355/nh3n", [(1.0, 1.2), (4.0, 4.4), (10.0, 11.6)])
    assert (r.verdict, r.metric, r.value, r.limit, r.band) == ("fail", "relative", 16.0, 15.0, "lab ≥ 2 mg/L")


def test_comparison_errors() -> None:
    with pytest.raises(QaError) as e:
        evaluate_comparison(C, "hj75/so2", [(30.0, 44.0)] * 8)
    assert (
        e.value.code == "too_few_pairs" and "at least 9" in e.value.message_en and "9" in e.value.message_zh
    )
    with pytest.raises(QaError) as e:
        evaluate_comparison(C, "hj355/cod", [(30.0, 34.0)] * 2)
    assert e.value.code == "too_few_pairs" and "at least 3" in e.value.message_en
    for profile in ("hj75/velocity", "hj75/gas", "hj355/flow"):
        with pytest.raises(QaError) as e:
            evaluate_comparison(C, profile, same(profile, 0.0, 1.0))
        assert e.value.code == "zero_reference"
    # zero RM in an absolute band is fine
    assert evaluate_comparison(C, "hj75/so2", same("hj75/so2", 0.0, 10.0)).verdict == "pass"
    with pytest.raises(QaError) as e:
        evaluate_comparison(C, "hj75/so2", [(30.0, math.nan)] * 9)
    assert e.value.code == "bad_value"


def _t_cdf(t: float, df: int) -> float:
    """P(T ≤ t) by Simpson's rule on the Student t density (a test oracle independent of the table)."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    n = 4000
    h = t / n
    s = sum(
        (1 if i in (0, n) else 4 if i % 2 else 2) * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2)
        for i in range(n + 1)
    )
    return float(0.5 + c * s * h / 3)


@pytest.mark.parametrize("df", range(1, 31))
def test_student_t_table_is_the_0975_quantile_to_three_decimals(df: int) -> None:
    t = T_975[df - 1]
    assert t_975(df) == t
    assert _t_cdf(t - 0.0006, df) < 0.975 < _t_cdf(t + 0.0006, df)


@pytest.mark.parametrize(("df", "t"), [(31, 2.0395), (40, 2.0211), (60, 2.0003), (120, 1.9799)])
def test_student_t_beyond_the_table(df: int, t: float) -> None:
    assert t_975(df) == pytest.approx(t, abs=0.001)
    assert t_975(8) == 2.306


# ---------------------------------------------------------------------------------------------------------------
# QAL3 CUSUM (§3)

S_GAS = 2.5 / 3  # default s_AMS of a gas span check


def test_cusum_decision_example_alarms_at_the_fourth_check_while_still_passing() -> None:
    steps = cusum([0.8, 1.2, 1.6, 2.0], S_GAS)
    assert [s.p for s in steps] == pytest.approx([0.38, 1.17, 2.35, 3.93], abs=0.005)
    assert [s.drift_alarm for s in steps] == [False, False, False, True]
    assert not any(s.precision_alarm for s in steps) and all(s.n == 0 for s in steps)
    assert steps[3].estimated_drift == pytest.approx(1.4)  # k_x + P/n_P = the mean deviation here
    assert [s.estimated_drift for s in steps[:3]] == [None, None, None]
    # §12 #7: these span checks all pass; +3.0 → adjust; zero −6 → fail
    for d in (0.8, 1.2, 1.6, 2.0):
        r = evaluate_check(
            C, "hj75/so2", "span", reference=50.0, reading=50 + d, range_low=0.0, range_high=100.0
        )
        assert r.verdict == "pass"
    kw = {"range_low": 0.0, "range_high": 100.0}
    assert evaluate_check(C, "hj75/so2", "span", reference=50.0, reading=53.0, **kw).verdict == "adjust"
    assert evaluate_check(C, "hj75/so2", "zero", reference=0.0, reading=-6.0, **kw).verdict == "fail"


def test_cusum_qc_9_6_sequence_alarms_at_the_second_check() -> None:
    steps = cusum([2.0, 2.8], S_GAS)
    assert not steps[0].precision_alarm and not steps[0].drift_alarm
    # S_2 = (4 − 1.285) + (7.84 − 1.285) = 9.27 > h_s = 4.79: precision first, the drift test is skipped ...
    assert steps[1].precision_alarm and not steps[1].drift_alarm
    assert steps[1].s == pytest.approx(4 + 7.84 - 2 * 1.85 * S_GAS**2)
    # ... though P_2 = 3.965 is beyond h_x = 2.375 (the sums are still updated [D])
    assert steps[1].p == pytest.approx(4.8 - 2 * 0.501 * S_GAS) and steps[1].p > 2.85 * S_GAS
    # with the precision test out of the way the drift test alarms at the 2nd check too
    only_drift = cusum([2.0, 2.8], S_GAS, h_s=1e9)
    assert [s.drift_alarm for s in only_drift] == [False, True]
    assert only_drift[1].estimated_drift == pytest.approx(2.4)


def test_cusum_negative_drift_and_estimate() -> None:
    steps = cusum([-1.0] * 5, S_GAS)
    assert all(s.p == 0 and s.s == 0 for s in steps)
    assert [s.n for s in steps] == pytest.approx([(1 - 0.501 * S_GAS) * k for k in range(1, 6)])
    first = next(s for s in steps if s.drift_alarm)
    assert first.index == 4 and first.estimated_drift == pytest.approx(-1.0)


def test_cusum_sums_continue_after_an_alarm_until_a_reset() -> None:
    devs = [2.0] * 6
    steps = cusum(devs, S_GAS, h_s=1e9)
    alarms = [s.drift_alarm for s in steps]
    assert alarms == [False, True, True, True, True, True]  # [D] continue: still out of QAL3 control
    assert all(b.p > a.p for a, b in itertools.pairwise(steps))
    resets = [False, False, False, True, False, False]  # e.g. the 4th check was adjusted
    steps = cusum(devs, S_GAS, h_s=1e9, resets=resets)
    assert [s.reset for s in steps] == resets
    assert [s.drift_alarm for s in steps] == [False, True, True, False, True, True]
    tail = cusum(devs[3:], S_GAS, h_s=1e9)
    assert [(s.s, s.p, s.n) for s in steps[3:]] == [(s.s, s.p, s.n) for s in tail]


def test_cusum_uses_criteria_parameters_and_rejects_bad_input() -> None:
    steps = cusum(
        [0.8, 1.2, 1.6, 2.0], C.profile("hj75/so2").default_s_ams("span") or 0, **C.cusum_parameters()
    )
    assert steps[-1].drift_alarm
    for args, kwargs in (
        (([1.0], 0.0), {}),
        (([1.0], -1.0), {}),
        (([math.nan], 1.0), {}),
        (([1.0, 2.0], 1.0), {"resets": [True]}),
        (([1.0], 1.0), {"k_x": 0.0}),
    ):
        with pytest.raises(QaError) as e:
            cusum(*args, **kwargs)
        assert e.value.code == "bad_value"
    assert cusum([], 1.0) == []


# ---------------------------------------------------------------------------------------------------------------
# Out of control → invalid (§6)


def rec(record: str, kind: str, started: int, ended: int, verdict: str, entry: int | None = None) -> QaRecord:
    return QaRecord(f"qa_checks/{record}", kind, started, ended, verdict, entry)


def test_decision_12_6_failed_comparison_reaches_back_to_the_last_passed_one() -> None:
    cmp = [
        QaRecord("comparisons/1", "comparison", at(3, 1, 8), at(3, 1, 12), "pass", 100),
        QaRecord("comparisons/2", "comparison", at(6, 1, 9), at(6, 1, 15), "fail", 200),
        QaRecord("comparisons/3", "comparison", at(6, 3, 10), at(6, 3, 16), "pass", 300),
    ]
    spans = [
        rec(str(i), "span", at(3, 1, 0) + 86400 * i, at(3, 1, 0) + 86400 * i + 600, "pass")
        for i in range(120)
    ]
    blocked = out_of_control(cmp[::-1] + spans, valid_from=at(1, 1, 0))
    assert blocked == [
        Blocked(
            at(3, 1, 12),
            at(6, 3, 10),
            "out_of_control",
            "comparison",
            ("comparisons/2",),
            "comparisons/1",
            "comparisons/3",
            (("comparisons/1", 100), ("comparisons/2", 200), ("comparisons/3", 300)),
        )
    ]


def test_zero_fail_then_pass() -> None:
    recs = [
        rec("1", "zero", 0, 10, "pass"),
        rec("2", "zero", 100, 110, "fail"),
        rec("3", "zero", 200, 210, "pass"),
    ]
    (b,) = out_of_control(recs, valid_from=-1000)
    assert (b.start, b.end, b.kind, b.failed, b.last_pass, b.next_pass) == (
        10,
        200,
        "zero",
        ("qa_checks/2",),
        "qa_checks/1",
        "qa_checks/3",
    )
    assert b.cause == "out_of_control" and b.entries == ()


def test_consecutive_fails_merge_and_an_open_interval() -> None:
    recs = [
        rec("1", "span", 0, 10, "pass"),
        rec("2", "span", 100, 110, "fail"),
        rec("3", "span", 200, 210, "fail"),
        rec("4", "span", 300, 310, "adjust"),  # adjust is non-failing: closes the interval
        rec("5", "span", 400, 410, "fail"),
    ]
    random.Random(3).shuffle(recs)
    first, second = out_of_control(recs, valid_from=0)
    assert (first.start, first.end, first.failed, first.next_pass) == (
        10,
        300,
        ("qa_checks/2", "qa_checks/3"),
        "qa_checks/4",
    )
    assert (second.start, second.end, second.failed, second.last_pass, second.next_pass) == (
        310,
        None,
        ("qa_checks/5",),
        "qa_checks/4",
        None,
    )


def test_another_kind_does_not_close_a_fail_and_a_first_fail_reaches_valid_from() -> None:
    recs = [
        rec("1", "zero", 100, 110, "fail"),
        rec("2", "span", 200, 210, "pass"),
        rec("3", "comparison", 300, 310, "pass"),
        rec("4", "span", 400, 410, "fail"),
        rec("5", "span", 500, 510, "pass"),
    ]
    assert [(b.kind, b.start, b.end, b.last_pass) for b in out_of_control(recs, valid_from=50)] == [
        ("zero", 50, None, None),
        ("span", 210, 500, "qa_checks/2"),
    ]
    assert out_of_control([r for r in recs if r.verdict != "fail"], 0) == []
    assert out_of_control([], 0) == []


def test_out_of_control_rejects_bad_records() -> None:
    for bad in (rec("1", "zero", 0, 10, "ok"), rec("1", "zero", 10, 0, "fail")):
        with pytest.raises(QaError) as e:
            out_of_control([bad], 0)
        assert e.value.code == "bad_value"


def test_union() -> None:
    assert union([]) == []
    assert union([(5, 10), (0, 3), (3, 4), (9, 12), (20, 20)]) == [(0, 4), (5, 12)]
    assert union([(0, 10), (5, None), (30, 40)]) == [(0, None)]
    assert union([(30, 40), (0, 10), (50, None)]) == [(0, 10), (30, 40), (50, None)]
    with pytest.raises(QaError) as e:
        union([(10, 5)])
    assert e.value.code == "bad_range"


def test_overdue_after_interval_plus_grace() -> None:
    assert grace_for(24) == 2 and grace_for(168) == 24 and grace_for(31 * 24) == 24
    t0 = 1_000_000
    assert not overdue(t0, t0 + 26 * 3600, 24, grace_for(24))
    assert overdue(t0, t0 + 26 * 3600 + 1, 24, grace_for(24))
    assert not overdue(t0, t0 + (168 + 24) * 3600, 168, grace_for(168))
    assert overdue(t0, t0 + (168 + 24) * 3600 + 1, 168, grace_for(168))
    assert overdue(None, t0, 24, 2)


def test_none_removes_a_check_kind_or_the_comparison() -> None:
    c2 = Criteria.from_config({"profiles": {"hj75/so2": {"checks": {"span": None}, "comparison": None}}})
    so2 = c2.profile("hj75/so2")
    assert so2.checks() == ("zero",) and so2.comparison is None and so2.interval_h("comparison", True) is None
    with pytest.raises(QaError) as e:
        evaluate_comparison(c2, "hj75/so2", same("hj75/so2", 30.0, 44.0))
    assert e.value.code == "no_criteria"
    with pytest.raises(QaError) as e:
        evaluate_check(c2, "hj75/so2", "span", reference=1.0, reading=1.0, range_low=0.0, range_high=10.0)
    assert e.value.code == "no_criteria"


def test_numbers_may_be_decimals_but_not_text() -> None:
    from decimal import Decimal

    dec: dict[str, Any] = {
        "reference": Decimal("0"),
        "reading": Decimal("2.6"),
        "range_low": 0,
        "range_high": 100,
    }
    r = evaluate_check(C, "hj75/so2", "zero", **dec)
    assert (r.value, r.verdict) == (2.6, "adjust")
    assert evaluate_comparison(C, "hj355/nh3n", [(Decimal("1.5"), Decimal("1.75"))] * 3).verdict == "pass"  # type: ignore[list-item]
    with pytest.raises(QaError) as e:
        evaluate_check(C, "hj75/so2", "zero", reference="0", reading=1.0, range_low=0.0, range_high=100.0)  # type: ignore[arg-type]
    assert e.value.code == "bad_value"
    huge = evaluate_check(
        C, "hj75/so2", "zero", reference=0.0, reading=1e300, range_low=0.0, range_high=100.0
    )
    assert huge.verdict == "fail"
