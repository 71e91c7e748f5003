"""Triggers that make ledgered record tables insert-only in the database itself (used by migrations)."""

from __future__ import annotations

from alembic import op

__all__ = ["insert_only"]


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
