"""The pages in a real browser: Debian's Chromium driven by Playwright (``executable_path``; no browser download).

A duty officer logs in, reads the overview, opens a point and sees its chart drawn with the limit line, acknowledges
an alarm from the inbox, switches to English and back; the public portal is read without an account.  Screenshots
of every step are kept as test artefacts in ``test-artifacts/screenshots`` (``ENVTRUST_ARTIFACTS`` to change).
Skips, saying why, where Chromium or Playwright is missing (``make test`` installs Chromium with apt-get).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BROWSER, P1, P2, PASSWORD, Site, build_site, serving, shot

pytestmark = BROWSER
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[str, Site]]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    site = build_site(tmp_path, db_url)
    with serving(site) as url:
        yield url, site
    site.store.close()


def test_duty_officer_logs_in_reads_the_overview_opens_a_point_and_acknowledges_an_alarm(
    served: tuple[str, Site], page: object, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page  # playwright Page
    p.goto(base + "/")  # type: ignore[attr-defined]
    assert "/login" in p.url  # type: ignore[attr-defined]
    p.fill("input[name=username]", "heping")  # type: ignore[attr-defined]
    p.fill("input[name=password]", "wrong password")  # type: ignore[attr-defined]
    p.click("#login-submit")  # type: ignore[attr-defined]
    assert "用户名或密码错误" in p.text_content("#login-error")  # type: ignore[attr-defined]
    p.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    p.click("#login-submit")  # type: ignore[attr-defined]
    p.wait_for_selector("#overview")  # type: ignore[attr-defined]
    shot(p, "1-overview-zh", request)
    rows = p.locator("#ov-body tr[data-mn]")  # type: ignore[attr-defined]
    assert rows.count() == 2, "the Heping regulator sees the two points of county 210102"
    assert p.text_content("#n-offline").strip() == "1"  # type: ignore[attr-defined]
    assert "离线" in p.text_content(f"tr[data-mn='{P2}']")  # type: ignore[attr-defined]

    # a point: the chart is drawn from the API's series, with the limit in its legend
    p.click(f"tr[data-mn='{P1}'] a[href='/points/{P1}']")  # type: ignore[attr-defined]
    p.wait_for_selector("#chart-a21026 .main-svg")  # type: ignore[attr-defined]
    p.wait_for_function("document.querySelector('#chart-a21026').dataset.points > 0")  # type: ignore[attr-defined]
    assert int(p.get_attribute("#chart-a21026", "data-points")) >= 100  # type: ignore[attr-defined]
    assert "限值 35" in p.text_content("#chart-a21026")  # type: ignore[attr-defined]
    shot(p, "2-point-zh", request)

    # the inbox: acknowledge the point's alarm
    p.click("nav a[href='/alarms']")  # type: ignore[attr-defined]
    alarm = site.alarms[P1]
    p.wait_for_selector(f"tr[data-alarm='{alarm}'] button.ack")  # type: ignore[attr-defined]
    shot(p, "3-inbox-zh", request)
    p.click(f"tr[data-alarm='{alarm}'] button.ack")  # type: ignore[attr-defined]
    p.wait_for_load_state()  # type: ignore[attr-defined]
    assert p.locator(f"tr[data-alarm='{alarm}'] button.ack").count() == 0  # type: ignore[attr-defined]
    row = site.store.alarm(alarm)
    assert row is not None and row["acked"]
    p.click(f"tr[data-alarm='{alarm}'] a[href='/alarms/{alarm}']")  # type: ignore[attr-defined]
    assert "已确认" in p.text_content("#alarm-state")  # type: ignore[attr-defined]
    assert "heping" in p.text_content("#history")  # type: ignore[attr-defined]
    shot(p, "4-alarm-zh", request)

    # English, then back to Chinese
    p.click("#lang-switch")  # type: ignore[attr-defined]
    p.wait_for_selector("text=Acknowledged")  # type: ignore[attr-defined]
    assert "Alarms" in p.text_content("header nav")  # type: ignore[attr-defined]
    shot(p, "5-alarm-en", request)
    p.goto(base + "/")  # type: ignore[attr-defined]
    assert "24-hour duty overview" in p.text_content("h1")  # type: ignore[attr-defined]
    shot(p, "6-overview-en", request)
    p.click("#lang-switch")  # type: ignore[attr-defined]
    assert "24小时值守总览" in p.text_content("h1")  # type: ignore[attr-defined]


def test_public_portal_and_ledger_without_an_account(
    served: tuple[str, Site], page: object, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page
    p.goto(base + "/public")  # type: ignore[attr-defined]
    p.click("text=甲热电有限公司")  # type: ignore[attr-defined]
    p.wait_for_selector(".chart .main-svg")  # type: ignore[attr-defined]
    assert "42.50" in p.text_content("table.exceed")  # type: ignore[attr-defined]
    shot(p, "7-public-zh", request)
    p.goto(base + "/ledger")  # type: ignore[attr-defined]
    cp = site.store.latest_checkpoint()
    assert cp is not None and p.text_content("#checkpoint-size").strip() == str(cp["size"])  # type: ignore[attr-defined]
    assert p.locator("#verify-button").count() == 0  # type: ignore[attr-defined]
    shot(p, "8-ledger-public", request)
    # the interactive API docs render from envtrust's own files (the browser reaches nothing else here)
    failed: list[str] = []
    p.on("requestfailed", lambda r: failed.append(r.url))  # type: ignore[attr-defined]
    p.goto(base + "/api/v1/docs")  # type: ignore[attr-defined]
    p.wait_for_selector(".swagger-ui .info .title")  # type: ignore[attr-defined]
    assert "envtrust API" in p.text_content(".swagger-ui .info .title")  # type: ignore[attr-defined]
    p.wait_for_selector(".opblock-tag-section")  # type: ignore[attr-defined]
    assert not failed, failed
    shot(p, "9-api-docs", request)


def test_ledger_verify_action_runs_in_the_page(
    served: tuple[str, Site], page: object, request: pytest.FixtureRequest
) -> None:
    base, _ = served
    p = page
    p.goto(base + "/login?next=/ledger")  # type: ignore[attr-defined]
    p.fill("input[name=username]", "shenhe")  # type: ignore[attr-defined]
    p.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    p.click("#login-submit")  # type: ignore[attr-defined]
    p.click("#verify-button")  # type: ignore[attr-defined]
    p.wait_for_selector("#verify-state[data-job=done]", timeout=30000)  # type: ignore[attr-defined]
    assert "验证通过" in p.text_content("#verify-state")  # type: ignore[attr-defined]
    shot(p, "9-ledger-verified", request)
