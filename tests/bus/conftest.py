"""Cluster-mode fixtures: the NATS server with JetStream at 127.0.0.1:4222 (skipped, with the reason, where it is
absent), a stream of its own per test, and a fresh PostgreSQL schema."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Iterator

import pytest

from envtrust.bus.jetstream import BusConfig

NATS_URL = "nats://127.0.0.1:4222"


def nats_reachable() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=2):
            return None
    except OSError as exc:
        return f"NATS not reachable at 127.0.0.1:4222: {exc}"


@pytest.fixture
def bus_cfg() -> Iterator[BusConfig]:
    """A stream and subject of this test's own on the local NATS server, deleted afterwards."""
    reason = nats_reachable()
    if reason is not None:
        pytest.skip(reason)
    tag = secrets.token_hex(4)
    cfg = BusConfig(
        servers=(NATS_URL,), stream=f"T_{tag}", subject=f"envtrust-test.{tag}", partitions=4, lease_ttl=3.0
    )
    yield cfg

    async def drop() -> None:
        import nats

        nc = await nats.connect(NATS_URL)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(cfg.stream)
        await nc.close()

    asyncio.run(drop())
