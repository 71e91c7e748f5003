"""Deterministic value models of a flue-gas CEMS and a waste-water monitoring point.

Every value is a pure function of ``(seed, point MN, simulated local time)``: the same ``--seed`` gives the same
numbers whatever the network timing, the start time or the order in which they are asked for.

How determinism is achieved
    ``point_key(seed, mn)`` hashes the pair with BLAKE2b into a 64-bit key (Python's ``hash`` is salted and is
    not used).  Every random quantity is drawn from that key, a *stream* number (what the quantity is) and a
    *period index* (which day, which 15-minute knot, which minute): slow noise is interpolated between knots
    whose values are ``splitmix64(key, stream, knot)``; the day schedule (shutdowns, maintenance, calibration
    drift) comes from a ``random.Random`` seeded with ``splitmix64(key, DAY, day)``; the twelve 5-second samples
    of a minute come from a ``random.Random`` seeded with ``splitmix64(key, MINUTE, minute)``.

Time
    Simulated time is *local wall-clock seconds* since 1970-01-01 00:00 in the point's zone (``local_seconds``);
    minute ``m`` covers ``[60 m, 60 m + 60)``, day ``d`` covers ``[86400 d, 86400 d + 86400)``.  Each minute holds
    twelve instantaneous samples at ``60 m + 5 i`` (HJ 75-2017: a minute mean needs at least 12 values); a
    real-time value (``Rtd``) at instant ``s`` is the sample of the 5-second slot that contains ``s``, so real-time
    values always lie between the minute's ``Min`` and ``Max``.

Units (HJ 212-2017 Appendix B)
    Flue gas: a00000 flow m³/s (actual, working conditions), a01011 velocity m/s, a01012 temperature °C,
    a01014 humidity %, a19001 O2 % (vol), a21026 SO2 / a21002 NOx / a34013 particulate mg/m³; ``Cou`` is m³ for
    the flow and kg for the pollutants.  Converted (``Zs``) concentrations: ``C × (21 − O2_ref) / (21 − O2)``.
    Waste water: w00000 flow L/s, w01001 pH, w01018 COD / w21003 NH3-N / w21011 TP / w21001 TN mg/L; ``Cou`` is m³
    for the flow and kg for the pollutants.

Honest events (data flags, HJ 212-2017 Table 8)
    ``C`` daily zero/span calibration at a fixed time of day per point (zero gas for the first half, span gas
    for the second: the two plateaus a real calibration shows); ``M`` occasional maintenance of a few hours in
    working time (an extractive analyser then reads room air: SO2/NOx ≈ 0, O2 ≈ 20.9 %); ``F`` process shutdown
    (flow near zero, O2 → 20.9 %, temperature decays to ambient), followed by a two-hour start-up ramp;
    ``N`` otherwise.  Calibration and maintenance flag the analysers only; a shutdown flags every channel.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from ..registry import Point

__all__ = [
    "GAS_CHANNELS",
    "PROCESSES",
    "SAMPLES_PER_MINUTE",
    "SAMPLE_SECONDS",
    "WATER_CHANNELS",
    "Channel",
    "ChannelStats",
    "MinuteData",
    "PeriodStats",
    "PointModel",
    "Process",
    "Sample",
    "Window",
    "ambient_temperature",
    "converted",
    "local_datetime",
    "local_seconds",
    "merge_stats",
    "point_key",
    "splitmix64",
    "unit_hash",
]

SAMPLE_SECONDS = 5
SAMPLES_PER_MINUTE = 60 // SAMPLE_SECONDS
DAY = 86400
_EPOCH = datetime(1970, 1, 1)
_M64 = (1 << 64) - 1
_SQRT3 = math.sqrt(3.0)
_SQRT6 = math.sqrt(6.0)
O2_AMBIENT = 20.9
# at or above this O2 the DAS reports the measured value as the converted one (near-ambient air)
ZS_O2_CUTOFF = 19.0
RAMP_SECONDS = 7200  # start-up ramp after a shutdown


# --------------------------------------------------------------------------------------------------------------
# time and hashing


def local_seconds(t: datetime, zone: tzinfo | None = None) -> float:
    """Wall-clock seconds since 1970-01-01 00:00 of the local zone.

    An aware ``t`` is first converted to ``zone`` (when given); a naive ``t`` is taken as local wall-clock time.
    """
    if t.tzinfo is not None and zone is not None:
        t = t.astimezone(zone)
    return (t.replace(tzinfo=None) - _EPOCH).total_seconds()


def local_datetime(s: float) -> datetime:
    """The naive local datetime of ``local_seconds`` value ``s``."""
    return _EPOCH + timedelta(seconds=s)


def splitmix64(x: int) -> int:
    """The splitmix64 finaliser: a fast, well-mixed 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def point_key(seed: int, mn: str) -> int:
    """A stable 64-bit key for (seed, MN); the root of every random draw of that point."""
    digest = hashlib.blake2b(f"envtrust.sim|{seed}|{mn}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _hash(key: int, stream: int, index: int) -> int:
    return splitmix64(key ^ splitmix64(((stream & 0xFFFF) << 48) ^ (index & 0xFFFFFFFFFFFF)))


def unit_hash(key: int, stream: int, index: int) -> float:
    """A uniform number in [0, 1) determined by (key, stream, index)."""
    return _hash(key, stream, index) / 18446744073709551616.0


def _gauss_hash(key: int, stream: int, index: int) -> float:
    """An approximately standard-normal number (sum of four uniforms) determined by (key, stream, index)."""
    h = _hash(key, stream, index)
    total = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48)
    return (total / 65536.0 - 2.0) * _SQRT3


def _smoothstep(f: float) -> float:
    return f * f * (3.0 - 2.0 * f)


def _bump(hour: float, centre: float, width: float) -> float:
    d = abs(hour - centre) % 24.0
    d = min(d, 24.0 - d)
    return math.exp(-((d / width) ** 2))


def _plateau(hour: float, start: float, end: float, edge: float = 0.6) -> float:
    return 1.0 / (1.0 + math.exp(-(hour - start) / edge)) / (1.0 + math.exp(-(end - hour) / edge))


def ambient_temperature(s: float) -> float:
    """Outdoor air temperature in °C at local time ``s``, a Shenyang-like climate (January −10 °C, July +24 °C)."""
    doy = (s / DAY) % 365.25
    hour = (s % DAY) / 3600.0
    return (
        7.0
        - 17.0 * math.cos(2 * math.pi * (doy - 20.0) / 365.25)
        + 4.0 * math.sin(2 * math.pi * (hour - 9.0) / 24)
    )


def converted(c: float, o2: float, reference_o2: float) -> float:
    """Concentration converted to the reference O2: ``C × (21 − O2_ref) / (21 − O2)`` (HJ 75-2017).

    At near-ambient O2 (≥ 19 %, a stopped process or an analyser reading room air) the ratio is meaningless and
    the measured value is returned, as data loggers do.
    """
    if o2 >= ZS_O2_CUTOFF:
        return c
    return c * (21.0 - reference_o2) / (21.0 - o2)


# --------------------------------------------------------------------------------------------------------------
# channels and processes


@dataclass(frozen=True, slots=True)
class Channel:
    """One monitored quantity of a point.

    ``kind``: ``flow`` (has a volume ``Cou``), ``conc`` (a pollutant concentration: has a mass ``Cou`` and, on gas
    points with a reference O2, converted ``Zs`` values) or ``param`` (a state parameter: O2, temperature, pH …).
    ``group`` says which instrument measures it, i.e. which events flag it: ``process`` (flow meter, thermometer,
    hygrometer, pH probe: flagged only by a shutdown) or ``analyser`` (flagged by calibration and maintenance too).
    """

    code: str
    name: str
    unit: str
    decimals: int
    kind: str
    group: str

    def fmt(self, value: float) -> str:
        text = format(value, _FORMATS[self.decimals])
        return text[1:] if text[0] == "-" and float(text) == 0 else text


_FORMATS = tuple(f".{d}f" for d in range(16))


GAS_CHANNELS: tuple[Channel, ...] = (
    Channel("a00000", "flue-gas flow", "m³/s", 1, "flow", "process"),
    Channel("a01011", "flue-gas velocity", "m/s", 2, "param", "process"),
    Channel("a01012", "flue-gas temperature", "°C", 1, "param", "process"),
    Channel("a01014", "flue-gas humidity", "%", 1, "param", "process"),
    Channel("a19001", "O2", "%", 1, "param", "analyser"),
    Channel("a21026", "SO2", "mg/m³", 2, "conc", "analyser"),
    Channel("a21002", "NOx", "mg/m³", 1, "conc", "analyser"),
    Channel("a34013", "particulate", "mg/m³", 2, "conc", "analyser"),
)

WATER_CHANNELS: tuple[Channel, ...] = (
    Channel("w00000", "waste-water flow", "L/s", 2, "flow", "process"),
    Channel("w01001", "pH", "", 2, "param", "process"),
    Channel("w01018", "COD", "mg/L", 1, "conc", "analyser"),
    Channel("w21003", "NH3-N", "mg/L", 2, "conc", "analyser"),
    Channel("w21011", "TP", "mg/L", 2, "conc", "analyser"),
    Channel("w21001", "TN", "mg/L", 2, "conc", "analyser"),
)


def _profile_power(hour: float, heating: bool) -> float:
    base = 0.58 + 0.22 * _bump(hour, 10.0, 3.0) + 0.24 * _bump(hour, 19.0, 3.0) - 0.15 * _bump(hour, 3.5, 2.5)
    return base + (0.12 if heating else 0.0)


def _profile_shift(hour: float, heating: bool) -> float:
    return 0.5 + 0.45 * _plateau(hour, 7.5, 20.5)


def _profile_heating(hour: float, heating: bool) -> float:
    if not heating:
        return 0.45 + 0.05 * _bump(hour, 19.0, 3.0)
    return 0.68 + 0.25 * _bump(hour, 6.0, 3.0) + 0.18 * _bump(hour, 19.0, 4.0) - 0.08 * _bump(hour, 14.0, 3.0)


def _profile_flat(hour: float, heating: bool) -> float:
    return 0.92 + 0.03 * math.sin(2 * math.pi * hour / 24.0)


def _profile_sinter(hour: float, heating: bool) -> float:
    return 0.84 + 0.06 * math.sin(2 * math.pi * (hour - 2.0) / 8.0)


def _profile_sewage(hour: float, heating: bool) -> float:
    return 0.8 + 0.35 * _bump(hour, 10.0, 3.0) + 0.3 * _bump(hour, 20.0, 3.0) - 0.28 * _bump(hour, 4.5, 2.5)


def _profile_industrial_water(hour: float, heating: bool) -> float:
    return 0.45 + 0.75 * _plateau(hour, 8.0, 21.0)


@dataclass(frozen=True, slots=True)
class Process:
    """A kind of emitting process: its daily load profile, its stack or outfall and its event rates.

    Gas: ``design_flow`` m³/s at full load, ``duct_area`` m², O2 % at full and at 40 % load, temperature and
    humidity at 40 % and 100 % load.  Water: ``design_flow`` L/s at the profile's factor 1.  ``emission`` maps a
    pollutant code to the mean fraction of its limit emitted (the control efficiency of the plant).
    ``shutdown_per_day`` / ``maintenance_per_day`` are probabilities; ``shutdown_hours`` the (min, max) length.
    """

    name: str
    medium: str
    profile: Callable[[float, bool], float]
    design_flow: float
    duct_area: float = 1.0
    o2_full: float = 6.0
    o2_low: float = 12.5
    temp: tuple[float, float] = (112.0, 135.0)
    humidity: tuple[float, float] = (6.0, 10.0)
    load_range: tuple[float, float] = (0.4, 1.0)
    emission: tuple[tuple[str, float], ...] = ()
    default_limits: tuple[tuple[str, float], ...] = ()
    shutdown_per_day: float = 0.01
    shutdown_hours: tuple[float, float] = (8.0, 48.0)
    maintenance_per_day: float = 0.05
    weekend_factor: float = 1.0
    ph: float = 7.3


_ULTRA_LOW = (("a21026", 35.0), ("a21002", 50.0), ("a34013", 10.0))
_GAS_EMISSION = (("a21026", 0.45), ("a21002", 0.55), ("a34013", 0.4))
_WATER_EMISSION = (("w01018", 0.5), ("w21003", 0.3), ("w21011", 0.5), ("w21001", 0.6))

PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            "power_boiler",
            "gas",
            _profile_power,
            design_flow=260.0,
            duct_area=22.0,
            o2_full=5.8,
            o2_low=12.0,
            emission=_GAS_EMISSION,
            default_limits=_ULTRA_LOW,
            shutdown_per_day=0.01,
            shutdown_hours=(12, 72),
        ),
        Process(
            "industrial_boiler",
            "gas",
            _profile_shift,
            design_flow=32.0,
            duct_area=3.1,
            o2_full=8.5,
            o2_low=13.5,
            temp=(115.0, 140.0),
            emission=_GAS_EMISSION,
            default_limits=(("a21026", 200.0), ("a21002", 200.0), ("a34013", 30.0)),
            shutdown_per_day=0.03,
            shutdown_hours=(4, 36),
            weekend_factor=0.85,
        ),
        Process(
            "heating_boiler",
            "gas",
            _profile_heating,
            design_flow=110.0,
            duct_area=12.0,
            o2_full=8.0,
            o2_low=13.0,
            emission=_GAS_EMISSION,
            default_limits=_ULTRA_LOW,
            shutdown_per_day=0.01,
            shutdown_hours=(6, 36),
        ),
        Process(
            "gas_boiler",
            "gas",
            _profile_heating,
            design_flow=45.0,
            duct_area=4.5,
            o2_full=4.0,
            o2_low=8.5,
            temp=(85.0, 110.0),
            humidity=(11.0, 15.0),
            emission=(("a21026", 0.15), ("a21002", 0.55), ("a34013", 0.3)),
            default_limits=(("a21026", 50.0), ("a21002", 150.0), ("a34013", 20.0)),
            shutdown_per_day=0.02,
            shutdown_hours=(4, 24),
        ),
        Process(
            "cement_kiln",
            "gas",
            _profile_flat,
            design_flow=160.0,
            duct_area=12.6,
            o2_full=9.0,
            o2_low=12.5,
            temp=(100.0, 130.0),
            humidity=(8.0, 12.0),
            load_range=(0.6, 1.0),
            emission=_GAS_EMISSION,
            default_limits=(("a21026", 100.0), ("a21002", 320.0), ("a34013", 20.0)),
            shutdown_per_day=0.015,
            shutdown_hours=(12, 72),
        ),
        Process(
            "incinerator",
            "gas",
            _profile_flat,
            design_flow=42.0,
            duct_area=3.8,
            o2_full=7.5,
            o2_low=11.5,
            temp=(138.0, 155.0),
            humidity=(15.0, 22.0),
            load_range=(0.6, 1.0),
            emission=(("a21026", 0.35), ("a21002", 0.6), ("a34013", 0.25)),
            default_limits=(("a21026", 100.0), ("a21002", 300.0), ("a34013", 30.0)),
            shutdown_per_day=0.006,
            shutdown_hours=(8, 48),
        ),
        Process(
            "sinter",
            "gas",
            _profile_sinter,
            design_flow=300.0,
            duct_area=28.0,
            o2_full=15.0,
            o2_low=17.0,
            temp=(110.0, 150.0),
            humidity=(8.0, 12.0),
            load_range=(0.5, 1.0),
            emission=_GAS_EMISSION,
            default_limits=_ULTRA_LOW,
            shutdown_per_day=0.02,
            shutdown_hours=(6, 36),
        ),
        Process(
            "municipal_wwtp",
            "water",
            _profile_sewage,
            design_flow=900.0,
            load_range=(0.3, 1.6),
            emission=_WATER_EMISSION,
            default_limits=(("w01018", 50.0), ("w21003", 5.0), ("w21011", 0.5), ("w21001", 15.0)),
            shutdown_per_day=0.003,
            shutdown_hours=(1, 6),
            ph=7.2,
        ),
        Process(
            "industrial_wastewater",
            "water",
            _profile_industrial_water,
            design_flow=40.0,
            load_range=(0.2, 1.5),
            emission=_WATER_EMISSION,
            default_limits=(("w01018", 100.0), ("w21003", 15.0), ("w21011", 1.0), ("w21001", 30.0)),
            shutdown_per_day=0.02,
            shutdown_hours=(4, 36),
            weekend_factor=0.7,
            ph=7.5,
        ),
    )
}


def _process_for(point: Point) -> Process:
    name = point.extra.get("process")
    if isinstance(name, str):
        if name not in PROCESSES:
            raise ValueError(f"point {point.mn}: unknown process {name!r} (known: {', '.join(PROCESSES)})")
        return PROCESSES[name]
    if point.medium == "water":
        text = f"{point.enterprise.name} {point.enterprise.industry or ''}"
        return PROCESSES[
            "municipal_wwtp" if "污水处理" in text or "水务" in text else "industrial_wastewater"
        ]
    if point.medium != "gas":
        raise ValueError(f"point {point.mn}: the simulator models gas and water points, not {point.medium!r}")
    ref = point.reference_o2
    if ref is None:
        return PROCESSES["power_boiler"]
    by_ref = {10.0: "cement_kiln", 11.0: "incinerator", 16.0: "sinter", 9.0: "industrial_boiler"}
    if ref in by_ref:
        return PROCESSES[by_ref[ref]]
    return PROCESSES["gas_boiler" if ref < 5 else "power_boiler"]


# --------------------------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True, slots=True)
class Window:
    """An event on a point: ``kind`` is the data flag it causes (``C``, ``M`` or ``F``); local seconds [start, end)."""

    kind: str
    start: int
    end: int

    def covers(self, s: float) -> bool:
        return self.start <= s < self.end


@dataclass(frozen=True, slots=True)
class _Day:
    level: float
    calibration: Window
    maintenance: Window | None
    shutdown: Window | None
    span_drift: tuple[float, ...]
    zero_drift: tuple[float, ...]


# random streams
_S_DAY, _S_MINUTE, _S_LOAD, _S_POINT = 1, 2, 3, 4
_S_CHANNEL = 16  # + channel index


# --------------------------------------------------------------------------------------------------------------
# samples and statistics


@dataclass(frozen=True, slots=True)
class MinuteData:
    """The twelve 5-second samples of minute ``m``: ``values[channel][i]``, ``zs[channel][i]`` (None: no converted
    value for that channel), ``flags[channel]`` (constant over the minute; events start and end on minutes)."""

    m: int
    state: str
    flags: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    zs: tuple[tuple[float, ...] | None, ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """An instantaneous (real-time) reading at local second ``s``: code → value, converted value, flag."""

    s: float
    state: str
    values: dict[str, float]
    zs: dict[str, float]
    flags: dict[str, str]


class _Acc:
    __slots__ = ("max", "min", "n", "sum")

    def __init__(self, n: int = 0, total: float = 0.0, lo: float = math.inf, hi: float = -math.inf) -> None:
        # with arguments: the same as ``add(n, total, lo, hi)`` on an empty accumulator
        self.n = n
        self.sum = 0.0 + total
        self.min = lo
        self.max = hi

    def add(self, n: int, total: float, lo: float, hi: float) -> None:
        self.n += n
        self.sum += total
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    def merge(self, other: _Acc) -> None:
        if other.n:
            self.n += other.n
            self.sum += other.sum
            if other.min < self.min:
                self.min = other.min
            if other.max > self.max:
                self.max = other.max


class ChannelStats:
    """Aggregate of one channel over a period: all samples, valid (flag N) samples, converted values, ``Cou``.

    ``avg``/``min``/``max`` use the valid samples when there are any, else all samples (the period is then
    invalid and its flag says why).  ``cou`` is the volume (m³) for a flow channel, the mass (kg) for a pollutant
    (computed over valid samples only), None otherwise.
    """

    __slots__ = ("all", "cou", "flags", "valid", "zs_all", "zs_valid")

    def __init__(self, with_cou: bool) -> None:
        self.all = _Acc()
        self.valid = _Acc()
        self.zs_all = _Acc()
        self.zs_valid = _Acc()
        self.cou: float | None = 0.0 if with_cou else None
        self.flags: dict[str, int] = {}

    def merge(self, other: ChannelStats) -> None:
        self.all.merge(other.all)
        if other.valid.n:
            self.valid.merge(other.valid)
        if other.zs_all.n:
            self.zs_all.merge(other.zs_all)
            self.zs_valid.merge(other.zs_valid)
        if self.cou is not None and other.cou is not None:
            self.cou += other.cou
        for k, v in other.flags.items():
            self.flags[k] = self.flags.get(k, 0) + v

    def _pick(self, zs: bool) -> _Acc:
        valid, every = (self.zs_valid, self.zs_all) if zs else (self.valid, self.all)
        return valid if valid.n else every

    def summary(self, zs: bool = False) -> tuple[float, float, float] | None:
        """``(avg, min, max)`` at once (None: no samples)."""
        acc = self._pick(zs)
        return (acc.sum / acc.n, acc.min, acc.max) if acc.n else None

    def avg(self, zs: bool = False) -> float | None:
        acc = self._pick(zs)
        return acc.sum / acc.n if acc.n else None

    def min(self, zs: bool = False) -> float | None:
        acc = self._pick(zs)
        return acc.min if acc.n else None

    def max(self, zs: bool = False) -> float | None:
        acc = self._pick(zs)
        return acc.max if acc.n else None

    @property
    def has_zs(self) -> bool:
        return self.zs_all.n > 0

    def flag(self, medium: str, strict: bool = False) -> str:
        """The period's flag: N when ≥ 75 % of the samples are normal (HJ 212-2017 notes to C.16–C.18 for flue
        gas), otherwise the most frequent other flag.  ``strict`` (used for water minute data, as those notes
        say): N only when every sample is normal."""
        total = sum(self.flags.values())
        normal = self.flags.get("N", 0)
        if total == 0 or normal == total:
            return "N"
        if not (strict and medium == "water") and normal >= 0.75 * total:
            return "N"
        others = sorted(((n, k) for k, n in self.flags.items() if k != "N"), key=lambda x: (-x[0], x[1]))
        return others[0][1]


class PeriodStats:
    """Per-channel aggregates of a period [start, end) in local seconds; merge consecutive periods with ``+=``."""

    __slots__ = ("channels", "end", "start")

    def __init__(self, start: float, end: float, channels: list[ChannelStats]) -> None:
        self.start = start
        self.end = end
        self.channels = channels

    @classmethod
    def empty(cls, model: PointModel, start: float, end: float) -> PeriodStats:
        return cls(start, end, [ChannelStats(c.kind in ("flow", "conc")) for c in model.channels])

    def __iadd__(self, other: PeriodStats) -> PeriodStats:
        for mine, theirs in zip(self.channels, other.channels, strict=True):
            mine.merge(theirs)
        self.start = min(self.start, other.start)
        self.end = max(self.end, other.end)
        return self

    @property
    def samples(self) -> int:
        return self.channels[0].all.n if self.channels else 0


def merge_stats(model: PointModel, start: float, end: float, parts: Iterable[PeriodStats]) -> PeriodStats:
    total = PeriodStats.empty(model, start, end)
    for part in parts:
        total += part
    return total


# --------------------------------------------------------------------------------------------------------------
# the model


class PointModel:
    """The deterministic physics of one monitoring point (gas or water) for a given seed.

    The process is ``point.extra["process"]`` (one of :data:`PROCESSES`) or guessed from the medium, the
    reference O2 and the enterprise.  Optional ``point.extra`` keys: ``design_flow`` (m³/s gas, L/s water),
    ``duct_area`` (m²).  Limits missing from the registry take the process's defaults.
    """

    def __init__(self, point: Point, seed: int = 1) -> None:
        self.point = point
        self.seed = seed
        self.key = point_key(seed, point.mn)
        self.process = _process_for(point)
        self.medium = self.process.medium
        self.channels = GAS_CHANNELS if self.medium == "gas" else WATER_CHANNELS
        self.codes = tuple(c.code for c in self.channels)
        self.index = {c.code: i for i, c in enumerate(self.channels)}
        self.reference_o2 = point.reference_o2 if self.medium == "gas" else None
        limits = dict(self.process.default_limits)
        limits.update({k: v for k, v in point.limits.items() if k in self.index})
        self.limits = limits
        rng = random.Random(_hash(self.key, _S_POINT, 0))
        p = self.process
        # point constants, drawn in a fixed order
        self.design_flow = float(point.extra.get("design_flow", p.design_flow * rng.uniform(0.8, 1.2)))
        self.duct_area = float(point.extra.get("duct_area", p.duct_area * rng.uniform(0.9, 1.1)))
        self.o2_full = p.o2_full + rng.uniform(-0.6, 0.6)
        self.o2_low = p.o2_low + rng.uniform(-0.6, 0.6)
        self.temp_offset = rng.uniform(-4.0, 4.0)
        self.ph = p.ph + rng.uniform(-0.3, 0.3)
        emission = dict(p.emission)
        self.pollutants = tuple(i for i, c in enumerate(self.channels) if c.kind == "conc")
        self.fraction = {
            i: emission.get(self.channels[i].code, 0.5) * rng.uniform(0.8, 1.2) for i in self.pollutants
        }
        # calibration at a fixed time of day: between 00:30 and 05:00, 10-20 minutes (zero, then span)
        self.calibration_offset = 60 * (30 + 5 * rng.randrange(0, 55))
        self.calibration_minutes = 2 * rng.randrange(5, 11)
        self.o2_span = rng.choice((8.0, 9.0, 10.0))
        self._days: dict[int, _Day] = {}
        self._minutes: dict[int, MinuteData] = {}
        self._knots: dict[tuple[int, int], float] = {}

    # -- schedule ------------------------------------------------------------------------------------------------

    def _day(self, d: int) -> _Day:
        day = self._days.get(d)
        if day is not None:
            return day
        p = self.process
        rng = random.Random(_hash(self.key, _S_DAY, d))
        level = rng.uniform(0.93, 1.04)
        if (d + 3) % 7 >= 5:  # 1970-01-01 was a Thursday
            level *= p.weekend_factor
        u_maint, maint_start, maint_len = rng.random(), rng.randrange(510, 900), rng.randrange(60, 241)
        u_stop, stop_start, stop_hours = rng.random(), rng.randrange(0, 1440), rng.uniform(*p.shutdown_hours)
        span_drift = tuple(rng.uniform(-0.015, 0.015) for _ in self.channels)
        zero_drift = tuple(rng.uniform(0.0, 0.01) for _ in self.channels)
        base = d * DAY
        cal_start = base + self.calibration_offset
        day = _Day(
            level=level,
            calibration=Window("C", cal_start, cal_start + 60 * self.calibration_minutes),
            maintenance=(
                Window("M", base + 60 * maint_start, base + 60 * (maint_start + maint_len))
                if u_maint < p.maintenance_per_day
                else None
            ),
            shutdown=(
                Window("F", base + 60 * stop_start, base + 60 * stop_start + 60 * round(60 * stop_hours))
                if u_stop < p.shutdown_per_day
                else None
            ),
            span_drift=span_drift,
            zero_drift=zero_drift,
        )
        if len(self._days) > 16:
            self._days.pop(next(iter(self._days)))
        self._days[d] = day
        return day

    def windows(self, d: int) -> list[Window]:
        """Every event window that overlaps day ``d`` (local), sorted by start."""
        lo, hi = d * DAY, (d + 1) * DAY
        found: list[Window] = []
        for dd in range(d - 3, d + 1):
            day = self._day(dd)
            for w in (day.shutdown, day.maintenance, day.calibration):
                if w is not None and w.start < hi and w.end > lo:
                    found.append(w)
        return sorted(set(found), key=lambda w: (w.start, w.kind))

    def shutdown_at(self, s: float) -> Window | None:
        d = int(s // DAY)
        for dd in range(d, d - 4, -1):
            w = self._day(dd).shutdown
            if w is not None and w.covers(s):
                return w
        return None

    def _since_restart(self, s: float) -> float:
        """Seconds since the end of the last shutdown, if within the start-up ramp; else ``RAMP_SECONDS``."""
        d = int(s // DAY)
        best = float(RAMP_SECONDS)
        for dd in range(d - 4, d + 1):
            w = self._day(dd).shutdown
            if w is not None and w.end <= s < w.end + RAMP_SECONDS:
                best = min(best, s - w.end)
        return best

    def event_at(self, s: float) -> Window | None:
        """The event in force at ``s`` (shutdown before maintenance before calibration), or None (normal)."""
        w = self.shutdown_at(s)
        if w is not None:
            return w
        day = self._day(int(s // DAY))
        if day.maintenance is not None and day.maintenance.covers(s):
            return day.maintenance
        if day.calibration.covers(s):
            return day.calibration
        return None

    def state(self, s: float) -> str:
        """The point's state at ``s``: ``N`` normal, ``C`` calibration, ``M`` maintenance, ``F`` shutdown."""
        w = self.event_at(s)
        return w.kind if w is not None else "N"

    def noise(self, stream: int, s: float, spacing: float) -> float:
        """Smooth standard-normal-ish noise: hashed knots every ``spacing`` seconds, smoothstep-interpolated."""
        x = s / spacing
        k = math.floor(x)
        f = _smoothstep(x - k)
        knots = self._knots
        a = knots.get((stream, k))
        if a is None:
            a = knots[(stream, k)] = _gauss_hash(self.key, stream, k)
        b = knots.get((stream, k + 1))
        if b is None:
            if len(knots) > 512:
                knots.clear()
            b = knots[(stream, k + 1)] = _gauss_hash(self.key, stream, k + 1)
        return a + (b - a) * f

    def load(self, s: float) -> float:
        """Process load at ``s`` as a fraction of design (gas: 0.4–1.0; water: flow factor around 1); 0 when stopped."""
        if self.shutdown_at(s) is not None:
            return 0.0
        d = int(s // DAY)
        hour = (s - d * DAY) / 3600.0
        doy = d % 365.25
        heating = doy < 90 or doy >= 304  # Shenyang heating season: 1 November – 31 March
        p = self.process
        lo, hi = p.load_range
        value = p.profile(hour, heating) * self._day(d).level + 0.035 * self.noise(_S_LOAD, s, 900.0)
        value = min(hi, max(lo, value))
        since = self._since_restart(s)
        if since < RAMP_SECONDS:
            value = lo + (value - lo) * since / RAMP_SECONDS
        return value

    # -- samples -------------------------------------------------------------------------------------------------

    def minute(self, m: int) -> MinuteData:
        """The samples of minute ``m`` (cached: the last few minutes are kept)."""
        data = self._minutes.get(m)
        if data is None:
            data = self._gas_minute(m) if self.medium == "gas" else self._water_minute(m)
            if len(self._minutes) >= 4:
                self._minutes.pop(next(iter(self._minutes)))
            self._minutes[m] = data
        return data

    def sample(self, s: float) -> Sample:
        """The instantaneous reading at local second ``s`` (the 5-second sample that contains it)."""
        m = math.floor(s / 60)
        i = min(SAMPLES_PER_MINUTE - 1, int((s - 60 * m) // SAMPLE_SECONDS))
        data = self.minute(m)
        values = {c: data.values[j][i] for j, c in enumerate(self.codes)}
        zs = {c: z[i] for c, z in zip(self.codes, data.zs, strict=True) if z is not None}
        flags = dict(zip(self.codes, data.flags, strict=True))
        return Sample(s, data.state, values, zs, flags)

    def at(self, t: datetime) -> Sample:
        """:meth:`sample` for a datetime (aware: converted to the point's zone; naive: local)."""
        return self.sample(local_seconds(t, self.point.zone))

    def _flags(self, state: str) -> tuple[str, ...]:
        if state == "F":
            return tuple("F" for _ in self.channels)
        return tuple(state if c.group == "analyser" else "N" for c in self.channels)

    def _gas_minute(self, m: int) -> MinuteData:
        s0 = 60 * m
        mid = s0 + 30.0
        event = self.event_at(s0)
        state = event.kind if event is not None else "N"
        rng = random.Random(_hash(self.key, _S_MINUTE, m))
        r = rng.random
        n = SAMPLES_PER_MINUTE
        p = self.process
        ref = self.reference_o2
        area = self.duct_area
        amb = ambient_temperature(mid)
        t_lo, t_hi = p.temp
        h_lo, h_hi = p.humidity

        def g() -> float:  # triangular, unit variance
            return (r() + r() - 1.0) * _SQRT6

        def gs() -> list[float]:  # n successive g() values
            return [(r() + r() - 1.0) * _SQRT6 for _ in range(n)]

        flow: list[float]
        temp: list[float]
        hum: list[float]
        o2: list[float]
        conc: dict[int, list[float]] = {}
        if state == "F" and event is not None:
            k = (s0 - event.start) / 60.0
            fast = math.exp(-k / 5.0)
            t_op = 0.5 * (t_lo + t_hi) + self.temp_offset
            h_op = 0.5 * (h_lo + h_hi)
            o2_op = 0.5 * (self.o2_full + self.o2_low)
            flow_b = self.design_flow * (0.012 + 0.05 * math.exp(-k / 10.0))
            flow = [max(0.0, flow_b * (1 + 0.1 * g())) for _ in range(n)]
            temp = [amb + (t_op - amb) * math.exp(-k / 180.0) + 0.3 * g() for _ in range(n)]
            hum = [max(0.3, 1.2 + (h_op - 1.2) * math.exp(-k / 30.0) + 0.1 * g()) for _ in range(n)]
            o2 = [min(20.95, O2_AMBIENT - (O2_AMBIENT - o2_op) * fast + 0.03 * g()) for _ in range(n)]
            for j in self.pollutants:
                c_op = self.limits.get(self.codes[j], 10.0) * self.fraction[j]
                conc[j] = [
                    max(0.0, c_op * fast + 0.004 * self.limits.get(self.codes[j], 10.0) * g())
                    for _ in range(n)
                ]
        else:
            load = self.load(mid)
            x = (load - 0.4) / 0.6
            since = self._since_restart(mid)
            warm = 1.0 - math.exp(-since / 1800.0) if since < RAMP_SECONDS else 1.0
            flow_b = self.design_flow * load * (1 + 0.03 * self.noise(_S_CHANNEL + 0, mid, 600.0))
            temp_n = (
                t_lo + (t_hi - t_lo) * x + self.temp_offset + 1.5 * self.noise(_S_CHANNEL + 2, mid, 900.0)
            )
            temp_b = amb + (temp_n - amb) * warm
            hum_b = h_lo + (h_hi - h_lo) * x + 0.4 * self.noise(_S_CHANNEL + 3, mid, 900.0)
            o2_b = (
                self.o2_full
                + (self.o2_low - self.o2_full) * (1.0 - x)
                + 0.25 * self.noise(_S_CHANNEL + 4, mid, 600.0)
            )
            o2_b = min(19.5, max(self.o2_full - 1.5, o2_b))
            flow = [max(0.0, flow_b * (1 + 0.008 * e)) for e in gs()]
            temp = [temp_b + 0.15 * e for e in gs()]
            hum = [max(0.3, hum_b + 0.05 * e) for e in gs()]
            o2 = [o2_b + 0.06 * e for e in gs()]
            for j in self.pollutants:
                limit = self.limits.get(self.codes[j], 10.0)
                frac = (
                    self.fraction[j]
                    * (0.85 + 0.2 * load)
                    * math.exp(0.1 * self.noise(_S_CHANNEL + j, mid, 600.0))
                )
                zt = [max(0.0, limit * frac * (1 + 0.025 * e)) for e in gs()]
                if ref is not None:
                    conc[j] = [z * (21.0 - o) / (21.0 - ref) for z, o in zip(zt, o2, strict=True)]
                else:
                    conc[j] = zt
        if state in ("C", "M") and event is not None:
            o2, conc = self._analyser_event(m, event, g)
        values: list[tuple[float, ...]] = [
            tuple(flow),
            tuple(f / area for f in flow),
            tuple(temp),
            tuple(hum),
            tuple(o2),
        ]
        zs: list[tuple[float, ...] | None] = [None] * 5
        for j in self.pollutants:
            values.append(tuple(conc[j]))
            if ref is None:
                zs.append(None)
            else:
                factor = 21.0 - ref
                zs.append(
                    tuple(
                        [
                            c if o >= ZS_O2_CUTOFF else c * factor / (21.0 - o)
                            for c, o in zip(conc[j], o2, strict=True)
                        ]
                    )
                )
        return MinuteData(m, state, self._flags(state), tuple(values), tuple(zs))

    def span_value(self, code: str) -> float:
        """Concentration of the span gas / standard solution used in calibration (twice the limit, or pH 7)."""
        if code == "a19001":
            return self.o2_span
        return (
            2.0 * self.limits.get(code, 10.0) if self.medium == "gas" else 0.8 * self.limits.get(code, 10.0)
        )

    def _analyser_event(
        self, m: int, event: Window, g: Callable[[], float]
    ) -> tuple[list[float], dict[int, list[float]]]:
        """Gas analyser readings during calibration (zero then span gas) or maintenance (room air)."""
        n = SAMPLES_PER_MINUTE
        s0 = 60 * m
        day = self._day(int(event.start // DAY))
        conc: dict[int, list[float]] = {}
        if event.kind == "M":
            o2 = [min(20.95, O2_AMBIENT + 0.03 * g()) for _ in range(n)]
            for j in self.pollutants:
                lim = self.limits.get(self.codes[j], 10.0)
                conc[j] = [max(0.0, 0.003 * lim * g()) for _ in range(n)]
            return o2, conc
        zero_phase = s0 < event.start + (event.end - event.start) // 2
        o2i = self.index["a19001"]
        if zero_phase:
            o2 = [max(0.0, 0.05 + 0.03 * g()) for _ in range(n)]
        else:
            o2 = [self.o2_span * (1 + day.span_drift[o2i]) + 0.03 * g() for _ in range(n)]
        for j in self.pollutants:
            span = self.span_value(self.codes[j])
            if zero_phase:
                conc[j] = [max(0.0, day.zero_drift[j] * span + 0.004 * span * g()) for _ in range(n)]
            else:
                conc[j] = [span * (1 + day.span_drift[j]) + 0.004 * span * g() for _ in range(n)]
        return o2, conc

    def _water_minute(self, m: int) -> MinuteData:
        s0 = 60 * m
        mid = s0 + 30.0
        event = self.event_at(s0)
        state = event.kind if event is not None else "N"
        rng = random.Random(_hash(self.key, _S_MINUTE, m))
        r = rng.random
        n = SAMPLES_PER_MINUTE

        def g() -> float:  # triangular, unit variance
            return (r() + r() - 1.0) * _SQRT6

        def gs() -> list[float]:  # n successive g() values
            return [(r() + r() - 1.0) * _SQRT6 for _ in range(n)]

        if state == "F":
            flow = [max(0.0, 0.002 * self.design_flow * abs(g())) for _ in range(n)]
        else:
            flow_b = self.design_flow * self.load(mid) * (1 + 0.04 * self.noise(_S_CHANNEL, mid, 900.0))
            flow = [max(0.0, flow_b * (1 + 0.01 * e)) for e in gs()]
        ph_b = min(8.4, max(6.6, self.ph + 0.15 * self.noise(_S_CHANNEL + 1, mid, 1800.0)))
        ph = [min(14.0, max(0.0, ph_b + 0.02 * e)) for e in gs()]
        values: list[tuple[float, ...]] = [tuple(flow), tuple(ph)]
        day = self._day(int((event.start if event is not None else s0) // DAY))
        zero_phase = event is not None and s0 < event.start + (event.end - event.start) // 2
        for j in self.pollutants:
            code = self.codes[j]
            limit = self.limits.get(code, 10.0)
            if state == "C":
                span = self.span_value(code)
                if zero_phase:
                    vals = [max(0.0, day.zero_drift[j] * span + 0.005 * span * g()) for _ in range(n)]
                else:
                    vals = [max(0.0, span * (1 + day.span_drift[j]) + 0.005 * span * g()) for _ in range(n)]
            elif state == "M":
                vals = [max(0.0, 0.003 * limit * g()) for _ in range(n)]
            else:
                base = limit * self.fraction[j] * math.exp(0.15 * self.noise(_S_CHANNEL + j, mid, 1800.0))
                vals = [max(0.0, base * (1 + 0.01 * e)) for e in gs()]
            values.append(tuple(vals))
        zs: tuple[None, ...] = tuple(None for _ in self.channels)
        return MinuteData(m, state, self._flags(state), tuple(values), zs)

    # -- statistics ----------------------------------------------------------------------------------------------

    def minute_stats(self, m: int) -> PeriodStats:
        """Aggregates of minute ``m`` (see :class:`ChannelStats`)."""
        data = self.minute(m)
        dt = float(SAMPLE_SECONDS)
        flow = data.values[0]
        water = self.medium == "water"
        n = len(flow)
        new = ChannelStats.__new__
        channels: list[ChannelStats] = []
        for ch, vals, flag, z in zip(self.channels, data.values, data.flags, data.zs, strict=True):
            st = new(ChannelStats)  # filled here directly: this is the simulator's innermost loop
            total, lo, hi = sum(vals), min(vals), max(vals)
            valid = flag == "N"
            st.all = _Acc(n, total, lo, hi)
            st.valid = _Acc(n, total, lo, hi) if valid else _Acc()
            if z is not None:
                zt, zl, zh = sum(z), min(z), max(z)
                st.zs_all = _Acc(n, zt, zl, zh)
                st.zs_valid = _Acc(n, zt, zl, zh) if valid else _Acc()
            else:
                st.zs_all = _Acc()
                st.zs_valid = _Acc()
            st.flags = {flag: n}
            kind = ch.kind
            if kind == "flow":
                st.cou = sum(flow) * dt / (1000.0 if water else 1.0)  # m³
            elif kind == "conc":
                # gas: mg/m³ × m³/s × s → mg; water: mg/L × L/s × s → mg; reported in kg, valid samples only
                st.cou = sum(c * q for c, q in zip(vals, flow, strict=True)) * dt * 1e-6 if valid else 0.0
            else:
                st.cou = None
            channels.append(st)
        return PeriodStats(60.0 * m, 60.0 * m + 60, channels)

    def period_stats(self, start: float, end: float) -> PeriodStats:
        """Aggregates of whole minutes in [start, end) (local seconds, multiples of 60)."""
        return merge_stats(
            self, start, end, (self.minute_stats(m) for m in range(int(start // 60), int(end // 60)))
        )

    def omitted(self, cn: str, start: float, end: float) -> bool:
        """Whether the logger loses the frame of command ``cn`` for data time ``start`` produced at ``end``
        (local seconds): never for the honest model; see :class:`envtrust.sim.tamper.TamperedModel`."""
        return False

    def describe(self) -> str:
        return (
            f"{self.point.mn} {self.process.name}: flow {self.design_flow:.1f} "
            f"{'m³/s' if self.medium == 'gas' else 'L/s'}, calibration at "
            f"{self.calibration_offset // 3600:02d}:{self.calibration_offset % 3600 // 60:02d} "
            f"for {self.calibration_minutes} min"
        )
