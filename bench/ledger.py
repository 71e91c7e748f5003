"""Ledger benchmark: appends/s, proofs at large sizes, full verify, and the ledger's cost on the write path.

Run: ``.venv/bin/python bench/ledger.py [--sizes 1000000] [--verify-frames 20000]``.

* appends: the pure ``merkle.Appender`` (leaf hashing included) and stored appends (entries + nodes written
  to SQLite in transactions of 1,000 entries of ~250 bytes, the sequencer reading its frontier each time);
* proofs: a ledger of N leaves is built in SQLite (entries and nodes bulk-written), then inclusion and
  consistency proofs are read (one query of O(log N) nodes), computed and verified;
* verify: ``envtrust verify`` (tree, checkpoints, frames against entries, readings re-derived) over a
  database of real CEMS minute frames written through the service path; reported per 10^6 frames;
* write path: ``Ingest.record`` of the same prepared frames with the ledger on and off, in the same run.

Writes ``bench/out/ledger.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as ib  # the frame generator of the ingest benchmark
from envtrust.ledger import merkle
from envtrust.ledger.note import Signer
from envtrust.registry import parse_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import open_store
from envtrust.verify import verify

ROOT = Path(__file__).resolve().parent


def entry_bytes(i: int) -> bytes:
    return (
        '{"crc_ok":true,"crc_variant":"hj212","cn":"2051","duplicate_of":null,"error_code":null,"format":"hj212",'
        f'"id":{i},"mn":"210100BE0000000000000001","origin":"tcp","peer":"10.1.2.3:40000","qn":"20260101000000000",'
        '"raw_sha256":"' + f"{i:064x}" + '","reason":null,"received_us":1767225600000000,"status":"ok",'
        '"type":"hj212.frame","version":"2017","warnings":null}'
    ).encode()


def bench_pure(n: int) -> float:
    entries = [entry_bytes(i) for i in range(n)]
    app = merkle.Appender()
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        app.append([merkle.leaf_hash(e) for e in entries[i : i + 1000]])
    return n / (time.perf_counter() - t0)


def bench_stored_appends(url: str, n: int) -> float:
    from envtrust.store import ledger as sl

    with open_store(url) as store:
        t0 = time.perf_counter()
        for i in range(0, n, 1000):
            with store._writing() as conn:  # the write transaction the gateway's batches use
                sl.append_entries(
                    conn, [("hj212.frame", f"frames/{j}", entry_bytes(j)) for j in range(i, i + 1000)]
                )
        return n / (time.perf_counter() - t0)


def build_big(path: Path, n: int) -> None:
    """A ledger of n leaves written in bulk (entries and nodes), for proof timings."""
    with open_store(f"sqlite:///{path}"):
        pass
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    app = merkle.Appender()
    chunk = 100_000
    for i in range(0, n, chunk):
        entries = [entry_bytes(j) for j in range(i, min(n, i + chunk))]
        nodes = app.append([merkle.leaf_hash(e) for e in entries])
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO ledger_entries (idx, type, ref, entry) VALUES (?, 'hj212.frame', ?, ?)",
            [(i + k, f"frames/{i + k}", e) for k, e in enumerate(entries)],
        )
        con.executemany("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        con.execute("COMMIT")
    con.close()


def bench_proofs(path: Path, n: int, samples: int = 300) -> dict[str, float]:
    rng = random.Random(1)
    with open_store(f"sqlite:///{path}") as store:
        root = store.root_at(n)
        t0 = time.perf_counter()
        for _ in range(samples):
            i = rng.randrange(n)
            proof = store.inclusion_proof(i, n)
            leaf = merkle.leaf_hash(entry_bytes(i))
            assert merkle.verify_inclusion(leaf, i, n, proof, root)
        inclusion = (time.perf_counter() - t0) / samples
        t0 = time.perf_counter()
        for _ in range(samples):
            m = rng.randrange(1, n)
            proof = store.consistency_proof(m, n)
            assert merkle.verify_consistency(m, n, store.root_at(m), root, proof)
        consistency = (time.perf_counter() - t0) / samples
    return {"inclusion_ms": inclusion * 1e3, "consistency_ms_incl_old_root": consistency * 1e3}


def prepared_frames(ingest: Ingest, n: int, offset: int) -> list:  # type: ignore[type-arg]
    frames = [ib.minute_frame(ib.mn_of(i % 10), offset + i) for i in range(n)]
    decoder = ingest.decoder()
    return [ingest.prepare(e, peer="10.1.2.3:40000") for e in decoder.feed(b"".join(frames))]


def bench_write_path(work: Path, n: int) -> dict[str, float]:
    out = {}
    for label, on in (("ledger_on", True), ("ledger_off", False), ("ledger_on_again", True)):
        with open_store(f"sqlite:///{work / f'wp-{label}.db'}") as store:
            ingest = Ingest(store)
            ingest.load_registry(parse_registry(ib.registry_text(10)))
            store._ledger_on = on
            prepared = prepared_frames(ingest, n, 0)
            t0 = time.perf_counter()
            for i in range(0, n, 1000):
                ingest.record(prepared[i : i + 1000])
            out[label] = n / (time.perf_counter() - t0)
    return out


def bench_verify(work: Path, n: int) -> dict[str, float]:
    with open_store(f"sqlite:///{work / 'verify.db'}") as store:
        ingest = Ingest(store)
        ingest.load_registry(parse_registry(ib.registry_text(10)))
        signer = Signer.generate("bench.envtrust/ledger")
        cp = Checkpointer(store, signer)
        for i in range(0, n, 5000):
            ingest.record(prepared_frames(ingest, min(5000, n - i), i))
            cp.checkpoint()
        t0 = time.perf_counter()
        report = verify(store, signer.verifier())
        dt = time.perf_counter() - t0
        assert report.ok, report.problems
    return {"frames": n, "seconds": dt, "seconds_per_million_frames": dt / n * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sizes", default="1000000", help="ledger sizes for proof timings, e.g. 1000000,10000000"
    )
    ap.add_argument("--appends", type=int, default=200_000)
    ap.add_argument("--verify-frames", type=int, default=20_000)
    ap.add_argument("--write-frames", type=int, default=10_000)
    args = ap.parse_args()
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pure = bench_pure(args.appends)
        stored = bench_stored_appends(f"sqlite:///{work / 'appends.db'}", args.appends)
        results["appends_per_s"] = {"pure_appender": pure, "stored_sqlite_batches_of_1000": stored}
        print(f"appends: pure Appender {pure:,.0f}/s; stored in SQLite (batches of 1,000) {stored:,.0f}/s")
        proofs = {}
        for n in [int(x) for x in args.sizes.split(",")]:
            path = work / f"big{n}.db"
            t0 = time.perf_counter()
            build_big(path, n)
            built = time.perf_counter() - t0
            proofs[n] = bench_proofs(path, n) | {"build_seconds": built}
            print(
                f"proofs at {n:,} leaves: inclusion (read + compute + verify) {proofs[n]['inclusion_ms']:.2f} ms, "
                f"consistency {proofs[n]['consistency_ms_incl_old_root']:.2f} ms (built in {built:.0f} s)"
            )
            path.unlink()
        results["proofs"] = proofs
        wp = bench_write_path(work, args.write_frames)
        results["write_path_frames_per_s"] = wp
        cost = 1 - (wp["ledger_on"] + wp["ledger_on_again"]) / 2 / wp["ledger_off"]
        print(
            f"write path (Ingest.record, minute frames): ledger on {wp['ledger_on']:,.0f}/s and "
            f"{wp['ledger_on_again']:,.0f}/s, off {wp['ledger_off']:,.0f}/s → the ledger costs {cost:.0%}"
        )
        ver = bench_verify(work, args.verify_frames)
        results["verify"] = ver
        print(
            f"verify: {ver['frames']:,} frames in {ver['seconds']:.1f} s → "
            f"{ver['seconds_per_million_frames']:.0f} s per 10^6 frames"
        )
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    (out / "ledger.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
