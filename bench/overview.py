"""The store's share of the overview page: 2,000 points, on SQLite and PostgreSQL, as history grows.

Run: ``.venv/bin/python bench/overview.py [--points 2000] [--hours 1,4] [--repeats 5] [--pg postgresql://…]``.

A generated registry of ``--points`` points (flue gas and waste water, 6 channels each, 20 counties) receives
history through :meth:`Store.write`, as the gateway writes it (ledger on): every minute a minute frame (2051)
per point, every 5 minutes a real-time frame (2011), every hour an hourly frame (2061); ~600-byte raw frames.
At each history length of ``--hours`` (cumulative) the same run measures:

* ``Store.overview()`` for all points and for one county (100 points), which read the derived table
  ``point_latest`` (one row per point, kept up to date by every write);
* the old way, as raw SQL in this script: the GROUP BY over every frame and every real-time reading that
  ``Store.overview()`` ran before revision 0007 (newest real-time values only);
* the same content as today's overview (frames, newest real-time, minute and hourly value per channel)
  computed from scratch with GROUP BYs over frames and readings (what the derived table saves);

and, once at the end, the write path's cost of keeping the derived table: batches of one minute frame per point,
the time of each write and of the derived table's update inside it (medians).

Times are the best of ``--repeats`` (the machine is noisy). Prints a table and writes ``overview.json`` into
``--out`` (default ``bench/out``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from envtrust.registry import parse_registry
from envtrust.store import FrameRow, ReadingRow, Store, open_store

ROOT = Path(__file__).resolve().parent
GAS = ("a21026", "a21002", "a34013", "a19001", "a01012", "a01011")
WATER = ("w01018", "w21003", "w21011", "w01001", "w00000", "w01014")
T0 = (int(time.time()) // 86400 - 3) * 86400  # history starts three days ago (UTC midnight)


def registry(points: int) -> str:
    out = []
    for i in range(points):
        gas = i % 3 != 2
        limits = "{ a21026 = 35, a21002 = 50, a34013 = 10 }" if gas else "{ w01018 = 50, w21003 = 5 }"
        out.append(
            f'[[point]]\nmn = "{mn_of(i)}"\nenterprise = "企业{i // 2:04d}"\nname = "排放口{i % 2 + 1}"\n'
            f'region = "2101{i % 20:02d}"\nmedium = "{"gas" if gas else "water"}"\nlimits = {limits}\n'
        )
    return "\n".join(out)


def mn_of(i: int) -> str:
    return f"2101{i:010d}"


def minute_batch(points: int, minute: int, *, tag: str = "") -> list[tuple[FrameRow, list[ReadingRow]]]:
    """One minute of the fleet: a minute frame per point, a real-time frame every 5 minutes, hourly on the hour."""
    t = T0 + 60 * minute
    batch = []
    kinds = [("2051", "minute", t)]
    if minute % 5 == 0:
        kinds.append(("2011", "rtd", t + 30))
    if minute % 60 == 0 and minute:
        kinds.append(("2061", "hour", t - 3600))
    for i in range(points):
        mn = mn_of(i)
        codes = GAS if i % 3 != 2 else WATER
        for cn, kind, when in kinds:
            rows = []
            parts = []
            for j, code in enumerate(codes):
                v = round(5 + (i * 7 + j * 13 + minute) % 400 / 10, 2)
                if kind == "rtd":
                    values = {"rtd": v, "zs_rtd": round(v * 1.2, 2)}
                else:
                    values = {
                        "avg": v,
                        "min": round(v * 0.9, 2),
                        "max": round(v * 1.1, 2),
                        "zs_avg": round(v * 1.2, 2),
                    }
                rows.append(ReadingRow(mn, kind, code, when, code, values, "N"))
                parts.append(f"{code}-Avg={v},{code}-Min={values.get('min')},{code}-Flag=N")
            body = f"QN={when}{tag};ST=31;CN={cn};PW=123456;MN={mn};Flag=5;CP=&&DataTime={when};{';'.join(parts)}&&"
            raw = f"##{len(body):04d}{body}ABCD\r\n".encode()
            frame = FrameRow(
                when * 10**6 + 500_000,
                "10.0.0.1:5000",
                "tcp",
                "hj212",
                raw,
                hashlib.sha256(raw).digest(),
                mn=mn,
                cn=cn,
            )
            batch.append((frame, rows))
    return batch


OLD_OVERVIEW = (  # Store.overview() before revision 0007: every frame, every real-time reading
    "SELECT mn, count(*), max(received_us) FROM frames WHERE status != 'quarantine' GROUP BY mn",
    "SELECT r.mn, r.pollutant, r.rtd, r.zs_rtd, r.flag, r.data_time FROM readings r JOIN (SELECT mn, "
    "max(data_time) AS t FROM readings WHERE kind = 'rtd' GROUP BY mn) l ON r.mn = l.mn AND r.data_time = l.t "
    "WHERE r.kind = 'rtd'",
    "SELECT p.mn, l.pollutant, l.value FROM points p JOIN limits l ON l.point_id = p.id",
    "SELECT p.mn, p.name, e.name, p.medium FROM points p JOIN enterprises e ON p.enterprise_id = e.id ORDER BY p.id",
)
FROM_SCRATCH = (  # today's overview content computed from frames and readings, without the derived table
    "SELECT mn, count(*), max(received_us) FROM frames WHERE status != 'quarantine' AND mn IS NOT NULL GROUP BY mn",
    "SELECT r.mn, r.kind, r.pollutant, r.data_time, CASE WHEN r.kind = 'rtd' THEN r.rtd ELSE r.avg END, "
    "CASE WHEN r.kind = 'rtd' THEN r.zs_rtd ELSE r.zs_avg END, r.flag FROM readings r JOIN (SELECT mn, kind, "
    "pollutant, max(data_time) AS t FROM readings WHERE kind IN ('rtd', 'minute', 'hour') "
    "GROUP BY mn, kind, pollutant) m ON r.mn = m.mn AND r.kind = m.kind AND r.pollutant = m.pollutant "
    "AND r.data_time = m.t",
    "SELECT p.mn, l.pollutant, l.value FROM points p JOIN limits l ON l.point_id = p.id",
    "SELECT p.mn, p.name, e.name, p.enterprise_id, p.region, p.medium FROM points p "
    "JOIN enterprises e ON p.enterprise_id = e.id ORDER BY p.id",
)


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out: Any = None
    t_best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return round(t_best * 1000, 1), out


def run_sql(store: Store, queries: tuple[str, ...]) -> int:
    with store.engine.connect() as conn:
        return sum(len(conn.execute(text(q)).fetchall()) for q in queries)


def measure(url: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    store = open_store(url)
    out: dict[str, Any] = {}
    try:
        store.load_registry(parse_registry(registry(args.points)))
        county = [mn_of(i) for i in range(0, args.points, 20)]  # region 210100
        written = 0
        for hours in args.hours:
            with console.status(f"{url.split(':')[0]}: writing history up to {hours} h"):
                t = time.perf_counter()
                frames = 0
                while written < hours * 60:
                    batch = minute_batch(args.points, written)
                    store.write(batch)
                    frames += len(batch)
                    written += 1
                rate = frames / (time.perf_counter() - t) if frames else 0
            status = store.status()
            row: dict[str, Any] = {
                "frames": status.frames,
                "readings": status.readings,
                "write_frames_per_s": round(rate),
            }
            row["overview_all_ms"], rows = best(store.overview, args.repeats)
            row["overview_county_ms"], some = best(lambda: store.overview(county), args.repeats)
            assert len(rows) == args.points and len(some) == len(county)
            assert all(r["frames"] and r["latest"] and (r["hourly"] or hours <= 1) for r in rows)
            slow = max(1, min(args.repeats, 3))
            row["old_group_by_ms"], _ = best(lambda: run_sql(store, OLD_OVERVIEW), slow)
            row["from_scratch_group_by_ms"], _ = best(lambda: run_sql(store, FROM_SCRATCH), slow)
            out[f"{hours}h"] = row
            console.print(f"{url.split(':')[0]} {hours} h: {row}")
        out["write_path"] = write_share(store, args.points)
    finally:
        store.close()
    return out


def write_share(store: Store, points: int) -> dict[str, Any]:
    """Batches of one minute frame per point (live data): the time of the whole write and, inside it, of the derived
    table's update (``Store._update_derived``), medians."""
    real = store._update_derived
    spent: list[float] = []

    def timed(*args: Any) -> None:
        t = time.perf_counter()
        real(*args)
        spent.append(time.perf_counter() - t)

    store._update_derived = timed  # type: ignore[method-assign]
    totals: list[float] = []
    minute = (int(time.time()) - T0) // 60 - 60  # live data: minutes of the last hour
    try:
        for i in range(10):
            batch = minute_batch(points, minute + i, tag=f"w{i}")
            t = time.perf_counter()
            store.write(batch)
            totals.append(time.perf_counter() - t)
    finally:
        store._update_derived = real  # type: ignore[method-assign]
    write_ms, derived_ms = statistics.median(totals) * 1000, statistics.median(spent) * 1000
    return {
        "frames_per_batch": len(batch),
        "batch_ms": round(write_ms, 1),
        "derived_update_ms": round(derived_ms, 1),
        "derived_share_pct": round(100 * derived_ms / write_ms, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--hours", default="1,4", help="history lengths to measure at, cumulative (e.g. 1,4,24)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL ('' to skip)"
    )
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    args = ap.parse_args()
    args.hours = sorted(float(h) if "." in h else int(h) for h in args.hours.split(","))
    console = Console()
    results: dict[str, Any] = {"points": args.points, "t0": T0}
    with tempfile.TemporaryDirectory(prefix="envtrust-bench-overview-") as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'overview.db'}", args, console)
    if args.pg and not args.sqlite_only:
        import psycopg

        schema = f"envtrust_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in args.pg else "?"
            results["postgresql"] = measure(f"{args.pg}{sep}options=-csearch_path%3D{schema}", args, console)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overview.json").write_text(json.dumps(results, indent=2) + "\n")
    dbs = [db for db in ("sqlite", "postgresql") if db in results]
    table = Table(title=f"overview of {args.points} points: the store's share")
    table.add_column("history")
    table.add_column("measure")
    for db in dbs:
        table.add_column(db, justify="right")
    for key in results["sqlite"]:
        for measure_name in results["sqlite"][key]:
            table.add_row(key, measure_name, *(str(results[db][key][measure_name]) for db in dbs))
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
