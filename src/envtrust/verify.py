"""``envtrust verify``: check a whole database against its ledger and its signed checkpoints.

1. The ledger: entries are numbered 0..n-1 without gaps; every stored tree node equals the node recomputed
   from the entries (RFC 9162 hashing).
2. Checkpoints: every signed checkpoint verifies with the log's public key, its root equals the root
   recomputed at its size, successive checkpoints are consistent (RFC 9162 consistency proofs), and no
   checkpoint is larger than the ledger (a truncated or rewritten tail).
3. State rows: every ``frames`` row equals its entry (same fields, SHA-256 of its raw bytes, digest
   re-derived), in the same order, none missing and none without an entry; every point equals its latest
   ``registry.point`` entry.
4. Readings: every reading row is re-derived from its raw frame, and every reading a frame carries is stored
   (under that frame, or under an earlier frame that carried the same key first).

The first problem found is reported with the entry, table and row; the report lists up to ``limit``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import hj212
from .ledger import merkle
from .ledger.entries import STATE_ENTRIES, frame_entry
from .ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint
from .registry import Point
from .services import readings_of
from .store import Store
from .store.schema import VALUE_COLUMNS

__all__ = ["Problem", "VerifyReport", "verify"]


@dataclass(slots=True)
class Problem:
    where: str  # "ledger entry 12", "frames row 42", "checkpoint 1000", "readings row (…)"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(slots=True)
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    frames: int = 0
    readings: int = 0
    points: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Stop(Exception):
    pass


def verify(
    store: Store,
    log_key: Verifier | None,
    *,
    limit: int = 20,
    progress: Callable[[str, int], None] | None = None,
    check_readings: bool = True,
) -> VerifyReport:
    """Check everything; ``log_key`` verifies checkpoint signatures (None: checkpoints are parsed but their
    signatures not checked).  ``check_readings=False`` skips re-deriving readings from raw frames."""
    report = VerifyReport()

    def problem(where: str, what: str) -> None:
        report.problems.append(Problem(where, what))
        if len(report.problems) >= limit:
            raise _Stop

    # one consistent snapshot: rows written by a running gateway meanwhile are neither seen nor mistaken for
    # tampering (a frame stored after the entries were read would otherwise look unledgered)
    with store.snapshot() as snap:
        try:
            levels = _check_tree(snap, report, problem, progress)
            _check_checkpoints(snap, report, problem, levels, log_key)
            _check_rows(snap, report, problem, progress, check_readings)
        except _Stop:
            pass
    return report


# ------------------------------------------------------------------------------------------------ tree
def _check_tree(
    store: Store, report: VerifyReport, problem: Callable[[str, str], None], progress: Any
) -> list[list[bytes]]:
    leaves: list[bytes] = []
    for idx, _kind, _ref, entry in store.iter_entries():
        if idx != len(leaves):
            problem(f"ledger entry {len(leaves)}", f"missing (the next stored entry is {idx})")
            # keep going with the stored numbering so that later checks still say something useful
            while len(leaves) < idx:
                leaves.append(b"\0" * 32)
        leaves.append(merkle.leaf_hash(entry))
        if progress and len(leaves) % 100000 == 0:
            progress("entries", len(leaves))
    report.entries = len(leaves)
    levels = [leaves]
    while len(levels[-1]) >= 2:
        below = levels[-1]
        levels.append([merkle.node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)])
    stored_levels = store.node_levels()
    for level in stored_levels:
        want = levels[level] if level < len(levels) else []
        seen = 0
        for idx, h in store.iter_nodes(level):
            if idx >= len(want):
                problem(f"ledger node ({level}, {idx})", "stored for leaves the ledger does not have")
                continue
            if h != want[idx]:
                what = "does not match its entry" if level == 0 else "does not match the entries below it"
                where = f"ledger entry {idx}" if level == 0 else f"ledger node ({level}, {idx})"
                problem(where, what + " (ledger_nodes)")
            seen += 1
        if seen < len(want):
            problem(f"ledger nodes at level {level}", f"{len(want) - seen} missing")
    for level in range(len(levels)):
        if levels[level] and level not in stored_levels:
            problem(f"ledger nodes at level {level}", f"all {len(levels[level])} missing")
    return levels


def _nodes(
    levels: list[list[bytes]], keys: set[merkle.NodeKey] | list[merkle.NodeKey]
) -> dict[merkle.NodeKey, bytes]:
    return {(lv, i): levels[lv][i] for lv, i in keys if lv < len(levels) and i < len(levels[lv])}


def _check_checkpoints(
    store: Store,
    report: VerifyReport,
    problem: Callable[[str, str], None],
    levels: list[list[bytes]],
    log_key: Verifier | None,
) -> None:
    size = len(levels[0])
    previous: Checkpoint | None = None
    for row in store.checkpoints():
        report.checkpoints += 1
        where = f"checkpoint {row['size']}"
        if log_key is None:
            try:
                cp = Checkpoint.parse(row["note"].split("\n\n", 1)[0] + "\n")
            except NoteError as exc:
                problem(where, f"malformed: {exc}")
                continue
        else:
            try:
                cp = open_checkpoint(row["note"], log_key)
            except NoteError as exc:
                problem(where, f"signature does not verify with {log_key.name}: {exc}")
                continue
        if cp.size != row["size"] or cp.root_hash != row["root"]:
            problem(where, "the signed note and the checkpoints row disagree")
        if cp.size > size:
            problem(where, f"signed for {cp.size} entries but the ledger has {size}: entries were removed")
            continue
        root = merkle.root_hash(cp.size, _nodes(levels, merkle.root_keys(cp.size)))
        if root != cp.root_hash:
            problem(
                where,
                "its signed root differs from the root recomputed from the entries: history was rewritten",
            )
            continue
        if previous is not None and previous.size <= cp.size:
            proof = merkle.consistency_proof(
                previous.size, cp.size, _nodes(levels, merkle.consistency_keys(previous.size, cp.size))
            )
            if not merkle.verify_consistency(previous.size, cp.size, previous.root_hash, cp.root_hash, proof):
                problem(where, f"not consistent with checkpoint {previous.size}")
        previous = cp


# ------------------------------------------------------------------------------------------------ rows
def _check_rows(
    store: Store,
    report: VerifyReport,
    problem: Callable[[str, str], None],
    progress: Any,
    check_readings: bool,
) -> None:
    frames = store.iter_frames()
    registry: dict[str, tuple[int, dict[str, Any]]] = {}
    for idx, kind, ref, entry in store.iter_entries():
        if kind == "registry.point":
            obj = json.loads(entry)
            registry[obj["point"]["mn"]] = (idx, obj["point"])
            continue
        if not (ref or "").startswith("frames/"):
            continue
        fid = int(ref.split("/", 1)[1])  # type: ignore[union-attr]
        row = next(frames, None)
        while row is not None and row["id"] < fid:
            problem(f"frames row {row['id']}", "has no ledger entry")
            row = next(frames, None)
        if row is None or row["id"] != fid:
            problem(f"ledger entry {idx}", f"records frames row {fid}, which is missing")
            if row is not None:
                frames = _prepend(row, frames)
            continue
        report.frames += 1
        _check_frame(idx, row, entry, problem)
    for row in frames:
        problem(f"frames row {row['id']}", "has no ledger entry")
    states = store.point_states()
    for mn, state in states.items():
        report.points += 1
        if mn not in registry:
            problem(f"points row {mn}", "has no registry entry in the ledger")
        elif registry[mn][1] != state:
            diff = sorted(
                k for k in set(state) | set(registry[mn][1]) if state.get(k) != registry[mn][1].get(k)
            )
            problem(
                f"points row {mn}", f"differs from its ledger entry {registry[mn][0]} in {', '.join(diff)}"
            )
    for mn in registry.keys() - states.keys():
        problem(f"points row {mn}", f"missing (recorded by ledger entry {registry[mn][0]})")
    _check_state_tables(store, problem)
    if check_readings:
        _check_readings(store, report, problem, progress)


def _check_state_tables(store: Store, problem: Callable[[str, str], None]) -> None:
    """Every row of a ledgered state table equals its entry; every such entry still has its row."""
    recorded: dict[str, dict[int, tuple[int, bytes]]] = {table: {} for table in STATE_ENTRIES}
    types = {kind: table for table, (kind, _) in STATE_ENTRIES.items()}
    for idx, kind, ref, entry in store.iter_entries():
        table = types.get(kind)
        if table is not None and ref:
            recorded[table][int(ref.split("/", 1)[1])] = (idx, entry)
    for table, (_, entry_of) in STATE_ENTRIES.items():
        entries = recorded[table]
        for row in store.iter_state_rows(table):
            found = entries.pop(int(row["id"]), None)
            if found is None:
                problem(f"{table} row {row['id']}", "has no ledger entry")
            elif entry_of(row) != found[1]:
                problem(f"{table} row {row['id']}", f"differs from its ledger entry {found[0]}")
        for rid, (idx, _) in sorted(entries.items()):
            problem(f"ledger entry {idx}", f"records {table} row {rid}, which is missing")
    _check_alarms(store, problem)
    _check_signatures(store, problem)
    from .store.triggers import INSERT_ONLY_TABLES, trigger_names

    present = store.triggers()
    for table in INSERT_ONLY_TABLES:  # someone with the owner's rights removed a refusal: say so
        missing = [t for t in trigger_names(table, store.engine.dialect.name) if t not in present]
        if missing:
            problem(f"{table} table", f"its insert-only trigger is missing ({', '.join(missing)})")
    for row in store.iter_state_rows("attachments"):  # the entry holds the SHA-256; the bytes must match it
        if hashlib.sha256(bytes(row["data"])).hexdigest() != row["sha256"]:
            problem(f"attachments row {row['id']}", "its bytes do not match their SHA-256")


def _check_signatures(store: Store, problem: Callable[[str, str], None]) -> None:
    """Every personal signature verifies with the key it names, and signs the act and role recorded with it."""
    from .errors import RecordError
    from .ledger.note import Verifier
    from .workflow.signing import verified_statement

    keys = {int(k["id"]): k for k in store.quality_rows("person_keys")}
    for sig in store.quality_rows("signatures"):
        key = keys.get(int(sig["key_id"]))
        if key is None:
            problem(f"signatures row {sig['id']}", f"names key {sig['key_id']}, which is not registered")
            continue
        try:
            statement = verified_statement(sig["note"], Verifier.from_vkey(key["vkey"]))
        except (RecordError, ValueError) as exc:
            problem(f"signatures row {sig['id']}", f"does not verify: {exc}")
            continue
        if statement.get("act") != sig["act"] or statement.get("role") != sig["role"]:
            problem(f"signatures row {sig['id']}", "its statement is for another act or role")
        elif statement.get("signer", {}).get("account_id") != key["account_id"]:
            problem(f"signatures row {sig['id']}", "its statement names another account than its key's")


def _check_alarms(store: Store, problem: Callable[[str, str], None]) -> None:
    """Every alarm is in the state its newest (ledgered) event left it in."""
    last = store.last_alarm_events()
    for a in store.alarms(closed=None):
        e = last.get(int(a["id"]))
        if e is None:
            problem(f"alarm {a['id']}", "has no events")
            continue
        closed = a["state"] == "cleared" and bool(a["acked"])
        wrong = [k for k in ("state", "acked", "assignee", "severity", "escalation") if a[k] != e[k]]
        if bool(a["closed"]) != closed:
            wrong.append("closed")
        if wrong:
            problem(f"alarm {a['id']}", f"{', '.join(wrong)} differ from its newest ledgered event {e['id']}")


def _prepend(row: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield row
    yield from rest


def _check_frame(idx: int, row: dict[str, Any], entry: bytes, problem: Callable[[str, str], None]) -> None:
    where = f"frames row {row['id']}"
    expected = frame_entry(int(row["id"]), row["raw"], row)
    if expected != entry:
        try:
            stored = json.loads(entry)
            mine = json.loads(expected)
            diff = sorted(
                k for k in set(stored) | set(mine) if json.dumps(stored.get(k)) != json.dumps(mine.get(k))
            )
        except ValueError:
            diff = ["entry"]
        problem(where, f"differs from its ledger entry {idx} in {', '.join(diff)}")
        return
    raw = row["raw"]
    if row["format"] == "hj212" and row["status"] != "quarantine":
        parsed = hj212.parse_frame(raw, max_segment=len(raw), modbus_crc=_Any())
        if isinstance(parsed, hj212.Frame) and hashlib.sha256(parsed.segment).digest() != row["digest"]:
            problem(where, "digest does not match its raw bytes")


class _Any:
    def __contains__(self, item: object) -> bool:
        return True


def _key(r: dict[str, Any]) -> tuple[str, str, str, int]:
    return (r["mn"], r["kind"], r["pollutant"], int(r["data_time"]))


def _same_values(stored: dict[str, Any], derived: Any) -> bool:
    for col in VALUE_COLUMNS:
        a, b = stored.get(col), derived.values.get(col)
        if (a is None) != (b is None) or (
            a is not None and abs(float(a) - float(b)) > 1e-9 * max(1.0, abs(float(b)))
        ):
            return False
    return bool(
        stored.get("flag") == derived.flag
        and stored.get("eflag") == derived.eflag
        and stored.get("extra") == derived.extra
        and stored.get("code_raw") == derived.code_raw
    )


def _check_readings(
    store: Store, report: VerifyReport, problem: Callable[[str, str], None], progress: Any
) -> None:
    points: dict[str, Point] = {p.mn: p for p in store.points()}
    stored_iter = store.iter_readings_by_frame()
    pending = next(stored_iter, None)
    for row in store.iter_frames():
        fid = int(row["id"])
        mine: list[dict[str, Any]] = []
        while pending is not None and pending["frame_id"] <= fid:
            if pending["frame_id"] < fid:
                problem(
                    f"readings row {_key(pending)}",
                    f"belongs to frame {pending['frame_id']}, which carries no readings",
                )
            else:
                mine.append(pending)
            report.readings += 1
            pending = next(stored_iter, None)
        derived: list[Any] = []
        if row["status"] == "ok" and row["format"] == "hj212":
            point = points.get(row["mn"])
            frame = hj212.parse_frame(row["raw"], max_segment=len(row["raw"]), modbus_crc=_Any())
            if point is not None and isinstance(frame, hj212.Frame):
                derived, _ = readings_of(frame, point)
        elif row["format"] == "csv":
            # a CSV record's line is covered by its entry (raw_sha256); its reading is not re-derived, because
            # the file's header (column order) is not kept with the line
            continue
        by_key = {_key(r): r for r in mine}
        for d in derived:
            k = (d.mn, d.kind, d.pollutant, d.data_time)
            stored = by_key.pop(k, None)
            if stored is not None:
                if not _same_values(stored, d):
                    problem(f"readings row {k}", f"differs from what frame {fid} carries")
                continue
            other = store.reading_at(*k)
            if other is None:
                problem(f"readings row {k}", f"missing: frame {fid} carries it")
            elif int(other["frame_id"]) > fid:
                problem(
                    f"readings row {k}",
                    f"is attributed to frame {other['frame_id']}, but frame {fid} carried it first",
                )
        for k in by_key:
            problem(f"readings row {k}", f"frame {fid} does not carry it")
    while pending is not None:
        problem(f"readings row {_key(pending)}", f"belongs to frame {pending['frame_id']}, which is missing")
        report.readings += 1
        pending = next(stored_iter, None)
