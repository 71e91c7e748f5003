"""Complaints and double-random draws in a real browser: Debian's Chromium driven by Playwright (``executable_path``).

A member of the public, without an account, files a complaint in Chinese from the menu's 我要投诉 with a photo and
writes down the tracking code shown once; the county regulator logs in, opens it from the complaint list, accepts it
and resolves it with a reply; the member of the public, in English, follows it with the code and reads the reply —
not the regulator's internal note.  The city's regulator creates a draw of the city's points and reveals it with the
beacon value; the public opens it from the menu and finds every check of the verification panel ✓ and the export to
download.  Screenshots go to ``test-artifacts/screenshots`` (``ENVTRUST_ARTIFACTS`` to change).  Skips, saying why,
where Chromium or Playwright is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from envtrust.keys import ledger_signer
from envtrust.services import Checkpointer
from scoped import fast_accounts

from .conftest import BROWSER, P1, PASSWORD, Site, build_site, serving, shot

ORIGIN = "test.envtrust/ledger"
# a small PNG (1×1 pixel): the photo of the smoke
PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000201e2213c7c0000000049454e44ae426082"
)

pytestmark = BROWSER
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[str, Site]]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("ENVTRUST_ORIGIN", ORIGIN)
    site = build_site(tmp_path, db_url)
    acc = fast_accounts(site.store)
    for name, region in (("insp_hp", "210102"), ("insp_sh", "210103"), ("insp_city", "2101")):
        acc.create(name, "inspector", who="setup", password=PASSWORD, region=region)
    with serving(site) as url:
        yield url, site
    site.store.close()


def log_in(p: Any, base: str, user: str, target: str) -> None:
    p.context.clear_cookies()
    p.goto(f"{base}/login?next={quote(target, safe='')}")  # /draws needs no login: no redirect to it
    p.fill("input[name=username]", user)
    p.fill("input[name=password]", PASSWORD)
    p.click("#login-submit")
    p.wait_for_url(f"**{target}")


def test_a_complaint_filed_resolved_and_tracked_in_the_browser(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page

    # the public files a complaint in Chinese, from the menu
    p.goto(base + "/public")
    p.click("nav a[href='/complaints/new']")
    p.wait_for_selector("#complaint-form")
    p.fill("#complaint-form input[name=subject]", "夜间烟囱冒黑烟")
    p.fill(
        "#complaint-form textarea[name=description]",
        "每晚 11 点后 1 号锅炉烟囱冒黑烟，持续约两小时，气味刺鼻。",
    )
    p.fill("#complaint-form input[name=location]", "和平区某路 1 号附近")
    p.fill("#complaint-form input[name=mn]", P1)
    p.fill("#complaint-form input[name=contact_name]", "王先生")
    p.fill("#complaint-form input[name=contact_phone]", "13800000000")
    p.set_input_files(
        "#complaint-files", files=[{"name": "黑烟.png", "mimeType": "image/png", "buffer": PHOTO}]
    )
    shot(p, "cmp-1-form", request)
    p.click("#complaint-submit")
    p.wait_for_selector("#tracking-code")
    code = p.text_content("#tracking-code").strip()  # written down
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
    assert "只显示这一次" in p.text_content("#code-warning")
    shot(p, "cmp-2-code", request)
    p.goto(base + "/complaints/new")
    assert p.locator("#tracking-code").count() == 0, "the code is shown once"

    # the county regulator accepts and resolves it
    log_in(p, base, "heping", "/complaints")
    row = p.locator("#complaint-list tr[data-state=received]").first
    assert "夜间烟囱冒黑烟" in row.text_content()
    shot(p, "cmp-3-list", request)
    cid = site.store.quality_rows("complaints")[0]["id"]
    p.click(f"#complaint-{cid} a.open")
    p.wait_for_selector("#accept-form")
    assert "王先生 13800000000" in p.text_content("#contact")
    assert p.locator("#attachment-list a.download").text_content() == "黑烟.png"
    p.fill("#accept-form input[name=note]", "内部：转执法支队核查")
    p.click("#accept-submit")
    p.wait_for_selector("#complaint-state .lamp[data-state=accepted]")
    p.select_option("#close-form select[name=action]", "resolved")
    p.fill("#close-form textarea[name=reply]", "经现场核查属实，已立案处罚并责令整改。")
    p.click("#close-submit")
    p.wait_for_selector("#complaint-state .lamp[data-state=resolved]")
    assert p.locator("#step-list tr[data-action]").count() == 2
    shot(p, "cmp-4-resolved", request)

    # the public follows it in English with the code
    p.context.clear_cookies()
    p.goto(base + "/complaints/track")
    p.click("#lang-switch")
    p.wait_for_selector("text=Track a complaint")
    p.fill("#track-form input[name=code]", code.lower())
    p.click("#track-submit")
    p.wait_for_selector("#tracked")
    assert p.text_content("#tracked-state").strip() == "resolved"
    assert "已立案处罚并责令整改" in p.text_content("#tracked-steps")
    assert "内部" not in p.text_content("main") and "heping" not in p.text_content("main")
    shot(p, "cmp-5-tracked", request)


def test_a_draw_created_revealed_and_verified_in_the_browser(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page

    # the city's regulator creates the draw
    log_in(p, base, "city", "/draws")
    assert p.input_value("#draw-form input[name=region]") == "2101"
    p.fill("#draw-form input[name=title]", "2026 年第四季度重点排污单位双随机抽查")
    p.fill("#draw-form input[name=targets]", "2")
    p.fill("#draw-form input[name=inspectors_per_target]", "1")
    p.fill("#draw-form input[name=beacon_source]", "福彩3D 2026-12-01 开奖号码")
    p.fill("#draw-form textarea[name=conflicts]", f"insp_city={P1}")
    shot(p, "dr-1-form", request)
    p.click("#draw-submit")
    p.wait_for_selector("#done")
    assert p.get_attribute("#draw-state .lamp", "data-state") == "committed"
    assert p.get_attribute("#checks li[data-check=revealed]", "class") == "pending"
    shot(p, "dr-2-committed", request)
    # and reveals it with the beacon's published value
    p.fill("#reveal-form input[name=beacon_value]", "7 3 9")
    p.click("#reveal-submit")
    p.wait_for_selector("#draw-state .lamp[data-state=revealed]")
    Checkpointer(site.store, ledger_signer(ORIGIN, create=False), ORIGIN).checkpoint()

    # the public opens it from the menu: every check ✓, the export to download
    p.click("form[action='/logout'] button")
    p.wait_for_load_state()
    p.click("nav a[href='/draws']")
    p.wait_for_selector("#draw-list")
    p.click("#draw-list a.open")
    p.wait_for_selector("#verify-panel")
    assert p.get_attribute("#verify-panel", "data-ok") == "1"
    marks = p.locator("#checks li .mark").all_text_contents()
    assert len(marks) == 9 and set(marks) == {"✓"}
    assert p.locator("#selection-list tr[data-target]").count() == 2
    link = p.get_attribute("#export-link", "href")
    got = p.request.get(base + link)
    assert got.status == 200 and got.json()["format"] == "envtrust-draw-export/v1"
    assert "envtrust draw verify" in p.text_content("#verify-command")
    p.locator("#verify-panel").scroll_into_view_if_needed()
    shot(p, "dr-3-verified", request)
    p.click("#lang-switch")
    p.wait_for_selector("text=Every check passes.")
    shot(p, "dr-4-verified-en", request)
