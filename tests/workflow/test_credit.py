"""Credit events, the blacklist (appeal, repair, the public list and its export), continuous daily penalties from an
order and its recheck with the alarms behind each day, and the county ranking — on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from envtrust.alarms.book import AlarmBook
from envtrust.errors import RecordError
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import parse_registry
from envtrust.services import Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.credit import EXPORT_COLUMNS, Credit, county_ranking, export_rows, penalty_days
from envtrust.workflow.inspection import Draws
from envtrust.workflow.interference import Interference
from envtrust.workflow.lab import Signed
from scoped import P1, P2, P3, REGISTRY, fast_accounts

NOW = to_utc_epoch(datetime(2026, 11, 20, 10, 0), "Asia/Shanghai")
PHRASE = "a long enough passphrase"


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    with open_store(db_url) as s:
        Ingest(s).load_registry(parse_registry(REGISTRY))
        acc = fast_accounts(s)
        for name, role, region, ent in (("heping", "regulator", "210102", None), ("shenhe", "regulator", "210103", None),
                                        ("prov", "regulator", "21", None), ("insp", "inspector", "2101", None),
                                        ("ent1", "enterprise", None, "甲热电有限公司"), ("labby", "lab", None, None)):  # fmt: skip
            acc.create(name, role, who="setup", password=None, region=region, enterprise=ent)
        # tampering at P1 on 2026-11-11 and 2026-11-13 (China time)
        day = to_utc_epoch(datetime(2026, 11, 11), "Asia/Shanghai")
        for start, check in ((day + 3600, "flat_line"), (day + 2 * 86400 + 7200, "zero_variance")):
            finding = Finding(P1, "a21026", check, "tampering", "high", start, start + 3600, "m", {})
            AlarmBook(s).apply([Evaluation(P1, [finding], (check,), start + 3600)])
        yield s


def test_penalty_days_follow_the_rule() -> None:
    assert penalty_days(date(2026, 11, 10), date(2026, 11, 20), "continued")[0] == 10
    assert penalty_days(date(2026, 11, 10), date(2026, 11, 11), "continued")[0] == 1
    assert penalty_days(date(2026, 11, 10), date(2026, 11, 20), "rectified")[0] == 0
    assert penalty_days(date(2026, 11, 10), None, None)[0] == 0
    days, rule = penalty_days(date(2026, 2, 27), date(2026, 3, 2), "continued")
    assert (
        days == 3 and "2026-02-28" in rule and "2026-03-02" in rule
    )  # from the day after service, both included


def test_orders_rechecks_and_the_penalty_with_its_basis(store: Store) -> None:
    credit = Credit(store, clock=lambda: float(NOW))
    alarms = sorted(a["id"] for a in store.alarms(closed=None))
    assert len(alarms) >= 1
    with pytest.raises(RecordError) as info:
        credit.order(username="shenhe", order_no="沈和环责改〔2026〕12号", enterprise="甲热电有限公司", mns=[P1],
                     violation="篡改监测数据", evidence=[f"alarms/{alarms[0]}"], served_on="2026-11-10")  # fmt: skip
    assert info.value.status == 403  # P1 is in Heping
    order = credit.order(username="heping", order_no="沈和环责改〔2026〕12号", enterprise="甲热电有限公司", mns=[P1],
                         violation="篡改监测数据", evidence=[f"alarms/{alarms[0]}"], served_on="2026-11-10")  # fmt: skip
    assert credit.penalty(order["id"])["days"] == 0  # not rechecked yet
    with pytest.raises(RecordError) as info:
        credit.recheck(
            order["id"], username="heping", rechecked_on="2026-11-09", result="continued", note="x"
        )
    assert info.value.code == "bad_span"
    credit.recheck(
        order["id"], username="heping", rechecked_on="2026-11-14", result="continued", note="复查仍在篡改"
    )
    with pytest.raises(RecordError) as info:
        credit.recheck(
            order["id"], username="heping", rechecked_on="2026-11-15", result="rectified", note="x"
        )
    assert info.value.status == 409
    found = credit.penalty(order["id"])
    assert found["days"] == 4 and [b["date"] for b in found["basis"]] == [
        "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-14"]  # fmt: skip
    with_alarms = [b["date"] for b in found["basis"] if b["alarms"]]
    assert with_alarms == ["2026-11-11", "2026-11-13"] and found["days_with_alarms"] == 2
    assert "第五十九条" in found["rule"] and "art. 59" in found["rule"]
    for bad, code in (({"evidence": ["alarms/9999"]}, "no_record"), ({"evidence": []}, "missing"),
                      ({"mns": ["NOPE"]}, "no_point"), ({"served_on": "11/10/2026"}, "bad_date"),
                      ({"served_on": "2027-01-01"}, "in_future")):  # fmt: skip
        fields = {"username": "heping", "order_no": "x", "enterprise": "甲", "mns": [P1], "violation": "v",
                  "evidence": [f"alarms/{alarms[0]}"], "served_on": "2026-11-10", **bad}  # fmt: skip
        with pytest.raises(RecordError) as info:
            credit.order(**fields)  # type: ignore[arg-type]
        assert info.value.code == code, bad
    assert verify(store, None).ok


def test_the_blacklist_with_appeal_repair_and_export(store: Store) -> None:
    clock = [float(NOW)]
    credit = Credit(store, clock=lambda: clock[0])
    alarm = min(a["id"] for a in store.alarms(closed=None))
    listing = credit.blacklist(username="heping", subject_kind="operator", subject_id="91210102MA0XXXXX1X",
                               subject_name="某运维有限公司", region="210102", reason="配合篡改自动监测数据",
                               evidence=[f"alarms/{alarm}"], decision="沈和环罚〔2026〕8号", starts_on="2026-11-01",
                               ends_on="2029-11-01")  # fmt: skip
    [shown] = credit.listings(active_only=True)
    assert shown["state"] == "listed" and shown["starts_on"] == "2026-11-01" and shown["entry"] is not None
    with pytest.raises(RecordError) as info:  # another county decides nothing here
        credit.blacklist_step(listing["id"], action="appealed", note="x", username="shenhe")
    assert info.value.status == 403
    credit.blacklist_step(listing["id"], action="appealed", note="我公司未参与", username="heping")
    assert credit.listings()[0]["state"] == "appealed"
    with pytest.raises(RecordError) as info:
        credit.blacklist_step(listing["id"], action="appealed", note="again", username="heping")
    assert info.value.code == "pending"
    credit.blacklist_step(listing["id"], action="appeal_rejected", note="证据确凿", username="heping")
    with pytest.raises(RecordError) as info:  # repair only after a year listed
        credit.blacklist_step(listing["id"], action="repaired", note="已整改", username="heping",
                              evidence=[f"alarms/{alarm}"])  # fmt: skip
    assert info.value.code == "too_early"
    clock[0] += 400 * 86400
    credit.blacklist_step(listing["id"], action="repaired", note="整改到位，信用修复", username="heping",
                          evidence=[f"alarms/{alarm}"])  # fmt: skip
    assert credit.listings(active_only=True) == [] and credit.listings()[0]["state"] == "repaired"
    rows = export_rows(credit.listings())
    assert list(rows[0]) == [h for h, _ in EXPORT_COLUMNS]
    assert rows[0]["统一社会信用代码"] == "91210102MA0XXXXX1X" and rows[0]["状态"] == "repaired"
    # the listed enterprise appeals its own listing with its own account
    own = credit.blacklist(username="heping", subject_kind="enterprise", subject_id="91210102AAAAAAAA1A",
                           subject_name="甲热电有限公司", region="210102", reason="篡改数据",
                           evidence=[f"alarms/{alarm}"], decision="d", starts_on="2027-12-01", ends_on="2030-12-01")  # fmt: skip
    credit.blacklist_step(own["id"], action="appealed", note="申请复核", username="ent1")
    with pytest.raises(RecordError):
        credit.blacklist_step(own["id"], action="appeal_upheld", note="x", username="ent1")
    credit.blacklist_step(own["id"], action="appeal_upheld", note="复核撤销", username="heping")
    assert [x["state"] for x in credit.listings()] == ["removed", "repaired"]
    assert verify(store, None).ok


def test_credit_scores_and_the_county_ranking(store: Store) -> None:
    credit = Credit(store, clock=lambda: float(NOW))
    alarm = min(a["id"] for a in store.alarms(closed=None))
    credit.record_event(username="heping", subject_kind="enterprise", subject_id="91210102AAAAAAAA1A",
                        subject_name="甲热电有限公司", region="210102", kind="negative", points=-20,
                        reason="篡改自动监测数据", evidence=[f"alarms/{alarm}"], decision="沈和环罚〔2026〕9号")  # fmt: skip
    with pytest.raises(RecordError) as info:
        credit.record_event(username="heping", subject_kind="enterprise", subject_id="x", subject_name="x",
                            region="210102", kind="negative", points=5, reason="r", evidence=[f"alarms/{alarm}"],
                            decision="d")  # fmt: skip
    assert info.value.code == "bad_value"
    [score] = credit.scores()
    assert score["score"] == 80 and score["events"][0]["evidence"] == [f"alarms/{alarm}"]

    # Heping: a fraud inspection and an interference; Shenhe: nothing
    draws = Draws(store, origin="t", activation_s=0, clock=lambda: float(NOW))
    draws.signer.create_sealed_key("insp", PHRASE, who="insp")
    draws.inspect(username="insp", signed=Signed(passphrase=PHRASE), target=P2, inspected_at=NOW - 86400,
                  outcome="fraud", summary="现场发现篡改", evidence=[f"alarms/{alarm}"])  # fmt: skip
    reg = Interference(store, origin="t", activation_s=0, clock=lambda: float(NOW))
    reg.signer.create_sealed_key("labby", PHRASE, who="labby")
    reg.record(username="labby", signed=Signed(passphrase=PHRASE), region="210102", occurred_at=NOW - 3600,
               actor_name="某", actor_role="副县长", actor_org="", means="hint", request="别报", other="县站")  # fmt: skip
    ranking = county_ranking(store, "21")
    assert [(c["county"], c["rank"], c["confirmed_fraud"], len(c["interference"])) for c in ranking] == [
        ("210102", 1, 1, 1), ("210103", 2, 0, 0)]  # fmt: skip
    assert (
        ranking[0]["fraud_inspections"]
        and ranking[0]["points"] == 2
        and ranking[0]["per_100_points"] == 100.0
    )
    assert county_ranking(store, "210103")[0]["county"] == "210103"
    assert county_ranking(store, "21", since=NOW + 10)[0]["total"] == 0
    assert P3  # the Shenhe point counts towards its county's rate


def test_the_command_line(store: Store) -> None:
    import json

    from typer.testing import CliRunner

    from envtrust.cli import app

    db = ["--db", str(store.engine.url)]
    alarm = f"alarms/{min(a['id'] for a in store.alarms(closed=None))}"
    runner = CliRunner()

    def ok(*args: str) -> str:
        done = runner.invoke(app, [*args, *db])
        assert done.exit_code == 0, done.output
        return done.stdout

    ok("credit", "event", "--as", "heping", "--subject-kind", "enterprise", "--subject-id", "91210102AAAAAAAA1A",
       "--subject-name", "甲热电有限公司", "--region", "210102", "--points", "-10", "--reason", "篡改",
       "--decision", "d1", "--evidence", alarm)  # fmt: skip
    assert json.loads(ok("credit", "scores", "--json"))["score"] == 90
    ok("blacklist", "add", "--as", "heping", "--subject-kind", "operator", "--subject-id", "X1", "--subject-name",
       "某运维公司", "--region", "210102", "--reason", "配合篡改", "--decision", "d2", "--starts-on", "2026-01-01",
       "--ends-on", "2030-01-01", "--evidence", alarm)  # fmt: skip
    assert "某运维公司" in ok("blacklist", "export")
    ok("blacklist", "step", "1", "--action", "appealed", "--note", "申诉", "--as", "heping")
    assert json.loads(ok("blacklist", "list", "--json"))["state"] == "appealed"
    ok("order", "serve", "--as", "heping", "--order-no", "o1", "--enterprise", "甲热电有限公司", "--mn", P1,
       "--violation", "篡改", "--served-on", "2026-11-10", "--evidence", alarm)  # fmt: skip
    ok("order", "recheck", "1", "--as", "heping", "--rechecked-on", "2026-11-14", "--result", "continued",
       "--note", "仍在篡改")  # fmt: skip
    assert json.loads(ok("order", "penalty", "1", "--json"))["days"] == 4
    assert "o1" in ok("order", "list")
    assert json.loads(ok("counties", "ranking", "--region", "2101", "--json"))[0]["continued_orders"] == [
        "orders/1"
    ]
    refused = runner.invoke(app, ["order", "recheck", "1", "--as", "shenhe", "--rechecked-on", "2026-11-15",
                                  "--result", "rectified", "--note", "x", *db])  # fmt: skip
    assert refused.exit_code != 0 and "outside your region" in refused.output
