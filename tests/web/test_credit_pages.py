"""The credit, blacklist, order and penalty, county ranking and case pages through an in-process client, on both
backends.

Credit scores, the blacklist and orders with their penalties are public; the forms are offered to regulators and
the workflow decides (a regulator of another county is refused, in the reader's language, with what was typed kept).
The listed enterprise appeals its own listing with its own account; a regulator rejects or upholds the appeal; a
credit repair before a year is refused.  A served order rechecked four days later shows four penalty days, the days
with alarms marked.  The ranking is for regulators and discipline accounts whose region covers the one asked for;
cases for the regulators and inspectors of the region (404 for everybody else).  The transfer package downloaded
from the case page verifies with :func:`envtrust.workflow.cases.verify_package`.  Hostile text stays text.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from envtrust.alarms.book import AlarmBook
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.services import Checkpointer
from envtrust.web.credit_pages import LISTING_STATES
from envtrust.web.i18n import MESSAGES
from envtrust.workflow.cases import DOC_KINDS, verify_package
from envtrust.workflow.credit import APPEAL_ACTIONS, SUBJECT_KINDS, Credit
from scoped import fast_accounts

from .conftest import P1, P2, P3, PASSWORD, ZONE, Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
TEMPLATES = ("credit.html", "blacklist.html", "orders.html", "order.html", "ranking.html", "cases.html", "case.html",
             "_credit_macros.html", "base.html")  # fmt: skip
EVIL = "<script>alert(1)</script>"
CODE1 = "91210102AAAAAAAA1A"  # 甲热电有限公司, P1, county 210102 (ent1's enterprise)
ORIGIN = "test.envtrust/ledger"
PUBLIC_PATHS = ("/credit", "/blacklist", "/orders")
ALL = ("ent1", "ent2", "heping", "shenhe", "city", "admin", "lab", "zhifa", "jiwei", "jiwei3")


@pytest.fixture
def cr_site(site: Site) -> Iterator[Site]:
    """The site with an inspector and a discipline account of the city, and a discipline account of Shenhe."""
    acc = fast_accounts(site.store)
    acc.create("zhifa", "inspector", who="setup", password=PASSWORD, region="2101")
    acc.create("jiwei", "discipline", who="setup", password=PASSWORD, region="2101")
    acc.create("jiwei3", "discipline", who="setup", password=PASSWORD, region="210103")
    yield site


def as_user(client: TestClient, user: str) -> str:
    client.cookies.clear()
    return login(client, user)


def as_public(client: TestClient) -> None:
    client.cookies.clear()


def error_of(page: str) -> str:
    m = re.search(r'id="(?:form|package)-error">(.*?)</p>', page, re.S)
    assert m, "the refused form says why"
    return html.unescape(m.group(1))


def error_text(page: str) -> str:
    m = re.search(r'id="error-text">(.*?)</p>', page, re.S)
    assert m, page
    return html.unescape(m.group(1))


def alarm_of(site: Site, mn: str) -> str:
    return f"alarms/{site.alarms[mn]}"


def today(site: Site) -> date:
    return site.now_local.date()


def credit_form(csrf: str, site: Site, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": csrf, "subject_kind": "enterprise", "subject_id": CODE1, "subject_name": "甲热电有限公司",
        "region": "210102", "kind": "negative", "points": "-20", "reason": "篡改自动监测数据",
        "evidence": alarm_of(site, P1), "decision": "沈和环罚〔2026〕9号", **changes,
    }  # fmt: skip


def listing_form(csrf: str, site: Site, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": csrf, "subject_kind": "enterprise", "subject_id": CODE1, "subject_name": "甲热电有限公司",
        "region": "210102", "reason": "篡改自动监测数据", "evidence": alarm_of(site, P1),
        "decision": "沈和环罚〔2026〕8号", "starts_on": today(site).isoformat(),
        "ends_on": (today(site) + timedelta(days=3 * 365)).isoformat(), **changes,
    }  # fmt: skip


def order_form(csrf: str, site: Site, served: date, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": csrf, "order_no": "沈和环责改〔2026〕12号", "enterprise": "乙水泥有限公司", "mns": "",
        "mn_pick": [P2], "violation": "二氧化硫超标排放", "evidence": alarm_of(site, P2),
        "served_on": served.isoformat(), **changes,
    }  # fmt: skip


def case_form(csrf: str, site: Site, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": csrf, "case_no": "沈环移〔2026〕1号", "title": "甲热电篡改监测数据案", "enterprise": "甲热电有限公司",
        "mns": P1, "start": (site.now_local - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "end": site.now_local.strftime("%Y-%m-%dT%H:%M"), "summary": "二氧化硫数据长时间恒值",
        "evidence": alarm_of(site, P1), **changes,
    }  # fmt: skip


def listing_of(page: str, lid: int) -> str:
    m = re.search(rf'<section class="listing [a-z]+" id="listing-{lid}"(.*?)</section>', page, re.S)
    assert m, page
    return m.group(0)


def alarm_on(site: Site, mn: str, day: date, check: str, category: str) -> int:
    """An alarm of ``mn`` from 12:00 to 13:00 (China time) of ``day``."""
    start = int(datetime(day.year, day.month, day.day, 12, tzinfo=ZONE).timestamp())
    code = "w01018" if mn == P3 else "a21026"
    finding = Finding(mn, code, check, category, "high", start, start + 3600, "测试 | test", {})
    AlarmBook(site.store).apply([Evaluation(mn, [finding], (check,), start + 3600)])
    found = [a for a in site.store.alarms(mn=[mn], closed=None) if a["check_name"] == check]
    return int(found[-1]["id"])


def checkpoint(site: Site) -> None:
    Checkpointer(site.store, ledger_signer(ORIGIN, create=True), ORIGIN).checkpoint()


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_the_credit_pages_exists_in_both_languages() -> None:
    used: set[str] = set()
    for name in TEMPLATES:
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    code = (WEB / "credit_pages.py").read_text(encoding="utf-8")
    used |= set(re.findall(r"[\"']((?:cr|bl|ord|rk|cs|itf|qa|err)\.[a-z0-9_.]*[a-z0-9_])[\"']", code))
    assert {"nav.credit", "nav.orders", "nav.ranking", "nav.cases", "cr.title", "bl.title", "ord.penalty",
            "rk.forbidden", "cs.no_log_key", "cs.one_file"} <= used  # fmt: skip
    for prefix, values in {
        "cr.kind.": SUBJECT_KINDS,
        "cr.sign.": ("negative", "positive"),
        "cr.done.": ("event",),
        "bl.state.": LISTING_STATES,
        "bl.action.": APPEAL_ACTIONS,
        "bl.done.": ("listed", "step"),
        "ord.result.": ("continued", "rectified"),
        "ord.done.": ("served", "rechecked"),
        "cs.doc.": DOC_KINDS,
        "cs.done.": ("opened", "document"),
        "rk.": ("fraud_inspections", "continued_orders", "blacklistings", "interference"),
    }.items():
        used |= {prefix + v for v in values}
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and (zh != en or key == "lang.switch"), key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


# ------------------------------------------------------------------------------------------------ access
def test_who_opens_which_page(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    credit = Credit(site.store)
    order = credit.order(username="heping", order_no="沈和环责改〔2026〕1号", enterprise="乙水泥有限公司", mns=[P2],
                         violation="超标", evidence=[alarm_of(site, P2)],
                         served_on=(today(site) - timedelta(days=5)).isoformat())  # fmt: skip
    csrf = as_user(client, "zhifa")
    r = client.post("/cases", data=case_form(csrf, site))
    assert r.status_code == 303, r.text
    case_id = int(r.headers["location"].split("/")[2].split("?")[0])
    paths = (f"/cases/{case_id}", f"/cases/{case_id}/package")
    # the public: the public pages without forms, the ranking and the cases behind the login
    as_public(client)
    for path in (*PUBLIC_PATHS, f"/orders/{order['id']}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'method="post"' not in page.text.replace('action="/logout"', ""), path
        assert 'href="/credit"' in page.text and 'href="/orders"' in page.text  # in the menu
        assert 'href="/ranking"' not in page.text and 'href="/cases"' not in page.text
    for path in ("/ranking", "/cases", *paths):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert client.get("/orders/999999").status_code == 404
    assert client.get("/orders/0").status_code == 404
    for user in ALL:
        as_user(client, user)
        regulator = user in ("heping", "shenhe", "city")
        for path, form in (
            ("/credit", "credit-form"),
            ("/blacklist", "listing-form"),
            ("/orders", "order-form"),
        ):
            page = client.get(path)
            assert page.status_code == 200 and (f'id="{form}"' in page.text) == regulator, (user, path)
        page = client.get(f"/orders/{order['id']}").text
        assert ('id="recheck-form"' in page) == (user in ("heping", "city")), user  # the order's region
        # the ranking: regulators and discipline accounts, for a region their own covers
        r = client.get("/ranking")
        assert r.status_code == (200 if user in ("heping", "shenhe", "city", "jiwei", "jiwei3") else 403), (
            user
        )
        r = client.get("/ranking?region=2101")
        assert r.status_code == (200 if user in ("city", "jiwei") else 403), user
        if r.status_code == 403:
            assert "区县排名仅供" in error_text(r.text)
        # cases: the regulators and inspectors of the region, 404 for everybody else
        staff = user in ("heping", "shenhe", "city", "zhifa")
        assert client.get("/cases").status_code == (200 if staff else 404), user
        for path in paths:
            r = client.get(path)
            expected = (
                404 if user not in ("heping", "city", "zhifa") else (409 if path.endswith("package") else 200)
            )
            assert r.status_code == expected, (user, path, r.status_code)
        assert client.get("/cases/999999").status_code == 404
        text = client.get("/credit").text  # the menu
        assert ('href="/ranking"' in text) == (user in ("heping", "shenhe", "city", "jiwei", "jiwei3")), user
        assert ('href="/cases"' in text) == staff, user
    as_user(client, "heping")
    assert client.get("/ranking?region=21x").status_code == 400
    assert client.get("/ranking?region=210102&start=yesterday").status_code == 400


# ------------------------------------------------------------------------------------------------ credit
def test_credit_events_through_the_form(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "heping")
    page = client.get("/credit").text
    assert 'id="credit-form"' in page and f'<option value="{CODE1}">' in page  # the enterprises offered
    r = client.post("/credit", data=credit_form(csrf, site))
    assert r.status_code == 303 and r.headers["location"] == "/credit?done=event#done"
    r = client.post("/credit", data=credit_form(csrf, site, kind="positive", points="+5", reason="主动整改",
                                                decision="沈和环函〔2026〕3号"))  # fmt: skip
    assert r.status_code == 303, r.text
    as_public(client)
    page = client.get("/credit?done=event").text
    assert 'id="done"' in page
    row = re.search(rf'<tr data-subject="{CODE1}" data-score="(\d+)">', page)
    assert row and row.group(1) == "85"
    assert f'<a href="/alarms/{site.alarms[P1]}" class="mono ref">{alarm_of(site, P1)}</a>' in page
    assert "沈和环罚〔2026〕9号" in page and "篡改自动监测数据" in page and "+5" in page and "-20" in page
    assert re.search(
        r'<tr id="event-\d+" data-event="\d+" data-points="-20">.*?/verify/entry/\d+', page, re.S
    )


def test_credit_refusals_in_the_readers_language(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "shenhe")  # Shenhe decides nothing in Heping
    r = client.post("/credit", data=credit_form(csrf, site, subject_name="甲热电（保留）"))
    assert r.status_code == 403 and error_of(r.text) == "未记录：210102 不在您的辖区内"
    assert 'value="甲热电（保留）"' in r.text  # what was typed is kept
    r = client.post("/credit?lang=en", data=credit_form(csrf, site))
    assert r.status_code == 403 and error_of(r.text) == "Not recorded: 210102 is outside your region"
    csrf = as_user(client, "heping")
    for changes, status, zh, en in (
        ({"points": "5"}, 400, "负面事件扣分", "negative events take points, positive add, ≤ 100"),
        ({"points": "many"}, 400, "请填写", "Points is not a valid number"),
        ({"evidence": "alarms/999999"}, 404, "没有记录 alarms/999999", "no record alarms/999999"),
        ({"evidence": "nonsense"}, 400, "证据编号无效", "not a record reference: 'nonsense'"),
        ({"reason": ""}, 400, "请填写 事由", "Reason is required"),
        ({"region": "21x"}, 400, "行政区划代码须为", "The division code is 2 to 12 digits"),
        ({"subject_kind": "ghost"}, 400, "请填写 主体类别", "Kind of subject is required"),
    ):
        r = client.post("/credit?lang=zh", data=credit_form(csrf, site, **changes))
        assert r.status_code == status, (changes, r.status_code)
        if "many" not in changes.values():
            assert zh in error_of(r.text), (changes, error_of(r.text))
        r = client.post("/credit?lang=en", data=credit_form(csrf, site, **changes))
        assert r.status_code == status and en in error_of(r.text), (changes, error_of(r.text))
    csrf = as_user(client, "ent1")
    r = client.post("/credit", data=credit_form(csrf, site))
    assert r.status_code == 403 and "只有监管部门可以作出该决定" in error_of(r.text)
    assert client.post("/credit", data={**credit_form(csrf, site), "csrf": "forged"}).status_code == 403
    assert site.store.quality_rows("credit_events") == []


# ------------------------------------------------------------------------------------------------ blacklist
def test_the_blacklist_listing_appeal_decision_and_repair(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "heping")
    r = client.post("/blacklist", data=listing_form(csrf, site))
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/blacklist\?done=listed#listing-(\d+)", r.headers["location"])
    assert m
    lid = int(m.group(1))
    # the public sees it, with its state, dates, decision, evidence and the export links
    as_public(client)
    page = client.get("/blacklist").text
    section = listing_of(page, lid)
    assert 'data-state="listed"' in section and "列入中" in section and "沈和环罚〔2026〕8号" in section
    assert today(site).isoformat() in section and f'href="/alarms/{site.alarms[P1]}"' in section
    assert 'href="/api/v1/blacklist/export?format=csv"' in page and 'id="step-form-' not in page
    exported = client.get("/api/v1/blacklist/export?format=csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][0] == CODE1 and rows[1][8] == "listed"
    # ent1 (the listed enterprise) may appeal, ent2 may not
    csrf = as_user(client, "ent2")
    assert f'id="step-form-{lid}"' not in client.get("/blacklist").text
    r = client.post(f"/blacklist/{lid}/events", data={"csrf": csrf, "action": "appealed", "note": "代为申诉"})
    assert r.status_code == 403 and "只有监管部门" in error_of(r.text)
    assert 'id="form-error"' in listing_of(r.text, lid)  # beside the listing it concerns
    csrf = as_user(client, "ent1")
    section = listing_of(client.get("/blacklist").text, lid)
    assert f'id="step-form-{lid}"' in section and re.findall(r'<option value="(\w+)"', section) == [
        "appealed"
    ]
    r = client.post(
        f"/blacklist/{lid}/events", data={"csrf": csrf, "action": "appealed", "note": "我公司已整改"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/blacklist?done=step#listing-{lid}"
    r = client.post(
        f"/blacklist/{lid}/events?lang=en", data={"csrf": csrf, "action": "appealed", "note": "x"}
    )
    assert r.status_code == 409 and error_of(r.text) == "Not recorded: an appeal is pending"
    r = client.post(f"/blacklist/{lid}/events", data={"csrf": csrf, "action": "appeal_upheld", "note": "x"})
    assert r.status_code == 403
    # the regulator rejects the appeal; a repair before a year is refused
    csrf = as_user(client, "heping")
    section = listing_of(client.get("/blacklist").text, lid)
    assert 'data-state="appealed"' in section and "申诉中" in section and "我公司已整改" in section
    assert re.findall(r'<option value="(\w+)"', section) == ["appeal_upheld", "appeal_rejected", "repaired"]
    r = client.post(
        f"/blacklist/{lid}/events", data={"csrf": csrf, "action": "appeal_rejected", "note": "证据确凿"}
    )
    assert r.status_code == 303
    step = {"csrf": csrf, "action": "repaired", "note": "整改到位", "evidence": alarm_of(site, P1)}
    r = client.post(f"/blacklist/{lid}/events", data=step)
    assert r.status_code == 409 and "列入满 365 日后方可信用修复" in error_of(r.text)
    assert 'value="整改到位"' in listing_of(r.text, lid)  # what was typed is kept
    r = client.post(f"/blacklist/{lid}/events?lang=en", data={**step, "evidence": ""})
    assert r.status_code == 400 and error_of(r.text) == "Not recorded: Evidence is required"
    # the appeal again, upheld this time: the listing is removed, no form any more
    csrf = as_user(client, "ent1")
    assert client.post(f"/blacklist/{lid}/events", data={"csrf": csrf, "action": "appealed",
                                                         "note": "新证据"}).status_code == 303  # fmt: skip
    csrf = as_user(client, "heping")
    r = client.post(
        f"/blacklist/{lid}/events", data={"csrf": csrf, "action": "appeal_upheld", "note": "复核撤销"}
    )
    assert r.status_code == 303
    as_public(client)
    page = client.get("/blacklist?lang=en").text
    section = listing_of(page, lid)
    assert 'data-state="removed"' in section and "removed on appeal" in section
    assert [a for a in re.findall(r'<tr data-action="(\w+)">', section)] == [
        "appealed", "appeal_rejected", "appealed", "appeal_upheld"]  # fmt: skip
    assert f'id="listing-{lid}"' not in client.get("/blacklist?active=1").text
    csrf = as_user(client, "heping")
    r = client.post(f"/blacklist/{lid}/events", data={**step, "csrf": csrf})
    assert r.status_code == 409 and "该记录已结束" in error_of(r.text)
    assert client.post("/blacklist/999999/events", data={**step, "csrf": csrf}).status_code == 404


def test_listing_refusals(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "heping")
    start = today(site).isoformat()
    for changes, status, en in (
        ({"ends_on": start}, 400, "the end must be after the start"),
        ({"starts_on": "01/11/2026"}, 400, "Listed from is not a valid time"),
        ({"region": "210103"}, 400, "is registered in 210102, not in 210103"),  # the registry's region counts
        ({"decision": ""}, 400, "Decision document no. is required"),
    ):
        r = client.post("/blacklist?lang=en", data=listing_form(csrf, site, **changes))
        assert r.status_code == status and en in error_of(r.text), (changes, error_of(r.text))
        assert 'value="甲热电有限公司"' in r.text
    assert site.store.quality_rows("blacklist") == []


# ------------------------------------------------------------------------------------------------ orders
def test_a_served_order_rechecked_four_days_later_and_its_penalty(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    served = today(site) - timedelta(days=10)
    # P2 exceeded its limit on the day after service and was tampered with two days later
    exceeded = alarm_on(site, P2, served + timedelta(days=1), "exceedance_hour", "exceedance")
    tampered = alarm_on(site, P2, served + timedelta(days=3), "low_variance", "tampering")
    alarm_on(site, P3, served + timedelta(days=2), "low_variance", "tampering")  # another enterprise's point
    csrf = as_user(client, "heping")
    r = client.post("/orders", data=order_form(csrf, site, served))
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/orders/(\d+)\?done=served#done", r.headers["location"])
    assert m
    oid = int(m.group(1))
    page = client.get(r.headers["location"]).text
    assert (
        'id="done"' in page and 'data-days="0"' in page and "尚未复查" in page and 'id="recheck-form"' in page
    )
    assert 'id="day-table"' not in page
    # a regulator of another county may not recheck; nor before the service
    csrf = as_user(client, "shenhe")
    assert 'id="recheck-form"' not in client.get(f"/orders/{oid}").text
    recheck = {"csrf": csrf, "rechecked_on": (served + timedelta(days=4)).isoformat(), "result": "continued",
               "note": "现场复查，仍超标排放", "evidence": f"alarms/{tampered}"}  # fmt: skip
    r = client.post(f"/orders/{oid}/recheck", data=recheck)
    assert r.status_code == 403 and "不在您的辖区内" in error_of(r.text)
    csrf = as_user(client, "heping")
    recheck["csrf"] = csrf
    r = client.post(f"/orders/{oid}/recheck?lang=en", data={**recheck, "rechecked_on": served.isoformat()})
    assert r.status_code == 400 and error_of(r.text) == "Not recorded: the recheck comes after the service"
    assert "现场复查，仍超标排放" in r.text
    r = client.post(f"/orders/{oid}/recheck?lang=zh", data={**recheck, "result": "maybe"})
    assert r.status_code == 400 and error_of(r.text) == "未记录：请填写 复查结论"
    r = client.post(f"/orders/{oid}/recheck", data=recheck)
    assert r.status_code == 303 and r.headers["location"] == f"/orders/{oid}?done=rechecked#done"
    # the public: four days, the second and fourth... rather the first and third with alarms
    as_public(client)
    page = client.get(f"/orders/{oid}").text
    assert re.search(r'id="penalty-days" data-days="4">4<', page)
    assert 'id="alarm-days" data-days="2"' in page
    days = re.findall(r'<tr data-date="([\d-]+)" data-alarms="(\d+)">', page)
    assert [d for d, _ in days] == [(served + timedelta(days=i)).isoformat() for i in range(1, 5)]
    assert [int(n) > 0 for _, n in days] == [True, False, True, False]
    strip = re.findall(r'<li class="(on|off)" data-date="([\d-]+)"', page)
    assert strip == [
        ("on" if i in (1, 3) else "off", (served + timedelta(days=i)).isoformat()) for i in range(1, 5)
    ]
    assert f'<a href="/alarms/{exceeded}" class="mono ref">alarms/{exceeded}</a>' in page
    assert f'href="/alarms/{tampered}"' in page
    rule = html.unescape(re.search(r'id="rule">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "第五十九条" in rule and (served + timedelta(days=1)).isoformat() in rule and "共 4 日" in rule
    assert "art. 59" not in rule
    assert 'data-result="continued"' in page and 'id="recheck-form"' not in page
    page = client.get(f"/orders/{oid}?lang=en").text
    rule = html.unescape(re.search(r'id="rule">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "art. 59" in rule and "4 days" in rule and "第五十九条" not in rule
    assert "violation continued" in page and "2 of them with alarms" in page
    listed = client.get("/orders").text
    assert re.search(rf'<tr id="order-{oid}" data-order="{oid}" data-days="4">', listed)
    # a second recheck is refused
    csrf = as_user(client, "heping")
    r = client.post(f"/orders/{oid}/recheck?lang=en", data={**recheck, "csrf": csrf})
    assert r.status_code == 409 and "rechecked already" in error_of(r.text)


def test_order_refusals(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "heping")
    served = today(site) - timedelta(days=3)
    for changes, status, en in (
        ({"mn_pick": [], "mns": ""}, 400, "Points (MN) is required"),
        ({"mn_pick": [], "mns": "MN-NOPE"}, 400, "Not a registered point: MN-NOPE"),
        ({"mn_pick": [P3]}, 403, "210103 is outside your region"),
        ({"served_on": (today(site) + timedelta(days=5)).isoformat()}, 422, "served in the future"),
        ({"evidence": ""}, 400, "Evidence is required"),
        ({"mns": P1}, 422, "an order names one enterprise's points"),  # 甲's point beside 乙's
    ):
        r = client.post("/orders?lang=en", data=order_form(csrf, site, served, **changes))
        assert r.status_code == status and en in error_of(r.text), (changes, error_of(r.text))
        assert "二氧化硫超标排放" in r.text
    r = client.post("/orders", data=order_form(csrf, site, served, mns=P2))
    assert r.status_code == 303  # typed and picked points together, once
    assert json.loads(site.store.quality_rows("orders")[0]["mns"]) == [P2]


# ------------------------------------------------------------------------------------------------ ranking
def test_the_county_ranking_with_its_records(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    credit = Credit(site.store)
    served = today(site) - timedelta(days=6)
    order = credit.order(username="heping", order_no="o-1", enterprise="乙水泥有限公司", mns=[P2], violation="超标",
                         evidence=[alarm_of(site, P2)], served_on=served.isoformat())  # fmt: skip
    credit.recheck(int(order["id"]), username="heping", rechecked_on=(served + timedelta(days=2)).isoformat(),
                   result="continued", note="仍超标")  # fmt: skip
    listing = credit.blacklist(username="shenhe", subject_kind="operator", subject_id="91210103MA0XXXXX1X",
                               subject_name="某运维有限公司", region="210103", reason="配合篡改",
                               evidence=[alarm_of(site, P3)], decision="d-1", starts_on=today(site).isoformat(),
                               ends_on=(today(site) + timedelta(days=400)).isoformat())  # fmt: skip
    as_user(client, "city")
    page = client.get("/ranking?region=2101").text
    rows = re.findall(r'<tr data-county="(\d+)" data-rank="(\d)" data-total="(\d+)">', page)
    assert rows == [("210103", "1", "1"), ("210102", "2", "1")]  # equal totals: the higher rate first
    assert f'href="/orders/{order["id"]}"' in page and f'href="/blacklist#listing-{listing["id"]}"' in page
    assert 'id="ranking-chart"' in page and "/assets/plotly.min.js" in page and "/static/ranking.js" in page
    assert "<td>100.0</td>" in page and "<td>50.0</td>" in page  # 1 record: per 1 point, per 2 points
    page = client.get("/ranking?region=2101&start=2000-01-01&end=2000-02-01").text
    assert re.findall(r'data-total="(\d+)"', page) == ["0", "0"]
    as_user(client, "jiwei3")
    page = client.get("/ranking").text  # its own county
    assert re.findall(r'<tr data-county="(\d+)"', page) == ["210103"]
    assert client.get("/static/ranking.js").status_code == 200


# ------------------------------------------------------------------------------------------------ cases
def test_a_case_with_its_documents_and_the_transfer_package(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "zhifa")
    page = client.get("/cases").text
    assert 'id="case-form"' in page and f'<option value="{P3}"' in page  # the city's points offered
    r = client.post("/cases", data=case_form(csrf, site))
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/cases/(\d+)\?done=opened#done", r.headers["location"])
    assert m
    cid = int(m.group(1))
    r = client.post("/cases?lang=en", data=case_form(csrf, site, title="保留的案由"))
    assert r.status_code == 409 and "exists" in error_of(r.text) and 'value="保留的案由"' in r.text
    r = client.post(
        "/cases?lang=en", data=case_form(csrf, site, case_no="x-2", end=case_form(csrf, site)["start"])
    )
    assert r.status_code == 400 and "at most a year" in error_of(r.text)
    r = client.post("/cases?lang=zh", data=case_form(csrf, site, case_no="x-3", mns="NOPE"))
    assert r.status_code == 400 and "未登记的监测点：NOPE" in error_of(r.text)
    page = client.get(f"/cases/{cid}?done=opened").text
    assert 'id="done"' in page and "沈环移〔2026〕1号" in page
    assert re.findall(r'data-kind="(\w+)" data-have="0"', page) == [
        "transfer_letter", "investigation_report", "site_record", "evidence_list"]  # fmt: skip
    # the package is refused while documents are missing, saying which, in the reader's language
    r = client.get(f"/cases/{cid}/package")
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
    assert "缺少文书：涉嫌犯罪案件移送书、调查报告、现场勘查笔录" in error_of(r.text)
    r = client.get(f"/cases/{cid}/package?lang=en")
    assert "missing documents: transfer_letter, investigation_report, site_record" in error_of(r.text)
    # the documents, uploaded as a browser sends them (multipart)
    files = {}
    for kind, title in (("transfer_letter", "涉嫌犯罪案件移送书"), ("investigation_report", "调查报告"),
                        ("site_record", "现场勘查笔录")):  # fmt: skip
        data = f"%PDF-1.4 {kind}".encode() + bytes(range(256))
        files[kind] = data
        r = client.post(f"/cases/{cid}/documents", data={"csrf": csrf, "kind": kind, "title": title},
                        files=[("file", (f"{kind}.pdf", data, "application/pdf"))])  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == f"/cases/{cid}?done=document#done", r.text
    r = client.post(f"/cases/{cid}/documents?lang=en", data={"csrf": csrf, "kind": "other", "title": "无文件"},
                    files=[("file", ("", b"", "application/octet-stream"))])  # fmt: skip
    assert r.status_code == 400 and error_of(r.text) == "Not recorded: Choose one file"
    r = client.post(f"/cases/{cid}/documents?lang=zh", data={"csrf": csrf, "kind": "nonsense", "title": "t"},
                    files=[("file", ("a.txt", b"a", "text/plain"))])  # fmt: skip
    assert r.status_code == 400 and "文书类别" in error_of(r.text)
    page = client.get(f"/cases/{cid}").text
    assert re.findall(r'data-kind="(\w+)" data-have="1"', page) == [
        "transfer_letter", "investigation_report", "site_record"]  # fmt: skip
    assert 'id="package-missing"' not in page and "envtrust case verify case-" in page and "--log-key" in page
    doc = re.search(r'<tr data-document="(\d+)" data-kind="site_record">', page)
    assert doc
    got = client.get(f"/cases/{cid}/documents/{doc.group(1)}")
    assert got.status_code == 200 and got.content == files["site_record"]
    assert got.headers["x-content-type-options"] == "nosniff"
    # records newer than the newest checkpoint: wait for the next one
    r = client.get(f"/cases/{cid}/package")
    assert r.status_code == 409 and "请待下一个检查点" in error_of(r.text)
    checkpoint(site)
    r = client.get(f"/cases/{cid}/package")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == f"attachment; filename=case-{cid}.zip"
    key = ledger_signer(ORIGIN, create=True).verifier()
    checks = verify_package(r.content, log_key=key)
    assert checks and all(ok for _, ok, _ in checks), [c for c in checks if not c[1]]
    assert any(name == "records" for name, _, _ in checks)
    # another county's regulator and the others: as if the case did not exist
    for user in ("shenhe", "ent1", "jiwei", "admin"):
        as_user(client, user)
        for path in (f"/cases/{cid}", f"/cases/{cid}/package", f"/cases/{cid}/documents/{doc.group(1)}"):
            assert client.get(path).status_code == 404, (user, path)
    csrf = as_user(client, "shenhe")
    r = client.post(f"/cases/{cid}/documents", data={"csrf": csrf, "kind": "other", "title": "t"},
                    files=[("file", ("a.txt", b"a", "text/plain"))])  # fmt: skip
    assert r.status_code == 404


# ------------------------------------------------------------------------------------------------ hostile text
def test_hostile_text_stays_text(client: TestClient, cr_site: Site) -> None:
    site = cr_site
    csrf = as_user(client, "heping")
    assert client.post("/credit", data=credit_form(csrf, site, reason=EVIL, decision=EVIL)).status_code == 303
    assert (
        client.post("/blacklist", data=listing_form(csrf, site, reason=EVIL, decision=EVIL)).status_code
        == 303
    )
    r = client.post(
        "/credit", data=credit_form(csrf, site, subject_name=EVIL)
    )  # not a name: refused, shown as text
    assert r.status_code == 400 and EVIL not in r.text and "&lt;script&gt;" in r.text
    served = today(site) - timedelta(days=2)
    r = client.post(
        "/orders",
        data=order_form(csrf, site, served, order_no=EVIL, violation=EVIL),  # (named as registered)
    )
    assert r.status_code == 303
    oid = r.headers["location"].split("/")[2].split("?")[0]
    r = client.post(
        "/cases", data=case_form(csrf, site, case_no=EVIL, title=EVIL, enterprise=EVIL, summary=EVIL)
    )
    assert r.status_code == 303
    cid = r.headers["location"].split("/")[2].split("?")[0]
    r = client.post("/credit", data=credit_form(csrf, site, subject_name=EVIL, evidence=EVIL))
    assert r.status_code == 400 and EVIL not in r.text and "&lt;script&gt;" in r.text
    for user in ("heping", None):
        if user is None:
            as_public(client)
        for path in ("/credit", "/blacklist", "/orders", f"/orders/{oid}") + ((f"/cases/{cid}", "/cases")
                                                                              if user else ()):  # fmt: skip
            page = client.get(path).text
            assert EVIL not in page and "&lt;script&gt;" in page, (user, path)
