"""Calibration and comparison quality assurance: the pure core of decision 0012 (§2 criteria, §3 QAL3 CUSUM,
§6 out of control → invalid).

Numbers come from ``shared/research/qc.md`` (cited as qc §x) with its confidence tags, as the decision quotes them:
**[S]** read in a source, **[M]** remembered standard text (not checked against the official PDF), **[D]** design
choice.  Every number is a parameter of :data:`DEFAULT_CRITERIA`; :meth:`Criteria.from_config` merges overrides
onto it and gives the digest that each verdict records.

Rounding [D]: a value is rounded before it is judged, half to even on its shortest decimal form (the GB/T 8170
修约 rule "四舍六入五成双" — from memory, not from qc.md): check values to 0.01, relative errors to 0.1 %, RA to
4 decimals as a fraction (qc §6.1.2 [S]), absolute errors to the code's HJ 212-2017 App. B resolution (the
decimals of its data type, e.g. SO₂ N5.2 → 0.01 mg/m³, PM N4 → 1 mg/m³).

Standard library only (numpy is allowed but not needed), no I/O.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Literal, TypedDict

__all__ = [
    "DEFAULT_CRITERIA",
    "GRACE_DAILY_H",
    "GRACE_OTHER_H",
    "T_975",
    "Band",
    "Blocked",
    "CheckKind",
    "CheckResult",
    "CheckSpec",
    "ComparisonResult",
    "ComparisonSpec",
    "Criteria",
    "CusumParameters",
    "CusumStep",
    "Profile",
    "QaError",
    "QaRecord",
    "Verdict",
    "cusum",
    "default_profile",
    "evaluate_check",
    "evaluate_comparison",
    "grace_for",
    "out_of_control",
    "overdue",
    "t_975",
    "union",
]

Verdict = Literal["pass", "adjust", "fail"]
CheckKind = Literal["zero", "span", "standard"]


class QaError(ValueError):
    """A QA computation refused its input; ``code`` is machine-readable, the messages are bilingual."""

    code: str
    message_zh: str
    message_en: str

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} | {en}")
        self.code, self.message_zh, self.message_en = code, zh, en


# ---------------------------------------------------------------------------------------------------------------
# Default criteria (decision 0012 §2)

# [D] N months as their longest calendar span (6 months ≤ 184 d, 3 ≤ 92 d, 1 ≤ 31 d): a check on the same date
# N months later is never overdue
_6M: Final = 184 * 24.0
_3M: Final = 92 * 24.0
_1M: Final = 31 * 24.0

_BandRow = tuple[float | None, str, float]  # (upper bound of the reference value or None, metric, limit)


def _check(metric: str, technical: float, ooc: float, auto: float, manual: float) -> dict[str, Any]:
    interval = {"auto": auto, "manual": manual}
    # s_ams None: technical limit / cusum.s_ams_divisor (§3 [D])
    return {
        "metric": metric,
        "technical": technical,
        "out_of_control": ooc,
        "interval_h": interval,
        "s_ams": None,
    }


def _cmp(min_pairs: int, bands: list[_BandRow], upper_inclusive: bool, water: bool = False) -> dict[str, Any]:
    return {
        "interval_h": {"auto": _1M, "manual": _1M} if water else {"auto": _6M, "manual": _3M},
        "min_pairs": min_pairs,
        "judge": "pairs" if water else "mean",
        "upper_inclusive": upper_inclusive,
        "bands": [{"max": mx, "metric": m, "limit": lim} for mx, m, lim in bands],
    }


def _water(bands: list[_BandRow]) -> dict[str, Any]:
    # HJ 355: ≥ 3 pairs (qc §6.4 [S] m.lab216.com), monthly [M], every pair judged [D], lower-inclusive bands [D]
    return _cmp(3, bands, False, water=True)


def _prof(medium: str, parameter: str, unit: str, decimals: int, checks: Any, cmp: Any) -> dict[str, Any]:
    # decimals: of the code's HJ 212-2017 App. B data type (hj212/codes.py), for absolute errors [D]
    c = copy.deepcopy({"checks": checks, "comparison": cmp})  # no shared sub-tables: overrides stay local
    return {"medium": medium, "parameter": parameter, "unit": unit, "abs_decimals": decimals, **c}


# qc §6.1.1 [M] (HJ 75-2017 定期校准/校验 table): technical limit, out-of-control limit (% F.S.), interval h auto/manual
_GAS_CHECKS: Final = {
    "zero": _check("fs", 2.5, 5.0, 24.0, 168.0),
    "span": _check("fs", 2.5, 10.0, 24.0, 168.0),
}
_PM_CHECKS: Final = {"zero": _check("fs", 2.0, 8.0, 24.0, 360.0), "span": _check("fs", 2.0, 8.0, 24.0, 360.0)}
_VELOCITY_CHECKS: Final = {"zero": _check("fs", 3.0, 8.0, 24.0, 720.0)}  # velocity span: none in qc.md
# HJ 355-2019 Table 1, qc §6.4 [M]: one limit (no adjust band), at least every 24 h
_WATER_STD: Final = {"standard": _check("relative", 10.0, 10.0, 24.0, 24.0)}
_PH_STD: Final = {"standard": _check("absolute", 0.1, 0.1, 24.0, 24.0)}

# qc §6.1.2 [M]: SO₂/NOx in mg/m³ (×2.86/×2.05 from µmol/mol, qc §6.1.4 [M]), lower-inclusive [D]; PM, O₂, velocity
# and humidity upper-inclusive as qc.md writes them (≤ 10, 10 < C ≤ 20, …, ≤ 5.0 / > 5.0)
_SO2: Final[list[_BandRow]] = [(57.0, "absolute", 17.0), (143.0, "relative", 30.0), (715.0, "absolute", 57.0), (None, "ra", 15.0)]  # fmt: skip
_NOX: Final[list[_BandRow]] = [(41.0, "absolute", 12.0), (103.0, "relative", 30.0), (513.0, "absolute", 41.0), (None, "ra", 15.0)]  # fmt: skip
_PM: Final[list[_BandRow]] = [(10.0, "absolute", 5.0), (20.0, "absolute", 6.0), (50.0, "relative", 30.0), (100.0, "relative", 25.0), (200.0, "relative", 20.0), (None, "relative", 15.0)]  # fmt: skip
_O2: Final[list[_BandRow]] = [(5.0, "absolute", 1.0), (None, "ra", 15.0)]
_VELOCITY: Final[list[_BandRow]] = [(10.0, "relative", 12.0), (None, "relative", 10.0)]
_HUMIDITY: Final[list[_BandRow]] = [(5.0, "absolute", 1.5), (None, "relative", 25.0)]
# qc §6.4 [M]; COD < 30: the pair is a 20–25 mg/L standard, ±5 mg/L
_COD: Final[list[_BandRow]] = [(30.0, "absolute", 5.0), (60.0, "relative", 30.0), (100.0, "relative", 20.0), (None, "relative", 15.0)]  # fmt: skip
_N: Final[list[_BandRow]] = [(2.0, "absolute", 0.3), (None, "relative", 15.0)]  # NH₃-N, TN
_TP: Final[list[_BandRow]] = [(0.4, "absolute", 0.04), (None, "relative", 15.0)]

DEFAULT_CRITERIA: Final[Mapping[str, Any]] = {
    # [D]; RA to 4 decimals as a fraction qc §6.1.2 [S]
    "rounding": {"check_decimals": 2, "relative_decimals": 1, "ra_fraction_decimals": 4},
    # EN 14181 QAL3, ABB EL3000 manual p.160 (qc §5.3 [S]); s_AMS default = technical limit / 3 [D]
    "cusum": {"h_x": 2.85, "k_x": 0.501, "h_s": 6.9, "k_s": 1.85, "s_ams_divisor": 3.0},
    "profiles": {
        # HJ 75: pairs PM 5, gases and O₂ 9, velocity/temperature/humidity 5 (qc §6.1.2 [M])
        "hj75/so2": _prof("gas", "so2", "mg/m³", 2, _GAS_CHECKS, _cmp(9, _SO2, False)),
        "hj75/nox": _prof("gas", "nox", "mg/m³", 1, _GAS_CHECKS, _cmp(9, _NOX, False)),
        "hj75/pm": _prof("gas", "pm", "mg/m³", 0, _PM_CHECKS, _cmp(5, _PM, True)),
        # O₂ zero/span: not in qc.md, the gas row applied [D, verify]
        "hj75/o2": _prof("gas", "o2", "%", 1, _GAS_CHECKS, _cmp(9, _O2, True)),
        # other gases: RA ≤ 15 % [M]; zero/span not in qc.md: the gas row applied as for O₂ [D, verify]
        "hj75/gas": _prof("gas", "gas", "mg/m³", 2, _GAS_CHECKS, _cmp(9, [(None, "ra", 15.0)], True)),
        "hj75/velocity": _prof("gas", "velocity", "m/s", 2, _VELOCITY_CHECKS, _cmp(5, _VELOCITY, True)),
        # temperature, humidity: no drift criteria in qc.md, comparison only
        "hj75/temperature": _prof(
            "gas", "temperature", "°C", 1, {}, _cmp(5, [(None, "absolute", 3.0)], True)
        ),
        "hj75/humidity": _prof("gas", "humidity", "%", 1, {}, _cmp(5, _HUMIDITY, True)),
        "hj355/cod": _prof("water", "cod", "mg/L", 1, _WATER_STD, _water(_COD)),  # COD_Cr, TOC alike
        "hj355/nh3n": _prof("water", "nh3n", "mg/L", 2, _WATER_STD, _water(_N)),
        "hj355/tp": _prof("water", "tp", "mg/L", 2, _WATER_STD, _water(_TP)),
        "hj355/tn": _prof("water", "tn", "mg/L", 2, _WATER_STD, _water(_N)),
        "hj355/ph": _prof("water", "ph", "pH", 2, _PH_STD, _water([(None, "absolute", 0.5)])),
        "hj355/temperature": _prof("water", "temperature", "°C", 1, {}, _water([(None, "absolute", 0.5)])),
        "hj355/flow": _prof("water", "flow", "L/s", 2, {}, _water([(None, "relative", 10.0)])),
    },
}

# HJ 212 code -> profile (decision 0012 §2.1, §2.3); TOC is w01020 (w01019 is the permanganate index, not listed)
_PROFILE_BY_CODE: Final[Mapping[str, str]] = {
    "a21026": "hj75/so2",
    "a21002": "hj75/nox",
    "a34013": "hj75/pm",
    "a19001": "hj75/o2",
    "a01011": "hj75/velocity",
    "a01012": "hj75/temperature",
    "a01014": "hj75/humidity",
    "w01018": "hj355/cod",
    "w01020": "hj355/cod",
    "w21003": "hj355/nh3n",
    "w21011": "hj355/tp",
    "w21001": "hj355/tn",
    "w01001": "hj355/ph",
    "w01010": "hj355/temperature",
    "w00000": "hj355/flow",
}
_OTHER_GAS_PREFIXES: Final = ("a21", "a24", "a05")


def default_profile(pollutant: str, medium: str) -> str | None:
    """The default profile of an analyser of HJ 212 code ``pollutant`` at a ``medium`` point, or None."""
    name = _PROFILE_BY_CODE.get(pollutant)
    if name is None and pollutant.startswith(_OTHER_GAS_PREFIXES):
        name = "hj75/gas"
    if name is None or medium != ("gas" if name.startswith("hj75/") else "water"):
        return None
    return name


# ---------------------------------------------------------------------------------------------------------------
# Profiles and criteria


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """Criteria of one check kind: ``metric`` fs (drift % F.S.), relative (% of the standard) or absolute."""

    kind: str
    metric: str
    technical: float
    out_of_control: float
    interval_auto_h: float | None
    interval_manual_h: float | None
    s_ams: float | None


@dataclass(frozen=True, slots=True)
class Band:
    """A comparison band: reference values up to ``max`` (None: no upper bound) are judged by ``metric``."""

    max: float | None
    metric: str
    limit: float


@dataclass(frozen=True, slots=True)
class ComparisonSpec:
    min_pairs: int
    judge: str  # "mean": the means of all pairs (HJ 75), "pairs": every pair on its own (HJ 355, [D])
    upper_inclusive: bool
    bands: tuple[Band, ...]
    interval_auto_h: float | None
    interval_manual_h: float | None

    def band(self, ref: float) -> int:
        """Index of the band a reference value falls in."""
        for i, b in enumerate(self.bands):
            if b.max is None or ref < b.max or (self.upper_inclusive and ref == b.max):
                return i
        raise AssertionError("the last band is unbounded")  # pragma: no cover - validated

    def describe(self, i: int, who: str, unit: str) -> str:
        lo = self.bands[i - 1].max if i else None
        hi = self.bands[i].max
        lt, le = ("<", "≤") if self.upper_inclusive else ("≤", "<")
        if lo is None and hi is None:
            return f"{who}: all levels"
        if lo is None:
            return f"{who} {le} {hi:g} {unit}"
        if hi is None:
            return f"{who} {'>' if self.upper_inclusive else '≥'} {lo:g} {unit}"
        return f"{lo:g} {lt} {who} {le} {hi:g} {unit}"


@dataclass(frozen=True, slots=True)
class Profile:
    """The criteria of one analyser type (e.g. ``hj75/so2``)."""

    name: str
    medium: str
    parameter: str
    unit: str
    abs_decimals: int
    check_specs: tuple[CheckSpec, ...]
    comparison: ComparisonSpec | None
    s_ams_divisor: float
    check_decimals: int
    relative_decimals: int
    ra_fraction_decimals: int

    def checks(self) -> tuple[str, ...]:
        return tuple(c.kind for c in self.check_specs)

    def check(self, kind: str) -> CheckSpec | None:
        return next((c for c in self.check_specs if c.kind == kind), None)

    def interval_h(self, kind: str, automatic: bool) -> float | None:
        spec: CheckSpec | ComparisonSpec | None = (
            self.comparison if kind == "comparison" else self.check(kind)
        )
        if spec is None:
            return None
        return spec.interval_auto_h if automatic else spec.interval_manual_h

    def default_s_ams(self, kind: str) -> float | None:
        """s_AMS when the analyser registers none: the profile's value, else technical limit / 3 (§3 [D])."""
        spec = self.check(kind)
        if spec is None:
            return None
        return spec.s_ams if spec.s_ams is not None else spec.technical / self.s_ams_divisor


def _bad(path: str, zh: str, en: str) -> QaError:
    path = path or "criteria"
    return QaError("bad_criteria", f"质控判据配置错误：{path}：{zh}", f"bad QA criteria: {path}: {en}")


# A schema: a dict is a table (a key ending in "?" is optional), a 1-list a non-empty list, a callable a leaf
# (value, path) -> normalised value.  Numbers come out as floats, so 24 and 24.0 give one digest.
_Leaf = Callable[[Any, str], Any]


def _num(minimum: float = 0.0, nullable: bool = False) -> _Leaf:
    def leaf(v: Any, path: str) -> float | None:
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= minimum:
            raise _bad(path, f"应为大于 {minimum:g} 的数", f"expected a number > {minimum:g}, got {v!r}")
        return float(v)

    return leaf


def _int(lo: int, hi: int) -> _Leaf:
    def leaf(v: Any, path: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _bad(path, f"应为 {lo}–{hi} 的整数", f"expected a whole number {lo}–{hi}, got {v!r}")
        return v

    return leaf


def _one_of(*options: Any) -> _Leaf:
    def leaf(v: Any, path: str) -> Any:
        if v not in options or isinstance(v, bool) != isinstance(options[0], bool):
            text = ", ".join(map(str, options))
            raise _bad(path, f"应为 {text} 之一", f"expected one of {text}, got {v!r}")
        return v

    return leaf


def _text(v: Any, path: str) -> str:
    if not isinstance(v, str) or not v:
        raise _bad(path, "应为非空字符串", f"expected a non-empty string, got {v!r}")
    return v


def _each(schema: Any) -> _Leaf:
    """A table of any (non-empty string) keys, each value of ``schema``."""

    def leaf(v: Any, path: str) -> dict[str, Any]:
        if not isinstance(v, Mapping):
            raise _bad(path, "应为表", f"expected a table, got {v!r}")
        return {_text(k, path): _valid(schema, x, f"{path}.{k}") for k, x in v.items()}

    return leaf


def _valid(schema: Any, v: Any, path: str) -> Any:
    if callable(schema):
        return schema(v, path)
    if isinstance(schema, list):
        if not isinstance(v, list) or not v:
            raise _bad(path, "应为非空列表", f"expected a non-empty list, got {v!r}")
        return [_valid(schema[0], x, f"{path}[{i}]") for i, x in enumerate(v)]
    if not isinstance(v, Mapping):
        raise _bad(path, "应为表", f"expected a table, got {v!r}")
    keys = {k.rstrip("?"): k for k in schema}
    unknown = sorted(str(k) for k in v if k not in keys)
    if unknown:
        raise _bad(path, f"未知键 {', '.join(unknown)}", f"unknown key(s) {', '.join(unknown)}")
    missing = sorted(k for k, raw in keys.items() if k not in v and not raw.endswith("?"))
    if missing:
        raise _bad(path, f"缺少键 {', '.join(missing)}", f"missing key(s) {', '.join(missing)}")
    return {k: _valid(schema[keys[k]], x, f"{path}.{k}" if path else k) for k, x in v.items()}


_INTERVALS: Final = {"auto": _num(nullable=True), "manual": _num(nullable=True)}
_CHECK: Final = {
    "metric": _one_of("fs", "relative", "absolute"),
    "technical": _num(),
    "out_of_control": _num(),
    "interval_h": _INTERVALS,
    "s_ams?": _num(nullable=True),
}
_BAND: Final = {
    "max": _num(-math.inf, nullable=True),
    "metric": _one_of("ra", "relative", "absolute"),
    "limit": _num(),
}
_COMPARISON: Final = {
    "interval_h": _INTERVALS,
    "min_pairs": _int(2, 1000),
    "judge": _one_of("mean", "pairs"),
    "upper_inclusive": _one_of(True, False),
    "bands": [_BAND],
}
_SCHEMA: Final = {
    "rounding": {
        "check_decimals": _int(0, 8),
        "relative_decimals": _int(0, 8),
        "ra_fraction_decimals": _int(2, 8),
    },
    "cusum": {k: _num() for k in ("h_x", "k_x", "h_s", "k_s", "s_ams_divisor")},
    "profiles": _each(
        {
            "medium": _one_of("gas", "water"),
            "parameter": _text,
            "unit": _text,
            "abs_decimals": _int(0, 6),
            "checks": {"zero?": _CHECK, "span?": _CHECK, "standard?": _CHECK},
            "comparison?": lambda v, path: None if v is None else _valid(_COMPARISON, v, path),
        }
    ),
}


def _profile(name: str, p: Mapping[str, Any], top: Mapping[str, Any]) -> Profile:
    """A profile from its validated table, with the rules the schema cannot say."""
    path = f"profiles.{name}"
    specs = []
    for kind, c in p["checks"].items():
        if c["out_of_control"] < c["technical"]:
            raise _bad(
                f"{path}.checks.{kind}.out_of_control",
                "不得小于技术指标",
                "must not be below the technical limit",
            )
        iv = c["interval_h"]
        specs.append(
            CheckSpec(
                kind,
                c["metric"],
                c["technical"],
                c["out_of_control"],
                iv["auto"],
                iv["manual"],
                c.get("s_ams"),
            )
        )
    comparison = None
    if (c := p.get("comparison")) is not None:
        bands = tuple(Band(b["max"], b["metric"], b["limit"]) for b in c["bands"])
        maxes = [b.max for b in bands[:-1] if b.max is not None]
        if bands[-1].max is not None or len(maxes) < len(bands) - 1 or maxes != sorted(set(maxes)):
            raise _bad(
                f"{path}.comparison.bands",
                "上限须递增，最后一档为 null",
                "max must increase, and be null in the last band",
            )
        if c["judge"] == "pairs" and any(b.metric == "ra" for b in bands):
            raise _bad(f"{path}.comparison.bands", "逐对判定不能用相对准确度", "metric ra needs judge = mean")
        iv = c["interval_h"]
        comparison = ComparisonSpec(
            c["min_pairs"], c["judge"], c["upper_inclusive"], bands, iv["auto"], iv["manual"]
        )
    divisor = top["cusum"]["s_ams_divisor"]
    fields = (p["medium"], p["parameter"], p["unit"], p["abs_decimals"], tuple(specs), comparison, divisor)
    return Profile(name, *fields, **top["rounding"])


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, anything else (lists too) replaces; None over a table removes it."""
    for key, value in over.items():
        old = base.get(key)
        if isinstance(old, dict) and value is None:
            del base[key]
        elif isinstance(old, dict) and isinstance(value, Mapping):
            _merge(old, value)
        else:
            base[key] = copy.deepcopy(value)
    return base


class CusumParameters(TypedDict):
    h_x: float
    k_x: float
    h_s: float
    k_s: float


@dataclass(frozen=True, slots=True)
class Criteria:
    """A validated criteria set: ``config`` is the merged JSON-able dict (do not mutate), ``digest`` its SHA-256."""

    config: Mapping[str, Any]
    digest: str
    profiles: Mapping[str, Profile]

    @classmethod
    def from_config(cls, overrides: Mapping[str, Any] | None = None) -> Criteria:
        """:data:`DEFAULT_CRITERIA` with ``overrides`` deep-merged (None over a table removes it), validated."""
        if overrides is not None and not isinstance(overrides, Mapping):
            raise _bad("criteria", "应为表", f"expected a table, got {overrides!r}")
        config = _valid(_SCHEMA, _merge(json.loads(json.dumps(DEFAULT_CRITERIA)), overrides or {}), "")
        profiles = {name: _profile(name, p, config) for name, p in sorted(config["profiles"].items())}
        text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(config, hashlib.sha256(text.encode("utf-8")).hexdigest(), profiles)

    def profile(self, name: str) -> Profile:
        p = self.profiles.get(name)
        if p is None:
            raise QaError(
                "unknown_profile", f"未知的质控判据档案 {name!r}", f"unknown QA criteria profile {name!r}"
            )
        return p

    def profile_names(self) -> list[str]:
        return sorted(self.profiles)

    def cusum_parameters(self) -> CusumParameters:
        """The CUSUM multipliers as keyword arguments of :func:`cusum`."""
        c = self.config["cusum"]
        return CusumParameters(h_x=c["h_x"], k_x=c["k_x"], h_s=c["h_s"], k_s=c["k_s"])


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _round(x: float, decimals: int) -> float:
    """Half to even on the shortest decimal form of ``x`` ([D], module docstring)."""
    if not abs(x) < 1e12:  # beyond any resolution that matters (and Decimal's 28 digits)
        return x
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


def _f(x: float) -> str:
    """A judged value for a message: at least one decimal, trailing zeros dropped."""
    s = f"{x:.6f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def _finite(**values: Any) -> list[float]:
    """The values as floats; ``bad_value`` for anything not a finite number (text and bools included)."""
    out = []
    for name, v in values.items():
        try:
            x = math.nan if isinstance(v, str | bool) else float(v)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            raise QaError("bad_value", f"{name} 不是有限数：{v!r}", f"{name} is not a finite number: {v!r}")
        out.append(x)
    return out


def _zero_reference(zh: str, en: str) -> QaError:
    return QaError(
        "zero_reference",
        f"{zh}为 0，无法计算相对误差或相对准确度",
        f"the {en} is 0: no relative error or relative accuracy can be computed",
    )


# Student t, two-sided 95 % (t(0.975, df)), df 1..30
T_975: Final[tuple[float, ...]] = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_975(df: int) -> float:
    """t(0.975, df) from :data:`T_975`; beyond df 30 the Cornish–Fisher expansion to 1/df² (error < 0.001) [D]."""
    if df < 1:
        raise QaError("too_few_pairs", "自由度须至少为 1", "degrees of freedom must be at least 1")
    if df <= len(T_975):
        return T_975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


# ---------------------------------------------------------------------------------------------------------------
# Zero / span / standard checks (§2.1, §2.3)

_CHECK_LABEL: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("zero", "fs"): ("零点漂移", "zero drift"),
    ("span", "fs"): ("量程漂移", "span drift"),
    ("standard", "relative"): ("标样核查相对误差", "standard check relative error"),
    ("standard", "absolute"): ("标样核查误差", "standard check error"),
}


# (verdict, one limit only) -> the judgement in words
_CHECK_TEXT: Final[Mapping[tuple[str, bool], tuple[str, str]]] = {
    ("pass", False): ("在技术指标 {t} 以内", "within the technical limit {t}"),
    ("adjust", False): (
        "超出技术指标 {t}、未超出失控限 {o}，须调整仪器",
        "beyond the technical limit {t} but within the out-of-control limit {o}: adjust the analyser",
    ),
    ("fail", False): ("超出失控限 {o}", "beyond the out-of-control limit {o}"),
    ("pass", True): ("在 {t} 以内", "within {t}"),
    ("fail", True): ("超出 {o}", "beyond {o}"),
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    kind: str
    value: float  # drift % F.S., relative error % of the standard, or absolute error (pH units)
    unit: str  # "%FS", "%", or the profile's unit ("pH")
    technical_limit: float | None
    out_of_control_limit: float | None
    verdict: Verdict
    reason_zh: str
    reason_en: str


def evaluate_check(
    criteria: Criteria,
    profile: str,
    kind: CheckKind,
    *,
    reference: float,
    reading: float,
    range_low: float,
    range_high: float,
) -> CheckResult:
    """Judge one zero/span (drift % F.S.) or standard-sample check (error vs the standard).

    ``|value| ≤ technical`` → pass, ``≤ out_of_control`` → adjust, strictly beyond → fail (qc §6.1.1 [M]: "beyond
    ±5.0 %"); water has one limit (technical = out of control), so pass or fail (§2.3).  The value is rounded to
    0.01 before it is judged [D]."""
    p = criteria.profile(profile)
    spec = p.check(kind)
    if spec is None:
        raise QaError(
            "no_criteria",
            f"质控判据档案 {profile} 没有“{kind}”核查的判据",
            f"profile {profile} has no criteria for a {kind!r} check",
        )
    reference, reading, range_low, range_high = _finite(
        reference=reference, reading=reading, range_low=range_low, range_high=range_high
    )
    if range_high <= range_low:
        raise QaError(
            "bad_range",
            f"量程上限 {range_high:g} 须大于下限 {range_low:g}",
            f"range high {range_high:g} must exceed range low {range_low:g}",
        )
    if spec.metric == "fs":
        raw, unit, zu, eu = (
            (reading - reference) / (range_high - range_low) * 100.0,
            "%FS",
            "% F.S.",
            " % F.S.",
        )
    elif spec.metric == "relative":
        if reference == 0:
            raise _zero_reference("标准样品浓度", "standard's value")
        raw, unit, zu, eu = (reading - reference) / abs(reference) * 100.0, "%", "%", " %"
    else:
        raw, unit, zu, eu = reading - reference, p.unit, f" {p.unit}", f" {p.unit}"
    value = _round(raw, p.check_decimals)
    mag = abs(value)
    verdict: Verdict = "pass" if mag <= spec.technical else "adjust" if mag <= spec.out_of_control else "fail"
    zl, el = _CHECK_LABEL.get((kind, spec.metric), (f"{kind} 核查", f"{kind} check"))
    tz, te = _CHECK_TEXT[verdict, spec.technical == spec.out_of_control]
    t, o = _f(spec.technical), _f(spec.out_of_control)
    tz, te = tz.format(t=f"±{t}{zu}", o=f"±{o}{zu}"), te.format(t=f"±{t}{eu}", o=f"±{o}{eu}")
    return CheckResult(
        kind,
        value,
        unit,
        spec.technical,
        spec.out_of_control,
        verdict,
        f"{zl} {_f(value)}{zu}，{tz}",
        f"{el} {_f(value)}{eu}, {te}",
    )


# ---------------------------------------------------------------------------------------------------------------
# Comparisons (§2.2, §2.3)

_METRIC_LABEL: Final = {"ra": ("相对准确度", "relative accuracy"), "relative": ("相对误差", "relative error"), "absolute": ("绝对误差", "absolute error")}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    n: int
    rm_mean: float
    cems_mean: float
    band: str
    metric: Literal["ra", "relative", "absolute"]
    value: float  # judged pairs: the worst pair's value and limit
    limit: float
    verdict: Literal["pass", "fail"]
    t_value: float | None
    reason_zh: str
    reason_en: str


def _metric_value(
    p: Profile, metric: str, rm: Sequence[float], cems: Sequence[float]
) -> tuple[float, float | None]:
    """(rounded value, t) of one metric over paired values (d = RM − CEMS)."""
    rm_mean, cems_mean = statistics.fmean(rm), statistics.fmean(cems)
    if metric == "absolute":
        return _round(cems_mean - rm_mean, p.abs_decimals), None
    if rm_mean == 0:
        raise _zero_reference(
            *(("参比均值", "RM mean") if p.medium == "gas" else ("实验室测定值", "laboratory value"))
        )
    if metric == "relative":
        return _round((cems_mean - rm_mean) / abs(rm_mean) * 100.0, p.relative_decimals), None
    d = [r - c for r, c in zip(rm, cems, strict=True)]
    t = t_975(len(d) - 1)
    cc = t * statistics.stdev(d) / math.sqrt(len(d))
    frac = Decimal(repr(_round((abs(statistics.fmean(d)) + abs(cc)) / abs(rm_mean), p.ra_fraction_decimals)))
    return float(frac * 100), t  # RA rounded as a fraction to 4 decimals, then in % (qc §6.1.2 [S])


def _limit_text(metric: str, limit: float, unit: str) -> str:
    return (
        f"{_f(limit)}%"
        if metric == "ra"
        else f"±{_f(limit)}%"
        if metric == "relative"
        else f"±{_f(limit)} {unit}"
    )


def _value_text(metric: str, value: float, unit: str) -> str:
    return f"{_f(value)}%" if metric != "absolute" else f"{_f(value)} {unit}"


def evaluate_comparison(
    criteria: Criteria, profile: str, pairs: Sequence[tuple[float, float]]
) -> ComparisonResult:
    """Judge a comparison of ``pairs`` (reference-method or laboratory value, analyser value).

    Gas (``judge = mean``, §2.2): the band is chosen by the RM mean; relative error (C̄_CEMS − C̄_RM)/C̄_RM, absolute
    error C̄_CEMS − C̄_RM, RA = (|d̄| + |cc|)/RM̄ with d = RM − CEMS, cc = t(0.975, n−1)·S_d/√n (qc §6.1.2 [M]).
    Water (``judge = pairs``, §2.3): every pair is judged in the band of its laboratory value [D]; COD below
    30 mg/L is judged ±5 mg/L absolute — the pair is then the 20–25 mg/L standard and the analyser's reading of it.
    A relative criterion with a zero reference raises ``zero_reference``."""
    p = criteria.profile(profile)
    spec = p.comparison
    if spec is None:
        raise QaError(
            "no_criteria",
            f"质控判据档案 {profile} 没有比对判据",
            f"profile {profile} has no comparison criteria",
        )
    checked = [
        _finite(**{f"pairs[{i}].reference": a, f"pairs[{i}].analyser": b}) for i, (a, b) in enumerate(pairs)
    ]
    rm, cems = [a for a, _ in checked], [b for _, b in checked]
    n = len(rm)
    if n < spec.min_pairs:
        raise QaError(
            "too_few_pairs",
            f"比对至少需要 {spec.min_pairs} 对数据，只有 {n} 对",
            f"a comparison needs at least {spec.min_pairs} pairs, got {n}",
        )
    rm_mean, cems_mean = statistics.fmean(rm), statistics.fmean(cems)
    u = p.unit
    if spec.judge == "mean":
        i = spec.band(rm_mean)
        band = spec.bands[i]
        value, t = _metric_value(p, band.metric, rm, cems)
        ok = abs(value) <= band.limit
        where = spec.describe(i, "RM", u)
        tz = f"（t = {t:.3f}，n = {n}）" if t is not None else ""
        te = f" (t = {t:.3f}, n = {n})" if t is not None else ""
        head_z = f"{n} 对，参比均值 {rm_mean:.6g}、CEMS 均值 {cems_mean:.6g} {u}（{where}）"
        head_e = f"{n} pairs, RM mean {rm_mean:.6g}, CEMS mean {cems_mean:.6g} {u} ({where})"
    else:
        worst: tuple[float, int, int, float] | None = None  # (ratio, pair, band, value)
        failing = 0
        for j, (a, b) in enumerate(zip(rm, cems, strict=True)):
            k = spec.band(a)
            v, _ = _metric_value(p, spec.bands[k].metric, [a], [b])
            ratio = abs(v) / spec.bands[k].limit
            failing += abs(v) > spec.bands[k].limit
            if worst is None or ratio > worst[0]:
                worst = (ratio, j, k, v)
        assert worst is not None
        _, j, i, value = worst
        band, t, tz, te = spec.bands[i], None, "", ""
        ok = failing == 0
        where = spec.describe(i, "lab", u)
        head_z = f"{n} 对逐对判定，{failing} 对超出；最差一对 实验室 {rm[j]:.6g}、仪器 {cems[j]:.6g} {u}（{where}）"
        head_e = f"{n} pairs judged one by one, {failing} beyond; worst pair lab {rm[j]:.6g}, analyser {cems[j]:.6g} {u} ({where})"
    zl, el = _METRIC_LABEL[band.metric]
    vt, lt = _value_text(band.metric, value, u), _limit_text(band.metric, band.limit, u)
    metric: Literal["ra", "relative", "absolute"] = (
        "ra" if band.metric == "ra" else "relative" if band.metric == "relative" else "absolute"
    )
    return ComparisonResult(
        n,
        rm_mean,
        cems_mean,
        where,
        metric,
        value,
        band.limit,
        "pass" if ok else "fail",
        t,
        f"{head_z}：{zl} {vt}{tz}，{'不超过' if ok else '超出'} {lt}，{'合格' if ok else '不合格'}",
        f"{head_e}: {el} {vt}{te}, {'within' if ok else 'beyond'} {lt}: {'pass' if ok else 'fail'}",
    )


# ---------------------------------------------------------------------------------------------------------------
# QAL3 CUSUM (§3)


@dataclass(frozen=True, slots=True)
class CusumStep:
    index: int
    deviation: float
    s: float  # precision sum S_t
    p: float  # drift sums P_t (upwards) and N_t (downwards)
    n: float
    precision_alarm: bool
    drift_alarm: bool
    estimated_drift: float | None
    reset: bool


def cusum(
    deviations: Sequence[float],
    s_ams: float,
    *,
    resets: Sequence[bool] | None = None,
    h_x: float = 2.85,
    k_x: float = 0.501,
    h_s: float = 6.90,
    k_s: float = 1.85,
) -> list[CusumStep]:
    """EN 14181 QAL3 CUSUM over one check point's deviations (qc §5.3 [S]; update formulas decision §3 [D]).

    S_t = max(0, S + d² − k_s·s²), alarm S_t > h_s·s²; P_t = max(0, P + d − k_x·s), N_t = max(0, N − d − k_x·s),
    alarm above h_x·s.  Precision first: on a precision alarm the drift test is skipped for that step, but P and N
    are still updated [D: the sums stay a record of every deviation; only the test is skipped].  After an alarm
    the sums continue [D]: the analyser stays out of QAL3 control until a check is adjusted, which the caller
    marks with ``resets[i]`` (sums restart at 0 before step i — after an adjusted check, a fail, a new analyser)."""
    s_ams, h_x, k_x, h_s, k_s = _finite(s_ams=s_ams, h_x=h_x, k_x=k_x, h_s=h_s, k_s=k_s)
    if min(s_ams, h_x, k_x, h_s, k_s) <= 0:
        raise QaError(
            "bad_value", "s_AMS 与 CUSUM 参数须为正数", "s_AMS and the CUSUM parameters must be positive"
        )
    if resets is not None and len(resets) != len(deviations):
        raise QaError("bad_value", "resets 与偏差序列长度不同", "resets and deviations differ in length")
    hx, kx, hs, ks = h_x * s_ams, k_x * s_ams, h_s * s_ams**2, k_s * s_ams**2
    s = p = n = 0.0
    n_p = n_n = 0
    out: list[CusumStep] = []
    for i, raw in enumerate(deviations):
        (d,) = _finite(**{f"deviations[{i}]": raw})
        reset = bool(resets[i]) if resets is not None else False
        if reset:
            s = p = n = 0.0
            n_p = n_n = 0
        s = max(0.0, s + d * d - ks)
        p = max(0.0, p + d - kx)
        n = max(0.0, n - d - kx)
        n_p = n_p + 1 if p > 0 else 0
        n_n = n_n + 1 if n > 0 else 0
        precision = s > hs
        drift = not precision and (p > hx or n > hx)
        estimate = None
        if drift:
            estimate = kx + p / n_p if p >= n else -(kx + n / n_n)
        out.append(CusumStep(i, d, s, p, n, precision, drift, estimate, reset))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Out of control → invalid (§6), schedules (§2.1)


@dataclass(frozen=True, slots=True)
class QaRecord:
    record: str  # e.g. "qa_checks/12", "comparisons/3"
    kind: str  # zero / span / standard / comparison
    started: int
    ended: int
    verdict: str  # pass / adjust / fail
    entry: int | None = None


@dataclass(frozen=True, slots=True)
class Blocked:
    start: int
    end: int | None  # [start, end), None: still out of control
    cause: str
    kind: str
    failed: tuple[str, ...]
    last_pass: str | None
    next_pass: str | None
    entries: tuple[tuple[str, int], ...] = ()  # (record, ledger index) of the failed and bounding records


def _entries(*records: QaRecord | None) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((r.record, r.entry) for r in records if r is not None and r.entry is not None))


def _join(a: Blocked, b: Blocked) -> Blocked:
    later = a if a.end is None or (b.end is not None and a.end >= b.end) else b
    return Blocked(
        a.start,
        later.end,
        a.cause,
        a.kind,
        tuple(dict.fromkeys(a.failed + b.failed)),
        a.last_pass,
        later.next_pass,
        tuple(sorted(set(a.entries + b.entries))),
    )


def out_of_control(records: Sequence[QaRecord], valid_from: int) -> list[Blocked]:
    """Out-of-control intervals of one analyser (decision §6, HJ 356 qc §6.4 [M] back, HJ 75 qc §6.1.1 [M] on).

    Per kind, a fail f blocks [end of the latest non-failing (pass/adjust) record of that kind ended at or before
    f started — else ``valid_from``; start of the earliest non-failing record started at or after f ended — else
    open).  Overlapping or touching intervals of a kind merge.  A fail that starts before ``valid_from`` and has no
    earlier non-failing record reaches back to its own start [D].  Sorted by start, then kind."""
    by_kind: dict[str, list[QaRecord]] = {}
    for r in records:
        if r.verdict not in ("pass", "adjust", "fail") or r.ended < r.started:
            raise QaError(
                "bad_value", f"质控记录 {r.record} 无效", f"QA record {r.record} is not valid: {r!r}"
            )
        by_kind.setdefault(r.kind, []).append(r)
    out: list[Blocked] = []
    for kind, recs in by_kind.items():
        ok = [r for r in recs if r.verdict != "fail"]
        raw = []
        for f in (r for r in recs if r.verdict == "fail"):
            last = max(
                (r for r in ok if r.ended <= f.started), key=lambda r: (r.ended, r.started), default=None
            )
            nxt = min(
                (r for r in ok if r.started >= f.ended), key=lambda r: (r.started, r.ended), default=None
            )
            start = last.ended if last else min(valid_from, f.started)
            end = nxt.started if nxt else None
            raw.append(
                Blocked(
                    start,
                    end,
                    "out_of_control",
                    kind,
                    (f.record,),
                    last.record if last else None,
                    nxt.record if nxt else None,
                    _entries(f, last, nxt),
                )
            )
        raw.sort(key=lambda b: (b.start, -math.inf if b.end is None else -b.end, b.failed))
        merged: list[Blocked] = []
        for b in raw:
            prev = merged[-1] if merged else None
            if prev is not None and (prev.end is None or b.start <= prev.end):
                merged[-1] = _join(prev, b)
            else:
                merged.append(b)
        out.extend(merged)
    out.sort(key=lambda b: (b.start, b.kind))
    return out


def union(intervals: Iterable[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """Merge ``[start, end)`` intervals (None: open end) into sorted, disjoint, non-touching ones."""
    out: list[tuple[int, int | None]] = []
    for s, e in sorted(intervals, key=lambda iv: iv[0]):
        if e is not None and e < s:
            raise QaError(
                "bad_range", f"区间终点 {e} 早于起点 {s}", f"interval end {e} is before its start {s}"
            )
        if e == s:
            continue
        if out and (out[-1][1] is None or s <= out[-1][1]):
            pe = out[-1][1]
            out[-1] = (out[-1][0], None if pe is None or e is None else max(pe, e))
        else:
            out.append((s, e))
    return out


GRACE_DAILY_H: Final = 2.0  # a daily check expires after 26 h, as ECMPS' daily calibration (qc §4.1 [S])
GRACE_OTHER_H: Final = 24.0  # other intervals + 1 d [D]


def grace_for(interval_h: float) -> float:
    """Grace after a check's interval before it is overdue (§2.1): 2 h for intervals up to 24 h, else 24 h."""
    return GRACE_DAILY_H if interval_h <= 24 else GRACE_OTHER_H


def overdue(last_ended: int | None, now: int, interval_h: float, grace_h: float) -> bool:
    """Whether a check is overdue (strictly more than interval + grace since the last one ended; never done:
    overdue — pass the analyser's ``valid_from`` as ``last_ended`` for a new analyser).  A finding, never an
    invalidation (§2.1 [D])."""
    if last_ended is None:
        return True
    return now - last_ended > (interval_h + grace_h) * 3600
