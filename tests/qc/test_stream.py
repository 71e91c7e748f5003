"""Streaming evaluation: the same findings as batch over the same data, sliding windows, short and ragged input."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envtrust import qc
from envtrust.qc.stream import Row, StreamEvaluator

from .conftest import START, make_gas


def frames_of(pd: qc.PointData) -> list[tuple[list[Row], float]]:
    """The minute series of a PointData back as frames (one per minute), as the gateway would feed them."""
    s = pd.minute
    assert s is not None
    out = []
    for i in range(s.size):
        if not s.present[i]:
            continue
        t = int(s.start + i * s.step)
        rows: list[Row] = []
        for code, ch in s.channels.items():
            if np.isnan(ch.avg[i]):
                continue
            values = {"avg": float(ch.avg[i]), "min": float(ch.vmin[i]), "max": float(ch.vmax[i])}
            rows.append(("minute", t, code, values, str(ch.flag[i])))
        out.append((rows, float(s.sent[i])))
    return out


def test_streaming_finds_what_batch_finds_on_the_same_data() -> None:
    def tamper(values: dict[str, np.ndarray], flags: dict[str, np.ndarray], t: np.ndarray) -> None:
        values["a21026"][1500:1700] = 11.0  # a held value
        values["~a21026"][1500:1700] = 0.0
        values["a21002"][2000:2060] *= 3.0  # an exceeding hour

    pd = make_gas(days=2, edit=tamper)
    configured = qc.configure()
    batch = qc.run([pd], configured)
    ev = StreamEvaluator(configured, window_days=3)
    ev.set_point(pd.info)
    for i, (rows, sent) in enumerate(frames_of(pd)):
        ev.feed(pd.mn, rows, sent)
        if i % 600 == 599:  # evaluated now and then along the way, as the monitor does
            ev.evaluate(START + 60 * i + ev.lag_s)
    assert pd.minute is not None
    [last] = ev.evaluate(pd.minute.end + ev.lag_s)
    point_checks = {c.name for c, _ in configured.checks if c.scope == "point"}
    assert last.checks == tuple(c.name for c, _ in configured.checks if c.scope == "point")
    assert last.until == pd.minute.end
    assert {f.check for f in batch} >= {"flat_line", "exceedance_hour"}
    assert sorted(last.findings, key=str) == sorted((f for f in batch if f.check in point_checks), key=str)


def test_the_window_keeps_whole_local_days() -> None:
    pd = make_gas(days=5)
    ev = StreamEvaluator(qc.configure(only=["flat_line"]), window_days=2)
    ev.set_point(pd.info)
    for rows, sent in frames_of(pd):
        ev.feed(pd.mn, rows, sent)
    acc = ev.points[pd.mn]
    assert acc.minute.oldest == START + 3 * 86400  # the last two local days
    assert ev.dirty == {pd.mn}
    ev.evaluate(START + 5 * 86400)
    assert ev.dirty == set()
    assert ev.silent(START + 5 * 86400 + 59, 60) == []
    assert ev.silent(START + 5 * 86400 + 60, 60) == [pd.mn]
    ev.drop_point(pd.mn)  # taken over by another worker: its silence here is not news
    assert ev.silent(START + 5 * 86400 + 60, 60) == [] and pd.mn not in ev.points


def test_unknown_points_are_not_kept_and_fleet_checks_see_every_window() -> None:
    a, b = make_gas(days=1, mn="A", seed=1), make_gas(days=1, mn="B", seed=2)
    ev = StreamEvaluator(qc.configure(only=["cross_point_copy", "flat_line"]))
    ev.set_point(a.info)
    ev.set_point(b.info)
    assert not ev.feed("nobody", [("minute", START, "a21026", {"avg": 1.0}, "N")])
    for pd in (a, b):
        for rows, sent in frames_of(pd):
            ev.feed(pd.mn, rows, sent)
    fleet = ev.evaluate_fleet(START + 86400)
    assert [e.mn for e in fleet] == ["A", "B"] and all(e.checks == ("cross_point_copy",) for e in fleet)
    assert all(not e.findings for e in fleet)  # two honest points share nothing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    minutes=st.integers(1, 300),
    holes=st.lists(st.integers(0, 299), max_size=40),
    flags=st.lists(st.sampled_from("NFMSDCTB"), min_size=1, max_size=5),
)
def test_every_check_copes_with_short_and_ragged_windows(
    minutes: int, holes: list[int], flags: list[str]
) -> None:
    """The streaming evaluator runs the catalogue over whatever has arrived: one minute, a few, with holes and
    flags — every check must cope (a short window broke a correlation once)."""
    pd = make_gas(days=1)
    ev = StreamEvaluator(qc.configure())
    ev.set_point(pd.info)
    gone = set(holes)
    for i, (rows, sent) in enumerate(frames_of(pd)[:minutes]):
        if i in gone:
            continue
        flag = flags[i % len(flags)]
        ev.feed(pd.mn, [(k, t, c, v, flag if c == "a21026" else f) for k, t, c, v, f in rows], sent)
    for e in ev.evaluate(START + 86400):
        assert all(f.start < f.end for f in e.findings)


def test_real_time_values_re_evaluate_only_points_without_minute_data() -> None:
    pd = make_gas(days=1)
    ev = StreamEvaluator(qc.configure(only=["flat_line"]))
    ev.set_point(pd.info)
    ev.set_point(qc.PointInfo("RTD-ONLY"))
    for rows, sent in frames_of(pd)[:10]:
        ev.feed(pd.mn, rows, sent)
    ev.evaluate(START + 600)
    ev.feed(pd.mn, [("rtd", START + 630, "a21026", {"rtd": 20.0}, "N")])
    assert ev.dirty == set()  # the minute series is what the checks see
    ev.feed("RTD-ONLY", [("rtd", START + 630, "a21026", {"rtd": 20.0}, "N")])
    assert ev.dirty == {"RTD-ONLY"}  # folded into minute statistics
    assert ev.points["RTD-ONLY"].newest == START + 600


def _same_series(a: qc.Series | None, b: qc.Series | None) -> None:
    assert a is not None and b is not None
    assert (a.start, a.step, a.size) == (b.start, b.step, b.size)
    assert np.array_equal(a.present, b.present) and np.array_equal(a.sent, b.sent, equal_nan=True)
    assert sorted(a.channels) == sorted(b.channels)
    for c, x in a.channels.items():
        y = b.channels[c]
        for k in ("avg", "vmin", "vmax", "zs"):
            assert np.array_equal(getattr(x, k), getattr(y, k), equal_nan=True), (c, k)
        assert (x.flag == y.flag).all()


@settings(max_examples=60, deadline=None)
@given(
    slots=st.lists(
        st.tuples(st.integers(0, 120), st.sampled_from(["a21026", "a19001", "w01018"]), st.floats(0, 100)),
        min_size=1,
        max_size=150,
    ),
    builds=st.sets(st.integers(0, 149)),
    trim_at=st.one_of(st.none(), st.integers(0, 149)),
)
def test_a_series_built_piecemeal_equals_one_built_at_once(
    slots: list[tuple[int, str, float]], builds: set[int], trim_at: int | None
) -> None:
    """Streaming extends the series it built last; late, out-of-order and repeated slots and trims must give
    exactly what one build over the same rows gives."""
    piecemeal, at_once = qc.SeriesBuilder(), qc.SeriesBuilder()
    for i, (k, code, v) in enumerate(slots):
        t = START + 60 * k
        for b in (piecemeal, at_once):
            b.add(t, code, v, v - 1, v + 1, None, "N", float(t + 60), first_of_frame=True)
        if i == trim_at:
            for b in (piecemeal, at_once):
                b.trim(START + 60 * 30)
        if i in builds:
            piecemeal.build(60)
    if len(at_once) == 0:
        assert piecemeal.build(60) is None
        return
    _same_series(piecemeal.build(60), at_once.build(60))
    assert piecemeal.duplicates == at_once.duplicates
