"""Double-random draws on both backends: the pools (risk weights with their basis, recent inspections excluded,
declared conflicts), the commitment ledgered before the reveal, the selection recomputed from the public record
alone, an export verified with nothing else — and altered exports that fail; inspections linked to the draw."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envtrust import draw as core
from envtrust.alarms.book import AlarmBook
from envtrust.cli import app
from envtrust.errors import RecordError
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import parse_registry
from envtrust.services import Checkpointer, Ingest, to_utc_epoch
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow import signing
from envtrust.workflow.inspection import Draws, verify_export
from envtrust.workflow.lab import Signed
from scoped import P1, P2, P3, REGISTRY, fast_accounts

ORIGIN = "test.envtrust/ledger"
NOW = to_utc_epoch(datetime(2026, 11, 20, 10, 0), "Asia/Shanghai")
PHRASE = "a long enough passphrase"
PEOPLE = {
    "insp_hp": ("inspector", "210102"),
    "insp_sh": ("inspector", "210103"),
    "insp_city": ("inspector", "2101"),
    "city": ("regulator", "2101"),
    "heping": ("regulator", "210102"),
}


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    with open_store(db_url) as s:
        Ingest(s).load_registry(parse_registry(REGISTRY))
        acc = fast_accounts(s)
        for name, (role, region) in PEOPLE.items():
            acc.create(name, role, who="setup", password=None, region=region)
        finding = Finding(P1, "a21026", "flat_line", "tampering", "high", NOW - 7200, NOW - 3600, "m", {})
        AlarmBook(s).apply([Evaluation(P1, [finding], ("flat_line",), NOW)])
        yield s


@pytest.fixture
def draws(store: Store) -> Draws:
    d = Draws(store, origin=ORIGIN, activation_s=0, clock=lambda: float(NOW))
    for name in PEOPLE:
        d.signer.create_sealed_key(name, PHRASE, who=name)
    return d


def create(d: Draws, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "username": "city",
        "title": "2026 年第四季度重点排污单位双随机抽查",
        "target_kind": "point",
        "region": "2101",
        "targets": 2,
        "inspectors_per_target": 1,
        "beacon_source": "福彩3D 2026-11-21 开奖号码",
        "conflicts": {"insp_city": [P3]},
    }
    fields.update(changes)
    return d.create(**fields)  # type: ignore[arg-type]


def test_a_draw_is_committed_then_revealed_and_recomputed_by_anyone(store: Store, draws: Draws) -> None:
    # P2 was inspected last month: excluded from this draw
    draws.inspect(username="insp_hp", signed=Signed(passphrase=PHRASE), target=P2, inspected_at=NOW - 30 * 86400,
                  outcome="compliant", summary="现场检查未见异常")  # fmt: skip
    row = create(draws)
    pool = {t["id"]: t for t in json.loads(str(row["targets"]))}
    assert pool[P1]["weight"] == 4 and pool[P1]["basis"] == {
        "open_alarms": 1, "tampering_alarms": 1, "inspections_with_problems": 0}  # fmt: skip
    assert pool[P2]["excluded"] == "inspected within 365 days" and pool[P3]["excluded"] is None
    people = {i["id"]: i for i in json.loads(str(row["inspectors"]))}
    assert set(people) == {"insp_hp", "insp_sh", "insp_city"} and people["insp_city"]["conflicts"] == [P3]
    # the commitment is in the ledger; the secret is not, until the reveal
    rid = int(row["id"])  # type: ignore[call-overload]
    created = store.entry(store.entry_index(f"draws/{rid}"))  # type: ignore[arg-type]
    assert created is not None and str(row["commitment"]).encode() in created[2]
    before = draws.record_of(rid)
    assert "secret" not in before and core.verify_record(before).failed == ["revealed"]
    with pytest.raises(RecordError) as info:  # the declared beacon's value is needed
        draws.reveal(rid, username="city")
    assert info.value.code == "bad_reveal"
    draws.reveal(rid, username="city", beacon_value="7 3 9")
    with pytest.raises(RecordError) as info:
        draws.reveal(rid, username="city", beacon_value="7 3 9")
    assert info.value.status == 409
    rec = draws.record_of(rid)
    assert core.verify_record(rec).ok
    # recomputed independently from the record's public parts
    seed = core.derive_seed(bytes.fromhex(rec["secret"]), "7 3 9", f"{ORIGIN}/draws/{rid}", rec["commitment"])
    targets = [core.Candidate(t["id"], t["weight"], t["region"], t["excluded"]) for t in rec["targets"]]
    staff = [core.Candidate(i["id"], i["weight"], i["region"], i["excluded"], tuple(i["conflicts"]))
             for i in rec["inspectors"]]  # fmt: skip
    chosen = core.select(seed, targets, staff, core.Rules(2, 1))
    assert chosen.to_json() == rec["selection"]
    assert sorted(chosen.targets) == [P1, P3]  # P2 was excluded: the two eligible are drawn
    for (
        target,
        who,
    ) in chosen.assignments:  # 异地: never an inspector of the target's own county, nor a conflict
        assert all(
            people[w]["region"] != pool[target]["region"] and target not in people[w]["conflicts"]
            for w in who
        )
    assert verify(store, None).ok


def test_the_export_verifies_alone_and_altered_exports_fail(
    store: Store, draws: Draws, tmp_path: Path
) -> None:
    rid = int(create(draws)["id"])  # type: ignore[call-overload]
    draws.reveal(rid, username="city", beacon_value="7 3 9")
    signer = ledger_signer(ORIGIN, tmp_path / "keys", create=True)
    with pytest.raises(RecordError) as info:  # not yet under a signed checkpoint
        draws.export(rid, log_verifier=signer.verifier())
    assert info.value.code == "no_checkpoint"
    Checkpointer(store, signer, ORIGIN).checkpoint()
    exported = draws.export(rid, log_verifier=signer.verifier())
    checks = verify_export(json.loads(json.dumps(exported)), log_key=signer.verifier())
    assert all(ok for _, ok, _ in checks), checks
    names = {n for n, _, _ in checks}
    assert {
        "draw:selection",
        "ledger:created",
        "ledger:revealed",
        "ledger:creation_matches",
        "ledger:order",
    } <= names

    def failing(change: object) -> set[str]:
        copy = json.loads(json.dumps(exported))
        change(copy)  # type: ignore[operator]
        return {n for n, ok, _ in verify_export(copy, log_key=signer.verifier()) if not ok}

    def reweigh(
        e: dict,
    ) -> None:  # a weight changed and the selection recomputed to match: only the ledger tells
        rec = e["record"]
        rec["targets"][0]["weight"] = 50
        seed = bytes.fromhex(rec["seed"])
        targets = [core.Candidate(t["id"], t["weight"], t["region"], t["excluded"]) for t in rec["targets"]]
        staff = [core.Candidate(i["id"], i["weight"], i["region"], i["excluded"], tuple(i["conflicts"]))
                 for i in rec["inspectors"]]  # fmt: skip
        rec["selection"] = core.select(seed, targets, staff, core.Rules(2, 1)).to_json()

    found = failing(reweigh)  # the record is consistent in itself; the ledger says otherwise
    assert "ledger:creation_matches" in found and not any(n.startswith("draw:") for n in found)
    assert "draw:selection" in failing(lambda e: e["record"]["selection"]["assignments"].reverse())
    assert "draw:commitment" in failing(lambda e: e["record"].update(secret="00" * 32))
    assert "ledger:reveal_matches" in failing(lambda e: e["record"].update(beacon_value="1 2 3"))
    assert "ledger:created" in failing(lambda e: e["bundles"]["created"]["entries"][0].update(index=0))
    assert verify_export([]) == [("format", False, "不是抽取导出文件 | not an envtrust-draw-export/v1 file")]

    # the command line: export to a file, verify it with the pinned key; an altered file fails (exit 1)
    runner = CliRunner()
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    done = runner.invoke(app, ["draw", "verify", str(path), "--log-key", signer.verifier().vkey()])
    assert done.exit_code == 0 and "the draw VERIFIES" in done.stdout, done.output
    exported["record"]["beacon_value"] = "0 0 0"
    path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    done = runner.invoke(app, ["draw", "verify", str(path), "--json"])
    assert done.exit_code == 1 and not json.loads(done.stdout)["ok"]


def test_inspections_follow_the_draw(store: Store, draws: Draws) -> None:
    rid = int(create(draws, beacon_source="")["id"])  # type: ignore[call-overload]
    signed = Signed(passphrase=PHRASE)
    with pytest.raises(RecordError) as info:
        draws.inspect(username="insp_sh", signed=signed, target=P1, inspected_at=NOW, outcome="fraud", summary="x",
                      draw_id=rid)  # fmt: skip
    assert info.value.code == "not_revealed"
    draws.reveal(rid, username="city")
    [(target, [who]), *_] = [
        (a["target"], a["inspectors"]) for a in draws.record_of(rid)["selection"]["assignments"]
    ]
    other = next(p for p in PEOPLE if PEOPLE[p][0] == "inspector" and p != who)
    with pytest.raises(RecordError) as info:
        draws.inspect(username=other, signed=signed, target=target, inspected_at=NOW, outcome="fraud", summary="x",
                      draw_id=rid)  # fmt: skip
    assert info.value.code == "not_assigned"
    [undrawn] = {P1, P2, P3} - set(draws.record_of(rid)["selection"]["targets"])  # two of three are drawn
    with pytest.raises(RecordError) as info:
        draws.inspect(username=who, signed=signed, target=undrawn, inspected_at=NOW, outcome="fraud", summary="x",
                      draw_id=rid)  # fmt: skip
    assert info.value.code == "not_drawn"
    row = draws.inspect(username=who, signed=signed, target=target, inspected_at=NOW - 3600, outcome="fraud",
                        summary="发现数采仪参数被篡改", draw_id=rid, evidence=[f"points/{target}"])  # fmt: skip
    assert row["draw_id"] == rid and json.loads(row["evidence"]) == [f"points/{target}"]
    if target != P1 and who == "insp_sh":  # P1's alarm is neither the target's nor in the inspector's county
        with pytest.raises(RecordError) as info:
            draws.inspect(username=who, signed=signed, target=target, inspected_at=NOW - 3600, outcome="fraud",
                          summary="x", draw_id=rid, evidence=["alarms/1"])  # fmt: skip
        assert info.value.code == "no_record"
    [listed] = [d for d in draws.listing() if d["id"] == rid]
    assert [i["id"] for i in listed["inspections"]] == [row["id"]]
    # a later draw weighs the target's fraud finding, and excludes it as recently inspected
    nxt = create(draws, beacon_source="", recent_days=0)
    [t] = [t for t in json.loads(str(nxt["targets"])) if t["id"] == target]
    assert t["basis"]["inspections_with_problems"] == 1 and t["excluded"] is None
    assert verify(store, None).ok


def test_who_draws_and_what_is_refused(draws: Draws) -> None:
    for changes, code in (
        ({"username": "insp_hp", "region": "2101"}, "forbidden"),  # a county inspector draws for the city
        ({"target_kind": "river"}, "bad_kind"),
        ({"region": "north"}, "bad_region"),
        ({"targets": 0}, "bad_draw"),
        ({"conflicts": {"nobody": [P1]}}, "bad_inspector"),
        ({"conflicts": {"insp_hp": ["MN-unknown"]}}, "bad_target"),
        ({"target_kind": "institution", "given": [{"id": "某监测公司", "region": "2201"}]}, "bad_target"),
    ):
        with pytest.raises(RecordError) as info:
            create(draws, **changes)
        assert info.value.code == code, changes
    row = create(draws, target_kind="institution", conflicts={}, given=[{"id": "某环境监测有限公司", "region": "210102", "weight": 3},
                                                          {"id": "某运维公司", "region": "210103"}])  # fmt: skip
    assert [t["weight"] for t in json.loads(str(row["targets"]))] == [3, 1]


def test_the_command_line(
    store: Store, draws: Draws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envtrust.workflow import inspection as module

    monkeypatch.setenv("ENVTRUST_ORIGIN", ORIGIN)
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    init = module.Draws.__init__
    monkeypatch.setattr(
        module.Draws, "__init__", lambda self, *a, **k: init(self, *a, **{**k, "activation_s": 0})
    )
    db = ["--db", str(store.engine.url)]
    runner = CliRunner()
    made = runner.invoke(app, ["draw", "create", "--as", "city", "--title", "季度抽查", "--region", "2101",
                               "--targets", "2", "--inspectors-per-target", "1", "--conflict", f"insp_city={P3}",
                               *db])  # fmt: skip
    assert made.exit_code == 0 and "draw #1 created: 3 of 3 targets eligible" in made.output, made.output
    assert runner.invoke(app, ["draw", "create", "--as", "city", "--title", "x", "--region", "2101", "--targets", "1",
                               "--conflict", "insp_city", *db]).exit_code != 0  # fmt: skip
    shown = runner.invoke(app, ["draw", "reveal", "1", "--as", "city", *db])
    assert shown.exit_code == 0 and "seed" in shown.output, shown.output
    rec = json.loads(runner.invoke(app, ["draw", "show", "1", *db]).stdout)
    assert rec["format"] == "envtrust-draw/v1" and core.verify_record(rec).ok
    bare = tmp_path / "record.json"
    bare.write_text(json.dumps(rec), encoding="utf-8")
    done = runner.invoke(app, ["draw", "verify", str(bare)])  # recomputable, but no ledger proof: not enough
    assert done.exit_code == 1 and "✓ [selection]" in done.stdout and "✗ [ledger]" in done.stdout
    assert runner.invoke(app, ["draw", "export", "1", *db]).exit_code != 0  # no signed checkpoint yet
    Checkpointer(store, ledger_signer(ORIGIN, tmp_path / "keys", create=True), ORIGIN).checkpoint()
    out_file = tmp_path / "export.json"
    assert runner.invoke(app, ["draw", "export", "1", "--out", str(out_file), *db]).exit_code == 0
    assert runner.invoke(app, ["draw", "verify", str(out_file)]).exit_code == 0
    target, [who] = (
        rec["selection"]["assignments"][0]["target"],
        rec["selection"]["assignments"][0]["inspectors"],
    )
    done = runner.invoke(app, ["inspection", "record", "--as", who, "--target", target, "--at", "2026-11-20T09:00",
                               "--outcome", "compliant", "--summary", "未见异常", "--draw", "1", "--passphrase-stdin",
                               *db], input=PHRASE + "\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["draw", "list", "--json", *db])
    assert [len(json.loads(line)["inspections"]) for line in listed.stdout.splitlines()] == [1]
    assert "compliant" in runner.invoke(app, ["inspection", "list", *db]).stdout
