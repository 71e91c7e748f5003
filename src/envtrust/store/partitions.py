"""Monthly partitions of the readings table on PostgreSQL (a province's deployment; SQLite keeps one table).

``ensure`` turns ``readings`` into a table partitioned by range of ``data_time`` (UTC months, one partition per
month, ``readings_YYYY_MM``, plus ``readings_default`` for anything outside them, such as a logger whose clock is
years off) the first time, moving the rows across; afterwards it creates the months ahead and the months that data
arrived for in the default partition (moving those rows into them).  Everything happens in one transaction under the
write lock, so writers wait and nothing is seen half-done.  The primary key (mn, kind, pollutant, data_time)
contains the partition key, so it stays unique across partitions, and old months can be detached and archived
whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from ..errors import StoreError

__all__ = ["Partition", "ensure", "listing"]


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: int | None  # UTC epoch seconds; None for the default partition
    end: int | None
    rows: int  # estimate (the planner's statistics), -1 when never analysed


def _month(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def _months(lo: int, hi: int) -> list[tuple[int, int]]:
    """(year, month) from the month holding ``lo`` to the one holding ``hi``, inclusive."""
    a, b = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)
    y, m, out = a.year, a.month, []
    while (y, m) <= (b.year, b.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _bounds(y: int, m: int) -> tuple[int, int]:
    return _month(y, m), _month(y + 1, 1) if m == 12 else _month(y, m + 1)


def partitioned(conn: Connection) -> bool:
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('readings')")).scalar()
    return kind == "p"


def listing(conn: Connection) -> list[Partition]:
    if conn.dialect.name != "postgresql" or not partitioned(conn):
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass('readings') ORDER BY c.relname"
        )
    )
    out = []
    for name, bound, tuples in rows:
        start = end = None
        if "FROM (" in bound:
            start = int(bound.split("FROM (", 1)[1].split(")", 1)[0].strip("'"))
            end = int(bound.split("TO (", 1)[1].split(")", 1)[0].strip("'"))
        out.append(Partition(name, start, end, int(tuples)))
    return sorted(out, key=lambda p: (p.start is None, p.start or 0))


def _convert(conn: Connection) -> None:
    for sql in (
        "ALTER TABLE readings RENAME TO readings_unpartitioned",
        "ALTER INDEX pk_readings RENAME TO pk_readings_unpartitioned",
        "ALTER INDEX ix_readings_frame RENAME TO ix_readings_frame_unpartitioned",
        "CREATE TABLE readings (LIKE readings_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (data_time)",
        "ALTER TABLE readings ADD CONSTRAINT pk_readings PRIMARY KEY (mn, kind, pollutant, data_time)",
        "CREATE INDEX ix_readings_frame ON readings (frame_id)",
        "CREATE TABLE readings_default PARTITION OF readings DEFAULT",
    ):
        conn.execute(text(sql))


def _add_month(conn: Connection, y: int, m: int) -> str:
    lo, hi = _bounds(y, m)
    name = f"readings_{y:04d}_{m:02d}"
    conn.execute(text(f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM readings_default WHERE data_time >= :lo AND data_time < :hi RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        {"lo": lo, "hi": hi},
    )
    conn.execute(text(f"ALTER TABLE readings ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})"))
    return name


def ensure(conn: Connection, *, months_ahead: int = 3, now: int | None = None) -> list[str]:
    """Partition the readings (first run) and create the partitions that are due; the names created.  The caller
    holds the write lock inside one transaction."""
    if conn.dialect.name != "postgresql":
        raise StoreError(
            "monthly partitions of the readings are a PostgreSQL feature; SQLite keeps one table"
        )
    if months_ahead < 0 or months_ahead > 120:
        raise StoreError("months ahead: 0 to 120")
    t = int(now if now is not None else datetime.now(UTC).timestamp())
    converted = not partitioned(conn)
    if converted:
        _convert(conn)
    have = {(p.start or 0) for p in listing(conn) if p.start is not None}
    hi = _months(t, t)[0]
    y, m = hi
    for _ in range(months_ahead):
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    wanted = set(_months(t, _month(y, m)))
    source = "readings_unpartitioned" if converted else "readings_default"
    for year, month in conn.execute(  # the months that hold data (months without data get no partition)
        text(
            "SELECT DISTINCT extract(year FROM ts)::int, extract(month FROM ts)::int "
            f"FROM (SELECT to_timestamp(data_time) AT TIME ZONE 'UTC' AS ts FROM {source}) AS x"
        )
    ):
        wanted.add((int(year), int(month)))
    created = []
    for y, m in sorted(wanted):
        if _bounds(y, m)[0] not in have:
            created.append(_add_month(conn, y, m))
    if converted:
        conn.execute(text("INSERT INTO readings SELECT * FROM readings_unpartitioned"))
        conn.execute(text("DROP TABLE readings_unpartitioned"))
    conn.execute(text("ANALYZE readings"))
    return created
