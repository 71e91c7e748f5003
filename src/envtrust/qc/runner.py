"""One runner for batch and streaming: every configured check over a set of points.

Point-scope checks see one :class:`~envtrust.qc.data.PointData` at a time; fleet-scope checks see all of them
together (for the streaming evaluator: the points of the same buffer).  A check that raises is a program error and
propagates; data problems are findings.
"""

from __future__ import annotations

from collections.abc import Sequence

from .catalogue import Configured, Finding, configure
from .data import PointData

__all__ = ["run"]


def run(points: Sequence[PointData], configured: Configured | None = None) -> list[Finding]:
    """All findings of the configured checks (default: the whole catalogue with default parameters), sorted by point,
    start time and check."""
    configured = configured or configure()
    out: list[Finding] = []
    for check, params in configured.checks:
        if check.scope == "fleet":
            out += check.fn(list(points), params)
        else:
            for pd in points:
                out += check.fn(pd, params)
    out.sort(key=lambda f: (f.mn, f.start, f.check, f.pollutant or ""))
    return out
