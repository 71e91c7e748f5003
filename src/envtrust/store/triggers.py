"""Triggers that make ledgered record tables insert-only in the database itself (used by migrations)."""

from __future__ import annotations

from alembic import op

__all__ = ["INSERT_ONLY_TABLES", "insert_only", "trigger_names"]

# every table made insert-only by a migration (revisions 0013 onwards)
INSERT_ONLY_TABLES = (
    "attachments", "interference", "interference_events", "draws", "draw_reveals", "inspections",
    "complaints", "complaint_events", "credit_events", "blacklist", "blacklist_events", "orders", "order_rechecks",
    "cases", "case_documents",
)  # fmt: skip


def trigger_names(table: str, dialect: str) -> tuple[str, ...]:
    """The names of the triggers that keep ``table`` insert-only."""
    if dialect == "postgresql":
        return (f"{table}_insert_only",)
    return (f"{table}_no_update", f"{table}_no_delete")


def insert_only(tables: tuple[str, ...]) -> None:
    """Triggers that refuse UPDATE and DELETE on ``tables`` (SQLite and PostgreSQL)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION envtrust_insert_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'envtrust: % is insert-only (the ledger records every row)', TG_TABLE_NAME; "
            "END; $$ LANGUAGE plpgsql"
        )
        for t in tables:
            op.execute(
                f"CREATE TRIGGER {t}_insert_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION envtrust_insert_only()"
            )
    else:
        for t in tables:
            for what in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} BEGIN "
                    f"SELECT RAISE(ABORT, 'envtrust: {t} is insert-only (the ledger records every row)'); END"
                )
