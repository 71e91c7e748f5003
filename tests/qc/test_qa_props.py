"""Property tests of the QA core: out-of-control intervals, union, CUSUM sums, check and comparison verdicts."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from envtrust.qc.qa import (
    Blocked,
    Criteria,
    QaRecord,
    cusum,
    evaluate_check,
    evaluate_comparison,
    out_of_control,
    union,
)

C = Criteria.from_config()
KINDS = ("zero", "span", "comparison")
RANK = {"pass": 0, "adjust": 1, "fail": 2}

# per kind a timeline of non-overlapping records (gap ≥ 0, duration ≥ 1), kinds overlapping each other freely
step = st.tuples(
    st.sampled_from(KINDS), st.integers(0, 6), st.integers(1, 4), st.sampled_from(("pass", "adjust", "fail"))
)


def build(steps: Sequence[tuple[str, int, int, str]]) -> list[QaRecord]:
    clock = dict.fromkeys(KINDS, 0)
    out = []
    for i, (kind, gap, dur, verdict) in enumerate(steps):
        start = clock[kind] + gap
        clock[kind] = start + dur
        out.append(QaRecord(f"r/{i}", kind, start, start + dur, verdict, i))
    return out


def covered(blocks: Sequence[Blocked], t: int) -> bool:
    return any(b.start <= t and (b.end is None or t < b.end) for b in blocks)


def oracle(records: Sequence[QaRecord], kind: str, t: int) -> bool:
    """t is out of control when some fail of ``kind`` has no non-failing record ending in (t, fail start] and none
    starting in [fail end, t] (valid_from = 0 ≤ t)."""
    ok = [r for r in records if r.kind == kind and r.verdict != "fail"]
    return any(
        not any(t < r.ended <= f.started for r in ok) and not any(f.ended <= r.started <= t for r in ok)
        for f in records
        if f.kind == kind and f.verdict == "fail"
    )


@given(st.lists(step, max_size=25))
def test_out_of_control_invariants(steps: list[tuple[str, int, int, str]]) -> None:
    records = build(steps)
    blocks = out_of_control(records[::-1], valid_from=0)
    assert blocks == sorted(blocks, key=lambda b: (b.start, b.kind))
    names = {r.record: r for r in records}
    horizon = max((r.ended for r in records), default=0) + 3
    for kind in KINDS:
        mine = [b for b in blocks if b.kind == kind]
        # disjoint, sorted, not touching; only the last may be open
        for a, b in itertools.pairwise(mine):
            assert a.end is not None and a.end < b.start
        fails = [r for r in records if r.kind == kind and r.verdict == "fail"]
        assert sorted(f for b in mine for f in b.failed) == sorted(f.record for f in fails)
        for b in mine:
            assert b.cause == "out_of_control"
            for name in b.failed:  # every fail lies inside its interval
                f = names[name]
                assert b.start <= f.started and (b.end is None or f.ended <= b.end)
            # bounded by the named non-failing records of the same kind, or by valid_from / open
            assert b.start == (names[b.last_pass].ended if b.last_pass else 0)
            assert b.end == (names[b.next_pass].started if b.next_pass else None)
            for name in filter(None, (b.last_pass, b.next_pass)):
                assert names[name].kind == kind and names[name].verdict != "fail"
            # no non-failing record of that kind overlaps an interval
            for r in records:
                if r.kind == kind and r.verdict != "fail":
                    assert not (
                        r.started < (b.end if b.end is not None else horizon + 1) and r.ended > b.start
                    )
        for t in range(horizon):
            assert covered(mine, t) == oracle(records, kind, t), (kind, t)


interval = st.tuples(st.integers(0, 40), st.one_of(st.none(), st.integers(0, 15))).map(
    lambda x: (x[0], None if x[1] is None else x[0] + x[1])
)


@given(st.lists(interval, max_size=12))
def test_union_is_sorted_disjoint_and_covers_the_same_points(items: list[tuple[int, int | None]]) -> None:
    out = union(items)
    for (_, e1), (s2, _) in itertools.pairwise(out):
        assert e1 is not None and e1 < s2
    assert all(e is None or s < e for s, e in out)
    for t in range(60):
        inside = any(s <= t and (e is None or t < e) for s, e in items)
        assert inside == any(s <= t and (e is None or t < e) for s, e in out)


deviation = st.floats(-15, 15, allow_nan=False)


@given(st.lists(deviation, max_size=30), st.floats(0.05, 5), st.lists(st.booleans(), max_size=30))
def test_cusum_sums_are_never_negative_and_alarms_follow_the_thresholds(
    devs: list[float], s_ams: float, flags: list[bool]
) -> None:
    resets = (flags + [False] * len(devs))[: len(devs)]
    steps = cusum(devs, s_ams, resets=resets)
    assert [s.index for s in steps] == list(range(len(devs)))
    for s in steps:
        assert s.s >= 0 and s.p >= 0 and s.n >= 0
        assert s.precision_alarm == (s.s > 6.9 * s_ams**2)
        assert s.drift_alarm == (not s.precision_alarm and max(s.p, s.n) > 2.85 * s_ams)
        assert (s.estimated_drift is not None) == s.drift_alarm
        if s.estimated_drift is not None:
            assert abs(s.estimated_drift) > 0.501 * s_ams
    last = max((i for i, r in enumerate(resets) if r), default=None)
    if last is not None:  # a reset starts afresh: the rest equals a new run from there
        tail = cusum(devs[last:], s_ams)
        assert [(a.s, a.p, a.n) for a in steps[last:]] == [(b.s, b.p, b.n) for b in tail]


drift_case = st.sampled_from(
    [
        ("hj75/so2", "zero"),
        ("hj75/so2", "span"),
        ("hj75/pm", "span"),
        ("hj75/velocity", "zero"),
        ("hj355/cod", "standard"),
    ]
)


@given(drift_case, st.floats(-30, 30, allow_nan=False), st.floats(-30, 30, allow_nan=False))
def test_check_verdict_is_monotone_in_the_size_of_the_drift(
    case: tuple[str, str], d1: float, d2: float
) -> None:
    profile, kind = case
    ref = 0.0 if kind == "zero" else 100.0

    def verdict(d: float) -> int:
        r = evaluate_check(C, profile, kind, reference=ref, reading=ref + d, range_low=0.0, range_high=100.0)  # type: ignore[arg-type]
        return RANK[r.verdict]

    if abs(d1) <= abs(d2):
        assert verdict(d1) <= verdict(d2)
    else:
        assert verdict(d1) >= verdict(d2)


water_pair = st.tuples(st.floats(0.05, 200), st.floats(0, 250))


@given(
    st.sampled_from(["hj355/cod", "hj355/nh3n", "hj355/tp", "hj355/ph"]),
    st.lists(water_pair, min_size=3, max_size=6),
)
def test_water_comparison_passes_exactly_when_every_pair_passes(
    profile: str, pairs: list[tuple[float, float]]
) -> None:
    whole = evaluate_comparison(C, profile, pairs)
    each = [evaluate_comparison(C, profile, [p] * 3).verdict for p in pairs]
    assert (whole.verdict == "pass") == all(v == "pass" for v in each)
    assert whole.limit in {evaluate_comparison(C, profile, [p] * 3).limit for p in pairs}
