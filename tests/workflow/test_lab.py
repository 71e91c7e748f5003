"""The laboratory chain run by four people, each step signed with their own key; and the attempts the issue names:
altering a result, reviewing one's own work, signing for someone else, using an expired reference lot."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.errors import RecordError
from envtrust.ledger.note import Signer
from envtrust.registry import load_registry
from envtrust.report_pdf import render_report
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.lab import Lab, Signed
from envtrust.workflow.qa import QualityRecords
from scoped import fast_accounts

ORIGIN = "test.envtrust/ledger"
NOW = int(time.time())
PASS = {"samp": "山间小路采样人员签名口令", "ana": "analyst passphrase 01", "rev": "reviewer passphrase 2"}


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})


@pytest.fixture
def store(db_url: str, registry_file: Path) -> Iterator[Store]:
    with open_store(db_url) as s:
        s.load_registry(load_registry(registry_file))
        acc = fast_accounts(s)
        for name in ("samp", "ana", "rev", "rev2", "sig"):
            acc.create(name, "lab", who="admin", password=None)
        acc.create("root", "admin", who="setup", password=None)
        yield s


@pytest.fixture
def lab(store: Store) -> Lab:
    lab = Lab(store, origin=ORIGIN, activation_s=0, render=render_report, public_url="https://hb.example.cn")
    for name, functions in {
        "samp": ("sampler",),
        "ana": ("receiver", "analyst"),
        "rev": ("reviewer",),
        "rev2": ("reviewer",),
        "sig": ("signatory",),
    }.items():
        for f in functions:
            lab.grant(name, f, who="admin")
    for name, phrase in PASS.items():
        lab.create_sealed_key(name, phrase, who=name)
    return lab


@pytest.fixture
def sig_key(lab: Lab, store: Store) -> Signer:
    """The signatory holds her own key: only its public half and a proof of possession reach the server."""
    key = Signer.generate(signing.key_name(ORIGIN, "sig"))
    account = store.account("sig")
    assert account is not None
    pop = lab.proof_of_possession("sig", key, int(account["id"]))
    lab.register_key("sig", key.verifier().vkey(), pop, who="admin")
    return key


def lot(store: Store, expires: str, lot_no: str = "L1") -> int:
    r = QualityRecords(store).register_lot(
        producer="国家标准物质中心", certificate_no="GBW08617", lot_no=lot_no, material="COD 标准溶液",
        certified_value="100", unit="mg/L", uncertainty="2", expires_on=expires, who="ana",
    )  # fmt: skip
    return int(r.row["id"])


def by(name: str) -> Signed:
    return Signed(passphrase=PASS[name])


def run_to_analysis(lab: Lab, store: Store, lot_id: int) -> dict[str, Any]:
    lab.plan_sample("S-0612", matrix="废水", purpose="comparison", who="samp", mn="21010087654321")
    lab.custody("S-0612", "sampled", at=NOW - 7200, place="总排口", condition="4°C 冷藏", seal_no="F-01",
                username="samp", signed=by("samp"))  # fmt: skip
    lab.custody("S-0612", "transported", at=NOW - 5400, place="车辆 辽A-1234", condition="封条完好",
                seal_no="F-01", username="samp", signed=by("samp"))  # fmt: skip
    lab.custody("S-0612", "received", at=NOW - 3600, place="实验室", condition="封条完好 4°C", seal_no="F-01",
                username="ana", signed=by("ana"))  # fmt: skip
    return lab.analyse("S-0612", parameter="w01018", method="HJ 828-2017", instrument="滴定管 B-07",
                       raw_result="36.40", unit="mg/L", analysed_at=NOW - 1800, lot_ids=[lot_id],
                       username="ana", signed=by("ana"))  # fmt: skip


def test_a_report_cycle_by_four_people_is_signed_step_by_step(
    lab: Lab, store: Store, sig_key: Signer
) -> None:
    analysis = run_to_analysis(lab, store, lot(store, "2030-12-31"))
    assert analysis["raw_result"] == "36.40"  # as written: significant figures kept
    review = lab.review(
        analysis["id"], decision="approve", comment="复核无误", username="rev", signed=by("rev")
    )
    report = lab.issue("R-2026-0612", title="废水比对监测报告", analysis_ids=[analysis["id"]], username="sig",
                       signed=Signed(key=sig_key))  # fmt: skip
    sigs = store.quality_rows("signatures")
    assert len(sigs) == 6  # sampled, transported, received, analysis, review, report
    signers = {store.quality_rows("person_keys", id=s["key_id"])[0]["account_id"] for s in sigs}
    assert len(signers) == 4
    assert all(lab.check_signature(s["id"]) == (True, "ok") for s in sigs)
    assert {s["act"] for s in sigs} == {"lab.custody", "lab.analysis", "lab.review", "lab.report"}
    report_sig = store.quality_rows("signatures", id=report["sig_id"])[0]
    assert (
        '"report_no":"R-2026-0612"' in report_sig["note"]
        and "— test.envtrust/ledger/person/sig " in report_sig["note"]
    )
    assert review["reviewer"] == "rev"
    index = store.entry_index(f"reports/{report['id']}")
    assert index is not None and f'"ledger_index":{index}' in report_sig["note"]
    pdf = lab.report_pdf(
        "R-2026-0612"
    )  # rendered again from the ledgered records: the bytes that were signed
    assert hashlib.sha256(pdf).hexdigest() == report["pdf_sha256"]
    reader = PdfReader(io.BytesIO(pdf))
    words = "".join(page.extract_text() for page in reader.pages)
    assert "废水比对监测报告" in words and "36.40" in words and "R-2026-0612" in words
    assert all(name in words for name in ("samp", "ana", "rev", "sig"))
    assert (
        reader.metadata is not None
        and reader.metadata.subject == f"https://hb.example.cn/verify/entry/{index}"
    )
    runner = CliRunner()
    shown = runner.invoke(app, ["trace", "report", "R-2026-0612", "--json", "--db", str(store.engine.url)])
    assert shown.exit_code == 0, shown.output
    traced = json.loads(shown.stdout)
    assert traced["verdict"]["signatures_ok"] and traced["verdict"]["signers"] == [
        "ana",
        "rev",
        "samp",
        "sig",
    ]
    chain = lab.chain("S-0612")
    assert [s["act"] for s in chain["steps"]] == ["lab.custody"] * 3 + [
        "lab.analysis",
        "lab.review",
        "lab.report",
    ]
    assert all(s["signature_ok"] for s in chain["steps"])
    assert verify(store, None).ok
    with store.engine.begin() as conn:  # a forged signature line
        note = report_sig["note"].rsplit(" ", 1)[0] + " " + "A" * 88 + "\n"
        conn.execute(
            text("UPDATE signatures SET note = :n WHERE id = :i"), {"n": note, "i": report_sig["id"]}
        )
    problems = [(p.where, p.what) for p in verify(store, None).problems]
    assert (f"signatures row {report_sig['id']}", f"differs from its ledger entry {index - 1}") in problems
    assert any(
        w == f"signatures row {report_sig['id']}" and "does not verify" in what for w, what in problems
    )


def test_an_altered_result_is_found(lab: Lab, store: Store) -> None:
    analysis = run_to_analysis(lab, store, lot(store, "2030-12-31"))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE analyses SET raw_result = '30.1' WHERE id = :i"), {"i": analysis["id"]})
    report = verify(store, None)
    assert not report.ok and [p.where for p in report.problems] == [f"analyses row {analysis['id']}"]


def test_nobody_reviews_their_own_work_and_reviews_are_counted(
    lab: Lab, store: Store, sig_key: Signer
) -> None:
    analysis = run_to_analysis(lab, store, lot(store, "2030-12-31"))
    lab.grant("ana", "reviewer", who="admin")
    lab.grant("samp", "reviewer", who="admin")
    for who in ("ana", "samp"):
        with pytest.raises(RecordError) as info:
            lab.review(analysis["id"], decision="approve", comment="", username=who, signed=by(who))
        assert info.value.code == "own_work" and info.value.status == 403
    strict = Lab(store, origin=ORIGIN, activation_s=0, required_reviews=2)
    strict.review(analysis["id"], decision="approve", comment="", username="rev", signed=by("rev"))
    with pytest.raises(RecordError) as info:
        strict.review(analysis["id"], decision="approve", comment="again", username="rev", signed=by("rev"))
    assert info.value.code == "own_work"  # an earlier review is part of the chain
    with pytest.raises(RecordError) as info:
        strict.issue(
            "R-1", title="t", analysis_ids=[analysis["id"]], username="sig", signed=Signed(key=sig_key)
        )
    assert info.value.code == "reviews_missing" and info.value.status == 409
    lab.grant("ana", "signatory", who="admin")
    with pytest.raises(RecordError) as info:
        lab.issue("R-1", title="t", analysis_ids=[analysis["id"]], username="ana", signed=by("ana"))
    assert info.value.code == "own_work"
    lab.issue("R-1", title="t", analysis_ids=[analysis["id"]], username="sig", signed=Signed(key=sig_key))


def test_nobody_signs_for_someone_else(lab: Lab, store: Store, sig_key: Signer) -> None:
    analysis = run_to_analysis(lab, store, lot(store, "2030-12-31"))
    # rev tries to sign with the signatory's private key, and with the analyst's passphrase
    with pytest.raises(RecordError) as info:
        lab.review(analysis["id"], decision="approve", comment="", username="rev", signed=Signed(key=sig_key))
    assert info.value.code == "bad_signature"
    with pytest.raises(RecordError) as info:
        lab.review(analysis["id"], decision="approve", comment="", username="rev", signed=by("ana"))
    assert info.value.code == "bad_passphrase" and info.value.status == 401
    # a statement that names another signer, signed with a foreign key
    text_ = lab.prepare("rev", "lab.review", "reviewer", {"analysis_id": analysis["id"]}, [])
    forged = signing.sign_statement(text_, sig_key)
    with pytest.raises(RecordError) as info:
        lab.review(analysis["id"], decision="approve", comment="", username="rev", signed=Signed(note=forged))
    assert info.value.code == "bad_signature"
    # the administrator holds no function and signs nothing
    with pytest.raises(RecordError) as info:
        lab.grant("root", "reviewer", who="root")
    assert info.value.code == "forbidden"
    # a key an administrator registers for someone waits (24 h by default) before it can sign
    slow = Lab(store, origin=ORIGIN)
    stranger = Signer.generate(signing.key_name(ORIGIN, "rev2"))
    account = store.account("rev2")
    assert account is not None
    slow.register_key("rev2", stranger.verifier().vkey(), slow.proof_of_possession("rev2", stranger, account["id"]),
                      who="root")  # fmt: skip
    with pytest.raises(RecordError) as info:
        slow.review(
            analysis["id"], decision="approve", comment="", username="rev2", signed=Signed(key=stranger)
        )
    assert info.value.code == "key_not_active"
    # a revoked key signs nothing more; what it signed stays valid
    [key] = [k for k in lab.keys("rev") if not k["revoked"]]
    review = lab.review(analysis["id"], decision="approve", comment="ok", username="rev", signed=by("rev"))
    lab.revoke_key(key["id"], reason="离职 | left", who="rev")
    with pytest.raises(RecordError) as info:
        lab.review(analysis["id"], decision="reject", comment="", username="rev", signed=by("rev"))
    assert info.value.code in ("key_not_active", "own_work")
    assert lab.check_signature(review["sig_id"]) == (True, "ok")
    assert verify(store, None).ok


def test_sealed_keys_are_bound_to_their_account(store: Store, lab: Lab) -> None:
    [key] = store.quality_rows("person_keys", account_id=store.account("ana")["id"])  # type: ignore[index]
    blob = bytes(key["sealed"])
    assert signing.unseal(blob, PASS["ana"], account_id=key["account_id"], key=key["key_hash"])
    for damaged, account_id, phrase in (
        (blob, key["account_id"], "wrong passphrase!"),
        (blob[:-1] + bytes([blob[-1] ^ 1]), key["account_id"], PASS["ana"]),
        (blob, key["account_id"] + 1, PASS["ana"]),
    ):
        with pytest.raises(RecordError) as info:
            signing.unseal(damaged, phrase, account_id=account_id, key=key["key_hash"])
        assert info.value.code == "bad_passphrase"
    with pytest.raises(RecordError) as info:
        lab.create_sealed_key("rev2", "short", who="rev2")
    assert info.value.code == "weak_passphrase"
    entry = [e for i, kind, ref, e in store.iter_entries() if ref == f"person_keys/{key['id']}"]
    assert entry and b"sealed_sha256" in entry[0] and key["sealed_sha256"].encode() in entry[0]
    assert b'"sealed":' not in entry[0]  # the sealed secret itself is never in the public ledger


def test_expired_lot_retraction_and_retest(lab: Lab, store: Store) -> None:
    expired = lot(store, "2020-01-31", "OLD")
    size = store.ledger_size()
    with pytest.raises(RecordError) as info:
        run_to_analysis(lab, store, expired)
    assert info.value.code == "lot_expired" and "2020-01-31" in str(info.value)
    assert store.quality_rows("analyses") == []
    assert store.ledger_size() > size  # the sample and its custody were recorded; the analysis was not
    first = lab.analyse("S-0612", parameter="w01018", method="HJ 828-2017", instrument="滴定管 B-07",
                        raw_result="36.4", unit="mg/L", analysed_at=NOW - 1000, lot_ids=[lot(store, "2031-01-01")],
                        username="ana", signed=by("ana"))  # fmt: skip
    lab.retract(first["id"], reason="滴定终点判断有误 | wrong end point", username="ana", signed=by("ana"))
    with pytest.raises(RecordError) as info:
        lab.review(first["id"], decision="approve", comment="", username="rev", signed=by("rev"))
    assert info.value.code == "retracted"
    again = lab.analyse("S-0612", parameter="w01018", method="HJ 828-2017", instrument="滴定管 B-07",
                        raw_result="35.9", unit="mg/L", analysed_at=NOW - 500, retest_of=first["id"],
                        username="ana", signed=by("ana"))  # fmt: skip
    assert again["retest_of"] == first["id"]
    assert [a["raw_result"] for a in store.quality_rows("analyses")] == [
        "36.4",
        "35.9",
    ]  # the original is kept
