"""Tests of the HJ 212 code tables: spot checks against the research notes (hj212.md §2-§3), consistency."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping

import pytest

from envtrust.hj212.codes import (
    COMMAND_KINDS,
    COMMANDS_2005,
    COMMANDS_2017,
    COMMANDS_2025,
    DATA_COMMANDS,
    DATA_FLAGS,
    EXE_RTN_TEXT,
    GAS_2005_TO_2017,
    MEDIA,
    POLLUTANTS,
    QN_RTN_TEXT,
    REMOVED_IN_2025,
    SOURCE_2005,
    SOURCE_2017,
    SOURCE_2025,
    SOURCE_VENDOR,
    SYSTEM_CODES,
    VENDOR_COMMANDS,
    WATER_2005_TO_2017,
    Command,
    command,
    map_2005_code,
    pollutant,
)

# --- spot checks against the research doc ---------------------------------------------------------


def test_so2() -> None:
    so2 = pollutant("a21026")
    assert so2 is not None
    assert (so2.zh, so2.en, so2.unit, so2.emission_unit) == ("二氧化硫", "SO2", "mg/m³", "kg")
    assert (so2.code_2005, so2.medium, so2.data_type, so2.table) == ("02", "gas", "N5.2", "B.2")


def test_cod() -> None:
    cod = pollutant("w01018")
    assert cod is not None
    assert (cod.zh, cod.code_2005, cod.unit, cod.emission_unit, cod.medium) == (
        "化学需氧量",
        "011",
        "mg/L",
        "kg",
        "water",
    )


@pytest.mark.parametrize(
    ("code", "zh"),
    [
        ("a34013", "烟尘/颗粒物"),
        ("a19001", "氧气含量"),
        ("a00000", "废气"),
        ("w01018", "化学需氧量"),
        ("w21003", "氨氮"),
        ("w21011", "总磷"),
        ("w21001", "总氮"),
        ("w00000", "污水"),
        ("w01001", "pH值"),
    ],
)
def test_chinese_names(code: str, zh: str) -> None:
    p = pollutant(code)
    assert p is not None
    assert p.zh == zh


@pytest.mark.parametrize(
    ("code", "unit", "data_type"),
    [
        ("a00000", "m³/s", "N6.1"),
        ("a01010", "", "N1"),
        ("a19001", "%", "N3.1"),
        ("a34013", "mg/m³", "N4"),
        ("w00000", "L/s", "N5.2"),
        ("w01001", "", "N2.2"),
        ("w20111", "µg/L", "N3.2"),
        ("w01014", "µS/cm", "N3.1"),
        ("Leq", "dB", "N3.1"),
    ],
)
def test_units_and_types(code: str, unit: str, data_type: str) -> None:
    p = pollutant(code)
    assert p is not None
    assert (p.unit, p.data_type) == (unit, data_type)


def test_lookup_is_case_sensitive_and_unknown_is_none() -> None:
    assert pollutant("A21026") is None
    assert pollutant("a05024") is None  # ozone: used in real packets, absent from Table B.2
    assert pollutant("") is None


def test_noise_codes() -> None:
    noise = {code for code, p in POLLUTANTS.items() if p.medium == "noise"}
    assert noise == {"LA", "L5", "L10", "L50", "L90", "L95", "Leq", "Ldn", "Ld", "Ln", "LMx", "LMn"}
    assert all(POLLUTANTS[c].unit == "dB" and POLLUTANTS[c].table == "B.3" for c in noise)


@pytest.mark.parametrize(
    ("code", "st", "expected"),
    [
        ("02", "31", "a21026"),
        ("01", "31", "a34013"),
        ("03", None, "a21002"),
        ("S01", None, "a19001"),
        ("S08", None, "a01013"),
        ("B02", None, "a00000"),
        ("011", "32", "w01018"),
        ("060", None, "w21003"),
        ("101", None, "w21011"),
        ("065", None, "w21001"),
        ("B01", None, "w00000"),
        ("001", "22", "w01001"),  # other ST: decided by shape
    ],
)
def test_map_2005_code(code: str, st: str | None, expected: str) -> None:
    assert map_2005_code(code, st) == expected


def test_map_2005_code_respects_st_and_unknowns() -> None:
    assert map_2005_code("011", "31") is None  # water code in an air-source packet
    assert map_2005_code("02", "32") is None  # air code in a water-source packet
    assert map_2005_code("B01", "31") is None
    assert map_2005_code("99", None) is None
    assert map_2005_code("999", None) is None
    assert map_2005_code("a21026", None) is None  # already a 2017 code
    assert map_2005_code("", None) is None


def test_command_meaning_depends_on_version() -> None:
    c2005, c2017 = command("3013", 0), command("3013", 1)
    assert c2005 is not None and c2017 is not None
    assert c2005 != c2017
    assert c2005.source == SOURCE_2005 and c2005.zh == "设备操作"
    assert c2017.source == SOURCE_2017 and c2017.zh == "启动清洗/反吹"
    c14_2005, c14_2017 = command("3014", 0), command("3014", 1)
    assert c14_2005 is not None and c14_2017 is not None
    assert c14_2005.zh != c14_2017.zh


def test_2025_heartbeat() -> None:
    hb2025 = command("9015", 2)
    assert hb2025 is not None
    assert hb2025.source == SOURCE_2025
    hb2017 = command("9015", 1)
    assert hb2017 is None or hb2017.source == SOURCE_VENDOR


def test_command_fallbacks() -> None:
    assert command("2011", None) == COMMANDS_2017["2011"]
    assert command("2011", 7) == COMMANDS_2017["2011"]  # unknown version reads as 2017
    assert command("2011", 2) == COMMANDS_2017["2011"]  # 2025 = 2017 + additions
    assert command("2011", 0) == COMMANDS_2017["2011"]  # unchanged in 2005
    assert command("3015", 0) == COMMANDS_2017["3015"]  # 2017-only CN still resolves for version 0
    assert command("2071", 0) == COMMANDS_2005["2071"]
    assert command("2071", 1) is None
    assert command("1014", 1) is None
    assert command("1014", 2) == COMMANDS_2025["1014"]
    login = command("9021", 1)
    assert login is not None and login.source == SOURCE_VENDOR
    assert command("9022", 0) == VENDOR_COMMANDS["9022"]
    assert command("0000", 1) is None


def test_removed_in_2025_still_resolve() -> None:
    for cn in REMOVED_IN_2025:
        assert cn in COMMANDS_2017
        assert command(cn, 2) == COMMANDS_2017[cn]


def test_table9_is_complete() -> None:
    assert set(COMMANDS_2017) == {
        "1000", "1011", "1012", "1013", "1061", "1062", "1063", "1064", "1072",
        "2011", "2012", "2021", "2022", "2031", "2041", "2051", "2061", "2081",
        "3011", "3012", "3013", "3014", "3015", "3016", "3017", "3018", "3019", "3020", "3021",
        "9011", "9012", "9013", "9014",
    }  # fmt: skip
    assert set(COMMANDS_2005) == {"1031", "1041", "2071", "2072", "3011", "3012", "3013", "3014"}
    assert set(COMMANDS_2025) == {
        "1001",
        "1002",
        "1014",
        "2013",
        "2052",
        "2062",
        "2111",
        "3022",
        "3024",
        "9015",
    }
    assert {"9021", "9022"} <= set(VENDOR_COMMANDS)


def test_data_flags() -> None:
    assert set(DATA_FLAGS) == set("NFMSDCTB")
    assert DATA_FLAGS["C"].valid is False
    assert DATA_FLAGS["N"].valid is True
    assert DATA_FLAGS["S"].valid is True
    assert [f for f, d in DATA_FLAGS.items() if d.valid] == ["N", "S"]
    assert DATA_FLAGS["T"].zh.endswith("采样数值超过测量上限")  # not "exceeds the emission limit"


def test_reply_codes() -> None:
    assert set(QN_RTN_TEXT) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 100}
    assert set(EXE_RTN_TEXT) == {1, 2, 3, 4, 5, 6, 100}
    assert QN_RTN_TEXT[9][0] == "CRC校验错误"
    assert EXE_RTN_TEXT[100][0] == "没有数据"


def test_system_codes() -> None:
    assert SYSTEM_CODES["31"][0] == "大气环境污染源"
    assert SYSTEM_CODES["32"][0] == "地表水体环境污染源"
    assert SYSTEM_CODES["91"][0] == "系统交互"
    assert len(SYSTEM_CODES) == 20
    assert "80" not in SYSTEM_CODES and "101" not in SYSTEM_CODES


def test_data_commands() -> None:
    assert DATA_COMMANDS == {"2011": "rtd", "2051": "minute", "2061": "hour", "2031": "day"}
    assert set(DATA_COMMANDS) <= set(COMMANDS_2017)


# --- consistency ----------------------------------------------------------------------------------


def test_pollutant_keys_and_fields() -> None:
    for code, p in POLLUTANTS.items():
        assert code == p.code
        assert p.medium in MEDIA
        assert p.table in {"B.1", "B.2", "B.3"}
        assert (p.medium == "water") == (p.table == "B.1")
        assert (p.medium == "noise") == (p.table == "B.3")


def test_every_2005_code_maps_back() -> None:
    for p in POLLUTANTS.values():
        if p.code_2005 is None:
            continue
        st = "32" if p.medium == "water" else "31"
        assert map_2005_code(p.code_2005, st) == p.code
        assert map_2005_code(p.code_2005, None) == p.code  # the shape rule agrees with the tables


def test_no_duplicate_2005_code_within_a_medium() -> None:
    for medium in MEDIA:
        codes = Counter(p.code_2005 for p in POLLUTANTS.values() if p.medium == medium and p.code_2005)
        assert [c for c, n in codes.items() if n > 1] == []
    n_gas = sum(1 for p in POLLUTANTS.values() if p.table == "B.2" and p.code_2005)
    n_water = sum(1 for p in POLLUTANTS.values() if p.table == "B.1" and p.code_2005)
    assert (len(GAS_2005_TO_2017), len(WATER_2005_TO_2017)) == (n_gas, n_water)
    assert not set(GAS_2005_TO_2017) & set(WATER_2005_TO_2017)


def test_every_entry_has_zh_and_en() -> None:
    named: list[tuple[str, str]] = [(p.zh, p.en) for p in POLLUTANTS.values()]
    named += [
        (c.zh, c.en)
        for t in (COMMANDS_2017, COMMANDS_2005, COMMANDS_2025, VENDOR_COMMANDS)
        for c in t.values()
    ]
    named += [(f.zh, f.en) for f in DATA_FLAGS.values()]
    named += [*SYSTEM_CODES.values(), *QN_RTN_TEXT.values(), *EXE_RTN_TEXT.values()]
    for zh, en in named:
        assert zh.strip() and en.strip(), (zh, en)


@pytest.mark.parametrize(
    ("table", "source"),
    [
        (COMMANDS_2017, SOURCE_2017),
        (COMMANDS_2005, SOURCE_2005),
        (COMMANDS_2025, SOURCE_2025),
        (VENDOR_COMMANDS, SOURCE_VENDOR),
    ],
)
def test_command_tables(table: Mapping[str, Command], source: str) -> None:
    for cn, c in table.items():
        assert isinstance(c, Command)
        assert c.cn == cn and len(cn) == 4 and cn.isdigit()
        assert c.kind in COMMAND_KINDS
        assert c.source == source
    if source == SOURCE_2025:
        assert all("unverified" in c.note for c in COMMANDS_2025.values())


def test_tables_are_immutable() -> None:
    with pytest.raises(TypeError):
        POLLUTANTS["x"] = POLLUTANTS["a21026"]  # type: ignore[index]
    with pytest.raises(TypeError):
        COMMANDS_2017["9999"] = COMMANDS_2017["2011"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        POLLUTANTS["a21026"].unit = "ppm"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATA_FLAGS["N"].valid = False  # type: ignore[misc]
