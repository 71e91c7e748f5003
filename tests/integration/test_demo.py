"""``envtrust demo`` as a newcomer runs it: history back-filled with tampering, checked on arrival, alarms raised."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from rich.console import Console

from envtrust.demo import run_demo
from envtrust.store import open_store


def test_the_demo_raises_alarms_from_simulated_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the ledger key is created in ./keys
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    console = Console(file=io.StringIO(), width=160)
    asyncio.run(
        run_demo(db=db, port=0, speed=1.0, seed=1, duration=3, console=console, http_port=0, backfill_hours=6)
    )
    text = console.file.getvalue()
    assert "back-filled" in text and "stopped cleanly" in text
    with open_store(db) as store:
        found = {a["check_name"] for a in store.alarms(closed=None, category="tampering")}
    # the injected o2_ambient, false_stop and clip scenarios are found on arrival
    assert {"o2_ambient", "stop_while_running", "limit_bunching"} <= found
