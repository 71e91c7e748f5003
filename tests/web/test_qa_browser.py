"""The quality-record pages in a real browser: Debian's Chromium driven by Playwright (``executable_path``).

An enterprise's operator opens the analysers of its point, reads one analyser with its deviation and CUSUM charts
drawn from the data in the page, records a failing zero check through the form and sees the analyser go out of
control; in English, a span check with an expired reference lot is refused with the English message.
Screenshots go to ``test-artifacts/screenshots`` (``ENVTRUST_ARTIFACTS`` to change).  Skips, saying why, where
Chromium or Playwright is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from envtrust.workflow.qa import QualityRecords

from .conftest import BROWSER, P1, PASSWORD, ZONE, Site, build_site, serving, shot

pytestmark = BROWSER
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[str, Site]]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    site = build_site(tmp_path, db_url)
    with serving(site) as url:
        yield url, site
    site.store.close()


def test_an_operator_reads_an_analyser_and_records_a_failing_zero_check(
    served: tuple[str, Site], page: object, request: pytest.FixtureRequest
) -> None:
    base, site = served
    rec = QualityRecords(site.store)
    start = site.now_local.replace(tzinfo=ZONE)
    aid = rec.register_analyser(
        mn=P1,
        pollutant="a21026",
        serial_no="SO2-2024-0117",
        maker="聚光科技",
        model="CEMS-2000",
        range_low=0,
        range_high=100,
        unit="mg/m3",
        automatic=True,
        valid_from=int((start - timedelta(days=10)).timestamp()),
        who="setup",
    ).row["id"]
    lot = rec.register_lot(
        producer="国家标准物质中心",
        certificate_no="GBW(E)080123",
        lot_no="1901",
        material="SO2 in N2",
        certified_value="50.0",
        unit="mg/m3",
        uncertainty="1.0",
        expires_on="2020-01-31",
        who="setup",
    ).row["id"]
    for day, reading in enumerate(("0.3", "0.8", "1.2", "1.9", "2.2")):  # drifting upwards, still passing
        t = int((start - timedelta(days=5 - day)).timestamp())
        rec.record_check(
            analyser_id=aid,
            kind="zero",
            started=t,
            ended=t,
            reading=reading,
            performed_by="王工",
            who="setup",
        )

    p = page  # playwright Page
    p.goto(base + "/qa")  # type: ignore[attr-defined]
    p.fill("input[name=username]", "ent1")  # type: ignore[attr-defined]
    p.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    p.click("#login-submit")  # type: ignore[attr-defined]
    p.wait_for_selector(f"tr[data-analyser='{aid}']")  # type: ignore[attr-defined]
    assert "受控" in p.text_content(f"tr[data-analyser='{aid}'] .lamp")  # type: ignore[attr-defined]
    shot(p, "1-analysers-zh", request)

    p.click(f"tr[data-analyser='{aid}'] a[href='/qa/analysers/{aid}']")  # type: ignore[attr-defined]
    p.wait_for_selector("#qa-charts[data-drawn='1']")  # type: ignore[attr-defined]
    assert p.get_attribute("#qa-dev-zero", "data-points") == "5"  # type: ignore[attr-defined]
    assert p.get_attribute("#qa-cusum-zero", "data-points") == "5"  # type: ignore[attr-defined]
    assert "技术指标 ±2.5" in p.text_content("#qa-dev-zero")  # type: ignore[attr-defined]
    assert "失控限 ±5" in p.text_content("#qa-dev-zero")  # type: ignore[attr-defined]
    assert "h_x" in p.text_content("#qa-cusum-zero")  # type: ignore[attr-defined]
    shot(p, "2-analyser-zh", request)

    # a failing zero check through the form (the start defaults to now)
    p.select_option("select[name=kind]", "zero")  # type: ignore[attr-defined]
    p.fill("input[name=reading]", "7.2")  # type: ignore[attr-defined]
    p.click("#record-submit")  # type: ignore[attr-defined]
    p.wait_for_selector("#recorded")  # type: ignore[attr-defined]
    assert p.text_content("#recorded-verdict").strip() == "不合格"  # type: ignore[attr-defined]
    assert "失控" in p.text_content("#qa-state")  # type: ignore[attr-defined]
    assert "仍未恢复" in p.text_content("#qa-spans")  # type: ignore[attr-defined]
    assert p.get_attribute("#qa-dev-zero", "data-points") == "6"  # type: ignore[attr-defined]
    shot(p, "3-recorded-fail-zh", request)
    p.click("nav a[href='/qa']")  # type: ignore[attr-defined]
    lamp = p.text_content(f"tr[data-analyser='{aid}'] .lamp")  # type: ignore[attr-defined]
    assert lamp.strip() == "失控"

    # in English, the expired lot is refused with the English message and the form keeps what was typed
    p.click("#lang-switch")  # type: ignore[attr-defined]
    p.goto(f"{base}/qa/analysers/{aid}")  # type: ignore[attr-defined]
    p.select_option("select[name=kind]", "span")  # type: ignore[attr-defined]
    p.fill("input[name=reading]", "50.4")  # type: ignore[attr-defined]
    p.evaluate(  # type: ignore[attr-defined]
        "id => { const s = document.querySelector('select[name=lot_id]');"
        " s.add(new Option('expired', String(id))); s.value = String(id); }",
        lot,
    )
    p.click("#record-submit")  # type: ignore[attr-defined]
    p.wait_for_selector("#form-error")  # type: ignore[attr-defined]
    error = p.text_content("#form-error")  # type: ignore[attr-defined]
    assert "Not recorded: reference lot GBW(E)080123 lot 1901 expired on 2020-01-31" in error
    assert p.input_value("input[name=reading]") == "50.4"  # type: ignore[attr-defined]
    shot(p, "4-refused-en", request)
