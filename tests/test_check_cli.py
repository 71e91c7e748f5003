"""``envtrust check``: the catalogue over files, without a server or database, as a user runs it."""

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


def _csv(tmp_path: Path, *, held: bool, extra: str = "") -> tuple[Path, Path]:
    """Two days of minute data of one point (SO2, O2, flow); with ``held`` SO2 is held constant for two hours."""
    rng = np.random.default_rng(1)
    lines = ["mn,pollutant,time,value,flag"]
    for i in range(2 * 1440):
        h, m = divmod(i, 60)
        t = f"2026-10-{1 + h // 24:02d}T{h % 24:02d}:{m:02d}:00"
        load = 0.7 + 0.2 * np.sin(i / 1440 * 2 * np.pi)
        so2 = 17.3 if held and 1500 <= i < 1620 else 20 * load * (1 + rng.normal(0, 0.02))
        lines += [
            f"CHK0001,a21026,{t},{so2:.2f},N",
            f"CHK0001,a19001,{t},{9 - 4 * load + rng.normal(0, 0.05):.2f},N",
            f"CHK0001,a00000,{t},{300 * load * (1 + rng.normal(0, 0.005)):.1f},N",
        ]
    data = tmp_path / "data.csv"
    data.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    reg = tmp_path / "points.toml"
    reg.write_text(REGISTRY, encoding="utf-8")
    return data, reg


def test_check_json_prints_one_finding_per_line_with_the_held_period(tmp_path: Path) -> None:
    data, reg = _csv(tmp_path, held=True)
    result = runner.invoke(
        app, ["check", str(data), "--registry", str(reg), "--json", "--category", "tampering"]
    )
    assert result.exit_code == 0, result.output
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["check"] for f in findings] == ["flat_line"]
    assert findings[0]["pollutant"] == "a21026" and findings[0]["start"].startswith("2026-10-02T01:")


def test_bad_rows_are_named_by_line_and_do_not_stop_the_check(tmp_path: Path) -> None:
    data, reg = _csv(
        tmp_path, held=False, extra="CHK0001,a21026,not-a-time,1,N\nNOPE,a21026,2026-10-01T00:00:00,1,N\n"
    )
    result = runner.invoke(app, ["check", str(data), "--registry", str(reg)])
    assert result.exit_code == 0, result.output
    assert "data.csv:8642: bad_csv: time 'not-a-time' is not ISO 8601" in result.stderr
    assert "data.csv:8643: unknown_mn: MN NOPE is not registered" in result.stderr
    assert "0 findings over 1 points" in result.stdout and "no findings" in result.stdout


def test_unknown_check_or_parameter_is_an_error(tmp_path: Path) -> None:
    data, reg = _csv(tmp_path, held=False)
    config = tmp_path / "qc.toml"
    config.write_text("[flat_line]\nminutes = 30\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(data), "--registry", str(reg), "--config", str(config)])
    assert result.exit_code == 2 and "unknown parameter 'minutes'" in result.stderr
    result = runner.invoke(app, ["check", str(data), "--registry", str(reg), "--only", "flatline"])
    assert result.exit_code == 2 and "unknown check 'flatline'" in result.stderr
