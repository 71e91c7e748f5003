"""Streaming checks: committed frames are checked as they arrive and findings kept in the alarm book.

The gateway's writer thread hands every committed batch to :meth:`Monitor.committed` (a queue put, never blocking
the write path).  The monitor's own thread feeds the readings into the per-point windows of a
:class:`~envtrust.qc.stream.StreamEvaluator`, re-runs the point-scope checks on each point that changed, and applies
the findings to the :class:`~envtrust.alarms.book.AlarmBook` — typically within milliseconds of the commit.  Every
``sweep_s`` it also re-evaluates points that have fallen silent (offline), every ``fleet_s`` it runs the fleet-scope
checks (data copied between points) over all windows, and it escalates unacknowledged alarms.

A point's window is warmed from the store the first time the point is seen (frames stored before a restart count),
so restarting the server neither loses context nor raises the same alarm twice (the book remembers what it has dealt
with).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import qc
from ..qc.stream import Evaluation, Row, StreamEvaluator
from ..quality import point_info, stored_frames
from ..registry import Point
from ..services import Prepared, qn_epoch
from ..store import Store, WriteResult
from ..workflow.marks import QualityWatch, mark_contexts, marks_for_checks
from ..workflow.qa import QualityRecords
from .book import AlarmBook, Applied

__all__ = ["Monitor", "MonitorStats", "Work", "work_of"]

# one committed frame for the checks: (frame id, MN, QN, readings as evaluator rows)
Work = tuple[int, str, str | None, list[Row]]


def work_of(batch: Sequence[Prepared], results: Sequence[WriteResult]) -> list[Work]:
    """The stored frames with readings of a committed batch, in the form the monitor takes (small and picklable)."""
    return [
        (
            r.frame_id,
            p.row.mn,
            p.row.qn,
            [(x.kind, x.data_time, x.pollutant, x.values, x.flag) for x in p.readings],
        )
        for p, r in zip(batch, results, strict=True)
        if r.frame_id is not None and r.status == "ok" and p.readings and p.row.mn
    ]


log = logging.getLogger(__name__)


@dataclass(slots=True)
class MonitorStats:
    frames: int = 0  # committed frames checked
    evaluations: int = 0
    findings: int = 0
    opened: int = 0
    updated: int = 0
    cleared: int = 0
    escalated: int = 0
    last_latency_ms: float | None = None  # commit → alarms written, for the newest batch
    max_latency_ms: float = 0.0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    evaluation_s: float = 0.0  # time spent running checks and writing alarms
    warmed: int = 0  # points whose window was read from the store


class Monitor:
    """One thread that checks what is committed and keeps the alarm book."""

    def __init__(
        self,
        store: Store,
        book: AlarmBook,
        configured: qc.Configured,
        points: Callable[[], Mapping[str, Point]],
        *,
        window_days: int = 3,
        lag_s: int = 120,
        sweep_s: float = 60.0,
        fleet_s: float = 600.0,
        clock: Callable[[], float] = time.time,
        warm_per_sweep: int = 100,
    ) -> None:
        self.store = store
        self.book = book
        self.evaluator = StreamEvaluator(configured, window_days=window_days, lag_s=lag_s)
        self.points = points
        self.sweep_s = sweep_s
        self.fleet_s = fleet_s
        self.clock = clock
        self.warm_per_sweep = warm_per_sweep
        self.stats = MonitorStats()
        self._queue: queue.SimpleQueue[tuple[float, list[Work]] | None] = queue.SimpleQueue()
        self._loaded_upto: dict[str, int] = {}  # per point: frames up to this id came from the store
        self._infos: dict[str, qc.PointInfo] = {}
        self._quality = QualityWatch(store)
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._pending = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ called by the writer thread
    def committed(self, batch: Sequence[Prepared], results: Sequence[WriteResult]) -> None:
        """A batch was committed: queue its stored frames with readings for checking (returns at once)."""
        work = work_of(batch, results)
        if work:
            self.submit(time.monotonic(), work)

    def submit(self, committed_at: float, work: list[Work]) -> None:
        """Queue committed frames (``committed_at``: ``time.monotonic()`` of the commit) for checking."""
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((committed_at, work))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._refresh_points()
        self._refresh_quality()
        self._thread = threading.Thread(target=self._run, name="envtrust-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Check what is queued, then stop."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued batch has been checked (tests, shutdown)."""
        return self._idle.wait(timeout)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        next_sweep = self.clock() + self.sweep_s
        next_fleet = self.clock() + self.fleet_s
        stopping = False
        while not stopping:
            timeout = max(0.0, min(next_sweep, next_fleet) - self.clock())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = ()  # type: ignore[assignment]
            items = [item]
            while True:  # everything that has queued up meanwhile, in one evaluation
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                stopping = None in items
                batches = [i for i in items if i]
                if batches:
                    self._feed(batches)
                    self._apply(lambda: self.evaluator.evaluate(self.clock()))
                    done = time.monotonic()
                    latency = (done - min(b[0] for b in batches)) * 1000
                    self.stats.last_latency_ms = latency
                    self.stats.latencies_ms.append(latency)
                    self.stats.max_latency_ms = max(self.stats.max_latency_ms, latency)
                now = self.clock()
                if now >= next_sweep:
                    next_sweep = now + self.sweep_s
                    self._refresh_points()
                    self._refresh_quality()
                    for mn in [m for m in self._infos if m not in self._loaded_upto][: self.warm_per_sweep]:
                        self._warm(mn)  # points silent since the start: their silence counts too
                    silent = self.evaluator.silent(now, self.sweep_s)
                    self._apply(functools.partial(self.evaluator.evaluate, now, silent))
                    esc = self.book.escalate_due()
                    self.stats.escalated += esc.escalated
                if now >= next_fleet:
                    next_fleet = now + self.fleet_s
                    self._apply(functools.partial(self.evaluator.evaluate_fleet, now))
            except Exception:  # a failing check or a database hiccup must not stop the monitoring
                log.exception("checking committed data failed")
            finally:
                with self._lock:
                    self._pending -= len([i for i in items if i])
                    if self._pending <= 0:
                        self._pending = 0
                        self._idle.set()

    def _refresh_points(self) -> None:
        points = self.points()
        for mn, point in points.items():
            info = point_info(point)
            if self._infos.get(mn) != info:
                self._infos[mn] = info
                self.evaluator.set_point(info)
        for mn in [m for m in self._infos if m not in points]:  # removed, or taken over by another worker
            del self._infos[mn]
            self._loaded_upto.pop(mn, None)
            self.evaluator.drop_point(mn)

    def _refresh_quality(self) -> None:
        """Out-of-control spans, data marks and the quality context of the points whose quality records changed
        (written by other processes: looked at every sweep; a look that finds nothing new is a few id queries)."""
        changed = self._quality.changed()
        if changed is not None and not changed:
            return
        mns = None if changed is None else sorted(changed)
        blocked = QualityRecords(self.store).blocked(mns)
        marks = marks_for_checks(self.store, mns)
        contexts = mark_contexts(self.store, mns)
        known = set(self.evaluator.blocked) | set(self.evaluator.marks) if changed is None else set(changed)
        for mn in set(blocked) | known:
            self.evaluator.set_blocked(mn, blocked.get(mn, {}))
        for mn in set(marks) | set(contexts) | known:
            self.evaluator.set_marks(mn, marks.get(mn, []), contexts.get(mn, {}))

    def _feed(self, batches: Sequence[tuple[float, list[Work]]]) -> None:
        for _, work in batches:
            for frame_id, mn, qn, rows in work:
                if mn not in self._infos:
                    self._refresh_points()
                    if mn not in self._infos:
                        continue
                if mn not in self._loaded_upto:
                    self._warm(mn)
                self.stats.frames += 1
                if frame_id <= self._loaded_upto[mn]:  # already read from the store while warming
                    self.evaluator.feed(mn, [], received=self.clock())
                    continue
                point = self.points().get(mn)
                sent = qn_epoch(qn, point.timezone) if point is not None else None
                self.evaluator.feed(mn, rows, sent, received=self.clock())

    def _warm(self, mn: str) -> None:
        """Fill a point's window from the store (frames stored before this process started, or before now)."""
        point = self.points().get(mn)
        upto = 0
        if point is not None:
            since = self.evaluator.window_start(self.evaluator.points[mn].info, int(self.clock()))
            for frame_id, _, rows, qn in stored_frames(self.store, start=since, mns=[mn]):
                upto = max(upto, frame_id)
                self.evaluator.feed(mn, rows, qn_epoch(qn, point.timezone))
        self._loaded_upto[mn] = upto
        self.stats.warmed += 1

    def _apply(self, evaluate: Callable[[], list[Evaluation]]) -> None:
        """Run an evaluation and fold its findings into the alarm book (timed together)."""
        t0 = time.perf_counter()
        try:
            evaluations = evaluate()
            if evaluations:
                self._fold(evaluations)
        finally:
            self.stats.evaluation_s += time.perf_counter() - t0

    def _fold(self, evaluations: list[Evaluation]) -> None:
        self.stats.evaluations += len(evaluations)
        self.stats.findings += sum(len(e.findings) for e in evaluations)
        applied: Applied = self.book.apply(evaluations)
        self.stats.opened += applied.opened
        self.stats.updated += applied.updated + applied.reactivated
        self.stats.cleared += applied.cleared
