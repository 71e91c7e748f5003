"""The complaint pages (投诉, clause 十六) through an in-process client, on both backends.

A member of the public files a complaint on /complaints/new without an account — a multipart form with a photo —
and is shown the tracking code once; with it, and nothing else, /complaints/track shows the state, the deadline and
the replies.  The county regulator of the complaint's region accepts, links, assigns, replies and resolves it; the
tracking page then shows each step's time and the replies but never the internal notes, the staff's names or the
links.  Exactly the staff whose region covers the complaint open it (and its attachment); every other account gets
404, the public the login.  Staff enter complaints received by phone and get the code to tell the caller.  Refused
forms come back with what was typed and the reason in the reader's language; hostile text stays text.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from envtrust.web import inspection_pages
from envtrust.web.i18n import MESSAGES
from envtrust.web.inspection_pages import COMPLAINT_STATES
from envtrust.workflow.complaints import ACTIONS, CHANNELS, Complaints
from envtrust.workflow.interference import MAX_ATTACHMENT_BYTES
from scoped import fast_accounts

from .conftest import P1, P3, PASSWORD, Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
EVIL = "<script>alert(1)</script>"
PHOTO = b"\xff\xd8\xff\xe0 a photo of the black smoke" * 40
INSPECTORS = {"insp_hp": "210102", "insp_sh": "210103", "insp_city": "2101"}
# who handles a complaint of county 210102: the staff (regulators, inspectors) whose region covers it
HANDLERS = {"heping", "city", "insp_hp", "insp_city"}
OTHERS = {"shenhe", "insp_sh", "ent1", "ent2", "admin", "lab"}
CODE = re.compile(r'id="tracking-code">([A-Z0-9-]+)</div>')
INTERNAL = "内部：举报人疑为竞争对手员工"


@pytest.fixture
def cmp_site(site: Site) -> Iterator[Site]:
    acc = fast_accounts(site.store)
    for name, region in INSPECTORS.items():
        acc.create(name, "inspector", who="setup", password=PASSWORD, region=region)
    yield site


def as_user(client: TestClient, user: str) -> str:
    client.cookies.clear()
    return login(client, user)


def public_form(client: TestClient) -> str:
    """The public form's token (its cookie is set on the client by the same answer)."""
    page = client.get("/complaints/new")
    assert page.status_code == 200
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m
    return m.group(1)


def complaint(token: str, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": token, "subject": "夜间烟囱冒黑烟", "description": "每晚 11 点后 1 号锅炉烟囱冒黑烟，持续约两小时",
        "location": "和平区某路 1 号", "region": "", "mn": P1, "lat": "41.79", "lon": "123.43",
        "contact_name": "王先生", "contact_phone": "13800000000", **changes,
    }  # fmt: skip


def post_public(client: TestClient, form: dict[str, Any], files: list[tuple[str, bytes, str]] | None = None,
                lang: str = "") -> Any:  # fmt: skip
    parts = [("attachments", f) for f in (files or [("", b"", "application/octet-stream")])]
    return client.post("/complaints/new" + (f"?lang={lang}" if lang else ""), data=form, files=parts)


def filed(client: TestClient, **changes: Any) -> tuple[int, str]:
    """A complaint filed on the public form with a photo: its id and tracking code."""
    client.cookies.clear()
    r = post_public(client, complaint(public_form(client), **changes), [("黑烟.jpg", PHOTO, "image/jpeg")])
    assert r.status_code == 200, r.text
    m = CODE.search(r.text)
    assert m and 'id="code-warning"' in r.text, r.text
    fid = re.search(r'id="filed" data-complaint="(\d+)"', r.text)
    assert fid
    return int(fid.group(1)), m.group(1)


def track(client: TestClient, code: str, lang: str = "") -> Any:
    return client.post("/complaints/track" + (f"?lang={lang}" if lang else ""), data={"code": code})


def step(client: TestClient, csrf: str, cid: int, action: str, lang: str = "", **extra: str) -> Any:
    data = {"csrf": csrf, "action": action, **extra}
    return client.post(f"/complaints/{cid}/events" + (f"?lang={lang}" if lang else ""), data=data)


def error_of(page: str) -> str:
    m = re.search(r'id="form-error">(.*?)</p>', page, re.S)
    assert m, "the refused form says why"
    return html.unescape(m.group(1))


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_the_complaint_pages_exists_in_both_languages() -> None:
    used: set[str] = set()
    for name in ("complaints.html", "complaint.html", "complaint_new.html", "complaint_track.html",
                 "_complaint_form.html", "_inspection_macros.html", "base.html"):  # fmt: skip
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    code = (WEB / "inspection_pages.py").read_text(encoding="utf-8")
    used |= set(re.findall(r"[\"']((?:cmp|qa|err|itf|nav)\.[a-z0-9_.]*[a-z0-9_])[\"']", code))
    assert {"nav.complaints", "nav.report", "cmp.code_once", "cmp.too_many", "cmp.form_expired"} <= used
    for prefix, values in {
        "cmp.state.": COMPLAINT_STATES,
        "cmp.channel.": CHANNELS,
        "cmp.action.": ACTIONS,
        "cmp.due_hint.": ("accept", "resolve"),
        "cmp.done.": ("step",),
    }.items():
        used |= {prefix + v for v in values}
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and (zh != en or key == "lang.switch"), key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


# ------------------------------------------------------------------------------------------------ the flow
def test_a_complaint_filed_tracked_and_resolved(client: TestClient, cmp_site: Site) -> None:
    site = cmp_site
    client.cookies.clear()
    page = client.get("/complaints/new").text
    assert 'id="complaint-form"' in page and 'enctype="multipart/form-data"' in page and 'type="file"' in page
    assert '<option value="210102">' in page, "the registry's regions are offered"
    cid, code = filed(client)
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
    # the code is shown once: the form again afterwards, and no trace of it anywhere kept
    again = client.get("/complaints/new").text
    assert code not in again and 'id="complaint-form"' in again
    stored = site.store.quality_rows("complaints", id=cid)[0]
    assert code not in str(stored) and stored["channel"] == "web" and stored["intake_by"] == ""
    assert stored["region"] == "210102", "the region follows from the point"
    # tracked with the code alone (as read over the phone: any case, spaces)
    r = track(client, code.lower().replace("-", " "))
    assert (
        r.status_code == 200 and 'id="tracked" data-state="received"' in r.text and "夜间烟囱冒黑烟" in r.text
    )
    assert "受理期限" in r.text and 'data-overdue="0"' in r.text and "尚无办理记录" in r.text
    assert track(client, "AAAA-BBBB-CCCC-DDDD").status_code == 404
    # the county regulator handles it: accept, link, assign, an internal comment, a reply, the resolution
    csrf = as_user(client, "heping")
    listing = client.get("/complaints").text
    line = re.search(rf'<tr id="complaint-{cid}"(.*?)</tr>', listing, re.S)
    assert line and 'data-state="received"' in line.group(0) and "网上投诉" in line.group(1)
    assert "210102" in line.group(1) and 'data-overdue="0"' in line.group(1)
    page = client.get(f"/complaints/{cid}").text
    assert "王先生 13800000000" in page and "每晚 11 点后" in page and "(41.79, 123.43)" in page
    assert f'<a href="/points/{P1}" class="mono">{P1}</a> · 甲热电有限公司 · 1号锅炉排放口' in page
    assert 'id="accept-form"' in page and 'id="reply-form"' not in page and 'id="close-form"' in page
    sha = hashlib.sha256(PHOTO).hexdigest()
    att = re.search(r'<tr data-attachment="(\d+)">(.*?)</tr>', page, re.S)
    assert att and "黑烟.jpg" in att.group(2) and sha in att.group(2)
    r = client.get(f"/complaints/{cid}/attachments/{att.group(1)}")
    assert r.status_code == 200 and r.content == PHOTO and r.headers["x-content-sha256"] == sha
    assert (
        r.headers["content-type"] == "application/octet-stream"
        and r.headers["x-content-type-options"] == "nosniff"
    )
    assert unquote(r.headers["content-disposition"].split("''", 1)[1]) == "黑烟.jpg"
    alarm = site.alarms[P1]
    assert step(client, csrf, cid, "accepted", note="转执法支队").status_code == 303
    r = step(client, csrf, cid, "linked", links=f"points/{P1} alarms/{alarm}")
    assert r.status_code == 303 and r.headers["location"] == f"/complaints/{cid}?done=step#done"
    assert step(client, csrf, cid, "assigned", assignee="insp_hp").status_code == 303
    assert step(client, csrf, cid, "comment", note=INTERNAL).status_code == 303
    assert (
        step(client, csrf, cid, "replied", reply="已派员现场核查，正在调取在线监测数据。").status_code == 303
    )
    assert (
        step(
            client, csrf, cid, "resolved", reply="经查属实，已立案处罚并责令整改。", note="案号 2026-015"
        ).status_code
        == 303
    )
    page = client.get(f"/complaints/{cid}?done=step").text
    assert 'id="done"' in page and 'data-state="resolved"' in page
    assert re.findall(r'<tr data-event="\d+" data-action="(\w+)">', page) == [
        "accepted", "linked", "assigned", "comment", "replied", "resolved"]  # fmt: skip
    links = re.search(r'id="links">(.*?)</dd>', page, re.S)
    assert links and f'href="/points/{P1}"' in links.group(1) and f'href="/alarms/{alarm}"' in links.group(1)
    assert "交 insp_hp 办理" in page and INTERNAL in page and "案号 2026-015" in page
    assert 'id="accept-form"' not in page and 'id="close-form"' not in page and 'id="comment-form"' in page
    # closed: only comments
    r = step(client, csrf, cid, "replied", reply="补充")
    assert r.status_code == 409 and "该投诉已办结" in error_of(r.text)
    assert step(client, csrf, cid, "comment", note="归档").status_code == 303
    # the complainant reads the replies — never the internal notes, names or links
    client.cookies.clear()
    r = track(client, code, lang="en")
    assert r.status_code == 200 and 'data-state="resolved"' in r.text
    steps = re.findall(r'<tr data-action="(\w+)">', r.text)
    assert steps == ["accepted", "linked", "assigned", "replied", "resolved"]
    assert "已派员现场核查" in r.text and "经查属实，已立案处罚并责令整改。" in r.text
    for secret in (
        INTERNAL,
        "案号 2026-015",
        "转执法支队",
        "归档",
        "insp_hp",
        "heping",
        f"alarms/{alarm}",
        "王先生",
    ):
        assert secret not in r.text, secret
    assert 'id="tracked-due">—' in r.text, "a closed complaint has no deadline"


def test_exactly_the_region_s_staff_open_a_complaint(client: TestClient, cmp_site: Site) -> None:
    cid, _ = filed(client)
    att = int(cmp_site.store.quality_rows("attachments")[0]["id"])
    paths = (f"/complaints/{cid}", f"/complaints/{cid}/attachments/{att}")
    for user in sorted(HANDLERS | OTHERS):
        csrf = as_user(client, user)
        listing = client.get("/complaints")
        staff = user in HANDLERS or user in ("shenhe", "insp_sh")
        assert listing.status_code == (200 if staff else 404), user
        if staff:
            assert (f'href="/complaints/{cid}"' in listing.text) == (user in HANDLERS), user
        for path in paths:
            assert client.get(path).status_code == (200 if user in HANDLERS else 404), (user, path)
        if user in OTHERS:
            assert step(client, csrf, cid, "accepted").status_code == 404, user
            if not staff:
                assert client.post("/complaints", data={"csrf": csrf}).status_code == 404, user
        # the menu: the staff's list, or the public's form
        nav = re.search(r"<nav>(.*?)</nav>", client.get("/draws").text, re.S)
        assert nav and ('href="/complaints"' in nav.group(1)) == staff, user
        assert ('href="/complaints/new"' in nav.group(1)) == (not staff), user
    assert Complaints(cmp_site.store).visible("heping")[0]["state"] == "received", "nobody else took a step"
    # the public: the login for the staff's pages, the form and the tracking page without one
    client.cookies.clear()
    for path in ("/complaints", *paths):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    r = client.post(f"/complaints/{cid}/events", data={"action": "accepted"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert (
        client.get("/complaints/new").status_code == 200
        and client.get("/complaints/track").status_code == 200
    )
    nav = re.search(r"<nav>(.*?)</nav>", client.get("/complaints/track").text, re.S)
    assert nav and 'href="/complaints/new"' in nav.group(1) and "我要投诉" in nav.group(1)
    # unknown complaints and attachments, malformed numbers: 404 pages
    as_user(client, "heping")
    for path in ("/complaints/999999", f"/complaints/{cid}/attachments/{att + 1000}", "/complaints/0",
                 f"/complaints/{2**70}", f"/complaints/{cid}/attachments/0"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path


def test_staff_enter_a_phone_complaint_and_tell_the_code(client: TestClient, cmp_site: Site) -> None:
    csrf = as_user(client, "shenhe")
    page = client.get("/complaints").text
    assert 'id="intake-form"' in page and 'name="region" value="210103"' in page
    assert '<option value="web"' not in page.split('id="intake-form"')[1]
    form = {"csrf": csrf, "channel": "phone", "subject": "河道排污口排放异味废水", "description": "来电反映：总排口下游有异味",
            "location": "沈河区某河段", "region": "210103", "mn": "", "lat": "", "lon": "", "anonymous": "1",
            "contact_name": "李女士", "contact_phone": "139"}  # fmt: skip
    r = client.post("/complaints", data=form, files=[("attachments", ("", b"", "application/octet-stream"))])
    assert r.status_code == 200 and 'id="filed"' in r.text and "请将查询码告知投诉人" in r.text
    m = CODE.search(r.text)
    assert m
    cid = int(re.search(r'id="filed" data-complaint="(\d+)"', r.text).group(1))  # type: ignore[union-attr]
    stored = cmp_site.store.quality_rows("complaints", id=cid)[0]
    assert stored["channel"] == "phone" and stored["intake_by"] == "shenhe"
    assert stored["contact_name"] == "" and stored["contact_phone"] == "", (
        "anonymous: the contact is not kept"
    )
    assert f'<tr id="complaint-{cid}"' in r.text and "电话" in r.text
    assert 'id="tracking-code"' not in client.get("/complaints").text, "shown once"
    assert 'data-state="received"' in track(client, m.group(1)).text
    # the web channel is the public's; a heping complaint is not shenhe's (404 for its pages)
    r = client.post("/complaints?lang=en", data={**form, "channel": "web"})
    assert r.status_code == 400 and error_of(r.text) == "Not submitted: Channel is required"
    assert 'value="河道排污口排放异味废水"' in r.text
    hp, _ = filed(client)
    as_user(client, "shenhe")
    assert client.get(f"/complaints/{hp}").status_code == 404
    # an overdue complaint is marked in red: four days later nobody has accepted either
    later = Complaints.__init__

    def four_days_on(self: Complaints, store: Any, *, clock: Any = None) -> None:
        later(self, store, clock=lambda: __import__("time").time() + 4 * 86400)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Complaints, "__init__", four_days_on)
        page = client.get("/complaints").text
        assert re.search(rf'<tr id="complaint-{cid}" data-complaint="{cid}" data-state="received" class="overdue">',
                         page) and 'id="overdue-count"' in page  # fmt: skip
        assert 'data-overdue="1"' in page and "已逾期" in page
        client.cookies.clear()
        assert 'data-overdue="1"' in track(client, m.group(1)).text


# ------------------------------------------------------------------------------------------------ refusals
def test_refused_forms_come_back_with_the_reason(client: TestClient, cmp_site: Site, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    client.cookies.clear()
    token = public_form(client)
    cases = [
        ({"subject": ""}, 400, "请填写 标题", "Subject is required"),
        ({"location": ""}, 400, "请填写 地点", "Where is required"),
        (
            {"mn": "", "region": ""},
            400,
            "请填写所在地区",
            "Give the region's division code or the monitoring point",
        ),
        ({"mn": "", "region": "21x"}, 400, "行政区划代码须为", "The division code must be 2–12 digits"),
        ({"mn": "MN404"}, 400, "监测点未登记：MN404", "No such point: MN404"),
        ({"lat": "north"}, 400, "不是经纬度", "not decimal degrees"),
        ({"description": "x" * 8001}, 400, "投诉内容 过长", "What happened is too long"),
    ]
    for changes, status, zh, en in cases:
        for lang, text in (("zh", zh), ("en", en)):
            r = post_public(client, complaint(token, **changes), lang=lang)
            assert r.status_code == status and text in error_of(r.text), (changes, lang, error_of(r.text))
            assert 'id="tracking-code"' not in r.text
    r = post_public(client, complaint(token, subject="", contact_name="赵某"), lang="zh")
    assert 'value="赵某"' in r.text and "每晚 11 点后" in r.text and "附件未保存" in r.text
    # an attachment over 20 MiB
    big = [("大.bin", b"\0" * (MAX_ATTACHMENT_BYTES + 1), "application/octet-stream")]
    r = post_public(client, complaint(token), big, lang="en")
    assert r.status_code == 413 and error_of(r.text) == "Not submitted: The attachment 大.bin is over 20 MiB"
    # the form's token: missing or foreign — the form comes back, as typed, with a fresh token
    r = post_public(client, complaint("forged"), lang="zh")
    assert r.status_code == 403 and "表单已过期" in error_of(r.text) and 'value="夜间烟囱冒黑烟"' in r.text
    client.cookies.clear()
    assert post_public(client, complaint(token)).status_code == 403
    assert cmp_site.store.quality_rows("complaints") == []
    # at most PUBLIC_PER_HOUR complaints from one address
    monkeypatch.setattr(inspection_pages, "PUBLIC_PER_HOUR", 2)
    token = public_form(client)
    assert [post_public(client, complaint(token)).status_code for _ in range(3)] == [200, 200, 429]
    r = post_public(client, complaint(token), lang="en")
    assert r.status_code == 429 and "Too many complaints from this address" in error_of(r.text)
    # the tracking form: an empty or overlong code
    assert track(client, "").status_code == 400
    r = track(client, "X" * 41, lang="en")
    assert r.status_code == 404 and "No complaint with this tracking code." in r.text
    # the steps: the workflow's order and the page's fields
    cid = int(cmp_site.store.quality_rows("complaints")[0]["id"])
    csrf = as_user(client, "heping")
    r = step(client, csrf, cid, "replied", lang="zh", reply="正在核实")
    assert r.status_code == 409 and "请先受理" in error_of(r.text)
    assert 'id="accept-form"' in r.text
    r = step(client, csrf, cid, "rejected", lang="en")
    assert (
        r.status_code == 400
        and error_of(r.text) == "Not recorded: Reply (the complainant reads it) is required"
    )
    assert step(client, csrf, cid, "accepted").status_code == 303
    r = step(client, csrf, cid, "accepted", lang="zh")
    assert r.status_code == 409 and "该投诉已受理" in error_of(r.text)
    r = step(client, csrf, cid, "linked", links="alarms/999999")
    assert r.status_code == 404 and "没有记录 alarms/999999" in error_of(r.text)
    assert 'value="alarms/999999"' in r.text.split('id="link-form"')[1], (
        "the typed links come back by their form"
    )
    r = step(client, csrf, cid, "linked", links="../../etc/passwd")
    assert r.status_code == 400 and "记录编号无效" in error_of(r.text)
    r = step(client, csrf, cid, "assigned", assignee="shenhe")
    assert r.status_code == 422 and "不能办理该投诉" in error_of(r.text)
    page = client.get(f"/complaints/{cid}").text
    options = re.findall(r'<option value="(\w+)"', page.split('id="assign-form"')[1].split("</form>")[0])
    assert options == sorted(HANDLERS)
    r = step(client, csrf, cid, "frozen")
    assert r.status_code == 400
    r = client.post(f"/complaints/{cid}/events", data={"action": "comment", "note": "x"})
    assert r.status_code == 403 and "表单已过期" in r.text


def test_hostile_text_stays_text(client: TestClient, cmp_site: Site) -> None:
    cid, code = filed(client, subject=EVIL, description=EVIL, location=EVIL, contact_name=EVIL)
    csrf = as_user(client, "heping")
    assert step(client, csrf, cid, "accepted", note=EVIL).status_code == 303
    assert step(client, csrf, cid, "replied", reply=EVIL).status_code == 303
    for path in ("/complaints", f"/complaints/{cid}"):
        page = client.get(path).text
        assert EVIL not in page and "&lt;script&gt;" in page, path
    client.cookies.clear()
    page = track(client, code).text
    assert EVIL not in page and "&lt;script&gt;" in page
    r = post_public(client, complaint(public_form(client), subject=EVIL, location=""))
    assert r.status_code == 400 and EVIL not in r.text and "&lt;script&gt;" in r.text
    assert P3 not in page
