"""The gateway's side of cluster mode: received records go to the frame stream, acknowledged once JetStream has them.

The gateway hands each read's prepared records to :meth:`BusSink.submit` (as it would to the local group
committer).  Once per loop iteration the records gathered from every connection are queued per partition.  Each
partition has at most ``publish_in_flight`` messages in flight (1 by default): while JetStream has not acknowledged
them, the partition's next records wait and go together in the next message (at most ``max_records`` to a
message), so that messages grow with the load instead of their number — a JetStream message costs the gateway and
the NATS servers about as much CPU for one frame as for twenty.  ``linger`` seconds (0 by default) may be waited
before a message that is not full, to batch more at a light load.  One message at a time also keeps each partition
in the order of receipt when a publish has to be retried (with more, a retried message lands after later ones).

A connection's ``done`` callback runs (and its loggers are acknowledged) only when every one of its records is
acknowledged by JetStream.  A publish that fails (a NATS node down, the stream full because storage is slow) is
retried with the same message id, with back-off, for as long as the gateway runs; meanwhile the connection's
frames in flight keep its reading paused.  Nothing is acknowledged that JetStream does not hold.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext

from ..services import Prepared
from ..store import WriteResult
from . import codec
from .jetstream import BusConfig

log = logging.getLogger(__name__)

Done = Callable[[Sequence[Prepared], Sequence[WriteResult] | None, BaseException | None], None]


@dataclass(slots=True)
class SinkStats:
    messages: int = 0
    records: int = 0
    retries: int = 0
    duplicates: int = 0  # publishes JetStream had already (a retry after a lost answer)
    ack_ms: list[float] = field(default_factory=list)  # receipt → JetStream ack, recent records (bounded)


@dataclass(slots=True)
class _Waiter:
    records: Sequence[Prepared]
    done: Done
    pending: int = 0  # records not yet acknowledged by JetStream


@dataclass(slots=True)
class _Partition:
    number: int
    queue: deque[tuple[Prepared, _Waiter]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None  # publishing this partition's queue
    more: asyncio.Event = field(default_factory=asyncio.Event)  # records were queued


class BusSink:
    def __init__(self, js: JetStreamContext, cfg: BusConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.js = js
        self.cfg = cfg
        self.loop = loop
        self.stats = SinkStats()
        self._id = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)
        self._staged: list[_Waiter] = []
        self._parts = [_Partition(n) for n in range(cfg.partitions)]
        self._in_flight = 0
        self._closing = False

    @property
    def backlog(self) -> int:
        """Records received and not yet held by JetStream."""
        return self._in_flight

    def submit(self, records: Sequence[Prepared], done: Done) -> None:
        if self._closing:
            raise RuntimeError("the gateway is closing")
        if not self._staged:
            self.loop.call_soon(self.hand_over_now)
        self._staged.append(_Waiter(records, done, len(records)))
        self._in_flight += len(records)

    def hand_over_now(self) -> None:
        if not self._staged:
            return
        staged, self._staged = self._staged, []
        for w in staged:
            if not w.records:  # an empty read
                self._finish(w, None)
            for p in w.records:
                part = self._parts[codec.partition_of(p.row.mn, p.row.peer, self.cfg.partitions)]
                part.queue.append((p, w))
                part.more.set()
                if part.task is None:
                    part.task = self.loop.create_task(self._run(part), name=f"publish-{part.number}")

    async def _run(self, part: _Partition) -> None:
        """Publish the partition's queue, at most ``publish_in_flight`` messages at a time (0: no bound)."""
        bound = self.cfg.publish_in_flight
        running: set[asyncio.Task[None]] = set()
        try:
            while part.queue or running:
                if part.queue and (bound == 0 or len(running) < bound):
                    if self.cfg.linger > 0 and len(part.queue) < self.cfg.max_records and not self._closing:
                        await asyncio.sleep(self.cfg.linger)
                    n = min(len(part.queue), self.cfg.max_records)
                    chunk = [part.queue.popleft() for _ in range(n)]
                    if bound == 1:  # the default: one at a time, no task per message
                        await self._publish(part.number, chunk)
                    else:
                        running.add(self.loop.create_task(self._publish(part.number, chunk)))
                    continue
                waits: set[asyncio.Future[Any]] = set(running)
                more: asyncio.Task[Any] | None = None
                if bound == 0 or len(running) < bound:  # room for more: wake when records come too
                    part.more.clear()
                    more = self.loop.create_task(part.more.wait())
                    waits.add(more)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if more is not None:
                    more.cancel()
                for t in done:
                    if t in running:
                        running.discard(t)
                        t.result()
        except asyncio.CancelledError:
            for t in running:
                t.cancel()
            if running:
                await asyncio.wait(running)
            self._fail(w for _, w in part.queue)
            part.queue.clear()
            raise
        finally:
            part.task = None

    async def _publish(self, part: int, chunk: list[tuple[Prepared, _Waiter]]) -> None:
        payload = codec.encode([(p.row, p.readings) for p, _ in chunk])
        msg_id = f"{self._id}-{next(self._counter)}"
        received_us = min(p.row.received_us for p, _ in chunk)
        delay = 0.05
        subject = self.cfg.subject_of(part)
        while True:
            try:
                ack = await self.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id}, timeout=5.0)
                break
            except asyncio.CancelledError:
                self._fail(w for _, w in chunk)
                raise
            except Exception as exc:  # timeout, no responders during a leader election, stream full
                self.stats.retries += 1
                log.warning(
                    "publishing %d records to %s failed (%s); retrying in %.2fs",
                    len(chunk),
                    subject,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.stats.messages += 1
        self.stats.records += len(chunk)
        if ack.duplicate:
            self.stats.duplicates += 1
        if len(self.stats.ack_ms) < 200_000:
            self.stats.ack_ms.append(time.time() * 1000 - received_us / 1000)
        for _, w in chunk:
            w.pending -= 1
            if w.pending == 0:
                self._finish(w, None)

    def _finish(self, w: _Waiter, error: BaseException | None) -> None:
        self._in_flight -= len(w.records)
        try:
            w.done(w.records, [] if error is None else None, error)
        except Exception:
            log.exception("delivering acknowledgements failed")

    def _fail(self, waiters: Iterable[_Waiter]) -> None:
        for w in waiters:
            if w.pending > 0:
                w.pending = 0
                self._finish(w, RuntimeError("gateway stopped before JetStream acknowledged"))

    async def drain(self, timeout: float = 30.0) -> None:
        """Publish what was received; wait up to ``timeout`` for JetStream, then give up on the rest (those loggers
        are not acknowledged and will resend)."""
        self._closing = True
        self.hand_over_now()
        tasks = {p.task for p in self._parts if p.task is not None}
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout)
            for t in late:
                t.cancel()
            if late:
                await asyncio.wait(late)
