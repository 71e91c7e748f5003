"""SQL of accounts: one write transaction for every change of an account or its tokens, each change an event row and
a ledger entry (appended when the transaction ends)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from . import schema as s
from .ledger import StateTx

__all__ = ["ACCOUNT_STATE", "AccountTx"]

# what an account event records of the account after the change (never the password hash)
ACCOUNT_STATE = ("username", "display_name", "role", "region", "enterprise_id", "active")


class AccountTx(StateTx):
    """Changes of accounts and tokens inside one write transaction, each with its event."""

    def account(self, username: str) -> dict[str, Any] | None:
        row = (
            self.conn.execute(select(s.accounts).where(s.accounts.c.username == username)).mappings().first()
        )
        return dict(row) if row is not None else None

    def account_by_id(self, account_id: int) -> dict[str, Any]:
        return dict(
            self.conn.execute(select(s.accounts).where(s.accounts.c.id == account_id)).mappings().one()
        )

    def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        t = s.accounts
        rid = int(self.conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one())
        return {**values, "id": rid}

    def update(self, row: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        self.conn.execute(s.accounts.update().where(s.accounts.c.id == row["id"]).values(**changes))
        return {**row, **changes}

    def token(self, token_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(select(s.api_tokens).where(s.api_tokens.c.id == token_id)).mappings().first()
        return dict(row) if row is not None else None

    def insert_token(self, values: dict[str, Any]) -> int:
        t = s.api_tokens
        return int(self.conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one())

    def revoke_token(self, token_id: int, at_us: int) -> None:
        self.conn.execute(s.api_tokens.update().where(s.api_tokens.c.id == token_id).values(revoked_us=at_us))

    def event(
        self, account: dict[str, Any], action: str, who: str, at_us: int, detail: dict[str, Any]
    ) -> None:
        values = {
            "account_id": account["id"],
            "action": action,
            "who": who,
            "at_us": at_us,
            "state": json.dumps({k: account[k] for k in ACCOUNT_STATE}, ensure_ascii=False, sort_keys=True),
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
        }
        self.record("account_events", values)
