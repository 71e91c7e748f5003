"""Quality-assurance records of analysers: registration, certified reference lots, zero/span/standard checks,
comparisons with the reference method and maintenance — each an insert-only row and a ledger entry, judged against
the criteria in force (:mod:`envtrust.qc.qa`, decision 0012).

What the records mean for the data: :meth:`QualityRecords.blocked` turns failed checks and comparisons into the
spans in which an analyser was out of control (失控); the checks treat data inside them as invalid, and recording a
result re-runs the checks of the point over the span it touches, so alarms follow (``recheck``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import RecordError
from ..qc import qa
from ..registry import Point
from ..services import to_utc_epoch
from ..store import Store
from ..store.quality import QualityTx

__all__ = [
    "CHECK_KINDS",
    "LOT_ZONE",
    "MAINTENANCE_KINDS",
    "QualityRecords",
    "Recorded",
    "decimal_text",
    "known_lot",
    "usable_lot",
]

CHECK_KINDS = ("zero", "span", "standard")
MAINTENANCE_KINDS = ("maintenance", "repair", "fault", "parameter_change", "replacement", "verification")
LOT_ZONE = "Asia/Shanghai"  # a lot's expiry date is a date of the certificate, read in China's zone
FUTURE_SKEW_S = 300  # a record may not start later than this after the server's time
MIN_RUN_COVERAGE = 0.75  # a comparison run needs this share of its minutes with valid readings [D]
_WHO_MAX = 64


def _now_us() -> int:
    return time.time_ns() // 1000


def decimal_text(text: str | float | int, what: str) -> str:
    """A number as typed, checked to be a finite decimal (kept as text: significant figures are part of a result)."""
    raw = str(text).strip()
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise RecordError(
            "bad_value", f"{what}：{raw!r} 不是数字 | {what}: {raw!r} is not a number"
        ) from None
    if not d.is_finite():
        raise RecordError("bad_value", f"{what}：{raw!r} 不是有限数 | {what}: {raw!r} is not a finite number")
    return raw


def lot_expiry(expires_on: str) -> int:
    """The first second (UTC epoch) at which a lot that expires on ``expires_on`` may no longer be used: the end of
    that day in China's zone."""
    day = date.fromisoformat(expires_on)
    return to_utc_epoch(datetime.combine(day + timedelta(days=1), datetime.min.time()), LOT_ZONE)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A record as stored, with its ledger index, and what re-checking the point changed."""

    row: dict[str, Any]
    entry: int
    rechecked: dict[str, int] | None = None


class QualityRecords:
    """The quality records of one store.

    ``recheck`` is called with ``(mn, start, end)`` after a check or comparison that changes a point's
    out-of-control spans has been recorded (services wire it to the checks and the alarm book); None leaves it to
    the caller."""

    def __init__(
        self,
        store: Store,
        *,
        recheck: Callable[[str, int, int | None], dict[str, int]] | None = None,
        clock: Callable[[], float] = time.time,
        origin: str | None = None,
        activation_s: int = 24 * 3600,
    ) -> None:
        self.store = store
        self.recheck = recheck
        self.clock = clock
        self.origin = origin  # the ledger's name: needed only to sign records (key names)
        self.activation_s = activation_s

    def _record_signed(
        self, tx: QualityTx, table: str, act: str, values: dict[str, Any], who: str, signed: Any
    ) -> dict[str, Any]:
        """Insert a record; with ``signed`` (a :class:`~envtrust.workflow.lab.Signed`), first the signature of
        ``who`` over exactly its values — the person who records it vouches for it with their own key."""
        if signed is not None:
            from .lab import Lab

            if self.origin is None:
                raise RecordError("no_origin", "signing needs the ledger's origin")
            account = self.store.account(who)
            if account is None:
                raise RecordError("no_account", f"没有账户 {who} | no account {who}", status=404)
            subject = {k: v for k, v in values.items() if k != "at_us"}
            lab = Lab(self.store, origin=self.origin, activation_s=self.activation_s, clock=self.clock)
            sig = lab.sign_in(tx, who, act, str(account["role"]), subject, [], signed)
            values = {**values, "sig_id": sig["id"]}
        return tx.record(table, values)

    # ------------------------------------------------------------------ criteria
    def criteria(self) -> qa.Criteria:
        """The criteria in force: the newest ledgered set, else the defaults."""
        rows = self.store.quality_rows("qa_criteria", order="id")
        if not rows:
            return qa.Criteria.from_config(None)
        return qa.Criteria.from_config(json.loads(rows[-1]["config"]))

    def set_criteria(self, overrides: Mapping[str, Any] | None, *, who: str, why: str) -> Recorded | None:
        """Bring criteria into force (``overrides`` on top of the defaults); ledgered when they differ from those in
        force (None when nothing changed)."""
        try:
            criteria = qa.Criteria.from_config(overrides)
        except qa.QaError as exc:
            raise RecordError(exc.code, str(exc)) from None
        with self.store.quality_tx() as tx:
            now = tx.criteria()
            if now is not None and now["digest"] == criteria.digest:
                return None
            row = self._insert_criteria(tx, criteria, who, why)
            entry = tx.finish()
        assert entry is not None
        return Recorded(row, entry)

    def _insert_criteria(self, tx: QualityTx, criteria: qa.Criteria, who: str, why: str) -> dict[str, Any]:
        return tx.record(
            "qa_criteria",
            {
                "digest": criteria.digest,
                "config": json.dumps(criteria.config, sort_keys=True, ensure_ascii=False),
                "who": _who(who),
                "why": why,
                "at_us": _now_us(),
            },
        )

    def _criteria_in(self, tx: QualityTx, who: str) -> qa.Criteria:
        """The criteria in force inside a transaction; the defaults are ledgered the first time they are used, so
        every verdict's ``criteria_digest`` names a ledgered set."""
        row = tx.criteria()
        if row is None:
            criteria = qa.Criteria.from_config(None)
            self._insert_criteria(tx, criteria, who, "default criteria (decision 0012), first used")
            return criteria
        return qa.Criteria.from_config(json.loads(row["config"]))

    # ------------------------------------------------------------------ analysers
    def _point(self, mn: str) -> Point:
        point = next((p for p in self.store.points() if p.mn == mn), None)
        if point is None:
            raise RecordError("no_point", f"监测点 {mn} 未登记 | no registered point {mn}", status=404)
        return point

    def register_analyser(
        self,
        *,
        mn: str,
        pollutant: str,
        serial_no: str,
        maker: str,
        model: str,
        range_low: float,
        range_high: float,
        unit: str,
        automatic: bool,
        valid_from: int,
        who: str,
        profile: str | None = None,
        s_ams: float | None = None,
    ) -> Recorded:
        """An analyser of a point's pollutant, in force from ``valid_from``; one already registered for the same
        point and pollutant is replaced from then on (its records stay with it)."""
        point = self._point(mn)
        if not (math.isfinite(range_low) and math.isfinite(range_high)) or range_high <= range_low:
            raise RecordError(
                "bad_range",
                f"量程 {range_low}–{range_high} 无效：上限须大于下限 | range {range_low}–{range_high}: the upper "
                "end must be above the lower",
            )
        if s_ams is not None and not (math.isfinite(s_ams) and s_ams > 0):
            raise RecordError("bad_value", f"s_AMS {s_ams} 须为正数 | s_AMS {s_ams} must be positive")
        for field, text in (("serial_no", serial_no), ("maker", maker), ("model", model), ("unit", unit)):
            if not text.strip():
                raise RecordError("missing", f"缺少 {field} | {field} is required")
        name = profile or qa.default_profile(pollutant, point.medium)
        if name is None:
            raise RecordError(
                "no_profile",
                f"{pollutant} 没有默认的判定准则，请指定 profile | no default criteria profile for {pollutant}: "
                "name one",
            )
        with self.store.quality_tx() as tx:
            criteria = self._criteria_in(tx, who)
            try:
                criteria.profile(name)
            except qa.QaError as exc:
                raise RecordError(exc.code, str(exc)) from None
            current = [a for a in tx.rows("analysers", mn=mn, pollutant=pollutant)]
            replaces = None
            if current:
                newest = max(current, key=lambda a: (a["valid_from"], a["id"]))
                if valid_from <= newest["valid_from"]:
                    raise RecordError(
                        "not_after",
                        f"新分析仪的启用时间须晚于现有分析仪 #{newest['id']} | the new analyser must come into force "
                        f"after analyser #{newest['id']} (valid from {newest['valid_from']})",
                        status=409,
                    )
                replaces = newest["id"]
            row = tx.record(
                "analysers",
                {
                    "mn": mn,
                    "pollutant": pollutant,
                    "serial_no": serial_no.strip(),
                    "maker": maker.strip(),
                    "model": model.strip(),
                    "range_low": float(range_low),
                    "range_high": float(range_high),
                    "unit": unit.strip(),
                    "automatic": bool(automatic),
                    "profile": name,
                    "s_ams": s_ams,
                    "valid_from": int(valid_from),
                    "replaces_id": replaces,
                    "recorded_by": _who(who),
                    "at_us": _now_us(),
                },
            )
            entry = tx.finish()
        assert entry is not None
        return Recorded(row, entry)

    def analysers(self, mns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if mns is None:
            return self.store.quality_rows("analysers")
        return self.store.quality_rows("analysers", mn=list(mns))

    def analyser(self, analyser_id: int) -> dict[str, Any]:
        rows = self.store.quality_rows("analysers", id=analyser_id)
        if not rows:
            raise RecordError(
                "no_analyser", f"没有分析仪 #{analyser_id} | no analyser #{analyser_id}", status=404
            )
        return rows[0]

    # ------------------------------------------------------------------ reference lots
    def register_lot(
        self,
        *,
        producer: str,
        certificate_no: str,
        lot_no: str,
        material: str,
        certified_value: str,
        unit: str,
        uncertainty: str,
        expires_on: str,
        who: str,
        coverage_k: float = 2.0,
        certificate_sha256: str | None = None,
    ) -> Recorded:
        """A lot of a certified reference material (有证标准物质), as its certificate states it."""
        for name, text in (
            ("producer", producer),
            ("certificate_no", certificate_no),
            ("lot_no", lot_no),
            ("material", material),
            ("unit", unit),
        ):
            if not text.strip():
                raise RecordError("missing", f"缺少 {name} | {name} is required")
        value = decimal_text(certified_value, "certified_value")
        u = decimal_text(uncertainty, "uncertainty")
        try:
            date.fromisoformat(expires_on)
        except ValueError:
            raise RecordError(
                "bad_date",
                f"有效期 {expires_on!r} 不是 YYYY-MM-DD | expires_on {expires_on!r}: not YYYY-MM-DD",
            ) from None
        if certificate_sha256 is not None and (
            len(certificate_sha256) != 64 or any(c not in "0123456789abcdef" for c in certificate_sha256)
        ):
            raise RecordError(
                "bad_value", "证书摘要须为 64 位小写十六进制 | certificate_sha256: 64 lowercase hex digits"
            )
        if not (math.isfinite(coverage_k) and coverage_k > 0):
            raise RecordError(
                "bad_value", f"包含因子 {coverage_k} 须为正数 | coverage_k {coverage_k} must be positive"
            )
        with self.store.quality_tx() as tx:
            same = tx.rows(
                "reference_lots",
                producer=producer.strip(),
                certificate_no=certificate_no.strip(),
                lot_no=lot_no.strip(),
            )
            if same:
                raise RecordError(
                    "lot_exists",
                    f"标准物质批次已登记为 #{same[0]['id']} | this lot is registered already as #{same[0]['id']}",
                    status=409,
                )
            row = tx.record(
                "reference_lots",
                {
                    "producer": producer.strip(),
                    "certificate_no": certificate_no.strip(),
                    "lot_no": lot_no.strip(),
                    "material": material.strip(),
                    "certified_value": value,
                    "unit": unit.strip(),
                    "uncertainty": u,
                    "coverage_k": float(coverage_k),
                    "expires_on": expires_on,
                    "certificate_sha256": certificate_sha256,
                    "recorded_by": _who(who),
                    "at_us": _now_us(),
                },
            )
            entry = tx.finish()
        assert entry is not None
        return Recorded(row, entry)

    def withdraw_lot(self, lot_id: int, *, reason: str, who: str) -> Recorded:
        """Withdraw a lot (a recalled certificate, a contaminated cylinder): no later use is accepted."""
        if not reason.strip():
            raise RecordError("missing", "撤销须说明理由 | a withdrawal needs a reason")
        with self.store.quality_tx() as tx:
            self._lot(tx, lot_id)
            if tx.rows("lot_events", lot_id=lot_id, action="withdraw"):
                raise RecordError(
                    "lot_withdrawn", f"批次 #{lot_id} 已撤销 | lot #{lot_id} is withdrawn already", status=409
                )
            row = tx.record(
                "lot_events",
                {
                    "lot_id": lot_id,
                    "action": "withdraw",
                    "reason": reason.strip(),
                    "who": _who(who),
                    "at_us": _now_us(),
                },
            )
            entry = tx.finish()
        assert entry is not None
        return Recorded(row, entry)

    def lots(self) -> list[dict[str, Any]]:
        """Every lot with ``withdrawn`` (the withdrawal event, or None)."""
        withdrawn = {e["lot_id"]: e for e in self.store.quality_rows("lot_events", action="withdraw")}
        return [
            {**lot, "withdrawn": withdrawn.get(lot["id"])}
            for lot in self.store.quality_rows("reference_lots")
        ]

    def _lot(self, tx: QualityTx, lot_id: int) -> dict[str, Any]:
        return known_lot(tx, lot_id)

    def _usable_lot(self, tx: QualityTx, lot_id: int, used_at: int, zone: str) -> dict[str, Any]:
        return usable_lot(tx, lot_id, used_at, zone)

    # ------------------------------------------------------------------ checks
    def record_check(
        self,
        *,
        analyser_id: int,
        kind: str,
        started: int,
        ended: int,
        reading: str,
        performed_by: str,
        who: str,
        reference_value: str | None = None,
        lot_id: int | None = None,
        reading_after: str | None = None,
        adjusted: bool = False,
        automatic: bool = False,
        note: str = "",
        signed: Any = None,
    ) -> Recorded:
        """A zero, span or standard-sample check, judged at once (signed by ``who`` when ``signed`` is given).  A span or standard check needs a usable
        reference lot; its certified value is the reference unless ``reference_value`` is given (a dilution); a
        zero check's reference is 0 unless given."""
        if kind not in CHECK_KINDS:
            raise RecordError(
                "bad_kind", f"核查类型须为 {', '.join(CHECK_KINDS)} | kind: one of {', '.join(CHECK_KINDS)}"
            )
        if ended < started:
            raise RecordError("bad_span", "结束时间早于开始时间 | the check ends before it starts")
        if started > self.clock() + FUTURE_SKEW_S:
            raise RecordError("in_future", "核查开始时间在未来 | the check starts in the future")
        if adjusted and reading_after is None:
            raise RecordError("missing", "调整后须填写调整后读数 | an adjusted check needs reading_after")
        reading = decimal_text(reading, "reading")
        after = decimal_text(reading_after, "reading_after") if reading_after is not None else None
        analyser = self.analyser(analyser_id)
        point = self._point(analyser["mn"])
        with self.store.quality_tx() as tx:
            self._in_force(tx, analyser, started)
            lot = None
            if lot_id is not None:
                lot = self._usable_lot(tx, lot_id, started, point.timezone)
            elif kind in ("span", "standard"):
                raise RecordError(
                    "lot_required",
                    "量程/标样核查须注明所用标准物质批次 | a span or standard check must name the reference lot used",
                )
            if reference_value is not None:
                reference = decimal_text(reference_value, "reference_value")
            elif lot is not None and kind != "zero":
                reference = str(lot["certified_value"])
            else:
                reference = "0"
            criteria = self._criteria_in(tx, who)
            try:
                result = qa.evaluate_check(
                    criteria,
                    analyser["profile"],
                    kind,  # type: ignore[arg-type]
                    reference=float(reference),
                    reading=float(reading),
                    range_low=float(analyser["range_low"]),
                    range_high=float(analyser["range_high"]),
                )
            except qa.QaError as exc:
                raise RecordError(exc.code, str(exc)) from None
            row = self._record_signed(
                tx,
                "qa_checks",
                "qa.check",
                {
                    "analyser_id": analyser_id,
                    "kind": kind,
                    "started": int(started),
                    "ended": int(ended),
                    "lot_id": lot_id,
                    "reference_value": reference,
                    "reading": reading,
                    "reading_after": after,
                    "adjusted": bool(adjusted),
                    "automatic": bool(automatic),
                    "value": float(result.value),
                    "unit": result.unit,
                    "verdict": result.verdict,
                    "criteria_digest": criteria.digest,
                    "performed_by": _who(performed_by),
                    "recorded_by": _who(who),
                    "note": note,
                    "at_us": _now_us(),
                },
                who,
                signed,
            )
            entry = tx.finish()
        assert entry is not None
        return self._after(analyser, row, entry)

    def _in_force(self, tx: QualityTx, analyser: dict[str, Any], at: int) -> None:
        """Refuse a record of an analyser at a time it was not installed (before it, or after its replacement)."""
        if at < analyser["valid_from"]:
            raise RecordError(
                "not_in_force",
                f"分析仪 #{analyser['id']} 当时尚未启用 | analyser #{analyser['id']} was not in force then",
            )
        for later in tx.rows("analysers", replaces_id=analyser["id"]):
            if at >= later["valid_from"]:
                raise RecordError(
                    "not_in_force",
                    f"分析仪 #{analyser['id']} 当时已被 #{later['id']} 替换 | analyser #{analyser['id']} had been "
                    f"replaced by #{later['id']} then",
                )

    def _after(self, analyser: dict[str, Any], row: dict[str, Any], entry: int) -> Recorded:
        """Re-check the point over the span a record changes (a fail, or a pass that may close an open span)."""
        if self.recheck is None:
            return Recorded(row, entry)
        before = self._spans_of(analyser, exclude=(row["id"], row.get("kind")))
        after = self._spans_of(analyser)
        if before == after:
            return Recorded(row, entry)
        changed = [s for s in after if s not in before] + [s for s in before if s not in after]
        start = min(s.start for s in changed)
        end = None if any(s.end is None for s in changed) else max(int(s.end or 0) for s in changed)
        return Recorded(row, entry, self.recheck(analyser["mn"], start, end))

    # ------------------------------------------------------------------ comparisons
    def record_comparison(
        self,
        *,
        analyser_id: int,
        pairs: Sequence[tuple[int, int, str]],
        rm_source: str,
        who: str,
        signed: Any = None,
    ) -> Recorded:
        """A comparison with the reference method: per pair the run's time span and the reference-method result
        (decimal text); the analyser's side is the mean of its stored valid readings over each run — computed here,
        never typed in — and the whole is judged at once."""
        if not rm_source.strip():
            raise RecordError(
                "missing", "须注明参比方法报告 | rm_source (the reference-method report) is required"
            )
        if not pairs:
            raise RecordError("too_few_pairs", "没有比对数据对 | no pairs")
        analyser = self.analyser(analyser_id)
        if max(end for _, end, _ in pairs) > self.clock() + FUTURE_SKEW_S:
            raise RecordError("in_future", "比对时段在未来 | a run ends in the future")
        runs: list[dict[str, Any]] = []
        for i, (start, end, rm) in enumerate(sorted(pairs), 1):
            if end <= start:
                raise RecordError("bad_span", f"第 {i} 对：结束早于开始 | pair {i}: ends before it starts")
            rm_text = decimal_text(rm, f"pair {i} rm")
            cems, used = self._analyser_mean(analyser, start, end, i)
            runs.append({"start": int(start), "end": int(end), "rm": rm_text, "cems": cems, "readings": used})
        started, ended = runs[0]["start"], max(r["end"] for r in runs)
        with self.store.quality_tx() as tx:
            self._in_force(tx, analyser, started)
            criteria = self._criteria_in(tx, who)
            try:
                result = qa.evaluate_comparison(
                    criteria, analyser["profile"], [(float(r["rm"]), float(r["cems"])) for r in runs]
                )
            except qa.QaError as exc:
                raise RecordError(exc.code, str(exc)) from None
            row = self._record_signed(
                tx,
                "comparisons",
                "qa.comparison",
                {
                    "analyser_id": analyser_id,
                    "started": started,
                    "ended": ended,
                    "pairs": json.dumps(runs, ensure_ascii=False),
                    "rm_source": rm_source.strip(),
                    "rm_mean": float(result.rm_mean),
                    "cems_mean": float(result.cems_mean),
                    "band": result.band,
                    "metric": result.metric,
                    "value": float(result.value),
                    "limit_value": float(result.limit),
                    "verdict": result.verdict,
                    "criteria_digest": criteria.digest,
                    "recorded_by": _who(who),
                    "at_us": _now_us(),
                },
                who,
                signed,
            )
            entry = tx.finish()
        assert entry is not None
        return self._after(analyser, {**row, "kind": "comparison"}, entry)

    def _analyser_mean(self, analyser: dict[str, Any], start: int, end: int, i: int) -> tuple[float, int]:
        """The mean of the analyser's valid stored readings over ``[start, end)``: minute data when there are any
        (at least ``MIN_RUN_COVERAGE`` of the run's minutes valid), else hourly data (water analysers that report
        hourly; at least one valid value).  Values as received (measured, not converted)."""
        mn, code = analyser["mn"], analyser["pollutant"]
        for kind in ("minute", "hour"):
            rows = self.store.series(mn, kind, code, start, end)
            if not rows:
                continue
            values = [
                float(r[1]) for r in rows if r[1] is not None and math.isfinite(r[1]) and (r[6] or "N") == "N"
            ]
            need = max(1, math.ceil(MIN_RUN_COVERAGE * (end - start) / 60)) if kind == "minute" else 1
            if len(values) < need:
                raise RecordError(
                    "run_incomplete",
                    f"第 {i} 对：该时段有效{'分钟' if kind == 'minute' else '小时'}数据 {len(values)} 个，至少需要 "
                    f"{need} 个 | pair {i}: {len(values)} valid {kind} values in the run, {need} needed",
                )
            return sum(values) / len(values), len(values)
        raise RecordError(
            "run_incomplete",
            f"第 {i} 对：该时段没有 {code} 的数据 | pair {i}: no stored {code} readings in the run",
        )

    # ------------------------------------------------------------------ maintenance
    def record_maintenance(
        self,
        *,
        analyser_id: int,
        kind: str,
        started: int,
        ended: int,
        description: str,
        performed_by: str,
        who: str,
        detail: Mapping[str, Any] | None = None,
        signed: Any = None,
    ) -> Recorded:
        """Maintenance, repair, a fault, a parameter change or a metrological verification (计量检定) of an
        analyser."""
        if kind not in MAINTENANCE_KINDS:
            raise RecordError(
                "bad_kind",
                f"维护类型须为 {', '.join(MAINTENANCE_KINDS)} | kind: one of {', '.join(MAINTENANCE_KINDS)}",
            )
        if ended < started:
            raise RecordError("bad_span", "结束时间早于开始时间 | it ends before it starts")
        if not description.strip():
            raise RecordError("missing", "须说明内容 | a description is required")
        analyser = self.analyser(analyser_id)
        with self.store.quality_tx() as tx:
            self._in_force(tx, analyser, started)
            row = self._record_signed(
                tx,
                "maintenance",
                "qa.maintenance",
                {
                    "analyser_id": analyser_id,
                    "kind": kind,
                    "started": int(started),
                    "ended": int(ended),
                    "description": description.strip(),
                    "detail": json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True),
                    "performed_by": _who(performed_by),
                    "recorded_by": _who(who),
                    "at_us": _now_us(),
                },
                who,
                signed,
            )
            entry = tx.finish()
        assert entry is not None
        return Recorded(row, entry)

    # ------------------------------------------------------------------ what the records mean
    def results(self, analyser_id: int) -> list[qa.QaRecord]:
        """Every check and comparison of an analyser as :class:`qa.QaRecord`, by start."""
        out = [
            qa.QaRecord(f"qa_checks/{c['id']}", c["kind"], c["started"], c["ended"], c["verdict"])
            for c in self.store.quality_rows("qa_checks", analyser_id=analyser_id)
        ]
        out += [
            qa.QaRecord(f"comparisons/{c['id']}", "comparison", c["started"], c["ended"], c["verdict"])
            for c in self.store.quality_rows("comparisons", analyser_id=analyser_id)
        ]
        return sorted(out, key=lambda r: (r.started, r.record))

    def _spans_of(
        self, analyser: dict[str, Any], exclude: tuple[int, str | None] | None = None
    ) -> list[qa.Blocked]:
        records = self.results(analyser["id"])
        if exclude is not None:
            rid, kind = exclude
            table = "comparisons" if kind == "comparison" else "qa_checks"
            records = [r for r in records if r.record != f"{table}/{rid}"]
        return self._clip(analyser, qa.out_of_control(records, analyser["valid_from"]))

    def _clip(self, analyser: dict[str, Any], spans: list[qa.Blocked]) -> list[qa.Blocked]:
        """An analyser's spans end when a successor comes into force (a new instrument starts a new history)."""
        successors = self.store.quality_rows("analysers", replaces_id=analyser["id"])
        if not successors:
            return spans
        until = min(a["valid_from"] for a in successors)
        out = []
        for s in spans:
            if s.start >= until:
                continue
            end = until if s.end is None else min(s.end, until)
            out.append(dataclasses.replace(s, end=end))
        return out

    def blocked(self, mns: Sequence[str] | None = None) -> dict[str, dict[str, list[qa.Blocked]]]:
        """Per point and HJ 212 code: the spans in which the code's analyser was out of control."""
        out: dict[str, dict[str, list[qa.Blocked]]] = {}
        analysers = {int(a["id"]): a for a in self.analysers(mns)}
        if not analysers:
            return out
        # only analysers with a failed result can have a span: find them first (failures are rare), then read
        # their whole history
        ids = list(analysers) if mns is not None else None
        failed: set[int] = set()
        for table in ("qa_checks", "comparisons"):
            rows = (
                self.store.quality_rows(table, verdict="fail")
                if ids is None
                else self.store.quality_rows(table, verdict="fail", analyser_id=ids)
            )
            failed |= {int(r["analyser_id"]) for r in rows}
        for aid in sorted(failed & set(analysers)):
            analyser = analysers[aid]
            spans = self._spans_of(analyser)
            if spans:
                out.setdefault(analyser["mn"], {}).setdefault(analyser["pollutant"], []).extend(spans)
        for codes in out.values():
            for code, spans in codes.items():
                codes[code] = sorted(spans, key=lambda s: s.start)
        return out

    def status(self, analyser_id: int, now: int | None = None) -> dict[str, Any]:
        """Where an analyser stands: in control or not (and since when, because of what), the newest result and
        the due time of each kind of check, and the QAL3 CUSUM of its zero and span (or standard) checks."""
        analyser = self.analyser(analyser_id)
        at = int(self.clock()) if now is None else now
        criteria = self.criteria()
        profile = criteria.profile(analyser["profile"])
        spans = self._spans_of(analyser)
        open_span = next((s for s in spans if s.end is None or s.end > at), None)
        checks = self.store.quality_rows("qa_checks", order="started", analyser_id=analyser_id)
        comparisons = self.store.quality_rows("comparisons", order="started", analyser_id=analyser_id)
        replaced = bool(self.store.quality_rows("analysers", replaces_id=analyser_id))
        kinds: dict[str, Any] = {}
        for kind in (*profile.checks(), "comparison"):
            rows = comparisons if kind == "comparison" else [c for c in checks if c["kind"] == kind]
            last = rows[-1] if rows else None
            # a replaced analyser has no checks due any more
            interval = None if replaced else profile.interval_h(kind, bool(analyser["automatic"]))
            since = last["ended"] if last is not None else analyser["valid_from"]
            due = None if interval is None else since + int(interval * 3600)
            overdue = interval is not None and qa.overdue(since, at, interval, qa.grace_for(interval))
            entry: dict[str, Any] = {
                "last": _brief(last, kind),
                "count": len(rows),
                "interval_h": interval,
                "due": due,
                "overdue": overdue,
            }
            if kind != "comparison" and rows:
                s_ams = analyser["s_ams"] or profile.default_s_ams(kind)
                if s_ams:
                    resets = [False] + [bool(r["adjusted"]) or r["verdict"] == "fail" for r in rows[:-1]]
                    params = criteria.cusum_parameters()
                    steps = qa.cusum([float(r["value"]) for r in rows], float(s_ams), resets=resets, **params)
                    kinds_cusum = steps[-1]
                    entry["cusum"] = {
                        "s_ams": s_ams,
                        "p": kinds_cusum.p,
                        "n": kinds_cusum.n,
                        "s": kinds_cusum.s,
                        "drift_alarm": kinds_cusum.drift_alarm,
                        "precision_alarm": kinds_cusum.precision_alarm,
                        "estimated_drift": kinds_cusum.estimated_drift,
                        "h_x": params.get("h_x", 2.85) * s_ams,
                        "h_s": params.get("h_s", 6.90) * s_ams * s_ams,
                        "series": [
                            {
                                "check": f"qa_checks/{r['id']}",
                                "t": r["started"],
                                "d": st.deviation,
                                "p": st.p,
                                "n": st.n,
                                "s": st.s,
                            }
                            for r, st in zip(rows, steps, strict=True)
                        ],
                    }
            kinds[kind] = entry
        return {
            "analyser": analyser,
            "replaced": replaced,
            "in_control": open_span is None,
            "out_of_control": [_span_json(s) for s in spans],
            "open": _span_json(open_span) if open_span is not None else None,
            "criteria_digest": criteria.digest,
            "checks": kinds,
        }


def known_lot(tx: QualityTx, lot_id: int) -> dict[str, Any]:
    lot = tx.one("reference_lots", lot_id)
    if lot is None:
        raise RecordError("unknown_lot", f"标准物质批次 #{lot_id} 未登记 | unknown reference lot #{lot_id}")
    return lot


def usable_lot(tx: QualityTx, lot_id: int, used_at: int, zone: str) -> dict[str, Any]:
    """The lot, refused when unknown, withdrawn before ``used_at`` or expired at ``used_at``."""
    lot = known_lot(tx, lot_id)
    name = f"{lot['certificate_no']} 批号 {lot['lot_no']}"
    name_en = f"{lot['certificate_no']} lot {lot['lot_no']}"
    for event in tx.rows("lot_events", lot_id=lot_id, action="withdraw"):
        if event["at_us"] // 1_000_000 <= used_at:
            raise RecordError(
                "lot_withdrawn",
                f"标准物质 {name} 已撤销（{event['reason']}） | reference lot {name_en} is withdrawn "
                f"({event['reason']})",
            )
    if used_at >= lot_expiry(lot["expires_on"]):
        used = datetime.fromtimestamp(used_at, tz=_zone(zone)).strftime("%Y-%m-%d %H:%M")
        raise RecordError(
            "lot_expired",
            f"标准物质 {name} 已于 {lot['expires_on']} 过期，使用时间 {used} | reference lot {name_en} "
            f"expired on {lot['expires_on']}, used {used}",
        )
    return lot


def _brief(row: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    if row is None:
        return None
    table = "comparisons" if kind == "comparison" else "qa_checks"
    return {
        "record": f"{table}/{row['id']}",
        "started": row["started"],
        "ended": row["ended"],
        "value": row["value"],
        "verdict": row["verdict"],
    }


def _span_json(s: qa.Blocked) -> dict[str, Any]:
    return {
        "start": s.start,
        "end": s.end,
        "cause": s.cause,
        "kind": s.kind,
        "failed": list(s.failed),
        "last_pass": s.last_pass,
        "next_pass": s.next_pass,
    }


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _who(who: str) -> str:
    who = who.strip()
    if not who or len(who) > _WHO_MAX:
        raise RecordError("bad_who", f"人员名称须为 1–{_WHO_MAX} 个字符 | who: 1–{_WHO_MAX} characters")
    return who
