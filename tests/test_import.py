"""``envtrust import``: frames logs and CSV through the gateway's service path, with line-numbered problems."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.errors import ImportFormatError
from envtrust.ingest.importer import import_file
from envtrust.registry import load_registry
from envtrust.services import Ingest
from envtrust.store import open_store
from envtrust.verify import verify

if TYPE_CHECKING:
    from conftest import FrameFactory

GAS = "21010012345678"
WATER = "21010087654321"


def frames_log(make_frame: FrameFactory) -> tuple[bytes, dict[int, bytes]]:
    """A frames log as platforms keep them; returns the file and the frame bytes by line number."""
    lines: dict[int, bytes] = {
        1: make_frame(data_time="20260101080000"),
        2: make_frame(data_time="20260101080100", eol=b"\n"),
        3: b"\n",
        4: b"this line is not a frame\r\n",
        5: make_frame(data_time="20260101080200", crc="bad"),
        6: b"\r\n",
        7: make_frame(mn=make_frame.unknown_mn, data_time="20260101080300", eol=b"\n"),
        8: make_frame("2061", mn=WATER, items={"w01018": {"Avg": "21.5", "Flag": "N"}}),
        9: make_frame(data_time="20260101080400", eol=b""),  # the last line has no line end
    }
    return b"".join(lines.values()), lines


def test_a_frames_log_reports_problems_by_line_and_keeps_bytes_exactly(
    ingest: Ingest, make_frame: FrameFactory, tmp_path: Path
) -> None:
    data, lines = frames_log(make_frame)
    path = tmp_path / "frames.log"
    path.write_bytes(data)
    report = import_file(ingest, path)
    assert report.format == "frames"
    assert [(p.line, p.code) for p in report.problems] == [(4, "garbage"), (5, "bad_crc"), (7, "unknown_mn")]
    assert all(p.reason for p in report.problems)
    assert (report.records, report.stored, report.already_stored) == (7, 7, 0)
    assert (report.quarantined, report.duplicates, report.readings_new) == (3, 0, 4)

    stored = list(ingest.store.frames())
    by_raw = {f["raw"]: f for f in stored}
    for n in (1, 2, 5, 7, 8, 9):
        assert lines[n] in by_raw, f"line {n} not stored byte-exact"
        assert by_raw[lines[n]]["origin"] == "import"
        assert by_raw[lines[n]]["peer"] == f"file:frames.log:{n}"
    assert by_raw[lines[2]]["raw"].endswith(b"&&" + lines[2][-5:-1] + b"\n")  # LF kept as LF
    [garbage] = [f for f in stored if f["format"] == "garbage"]
    assert garbage["raw"].strip() == b"this line is not a frame"
    assert garbage["raw"] in data
    statuses = {n: by_raw[lines[n]]["status"] for n in (1, 2, 5, 7, 8, 9)}
    assert statuses == {1: "ok", 2: "ok", 5: "quarantine", 7: "quarantine", 8: "ok", 9: "ok"}
    assert verify(ingest.store, None).ok


def test_importing_the_same_file_twice_stores_nothing_the_second_time(
    db_url: str, registry_file: Path, make_frame: FrameFactory, tmp_path: Path
) -> None:
    data, _ = frames_log(make_frame)
    log = tmp_path / "frames.log"
    log.write_bytes(data)
    csv = tmp_path / "values.csv"
    csv.write_text(
        "mn,pollutant,time,value,flag\n"
        f"{GAS},a21026,2026-01-02T08:00:00,12.5,N\n"
        f"{GAS},a21026,2026-01-02T09:00:00,oops,N\n",
        encoding="utf-8",
    )
    with open_store(db_url) as store:
        ingest = Ingest(store)
        ingest.load_registry(load_registry(registry_file))
        first = [import_file(ingest, log), import_file(ingest, csv)]
        before = store.status()
        second = [import_file(ingest, log), import_file(ingest, csv)]
        after = store.status()
    assert [r.stored for r in first] == [7, 2]
    for again in second:
        assert again.already_stored == again.records > 0
        assert (again.stored, again.quarantined, again.readings_new, again.problems) == (0, 0, 0, [])
    assert (after.frames, after.readings, after.ledger_size) == (
        before.frames,
        before.readings,
        before.ledger_size,
    )


def test_a_packet_repeated_in_a_log_is_kept_as_a_duplicate(
    ingest: Ingest, make_frame: FrameFactory, tmp_path: Path
) -> None:
    """A logger that got no reply sends the packet again; the log has both copies, and so must the store."""
    frame = make_frame()
    path = tmp_path / "resent.log"
    path.write_bytes(frame + frame)
    report = import_file(ingest, path)
    assert (report.records, report.stored, report.duplicates, report.already_stored) == (2, 2, 1, 0)
    assert [f["status"] for f in ingest.store.frames()] == ["ok", "duplicate"]
    assert ingest.store.reading_count() == 1
    again = import_file(ingest, path)
    assert (again.stored, again.already_stored) == (0, 2)


def test_a_problem_after_the_first_chunk_has_its_line_number(
    ingest: Ingest, make_frame: FrameFactory, tmp_path: Path
) -> None:
    good = [
        make_frame("2011", data_time=f"202601010{h}{m:02d}{s:02d}")
        for h in range(8)
        for m in range(60)
        for s in (0, 30)
    ][:700]
    data = b"".join(good) + b"garbage after 64 KiB\r\n" + make_frame(crc="bad")
    assert len(data) > 1 << 16
    path = tmp_path / "big.log"
    path.write_bytes(data)
    report = import_file(ingest, path)
    assert [(p.line, p.code) for p in report.problems] == [(701, "garbage"), (702, "bad_crc")]
    assert report.stored == 702
    assert ingest.store.reading_count() == 700


# ----------------------------------------------------------------------------------------------- CSV
def test_a_csv_with_a_header_reports_bad_lines(ingest: Ingest, tmp_path: Path) -> None:
    text = (
        "\ufeffMN,Pollutant,Time,Value,Flag,Kind\r\n"
        f"{GAS},a21026,2026-01-01T08:00:00,12.5,N,hour\r\n"
        f"{GAS},a21026,2026-01-01T09:00:00,abc,N,hour\r\n"
        f"99999999999999,a21026,2026-01-01T08:00:00,1,N,hour\r\n"
        "\r\n"
        f"{WATER},w01018,2026-01-01,20,N,day\r\n"
        f"{GAS},a21026,yesterday,1,N,\r\n"
    )
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8", newline="")
    report = import_file(ingest, path)
    assert report.format == "csv"
    assert [(p.line, p.code) for p in report.problems] == [(3, "bad_csv"), (4, "unknown_mn"), (7, "bad_csv")]
    assert "value" in report.problems[0].reason and "time" in report.problems[2].reason
    assert (report.records, report.stored, report.quarantined, report.readings_new) == (5, 5, 3, 2)
    readings = {r["kind"]: r for r in ingest.store.readings()}
    assert readings["hour"]["avg"] == 12.5 and readings["hour"]["mn"] == GAS
    assert readings["day"]["avg"] == 20.0 and readings["day"]["mn"] == WATER
    raws = [f["raw"] for f in ingest.store.frames()]
    assert raws[0] == f"{GAS},a21026,2026-01-01T08:00:00,12.5,N,hour".encode()
    assert all(f["format"] == "csv" and f["origin"] == "import" for f in ingest.store.frames())


def test_a_csv_without_a_header(ingest: Ingest, tmp_path: Path) -> None:
    path = tmp_path / "export.txt"  # not named .csv: recognised by its commas
    path.write_text(
        f"{GAS},a21026,2026-01-01T08:00:00+08:00,12.5,N\n"
        f"{GAS},a21002,2026-01-01T08:00:00+08:00,30,X\n"
        f"{WATER},w01018,2026-01-01T08:00:00+08:00,7,N,minute\n",
        encoding="utf-8",
    )
    report = import_file(ingest, path)
    assert report.format == "csv"
    assert [(p.line, p.code) for p in report.problems] == [(2, "bad_csv")]
    assert "flag" in report.problems[0].reason
    assert sorted((r["mn"], r["kind"]) for r in ingest.store.readings()) == [(GAS, "hour"), (WATER, "minute")]


def test_csv_raw_records_are_the_lines_they_came_from(ingest: Ingest, tmp_path: Path) -> None:
    """CR line ends, characters that str.splitlines() takes for line ends (U+2028, form feed), a quoted newline."""
    lines = [
        "mn,pollutant,time,value,flag\r",
        f"{GAS},a21026,2026-01-01T08:00:00,1,N\u2028\r",
        f"{GAS},a21026,2026-01-01T09:00:00,2,N\x0c\r",
        f'{GAS},a21026,2026-01-01T10:00:00,"3\n",N\r',  # one record on lines 4 and 5
        f"{GAS},a21026,2026-01-01T11:00:00,x,N\r",
    ]
    path = tmp_path / "odd.csv"
    path.write_bytes("".join(lines).encode())
    report = import_file(ingest, path)
    assert [(p.line, p.code) for p in report.problems] == [(6, "bad_csv")]
    assert (report.records, report.readings_new) == (4, 3)
    frames = list(ingest.store.frames())
    assert [f["raw"].decode() for f in frames] == [line.rstrip("\r") for line in lines[1:]]
    assert [f["peer"] for f in frames] == [
        "file:odd.csv:2",
        "file:odd.csv:3",
        "file:odd.csv:4",
        "file:odd.csv:6",
    ]
    raw_of = {f["id"]: f["raw"].decode() for f in frames}
    for r in ingest.store.readings():
        hour = datetime.fromtimestamp(r["data_time"], ZoneInfo("Asia/Shanghai")).strftime("T%H:00:00")
        assert f"{hour},{r['avg']:g}" in raw_of[r["frame_id"]].replace('"', "").replace("\n", "")


def test_an_unreadable_file_is_an_import_format_error(ingest: Ingest, tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="cannot read"):
        import_file(ingest, tmp_path / "missing.log")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"mn,pollutant,time,value\n21010012345678,a21026,2026-01-01,caf\xe9\n")
    with pytest.raises(ImportFormatError, match="UTF-8"):
        import_file(ingest, latin)


# ----------------------------------------------------------------------------------------------- command
def test_the_import_command_prints_problems_and_a_summary(
    sqlite_url: str, registry_file: Path, make_frame: FrameFactory, tmp_path: Path
) -> None:
    data, _ = frames_log(make_frame)
    log = tmp_path / "frames.log"
    log.write_bytes(data)
    runner = CliRunner()
    loaded = runner.invoke(app, ["registry", "load", str(registry_file), "--db", sqlite_url])
    assert loaded.exit_code == 0, loaded.output
    result = runner.invoke(app, ["import", str(log), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[:3] == [
        f"{log}:4: garbage bytes outside a frame",
        f"{log}:5: bad_crc {out[1].split(' bad_crc ', 1)[-1]}",
        f"{log}:7: unknown_mn MN {make_frame.unknown_mn} is not registered",
    ]
    assert "CRC" in out[1]
    assert len(out) == 4
    assert out[3].startswith(f"{log} (frames): 7 records")
    assert "3 quarantined" in out[3] and "4 new readings" in out[3]
    assert "Traceback" not in result.output

    again = runner.invoke(app, ["import", str(log), "--db", sqlite_url, "--json"])
    assert again.exit_code == 0, again.output
    [line] = again.stdout.splitlines()
    report = json.loads(line)
    assert (report["records"], report["already_stored"], report["stored"], report["problems"]) == (
        7,
        7,
        0,
        [],
    )


def test_the_import_command_reports_a_missing_file_in_one_line(
    sqlite_url: str, registry_file: Path, make_frame: FrameFactory, tmp_path: Path
) -> None:
    good = tmp_path / "good.log"
    good.write_bytes(make_frame())
    missing = tmp_path / "no-such-directory" / "a-rather-long-file-name-for-the-missing-frames-log.log"
    result = CliRunner().invoke(
        app, ["import", str(missing), str(good), "--db", sqlite_url], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    [message] = result.stderr.splitlines()
    assert message.startswith("error: ") and str(missing) in message and "cannot read" in message
    assert "Traceback" not in result.output
    assert f"{good} (frames): 1 records" in result.stdout  # the readable file was still imported
