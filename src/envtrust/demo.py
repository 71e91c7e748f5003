"""``envtrust demo``: demo registry, gateway and simulated fleet in one process, with a live view."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
import webbrowser
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from . import hj212, settings
from .alarms.setup import monitoring
from .api import create_app, serve_http
from .ingest.server import Gateway
from .keys import ledger_signer
from .registry import Point, load_registry
from .services import Checkpointer, Ingest
from .sim import demo_registry_path
from .sim.fleet import run_fleet
from .sim.offline import generate_log, plan_fleet
from .sim.tamper import TamperSpec
from .store import Store, open_store
from .workflow.identity import Accounts

BACKFILL_HOURS = 6
CATCH_UP_HOURS = 1.0  # with --speed above 1, at most this much of the history is replayed at that speed …
CATCH_UP_S = (
    20.0  # … and never more than it takes this many real seconds to catch up (the points look offline)
)
# tampering injected into the back-filled history: (scenario, pollutant, point index in the demo registry, start
# hour into the history, hours) — so that the alarm inbox has something to show from the first minute
DEMO_TAMPERING: tuple[tuple[str, str | None, int, float, float], ...] = (
    ("o2_ambient", None, 2, 3.0, 2.0),
    ("spike", "a21002", 4, 4.0, 0.5),
    ("clip", None, 5, 1.0, 4.0),
    ("false_stop", None, 7, 2.0, 3.0),
    ("digits", None, 14, 0.0, 6.0),
)

LABELS = {
    "a21026": "SO₂",
    "a21002": "NOx",
    "a34013": "颗粒物",
    "a19001": "O₂%",
    "w01018": "COD",
    "w21003": "氨氮",
    "w21011": "总磷",
    "w01001": "pH",
}
SHOWN = {"gas": ("a21026", "a21002", "a34013", "a19001"), "water": ("w01018", "w21003", "w21011", "w01001")}


def _alarm_panel(ingest: Ingest) -> Panel:
    store = ingest.store
    rows = store.alarms(limit=8)
    total = store.alarm_count()
    names = {mn: p.name for mn, p in ingest.points().items()}
    table = Table(expand=True, show_header=False, box=None)
    for col in ("no", "point", "check", "message"):
        table.add_column(col, overflow="fold")
    style = {"tampering": "bold red", "exceedance": "red", "anomaly": "yellow"}
    for a in rows:
        st = style.get(a["category"], "")
        table.add_row(
            str(a["id"]),
            names.get(a["mn"], a["mn"]),
            f"[{st}]{a['check_name']}[/]" if st else a["check_name"],
            a["message"],
        )
    title = f"报警 alarms: {total} open (envtrust alarms list --db …)"
    return Panel(table if rows else "—", title=title)


def _view(ingest: Ingest, gw: Gateway, db: str, events: deque[str], started: float) -> Group:
    st = ingest.store.status()
    rows = ingest.store.overview()
    head = (
        f"[bold]envtrust demo[/] — gateway [cyan]{gw.address}[/] (HJ 212/TCP) · database [cyan]{db}[/] · "
        f"{len(rows)} points · up {int(time.time() - started)} s\n"
        f"frames stored [bold]{st.frames}[/] · readings [bold]{st.readings}[/] · quarantined {st.quarantined} · "
        f"duplicates {st.duplicates} · connections {gw.stats.connections} · ledger {st.ledger_size} entries, signed checkpoint at {st.checkpoint_size or 0}"
    )
    table = Table(expand=True, header_style="bold")
    for col in (
        "企业 enterprise",
        "点位 point",
        "帧 frames",
        "最新 last data",
        "实时值/限值 real-time value/limit",
    ):
        table.add_column(col, overflow="fold")
    now = time.time()
    for r in rows:
        last = r["last_received_us"]
        age = f"{now - last / 1e6:4.0f} s ago" if last else "[red]no data[/]"
        limits = r["limits"]
        vals = []
        for code in SHOWN.get(r["medium"], ()):
            v = r["latest"].get(code)
            if v is None or v["value"] is None:
                continue
            zs, flag = v["zs"], v["flag"] or "N"
            shown = zs if zs is not None else v["value"]  # limits apply to the converted value
            limit = limits.get(code)
            text = f"{LABELS.get(code, code)} {shown:.1f}" + (f"/{limit:g}" if limit is not None else "")
            if flag != "N":
                text = f"[yellow]{text} {flag}[/]"
            elif limit is not None and shown > limit:
                text = f"[bold red]{text}[/]"
            vals.append(text)
        table.add_row(r["enterprise"], r["name"], str(r["frames"]), age, "  ".join(vals))
    ev = "\n".join(events) or "—"
    return Group(
        Panel(head, title="what is running"),
        table,
        _alarm_panel(ingest),
        Panel(ev, title="fleet events", height=8),
    )


def history_start(points: Sequence[Point], hours: float) -> datetime:
    """The start of the demo's history, ``hours`` before now to the minute (naive: the points' local time)."""
    local_now = datetime.now(points[0].zone).replace(tzinfo=None) if points else datetime.now()
    return (local_now - timedelta(hours=hours)).replace(second=0, microsecond=0)


async def backfill(
    points: Sequence[Point],
    port: int,
    *,
    seed: int,
    hours: float,
    console: Console,
    start: datetime | None = None,
) -> int:
    """Send ``hours`` of history from ``start`` (default: the last ``hours``) with the tampering of
    ``DEMO_TAMPERING`` injected, as data loggers back-fill after an outage: the checks see it on arrival and the
    alarm inbox fills.  Returns the number of frames sent."""
    start = start if start is not None else history_start(points, hours)
    specs = [
        TamperSpec(scenario, points[i].mn, code, start + timedelta(hours=at), length)
        for scenario, code, i, at, length in DEMO_TAMPERING
        if i < len(points)
    ]
    specs = [s for s in specs if s.start is None or (s.start - start).total_seconds() < hours * 3600]
    plan = plan_fleet(points, seed=seed, start=start, seconds=hours * 3600, specs=specs)
    with tempfile.TemporaryDirectory(prefix="envtrust-demo-") as tmp:
        log = Path(tmp) / "backfill.log"
        result = await asyncio.to_thread(generate_log, plan, log, jobs=1)
        data = log.read_bytes()
    frames = [line + b"\n" for line in data.splitlines() if line.strip()]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = hj212.Decoder()
    replies = 0
    for i in range(0, len(frames), 500):
        chunk = frames[i : i + 500]
        writer.write(b"".join(chunk))
        await writer.drain()
        want = replies + len(chunk)
        async with asyncio.timeout(60):
            while replies < want:
                got = await reader.read(65536)
                if not got:
                    raise ConnectionError("the gateway closed the back-fill connection")
                replies += sum(isinstance(e, hj212.Frame) for e in decoder.feed(got))
    writer.close()
    await writer.wait_closed()
    console.print(
        f"back-filled {result.total} frames of the last {hours:g} h, with {len(plan.injections)} tampering "
        "injections: watch the alarms panel"
    )
    return result.total


DEMO_USER = "duty"


def duty_account(store: Store, points: Sequence[Point]) -> tuple[str, str]:
    """The demo's duty officer: a regulator of the fleet's region, with a fresh password each run."""
    password = secrets.token_urlsafe(9)
    accounts = Accounts(store)
    regions = {p.region for p in points}
    prefix = next((n for n in (6, 4, 2) if len({r[:n] for r in regions}) == 1), 0)
    if accounts.store.account(DEMO_USER) is None:
        if prefix:
            region = next(iter(regions))[:prefix]
            accounts.create(DEMO_USER, "regulator", who="envtrust demo", password=password, region=region)
        else:
            accounts.create(DEMO_USER, "admin", who="envtrust demo", password=password)
    else:
        accounts.set_password(DEMO_USER, password, who="envtrust demo")
    return DEMO_USER, password


def open_page(url: str) -> None:
    """Open ``url`` in the user's browser where there is a screen (a terminal-only machine just prints it)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32"):
        with contextlib.suppress(Exception):
            webbrowser.open(url, new=2)


async def run_demo(
    *,
    db: str,
    port: int,
    speed: float,
    seed: int,
    duration: float | None,
    console: Console,
    http_port: int = 8212,
    backfill_hours: float = BACKFILL_HOURS,
    open_browser: bool = False,
) -> None:
    store = open_store(db)
    ingest = Ingest(store)
    origin = settings.load().origin
    signer = ledger_signer(
        origin,
        create=True,
        on_create=lambda d, v: console.print(f"created the ledger key {origin} in {d}: {v}"),
    )
    checkpointer = Checkpointer(store, signer, origin)
    points = load_registry(demo_registry_path())
    ingest.load_registry(points)
    watch = monitoring(store, ingest.points, who="envtrust demo")
    gw = Gateway(ingest, "127.0.0.1", port, checkpointer=checkpointer, monitor=watch.monitor)
    try:
        await gw.start()
    except OSError:
        console.print(f"[yellow]port {port} is busy; using a free port instead[/]")
        gw = Gateway(ingest, "127.0.0.1", 0, checkpointer=checkpointer, monitor=watch.monitor)
        await gw.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    events: deque[str] = deque(maxlen=6)
    api = create_app(store, log_verifier=signer.verifier())
    try:
        http = await serve_http(api, "127.0.0.1", http_port)
    except OSError:
        http = await serve_http(api, "127.0.0.1", 0)

    def on_event(mn: str, text: str) -> None:
        events.append(f"{datetime.now():%H:%M:%S} {mn[-8:]} {text}")

    user, password = await asyncio.to_thread(duty_account, store, points)
    console.print(
        f"envtrust demo: gateway on {gw.address}, {len(points)} simulated data loggers, database {db}.\n"
        f"[bold]24 h overview: {http.url}/[/] — log in as [bold]{user}[/] with password [bold]{password}[/] "
        f"(public portal: {http.url}/public, no login).\n"
        f"Ledger API: {http.url}/api/v1/ledger/checkpoint (signed checkpoints every 5 s; key {origin}).\n"
        "Data loggers send real-time data every 30 s and minute data every minute; Ctrl-C stops everything."
    )
    if open_browser:
        open_page(f"{http.url}/login?next=/")
    # faster than real time, the fleet replays the history's last minutes at that speed (caught up within 20 s) and
    # then keeps to the clock: a demo never sends data from the future (which the checks would rightly flag)
    replay = min(CATCH_UP_HOURS, backfill_hours, CATCH_UP_S * (speed - 1) / 3600) if speed > 1 else 0.0
    start = history_start(points, backfill_hours)
    live_start = start + timedelta(hours=backfill_hours - replay) if replay > 0 else None
    if backfill_hours > replay:
        await backfill(
            points, gw.port, seed=seed, hours=backfill_hours - replay, console=console, start=start
        )
    fleet = asyncio.create_task(
        run_fleet(
            points,
            "127.0.0.1",
            gw.port,
            seed=seed,
            speed=speed,
            start=live_start,
            catch_up=True,
            stop=stop,
            on_event=on_event,
            duration=duration,
        )
    )
    started = time.time()
    try:
        with Live(console=console, refresh_per_second=1, transient=False) as live:
            while not fleet.done():
                view = await asyncio.to_thread(_view, ingest, gw, db, events, started)
                live.update(view)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(fleet), timeout=2.0)
    finally:
        stop.set()
        stats: Any = await fleet
        await gw.close()
        await http.stop()
        st = store.status()
        store.close()
        console.print()
        console.print(
            f"stopped cleanly: fleet {stats.summary()}; stored {st.frames} frames, {st.readings} readings in {db}"
        )
