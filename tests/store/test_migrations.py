"""Upgrading a database from the hash-chain schema (revision 0001) enters its frames into the ledger."""

from __future__ import annotations

import hashlib

from sqlalchemy import text

from envtrust.store import open_store
from envtrust.store.base import make_engine
from envtrust.store.migrate import current_revision, head_revision, upgrade
from envtrust.verify import verify


def test_upgrade_from_the_hash_chain_backfills_the_ledger(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001")
        assert current_revision(engine) == "0001"
        with engine.begin() as conn:
            for i in range(1, 8):
                raw = b"##0010QN=%06d;CP=&&&&0000\r\n" % i
                conn.execute(
                    text(
                        "INSERT INTO frames (id, received_us, peer, origin, format, raw, digest, status) "
                        "VALUES (:i, :t, 'p', 'tcp', 'hj212', :raw, :d, 'quarantine')"
                    ),
                    {"i": i, "t": 1_700_000_000_000_000 + i, "raw": raw, "d": hashlib.sha256(raw).digest()},
                )
                conn.execute(
                    text("INSERT INTO chain (seq, entry, hash) VALUES (:i, '{}', :h)"),
                    {"i": i, "h": b"\0" * 32},
                )
    finally:
        engine.dispose()
    with open_store(db_url) as store:
        assert current_revision(store.engine) == head_revision()
        refs = [ref for _, _, ref, _ in store.iter_entries()]
        assert refs == [f"frames/{i}" for i in range(1, 8)]
        report = verify(store, None)
        assert report.ok, report.problems
        assert report.frames == 7
