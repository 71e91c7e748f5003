"""Reconciliation (clause 七: the same kind of data from different departments must agree).

Figures for the same source and period from elsewhere — the enterprise's self-monitoring reports, permit execution
reports, another department's station data — are read from CSV or Excel and compared with envtrust's own hourly,
daily and monthly values and totals; every discrepancy beyond the tolerance is a finding (check
``reconciliation``, category ``anomaly``: the cause may be honest) with both sources as evidence, and, unless told
otherwise, goes into the alarm book like any other finding.

File columns (header row, any order; more columns are ignored)::

    mn, pollutant, period, start, value [, measure] [, unit]

``period`` is ``hour``, ``day`` or ``month``; ``start`` the period's start in the point's zone (``2026-06-01T10``
or ``2026-06-01 10:00`` for an hour, ``2026-06-01`` for a day, ``2026-06`` for a month); ``measure`` is ``avg``
(mean concentration, the default), ``zs`` (mean converted concentration) or ``total`` (emitted amount, the sum of
``Cou``).  envtrust's value comes from its own readings of the same period: the stored hourly (daily) value where
the logger sent one, else the mean (sum) of the finer readings; a month from its days, else its hours.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from .errors import ImportFormatError
from .qc.catalogue import Finding
from .registry import Point
from .services import to_utc_epoch
from .store import Store

__all__ = ["Figure", "Outcome", "Problem", "compare", "our_value", "read_figures", "reconcile"]

PERIODS = ("hour", "day", "month")
MEASURES = ("avg", "zs", "total")
REQUIRED = ("mn", "pollutant", "period", "start", "value")
CHECK = "reconciliation"
_FINER = {"hour": ("minute",), "day": ("hour", "minute"), "month": ("day", "hour", "minute")}


@dataclass(frozen=True, slots=True)
class Problem:
    where: str  # file:line
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Figure:
    where: str  # file:line
    mn: str
    pollutant: str
    period: str
    start: int  # UTC epoch seconds
    end: int
    measure: str
    value: float
    label: str  # the period as written (e.g. 2026-06)
    unit: str | None = None


@dataclass(slots=True)
class Outcome:
    compared: int = 0
    agreed: int = 0
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    opened: int = 0
    updated: int = 0


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, cells by lower-case header) of a CSV (UTF-8, with or without BOM; or GB18030) or Excel file."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # a corrupt or foreign file
            raise ImportFormatError(f"{path}: not an Excel workbook: {exc}") from None
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(c).strip().lower() if c is not None else "" for c in next(rows, ())]
        for i, row in enumerate(rows, 2):
            cells = {h: ("" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)).strip())
                     for h, v in zip(header, row, strict=False)}  # fmt: skip
            if any(cells.values()):
                yield i, cells
        book.close()
        return
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes every byte string
        raise ImportFormatError(f"{path}: neither UTF-8 nor GB18030")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    for row in reader:
        if any(c.strip() for c in row):
            yield reader.line_num, {h: c.strip() for h, c in zip(header, row, strict=False)}


def _period(period: str, text: str, zone: str) -> tuple[int, int] | None:
    """The period starting at ``text`` (local time in ``zone``) as UTC epoch seconds [start, end)."""
    t = text.strip().replace(" ", "T")
    try:
        if period == "month":
            y, m = (int(x) for x in t[:7].split("-"))
            if len(t) > 7 and t[7:] not in ("-01", "-01T00:00", "-01T00:00:00"):
                return None
            lo = datetime(y, m, 1)
            hi = datetime(y + (m == 12), m % 12 + 1, 1)
        elif period == "day":
            lo = datetime.fromisoformat(t[:10])
            if len(t) > 10 and t[10:] not in ("T00:00", "T00:00:00", "T00"):
                return None
            hi = datetime.fromordinal(lo.toordinal() + 1)
        else:
            lo = datetime.fromisoformat(t if len(t) > 13 else t + ":00")
            if lo.minute or lo.second:
                return None
            lo_utc = to_utc_epoch(lo, zone)
            return lo_utc, lo_utc + 3600
    except ValueError:
        return None
    ZoneInfo(zone)
    return to_utc_epoch(lo, zone), to_utc_epoch(hi, zone)


def read_figures(path: Path, points: Mapping[str, Point]) -> tuple[list[Figure], list[Problem]]:
    """The figures of a file, and every line that could not be read (with its number and the reason)."""
    figures: list[Figure] = []
    problems: list[Problem] = []
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise ImportFormatError(f"{path}: no rows (expected a header with {', '.join(REQUIRED)})")
    missing = [c for c in REQUIRED if c not in first[1]]
    if missing:
        raise ImportFormatError(f"{path}: the header lacks {', '.join(missing)} (columns: {', '.join(REQUIRED)}"
                                ", optional measure, unit)")  # fmt: skip
    for line, cells in [first, *rows]:
        where = f"{path.name}:{line}"
        mn, code, period = cells["mn"], cells["pollutant"], cells["period"].lower()
        measure = (cells.get("measure") or "avg").lower()
        point = points.get(mn)
        if point is None:
            problems.append(Problem(where, f"MN {mn!r} is not registered"))
            continue
        if period not in PERIODS:
            problems.append(Problem(where, f"period {cells['period']!r}: one of {', '.join(PERIODS)}"))
            continue
        if measure not in MEASURES:
            problems.append(Problem(where, f"measure {measure!r}: one of {', '.join(MEASURES)}"))
            continue
        if not code:
            problems.append(Problem(where, "pollutant is empty"))
            continue
        span = _period(period, cells["start"], point.timezone)
        if span is None:
            problems.append(Problem(where, f"start {cells['start']!r} does not begin a {period}"))
            continue
        try:
            value = float(cells["value"])
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(Problem(where, f"value {cells['value']!r} is not a finite number"))
            continue
        figures.append(
            Figure(
                where,
                mn,
                code,
                period,
                span[0],
                span[1],
                measure,
                value,
                cells["start"],
                cells.get("unit") or None,
            )
        )
    return figures, problems


def our_value(store: Store, fig: Figure) -> tuple[float | None, dict[str, Any]]:
    """envtrust's value for the figure's point, pollutant, period and measure, with what it was made from."""
    for kind in (fig.period, *_FINER[fig.period]) if fig.period != "month" else _FINER["month"]:
        col = store.columns(fig.mn, kind, fig.start, fig.end, [fig.pollutant])[fig.pollutant]
        series = {"avg": col.value, "zs": col.zs, "total": col.cou}[fig.measure]
        present = series[~np.isnan(series)]
        if len(present) == 0:
            continue
        value = float(present.sum()) if fig.measure == "total" else float(present.mean())
        return value, {"from": kind, "readings": len(present)}
    return None, {"from": None, "readings": 0}


def compare(
    fig: Figure, ours: float | None, basis: Mapping[str, Any], *, source: str, rel_tol: float, abs_tol: float
) -> Finding | None:
    """A finding when the two values differ beyond ``max(abs_tol, rel_tol × the larger)``, or envtrust has none."""
    evidence: dict[str, Any] = {
        "source": source,
        "where": fig.where,
        "period": fig.period,
        "period_start": fig.label,
        "measure": fig.measure,
        "their_value": fig.value,
        "their_unit": fig.unit,
        "our_value": ours,
        "our_basis": dict(basis),
        "tolerance": {"relative": rel_tol, "absolute": abs_tol},
    }
    what = {"avg": "均值 mean", "zs": "折算均值 converted mean", "total": "排放量 total"}[fig.measure]
    if ours is None:
        return Finding(fig.mn, fig.pollutant, CHECK, "anomaly", "high", fig.start, fig.end,
                       f"{source} 报 {fig.value:g}，本平台该时段无数据 | {source} reports {fig.value:g} "
                       f"({what}, {fig.period} {fig.label}); envtrust has no data for it", evidence)  # fmt: skip
    diff = fig.value - ours
    scale = max(abs(fig.value), abs(ours))
    if abs(diff) <= max(abs_tol, rel_tol * scale):
        return None
    rel = abs(diff) / scale if scale else math.inf
    evidence |= {"difference": diff, "relative": rel}
    severity = "high" if rel >= 0.5 else "medium" if rel >= 0.2 else "low"
    return Finding(fig.mn, fig.pollutant, CHECK, "anomaly", severity, fig.start, fig.end,
                   f"{source} 报 {fig.value:g}，本平台 {ours:g}（相差 {rel:.0%}）| {source} reports {fig.value:g}, "
                   f"envtrust {ours:g} ({what}, {fig.period} {fig.label}; {rel:.0%} apart)", evidence)  # fmt: skip


def reconcile(
    store: Store,
    paths: list[Path],
    *,
    source: str,
    rel_tol: float = 0.05,
    abs_tol: float = 0.0,
    alarms: bool = True,
) -> Outcome:
    """Compare every figure of the files with envtrust's values; findings (and alarms, when ``alarms``)."""
    from .alarms.book import AlarmBook
    from .qc.stream import Evaluation

    if not 0 <= rel_tol < 1 or abs_tol < 0:
        raise ImportFormatError("tolerance: relative in [0, 1), absolute ≥ 0")
    points = {p.mn: p for p in store.points()}
    out = Outcome()
    for path in paths:
        figures, problems = read_figures(path, points)
        out.problems += problems
        for fig in figures:
            ours, basis = our_value(store, fig)
            out.compared += 1
            f = compare(fig, ours, basis, source=source, rel_tol=rel_tol, abs_tol=abs_tol)
            if f is None:
                out.agreed += 1
            else:
                out.findings.append(f)
    if alarms and out.findings:
        by_point: dict[str, list[Finding]] = {}
        for f in out.findings:
            by_point.setdefault(f.mn, []).append(f)
        applied = AlarmBook(store, points=points.get).apply(
            [Evaluation(mn, fs, (), max(f.end for f in fs)) for mn, fs in by_point.items()]
        )
        out.opened, out.updated = applied.opened, applied.updated + applied.reactivated
    return out
