"""``envtrust qa …`` as an operator and a regulator run it: analyser, lots, checks, a comparison from a CSV file,
maintenance, status, out-of-control spans, criteria; bad input is one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from conftest import GAS_MN
from envtrust.cli import app
from envtrust.store import open_store
from envtrust.verify import verify

runner = CliRunner()


def test_quality_records_from_the_command_line(tmp_path: Path, registry_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    assert runner.invoke(app, ["registry", "load", str(registry_file), "--db", db]).exit_code == 0
    csv = tmp_path / "data.csv"
    rows = ["mn,pollutant,time,value,flag,kind"]
    rows += [
        f"{GAS_MN},a21026,2026-06-01T{8 + m // 60:02d}:{m % 60:02d}:00,{20 + m % 3},N,minute"
        for m in range(180)
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["import", str(csv), "--db", db]).exit_code == 0

    def run(*args: str) -> tuple[int, str, str]:
        r = runner.invoke(app, [*args, "--db", db])
        return r.exit_code, r.stdout, r.stderr

    code, _, err = run(
        "qa", "analyser-add", "--who", "op.wang", "--mn", GAS_MN, "--pollutant", "a21026", "--serial", "S-1",
        "--maker", "某仪器公司", "--model", "M-1", "--range-high", "100", "--unit", "mg/m3",
        "--from", "2026-05-01T00:00:00",
    )  # fmt: skip
    assert code == 0 and "analyser (hj75/so2) #1 recorded as ledger entry" in err, err
    code, _, err = run(
        "qa", "lot", "add", "--who", "op.wang", "--producer", "国家标准物质中心", "--certificate", "GBW(E)080123",
        "--lot", "2105", "--material", "SO2/N2", "--value", "80.0", "--unit", "mg/m3", "--uncertainty", "1.6",
        "--expires", "2026-05-31",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "qa", "check", "1", "--who", "op.wang", "--kind", "span", "--start", "2026-06-01T07:50:00",
        "--reading", "80.9", "--lot", "1", "--performed-by", "王工",
    )  # fmt: skip
    assert (
        code == 2 and "lot_expired" not in err and "已于 2026-05-31 过期" in err and "\n" not in err.strip()
    )
    code, _, err = run(
        "qa", "check", "1", "--who", "op.wang", "--kind", "zero", "--start", "2026-06-01T07:50:00",
        "--reading", "0.4", "--performed-by", "王工",
    )  # fmt: skip
    assert code == 0 and "pass" in err, err
    pairs = tmp_path / "pairs.csv"
    runs = [f"2026-06-01T08:{10 * i:02d}:00,2026-06-01T08:{10 * i + 10:02d}:00,60.0" for i in range(5)]
    runs += [f"2026-06-01T09:{10 * i:02d}:00,2026-06-01T09:{10 * i + 10:02d}:00,60.0" for i in range(4)]
    pairs.write_text("start,end,rm\n" + "\n".join(runs).replace(":60:00", ":59:59") + "\n", encoding="utf-8")
    code, _, err = run(
        "qa", "compare", "1", "--who", "reg.zhao", "--rm-source", "报告 001", "--pairs", str(pairs)
    )
    assert code == 0 and "fail" in err and "re-run" in err, err
    code, out, _ = run("qa", "blocked", "--json")
    [span] = [json.loads(line) for line in out.splitlines()]
    assert span["mn"] == GAS_MN and span["kind"] == "comparison" and span["end"] is None
    code, out, _ = run("qa", "status", "1", "--json")
    status = json.loads(out)
    assert status["in_control"] is False and status["checks"]["zero"]["count"] == 1
    code, out, _ = run("qa", "status", "1")
    assert code == 0 and "out of control" in out
    code, out, _ = run("qa", "analysers")
    assert code == 0 and "S-1" in out
    code, _, err = run(
        "qa", "maintenance", "1", "--who", "op.wang", "--kind", "repair", "--start", "2026-06-01T10:00:00",
        "--end", "2026-06-01T11:00:00", "--description", "更换采样泵", "--performed-by", "王工",
        "--detail", '{"part": "pump"}',
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run("qa", "lot", "withdraw", "1", "--who", "reg.zhao", "--reason", "证书撤回")
    assert code == 0, err
    code, out, _ = run("qa", "lot", "list", "--json")
    assert json.loads(out)["withdrawn"]["reason"] == "证书撤回"
    bad = tmp_path / "bad.csv"
    bad.write_text("start,end,rm\n2026-06-01T08:00:00,nonsense,1\n", encoding="utf-8")
    code, _, err = run("qa", "compare", "1", "--who", "x", "--rm-source", "r", "--pairs", str(bad))
    assert code == 2 and "line 2" in err
    code, out, _ = run("qa", "criteria")
    assert code == 0 and json.loads(out)["config"]["profiles"]["hj75/so2"]
    over = tmp_path / "criteria.toml"
    over.write_text('[profiles."hj75/so2".checks.zero]\ntechnical = 2.0\n', encoding="utf-8")
    code, _, err = run("qa", "criteria", "--set", str(over), "--why", "地方标准更严 | stricter local rule")
    assert code == 0 and "in force" in err, err
    code, _, err = run("qa", "criteria", "--set", str(over), "--why", "again")
    assert code == 0 and "unchanged" in err
    with open_store(db) as store:
        assert verify(store, None).ok
        kinds = [kind for _, kind, _, _ in store.iter_entries() if kind.startswith("qa.")]
    assert sorted(set(kinds)) == [
        "qa.analyser", "qa.check", "qa.comparison", "qa.criteria", "qa.lot_event", "qa.maintenance",
        "qa.reference_lot",
    ]  # fmt: skip
