"""PostgreSQL bulk paths: COPY (psycopg 3) for appends, COPY into a temporary table for idempotent readings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from . import schema as s


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
