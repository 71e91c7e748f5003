"""Incremental evaluation: per-point buffers of recent readings and the catalogue run over them as data arrive.

Batch (``envtrust check``, ``envtrust recheck``) and streaming use the same :class:`Accumulator` to lay readings on
a grid and the same :func:`~envtrust.qc.runner.run` semantics; streaming keeps a sliding window of whole local days
per point (:class:`StreamEvaluator`) and re-evaluates a point when new data of it have arrived, or when it has been
silent for a while (so that a point that goes offline is noticed).  The evaluator is pure: the caller feeds it rows
and times and decides what to do with the findings (the alarm book).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .catalogue import Configured, Finding
from .data import PointData, PointInfo, SeriesBuilder
from .marks import Mark
from .qa import Blocked
from .runner import call

__all__ = ["Accumulator", "Evaluation", "Row", "StreamEvaluator"]

# one reading: (kind, data time, HJ 212 code, values by column name (avg, min, max, zs_avg, rtd), data flag)
Row = tuple[str, int, str, Mapping[str, float | None], str | None]


class _Rtd:
    """Real-time values folded into minute statistics, for points that send no minute data."""

    def __init__(self) -> None:
        self.acc: dict[tuple[int, str], list[Any]] = {}
        self.newest: int | None = None

    def add(self, t: int, code: str, value: float | None, flag: str | None) -> None:
        if value is None:
            return
        minute = t - t % 60
        self.newest = minute if self.newest is None else max(self.newest, minute)
        a = self.acc.setdefault((minute, code), [0.0, 0, value, value, flag or ""])
        a[0] += value
        a[1] += 1
        a[2] = min(a[2], value)
        a[3] = max(a[3], value)
        if flag and flag != "N":
            a[4] = flag

    def builder(self) -> SeriesBuilder:
        b = SeriesBuilder()
        for (t, code), (total, n, lo, hi, flag) in sorted(self.acc.items()):
            b.add(t, code, total / n, lo, hi, None, flag)
        return b

    def trim(self, before: int) -> None:
        for key in [k for k in self.acc if k[0] < before]:
            del self.acc[key]
        self.newest = max((k[0] for k in self.acc), default=None)


@dataclass
class Accumulator:
    """The readings of one point in arrival order, laid on minute and hourly grids on demand."""

    info: PointInfo
    minute: SeriesBuilder = field(default_factory=SeriesBuilder)
    hour: SeriesBuilder = field(default_factory=SeriesBuilder)
    rtd: _Rtd = field(default_factory=_Rtd)

    def add_frame(self, rows: Iterable[Row], sent: float | None = None) -> None:
        """The readings of one frame (``sent``: when the logger sent it, its QN); the first reading of a frame
        decides whether a repeated data time counts as a duplicate."""
        first = True
        for kind, t, code, v, flag in rows:
            if kind == "rtd":
                self.rtd.add(t, code, v.get("rtd"), flag)
            elif kind in ("minute", "hour"):
                builder = self.minute if kind == "minute" else self.hour
                builder.add(
                    t,
                    code,
                    v.get("avg"),
                    v.get("min"),
                    v.get("max"),
                    v.get("zs_avg"),
                    flag,
                    sent,
                    first_of_frame=first,
                )
            first = False

    @property
    def newest(self) -> int | None:
        """The newest data time received (start of the newest minute or hour slot, or real-time value)."""
        times = [t for t in (self.minute.newest, self.hour.newest, self.rtd.newest) if t is not None]
        return max(times) if times else None

    def trim(self, before: int) -> None:
        self.minute.trim(before)
        self.hour.trim(before)
        self.rtd.trim(before)

    def build(
        self,
        now: float | None = None,
        horizon: float | None = None,
        blocked: Mapping[str, Sequence[Blocked]] | None = None,
        marks: Sequence[Mark] | None = None,
        mark_context: Mapping[str, Any] | None = None,
    ) -> PointData:
        minute = self.minute if len(self.minute) or not self.rtd.acc else self.rtd.builder()
        return PointData(
            self.info,
            minute.build(),
            self.hour.build(),
            duplicates=minute.duplicates,
            now=now,
            horizon=horizon,
            blocked=blocked,
            marks=marks,
            mark_context=mark_context,
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The findings of one evaluation of one point, with what was evaluated (for clearing alarms whose condition
    has gone): the checks that ran and ``until``, the end of the point's newest data (a condition is gone only when
    data show it: silence proves nothing)."""

    mn: str
    findings: list[Finding]
    checks: tuple[str, ...]
    until: int


class StreamEvaluator:
    """Per-point sliding windows of whole local days; point-scope checks re-run on a point's window when it changed,
    fleet-scope checks over every window on request.

    ``window_days`` whole local days are kept (the current day and the ones before it), enough for daily validity,
    daily averages and replays within the window.  ``lag_s`` is how late data may normally arrive: in streaming, a
    period counts as over (and a point as silent) only ``lag_s`` after its end.
    """

    def __init__(self, configured: Configured, *, window_days: int = 3, lag_s: int = 120) -> None:
        if window_days < 1:
            raise ValueError("window_days must be at least 1")
        self.configured = configured
        self.window_days = window_days
        self.lag_s = lag_s
        self.points: dict[str, Accumulator] = {}
        self.dirty: set[str] = set()
        self.evaluated_at: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self.blocked: dict[str, dict[str, list[Blocked]]] = {}  # per point: out-of-control spans per code
        self.marks: dict[
            str, tuple[list[Mark], dict[str, Any]]
        ] = {}  # per point: data marks and their context

    def set_marks(self, mn: str, marks: Sequence[Mark], context: Mapping[str, Any]) -> None:
        """A point's data marks and what their contest rules need; the point is re-evaluated when they changed."""
        new = (list(marks), dict(context))
        if self.marks.get(mn, ([], {})) != new:
            if marks or context:
                self.marks[mn] = new
            else:
                self.marks.pop(mn, None)
            if mn in self.points:
                self.dirty.add(mn)

    def set_blocked(self, mn: str, blocked: Mapping[str, Sequence[Blocked]]) -> None:
        """A point's out-of-control spans (from its quality records); the point is re-evaluated when they
        changed."""
        new = {c: list(v) for c, v in blocked.items() if v}
        if self.blocked.get(mn, {}) != new:
            if new:
                self.blocked[mn] = new
            else:
                self.blocked.pop(mn, None)
            if mn in self.points:
                self.dirty.add(mn)

    def set_point(self, info: PointInfo) -> None:
        """Add a point or update its registry facts (limits, reference O2 …)."""
        acc = self.points.get(info.mn)
        if acc is None:
            self.points[info.mn] = Accumulator(info)
        elif acc.info != info:
            acc.info = info
            self.dirty.add(info.mn)

    def drop_point(self, mn: str) -> None:
        """Forget a point (no longer registered, or checked by another process in cluster mode)."""
        for d in (self.points, self.evaluated_at, self.received, self.blocked, self.marks):
            d.pop(mn, None)
        self.dirty.discard(mn)

    def feed(
        self, mn: str, rows: Sequence[Row], sent: float | None = None, received: float | None = None
    ) -> bool:
        """The readings of one stored frame (``received``: when it arrived, for telling a silent point from one
        that is back-filling); False when the point is unknown (nothing is kept)."""
        acc = self.points.get(mn)
        if acc is None:
            return False
        if received is not None:
            self.received[mn] = max(received, self.received.get(mn, received))
        if not rows:
            return True
        acc.add_frame(rows, sent)
        # real-time values change nothing the checks see while the point sends minute data: no re-evaluation
        changes = len(acc.minute) == 0 or any(r[0] != "rtd" for r in rows)
        newest = acc.newest
        if newest is not None:
            keep = self.window_start(acc.info, newest)
            oldest = min((b.oldest for b in (acc.minute, acc.hour) if b.oldest is not None), default=keep)
            if oldest < keep:
                acc.trim(keep)
        if changes:
            self.dirty.add(mn)
        return True

    def window_start(self, info: PointInfo, newest: int) -> int:
        """The start of the window that ends with the data time ``newest``: a local midnight."""
        off = info.utc_offset
        today = ((newest + off) // 86400) * 86400 - off
        return today - (self.window_days - 1) * 86400

    def _checks(self, scope: str) -> Configured:
        return Configured(tuple((c, p) for c, p in self.configured.checks if c.scope == scope))

    def point_data(self, mn: str, now: float) -> PointData:
        """A point's window as check input.  A point from which frames arrived within ``lag_s`` is not silent,
        however old its data times (a back-fill); otherwise data should have arrived up to ``now - lag_s`` (the
        horizon), and the time since its newest data is a gap (offline)."""
        received = self.received.get(mn)
        live = received is not None and now - received < self.lag_s
        marks, context = self.marks.get(mn, ([], {}))
        return self.points[mn].build(
            now=now,
            horizon=None if live else now - self.lag_s,
            blocked=self.blocked.get(mn),
            marks=marks,
            mark_context=context,
        )

    def evaluate(self, now: float, mns: Iterable[str] | None = None) -> list[Evaluation]:
        """Run the point-scope checks over the windows of ``mns`` (default: the points that changed)."""
        if mns is None:
            todo = sorted(self.dirty)
            self.dirty.clear()
        else:
            todo = sorted(set(mns) & set(self.points))
            self.dirty.difference_update(todo)
        checks = self._checks("point")
        names = tuple(c.name for c, _ in checks.checks)
        out: list[Evaluation] = []
        for mn in todo:
            if self.points[mn].newest is None:
                continue
            pd = self.point_data(mn, now)
            findings: list[Finding] = []
            for check, params in checks.checks:
                findings += call(check, pd, params)
            self.evaluated_at[mn] = now
            out.append(Evaluation(mn, findings, names, _data_end(pd)))
        return out

    def silent(self, now: float, every_s: float) -> list[str]:
        """Points with data in their window that have not been evaluated for ``every_s`` seconds (their silence is
        news too: a point that goes offline sends nothing that would make it dirty)."""
        return sorted(
            mn
            for mn, acc in self.points.items()
            if acc.newest is not None and now - self.evaluated_at.get(mn, 0.0) >= every_s
        )

    def evaluate_fleet(self, now: float) -> list[Evaluation]:
        """Run the fleet-scope checks over every window; one evaluation per point with data."""
        checks = self._checks("fleet")
        if not checks.checks:
            return []
        datas = {
            mn: self.point_data(mn, now) for mn, acc in sorted(self.points.items()) if acc.newest is not None
        }
        by_point: dict[str, list[Finding]] = {mn: [] for mn in datas}
        for check, params in checks.checks:
            for f in call(check, list(datas.values()), params):
                by_point.setdefault(f.mn, []).append(f)
        names = tuple(c.name for c, _ in checks.checks)
        return [Evaluation(mn, fs, names, _data_end(datas[mn])) for mn, fs in by_point.items() if mn in datas]


def _data_end(pd: PointData) -> int:
    ends = [s.end for s in (pd.minute, pd.hour) if s is not None]
    return max(ends) if ends else 0
