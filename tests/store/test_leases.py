"""Leases and positioned writes in the store (cluster mode's fencing), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import LeaseLost, Store, StreamPosition, open_store
from integration.test_gateway import REGISTRY, frame


def prepared(store: Store, frames: list[bytes]) -> list:  # type: ignore[type-arg]
    ingest = Ingest(store)
    return [ingest.prepare(e, peer="bus:1") for e in ingest.decoder().feed(b"".join(frames))]


def frames_stored(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("select count(*) from frames")).scalar_one())


def test_a_lease_is_taken_renewed_and_taken_over_only_after_it_expires(db_url: str) -> None:
    with open_store(db_url) as store:
        assert store.acquire_lease("bus/0", "a", 0.3) == 1
        assert store.acquire_lease("bus/0", "b", 10) is None  # held by a
        assert store.acquire_lease("bus/0", "a", 0.3) == 1  # renewal keeps the epoch
        time.sleep(0.35)
        assert store.acquire_lease("bus/0", "a", 10) == 1  # a late renewal, nobody took it: same epoch
        assert store.release_lease("bus/0", "a", 1)
        assert store.acquire_lease("bus/0", "b", 10) == 2  # taken by another: a new epoch
        assert not store.release_lease("bus/0", "a", 1)


def test_renewing_many_leases_answers_only_those_still_held(db_url: str) -> None:
    with open_store(db_url) as store:
        for n in range(4):
            assert store.acquire_lease(f"bus/{n}", "a", 0.2) == 1
        time.sleep(0.25)
        assert store.acquire_lease("bus/2", "b", 10) == 2  # expired and taken over
        assert store.renew_leases([f"bus/{n}" for n in range(4)] + ["bus/9"], "a", 10) == {
            "bus/0": 1,
            "bus/1": 1,
            "bus/3": 1,
        }
        assert store.acquire_lease("bus/0", "b", 10) is None  # renewed: not free again
        assert store.renew_leases([], "a", 10) == {}
        held = {lease.name: lease for lease in store.list_leases("bus/")}
        assert held["bus/2"].holder == "b"
        assert held["bus/1"].expires_us > time.time_ns() // 1000 + 5_000_000


def test_positioned_writes_skip_what_is_stored_and_refuse_a_moved_on_epoch(db_url: str) -> None:
    with open_store(db_url) as store:
        store.load_registry(parse_registry(REGISTRY))
        batch = prepared(store, [frame(i) for i in range(6)])
        rows = [(p.row, p.readings) for p in batch]
        epoch = store.acquire_lease("bus/0", "a", 10)
        assert epoch == 1
        first = store.write(
            rows[:4], [StreamPosition("bus/0", 1, 10 + i // 2) for i in range(4)]
        )  # seq 10, 11
        assert all(r.frame_id is not None for r in first)
        # the same messages again (a redelivery) and the next one: only the new one is stored
        again = store.write(rows[2:6], [StreamPosition("bus/0", 1, s) for s in (11, 11, 12, 12)])
        assert [r.frame_id is None for r in again] == [True, True, False, False]
        assert frames_stored(store) == 6
        assert {lease.name: lease.position for lease in store.list_leases("bus/")}["bus/0"] == 12
        assert store.release_lease("bus/0", "a", 1)
        assert store.acquire_lease("bus/0", "b", 10) == 2
        late = prepared(store, [frame(50)])
        with pytest.raises(LeaseLost, match="bus/0"):
            store.write([(late[0].row, late[0].readings)], [StreamPosition("bus/0", 1, 13)])
        assert frames_stored(store) == 6  # the whole batch was refused
