"""Monthly partitions of the readings on PostgreSQL: conversion keeps every row, writes go on, months are added,
data from a far-off clock waits in the default partition until its month is created."""

from __future__ import annotations

import calendar
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from envtrust import hj212
from envtrust.cli import app
from envtrust.errors import StoreError
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import open_store
from envtrust.verify import verify
from integration.test_gateway import MN, REGISTRY

pytestmark = pytest.mark.postgres

NOW = calendar.timegm((2026, 3, 15, 0, 0, 0))


def store_minutes(ingest: Ingest, stamps: list[str]) -> None:
    items = [hj212.Item(c, {"Avg": "12.5", "Flag": "N"}, c) for c in ("a21026", "a21002", "a34013")]
    frames = [
        hj212.upload(
            qn=f"2026010100000000{i}", st="31", cn="2051", pw="123456", mn=MN, data_time=t, items=items
        )
        for i, t in enumerate(stamps)
    ]
    batch = [ingest.prepare(e, peer="t:1") for e in ingest.decoder().feed(b"".join(frames))]
    assert all(p.row.status == "ok" for p in batch)
    ingest.record(batch)


def test_readings_partitioned_by_month_keep_every_row_and_take_new_ones(pg_url: str) -> None:
    with open_store(pg_url) as store:
        store.load_registry(parse_registry(REGISTRY))
        ingest = Ingest(store)
        store_minutes(ingest, ["20260105080000", "20260210080000", "20260301080000"])
        before = store.status().readings
        created = store.partition_readings(months_ahead=2, now=NOW)
        assert created == [f"readings_2026_{m:02d}" for m in (1, 2, 3, 4, 5)]
        parts = {p.name: p for p in store.readings_partitions()}
        assert set(parts) == {*created, "readings_default"}
        assert parts["readings_2026_03"].start == NOW - 14 * 86400
        assert store.status().readings == before
        with store.engine.connect() as conn:
            n = conn.execute(text("select count(*) from readings_2026_02")).scalar_one()
        assert n == before // 3
        # writes go on: a new month, a repeat (not stored twice) and a logger clock years ahead
        store_minutes(ingest, ["20260420080000", "20260105080000", "20990115000000"])
        assert store.status().readings == before + 2 * (before // 3)
        with store.engine.connect() as conn:
            assert conn.execute(text("select count(*) from readings_default")).scalar_one() == before // 3
        assert store.partition_readings(months_ahead=2, now=NOW) == [
            "readings_2099_01"
        ]  # moved out of default
        with store.engine.connect() as conn:
            assert conn.execute(text("select count(*) from readings_default")).scalar_one() == 0
            assert conn.execute(text("select count(*) from readings_2099_01")).scalar_one() == before // 3
        assert store.partition_readings(months_ahead=2, now=NOW) == []
        report = verify(store, None)
        assert report.ok, report.problems


def test_partitions_command_and_its_refusal_on_sqlite(pg_url: str, sqlite_url: str) -> None:
    runner = CliRunner()
    with open_store(pg_url) as store:
        store.load_registry(parse_registry(REGISTRY))
    done = runner.invoke(app, ["cluster", "partitions", "--db", pg_url, "--months-ahead", "1", "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert len(doc["created"]) == 2 and {p["name"] for p in doc["partitions"]} >= {"readings_default"}
    listed = runner.invoke(app, ["cluster", "partitions", "--db", pg_url, "--list"])
    assert listed.exit_code == 0 and "readings_default" in listed.stdout
    with open_store(sqlite_url) as store, pytest.raises(StoreError, match="PostgreSQL feature"):
        store.partition_readings()
    refused = runner.invoke(app, ["cluster", "partitions", "--db", sqlite_url])
    assert refused.exit_code == 2 and "PostgreSQL" in refused.output


def test_cluster_status_lists_the_leases(pg_url: str) -> None:
    with open_store(pg_url) as store:
        assert store.acquire_lease("bus/1", "w1", 10.0) == 1
        assert store.acquire_lease("bus/1", "w2", 10.0) is None  # held
        assert store.acquire_lease("bus/0", "w2", 0.0) == 1
        assert store.acquire_lease("bus/0", "w2", 10.0) == 1  # a late renewal by the holder keeps the epoch
        assert store.acquire_lease("sequencer", "w1", 0.0) == 1  # expires at once
        assert store.acquire_lease("sequencer", "w2", 10.0) == 2  # taken over: a higher epoch
    runner = CliRunner()
    done = runner.invoke(app, ["cluster", "status", "--db", pg_url, "--json"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [(r["name"], r["holder"], r["epoch"], r["live"]) for r in rows] == [
        ("bus/0", "w2", 1, True),
        ("bus/1", "w1", 1, True),
        ("sequencer", "w2", 2, True),
    ]
    table = runner.invoke(app, ["cluster", "status", "--db", pg_url])
    assert table.exit_code == 0 and "sequencer" in table.stdout
