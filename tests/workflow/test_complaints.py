"""Complaints on both backends: filed on the public form with a tracking code, or by staff from a phone call; handled
by the staff of the region with deadlines; followed by the complainant with the code alone; sealed in the public
ledger; never edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from envtrust.errors import RecordError
from envtrust.registry import parse_registry
from envtrust.services import Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow.complaints import Complaints
from envtrust.workflow.interference import Attachment
from scoped import P1, P3, REGISTRY, fast_accounts

NOW = to_utc_epoch(datetime(2026, 11, 20, 10, 0), "Asia/Shanghai")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as s:
        Ingest(s).load_registry(parse_registry(REGISTRY))
        acc = fast_accounts(s)
        for name, role, region in (("heping", "regulator", "210102"), ("shenhe", "regulator", "210103"),
                                   ("insp", "inspector", "2101"), ("labby", "lab", None)):  # fmt: skip
            acc.create(name, role, who="setup", password=None, region=region)
        yield s


def test_a_complaint_followed_with_its_code(store: Store) -> None:
    clock = [float(NOW)]
    c = Complaints(store, clock=lambda: clock[0])
    row, code = c.file(channel="web", subject="夜间烟囱冒黑烟", description="每晚 11 点后 1 号锅炉烟囱冒黑烟",
                       location="和平区某路 1 号", mn=P1, lat="41.79", lon="123.43", contact_name="王先生",
                       contact_phone="13800000000",
                       attachments=[Attachment("photo.jpg", "image/jpeg", b"\xff\xd8jpeg")])  # fmt: skip
    assert row["region"] == "210102" and len(code) == 19
    tracked = c.track(code)
    assert tracked["state"] == "received" and tracked["due"] == NOW + 3 * 86400 and not tracked["overdue"]
    assert c.track(code.lower().replace("-", " "))["id"] == row["id"]  # as read over the phone
    with pytest.raises(RecordError) as info:
        c.track("AAAA-BBBB-CCCC-DDDD")
    assert info.value.status == 404

    # the staff of the region see it; another county and lab staff do not
    assert [r["id"] for r in c.visible("heping")] == [row["id"]] and c.visible("insp")
    assert c.visible("shenhe") == [] and c.visible("labby") == []
    with pytest.raises(RecordError) as info:
        c.step(row["id"], action="accepted", username="shenhe")
    assert info.value.status == 404
    with pytest.raises(RecordError) as info:
        c.step(row["id"], action="replied", username="heping", reply="正在核实")
    assert info.value.code == "not_accepted"
    clock[0] += 4 * 86400
    assert c.track(code)["overdue"]  # not accepted within 3 days
    c.step(row["id"], action="accepted", username="heping", note="转执法大队")
    assert c.track(code)["due"] == clock[0] + 60 * 86400 and not c.track(code)["overdue"]
    c.step(row["id"], action="assigned", username="heping", assignee="insp")
    with pytest.raises(RecordError) as info:
        c.step(row["id"], action="assigned", username="heping", assignee="shenhe")
    assert info.value.code == "bad_assignee"
    with pytest.raises(RecordError) as info:
        c.step(row["id"], action="linked", username="insp", links=["alarms/99"])
    assert info.value.code == "no_record"
    c.step(row["id"], action="linked", username="insp", links=[f"points/{P1}"])
    c.step(row["id"], action="comment", username="insp", note="内部：该企业去年曾被处罚")
    c.step(row["id"], action="resolved", username="insp", reply="经现场检查，责令整改并立案处罚")
    with pytest.raises(RecordError) as info:
        c.step(row["id"], action="replied", username="insp", reply="x")
    assert info.value.status == 409
    tracked = c.track(code)
    assert tracked["state"] == "resolved" and tracked["due"] is None
    assert [s["action"] for s in tracked["steps"]] == ["accepted", "assigned", "linked", "resolved"]
    assert tracked["steps"][-1]["reply"] == "经现场检查，责令整改并立案处罚"
    assert "内部" not in json.dumps(tracked, ensure_ascii=False) and "insp" not in json.dumps(tracked)
    shown = c.show(row["id"], "heping")
    assert shown["links"] == [f"points/{P1}"] and shown["contact_name"] == "王先生"

    # the public ledger: a web complaint in 210102 was received and handled — not who or what
    for ref in (f"complaints/{row['id']}", f"attachments/{shown['attachments'][0]['id']}"):
        data = store.entry(store.entry_index(ref))[2].decode()  # type: ignore[arg-type,index]
        assert (
            "王先生" not in data and "13800000000" not in data and "黑烟" not in data and '"sealed"' in data
        )
    assert verify(store, None).ok
    with pytest.raises(DBAPIError, match="insert-only"), store.engine.begin() as conn:
        conn.execute(text("UPDATE complaints SET description = 'x'"))


def test_staff_enter_phone_complaints_and_bad_input_is_refused(store: Store) -> None:
    c = Complaints(store, clock=lambda: float(NOW))
    row, _ = c.file(channel="phone", subject="污水直排", description="河边有暗管", location="沈河区某河段",
                    region="210103", intake_by="shenhe")  # fmt: skip
    assert row["intake_by"] == "shenhe" and c.visible("shenhe")[0]["channel"] == "phone"
    for kwargs, code in (
        ({"channel": "phone"}, "forbidden"),  # the public files on the web form only
        ({"channel": "web", "intake_by": "labby"}, "forbidden"),
        ({"channel": "fax"}, "bad_kind"),
        ({"channel": "web", "region": ""}, "bad_region"),
        ({"channel": "web", "mn": "NOPE"}, "no_point"),
        ({"channel": "web", "region": "210103", "lat": "north"}, "bad_coordinate"),
        ({"channel": "web", "region": "210103", "subject": " "}, "missing"),
    ):
        fields = {"subject": "s", "description": "d", "location": "l", **kwargs}
        with pytest.raises(RecordError) as info:
            c.file(**fields)  # type: ignore[arg-type]
        assert info.value.code == code, kwargs
    row, _ = c.file(channel="web", subject="s", description="d", location="l", mn=P3)
    assert row["region"] == "210103"


def test_the_command_line(store: Store) -> None:
    from typer.testing import CliRunner

    from envtrust.cli import app

    db = ["--db", str(store.engine.url)]
    runner = CliRunner()
    done = runner.invoke(app, ["complaints", "file", "--as", "heping", "--channel", "phone", "--subject", "异味",
                               "--description", "夜间有刺鼻气味", "--location", "和平区某小区", "--mn", P1, *db])  # fmt: skip
    assert done.exit_code == 0, done.output
    code = done.stdout.strip()
    assert len(code) == 19 and "tracking code" in done.output
    listed = [
        json.loads(line)
        for line in runner.invoke(
            app, ["complaints", "list", "--as", "heping", "--json", *db]
        ).stdout.splitlines()
    ]
    assert [r["channel"] for r in listed] == ["phone"]
    cid = str(listed[0]["id"])
    assert (
        runner.invoke(
            app, ["complaints", "step", cid, "--action", "accepted", "--as", "heping", *db]
        ).exit_code
        == 0
    )
    done = runner.invoke(app, ["complaints", "step", cid, "--action", "resolved", "--as", "heping", "--reply",
                               "已查处", *db])  # fmt: skip
    assert done.exit_code == 0, done.output
    tracked = json.loads(runner.invoke(app, ["complaints", "track", code, *db]).stdout)
    assert tracked["state"] == "resolved" and tracked["steps"][-1]["reply"] == "已查处"
    refused = runner.invoke(
        app, ["complaints", "step", cid, "--action", "comment", "--as", "shenhe", "--note", "x", *db]
    )
    assert refused.exit_code != 0 and "no complaint" in refused.output
