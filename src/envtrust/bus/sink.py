"""The gateway's side of cluster mode: received records go to the frame stream, acknowledged once JetStream has them.

The gateway hands each read's prepared records to :meth:`BusSink.submit` (as it would to the local group
committer).  Once per loop iteration the records gathered from every connection are grouped by partition and
published, at most ``max_records`` to a message, each message under its own id.  A connection's ``done`` callback
runs (and its loggers are acknowledged) only when every message holding one of its records is acknowledged by
JetStream.  A publish that fails (a NATS node down, the stream full because storage is slow) is retried with the
same message id, with back-off, for as long as the gateway runs; meanwhile the connection's frames in flight keep
its reading paused.  Nothing is acknowledged that JetStream does not hold.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
    pending: int = 0


class BusSink:
    def __init__(self, js: JetStreamContext, cfg: BusConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.js = js
        self.cfg = cfg
        self.loop = loop
        self.stats = SinkStats()
        self._id = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)
        self._staged: list[_Waiter] = []
        self._tasks: set[asyncio.Task[None]] = set()
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
        self._staged.append(_Waiter(records, done))
        self._in_flight += len(records)

    def hand_over_now(self) -> None:
        if not self._staged:
            return
        staged, self._staged = self._staged, []
        groups: dict[int, list[tuple[Prepared, _Waiter]]] = {}
        for w in staged:
            for p in w.records:
                part = codec.partition_of(p.row.mn, p.row.peer, self.cfg.partitions)
                groups.setdefault(part, []).append((p, w))
        for part, items in groups.items():
            for i in range(0, len(items), self.cfg.max_records):
                chunk = items[i : i + self.cfg.max_records]
                waiters = list({id(w): w for _, w in chunk}.values())
                for w in waiters:
                    w.pending += 1
                payload = codec.encode([(p.row, p.readings) for p, _ in chunk])
                msg_id = f"{self._id}-{next(self._counter)}"
                received = min(p.row.received_us for p, _ in chunk)
                task = self.loop.create_task(
                    self._publish(part, payload, msg_id, waiters, len(chunk), received)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        for w in staged:
            if w.pending == 0:  # an empty read
                self._finish(w, None)

    async def _publish(
        self, part: int, payload: bytes, msg_id: str, waiters: list[_Waiter], n: int, received_us: int
    ) -> None:
        delay = 0.05
        subject = self.cfg.subject_of(part)
        while True:
            try:
                ack = await self.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id}, timeout=5.0)
                break
            except asyncio.CancelledError:
                for w in waiters:
                    self._fail(w)
                raise
            except Exception as exc:  # timeout, no responders during a leader election, stream full
                self.stats.retries += 1
                log.warning(
                    "publishing %d records to %s failed (%s); retrying in %.2fs", n, subject, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.stats.messages += 1
        self.stats.records += n
        if ack.duplicate:
            self.stats.duplicates += 1
        if len(self.stats.ack_ms) < 200_000:
            self.stats.ack_ms.append(time.time() * 1000 - received_us / 1000)
        for w in waiters:
            w.pending -= 1
            if w.pending == 0:
                self._finish(w, None)

    def _finish(self, w: _Waiter, error: BaseException | None) -> None:
        self._in_flight -= len(w.records)
        try:
            w.done(w.records, [] if error is None else None, error)
        except Exception:
            log.exception("delivering acknowledgements failed")

    def _fail(self, w: _Waiter) -> None:
        if w.pending > 0:
            w.pending = 0
            self._finish(w, RuntimeError("gateway stopped before JetStream acknowledged"))

    async def drain(self, timeout: float = 30.0) -> None:
        """Publish what was received; wait up to ``timeout`` for JetStream, then give up on the rest (those loggers
        are not acknowledged and will resend)."""
        self._closing = True
        self.hand_over_now()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for t in late:
                t.cancel()
            if late:
                await asyncio.wait(late)
