"""Offline generation: the frames of a whole simulated fleet written to a frames log, without any gateway.

Each point runs its own :class:`~envtrust.sim.frames.FrameSource` (the same frames the TCP fleet sends) over
the simulated span, in worker processes when there are several cores; each worker writes its point's frames to
a temporary file and the files are merged by production time (ties: registry order, then the point's own order)
into the log, one HJ 212 frame per line (CRLF).  The bytes depend only on the arguments, not on the number of
workers.  Honest network gaps (:func:`~envtrust.sim.tamper.network_gaps`: frames lost, not back-filled) are part
of offline generation; tampering comes from :mod:`envtrust.sim.tamper`.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import json
import multiprocessing
import os
import queue
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..registry import Point
from .frames import FrameSource
from .physics import DAY, PointModel, local_seconds
from .tamper import Injection, TamperedModel, TamperSpec, network_gaps, plan_injections

__all__ = [
    "FleetPlan",
    "OfflineResult",
    "fleet_labels",
    "generate_log",
    "plan_fleet",
    "sort_labels",
    "tampered_models",
    "write_labels",
]

_RECORD = struct.Struct("<dI")
_CHUNK = 6 * 3600  # simulated seconds per step of a worker (progress granularity)

Progress = Callable[[int], None]


@dataclass(slots=True)
class FleetPlan:
    """The points to simulate, their untampered models, simulated spans (MN → local seconds [start, end)) and
    injections; ``skipped``: points the simulator cannot model (ambient air)."""

    points: list[Point]
    models: list[PointModel]
    spans: dict[str, tuple[int, int]]
    injections: list[Injection]
    seed: int
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_mn(self, mn: str) -> list[Injection]:
        return [i for i in self.injections if i.mn == mn]


def plan_fleet(
    points: Sequence[Point],
    *,
    seed: int,
    start: datetime,
    seconds: float,
    specs: Sequence[TamperSpec] = (),
    random_k: int = 0,
    exceedance_rate: float | None = None,
) -> FleetPlan:
    """Models, spans and injections of a fleet simulated from ``start`` (naive: each point's local time) for
    ``seconds``.  Raises :class:`~envtrust.sim.tamper.TamperError` for specifications that cannot apply;
    ``notes`` of the plan say where ``random_k`` had to be reduced."""
    kept: list[Point] = []
    models: list[PointModel] = []
    skipped: list[str] = []
    for point in points:
        try:
            models.append(PointModel(point, seed))
        except ValueError:
            skipped.append(point.mn)
            continue
        kept.append(point)
    spans = {}
    for model in models:
        s0 = int(local_seconds(start, model.point.zone))
        spans[model.point.mn] = (s0, s0 + round(seconds))
    notes: list[str] = []
    injections = plan_injections(
        models,
        seed=seed,
        spans=spans,
        specs=specs,
        random_k=random_k,
        exceedance_rate=exceedance_rate,
        notes=notes,
    )
    return FleetPlan(kept, models, spans, injections, seed, skipped, notes)


def tampered_models(plan: FleetPlan) -> dict[str, PointModel]:
    """MN → model to simulate: a :class:`TamperedModel` where the point has injections, else the plain model."""
    truth = {m.point.mn: m for m in plan.models}
    out: dict[str, PointModel] = {}
    for model in plan.models:
        mine = plan.by_mn(model.point.mn)
        out[model.point.mn] = TamperedModel(model, mine, peers=truth) if mine else model
    return out


def sort_labels(labels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Labels in time order (then MN, scenario)."""
    return sorted(
        (dict(label) for label in labels),
        key=lambda x: (datetime.fromisoformat(x["start"]), x["mn"], x["scenario"]),
    )


def write_labels(path: Path, labels: Sequence[Mapping[str, Any]]) -> None:
    """The labels file: one JSON object per line (UTF-8, LF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for label in labels:
            f.write(json.dumps(label, ensure_ascii=False) + "\n")


def fleet_labels(plan: FleetPlan, models: Mapping[str, PointModel]) -> list[dict[str, Any]]:
    """The labels of the injections of ``plan`` (``models``: from :func:`tampered_models`), sorted."""
    labels: list[dict[str, Any]] = []
    for model in models.values():
        if isinstance(model, TamperedModel):
            labels += model.labels()
    return sort_labels(labels)


# --------------------------------------------------------------------------------------------------------------
# workers


@dataclass(frozen=True, slots=True)
class _Job:
    index: int
    point: Point
    seed: int
    start: int
    end: int
    rtd_interval: float | None
    minute_interval: int
    injections: tuple[Injection, ...]
    peers: tuple[Point, ...]
    gaps: bool
    path: str


@dataclass(slots=True)
class _Result:
    index: int
    frames: dict[str, int]
    labels: list[dict[str, Any]]


_progress_queue: Any = None


def _init_worker(q: Any) -> None:
    global _progress_queue
    _progress_queue = q


def _gaps(seed: int, mn: str, start: int, end: int) -> list[tuple[int, int]]:
    found = []
    for day in range(start // DAY - 1, (end - 1) // DAY + 1):
        found += [
            (max(a, start), min(b, end)) for a, b in network_gaps(seed, mn, day) if a < end and b > start
        ]
    return sorted(found)


def _run_point(job: _Job, report: Progress | None = None) -> _Result:
    """Simulate one point over its span and write its frames (production time, length, bytes) to ``job.path``."""
    base = PointModel(job.point, job.seed)
    gaps = _gaps(job.seed, job.point.mn, job.start, job.end) if job.gaps else []
    model: PointModel = base
    if job.injections or gaps:
        peers = {p.mn: PointModel(p, job.seed) for p in job.peers}
        model = TamperedModel(base, job.injections, peers=peers, gaps=gaps)
    source = FrameSource(model, job.start, rtd_interval=job.rtd_interval, minute_interval=job.minute_interval)
    counts: Counter[str] = Counter()
    pack = _RECORD.pack
    t = float(job.start)
    with open(job.path, "wb") as f:
        while t < job.end:
            step_end = min(float(job.end), (t // _CHUNK + 1) * _CHUNK)
            frames, _ = source.advance(step_end)
            buf = bytearray()
            for o in frames:
                buf += pack(o.at, len(o.frame))
                buf += o.frame
                counts[o.cn] += 1
            f.write(buf)
            minutes = int(step_end // 60 - t // 60)
            t = step_end
            if report is not None:
                report(minutes)
            elif _progress_queue is not None:
                _progress_queue.put(minutes)
    labels = model.labels() if isinstance(model, TamperedModel) else []
    return _Result(job.index, dict(counts), labels)


def _records(path: str, index: int) -> Iterator[tuple[float, int, int, bytes]]:
    size = _RECORD.size
    with open(path, "rb") as f:
        seq = 0
        while True:
            head = f.read(size)
            if len(head) < size:
                return
            at, n = _RECORD.unpack(head)
            yield at, index, seq, f.read(n)
            seq += 1


# --------------------------------------------------------------------------------------------------------------
# the log


@dataclass(slots=True)
class OfflineResult:
    """What :func:`generate_log` wrote: frames per CN, labels (sorted), points, wall-clock seconds, workers."""

    frames: dict[str, int]
    labels: list[dict[str, Any]]
    points: int
    seconds: float
    workers: int

    @property
    def total(self) -> int:
        return sum(self.frames.values())


def generate_log(
    plan: FleetPlan,
    out: Path,
    *,
    rtd_interval: float | None = None,
    minute_interval: int = 1,
    gaps: bool = True,
    jobs: int = 0,
    on_start: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> OfflineResult:
    """Write the frames log of ``plan`` to ``out``.

    ``rtd_interval``: real-time data (2011) every that many simulated seconds (None: none); ``gaps``: honest
    network gaps; ``jobs``: worker processes (0: one per core, at most one per point; 1: in this process).
    ``on_start(total)`` is called with the amount of work (simulated point-minutes), ``on_progress(done)`` as it
    is done.  Labels cover the injections and the honest gaps.
    """
    t0 = time.perf_counter()
    truth = {p.mn: p for p in plan.points}
    n = len(plan.points)
    workers = jobs if jobs > 0 else min(n, os.cpu_count() or 1)
    workers = max(1, min(workers, n))
    total = sum(int(b // 60 - a // 60) for a, b in plan.spans.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".envtrust-sim-", dir=out.parent) as tmp:
        todo = []
        for i, point in enumerate(plan.points):
            injections = tuple(plan.by_mn(point.mn))
            donors = sorted({str(x.detail["source_mn"]) for x in injections if x.scenario == "copy_point"})
            a, b = plan.spans[point.mn]
            todo.append(
                _Job(
                    i,
                    point,
                    plan.seed,
                    a,
                    b,
                    rtd_interval or None,
                    minute_interval,
                    injections,
                    tuple(truth[mn] for mn in donors),
                    gaps,
                    str(Path(tmp) / f"{i:05d}.bin"),
                )
            )
        results = _run_all(
            todo, workers, lambda: on_start(total) if on_start is not None else None, on_progress
        )
        streams = [_records(job.path, job.index) for job in todo]
        with open(out, "wb") as f:
            buf: list[bytes] = []
            for rec in heapq.merge(*streams):
                buf.append(rec[3])
                if len(buf) >= 4096:
                    f.write(b"".join(buf))
                    buf.clear()
            f.write(b"".join(buf))
    frames: Counter[str] = Counter()
    labels: list[dict[str, Any]] = []
    for r in sorted(results, key=lambda r: r.index):
        frames.update(r.frames)
        labels += r.labels
    return OfflineResult(
        dict(sorted(frames.items())), sort_labels(labels), n, time.perf_counter() - t0, workers
    )


def _run_all(
    todo: list[_Job], workers: int, started: Callable[[], None], on_progress: Progress | None
) -> list[_Result]:
    if workers == 1:
        started()
        return [_run_point(job, on_progress) for job in todo]
    # fork where there is one: no re-import of the caller's main module; the workers are all forked at the first
    # submit, before any thread of this process (the executor's, a progress display's) exists
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    results: list[_Result] = []

    def drain() -> None:
        while True:
            try:
                done = q.get_nowait()
            except queue.Empty:
                return
            if on_progress is not None:
                on_progress(done)

    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(q,)
    ) as pool:
        pending = {pool.submit(_run_point, job) for job in todo}
        started()
        while pending:
            finished, pending = concurrent.futures.wait(pending, timeout=0.2)
            drain()
            for fut in finished:
                results.append(fut.result())
    time.sleep(0.05)
    drain()
    q.close()
    q.join_thread()
    return results
