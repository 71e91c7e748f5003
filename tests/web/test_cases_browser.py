"""Case transfer in a real browser (Debian's Chromium driven by Playwright, ``executable_path``): the county
regulator opens a fraud case for the cement works' kiln outlet, uploads the three documents the policy lists, and
downloads the transfer package, which verifies with nothing but itself.  Screenshots go to
``test-artifacts/screenshots``.  Skips, saying why, where Chromium or Playwright is missing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from envtrust.keys import ledger_signer
from envtrust.services import Checkpointer
from envtrust.workflow.cases import verify_package

from .conftest import BROWSER, P2, Site, build_site, serving, shot
from .test_credit_browser import log_in

pytestmark = BROWSER
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
ORIGIN = "test.envtrust/ledger"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[str, Site]]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    site = build_site(tmp_path, db_url)
    with serving(site) as url:
        yield url, site
    site.store.close()


def test_a_case_opened_documented_and_packaged_in_the_browser(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page
    log_in(p, base, "heping", "/cases")
    p.click("nav a[href='/cases']")
    p.wait_for_selector("#case-form")
    start = (site.now_local - timedelta(hours=3)).strftime("%Y-%m-%dT%H:00")
    end = site.now_local.strftime("%Y-%m-%dT%H:00")
    p.fill("#case-form input[name=case_no]", "沈和环移〔2026〕3号")
    p.fill("#case-form input[name=title]", "涉嫌篡改自动监测数据案")
    p.fill("#case-form input[name=enterprise]", "乙水泥有限公司")
    p.fill("#case-form input[name=start]", start)
    p.fill("#case-form input[name=end]", end)
    p.select_option("#case-form select[name=mn_pick]", [P2])
    p.fill("#case-form textarea[name=summary]", "现场检查发现数采仪参数被修改")
    shot(p, "cases-1-open", request)
    p.click("#case-submit")
    p.wait_for_selector("#case-no")
    assert p.locator("#checklist li[data-have='0']").count() >= 3
    for kind, title in (("transfer_letter", "涉嫌犯罪案件移送书"), ("investigation_report", "调查报告"),
                        ("site_record", "现场勘查笔录")):  # fmt: skip
        p.select_option("#document-form select[name=kind]", kind)
        p.fill("#document-form input[name=title]", title)
        p.set_input_files("#document-file", files=[{"name": f"{kind}.pdf", "mimeType": "application/pdf",
                                                     "buffer": f"%PDF-1.4 {title}".encode()}])  # fmt: skip
        p.click("#document-submit")
        p.wait_for_selector("#done")
    assert p.locator("#checklist li.missing").count() == 0
    assert p.locator("#package-missing").count() == 0
    shot(p, "cases-2-documents", request)

    signer = ledger_signer(ORIGIN, create=True)  # the site's own log key (same key directory)
    Checkpointer(site.store, signer, ORIGIN).checkpoint()
    with p.expect_download() as got:
        p.click("#package-download")
    data = Path(got.value.path()).read_bytes()
    checks = verify_package(data, log_key=signer.verifier())
    assert checks and all(ok for _, ok, _ in checks), [c for c in checks if not c[1]]
    assert "envtrust case verify" in p.text_content("#verify-command")
    shot(p, "cases-3-package", request)
