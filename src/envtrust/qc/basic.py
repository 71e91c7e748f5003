"""Generic QARTOD-style tests as pure vectorised functions: ``(values[, times], parameters) → flags``.

The definitions follow IOOS ``ioos_qc`` 3.0 (``qartod.py``) wherever it defines the same test, so that the flags are
identical on the same input and parameters (``bench/qc.py`` checks it): gross range, flat line, spike (average
method), rate of change and time gap.  Times are seconds (any epoch) as ``float64`` or ``int64``; values are
``float64`` with NaN for missing.  Every function returns a ``uint8`` flag array of the input's shape.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .flags import FAIL, GOOD, MISSING, SUSPECT, UNKNOWN, FlagArray

__all__ = [
    "duplicate_time",
    "flat_line",
    "future_time",
    "gross_range",
    "rate_of_change",
    "rolling_range",
    "spike",
    "time_gap",
]

Values = npt.NDArray[np.float64]
Times = npt.NDArray[np.float64] | npt.NDArray[np.int64]


def _span(pair: tuple[float, float], name: str) -> tuple[float, float]:
    if len(pair) != 2:
        raise ValueError(f"{name} must be a pair (min, max)")
    lo, hi = sorted((float(pair[0]), float(pair[1])))
    return lo, hi


_CHUNK = 1 << 16  # elementwise tests run chunk by chunk so that their temporaries stay in the CPU cache


def gross_range(
    values: Values, fail_span: tuple[float, float], suspect_span: tuple[float, float] | None = None
) -> FlagArray:
    """FAIL outside ``fail_span``, SUSPECT outside ``suspect_span`` (which must lie inside it); NaN → MISSING."""
    flo, fhi = _span(fail_span, "fail_span")
    slo, shi = flo, fhi
    if suspect_span is not None:
        slo, shi = _span(suspect_span, "suspect_span")
        if slo < flo or shi > fhi:
            raise ValueError(f"suspect_span {suspect_span} must fall within fail_span {fail_span}")
    values = np.asarray(values, dtype=np.float64)
    flags = np.empty(values.shape, dtype=np.uint8)
    flat_v, flat_f = values.reshape(-1), flags.reshape(-1)
    a = np.empty(min(flat_v.size, _CHUNK), dtype=bool)
    b = np.empty_like(a)
    # GOOD + (SUSPECT − GOOD)·outside suspect + (FAIL − SUSPECT)·outside fail + (MISSING − GOOD)·NaN
    for i in range(0, flat_v.size, _CHUNK):
        v, f = flat_v[i : i + _CHUNK], flat_f[i : i + _CHUNK]
        x, y = a[: v.size], b[: v.size]
        np.less(v, slo, out=x)
        np.greater(v, shi, out=y)
        np.logical_or(x, y, out=x)
        np.multiply(x, SUSPECT - GOOD, out=f, casting="unsafe")
        np.less(v, flo, out=x)
        np.greater(v, fhi, out=y)
        np.logical_or(x, y, out=x)
        np.add(f, x, out=f, casting="unsafe")
        np.isnan(v, out=x)
        np.add(f, x * np.uint8(MISSING - GOOD), out=f, casting="unsafe")
        np.add(f, GOOD, out=f, casting="unsafe")
    return flags


def _rolling_extreme(values: Values, width: int, fn: np.ufunc) -> Values:
    """Trailing-window maximum (``np.fmax``) or minimum (``np.fmin``) of ``width`` values ending at each index, in
    O(n) (van Herk / Gil-Werman); NaNs are ignored (all-NaN windows give NaN); the first ``width − 1`` are NaN."""
    n = values.size
    out = np.full(n, np.nan)
    if width < 1 or n < width:
        return out
    blocks = -(-n // width)
    padded = np.full(blocks * width, np.nan)
    padded[:n] = values
    grid = padded.reshape(blocks, width)
    prefix = fn.accumulate(grid, axis=1).ravel()
    suffix = fn.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    # window [i - width + 1, i]: the suffix from its start within the start's block, the prefix up to i
    start = np.arange(width - 1, n) - (width - 1)
    out[width - 1 :] = fn(suffix[start], prefix[width - 1 : n])
    return out


def rolling_range(values: Values, count: int) -> Values:
    """Range (max − min) of the trailing window of ``count + 1`` values ending at each index, ignoring NaNs; NaN
    where the window is incomplete or all NaN."""
    with np.errstate(invalid="ignore"):
        return _rolling_extreme(values, count + 1, np.fmax) - _rolling_extreme(values, count + 1, np.fmin)


def _median_interval(times: Times) -> float:
    return float(np.median(np.diff(times.astype(np.float64))))


def flat_line(
    times: Times, values: Values, suspect_threshold: float, fail_threshold: float, tolerance: float = 0.0
) -> FlagArray:
    """Flat line: a value is SUSPECT (FAIL) when the range of the trailing window that ends with it — the
    ``suspect_threshold`` (``fail_threshold``) seconds before it, converted to a count of values with the median
    sampling interval, plus the value itself — is below ``tolerance``.  Missing values → MISSING."""
    flags = np.full(values.shape, GOOD, dtype=np.uint8)
    if values.size < 3:
        return flags
    interval = _median_interval(times)
    for threshold, flag in ((suspect_threshold, SUSPECT), (fail_threshold, FAIL)):
        count = int(int(threshold) / interval)
        if count < 1:
            continue
        with np.errstate(invalid="ignore"):
            hit = rolling_range(values, count) < tolerance
        flags[hit] = flag
    flags[np.isnan(values)] = MISSING
    return flags


def spike(
    values: Values, suspect_threshold: float | None = None, fail_threshold: float | None = None
) -> FlagArray:
    """Spike (average method): ``|x[n] − (x[n−1] + x[n+1]) / 2|`` above the threshold.  The first and last value and
    values next to a missing one are UNKNOWN; missing values are MISSING."""
    n = values.size
    flags = np.full(values.shape, GOOD, dtype=np.uint8)
    if n == 0:
        return flags
    diff = np.full(n, np.nan)
    if n > 2:
        diff[1:-1] = np.abs(values[1:-1] - (values[:-2] + values[2:]) / 2.0)
    with np.errstate(invalid="ignore"):
        if suspect_threshold:
            flags[diff > suspect_threshold] = SUSPECT
        if fail_threshold:
            flags[diff > fail_threshold] = FAIL
    flags[np.isnan(diff)] = UNKNOWN
    flags[0] = flags[-1] = UNKNOWN
    flags[np.isnan(values)] = MISSING
    return flags


def rate_of_change(
    times: Times, values: Values, threshold: float, fail_threshold: float | None = None
) -> FlagArray:
    """Rate of change: ``|Δx / Δt|`` (units per second) against the previous value above ``threshold`` → SUSPECT,
    above ``fail_threshold`` → FAIL.  Missing values → MISSING."""
    n = values.size
    flags = np.full(values.shape, GOOD, dtype=np.uint8)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(1, n, _CHUNK):
            j = min(n, i + _CHUNK)
            dt = np.subtract(times[i:j], times[i - 1 : j - 1]).astype(np.float64, copy=False)
            roc = np.abs(np.subtract(values[i:j], values[i - 1 : j - 1]) / dt)
            f = flags[i:j]
            f[roc > threshold] = SUSPECT
            if fail_threshold is not None:
                f[roc > fail_threshold] = FAIL
    flags[np.isnan(values)] = MISSING
    return flags


def time_gap(times: Times, fail_span: float = 7200.0) -> FlagArray:
    """Time gap: FAIL on the value that follows a gap longer than ``fail_span`` seconds; the first value takes the
    flag of the second (as ``ioos_qc``)."""
    n = times.size
    flags = np.full(times.shape, GOOD, dtype=np.uint8)
    if n == 0:
        return flags
    floating = times.dtype.kind == "f"
    with np.errstate(invalid="ignore"):
        for i in range(0, n, _CHUNK):
            j = min(n, i + _CHUNK)
            f = flags[i:j]
            if i > 0 or j > 1:
                lo = max(i, 1)
                gap = np.subtract(times[lo:j], times[lo - 1 : j - 1]) > fail_span
                f[lo - i :][gap] = FAIL
            if floating:
                missing = np.isnan(times[max(i - 1, 0) : j])
                here = missing[1:] if i > 0 else missing
                f[here] = MISSING
                after = missing[:-1] if i > 0 else np.concatenate(([False], missing[:-1]))
                f[after & ~here] = UNKNOWN
    if n > 1:
        first_missing = floating and bool(np.isnan(times[0]))
        second_missing = floating and bool(np.isnan(times[1]))
        flags[0] = UNKNOWN if (second_missing and not first_missing) else flags[1]
    return flags


def future_time(times: Times, now: float, tolerance: float = 300.0) -> FlagArray:
    """FAIL for times later than ``now + tolerance`` seconds (clock errors, forged times)."""
    flags = np.full(times.shape, GOOD, dtype=np.uint8)
    flags[times.astype(np.float64) > now + tolerance] = FAIL
    return flags


def duplicate_time(times: Times) -> FlagArray:
    """SUSPECT for every value whose time occurs more than once."""
    flags = np.full(times.shape, GOOD, dtype=np.uint8)
    if times.size:
        _, inverse, counts = np.unique(times, return_inverse=True, return_counts=True)
        flags[counts[inverse] > 1] = SUSPECT
    return flags
