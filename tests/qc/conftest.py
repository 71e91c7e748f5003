"""Synthetic point series for the check tests: a running flue-gas point with noise, built without any I/O."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from envtrust.qc import PointData, PointInfo, SeriesBuilder

START = 1_790_000_000 - 1_790_000_000 % 86400 - 8 * 3600  # a local midnight (UTC+8)


def make_gas(
    days: float = 3,
    seed: int = 1,
    *,
    mn: str = "P1",
    edit: Callable[[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray], None] | None = None,
    limits: dict[str, float] | None = None,
    level: float = 1.0,
    minutes: int = 1,
) -> PointData:
    """Minute data of a coal boiler: flow follows a daily load curve, O2 falls with load, SO2 / NOx / PM follow load
    with their own noise; Min/Max spread inside each minute (``values["~code"]``, relative).  ``edit(values, flags, times)`` may tamper in place
    (always on the 1-minute values); ``minutes`` > 1 sends them as 5- or 10-minute data."""
    rng = np.random.default_rng(seed)
    n = int(days * 1440)
    t = START + 60 * np.arange(n)
    hour = ((t + 8 * 3600) % 86400) / 3600
    load = (
        0.7
        + 0.25 * np.sin((hour - 8) / 24 * 2 * np.pi)
        + 0.03 * np.convolve(rng.normal(size=n), np.ones(15) / 15, "same")
    )
    o2 = 9.0 - 4.0 * load + rng.normal(0, 0.05, n)
    flow = 300 * load * (1 + rng.normal(0, 0.005, n))
    base = {"a21026": 20.0 * level, "a21002": 30.0 * level, "a34013": 5.0 * level}
    values: dict[str, np.ndarray] = {
        "a00000": flow,
        "a01011": flow / 20.0,
        "a01012": 90 + 40 * load + rng.normal(0, 0.2, n),
        "a19001": o2,
    }
    for code, b in base.items():
        slow = np.convolve(rng.normal(size=n), np.ones(30) / 30, "same") * 0.3
        values[code] = (
            b * (0.8 + 0.4 * load) * np.exp(0.1 * slow) * (1 + rng.normal(0, 0.01, n)) * (21 - o2) / 15
        )
    flags = {c: np.full(n, "N", dtype="<U1") for c in values}
    for c in list(values):  # relative spread of the samples inside each minute ("~code"); 0 for held values
        values["~" + c] = np.full(n, 0.02)
    if edit is not None:
        edit(values, flags, t)
    agg, agg_flags, ts = _aggregate(values, flags, t, minutes)
    b = SeriesBuilder()
    for i in range(ts.size):
        for code, (avg, lo, hi) in agg.items():
            x = float(avg[i])
            if np.isnan(x):
                continue
            d = 2 if code.startswith("a2") or code == "a34013" else 1
            b.add(
                int(ts[i]),
                code,
                round(x, d),
                round(float(lo[i]), d),
                round(float(hi[i]), d),
                None,
                str(agg_flags[code][i]),
                float(ts[i] + 60 * minutes + 1),
            )
    return PointData(
        PointInfo(
            mn, "gas", 6.0, limits if limits is not None else {"a21026": 35.0, "a21002": 50.0, "a34013": 10.0}
        ),
        b.build(),
    )


def make_water(
    days: float = 8,
    seed: int = 1,
    *,
    mn: str = "W1",
    edit: Callable[[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray], None] | None = None,
    spread: float | None = None,
    minutes: int = 1,
) -> PointData:
    """Minute data of a waste-water outfall: flow follows the working day; COD, NH3-N, TP and TN wander
    independently of the flow and of each other (slow variation of ±15 % over an hour or so) with 0.3 % noise
    per minute; ``edit(values, flags, times)`` may tamper in place.  Min and Max are reported only with
    ``spread`` (their distance from the average, relative; ``values["~code"]``); ``minutes`` > 1 sends the data
    every 5 or 10 minutes."""
    rng = np.random.default_rng(seed)
    n = int(days * 1440)
    t = START + 60 * np.arange(n)
    hour = ((t + 8 * 3600) % 86400) / 3600
    flow = 40 * (0.45 + 0.75 / (1 + np.exp(-(hour - 8) / 0.6)) / (1 + np.exp(-(21 - hour) / 0.6)))
    values: dict[str, np.ndarray] = {
        "w00000": flow * (1 + rng.normal(0, 0.01, n)),
        "w01001": 7.3 + rng.normal(0, 0.02, n),
    }
    for code, level in {"w01018": 50.0, "w21003": 4.5, "w21011": 0.5, "w21001": 18.0}.items():
        slow = np.convolve(rng.normal(size=n + 120), np.ones(60) / np.sqrt(60), "same")[60:-60]
        values[code] = level * np.exp(0.15 * slow) * (1 + rng.normal(0, 0.003, n))
    flags = {c: np.full(n, "N", dtype="<U1") for c in values}
    if spread is not None:
        for c in list(values):
            values["~" + c] = np.full(n, spread)
    if edit is not None:
        edit(values, flags, t)
    agg, agg_flags, ts = _aggregate(values, flags, t, minutes)
    b = SeriesBuilder()
    for i in range(ts.size):
        for code, (avg, vlo, vhi) in agg.items():
            x = float(avg[i])
            if np.isnan(x):
                continue
            d = 1 if code == "w01018" else 2
            lo = hi = None
            if spread is not None:
                lo, hi = round(float(vlo[i]), d), round(float(vhi[i]), d)
            b.add(
                int(ts[i]),
                code,
                round(x, d),
                lo,
                hi,
                None,
                str(agg_flags[code][i]),
                float(ts[i] + 60 * minutes + 1),
            )
    return PointData(
        PointInfo(mn, "water", None, {"w01018": 100.0, "w21003": 15.0, "w21011": 1.0, "w21001": 30.0}),
        b.build(),
    )


def _aggregate(
    values: dict[str, np.ndarray], flags: dict[str, np.ndarray], t: np.ndarray, minutes: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, np.ndarray], np.ndarray]:
    """Minute values (with their relative in-minute spread ``~code``) as the logger sends them every ``minutes``
    minutes: per slot the mean of the averages, the lowest minimum and highest maximum, and the first flag other
    than N (an interval is flagged when part of it is)."""
    n = t.size // minutes * minutes
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    out_flags: dict[str, np.ndarray] = {}
    for code, v in values.items():
        if code.startswith("~"):
            continue
        x = v[:n].astype(np.float64)
        sp = values["~" + code][:n] if "~" + code in values else np.zeros(n)
        lo, hi = x * (1 - sp), x * (1 + sp)
        shape = (n // minutes, minutes)
        with np.errstate(invalid="ignore"):
            out[code] = (
                np.nanmean(x.reshape(shape), axis=1) if minutes > 1 else x,
                np.nanmin(lo.reshape(shape), axis=1) if minutes > 1 else lo,
                np.nanmax(hi.reshape(shape), axis=1) if minutes > 1 else hi,
            )
        fl = flags[code][:n].reshape(shape)
        first = np.argmax(fl != "N", axis=1)
        out_flags[code] = np.where((fl != "N").any(axis=1), fl[np.arange(shape[0]), first], "N")
    return out, out_flags, t[:n:minutes]


@pytest.fixture
def gas() -> Callable[..., PointData]:
    return make_gas
