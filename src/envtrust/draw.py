"""Verifiable "double-random" (双随机) inspection draws: commit, reveal, select, verify.

A regulator draws at random which targets (monitoring points, enterprises, monitoring institutions) are
inspected and which inspectors inspect them.  Anyone can recompute the draw from its public record.  This
module is pure: standard library only, no I/O, no clock.  Scheme ``envtrust-draw/v1``:

1. **Commit.**  The drawer generates a 32-byte secret (:func:`new_secret`) and publishes
   ``commitment = SHA-256(secret)`` (64 lowercase hex digits) with the pools, the rules and a *beacon source*:
   a free-text description of a public random value known only later (e.g. "福彩3D 2026-12-01 开奖号码"),
   possibly empty.  This creation record is ledgered before the reveal.
2. **Reveal.**  Later the drawer publishes the secret and the beacon value (text; empty exactly when no
   beacon source was declared).  The seed is ::

       seed = SHA-256(enc("envtrust-draw/v1") ‖ enc(secret) ‖ enc(beacon_value) ‖ enc(draw_id)
                      ‖ enc(commitment))

   where ``enc(x)`` is the length of ``x`` in bytes as an 8-byte big-endian unsigned integer followed by
   ``x``; text is encoded as UTF-8, the secret is its 32 raw bytes and the commitment is its 64 lowercase
   hex characters.  The beacon stops the drawer from trying many secrets to favour an outcome; the secret
   stops anyone from computing the draw before the reveal.
3. **Pick.**  ``pick(label, pool)`` chooses one candidate from a non-empty pool sorted by id (Unicode code
   point order, which is also UTF-8 byte order): ``r = int.from_bytes(HMAC-SHA256(key=seed, msg=label),
   "big") mod W`` with ``W`` the sum of the pool's weights; walking the pool in order, the chosen candidate
   is the first whose cumulative weight exceeds ``r``.  Integers only, so every machine gets the same result
   (``r`` has 256 bits and weights are at most 10^6, so the modulo bias is negligible).
4. **Targets.**  The eligible targets are those with ``excluded`` null.  For ``k = 0 … n-1`` with
   ``n = min(rules.targets, number eligible)``: pick with label ``b"target|" + k`` (``k`` in decimal ASCII)
   from the eligible targets not yet chosen; the order of picking is the selection order.
5. **Inspectors.**  For each chosen target ``t`` in selection order and ``j = 0 … inspectors_per_target-1``:
   the eligible inspectors are those with ``excluded`` null, not yet assigned to ``t``, not listing ``t`` in
   ``conflicts``, not of ``t``'s region unless ``same_region_allowed`` (same region = equal non-empty
   region strings) and, if ``max_per_inspector`` is set, with fewer assignments so far (over all targets)
   than that; pick with label ``b"inspector|" + UTF-8(t) + b"|" + j`` (``j`` in decimal ASCII), weighted
   like targets.  If no inspector is eligible, ``t`` is *unstaffed*: it keeps the inspectors it has and
   no further ``j`` is tried (none could be eligible).
6. **Record.**  A JSON object with exactly the keys ``format`` (``"envtrust-draw/v1"``), ``draw_id``,
   ``title``, ``created_at``, ``rules`` (``targets``, ``inspectors_per_target``, ``same_region_allowed``,
   ``max_per_inspector``), ``targets`` and ``inspectors`` (lists of ``{id, weight, region, excluded,
   conflicts}``), ``commitment`` and ``beacon_source``; after the reveal also ``secret`` and ``seed``
   (64 lowercase hex digits), ``beacon_value`` and ``selection`` (``{targets: [id], assignments:
   [{target, inspectors: [id]}], unstaffed: [id]}``; every chosen target has an assignment, in order).
   Ids are non-empty and unique within their pool; weights are integers from 1 to 10^6; ``excluded`` is
   null or a non-empty reason; ``rules.targets`` ≥ 1, ``inspectors_per_target`` ≥ 0 and
   ``max_per_inspector`` null or ≥ 1.  Anything else is malformed (:class:`DrawError`).
7. **Verify.**  :func:`verify_record` recomputes from the record alone: ``format``, ``revealed``,
   ``commitment`` (SHA-256 of the secret), ``beacon`` (a value exactly when a source was declared; whether
   it is the published value must be checked by hand), ``seed`` and ``selection``.

The seed does not cover the pools or the rules: they are fixed by the ledgered creation record, so a
verifier must also check that the record's creation part equals the ledgered one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "FORMAT",
    "MAX_WEIGHT",
    "Candidate",
    "DrawError",
    "DrawRecord",
    "Reveal",
    "Rules",
    "Selection",
    "VerifyReport",
    "check_commitment",
    "commitment_of",
    "derive_seed",
    "draw_record",
    "new_secret",
    "parse_record",
    "reveal_record",
    "select",
    "verify_record",
]

FORMAT = "envtrust-draw/v1"
MAX_WEIGHT = 1_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CREATION_KEYS = (
    "format",
    "draw_id",
    "title",
    "created_at",
    "rules",
    "targets",
    "inspectors",
    "commitment",
    "beacon_source",
)
_REVEAL_KEYS = ("secret", "beacon_value", "seed", "selection")
_CANDIDATE_KEYS = ("id", "weight", "region", "excluded", "conflicts")
_RULES_KEYS = ("targets", "inspectors_per_target", "same_region_allowed", "max_per_inspector")


class DrawError(ValueError):
    """Malformed draw input or record; the message says what and where."""


def _show(value: object) -> str:
    """A short, always printable description of an outside value (huge ints cannot even be printed)."""
    return f"the string {value[:40]!r}" if isinstance(value, str) else type(value).__name__


def _text(value: object, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise DrawError(f"{where} must be a string, not {_show(value)}")
    if not empty and not value:
        raise DrawError(f"{where} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DrawError(f"{where} is not valid Unicode text (lone surrogate)") from None
    return value


def _int(value: object, where: str, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DrawError(f"{where} must be an integer, not {_show(value)}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DrawError(f"{where} must be {bound}")
    return value


def _hex(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise DrawError(f"{where} must be 64 lowercase hex digits, not {_show(value)}")
    return bytes.fromhex(value)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A target or an inspector; ``conflicts`` (inspectors only) lists target ids it may not inspect."""

    id: str
    weight: int
    region: str
    excluded: str | None  # the reason, or None when eligible
    conflicts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"candidate {_text(self.id, 'candidate id', empty=False)!r}"
        _int(self.weight, f"{where}: weight", 1, MAX_WEIGHT)
        _text(self.region, f"{where}: region")
        if self.excluded is not None:
            _text(self.excluded, f"{where}: excluded (reason)", empty=False)
        if not isinstance(self.conflicts, tuple):
            raise DrawError(f"{where}: conflicts must be a tuple, not {_show(self.conflicts)}")
        for c in self.conflicts:
            _text(c, f"{where}: conflicts entry", empty=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "weight": self.weight,
            "region": self.region,
            "excluded": self.excluded,
            "conflicts": list(self.conflicts),
        }


@dataclass(frozen=True, slots=True)
class Rules:
    targets: int
    inspectors_per_target: int
    same_region_allowed: bool = False
    max_per_inspector: int | None = None

    def __post_init__(self) -> None:
        _int(self.targets, "rules.targets", 1)
        _int(self.inspectors_per_target, "rules.inspectors_per_target", 0)
        if not isinstance(self.same_region_allowed, bool):
            raise DrawError(
                f"rules.same_region_allowed must be true or false, not {_show(self.same_region_allowed)}"
            )
        if self.max_per_inspector is not None:
            _int(self.max_per_inspector, "rules.max_per_inspector", 1)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RULES_KEYS}


@dataclass(frozen=True, slots=True)
class Selection:
    targets: tuple[str, ...]
    assignments: tuple[tuple[str, tuple[str, ...]], ...]  # (target id, inspector ids), in selection order
    unstaffed: tuple[str, ...]  # targets with fewer than rules.inspectors_per_target inspectors

    def to_json(self) -> dict[str, Any]:
        return {
            "targets": list(self.targets),
            "unstaffed": list(self.unstaffed),
            "assignments": [{"target": t, "inspectors": list(i)} for t, i in self.assignments],
        }


@dataclass(frozen=True, slots=True)
class Reveal:
    secret: bytes
    beacon_value: str
    seed: bytes
    selection: Selection


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """The typed content of a record; ``reveal`` is None before the reveal."""

    draw_id: str
    title: str
    created_at: str
    rules: Rules
    targets: tuple[Candidate, ...]
    inspectors: tuple[Candidate, ...]
    commitment: str
    beacon_source: str
    reveal: Reveal | None = None


@dataclass(slots=True)
class VerifyReport:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (name, passed, "中文 | English")

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(passed for _, passed, _ in self.checks)

    @property
    def failed(self) -> list[str]:
        return [name for name, passed, _ in self.checks if not passed]


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def commitment_of(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def check_commitment(secret_hex: str, commitment: str) -> bool:
    """Whether SHA-256 of the hex secret equals ``commitment`` (hex, any case); False on malformed input."""
    if (
        not isinstance(secret_hex, str)
        or not isinstance(commitment, str)
        or not _HEX64.fullmatch(commitment.lower())
    ):
        return False
    try:
        secret = bytes.fromhex(secret_hex)
    except ValueError:
        return False
    return hmac.compare_digest(commitment_of(secret), commitment.lower())


def derive_seed(secret: bytes, beacon_value: str, draw_id: str, commitment: str) -> bytes:
    if not isinstance(secret, bytes) or len(secret) != 32:
        raise DrawError("the secret must be 32 bytes")
    parts = [FORMAT.encode(), secret] + [
        _text(s, "seed input").encode() for s in (beacon_value, draw_id, commitment)
    ]
    return hashlib.sha256(b"".join(len(p).to_bytes(8, "big") + p for p in parts)).digest()


def _check_pool(pool: Sequence[Candidate], what: str) -> None:
    seen: set[str] = set()
    for c in pool:
        if not isinstance(c, Candidate):
            raise DrawError(f"{what}: entries must be Candidate, not {_show(c)}")
        if c.id in seen:
            raise DrawError(f"{what}: duplicate id {c.id!r}")
        seen.add(c.id)


def _pick(seed: bytes, label: bytes, pool: list[Candidate]) -> int:
    """Index of the weighted pick from ``pool`` (sorted by id, non-empty)."""
    r = int.from_bytes(hmac.new(seed, label, hashlib.sha256).digest(), "big") % sum(c.weight for c in pool)
    for index, c in enumerate(pool):
        if r < c.weight:
            return index
        r -= c.weight
    raise AssertionError("unreachable: r < total weight")


def select(
    seed: bytes, targets: Sequence[Candidate], inspectors: Sequence[Candidate], rules: Rules
) -> Selection:
    """The deterministic selection for ``seed`` (steps 3–5 of the module docstring)."""
    _check_pool(targets, "targets")
    _check_pool(inspectors, "inspectors")
    remaining = sorted((c for c in targets if c.excluded is None), key=lambda c: c.id)
    chosen = [
        remaining.pop(_pick(seed, b"target|%d" % k, remaining))
        for k in range(min(rules.targets, len(remaining)))
    ]
    pool = sorted((c for c in inspectors if c.excluded is None), key=lambda c: c.id)
    load: dict[str, int] = {}
    assignments: list[tuple[str, tuple[str, ...]]] = []
    unstaffed: list[str] = []
    for t in chosen:
        assigned: list[str] = []
        for j in range(rules.inspectors_per_target):
            eligible = [
                c
                for c in pool
                if c.id not in assigned
                and t.id not in c.conflicts
                and (rules.same_region_allowed or not c.region or c.region != t.region)
                and (rules.max_per_inspector is None or load.get(c.id, 0) < rules.max_per_inspector)
            ]
            if not eligible:
                unstaffed.append(t.id)
                break
            inspector = eligible[_pick(seed, b"inspector|" + t.id.encode() + b"|%d" % j, eligible)].id
            assigned.append(inspector)
            load[inspector] = load.get(inspector, 0) + 1
        assignments.append((t.id, tuple(assigned)))
    return Selection(tuple(c.id for c in chosen), tuple(assignments), tuple(unstaffed))


def draw_record(
    draw_id: str,
    title: str,
    rules: Rules,
    targets: Sequence[Candidate],
    inspectors: Sequence[Candidate],
    commitment: str,
    beacon_source: str,
    created_at: str,
) -> dict[str, Any]:
    """The creation record (to be ledgered before the reveal)."""
    if not isinstance(rules, Rules):
        raise DrawError(f"rules must be Rules, not {_show(rules)}")
    _check_pool(targets, "targets")
    _check_pool(inspectors, "inspectors")
    _hex(commitment, "commitment")
    return {
        "format": FORMAT,
        "draw_id": _text(draw_id, "draw_id", empty=False),
        "title": _text(title, "title"),
        "created_at": _text(created_at, "created_at"),
        "rules": rules.to_json(),
        "targets": [c.to_json() for c in targets],
        "inspectors": [c.to_json() for c in inspectors],
        "commitment": commitment,
        "beacon_source": _text(beacon_source, "beacon_source"),
    }


def reveal_record(record: object, secret: bytes, beacon_value: str) -> dict[str, Any]:
    """The creation record ``record`` completed with the reveal: secret, beacon value, seed and selection."""
    r = parse_record(record)
    if r.reveal is not None:
        raise DrawError("the record is already revealed")
    if not isinstance(secret, bytes) or not check_commitment(secret.hex(), r.commitment):
        raise DrawError("the secret does not match the commitment")
    if bool(_text(beacon_value, "beacon_value")) != bool(r.beacon_source):
        raise DrawError("a beacon value must be given exactly when a beacon source was declared")
    seed = derive_seed(secret, beacon_value, r.draw_id, r.commitment)
    out = draw_record(
        r.draw_id, r.title, r.rules, r.targets, r.inspectors, r.commitment, r.beacon_source, r.created_at
    )
    selection = select(seed, r.targets, r.inspectors, r.rules).to_json()
    return out | {
        "secret": secret.hex(),
        "beacon_value": beacon_value,
        "seed": seed.hex(),
        "selection": selection,
    }


def _object(value: object, where: str, keys: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DrawError(f"{where} must be an object, not {_show(value)}")
    unknown = sorted(repr(k[:40]) if isinstance(k, str) else _show(k) for k in value if k not in keys)
    if unknown:
        raise DrawError(f"{where}: unknown key(s) {', '.join(unknown)}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise DrawError(f"{where}: missing key(s) {', '.join(missing)}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise DrawError(f"{where} must be a list, not {_show(value)}")
    return value


def _ids(value: object, where: str) -> tuple[str, ...]:
    return tuple(_text(v, f"{where}[{i}]", empty=False) for i, v in enumerate(_list(value, where)))


def _candidates(value: object, where: str) -> tuple[Candidate, ...]:
    out: list[Candidate] = []
    for i, item in enumerate(_list(value, where)):
        c = _object(item, f"{where}[{i}]", _CANDIDATE_KEYS)
        conflicts = _ids(c["conflicts"], f"{where}[{i}].conflicts")
        try:
            out.append(Candidate(c["id"], c["weight"], c["region"], c["excluded"], conflicts))
        except DrawError as e:
            raise DrawError(f"{where}[{i}]: {e}") from None
    _check_pool(out, where)
    return tuple(out)


def _selection(value: object) -> Selection:
    s = _object(value, "selection", ("targets", "assignments", "unstaffed"))
    assignments: list[tuple[str, tuple[str, ...]]] = []
    for i, item in enumerate(_list(s["assignments"], "selection.assignments")):
        a = _object(item, f"selection.assignments[{i}]", ("target", "inspectors"))
        target = _text(a["target"], f"selection.assignments[{i}].target", empty=False)
        assignments.append((target, _ids(a["inspectors"], f"selection.assignments[{i}].inspectors")))
    return Selection(
        _ids(s["targets"], "selection.targets"),
        tuple(assignments),
        _ids(s["unstaffed"], "selection.unstaffed"),
    )


def parse_record(obj: object) -> DrawRecord:
    """Read a record from outside (e.g. a downloaded file); raises only :class:`DrawError`."""
    if not isinstance(obj, dict):
        raise DrawError(f"the record must be an object, not {_show(obj)}")
    revealed = [k for k in _REVEAL_KEYS if k in obj]
    if revealed and len(revealed) != len(_REVEAL_KEYS):
        missing = [k for k in _REVEAL_KEYS if k not in obj]
        raise DrawError(f"record: incomplete reveal, missing key(s) {', '.join(missing)}")
    r = _object(obj, "record", _CREATION_KEYS + (_REVEAL_KEYS if revealed else ()))
    if r["format"] != FORMAT:
        raise DrawError(f"record: format must be {FORMAT!r}, not {_show(r['format'])}")
    rules = _object(r["rules"], "rules", _RULES_KEYS)
    record = DrawRecord(
        draw_id=_text(r["draw_id"], "draw_id", empty=False),
        title=_text(r["title"], "title"),
        created_at=_text(r["created_at"], "created_at"),
        rules=Rules(**rules),
        targets=_candidates(r["targets"], "targets"),
        inspectors=_candidates(r["inspectors"], "inspectors"),
        commitment=_hex(r["commitment"], "commitment").hex(),
        beacon_source=_text(r["beacon_source"], "beacon_source"),
    )
    if not revealed:
        return record
    reveal = Reveal(
        _hex(r["secret"], "secret"),
        _text(r["beacon_value"], "beacon_value"),
        _hex(r["seed"], "seed"),
        _selection(r["selection"]),
    )
    return replace(record, reveal=reveal)


def verify_record(obj: object) -> VerifyReport:
    """Recompute a record from itself alone; never raises (a malformed record fails the ``format`` check)."""
    report = VerifyReport()

    def check(name: str, passed: bool, good: str, bad: str) -> None:
        report.checks.append((name, passed, good if passed else bad))

    try:
        r = parse_record(obj)
    except DrawError as e:
        check("format", False, "", f"记录格式错误 | malformed record: {e}")
        return report
    check("format", True, f"记录格式正确 | the record is a well-formed {FORMAT} record", "")
    if r.reveal is None:
        check(
            "revealed", False, "", "尚未揭晓，只能核对格式 | not yet revealed: only the format can be checked"
        )
        return report
    v = r.reveal
    check("revealed", True, "已揭晓密钥与信标值 | the secret and the beacon value are revealed", "")
    good = "密钥与事先公布的承诺一致 | SHA-256(secret) equals the commitment"
    bad = "密钥与事先公布的承诺不一致 | SHA-256(secret) does not equal the commitment"
    check("commitment", check_commitment(v.secret.hex(), r.commitment), good, bad)
    if r.beacon_source:
        good = (
            f"请人工核对信标值 {v.beacon_value!r} 是否为「{r.beacon_source}」的公布值 | check by hand that "
        )
        good += f"{v.beacon_value!r} is the published value of: {r.beacon_source}"
        bad = "声明了信标却未给出信标值 | a beacon was declared but no beacon value is given"
    else:
        good = "未声明信标 | no beacon was declared"
        bad = "未声明信标却给出了信标值 | a beacon value is given but no beacon was declared"
    check("beacon", bool(r.beacon_source) == bool(v.beacon_value), good, bad)
    seed = derive_seed(v.secret, v.beacon_value, r.draw_id, r.commitment)
    good = "种子可由密钥与信标值复算 | the seed is recomputed exactly"
    bad = f"种子与复算结果不符 | the seed differs from the recomputed seed {seed.hex()}"
    check("seed", hmac.compare_digest(seed, v.seed), good, bad)
    s = select(seed, r.targets, r.inspectors, r.rules)
    good = "抽取结果可复算 | the selection is recomputed exactly"
    bad = f"抽取结果与复算结果不符 | the claimed selection differs from the recomputed one: {s.to_json()}"
    check("selection", s == v.selection, good, bad)
    return report
