"""``envtrust demo`` as a newcomer runs it: history back-filled with tampering, checked on arrival, alarms raised."""

from __future__ import annotations

import asyncio
import io
import re
import warnings
from pathlib import Path

import pytest
from rich.console import Console

from envtrust import settings
from envtrust.api import create_app
from envtrust.demo import run_demo
from envtrust.keys import ledger_signer
from envtrust.store import open_store

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


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
    # the overview the demo points to: its duty officer logs in with the printed password and sees the alarms
    m = re.search(
        r"24 h overview: (http://\S+)/ — log in as (\w+) with password (\S+)", " ".join(text.split())
    )
    assert m, text
    with open_store(db) as store:
        app = create_app(store, log_verifier=ledger_signer(settings.load().origin, create=False).verifier())
        with TestClient(app, follow_redirects=False) as client:
            form = client.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf
            r = client.post(
                "/login", data={"username": m.group(2), "password": m.group(3), "csrf": csrf.group(1)}
            )
            assert r.status_code == 303, r.text
            page = client.get("/").text
    assert int(re.search(r'id="n-alarms">(\d+)<', page).group(1)) > 0  # type: ignore[union-attr]
    assert page.count("data-mn=") >= 10
