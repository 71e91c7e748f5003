"""Quality records end to end on both backends: analysers, reference lots, checks and comparisons judged when
recorded, failures turning the right hours invalid (and alarms following), the QAL3 CUSUM, the ledger."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from conftest import GAS_MN, GAS_PW
from envtrust import hj212
from envtrust.errors import RecordError
from envtrust.hj212 import Item
from envtrust.quality import load_qc_config, point_rechecker, recheck_stored, stored_inputs
from envtrust.registry import load_registry
from envtrust.services import Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow.qa import QualityRecords

SO2, NOX = "a21026", "a21002"
H = 3600
D0 = to_utc_epoch(datetime(2026, 6, 1), "Asia/Shanghai")  # local midnight
DAYS = 5


def local(day: int, hour: int, minute: int = 0) -> int:
    return D0 + day * 86400 + hour * H + minute * 60


def so2_value(t: int) -> float:
    """20 mg/m³, except 50 (above the limit of 35) on day 2 from 10:00 to 12:00 and on day 4 from 10:00 to 11:00."""
    if local(2, 10) <= t < local(2, 12) or local(4, 10) <= t < local(4, 11):
        return 50.0
    return 20.0


def minute_frame(t: int) -> bytes:
    stamp = _stamp(t)
    items = [
        Item(SO2, {"Avg": f"{so2_value(t):.1f}", "Flag": "N"}, SO2),
        Item(NOX, {"Avg": "30.0", "Flag": "N"}, NOX),
    ]
    fields = [
        ("QN", stamp + "000"),
        ("ST", "31"),
        ("CN", "2051"),
        ("PW", GAS_PW),
        ("MN", GAS_MN),
        ("Flag", "5"),
    ]
    segment = hj212.encode_segment(fields, [("DataTime", stamp)], items)
    return b"##%04d%b%04X\r\n" % (len(segment), segment, hj212.crc16(segment))


def _stamp(t: int) -> str:
    return (datetime.fromtimestamp(t, UTC) + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")


@pytest.fixture
def store(db_url: str, registry_file: Path) -> Iterator[Store]:
    with open_store(db_url) as s:
        ingest = Ingest(s)
        ingest.load_registry(load_registry(registry_file))
        decoder = hj212.Decoder()
        batch = []
        for m in range(DAYS * 1440):
            t = D0 + 60 * m
            [event] = decoder.feed(minute_frame(t))
            batch.append(ingest.prepare(event, peer="10.0.0.7:1", received_us=(t + 30) * 1_000_000))
            if len(batch) == 2000:
                ingest.record(batch)
                batch = []
        ingest.record(batch)
        yield s


def records(store: Store) -> QualityRecords:
    return QualityRecords(store, recheck=point_rechecker(store), clock=lambda: float(local(DAYS, 0)))


def add_analysers(rec: QualityRecords) -> tuple[int, int]:
    ids = []
    for code, serial in ((SO2, "SO2-001"), (NOX, "NOX-001")):
        r = rec.register_analyser(
            mn=GAS_MN,
            pollutant=code,
            serial_no=serial,
            maker="某仪器公司",
            model="CEMS-2000",
            range_low=0,
            range_high=100,
            unit="mg/m3",
            automatic=True,
            valid_from=D0 - 30 * 86400,
            who="op.wang",
        )
        ids.append(int(r.row["id"]))
    return ids[0], ids[1]


def pairs(day: int, hour: int, rm: float) -> list[tuple[int, int, str]]:
    """Nine 10-minute runs from ``hour`` on ``day`` with the reference-method result ``rm`` each."""
    start = local(day, hour)
    return [(start + 600 * i, start + 600 * (i + 1), f"{rm + 0.1 * (i % 3):.1f}") for i in range(9)]


def hourly_counts(store: Store, rec: QualityRecords, code: str) -> dict[int, int]:
    inputs = stored_inputs(store, store.points(), mns=[GAS_MN], blocked=rec.blocked([GAS_MN]))
    [pd] = inputs.points
    agg = pd.hourly(code)
    return {int(s): int(c) for s, c in zip(agg.start, agg.count, strict=True)}


def alarms(store: Store, check: str) -> list[dict[str, Any]]:
    return store.alarms(closed=None, check=check, mn=GAS_MN)


# ----------------------------------------------------------------------------------------------- comparison
def test_a_failed_comparison_turns_the_right_hours_invalid(store: Store) -> None:
    configured = load_qc_config(None)

    def exceedances() -> tuple[list[int], list[Any]]:
        done = recheck_stored(store, configured=configured, mns=[GAS_MN], now=local(DAYS, 0))
        hours = sorted(f.start for f in done.findings if f.check == "exceedance_hour")
        return hours, [f for f in done.findings if f.check == "qa_out_of_control"]

    assert exceedances() == ([local(2, 10), local(4, 10)], [])
    rec = records(store)
    so2, _ = add_analysers(rec)
    passed = rec.record_comparison(
        analyser_id=so2, pairs=pairs(0, 9, 20.3), rm_source="RM-2026-001", who="lab.li"
    )
    assert passed.row["verdict"] == "pass" and passed.row["metric"] == "absolute"
    assert passed.rechecked is None  # nothing was out of control, nothing changed
    failed = rec.record_comparison(
        analyser_id=so2, pairs=pairs(2, 14, 45.0), rm_source="RM-2026-002", who="lab.li"
    )
    assert failed.row["verdict"] == "fail"
    assert failed.rechecked is not None and failed.rechecked["opened"] >= 1  # qa_out_of_control at least
    retest = rec.record_comparison(
        analyser_id=so2, pairs=pairs(3, 10, 20.0), rm_source="RM-2026-003", who="lab.li"
    )
    assert retest.row["verdict"] == "pass"
    assert retest.rechecked is not None

    [span] = rec.blocked([GAS_MN])[GAS_MN][SO2]
    assert (span.start, span.end) == (local(0, 10, 30), local(3, 10))
    assert span.failed == (f"comparisons/{failed.row['id']}",)
    assert span.last_pass == f"comparisons/{passed.row['id']}"
    assert span.next_pass == f"comparisons/{retest.row['id']}"
    assert NOX not in rec.blocked([GAS_MN])[GAS_MN]

    counts = hourly_counts(store, rec, SO2)
    assert counts[local(0, 9)] == 60 and counts[local(0, 10)] == 30  # half the hour before the span began
    assert all(counts[local(0, h)] == 0 for h in range(11, 24))
    assert all(counts[local(d, h)] == 0 for d in (1, 2) for h in range(24))
    assert all(counts[local(3, h)] == 0 for h in range(10))
    assert all(counts[local(3, h)] == 60 for h in range(10, 24))
    assert all(c == 60 for c in hourly_counts(store, rec, NOX).values())

    hours, [ooc] = exceedances()
    assert hours == [local(4, 10)]  # an invalid hour is no exceedance
    assert (ooc.pollutant, ooc.start, ooc.end) == (SO2, local(0, 10, 30), local(3, 10))
    assert ooc.evidence["failed"] == [f"comparisons/{failed.row['id']}"]
    assert [a["pollutant"] for a in alarms(store, "qa_out_of_control")] == [SO2]

    st = rec.status(so2)
    assert st["in_control"] and len(st["out_of_control"]) == 1
    assert st["checks"]["comparison"]["count"] == 3
    assert verify(store, None).ok


def test_a_comparison_needs_the_analysers_own_data(store: Store) -> None:
    rec = records(store)
    so2, _ = add_analysers(rec)
    late = [(local(DAYS, 1), local(DAYS, 2), "20.0")] * 9  # after the stored data
    with pytest.raises(RecordError) as info:
        QualityRecords(store).record_comparison(analyser_id=so2, pairs=late, rm_source="RM", who="lab.li")
    assert info.value.code == "run_incomplete"
    with pytest.raises(RecordError) as info:
        rec.record_comparison(analyser_id=so2, pairs=pairs(0, 9, 20.0)[:3], rm_source="RM", who="lab.li")
    assert info.value.code == "too_few_pairs"
    rec.record_comparison(analyser_id=so2, pairs=pairs(0, 9, 20.0), rm_source="RM", who="lab.li")
    stored = store.quality_rows("comparisons")[0]
    assert '"cems": 20.0' in stored["pairs"] and '"readings": 10' in stored["pairs"]


# ----------------------------------------------------------------------------------------------- lots
def lot(rec: QualityRecords, expires: str, lot_no: str = "2105") -> int:
    r = rec.register_lot(
        producer="国家标准物质中心",
        certificate_no="GBW(E)080123",
        lot_no=lot_no,
        material="SO2/N2",
        certified_value="80.0",
        unit="mg/m3",
        uncertainty="1.6",
        expires_on=expires,
        who="op.wang",
    )
    return int(r.row["id"])


def test_expired_withdrawn_and_unknown_lots_are_refused_and_nothing_is_written(store: Store) -> None:
    rec = records(store)
    so2, _ = add_analysers(rec)
    expired = lot(rec, "2026-06-01", "A")  # usable to the end of 1 June (China)
    size = store.ledger_size()
    with pytest.raises(RecordError) as info:
        rec.record_check(
            analyser_id=so2,
            kind="span",
            started=local(1, 9),
            ended=local(1, 9, 10),
            reading="80.5",
            lot_id=expired,
            performed_by="op.wang",
            who="op.wang",
        )
    assert info.value.code == "lot_expired" and "2026-06-01" in str(info.value) and "过期" in str(info.value)
    assert store.ledger_size() == size and store.quality_rows("qa_checks") == []
    ok = rec.record_check(
        analyser_id=so2,
        kind="span",
        started=local(0, 23, 50),
        ended=local(0, 23, 59),
        reading="80.5",
        lot_id=expired,
        performed_by="op.wang",
        who="op.wang",
    )
    assert ok.row["verdict"] == "pass" and ok.row["reference_value"] == "80.0"
    with pytest.raises(RecordError) as info:
        rec.record_check(
            analyser_id=so2,
            kind="span",
            started=local(1, 9),
            reading="80",
            lot_id=999,
            ended=local(1, 9),
            performed_by="op.wang",
            who="op.wang",
        )
    assert info.value.code == "unknown_lot"
    good = lot(rec, "2027-12-31", "B")
    rec.withdraw_lot(good, reason="钢瓶泄漏 | cylinder leaking", who="reg.zhao")
    now = int(time.time()) + 1  # a use after the withdrawal (uses before it stay valid)
    with pytest.raises(RecordError) as info:
        QualityRecords(store).record_check(
            analyser_id=so2,
            kind="span",
            started=now,
            reading="80",
            lot_id=good,
            ended=now,
            performed_by="op.wang",
            who="op.wang",
        )
    assert info.value.code == "lot_withdrawn"
    with pytest.raises(RecordError) as info:
        rec.record_check(
            analyser_id=so2,
            kind="span",
            started=local(1, 9),
            reading="80",
            ended=local(1, 9),
            performed_by="op.wang",
            who="op.wang",
        )
    assert info.value.code == "lot_required"
    with pytest.raises(RecordError) as info:
        lot(rec, "2027-12-31", "B")
    assert info.value.code == "lot_exists"


# ----------------------------------------------------------------------------------------------- checks
def test_zero_failure_blocks_back_to_the_last_passed_zero_check_and_cusum_warns_early(store: Store) -> None:
    rec = records(store)
    so2, _ = add_analysers(rec)
    cyl = lot(rec, "2027-12-31")

    def zero(day: int, reading: str) -> Any:
        return rec.record_check(
            analyser_id=so2,
            kind="zero",
            started=local(day, 8),
            ended=local(day, 8, 10),
            reading=reading,
            performed_by="op.wang",
            who="op.wang",
            automatic=True,
        )

    assert zero(0, "0.5").row["verdict"] == "pass"
    bad = zero(1, "-6.0")
    assert bad.row["verdict"] == "fail" and bad.row["value"] == pytest.approx(-6.0)
    assert rec.status(so2)["in_control"] is False
    assert zero(2, "0.2").row["verdict"] == "pass"
    [span] = rec.blocked()[GAS_MN][SO2]
    assert (span.start, span.end) == (local(0, 8, 10), local(2, 8))

    spans = []
    for day, dev in enumerate((0.8, 1.2, 1.6, 2.0)):
        r = rec.record_check(
            analyser_id=so2,
            kind="span",
            started=local(day, 9),
            ended=local(day, 9, 10),
            reading=f"{80 + dev:.1f}",
            lot_id=cyl,
            performed_by="op.wang",
            who="op.wang",
        )
        spans.append(r.row["verdict"])
        cusum = rec.status(so2)["checks"]["span"]["cusum"]
        assert cusum["drift_alarm"] is (day == 3)
    assert spans == ["pass"] * 4
    done = recheck_stored(store, configured=load_qc_config(None), mns=[GAS_MN], now=local(DAYS, 0))
    [trend] = [f for f in done.findings if f.check == "qa_drift_trend"]
    assert trend.pollutant == SO2 and trend.category == "anomaly" and trend.evidence["kind"] == "span"
    assert trend.start == local(3, 9)  # alarmed at the 4th check, all of which passed
    adjust = rec.record_check(
        analyser_id=so2,
        kind="span",
        started=local(4, 9),
        ended=local(4, 9, 10),
        reading="83.0",
        lot_id=cyl,
        performed_by="op.wang",
        who="op.wang",
        adjusted=True,
        reading_after="80.1",
    )
    assert adjust.row["verdict"] == "adjust"
    assert [s.kind for s in rec.blocked()[GAS_MN][SO2]] == ["zero"]  # adjust never invalidates
    assert verify(store, None).ok


def test_records_are_ledgered_and_an_altered_one_is_found(store: Store) -> None:
    rec = records(store)
    so2, _ = add_analysers(rec)
    r = rec.record_check(
        analyser_id=so2,
        kind="zero",
        started=local(0, 8),
        ended=local(0, 8),
        reading="0.4",
        performed_by="op.wang",
        who="op.wang",
    )
    assert store.entry_index(f"qa_checks/{r.row['id']}") == r.entry
    assert verify(store, None).ok
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE qa_checks SET reading = '3.0' WHERE id = :i"), {"i": r.row["id"]})
    report = verify(store, None)
    assert not report.ok and [p.where for p in report.problems] == [f"qa_checks row {r.row['id']}"]


def test_a_replaced_analyser_starts_a_new_history(store: Store) -> None:
    rec = records(store)
    so2, _ = add_analysers(rec)
    rec.record_check(
        analyser_id=so2,
        kind="zero",
        started=local(0, 8),
        ended=local(0, 8),
        reading="-9",
        performed_by="op.wang",
        who="op.wang",
    )
    new = rec.register_analyser(
        mn=GAS_MN,
        pollutant=SO2,
        serial_no="SO2-002",
        maker="某仪器公司",
        model="CEMS-3000",
        range_low=0,
        range_high=100,
        unit="mg/m3",
        automatic=True,
        valid_from=local(1, 12),
        who="op.wang",
    )
    assert new.row["replaces_id"] == so2
    [span] = rec.blocked()[GAS_MN][SO2]
    assert span.end == local(1, 12)  # the failed analyser's span ends when the new one comes into force
    with pytest.raises(RecordError) as info:
        rec.record_check(
            analyser_id=so2,
            kind="zero",
            started=local(2, 8),
            ended=local(2, 8),
            reading="0",
            performed_by="op.wang",
            who="op.wang",
        )
    assert info.value.code == "not_in_force"
    counts = hourly_counts(store, rec, SO2)
    assert counts[local(1, 11)] == 0 and counts[local(1, 12)] == 60
    assert np.all(np.array([counts[local(3, h)] for h in range(24)]) == 60)


# ----------------------------------------------------------------------------------------------- trace
def test_the_trace_of_an_hour_reaches_the_people_and_materials_behind_it(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from envtrust.keys import ledger_signer
    from envtrust.services import Checkpointer
    from envtrust.workflow import signing
    from envtrust.workflow.lab import Lab, Signed
    from envtrust.workflow.trace import trace_hour
    from scoped import fast_accounts

    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    origin = "test.envtrust/ledger"
    acc = fast_accounts(store)
    lab = Lab(store, origin=origin, activation_s=0)
    phrase = "a long passphrase 1"
    for name, function in (("samp", "sampler"), ("ana", "receiver"), ("ana", "analyst"), ("rev", "reviewer"),
                           ("sig", "signatory")):  # fmt: skip
        if store.account(name) is None:
            acc.create(name, "lab", who="setup", password=None)
            lab.create_sealed_key(name, phrase, who=name)
        lab.grant(name, function, who="admin")
    rec = records(store)
    so2, _ = add_analysers(rec)
    cyl = lot(rec, "2027-12-31")
    # the operator signs the zero check with her own (sealed) key
    acc.create("op.wang", "operator", who="setup", password=None, enterprise="某热电有限公司")
    lab.create_sealed_key("op.wang", "operator passphrase", who="op.wang")
    signing_rec = QualityRecords(store, origin=origin, activation_s=0, clock=lambda: float(local(DAYS, 0)))
    zero = signing_rec.record_check(analyser_id=so2, kind="zero", started=local(1, 8), ended=local(1, 8, 10),
                                    reading="0.3", performed_by="王工", who="op.wang",
                                    signed=Signed(passphrase="operator passphrase"))  # fmt: skip
    assert zero.row["sig_id"] is not None
    rec.record_check(analyser_id=so2, kind="span", started=local(1, 8, 20), ended=local(1, 8, 30), reading="80.6",
                     lot_id=cyl, performed_by="王工", who="op.wang")  # fmt: skip
    # the reference method: a laboratory report signed by four people
    signed = Signed(passphrase=phrase)
    lab.plan_sample("RM-S1", matrix="烟气", purpose="comparison", who="samp", mn=GAS_MN)
    lab.custody(
        "RM-S1",
        "sampled",
        at=local(0, 9),
        place="烟道采样孔",
        condition="密封",
        username="samp",
        signed=signed,
    )
    lab.custody(
        "RM-S1", "received", at=local(0, 15), place="实验室", condition="完好", username="ana", signed=signed
    )
    a = lab.analyse("RM-S1", parameter=SO2, method="HJ 57-2017", instrument="定电位电解仪 E-3", raw_result="20.3",
                    unit="mg/m3", analysed_at=local(0, 16), lot_ids=[cyl], username="ana", signed=signed)  # fmt: skip
    lab.review(a["id"], decision="approve", comment="", username="rev", signed=signed)
    lab.issue("RM-2026-001", title="参比方法监测报告", analysis_ids=[a["id"]], username="sig", signed=signed)
    rec.record_comparison(analyser_id=so2, pairs=pairs(0, 9, 20.3), rm_source="RM-2026-001", who="reg.zhao")
    signer = ledger_signer(origin, tmp_path / "keys", create=True)
    Checkpointer(store, signer, origin).checkpoint()

    found = trace_hour(store, GAS_MN, SO2, local(2, 3), origin=origin)
    assert found["format"] == "envtrust-trace/v1"
    assert found["verdict"]["valid"] and found["subject"]["value"] == pytest.approx(20.0)
    types = {n["type"] for n in found["nodes"]}
    assert {"hj212.frame", "registry.point", "qa.analyser", "qa.check", "qa.reference_lot", "qa.comparison",
            "lab.report", "lab.analysis", "lab.review", "lab.sample", "lab.custody"} <= types  # fmt: skip
    people = {(p["role"], p["account"]) for n in found["nodes"] for p in n["people"] if p.get("signature_ok")}
    assert {("signatory", "sig"), ("analyst", "ana"), ("reviewer", "rev"), ("sampled", "samp"),
            ("received", "ana")} <= people  # fmt: skip
    [zero_node] = [n for n in found["nodes"] if n["id"] == f"qa_checks/{zero.row['id']}"]
    assert [(p["account"], p["signature_ok"]) for p in zero_node["people"]] == [("op.wang", True)]
    [span_node] = [n for n in found["nodes"] if n["type"] == "qa.check" and n["id"] != zero_node["id"]]
    assert span_node["people"][0]["signature_ok"] is None  # recorded without a personal signature
    assert verify(store, None).ok
    frames = [n for n in found["nodes"] if n["type"] == "hj212.frame"]
    assert len(frames) == 60
    size = found["checkpoint"]["size"]
    for node in found["nodes"]:
        if node["entry"] is not None:  # every ledgered node proves its inclusion in the signed checkpoint
            entry = store.entry(node["entry"]["index"])
            assert entry is not None
            from envtrust.ledger import merkle

            proof = [base64.b64decode(h) for h in node["entry"]["proof"]]
            root = store.latest_checkpoint()["root"]  # type: ignore[index]
            assert merkle.verify_inclusion(
                merkle.leaf_hash(entry[2]), node["entry"]["index"], size, proof, root
            )


def test_the_traces_of_a_day_and_of_one_reading_follow_the_same_records(store: Store) -> None:
    from envtrust.workflow.trace import trace_day, trace_reading

    origin = "test.envtrust/ledger"
    rec = records(store)
    so2, _ = add_analysers(rec)
    rec.record_comparison(analyser_id=so2, pairs=pairs(0, 9, 20.3), rm_source="RM-1", who="lab.li")
    failed = rec.record_comparison(analyser_id=so2, pairs=pairs(2, 14, 45.0), rm_source="RM-2", who="lab.li")
    rec.record_comparison(analyser_id=so2, pairs=pairs(3, 10, 20.0), rm_source="RM-3", who="lab.li")

    # day 4: every hour valid, one at 50 → the mean of the 24 hourly values
    day = trace_day(store, GAS_MN, SO2, local(4, 0), origin=origin)
    assert day["subject"]["kind"] == "day" and day["verdict"]["valid"]
    assert day["verdict"]["valid_hours"] == 24
    assert day["subject"]["value"] == pytest.approx((23 * 20.0 + 50.0) / 24)
    hours = [n for n in day["nodes"] if n["type"] == "hour"]
    assert len(hours) == 24 and all(n["data"]["valid"] for n in hours)
    assert {"qa.analyser", "qa.comparison", "registry.point"} <= {n["type"] for n in day["nodes"]}
    # day 3: out of control until 10:00 → 14 valid hours, fewer than 20: invalid, and why
    day3 = trace_day(store, GAS_MN, SO2, local(3, 0), origin=origin)
    assert not day3["verdict"]["valid"] and day3["verdict"]["valid_hours"] == 14
    causes = {r["cause"] for r in day3["verdict"]["reasons"]}
    assert causes == {"out_of_control", "too_few_valid_hours"}
    [ooc] = [r for r in day3["verdict"]["reasons"] if r["cause"] == "out_of_control"]
    assert ooc["records"] == [f"comparisons/{failed.row['id']}"]
    # the comparison recorded on day 3 is "during" the day
    rels = {(e["to"], e["rel"]) for e in day3["edges"]}
    assert any(rel == "compared_during" for _, rel in rels)

    # one minute reading: the frame that carried it; inside the span it is invalid
    ok = trace_reading(store, GAS_MN, SO2, local(4, 5, 7), origin=origin)
    assert ok["verdict"] == {"valid": True, "reasons": []} and ok["subject"]["value"] == pytest.approx(20.0)
    [frame] = [n for n in ok["nodes"] if n["type"] == "hj212.frame"]
    assert (
        frame["entry"] is not None and frame["entry"]["proof"]
    )  # against the current tree (no checkpoint yet)
    bad = trace_reading(store, GAS_MN, SO2, local(1, 5, 7), origin=origin)
    assert not bad["verdict"]["valid"] and [r["cause"] for r in bad["verdict"]["reasons"]] == [
        "out_of_control"
    ]
    with pytest.raises(RecordError) as info:
        trace_reading(store, GAS_MN, SO2, local(1, 5, 7) + 30, origin=origin)
    assert info.value.code == "no_reading" and info.value.status == 404
    with pytest.raises(RecordError) as info:
        trace_reading(store, GAS_MN, SO2, local(1, 5, 7), kind="week", origin=origin)
    assert info.value.code == "bad_kind"
    json.dumps([day, day3, ok, bad])  # plain JSON all through

    # the command line: any time of the day (or hour) names it; a reading by its own time
    from typer.testing import CliRunner

    from envtrust.cli import app

    runner = CliRunner()
    db = str(store.engine.url)
    shown = runner.invoke(app, ["trace", "day", GAS_MN, SO2, "2026-06-04T13:20", "--json", "--db", db])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["subject"]["start"] == local(3, 0)
    shown = runner.invoke(app, ["trace", "reading", GAS_MN, SO2, "2026-06-05T05:07", "--db", db])
    assert shown.exit_code == 0 and "valid" in shown.stdout and "raw frame" in shown.stdout, shown.output
    shown = runner.invoke(app, ["trace", "week", GAS_MN, SO2, "2026-06-05", "--db", db])
    assert shown.exit_code != 0 and "trace reading|hour|day" in shown.output


def test_records_cannot_be_dated_in_the_future(store: Store) -> None:
    rec = records(store)  # its clock is the start of day DAYS
    so2, _ = add_analysers(rec)
    with pytest.raises(RecordError) as info:
        rec.record_check(analyser_id=so2, kind="zero", started=local(DAYS, 1), ended=local(DAYS, 1), reading="0",
                         performed_by="op.wang", who="op.wang")  # fmt: skip
    assert info.value.code == "in_future" and info.value.status == 422
    with pytest.raises(RecordError) as info:
        rec.record_comparison(analyser_id=so2, pairs=pairs(DAYS, 2, 20.0), rm_source="RM", who="lab.li")
    assert info.value.code == "in_future"
    status = rec.status(so2)
    assert status["replaced"] is False and status["checks"]["zero"]["due"] is not None
