"""The interference register in a real browser: Debian's Chromium driven by Playwright (``executable_path``).

A laboratory analyst creates her sealed signing key on /keys, records in Chinese an interference by a deputy county
head with a photo of his written instruction attached, and logs out; the discipline-inspection account of the city
logs in, opens the record from the register, receives it, switches to English and concludes it.  Every step is
signed with the person's own passphrase and shown with its signature verified.  Screenshots go to
``test-artifacts/screenshots`` (``ENVTRUST_ARTIFACTS`` to change).  Skips, saying why, where Chromium or Playwright
is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from envtrust.workflow import lab as lab_module
from envtrust.workflow import signing
from envtrust.workflow.lab import Lab
from scoped import fast_accounts

from .conftest import BROWSER, P1, PASSWORD, Site, build_site, serving, shot

PHRASE = {"lab": "lab analyst signing phrase", "jiwei": "jiwei signing phrase"}
# a small PNG (1×1 pixel): the photo of the instruction
PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000201e2213c7c0000000049454e44ae426082"
)

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
    monkeypatch.setattr(lab_module, "_failures", {})
    site = build_site(tmp_path, db_url)
    acc = fast_accounts(site.store)
    acc.create(
        "jiwei", "discipline", who="setup", password=PASSWORD, region="2101", display_name="市纪委监委"
    )
    Lab(site.store, origin="envtrust.local/ledger").create_sealed_key("jiwei", PHRASE["jiwei"], who="jiwei")
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


def test_an_interference_recorded_received_and_concluded_in_the_browser(
    served: tuple[str, Site], page: Any, request: pytest.FixtureRequest
) -> None:
    base, site = served
    p = page
    when = (site.now_local - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")

    # the analyst creates her sealed key on /keys
    log_in(p, base, "lab", "/keys")
    p.fill("#key-form input[name=passphrase]", PHRASE["lab"])
    p.fill("#key-form input[name=passphrase2]", PHRASE["lab"])
    p.click("#key-submit")
    p.wait_for_selector("#done")
    assert p.get_attribute("#key-list tr[data-key]", "data-state") == "active"

    # she records the interference in Chinese, with the photo of the instruction
    p.click("nav a[href='/interference']")
    p.wait_for_selector("#itf-form")
    assert p.locator("#need-key").count() == 0
    p.fill("#itf-form input[name=region]", "210102")
    p.fill("#itf-form input[name=occurred]", when)
    p.select_option("#itf-form select[name=means]", "written_instruction")
    p.fill("#itf-form input[name=actor_name]", "张某")
    p.fill("#itf-form input[name=actor_role]", "副县长")
    p.fill("#itf-form input[name=actor_org]", "某县人民政府")
    p.fill(
        "#itf-form textarea[name=request]",
        "在监测报告上批示：“该厂二氧化硫超标数据暂不上报，待企业整改后再说。”",
    )
    p.fill("#itf-form input[name=mns]", P1)
    p.fill("#itf-form input[name=records]", "alarms/1")
    p.set_input_files(
        "#itf-files", files=[{"name": "批示照片.png", "mimeType": "image/png", "buffer": PHOTO}]
    )
    p.fill("#itf-passphrase", PHRASE["lab"])
    shot(p, "itf-1-form", request)
    p.click("#itf-submit")
    p.wait_for_selector("#done")
    assert p.get_attribute("#itf-state .lamp", "data-state") == "recorded"
    assert p.locator("#record-sig .sig.ok").count() == 1
    assert "张某" in p.text_content("#actor-name")
    link = p.locator("#attachment-list a.download")
    assert link.text_content() == "批示照片.png"
    assert hashlib.sha256(PHOTO).hexdigest() in p.text_content("#attachment-list")
    shot(p, "itf-2-recorded", request)
    # the attachment downloads byte for byte, with the session of the page
    got = p.request.get(base + link.get_attribute("href"))
    assert got.status == 200 and got.body() == PHOTO
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    p.click("form[action='/logout'] button")
    p.wait_for_load_state()
    assert p.locator("nav a[href='/interference']").count() == 0

    # the city's discipline account opens it from the register and receives it
    log_in(p, base, "jiwei", "/interference")
    assert p.locator("#itf-list tr[data-record]").count() == 1
    assert p.get_attribute("#itf-summary tr[data-region]", "data-region") == "210102"
    shot(p, "itf-3-register", request)
    p.click("#itf-list a.open")
    p.wait_for_selector("#handle-form")
    p.select_option("#handle-form select[name=action]", "received")
    p.fill("#handle-form input[name=note]", "已受理，转第二监督检查室")
    p.fill("#handle-passphrase", PHRASE["jiwei"])
    p.click("#handle-submit")
    p.wait_for_selector("#itf-state .lamp[data-state=received]")
    assert "已受理" in p.text_content("#itf-state")
    assert p.locator("#trail-list tr[data-action=received] .sig.ok").count() == 1
    shot(p, "itf-4-received", request)

    # in English, it concludes the case
    p.click("#lang-switch")
    p.wait_for_selector("text=Interference record")
    p.select_option("#handle-form select[name=action]", "concluded")
    p.fill(
        "#handle-form input[name=note]",
        "Deputy county head Zhang given a Party warning; the data were reported.",
    )
    p.fill("#handle-passphrase", PHRASE["jiwei"])
    p.click("#handle-submit")
    p.wait_for_selector("#itf-state .lamp[data-state=concluded]")
    assert p.text_content("#itf-state").strip() == "concluded"
    assert p.locator("#concluded-note").count() == 1 and p.locator("#handle-form").count() == 0
    assert p.locator("#trail-list .sig.ok").count() == 2
    assert "The step is signed and recorded in the ledger." in p.text_content("#done")
    shot(p, "itf-5-concluded", request)
