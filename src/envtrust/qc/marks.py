"""Enterprise data marks (MEE 2022 No. 21, decision 0012 §7): marks, their two contest rules, and what they exclude.

An enterprise marks spans of a point's data as stopped, start-up/shut-down, maintenance, calibration, fault or
communication failure; data under a mark are not used to judge exceedance.  A false mark is itself falsification
(qc §8 F7), so two kinds of mark are checked against the data they cover:

1. ``stopped`` while the stack or outfall is operating (标停未停): velocity or flow says it runs and, for flue gas,
   the temperature says it is hot;
2. ``calibration`` without a zero or span pattern: an analyser being calibrated sits on a zero or a span plateau.

A contested mark does **not** exclude its data (:func:`excluded`) until a regulator's signed decision upholds it;
a rejected mark never excludes.  The catalogue check ``mark_contested`` turns each contested mark into a
``tampering`` finding with the evidence.

Tags in parameter docs: [S] stated by the source, [D] our decision (decision 0012 §7).  The official mark-code table
is not in the research files: the codes below are ours [D], to be mapped to the official ones once obtained.

Pure: numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .catalogue import Finding, Param, Params, register
from .common import fmt, num
from .data import FLOW_CODES, TEMP_CODE, Mask, PointData, Series, Values

__all__ = [
    "DEFAULTS",
    "MARK_CODES",
    "MARK_TEXT",
    "PARAMS",
    "Contest",
    "Mark",
    "contest",
    "excluded",
]

MARK_CODES: Final = ("stopped", "startup_shutdown", "maintenance", "calibration", "fault", "comm_failure")
MARK_TEXT: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "stopped": ("停运", "stopped"),
        "startup_shutdown": ("启停机", "start-up / shut-down"),
        "maintenance": ("维护", "maintenance"),
        "calibration": ("校准", "calibration"),
        "fault": ("故障", "fault"),
        "comm_failure": ("通讯故障", "communication failure"),
    }
)
DECISIONS: Final = ("uphold", "reject")
RULE_STOPPED: Final = "stopped_while_running"
RULE_CALIBRATION: Final = "calibration_without_pattern"

VELOCITY_CODE: Final = "a01011"
# the flow channels proper (velocity has its own, absolute, condition)
_FLOW_ONLY: Final = tuple(c for c in FLOW_CODES if c != VELOCITY_CODE)
_MAX_PLATEAUS: Final = 20  # plateaus listed per code in the evidence (all are counted)

PARAMS: Final[tuple[Param, ...]] = (
    Param(
        "velocity_ms", 3.0, "stopped: a minute operates when the velocity exceeds this, m/s (qc §8 F7 [D])", 0
    ),
    Param(
        "flow_share",
        0.25,
        "stopped: … or when the flow reaches this share of the point's typical running flow (75th percentile of "
        "the valid flow outside the mark, as the running state) [D]",
        0,
    ),
    Param(
        "temp_c",
        60.0,
        "stopped, flue gas: and the flue-gas temperature exceeds this, °C (qc §8 F7 [D]); water: flow only",
    ),
    Param("min_minutes", 15, "stopped: contested when at least this many minutes operate [D]", 1),
    Param("share", 0.5, "stopped: … and at least this share of the mark's minutes with data operate [D]", 0),
    Param(
        "plateau_minutes", 3, "calibration: a plateau is at least this many consecutive minute values [D]", 1
    ),
    Param(
        "plateau_range_fs",
        0.01,
        "calibration: … whose range is at most this share of full scale (series maximum when unknown [D]) [D]",
        0,
    ),
    Param(
        "zero_band_fs",
        0.025,
        "calibration: a zero plateau lies within ± this share of full scale of 0 [D]",
        0,
    ),
    Param(
        "span_band",
        0.10,
        "calibration: a span plateau lies within ± this share of the certified span value [D]",
        0,
    ),
    Param(
        "span_floor_fs",
        0.5,
        "calibration: without a span value, a span plateau lies at or above this share of full scale [D]",
        0,
    ),
    Param(
        "check_window_minutes",
        15,
        "calibration without minute data: contested unless a QA check lies within this many minutes of the "
        "mark [D]",
        0,
    ),
)
DEFAULTS: Final[Mapping[str, Any]] = MappingProxyType({p.name: p.default for p in PARAMS})


@dataclass(frozen=True, slots=True)
class Mark:
    """An enterprise's mark over ``[start, end)`` (UTC epoch seconds) of a point's data.

    ``pollutants`` None covers every channel of the point.  ``decision`` is a regulator's signed decision:
    ``"uphold"`` (the mark excludes even when contested), ``"reject"`` (it never excludes) or None.  ``made_at``
    is when the mark was made (0: unknown)."""

    record: str
    code: str
    start: int
    end: int
    pollutants: tuple[str, ...] | None
    decision: str | None = None
    made_at: int = 0

    def __post_init__(self) -> None:
        if self.code not in MARK_CODES:
            raise ValueError(f"unknown mark code {self.code!r}; known: {', '.join(MARK_CODES)}")
        if self.decision is not None and self.decision not in DECISIONS:
            raise ValueError(f"unknown decision {self.decision!r}; known: uphold, reject")
        if self.end <= self.start:
            raise ValueError(f"mark {self.record!r}: end {self.end} is not after start {self.start}")


@dataclass(frozen=True, slots=True)
class Contest:
    """Why the data contradict a mark: the rule, JSON-able evidence and a message in both languages."""

    rule: str
    evidence: Mapping[str, Any]
    message_zh: str
    message_en: str


def _params(p: Mapping[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **p}


def _inside(s: Series, mark: Mark) -> Mask:
    t = s.times
    out: Mask = (t >= mark.start) & (t < mark.end)
    return out


def _avg(s: Series, code: str | None) -> Values:
    if code is None or code not in s.channels:
        return np.full(s.size, np.nan)
    return s.channels[code].avg


def _median(x: Values) -> float | None:
    ok = x[np.isfinite(x)]
    return num(float(np.median(ok))) if ok.size else None


def contest(
    pd: PointData,
    mark: Mark,
    p: Mapping[str, Any],
    *,
    full_scale: Mapping[str, float] | None = None,
    span_values: Mapping[str, float] | None = None,
    check_times: Sequence[int] = (),
) -> Contest | None:
    """Whether the point's data contradict ``mark`` (decision 0012 §7), with the evidence; None when they do not
    or the mark's code has no contest rule.  ``p`` may be partial (missing parameters take :data:`DEFAULTS`).
    A regulator's decision on the mark is not applied here (see :func:`excluded`)."""
    q = _params(p)
    if mark.code == "stopped":
        return _contest_stopped(pd, mark, q)
    if mark.code == "calibration":
        return _contest_calibration(pd, mark, q, full_scale or {}, span_values or {}, check_times)
    return None


# ------------------------------------------------------------------------------------------------ rule 1: stopped
def _contest_stopped(pd: PointData, mark: Mark, q: Mapping[str, Any]) -> Contest | None:
    """Operating minutes under a ``stopped`` mark.  All values count whatever their flag (the flag is what the
    mark claims); a minute "has data" when one of the channels the rule reads has a value; a flue-gas minute
    without a temperature is not operating (a gas point without ``a01012`` is never contested) [D]."""
    s = pd.minute
    if s is None:
        return None
    inside = _inside(s, mark)
    if not inside.any():
        return None
    water = pd.info.medium == "water"
    flow_code = next((c for c in _FLOW_ONLY if c in s.channels), None)
    flow = _avg(s, flow_code)
    typical: float | None = None
    if flow_code is not None:
        ok = pd.flag_valid(flow_code) & ~inside & np.isfinite(flow)
        if ok.any():
            typical = float(np.quantile(flow[ok], 0.75))
    flow_threshold = q["flow_share"] * typical if typical is not None and typical > 0 else None
    with np.errstate(invalid="ignore"):
        flow_on: Mask = (
            inside & (flow >= flow_threshold) if flow_threshold is not None else np.zeros(s.size, dtype=bool)
        )
        if water:
            vel_on: Mask = np.zeros(s.size, dtype=bool)
            hot: Mask = np.ones(s.size, dtype=bool)
            has_data: Mask = inside & np.isfinite(flow)
            operating: Mask = flow_on
        else:
            vel = _avg(s, VELOCITY_CODE)
            temp = _avg(s, TEMP_CODE)
            vel_on = inside & (vel > q["velocity_ms"])
            hot = inside & (temp > q["temp_c"])
            has_data = inside & (np.isfinite(vel) | np.isfinite(flow) | np.isfinite(temp))
            operating = (vel_on | flow_on) & hot
    per_slot = s.step / 60
    data_min = float(has_data.sum()) * per_slot
    op_min = float(operating.sum()) * per_slot
    if data_min <= 0 or op_min < q["min_minutes"] or op_min < q["share"] * data_min:
        return None
    op_idx = np.flatnonzero(operating)
    evidence: dict[str, Any] = {
        "medium": pd.info.medium,
        "mark_minutes": round((mark.end - mark.start) / 60, 3),
        "minutes_with_data": round(data_min, 3),
        "operating_minutes": round(op_min, 3),
        "operating_share": num(op_min / data_min),
        "flow_minutes": round(float(flow_on.sum()) * per_slot, 3),
        "first_operating": int(s.times[op_idx[0]]),
        "last_operating": int(s.times[op_idx[-1]]),
        "flow_code": flow_code,
        "typical_flow": num(typical) if typical is not None else None,
        "thresholds": {
            "flow": num(flow_threshold) if flow_threshold is not None else None,
            "flow_share": q["flow_share"],
            "min_minutes": q["min_minutes"],
            "share": q["share"],
        },
    }
    if flow_code is not None:
        evidence["flow_median_operating"] = _median(flow[operating])
    if not water:
        vel = _avg(s, VELOCITY_CODE)
        temp = _avg(s, TEMP_CODE)
        evidence["velocity_minutes"] = round(float(vel_on.sum()) * per_slot, 3)
        evidence["hot_minutes"] = round(float(hot.sum()) * per_slot, 3)
        evidence["velocity_median_operating"] = _median(vel[operating])
        evidence["temp_median_operating"] = _median(temp[operating])
        evidence["thresholds"] |= {"velocity_ms": q["velocity_ms"], "temp_c": q["temp_c"]}
        cond_zh = f"流速>{fmt(q['velocity_ms'])} m/s或流量≥典型值{fmt(100 * q['flow_share'])}%，且烟温>{fmt(q['temp_c'])} °C"
        cond_en = (
            f"velocity > {fmt(q['velocity_ms'])} m/s or flow ≥ {fmt(100 * q['flow_share'])} % of typical, "
            f"and flue gas > {fmt(q['temp_c'])} °C"
        )
    else:
        cond_zh = f"流量≥典型值{fmt(100 * q['flow_share'])}%"
        cond_en = f"flow ≥ {fmt(100 * q['flow_share'])} % of typical"
    return Contest(
        RULE_STOPPED,
        evidence,
        f"标记停运，但有数据的{fmt(data_min)}分钟中{fmt(op_min)}分钟在运行（{cond_zh}）",
        f"marked stopped, but operating in {fmt(op_min)} of {fmt(data_min)} minutes with data ({cond_en})",
    )


# -------------------------------------------------------------------------------------------- rule 2: calibration
def _contest_calibration(
    pd: PointData,
    mark: Mark,
    q: Mapping[str, Any],
    full_scale: Mapping[str, float],
    span_values: Mapping[str, float],
    check_times: Sequence[int],
) -> Contest | None:
    """Zero and span plateaus under a ``calibration`` mark, per marked analyser.  Judged only once the minute
    series covers the whole mark (an unfinished mark, or one before the data window, cannot be judged) [D]."""
    s = pd.minute
    if s is None or s.start > mark.start or pd.complete_until() < mark.end:
        return None
    inside = _inside(s, mark)
    codes = list(mark.pollutants) if mark.pollutants is not None else pd.analysers()
    thresholds = {
        "plateau_minutes": q["plateau_minutes"],
        "plateau_range_fs": q["plateau_range_fs"],
        "zero_band_fs": q["zero_band_fs"],
        "span_band": q["span_band"],
        "span_floor_fs": q["span_floor_fs"],
    }
    per_code: dict[str, Any] = {}
    failing: list[str] = []
    for code in codes:
        if code not in s.channels:
            continue
        all_values = s.channels[code].avg
        v = all_values[inside]
        if not np.isfinite(v).any():
            continue
        fs, fs_source = _full_scale(code, all_values, full_scale)
        span = span_values.get(code)
        found = _plateaus(s, inside, v, fs, span if span is not None and span > 0 else None, q)
        zero = sum(1 for x in found if x["kind"] == "zero")
        spans = sum(1 for x in found if x["kind"] == "span")
        per_code[code] = {
            "values": int(np.isfinite(v).sum()),
            "min": num(float(np.nanmin(v))),
            "max": num(float(np.nanmax(v))),
            "full_scale": num(fs),
            "full_scale_source": fs_source,
            "span_value": num(span) if span is not None else None,
            "zero_plateaus": zero,
            "span_plateaus": spans,
            "flat_plateaus": len(found) - zero - spans,
            "plateaus": found[:_MAX_PLATEAUS],
        }
        if zero == 0 and spans == 0:
            failing.append(code)
    if per_code:
        if not failing:
            return None
        names = "、".join(failing)
        return Contest(
            RULE_CALIBRATION,
            {"codes": per_code, "contested_codes": failing, "thresholds": thresholds},
            f"标记校准，但{names}在标记时段内未出现零点或量程平台",
            f"marked calibration, but {', '.join(failing)} show neither a zero nor a span plateau under the mark",
        )
    # no minute value of any marked analyser under the mark: a QA check must lie near it
    window = 60 * q["check_window_minutes"]
    lo, hi = mark.start - window, mark.end + window
    near = sorted(int(t) for t in check_times if lo <= t <= hi)
    if near:
        return None
    return Contest(
        RULE_CALIBRATION,
        {
            "codes": {},
            "marked_codes": codes,
            "minute_values": 0,
            "check_window": [int(lo), int(hi)],
            "check_times_known": len(check_times),
            "thresholds": thresholds | {"check_window_minutes": q["check_window_minutes"]},
        },
        f"标记校准，但标记时段内无分钟数据，且前后{fmt(q['check_window_minutes'])}分钟内无质控核查记录",
        f"marked calibration, but no minute data under the mark and no QA check within "
        f"{fmt(q['check_window_minutes'])} minutes of it",
    )


def _full_scale(code: str, values: Values, given: Mapping[str, float]) -> tuple[float, str]:
    """The analyser's full scale: as given, else the highest value of the code in the series (every value,
    whatever its flag: span values count) as a stand-in [D].  The stand-in is weak: process values usually lie
    above half the series maximum, so a flat stretch of them passes as a span plateau; give the full scale."""
    fs = given.get(code)
    if fs is not None and fs > 0:
        return float(fs), "given"
    ok = np.isfinite(values)
    return (max(float(values[ok].max()), 0.0) if ok.any() else 0.0), "series maximum [D]"


def _plateaus(
    s: Series, inside: Mask, v: Values, fs: float, span: float | None, q: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Maximal stretches under the mark in which every window of ``plateau_minutes`` consecutive values lies
    within ``plateau_range_fs`` of full scale, classified zero, span or flat (neither); in time order."""
    k = max(1, math.ceil(q["plateau_minutes"] * 60 / s.step))
    if v.size < k:
        return []
    w = sliding_window_view(v, k)
    finite = np.isfinite(w).all(axis=1)
    with np.errstate(invalid="ignore"):
        hi = w.max(axis=1)  # NaN in a window with a missing value: not flat
        lo = w.min(axis=1)
        eps = 1e-9 * max(1.0, fs)
        flat = finite & (hi - lo <= q["plateau_range_fs"] * fs + eps)
        absmax = np.maximum(np.abs(hi), np.abs(lo))
        zero = flat & (absmax <= q["zero_band_fs"] * fs + eps)
        if span is not None:
            band = q["span_band"] * span + eps
            at_span = flat & ~zero & (lo >= span - band) & (hi <= span + band)
        else:
            at_span = flat & ~zero & (lo >= q["span_floor_fs"] * fs - eps)
    label = np.where(zero, 1, np.where(at_span, 2, np.where(flat, 3, 0)))
    times = s.times[inside]
    out: list[dict[str, Any]] = []
    i = 0
    n = label.size
    while i < n:
        if label[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < n and label[j + 1] == label[i]:
            j += 1
        a, b = i, j + k  # slots [a, b) of the mark
        out.append(
            {
                "start": int(times[a]),
                "minutes": round((b - a) * s.step / 60, 3),
                "mean": num(float(np.mean(v[a:b]))),
                "kind": ("zero", "span", "flat")[int(label[i]) - 1],
            }
        )
        i = j + 1
    return out


# ------------------------------------------------------------------------------------------------------ exclusion
def excluded(
    pd: PointData,
    marks: Sequence[Mark],
    p: Mapping[str, Any],
    *,
    full_scale: Mapping[str, float] | None = None,
    span_values: Mapping[str, float] | None = None,
    check_times: Sequence[int] = (),
) -> dict[str, list[tuple[int, int, Mark]]]:
    """Per HJ 212 code, the spans ``(start, end, mark)`` whose data are excluded from exceedance judgement:
    every mark that is upheld, or neither rejected nor contested.  A mark without pollutants covers every
    channel of the point's minute series (the hourly series without minute data)."""
    series = pd.minute if pd.minute is not None else pd.hour
    every = sorted(series.channels) if series is not None else []
    out: dict[str, list[tuple[int, int, Mark]]] = {}
    for mark in marks:
        if mark.decision == "reject":
            continue
        if mark.decision != "uphold" and (
            contest(pd, mark, p, full_scale=full_scale, span_values=span_values, check_times=check_times)
            is not None
        ):
            continue
        codes = mark.pollutants if mark.pollutants is not None else every
        for code in codes:
            out.setdefault(code, []).append((mark.start, mark.end, mark))
    return {
        code: sorted(spans, key=lambda x: (x[0], x[1], x[2].record)) for code, spans in sorted(out.items())
    }


# ------------------------------------------------------------------------------------------------ catalogue check
@register(
    "mark_contested",
    version=1,
    category="tampering",
    title_zh="标记与实际数据不符（虚假标记）",
    title_en="data mark contradicted by the data (false mark)",
    source="MEE 2022 No. 21 [S]; qc §8 F7; decision 0012 §7",
    params=PARAMS,
)
def mark_contested(pd: PointData, p: Params) -> list[Finding]:
    """An enterprise data mark that the data contradict: a ``stopped`` mark over minutes in which the stack or
    outfall operates (velocity above ``velocity_ms`` or flow at ``flow_share`` of its typical running level, and
    flue gas above ``temp_c``; at least ``min_minutes`` and ``share`` of the minutes with data), or a
    ``calibration`` mark under which a marked analyser shows neither a zero nor a span plateau (or, without
    minute data, no QA check lies within ``check_window_minutes``).  While contested the mark does not exclude
    its data from exceedance judgement; the finding also lists the regulator's decision, if any, and how long
    after its start the mark was made."""
    marks: Sequence[Mark] = getattr(pd, "marks", None) or []
    ctx: Mapping[str, Any] = getattr(pd, "mark_context", None) or {}
    out: list[Finding] = []
    for mark in sorted(marks, key=lambda m: (m.start, m.end, m.record)):
        c = contest(
            pd,
            mark,
            p,
            full_scale=ctx.get("full_scale"),
            span_values=ctx.get("span_values"),
            check_times=ctx.get("check_times") or (),
        )
        if c is None:
            continue
        pollutant = mark.pollutants[0] if mark.pollutants is not None and len(mark.pollutants) == 1 else None
        zh, en = MARK_TEXT[mark.code]
        evidence = dict(c.evidence) | {
            "mark": mark.record,
            "code": mark.code,
            "rule": c.rule,
            "made_at": mark.made_at,
            "lag_s": mark.made_at - mark.start if mark.made_at > 0 else None,
            "decision": mark.decision,
        }
        out.append(
            Finding(
                pd.mn,
                pollutant,
                "mark_contested",
                "tampering",
                "high",
                int(mark.start),
                int(mark.end),
                f"{c.message_zh}（{zh}标记 {mark.record}） | {c.message_en} ({en} mark {mark.record})",
                evidence,
            )
        )
    return out
