"""The ``envtrust`` command line: ``decode`` (the operator's protocol inspector), ``registry``, ``status``, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from envtrust.cli import app

if TYPE_CHECKING:
    from conftest import FrameFactory

APPENDIX_A = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)
BAD_CRC = APPENDIX_A.replace(b"1C80", b"1C81")
GARBAGE = b"AT+CIPSEND=42 not a frame\r\n"
JSON_KEYS = {"line", "ok", "crc_ok", "version", "fields", "error"}

runner = CliRunner()


def inspector_input() -> bytes:
    return APPENDIX_A + BAD_CRC + GARBAGE


def json_lines(text: str) -> list[dict[str, object]]:
    objects = [json.loads(line) for line in text.split("\n") if line]  # not splitlines: U+2028 is data
    for obj in objects:
        assert isinstance(obj, dict) and obj.keys() >= JSON_KEYS, obj
    return objects


# ----------------------------------------------------------------------------------------------- decode
def test_decode_prints_one_line_per_frame_with_the_crc_verdict(tmp_path: Path) -> None:
    path = tmp_path / "frames.log"
    path.write_bytes(inspector_input())
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("1: OK v2017 crc_ok=true QN=20160801085857223 ST=32 CN=1062 PW=100000 ")
    assert "MN=010000A8900016F000169DC0" in lines[0] and "RtdInterval=30" in lines[0]
    assert lines[1].startswith("2: ERROR bad_crc crc_ok=false ")
    assert "1C81" in lines[1] and "QN=20160801085857223" in lines[1]
    assert lines[2].startswith("3: GARBAGE ") and "AT+CIPSEND" in lines[2]
    assert result.stderr.strip() == "1 frames ok, 2 with errors"


def test_decode_json_gives_one_object_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "frames.log"
    path.write_bytes(inspector_input())
    result = runner.invoke(app, ["decode", str(path), "--json"])
    assert result.exit_code == 0, result.output
    good, bad, garbage = json_lines(result.stdout)
    assert good["line"] == 1 and good["ok"] is True and good["crc_ok"] is True
    assert good["version"] == "2017" and good["error"] is None
    assert good["fields"] == {
        "QN": "20160801085857223",
        "ST": "32",
        "CN": "1062",
        "PW": "100000",
        "MN": "010000A8900016F000169DC0",
        "Flag": "5",
    }
    assert good["cp"] == {"RtdInterval": "30"} and good["items"] == []
    assert bad["line"] == 2 and bad["ok"] is False and bad["crc_ok"] is False
    assert (
        isinstance(bad["error"], dict) and bad["error"]["code"] == "bad_crc" and bad["error"]["qn_rtn"] == 9
    )
    assert "CN=9011" in bad["error"]["reply"] and "QnRtn=9" in bad["error"]["reply"]
    assert isinstance(bad["fields"], dict) and bad["fields"]["MN"] == "010000A8900016F000169DC0"
    assert garbage["line"] == 3 and garbage["ok"] is False and garbage["crc_ok"] is None
    assert isinstance(garbage["error"], dict) and garbage["error"]["code"] == "garbage"
    assert result.stderr == ""  # nothing else: the output is machine-readable


def test_decode_shows_items_and_the_version(make_frame: FrameFactory) -> None:
    raw = make_frame("2011", items={"a21026": {"Rtd": "12.5", "Flag": "N"}}) + make_frame(
        "2011", flag=None, items={"02": {"Rtd": "3"}}
    )
    result = runner.invoke(app, ["decode", "-", "--json"], input=raw)
    new, old = json_lines(result.stdout)
    assert new["version"] == "2017"
    assert new["items"] == [{"code": "a21026", "code_raw": "a21026", "values": {"Rtd": "12.5", "Flag": "N"}}]
    assert (
        old["version"] == "2005"
        and old["items"][0]["code"] == "a21026"
        and old["items"][0]["code_raw"] == "02"
    )
    text = runner.invoke(app, ["decode", "-"], input=raw).stdout
    assert "a21026[Rtd=12.5,Flag=N]" in text and "a21026(02)[Rtd=3]" in text and " v2005 " in text


def test_decode_reads_standard_input(tmp_path: Path) -> None:
    path = tmp_path / "frames.log"
    path.write_bytes(inspector_input())
    from_file = runner.invoke(app, ["decode", str(path), "--json"])
    from_stdin = runner.invoke(app, ["decode", "-", "--json"], input=inspector_input())
    implicit = runner.invoke(app, ["decode", "--json"], input=inspector_input())
    assert from_stdin.exit_code == implicit.exit_code == 0
    assert from_stdin.stdout == implicit.stdout == from_file.stdout
    assert len(from_stdin.stdout.splitlines()) == 3


def test_decode_reports_what_ends_the_input_without_a_line_end() -> None:
    result = runner.invoke(app, ["decode", "-", "--json"], input=APPENDIX_A + b"trailing bytes")
    good, tail = json_lines(result.stdout)
    assert good["ok"] is True
    assert tail["line"] == 2 and tail["error"]["code"] == "garbage"  # type: ignore[index]
    frame_only = runner.invoke(app, ["decode", "-", "--json"], input=APPENDIX_A[:-2])
    [frame] = json_lines(frame_only.stdout)
    assert frame["ok"] is True and frame["crc_ok"] is True


def test_decode_prints_text_that_looks_like_markup_as_it_is() -> None:
    data = b"[/] [bold]x[/bold] \\[red]\n" + APPENDIX_A.replace(b"RtdInterval=30", b"Rtd[/]=30x")
    result = runner.invoke(app, ["decode", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert result.exception is None
    lines = result.stdout.splitlines()
    assert "[/] [bold]x[/bold]" in lines[0]


def test_decode_shows_control_characters_from_the_wire_instead_of_sending_them_to_the_terminal(
    make_frame: FrameFactory,
) -> None:
    raw = make_frame("2011", mn="A\x1b[2J", qn="1\r2", items={"a01": {"Rtd": "1\x0b2"}})
    result = runner.invoke(app, ["decode", "-"], input=raw + raw[:-6] + b"0000\r\n")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\x0b" not in result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "MN=A\\x1b[2J" in line and "QN=1\\x0d2" in line
    assert "Rtd=1\\x0b2" in lines[0]


def test_decode_of_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["decode", str(tmp_path / "missing.log")])
    assert result.exit_code == 2
    [message] = result.stderr.splitlines()
    assert message.startswith("error: ") and "missing.log" in message


frame_bytes = st.sampled_from(
    [APPENDIX_A, BAD_CRC, b"##", b"##0101", b"\r\n", b"&&", b"CP=&&", b"[/]", b"\x00"]
)
noise = st.lists(st.one_of(st.binary(max_size=64), frame_bytes), max_size=12).map(b"".join)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=noise)
def test_decode_never_fails_on_random_bytes(data: bytes) -> None:
    result = runner.invoke(app, ["decode", "-", "--json"], input=data)
    assert result.exit_code == 0, result.output
    assert result.exception is None
    objects = json_lines(result.stdout)
    assert [o["line"] for o in objects] == sorted(o["line"] for o in objects)  # type: ignore[type-var]
    text = runner.invoke(app, ["decode", "-"], input=data)
    assert text.exit_code == 0 and text.exception is None, text.output
    assert text.stdout.count("\n") == len(objects)


def test_decode_in_a_real_process_with_binary_stdin() -> None:
    data = bytes(range(256)) * 4 + APPENDIX_A + b"\xff\xfe[/]\x1b[31m"
    proc = subprocess.run(
        [sys.executable, "-m", "envtrust", "decode", "-", "--json"],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    objects = json_lines(proc.stdout.decode("utf-8"))
    assert any(o["ok"] for o in objects)


# ----------------------------------------------------------------------------------------------- registry
def test_registry_load_and_list(sqlite_url: str, registry_file: Path) -> None:
    first = runner.invoke(app, ["registry", "load", str(registry_file), "--db", sqlite_url])
    assert first.exit_code == 0, first.output
    assert "2 points" in first.stdout and "2 added" in first.stdout
    again = runner.invoke(app, ["registry", "load", str(registry_file)], env={"ENVTRUST_DB": sqlite_url})
    assert again.exit_code == 0 and "2 unchanged" in again.stdout
    listed = runner.invoke(app, ["registry", "list", "--json", "--db", sqlite_url])
    points = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [p["mn"] for p in points] == ["21010012345678", "21010087654321"]
    assert points[0]["enterprise"] == "某热电有限公司" and points[0]["limits"]["a21026"] == 35.0


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        (
            '[[point]]\nmn = "A1"\nenterprise = "E"\nname = "n"\nregion = "21"\nmedium = "gas"\n\n'
            '[[point]]\nmn = "A2"\nenterprise = "E"\nname = "n"\nregion = "21"\nmedium = "air"\n',
            ["point 2", "mn A2", "medium"],
        ),
        (
            '[[point]]\nmn = "A1"\nenterprise = "E"\nname = "n"\nregion = "21"\nmedium = "gas"\n'
            "limits = { a21026 = [1, 2] }\n",
            ["point 1", "mn A1", "a21026"],
        ),
        ('[[point]]\nmn = "A1"\nenterprise = "E"\nname = "n"\nregion = "21"\n', ["point 1", "medium"]),
        ("[[point]\nmn = 1\n", ["not valid TOML"]),
    ],
    ids=["bad-medium", "bad-limit", "missing-key", "not-toml"],
)
def test_registry_load_of_a_bad_file_names_the_file_and_the_point(
    sqlite_url: str, tmp_path: Path, toml: str, words: list[str]
) -> None:
    path = tmp_path / "a-registry-file-with-a-long-name-so-that-the-message-is-wider-than-eighty.toml"
    path.write_text(toml, encoding="utf-8")
    result = runner.invoke(app, ["registry", "load", str(path), "--db", sqlite_url], env={"COLUMNS": "80"})
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [message] = result.stderr.splitlines()
    assert message.startswith(f"error: {path}: ")
    for word in words:
        assert word in message
    assert "Traceback" not in result.output


def test_registry_load_of_a_missing_file(sqlite_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["registry", "load", str(tmp_path / "none.toml"), "--db", sqlite_url])
    assert result.exit_code == 2
    assert "none.toml" in result.stderr and "cannot read" in result.stderr


# ----------------------------------------------------------------------------------------------- status
def test_status_json_after_an_import(
    sqlite_url: str, registry_file: Path, make_frame: FrameFactory, tmp_path: Path
) -> None:
    log = tmp_path / "frames.log"
    log.write_bytes(
        make_frame(data_time="20260101080000")
        + make_frame(data_time="20260101080000")  # sent twice
        + make_frame("2061", items={"a21026": {"Avg": "1"}, "a21002": {"Avg": "2"}})
        + make_frame(crc="bad")
        + b"noise\n"
    )
    env = {"ENVTRUST_DB": sqlite_url}
    empty = runner.invoke(app, ["status", "--json"], env=env)
    assert empty.exit_code == 0, empty.output
    assert json.loads(empty.stdout)["frames"] == 0
    assert runner.invoke(app, ["registry", "load", str(registry_file)], env=env).exit_code == 0
    imported = runner.invoke(app, ["import", str(log)], env=env)
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(app, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["points"] == 2 and status["enterprises"] == 2
    assert status["readings"] == 3 and status["readings_by_kind"] == {"minute": 1, "hour": 2}
    assert status["quarantined"] == 2
    assert status["ledger_size"] == status["frames"] + status["points"] and status["frames"] >= 4
    assert status["last_received"] is not None
    table = runner.invoke(app, ["status", "--db", sqlite_url])
    assert table.exit_code == 0 and "ledger_size" in table.stdout


def test_status_of_an_unreachable_database_is_a_clear_error() -> None:
    result = runner.invoke(app, ["status", "--db", "postgresql://nobody@127.0.0.1:1/x?connect_timeout=2"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot open database")
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------------------------- help
def _commands(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group of the app, as argument paths."""
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_every_verb_of_the_design_is_a_command() -> None:
    names = {c[0] for c in COMMANDS if c}
    assert {"decode", "registry", "import", "status", "check"} <= names
    assert ("registry", "load") in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "envtrust")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    if command:
        assert "--db" in result.stdout or command[0] in (
            "decode",
            "check",
            "checks",
            "simulate",
            "registry",
            "keys",
            "witness",
            "verify-bundle",
            "alarms",
            "accounts",
            "qa",
            "lab",
            "marks",
            "interference",
            "draw",  # draw verify works offline, on a file
            "inspection",
            "complaints",
            "credit",
            "blacklist",
            "order",
            "counties",
            "case",  # case verify works offline, on a file
            "cluster",
            "upstream",
            "cache",
        )


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("envtrust ")
