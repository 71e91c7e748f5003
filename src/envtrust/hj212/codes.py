"""Code tables of the HJ 212 codec (HJ 212 编码表): factors, commands, system codes, flags, reply codes.

Where the values come from (see ``/work/shared/research/hj212.md`` §2 and §3, which cites the standard):

* Factor codes (监测因子编码), default units and data types: HJ 212-2017 Appendix B,
  Table B.1 (water, 水监测因子), Table B.2 (air / flue gas, 气监测因子) and Table B.3 (noise, 声监测因子).
  ``code_2005`` is the standard's own "原编码" column, i.e. the HJ/T 212-2005 short code.
  Only the factors listed in the research doc are here; a code missing from this table is not an error,
  the caller keeps the raw code.
* System codes ST (系统编码): HJ 212-2017 §6.6.1, Table 5.
* Reply codes: QnRtn of CN 9011 (请求命令返回) and ExeRtn of CN 9012 (执行结果定义),
  HJ 212-2017 §6.6.2-§6.6.3, Tables 6 and 7. (The research doc pairs QnRtn with Table 6 and ExeRtn with
  Table 7; one transcription of the standard text numbers them the other way round. The codes and texts
  are the same either way.)
* Data flags (数据标记): HJ 212-2017 §6.6.4, Table 8. ``DataFlag.valid`` is not in the standard: it is the
  interpretation used by IceCoffee.HJ212, as recorded in the research doc.
* Command codes CN (命令编码): HJ 212-2017 §6.6.5, Table 9 (``COMMANDS_2017``). HJ/T 212-2005 meanings
  that were deleted or changed in 2017 (``COMMANDS_2005``) come from open-source enumerations, not from the
  2005 text. HJ 212-2025 additions (``COMMANDS_2025``) are a third-party report (caoyiliang/HJ212),
  unverified against the official text; every such entry says so in ``Command.source``.
  ``VENDOR_COMMANDS`` are widely seen vendor extensions that no standard defines.

Chinese first, English second: every entry carries ``zh`` (as the standard words it) and ``en``.
Pure data and lookups: standard library only, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "COMMANDS_2005",
    "COMMANDS_2017",
    "COMMANDS_2025",
    "COMMAND_KINDS",
    "DATA_COMMANDS",
    "DATA_FLAGS",
    "EXE_RTN_TEXT",
    "GAS_2005_TO_2017",
    "MEDIA",
    "POLLUTANTS",
    "QN_RTN_TEXT",
    "REMOVED_IN_2025",
    "SOURCE_2005",
    "SOURCE_2017",
    "SOURCE_2025",
    "SOURCE_VENDOR",
    "ST_AIR_SOURCE",
    "ST_SYSTEM",
    "ST_WATER_SOURCE",
    "SYSTEM_CODES",
    "VENDOR_COMMANDS",
    "WATER_2005_TO_2017",
    "Command",
    "DataFlag",
    "Pollutant",
    "command",
    "map_2005_code",
    "pollutant",
]

ST_AIR_SOURCE: Final = "31"
ST_WATER_SOURCE: Final = "32"
ST_SYSTEM: Final = "91"
"""ST values the codec treats specially: air source, water source, system interaction (replies)."""

# ----------------------------------------------------------------------------------------------------
# Factors (监测因子)
# ----------------------------------------------------------------------------------------------------

MEDIA: Final[frozenset[str]] = frozenset({"gas", "water", "noise", "ambient"})
"""Values of ``Pollutant.medium``: flue gas / air source, wastewater, noise, ambient (weather, dust)."""


@dataclass(frozen=True, slots=True)
class Pollutant:
    """One monitoring factor (监测因子) of HJ 212-2017 Appendix B.

    ``unit`` is the default concentration / measurement unit as printed ("" for dimensionless 无量纲);
    ``emission_unit`` the unit of the cumulative ``-Cou`` value. ``None`` in ``code_2005``,
    ``emission_unit`` or ``data_type`` means: none, or not given in the research doc's transcription.
    """

    code: str
    code_2005: str | None
    zh: str
    en: str
    unit: str
    emission_unit: str | None
    medium: str
    data_type: str | None
    table: str = ""
    """Source table in HJ 212-2017 Appendix B: "B.1" water, "B.2" air, "B.3" noise."""
    note: str = ""


_NG_NOTE: Final = "unit printed as ng/m³ in Table B.2 (anomaly noted in the research doc)"


def _b2(
    code: str,
    code_2005: str | None,
    zh: str,
    en: str,
    unit: str,
    emission_unit: str | None,
    data_type: str | None,
    medium: str = "gas",
    note: str = "",
) -> Pollutant:
    return Pollutant(code, code_2005, zh, en, unit, emission_unit, medium, data_type, "B.2", note)


def _b1(
    code: str,
    code_2005: str | None,
    zh: str,
    en: str,
    unit: str,
    emission_unit: str | None,
    data_type: str | None,
) -> Pollutant:
    return Pollutant(code, code_2005, zh, en, unit, emission_unit, "water", data_type, "B.1")


def _b3(code: str, zh: str, en: str) -> Pollutant:
    return Pollutant(code, None, zh, en, "dB", None, "noise", "N3.1", "B.3")


_AIR: Final[tuple[Pollutant, ...]] = (
    _b2("a00000", "B02", "废气", "flue gas (flow)", "m³/s", "m³", "N6.1"),
    _b2("a01011", "S02", "烟气流速", "flue-gas velocity", "m/s", None, "N5.2"),
    _b2("a01012", "S03", "烟气温度", "flue-gas temperature", "°C", None, "N3.1"),
    _b2("a01013", "S08", "烟气压力", "flue-gas pressure", "kPa", None, "N5.3"),
    _b2("a01014", "S05", "烟气湿度", "flue-gas humidity", "%", None, "N3.1"),
    _b2("a01015", "S06", "制冷温度", "cooling (condenser) temperature", "°C", None, "N3.1"),
    _b2("a01016", "S07", "烟道截面积", "duct cross-section area", "m²", None, "N4.2"),
    _b2("a01017", "S04", "烟气动压", "flue-gas dynamic pressure", "kPa", None, "N5.3"),
    _b2("a19001", "S01", "氧气含量", "oxygen content (O2)", "%", None, "N3.1"),
    _b2("a21026", "02", "二氧化硫", "SO2", "mg/m³", "kg", "N5.2"),
    _b2("a21002", "03", "氮氧化物", "NOx", "mg/m³", "kg", "N5.1"),
    _b2("a21003", None, "一氧化氮", "NO", "mg/m³", "kg", "N4.1"),
    _b2("a21004", None, "二氧化氮", "NO2", "mg/m³", "kg", "N4.1"),
    _b2("a21005", "04", "一氧化碳", "CO", "mg/m³", "kg", "N3.3"),
    _b2("a21024", "08", "氯化氢", "HCl", "mg/m³", "kg", "N4.3"),
    _b2("a21028", "05", "硫化氢", "H2S", "mg/m³", "kg", "N3.2"),
    _b2(
        "a34013",
        "01",
        "烟尘/颗粒物",
        "smoke dust / particulate matter",
        "mg/m³",
        "kg",
        "N4",
        note="Table B.2 prints 烟尘; 颗粒物 is the name in current emission standards",
    ),
    _b2("a24087", "25", "碳氢化合物", "hydrocarbons", "mg/m³", "kg", "N5.2"),
    _b2("a24088", None, "非甲烷总烃", "non-methane hydrocarbons (NMHC)", "mg/m³", "kg", "N7.3"),
    _b2("a05001", "30", "二氧化碳", "CO2", "mg/m³", "kg", "N3.3"),
    _b2("a01010", "37", "林格曼黑度", "Ringelmann blackness", "", None, "N1"),
    _b2(
        "a01901",
        None,
        "垃圾焚烧炉膛内焚烧平均温度",
        "incinerator furnace mean temperature",
        "°C",
        None,
        "N4.1",
    ),
    _b2("a01902", None, "垃圾焚烧炉膛内DCS温度", "incinerator furnace DCS temperature", "°C", None, "N4.1"),
    _b2("a21001", None, "氨（氨气）", "ammonia (NH3)", "ng/m³", None, None, note=_NG_NOTE),
    _b2("a05002", None, "甲烷", "methane (CH4)", "ng/m³", None, None, note=_NG_NOTE),
    # Ambient / weather factors of Table B.2.
    _b2("a01001", None, "温度", "ambient temperature", "°C", None, None, medium="ambient"),
    _b2("a01002", None, "湿度", "ambient humidity", "%", None, None, medium="ambient"),
    _b2("a01006", None, "气压", "atmospheric pressure", "kPa", None, None, medium="ambient"),
    _b2("a01007", None, "风速", "wind speed", "m/s", None, None, medium="ambient"),
    _b2("a01008", None, "风向", "wind direction", "°", None, None, medium="ambient"),
    _b2("a34001", None, "总悬浮颗粒物TSP", "TSP", "ng/m³", "g", "N4.3", medium="ambient", note=_NG_NOTE),
    _b2("a34002", None, "可吸入颗粒物PM10", "PM10", "ng/m³", "g", "N3.3", medium="ambient", note=_NG_NOTE),
    _b2("a34004", None, "细微颗粒物PM2.5", "PM2.5", "ng/m³", "g", "N3.3", medium="ambient", note=_NG_NOTE),
)

_WATER: Final[tuple[Pollutant, ...]] = (
    _b1("w00000", "B01", "污水", "wastewater (flow)", "L/s", "m³", "N5.2"),
    _b1("w01001", "001", "pH值", "pH", "", None, "N2.2"),
    _b1("w01018", "011", "化学需氧量", "COD", "mg/L", "kg", "N5.1"),
    _b1("w21003", "060", "氨氮", "ammonia nitrogen (NH3-N)", "mg/L", "kg", "N4.2"),
    _b1("w21011", "101", "总磷", "total phosphorus (TP)", "mg/L", "kg", "N3.2"),
    _b1("w21001", "065", "总氮", "total nitrogen (TN)", "mg/L", "kg", "N4.2"),
    _b1("w01012", "003", "悬浮物", "suspended solids (SS)", "mg/L", "kg", "N4"),
    _b1("w01017", "010", "五日生化需氧量", "BOD5", "mg/L", "kg", "N5.1"),
    _b1("w01019", None, "高锰酸盐指数", "permanganate index (CODMn)", "mg/L", "kg", "N3.1"),
    _b1("w01020", "015", "总有机碳", "total organic carbon (TOC)", "mg/L", "kg", "N3.1"),
    _b1("w01009", None, "溶解氧", "dissolved oxygen (DO)", "mg/L", None, "N3.1"),
    _b1("w01010", None, "水温", "water temperature", "°C", None, "N3.1"),
    _b1("w01014", None, "电导率", "conductivity", "µS/cm", None, "N3.1"),
    _b1("w20111", "020", "总汞", "total mercury (Hg)", "µg/L", "g", "N3.2"),
    _b1("w20115", "022", "总镉", "total cadmium (Cd)", "µg/L", "g", "N3.1"),
    _b1("w20116", "023", "总铬", "total chromium (Cr)", "mg/L", None, None),
    _b1("w20117", "024", "六价铬", "hexavalent chromium (Cr(VI))", "µg/L", None, None),
    _b1("w20119", "026", "总砷", "total arsenic (As)", "µg/L", "g", None),
    _b1("w20120", "027", "总铅", "total lead (Pb)", "µg/L", "g", None),
    _b1("w20121", "028", "总镍", "total nickel (Ni)", "mg/L", "kg", None),
    _b1("w20122", "029", "总铜", "total copper (Cu)", "mg/L", "kg", None),
    _b1("w20123", "030", "总锌", "total zinc (Zn)", "mg/L", "kg", None),
    _b1("w21016", "070", "氰化物", "cyanide", "mg/L", "kg", None),
    _b1("w21017", "072", "氟化物", "fluoride", "mg/L", "kg", None),
    _b1("w21019", "071", "硫化物", "sulfide", "mg/L", "kg", None),
    _b1("w22001", "080", "石油类", "petroleum oils", "mg/L", "kg", "N3.2"),
    _b1("w23002", "110", "挥发酚", "volatile phenol", "mg/L", "kg", "N3.4"),
)

_NOISE: Final[tuple[Pollutant, ...]] = (
    _b3("LA", "A权声级", "A-weighted sound level"),
    _b3("L5", "累计百分声级L5", "percentile sound level L5"),
    _b3("L10", "累计百分声级L10", "percentile sound level L10"),
    _b3("L50", "累计百分声级L50", "percentile sound level L50"),
    _b3("L90", "累计百分声级L90", "percentile sound level L90"),
    _b3("L95", "累计百分声级L95", "percentile sound level L95"),
    _b3("Leq", "等效声级", "equivalent continuous sound level"),
    _b3("Ldn", "昼夜等效声级", "day-night equivalent sound level"),
    _b3("Ld", "昼间等效声级", "daytime equivalent sound level"),
    _b3("Ln", "夜间等效声级", "night-time equivalent sound level"),
    _b3("LMx", "最大的瞬时声级", "maximum instantaneous sound level"),
    _b3("LMn", "最小的瞬时声级", "minimum instantaneous sound level"),
)

POLLUTANTS: Final[Mapping[str, Pollutant]] = MappingProxyType({p.code: p for p in (*_AIR, *_WATER, *_NOISE)})
"""2017 factor code (case-sensitive, e.g. "a21026", "Leq") -> factor."""


def _map_2005(table: str) -> Mapping[str, str]:
    return MappingProxyType(
        {p.code_2005: p.code for p in POLLUTANTS.values() if p.table == table and p.code_2005 is not None}
    )


GAS_2005_TO_2017: Final[Mapping[str, str]] = _map_2005("B.2")
"""HJ/T 212-2005 air code ("01", "02", "S01", "B02" …) -> 2017 code, from Table B.2's 原编码 column."""

WATER_2005_TO_2017: Final[Mapping[str, str]] = _map_2005("B.1")
"""HJ/T 212-2005 water code ("001", "011", "B01" …) -> 2017 code, from Table B.1's 原编码 column."""


def pollutant(code: str) -> Pollutant | None:
    """The factor with this HJ 212-2017 code (case-sensitive), or None when the table does not list it."""
    return POLLUTANTS.get(code)


def _looks_like_water_2005(code: str) -> bool:
    return code == "B01" or (len(code) == 3 and code.isascii() and code.isdigit())


def map_2005_code(code: str, st: str | None) -> str | None:
    """Translate an HJ/T 212-2005 short factor code to its HJ 212-2017 code, or None when unknown.

    The air and water 2005 codes look alike, so the system code decides the table: ST "31" (air pollution
    source) uses the air table, ST "32" (water pollution source) the water table. With no ST or another ST the
    shape decides: three-digit codes and "B01" are water, everything else ("01", "S01", "B02" …) is air.
    The caller keeps the raw code when this returns None.
    """
    if st == ST_AIR_SOURCE:
        return GAS_2005_TO_2017.get(code)
    if st == ST_WATER_SOURCE:
        return WATER_2005_TO_2017.get(code)
    if _looks_like_water_2005(code):
        return WATER_2005_TO_2017.get(code)
    return GAS_2005_TO_2017.get(code)


# ----------------------------------------------------------------------------------------------------
# Commands (命令编码)
# ----------------------------------------------------------------------------------------------------

SOURCE_2017: Final = "HJ 212-2017"
SOURCE_2005: Final = "HJ/T 212-2005"
SOURCE_2025: Final = "HJ 212-2025 (third-party report)"
SOURCE_VENDOR: Final = "vendor extension"

COMMAND_KINDS: Final[frozenset[str]] = frozenset(
    {"request", "upload", "request/upload", "notification", "reply"}
)
"""Closed vocabulary of ``Command.kind``:

* ``request``: a command that asks the other side to do something; answered with 9011 (QnRtn) and,
  when executed, 9012 (ExeRtn). Usually host -> field; field-initiated for 1014 (2025) and 9021 (vendor).
* ``upload``: field -> host data or information, answered with 9014 when Flag bit A is set.
* ``request/upload``: the same CN is the host's request ("取/提取 …") and the field's upload ("上传 …").
* ``notification``: a one-way notice (通知命令), answered with 9013.
* ``reply``: an answer to another packet (9011-9014, vendor 9022).
"""


@dataclass(frozen=True, slots=True)
class Command:
    """One command code CN: its name, kind (see ``COMMAND_KINDS``) and the text that defines it."""

    cn: str
    zh: str
    en: str
    kind: str
    source: str
    note: str = ""


def _commands(source: str, rows: Iterable[tuple[str, str, str, str, str]]) -> Mapping[str, Command]:
    return MappingProxyType({cn: Command(cn, zh, en, kind, source, note) for cn, zh, en, kind, note in rows})


COMMANDS_2017: Final[Mapping[str, Command]] = _commands(
    SOURCE_2017,
    (
        ("1000", "设置超时时间及重发次数", "set timeout and retry count", "request", "CP: OverTime, ReCount"),
        (
            "1011",
            "提取/上传现场机时间",
            "get / upload field-machine time",
            "request/upload",
            "with PolId the instrument's clock, without it the DAS clock",
        ),
        ("1012", "设置现场机时间", "set field-machine time", "request", "CP: [PolId;]SystemTime"),
        (
            "1013",
            "现场机时间校准请求",
            "field machine asks for time calibration",
            "notification",
            "host replies 9013, then normally sends 1012",
        ),
        (
            "1061",
            "提取/上传实时数据间隔",
            "get / upload real-time data interval",
            "request/upload",
            "RtdInterval",
        ),
        ("1062", "设置实时数据间隔", "set real-time data interval", "request", "RtdInterval"),
        (
            "1063",
            "提取/上传分钟数据间隔",
            "get / upload minute data interval",
            "request/upload",
            "MinInterval",
        ),
        ("1064", "设置分钟数据间隔", "set minute data interval", "request", "MinInterval"),
        ("1072", "设置现场机访问密码", "set field-machine access password", "request", "NewPW"),
        ("2011", "取/上传污染物实时数据", "request / upload real-time pollutant data", "request/upload", ""),
        ("2012", "停止察看污染物实时数据", "stop real-time pollutant data", "notification", ""),
        ("2021", "取/上传设备运行状态数据", "request / upload equipment running state", "request/upload", ""),
        ("2022", "停止察看设备运行状态", "stop equipment running-state data", "notification", ""),
        ("2031", "取/上传污染物日历史数据", "request / upload daily pollutant data", "request/upload", ""),
        (
            "2041",
            "取/上传设备运行时间日历史数据",
            "request / upload equipment running-time daily data",
            "request/upload",
            "SBn-RT",
        ),
        ("2051", "取/上传污染物分钟数据", "request / upload minute pollutant data", "request/upload", ""),
        ("2061", "取/上传污染物小时数据", "request / upload hourly pollutant data", "request/upload", ""),
        (
            "2081",
            "上传数采仪开机时间",
            "upload DAS restart (power-on) time",
            "upload",
            "DataTime;RestartTime",
        ),
        ("3011", "零点校准量程校准", "zero and span calibration", "request", "PolId"),
        ("3012", "即时采样", "immediate sampling", "request", "PolId"),
        ("3013", "启动清洗/反吹", "start cleaning (water) / blowback (gas)", "request", "PolId"),
        ("3014", "比对采样", "comparison sampling", "request", "PolId"),
        (
            "3015",
            "超标留样/上传超标留样信息",
            "over-limit sample retention / upload its information",
            "request/upload",
            "upload CP: DataTime;VaseNo",
        ),
        ("3016", "设置采样时间周期", "set sampling period", "request", "PolId;CstartTime;Ctime"),
        ("3017", "提取/上传采样时间周期", "get / upload sampling period", "request/upload", ""),
        ("3018", "提取/上传出样时间", "get / upload sample-output time", "request/upload", "PolId;Stime"),
        (
            "3019",
            "提取/上传设备唯一标识",
            "get / upload instrument unique ID",
            "request/upload",
            "also uploaded when an instrument is replaced",
        ),
        (
            "3020",
            "提取/上传现场机信息",
            "get / upload site information (logs, status, parameters)",
            "request/upload",
            "InfoId, ixxxxx-Info",
        ),
        ("3021", "设置现场机参数", "set site parameter", "request", "PolId;InfoId;ixxxxx-Info"),
        ("9011", "请求应答", "request reply", "reply", "QnRtn"),
        ("9012", "执行结果", "execution result", "reply", "ExeRtn"),
        ("9013", "通知应答", "notification reply", "reply", "empty CP"),
        ("9014", "数据应答", "data reply", "reply", "empty CP; echoes the QN of the data packet"),
    ),
)
"""Every CN of HJ 212-2017 Table 9."""

_2005_NOTE: Final = "from open-source enumerations, not checked against the HJ/T 212-2005 text"

COMMANDS_2005: Final[Mapping[str, Command]] = _commands(
    SOURCE_2005,
    (
        (
            "1031",
            "提取/上传上位机地址",
            "get / upload host address",
            "request/upload",
            "deleted in 2017; " + _2005_NOTE,
        ),
        (
            "1041",
            "提取/上传数据上报时间",
            "get / upload data report time",
            "request/upload",
            "deleted in 2017; " + _2005_NOTE,
        ),
        (
            "2071",
            "取/上传污染物报警记录",
            "request / upload pollutant alarm records",
            "request/upload",
            "deleted in 2017 (legacy alarm); " + _2005_NOTE,
        ),
        (
            "2072",
            "上传污染物报警事件",
            "upload alarm event",
            "notification",
            "deleted in 2017 (legacy alarm); " + _2005_NOTE,
        ),
        ("3011", "校零校满", "zero / full-scale calibration", "request", _2005_NOTE),
        ("3012", "即时采样", "immediate sampling", "request", _2005_NOTE),
        ("3013", "设备操作", "device operation", "request", "2017: start cleaning / blowback; " + _2005_NOTE),
        (
            "3014",
            "设置设备采样时间周期",
            "set sampling period",
            "request",
            "2017: comparison sampling; " + _2005_NOTE,
        ),
    ),
)
"""HJ/T 212-2005 commands that HJ 212-2017 deleted, or whose CN means something else in 2017."""

_2025_NOTE: Final = "reported by caoyiliang/HJ212; unverified against the HJ 212-2025 text"

COMMANDS_2025: Final[Mapping[str, Command]] = _commands(
    SOURCE_2025,
    (
        (
            "1001",
            "上传数采仪硬件序号",
            "upload DAS hardware serial numbers",
            "upload",
            "i23005..i23008-Info: logger id, CPU id, MAC1, MAC2; " + _2025_NOTE,
        ),
        ("1002", "设置数采仪MN编码", "set DAS MN", "request", _2025_NOTE),
        (
            "1014",
            "现场机获取新密钥/上位机下发新密钥",
            "key exchange: field asks for / host sets a new key",
            "request",
            "field: SKCreateTime; host: SKCreateTime;NewSK; " + _2025_NOTE,
        ),
        (
            "2013",
            "取/上传原始监测数据",
            "request / upload raw periodic monitoring data",
            "request/upload",
            "-SampleTime,-CompleteTime,-SampleType,-Avg; " + _2025_NOTE,
        ),
        (
            "2052",
            "取/上传噪声单次测量数据",
            "request / upload single noise measurement",
            "request/upload",
            _2025_NOTE,
        ),
        (
            "2062",
            "取/上传自动标样核查（校准）数据",
            "request / upload automatic standard-sample check (calibration) data",
            "request/upload",
            "-SampleRd,-StandardValue,-ResultType; " + _2025_NOTE,
        ),
        (
            "2111",
            "上传炉膛温度5min均值",
            "upload furnace temperature 5-minute mean",
            "upload",
            "a01901-Avg; " + _2025_NOTE,
        ),
        ("3022", "下发即时留样任务", "immediate sample-retention task", "request", _2025_NOTE),
        ("3024", "启动标样核查", "start standard-sample check", "request", _2025_NOTE),
        ("9015", "心跳包", "heartbeat", "notification", "reply behaviour unknown; " + _2025_NOTE),
    ),
)
"""Commands that HJ 212-2025 reportedly adds to the 2017 table (third-party report)."""

REMOVED_IN_2025: Final[frozenset[str]] = frozenset({"3014", "3015", "3016", "3017"})
"""CNs whose 2017 clauses (Appendix C.33-C.36) HJ 212-2025 reportedly deletes (third-party report,
unverified). ``command()`` still resolves them for version 2: deployed devices may keep sending them."""

VENDOR_COMMANDS: Final[Mapping[str, Command]] = _commands(
    SOURCE_VENDOR,
    (
        ("9015", "心跳", "heartbeat", "notification", "widely seen before HJ 212-2025 reportedly adopted it"),
        ("9021", "登录", "login", "request", "field machine logs in to the host"),
        ("9022", "登录应答", "login reply", "reply", "host answers 9021"),
    ),
)
"""Vendor extensions widely seen in the field; no standard defines them."""


def command(cn: str, version: int | None) -> Command | None:
    """The meaning of CN under a protocol version, or None when no table knows it.

    ``version`` is the Flag version number: 0 = HJ/T 212-2005, 1 = HJ 212-2017, 2 = HJ 212-2025, None (or any
    other value) = unknown, read as 2017. Version 0 uses the 2005 meanings where they differ (3013 = device
    operation, not cleaning) and otherwise the 2017 table, because a 2017 device that omits Flag also looks
    like version 0. Version 2 is the 2017 table plus the reported 2025 additions. Vendor extensions come last.
    """
    found: Command | None
    if version == 0:
        found = COMMANDS_2005.get(cn) or COMMANDS_2017.get(cn)
    elif version == 2:
        found = COMMANDS_2025.get(cn) or COMMANDS_2017.get(cn)
    else:
        found = COMMANDS_2017.get(cn)
    return found or VENDOR_COMMANDS.get(cn)


DATA_COMMANDS: Final[Mapping[str, str]] = MappingProxyType(
    {"2011": "rtd", "2051": "minute", "2061": "hour", "2031": "day"}
)
"""CNs that carry pollutant readings -> kind of reading: real-time (-Rtd), minute, hourly, daily."""

# ----------------------------------------------------------------------------------------------------
# System codes, data flags, reply codes
# ----------------------------------------------------------------------------------------------------

SYSTEM_CODES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "21": ("地表水质量监测", "surface-water quality monitoring"),
        "22": ("空气质量监测", "air quality monitoring"),
        "23": ("声环境质量监测", "acoustic-environment quality monitoring"),
        "24": ("地下水质量监测", "groundwater quality monitoring"),
        "25": ("土壤质量监测", "soil quality monitoring"),
        "26": ("海水质量监测", "seawater quality monitoring"),
        "27": ("挥发性有机物监测", "volatile organic compounds (VOC) monitoring"),
        "31": ("大气环境污染源", "air pollution source (flue gas)"),
        "32": ("地表水体环境污染源", "surface-water pollution source (wastewater)"),
        "33": ("地下水体环境污染源", "groundwater pollution source"),
        "34": ("海洋环境污染源", "marine pollution source"),
        "35": ("土壤环境污染源", "soil pollution source"),
        "36": ("声环境污染源", "noise pollution source"),
        "37": ("振动环境污染源", "vibration pollution source"),
        "38": ("放射性环境污染源", "radioactive pollution source"),
        "39": ("工地扬尘污染源", "construction-site dust pollution source"),
        "41": ("电磁环境污染源", "electromagnetic pollution source"),
        "51": ("烟气排放过程监控", "flue-gas emission process monitoring"),
        "52": ("污水排放过程监控", "wastewater emission process monitoring"),
        "91": ("系统交互", "system interaction"),
    }
)
"""ST -> (zh, en), HJ 212-2017 Table 5. Ranges: 10-29 environmental quality, 30-49 pollution sources,
50-69 process monitoring, 91-99 system interaction, A0-Z9 extensions. Values seen in the wild but not in the
table (e.g. 80, 101) are simply absent."""


@dataclass(frozen=True, slots=True)
class DataFlag:
    """A data flag letter of ``xxx-Flag`` (HJ 212-2017 Table 8).

    ``valid`` is an interpretation (IceCoffee.HJ212), not part of the standard.
    """

    letter: str
    zh: str
    en: str
    valid: bool


DATA_FLAGS: Final[Mapping[str, DataFlag]] = MappingProxyType(
    {
        f.letter: f
        for f in (
            DataFlag("N", "在线监控（监测）仪器仪表工作正常", "instrument working normally", True),
            DataFlag("F", "在线监控（监测）仪器仪表停运", "instrument stopped", False),
            DataFlag(
                "M",
                "在线监控（监测）仪器仪表处于维护期间产生的数据",
                "data produced during maintenance",
                False,
            ),
            DataFlag("S", "手工输入的设定值", "manually entered set value", True),
            DataFlag("D", "在线监控（监测）仪器仪表故障", "instrument fault", False),
            DataFlag("C", "在线监控（监测）仪器仪表处于校准状态", "instrument in calibration", False),
            DataFlag(
                "T",
                "在线监控（监测）仪器仪表采样数值超过测量上限",
                "sampled value above the measuring upper limit",
                False,
            ),
            DataFlag(
                "B",
                "在线监控（监测）仪器仪表与数采仪通讯异常",
                "instrument-to-DAS communication abnormal",
                False,
            ),
        )
    }
)
"""Flag letter -> meaning. The table is declared extensible: unknown letters are not errors."""

QN_RTN_TEXT: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {
        1: ("准备执行请求", "ready to execute the request"),
        2: ("请求被拒绝", "request rejected"),
        3: ("PW错误", "PW error"),
        4: ("MN错误", "MN error"),
        5: ("ST错误", "ST error"),
        6: ("Flag错误", "Flag error"),
        7: ("QN错误", "QN error"),
        8: ("CN错误", "CN error"),
        9: ("CRC校验错误", "CRC error"),
        100: ("未知错误", "unknown error"),
    }
)
"""QnRtn of CN 9011 (请求命令返回) -> (zh, en). Extensible."""

EXE_RTN_TEXT: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {
        1: ("执行成功", "success"),
        2: ("执行失败，但不知道原因", "failed, reason unknown"),
        3: ("命令请求条件错误", "request condition error"),
        4: ("通讯超时", "communication timeout"),
        5: ("系统繁忙不能执行", "system busy"),
        6: ("系统故障", "system fault"),
        100: ("没有数据", "no data"),
    }
)
"""ExeRtn of CN 9012 (执行结果) -> (zh, en). Extensible."""
