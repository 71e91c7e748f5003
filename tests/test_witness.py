"""``envtrust witness`` against a real envtrust HTTP API (uvicorn on 127.0.0.1, a real SQLite file), issue 3.

The witness trusts the first checkpoint it sees, then cosigns only checkpoints that a consistency proof
ties to the root it saved itself.  A server whose database was rewritten with plain SQL (every node
recomputed, checkpoints signed with the real log key, as a compromised server would) is refused, as are a
fork at the same size, a rollback and a checkpoint signed by another key; nothing is posted then.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from envtrust import hj212
from envtrust.api import create_app, serve_http
from envtrust.errors import ConfigError
from envtrust.ledger import merkle
from envtrust.ledger.entries import frame_entry
from envtrust.ledger.note import (
    Checkpoint,
    CosignatureVerifier,
    Signer,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
)
from envtrust.registry import parse_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import Store, open_store
from envtrust.witness import (
    WitnessError,
    WitnessRefusal,
    WitnessResult,
    load_state,
    load_witness_key,
    run_witness,
    witness_once,
)

ORIGIN = "test.envtrust/ledger"
MN = "21010012345678"
REGISTRY = f"""
[[point]]
mn = "{MN}"
enterprise = "某热电有限公司"
name = "1号锅炉排放口"
region = "210102"
medium = "gas"
limits = {{ a21026 = 35 }}
pw = "123456"
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def add_frames(ingest: Ingest, batch: int, n: int = 5) -> None:
    raws = [
        hj212.upload(
            qn=None,
            st="31",
            cn="2051",
            pw="123456",
            mn=MN,
            data_time=f"202601{1 + batch // 24:02d}{batch % 24:02d}{i:02d}00",
            items=[hj212.Item("a21026", {"Avg": f"{10 + i}.5", "Flag": "N"}, "a21026")],
        )
        for i in range(n)
    ]
    decoder = ingest.decoder()
    events = [e for raw in raws for e in decoder.feed(raw)] + decoder.flush()
    ingest.record([ingest.prepare(e, peer="127.0.0.1:5000") for e in events])


def sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


# ------------------------------------------------------------------------------------------------ server
class LiveServer:
    """The API served by :func:`serve_http` (uvicorn) on its own event loop in a background thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LiveServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                http = await serve_http(self.app, "127.0.0.1", 0)
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            self.url = http.url
            ready.set()
            await self._stop.wait()
            await http.stop()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), name="live-api")
        self._thread.start()
        assert ready.wait(10), "the HTTP server did not start"
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@dataclass
class World:
    store: Store
    ingest: Ingest
    checkpointer: Checkpointer
    log: Signer
    witness: Signer
    url: str
    state: Path
    batches: int = 1

    def grow(self) -> int:
        """More frames and a new signed checkpoint; its size."""
        add_frames(self.ingest, self.batches)
        self.batches += 1
        cp = self.checkpointer.checkpoint()
        assert cp is not None
        return cp.size

    def once(self, **kw: Any) -> WitnessResult:
        return witness_once(self.url, self.log.verifier(), self.witness, self.state, **kw)

    def cosignatures(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.url}/api/v1/ledger/cosignatures"))


@pytest.fixture(scope="module")
def log_key() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, log_key: Signer) -> Path:
    """A database with the registry, one batch of frames and one signed checkpoint (made once, copied)."""
    path = tmp_path_factory.mktemp("witness") / "template.db"
    with open_store(f"sqlite:///{path}") as store:
        ingest = Ingest(store)
        ingest.load_registry(parse_registry(REGISTRY))
        add_frames(ingest, 0)
        assert Checkpointer(store, log_key, ORIGIN).checkpoint() is not None
    return path


@pytest.fixture
def world(template: Path, tmp_path: Path, log_key: Signer) -> Iterator[World]:
    db = tmp_path / "envtrust.db"
    shutil.copy(template, db)
    witness = Signer.generate("witness.example/w1")
    with open_store(f"sqlite:///{db}") as store:
        app = create_app(store, log_verifier=log_key.verifier(), witnesses=[witness.verifier()])
        with LiveServer(app) as live:
            yield World(
                store,
                Ingest(store),
                Checkpointer(store, log_key, ORIGIN),
                log_key,
                witness,
                live.url,
                tmp_path / "witness" / "state.json",
            )


# ------------------------------------------------------------------------------------------------ tampering
def rewrite_history(store: Store, frame_id: int = 2) -> None:
    """Change a frame and its ledger entry, then recompute every tree node from the modified entries: the
    database is self-consistent again; only roots kept outside it (signed checkpoints, a witness) differ."""
    sql(store, "UPDATE frames SET peer = '10.0.0.1:1' WHERE id = :i", i=frame_id)
    [row] = [f for f in store.frames() if f["id"] == frame_id]
    idx = store.entry_index(f"frames/{frame_id}")
    sql(
        store,
        "UPDATE ledger_entries SET entry = :e WHERE idx = :i",
        e=frame_entry(frame_id, bytes(row["raw"]), dict(row)),
        i=idx,
    )
    entries = [e for _, _, _, e in store.iter_entries()]
    nodes = merkle.Appender().append([merkle.leaf_hash(e) for e in entries])
    sql(store, "DELETE FROM ledger_nodes")
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO ledger_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
            [{"l": lv, "i": i, "h": h} for lv, i, h in nodes],
        )


def replace_checkpoint(store: Store, size: int, root: bytes, note: str) -> None:
    sql(store, "UPDATE checkpoints SET root = :r, note = :n WHERE size = :s", r=root, n=note, s=size)


# ------------------------------------------------------------------------------------------------ tests
def test_first_contact_then_consistent_growth(world: World) -> None:
    first = world.once()
    assert first.tofu and first.action == "tofu"
    assert "first use" in first.message and str(first.size) in first.message
    assert first.size == world.store.ledger_size() and first.root == world.store.root_at(first.size)
    [held] = world.cosignatures()
    assert (held["size"], held["witness"]) == (first.size, world.witness.name)
    state = json.loads(world.state.read_text(encoding="utf-8"))
    assert (state["size"], state["root"], state["origin"]) == (first.size, b64(first.root), ORIGIN)
    assert state["log_key"] == world.log.verifier().vkey()

    size = world.grow()
    second = world.once()
    assert second.action == "cosigned" and not second.tofu
    assert (second.old_size, second.old_root, second.size) == (first.size, first.root, size)
    assert second.proof and "consistent" in second.message
    assert merkle.verify_consistency(first.size, size, first.root, second.root, second.proof)
    assert [(c["size"], c["witness"]) for c in world.cosignatures()] == [
        (first.size, world.witness.name),
        (size, world.witness.name),
    ]
    with urllib.request.urlopen(f"{world.url}/api/v1/ledger/checkpoint", timeout=5) as r:
        note = r.read().decode("utf-8")
    assert open_checkpoint(note, world.log.verifier()).size == size
    assert verify_cosignature(note, world.witness.verifier()) == second.timestamp
    shown = {c["size"]: c["cosigned_by"] for c in get_json(f"{world.url}/api/v1/ledger/checkpoints")}
    assert shown == {first.size: [world.witness.name], size: [world.witness.name]}

    # nothing new: nothing posted
    third = world.once()
    assert third.action == "current" and third.size == size
    assert len(world.cosignatures()) == 2


def test_rewritten_history_is_refused(world: World) -> None:
    first = world.once()
    world.grow()
    second = world.once()
    assert second.action == "cosigned"
    saved = world.state.read_bytes()

    rewrite_history(world.store, frame_id=2)
    size = world.grow()  # the compromised server goes on and signs its rewritten tree with the log key
    new_root = world.store.root_at(size)
    assert world.store.root_at(second.size) != second.root  # the database no longer has the cosigned root

    with pytest.raises(WitnessRefusal) as caught:
        world.once()
    refusal = caught.value
    assert refusal.kind == "inconsistent"
    message = str(refusal)
    assert "rewritten" in message
    for part in (str(second.size), str(size), b64(second.root), b64(new_root)):
        assert part in message
    assert len(world.cosignatures()) == 2  # nothing posted
    assert world.state.read_bytes() == saved  # the witness keeps its reference

    # the server's proof is fine against the server's own (rewritten) roots: only the witness's saved root
    # catches the rewrite
    proof = [base64.b64decode(p) for p in refusal.evidence["proof"]]
    old_db_root = world.store.root_at(second.size)
    assert merkle.verify_consistency(second.size, size, old_db_root, new_root, proof)
    assert not merkle.verify_consistency(second.size, size, second.root, new_root, proof)
    assert refusal.evidence_path is not None and refusal.evidence_path.exists()
    evidence = json.loads(refusal.evidence_path.read_text(encoding="utf-8"))
    assert open_checkpoint(evidence["offered_note"], world.log.verifier()).root_hash == new_root
    assert open_checkpoint(evidence["cosigned_note"], world.log.verifier()).root_hash == second.root

    # it keeps refusing, round after round
    with pytest.raises(WitnessRefusal):
        world.once()
    assert first.size < second.size


def test_a_fork_at_the_same_size_is_refused(world: World) -> None:
    first = world.once()
    rewrite_history(world.store, frame_id=3)
    forked_root = world.store.root_at(first.size)
    assert forked_root != first.root
    note = sign_checkpoint(Checkpoint(ORIGIN, first.size, forked_root), world.log)
    replace_checkpoint(world.store, first.size, forked_root, note)

    with pytest.raises(WitnessRefusal) as caught:
        world.once()
    assert caught.value.kind == "fork"
    message = str(caught.value)
    assert "forked" in message and str(first.size) in message
    assert b64(first.root) in message and b64(forked_root) in message
    assert len(world.cosignatures()) == 1


def test_a_rollback_is_refused(world: World) -> None:
    world.grow()
    first = world.once()
    sql(world.store, "DELETE FROM checkpoints WHERE size = :s", s=first.size)
    with pytest.raises(WitnessRefusal) as caught:
        world.once()
    assert caught.value.kind == "rollback"
    assert "rolled back" in str(caught.value) and str(first.size) in str(caught.value)
    assert len(world.cosignatures()) == 1


def test_a_checkpoint_signed_by_another_key_is_refused(world: World, tmp_path: Path) -> None:
    first = world.once()
    size = world.grow()
    impostor = Signer.generate(ORIGIN)  # same name, another key
    note = sign_checkpoint(Checkpoint(ORIGIN, size, world.store.root_at(size)), impostor)
    replace_checkpoint(world.store, size, world.store.root_at(size), note)
    with pytest.raises(WitnessRefusal) as caught:
        world.once()
    assert caught.value.kind == "bad_signature"
    assert world.log.verifier().key_hash.hex() in str(caught.value)
    assert [c["size"] for c in world.cosignatures()] == [first.size]
    # not even trusted on first use
    fresh = tmp_path / "fresh-state.json"
    with pytest.raises(WitnessRefusal):
        witness_once(world.url, world.log.verifier(), world.witness, fresh)
    assert not fresh.exists()


def test_a_checkpoint_of_another_origin_is_refused(world: World) -> None:
    first = world.once()
    size = world.grow()
    root = world.store.root_at(size)
    replace_checkpoint(
        world.store, size, root, sign_note(Checkpoint("other.log", size, root).body(), [world.log])
    )
    with pytest.raises(WitnessRefusal) as caught:
        world.once()
    assert caught.value.kind == "origin" and "other.log" in str(caught.value)
    assert [c["size"] for c in world.cosignatures()] == [first.size]


def test_a_lost_cosignature_is_posted_again(world: World) -> None:
    first = world.once()
    sql(world.store, "DELETE FROM cosignatures")
    again = world.once()
    assert again.action == "cosigned" and again.size == first.size and "again" in again.message
    assert len(world.cosignatures()) == 1


def test_run_witness_reports_every_round(world: World) -> None:
    outcomes: list[WitnessResult | WitnessError] = []

    def report(outcome: WitnessResult | WitnessError) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 1:
            world.grow()

    last = run_witness(
        world.url, world.log.verifier(), world.witness, world.state, interval=0.01, rounds=3, report=report
    )
    assert [o.action for o in outcomes if isinstance(o, WitnessResult)] == ["tofu", "cosigned", "current"]
    assert last is outcomes[-1]

    stop = threading.Event()
    stop.set()
    assert run_witness(world.url, world.log.verifier(), world.witness, world.state, stop=stop) is None


def test_errors_are_not_refusals(world: World, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(WitnessError) as caught:
        witness_once(closed, world.log.verifier(), world.witness, world.state, timeout=2)
    assert not isinstance(caught.value, WitnessRefusal) and "cannot reach" in str(caught.value)

    # a damaged state is an error, never a new first contact
    world.state.parent.mkdir(parents=True)
    world.state.write_text("{ not json", encoding="utf-8")
    with pytest.raises(WitnessError) as caught:
        world.once()
    assert not isinstance(caught.value, WitnessRefusal) and "damaged" in str(caught.value)
    assert world.cosignatures() == []

    # a state of another log
    world.state.unlink()
    world.once()
    other = Signer.generate(ORIGIN)
    with pytest.raises(WitnessError, match="belongs to the log key"):
        witness_once(world.url, other.verifier(), world.witness, world.state)
    assert load_state(world.state, world.log.verifier()) is not None


def test_http_errors_carry_the_api_error(tmp_path: Path, log_key: Signer) -> None:
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        app = create_app(store, log_verifier=log_key.verifier())
        with LiveServer(app) as live, pytest.raises(WitnessError) as caught:
            witness_once(live.url + "/api/v1/", log_key.verifier(), Signer.generate("w"), tmp_path / "s.json")
    assert caught.value.status == 404 and caught.value.code == "no_checkpoint"
    assert "no signed checkpoint" in str(caught.value)


def test_a_witness_the_server_does_not_know_is_told_so(world: World, tmp_path: Path) -> None:
    stranger = Signer.generate("stranger.example")
    with pytest.raises(WitnessError) as caught:
        witness_once(world.url, world.log.verifier(), stranger, tmp_path / "s.json")
    assert caught.value.status == 403 and caught.value.code == "unknown_witness"
    assert world.cosignatures() == []


def test_serve_http_leaves_the_signal_handlers_to_the_gateway(tmp_path: Path, log_key: Signer) -> None:
    received: list[int] = []

    async def main(store: Store) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, received.append, signal.SIGTERM)
        before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            http = await serve_http(create_app(store, log_verifier=log_key.verifier()), "127.0.0.1", 0)
            assert {sig: signal.getsignal(sig) for sig in before} == before
            with pytest.raises(OSError):  # the port is taken: an error for the caller, not a sys.exit
                await serve_http(create_app(store, log_verifier=log_key.verifier()), "127.0.0.1", http.port)
            doc = await asyncio.to_thread(get_json, f"{http.url}/api/v1/ledger/checkpoints")
            assert doc == []
            os.kill(os.getpid(), signal.SIGTERM)  # the gateway's handler gets it; uvicorn keeps serving
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.01)
            assert received == [signal.SIGTERM]
            assert not http.server.should_exit
            assert await asyncio.to_thread(get_json, f"{http.url}/api/v1/ledger/cosignatures") == []
            await http.stop()
            assert http.task.done()
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", http.port), timeout=1).close()
            assert {sig: signal.getsignal(sig) for sig in before} == before
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    with open_store(f"sqlite:///{tmp_path / 'e.db'}") as store:
        asyncio.run(main(store))


def test_load_witness_key(tmp_path: Path) -> None:
    w = Signer.generate("witness.example/w1")
    plain = w.verifier().vkey()
    cosig = w.cosignature_verifier().vkey()
    assert load_witness_key(plain) == w.verifier()
    assert load_witness_key(cosig) == w.cosignature_verifier()
    assert isinstance(load_witness_key(cosig), CosignatureVerifier)
    (tmp_path / "witness.example_w1.vkey").write_text(plain + "\n", encoding="utf-8")
    assert isinstance(load_witness_key("witness.example/w1", tmp_path), Verifier)
    assert load_witness_key(str(tmp_path / "witness.example_w1.vkey")) == w.verifier()
    with pytest.raises(ConfigError):
        load_witness_key("nobody", tmp_path)
    with pytest.raises(ConfigError):
        load_witness_key("bad+00000000+AAAA")
