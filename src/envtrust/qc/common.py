"""Helpers shared by the check modules: building findings from runs of flagged slots."""

from __future__ import annotations

from typing import Any

import numpy as np

from .catalogue import Finding
from .data import Mask, PointData, Values, runs

__all__ = ["fmt", "minute_findings", "num", "rolling_mean", "rolling_sum", "span_finding"]


def num(x: float, digits: int = 3) -> float | None:
    """A JSON-friendly rounded number (None for NaN)."""
    if not np.isfinite(x):
        return None
    return float(round(float(x), digits))


def fmt(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else "—"


def rolling_sum(x: Values, width: int) -> Values:
    """Trailing sum over ``width`` slots (NaN counts as 0); the first ``width − 1`` slots sum what exists."""
    c = np.concatenate(([0.0], np.cumsum(np.nan_to_num(x))))
    idx = np.arange(1, x.size + 1)
    out: Values = c[idx] - c[np.maximum(0, idx - width)]
    return out


def rolling_mean(x: Values, width: int) -> Values:
    """Trailing mean over ``width`` slots ignoring NaNs (NaN where the window holds no value)."""
    ok = np.isfinite(x).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Values = rolling_sum(np.where(ok > 0, x, 0.0), width) / rolling_sum(ok, width)
    return out


def span_finding(
    pd: PointData,
    pollutant: str | None,
    check: str,
    category: str,
    severity: str,
    i0: int,
    i1: int,
    message: str,
    evidence: dict[str, Any],
) -> Finding:
    """A finding over minute slots ``[i0, i1)`` of the point's minute series."""
    s = pd.minute
    assert s is not None
    return Finding(
        pd.mn,
        pollutant,
        check,
        category,
        severity,
        int(s.start + s.step * i0),
        int(s.start + s.step * i1),
        message,
        evidence,
    )


def minute_findings(
    pd: PointData,
    mask: Mask,
    *,
    check: str,
    category: str,
    severity: str,
    pollutant: str | None,
    message: str,
    evidence: dict[str, Any],
    min_slots: int = 1,
    bridge: int = 0,
    values: Values | None = None,
) -> list[Finding]:
    """One finding per run of ``mask`` in the minute series; ``message`` may use {minutes}; with ``values`` the
    evidence gets the run's first, minimum, maximum and mean value."""
    s = pd.minute
    assert s is not None
    out = []
    for i0, i1 in runs(mask, min_slots, bridge):
        ev = dict(evidence)
        ev["slots"] = int(mask[i0:i1].sum())
        if values is not None:
            seg = values[i0:i1][mask[i0:i1]]
            seg = seg[np.isfinite(seg)]
            if seg.size:
                ev.update(
                    first=num(seg[0]), min=num(seg.min()), max=num(seg.max()), mean=num(float(seg.mean()))
                )
        minutes = (i1 - i0) * s.step // 60
        out.append(
            span_finding(
                pd, pollutant, check, category, severity, i0, i1, message.format(minutes=minutes), ev
            )
        )
    return out
