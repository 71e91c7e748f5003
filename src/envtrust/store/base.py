"""The store: one class over SQLAlchemy Core; the hot write path uses each driver's bulk form.

A write is one transaction under the database's write lock: frame ids and the ledger size are read
from the database inside it (so several writer processes never collide), every frame row, its readings and
its ledger entry are written, and the transaction commits before anyone is told (the gateway acknowledges
only after :meth:`Store.write` returns).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, func, make_url, select, text, tuple_
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import SchemaError, StoreError
from ..ledger.entries import entry_type, frame_entry, registry_entry
from ..registry import Point
from . import ledger
from . import schema as s
from .accounts import AccountTx
from .alarms import AlarmTx, alarm_query

T = TypeVar("T", bound=ledger.StateTx)

__all__ = ["FrameRow", "ReadingRow", "Status", "Store", "WriteResult", "open_store"]


@dataclass(slots=True)
class FrameRow:
    """One received record, exactly as received, with the verdict on it."""

    received_us: int
    peer: str
    origin: str  # tcp | import
    format: str  # hj212 | csv | garbage
    raw: bytes
    digest: bytes
    mn: str | None = None
    cn: str | None = None
    qn: str | None = None
    status: str = "ok"  # ok | quarantine (duplicate is decided by the store)
    error_code: str | None = None
    reason: str | None = None
    version: str | None = None
    crc_ok: bool | None = None
    crc_variant: str | None = None
    warnings: str | None = None
    skip_if_known: bool = False  # imports: a record stored before from the same file line is not stored again


@dataclass(slots=True)
class ReadingRow:
    mn: str
    kind: str
    pollutant: str
    data_time: int
    code_raw: str
    values: dict[str, float | None]
    flag: str | None = None
    eflag: str | None = None
    extra: str | None = None


@dataclass(slots=True)
class WriteResult:
    frame_id: int | None  # None: skipped (an import of a record already stored)
    status: str
    readings_new: int = 0
    readings_known: int = 0


@dataclass(slots=True)
class Status:
    frames: int = 0
    quarantined: int = 0
    duplicates: int = 0
    readings: int = 0
    points: int = 0
    enterprises: int = 0
    ledger_size: int = 0
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    checkpoint_us: int | None = None
    cosignatures: int = 0
    alarms_open: int = 0
    alarms_unacked: int = 0
    last_received_us: int | None = None
    by_kind: dict[str, int] = field(default_factory=dict)


_ENTRY_COLUMNS = ("id", *s.FRAME_COLUMNS)  # the order of a frame row tuple


def _nul_free(text: str | None) -> str | None:
    return text.replace("\x00", "\\x00") if text is not None and "\x00" in text else text


def _clean_text(frame: FrameRow) -> None:
    """Text columns are derived from received bytes (the raw bytes stay exact); PostgreSQL text cannot hold NUL."""
    for name in ("peer", "mn", "cn", "qn", "reason", "warnings", "version", "error_code"):
        value = getattr(frame, name)
        if value is not None and "\x00" in value:
            setattr(frame, name, _nul_free(value))


def point_state(conn: Connection, point_id: int) -> dict[str, Any]:
    """Everything stored about a point (with its enterprise and limits), as its registry entry records it.

    The PW is recorded as its SHA-256: HJ 212 sends it in clear text, but a ledger entry may be published.
    """
    p = conn.execute(select(s.points).where(s.points.c.id == point_id)).mappings().one()
    e = conn.execute(select(s.enterprises).where(s.enterprises.c.id == p["enterprise_id"])).mappings().one()
    limits = {
        r.pollutant: r.value for r in conn.execute(select(s.limits).where(s.limits.c.point_id == point_id))
    }
    return {
        "mn": p["mn"],
        "name": p["name"],
        "region": p["region"],
        "medium": p["medium"],
        "reference_o2": p["reference_o2"],
        "pw_sha256": hashlib.sha256(p["pw"].encode()).hexdigest() if p["pw"] is not None else None,
        "timezone": p["timezone"],
        "crc_compat": p["crc_compat"],
        "st": p["st"],
        "extra": json.loads(p["extra"] or "{}"),
        "active": bool(p["active"]),
        "updated_us": int(p["updated_us"]),
        "enterprise": {"name": e["name"], "credit_code": e["credit_code"], "industry": e["industry"]},
        "limits": limits,
    }


def _same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "updated_us"} == {
        k: v for k, v in b.items() if k != "updated_us"
    }


class Store:
    """A database of envtrust.  Use :func:`open_store`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # only bench/ledger.py turns this off, to measure what the ledger costs on the write path; nothing
        # else may (a database written without it fails `envtrust verify`)
        self._ledger_on = True
        self._snapshot_conn: Connection | None = None

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- registry
    def load_registry(self, points: Sequence[Point]) -> dict[str, int]:
        """Insert or update enterprises, points and limits; each added or changed point becomes a ledger entry
        (``registry.point``) in the same transaction.  Returns counts of added/changed/unchanged points."""
        now = int(time.time() * 1e6)
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        entries: list[ledger.Entry] = []
        with self._writing() as conn:
            self._lock(conn)
            for p in points:
                e = p.enterprise
                old = conn.execute(select(s.points.c.id).where(s.points.c.mn == p.mn)).scalar()
                before = point_state(conn, old) if old is not None else None
                ent = conn.execute(select(s.enterprises.c.id).where(s.enterprises.c.name == e.name)).scalar()
                if ent is None:
                    ent = conn.execute(
                        s.enterprises.insert()
                        .values(name=e.name, credit_code=e.credit_code, industry=e.industry)
                        .returning(s.enterprises.c.id)
                    ).scalar_one()
                else:
                    conn.execute(
                        s.enterprises.update()
                        .where(s.enterprises.c.id == ent)
                        .values(credit_code=e.credit_code, industry=e.industry)
                    )
                values = {
                    "enterprise_id": ent,
                    "name": p.name,
                    "region": p.region,
                    "medium": p.medium,
                    "reference_o2": p.reference_o2,
                    "pw": p.pw,
                    "timezone": p.timezone,
                    "crc_compat": p.crc_compat,
                    "st": p.st,
                    "extra": json.dumps(p.extra, ensure_ascii=False, sort_keys=True, default=str),
                    "active": True,
                }
                if old is None:
                    pid = conn.execute(
                        s.points.insert().values(mn=p.mn, updated_us=now, **values).returning(s.points.c.id)
                    ).scalar_one()
                else:
                    pid = old
                    conn.execute(s.points.update().where(s.points.c.id == pid).values(**values))
                conn.execute(s.limits.delete().where(s.limits.c.point_id == pid))
                if p.limits:
                    conn.execute(
                        s.limits.insert(),
                        [{"point_id": pid, "pollutant": k, "value": v} for k, v in p.limits.items()],
                    )
                after = point_state(conn, pid)
                if before is not None and _same_state(before, after):
                    counts["unchanged"] += 1
                    continue
                if before is not None:
                    conn.execute(s.points.update().where(s.points.c.id == pid).values(updated_us=now))
                    after["updated_us"] = now
                action = "added" if before is None else "changed"
                counts[action] += 1
                entries.append(("registry.point", f"points/{p.mn}", registry_entry(action, after)))
            ledger.append_entries(conn, entries)
        return counts

    def points(self) -> list[Point]:
        """Every registered point, with its enterprise and limits."""
        from ..registry import Enterprise

        with self._reading() as conn:
            ents = {
                r.id: Enterprise(r.name, r.credit_code, r.industry)
                for r in conn.execute(select(s.enterprises))
            }
            lims: dict[int, dict[str, float]] = {}
            for r in conn.execute(select(s.limits)):
                lims.setdefault(r.point_id, {})[r.pollutant] = r.value
            out = []
            for r in conn.execute(select(s.points).order_by(s.points.c.id)):
                out.append(
                    Point(
                        mn=r.mn,
                        enterprise=ents[r.enterprise_id],
                        name=r.name,
                        region=r.region,
                        medium=r.medium,
                        reference_o2=r.reference_o2,
                        limits=lims.get(r.id, {}),
                        pw=r.pw,
                        timezone=r.timezone,
                        crc_compat=r.crc_compat,
                        st=r.st,
                        extra=json.loads(r.extra or "{}"),
                    )
                )
        return out

    # ----------------------------------------------------------------- the write path
    def write(self, batch: Sequence[tuple[FrameRow, Sequence[ReadingRow]]]) -> list[WriteResult]:
        """Store frames with their readings and ledger entries in one transaction; return one result per frame.

        A frame whose data segment is stored already is kept as a raw copy with status ``duplicate`` and
        ``duplicate_of`` the first copy; its readings are not stored twice.  A frame marked ``skip_if_known``
        (file imports) whose digest is stored already is not stored at all.
        """
        if not batch:
            return []
        try:
            with self._writing() as conn:
                self._lock(conn)
                return self._write(conn, batch)
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            # the bulk paths call the driver directly, so its own errors (sqlite3, psycopg) arrive unwrapped
            raise StoreError(f"write failed: {exc.__class__.__name__}: {exc}") from exc

    def _reading(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection for reads (in a snapshot store: the snapshot's one connection and transaction)."""
        if self._snapshot_conn is not None:
            return contextlib.nullcontext(self._snapshot_conn)
        return self.engine.connect()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Store]:
        """A read-only view of this store in which every read sees the same consistent state (one
        transaction: SQLite WAL snapshot, PostgreSQL REPEATABLE READ), so that ``verify`` on a live system
        does not mistake rows written meanwhile for tampering."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                view = Store(self.engine)
                view._snapshot_conn = conn
                view._ledger_on = self._ledger_on
                yield view

    def _writing(self) -> Any:
        """A write transaction (on SQLite: BEGIN IMMEDIATE)."""
        return self.engine.execution_options(envtrust_write=True).begin()

    def _lock(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(212212)"))
        # SQLite: the connection begins IMMEDIATE (see _sqlite_begin), which takes the write lock

    def _write(
        self, conn: Connection, batch: Sequence[tuple[FrameRow, Sequence[ReadingRow]]]
    ) -> list[WriteResult]:
        next_id = (conn.execute(select(func.max(s.frames.c.id))).scalar() or 0) + 1
        digests = list({f.digest for f, _ in batch})
        known: dict[bytes, int] = {}  # digest -> first accepted copy
        imported: set[tuple[bytes, str]] = set()  # (digest, peer) of records imported from files
        want_peers = any(f.skip_if_known for f, _ in batch)
        for i in range(0, len(digests), 500):
            part = digests[i : i + 500]
            q = (
                select(s.frames.c.digest, func.min(s.frames.c.id))
                .where(s.frames.c.digest.in_(part), s.frames.c.status == "ok")
                .group_by(s.frames.c.digest)
            )
            known.update((bytes(d), first_id) for d, first_id in conn.execute(q))
            if want_peers:
                q2 = select(s.frames.c.digest, s.frames.c.peer).where(
                    s.frames.c.digest.in_(part), s.frames.c.origin == "import"
                )
                imported.update((bytes(d), peer) for d, peer in conn.execute(q2))
        frame_rows: list[tuple[Any, ...]] = []
        entries: list[ledger.Entry] = []
        reading_rows: list[tuple[Any, ...]] = []
        results: list[WriteResult] = []
        owners: list[int] = []  # index into results for each reading row
        for frame, readings in batch:
            if frame.skip_if_known:
                # an import skips what the same file line stored before; a repeat on another line is a copy
                if (frame.digest, frame.peer) in imported:
                    results.append(WriteResult(None, "known"))
                    continue
                imported.add((frame.digest, frame.peer))
            first = known.get(frame.digest) if frame.status != "quarantine" else None
            fid = next_id
            next_id += 1
            status = frame.status
            if status == "ok":
                if first is not None:
                    status = "duplicate"
                else:
                    known[frame.digest] = fid
            frame.status = status
            if frame.format != "csv":
                _clean_text(frame)
            frame_rows.append(
                (
                    fid,
                    frame.received_us,
                    frame.peer,
                    frame.origin,
                    frame.format,
                    frame.raw,
                    frame.digest,
                    frame.mn,
                    frame.cn,
                    frame.qn,
                    status,
                    frame.error_code,
                    frame.reason,
                    frame.version,
                    frame.crc_ok,
                    frame.crc_variant,
                    frame.warnings,
                    first if status == "duplicate" else None,
                )
            )
            row = frame_rows[-1]
            entry = frame_entry(fid, frame.raw, dict(zip(_ENTRY_COLUMNS, row, strict=True)))
            entries.append((entry_type(frame.format), f"frames/{fid}", entry))
            result = WriteResult(fid, status)
            results.append(result)
            if status == "ok":
                idx = len(results) - 1
                for r in readings:
                    v = r.values
                    reading_rows.append(
                        (
                            r.mn,
                            r.kind,
                            r.pollutant,
                            r.data_time,
                            fid,
                            r.code_raw,
                            v.get("rtd"),
                            v.get("avg"),
                            v.get("min"),
                            v.get("max"),
                            v.get("cou"),
                            v.get("zs_rtd"),
                            v.get("zs_avg"),
                            v.get("zs_min"),
                            v.get("zs_max"),
                            r.flag,
                            r.eflag,
                            r.extra,
                        )
                    )
                    owners.append(idx)
        if frame_rows:
            self._insert_frames(conn, frame_rows)
            if self._ledger_on:
                ledger.append_entries(conn, entries)
        if reading_rows:
            inserted = self._insert_readings(conn, reading_rows)
            for owner, new in zip(owners, inserted, strict=True):
                if new:
                    results[owner].readings_new += 1
                else:
                    results[owner].readings_known += 1
        return results

    # backend-specific bulk inserts -------------------------------------------------------------
    _FRAME_SQL = "INSERT INTO frames (id, {}) VALUES ({})".format(
        ", ".join(s.FRAME_COLUMNS), ", ".join(["?"] * (len(s.FRAME_COLUMNS) + 1))
    )
    _READING_SQL_SQLITE = "INSERT OR IGNORE INTO readings ({}) VALUES ({})".format(
        ", ".join(s.READING_COLUMNS), ", ".join(["?"] * len(s.READING_COLUMNS))
    )

    def _insert_frames(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        if self.dialect == "sqlite":
            conn.connection.driver_connection.executemany(self._FRAME_SQL, rows)  # type: ignore[union-attr]
        else:
            from .postgres import copy_rows

            copy_rows(conn, "frames", ("id", *s.FRAME_COLUMNS), rows)

    def _insert_readings(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[bool]:
        """Insert readings, ignoring those already stored; return for each row whether it was new."""
        if self.dialect == "sqlite":
            raw = conn.connection.driver_connection
            cur = raw.cursor()  # type: ignore[union-attr]
            before = raw.total_changes  # type: ignore[union-attr]
            if len({r[:4] for r in rows}) == len(rows):
                cur.executemany(self._READING_SQL_SQLITE, rows)
                if raw.total_changes - before == len(rows):  # type: ignore[union-attr]
                    return [True] * len(rows)
                # some were known: find which, without re-inserting
                keys = {r[:4] for r in rows}
                ids = {r[4] for r in rows}
                owned = self._reading_owners(conn, ids)
                return [(r[:4] in keys and owned.get(r[:4]) == r[4]) for r in rows]
            out = []
            for r in rows:
                n0 = raw.total_changes  # type: ignore[union-attr]
                cur.execute(self._READING_SQL_SQLITE, r)
                out.append(raw.total_changes != n0)  # type: ignore[union-attr]
            return out
        from .postgres import insert_readings

        return insert_readings(conn, rows)

    def _reading_owners(self, conn: Connection, frame_ids: set[int]) -> dict[tuple[Any, ...], int]:
        q = select(
            s.readings.c.mn,
            s.readings.c.kind,
            s.readings.c.pollutant,
            s.readings.c.data_time,
            s.readings.c.frame_id,
        ).where(s.readings.c.frame_id.in_(list(frame_ids)))
        return {tuple(r[:4]): r[4] for r in conn.execute(q)}

    # ----------------------------------------------------------------- reads
    def status(self) -> Status:
        st = Status()
        with self._reading() as conn:
            for status, n, last in conn.execute(
                select(s.frames.c.status, func.count(), func.max(s.frames.c.received_us)).group_by(
                    s.frames.c.status
                )
            ):
                st.frames += n
                if status == "quarantine":
                    st.quarantined = n
                elif status == "duplicate":
                    st.duplicates = n
                if last is not None and (st.last_received_us is None or last > st.last_received_us):
                    st.last_received_us = last
            for kind, n in conn.execute(select(s.readings.c.kind, func.count()).group_by(s.readings.c.kind)):
                st.by_kind[kind] = n
                st.readings += n
            st.points = conn.execute(select(func.count()).select_from(s.points)).scalar_one()
            st.enterprises = conn.execute(select(func.count()).select_from(s.enterprises)).scalar_one()
            st.ledger_size = ledger.ledger_size(conn)
            cp = conn.execute(
                select(s.checkpoints.c.size, s.checkpoints.c.root, s.checkpoints.c.created_us)
                .order_by(s.checkpoints.c.size.desc())
                .limit(1)
            ).first()
            if cp is not None:
                st.checkpoint_size, st.checkpoint_root = int(cp.size), bytes(cp.root).hex()
                st.checkpoint_us = int(cp.created_us)
            st.cosignatures = int(conn.execute(select(func.count()).select_from(s.cosignatures)).scalar_one())
            for acked, n in conn.execute(
                select(s.alarms.c.acked, func.count())
                .where(s.alarms.c.closed.is_(False))
                .group_by(s.alarms.c.acked)
            ):
                st.alarms_open += n
                st.alarms_unacked += 0 if acked else n
        return st

    def frames(
        self, *, status: str | None = None, mn: str | None = None, limit: int | None = None, after_id: int = 0
    ) -> Iterator[dict[str, Any]]:
        q = select(s.frames).where(s.frames.c.id > after_id).order_by(s.frames.c.id)
        if status is not None:
            q = q.where(s.frames.c.status == status)
        if mn is not None:
            q = q.where(s.frames.c.mn == mn)
        if limit is not None:
            q = q.limit(limit)
        with self._reading() as conn:
            for row in conn.execute(q).mappings():
                d = dict(row)
                d["raw"] = bytes(d["raw"])
                d["digest"] = bytes(d["digest"])
                yield d

    def readings(
        self,
        *,
        mn: str | None = None,
        kind: str | None = None,
        pollutant: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        q = select(s.readings).order_by(
            s.readings.c.mn, s.readings.c.kind, s.readings.c.pollutant, s.readings.c.data_time
        )
        if mn is not None:
            q = q.where(s.readings.c.mn == mn)
        if kind is not None:
            q = q.where(s.readings.c.kind == kind)
        if pollutant is not None:
            q = q.where(s.readings.c.pollutant == pollutant)
        if start is not None:
            q = q.where(s.readings.c.data_time >= start)
        if end is not None:
            q = q.where(s.readings.c.data_time < end)
        with self._reading() as conn:
            for row in conn.execute(q).mappings():
                yield dict(row)

    def overview(self) -> list[dict[str, Any]]:
        """Per registered point: frames received, quarantined, last receive time, newest real-time values."""
        with self._reading() as conn:
            counts = {
                r.mn: (r.n, r.last)
                for r in conn.execute(
                    select(
                        s.frames.c.mn, func.count().label("n"), func.max(s.frames.c.received_us).label("last")
                    )
                    .where(s.frames.c.status != "quarantine")
                    .group_by(s.frames.c.mn)
                )
            }
            latest_t = (
                select(s.readings.c.mn, func.max(s.readings.c.data_time).label("t"))
                .where(s.readings.c.kind == "rtd")
                .group_by(s.readings.c.mn)
                .subquery()
            )
            latest: dict[str, dict[str, Any]] = {}
            q = (
                select(
                    s.readings.c.mn,
                    s.readings.c.pollutant,
                    s.readings.c.rtd,
                    s.readings.c.zs_rtd,
                    s.readings.c.flag,
                    s.readings.c.data_time,
                )
                .join(
                    latest_t,
                    (s.readings.c.mn == latest_t.c.mn) & (s.readings.c.data_time == latest_t.c.t),
                )
                .where(s.readings.c.kind == "rtd")
            )
            for r in conn.execute(q):
                latest.setdefault(r.mn, {})[r.pollutant] = (r.rtd, r.zs_rtd, r.flag, r.data_time)
            limits: dict[str, dict[str, float]] = {}
            for lim in conn.execute(
                select(s.points.c.mn, s.limits.c.pollutant, s.limits.c.value).join(
                    s.limits, s.limits.c.point_id == s.points.c.id
                )
            ):
                limits.setdefault(lim.mn, {})[lim.pollutant] = lim.value
            rows = []
            for p in conn.execute(
                select(
                    s.points.c.mn,
                    s.points.c.name,
                    s.enterprises.c.name.label("enterprise"),
                    s.points.c.medium,
                )
                .join(s.enterprises, s.points.c.enterprise_id == s.enterprises.c.id)
                .order_by(s.points.c.id)
            ):
                n, last = counts.get(p.mn, (0, None))
                rows.append(
                    {
                        "mn": p.mn,
                        "name": p.name,
                        "enterprise": p.enterprise,
                        "medium": p.medium,
                        "frames": n,
                        "last_received_us": last,
                        "latest": latest.get(p.mn, {}),
                        "limits": limits.get(p.mn, {}),
                    }
                )
        return rows

    # ----------------------------------------------------------------- ledger
    def ledger_size(self) -> int:
        with self._reading() as conn:
            return ledger.ledger_size(conn)

    def root_at(self, size: int) -> bytes:
        with self._reading() as conn:
            return ledger.root_at(conn, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with self._reading() as conn:
            return ledger.inclusion_proof(conn, index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._reading() as conn:
            return ledger.consistency_proof(conn, old_size, new_size)

    def entry(self, index: int) -> tuple[str, str | None, bytes] | None:
        t = s.ledger_entries
        with self._reading() as conn:
            row = conn.execute(select(t.c.type, t.c.ref, t.c.entry).where(t.c.idx == index)).first()
        return (row.type, row.ref, bytes(row.entry)) if row is not None else None

    def entry_index(self, ref: str) -> int | None:
        """The newest ledger index recording ``ref`` (e.g. ``frames/42``)."""
        t = s.ledger_entries
        with self._reading() as conn:
            found = conn.execute(select(func.max(t.c.idx)).where(t.c.ref == ref)).scalar()
        return int(found) if found is not None else None

    def entry_index_before(self, ref: str, before: int) -> int | None:
        """The newest ledger index recording ``ref`` below index ``before`` (the state in effect then)."""
        t = s.ledger_entries
        with self._reading() as conn:
            found = conn.execute(select(func.max(t.c.idx)).where(t.c.ref == ref, t.c.idx < before)).scalar()
        return int(found) if found is not None else None

    def save_checkpoint(self, size: int, root: bytes, note: str) -> bool:
        """Keep a signed checkpoint; False when one of that size exists already."""
        with self._writing() as conn:
            if conn.execute(select(s.checkpoints.c.size).where(s.checkpoints.c.size == size)).first():
                return False
            conn.execute(
                s.checkpoints.insert().values(
                    size=size, root=root, note=note, created_us=time.time_ns() // 1000
                )
            )
        return True

    def checkpoints(self, *, after: int = -1) -> list[dict[str, Any]]:
        q = select(s.checkpoints).where(s.checkpoints.c.size > after).order_by(s.checkpoints.c.size)
        with self._reading() as conn:
            return [dict(r) | {"root": bytes(r["root"])} for r in conn.execute(q).mappings()]

    def latest_checkpoint(self) -> dict[str, Any] | None:
        q = select(s.checkpoints).order_by(s.checkpoints.c.size.desc()).limit(1)
        with self._reading() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) | {"root": bytes(row["root"])} if row is not None else None

    def add_cosignature(self, size: int, witness: str, timestamp: int, note: str) -> None:
        with self._writing() as conn:
            conn.execute(
                s.cosignatures.insert().values(
                    size=size,
                    witness=witness,
                    timestamp=timestamp,
                    note=note,
                    received_us=time.time_ns() // 1000,
                )
            )

    def cosignatures(self, size: int | None = None) -> list[dict[str, Any]]:
        q = select(s.cosignatures).order_by(s.cosignatures.c.id)
        if size is not None:
            q = q.where(s.cosignatures.c.size == size)
        with self._reading() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # ----------------------------------------------------------------- state rows with their entries
    def append_state(self, table: str, values: dict[str, Any]) -> tuple[int, int]:
        """Insert a row of a ledgered state table and its entry in one transaction; returns (row id, index).

        The one way every state change of the workflows is written (DESIGN.md: every write is an entry).
        """
        with self._state_tx(ledger.StateTx) as tx:
            rid = int(tx.record(table, values)["id"])
            idx = tx.finish()
        assert idx is not None
        return rid, idx

    @contextlib.contextmanager
    def _state_tx(self, factory: Callable[[Connection], T]) -> Iterator[T]:
        """A write transaction under the write lock with a :class:`~envtrust.store.ledger.StateTx`; its queued
        entries are appended before it commits."""
        with self._writing() as conn:
            self._lock(conn)
            tx = factory(conn)
            yield tx
            tx.finish()

    def iter_state_rows(self, table: str) -> Iterator[dict[str, Any]]:
        t = s.metadata.tables[table]
        with self._reading() as conn:
            for row in conn.execute(select(t).order_by(t.c.id)).mappings():
                yield dict(row)

    def amendments_of(self, mn: str, kind: str, pollutant: str, data_time: int) -> list[dict[str, Any]]:
        a = s.amendments
        q = (
            select(a)
            .where(a.c.mn == mn, a.c.kind == kind, a.c.pollutant == pollutant, a.c.data_time == data_time)
            .order_by(a.c.id)
        )
        with self._reading() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # ----------------------------------------------------------------- streams for verification
    def iter_entries(self) -> Iterator[tuple[int, str, str | None, bytes]]:
        with self._reading() as conn:
            yield from ledger.iter_entries(conn)

    def iter_nodes(self, level: int, batch: int = 20000) -> Iterator[tuple[int, bytes]]:
        t = s.ledger_nodes
        pos = -1
        with self._reading() as conn:
            while True:
                rows = conn.execute(
                    select(t.c.idx, t.c.hash)
                    .where(t.c.level == level, t.c.idx > pos)
                    .order_by(t.c.idx)
                    .limit(batch)
                ).all()
                if not rows:
                    return
                for idx, h in rows:
                    yield int(idx), bytes(h)
                pos = int(rows[-1][0])

    def node_levels(self) -> list[int]:
        with self._reading() as conn:
            return [
                int(r[0])
                for r in conn.execute(
                    select(s.ledger_nodes.c.level).distinct().order_by(s.ledger_nodes.c.level)
                )
            ]

    def iter_frames(self, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every frames row in id order (raw bytes included)."""
        last = 0
        while True:
            rows = list(self.frames(after_id=last, limit=batch))
            if not rows:
                return
            yield from rows
            last = int(rows[-1]["id"])

    def iter_readings_by_frame(self, batch: int = 20000) -> Iterator[dict[str, Any]]:
        """Every readings row ordered by (frame_id, mn, kind, pollutant, data_time)."""
        r = s.readings
        order = (r.c.frame_id, r.c.mn, r.c.kind, r.c.pollutant, r.c.data_time)
        with self._reading() as conn:
            offset_key: tuple[Any, ...] | None = None
            while True:
                q = select(r).order_by(*order).limit(batch)
                if offset_key is not None:
                    q = q.where(tuple_(*order) > offset_key)
                rows = [dict(x) for x in conn.execute(q).mappings()]
                if not rows:
                    return
                yield from rows
                last = rows[-1]
                offset_key = (
                    last["frame_id"],
                    last["mn"],
                    last["kind"],
                    last["pollutant"],
                    last["data_time"],
                )

    def reading_at(self, mn: str, kind: str, pollutant: str, data_time: int) -> dict[str, Any] | None:
        r = s.readings
        q = select(r).where(
            r.c.mn == mn, r.c.kind == kind, r.c.pollutant == pollutant, r.c.data_time == data_time
        )
        with self._reading() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row is not None else None

    def point_states(self) -> dict[str, dict[str, Any]]:
        """Every point's stored state as its registry entry records it, by MN."""
        with self._reading() as conn:
            ids = conn.execute(select(s.points.c.id, s.points.c.mn)).all()
            return {mn: point_state(conn, pid) for pid, mn in ids}

    # ----------------------------------------------------------------- alarms
    @contextlib.contextmanager
    def alarm_tx(self, *, dry: bool = False) -> Iterator[AlarmTx]:
        """One write transaction of the alarm book; its events become ledger entries when it commits.  ``dry``:
        a read-only run without the write lock, to learn whether anything would change."""
        if dry:
            with self._reading() as conn:
                yield AlarmTx(conn, dry=True)
            return
        with self._state_tx(AlarmTx) as tx:
            yield tx

    def alarms(self, *, limit: int | None = None, offset: int = 0, **filters: Any) -> list[dict[str, Any]]:
        """Alarms, newest first; filters as :func:`~envtrust.store.alarms.alarm_query` (default: open ones)."""
        q = alarm_query(**filters)
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self._reading() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def alarm_count(self, **filters: Any) -> int:
        q = alarm_query(**filters).order_by(None)
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(q.subquery())).scalar_one())

    def alarm(self, alarm_id: int) -> dict[str, Any] | None:
        with self._reading() as conn:
            row = conn.execute(select(s.alarms).where(s.alarms.c.id == alarm_id)).mappings().first()
        return dict(row) if row is not None else None

    def alarm_events(self, alarm_id: int) -> list[dict[str, Any]]:
        e = s.alarm_events
        with self._reading() as conn:
            rows = conn.execute(select(e).where(e.c.alarm_id == alarm_id).order_by(e.c.id)).mappings()
            return [dict(r) for r in rows]

    def last_alarm_events(self) -> dict[int, dict[str, Any]]:
        """The newest event of every alarm (for verification: the alarm row is the state after it)."""
        e = s.alarm_events
        newest = select(func.max(e.c.id)).group_by(e.c.alarm_id).scalar_subquery()
        with self._reading() as conn:
            return {
                int(r["alarm_id"]): dict(r)
                for r in conn.execute(select(e).where(e.c.id.in_(newest))).mappings()
            }

    # ----------------------------------------------------------------- accounts
    @contextlib.contextmanager
    def account_tx(self) -> Iterator[AccountTx]:
        """One write transaction over accounts and tokens; its events become ledger entries when it commits."""
        with self._state_tx(AccountTx) as tx:
            yield tx

    def account(self, username: str) -> dict[str, Any] | None:
        with self._reading() as conn:
            row = conn.execute(select(s.accounts).where(s.accounts.c.username == username)).mappings().first()
        return dict(row) if row is not None else None

    def enterprise_id(self, name_or_code: str) -> int | None:
        """The enterprise with this name or unified social credit code."""
        e = s.enterprises
        q = select(e.c.id).where((e.c.name == name_or_code) | (e.c.credit_code == name_or_code))
        with self._reading() as conn:
            ids = [int(r[0]) for r in conn.execute(q)]
        return ids[0] if len(ids) == 1 else None

    def point_scopes(self) -> dict[str, tuple[str, int]]:
        """Per MN: the point's region code and enterprise id (what access rules need)."""
        p = s.points
        with self._reading() as conn:
            return {
                r.mn: (r.region, int(r.enterprise_id))
                for r in conn.execute(select(p.c.mn, p.c.region, p.c.enterprise_id))
            }

    def readings_page(
        self,
        mn: str,
        kind: str,
        *,
        pollutant: str | None = None,
        start: int | None = None,
        end: int | None = None,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """One point's readings of one kind, by pollutant then time (the primary key's order: no sorting), at most
        ``limit``, after the key ``after`` = (pollutant, data time) of the previous page's last row."""
        r = s.readings
        q = (
            select(r)
            .where(r.c.mn == mn, r.c.kind == kind)
            .order_by(r.c.pollutant, r.c.data_time)
            .limit(limit)
        )
        if pollutant is not None:
            q = q.where(r.c.pollutant == pollutant)
        if start is not None:
            q = q.where(r.c.data_time >= start)
        if end is not None:
            q = q.where(r.c.data_time < end)
        if after is not None:
            q = q.where(tuple_(r.c.pollutant, r.c.data_time) > tuple_(after[0], after[1]))
        with self._reading() as conn:
            return [dict(row) for row in conn.execute(q).mappings()]

    def series(self, mn: str, kind: str, pollutant: str, start: int, end: int) -> Sequence[Sequence[Any]]:
        """One channel of a point as plain tuples ``(data time, avg, min, max, zs_avg, rtd, flag)`` in time order —
        the fast path for charts (no per-row objects; the primary key's order)."""
        q = text(
            "SELECT data_time, avg, min, max, zs_avg, rtd, flag FROM readings WHERE mn = :mn AND kind = :kind "
            "AND pollutant = :p AND data_time >= :a AND data_time < :b ORDER BY data_time"
        )
        with self._reading() as conn:
            return conn.execute(q, {"mn": mn, "kind": kind, "p": pollutant, "a": start, "b": end}).fetchall()

    def accounts(self) -> list[dict[str, Any]]:
        with self._reading() as conn:
            return [
                dict(r) for r in conn.execute(select(s.accounts).order_by(s.accounts.c.username)).mappings()
            ]

    def account_events(self, account_id: int) -> list[dict[str, Any]]:
        e = s.account_events
        with self._reading() as conn:
            rows = conn.execute(select(e).where(e.c.account_id == account_id).order_by(e.c.id)).mappings()
            return [dict(r) for r in rows]

    def tokens(self, account_id: int) -> list[dict[str, Any]]:
        t = s.api_tokens
        with self._reading() as conn:
            rows = conn.execute(select(t).where(t.c.account_id == account_id).order_by(t.c.id)).mappings()
            return [dict(r) for r in rows]

    def token_account(self, token_hash: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The token with this hash and its account."""
        t = s.api_tokens
        with self._reading() as conn:
            tok = conn.execute(select(t).where(t.c.token_hash == token_hash)).mappings().first()
            if tok is None:
                return None
            acc = (
                conn.execute(select(s.accounts).where(s.accounts.c.id == tok["account_id"])).mappings().one()
            )
        return dict(tok), dict(acc)

    def touch_token(self, token_id: int, at_us: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                s.api_tokens.update().where(s.api_tokens.c.id == token_id).values(last_used_us=at_us)
            )

    def add_session(self, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(s.sessions.insert().values(**values))

    def session_account(self, secret_hash: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A session (by the hash of its secret) and its account."""
        with self._reading() as conn:
            ses = (
                conn.execute(select(s.sessions).where(s.sessions.c.secret_hash == secret_hash))
                .mappings()
                .first()
            )
            if ses is None:
                return None
            acc = (
                conn.execute(select(s.accounts).where(s.accounts.c.id == ses["account_id"])).mappings().one()
            )
        return dict(ses), dict(acc)

    def end_session(self, secret_hash: str, at_us: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                s.sessions.update().where(s.sessions.c.secret_hash == secret_hash).values(ended_us=at_us)
            )

    def record_login(self, username: str, peer: str, ok: bool, at_us: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(s.login_attempts.insert().values(username=username, peer=peer, ok=ok, at_us=at_us))

    def login_failures(self, username: str, peer: str, since_us: int) -> tuple[int, int]:
        """Failed logins since ``since_us``: for this user name, and from this peer."""
        a = s.login_attempts
        recent = (a.c.at_us >= since_us) & a.c.ok.is_(False)
        with self._reading() as conn:
            by_user = conn.execute(
                select(func.count()).where(recent & (a.c.username == username))
            ).scalar_one()
            by_peer = conn.execute(select(func.count()).where(recent & (a.c.peer == peer))).scalar_one()
        return int(by_user), int(by_peer)

    # ----------------------------------------------------------------- check configuration
    def qc_config(self) -> dict[str, Any] | None:
        """The check configuration in force (the newest ledgered one)."""
        q = select(s.qc_configs).order_by(s.qc_configs.c.id.desc()).limit(1)
        with self._reading() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row is not None else None

    # ----------------------------------------------------------------- readings for the checks
    def iter_check_rows(
        self, *, start: int | None = None, end: int | None = None, mns: Sequence[str] | None = None
    ) -> Iterator[tuple[int, str, str, int, str, dict[str, float | None], str | None, str | None]]:
        """Stored minute, hour and real-time readings in the order of their frames, with the frame's QN:
        ``(frame id, mn, kind, data time, pollutant, values, flag, qn)`` — what the checks need."""
        r, f = s.readings, s.frames
        cols = [r.c.frame_id, r.c.mn, r.c.kind, r.c.data_time, r.c.pollutant, r.c.avg, r.c.min, r.c.max]
        cols += [r.c.zs_avg, r.c.rtd, r.c.flag, f.c.qn]
        q = (
            select(*cols)
            .join(f, f.c.id == r.c.frame_id)
            .where(r.c.kind.in_(("minute", "hour", "rtd")))
            .order_by(r.c.frame_id, r.c.pollutant)
        )
        if start is not None:
            q = q.where(r.c.data_time >= start)
        if end is not None:
            q = q.where(r.c.data_time < end)
        if mns is not None:
            q = q.where(r.c.mn.in_(list(mns)))
        with self._reading() as conn:
            for row in conn.execution_options(stream_results=True, yield_per=20000).execute(q):
                fid, mn, kind, t, code, avg, vmin, vmax, zs, rtd, flag, qn = row
                values = {"avg": avg, "min": vmin, "max": vmax, "zs_avg": zs, "rtd": rtd}
                yield int(fid), mn, kind, int(t), code, values, flag, qn

    def reading_count(self) -> int:
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(s.readings)).scalar_one())


# --------------------------------------------------------------------- opening and migrating
def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (IMMEDIATE: take the write lock up front)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged frame survives power loss, not only a crash
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # writers take the write lock up front (ids and the ledger frontier are read inside the transaction);
    # readers begin deferred so they never block the gateway's writes (WAL)
    if conn.get_execution_options().get("envtrust_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _shown(url: str) -> str:
    """The URL for messages, without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and by default create or upgrade) the database at a SQLAlchemy URL."""
    engine: Engine | None = None
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, SQLAlchemyError) as exc:
        if engine is not None:
            engine.dispose()
        raise StoreError(
            f"cannot open database {_shown(url)}: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}"
        ) from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"cannot open database {_shown(url)}: driver missing ({exc.name})") from None
    try:
        if migrate:
            from .migrate import upgrade

            upgrade(engine)
        else:
            from .migrate import check_current

            if not check_current(engine):
                raise SchemaError(
                    f"database {_shown(url)} is not at the current schema version; run any command that migrates"
                )
    except BaseException:
        engine.dispose()  # no pooled connection outlives a refused open
        raise
    return Store(engine)
