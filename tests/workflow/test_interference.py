"""The interference register on both backends: a record signed by the person who made it, with an attachment; who
reads it (the recorder, discipline accounts and higher-level regulators of the region — not the county office, not
an administrator, not another county); the escalation trail; and the attempts to edit or delete it: refused by the
database, and found by ``envtrust verify`` when made around the refusal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from conftest import GAS_MN
from envtrust.errors import RecordError
from envtrust.registry import load_registry
from envtrust.services import Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.interference import Attachment, Interference
from envtrust.workflow.lab import Signed
from scoped import fast_accounts

ORIGIN = "test.envtrust/ledger"
T0 = to_utc_epoch(datetime(2026, 6, 1, 9, 30), "Asia/Shanghai")
PEOPLE = {  # name: (role, region, enterprise)
    "station": ("lab", None, None),  # a county monitoring station's analyst
    "county": ("regulator", "210102", None),
    "city": ("regulator", "2101", None),
    "other_city": ("regulator", "2102", None),
    "jiwei": ("discipline", "2101", None),
    "jiwei2": ("discipline", "210103", None),
    "admin1": ("admin", None, None),
    "ent": ("operator", None, "某热电有限公司"),
}
PHRASE = "a long enough passphrase"


@pytest.fixture
def store(db_url: str, registry_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    with open_store(db_url) as s:
        Ingest(s).load_registry(load_registry(registry_file))
        acc = fast_accounts(s)
        for name, (role, region, ent) in PEOPLE.items():
            acc.create(name, role, who="setup", password=None, region=region, enterprise=ent)
        yield s


@pytest.fixture
def register(store: Store) -> Interference:
    reg = Interference(store, origin=ORIGIN, activation_s=0, clock=lambda: float(T0 + 86400))
    for name in PEOPLE:
        if name != "admin1":
            reg.signer.create_sealed_key(name, PHRASE, who=name)
    return reg


def signed() -> Signed:
    return Signed(passphrase=PHRASE)


def record(reg: Interference, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "username": "station",
        "signed": signed(),
        "region": "210102",
        "occurred_at": T0,
        "actor_name": "张某",
        "actor_role": "副县长",
        "actor_org": "某县人民政府",
        "means": "spoken",
        "request": "要求将 6 月 1 日 10 时至 12 时的二氧化硫数据标记为停运",
        "mns": [GAS_MN],
        "attachments": [Attachment("录音.m4a", "audio/mp4", b"\x00recording\xff" * 100)],
    }
    fields.update(changes)
    return reg.record(**fields)  # type: ignore[arg-type]


def test_a_record_is_signed_ledgered_and_read_only_by_the_right_people(
    store: Store, register: Interference
) -> None:
    row = record(register)
    shown = register.show(int(row["id"]), "station")  # type: ignore[arg-type]
    assert shown["state"] == "recorded" and shown["touches"]["mns"] == [GAS_MN]
    [att] = shown["attachments"]
    assert (
        att["sha256"] == hashlib.sha256(b"\x00recording\xff" * 100).hexdigest() and att["name"] == "录音.m4a"
    )
    assert shown["entry"] is not None and store.entry_index(f"attachments/{att['id']}") is not None
    sig = store.quality_rows("signatures", id=row["sig_id"])[0]
    assert sig["act"] == "interference.record" and '"actor_name":"张某"' in sig["note"]
    assert register.attachment(int(row["id"]), att["id"], "jiwei")["data"] == b"\x00recording\xff" * 100  # type: ignore[arg-type]

    readers = {name for name in PEOPLE if register.visible(name)}
    assert readers == {
        "station",
        "city",
        "jiwei",
    }  # not the county office itself, nor other regions, nor admin
    for name in PEOPLE.keys() - readers:
        with pytest.raises(RecordError) as info:
            register.show(int(row["id"]), name)  # type: ignore[arg-type]
        assert info.value.status == 404
        with pytest.raises(RecordError):
            register.attachment(int(row["id"]), att["id"], name)  # type: ignore[arg-type]
    assert register.visible(None) == []  # the public

    # the ledger is public: its entries prove the record exists and never changed, without saying what it says
    import json

    from envtrust.ledger.entries import sealed_digest

    for ref in (f"interference/{row['id']}", f"signatures/{row['sig_id']}", f"attachments/{att['id']}"):
        _kind, _, data = store.entry(store.entry_index(ref))  # type: ignore[arg-type,misc]
        text = data.decode()
        assert "张某" not in text and "station" not in text and "录音" not in text and '"sealed"' in text, ref
    entry = json.loads(store.entry(store.entry_index(f"interference/{row['id']}"))[2])  # type: ignore[arg-type,index]
    assert set(entry) == {"type", "id", "region", "at_us", "sealed"} and entry["region"] == "210102"
    # shown the record and its salt, a discipline body checks it against the public entry
    full = store.quality_rows("interference", id=row["id"])[0]
    hidden = {k: (json.loads(v) if k in ("touches", "attachments") else v) for k, v in full.items()
              if k not in ("id", "region", "at_us", "salt")}  # fmt: skip
    assert sealed_digest(full["salt"], hidden) == entry["sealed"]
    assert sealed_digest(full["salt"], {**hidden, "actor_name": "王某"}) != entry["sealed"]
    assert verify(store, None).ok


def test_who_may_record_and_what_is_refused(store: Store, register: Interference) -> None:
    with pytest.raises(RecordError) as info:
        record(register, username="admin1")
    assert info.value.status == 403
    for changes, code in (
        ({"means": "telepathy"}, "bad_kind"),
        ({"region": "liaoning"}, "bad_region"),
        ({"occurred_at": T0 + 3 * 86400}, "in_future"),
        ({"mns": ["99999999999999"]}, "no_point"),
        ({"mns": [], "records": [], "other": ""}, "missing"),
        ({"request": "  "}, "missing"),
        ({"records": ["alarms/1; DROP TABLE"]}, "bad_ref"),
        ({"signed": Signed(passphrase="not the passphrase")}, "bad_passphrase"),
    ):
        with pytest.raises(RecordError) as info:
            record(register, **changes)
        assert info.value.code == code, changes
    assert store.quality_rows("interference") == [] and store.quality_rows("attachments") == []


def test_the_escalation_trail(store: Store, register: Interference) -> None:
    rid = int(record(register)["id"])  # type: ignore[arg-type]
    register.event(
        rid, action="reported", to_whom="市纪委监委", note="书面报送", username="station", signed=signed()
    )
    with pytest.raises(RecordError) as info:  # only discipline accounts receive and conclude
        register.event(rid, action="received", note="", username="city", signed=signed())
    assert info.value.status == 403
    with pytest.raises(RecordError) as info:  # the county office does not even see it
        register.event(rid, action="comment", note="?", username="county", signed=signed())
    assert info.value.status == 404
    with pytest.raises(RecordError) as info:
        register.event(rid, action="reported", to_whom="", note="", username="station", signed=signed())
    assert info.value.code == "missing"
    register.event(rid, action="received", note="已受理", username="jiwei", signed=signed())
    register.event(rid, action="comment", note="上级已关注", username="city", signed=signed())
    assert register.show(rid, "station")["state"] == "received"
    register.event(
        rid, action="concluded", note="立案审查，给予党内警告处分", username="jiwei", signed=signed()
    )
    with pytest.raises(RecordError) as info:
        register.event(rid, action="investigating", note="", username="jiwei", signed=signed())
    assert info.value.status == 409
    shown = register.show(rid, "city")
    assert shown["state"] == "concluded"
    assert [e["action"] for e in shown["events"]] == ["reported", "received", "comment", "concluded"]
    assert verify(store, None).ok


def test_reports_by_region_month_and_means(register: Interference) -> None:
    record(register)
    record(register, region="210103", means="letter", occurred_at=T0 - 40 * 86400)
    record(register, region="210102", means="letter")
    records = register.visible("jiwei")
    assert len(records) == 3
    assert register.report(records, by="region") == [
        {"key": "210102", "count": 2, "records": [1, 3]},
        {"key": "210103", "count": 1, "records": [2]},
    ]
    assert [(g["key"], g["count"]) for g in register.report(records, by="month")] == [
        ("2026-06", 2),
        ("2026-04", 1),
    ]
    assert [(g["key"], g["count"]) for g in register.report(records, by="means")] == [
        ("letter", 2),
        ("spoken", 1),
    ]
    assert register.report(records, by="region", level=4) == [
        {"key": "2101", "count": 3, "records": [1, 2, 3]}
    ]
    with pytest.raises(RecordError):
        register.report(records, by="colour")


def test_nobody_edits_or_deletes_a_record(store: Store, register: Interference) -> None:
    row = record(register)
    rid, att = int(row["id"]), register.show(int(row["id"]), "station")["attachments"][0]["id"]  # type: ignore[arg-type]
    register.event(rid, action="reported", to_whom="市纪委监委", note="", username="station", signed=signed())
    for sql in (
        "UPDATE interference SET request = '无' WHERE id = :i",
        "DELETE FROM interference WHERE id = :i",
        "UPDATE attachments SET data = :b WHERE id = :a",
        "DELETE FROM interference_events",
    ):
        with pytest.raises(DBAPIError, match="insert-only"), store.engine.begin() as conn:
            conn.execute(text(sql), {"i": rid, "a": att, "b": b"other"})
    assert register.show(rid, "station")["request"].startswith("要求将")
    assert verify(store, None).ok

    # someone with the database's owner rights drops the refusal first: the ledger still tells
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as conn:
        for table in ("interference", "attachments", "interference_events"):
            if postgres:
                conn.execute(text(f"DROP TRIGGER {table}_insert_only ON {table}"))
            else:
                conn.execute(text(f"DROP TRIGGER {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER {table}_no_delete"))
        conn.execute(text("UPDATE interference SET request = '无' WHERE id = :i"), {"i": rid})
        conn.execute(text("UPDATE attachments SET data = :b WHERE id = :a"), {"a": att, "b": b"other"})
    report = verify(store, None)
    assert {p.where for p in report.problems} == {
        f"interference row {rid}", f"attachments row {att}",
        "interference table", "attachments table", "interference_events table",  # the refusals are gone: said too
    }  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM interference_events WHERE interference_id = :i"), {"i": rid})
        conn.execute(text("DELETE FROM interference WHERE id = :i"), {"i": rid})
    report = verify(store, None)
    assert any("records interference row" in p.what and "missing" in p.what for p in report.problems)


def test_the_command_line(
    store: Store, register: Interference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from envtrust.cli import app
    from envtrust.workflow import interference as module

    monkeypatch.setenv("ENVTRUST_ORIGIN", ORIGIN)
    init = module.Interference.__init__
    monkeypatch.setattr(
        module.Interference, "__init__", lambda self, *a, **k: init(self, *a, **{**k, "activation_s": 0})
    )
    letter = tmp_path / "函.pdf"
    letter.write_bytes(b"%PDF-1.4 a letter")
    db = ["--db", str(store.engine.url)]
    runner = CliRunner()
    done = runner.invoke(
        app,
        ["interference", "record", "--as", "station", "--region", "210102", "--occurred", "2026-06-01T09:30",
         "--actor-name", "李某", "--actor-role", "局长", "--means", "letter", "--request", "请暂停该站数据上传",
         "--other", "县站 1 号子站", "--attach", str(letter), "--passphrase-stdin", *db],
        input=PHRASE + "\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "interference #1 recorded and signed" in done.output
    listed = runner.invoke(app, ["interference", "list", "--json", *db])
    [rec] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (
        rec["attachments"][0]["name"] == "函.pdf" and rec["attachments"][0]["media_type"] == "application/pdf"
    )
    assert runner.invoke(app, ["interference", "list", "--as", "county", "--json", *db]).stdout == ""
    done = runner.invoke(
        app,
        ["interference", "event", "1", "--action", "reported", "--to-whom", "县纪委监委", "--as", "station",
         "--passphrase-stdin", *db],
        input=PHRASE + "\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["interference", "show", "1", *db])
    assert "李某" in shown.stdout and "reported to 县纪委监委" in shown.stdout and "函.pdf" in shown.stdout
    report = runner.invoke(app, ["interference", "report", "--by", "means", "--json", *db])
    assert json.loads(report.stdout)["groups"] == [{"key": "letter", "count": 1, "records": [1]}]
    refused = runner.invoke(app, ["interference", "show", "9", *db])
    assert refused.exit_code != 0 and "no interference record #9" in refused.output
