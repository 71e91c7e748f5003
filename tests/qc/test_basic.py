"""The generic tests: ioos_qc definitions, property tests against naive implementations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from envtrust.qc import basic
from envtrust.qc.flags import FAIL, GOOD, MISSING, SUSPECT, UNKNOWN, from_hj212, worst


def test_gross_range_doc_example() -> None:
    flags = basic.gross_range(np.array([1, 2, 3, 4, 8], dtype=float), (0, 5), (1, 4))
    assert flags.tolist() == [GOOD, GOOD, GOOD, GOOD, FAIL]


def test_gross_range_suspect_span_must_lie_inside() -> None:
    with pytest.raises(ValueError, match="within"):
        basic.gross_range(np.zeros(3), (0, 5), (-1, 4))


def test_worst_flag_wins_and_missing_is_weakest() -> None:
    a = np.array([GOOD, MISSING, SUSPECT, UNKNOWN], dtype=np.uint8)
    b = np.array([FAIL, GOOD, GOOD, MISSING], dtype=np.uint8)
    assert worst(a, b).tolist() == [FAIL, GOOD, SUSPECT, UNKNOWN]


def test_hj212_flags_translate() -> None:
    letters = np.array(["N", "", "S", "C", "M", "F", "D", "T", "B", "H"])
    assert from_hj212(letters).tolist() == [GOOD, GOOD, SUSPECT] + [FAIL] * 7


finite = arrays(
    np.float64, st.integers(3, 60), elements=st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 1))
)


@settings(max_examples=200, deadline=None)
@given(finite, st.integers(1, 12))
def test_rolling_range_matches_naive(values: np.ndarray, count: int) -> None:
    got = basic.rolling_range(values, count)
    for i in range(values.size):
        if i < count:
            assert np.isnan(got[i])
        else:
            w = values[i - count : i + 1]
            assert got[i] == pytest.approx(w.max() - w.min())


@settings(max_examples=200, deadline=None)
@given(finite, st.floats(0, 2))
def test_flat_line_matches_its_definition(values: np.ndarray, tol: float) -> None:
    times = 60.0 * np.arange(values.size)
    flags = basic.flat_line(times, values, 180, 300, tol)
    for i in range(values.size):
        expect = GOOD
        for seconds, flag in ((180, SUSPECT), (300, FAIL)):
            c = int(seconds / 60)
            if i >= c and np.ptp(values[i - c : i + 1]) < tol:
                expect = flag
        assert flags[i] == expect


def test_spike_average_method_flags_spike_and_ends_unknown() -> None:
    v = np.array([1, 1, 1, 10, 1, 1, np.nan, 1], dtype=float)
    flags = basic.spike(v, 2, 5)
    assert flags[3] == FAIL
    assert flags[0] == flags[-1] == UNKNOWN
    assert flags[6] == MISSING and flags[5] == UNKNOWN


def test_rate_of_change_and_time_gap() -> None:
    t = np.array([0, 60, 120, 180, 10_000], dtype=float)
    v = np.array([1, 1, 30, 30, 30], dtype=float)
    assert basic.rate_of_change(t, v, 0.1).tolist() == [GOOD, GOOD, SUSPECT, GOOD, GOOD]
    assert basic.time_gap(t, 3600).tolist() == [GOOD, GOOD, GOOD, GOOD, FAIL]
    assert basic.duplicate_time(np.array([1, 2, 2, 3])).tolist() == [GOOD, SUSPECT, SUSPECT, GOOD]
    assert basic.future_time(np.array([0, 1000]), now=500, tolerance=100).tolist() == [GOOD, FAIL]


@settings(max_examples=80, deadline=None)
@given(
    values=arrays(np.float64, st.integers(0, 60), elements=st.floats(-50, 150) | st.just(np.nan)),
    chunk=st.integers(1, 9),
)
def test_chunked_elementwise_tests_equal_whole_array_ones(values: np.ndarray, chunk: int) -> None:
    """Gross range, rate of change and time gap run chunk by chunk (for the CPU cache): every chunk boundary must
    give what one pass over the whole array gives."""
    times = 1.7e9 + 60.0 * np.cumsum(1 + (np.arange(values.size) % 7 == 3) * 90)
    gap_times = times.copy()
    gap_times[np.isnan(values)] = np.nan  # missing timestamps where the values are missing

    def all_three() -> list[np.ndarray]:
        return [
            basic.gross_range(values, (0, 100), (10, 90)),
            basic.rate_of_change(times, values, 0.05, 0.17),
            basic.time_gap(gap_times, 3600),
            basic.time_gap(times.astype(np.int64), 3600),
        ]

    whole = all_three()
    saved = basic._CHUNK
    basic._CHUNK = chunk
    try:
        chunked = all_three()
    finally:
        basic._CHUNK = saved
    for a, b in zip(whole, chunked, strict=True):
        assert a.tolist() == b.tolist()
