"""A small site for the page tests: three points of three enterprises in two counties, recent minute and hourly
data (one point silent for hours, one exceeding its limit), an alarm per point, and one account per role with a
password.  Real SQLite and PostgreSQL stores; readings imported through the service path."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from envtrust.alarms.book import AlarmBook
from envtrust.api import create_app
from envtrust.ingest.importer import import_file
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import parse_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import Store, open_store
from scoped import P1, P2, P3, REGISTRY, SEES, create_people, fast_accounts

__all__ = ["BROWSER", "P1", "P2", "P3", "REGISTRY", "SEES", "Site", "build_site", "login", "serving", "shot"]

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass
class Site:
    store: Store
    app: object
    alarms: dict[str, int]  # MN -> its alarm
    now_local: datetime


def build_site(tmp_path: Path, db_url: str) -> Site:
    store = open_store(db_url)
    ingest = Ingest(store)
    ingest.load_registry(parse_registry(REGISTRY))
    now = datetime.now(ZONE).replace(tzinfo=None, second=0, microsecond=0)
    lines = ["mn,pollutant,time,value,flag,kind"]
    # P1 and P3: minute data up to now; P2 fell silent three hours ago
    for mn, code, base, stop in ((P1, "a21026", 20.0, 0), (P2, "a21026", 60.0, 180), (P3, "w01018", 30.0, 0)):
        for m in range(stop, stop + 120):
            t = now - timedelta(minutes=m)
            flag = "M" if (mn == P1 and m in (5, 6)) else "N"
            lines.append(f"{mn},{code},{t.isoformat()},{base + m % 7},{flag},minute")
        for h in range(1, 4):
            t = (now - timedelta(hours=h)).replace(minute=0)
            value = 42.5 if (mn == P1 and h == 2) else base + h  # P1 exceeded its limit of 35 two hours ago
            lines.append(f"{mn},{code},{t.isoformat()},{value},N,hour")
    csv = tmp_path / "data.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(ingest, csv)
    assert not report.problems, report.problems
    t0 = int((now - timedelta(hours=1)).replace(tzinfo=ZONE).timestamp())
    AlarmBook(store).apply(
        [
            Evaluation(
                mn,
                [Finding(mn, code, "flat_line", "tampering", "high", t0, t0 + 1800, "恒值 | held", {})],
                ("flat_line",),
                t0 + 1800,
            )
            for mn, code in ((P1, "a21026"), (P2, "a21026"), (P3, "w01018"))
        ]
    )
    alarms = {a["mn"]: int(a["id"]) for a in store.alarms()}
    acc = fast_accounts(store)
    create_people(acc, PASSWORD)
    signer = ledger_signer("test.envtrust/ledger", create=True)
    Checkpointer(store, signer, "test.envtrust/ledger").checkpoint()
    app = create_app(store, log_verifier=signer.verifier())
    app.state.accounts = acc  # the fast hasher for tests
    return Site(store, app, alarms, now)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Site]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    s = build_site(tmp_path, db_url)
    yield s
    s.store.close()


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as c:  # type: ignore[arg-type]
        yield c


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the login form; returns the session's CSRF token (from the next page's forms)."""
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token, page.text
    r = client.post(
        "/login", data={"username": username, "password": password, "csrf": token.group(1), "next": "/ledger"}
    )
    assert r.status_code == 303, r.text
    ledger = client.get("/ledger")
    m = CSRF.search(ledger.text)
    assert m, "the ledger page of a logged-in account carries the session's CSRF token"
    return m.group(1)


# ----------------------------------------------------------------------------------------------- browser tests
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ENVTRUST_ARTIFACTS", "test-artifacts")) / "screenshots"
# the marks of a browser test module: Debian's Chromium driven by Playwright (``executable_path``), never a download
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)"),
]


@contextmanager
def serving(site: Site) -> Iterator[str]:
    """The site's app served by uvicorn on a free loopback port (the address), stopped afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(site.app, lifespan="off", log_config=None, access_log=False)  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def page() -> Iterator[Any]:
    """A Chromium page (Chinese locale); a JavaScript error anywhere fails the test."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        yield pg
        context.close()
        browser.close()
        assert not errors, f"JavaScript errors: {errors}"


def shot(page: Any, name: str, request: pytest.FixtureRequest) -> None:
    """Keep a screenshot as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tag = request.node.callspec.id if hasattr(request.node, "callspec") else "run"
    page.screenshot(path=str(ARTIFACTS / f"{tag}-{name}.png"), full_page=True)
