"""Statistical anomalies (implausible data that may have an honest cause): spikes and abrupt steps.

Thresholds are relative to each channel's own behaviour (robust scale of its differences) and to its level, so the
same defaults serve a 5 mg/m³ particulate channel and a 500 mg/L COD channel.
"""

from __future__ import annotations

import numpy as np

from .catalogue import Finding, Param, Params, register
from .common import minute_findings
from .data import PointData, Values

__all__: list[str] = []


def _robust_scale(x: Values) -> float:
    x = x[np.isfinite(x)]
    if x.size < 10:
        return float("nan")
    med = float(np.median(x))
    return 1.4826 * float(np.median(np.abs(x - med)))


@register(
    "spike",
    version=1,
    category="anomaly",
    title_zh="尖峰",
    title_en="spike",
    source="ioos_qc spike_test (average method); QARTOD",
    params=(
        Param("robust_k", 15.0, "spike above this many robust scales of the channel's spike score", 1),
        Param("min_relative", 1.0, "and above this fraction of the local level", 0),
    ),
)
def spike(pd: PointData, p: Params) -> list[Finding]:
    """Single values that stand out from both neighbours: ``|x[n] − (x[n−1] + x[n+1]) / 2|`` above ``robust_k`` robust
    scales of that score over the channel's valid running data and above ``min_relative`` × the neighbours' level.
    Spikes within an hour of each other form one finding."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    for code in pd.analysers():
        v = pd.running_values(code)
        if np.isfinite(v).sum() < 60:
            continue
        ref = np.full(v.size, np.nan)
        ref[1:-1] = (v[:-2] + v[2:]) / 2.0
        score = np.abs(v - ref)
        scale = _robust_scale(score)
        res = pd.resolution(code)
        if not np.isfinite(scale):
            continue
        with np.errstate(invalid="ignore"):
            level = np.maximum(np.abs(ref), 10 * res)
            hit = (score > p["robust_k"] * max(scale, res)) & (score > p["min_relative"] * level)
        out += minute_findings(
            pd,
            hit,
            check="spike",
            category="anomaly",
            severity="medium",
            pollutant=code,
            message=f"{code} 尖峰 | spike(s) standing out from both neighbours",
            evidence={
                "robust_scale": float(scale),
                "rule": f"score > {p['robust_k']}×scale and > {p['min_relative']}×level",
            },
            bridge=max(1, 3600 // pd.minute.step),
            values=pd.minute.channels[code].avg,
        )
    return out


@register(
    "rate_of_change",
    version=2,
    category="anomaly",
    title_zh="突变",
    title_en="abrupt change",
    source="ioos_qc rate_of_change_test; QARTOD",
    params=(
        Param("robust_k", 25.0, "step above this many robust scales of the channel's steps", 1),
        Param(
            "min_relative",
            1.5,
            "and above this fraction of the level before the step, per minute of the data's interval",
            0,
        ),
    ),
)
def rate_of_change(pd: PointData, p: Params) -> list[Finding]:
    """Steps between consecutive valid values larger than ``robust_k`` robust scales of the channel's steps and
    than ``min_relative`` × the level before the step (a jump faster than the process allows); steps that belong to
    a spike are left to the spike check.  The level bound is a rate: a slot of 5 or 10 minutes may hold a whole
    honest ramp (a change of load, the rise of a genuine exceedance), so the bound grows with the interval (× 5,
    × 10) and only a step that no ramp of the process explains is reported."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    for code in pd.analysers():
        v = pd.running_values(code)
        if np.isfinite(v).sum() < 60:
            continue
        d = np.full(v.size, np.nan)
        d[1:] = v[1:] - v[:-1]
        scale = _robust_scale(d)
        res = pd.resolution(code)
        if not np.isfinite(scale):
            continue
        # the bound on the step is a rate: per minute of the interval
        rel = p["min_relative"] * max(1.0, pd.minute.step / 60.0)
        prev = np.full(v.size, np.nan)
        prev[1:] = v[:-1]
        with np.errstate(invalid="ignore"):
            big = (np.abs(d) > p["robust_k"] * max(scale, res)) & (
                np.abs(d) > rel * np.maximum(np.abs(prev), 10 * res)
            )
            # a spike: a big step up followed by a big step back
            back = np.zeros(v.size, dtype=bool)
            back[:-1] = big[1:] & (np.sign(d[1:]) == -np.sign(d[:-1]))
            spike_like = back | np.concatenate(([False], back[:-1]))
        hit = big & ~spike_like
        out += minute_findings(
            pd,
            hit,
            check="rate_of_change",
            category="anomaly",
            severity="low",
            pollutant=code,
            message=f"{code} 数值突变 | abrupt step",
            evidence={
                "robust_scale": float(scale),
                "rule": f"|Δ| > {p['robust_k']}×scale and > {rel:g}×level",
            },
            bridge=max(1, 3600 // pd.minute.step),
            values=d,
        )
    return out
