"""A worker-only process gives up CPU priority when ``[cluster] worker_nice`` asks (acknowledgements go first)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from envtrust.bus.jetstream import BusConfig
from envtrust.keys import ledger_signer
from envtrust.settings import DEFAULT_ORIGIN

from .harness import Cluster

pytestmark = pytest.mark.postgres


def test_a_worker_process_runs_at_the_configured_nice(
    tmp_path: Path, pg_url: str, bus_cfg: BusConfig
) -> None:
    ledger_signer(DEFAULT_ORIGIN, tmp_path / "keys", create=True)
    config = tmp_path / "envtrust.toml"
    config.write_text(
        f'[cluster]\nstream = "{bus_cfg.stream}"\nsubject = "{bus_cfg.subject}"\npartitions = 2\nworker_nice = 7\n',
        encoding="utf-8",
    )
    cluster = Cluster(tmp_path, pg_url, bus_cfg.servers[0], config)
    try:
        worker = cluster.serve("worker")
        gateway = cluster.serve("gateway")
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{worker.http_port}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the worker never became ready"
            time.sleep(0.2)
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, mine + 7)
        assert os.getpriority(os.PRIO_PROCESS, gateway.proc.pid) == mine  # a gateway keeps its priority
        assert worker.stop() == 0 and gateway.stop() == 0
    finally:
        cluster.close()
