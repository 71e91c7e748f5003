"""The interference register through the API on both backends: a record signed by a county station's analyst with
an attachment; every account of the shared site (two enterprises, two counties, the city, admin, lab) and a
discipline account try to read it, its attachment and its report; the escalation trail; no route edits or deletes
(405), and the answers keep the one JSON error shape."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from api.test_qa_api import Env, env  # noqa: F401  (the shared site and its client)
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.lab import Lab
from scoped import P1, fast_accounts

IR = "/api/v1/interference"
PHRASE = "a long enough passphrase"
AUDIO = b"\x00spoken instruction\xff" * 50


@pytest.fixture
def site(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:  # noqa: F811
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    monkeypatch.setenv("ENVTRUST_ORIGIN", "test.envtrust/ledger")  # the origin the site's checkpoints carry
    init = Lab.__init__
    monkeypatch.setattr(Lab, "__init__", lambda self, *a, **k: init(self, *a, **{**k, "activation_s": 0}))
    acc = fast_accounts(env.store)
    acc.create("jiwei", "discipline", who="setup", password=None, region="2101")
    env.tokens["jiwei"] = acc.create_token("jiwei", "test", who="setup")[1]
    for name in ("lab", "jiwei", "city", "heping"):
        code, body = env.call("POST", name, "/api/v1/keys/person", {"passphrase": PHRASE})
        assert code == 201, body
    return env


def body(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "region": "210102",
        "occurred_at": "2026-01-01T09:30:00",
        "actor_name": "张某",
        "actor_role": "副县长",
        "actor_org": "某县人民政府",
        "means": "spoken",
        "request": "要求删除 1 月 1 日 8 时的超标数据",
        "mns": [P1],
        "attachments": [
            {
                "name": "录音.m4a",
                "media_type": "audio/mp4",
                "content_base64": base64.b64encode(AUDIO).decode(),
            }
        ],
        "passphrase": PHRASE,
    }
    out.update(changes)
    return out


def test_an_interference_recorded_and_read_only_by_those_who_may(site: Env) -> None:
    code, rec = site.call("POST", "lab", IR, body())
    assert code == 201, rec
    rid = rec["id"]
    [att] = rec["attachments"]
    assert att["sha256"] == hashlib.sha256(AUDIO).hexdigest() and rec["entry"] is not None
    readers = {"lab", "city", "jiwei"}
    for who in site.tokens:
        code, listed = site.call("GET", who, IR)
        assert code == 200
        assert bool(listed) == (who in readers), who
        code, shown = site.call("GET", who, f"{IR}/{rid}")
        assert code == (200 if who in readers else 404), who
        if who not in readers:
            assert shown["error"]["code"] == "no_record"
        r = site.client.get(
            f"{IR}/{rid}/attachments/{att['id']}", headers={"Authorization": f"Bearer {site.tokens[who]}"}
        )
        assert r.status_code == (200 if who in readers else 404), who
        if who in readers:
            assert r.content == AUDIO and r.headers["x-content-type-options"] == "nosniff"
        code, report = site.call("GET", who, f"{IR}/report?by=region")
        assert code == 200 and report["total"] == (1 if who in readers else 0), who
    assert site.call("GET", None, IR)[0] == 401
    assert site.call("GET", None, f"{IR}/{rid}")[0] == 401

    # nothing edits or deletes a record
    for method in ("PUT", "PATCH", "DELETE"):
        code, answer = site.call(method, "jiwei", f"{IR}/{rid}", {"request": "无"})
        assert code == 405 and "error" in answer, method
    assert site.call("GET", "lab", f"{IR}/{rid}")[1]["request"] == "要求删除 1 月 1 日 8 时的超标数据"
    assert verify(site.store, None).ok


def test_the_escalation_trail_and_refusals(site: Env) -> None:
    code, rec = site.call("POST", "lab", IR, body(attachments=[]))
    rid = rec["id"]
    code, prepared = site.call(
        "POST", "lab", f"{IR}/{rid}/events", {"action": "reported", "to_whom": "市纪委监委", "prepare": True}
    )
    assert code == 200 and '"act":"interference.event"' in prepared["statement"]
    step = {"action": "reported", "to_whom": "市纪委监委", "note": "书面报送", "passphrase": PHRASE}
    assert site.call("POST", "lab", f"{IR}/{rid}/events", step)[0] == 201
    code, answer = site.call(
        "POST", "city", f"{IR}/{rid}/events", {"action": "received", "passphrase": PHRASE}
    )
    assert code == 403 and answer["error"]["code"] == "forbidden"
    code, answer = site.call(
        "POST", "heping", f"{IR}/{rid}/events", {"action": "comment", "note": "x", "passphrase": PHRASE}
    )
    assert code == 404  # the county office does not see the record
    assert (
        site.call("POST", "jiwei", f"{IR}/{rid}/events", {"action": "received", "passphrase": PHRASE})[0]
        == 201
    )
    code, answer = site.call(
        "POST", "jiwei", f"{IR}/{rid}/events", {"action": "received", "passphrase": "wrong one!!"}
    )
    assert code == 401 and answer["error"]["code"] == "bad_passphrase"
    shown = site.call("GET", "city", f"{IR}/{rid}")[1]
    assert shown["state"] == "received" and [e["action"] for e in shown["events"]] == ["reported", "received"]

    for changes, status in (
        ({"means": "telepathy"}, 400),
        ({"occurred_at": "yesterday"}, 400),
        ({"occurred_at": "2099-01-01T00:00:00"}, 422),
        ({"mns": ["NOPE"]}, 404),
        ({"attachments": [{"name": "a", "content_base64": "***"}]}, 400),
        ({"passphrase": None}, 400),
    ):
        code, answer = site.call("POST", "lab", IR, body(**changes))
        assert code == status and "error" in answer, (changes, answer)
    assert site.call("POST", "admin", IR, body())[0] == 403
    assert site.call("POST", None, IR, body())[0] == 401
    assert len(site.store.quality_rows("interference")) == 1


def test_a_draw_through_the_api_read_by_the_public(site: Env, tmp_path: Any) -> None:
    from envtrust.keys import ledger_signer
    from envtrust.services import Checkpointer
    from envtrust.workflow.inspection import verify_export

    acc = fast_accounts(site.store)
    for name, region in (("insp_hp", "210102"), ("insp_sh", "210103")):
        acc.create(name, "inspector", who="setup", password=None, region=region)
        site.tokens[name] = acc.create_token(name, "test", who="setup")[1]
        assert site.call("POST", name, "/api/v1/keys/person", {"passphrase": PHRASE})[0] == 201
    draw = {"title": "季度抽查", "region": "2101", "targets": 2, "inspectors_per_target": 1,
            "beacon_source": "福彩3D 2026-01-02"}  # fmt: skip
    assert site.call("POST", "ent1", "/api/v1/draws", draw)[0] == 403
    assert (
        site.call("POST", "heping", "/api/v1/draws", draw)[0] == 403
    )  # a county office draws only in its county
    assert site.call("POST", None, "/api/v1/draws", draw)[0] == 401
    code, rec = site.call("POST", "city", "/api/v1/draws", draw)
    assert code == 201 and rec["format"] == "envtrust-draw/v1" and "secret" not in rec, rec
    did = int(rec["draw_id"].rsplit("/", 1)[1])
    code, shown = site.call("GET", None, f"/api/v1/draws/{did}")  # the public reads the record
    assert code == 200 and shown["commitment"] == rec["commitment"]
    code, answer = site.call("POST", "city", f"/api/v1/draws/{did}/reveal", {})
    assert code == 422 and answer["error"]["code"] == "bad_reveal"  # the declared beacon's value is missing
    code, rec = site.call("POST", "city", f"/api/v1/draws/{did}/reveal", {"beacon_value": "5 0 8"})
    assert code == 201 and rec["selection"]["targets"]
    assert site.call("POST", "city", f"/api/v1/draws/{did}/reveal", {"beacon_value": "5 0 8"})[0] == 409
    code, answer = site.call("GET", None, f"/api/v1/draws/{did}/export")
    assert code == 409 and answer["error"]["code"] == "no_checkpoint"
    signer = ledger_signer("test.envtrust/ledger", create=True)
    Checkpointer(site.store, signer, "test.envtrust/ledger").checkpoint()
    code, exported = site.call("GET", None, f"/api/v1/draws/{did}/export")
    assert code == 200 and all(ok for _, ok, _ in verify_export(exported, log_key=signer.verifier()))
    listed = site.call("GET", None, "/api/v1/draws")[1]
    assert [d["id"] for d in listed] == [did] and listed[0]["revealed"]

    first = rec["selection"]["assignments"][0]
    inspection = {"target": first["target"], "inspected_at": "2026-01-01T10:00:00", "outcome": "problems",
                  "summary": "标气浓度与证书不符", "draw_id": did, "evidence": [f"points/{first['target']}"], "passphrase": PHRASE}  # fmt: skip
    [who] = first["inspectors"]
    other = "insp_sh" if who == "insp_hp" else "insp_hp"
    code, answer = site.call("POST", other, "/api/v1/inspections", inspection)
    assert code == 403 and answer["error"]["code"] == "not_assigned"
    code, row = site.call("POST", who, "/api/v1/inspections", inspection)
    assert code == 201 and row["sig_id"] is not None, row
    assert [i["id"] for i in site.call("GET", None, "/api/v1/inspections")[1]] == [row["id"]]
    assert verify(site.store, None).ok


def test_a_complaint_through_the_api_followed_with_its_code(site: Env) -> None:
    form = {"subject": "夜间冒黑烟", "description": "烟囱冒黑烟", "location": "和平区", "mn": P1,
            "contact_phone": "13800000000"}  # fmt: skip
    code, filed = site.call("POST", None, "/api/v1/complaints", form)  # the public, no account
    assert code == 201 and filed["tracking_code"] and filed["track"].endswith(filed["tracking_code"]), filed
    code, answer = site.call("POST", None, "/api/v1/complaints", {**form, "channel": "phone"})
    assert code == 403 and answer["error"]["code"] == "forbidden"
    tracked = site.call("GET", None, filed["track"])[1]
    assert tracked["state"] == "received" and tracked["steps"] == []
    assert site.call("GET", None, "/api/v1/complaints/track/AAAA-BBBB-CCCC-DDDD")[0] == 404
    cid = filed["id"]
    for who, status in (("heping", 200), ("city", 200), ("shenhe", 404), ("ent1", 404), ("admin", 404),
                        ("lab", 404)):  # fmt: skip
        assert site.call("GET", who, f"/api/v1/complaints/{cid}")[0] == status, who
    assert site.call("GET", None, "/api/v1/complaints")[0] == 401
    assert site.call("GET", "ent1", "/api/v1/complaints")[1] == []
    step = {"action": "accepted", "note": "转执法"}
    assert site.call("POST", "shenhe", f"/api/v1/complaints/{cid}/events", step)[0] == 404
    assert site.call("POST", "heping", f"/api/v1/complaints/{cid}/events", step)[0] == 201
    assert site.call("POST", "heping", f"/api/v1/complaints/{cid}/events", step)[0] == 409
    done = {"action": "resolved", "reply": "已责令整改", "note": "内部备注"}
    assert site.call("POST", "heping", f"/api/v1/complaints/{cid}/events", done)[0] == 201
    tracked = site.call("GET", None, filed["track"])[1]
    assert tracked["state"] == "resolved" and tracked["steps"][-1]["reply"] == "已责令整改"
    assert "内部备注" not in str(tracked)
    shown = site.call("GET", "city", f"/api/v1/complaints/{cid}")[1]
    assert shown["contact_phone"] == "13800000000" and shown["state"] == "resolved"
    # staff take phone complaints
    code, filed = site.call("POST", "heping", "/api/v1/complaints", {**form, "channel": "phone"})
    assert (
        code == 201
        and site.call("GET", "heping", f"/api/v1/complaints/{filed['id']}")[1]["intake_by"] == "heping"
    )


def test_credit_blacklist_orders_and_ranking_through_the_api(site: Env) -> None:
    from envtrust.alarms.book import AlarmBook
    from envtrust.qc import Finding
    from envtrust.qc.stream import Evaluation

    finding = Finding(P1, "a21026", "flat_line", "tampering", "high", 1_767_225_600, 1_767_229_200, "m", {})
    AlarmBook(site.store).apply([Evaluation(P1, [finding], ("flat_line",), 1_767_229_200)])
    alarm = f"alarms/{site.store.alarms()[0]['id']}"
    event = {"subject_kind": "enterprise", "subject_id": "91210102AAAAAAAA1A", "subject_name": "甲热电有限公司",
             "region": "210102", "kind": "negative", "points": -20, "reason": "篡改", "evidence": [alarm],
             "decision": "沈和环罚〔2026〕1号"}  # fmt: skip
    assert site.call("POST", "shenhe", "/api/v1/credit/events", event)[0] == 403
    assert site.call("POST", "ent1", "/api/v1/credit/events", event)[0] == 403
    assert site.call("POST", "heping", "/api/v1/credit/events", event)[0] == 201
    assert site.call("GET", None, "/api/v1/credit")[1][0]["score"] == 80
    listing = {k: v for k, v in event.items() if k not in ("kind", "points")}
    listing |= {"subject_kind": "operator", "subject_id": "91210102OPOPOPOP9X", "subject_name": "某运维公司",
                "starts_on": "2026-01-01", "ends_on": "2029-01-01"}  # fmt: skip
    code, row = site.call("POST", "heping", "/api/v1/blacklist", listing)
    assert code == 201, row
    assert [x["state"] for x in site.call("GET", None, "/api/v1/blacklist?active=true")[1]] == ["listed"]
    r = site.client.get("/api/v1/blacklist/export")
    assert (
        r.status_code == 200
        and r.content.startswith("\ufeff统一社会信用代码".encode())
        and "某运维公司" in r.text
    )
    step = {"action": "appeal_rejected", "note": "x"}
    code, answer = site.call("POST", "heping", f"/api/v1/blacklist/{row['id']}/events", step)
    assert code == 409 and answer["error"]["code"] == "no_appeal"
    order = {"order_no": "沈和环责改〔2026〕1号", "enterprise": "甲热电有限公司", "mns": [P1], "violation": "篡改",
             "evidence": [alarm], "served_on": "2026-01-01"}  # fmt: skip
    code, made = site.call("POST", "heping", "/api/v1/orders", order)
    assert code == 201, made
    recheck = {"rechecked_on": "2026-01-05", "result": "continued", "note": "仍在篡改"}
    assert site.call("POST", "heping", f"/api/v1/orders/{made['id']}/recheck", recheck)[0] == 201
    penalty = site.call("GET", None, f"/api/v1/orders/{made['id']}/penalty")[1]
    assert penalty["days"] == 4 and len(penalty["basis"]) == 4
    assert site.call("GET", None, "/api/v1/orders")[1][0]["days"] == 4
    assert site.call("GET", None, "/api/v1/counties/ranking?region=21")[0] == 401
    assert site.call("GET", "heping", "/api/v1/counties/ranking?region=2101")[0] == 403  # a county office
    code, ranked = site.call("GET", "city", "/api/v1/counties/ranking?region=2101")
    assert (
        code == 200
        and ranked[0]["county"] == "210102"
        and ranked[0]["continued_orders"] == [f"orders/{made['id']}"]
    )


def test_a_case_and_its_package_through_the_api(site: Env) -> None:
    import io
    import zipfile

    from envtrust.keys import ledger_signer
    from envtrust.services import Checkpointer
    from envtrust.workflow.cases import verify_package

    body = {"case_no": "C-9", "title": "篡改案", "enterprise": "甲热电有限公司", "mns": [P1],
            "start": "2026-01-01T08:00:00", "end": "2026-01-01T10:00:00", "summary": "案情"}  # fmt: skip
    assert site.call("POST", "ent1", "/api/v1/cases", body)[0] == 403
    assert site.call("POST", "shenhe", "/api/v1/cases", body)[0] == 404  # not its county's point
    code, case = site.call("POST", "heping", "/api/v1/cases", body)
    assert code == 201 and case["missing_documents"] == [
        "transfer_letter",
        "investigation_report",
        "site_record",
    ]
    assert site.call("GET", "shenhe", f"/api/v1/cases/{case['id']}")[0] == 404
    assert site.call("GET", None, "/api/v1/cases")[0] == 401
    for kind in ("transfer_letter", "investigation_report", "site_record"):
        doc = {"kind": kind, "title": kind, "file": {"name": f"{kind}.pdf", "media_type": "application/pdf",
                                                      "content_base64": base64.b64encode(b"%PDF x").decode()}}  # fmt: skip
        assert site.call("POST", "heping", f"/api/v1/cases/{case['id']}/documents", doc)[0] == 201
    signer = ledger_signer("test.envtrust/ledger", create=True)
    Checkpointer(site.store, signer, "test.envtrust/ledger").checkpoint()
    r = site.client.get(
        f"/api/v1/cases/{case['id']}/package", headers={"Authorization": f"Bearer {site.tokens['city']}"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert all(ok for _, ok, _ in verify_package(r.content, log_key=signer.verifier()))
    frames = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("case.json"))["evidence_list"]
    assert sum(x["kind"] == "frames" for x in frames) > 0


def test_oversight_records_stay_within_the_county_that_makes_them(site: Env) -> None:
    """A county regulator cannot reach another county's enterprise by naming its point beside an own one, typing
    an own region for it, or citing another county's records (nor records its own office may not read)."""
    from scoped import P3

    code, rec = site.call(
        "POST", "lab", IR, body()
    )  # an interference in Heping: hidden from the Heping office
    assert code == 201, rec
    hidden = f"interference/{rec['id']}"
    case = {"case_no": "C-X", "title": "篡改案", "enterprise": "甲热电有限公司", "mns": [P1, P3],
            "start": "2026-01-01T08:00:00", "end": "2026-01-01T10:00:00", "summary": "案情"}  # fmt: skip
    code, answer = site.call("POST", "heping", "/api/v1/cases", case)
    assert code == 403 and P3 in answer["error"]["message"], answer
    code, answer = site.call("POST", "heping", "/api/v1/cases", case | {"mns": [P1], "evidence": [hidden]})
    assert code == 404 and answer["error"]["code"] == "no_record", answer  # as if there were none
    code, answer = site.call(
        "POST", "heping", "/api/v1/cases", case | {"mns": [P1], "evidence": [f"points/{P3}"]}
    )
    assert code == 404, answer
    code, made = site.call("POST", "city", "/api/v1/cases", case | {"evidence": [hidden]})  # the city may
    assert code == 201 and made["region"] == "2101", made
    code, made_case = site.call(
        "POST", "city", "/api/v1/cases", case | {"case_no": "C-Y", "mns": [P1], "evidence": [hidden]}
    )
    assert code == 201 and made_case["region"] == "210102", (
        made_case
    )  # Heping's case, citing what it may not read
    order = {"order_no": "责改〔2026〕9号", "enterprise": "丙污水处理厂", "violation": "篡改",
             "evidence": [f"points/{P3}"], "served_on": "2026-01-01"}  # fmt: skip
    assert site.call("POST", "heping", "/api/v1/orders", order | {"mns": [P3]})[0] == 403
    code, answer = site.call("POST", "city", "/api/v1/orders", order | {"mns": [P1, P3]})
    assert code == 422 and answer["error"]["code"] == "bad_points", answer  # one enterprise per order
    event = {"subject_kind": "enterprise", "subject_id": "91210103CCCCCCCC3C", "subject_name": "丙污水处理厂",
             "region": "210102", "kind": "negative", "points": -20, "reason": "篡改", "evidence": [f"points/{P1}"],
             "decision": "沈和环罚〔2026〕2号"}  # fmt: skip
    code, answer = site.call("POST", "heping", "/api/v1/credit/events", event)
    assert code == 400 and answer["error"]["code"] == "bad_region", answer  # registered in Shenhe
    assert site.call("POST", "heping", "/api/v1/credit/events", event | {"region": "2101"})[0] == 403
    code, answer = site.call("POST", "shenhe", "/api/v1/credit/events", event | {"region": "210103"})
    assert code == 404, answer  # Shenhe may not cite a Heping point
    code, made = site.call(
        "POST", "shenhe", "/api/v1/credit/events", event | {"region": "21", "evidence": [f"points/{P3}"]}
    )
    assert code == 201 and made["region"] == "210103", made  # the region comes from the registry
    listing = {k: v for k, v in event.items() if k not in ("kind", "points")}
    listing |= {"starts_on": "2026-01-01", "ends_on": "2027-01-01"}
    code, answer = site.call("POST", "heping", "/api/v1/blacklist", listing)
    assert code == 400 and answer["error"]["code"] == "bad_region", answer
    inspection = {"target": P3, "inspected_at": "2026-01-01T09:00:00", "outcome": "fraud", "summary": "现场检查",
                  "passphrase": PHRASE}  # fmt: skip
    code, answer = site.call("POST", "heping", "/api/v1/inspections", inspection)
    assert code == 403 and answer["error"]["code"] == "forbidden", answer
    assert site.call("POST", "heping", "/api/v1/inspections", inspection | {"target": P3.lower()})[0] == 403
    assert site.call("POST", "heping", "/api/v1/inspections", inspection | {"target": P1})[0] == 201
    # a registered enterprise under a near-copy of its code, or under its name with another code
    for subject_id in ("91210103cccccccc3c", "９１２１０１０３ＣＣＣＣＣＣＣＣ３Ｃ", "91210103CCCCCCCC3X"):
        code, answer = site.call(
            "POST", "heping", "/api/v1/credit/events", event | {"subject_id": subject_id}
        )
        assert code == 400 and answer["error"]["code"] == "bad_region", (subject_id, answer)
    # … or with invisible characters, or letters of another alphabet that look the same: not identifiers at all
    for changes in ({"subject_id": "91210103CCCCCCCC3C\u200b"}, {"subject_id": "91210103СССССССС3С"},
                    {"subject_id": "91210103CCCCCCCC3X", "subject_name": "丙污水处理厂\u00ad"}):  # fmt: skip
        code, answer = site.call("POST", "heping", "/api/v1/credit/events", event | changes)
        assert code == 400 and answer["error"]["code"] == "bad_value", (changes, answer)
    for target in (P3 + "\u200b", P3.replace("0", "О")):  # (a Cyrillic O)
        code, answer = site.call("POST", "heping", "/api/v1/inspections", inspection | {"target": target})
        assert code == 400 and answer["error"]["code"] == "bad_value", (target, answer)
    # an order served on one enterprise's points in another's name
    code, answer = site.call(
        "POST", "heping", "/api/v1/orders", order | {"mns": [P1], "evidence": [f"points/{P1}"]}
    )
    assert code == 422 and "甲热电有限公司" in answer["error"]["message"], answer
    # a draw of "given" targets: a registered one is where the registry says, whatever region is typed
    draw = {"title": "抽查", "region": "210102", "targets": 1, "inspectors_per_target": 1, "beacon_source": "",
            "target_kind": "point", "given": [{"id": P3, "region": "210102"}]}  # fmt: skip
    code, answer = site.call("POST", "heping", "/api/v1/draws", draw)
    assert code == 422 and answer["error"]["code"] == "bad_target", answer
    # a case's package: only for who may read everything it cites
    for kind in ("transfer_letter", "investigation_report", "site_record"):
        doc = {"kind": kind, "title": kind, "file": {"name": f"{kind}.pdf", "media_type": "application/pdf",
                                                      "content_base64": base64.b64encode(b"%PDF x").decode()}}  # fmt: skip
        assert site.call("POST", "city", f"/api/v1/cases/{made_case['id']}/documents", doc)[0] == 201
    code, answer = site.call("GET", "heping", f"/api/v1/cases/{made_case['id']}/package")
    assert code == 403 and hidden in answer["error"]["message"], answer
    assert site.call("GET", "shenhe", f"/api/v1/cases/{made_case['id']}/package")[0] == 404  # not its case
