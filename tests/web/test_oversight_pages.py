"""The interference register's pages (干预留痕) through an in-process client, on both backends.

A laboratory analyst records an interference through the form — a multipart form with an attachment, signed with
the passphrase of the key she created on /keys — and every account of the site, with two discipline-inspection
accounts, then opens the list, the record and the attachment: exactly the readers the workflow names (the
recorder, the discipline account of the city, the city's regulators) get them, everybody else a 404 as for a record
that does not exist, and the public is sent to the login.  The escalation forms follow the roles (only discipline
accounts receive, investigate and conclude; after the conclusion only comments); refused forms come back with the
reason in the reader's language and what was typed (never the passphrase); hostile text stays text.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from envtrust.web.i18n import MESSAGES
from envtrust.web.oversight_pages import BODIES, STATES
from envtrust.workflow import lab as lab_module
from envtrust.workflow import signing
from envtrust.workflow.interference import ACTIONS, MAX_ATTACHMENT_BYTES, MEANS
from envtrust.workflow.lab import Lab
from scoped import fast_accounts

from .conftest import P1, P2, P3, PASSWORD, Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
EVIL = "<script>alert(1)</script>"
PHRASE = {name: f"{name} signing phrase" for name in ("lab", "jiwei", "jiwei2", "city", "heping", "ent1")}
RECORDING = b"\x00recording of the call\xff" * 64
# who reads a record of county 210102 made by the analyst "lab": the recorder, the discipline account of the city
# and the city's regulator — not the county's own office, another county, enterprises, administrators
READERS = {"lab", "jiwei", "city"}
OTHERS = {"heping", "shenhe", "ent1", "ent2", "admin", "jiwei2"}


def _no_wait(init: Any) -> Any:
    def wrapped(self: Lab, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "activation_s": 0})

    return wrapped


@pytest.fixture
def itf_site(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The site with two discipline-inspection accounts (the city's and another county's); keys are cheap to seal
    and active at once (the 24 h wait is tested in tests/workflow); no wrong passphrase counted from other tests."""
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    monkeypatch.setattr(Lab, "__init__", _no_wait(Lab.__init__))
    monkeypatch.setattr(lab_module, "_failures", {})
    acc = fast_accounts(site.store)
    acc.create(
        "jiwei", "discipline", who="setup", password=PASSWORD, region="2101", display_name="市纪委监委"
    )
    acc.create("jiwei2", "discipline", who="setup", password=PASSWORD, region="210103")
    lab = Lab(site.store, origin="envtrust.local/ledger")
    for name in ("jiwei", "jiwei2", "city", "heping", "ent1"):
        lab.create_sealed_key(name, PHRASE[name], who=name)
    yield site


def as_user(client: TestClient, user: str) -> str:
    client.cookies.clear()
    return login(client, user)


def local(site: Site, hours_ago: float) -> str:
    return (site.now_local - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M")


def make_key(client: TestClient, csrf: str, user: str) -> None:
    phrase = PHRASE[user]
    r = client.post("/keys", data={"csrf": csrf, "passphrase": phrase, "passphrase2": phrase, "back": "keys"})
    assert r.status_code == 303, r.text


def record_form(csrf: str, site: Site, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": csrf, "region": "210102", "occurred": local(site, 3), "actor_name": "张某", "actor_role": "副县长",
        "actor_org": "某县人民政府", "means": "spoken", "request": "要求将今日 10 时至 12 时的二氧化硫数据标记为停运",
        "mns": P1, "records": "alarms/1", "other": "", "passphrase": PHRASE["lab"], **changes,
    }  # fmt: skip


def post_record(
    client: TestClient,
    form: dict[str, Any],
    files: list[tuple[str, bytes, str]] | None = None,
    lang: str = "",
) -> Any:
    """The form as a browser sends it: multipart, with an empty file part when no file is chosen."""
    parts = [("attachments", f) for f in (files or [("", b"", "application/octet-stream")])]
    return client.post("/interference" + (f"?lang={lang}" if lang else ""), data=form, files=parts)


def error_of(page: str) -> str:
    m = re.search(r'id="form-error">(.*?)</p>', page, re.S)
    assert m, "the refused form says why"
    return html.unescape(m.group(1))


def error_text(page: str) -> str:
    m = re.search(r'id="error-text">(.*?)</p>', page, re.S)
    assert m, page
    return m.group(1)


def recorded(client: TestClient, site: Site, **changes: Any) -> int:
    """The analyst "lab" (with a key made on /keys) records an interference with a recording attached."""
    csrf = as_user(client, "lab")
    if not site.store.quality_rows("person_keys", account_id=site.store.account("lab")["id"]):  # type: ignore[index]
        make_key(client, csrf, "lab")
    r = post_record(client, record_form(csrf, site, **changes), [("通话录音.m4a", RECORDING, "audio/mp4")])
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/interference/(\d+)\?done=recorded#done", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


def step(
    client: TestClient, csrf: str, rid: int, user: str, action: str, lang: str = "", **extra: str
) -> Any:
    data = {"csrf": csrf, "action": action, "passphrase": PHRASE[user], **extra}
    return client.post(f"/interference/{rid}/events" + (f"?lang={lang}" if lang else ""), data=data)


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_the_interference_pages_exists_in_both_languages() -> None:
    used: set[str] = set()
    for name in ("interference.html", "interference_record.html", "_interference_macros.html", "base.html"):
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    code = (WEB / "oversight_pages.py").read_text(encoding="utf-8")
    used |= set(re.findall(r"[\"']((?:itf|qa|err)\.[a-z0-9_.]*[a-z0-9_])[\"']", code))
    assert {"nav.interference", "itf.title", "itf.hint", "itf.unknown_point", "itf.too_large"} <= used
    for prefix, values in {
        "itf.state.": STATES,
        "itf.means.": MEANS,
        "itf.action.": ACTIONS,
        "itf.body.": tuple(BODIES),
        "itf.done.": ("recorded", "event"),
        "role.": ("regulator", "inspector", "discipline", "lab", "operator", "enterprise"),
    }.items():
        used |= {prefix + v for v in values}
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and (zh != en or key == "lang.switch"), key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


# ------------------------------------------------------------------------------------------------ recording
def test_an_interference_recorded_through_the_form_with_an_attachment(
    client: TestClient, itf_site: Site
) -> None:
    site = itf_site
    csrf = as_user(client, "lab")
    page = client.get("/interference").text
    assert 'id="itf-form"' in page and 'enctype="multipart/form-data"' in page and 'type="file"' in page
    assert 'id="need-key"' in page, "no key yet: the page says to create one"
    assert "不能修改或删除" in page and "纪检监察" in page  # the hint: signed, unchangeable, who reads it
    make_key(client, csrf, "lab")
    assert 'id="need-key"' not in client.get("/interference").text
    rid = recorded(client, site)
    # the record page: every field, the points linked, the attachment with size and SHA-256, the signature ✓
    page = client.get(f"/interference/{rid}?done=recorded").text
    assert 'id="done"' in page and 'data-state="recorded"' in page and "已登记" in page
    for text in (
        "张某",
        "副县长",
        "某县人民政府",
        "口头意见",
        "二氧化硫数据标记为停运",
        "210102",
        "alarms/1",
    ):
        assert text in page, text
    assert f'<a href="/points/{P1}" class="mono">{P1}</a> · 甲热电有限公司 · 1号锅炉排放口' in page
    sig = re.search(r'id="record-sig">(.*?)</dd>', page, re.S)
    assert sig and 'data-ok="1"' in sig.group(1) and "/verify/entry/" in sig.group(1)
    assert re.search(r'href="/verify/entry/\d+" id="entry-link"', page)
    sha = hashlib.sha256(RECORDING).hexdigest()
    row = re.search(r'<tr data-attachment="(\d+)">(.*?)</tr>', page, re.S)
    assert (
        row
        and "通话录音.m4a" in row.group(2)
        and sha in row.group(2)
        and f'data-size="{len(RECORDING)}"' in row.group(2)
    )
    assert f'href="/interference/{rid}/attachments/{row.group(1)}"' in row.group(2)
    assert PHRASE["lab"] not in page
    # the attachment downloads byte for byte, never rendered by the browser
    r = client.get(f"/interference/{rid}/attachments/{row.group(1)}")
    assert r.status_code == 200 and r.content == RECORDING
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-content-sha256"] == sha
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and unquote(disposition.split("''", 1)[1]) == "通话录音.m4a"
    # stored as the workflow keeps it: signed by the analyst, the attachment's digest in the record
    stored = site.store.quality_rows("interference", id=rid)[0]
    assert stored["recorded_by"] == "lab" and stored["recorder_role"] == "lab" and stored["sig_id"]
    assert sha in stored["attachments"] and P1 in stored["touches"]
    # the register: the row with its lamp, the attachment count and the county summary
    page = client.get("/interference").text
    line = re.search(rf'<tr id="itf-{rid}"(.*?)</tr>', page, re.S)
    assert (
        line and 'data-state="recorded"' in line.group(0) and f'href="/interference/{rid}"' in line.group(1)
    )
    assert "<td>1</td>" in line.group(1) and "张某" in line.group(1) and "口头意见" in line.group(1)
    assert re.search(r'<tr data-region="210102" data-count="1">.*?#' + str(rid), page, re.S)
    # several points (typed and chosen), another means, no attachment
    csrf = as_user(client, "city")
    r = post_record(
        client,
        {**record_form(csrf, site, mns=f"{P1}，{P3}", means="written_instruction", region="2101",
                       passphrase=PHRASE["city"]), "mn_pick": [P2, P3]},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    second = int(r.headers["location"].split("/")[2].split("?")[0])
    shown = client.get(f"/interference/{second}").text
    assert all(f'href="/points/{mn}"' in shown for mn in (P1, P2, P3)) and "书面批示" in shown
    assert 'id="attachment-list">' in shown and "无附件" in shown


def test_exactly_the_readers_open_the_list_the_record_and_the_attachment(
    client: TestClient, itf_site: Site
) -> None:
    rid = recorded(client, itf_site)
    att = int(itf_site.store.quality_rows("attachments")[0]["id"])
    paths = (f"/interference/{rid}", f"/interference/{rid}/attachments/{att}")
    for user in sorted(READERS | OTHERS):
        as_user(client, user)
        listing = client.get("/interference")
        assert listing.status_code == 200, user
        assert (f'href="/interference/{rid}"' in listing.text) == (user in READERS), user
        for path in paths:
            assert client.get(path).status_code == (200 if user in READERS else 404), (user, path)
        # a non-reader's 404 is the page of a record that does not exist
        missing = client.get("/interference/999999")
        assert missing.status_code == 404
        if user in OTHERS:
            assert error_text(client.get(paths[0]).text) == error_text(missing.text), user
    # the public is sent to the login, for every page of the register and for its forms
    client.cookies.clear()
    for path in ("/interference", *paths):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert client.post("/interference", data={"region": "210102"}).status_code == 303
    assert client.post(f"/interference/{rid}/events", data={"action": "comment"}).status_code == 303
    # out-of-range and malformed numbers are 404 or 400 pages, never the API's JSON
    as_user(client, "lab")
    assert client.get(f"/interference/0/attachments/{att}").status_code == 404
    assert client.get(f"/interference/{rid}/attachments/{att + 1000}").status_code == 404
    r = client.get("/interference/abc")
    assert r.status_code in (400, 404) and r.headers["content-type"].startswith("text/html")


def test_administrators_neither_record_nor_read(client: TestClient, itf_site: Site) -> None:
    rid = recorded(client, itf_site)
    csrf = as_user(client, "admin")
    page = client.get("/interference").text
    assert 'id="admin-note"' in page and 'id="itf-form"' not in page and f"#{rid}" not in page
    r = post_record(client, record_form(csrf, itf_site, passphrase="admin phrase 123"))
    assert r.status_code == 403 and "不能登记干预" in r.text
    assert client.get(f"/interference/{rid}").status_code == 404
    assert step(client, csrf, rid, "lab", "comment", note="x").status_code == 404
    # every account but the administrator (and the public) finds the register in the menu
    for user, shown in (("admin", False), ("lab", True), ("ent1", True), ("heping", True), ("jiwei", True)):
        as_user(client, user)
        nav = re.search(r"<nav>(.*?)</nav>", client.get("/ledger").text, re.S)
        assert nav and ('href="/interference"' in nav.group(1)) == shown, user
        if shown:
            assert "干预留痕" in nav.group(1)
    client.cookies.clear()
    nav = re.search(r"<nav>(.*?)</nav>", client.get("/ledger").text, re.S)
    assert nav and 'href="/interference"' not in nav.group(1)


# ------------------------------------------------------------------------------------------------ the trail
def test_the_escalation_forms_follow_the_roles(client: TestClient, itf_site: Site) -> None:
    rid = recorded(client, itf_site)
    # the recorder reports it (and sees no discipline form)
    csrf = as_user(client, "lab")
    page = client.get(f"/interference/{rid}").text
    assert 'id="report-form"' in page and 'id="comment-form"' in page and 'id="handle-form"' not in page
    r = step(client, csrf, rid, "lab", "reported", to_whom="discipline", note="已书面报送市纪委监委")
    assert r.status_code == 303 and r.headers["location"] == f"/interference/{rid}?done=event#done"
    page = client.get(f"/interference/{rid}").text
    assert 'data-state="reported"' in page
    event = re.search(r'<tr data-event="\d+" data-action="reported">(.*?)</tr>', page, re.S)
    assert event and "纪检监察机关" in event.group(1) and "已书面报送市纪委监委" in event.group(1)
    assert 'data-ok="1"' in event.group(1) and "/verify/entry/" in event.group(1)
    # the city's regulator may report and comment but not receive: the workflow's 403, in the reader's language
    csrf = as_user(client, "city")
    assert 'id="handle-form"' not in client.get(f"/interference/{rid}").text
    r = step(client, csrf, rid, "city", "received")
    assert r.status_code == 403 and "只有纪检监察账户可以受理和办结" in error_of(r.text)
    r = step(client, csrf, rid, "city", "received", lang="en")
    assert (
        r.status_code == 403 and error_of(r.text) == "Not recorded: only discipline accounts take this step"
    )
    assert step(client, csrf, rid, "city", "comment", note="已督促县局自查").status_code == 303
    # the discipline account receives, investigates and concludes (a conclusion needs its note)
    csrf = as_user(client, "jiwei")
    page = client.get(f"/interference/{rid}").text
    assert 'id="handle-form"' in page
    assert [
        a for a in re.findall(r'<option value="(\w+)"', page.split('id="handle-form"')[1].split("</form>")[0])
    ] == [
        "received",
        "investigating",
        "concluded",
    ]
    assert step(client, csrf, rid, "jiwei", "received").status_code == 303
    assert 'data-state="received"' in client.get(f"/interference/{rid}").text
    assert step(client, csrf, rid, "jiwei", "investigating", note="已立案核查").status_code == 303
    r = step(client, csrf, rid, "jiwei", "concluded", lang="en")
    assert r.status_code == 400 and error_of(r.text) == "Not recorded: Note is required"
    assert 'id="handle-form"' in r.text.split('id="form-error"')[1], "the reason stands by its form"
    assert step(client, csrf, rid, "jiwei", "concluded", note="副县长张某受到党内警告处分").status_code == 303
    page = client.get(f"/interference/{rid}").text
    assert 'data-state="concluded"' in page and 'id="concluded-note"' in page
    assert 'id="handle-form"' not in page and 'id="report-form"' not in page and 'id="comment-form"' in page
    actions = re.findall(r'<tr data-event="\d+" data-action="(\w+)">', page)
    assert actions == ["reported", "comment", "received", "investigating", "concluded"]
    assert page.count('data-ok="1"') == 6  # the record and its five steps, each verified now
    # after the conclusion: no further step (409), comments still
    assert step(client, csrf, rid, "jiwei", "investigating").status_code == 409
    csrf = as_user(client, "lab")
    r = step(client, csrf, rid, "lab", "reported", to_whom="higher")
    assert r.status_code == 409 and "该记录已办结" in error_of(r.text)
    assert step(client, csrf, rid, "lab", "comment", note="已知悉").status_code == 303
    # a reader of another county cannot take a step (404, as for reading)
    csrf = as_user(client, "jiwei2")
    assert step(client, csrf, rid, "jiwei2", "comment", note="x").status_code == 404
    csrf = as_user(client, "heping")
    assert step(client, csrf, rid, "heping", "reported", to_whom="party").status_code == 404
    # a step without its CSRF token
    as_user(client, "jiwei")
    r = client.post(f"/interference/{rid}/events", data={"action": "comment", "note": "x", "passphrase": "y"})
    assert r.status_code == 403 and "表单已过期" in r.text


# ------------------------------------------------------------------------------------------------ refusals
def test_refusals_come_back_with_the_reason_in_the_readers_language(
    client: TestClient, itf_site: Site
) -> None:
    site = itf_site
    csrf = as_user(client, "lab")

    def count() -> int:
        return len(site.store.quality_rows("interference"))

    # no key yet
    r = post_record(client, record_form(csrf, site, actor_name="王某某"))
    assert r.status_code == 403 and "没有可用的签名密钥" in error_of(r.text)
    assert 'value="王某某"' in r.text and PHRASE["lab"] not in r.text and "附件未保存" in r.text
    make_key(client, csrf, "lab")
    # a wrong passphrase, in English: nothing recorded, the fields kept, the passphrase not
    r = post_record(
        client, record_form(csrf, site, passphrase="a wrong phrase!!", request="改数据"), lang="en"
    )
    assert r.status_code == 401 and "wrong signing passphrase" in error_of(r.text)
    assert (
        ">改数据</textarea>" in r.text
        and "a wrong phrase!!" not in r.text
        and 'value="spoken" selected' in r.text
    )
    # missing fields, an unknown point, nothing touched, a bad division code, a time in the future
    cases = [
        ({"actor_name": ""}, 400, "请填写 干预人姓名", "Name of the person who interfered is required"),
        ({"passphrase": ""}, 400, "请填写 签名口令", "Signing passphrase is required"),
        ({"mns": "MN404 " + P1}, 400, "监测点未登记：MN404", "No such point: MN404"),
        ({"mns": "", "records": ""}, 400, "请至少填写", "Say which points, records or other data it touched"),
        ({"region": "21x"}, 400, "行政区划代码须为", "The division code must be 2–12 digits"),
        ({"occurred": "yesterday"}, 400, "干预时间 不是有效的时间", "Occurred is not a valid time"),
        ({"occurred": local(site, -3)}, 422, "干预时间晚于现在", "the interference is dated in the future"),
        ({"records": "alarms/1 ../../etc?"}, 400, "记录编号无效", "not a record reference"),
        ({"means": "bribe"}, 400, "请填写 干预方式", "Means is required"),
    ]
    for changes, status, zh, en in cases:
        for lang, text in (("zh", zh), ("en", en)):
            r = post_record(client, record_form(csrf, site, **changes), lang=lang)
            assert r.status_code == status and text in error_of(r.text), (changes, lang, error_of(r.text))
            assert PHRASE["lab"] not in r.text
    # an attachment over 20 MiB: 413, named, in the reader's language; the typed text kept
    big = [("大文件.bin", b"\0" * (MAX_ATTACHMENT_BYTES + 1), "application/octet-stream")]
    r = post_record(client, record_form(csrf, site, actor_org="某局"), big, lang="en")
    assert (
        r.status_code == 413 and error_of(r.text) == "Not recorded: The attachment 大文件.bin is over 20 MiB"
    )
    assert 'value="某局"' in r.text
    # too many attachments
    many = [(f"{i}.txt", b"x", "text/plain") for i in range(11)]
    r = post_record(client, record_form(csrf, site), many, lang="zh")  # the language chosen last is kept
    assert r.status_code == 400 and "最多 10 个附件" in error_of(r.text)
    # a form without its CSRF token; a form that is not one
    r = post_record(client, {k: v for k, v in record_form(csrf, site).items() if k != "csrf"}, lang="zh")
    assert r.status_code == 403 and "表单已过期" in r.text
    r = client.post(
        "/interference?lang=zh",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    # python-multipart reads what it can; without its CSRF token the form is refused either way
    assert (r.status_code, "无法读取表单" in r.text or "表单已过期" in r.text) in ((400, True), (403, True))
    assert count() == 0, "nothing refused was recorded"
    # and the form still works
    assert post_record(client, record_form(csrf, site)).status_code == 303 and count() == 1


def test_hostile_text_stays_text(client: TestClient, itf_site: Site) -> None:
    rid = recorded(
        client, itf_site, actor_name=EVIL, actor_role=EVIL, actor_org=EVIL, request=EVIL, other=EVIL, mns=""
    )
    csrf = as_user(client, "jiwei")
    assert step(client, csrf, rid, "jiwei", "comment", note=EVIL).status_code == 303
    r = step(client, csrf, rid, "jiwei", "concluded", note=EVIL + "x" * 4001)
    assert r.status_code == 400
    for user in ("lab", "jiwei"):
        as_user(client, user)
        for path in ("/interference", f"/interference/{rid}"):
            page = client.get(path).text
            assert EVIL not in page and "&lt;script&gt;" in page, (user, path)
    csrf = as_user(client, "lab")
    r = post_record(client, record_form(csrf, itf_site, actor_name=EVIL, passphrase="wrong phrase 123"))
    assert r.status_code == 401 and EVIL not in r.text and "&lt;script&gt;" in r.text


def test_the_register_filters_by_state_and_means(client: TestClient, itf_site: Site) -> None:
    first = recorded(client, itf_site)
    second = recorded(client, itf_site, means="letter", region="210103", mns=P3)
    csrf = as_user(client, "jiwei")
    assert step(client, csrf, first, "jiwei", "received").status_code == 303
    page = client.get("/interference").text
    assert re.findall(r'<tr id="itf-(\d+)"', page) == [str(second), str(first)], "newest first"
    assert re.search(r'data-region="210102" data-count="1"', page) and 'data-region="210103"' in page
    page = client.get("/interference?state=received").text
    assert re.findall(r'<tr id="itf-(\d+)"', page) == [str(first)] and 'data-region="210103"' not in page
    page = client.get("/interference?means=letter&lang=en").text
    assert (
        re.findall(r'<tr id="itf-(\d+)"', page) == [str(second)]
        and "letter" in page
        and "1 shown of 2" in page
    )
    assert re.findall(r'<tr id="itf-(\d+)"', client.get("/interference?state=nonsense").text) == [
        str(second),
        str(first),
    ]
    # jiwei2 (county 210103) reads the second only; the city's regulator both; the county office neither
    for user, expected in (("jiwei2", [second]), ("city", [second, first]), ("heping", []), ("shenhe", [])):
        as_user(client, user)
        assert re.findall(r'<tr id="itf-(\d+)"', client.get("/interference").text) == [
            str(i) for i in expected
        ], user
