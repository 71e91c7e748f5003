"""Signatures of tampering and forging (环发〔2015〕175号; ``research/qc.md`` §8, F1–F12).

Each check looks for one way data are falsified, with thresholds relative to the point's own history (its
resolution, noise, typical levels and routines), so that honest events — routine calibration (zero then span
plateaus), maintenance, shutdowns, network gaps and genuine exceedances — are not called tampering.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from .basic import rolling_range
from .catalogue import Finding, Param, Params, register
from .common import fmt, minute_findings, num, rolling_mean, rolling_sum, span_finding
from .data import O2_CODE, TEMP_CODE, Mask, PointData, Values, resolution, runs

__all__ = ["window_hashes"]


def _expand(end_mask: Mask, width: int) -> Mask:
    """Mark every slot of each trailing window of ``width`` slots whose last slot is set in ``end_mask``."""
    c = rolling_sum(end_mask[::-1].astype(np.float64), width)[::-1]
    out: Mask = c > 0
    return out


def _slots(pd: PointData, minutes: float) -> int:
    assert pd.minute is not None
    return max(1, round(minutes * 60 / pd.minute.step))


def _nanmedian(x: Values) -> float:
    return float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")


# ---------------------------------------------------------------------------------------------------------- F1
@register(
    "flat_line",
    version=2,
    category="tampering",
    title_zh="恒值",
    title_en="constant values",
    source="qc.md F1 (175号 Art. 5(5)); ioos_qc flat_line_test; saqc flagConstants",
    params=(
        Param("fail_minutes", 60, "shortest constant run reported, minutes", 2),
        Param("tolerance_steps", 1.0, "a window is constant when its range ≤ this many resolution steps", 0),
        Param(
            "coarse_minutes", 180, "on channels whose noise is below the resolution: exact holds this long", 2
        ),
    ),
)
def flat_line(pd: PointData, p: Params) -> list[Finding]:
    """A running analyser whose valid values stay within ``tolerance_steps`` of its reporting resolution for at least
    ``fail_minutes`` (held, simulated or alternating values); when the logger reports minute minima and maxima, they
    must collapse too (a live analyser varies within the minute even when its average repeats).  Where the
    channel's typical step or spread, scaled to the run's level, is below the resolution (a low-noise channel at a
    low level), values repeat honestly and only exact holds of ``coarse_minutes`` count."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    width = _slots(pd, p["fail_minutes"])
    run = pd.running()
    for code in [*pd.analysers(), O2_CODE] if O2_CODE in pd.codes() else pd.analysers():
        ch = pd.minute.channels[code]
        ok = pd.valid(code) & run
        v = pd.running_values(code)
        res = pd.resolution(code)
        tol = max(res, 1e-9) * p["tolerance_steps"] * 1.0001
        filled = rolling_sum(ok.astype(np.float64), width + 1)
        with np.errstate(invalid="ignore"):
            end = (rolling_range(v, width) <= tol) & (filled >= 0.9 * (width + 1))
        mask = _expand(end, width + 1) & ok
        spread = ch.vmax - ch.vmin
        # a channel whose noise is below its reporting resolution repeats values honestly: only exact holds of
        # coarse_minutes count there
        steps = np.abs(np.diff(v))
        coarse = bool(np.nanmedian(steps) < res) if np.isfinite(steps).any() else False
        if np.isfinite(spread[ok]).any():
            coarse = coarse or float(np.nanmedian(spread[ok])) < res
        # the same at the level of a run: noise scales with the level, so a channel whose steps and spread are
        # above the resolution at its usual level may fall below it at a low level (longer intervals also carry
        # the process's own movement into the steps, which hides that the noise is below the resolution)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_step = np.abs(v[1:]) > 0
            step_rel = _nanmedian(steps[rel_step] / np.abs(v[1:][rel_step]))
            spread_rel = _nanmedian(spread[ok] / np.abs(ch.avg[ok]))
        for i0, i1 in runs(mask, width, bridge=2):
            here = float(np.nanmedian(np.abs(v[i0:i1])))
            # the smaller of the two typical variations decides: a live analyser below the resolution in either
            # measure repeats values honestly
            low_here = min(
                step_rel * here if np.isfinite(step_rel) else np.inf,
                spread_rel * here if np.isfinite(spread_rel) else np.inf,
            )
            if coarse or low_here < res:
                # long runs only; where the noise is below the resolution everywhere only exact holds, where only
                # at this run's low level also values alternating within the tolerance (a faked "live" look)
                seg_v = v[i0:i1][np.isfinite(v[i0:i1])]
                if (i1 - i0) < _slots(pd, p["coarse_minutes"]) or (coarse and np.ptp(seg_v) > 0):
                    continue
            seg = slice(i0, i1)
            sp = spread[seg][np.isfinite(spread[seg])]
            vals = v[seg][np.isfinite(v[seg])]
            if sp.size > 0.8 * (i1 - i0):
                if float(np.median(sp)) > 0.5 * max(res, 1e-9):
                    continue  # the analyser varies within each minute: a stable process at coarse resolution
            else:
                d = np.diff(vals)
                held = float(np.mean(d == 0)) if d.size else 1.0
                alternating = float(np.mean(d[1:] * d[:-1] < 0)) if d.size > 1 else 0.0
                if held < 0.95 and alternating < 0.9:
                    continue  # random steps between neighbouring values: a live signal at coarse resolution
            distinct = np.unique(vals)
            level = float(np.median(vals))
            low = level <= 3 * max(res, 1e-9)
            out.append(
                span_finding(
                    pd,
                    code,
                    "flat_line",
                    "anomaly" if low else "tampering",
                    "medium" if low else "high",
                    i0,
                    i1,
                    f"{code} 恒值 {(i1 - i0) * pd.minute.step // 60} 分钟，数值 {fmt(level)} | "
                    f"constant at {fmt(level)} for {(i1 - i0) * pd.minute.step // 60} min while running",
                    {
                        "values": [num(x) for x in distinct[:6].tolist()],
                        "distinct": int(distinct.size),
                        "resolution": num(res, 6),
                        "minute_spread": num(float(np.median(sp))) if sp.size else None,
                        "at_detection_limit": low,
                        "rule": f"range ≤ {p['tolerance_steps']:g} resolution step(s) for ≥ {p['fail_minutes']} min",
                    },
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------- F1b
def _roughness(v: Values, width: int) -> tuple[Values, Values]:
    """Relative roughness (mean |Δx| / level over a trailing window) and the per-slot |Δx| / level."""
    d = np.full(v.size, np.nan)
    d[1:] = np.abs(v[1:] - v[:-1])
    level = rolling_mean(v, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = d / np.abs(level)
    return rolling_mean(rel, width), rel


def _curvature(v: Values, width: int) -> Values:
    """Mean |second difference| over a trailing window, relative to the window's level (NaN where fewer than half
    the window's second differences exist).  Second differences cancel the process's own slow movement and keep the
    minute-to-minute measurement noise, which smoothing removes."""
    d2 = np.full(v.size, np.nan)
    if v.size >= 3:
        d2[1:-1] = np.abs(v[2:] - 2 * v[1:-1] + v[:-2])
    enough = rolling_sum(np.isfinite(d2).astype(np.float64), width) >= 0.5 * width
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Values = np.where(enough, rolling_mean(d2, width) / np.abs(rolling_mean(v, width)), np.nan)
    return out


def _held(v: Values, width: int) -> Mask:
    """Slots inside runs of at least ``width`` identical consecutive values (a held value)."""
    same = np.zeros(v.size, dtype=bool)
    same[1:] = v[1:] == v[:-1]
    out = np.zeros(v.size, dtype=bool)
    for i0, i1 in runs(same, max(1, width - 1)):
        out[i0 - 1 : i1] = True
    return out


@register(
    "low_variance",
    version=4,
    category="tampering",
    title_zh="方差塌缩（平滑数据）",
    title_en="collapsed variance (smoothed data)",
    source="qc.md F1; ioos_qc attenuated_signal_test; saqc flagByVariance",
    params=(
        Param("window_minutes", 60, "window of the variation measures, minutes", 5),
        Param(
            "min_samples", 60, "values per window at least: coarser data (5-, 10-min) get a longer window", 10
        ),
        Param("factor", 3.0, "variation below the channel's typical variation divided by this", 1),
        Param("min_minutes", 120, "shortest run reported, minutes", 1),
        Param(
            "min_noise_steps",
            1.0,
            "judge the second differences only where their typical value at the level is this many resolution steps",
            0,
        ),
        Param(
            "min_spread_steps",
            0.5,
            "judge the minute spread only where its typical value at the level is this many resolution steps",
            0,
        ),
        Param(
            "either_up_to_minutes",
            1,
            "data intervals up to this many minutes: either measure collapsing suffices; longer intervals need both "
            "where both are judged",
            1,
        ),
    ),
)
def low_variance(pd: PointData, p: Params) -> list[Finding]:
    """A running analyser whose short-term variation collapses to less than its own typical variation divided by
    ``factor`` for ``min_minutes`` or more while its values still move (smoothed, beautified data; a held value is
    the flat-line check's).  Two measures, each relative to the level and to the channel's own history: (1) the
    mean |second difference| of the minute values, which follows the measurement noise and not the process's slow
    changes (a change of load does not lower it, a moving average does); (2) where the logger reports minute
    minima and maxima, their spread (a live analyser varies within each minute).  A measure is judged only where
    its typical value at the window's level is at least ``min_noise_steps`` (second differences) or
    ``min_spread_steps`` (spread: every minute's samples vary anew, so even a spread that rounds to one step in
    most minutes is telling) reporting steps; the resolution hides smaller noise.  On data sent every 5 or 10
    minutes (intervals longer than ``either_up_to_minutes``) the second differences of the slot values carry the
    process's own movement as well, which is honestly calmer at some hours (a waste-water outfall at night): there,
    where the spread is judged too, both measures must collapse."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    # a variation measure over a handful of values drops below a third of its typical size by chance alone
    width = max(_slots(pd, p["window_minutes"]), p["min_samples"])
    run = pd.running()
    for code in pd.analysers():
        ok = pd.valid(code) & run
        v = pd.running_values(code)
        if np.isfinite(v).sum() < 10 * width:
            continue
        res = max(pd.resolution(code), 1e-9)
        level = np.abs(rolling_mean(v, width))
        # a value held for ``window_minutes`` is the flat-line check's: it neither lowers nor raises the measures here
        held = _held(v, _slots(pd, p["window_minutes"]))
        rough = _curvature(np.where(held, np.nan, v), width)
        ch = pd.minute.channels[code]
        spread = np.where(ok & ~held, ch.vmax - ch.vmin, np.nan)
        enough = rolling_sum(np.isfinite(spread).astype(np.float64), width) >= 0.5 * width
        with np.errstate(invalid="ignore", divide="ignore"):
            spread_rel = np.where(enough, rolling_mean(spread, width) / level, np.nan)
        if np.isfinite(ch.vmax - ch.vmin)[ok].sum() < 0.5 * ok.sum():
            spread_rel = np.full(v.size, np.nan)  # minima and maxima not reported
        filled = rolling_sum(ok.astype(np.float64), width) >= 0.8 * width
        with np.errstate(invalid="ignore"):
            # smoothed values still move; a held value (the flat-line check's) does not
            moving = rolling_range(v, width - 1) > 1.5 * res
        typical: dict[str, float] = {}
        lows: list[tuple[Mask, Mask]] = []  # per measure: where it is judged, where it collapsed
        for name, x, steps in (
            ("second_difference", rough, p["min_noise_steps"]),
            ("minute_spread", spread_rel, p["min_spread_steps"]),
        ):
            base = float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")
            if not np.isfinite(base) or base <= 0:
                continue
            typical[name] = base
            with np.errstate(invalid="ignore"):
                judged = (base * level >= steps * res) & np.isfinite(x)
                lows.append((judged, judged & (x < base / p["factor"])))
        low = np.zeros(v.size, dtype=bool)
        if pd.minute.step <= 60 * p["either_up_to_minutes"] or len(lows) < 2:
            for _, collapsed in lows:
                low |= collapsed
        else:
            # where both measures are judged both must collapse; where only one is, it decides
            (j1, c1), (j2, c2) = lows
            low = (c1 & (c2 | ~j2)) | (c2 & ~j1)
        mask = _expand(low & moving & filled, width) & ok
        for i0, i1 in runs(mask, _slots(pd, p["min_minutes"]), bridge=_slots(pd, 10)):
            shares = {
                name: float(np.nanmedian(x[i0:i1])) / typical[name]
                for name, x in (("second_difference", rough), ("minute_spread", spread_rel))
                if name in typical and np.isfinite(x[i0:i1]).any()
            }
            worst = min(shares.values()) if shares else float("nan")
            out.append(
                span_finding(
                    pd,
                    code,
                    "low_variance",
                    "tampering",
                    "medium",
                    i0,
                    i1,
                    f"{code} 数据过于平滑：波动仅为常态的 {worst:.0%} | variance collapsed to {worst:.0%} of normal",
                    {
                        "share_of_typical": {k: num(x) for k, x in shares.items()},
                        "typical_roughness": num(typical.get("second_difference", float("nan")), 5),
                        "typical_minute_spread": num(typical.get("minute_spread", float("nan")), 5),
                        "rule": f"mean |second difference| or minute spread (relative) < typical / {p['factor']:g} "
                        f"for ≥ {p['min_minutes']} min",
                    },
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------- F2
def _hourly_matrix(pd: PointData, codes: list[str]) -> tuple[npt.NDArray[np.int64], dict[str, Values]]:
    """Hourly means of valid running minutes (≥ 45 of 60), NaN otherwise, for ``codes`` on one hour grid."""
    out: dict[str, Values] = {}
    for code in codes:
        agg = pd.hourly(code, running_only=True)
        out[code] = np.where(agg.count >= 0.75 * agg.expected, agg.mean, np.nan)
    return pd.hour_grid()[0], out


def _trailing_medians(x: Values, width: int, min_count: int) -> Values:
    """Median of ``x[t − width + 1 .. t]`` ignoring NaN, for every ``t``; NaN where fewer than ``min_count`` values."""
    pad = np.concatenate((np.full(width - 1, np.nan), x))
    win = np.lib.stride_tricks.sliding_window_view(pad, width)
    count = np.isfinite(win).sum(axis=1)
    out: Values = np.full(x.size, np.nan)
    sel = count >= min_count
    if sel.any():
        out[sel] = np.nanmedian(win[sel], axis=1)
    return out


def _step_statistic(x: Values, width: int) -> Values:
    """``D[t]``: median of the ``width`` values from ``t`` on minus the median of the ``width`` values before ``t``
    (NaN where either side has fewer than half its values)."""
    n = x.size
    m = _trailing_medians(x, width, max(2, width // 2))
    d: Values = np.full(n, np.nan)
    if n > width:
        d[1 : n - width + 1] = m[width:n] - m[0 : n - width]
    return d


def _robust_scale(x: Values) -> float:
    fin = x[np.isfinite(x)]
    if fin.size < 10:
        return float("nan")
    return 1.4826 * float(np.median(np.abs(fin - np.median(fin))))


def _step_noise(d: Values, width: int) -> float:
    """The robust scale of a step statistic where there is no step: hours within ``width`` of a value beyond twice
    the scale are set aside and the scale measured again (a long shift otherwise fills much of the statistic)."""
    scale = _robust_scale(d)
    for _ in range(3):
        if not np.isfinite(scale) or scale <= 0:
            break
        with np.errstate(invalid="ignore"):
            big = np.abs(d) > 2 * scale
        near = _expand(big, width) | _expand(big[::-1], width)[::-1]
        again = _robust_scale(np.where(near, np.nan, d))
        if not np.isfinite(again):
            break
        scale = again
    return scale


def _level(x: npt.NDArray[np.float64], min_count: int) -> Values:
    """Per row: the median of ``x`` where at least ``min_count`` values exist, NaN otherwise."""
    out: Values = np.full(x.shape[0], np.nan)
    ok = np.isfinite(x).sum(axis=1) >= min_count
    if ok.any():
        out[ok] = np.nanmedian(x[ok], axis=1)
    return out


def _steps(d: Values, lo: Values, thr: float, bridge: int) -> list[int]:
    """Hours of the steps of a consensus step statistic ``d``: the peak of each run where ``|d| > thr`` and every
    reference moved the same way by more than half of it (``lo``: the smallest |D| over the references, signed like
    ``d``)."""
    out: list[int] = []
    for sign in (-1, 1):
        with np.errstate(invalid="ignore"):
            mask = (sign * d > thr) & (sign * lo > 0.5 * thr)
        for i0, i1 in runs(mask, 1, bridge=bridge):
            seg = np.where(mask[i0:i1], sign * d[i0:i1], -np.inf)
            out.append(i0 + int(np.argmax(seg)))
    return sorted(out)


def _usual_level(
    lr: npt.NDArray[np.float64],
    spans: list[tuple[int, int]],
    levels: list[Values],
    thr: float,
    width: int,
    need: int,
) -> Values:
    """The usual log ratios among neighbouring stretches (``spans``, clipped to the context; ``levels``: their
    medians): those of the group of stretches at one level (within ``thr`` / 2) that covers the most hours, the
    earliest group on a tie; NaN where that group covers fewer than ``need`` hours (a usual level is what most of
    the time shows) or has too few values."""
    best: tuple[int, int] | None = None
    members: list[int] = []
    for j, lj in enumerate(levels):
        group = [k for k, lk in enumerate(levels) if float(np.mean(np.abs(lk - lj))) < 0.5 * thr]
        hours = sum(spans[k][1] - spans[k][0] for k in group)
        key = (hours, -spans[j][0])
        if best is None or key > best:
            best, members = key, group
    if not members or best is None or best[0] < need:
        return np.full(lr.shape[0], np.nan)
    cols = np.concatenate([np.arange(*spans[k]) for k in members])
    return _level(lr[:, cols], max(2, min(width, cols.size // 2)))


@register(
    "ratio_shift",
    version=2,
    category="tampering",
    title_zh="斜率/截距/量程篡改（比例突变）",
    title_en="slope, intercept or range tampering (ratio shift)",
    source="qc.md F2 (175号 Art. 4(8),(9)); saqc flagChangePoints",
    params=(
        Param("min_hours", 12, "shortest shifted stretch reported, hours", 1),
        Param("min_log_shift", 0.2, "smallest shift of log(ratio) (0.2 ≈ 18 %)", 0),
        Param("robust_k", 4.0, "shift above this many robust scales of the step statistic", 0),
        Param("smooth_hours", 12, "hours of the medians on each side of a step (and twice this, too)", 2),
        Param("context_hours", 72, "hours of the neighbouring stretches that give the usual ratio", 6),
        Param(
            "report_up",
            False,
            "also report upward shifts that return (they raise reported emissions; an upset does too)",
        ),
    ),
)
def ratio_shift(pd: PointData, p: Params) -> list[Finding]:
    """A pollutant whose hourly ratio to every other channel of the point (the other pollutants; the flow when they
    are fewer than two) steps down from its usual value and stays there for ``min_hours`` or more: the analyser's
    slope, intercept or range was changed while the process stayed the same (a change of load moves every channel
    together and leaves the ratios alone).  Steps are where the median log ratio of the ``smooth_hours`` after an
    hour differs from that of the ``smooth_hours`` before it (at that scale and at twice it) by more than
    ``robust_k`` robust scales of that difference over the point's own history, and by ``min_log_shift``, to every
    reference the same way.  The steps cut the data into stretches; a stretch is reported when its ratios lie below
    the usual ones — those of most of the neighbouring hours (up to ``context_hours`` on each side, and at least as
    many hours as the stretch) — by as much.  The pollutant whose ratios to all references moved is the one named;
    values below five resolution steps count as five steps (an intercept pulled to zero still shows).  Upward
    stretches are reported only with ``report_up``: they do not hide emissions, and a genuine upset of one
    pollutant looks the same."""
    if pd.minute is None:
        return []
    flow = pd.flow_code()
    pollutants = pd.analysers()
    # other pollutants are the best references (same dilution, same load); the flow only when they are too few
    refs_all = pollutants + ([flow] if flow and len(pollutants) < 3 else [])
    if len(refs_all) < 3:
        return []
    hours, h = _hourly_matrix(pd, refs_all)
    n = hours.size
    logs: dict[str, Values] = {}
    for c in refs_all:
        floor = 5 * max(pd.resolution(c), 1e-9)
        with np.errstate(invalid="ignore", divide="ignore"):
            logs[c] = np.where(np.isfinite(h[c]), np.log(np.maximum(h[c], floor)), np.nan)
    base_w = int(p["smooth_hours"])
    ctx = int(p["context_hours"])
    out: list[Finding] = []
    for code in pollutants:
        refs = [r for r in refs_all if r != code]
        if len(refs) < 2:
            continue
        lr = np.vstack([logs[code] - logs[r] for r in refs])
        if (np.isfinite(lr).sum(axis=1) < max(48, 4 * base_w)).any():
            continue
        found: list[tuple[int, int, int, float, list[float]]] = []
        for w in (base_w, 2 * base_w):
            if n < 4 * w:
                continue
            d = np.vstack([_step_statistic(row, w) for row in lr])
            with np.errstate(invalid="ignore"):
                dm = d.mean(axis=0)
                lo = np.where(dm >= 0, d.min(axis=0), d.max(axis=0))
            scale = _step_noise(dm, w)
            if not np.isfinite(scale):
                continue
            thr = max(p["min_log_shift"], p["robust_k"] * scale)
            cuts = sorted({0, n, *_steps(dm, lo, thr, bridge=w // 2)})
            segments = list(itertools.pairwise(cuts))
            levels = [_level(lr[:, a:b], max(2, min(b - a, int(p["min_hours"])) // 2)) for a, b in segments]
            for i, (a, b) in enumerate(segments):
                if b - a < p["min_hours"] or not np.isfinite(levels[i]).all():
                    continue
                # the usual ratio: the level of most of the neighbouring hours (other stretches within the context)
                near = [
                    (j, max(x, a - ctx), min(y, b + ctx))
                    for j, (x, y) in enumerate(segments)
                    if j != i and min(y, b + ctx) > max(x, a - ctx) and np.isfinite(levels[j]).all()
                ]
                if not near:
                    continue
                usual = _usual_level(
                    lr,
                    [(x, y) for _, x, y in near],
                    [levels[j] for j, _, _ in near],
                    thr,
                    w,
                    min(b - a, ctx),
                )
                if np.isfinite(usual).sum() < usual.size:
                    continue
                shift = levels[i] - usual
                sign = -1 if float(shift.mean()) < 0 else 1
                if sign * float(shift.mean()) <= thr or (sign * shift <= 0.5 * thr).any():
                    continue
                if sign > 0 and (not p["report_up"] or i == 0 or i == len(segments) - 1):
                    continue  # an upward stretch at either end is more likely the other side of a drop
                if any(a < y and b > x for x, y, *_ in found):
                    continue  # the same stretch, seen at the other scale
                found.append((a, b, sign, thr, [float(x) for x in shift]))
        merged: list[tuple[int, int, int, float, list[float]]] = []
        for item in sorted(found):
            last = merged[-1] if merged else None
            if last is not None and last[2] == item[2] and item[0] <= last[1]:
                merged[-1] = (last[0], max(last[1], item[1]), last[2], last[3], last[4])
            else:
                merged.append(item)
        for a, b, sign, thr, moved in merged:
            direction = "down" if sign < 0 else "up"
            before = h[code][max(0, a - ctx) : a]  # for the evidence only
            during = h[code][a:b]
            factor = (
                float(np.nanmedian(during) / np.nanmedian(before))
                if np.isfinite(before).any() and np.isfinite(during).any()
                else float("nan")
            )
            ratio = float(np.exp(np.mean(moved)))
            out.append(
                Finding(
                    pd.mn,
                    code,
                    "ratio_shift",
                    "tampering",
                    "high",
                    int(hours[a]),
                    int(hours[b - 1]) + 3600,
                    f"{code} 与其他通道的比例{'下降' if direction == 'down' else '上升'}，工况未变 | "
                    f"ratio to every other channel shifted {direction} (×{ratio:.2f}) without a process change",
                    {
                        "references": refs,
                        "direction": direction,
                        "ratio_factor": num(ratio),
                        "log_shifts": [num(x) for x in moved],
                        "level_factor": num(factor),
                        "threshold": num(thr),
                        "rule": f"median log ratio to all references steps by > max({p['min_log_shift']}, "
                        f"{p['robust_k']}×scale) and stays for ≥ {p['min_hours']} h",
                    },
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------- F4
@register(
    "o2_ambient",
    version=1,
    category="tampering",
    title_zh="运行中氧含量接近空气（探头/采样管异常）",
    title_en="O2 near ambient while the stack runs",
    source="qc.md F4 (175号 Art. 4(2),(5))",
    params=(
        Param("o2_threshold", 20.0, "O2 at or above this (%) counts as room air", 0),
        Param("min_minutes", 15, "shortest run reported, minutes", 1),
    ),
)
def o2_ambient(pd: PointData, p: Params) -> list[Finding]:
    """Valid (N) O2 at room-air level while flow (and temperature) show a running stack: the probe or sampling line
    takes ambient air (pulled, leaking or diverted).  Honest maintenance and calibration carry M or C flags and are
    not judged here."""
    s = pd.minute
    if s is None or O2_CODE not in s.channels or pd.flow_code() is None:
        return []
    o2 = s.channels[O2_CODE]
    mask = pd.valid(O2_CODE) & pd.running() & (np.nan_to_num(o2.avg) >= p["o2_threshold"])
    if TEMP_CODE in s.channels:
        t = s.channels[TEMP_CODE].avg
        run_t = t[pd.running() & np.isfinite(t)]
        if run_t.size:
            mask &= np.nan_to_num(t) >= 0.6 * float(np.median(run_t))
    ev: dict[str, Any] = {"rule": f"O2 ≥ {p['o2_threshold']} % with flow of a running stack"}
    out = minute_findings(
        pd,
        mask,
        check="o2_ambient",
        category="tampering",
        severity="high",
        pollutant=O2_CODE,
        message="运行中氧含量 {minutes} 分钟接近空气 | O2 at room-air level for {minutes} min while running",
        evidence=ev,
        min_slots=_slots(pd, p["min_minutes"]),
        bridge=_slots(pd, 3),
        values=o2.avg,
    )
    return out


# ---------------------------------------------------------------------------------------------------------- F10
@register(
    "o2_shift",
    version=1,
    category="tampering",
    title_zh="氧含量偏低（折算值被压低）",
    title_en="O2 understated (converted values lowered)",
    source="qc.md F10 (杨先锋 2022); HJ 75-2017 reference-O2 conversion",
    params=(
        Param("min_shift", 1.0, "smallest drop of O2 below its expected value, %-points", 0),
        Param("robust_k", 4.0, "and more than this many robust scales of the residual", 0),
        Param("min_hours", 4, "shortest run reported, hours", 1),
        Param("smooth_hours", 3, "hours in the rolling mean of the residual", 1),
    ),
)
def o2_shift(pd: PointData, p: Params) -> list[Finding]:
    """Hourly O2 falling well below what the point's own O2–flow relation predicts, for ``min_hours`` or more.  O2
    follows load (more excess air at low load); an O2 reading lowered by a changed analyser or a diluting
    (N2) injection makes the converted concentration fall while the process is unchanged."""
    if pd.minute is None or O2_CODE not in pd.minute.channels or pd.info.reference_o2 is None:
        return []
    flow = pd.flow_code()
    if flow is None:
        return []
    hours, h = _hourly_matrix(pd, [O2_CODE, flow])
    x, y = h[flow], h[O2_CODE]
    ok = np.isfinite(x) & np.isfinite(y) & (y < 19.0)
    if ok.sum() < 48:
        return []
    fit = ok.copy()
    resid = np.full(y.size, np.nan)
    for _ in range(3):  # robust refit: drop hours far from the fit
        a, b = np.polyfit(x[fit], y[fit], 1)
        resid = y - (a * x + b)
        scale = 1.4826 * float(np.nanmedian(np.abs(resid[fit])))
        fit = ok & (np.abs(resid) <= max(3 * scale, 0.3))
        if fit.sum() < 24:
            return []
    scale = 1.4826 * float(np.nanmedian(np.abs(resid[ok])))
    dev = rolling_mean(np.where(ok, resid, np.nan), int(p["smooth_hours"]))
    thr = max(p["min_shift"], p["robust_k"] * scale)
    out: list[Finding] = []
    with np.errstate(invalid="ignore"):
        low = dev < -thr
    w = int(p["smooth_hours"])
    ref = pd.info.reference_o2
    for i0, i1 in runs(low, int(p["min_hours"]), bridge=1):
        j0 = max(0, i0 - w + 1)
        drop = float(-np.nanmean(resid[j0:i1]))
        o2m = float(np.nanmean(y[j0:i1]))
        effect = (21.0 - (o2m + drop)) / (21.0 - o2m) if o2m < 21 else float("nan")
        out.append(
            Finding(
                pd.mn,
                O2_CODE,
                "o2_shift",
                "tampering",
                "high",
                int(hours[j0]),
                int(hours[i1 - 1]) + 3600,
                f"氧含量比工况预期低 {drop:.1f} 个百分点，折算浓度被压低约 {1 - effect:.0%} | "
                f"O2 {drop:.1f} points below what the load predicts; converted values lowered by about {1 - effect:.0%}",
                {
                    "drop_points": num(drop, 2),
                    "o2_mean": num(o2m, 2),
                    "reference_o2": ref,
                    "converted_factor": num(effect),
                    "residual_scale": num(scale, 3),
                    "rule": f"hourly O2 − fit(flow) < −max({p['min_shift']}, {p['robust_k']}×scale) for ≥ {p['min_hours']} h",
                },
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------- F6
@register(
    "limit_bunching",
    version=1,
    category="tampering",
    title_zh="贴限排放（数值被截在限值以下）",
    title_en="bunching just under the limit (clipping)",
    source="qc.md F6 (Ghanem & Zhang 2014; 贴限排放)",
    params=(
        Param("band", 0.85, "lower edge of the band under the limit, fraction of the limit", 0),
        Param("share", 0.9, "share of valid minutes in the band", 0),
        Param("max_cv", 0.03, "coefficient of variation in the window at most", 0),
        Param("window_minutes", 180, "window, minutes", 10),
    ),
)
def limit_bunching(pd: PointData, p: Params) -> list[Finding]:
    """Converted values piled up in a narrow band just under the limit — ``share`` of the valid minutes of a window in
    [``band`` × limit, limit), none at or above it, and little variation — as when a logger's output is capped
    below the limit.  Honest operation close to the limit crosses it from time to time and varies more."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    width = _slots(pd, p["window_minutes"])
    run = pd.running()
    for code, limit in sorted(pd.info.limits.items()):
        if code not in pd.minute.channels:
            continue
        ok = pd.valid(code) & run
        c = np.where(ok, pd.converted(code), np.nan)
        n = rolling_sum(ok.astype(np.float64), width)
        with np.errstate(invalid="ignore", divide="ignore"):
            in_band = rolling_sum(((c >= p["band"] * limit) & (c < limit)).astype(np.float64), width)
            over = rolling_sum((c >= limit).astype(np.float64), width)
            m = rolling_mean(c, width)
            sd = np.sqrt(np.maximum(rolling_mean(c * c, width) - m * m, 0.0))
            end = (n >= 0.75 * width) & (in_band >= p["share"] * n) & (over == 0) & (sd / m <= p["max_cv"])
        mask = _expand(end, width) & ok
        for i0, i1 in runs(mask, width, bridge=_slots(pd, 30)):
            seg = c[i0:i1][np.isfinite(c[i0:i1])]
            out.append(
                span_finding(
                    pd,
                    code,
                    "limit_bunching",
                    "tampering",
                    "high",
                    i0,
                    i1,
                    f"{code} 折算值贴近限值 {fmt(limit)} 且从不超过（最高 {fmt(float(seg.max()))}）| "
                    f"values bunched just under the limit {fmt(limit)}, never above (max {fmt(float(seg.max()))})",
                    {
                        "limit": limit,
                        "max": num(float(seg.max())),
                        "mean": num(float(seg.mean())),
                        "cv": num(float(seg.std() / seg.mean()), 4),
                        "rule": f"≥ {p['share']:.0%} of minutes in [{p['band']}×limit, limit), none above, CV ≤ {p['max_cv']}",
                    },
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------- F7
def _tod(pd: PointData, t: int) -> int:
    return int(((t + pd.info.utc_offset) % 86400) // 60)


def _tod_distance(a: int, b: int) -> int:
    d = abs(a - b) % 1440
    return min(d, 1440 - d)


@register(
    "flag_cover",
    version=2,
    category="tampering",
    title_zh="虚假标记（校准/维护标记掩盖超标）",
    title_en="calibration or maintenance flags covering exceedances",
    source="qc.md F7 (虚假标记; Wang et al. 2022; MEE 2022 No. 21)",
    params=(
        Param("near_limit", 0.8, "values around the episode at least this fraction of the limit", 0),
        Param(
            "routine_minutes",
            90,
            "a calibration starting this far from the routine time of day is unusual",
            1,
        ),
        Param("context_minutes", 60, "minutes before and after an episode that show the process level", 1),
        Param(
            "min_values",
            6,
            "values an episode needs for its contents to be judged (fewer cannot show test-gas plateaus)",
            3,
        ),
    ),
)
def flag_cover(pd: PointData, p: Params) -> list[Finding]:
    """Episodes flagged C (calibration), M (maintenance) or D (fault) that hide the process rather than test the
    analyser: (a) the values inside look like process data (they vary like the process, not zero-gas and span-gas
    plateaus or room air) and exceed the limit; or (b) the episode departs from the point's routine (a
    calibration at an unusual time of day, or maintenance) while the process around it is at or above
    ``near_limit`` × limit.  An episode of fewer than ``min_values`` values (a routine 15-minute calibration sent
    as three 5-minute values) cannot show its plateaus, so its contents are not judged."""
    s = pd.minute
    if s is None:
        return []
    out: list[Finding] = []
    ctx = _slots(pd, p["context_minutes"])
    for code, limit in sorted(pd.info.limits.items()):
        if code not in s.channels:
            continue
        ch = s.channels[code]
        conv = pd.converted(code)
        flagged = np.isin(ch.flag, ["C", "M", "D"])
        episodes = runs(flagged, 1, bridge=2)
        if not episodes:
            continue
        cal = [(i0, i1) for i0, i1 in episodes if (ch.flag[i0:i1] == "C").mean() > 0.5]
        routine = int(np.median([_tod(pd, s.start + s.step * i0) for i0, _ in cal])) if cal else None
        ok = pd.valid(code) & pd.running()
        v_ok = pd.running_values(code)
        _, rel = _roughness(v_ok, 60)
        proc_rough = float(np.nanmedian(rel))
        level = float(np.nanmedian(v_ok)) if np.isfinite(v_ok).any() else float("nan")
        for i0, i1 in episodes:
            vals = ch.avg[i0:i1]
            fin = np.isfinite(vals)
            if fin.sum() < max(3, p["min_values"]) or not np.isfinite(level):
                continue
            near_zero = vals[fin] <= 0.05 * max(level, 1e-9)
            # test gases give plateaus: steps that are tiny against the episode's top value
            d = np.abs(np.diff(vals[fin]))
            top = max(float(np.max(np.abs(vals[fin]))), 1e-9)
            plateau = float(np.median(d)) / top < 0.5 * proc_rough if d.size >= 2 else True
            process_like = (not plateau) and near_zero.mean() < 0.3
            inside = float(np.nanmean(conv[i0:i1])) if np.isfinite(conv[i0:i1]).any() else float("nan")
            around = np.concatenate(
                (np.where(ok, conv, np.nan)[max(0, i0 - ctx) : i0], np.where(ok, conv, np.nan)[i1 : i1 + ctx])
            )
            around_mean = float(np.nanmean(around)) if np.isfinite(around).any() else float("nan")
            letter = str(np.unique(ch.flag[i0:i1])[0])
            tod = _tod(pd, s.start + s.step * i0)
            unusual = letter != "C" or routine is None or _tod_distance(tod, routine) > p["routine_minutes"]
            reason = None
            if process_like and inside > limit:
                reason = "values inside the episode are process data above the limit"
            elif (
                unusual
                and np.isfinite(around_mean)
                and around_mean >= p["near_limit"] * limit
                and process_like
            ):
                reason = "unusual episode while the process around it is near or above the limit"
            if reason is None:
                continue
            out.append(
                span_finding(
                    pd,
                    code,
                    "flag_cover",
                    "tampering",
                    "high",
                    i0,
                    i1,
                    f"{code} 标记 {letter} {(i1 - i0) * s.step // 60} 分钟，疑似虚假标记 | "
                    f"{letter}-flagged episode that looks like a cover: {reason}",
                    {
                        "flags": sorted(set(ch.flag[i0:i1].tolist())),
                        "inside_mean": num(inside),
                        "around_mean": num(around_mean),
                        "limit": limit,
                        "routine_time_of_day": f"{routine // 60:02d}:{routine % 60:02d}"
                        if routine is not None
                        else None,
                        "time_of_day": f"{tod // 60:02d}:{tod % 60:02d}",
                        "plateau": plateau,
                        "rule": reason,
                    },
                )
            )
    return out


@register(
    "stop_while_running",
    version=2,
    category="tampering",
    title_zh="标停未停",
    title_en="flagged stopped while running",
    source="qc.md F7 (标停未停; 2026 paper DOI 10.19850/j.cnki.2096-4706.2026.04.023)",
    params=(
        Param(
            "flow_fraction",
            0.25,
            "flow at least this fraction of the typical running flow (a stopped plant is below a quarter)",
            0,
        ),
        Param("min_minutes", 15, "shortest run reported, minutes", 1),
    ),
)
def stop_while_running(pd: PointData, p: Params) -> list[Finding]:
    """Data flagged F (stopped) while the flow stays at running level (and, on flue gas, O2 stays below 19 %): the
    process was declared stopped but kept running, so its data escape judgement."""
    s = pd.minute
    flow = pd.flow_code()
    if s is None or flow is None:
        return []
    fch = s.channels[flow]
    flags = np.zeros(s.size, dtype=bool)
    for ch in s.channels.values():
        flags |= ch.flag == "F"
    normal = np.isfinite(fch.avg) & ~flags
    if normal.sum() < 60:
        return []
    typical = float(np.quantile(fch.avg[normal], 0.75))
    mask = flags & (np.nan_to_num(fch.avg) >= p["flow_fraction"] * typical)
    if O2_CODE in s.channels:
        mask &= np.nan_to_num(s.channels[O2_CODE].avg, nan=21.0) < 19.0
    return minute_findings(
        pd,
        mask,
        check="stop_while_running",
        category="tampering",
        severity="high",
        pollutant=None,
        message="标记停运 {minutes} 分钟但流量显示仍在运行 | flagged stopped for {minutes} min while the flow shows operation",
        evidence={"typical_flow": num(typical), "rule": f"F flag with flow ≥ {p['flow_fraction']}× typical"},
        min_slots=_slots(pd, p["min_minutes"]),
        bridge=_slots(pd, 5),
        values=fch.avg,
    )


# ---------------------------------------------------------------------------------------------------------- F8
_P = np.uint64(0x100000001B3)


def window_hashes(q: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of every window of ``k`` consecutive quantised values (index = window start)."""
    n = q.size - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.full(n, np.uint64(0xCBF29CE484222325))
    u = q.astype(np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = (h ^ u[j : j + n]) * _P
            h ^= h >> np.uint64(29)
    return h


def _quantised_windows(
    pd: PointData, code: str, k: int, min_distinct: int
) -> tuple[npt.NDArray[np.uint64], Mask]:
    """Hashes of the ``k``-windows of a channel and which of them are usable (all valid, varied enough)."""
    assert pd.minute is not None
    ch = pd.minute.channels[code]
    res = max(pd.resolution(code), 1e-6)
    ok = pd.valid(code)
    q = np.where(ok, np.round(np.nan_to_num(ch.avg) / res), -1).astype(np.int64)
    h = window_hashes(q, k)
    if h.size == 0:
        return h, np.zeros(0, dtype=bool)
    win = np.lib.stride_tricks.sliding_window_view(q, k)
    usable = np.lib.stride_tricks.sliding_window_view(ok, k).all(axis=1)
    s = np.sort(win, axis=1)
    distinct = 1 + (np.diff(s, axis=1) != 0).sum(axis=1)
    usable &= distinct >= min_distinct
    return h, usable


def _matches(
    ha: npt.NDArray[np.uint64], ua: Mask, hb: npt.NDArray[np.uint64], ub: Mask
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index pairs (i in a, j in b) of usable windows with equal hashes."""
    ia = np.flatnonzero(ua)
    ib = np.flatnonzero(ub)
    if ia.size == 0 or ib.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(hb[ib], kind="stable")
    sorted_b = hb[ib][order]
    pos = np.searchsorted(sorted_b, ha[ia])
    pos = np.minimum(pos, sorted_b.size - 1)
    hit = sorted_b[pos] == ha[ia]
    # only the first equal window of b per window of a: enough to prove the copy
    return ia[hit], ib[order[pos[hit]]]


@register(
    "replay",
    version=2,
    category="tampering",
    title_zh="数据回放（复制其他时段数据）",
    title_en="replayed data (copied from another period)",
    source="qc.md F8 (175号 Art. 5(5)); research/qc.md #45",
    params=(
        Param("window", 10, "consecutive values that must repeat exactly", 3),
        Param("min_distinct", 5, "windows with fewer distinct values are ignored (constant data)", 2),
        Param(
            "min_channels",
            2,
            "channels that must repeat at the same offset (fewer if the point has fewer)",
            1,
        ),
    ),
)
def replay(pd: PointData, p: Params) -> list[Finding]:
    """Runs of ``window`` consecutive valid values that repeat exactly, at the same time offset on at least
    ``min_channels`` channels (analysers or process channels: flow, temperature, pH …), data of an earlier period
    of the same point: the later copy is reported with the period it was copied from.  Constant stretches are
    ignored (see flat line).  Process channels count too: a replayed record repeats them as well, and they still
    vary where the analysers are coarse or flagged (a copied calibration or maintenance)."""
    s = pd.minute
    if s is None:
        return []
    k = int(p["window"])
    codes = pd.codes()
    need = min(int(p["min_channels"]), len(codes))
    votes: dict[tuple[int, int], set[str]] = {}
    for code in codes:
        h, u = _quantised_windows(pd, code, k, int(p["min_distinct"]))
        if h.size == 0:
            continue
        # group equal hashes; pair each later window with the first earlier one
        order = np.argsort(h, kind="stable")
        hs = h[order]
        us = u[order]
        same = (hs[1:] == hs[:-1]) & us[1:] & us[:-1]
        for a, b in zip(order[:-1][same].tolist(), order[1:][same].tolist(), strict=True):
            i, j = (a, b) if a < b else (b, a)
            if j - i >= k:
                votes.setdefault((j, j - i), set()).add(code)
    hits = sorted((j, off) for (j, off), cs in votes.items() if len(cs) >= need)
    out: list[Finding] = []
    by_offset: dict[int, list[int]] = {}
    for j, off in hits:
        by_offset.setdefault(off, []).append(j)
    for off, starts in sorted(by_offset.items()):
        mask = np.zeros(s.size, dtype=bool)
        for j in starts:
            mask[j : j + k] = True
        for i0, i1 in runs(mask, k):
            out.append(
                span_finding(
                    pd,
                    None,
                    "replay",
                    "tampering",
                    "critical",
                    i0,
                    i1,
                    f"{(i1 - i0) * s.step // 60} 分钟数据与 {off * s.step / 3600:.1f} 小时前完全相同 | "
                    f"data identical to the same point {off * s.step / 3600:.1f} h earlier",
                    {
                        "copied_from_start": int(s.start + s.step * (i0 - off)),
                        "copied_from_end": int(s.start + s.step * (i1 - off)),
                        "offset_s": int(off * s.step),
                        "channels": sorted(set().union(*(votes[(j, off)] for j in starts))),
                        "rule": f"{k} consecutive values repeat exactly on ≥ {need} channel(s)",
                    },
                )
            )
    return out


def _jump(v: Values, i0: int, i1: int) -> float:
    """How discontinuous a stretch is with its surroundings: the steps into and out of it, relative to the
    channel's median step.  Each step is also taken over two slots (skipping the slot next to the stretch), relative
    to the median two-slot step, and the larger ratio counts: on 5- or 10-minute data the slot where a copy begins
    or ends is partly copied, which halves the one-slot step."""
    n = v.size
    ratios = []
    res = resolution(v)  # a channel that rarely moves: a step of one resolution step is not a break
    for lag in (1, 2):
        if n <= lag:
            continue
        d = np.abs(v[lag:] - v[:-lag])
        typical = float(np.nanmedian(d)) if np.isfinite(d).any() else 0.0
        typical = max(typical, res) or 1e-9
        # into the stretch: v[i0 − lag] → v[i0]; out of it: v[i1 − 1] → v[i1 − 1 + lag]
        steps = [d[i0 - lag] if lag <= i0 < n else np.nan, d[i1 - 1] if 0 < i1 <= d.size else np.nan]
        ratios.append([x / typical for x in steps])
    per_side = [_finite_max([r[k] for r in ratios]) for k in (0, 1)]
    fin = [x for x in per_side if np.isfinite(x)]
    return float(np.mean(fin)) if fin else float("nan")


def _finite_max(xs: list[float]) -> float:
    fin = [x for x in xs if np.isfinite(x)]
    return float(max(fin)) if fin else float("nan")


def _finite_mean(xs: list[float]) -> float:
    fin = [x for x in xs if np.isfinite(x)]
    return float(np.mean(fin)) if fin else float("nan")


@register(
    "cross_point_copy",
    version=3,
    category="tampering",
    title_zh="不同点位数据雷同",
    title_en="data identical across points",
    source="qc.md F8 (175号 Art. 5(5))",
    params=(
        Param("window", 10, "consecutive values that must be identical", 3),
        Param("min_distinct", 5, "windows with fewer distinct values are ignored", 2),
        Param("min_channels", 2, "channels that must match at the same offset", 1),
    ),
    scope="fleet",
)
def cross_point_copy(points: list[PointData], p: Params) -> list[Finding]:
    """Stretches of ``window`` consecutive valid values that are identical at two different points, on at least
    ``min_channels`` channels with the same code and time offset.  The point whose stretch breaks off from its own
    surroundings is named as the copy — by the steps of the copied analysers into and out of the stretch, or, when
    they cannot tell (on 5- or 10-minute data the steps of similar plants are alike), by those of the process
    channels both points have (a copied record carries its flow, temperature and O2 too); the stretches of one pair
    and offset that gaps cut apart are one copy, named by whichever of them tells (both points are named when none
    does)."""
    k = int(p["window"])
    index: list[tuple[int, str, npt.NDArray[np.uint64], Mask]] = []
    for n, pd in enumerate(points):
        if pd.minute is None:
            continue
        for code in pd.analysers():
            h, u = _quantised_windows(pd, code, k, int(p["min_distinct"]))
            if h.size:
                index.append((n, code, h, u))
    by_code: dict[str, list[tuple[int, npt.NDArray[np.uint64], Mask]]] = {}
    for n, code, h, u in index:
        by_code.setdefault(code, []).append((n, h, u))
    votes: dict[tuple[int, int, int], dict[int, set[str]]] = {}
    for code, entries in by_code.items():
        for x in range(len(entries)):
            for y in range(x + 1, len(entries)):
                na, ha, ua = entries[x]
                nb, hb, ub = entries[y]
                ia, ib = _matches(ha, ua, hb, ub)
                sa = points[na].minute
                sb = points[nb].minute
                assert sa is not None and sb is not None
                for i, j in zip(ia.tolist(), ib.tolist(), strict=True):
                    off = (sb.start + sb.step * j) - (sa.start + sa.step * i)
                    votes.setdefault((na, nb, off), {}).setdefault(i, set()).add(code)
    out: list[Finding] = []
    for (na, nb, off), per in votes.items():
        a, b = points[na], points[nb]
        need = min(int(p["min_channels"]), len(a.analysers()), len(b.analysers()))
        starts = [i for i, cs in per.items() if len(cs) >= need]
        if not starts:
            continue
        sa = a.minute
        sb = b.minute
        assert sa is not None and sb is not None
        mask = np.zeros(sa.size, dtype=bool)
        for i in starts:
            mask[i : i + k] = True
        chans = sorted(set().union(*(per[i] for i in starts)))
        pieces: list[tuple[int, int, int, int, float, float, str]] = []
        # the process channels both points have (flow, temperature, O2 …): a copied record often carries them too
        process = sorted((set(a.codes()) & set(b.codes())) - set(a.analysers()) - set(b.analysers()))
        for i0, i1 in runs(mask, k):
            j0 = i0 + (sa.start - sb.start + off) // sb.step
            j1 = j0 + (i1 - i0)
            side = "both"
            tiers = [
                (
                    _finite_mean([_jump(sa.channels[c].avg, i0, i1) for c in codes]),
                    _finite_mean([_jump(sb.channels[c].avg, j0, j1) for c in codes]),
                )
                for codes in (
                    chans,
                    process,
                )  # the copied analysers first; the process channels when they cannot tell
            ]
            ja, jb = tiers[0]
            for xa, xb in tiers:
                if np.isfinite(xa) and np.isfinite(xb) and (xa >= 2 * xb or xb >= 2 * xa):
                    side = "a" if xa > xb else "b"
                    ja, jb = xa, xb
                    break
            pieces.append((i0, i1, j0, j1, ja, jb, side))
        # pieces of one copy (same pair and offset, cut by gaps) are one act: where some piece tells the copy, the
        # pieces that cannot tell are the same point's
        told = {x[6] for x in pieces} - {"both"}
        for i0, i1, j0, j1, jump_a, jump_b, side in pieces:
            if side == "both" and len(told) == 1:
                side = next(iter(told))
            named = []
            if side in ("a", "both"):
                named.append((a, i0, i1, b, j0))
            if side in ("b", "both"):
                named.append((b, j0, j1, a, i0))
            for me, k0, k1, other, o0 in named:
                ms = me.minute
                os_ = other.minute
                assert ms is not None and os_ is not None
                out.append(
                    span_finding(
                        me,
                        None,
                        "cross_point_copy",
                        "tampering",
                        "critical",
                        k0,
                        k1,
                        f"{(k1 - k0) * ms.step // 60} 分钟数据与点位 {other.mn} 完全相同 | "
                        f"data identical to point {other.mn}",
                        {
                            "other_mn": other.mn,
                            "other_start": int(os_.start + os_.step * o0),
                            "channels": chans,
                            "discontinuity": num(jump_a if me is a else jump_b),
                            "rule": f"{k} consecutive values identical on ≥ {need} channel(s)",
                        },
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------------------- digits
@register(
    "digit_preference",
    version=1,
    category="tampering",
    title_zh="人为编造数据（尾数偏好）",
    title_en="hand-made numbers (digit preference, rounding)",
    source="qc.md 6.6 (175号 Art. 4(10),(12)); digit-preference tests of fabricated data",
    params=(
        Param(
            "share", 0.6, "share of last digits 0 or 5 (at the channel's resolution) that is suspicious", 0
        ),
        Param("window_minutes", 360, "window, minutes", 30),
        Param("min_span_steps", 10, "the window's values must span at least this many resolution steps", 1),
    ),
)
def digit_preference(pd: PointData, p: Params) -> list[Finding]:
    """Valid values whose last digit at the channel's reporting resolution is 0 or 5 far more often than the 20 %
    of measured data (rounded or invented numbers), over a window whose values vary enough for digits to be
    uniform."""
    s = pd.minute
    if s is None:
        return []
    out: list[Finding] = []
    width = _slots(pd, p["window_minutes"])
    for code in pd.analysers():
        ch = s.channels[code]
        ok = pd.valid(code) & pd.running()
        res = pd.resolution(code)
        if res <= 0:
            continue
        q = np.round(np.nan_to_num(ch.avg) / res).astype(np.int64)
        d05 = ok & ((q % 5) == 0)
        n = rolling_sum(ok.astype(np.float64), width)
        share = rolling_sum(d05.astype(np.float64), width) / np.maximum(n, 1)
        span = rolling_range(pd.running_values(code), width - 1) / res
        with np.errstate(invalid="ignore"):
            end = (n >= 0.5 * width) & (share >= p["share"]) & (span >= p["min_span_steps"])
        mask = _expand(end, width) & ok
        for i0, i1 in runs(mask, width, bridge=_slots(pd, 30)):
            qq = q[i0:i1][ok[i0:i1]]
            hist = np.bincount(qq % 10, minlength=10)
            out.append(
                span_finding(
                    pd,
                    code,
                    "digit_preference",
                    "tampering",
                    "high",
                    i0,
                    i1,
                    f"{code} 尾数 0/5 占 {hist[[0, 5]].sum() / max(1, hist.sum()):.0%}，疑似人为编造 | "
                    f"last digits 0 or 5 in {hist[[0, 5]].sum() / max(1, hist.sum()):.0%} of values (20 % expected)",
                    {
                        "last_digit_counts": hist.tolist(),
                        "resolution": num(res, 6),
                        "rule": f"share of last digit 0/5 ≥ {p['share']} over {p['window_minutes']} min",
                    },
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------- F9
@register(
    "gap_load",
    version=2,
    category="tampering",
    title_zh="高负荷时段数据缺失（选择性删除）",
    title_en="gaps concentrated at high load",
    source="qc.md F9 (175号 Art. 4(8),(11); Wang et al. 2022)",
    params=(
        Param("min_gap_hours", 6, "hours with missing minutes needed in a window", 2),
        Param("z", 3.5, "rank-test z score (gap hours' flow above the others)", 0),
        Param("window_hours", 48, "window of the test, hours", 12),
        Param("min_missing_minutes", 5, "an hour with at least this many missing minutes is a gap hour", 1),
    ),
)
def gap_load(pd: PointData, p: Params) -> list[Finding]:
    """Missing minute data concentrated in the hours of highest flow: in a ``window_hours`` window the hours with
    missing minutes rank far above the complete hours by flow (Mann–Whitney z ≥ ``z``).  The flow of an hour is
    its reported hourly value (2061), or the mean of its minutes that did arrive.  Random network gaps do not rank
    high."""
    s = pd.minute
    flow = pd.flow_code()
    if s is None or flow is None:
        return []
    starts, idx = pd.hour_grid()
    first, n = int(starts[0]), starts.size
    expected = 3600 // s.step
    present = np.bincount(idx[s.present], minlength=n)
    missing = expected - present
    fch = s.channels[flow]
    okf = np.isfinite(fch.avg) & (fch.flag != "F")
    with np.errstate(invalid="ignore", divide="ignore"):
        fmean = np.bincount(idx[okf], weights=fch.avg[okf], minlength=n) / np.bincount(idx[okf], minlength=n)
    # hours whose minutes are gone take the flow next to their gaps (what the process did when data stopped)
    edge_sum = np.zeros(n)
    edge_n = np.zeros(n)
    for g0, g1 in runs(~s.present):
        edge = [fch.avg[i] for i in (g0 - 1, g1) if 0 <= i < s.size and okf[i]]
        if edge:
            hs_ = np.unique(idx[g0:g1])
            edge_sum[hs_] += float(np.mean(edge))
            edge_n[hs_] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        fmean = np.where(edge_n > 0, edge_sum / edge_n, fmean)
    if pd.hour is not None and flow in pd.hour.channels:
        hs = pd.hour
        hi = (hs.times - first) // 3600
        sel = (hi >= 0) & (hi < n) & np.isfinite(hs.channels[flow].avg)
        fmean[hi[sel]] = hs.channels[flow].avg[sel]
    stopped = np.bincount(idx[np.isin(fch.flag, ["F"])], minlength=n) > expected // 2
    # missing slots in minutes: on 5- or 10-minute data one lost slot is 5 or 10 missing minutes
    gap = (missing * s.step >= 60 * p["min_missing_minutes"]) & np.isfinite(fmean) & ~stopped
    full = (missing == 0) & np.isfinite(fmean) & ~stopped
    w = int(p["window_hours"])
    flagged = np.zeros(n, dtype=bool)
    best_z = np.full(n, np.nan)
    for a in range(0, max(1, n - w + 1), max(1, w // 4)):
        g = np.flatnonzero(gap[a : a + w]) + a
        f = np.flatnonzero(full[a : a + w]) + a
        if g.size < p["min_gap_hours"] or f.size < 6:
            continue
        allv = np.concatenate((fmean[g], fmean[f]))
        ranks = allv.argsort().argsort() + 1.0
        r_g = ranks[: g.size].sum()
        n1, n2 = g.size, f.size
        mu = n1 * (n1 + n2 + 1) / 2.0
        sd = np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0)
        z = (r_g - mu) / sd
        if z >= p["z"]:
            flagged[g] = True
            best_z[g] = np.fmax(best_z[g], z)
    out: list[Finding] = []
    for i0, i1 in runs(flagged, 1, bridge=24):
        gh = np.flatnonzero(flagged[i0:i1]) + i0
        out.append(
            Finding(
                pd.mn,
                None,
                "gap_load",
                "tampering",
                "high",
                int(starts[i0]),
                int(starts[i1 - 1]) + 3600,
                f"{gh.size} 个缺数小时集中在高负荷时段 | {gh.size} hours with missing data concentrated at high flow",
                {
                    "gap_hours": [int(starts[i]) for i in gh],
                    "missing_minutes": [int(missing[i]) * s.step // 60 for i in gh],
                    "z": num(float(np.nanmax(best_z[i0:i1])), 2),
                    "gap_hour_flow_mean": num(float(np.nanmean(fmean[gh]))),
                    "complete_hour_flow_mean": num(float(np.nanmean(fmean[full]))),
                    "rule": f"Mann–Whitney z ≥ {p['z']} in a {w} h window with ≥ {p['min_gap_hours']} gap hours",
                },
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------- F11
def _block_means(v: Values, block: int) -> Values:
    n = v.size // block
    if n == 0:
        return np.zeros(0)
    m = v[: n * block].reshape(n, block)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(m).sum(axis=1)
        out: Values = np.where(ok >= block // 2, np.nansum(m, axis=1) / np.maximum(ok, 1), np.nan)
    return out


def _lag_corr(x: Values, y: Values, max_lag: int) -> Values:
    """corr(x[t], y[t + L]) for L in −max_lag..max_lag (NaN-aware, per lag)."""
    out = np.full(2 * max_lag + 1, np.nan)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        if abs(lag) >= min(x.size, y.size):
            continue  # less data than the lag (a short window)
        if lag >= 0:
            a, b = x[: x.size - lag], y[lag:]
        else:
            a, b = x[-lag:], y[: y.size + lag]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 20:
            continue
        aa, bb = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
        den = np.sqrt((aa * aa).sum() * (bb * bb).sum())
        if den > 0:
            out[i] = float((aa * bb).sum() / den)
    return out


@register(
    "time_shift",
    version=1,
    category="tampering",
    title_zh="时间平移",
    title_en="time shift",
    source="qc.md F11 (175号 Art. 5(4)); HJ 212-2017 QN vs DataTime",
    params=(
        Param("block_minutes", 5, "block of the cross-correlation, minutes", 1),
        Param("max_lag_minutes", 120, "largest lag searched, minutes", 10),
        Param("min_lag_minutes", 15, "smallest lag reported, minutes", 1),
        Param("min_corr", 0.4, "the shifted correlation must reach this", 0),
        Param("gain", 0.2, "and beat the correlation at lag 0 by this much", 0),
        Param(
            "clock_offset_s",
            300,
            "a steady difference between QN and the data time above this is reported",
            1,
        ),
    ),
)
def time_shift(pd: PointData, p: Params) -> list[Finding]:
    """Two signatures of shifted times: (1) per day, the analyser's changes follow the process channel (flow)
    best at a lag of ``min_lag_minutes`` or more while the point's data as a whole line up at lag 0 — the pollutant
    record was moved in time; (2) the logger's send time (QN) differs steadily from the data time by more than
    ``clock_offset_s`` for an hour or more while frames arrive at their normal pace (not a back-fill burst)."""
    s = pd.minute
    if s is None:
        return []
    out: list[Finding] = []
    # (2) QN against DataTime
    lag = s.sent - (s.times + s.step)
    if np.isfinite(lag).sum() > 60:
        base = float(np.nanmedian(lag))
        width = _slots(pd, 60)
        m = rolling_mean(lag, width)
        sd = np.sqrt(np.maximum(rolling_mean(lag * lag, width) - m * m, 0.0))
        with np.errstate(invalid="ignore"):
            end = (np.abs(m - base) > p["clock_offset_s"]) & (sd < 30.0)
        mask = _expand(end, width) & s.present
        out += minute_findings(
            pd,
            mask,
            check="time_shift",
            category="tampering",
            severity="high",
            pollutant=None,
            message="数采仪时间与数据时间持续偏差 | data times steadily shifted from the logger's send times",
            evidence={
                "usual_delay_s": num(base),
                "rule": f"|QN − data time − usual| > {p['clock_offset_s']} s for ≥ 1 h",
            },
            min_slots=width,
            values=lag,
        )
    # (1) analyser against the process
    flow = pd.flow_code()
    if flow is None:
        return out
    block = _slots(pd, p["block_minutes"])
    max_lag = max(1, int(p["max_lag_minutes"] * 60 // (block * s.step)))
    min_lag = max(1, round(p["min_lag_minutes"] * 60 / (block * s.step)))
    f = np.diff(_block_means(pd.running_values(flow), block))
    per_day = 86400 // (block * s.step)
    for code in pd.analysers():
        c = np.diff(_block_means(pd.running_values(code), block))
        flagged = []
        aligned = judged = 0
        half = per_day // 2
        for a in range(0, max(1, c.size - per_day + 1), half):
            r = _lag_corr(c[a : a + per_day], f[a : a + per_day], max_lag)
            if not np.isfinite(r).any():
                continue
            best = int(np.nanargmax(r))
            L = best - max_lag
            judged += 1
            if abs(L) <= 1 and r[best] >= p["min_corr"]:
                aligned += 1
            if (
                abs(L) >= min_lag
                and r[best] >= p["min_corr"]
                and r[best] - np.nan_to_num(r[max_lag]) >= p["gain"]
            ):
                flagged.append((a, L, float(r[best]), float(r[max_lag])))
        if judged < 3 or aligned < judged / 2:
            continue  # the point's data do not clearly line up at lag 0: the test cannot judge them
        # a real shift lasts: keep windows whose neighbouring window found the same lag
        flagged = [
            x
            for x in flagged
            if any(y is not x and abs(y[0] - x[0]) <= half and abs(y[1] - x[1]) <= 2 for y in flagged)
        ]
        if not flagged:
            continue
        mask = np.zeros(c.size + 1, dtype=bool)
        for a, *_ in flagged:
            mask[a : a + per_day] = True
        for i0, i1 in runs(mask, 1):
            here = [x for x in flagged if i0 <= x[0] < i1]
            lags = [x[1] for x in here]
            L = int(np.median(lags))
            out.append(
                Finding(
                    pd.mn,
                    code,
                    "time_shift",
                    "tampering",
                    "high",
                    int(s.start + s.step * block * i0),
                    int(min(s.end, s.start + s.step * block * (i1 + 1))),
                    f"{code} 与工况数据错位约 {L * block * s.step // 60} 分钟 | "
                    f"record shifted by about {L * block * s.step // 60} min against the process",
                    {
                        "lag_minutes": L * block * s.step // 60,
                        "corr_at_lag": num(max(x[2] for x in here)),
                        "corr_at_zero": num(min(x[3] for x in here)),
                        "rule": f"best lag ≥ {p['min_lag_minutes']} min, corr ≥ {p['min_corr']}, gain ≥ {p['gain']}",
                    },
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------- F12
_TWINS_ALLOWED = {frozenset({"a00000", "a01011"})}  # flow and velocity are one measurement


@register(
    "channel_twins",
    version=2,
    category="tampering",
    title_zh="不相关通道同步变化（信号替代）",
    title_en="unrelated channels moving identically",
    source="qc.md F12 (Mn-ore smelter case)",
    params=(
        Param("min_corr", 0.99, "correlation at least", 0),
        Param("max_ratio_cv", 0.01, "coefficient of variation of the ratio at most", 0),
        Param("min_cv", 0.02, "each channel must vary at least this much (CV)", 0),
        Param("window_minutes", 360, "window, minutes", 30),
        Param(
            "factor",
            3.0,
            "and the ratio's CV below the pair's own typical CV divided by this (channels that share their drivers "
            "move together honestly, the more so on 5- or 10-minute averages)",
            1,
        ),
    ),
)
def channel_twins(pd: PointData, p: Params) -> list[Finding]:
    """Two channels that should be only loosely related (a pollutant and another pollutant, the velocity, the
    temperature) moving in lockstep — correlation ≥ ``min_corr`` and a constant ratio — over a window: one
    analogue signal wired into several channels.  The ratio must also be steadier than the pair's own typical
    ratio (its median CV over all windows) by ``factor``: averaging 5 or 10 minutes removes much of the independent
    noise of channels that share load and dilution, and only a change of their relation is telling.  Flow and
    velocity are one measurement and are exempt."""
    s = pd.minute
    if s is None:
        return []
    codes = [c for c in pd.codes() if c.startswith(("a21", "a34", "a00000", "a01011", "a01012", "w"))]
    width = _slots(pd, p["window_minutes"])
    out: list[Finding] = []
    run = pd.running()
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            if frozenset({a, b}) in _TWINS_ALLOWED or (
                a[0] == "w" and b[0] == "w" and "w00000" not in (a, b) and a[:3] == b[:3] == "w01"
            ):
                continue
            if not (a in pd.analysers() or b in pd.analysers()):
                continue
            x_code, y_code = (a, b) if a in pd.analysers() else (b, a)  # name the analyser
            ok = pd.valid(x_code) & pd.valid(y_code) & run
            x = np.where(ok, s.channels[x_code].avg, np.nan)
            y = np.where(ok, s.channels[y_code].avg, np.nan)
            mx, my = rolling_mean(x, width), rolling_mean(y, width)
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = rolling_mean(x * y, width) - mx * my
                vx = np.maximum(rolling_mean(x * x, width) - mx * mx, 0.0)
                vy = np.maximum(rolling_mean(y * y, width) - my * my, 0.0)
                corr = cov / np.sqrt(vx * vy)
                ratio = x / y
                mr = rolling_mean(ratio, width)
                cvr = np.sqrt(np.maximum(rolling_mean(ratio * ratio, width) - mr * mr, 0.0)) / np.abs(mr)
                cvx, cvy = np.sqrt(vx) / np.abs(mx), np.sqrt(vy) / np.abs(my)
                n = rolling_sum(ok.astype(np.float64), width)
                full = n >= 0.75 * width
                usual_cv = float(np.nanmedian(cvr[full])) if np.isfinite(cvr[full]).any() else float("nan")
                end = (
                    full
                    & (corr >= p["min_corr"])
                    & (cvr <= p["max_ratio_cv"])
                    & (cvr * p["factor"] <= usual_cv)
                    & (cvx >= p["min_cv"])
                    & (cvy >= p["min_cv"])
                )
            mask = _expand(end, width) & ok
            for i0, i1 in runs(mask, width, bridge=_slots(pd, 30)):
                out.append(
                    span_finding(
                        pd,
                        x_code,
                        "channel_twins",
                        "tampering",
                        "high",
                        i0,
                        i1,
                        f"{x_code} 与 {y_code} 同步变化（相关系数 ≥ {p['min_corr']}，比值恒定）| "
                        f"{x_code} and {y_code} move in lockstep (constant ratio)",
                        {
                            "other": y_code,
                            "corr": num(float(np.nanmax(corr[i0:i1])), 4),
                            "ratio": num(float(np.nanmedian(ratio[i0:i1])), 5),
                            "usual_ratio_cv": num(usual_cv, 4),
                            "rule": f"corr ≥ {p['min_corr']}, ratio CV ≤ {p['max_ratio_cv']} and ≤ usual / "
                            f"{p['factor']:g}, each CV ≥ {p['min_cv']}",
                        },
                    )
                )
    return out
