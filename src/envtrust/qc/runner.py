"""One runner for batch and streaming: every configured check over a set of points.

Point-scope checks see one :class:`~envtrust.qc.data.PointData` at a time; fleet-scope checks see all of them
together (for the streaming evaluator: the points of the same buffer).  A check that raises is a program error and
propagates; data problems are findings.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .catalogue import Check, Configured, Finding, configure
from .data import PointData

__all__ = ["call", "run"]


def call(check: Check, data: PointData | list[PointData], params: Mapping[str, Any]) -> list[Finding]:
    """One check over one point (or the fleet).  Windows that are empty, all-NaN or all-flagged are normal input,
    so numpy's warnings about them (empty slices, NaN means, division by zero) are silenced here, in one place."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return check.fn(data, params)


def run(points: Sequence[PointData], configured: Configured | None = None) -> list[Finding]:
    """All findings of the configured checks (default: the whole catalogue with default parameters), sorted by point,
    start time and check."""
    configured = configured or configure()
    out: list[Finding] = []
    for check, params in configured.checks:
        if check.scope == "fleet":
            out += call(check, list(points), params)
        else:
            for pd in points:
                out += call(check, pd, params)
    out.sort(key=lambda f: (f.mn, f.start, f.check, f.pollutant or ""))
    return out
