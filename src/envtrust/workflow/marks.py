"""Enterprise data marks (MEE 2022 No. 21): an enterprise marks a span of its data as stopped, start-up/shut-down,
maintenance, calibration, fault or communication failure; marked data are not used to judge exceedance.

Each mark is made by an enterprise or operator account of the point's enterprise, signed with that person's key
(:mod:`envtrust.workflow.signing`), ledgered with the time it was made — a mark made after the fact shows its lag.
A mark the data contradict (marked "stopped" while flow and temperature show operation; marked "calibration"
without a zero or span pattern) is *contested* by the check ``mark_contested`` (:mod:`envtrust.qc.marks`) and then
excludes nothing until a regulator decides: ``uphold`` restores the exclusion, ``reject`` ends it; both are signed.
The enterprise may withdraw its own mark.  Nothing is ever updated: the state of a mark is its events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import RecordError
from ..qc import qa
from ..qc.marks import MARK_CODES, Mark
from ..store import Store
from .lab import Lab, Signed
from .qa import QualityRecords

__all__ = ["DECISIONS", "Marks", "QualityWatch", "mark_contexts", "mark_rows", "marks_for_checks"]

DECISIONS = ("uphold", "reject")
ENTERPRISE_ROLES = ("enterprise", "operator")
REGULATOR_ROLES = ("regulator", "inspector")
MAX_SPAN_S = 31 * 86400


def _now_us() -> int:
    return time.time_ns() // 1000


class Marks:
    """The data marks of one store.  ``recheck(mn, start, end)`` re-runs the point's checks after a mark or a
    decision (services wire it to the checks and the alarm book)."""

    def __init__(
        self,
        store: Store,
        *,
        origin: str,
        activation_s: int = 24 * 3600,
        clock: Callable[[], float] = time.time,
        recheck: Callable[[str, int, int | None], dict[str, int]] | None = None,
    ) -> None:
        self.store = store
        self.signer = Lab(store, origin=origin, activation_s=activation_s, clock=clock)
        self.clock = clock
        self.recheck = recheck

    def _point_scope(self, mn: str) -> tuple[str, int]:
        scope = self.store.point_scopes().get(mn)
        if scope is None:
            raise RecordError("no_point", f"监测点 {mn} 未登记 | no registered point {mn}", status=404)
        return scope

    def make(
        self,
        mn: str,
        *,
        code: str,
        start: int,
        end: int,
        reason: str,
        username: str,
        signed: Signed,
        pollutants: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A mark by an enterprise or operator account of the point's enterprise, signed by that person."""
        if code not in MARK_CODES:
            raise RecordError(
                "bad_kind", f"标记类型须为 {', '.join(MARK_CODES)} | code: one of {', '.join(MARK_CODES)}"
            )
        if end <= start or end - start > MAX_SPAN_S:
            raise RecordError(
                "bad_span",
                "标记时段须为 31 天以内的正时段 | a mark spans more than nothing and at most 31 days",
            )
        if not reason.strip():
            raise RecordError("missing", "须说明理由 | a reason is required")
        _, enterprise_id = self._point_scope(mn)
        account = self.store.account(username)
        if (
            account is None
            or account["role"] not in ENTERPRISE_ROLES
            or account["enterprise_id"] != enterprise_id
        ):
            raise RecordError(
                "forbidden",
                "只有该企业的账户可以标记其数据 | only the point's enterprise marks its data",
                status=403,
            )
        codes = sorted(set(pollutants)) if pollutants else None
        now = int(self.clock())
        with self.store.quality_tx() as tx:
            subject = {
                "mn": mn,
                "code": code,
                "start": start,
                "end": end,
                "pollutants": codes,
                "reason": reason.strip(),
            }
            sig = self.signer.sign_in(tx, username, "mark.data", account["role"], subject, [], signed)
            row = tx.record(
                "data_marks",
                {
                    "mn": mn,
                    "pollutants": json.dumps(codes) if codes is not None else None,
                    "code": code,
                    "start": start,
                    "end": end,
                    "reason": reason.strip(),
                    "made_by": username,
                    "sig_id": sig["id"],
                    "lag_s": now - start,
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        self._rechecked(mn, start, end)
        return row

    def _mark(self, mark_id: int) -> dict[str, Any]:
        rows = self.store.quality_rows("data_marks", id=mark_id)
        if not rows:
            raise RecordError("no_mark", f"没有标记 #{mark_id} | no mark #{mark_id}", status=404)
        return rows[0]

    def _event(
        self, mark_id: int, action: str, reason: str, username: str, signed: Signed, role: str
    ) -> dict[str, Any]:
        mark = self._mark(mark_id)
        if not reason.strip():
            raise RecordError("missing", "须说明理由 | a reason is required")
        with self.store.quality_tx() as tx:
            events = tx.rows("mark_events", mark_id=mark_id)
            if any(e["action"] == "withdraw" for e in events):
                raise RecordError("withdrawn", "该标记已撤回 | the mark was withdrawn", status=409)
            subject = {"mark_id": mark_id, "action": action, "reason": reason.strip()}
            refs = [
                {
                    "rel": "mark",
                    "record": f"data_marks/{mark_id}",
                    "entry": self.store.entry_index(f"data_marks/{mark_id}"),
                }
            ]
            sig = self.signer.sign_in(tx, username, "mark.event", role, subject, refs, signed)
            row = tx.record(
                "mark_events",
                {
                    "mark_id": mark_id,
                    "action": action,
                    "reason": reason.strip(),
                    "who": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        self._rechecked(mark["mn"], mark["start"], mark["end"])
        return row

    def decide(
        self, mark_id: int, *, decision: str, reason: str, username: str, signed: Signed
    ) -> dict[str, Any]:
        """A regulator's signed decision on a mark: ``uphold`` (its data stay excluded even if the data contest
        it) or ``reject`` (its data count)."""
        if decision not in DECISIONS:
            raise RecordError("bad_kind", f"决定须为 uphold 或 reject | decision: {' or '.join(DECISIONS)}")
        mark = self._mark(mark_id)
        region, _ = self._point_scope(mark["mn"])
        account = self.store.account(username)
        if (
            account is None
            or account["role"] not in REGULATOR_ROLES
            or not region.startswith(account["region"] or "\0")
        ):
            raise RecordError(
                "forbidden", "只有辖区监管人员可以裁定 | only a regulator of the region decides", status=403
            )
        return self._event(mark_id, decision, reason, username, signed, account["role"])

    def withdraw(self, mark_id: int, *, reason: str, username: str, signed: Signed) -> dict[str, Any]:
        """The enterprise withdraws its own mark (its data count again); the mark stays on record."""
        mark = self._mark(mark_id)
        _, enterprise_id = self._point_scope(mark["mn"])
        account = self.store.account(username)
        if (
            account is None
            or account["role"] not in ENTERPRISE_ROLES
            or account["enterprise_id"] != enterprise_id
        ):
            raise RecordError(
                "forbidden",
                "只有该企业可以撤回标记 | only the point's enterprise withdraws its marks",
                status=403,
            )
        return self._event(mark_id, "withdraw", reason, username, signed, account["role"])

    def _rechecked(self, mn: str, start: int, end: int) -> None:
        if self.recheck is not None:
            self.recheck(mn, start, end)

    def rows(self, mns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return mark_rows(self.store, mns)

    def for_checks(self, mns: Sequence[str] | None = None) -> dict[str, list[Mark]]:
        return marks_for_checks(self.store, mns)


def mark_rows(store: Store, mns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Marks with their events and current state (``effective`` until decided or withdrawn), by start."""
    if mns is None:
        marks = store.quality_rows("data_marks", order="start")
    else:
        marks = store.quality_rows("data_marks", order="start", mn=list(mns))
    events: dict[int, list[dict[str, Any]]] = {}
    for e in store.quality_rows("mark_events"):
        events.setdefault(int(e["mark_id"]), []).append(e)
    out = []
    for m in marks:
        evs = events.get(int(m["id"]), [])
        state = "effective"
        for e in evs:
            state = {"uphold": "upheld", "reject": "rejected", "withdraw": "withdrawn"}.get(
                e["action"], state
            )
        codes = json.loads(m["pollutants"]) if m["pollutants"] else None
        out.append({**m, "pollutants": codes, "events": evs, "state": state})
    return out


def marks_for_checks(store: Store, mns: Sequence[str] | None = None) -> dict[str, list[Mark]]:
    """Per point, the marks as the checks see them (withdrawn marks left out, decisions applied)."""
    out: dict[str, list[Mark]] = {}
    for m in mark_rows(store, mns):
        if m["state"] == "withdrawn":
            continue
        decision = {"upheld": "uphold", "rejected": "reject"}.get(m["state"])
        out.setdefault(m["mn"], []).append(
            Mark(
                f"data_marks/{m['id']}",
                m["code"],
                int(m["start"]),
                int(m["end"]),
                tuple(m["pollutants"]) if m["pollutants"] else None,
                decision,
                int(m["at_us"]) // 1_000_000,
            )
        )
    return out


class QualityWatch:
    """Which points' quality records changed since the last look (for the streaming monitor, which re-reads them
    every sweep: only the points whose analysers, checks, comparisons, marks or decisions changed are recomputed;
    a change of the criteria recomputes every point)."""

    # table -> the column that leads to the point (directly, or through an analyser or a mark)
    TABLES = (
        ("qa_criteria", "id"),
        ("analysers", "mn"),
        ("qa_checks", "analyser_id"),
        ("comparisons", "analyser_id"),
        ("data_marks", "mn"),
        ("mark_events", "mark_id"),
    )

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: dict[str, int] | None = None  # None: never looked (everything changed)

    def changed(self) -> set[str] | None:
        """The MNs whose records changed since the last call; None: every point (first call, criteria)."""
        first = self.seen is None
        seen = self.seen or {t: 0 for t, _ in self.TABLES}
        touched: set[str] = set()
        everything = first
        for table, column in self.TABLES:
            rows = self.store.quality_rows_after(table, seen[table], column)
            if not rows:
                continue
            seen[table] = int(rows[-1][0])
            if table == "qa_criteria":
                everything = True
            elif column == "mn":
                touched |= {str(r[1]) for r in rows}
            elif column == "analyser_id" and not everything:
                ids = sorted({int(r[1]) for r in rows})
                touched |= {a["mn"] for a in self.store.quality_rows("analysers", id=ids)}
            elif column == "mark_id" and not everything:
                ids = sorted({int(r[1]) for r in rows})
                touched |= {m["mn"] for m in self.store.quality_rows("data_marks", id=ids)}
        self.seen = seen
        return None if everything else touched


def mark_contexts(store: Store, mns: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The quality context of each point's checks (every point with an analyser, or those of ``mns``): what the
    mark contest rules need — each analyser's full scale, the reference of its last span check, the times of its
    checks — and ``drift``: the analysers whose QAL3 CUSUM alarms at their newest check (check ``qa_drift_trend``)."""
    out: dict[str, dict[str, Any]] = {}
    if mns is None:
        analysers = store.quality_rows("analysers", order="valid_from")
    else:
        analysers = store.quality_rows("analysers", order="valid_from", mn=list(mns)) if mns else []
    by_id = {a["id"]: a for a in analysers}
    for a in analysers:
        ctx = out.setdefault(a["mn"], {"full_scale": {}, "span_values": {}, "check_times": [], "drift": []})
        ctx["full_scale"][a["pollutant"]] = float(a["range_high"]) - float(a["range_low"])
    series: dict[tuple[int, str], list[dict[str, Any]]] = {}
    if by_id:
        for c in store.quality_rows("qa_checks", order="started", analyser_id=list(by_id)):
            a = by_id[c["analyser_id"]]
            ctx = out[a["mn"]]
            ctx["check_times"].append(int(c["started"]))
            if c["kind"] == "span":
                ctx["span_values"][a["pollutant"]] = float(c["reference_value"])
            series.setdefault((int(a["id"]), c["kind"]), []).append(c)
    if series:
        replaced = {int(a["replaces_id"]) for a in analysers if a["replaces_id"] is not None}
        criteria = QualityRecords(store).criteria()
        params = criteria.cusum_parameters()
        for (aid, kind), rows in series.items():
            a = by_id[aid]
            if aid in replaced:
                continue
            try:
                s_ams = a["s_ams"] or criteria.profile(a["profile"]).default_s_ams(kind)
            except qa.QaError:
                continue
            if not s_ams:
                continue
            resets = [False] + [bool(r["adjusted"]) or r["verdict"] == "fail" for r in rows[:-1]]
            last = qa.cusum([float(r["value"]) for r in rows], float(s_ams), resets=resets, **params)[-1]
            if last.drift_alarm or last.precision_alarm:
                r = rows[-1]
                out[a["mn"]]["drift"].append(
                    {
                        "code": a["pollutant"],
                        "analyser": f"analysers/{aid}",
                        "kind": kind,
                        "record": f"qa_checks/{r['id']}",
                        "started": int(r["started"]),
                        "ended": int(r["ended"]),
                        "deviation": last.deviation,
                        "p": last.p,
                        "n": last.n,
                        "s": last.s,
                        "s_ams": float(s_ams),
                        "drift_alarm": last.drift_alarm,
                        "precision_alarm": last.precision_alarm,
                        "estimated_drift": last.estimated_drift,
                    }
                )
    return out
