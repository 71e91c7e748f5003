"""PostgreSQL bulk paths: COPY (psycopg 3) for appends, COPY into a temporary table for idempotent readings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from . import schema as s
from .series import Columns


def copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Append rows with COPY … FROM STDIN (binary-safe for bytea)."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def insert_readings(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[bool]:
    """Insert readings that are not stored yet; return per row whether it was new.

    COPY cannot skip conflicts, so rows go to a temporary table first and then move with
    ``INSERT … ON CONFLICT DO NOTHING RETURNING``.
    """
    cols = s.READING_COLUMNS
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS readings_in (LIKE readings INCLUDING DEFAULTS, ord integer) ON COMMIT DELETE ROWS"
    )
    with cur.copy(f"COPY readings_in ({', '.join(cols)}, ord) FROM STDIN") as copy:
        for i, row in enumerate(rows):
            copy.write_row((*row, i))
    collist = ", ".join(cols)
    cur.execute(
        f"INSERT INTO readings ({collist}) SELECT DISTINCT ON (mn, kind, pollutant, data_time) {collist} "
        "FROM readings_in ORDER BY mn, kind, pollutant, data_time, ord "
        "ON CONFLICT DO NOTHING RETURNING mn, kind, pollutant, data_time, frame_id"
    )
    inserted = {tuple(r) for r in cur.fetchall()}
    cur.execute("DELETE FROM readings_in")
    return [(r[0], r[1], r[2], r[3], r[4]) in inserted for r in rows]


def update_derived(
    conn: Connection, point_rows: Sequence[tuple[Any, ...]], stale: Sequence[tuple[str, str, int, int]]
) -> None:
    """The derived tables' share of a write (see ``Store._update_derived``): one statement each, the rows sent
    as arrays in binary (text arrays cost several times more to parse) and spread by ``unnest``."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if point_rows:
        mn, frames, last, rtd, minute, hour, day = (list(c) for c in zip(*point_rows, strict=True))
        cur.execute(
            "INSERT INTO point_latest (mn, frames, last_received_us, rtd, minute, hour, day) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::text[], "
            "%b::text[]) ON CONFLICT (mn) DO UPDATE SET frames = excluded.frames, "
            "last_received_us = excluded.last_received_us, rtd = excluded.rtd, minute = excluded.minute, "
            "hour = excluded.hour, day = excluded.day",
            (mn, frames, last, rtd, minute, hour, day),
        )
    if stale:
        mns, kinds, days, times = (list(c) for c in zip(*stale, strict=True))
        cur.execute(
            "DELETE FROM series_cache c USING unnest(%b::text[], %b::text[], %b::int[], %b::bigint[]) "
            "AS k(mn, kind, day, t) WHERE c.mn = k.mn AND c.kind = k.kind AND c.day = k.day AND c.upto > k.t",
            (mns, kinds, days, times),
        )


def point_latest_rows(conn: Connection, mns: Sequence[str]) -> dict[str, list[Any]]:
    """The point_latest rows of these MNs: mn -> [frames, last received, rtd, minute, hour, day]."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cur.execute("SELECT * FROM point_latest WHERE mn = ANY(%b::text[])", (list(mns),))
    return {mn: list(rest) for mn, *rest in cur.fetchall()}


_AGGREGATES = (
    "count(*), array_send(array_agg(r.data_time)), {arrays}, "
    "string_agg(coalesce(nullif(left(r.flag, 1), ''), '-'), '')"
)


def _aggregates(kind: str) -> str:
    value, zs = ("rtd", "zs_rtd") if kind == "rtd" else ("avg", "zs_avg")
    arrays = ", ".join(
        f"array_send(array_agg(coalesce(r.{c}, 'NaN'::float8)))" for c in (value, "min", "max", zs, "cou")
    )
    return _AGGREGATES.format(arrays=arrays)


def _columns_of(n: int, t: bytes, floats: Sequence[bytes], flags: str) -> Columns:
    """One aggregated row (see :func:`channel_columns`) → columns in time order."""
    import numpy as np

    if not n:
        return Columns.empty()
    # binary array: 5 int32 header fields (one dimension), then per element its int32 length and the value
    times = np.frombuffer(t, np.dtype([("len", ">i4"), ("v", ">i8")]), n, 20)["v"].astype(np.int64)
    value, lo, hi, conv, cou = (
        np.frombuffer(f, np.dtype([("len", ">i4"), ("v", ">f8")]), n, 20)["v"].astype(np.float64)
        for f in floats
    )
    if n > 1 and not (np.diff(times) > 0).all():  # not in index order (a parallel or sorting plan): sort here
        order = np.argsort(times, kind="stable")
        letters = "".join(np.array(list(flags))[order])
        return Columns(times[order], value[order], lo[order], hi[order], conv[order], cou[order], letters)
    return Columns(times, value, lo, hi, conv, cou, flags)


def channel_columns(conn: Connection, kind: str, params: Sequence[Any]) -> Columns:
    """One channel's readings ``(mn, kind, pollutant, start, end)`` as columns, aggregated by PostgreSQL into one
    binary array per column (``array_send``) that NumPy reads as it is: no Python object per reading.  Missing
    values become NaN inside the database (readings hold only finite numbers); flags one letter each.

    The aggregates have no ORDER BY (each would sort on its own): all aggregates of one query see the rows in the
    same order, so the columns line up, and they are put in time order here."""
    cur = conn.connection.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
    cur.execute(
        f"SELECT {_aggregates(kind)} FROM readings r WHERE r.mn = %s AND r.kind = %s AND r.pollutant = %s "
        "AND r.data_time >= %s AND r.data_time < %s",
        tuple(params),
    )
    n, t, *floats, flags = cur.fetchone()
    return _columns_of(n, t, floats, flags)


def channels_columns(
    conn: Connection, mn: str, kind: str, ranges: Sequence[tuple[str, int, int]]
) -> list[Columns]:
    """:func:`channel_columns` for several ``(pollutant, start, end)`` of one point and kind, in one statement."""
    cur = conn.connection.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
    codes, los, his = (list(c) for c in zip(*ranges, strict=True))
    cur.execute(  # LATERAL: one index range scan per range (a join would read the point's whole history)
        "SELECT k.i, a.* FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) WITH ORDINALITY AS k(p, lo, hi, i) "
        f"CROSS JOIN LATERAL (SELECT {_aggregates(kind)} FROM readings r WHERE r.mn = %s AND r.kind = %s "
        "AND r.pollutant = k.p AND r.data_time >= k.lo AND r.data_time < k.hi) AS a",
        (codes, los, his, mn, kind),
    )
    found = {int(i): _columns_of(n, t, floats, flags) for i, n, t, *floats, flags in cur.fetchall()}
    return [found.get(i + 1, Columns.empty()) for i in range(len(ranges))]
