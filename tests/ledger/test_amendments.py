"""Corrections never overwrite: amendments are entries naming what they amend, who, why and when."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.registry import load_registry
from envtrust.services import Ingest, amend_reading, reading_history
from envtrust.store import open_store
from envtrust.verify import verify

T = 1767225600  # 2026-01-01T08:00+08:00, the DataTime 20260101080000 in Asia/Shanghai


def filled(url: str, registry_file: Path, make_frame) -> None:  # type: ignore[no-untyped-def]
    with open_store(url) as store:
        ingest = Ingest(store)
        ingest.load_registry(load_registry(registry_file))
        raw = make_frame("2051", items={"a21026": {"Avg": "12.5", "Max": "20.0", "Flag": "N"}})
        ingest.record([ingest.prepare(e, peer="p") for e in make_frame.decode(raw, ingest.decoder())])


def test_an_amendment_keeps_the_original_and_shows_the_history(
    db_url: str, registry_file: Path, make_frame
) -> None:  # type: ignore[no-untyped-def]
    filled(db_url, registry_file, make_frame)
    mn = make_frame.gas_mn
    with open_store(db_url) as store:
        rid, idx = amend_reading(
            store,
            mn=mn,
            kind="minute",
            pollutant="a21026",
            data_time=T,
            changes={"avg": "13", "flag": "M"},
            who="运维员 张三",
            why="校准后修正 / corrected after calibration",
        )
        assert idx == store.ledger_size() - 1
        h = reading_history(store, mn, "minute", "a21026", T)
        assert h is not None
        assert h["original"]["avg"] == 12.5 and h["original"]["flag"] == "N"  # type: ignore[index]
        assert h["current"]["avg"] == 13.0 and h["current"]["flag"] == "M"  # type: ignore[index]
        assert [a["who"] for a in h["amendments"]] == ["运维员 张三"]  # type: ignore[union-attr]
        assert store.reading_at(mn, "minute", "a21026", T)["avg"] == 12.5  # type: ignore[index]
        assert verify(store, None).ok
        # tampering with the amendment (who made it) is caught
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE amendments SET who = 'someone else' WHERE id = :i"), {"i": rid})
        found = [str(p) for p in verify(store, None).problems]
        assert found and f"amendments row {rid}" in found[0]
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM amendments"))
        found = [str(p) for p in verify(store, None).problems]
        assert found and f"ledger entry {idx}: records amendments row {rid}, which is missing" in found[0]


@pytest.mark.parametrize(
    ("changes", "who", "why", "message"),
    [
        ({"avg": "x"}, "a", "b", "must be a number"),
        ({"avg": "nan"}, "a", "b", "finite"),
        ({"flag": "Q"}, "a", "b", "data flag"),
        ({"raw": "1"}, "a", "b", "cannot be amended"),
        ({"avg": "1"}, "", "b", "who"),
        ({}, "a", "b", "nothing to change"),
    ],
)
def test_bad_amendments_are_refused(
    sqlite_url: str,
    registry_file: Path,
    make_frame,
    changes: dict[str, object],
    who: str,
    why: str,
    message: str,
) -> None:  # type: ignore[no-untyped-def]
    filled(sqlite_url, registry_file, make_frame)
    with open_store(sqlite_url) as store, pytest.raises(ValueError, match=message):
        amend_reading(
            store,
            mn=make_frame.gas_mn,
            kind="minute",
            pollutant="a21026",
            data_time=T,
            changes=changes,
            who=who,
            why=why,
        )


def test_amend_and_history_commands(sqlite_url: str, registry_file: Path, make_frame) -> None:  # type: ignore[no-untyped-def]
    filled(sqlite_url, registry_file, make_frame)
    runner = CliRunner()
    mn = make_frame.gas_mn
    args = [mn, "minute", "a21026", "2026-01-01T08:00:00", "--db", sqlite_url]
    done = runner.invoke(
        app, ["amend", *args, "--set", "avg=14.2", "--who", "李四", "--why", "manual comparison"]
    )
    assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["history", *args])
    assert shown.exit_code == 0, shown.output
    assert "avg=12.5" in shown.output and "avg=14.2" in shown.output and "李四" in shown.output
    missing = runner.invoke(
        app, ["history", mn, "minute", "a21026", "2026-01-02T08:00:00", "--db", sqlite_url]
    )
    assert missing.exit_code == 2 and "no minute reading" in missing.output
