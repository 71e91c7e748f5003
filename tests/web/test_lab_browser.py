"""The laboratory pages in a real browser: Debian's Chromium driven by Playwright (``executable_path``).

Four people sign a report cycle through the forms, each with their own sealed key and passphrase: the sampler plans
a sample and signs its taking, the analyst receives it and signs an analysis with a certified lot, the reviewer
approves it, the authorised signatory issues the report.  The report's PDF link answers with a PDF, and the verify
page opened from the report page shows the entry verified once a checkpoint is signed.  Screenshots go to
``test-artifacts/screenshots`` (``ENVTRUST_ARTIFACTS`` to change).  Skips, saying why, where Chromium or
Playwright is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from envtrust.keys import ledger_signer
from envtrust.services import Checkpointer
from envtrust.workflow import signing
from envtrust.workflow.lab import Lab
from envtrust.workflow.qa import QualityRecords
from scoped import fast_accounts

from .conftest import BROWSER, P3, PASSWORD, Site, build_site, serving, shot

PEOPLE = {"samp": ("sampler",), "ana": ("receiver", "analyst"), "rev": ("reviewer",), "sig": ("signatory",)}
PHRASE = {name: f"{name} signing phrase" for name in PEOPLE}

pytestmark = BROWSER
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _no_wait(init: Any) -> Any:
    def wrapped(self: Lab, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "activation_s": 0})

    return wrapped


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[str, Site]]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    monkeypatch.setattr(Lab, "__init__", _no_wait(Lab.__init__))  # new keys are active at once
    site = build_site(tmp_path, db_url)
    acc = fast_accounts(site.store)
    lab = Lab(site.store, origin="envtrust.local/ledger")
    for name, functions in PEOPLE.items():
        acc.create(name, "lab", who="setup", password=PASSWORD, display_name=f"实验员{name}")
        for function in functions:
            lab.grant(name, function, who="admin")
        lab.create_sealed_key(name, PHRASE[name], who=name)
    with serving(site) as url:
        yield url, site
    site.store.close()


def log_in(p: Any, base: str, user: str, target: str) -> None:
    p.context.clear_cookies()
    p.goto(base + target)
    p.fill("input[name=username]", user)
    p.fill("input[name=password]", PASSWORD)
    p.click("#login-submit")
    p.wait_for_url(f"**{target}")


def test_a_report_cycle_in_the_browser(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page
    when = (site.now_local - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    lot = QualityRecords(site.store).register_lot(
        producer="国家标准物质中心", certificate_no="GBW08617", lot_no="L1", material="COD", certified_value="100",
        unit="mg/L", uncertainty="2", expires_on=(site.now_local + timedelta(days=365)).date().isoformat(),
        who="setup",
    ).row["id"]  # fmt: skip

    # the sampler plans the sample and signs its taking
    log_in(p, base, "samp", "/lab")
    assert p.get_attribute("#my-functions .fn", "data-function") == "sampler"
    p.fill("#plan-form input[name=sample_no]", "S-2024-07")
    p.fill("#plan-form input[name=matrix]", "废水")
    p.fill("#plan-form input[name=mn]", P3)
    p.click("#plan-submit")
    p.wait_for_selector("#done")
    p.select_option("#custody-form select[name=step]", "sampled")
    p.fill("#custody-form input[name=at]", when)
    p.fill("#custody-form input[name=place]", "总排口")
    p.fill("#custody-form input[name=condition]", "4°C 冷藏，封条完好")
    p.fill("#custody-passphrase", PHRASE["samp"])
    p.click("#custody-submit")
    p.wait_for_selector("tr[data-act='lab.custody'] .sig.ok")
    shot(p, "1-sampled", request)

    # the analyst receives it and signs an analysis with the certified lot
    log_in(p, base, "ana", "/lab")
    p.click("#task-receive a")
    p.select_option("#custody-form select[name=step]", "received")
    p.fill("#custody-form input[name=place]", "实验室收样室")
    p.fill("#custody-form input[name=condition]", "4°C，封条完好")
    p.fill("#custody-passphrase", PHRASE["ana"])
    p.click("#custody-submit")
    p.wait_for_selector("#analysis-form")
    p.fill("#analysis-form input[name=parameter]", "w01018")
    p.fill("#analysis-form input[name=method]", "HJ 828-2017")
    p.fill("#analysis-form input[name=instrument]", "滴定管 B-07")
    p.fill("#analysis-form input[name=raw_result]", "36.40")
    p.fill("#analysis-form input[name=unit]", "mg/L")
    p.select_option("#analysis-form select[name=lot_ids]", str(lot))
    p.fill("#analysis-passphrase", PHRASE["ana"])
    p.click("#analysis-submit")
    p.wait_for_selector("tr[data-act='lab.analysis']")
    assert p.get_attribute("#analyses tr[data-analysis]", "data-state") == "to_review"
    shot(p, "2-analysed", request)

    # the reviewer approves it
    log_in(p, base, "rev", "/lab")
    p.click("#task-review a")
    p.fill("form.review input[name=comment]", "复核无误")
    p.fill("form.review input[name=passphrase]", PHRASE["rev"])
    p.click("form.review .review-submit")
    p.wait_for_selector("tr[data-act='lab.review']")
    shot(p, "3-reviewed", request)

    # the signatory issues the report
    log_in(p, base, "sig", "/lab")
    p.check("#report-analyses input[name=analysis_ids]")
    p.fill("#issue-form input[name=report_no]", "R-2024-007")
    p.fill("#issue-form input[name=title]", "比对监测检测报告")
    p.fill("#issue-passphrase", PHRASE["sig"])
    p.click("#issue-submit")
    p.wait_for_selector("#pdf-link")
    assert p.get_attribute("#pdf-check", "data-ok") == "1"
    assert p.locator("#people .sig.ok").count() == 5  # sampled, received, analysis, review, report
    shot(p, "4-report", request)

    # the PDF link answers with the PDF (public: no session needed)
    href = p.get_attribute("#pdf-link", "href")
    pdf = p.request.get(base + href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"

    # a checkpoint is signed; the verify page opened from the report page shows the entry verified
    Checkpointer(
        site.store, ledger_signer("test.envtrust/ledger", create=True), "test.envtrust/ledger"
    ).checkpoint()
    p.click("#verify-link")
    p.wait_for_selector("#verify-result")
    assert p.get_attribute("#verify-result", "data-state") == "verified"
    assert "已验证" in p.text_content("#verify-result")
    assert p.text_content("#entry-type") == "lab.report"
    shot(p, "5-verified", request)
