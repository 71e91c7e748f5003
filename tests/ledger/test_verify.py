"""``envtrust verify`` against plain-SQL tampering, on SQLite and PostgreSQL (issue 3, "How it will be checked").

A database is filled through the gateway's service path (registry load, frames with readings, a quarantined
frame, a duplicate), checkpoints are signed as the gateway signs them, then one kind of tampering is done
with plain SQL and ``verify`` must fail naming the place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.ledger import merkle
from envtrust.ledger.note import Signer
from envtrust.registry import load_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import Store, open_store
from envtrust.verify import verify

ORIGIN = "test.envtrust/ledger"


@pytest.fixture
def filled(db_url: str, registry_file: Path, make_frame) -> Iterator[tuple[Store, Signer]]:  # type: ignore[no-untyped-def]
    signer = Signer.generate(ORIGIN)
    with open_store(db_url) as store:
        ingest = Ingest(store)
        ingest.load_registry(load_registry(registry_file))
        cp = Checkpointer(store, signer, ORIGIN)
        for batch in range(3):
            raws = [
                make_frame(
                    "2051",
                    data_time=f"2026010108{batch:02d}{i:02d}",
                    items={
                        "a21026": {"Avg": f"{10 + i}.5", "Max": "20.0", "Flag": "N"},
                        "a19001": {"Avg": "7.1"},
                    },
                )
                for i in range(5)
            ]
            raws.append(raws[0])  # a duplicate
            raws.append(make_frame("2051", mn=make_frame.unknown_mn))  # quarantined
            events = [e for raw in raws for e in make_frame.decode(raw, ingest.decoder())]
            ingest.record([ingest.prepare(e, peer="127.0.0.1:5000") for e in events])
            cp.checkpoint()
        yield store, signer


def sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def problems(store: Store, signer: Signer) -> list[str]:
    return [str(p) for p in verify(store, signer.verifier()).problems]


def test_an_untouched_database_verifies(filled: tuple[Store, Signer]) -> None:
    store, signer = filled
    report = verify(store, signer.verifier())
    assert report.ok, report.problems
    assert report.entries == store.ledger_size() == 2 + 3 * 7
    assert report.checkpoints == 3 and report.frames == 21 and report.points == 2 and report.readings == 30


TAMPERING: dict[str, tuple[Callable[[Store], None], str]] = {
    "change a reading": (
        lambda s: sql(s, "UPDATE readings SET avg = avg + 1 WHERE pollutant = 'a21026' AND avg = 12.5"),
        "readings row",
    ),
    "delete a reading": (
        lambda s: sql(s, "DELETE FROM readings WHERE pollutant = 'a19001' AND frame_id = 4"),
        "missing",
    ),
    "delete a frame": (lambda s: sql(s, "DELETE FROM frames WHERE id = 3"), "frames row 3"),
    "change a frame's status": (
        lambda s: sql(s, "UPDATE frames SET status = 'quarantine' WHERE id = 2"),
        "frames row 2",
    ),
    "change raw bytes": (
        lambda s: sql(s, "UPDATE frames SET raw = :raw WHERE id = 5", raw=b"##0000&&0000\r\n"),
        "frames row 5",
    ),
    "change a limit": (
        lambda s: sql(s, "UPDATE limits SET value = 999 WHERE pollutant = 'a21026'"),
        "points row",
    ),
    "change an entry": (
        lambda s: sql(s, "UPDATE ledger_entries SET entry = :e WHERE idx = 4", e=b'{"type":"hj212.frame"}'),
        "ledger entry 4",
    ),
    "reorder entries": (
        lambda s: (
            sql(s, "UPDATE ledger_entries SET idx = -1 WHERE idx = 5"),
            sql(s, "UPDATE ledger_entries SET idx = 5 WHERE idx = 6"),
            sql(s, "UPDATE ledger_entries SET idx = 6 WHERE idx = -1"),
        ),
        "ledger entry 5",
    ),
    "drop an entry": (lambda s: sql(s, "DELETE FROM ledger_entries WHERE idx = 7"), "ledger entry 7"),
    "alter a checkpoint signature": (
        lambda s: sql(s, "UPDATE checkpoints SET note = replace(note, :a, :b)", a="— ", b="— x"),
        "checkpoint",
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_caught_and_named(filled: tuple[Store, Signer], kind: str) -> None:
    store, signer = filled
    act, where = TAMPERING[kind]
    act(store)
    found = problems(store, signer)
    assert found, f"{kind} went unnoticed"
    assert where in found[0] or any(where in p for p in found), found


def test_truncating_the_tail_is_caught(filled: tuple[Store, Signer]) -> None:
    """Remove the newest entries and their nodes (so the tree itself is consistent): the signed checkpoint
    says more entries existed."""
    store, signer = filled
    n = store.ledger_size()
    keep = n - 4
    sql(store, "DELETE FROM ledger_entries WHERE idx >= :k", k=keep)
    sql(store, "DELETE FROM frames WHERE id > (SELECT max(id) FROM frames) - 4")
    with store.engine.begin() as conn:
        for level in range(0, 6):
            conn.execute(
                text("DELETE FROM ledger_nodes WHERE level = :lv AND (idx + 1) * :w > :k"),
                {"lv": level, "w": 2**level, "k": keep},
            )
    found = problems(store, signer)
    assert any(f"but the ledger has {keep}" in p for p in found), found


def test_rewriting_history_consistently_is_caught_by_the_signed_checkpoint(
    filled: tuple[Store, Signer],
) -> None:
    """Change a frame, its entry and every tree node to match (what someone with database access could do):
    only the signed checkpoints betray it."""
    store, signer = filled
    sql(store, "UPDATE frames SET peer = '10.0.0.1:1' WHERE id = 2")
    [row] = [f for f in store.frames() if f["id"] == 2]
    idx = store.entry_index("frames/2")
    from envtrust.ledger.entries import frame_entry

    new_entry = frame_entry(2, bytes(row["raw"]), dict(row))
    sql(store, "UPDATE ledger_entries SET entry = :e WHERE idx = :i", e=new_entry, i=idx)
    entries = [e for _, _, _, e in store.iter_entries()]
    appender = merkle.Appender()
    nodes = appender.append([merkle.leaf_hash(e) for e in entries])
    sql(store, "DELETE FROM ledger_nodes")
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO ledger_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
            [{"l": lv, "i": i, "h": h} for lv, i, h in nodes],
        )
    found = problems(store, signer)
    assert found and all("checkpoint" in p for p in found), found
    assert "history was rewritten" in found[0]


def test_a_checkpoint_signed_by_another_key_is_refused(filled: tuple[Store, Signer]) -> None:
    store, _ = filled
    found = problems(store, Signer.generate(ORIGIN))
    assert found and "signature does not verify" in found[0]


def test_verify_command_exit_codes(db_url: str, registry_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    keys = tmp_path / "keys"
    created = runner.invoke(app, ["keys", "create", ORIGIN, "--keys", str(keys)])
    assert created.exit_code == 0, created.output
    loaded = runner.invoke(app, ["registry", "load", str(registry_file), "--db", db_url])
    assert loaded.exit_code == 0, loaded.output
    ok = runner.invoke(app, ["verify", "--db", db_url, "--keys", str(keys), "--log-key", ORIGIN])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    with open_store(db_url) as store:
        sql(store, "UPDATE points SET region = '210000'")
    bad = runner.invoke(app, ["verify", "--db", db_url, "--keys", str(keys), "--log-key", ORIGIN, "--json"])
    assert bad.exit_code == 1
    assert '"ok": false' in bad.output and "points row" in bad.output


def test_verify_on_a_live_database_sees_one_consistent_snapshot(
    filled: tuple[Store, Signer], make_frame
) -> None:  # type: ignore[no-untyped-def]
    """Frames written while verify runs are neither seen nor reported as unledgered."""
    import threading

    store, signer = filled
    ingest = Ingest(store)
    with store.snapshot() as snap:
        before = snap.ledger_size()
        frames_before = sum(1 for _ in snap.iter_frames())
        raw = make_frame("2051", data_time="20260102080000")
        ingest.record([ingest.prepare(e, peer="p") for e in make_frame.decode(raw, ingest.decoder())])
        assert snap.ledger_size() == before
        assert sum(1 for _ in snap.iter_frames()) == frames_before
    assert store.ledger_size() == before + 1
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            raw = make_frame("2051", data_time=f"202601030{i // 60 % 10}{i % 60:02d}00")
            ingest.record([ingest.prepare(e, peer="p") for e in make_frame.decode(raw, ingest.decoder())])
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [verify(store, signer.verifier()) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert all(r.ok for r in reports), [r.problems for r in reports]
