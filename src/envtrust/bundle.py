"""Proof bundles: one value or record with everything needed to check it offline (``envtrust proof`` and
``envtrust verify-bundle``).

A bundle is one JSON object (format ``envtrust-proof-bundle/v1``) for a court, a procuratorate or another
regulator who receives a file and has only public keys.  It carries

* the record: a ``frames`` row with its raw bytes, or a ``readings`` row with the frame it was read from;
* the ledger entries that record it (the frame's entry and the registry entry of its point, which gives the
  point's time zone and names) with their RFC 9162 inclusion proofs, all against one checkpoint;
* that checkpoint as the log signed it (C2SP signed note) with every witness cosignature the store holds;
* the log's and the witnesses' public keys (C2SP verifier keys), and a bilingual ``summary``.

:func:`verify_bundle` checks all of it with nothing but the bundle (and, better, a log key obtained out of
band): format, the log's signature, each entry's inclusion in the signed tree, that the record matches its
entry (a frame's entry is recomputed from its fields and raw bytes; a reading is re-derived from the raw
HJ 212 frame with the codec), every cosignature, and that the summary says what the record says.  Nothing
in a bundle is trusted for display without being checked, which is why unknown keys are refused.

Bundle keys (v1)::

    format      "envtrust-proof-bundle/v1"
    kind        "frame" | "reading" | "point" (a registry entry) | "entry" (any other ledger entry)
    summary     {"zh": …, "en": …}                   recomputed and compared by the verifier
    record      {"frame": {id, <FRAME_FIELDS>, raw_base64, [raw_text]}, "reading": {<READING_COLUMNS>}}
                (frame for kinds frame and reading; reading for kind reading; empty otherwise)
    entries     [{"role": "frame" | "point" | "entry", "index": n, "entry": text | "entry_base64": b64,
                  "proof": [b64 hash, …]}, …]
    checkpoint  {"note": signed checkpoint note with cosignature lines}
    keys        {"log": vkey, "witnesses": [vkey, …]}
    generator   "envtrust <version>"                  informational, not verified
    created     ISO 8601 UTC time of export           informational, not verified

Limits: a verifier who takes the log key from the bundle itself only learns that the bundle is internally
consistent; the report says so and prints the key so that it can be compared with the published one.  The
bundle proves that the registry entry it carries was in the log before the frame, not that no later
change of the point preceded the frame (the exporter picks the newest one before it).  The raw HJ 212 frame
carries the data logger's PW in clear text (the protocol sends it so, and the entry covers the raw bytes'
SHA-256, so it cannot be blanked out): whoever receives a bundle of a frame or reading learns that point's PW.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import __version__, hj212
from .errors import ConfigError, EnvtrustError
from .hj212.codes import DATA_COMMANDS, DATA_FLAGS, command, pollutant
from .ledger import merkle
from .ledger.entries import FRAME_FIELDS, frame_entry
from .ledger.note import (
    MAX_SIGNATURES,
    Checkpoint,
    CosignatureVerifier,
    NoteError,
    Verifier,
    open_checkpoint,
    parse_note,
    parse_vkey,
    verify_cosignature,
)
from .registry import Enterprise, Point
from .services import CSV_KINDS, parse_iso_time, readings_of
from .store.schema import READING_COLUMNS, SUFFIX_COLUMNS, VALUE_COLUMNS

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "FORMAT",
    "BundleError",
    "BundleReport",
    "Check",
    "dumps",
    "load_vkey",
    "loads",
    "make_bundle",
    "read_bundle",
    "verify_bundle",
    "witness_verifiers_for",
    "write_bundle",
]

FORMAT: Final = "envtrust-proof-bundle/v1"
MAX_BUNDLE_BYTES: Final = 64 * 1024 * 1024

AnyVerifier = Verifier | CosignatureVerifier
T = TypeVar("T")

_READING_FIELDS: Final = READING_COLUMNS
_COLUMN_SUFFIX: Final = {column: suffix for suffix, column in SUFFIX_COLUMNS.items()}
_KINDS: Final = CSV_KINDS
_TOP_KEYS: Final = frozenset(
    {"format", "kind", "summary", "record", "entries", "checkpoint", "keys", "generator", "created"}
)
_FRAME_KEYS: Final = frozenset({"id", *FRAME_FIELDS, "raw_base64", "raw_text"})
_ROLES: Final = {
    "frame": ({"frame"}, {"point"}),  # kind: (required roles, optional roles)
    "reading": ({"frame", "point"}, set()),
    "point": ({"point"}, set()),
    "entry": ({"entry"}, set()),
}


class BundleError(EnvtrustError):
    """A bundle that cannot be made (no such record, not yet covered by a signed checkpoint) or read."""


# --------------------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Check:
    """One check of :func:`verify_bundle`: a stable ``name`` (``format``, ``log_key``, ``checkpoint``,
    ``inclusion:<role>``, ``record:<what>``, ``cosignature:<witness>``, ``cosignatures``, ``summary``),
    whether it passed, and a message (Chinese, then English)."""

    name: str
    ok: bool
    message: str


@dataclass(slots=True)
class BundleReport:
    """What :func:`verify_bundle` found.  ``ok`` only when every check passed."""

    kind: str | None = None
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log_key: str | None = None  # the vkey used to check the log's signature
    log_key_hash: str | None = None  # its 8-hex-digit key ID, as in the vkey
    # SHA-256 of the public key, hex: compare this (or the whole vkey), not only the 4-byte key ID
    log_key_fingerprint: str | None = None
    log_key_pinned: bool = False  # True: given by the caller; False: taken from the bundle itself
    witness_keys: list[dict[str, str]] = field(default_factory=list)  # name, key_hash, vkey
    witness_keys_pinned: bool = False
    cosignatures: list[dict[str, Any]] = field(default_factory=list)  # verified: name, key_hash, timestamp
    origin: str | None = None
    tree_size: int | None = None
    root_hash: str | None = None  # base64, as in the checkpoint
    entries: list[dict[str, Any]] = field(default_factory=list)  # role, index
    summary: dict[str, str] | None = None  # recomputed from the checked record

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def _add(self, name: str, ok: bool, message: str) -> bool:
        self.checks.append(Check(name, ok, message))
        return ok

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-compatible data (``envtrust verify-bundle --json``)."""
        return {
            "ok": self.ok,
            "kind": self.kind,
            "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in self.checks],
            "notes": list(self.notes),
            "log_key": {
                "vkey": self.log_key,
                "key_hash": self.log_key_hash,
                "fingerprint": self.log_key_fingerprint,
                "source": "pinned" if self.log_key_pinned else "bundle",
            },
            "witness_keys": {
                "source": "pinned" if self.witness_keys_pinned else "bundle",
                "keys": list(self.witness_keys),
            },
            "cosignatures": list(self.cosignatures),
            "checkpoint": {"origin": self.origin, "size": self.tree_size, "root_hash": self.root_hash},
            "entries": list(self.entries),
            "summary": self.summary,
        }

    def lines(self) -> list[str]:
        """The report as plain text lines (no markup), verdict last."""
        out = [f"{'✓' if c.ok else '✗'} [{c.name}] {c.message}" for c in self.checks]
        out += [f"· {n}" for n in self.notes]
        if self.log_key is not None:
            if self.log_key_pinned:
                out.append(f"日志公钥：由验证方指定 / log key: pinned by the verifier: {self.log_key}")
            else:
                out.append(
                    "注意：日志公钥取自证据包本身，请与公布的公钥核对 / NOTE: the log key was taken from the bundle "
                    f"itself; compare it with the published key: {self.log_key} "
                    f"(key hash {self.log_key_hash}, SHA-256 {self.log_key_fingerprint})"
                )
        if self.cosignatures and not self.witness_keys_pinned:
            out.append(
                "注意：见证公钥取自证据包本身，请与公布的公钥核对 / NOTE: the witness keys were taken from the "
                "bundle itself; compare them with the published ones: "
                + ", ".join(k["vkey"] for k in self.witness_keys)
            )
        if self.summary is not None:
            out.append(f"内容：{self.summary.get('zh', '')}")
            out.append(f"Record: {self.summary.get('en', '')}")
        if self.ok:
            out.append("结论：证据包验证通过 / verdict: the bundle VERIFIES")
        else:
            names = ", ".join(c.name for c in self.failed) or "format"
            out.append(f"结论：证据包验证未通过 / verdict: the bundle does NOT verify (failed: {names})")
        return out


# --------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Malformed(Exception):
    pass


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise _Malformed(f"{what} must be a base64 string")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Malformed(f"{what} is not valid base64") from None
    if _b64(data) != text:
        raise _Malformed(f"{what} is not canonical base64")
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fingerprint(key: AnyVerifier) -> str:
    return hashlib.sha256(key.public_key).hexdigest()


def _zone(name: object) -> tuple[ZoneInfo | None, str]:
    if isinstance(name, str):
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return None, "UTC"


def _local(seconds: int | float, zone: ZoneInfo | None) -> str:
    try:
        return datetime.fromtimestamp(seconds, zone or UTC).isoformat(sep=" ", timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} (epoch seconds, out of range)"


def _num(value: float | int) -> str:
    return repr(float(value)) if not float(value).is_integer() else f"{float(value):.1f}"


class _AnyMn:
    """Accept the Modbus CRC variant from every MN: the frame was accepted under the registry of its time."""

    def __contains__(self, item: object) -> bool:
        return True


def _parse_hj212(raw: bytes) -> hj212.Frame | None:
    parsed = hj212.parse_frame(raw, max_segment=max(len(raw), hj212.MAX_SEGMENT), modbus_crc=_AnyMn())
    return parsed if isinstance(parsed, hj212.Frame) else None


def _point_of(state: Mapping[str, Any]) -> Point:
    """A registry Point from the ``point`` of a ``registry.point`` entry (the PW is not in it: not needed)."""
    ent = state.get("enterprise") or {}
    return Point(
        mn=str(state["mn"]),
        enterprise=Enterprise(str(ent.get("name", "")), ent.get("credit_code"), ent.get("industry")),
        name=str(state.get("name", "")),
        region=str(state.get("region", "")),
        medium=str(state.get("medium", "")),
        reference_o2=state.get("reference_o2"),
        limits=dict(state.get("limits") or {}),
        pw=None,
        timezone=str(state["timezone"]),
        crc_compat=state.get("crc_compat"),
        st=state.get("st"),
        extra=dict(state.get("extra") or {}),
    )


def load_vkey(spec: str, directory: Path | None = None) -> AnyVerifier:
    """A public key from a vkey string, a ``.vkey`` file (either kind: 0x01 or 0x04), or a key name in the
    key directory ``directory``.  :class:`~envtrust.errors.ConfigError` if it cannot be read."""
    p = Path(spec)
    if "+" in spec and not p.exists():
        try:
            return parse_vkey(spec.strip())
        except NoteError as exc:
            raise ConfigError(f"not a public key: {exc}") from None
    if p.suffix not in (".vkey", ".skey") and not p.is_file():
        from .keys import load_verifier

        return load_verifier(spec, directory)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read key file {p}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        if text.startswith("PRIVATE+KEY+"):
            from .ledger.note import Signer

            return Signer.from_skey(text).verifier()
        return parse_vkey(text)
    except NoteError as exc:
        raise ConfigError(f"{p}: not a key: {exc}") from None


def witness_verifiers_for(store: Store, directory: Path | None = None) -> list[Verifier]:
    """The public keys, found in the key directory, of the witnesses that have cosigned in ``store``."""
    from .keys import load_verifier

    found: list[Verifier] = []
    for name in sorted({str(r["witness"]) for r in store.cosignatures()}):
        try:
            found.append(load_verifier(name, directory))
        except ConfigError:
            continue
    return found


# --------------------------------------------------------------------------------------------------------
# making a bundle
# --------------------------------------------------------------------------------------------------------


def _frame_row(store: Store, frame_id: int) -> dict[str, Any] | None:
    rows = list(store.frames(after_id=frame_id - 1, limit=1))
    return rows[0] if rows and int(rows[0]["id"]) == frame_id else None


def _frame_record(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = bytes(row["raw"])
    rec: dict[str, Any] = {"id": int(row["id"])}
    for name in FRAME_FIELDS:
        value = row[name]
        if isinstance(value, int) and not isinstance(value, bool):
            value = int(value)
        rec[name] = value
    if rec.get("crc_ok") is not None:
        rec["crc_ok"] = bool(rec["crc_ok"])
    rec["raw_base64"] = _b64(raw)
    with contextlib.suppress(UnicodeDecodeError):
        rec["raw_text"] = raw.decode("utf-8")
    return rec


def _reading_record(row: Mapping[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for name in _READING_FIELDS:
        value = row.get(name)
        if name in ("data_time", "frame_id"):
            value = int(value)  # type: ignore[arg-type]
        elif name in VALUE_COLUMNS and value is not None:
            value = float(value)
        rec[name] = value
    return rec


def _registry_index(store: Store, mn: str, before: int) -> int | None:
    """The newest ``registry.point`` entry of ``mn`` before ledger index ``before`` (the state in effect)."""
    return store.entry_index_before(f"points/{mn}", before)


def _entry_obj(role: str, index: int, data: bytes, proof: Sequence[bytes]) -> dict[str, Any]:
    obj: dict[str, Any] = {"role": role, "index": index}
    try:
        obj["entry"] = data.decode("utf-8")
    except UnicodeDecodeError:
        obj["entry_base64"] = _b64(data)
    obj["proof"] = [_b64(h) for h in proof]
    return obj


def _cosigned_note(note: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The log's checkpoint note with every cosignature line of the same checkpoint text added once."""
    text, signatures = parse_note(note)
    lines = [s.line() for s in signatures]
    seen = set(lines)
    for row in rows:
        try:
            other_text, others = parse_note(str(row["note"]))
        except NoteError:
            continue
        if other_text != text:
            continue
        for sig in others:
            line = sig.line()
            if line not in seen and len(lines) < MAX_SIGNATURES:
                seen.add(line)
                lines.append(line)
    return text + "\n" + "".join(lines)


def _resolve_time(store: Store, mn: str, when: int | str | datetime) -> int:
    if isinstance(when, bool):
        raise BundleError(f"reading time {when!r} is not a time")
    if isinstance(when, int):
        return when
    if isinstance(when, datetime):
        if when.tzinfo is not None:
            return int(when.timestamp())
        text = when.isoformat()
    else:
        text = str(when)
    zone = next((p.timezone for p in store.points() if p.mn == mn), None)
    if zone is None:
        raise BundleError(f"没有该监测点 / no registered point with MN {mn}")
    seconds = parse_iso_time(text, zone)
    if seconds is None:
        raise BundleError(f"reading time {text!r} is not ISO 8601 (e.g. 2026-01-01T08:00:00 in {zone})")
    return seconds


def make_bundle(
    store: Store,
    *,
    frame_id: int | None = None,
    entry_index: int | None = None,
    reading: tuple[str, str, str, int | str | datetime] | None = None,
    log_verifier: Verifier,
    witness_verifiers: Sequence[AnyVerifier] = (),
) -> dict[str, Any]:
    """A proof bundle (JSON-compatible dict) for exactly one of: the ``frames`` row ``frame_id``, the ledger
    entry ``entry_index``, or the reading ``(mn, kind, pollutant, data_time)`` (kind ``rtd``/``minute``/
    ``hour``/``day`` or its CN; data_time UTC epoch seconds, an aware datetime, or ISO 8601 text read in the
    point's zone unless it has an offset).

    The proof is against the newest signed checkpoint, which must cover every entry the bundle carries; its
    note carries every cosignature the store holds for that size.  The result is checked with
    :func:`verify_bundle` before it is returned.  Raises :class:`BundleError` when the record does not exist,
    is not in the ledger, is not covered by a signed checkpoint yet, or the result does not verify.
    """
    if sum(x is not None for x in (frame_id, entry_index, reading)) != 1:
        raise BundleError("give exactly one of: a frame id, a ledger entry index, a reading")
    record: dict[str, Any] = {}
    wanted: list[tuple[str, int]] = []  # (role, ledger index)
    if reading is not None:
        mn, kind_text, pollutant_code, when = reading
        kind = _KINDS.get(str(kind_text).lower())
        if kind is None:
            raise BundleError(f"reading kind {kind_text!r} is not one of rtd, minute, hour, day (or 2011 …)")
        data_time = _resolve_time(store, mn, when)
        row = store.reading_at(mn, kind, pollutant_code, data_time)
        if row is None:
            shown = _local(data_time, None)
            raise BundleError(
                f"没有该监测数据 / no such reading: MN {mn}, {kind}, {pollutant_code}, {shown} (UTC)"
            )
        frame = _frame_row(store, int(row["frame_id"]))
        if frame is None:
            raise BundleError(
                f"reading's frame {row['frame_id']} is missing from the database; run envtrust verify"
            )
        record = {"frame": _frame_record(frame), "reading": _reading_record(row)}
        kind_of_bundle = "reading"
        wanted.append(("frame", _index_of(store, f"frames/{frame['id']}")))
    elif frame_id is not None:
        frame = _frame_row(store, frame_id)
        if frame is None:
            raise BundleError(f"没有该数据帧 / no frame with id {frame_id}")
        record = {"frame": _frame_record(frame)}
        kind_of_bundle = "frame"
        wanted.append(("frame", _index_of(store, f"frames/{frame_id}")))
    else:
        assert entry_index is not None
        found = store.entry(entry_index) if entry_index >= 0 else None
        if found is None:
            raise BundleError(f"没有该账本条目 / no ledger entry {entry_index}")
        etype, ref, _ = found
        if ref is not None and ref.startswith("frames/") and ref[7:].isdigit():
            frame = _frame_row(store, int(ref[7:]))
            if frame is None:
                raise BundleError(
                    f"ledger entry {entry_index} records {ref}, which is missing; run envtrust verify"
                )
            record = {"frame": _frame_record(frame)}
            kind_of_bundle = "frame"
            wanted.append(("frame", entry_index))
        elif etype == "registry.point":
            kind_of_bundle = "point"
            wanted.append(("point", entry_index))
        else:
            kind_of_bundle = "entry"
            wanted.append(("entry", entry_index))
    if "frame" in record and record["frame"].get("mn"):
        frame_index = wanted[0][1]
        point_index = _registry_index(store, str(record["frame"]["mn"]), frame_index)
        if point_index is not None:
            wanted.append(("point", point_index))
        elif kind_of_bundle == "reading":
            raise BundleError(f"no registry entry of MN {record['frame']['mn']} before its frame's entry")
    checkpoint = store.latest_checkpoint()
    newest = max(index for _, index in wanted)
    if checkpoint is None or int(checkpoint["size"]) <= newest:
        have = "no signed checkpoint yet" if checkpoint is None else f"the newest covers {checkpoint['size']}"
        raise BundleError(
            f"尚无覆盖该记录的签名检查点 / not covered by a signed checkpoint yet: ledger entry {newest}, "
            f"{have}; try again after the next checkpoint"
        )
    size = int(checkpoint["size"])
    entries = []
    for role, index in wanted:
        stored = store.entry(index)
        if stored is None:
            raise BundleError(f"ledger entry {index} is missing; run envtrust verify")
        entries.append(_entry_obj(role, index, stored[2], store.inclusion_proof(index, size)))
    try:
        note = _cosigned_note(str(checkpoint["note"]), store.cosignatures(size))
    except NoteError as exc:
        raise BundleError(f"the stored checkpoint {size} is malformed: {exc}; run envtrust verify") from None
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind_of_bundle,
        "summary": {},
        "record": record,
        "entries": entries,
        "checkpoint": {"note": note},
        "keys": {"log": log_verifier.vkey(), "witnesses": [w.vkey() for w in witness_verifiers]},
        "generator": f"envtrust {__version__}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        bundle["summary"] = _summary(_parse(bundle))
    except _Malformed as exc:
        raise BundleError(f"the stored record cannot be exported: {exc}") from None
    report = verify_bundle(bundle, log_key=log_verifier)
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.message}" for c in report.failed)
        raise BundleError(f"the bundle does not verify, so it is not exported: {failed}")
    return bundle


def _index_of(store: Store, ref: str) -> int:
    index = store.entry_index(ref)
    if index is None:
        raise BundleError(f"{ref} has no ledger entry; run envtrust verify")
    return int(index)


# --------------------------------------------------------------------------------------------------------
# reading a bundle's structure
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    role: str
    index: int
    data: bytes
    proof: list[bytes]
    obj: dict[str, Any] | None  # the entry as JSON, when it is JSON


@dataclass(slots=True)
class _Parsed:
    kind: str
    summary: Any
    frame: dict[str, Any] | None
    raw: bytes | None
    reading: dict[str, Any] | None
    entries: dict[str, _Entry]
    note: str
    log_vkey: str
    witness_vkeys: list[str]


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise _Malformed(message)


def _parse(bundle: object) -> _Parsed:
    """The structure of a bundle, strictly: every key known, every type right (nothing checked yet)."""
    _require(isinstance(bundle, dict), "a bundle is a JSON object")
    assert isinstance(bundle, dict)
    _require(bundle.get("format") == FORMAT, f"format is {bundle.get('format')!r}, not {FORMAT!r}")
    unknown = sorted(set(bundle) - _TOP_KEYS)
    _require(not unknown, f"unknown keys: {', '.join(map(str, unknown))}")
    kind = bundle.get("kind")
    _require(isinstance(kind, str) and kind in _ROLES, f"kind {kind!r} is not one of {', '.join(_ROLES)}")
    assert isinstance(kind, str)
    for key in ("generator", "created"):
        _require(isinstance(bundle.get(key, ""), str), f"{key} must be a string")
    # record
    record = bundle.get("record")
    _require(isinstance(record, dict), "record must be an object")
    assert isinstance(record, dict)
    allowed = {"frame", "reading"} if kind == "reading" else {"frame"} if kind == "frame" else set()
    _require(
        set(record) == allowed, f"record of a {kind} bundle holds {sorted(allowed)}, not {sorted(record)}"
    )
    frame = record.get("frame")
    raw = None
    if frame is not None:
        _require(isinstance(frame, dict), "record.frame must be an object")
        unknown = sorted(set(frame) - _FRAME_KEYS)
        _require(not unknown, f"record.frame has unknown keys: {', '.join(unknown)}")
        missing = sorted(_FRAME_KEYS - {"raw_text"} - set(frame))
        _require(not missing, f"record.frame lacks {', '.join(missing)}")
        _require(_is_int(frame["id"]), "record.frame.id must be an integer")
        raw = _unb64(frame["raw_base64"], "record.frame.raw_base64")
        _require(isinstance(frame.get("raw_text", ""), str), "record.frame.raw_text must be a string")
    reading = record.get("reading")
    if reading is not None:
        _require(isinstance(reading, dict), "record.reading must be an object")
        _require(
            set(reading) == set(_READING_FIELDS),
            f"record.reading must hold exactly {', '.join(_READING_FIELDS)}",
        )
        for name in ("mn", "kind", "pollutant", "code_raw"):
            _require(isinstance(reading[name], str), f"record.reading.{name} must be a string")
        for name in ("data_time", "frame_id"):
            _require(_is_int(reading[name]), f"record.reading.{name} must be an integer")
        for name in VALUE_COLUMNS:
            value = reading[name]
            _require(
                value is None or (isinstance(value, int | float) and not isinstance(value, bool)),
                f"record.reading.{name} must be a number or null",
            )
        for name in ("flag", "eflag", "extra"):
            _require(reading[name] is None or isinstance(reading[name], str), f"record.reading.{name}: text")
    # entries
    items = bundle.get("entries")
    _require(isinstance(items, list) and bool(items), "entries must be a non-empty list")
    assert isinstance(items, list)
    entries: dict[str, _Entry] = {}
    for i, item in enumerate(items):
        where = f"entries[{i}]"
        _require(isinstance(item, dict), f"{where} must be an object")
        fields = set(item)
        _require(
            fields in ({"role", "index", "entry", "proof"}, {"role", "index", "entry_base64", "proof"}),
            f"{where} must hold role, index, entry (or entry_base64) and proof",
        )
        role = item["role"]
        _require(
            isinstance(role, str) and role not in entries, f"{where}: role {role!r} repeated or not text"
        )
        _require(_is_int(item["index"]) and item["index"] >= 0, f"{where}: index must be an integer >= 0")
        if "entry" in item:
            _require(isinstance(item["entry"], str), f"{where}: entry must be text")
            try:
                data = item["entry"].encode("utf-8")
            except UnicodeEncodeError:
                raise _Malformed(f"{where}: entry is not valid text") from None
        else:
            data = _unb64(item["entry_base64"], f"{where}.entry_base64")
        proof = item["proof"]
        _require(isinstance(proof, list), f"{where}: proof must be a list")
        hashes = [_unb64(h, f"{where}.proof[{j}]") for j, h in enumerate(proof)]
        _require(all(len(h) == merkle.HASH_SIZE for h in hashes), f"{where}: proof hashes must be 32 bytes")
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            obj = None
        entries[role] = _Entry(role, item["index"], data, hashes, obj if isinstance(obj, dict) else None)
    required, optional = _ROLES[kind]
    _require(
        required <= set(entries) <= required | optional,
        f"a {kind} bundle carries entries {sorted(required)}"
        + (f" (and optionally {sorted(optional)})" if optional else "")
        + f", not {sorted(entries)}",
    )
    # checkpoint and keys
    cp = bundle.get("checkpoint")
    _require(isinstance(cp, dict) and set(cp) == {"note"}, "checkpoint must be an object with a note")
    assert isinstance(cp, dict)
    _require(isinstance(cp["note"], str), "checkpoint.note must be text")
    keys = bundle.get("keys")
    _require(isinstance(keys, dict) and set(keys) == {"log", "witnesses"}, "keys must hold log and witnesses")
    assert isinstance(keys, dict)
    _require(isinstance(keys["log"], str), "keys.log must be a verifier key")
    _require(
        isinstance(keys["witnesses"], list) and all(isinstance(k, str) for k in keys["witnesses"]),
        "keys.witnesses must be a list of verifier keys",
    )
    return _Parsed(
        kind=kind,
        summary=bundle.get("summary"),
        frame=frame,
        raw=raw,
        reading=reading,
        entries=entries,
        note=cp["note"],
        log_vkey=keys["log"],
        witness_vkeys=list(keys["witnesses"]),
    )


# --------------------------------------------------------------------------------------------------------
# verifying
# --------------------------------------------------------------------------------------------------------


def verify_bundle(
    bundle: object,
    *,
    log_key: Verifier | None = None,
    witness_keys: Sequence[AnyVerifier] | None = None,
    min_cosignatures: int = 0,
) -> BundleReport:
    """Check a bundle offline with only what it carries and the optional pinned keys; never raises.

    ``log_key`` pins the log's public key (obtained out of band); without it the bundle's own key is used and
    the report says so.  ``witness_keys`` pins the witnesses' keys (default: the bundle's).  Fewer than
    ``min_cosignatures`` verified witness cosignatures is a failure.
    """
    report = BundleReport()
    try:
        p = _parse(bundle)
    except _Malformed as exc:
        report._add("format", False, f"证据包格式错误 / malformed bundle: {exc}")
        return report
    report.kind = p.kind
    report._add("format", True, f"格式正确 / well-formed {FORMAT} ({p.kind})")
    verifier = _guarded(report, "log_key", _check_log_key, report, p, log_key)
    cp = _guarded(report, "checkpoint", _check_checkpoint, report, p, verifier)
    _guarded(report, "inclusion", _check_inclusion, report, p, cp)
    _guarded(report, "record", _check_records, report, p)
    _guarded(report, "cosignatures", _check_cosignatures, report, p, witness_keys, verifier, min_cosignatures)
    _guarded(report, "summary", _check_summary, report, p)
    return report


def _guarded(report: BundleReport, name: str, check: Callable[..., T], *args: Any) -> T | None:
    """Run one stage of the checks; whatever a hostile bundle makes it raise becomes a failed check."""
    try:
        return check(*args)
    except Exception as exc:
        report._add(name, False, f"无法检查 / cannot be checked: {exc.__class__.__name__}: {exc}")
        return None


def _check_log_key(report: BundleReport, p: _Parsed, pinned: Verifier | None) -> Verifier | None:
    try:
        own: Verifier | None = Verifier.from_vkey(p.log_vkey)
    except NoteError as exc:
        own = None
        problem = str(exc)
    use = pinned if pinned is not None else own
    report.log_key_pinned = pinned is not None
    if use is not None:
        report.log_key = use.vkey()
        report.log_key_hash = use.key_hash.hex()
        report.log_key_fingerprint = _fingerprint(use)
    if pinned is None:
        if own is None:
            report._add(
                "log_key", False, f"证据包中的日志公钥无效 / the bundle's log key is invalid: {problem}"
            )
            return None
        report._add(
            "log_key",
            True,
            f"日志公钥取自证据包（未经独立核对）/ log key taken from the bundle (not pinned): {own.name} "
            f"key hash {own.key_hash.hex()}",
        )
        return own
    if own is not None and own != pinned:
        report._add(
            "log_key",
            False,
            f"指定的日志公钥与证据包中的不同 / the pinned log key {pinned.name}+{pinned.key_hash.hex()} differs "
            f"from the bundle's {own.name}+{own.key_hash.hex()}",
        )
    else:
        report._add(
            "log_key",
            True,
            f"使用指定的日志公钥 / using the pinned log key {pinned.name}+{pinned.key_hash.hex()}",
        )
    return pinned


def _check_checkpoint(report: BundleReport, p: _Parsed, verifier: Verifier | None) -> Checkpoint | None:
    cp: Checkpoint | None = None
    if verifier is not None:
        try:
            cp = open_checkpoint(p.note, verifier)
        except NoteError as exc:
            report._add(
                "checkpoint",
                False,
                f"检查点签名验证失败 / the checkpoint's log signature does not verify with "
                f"{verifier.name}+{verifier.key_hash.hex()}: {exc}",
            )
        else:
            report._add(
                "checkpoint",
                True,
                f"检查点签名有效 / checkpoint signed by {verifier.name}: origin {cp.origin}, size {cp.size}",
            )
    else:
        report._add(
            "checkpoint", False, "无可用日志公钥，无法验证检查点 / no usable log key to check the checkpoint"
        )
    if cp is None:  # still check the proofs against the unverified text, to say as much as possible
        try:
            cp = Checkpoint.parse(parse_note(p.note)[0])
        except NoteError:
            return None
    else:
        report.origin, report.tree_size, report.root_hash = cp.origin, cp.size, _b64(cp.root_hash)
    return cp


def _check_inclusion(report: BundleReport, p: _Parsed, cp: Checkpoint | None) -> None:
    for e in p.entries.values():
        report.entries.append({"role": e.role, "index": e.index})
        name = f"inclusion:{e.role}"
        if cp is None:
            report._add(name, False, f"无检查点 / no readable checkpoint to prove entry {e.index} against")
        elif merkle.verify_inclusion(merkle.leaf_hash(e.data), e.index, cp.size, e.proof, cp.root_hash):
            report._add(
                name,
                True,
                f"账本条目 #{e.index} 包含在检查点中 / ledger entry {e.index} is in the tree of size {cp.size}",
            )
        else:
            report._add(
                name,
                False,
                f"包含证明不成立 / the inclusion proof of ledger entry {e.index} does not lead to the checkpoint's "
                f"root (size {cp.size}): the entry, its index or the proof was altered",
            )


def _check_records(report: BundleReport, p: _Parsed) -> None:
    point_entry = p.entries.get("point")
    point: Point | None = None
    if point_entry is not None:
        point = _check_point_entry(report, p, point_entry)
    if p.kind == "entry":
        e = p.entries["entry"]
        ok = e.obj is not None and isinstance(e.obj.get("type"), str)
        report._add(
            "record:entry",
            ok,
            "账本条目内容可读 / the entry is a typed JSON object"
            if ok
            else "账本条目不是带类型的 JSON / the entry is not a typed JSON object",
        )
    if p.frame is not None and p.raw is not None:
        _check_frame(report, p)
    if p.reading is not None and p.frame is not None and p.raw is not None:
        _check_reading(report, p, point)


def _check_point_entry(report: BundleReport, p: _Parsed, e: _Entry) -> Point | None:
    obj = e.obj
    state = obj.get("point") if obj is not None else None
    if obj is None or obj.get("type") != "registry.point" or not isinstance(state, dict):
        report._add("record:point", False, "登记条目格式错误 / the point entry is not a registry.point entry")
        return None
    try:
        point = _point_of(state)
    except (KeyError, TypeError, ValueError) as exc:
        report._add("record:point", False, f"登记条目不完整 / the registry entry is incomplete: {exc}")
        return None
    if _zone(point.timezone)[0] is None:
        report._add(
            "record:point", False, f"未知时区 / unknown time zone {point.timezone!r} in the registry entry"
        )
        return None
    if p.frame is not None:
        frame_entry_ = p.entries["frame"]
        if p.frame.get("mn") != point.mn:
            report._add(
                "record:point",
                False,
                f"登记条目的 MN {point.mn} 与数据帧的 MN {p.frame.get('mn')} 不符 / the registry entry is for "
                f"another point than the frame",
            )
            return None
        if e.index >= frame_entry_.index:
            report._add(
                "record:point",
                False,
                f"登记条目 #{e.index} 晚于数据帧条目 #{frame_entry_.index} / the registry entry is not earlier "
                "than the frame's entry",
            )
            return None
    report._add(
        "record:point",
        True,
        f"监测点登记：{point.enterprise.name}「{point.name}」/ registry entry of point {point.mn} "
        f"({point.timezone})",
    )
    return point


def _check_frame(report: BundleReport, p: _Parsed) -> None:
    frame, raw = p.frame, p.raw
    assert frame is not None and raw is not None
    e = p.entries["frame"]
    text = frame.get("raw_text")
    if text is not None:
        try:
            same = raw.decode("utf-8") == text
        except UnicodeDecodeError:
            same = False
        if not same:
            report._add(
                "record:frame",
                False,
                "raw_text 与原始字节不符 / raw_text differs from the raw bytes (raw_base64)",
            )
            return
    try:
        expected = frame_entry(int(frame["id"]), raw, frame)
    except (KeyError, TypeError, ValueError) as exc:
        report._add(
            "record:frame", False, f"数据帧记录无法重算条目 / cannot recompute the frame's entry: {exc}"
        )
        return
    if expected == e.data:
        report._add(
            "record:frame",
            True,
            f"数据帧 #{frame['id']} 的字段与原始字节与账本条目一致 / frame {frame['id']}: fields and raw bytes "
            f"(SHA-256) match ledger entry {e.index}",
        )
        return
    diff = ["entry"]
    if e.obj is not None:
        mine = json.loads(expected)
        diff = sorted(k for k in set(mine) | set(e.obj) if mine.get(k) != e.obj.get(k)) or ["encoding"]
    report._add(
        "record:frame",
        False,
        f"数据帧记录与账本条目不符 / the frame record differs from ledger entry {e.index} in {', '.join(diff)}",
    )


def _same_number(a: object, b: object) -> bool:
    """Exactly the same number (JSON keeps every bit of a float), or both absent."""
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, int | float) and isinstance(b, int | float) and float(a) == float(b)


def _check_reading(report: BundleReport, p: _Parsed, point: Point | None) -> None:
    r, frame, raw = p.reading, p.frame, p.raw
    assert r is not None and frame is not None and raw is not None
    name = "record:reading"
    key = (r["mn"], r["kind"], r["pollutant"], r["data_time"])
    if r["frame_id"] != frame["id"]:
        report._add(
            name,
            False,
            f"监测数据不属于该数据帧 / the reading names frame {r['frame_id']}, not {frame['id']}",
        )
        return
    if frame.get("status") != "ok":
        report._add(name, False, f"数据帧状态为 {frame.get('status')} / the frame's status is not ok")
        return
    if point is None:
        report._add(
            name, False, "缺少监测点登记，无法重算 / no usable registry entry to re-derive the reading"
        )
        return
    if r["mn"] != point.mn:
        report._add(name, False, f"监测数据的 MN {r['mn']} 与监测点不符 / the reading is for another point")
        return
    if frame.get("format") == "csv":
        _check_csv_reading(report, p, point)
        return
    parsed = _parse_hj212(raw) if frame.get("format") == "hj212" else None
    if parsed is None:
        report._add(name, False, "原始数据帧无法解析 / the raw frame does not parse as HJ 212")
        return
    derived, _ = readings_of(parsed, point)
    match = next((d for d in derived if (d.mn, d.kind, d.pollutant, d.data_time) == key), None)
    if match is None:
        report._add(
            name,
            False,
            f"原始数据帧中没有该监测数据 / the raw frame does not carry reading {', '.join(map(str, key))}",
        )
        return
    diff = [c for c in VALUE_COLUMNS if not _same_number(r[c], match.values.get(c))]
    diff += [
        c
        for c, v in (
            ("flag", match.flag),
            ("eflag", match.eflag),
            ("extra", match.extra),
            ("code_raw", match.code_raw),
        )
        if r[c] != v
    ]
    if diff:
        report._add(
            name,
            False,
            f"监测数据与原始数据帧不符 / the reading differs from what its raw frame carries in {', '.join(diff)}",
        )
        return
    report._add(
        name,
        True,
        f"监测数据由原始 HJ 212 数据帧重新解析得到 / the reading was re-derived from the raw HJ 212 frame "
        f"{frame['id']}: {r['pollutant']} {r['kind']} values, flags and time agree",
    )


def _check_csv_reading(report: BundleReport, p: _Parsed, point: Point) -> None:
    """A CSV line's column order is not kept (the file's header is not), so check that the line carries the
    MN, pollutant, time, value and flag of the reading."""
    r, raw = p.reading, p.raw
    assert r is not None and raw is not None
    try:
        cells = [c.strip() for c in next(csv.reader(io.StringIO(raw.decode("utf-8"))), [])]
    except (UnicodeDecodeError, csv.Error):
        cells = []
    column = "rtd" if r["kind"] == "rtd" else "avg"
    numbers = []
    for c in cells:
        try:
            numbers.append(float(c))
        except ValueError:
            continue
    ok = (
        r["mn"] in cells
        and r["pollutant"] in cells
        and any(parse_iso_time(c, point.timezone) == r["data_time"] for c in cells if not c.isdigit())
        and r[column] is not None
        and any(_same_number(r[column], n) for n in numbers)
        and (r["flag"] is None or r["flag"] in cells)
        and all(r[c] is None for c in VALUE_COLUMNS if c != column)
    )
    report._add(
        "record:reading",
        ok,
        "CSV 记录包含该监测数据（列顺序未保存，按内容核对）/ the CSV line carries this reading's MN, pollutant, "
        "time, value and flag (its column order is not kept)"
        if ok
        else "CSV 记录与监测数据不符 / the CSV line does not carry this reading",
    )


def _check_cosignatures(
    report: BundleReport,
    p: _Parsed,
    pinned: Sequence[AnyVerifier] | None,
    log: Verifier | None,
    minimum: int,
) -> None:
    keys: list[CosignatureVerifier] = []
    report.witness_keys_pinned = pinned is not None
    if pinned is None:
        for i, text in enumerate(p.witness_vkeys):
            try:
                v = parse_vkey(text)
            except NoteError as exc:
                report._add(
                    "witness_keys", False, f"证据包中的见证公钥无效 / witness key {i} is invalid: {exc}"
                )
                continue
            keys.append(v.cosignature_verifier() if isinstance(v, Verifier) else v)
    else:
        keys = [v.cosignature_verifier() if isinstance(v, Verifier) else v for v in pinned]
    unique: dict[tuple[str, bytes], CosignatureVerifier] = {}
    for k in keys:
        unique.setdefault((k.name, k.key_hash), k)
    for k in unique.values():
        report.witness_keys.append({"name": k.name, "key_hash": k.key_hash.hex(), "vkey": k.vkey()})
    try:
        _, signatures = parse_note(p.note)
    except NoteError:
        signatures = []
    verified = 0
    for k in unique.values():
        mine = [s for s in signatures if (s.name, s.key_hash) == (k.name, k.key_hash)]
        if not mine:
            report.notes.append(
                f"见证方 {k.name} 未对该检查点联署 / witness {k.name} has no cosignature here"
            )
            continue
        try:
            timestamp = verify_cosignature(p.note, k)
        except NoteError as exc:
            report._add(
                f"cosignature:{k.name}",
                False,
                f"见证联署无效 / the cosignature of {k.name} does not verify: {exc}",
            )
            continue
        verified += 1
        when = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
        report.cosignatures.append({"name": k.name, "key_hash": k.key_hash.hex(), "timestamp": timestamp})
        report._add(
            f"cosignature:{k.name}", True, f"见证方 {k.name} 联署有效 / cosigned by {k.name} at {when}"
        )
    known = set(unique)
    if log is not None:
        known.add((log.name, log.key_hash))
    for s in signatures:
        if (s.name, s.key_hash) not in known:
            report.notes.append(
                f"未知密钥的签名行未核验 / signature line of unknown key {s.name}+{s.key_hash.hex()} not checked"
            )
    report._add(
        "cosignatures",
        verified >= minimum,
        f"{verified} 个见证联署有效（要求至少 {minimum} 个）/ {verified} witness cosignature(s) verified, "
        f"{minimum} required",
    )


def _check_summary(report: BundleReport, p: _Parsed) -> None:
    try:
        mine = _summary(p)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report._add("summary", False, f"无法生成摘要 / cannot summarise the record: {exc}")
        return
    report.summary = mine
    if p.summary == mine:
        report._add("summary", True, "摘要与记录一致 / the summary says what the record says")
    else:
        report._add(
            "summary",
            False,
            "摘要与记录不符（摘要被改动过）/ the summary differs from the record (it was altered); "
            "the recomputed summary is shown instead",
        )


# --------------------------------------------------------------------------------------------------------
# the summary (computed from the bundle alone, so that the verifier can recompute it)
# --------------------------------------------------------------------------------------------------------

_KIND_TEXT: Final = {
    "rtd": ("实时数据", "real-time"),
    "minute": ("分钟数据", "minute"),
    "hour": ("小时数据", "hourly"),
    "day": ("日数据", "daily"),
}
_STATUS_TEXT: Final = {
    "ok": ("已接收", "accepted"),
    "duplicate": ("重复数据", "duplicate"),
    "quarantine": ("已隔离", "quarantined"),
}
_MAX_ITEMS: Final = 20


def _who(state: Mapping[str, Any] | None, mn: object) -> tuple[str, str]:
    if state is None:
        if mn:
            return f"未登记的 MN {mn}", f"unregistered MN {mn}"
        return "无 MN", "no MN"
    ent = (state.get("enterprise") or {}).get("name", "")
    return (
        f"{ent}「{state.get('name', '')}」（MN {state.get('mn')}）",
        f"{ent}, {state.get('name', '')} (MN {state.get('mn')})",
    )


def _point_state(p: _Parsed) -> Mapping[str, Any] | None:
    e = p.entries.get("point")
    if e is None or e.obj is None or not isinstance(e.obj.get("point"), dict):
        return None
    state: dict[str, Any] = e.obj["point"]
    return state


def _summary(p: _Parsed) -> dict[str, str]:
    state = _point_state(p)
    zone, zone_name = _zone(state.get("timezone") if state is not None else None)
    if p.kind == "reading":
        return _reading_summary(p, state, zone, zone_name)
    if p.kind == "frame":
        return _frame_summary(p, state, zone, zone_name)
    if p.kind == "point":
        return _point_summary(p, state, zone, zone_name)
    e = p.entries["entry"]
    etype = e.obj.get("type") if e.obj is not None else None
    return {
        "zh": f"账本条目 #{e.index}，类型 {etype}。",
        "en": f"Ledger entry {e.index} of type {etype}.",
    }


def _reading_summary(
    p: _Parsed, state: Mapping[str, Any] | None, zone: ZoneInfo | None, zone_name: str
) -> dict[str, str]:
    r, frame = p.reading, p.frame
    assert r is not None and frame is not None
    who_zh, who_en = _who(state, r["mn"])
    info = pollutant(r["pollutant"])
    name_zh = f"{info.zh}（{r['pollutant']}）" if info else r["pollutant"]
    name_en = f"{info.en} ({r['pollutant']})" if info else r["pollutant"]
    kind_zh, kind_en = _KIND_TEXT.get(r["kind"], (r["kind"], r["kind"]))
    values = []
    for c in VALUE_COLUMNS:
        if r[c] is not None:
            unit = (info.emission_unit if c == "cou" else info.unit) if info else None
            values.append(f"{_COLUMN_SUFFIX[c]}={_num(r[c])}" + (f" {unit}" if unit else ""))
    shown = "; ".join(values) or "—"
    when = _local(r["data_time"], zone)
    flag = r["flag"]
    known_flag = DATA_FLAGS.get(flag) if flag else None
    flag_zh = f"，数据标记 {flag}" + (f"（{known_flag.zh}）" if known_flag else "") if flag else ""
    flag_en = f", flag {flag}" + (f" ({known_flag.en})" if known_flag else "") if flag else ""
    idx = p.entries["frame"].index
    return {
        "zh": f"监测数据：{who_zh}，{name_zh}{kind_zh}，数据时间 {when}（{zone_name}），{shown}{flag_zh}。"
        f"来源：数据帧 #{frame['id']}（账本条目 #{idx}）。",
        "en": f"Monitoring reading: {who_en}, {name_en}, {kind_en} data for {when} ({zone_name}): {shown}"
        f"{flag_en}. Source: frame {frame['id']} (ledger entry {idx}).",
    }


def _frame_summary(
    p: _Parsed, state: Mapping[str, Any] | None, zone: ZoneInfo | None, zone_name: str
) -> dict[str, str]:
    frame, raw = p.frame, p.raw
    assert frame is not None and raw is not None
    who_zh, who_en = _who(state, frame.get("mn"))
    received = _local(int(frame["received_us"]) // 1_000_000, zone)
    status_zh, status_en = _STATUS_TEXT.get(
        str(frame["status"]), (str(frame["status"]), str(frame["status"]))
    )
    if frame.get("reason"):
        status_zh += f"（{frame['reason']}）"
        status_en += f" ({frame['reason']})"
    idx = p.entries["frame"].index
    fmt = frame.get("format")
    if fmt == "hj212":
        what_zh, what_en = f"HJ 212 数据帧 #{frame['id']}", f"HJ 212 frame {frame['id']}"
    elif fmt == "csv":
        what_zh, what_en = f"CSV 记录 #{frame['id']}", f"CSV record {frame['id']}"
    else:
        what_zh, what_en = f"无法识别的数据 #{frame['id']}", f"unrecognised data {frame['id']}"
    content_zh = content_en = ""
    parsed = _parse_hj212(raw) if fmt == "hj212" else None
    if parsed is not None:
        cn = parsed.cn or ""
        cmd = command(cn, int(parsed.version) if parsed.version is not None else None)
        kind = DATA_COMMANDS.get(cn)
        cmd_zh = cmd.zh if cmd else (_KIND_TEXT[kind][0] if kind else "")
        cmd_en = cmd.en if cmd else (_KIND_TEXT[kind][1] if kind else "")
        content_zh = f"命令 CN {cn}" + (f"（{cmd_zh}）" if cmd_zh else "")
        content_en = f"Command CN {cn}" + (f" ({cmd_en})" if cmd_en else "")
        if parsed.data_time:
            content_zh += f"，数据时间 {parsed.data_time}（当地时间）"
            content_en += f", DataTime {parsed.data_time} (local)"
        items = [
            f"{i.code}" + "".join(f" {k}={v}" for k, v in i.values.items()) for i in parsed.items[:_MAX_ITEMS]
        ]
        if len(parsed.items) > _MAX_ITEMS:
            items.append(f"… +{len(parsed.items) - _MAX_ITEMS}")
        if items:
            content_zh += "；内容：" + "；".join(items)
            content_en += "; values: " + "; ".join(items)
        content_zh, content_en = f"{content_zh}。", f"{content_en}."
    return {
        "zh": f"{what_zh}：{who_zh}，接收时间 {received}（{zone_name}），来自 {frame.get('peer')}，"
        f"状态：{status_zh}；账本条目 #{idx}。{content_zh}",
        "en": f"{what_en}: {who_en}, received {received} ({zone_name}) from {frame.get('peer')}, "
        f"status: {status_en}; ledger entry {idx}. {content_en}".rstrip(),
    }


def _point_summary(
    p: _Parsed, state: Mapping[str, Any] | None, zone: ZoneInfo | None, zone_name: str
) -> dict[str, str]:
    e = p.entries["point"]
    if state is None:
        return {"zh": f"登记条目 #{e.index}（格式不符）。", "en": f"Registry entry {e.index} (malformed)."}
    who_zh, who_en = _who(state, state.get("mn"))
    action = e.obj.get("action") if e.obj is not None else None
    action_zh = {"added": "新增", "changed": "变更"}.get(str(action), str(action))
    updated = state.get("updated_us")
    when = _local(updated // 1_000_000, zone) if isinstance(updated, int) else "?"
    limits = state.get("limits") or {}
    shown = "；".join(f"{k}={_num(v)}" for k, v in sorted(limits.items())) if isinstance(limits, dict) else ""
    return {
        "zh": f"监测点登记（{action_zh}）：{who_zh}，时间 {when}（{zone_name}）；账本条目 #{e.index}。"
        + (f"限值：{shown}。" if shown else ""),
        "en": f"Registry entry ({action}) of {who_en} at {when} ({zone_name}); ledger entry {e.index}."
        + (f" Limits: {shown.replace('；', '; ')}." if shown else ""),
    }


# --------------------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------------------


def dumps(bundle: Mapping[str, Any]) -> str:
    """The bundle as pretty JSON text (UTF-8 characters kept), ending in a newline."""
    return json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"


def write_bundle(bundle: Mapping[str, Any], path: str | Path) -> None:
    """Write a bundle as pretty UTF-8 JSON; :class:`BundleError` if the file cannot be written."""
    p = Path(path)
    try:
        p.write_text(dumps(bundle), encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"{p}: cannot write: {exc.strerror or exc}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str | bytes, where: str = "bundle") -> dict[str, Any]:
    """Parse bundle JSON text strictly (no duplicate keys, no NaN); :class:`BundleError` if it is not one."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BundleError(f"{where}: not UTF-8 text (byte {exc.start}); is it a proof bundle?") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); is it a proof bundle?"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{where}: not valid bundle JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{where}: a proof bundle is a JSON object, not {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise BundleError(
            f"{where}: not an envtrust proof bundle (format {data.get('format')!r}, expected {FORMAT!r})"
        )
    return data


def read_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle file; :class:`BundleError` with a clear message if it cannot be read or is not one."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{p}: larger than {MAX_BUNDLE_BYTES} bytes; not a proof bundle")
    return loads(data, str(p))
