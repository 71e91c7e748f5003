"""The pages through an in-process client: login (with its CSRF), the overview, point detail, the alarm inbox and
its actions, the ledger page with its verify action, the public portal, the language switch — and scopes: two
enterprises and two counties try to reach each other's data through every page."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from envtrust.web.i18n import MESSAGES
from envtrust.web.pages import _safe_next

from .conftest import CSRF, P1, P2, P3, PASSWORD, SEES, Site, login

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web" / "templates"


def test_every_message_key_used_by_a_template_exists_in_both_languages() -> None:
    used: set[str] = set()
    for f in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", f.read_text(encoding="utf-8")))
    assert used, "templates use the catalogue"
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key, (zh, en) in MESSAGES.items():
        assert zh and en, key
        assert zh != en or key in {"lang.switch"}, key
    # keys built from values: roles, media, categories, states, kinds
    for prefix, values in {
        "role.": ("admin", "regulator", "inspector", "discipline", "enterprise", "operator", "lab", "public"),
        "medium.": ("gas", "water", "ambient"),
        "cat.": ("exceedance", "validity", "anomaly", "tampering"),
        "al.state.": ("active", "cleared"),
        "pt.kind.": ("rtd", "minute", "hour", "day"),
        "ov.": ("online", "offline", "nodata"),
    }.items():
        for v in values:
            assert prefix + v in MESSAGES, prefix + v


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/alarms?x=1", "/alarms?x=1"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ],
)
def test_only_local_paths_follow_a_login(target: str, safe: str) -> None:
    assert _safe_next(target) == safe


def test_pages_need_a_login_and_the_login_form_its_csrf(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"
    assert client.get("/alarms").headers["location"].startswith("/login?next=%2Falarms")
    page = client.get("/login")
    assert page.status_code == 200 and "登录" in page.text
    token = CSRF.search(page.text)
    assert token
    # without the form's token (a cross-site post), no session
    no = client.post("/login", data={"username": "heping", "password": PASSWORD, "csrf": "forged"})
    assert no.status_code == 403 and "envtrust_session" not in no.cookies
    bad = client.post(
        "/login", data={"username": "heping", "password": "wrong password", "csrf": token.group(1)}
    )
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    token = CSRF.search(bad.text)
    assert token
    ok = client.post(
        "/login",
        data={"username": "heping", "password": PASSWORD, "csrf": token.group(1), "next": "//evil.example"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert (
        "httponly" in ok.headers["set-cookie"].lower() and "samesite=lax" in ok.headers["set-cookie"].lower()
    )
    assert client.get("/").status_code == 200


def test_logout_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "heping")
    client.post("/logout", data={"csrf": "forged"})
    assert client.get("/").status_code == 200, "a forged logout does nothing"
    r = client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303
    assert client.get("/").status_code == 303


def test_overview_shows_states_values_against_limits_and_alarms(client: TestClient, site: Site) -> None:
    login(client, "city")
    page = client.get("/").text
    for mn in (P1, P2, P3):
        assert mn in page
    row = {mn: _row(page, mn) for mn in (P1, P2, P3)}
    assert "st-online" in row[P1] and "st-online" in row[P3]
    assert "st-offline" in row[P2], "no frame for three hours: offline"
    assert "3 小时前" in row[P2] or "2 小时前" in row[P2]
    assert "/35" in row[P1] and "/100" in row[P2] and "/50" in row[P3]
    assert 'class="alarm-count tampering"' in row[P1] and "1 (1 未确认)" in row[P1]
    assert re.search(r'id="n-points">3<', page) and re.search(r'id="n-offline">1<', page)
    assert re.search(r'id="n-alarms">3<', page)


def test_overview_filters(client: TestClient) -> None:
    login(client, "city")
    assert {P3} == _mns(client.get("/?region=210103").text)
    assert {P1, P2} == _mns(client.get("/?medium=gas").text)
    assert {P2} == _mns(client.get("/?status=offline").text)
    assert {P3} == _mns(client.get("/?q=污水").text)
    assert set() == _mns(client.get("/?region=3701").text)
    assert "没有符合条件的点位" in client.get("/?region=3701").text


def test_overview_pages_put_the_points_needing_attention_first(client: TestClient) -> None:
    login(client, "city")
    whole = client.get("/").text
    order = re.findall(r'data-mn="(\w+)"', whole)
    assert sorted(order) == sorted([P1, P2, P3])
    assert 'id="ov-pager"' not in whole  # one page: no pager
    seen = []
    for n in (1, 2, 3):
        page = client.get(f"/?per=1&page={n}&q=").text
        seen += re.findall(r'data-mn="(\w+)"', page)
        assert re.search(r'id="n-points">3<', page), "the tiles count every matching point, not the page"
        assert f"第 {n}–{n} 个，共 3 个点位" in page and f"{n} / 3" in page
        assert ('rel="prev"' in page) == (n > 1) and ('rel="next"' in page) == (n < 3)
    assert seen == order
    last = client.get("/?per=1&page=99").text  # past the end: the last page
    assert re.findall(r'data-mn="(\w+)"', last) == order[-1:]
    gas = client.get("/?per=1&medium=gas&q=%E6%B1%A1").text  # filters and a Chinese search stay in the links
    assert "没有符合条件的点位" in gas
    two = client.get("/?per=1&medium=gas").text
    assert 'href="?region=&amp;medium=gas&amp;status=&amp;q=&amp;per=1&amp;page=2"' in two
    assert (
        client.get("/?per=0").status_code == 400 and client.get("/?page=x").status_code == 400
    )  # an error page


@pytest.mark.parametrize("who", sorted(SEES))
def test_no_page_shows_a_point_or_alarm_outside_the_account_scope(
    client: TestClient, site: Site, who: str
) -> None:
    login(client, who)
    sees = SEES[who]
    assert _mns(client.get("/").text) == sees
    inbox = client.get("/alarms?closed=1").text
    assert {int(i) for i in re.findall(r'data-alarm="(\d+)"', inbox)} == {site.alarms[m] for m in sees}
    for mn in (P1, P2, P3):
        alarm = site.alarms[mn]
        page = client.get(f"/alarms/{alarm}")
        assert page.status_code == (200 if mn in sees else 404), (who, mn)
        point = client.get(f"/points/{mn}").text
        readable = mn in sees
        assert ("只能查看该点位公开的小时和日数据" in point) != readable, (who, mn)
        assert (f'href="/alarms/{alarm}"' in point) == readable
        # series of non-public kinds through the same session: only in scope
        r = client.get(f"/api/v1/points/{mn}/series", params={"pollutant": "a21026", "kind": "minute"})
        assert r.status_code == (200 if readable else 403), (who, mn, r.text)
        for action in ("ack", "comment", "assign", "clear"):
            csrf = CSRF.search(client.get("/ledger").text)
            assert csrf
            r = client.post(f"/alarms/{alarm}/{action}", data={"csrf": csrf.group(1), "text": "x"})
            if mn not in sees:
                assert r.status_code == 404, (who, mn, action)
    events = {m: [e["who"] for e in site.store.alarm_events(site.alarms[m])] for m in (P1, P2, P3)}
    for mn, whos in events.items():
        if mn not in sees:
            assert not any(w.startswith(who) for w in whos), (who, mn, whos)


def test_acknowledge_clear_assign_and_comment_through_forms(client: TestClient, site: Site) -> None:
    alarm = site.alarms[P1]
    csrf = login(client, "heping")
    inbox = client.get("/alarms").text
    assert f'action="/alarms/{alarm}/ack"' in inbox
    forged = client.post(f"/alarms/{alarm}/ack", data={"csrf": "forged"})
    assert forged.status_code == 403 and "防跨站请求伪造" in forged.text
    r = client.post(f"/alarms/{alarm}/ack", data={"csrf": csrf, "text": "值班已确认", "next": "/alarms"})
    assert r.status_code == 303 and r.headers["location"] == "/alarms"
    row = site.store.alarm(alarm)
    assert row is not None and row["acked"]
    assert client.post(f"/alarms/{alarm}/assign", data={"csrf": csrf, "text": "张三"}).status_code == 303
    assert (
        client.post(
            f"/alarms/{alarm}/clear", data={"csrf": csrf, "text": "现场核查：仪器故障已排除"}
        ).status_code
        == 303
    )
    page = client.get(f"/alarms/{alarm}?done=1").text
    assert "已记录并写入账本" in page and "张三" in page and "现场核查" in page
    actions = [e["action"] for e in site.store.alarm_events(alarm)]
    assert actions[-3:] == ["ack", "assign", "clear"], actions
    # an enterprise answers for its own data by comment, and cannot acknowledge
    client.post("/logout", data={"csrf": csrf})
    csrf = login(client, "ent2")
    other = site.alarms[P2]
    assert client.post(f"/alarms/{other}/ack", data={"csrf": csrf}).status_code == 403
    assert client.post(f"/alarms/{other}/comment", data={"csrf": csrf, "text": "停炉检修"}).status_code == 303
    assert [e["action"] for e in site.store.alarm_events(other)][-1] == "comment"
    assert client.post(f"/alarms/{other}/fly", data={"csrf": csrf}).status_code == 404


def test_point_page_offers_kinds_by_access_and_draws_from_the_series(client: TestClient) -> None:
    public = client.get(f"/points/{P1}").text
    assert "kind=hour" in public and "kind=minute" not in public
    login(client, "ent1")
    page = client.get(f"/points/{P1}").text
    assert "kind=minute" in page and "kind=rtd" in page and 'id="chart-a21026"' in page
    assert "/assets/plotly.min.js" in page
    for fmt, kind in (("csv", "text/csv"), ("xlsx", "spreadsheetml")):  # the export links lead to the files
        href = re.search(rf'id="export-{fmt}" href="([^"]+)"', page)
        assert href is not None, fmt
        got = client.get(html.unescape(href.group(1)))
        assert got.status_code == 200 and kind in got.headers["content-type"], (fmt, got.text[:200])
    assert client.get("/points/NOPE").status_code == 404
    js = client.get("/assets/plotly.min.js", headers={"accept-encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-encoding"] == "gzip" and len(js.content) > 1_000_000
    again = client.get("/assets/plotly.min.js", headers={"if-none-match": js.headers["etag"]})
    assert again.status_code == 304


def test_ledger_page_shows_the_checkpoint_and_verifies_everything(client: TestClient, site: Site) -> None:
    page = client.get("/ledger").text
    cp = site.store.latest_checkpoint()
    assert cp is not None and f'id="checkpoint-size">{cp["size"]}<' in page
    assert "test.envtrust/ledger" in page and "登录后可运行全面验证" in page
    assert client.post("/ledger/verify", data={"csrf": "x"}).status_code == 303  # to the login page
    assert client.get("/ledger/verify.json").json()["state"] == "idle"
    csrf = login(client, "lab")
    r = client.post("/ledger/verify", data={"csrf": csrf})
    assert r.status_code == 303
    job = {}
    for _ in range(300):
        job = client.get("/ledger/verify.json").json()
        if job["state"] == "done":
            break
        time.sleep(0.05)
    assert job["state"] == "done" and job["report"]["ok"], job
    assert job["report"]["frames"] > 0 and job["by"] == "lab"


def test_public_portal_needs_no_login_and_shows_hourly_data_and_exceedances(client: TestClient) -> None:
    index = client.get("/public")
    assert index.status_code == 200
    ents = re.findall(r'href="/public/enterprises/(\d+)">([^<]+)<', index.text)
    assert {name for _, name in ents} == {"甲热电有限公司", "乙水泥有限公司", "丙污水处理厂"}
    first = dict((n, i) for i, n in ents)["甲热电有限公司"]
    page = client.get(f"/public/enterprises/{first}").text
    assert "42.50" in page and "1.21" in page, "the exceeding hour and its multiple of the limit"
    assert "二氧化硫" in page
    other = dict((n, i) for i, n in ents)["丙污水处理厂"]
    assert "近30天无超标" in client.get(f"/public/enterprises/{other}").text
    assert client.get("/public/enterprises/999999").status_code == 404


def test_language_switch_keeps_the_page_and_remembers_the_choice(client: TestClient) -> None:
    r = client.get("/lang/en?next=/public")
    assert r.status_code == 303 and r.headers["location"] == "/public"
    page = client.get("/public").text
    assert "Disclosed monitoring data of enterprises" in page and '<html lang="en">' in page
    assert "SO2" in client.get(f"/points/{P1}?kind=hour").text
    assert client.get("/lang/zh?next=https://evil.example").headers["location"] == "/"
    assert '<html lang="zh-CN">' in client.get("/public").text
    assert 'lang="en"' in client.get("/public?lang=en").text


def test_errors_are_pages_in_the_reader_language(client: TestClient) -> None:
    login(client, "heping")
    r = client.get("/alarms/999999")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "页面不存在" in r.text


def _row(page: str, mn: str) -> str:
    m = re.search(rf'<tr class="st-\w+" data-mn="{mn}">.*?</tr>', page, re.S)
    assert m, mn
    return m.group(0)


def _mns(page: str) -> set[str]:
    return set(re.findall(r'data-mn="(\w+)"', page))


def test_unknown_addresses_and_bad_parameters_are_pages_outside_the_api(client: TestClient) -> None:
    r = client.get("/no/such/page?lang=en")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "No such page" in r.text
    login(client, "heping")
    bad = client.get("/alarms?page=many")
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"] and "Bad request" in bad.text
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_registry_text_is_escaped_on_every_page(client: TestClient, site: Site) -> None:
    from envtrust.registry import parse_registry
    from envtrust.services import Ingest

    from .conftest import REGISTRY

    evil = "<script>alert(1)</script>"
    Ingest(site.store).load_registry(
        parse_registry(
            REGISTRY
            + f'\n[[point]]\nmn = "MN0000000000000009"\nenterprise = "{evil}公司"\nname = "{evil}口"\n'
            'region = "210102"\nmedium = "gas"\nlimits = { a21026 = 35 }\n'
        )
    )
    login(client, "admin")
    pages = [client.get("/").text, client.get("/points/MN0000000000000009").text, client.get("/public").text]
    ent = re.search(r'href="/public/enterprises/(\d+)">&lt;script&gt;', pages[2])
    assert ent, "the enterprise is listed, escaped"
    pages.append(client.get(f"/public/enterprises/{ent.group(1)}").text)
    for page in pages:
        assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_api_docs_and_icon_come_from_envtrust_itself(client: TestClient) -> None:
    """Closed networks: the Swagger UI page loads its script and style from envtrust, never from a CDN."""
    page = client.get("/api/v1/docs")
    assert (
        page.status_code == 200 and "cdn." not in page.text and "//" not in page.text.replace("http://", "")
    )
    for asset in re.findall(r'(?:src|href)="(/api/v1/docs/static/[^"]+)"', page.text):
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 1000, asset
    assert "/api/v1/docs/static/swagger-ui-bundle.js" in page.text
    for icon in ("/favicon.svg", "/favicon.ico"):
        got = client.get(icon)
        assert got.status_code == 200 and got.headers["content-type"].startswith("image/svg+xml")


def test_an_alarm_page_folds_the_checks_extensions_and_speaks_the_page_language(
    client: TestClient, site: Site
) -> None:
    """The checks extend an alarm every round they find it again: a run of those is one row with its count; the
    message and a refusal come in the page's language."""
    from envtrust.alarms.book import AlarmBook
    from envtrust.qc import Finding
    from envtrust.qc.stream import Evaluation

    alarm = site.alarms[P1]
    [first] = [e for e in site.store.alarm_events(alarm)]
    t0 = int(first["at_us"] // 1_000_000) - 3600
    book = AlarmBook(site.store)
    for i in range(1, 6):  # five more rounds, each finding the flat line longer
        finding = Finding(
            P1, "a21026", "flat_line", "tampering", "high", t0, t0 + 1800 + 60 * i, "恒值 | held", {}
        )
        book.apply([Evaluation(P1, [finding], ("flat_line",), t0 + 1800 + 60 * i)])
    updates = [e for e in site.store.alarm_events(alarm) if e["action"] == "update"]
    assert len(updates) == 5
    login(client, "heping")
    page = client.get(f"/alarms/{alarm}").text
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", page.split('id="history"')[1], re.S)
    assert [re.sub(r"<[^>]+>", "", a).strip() for _, a in rows] == ["产生", "延续 ×5"], rows
    assert "恒值" in page and "held" not in page.split('id="history"')[0].split("<dl")[1]
    english = client.get(f"/alarms/{alarm}?lang=en").text
    assert "extended ×5" in re.sub(r"<[^>]+>", "", english) and "Severity" in english and ">high<" in english
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    assert client.post(f"/alarms/{alarm}/ack", data={"csrf": csrf.group(1)}).status_code == 303
    again = client.post(f"/alarms/{alarm}/ack", data={"csrf": csrf.group(1)})  # as from a second tab
    # (the language switched to English above stays): the English half of the reason only
    assert again.status_code == 409 and "Not done: alarm" in again.text and "已经确认过" not in again.text
    assert client.get("/alarms/abc").status_code == 404
    book.clear(
        alarm, "system", "60 分钟数据未再出现 | condition absent for 60 min of data"
    )  # as the checks do
    cleared = re.sub(r"<[^>]+>", "", client.get(f"/alarms/{alarm}?lang=zh").text.split('id="history"')[1])
    assert "60 分钟数据未再出现" in cleared and "condition absent" not in cleared
