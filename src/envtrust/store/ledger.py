"""Ledger storage: entries and perfect-subtree nodes of the Merkle tree, checkpoints, cosignatures.

All functions take a Connection inside the caller's transaction, so a row and its entry commit together.
Appends read only the O(log n) frontier nodes; a root or proof at any size reads O(log n) nodes in one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from ..ledger import merkle
from ..ledger.entries import FRAME_FIELDS, STATE_ENTRIES, entry_type, frame_entry
from . import schema as s

__all__ = [
    "StateTx",
    "append_entries",
    "backfill_frames",
    "consistency_proof",
    "inclusion_proof",
    "ledger_size",
    "nodes",
    "root_at",
]

Entry = tuple[str, str | None, bytes]  # (type, ref, canonical JSON bytes)


def ledger_size(conn: Connection) -> int:
    last = conn.execute(select(func.max(s.ledger_entries.c.idx))).scalar()
    return 0 if last is None else int(last) + 1


def nodes(conn: Connection, keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """The stored perfect-subtree hashes for these (level, index) keys, in one query.

    Written as ``level = L AND idx IN (…)`` per level so that it is an index lookup on every backend (a row
    value ``(level, idx) IN (…)`` makes SQLite scan the table).
    """
    by_level: dict[int, list[int]] = {}
    for level, idx in set(keys):
        by_level.setdefault(level, []).append(idx)
    if not by_level:
        return {}
    # plain SQL on the driver: this is on the path of every proof and append, and building the expression
    # with SQLAlchemy costs milliseconds
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    clauses = []
    params: list[int] = []
    for level, idxs in by_level.items():
        clauses.append(f"(level = {ph} AND idx IN ({', '.join([ph] * len(idxs))}))")
        params.append(level)
        params.extend(idxs)
    sql = f"SELECT level, idx, hash FROM ledger_nodes WHERE {' OR '.join(clauses)}"
    return {(int(level), int(idx)): bytes(h) for level, idx, h in conn.exec_driver_sql(sql, tuple(params))}


def _insert(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        conn.connection.driver_connection.executemany(  # type: ignore[union-attr]
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )
    else:
        from .postgres import copy_rows

        copy_rows(conn, table, columns, rows)


def append_entries(conn: Connection, entries: Sequence[Entry]) -> int:
    """Append entries as leaves (one sequencer: the caller holds the write lock); returns the first index."""
    if not entries:
        return ledger_size(conn)
    size = ledger_size(conn)
    frontier_keys = merkle.root_keys(size)
    frontier = nodes(conn, frontier_keys)
    if len(frontier) != len(frontier_keys):
        missing = sorted(set(frontier_keys) - set(frontier))
        raise RuntimeError(
            f"ledger nodes {missing} are missing: the ledger table was altered; run envtrust verify"
        )
    appender = merkle.Appender(size, frontier)
    new_nodes = appender.append([merkle.leaf_hash(e) for _, _, e in entries])
    _insert(
        conn,
        "ledger_entries",
        ("idx", "type", "ref", "entry"),
        [(size + i, kind, ref, entry) for i, (kind, ref, entry) in enumerate(entries)],
    )
    _insert(conn, "ledger_nodes", ("level", "idx", "hash"), list(new_nodes))
    return size


class StateTx:
    """Rows of ledgered state tables (``STATE_ENTRIES``) written inside one write transaction (the caller holds the
    write lock); their entries are appended together by :meth:`finish`, before the transaction commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._entries: list[Entry] = []

    def record(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a row and queue its entry, made from the row as stored; returns that row."""
        kind, entry_of = STATE_ENTRIES[table]
        t = s.metadata.tables[table]
        rid = int(self.conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one())
        row = dict(self.conn.execute(select(t).where(t.c.id == rid)).mappings().one())
        self._entries.append((kind, f"{table}/{rid}", entry_of(row)))
        return row

    def next_index(self) -> int:
        """The ledger index the next recorded row's entry will have (the ledger's size plus what is queued)."""
        return ledger_size(self.conn) + len(self._entries)

    def finish(self) -> int | None:
        """Append the queued entries; the index of the first, or None when there were none."""
        if not self._entries:
            return None
        first = append_entries(self.conn, self._entries)
        self._entries = []
        return first


def root_at(conn: Connection, size: int) -> bytes:
    return merkle.root_hash(size, nodes(conn, merkle.root_keys(size)))


def inclusion_proof(conn: Connection, index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, size, nodes(conn, merkle.inclusion_keys(index, size)))


def consistency_proof(conn: Connection, old_size: int, new_size: int) -> list[bytes]:
    return merkle.consistency_proof(
        old_size, new_size, nodes(conn, merkle.consistency_keys(old_size, new_size))
    )


def frame_row_entry(row: Any) -> bytes:
    """The entry a stored ``frames`` row must have (used when ledgering and when verifying)."""
    return frame_entry(int(row["id"]), bytes(row["raw"]), row)


def backfill_frames(conn: Connection, batch: int = 5000) -> int:
    """Enter frames that are not in the ledger yet (a database from before the ledger), in id order."""
    if ledger_size(conn):
        return 0
    cols = [s.frames.c.id, s.frames.c.raw, *(s.frames.c[name] for name in FRAME_FIELDS)]
    done = 0
    last = 0
    while True:
        rows = list(
            conn.execute(
                select(*cols).where(s.frames.c.id > last).order_by(s.frames.c.id).limit(batch)
            ).mappings()
        )
        if not rows:
            return done
        append_entries(
            conn, [(entry_type(r["format"]), f"frames/{r['id']}", frame_row_entry(r)) for r in rows]
        )
        done += len(rows)
        last = int(rows[-1]["id"])


def iter_entries(
    conn: Connection, start: int = 0, batch: int = 10000
) -> Iterator[tuple[int, str, str | None, bytes]]:
    t = s.ledger_entries
    pos = start
    while True:
        rows = conn.execute(
            select(t.c.idx, t.c.type, t.c.ref, t.c.entry).where(t.c.idx >= pos).order_by(t.c.idx).limit(batch)
        ).all()
        if not rows:
            return
        for idx, kind, ref, entry in rows:
            yield int(idx), kind, ref, bytes(entry)
        pos = int(rows[-1][0]) + 1
