"""Operations endpoints (/healthz, /readyz, /metrics) of a running node, and JSON logs."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from envtrust import logs
from envtrust.bus.jetstream import BusConfig
from envtrust.ingest.server import GatewayLimits
from envtrust.keys import ledger_signer
from envtrust.node import Node, NodeSpec
from envtrust.registry import parse_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import open_store
from integration.test_gateway import MN, REGISTRY, frame, read_replies


def samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = s.name + (
                "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else ""
            )
            out[key] = s.value
    return out


async def exercise(node: Node, n: int) -> dict[str, float]:
    gw = node.gateway
    assert gw is not None and node.http is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(b"".join(frame(i) for i in range(n)))
    await writer.drain()
    assert len(await read_replies(reader, n)) == n
    writer.close()
    async with httpx.AsyncClient(base_url=node.http.url) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] is True
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        return samples(metrics.text)


def make_node(url: str, tmp_path: Path, bus: BusConfig | None = None) -> Node:
    store = open_store(url)
    store.load_registry(parse_registry(REGISTRY))
    signer = ledger_signer("test.example/ledger", tmp_path / "keys", create=True)
    return Node(
        NodeSpec(
            Ingest(store),
            bus=bus,
            host="127.0.0.1",
            port=0,
            limits=GatewayLimits(),
            checkpointer=Checkpointer(store, signer),
            checkpoint_interval=0.2,
            http=("127.0.0.1", 0),
        )
    )


def test_one_process_reports_frames_latency_ledger_and_checkpoint_age(tmp_path: Path) -> None:
    async def main() -> dict[str, float]:
        node = make_node(f"sqlite:///{tmp_path / 'ops.db'}", tmp_path)
        await node.start()
        try:
            await asyncio.sleep(0.5)  # a checkpoint is signed
            return await exercise(node, 20)
        finally:
            await node.stop()
            node.spec.ingest.store.close()

    m = asyncio.run(main())
    assert m["envtrust_frames_received_total"] == 20
    assert m["envtrust_acks_sent_total"] == 20
    assert m["envtrust_ack_latency_seconds_count"] == 20
    assert m["envtrust_ack_latency_seconds_bucket{le=+Inf}"] == 20
    assert m["envtrust_ledger_entries"] >= 22  # two points and twenty frames
    assert m["envtrust_alarms_open"] == 0
    assert 0 <= m["envtrust_checkpoint_age_seconds"] < 60
    assert m["envtrust_up"] == 1


def test_the_web_role_makes_the_series_cache_rows_of_ended_days(tmp_path: Path) -> None:
    """``serve`` makes the rows ahead of the first request for a month (here every 0.2 s instead of ten minutes)."""
    import time

    from envtrust.api import create_app
    from store.test_derived import cache_rows, minute_batch

    day = 86400
    today = int(time.time()) // day
    node = make_node(f"sqlite:///{tmp_path / 'warm.db'}", tmp_path)
    store = node.spec.ingest.store
    store.write(minute_batch(MN, (today - 2) * day, 1440 + 60, codes=("a21026", "a21002")))
    verifier = ledger_signer("test.example/ledger", tmp_path / "keys", create=True).verifier()
    node.spec = dataclasses.replace(
        node.spec,
        app=lambda _node: create_app(store, log_verifier=verifier),
        cache_warm_s=0.2,
        cache_warm_days=3,
    )
    assert store.cache_gaps(3) == [(MN, "minute", today - 3, today - 1)]

    async def main() -> None:
        await node.start()
        try:
            for _ in range(100):
                if not store.cache_gaps(3):
                    break
                await asyncio.sleep(0.1)
        finally:
            await node.stop()

    try:
        asyncio.run(main())
        assert store.cache_gaps(3) == [] and cache_rows(store) == 2 * 3
        assert store.derived_problems() == []
    finally:
        store.close()


@pytest.mark.postgres
def test_a_cluster_node_reports_the_stream_and_the_worker(
    tmp_path: Path, pg_url: str, bus_cfg: BusConfig
) -> None:
    async def main() -> tuple[dict[str, float], int, dict[str, object]]:
        node = make_node(pg_url, tmp_path, dataclasses.replace(bus_cfg, partitions=2))
        await node.start()
        try:
            first = await exercise(node, 30)
            for _ in range(100):  # the worker stores what the gateway published
                if node.worker.stats.frames >= 30:
                    break
                await asyncio.sleep(0.1)
            assert node._nc is not None
            await node._nc.close()  # the gateway loses JetStream: not ready
            async with httpx.AsyncClient(base_url=node.http.url) as client:
                ready = await client.get("/readyz")
            return first, ready.status_code, ready.json()
        finally:
            await node.stop()
            node.spec.ingest.store.close()

    m, status, body = asyncio.run(main())
    assert m["envtrust_frames_received_total"] == 30
    assert "envtrust_stream_pending" in m
    assert m["envtrust_worker_partitions"] == 2
    assert m["envtrust_sequencer"] == 1
    assert status == 503 and body["checks"]["gateway"] is False  # type: ignore[index]


def test_json_logs_carry_time_level_logger_message_and_exception() -> None:
    stream = io.StringIO()
    logs.setup("json", "info", role="worker")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        logging.getLogger("envtrust.test").info("stored %d frames", 5)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("envtrust.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "stored 5 frames" and first["level"] == "info" and first["role"] == "worker"
    assert first["logger"] == "envtrust.test" and first["time"].endswith("+00:00")
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]
    with pytest.raises(ValueError, match="log format"):
        logs.setup("xml")


def test_server_section_under_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from envtrust import settings
    from envtrust.errors import ConfigError

    for name in ("ENVTRUST_DB", "ENVTRUST_PORT", "ENVTRUST_HTTP_PORT", "ENVTRUST_KEYS", "ENVTRUST_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "envtrust.toml"
    path.write_text(
        '[server]\ndb = "postgresql://db1/envtrust"\nport = 7212\nkeys = "/etc/envtrust/keys"\n'
        '[cluster]\nbus = "nats://n1:4222"\npartitions = 32\n',
        encoding="utf-8",
    )
    site = settings.load_file(path)
    cfg = settings.load(site["server"])
    assert (cfg.db, cfg.port, cfg.http_port, cfg.keys) == (
        "postgresql://db1/envtrust",
        7212,
        8212,
        "/etc/envtrust/keys",
    )
    monkeypatch.setenv("ENVTRUST_PORT", "9212")
    assert settings.load(site["server"]).port == 9212  # the environment wins over the file
    for bad, match in [
        ({"dbx": "a"}, "unknown key 'dbx'"),
        ({"port": "80"}, "whole number"),
        ({"port": 70000}, "port"),
    ]:
        with pytest.raises(ConfigError, match=match):
            settings.load(bad)
