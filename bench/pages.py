"""The 24 h overview page with 2,000 points, rendered by envtrust's own HTTP server.

Run: ``.venv/bin/python bench/pages.py [--points 2000] [--minutes 60] [--repeats 7] [--pg postgresql://…]``.

A registry of ``--points`` points (gas and water, 20 counties, 4–6 channels with limits) gets ``--minutes`` of minute
data and two hourly values per channel through the store (as the gateway writes), with one point in 20 silent for
hours and one alarm in 10 points; the page is served by uvicorn on loopback and fetched with httpx as a browser
would, logged in through a session cookie. Times are the best of ``--repeats`` (the machine is noisy); the
same run measures the store's share (``Store.overview`` and the open-alarm query) and, as the HTTP floor, a small
static file through the same server.

Prints a table and writes ``pages.json`` into ``--out`` (default ``bench/out``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from envtrust.alarms.book import AlarmBook
from envtrust.api import create_app, serve_http
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import parse_registry
from envtrust.store import FrameRow, ReadingRow, Store, open_store
from envtrust.workflow.identity import Accounts

ROOT = Path(__file__).resolve().parent
GAS = {"a21026": 35, "a21002": 50, "a34013": 10, "a19001": None, "a01012": None, "a01011": None}
WATER = {"w01018": 50, "w21003": 5, "w21011": 0.5, "w01001": None}


def registry(points: int) -> str:
    out = []
    for i in range(points):
        water = i % 4 == 3
        limits = {c: v for c, v in (WATER if water else GAS).items() if v is not None}
        lim = ", ".join(f"{c} = {v}" for c, v in limits.items())
        out.append(
            f'[[point]]\nmn = "BENCH{i:09d}"\nenterprise = "基准企业{i // 2:05d}"\nname = "{i % 2 + 1}号排放口"\n'
            f'region = "2101{i % 20:02d}"\nmedium = "{"water" if water else "gas"}"\nlimits = {{ {lim} }}\n'
        )
    return "\n".join(out)


def fill(store: Store, points: int, minutes: int, console: Console) -> None:
    store.load_registry(parse_registry(registry(points)))
    now = int(time.time()) // 60 * 60
    batch: list[tuple[FrameRow, list[ReadingRow]]] = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"writing {points} points × {minutes} min", total=points)
        for i in range(points):
            mn = f"BENCH{i:09d}"
            codes = list(WATER if i % 4 == 3 else GAS)
            end = now - (4 * 3600 if i % 20 == 7 else 0)  # one point in 20 fell silent four hours ago
            for m in range(minutes):
                t = end - 60 * (minutes - m)
                raw = f"bench {mn} {t}".encode()
                frame = FrameRow(
                    0, "bench", "import", "hj212", raw, hashlib.sha256(raw).digest(), mn=mn, cn="2051"
                )
                v = round(10.0 + (m % 13) / 3.0 + i % 7, 2)
                batch.append(
                    (
                        frame,
                        [
                            ReadingRow(mn, "minute", c, t, c, {"avg": v, "min": v, "max": v}, "N")
                            for c in codes
                        ],
                    )
                )
            for h in (1, 2):
                t = (end // 3600 - h) * 3600
                raw = f"bench {mn} hour {t}".encode()
                frame = FrameRow(
                    0, "bench", "import", "hj212", raw, hashlib.sha256(raw).digest(), mn=mn, cn="2061"
                )
                batch.append(
                    (frame, [ReadingRow(mn, "hour", c, t, c, {"avg": 12.0 + h}, "N") for c in codes])
                )
            if len(batch) >= 5000:
                store.write(batch)
                batch = []
            bar.advance(task)
        if batch:
            store.write(batch)
    t0 = now - 3600
    AlarmBook(store).apply(
        [
            Evaluation(
                f"BENCH{i:09d}",
                [Finding(f"BENCH{i:09d}", None, "flat_line", "tampering", "high", t0, t0 + 600, "bench", {})],
                ("flat_line",),
                t0 + 600,
            )
            for i in range(0, points, 10)
        ]
    )


async def best(fn: Callable[[], Awaitable[Any]], repeats: int) -> tuple[float, Any]:
    out: Any = None
    t_best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = await fn()
        t_best = min(t_best, time.perf_counter() - t)
    return round(t_best * 1000, 1), out


async def measure(url: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    store = open_store(url)
    fill(store, args.points, args.minutes, console)
    acc = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    acc.create("bench-admin", "admin", who="bench", password="bench password 1")
    acc.create("bench-county", "regulator", who="bench", password="bench password 1", region="210103")
    keys = Path(tempfile.mkdtemp(prefix="envtrust-bench-keys-"))
    app = create_app(store, log_verifier=ledger_signer("bench.envtrust/ledger", keys, create=True).verifier())
    app.state.accounts = acc
    server = await serve_http(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}"
    result: dict[str, Any] = {"points": args.points, "readings": store.reading_count()}
    try:
        for who in ("bench-admin", "bench-county"):
            ses = acc.login(who, "bench password 1", peer="bench")
            async with httpx.AsyncClient(cookies={"envtrust_session": ses.secret}, timeout=120) as client:

                async def page(path: str, client: httpx.AsyncClient = client) -> int:
                    r = await client.get(base + path)
                    r.raise_for_status()
                    return len(r.content)

                tag = "all" if who == "bench-admin" else "county"
                result[f"overview_{tag}_ms"], result[f"overview_{tag}_bytes"] = await best(
                    lambda: page("/?per=5000"), args.repeats
                )
                if who == "bench-admin":
                    result["overview_first_page_ms"], result["overview_first_page_bytes"] = await best(
                        lambda: page("/"), args.repeats
                    )
                    result["overview_filtered_ms"], _ = await best(
                        lambda: page("/?region=210105"), args.repeats
                    )
                    result["http_floor_ms"], _ = await best(
                        lambda: page("/static/envtrust.css"), args.repeats
                    )

        async def store_share() -> int:
            def both() -> int:
                rows = store.overview()
                store.alarms(closed=False)
                return len(rows)

            return await asyncio.to_thread(both)

        result["store_overview_ms"], _ = await best(store_share, args.repeats)
    finally:
        await server.stop()
        store.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    args = ap.parse_args()
    console = Console(stderr=True)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="envtrust-bench-pages-") as tmp:
        results["SQLite"] = asyncio.run(measure(f"sqlite:///{tmp}/bench.db", args, console))
    try:
        import psycopg

        schema = f"bench_pages_{int(time.time())}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            results["PostgreSQL"] = asyncio.run(
                measure(f"{args.pg}?options=-csearch_path%3D{schema}", args, console)
            )
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    except psycopg.OperationalError as exc:
        console.print(f"[yellow]PostgreSQL skipped: {exc}[/]")
    table = Table(title=f"24 h overview, {args.points} points (best of {args.repeats})")
    table.add_column("")
    for name in results:
        table.add_column(name, justify="right")
    rows = [
        ("overview, every point on one page (admin, ?per=5000)", "overview_all_ms"),
        ("overview, its first page of 500 rows (admin, the default)", "overview_first_page_ms"),
        ("overview, one county (regulator)", "overview_county_ms"),
        ("overview filtered to one county (admin)", "overview_filtered_ms"),
        ("store share: Store.overview + open alarms", "store_overview_ms"),
        ("HTTP floor: a 4 kB static file", "http_floor_ms"),
    ]
    for label, key in rows:
        table.add_row(label, *(f"{r[key]:.1f} ms" for r in results.values()))
    table.add_row(
        "page size (every point)", *(f"{r['overview_all_bytes'] / 1024:.0f} kB" for r in results.values())
    )
    Console().print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pages.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
