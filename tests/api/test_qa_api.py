"""Quality-record routes: who may record and read what, errors in the one JSON shape, nothing changeable.

Two enterprises and two counties of one city (tests/scoped.py) try to reach each other's analysers, checks and
comparisons through every ``/api/v1/qa`` route; real SQLite and PostgreSQL stores, real tokens, TestClient.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envtrust.api import create_app
from envtrust.ingest.importer import import_file
from envtrust.keys import ledger_signer
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow.qa import QualityRecords
from scoped import CODES, P1, P2, REGISTRY, SEES, create_people, fast_accounts

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@dataclass
class Env:
    client: TestClient
    store: Store
    tokens: dict[str, str]

    def call(self, method: str, who: str | None, url: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        r = self.client.request(method, url, headers=headers, json=body)
        return r.status_code, r.json()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Env]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    store = open_store(db_url)
    ingest = Ingest(store)
    ingest.load_registry(parse_registry(REGISTRY))
    lines = ["mn,pollutant,time,value,flag,kind"]
    for mn, code in CODES.items():
        for m in range(120):
            lines.append(f"{mn},{code},2026-01-01T{8 + m // 60:02d}:{m % 60:02d}:00,{20 + m % 7},N,minute")
    csv = tmp_path / "data.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not import_file(ingest, csv).problems
    tokens = create_people(fast_accounts(store), None)
    app = create_app(store, log_verifier=ledger_signer("test.envtrust/ledger", create=True).verifier())
    with TestClient(app) as client:
        yield Env(client, store, tokens)
    store.close()


def analyser_body(mn: str, serial: str = "SN-1") -> dict[str, Any]:
    return {
        "mn": mn,
        "pollutant": CODES[mn],
        "serial_no": serial,
        "maker": "某仪器公司",
        "model": "M-1",
        "range_high": 100,
        "unit": "mg/m3",
        "valid_from": "2025-12-01T00:00:00",
    }


OWNER = {P1: "ent1", P2: "ent2"}
Q = "/api/v1/qa"


def test_only_the_points_enterprise_registers_its_analysers(env: Env) -> None:
    for who in SEES:
        for mn in (P1, P2):
            code, body = env.call("POST", who, f"{Q}/analysers", analyser_body(mn, f"{who}-{mn}"))
            if OWNER[mn] == who:
                assert code == 201, body
                assert body["record"]["recorded_by"] == who and body["entry"] >= 0
            elif mn in SEES[who]:
                assert code == 403 and body["error"]["code"] == "forbidden", (who, mn, body)
            else:
                assert code == 404 and body["error"]["code"] == "no_point", (who, mn, body)
    code, body = env.call("POST", None, f"{Q}/analysers", analyser_body(P1))
    assert code == 401 and body["error"]["code"] == "login_required"


def test_nobody_reads_or_records_on_anothers_analyser(env: Env) -> None:
    ids = {}
    for mn, who in OWNER.items():
        code, body = env.call("POST", who, f"{Q}/analysers", analyser_body(mn))
        ids[mn] = body["record"]["id"]
    for who in SEES:
        code, listed = env.call("GET", who, f"{Q}/analysers")
        assert code == 200 and {a["mn"] for a in listed} == SEES[who] & set(ids), who
        for mn, aid in ids.items():
            code, body = env.call("GET", who, f"{Q}/analysers/{aid}")
            assert code == (200 if mn in SEES[who] else 404), (who, mn, body)
            code, body = env.call("GET", who, f"{Q}/analysers/{aid}/records")
            assert code == (200 if mn in SEES[who] else 404), (who, mn, body)
            check = {
                "analyser_id": aid,
                "kind": "zero",
                "started": "2026-01-01T08:00:00",
                "reading": "0.3",
                "performed_by": "王工",
            }
            code, body = env.call("POST", who, f"{Q}/checks", check)
            want = 201 if OWNER[mn] == who else 403 if mn in SEES[who] else 404
            assert code == want, (who, mn, body)
            code, blocked = env.call("GET", who, f"{Q}/blocked?mn={mn}")
            assert code == 200 and (blocked == [] or mn in SEES[who])
    code, body = env.call("GET", None, f"{Q}/analysers/{ids[P1]}")
    assert code == 401
    # records are never changed or removed through the API
    for method in ("PUT", "PATCH", "DELETE"):
        code, body = env.call(method, "ent1", f"{Q}/analysers/{ids[P1]}", {})
        assert code == 405 and body["error"]["code"] == "method_not_allowed"


def test_supervisory_comparison_and_its_failure(env: Env) -> None:
    code, body = env.call("POST", "ent1", f"{Q}/analysers", analyser_body(P1))
    aid = body["record"]["id"]
    pairs = [
        {"start": f"2026-01-01T08:{10 * i:02d}:00", "end": f"2026-01-01T08:{10 * i + 9:02d}:59", "rm": rm}
        for i, rm in enumerate(["23.1", "23.0", "22.9", "23.2", "22.8", "23.0"])
    ] + [
        {"start": f"2026-01-01T09:{10 * i:02d}:00", "end": f"2026-01-01T09:{10 * i + 9:02d}:59", "rm": "80.0"}
        for i in range(3)
    ]
    comparison = {"analyser_id": aid, "pairs": pairs, "rm_source": "监督监测报告 2026-001"}
    code, body = env.call("POST", "shenhe", f"{Q}/comparisons", comparison)
    assert code == 404  # another county's point
    code, body = env.call("POST", "heping", f"{Q}/comparisons", comparison)
    assert code == 201, body
    rec = body["record"]
    assert rec["verdict"] == "fail" and rec["metric"] == "absolute" and len(rec["pairs"]) == 9
    assert all(p["readings"] == 10 for p in rec["pairs"])  # the analyser's side from its stored minutes
    code, blocked = env.call("GET", "heping", f"{Q}/blocked")
    assert code == 200 and [(b["mn"], b["kind"], b["end"]) for b in blocked] == [(P1, "comparison", None)]
    code, status = env.call("GET", "ent1", f"{Q}/analysers/{aid}")
    assert status["in_control"] is False and status["open"]["failed"] == [f"comparisons/{rec['id']}"]
    code, blocked = env.call("GET", "ent2", f"{Q}/blocked")
    assert blocked == []
    code, page = env.call("GET", "ent1", f"/api/v1/points/{P1}/readings?kind=minute&limit=5")
    assert (
        code == 200
        and [(r["valid"], r["reasons"]) for r in page["items"]] == [(False, ["out_of_control"])] * 5
    )
    code, page = env.call("GET", "ent2", f"/api/v1/points/{P2}/readings?kind=minute&limit=5")
    assert all(r["valid"] and r["reasons"] == [] for r in page["items"])
    short = {**comparison, "pairs": pairs[:4]}
    code, body = env.call("POST", "heping", f"{Q}/comparisons", short)
    assert code == 422 and body["error"]["code"] == "too_few_pairs" and "|" in body["error"]["message"]
    assert verify(env.store, None).ok


def test_lots_expiry_and_withdrawal(env: Env) -> None:
    code, body = env.call("POST", "ent1", f"{Q}/analysers", analyser_body(P1))
    aid = body["record"]["id"]
    lot = {
        "producer": "国家标准物质中心",
        "certificate_no": "GBW(E)080123",
        "lot_no": "2105",
        "material": "SO2/N2",
        "certified_value": "80.0",
        "unit": "mg/m3",
        "uncertainty": "1.6",
        "expires_on": "2025-12-31",
    }
    code, body = env.call("POST", None, f"{Q}/lots", lot)
    assert code == 401
    code, body = env.call("POST", "lab", f"{Q}/lots", lot)
    assert code == 201
    expired = body["record"]["id"]
    code, body = env.call("POST", "ent1", f"{Q}/lots", lot)
    assert code == 409 and body["error"]["code"] == "lot_exists"
    span = {
        "analyser_id": aid,
        "kind": "span",
        "started": "2026-01-01T08:30:00",
        "reading": "80.4",
        "performed_by": "王工",
        "lot_id": expired,
    }
    code, body = env.call("POST", "ent1", f"{Q}/checks", span)
    assert code == 422 and body["error"]["code"] == "lot_expired"
    assert "2025-12-31" in body["error"]["message"] and "过期" in body["error"]["message"]
    code, body = env.call("POST", "ent1", f"{Q}/checks", {**span, "lot_id": 999})
    assert code == 422 and body["error"]["code"] == "unknown_lot"
    code, body = env.call("POST", "ent1", f"{Q}/lots", {**lot, "lot_no": "2201", "expires_on": "2027-06-30"})
    fresh = body["record"]["id"]
    code, body = env.call("POST", "ent1", f"{Q}/checks", {**span, "lot_id": fresh})
    assert (
        code == 201 and body["record"]["verdict"] == "pass" and body["record"]["value"] == pytest.approx(0.4)
    )
    code, body = env.call("POST", "ent1", f"{Q}/lots/{fresh}/withdraw", {"reason": "泄漏"})
    assert code == 403
    code, body = env.call("POST", "heping", f"{Q}/lots/{fresh}/withdraw", {"reason": "泄漏 | leaking"})
    assert code == 201
    code, lots = env.call("GET", "ent2", f"{Q}/lots")
    assert {lot["id"]: bool(lot["withdrawn"]) for lot in lots} == {expired: False, fresh: True}
    code, body = env.call("POST", "ent1", f"{Q}/lots", {**lot, "lot_no": "x", "expires_on": "2026-02-30"})
    assert code == 400 and body["error"]["code"] == "bad_date"
    code, criteria = env.call("GET", None, f"{Q}/criteria")
    assert code == 200 and len(criteria["digest"]) == 64 and "hj75/so2" in criteria["config"]["profiles"]


def test_marks_and_traces_stay_within_scope(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from envtrust.workflow import signing
    from envtrust.workflow.lab import Lab

    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    init = Lab.__init__
    monkeypatch.setattr(Lab, "__init__", lambda self, *a, **k: init(self, *a, **{**k, "activation_s": 0}))
    phrase = {
        "ent1": "enterprise one passphrase",
        "ent2": "enterprise two passphrase",
        "heping": "heping passphrase",
    }
    for who, p in phrase.items():
        code, body = env.call("POST", who, "/api/v1/keys/person", {"passphrase": p})
        assert code == 201, body
    mark = {"mn": P1, "code": "maintenance", "start": "2026-01-01T08:30:00", "end": "2026-01-01T09:00:00",
            "reason": "更换探头", "passphrase": phrase["ent1"]}  # fmt: skip
    code, body = env.call("POST", "ent2", "/api/v1/marks", {**mark, "passphrase": phrase["ent2"]})
    assert code == 404  # another enterprise's point does not exist for ent2
    code, body = env.call("POST", "heping", "/api/v1/marks", {**mark, "passphrase": phrase["heping"]})
    assert code == 403 and body["error"]["code"] == "forbidden"
    code, prepared = env.call("POST", "ent1", "/api/v1/marks", {**mark, "prepare": True})
    assert code == 200 and '"act":"mark.data"' in prepared["statement"]
    code, body = env.call("POST", "ent1", "/api/v1/marks", mark)
    assert code == 201, body
    mid = body["id"]
    for who in SEES:
        code, listed = env.call("GET", who, "/api/v1/marks")
        assert code == 200 and [m["id"] for m in listed] == ([mid] if P1 in SEES[who] else []), who
    code, body = env.call("POST", "ent2", f"/api/v1/marks/{mid}/decision",
                          {"decision": "reject", "reason": "x", "passphrase": phrase["ent2"]})  # fmt: skip
    assert code == 404
    code, body = env.call("POST", "heping", f"/api/v1/marks/{mid}/decision",
                          {"decision": "reject", "reason": "未报备", "passphrase": phrase["heping"]})  # fmt: skip
    assert code == 201, body
    code, listed = env.call("GET", "ent1", f"/api/v1/marks?mn={P1}")
    assert listed[0]["state"] == "rejected"
    url = f"/api/v1/trace/hour/{P1}/a21026/2026-01-01T08:00:00"
    code, found = env.call("GET", "ent1", url)
    assert code == 200 and found["format"] == "envtrust-trace/v1" and found["verdict"]["valid_minutes"] == 60
    assert any(n["type"] == "mark.data" for n in found["nodes"])
    code, body = env.call("GET", "ent2", url)
    assert code == 404
    code, body = env.call("GET", None, url)
    assert code == 401
    code, body = env.call("GET", "ent1", f"/api/v1/trace/hour/{P1}/a21026/2026-01-01T08:30:00")
    assert code == 400 and body["error"]["code"] == "bad_time"
    # a day and one reading, with the same scopes
    for url in (
        f"/api/v1/trace/day/{P1}/a21026/2026-01-01",
        f"/api/v1/trace/reading/{P1}/a21026/2026-01-01T08:05",
    ):
        code, found = env.call("GET", "ent1", url)
        assert code == 200 and found["subject"]["kind"] in ("day", "reading"), found
        assert any(n["type"] == "hj212.frame" for n in found["nodes"]) or found["subject"]["kind"] == "day"
        assert env.call("GET", "ent2", url)[0] == 404 and env.call("GET", None, url)[0] == 401
    code, body = env.call("GET", "ent1", f"/api/v1/trace/day/{P1}/a21026/2026-01-01T08:00")
    assert code == 400 and body["error"]["code"] == "bad_time"
    code, body = env.call("GET", "ent1", f"/api/v1/trace/reading/{P1}/a21026/2026-01-01T08:05:30")
    assert code == 404 and body["error"]["code"] == "no_reading"
    code, body = env.call("GET", "ent1", f"/api/v1/trace/reading/{P1}/a21026/2026-01-01T08:05?kind=week")
    assert code in (400, 422) and "error" in body


def test_a_check_signed_by_the_operator(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from envtrust.workflow import signing
    from envtrust.workflow.lab import Lab

    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    init = Lab.__init__
    monkeypatch.setattr(Lab, "__init__", lambda self, *a, **k: init(self, *a, **{**k, "activation_s": 0}))
    monkeypatch.setattr(QualityRecords, "__init__", _no_wait_qa(QualityRecords.__init__))
    code, body = env.call("POST", "ent1", f"{Q}/analysers", analyser_body(P1))
    aid = body["record"]["id"]
    code, body = env.call("POST", "ent1", "/api/v1/keys/person", {"passphrase": "enterprise one passphrase"})
    assert code == 201
    check = {"analyser_id": aid, "kind": "zero", "started": "2026-01-01T08:00:00", "reading": "0.3",
             "performed_by": "王工"}  # fmt: skip
    code, prepared = env.call("POST", "ent1", f"{Q}/checks", {**check, "prepare": True})
    assert code == 200 and '"act":"qa.check"' in prepared["statement"]
    assert env.store.quality_rows("qa_checks") == []
    code, body = env.call("POST", "ent1", f"{Q}/checks", {**check, "passphrase": "wrong passphrase!!"})
    assert code == 401 and body["error"]["code"] == "bad_passphrase"
    code, body = env.call("POST", "ent1", f"{Q}/checks", {**check, "passphrase": "enterprise one passphrase"})
    assert code == 201 and body["record"]["sig_id"] is not None
    code, body = env.call("POST", "ent1", f"{Q}/checks", check)  # unsigned records stay possible
    assert code == 201, body
    assert body["record"]["sig_id"] is None
    assert verify(env.store, None).ok


def _no_wait_qa(init: Any) -> Any:
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "activation_s": 0})

    return wrapped
