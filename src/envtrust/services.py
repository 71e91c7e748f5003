"""Use cases: the only layer that combines the store, the codec and (later) the ledger and checks.

Every source — the TCP gateway, ``envtrust import`` and the simulator through the gateway — ends in
:meth:`Ingest.prepare` (decide what a received record is and what reply it earns) and
:meth:`Ingest.record` (store it durably, with its readings and its log entry, in one transaction).
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from . import hj212
from .hj212.codes import DATA_COMMANDS, DATA_FLAGS
from .ledger.note import Checkpoint, Signer, sign_checkpoint
from .registry import Point
from .store import FrameRow, ReadingRow, Store, WriteResult
from .store.schema import SUFFIX_COLUMNS

__all__ = [
    "CSV_KINDS",
    "Checkpointer",
    "Ingest",
    "Prepared",
    "amend_reading",
    "csv_reading",
    "parse_iso_time",
    "qn_epoch",
    "reading_history",
    "readings_of",
    "to_utc_epoch",
]

_ZONES: dict[str, ZoneInfo] = {}
CSV_KINDS = {
    "rtd": "rtd",
    "minute": "minute",
    "hour": "hour",
    "day": "day",
    "2011": "rtd",
    "2051": "minute",
    "2061": "hour",
    "2031": "day",
}
_FLAG_LETTERS = frozenset(DATA_FLAGS)


def to_utc_epoch(local: datetime, zone: str) -> int:
    """A naive local time in ``zone`` → UTC epoch seconds."""
    tz = _ZONES.get(zone)
    if tz is None:
        tz = _ZONES[zone] = ZoneInfo(zone)
    return int(local.replace(tzinfo=tz).timestamp())


def qn_epoch(qn: str | None, zone: str) -> float | None:
    """When the logger says it sent a frame (its QN, local time to the millisecond) → UTC epoch seconds."""
    if not qn:
        return None
    local = hj212.parse_data_time(qn[:17] if len(qn) >= 17 else qn[:14])
    if local is None:
        return None
    return to_utc_epoch(local.replace(microsecond=0), zone) + local.microsecond / 1e6


def parse_iso_time(text: str, zone: str) -> int | None:
    """ISO 8601 time → UTC epoch seconds; a time without an offset is read in ``zone``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        return to_utc_epoch(value, zone)
    return int(value.timestamp())


_NUMERIC = tuple(SUFFIX_COLUMNS.items())


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to read the readings of every frame whose CP has the same keys in the same order.

    Loggers send the same layout frame after frame, so the layout is analysed once: ``numbers`` picks every
    numeric value text out of the CP values in one C-level call, and ``items`` says for each factor which
    columns its numbers fill and where its Flag/EFlag are (the index of a trailing None when absent).
    """

    numbers: Callable[[list[str | None]], tuple[str, ...]]
    count: int
    items: tuple[tuple[str, str, tuple[str, ...], int, int, int, int], ...]


_PLANS: dict[tuple[object, ...], _Plan | None] = {}
_PLAN_LIMIT = 4096


def _plan(frame: hj212.Frame) -> _Plan | None:
    keys = tuple(frame.data)
    cache_key = (keys, frame.version, frame.fields.get("ST"))
    plan = _PLANS.get(cache_key, _MISSING)
    if plan is not _MISSING:
        return plan  # type: ignore[return-value]
    built = _build_plan(frame, keys)
    if len(_PLANS) >= _PLAN_LIMIT:
        _PLANS.clear()
    _PLANS[cache_key] = built
    return built


_MISSING = object()


def _build_plan(frame: hj212.Frame, keys: tuple[str, ...]) -> _Plan | None:
    position = {k: i for i, k in enumerate(keys)}
    absent = len(keys)  # the index of the None appended to the values
    picks: list[int] = []
    items = []
    for item in frame.items:
        columns = []
        start = len(picks)
        for suffix in item.values:
            col = SUFFIX_COLUMNS.get(suffix)
            if col is not None:
                columns.append(col)
                picks.append(position[f"{item.code_raw}-{suffix}"])
            elif suffix not in ("Flag", "EFlag"):
                return None  # other suffixes go to `extra`: the general path
        flag_at = position.get(f"{item.code_raw}-Flag", absent)
        eflag_at = position.get(f"{item.code_raw}-EFlag", absent)
        items.append((item.code, item.code_raw, tuple(columns), start, len(picks), flag_at, eflag_at))
    if not picks:
        return None
    getter = operator.itemgetter(*picks)
    numbers = getter if len(picks) > 1 else (lambda texts: (getter(texts),))
    return _Plan(numbers=numbers, count=len(picks), items=tuple(items))


def _item_values(
    item: hj212.Item, notes: list[str]
) -> tuple[dict[str, float | None], str | None, str | None, str | None]:
    """Value columns, Flag, EFlag and the JSON of every other suffix of one item (the general path)."""
    values: dict[str, float | None] = {}
    extra: dict[str, str] = {}
    flag = eflag = None
    for suffix, text in item.values.items():
        col = SUFFIX_COLUMNS.get(suffix)
        if col is not None:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number):  # NaN and infinities are kept as sent, like any other non-number
                values[col] = number
                continue
            notes.append(f"{item.code_raw}-{suffix}={text!r} is not a number")
        if suffix == "Flag":
            flag = text
        elif suffix == "EFlag":
            eflag = text
        else:
            extra[suffix] = text
    extra_text = json.dumps(extra, ensure_ascii=False, separators=(",", ":")) if extra else None
    return values, flag, eflag, extra_text


def readings_of(frame: hj212.Frame, point: Point) -> tuple[list[ReadingRow], list[str]]:
    """The reading rows a data frame carries (2011/2051/2061/2031), and notes on what could not be used.

    Every suffix is kept: the numeric ones in their columns, ``Flag``/``EFlag`` as text, everything else
    (``SampleTime``, ``Info``, vendor suffixes, values that are not numbers) in ``extra`` as sent.
    """
    kind = DATA_COMMANDS.get(frame.cn or "")
    if kind is None:
        return [], []
    notes: list[str] = []
    dt_text = frame.data_time
    local = hj212.parse_data_time(dt_text) if dt_text else None
    if local is None:
        return [], [f"DataTime {dt_text!r} is not a time; no readings stored"]
    data_time = to_utc_epoch(local, point.timezone)
    plan = _plan(frame)
    if plan is not None:
        texts = [*frame.data.values(), None]
        try:
            numbers = tuple(map(float, plan.numbers(texts)))
        except (TypeError, ValueError):
            numbers = ()
        if len(numbers) == plan.count and all(map(math.isfinite, numbers)):
            rows = []
            for code, code_raw, columns, start, end, flag_at, eflag_at in plan.items:
                rows.append(
                    ReadingRow(
                        mn=point.mn,
                        kind=kind,
                        pollutant=code,
                        data_time=data_time,
                        code_raw=code_raw,
                        values=dict(zip(columns, numbers[start:end], strict=True)),
                        flag=texts[flag_at],
                        eflag=texts[eflag_at],
                    )
                )
            return rows, notes
    # the general path: unusual suffixes, values that are not numbers, text that needs escaping
    rows = []
    for item in frame.items:
        values, flag, eflag, extra_text = _item_values(item, notes)
        rows.append(
            ReadingRow(
                mn=point.mn,
                kind=kind,
                pollutant=item.code,
                data_time=data_time,
                code_raw=item.code_raw,
                values=values,
                flag=flag,
                eflag=eflag,
                extra=extra_text,
            )
        )
    return rows, notes


def csv_reading(
    cells: Mapping[str, str], points: Mapping[str, Point], default_kind: str | None = "hour"
) -> ReadingRow | tuple[str, str]:
    """One CSV row (``mn,pollutant,time,value,flag[,kind]``) → its reading, or ``(error code, reason)``.

    Without a ``kind`` cell the reading gets ``default_kind``; ``None`` leaves the kind empty for the caller to
    decide (``envtrust check`` judges it from the cadence of the file).
    """
    missing = [k for k in ("mn", "pollutant", "time", "value") if not cells.get(k)]
    if missing:
        return "bad_csv", f"missing {', '.join(missing)}"
    mn = cells["mn"]
    point = points.get(mn)
    if point is None:
        return "unknown_mn", f"MN {mn} is not registered"
    kind_text = cells.get("kind", "").lower() or default_kind
    kind = CSV_KINDS.get(kind_text) if kind_text is not None else ""
    if kind is None:
        return "bad_csv", f"kind {cells['kind']!r} is not one of rtd, minute, hour, day"
    when = parse_iso_time(cells["time"], point.timezone)
    if when is None:
        return "bad_csv", f"time {cells['time']!r} is not ISO 8601"
    try:
        value = float(cells["value"])
    except ValueError:
        return "bad_csv", f"value {cells['value']!r} is not a number"
    if value != value or value in (float("inf"), float("-inf")):
        return "bad_csv", f"value {cells['value']!r} is not a finite number"
    flag = cells.get("flag") or None
    if flag is not None and flag not in _FLAG_LETTERS:
        return "bad_csv", f"flag {flag!r} is not an HJ 212 data flag (N F M S D C T B)"
    column = "rtd" if kind == "rtd" else "avg"
    return ReadingRow(mn, kind, cells["pollutant"], when, cells["pollutant"], {column: value}, flag=flag)


@dataclass(slots=True)
class Prepared:
    """A received record with its verdict, the rows to store, and the reply to send once they are committed."""

    row: FrameRow
    readings: list[ReadingRow] = field(default_factory=list)
    reply: bytes | None = None
    event: hj212.Event | None = None


class Ingest:
    """The ingest use case over one store; thread-safe registry cache."""

    def __init__(self, store: Store, *, max_segment: int = hj212.MAX_SEGMENT) -> None:
        self.store = store
        self.max_segment = max_segment
        self._lock = threading.Lock()
        self._points: dict[str, Point] = {}
        self._modbus: frozenset[str] = frozenset()
        self.reload_registry()

    # ------------------------------------------------------------------ registry
    def reload_registry(self) -> None:
        points = {p.mn: p for p in self.store.points()}
        with self._lock:
            self._points = points
            self._modbus = frozenset(mn for mn, p in points.items() if p.crc_compat == "modbus")

    def load_registry(self, points: Sequence[Point]) -> dict[str, int]:
        counts = self.store.load_registry(points)
        self.reload_registry()
        return counts

    def point(self, mn: str) -> Point | None:
        return self._points.get(mn)

    def points(self) -> dict[str, Point]:
        """The registered points by MN (a snapshot of the cache)."""
        return self._points

    @property
    def modbus_mns(self) -> frozenset[str]:
        """MNs whose loggers may send the Modbus CRC variant (registry ``crc_compat = "modbus"``)."""
        return self._modbus

    def decoder(self) -> hj212.Decoder:
        return hj212.Decoder(max_segment=self.max_segment, modbus_crc=_LiveSet(self))

    # ------------------------------------------------------------------ verdicts
    def prepare(
        self, event: hj212.Event, *, peer: str, origin: str = "tcp", received_us: int | None = None
    ) -> Prepared:
        """Decide what a decoded event is: accepted frame (with readings and reply) or quarantine (with refusal)."""
        now = received_us if received_us is not None else time.time_ns() // 1000
        if isinstance(event, hj212.Garbage):
            row = FrameRow(
                now,
                peer,
                origin,
                "garbage",
                event.raw,
                hashlib.sha256(event.raw).digest(),
                status="quarantine",
                error_code="garbage",
                reason=event.reason,
                skip_if_known=origin == "import",
            )
            return Prepared(row, event=event)
        if isinstance(event, hj212.FrameError):
            return self._quarantine(event, peer, origin, now)
        frame = event
        mn = frame.mn or ""
        point = self._points.get(mn)
        if point is None:
            err = hj212.FrameError(
                frame.raw,
                "unknown_mn",
                f"MN {mn} is not registered",
                frame.fields,
                hj212.QnRtn.MN_ERROR,
                crc_ok=frame.crc_ok,
            )
            return self._quarantine(err, peer, origin, now, frame)
        if point.pw is not None and frame.pw != point.pw:
            err = hj212.FrameError(
                frame.raw,
                "bad_pw",
                f"wrong PW for MN {mn}",
                frame.fields,
                hj212.QnRtn.PW_ERROR,
                crc_ok=frame.crc_ok,
            )
            return self._quarantine(err, peer, origin, now, frame)
        readings, notes = readings_of(frame, point)
        warnings = list(frame.warnings) + notes
        row = FrameRow(
            received_us=now,
            peer=peer,
            origin=origin,
            format="hj212",
            raw=frame.raw,
            digest=hashlib.sha256(frame.segment).digest(),
            mn=mn,
            cn=frame.cn,
            qn=frame.qn,
            status="ok",
            version=frame.version.label if frame.version is not None else None,
            crc_ok=frame.crc_ok,
            crc_variant=frame.crc_variant,
            warnings="; ".join(warnings) if warnings else None,
            skip_if_known=origin == "import",
        )
        return Prepared(row, readings, hj212.reply_for(frame), frame)

    def _quarantine(
        self, err: hj212.FrameError, peer: str, origin: str, now: int, frame: hj212.Frame | None = None
    ) -> Prepared:
        segment = frame.segment if frame is not None else err.raw
        row = FrameRow(
            received_us=now,
            peer=peer,
            origin=origin,
            format="hj212",
            raw=err.raw,
            digest=hashlib.sha256(segment).digest(),
            mn=err.fields.get("MN"),
            cn=err.fields.get("CN"),
            qn=err.fields.get("QN"),
            status="quarantine",
            error_code=err.code,
            reason=err.reason,
            version=frame.version.label if frame is not None and frame.version is not None else None,
            crc_ok=err.crc_ok,
            crc_variant=frame.crc_variant if frame is not None else None,
            warnings="; ".join(frame.warnings) if frame is not None and frame.warnings else None,
            skip_if_known=origin == "import",
        )
        return Prepared(row, reply=hj212.error_reply(err), event=err)

    def prepare_csv(self, row: FrameRow, cells: dict[str, str]) -> Prepared:
        """Check one CSV row (``mn,pollutant,time,value,flag[,kind]``) against the registry; one reading or quarantine."""
        row.received_us = time.time_ns() // 1000
        reading = csv_reading(cells, self._points)
        if isinstance(reading, tuple):
            row.status, row.error_code, row.reason = "quarantine", *reading
            return Prepared(row)
        row.mn = reading.mn
        return Prepared(row, [reading])

    # ------------------------------------------------------------------ the one write path
    def record(self, batch: Sequence[Prepared]) -> list[WriteResult]:
        """Store a batch durably in one transaction (frames, readings, log entries) and return per-record results.

        This is the one function through which every received record is kept and appended to the log.
        """
        return self.store.write([(p.row, p.readings) for p in batch])


class _LiveSet:
    """A container view of the current Modbus-compatible MNs, so decoders see registry reloads."""

    def __init__(self, ingest: Ingest) -> None:
        self._ingest = ingest

    def __contains__(self, mn: object) -> bool:
        return mn in self._ingest.modbus_mns


class Checkpointer:
    """Signs checkpoints of the ledger (C2SP tlog-checkpoint as a signed note) whenever it has grown."""

    def __init__(self, store: Store, signer: Signer, origin: str | None = None) -> None:
        self.store = store
        self.signer = signer
        self.origin = origin or signer.name

    def checkpoint(self) -> Checkpoint | None:
        """Sign and keep a checkpoint of the current ledger if it grew since the last one; return it."""
        size = self.store.ledger_size()
        latest = self.store.latest_checkpoint()
        if latest is not None and latest["size"] >= size:
            return None
        cp = Checkpoint(self.origin, size, self.store.root_at(size))
        note = sign_checkpoint(cp, self.signer)
        return cp if self.store.save_checkpoint(size, cp.root_hash, note) else None


AMENDABLE = (*SUFFIX_COLUMNS.values(), "flag", "eflag")


def amend_reading(
    store: Store,
    *,
    mn: str,
    kind: str,
    pollutant: str,
    data_time: int,
    changes: dict[str, object],
    who: str,
    why: str,
) -> tuple[int, int]:
    """Correct a reading without overwriting it: an amendment row and its ledger entry, in one transaction.

    ``changes`` maps value columns (avg, rtd, min, max, cou, zs_*) to numbers and flag/eflag to text.  Returns
    (amendment id, ledger index).  Raises ValueError with a clear message on a bad request.
    """
    if not who.strip() or not why.strip():
        raise ValueError("an amendment needs who made it and why")
    if not changes:
        raise ValueError("nothing to change")
    clean: dict[str, object] = {}
    for key, value in changes.items():
        if key not in AMENDABLE:
            raise ValueError(f"{key} cannot be amended; one of: {', '.join(AMENDABLE)}")
        if key in ("flag", "eflag"):
            if not isinstance(value, str) or (key == "flag" and value not in DATA_FLAGS):
                raise ValueError(f"{key} must be an HJ 212 data flag (N F M S D C T B), got {value!r}")
            clean[key] = value
        else:
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"{key} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise ValueError(f"{key} must be a finite number, got {value!r}")
            clean[key] = number
    original = store.reading_at(mn, kind, pollutant, data_time)
    if original is None:
        raise ValueError(f"no {kind} reading of {pollutant} for {mn} at {data_time}")
    return store.append_state(
        "amendments",
        {
            "mn": mn,
            "kind": kind,
            "pollutant": pollutant,
            "data_time": data_time,
            "frame_id": original["frame_id"],
            "changes": json.dumps(clean, sort_keys=True),
            "who": who.strip(),
            "why": why.strip(),
            "at_us": time.time_ns() // 1000,
        },
    )


def reading_history(
    store: Store, mn: str, kind: str, pollutant: str, data_time: int
) -> dict[str, object] | None:
    """A reading as received, every amendment in order, and its current values (the original overlaid)."""
    original = store.reading_at(mn, kind, pollutant, data_time)
    if original is None:
        return None
    amendments = store.amendments_of(mn, kind, pollutant, data_time)
    current = {k: original[k] for k in AMENDABLE}
    for a in amendments:
        a["changes"] = json.loads(a["changes"])
        current.update(a["changes"])
    return {"original": original, "amendments": amendments, "current": current}
