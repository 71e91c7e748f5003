"""The quality-record pages through an in-process client: the analysers of an account's points (/qa), one
analyser with its state, spans, charts, records and the check form, and the reference lots with their register and
withdraw forms — with the API's access rules: two enterprises and two counties try to read and record on each
other's analysers; refused records come back in the reader's language; hostile registry text stays text."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from envtrust.web.i18n import MESSAGES
from envtrust.workflow.qa import MAINTENANCE_KINDS, QualityRecords

from .conftest import CSRF, P1, P2, P3, SEES, ZONE, Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
CODES = {P1: "a21026", P2: "a21026", P3: "w01018"}
OWNER = {P1: "ent1", P2: "ent2"}  # P3's enterprise has no account


def setup_records(site: Site, *, serial: str = "SN-{mn}", maker: str = "某仪器公司") -> dict[str, Any]:
    """An analyser on each point (in force since 30 days ago), a usable and an expired lot."""
    rec = QualityRecords(site.store)
    since = int((site.now_local - timedelta(days=30)).replace(tzinfo=ZONE).timestamp())
    ids = {}
    for mn, code in CODES.items():
        done = rec.register_analyser(
            mn=mn,
            pollutant=code,
            serial_no=serial.format(mn=mn[-1]),
            maker=maker,
            model="M-1",
            range_low=0,
            range_high=100 if mn != P3 else 200,
            unit="mg/m3" if mn != P3 else "mg/L",
            automatic=True,
            valid_from=since,
            who="setup",
        )
        ids[mn] = done.row["id"]
    usable = rec.register_lot(
        producer="国家标准物质中心",
        certificate_no="GBW(E)080123",
        lot_no="2105",
        material="SO2 in N2",
        certified_value="50.0",
        unit="mg/m3",
        uncertainty="1.0",
        expires_on=(site.now_local + timedelta(days=365)).date().isoformat(),
        who="setup",
    )
    expired = rec.register_lot(
        producer="国家标准物质中心",
        certificate_no="GBW(E)080123",
        lot_no="1901",
        material="SO2 in N2",
        certified_value="50.0",
        unit="mg/m3",
        uncertainty="1.0",
        expires_on="2020-01-31",
        who="setup",
    )
    return {"analysers": ids, "lot": usable.row["id"], "expired": expired.row["id"]}


def at(site: Site, hours_ago: float) -> str:
    """A local time for a datetime-local field."""
    return (site.now_local - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M")


def token(client: TestClient) -> str:
    m = CSRF.search(client.get("/ledger").text)
    assert m
    return m.group(1)


def analyser_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-analyser="(\d+)"', page)}


def row_of(page: str, analyser: int) -> str:
    m = re.search(rf'<tr data-analyser="{analyser}".*?</tr>', page, re.S)
    assert m, analyser
    return m.group(0)


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_the_quality_pages_exists_in_both_languages() -> None:
    used: set[str] = set()
    for name in ("qa.html", "qa_analyser.html", "qa_lots.html", "base.html"):
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    # keys named in the page code (errors, notices, form messages)
    code = (WEB / "pages.py").read_text(encoding="utf-8")
    used |= set(re.findall(r"[\"']((?:qa|lot)\.[a-z0-9_.]*[a-z0-9_])[\"']", code))
    used -= {"qa.html"}  # a template's name
    assert {"nav.qa", "qa.title", "lot.title", "qa.recorded", "qa.not_allowed"} <= used
    # keys built from values: kinds of checks and maintenance, verdicts, lot states, record tables
    for prefix, values in {
        "qa.kind.": ("zero", "span", "standard", "comparison"),
        "qa.verdict.": ("pass", "adjust", "fail"),
        "lot.state.": ("usable", "expired", "withdrawn"),
        "qa.mkind.": MAINTENANCE_KINDS,
        "qa.ref.": ("qa_checks", "comparisons"),
    }.items():
        used |= {prefix + v for v in values}
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and zh != en, key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


# ------------------------------------------------------------------------------------------------ access
def test_quality_pages_need_a_login(client: TestClient, site: Site) -> None:
    ids = setup_records(site)["analysers"]
    for path in ("/qa", "/qa/lots", f"/qa/analysers/{ids[P1]}"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    r = client.post(f"/qa/analysers/{ids[P1]}/checks", data={"kind": "zero", "reading": "0"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.post("/qa/lots", data={"producer": "x"}).status_code == 303
    assert not site.store.quality_rows("qa_checks")
    assert 'href="/qa"' not in client.get("/public").text, "no quality link for the public"


@pytest.mark.parametrize("who", sorted(SEES))
def test_each_account_sees_exactly_the_analysers_of_its_points(
    client: TestClient, site: Site, who: str
) -> None:
    ids = setup_records(site)["analysers"]
    login(client, who)
    page = client.get("/qa")
    assert page.status_code == 200 and 'href="/qa"' in page.text and "质控" in page.text
    assert analyser_ids(page.text) == {ids[mn] for mn in SEES[who]}, who
    for mn in (P1, P2, P3):
        assert (mn in page.text) == (mn in SEES[who]), (who, mn)
        r = client.get(f"/qa/analysers/{ids[mn]}")
        assert r.status_code == (200 if mn in SEES[who] else 404), (who, mn)
        if mn not in SEES[who]:
            assert "页面不存在" in r.text and f"SN-{mn[-1]}" not in r.text
            # filtering by another's point shows nothing of it
            assert analyser_ids(client.get(f"/qa?mn={mn}").text) == set()
        else:
            assert ('id="check-form"' in r.text) == (OWNER.get(mn) == who), (who, mn)
    if not SEES[who]:
        assert "您的账户不对应任何监测点位" in page.text
    assert client.get("/qa/analysers/999999").status_code == 404
    assert client.get(f"/qa/analysers/{2**70}").status_code == 404


def test_filter_by_point(client: TestClient, site: Site) -> None:
    ids = setup_records(site)["analysers"]
    login(client, "city")
    page = client.get(f"/qa?mn={P3}").text
    assert analyser_ids(page) == {ids[P3]}
    assert f'<option value="{P3}" selected>' in page
    assert analyser_ids(client.get("/qa").text) == set(ids.values())


# ------------------------------------------------------------------------------------------------ recording
def check_form(site: Site, csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf": csrf, "kind": "zero", "started": at(site, 2), "performed_by": "王工", **fields}


def test_an_enterprise_records_checks_through_the_form(client: TestClient, site: Site) -> None:
    rec = setup_records(site)
    aid = rec["analysers"][P1]
    csrf = login(client, "ent1")
    page = client.get(f"/qa/analysers/{aid}").text
    assert f'action="/qa/analysers/{aid}/checks#record"' in page
    lots = re.findall(r'<option value="(\d+)"', page.split('name="lot_id"')[1].split("</select>")[0])
    assert lots == [str(rec["lot"])], "only usable lots are offered"
    row = row_of(client.get("/qa").text, aid)
    assert 'data-state="in_control"' in row and "尚无记录" in row

    # a passing zero check: drift 0.4 % F.S.
    r = client.post(f"/qa/analysers/{aid}/checks", data=check_form(site, csrf, reading="0.4"))
    assert r.status_code == 303, r.text
    target = r.headers["location"]
    assert target.startswith(f"/qa/analysers/{aid}?recorded=")
    shown = client.get(target).text
    assert "已记录并写入账本" in shown and 'id="recorded-verdict">合格<' in shown and "0.4 %FS" in shown

    # a span check with the usable lot: reference from the certificate, drift 3 % F.S. → adjust
    r = client.post(
        f"/qa/analysers/{aid}/checks",
        data=check_form(site, csrf, kind="span", reading="53.0", lot_id=str(rec["lot"]), note="月度"),
    )
    assert r.status_code == 303, r.text
    shown = client.get(r.headers["location"]).text
    assert 'id="recorded-verdict">需校准<' in shown

    # a failing zero check an hour later: 7 % F.S. beyond the out-of-control limit of 5 %
    r = client.post(
        f"/qa/analysers/{aid}/checks", data=check_form(site, csrf, reading="7.0", started=at(site, 1))
    )
    assert r.status_code == 303, r.text
    assert "findings=" in r.headers["location"], "the spans changed: the point's data were checked again"
    shown = client.get(r.headers["location"]).text
    assert 'id="recorded-verdict">不合格<' in shown and "已重新检查该点位数据" in shown
    assert 'data-state="out_of_control"' in shown and "仍未恢复" in shown
    checks = site.store.quality_rows("qa_checks", analyser_id=aid)
    assert [(c["kind"], c["verdict"], c["recorded_by"], c["performed_by"]) for c in checks] == [
        ("zero", "pass", "ent1", "王工"),
        ("span", "adjust", "ent1", "王工"),
        ("zero", "fail", "ent1", "王工"),
    ]
    assert checks[1]["reference_value"] == "50.0" and checks[1]["lot_id"] == rec["lot"]
    fail = checks[2]["id"]
    spans = shown.split('id="qa-spans"')[1].split("</table>")[0]
    assert f'href="#qa_checks-{fail}"' in spans and f'href="#qa_checks-{checks[0]["id"]}"' in spans
    assert f'id="qa_checks-{fail}"' in shown, "the failed record is listed, for the span to link to"
    newest_first = [int(i) for i in re.findall(r'data-check="(\d+)"', shown)]
    assert newest_first == sorted(newest_first, reverse=True) and len(newest_first) == 3

    # /qa: out of control since the end of the last passing zero check, with the due times
    row = row_of(client.get("/qa").text, aid)
    assert 'data-state="out_of_control"' in row and "失控" in row
    assert "自 " + at(site, 2).replace("T", " ") + " 起" in row
    assert "7 %FS" in row and "不合格" in row and "应于" in row


def test_the_charts_carry_the_deviations_limits_and_cusum(client: TestClient, site: Site) -> None:
    aid = setup_records(site)["analysers"][P1]
    csrf = login(client, "ent1")
    for i, reading in enumerate(("0.5", "1.0", "1.5", "2.0")):
        data = check_form(site, csrf, reading=reading, started=at(site, 10 - i))
        assert client.post(f"/qa/analysers/{aid}/checks", data=data).status_code == 303
    page = client.get(f"/qa/analysers/{aid}").text
    m = re.search(r'data-qa="([^"]*)"', page)
    assert m
    charts = {c["kind"]: c for c in json.loads(html.unescape(m.group(1)))}
    assert set(charts) == {"zero", "span"}
    zero = charts["zero"]
    assert (zero["technical"], zero["ooc"], charts["span"]["ooc"]) == (2.5, 5.0, 10.0)
    assert zero["y"] == [0.5, 1.0, 1.5, 2.0] and zero["x"][0] == at(site, 10).replace("T", " ") + ":00"
    assert zero["cusum"] is not None and len(zero["cusum"]["p"]) == 4
    assert zero["cusum"]["h_x"] == pytest.approx(2.85 * 2.5 / 3)
    assert charts["span"]["cusum"] is None and charts["span"]["x"] == []
    assert "/assets/plotly.min.js" in page and "/static/qa.js" in page
    assert client.get("/static/qa.js").status_code == 200


@pytest.mark.parametrize(("who", "status"), [("ent2", 404), ("heping", 403), ("admin", 403), ("city", 403)])
def test_only_the_points_enterprise_records_checks(
    client: TestClient, site: Site, who: str, status: int
) -> None:
    aid = setup_records(site)["analysers"][P1]
    csrf = login(client, who)
    if status == 403:
        page = client.get(f"/qa/analysers/{aid}").text
        assert 'id="check-form"' not in page and 'id="may-not-record"' in page
    r = client.post(f"/qa/analysers/{aid}/checks", data=check_form(site, csrf, reading="0.1"))
    assert r.status_code == status and "text/html" in r.headers["content-type"], (who, r.status_code)
    assert not site.store.quality_rows("qa_checks")


def test_a_check_form_without_its_csrf_token_is_refused(client: TestClient, site: Site) -> None:
    aid = setup_records(site)["analysers"][P1]
    csrf = login(client, "ent1")
    data = check_form(site, csrf, reading="0.1")
    del data["csrf"]
    r = client.post(f"/qa/analysers/{aid}/checks", data=data)
    assert r.status_code == 403 and "防跨站请求伪造" in r.text
    r = client.post(f"/qa/analysers/{aid}/checks", data={**data, "csrf": "forged"})
    assert r.status_code == 403
    assert not site.store.quality_rows("qa_checks")


def test_an_expired_lot_is_refused_in_the_reader_language(client: TestClient, site: Site) -> None:
    rec = setup_records(site)
    aid = rec["analysers"][P1]
    csrf = login(client, "ent1")
    data = check_form(site, csrf, kind="span", reading="50.3", lot_id=str(rec["expired"]), note="日常核查")
    r = client.post(f"/qa/analysers/{aid}/checks", data=data)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    error = re.search(r'id="form-error">(.*?)</p>', r.text, re.S)
    assert error, r.text
    used = at(site, 2).replace("T", " ")
    assert error.group(1) == f"未记录：标准物质 GBW(E)080123 批号 1901 已于 2020-01-31 过期，使用时间 {used}"
    assert 'value="50.3"' in r.text and 'value="日常核查"' in r.text, "the form keeps what was typed"
    assert "expired" not in error.group(1)
    client.get(f"/lang/en?next=/qa/analysers/{aid}")
    r = client.post(f"/qa/analysers/{aid}/checks", data=data)
    assert r.status_code == 422
    error = re.search(r'id="form-error">(.*?)</p>', r.text, re.S)
    assert error
    assert (
        error.group(1)
        == f"Not recorded: reference lot GBW(E)080123 lot 1901 expired on 2020-01-31, used {used}"
    )
    # malformed input: 400, in English now
    r = client.post(f"/qa/analysers/{aid}/checks", data={**data, "lot_id": str(rec["lot"]), "reading": "abc"})
    assert r.status_code == 400 and "is not a number" in r.text
    r = client.post(f"/qa/analysers/{aid}/checks", data={**data, "started": "yesterday"})
    assert r.status_code == 400 and "Start is not a valid time" in r.text
    r = client.post(f"/qa/analysers/{aid}/checks", data={**data, "lot_id": "", "kind": "span"})
    assert r.status_code == 422 and "must name the reference lot" in r.text
    assert not site.store.quality_rows("qa_checks"), "nothing refused is written"


def test_a_withdrawn_lot_is_refused_and_no_longer_offered(client: TestClient, site: Site) -> None:
    rec = setup_records(site)
    aid = rec["analysers"][P1]
    QualityRecords(site.store).withdraw_lot(rec["lot"], reason="钢瓶污染", who="setup")
    csrf = login(client, "ent1")
    page = client.get(f"/qa/analysers/{aid}").text
    assert "没有可用的标准物质批次" in page
    # a use after the withdrawal is refused (one before it, for a check recorded late, is not)
    data = check_form(
        site, csrf, kind="span", reading="50.3", lot_id=str(rec["lot"]), started=at(site, -2 / 60)
    )
    r = client.post(f"/qa/analysers/{aid}/checks", data=data)
    assert r.status_code == 422 and "已撤销" in r.text and "钢瓶污染" in r.text
    r = client.post(f"/qa/analysers/{aid}/checks", data={**data, "started": at(site, 1)})
    assert r.status_code == 303


# ------------------------------------------------------------------------------------------------ lots
def lot_form(csrf: str, **fields: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "producer": "国家标准物质中心",
        "certificate_no": "GBW(E)080999",
        "lot_no": "2301",
        "material": "NO in N2",
        "certified_value": "80.0",
        "unit": "mg/m3",
        "uncertainty": "1.6",
        "coverage_k": "2",
        "expires_on": "2099-12-31",
        "certificate_sha256": "",
        **fields,
    }


def lot_row(page: str, lot: int) -> str:
    m = re.search(rf'<tr id="lot-{lot}".*?</tr>', page, re.S)
    assert m, lot
    return m.group(0)


def test_lots_are_registered_by_any_account_and_withdrawn_by_some(client: TestClient, site: Site) -> None:
    rec = setup_records(site)
    csrf = login(client, "ent1")
    page = client.get("/qa/lots").text
    assert 'data-state="usable"' in lot_row(page, rec["lot"])
    assert 'data-state="expired"' in lot_row(page, rec["expired"]) and "已过期" in lot_row(
        page, rec["expired"]
    )
    assert "/withdraw" not in page, "an enterprise sees no withdraw button"
    r = client.post("/qa/lots", data=lot_form(csrf))
    assert r.status_code == 303 and r.headers["location"].startswith("/qa/lots?done=registered#lot-")
    new = int(r.headers["location"].rsplit("-", 1)[1])
    page = client.get(r.headers["location"]).text
    assert "已登记并写入账本" in page and "80.0 ± 1.6 mg/m3" in lot_row(page, new)
    assert [x["recorded_by"] for x in QualityRecords(site.store).lots() if x["id"] == new] == ["ent1"]
    # the same lot twice: 409, the form kept; malformed input: 400
    again = client.post("/qa/lots", data=lot_form(csrf))
    assert again.status_code == 409 and "已登记" in again.text and 'value="GBW(E)080999"' in again.text
    bad = client.post("/qa/lots", data=lot_form(csrf, certified_value="many"))
    assert bad.status_code == 400 and "不是数字" in bad.text
    assert (
        client.post("/qa/lots", data=lot_form(csrf, lot_no="9", expires_on="31.12.2099")).status_code == 400
    )
    assert client.post("/qa/lots", data=lot_form(csrf, lot_no="9", coverage_k="nan")).status_code == 400
    assert client.post("/qa/lots", data=lot_form(csrf, lot_no="9", material="")).status_code == 400
    assert client.post("/qa/lots", data=lot_form("forged", lot_no="9")).status_code == 403
    sha = "ab" * 32
    assert client.post("/qa/lots", data=lot_form(csrf, lot_no="9", certificate_sha256=sha)).status_code == 303
    # enterprises do not withdraw
    r = client.post(f"/qa/lots/{new}/withdraw", data={"csrf": csrf, "reason": "x"})
    assert r.status_code == 403 and "只有管理员、监管人员和实验室账户可以撤销" in r.text
    client.post("/logout", data={"csrf": csrf})
    # lab staff do
    csrf = login(client, "lab")
    assert f'action="/qa/lots/{new}/withdraw"' in client.get("/qa/lots").text
    assert client.post(f"/qa/lots/{new}/withdraw", data={"reason": "x"}).status_code == 403  # no token
    assert client.post(f"/qa/lots/{new}/withdraw", data={"csrf": csrf, "reason": " "}).status_code == 400
    r = client.post(f"/qa/lots/{new}/withdraw", data={"csrf": csrf, "reason": "证书召回"})
    assert r.status_code == 303 and r.headers["location"] == f"/qa/lots?done=withdrawn#lot-{new}"
    row = lot_row(client.get("/qa/lots").text, new)
    assert (
        'data-state="withdrawn"' in row and "lab 于" in row and "证书召回" in row and "/withdraw" not in row
    )
    twice = client.post(f"/qa/lots/{new}/withdraw", data={"csrf": csrf, "reason": "again"})
    assert twice.status_code == 409 and "已撤销" in twice.text
    assert client.post("/qa/lots/999999/withdraw", data={"csrf": csrf, "reason": "x"}).status_code == 404
    client.post("/logout", data={"csrf": csrf})
    for who, allowed in (("heping", True), ("admin", True), ("ent2", False), ("city", True)):
        csrf = login(client, who)
        r = client.post(f"/qa/lots/{rec['lot']}/withdraw", data={"csrf": csrf, "reason": f"by {who}"})
        # the first allowed account withdraws it; the next ones find it withdrawn already
        want = (303 if who == "heping" else 409) if allowed else 403
        assert r.status_code == want, (who, r.status_code)
        client.post("/logout", data={"csrf": csrf})
    events = site.store.quality_rows("lot_events", lot_id=rec["lot"])
    assert [e["who"] for e in events] == ["heping"]


# ------------------------------------------------------------------------------------------------ escaping
def test_hostile_text_is_escaped_on_the_quality_pages(client: TestClient, site: Site) -> None:
    evil = "<script>alert(1)</script>"
    rec = setup_records(site, serial=evil + "{mn}", maker='"><img src=x onerror=alert(2)>')
    aid = rec["analysers"][P1]
    QualityRecords(site.store).register_lot(
        producer=evil,
        certificate_no="GBW" + evil,
        lot_no="1",
        material=evil,
        certified_value="50",
        unit="mg/m3",
        uncertainty="1",
        expires_on="2099-01-01",
        who="setup",
    )
    csrf = login(client, "ent1")
    r = client.post(
        f"/qa/analysers/{aid}/checks",
        data=check_form(site, csrf, reading="0.1", note=evil, performed_by=evil),
    )
    assert r.status_code == 303
    pages = [client.get("/qa").text, client.get(f"/qa/analysers/{aid}").text, client.get("/qa/lots").text]
    refused = client.post(f"/qa/analysers/{aid}/checks", data=check_form(site, csrf, reading=evil))
    assert refused.status_code == 400
    pages.append(refused.text)
    for page in pages:
        assert evil not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_english_pages(client: TestClient, site: Site) -> None:
    aid = setup_records(site)["analysers"][P3]
    login(client, "shenhe")
    page = client.get("/qa?lang=en").text
    assert "Quality records: analysers" in page and "in control" in page and "standard-sample check" in page
    detail = client.get(f"/qa/analysers/{aid}").text
    assert "hj355/cod" in detail and "Only the enterprise and operator accounts" in detail
    assert "Certified reference lots" in client.get("/qa/lots").text


def test_a_check_signed_on_the_page_with_the_recorders_own_key(
    client: TestClient, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envtrust.verify import verify
    from envtrust.workflow import signing
    from envtrust.workflow.lab import Lab

    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    init = QualityRecords.__init__
    monkeypatch.setattr(
        QualityRecords, "__init__", lambda self, *a, **k: init(self, *a, **{**k, "activation_s": 0})
    )
    monkeypatch.setenv("ENVTRUST_ORIGIN", "envtrust.local/ledger")
    rec = setup_records(site)
    aid = rec["analysers"][P1]
    csrf = login(client, "ent1")
    page = client.get(f"/qa/analysers/{aid}").text
    assert 'id="check-passphrase"' in page and 'href="/keys"' in page
    # no key yet: the signed record is refused, nothing is written
    r = client.post(
        f"/qa/analysers/{aid}/checks", data=check_form(site, csrf, reading="0.4", passphrase="x" * 12)
    )
    assert r.status_code in (401, 403, 409) and 'id="form-error"' in r.text, r.text
    assert site.store.quality_rows("qa_checks", analyser_id=aid) == []
    Lab(site.store, origin="envtrust.local/ledger", activation_s=0).create_sealed_key(
        "ent1", "enterprise one passphrase", who="ent1"
    )
    r = client.post(
        f"/qa/analysers/{aid}/checks",
        data=check_form(site, csrf, reading="0.4", passphrase="a wrong passphrase"),
    )
    assert r.status_code == 401 and 'id="form-error"' in r.text
    assert "a wrong passphrase" not in r.text  # never shown again
    r = client.post(
        f"/qa/analysers/{aid}/checks",
        data=check_form(site, csrf, reading="0.4", passphrase="enterprise one passphrase"),
    )
    assert r.status_code == 303, r.text
    r = client.post(f"/qa/analysers/{aid}/checks", data=check_form(site, csrf, reading="0.5"))  # unsigned
    assert r.status_code == 303, r.text
    signed_row, plain_row = site.store.quality_rows("qa_checks", order="id", analyser_id=aid)
    assert signed_row["sig_id"] is not None and plain_row["sig_id"] is None
    shown = client.get(f"/qa/analysers/{aid}").text
    row = re.search(rf'<tr id="qa_checks-{signed_row["id"]}".*?</tr>', shown, re.S)
    assert row and 'data-signed="1"' in row.group(0)
    row = re.search(rf'<tr id="qa_checks-{plain_row["id"]}".*?</tr>', shown, re.S)
    assert row and 'data-signed="1"' not in row.group(0) and "未签名" in row.group(0)
    assert verify(site.store, None).ok
