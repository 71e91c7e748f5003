"""The double-random draw pages (双随机、一公开) through an in-process client, on both backends.

The city's regulator creates a draw of the city's monitoring points on /draws and reveals it with the beacon value;
anyone — the public without an account, every account of the site, three inspectors — opens the list and the draw,
whose verification panel recomputes the draw from the public record and compares it with its two ledger entries:
every check ✓, and the export downloads once a signed checkpoint covers the reveal and verifies with nothing else.
A record that is altered shows ✗.  Only the regulators and inspectors whose region covers a draw create and reveal
it (the workflow's 403, in the reader's language); only an inspector drawn for a target records its inspection,
signed with the passphrase of the key she holds.  Refused forms come back with what was typed; hostile text stays
text; every key of the pages exists in both languages.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from envtrust.keys import ledger_signer
from envtrust.services import Checkpointer
from envtrust.web import inspection_pages
from envtrust.web.i18n import MESSAGES
from envtrust.web.inspection_pages import DRAW_KINDS, draw_checks
from envtrust.workflow import lab as lab_module
from envtrust.workflow import signing
from envtrust.workflow.inspection import OUTCOMES, TARGET_KINDS, Draws, verify_export
from envtrust.workflow.lab import Lab
from scoped import fast_accounts

from .conftest import P1, P2, P3, PASSWORD, Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
ORIGIN = "test.envtrust/ledger"  # the site's ledger: its checkpoints and its draws' records bear this name
EVIL = "<script>alert(1)</script>"
INSPECTORS = {"insp_hp": "210102", "insp_sh": "210103", "insp_city": "2101"}
PHRASE = {name: f"{name} signing phrase" for name in INSPECTORS}
BEACON = "福彩3D 2026-12-01 开奖号码"
CHECKS = (
    "format",
    "revealed",
    "commitment",
    "beacon",
    "seed",
    "selection",
    "ledger:creation_matches",
    "ledger:reveal_matches",
    "ledger:order",
)


def _no_wait(init: Any) -> Any:
    def wrapped(self: Lab, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "activation_s": 0})

    return wrapped


@pytest.fixture
def dr_site(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The site with an inspector in each county and one of the city, each holding a sealed key that is active at
    once (the 24 h wait is tested in tests/workflow); the ledger's name is the one its checkpoints bear."""
    monkeypatch.setenv("ENVTRUST_ORIGIN", ORIGIN)
    monkeypatch.setattr(signing, "ARGON2", {"time_cost": 1, "memory_cost": 1024, "parallelism": 1})
    monkeypatch.setattr(Lab, "__init__", _no_wait(Lab.__init__))
    monkeypatch.setattr(lab_module, "_failures", {})
    acc = fast_accounts(site.store)
    lab = Lab(site.store, origin=ORIGIN)
    for name, region in INSPECTORS.items():
        acc.create(name, "inspector", who="setup", password=PASSWORD, region=region)
        lab.create_sealed_key(name, PHRASE[name], who=name)
    yield site


def as_user(client: TestClient, user: str) -> str:
    client.cookies.clear()
    return login(client, user)


def draw_form(csrf: str, **changes: Any) -> dict[str, Any]:
    return {
        "csrf": csrf, "title": "2026 年第四季度重点排污单位双随机抽查", "region": "2101", "target_kind": "point",
        "targets": "2", "inspectors_per_target": "1", "max_per_inspector": "", "recent_days": "365",
        "beacon_source": BEACON, "conflicts": f"insp_city={P3}", **changes,
    }  # fmt: skip


def created(client: TestClient, user: str = "city", **changes: Any) -> int:
    csrf = as_user(client, user)
    r = client.post("/draws", data=draw_form(csrf, **changes))
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/draws/(\d+)\?done=created#done", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


def revealed(client: TestClient, draw_id: int, user: str = "city", value: str = "7 3 9") -> None:
    csrf = as_user(client, user)
    r = client.post(f"/draws/{draw_id}/reveal", data={"csrf": csrf, "beacon_value": value})
    assert r.status_code == 303 and r.headers["location"] == f"/draws/{draw_id}?done=revealed#done", r.text


def checks_of(page: str) -> dict[str, bool]:
    return {
        name: ok == "1"
        for name, ok in re.findall(r'<li class="\w+" data-check="([\w:]+)" data-ok="(\d)">', page)
    }


def error_of(page: str) -> str:
    m = re.search(r'id="form-error">(.*?)</p>', page, re.S)
    assert m, "the refused form says why"
    return html.unescape(m.group(1))


def checkpoint(site: Site) -> None:
    Checkpointer(site.store, ledger_signer(ORIGIN, create=False), ORIGIN).checkpoint()


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_the_draw_pages_exists_in_both_languages() -> None:
    used: set[str] = set()
    for name in ("draws.html", "draw.html", "_inspection_macros.html", "_lab_macros.html", "base.html"):
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    code = (WEB / "inspection_pages.py").read_text(encoding="utf-8")
    used |= {k for k in re.findall(r"[\"']((?:dr|qa|err|itf)\.[a-z0-9_.]*[a-z0-9_])[\"']", code)}
    assert {"nav.draws", "dr.title", "dr.verify_ok", "dr.bad_conflict", "dr.excluded_recent"} <= used
    for prefix, values in {
        "dr.state.": ("committed", "revealed"),
        "dr.kind.": TARGET_KINDS,
        "dr.outcome.": OUTCOMES,
        "dr.check.": tuple(c.replace(":", ".") for c in CHECKS),
        "dr.basis.": ("open_alarms", "tampering_alarms", "inspections_with_problems", "given"),
        "dr.export.": ("no_key", "not_revealed", "no_checkpoint", "not_ledgered", "other"),
        "dr.done.": ("created", "revealed", "inspected"),
    }.items():
        used |= {prefix + v for v in values}
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and (zh != en or key in ("lang.switch", "dr.eligible_of")), key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key
    assert set(DRAW_KINDS) <= set(TARGET_KINDS)


# ------------------------------------------------------------------------------------------------ the flow
def test_a_draw_created_revealed_and_verified_by_anyone(client: TestClient, dr_site: Site) -> None:
    site = dr_site
    as_user(client, "city")
    page = client.get("/draws").text
    assert 'id="draw-form"' in page and 'name="region" value="2101"' in page, (
        "the region comes from the account"
    )
    rid = created(client)
    # committed: the pools, the rules, the commitment; the panel checks what it can before the reveal
    page = client.get(f"/draws/{rid}?done=created").text
    assert 'id="done"' in page and 'data-state="committed"' in page and 'id="reveal-form"' in page
    row = site.store.quality_rows("draws", id=rid)[0]
    assert row["commitment"] in page and BEACON in page and f"{ORIGIN}/draws/{rid}" in page
    pool = re.search(r'id="target-pool">(.*?)</table>', page, re.S)
    assert pool and all(f'data-target="{mn}"' in pool.group(1) for mn in (P1, P2, P3))
    p1 = re.search(rf'<tr data-target="{P1}"[^>]*>(.*?)</tr>', pool.group(1), re.S)
    # one open tampering alarm: 1 + 1 + 2 × 1
    assert p1 and 'data-weight="4"' in p1.group(1) and "未关闭报警 1 · 其中篡改类 1" in p1.group(1)
    assert "甲热电有限公司 1号锅炉排放口" in p1.group(1)
    people = re.search(r'id="inspector-list">(.*?)</table>', page, re.S)
    assert people and all(f'data-inspector="{i}"' in people.group(1) for i in INSPECTORS)
    assert re.search(rf'data-inspector="insp_city"><td>insp_city</td><td class="mono">2101</td><td>1</td>'
                     rf'<td class="mono small">{P3}</td>', people.group(1))  # fmt: skip
    assert "抽取 2 个对象，每个对象 1 名检查人员 · 异地检查 · 每人检查数不限" in page
    checks = checks_of(page)
    assert checks == {"format": True, "revealed": False, "ledger:creation_matches": True}
    assert '<li class="pending" data-check="revealed"' in page and 'id="verify-result">尚未揭示' in page
    assert 'id="export" data-state="not_revealed"' in page and 'id="export-link"' not in page
    created_entry = site.store.entry_index(f"draws/{rid}")
    assert f'href="/verify/entry/{created_entry}" id="created-entry"' in page
    # the list: the state, the eligible count, the commitment in short with the full value on hover
    listing = client.get("/draws").text
    line = re.search(rf'<tr id="draw-{rid}"(.*?)</tr>', listing, re.S)
    assert line and 'data-state="committed"' in line.group(0) and 'data-eligible="3"' in line.group(1)
    assert f'title="{row["commitment"]}">{row["commitment"][:12]}…' in line.group(1)
    assert "揭示后公布" in line.group(1)
    # a beacon was declared: its value is needed
    csrf = as_user(client, "city")
    r = client.post(f"/draws/{rid}/reveal", data={"csrf": csrf, "beacon_value": ""})
    assert r.status_code == 400 and "请填写 信标值" in error_of(r.text) and 'id="reveal-form"' in r.text
    revealed(client, rid)
    # revealed: every check passes, both entries linked; the export waits for a signed checkpoint
    client.cookies.clear()
    page = client.get(f"/draws/{rid}").text
    assert checks_of(page) == dict.fromkeys(CHECKS, True)
    assert 'id="verify-panel" data-ok="1"' in page and "全部核验通过" in page and "✗" not in page
    reveal_entry = site.store.entry_index(f"draw_reveals/{site.store.quality_rows('draw_reveals')[0]['id']}")
    assert f'href="/verify/entry/{reveal_entry}" id="revealed-entry"' in page
    assert 'id="export" data-state="no_checkpoint"' in page and 'id="export-link"' not in page
    rec = Draws(site.store, origin=ORIGIN).record_of(rid)
    assert rec["secret"] in page and rec["seed"] in page and "7 3 9" in page
    assert 'id="reveal-form"' not in page
    chosen = [a["target"] for a in rec["selection"]["assignments"]]
    assert re.findall(r'<tr data-target="([^"]+)" id="assignment-\d+">', page) == chosen
    checkpoint(site)
    page = client.get(f"/draws/{rid}?lang=en").text
    assert 'id="export" data-state="ready"' in page and "Every check passes." in page
    link = re.search(
        r'<a href="(/api/v1/draws/\d+/export)" download="draw-(\d+).json" id="export-link">', page
    )
    assert link and link.group(2) == str(rid)
    vkey = ledger_signer(ORIGIN, create=False).verifier().vkey()
    assert f"envtrust draw verify draw-{rid}.json --log-key {vkey}" in html.unescape(page)
    # the export verifies with nothing else, as the command would
    exported = client.get(link.group(1))
    assert exported.status_code == 200
    results = verify_export(exported.json(), log_key=ledger_signer(ORIGIN, create=False).verifier())
    assert all(ok for _, ok, _ in results), results
    # the list shows the selection with its inspectors
    listing = client.get("/draws").text
    line = re.search(rf'<tr id="draw-{rid}"(.*?)</tr>', listing, re.S)
    assert line and 'data-state="revealed"' in line.group(0)
    for a in rec["selection"]["assignments"]:
        assert f'data-target="{a["target"]}"' in line.group(1) and ", ".join(a["inspectors"]) in line.group(1)


def test_a_tampered_record_shows_a_cross(
    client: TestClient, dr_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = dr_site
    rid = created(client)
    revealed(client, rid)
    draws = Draws(site.store, origin=ORIGIN)
    rec = draws.record_of(rid)
    assert all(ok for _, ok, _ in draw_checks(site.store, ORIGIN, rid, rec))
    # the claimed selection swapped for another target: the recomputation and the ledger both disagree
    other = next(t["id"] for t in rec["targets"] if t["id"] not in rec["selection"]["targets"])
    forged = json.loads(json.dumps(rec))
    forged["selection"]["targets"][0] = other
    forged["selection"]["assignments"][0]["target"] = other
    failed = {name for name, ok, _ in draw_checks(site.store, ORIGIN, rid, forged) if not ok}
    assert failed == {"selection", "ledger:reveal_matches"}
    # a heavier weight in the pool: consistent in itself, but not the ledgered pool
    heavier = json.loads(json.dumps(rec))
    heavier["targets"][0]["weight"] = 50
    failed = {name for name, ok, _ in draw_checks(site.store, ORIGIN, rid, heavier) if not ok}
    assert "ledger:creation_matches" in failed
    # another seed; a reveal dropped from the record while the ledger holds one
    reseeded = {**rec, "seed": "0" * 64}
    assert {n for n, ok, _ in draw_checks(site.store, ORIGIN, rid, reseeded) if not ok} >= {"seed"}
    bare = {k: v for k, v in rec.items() if k not in ("secret", "beacon_value", "seed", "selection")}
    assert {n for n, ok, _ in draw_checks(site.store, ORIGIN, rid, bare) if not ok} == {
        "revealed",
        "ledger:reveal_matches",
    }
    # the page shows what the helper finds: ✗ and the reason, in the reader's language
    monkeypatch.setattr(Draws, "record_of", lambda self, draw_id: forged)
    client.cookies.clear()
    page = client.get(f"/draws/{rid}").text
    assert 'id="verify-panel" data-ok="0"' in page and "✗ 核验未通过" in page
    assert checks_of(page)["selection"] is False and checks_of(page)["ledger:reveal_matches"] is False
    assert '<li class="bad" data-check="selection"' in page and "抽取结果与复算结果不符" in page
    page = client.get(f"/draws/{rid}?lang=en").text
    assert "the claimed selection differs from the recomputed one" in page and "Verification failed" in page


# ------------------------------------------------------------------------------------------------ who may
def test_everyone_reads_only_the_region_s_staff_draw(client: TestClient, dr_site: Site) -> None:
    rid = created(client)
    users = ("ent1", "ent2", "heping", "shenhe", "city", "admin", "lab", *INSPECTORS)
    drawers = {"heping", "shenhe", "city", "admin", *INSPECTORS}
    for user in (None, *users):
        if user is None:
            client.cookies.clear()
        else:
            as_user(client, user)
        listing = client.get("/draws")
        assert listing.status_code == 200 and f'href="/draws/{rid}"' in listing.text, user
        assert ('id="draw-form"' in listing.text) == (user in drawers), user
        page = client.get(f"/draws/{rid}")
        assert page.status_code == 200 and 'id="verify-panel"' in page.text, user
        # the reveal form for those whose region covers the draw's (2101): the city's staff and the admin
        assert ('id="reveal-form"' in page.text) == (user in ("city", "admin", "insp_city")), user
        nav = re.search(r"<nav>(.*?)</nav>", listing.text, re.S)
        assert nav and 'href="/draws"' in nav.group(1), user
    # a county regulator may not draw for the city, nor reveal the city's draw: the workflow's 403
    csrf = as_user(client, "heping")
    r = client.post("/draws", data=draw_form(csrf))
    assert r.status_code == 403 and "2101 不在您的辖区内" in error_of(r.text)
    assert 'value="2026 年第四季度重点排污单位双随机抽查"' in r.text, "the typed form comes back"
    r = client.post(f"/draws/{rid}/reveal?lang=en", data={"csrf": csrf, "beacon_value": "1"})
    assert r.status_code == 403 and error_of(r.text) == "Not recorded: 2101 is outside your region"
    # enterprises and lab staff do not draw; the public is sent to the login
    csrf = as_user(client, "ent1")
    assert client.post("/draws", data=draw_form(csrf)).status_code == 403
    assert client.post(f"/draws/{rid}/reveal", data={"csrf": csrf, "beacon_value": "1"}).status_code == 403
    client.cookies.clear()
    r = client.post("/draws", data=draw_form("x"))
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = client.post(f"/draws/{rid}/reveal", data={"beacon_value": "1"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    # the county regulator draws for the county
    csrf = as_user(client, "heping")
    r = client.post("/draws", data=draw_form(csrf, region="210102", beacon_source="", conflicts=""))
    assert r.status_code == 303
    county = int(r.headers["location"].split("/")[2].split("?")[0])
    assert 'id="reveal-form"' in client.get(f"/draws/{county}").text
    # no beacon declared: revealed at once, without a value; a second reveal is refused
    assert client.post(f"/draws/{county}/reveal", data={"csrf": csrf}).status_code == 303
    r = client.post(f"/draws/{county}/reveal", data={"csrf": csrf})
    assert r.status_code == 409 and "已揭示" in error_of(r.text)
    # unknown draws and malformed numbers: 404 pages, not the API's JSON; a form without its token: 403
    for path in ("/draws/999999", "/draws/0", f"/draws/{2**70}"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
    assert client.post("/draws/999999/reveal", data={"csrf": csrf}).status_code == 404
    r = client.post("/draws", data={k: v for k, v in draw_form(csrf).items() if k != "csrf"})
    assert r.status_code == 403 and "表单已过期" in r.text


def test_only_a_drawn_inspector_records_the_inspection(client: TestClient, dr_site: Site) -> None:
    site = dr_site
    rid = created(client, targets="3", conflicts="")
    # before the reveal nobody is drawn: a recording is refused
    csrf = as_user(client, "insp_city")
    when = (site.now_local - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    form = {"csrf": csrf, "target": P1, "inspected_at": when, "outcome": "problems", "summary": "在线监测仪表曾被人为调零",
            "evidence": "alarms/1", "team": "", "passphrase": PHRASE["insp_city"]}  # fmt: skip
    r = client.post(f"/draws/{rid}/inspections", data=form)
    assert r.status_code == 409 and "抽取尚未揭示" in error_of(r.text)
    revealed(client, rid)
    rec = Draws(site.store, origin=ORIGIN).record_of(rid)
    assignments = {a["target"]: a["inspectors"] for a in rec["selection"]["assignments"]}
    target, (inspector,) = next(iter(assignments.items()))
    outsider = next(i for i in INSPECTORS if i not in assignments[target])
    # the drawn inspector sees the forms of her targets only, with the other drawn inspectors as the team
    csrf = as_user(client, inspector)
    page = client.get(f"/draws/{rid}").text
    mine = [t for t, who in assignments.items() if inspector in who]
    assert len(re.findall(r'id="inspect-form-\d+"', page)) == len(mine) and 'id="need-key"' not in page
    form = {
        **form,
        "csrf": csrf,
        "target": target,
        "passphrase": PHRASE[inspector],
        "evidence": f"points/{target}",  # the drawn target's own records
    }
    # a wrong passphrase: nothing recorded; the fields kept, the passphrase not
    r = client.post(f"/draws/{rid}/inspections?lang=en", data={**form, "passphrase": "a wrong phrase!!"})
    assert r.status_code == 401 and "wrong signing passphrase" in error_of(r.text)
    assert "在线监测仪表曾被人为调零</textarea>" in r.text and "a wrong phrase!!" not in r.text
    assert 'value="problems" selected' in r.text
    # refused before the workflow: a bad time, a missing summary, an unknown outcome, no passphrase
    for changes, text in (({"inspected_at": "yesterday"}, "检查时间 不是有效的时间"), ({"summary": ""}, "请填写 检查情况"),
                          ({"outcome": "fine"}, "请填写 结论"), ({"passphrase": ""}, "请填写 签名口令")):  # fmt: skip
        r = client.post(f"/draws/{rid}/inspections?lang=zh", data={**form, **changes})
        assert r.status_code == 400 and text in error_of(r.text), changes
    assert site.store.quality_rows("inspections") == []
    r = client.post(f"/draws/{rid}/inspections", data=form)
    assert r.status_code == 303 and r.headers["location"] == f"/draws/{rid}?done=inspected#done"
    page = client.get(f"/draws/{rid}?done=inspected").text
    row = re.search(rf'<tr data-target="{target}" id="assignment-\d+">(.*?)</tr>', page, re.S)
    assert row and 'data-outcome="problems"' in row.group(1) and "在线监测仪表曾被人为调零" in row.group(1)
    assert 'data-ok="1"' in row.group(1) and f"points/{target}" in row.group(1)
    stored = site.store.quality_rows("inspections")[0]
    assert stored["draw_id"] == rid and stored["recorded_by"] == inspector and stored["sig_id"]
    # the public reads the result; the list shows its outcome
    client.cookies.clear()
    assert "在线监测仪表曾被人为调零" in client.get(f"/draws/{rid}").text
    assert 'data-outcome="problems"' in client.get("/draws").text
    # an inspector not drawn for the target, and the regulator who drew: the workflow's 403
    for user in (outsider, "city"):
        csrf = as_user(client, user)
        page = client.get(f"/draws/{rid}").text
        assert not re.search(rf'name="target" value="{re.escape(target)}"', page), user
        phrase = PHRASE.get(user, "city signing phrase")
        r = client.post(f"/draws/{rid}/inspections", data={**form, "csrf": csrf, "passphrase": phrase})
        assert r.status_code == 403 and "未被抽为" in error_of(r.text), user
    # a target that was not drawn
    csrf = as_user(client, inspector)
    r = client.post(f"/draws/{rid}/inspections", data={**form, "csrf": csrf, "target": "MN-NOT-DRAWN"})
    assert r.status_code == 409 and "未被抽中" in error_of(r.text)
    assert len(site.store.quality_rows("inspections")) == 1


def test_refused_draw_forms_and_hostile_text(client: TestClient, dr_site: Site) -> None:
    csrf = as_user(client, "city")
    cases = [
        ({"title": ""}, "请填写 标题", "Title is required"),
        ({"region": "21x"}, "行政区划代码须为", "The division code must be 2–12 digits"),
        (
            {"targets": "0"},
            "抽取对象数 须为 1 到 10000 之间的整数",
            "Targets to draw must be a whole number from 1",
        ),
        ({"targets": ""}, "请填写 抽取对象数", "Targets to draw is required"),
        ({"inspectors_per_target": "x"}, "每个对象的检查人员数 须为", "Inspectors per target must be"),
        ({"target_kind": "institution"}, "请填写 对象类型", "Kind of target is required"),
        (
            {"conflicts": "insp_city P3"},
            "利益冲突须写成",
            "A conflict must read inspector=target: insp_city P3",
        ),
        ({"conflicts": "nobody=" + P1}, "不在检查人员名录中", "not inspectors of the region"),
        ({"conflicts": "insp_city=MN404"}, "冲突对象不在对象库中", "unknown conflict targets"),
        ({"region": "3301"}, "不在您的辖区内", "outside your region"),
    ]
    for changes, zh, en in cases:
        for lang, text in (("zh", zh), ("en", en)):
            r = client.post(f"/draws?lang={lang}", data=draw_form(csrf, **changes))
            assert r.status_code in (400, 403, 422) and text in error_of(r.text), (
                changes,
                lang,
                error_of(r.text),
            )
    # the typed form comes back, conflicts and the checkbox too
    r = client.post(
        "/draws", data=draw_form(csrf, targets="0", same_region_allowed="1", max_per_inspector="3")
    )
    assert f"insp_city={P3}</textarea>" in r.text and 'value="1" checked' in r.text and 'value="3"' in r.text
    assert dr_site.store.quality_rows("draws") == []
    # hostile text in the title, the beacon and a summary stays text everywhere
    rid = created(client, title=EVIL, beacon_source=EVIL)
    revealed(client, rid, value=EVIL)
    for user in (None, "city"):
        if user is None:
            client.cookies.clear()
        else:
            as_user(client, user)
        for path in ("/draws", f"/draws/{rid}"):
            page = client.get(path).text
            assert EVIL not in page and "&lt;script&gt;" in page, (user, path)
    assert all(ok for _, ok, _ in draw_checks(dr_site.store, ORIGIN, rid, Draws(dr_site.store, origin=ORIGIN)
                                              .record_of(rid)))  # fmt: skip


def test_the_nav_offers_random_inspections_to_everyone(client: TestClient, dr_site: Site) -> None:
    for user, complaints in ((None, False), ("ent1", False), ("lab", False), ("admin", False),
                             ("heping", True), ("insp_hp", True)):  # fmt: skip
        if user is None:
            client.cookies.clear()
        else:
            as_user(client, user)
        nav = re.search(r"<nav>(.*?)</nav>", client.get("/draws").text, re.S)
        assert nav and 'href="/draws" class="on"' in nav.group(1) and "双随机" in nav.group(1), user
        assert ('href="/complaints"' in nav.group(1)) == complaints, user
        assert ('href="/complaints/new"' in nav.group(1)) == (not complaints), user
    assert inspection_pages.PUBLIC_PER_HOUR == 20
