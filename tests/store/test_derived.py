"""The derived tables (point_latest, series_cache) against the same facts computed from scratch.

Random batches — new data, back-fills of older data, readings stored before, duplicate frames, quarantine, imports
skipped as known, points outside the registry — are written through :meth:`Store.write` on SQLite and PostgreSQL;
after every batch the maintained tables must equal a fresh GROUP BY over frames and readings, the overview must
equal one computed here in Python from the raw rows, and cached series must equal the readings table.
"""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from envtrust.registry import load_registry
from envtrust.services import Ingest
from envtrust.store import FrameRow, ReadingRow, Store, open_store
from envtrust.store.base import make_engine
from envtrust.store.migrate import current_revision, downgrade, head_revision, upgrade
from envtrust.store.series import (
    DAY,
    NONE64,
    Columns,
    assemble,
    columns_from_rows,
    decimal_scale,
    pack,
    runs,
    unpack,
)
from envtrust.verify import verify

GAS, WATER, STRANGER = "21010012345678", "21010087654321", "99999999999999"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: days long over, so the cache keeps them
US0 = T0 * 1_000_000
KINDS = ("rtd", "minute", "hour", "day")
CODES = ("a21026", "a21002", "a34013", "a01012")


# ----------------------------------------------------------------------------------------------- helpers
def frame(rng: random.Random, i: int, mn: str | None, *, raw: bytes | None = None, **kw: Any) -> FrameRow:
    raw = raw if raw is not None else b"##frame %d %d\r\n" % (i, rng.getrandbits(48))
    return FrameRow(
        received_us=kw.pop("received_us", US0 + rng.randrange(10**9)),
        peer=kw.pop("peer", "10.0.0.1:4000"),
        origin=kw.pop("origin", "tcp"),
        format="hj212",
        raw=raw,
        digest=hashlib.sha256(raw).digest(),
        mn=mn,
        cn="2051",
        **kw,
    )


def value(rng: random.Random) -> float | None:
    return None if rng.random() < 0.1 else round(rng.uniform(-5, 500), rng.choice((0, 1, 2, 3)))


def readings_for(rng: random.Random, mn: str, kind: str, t: int) -> list[ReadingRow]:
    rows = []
    for code in rng.sample(CODES, rng.randint(1, len(CODES))):
        if kind == "rtd":
            values = {"rtd": value(rng), "zs_rtd": value(rng)}
        else:
            values = {"avg": value(rng), "min": value(rng), "max": value(rng), "zs_avg": value(rng)}
            if rng.random() < 0.2:
                values["cou"] = value(rng)
        flag = rng.choice(("N", "N", "N", "F", "M", "D", None, "", "脱", "NX"))
        rows.append(ReadingRow(mn, kind, code, t, code, values, flag))
    return rows


def random_batch(rng: random.Random, written: list[tuple[FrameRow, list[ReadingRow]]], n: int) -> list[Any]:
    """A batch of ``n`` frames: mostly new data, some back-fills, repeats, duplicates and quarantine."""
    batch: list[tuple[FrameRow, list[ReadingRow]]] = []
    for i in range(n):
        r = rng.random()
        if written and r < 0.1:  # the same frame again: a duplicate (its readings are not stored twice)
            old, rows = rng.choice(written)
            batch.append((frame(rng, i, old.mn, raw=old.raw), rows))
            continue
        if r < 0.18:  # quarantined: counts nowhere
            f = frame(rng, i, rng.choice((GAS, None)), status="quarantine", error_code="bad_crc", reason="x")
            batch.append((f, []))
            continue
        if written and r < 0.25:  # another frame with readings stored before (same keys, other values)
            _, rows = rng.choice(written)
            if rows:
                again = [
                    ReadingRow(x.mn, x.kind, x.pollutant, x.data_time, x.code_raw, {"avg": 1.0}, "F")
                    for x in rows
                ]
                batch.append((frame(rng, i, rows[0].mn), again))
                continue
        mn = rng.choice((GAS, GAS, WATER, STRANGER))
        kind = rng.choice(KINDS)
        step = {"rtd": 30, "minute": 60, "hour": 3600, "day": DAY}[kind]
        # new data mostly moves forward; a quarter are back-fills into the first days
        horizon = 6 * DAY if rng.random() < 0.75 else 2 * DAY
        t = T0 + step * rng.randrange(horizon // step)
        f = frame(rng, i, mn, skip_if_known=rng.random() < 0.05, origin="import", peer=f"file:x:{i % 3}")
        batch.append((f, readings_for(rng, mn, kind, t)))
    return batch


def expected_overview(store: Store) -> list[dict[str, Any]]:
    """The overview computed here from every raw row (what the old GROUP BY computed, in Python)."""
    counts: dict[str, list[int]] = {}
    for f in store.frames():
        if f["status"] != "quarantine" and f["mn"] is not None:
            c = counts.setdefault(f["mn"], [0, 0])
            c[0] += 1
            c[1] = max(c[1], f["received_us"])
    newest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in store.readings():
        key = (r["mn"], r["kind"], r["pollutant"])
        if key not in newest or r["data_time"] > newest[key]["data_time"]:
            newest[key] = r
    out = []
    for p in store.points():
        latest: dict[str, dict[str, Any]] = {}
        hourly: dict[str, dict[str, Any]] = {}
        for code in CODES:
            pick = None
            for kind in ("minute", "rtd"):  # rtd wins a tie
                r = newest.get((p.mn, kind, code))
                if r is not None and (pick is None or r["data_time"] >= pick["data_time"]):
                    pick = r
            for r, into in ((pick, latest), (newest.get((p.mn, "hour", code)), hourly)):
                if r is not None:
                    rtd = r["kind"] == "rtd"
                    into[code] = {
                        "kind": r["kind"],
                        "time": r["data_time"],
                        "value": r["rtd"] if rtd else r["avg"],
                        "zs": r["zs_rtd"] if rtd else r["zs_avg"],
                        "flag": r["flag"],
                    }
        n, last = counts.get(p.mn, (0, None))
        out.append(
            {
                "mn": p.mn,
                "name": p.name,
                "enterprise": p.enterprise.name,
                "region": p.region,
                "medium": p.medium,
                "frames": n,
                "last_received_us": last,
                "limits": p.limits,
                "latest": latest,
                "hourly": hourly,
            }
        )
    return out


def without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "enterprise_id"} for r in rows]


def from_readings(store: Store, mn: str, kind: str, code: str, start: int, end: int) -> Columns:
    rows = []
    for r in store.readings(mn=mn, kind=kind, pollutant=code, start=start, end=end):
        rtd = kind == "rtd"
        rows.append(
            (
                r["data_time"],
                r["rtd"] if rtd else r["avg"],
                r["min"],
                r["max"],
                r["zs_rtd"] if rtd else r["zs_avg"],
                r["cou"],
                r["flag"],
            )
        )
    return columns_from_rows(rows)


def same(a: Columns, b: Columns) -> bool:
    return (
        a.t.tolist() == b.t.tolist()
        and all(
            np.array_equal(getattr(a, c), getattr(b, c), equal_nan=True)
            for c in ("value", "min", "max", "zs", "cou")
        )
        and a.flag == b.flag
    )


def cache_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM series_cache")).scalar_one())


# ----------------------------------------------------------------------------------------------- the tables
def test_derived_tables_follow_random_batches(db_url: str, registry_file: Path) -> None:
    rng = random.Random(5)
    written: list[tuple[FrameRow, list[ReadingRow]]] = []
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        for round_ in range(12):
            batch = random_batch(rng, written, rng.randint(1, 60))
            store.write(batch)
            written += [(f, rows) for f, rows in batch if f.status != "quarantine"]
            assert store.derived_problems() == []
            if round_ % 3 == 2:  # read series (fills the cache), then keep writing into the same days
                for mn in (GAS, WATER):
                    for kind in ("minute", "rtd"):
                        got = store.columns(mn, kind, T0 - 3600, T0 + 7 * DAY)
                        for code, c in got.items():
                            assert same(c, from_readings(store, mn, kind, code, T0 - 3600, T0 + 7 * DAY))
                assert cache_rows(store) > 0
        assert without_ids(store.overview()) == expected_overview(store)
        assert store.derived_problems() == []


def test_real_frames_through_ingest_keep_verify_passing(
    db_url: str, registry_file: Path, make_frame: Any
) -> None:
    """Derived tables are not ledgered: ``verify`` is unaffected by them, and they agree with what it checks."""
    with open_store(db_url) as store:
        ingest = Ingest(store)
        ingest.load_registry(load_registry(registry_file))
        raws = [
            make_frame(
                "2051",
                data_time=f"2026010108{m:02d}00",
                items={"a21026": {"Avg": f"{10 + m}.5", "Flag": "N"}},
            )
            for m in range(5)
        ]
        raws += [
            make_frame(
                "2011",
                data_time="20260101080330",
                items={"a21026": {"Rtd": "9.25", "ZsRtd": "11", "Flag": "N"}},
            )
        ]
        raws += [
            raws[0],
            make_frame("2051", data_time="20260101075900", items={"a21026": {"Avg": "1", "Flag": "N"}}),
        ]
        raws += [b"##0010QN=1;CP=&&&&FFFF\r\n"]  # bad CRC: quarantined
        decoder = ingest.decoder()
        events = [e for raw in raws for e in decoder.feed(raw)] + decoder.flush()
        ingest.record(
            [ingest.prepare(e, peer="10.0.0.7:5000", received_us=US0 + i) for i, e in enumerate(events)]
        )
        store.columns(GAS, "minute", T0 - DAY, T0 + DAY)
        assert verify(store, None).ok
        assert store.derived_problems() == []
        row = store.overview([GAS])[0]
        assert row["frames"] == 8 and row["last_received_us"] == US0 + 7
        assert row["latest"]["a21026"] == {
            "kind": "minute",
            "time": T0 + 240,
            "value": 14.5,
            "zs": None,
            "flag": "N",
        }


def test_the_newest_reading_only_moves_forward(db_url: str, registry_file: Path) -> None:
    rng = random.Random(1)
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))

        def minute(t: int, v: float, i: int, received: int) -> tuple[FrameRow, list[ReadingRow]]:
            row = ReadingRow(GAS, "minute", "a21026", t, "a21026", {"avg": v, "zs_avg": v * 2}, "N")
            return frame(rng, i, GAS, received_us=received), [row]

        store.write([minute(T0 + 600, 10.0, 1, US0 + 5)])
        store.write([minute(T0 + 60, 99.0, 2, US0 + 3)])  # a back-fill: older data, received earlier too
        row = store.overview([GAS])[0]
        assert row["latest"]["a21026"] == {
            "kind": "minute",
            "time": T0 + 600,
            "value": 10.0,
            "zs": 20.0,
            "flag": "N",
        }
        assert (row["frames"], row["last_received_us"]) == (2, US0 + 5)
        # the same reading sent again with other values: the first one stays, and the duplicate frame counts
        again = minute(T0 + 600, 55.0, 3, US0 + 9)
        store.write([again])
        store.write([(frame(rng, 4, GAS, raw=again[0].raw, received_us=US0 + 11), again[1])])  # duplicate
        store.write([(frame(rng, 5, GAS, status="quarantine", received_us=US0 + 20), [])])
        row = store.overview([GAS])[0]
        assert row["latest"]["a21026"]["value"] == 10.0
        assert (row["frames"], row["last_received_us"]) == (4, US0 + 11)
        # a real-time value as new as the minute value wins; hourly values are apart
        rtd = ReadingRow(GAS, "rtd", "a21026", T0 + 600, "a21026", {"rtd": 7.5, "zs_rtd": 8.5}, "N")
        hour = ReadingRow(GAS, "hour", "a21026", T0, "a21026", {"avg": 12.0}, "N")
        store.write([(frame(rng, 6, GAS), [rtd, hour])])
        row = store.overview([GAS])[0]
        assert row["latest"]["a21026"] == {
            "kind": "rtd",
            "time": T0 + 600,
            "value": 7.5,
            "zs": 8.5,
            "flag": "N",
        }
        assert row["hourly"]["a21026"] == {"kind": "hour", "time": T0, "value": 12.0, "zs": None, "flag": "N"}
        assert store.overview([]) == []
        assert [r["mn"] for r in store.overview({WATER, STRANGER})] == [WATER]
        water = store.overview([WATER])[0]
        assert (water["frames"], water["last_received_us"], water["latest"], water["hourly"]) == (
            0,
            None,
            {},
            {},
        )
        assert store.channel_codes(GAS, "minute") == ["a21026"]
        assert store.derived_problems() == []


def test_a_damaged_derived_table_is_reported(sqlite_url: str, registry_file: Path) -> None:
    rng = random.Random(2)
    with open_store(sqlite_url) as store:
        store.load_registry(load_registry(registry_file))
        store.write(random_batch(rng, [], 40))
        store.columns(GAS, "minute", T0, T0 + 7 * DAY)
        assert store.derived_problems() == []
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE point_latest SET frames = frames + 1 WHERE mn = :mn"), {"mn": GAS})
            conn.execute(text("UPDATE point_latest SET minute = '{}' WHERE mn = :mn"), {"mn": WATER})
            conn.execute(text("UPDATE series_cache SET n = n + 1 WHERE mn = :mn"), {"mn": GAS})
        found = store.derived_problems(limit=1000)
        assert any(p.startswith(f"point_latest {GAS}") for p in found)
        assert any(p.startswith(f"point_latest {WATER}") for p in found)
        assert any(p.startswith(f"series_cache {GAS}/minute/") for p in found)


def test_migration_backfills_the_derived_tables(db_url: str, registry_file: Path) -> None:
    """A database written before revision 0007 gets its derived tables computed from what it holds."""
    rng = random.Random(3)
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        written: list[Any] = []
        for _ in range(4):
            batch = random_batch(rng, written, 40)
            store.write(batch)
            written += batch
        want = without_ids(store.overview())
    engine = make_engine(db_url)
    try:  # back to revision 0006: the derived tables never existed
        downgrade(engine, "0006")
        assert current_revision(engine) == "0006"
        assert "point_latest" not in inspect(engine).get_table_names()
        upgrade(engine)
    finally:
        engine.dispose()
    with open_store(db_url) as store:
        assert current_revision(store.engine) == head_revision()
        assert store.derived_problems() == []
        assert without_ids(store.overview()) == want == expected_overview(store)


# ----------------------------------------------------------------------------------------------- the cache
def minute_batch(
    mn: str, start: int, minutes: int, *, codes: tuple[str, ...] = CODES[:2], v: float = 1.0
) -> list[Any]:
    out = []
    for m in range(minutes):
        t = start + 60 * m
        raw = b"%s %d %s %r" % (mn.encode(), t, ",".join(codes).encode(), v)
        f = FrameRow(US0 + m, "p", "tcp", "hj212", raw, hashlib.sha256(raw).digest(), mn=mn, cn="2051")
        rows = [
            ReadingRow(mn, "minute", c, t, c, {"avg": round(v + m / 100, 2), "min": v, "max": 2 * v + m}, "N")
            for c in codes
        ]
        out.append((f, rows))
    return out


def test_cached_days_equal_the_readings_and_back_fills_invalidate_them(
    db_url: str, registry_file: Path
) -> None:
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        store.write(minute_batch(GAS, T0, 3 * 1440 // 2 + 7))  # a day and a half and a bit
        a, b = T0 - DAY, T0 + 3 * DAY
        first = store.columns(GAS, "minute", a, b)
        assert sorted(first) == ["a21002", "a21026"]
        assert all(same(c, from_readings(store, GAS, "minute", code, a, b)) for code, c in first.items())
        assert cache_rows(store) == 2 * 4  # two channels × four whole days (the empty ones too)
        assert (
            store.columns(GAS, "minute", a, b, ["a21026"])["a21026"].t.tolist() == first["a21026"].t.tolist()
        )
        # back-fill into the second day: its rows go, the others stay, and the next read sees the new readings
        store.write(minute_batch(GAS, T0 + DAY + 12 * 3600 + 30, 5, v=7.0))
        assert cache_rows(store) == 2 * 3
        again = store.columns(GAS, "minute", a, b)
        assert all(same(c, from_readings(store, GAS, "minute", code, a, b)) for code, c in again.items())
        assert len(again["a21026"]) == len(first["a21026"]) + 5
        # a new channel in an old day
        store.write(minute_batch(GAS, T0 + 3600 + 15, 2, codes=("a34013",)))
        got = store.columns(GAS, "minute", a, b, ["a34013", "a21026"])
        assert len(got["a34013"]) == 2
        assert same(got["a21026"], from_readings(store, GAS, "minute", "a21026", a, b))
        # a range inside one day, and the empty range
        inside = store.columns(GAS, "minute", T0 + 600, T0 + 1200, ["a21026"])["a21026"]
        assert inside.t.tolist() == list(range(T0 + 600, T0 + 1200, 60))
        assert len(store.columns(GAS, "minute", T0 + 600, T0 + 600, ["a21026"])["a21026"]) == 0
        assert store.columns(WATER, "minute", a, b) == {}
        assert store.derived_problems() == []


def test_a_day_written_while_it_was_read_is_not_cached(db_url: str, registry_file: Path) -> None:
    """The reader fills the cache after the write: the day it read before the write must not be kept."""
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        store.write(minute_batch(GAS, T0, 2 * 1440))
        pending: list[Any] = []
        store.columns(GAS, "minute", T0, T0 + 2 * DAY, defer=pending)
        assert cache_rows(store) == 0 and len(pending) == 1
        store.write(minute_batch(GAS, T0 + DAY + 30, 3, codes=("a21026",), v=3.0))  # into day 2 of a21026
        assert store.fill_cache(pending[0]) == 3  # day 1 of both channels, day 2 of a21002
        assert store.derived_problems() == []
        got = store.columns(GAS, "minute", T0, T0 + 2 * DAY)
        assert len(got["a21026"]) == 2 * 1440 + 3
        assert store.derived_problems() == []


def cache_uptos(store: Store, code: str) -> dict[int, int]:
    with store.engine.connect() as conn:
        q = text("SELECT day, upto FROM series_cache WHERE pollutant = :p")
        return {int(d): int(u) for d, u in conn.execute(q, {"p": code})}


def test_today_is_cached_up_to_its_newest_reading(db_url: str, registry_file: Path) -> None:
    """Live data arrive after a row's span and leave it alone; a late reading inside the span drops it."""
    import time

    today = int(time.time()) // DAY * DAY
    a, b = today - DAY, today + DAY
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        store.write(
            minute_batch(GAS, today - 120, 122)
        )  # yesterday's last two minutes, today's first two hours

        def check() -> Columns:
            # both channels: their rows' later readings read together
            found = store.columns(GAS, "minute", a, b)
            assert sorted(found) == ["a21002", "a21026"]
            for code, got in found.items():
                assert same(got, from_readings(store, GAS, "minute", code, a, b))
            assert store.derived_problems() == []
            return found["a21026"]

        assert len(check()) == 122
        assert cache_uptos(store, "a21026") == {today // DAY - 1: today, today // DAY: today + 119 * 60 + 1}
        store.write(minute_batch(GAS, today + 120 * 60, 5, v=2.0))  # live: after the row's span
        assert cache_uptos(store, "a21026")[today // DAY] == today + 119 * 60 + 1  # kept, and read past
        assert len(check()) == 127
        assert cache_uptos(store, "a21026")[today // DAY] == today + 119 * 60 + 1  # five more: not made again
        store.write(minute_batch(GAS, today + 125 * 60, 70, v=3.0))
        assert len(check()) == 197
        assert cache_uptos(store, "a21026")[today // DAY] == today + 194 * 60 + 1  # seventy more: made again
        store.write(minute_batch(GAS, today + 30, 1, v=4.0))  # a late reading inside the span
        assert today // DAY not in cache_uptos(store, "a21026")
        assert today // DAY - 1 in cache_uptos(store, "a21026")  # another day: untouched
        assert len(check()) == 198
        store.write(minute_batch(GAS, today - 90, 1, v=5.0))  # a back-fill into yesterday
        assert today // DAY - 1 not in cache_uptos(store, "a21026")
        assert len(check()) == 199
        with store.snapshot() as view:  # a snapshot reads and never writes
            pending: list[Any] = []
            view.columns(GAS, "minute", a - 3 * DAY, a, ["a21002"], defer=pending)
            assert pending and view.fill_cache(pending[0]) == 0


def test_warming_makes_the_rows_of_ended_days_a_month_needs(db_url: str, registry_file: Path) -> None:
    """Ended days without whole rows are found and made; today is left to the requests; a back-fill's day is made
    again; after warming, a month's read puts no row."""
    import time

    today = int(time.time()) // DAY
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        store.write(minute_batch(GAS, (today - 3) * DAY + 600, 3 * 1440))  # from 3 days ago into today
        store.write(minute_batch(WATER, (today - 40) * DAY, 30, codes=("w01018",)))  # before the window
        assert store.cache_gaps(5) == [
            (GAS, "minute", today - 5, today - 1),
            (WATER, "minute", today - 5, today - 1),
        ]
        assert store.cache_gaps(5, [WATER]) == [(WATER, "minute", today - 5, today - 1)]
        # a request made the row of one day: partly there still counts as a gap
        store.columns(GAS, "minute", (today - 2) * DAY, (today - 1) * DAY, ["a21026"])
        assert cache_rows(store) == 1
        seen: list[tuple[int, int]] = []
        made = store.warm_cache(5, progress=lambda done, total: seen.append((done, total)))
        assert made == 2 * 5 - 1 + 5  # two gas channels × five days, but the one made; five empty water days
        assert seen == [(1, 2), (2, 2)]
        assert store.cache_gaps(5) == [] and store.warm_cache(5) == 0
        pending: list[Any] = []
        month = store.columns(GAS, "minute", (today - 5) * DAY, today * DAY, defer=pending)
        assert pending == []  # every day came from the cache
        for code, got in month.items():
            assert same(got, from_readings(store, GAS, "minute", code, (today - 5) * DAY, today * DAY))
        # a back-fill drops its day's rows; warming makes them again
        store.write(minute_batch(GAS, (today - 2) * DAY + 30, 2, v=9.0))
        assert store.cache_gaps(5) == [(GAS, "minute", today - 2, today - 2)]
        assert store.warm_cache(5) == 2
        assert store.derived_problems() == []
        store.write(minute_batch(GAS, (today - 1) * DAY + 30, 1, v=9.0))
    from typer.testing import CliRunner

    from envtrust.cli import app

    result = CliRunner().invoke(app, ["cache", "warm", "--days", "5", "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"gaps": 1, "point_kinds": 1, "rows": 2}
    result = CliRunner().invoke(app, ["cache", "warm", "--days", "5", "--db", db_url])
    assert result.exit_code == 0 and "0 rows" in result.stdout


# ----------------------------------------------------------------------------------------------- the codec
decimals = st.integers(-(10**9), 10**9).flatmap(lambda k: st.sampled_from([k / 10**d for d in range(0, 8)]))
numbers = st.one_of(decimals, st.floats(allow_nan=False, allow_infinity=False), st.just(-0.0), st.none())


@given(
    st.lists(
        st.tuples(
            numbers, numbers, numbers, numbers, numbers, st.sampled_from(["N", "F", None, "", "Dx", "脱"])
        ),
        max_size=60,
    ),
    st.integers(0, 30000),
)
@settings(max_examples=300, deadline=None)
def test_pack_round_trips_exactly(rows: list[tuple[Any, ...]], day: int) -> None:
    times = sorted(random.Random(len(rows)).sample(range(DAY), len(rows)))
    c = columns_from_rows([(day * DAY + t, *r) for t, r in zip(times, rows, strict=True)])
    back = unpack(pack(c, day), day)
    assert back.t.tolist() == c.t.tolist() and back.flag == c.flag
    for name in ("value", "min", "max", "zs", "cou"):
        x, y = getattr(c, name), getattr(back, name)
        assert [None if math.isnan(v) else (v, math.copysign(1, v)) for v in x.tolist()] == [
            None if math.isnan(v) else (v, math.copysign(1, v)) for v in y.tolist()
        ]


def fewest_decimals(xs: list[float]) -> int | None:
    """The same decision in plain Python: the fewest decimals that give every value back exactly."""
    if any(x == 0 and math.copysign(1, x) < 0 for x in xs) or any(abs(x) >= 2**53 for x in xs):
        return None
    for d in range(7):
        if all(abs(round(x * 10**d)) < 2**53 and round(x * 10**d) / 10**d == x for x in xs):
            return d
    return None


@given(st.lists(numbers, max_size=40))
@settings(max_examples=300, deadline=None)
def test_decimal_scale_is_exact_or_declines(values: list[float | None]) -> None:
    present = [x for x in values if x is not None]
    found = decimal_scale(np.array(values, dtype=np.float64))
    if found is None:
        assert not present or fewest_decimals(present) is None
        return
    d, k, missing = found
    assert d == fewest_decimals(present) and missing == (None in values)
    for x, n in zip(values, k.tolist(), strict=True):
        assert n == NONE64 if x is None else (abs(n) < 2**53 and n / 10**d == x)


def test_decimal_scale_examples() -> None:
    d, k, missing = decimal_scale(np.array([12.5, None, 3.25], dtype=np.float64))  # type: ignore[misc]
    assert (d, k.tolist(), missing) == (2, [1250, NONE64, 325], True)
    assert decimal_scale(np.array([0.1 + 0.2], dtype=np.float64)) is None
    assert decimal_scale(np.array([1e300], dtype=np.float64)) is None


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.integers(0, DAY - 1),
            numbers,
            numbers,
            st.one_of(st.none(), st.integers(0, 10**7).map(lambda k: k / 100)),
            st.sampled_from(["N", "F", None, "脱"]),
        ),
        max_size=150,
        unique_by=lambda r: (r[0], r[1]),
    ),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
@settings(max_examples=200, deadline=None)
def test_days_assemble_into_the_same_columns(rows: list[tuple[Any, ...]], packed: list[bool]) -> None:
    """Days packed or not, in any mix, decode together into exactly the columns they came from."""
    full = sorted((d * DAY + off, v, lo, hi, None, flag) for d, off, v, lo, hi, flag in rows)
    c = columns_from_rows([(t, v, lo, hi, None, None, flag) for t, v, lo, hi, _, flag in full])
    parts: list[tuple[int, bytes | Columns]] = []
    for d, part in sorted(c.split_days().items()):
        parts.append((d, pack(part, d) if packed[d] else part))
    got = assemble(parts)
    assert same(got, c)
    assert [None if math.isnan(x) else math.copysign(1, x) for x in got.value.tolist()] == [
        None if math.isnan(x) else math.copysign(1, x) for x in c.value.tolist()
    ]


def test_loggers_decimals_pack_small() -> None:
    """A day of minute values with two decimals: 16-bit offsets and 16-bit time steps (5 bytes a reading with the
    flag, against 13 for float64 and 32-bit times); wider values and gaps take the wider forms, exactly."""
    rows = [(60 * i, round(10 + i / 7, 2), None, None, None, None, "N") for i in range(1440)]
    c = columns_from_rows(rows)
    assert len(pack(c, 0)) < 1440 * 5 + 64
    assert same(unpack(pack(c, 0), 0), c)
    wide = columns_from_rows(
        [(0, 0.01, None, None, None, None, "N"), (70000, 99999.99, None, None, None, None, "F")]
    )
    assert len(pack(wide, 0)) > len(pack(columns_from_rows(rows[:2]), 0))  # 32-bit values and times
    later = columns_from_rows(
        [(3 * DAY + 5, 0.5, None, None, None, None, "N")]
    )  # a day that is not the first
    assert same(unpack(pack(later, 3), 3), later)
    assert same(unpack(pack(wide, 0), 0), wide)


@given(st.lists(st.integers(0, 10**6), unique=True, max_size=80), st.integers(1, 5))
def test_time_runs_give_back_the_times(offsets: list[int], regular: int) -> None:
    t = np.array(sorted(offsets) + [10**7 + 60 * i for i in range(regular * 7)], dtype=np.int64)
    found = runs(t)
    assert [first + step * i for first, step, count in found for i in range(count)] == t.tolist()
    assert all(count >= 1 for _, _, count in found)
    assert len(runs(np.arange(0, 60 * 1000, 60, dtype=np.int64))) == 1


@pytest.mark.parametrize("gaps", [0, 1, 5])
def test_a_regular_series_with_gaps_needs_one_run_per_gap(gaps: int) -> None:
    t = np.arange(0, 60 * 1440, 60, dtype=np.int64)
    for g in range(gaps):
        t = t[(t < 1000 * (g + 1) * 10) | (t >= 1000 * (g + 1) * 10 + 600)]
    assert len(runs(t)) == gaps + 1


def test_postgresql_columns_come_in_time_order_whatever_the_plan(db_url: str, registry_file: Path) -> None:
    """PostgreSQL aggregates a channel without sorting; a plan that reads rows out of time order is put right
    (SQLite reads rows in key order)."""
    from envtrust.store.postgres import channel_columns

    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        for part in (2, 0, 1):  # written out of time order: a table scan returns them so
            batch = minute_batch(GAS, T0 + part * 600, 10, codes=("a21026",), v=float(part))
            for _, rows in batch:
                rows[0].flag = "脱" if part == 1 else rows[0].flag
            store.write(batch)
        want = from_readings(store, GAS, "minute", "a21026", T0, T0 + DAY)
        assert same(store.columns(GAS, "minute", T0, T0 + DAY, ["a21026"])["a21026"], want)
        if store.dialect == "sqlite":
            return
        with store.engine.connect() as conn:
            for option in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                conn.execute(text(f"SET {option} = off"))
            got = channel_columns(conn, "minute", (GAS, "minute", "a21026", T0, T0 + DAY))
            plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN SELECT * FROM readings WHERE mn = 'x'")))
        assert "Seq Scan" in plan
        assert same(got, want) and got.t.tolist() == sorted(got.t.tolist()) and "脱" in got.flag


def test_migration_0008_turns_the_stored_entries_into_objects(db_url: str, registry_file: Path) -> None:
    """Rows written by revision 0007 (entries as [time, value, zs, flag]) read the same after 0008."""
    rng = random.Random(8)
    with open_store(db_url) as store:
        store.load_registry(load_registry(registry_file))
        store.write(random_batch(rng, [], 60))
        want = without_ids(store.overview())
    engine = make_engine(db_url)
    try:
        downgrade(engine, "0008")  # the revisions after it
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT mn, rtd, minute, hour, day FROM point_latest")).all()
            assert rows
            for mn, *texts in rows:
                old = [
                    orjson.dumps(
                        {c: [e["time"], e["value"], e["zs"], e["flag"]] for c, e in orjson.loads(x).items()}
                    ).decode()
                    if x
                    else x
                    for x in texts
                ]
                conn.execute(
                    text("UPDATE point_latest SET rtd = :a, minute = :b, hour = :c, day = :d WHERE mn = :mn"),
                    {"mn": mn, "a": old[0], "b": old[1], "c": old[2], "d": old[3]},
                )
            conn.execute(text("UPDATE alembic_version SET version_num = '0007'"))
        upgrade(engine)
    finally:
        engine.dispose()
    with open_store(db_url) as store:
        assert current_revision(store.engine) == head_revision()
        assert store.derived_problems() == []
        assert without_ids(store.overview()) == want
