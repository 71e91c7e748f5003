"""One point-month of minute data through the HTTP API, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/api.py [--days 30] [--pollutants 6] [--repeats 5] [--registry-points 2000]
[--pg postgresql://…]``.

A point with ``--pollutants`` channels of minute data for the ``--days`` days up to now is written through the
store (as the gateway writes; random walks sent with two decimals, as loggers send them), then served by
``envtrust``'s own HTTP server (uvicorn, real loopback TCP) and fetched with httpx as a client would:

* ``/channels``: the whole point-month in one request — cold (the series cache emptied before each try: every
  day is read from the readings table) and warm (the cache holds the days, today's up to its newest reading;
  what arrived after that — here nothing — is read from the readings table);
* ``/series`` (one channel as columns, the charts' contract): one pollutant-month, warm and cold, and the whole
  point-month as one request per pollutant (how it was fetched before ``/channels``);
* ``/readings`` (row objects) for one pollutant-month, for comparison;
* the first request for the month after the cache rows of its ended days were made ahead (``Store.warm_cache``, as
  ``serve`` does every ten minutes), and the time that warming takes.

The registry holds ``--registry-points`` other points (default 2,000, no data), as a city's would: every request
checks the caller's access to the point.

"received" is the time until the last byte of the body has arrived; "parsed" adds the client's ``json.loads``.
Times are the best of ``--repeats`` (the machine is noisy). In the same run: the raw SQL fetch of one
pollutant-month (the floor without a cache), the server's own share (``Store.columns`` and the JSON encoding, in
process) and what gzip would cost and save on the point-month body.

Prints a table and writes ``api.json`` into ``--out`` (default ``bench/out``).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
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
import numpy as np
import orjson
from argon2 import PasswordHasher
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from envtrust.api import create_app, serve_http
from envtrust.api.data import channels_body
from envtrust.keys import ledger_signer
from envtrust.registry import parse_registry
from envtrust.store import FrameRow, ReadingRow, Store, open_store
from envtrust.workflow.identity import Accounts

ROOT = Path(__file__).resolve().parent
MN = "BENCH0000000000000000001"
CODES = ["a21026", "a21002", "a34013", "a19001", "a00000", "a01012", "a01011", "a01014"]
DAY = 86400
# the month that ends now (to the minute): today's part of it is never in the series cache, as in real use
T0 = int(time.time()) // 60 * 60 - 30 * DAY


def fill(store: Store, days: int, pollutants: int, t0: int = T0, others: int = 0) -> None:
    codes = CODES[:pollutants]
    more = "".join(  # the rest of a city's registry: what each request's access check has to look past
        f'[[point]]\nmn = "OTHER{i:019d}"\nenterprise = "其他企业{i // 3}"\nname = "{i % 3 + 1}号排口"\n'
        f'region = "2101{i % 12:02d}"\nmedium = "gas"\nlimits = {{ a21026 = 35, a21002 = 50 }}\n'
        for i in range(others)
    )
    store.load_registry(
        parse_registry(
            f'[[point]]\nmn = "{MN}"\nenterprise = "基准测试热电"\nname = "1号炉"\nregion = "210102"\n'
            'medium = "gas"\nreference_o2 = 6.0\nlimits = { a21026 = 35 }\n' + more
        )
    )
    # each channel a random walk around its level with minute noise, sent with two decimals as loggers do
    rng = np.random.default_rng(212)
    n = days * 1440
    level = 5 + 40 * rng.random(len(codes))
    walk = np.abs(level + np.cumsum(rng.normal(0, 0.05, (n, len(codes))), axis=0))
    avg = np.round(walk * (1 + rng.normal(0, 0.02, walk.shape)), 2).tolist()
    low = np.round(walk * 0.9, 2).tolist()
    high = np.round(walk * 1.1, 2).tolist()
    conv = np.round(walk * 1.37, 2).tolist()
    batch: list[tuple[FrameRow, list[ReadingRow]]] = []
    for m in range(n):
        raw = f"bench frame {m}".encode()
        frame = FrameRow(0, "bench", "import", "hj212", raw, hashlib.sha256(raw).digest(), mn=MN, cn="2051")
        rows = []
        for i, c in enumerate(codes):
            values = {"avg": avg[m][i], "min": low[m][i], "max": high[m][i], "zs_avg": conv[m][i]}
            rows.append(ReadingRow(MN, "minute", c, t0 + 60 * m, c, values, "N"))
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
    acc = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    acc.create("bench-admin", "admin", who="bench", password=None)
    token = acc.create_token("bench-admin", "bench", who="bench")[1]
    with tempfile.TemporaryDirectory(prefix="envtrust-bench-keys-") as keys:
        verifier = ledger_signer("bench.envtrust/ledger", Path(keys), create=True).verifier()
    app = create_app(store, log_verifier=verifier)
    server = await serve_http(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}/api/v1/points/{MN}"
    t0 = int(time.time()) // 60 * 60 - args.days * DAY
    with console.status(f"writing {args.days} days × {args.pollutants} channels of minute data"):
        fill(store, args.days, args.pollutants, t0, args.registry_points)
    end = t0 + args.days * DAY
    span = "&".join(  # in the point's local time (UTC+8)
        f"{k}={time.strftime('%Y-%m-%dT%H:%M', time.gmtime(x + 8 * 3600))}"
        for k, x in (("start", t0), ("end", end))
    )
    codes = CODES[: args.pollutants]
    result: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:

            async def get(url: str) -> bytes:
                r = await client.get(url)
                r.raise_for_status()
                return r.content

            async def settle(
                rows: int,
            ) -> None:  # the cache is filled after the answer: let that finish first
                await asyncio.sleep(0.05)
                while await asyncio.to_thread(cache_rows, store) < rows:
                    await asyncio.sleep(0.05)

            days = (
                int(time.time()) // DAY - t0 // DAY
            )  # the month's complete UTC days: what the cache can hold
            channels_url = f"{base}/channels?kind=minute&{span}"

            def series_url(code: str) -> str:
                return f"{base}/series?kind=minute&pollutant={code}&{span}"

            async def channels_received() -> int:
                return len(await get(channels_url))

            async def channels_parsed() -> int:
                return sum(c["n"] for c in json.loads(await get(channels_url))["channels"])

            async def series_received() -> int:
                return len(await get(series_url(codes[0])))

            async def series_parsed() -> int:
                return len(json.loads(await get(series_url(codes[0])))["t"])

            async def series_point_month() -> int:
                return sum([len(json.loads(await get(series_url(c)))["t"]) for c in codes])

            async def readings_rows() -> int:
                url = f"{base}/readings?kind=minute&pollutant={codes[0]}&limit=50000&{span}"
                return len(json.loads(await get(url))["items"])

            async def timed(name: str, make: Any, *, cold: int = 0) -> None:
                """Best of the repeats; ``cold``: empty the cache before each, and wait for that many rows after."""
                t_best = float("inf")
                n = 0
                for _ in range(args.repeats):
                    if cold:
                        await asyncio.to_thread(store.clear_cache)
                    t = time.perf_counter()
                    n = await make()
                    t_best = min(t_best, time.perf_counter() - t)
                    if cold:
                        await settle(cold)
                result[name] = round(t_best * 1000, 1)
                result[name.replace("_ms", "_size")] = n

            await timed("channels_point_month_cold_received_ms", channels_received, cold=len(codes) * days)
            # what `serve` does every ten minutes: the rows of ended days made ahead; then the first request
            t_warm, t_first = float("inf"), float("inf")
            for _ in range(args.repeats):
                await asyncio.to_thread(store.clear_cache)
                t = time.perf_counter()
                await asyncio.to_thread(store.warm_cache, 31)
                t_warm = min(t_warm, time.perf_counter() - t)
                t = time.perf_counter()
                await channels_received()
                t_first = min(t_first, time.perf_counter() - t)
                await settle(len(codes) * days)
            result["warm_cache_point_month_ms"] = round(t_warm * 1000, 1)
            result["channels_point_month_first_after_warming_received_ms"] = round(t_first * 1000, 1)
            await timed("channels_point_month_received_ms", channels_received)
            await timed("channels_point_month_parsed_ms", channels_parsed)
            await timed("series_one_pollutant_month_cold_received_ms", series_received, cold=days)
            await channels_received()
            await settle(len(codes) * days)
            await timed("series_one_pollutant_month_received_ms", series_received)
            await timed("series_one_pollutant_month_parsed_ms", series_parsed)
            await timed("series_point_month_6_requests_parsed_ms", series_point_month)
            await timed("readings_one_pollutant_month_parsed_ms", readings_rows)
            body = await get(channels_url)
        q = text(
            "SELECT data_time, avg, min, max, zs_avg, rtd, flag FROM readings WHERE mn = :mn AND kind = 'minute' "
            "AND pollutant = :p AND data_time >= :a AND data_time < :b ORDER BY data_time"
        )

        def raw() -> int:
            with store.engine.connect() as conn:
                return len(conn.execute(q, {"mn": MN, "p": codes[0], "a": t0, "b": end}).fetchall())

        t_raw, _ = best(raw, args.repeats)
        result["sql_fetch_one_pollutant_month_ms"] = round(t_raw * 1000, 1)
        # the server's share, in process: the columns (cache warm), then the JSON answer
        t_cols, found = best(lambda: store.columns(MN, "minute", t0, end), args.repeats)
        result["server_columns_point_month_ms"] = round(t_cols * 1000, 1)
        t_json, _ = best(
            lambda: orjson.dumps(
                channels_body(MN, "minute", t0, end, found), option=orjson.OPT_SERIALIZE_NUMPY
            ),
            args.repeats,
        )
        result["server_json_point_month_ms"] = round(t_json * 1000, 1)
        for level in (1, 6):
            t_gz, packed = best(lambda level=level: gzip.compress(body, compresslevel=level), 3)
            result[f"gzip{level}_point_month_ms"] = round(t_gz * 1000, 1)
            result[f"gzip{level}_point_month_size"] = len(packed)
        result["cache_bytes_point_month"] = cache_bytes(store)
    finally:
        await server.stop()
        store.close()
    return result


def cache_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM series_cache")).scalar_one())


def cache_bytes(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT sum(length(data)) FROM series_cache")).scalar_one() or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--pollutants", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--registry-points", type=int, default=2000, help="other points in the registry (no data)"
    )
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
