"""Daily penalties, the blacklist and the county ranking in a real browser: Debian's Chromium driven by Playwright
(``executable_path``).

The county regulator of Heping records an order to rectify for the cement works' kiln outlet, served ten days ago,
and four days after the service its recheck finding the violation continuing; the public (no account) opens the
penalty page in Chinese — four days, the two with alarms marked — then in English.  The regulator lists an
equipment operator on the blacklist and the public sees it; the city's regulator opens the county ranking with its
chart.  Screenshots go to ``test-artifacts/screenshots`` (``ENVTRUST_ARTIFACTS`` to change).  Skips, saying why,
where Chromium or Playwright is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from envtrust.alarms.book import AlarmBook
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation

from .conftest import BROWSER, P2, PASSWORD, ZONE, Site, build_site, serving, shot

pytestmark = BROWSER
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def alarm_on(site: Site, day: date, check: str, category: str) -> int:
    start = int(datetime(day.year, day.month, day.day, 12, tzinfo=ZONE).timestamp())
    finding = Finding(P2, "a21026", check, category, "high", start, start + 3600, "测试 | test", {})
    AlarmBook(site.store).apply([Evaluation(P2, [finding], (check,), start + 3600)])
    return max(int(a["id"]) for a in site.store.alarms(mn=[P2], closed=None) if a["check_name"] == check)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[str, Site]]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    site = build_site(tmp_path, db_url)
    with serving(site) as url:
        yield url, site
    site.store.close()


def log_in(p: Any, base: str, user: str, target: str) -> None:
    p.context.clear_cookies()
    p.goto(base + "/login?next=" + quote(target, safe=""))  # the public pages ask nobody to log in
    p.fill("input[name=username]", user)
    p.fill("input[name=password]", PASSWORD)
    p.click("#login-submit")
    p.wait_for_url(f"**{target}")


def log_out(p: Any) -> None:
    p.click("form[action='/logout'] button")
    p.wait_for_load_state()


def test_an_order_its_recheck_and_the_public_penalty_page(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page
    served_on = site.now_local.date() - timedelta(days=10)
    exceeded = alarm_on(site, served_on + timedelta(days=1), "exceedance_hour", "exceedance")
    tampered = alarm_on(site, served_on + timedelta(days=3), "low_variance", "tampering")

    # the county's regulator records the order from the menu
    log_in(p, base, "heping", "/orders")
    p.click("nav a[href='/orders']")
    p.wait_for_selector("#order-form")
    p.fill("#order-form input[name=order_no]", "沈和环责改〔2026〕12号")
    p.fill("#order-form input[name=enterprise]", "乙水泥有限公司")
    p.fill("#order-form input[name=served_on]", served_on.isoformat())
    p.select_option("#order-form select[name=mn_pick]", [P2])
    p.fill("#order-form textarea[name=violation]", "窑尾二氧化硫超标排放")
    p.fill("#order-form input[name=evidence]", f"alarms/{exceeded}")
    shot(p, "credit-1-order-form", request)
    p.click("#order-submit")
    p.wait_for_selector("#done")
    assert p.get_attribute("#penalty-days", "data-days") == "0"
    assert "尚未复查" in p.text_content("#recheck")

    # four days after the service, the recheck finds the violation continuing
    p.fill("#recheck-form input[name=rechecked_on]", (served_on + timedelta(days=4)).isoformat())
    p.select_option("#recheck-form select[name=result]", "continued")
    p.fill("#recheck-form textarea[name=note]", "现场复查：窑尾仍超标排放")
    p.fill("#recheck-form input[name=evidence]", f"alarms/{tampered}")
    p.click("#recheck-submit")
    p.wait_for_selector("#recheck [data-result=continued]")
    assert p.get_attribute("#penalty-days", "data-days") == "4"
    assert p.locator("#recheck-form").count() == 0
    order_url = p.url.split("?")[0]
    shot(p, "credit-2-rechecked", request)
    log_out(p)

    # the public opens the penalty page: four days, the first and the third with alarms
    p.context.clear_cookies()
    p.goto(base + "/orders")
    assert p.locator("#order-list tr[data-days='4']").count() == 1
    p.click("#order-list a.open")
    p.wait_for_selector("#day-table")
    assert p.url.split("?")[0] == order_url
    assert p.text_content("#penalty-days").strip() == "4"
    marks = [p.get_attribute(f"#day-strip li:nth-child({i})", "class") for i in range(1, 5)]
    assert marks == ["on", "off", "on", "off"]
    assert p.locator("#day-table td.mark.on").count() == 2
    assert p.locator(f"#day-table a[href='/alarms/{exceeded}']").count() == 1
    rule = p.text_content("#rule")
    assert "第五十九条" in rule and "共 4 日" in rule
    shot(p, "credit-3-penalty-zh", request)
    p.click("#lang-switch")
    p.wait_for_selector("text=Continuous daily penalty")
    rule = p.text_content("#rule")
    assert "art. 59" in rule and "4 days" in rule and "第五十九条" not in rule
    assert "2 of them with alarms" in p.text_content("#alarm-days")
    shot(p, "credit-4-penalty-en", request)


def test_a_blacklisting_seen_by_the_public_and_the_county_ranking(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page
    alarm = min(site.alarms.values())
    log_in(p, base, "heping", "/blacklist")
    p.wait_for_selector("#listing-form")
    p.select_option("#listing-form select[name=subject_kind]", "operator")
    p.fill("#listing-form input[name=subject_id]", "91210102MA0XXXXX1X")
    p.fill("#listing-form input[name=subject_name]", "某环保运维有限公司")
    p.fill("#listing-form textarea[name=reason]", "运维人员配合篡改自动监测数据")
    p.fill("#listing-form input[name=evidence]", f"alarms/{alarm}")
    p.fill("#listing-form input[name=decision]", "沈和环罚〔2026〕8号")
    shot(p, "credit-5-listing-form", request)
    p.click("#listing-submit")
    p.wait_for_selector("#done")
    listing = p.locator("section.listing").first
    assert listing.get_attribute("data-state") == "listed"
    log_out(p)

    # the public sees it, in Chinese and with the export links
    p.context.clear_cookies()
    p.goto(base + "/blacklist")
    section = p.locator("section.listing[data-subject='91210102MA0XXXXX1X']")
    assert section.count() == 1 and section.get_attribute("data-state") == "listed"
    assert "列入中" in section.text_content() and "沈和环罚〔2026〕8号" in section.text_content()
    assert p.locator("#export-csv").get_attribute("href") == "/api/v1/blacklist/export?format=csv"
    assert p.locator("section.listing form").count() == 0
    got = p.request.get(base + "/api/v1/blacklist/export?format=csv")
    assert got.status == 200 and "91210102MA0XXXXX1X" in got.body().decode("utf-8-sig")
    shot(p, "credit-6-blacklist-public", request)

    # the city's regulator: the county ranking with its chart
    log_in(p, base, "city", "/ranking")
    assert p.locator("nav a[href='/ranking']").count() == 1
    p.wait_for_selector("#ranking-chart .main-svg")
    first = p.locator("#ranking-table tbody tr").first
    assert first.get_attribute("data-county") == "210102" and first.get_attribute("data-total") == "1"
    assert p.locator("#ranking-table a[href^='/blacklist#listing-']").count() == 1
    shot(p, "credit-7-ranking", request)
