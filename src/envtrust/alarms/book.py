"""The alarm book: findings become alarms, and people act on them; every change is an event and a ledger entry.

Lifecycle (after ISA-18.2 / IEC 62682, the alarm-management standards of process control):

* a finding opens an alarm for its (point, pollutant, check) unless one is open: then it extends that alarm
  (``update``), or brings a cleared one back (``reactivate``, unacknowledged again). One open alarm per key.
* the condition state is ``active`` or ``cleared``: an alarm clears by itself when the point's data have gone on for
  ``clear_after_s`` without a new finding of its check, or by hand with a reason;
* independently it is acknowledged or not; an alarm that is both cleared and acknowledged is ``closed`` (history),
  and a later finding of the same key opens a new alarm — but findings up to the end of a closed alarm are dealt
  with and never open one again (the streaming evaluator re-examines windows of data that it has seen before).
* an unacknowledged active alarm escalates every ``escalate_after_s`` (up to ``max_escalation``), and people are
  notified when an alarm opens, comes back or escalates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import AlarmError
from ..qc import Finding
from ..qc.catalogue import SEVERITIES, iso
from ..qc.stream import Evaluation
from ..registry import Point
from ..store import Store
from ..store.alarms import AlarmTx
from .notify import Delivery, Notice

__all__ = ["AlarmBook", "AlarmPolicy", "Applied", "alarm_json"]

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
NOTIFY_ACTIONS = ("open", "reactivate", "escalate")
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class AlarmPolicy:
    clear_after_s: int = 3600
    escalate_after_s: int = 1800
    max_escalation: int = 3
    notify_severity: str = "low"  # notify alarms of at least this severity

    @classmethod
    def from_config(cls, doc: Mapping[str, Any]) -> AlarmPolicy:
        """From the ``[alarms]`` table: ``clear_after_min``, ``escalate_after_min``, ``max_escalation``,
        ``notify_severity``; unknown keys or wrong types are errors."""
        known = {"clear_after_min", "escalate_after_min", "max_escalation", "notify_severity"}
        for key in doc:
            if key not in known:
                raise AlarmError(f"[alarms]: unknown key {key!r}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for key, attr in (("clear_after_min", "clear_after_s"), ("escalate_after_min", "escalate_after_s")):
            if key in doc:
                v = doc[key]
                if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                    raise AlarmError(f"[alarms] {key}: expected a positive number of minutes, got {v!r}")
                values[attr] = int(v * 60)
        if "max_escalation" in doc:
            v = doc["max_escalation"]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise AlarmError(f"[alarms] max_escalation: expected a whole number ≥ 0, got {v!r}")
            values["max_escalation"] = v
        if "notify_severity" in doc:
            v = doc["notify_severity"]
            if v not in _RANK:
                raise AlarmError(f"[alarms] notify_severity: one of {', '.join(SEVERITIES)}, got {v!r}")
            values["notify_severity"] = v
        return cls(**values)


@dataclass
class Applied:
    """What one application of findings changed."""

    opened: int = 0
    updated: int = 0
    reactivated: int = 0
    cleared: int = 0
    escalated: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


def _now_us() -> int:
    return time.time_ns() // 1000


def _utc_offset(point: Point | None) -> int:
    if point is None:
        return 8 * 3600
    off = datetime(2020, 1, 1, tzinfo=point.zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def alarm_json(row: Mapping[str, Any], point: Point | None = None) -> dict[str, Any]:
    """An alarm as the API and ``--json`` show it: finding-shaped, times in the point's zone."""
    off = _utc_offset(point)
    return {
        "id": row["id"],
        "mn": row["mn"],
        "pollutant": row["pollutant"] or None,
        "check": row["check_name"],
        "category": row["category"],
        "severity": row["severity"],
        "state": row["state"],
        "acknowledged": bool(row["acked"]),
        "closed": bool(row["closed"]),
        "assignee": row["assignee"],
        "escalation": row["escalation"],
        "start": iso(row["start_time"], off),
        "end": iso(row["end_time"], off),
        "message": row["message"],
        "evidence": json.loads(row["evidence"]),
        "findings": row["findings"],
        "opened": iso(row["opened_us"] / 1e6, off),
        "updated": iso(row["updated_us"] / 1e6, off),
        "point": point.name if point else None,
        "enterprise": point.enterprise.name if point else None,
        "region": point.region if point else None,
    }


class AlarmBook:
    """Alarms over one store.  ``points`` looks up a point's registry facts (names, zone) for texts and notices;
    ``notify`` receives a :class:`Notice` for every alarm that opens, comes back or escalates (after commit)."""

    def __init__(
        self,
        store: Store,
        policy: AlarmPolicy | None = None,
        *,
        points: Callable[[str], Point | None] | None = None,
        notify: Callable[[Notice], None] | None = None,
        link: Callable[[int], str | None] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or AlarmPolicy()
        self._points = points or (lambda mn: None)
        self.notify = notify
        self._link = link or (lambda alarm_id: None)

    # ------------------------------------------------------------------ findings → alarms
    def apply(self, evaluations: Sequence[Evaluation], *, now_us: int | None = None) -> Applied:
        """Fold the findings of evaluations into the alarms (one transaction) and clear alarms whose condition has
        gone; returns what changed."""
        now = now_us if now_us is not None else _now_us()
        if not evaluations:
            return Applied()
        # most evaluations change nothing (the same findings seen again): find out without taking the write lock
        with self.store.alarm_tx(dry=True) as dry:
            self._fold(dry, evaluations, now, Applied())
            if not dry.changed:
                return Applied()
        out = Applied()
        with self.store.alarm_tx() as tx:
            self._fold(tx, evaluations, now, out)
            out.events = tx.events
        self._send(out.events)
        return out

    def _fold(self, tx: AlarmTx, evaluations: Sequence[Evaluation], now: int, out: Applied) -> None:
        mns = sorted({e.mn for e in evaluations})
        wanted = set(mns)
        open_by_key = {
            (a["mn"], a["pollutant"], a["check_name"]): a for a in tx.open_alarms() if a["mn"] in wanted
        }
        handled = tx.handled_until(mns)
        for ev in evaluations:
            off = _utc_offset(self._points(ev.mn))
            for f in sorted(ev.findings, key=lambda f: (f.end, f.start)):
                key = (f.mn, f.pollutant or "", f.check)
                a = open_by_key.get(key)
                detail = {"finding": f.to_json(off)}
                if a is None:
                    if f.end <= handled.get(key, -1):
                        continue
                    a = tx.insert(self._new(f, now))
                    tx.event(a, "open", SYSTEM, now, detail)
                    out.opened += 1
                elif f.end > a["end_time"]:
                    changes = self._extend(a, f, now)
                    action = "update"
                    if a["state"] == "cleared":
                        changes.update(state="active", acked=False, raised_us=now, escalation=0)
                        action = "reactivate"
                    a = tx.update(a, changes)
                    tx.event(a, action, SYSTEM, now, detail)
                    out.reactivated += action == "reactivate"
                    out.updated += action == "update"
                else:
                    continue
                open_by_key[key] = a
            # the condition has gone: data went on for clear_after_s without a finding of the check
            for key, a in list(open_by_key.items()):
                if a["mn"] != ev.mn or a["state"] != "active" or a["check_name"] not in ev.checks:
                    continue
                if ev.until - a["end_time"] >= self.policy.clear_after_s:
                    a = tx.update(a, {"state": "cleared", "closed": bool(a["acked"]), "updated_us": now})
                    minutes = (ev.until - a["end_time"]) // 60
                    tx.event(
                        a,
                        "clear",
                        SYSTEM,
                        now,
                        {
                            "reason": f"{minutes} 分钟数据未再出现 | condition absent for {minutes} min of data"
                        },
                    )
                    out.cleared += 1
                    if a["closed"]:
                        del open_by_key[key]
                    else:
                        open_by_key[key] = a

    def _new(self, f: Finding, now: int) -> dict[str, Any]:
        return {
            "mn": f.mn,
            "pollutant": f.pollutant or "",
            "check_name": f.check,
            "category": f.category,
            "severity": f.severity,
            "state": "active",
            "acked": False,
            "closed": False,
            "assignee": None,
            "start_time": f.start,
            "end_time": f.end,
            "message": f.message,
            "evidence": json.dumps(dict(f.evidence), ensure_ascii=False, sort_keys=True),
            "findings": 1,
            "escalation": 0,
            "opened_us": now,
            "raised_us": now,
            "updated_us": now,
        }

    @staticmethod
    def _extend(a: Mapping[str, Any], f: Finding, now: int) -> dict[str, Any]:
        worse = _RANK.get(f.severity, 0) > _RANK.get(a["severity"], 0)
        return {
            "start_time": min(a["start_time"], f.start),
            "end_time": f.end,
            "message": f.message,
            "evidence": json.dumps(dict(f.evidence), ensure_ascii=False, sort_keys=True),
            "findings": a["findings"] + 1,
            "severity": f.severity if worse else a["severity"],
            "updated_us": now,
        }

    # ------------------------------------------------------------------ people's actions
    def _act(
        self,
        alarm_id: int,
        who: str,
        action: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        detail: dict[str, Any],
    ) -> dict[str, Any]:
        if not who.strip():
            raise AlarmError("须注明操作人 | an alarm action needs who takes it")
        now = _now_us()
        with self.store.alarm_tx() as tx:
            a = tx.alarm(alarm_id)
            if a is None:
                raise AlarmError(f"没有告警 {alarm_id} | no alarm {alarm_id}")
            changes = change(a)
            if changes:
                changes["updated_us"] = now
                a = tx.update(a, changes)
            tx.event(a, action, who.strip(), now, detail)
        return a

    def acknowledge(self, alarm_id: int, who: str, comment: str | None = None) -> dict[str, Any]:
        """Acknowledge: somebody has seen the alarm and takes care of it; a cleared alarm is then closed."""

        def change(a: dict[str, Any]) -> dict[str, Any]:
            if a["acked"]:
                raise AlarmError(f"告警 {alarm_id} 已经确认过 | alarm {alarm_id} is already acknowledged")
            return {"acked": True, "closed": a["state"] == "cleared"}

        return self._act(alarm_id, who, "ack", change, {"comment": comment} if comment else {})

    def clear(self, alarm_id: int, who: str, reason: str) -> dict[str, Any]:
        """Clear by hand (the condition is gone or the alarm was false), with the reason; closed when acknowledged."""
        if not reason.strip():
            raise AlarmError("手动恢复告警须填写原因 | clearing an alarm by hand needs a reason")

        def change(a: dict[str, Any]) -> dict[str, Any]:
            if a["state"] == "cleared":
                raise AlarmError(f"告警 {alarm_id} 已经恢复 | alarm {alarm_id} is already cleared")
            return {"state": "cleared", "closed": bool(a["acked"])}

        return self._act(alarm_id, who, "clear", change, {"reason": reason.strip()})

    def assign(self, alarm_id: int, who: str, assignee: str) -> dict[str, Any]:
        if not assignee.strip():
            raise AlarmError("须填写被指派人 | name the person the alarm is assigned to")

        def change(a: dict[str, Any]) -> dict[str, Any]:
            if a["closed"]:
                raise AlarmError(f"告警 {alarm_id} 已关闭 | alarm {alarm_id} is closed")
            return {"assignee": assignee.strip()}

        return self._act(alarm_id, who, "assign", change, {"assignee": assignee.strip()})

    def comment(self, alarm_id: int, who: str, text: str) -> dict[str, Any]:
        if not text.strip():
            raise AlarmError("备注不能为空 | a comment needs text")
        return self._act(alarm_id, who, "comment", lambda a: {}, {"comment": text.strip()})

    # ------------------------------------------------------------------ escalation and notification
    def escalate_due(self, *, now_us: int | None = None) -> Applied:
        """Escalate every active, unacknowledged alarm that has waited ``escalate_after_s`` per level."""
        now = now_us if now_us is not None else _now_us()
        out = Applied()
        step = self.policy.escalate_after_s * 1_000_000
        with self.store.alarm_tx() as tx:
            for a in tx.open_alarms():
                if a["acked"] or a["state"] != "active" or a["escalation"] >= self.policy.max_escalation:
                    continue
                level = min(self.policy.max_escalation, (now - a["raised_us"]) // step)
                if level > a["escalation"]:
                    a = tx.update(a, {"escalation": int(level), "updated_us": now})
                    waited = (now - a["raised_us"]) // 60_000_000
                    tx.event(
                        a,
                        "escalate",
                        SYSTEM,
                        now,
                        {
                            "level": int(level),
                            "reason": f"{waited} 分钟未确认 | unacknowledged for {waited} min",
                        },
                    )
                    out.escalated += 1
            out.events = tx.events
        self._send(out.events)
        return out

    def _send(self, events: Sequence[dict[str, Any]]) -> None:
        if self.notify is None:
            return
        floor = _RANK.get(self.policy.notify_severity, 0)
        for e in events:
            a = e["alarm"]
            if e["action"] not in NOTIFY_ACTIONS or _RANK.get(a["severity"], 0) < floor:
                continue
            point = self._points(a["mn"])
            off = _utc_offset(point)
            self.notify(
                Notice(
                    alarm_id=a["id"],
                    event=e["action"],
                    mn=a["mn"],
                    pollutant=a["pollutant"] or None,
                    check=a["check_name"],
                    category=a["category"],
                    severity=a["severity"],
                    message=a["message"],
                    start=iso(a["start_time"], off),
                    end=iso(a["end_time"], off),
                    point_name=point.name if point else "",
                    enterprise=point.enterprise.name if point else "",
                    region=point.region if point else "",
                    escalation_level=a["escalation"],
                    link=self._link(a["id"]),
                )
            )

    def record_delivery(self, d: Delivery) -> None:
        """Keep the outcome of a notification with the alarm (who was told, when, on which channel)."""
        detail = {"event": d.notice.event, "channel": d.channel, "ok": d.ok, "attempts": d.attempts}
        if d.error:
            detail["error"] = d.error
        self._act(d.notice.alarm_id, SYSTEM, "notify", lambda a: {}, detail)
