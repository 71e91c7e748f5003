"""The pure core of verifiable double-random (双随机) draws: seed, selection, record, verification."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envtrust.draw import (
    FORMAT,
    Candidate,
    DrawError,
    Rules,
    Selection,
    check_commitment,
    commitment_of,
    derive_seed,
    draw_record,
    new_secret,
    parse_record,
    reveal_record,
    select,
    verify_record,
)

SECRET = bytes(range(32))
BEACON_SOURCE = "福彩3D 2026-12-01 开奖号码"
TARGETS = [
    Candidate("T1", 1, "210102", None),
    Candidate("T2", 3, "210103", None),
    Candidate("T3", 2, "210102", None),
    Candidate("T4", 1, "210104", "停产 | shut down"),
    Candidate("T5", 5, "", None),
    Candidate("T6", 1, "210103", None),
]
INSPECTORS = [
    Candidate("I1", 1, "210102", None, ("T2",)),
    Candidate("I2", 2, "210103", None),
    Candidate("I3", 1, "", None, ("T5",)),
    Candidate("I4", 1, "210104", None),
]
RULES = Rules(4, 2, max_per_inspector=2)


def cand(id: str, weight: int = 1, region: str = "", excluded: str | None = None) -> Candidate:
    return Candidate(id, weight, region, excluded)


def seed_of(i: int) -> bytes:
    return hashlib.sha256(b"test seed %d" % i).digest()


def revealed(beacon_source: str = BEACON_SOURCE, beacon_value: str = "12345") -> dict[str, Any]:
    created = draw_record(
        "D-1",
        "2026年第4季度双随机抽查",
        RULES,
        TARGETS,
        INSPECTORS,
        commitment_of(SECRET),
        beacon_source,
        "2026-11-20",
    )
    return reveal_record(created, SECRET, beacon_value)


# ------------------------------------------------------------------------------------------- seed and picks
def test_seed_follows_the_specification() -> None:
    commitment = commitment_of(SECRET)
    parts = [b"envtrust-draw/v1", SECRET, b"12345", b"D-1", commitment.encode()]
    expected = hashlib.sha256(b"".join(len(p).to_bytes(8, "big") + p for p in parts)).digest()
    assert derive_seed(SECRET, "12345", "D-1", commitment) == expected
    assert commitment == hashlib.sha256(SECRET).hexdigest()


def test_seed_fields_are_length_prefixed() -> None:
    c = commitment_of(SECRET)
    assert derive_seed(SECRET, "12", "3D-1", c) != derive_seed(SECRET, "123", "D-1", c)
    assert derive_seed(SECRET, "", "D-1", c) != derive_seed(SECRET, "12345", "D-1", c)


def test_seed_needs_a_32_byte_secret() -> None:
    with pytest.raises(DrawError, match="32 bytes"):
        derive_seed(b"short", "", "D-1", commitment_of(b"short"))


def test_first_target_pick_follows_the_specification() -> None:
    seed = derive_seed(SECRET, "12345", "D-1", commitment_of(SECRET))
    eligible = sorted((t for t in TARGETS if t.excluded is None), key=lambda t: t.id)
    r = int.from_bytes(hmac.new(seed, b"target|0", hashlib.sha256).digest(), "big") % sum(
        t.weight for t in eligible
    )
    for t in eligible:
        if r < t.weight:
            break
        r -= t.weight
    assert select(seed, TARGETS, INSPECTORS, RULES).targets[0] == t.id


def test_golden_vector() -> None:
    commitment = commitment_of(SECRET)
    assert commitment == "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
    seed = derive_seed(SECRET, "12345", "D-1", commitment)
    assert seed.hex() == "b6acf3347371e4c6a935ea9a252d407cd793188c383360b64ce6fd48d268fdcc"
    assert select(seed, TARGETS, INSPECTORS, RULES) == Selection(
        targets=("T3", "T5", "T1", "T2"),
        assignments=(("T3", ("I2", "I3")), ("T5", ("I1", "I2")), ("T1", ("I4", "I3")), ("T2", ("I4",))),
        unstaffed=("T2",),
    )
    # pool order does not matter: candidates are sorted by id
    assert select(seed, TARGETS[::-1], INSPECTORS[::-1], RULES) == select(seed, TARGETS, INSPECTORS, RULES)


# ------------------------------------------------------------------------------------------------ determinism
def test_same_inputs_same_selection() -> None:
    seed = derive_seed(SECRET, "12345", "D-1", commitment_of(SECRET))
    assert select(seed, TARGETS, INSPECTORS, RULES) == select(
        bytes(seed), list(TARGETS), list(INSPECTORS), RULES
    )


def test_different_secret_or_beacon_changes_the_selection() -> None:
    pool = [cand(f"E{i:02d}", weight=1 + i % 3) for i in range(50)]
    rules = Rules(10, 0)

    def targets(secret: bytes, beacon: str) -> tuple[str, ...]:
        return select(derive_seed(secret, beacon, "D-9", commitment_of(secret)), pool, [], rules).targets

    by_secret = {targets(hashlib.sha256(b"%d" % i).digest(), "12345") for i in range(100)}
    by_beacon = {targets(SECRET, f"{i:05d}") for i in range(100)}
    assert len(by_secret) >= 95
    assert len(by_beacon) >= 95


def test_weights_matter() -> None:
    pool = [cand("heavy", weight=9)] + [cand(f"light{i}") for i in range(9)]
    counts = Counter(select(seed_of(i), pool, [], Rules(1, 0)).targets[0] for i in range(2000))
    assert 0.4 < counts["heavy"] / 2000 < 0.6
    assert set(counts) == {c.id for c in pool}


# --------------------------------------------------------------------------------------------- properties
REGIONS = st.sampled_from(["", "A", "B"])
REASONS = st.none() | st.just("停产 | shut down")


@st.composite
def draws(draw: st.DrawFn) -> tuple[bytes, list[Candidate], list[Candidate], Rules]:
    target_ids = draw(st.lists(st.text(min_size=1, max_size=3), unique=True, max_size=8))
    inspector_ids = draw(st.lists(st.text(min_size=1, max_size=3), unique=True, max_size=7))
    weights = st.integers(1, 5)
    targets = [Candidate(i, draw(weights), draw(REGIONS), draw(REASONS)) for i in target_ids]
    conflicts = st.lists(st.sampled_from(target_ids), unique=True).map(tuple) if target_ids else st.just(())
    inspectors = [
        Candidate(i, draw(weights), draw(REGIONS), draw(REASONS), draw(conflicts)) for i in inspector_ids
    ]
    rules = Rules(
        draw(st.integers(1, 10)),
        draw(st.integers(0, 4)),
        draw(st.booleans()),
        draw(st.none() | st.integers(1, 3)),
    )
    return draw(st.binary(min_size=32, max_size=32)), targets, inspectors, rules


def may_inspect(i: Candidate, t: Candidate, rules: Rules) -> bool:
    same_region = bool(i.region) and i.region == t.region
    return i.excluded is None and t.id not in i.conflicts and (rules.same_region_allowed or not same_region)


@given(draws())
@settings(deadline=None)
def test_selection_properties(case: tuple[bytes, list[Candidate], list[Candidate], Rules]) -> None:
    seed, targets, inspectors, rules = case
    s = select(seed, targets, inspectors, rules)
    by_id = {t.id: t for t in targets}
    eligible = [t for t in targets if t.excluded is None]
    assert len(set(s.targets)) == len(s.targets) == min(rules.targets, len(eligible))
    assert all(by_id[t].excluded is None for t in s.targets)
    assert [t for t, _ in s.assignments] == list(s.targets)
    inspector = {i.id: i for i in inspectors}
    load = Counter(i for _, assigned in s.assignments for i in assigned)
    for t, assigned in s.assignments:
        assert len(set(assigned)) == len(assigned) <= rules.inspectors_per_target
        assert all(may_inspect(inspector[i], by_id[t], rules) for i in assigned)
    if rules.max_per_inspector is not None:
        assert all(n <= rules.max_per_inspector for n in load.values())
    short = [t for t, assigned in s.assignments if len(assigned) < rules.inspectors_per_target]
    assert list(s.unstaffed) == short
    for t, assigned in s.assignments:  # nobody who could still have come was left out
        if t in s.unstaffed:
            for i in inspectors:
                if i.id not in assigned and may_inspect(i, by_id[t], rules):
                    assert rules.max_per_inspector is not None and load[i.id] >= rules.max_per_inspector


def test_all_eligible_are_drawn_when_the_pool_is_small() -> None:
    s = select(seed_of(1), TARGETS, [], Rules(100, 1))
    assert sorted(s.targets) == ["T1", "T2", "T3", "T5", "T6"]
    assert s.unstaffed == s.targets


def test_same_region_allowed() -> None:
    targets, inspectors = [cand("T", region="A")], [cand("I", region="A")]
    assert select(seed_of(1), targets, inspectors, Rules(1, 1)).unstaffed == ("T",)
    assert select(seed_of(1), targets, inspectors, Rules(1, 1, same_region_allowed=True)).assignments == (
        ("T", ("I",)),
    )
    assert select(seed_of(1), [cand("T")], [cand("I")], Rules(1, 1)).assignments == (
        ("T", ("I",)),
    )  # both empty


# ---------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: cand("A", weight=0), "weight must be between 1 and"),
        (lambda: cand("A", weight=True), "weight must be an integer, not bool"),
        (lambda: cand("A", weight=1.0), "weight must be an integer, not float"),  # type: ignore[arg-type]
        (lambda: cand("A", weight=10**5000), "weight must be between 1 and"),
        (lambda: cand(""), "candidate id must not be empty"),
        (lambda: cand("\ud800"), "not valid Unicode"),
        (lambda: cand("A", excluded=""), "excluded .reason. must not be empty"),
        (lambda: Candidate("A", 1, "", None, ["T"]), "conflicts must be a tuple"),  # type: ignore[arg-type]
        (lambda: Rules(0, 1), "rules.targets must be at least 1"),
        (lambda: Rules(1, -1), "rules.inspectors_per_target must be at least 0"),
        (lambda: Rules(1, 1, max_per_inspector=0), "rules.max_per_inspector must be at least 1"),
        (lambda: Rules(1, 1, same_region_allowed=1), "must be true or false"),  # type: ignore[arg-type]
        (lambda: select(seed_of(1), [cand("A"), cand("A")], [], Rules(1, 0)), "targets: duplicate id 'A'"),
        (lambda: select(seed_of(1), [], [cand("B"), cand("B")], Rules(1, 0)), "inspectors: duplicate id 'B'"),
    ],
)
def test_invalid_input(make: Callable[[], object], message: str) -> None:
    with pytest.raises(DrawError, match=message):
        make()


def test_commitment_helpers() -> None:
    c = commitment_of(SECRET)
    assert check_commitment(SECRET.hex(), c)
    assert check_commitment(SECRET.hex().upper(), c.upper())
    assert not check_commitment(bytes(32).hex(), c)
    assert not check_commitment("zz", c)
    assert not check_commitment(SECRET.hex(), "c0ffee")
    assert not check_commitment(SECRET.hex(), "é" * 64)
    assert not check_commitment(None, c)  # type: ignore[arg-type]
    assert len(new_secret()) == 32 and new_secret() != new_secret()


# ---------------------------------------------------------------------------------------- records, verify
def test_record_round_trip() -> None:
    record = revealed()
    assert record["format"] == FORMAT
    assert record["selection"] == select(bytes.fromhex(record["seed"]), TARGETS, INSPECTORS, RULES).to_json()
    assert record["selection"]["assignments"][3] == {"target": "T2", "inspectors": ["I4"]}
    parsed = parse_record(json.loads(json.dumps(record, ensure_ascii=False)))
    assert (
        parsed.targets == tuple(TARGETS) and parsed.inspectors == tuple(INSPECTORS) and parsed.rules == RULES
    )
    assert (
        parsed.reveal is not None and parsed.reveal.secret == SECRET and parsed.reveal.beacon_value == "12345"
    )
    report = verify_record(json.loads(json.dumps(record)))
    assert report.ok, report.checks
    assert [name for name, _, _ in report.checks] == [
        "format",
        "revealed",
        "commitment",
        "beacon",
        "seed",
        "selection",
    ]
    assert all(" | " in message for _, _, message in report.checks)
    assert BEACON_SOURCE in dict((n, m) for n, _, m in report.checks)["beacon"]


def test_record_without_beacon() -> None:
    assert verify_record(revealed(beacon_source="", beacon_value="")).ok


def test_unrevealed_record_verifies_only_the_format() -> None:
    created = draw_record("D-1", "", RULES, TARGETS, INSPECTORS, commitment_of(SECRET), "", "2026-11-20")
    report = verify_record(created)
    assert not report.ok
    assert [(n, p) for n, p, _ in report.checks] == [("format", True), ("revealed", False)]
    assert "not yet revealed" in report.checks[1][2]


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(record: dict[str, Any]) -> None:
        node: Any = record
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "failed"),
    [
        (_set(("secret",), bytes(32).hex()), ["commitment", "seed", "selection"]),
        (_set(("commitment",), commitment_of(bytes(32))), ["commitment", "seed", "selection"]),
        (_set(("beacon_value",), "54321"), ["seed", "selection"]),
        (_set(("beacon_value",), ""), ["beacon", "seed", "selection"]),
        (_set(("beacon_source",), ""), ["beacon"]),
        (_set(("draw_id",), "D-2"), ["seed", "selection"]),
        (_set(("seed",), bytes(32).hex()), ["seed"]),
        (_set(("targets", 4, "weight"), 1), ["selection"]),
        (_set(("targets", 2, "excluded"), "已注销 | deregistered"), ["selection"]),
        (_set(("inspectors", 3, "excluded"), "回避 | recused"), ["selection"]),
        (_set(("inspectors", 0, "conflicts"), []), ["selection"]),
        (_set(("rules", "targets"), 3), ["selection"]),
        (_set(("rules", "max_per_inspector"), None), ["selection"]),
        (_set(("selection", "assignments", 0, "inspectors"), ["I3", "I2"]), ["selection"]),
        (_set(("selection", "unstaffed"), []), ["selection"]),
        (_set(("selection", "targets"), ["T5", "T3", "T1", "T2"]), ["selection"]),
    ],
)
def test_tampering_is_detected(mutate: Callable[[dict[str, Any]], None], failed: list[str]) -> None:
    record = revealed()
    mutate(record)
    report = verify_record(record)
    assert not report.ok
    assert report.failed == failed, report.checks


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.clear(), "missing key"),
        (lambda r: r.update(extra=1), "record: unknown key.s. 'extra'"),
        (lambda r: r.update({1: 2}), "record: unknown key.s. int"),
        (lambda r: r.pop("title"), "record: missing key.s. title"),
        (lambda r: r.pop("seed"), "incomplete reveal, missing key.s. seed"),
        (lambda r: r.update(format="envtrust-draw/v2"), "format must be 'envtrust-draw/v1'"),
        (lambda r: r.update(commitment="ABC"), "commitment must be 64 lowercase hex digits"),
        (lambda r: r.update(secret=SECRET.hex().upper()), "secret must be 64 lowercase hex digits"),
        (lambda r: r.update(draw_id=7), "draw_id must be a string, not int"),
        (lambda r: r.update(targets={}), "targets must be a list, not dict"),
        (lambda r: r["targets"].append(r["targets"][0]), "targets: duplicate id 'T1'"),
        (lambda r: r["targets"][1].pop("region"), r"targets\[1\]: missing key.s. region"),
        (
            lambda r: r["targets"][1].update(weight="3"),
            r"targets\[1\]: candidate 'T2': weight must be an integer",
        ),
        (
            lambda r: r["inspectors"][0].update(conflicts=[5]),
            r"inspectors\[0\].conflicts\[0\] must be a string",
        ),
        (lambda r: r["rules"].update(targets=None), "rules.targets must be an integer, not NoneType"),
        (lambda r: r["rules"].update(seed=1), "rules: unknown key.s. 'seed'"),
        (
            lambda r: r["selection"].update(targets="T1"),
            "selection.targets must be a list, not the string 'T1'",
        ),
        (lambda r: r["selection"]["assignments"].append([]), r"selection.assignments\[4\] must be an object"),
    ],
)
def test_parse_errors_are_clear(mutate: Callable[[dict[str, Any]], object], message: str) -> None:
    record = revealed()
    mutate(record)
    with pytest.raises(DrawError, match=message):
        parse_record(record)
    report = verify_record(record)
    assert report.failed == ["format"] and "malformed record" in report.checks[0][2]


def test_parse_rejects_non_objects() -> None:
    values: list[object] = [None, [], "{}", 3]
    for value in values:
        with pytest.raises(DrawError, match="the record must be an object"):
            parse_record(value)


def test_reveal_errors() -> None:
    created = draw_record("D-1", "", RULES, TARGETS, INSPECTORS, commitment_of(SECRET), BEACON_SOURCE, "")
    with pytest.raises(DrawError, match="does not match the commitment"):
        reveal_record(created, bytes(32), "12345")
    with pytest.raises(DrawError, match="beacon value must be given"):
        reveal_record(created, SECRET, "")
    with pytest.raises(DrawError, match="already revealed"):
        reveal_record(reveal_record(created, SECRET, "12345"), SECRET, "12345")
    with pytest.raises(DrawError, match="commitment must be 64 lowercase hex"):
        draw_record("D-1", "", RULES, TARGETS, INSPECTORS, "00", "", "")
    with pytest.raises(DrawError, match="draw_id must not be empty"):
        draw_record("", "", RULES, TARGETS, INSPECTORS, commitment_of(SECRET), "", "")


# -------------------------------------------------------------------------------------------------- fuzzing
KEYS = [
    "format",
    "draw_id",
    "targets",
    "rules",
    "selection",
    "id",
    "weight",
    "conflicts",
    "assignments",
    "target",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_verify_never_raises_on_arbitrary_json(value: object) -> None:
    report = verify_record(value)
    assert not report.ok and report.failed == ["format"]


def _paths(node: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


BASE = revealed()
BASE_PATHS = list(_paths(BASE))[1:]


@given(
    st.lists(
        st.tuples(st.sampled_from(BASE_PATHS), st.sampled_from(["set", "delete", "add"]), JSON), max_size=3
    )
)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_verify_never_raises_on_mutated_records(mutations: list[tuple[tuple[Any, ...], str, object]]) -> None:
    record = copy.deepcopy(BASE)
    for path, how, value in mutations:
        parent: Any = record
        try:
            for key in path[:-1]:
                parent = parent[key]
            if how == "set":
                parent[path[-1]] = value
            elif how == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent["extra"] = value
            else:
                parent.append(value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    report = verify_record(record)
    assert report.checks and report.checks[0][0] == "format"
    try:
        parse_record(record)
    except DrawError:
        assert report.failed == ["format"]
