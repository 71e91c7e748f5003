"""The data a check sees: one point's series on a regular time grid, with the point's registry facts.

:class:`Series` holds one kind of data (minute or hourly) of one point: a regular grid of period starts (UTC epoch
seconds, step = the logger's interval), and per channel (HJ 212 code) the average, minimum, maximum, converted
(``Zs``) average and data flag of each slot — NaN and ``""`` where nothing arrived.  ``sent`` is when the logger
says it sent the slot (the frame's QN) and ``present`` whether the slot arrived at all.

:class:`PointData` joins the minute and hourly series of a point with its :class:`PointInfo` and derives what several
checks share (valid masks, converted values, the running state, hourly and daily aggregates); derived arrays are
computed once and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .marks import Mark
    from .qa import Blocked

__all__ = [
    "ANALYSER_PREFIXES",
    "FLOW_CODES",
    "O2_CODE",
    "Aggregate",
    "Channel",
    "PointData",
    "PointInfo",
    "Series",
    "SeriesBuilder",
    "resolution",
]

Values = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

O2_CODE: Final = "a19001"
FLOW_CODES: Final = ("a00000", "w00000", "a01011")  # flow first, velocity as a stand-in
TEMP_CODE: Final = "a01012"
# concentrations measured by analysers (HJ 212-2017 Appendix B): gas pollutants, particulate, water pollutants
ANALYSER_PREFIXES: Final = (
    "a21",
    "a34",
    "a24",
    "a25",
    "a05",
    "w01018",
    "w01017",
    "w01019",
    "w21",
    "w20",
    "w19",
)
ZS_O2_CUTOFF: Final = 19.0


@dataclass(frozen=True, slots=True)
class PointInfo:
    """What the registry says about a point (only what checks need)."""

    mn: str
    medium: str = "gas"
    reference_o2: float | None = None
    limits: Mapping[str, float] = field(default_factory=dict)
    utc_offset: int = 8 * 3600  # seconds east of UTC: local hours and days start at the point's wall clock
    name: str = ""


@dataclass(slots=True)
class Channel:
    code: str
    avg: Values
    vmin: Values
    vmax: Values
    zs: Values
    flag: npt.NDArray[np.str_]

    @classmethod
    def empty(cls, code: str, n: int) -> Channel:
        nan = np.full(n, np.nan)
        return cls(code, nan, nan.copy(), nan.copy(), nan.copy(), np.full(n, "", dtype="<U1"))


@dataclass(slots=True)
class Series:
    """One point's data of one kind on a regular grid ``start + step * i``."""

    start: int
    step: int
    present: Mask
    sent: Values
    channels: dict[str, Channel]

    @property
    def size(self) -> int:
        return int(self.present.size)

    @property
    def times(self) -> npt.NDArray[np.int64]:
        return self.start + self.step * np.arange(self.size, dtype=np.int64)

    @property
    def end(self) -> int:
        return self.start + self.step * self.size


def resolution(values: Values) -> float:
    """The reporting resolution of a channel: the smallest step between distinct values (rounded to 1e-9)."""
    v = np.unique(np.round(values[np.isfinite(values)], 9))
    if v.size < 2:
        return 0.0
    d = np.diff(v)
    d = d[d > 1e-9]
    if d.size == 0:
        return 0.0
    # the smallest step that recurs (a single odd difference from float noise must not decide)
    q = np.quantile(d, 0.02)
    return float(q)


class SeriesBuilder:
    """Collects the readings of one point and kind in any order, then lays them on a regular grid.

    Slots that arrive twice keep their first arrival; ``duplicates`` maps the time of every slot that arrived again
    to whether a later arrival carried different values (for the duplicate-time check).

    In streaming, data mostly arrive after everything built so far: :meth:`build` then extends the series it built
    last instead of laying every slot again (late or out-of-order data, a trim or another step rebuild it whole).
    """

    def __init__(self) -> None:
        self._rows: dict[int, dict[str, tuple[float, float, float, float, str]]] = {}
        self._sent: dict[int, float] = {}
        self.duplicates: dict[int, bool] = {}
        self._newest: int | None = None
        self._oldest: int | None = None
        self._built: Series | None = None
        self._pending: set[int] = set()  # slot times written since _built, all after its end

    def add(
        self,
        time: int,
        code: str,
        avg: float | None,
        vmin: float | None = None,
        vmax: float | None = None,
        zs: float | None = None,
        flag: str | None = None,
        sent: float | None = None,
        *,
        first_of_frame: bool = False,
    ) -> None:
        nan = np.nan
        row = self._rows.get(time)
        if row is None:
            row = self._rows[time] = {}
            self._newest = time if self._newest is None else max(self._newest, time)
            self._oldest = time if self._oldest is None else min(self._oldest, time)
        value = (
            nan if avg is None else avg,
            nan if vmin is None else vmin,
            nan if vmax is None else vmax,
            nan if zs is None else zs,
            (flag or "")[:1],
        )
        old = row.get(code)
        if old is not None and first_of_frame:
            self.duplicates[time] = self.duplicates.get(time, False) or old != value
        if old is None:
            row[code] = value
            self._touch(time)
        if sent is not None and time not in self._sent:
            self._sent[time] = sent
            self._touch(time)

    def _touch(self, time: int) -> None:
        b = self._built
        if b is None:
            return
        if time >= b.end and (time - b.start) % b.step == 0:
            self._pending.add(time)
        else:  # inside or off the grid built so far: build again from scratch
            self._built = None
            self._pending.clear()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def newest(self) -> int | None:
        return self._newest

    @property
    def oldest(self) -> int | None:
        return self._oldest

    def trim(self, before: int) -> None:
        """Forget every slot before ``before`` (the sliding window of the streaming evaluator)."""
        for store in (self._rows, self._sent, self.duplicates):
            for t in [t for t in store if t < before]:
                del store[t]
        self._oldest = min(self._rows) if self._rows else None
        self._newest = max(self._rows) if self._rows else None
        self._built = None
        self._pending.clear()

    def build(self, step: int | None = None) -> Series | None:
        """The series on a grid of ``step`` seconds (default: the most common interval of the data)."""
        b = self._built
        if b is not None and (step is None or step == b.step):
            if self._pending:
                b = self._built = self._extend(b)
                self._pending.clear()
            return b
        self._built = self._build_all(step)
        self._pending.clear()
        return self._built

    def _extend(self, b: Series) -> Series:
        times = sorted(self._pending)
        n_old = b.size
        n = (times[-1] - b.start) // b.step + 1
        m = n - n_old
        present = np.concatenate([b.present, np.zeros(m, dtype=bool)])
        sent = np.concatenate([b.sent, np.full(m, np.nan)])
        codes = set(b.channels) | {c for t in times for c in self._rows[t]}
        channels: dict[str, Channel] = {}
        for c in sorted(codes):
            old = b.channels.get(c) or Channel.empty(c, n_old)
            new = Channel.empty(c, m)
            channels[c] = Channel(
                c,
                np.concatenate([old.avg, new.avg]),
                np.concatenate([old.vmin, new.vmin]),
                np.concatenate([old.vmax, new.vmax]),
                np.concatenate([old.zs, new.zs]),
                np.concatenate([old.flag, new.flag]),
            )
        for t in times:
            i = (t - b.start) // b.step
            present[i] = True
            if t in self._sent:
                sent[i] = self._sent[t]
            for code, (a, lo, hi, z, f) in self._rows[t].items():
                ch = channels[code]
                ch.avg[i], ch.vmin[i], ch.vmax[i], ch.zs[i], ch.flag[i] = a, lo, hi, z, f
        return Series(b.start, b.step, present, sent, channels)

    def _build_all(self, step: int | None) -> Series | None:
        if not self._rows:
            return None
        times = np.array(sorted(self._rows), dtype=np.int64)
        if step is None:
            step = infer_step(times)
        start = int(times[0])
        idx = (times - start) // step
        n = int(idx[-1]) + 1
        codes = sorted({c for row in self._rows.values() for c in row})
        channels = {c: Channel.empty(c, n) for c in codes}
        present = np.zeros(n, dtype=bool)
        present[idx] = True
        sent = np.full(n, np.nan)
        for t, i in zip(times.tolist(), idx.tolist(), strict=True):
            if t in self._sent:
                sent[i] = self._sent[t]
            for code, (a, lo, hi, z, f) in self._rows[t].items():
                ch = channels[code]
                ch.avg[i], ch.vmin[i], ch.vmax[i], ch.zs[i], ch.flag[i] = a, lo, hi, z, f
        return Series(start, step, present, sent, channels)


def infer_step(times: npt.NDArray[np.int64]) -> int:
    """The grid step of sorted unique times: the most common positive difference (60 s for minute data)."""
    if times.size < 2:
        return 60
    d = np.diff(times)
    d = d[d > 0]
    if d.size == 0:
        return 60
    values, counts = np.unique(d, return_counts=True)
    return int(values[np.argmax(counts)])


@dataclass(slots=True)
class Aggregate:
    """Per-period aggregate of one channel: valid-slot count, mean of the valid values, mean of the converted."""

    start: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    mean: Values
    conv: Values
    expected: int


class PointData:
    """One point: minute and hourly series, the registry facts, and derived arrays computed once and cached."""

    def __init__(
        self,
        info: PointInfo,
        minute: Series | None,
        hour: Series | None = None,
        *,
        duplicates: Mapping[int, bool] | None = None,
        now: float | None = None,
        horizon: float | None = None,
        blocked: Mapping[str, Sequence[Blocked]] | None = None,
        marks: Sequence[Mark] | None = None,
        mark_context: Mapping[str, Any] | None = None,
    ) -> None:
        self.info = info
        self.minute = minute
        self.hour = hour
        self.duplicates = dict(duplicates or {})
        self.now = now
        self.horizon = horizon
        # per HJ 212 code: the spans in which its analyser was out of control (qc.qa.out_of_control); data inside
        # are invalid whatever their flag says
        self.blocked: dict[str, list[Blocked]] = {c: list(v) for c, v in (blocked or {}).items() if v}
        # the enterprise's data marks (qc.marks): uncontested (or upheld) marks exclude their data from judgement;
        # mark_context: the analysers' full scales, span values and check times the contest rules need
        self.marks: list[Mark] = list(marks or [])
        self.mark_context: dict[str, Any] = dict(mark_context or {})
        self._cache: dict[tuple[str, str], Any] = {}

    def _memo(self, kind: str, code: str, make: Callable[[Series], Any]) -> Any:
        key = (kind, code)
        if key not in self._cache:
            assert self.minute is not None, "derived values need minute data"
            self._cache[key] = make(self.minute)
        return self._cache[key]

    def complete_until(self) -> int:
        """Periods ending at or before this time are complete and may be judged: the end of the data received.
        (Not the ``horizon``: during a back-fill, older periods are still arriving; a point that fell silent
        mid-period is reported as offline, and the period is judged once data after it arrive.)"""
        series = self.minute if self.minute is not None else self.hour
        return series.end if series is not None else 0

    # -- channels -------------------------------------------------------------------------------------------
    @property
    def mn(self) -> str:
        return self.info.mn

    def codes(self) -> list[str]:
        return sorted(self.minute.channels) if self.minute is not None else []

    def analysers(self) -> list[str]:
        """Concentration channels measured by analysers (every limited code and the analyser codes), sorted."""
        if self.minute is None:
            return []

        def make(s: Series) -> list[str]:
            codes = set(self.info.limits) | {c for c in s.channels if c.startswith(ANALYSER_PREFIXES)}
            return sorted(c for c in codes if c in s.channels)

        out: list[str] = self._memo("analysers", "", make)
        return out

    def flow_code(self) -> str | None:
        if self.minute is None:
            return None
        return next((c for c in FLOW_CODES if c in self.minute.channels), None)

    # -- masks and values (minute series) -------------------------------------------------------------------
    def flag_valid(self, code: str) -> Mask:
        """Slots of ``code`` with a value and flag N (or no flag), outside every out-of-control span of its
        analyser (what the data themselves say, before the enterprise's marks)."""

        def make(s: Series) -> Mask:
            ch = s.channels[code]
            out: Mask = (
                np.isfinite(ch.avg) & ((ch.flag == "N") | (ch.flag == "")) & ~self.blocked_mask(code, s)
            )
            return out

        out: Mask = self._memo("flag_valid", code, make)
        return out

    def valid(self, code: str) -> Mask:
        """Slots of ``code`` usable for averages and judgements: :meth:`flag_valid` and not excluded by an
        effective data mark (MEE 2022 No. 21: marked data are not used to judge exceedance)."""

        def make(s: Series) -> Mask:
            out: Mask = self.flag_valid(code) & ~self.marked_mask(code)
            return out

        out: Mask = self._memo("valid", code, make)
        return out

    def excluded_by_marks(self) -> dict[str, list[tuple[int, int, Mark]]]:
        """Per code, the spans of effective marks (not contested by the data, or upheld): computed once."""
        if not self.marks or (self.minute is None and self.hour is None):
            return {}
        key = ("marks_excluded", "")
        if key not in self._cache:
            from .marks import DEFAULTS, excluded

            ctx = self.mark_context
            self._cache[key] = excluded(
                self,
                self.marks,
                DEFAULTS,
                full_scale=ctx.get("full_scale"),
                span_values=ctx.get("span_values"),
                check_times=ctx.get("check_times", ()),
            )
        out: dict[str, list[tuple[int, int, Mark]]] = self._cache[key]
        return out

    def marked_mask(self, code: str, series: Series | None = None) -> Mask:
        """Slots of ``series`` (default the minute series) under an effective data mark of ``code``."""
        s = series if series is not None else self.minute
        assert s is not None
        t = s.times
        out: Mask = np.zeros(t.size, dtype=bool)
        for a, b, _ in self.excluded_by_marks().get(code, ()):
            out |= (t >= a) & (t < b)
        return out

    def stopped_mask(self) -> Mask:
        """Minute slots under an effective ``stopped`` mark (the process declared stopped, as flag F)."""
        assert self.minute is not None
        t = self.minute.times
        out: Mask = np.zeros(t.size, dtype=bool)
        for spans in self.excluded_by_marks().values():
            for a, b, mark in spans:
                if mark.code == "stopped":
                    out |= (t >= a) & (t < b)
        return out

    def blocked_mask(self, code: str, series: Series | None = None) -> Mask:
        """Slots of ``series`` (default the minute series) whose period starts inside a blocked span of ``code``."""
        s = series if series is not None else self.minute
        assert s is not None
        return blocked_slots(s.times, self.blocked.get(code, ()))

    def running_values(self, code: str) -> Values:
        """The valid values of ``code`` while the process runs, NaN elsewhere: what most signatures look at."""

        def make(s: Series) -> Values:
            out: Values = np.where(self.valid(code) & self.running(), s.channels[code].avg, np.nan)
            return out

        out: Values = self._memo("running_values", code, make)
        return out

    def converted(self, code: str) -> Values:
        """The value the limit is judged on: ``Zs`` as sent, else ``C × (21 − ref) / (21 − O2)`` for gas points with a
        reference O2 (O2 ≥ 19 %: the measured value, as data loggers do), else the measured value."""
        out: Values = self._memo("conv", code, lambda s: convert(s, code, self.info.reference_o2))
        return out

    def running(self) -> Mask:
        """Minutes in which the process runs: not flagged F on the flow channel and the flow (or velocity) above a
        quarter of its typical running level; without a flow channel, every minute not flagged F; never under an
        effective ``stopped`` data mark.  Computed once (every check asks)."""

        def make(s: Series) -> Mask:
            flow = self.flow_code()
            if flow is None:
                any_f = np.zeros(s.size, dtype=bool)
                for ch in s.channels.values():
                    any_f |= ch.flag == "F"
                out: Mask = s.present & ~any_f
                return out
            ch = s.channels[flow]
            ok = np.isfinite(ch.avg) & (ch.flag != "F")
            level = float(np.quantile(ch.avg[ok], 0.75)) if ok.any() else 0.0
            running: Mask = ok & (ch.avg > 0.25 * level)
            return running

        def declared(s: Series) -> Mask:  # an effective "stopped" mark counts as stopped (like flag F)
            base: Mask = self._memo("running_data", "", make)
            return base & ~self.stopped_mask() if self.marks else base

        out: Mask = self._memo("running", "", declared)
        return out

    def resolution(self, code: str) -> float:
        out: float = self._memo("res", code, lambda s: resolution(s.channels[code].avg))
        return out

    # -- aggregates -----------------------------------------------------------------------------------------
    def local_floor(self, times: npt.NDArray[np.int64], period: int) -> npt.NDArray[np.int64]:
        off = self.info.utc_offset
        return ((times + off) // period) * period - off

    def hour_grid(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The local clock hours the minute series covers (their starts) and each minute slot's hour index."""

        def make(s: Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
            hours = self.local_floor(s.times, 3600)
            idx = (hours - hours[0]) // 3600
            return hours[0] + 3600 * np.arange(int(idx[-1]) + 1, dtype=np.int64), idx

        out: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] = self._memo("hour_grid", "", make)
        return out

    def hourly(self, code: str, *, running_only: bool = False) -> Aggregate:
        """Hourly aggregate of the valid minutes of ``code`` (local clock hours); with ``running_only`` only of the
        minutes in which the process runs."""

        def make(s: Series) -> Aggregate:
            starts, idx = self.hour_grid()
            valid = self.valid(code) & self.running() if running_only else self.valid(code)
            return aggregate(
                starts, idx, valid, s.channels[code].avg, self.converted(code), max(1, 3600 // s.step)
            )

        out: Aggregate = self._memo("hourly_running" if running_only else "hourly", code, make)
        return out


def blocked_slots(times: npt.NDArray[np.int64], spans: Sequence[Blocked]) -> Mask:
    """Which of ``times`` lie in one of ``spans`` (``[start, end)``, ``end`` None: open)."""
    out: Mask = np.zeros(times.size, dtype=bool)
    for span in spans:
        inside = times >= span.start
        if span.end is not None:
            inside &= times < span.end
        out |= inside
    return out


def overlapping(starts: npt.NDArray[np.int64], length: int, spans: Sequence[Blocked]) -> Mask:
    """Which periods ``[start, start + length)`` overlap one of ``spans``."""
    out: Mask = np.zeros(starts.size, dtype=bool)
    for span in spans:
        hit = starts + length > span.start
        if span.end is not None:
            hit &= starts < span.end
        out |= hit
    return out


def convert(series: Series, code: str, reference_o2: float | None) -> Values:
    ch = series.channels[code]
    out = ch.zs.copy()
    missing = ~np.isfinite(out)
    if not missing.any():
        return out
    fill = ch.avg.copy()
    o2 = series.channels.get(O2_CODE)
    if reference_o2 is not None and o2 is not None and code != O2_CODE:
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = (21.0 - reference_o2) / (21.0 - o2.avg)
            factor = np.where(o2.avg >= ZS_O2_CUTOFF, 1.0, factor)
        fill = fill * factor
    out[missing] = fill[missing]
    return out


def aggregate(
    starts: npt.NDArray[np.int64],
    idx: npt.NDArray[np.int64],
    valid: Mask,
    values: Values,
    conv: Values,
    expected: int,
) -> Aggregate:
    """Per-period count of valid slots and means of their values and converted values; ``idx`` gives each slot's
    period among ``starts``."""
    n = starts.size
    count = np.bincount(idx[valid], minlength=n).astype(np.int64)
    conv_ok = valid & np.isfinite(conv)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(idx[valid], weights=values[valid], minlength=n) / count
        conv_mean = np.bincount(idx[conv_ok], weights=conv[conv_ok], minlength=n) / np.bincount(
            idx[conv_ok], minlength=n
        )
    return Aggregate(starts, count, mean, conv_mean, expected)


def runs(mask: Mask, min_length: int = 1, bridge: int = 0) -> list[tuple[int, int]]:
    """Maximal runs of True as ``(start, end)`` index pairs (end exclusive), runs separated by at most ``bridge``
    False slots merged, runs shorter than ``min_length`` dropped."""
    if mask.size == 0:
        return []
    m = np.concatenate(([False], mask.astype(bool), [False]))
    d = np.diff(m.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    out: list[tuple[int, int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if out and s - out[-1][1] <= bridge:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return [(s, e) for s, e in out if e - s >= min_length]
