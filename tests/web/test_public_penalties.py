"""The public enterprise page discloses the enterprise's orders to rectify and their continuous daily penalties
(clause 十六), on both backends, through an in-process client and without a login.

An order belongs to the enterprise whose point (MN) it names — not to the name typed on it; it is listed with the
fields ``/orders`` shows to the public (never the recheck's findings, evidence or who decided), linked to its page,
newest first.  Another enterprise's order is not listed; an enterprise without orders says so, in both languages.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

from fastapi.testclient import TestClient

from envtrust.workflow.credit import Credit

from .conftest import P1, P2, Site

EVIL = "<script>alert(1)</script>"


def enterprise_ids(client: TestClient) -> dict[str, str]:
    index = client.get("/public")
    assert index.status_code == 200
    return {name: eid for eid, name in re.findall(r'href="/public/enterprises/(\d+)">([^<]+)<', index.text)}


def section(page: str) -> str:
    m = re.search(r'<section class="point penalties" id="penalties">(.*?)</section>', page, re.S)
    assert m, page
    return m.group(1)


def test_an_enterprise_page_lists_its_own_orders_only(client: TestClient, site: Site) -> None:
    credit = Credit(site.store)
    today: date = site.now_local.date()
    alarm1, alarm2 = f"alarms/{site.alarms[P1]}", f"alarms/{site.alarms[P2]}"
    # A (甲热电, P1): an older order rechecked with the violation continuing, and a newer one not rechecked yet; the
    # newer one carries a name that matches no enterprise: orders are matched on their points
    old = credit.order(username="heping", order_no="沈和环责改〔2026〕1号", enterprise="甲热电有限公司", mns=[P1],
                       violation="二氧化硫超标排放", evidence=[alarm1],
                       served_on=(today - timedelta(days=10)).isoformat())  # fmt: skip
    credit.recheck(int(old["id"]), username="heping", rechecked_on=(today - timedelta(days=6)).isoformat(),
                   result="continued", note="复查发现仍在超标排放（不公开的情况说明）")  # fmt: skip
    new = credit.order(username="heping", order_no="沈和环责改〔2026〕2号", enterprise="91210102aaaaaaaa1a", mns=[P1],
                       violation=f"数据恒值 {EVIL}", evidence=[alarm1],
                       served_on=(today - timedelta(days=2)).isoformat())  # fmt: skip
    # B (乙水泥, P2)
    other = credit.order(username="heping", order_no="沈和环责改〔2026〕3号", enterprise="乙水泥有限公司", mns=[P2],
                         violation="颗粒物超标", evidence=[alarm2],
                         served_on=(today - timedelta(days=3)).isoformat())  # fmt: skip

    ids = enterprise_ids(client)  # anonymous: the client never logged in
    r = client.get(f"/public/enterprises/{ids['甲热电有限公司']}")
    assert r.status_code == 200
    part = section(r.text)
    assert "处罚与整改" in part
    rows = re.findall(r'<tr id="order-(\d+)" data-order="\d+" data-days="(\d+)">', part)
    assert rows == [(str(new["id"]), "0"), (str(old["id"]), "4")], (
        "A's orders, newest first, with penalty days"
    )
    for o in (old, new):
        assert f'href="/orders/{o["id"]}"' in part
        assert client.get(f"/orders/{o['id']}").status_code == 200, "the linked order page is public"
    assert "沈和环责改〔2026〕1号" in part and "沈和环责改〔2026〕2号" in part
    assert f'href="/points/{P1}"' in part and "二氧化硫超标排放" in part
    assert (
        (today - timedelta(days=6)).isoformat() in part and "违法行为仍在继续" in part and "尚未复查" in part
    )
    assert EVIL not in r.text and html.escape(EVIL, quote=False) in part
    # B's order is not A's
    assert f"/orders/{other['id']}" not in r.text and "沈和环责改〔2026〕3号" not in r.text
    # never more than /orders shows the public: no findings of the recheck, evidence or deciding account
    assert "不公开的情况说明" not in r.text and alarm1 not in r.text and "heping" not in r.text

    part_b = section(client.get(f"/public/enterprises/{ids['乙水泥有限公司']}").text)
    assert re.findall(r'<tr id="order-(\d+)"', part_b) == [str(other["id"])]
    assert "沈和环责改〔2026〕1号" not in part_b and "沈和环责改〔2026〕2号" not in part_b

    # an enterprise without orders says so, muted
    none = section(client.get(f"/public/enterprises/{ids['丙污水处理厂']}").text)
    assert '<p class="muted" id="enterprise-orders">尚无责令改正决定或处罚。</p>' in none
    assert "<table" not in none

    # in English
    en = client.get(f"/public/enterprises/{ids['甲热电有限公司']}?lang=en").text
    part_en = section(en)
    assert '<html lang="en">' in en and "Penalties and orders to rectify" in part_en
    assert "Order no." in part_en and "violation continued" in part_en and "not rechecked yet" in part_en
    assert "Penalty days" in part_en and "处罚与整改" not in part_en
    none_en = section(client.get(f"/public/enterprises/{ids['丙污水处理厂']}?lang=en").text)
    assert "No order to rectify or penalty." in none_en
