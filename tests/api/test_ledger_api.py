"""The ledger routes of the HTTP API (issue 3: witnesses), with FastAPI's TestClient over a real SQLite store
filled through the service path.  Every route, the one error shape on every error path, and proofs from the
API verified with ``merkle`` against the signed checkpoints."""

from __future__ import annotations

import base64
import json
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from envtrust import hj212
from envtrust.api import create_app
from envtrust.api.app import MAX_NOTE_BYTES
from envtrust.errors import StoreError
from envtrust.ledger import merkle
from envtrust.ledger.note import (
    Checkpoint,
    Signer,
    cosign,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    verify_cosignature,
)
from envtrust.registry import parse_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import Store, open_store

with warnings.catch_warnings():
    # Starlette >= 1.0 asks for the `httpx2` fork in its TestClient; plain httpx (our dev dependency) still works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ORIGIN = "test.envtrust/ledger"
P = "/api/v1/ledger"
MN = "21010012345678"
REGISTRY = f"""
[[point]]
mn = "{MN}"
enterprise = "某热电有限公司"
name = "1号锅炉排放口"
region = "210102"
medium = "gas"
reference_o2 = 6.0
limits = {{ a21026 = 35 }}
pw = "123456"

[[point]]
mn = "21010087654321"
enterprise = "某污水处理厂"
name = "总排口"
region = "210102"
medium = "water"
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def add_frames(ingest: Ingest, batch: int, n: int = 5) -> None:
    """``n`` minute-data frames through the gateway's service path (prepare, record: stored and ledgered)."""
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


@dataclass
class Env:
    store: Store
    log: Signer
    witness: Signer
    client: TestClient


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert set(err) == {"code", "message", "status"}
    assert err["status"] == status
    assert isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["code"] == code, err
    return err


@pytest.fixture(scope="module")
def keys() -> tuple[Signer, Signer]:
    return Signer.generate(ORIGIN), Signer.generate("witness.example/w1")


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Signer, Signer]) -> dict[str, Path]:
    """Two database files made once per module and copied for each test: empty, and three signed checkpoints
    over registry entries and frames (copying a file is much faster than creating the schema)."""
    log, _ = keys
    d = tmp_path_factory.mktemp("ledger-api")
    open_store(f"sqlite:///{d / 'empty.db'}").close()
    with open_store(f"sqlite:///{d / 'filled.db'}") as store:
        ingest = Ingest(store)
        ingest.load_registry(parse_registry(REGISTRY))
        checkpointer = Checkpointer(store, log, ORIGIN)
        for batch in range(3):
            add_frames(ingest, batch)
            assert checkpointer.checkpoint() is not None
    return {"empty": d / "empty.db", "filled": d / "filled.db"}


def _env(template: Path, tmp_path: Path, keys: tuple[Signer, Signer]) -> Iterator[Env]:
    for src in template.parent.glob(template.name + "*"):  # the file, and a WAL if one was left
        shutil.copy(src, tmp_path / src.name.replace(template.stem, "envtrust"))
    log, witness = keys
    with open_store(f"sqlite:///{tmp_path / 'envtrust.db'}") as store:
        app = create_app(store, log_verifier=log.verifier(), witnesses=[witness.verifier()])
        with TestClient(app) as client:
            yield Env(store, log, witness, client)


@pytest.fixture
def empty(templates: dict[str, Path], tmp_path: Path, keys: tuple[Signer, Signer]) -> Iterator[Env]:
    yield from _env(templates["empty"], tmp_path, keys)


@pytest.fixture
def env(templates: dict[str, Path], tmp_path: Path, keys: tuple[Signer, Signer]) -> Iterator[Env]:
    yield from _env(templates["filled"], tmp_path, keys)


def newest(env: Env) -> dict[str, Any]:
    latest = env.store.latest_checkpoint()
    assert latest is not None
    return latest


def post(env: Env, note: str | bytes, **headers: str) -> httpx.Response:
    data = note.encode("utf-8") if isinstance(note, str) else note
    response: httpx.Response = env.client.post(
        f"{P}/cosignatures", content=data, headers={"content-type": "text/plain; charset=utf-8", **headers}
    )
    return response


# ---------------------------------------------------------------------------------------------- checkpoint
def test_no_checkpoint_yet_is_404(empty: Env) -> None:
    assert_error(empty.client.get(f"{P}/checkpoint"), 404, "no_checkpoint")
    assert empty.client.get(f"{P}/checkpoints").json() == []


def test_checkpoint_is_the_newest_signed_note(env: Env) -> None:
    r = env.client.get(f"{P}/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    cp = open_checkpoint(r.text, env.log.verifier(), origin=ORIGIN)
    latest = newest(env)
    assert r.text == latest["note"]
    assert cp.size == latest["size"] == env.store.ledger_size()
    assert cp.root_hash == env.store.root_at(cp.size)


def test_checkpoints_list(env: Env) -> None:
    rows = env.client.get(f"{P}/checkpoints").json()
    stored = env.store.checkpoints()
    assert [r["size"] for r in rows] == [c["size"] for c in stored] and len(rows) == 3
    for r in rows:
        assert unb64(r["root"]) == env.store.root_at(r["size"])
        assert datetime.fromisoformat(r["created"]).utcoffset() is not None
        assert r["cosigned_by"] == []
    later = env.client.get(f"{P}/checkpoints", params={"after": rows[0]["size"]}).json()
    assert [r["size"] for r in later] == [r["size"] for r in rows[1:]]
    assert len(env.client.get(f"{P}/checkpoints", params={"limit": 1}).json()) == 1
    assert_error(env.client.get(f"{P}/checkpoints", params={"after": -2}), 400, "invalid_request")
    assert_error(env.client.get(f"{P}/checkpoints", params={"limit": 0}), 400, "invalid_request")
    err = assert_error(env.client.get(f"{P}/checkpoints", params={"after": "x"}), 400, "invalid_request")
    assert "after" in err["message"]


# ---------------------------------------------------------------------------------------------- proofs
def test_consistency_proofs_verify(env: Env) -> None:
    sizes = [0, 1, 2, 5, 7] + [c["size"] for c in env.store.checkpoints()]
    top = newest(env)["size"]
    for new in sizes:
        for old in sizes:
            if old > new or new > top:
                continue
            r = env.client.get(f"{P}/proof/consistency", params={"old": old, "new": new})
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["old"], body["new"]) == (old, new)
            proof = [unb64(p) for p in body["proof"]]
            old_root, new_root = env.store.root_at(old), env.store.root_at(new)
            assert merkle.verify_consistency(old, new, old_root, new_root, proof), (old, new)


def test_consistency_proof_between_signed_checkpoints(env: Env) -> None:
    """What a client does: both roots from the signed notes, not from the server's database."""
    first, *_, last = env.store.checkpoints()
    a = open_checkpoint(first["note"], env.log.verifier())
    b = open_checkpoint(last["note"], env.log.verifier())
    body = env.client.get(f"{P}/proof/consistency", params={"old": a.size, "new": b.size}).json()
    assert merkle.verify_consistency(
        a.size, b.size, a.root_hash, b.root_hash, [unb64(p) for p in body["proof"]]
    )


@pytest.mark.parametrize(
    "params",
    [
        {"old": 3, "new": 2},
        {"old": -1, "new": 2},
        {"old": 0, "new": -5},
        {"old": 1, "new": 10_000},
    ],
)
def test_consistency_bad_sizes(env: Env, params: dict[str, int]) -> None:
    assert_error(env.client.get(f"{P}/proof/consistency", params=params), 400, "bad_size")


def test_consistency_beyond_the_newest_checkpoint(env: Env) -> None:
    add_frames(Ingest(env.store), 9)  # entries without a checkpoint yet
    top = newest(env)["size"]
    assert env.store.ledger_size() > top
    err = assert_error(
        env.client.get(f"{P}/proof/consistency", params={"old": 1, "new": top + 1}), 400, "bad_size"
    )
    assert f"size {top}" in err["message"]


@pytest.mark.parametrize(
    "query",
    ["", "?old=1", "?new=2", "?old=a&new=2", "?old=1&new=2.5"],
    ids=["none", "no-new", "no-old", "nan", "float"],
)
def test_consistency_malformed_query(env: Env, query: str) -> None:
    assert_error(env.client.get(f"{P}/proof/consistency{query}"), 400, "invalid_request")


def test_inclusion_proofs_verify(env: Env) -> None:
    latest = newest(env)
    cp = open_checkpoint(latest["note"], env.log.verifier())
    for index in range(cp.size):
        r = env.client.get(f"{P}/proof/inclusion", params={"index": index, "size": cp.size})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["index"], body["size"]) == (index, cp.size)
        entry = env.client.get(f"{P}/entries/{index}").json()  # the public: the leaf hash, not the content
        assert body["leaf_hash"] == entry["leaf_hash"] and entry["withheld"] and entry["entry"] is None
        shown = env.client.get(f"{P}/entries/{index}", headers=admin(env)).json()
        leaf = merkle.leaf_hash(shown["entry"].encode("utf-8"))
        assert unb64(body["leaf_hash"]) == leaf and not shown["withheld"]
        assert merkle.verify_inclusion(leaf, index, cp.size, [unb64(p) for p in body["proof"]], cp.root_hash)
    # in an older checkpoint too
    first = env.store.checkpoints()[0]
    body = env.client.get(f"{P}/proof/inclusion", params={"index": 0, "size": first["size"]}).json()
    assert merkle.verify_inclusion(
        unb64(body["leaf_hash"]), 0, first["size"], [unb64(p) for p in body["proof"]], first["root"]
    )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"index": 5, "size": 5}, "bad_size"),
        ({"index": -1, "size": 5}, "bad_size"),
        ({"index": 0, "size": 0}, "bad_size"),
        ({"index": 0, "size": 10_000}, "bad_size"),
        ({"index": "x", "size": 3}, "invalid_request"),
        ({"size": 3}, "invalid_request"),
    ],
)
def test_inclusion_errors(env: Env, params: dict[str, Any], code: str) -> None:
    assert_error(env.client.get(f"{P}/proof/inclusion", params=params), 400, code)


# ---------------------------------------------------------------------------------------------- entries
def admin(env: Env) -> dict[str, str]:
    """The headers of an admin account's API token (made once per store)."""
    from argon2 import PasswordHasher

    from envtrust.workflow.identity import Accounts

    acc = Accounts(env.store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    if env.store.account("root") is None:
        acc.create("root", "admin", who="test", password=None)
    return {"Authorization": f"Bearer {acc.create_token('root', 'test', who='test')[1]}"}


def test_entries(env: Env) -> None:
    hidden = env.client.get(f"{P}/entries/0").json()  # a point's registry entry holds its PW hash: not public
    assert hidden["withheld"] and hidden["entry"] is None and hidden["type"] == "registry.point"
    env.client.headers.update(admin(env))
    first = env.client.get(f"{P}/entries/0").json()
    assert first["index"] == 0 and first["type"] == "registry.point" and first["ref"].startswith("points/")
    kind, ref, raw = env.store.entry(0) or ("", None, b"")
    assert (first["type"], first["ref"], first["entry"].encode("utf-8")) == (kind, ref, raw)
    assert json.loads(first["entry"])["type"] == "registry.point"
    assert unb64(first["leaf_hash"]) == merkle.leaf_hash(raw)
    frame_index = env.store.entry_index("frames/1")
    assert frame_index is not None
    frame = env.client.get(f"{P}/entries/{frame_index}").json()
    assert frame["type"] == "hj212.frame" and frame["ref"] == "frames/1"
    assert json.loads(frame["entry"])["id"] == 1


def test_entry_errors(env: Env) -> None:
    size = env.store.ledger_size()
    err = assert_error(env.client.get(f"{P}/entries/{size}"), 404, "no_entry")
    assert str(size) in err["message"]
    assert_error(env.client.get(f"{P}/entries/-1"), 400, "bad_index")
    assert_error(env.client.get(f"{P}/entries/one"), 400, "invalid_request")


# ---------------------------------------------------------------------------------------------- cosignatures
def test_cosignature_is_kept_and_shown(env: Env) -> None:
    latest = newest(env)
    now = int(time.time())
    cosigned = cosign(latest["note"], env.witness, now)
    r = post(env, cosigned)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["size"] == latest["size"] and unb64(receipt["root"]) == latest["root"]
    [held] = receipt["cosignatures"]
    assert (held["witness"], held["timestamp"], held["size"]) == (env.witness.name, now, latest["size"])
    datetime.fromisoformat(held["received"])

    # the same again: nothing new, 200
    again = post(env, cosigned)
    assert again.status_code == 200 and again.json()["cosignatures"] == receipt["cosignatures"]
    assert len(env.store.cosignatures(latest["size"])) == 1

    listed = env.client.get(f"{P}/cosignatures", params={"size": latest["size"]}).json()
    assert listed == receipt["cosignatures"]
    assert env.client.get(f"{P}/cosignatures", params={"size": 1}).json() == []
    assert env.client.get(f"{P}/cosignatures").json() == listed
    assert_error(env.client.get(f"{P}/cosignatures", params={"size": -1}), 400, "invalid_request")

    note = env.client.get(f"{P}/checkpoint").text
    assert open_checkpoint(note, env.log.verifier()).size == latest["size"]
    assert verify_cosignature(note, env.witness.verifier()) == now
    assert verify_cosignature(note, env.witness.cosignature_verifier()) == now
    [row] = [c for c in env.client.get(f"{P}/checkpoints").json() if c["size"] == latest["size"]]
    assert row["cosigned_by"] == [env.witness.name]


def test_older_checkpoints_and_several_witnesses(sqlite_url: str) -> None:
    log = Signer.generate(ORIGIN)
    w1, w2 = Signer.generate("w1.example"), Signer.generate("w2.example")
    with open_store(sqlite_url) as store:
        ingest = Ingest(store)
        ingest.load_registry(parse_registry(REGISTRY))
        cpr = Checkpointer(store, log, ORIGIN)
        add_frames(ingest, 0)
        cpr.checkpoint()
        add_frames(ingest, 1)
        cpr.checkpoint()
        first, second = store.checkpoints()
        app = create_app(
            store, log_verifier=log.verifier(), witnesses=[w1.verifier(), w2.cosignature_verifier()]
        )
        with TestClient(app) as client:
            # one note cosigned by both witnesses, for an older checkpoint
            both = cosign(cosign(first["note"], w1, 100), w2, 200)
            r = client.post(f"{P}/cosignatures", content=both.encode())
            assert r.status_code == 201
            assert {(c["witness"], c["timestamp"]) for c in r.json()["cosignatures"]} == {
                ("w1.example", 100),
                ("w2.example", 200),
            }
            assert (
                client.post(f"{P}/cosignatures", content=cosign(second["note"], w2, 300).encode()).status_code
                == 201
            )
            # a later cosignature of w1 replaces its earlier line in the served note
            assert (
                client.post(f"{P}/cosignatures", content=cosign(second["note"], w1, 400).encode()).status_code
                == 201
            )
            assert (
                client.post(f"{P}/cosignatures", content=cosign(second["note"], w1, 350).encode()).status_code
                == 201
            )
            note = client.get(f"{P}/checkpoint").text
            _, lines = parse_note(note)
            assert len(lines) == 3  # the log's, w1's newest, w2's
            assert verify_cosignature(note, w1.verifier()) == 400
            assert verify_cosignature(note, w2.verifier()) == 300
            rows = {c["size"]: c["cosigned_by"] for c in client.get(f"{P}/checkpoints").json()}
            assert sorted(rows[first["size"]]) == ["w1.example", "w2.example"]
            assert sorted(rows[second["size"]]) == ["w1.example", "w2.example"]


def test_a_bad_row_in_the_database_is_not_served(env: Env) -> None:
    latest = newest(env)
    good = cosign(latest["note"], env.witness, 1000)
    text, lines = parse_note(good)
    forged = lines[-1].line().replace(lines[-1].line().split(" ")[-1][:12], "AAAAAAAAAAAA")
    env.store.add_cosignature(latest["size"], env.witness.name, 2000, text + "\n" + lines[0].line() + forged)
    env.store.add_cosignature(latest["size"], env.witness.name, 3000, "not a note")
    note = env.client.get(f"{P}/checkpoint").text
    assert note == latest["note"]  # nothing verifiable to add
    assert post(env, good).status_code == 201
    assert verify_cosignature(env.client.get(f"{P}/checkpoint").text, env.witness.verifier()) == 1000


def test_cosignature_errors(env: Env) -> None:
    latest = newest(env)
    now = int(time.time())
    good = cosign(latest["note"], env.witness, now)

    assert_error(post(env, b""), 400, "empty_body")
    assert_error(post(env, b"\xff\xfe not utf-8"), 400, "bad_note")
    assert_error(post(env, "just some text\n"), 400, "bad_checkpoint")
    # signed by another log key
    impostor = Signer.generate(ORIGIN)
    cp = Checkpoint(ORIGIN, latest["size"], latest["root"])
    other = cosign(sign_checkpoint(cp, impostor), env.witness, now)
    assert_error(post(env, other), 400, "bad_checkpoint")
    # only the log's signature
    assert_error(post(env, latest["note"]), 400, "no_cosignature")
    # a witness this server does not know
    stranger = Signer.generate("stranger.example")
    err = assert_error(post(env, cosign(latest["note"], stranger, now)), 403, "unknown_witness")
    assert "stranger.example" in err["message"]
    # a known witness whose line does not verify (signed another time than it claims)
    text, lines = parse_note(good)
    payload = bytearray(lines[-1].signature)
    payload[7] ^= 1  # the timestamp
    from envtrust.ledger.note import NoteSignature

    bad = (
        text
        + "\n"
        + lines[0].line()
        + NoteSignature(lines[-1].name, lines[-1].key_hash, bytes(payload)).line()
    )
    assert_error(post(env, bad), 403, "invalid_cosignature")
    # dated far in the future
    assert_error(post(env, cosign(latest["note"], env.witness, now + 3600)), 400, "cosignature_in_future")
    # a checkpoint the log signed but never kept (a size without a checkpoint)
    unsigned_size = latest["size"] - 1
    never = sign_checkpoint(Checkpoint(ORIGIN, unsigned_size, env.store.root_at(unsigned_size)), env.log)
    assert_error(post(env, cosign(never, env.witness, now)), 409, "unknown_checkpoint")
    # same size, another root: not what this log keeps
    forked = sign_checkpoint(Checkpoint(ORIGIN, latest["size"], b"\x01" * 32), env.log)
    err = assert_error(post(env, cosign(forked, env.witness, now)), 409, "checkpoint_mismatch")
    assert b64(latest["root"]) in err["message"]
    # too large
    assert_error(post(env, good + "x" * MAX_NOTE_BYTES), 413, "body_too_large")
    # nothing of it was kept
    assert env.store.cosignatures() == []
    assert post(env, good).status_code == 201


def test_body_too_large_without_content_length(env: Env) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_NOTE_BYTES // 1024 + 2):
            yield b"x" * 1024

    r = env.client.post(f"{P}/cosignatures", content=chunks())
    assert_error(r, 413, "body_too_large")


# ---------------------------------------------------------------------------------------------- the rest
def test_unknown_route_and_wrong_method_have_the_error_shape(env: Env) -> None:
    assert_error(env.client.get("/api/v1/nothing"), 404, "not_found")
    r = env.client.delete(f"{P}/checkpoint")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers.get("allow", "")
    assert_error(env.client.put(f"{P}/cosignatures", content=b"x"), 405, "method_not_allowed")


def test_server_errors_have_the_error_shape(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(env.store, "latest_checkpoint", broken)
    assert_error(env.client.get(f"{P}/checkpoint"), 503, "store_unavailable")

    def bug(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(env.store, "checkpoints", bug)
    with TestClient(env.client.app, raise_server_exceptions=False) as client:
        err = assert_error(client.get(f"{P}/checkpoints"), 500, "internal_error")
    assert "bug" not in err["message"]


def test_openapi_document(env: Env) -> None:
    doc = env.client.get("/api/v1/openapi.json").json()
    expected = {
        ("/api/v1/ledger/checkpoint", "get"),
        ("/api/v1/ledger/checkpoints", "get"),
        ("/api/v1/ledger/proof/consistency", "get"),
        ("/api/v1/ledger/proof/inclusion", "get"),
        ("/api/v1/ledger/entries/{index}", "get"),
        ("/api/v1/ledger/cosignatures", "post"),
        ("/api/v1/ledger/cosignatures", "get"),
    }
    found = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert expected <= found
    for path, method in expected:
        op = doc["paths"][path][method]
        assert op.get("summary"), (path, method)
        assert "422" not in op["responses"]
    assert "text/plain" in doc["paths"]["/api/v1/ledger/checkpoint"]["get"]["responses"]["200"]["content"]
    post_op = doc["paths"]["/api/v1/ledger/cosignatures"]["post"]
    assert "text/plain" in post_op["requestBody"]["content"]
    assert {"201", "400", "403", "409"} <= set(post_op["responses"])
    schemas = doc["components"]["schemas"]
    assert "ErrorResponse" in schemas and "HTTPValidationError" not in schemas
    assert env.client.get("/api/v1/docs").status_code == 200
