"""Ledger entries: RFC 8785 canonical JSON objects with a ``type``, one per write of the system.

Entry types written today:

``hj212.frame`` / ``csv.record`` / ``garbage.record``
    one received record (a ``frames`` row): every column except the raw bytes, which are covered by
    ``raw_sha256``; the row's ``digest`` is derived from the raw bytes and re-checked by ``envtrust verify``.
``registry.point``
    a point added or changed by ``envtrust registry load``, with its enterprise and limits as loaded.
``reading.amendment``
    a correction of a reading (an ``amendments`` row): the reading's key and frame, the new values, who, why
    and when.  The reading row itself is never changed.

Frame entries hold only integers, strings, booleans and nulls, whose canonical form is exactly what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes for ASCII keys; that fast
path is used on the ingest path and tested against the reference (``rfc8785``).  Entries with numbers that
may be fractional (limits, reference O2) always go through ``rfc8785``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import rfc8785

__all__ = [
    "FRAME_FIELDS",
    "STATE_ENTRIES",
    "account_event_entry",
    "alarm_event_entry",
    "amendment_entry",
    "canonical",
    "entry_type",
    "frame_entry",
    "qc_config_entry",
    "record_entry",
    "registry_entry",
]

# the frames columns an entry covers, besides the id and the raw bytes' hash
FRAME_FIELDS = (
    "received_us",
    "peer",
    "origin",
    "format",
    "mn",
    "cn",
    "qn",
    "status",
    "error_code",
    "reason",
    "version",
    "crc_ok",
    "crc_variant",
    "warnings",
    "duplicate_of",
)
_TYPES = {"hj212": "hj212.frame", "csv": "csv.record", "garbage": "garbage.record"}


def entry_type(fmt: str) -> str:
    """The entry type of a ``frames`` row of this format."""
    return _TYPES.get(fmt, f"{fmt}.record")


def canonical(obj: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON-compatible value."""
    return rfc8785.dumps(obj)


def frame_entry(frame_id: int, raw: bytes, row: Mapping[str, Any]) -> bytes:
    """The entry of one ``frames`` row (given as a mapping with the FRAME_FIELDS), canonical JSON."""
    obj: dict[str, Any] = {name: row[name] for name in FRAME_FIELDS}
    obj["id"] = frame_id
    obj["raw_sha256"] = hashlib.sha256(raw).hexdigest()
    obj["type"] = entry_type(str(row["format"]))
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def registry_entry(action: str, point: Mapping[str, Any]) -> bytes:
    """The entry of a registry change: ``action`` is ``added`` or ``changed``; ``point`` every stored field."""
    return canonical({"type": "registry.point", "action": action, "point": dict(point)})


def amendment_entry(row: Mapping[str, Any]) -> bytes:
    """The entry of an ``amendments`` row: which reading, the new values, who, why and when."""
    return canonical(
        {
            "type": "reading.amendment",
            "id": row["id"],
            "amends": {
                "mn": row["mn"],
                "kind": row["kind"],
                "pollutant": row["pollutant"],
                "data_time": row["data_time"],
                "frame_id": row["frame_id"],
            },
            "changes": json.loads(row["changes"]),
            "who": row["who"],
            "why": row["why"],
            "at_us": row["at_us"],
        }
    )


def alarm_event_entry(row: Mapping[str, Any]) -> bytes:
    """The entry of an ``alarm_events`` row: which alarm, what happened, who, when, and the alarm's state after it."""
    return canonical(
        {
            "type": "alarm.event",
            "id": row["id"],
            "alarm_id": row["alarm_id"],
            "action": row["action"],
            "who": row["who"],
            "at_us": row["at_us"],
            "state": row["state"],
            "acked": bool(row["acked"]),
            "assignee": row["assignee"],
            "severity": row["severity"],
            "escalation": row["escalation"],
            "detail": json.loads(row["detail"]),
        }
    )


def account_event_entry(row: Mapping[str, Any]) -> bytes:
    """The entry of an ``account_events`` row: which account, what changed, who, when, and the account after it
    (role, scope, active; never a password or a token)."""
    return canonical(
        {
            "type": "account.event",
            "id": row["id"],
            "account_id": row["account_id"],
            "action": row["action"],
            "who": row["who"],
            "at_us": row["at_us"],
            "state": json.loads(row["state"]),
            "detail": json.loads(row["detail"]),
        }
    )


def qc_config_entry(row: Mapping[str, Any]) -> bytes:
    """The entry of a ``qc_configs`` row: the check configuration that came into force, who changed it and why."""
    return canonical(
        {
            "type": "qc.config",
            "id": row["id"],
            "digest": row["digest"],
            "config": json.loads(row["config"]),
            "who": row["who"],
            "why": row["why"],
            "at_us": row["at_us"],
        }
    )


def record_entry(
    kind: str,
    json_columns: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    omit_none: tuple[str, ...] = (),
) -> Callable[[Mapping[str, Any]], bytes]:
    """The entry function of an insert-only record table: every column of the row but ``exclude`` (secrets, which
    the row carries a hash of), ``json_columns`` parsed (so the entry holds the structure, not a string of it)."""

    def entry(row: Mapping[str, Any]) -> bytes:
        obj: dict[str, Any] = {"type": kind}
        for name, value in row.items():
            if name in exclude or (name in omit_none and value is None):
                continue  # omit_none: a column added later, absent from the entries of rows written before it
            obj[name] = json.loads(value) if name in json_columns and value is not None else value
        return canonical(obj)

    entry.__doc__ = f"The entry of a ``{kind}`` record: every column of its row."
    return entry


def sealed_entry(
    kind: str, public: tuple[str, ...], json_columns: tuple[str, ...] = ()
) -> Callable[[Mapping[str, Any]], bytes]:
    """The entry function of a confidential record table: the ``public`` columns in clear and ``sealed``, the
    SHA-256 (hex) of the row's random ``salt`` followed by the canonical JSON of every other column (``json_columns``
    parsed).  The public ledger then proves that the record exists, when, and that it was never changed, without
    showing its content; whoever is shown the content and the salt (a discipline body, a court) checks it against
    the entry."""

    def entry(row: Mapping[str, Any]) -> bytes:
        obj: dict[str, Any] = {"type": kind}
        hidden: dict[str, Any] = {}
        for name, value in row.items():
            if name == "salt":
                continue
            v = json.loads(value) if name in json_columns and value is not None else value
            if name in public:
                obj[name] = v
            elif isinstance(v, bytes | bytearray | memoryview):
                hidden[name] = hashlib.sha256(bytes(v)).hexdigest()
            else:
                hidden[name] = v
        obj["sealed"] = sealed_digest(str(row["salt"]), hidden)
        return canonical(obj)

    entry.__doc__ = f"The entry of a ``{kind}`` record: {', '.join(public)} in clear, the rest sealed."
    return entry


def sealed_digest(salt_hex: str, hidden: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the salt's bytes followed by the canonical JSON of the hidden columns."""
    return hashlib.sha256(bytes.fromhex(salt_hex) + canonical(dict(hidden))).hexdigest()


_SIGNATURE_CLEAR = record_entry("person.signature", omit_none=("salt",))
_SIGNATURE_SEALED = sealed_entry("person.signature", ("id", "act", "at_us"))


def signature_entry(row: Mapping[str, Any]) -> bytes:
    """The entry of a personal signature: in clear, or sealed (who signed and the statement hidden) when the row has
    a salt — the signatures of confidential acts (the interference register, complaints)."""
    return _SIGNATURE_SEALED(row) if row.get("salt") is not None else _SIGNATURE_CLEAR(row)


# state tables whose every row is recorded by one entry: table -> (entry type, entry of a row)
STATE_ENTRIES: dict[str, tuple[str, Callable[[Mapping[str, Any]], bytes]]] = {
    "amendments": ("reading.amendment", amendment_entry),
    "alarm_events": ("alarm.event", alarm_event_entry),
    "qc_configs": ("qc.config", qc_config_entry),
    "account_events": ("account.event", account_event_entry),
    "qa_criteria": ("qa.criteria", record_entry("qa.criteria", ("config",))),
    "analysers": ("qa.analyser", record_entry("qa.analyser")),
    "reference_lots": ("qa.reference_lot", record_entry("qa.reference_lot")),
    "lot_events": ("qa.lot_event", record_entry("qa.lot_event")),
    "qa_checks": ("qa.check", record_entry("qa.check", omit_none=("sig_id",))),
    "comparisons": ("qa.comparison", record_entry("qa.comparison", ("pairs",), omit_none=("sig_id",))),
    "maintenance": ("qa.maintenance", record_entry("qa.maintenance", ("detail",), omit_none=("sig_id",))),
    "person_keys": ("person.key", record_entry("person.key", exclude=("sealed",))),
    "person_key_events": ("person.key_event", record_entry("person.key_event")),
    "signatures": ("person.signature", signature_entry),
    "lab_functions": ("lab.function", record_entry("lab.function")),
    "samples": ("lab.sample", record_entry("lab.sample")),
    "custody_events": ("lab.custody", record_entry("lab.custody")),
    "analyses": ("lab.analysis", record_entry("lab.analysis", ("lot_ids",))),
    "reviews": ("lab.review", record_entry("lab.review")),
    "retractions": ("lab.retraction", record_entry("lab.retraction")),
    "reports": ("lab.report", record_entry("lab.report", ("analysis_ids",))),
    "data_marks": ("mark.data", record_entry("mark.data", ("pollutants",))),
    "mark_events": ("mark.event", record_entry("mark.event")),
    "attachments": ("attachment", sealed_entry("attachment", ("id", "at_us"))),
    "interference": (
        "interference.record",
        sealed_entry("interference.record", ("id", "region", "at_us"), ("touches", "attachments")),
    ),
    "interference_events": (
        "interference.event",
        sealed_entry("interference.event", ("id", "interference_id", "action", "at_us")),
    ),
    "complaints": (
        "complaint.received",
        sealed_entry("complaint.received", ("id", "channel", "region", "at_us"), ("attachments",)),
    ),
    "complaint_events": (
        "complaint.event",
        sealed_entry("complaint.event", ("id", "complaint_id", "action", "at_us"), ("links",)),
    ),
    "credit_events": ("credit.event", record_entry("credit.event", ("evidence",))),
    "blacklist": ("blacklist.entry", record_entry("blacklist.entry", ("evidence",))),
    "blacklist_events": ("blacklist.event", record_entry("blacklist.event", ("evidence",))),
    "orders": ("order.served", record_entry("order.served", ("mns", "evidence"))),
    "order_rechecks": ("order.recheck", record_entry("order.recheck", ("evidence",))),
    "cases": ("case.opened", sealed_entry("case.opened", ("id", "region", "at_us"), ("mns", "evidence"))),
    "case_documents": ("case.document", sealed_entry("case.document", ("id", "case_id", "kind", "at_us"))),
    "draws": ("draw.created", record_entry("draw.created", ("rules", "targets", "inspectors"))),
    "draw_reveals": ("draw.revealed", record_entry("draw.revealed", ("selection",))),
    "inspections": ("inspection.record", record_entry("inspection.record", ("inspectors", "evidence"))),
}
