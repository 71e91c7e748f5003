"""Validity and exceedance per the national rules (HJ 75-2017, HJ 212-2017, MEE 2022 No. 21).

* data flags other than N make a value invalid (:mod:`envtrust.qc.flags`);
* a valid hour needs ``min_valid_minutes`` (45) valid minute values; a valid day ``min_valid_hours`` (20) valid
  hours; hours in which the process is stopped (F) are not counted as missing;
* exceedance is judged on valid hourly (and daily) averages of the converted concentration (reference O2) against
  the point's limit; values flagged invalid or marked are never used for it.
"""

from __future__ import annotations

import numpy as np

from .catalogue import Finding, Param, Params, register
from .common import fmt, minute_findings, num
from .data import O2_CODE, Aggregate, Mask, PointData, overlapping, runs

__all__ = ["hourly_for_limit"]

_FLAG_TEXT = {
    "D": ("仪器故障", "instrument fault"),
    "T": ("超测定上限", "above the measuring range"),
    "B": ("通讯异常", "communication failure"),
    "S": ("手工输入设定值", "manually entered value"),
}


@register(
    "data_flags",
    version=1,
    category="validity",
    title_zh="数据标记无效",
    title_en="invalid data flags",
    source="HJ 212-2017 Table 8; HJ 75-2017",
    params=(Param("min_minutes", 1, "shortest run reported, minutes", 1),),
)
def data_flags(pd: PointData, p: Params) -> list[Finding]:
    """Runs of values flagged D (fault), T (over range), B (communication failure) or S (manually entered):
    invalid for averages and judgement.  F (stopped), C (calibration) and M (maintenance) are routine and are judged
    by the hourly validity and the false-flag checks instead.  A T flag is evidence that the value exceeded the
    measuring range."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    step_min = max(1, pd.minute.step // 60)
    for code in pd.codes():
        ch = pd.minute.channels[code]
        for letter, (zh, en) in _FLAG_TEXT.items():
            mask = ch.flag == letter
            if not mask.any():
                continue
            out += minute_findings(
                pd,
                mask,
                check="data_flags",
                category="validity",
                severity="medium" if letter in "TD" else "low",
                pollutant=code,
                message=f"{code} 标记为 {letter}（{zh}）{{minutes}} 分钟 | flagged {letter} ({en})",
                evidence={"flag": letter, "rule": "HJ 212-2017 Table 8: only N is valid"},
                min_slots=max(1, p["min_minutes"] // step_min),
                values=ch.avg,
            )
    return out


def _stopped_hours(pd: PointData, agg: Aggregate) -> np.ndarray:
    """Hours in which the process was stopped (F) or not running for most of the hour."""
    _, idx = pd.hour_grid()
    running_count = np.bincount(idx[pd.running()], minlength=agg.start.size)
    return running_count < agg.expected // 2


@register(
    "hour_validity",
    version=2,
    category="validity",
    title_zh="小时数据无效",
    title_en="invalid hourly values",
    source="HJ 75-2017 (valid hour: ≥ 45 valid minute values) [M]; GB 3095-2012",
    params=(Param("min_valid_minutes", 45, "valid minutes needed for a valid hour (per 60)", 1),),
)
def hour_validity(pd: PointData, p: Params) -> list[Finding]:
    """Hours with fewer than ``min_valid_minutes`` valid minute values (flag N) of a limited pollutant while the
    process runs; consecutive hours form one finding.  Hours of a stopped process are not reported."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    need = p["min_valid_minutes"] / 60.0
    for code in pd.analysers():
        if code not in pd.info.limits:
            continue
        agg = pd.hourly(code)
        if agg.start.size == 0:
            continue
        stopped = _stopped_hours(pd, agg)
        bad = (agg.count < need * agg.expected) & ~stopped
        # the first and last hour of the data may be partial: judge only whole hours (streaming: hours that are over)
        bad[0] = bad[0] and agg.start[0] >= pd.minute.start
        bad &= agg.start + 3600 <= pd.complete_until()
        ch = pd.minute.channels[code]
        for i0, i1 in runs(bad):
            lo, hi = int(agg.start[i0]), int(agg.start[i1 - 1]) + 3600
            sel = slice((lo - pd.minute.start) // pd.minute.step, (hi - pd.minute.start) // pd.minute.step)
            letters, counts = np.unique(ch.flag[sel], return_counts=True)
            causes = {
                ("missing" if k == "" else str(k)): int(v) for k, v in zip(letters, counts, strict=True)
            }
            causes["missing"] = causes.get("missing", 0) + int(
                max(0, sel.stop - max(0, sel.start)) - counts.sum()
            )
            blocked = int(pd.blocked_mask(code)[max(0, sel.start) : sel.stop].sum())
            if blocked:  # of these, minutes whose analyser was out of control (valid flags or not)
                causes["out_of_control"] = blocked
            out.append(
                Finding(
                    pd.mn,
                    code,
                    "hour_validity",
                    "validity",
                    "low",
                    lo,
                    hi,
                    f"{code} {i1 - i0} 个小时有效分钟数不足 {p['min_valid_minutes']} | "
                    f"{i1 - i0} hour(s) with too few valid minutes",
                    {
                        "valid_minutes": [int(c) for c in agg.count[i0:i1]],
                        "minute_flags": causes,
                        "rule": f"valid hour needs ≥ {p['min_valid_minutes']} valid minutes of 60",
                    },
                )
            )
    return out


@register(
    "day_validity",
    version=1,
    category="validity",
    title_zh="日数据无效",
    title_en="invalid daily values",
    source="HJ 75-2017 / GB 3095-2012 (valid day: ≥ 20 valid hourly values) [M]",
    params=(Param("min_valid_hours", 20, "valid hours needed for a valid day", 1),),
)
def day_validity(pd: PointData, p: Params) -> list[Finding]:
    """Whole local days in which a limited pollutant has fewer than ``min_valid_hours`` valid hours, not counting
    hours in which the process was stopped."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    for code in pd.analysers():
        if code not in pd.info.limits:
            continue
        agg = pd.hourly(code)
        if agg.start.size == 0:
            continue
        valid_h = agg.count >= 0.75 * agg.expected
        stopped = _stopped_hours(pd, agg)
        days = pd.local_floor(agg.start, 86400)
        for day in np.unique(days).tolist():
            if day < pd.minute.start or day + 86400 > pd.complete_until():
                continue
            sel = days == day
            operating = int((~stopped[sel]).sum())
            good = int((valid_h & ~stopped)[sel].sum())
            if operating >= p["min_valid_hours"] and good < p["min_valid_hours"]:
                out.append(
                    Finding(
                        pd.mn,
                        code,
                        "day_validity",
                        "validity",
                        "low",
                        int(day),
                        int(day) + 86400,
                        f"{code} 日有效小时数 {good} < {p['min_valid_hours']} | day with {good} valid hours",
                        {
                            "valid_hours": good,
                            "operating_hours": operating,
                            "rule": f"valid day needs ≥ {p['min_valid_hours']} valid hours",
                        },
                    )
                )
    return out


@register(
    "reception_gap",
    version=1,
    category="validity",
    title_zh="数据缺失",
    title_en="missing data",
    source="ioos_qc time_gap_test; HJ 75-2017 completeness",
    params=(Param("min_minutes", 15, "shortest gap reported, minutes", 1),),
)
def reception_gap(pd: PointData, p: Params) -> list[Finding]:
    """Runs of missing minute data (no frame for the slot) of at least ``min_minutes``; in streaming also the time
    since the newest data when the point has fallen silent (offline) for that long."""
    if pd.minute is None:
        return []
    step_min = max(1, pd.minute.step // 60)
    out = minute_findings(
        pd,
        ~pd.minute.present,
        check="reception_gap",
        category="validity",
        severity="low",
        pollutant=None,
        message="{minutes} 分钟无数据 | no data for {minutes} min",
        evidence={"rule": f"gap ≥ {p['min_minutes']} min"},
        min_slots=max(1, p["min_minutes"] // step_min),
    )
    silent = int(pd.horizon) - pd.minute.end if pd.horizon is not None else 0
    if silent >= p["min_minutes"] * 60:
        minutes = silent // 60
        out.append(
            Finding(
                pd.mn,
                None,
                "reception_gap",
                "validity",
                "low",
                pd.minute.end,
                pd.minute.end + minutes * 60,
                f"离线：{minutes} 分钟无数据 | offline: no data for {minutes} min",
                {"rule": f"gap ≥ {p['min_minutes']} min", "offline": True, "last_data": pd.minute.end},
            )
        )
    return out


@register(
    "future_time",
    version=1,
    category="validity",
    title_zh="数据时间超前",
    title_en="data time in the future",
    source="ioos_qc impossible_date_test; HJ 212-2017 (DataTime, QN)",
    params=(Param("tolerance_s", 120, "allowed clock difference, seconds", 0),),
)
def future_time(pd: PointData, p: Params) -> list[Finding]:
    """Slots whose data time lies after the time the logger sent them (QN) by more than the tolerance (a period
    that had not ended yet), or after the time of the check."""
    s = pd.minute
    if s is None:
        return []
    end = s.times + s.step
    with np.errstate(invalid="ignore"):
        bad = end > s.sent + p["tolerance_s"]
    if pd.now is not None:
        bad |= s.times > pd.now + p["tolerance_s"]
    return minute_findings(
        pd,
        bad & s.present,
        check="future_time",
        category="validity",
        severity="medium",
        pollutant=None,
        message="{minutes} 分钟的数据时间晚于发送时间 | data time later than send time",
        evidence={"rule": f"period end ≤ QN + {p['tolerance_s']} s"},
    )


@register(
    "duplicate_time",
    version=1,
    category="validity",
    title_zh="重复时间数据",
    title_en="duplicate timestamps",
    source="ioos_qc argo duplicate_timestamp_test",
)
def duplicate_time(pd: PointData, p: Params) -> list[Finding]:
    """The same data time sent again with different values (identical repeats are harmless re-sends)."""
    out = []
    differing = sorted(t for t, diff in pd.duplicates.items() if diff)
    step = pd.minute.step if pd.minute is not None else 60
    for t in differing:
        out.append(
            Finding(
                pd.mn,
                None,
                "duplicate_time",
                "validity",
                "medium",
                int(t),
                int(t) + step,
                "同一数据时间收到不同的数值 | the same data time arrived with different values",
                {"rule": "one value per data time"},
            )
        )
    return out


_RANGES = {O2_CODE: (0.0, 25.0), "w01001": (0.0, 14.0), "a01014": (0.0, 100.0)}


@register(
    "gross_range",
    version=1,
    category="validity",
    title_zh="数值超出物理范围",
    title_en="value outside the physical range",
    source="ioos_qc gross_range_test; 40 CFR 75 (negative values)",
    params=(Param("negative_tolerance", 0.02, "negative values allowed, fraction of the limit", 0),),
)
def gross_range(pd: PointData, p: Params) -> list[Finding]:
    """Valid (N) values that are physically impossible: negative concentrations or flows beyond a small tolerance,
    O2 outside 0–25 %, pH outside 0–14, humidity outside 0–100 %."""
    if pd.minute is None:
        return []
    out: list[Finding] = []
    for code in pd.codes():
        ch = pd.minute.channels[code]
        ok = pd.valid(code)
        lo, hi = _RANGES.get(code, (-p["negative_tolerance"] * pd.info.limits.get(code, 1.0), np.inf))
        with np.errstate(invalid="ignore"):
            bad = ok & ((ch.avg < lo) | (ch.avg > hi))
        out += minute_findings(
            pd,
            bad,
            check="gross_range",
            category="validity",
            severity="medium",
            pollutant=code,
            message=f"{code} 数值超出物理范围 [{fmt(lo)}, {fmt(hi)}] | value outside [{fmt(lo)}, {fmt(hi)}]",
            evidence={"rule": f"{fmt(lo)} ≤ value ≤ {fmt(hi)}"},
            values=ch.avg,
        )
    return out


def _reported_hourly(pd: PointData, code: str) -> Aggregate | None:
    """Hourly values as the logger reported them (2061), when there are no minute data to compute them from."""
    h = pd.hour
    if h is None or code not in h.channels:
        return None
    ch = h.channels[code]
    ok = np.isfinite(ch.avg) & ((ch.flag == "N") | (ch.flag == ""))
    if pd.blocked.get(
        code
    ):  # an hour that overlaps an out-of-control span is not taken from the logger either
        ok &= ~overlapping(h.times, h.step, pd.blocked[code])
    for a, b, _ in pd.excluded_by_marks().get(code, ()):  # nor one under an effective data mark
        ok &= ~((h.times + h.step > a) & (h.times < b))
    conv = np.where(np.isfinite(ch.zs), ch.zs, ch.avg)
    mean = np.where(ok, ch.avg, np.nan)
    return Aggregate(h.times, np.where(ok, 60, 0).astype(np.int64), mean, np.where(ok, conv, np.nan), 60)


def hourly_for_limit(pd: PointData, code: str, min_valid_minutes: int) -> tuple[Aggregate, Mask] | None:
    """Hourly averages to judge against the limit, and which hours come from the logger's hourly frames.

    From the minute data where they are complete enough; where an hour falls short only because minute frames were
    lost in transmission (valid plus missing minutes would have been enough) and the logger's hourly value (2061)
    arrived valid, that value is used — the logger computed it from the minutes the network lost.  Without minute
    data for the code, the hourly frames alone."""
    reported = _reported_hourly(pd, code)
    if pd.minute is None or code not in pd.minute.channels:
        if reported is None:
            return None
        return reported, np.ones(reported.start.size, dtype=bool)
    agg = pd.hourly(code)
    used = np.zeros(agg.start.size, dtype=bool)
    if reported is None or agg.start.size == 0:
        return agg, used
    _, idx = pd.hour_grid()
    lost = np.bincount(idx[~pd.minute.present], minlength=agg.start.size)
    need = min_valid_minutes / 60.0 * agg.expected
    short = (agg.count < need) & (agg.count + lost >= need)
    pos = np.searchsorted(reported.start, agg.start)
    pos = np.minimum(pos, reported.start.size - 1)
    match = (reported.start[pos] == agg.start) & (reported.count[pos] > 0) & np.isfinite(reported.conv[pos])
    used = short & match
    if not used.any():
        return agg, used
    count, mean, conv = agg.count.copy(), agg.mean.copy(), agg.conv.copy()
    count[used] = agg.expected
    mean[used] = reported.mean[pos[used]]
    conv[used] = reported.conv[pos[used]]
    return Aggregate(agg.start, count, mean, conv, agg.expected), used


@register(
    "exceedance_hour",
    version=3,
    category="exceedance",
    title_zh="小时均值超标",
    title_en="hourly average above the limit",
    source="HJ 75-2017; GB 13223/13271/18485; MEE 2022 No. 21 (marked data excluded)",
    params=(Param("min_valid_minutes", 45, "valid minutes needed for a valid hour", 1),),
)
def exceedance_hour(pd: PointData, p: Params) -> list[Finding]:
    """Valid hours (≥ ``min_valid_minutes`` valid minutes) whose average converted concentration (reference O2 for
    flue gas) exceeds the point's limit; consecutive exceeding hours form one finding listing every hour.  An hour
    whose minute frames were lost in transmission is judged on the logger's valid hourly value (2061) instead."""
    out: list[Finding] = []
    for code, limit in sorted(pd.info.limits.items()):
        got = hourly_for_limit(pd, code, p["min_valid_minutes"])
        if got is None or got[0].start.size == 0:
            continue
        agg, reported = got
        valid = agg.count >= p["min_valid_minutes"] / 60.0 * agg.expected
        valid &= agg.start + 3600 <= pd.complete_until()  # an hour is judged once it is over
        with np.errstate(invalid="ignore"):
            over = valid & (agg.conv > limit)
        for i0, i1 in runs(over):
            worst = float(np.nanmax(agg.conv[i0:i1]))
            out.append(
                Finding(
                    pd.mn,
                    code,
                    "exceedance_hour",
                    "exceedance",
                    "high",
                    int(agg.start[i0]),
                    int(agg.start[i1 - 1]) + 3600,
                    f"{code} 小时均值超标 {i1 - i0} 小时，最高 {fmt(worst)}（限值 {fmt(limit)}）| "
                    f"{i1 - i0} hour(s) above the limit {fmt(limit)}, highest {fmt(worst)}",
                    {
                        "limit": limit,
                        "hours": [
                            {
                                "start": int(agg.start[i]),
                                "value": num(float(agg.conv[i])),
                                "valid_minutes": int(agg.count[i]),
                            }
                            | ({"source": "hourly frame (2061)"} if reported[i] else {})
                            for i in range(i0, i1)
                        ],
                        "reference_o2": pd.info.reference_o2,
                        "rule": "valid hourly average of the converted concentration > limit",
                    },
                )
            )
    return out


@register(
    "exceedance_day",
    version=3,
    category="exceedance",
    title_zh="日均值超标",
    title_en="daily average above the limit",
    source="HJ 75-2017; GB 3095-2012",
    params=(
        Param("min_valid_minutes", 45, "valid minutes needed for a valid hour", 1),
        Param("min_valid_hours", 20, "valid hours needed for a valid day", 1),
    ),
)
def exceedance_day(pd: PointData, p: Params) -> list[Finding]:
    """Valid local days (≥ ``min_valid_hours`` valid hours) whose mean of the valid hourly converted averages
    exceeds the limit."""
    out: list[Finding] = []
    for code, limit in sorted(pd.info.limits.items()):
        got = hourly_for_limit(pd, code, p["min_valid_minutes"])
        if got is None or got[0].start.size == 0:
            continue
        agg = got[0]
        valid = agg.count >= p["min_valid_minutes"] / 60.0 * agg.expected
        days = pd.local_floor(agg.start, 86400)
        for day in np.unique(days).tolist():
            if day + 86400 > pd.complete_until():  # a day is judged once it is over
                continue
            sel = (days == day) & valid & np.isfinite(agg.conv)
            n = int(sel.sum())
            if n < p["min_valid_hours"]:
                continue
            mean = float(agg.conv[sel].mean())
            if mean > limit:
                out.append(
                    Finding(
                        pd.mn,
                        code,
                        "exceedance_day",
                        "exceedance",
                        "high",
                        int(day),
                        int(day) + 86400,
                        f"{code} 日均值 {fmt(mean)} 超过限值 {fmt(limit)} | daily average {fmt(mean)} above {fmt(limit)}",
                        {
                            "limit": limit,
                            "value": num(mean),
                            "valid_hours": n,
                            "rule": "daily mean of valid hourly converted averages > limit",
                        },
                    )
                )
    return out
