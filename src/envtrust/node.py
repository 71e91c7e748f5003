"""One ``envtrust serve`` process and the roles it plays.

Single-process mode (role ``all`` without a bus, the default): the gateway stores what it receives in the local
database through the group committer, checks it and signs checkpoints.  Cluster mode (``--bus nats://…``):
``gateway`` publishes what it receives to the JetStream frame stream and acknowledges once JetStream holds it,
``worker`` stores the stream into PostgreSQL (partitions under leases, one sequencer signing checkpoints),
``web`` serves pages and API, and ``all`` plays the three.  Every role answers ``/healthz``, ``/readyz`` and
``/metrics`` on its HTTP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .bus.jetstream import BusConfig
from .ingest.server import Checker, Gateway, GatewayLimits
from .services import Checkpointer, Ingest

log = logging.getLogger(__name__)

ROLES = ("all", "gateway", "worker", "web")


class _Stopped(Exception):
    """The process stops: a series cache pass gives up."""


def roles_of(role: str) -> frozenset[str]:
    return frozenset({"gateway", "worker", "web"}) if role == "all" else frozenset({role})


@dataclass
class NodeSpec:
    ingest: Ingest
    role: str = "all"
    bus: BusConfig | None = None
    host: str = "0.0.0.0"
    port: int = 6212
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    checkpointer: Checkpointer | None = None
    checkpoint_interval: float = 5.0
    monitor: Checker | None = None
    http: tuple[str, int] | None = None  # address of pages, API and operations endpoints
    app: Callable[[Node], Any] | None = None  # the ASGI app of the web role, given the running node
    registry_reload_s: float = 30.0  # cluster mode: how often the registry is read again
    upstreams: list[Any] = field(
        default_factory=list
    )  # ingest.upstream.UpstreamConfig: platforms to forward to
    cache_warm_s: float = 600.0  # web role: how often the series cache rows of ended days are made (0: never)
    cache_warm_days: int = 31  # … of how many days back (the longest span a series request may ask for)


class Node:
    """Run with ``await node.start()``, then ``await node.stop()``."""

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.roles = roles_of(spec.role)
        self.gateway: Gateway | None = None
        self.worker: Any = None  # envtrust.bus.worker.Worker in cluster mode
        self.http: Any = None
        self._nc: Any = None
        self._js: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.forwarders: list[Any] = []  # ingest.upstream.Forwarder, in one-process mode

    @property
    def cluster(self) -> bool:
        return self.spec.bus is not None

    async def start(self) -> None:
        spec = self.spec
        try:
            if self.cluster:
                await self._start_cluster()
            else:
                self.gateway = Gateway(
                    spec.ingest,
                    spec.host,
                    spec.port,
                    spec.limits,
                    checkpointer=spec.checkpointer,
                    checkpoint_interval=spec.checkpoint_interval,
                    monitor=spec.monitor,
                )
                await self.gateway.start()
            if spec.upstreams and not self.cluster:  # cluster mode: the workers forward, under leases
                from .ingest.upstream import Forwarder

                for u in spec.upstreams:
                    f = Forwarder(spec.ingest.store, u, spec.ingest.points)
                    self.forwarders.append(f)
                    self._tasks.append(asyncio.create_task(f.run(), name=f"upstream-{u.name}"))
            if spec.http is not None:
                from .api import serve_http
                from .ops import ops_app

                app = spec.app(self) if spec.app is not None and "web" in self.roles else ops_app(self)
                self.http = await serve_http(app, *spec.http)
                if spec.app is not None and "web" in self.roles and spec.cache_warm_s > 0:
                    self._tasks.append(asyncio.create_task(self._warm_cache(), name="series-cache"))
        except BaseException:
            await self.stop()
            raise

    async def _start_cluster(self) -> None:
        from .bus.jetstream import connect, ensure_stream
        from .bus.sink import BusSink
        from .bus.worker import Worker

        spec = self.spec
        bus = spec.bus
        assert bus is not None
        if self.roles & {"gateway", "worker"}:
            self._tasks.append(asyncio.create_task(self._reload_registry(), name="registry-reload"))
        if "worker" in self.roles:
            self.worker = Worker(
                spec.ingest.store,
                bus,
                monitor=spec.monitor,
                checkpointer=spec.checkpointer,
                checkpoint_interval=spec.checkpoint_interval,
                upstreams=spec.upstreams,
                points=spec.ingest.points,
            )
            if spec.monitor is not None:
                spec.monitor.start()
            await self.worker.start()
        if "gateway" in self.roles:
            self._nc = await connect(bus, "envtrust-gateway")
            self._js = self._nc.jetstream(timeout=5.0)
            await ensure_stream(self._js, bus)
            js = self._js
            self.gateway = Gateway(
                spec.ingest, spec.host, spec.port, spec.limits, sink=lambda loop: BusSink(js, bus, loop)
            )
            await self.gateway.start()

    async def _reload_registry(self) -> None:
        while True:
            await asyncio.sleep(self.spec.registry_reload_s)
            try:
                await asyncio.to_thread(self.spec.ingest.reload_registry)
            except Exception:
                log.exception("reading the registry again failed")

    async def _warm_cache(self) -> None:
        """Make the series cache rows of ended days ahead of the requests that need them (once in a while, after a
        first pause; in cluster mode only the web process holding the lease ``series-cache`` does it)."""
        store, every = self.spec.ingest.store, self.spec.cache_warm_s
        holder = f"{socket.gethostname()}:{os.getpid()}:web"
        stopping = threading.Event()

        def check(done: int, total: int) -> None:
            if stopping.is_set():
                raise _Stopped

        def warm() -> int:
            if self.cluster and store.acquire_lease("series-cache", holder, 2 * every) is None:
                return 0
            return store.warm_cache(self.spec.cache_warm_days, progress=check)

        try:
            await asyncio.sleep(min(60.0, every))
            while True:
                try:
                    made = await asyncio.to_thread(warm)
                    if made:
                        log.info("series cache: %d rows made for ended days", made)
                except _Stopped:
                    return
                except Exception:
                    log.exception("warming the series cache failed")
                await asyncio.sleep(every)
        finally:
            stopping.set()  # a pass still running in its thread stops after the run of days in hand

    async def stop(self) -> None:
        """Stop accepting; acknowledge what JetStream or the database holds; let the workers finish their writes;
        give the leases up."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.gateway is not None and getattr(self.gateway, "committer", None) is not None:
            await self.gateway.close()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        if self.worker is not None:
            await self.worker.close()
            if self.spec.monitor is not None:
                await asyncio.to_thread(self.spec.monitor.stop)
            if self.spec.checkpointer is not None:  # the last checkpoint covers everything stored
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.spec.checkpointer.checkpoint)
        if self.http is not None:
            await self.http.stop()

    def stream_context(self) -> Any:
        """The JetStream context of this process (gateway or worker), for the operations endpoints."""
        if self._js is not None:
            return self._js
        return self.worker.js if self.worker is not None else None

    def ready(self) -> dict[str, bool]:
        """What readiness means per role: the gateway listens and reaches JetStream, the worker reaches NATS and
        holds its partitions, every role reaches the database (checked by the caller)."""
        out: dict[str, bool] = {}
        if self.gateway is not None:
            out["gateway"] = self._nc.is_connected if self._nc is not None else True
        if self.worker is not None:
            nc = self.worker.nc
            out["worker"] = bool(nc is not None and nc.is_connected)
        return out


async def until_signal(stop: Callable[[], Awaitable[None]]) -> None:
    """Wait for SIGINT or SIGTERM, then run ``stop``."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)
    try:
        await event.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await stop()
