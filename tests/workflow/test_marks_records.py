"""Enterprise data marks end to end on both backends: an honest "stopped" mark keeps its hours out of the
exceedance judgement; a false one (flow and temperature show operation) is contested and excludes nothing; a
regulator's signed decision upholds or rejects; only the point's enterprise marks and withdraws."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import GAS_MN, GAS_PW
from envtrust import hj212
from envtrust.errors import RecordError
from envtrust.hj212 import Item
from envtrust.quality import load_qc_config, recheck_stored
from envtrust.registry import load_registry
from envtrust.services import Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.lab import Signed
from envtrust.workflow.marks import Marks, mark_rows
from scoped import fast_accounts

ORIGIN = "test.envtrust/ledger"
SO2, VELOCITY, TEMP = "a21026", "a01011", "a01012"
H = 3600
D0 = to_utc_epoch(datetime(2026, 6, 1), "Asia/Shanghai")
PHRASE = {"ent": "enterprise passphrase", "reg": "regulator passphrase", "other": "other enterprise pass"}


def local(hour: int, minute: int = 0) -> int:
    return D0 + hour * H + minute * 60


def values(t: int) -> tuple[float, float, float]:
    """SO2, velocity, temperature: running at 20 mg/m³ except 50 (over the limit of 35) from 10:00 to 12:00 while
    running hard, and 50 from 14:00 to 16:00 while the stack is cold and still (really stopped)."""
    if local(10) <= t < local(12):
        return 50.0, 8.0, 120.0
    if local(14) <= t < local(16):
        return 50.0, 0.5, 30.0
    return 20.0, 8.0, 120.0


def frame(t: int) -> bytes:
    stamp = (datetime.fromtimestamp(t, UTC) + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")
    so2, v, temp = values(t)
    items = [
        Item(SO2, {"Avg": f"{so2:.1f}", "Flag": "N"}, SO2),
        Item(VELOCITY, {"Avg": f"{v:.1f}", "Flag": "N"}, VELOCITY),
        Item(TEMP, {"Avg": f"{temp:.1f}", "Flag": "N"}, TEMP),
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


@pytest.fixture
def store(db_url: str, registry_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    with open_store(db_url) as s:
        ingest = Ingest(s)
        ingest.load_registry(load_registry(registry_file))
        decoder = hj212.Decoder()
        batch = []
        for m in range(24 * 60):
            [event] = decoder.feed(frame(D0 + 60 * m))
            batch.append(ingest.prepare(event, peer="10.0.0.7:1", received_us=(D0 + 60 * m + 30) * 1_000_000))
        ingest.record(batch)
        acc = fast_accounts(s)
        acc.create("ent", "operator", who="setup", password=None, enterprise="某热电有限公司")
        acc.create("other", "enterprise", who="setup", password=None, enterprise="某污水处理厂")
        acc.create("reg", "regulator", who="setup", password=None, region="2101")
        yield s


@pytest.fixture
def marks(store: Store) -> Marks:
    m = Marks(store, origin=ORIGIN, activation_s=0)
    for name, phrase in PHRASE.items():
        m.signer.create_sealed_key(name, phrase, who=name)
    return m


def judged(store: Store) -> tuple[list[int], list[Any]]:
    done = recheck_stored(store, configured=load_qc_config(None), mns=[GAS_MN], now=local(30))
    hours = sorted(
        h["start"] for f in done.findings if f.check == "exceedance_hour" for h in f.evidence["hours"]
    )
    return hours, [f for f in done.findings if f.check == "mark_contested"]


def by(name: str) -> Signed:
    return Signed(passphrase=PHRASE[name])


def test_honest_and_false_stopped_marks(store: Store, marks: Marks) -> None:
    hours, contested = judged(store)
    assert hours == [local(10), local(11), local(14), local(15)] and contested == []

    honest = marks.make(GAS_MN, code="stopped", start=local(14), end=local(16), reason="锅炉停炉检修 | boiler down",
                        username="ent", signed=by("ent"))  # fmt: skip
    false = marks.make(GAS_MN, code="stopped", start=local(10), end=local(12), reason="停运 | stopped",
                       username="ent", signed=by("ent"))  # fmt: skip
    assert false["lag_s"] > 0 and false["made_by"] == "ent"
    hours, contested = judged(store)
    assert hours == [
        local(10),
        local(11),
    ]  # the honest mark keeps its hours out; the false one excludes nothing
    [finding] = contested
    assert finding.category == "tampering" and finding.start == local(10) and finding.end == local(12)
    assert (
        finding.evidence["mark"] == f"data_marks/{false['id']}"
        and finding.evidence["rule"] == "stopped_while_running"
    )

    # a regulator of the region decides, signed: uphold the contested mark, reject the honest one
    with pytest.raises(RecordError) as info:
        marks.decide(false["id"], decision="uphold", reason="x", username="ent", signed=by("ent"))
    assert info.value.code == "forbidden"
    marks.decide(false["id"], decision="uphold", reason="现场核实确已停运 | checked on site", username="reg",
                 signed=by("reg"))  # fmt: skip
    marks.decide(
        honest["id"], decision="reject", reason="未报备 | not reported", username="reg", signed=by("reg")
    )
    hours, _ = judged(store)
    assert hours == [local(14), local(15)]
    states = {m["id"]: m["state"] for m in mark_rows(store, [GAS_MN])}
    assert states == {honest["id"]: "rejected", false["id"]: "upheld"}
    assert verify(store, None).ok


def test_only_the_points_enterprise_marks_and_withdraws(store: Store, marks: Marks) -> None:
    for who in ("other", "reg"):
        with pytest.raises(RecordError) as info:
            marks.make(GAS_MN, code="maintenance", start=local(1), end=local(2), reason="r", username=who,
                       signed=by(who))  # fmt: skip
        assert info.value.code == "forbidden" and info.value.status == 403
    with pytest.raises(RecordError) as info:
        marks.make(
            GAS_MN, code="holiday", start=local(1), end=local(2), reason="r", username="ent", signed=by("ent")
        )
    assert info.value.code == "bad_kind"
    with pytest.raises(RecordError) as info:
        marks.make(GAS_MN, code="maintenance", start=local(1), end=local(2), reason="r", username="ent",
                   signed=by("reg"))  # fmt: skip
    assert info.value.code == "bad_passphrase"
    m = marks.make(GAS_MN, code="maintenance", start=local(14), end=local(16), reason="更换探头", username="ent",
                   signed=by("ent"))  # fmt: skip
    hours, _ = judged(store)
    assert hours == [local(10), local(11)]
    with pytest.raises(RecordError) as info:
        marks.withdraw(m["id"], reason="r", username="other", signed=by("other"))
    assert info.value.code == "forbidden"
    marks.withdraw(m["id"], reason="标错了 | wrong span", username="ent", signed=by("ent"))
    hours, _ = judged(store)
    assert hours == [local(10), local(11), local(14), local(15)]
    with pytest.raises(RecordError) as info:
        marks.decide(m["id"], decision="uphold", reason="x", username="reg", signed=by("reg"))
    assert info.value.code == "withdrawn"
    sig = store.quality_rows("signatures", id=m["sig_id"])[0]
    assert sig["act"] == "mark.data" and f'"start":{local(14)}' in sig["note"]
    assert verify(store, None).ok


def test_the_monitor_rereads_only_points_whose_quality_records_changed(store: Store, marks: Marks) -> None:
    from envtrust.workflow.marks import QualityWatch
    from envtrust.workflow.qa import QualityRecords

    watch = QualityWatch(store)
    assert watch.changed() is None  # the first look: everything
    assert watch.changed() == set()
    rec = QualityRecords(store)
    aid = rec.register_analyser(mn=GAS_MN, pollutant=SO2, serial_no="S", maker="M", model="X", range_low=0,
                                range_high=100, unit="mg/m3", automatic=True, valid_from=D0 - 86400,
                                who="ent").row["id"]  # fmt: skip
    assert watch.changed() is None  # first use ledgers the criteria: every point is re-read
    rec.record_check(analyser_id=aid, kind="zero", started=local(3), ended=local(3), reading="0.1",
                     performed_by="ent", who="ent")  # fmt: skip
    assert watch.changed() == {GAS_MN}
    m = marks.make(
        GAS_MN, code="fault", start=local(1), end=local(2), reason="r", username="ent", signed=by("ent")
    )
    assert watch.changed() == {GAS_MN}
    marks.decide(m["id"], decision="reject", reason="r", username="reg", signed=by("reg"))
    assert watch.changed() == {GAS_MN} and watch.changed() == set()
