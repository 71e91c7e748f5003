"""Cluster mode in one process: a gateway publishing to JetStream, workers storing into PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from sqlalchemy import text

from envtrust import hj212
from envtrust.bus.jetstream import BusConfig, connect, ensure_stream
from envtrust.bus.sink import BusSink
from envtrust.bus.worker import Worker
from envtrust.ingest.server import Gateway
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import Store, open_store
from envtrust.verify import verify
from integration.test_gateway import MN, MN2, REGISTRY, frame, read_replies

pytestmark = pytest.mark.postgres


async def wait_for(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


def count(store: Store, sql: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


async def gateway(store: Store, cfg: BusConfig) -> tuple[Gateway, object]:
    nc = await connect(cfg, "test-gateway")
    js = nc.jetstream()
    await ensure_stream(js, cfg)
    ingest = Ingest(store)
    gw = Gateway(ingest, "127.0.0.1", 0, sink=lambda loop: BusSink(js, cfg, loop))
    await gw.start()
    return gw, nc


async def send(port: int, frames: list[bytes]) -> list[hj212.Frame]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(frames))
    await writer.drain()
    replies = await read_replies(reader, len(frames))
    writer.close()
    await writer.wait_closed()
    return replies


def test_frames_are_acknowledged_after_jetstream_and_stored_once_by_the_workers(
    pg_url: str, bus_cfg: BusConfig
) -> None:
    async def main() -> None:
        with open_store(pg_url) as store:
            store.load_registry(parse_registry(REGISTRY))
            gw, nc = await gateway(store, bus_cfg)
            try:
                sent = [frame(i, MN) for i in range(300)] + [frame(i, "21019999999999") for i in range(5)]
                replies = await asyncio.gather(send(gw.port, sent[:150]), send(gw.port, sent[150:]))
                assert sum(len(r) for r in replies) == len(sent)
                assert count(store, "select count(*) from frames") == 0  # not stored yet: no worker runs
                workers = [Worker(store, bus_cfg, holder=f"w{i}") for i in range(2)]
                for w in workers:
                    await w.start()
                await wait_for(lambda: count(store, "select count(*) from frames") >= len(sent))
                await wait_for(lambda: len(workers[0].owned) + len(workers[1].owned) == bus_cfg.partitions)
                for w in workers:
                    await w.close()
            finally:
                await gw.close()
                await nc.close()  # type: ignore[attr-defined]
            assert count(store, "select count(*) from frames") == len(sent)
            assert count(store, "select count(*) from frames where status = 'ok'") == 300
            assert count(store, "select count(distinct raw) from frames") == len(sent)
            assert count(store, "select count(*) from readings") == 300 * 4
            # each point's frames are stored in the order they were received
            with store.engine.connect() as conn:
                raws = [
                    bytes(r[0])
                    for r in conn.execute(text(f"select raw from frames where mn = '{MN}' order by id"))
                ]
            assert raws == sent[:300]
            report = verify(store, None)
            assert report.ok, report.problems
            assert report.frames == len(sent)

    asyncio.run(main())


def test_a_redelivered_message_is_not_stored_twice(pg_url: str, bus_cfg: BusConfig) -> None:
    """A worker that stored a batch and died before acknowledging it: its successor skips what is stored."""
    cfg = dataclasses.replace(bus_cfg, partitions=1)

    async def main() -> None:
        with open_store(pg_url) as store:
            store.load_registry(parse_registry(REGISTRY))
            gw, nc = await gateway(store, cfg)
            try:
                await send(gw.port, [frame(i) for i in range(50)])
                first = Worker(store, cfg, holder="first")

                async def no_ack(_self: object) -> None:  # the worker dies between commit and acknowledgement
                    return None

                import nats.aio.msg

                orig = nats.aio.msg.Msg.ack
                nats.aio.msg.Msg.ack = no_ack  # type: ignore[method-assign,assignment]
                try:
                    await first.start()
                    await wait_for(lambda: count(store, "select count(*) from frames") == 50)
                    for t in first._tasks:
                        t.cancel()
                    for p in list(first.owned.values()):
                        assert p.task is not None
                        p.task.cancel()
                    await first.nc.close()  # type: ignore[union-attr]
                finally:
                    nats.aio.msg.Msg.ack = orig  # type: ignore[method-assign]
                second = Worker(store, cfg, holder="second")
                await second.start()
                await wait_for(lambda: second.stats.known >= 50, timeout=cfg.lease_ttl * 4)
                await second.close()
            finally:
                await gw.close()
                await nc.close()  # type: ignore[attr-defined]
            assert count(store, "select count(*) from frames") == 50
            assert second.stats.frames == 0
            assert verify(store, None).ok

    asyncio.run(main())


def test_a_worker_forwards_upstream_under_its_lease_and_reports_it(
    pg_url: str, bus_cfg: BusConfig, tmp_path: object
) -> None:
    import httpx

    from envtrust.ingest.server import GatewayLimits
    from envtrust.ingest.upstream import UpstreamConfig
    from envtrust.node import Node, NodeSpec
    from test_ops import samples
    from test_upstream import Upstream, free_port

    port = free_port()

    async def main() -> tuple[Upstream, dict[str, float], list[str]]:
        upstream = Upstream(port)
        await upstream.start()
        with open_store(pg_url) as store:
            store.load_registry(parse_registry(REGISTRY))
            node = Node(
                NodeSpec(
                    Ingest(store),
                    bus=dataclasses.replace(bus_cfg, partitions=2),
                    host="127.0.0.1",
                    port=0,
                    limits=GatewayLimits(),
                    http=("127.0.0.1", 0),
                    upstreams=[UpstreamConfig("nation", "127.0.0.1", port, window=20)],
                )
            )
            await node.start()
            try:
                assert node.gateway is not None
                await send(node.gateway.port, [frame(i) for i in range(40)])
                await wait_for(lambda: len(upstream.received) >= 40)
                async with httpx.AsyncClient(base_url=node.http.url) as client:
                    m = samples((await client.get("/metrics")).text)
                holders = [lease.holder or "" for lease in store.list_leases("upstream/")]
            finally:
                await node.stop()
                await upstream.stop()
        return upstream, m, holders

    upstream, m, holders = asyncio.run(main())
    assert [f.raw for f in upstream.received] == [frame(i) for i in range(40)]
    assert m["envtrust_upstream_sent_total{upstream=nation}"] == 40
    assert m["envtrust_upstream_acks_total{upstream=nation}"] == 40
    assert len(holders) == 1 and holders[0]


@pytest.mark.parametrize("linger", [0.0, 0.6])
def test_a_worker_gathers_its_partitions_commits_for_the_linger(
    pg_url: str, bus_cfg: BusConfig, linger: float
) -> None:
    """Frames trickling in over a second: committed as they come without a linger, in a few commits with one."""
    cfg = dataclasses.replace(bus_cfg, commit_linger=linger, commit_min=100_000)

    async def main() -> Worker:
        with open_store(pg_url) as store:
            store.load_registry(parse_registry(REGISTRY))
            gw, nc = await gateway(store, cfg)
            worker = Worker(store, cfg, holder="w")
            await worker.start()
            try:
                await wait_for(lambda: len(worker.owned) == cfg.partitions)
                for k in range(12):  # two points, two partitions, a read every 80 ms
                    await send(gw.port, [frame(2 * k, MN), frame(2 * k + 1, MN), frame(k, MN2)])
                    await asyncio.sleep(0.08)
                await wait_for(lambda: count(store, "select count(*) from frames") == 36)
            finally:
                await worker.close()
                await gw.close()
                await nc.close()  # type: ignore[attr-defined]
            assert verify(store, None).ok
        return worker

    worker = asyncio.run(main())
    assert worker.stats.frames == 36
    if linger:
        assert worker.stats.batches <= 4  # ~1 s of frames in commits of 0.6 s
    else:
        assert worker.stats.batches >= 8
