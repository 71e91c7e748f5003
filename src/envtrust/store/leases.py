"""Leases for cluster mode (SQL of the ``leases`` table).

A lease names a role that one process at a time may hold: a partition of the frame stream (``bus/3``), the
checkpoint sequencer (``sequencer``), a live worker (``worker/<id>``).  Taking a lease that is free or expired
raises its epoch; renewing keeps it.  Writes done under a lease carry its epoch and are refused when the lease has
moved on (fencing), so a process that was paused past its lease — or cut off from the database and back — cannot
store a frame that its successor stores too.  Lease times are the clients' clocks; fencing keeps the data right
even when those clocks disagree, the clocks only decide how soon a dead holder is replaced.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text

from ..errors import StoreError
from . import schema as s


class LeaseLost(StoreError):
    """A write under a lease that another holder has taken since (the writer must drop the role)."""

    def __init__(self, name: str, epoch: int, current: int | None) -> None:
        super().__init__(f"lease {name} moved on: held under epoch {epoch}, now {current}")
        self.name = name


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str | None
    epoch: int
    expires_us: int
    position: int
    info: str | None

    def live(self, now_us: int) -> bool:
        return self.holder is not None and self.expires_us > now_us


def _now_us() -> int:
    return time.time_ns() // 1000


def _row(conn: Connection, name: str, lock: bool) -> Any:
    q = select(s.leases).where(s.leases.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).one_or_none()


def acquire(conn: Connection, name: str, holder: str, ttl_s: float, info: str | None = None) -> int | None:
    """Take or renew a lease inside the caller's write transaction; the epoch when held, else None."""
    conn.execute(
        text(
            "INSERT INTO leases (name, holder, epoch, expires_us, position) VALUES (:n, NULL, 0, 0, 0) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        {"n": name},
    )
    row = _row(conn, name, lock=True)
    now = _now_us()
    expires = now + int(ttl_s * 1e6)
    t = s.leases
    if (
        row.holder == holder
    ):  # a renewal, even a late one: nobody took the lease meanwhile, so the epoch stays
        conn.execute(t.update().where(t.c.name == name).values(expires_us=expires, info=info))
        return int(row.epoch)
    if row.holder is not None and row.expires_us > now:
        return None
    epoch = int(row.epoch) + 1
    conn.execute(
        t.update().where(t.c.name == name).values(holder=holder, epoch=epoch, expires_us=expires, info=info)
    )
    return epoch


def renew(conn: Connection, names: Sequence[str], holder: str, ttl_s: float) -> dict[str, int]:
    """Renew, in one statement, the leases of ``names`` that ``holder`` still holds; their epochs (a name missing
    from the answer was taken over).  Renewing keeps the epoch, as :func:`acquire` does for its holder."""
    if not names:
        return {}
    t = s.leases
    done = conn.execute(
        t.update()
        .where(t.c.name.in_(list(names)), t.c.holder == holder)
        .values(expires_us=_now_us() + int(ttl_s * 1e6))
        .returning(t.c.name, t.c.epoch)
    )
    return {str(name): int(epoch) for name, epoch in done}


def release(conn: Connection, name: str, holder: str, epoch: int) -> bool:
    """Give a lease up at once (shutdown, rebalancing); False when it was not held under that epoch."""
    t = s.leases
    done = conn.execute(
        t.update()
        .where(t.c.name == name, t.c.holder == holder, t.c.epoch == epoch)
        .values(holder=None, expires_us=0)
    )
    return bool(done.rowcount)


def listing(conn: Connection, prefix: str = "") -> list[Lease]:
    q = select(s.leases).order_by(s.leases.c.name)
    if prefix:
        q = q.where(s.leases.c.name.startswith(prefix, autoescape=True))
    return [
        Lease(r.name, r.holder, int(r.epoch), int(r.expires_us), int(r.position), r.info)
        for r in conn.execute(q)
    ]


def positions(conn: Connection, epochs: Mapping[str, int]) -> dict[str, int]:
    """Fencing inside a write transaction: each lease must still be at the epoch it was taken under; returns the
    position of each.  Raises :class:`LeaseLost` for the first that moved on."""
    out: dict[str, int] = {}
    for name, epoch in sorted(epochs.items()):
        row = _row(conn, name, lock=True)
        if row is None or int(row.epoch) != epoch:
            raise LeaseLost(name, epoch, None if row is None else int(row.epoch))
        out[name] = int(row.position)
    return out


def advance(conn: Connection, name: str, position: int) -> None:
    t = s.leases
    conn.execute(t.update().where(t.c.name == name, t.c.position < position).values(position=position))
