"""The operations page (运行状态) through an in-process client, on both backends: upstream forwarding (position,
frames waiting, how long, counts, the last problem) and the cluster leases, for administrators and regulators only
(403 for the other accounts, the login for the public), in both languages; hostile text stays text."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi.testclient import TestClient

from envtrust.web.i18n import MESSAGES, translator
from envtrust.web.ops_pages import LEASE_KINDS, upstream_rows, waited

from .conftest import Site, login

WEB = Path(__file__).resolve().parents[2] / "src" / "envtrust" / "web"
ERROR = "ConnectionRefusedError: [Errno 111] Connection refused"
EVIL = "<script>alert(1)</script>"


def as_user(client: TestClient, user: str) -> None:
    client.cookies.clear()
    login(client, user)


def row(page: str, attr: str, name: str) -> str:
    m = re.search(rf'<tr {attr}="{re.escape(name)}"[^>]*>(.*?)</tr>', page, re.S)
    assert m, f"no row {attr}={name}"
    return m.group(0)


def cell(tr: str, cls: str) -> str:
    m = re.search(rf'<td class="{cls}[^"]*">(.*?)</td>', tr, re.S)
    assert m, f"no cell {cls} in {tr}"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).strip()


def forwarding(site: Site) -> int:
    """Two upstreams: ``nation`` down since the start (every frame waits), ``province`` delivered up to the newest
    frame; and the leases of a two-worker cluster.  The newest frame id."""
    store = site.store
    store.upstream("nation", "10.0.0.1:8900")
    store.upstream_progress("nation", acked_upto=0, sent=3, refused=1, error=ERROR)
    newest = int(store.upstream_states()[0]["newest"])
    assert newest > 0, "the site's imported frames are the outbox"
    store.upstream("province", "10.0.0.2:8901")
    store.upstream_progress("province", acked_upto=newest, sent=newest, acks=newest)
    assert store.acquire_lease("bus/0", "w1", 10.0) == 1
    assert store.acquire_lease("bus/1", "w2", 10.0) == 1
    assert store.acquire_lease("sequencer", "w1", 10.0) == 1
    assert store.acquire_lease("worker/w1", "w1", 10.0) == 1
    assert store.acquire_lease("worker/gone", "gone", 0.0) == 1  # expired at once: not shown
    assert store.acquire_lease("upstream/nation", "w2", 10.0) == 1
    return newest


# ------------------------------------------------------------------------------------------------ catalogue
def test_every_key_of_the_operations_page_exists_in_both_languages() -> None:
    text = (WEB / "templates" / "operations.html").read_text(encoding="utf-8")
    used = set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[),]", text))
    code = (WEB / "ops_pages.py").read_text(encoding="utf-8")
    used |= set(re.findall(r"[\"']((?:op|nav)\.[a-z0-9_.]*[a-z0-9_])[\"']", code))
    used |= {f"op.kind.{k}" for k in LEASE_KINDS} | {"nav.operations"}
    assert {"op.forbidden", "op.dur.h_min", "op.up.none", "op.cl.none"} <= used
    missing = used - set(MESSAGES)
    assert not missing, missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en and zh != en, key
        assert sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


def test_durations_for_people() -> None:
    zh, en = translator("zh"), translator("en")
    assert waited(3900, en) == "1 h 5 min" and waited(3900, zh) == "1小时5分"
    assert waited(3600, en) == "1 h" and waited(3605, zh) == "1小时"
    assert waited(45, en) == "45 s" and waited(0, zh) == "0秒" and waited(-3, en) == "0 s"
    assert waited(125, en) == "2 min 5 s" and waited(120, zh) == "2分"
    assert waited(2 * 86400 + 3 * 3600 + 59, zh) == "2天3小时" and waited(86400, en) == "1 d"
    now = 1_800_000_000_000_000
    state = {"name": "n", "address": "a:1", "acked_upto": 5, "newest": 9, "lag_frames": 4,
             "oldest_unacked_us": now - 3_900_000_000, "acked_us": None, "sent": 9, "acks": 5, "refused": 0,
             "last_error": None, "error_us": None, "updated_us": now}  # fmt: skip
    (r,) = upstream_rows([state], now, en)
    assert (r["lag_s"], r["waited"], r["acked_at"], r["error"]) == (3900, "1 h 5 min", "", "")
    (r,) = upstream_rows([{**state, "oldest_unacked_us": None, "lag_frames": 0}], now, en)
    assert (r["lag_s"], r["waited"]) == (None, "")
    # China time: 2027-01-15 08:00:00 UTC is 16:00 in Beijing
    (r,) = upstream_rows([{**state, "acked_us": 1_800_000_000_000_000}], now, en)
    assert r["acked_at"] == "2027-01-15 16:00:00"


# ------------------------------------------------------------------------------------------------ access
def test_who_opens_the_operations_page(client: TestClient, site: Site) -> None:
    forwarding(site)
    r = client.get("/operations")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Foperations"
    assert 'href="/operations"' not in client.get("/ledger").text
    for user in ("ent1", "lab"):
        as_user(client, user)
        r = client.get("/operations")
        assert r.status_code == 403, user
        assert MESSAGES["op.forbidden"][0] in r.text and "10.0.0.1" not in r.text and ERROR not in r.text
        assert 'href="/operations"' not in client.get("/ledger").text, user
        assert MESSAGES["op.forbidden"][1] in client.get("/operations?lang=en").text  # in English too
    for user in ("city", "heping", "admin"):
        as_user(client, user)
        r = client.get("/operations")
        assert r.status_code == 200, user
        assert 'href="/operations" class="on"' in r.text, user


# ------------------------------------------------------------------------------------------------ content
def test_upstreams_and_leases_on_the_page(client: TestClient, site: Site) -> None:
    newest = forwarding(site)
    as_user(client, "city")
    page = client.get("/operations").text
    assert 'id="upstreams"' in page and 'id="leases"' in page
    assert 'id="no-upstreams"' not in page and 'id="no-leases"' not in page
    t = translator("zh")
    for key in ("op.title", "op.up.title", "op.cl.title", "op.up.waiting", "op.cl.holder", "nav.operations"):
        assert t(key) in page, key
    # nation: down from the start, every accepted frame waits, the problem highlighted with its time
    nation = row(page, "data-upstream", "nation")
    assert f'data-lag-frames="{newest}"' in nation and 'class="has-error"' in nation
    assert cell(nation, "address") == "10.0.0.1:8900"
    assert cell(nation, "delivered") == f"0 / {newest}"
    assert cell(nation, "waiting") == str(newest) and '<td class="waiting over">' in nation
    assert re.fullmatch(r"\d+(秒|分\d*秒?)", cell(nation, "oldest")), cell(nation, "oldest")
    assert cell(nation, "acked-at") == "—"
    assert re.sub(r"\s+", "", cell(nation, "counts")) == "3/0/1"
    problem = cell(nation, "problem")
    assert ERROR in problem and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", problem)
    assert '<p class="error small">' in nation
    # province: delivered, nothing waits, no problem
    province = row(page, "data-upstream", "province")
    assert (
        'data-lag-frames="0"' in province
        and 'data-lag-seconds=""' in province
        and "has-error" not in province
    )
    assert cell(province, "delivered") == f"{newest} / {newest}"
    assert cell(province, "oldest") == "—" and cell(province, "problem") == "—"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", cell(province, "acked-at"))
    assert re.sub(r"\s+", "", cell(province, "counts")) == f"{newest}/{newest}/0"
    assert page.index('data-upstream="nation"') < page.index('data-upstream="province"')
    # the leases: partitions by number with their position, the sequencer, the live workers, the forwarders
    names = re.findall(r'<tr data-lease="([^"]+)"', page)
    assert names == ["bus/0", "bus/1", "sequencer", "worker/w1", "upstream/nation"], names
    for name, holder, kind in (("bus/0", "w1", "bus"), ("bus/1", "w2", "bus"), ("sequencer", "w1", "sequencer"),
                               ("worker/w1", "w1", "worker"), ("upstream/nation", "w2", "upstream")):  # fmt: skip
        tr = row(page, "data-lease", name)
        assert f'data-holder="{holder}"' in tr and f'data-kind="{kind}"' in tr and 'data-live="yes"' in tr, tr
        assert cell(tr, "holder") == holder and cell(tr, "live") == t("op.yes") and cell(tr, "epoch") == "1"
        assert cell(tr, "role") == t(f"op.kind.{kind}")
    assert cell(row(page, "data-lease", "bus/0"), "position") == "0"
    assert cell(row(page, "data-lease", "sequencer"), "position") == ""
    # a partition whose holder is gone: not live
    site.store.acquire_lease("bus/2", "w3", 0.0)
    tr = row(client.get("/operations").text, "data-lease", "bus/2")
    assert 'data-live="no"' in tr and cell(tr, "live") == t("op.no")


def test_the_page_in_english(client: TestClient, site: Site) -> None:
    forwarding(site)
    as_user(client, "admin")
    page = client.get("/operations?lang=en").text
    en = translator("en")
    for key in ("op.title", "op.up.title", "op.up.name", "op.up.delivered", "op.up.waiting", "op.up.oldest",
                "op.up.acked_at", "op.up.counts", "op.up.problem", "op.cl.title", "op.cl.holder", "op.cl.live",
                "op.cl.epoch", "op.cl.position", "op.kind.sequencer", "op.kind.upstream", "nav.operations"):  # fmt: skip
        assert html.escape(en(key), quote=False) in page, key
    assert "运行状态" not in page and "上级平台转发" not in page
    oldest = cell(row(page, "data-upstream", "nation"), "oldest")
    assert re.fullmatch(r"\d+ (s|min( \d+ s)?)", oldest), oldest
    assert ERROR in page  # the problem as the forwarder recorded it
    # the cookie keeps the language
    assert "Upstream forwarding" in client.get("/operations").text


def test_empty_states_and_hostile_text(client: TestClient, site: Site) -> None:
    as_user(client, "admin")
    page = client.get("/operations").text
    assert 'id="no-upstreams"' in page and "[[upstream]]" in page and 'id="upstreams"' not in page
    assert 'id="no-leases"' in page and MESSAGES["op.cl.none"][0] in page and 'id="leases"' not in page
    assert "[[upstream]]" in client.get("/operations?lang=en").text
    assert "Single-process mode: no leases." in client.get("/operations?lang=en").text
    # names, addresses, errors and holders are text, never markup
    site.store.upstream(EVIL, f"{EVIL}:1")
    site.store.upstream_progress(EVIL, acked_upto=0, error=EVIL)
    site.store.acquire_lease("worker/x", EVIL, 10.0, info=EVIL)
    page = client.get("/operations").text
    assert EVIL not in page and html.escape(EVIL) in page
