"""SQL of alarms: one write transaction in which the alarm book reads and changes alarms, each change an event row
and a ledger entry (appended together when the transaction ends)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from . import schema as s
from .ledger import StateTx

__all__ = ["AlarmTx", "alarm_query"]

_EVENT_STATE = ("state", "acked", "assignee", "severity", "escalation")


class AlarmTx(StateTx):
    """Reads and writes of the alarm book inside one write transaction (the caller holds the write lock)."""

    def __init__(self, conn: Connection, *, dry: bool = False) -> None:
        super().__init__(conn)
        self.dry = dry  # a dry run reads but writes nothing; ``changed`` tells whether a real run would write
        self.changed = False
        self._fake_id = 0
        self.events: list[
            dict[str, Any]
        ] = []  # the events written, in order (for notifications after commit)

    def open_alarms(self, mn: str | None = None) -> list[dict[str, Any]]:
        a = s.alarms
        q = select(a).where(a.c.closed.is_(False)).order_by(a.c.id)
        if mn is not None:
            q = q.where(a.c.mn == mn)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def alarm(self, alarm_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(select(s.alarms).where(s.alarms.c.id == alarm_id)).mappings().first()
        return dict(row) if row is not None else None

    def handled_until(self, mns: Sequence[str] | None = None) -> dict[tuple[str, str, str], int]:
        """Per (point, pollutant, check): the latest end of any closed alarm (findings up to it are dealt with)."""
        a = s.alarms
        q = (
            select(a.c.mn, a.c.pollutant, a.c.check_name, func.max(a.c.end_time))
            .where(a.c.closed.is_(True))
            .group_by(a.c.mn, a.c.pollutant, a.c.check_name)
        )
        if mns is not None:
            q = q.where(a.c.mn.in_(list(mns)))
        return {(r[0], r[1], r[2]): int(r[3]) for r in self.conn.execute(q)}

    def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        self.changed = True
        if self.dry:
            self._fake_id -= 1
            return {**values, "id": self._fake_id}
        rid = int(self.conn.execute(s.alarms.insert().values(**values).returning(s.alarms.c.id)).scalar_one())
        return {**values, "id": rid}

    def update(self, row: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        self.changed = True
        if self.dry:
            return {**row, **changes}
        self.conn.execute(s.alarms.update().where(s.alarms.c.id == row["id"]).values(**changes))
        return {**row, **changes}

    def event(self, alarm: dict[str, Any], action: str, who: str, at_us: int, detail: dict[str, Any]) -> None:
        """Record what happened to ``alarm`` (given in its state after the change) as an event and ledger entry."""
        self.changed = True
        if self.dry:
            return
        values = {
            "alarm_id": alarm["id"],
            "action": action,
            "who": who,
            "at_us": at_us,
            **{k: alarm[k] for k in _EVENT_STATE},
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
        }
        self.events.append({**self.record("alarm_events", values), "alarm": alarm})


def alarm_query(
    *,
    mn: str | Sequence[str] | None = None,
    state: str | None = None,
    acked: bool | None = None,
    closed: bool | None = False,
    category: str | None = None,
    check: str | None = None,
    assignee: str | None = None,
) -> Any:
    """SELECT of alarms with the given filters (newest first); ``closed=None`` for every alarm."""
    a = s.alarms
    q = select(a).order_by(a.c.id.desc())
    if isinstance(mn, str):
        q = q.where(a.c.mn == mn)
    elif mn is not None:
        q = q.where(a.c.mn.in_(list(mn)))
    if state is not None:
        q = q.where(a.c.state == state)
    if acked is not None:
        q = q.where(a.c.acked.is_(acked))
    if closed is not None:
        q = q.where(a.c.closed.is_(closed))
    if category is not None:
        q = q.where(a.c.category == category)
    if check is not None:
        q = q.where(a.c.check_name == check)
    if assignee is not None:
        q = q.where(a.c.assignee == assignee)
    return q
