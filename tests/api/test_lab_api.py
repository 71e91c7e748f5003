"""A report cycle through the API by four people, each signing as themselves — with a server-sealed key and with a
key only the signatory holds (prepare, sign offline, send back) — and the attempts to sign for someone else."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from envtrust.api import create_app
from envtrust.keys import ledger_signer
from envtrust.ledger.note import Signer
from envtrust.registry import parse_registry
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.lab import Lab
from envtrust.workflow.qa import QualityRecords
from scoped import P3, REGISTRY, fast_accounts

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PHRASE = {"samp": "sampler passphrase 1", "ana": "analyst passphrase 1", "rev": "reviewer passphrase"}


@dataclass
class Env:
    client: TestClient
    store: Store
    tokens: dict[str, str]
    sig_key: Signer

    def call(self, method: str, who: str | None, url: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        r = self.client.request(method, url, headers=headers, json=body)
        return r.status_code, r.json() if r.headers.get("content-type", "").startswith(
            "application/json"
        ) else r


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Env]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("ENVTRUST_ORIGIN", "test.envtrust/ledger")
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    store = open_store(db_url)
    store.load_registry(parse_registry(REGISTRY))
    acc = fast_accounts(store)
    tokens = {}
    for name, role in (("samp", "lab"), ("ana", "lab"), ("rev", "lab"), ("sig", "lab"), ("admin", "admin")):
        acc.create(name, role, who="setup", password=None)
        tokens[name] = acc.create_token(name, "t", who="setup")[1]
    app = create_app(store, log_verifier=ledger_signer("test.envtrust/ledger", create=True).verifier())
    key = Signer.generate(signing.key_name("test.envtrust/ledger", "sig"))
    with TestClient(app) as client:
        env = Env(client, store, tokens, key)
        for name, function in (("samp", "sampler"), ("ana", "receiver"), ("ana", "analyst"), ("rev", "reviewer"),
                               ("sig", "signatory")):  # fmt: skip
            code, body = env.call(
                "POST", "admin", "/api/v1/lab/functions", {"username": name, "function": function}
            )
            assert code == 201, body
        # the lab test fixture's keys become active at once (the 24 h wait is tested in tests/workflow)
        monkeypatch.setattr(Lab, "__init__", _no_wait(Lab.__init__))
        for name, phrase in PHRASE.items():
            code, body = env.call("POST", name, "/api/v1/keys/person", {"passphrase": phrase})
            assert code == 201 and body["custody"] == "sealed", body
        account = store.account("sig")
        assert account is not None
        pop = Lab(store, origin="test.envtrust/ledger").proof_of_possession("sig", key, account["id"])
        code, body = env.call(
            "POST",
            "sig",
            "/api/v1/keys/person/register",
            {"username": "sig", "vkey": key.verifier().vkey(), "pop": pop},
        )
        assert code == 201, body
        yield env
    store.close()


def _no_wait(init: Any) -> Any:
    def wrapped(self: Lab, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "activation_s": 0})

    return wrapped


def local(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def test_a_report_cycle_through_the_api(env: Env) -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    lot = QualityRecords(env.store).register_lot(
        producer="国家标准物质中心", certificate_no="GBW08617", lot_no="L1", material="COD", certified_value="100",
        unit="mg/L", uncertainty="2", expires_on="2031-12-31", who="ana",
    ).row["id"]  # fmt: skip
    code, body = env.call(
        "POST",
        "samp",
        "/api/v1/lab/samples",
        {"sample_no": "S-1", "matrix": "废水", "purpose": "comparison", "mn": P3},
    )
    assert code == 201, body
    for who, step, minutes in (("samp", "sampled", 90), ("samp", "transported", 60), ("ana", "received", 30)):
        code, body = env.call(
            "POST", who, "/api/v1/lab/samples/S-1/custody",
            {"step": step, "at": local(now - timedelta(minutes=minutes)), "place": "总排口", "condition": "4°C",
             "passphrase": PHRASE[who]},
        )  # fmt: skip
        assert code == 201, body
    analysis = {
        "sample_no": "S-1", "parameter": "w01018", "method": "HJ 828-2017", "instrument": "滴定管 B-07",
        "raw_result": "36.40", "unit": "mg/L", "analysed_at": local(now - timedelta(minutes=10)), "lot_ids": [lot],
    }  # fmt: skip
    code, body = env.call("POST", "rev", "/api/v1/lab/analyses", {**analysis, "passphrase": PHRASE["rev"]})
    assert code == 403 and body["error"]["code"] == "no_function"  # not an analyst
    code, body = env.call(
        "POST", "ana", "/api/v1/lab/analyses", {**analysis, "passphrase": "wrong passphrase!"}
    )
    assert code == 401 and body["error"]["code"] == "bad_passphrase"
    code, body = env.call("POST", "ana", "/api/v1/lab/analyses", {**analysis, "passphrase": PHRASE["ana"]})
    assert code == 201, body
    aid = body["id"]
    # nobody reviews their own work; the reviewer cannot unlock another's key
    code, body = env.call(
        "POST",
        "ana",
        f"/api/v1/lab/analyses/{aid}/reviews",
        {"decision": "approve", "passphrase": PHRASE["ana"]},
    )
    assert code == 403 and body["error"]["code"] in ("own_work", "no_function")
    code, body = env.call(
        "POST",
        "rev",
        f"/api/v1/lab/analyses/{aid}/reviews",
        {"decision": "approve", "passphrase": PHRASE["ana"]},
    )
    assert code == 401 and body["error"]["code"] == "bad_passphrase"
    code, body = env.call(
        "POST",
        "rev",
        f"/api/v1/lab/analyses/{aid}/reviews",
        {"decision": "approve", "passphrase": PHRASE["rev"]},
    )
    assert code == 201, body
    # the administrator signs nothing
    code, body = env.call("POST", "admin", "/api/v1/keys/person", {"passphrase": "administrator passphrase"})
    assert code == 403
    # the signatory holds her own key: prepare, sign offline, send back
    report = {"report_no": "R-1", "title": "废水比对监测报告", "analysis_ids": [aid]}
    code, prepared = env.call("POST", "sig", "/api/v1/lab/reports", {**report, "prepare": True})
    assert code == 200 and prepared["statement"].startswith('{"act":"lab.report"')
    assert env.store.quality_rows("reports") == []  # preparing records nothing
    forged = signing.sign_statement(
        prepared["statement"], Signer.generate(signing.key_name("test.envtrust/ledger", "sig"))
    )
    code, body = env.call("POST", "sig", "/api/v1/lab/reports", {**report, "signed_note": forged})
    assert code == 403 and body["error"]["code"] == "bad_signature"
    code, body = env.call(
        "POST",
        "rev",
        "/api/v1/lab/reports",
        {**report, "signed_note": signing.sign_statement(prepared["statement"], env.sig_key)},
    )
    assert code == 403  # rev is no signatory, and the statement names sig
    note = signing.sign_statement(prepared["statement"], env.sig_key)
    code, body = env.call("POST", "sig", "/api/v1/lab/reports", {**report, "signed_note": note})
    assert code == 201, body
    code, pdf = env.call("GET", None, "/api/v1/lab/reports/R-1.pdf")
    assert code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "废水比对监测报告" in text and "36.40" in text
    code, chain = env.call("GET", "rev", "/api/v1/lab/samples/S-1")
    assert code == 200 and len(chain["steps"]) == 6 and all(s["signature_ok"] for s in chain["steps"])
    assert {s["by"] for s in chain["steps"]} == {"samp", "ana", "rev", "sig"}
    code, body = env.call("GET", None, "/api/v1/lab/samples/S-1")
    assert code == 401
    code, traced = env.call("GET", None, "/api/v1/trace/report/R-1")  # public, as the report is
    assert code == 200 and traced["verdict"]["signatures_ok"]
    assert traced["verdict"]["signers"] == ["ana", "rev", "samp", "sig"]
    assert {n["type"] for n in traced["nodes"]} >= {"lab.report", "lab.analysis", "lab.review", "lab.custody"}
    code, body = env.call("GET", None, "/api/v1/trace/report/NOPE")
    assert code == 404 and body["error"]["code"] == "no_report"
    assert verify(env.store, None).ok
