"""``envtrust recheck`` and ``envtrust alarms …`` on a real SQLite file, as a duty officer runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from envtrust.cli import app

runner = CliRunner()

REGISTRY = """
[[point]]
mn = "CHK0001"
enterprise = "某热电有限公司"
name = "1号锅炉排放口"
region = "210106"
medium = "gas"
reference_o2 = 6.0
limits = { a21026 = 35 }
"""


def _data(tmp_path: Path) -> tuple[Path, Path]:
    """Two days of minute data of one point; SO2 held constant for two hours on the second day."""
    rng = np.random.default_rng(1)
    lines = ["mn,pollutant,time,value,flag,kind"]
    for i in range(2 * 1440):
        h, m = divmod(i, 60)
        t = f"2026-10-{1 + h // 24:02d}T{h % 24:02d}:{m:02d}:00"
        load = 0.7 + 0.2 * np.sin(i / 1440 * 2 * np.pi)
        so2 = 17.3 if 1500 <= i < 1620 else 20 * load * (1 + rng.normal(0, 0.02))
        lines += [
            f"CHK0001,a21026,{t},{so2:.2f},N,minute",
            f"CHK0001,a19001,{t},{9 - 4 * load + rng.normal(0, 0.05):.2f},N,minute",
            f"CHK0001,a00000,{t},{300 * load * (1 + rng.normal(0, 0.005)):.1f},N,minute",
        ]
    data = tmp_path / "data.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reg = tmp_path / "registry.toml"
    reg.write_text(REGISTRY, encoding="utf-8")
    return data, reg


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_recheck_raises_alarms_people_act_on_them_and_a_config_change_is_ledgered(
    tmp_path: Path, db_url: str
) -> None:
    data, reg = _data(tmp_path)
    db = db_url
    assert run("registry", "load", str(reg), "--db", db)[0] == 0
    assert run("import", str(data), "--db", db)[0] == 0

    code, stdout, stderr = run("recheck", "--db", db, "--json")
    assert code == 0, stderr
    findings = [json.loads(line) for line in stdout.splitlines()]
    assert any(f["check"] == "flat_line" and f["pollutant"] == "a21026" for f in findings)
    assert "configuration" in stderr and "ledgered as entry" in stderr

    code, stdout, _ = run("alarms", "list", "--db", db, "--json", "--check", "flat_line")
    [alarm] = [json.loads(line) for line in stdout.splitlines()]
    status = json.loads(run("status", "--db", db, "--json")[1])
    assert status["alarms_open"] >= 1 and status["alarms_unacknowledged"] == status["alarms_open"]
    assert (alarm["check"], alarm["point"], alarm["state"]) == ("flat_line", "1号锅炉排放口", "cleared")
    assert alarm["start"] == "2026-10-02T01:00:00+08:00" and not alarm["acknowledged"]

    # nothing new on a second run with the same configuration
    code, _, stderr = run("recheck", "--db", db)
    assert code == 0 and "0 opened" in stderr and "configuration unchanged" in stderr

    aid = str(alarm["id"])
    assert run("alarms", "assign", aid, "--who", "科长 李四", "--to", "执法大队 王五", "--db", db)[0] == 0
    assert run("alarms", "comment", aid, "--who", "执法大队 王五", "--text", "现场核查", "--db", db)[0] == 0
    code, stdout, _ = run("alarms", "ack", aid, "--who", "执法大队 王五", "--db", db)
    assert code == 0 and "closed" in stdout
    code, _, stderr = run("alarms", "ack", aid, "--who", "x", "--db", db)
    assert code == 2 and "already acknowledged" in stderr
    code, stdout, _ = run("alarms", "show", aid, "--db", db, "--json")
    shown = json.loads(stdout)
    assert [e["action"] for e in shown["events"]] == ["open", "clear", "assign", "comment", "ack"]
    assert shown["assignee"] == "执法大队 王五" and shown["closed"]
    code, stdout, _ = run("alarms", "list", "--db", db, "--json", "--check", "flat_line")
    assert stdout == ""  # closed alarms leave the inbox …
    code, stdout, _ = run("alarms", "list", "--db", db, "--json", "--all", "--check", "flat_line")
    assert len(stdout.splitlines()) == 1  # … and stay in the history

    # a parameter change is ledgered, then findings under it are judged anew (a dealt-with period stays dealt with)
    cfg = tmp_path / "envtrust.toml"
    cfg.write_text("[checks.flat_line]\nfail_minutes = 90\n", encoding="utf-8")
    code, _, stderr = run(
        "recheck", "--db", db, "--config", str(cfg), "--who", "科长 李四", "--why", "调整恒值判定"
    )
    assert code == 0 and "ledgered as entry" in stderr and "0 opened" in stderr


def test_recheck_and_alarms_refuse_bad_input_clearly(tmp_path: Path) -> None:
    _, reg = _data(tmp_path)
    db = f"sqlite:///{tmp_path / 'e.db'}"
    run("registry", "load", str(reg), "--db", db)
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[checks.flat_line]\nfail_minute = 90\n", encoding="utf-8")
    code, _, stderr = run("recheck", "--db", db, "--config", str(cfg))
    assert code == 2 and "unknown parameter 'fail_minute'" in stderr
    cfg.write_text("[check]\nx = 1\n", encoding="utf-8")
    code, _, stderr = run("recheck", "--db", db, "--config", str(cfg))
    assert code == 2 and "unknown check 'check'" in stderr
    code, _, stderr = run("recheck", "--db", db, "--since", "yesterday")
    assert code == 2 and "not an ISO 8601 time" in stderr
    code, _, stderr = run("alarms", "show", "7", "--db", db)
    assert code == 2 and "no alarm 7" in stderr
    code, _, stderr = run("alarms", "clear", "7", "--who", "x", "--reason", "r", "--db", db)
    assert code == 2 and "no alarm 7" in stderr
