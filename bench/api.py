"""One point-month of minute data through the HTTP API, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/api.py [--days 30] [--pollutants 6] [--repeats 5] [--pg postgresql://…]``.

A point with ``--pollutants`` channels of minute data for ``--days`` days is written through the store (as the
gateway writes), then served by ``envtrust``'s own HTTP server (uvicorn, real loopback TCP) and fetched with httpx
as a client would: ``/series`` (columns for charts) per pollutant, the whole point-month as one request per
pollutant, and ``/readings`` (row objects) for comparison. Times are the best of ``--repeats`` (the machine is
noisy). The raw SQL fetch of the same rows is measured in the same run as the floor.

Prints a table and writes ``api.json`` into ``--out`` (default ``bench/out``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from envtrust.api import create_app, serve_http
from envtrust.keys import ledger_signer
from envtrust.registry import parse_registry
from envtrust.store import FrameRow, ReadingRow, Store, open_store
from envtrust.workflow.identity import Accounts

ROOT = Path(__file__).resolve().parent
MN = "BENCH0000000000000000001"
CODES = ["a21026", "a21002", "a34013", "a19001", "a00000", "a01012", "a01011", "a01014"]
T0 = 1_767_225_600 - 8 * 3600  # a local midnight (UTC+8)


def fill(store: Store, days: int, pollutants: int) -> None:
    codes = CODES[:pollutants]
    store.load_registry(
        parse_registry(
            f'[[point]]\nmn = "{MN}"\nenterprise = "基准测试热电"\nname = "1号炉"\nregion = "210102"\n'
            'medium = "gas"\nreference_o2 = 6.0\nlimits = { a21026 = 35 }\n'
        )
    )
    batch: list[tuple[FrameRow, list[ReadingRow]]] = []
    for m in range(days * 1440):
        raw = f"bench frame {m}".encode()
        frame = FrameRow(0, "bench", "import", "hj212", raw, hashlib.sha256(raw).digest(), mn=MN, cn="2051")
        v = round(10.0 + (m % 97) / 7.0, 2)  # loggers send a few decimals
        rows = [
            ReadingRow(
                MN,
                "minute",
                c,
                T0 + 60 * m,
                c,
                {"avg": v, "min": v - 1, "max": v + 1, "zs_avg": round(v * 1.1, 2)},
                "N",
            )
            for c in codes
        ]
        batch.append((frame, rows))
        if len(batch) == 5000:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out: Any = None
    t_best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


async def measure(url: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    store = open_store(url)
    with console.status(f"writing {args.days} days × {args.pollutants} channels of minute data"):
        fill(store, args.days, args.pollutants)
    acc = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    acc.create("bench-admin", "admin", who="bench", password=None)
    token = acc.create_token("bench-admin", "bench", who="bench")[1]
    keys = Path(tempfile.mkdtemp(prefix="envtrust-bench-keys-"))
    app = create_app(store, log_verifier=ledger_signer("bench.envtrust/ledger", keys, create=True).verifier())
    server = await serve_http(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}/api/v1/points/{MN}"
    end = T0 + args.days * 86400
    span = "start=2026-01-01T00:00&end=" + time.strftime("%Y-%m-%dT%H:%M", time.gmtime(end + 8 * 3600))
    codes = CODES[: args.pollutants]
    result: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:

            async def series(code: str) -> int:
                r = await client.get(f"{base}/series?kind=minute&pollutant={code}&{span}")
                r.raise_for_status()
                return len(r.json()["t"])

            async def series_bytes(code: str) -> int:  # received, not parsed: what "returned" takes
                r = await client.get(f"{base}/series?kind=minute&pollutant={code}&{span}")
                r.raise_for_status()
                return len(r.content)

            async def point_month() -> int:
                return sum([await series(c) for c in codes])

            async def readings_rows(code: str) -> int:
                r = await client.get(f"{base}/readings?kind=minute&pollutant={code}&limit=50000&{span}")
                r.raise_for_status()
                return len(r.json()["items"])

            for name, make in (
                ("series_one_pollutant_month_received_ms", lambda: series_bytes(codes[0])),
                ("series_one_pollutant_month_ms", lambda: series(codes[0])),
                ("series_point_month_ms", point_month),
                ("readings_one_pollutant_month_ms", lambda: readings_rows(codes[0])),
            ):
                t_best = float("inf")
                n = 0
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    n = await make()
                    t_best = min(t_best, time.perf_counter() - t)
                result[name] = round(t_best * 1000, 1)
                result[name.replace("_ms", "_values")] = n
        q = text(
            "SELECT data_time, avg, min, max, zs_avg, rtd, flag FROM readings WHERE mn = :mn AND kind = 'minute' "
            "AND pollutant = :p AND data_time >= :a AND data_time < :b ORDER BY data_time"
        )

        def raw() -> int:
            with store.engine.connect() as conn:
                return len(conn.execute(q, {"mn": MN, "p": codes[0], "a": T0, "b": end}).fetchall())

        t_raw, _ = best(raw, args.repeats)
        result["sql_fetch_one_pollutant_month_ms"] = round(t_raw * 1000, 1)
    finally:
        await server.stop()
        store.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--pollutants", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL ('' to skip)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    args = ap.parse_args()
    console = Console()
    results: dict[str, Any] = {"days": args.days, "pollutants": args.pollutants}
    with tempfile.TemporaryDirectory(prefix="envtrust-bench-api-") as tmp:
        results["sqlite"] = asyncio.run(measure(f"sqlite:///{Path(tmp) / 'api.db'}", args, console))
    if args.pg:
        import psycopg

        schema = f"envtrust_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in args.pg else "?"
            url = f"{args.pg}{sep}options=-csearch_path%3D{schema}"
            results["postgresql"] = asyncio.run(measure(url, args, console))
        finally:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "api.json").write_text(json.dumps(results, indent=2) + "\n")
    table = Table(title=f"one point-month of minute data: {args.days} days × {args.pollutants} channels")
    table.add_column("measure")
    for db in ("sqlite", "postgresql"):
        if db in results:
            table.add_column(db, justify="right")
    for key in results["sqlite"]:
        table.add_row(key, *(str(results[db][key]) for db in ("sqlite", "postgresql") if db in results))
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
