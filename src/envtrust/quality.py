"""Quality-control use cases: turn frames logs, CSV files or stored readings into :class:`~envtrust.qc.PointData`
and run the check catalogue over them (``envtrust check``).

This is part of the services layer: it combines the codec, the registry, the store and the pure checks.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import hj212, qc, settings
from .errors import ImportFormatError, RegistryError
from .hj212.codes import DATA_COMMANDS
from .ingest.importer import is_csv
from .ingest.lines import events_with_lines
from .registry import Point
from .services import csv_reading, qn_epoch, readings_of
from .store import ReadingRow, Store

__all__ = [
    "CheckInput",
    "load_qc_config",
    "point_info",
    "read_inputs",
    "record_config",
    "run_checks",
    "stored_frames",
    "stored_inputs",
]


def point_info(point: Point) -> qc.PointInfo:
    offset = datetime(2020, 1, 1, tzinfo=point.zone).utcoffset()
    return qc.PointInfo(
        mn=point.mn,
        medium=point.medium,
        reference_o2=point.reference_o2,
        limits=dict(point.limits),
        utc_offset=int(offset.total_seconds()) if offset is not None else 0,
        name=point.name,
    )


def _rows(readings: Iterable[ReadingRow]) -> list[qc.stream.Row]:
    return [(r.kind, r.data_time, r.pollutant, r.values, r.flag) for r in readings]


@dataclass
class _PointAcc:
    """A point's accumulator, plus CSV readings without a kind that wait for the file's cadence."""

    point: Point
    acc: qc.stream.Accumulator
    unsorted: list[ReadingRow] = field(default_factory=list)

    @classmethod
    def of(cls, point: Point) -> _PointAcc:
        return cls(point, qc.stream.Accumulator(point_info(point)))

    def add_rows(self, rows: Sequence[ReadingRow], sent: float | None = None) -> None:
        """The readings of one frame (or one CSV line)."""
        self.unsorted += [r for r in rows if r.kind == ""]
        self.acc.add_frame(_rows(r for r in rows if r.kind != ""), sent)

    def build(self, now: float | None) -> qc.PointData:
        if self.unsorted:
            self._sort_by_cadence()
        return self.acc.build(now)

    def _sort_by_cadence(self) -> None:
        """CSV readings without a kind are minute data when they come more often than hourly, else hourly."""
        times = np.unique(np.array([r.data_time for r in self.unsorted], dtype=np.int64))
        kind = "minute" if times.size > 1 and qc.data.infer_step(times) < 3600 else "hour"
        for r in self.unsorted:
            self.acc.add_frame(_rows([replace(r, kind=kind)]))
        self.unsorted.clear()


@dataclass
class CheckInput:
    """What was read: the points with data, and problems of the input (line numbers), which never stop a check."""

    points: list[qc.PointData]
    problems: list[str]
    frames: int = 0


def read_inputs(
    paths: Sequence[str | Path],
    registry: Sequence[Point],
    *,
    now: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> CheckInput:
    """Read frames logs and CSV files (``mn,pollutant,time,value,flag[,kind]``) into per-point series."""
    points = {p.mn: p for p in registry}
    acc: dict[str, _PointAcc] = {}
    problems: list[str] = []
    frames = 0
    modbus = frozenset(mn for mn, p in points.items() if p.crc_compat == "modbus")
    for path in paths:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise ImportFormatError(f"{p}: cannot read: {exc.strerror}") from None
        if is_csv(p, data[:4096]):
            _read_csv(p, data, points, acc, problems)
            if progress:
                progress(len(data))
            continue
        done = 0
        reasm = hj212.Reassembler()
        for line, at, event in events_with_lines(data, hj212.Decoder(modbus_crc=modbus)):
            if progress and at - done > 1 << 20:
                progress(at - done)
                done = at
            if isinstance(event, hj212.Garbage):
                problems.append(f"{p}:{line}: {event.reason}")
                continue
            if isinstance(event, hj212.FrameError):
                problems.append(f"{p}:{line}: {event.code}: {event.reason}")
                continue
            frame = event
            if frame.is_split:
                merged = reasm.add(frame, 0.0)
                if merged is None:
                    continue
                frame = merged
            if (frame.cn or "") not in DATA_COMMANDS:
                continue
            point = points.get(frame.mn or "")
            if point is None:
                problems.append(f"{p}:{line}: MN {frame.mn} is not in the registry")
                continue
            rows, notes = readings_of(frame, point)
            problems += [f"{p}:{line}: {n}" for n in notes]
            frames += 1
            a = acc.get(point.mn) or acc.setdefault(point.mn, _PointAcc.of(point))
            a.add_rows(rows, qn_epoch(frame.qn, point.timezone))
        if progress:
            progress(len(data) - done)
    return CheckInput([a.build(now) for _, a in sorted(acc.items())], problems, frames)


def _read_csv(
    p: Path, data: bytes, points: dict[str, Point], acc: dict[str, _PointAcc], problems: list[str]
) -> None:
    """CSV rows read and judged as ``envtrust import`` judges them; a row without a kind waits for the cadence."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 0
    for cells in reader:
        first, line = line + 1, reader.line_num
        cells = [c.strip() for c in cells]
        if not cells or all(not c for c in cells):
            continue
        if first == 1 and cells[0].lower() == "mn":
            header = [c.lower() for c in cells]
            continue
        row = dict(zip(header or ["mn", "pollutant", "time", "value", "flag", "kind"], cells, strict=False))
        reading = csv_reading(row, points, default_kind=None)
        if isinstance(reading, tuple):
            problems.append(f"{p}:{first}: {reading[0]}: {reading[1]}")
            continue
        a = acc.get(reading.mn) or acc.setdefault(reading.mn, _PointAcc.of(points[reading.mn]))
        a.add_rows([reading])


def load_qc_config(path: str | Path | None, *, only: Iterable[str] | None = None) -> qc.Configured:
    """The catalogue configured from a TOML file (None: defaults), limited to the checks named in ``only``.

    The file is either a site configuration (``envtrust.toml``: check parameters under ``[checks.<check>]``, other
    sections for alarms and notification) or a plain file of ``[<check>] param = value`` tables."""
    doc: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RegistryError(f"{p}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise qc.CatalogueError(f"{p}: not valid TOML: {exc}") from None
        if set(doc) & set(settings.CONFIG_SECTIONS):
            doc = settings.load_file(p).get("checks", {})
    try:
        return qc.configure(doc, only=only)
    except qc.CatalogueError as exc:
        raise qc.CatalogueError(f"{path}: {exc}" if path is not None else str(exc)) from None


def record_config(store: Store, configured: qc.Configured, *, who: str, why: str) -> int | None:
    """Ledger the check configuration when it differs from the one in force; returns the entry's index, or None
    when nothing changed.  Findings are only comparable under the same configuration, so every change is kept."""
    current = store.qc_config()
    digest = configured.digest()
    if current is not None and current["digest"] == digest:
        return None
    _, idx = store.append_state(
        "qc_configs",
        {
            "digest": digest,
            "config": json.dumps(configured.describe(), sort_keys=True),
            "who": who,
            "why": why,
            "at_us": time.time_ns() // 1000,
        },
    )
    return idx


def stored_frames(
    store: Store, *, start: int | None = None, end: int | None = None, mns: Sequence[str] | None = None
) -> Iterator[tuple[int, str, list[qc.stream.Row], str | None]]:
    """Stored readings grouped by the frame that carried them: ``(frame id, mn, rows, qn)``, in frame order."""
    rows = store.iter_check_rows(start=start, end=end, mns=mns)
    for frame_id, group in itertools.groupby(rows, key=lambda r: r[0]):
        items = list(group)
        yield frame_id, items[0][1], [(k, t, c, v, f) for _, _, k, t, c, v, f, _ in items], items[0][7]


def stored_inputs(
    store: Store,
    registry: Sequence[Point],
    *,
    start: int | None = None,
    end: int | None = None,
    mns: Sequence[str] | None = None,
    now: float | None = None,
    blocked: Mapping[str, Mapping[str, Sequence[qc.qa.Blocked]]] | None = None,
    marks: Mapping[str, Sequence[qc.marks.Mark]] | None = None,
    contexts: Mapping[str, Mapping[str, Any]] | None = None,
) -> CheckInput:
    """Stored minute, hourly and real-time readings as per-point series (``envtrust recheck``), with each point's
    out-of-control spans (``blocked``, per point and code)."""
    points = {p.mn: p for p in registry}
    acc: dict[str, qc.stream.Accumulator] = {}
    frames = 0
    for _, mn, rows, qn in stored_frames(store, start=start, end=end, mns=mns):
        point = points.get(mn)
        if point is None:
            continue
        a = acc.get(mn) or acc.setdefault(mn, qc.stream.Accumulator(point_info(point)))
        a.add_frame(rows, qn_epoch(qn, point.timezone))
        frames += 1
    blocked, marks, contexts = blocked or {}, marks or {}, contexts or {}
    return CheckInput(
        [
            a.build(now, blocked=blocked.get(m), marks=marks.get(m), mark_context=contexts.get(m))
            for m, a in sorted(acc.items())
        ],
        [],
        frames,
    )


def run_checks(inputs: CheckInput, configured: qc.Configured | None = None) -> list[qc.Finding]:
    return qc.run(inputs.points, configured)


@dataclass
class Rechecked:
    """What a re-run of the checks over stored data found and changed."""

    inputs: CheckInput
    findings: list[qc.Finding]
    opened: int
    extended: int
    cleared: int


def recheck_stored(
    store: Store,
    *,
    configured: qc.Configured,
    start: int | None = None,
    end: int | None = None,
    mns: Sequence[str] | None = None,
    now: float | None = None,
) -> Rechecked:
    """Re-run the checks over stored data — with each point's out-of-control spans from its quality records — and
    fold the findings into the alarm book exactly as on arrival (alarms whose condition is gone are cleared)."""
    from .alarms.book import AlarmBook
    from .workflow.marks import mark_contexts, marks_for_checks
    from .workflow.qa import QualityRecords

    registry = store.points()
    blocked = QualityRecords(store).blocked(mns)
    marks = marks_for_checks(store, mns)
    contexts = mark_contexts(store, mns)
    inputs = stored_inputs(
        store,
        registry,
        start=start,
        end=end,
        mns=mns,
        now=time.time() if now is None else now,
        blocked=blocked,
        marks=marks,
        contexts=contexts,
    )
    findings = run_checks(inputs, configured)
    names = tuple(c.name for c, _ in configured.checks)
    by_point: dict[str, list[qc.Finding]] = {pd.mn: [] for pd in inputs.points}
    for f in findings:
        by_point.setdefault(f.mn, []).append(f)
    ends = {pd.mn: max(s.end for s in (pd.minute, pd.hour) if s is not None) for pd in inputs.points}
    points = {p.mn: p for p in registry}
    applied = AlarmBook(store, points=points.get).apply(
        [qc.stream.Evaluation(m, fs, names, ends.get(m, 0)) for m, fs in by_point.items()]
    )
    return Rechecked(inputs, findings, applied.opened, applied.updated + applied.reactivated, applied.cleared)


def point_rechecker(
    store: Store, configured: qc.Configured | None = None
) -> Callable[[str, int, int | None], dict[str, int]]:
    """A ``recheck`` for :class:`~envtrust.workflow.qa.QualityRecords`: one point's stored data over a span (whole
    local days around it, as the checks judge days), alarms updated."""

    def run(mn: str, start: int, end: int | None) -> dict[str, int]:
        day = 86400
        done = recheck_stored(
            store,
            configured=configured or load_qc_config(None),
            start=start - day,
            end=None if end is None else end + day,
            mns=[mn],
        )
        return {"findings": len(done.findings), "opened": done.opened, "cleared": done.cleared}

    return run
