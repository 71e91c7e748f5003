"""Complaints from the public (clause 十六: the 12369 channel and online reporting).

Anyone files a complaint on the public web form — what, where (a place, optionally coordinates, optionally the point
it concerns), attachments, a contact or none — and receives a **tracking code** shown once: with it, and without an
account, the complainant follows the handling (state, deadlines, the replies meant for them).  Staff (regulators and
inspectors) enter complaints received by phone, WeChat, letter or visit the same way.  Staff of the complaint's
region accept it (setting the resolution deadline), assign it, link it to points, alarms, findings and inspections,
reply, and resolve or reject it; every step is a ledger entry.  The entries are sealed
(:func:`envtrust.ledger.entries.sealed_entry`): the public ledger shows that a complaint of a channel and region was
received and each step taken, and when — never who complained or what they wrote.  Only the SHA-256 of the tracking
code is stored.

Deadlines (decision 0014; configurable here): accept within ``ACCEPT_DAYS`` (3) days of receipt; resolve within
``RESOLVE_DAYS`` (60) days of acceptance, as the 12369 handling rules give.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import RecordError
from ..store import Store
from .interference import Attachment, store_attachments, text_field
from .refs import REF, readable

__all__ = ["ACTIONS", "CHANNELS", "Complaints", "new_code"]

CHANNELS = ("web", "phone", "wechat", "letter", "visit")
ACTIONS = ("accepted", "assigned", "linked", "replied", "resolved", "rejected", "comment")
STAFF_ROLES = ("regulator", "inspector")
ACCEPT_DAYS = 3
RESOLVE_DAYS = 60
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
_COORD = re.compile(r"^-?[0-9]{1,3}(\.[0-9]{1,8})?$")


def _now_us() -> int:
    return time.time_ns() // 1000


def new_code() -> str:
    """A tracking code: 16 random characters (80 bits) in four groups, easy to read aloud over the phone."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def _code_hash(code: str) -> str:
    normal = re.sub(r"[^A-Z0-9]", "", code.upper())
    return hashlib.sha256(normal.encode()).hexdigest()


class Complaints:
    """The complaints of one store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # -- intake --------------------------------------------------------------------------------------------
    def file(
        self,
        *,
        channel: str,
        subject: str,
        description: str,
        location: str,
        region: str = "",
        mn: str | None = None,
        lat: str | None = None,
        lon: str | None = None,
        contact_name: str = "",
        contact_phone: str = "",
        attachments: Sequence[Attachment] = (),
        intake_by: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """File a complaint (``intake_by`` None: the public web form); the row and the tracking code (shown once)."""
        if channel not in CHANNELS:
            raise RecordError(
                "bad_kind", f"渠道须为 {', '.join(CHANNELS)} | channel: one of {', '.join(CHANNELS)}"
            )
        if intake_by is None:
            if channel != "web":
                raise RecordError(
                    "forbidden", "公众只能通过网页投诉 | the public files on the web form", status=403
                )
        else:
            staff = self.store.account(intake_by)
            if staff is None or staff["role"] not in STAFF_ROLES or not staff["active"]:
                raise RecordError(
                    "forbidden", "只有监管和执法人员登记来电来信 | only staff take complaints", status=403
                )
        if mn:
            scope = self.store.point_scopes().get(mn)
            if scope is None:
                raise RecordError("no_point", f"监测点 {mn} 未登记 | no registered point {mn}", status=404)
            region = scope[0]  # the point's region decides who handles it, whatever region was typed
        if not re.fullmatch(r"[0-9]{2,12}", region or ""):
            raise RecordError(
                "bad_region", "须选择所在地区（行政区划代码）| the region (division code) is required"
            )
        for value, what in ((lat, "lat"), (lon, "lon")):
            if value and not _COORD.match(value):
                raise RecordError("bad_coordinate", f"{what} {value!r} 不是经纬度 | not decimal degrees")
        code = new_code()
        now = self.clock()
        with self.store.quality_tx() as tx:
            files = store_attachments(tx, attachments, intake_by or "public")
            row = tx.record(
                "complaints",
                {
                    "code_sha256": _code_hash(code),
                    "channel": channel,
                    "intake_by": intake_by or "",
                    "region": region,
                    "location": text_field(location, "地点|the place", limit=500),
                    "lat": lat or None,
                    "lon": lon or None,
                    "mn": mn or None,
                    "subject": text_field(subject, "标题|a subject", limit=200),
                    "description": text_field(description, "内容|what happened", limit=8000),
                    "contact_name": text_field(
                        contact_name, "联系人|a contact name", limit=100, required=False
                    ),
                    "contact_phone": text_field(
                        contact_phone, "联系电话|a contact phone", limit=40, required=False
                    ),
                    "attachments": json.dumps(files, ensure_ascii=False, sort_keys=True),
                    "accept_due": int(now + ACCEPT_DAYS * 86400),
                    "at_us": _now_us(),
                    "salt": secrets.token_hex(32),
                },
            )
            tx.finish()
        return row, code

    # -- handling ------------------------------------------------------------------------------------------
    def _complaint(self, complaint_id: int) -> dict[str, Any]:
        rows = self.store.quality_rows("complaints", id=complaint_id)
        if not rows:
            raise RecordError(
                "no_complaint", f"没有投诉 #{complaint_id} | no complaint #{complaint_id}", status=404
            )
        return rows[0]

    def may_handle(self, username: str | None, row: dict[str, Any]) -> bool:
        account = self.store.account(username) if username else None
        if account is None or not account["active"] or account["role"] not in STAFF_ROLES:
            return False
        return str(row["region"]).startswith(account["region"] or "\0")

    def step(
        self,
        complaint_id: int,
        *,
        action: str,
        username: str,
        note: str = "",
        reply: str = "",
        assignee: str = "",
        links: Sequence[str] = (),
    ) -> dict[str, Any]:
        """A step of the handling by staff of the complaint's region."""
        if action not in ACTIONS:
            raise RecordError(
                "bad_kind", f"操作须为 {', '.join(ACTIONS)} | action: one of {', '.join(ACTIONS)}"
            )
        row = self._complaint(complaint_id)
        if not self.may_handle(username, row):
            raise RecordError(
                "no_complaint", f"没有投诉 #{complaint_id} | no complaint #{complaint_id}", status=404
            )
        bad = [r for r in links if not REF.match(r)]
        if bad:
            raise RecordError("bad_ref", f"记录编号无效：{bad[0]!r} | not a record reference: {bad[0]!r}")
        account = self.store.account(username)
        for ref in links:
            if not readable(self.store, ref, account):
                raise RecordError("no_record", f"没有记录 {ref} | no record {ref}", status=404)
        if action == "linked" and not links:
            raise RecordError("missing", "须指明关联的记录 | name the records to link")
        if action == "assigned":
            target = self.store.account(assignee)
            if target is None or not self.may_handle(assignee, row):
                raise RecordError(
                    "bad_assignee", f"{assignee!r} 不能办理该投诉 | cannot handle this complaint"
                )
        if action in ("replied", "resolved", "rejected"):
            reply = text_field(reply, "答复|a reply", limit=4000)
        if action in ("rejected", "comment"):
            note = text_field(note or reply, "说明|a note", limit=4000)
        now = self.clock()
        with self.store.quality_tx() as tx:
            events = tx.rows("complaint_events", complaint_id=complaint_id)
            state = _state(events)
            if state in ("resolved", "rejected") and action != "comment":
                raise RecordError("closed", "该投诉已办结 | the complaint is closed", status=409)
            if action == "accepted" and state != "received":
                raise RecordError("accepted", "该投诉已受理 | the complaint was accepted already", status=409)
            if action in ("assigned", "linked", "replied", "resolved") and state == "received":
                raise RecordError("not_accepted", "请先受理 | accept the complaint first", status=409)
            out = tx.record(
                "complaint_events",
                {
                    "complaint_id": complaint_id,
                    "action": action,
                    "note": text_field(note, "说明|a note", limit=4000, required=False),
                    "reply": reply,
                    "links": json.dumps(sorted(set(links))),
                    "assignee": assignee if action == "assigned" else "",
                    "due": int(now + RESOLVE_DAYS * 86400) if action == "accepted" else None,
                    "who": username,
                    "at_us": _now_us(),
                    "salt": secrets.token_hex(32),
                },
            )
            tx.finish()
        return out

    # -- reading -------------------------------------------------------------------------------------------
    def _shown(self, row: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        now = self.clock()
        state = _state(events)
        due = next((e["due"] for e in events if e["action"] == "accepted"), None)
        deadline = row["accept_due"] if state == "received" else due
        open_ = state not in ("resolved", "rejected")
        return {
            **{k: v for k, v in row.items() if k not in ("code_sha256", "salt")},
            "attachments": json.loads(row["attachments"]),
            "events": [{**e, "links": json.loads(e["links"])} for e in events],
            "state": state,
            "due": deadline if open_ else None,
            "overdue": bool(open_ and deadline is not None and now > deadline),
            "links": sorted({ref for e in events for ref in json.loads(e["links"])}),
            "entry": self.store.entry_index(f"complaints/{row['id']}"),
        }

    def visible(self, username: str) -> list[dict[str, Any]]:
        """The complaints of the staff account's region, newest first."""
        rows = [r for r in self.store.quality_rows("complaints") if self.may_handle(username, r)]
        events: dict[int, list[dict[str, Any]]] = {}
        if rows:
            for e in self.store.quality_rows("complaint_events", complaint_id=[r["id"] for r in rows]):
                events.setdefault(int(e["complaint_id"]), []).append(e)
        return [self._shown(r, events.get(int(r["id"]), [])) for r in reversed(rows)]

    def show(self, complaint_id: int, username: str) -> dict[str, Any]:
        row = self._complaint(complaint_id)
        if not self.may_handle(username, row):
            raise RecordError(
                "no_complaint", f"没有投诉 #{complaint_id} | no complaint #{complaint_id}", status=404
            )
        return self._shown(row, self.store.quality_rows("complaint_events", complaint_id=complaint_id))

    def track(self, code: str) -> dict[str, Any]:
        """What the complainant sees with the tracking code: the state, the deadlines and the replies — not the
        staff's internal notes, names or links."""
        rows = self.store.quality_rows("complaints", code_sha256=_code_hash(code or ""))
        if not rows:
            raise RecordError("no_complaint", "查询码无效 | no complaint with this tracking code", status=404)
        shown = self._shown(rows[0], self.store.quality_rows("complaint_events", complaint_id=rows[0]["id"]))
        return {
            "id": shown["id"],
            "subject": shown["subject"],
            "channel": shown["channel"],
            "received_us": shown["at_us"],
            "state": shown["state"],
            "due": shown["due"],
            "overdue": shown["overdue"],
            "steps": [
                {"action": e["action"], "at_us": e["at_us"], "reply": e["reply"]}
                for e in shown["events"]
                if e["action"] != "comment"
            ],
        }


def _state(events: Sequence[dict[str, Any]]) -> str:
    state = "received"
    for e in events:
        if e["action"] in ("accepted", "resolved", "rejected"):
            state = e["action"]
        elif e["action"] in ("assigned", "linked", "replied") and state == "accepted":
            state = "in_progress"
    return state
