"""Credit, the blacklist, continuous daily penalties and the county ranking (clauses 四, 九, 十五).

* **Credit events** for enterprises, monitoring institutions, equipment operators and instrument suppliers: each tied
  to the ledgered evidence (inspections, alarms, cases — record references that must exist) and to the decision
  (its document number), with a score change.  Public records, ledgered in clear.
* **Blacklist** (监测服务"黑名单"): a listing with its start and end, evidence and decision; the listed party appeals,
  the regulator upholds (the listing ends) or rejects the appeal; after rectification and at least
  ``REPAIR_MIN_DAYS`` listed, the regulator repairs the credit (信用修复: the listing ends early).  Every step is
  ledgered; the public list and the export for the credit-sharing platform (:func:`export_rows`) show the state.
* **Orders to rectify** (责令改正) and their **rechecks**, the basis of continuous daily penalties (按日连续处罚,
  Environmental Protection Law art. 59; MEP Order No. 28 (2014) arts. 5, 13–17: the penalty is counted per day
  from the day after the order was served up to the day the recheck found the violation continuing, both
  included).  :func:`penalty_days` computes the count; :meth:`Credit.penalty` adds the basis: the dates, the rule,
  and for each day the alarms of the points that show the violation went on.
* **County ranking** (约谈, clause 四): per county, the confirmed fraud (inspections that found fraud, orders whose
  recheck found the violation continuing, blacklistings) and the interference recorded, each number with the
  records behind it, for the provincial department's decisions.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..errors import RecordError
from ..store import Store
from .refs import REF, common_region, identifier, readable, registered, same_name

__all__ = [
    "EXPORT_COLUMNS",
    "SUBJECT_KINDS",
    "Credit",
    "county_ranking",
    "export_rows",
    "penalty_days",
    "pending_appeal",
]

SUBJECT_KINDS = ("enterprise", "institution", "operator", "supplier")
STAFF = ("regulator",)
APPEAL_ACTIONS = ("appealed", "appeal_upheld", "appeal_rejected", "repaired")
REPAIR_MIN_DAYS = 365  # a data-fraud listing may be repaired after a year at the earliest
CHINA = timezone(timedelta(hours=8))
EXPORT_COLUMNS = (
    ("统一社会信用代码", "subject_id"),
    ("名称", "subject_name"),
    ("主体类别", "subject_kind"),
    ("行政区划", "region"),
    ("列入事由", "reason"),
    ("决定文书号", "decision"),
    ("列入日期", "starts_on"),
    ("移出日期", "ends_on"),
    ("状态", "state"),
    ("账本条目", "entry"),
)


def _now_us() -> int:
    return time.time_ns() // 1000


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise RecordError(
            "bad_date", f"{what} 须为日期 YYYY-MM-DD：{text!r} | {what}: a date YYYY-MM-DD"
        ) from None


def _midnight(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=CHINA).timestamp())


def _local_date(t: int) -> str:
    return datetime.fromtimestamp(t, CHINA).date().isoformat()


def penalty_days(served_on: date, rechecked_on: date | None, result: str | None) -> tuple[int, str]:
    """The number of days of a continuous daily penalty and the rule applied: counted from the day after the
    order was served up to the recheck that found the violation continuing, both included; none when the recheck
    found it corrected or has not happened."""
    if rechecked_on is None or result is None:
        return 0, "尚未复查 | not rechecked yet: no continuous penalty can be counted"
    if result != "continued":
        return 0, "复查时已改正 | corrected by the recheck: no continuous penalty"
    days = (rechecked_on - served_on).days
    return max(0, days), (
        f"自责令改正决定书送达之日的次日（{served_on + timedelta(days=1)}）起至复查发现违法排污行为仍在继续之日"
        f"（{rechecked_on}）止，共 {max(0, days)} 日（《环境保护法》第五十九条；环境保护部令第28号第十三至十七条）| "
        f"from the day after the order was served ({served_on + timedelta(days=1)}) to the recheck that found the "
        f"violation continuing ({rechecked_on}), both included: {max(0, days)} days (Environmental Protection Law "
        "art. 59; MEP Order No. 28 arts. 13–17)"
    )


class Credit:
    """Credit events, the blacklist and orders to rectify of one store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # -- shared checks -------------------------------------------------------------------------------------
    def _staff(self, username: str, region: str) -> dict[str, Any]:
        account = self.store.account(username)
        if account is None or not account["active"] or account["role"] not in STAFF:
            raise RecordError(
                "forbidden", "只有监管部门可以作出该决定 | only a regulator decides this", status=403
            )
        if not region.startswith(account["region"] or "\0"):
            raise RecordError(
                "forbidden", f"{region} 不在您的辖区内 | {region} is outside your region", status=403
            )
        return account

    def _evidence(self, refs: Sequence[str], username: str, *, required: bool = True) -> str:
        """The cited records as stored: each must exist and be readable by the one who cites it."""
        if required and not refs:
            raise RecordError("missing", "须列出账本中的证据 | name the ledgered evidence")
        account = self.store.account(username) if refs else None
        for ref in refs:
            if not REF.match(ref):
                raise RecordError("bad_ref", f"证据编号无效：{ref!r} | not a record reference: {ref!r}")
            if not readable(self.store, ref, account):
                raise RecordError("no_record", f"没有记录 {ref} | no record {ref}", status=404)
        return json.dumps(sorted(set(refs)))

    def _subject(self, kind: str, subject_id: str, name: str, region: str) -> str:
        """Check the subject; its region: a registered enterprise's from the registry (a typed region must be it or
        contain it), else the one typed."""
        if kind not in SUBJECT_KINDS:
            raise RecordError(
                "bad_kind",
                f"主体类别须为 {', '.join(SUBJECT_KINDS)} | kind: one of {', '.join(SUBJECT_KINDS)}",
            )
        if not subject_id.strip() or not name.strip() or len(subject_id) > 64 or len(name) > 200:
            raise RecordError("missing", "须有主体代码和名称 | the subject's code and name are required")
        subject_id, name = (
            identifier(subject_id, "主体代码|the subject's code"),
            identifier(name, "名称|the name"),
        )
        if not re.fullmatch(r"[0-9A-Z]{2,64}", subject_id.upper()):
            raise RecordError(
                "bad_value", f"主体代码只含字母和数字：{subject_id!r} | a code is letters and digits"
            )
        by_id, by_name = registered(self.store, subject_id), registered(self.store, name)
        if by_id is not None and by_name is not None and by_id[1] != by_name[1]:
            raise RecordError(
                "bad_subject",
                f"{subject_id} 与 {name} 是两家登记企业 | {subject_id} and {name} are two registered enterprises",
            )
        found = by_id or by_name  # a registered enterprise, by its code (however spelled) or by its name
        home = found[0] if found is not None else None
        if home is not None and len(home) >= 2:
            if region and not home.startswith(region):
                raise RecordError(
                    "bad_region",
                    f"{subject_id} 登记在 {home}，不在 {region} | {subject_id} is registered in {home}, not in {region}",
                )
            return home
        if not re.fullmatch(r"[0-9]{2,12}", region or ""):
            raise RecordError("bad_region", f"行政区划代码无效：{region!r} | not a division code: {region!r}")
        return region

    @staticmethod
    def _words(text: str, what: str, limit: int = 2000) -> str:
        text = (text or "").strip()
        if not text or len(text) > limit:
            raise RecordError(
                "missing", f"须填写{what}（{limit} 字以内）| {what} is required (≤ {limit} characters)"
            )
        return text

    # -- credit events -------------------------------------------------------------------------------------
    def record_event(
        self,
        *,
        username: str,
        subject_kind: str,
        subject_id: str,
        subject_name: str,
        region: str,
        kind: str,
        points: int,
        reason: str,
        evidence: Sequence[str],
        decision: str,
    ) -> dict[str, Any]:
        """A credit event decided by a regulator of the subject's region, tied to ledgered evidence."""
        region = self._subject(subject_kind, subject_id, subject_name, region)
        if (
            kind not in ("negative", "positive")
            or (points < 0) != (kind == "negative")
            or not -100 <= points <= 100
        ):
            raise RecordError(
                "bad_value",
                "负面事件扣分、正面事件加分，每次 100 分以内 | negative events take points, positive add, ≤ 100",
            )
        self._staff(username, region)
        with self.store.quality_tx() as tx:
            row = tx.record(
                "credit_events",
                {
                    "subject_kind": subject_kind, "subject_id": subject_id.strip(), "subject_name": subject_name.strip(),
                    "region": region, "kind": kind, "points": int(points), "reason": self._words(reason, "事由"),
                    "evidence": self._evidence(evidence, username), "decision": self._words(decision, "决定文书号", 200),
                    "decided_by": username, "at_us": _now_us(),
                },
            )  # fmt: skip
            tx.finish()
        return row

    def scores(self) -> list[dict[str, Any]]:
        """Per subject: the score (100 plus every event's points) and its events, lowest first."""
        subjects: dict[str, dict[str, Any]] = {}
        for e in self.store.quality_rows("credit_events"):
            s = subjects.setdefault(e["subject_id"], {"subject_id": e["subject_id"], "subject_name": e["subject_name"],
                                                       "subject_kind": e["subject_kind"], "region": e["region"],
                                                       "score": 100, "events": []})  # fmt: skip
            s["score"] += int(e["points"])
            s["events"].append({**e, "evidence": json.loads(e["evidence"])})
        return sorted(subjects.values(), key=lambda s: (s["score"], s["subject_id"]))

    # -- blacklist -----------------------------------------------------------------------------------------
    def blacklist(
        self,
        *,
        username: str,
        subject_kind: str,
        subject_id: str,
        subject_name: str,
        region: str,
        reason: str,
        evidence: Sequence[str],
        decision: str,
        starts_on: str,
        ends_on: str,
    ) -> dict[str, Any]:
        """List a monitoring institution, operator or supplier (or an enterprise) from ``starts_on`` to ``ends_on``
        (local dates, the end excluded)."""
        region = self._subject(subject_kind, subject_id, subject_name, region)
        start, end = _day(starts_on, "列入日期"), _day(ends_on, "移出日期")
        if end <= start:
            raise RecordError("bad_span", "移出日期须晚于列入日期 | the end must be after the start")
        self._staff(username, region)
        with self.store.quality_tx() as tx:
            row = tx.record(
                "blacklist",
                {
                    "subject_kind": subject_kind, "subject_id": subject_id.strip(), "subject_name": subject_name.strip(),
                    "region": region, "reason": self._words(reason, "事由"), "evidence": self._evidence(evidence, username),
                    "decision": self._words(decision, "决定文书号", 200), "starts": _midnight(start),
                    "ends": _midnight(end), "listed_by": username, "at_us": _now_us(),
                },
            )  # fmt: skip
            tx.finish()
        return row

    def blacklist_step(
        self, listing_id: int, *, action: str, note: str, username: str, evidence: Sequence[str] = ()
    ) -> dict[str, Any]:
        """An appeal (by the listed party's account, or staff on its behalf), its decision, or a credit repair."""
        if action not in APPEAL_ACTIONS:
            raise RecordError(
                "bad_kind",
                f"操作须为 {', '.join(APPEAL_ACTIONS)} | action: one of {', '.join(APPEAL_ACTIONS)}",
            )
        rows = self.store.quality_rows("blacklist", id=listing_id)
        if not rows:
            raise RecordError(
                "no_listing", f"没有黑名单记录 #{listing_id} | no listing #{listing_id}", status=404
            )
        listing = rows[0]
        account = self.store.account(username)
        if action == "appealed":
            own = account is not None and account["role"] in ("enterprise", "operator") and account["enterprise_id"] is not None \
                and account["enterprise_id"] == self.store.enterprise_id(listing["subject_id"])  # fmt: skip
            if not own:
                self._staff(username, listing["region"])
        else:
            self._staff(username, listing["region"])
        now = self.clock()
        with self.store.quality_tx() as tx:
            events = tx.rows("blacklist_events", blacklist_id=listing_id)
            state = _listing_state(listing, events, now)
            if state in ("removed", "repaired", "expired"):
                raise RecordError("ended", "该记录已结束 | the listing has ended", status=409)
            pending = pending_appeal(events)
            if action == "appealed" and pending:
                raise RecordError("pending", "已有待决的申诉 | an appeal is pending", status=409)
            if action in ("appeal_upheld", "appeal_rejected") and not pending:
                raise RecordError("no_appeal", "没有待决的申诉 | no pending appeal", status=409)
            if action == "repaired" and now < listing["starts"] + REPAIR_MIN_DAYS * 86400:
                raise RecordError(
                    "too_early",
                    f"列入满 {REPAIR_MIN_DAYS} 日后方可信用修复 | credit repair only after {REPAIR_MIN_DAYS} days listed",
                    status=409,
                )
            row = tx.record(
                "blacklist_events",
                {"blacklist_id": listing_id, "action": action, "note": self._words(note, "说明"),
                 "evidence": self._evidence(evidence, username, required=action == "repaired"), "who": username,
                 "at_us": _now_us()},
            )  # fmt: skip
            tx.finish()
        return row

    def listings(self, *, active_only: bool = False) -> list[dict[str, Any]]:
        """Every listing with its state and events (``active_only``: those in force now), newest first."""
        now = self.clock()
        events: dict[int, list[dict[str, Any]]] = {}
        for e in self.store.quality_rows("blacklist_events"):
            events.setdefault(int(e["blacklist_id"]), []).append({**e, "evidence": json.loads(e["evidence"])})
        out = []
        for row in reversed(self.store.quality_rows("blacklist")):
            evs = events.get(int(row["id"]), [])
            state = _listing_state(row, evs, now)
            if active_only and state not in ("listed", "appealed"):
                continue
            out.append({**row, "evidence": json.loads(row["evidence"]), "events": evs, "state": state,
                        "starts_on": _local_date(row["starts"]), "ends_on": _local_date(row["ends"]),
                        "entry": self.store.entry_index(f"blacklist/{row['id']}")})  # fmt: skip
        return out

    # -- orders and continuous daily penalties ----------------------------------------------------------------
    def order(
        self,
        *,
        username: str,
        order_no: str,
        enterprise: str,
        mns: Sequence[str],
        violation: str,
        evidence: Sequence[str],
        served_on: str,
    ) -> dict[str, Any]:
        """An order to rectify served on an enterprise for the violation shown by ``evidence`` at ``mns``."""
        scopes = self.store.point_scopes()
        if not mns or any(mn not in scopes for mn in mns):
            raise RecordError("no_point", "须列出已登记的监测点 | name registered points", status=404)
        if len({scopes[mn][1] for mn in mns}) > 1:
            raise RecordError(
                "bad_points", "一份决定只针对一家企业的监测点 | an order names one enterprise's points"
            )
        region = common_region([scopes[mn][0] for mn in mns])
        served = _day(served_on, "送达日期")
        if _midnight(served) > self.clock() + 86400:
            raise RecordError("in_future", "送达日期晚于今天 | served in the future", status=422)
        for mn in mns:  # every point in the regulator's region
            self._staff(username, scopes[mn][0])
        cited = self._evidence(evidence, username)
        [owner] = [p.enterprise for p in self.store.points(mns[0])]
        if not (same_name(enterprise, owner.name) or same_name(enterprise, owner.credit_code or "")):
            raise RecordError(
                "bad_points",
                f"监测点属于 {owner.name}，不是 {enterprise} | the points belong to {owner.name}, not {enterprise}",
            )
        with self.store.quality_tx() as tx:
            row = tx.record(
                "orders",
                {"order_no": self._words(order_no, "决定书文号", 200), "enterprise": self._words(enterprise, "企业", 200),
                 "mns": json.dumps(sorted(set(mns))), "region": region, "violation": self._words(violation, "违法行为"),
                 "evidence": cited, "served_on": served.isoformat(), "issued_by": username,
                 "at_us": _now_us()},
            )  # fmt: skip
            tx.finish()
        return row

    def recheck(
        self,
        order_id: int,
        *,
        username: str,
        rechecked_on: str,
        result: str,
        note: str,
        evidence: Sequence[str] = (),
    ) -> dict[str, Any]:
        """The recheck of an order (MEP Order No. 28: within 30 days of service): ``continued`` or ``rectified``."""
        if result not in ("continued", "rectified"):
            raise RecordError(
                "bad_kind", "复查结论须为 continued 或 rectified | result: continued or rectified"
            )
        order = self._order(order_id)
        self._staff(username, order["region"])
        day = _day(rechecked_on, "复查日期")
        if day <= date.fromisoformat(order["served_on"]):
            raise RecordError("bad_span", "复查须在送达之后 | the recheck comes after the service")
        if _midnight(day) > self.clock() + 86400:
            raise RecordError("in_future", "复查日期晚于今天 | rechecked in the future", status=422)
        with self.store.quality_tx() as tx:
            if tx.rows("order_rechecks", order_id=order_id):
                raise RecordError("rechecked", "该决定已复查；继续违法的，另行责令改正 | rechecked already: a "
                                  "continuing violation gets a new order", status=409)  # fmt: skip
            row = tx.record(
                "order_rechecks",
                {"order_id": order_id, "rechecked_on": day.isoformat(), "result": result,
                 "note": self._words(note, "复查情况"), "evidence": self._evidence(evidence, username, required=False),
                 "who": username, "at_us": _now_us()},
            )  # fmt: skip
            tx.finish()
        return row

    def _order(self, order_id: int) -> dict[str, Any]:
        rows = self.store.quality_rows("orders", id=order_id)
        if not rows:
            raise RecordError("no_order", f"没有责令改正决定 #{order_id} | no order #{order_id}", status=404)
        return rows[0]

    def penalty(self, order_id: int) -> dict[str, Any]:
        """The continuous daily penalty of an order: the days, the rule, and per day the alarms showing the
        violation went on (exceedance and tampering alarms of the order's points)."""
        order = self._order(order_id)
        rechecks = self.store.quality_rows("order_rechecks", order_id=order_id)
        served = date.fromisoformat(order["served_on"])
        recheck = rechecks[0] if rechecks else None
        on = date.fromisoformat(recheck["rechecked_on"]) if recheck else None
        days, rule = penalty_days(served, on, recheck["result"] if recheck else None)
        basis = []
        if days:
            mns = json.loads(order["mns"])
            alarms = [
                a
                for a in self.store.alarms(mn=mns, closed=None)
                if a["category"] in ("exceedance", "tampering")
            ]
            for i in range(1, days + 1):
                d = served + timedelta(days=i)
                lo, hi = _midnight(d), _midnight(d + timedelta(days=1))
                seen = [
                    f"alarms/{a['id']}"
                    for a in alarms
                    if int(a["start_time"]) < hi and int(a["end_time"]) > lo
                ]
                basis.append({"date": d.isoformat(), "alarms": sorted(seen)})
        return {
            "order": {**order, "mns": json.loads(order["mns"]), "evidence": json.loads(order["evidence"])},
            "recheck": {**recheck, "evidence": json.loads(recheck["evidence"])} if recheck else None,
            "days": days,
            "rule": rule,
            "days_with_alarms": sum(1 for b in basis if b["alarms"]),
            "basis": basis,
        }


def pending_appeal(events: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an appeal waits for its decision in a listing's trail."""
    pending = False
    for e in events:
        if e["action"] == "appealed":
            pending = True
        elif e["action"] in ("appeal_upheld", "appeal_rejected"):
            pending = False
    return pending


def _listing_state(listing: Mapping[str, Any], events: Sequence[Mapping[str, Any]], now: float) -> str:
    actions = [e["action"] for e in events]
    if "appeal_upheld" in actions:
        return "removed"
    if "repaired" in actions:
        return "repaired"
    if now >= listing["ends"]:
        return "expired"
    if now < listing["starts"]:
        return "scheduled"
    return "appealed" if pending_appeal(events) else "listed"


def export_rows(listings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The listings as the credit-sharing platform takes them: one row per listing, the columns of
    ``EXPORT_COLUMNS`` (Chinese header, the field it comes from)."""
    return [{header: item.get(key, "") for header, key in EXPORT_COLUMNS} for item in listings]


def county_ranking(
    store: Store, region: str, *, since: int = 0, until: int | None = None
) -> list[dict[str, Any]]:
    """Counties of ``region`` ranked by confirmed fraud plus interference in ``[since, until)`` (inspected, rechecked,
    listed, occurred), each number with the records behind it, and per 100 monitoring points."""
    until = until if until is not None else 2**62
    counties: dict[str, dict[str, Any]] = {}

    def county(code: str) -> dict[str, Any]:
        key = code[:6]
        return counties.setdefault(key, {"county": key, "points": 0, "fraud_inspections": [], "continued_orders": [],
                                         "blacklistings": [], "interference": []})  # fmt: skip

    for where, _ in store.point_scopes().values():
        if where.startswith(region):
            county(where)["points"] += 1

    def inside(where: str, at: int) -> bool:
        return where.startswith(region) and since <= at < until

    for r in store.quality_rows("inspections"):
        if r["outcome"] == "fraud" and inside(r["region"], int(r["inspected_at"])):
            county(r["region"])["fraud_inspections"].append(f"inspections/{r['id']}")
    orders = {int(o["id"]): o for o in store.quality_rows("orders")}
    for r in store.quality_rows("order_rechecks"):
        o = orders.get(int(r["order_id"]))
        on = _midnight(date.fromisoformat(r["rechecked_on"]))
        if o is not None and r["result"] == "continued" and inside(o["region"], on):
            county(o["region"])["continued_orders"].append(f"orders/{o['id']}")
    for r in store.quality_rows("blacklist"):
        if inside(r["region"], int(r["starts"])):
            county(r["region"])["blacklistings"].append(f"blacklist/{r['id']}")
    for r in store.quality_rows("interference"):
        if inside(r["region"], int(r["occurred_at"])):
            county(r["region"])["interference"].append(f"interference/{r['id']}")
    out = []
    for c in counties.values():
        fraud = len(c["fraud_inspections"]) + len(c["continued_orders"]) + len(c["blacklistings"])
        total = fraud + len(c["interference"])
        out.append({**c, "confirmed_fraud": fraud, "total": total,
                    "per_100_points": round(100 * total / c["points"], 2) if c["points"] else None})  # fmt: skip
    out.sort(key=lambda c: (-c["total"], -(c["per_100_points"] or 0), c["county"]))
    for rank, c in enumerate(out, start=1):
        c["rank"] = rank
    return out
