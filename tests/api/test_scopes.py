"""Scopes through the API: two enterprises and two counties try to reach each other's data through every route.

Real SQLite and PostgreSQL stores, real accounts and API tokens, readings imported through the service path, alarms through the
alarm book; FastAPI's TestClient in process.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from envtrust.alarms.book import AlarmBook
from envtrust.api import create_app
from envtrust.ingest.importer import import_file
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import Store, open_store
from scoped import P1, P2, P3, REGISTRY, SEES, create_people, fast_accounts

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass
class Env:
    client: TestClient
    store: Store
    tokens: dict[str, str]
    alarms: dict[str, int]  # MN -> its alarm


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Env]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    store = open_store(db_url)  # SQLite and PostgreSQL
    ingest = Ingest(store)
    ingest.load_registry(parse_registry(REGISTRY))
    csv = tmp_path / "data.csv"
    lines = ["mn,pollutant,time,value,flag,kind"]
    for mn, code in ((P1, "a21026"), (P2, "a21026"), (P3, "w01018")):
        for m in range(120):
            lines.append(f"{mn},{code},2026-01-01T{8 + m // 60:02d}:{m % 60:02d}:00,{20 + m % 7},N,minute")
        lines += [f"{mn},{code},2026-01-01T{8 + h:02d}:00:00,{23 + h},N,hour" for h in range(2)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(ingest, csv)
    assert not report.problems, report.problems
    book = AlarmBook(store)
    book.apply(
        [
            Evaluation(
                mn,
                [Finding(mn, code, "flat_line", "tampering", "high", T0, T0 + 3600, "恒值 | held", {})],
                ("flat_line",),
                T0 + 3600,
            )
            for mn, code in ((P1, "a21026"), (P2, "a21026"), (P3, "w01018"))
        ]
    )
    alarms = {a["mn"]: int(a["id"]) for a in store.alarms()}
    tokens = create_people(fast_accounts(store), None)
    signer = ledger_signer("test.envtrust/ledger", create=True)
    app = create_app(store, log_verifier=signer.verifier())
    with TestClient(app) as client:
        yield Env(client, store, tokens, alarms)
    store.close()


def get(env: Env, who: str | None, url: str) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {env.tokens[who]}"} if who else {}
    r = env.client.get(url, headers=headers)
    return r.status_code, r.json()


def post(env: Env, who: str | None, url: str, body: dict[str, object]) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {env.tokens[who]}"} if who else {}
    r = env.client.post(url, headers=headers, json=body)
    return r.status_code, r.json()


@pytest.mark.parametrize("who", sorted(SEES))
def test_minute_readings_and_alarms_only_within_scope(env: Env, who: str) -> None:
    for mn in (P1, P2, P3):
        code, body = get(env, who, f"/api/v1/points/{mn}/readings?kind=minute")
        if mn in SEES[who]:
            assert code == 200 and len(body["items"]) == 120, body  # type: ignore[index]
        else:
            assert code == 403 and body["error"]["code"] == "forbidden", body  # type: ignore[index]
        code, body = get(env, who, f"/api/v1/alarms/{env.alarms[mn]}")
        assert code == (200 if mn in SEES[who] else 404), body
    code, body = get(env, who, "/api/v1/alarms?include_closed=true")
    assert code == 200
    assert {a["mn"] for a in body["items"]} == SEES[who]  # type: ignore[index]
    assert body["total"] == len(SEES[who])  # type: ignore[index]
    code, body = get(env, who, "/api/v1/points")
    assert {p["mn"] for p in body if p["readable"]} == SEES[who]  # type: ignore[union-attr]


@pytest.mark.parametrize("who", sorted(SEES))
def test_nobody_acts_on_an_alarm_outside_their_scope(env: Env, who: str) -> None:
    bodies = {"ack": {}, "clear": {"reason": "r"}, "assign": {"assignee": "x"}, "comment": {"text": "t"}}
    for mn in sorted({P1, P2, P3} - SEES[who]):
        for action, body in bodies.items():
            code, answer = post(env, who, f"/api/v1/alarms/{env.alarms[mn]}/{action}", body)
            assert code == 404, (action, answer)
    for mn in sorted(SEES[who]):
        code, answer = post(env, who, f"/api/v1/alarms/{env.alarms[mn]}/comment", {"text": "看到了"})
        if who in ("ent1", "ent2", "heping", "shenhe", "city", "admin"):
            assert code == 200, answer
        code, answer = post(env, who, f"/api/v1/alarms/{env.alarms[mn]}/ack", {"comment": "处理中"})
        if who.startswith("ent"):
            assert code == 403  # an enterprise answers for its alarms; it does not acknowledge them
        else:
            assert code == 200 and answer["acknowledged"], answer  # type: ignore[index]
            events = answer["events"]  # type: ignore[index]
            assert events[-1]["action"] == "ack" and who in events[-1]["who"]


def test_the_public_sees_hourly_data_and_nothing_else(env: Env) -> None:
    code, body = get(env, None, f"/api/v1/points/{P1}/readings?kind=hour")
    assert code == 200 and [r["avg"] for r in body["items"]] == [23.0, 24.0]  # type: ignore[index]
    assert body["items"][0]["time"] == "2026-01-01T08:00:00+08:00"  # type: ignore[index]
    for url in (
        f"/api/v1/points/{P1}/readings?kind=minute",
        "/api/v1/alarms",
        f"/api/v1/alarms/{env.alarms[P1]}",
    ):
        code, body = get(env, None, url)
        assert code == 401 and body["error"]["code"] == "login_required", url  # type: ignore[index]
    code, body = get(env, None, "/api/v1/me")
    assert code == 200 and body["role"] == "public"  # type: ignore[index]
    code, body = post(env, None, f"/api/v1/alarms/{env.alarms[P1]}/ack", {})
    assert code == 401


def test_tokens_are_checked(env: Env) -> None:
    r = env.client.get("/api/v1/me", headers={"Authorization": "Bearer et_not-a-token"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = env.client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_authorization"
    _, body = get(env, "heping", "/api/v1/me")
    assert body == {
        "username": "heping",
        "role": "regulator",
        "region": "210102",
        "enterprise_id": None,
        "display_name": "heping",
    }


def test_readings_page_with_a_cursor(env: Env) -> None:
    seen = []
    url = f"/api/v1/points/{P1}/readings?kind=minute&limit=50"
    while url:
        code, body = get(env, "ent1", url)
        assert code == 200
        seen += [r["time"] for r in body["items"]]  # type: ignore[index]
        nxt = body["next"]  # type: ignore[index]
        url = f"/api/v1/points/{P1}/readings?kind=minute&limit=50&after={nxt}" if nxt else ""
    assert len(seen) == 120 and seen == sorted(seen)
    code, body = get(
        env, "ent1", f"/api/v1/points/{P1}/readings?kind=minute&start=2026-01-01T09:00&end=2026-01-01T09:10"
    )
    assert code == 200 and len(body["items"]) == 10  # type: ignore[index]
    for bad in ("after=zzz", "start=yesterday", "kind=second", "limit=0"):
        code, body = get(env, "ent1", f"/api/v1/points/{P1}/readings?{bad}")
        assert code == 400 and "error" in body, bad  # type: ignore[operator]


def test_every_route_with_a_point_or_alarm_is_scoped(env: Env) -> None:
    """Walk the OpenAPI document: every route that takes a point or an alarm answers another county's or
    enterprise's request without its data."""
    doc = env.client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, ops in doc["paths"].items():
        if "{mn}" not in path and "{alarm_id}" not in path:
            continue
        url = path.replace("{mn}", P3).replace("{alarm_id}", str(env.alarms[P3]))
        for method in ops:
            if method == "get":
                tail = path[path.rfind("/") :]
                query = {
                    "/readings": "?kind=minute",
                    "/export": "?kind=minute",
                    "/series": "?pollutant=w01018",
                }
                query = query.get(tail, "")
                code, body = get(env, "heping", url + query)
            else:
                code, body = post(
                    env, "ent1", url, {"reason": "r", "assignee": "a", "text": "t", "comment": "c"}
                )
            if path == "/api/v1/points/{mn}":
                assert code == 200 and body["readable"] is False  # type: ignore[index]  # registry facts are public
            else:
                assert code in (403, 404), (method, path, body)
            checked += 1
    assert checked >= 7


def test_sessions_log_in_need_csrf_for_changes_and_log_out(env: Env) -> None:
    acc = env.client.app.state.accounts
    acc.create(
        "duty1",
        "regulator",
        who="setup",
        password="correct horse battery",
        region="2101",
        display_name="值班员甲",
    )
    r = env.client.post("/api/v1/session", json={"username": "duty1", "password": "wrong password"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_login"
    r = env.client.post("/api/v1/session", json={"username": "duty1", "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert env.client.get("/api/v1/me").json()["username"] == "duty1"  # the cookie is sent back
    alarm = env.alarms[P1]
    r = env.client.post(f"/api/v1/alarms/{alarm}/comment", json={"text": "无 CSRF"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = env.client.post(
        f"/api/v1/alarms/{alarm}/comment", json={"text": "已核实"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["events"][-1]["who"] == "值班员甲 (duty1)"
    r = env.client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    env.client.cookies.clear()
    assert env.client.get("/api/v1/me").json()["role"] == "public"


def test_failed_logins_are_throttled(env: Env) -> None:
    acc = env.client.app.state.accounts
    acc.create("duty2", "regulator", who="setup", password="correct horse battery", region="2101")
    for _ in range(5):
        assert (
            env.client.post("/api/v1/session", json={"username": "duty2", "password": "guess"}).status_code
            == 401
        )
    r = env.client.post("/api/v1/session", json={"username": "duty2", "password": "correct horse battery"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"


def test_a_series_for_charts(env: Env) -> None:
    url = f"/api/v1/points/{P1}/series?pollutant=a21026&start=2026-01-01T08:00&end=2026-01-01T10:00"
    code, body = get(env, "ent1", url)
    assert code == 200 and len(body["t"]) == 120 and body["flag"] == "N" * 120  # type: ignore[index]
    assert body["t"][0] == T0 and body["avg"][:3] == [20.0, 21.0, 22.0]  # type: ignore[index]
    assert get(env, "ent2", url)[0] == 403
    assert get(env, None, url)[0] == 401
    code, body = get(env, None, url.replace("series?", "series?kind=hour&"))
    assert code == 200 and body["avg"] == [23.0, 24.0]  # type: ignore[index]
    code, body = get(env, "ent1", url.replace("2026-01-01T10:00", "2026-03-01T10:00"))
    assert code == 400 and body["error"]["code"] == "bad_span"  # type: ignore[index]


def test_exports_as_csv_and_excel(env: Env) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    h = {"Authorization": f"Bearer {env.tokens['ent1']}"}
    r = env.client.get(f"/api/v1/points/{P1}/readings/export?kind=minute&format=csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())  # Excel reads Chinese only with the BOM
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["mn", "point", "enterprise", "pollutant", "kind", "time"] and len(rows) == 121
    assert rows[1][1:3] == ["1号锅炉排放口", "甲热电有限公司"] and rows[1][5] == "2026-01-01T08:00:00+08:00"
    r = env.client.get(f"/api/v1/points/{P2}/readings/export?kind=minute&format=csv", headers=h)
    assert r.status_code == 403
    r = env.client.get("/api/v1/alarms/export?format=xlsx", headers=h)
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    assert table[0][:3] == ["id", "mn", "point"] and [row[1] for row in table[1:]] == [P1]
    assert env.client.get("/api/v1/alarms/export").status_code == 401
    r = env.client.get(f"/api/v1/points/{P3}/readings/export?kind=hour")  # hourly data are public
    assert r.status_code == 200 and len(r.content.decode("utf-8-sig").splitlines()) == 3


def test_spreadsheet_formulas_are_not_exported() -> None:
    from envtrust.api.export import csv_stream

    text = b"".join(csv_stream(["a"], [["=HYPERLINK(1)"], ["-3"], [-3.5]])).decode("utf-8-sig")
    assert text.splitlines() == ["a", "'=HYPERLINK(1)", "'-3", "-3.5"]


def test_imports_through_the_api_stay_within_scope(env: Env) -> None:
    h1 = {"Authorization": f"Bearer {env.tokens['ent1']}", "Content-Type": "text/csv"}
    good = "mn,pollutant,time,value,flag,kind\n" + "".join(
        f"{P1},a21026,2026-01-02T08:{m:02d}:00,{12 + m % 3},N,minute\n" for m in range(30)
    )
    r = env.client.post(
        "/api/v1/imports?name=day2.csv", content=good + f"{P1},a21026,yesterday,1,N,minute\n", headers=h1
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["format"], body["records"], body["quarantined"], body["readings_new"]) == ("csv", 31, 1, 30)
    assert body["problems"] == [{"line": 32, "code": "bad_csv", "reason": "time 'yesterday' is not ISO 8601"}]
    # again: nothing stored twice
    r = env.client.post("/api/v1/imports?name=day2.csv", content=good, headers=h1)
    assert r.json()["readings_new"] == 0
    other = good.replace(P1, P2)
    r = env.client.post("/api/v1/imports?name=other.csv", content=other, headers=h1)
    assert r.status_code == 403 and P2 in r.json()["error"]["message"]
    # a column named twice: refused, whichever of the two would have counted
    sneaky = f"mn,pollutant,time,value,flag,kind,MN\n{P1},a21026,2026-01-02T09:00:00,777,N,minute,{P2}\n"
    r = env.client.post("/api/v1/imports?name=sneaky.csv", content=sneaky, headers=h1)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_file", r.text
    assert "line 1" in r.json()["error"]["message"] and "'mn'" in r.json()["error"]["message"]
    assert not list(env.store.readings(mn=P2, kind="minute", start=T0 + 86400))
    r = env.client.post("/api/v1/imports?name=x.csv", content=good, headers={"Content-Type": "text/csv"})
    assert r.status_code == 401
    lab = {"Authorization": f"Bearer {env.tokens['lab']}", "Content-Type": "text/csv"}
    assert env.client.post("/api/v1/imports?name=x.csv", content=good, headers=lab).status_code == 403
    admin = {"Authorization": f"Bearer {env.tokens['admin']}", "Content-Type": "text/plain"}
    r = env.client.post("/api/v1/imports?name=../../etc/passwd", content=good, headers=admin)
    assert r.status_code == 400
    r = env.client.post("/api/v1/imports?name=log.txt", content=b"##garbage\r\n", headers=admin)
    assert r.status_code == 200 and r.json()["quarantined"] == 1


def test_imported_batches_reach_the_streaming_checks(env: Env, tmp_path: Path) -> None:
    committed: list[int] = []
    signer = ledger_signer("test2.envtrust/ledger", tmp_path / "k2", create=True)
    app = create_app(
        env.store, log_verifier=signer.verifier(), on_commit=lambda b, r: committed.append(len(b))
    )
    with TestClient(app) as client:
        csv_text = "mn,pollutant,time,value,flag,kind\n" + f"{P1},a21026,2026-01-03T08:00:00,12,N,minute\n"
        r = client.post(
            "/api/v1/imports?name=one.csv",
            content=csv_text,
            headers={"Authorization": f"Bearer {env.tokens['admin']}", "Content-Type": "text/csv"},
        )
        assert r.status_code == 200 and committed == [1]


@pytest.mark.parametrize("who", [None, *sorted(SEES)])
def test_ledger_entries_show_their_content_only_to_readers_of_the_record(env: Env, who: str | None) -> None:
    """Every entry's existence and leaf hash are public; a point's registry entry and an alarm's events only to
    those who may read the point (the PW hash in a registry entry and an alarm's comments are not public)."""
    import base64
    import hashlib

    with env.store.engine.connect() as conn:
        from sqlalchemy import text

        refs = {
            r[0]: int(r[1])
            for r in conn.execute(text("SELECT ref, max(idx) FROM ledger_entries GROUP BY ref"))
        }
    for mn in (P1, P2, P3):
        for ref in (f"points/{mn}", f"alarm_events/{env.store.alarm_events(env.alarms[mn])[0]['id']}"):
            code, body = get(env, who, f"/api/v1/ledger/entries/{refs[ref]}")
            assert code == 200, body
            shown = who is not None and mn in SEES[who]
            assert body["withheld"] is not shown and (body["entry"] is not None) is shown, (ref, who)  # type: ignore[index]
            if shown:
                leaf = hashlib.sha256(b"\x00" + body["entry"].encode()).digest()  # type: ignore[index]
                assert base64.b64encode(leaf).decode() == body["leaf_hash"]  # type: ignore[index]
