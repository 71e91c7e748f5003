"""The interference register (干预留痕, clause 六): every attempt by officials to influence monitoring, in full.

Anyone with an account (monitoring staff first of all) records an interference: who interfered, in what position
and organisation, by what means (written instruction, letter, spoken word, hint), what was asked, which points,
stations or records it touched, and attachments (a photo of the instruction, a recording).  Each record is signed by
the person recording it (:mod:`envtrust.workflow.signing`) and is one ledger entry; the tables are insert-only (the
database refuses UPDATE and DELETE by trigger, and ``envtrust verify`` finds any change made around it).  Nothing can
be hidden either: there is no state in which a record leaves the lists of those who may read it.

Who reads a record (decision 0014): the person who recorded it; discipline-inspection accounts (纪检监察) whose region
covers it; regulators of a *higher* level whose region covers it (上级机关) — not the office of the record's own
region, which may be where the interference came from; never administrators or the public.  The escalation trail
is a series of signed events: ``reported`` (to whom: 同级党委, 上级机关, 纪检监察机关), ``received``,
``investigating``, ``concluded`` (discipline accounts) and ``comment``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import RecordError
from ..store import Store
from .lab import Lab, Signed

__all__ = [
    "ACTIONS",
    "MEANS",
    "Attachment",
    "Interference",
    "may_read",
    "store_attachments",
    "text_field",
]

MEANS = ("written_instruction", "letter", "spoken", "hint", "other")
ACTIONS = ("reported", "received", "investigating", "concluded", "comment")
DISCIPLINE_ACTIONS = ("received", "investigating", "concluded")
RECORDER_ROLES = ("regulator", "inspector", "discipline", "lab", "operator", "enterprise")
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 10
MAX_TEXT = 4000
CHINA = timezone(timedelta(hours=8))
_REGION = re.compile(r"^[0-9]{2,12}$")
_REF = re.compile(r"^[\w./:-]{1,120}$")


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a record: its name, media type and bytes (kept verbatim; the ledger holds its SHA-256)."""

    name: str
    media_type: str
    data: bytes


def store_attachments(tx: Any, files: Sequence[Attachment], username: str) -> list[dict[str, Any]]:
    """Record ``files`` in the ``attachments`` table inside ``tx``; their metadata as the record keeps it."""
    if len(files) > MAX_ATTACHMENTS:
        raise RecordError(
            "too_many", f"最多 {MAX_ATTACHMENTS} 个附件 | at most {MAX_ATTACHMENTS} attachments"
        )
    out = []
    for f in files:
        name = f.name.strip().replace("/", "_").replace("\\", "_")[:200] or "attachment"
        if len(f.data) > MAX_ATTACHMENT_BYTES:
            raise RecordError(
                "too_large",
                f"附件 {name} 超过 {MAX_ATTACHMENT_BYTES // 1048576} MiB | attachment {name} is over "
                f"{MAX_ATTACHMENT_BYTES // 1048576} MiB",
                status=413,
            )
        media = f.media_type.strip()[:100] or "application/octet-stream"
        digest = hashlib.sha256(f.data).hexdigest()
        row = tx.record(
            "attachments",
            {
                "sha256": digest,
                "name": name,
                "media_type": media,
                "size": len(f.data),
                "data": f.data,
                "uploaded_by": username,
                "at_us": _now_us(),
                "salt": secrets.token_hex(32),
            },
        )
        out.append(
            {"id": row["id"], "sha256": digest, "name": name, "media_type": media, "size": len(f.data)}
        )
    return out


def may_read(account: Mapping[str, Any] | None, row: Mapping[str, Any]) -> bool:
    """Whether ``account`` reads the interference record ``row`` (see the module's docstring)."""
    if account is None or not account.get("active", True):
        return False
    if account["username"] == row["recorded_by"]:
        return True
    scope = account.get("region") or ""
    region = str(row["region"])
    if account["role"] == "discipline":
        return region.startswith(scope)
    if account["role"] == "regulator":
        return bool(scope) and region.startswith(scope) and len(scope) < len(region)
    return False


def text_field(value: str, what: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """``value`` stripped; refused when required and empty, or longer than ``limit``.  ``what`` is "中文|English"."""
    zh, _, en = what.partition("|")
    value = (value or "").strip()
    if required and not value:
        raise RecordError("missing", f"须填写{zh} | {en} is required")
    if len(value) > limit:
        raise RecordError("too_long", f"{zh}过长（最多 {limit} 字）| {en}: at most {limit} characters")
    return value


class Interference:
    """The interference register of one store."""

    def __init__(
        self,
        store: Store,
        *,
        origin: str,
        activation_s: int = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.signer = Lab(store, origin=origin, activation_s=activation_s, clock=clock)
        self.clock = clock

    # -- writing -------------------------------------------------------------------------------------------
    def record(
        self,
        *,
        username: str,
        signed: Signed,
        region: str,
        occurred_at: int,
        actor_name: str,
        actor_role: str,
        actor_org: str,
        means: str,
        request: str,
        mns: Sequence[str] = (),
        records: Sequence[str] = (),
        other: str = "",
        attachments: Sequence[Attachment] = (),
    ) -> dict[str, Any]:
        """Record an interference, signed by ``username``; returns the row."""
        account = self.store.account(username)
        if account is None or account["role"] not in RECORDER_ROLES or not account["active"]:
            raise RecordError(
                "forbidden", "该账户不能登记干预 | this account cannot record interference", status=403
            )
        if means not in MEANS:
            raise RecordError("bad_kind", f"方式须为 {', '.join(MEANS)} | means: one of {', '.join(MEANS)}")
        if not _REGION.match(region or ""):
            raise RecordError("bad_region", f"行政区划代码无效：{region!r} | not a division code: {region!r}")
        if occurred_at > self.clock() + 300:
            raise RecordError(
                "in_future", "干预时间晚于现在 | the interference is dated in the future", status=422
            )
        points = self.store.point_scopes()
        unknown = [mn for mn in mns if mn not in points]
        if unknown:
            raise RecordError("no_point", f"监测点未登记：{', '.join(unknown)} | unknown points", status=404)
        bad = [r for r in records if not _REF.match(r)]
        if bad:
            raise RecordError("bad_ref", f"记录编号无效：{bad[0]!r} | not a record reference: {bad[0]!r}")
        touches = {
            "mns": sorted(set(mns)),
            "records": sorted(set(records)),
            "other": text_field(other, "其他|other data", required=False),
        }
        if not (touches["mns"] or touches["records"] or touches["other"]):
            raise RecordError("missing", "须说明涉及的数据或站点 | say which data or station it touched")
        fields = {
            "region": region,
            "occurred_at": int(occurred_at),
            "actor_name": text_field(actor_name, "干预人|who interfered", limit=200),
            "actor_role": text_field(actor_role, "干预人职务|their position", limit=200),
            "actor_org": text_field(actor_org, "干预人单位|their organisation", required=False, limit=200),
            "means": means,
            "request": text_field(request, "干预内容|what was asked"),
            "touches": touches,
        }
        with self.store.quality_tx() as tx:
            files = store_attachments(tx, attachments, username)
            subject = {**fields, "attachments": [{"sha256": f["sha256"], "name": f["name"]} for f in files]}
            sig = self.signer.sign_in(
                tx, username, "interference.record", account["role"], subject, [], signed, sealed=True
            )
            row = tx.record(
                "interference",
                {
                    **fields,
                    "touches": json.dumps(touches, ensure_ascii=False, sort_keys=True),
                    "attachments": json.dumps(files, ensure_ascii=False, sort_keys=True),
                    "recorded_by": username,
                    "recorder_role": account["role"],
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                    "salt": secrets.token_hex(32),
                },
            )
            tx.finish()
        return row

    def event(
        self,
        record_id: int,
        *,
        action: str,
        note: str,
        username: str,
        signed: Signed,
        to_whom: str = "",
    ) -> dict[str, Any]:
        """A signed step of the escalation trail by someone who reads the record."""
        if action not in ACTIONS:
            raise RecordError(
                "bad_kind", f"操作须为 {', '.join(ACTIONS)} | action: one of {', '.join(ACTIONS)}"
            )
        row = self._row(record_id)
        account = self.store.account(username)
        if not may_read(account, row):
            raise RecordError(
                "no_record", f"没有干预记录 #{record_id} | no interference record #{record_id}", status=404
            )
        assert account is not None
        if action in DISCIPLINE_ACTIONS and account["role"] != "discipline":
            raise RecordError(
                "forbidden",
                "只有纪检监察账户可以受理和办结 | only discipline accounts take this step",
                status=403,
            )
        if action == "reported":
            to_whom = text_field(to_whom, "报送对象|to whom it was reported", limit=200)
        else:
            to_whom = text_field(to_whom, "报送对象|to whom it was reported", required=False, limit=200)
        note = text_field(note, "说明|a note", required=action in ("comment", "concluded"))
        with self.store.quality_tx() as tx:
            events = tx.rows("interference_events", interference_id=record_id)
            if any(e["action"] == "concluded" for e in events) and action != "comment":
                raise RecordError("concluded", "该记录已办结 | the record is concluded", status=409)
            subject = {"interference_id": record_id, "action": action, "to_whom": to_whom, "note": note}
            refs = [
                {
                    "rel": "interference",
                    "record": f"interference/{record_id}",
                    "entry": self.store.entry_index(f"interference/{record_id}"),
                }
            ]
            sig = self.signer.sign_in(
                tx, username, "interference.event", account["role"], subject, refs, signed, sealed=True
            )
            out = tx.record(
                "interference_events",
                {
                    "interference_id": record_id,
                    "action": action,
                    "to_whom": to_whom,
                    "note": note,
                    "who": username,
                    "role": account["role"],
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                    "salt": secrets.token_hex(32),
                },
            )
            tx.finish()
        return out

    # -- reading -------------------------------------------------------------------------------------------
    def _row(self, record_id: int) -> dict[str, Any]:
        rows = self.store.quality_rows("interference", id=record_id)
        if not rows:
            raise RecordError(
                "no_record", f"没有干预记录 #{record_id} | no interference record #{record_id}", status=404
            )
        return rows[0]

    def _shown(self, row: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        state = "recorded"
        for e in events:
            if e["action"] != "comment":
                state = e["action"]
        return {
            **row,
            "touches": json.loads(row["touches"]),
            "attachments": json.loads(row["attachments"]),
            "events": events,
            "state": state,
            "entry": self.store.entry_index(f"interference/{row['id']}"),
        }

    def visible(self, username: str | None) -> list[dict[str, Any]]:
        """The records ``username`` reads, newest first, each with its events and state."""
        account = self.store.account(username) if username else None
        rows = [r for r in self.store.quality_rows("interference") if may_read(account, r)]
        events: dict[int, list[dict[str, Any]]] = {}
        if rows:
            for e in self.store.quality_rows("interference_events", interference_id=[r["id"] for r in rows]):
                events.setdefault(int(e["interference_id"]), []).append(e)
        return [self._shown(r, events.get(int(r["id"]), [])) for r in reversed(rows)]

    def everything(self) -> list[dict[str, Any]]:
        """Every record (the command line: whoever runs it holds the database)."""
        events: dict[int, list[dict[str, Any]]] = {}
        for e in self.store.quality_rows("interference_events"):
            events.setdefault(int(e["interference_id"]), []).append(e)
        rows = self.store.quality_rows("interference")
        return [self._shown(r, events.get(int(r["id"]), [])) for r in reversed(rows)]

    def show(self, record_id: int, username: str | None) -> dict[str, Any]:
        """One record with its events, for a reader (404 for anyone else, as if it did not exist)."""
        row = self._row(record_id)
        account = self.store.account(username) if username else None
        if not may_read(account, row):
            raise RecordError(
                "no_record", f"没有干预记录 #{record_id} | no interference record #{record_id}", status=404
            )
        return self._shown(row, self.store.quality_rows("interference_events", interference_id=record_id))

    def attachment(self, record_id: int, attachment_id: int, username: str | None) -> dict[str, Any]:
        """An attachment of a record the caller reads: the row with its bytes."""
        shown = self.show(record_id, username)
        if attachment_id not in {int(a["id"]) for a in shown["attachments"]}:
            raise RecordError("no_attachment", "没有该附件 | no such attachment", status=404)
        return self.store.quality_rows("attachments", id=attachment_id)[0]

    def report(
        self, records: Sequence[Mapping[str, Any]], *, by: str = "region", level: int = 6
    ) -> list[dict[str, Any]]:
        """Counts of ``records`` grouped ``by`` region (the division code cut to ``level`` digits), month (China
        time), means or actor role, each group with its record ids, largest first."""
        if by not in ("region", "month", "means", "actor_role"):
            raise RecordError(
                "bad_kind",
                "分组须为 region, month, means 或 actor_role | by: region, month, means, actor_role",
            )
        groups: dict[str, list[int]] = {}
        for r in records:
            if by == "region":
                key = str(r["region"])[:level]
            elif by == "month":
                key = datetime.fromtimestamp(int(r["occurred_at"]), CHINA).strftime("%Y-%m")
            else:
                key = str(r[by])
            groups.setdefault(key, []).append(int(r["id"]))
        out = [{"key": k, "count": len(ids), "records": sorted(ids)} for k, ids in groups.items()]
        return sorted(out, key=lambda g: (-g["count"], g["key"]))
