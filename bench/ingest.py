"""Ingest benchmark: the parser alone, and end to end (loggers → gateway → commit → ack) beside raw inserts.

Run: ``make bench`` or ``.venv/bin/python bench/ingest.py [--db URL] [--seconds N] [--conns 1,100,1000]``.

* parser: µs per typical CEMS minute frame (2051, 8 factors), and ``json.loads`` of the same content as a
  yardstick of this machine's speed;
* end to end: ``envtrust serve`` in its own process; a load process with N connections, each keeping a window
  of frames in flight (a data logger sends the next frame after the acknowledgement; with a window we measure
  the gateway, not the round-trip time); frames/s counted from acknowledgements received;
* raw: the same frame and reading rows inserted into the same kind of database, same schema and same
  durability (WAL, synchronous=FULL for SQLite), without envtrust, in batches of 1,000 frames.

Prints a table and writes ``bench/out/ingest.json``.  Numbers on a noisy 2-core machine vary by ±20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from envtrust import hj212
from envtrust.registry import parse_registry
from envtrust.services import readings_of

ROOT = Path(__file__).resolve().parent
FACTORS = {
    "a21026": ("Cou", "Min", "Avg", "Max", "ZsMin", "ZsAvg", "ZsMax", "Flag"),
    "a21002": ("Cou", "Min", "Avg", "Max", "ZsMin", "ZsAvg", "ZsMax", "Flag"),
    "a34013": ("Cou", "Min", "Avg", "Max", "ZsMin", "ZsAvg", "ZsMax", "Flag"),
    "a19001": ("Min", "Avg", "Max", "Flag"),
    "a01012": ("Min", "Avg", "Max", "Flag"),
    "a01011": ("Min", "Avg", "Max", "Flag"),
    "a01014": ("Min", "Avg", "Max", "Flag"),
    "a00000": ("Cou", "Min", "Avg", "Max", "Flag"),
}


def mn_of(k: int) -> str:
    return f"210100BE{k:016X}"


def minute_frame(mn: str, i: int) -> bytes:
    """A typical CEMS minute-data upload (CN 2051) with realistic values, distinct per (mn, i)."""
    t = 1767225600 + 60 * i  # 2026-01-01T00:00Z + i minutes
    dt = time.strftime("%Y%m%d%H%M%S", time.gmtime(t + 8 * 3600))
    items = []
    for n, (code, suffixes) in enumerate(FACTORS.items()):
        base = 10.0 + n * 3.7 + (i * 7 + n) % 13 * 0.37
        vals = {
            "Cou": f"{base * 0.021:.4f}",
            "Min": f"{base * 0.8:.2f}",
            "Avg": f"{base:.2f}",
            "Max": f"{base * 1.2:.2f}",
            "ZsMin": f"{base * 0.9:.2f}",
            "ZsAvg": f"{base * 1.1:.2f}",
            "ZsMax": f"{base * 1.3:.2f}",
            "Flag": "N",
        }
        items.append(hj212.Item(code, {s: vals[s] for s in suffixes}, code))
    qn = time.strftime("%Y%m%d%H%M%S", time.gmtime(t + 8 * 3600)) + "000"
    return hj212.upload(qn=qn, st="31", cn="2051", pw="123456", mn=mn, data_time=dt, items=items)


def registry_text(n: int) -> str:
    parts = []
    for k in range(n):
        parts.append(
            f'[[point]]\nmn = "{mn_of(k)}"\nenterprise = "基准测试企业{k // 4}"\nname = "排放口{k}"\n'
            f'region = "210106"\nmedium = "gas"\nreference_o2 = 6.0\npw = "123456"\n'
        )
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------ parser
def bench_parser() -> dict[str, float]:
    frame = minute_frame(mn_of(0), 1)
    parsed = hj212.parse_frame(frame)
    assert isinstance(parsed, hj212.Frame)
    doc = json.dumps(
        {"fields": parsed.fields, "cp": parsed.cp, "items": {i.code: i.values for i in parsed.items}}
    )
    n = 5000

    def best(fn: object) -> float:
        return min(timeit.repeat(fn, number=n, repeat=7)) / n * 1e6  # type: ignore[arg-type]

    decoder = hj212.Decoder()
    return {
        "frame_bytes": len(frame),
        "items": sum(len(i.values) for i in parsed.items),
        "parse_frame_us": best(lambda: hj212.parse_frame(frame)),
        "decoder_feed_us": best(lambda: decoder.feed(frame)),
        "crc16_us": best(lambda: hj212.crc16(parsed.segment)),
        "json_loads_same_content_us": best(lambda: json.loads(doc)),
    }


# ------------------------------------------------------------------------------------------ raw baseline
def _raw_rows(frames: list[bytes]) -> list[tuple[tuple[object, ...], list[tuple[object, ...]]]]:
    """The frame and reading rows envtrust stores for these frames, computed outside the timing."""
    point = parse_registry(registry_text(1))[0]
    rows = []
    for fid, raw in enumerate(frames, 1):
        f = hj212.parse_frame(raw)
        assert isinstance(f, hj212.Frame)
        readings, _ = readings_of(f, point)
        frow = (
            fid,
            0,
            "127.0.0.1:1",
            "tcp",
            "hj212",
            raw,
            hashlib.sha256(f.segment).digest(),
            f.mn,
            f.cn,
            f.qn,
            "ok",
            None,
            None,
            "2017",
            True,
            "hj212",
            None,
            None,
        )
        cols = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "zs_min", "zs_max")
        rrows = [
            (
                r.mn,
                r.kind,
                r.pollutant,
                r.data_time,
                fid,
                r.code_raw,
                *(r.values.get(c) for c in cols),
                r.flag,
                r.eflag,
                r.extra,
            )
            for r in readings
        ]
        rows.append((frow, rrows))
    return rows


def _ledger_rows(rows: list) -> tuple[list, list]:  # type: ignore[type-arg]
    """The ledger rows envtrust writes with these frames: one entry and the completed nodes per frame."""
    from envtrust.ledger import merkle
    from envtrust.ledger.entries import frame_entry
    from envtrust.store.schema import FRAME_COLUMNS

    entries, nodes = [], []
    app = merkle.Appender()
    for f, _ in rows:
        entry = frame_entry(f[0], f[5], dict(zip(("id", *FRAME_COLUMNS), f, strict=True)))
        entries.append((f[0] - 1, "hj212.frame", f"frames/{f[0]}", entry))
        nodes.append(app.append([merkle.leaf_hash(entry)]))
    return entries, nodes


def raw_sqlite(path: Path, frames: list[bytes], seconds: float) -> float:
    """Insert the frame and reading rows envtrust would store, with plain sqlite3, same schema and durability."""
    from sqlalchemy import create_engine

    from envtrust.store.schema import metadata

    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    rows = _raw_rows(frames)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    fsql = "INSERT INTO frames VALUES (" + ",".join(["?"] * 18) + ")"
    rsql = "INSERT OR IGNORE INTO readings VALUES (" + ",".join(["?"] * 18) + ")"
    esql = "INSERT INTO ledger_entries (idx, type, ref, entry) VALUES (?, ?, ?, ?)"
    nsql = "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)"
    entries, nodes = _ledger_rows(rows)
    done = 0
    t0 = time.perf_counter()
    batch = 1000
    while time.perf_counter() - t0 < seconds and done + batch <= len(rows):
        part = rows[done : done + batch]
        con.execute("BEGIN IMMEDIATE")
        con.executemany(fsql, [f for f, _ in part])
        con.executemany(rsql, [r for _, rs in part for r in rs])
        con.executemany(esql, [entries[f[0] - 1] for f, _ in part])
        con.executemany(nsql, [n for f, _ in part for n in nodes[f[0] - 1]])
        con.execute("COMMIT")
        done += batch
    elapsed = time.perf_counter() - t0
    con.close()
    return done / elapsed


def copy_rows(con: object, rows: list, seconds: float, batch: int = 1000) -> float:  # type: ignore[type-arg]
    """Frames/s of plain psycopg COPY of the frame, reading and ledger rows, one transaction per ``batch`` frames,
    for about ``seconds``."""
    entries, nodes = _ledger_rows(rows)
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and done + batch <= len(rows):
        part = rows[done : done + batch]
        with con.transaction(), con.cursor() as cur:  # type: ignore[attr-defined]
            with cur.copy("COPY frames FROM STDIN") as cp:
                for f, _ in part:
                    cp.write_row(f)
            with cur.copy("COPY readings FROM STDIN") as cp:
                for _, rs in part:
                    for r in rs:
                        cp.write_row(r)
            with cur.copy("COPY ledger_entries (idx, type, ref, entry) FROM STDIN") as cp:
                for f, _ in part:
                    cp.write_row(entries[f[0] - 1])
            with cur.copy("COPY ledger_nodes (level, idx, hash) FROM STDIN") as cp:
                for f, _ in part:
                    for n in nodes[f[0] - 1]:
                        cp.write_row(n)
        done += batch
    return done / (time.perf_counter() - t0)


def raw_postgres(url: str, frames: list[bytes], seconds: float) -> float:
    """The same rows with plain psycopg COPY (one transaction per 1,000 frames) into a fresh schema."""
    import psycopg
    from sqlalchemy import create_engine

    from envtrust.store.schema import metadata

    db, drop = fresh_postgres_schema(url, 0)
    try:
        engine = create_engine(db.replace("postgresql://", "postgresql+psycopg://", 1))
        metadata.create_all(engine)
        engine.dispose()
        rows = _raw_rows(frames)
        schema = db.rsplit("%3D", 1)[1]
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain) as con:
            con.execute(f"SET search_path TO {schema}")
            return copy_rows(con, rows, seconds)
    finally:
        drop()  # type: ignore[operator]


# ------------------------------------------------------------------------------------------ end to end
def _load_process(port: int, conns: int, window: int, seconds: float, mns: int, q: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    per_conn = max(50, 60000 // conns)  # distinct frames: enough for the run without repeating any
    frames = {
        k: [minute_frame(mn_of(k % mns), k * 100000 + i) for i in range(per_conn)] for k in range(conns)
    }

    async def main() -> tuple[int, float]:
        acked = 0
        stop = asyncio.Event()

        async def logger(k: int) -> None:
            nonlocal acked
            r, w = await asyncio.open_connection("127.0.0.1", port)
            mine = frames[k]
            sent = 0
            inflight = 0
            try:
                while not stop.is_set():
                    burst = []
                    while inflight < window:
                        burst.append(mine[sent % len(mine)])
                        sent += 1
                        inflight += 1
                    if burst:
                        w.write(b"".join(burst))
                    data = await r.read(65536)
                    if not data:
                        return
                    n = data.count(b"\n")
                    inflight -= n
                    acked += n
            finally:
                w.close()

        tasks = [asyncio.create_task(logger(k)) for k in range(conns)]
        await asyncio.sleep(min(3.0, seconds / 3))  # warm-up
        a0, t0 = acked, time.perf_counter()
        await asyncio.sleep(seconds)
        a1, t1 = acked, time.perf_counter()
        stop.set()
        await asyncio.sleep(0.2)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return a1 - a0, t1 - t0

    n, dt = asyncio.run(main())
    q.put(n / dt)


def end_to_end(db: str, workdir: Path, conns: int, window: int, seconds: float, mns: int) -> float:
    reg = workdir / "registry.toml"
    reg.write_text(registry_text(mns), encoding="utf-8")
    envtrust = Path(sys.executable).with_name("envtrust")
    proc = subprocess.Popen(
        [
            str(envtrust),
            "serve",
            "--db",
            db,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--registry",
            str(reg),
            "--no-http",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "ENVTRUST_KEYS": str(workdir / "keys")},
    )
    assert proc.stderr is not None
    port = 0
    while True:
        line = proc.stderr.readline()
        if b"listening on" in line:
            port = int(line.split(b"listening on ", 1)[1].split(b" ", 1)[0].rsplit(b":", 1)[1])
            break
        if not line:
            raise SystemExit("server did not start")
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    p = mp.Process(target=_load_process, args=(port, conns, window, seconds, mns, q))
    p.start()
    rate = q.get()
    p.join()
    proc.terminate()
    proc.wait()
    proc.stderr.close()
    return float(rate)


def fresh_postgres_schema(url: str, n: int) -> tuple[str, object]:
    """A new schema for one run, so that each run starts empty; returns its URL and a function dropping it."""
    import psycopg

    schema = f"envtrust_bench_{os.getpid()}_{n}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="database URL for end-to-end (default: a fresh SQLite file)")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--conns", default="1,100,1000")
    ap.add_argument("--skip-e2e", action="store_true")
    args = ap.parse_args()
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    parser = bench_parser()
    results["parser"] = parser
    print(
        f"parser: {parser['frame_bytes']}-byte minute frame, {parser['items']} values: "
        f"parse_frame {parser['parse_frame_us']:.1f} µs, Decoder.feed {parser['decoder_feed_us']:.1f} µs "
        f"(CRC {parser['crc16_us']:.1f} µs); json.loads of the same content {parser['json_loads_same_content_us']:.1f} µs"
    )
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            frames = [minute_frame(mn_of(0), i) for i in range(60000)]
            if args.db and args.db.startswith("postgres"):
                raw = raw_postgres(args.db, frames, args.seconds)
                results["raw_postgres_copy_frames_per_s"] = raw
                print(f"raw psycopg COPY of the same rows: {raw:,.0f} frames/s")
            else:
                raw = raw_sqlite(work / "raw.db", frames, args.seconds)
                results["raw_sqlite_frames_per_s"] = raw
                print(f"raw sqlite3 inserts of the same rows: {raw:,.0f} frames/s")
            e2e = {}
            for conns in [int(c) for c in args.conns.split(",")]:
                window = {1: 500, 100: 20}.get(conns, max(2, 2000 // conns))
                if args.db:
                    db, drop = (
                        fresh_postgres_schema(args.db, conns)
                        if args.db.startswith("postgres")
                        else (args.db, None)
                    )
                else:
                    db, drop = f"sqlite:///{work / f'e2e{conns}.db'}", None
                try:
                    rate = end_to_end(db, work, conns, window, args.seconds, mns=min(conns, 1000))
                finally:
                    if drop:
                        drop()
                e2e[conns] = {"frames_per_s": rate, "window": window, "ratio_to_raw": rate / raw}
                print(
                    f"end to end, {conns:>5} connections (window {window}): {rate:,.0f} frames/s "
                    f"= {rate / raw:.2f} × raw"
                )
            results["end_to_end"] = e2e
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    name = "ingest-postgres.json" if args.db and args.db.startswith("postgres") else "ingest.json"
    (out / name).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
