"""Proof bundles (issue 3, item 6): ``envtrust proof`` exports one value or record with its entry, inclusion
proof, signed and cosigned checkpoint and public keys; ``verify-bundle`` checks it offline with nothing else.

How it is checked: "a proof bundle verifies on a machine that has only the bundle" — here a fresh Python
process in an empty directory, with no database, no key directory and no ENVTRUST_* settings, is given only
the bundle files.  Then every part of a bundle is tampered with in turn and the failed check must be named.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envtrust.bundle import (
    FORMAT,
    BundleError,
    load_vkey,
    make_bundle,
    read_bundle,
    verify_bundle,
    write_bundle,
)
from envtrust.errors import ConfigError, EnvtrustError
from envtrust.ingest.importer import import_file
from envtrust.ledger import note
from envtrust.ledger.note import Signer
from envtrust.registry import load_registry
from envtrust.services import Checkpointer, Ingest
from envtrust.store import Store, open_store

if TYPE_CHECKING:
    from conftest import FrameFactory

ORIGIN = "test.envtrust/ledger"
WITNESS = "witness.example/w1"
GAS = "21010012345678"
WATER = "21010087654321"
T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())  # 2026-01-01 08:00 in Asia/Shanghai


@dataclass
class World:
    store: Store
    ingest: Ingest
    signer: Signer
    witness: Signer
    checkpointer: Checkpointer
    uncovered_frame: int  # a frame stored after the newest checkpoint


def _record(ingest: Ingest, make_frame: FrameFactory, raws: list[bytes]) -> list[int]:
    events = [e for raw in raws for e in make_frame.decode(raw, ingest.decoder())]
    results = ingest.record(
        [ingest.prepare(e, peer="10.0.0.7:50123", received_us=T0 * 10**6 + 5) for e in events]
    )
    return [r.frame_id for r in results if r.frame_id is not None]


@pytest.fixture
def world(sqlite_url: str, registry_file: Path, make_frame: FrameFactory) -> Iterator[World]:
    """Registry, five gas minute frames, a water real-time frame, a duplicate and a quarantined frame; a signed
    checkpoint cosigned by a witness; then one more frame that no checkpoint covers yet."""
    signer, witness = Signer.generate(ORIGIN), Signer.generate(WITNESS)
    with open_store(sqlite_url) as store:
        ingest = Ingest(store)
        ingest.load_registry(load_registry(registry_file))
        raws = [
            make_frame(
                "2051",
                data_time=f"202601010{8 + i // 60}{i % 60:02d}00",
                items={
                    "a21026": {"Avg": f"{10 + i}.5", "Max": "20.0", "Flag": "N"},
                    "a19001": {"Avg": "7.1"},
                },
            )
            for i in range(5)
        ]
        raws.append(make_frame("2011", mn=WATER, items={"w01018": {"Rtd": "21.5", "Flag": "N"}}))
        raws.append(raws[0])  # a duplicate
        raws.append(make_frame("2051", mn=make_frame.unknown_mn))  # quarantined: unknown MN
        _record(ingest, make_frame, raws)
        checkpointer = Checkpointer(store, signer, ORIGIN)
        cp = checkpointer.checkpoint()
        assert cp is not None
        _cosign(store, witness, cp.size)
        [late] = _record(ingest, make_frame, [make_frame(data_time="20260101090000")])
        yield World(store, ingest, signer, witness, checkpointer, late)


def _cosign(store: Store, witness: Signer, size: int, timestamp: int = T0 + 3600) -> None:
    row = store.latest_checkpoint()
    assert row is not None and row["size"] == size
    store.add_cosignature(size, witness.name, timestamp, note.cosign(row["note"], witness, timestamp))


def _frame_id(store: Store, **where: object) -> int:
    return next(int(f["id"]) for f in store.frames() if all(f[k] == v for k, v in where.items()))


def _bundle(w: World, which: str) -> dict[str, Any]:
    v, witnesses = w.signer.verifier(), [w.witness.verifier()]
    if which == "frame":
        return make_bundle(w.store, frame_id=2, log_verifier=v, witness_verifiers=witnesses)
    if which == "reading":
        wanted = (GAS, "minute", "a21026", "2026-01-01T08:01:00")
        return make_bundle(w.store, reading=wanted, log_verifier=v, witness_verifiers=witnesses)
    index = 0 if which == "point" else w.store.entry_index("frames/3")
    return make_bundle(w.store, entry_index=index, log_verifier=v, witness_verifiers=witnesses)


def _bundles(w: World) -> dict[str, dict[str, Any]]:
    return {which: _bundle(w, which) for which in ("frame", "reading", "point", "entry")}


# ----------------------------------------------------------------------------------------------- offline
VERIFY_ONLY_THE_FILES = """
import json, sys
from envtrust.bundle import read_bundle, verify_bundle
out = {}
for path in sys.argv[1:]:
    report = verify_bundle(read_bundle(path))
    out[path] = {"ok": report.ok, "failed": [c.name for c in report.failed], "lines": report.lines(),
                 "pinned": report.log_key_pinned, "key_hash": report.log_key_hash,
                 "cosignatures": [c["name"] for c in report.cosignatures]}
print(json.dumps(out, ensure_ascii=False))
"""


def test_bundles_verify_in_a_fresh_process_that_has_only_the_files(world: World, tmp_path: Path) -> None:
    files = tmp_path / "received"
    files.mkdir()
    paths = []
    for name, bundle in _bundles(world).items():
        path = files / f"{name}.json"
        write_bundle(bundle, path)
        paths.append(str(path))
    world.store.close()
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-I", "-c", VERIFY_ONLY_THE_FILES, *paths],
        cwd=empty,
        env={"PATH": "/usr/bin:/bin", "HOME": str(empty), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for path in paths:
        r = results[path]
        assert r["ok"], (path, r["failed"], r["lines"])
        assert r["pinned"] is False and r["key_hash"] == world.signer.key_hash.hex()
        assert r["cosignatures"] == [WITNESS]
        assert any(
            "log key was taken from the bundle" in line and r["key_hash"] in line for line in r["lines"]
        )
        assert any("witness keys were taken from the bundle" in line for line in r["lines"])
    assert list(empty.iterdir()) == []  # nothing was created: no database, no keys


def test_a_reading_bundle_says_what_it_proves(world: World) -> None:
    bundle = _bundle(world, "reading")
    assert bundle["format"] == FORMAT and bundle["kind"] == "reading"
    assert set(bundle) == {
        "format",
        "kind",
        "summary",
        "record",
        "entries",
        "checkpoint",
        "keys",
        "generator",
        "created",
    }
    assert bundle["record"]["reading"]["avg"] == 11.5 and bundle["record"]["reading"]["data_time"] == T0 + 60
    assert bundle["record"]["frame"]["raw_text"].startswith("##")
    assert [e["role"] for e in bundle["entries"]] == ["frame", "point"]
    assert bundle["keys"] == {
        "log": world.signer.verifier().vkey(),
        "witnesses": [world.witness.verifier().vkey()],
    }
    assert bundle["checkpoint"]["note"].count("\n— ") == 2  # the log's signature and the witness's
    zh, en = bundle["summary"]["zh"], bundle["summary"]["en"]
    assert "某热电有限公司" in zh and "1号锅炉排放口" in zh and "2026-01-01 08:01:00+08:00" in zh
    assert "Avg=11.5" in zh and "分钟数据" in zh and "Asia/Shanghai" in en and "minute" in en
    report = verify_bundle(bundle, log_key=world.signer.verifier(), min_cosignatures=1)
    assert report.ok, report.lines()
    names = [c.name for c in report.checks]
    for name in ("format", "log_key", "checkpoint", "inclusion:frame", "inclusion:point", "record:frame"):
        assert name in names
    assert {"record:reading", "record:point", f"cosignature:{WITNESS}", "cosignatures", "summary"} <= set(
        names
    )
    assert report.log_key_pinned and report.log_key_hash == world.signer.key_hash.hex()
    assert report.tree_size == world.store.latest_checkpoint()["size"]  # type: ignore[index]
    assert report.summary == bundle["summary"]
    as_json = report.to_dict()
    assert as_json["ok"] and as_json["log_key"]["source"] == "pinned"
    assert as_json["cosignatures"][0]["timestamp"] == T0 + 3600
    json.dumps(as_json)


def test_reading_times_and_kinds_in_every_accepted_form(world: World) -> None:
    keys = {"log_verifier": world.signer.verifier()}
    forms = [
        (GAS, "minute", "a21026", T0 + 60),
        (GAS, "2051", "a21026", "2026-01-01 08:01:00"),
        (GAS, "MINUTE", "a21026", "2026-01-01T00:01:00+00:00"),
        (GAS, "minute", "a21026", datetime(2026, 1, 1, 0, 1, tzinfo=UTC)),
    ]
    made = [make_bundle(world.store, reading=f, **keys) for f in forms]  # type: ignore[arg-type]
    assert len({json.dumps(b["record"], sort_keys=True) for b in made}) == 1
    water = make_bundle(world.store, reading=(WATER, "rtd", "w01018", "2026-01-01T08:00:00"), **keys)  # type: ignore[arg-type]
    assert (
        verify_bundle(water).ok
        and "总排口" in water["summary"]["zh"]
        and "Rtd=21.5" in water["summary"]["en"]
    )


def test_quarantined_and_duplicate_frames_can_be_proven_too(world: World) -> None:
    keys = {"log_verifier": world.signer.verifier()}
    quarantined = make_bundle(world.store, frame_id=_frame_id(world.store, status="quarantine"), **keys)  # type: ignore[arg-type]
    assert [e["role"] for e in quarantined["entries"]] == ["frame"]  # an unknown MN has no registry entry
    assert "未登记的 MN" in quarantined["summary"]["zh"] and "quarantined" in quarantined["summary"]["en"]
    duplicate = make_bundle(world.store, frame_id=_frame_id(world.store, status="duplicate"), **keys)  # type: ignore[arg-type]
    for bundle in (quarantined, duplicate):
        assert verify_bundle(bundle, log_key=world.signer.verifier()).ok


def test_a_csv_reading_is_checked_against_its_line(world: World, tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_text(
        "mn,pollutant,time,value,flag,kind\n21010087654321,w21003,2026-01-02T10:00:00,1.25,N,hour\n"
    )
    report = import_file(world.ingest, path)
    assert report.stored == 1 and report.readings_new == 1
    world.checkpointer.checkpoint()
    bundle = make_bundle(
        world.store,
        reading=(WATER, "hour", "w21003", "2026-01-02T10:00:00"),
        log_verifier=world.signer.verifier(),
    )
    result = verify_bundle(bundle)
    assert result.ok, result.lines()
    assert "CSV" in next(c.message for c in result.checks if c.name == "record:reading")
    bundle["record"]["reading"]["avg"] = 2.5
    assert "record:reading" in [c.name for c in verify_bundle(bundle).failed]


# ----------------------------------------------------------------------------------------------- keys
def test_a_pinned_log_key_that_differs_from_the_bundles_fails(world: World) -> None:
    bundle = _bundle(world, "frame")
    other = Signer.generate(ORIGIN).verifier()
    report = verify_bundle(bundle, log_key=other)
    assert not report.ok
    failed = [c.name for c in report.failed]
    assert failed[:2] == ["log_key", "checkpoint"], failed
    assert report.log_key_pinned and report.log_key_hash == other.key_hash.hex()


def test_a_bundle_whose_own_key_was_swapped_fails_with_or_without_pinning(world: World) -> None:
    bundle = _bundle(world, "frame")
    bundle["keys"]["log"] = Signer.generate(ORIGIN).verifier().vkey()  # a forger's key, without its signature
    assert "checkpoint" in [c.name for c in verify_bundle(bundle).failed]
    assert "log_key" in [c.name for c in verify_bundle(bundle, log_key=world.signer.verifier()).failed]


def test_cosignatures_can_be_required(world: World, make_frame: FrameFactory) -> None:
    bundle = _bundle(world, "frame")
    assert verify_bundle(bundle, min_cosignatures=1).ok
    assert "cosignatures" in [c.name for c in verify_bundle(bundle, min_cosignatures=2).failed]
    # pinned witness keys: the real one verifies; an unknown witness verifies nothing
    assert verify_bundle(bundle, witness_keys=[world.witness.verifier()], min_cosignatures=1).ok
    stranger = verify_bundle(bundle, witness_keys=[Signer.generate(WITNESS).verifier()], min_cosignatures=1)
    assert [c.name for c in stranger.failed] == ["cosignatures"]
    assert any("not checked" in n for n in stranger.notes)
    # a newer checkpoint that no witness has cosigned yet
    _record(world.ingest, make_frame, [make_frame(data_time="20260101100000")])
    world.checkpointer.checkpoint()
    fresh = make_bundle(world.store, frame_id=2, log_verifier=world.signer.verifier())
    assert verify_bundle(fresh).ok
    report = verify_bundle(fresh, min_cosignatures=1)
    assert [c.name for c in report.failed] == ["cosignatures"]


def test_load_vkey_reads_strings_files_and_both_key_types(world: World, tmp_path: Path) -> None:
    v = world.witness.verifier()
    assert load_vkey(v.vkey()) == v
    assert load_vkey(v.cosignature_verifier().vkey()) == v.cosignature_verifier()
    path = tmp_path / "w.vkey"
    path.write_text(v.vkey() + "\n")
    assert load_vkey(str(path)) == v
    with pytest.raises(ConfigError):
        load_vkey("x+0000+AAAA")
    with pytest.raises(ConfigError):
        load_vkey(str(tmp_path / "missing.vkey"))


# ----------------------------------------------------------------------------------------------- tampering
def _flip_b64(text: str, at: int = 0) -> str:
    data = bytearray(base64.b64decode(text))
    data[at] ^= 0x01
    return base64.b64encode(bytes(data)).decode()


def _set_raw(b: dict[str, Any], raw: bytes) -> None:
    b["record"]["frame"]["raw_base64"] = base64.b64encode(raw).decode()
    b["record"]["frame"]["raw_text"] = raw.decode()


def _note_lines(b: dict[str, Any]) -> list[str]:
    lines: list[str] = b["checkpoint"]["note"].split("\n")
    return lines


def _set_note_lines(b: dict[str, Any], lines: list[str]) -> None:
    b["checkpoint"]["note"] = "\n".join(lines)


def _alter_cosignature(b: dict[str, Any]) -> None:
    lines = _note_lines(b)
    i = next(i for i, line in enumerate(lines) if line.startswith(f"— {WITNESS} "))
    prefix, sig = lines[i].rsplit(" ", 1)
    lines[i] = f"{prefix} {_flip_b64(sig, 30)}"
    _set_note_lines(b, lines)


def _alter_checkpoint_size(b: dict[str, Any]) -> None:
    lines = _note_lines(b)
    lines[1] = str(int(lines[1]) + 1)
    _set_note_lines(b, lines)


def _alter_entry(b: dict[str, Any]) -> None:
    e = b["entries"][0]
    e["entry"] = e["entry"].replace('"status":"ok"', '"status":"quarantine"')


Tamper = Callable[[dict[str, Any]], None]
TAMPERING: dict[str, tuple[str, Tamper, str]] = {
    # name: (bundle, how, the check that must fail)
    "a frame field": ("frame", lambda b: b["record"]["frame"].update(peer="10.9.9.9:1"), "record:frame"),
    "a frame's status": (
        "reading",
        lambda b: b["record"]["frame"].update(status="duplicate"),
        "record:frame",
    ),
    "the raw bytes": (
        "frame",
        lambda b: _set_raw(b, base64.b64decode(b["record"]["frame"]["raw_base64"]).replace(b"11.5", b"19.5")),
        "record:frame",
    ),
    "the raw text shown to people": (
        "frame",
        lambda b: b["record"]["frame"].update(
            raw_text=b["record"]["frame"]["raw_text"].replace("11.5", "19.5")
        ),
        "record:frame",
    ),
    "a reading value": ("reading", lambda b: b["record"]["reading"].update(avg=9.5), "record:reading"),
    "a reading flag": ("reading", lambda b: b["record"]["reading"].update(flag="F"), "record:reading"),
    "a reading time": (
        "reading",
        lambda b: b["record"]["reading"].update(data_time=b["record"]["reading"]["data_time"] + 60),
        "record:reading",
    ),
    "the entry": ("frame", _alter_entry, "inclusion:frame"),
    "a proof hash": (
        "reading",
        lambda b: b["entries"][0]["proof"].__setitem__(0, _flip_b64(b["entries"][0]["proof"][0])),
        "inclusion:frame",
    ),
    "a dropped proof hash": ("frame", lambda b: b["entries"][0]["proof"].pop(), "inclusion:frame"),
    "the index": (
        "frame",
        lambda b: b["entries"][0].update(index=b["entries"][0]["index"] + 1),
        "inclusion:frame",
    ),
    "the registry entry": (
        "reading",
        lambda b: b["entries"][1].update(
            entry=b["entries"][1]["entry"].replace("Asia/Shanghai", "Asia/Tokyo")
        ),
        "inclusion:point",
    ),
    "the checkpoint note": ("entry", _alter_checkpoint_size, "checkpoint"),
    "the log signature": (
        "point",
        lambda b: _set_note_lines(
            b,
            [
                f"{ln.rsplit(' ', 1)[0]} {_flip_b64(ln.rsplit(' ', 1)[1], 10)}"
                if ln.startswith(f"— {ORIGIN} ")
                else ln
                for ln in _note_lines(b)
            ],
        ),
        "checkpoint",
    ),
    "a cosignature": ("frame", _alter_cosignature, f"cosignature:{WITNESS}"),
    "the summary": (
        "reading",
        lambda b: b["summary"].update(zh=b["summary"]["zh"].replace("Avg=11.5", "Avg=1.5")),
        "summary",
    ),
    "an added field": ("frame", lambda b: b["record"]["frame"].update(remark="超标"), "format"),
    "the kind": ("reading", lambda b: b.update(kind="frame"), "format"),
}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_tampering_is_caught_and_named(world: World, what: str) -> None:
    which, act, check = TAMPERING[what]
    original = _bundle(world, which)
    assert verify_bundle(original).ok
    bundle = copy.deepcopy(original)
    act(bundle)
    assert bundle != original
    report = verify_bundle(bundle)
    failed = [c.name for c in report.failed]
    assert not report.ok, f"{what} went unnoticed"
    assert check in failed, (what, failed)
    assert any(what_failed.startswith(check) for what_failed in failed)


def test_tampering_survives_a_file_round_trip(world: World, tmp_path: Path) -> None:
    bundle = _bundle(world, "reading")
    path = tmp_path / "b.json"
    write_bundle(bundle, path)
    text = path.read_text(encoding="utf-8")
    assert "某热电有限公司" in text and text.endswith("}\n")  # pretty UTF-8, readable as it is
    assert verify_bundle(read_bundle(path)).ok
    path.write_text(text.replace('"avg": 11.5', '"avg": 1.5'), encoding="utf-8")
    assert "record:reading" in [c.name for c in verify_bundle(read_bundle(path)).failed]


MALFORMED: list[object] = [
    None,
    [],
    "bundle",
    {},
    {"format": "envtrust-proof-bundle/v2"},
    {"format": FORMAT},
    {"format": FORMAT, "kind": "frame", "record": {}, "entries": [], "checkpoint": {}, "keys": {}},
]


@pytest.mark.parametrize("bad", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bundles_fail_the_format_check(bad: object) -> None:
    report = verify_bundle(bad)
    assert not report.ok and [c.name for c in report.checks] == ["format"]
    assert "NOT verify" in report.lines()[-1]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


_CACHE: dict[int, dict[str, dict[str, Any]]] = {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_replaced_part_never_raises_and_never_passes_unnoticed(world: World, data: st.DataObject) -> None:
    made = _CACHE.setdefault(id(world), _bundles(world))
    original = made[data.draw(st.sampled_from(["frame", "reading", "point"]))]
    bundle = copy.deepcopy(original)
    path = data.draw(st.sampled_from(_paths(bundle)[1:]))
    target = bundle
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(JSON)
    report = verify_bundle(bundle)  # never raises
    report.lines()
    json.dumps(report.to_dict())
    informational = path[0] in ("generator", "created") or path[:2] == ("keys", "witnesses")
    if bundle != original and not informational:
        assert not report.ok, path


# ----------------------------------------------------------------------------------------------- files
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"format": "something else"}', "not an envtrust proof bundle"),
        (b'{"format": "envtrust-proof-bundle/v1", "format": "envtrust-proof-bundle/v1"}', "duplicate key"),
        (b'{"format": "envtrust-proof-bundle/v1", "x": NaN}', "NaN"),
    ],
)
def test_a_file_that_is_not_a_bundle_is_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    with pytest.raises(BundleError, match=message) as caught:
        read_bundle(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, EnvtrustError)


def test_missing_and_unwritable_files(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="cannot read"):
        read_bundle(tmp_path / "nope.json")
    with pytest.raises(BundleError, match="cannot write"):
        write_bundle({"format": FORMAT}, tmp_path / "no-such-dir" / "b.json")


# ----------------------------------------------------------------------------------------------- refusals
def test_what_cannot_be_proven_is_refused(world: World) -> None:
    v = world.signer.verifier()
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"frame_id": 999}, "no frame with id 999"),
        ({"entry_index": 999}, "no ledger entry 999"),
        ({"entry_index": -1}, "no ledger entry -1"),
        ({"reading": (GAS, "minute", "a21026", T0 + 7)}, "no such reading"),
        ({"reading": (GAS, "week", "a21026", T0)}, "not one of rtd"),
        ({"reading": ("00000000000000", "minute", "a21026", "2026-01-01T08:00:00")}, "no registered point"),
        ({"reading": (GAS, "minute", "a21026", "yesterday")}, "not ISO 8601"),
        ({"frame_id": world.uncovered_frame}, "not covered by a signed checkpoint"),
        ({"reading": (GAS, "minute", "a21026", "2026-01-01T09:00:00")}, "not covered by a signed checkpoint"),
        ({}, "exactly one"),
        ({"frame_id": 1, "entry_index": 1}, "exactly one"),
    ]
    for kwargs, message in refusals:
        with pytest.raises(BundleError, match=message):
            make_bundle(world.store, log_verifier=v, **kwargs)
    with pytest.raises(
        BundleError, match="does not verify"
    ):  # the wrong log key: nothing unverifiable leaves
        make_bundle(world.store, frame_id=1, log_verifier=Signer.generate(ORIGIN).verifier())


def test_nothing_is_proven_before_the_first_checkpoint(sqlite_url: str, registry_file: Path) -> None:
    with open_store(sqlite_url) as store:
        Ingest(store).load_registry(load_registry(registry_file))
        with pytest.raises(BundleError, match="no signed checkpoint yet"):
            make_bundle(store, entry_index=0, log_verifier=Signer.generate(ORIGIN).verifier())


def test_hostile_values_fail_without_raising(world: World) -> None:
    bundle = _bundle(world, "reading")
    hostile: list[Callable[[dict[str, Any]], None]] = [
        lambda b: b["record"]["reading"].update(data_time=10**30),
        lambda b: b["record"]["frame"].update(received_us=-(10**40)),
        lambda b: b["entries"][1].update(entry=b["entries"][1]["entry"].replace("Asia/Shanghai", "../../x")),
        lambda b: b["entries"][1].update(entry='{"type":"registry.point","point":{"mn":1}}'),
        lambda b: b["entries"][0].update(entry="[" * 100_000),
        lambda b: b["entries"][0].update(index=2**70),
        lambda b: b["record"]["frame"].update(raw_base64=base64.b64encode(b"##9999" + b"\xff" * 50).decode()),
        lambda b: b["checkpoint"].update(note="\u2014 \n\n"),
        lambda b: b["keys"].update(log="+", witnesses=["x+y+z"]),
    ]
    for act in hostile:
        tampered = copy.deepcopy(bundle)
        act(tampered)
        report = verify_bundle(tampered)
        assert not report.ok
        assert not any("cannot be checked" in c.message for c in report.checks), report.lines()
