"""The store: one class over SQLAlchemy Core; the hot write path uses each driver's bulk form.

A write is one transaction under the database's write lock: frame ids and the ledger size are read
from the database inside it (so several writer processes never collide), every frame row, its readings and
its ledger entry are written, and the transaction commits before anyone is told (the gateway acknowledges
only after :meth:`Store.write` returns).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
from sqlalchemy import Connection, Engine, create_engine, event, func, make_url, select, text, tuple_
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import SchemaError, StoreError
from ..ledger.entries import entry_type, frame_entry, registry_entry
from ..registry import Point
from . import leases, ledger, partitions
from . import schema as s
from .accounts import AccountTx
from .alarms import AlarmTx, alarm_query
from .quality import QualityTx, quality_rows, quality_rows_after
from .series import CACHED_KINDS, COLUMNS, DAY, Columns, assemble, columns_from_rows, pack, unpack

T = TypeVar("T", bound=ledger.StateTx)

__all__ = ["CacheFill", "FrameRow", "ReadingRow", "Status", "Store", "WriteResult", "open_store"]


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


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a frame came from in cluster mode: its partition's lease, the epoch it is held under, and the stream
    sequence of the message that carried it."""

    lease: str
    epoch: int
    seq: int


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

_REFILL = 60  # a cache row of today is made again once this many readings lie after it
_CHUNK = 4096  # rows converted to columns at a time

# the kinds of readings whose newest values point_latest keeps (one JSON column each)
LATEST_KINDS = ("rtd", "minute", "hour", "day")
_POINT_LATEST_COLUMNS = ("mn", "frames", "last_received_us", *LATEST_KINDS)
_POINT_LATEST_SQLITE = (
    f"INSERT INTO point_latest ({', '.join(_POINT_LATEST_COLUMNS)}) VALUES ({', '.join('?' * 7)}) "
    "ON CONFLICT (mn) DO UPDATE SET frames = excluded.frames, last_received_us = excluded.last_received_us, "
    "rtd = excluded.rtd, minute = excluded.minute, hour = excluded.hour, day = excluded.day"
)
# a series cache row holds its day's readings before its upto time: a reading written into that span makes it stale
_UNCACHE_SQLITE = "DELETE FROM series_cache WHERE mn = ? AND kind = ? AND day = ? AND upto > ?"


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


@dataclass(slots=True)
class CacheFill:
    """Rows for the series cache that :meth:`Store.columns` made for one point and kind: ``rows`` of (day,
    pollutant, readings, upto, packed columns); ``frame_id`` the newest frame visible when it read them."""

    mn: str
    kind: str
    frame_id: int
    rows: list[tuple[int, str, int, int, bytes]]


def _cache_row(code: str, day: int, c: Columns, today: int) -> tuple[int, str, int, int, bytes]:
    """A series cache row: a day that is over holds it all; today holds what there is, up to its newest reading."""
    upto = (day + 1) * DAY if day < today else int(c.t[-1]) + 1
    return day, code, len(c), upto, pack(c, day)


def _spans(days: list[int]) -> list[tuple[int, int]]:
    """Sorted day numbers → runs of consecutive days ``(first, last)``."""
    out: list[tuple[int, int]] = []
    for d in days:
        if out and out[-1][1] == d - 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _same_columns(a: Columns, b: Columns) -> bool:
    return (
        np.array_equal(a.t, b.t)
        and all(np.array_equal(getattr(a, c), getattr(b, c), equal_nan=True) for c in COLUMNS)
        and a.flag == b.flag
    )


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

    def points(self, mn: str | None = None) -> list[Point]:
        """Every registered point, with its enterprise and limits (only the point ``mn`` when given)."""
        from ..registry import Enterprise

        pts, ents_q, lims_q = (
            select(s.points).order_by(s.points.c.id),
            select(s.enterprises),
            select(s.limits),
        )
        if mn is not None:  # three indexed reads instead of the whole registry
            pts = pts.where(s.points.c.mn == mn)
            ents_q = ents_q.where(
                s.enterprises.c.id
                == select(s.points.c.enterprise_id).where(s.points.c.mn == mn).scalar_subquery()
            )
            lims_q = lims_q.where(
                s.limits.c.point_id == select(s.points.c.id).where(s.points.c.mn == mn).scalar_subquery()
            )
        with self._reading() as conn:
            ents = {r.id: Enterprise(r.name, r.credit_code, r.industry) for r in conn.execute(ents_q)}
            lims: dict[int, dict[str, float]] = {}
            for r in conn.execute(lims_q):
                lims.setdefault(r.point_id, {})[r.pollutant] = r.value
            out = []
            for r in conn.execute(pts):
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
    def write(
        self,
        batch: Sequence[tuple[FrameRow, Sequence[ReadingRow]]],
        positions: Sequence[StreamPosition] | None = None,
    ) -> list[WriteResult]:
        """Store frames with their readings and ledger entries in one transaction; return one result per frame.

        ``positions`` (cluster workers: one per frame) say where in the frame stream each frame came from and under
        which lease epoch its partition is held: a frame at or below its partition's stored position is not stored
        again (result ``known``), the positions advance in the same transaction, and a lease that has moved on
        refuses the whole batch (:class:`~envtrust.store.leases.LeaseLost`).

        A frame whose data segment is stored already is kept as a raw copy with status ``duplicate`` and
        ``duplicate_of`` the first copy; its readings are not stored twice.  A frame marked ``skip_if_known``
        (file imports) whose digest is stored already is not stored at all.
        """
        if not batch:
            return []
        try:
            with self._writing() as conn:
                self._lock(conn)
                if positions is None:
                    return self._write(conn, batch)
                return self._write_positioned(conn, batch, positions)
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            # the bulk paths call the driver directly, so its own errors (sqlite3, psycopg) arrive unwrapped
            raise StoreError(f"write failed: {exc.__class__.__name__}: {exc}") from exc

    def _write_positioned(
        self,
        conn: Connection,
        batch: Sequence[tuple[FrameRow, Sequence[ReadingRow]]],
        positions: Sequence[StreamPosition],
    ) -> list[WriteResult]:
        if len(positions) != len(batch):
            raise ValueError("one stream position per frame")
        epochs: dict[str, int] = {}
        for p in positions:
            if epochs.setdefault(p.lease, p.epoch) != p.epoch:
                raise ValueError(f"two epochs of lease {p.lease} in one batch")
        stored = leases.positions(conn, epochs)
        keep = [i for i, p in enumerate(positions) if p.seq > stored[p.lease]]
        written = self._write(conn, [batch[i] for i in keep]) if keep else []
        results = [WriteResult(None, "known") for _ in batch]
        for i, r in zip(keep, written, strict=True):
            results[i] = r
        newest: dict[str, int] = {}
        for p in positions:
            newest[p.lease] = max(newest.get(p.lease, 0), p.seq)
        for name, seq in newest.items():
            leases.advance(conn, name, seq)
        return results

    # ----------------------------------------------------------------- upstream forwarding
    def upstream(self, name: str, address: str) -> dict[str, Any]:
        """The delivery state of an upstream (created at position 0, the first frame, when new)."""
        t = s.upstreams
        with self._writing() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).mappings().first()
            if row is None:
                conn.execute(
                    t.insert().values(
                        name=name, address=address, acked_upto=0, sent=0, acks=0, refused=0,
                        updated_us=time.time_ns() // 1000,
                    )
                )  # fmt: skip
                row = conn.execute(select(t).where(t.c.name == name)).mappings().one()
            elif row["address"] != address:
                conn.execute(t.update().where(t.c.name == name).values(address=address))
            return dict(row) | {"address": address}

    def upstream_progress(
        self,
        name: str,
        *,
        acked_upto: int,
        sent: int = 0,
        acks: int = 0,
        refused: int = 0,
        error: str | None = None,
    ) -> None:
        """Record a delivered window: the position moves forward only, the counters add up; ``error`` (or None
        once delivery works again) is the last problem seen."""
        t = s.upstreams
        now = time.time_ns() // 1000
        values: dict[str, Any] = {
            "sent": t.c.sent + sent,
            "acks": t.c.acks + acks,
            "refused": t.c.refused + refused,
            "updated_us": now,
            "last_error": error,
        }
        if error is not None:
            values["error_us"] = now
        with self._writing() as conn:
            conn.execute(t.update().where(t.c.name == name).values(**values))
            conn.execute(
                t.update()
                .where(t.c.name == name, t.c.acked_upto < acked_upto)
                .values(acked_upto=acked_upto, acked_us=now)
            )

    def upstream_states(self) -> list[dict[str, Any]]:
        """Every upstream with its lag: accepted frames after its position (count and the oldest one's receipt)."""
        t, f = s.upstreams, s.frames
        out = []
        with self._reading() as conn:
            newest = conn.execute(select(func.max(f.c.id))).scalar() or 0
            for row in conn.execute(select(t).order_by(t.c.name)).mappings():
                first = conn.execute(
                    select(f.c.received_us)
                    .where(f.c.id > row["acked_upto"], f.c.status == "ok")
                    .order_by(f.c.id)
                    .limit(1)
                ).scalar()
                behind = conn.execute(
                    select(func.count()).where(f.c.id > row["acked_upto"], f.c.status == "ok")
                ).scalar_one()
                out.append(
                    dict(row) | {"newest": int(newest), "lag_frames": int(behind), "oldest_unacked_us": first}
                )
        return out

    # ----------------------------------------------------------------- monthly partitions (PostgreSQL)
    def partition_readings(self, months_ahead: int = 3, now: int | None = None) -> list[str]:
        """Partition the readings by month (see :mod:`envtrust.store.partitions`); the partitions created."""
        try:
            with self._writing() as conn:
                self._lock(conn)
                return partitions.ensure(conn, months_ahead=months_ahead, now=now)
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise StoreError(f"partitioning the readings failed: {exc.__class__.__name__}: {exc}") from exc

    def readings_partitions(self) -> list[partitions.Partition]:
        with self._reading() as conn:
            return partitions.listing(conn)

    # ----------------------------------------------------------------- leases (cluster mode)
    def acquire_lease(self, name: str, holder: str, ttl_s: float, info: str | None = None) -> int | None:
        """Take or renew a lease (see :mod:`envtrust.store.leases`): its epoch when held, else None."""
        try:
            with self._writing() as conn:
                return leases.acquire(conn, name, holder, ttl_s, info)
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise StoreError(f"lease {name}: {exc.__class__.__name__}: {exc}") from exc

    def renew_leases(self, names: Sequence[str], holder: str, ttl_s: float) -> dict[str, int]:
        """Renew many leases of one holder in one statement: the epochs of those still held."""
        try:
            with self._writing() as conn:
                return leases.renew(conn, names, holder, ttl_s)
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise StoreError(f"renewing leases: {exc.__class__.__name__}: {exc}") from exc

    def release_lease(self, name: str, holder: str, epoch: int) -> bool:
        with self._writing() as conn:
            return leases.release(conn, name, holder, epoch)

    def list_leases(self, prefix: str = "") -> list[leases.Lease]:
        with self._reading() as conn:
            return leases.listing(conn, prefix)

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
        stats: dict[str, list[int]] = {}  # mn -> [frames not quarantined, newest receive time] (point_latest)
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
            if status != "quarantine" and frame.mn is not None:
                st = stats.get(frame.mn)
                if st is None:
                    stats[frame.mn] = [1, frame.received_us]
                else:
                    st[0] += 1
                    st[1] = max(st[1], frame.received_us)
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
        inserted: list[bool] = []
        if reading_rows:
            inserted = self._insert_readings(conn, reading_rows)
            for owner, new in zip(owners, inserted, strict=True):
                if new:
                    results[owner].readings_new += 1
                else:
                    results[owner].readings_known += 1
        self._update_derived(conn, stats, reading_rows, inserted)
        return results

    def _update_derived(
        self,
        conn: Connection,
        stats: dict[str, list[int]],
        reading_rows: list[tuple[Any, ...]],
        inserted: list[bool],
    ) -> None:
        """Keep the derived tables up to date with what this transaction stored: per point the frames received and
        the newest reading of each channel (only forward in time: a back-filled older reading changes nothing), and
        the series cache (a row is dropped when a reading is written into the span it holds).  The batch is
        aggregated here first; each point's row is then read, merged and written back once (under the write lock)."""
        # mn -> kind -> pollutant -> its newest reading, as point_latest keeps it
        newest: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        # (mn, kind, day) -> the earliest data time written into it
        stale: dict[tuple[str, str, int], int] = {}
        seen: tuple[str, str, int] | None = None
        channels: dict[str, dict[str, Any]] = {}
        value_at, zs_at = 7, 12
        # a reading stored before is skipped: the stored one stays, and so does what was derived from it
        for row in itertools.compress(reading_rows, inserted):
            key = (row[0], row[1], row[3])
            if key != seen:  # a frame's readings share point, kind and time: this runs once a frame
                seen = key
                mn, kind, t = key
                channels = newest.setdefault(mn, {}).setdefault(kind, {}) if kind in LATEST_KINDS else {}
                value_at, zs_at = (6, 11) if kind == "rtd" else (7, 12)
                if kind in CACHED_KINDS:
                    day = (mn, kind, t // DAY)
                    if t < stale.get(day, t + 1):
                        stale[day] = t
            old = channels.get(row[2])
            if old is None or t > old["time"]:  # (entries as the overview returns them: no work there)
                channels[row[2]] = {
                    "kind": kind,
                    "time": t,
                    "value": row[value_at],
                    "zs": row[zs_at],
                    "flag": row[15],
                }
        mns = sorted(stats.keys() | newest.keys())
        rows: list[tuple[Any, ...]] = []
        if mns:
            have = self._point_latest(conn, mns)
            for mn in mns:
                frames, last, *texts = have.get(mn) or [0, None, None, None, None, None]
                texts = list(texts)  # JSON text or None per kind
                st = stats.get(mn)
                if st is not None:
                    frames += st[0]
                    last = st[1] if last is None else max(last, st[1])
                for kind, channels in newest.get(mn, {}).items():
                    k = LATEST_KINDS.index(kind)
                    text_k = texts[k]
                    stored = orjson.loads(text_k) if text_k else {}
                    changed = False
                    for code, entry in channels.items():
                        old = stored.get(code)
                        if old is None or entry["time"] > old["time"]:
                            stored[code] = entry
                            changed = True
                    if changed:
                        texts[k] = orjson.dumps(stored).decode()
                rows.append((mn, frames, last, *texts))
        if self.dialect == "sqlite":
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            if rows:
                cur.executemany(_POINT_LATEST_SQLITE, rows)
            if stale:
                cur.executemany(_UNCACHE_SQLITE, [(*key, t) for key, t in stale.items()])
            return
        from .postgres import update_derived

        update_derived(conn, rows, [(*key, t) for key, t in stale.items()])

    def _point_latest(self, conn: Connection, mns: list[str]) -> dict[str, list[Any]]:
        """The point_latest rows of these MNs: mn -> [frames, last received, rtd, minute, hour, day]."""
        out: dict[str, list[Any]] = {}
        if self.dialect == "sqlite":
            for i in range(0, len(mns), 500):
                part = mns[i : i + 500]
                sql = f"SELECT * FROM point_latest WHERE mn IN ({', '.join('?' * len(part))})"
                for mn, *rest in self._raw(conn, sql, part):
                    out[mn] = rest
            return out
        from .postgres import point_latest_rows

        return point_latest_rows(conn, mns)

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

    def _raw(
        self, conn: Connection, sql: str, params: Sequence[Any] = (), *, binary: bool = False
    ) -> list[Any]:
        """Rows of a query through the driver's own cursor (``?`` placeholders): no per-row objects of SQLAlchemy,
        for the reads that return many rows.  Runs in ``conn``'s transaction."""
        raw = conn.connection.driver_connection
        if self.dialect == "sqlite":
            cur = raw.cursor()  # type: ignore[union-attr]
        else:
            sql = sql.replace("?", "%s")
            cur = raw.cursor(binary=binary)  # type: ignore[union-attr]
        try:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
        finally:
            cur.close()

    def _raw_columns(self, conn: Connection, mn: str, kind: str, code: str, start: int, end: int) -> Columns:
        """One channel's readings over ``start <= t < end`` as columns, straight from the readings table."""
        if self.dialect == "postgresql":
            from .postgres import channel_columns

            return channel_columns(conn, kind, (mn, kind, code, start, end))
        # SQLite: converted a chunk at a time, so that only a chunk of row objects is alive at once (a month of
        # minute data as 43,200 tuples of seven objects each would keep the garbage collector walking them)
        value, zs = ("rtd", "zs_rtd") if kind == "rtd" else ("avg", "zs_avg")
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(
                f"SELECT data_time, {value}, min, max, {zs}, cou, flag FROM readings WHERE mn = ? AND kind = ? "
                "AND pollutant = ? AND data_time >= ? AND data_time < ? ORDER BY data_time",
                (mn, kind, code, start, end),
            )
            parts = []
            while chunk := cur.fetchmany(_CHUNK):
                parts.append((0, columns_from_rows(chunk)))
        finally:
            cur.close()
        return assemble(parts) if len(parts) != 1 else parts[0][1]

    def _raw_columns_many(
        self, conn: Connection, mn: str, kind: str, ranges: list[tuple[str, int, int]]
    ) -> list[Columns]:
        """:meth:`_raw_columns` for several ``(pollutant, start, end)`` at once (on PostgreSQL: one statement)."""
        if self.dialect == "postgresql" and len(ranges) > 1:
            from .postgres import channels_columns

            return channels_columns(conn, mn, kind, ranges)
        return [self._raw_columns(conn, mn, kind, code, lo, hi) for code, lo, hi in ranges]

    def overview(self, mns: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Per registered point (all, or those of ``mns``), in registry order: who and where it is, frames received
        (duplicates included, quarantine not), the newest receive time, its limits, and the newest values —
        ``latest`` per pollutant the newest real-time or minute reading (real-time when it is at least as new),
        ``hourly`` the newest hourly one, each ``{"kind", "time" (epoch s), "value", "zs", "flag"}``.

        Reads only the registry and the derived table ``point_latest`` (one row per point): its cost grows with
        the number of points and channels, not with the history stored."""
        wanted = None if mns is None else set(mns)
        if wanted is not None and not wanted:
            return []
        # a few points: look them up; many: read every point and keep theirs
        few = sorted(wanted) if wanted is not None and len(wanted) <= 500 else []
        where = f" WHERE p.mn IN ({', '.join('?' * len(few))})" if few else ""
        with self._reading() as conn:
            conn.execute(text("SELECT 1"))  # begin: on SQLite both statements below read the same snapshot
            points = self._raw(
                conn,
                "SELECT p.mn, p.name, e.name, p.enterprise_id, p.region, p.medium, l.frames, l.last_received_us, "
                "l.rtd, l.minute, l.hour FROM points p JOIN enterprises e ON e.id = p.enterprise_id "
                f"LEFT JOIN point_latest l ON l.mn = p.mn{where} ORDER BY p.id",
                few,
            )
            limits: dict[str, dict[str, float]] = {}
            for mn, code, value in self._raw(
                conn,
                f"SELECT p.mn, l.pollutant, l.value FROM limits l JOIN points p ON p.id = l.point_id{where}",
                few,
            ):
                limits.setdefault(mn, {})[code] = value
        rows = []
        for mn, name, enterprise, enterprise_id, region, medium, frames, last, rtd, minute, hour in points:
            if wanted is not None and mn not in wanted:
                continue
            live: dict[str, dict[str, Any]] = orjson.loads(minute) if minute else {}
            if rtd:
                for code, entry in orjson.loads(rtd).items():  # real-time wins a tie
                    old = live.get(code)
                    if old is None or entry["time"] >= old["time"]:
                        live[code] = entry
            hourly = orjson.loads(hour) if hour else {}
            rows.append(
                {
                    "mn": mn,
                    "name": name,
                    "enterprise": enterprise,
                    "enterprise_id": int(enterprise_id),
                    "region": region,
                    "medium": medium,
                    "frames": int(frames or 0),
                    "last_received_us": int(last) if last is not None else None,
                    "limits": limits.get(mn, {}),
                    "latest": live,
                    "hourly": hourly,
                }
            )
        return rows

    def channel_codes(self, mn: str, kind: str) -> list[str]:
        """The pollutants a point has sent ``kind`` readings of, in code order."""
        with self._reading() as conn:
            return self._channel_codes(conn, mn, kind)

    def _channel_codes(self, conn: Connection, mn: str, kind: str) -> list[str]:
        if kind not in LATEST_KINDS:
            return []
        found = self._raw(conn, f"SELECT {kind} FROM point_latest WHERE mn = ?", (mn,))
        return sorted(orjson.loads(found[0][0])) if found and found[0][0] else []

    # ----------------------------------------------------------------- series as columns (cached by day)
    def columns(
        self,
        mn: str,
        kind: str,
        start: int,
        end: int,
        pollutants: Collection[str] | None = None,
        *,
        defer: list[CacheFill] | None = None,
    ) -> dict[str, Columns]:
        """Channels of a point as columns over ``start <= t < end`` — ``pollutants`` (default: every channel the
        point has sent ``kind`` readings of), each present in the result even when it has no reading in the range.

        Minute and real-time data come from the series cache, a row per channel and UTC day that holds the day's
        readings before its ``upto`` time (the whole day once it is over; up to the newest reading today); what
        lies after ``upto``, and days not in the cache, are read from the readings table.  What was read that way
        is added to the cache — at once, or, when ``defer`` is a list, by the caller passing what was appended to
        it to :meth:`fill_cache` (an HTTP route does that after it has answered): days not in the cache, a day that
        has ended since its row was made, and a row that lags its day by more than an hour of minute data."""
        out: dict[str, Columns] = {}
        fill = CacheFill(mn, kind, 0, [])
        with self._reading() as conn:
            # begins the transaction; every reading of a frame up to the newest is visible to the reads below
            column = kind if kind in LATEST_KINDS else "NULL"
            frame_id, stored = conn.execute(
                text(
                    f"SELECT (SELECT max(id) FROM frames), (SELECT {column} FROM point_latest WHERE mn = :mn)"
                ),
                {"mn": mn},
            ).one()
            fill.frame_id = int(frame_id or 0)
            codes = sorted(
                set(pollutants) if pollutants is not None else orjson.loads(stored) if stored else []
            )
            if not codes or end <= start:
                return {c: Columns.empty() for c in codes}
            if kind not in CACHED_KINDS:
                for code in codes:
                    out[code] = self._raw_columns(conn, mn, kind, code, start, end)
                return out
            first, last = start // DAY, (end - 1) // DAY
            cached: dict[str, dict[int, tuple[int, bytes]]] = {c: {} for c in codes}
            wanted = set(codes)
            for day, code, upto, data in self._raw(
                conn,
                "SELECT day, pollutant, upto, data FROM series_cache WHERE mn = ? AND kind = ? AND day >= ? "
                "AND day <= ?"
                + (f" AND pollutant IN ({', '.join('?' * len(codes))})" if len(codes) <= 50 else ""),
                (mn, kind, first, last, *(codes if len(codes) <= 50 else ())),
                binary=True,
            ):
                if code in wanted:
                    cached[code][int(day)] = (int(upto), data)
            today = int(time.time()) // DAY  # days before this one are over
            after = [  # rows that do not hold all of their day: the readings after them are read (in one go)
                (code, d, upto, (d + 1) * DAY)
                for code in codes
                for d, (upto, _) in cached[code].items()
                if upto < (d + 1) * DAY and upto < end
            ]
            newer = dict(
                zip(
                    ((code, d) for code, d, _, _ in after),
                    self._raw_columns_many(conn, mn, kind, [(code, lo, hi) for code, _, lo, hi in after]),
                    strict=True,
                )
            )
            for code in codes:
                parts: list[tuple[int, bytes | Columns]] = []
                missing: list[int] = []
                for d in range(first, last + 1):
                    hit = cached[code].get(d)
                    if hit is None:
                        missing.append(d)
                        continue
                    data = hit[1]
                    parts.append((d, data))
                    more = newer.get((code, d))
                    if more is not None:
                        parts.append((d, more))
                        if d < today or len(more) > _REFILL:
                            fill.rows.append(_cache_row(code, d, assemble([(d, data), (d, more)]), today))
                for lo, hi in _spans(missing):
                    got = self._raw_columns(conn, mn, kind, code, lo * DAY, (hi + 1) * DAY).split_days()
                    for d in range(lo, hi + 1):
                        part = got.get(d) or Columns.empty()
                        parts.append((d, part))
                        if d < today or len(part):  # (an empty today holds nothing worth a row)
                            fill.rows.append(_cache_row(code, d, part, today))
                parts.sort(key=lambda x: x[0])  # stable: a row's newer readings stay after it
                out[code] = assemble(parts).between(start, end)
        if fill.rows:
            if defer is None:
                self.fill_cache(fill)
            else:
                defer.append(fill)
        return out

    def fill_cache(self, fill: CacheFill) -> int:
        """Put the rows a :meth:`columns` call made into the series cache, except any whose span received a reading
        after it read (one of a frame newer than ``fill.frame_id``).  Under the write lock (shared with other
        fills), so that a writer either committed before — and is seen here — or comes after and drops a row
        whose span it writes into.  Returns the number of rows put."""
        if self._snapshot_conn is not None or not fill.rows:
            return 0
        with self._writing() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock_shared(212212)"))
                newer = "SELECT pollutant, data_time FROM readings WHERE frame_id > ? AND mn = ? AND kind = ?"
            else:  # the frame index: the point's own key would scan its whole history
                newer = (
                    "SELECT pollutant, data_time FROM readings INDEXED BY ix_readings_frame "
                    "WHERE frame_id > ? AND mn = ? AND kind = ?"
                )
            earliest: dict[tuple[str, int], int] = {}  # (pollutant, day) -> earliest data time written since
            for code, t in self._raw(conn, newer, (fill.frame_id, fill.mn, fill.kind)):
                key = (code, int(t) // DAY)
                earliest[key] = min(int(t), earliest.get(key, int(t)))
            rows = [
                {
                    "mn": fill.mn,
                    "kind": fill.kind,
                    "day": d,
                    "pollutant": code,
                    "n": n,
                    "upto": upto,
                    "data": data,
                }
                for d, code, n, upto, data in fill.rows
                if earliest.get((code, d), upto) >= upto
            ]
            if rows:
                conn.execute(
                    text(
                        "INSERT INTO series_cache (mn, kind, day, pollutant, n, upto, data) "
                        "VALUES (:mn, :kind, :day, :pollutant, :n, :upto, :data) "
                        "ON CONFLICT (mn, kind, day, pollutant) DO UPDATE SET n = excluded.n, "
                        "upto = excluded.upto, data = excluded.data"
                    ),
                    rows,
                )
        return len(rows)

    def cache_gaps(
        self, days: int = 31, mns: Collection[str] | None = None
    ) -> list[tuple[str, str, int, int]]:
        """The ended UTC days among the last ``days`` whose series cache rows are missing or hold only part of the
        day, for every point (or those in ``mns``) and cached kind it has readings of: ``(mn, kind, first day,
        last day)`` runs of consecutive days.  Costs one read of ``point_latest`` and one grouped read of the cache
        rows of those days."""
        today = int(time.time()) // DAY
        first, last = today - days, today - 1
        if days <= 0:
            return []
        with self._reading() as conn:
            channels: dict[tuple[str, str], int] = {}
            for mn, *texts in self._raw(conn, f"SELECT mn, {', '.join(CACHED_KINDS)} FROM point_latest"):
                if mns is not None and mn not in mns:
                    continue
                for kind, codes in zip(CACHED_KINDS, texts, strict=True):
                    if codes and (n := len(orjson.loads(codes))):
                        channels[(mn, kind)] = n
            whole: dict[tuple[str, str], set[int]] = {}
            for mn, kind, day, n, upto in self._raw(
                conn,
                "SELECT mn, kind, day, count(*), min(upto) FROM series_cache WHERE day >= ? AND day <= ? "
                "GROUP BY mn, kind, day",
                (first, last),
            ):
                if int(n) >= channels.get((mn, kind), 1 << 30) and int(upto) >= (int(day) + 1) * DAY:
                    whole.setdefault((mn, kind), set()).add(int(day))
        out = []
        for (mn, kind), _ in sorted(channels.items()):
            done = whole.get((mn, kind), set())
            out += [
                (mn, kind, lo, hi) for lo, hi in _spans([d for d in range(first, last + 1) if d not in done])
            ]
        return out

    def warm_cache(
        self,
        days: int = 31,
        mns: Collection[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Make the series cache rows of :meth:`cache_gaps` (so that the first request for a month finds them
        ready); ``progress(done, total)`` after each run of days.  Returns the number of rows put."""
        gaps = self.cache_gaps(days, mns)
        put = 0
        for i, (mn, kind, lo, hi) in enumerate(gaps):
            with self._reading() as conn:
                stored = self._raw(conn, f"SELECT {kind} FROM point_latest WHERE mn = ?", (mn,))
            codes = sorted(orjson.loads(stored[0][0])) if stored and stored[0][0] else []
            fills: list[CacheFill] = []
            self.columns(mn, kind, lo * DAY, (hi + 1) * DAY, codes, defer=fills)
            put += sum(self.fill_cache(f) for f in fills)
            if progress is not None:
                progress(i + 1, len(gaps))
        return put

    def clear_cache(self) -> None:
        """Empty the series cache (it refills as series are read)."""
        with self._writing() as conn:
            conn.execute(s.series_cache.delete())

    def derived_problems(self, *, limit: int = 20) -> list[str]:
        """Differences between the derived tables and the same facts computed afresh from frames and readings —
        none in a sound database.  Costs a pass over every frame and reading (as ``verify`` does), and a read of
        every cached day."""
        problems: list[str] = []
        with self._reading() as conn:
            conn.execute(text("SELECT 1"))
            want: dict[str, list[Any]] = {}
            for mn, n, last in self._raw(
                conn,
                "SELECT mn, count(*), max(received_us) FROM frames "
                "WHERE status != 'quarantine' AND mn IS NOT NULL GROUP BY mn",
            ):
                want[mn] = [int(n), int(last), {}]
            for mn, kind, code, t, value, zs, flag in self._raw(
                conn,
                "SELECT r.mn, r.kind, r.pollutant, r.data_time, "
                "CASE WHEN r.kind = 'rtd' THEN r.rtd ELSE r.avg END, "
                "CASE WHEN r.kind = 'rtd' THEN r.zs_rtd ELSE r.zs_avg END, r.flag "
                "FROM readings r JOIN (SELECT mn, kind, pollutant, max(data_time) AS t FROM readings "
                "GROUP BY mn, kind, pollutant) m ON r.mn = m.mn AND r.kind = m.kind "
                "AND r.pollutant = m.pollutant AND r.data_time = m.t",
            ):
                if kind in LATEST_KINDS:
                    entry = want.setdefault(mn, [0, None, {}])
                    entry[2].setdefault(kind, {})[code] = {
                        "kind": kind,
                        "time": int(t),
                        "value": value,
                        "zs": zs,
                        "flag": flag,
                    }
            have: dict[str, list[Any]] = {}
            for mn, frames, last, *texts in self._raw(conn, "SELECT * FROM point_latest"):
                kinds = {k: orjson.loads(x) for k, x in zip(LATEST_KINDS, texts, strict=True) if x}
                have[mn] = [int(frames), int(last) if last is not None else None, kinds]
            for mn in sorted(want.keys() | have.keys()):
                if want.get(mn) != have.get(mn):
                    problems.append(f"point_latest {mn}: {have.get(mn)}, recomputed {want.get(mn)}")
            for mn, kind, day, code, n, upto, data in self._raw(
                conn, "SELECT mn, kind, day, pollutant, n, upto, data FROM series_cache", binary=True
            ):
                value, zs = ("rtd", "zs_rtd") if kind == "rtd" else ("avg", "zs_avg")
                fresh = columns_from_rows(
                    self._raw(
                        conn,
                        f"SELECT data_time, {value}, min, max, {zs}, cou, flag FROM readings WHERE mn = ? "
                        "AND kind = ? AND pollutant = ? AND data_time >= ? AND data_time < ? ORDER BY data_time",
                        (mn, kind, code, int(day) * DAY, min(int(upto), (int(day) + 1) * DAY)),
                    )
                )
                got = unpack(data, int(day))
                if not (int(n) == len(got) and _same_columns(got, fresh)):
                    problems.append(f"series_cache {mn}/{kind}/{code} day {day}: differs from the readings")
        return problems[:limit]

    # ----------------------------------------------------------------- ledger
    def ledger_size(self) -> int:
        with self._reading() as conn:
            return ledger.ledger_size(conn)

    def ops_figures(self) -> dict[str, int | None]:
        """Cheap figures for monitoring (each an indexed lookup): ledger size, the newest checkpoint's size and
        time, open and unacknowledged alarms."""
        with self._reading() as conn:
            cp = conn.execute(
                select(s.checkpoints.c.size, s.checkpoints.c.created_us)
                .order_by(s.checkpoints.c.size.desc())
                .limit(1)
            ).first()
            open_alarms = unacked = 0
            for acked, n in conn.execute(
                select(s.alarms.c.acked, func.count())
                .where(s.alarms.c.closed.is_(False))
                .group_by(s.alarms.c.acked)
            ):
                open_alarms += n
                unacked += 0 if acked else n
            return {
                "newest_frame": int(conn.execute(select(func.max(s.frames.c.id))).scalar() or 0),
                "ledger_size": ledger.ledger_size(conn),
                "checkpoint_size": None if cp is None else int(cp.size),
                "checkpoint_us": None if cp is None else int(cp.created_us),
                "alarms_open": open_alarms,
                "alarms_unacked": unacked,
            }

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

    def checkpoints(self, *, after: int = -1, newest: int | None = None) -> list[dict[str, Any]]:
        """Checkpoints of a size above ``after``, oldest first; ``newest=n``: only the n largest (still oldest first)."""
        c = s.checkpoints.c
        if newest is not None:
            q = select(s.checkpoints).where(c.size > after).order_by(c.size.desc()).limit(newest)
            with self._reading() as conn:
                rows = [dict(r) | {"root": bytes(r["root"])} for r in conn.execute(q).mappings()]
            return rows[::-1]
        q = select(s.checkpoints).where(c.size > after).order_by(c.size)
        with self._reading() as conn:
            return [dict(r) | {"root": bytes(r["root"])} for r in conn.execute(q).mappings()]

    def triggers(self) -> set[str]:
        """The names of the triggers defined on this database's tables (of this schema, on PostgreSQL)."""
        with self._reading() as conn:
            if conn.dialect.name == "postgresql":
                q = (
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
                )
            else:
                q = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            return {str(r[0]) for r in conn.exec_driver_sql(q)}

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

    def row(self, table: str, key: int | str) -> dict[str, Any] | None:
        """One row of any table by its key (``id``; a point by its MN), or None."""
        t = s.metadata.tables[table]
        column = t.c.mn if table == "points" else t.c.id
        if table != "points" and not (isinstance(key, int) or str(key).isdigit()):
            return None
        with self._reading() as conn:
            row = conn.execute(select(t).where(column == (key if table == "points" else int(key)))).mappings()
            found = row.first()
        return dict(found) if found is not None else None

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

    @contextlib.contextmanager
    def quality_tx(self) -> Iterator[QualityTx]:
        """One write transaction over the quality records; each row becomes a ledger entry when it commits."""
        with self._state_tx(QualityTx) as tx:
            yield tx

    def quality_rows(self, table: str, order: str = "id", **equal: Any) -> list[dict[str, Any]]:
        """Rows of a quality table (``store.quality.QUALITY_TABLES``) whose columns equal ``equal`` (a list: any
        of its values)."""
        with self._reading() as conn:
            return quality_rows(conn, table, order, **equal)

    def quality_rows_after(self, table: str, after: int, *columns: str) -> list[tuple[Any, ...]]:
        """``(id, *columns)`` of the rows of a quality table written after the row ``after`` (ids grow)."""
        with self._reading() as conn:
            return quality_rows_after(conn, table, after, columns)

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

    def point_scopes(self, mn: str | None = None) -> dict[str, tuple[str, int]]:
        """Per MN: the point's region code and enterprise id (what access rules need); only ``mn`` when given."""
        p = s.points
        q = select(p.c.mn, p.c.region, p.c.enterprise_id)
        with self._reading() as conn:
            return {
                r.mn: (r.region, int(r.enterprise_id))
                for r in conn.execute(q if mn is None else q.where(p.c.mn == mn))
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
