"""The laboratory, signing-key, data-mark, trace and verification pages through an in-process client.

A whole report cycle through the forms by four people — a sampler, an analyst who also receives, a reviewer and an
authorised signatory — each with a sealed key created on the page and each step signed with their own passphrase;
the refusals the workflow makes (reviewing one's own work, a wrong passphrase, an expired reference lot) come back
as the form with the reason in the reader's language; the report's PDF is public and its ledger entry verifies on
the public page once a checkpoint is signed.  Marks and traces follow the API's scopes account by account, and
hostile text stays text.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from envtrust.keys import ledger_signer
from envtrust.services import Checkpointer
from envtrust.web.i18n import MESSAGES
from envtrust.workflow import signing
from envtrust.workflow.lab import Lab
from envtrust.workflow.qa import QualityRecords
from scoped import fast_accounts

from .conftest import CSRF, P1, P2, P3, PASSWORD, Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
# lab accounts of the cycle and the functions an administrator grants them
PEOPLE = {
    "samp": ("sampler",),
    "ana": ("receiver", "analyst"),
    "rev": ("reviewer",),
    "sig": ("signatory",),
}
PHRASE = {name: f"{name} signing phrase" for name in (*PEOPLE, "ent1", "ent2", "heping", "city", "shenhe")}
EVIL = "<script>alert(1)</script>"


def _no_wait(init: Any) -> Any:
    def wrapped(self: Lab, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "activation_s": 0})

    return wrapped


@pytest.fixture
def lab_site(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The site with four lab people holding their functions; keys are cheap to seal and active at once (the
    24 h wait is tested in tests/workflow)."""
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    monkeypatch.setattr(Lab, "__init__", _no_wait(Lab.__init__))
    acc = fast_accounts(site.store)
    for name in PEOPLE:
        acc.create(name, "lab", who="setup", password=PASSWORD, display_name=f"实验员{name}")
    lab = Lab(site.store, origin="envtrust.local/ledger")
    for name, functions in PEOPLE.items():
        for function in functions:
            lab.grant(name, function, who="admin")
    yield site


def local(site: Site, hours_ago: float) -> str:
    return (site.now_local - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M")


def lots(site: Site) -> dict[str, int]:
    rec = QualityRecords(site.store)
    usable = rec.register_lot(
        producer="国家标准物质中心", certificate_no="GBW08617", lot_no="L1", material="COD", certified_value="100",
        unit="mg/L", uncertainty="2", expires_on=(site.now_local + timedelta(days=365)).date().isoformat(),
        who="setup",
    ).row["id"]  # fmt: skip
    expired = rec.register_lot(
        producer="国家标准物质中心", certificate_no="GBW08617", lot_no="L0", material="COD", certified_value="100",
        unit="mg/L", uncertainty="2", expires_on="2020-01-31", who="setup",
    ).row["id"]  # fmt: skip
    return {"usable": int(usable), "expired": int(expired)}


def as_user(client: TestClient, user: str) -> str:
    """Log in as ``user`` (a new session) and return its CSRF token."""
    client.cookies.clear()
    return login(client, user)


def make_key(client: TestClient, csrf: str, user: str, back: str = "lab") -> None:
    phrase = PHRASE[user]
    r = client.post("/keys", data={"csrf": csrf, "passphrase": phrase, "passphrase2": phrase, "back": back})
    assert r.status_code == 303 and r.headers["location"].endswith("done=key_created#keys"), r.text


def error_of(page: str) -> str:
    m = re.search(r'id="form-error">(.*?)</p>', page, re.S)
    assert m, "the refused form says why"
    return html.unescape(m.group(1))


def custody(client: TestClient, csrf: str, site: Site, user: str, step: str, hours_ago: float) -> Any:
    return client.post(
        "/lab/custody",
        data={"csrf": csrf, "sample_no": "S-1", "step": step, "at": local(site, hours_ago), "place": "总排口",
              "condition": "4°C 冷藏", "seal_no": "F-01", "passphrase": PHRASE[user]},
    )  # fmt: skip


def analysis_form(csrf: str, site: Site, lot: int, **extra: str) -> dict[str, Any]:
    return {
        "csrf": csrf, "sample_no": "S-1", "parameter": "w01018", "method": "HJ 828-2017", "instrument": "滴定管 B-07",
        "raw_result": "36.40", "unit": "mg/L", "analysed_at": local(site, 0.2), "lot_ids": [str(lot)],
        "passphrase": PHRASE["ana"], **extra,
    }  # fmt: skip


def run_cycle(client: TestClient, site: Site) -> dict[str, Any]:
    """Sample → custody → analysis → review → report, each by its own person through the pages."""
    lot = lots(site)
    # the sampler creates a key, plans the sample and signs its taking and transport
    csrf = as_user(client, "samp")
    make_key(client, csrf, "samp")
    page = client.get("/lab").text
    assert 'data-function="sampler"' in page and 'data-state="active"' in page
    r = client.post(
        "/lab/samples",
        data={"csrf": csrf, "sample_no": "S-1", "matrix": "废水", "purpose": "comparison", "mn": P3},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/lab/samples/S-1"), r.text
    assert 'id="task-sample"' in client.get("/lab").text
    assert custody(client, csrf, site, "samp", "sampled", 3).status_code == 303
    assert custody(client, csrf, site, "samp", "transported", 2).status_code == 303
    # the analyst receives it; the lab page lists it to receive, then to analyse
    csrf = as_user(client, "ana")
    make_key(client, csrf, "ana")
    assert re.search(r'id="task-receive">.*S-1', client.get("/lab").text, re.S)
    assert custody(client, csrf, site, "ana", "received", 1).status_code == 303
    page = client.get("/lab/samples/S-1").text
    assert 'id="analysis-form"' in page and f'<option value="{lot["usable"]}"' in page
    assert f'<option value="{lot["expired"]}"' not in page, "only usable lots are offered"
    r = client.post("/lab/analyses", data=analysis_form(csrf, site, lot["usable"]))
    assert r.status_code == 303, r.text
    aid = int(site.store.quality_rows("analyses")[0]["id"])
    return {"lot": lot, "analysis": aid}


def review_and_issue(client: TestClient, site: Site, aid: int) -> None:
    csrf = as_user(client, "rev")
    make_key(client, csrf, "rev")
    assert f'data-analysis="{aid}"' in client.get("/lab").text
    r = client.post(
        f"/lab/analyses/{aid}/review",
        data={"csrf": csrf, "decision": "approve", "comment": "复核无误", "passphrase": PHRASE["rev"]},
    )
    assert r.status_code == 303 and "done=reviewed" in r.headers["location"], r.text
    csrf = as_user(client, "sig")
    make_key(client, csrf, "sig")
    page = client.get("/lab").text
    assert 'id="issue-form"' in page and f'value="{aid}"' in page
    r = client.post(
        "/lab/reports",
        data={"csrf": csrf, "report_no": "R-2024-001", "title": "比对监测报告", "analysis_ids": [str(aid)],
              "passphrase": PHRASE["sig"]},
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/lab/reports/R-2024-001"), r.text


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_these_pages_exists_in_both_languages() -> None:
    used: set[str] = set()
    names = ("lab.html", "lab_sample.html", "lab_report.html", "keys.html", "_keys.html", "_lab_macros.html",
             "marks.html", "trace.html", "verify_entry.html", "point.html", "base.html")  # fmt: skip
    for name in names:
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    code = (WEB / "lab_pages.py").read_text(encoding="utf-8")
    used |= set(re.findall(r"[\"']((?:lab|key|mark|tr|vf|sig|dur|done)\.[a-z0-9_.]*[a-z0-9_])[\"']", code))
    used -= {
        "lab.html",
        "lab_sample.html",
        "lab_report.html",
        "mark.data",
        "lab.retraction",
    }  # names, not keys
    assert {"nav.lab", "nav.marks", "nav.keys", "lab.title", "vf.verified", "tr.intro", "mark.title"} <= used
    # keys built from values
    for prefix, values in {
        "lab.fn.": ("sampler", "receiver", "analyst", "reviewer", "signatory"),
        "lab.step.": ("sampled", "transported", "received", "rejected"),
        "lab.purpose.": ("comparison", "supervisory", "self"),
        "lab.sstate.": ("planned", "sampled", "transported", "received", "rejected", "analysed", "reported"),
        "lab.astate.": ("to_review", "approved", "rejected", "retracted", "reported"),
        "lab.decision.": ("approve", "reject"),
        "key.custody.": ("sealed", "person"),
        "key.state.": ("active", "waiting", "revoked"),
        "mark.code.": ("stopped", "startup_shutdown", "maintenance", "calibration", "fault", "comm_failure"),
        "mark.state.": ("effective", "upheld", "rejected", "withdrawn"),
        "mark.action.": ("uphold", "reject", "withdraw"),
        "vf.why.": ("no_log_key", "signature", "mismatch", "inclusion"),
        "tr.cause.": ("out_of_control", "marked", "too_few_valid_minutes", "no_analyser", "flag", "no_value",
                      "too_few_valid_hours"),
        "tr.title.": ("hour", "day", "reading"),
        "tr.value.": ("hour", "day", "reading"),
        "tr.what.": ("minute", "hour", "day"),
        "done.": ("planned", "custody", "analysed", "reviewed", "retracted", "issued", "key_created",
                  "key_revoked", "marked", "withdrawn", "decided"),
        "tr.type.": ("hour", "registry.point", "hj212.frame", "qa.analyser", "qa.check", "qa.reference_lot",
                     "qa.comparison", "lab.report", "lab.analysis", "lab.review", "lab.sample", "lab.custody",
                     "mark.data", "qa.failed", "reading"),
    }.items():  # fmt: skip
        used |= {prefix + v for v in values}
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and (zh != en or key == "lang.switch"), key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


# ------------------------------------------------------------------------------------------------ the cycle
def test_a_report_cycle_through_the_pages_by_four_people(client: TestClient, lab_site: Site) -> None:
    site = lab_site
    done = run_cycle(client, site)
    aid = done["analysis"]
    # the chain shows every step with its signer, ✓ and key ID, linking to the public entry
    page = client.get("/lab/samples/S-1").text
    steps = re.findall(r'<tr data-act="([a-z.]+)" data-record="[^"]+">(.*?)</tr>', page, re.S)
    assert [a for a, _ in steps] == ["lab.custody"] * 3 + ["lab.analysis"]
    for _, row in steps:
        assert 'data-ok="1"' in row and re.search(r"密钥 [0-9a-f]{8}", row) and "/verify/entry/" in row, row
    assert "采样" in steps[0][1] and "接收" in steps[2][1] and "36.40" in steps[3][1]
    review_and_issue(client, site, aid)
    # the report page: analyses, people (four of them, every signature valid), digest, PDF and verify links
    page = client.get("/lab/reports/R-2024-001?done=issued").text
    assert 'id="done"' in page and "比对监测报告" in page and "36.40" in page
    people = re.findall(r'<tr data-role="(\w+)">(.*?)</tr>', page, re.S)
    assert [r for r, _ in people] == ["sampler", "sampler", "receiver", "analyst", "reviewer", "signatory"]
    assert {re.search(r"<td>(samp|ana|rev|sig)</td>", row).group(1) for _, row in people} == set(PEOPLE)  # type: ignore[union-attr]
    assert all('data-ok="1"' in row for _, row in people)
    sha = re.search(r'id="pdf-sha">([0-9a-f]{64})<', page)
    assert sha and 'id="pdf-check" data-ok="1"' in page
    pdf_url = re.search(r'id="pdf-link" href="([^"]+)"|href="([^"]+)" id="pdf-link"', page)
    assert pdf_url
    url = pdf_url.group(1) or pdf_url.group(2)
    assert url == "/api/v1/lab/reports/R-2024-001.pdf"
    index = int(re.search(r'href="/verify/entry/(\d+)" id="verify-link"', page).group(1))  # type: ignore[union-attr]
    # the PDF is public and is exactly what was signed
    client.cookies.clear()
    pdf = client.get(url)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and hashlib.sha256(pdf.content).hexdigest() == sha.group(1)
    # the verify page is public: pending until a checkpoint covers the entry, then verified
    r = client.get(f"/verify/entry/{index}?lang=en")
    assert r.status_code == 200 and 'data-state="pending"' in r.text and "lab.report" in r.text
    assert 'href="/api/v1/lab/reports/R-2024-001.pdf"' in r.text
    Checkpointer(
        site.store, ledger_signer("test.envtrust/ledger", create=True), "test.envtrust/ledger"
    ).checkpoint()
    r = client.get(f"/verify/entry/{index}?lang=en")
    assert r.status_code == 200 and 'data-state="verified"' in r.text and "Verified" in r.text, r.text
    assert "R-2024-001" in r.text and re.search(r'id="proof">(<li>[0-9a-f]{64}</li>)+', r.text)
    assert 'data-ok="1"' in r.text, "the report's signature is shown, valid"
    zh = client.get(f"/verify/entry/{index}?lang=zh").text
    assert "已验证" in zh
    # an entry that does not exist, or a negative index, is a 404 page
    assert client.get("/verify/entry/999999").status_code == 404
    assert client.get("/verify/entry/-1").status_code == 404


def test_the_analyst_may_not_review_own_work_nor_sign_with_a_wrong_passphrase_or_expired_lot(
    client: TestClient, lab_site: Site
) -> None:
    site = lab_site
    done = run_cycle(client, site)
    aid, lot = done["analysis"], done["lot"]
    csrf = as_user(client, "ana")
    page = client.get("/lab/samples/S-1").text
    assert f'id="review-form-{aid}"' not in page, "no review form for one's own work"
    r = client.post(
        f"/lab/analyses/{aid}/review",
        data={"csrf": csrf, "decision": "approve", "comment": "", "passphrase": PHRASE["ana"]},
    )
    assert r.status_code == 403 and "不能审核自己参与的工作" in error_of(r.text)
    # a wrong passphrase: refused, nothing recorded, the passphrase is not written back into the form
    before = len(site.store.quality_rows("analyses"))
    r = client.post(
        "/lab/analyses",
        data=analysis_form(csrf, site, lot["usable"], raw_result="12.5", passphrase="wrong phrase!!"),
    )
    assert r.status_code == 401 and "签名口令错误" in error_of(r.text)
    assert 'value="12.5"' in r.text and "wrong phrase!!" not in r.text
    assert len(site.store.quality_rows("analyses")) == before
    # an expired lot, in English
    r = client.post("/lab/analyses?lang=en", data=analysis_form(csrf, site, lot["expired"]))
    assert r.status_code == 422 and "expired on 2020-01-31" in error_of(r.text)
    assert PHRASE["ana"] not in r.text
    # no function: the sampler may not analyse
    csrf = as_user(client, "samp")
    r = client.post(
        "/lab/analyses", data={**analysis_form(csrf, site, lot["usable"]), "passphrase": PHRASE["samp"]}
    )
    assert r.status_code == 403 and "未被授予 analyst 职能" in error_of(r.text)
    # a form without its CSRF token
    r = client.post("/lab/custody", data={"sample_no": "S-1", "step": "transported"})
    assert r.status_code == 403 and "表单已过期" in r.text
    # a retraction by the analyst keeps the analysis, marked retracted
    csrf = as_user(client, "ana")
    r = client.post(
        f"/lab/analyses/{aid}/retract",
        data={"csrf": csrf, "reason": "滴定终点误判", "passphrase": PHRASE["ana"]},
    )
    assert r.status_code == 303
    page = client.get("/lab/samples/S-1").text
    assert f'data-analysis="{aid}" data-state="retracted"' in page and "滴定终点误判" in page


def test_keys_are_created_with_a_confirmed_passphrase_and_revoked_by_their_owner(
    client: TestClient, lab_site: Site
) -> None:
    csrf = as_user(client, "samp")
    r = client.post("/keys", data={"csrf": csrf, "passphrase": "short", "passphrase2": "short"})
    assert r.status_code == 400 and "至少 12 个字符" in error_of(r.text)
    r = client.post(
        "/keys", data={"csrf": csrf, "passphrase": "a long phrase 1", "passphrase2": "a long phrase 2"}
    )
    assert r.status_code == 400 and "不一致" in error_of(r.text)
    assert "a long phrase" not in r.text
    make_key(client, csrf, "samp")
    key = lab_site.store.quality_rows("person_keys")[-1]
    # the key's public entry: its sealed secret is not in the ledger (its SHA-256 is), nor is the passphrase
    client.cookies.clear()
    entry = lab_site.store.entry_index(f"person_keys/{key['id']}")
    page = client.get(f"/verify/entry/{entry}").text
    assert "person.key" in page and "sealed_sha256" in page and PHRASE["samp"] not in page
    csrf = as_user(client, "samp")
    # another account may not revoke it through the pages
    other = as_user(client, "ana")
    assert client.post(f"/keys/{key['id']}/revoke", data={"csrf": other, "reason": "x"}).status_code == 404
    csrf = as_user(client, "samp")
    r = client.post(f"/keys/{key['id']}/revoke", data={"csrf": csrf, "reason": "设备丢失"})
    assert r.status_code == 303
    assert f'data-key="{key["id"]}" data-state="revoked"' in client.get("/lab").text
    # an administrator holds no key; the keys page of an enterprise account works too
    csrf = as_user(client, "admin")
    r = client.post("/keys", data={"csrf": csrf, "passphrase": "x" * 20, "passphrase2": "x" * 20})
    assert r.status_code == 403
    csrf = as_user(client, "ent1")
    make_key(client, csrf, "ent1", back="keys")
    assert 'data-state="active"' in client.get("/keys").text


# ------------------------------------------------------------------------------------------------ scopes
def test_lab_pages_follow_the_api_scopes(client: TestClient, lab_site: Site) -> None:
    run_cycle(client, lab_site)
    client.cookies.clear()
    for path in ("/lab", "/lab/samples/S-1", "/keys", "/marks", f"/trace/hour/{P1}/a21026/2024-01-01T10:00"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert client.post("/lab/custody", data={"sample_no": "S-1"}).status_code == 303
    # the sample is of P3 (county 210103): shenhe, city and admin read its chain; heping and ent1 do not
    for user, status in (("shenhe", 200), ("city", 200), ("admin", 200), ("heping", 404), ("ent1", 404)):
        csrf = as_user(client, user)
        r = client.get("/lab/samples/S-1")
        assert r.status_code == status, user
        if status == 200:
            assert 'id="custody-form"' not in r.text and 'id="analysis-form"' not in r.text, user
        else:
            r = client.post(
                "/lab/custody",
                data={"csrf": csrf, "sample_no": "S-1", "step": "transported", "at": local(lab_site, 1), "place": "x",
                      "condition": "y", "passphrase": "whatever phrase"},
            )  # fmt: skip
            assert r.status_code == 404, user
    # only lab accounts plan samples
    csrf = as_user(client, "city")
    r = client.post(
        "/lab/samples", data={"csrf": csrf, "sample_no": "S-9", "matrix": "水", "purpose": "self"}
    )
    assert r.status_code == 403
    assert client.get("/lab/samples/NO-SUCH").status_code == 404


def test_hostile_text_is_escaped_on_every_lab_page(client: TestClient, lab_site: Site) -> None:
    site = lab_site
    lot = lots(site)
    csrf = as_user(client, "samp")
    make_key(client, csrf, "samp")
    r = client.post(
        "/lab/samples", data={"csrf": csrf, "sample_no": "S-1", "matrix": EVIL, "purpose": "self", "mn": P3}
    )
    assert r.status_code == 303
    r = client.post(
        "/lab/custody",
        data={"csrf": csrf, "sample_no": "S-1", "step": "sampled", "at": local(site, 2), "place": EVIL,
              "condition": EVIL, "passphrase": PHRASE["samp"]},
    )  # fmt: skip
    assert r.status_code == 303
    csrf = as_user(client, "ana")
    make_key(client, csrf, "ana")
    assert custody(client, csrf, site, "ana", "received", 1).status_code == 303
    r = client.post("/lab/analyses", data=analysis_form(csrf, site, lot["usable"], method=EVIL))
    assert r.status_code == 303
    aid = int(site.store.quality_rows("analyses")[0]["id"])
    csrf = as_user(client, "rev")
    make_key(client, csrf, "rev")
    client.post(f"/lab/analyses/{aid}/review", data={"csrf": csrf, "decision": "approve", "comment": EVIL,
                                                      "passphrase": PHRASE["rev"]})  # fmt: skip
    csrf = as_user(client, "sig")
    make_key(client, csrf, "sig")
    r = client.post("/lab/reports", data={"csrf": csrf, "report_no": "R-1", "title": EVIL, "analysis_ids": [str(aid)],
                                          "passphrase": PHRASE["sig"]})  # fmt: skip
    assert r.status_code == 303, r.text
    report_entry = site.store.entry_index("reports/1")
    pages = [
        client.get(p).text
        for p in ("/lab", "/lab/samples/S-1", "/lab/reports/R-1", f"/verify/entry/{report_entry}")
    ]
    # a refused form shows the typed hostile text again, escaped
    pages.append(client.post("/lab/reports", data={"csrf": csrf, "report_no": "R-1", "title": EVIL,
                                                   "analysis_ids": [str(aid)], "passphrase": PHRASE["sig"]}).text)  # fmt: skip
    for page in pages:
        assert EVIL not in page and "&lt;script&gt;" in page


# ------------------------------------------------------------------------------------------------ marks
def mark_form(csrf: str, site: Site, mn: str, user: str, **extra: str) -> dict[str, str]:
    return {
        "csrf": csrf, "mn": mn, "code": "maintenance", "start": local(site, 3), "end": local(site, 1),
        "pollutants": "a21026", "reason": "更换采样探头", "passphrase": PHRASE[user], **extra,
    }  # fmt: skip


def mark_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-mark="(\d+)"', page)}


def test_marks_are_made_decided_and_withdrawn_by_whom_the_api_allows(
    client: TestClient, lab_site: Site
) -> None:
    site = lab_site
    csrf = as_user(client, "ent1")
    page = client.get("/marks").text
    assert 'id="mark-form"' in page and P1 in page and P2 not in page
    # without a key, the mark is refused; with one it is made and signed
    r = client.post("/marks", data=mark_form(csrf, site, P1, "ent1"))
    assert r.status_code == 403 and "没有可用的签名密钥" in error_of(r.text)
    make_key(client, csrf, "ent1", back="keys")
    r = client.post("/marks", data=mark_form(csrf, site, P1, "ent1", reason=EVIL))
    assert r.status_code == 303, r.text
    mark = int(site.store.quality_rows("data_marks")[0]["id"])
    page = client.get("/marks").text
    row = re.search(rf'<tr id="mark-{mark}".*?</tr>', page, re.S)
    assert row and 'data-state="effective"' in row.group(0) and 'data-ok="1"' in row.group(0)
    assert EVIL not in page and "&lt;script&gt;" in page
    assert f'id="withdraw-form-{mark}"' in page and f'id="decide-form-{mark}"' not in page
    # another enterprise's point does not exist for ent1
    assert client.post("/marks", data=mark_form(csrf, site, P2, "ent1")).status_code == 404
    # who sees the mark: as the API's scopes
    for user, sees in (("ent2", False), ("heping", True), ("city", True), ("shenhe", False), ("admin", True),
                       ("lab", False)):  # fmt: skip
        as_user(client, user)
        assert (mark in mark_ids(client.get("/marks").text)) is sees, user
    # admin sees it but takes no decision (no form; a posted one is refused as by the API)
    csrf = as_user(client, "admin")
    assert f'id="decide-form-{mark}"' not in client.get("/marks").text
    r = client.post(f"/marks/{mark}/decision", data={"csrf": csrf, "decision": "uphold", "reason": "x",
                                                      "passphrase": "some phrase 123"})  # fmt: skip
    assert r.status_code == 403 and "只有辖区监管人员可以裁定" in error_of(r.text)
    # shenhe (another county) cannot reach it; ent2 cannot withdraw it
    csrf = as_user(client, "shenhe")
    r = client.post(f"/marks/{mark}/decision", data={"csrf": csrf, "decision": "reject", "reason": "x",
                                                      "passphrase": "x" * 12})  # fmt: skip
    assert r.status_code == 404
    csrf = as_user(client, "ent2")
    assert (
        client.post(
            f"/marks/{mark}/withdraw", data={"csrf": csrf, "reason": "x", "passphrase": "x" * 12}
        ).status_code
        == 404
    )
    # heping upholds it, signed
    csrf = as_user(client, "heping")
    assert f'id="decide-form-{mark}"' in client.get("/marks").text
    make_key(client, csrf, "heping", back="keys")
    r = client.post(f"/marks/{mark}/decision", data={"csrf": csrf, "decision": "uphold", "reason": "核实属实",
                                                      "passphrase": PHRASE["heping"]})  # fmt: skip
    assert r.status_code == 303, r.text
    assert f'<tr id="mark-{mark}" data-mark="{mark}" data-state="upheld"' in client.get("/marks").text
    # ent1 withdraws it; a later decision is refused (409)
    csrf = as_user(client, "ent1")
    r = client.post(
        f"/marks/{mark}/withdraw", data={"csrf": csrf, "reason": "标记有误", "passphrase": PHRASE["ent1"]}
    )
    assert r.status_code == 303
    page = client.get("/marks?lang=en").text
    assert 'data-state="withdrawn"' in page and "withdrawn" in page
    csrf = as_user(client, "heping")
    r = client.post(f"/marks/{mark}/decision", data={"csrf": csrf, "decision": "reject", "reason": "x",
                                                      "passphrase": PHRASE["heping"]})  # fmt: skip
    assert r.status_code == 409 and "已撤回" in error_of(r.text)


# ------------------------------------------------------------------------------------------------ trace
def test_the_trace_page_follows_the_point_scopes(client: TestClient, lab_site: Site) -> None:
    site = lab_site
    hour = (site.now_local - timedelta(hours=1)).replace(minute=0).strftime("%Y-%m-%dT%H:%M")
    csrf = as_user(client, "ent1")
    make_key(client, csrf, "ent1", back="keys")
    start = (site.now_local - timedelta(hours=1)).replace(minute=0)
    r = client.post("/marks", data=mark_form(csrf, site, P1, "ent1", start=start.strftime("%Y-%m-%dT%H:%M"),
                                             end=(start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")))  # fmt: skip
    assert r.status_code == 303, r.text
    path = f"/trace/hour/{P1}/a21026/{hour}"
    page = client.get(path).text
    assert 'id="verdict"' in page and 'data-cause="marked"' in page and "企业标记" in page
    assert 'data-type="hj212.frame"' in page and 'data-type="mark.data"' in page
    assert re.search(r'href="/verify/entry/\d+"', page)
    # the point page offers the form; it leads to the trace of the clock hour
    point = client.get(f"/points/{P1}").text
    assert 'id="trace-form"' in point
    r = client.get(f"/trace?mn={P1}&pollutant=a21026&hour={hour[:-2]}37")
    assert r.status_code == 303 and r.headers["location"] == path
    # scopes: as the API
    for user, status in (("heping", 200), ("city", 200), ("admin", 200), ("ent2", 404), ("shenhe", 404),
                         ("lab", 404)):  # fmt: skip
        as_user(client, user)
        assert client.get(path).status_code == status, user
    as_user(client, "ent1")
    assert client.get(f"/trace/hour/{P1}/a21026/{hour[:-2]}30").status_code == 400
    assert client.get(f"/trace/hour/{P2}/a21026/{hour}").status_code == 404
    assert client.get(f"/trace/hour/{P1}/a21026/not-a-time?lang=en").status_code == 400

    # the same form leads to the trace of the day and of one minute reading
    day = hour[:10]
    r = client.get(f"/trace?mn={P1}&pollutant=a21026&hour={hour[:-2]}37&what=day")
    assert r.status_code == 303 and r.headers["location"] == f"/trace/day/{P1}/a21026/{day}"
    page = client.get(r.headers["location"] + "?lang=zh").text
    assert "责任追溯：日均值" in page and 'data-type="hour"' in page and 'data-cause="marked"' in page
    assert f'href="/trace/hour/{P1}/a21026/{hour}"' in page  # each hour opens its own trace
    assert f'href="/api/v1/trace/day/{P1}/a21026/{day}"' in page
    r = client.get(f"/trace?mn={P1}&pollutant=a21026&hour={hour[:-2]}37&what=minute")
    minute = f"{hour[:-2]}37"
    assert r.status_code == 303 and r.headers["location"] == f"/trace/reading/{P1}/a21026/{minute}"
    page = client.get(r.headers["location"] + "?lang=en").text
    assert "Responsibility trace: one reading" in page and 'data-type="hj212.frame"' in page
    assert 'data-cause="marked"' in page  # the minute is inside the mark
    assert client.get(f"/trace/reading/{P1}/a21026/{hour[:-2]}37:30").status_code == 404  # no reading then
    assert client.get(f"/trace/day/{P1}/a21026/{hour}").status_code == 400  # not the start of a day
    assert client.get(f"/trace?mn={P1}&pollutant=a21026&hour={hour}&what=week").status_code == 400
    for user, status in (("heping", 200), ("ent2", 404), ("shenhe", 404)):
        as_user(client, user)
        assert client.get(f"/trace/day/{P1}/a21026/{day}").status_code == status, user
        assert client.get(f"/trace/reading/{P1}/a21026/{minute}").status_code == status, user


def test_the_nav_offers_the_new_pages_by_role(client: TestClient, lab_site: Site) -> None:
    for user, lab, marks, keys in (("samp", True, False, False), ("admin", True, True, False),
                                   ("ent1", False, True, True), ("heping", False, True, True)):  # fmt: skip
        as_user(client, user)
        nav = re.search(r"<nav>(.*?)</nav>", client.get("/ledger").text, re.S).group(1)  # type: ignore[union-attr]
        assert ('href="/lab"' in nav, 'href="/marks"' in nav, 'href="/keys"' in nav) == (lab, marks, keys), (
            user
        )
    assert CSRF  # the conftest's pattern is shared
