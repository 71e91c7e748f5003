"""Series through the API: ``/points/{mn}/channels`` (every channel at once, compact) and ``/points/{mn}/series``
(one channel, the charts' contract) against the readings table, before and after the series cache holds the days,
after back-fills into cached days and after amendments; and who may read them.

Real SQLite and PostgreSQL stores, readings written through the store and imported through the API, real tokens.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from envtrust.api import create_app
from envtrust.keys import ledger_signer
from envtrust.registry import parse_registry
from envtrust.services import amend_reading
from envtrust.store import FrameRow, ReadingRow, Store, open_store
from envtrust.workflow.identity import Accounts

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

P1, P2 = "MN0000000000000001", "MN0000000000000002"
REGISTRY = f"""
[[point]]
mn = "{P1}"
enterprise = {{ name = "甲热电有限公司", credit_code = "91210102AAAAAAAA1A" }}
name = "1号锅炉排放口"
region = "210102"
medium = "gas"
limits = {{ a21026 = 35 }}

[[point]]
mn = "{P2}"
enterprise = {{ name = "乙污水处理厂", credit_code = "91210103CCCCCCCC3C" }}
name = "总排口"
region = "210103"
medium = "water"
limits = {{ w01018 = 50 }}
"""
T0 = 1_767_225_600 - 8 * 3600  # 2026-01-01T00:00 in Asia/Shanghai
DAY = 86400
SPAN = "start=2026-01-01T00:00&end=2026-01-04T00:00"  # three local days (four UTC days)
KEYS = {
    "mn",
    "kind",
    "pollutant",
    "start",
    "end",
    "t",
    "avg",
    "min",
    "max",
    "zs",
    "flag",
}  # /series, unchanged


@dataclass
class Env:
    client: TestClient
    store: Store
    tokens: dict[str, str]

    def get(self, who: str | None, url: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        r = self.client.get(url, headers=headers)
        return r.status_code, r.json()


def write_minutes(store: Store, mn: str, codes: list[str], start: int, minutes: int, seed: int) -> None:
    """Minute data with gaps, missing values, flags and (for flow) cumulative values, as loggers send them."""
    rng = random.Random(seed)
    batch = []
    for m in range(minutes):
        if rng.random() < 0.02:
            continue  # a lost frame: a gap
        t = start + 60 * m
        raw = f"{mn} {t} {seed}".encode()
        f = FrameRow(t * 10**6, "p", "tcp", "hj212", raw, hashlib.sha256(raw).digest(), mn=mn, cn="2051")
        rows = []
        for code in codes:
            v = round(rng.uniform(0, 80), 2)
            values: dict[str, float | None] = {"avg": v, "min": round(v - 1.5, 2), "max": round(v + 2.25, 2)}
            if code == "a21002":  # a value computed by the logger, not a short decimal
                values["zs_avg"] = v * 1.3 + 1e-9
            elif code.startswith("a"):
                values["zs_avg"] = None if rng.random() < 0.05 else round(v * 1.3, 1)
            else:
                values["cou"] = round(v * 60, 3)
            if rng.random() < 0.01:
                values["avg"] = None
            rows.append(
                ReadingRow(mn, "minute", code, t, code, values, rng.choice(["N"] * 20 + ["F", "M", None]))
            )
        batch.append((f, rows))
    store.write(batch)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Env]:
    monkeypatch.setenv("ENVTRUST_KEYS", str(tmp_path / "keys"))
    store = open_store(db_url)
    store.load_registry(parse_registry(REGISTRY))
    write_minutes(store, P1, ["a21026", "a21002", "a34013"], T0 - 600, 3 * 1440 + 1200, seed=1)
    write_minutes(store, P2, ["w01018", "w00000"], T0, 1440, seed=2)
    hour = ReadingRow(P1, "hour", "a21026", T0, "a21026", {"avg": 23.5, "zs_avg": 30.0}, "N")
    raw = b"an hour"
    store.write(
        [(FrameRow(T0 * 10**6, "p", "tcp", "hj212", raw, hashlib.sha256(raw).digest(), mn=P1), [hour])]
    )
    acc = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    people = {
        "ent1": ("enterprise", None, "甲热电有限公司"),
        "county": ("regulator", "210103", None),
        "admin": ("admin", None, None),
        "lab": ("lab", None, None),
    }
    tokens = {}
    for name, (role, region, ent) in people.items():
        acc.create(name, role, who="setup", password=None, region=region, enterprise=ent)
        tokens[name] = acc.create_token(name, "test", who="setup")[1]
    app = create_app(store, log_verifier=ledger_signer("test.envtrust/ledger", create=True).verifier())
    with TestClient(app) as client:
        yield Env(client, store, tokens)
    store.close()


def expand(runs: list[list[int]]) -> list[int]:
    return [first + step * i for first, step, count in runs for i in range(count)]


def readings(store: Store, mn: str, code: str, start: int, end: int) -> dict[str, list[Any]]:
    """The channel straight from the readings table, in the API's terms."""
    rows = list(store.readings(mn=mn, kind="minute", pollutant=code, start=start, end=end))
    return {
        "t": [r["data_time"] for r in rows],
        "avg": [r["avg"] for r in rows],
        "min": [r["min"] for r in rows],
        "max": [r["max"] for r in rows],
        "zs": [r["zs_avg"] for r in rows],
        "cou": [r["cou"] for r in rows],
        "flag": "".join((r["flag"] or "-")[:1] for r in rows),
    }


def check_channels(env: Env, mn: str, body: dict[str, Any], start: int, end: int) -> None:
    assert (body["mn"], body["kind"], body["start"], body["end"]) == (mn, "minute", start, end)
    codes = [c["pollutant"] for c in body["channels"]]
    assert codes == sorted(env.store.channel_codes(mn, "minute"))
    for ch in body["channels"]:
        want = readings(env.store, mn, ch["pollutant"], start, end)
        assert expand(ch["t"]) == want["t"] and ch["n"] == len(want["t"]) > 0
        assert ch["flag"] == want["flag"]
        for col in ("avg", "min", "max", "zs", "cou"):
            if all(v is None for v in want[col]):
                assert col not in ch  # a column without any value is left out
            else:
                assert values(ch, col) == want[col]


def values(ch: dict[str, Any], col: str) -> list[float | None]:
    """A column's values: integers k of a scaled column stand for k / 10^scale (exactly the double sent)."""
    d = ch.get("scale", {}).get(col)
    if d is None:
        return list(ch[col])
    assert all(k is None or isinstance(k, int) for k in ch[col])
    return [None if k is None else k / 10**d for k in ch[col]]


def cache_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM series_cache")).scalar_one())


def test_channels_equal_the_readings_before_and_after_caching(env: Env) -> None:
    url = f"/api/v1/points/{P1}/channels?kind=minute&{SPAN}"
    assert cache_rows(env.store) == 0
    code, first = env.get("ent1", url)
    assert code == 200, first
    check_channels(env, P1, first, T0, T0 + 3 * DAY)
    assert {c["pollutant"] for c in first["channels"]} == {"a21026", "a21002", "a34013"}
    assert all("cou" not in c and "zs" in c for c in first["channels"])
    scales = {c["pollutant"]: c.get("scale") for c in first["channels"]}
    assert scales["a21026"] == {"avg": 2, "min": 2, "max": 2, "zs": 1}  # as the values were sent
    assert scales["a21002"] == {"avg": 2, "min": 2, "max": 2}  # zs: plain numbers
    assert None in first["channels"][1]["avg"]  # a missing value in a scaled column
    for c in first["channels"]:  # runs: one per gap, not one number per minute
        t = expand(c["t"])
        gaps = sum(b - a != 60 for a, b in itertools.pairwise(t))
        assert 20 < len(c["t"]) <= gaps + 1 < len(t) / 20
    assert cache_rows(env.store) == 3 * 4  # filled after the answer: three channels × four UTC days
    code, second = env.get("ent1", url)
    assert code == 200 and second == first
    # water: cumulative flow, no converted values
    code, water = env.get("admin", f"/api/v1/points/{P2}/channels?kind=minute&{SPAN}")
    assert code == 200
    check_channels(env, P2, water, T0, T0 + 3 * DAY)
    assert all("cou" in c and "zs" not in c for c in water["channels"])
    # only some channels; one that was never sent is there, empty
    code, some = env.get("ent1", url + "&pollutant=a34013&pollutant=a99999")
    assert code == 200
    assert [c["pollutant"] for c in some["channels"]] == ["a34013", "a99999"]
    assert some["channels"][0] == next(c for c in first["channels"] if c["pollutant"] == "a34013")
    assert some["channels"][1] == {"pollutant": "a99999", "n": 0, "t": [], "flag": ""}
    assert [c["pollutant"] for c in first["channels"]][1] == "a21026"
    assert env.store.derived_problems() == []


def test_series_keeps_its_contract_and_agrees_with_channels(env: Env) -> None:
    code, body = env.get("ent1", f"/api/v1/points/{P1}/series?pollutant=a21026&{SPAN}")
    assert code == 200 and set(body) == KEYS
    want = readings(env.store, P1, "a21026", T0, T0 + 3 * DAY)
    assert (body["start"], body["end"], body["pollutant"], body["kind"]) == (
        T0,
        T0 + 3 * DAY,
        "a21026",
        "minute",
    )
    assert {k: body[k] for k in ("t", "avg", "min", "max", "zs", "flag")} == {
        k: want[k] for k in ("t", "avg", "min", "max", "zs", "flag")
    }
    assert None in body["avg"] and "-" in body["flag"]  # missing values and flags come as null and '-'
    _, again = env.get("ent1", f"/api/v1/points/{P1}/series?pollutant=a21026&{SPAN}")  # from the cache now
    assert again == body
    # part of a day, and a channel without data
    code, part = env.get(
        "ent1", f"/api/v1/points/{P1}/series?pollutant=a21002&start=2026-01-02T07:30&end=2026-01-02T08:30"
    )
    want = readings(env.store, P1, "a21002", T0 + DAY + 27000, T0 + DAY + 30600)
    assert code == 200 and part["t"] == want["t"] and part["avg"] == want["avg"] and len(part["t"]) > 50
    code, none = env.get("ent1", f"/api/v1/points/{P1}/series?pollutant=a99999&{SPAN}")
    assert code == 200 and (none["t"], none["avg"], none["flag"]) == ([], [], "")
    # hourly values (not cached: few) are public
    code, hourly = env.get(None, f"/api/v1/points/{P1}/series?kind=hour&pollutant=a21026&{SPAN}")
    assert code == 200 and (hourly["t"], hourly["avg"], hourly["zs"]) == ([T0], [23.5], [30.0])
    code, hourly = env.get(None, f"/api/v1/points/{P1}/channels?kind=hour&{SPAN}")
    assert code == 200 and hourly["channels"] == [
        {
            "pollutant": "a21026",
            "n": 1,
            "t": [[T0, 0, 1]],
            "avg": [235],
            "zs": [30],
            "scale": {"avg": 1, "zs": 0},
            "flag": "N",
        }
    ]


def test_back_fills_into_cached_days_are_seen(env: Env) -> None:
    url = f"/api/v1/points/{P1}/channels?kind=minute&{SPAN}"
    env.get("ent1", url)
    filled = cache_rows(env.store)
    assert filled == 12
    # a logger back-fills three readings into the second day, between the minutes (through the import route)
    csv = "mn,pollutant,time,value,flag,kind\n" + "".join(
        f"{P1},a21026,2026-01-02T10:00:{s:02d},{s}.5,N,minute\n" for s in (10, 20, 30)
    )
    r = env.client.post(
        "/api/v1/imports?name=late.csv",
        content=csv.encode(),
        headers={"Authorization": f"Bearer {env.tokens['admin']}"},
    )
    assert r.status_code == 200 and r.json()["readings_new"] == 3
    assert cache_rows(env.store) == filled - 3  # that day of the point's three channels is dropped
    code, body = env.get("ent1", url)
    assert code == 200
    check_channels(env, P1, body, T0, T0 + 3 * DAY)
    ch = next(c for c in body["channels"] if c["pollutant"] == "a21026")
    late = T0 + DAY + 36000
    assert [late + 10, late + 20, late + 30] == [t for t in expand(ch["t"]) if late < t < late + 60]
    assert cache_rows(env.store) == filled
    code, series = env.get("ent1", f"/api/v1/points/{P1}/series?pollutant=a21026&{SPAN}")
    assert late + 20 in series["t"] and series["avg"][series["t"].index(late + 20)] == 20.5


def test_amendments_leave_the_series_as_received(env: Env) -> None:
    """Series show readings as received; an amendment is a separate, ledgered record (see the reading's history)."""
    url = f"/api/v1/points/{P1}/series?pollutant=a21026&{SPAN}"
    _, before = env.get("ent1", url)
    t = before["t"][100]
    amend_reading(
        env.store,
        mn=P1,
        kind="minute",
        pollutant="a21026",
        data_time=t,
        changes={"avg": 999.0, "flag": "C"},
        who="inspector",
        why="calibration",
    )
    _, after = env.get("ent1", url)
    assert after == before
    assert after["avg"][100] == env.store.reading_at(P1, "minute", "a21026", t)["avg"] != 999.0  # type: ignore[index]
    _, channels = env.get("ent1", url.replace("series?pollutant=a21026&", "channels?pollutant=a21026&"))
    assert values(channels["channels"][0], "avg") == before["avg"]


@pytest.mark.parametrize("route", ["series?pollutant=a21026&", "channels?"])
def test_who_may_read_channels(env: Env, route: str) -> None:
    url = f"/api/v1/points/{P1}/{route}{SPAN}"
    assert env.get("ent1", url)[0] == 200
    assert env.get("admin", url)[0] == 200
    code, body = env.get("county", url)  # another county's regulator
    assert code == 403 and body["error"]["code"] == "forbidden"
    assert env.get("lab", url)[0] == 403
    code, body = env.get(None, url)
    assert code == 401 and body["error"]["code"] == "login_required"
    assert env.get(None, url.replace(f"{route}", f"{route}kind=hour&"))[0] == 200  # hourly data are public
    code, body = env.get("admin", url.replace(P1, "NO-SUCH-POINT"))
    assert code == 404 and body["error"]["code"] == "no_point"
    code, body = env.get("admin", url.replace("2026-01-04", "2026-03-04"))
    assert code == 400 and body["error"]["code"] == "bad_span"
    code, body = env.get("admin", url.replace("2026-01-04T00:00", "yesterday"))
    assert code == 400 and body["error"]["code"] == "bad_time"


def test_a_default_span_is_the_day_before_now(env: Env) -> None:
    code, body = env.get("admin", f"/api/v1/points/{P1}/channels")
    assert code == 200 and body["end"] - body["start"] == DAY
    assert all(c["n"] == 0 for c in body["channels"])
    assert not math.isnan(body["end"])


def test_channel_parameters_are_bounded(env: Env) -> None:
    url = f"/api/v1/points/{P1}/channels?{SPAN}"
    code, body = env.get("admin", url + "&pollutant=" + "a" * 17)
    assert code == 400 and body["error"]["code"] == "invalid_request"
    code, body = env.get("admin", url + "".join(f"&pollutant=a{i:05d}" for i in range(65)))
    assert code == 400 and body["error"]["code"] == "invalid_request"
    code, body = env.get("admin", url + "".join(f"&pollutant=a{i:05d}" for i in range(64)))
    assert code == 200 and len(body["channels"]) == 64
