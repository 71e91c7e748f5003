"""Tampering signatures and honest events injected into the simulated data, with the true windows as labels.

:class:`TamperedModel` wraps a :class:`~envtrust.sim.physics.PointModel` and transforms its per-minute data
(:class:`~envtrust.sim.physics.MinuteData`: values, converted values, flags) inside the windows of its
:class:`Injection` s.  Everything a :class:`~envtrust.sim.frames.FrameSource` produces (real-time samples, minute,
hourly and daily aggregates) is derived from those minutes, so all of them agree.  Converted (``Zs``) values are
recomputed from the (possibly tampered) concentration and O2 exactly as the physics does.  A model may also omit
frames (``gaps_high_load``, honest network gaps): :meth:`TamperedModel.omitted`.

Scenario names are a public interface (``envtrust simulate --tamper NAME:MN``); see :data:`SCENARIOS` and
``docs/decisions/0007-simulated-tampering.md``.  Categories: ``tampering`` (a detector should call it),
``anomaly`` (a detector may call it an instrument fault, not fraud), ``exceedance`` (a genuine process upset: a
detector must report an exceedance, not tampering), ``honest`` (network gaps: nothing to call).

Every random quantity is deterministic: an injection's parameters come from ``(seed, MN, scenario, window)``;
a window not given is drawn from ``(seed, MN, scenario, simulated span)``; per-minute noise from the injection
key and the minute.  Value transforms touch only minutes whose true flag is ``N`` (a routine calibration, a
maintenance or a shutdown inside a tampering window stays as it was), except ``replay`` and ``copy_point``, which
copy whole minutes.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from .physics import (
    DAY,
    SAMPLES_PER_MINUTE,
    ZS_O2_CUTOFF,
    MinuteData,
    PointModel,
    local_datetime,
    local_seconds,
    point_key,
    splitmix64,
)

__all__ = [
    "CATEGORIES",
    "SCENARIOS",
    "Injection",
    "Scenario",
    "TamperError",
    "TamperSpec",
    "TamperedModel",
    "exceedance_hours",
    "iso_local",
    "network_gaps",
    "parse_spec",
    "plan_injections",
    "resolve_spec",
]

CATEGORIES = ("tampering", "anomaly", "exceedance", "honest")
_SQRT6 = math.sqrt(6.0)
_HOUR = 3600
_N = SAMPLES_PER_MINUTE


class TamperError(ValueError):
    """A tampering specification that cannot be applied (unknown scenario or point, wrong medium, bad time)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A kind of injected event.  ``hours``: (min, max) length of its window when not given; ``gas_only``: flue
    gas points only; ``needs_reference``: only where converted values exist (reference O2); ``pollutant``:
    ``one`` (one pollutant chosen by the seed), ``fixed`` (a fixed channel) or ``none`` (several channels)."""

    name: str
    category: str
    term: str
    hours: tuple[float, float]
    pollutant: str = "one"
    gas_only: bool = False
    needs_reference: bool = False
    summary: str = ""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "flat",
            "tampering",
            "数据恒值",
            (2, 6),
            summary="pollutant held at one value (or two alternating)",
        ),
        Scenario("smooth", "tampering", "数据平滑", (4, 12), summary="trailing moving average, no variance"),
        Scenario("spike", "anomaly", "异常尖峰", (2, 6), summary="3–8 single-minute spikes × 3–10"),
        Scenario("scale", "tampering", "修改量程/斜率", (24, 72), summary="pollutant × 0.4–0.7"),
        Scenario("offset", "tampering", "修改截距", (24, 72), summary="pollutant − 30–60 % of its level"),
        Scenario(
            "o2_ambient",
            "tampering",
            "探头置于空气中/拔管",
            (1, 4),
            pollutant="none",
            gas_only=True,
            summary="O2 20.6–20.9 %, pollutants ≈ 0, flow and temperature operating",
        ),
        Scenario(
            "o2_low",
            "tampering",
            "篡改氧含量",
            (6, 24),
            pollutant="fixed",
            gas_only=True,
            needs_reference=True,
            summary="O2 understated by 2–4 points, converted values fall",
        ),
        Scenario(
            "clip",
            "tampering",
            "限值封顶",
            (6, 24),
            summary="true level 1.1–1.6 × limit reported ≤ 0.98 × limit",
        ),
        Scenario("false_flag", "tampering", "虚假标记", (24, 72), summary="exceedances flagged C or M"),
        Scenario(
            "false_stop", "tampering", "标停未停", (2, 8), pollutant="none", summary="flag F while operating"
        ),
        Scenario(
            "replay", "tampering", "数据回放", (2, 12), pollutant="none", summary="copy of 1–7 days earlier"
        ),
        Scenario(
            "copy_point",
            "tampering",
            "复制他点数据",
            (2, 12),
            pollutant="none",
            summary="copy of another point",
        ),
        Scenario("digits", "tampering", "人工编造数据", (24, 48), summary="round numbers, Min = Max = Avg"),
        Scenario(
            "gaps_high_load",
            "tampering",
            "选择性缺失",
            (48, 96),
            pollutant="none",
            summary="minute and real-time frames deleted in the day's top-25 % load",
        ),
        Scenario(
            "time_shift",
            "tampering",
            "时间错位",
            (24, 48),
            pollutant="none",
            summary="analyser channels delayed 20–90 min against flow and temperature",
        ),
        Scenario(
            "twin_channels",
            "tampering",
            "通道联动造假",
            (12, 48),
            pollutant="fixed",
            summary="a pollutant = k × velocity (gas) or k × flow (water)",
        ),
        Scenario(
            "exceedance", "exceedance", "真实超标", (1, 6), summary="process upset to 1.2–2 × limit, flag N"
        ),
    )
}


# --------------------------------------------------------------------------------------------------------------
# injections


@dataclass(frozen=True, slots=True)
class Injection:
    """One injected event on point ``mn``: local seconds ``[start, end)`` (whole minutes), the pollutant it
    concerns (None: several channels), its parameters (``detail``, JSON values; offsets in minutes from
    ``start``) and ``key``, the root of its per-minute noise."""

    scenario: str
    mn: str
    start: int
    end: int
    pollutant: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    key: int = 0

    @property
    def category(self) -> str:
        return SCENARIOS[self.scenario].category

    def covers(self, s: float) -> bool:
        return self.start <= s < self.end


@dataclass(frozen=True, slots=True)
class TamperSpec:
    """``SCENARIO[/CODE]:MN[:START[:HOURS]]`` parsed; ``start`` naive = the point's local time."""

    scenario: str
    mn: str
    pollutant: str | None = None
    start: datetime | None = None
    hours: float | None = None


def parse_spec(text: str) -> TamperSpec:
    """Parse ``SCENARIO[/CODE]:MN[:START[:HOURS]]``.

    START is ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (local time of the point, no seconds, no offset: the colon
    after the minutes separates HOURS); HOURS a positive number.
    """
    head, sep, rest = text.partition(":")
    if not sep or not rest:
        raise TamperError(f"--tamper {text!r}: expected SCENARIO:MN[:START[:HOURS]]")
    scenario, _, pollutant = head.partition("/")
    if scenario not in SCENARIOS:
        raise TamperError(f"--tamper {text!r}: unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    mn, _, when = rest.partition(":")
    if not mn:
        raise TamperError(f"--tamper {text!r}: missing MN")
    start: datetime | None = None
    hours: float | None = None
    if when:
        parts = when.split(":")
        timed = "T" in parts[0] or " " in parts[0]
        n_start = 2 if timed else 1
        if len(parts) < n_start or len(parts) > n_start + 1:
            raise TamperError(
                f"--tamper {text!r}: START must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, optionally followed by :HOURS"
            )
        try:
            start = datetime.fromisoformat(":".join(parts[:n_start]))
        except ValueError:
            raise TamperError(f"--tamper {text!r}: bad START {':'.join(parts[:n_start])!r}") from None
        if start.tzinfo is not None:
            raise TamperError(f"--tamper {text!r}: START is local time, without an offset")
        if len(parts) > n_start:
            try:
                hours = float(parts[n_start])
            except ValueError:
                raise TamperError(f"--tamper {text!r}: bad HOURS {parts[n_start]!r}") from None
            if not 0 < hours <= 24 * 60:
                raise TamperError(f"--tamper {text!r}: HOURS must be positive (at most 60 days)")
    return TamperSpec(scenario, mn, pollutant or None, start, hours)


def _key(*parts: object) -> int:
    text = "|".join(str(p) for p in ("envtrust.sim.tamper", *parts))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def iso_local(model: PointModel, s: float) -> str:
    """Local seconds ``s`` of the model's point as ISO 8601 with the point's UTC offset."""
    return local_datetime(s).replace(tzinfo=model.point.zone).isoformat()


def _honest_overlap(model: PointModel, start: int, end: int, strict: bool) -> bool:
    """Whether [start, end) meets a shutdown (or, ``strict``, any honest event: calibration, maintenance)."""
    for d in range(start // DAY, (end - 1) // DAY + 1):
        for w in model.windows(d):
            if w.start < end and w.end > start and (strict or w.kind == "F"):
                return True
    return False


def _draw_window(
    model: PointModel, scenario: Scenario, rng: random.Random, span: tuple[int, int], hours: float | None
) -> tuple[int, int]:
    """A window inside ``span``, not in its first two days when the span allows, avoiding shutdowns (and, for
    windows of 12 h or less, every honest event) when it can."""
    lo, hi = span
    length = 60 * round(60 * (hours if hours is not None else rng.uniform(*scenario.hours)))
    length = max(60, min(length, (hi - lo) // 60 * 60))
    earliest = lo + 2 * DAY
    if hi - earliest < length:
        earliest = max(lo, hi - length - (hi - lo) // 4)
    earliest = -(-earliest // 60) * 60  # whole minutes
    latest = max(earliest, hi - length)
    best: tuple[int, int] | None = None
    for _ in range(40):
        start = earliest + 60 * rng.randrange(0, (latest - earliest) // 60 + 1)
        best = (start, start + length)
        if not _honest_overlap(model, start, start + length, strict=length <= 12 * _HOUR):
            break
    assert best is not None
    return best


def _pollutants(model: PointModel) -> list[str]:
    """The point's pollutants that have a registered limit (all its pollutants when none has)."""
    codes = [model.codes[j] for j in model.pollutants]
    registered = [c for c in codes if c in model.point.limits]
    return registered or codes


def _typical(model: PointModel, j: int) -> float:
    """The typical raw concentration of pollutant channel ``j`` at normal operation."""
    level = model.limits.get(model.codes[j], 10.0) * model.fraction[j]
    ref = model.reference_o2
    if model.medium == "gas" and ref is not None:
        o2 = 0.5 * (model.o2_full + model.o2_low)
        level *= (21.0 - o2) / (21.0 - ref)
    return level


def resolve_spec(
    spec: TamperSpec,
    model: PointModel,
    *,
    seed: int,
    span: tuple[int, int],
    peers: Sequence[PointModel] = (),
) -> Injection:
    """The injection a specification means on ``model``'s point, its missing parts drawn from the seed.

    ``span``: the simulated local seconds [start, end); ``peers``: the other points of the fleet (``copy_point``
    copies one with the same medium).
    """
    scenario = SCENARIOS[spec.scenario]
    mn = model.point.mn
    if scenario.gas_only and model.medium != "gas":
        raise TamperError(f"{spec.scenario}: point {mn} is not a flue-gas point")
    if scenario.needs_reference and model.reference_o2 is None:
        raise TamperError(f"{spec.scenario}: point {mn} has no reference O2 (no converted values)")
    if spec.pollutant is not None and (
        spec.pollutant not in model.index or model.channels[model.index[spec.pollutant]].kind != "conc"
    ):
        raise TamperError(f"{spec.scenario}: {spec.pollutant!r} is not a pollutant of point {mn}")
    if spec.start is not None:
        start = 60 * (int(local_seconds(spec.start)) // 60)
        rng = random.Random(_key(seed, mn, spec.scenario, "length", start))
        hours = spec.hours if spec.hours is not None else rng.uniform(*scenario.hours)
        window = (start, start + 60 * max(1, round(60 * hours)))
    else:
        rng = random.Random(_key(seed, mn, spec.scenario, "window", span[0], span[1]))
        window = _draw_window(model, scenario, rng, span, spec.hours)
    return _build(scenario, model, window, spec.pollutant, seed=seed, span=span, peers=peers)


def _build(
    scenario: Scenario,
    model: PointModel,
    window: tuple[int, int],
    pollutant: str | None,
    *,
    seed: int,
    span: tuple[int, int],
    peers: Sequence[PointModel],
) -> Injection:
    start, end = window
    mn = model.point.mn
    key = _key(seed, mn, scenario.name, start, end)
    rng = random.Random(key)
    name = scenario.name
    gas = model.medium == "gas"
    if scenario.pollutant == "one" and pollutant is None:
        pollutant = rng.choice(_pollutants(model))
    elif name == "o2_low":
        pollutant = "a19001"
    elif name == "twin_channels":
        pollutant = pollutant or ("a34013" if gas else "w01018")
    elif scenario.pollutant == "none":
        pollutant = None
    j = model.index[pollutant] if pollutant is not None and pollutant in model.index else -1
    detail: dict[str, Any] = {}
    if name == "flat":
        ch = model.channels[j]
        detail["variant"] = "constant" if rng.random() < 0.5 else "alternating"
        detail["value"] = round(_level_near(model, j, start, end), ch.decimals)
        detail["step"] = round(10.0**-ch.decimals, ch.decimals)
    elif name == "smooth":
        detail["minutes"] = rng.choice((45, 60, 90))
    elif name == "spike":
        minutes = (end - start) // 60
        candidates = [k for k in range(minutes) if model.minute(start // 60 + k).flags[j] == "N"] or list(
            range(minutes)
        )
        count = min(len(candidates), rng.randint(3, 8))
        offsets = sorted(rng.sample(candidates, count))
        detail["spikes"] = [[k, round(rng.uniform(3.0, 10.0), 2)] for k in offsets]
    elif name == "scale":
        detail["factor"] = round(rng.uniform(0.4, 0.7), 3)
    elif name == "offset":
        frac = round(rng.uniform(0.3, 0.6), 3)
        detail["fraction"] = frac
        detail["delta"] = round(frac * _typical(model, j), 4)
    elif name == "o2_ambient":
        detail["o2"] = round(rng.uniform(20.6, 20.9), 2)
    elif name == "o2_low":
        detail["delta"] = round(rng.uniform(2.0, 4.0), 2)
    elif name == "clip":
        detail["true_ratio"] = round(rng.uniform(1.1, 1.6), 3)
        detail["cap_ratio"] = round(rng.uniform(0.90, 0.98), 3)
        detail["factor"] = round(detail["true_ratio"] / model.fraction[j], 4)
        detail["limit"] = model.limits[pollutant or ""]
    elif name == "false_flag":
        detail["episodes"] = _episodes(model, rng, start, end, j)
        detail["limit"] = model.limits[pollutant or ""]
    elif name == "replay":
        back = max(1, min(7, (start - span[0]) // DAY))
        detail["days_back"] = rng.randint(1, back)
    elif name == "copy_point":
        donors = sorted(
            (p.point.mn for p in peers if p.medium == model.medium and p.point.mn != mn),
        )
        if not donors:
            raise TamperError(f"copy_point: no other {model.medium} point to copy for {mn}")
        detail["source_mn"] = rng.choice(donors)
    elif name == "digits":
        level = _typical(model, j)
        ch = model.channels[j]
        unit = 1.0 if level >= 5.0 else 10.0 ** (math.floor(math.log10(max(level, 1e-6))) - 1)
        unit = max(unit, 10.0**-ch.decimals)
        detail["unit"] = float(f"{unit:.6g}")
        detail["p_five"] = 0.6
    elif name == "gaps_high_load":
        detail["quantile"] = 0.75
    elif name == "time_shift":
        detail["lag_minutes"] = rng.randint(20, 90)
    elif name == "twin_channels":
        src = "a01011" if gas else "w00000"
        i = model.index[src]
        typical_src = (
            model.design_flow * 0.75 / model.duct_area if gas else model.design_flow * 0.9
        )  # velocity m/s at 75 % load; flow L/s
        detail["source"] = src
        detail["k"] = float(f"{_typical(model, j) / typical_src:.5g}")
        assert model.channels[i].code == src
    elif name == "exceedance":
        detail["ratio"] = round(rng.uniform(1.2, 2.0), 3)
        detail["factor"] = round(detail["ratio"] / model.fraction[j], 4)
        detail["ramp_minutes"] = 10
        detail["limit"] = model.limits[pollutant or ""]
    return Injection(name, mn, start, end, pollutant, detail, key)


def _level_near(model: PointModel, j: int, start: int, end: int) -> float:
    """Mean raw value of channel ``j`` over the first normal minute in [start, end) (the typical level if none)."""
    for m in range(start // 60, min(end // 60, start // 60 + 120)):
        d = model.minute(m)
        if d.flags[j] == "N":
            return sum(d.values[j]) / len(d.values[j])
    return _typical(model, j)


def _episodes(model: PointModel, rng: random.Random, start: int, end: int, j: int) -> list[list[Any]]:
    """2–4 non-overlapping episodes of 1–4 h in [start, end), in daytime (08:00–21:00, unlike the point's
    routine night-time calibration), away from honest events: [offset minutes, length minutes, flag, factor]."""
    want = rng.randint(2, 4)
    found: list[tuple[int, int]] = []
    first_day, last_day = start // DAY, (end - 1) // DAY
    for _ in range(300):
        if len(found) >= want:
            break
        length = 60 * rng.randint(60, 240)
        day = rng.randint(first_day, last_day)
        a = day * DAY + 60 * rng.randrange(8 * 60, 21 * 60 - length // 60 + 1)
        b = a + length
        if a < start or b > end or _honest_overlap(model, a - 1800, b + 1800, strict=True):
            continue
        if any(a < y + _HOUR and b > x - _HOUR for x, y in found):
            continue
        found.append((a, b))
    if not found:  # a short window: one episode over it
        found.append((start, min(end, start + 4 * _HOUR)))
    found.sort()
    limit_ratio = [round(rng.uniform(1.3, 2.0), 3) for _ in found]
    return [
        [
            (a - start) // 60,
            (b - a) // 60,
            rng.choice("CM"),
            round(r / model.fraction[j], 4),
        ]
        for (a, b), r in zip(found, limit_ratio, strict=True)
    ]


def plan_injections(
    models: Sequence[PointModel],
    *,
    seed: int,
    spans: Mapping[str, tuple[int, int]],
    specs: Sequence[TamperSpec] = (),
    random_k: int = 0,
    exceedance_rate: float | None = None,
    honest_share: float = 0.2,
    notes: list[str] | None = None,
) -> list[Injection]:
    """The injections of a fleet: the explicit ``specs``, then ``random_k`` points per tampering/anomaly scenario
    (distinct points, at most one scenario per point, gas-only scenarios on gas points, at least ``honest_share``
    of the points left honest), then an honest ``exceedance`` on each point with probability ``exceedance_rate``
    (default 0.5 when ``random_k`` > 0, else 0), outside that point's other windows.

    When the fleet is too small for ``random_k`` points per scenario, every scenario gets one point and the
    remaining tampered-point budget goes to scenarios drawn by the seed; ``notes`` receives what was done.
    ``spans``: MN → simulated local seconds [start, end).  Raises :class:`TamperError` when not even one point per
    scenario is possible.
    """
    by_mn = {m.point.mn: m for m in models}
    out: list[Injection] = []
    used: set[str] = set()
    for spec in specs:
        model = by_mn.get(spec.mn)
        if model is None:
            raise TamperError(f"--tamper {spec.scenario}:{spec.mn}: no such point in the simulated fleet")
        inj = resolve_spec(spec, model, seed=seed, span=spans[spec.mn], peers=models)
        out.append(inj)
        if inj.category != "exceedance":
            used.add(spec.mn)
    if random_k > 0:
        out += _random_assignment(
            models,
            random_k,
            seed=seed,
            spans=spans,
            used=used,
            honest_share=honest_share,
            notes=notes if notes is not None else [],
        )
    rate = exceedance_rate if exceedance_rate is not None else (0.5 if random_k > 0 else 0.0)
    if rate > 0:
        for model in models:
            mn = model.point.mn
            rng = random.Random(_key(seed, mn, "honest-exceedance", *spans[mn]))
            if rng.random() >= rate:
                continue
            busy = [(i.start, i.end) for i in out if i.mn == mn]
            scenario = SCENARIOS["exceedance"]
            for attempt in range(20):
                wrng = random.Random(_key(seed, mn, "exceedance", "window", *spans[mn], attempt))
                window = _draw_window(model, scenario, wrng, spans[mn], None)
                if not any(window[0] < b + 2 * _HOUR and window[1] > a - 2 * _HOUR for a, b in busy):
                    out.append(_build(scenario, model, window, None, seed=seed, span=spans[mn], peers=models))
                    break
    return sorted(out, key=lambda i: (i.start, i.mn, i.scenario))


def _eligible(scenario: Scenario, model: PointModel, models: Sequence[PointModel]) -> bool:
    if scenario.gas_only and model.medium != "gas":
        return False
    if scenario.needs_reference and model.reference_o2 is None:
        return False
    if scenario.name == "copy_point":
        return any(p.medium == model.medium and p.point.mn != model.point.mn for p in models)
    return True


def _random_assignment(
    models: Sequence[PointModel],
    k: int,
    *,
    seed: int,
    spans: Mapping[str, tuple[int, int]],
    used: set[str],
    honest_share: float,
    notes: list[str],
) -> list[Injection]:
    scenarios = [s for s in SCENARIOS.values() if s.category != "exceedance"]
    n = len(models)
    budget = math.floor(n * (1.0 - honest_share)) - len(used)
    counts = {s.name: k for s in scenarios}
    if len(scenarios) * k > budget:
        need = math.ceil((len(scenarios) * k + len(used)) / (1.0 - honest_share))
        if budget < len(scenarios):
            raise TamperError(
                f"--tamper-random {k}: {len(scenarios)} scenarios need at least "
                f"{math.ceil((len(scenarios) + len(used)) / (1.0 - honest_share))} points (one scenario per "
                f"point, {honest_share:.0%} left honest); the fleet has {n} (use --points)"
            )
        # every scenario once, then as many further rounds as the points allow, scenarios drawn by the seed
        spare = budget - len(scenarios)
        counts = dict.fromkeys(counts, 1)
        cut = random.Random(_key(seed, "tamper-random-rounds", k))
        for _ in range(k - 1):
            names = sorted(counts)
            cut.shuffle(names)
            for name in names[:spare]:
                counts[name] += 1
            spare -= min(spare, len(names))
        notes.append(
            f"--tamper-random {k} needs {need} points for {len(scenarios)} scenarios × {k} with one scenario "
            f"per point and {honest_share:.0%} honest; {n} points: "
            + ", ".join(
                f"{sum(1 for c in counts.values() if c == i)} scenarios × {i}" for i in range(k, 0, -1)
            )
        )
    rng = random.Random(_key(seed, "tamper-random", k, *(m.point.mn for m in models)))
    # the most constrained scenarios choose first
    order = sorted(scenarios, key=lambda s: (sum(_eligible(s, m, models) for m in models), s.name))
    chosen: list[tuple[Scenario, PointModel]] = []
    taken = set(used)
    for scenario in order:
        for i in range(counts[scenario.name]):
            pool = [m for m in models if m.point.mn not in taken and _eligible(scenario, m, models)]
            if not pool:
                if i == 0:
                    raise TamperError(f"--tamper-random {k}: no point left for {scenario.name}")
                notes.append(
                    f"--tamper-random {k}: {scenario.name} on {i} points only (no eligible point left)"
                )
                break
            model = rng.choice(pool)
            taken.add(model.point.mn)
            chosen.append((scenario, model))
    out = []
    for scenario, model in chosen:
        spec = TamperSpec(scenario.name, model.point.mn)
        out.append(resolve_spec(spec, model, seed=seed, span=spans[model.point.mn], peers=models))
    return out


# --------------------------------------------------------------------------------------------------------------
# honest network gaps

_S_GAP = 0x6761


def network_gaps(seed: int, mn: str, day: int) -> list[tuple[int, int]]:
    """Honest network gaps of a point starting on local day ``day``: 0–2 (probabilities 0.45, 0.35, 0.2) of
    10–120 min at random minutes, independent of load; (start, end) local seconds."""
    rng = random.Random(splitmix64(point_key(seed, mn) ^ splitmix64((_S_GAP << 48) ^ (day & 0xFFFFFFFFFFFF))))
    u = rng.random()
    count = 0 if u < 0.45 else 1 if u < 0.8 else 2
    gaps = []
    for _ in range(count):
        start = day * DAY + 60 * rng.randrange(0, 1440)
        gaps.append((start, start + 60 * rng.randint(10, 120)))
    return sorted(gaps)


# --------------------------------------------------------------------------------------------------------------
# the wrapper


def _noise(inj: Injection, m: int) -> tuple[Callable[[], float], Callable[[], float]]:
    """Triangular unit-variance noise and uniform numbers for minute ``m`` of an injection."""
    r = random.Random(splitmix64(inj.key ^ splitmix64(m & 0xFFFFFFFFFFFF))).random

    def g() -> float:
        return (r() + r() - 1.0) * _SQRT6

    return g, r


class TamperedModel(PointModel):
    """``model`` with ``injections`` applied: the same interface, the tampered minutes.

    ``peers``: MN → model of the other points (the untampered truth that ``copy_point`` copies); ``gaps``: honest
    network gaps, local seconds [start, end): every frame produced in one is lost (offline generation).
    :meth:`truth` gives the untampered minute.
    """

    _TRUTH_CACHE = 512

    def __init__(
        self,
        model: PointModel,
        injections: Iterable[Injection] = (),
        *,
        peers: Mapping[str, PointModel] | None = None,
        gaps: Sequence[tuple[int, int]] = (),
    ) -> None:
        super().__init__(model.point, model.seed)
        self.base = model
        self.injections = tuple(i for i in injections if i.mn == model.point.mn)
        self.peers = dict(peers or {})
        self.gaps = tuple(sorted(gaps))
        self._minute_injections = tuple(i for i in self.injections if i.scenario != "gaps_high_load")
        self._gap_injections = tuple(i for i in self.injections if i.scenario == "gaps_high_load")
        self._truth: dict[int, MinuteData] = {}
        self._out: dict[int, MinuteData] = {}
        self._loads: dict[int, tuple[float, list[float]]] = {}
        self._o2 = self.index.get("a19001")
        for inj in self.injections:
            if inj.scenario == "copy_point" and inj.detail["source_mn"] not in self.peers:
                raise TamperError(f"copy_point on {inj.mn}: the model of {inj.detail['source_mn']} is needed")

    # -- data ----------------------------------------------------------------------------------------------------

    def truth(self, m: int) -> MinuteData:
        """The untampered minute ``m`` (cached: the last few hundred minutes)."""
        d = self._truth.get(m)
        if d is None:
            d = self.base.minute(m)
            if len(self._truth) >= self._TRUTH_CACHE:
                self._truth.pop(next(iter(self._truth)))
            self._truth[m] = d
        return d

    def minute(self, m: int) -> MinuteData:
        d = self._out.get(m)
        if d is None:
            d = self.truth(m)
            s = 60 * m
            for inj in self._minute_injections:
                if inj.start <= s < inj.end:
                    d = _APPLY[inj.scenario](self, inj, m, d)
            if len(self._out) >= 4:
                self._out.pop(next(iter(self._out)))
            self._out[m] = d
        return d

    def hidden(self, inj: Injection, m: int) -> MinuteData:
        """What was really emitted in minute ``m`` (with the true flags) under ``inj``: the raised level that
        ``clip`` caps and ``false_flag`` flags away; for other scenarios the reported minute."""
        if not inj.covers(60 * m):
            return self.truth(m)
        if inj.scenario == "clip":
            return _clip_hidden(self, inj, m, self.truth(m))
        if inj.scenario == "false_flag":
            ep = _episode(inj, m)
            d = self.truth(m)
            j = self.index[inj.pollutant or ""]
            return d if ep is None or d.flags[j] != "N" else _scaled(self, d, j, ep[3])
        return self.minute(m)

    def with_values(
        self,
        d: MinuteData,
        changes: Mapping[int, Sequence[float]],
        *,
        flags: tuple[str, ...] | None = None,
        state: str | None = None,
    ) -> MinuteData:
        """``d`` with the values of some channels replaced; converted values recomputed from the concentrations
        and O2 as the physics does (only for the channels that changed, all of them when O2 changed)."""
        values = list(d.values)
        for j, v in changes.items():
            values[j] = tuple(v)
        zs = list(d.zs)
        ref = self.reference_o2
        if ref is not None and self._o2 is not None:
            o2 = values[self._o2]
            factor = 21.0 - ref
            all_conc = self._o2 in changes
            for j in self.pollutants:
                if all_conc or j in changes:
                    zs[j] = tuple(
                        c if o >= ZS_O2_CUTOFF else c * factor / (21.0 - o)
                        for c, o in zip(values[j], o2, strict=True)
                    )
        return MinuteData(
            d.m,
            d.state if state is None else state,
            d.flags if flags is None else flags,
            tuple(values),
            tuple(zs),
        )

    # -- frames --------------------------------------------------------------------------------------------------

    def omitted(self, cn: str, start: float, end: float) -> bool:
        """Frames lost in an honest network gap (by production time ``end``) or deleted by ``gaps_high_load``
        (minute and real-time frames whose data time ``start`` falls in the day's top-quartile load)."""
        for a, b in self.gaps:
            if a <= end < b:
                return True
            if a > end:
                break
        if cn in ("2011", "2051"):
            for inj in self._gap_injections:
                if inj.start <= start < inj.end and self._high_load(start, inj.detail["quantile"]):
                    return True
        return False

    def _high_load(self, s: float, quantile: float) -> bool:
        m = math.floor(s / 60)
        d = m // 1440
        cached = self._loads.get(d)
        if cached is None:
            loads = [self.load(60.0 * (d * 1440 + k) + 30.0) for k in range(1440)]
            ranked = sorted(loads)
            cached = (ranked[min(1439, int(quantile * 1440))], loads)
            if len(self._loads) > 4:
                self._loads.pop(next(iter(self._loads)))
            self._loads[d] = cached
        threshold, loads = cached
        return loads[m - d * 1440] >= threshold > 0.0

    # -- labels --------------------------------------------------------------------------------------------------

    def labels(self) -> list[dict[str, Any]]:
        """The labels of this point's injections and honest gaps (see :func:`label`).  An ``exceedance`` label also
        lists in ``hours_unreceived`` those of its ``hours`` whose data never reach a receiver (the hourly frame
        and more than 15 of the minute frames lost in network gaps): no checker can find them."""
        out: list[dict[str, Any]] = []
        for inj in self.injections:
            if inj.scenario == "false_flag":
                episodes = inj.detail["episodes"]
                for n, (off, length, flag, factor) in enumerate(episodes, 1):
                    a = inj.start + 60 * off
                    b = a + 60 * length
                    detail = {"flag": flag, "factor": factor, "episode": n, "episodes": len(episodes)}
                    detail["limit"] = inj.detail["limit"]
                    hours = exceedance_hours(self, inj.pollutant or "", a, b, partial(self.hidden, inj))
                    out.append(self._label(inj, a, b, detail, hours))
            elif inj.scenario == "clip":
                hours = exceedance_hours(
                    self, inj.pollutant or "", inj.start, inj.end, partial(self.hidden, inj)
                )
                out.append(self._label(inj, inj.start, inj.end, inj.detail, hours))
            elif inj.scenario == "exceedance":
                hours = exceedance_hours(self, inj.pollutant or "", inj.start, inj.end, self.minute)
                label = self._label(inj, inj.start, inj.end, inj.detail, hours)
                j = self.index[inj.pollutant or ""]
                label["hours_unreceived"] = [iso_local(self, h) for h in hours if not self._received(j, h)]
                out.append(label)
            else:
                detail = dict(inj.detail)
                if inj.scenario == "spike":
                    detail["spikes"] = [[iso_local(self, inj.start + 60 * k), f] for k, f in detail["spikes"]]
                elif inj.scenario == "replay":
                    detail["source_start"] = iso_local(self, inj.start - DAY * detail["days_back"])
                out.append(self._label(inj, inj.start, inj.end, detail, None))
        for a, b in self.gaps:
            out.append(
                {
                    "mn": self.point.mn,
                    "scenario": "network_gap",
                    "category": "honest",
                    "pollutant": None,
                    "start": iso_local(self, a),
                    "end": iso_local(self, b),
                    "detail": {"frames": "lost"},
                }
            )
        return out

    def _received(self, j: int, h: int) -> bool:
        """Whether the data of pollutant channel ``j`` for the hour starting at ``h`` reach a receiver: its hourly
        (2061) frame, or at least 45 minute (2051) frames flagged N, not lost in a network gap."""
        if not self.omitted("2061", float(h), float(h + _HOUR)):
            return True
        received = sum(
            1
            for m in range(h // 60, h // 60 + 60)
            if self.minute(m).flags[j] == "N" and not self.omitted("2051", 60.0 * m, 60.0 * m + 60)
        )
        return received >= 45

    def _label(
        self, inj: Injection, a: int, b: int, detail: Mapping[str, Any], hours: list[int] | None
    ) -> dict[str, Any]:
        label: dict[str, Any] = {
            "mn": self.point.mn,
            "scenario": inj.scenario,
            "category": inj.category,
            "pollutant": inj.pollutant,
            "start": iso_local(self, a),
            "end": iso_local(self, b),
            "detail": dict(detail),
        }
        if hours is not None:
            label["hours"] = [iso_local(self, h) for h in hours]
        return label


def exceedance_hours(
    model: PointModel, code: str, start: int, end: int, minute: Callable[[int], MinuteData]
) -> list[int]:
    """Hour starts (local seconds) of the hours meeting [start, end) in which pollutant ``code`` exceeds its
    limit: at least 45 minutes flagged N, and the mean of their minute averages — converted (Zs) where the point
    has a reference O2, raw otherwise, each as reported (rounded to the channel's decimals) — above the limit."""
    j = model.index[code]
    ch = model.channels[j]
    limit = model.limits[code]
    hours = []
    for h in range(start // _HOUR * _HOUR, end, _HOUR):
        avgs = []
        for m in range(h // 60, h // 60 + 60):
            d = minute(m)
            if d.flags[j] != "N":
                continue
            z = d.zs[j]
            vals = z if z is not None else d.values[j]
            avgs.append(float(ch.fmt(sum(vals) / len(vals))))
        if len(avgs) >= 45 and sum(avgs) / len(avgs) > limit:
            hours.append(h)
    return hours


# --------------------------------------------------------------------------------------------------------------
# scenario transforms: (model, injection, minute, true minute data) → reported minute data

_Apply = Callable[[TamperedModel, Injection, int, MinuteData], MinuteData]


def _j(tm: TamperedModel, inj: Injection) -> int:
    return tm.index[inj.pollutant or ""]


def _scaled(tm: TamperedModel, d: MinuteData, j: int, factor: float) -> MinuteData:
    return tm.with_values(d, {j: [c * factor for c in d.values[j]]})


def _flat(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    if d.flags[j] != "N":
        return d
    value = inj.detail["value"]
    if inj.detail["variant"] == "alternating" and m % 2:
        value = round(value + inj.detail["step"], tm.channels[j].decimals)
    return tm.with_values(d, {j: [value] * _N})


def _smooth(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    if d.flags[j] != "N":
        return d
    total, n = 0.0, 0
    for k in range(m - inj.detail["minutes"] + 1, m + 1):
        dk = tm.truth(k)
        if dk.flags[j] == "N":
            total += sum(dk.values[j])
            n += len(dk.values[j])
    return tm.with_values(d, {j: [total / n] * _N})


def _spike(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    offset = m - inj.start // 60
    for k, factor in inj.detail["spikes"]:
        if k == offset and d.flags[j] == "N":
            g, _ = _noise(inj, m)
            return tm.with_values(d, {j: [c * factor * (1 + 0.05 * g()) for c in d.values[j]]})
    return d


def _scale(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    return d if d.flags[j] != "N" else _scaled(tm, d, j, inj.detail["factor"])


def _offset(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    if d.flags[j] != "N":
        return d
    delta = inj.detail["delta"]
    return tm.with_values(d, {j: [max(0.0, c - delta) for c in d.values[j]]})


def _o2_ambient(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    if d.state != "N" or tm._o2 is None:
        return d
    g, _ = _noise(inj, m)
    level = inj.detail["o2"]
    changes: dict[int, list[float]] = {tm._o2: [min(20.95, level + 0.03 * g()) for _ in range(_N)]}
    for j in tm.pollutants:
        lim = tm.limits.get(tm.codes[j], 10.0)
        changes[j] = [max(0.0, 0.003 * lim * g()) for _ in range(_N)]
    return tm.with_values(d, changes)


def _o2_low(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    if d.state != "N" or tm._o2 is None:
        return d
    delta = inj.detail["delta"]
    return tm.with_values(d, {tm._o2: [max(0.5, o - delta) for o in d.values[tm._o2]]})


def _clip_hidden(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    return d if d.flags[j] != "N" else _scaled(tm, d, j, inj.detail["factor"])


def _clip(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    if d.flags[j] != "N":
        return d
    hidden = _clip_hidden(tm, inj, m, d)
    g, _ = _noise(inj, m)
    cap = inj.detail["cap_ratio"] * inj.detail["limit"]
    z = hidden.zs[j]
    if z is None:  # no converted values: the raw concentration is what is judged
        return tm.with_values(d, {j: [min(c, cap * (1 + 0.01 * g())) for c in hidden.values[j]]})
    assert tm._o2 is not None and tm.reference_o2 is not None
    o2 = hidden.values[tm._o2]
    factor = 21.0 - tm.reference_o2
    raw = []
    for zi, o in zip(z, o2, strict=True):
        reported = min(zi, cap * (1 + 0.01 * g()))
        raw.append(reported if o >= ZS_O2_CUTOFF else reported * (21.0 - o) / factor)
    return tm.with_values(d, {j: raw})


def _episode(inj: Injection, m: int) -> list[Any] | None:
    offset = m - inj.start // 60
    for ep in inj.detail["episodes"]:
        if ep[0] <= offset < ep[0] + ep[1]:
            return list(ep)
    return None


def _false_flag(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    ep = _episode(inj, m)
    j = _j(tm, inj)
    if ep is None or d.state != "N":
        return d
    raised = _scaled(tm, d, j, ep[3])
    return MinuteData(m, ep[2], tm._flags(ep[2]), raised.values, raised.zs)


def _false_stop(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    if d.state != "N":
        return d
    return MinuteData(m, "F", tm._flags("F"), d.values, d.zs)


def _replay(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    src = tm.truth(m - 1440 * inj.detail["days_back"])
    return MinuteData(m, src.state, src.flags, src.values, src.zs)


def _copy_point(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    src = tm.peers[inj.detail["source_mn"]].minute(m)
    copied = MinuteData(m, src.state, src.flags, src.values, tuple(None for _ in src.values))
    if tm.reference_o2 is None or tm._o2 is None:
        return copied
    return tm.with_values(copied, {tm._o2: src.values[tm._o2]})  # every converted value recomputed


def _digits(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    if d.flags[j] != "N":
        return d
    g, u = _noise(inj, m)
    unit = inj.detail["unit"]
    v = sum(d.values[j]) / len(d.values[j]) * (1 + 0.02 * g())
    step = 5 * unit if u() < inj.detail["p_five"] else unit
    value = round(max(0.0, round(v / step) * step), tm.channels[j].decimals)
    return tm.with_values(d, {j: [value] * _N})


def _time_shift(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    src = tm.truth(m - inj.detail["lag_minutes"])
    if d.state != "N" or src.state != "N":
        return d
    values = list(d.values)
    zs = list(d.zs)
    for j, ch in enumerate(tm.channels):
        if ch.group == "analyser":
            values[j] = src.values[j]
            zs[j] = src.zs[j]
    return MinuteData(m, d.state, d.flags, tuple(values), tuple(zs))


def _twin_channels(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    i = tm.index[inj.detail["source"]]
    if d.flags[j] != "N" or d.flags[i] != "N":
        return d
    g, _ = _noise(inj, m)
    k = inj.detail["k"]
    return tm.with_values(d, {j: [max(0.0, k * v * (1 + 0.002 * g())) for v in d.values[i]]})


def _exceedance(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    j = _j(tm, inj)
    if d.flags[j] != "N":
        return d
    ramp = inj.detail["ramp_minutes"]
    into = (60 * m - inj.start) / 60.0 + 0.5
    left = (inj.end - 60 * m) / 60.0 - 0.5
    x = max(0.0, min(1.0, into / ramp, left / ramp))
    x = x * x * (3.0 - 2.0 * x)
    return _scaled(tm, d, j, 1.0 + (inj.detail["factor"] - 1.0) * x)


def _frames_only(tm: TamperedModel, inj: Injection, m: int, d: MinuteData) -> MinuteData:
    return d


_APPLY: dict[str, _Apply] = {
    "flat": _flat,
    "smooth": _smooth,
    "spike": _spike,
    "scale": _scale,
    "offset": _offset,
    "o2_ambient": _o2_ambient,
    "o2_low": _o2_low,
    "clip": _clip,
    "false_flag": _false_flag,
    "false_stop": _false_stop,
    "replay": _replay,
    "copy_point": _copy_point,
    "digits": _digits,
    "gaps_high_load": _frames_only,
    "time_shift": _time_shift,
    "twin_channels": _twin_channels,
    "exceedance": _exceedance,
}
assert set(_APPLY) == set(SCENARIOS)
