"""Reconciliation: figures from elsewhere against envtrust's own values; discrepancies become findings with both
sources as evidence, and alarms; unreadable lines are reported with their line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.errors import ImportFormatError
from envtrust.reconcile import reconcile
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import Store, open_store
from integration.test_gateway import MN, REGISTRY, frame

HOUR_MEAN = sum(20.5 + i % 7 for i in range(60)) / 60  # the first local hour of 2026-01-01 (frame(i), i < 60)


def filled(url: str) -> Store:
    store = open_store(url)
    store.load_registry(parse_registry(REGISTRY))
    ingest = Ingest(store)
    ingest.record(
        [ingest.prepare(e, peer="t:1") for e in ingest.decoder().feed(b"".join(frame(i) for i in range(120)))]
    )
    return store


CSV = f"""mn,pollutant,period,start,value,measure,unit
{MN},a21026,hour,2026-01-01T00:00,{HOUR_MEAN:.4f},avg,mg/m3
{MN},a21026,hour,2026-01-01 01:00,{3 * HOUR_MEAN:.2f},,mg/m3
{MN},a21026,hour,2026-01-01T05,12,avg,mg/m3
99999999999999,a21026,day,2026-01-01,3,,
{MN},a21026,week,2026-01-01,3,,
{MN},a21026,hour,2026-01-01T10:30,3,,
{MN},a21026,day,2026-01-01,abc,,
{MN},a21026,day,2026-01-01,{1.5 * HOUR_MEAN:.3f},,
"""


def test_discrepancies_become_findings_and_alarms_with_both_sources(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    path = tmp_path / "self-monitoring.csv"
    path.write_text(CSV, encoding="utf-8")
    with filled(url) as store:
        out = reconcile(store, [path], source="自行监测报告", rel_tol=0.05)
        assert out.compared == 4 and out.agreed == 1
        assert [str(p) for p in out.problems] == [
            "self-monitoring.csv:5: MN '99999999999999' is not registered",
            "self-monitoring.csv:6: period 'week': one of hour, day, month",
            "self-monitoring.csv:7: start '2026-01-01T10:30' does not begin a hour",
            "self-monitoring.csv:8: value 'abc' is not a finite number",
        ]
        by_where = {f.evidence["where"]: f for f in out.findings}
        doubled = by_where["self-monitoring.csv:3"]
        hour2 = sum(20.5 + i % 7 for i in range(60, 120)) / 60
        assert doubled.check == "reconciliation" and doubled.category == "anomaly"
        assert doubled.evidence["their_value"] == pytest.approx(3 * HOUR_MEAN, abs=0.01)
        assert doubled.evidence["our_value"] == pytest.approx(hour2)
        assert doubled.evidence["our_basis"] == {"from": "minute", "readings": 60}
        assert doubled.evidence["source"] == "自行监测报告" and doubled.severity == "high"
        missing = by_where["self-monitoring.csv:4"]
        assert missing.evidence["our_value"] is None and "no data" in missing.message
        day = by_where["self-monitoring.csv:9"]  # the day's mean is over both hours, not the first one
        assert day.evidence["our_value"] == pytest.approx((HOUR_MEAN + hour2) / 2)
        assert out.opened == 1  # one alarm for the point and pollutant, extended by each finding
        [alarm] = store.alarms()
        assert alarm["check_name"] == "reconciliation"
        again = reconcile(store, [path], source="自行监测报告")
        assert again.opened == 0 and again.updated == 0  # dealt with already: nothing raised twice


def test_excel_figures_and_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["MN", "Pollutant", "Period", "Start", "Value"])
    sheet.append([MN, "a21026", "month", "2026-01", HOUR_MEAN * 3])
    sheet.append([MN, "a21026", "hour", "2026-01-01T00:00", HOUR_MEAN])
    path = tmp_path / "station.xlsx"
    book.save(path)
    filled(url).close()
    runner = CliRunner()
    done = runner.invoke(
        app, ["reconcile", str(path), "--source", "环境质量站", "--db", url, "--json", "--no-alarms"]
    )
    assert done.exit_code == 0, done.output
    [finding] = [json.loads(line) for line in done.stdout.splitlines()]
    assert finding["check"] == "reconciliation" and finding["start"].startswith("2026-01-01T00:00:00+08:00")
    assert finding["evidence"]["period"] == "month" and finding["evidence"]["our_basis"]["from"] == "minute"
    assert "2 figures compared: 1 agree, 1 differ" in done.stderr
    with open_store(url) as store:
        assert store.alarms() == []  # --no-alarms
    bad = tmp_path / "bad.csv"
    bad.write_text("mn,value\n1,2\n", encoding="utf-8")
    refused = runner.invoke(app, ["reconcile", str(bad), "--source", "x", "--db", url])
    assert refused.exit_code == 2 and "lacks pollutant, period, start" in refused.output
    with open_store(url) as store, pytest.raises(ImportFormatError, match="tolerance"):
        reconcile(store, [path], source="x", rel_tol=1.5)
