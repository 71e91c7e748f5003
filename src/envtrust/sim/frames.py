"""HJ 212-2017 upload frames built from the physics, and the deterministic frame stream of one data logger.

A :class:`FrameSource` turns a :class:`~envtrust.sim.physics.PointModel` into the frames a data logger uploads
as its simulated clock advances: real-time data (CN 2011) every ``rtd_interval`` seconds, minute data (2051)
every ``minute_interval`` minutes, hourly (2061) and daily (2031) data at each hour and day.  The frames depend
only on (seed, MN, simulated time): QN is the simulated production time (period end for aggregates) plus a fixed
offset per command (2011 +0 ms, 2051 +100 ms, 2061 +200 ms, 2031 +300 ms, +1 ms per extra fragment), so QNs of
one logger are unique and increasing.  A frame whose data segment would exceed HJ 212's 1024 bytes is split
(PNUM/PNO, Flag=7) at item boundaries.

Aggregates are built from 1-minute statistics.  When the logger starts in the middle of an hour or a day, the
minutes and hours before its start are computed too (they are a pure function of time), so the first hourly and
daily values are complete; that work is spread out with :meth:`FrameSource.prefill_step`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..hj212 import MAX_SEGMENT, Item, qn_from_time, upload
from ..hj212.times import format_data_time
from .physics import PeriodStats, PointModel, Sample, local_datetime

__all__ = [
    "CN_DAY",
    "CN_HOUR",
    "CN_MINUTE",
    "CN_RTD",
    "MIN_INTERVALS",
    "FrameSource",
    "Outgoing",
    "build_upload",
    "period_items",
    "rtd_items",
]

CN_RTD, CN_MINUTE, CN_HOUR, CN_DAY = "2011", "2051", "2061", "2031"
QN_OFFSET_MS = {CN_RTD: 0, CN_MINUTE: 100, CN_HOUR: 200, CN_DAY: 300}
MIN_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # HJ 212-2017 MinInterval values
DEFAULT_PW = "123456"
_OVERHEAD = 6 + 4 + 2  # "##" + length, CRC, CRLF


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame to upload: its QN (the 9014 reply echoes it), CN, DataTime and bytes; ``at`` = local seconds
    of the simulated moment it was produced."""

    qn: str
    cn: str
    data_time: str
    frame: bytes
    at: float


def rtd_items(model: PointModel, sample: Sample) -> list[Item]:
    """``xxx-Rtd`` (+ ``xxx-ZsRtd`` for converted pollutants) and ``xxx-Flag`` for every channel."""
    items = []
    for ch in model.channels:
        values = {"Rtd": ch.fmt(sample.values[ch.code])}
        zs = sample.zs.get(ch.code)
        if zs is not None:
            values["ZsRtd"] = ch.fmt(zs)
        values["Flag"] = sample.flags[ch.code]
        items.append(Item(ch.code, values, ch.code))
    return items


def period_items(model: PointModel, stats: PeriodStats, *, strict: bool = False) -> list[Item]:
    """``Cou`` (flow: m³; pollutants: kg), ``Min``/``Avg``/``Max``, ``ZsMin``/``ZsAvg``/``ZsMax`` and ``Flag``."""
    items = []
    for ch, st in zip(model.channels, stats.channels, strict=True):
        summary = st.summary()
        if summary is None:
            continue
        avg, lo, hi = summary
        fmt = ch.fmt
        values: dict[str, str] = {}
        if st.cou is not None:
            values["Cou"] = f"{st.cou:.{2 if ch.kind == 'flow' else 4}f}"
        values["Min"] = fmt(lo or 0.0)
        values["Avg"] = fmt(avg)
        values["Max"] = fmt(hi or 0.0)
        zs = st.summary(zs=True) if st.has_zs else None
        if zs is not None:
            values["ZsMin"] = fmt(zs[1] or 0.0)
            values["ZsAvg"] = fmt(zs[0] or 0.0)
            values["ZsMax"] = fmt(zs[2] or 0.0)
        values["Flag"] = st.flag(model.medium, strict=strict)
        items.append(Item(ch.code, values, ch.code))
    return items


def _item_len(item: Item) -> int:
    return sum(len(item.code_raw) + len(s) + len(v) + 3 for s, v in item.values.items())


def build_upload(
    model: PointModel,
    cn: str,
    qn_at: float,
    data_time: float,
    items: Sequence[Item],
    *,
    at: float | None = None,
) -> list[Outgoing]:
    """The upload frame(s) for ``items``: one frame with Flag=5, or fragments with Flag=7 when too long."""
    point = model.point
    st, pw, mn = point.system_code, point.pw or DEFAULT_PW, point.mn
    dt_text = format_data_time(local_datetime(data_time))
    produced = qn_at if at is None else at

    def frame(i: int, part: Sequence[Item], pnum: int | None) -> Outgoing:
        qn = qn_from_time(local_datetime(qn_at + i / 1000.0))
        raw = upload(
            qn=qn,
            st=st,
            cn=cn,
            pw=pw,
            mn=mn,
            data_time=dt_text,
            items=part,
            flag=5 if pnum is None else 7,
            pnum=pnum,
            pno=None if pnum is None else i + 1,
        )
        return Outgoing(qn, cn, dt_text, raw, produced)

    whole = frame(0, items, None)
    if len(whole.frame) - _OVERHEAD <= MAX_SEGMENT:
        return [whole]
    base = len(frame(0, (), 9999).frame) - _OVERHEAD + 2  # with PNUM=9999;PNO=… and the separators
    budget = MAX_SEGMENT - base
    groups: list[list[Item]] = [[]]
    used = 0
    for item in items:
        size = _item_len(item) + 1
        if groups[-1] and used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(item)
        used += size
    return [frame(i, part, len(groups)) for i, part in enumerate(groups)]


class FrameSource:
    """The frames one data logger produces from simulated local time ``start`` (local seconds) on.

    Call :meth:`advance` with the current simulated time; it returns the frames that became due, in order, and
    the notable events (state changes: shutdown, restart, maintenance, calibration) as ``(local seconds, text)``.
    ``rtd_interval`` None or 0 disables real-time data.
    """

    def __init__(
        self,
        model: PointModel,
        start: float,
        *,
        rtd_interval: float | None = 30.0,
        minute_interval: int = 1,
        hourly: bool = True,
        daily: bool = True,
    ) -> None:
        if minute_interval not in MIN_INTERVALS:
            raise ValueError(f"minute_interval must be one of {MIN_INTERVALS} (HJ 212-2017 MinInterval)")
        if rtd_interval is not None and rtd_interval < 0:
            raise ValueError("rtd_interval must be positive")
        self.model = model
        self.start = start
        self.rtd_interval = rtd_interval or None
        self.minute_interval = minute_interval
        self.hourly = hourly
        self.daily = daily
        self.produced = 0
        self._rtd_k = math.ceil(start / self.rtd_interval) if self.rtd_interval else 0
        m0 = math.floor(start / 60)
        self._next_minute = m0
        k = minute_interval
        track_hours = hourly or daily
        self._min_acc = PeriodStats.empty(model, 60.0 * (m0 - m0 % k), 60.0 * (m0 - m0 % k + k))
        hour0 = m0 - m0 % 60
        self._hour_acc = PeriodStats.empty(model, 60.0 * hour0, 60.0 * hour0 + 3600) if track_hours else None
        day0 = m0 - m0 % 1440
        self._day_acc = PeriodStats.empty(model, 60.0 * day0, 60.0 * day0 + 86400) if daily else None
        # work owed for the time before the start: minutes of the current hour, hours of the current day
        self._period0 = m0 - m0 % k
        first = hour0 if track_hours else self._period0
        # (popped from the end: the latest first, so that the first minute-data period is complete soonest)
        self._pre_minutes = list(range(first, m0))
        self._pre_day = list(range(day0, hour0)) if daily else []
        # pacing: each list is worked off by halfway to the boundary that needs it (the hour end, the day end)
        self._pre_plan = (
            (self._pre_minutes, len(self._pre_minutes), start + 0.5 * (60.0 * hour0 + 3600 - start)),
            (self._pre_day, len(self._pre_day), start + 0.5 * (60.0 * day0 + 86400 - start)),
        )
        self._state = model.minute(m0).state

    # -- scheduling ----------------------------------------------------------------------------------------------

    @property
    def next_rtd(self) -> float:
        return self._rtd_k * self.rtd_interval if self.rtd_interval else math.inf

    def next_due(self) -> float:
        """Local time of the next frame or minute boundary."""
        return min(self.next_rtd, 60.0 * (self._next_minute + 1))

    @property
    def pending_prefill(self) -> bool:
        return bool(self._pre_minutes or self._pre_day)

    def _owed(self, now: float) -> list[int]:
        owed = []
        for todo, total, deadline in self._pre_plan:
            progress = min(1.0, max(0.0, (now - self.start) / max(1.0, deadline - self.start)))
            owed.append(min(len(todo), max(0, math.ceil(progress * total) - (total - len(todo)))))
        return owed

    def prefill_owed(self, now: float) -> int:
        """How many minutes of :meth:`prefill_step` work are due at local time ``now``.  The work is paced so that
        it is done halfway to the boundary that needs it (no CPU burst when hundreds of loggers start together);
        what is still missing at that boundary is computed then."""
        return sum(self._owed(now))

    def prefill_step(self, minutes: int = 10, now: float | None = None) -> None:
        """Compute up to ``minutes`` minutes of the statistics owed for the time before the start (with ``now``:
        only what :meth:`prefill_owed` says is due)."""
        quota = self._owed(now) if now is not None else [minutes, minutes]
        for i, (todo, _, _) in enumerate(self._pre_plan):
            n = min(minutes, quota[i], len(todo))
            minutes -= n
            for _ in range(n):
                m = todo.pop()
                st = self.model.minute_stats(m)
                if i == 0:
                    if m >= self._period0:
                        self._min_acc += st
                    if self._hour_acc is not None:
                        self._hour_acc += st
                elif self._day_acc is not None:
                    self._day_acc += st

    # -- production ----------------------------------------------------------------------------------------------

    def advance(
        self, until: float, limit: int | None = None
    ) -> tuple[list[Outgoing], list[tuple[float, str]]]:
        """Produce everything due at or before local time ``until`` (with ``limit``: stop after about that many
        frames; the rest comes with the next call)."""
        out: list[Outgoing] = []
        events: list[tuple[float, str]] = []
        while limit is None or len(out) < limit:
            t_rtd = self.next_rtd
            t_min = 60.0 * (self._next_minute + 1)
            if min(t_rtd, t_min) > until:
                break
            if t_rtd <= t_min:
                self._rtd(t_rtd, out)
            else:
                self._close_minute(out, events)
        self.produced += len(out)
        return out, events

    def _rtd(self, t: float, out: list[Outgoing]) -> None:
        self._rtd_k += 1
        if self.model.omitted(CN_RTD, t, t):
            return
        sample = self.model.sample(t)
        out += build_upload(self.model, CN_RTD, t, t, rtd_items(self.model, sample))

    def _emit(
        self, cn: str, stats: PeriodStats, end: float, out: list[Outgoing], *, strict: bool = False
    ) -> None:
        if self.model.omitted(cn, stats.start, end):
            return
        items = period_items(self.model, stats, strict=strict)
        out += build_upload(self.model, cn, end + QN_OFFSET_MS[cn] / 1000.0, stats.start, items, at=end)

    def _close_minute(self, out: list[Outgoing], events: list[tuple[float, str]]) -> None:
        model = self.model
        m = self._next_minute
        k = self.minute_interval
        if (m + 1) % k == 0:  # the first minute-data period needs its minutes before the start
            while self._pre_minutes and self._pre_minutes[-1] >= self._period0:
                self.prefill_step(1)
        if (m + 1) % 60 == 0:
            while self._pre_minutes:
                self.prefill_step(60)
        end = 60.0 * (m + 1)
        st = model.minute_stats(m)
        state = model.minute(m).state
        if state != self._state:
            text = _transition(self._state, state)
            if text:
                events.append((60.0 * m, text))
            self._state = state
        if self._hour_acc is not None:
            self._hour_acc += st
        if k == 1:
            self._emit(CN_MINUTE, st, end, out, strict=True)
        else:
            self._min_acc += st
            if (m + 1) % k == 0:
                self._emit(CN_MINUTE, self._min_acc, end, out, strict=True)
                self._min_acc = PeriodStats.empty(model, end, end + 60.0 * k)
        if self._hour_acc is not None and (m + 1) % 60 == 0:
            if self.hourly:
                self._emit(CN_HOUR, self._hour_acc, end, out)
            if self._day_acc is not None:
                self._day_acc += self._hour_acc
            self._hour_acc = PeriodStats.empty(model, end, end + 3600.0)
        if self._day_acc is not None and (m + 1) % 1440 == 0:
            while self._pre_day:
                self.prefill_step(60)
            self._emit(CN_DAY, self._day_acc, end, out)
            self._day_acc = PeriodStats.empty(model, end, end + 86400.0)
        self._next_minute = m + 1


def _transition(old: str, new: str) -> str:
    if new == "F":
        return "process shutdown (停运): flow near zero, O2 rising to 20.9 %, data flagged F"
    if old == "F":
        return "process restarted after shutdown: load ramping up"
    if new == "M":
        return "maintenance started: analysers flagged M"
    if old == "M":
        return "maintenance ended"
    if new == "C":
        return "daily zero/span calibration: analysers flagged C"
    return ""
