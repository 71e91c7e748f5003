"""Quality control: validity, exceedance, anomaly and tampering checks as pure vectorised functions.

* :mod:`.flags` — QARTOD flag values, HJ 212 data flags translated, worst flag wins;
* :mod:`.basic` — generic tests with the ``ioos_qc`` definitions (gross range, flat line, spike, rate of change,
  time gap, future and duplicate times);
* :mod:`.data` — one point's series on a regular grid with its registry facts (:class:`PointData`);
* :mod:`.catalogue` — every check with name, version, category, parameters and documentation; strict configuration;
* :mod:`.validity`, :mod:`.anomaly`, :mod:`.tampering` — the checks of the catalogue;
* :mod:`.runner` — one runner for batch and streaming;
* :mod:`.stream` — per-point accumulators and sliding windows for incremental (streaming) evaluation.

Imports the standard library and numpy only.
"""

from __future__ import annotations

from . import anomaly, assurance, marks, qa, stream, tampering, validity  # noqa: F401  (registers the checks)
from .catalogue import CATALOGUE, CATEGORIES, CatalogueError, Check, Configured, Finding, Param, configure
from .data import Channel, PointData, PointInfo, Series, SeriesBuilder
from .runner import run

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "CatalogueError",
    "Channel",
    "Check",
    "Configured",
    "Finding",
    "Param",
    "PointData",
    "PointInfo",
    "Series",
    "SeriesBuilder",
    "configure",
    "run",
    "stream",
]
