"""The frame stream on NATS JetStream: connection, stream and per-partition consumers.

One stream (work-queue retention: a message leaves it once a worker has stored it and acknowledged it) with one
subject per partition, ``<subject>.<n>``.  ``max_msgs``/``max_bytes`` bound the backlog of unstored frames with
discard-new, so that when the workers or the database fall behind, publishing fails, the gateways stop
acknowledging and stop reading, and the loggers keep their data (back-pressure, not loss).  ``duplicate_window``
lets a gateway retry a publish under the same message id without storing it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from ..errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "CLUSTER_KEYS",
    "BusConfig",
    "cluster_config",
    "connect",
    "consumer_name",
    "ensure_stream",
    "parse_servers",
    "subscribe_partition",
]


@dataclass(frozen=True, slots=True)
class BusConfig:
    servers: tuple[str, ...]
    stream: str = "ENVTRUST_FRAMES"
    subject: str = "envtrust.frames"
    partitions: int = 16
    replicas: int = 1  # 3 in a province: the stream survives one NATS node
    max_msgs: int = 1_000_000  # unstored messages before publishing is refused (back-pressure)
    max_bytes: int = 8 << 30
    duplicate_window: float = 120.0  # seconds in which a retried publish is recognised
    lease_ttl: float = 10.0  # seconds before a silent worker's partitions are taken over
    fetch_batch: int = 256  # messages a worker takes from a partition at once
    max_records: int = 200  # records per message a gateway publishes
    publish_in_flight: int = 1  # messages per partition a gateway awaits at once (0: no bound)
    linger: float = 0.0  # seconds a gateway may wait to fill a partition's message (one is in flight anyway)
    commit_linger: float = 0.1  # seconds a worker may wait to gather a commit (storage is off the ack path)
    commit_min: int = 1000  # frames that start a worker's commit at once

    def subject_of(self, partition: int) -> str:
        return f"{self.subject}.{partition}"


# [cluster] keys of the site configuration file: name -> (type, minimum)
CLUSTER_KEYS: dict[str, tuple[type, float]] = {
    "bus": (str, 0),
    "stream": (str, 0),
    "subject": (str, 0),
    "partitions": (int, 1),
    "replicas": (int, 1),
    "max_msgs": (int, 1000),
    "max_bytes": (int, 1 << 20),
    "duplicate_window": (float, 1),
    "lease_ttl": (float, 1),
    "fetch_batch": (int, 1),
    "max_records": (int, 1),
    "publish_in_flight": (int, 0),
    "linger": (float, 0),
    "commit_linger": (float, 0),
    "commit_min": (int, 1),
}


def cluster_config(section: Mapping[str, Any], bus: str | None) -> BusConfig | None:
    """The ``[cluster]`` section with ``--bus`` over its ``bus`` key; None when no bus is named (one process)."""
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in CLUSTER_KEYS:
            raise ConfigError(f"[cluster]: unknown key {key!r}; known: {', '.join(CLUSTER_KEYS)}")
        kind, minimum = CLUSTER_KEYS[key]
        if kind is str:
            if not isinstance(value, str) or not value:
                raise ConfigError(f"[cluster] {key}: expected text, got {value!r}")
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and value != int(value))
        ):
            raise ConfigError(
                f"[cluster] {key}: expected a {'whole ' if kind is int else ''}number, got {value!r}"
            )
        elif value < minimum:
            raise ConfigError(f"[cluster] {key}: must be at least {minimum:g}, got {value!r}")
        values[key] = kind(value)
    url = bus or values.pop("bus", None)
    values.pop("bus", None)
    if url is None:
        return None
    for key in ("stream", "subject"):
        if key in values and not all(
            c.isalnum() or c in "-_" for c in values[key].replace(".", "_" if key == "subject" else ".")
        ):
            raise ConfigError(f"[cluster] {key}: letters, digits, - and _ only, got {values[key]!r}")
    return BusConfig(servers=parse_servers(url), **values)


def parse_servers(url: str) -> tuple[str, ...]:
    """``nats://a:4222,nats://b:4222`` (or one address) as a list of server URLs."""
    servers = tuple(u.strip() for u in url.split(",") if u.strip())
    if not servers:
        raise ConfigError("--bus: give at least one NATS server, e.g. nats://127.0.0.1:4222")
    for u in servers:
        if not u.startswith(("nats://", "tls://")):
            raise ConfigError(f"--bus: {u!r} is not a nats:// or tls:// address")
    return servers


async def connect(cfg: BusConfig, name: str) -> Client:
    """A connection that reconnects for ever (to any server of the list) and reports state changes."""

    async def disconnected() -> None:
        log.warning("NATS connection lost; reconnecting")

    async def reconnected() -> None:
        log.info("NATS connection back")

    async def error(exc: Exception) -> None:
        log.warning("NATS: %s", exc)

    return await nats.connect(
        servers=list(cfg.servers),
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        connect_timeout=2,
        ping_interval=5,
        max_outstanding_pings=2,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )


# JetStream answers these while its cluster forms (routes, meta leader, peers): wait, do not give up
_FORMING_ERR_CODES = frozenset({10005, 10008})  # no suitable peers for placement; JetStream cluster not ready


def _forming(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        return exc.code == 503 or exc.err_code in _FORMING_ERR_CODES
    return isinstance(exc, TimeoutError)  # (nats.errors.TimeoutError is one)


async def ensure_stream(js: JetStreamContext, cfg: BusConfig, *, wait_s: float = 30.0) -> None:
    """Create the frame stream unless it exists (every role may start first).  While the NATS cluster is still
    forming (no peers to place the replicas on yet, JetStream unavailable, no answer) it tries again for up to
    ``wait_s`` seconds before the error stands."""
    want = StreamConfig(
        name=cfg.stream,
        subjects=[f"{cfg.subject}.*"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=cfg.replicas,
        max_msgs=cfg.max_msgs,
        max_bytes=cfg.max_bytes,
        discard=DiscardPolicy.NEW,
        duplicate_window=cfg.duplicate_window,
    )
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + wait_s, 0.2
    while True:
        try:
            await _ensure_stream_once(js, cfg.stream, want)
            return
        except Exception as exc:
            if not _forming(exc) or loop.time() + delay > deadline:
                raise
            log.warning("JetStream is not ready (%s); trying again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


async def _ensure_stream_once(js: JetStreamContext, name: str, want: StreamConfig) -> None:
    try:
        await js.stream_info(name)
        return
    except NotFoundError:
        pass
    try:
        await js.add_stream(want)
    except Exception as exc:  # another process created it meanwhile
        try:
            await js.stream_info(name)
        except NotFoundError:
            raise exc from None


def consumer_name(partition: int) -> str:
    return f"part-{partition}"


async def subscribe_partition(js: JetStreamContext, cfg: BusConfig, partition: int) -> Any:
    """A fresh pull consumer over one partition, from its oldest unacknowledged message, in order.

    The partition's previous consumer (of a worker that died or gave the partition up) is deleted first: what it
    had delivered without acknowledgement is delivered again, in stream order, and the worker skips what the
    database already holds (the stored positions)."""
    name = consumer_name(partition)
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(cfg.stream, name)
    return await js.pull_subscribe(
        cfg.subject_of(partition),
        durable=name,
        stream=cfg.stream,
        config=ConsumerConfig(
            durable_name=name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60.0,
            max_ack_pending=20 * cfg.fetch_batch,
            filter_subject=cfg.subject_of(partition),
            num_replicas=cfg.replicas,
        ),
    )
