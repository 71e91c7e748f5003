"""Case transfer on both backends: a case with the documents the law lists, packaged with the raw frames, alarms,
calibration records, sign-offs, inclusion proofs and the signed checkpoint; the package verified with nothing but
itself — and altered packages that fail."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import GAS_MN, GAS_PW
from envtrust import hj212
from envtrust.alarms.book import AlarmBook
from envtrust.errors import RecordError
from envtrust.hj212 import Item
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import load_registry
from envtrust.services import Checkpointer, Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.workflow.cases import Cases, verify_package
from envtrust.workflow.interference import Attachment
from envtrust.workflow.qa import QualityRecords
from scoped import fast_accounts

ORIGIN = "test.envtrust/ledger"
D0 = to_utc_epoch(datetime(2026, 6, 1, 8, 0), "Asia/Shanghai")


def frame(t: int) -> bytes:
    stamp = (datetime.fromtimestamp(t, UTC) + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")
    fields = [
        ("QN", stamp + "000"),
        ("ST", "31"),
        ("CN", "2051"),
        ("PW", GAS_PW),
        ("MN", GAS_MN),
        ("Flag", "5"),
    ]
    segment = hj212.encode_segment(
        fields, [("DataTime", stamp)], [Item("a21026", {"Avg": "20.0", "Flag": "N"}, "a21026")]
    )
    return b"##%04d%b%04X\r\n" % (len(segment), segment, hj212.crc16(segment))


@pytest.fixture
def store(db_url: str, registry_file: Path) -> Iterator[Store]:
    with open_store(db_url) as s:
        ingest = Ingest(s)
        ingest.load_registry(load_registry(registry_file))
        decoder = hj212.Decoder()
        batch = []
        for m in range(120):
            [event] = decoder.feed(frame(D0 + 60 * m))
            batch.append(ingest.prepare(event, peer="10.0.0.7:1", received_us=(D0 + 60 * m + 30) * 1_000_000))
        ingest.record(batch)
        acc = fast_accounts(s)
        acc.create("zhifa", "inspector", who="setup", password=None, region="2101")
        acc.create("other", "regulator", who="setup", password=None, region="2102")
        finding = Finding(GAS_MN, "a21026", "flat_line", "tampering", "high", D0, D0 + 3600, "m", {})
        AlarmBook(s).apply([Evaluation(GAS_MN, [finding], ("flat_line",), D0 + 3600)])
        rec = QualityRecords(s, clock=lambda: float(D0 + 7200))
        aid = rec.register_analyser(mn=GAS_MN, pollutant="a21026", serial_no="S-1", maker="m", model="M", range_low=0,
                                    range_high=100, unit="mg/m3", automatic=True, valid_from=D0 - 86400, who="op").row["id"]  # fmt: skip
        rec.record_check(analyser_id=aid, kind="zero", started=D0 + 600, ended=D0 + 700, reading="0.2",
                         performed_by="王工", who="op")  # fmt: skip
        yield s


def documents(cases: Cases, case_id: int) -> None:
    for kind, title in (("transfer_letter", "涉嫌犯罪案件移送书"), ("investigation_report", "调查报告"),
                        ("site_record", "现场勘查笔录")):  # fmt: skip
        cases.add_document(case_id, kind=kind, title=title, file=Attachment(f"{kind}.pdf", "application/pdf",
                           f"%PDF-1.4 {title}".encode()), username="zhifa")  # fmt: skip


def test_a_transfer_package_verified_with_nothing_but_itself(store: Store, tmp_path: Path) -> None:
    cases = Cases(store)
    case = cases.open(username="zhifa", case_no="沈环移〔2026〕1号", title="篡改自动监测数据案", enterprise="某热电有限公司",
                      mns=[GAS_MN], start=D0, end=D0 + 7200, summary="数采仪参数被修改",
                      evidence=[f"alarms/{store.alarms()[0]['id']}"])  # fmt: skip
    with pytest.raises(RecordError) as info:  # another city's office does not even see it
        cases.show(case["id"], "other")
    assert info.value.status == 404
    signer = ledger_signer(ORIGIN, tmp_path / "keys", create=True)
    with pytest.raises(RecordError) as info:
        cases.package(case["id"], username="zhifa", log_verifier=signer.verifier())
    assert info.value.code == "missing_documents"
    documents(cases, case["id"])
    assert cases.show(case["id"], "zhifa")["missing_documents"] == []
    with pytest.raises(RecordError) as info:
        cases.package(case["id"], username="zhifa", log_verifier=signer.verifier())
    assert info.value.code == "no_checkpoint"
    Checkpointer(store, signer, ORIGIN).checkpoint()
    data = cases.package(case["id"], username="zhifa", log_verifier=signer.verifier())

    z = zipfile.ZipFile(io.BytesIO(data))
    names = set(z.namelist())
    assert {"README.txt", "case.json", "records.jsonl", "checkpoint.txt", "keys.json", "manifest.json",
            "SHA256SUMS"} <= names  # fmt: skip
    assert sum(n.startswith("documents/") for n in names) == 3
    listed = json.loads(z.read("case.json"))["evidence_list"]
    kinds = {r["kind"] for r in listed}
    assert {"frames", "registry", "alarm_events", "analysers", "qa_checks", "cases", "case_documents",
            "attachments"} <= kinds  # fmt: skip
    assert sum(r["kind"] == "frames" for r in listed) == 120
    sums = z.read("SHA256SUMS").decode().splitlines()
    assert all(
        hashlib.sha256(z.read(line.split("  ", 1)[1])).hexdigest() == line.split("  ", 1)[0] for line in sums
    )

    checks = verify_package(data, log_key=signer.verifier())
    assert all(ok for _, ok, _ in checks), [c for c in checks if not c[1]]
    assert any(name == "records" and "records" in msg for name, _, msg in checks)

    def rezip(change: dict[str, bytes], *, fix_manifest: bool) -> bytes:
        files = {n: z.read(n) for n in z.namelist()} | change
        if fix_manifest:  # a forger who also rewrites the manifest
            manifest = {p: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for p, b in files.items()
                        if p not in ("manifest.json", "SHA256SUMS")}  # fmt: skip
            files["manifest.json"] = json.dumps({"files": manifest}).encode()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as out:
            for n, b in files.items():
                out.writestr(n, b)
        return buf.getvalue()

    def failing(data: bytes, **kw: object) -> set[str]:
        return {name.split(":")[0] for name, ok, _ in verify_package(data, **kw) if not ok}  # type: ignore[arg-type]

    doc = next(n for n in names if n.startswith("documents/"))
    assert failing(rezip({doc: b"%PDF forged"}, fix_manifest=False)) == {"files"}
    assert "record" in failing(
        rezip({doc: b"%PDF forged"}, fix_manifest=True)
    )  # the ledger knows the document
    lines = z.read("records.jsonl").decode().splitlines()
    frame_line = next(i for i, line in enumerate(lines) if '"table": "frames"' in line)
    rec = json.loads(lines[frame_line])
    raw = rec["row"]["raw"]["$b64"]
    rec["row"]["raw"]["$b64"] = raw[:-8] + ("A" if raw[-8] != "A" else "B") + raw[-7:]
    lines[frame_line] = json.dumps(rec)
    assert "record" in failing(
        rezip({"records.jsonl": ("\n".join(lines) + "\n").encode()}, fix_manifest=True)
    )
    other_key = ledger_signer("someone.else/log", tmp_path / "other", create=True).verifier()
    assert failing(data, log_key=other_key) == {"checkpoint"}
    assert failing(b"not a zip") == {"format"}


def test_the_command_line(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from envtrust.cli import app

    monkeypatch.setenv("ENVTRUST_ORIGIN", ORIGIN)
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    db = ["--db", str(store.engine.url)]
    runner = CliRunner()

    def ok(*args: str) -> str:
        done = runner.invoke(app, [*args, *db])
        assert done.exit_code == 0, done.output
        return done.output

    ok("case", "open", "--as", "zhifa", "--case-no", "C-1", "--title", "篡改案", "--enterprise", "某热电有限公司",
       "--mn", GAS_MN, "--start", "2026-06-01T08:00", "--end", "2026-06-01T10:00", "--summary", "案情")  # fmt: skip
    for kind in ("transfer_letter", "investigation_report", "site_record"):
        doc = tmp_path / f"{kind}.pdf"
        doc.write_bytes(b"%PDF " + kind.encode())
        ok("case", "document", "1", "--kind", kind, "--title", kind, "--file", str(doc), "--as", "zhifa")
    listed = json.loads(runner.invoke(app, ["case", "list", "--as", "zhifa", "--json", *db]).stdout)
    assert listed["missing_documents"] == [] and len(listed["documents"]) == 3
    signer = ledger_signer(ORIGIN, tmp_path / "keys", create=True)
    Checkpointer(store, signer, ORIGIN).checkpoint()
    archive = tmp_path / "case.zip"
    assert "envtrust case verify" in ok("case", "package", "1", "--as", "zhifa", "--out", str(archive))
    done = runner.invoke(app, ["case", "verify", str(archive), "--log-key", signer.verifier().vkey()])
    assert done.exit_code == 0 and "the package VERIFIES" in done.stdout, done.output
    archive.write_bytes(archive.read_bytes()[:-40])
    assert runner.invoke(app, ["case", "verify", str(archive)]).exit_code == 1
