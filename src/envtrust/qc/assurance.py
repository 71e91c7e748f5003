"""Checks fed by the quality-assurance records (decision 0012): spans in which an analyser was out of control.

The spans come with the point's data (:attr:`PointData.blocked`, from failed zero/span/standard checks and failed
comparisons, :func:`envtrust.qc.qa.out_of_control`); every other check already treats the minutes inside as invalid
(:meth:`PointData.valid`).  This check makes each span visible as a finding, with the records that bound it.
"""

from __future__ import annotations

from .catalogue import Finding, Params, register
from .data import PointData

__all__: list[str] = []

_KIND_TEXT = {
    "zero": ("零点核查", "zero check"),
    "span": ("量程核查", "span check"),
    "standard": ("标样核查", "standard-sample check"),
    "comparison": ("比对监测", "comparison"),
}


@register(
    "qa_out_of_control",
    version=1,
    category="validity",
    title_zh="仪器失控时段数据无效",
    title_en="analyser out of control: data invalid",
    source="HJ 75-2017 §12 (失控数据) [M]; HJ 355/356 (back to the last passed check) [M]; decision 0012 §6",
)
def qa_out_of_control(pd: PointData, p: Params) -> list[Finding]:
    """Each span in which a point's analyser was out of control — from the end of the last passed result of the
    kind that failed (zero, span, standard check or comparison) to the start of the next passed one, open while
    there is none — that overlaps the data checked.  The minutes inside are invalid for every other check."""
    series = [s for s in (pd.minute, pd.hour) if s is not None]
    if not series:
        return []
    lo = min(s.start for s in series)
    hi = pd.complete_until()
    out: list[Finding] = []
    for code, spans in sorted(pd.blocked.items()):
        for span in spans:
            end = span.end if span.end is not None else max(hi, span.start + 60)
            if end <= lo or span.start >= max(hi, lo + 1):
                continue
            zh, en = _KIND_TEXT.get(span.kind, (span.kind, span.kind))
            state = ("，尚未恢复", ", not yet back in control") if span.end is None else ("", "")
            out.append(
                Finding(
                    pd.mn,
                    code,
                    "qa_out_of_control",
                    "validity",
                    "medium",
                    int(span.start),
                    int(end),
                    f"{code} {zh}不合格，分析仪失控，期间数据无效{state[0]} | {code} failed {en}: analyser out of "
                    f"control, data invalid{state[1]}",
                    {
                        "kind": span.kind,
                        "failed": list(span.failed),
                        "last_pass": span.last_pass,
                        "next_pass": span.next_pass,
                        "open": span.end is None,
                        "rule": "from the last passed result of the failed kind to the next passed one",
                    },
                )
            )
    return out


@register(
    "qa_drift_trend",
    version=1,
    category="anomaly",
    title_zh="分析仪漂移趋势（QAL3 CUSUM）",
    title_en="analyser drift trend (QAL3 CUSUM)",
    source="EN 14181 QAL3 (qc §5.3 [S], ABB EL3000 manual p.160); decision 0012 §3",
)
def qa_drift_trend(pd: PointData, p: Params) -> list[Finding]:
    """An analyser whose newest zero, span or standard check brings its QAL3 CUSUM over the limit — a drift
    (h_x = 2.85 s_AMS) or a loss of precision (h_s = 6.90 s²_AMS) — while the checks may still pass: adjust or
    investigate the analyser before it goes out of control.  Never invalidates data."""
    out: list[Finding] = []
    for d in pd.mark_context.get("drift", ()):
        what = ("漂移", "drift") if d["drift_alarm"] else ("精密度下降", "loss of precision")
        est = d.get("estimated_drift")
        more = f"，估计漂移 {est:+.2f}" if est is not None else ""
        more_en = f", estimated drift {est:+.2f}" if est is not None else ""
        out.append(
            Finding(
                pd.mn,
                d["code"],
                "qa_drift_trend",
                "anomaly",
                "medium",
                int(d["started"]),
                max(int(d["ended"]), int(d["started"]) + 60),
                f"{d['code']} {d['kind']} 核查 CUSUM 显示{what[0]}{more} | {d['code']} {d['kind']} checks: QAL3 CUSUM "
                f"shows {what[1]}{more_en}",
                {
                    k: d[k]
                    for k in (
                        "analyser",
                        "kind",
                        "record",
                        "deviation",
                        "p",
                        "n",
                        "s",
                        "s_ams",
                        "estimated_drift",
                    )
                },
            )
        )
    return out
