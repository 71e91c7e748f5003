"""A fleet of simulated HJ 212-2017 data loggers (数采仪), one asyncio task and one TCP connection per point.

Each logger uploads the frames of its :class:`~envtrust.sim.frames.FrameSource` with Flag=5 and waits for the
host's 9014 reply before the next frame (HJ 212-2017 Table 1: 10 s timeout, 3 retries with the same QN).  Frames
not acknowledged stay in the logger's backlog, which is sent in order before any newer data.  After the retries
the link is considered down: the logger disconnects and reconnects (exponential backoff on failures).  A host
that refuses a frame with 9011 (QnRtn ≠ 1) gets it dropped from the backlog.

Network outages are simulated too: rare, a few minutes long, at times determined by the seed (``outage_rate``
outages per point per simulated day on average, Poisson).  During an outage the logger is disconnected and keeps
producing data into its backlog; afterwards it reconnects and back-fills.  ``outages`` forces extra windows.

The simulated clock starts at ``start`` (default: now) and runs ``speed`` times real time; a naive ``start`` is
wall-clock time in each point's zone.  The frames do not depend on the network or the timing: only on the seed,
the point, ``start`` and the intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..hj212 import Decoder, Frame
from ..registry import Point
from .frames import FrameSource, Outgoing
from .physics import DAY, PointModel, local_datetime, local_seconds, point_key, splitmix64

__all__ = ["FleetStats", "LoggerStats", "outage_windows", "run_fleet"]

EventCallback = Callable[[str, str], None]
_S_OUTAGE = 0x6F75
_S_BACKOFF = 0x626F
_PRODUCE_CHUNK = 50  # frames produced per step, so that a logger that fell behind does not block the loop


@dataclass(slots=True)
class LoggerStats:
    """Counters of one data logger.  ``sent`` counts transmissions (retries included)."""

    mn: str
    produced: int = 0
    sent: int = 0
    acked: int = 0
    retries: int = 0
    refused: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    link_failures: int = 0
    outages: int = 0
    dropped: int = 0
    backlog: int = 0
    max_backlog: int = 0
    acked_by_cn: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class FleetStats:
    """Counters of the whole fleet (sums over :attr:`loggers`); ``errors`` lists loggers that crashed,
    ``skipped`` points the simulator cannot model (ambient)."""

    loggers: dict[str, LoggerStats] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.loggers.values())

    @property
    def frames_produced(self) -> int:
        return self._sum("produced")

    @property
    def frames_sent(self) -> int:
        return self._sum("sent")

    @property
    def frames_acked(self) -> int:
        return self._sum("acked")

    @property
    def retries(self) -> int:
        return self._sum("retries")

    @property
    def reconnects(self) -> int:
        return self._sum("reconnects")

    @property
    def outages(self) -> int:
        return self._sum("outages")

    @property
    def backlog(self) -> int:
        return self._sum("backlog")

    def summary(self) -> str:
        return (
            f"{len(self.loggers)} loggers: {self.frames_produced} frames produced, {self.frames_sent} sent, "
            f"{self.frames_acked} acknowledged, {self.retries} retries, {self.reconnects} reconnects, "
            f"{self.outages} outages, backlog {self.backlog}"
        )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def outage_windows(seed: int, mn: str, day: int, rate: float) -> list[tuple[float, float]]:
    """Network outages of a point starting on local day ``day``: (start, end) in local seconds.

    Their number is Poisson with mean ``rate``; each lasts 2–10 minutes; all determined by (seed, MN, day).
    """
    rng = random.Random(
        splitmix64(point_key(seed, mn) ^ splitmix64((_S_OUTAGE << 48) ^ (day & 0xFFFFFFFFFFFF)))
    )
    windows = []
    for _ in range(_poisson(rng, rate)):
        start = day * DAY + rng.uniform(0, DAY)
        windows.append((start, start + rng.uniform(120.0, 600.0)))
    return sorted(windows)


class _Clock:
    """Simulated seconds elapsed since the fleet started: real elapsed time × speed — or, with ``lead`` (a start
    that many seconds in the past) and a speed above 1, × speed only until the simulated time has caught up with
    the real one, then real time: the fleet never sends data from the future."""

    def __init__(self, speed: float, lead: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.lead = lead if lead is not None and speed > 1 else None
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()

    def elapsed(self) -> float:
        real = self._loop.time() - self._t0
        return min(real * self.speed, real + self.lead) if self.lead is not None else real * self.speed

    def real_delay(self, simulated: float) -> float:
        """Real seconds until ``simulated`` more seconds have elapsed (0 when not ahead)."""
        if simulated <= 0:
            return 0.0
        target = self.elapsed() + simulated
        real_now = self._loop.time() - self._t0
        if self.lead is None:
            return max(0.0, target / self.speed - real_now)
        caught = (
            self.lead * self.speed / (self.speed - 1)
        )  # the simulated elapsed time at which it catches up
        real_target = target / self.speed if target <= caught else target - self.lead
        return max(0.0, real_target - real_now)


class _Logger:
    def __init__(
        self,
        source: FrameSource,
        clock: _Clock,
        host: str,
        port: int,
        *,
        seed: int,
        outage_rate: float,
        forced: Sequence[tuple[float, float]],
        ack_timeout: float,
        retries: int,
        backlog_limit: int,
        stats: LoggerStats,
        on_event: EventCallback | None,
    ) -> None:
        self.source = source
        self.model = source.model
        self.mn = source.model.point.mn
        self.clock = clock
        self.host = host
        self.port = port
        self.seed = seed
        self.outage_rate = outage_rate
        self.forced = sorted(forced)
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.backlog_limit = backlog_limit
        self.stats = stats
        self.on_event = on_event
        self.backlog: deque[Outgoing] = deque()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.decoder = Decoder()
        self.replies: dict[str, str] = {}  # QN → reply CN (+ QnRtn) seen and not yet consumed
        self.failures = 0
        self.next_attempt = 0.0
        self.outage_end: float | None = None
        # (frames waiting at a reconnection, the last of them) while they are being sent
        self.backfill: tuple[int, Outgoing] | None = None
        self._outage_days: dict[int, list[tuple[float, float]]] = {}
        self._backoff_rng = random.Random(splitmix64(point_key(seed, self.mn) ^ _S_BACKOFF))

    # -- helpers -------------------------------------------------------------------------------------------------

    def now(self) -> float:
        return self.source.start + self.clock.elapsed()

    def event(self, text: str, at: float | None = None) -> None:
        if self.on_event is not None:
            when = local_datetime(self.now() if at is None else at).strftime("%Y-%m-%d %H:%M:%S")
            self.on_event(self.mn, f"{when} {text}")

    def _outage(self, s: float) -> tuple[float, float] | None:
        for a, b in self.forced:
            if a <= s < b:
                return a, b
        if self.outage_rate <= 0:
            return None
        d = int(s // DAY)
        for dd in (d - 1, d):
            windows = self._outage_days.get(dd)
            if windows is None:
                if len(self._outage_days) > 4:
                    self._outage_days.pop(next(iter(self._outage_days)))
                windows = self._outage_days[dd] = outage_windows(self.seed, self.mn, dd, self.outage_rate)
            for a, b in windows:
                if a <= s < b:
                    return a, b
        return None

    async def _sleep_until(self, target: float) -> None:
        await asyncio.sleep(self.clock.real_delay(target - self.now()))

    def _produce(self, now: float) -> bool:
        """Move the frames due by ``now`` into the backlog; True when more are due (the CPU is behind)."""
        frames, events = self.source.advance(now, limit=_PRODUCE_CHUNK)
        for at, text in events:
            self.event(text, at)
        if frames:
            self.stats.produced += len(frames)
            self.backlog.extend(frames)
            excess = len(self.backlog) - self.backlog_limit
            for _ in range(max(0, excess)):
                self.backlog.popleft()
                self.stats.dropped += 1
            self.stats.max_backlog = max(self.stats.max_backlog, len(self.backlog))
        return len(frames) >= _PRODUCE_CHUNK

    async def _close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _schedule_retry(self) -> None:
        self.failures += 1
        delay = min(60.0, 2.0 ** (self.failures - 1)) * (0.75 + 0.5 * self._backoff_rng.random())
        self.next_attempt = asyncio.get_running_loop().time() + delay

    async def _connect(self) -> bool:
        try:
            async with asyncio.timeout(self.ack_timeout):
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            self.stats.connect_failures += 1
            if self.failures == 0:
                self.event(f"cannot connect to {self.host}:{self.port} ({exc.__class__.__name__}); retrying")
            self._schedule_retry()
            return False
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self.failures = 0
        self.decoder = Decoder()
        self.replies.clear()
        if len(self.backlog) > 1:
            self.backfill = (len(self.backlog), self.backlog[-1])
            self.event(f"connected again; back-filling {len(self.backlog)} frames")
        return True

    # -- sending -------------------------------------------------------------------------------------------------

    async def _reply(self, qn: str) -> str:
        """Read until the host's reply to ``qn`` arrives: "9014", or "9011:<QnRtn>"."""
        while qn not in self.replies:
            assert self.reader is not None
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionResetError("connection closed by the host")
            for ev in self.decoder.feed(data):
                if isinstance(ev, Frame) and ev.qn is not None:
                    if ev.cn == "9014":
                        self.replies[ev.qn] = "9014"
                    elif ev.cn == "9011":
                        self.replies[ev.qn] = f"9011:{ev.cp.get('QnRtn', '')}"
            if len(self.replies) > 64:  # stale replies (to earlier transmissions) are not kept for ever
                self.replies = {k: v for k, v in self.replies.items() if k >= qn}
        return self.replies.pop(qn)

    async def _send_head(self) -> None:
        item = self.backlog[0]
        for attempt in range(self.retries + 1):
            if self.writer is None:
                return
            if attempt:
                self.stats.retries += 1
            self.writer.write(item.frame)
            await self.writer.drain()
            self.stats.sent += 1
            try:
                async with asyncio.timeout(self.ack_timeout):
                    reply = await self._reply(item.qn)
            except TimeoutError:
                continue
            done = self.backlog.popleft()
            if reply == "9014" or reply == "9011:1":
                self.stats.acked += 1
                self.stats.acked_by_cn[item.cn] = self.stats.acked_by_cn.get(item.cn, 0) + 1
            else:
                self.stats.refused += 1
                self.event(f"host refused frame QN={item.qn} CN={item.cn} ({reply}); dropped")
            if self.backfill is not None and done is self.backfill[1]:
                self.event(f"back-fill complete ({self.backfill[0]} frames)")
                self.backfill = None
            return
        self.stats.link_failures += 1
        self.event(f"no 9014 reply after {self.retries} retries: link down, reconnecting")
        await self._close()
        self._schedule_retry()

    # -- main loop -----------------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            await self._close()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = self.now()
            if self._produce(now):
                await asyncio.sleep(0)
            outage = self._outage(now)
            if outage is not None:
                if self.outage_end is None:
                    self.stats.outages += 1
                    self.event(
                        f"network outage ({(outage[1] - outage[0]) / 60:.1f} min): disconnected", outage[0]
                    )
                    await self._close()
                self.outage_end = outage[1]
                await self._sleep_until(min(outage[1], self.source.next_due()))
                continue
            if self.outage_end is not None:
                self.event(f"network outage over; {len(self.backlog)} frames waiting", self.outage_end)
                self.outage_end = None
                self.next_attempt = 0.0
            if self.writer is None:
                wait = self.next_attempt - loop.time()
                if wait > 0:
                    due = self.clock.real_delay(self.source.next_due() - now)
                    await asyncio.sleep(max(0.0, min(wait, due)))
                    continue
                if not await self._connect():
                    continue
            if self.backlog:
                try:
                    await self._send_head()
                except (OSError, ConnectionError) as exc:
                    self.stats.link_failures += 1
                    self.event(f"connection lost ({exc.__class__.__name__}); reconnecting")
                    await self._close()
                    self._schedule_retry()
                continue
            owed = self.source.prefill_owed(now)
            if owed:
                self.source.prefill_step(5, now)
                await asyncio.sleep(0)
                continue
            await self._sleep_until(self.source.next_due())


async def run_fleet(
    points: Sequence[Point],
    host: str,
    port: int,
    *,
    seed: int = 1,
    rtd_interval: float = 30.0,
    minute_interval: int = 1,
    hourly: bool = True,
    daily: bool = True,
    speed: float = 1.0,
    start: datetime | None = None,
    catch_up: bool = False,
    duration: float | None = None,
    outage_rate: float = 0.5,
    on_event: EventCallback | None = None,
    stop: asyncio.Event | None = None,
    outages: Mapping[str, Sequence[tuple[datetime, float]]] | None = None,
    ack_timeout: float = 10.0,
    retries: int = 3,
    backlog_limit: int = 20000,
    models: Mapping[str, PointModel] | None = None,
) -> FleetStats:
    """Run one simulated data logger per point against the HJ 212 host at ``host:port``.

    ``rtd_interval``: simulated seconds between real-time uploads (0 disables them); ``minute_interval``: minutes
    per minute-data upload; ``speed``: simulated seconds per real second; ``start``: simulated start (default
    now; naive = local time of each point); ``catch_up``: with a ``start`` in the past and a ``speed`` above 1, run
    at ``speed`` only until the simulated time reaches the real one, then in real time; ``duration``: real seconds to run (None: until ``stop`` is set or
    the task is cancelled); ``outage_rate``: mean network outages per point per simulated day; ``outages``:
    forced outages per MN as (start, simulated seconds); ``ack_timeout`` (real seconds) and ``retries``: HJ 212
    reply timeout and retry count; ``on_event(mn, text)``: notable events (outages, shutdowns, back-fills);
    ``models``: MN → the model to simulate instead of the plain one (e.g. a
    :class:`~envtrust.sim.tamper.TamperedModel`).
    Returns the counters; sockets are closed on return.
    """
    lead = None
    if catch_up and start is not None:
        aware = start if start.tzinfo is not None else start.replace(tzinfo=points[0].zone if points else UTC)
        lead = max(0.0, (datetime.now(UTC) - aware).total_seconds())
    clock = _Clock(speed, lead)
    stats = FleetStats()
    loggers: list[_Logger] = []
    for point in points:
        try:
            model = models[point.mn] if models is not None and point.mn in models else PointModel(point, seed)
        except ValueError as exc:
            stats.skipped.append(point.mn)
            if on_event is not None:
                on_event(point.mn, f"skipped: {exc}")
            continue
        zone = point.zone
        t0 = local_seconds(start if start is not None else datetime.now(zone), zone)
        source = FrameSource(
            model, t0, rtd_interval=rtd_interval, minute_interval=minute_interval, hourly=hourly, daily=daily
        )
        forced = [
            (local_seconds(a, zone), local_seconds(a, zone) + length)
            for a, length in (outages or {}).get(point.mn, ())
        ]
        ls = stats.loggers[point.mn] = LoggerStats(point.mn)
        loggers.append(
            _Logger(
                source,
                clock,
                host,
                port,
                seed=seed,
                outage_rate=outage_rate,
                forced=forced,
                ack_timeout=ack_timeout,
                retries=retries,
                backlog_limit=backlog_limit,
                stats=ls,
                on_event=on_event,
            )
        )

    def crashed(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            text = f"logger crashed: {exc.__class__.__name__}: {exc}"
            stats.errors.append(f"{task.get_name()}: {text}")
            if on_event is not None:
                on_event(task.get_name(), text)

    tasks = []
    for lg in loggers:
        task = asyncio.create_task(lg.run(), name=lg.mn)
        task.add_done_callback(crashed)
        tasks.append(task)
    stop_event = stop if stop is not None else asyncio.Event()
    try:
        if duration is None:
            await stop_event.wait()
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await stop_event.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lg in loggers:
            lg.stats.backlog = len(lg.backlog)
    return stats
