"""SQL of the quality-assurance records: reads and inserts inside one write transaction (the caller holds the write
lock), each insert a row and its ledger entry (appended together when the transaction ends)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from . import schema as s
from .ledger import StateTx

__all__ = ["QUALITY_TABLES", "QualityTx", "quality_rows", "quality_rows_after"]

QUALITY_TABLES = (
    "qa_criteria",
    "analysers",
    "reference_lots",
    "lot_events",
    "qa_checks",
    "comparisons",
    "maintenance",
    "person_keys",
    "person_key_events",
    "signatures",
    "lab_functions",
    "samples",
    "custody_events",
    "analyses",
    "reviews",
    "retractions",
    "reports",
    "data_marks",
    "mark_events",
    "attachments",
    "interference",
    "interference_events",
    "draws",
    "draw_reveals",
    "inspections",
    "complaints",
    "complaint_events",
    "credit_events",
    "blacklist",
    "blacklist_events",
    "orders",
    "order_rechecks",
    "cases",
    "case_documents",
)


def quality_rows(conn: Connection, table: str, order: str = "id", **equal: Any) -> list[dict[str, Any]]:
    """Rows of a quality table whose columns equal ``equal`` (a list value: any of them), in ``order``."""
    if table not in QUALITY_TABLES:
        raise ValueError(f"not a quality table: {table}")
    t = s.metadata.tables[table]
    q = select(t).order_by(t.c[order], t.c.id)
    for name, value in equal.items():
        q = q.where(t.c[name].in_(value) if isinstance(value, list | tuple) else t.c[name] == value)
    return [dict(r) for r in conn.execute(q).mappings()]


def quality_rows_after(
    conn: Connection, table: str, after: int, columns: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """``(id, *columns)`` of the rows of a quality table with an id above ``after``, in id order."""
    if table not in QUALITY_TABLES:
        raise ValueError(f"not a quality table: {table}")
    t = s.metadata.tables[table]
    q = select(t.c.id, *(t.c[c] for c in columns)).where(t.c.id > after).order_by(t.c.id)
    return [tuple(r) for r in conn.execute(q)]


class QualityTx(StateTx):
    """Reads and writes of the quality records inside one write transaction."""

    def rows(self, table: str, order: str = "id", **equal: Any) -> list[dict[str, Any]]:
        return quality_rows(self.conn, table, order, **equal)

    def one(self, table: str, row_id: int) -> dict[str, Any] | None:
        found = self.rows(table, id=row_id)
        return found[0] if found else None

    def criteria(self) -> dict[str, Any] | None:
        """The criteria in force: the newest ledgered row."""
        t = s.qa_criteria
        row = self.conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).mappings().first()
        return dict(row) if row is not None else None

    def keep_draw_secret(self, draw_id: int, secret: str) -> None:
        """Keep a draw's secret until its reveal (not ledgered: the reveal's entry publishes it)."""
        self.conn.execute(s.draw_secrets.insert().values(draw_id=draw_id, secret=secret))

    def draw_secret(self, draw_id: int) -> str | None:
        t = s.draw_secrets
        return self.conn.execute(select(t.c.secret).where(t.c.draw_id == draw_id)).scalar()
