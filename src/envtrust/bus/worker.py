"""The worker's side of cluster mode: partitions of the frame stream stored into the database, in order, once.

Workers share the partitions through leases in the database (``bus/<n>``): each live worker (lease
``worker/<id>``) holds about ``partitions / live workers`` of them and takes over the partitions of a worker whose
leases expire.  A partition is read by one worker at a time through a fresh pull consumer, from its oldest
unacknowledged message; each write names the stream sequence of every frame and the epoch of its partition's lease,
so the database skips what it holds already (a message stored and not yet acknowledged when its worker died) and
refuses a worker whose lease has moved on.  Messages are acknowledged after the commit.  Frames from several
partitions are committed together (group commit), the streaming checks see each commit, and the worker that holds
the ``sequencer`` lease signs the ledger's checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from ..registry import Point
from ..services import Checkpointer, Prepared
from ..store import FrameRow, LeaseLost, ReadingRow, Store, StreamPosition, WriteResult
from . import codec
from .jetstream import BusConfig, connect, ensure_stream, subscribe_partition

log = logging.getLogger(__name__)

SEQUENCER = "sequencer"


class Committed(Protocol):
    def committed(self, batch: Sequence[Prepared], results: Sequence[WriteResult]) -> None: ...


@dataclass(slots=True)
class WorkerStats:
    messages: int = 0
    frames: int = 0
    known: int = 0  # frames of redelivered messages that were stored before
    batches: int = 0
    write_failures: int = 0
    leases_lost: int = 0
    bad_messages: int = 0
    checkpoints: int = 0
    write_s: float = 0.0


@dataclass(slots=True)
class _Part:
    number: int
    epoch: int
    task: asyncio.Task[None] | None = None
    open: _Batch | None = None  # the batch still gathering this partition's messages
    committing: _Batch | None = None  # the batch the writer has taken


@dataclass(slots=True, eq=False)
class _Batch:
    """One partition's messages waiting for a commit, in stream order."""

    part: _Part
    first: float  # monotonic time of its oldest message
    done: asyncio.Future[None]
    rows: list[tuple[FrameRow, list[ReadingRow]]] = field(default_factory=list)
    positions: list[StreamPosition] = field(default_factory=list)
    msgs: list[Any] = field(default_factory=list)
    dropped: bool = False


def lease_of(partition: int) -> str:
    return f"bus/{partition}"


class Worker:
    """Run with ``await worker.start()``; stop with ``await worker.close()``."""

    def __init__(
        self,
        store: Store,
        cfg: BusConfig,
        *,
        holder: str | None = None,
        monitor: Committed | None = None,
        checkpointer: Checkpointer | None = None,
        checkpoint_interval: float = 5.0,
        upstreams: Sequence[Any] = (),
        points: Callable[[], Mapping[str, Point]] | None = None,
    ) -> None:
        self.store = store
        self.upstreams = list(
            upstreams
        )  # ingest.upstream.UpstreamConfig: forwarded by the holder of its lease
        self.all_points = points or (lambda: {})
        self.forwarders: dict[
            str, tuple[int, Any, asyncio.Task[None]]
        ] = {}  # name -> (epoch, forwarder, task)
        self.cfg = cfg
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.monitor = monitor
        self.checkpointer = checkpointer
        self.checkpoint_interval = checkpoint_interval
        self.stats = WorkerStats()
        self.owned: dict[int, _Part] = {}
        self.sequencer_epoch: int | None = None
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self._queue: deque[_Batch] = deque()  # batches in the order they were opened
        self._queued = 0  # frames in self._queue
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # nothing queued or being committed
        self._idle.set()
        self._closing = False
        self._writing = 0  # batches in the commit under way
        self._tasks: list[asyncio.Task[None]] = []
        self._last_checkpoint = 0.0
        self._me = 0  # epoch of this worker's own lease

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        self.nc = await connect(self.cfg, f"envtrust-worker {self.holder}")
        self.js = self.nc.jetstream(timeout=5.0)
        await ensure_stream(self.js, self.cfg)
        self._tasks = [
            asyncio.create_task(self._writer(), name="bus-writer"),
            asyncio.create_task(self._manage(), name="bus-leases"),
        ]

    async def close(self, timeout: float = 15.0) -> None:
        """Stop reading, commit what was read (for up to ``timeout`` seconds), give every lease up and
        disconnect."""
        manage = [t for t in self._tasks if t.get_name() == "bus-leases"]
        for t in manage:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for name, (epoch, _, task) in list(self.forwarders.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.release_lease, f"upstream/{name}", self.holder, epoch)
        self.forwarders.clear()
        parts = list(self.owned.values())
        for part in parts:
            if part.task is not None:
                part.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await part.task
        self._closing = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        for part in parts:
            await self._stop(part, release=True)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.sequencer_epoch is not None:
            await asyncio.to_thread(self.store.release_lease, SEQUENCER, self.holder, self.sequencer_epoch)
            self.sequencer_epoch = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.store.release_lease, f"worker/{self.holder}", self.holder, self._me)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    def owns(self, mn: str) -> bool:
        return codec.partition_of(mn, "", self.cfg.partitions) in self.owned

    def points_view(self, points: Callable[[], Mapping[str, Point]]) -> Callable[[], Mapping[str, Point]]:
        """The registry as the streaming checks of this worker should see it: the points of its partitions."""
        return lambda: {mn: p for mn, p in points().items() if self.owns(mn)}

    # ------------------------------------------------------------------ leases
    async def _manage(self) -> None:
        period = self.cfg.lease_ttl / 3
        while True:
            try:
                await self._balance()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("renewing leases failed; retrying")
            await asyncio.sleep(period)

    async def _balance(self) -> None:
        store, ttl, me = self.store, self.cfg.lease_ttl, self.holder
        epoch = await asyncio.to_thread(store.acquire_lease, f"worker/{me}", me, ttl)
        self._me = epoch or 0
        now = time.time_ns() // 1000
        live = sorted(
            lease.holder or ""
            for lease in await asyncio.to_thread(store.list_leases, "worker/")
            if lease.live(now)
        )
        target = math.ceil(self.cfg.partitions / max(1, len(live)))
        held = list(self.owned.values())
        epochs = await asyncio.to_thread(store.renew_leases, [lease_of(p.number) for p in held], me, ttl)
        for part in held:  # renewed in one statement: what was taken over is missing
            e = epochs.get(lease_of(part.number))
            if e != part.epoch:
                log.warning("partition %d was taken over (epoch %s → %s)", part.number, part.epoch, e)
                self.stats.leases_lost += 1
                await self._stop(part, release=False)
        while len(self.owned) > target:  # others have joined: hand partitions over
            await self._stop(self.owned[max(self.owned)], release=True)
        start = live.index(me) * target if me in live else 0
        for i in range(self.cfg.partitions):
            if len(self.owned) >= target:
                break
            n = (start + i) % self.cfg.partitions
            if n in self.owned:
                continue
            e = await asyncio.to_thread(store.acquire_lease, lease_of(n), me, ttl)
            if e is not None:
                part = _Part(n, e)
                part.task = asyncio.create_task(self._consume(part), name=f"bus-partition-{n}")
                self.owned[n] = part
                log.info("took partition %d (epoch %d)", n, e)
        if self.checkpointer is not None:
            await self._sequence()
        for u in self.upstreams:
            await self._forward(u)

    async def _forward(self, u: Any) -> None:
        """Forward to an upstream while holding its lease ``upstream/<name>`` (one forwarder per upstream)."""
        from ..ingest.upstream import Forwarder

        e = await asyncio.to_thread(
            self.store.acquire_lease, f"upstream/{u.name}", self.holder, self.cfg.lease_ttl
        )
        held = self.forwarders.get(u.name)
        if held is not None and held[0] != e:
            held[2].cancel()
            del self.forwarders[u.name]
            held = None
        if e is not None and held is None:
            f = Forwarder(self.store, u, self.all_points)
            self.forwarders[u.name] = (e, f, asyncio.create_task(f.run(), name=f"upstream-{u.name}"))

    async def _stop(self, part: _Part, *, release: bool) -> None:
        """Stop reading a partition; its batch not yet taken is dropped.  Given up (``release``), its commit
        under way is waited for first; taken over, it is not (the new holder's epoch refuses it)."""
        self.owned.pop(part.number, None)
        if part.task is not None:
            part.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await part.task
        self._drop(part)
        if release:
            if part.committing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(part.committing.done), 30.0)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self.store.release_lease, lease_of(part.number), self.holder, part.epoch
                )

    async def _sequence(self) -> None:
        assert self.checkpointer is not None
        e = await asyncio.to_thread(self.store.acquire_lease, SEQUENCER, self.holder, self.cfg.lease_ttl)
        if e is None:
            self.sequencer_epoch = None
            return
        if e != self.sequencer_epoch:
            log.info("this worker signs the checkpoints now (sequencer epoch %d)", e)
        self.sequencer_epoch = e
        if time.monotonic() - self._last_checkpoint >= self.checkpoint_interval:
            self._last_checkpoint = time.monotonic()
            if await asyncio.to_thread(self.checkpointer.checkpoint) is not None:
                self.stats.checkpoints += 1

    # ------------------------------------------------------------------ one partition
    async def _consume(self, part: _Part) -> None:
        """Fetch the partition's messages, one batch at a time, for as long as the lease is held.

        A fetch takes what the partition holds (up to ``fetch_batch`` messages) and waits for its commit before
        the next: under load each fetch finds many messages, and a partition costs one fetch per commit rather
        than one per message.  After a NATS failure the partition starts again from a new consumer: its batch
        not yet taken is dropped (those messages come again) and its batch being committed is waited for, so
        that the new consumer's messages are judged against the stored position."""
        assert self.js is not None
        sub: Any = None
        try:
            while True:
                try:
                    if sub is None:
                        if part.committing is not None:
                            await asyncio.shield(part.committing.done)
                        sub = await subscribe_partition(self.js, self.cfg, part.number)
                    try:
                        msgs = await sub.fetch(self.cfg.fetch_batch, timeout=1.0)
                    except (TimeoutError, nats.errors.TimeoutError):  # nothing new: nats-py raises either
                        continue
                    batch = self._enqueue(part, msgs)
                    if batch is not None:
                        await asyncio.shield(batch.done)
                except asyncio.CancelledError:
                    raise
                except LeaseLost:  # counted once: the commit that found it may have given the partition up
                    if self.owned.get(part.number) is part:
                        self.stats.leases_lost += 1
                        log.warning("partition %d: lease lost, giving it up", part.number)
                        self.owned.pop(part.number, None)
                    self._drop(part)
                    return
                except Exception as exc:  # NATS failover, consumer gone: start again from the stream
                    log.warning(
                        "partition %d: %s: %s; resubscribing", part.number, exc.__class__.__name__, exc
                    )
                    self._drop(part)
                    await _unsubscribe(sub)
                    sub = None
                    await asyncio.sleep(0.5)
        finally:
            await _unsubscribe(sub)

    def _enqueue(self, part: _Part, msgs: list[Any]) -> _Batch | None:
        name = lease_of(part.number)
        batch = part.open
        for m in msgs:
            seq = int(m.metadata.sequence.stream)
            if batch is None:
                loop = asyncio.get_running_loop()
                batch = part.open = _Batch(part, time.monotonic(), loop.create_future())
                self._queue.append(batch)
                self._idle.clear()
            try:
                records = codec.decode(m.data)
            except codec.CodecError as exc:
                self.stats.bad_messages += 1
                log.error(
                    "partition %d: message %d is not a batch of records: %s (kept in quarantine)",
                    part.number,
                    seq,
                    exc,
                )
                records = [(_unreadable(m.subject, seq, m.data, str(exc)), [])]
            for r in records:
                batch.rows.append(r)
                batch.positions.append(StreamPosition(name, part.epoch, seq))
            batch.msgs.append(m)
            self._queued += len(records)
        self._wake.set()
        return batch

    def _lost(self, part: _Part) -> None:
        """A commit found the partition's lease moved on: stop reading it (the lease is not released)."""
        if self.owned.get(part.number) is part:
            self.stats.leases_lost += 1
            log.warning("partition %d: lease lost, giving it up", part.number)
            self.owned.pop(part.number, None)
            if part.task is not None:
                part.task.cancel()
        self._drop(part)

    def _drop(self, part: _Part) -> None:
        """Forget the partition's batch not yet taken by the writer (its messages are not acknowledged)."""
        batch, part.open = part.open, None
        if batch is not None:
            batch.dropped = True
            with contextlib.suppress(ValueError):
                self._queue.remove(batch)
                self._queued -= len(batch.rows)
            if not batch.done.done():
                batch.done.set_exception(RuntimeError("dropped"))
                batch.done.exception()  # retrieved: nobody needs to wait for a dropped batch
            if not self._queue and self._writing == 0:
                self._idle.set()

    # ------------------------------------------------------------------ group commit across partitions
    async def _writer(self) -> None:
        """Commit the queued batches of every partition together, once ``commit_min`` frames are queued or the
        oldest has waited ``commit_linger`` seconds (storage is off the acknowledgement path: waiting a little
        makes commits fewer and larger).  A failed commit is retried, with the same batches, until it succeeds,
        so each partition is stored in stream order; a partition whose lease moved on is left out."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._closing and self._queued < self.cfg.commit_min:
                remaining = self._queue[0].first + self.cfg.commit_linger - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
                self._wake.clear()
            if not self._queue:
                continue
            batches = list(self._queue)
            self._queue.clear()
            self._queued = 0
            for b in batches:
                b.part.open = None
                b.part.committing = b
            self._writing = len(batches)
            try:
                await self._commit(batches)
            finally:
                self._writing = 0
                for b in batches:
                    if b.part.committing is b:
                        b.part.committing = None
                if not self._queue:
                    self._idle.set()

    async def _commit(self, batches: list[_Batch]) -> None:
        delay = 0.2
        while True:
            live = [b for b in batches if not b.dropped]
            if not live:
                return
            rows = [r for b in live for r in b.rows]
            positions = [p for b in live for p in b.positions]
            t0 = time.perf_counter()
            try:
                results = await asyncio.to_thread(self.store.write, rows, positions)
                break
            except LeaseLost as exc:  # that partition moved on; the others go again at once
                for b in live:
                    if lease_of(b.part.number) == exc.name:
                        b.dropped = True
                        if not b.done.done():
                            b.done.set_exception(exc)
                            b.done.exception()
                        self._lost(b.part)
                continue
            except Exception as exc:  # the database is down or restarting: keep the batches and try again
                self.stats.write_failures += 1
                log.warning("storing %d frames failed (%s); retrying in %.1fs", len(rows), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.stats.write_s += time.perf_counter() - t0
        self.stats.batches += 1
        self.stats.messages += sum(len(b.msgs) for b in live)
        self.stats.frames += sum(1 for r in results if r.frame_id is not None)
        self.stats.known += sum(1 for r in results if r.frame_id is None)
        for b in live:
            for m in b.msgs:
                with contextlib.suppress(Exception):  # a lost ack: the message comes again and is known
                    await m.ack()
            if not b.done.done():
                b.done.set_result(None)
        if self.monitor is not None:
            try:
                self.monitor.committed([Prepared(r, list(rd)) for r, rd in rows], results)
            except Exception:
                log.exception("handing the commit to the checks failed")


async def _unsubscribe(sub: Any) -> None:
    if sub is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sub.unsubscribe(), 2.0)


def _unreadable(subject: str, seq: int, data: bytes, reason: str) -> FrameRow:
    return FrameRow(
        received_us=time.time_ns() // 1000,
        peer=f"{subject}#{seq}",
        origin="bus",
        format="garbage",
        raw=data,
        digest=hashlib.sha256(data).digest(),
        status="quarantine",
        error_code="bad_stream_message",
        reason=f"stream message {seq} could not be read: {reason}",
    )
