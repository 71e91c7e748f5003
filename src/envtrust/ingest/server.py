"""The HJ 212 TCP gateway: thousands of data loggers on one asyncio loop, acknowledgement after commit.

Per connection: a sans-IO decoder; each read's events are prepared (accepted or quarantined), handed to the
group committer, and the replies (9014 data replies, 9013 notification replies, 9011 refusals) are written
only after the commit.  Limits: idle timeout, frame size (the decoder's bound), frames in flight per
connection (reading pauses beyond it), connections in total and per peer address.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from .. import hj212
from ..services import Checkpointer, Ingest, Prepared
from ..store import WriteResult
from .committer import Done, GroupCommitter


class Checker(Protocol):
    """What the gateway needs of the streaming checks (a :class:`~envtrust.alarms.monitor.Monitor`, in a thread
    or a child process): started with the gateway, told of every commit, stopped after the last one."""

    def start(self) -> None: ...

    def committed(self, batch: Sequence[Prepared], results: Sequence[WriteResult]) -> None: ...

    def stop(self, timeout: float | None = 30.0) -> None: ...


class Sink(Protocol):
    """Where the gateway hands prepared records, to be called back once they are durable: the local group
    committer (one process) or the frame stream (cluster mode, :class:`~envtrust.bus.sink.BusSink`)."""

    @property
    def backlog(self) -> int: ...

    def submit(self, records: Sequence[Prepared], done: Done) -> None: ...

    def hand_over_now(self) -> None: ...

    async def drain(self, timeout: float = 30.0) -> None: ...


log = logging.getLogger(__name__)

__all__ = ["Gateway", "GatewayLimits", "GatewayStats", "Sink"]


@dataclass(slots=True)
class GatewayLimits:
    idle_timeout: float = 600.0  # seconds without a byte before a connection is closed
    tail_wait: float = 0.5  # seconds to wait for a CRLF after a complete frame before taking it without
    max_connections: int = 20000
    max_per_peer: int = 2000  # connections from one address (NAT gateways of mobile networks carry many)
    max_inflight: int = 1000  # frames of one connection waiting for their commit before reading pauses
    max_batch: int = 5000


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class Latency:
    """Receipt → acknowledgement times in seconds, as cumulative-bucket counts (what Prometheus histograms take)."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float, times: int = 1) -> None:
        i = bisect.bisect_left(self.buckets, seconds)
        self.counts[i] += times
        self.total += seconds * times
        self.n += times


@dataclass(slots=True)
class GatewayStats:
    connections: int = 0
    connections_total: int = 0
    refused_connections: int = 0
    frames: int = 0
    quarantined: int = 0
    acks: int = 0
    started: float = field(default_factory=time.time)
    ack_latency: Latency = field(default_factory=Latency)


class _Conn(asyncio.Protocol):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.host = "?"
        self.decoder = gw.ingest.decoder()
        self.inflight = 0
        self.paused = False
        self.last_activity = time.monotonic()
        self.closing = False

    # asyncio callbacks ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        addr = transport.get_extra_info("peername")
        host = addr[0] if addr else "?"
        self.peer = f"{addr[0]}:{addr[1]}" if addr else "?"
        if not self.gw._admit(self, host):
            self.transport.abort()
            return
        self.host = host

    def data_received(self, data: bytes) -> None:
        self.last_activity = time.monotonic()
        self._handle(self.decoder.feed(data))

    def eof_received(self) -> bool | None:
        self._handle(self.decoder.flush())
        self.closing = True
        if self.inflight == 0 and self.transport is not None:
            self.transport.close()
        return True  # keep the transport open until pending acks are written

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.gw._forget(self)

    # ----------------------------------------------------------------------------------------------
    def _handle(self, events: list[hj212.Event]) -> None:
        if not events:
            return
        gw = self.gw
        prepared = [gw.ingest.prepare(e, peer=self.peer) for e in events]
        self.inflight += len(prepared)
        if self.inflight >= gw.limits.max_inflight and not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        try:
            gw.committer.submit(prepared, self._committed)
        except RuntimeError:  # shutting down: nothing is acknowledged, the logger will resend
            self.inflight -= len(prepared)

    def _committed(
        self, records: Sequence[Prepared], results: Sequence[WriteResult] | None, error: BaseException | None
    ) -> None:
        self.inflight -= len(records)
        gw = self.gw
        if error is None:
            gw.stats.frames += len(records)
            replies = []
            now_us = time.time_ns() // 1000
            for p in records:
                gw.stats.ack_latency.observe(max(0, now_us - p.row.received_us) / 1e6)
                if p.row.status == "quarantine":
                    gw.stats.quarantined += 1
                if p.reply is not None:
                    replies.append(p.reply)
            t = self.transport
            if replies and t is not None and not t.is_closing():
                t.write(b"".join(replies))
                gw.stats.acks += len(replies)
        t = self.transport
        if t is None:
            return
        if self.paused and self.inflight < self.gw.limits.max_inflight // 2 and not t.is_closing():
            t.resume_reading()
            self.paused = False
        if self.closing and self.inflight == 0 and not t.is_closing():
            t.close()

    def check_idle(self, now: float) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        quiet = now - self.last_activity
        if self.decoder.buffered and quiet >= self.gw.limits.tail_wait:
            self._handle(self.decoder.flush())
        if quiet >= self.gw.limits.idle_timeout and self.inflight == 0:
            log.info("closing idle connection %s", self.peer)
            t.close()


class Gateway:
    """Run with ``await gateway.start()``; stop with ``await gateway.close()``."""

    def __init__(
        self,
        ingest: Ingest,
        host: str = "0.0.0.0",
        port: int = 6212,
        limits: GatewayLimits | None = None,
        *,
        checkpointer: Checkpointer | None = None,
        checkpoint_interval: float = 5.0,
        monitor: Checker | None = None,
        sink: Callable[[asyncio.AbstractEventLoop], Sink] | None = None,
    ) -> None:
        self.ingest = ingest
        self._sink = sink  # cluster mode: records go to the frame stream instead of the local database
        self.monitor = monitor
        self.checkpointer = checkpointer
        self.checkpoint_interval = checkpoint_interval
        self._checkpoints: asyncio.Task[None] | None = None
        self.host = host
        self.port = port
        self.limits = limits or GatewayLimits()
        self.stats = GatewayStats()
        self._conns: set[_Conn] = set()
        self._per_peer: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.committer: Sink

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        after = self.monitor.committed if self.monitor is not None else None
        if self.monitor is not None:
            self.monitor.start()
        if self._sink is not None:
            self.committer = self._sink(loop)
        else:
            self.committer = GroupCommitter(
                self.ingest, loop, max_batch=self.limits.max_batch, after_commit=after
            )
        self._server = await loop.create_server(
            lambda: _Conn(self), self.host, self.port, backlog=4096, reuse_address=True
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._sweeper = asyncio.create_task(self._sweep())
        if self.checkpointer is not None:
            self._checkpoints = asyncio.create_task(self._checkpoint_loop())

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _admit(self, conn: _Conn, host: str) -> bool:
        if (
            len(self._conns) >= self.limits.max_connections
            or self._per_peer.get(host, 0) >= self.limits.max_per_peer
        ):
            self.stats.refused_connections += 1
            log.warning("refusing connection from %s: connection limit", conn.peer)
            return False
        self._conns.add(conn)
        self._per_peer[host] = self._per_peer.get(host, 0) + 1
        self.stats.connections = len(self._conns)
        self.stats.connections_total += 1
        return True

    def _forget(self, conn: _Conn) -> None:
        if conn in self._conns:
            self._conns.discard(conn)
            host = conn.host
            left = self._per_peer.get(host, 1) - 1
            if left <= 0:
                self._per_peer.pop(host, None)
            else:
                self._per_peer[host] = left
        self.stats.connections = len(self._conns)

    async def _sweep(self) -> None:
        period = min(self.limits.tail_wait, 1.0)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self._conns):
                conn.check_idle(now)

    async def _checkpoint_loop(self) -> None:
        assert self.checkpointer is not None
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            try:
                await asyncio.to_thread(self.checkpointer.checkpoint)
            except Exception:  # a failed checkpoint is retried at the next interval; ingest goes on
                log.exception("signing a checkpoint failed")

    async def close(self) -> None:
        """Stop accepting, stop reading, commit and acknowledge what was received, then close every connection."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self._conns):
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.pause_reading()
        await self.committer.drain()
        for _ in range(3):  # let the writer's last acknowledgements run on the loop
            await asyncio.sleep(0)
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.close()
        if self.monitor is not None:
            await asyncio.to_thread(self.monitor.stop)
        if self._checkpoints is not None:
            self._checkpoints.cancel()
        if self.checkpointer is not None:  # the last checkpoint covers everything acknowledged
            await asyncio.to_thread(self.checkpointer.checkpoint)
        await asyncio.sleep(0)

    async def serve_until_signal(self) -> None:
        """Serve until SIGINT or SIGTERM, then shut down cleanly."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.close()
