"""Cluster mode with real processes on loopback (issue 8, "How it will be checked"): three nats-server processes,
gateways and workers as ``envtrust serve`` processes, PostgreSQL; each role killed with SIGKILL under load, a NATS
node down, PostgreSQL restarted, storage too slow.  Nothing acknowledged is lost, nothing is stored twice, and
``envtrust verify`` passes."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from envtrust.keys import ledger_signer
from envtrust.registry import parse_registry
from envtrust.settings import DEFAULT_ORIGIN
from envtrust.store import Store, open_store

from .harness import Cluster, Logger, NatsCluster, nats_cluster, numbered_frames, registry_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MNS = [f"2101001234{i:04d}" for i in range(12)]


def count(store: Store, sql: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def setup(tmp_path: Path, pg_url: str, bus: str, cluster_toml: str) -> Cluster:
    with open_store(pg_url) as store:
        store.load_registry(parse_registry(registry_of(MNS)))
        store.partition_readings(months_ahead=1)  # as a province deploys it (docs/deployment.md)
    ledger_signer(DEFAULT_ORIGIN, tmp_path / "keys", create=True)  # one key for every sequencer
    config = tmp_path / "envtrust.toml"
    config.write_text("[cluster]\n" + cluster_toml, encoding="utf-8")
    return Cluster(tmp_path, pg_url, bus, config)


def wait_stored(store: Store, n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while count(store, "select count(distinct digest) from frames where status = 'ok'") < n:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{count(store, 'select count(*) from frames')} frames stored, {n} acknowledged ones expected"
            )
        time.sleep(0.2)


def check_nothing_lost_or_doubled(pg_url: str, logger: Logger, cluster: Cluster) -> None:
    with open_store(pg_url) as store:
        wait_stored(store, len(logger.acked))
        for r in cluster.roles:
            r.stop()
        with store.engine.connect() as conn:
            stored = {
                bytes(raw) for (raw,) in conn.execute(text("select raw from frames where status = 'ok'"))
            }
        assert all(logger.frames[qn] in stored for qn in logger.acked), "an acknowledged frame is missing"
        ok = count(store, "select count(*) from frames where status = 'ok'")
        assert ok == len(stored), "a frame was stored twice as accepted"
        assert count(store, "select count(*) from readings") == 2 * ok, "readings stored twice"
        assert count(store, "select count(*) from frames where status = 'quarantine'") == 0
    done = subprocess.run(
        [sys.executable, "-m", "envtrust", "verify", "--db", pg_url, "--keys", str(cluster.root / "keys")],
        capture_output=True,
        text=True,
        cwd=cluster.root,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def sequencer_pid(store: Store) -> int | None:
    now = time.time_ns() // 1000
    for lease in store.list_leases("sequencer"):
        if lease.live(now) and lease.holder:
            return int(lease.holder.split(":")[1])
    return None


def test_a_gateway_a_worker_and_the_sequencer_killed_under_load(tmp_path: Path, pg_url: str) -> None:
    with nats_cluster(tmp_path) as nats:
        c = setup(tmp_path, pg_url, nats.url, "replicas = 3\npartitions = 8\nlease_ttl = 3.0\n")
        try:
            workers = [c.serve("worker"), c.serve("worker")]
            g1, g2 = c.serve("gateway"), c.serve("gateway")
            assert g1.port is not None and g2.port is not None
            logger = Logger(numbered_frames(MNS, 3000))
            events: list[str] = []

            async def scenario() -> None:
                load = asyncio.create_task(logger.run([g1.port, g2.port], 8, 300.0, time.monotonic() + 150))
                await asyncio.sleep(2.5)
                g1.kill()
                events.append(f"gateway killed at {len(logger.acked)} acks")
                await asyncio.sleep(2.5)
                with open_store(pg_url) as store:
                    seq = sequencer_pid(store)
                    assert seq is not None, "no worker signs checkpoints"
                    plain = next(w for w in workers if w.proc.pid != seq)
                    plain.kill()
                    events.append(f"worker killed at {len(logger.acked)} acks")
                    workers.append(c.serve("worker"))
                    await asyncio.sleep(2.5)
                    holder = next(w for w in workers if w.proc.pid == seq)
                    holder.kill()
                    events.append(f"sequencer killed at {len(logger.acked)} acks")
                    workers.append(c.serve("worker"))
                await load

            asyncio.run(scenario())
            assert len(logger.acked) == len(logger.frames), events
            with open_store(pg_url) as store:
                deadline = time.monotonic() + 30
                while (sequencer_pid(store) or 0) in (0, workers[1].proc.pid, workers[0].proc.pid):
                    assert time.monotonic() < deadline, "no worker took the sequencer over"
                    time.sleep(0.2)
            check_nothing_lost_or_doubled(pg_url, logger, c)
        finally:
            c.close()


def one_gateway_under_load(
    tmp_path: Path, pg_url: str, disrupt: Callable[[NatsCluster], Awaitable[None]]
) -> tuple[Logger, float]:
    """A worker and a gateway with 2,400 frames arriving from six loggers; ``disrupt`` runs after 3 s.  Every frame
    is acknowledged, none lost or doubled; returns the loggers and when the disruption happened."""
    with nats_cluster(tmp_path) as nats:
        c = setup(tmp_path, pg_url, nats.url, "replicas = 3\npartitions = 4\nlease_ttl = 3.0\n")
        try:
            c.serve("worker")
            g = c.serve("gateway")
            assert g.port is not None
            logger = Logger(numbered_frames(MNS, 2400))
            at: list[float] = []

            async def scenario() -> None:
                assert g.port is not None
                load = asyncio.create_task(logger.run([g.port], 6, 300.0, time.monotonic() + 120))
                await asyncio.sleep(3)
                await disrupt(nats)
                at.append(time.monotonic())
                await load

            asyncio.run(scenario())
            assert len(logger.acked) == len(logger.frames)
            check_nothing_lost_or_doubled(pg_url, logger, c)
            return logger, at[0]
        finally:
            c.close()


def test_a_nats_node_down_while_loggers_keep_being_acknowledged(tmp_path: Path, pg_url: str) -> None:
    async def kill_the_leader(nats: NatsCluster) -> None:
        nats.kill(await stream_leader(nats.url))

    logger, killed_at = one_gateway_under_load(tmp_path, pg_url, kill_the_leader)
    after = [t for t in logger.ack_times if t > killed_at]
    assert len(after) > 1000, "loggers were not acknowledged while a NATS node was down"


async def stream_leader(url: str) -> int:
    import nats as nats_client

    nc = await nats_client.connect(servers=url.split(","))
    try:
        info = await nc.jetstream().stream_info("ENVTRUST_FRAMES")
        assert info.cluster is not None and info.cluster.leader is not None
        return int(info.cluster.leader.removeprefix("n"))
    finally:
        await nc.close()


def _pg_restart_command() -> list[str] | None:
    ctl = shutil.which("pg_ctlcluster")
    if ctl is None or os.geteuid() != 0 or not os.path.isdir("/etc/postgresql"):
        return None
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return [ctl, "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"]


def test_postgresql_restarted_under_load(tmp_path: Path, pg_url: str) -> None:
    restart = _pg_restart_command()
    if restart is None:
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster and root")

    async def restart_postgresql(_: NatsCluster) -> None:
        proc = await asyncio.create_subprocess_exec(*restart)
        assert await proc.wait() == 0

    one_gateway_under_load(tmp_path, pg_url, restart_postgresql)


def test_slow_storage_makes_the_gateway_hold_back_instead_of_dropping(tmp_path: Path, pg_url: str) -> None:
    """The stream holds at most 1,000 unstored frames; with no worker running the gateway stops acknowledging at
    that bound, and once a worker runs, every frame is acknowledged and stored."""
    with nats_cluster(tmp_path) as nats:
        c = setup(
            tmp_path, pg_url, nats.url, "replicas = 3\npartitions = 4\nmax_msgs = 1000\nmax_records = 1\n"
        )
        try:
            g = c.serve("gateway")
            assert g.port is not None
            logger = Logger(numbered_frames(MNS, 1500))
            asyncio.run(logger.run([g.port], 4, 500.0, time.monotonic() + 15))
            assert len(logger.acked) == 1000, "the gateway acknowledged what the stream could not hold"
            c.serve("worker")
            asyncio.run(logger.run([g.port], 4, 500.0, time.monotonic() + 90))
            assert len(logger.acked) == 1500
            check_nothing_lost_or_doubled(pg_url, logger, c)
        finally:
            c.close()
