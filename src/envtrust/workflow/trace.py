"""Responsibility trace (clause 十一): for an hourly value, who and what stand behind it, each with its ledger proof.

``trace_hour`` follows an hourly value of a point's pollutant back to the minute readings and the frames that
carried them, the point's registry entry, the analyser in force, its last passing zero and span checks before the
hour (who did them, with which certified reference lot), the comparisons before and after it, the laboratory report
behind a comparison's reference-method results (samples, custody, analyses, reviews, signatory — each person's
signature checked), the data marks and out-of-control spans that touch the hour, and the verdict: valid or not,
and why.  Every node carries its ledger index, leaf hash and inclusion proof against the newest signed checkpoint
(``envtrust-trace/v1``; decision 0012 §10).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import RecordError
from ..ledger import merkle
from ..qc.data import Aggregate, PointData
from ..qc.validity import hourly_for_limit
from ..store import Store
from .lab import Lab
from .qa import QualityRecords

__all__ = ["FORMAT", "trace_day", "trace_hour", "trace_reading", "trace_report"]

FORMAT = "envtrust-trace/v1"
MIN_VALID_MINUTES = 45  # HJ 75-2017: a valid hour
MIN_VALID_HOURS = 20  # a valid day


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Graph:
    def __init__(self, store: Store, origin: str) -> None:
        self.store = store
        self.lab = Lab(store, origin=origin)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, str]] = []
        cp = store.latest_checkpoint()
        self.checkpoint = cp
        self.size = int(cp["size"]) if cp is not None else store.ledger_size()

    def proof(self, ref: str) -> dict[str, Any] | None:
        index = self.store.entry_index(ref)
        if index is None:
            return None
        found = self.store.entry(index)
        assert found is not None
        out: dict[str, Any] = {"index": index, "leaf": merkle.leaf_hash(found[2]).hex()}
        if index < self.size:
            out["proof"] = [_b64(h) for h in self.store.inclusion_proof(index, self.size)]
            out["tree_size"] = self.size
        else:
            out["proof"] = None  # newer than the newest checkpoint: provable once the next one is signed
        return out

    def person(self, sig_id: int | None, role: str) -> dict[str, Any] | None:
        if sig_id is None:
            return None
        sigs = self.store.quality_rows("signatures", id=sig_id)
        if not sigs:
            return None
        sig = sigs[0]
        key = self.store.quality_rows("person_keys", id=sig["key_id"])[0]
        statement = json.loads(sig["note"].split("\n", 1)[0])
        ok, why = self.lab.check_signature(int(sig_id))
        warnings = []
        if key["registered_by"] != statement["signer"]["account"]:
            warnings.append(f"key registered by {key['registered_by']}")
        return {
            "role": role,
            "account": statement["signer"]["account"],
            "key": key["key_hash"],
            "custody": key["custody"],
            "signed_at": statement["at"],
            "signature": f"signatures/{sig_id}",
            "signature_ok": ok,
            "signature_check": why,
            "warnings": warnings,
        }

    def add(
        self,
        ref: str,
        kind: str,
        zh: str,
        en: str,
        *,
        people: Sequence[dict[str, Any] | None] = (),
        data: dict[str, Any] | None = None,
        ledgered: bool = True,
    ) -> str:
        if ref not in self.nodes:
            self.nodes[ref] = {
                "id": ref,
                "type": kind,
                "summary": {"zh": zh, "en": en},
                "data": data or {},
                "entry": self.proof(ref) if ledgered else None,
                "people": [p for p in people if p is not None],
            }
        return ref

    def link(self, a: str, b: str, rel: str) -> None:
        self.edges.append({"from": a, "to": b, "rel": rel})


_PERIOD = {"rtd": 1, "minute": 60, "hour": 3600, "day": 86400}


class _Scene:
    """A point's stored data around ``[start, end)``, with its out-of-control spans and marks, loaded once."""

    def __init__(self, store: Store, mn: str, start: int, end: int) -> None:
        from ..quality import stored_inputs
        from .marks import mark_contexts, marks_for_checks

        point = next((p for p in store.points() if p.mn == mn), None)
        if point is None:
            raise RecordError("no_point", f"监测点 {mn} 未登记 | no registered point {mn}", status=404)
        self.point = point
        self.records = QualityRecords(store)
        self.blocked = self.records.blocked([mn])
        inputs = stored_inputs(
            store, [point], start=start - 86400, end=end + 86400, mns=[mn], blocked=self.blocked,
            marks=marks_for_checks(store, [mn]), contexts=mark_contexts(store, [mn]),
        )  # fmt: skip
        self.pd: PointData | None = inputs.points[0] if inputs.points else None

    def hours(self, pollutant: str) -> tuple[Aggregate, npt.NDArray[np.bool_]] | None:
        """The hourly values judged against limits (computed from minutes; the logger's where minutes were lost)."""
        if self.pd is None:
            return None
        return hourly_for_limit(self.pd, pollutant, MIN_VALID_MINUTES)

    def effective_marks(self, pollutant: str) -> list[tuple[int, int, str]]:
        """``(start, end, record)`` of the marks that exclude ``pollutant``'s data (not contested, or upheld)."""
        if self.pd is None:
            return []
        return [(a, b, m.record) for a, b, m in self.pd.excluded_by_marks().get(pollutant, ())]


def _frames(
    g: _Graph, store: Store, subject: str, mn: str, kind: str, pollutant: str, start: int, end: int
) -> int:
    rows = store.readings_page(mn, kind, pollutant=pollutant, start=start, end=end, limit=100)
    frames = sorted({int(r["frame_id"]) for r in rows if r.get("frame_id") is not None})
    for fid in frames:
        g.link(
            subject,
            g.add(f"frames/{fid}", "hj212.frame", "原始报文", "raw frame as received"),
            "computed_from",
        )
    return len(rows)


def _behind(
    g: _Graph, scene: _Scene, subject: str, pollutant: str, start: int, end: int
) -> list[dict[str, Any]]:
    """Link ``subject`` (a value of ``pollutant`` for ``[start, end)``) to the registry entry, the analysers in force,
    their last passed checks before the period and every check inside it, the comparisons around it and the
    laboratory reports behind those, and the out-of-control spans and data marks that touch the period; return the
    reasons these give for the value being invalid."""
    store, point, records = g.store, scene.point, scene.records
    mn = point.mn
    reasons: list[dict[str, Any]] = []
    reg = g.add(f"points/{mn}", "registry.point", f"监测点 {point.name}", f"point {point.name}",
                data={"limits": dict(point.limits), "reference_o2": point.reference_o2})  # fmt: skip
    g.link(subject, reg, "judged_with")

    # the analysers in force during the period (the one at its start, and any that replaced it within)
    mine = sorted(
        (a for a in records.analysers([mn]) if a["pollutant"] == pollutant and int(a["valid_from"]) < end),
        key=lambda r: (r["valid_from"], r["id"]),
    )
    at_start = [a for a in mine if int(a["valid_from"]) <= start]
    in_force = at_start[-1:] + [a for a in mine if int(a["valid_from"]) > start]
    for a in in_force:
        aref = g.add(f"analysers/{a['id']}", "qa.analyser", f"分析仪 {a['maker']} {a['model']} {a['serial_no']}",
                     f"analyser {a['maker']} {a['model']} {a['serial_no']}", data=a)  # fmt: skip
        g.link(subject, aref, "measured_by")
        checks = store.quality_rows("qa_checks", order="started", analyser_id=a["id"])
        chosen: list[tuple[str, dict[str, Any]]] = []
        for kind in ("zero", "span", "standard"):
            before = [
                c for c in checks if c["kind"] == kind and c["ended"] <= start and c["verdict"] != "fail"
            ]
            if before:
                chosen.append((f"last_passed_{kind}", before[-1]))
        chosen += [("checked_during", c) for c in checks if start < c["ended"] and c["started"] < end]
        for rel, c in chosen:
            cref = g.add(f"qa_checks/{c['id']}", "qa.check", f"{c['kind']} 核查 {c['verdict']}",
                         f"{c['kind']} check {c['verdict']}", data=c)  # fmt: skip
            g.link(aref, cref, rel)
            node = g.nodes[cref]
            if not node["people"]:
                signer = g.person(c.get("sig_id"), "recorded_by")
                if signer is not None:
                    node["people"].append({**signer, "performed_by": c["performed_by"]})
                else:
                    node["people"].append({"role": "operator", "account": c["performed_by"], "signature": None,
                                           "signature_ok": None, "warnings": ["not signed (recorded by "
                                           f"{c['recorded_by']})"]})  # fmt: skip
            if c["lot_id"] is not None:
                lot = store.quality_rows("reference_lots", id=c["lot_id"])[0]
                lref = g.add(f"reference_lots/{lot['id']}", "qa.reference_lot",
                             f"标准物质 {lot['certificate_no']} 批号 {lot['lot_no']}",
                             f"reference lot {lot['certificate_no']} {lot['lot_no']}", data=lot)  # fmt: skip
                g.link(cref, lref, "used")
        comps = store.quality_rows("comparisons", order="started", analyser_id=a["id"])
        prior = [c for c in comps if c["ended"] <= start]
        during = [c for c in comps if start < c["ended"] and c["started"] < end]
        after = [c for c in comps if c["started"] >= end]
        pair: list[tuple[str, dict[str, Any]]] = [("last_comparison", c) for c in prior[-1:]]
        pair += [("compared_during", c) for c in during] + [("next_comparison", c) for c in after[:1]]
        for rel, cmp in pair:
            cref = g.add(f"comparisons/{cmp['id']}", "qa.comparison", f"比对监测 {cmp['verdict']}",
                         f"comparison {cmp['verdict']}", data={**cmp, "pairs": json.loads(cmp["pairs"])},
                         people=[g.person(cmp.get("sig_id"), "recorded_by")])  # fmt: skip
            g.link(aref, cref, rel)
            _lab_report(g, cref, cmp["rm_source"])
    if not in_force:
        reasons.append({"cause": "no_analyser", "detail": "no analyser registered for the period"})

    # what makes the value invalid
    for span in scene.blocked.get(mn, {}).get(pollutant, []):
        if span.start < end and (span.end is None or span.end > start):
            reasons.append({"cause": "out_of_control", "kind": span.kind, "records": list(span.failed),
                            "from": span.start, "to": span.end})  # fmt: skip
            for rec in span.failed:
                g.link(subject, g.add(rec, "qa.failed", "不合格记录", "failed record"), "invalidated_by")
    effective = {mid for a, b, mid in scene.effective_marks(pollutant) if a < end and b > start}
    from .marks import mark_rows

    for m in mark_rows(store, [mn]):
        if (
            m["start"] < end
            and m["end"] > start
            and (m["pollutants"] is None or pollutant in m["pollutants"])
        ):
            mref = g.add(f"data_marks/{m['id']}", "mark.data", f"企业标记 {m['code']}（{m['state']}）",
                         f"enterprise mark {m['code']} ({m['state']})",
                         people=[g.person(m["sig_id"], "marked_by")], data=m)  # fmt: skip
            g.link(subject, mref, "marked")
            reasons.append({"cause": "marked", "record": mref, "code": m["code"], "state": m["state"],
                            "excludes": mref in effective})  # fmt: skip
    return reasons


def _result(g: _Graph, subject: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "subject": subject,
        "verdict": verdict,
        "nodes": list(g.nodes.values()),
        "edges": g.edges,
        "checkpoint": {"size": g.size, "note": g.checkpoint["note"]} if g.checkpoint is not None else None,
    }


def _hour_value(scene: _Scene, pollutant: str, start: int) -> tuple[float | None, int, bool]:
    """The hourly value at ``start``, its valid minutes, and whether it is the logger's own hourly value."""
    got = scene.hours(pollutant)
    if got is None:
        return None, 0, False
    agg, reported = got
    hit = np.flatnonzero(agg.start == start)
    if hit.size == 0:
        return None, 0, False
    i = int(hit[0])
    count = int(agg.count[i])
    conv = float(agg.conv[i])
    value = round(conv, 4) if count and np.isfinite(conv) else None
    return value, count, bool(reported[i])


def trace_hour(store: Store, mn: str, pollutant: str, start: int, *, origin: str) -> dict[str, Any]:
    """The trace of the hourly value of ``pollutant`` at ``mn`` for the local clock hour starting at ``start``: the
    value judged against the limit (from the valid minutes; the logger's hourly value where minute frames were lost),
    the frames it came from, and everything :func:`_behind` finds."""
    end = start + 3600
    scene = _Scene(store, mn, start, end)
    g = _Graph(store, origin)
    value, valid_minutes, logger = _hour_value(scene, pollutant, start)
    valid = value is not None and valid_minutes >= MIN_VALID_MINUTES
    hour_ref = f"hour:{mn}/{pollutant}/{start}"
    g.add(hour_ref, "hour", f"{pollutant} 小时均值", f"{pollutant} hourly value", ledgered=False,
          data={"value": value, "valid_minutes": valid_minutes, "from_logger_hourly": logger})  # fmt: skip
    if logger or not _frames(g, store, hour_ref, mn, "minute", pollutant, start, end):
        _frames(g, store, hour_ref, mn, "hour", pollutant, start, end)
    reasons = _behind(g, scene, hour_ref, pollutant, start, end)
    if not valid and not any(r["cause"] in ("out_of_control", "marked") for r in reasons):
        reasons.append({"cause": "too_few_valid_minutes", "valid_minutes": valid_minutes})
    subject = {"kind": "hour", "mn": mn, "pollutant": pollutant, "start": start, "end": end, "value": value}
    return _result(g, subject, {"valid": valid, "valid_minutes": valid_minutes, "reasons": reasons})


def trace_day(store: Store, mn: str, pollutant: str, start: int, *, origin: str) -> dict[str, Any]:
    """The trace of the daily value of ``pollutant`` at ``mn`` for the local day starting at ``start``: the mean of
    the valid hourly values (a valid day needs ``MIN_VALID_HOURS``), each hour as a node (its own trace lists its
    frames), and everything :func:`_behind` finds for the day."""
    end = start + 86400
    scene = _Scene(store, mn, start, end)
    g = _Graph(store, origin)
    day_ref = f"day:{mn}/{pollutant}/{start}"
    got = scene.hours(pollutant)
    hours: list[tuple[int, float, int, bool]] = []
    if got is not None:
        agg, reported = got
        for i in np.flatnonzero((agg.start >= start) & (agg.start < end)).tolist():
            hours.append((int(agg.start[i]), float(agg.conv[i]), int(agg.count[i]), bool(reported[i])))
    need = MIN_VALID_MINUTES / 60.0
    good = [(t, v) for t, v, n, _ in hours if n >= need * 60 and np.isfinite(v)]
    value = round(float(np.mean([v for _, v in good])), 4) if good else None
    valid = len(good) >= MIN_VALID_HOURS
    g.add(day_ref, "day", f"{pollutant} 日均值", f"{pollutant} daily value", ledgered=False,
          data={"value": value, "valid_hours": len(good)})  # fmt: skip
    for t, v, n, logger in hours:
        ok = bool(n >= need * 60 and np.isfinite(v))
        clock = datetime.fromtimestamp(t, scene.point.zone).strftime("%H:%M")
        href = g.add(f"hour:{mn}/{pollutant}/{t}", "hour", f"{clock} 小时均值" + ("" if ok else "（无效）"),
                     f"{clock} hourly value" + ("" if ok else " (invalid)"), ledgered=False,
                     data={"start": t, "value": round(v, 4) if np.isfinite(v) and n else None, "valid_minutes": n,
                           "valid": ok, "from_logger_hourly": logger})  # fmt: skip
        g.link(day_ref, href, "computed_from")
    reasons = _behind(g, scene, day_ref, pollutant, start, end)
    if not valid:
        reasons.append({"cause": "too_few_valid_hours", "valid_hours": len(good)})
    subject = {"kind": "day", "mn": mn, "pollutant": pollutant, "start": start, "end": end, "value": value}
    return _result(g, subject, {"valid": valid, "valid_hours": len(good), "reasons": reasons})


def trace_reading(
    store: Store, mn: str, pollutant: str, at: int, *, kind: str = "minute", origin: str
) -> dict[str, Any]:
    """The trace of one stored reading (``kind`` rtd, minute, or the logger's hour or day row) as received: the
    frame that carried it, its flag, and everything :func:`_behind` finds for its period."""
    if kind not in _PERIOD:
        raise RecordError("bad_kind", f"kind must be one of {', '.join(_PERIOD)}, not {kind!r}")
    end = at + _PERIOD[kind]
    scene = _Scene(store, mn, at, end)
    rows = [r for r in store.readings_page(mn, kind, pollutant=pollutant, start=at, end=at + 1, limit=1)]
    if not rows:
        raise RecordError(
            "no_reading",
            f"没有 {mn} {pollutant} 在该时刻的{kind}数据 | no {kind} reading of {pollutant} then",
            status=404,
        )
    row = rows[0]
    g = _Graph(store, origin)
    ref = f"reading:{mn}/{kind}/{pollutant}/{at}"
    fields = ("avg", "min", "max", "rtd", "cou", "zs_avg", "zs_rtd", "flag")
    data = {k: row.get(k) for k in fields}
    g.add(
        ref, "reading", f"{pollutant} {kind} 数据", f"{pollutant} {kind} reading", ledgered=False, data=data
    )
    if row.get("frame_id") is not None:
        fid = int(row["frame_id"])
        g.link(ref, g.add(f"frames/{fid}", "hj212.frame", "原始报文", "raw frame as received"), "carried_by")
    reasons: list[dict[str, Any]] = []
    if row.get("flag") not in (None, "", "N"):
        reasons.append({"cause": "flag", "flag": row["flag"]})
    if not any(row.get(k) is not None for k in ("avg", "rtd", "cou")):
        reasons.append({"cause": "no_value"})
    reasons += _behind(g, scene, ref, pollutant, at, end)
    invalid = {"flag", "no_value", "out_of_control"}
    valid = not any(r["cause"] in invalid or (r["cause"] == "marked" and r["excludes"]) for r in reasons)
    subject = {"kind": "reading", "reading_kind": kind, "mn": mn, "pollutant": pollutant, "start": at,
               "end": end, "value": data["avg"] if data["avg"] is not None else data["rtd"]}  # fmt: skip
    return _result(g, subject, {"valid": valid, "reasons": reasons})


def _lab_report(g: _Graph, comparison_ref: str, rm_source: str) -> None:
    """The laboratory report a comparison's reference-method results came from, with everyone who signed it."""
    reports = g.store.quality_rows("reports", report_no=rm_source)
    if not reports:
        return
    rep = reports[0]
    rref = g.add(f"reports/{rep['id']}", "lab.report", f"检测报告 {rep['report_no']}", f"report {rep['report_no']}",
                 people=[g.person(rep["sig_id"], "signatory")], data=rep)  # fmt: skip
    g.link(comparison_ref, rref, "reference_method_from")
    for aid in json.loads(rep["analysis_ids"]):
        a = g.store.quality_rows("analyses", id=aid)[0]
        aref = g.add(f"analyses/{aid}", "lab.analysis", f"分析 {a['parameter']} = {a['raw_result']} {a['unit']}",
                     f"analysis {a['parameter']} = {a['raw_result']} {a['unit']}",
                     people=[g.person(a["sig_id"], "analyst")], data=a)  # fmt: skip
        g.link(rref, aref, "reports")
        for lot_id in json.loads(a["lot_ids"]):
            lot = g.store.quality_rows("reference_lots", id=lot_id)[0]
            g.link(aref, g.add(f"reference_lots/{lot_id}", "qa.reference_lot",
                               f"标准物质 {lot['certificate_no']} 批号 {lot['lot_no']}",
                               f"reference lot {lot['certificate_no']} {lot['lot_no']}", data=lot), "used")  # fmt: skip
        for r in g.store.quality_rows("reviews", analysis_id=aid):
            g.link(aref, g.add(f"reviews/{r['id']}", "lab.review", f"审核 {r['decision']}", f"review {r['decision']}",
                               people=[g.person(r["sig_id"], "reviewer")], data=r), "reviewed_by")  # fmt: skip
        sample = g.store.quality_rows("samples", id=a["sample_id"])[0]
        sref = g.add(f"samples/{sample['id']}", "lab.sample", f"样品 {sample['sample_no']}", f"sample {sample['sample_no']}",
                     data=sample)  # fmt: skip
        g.link(aref, sref, "analysed")
        for c in g.store.quality_rows("custody_events", sample_id=sample["id"]):
            g.link(sref, g.add(f"custody_events/{c['id']}", "lab.custody", f"{c['step']} {c['place']}",
                               f"{c['step']} {c['place']}", people=[g.person(c["sig_id"], c["step"])], data=c),
                   "custody")  # fmt: skip


def trace_report(store: Store, report_no: str, *, origin: str) -> dict[str, Any]:
    """The trace of an issued laboratory report: its analyses, reviews, samples, custody steps and reference lots,
    everyone who signed with whether the signature verifies, each record with its ledger proof."""
    reports = store.quality_rows("reports", report_no=report_no)
    if not reports:
        raise RecordError("no_report", f"没有报告 {report_no} | no report {report_no}", status=404)
    g = _Graph(store, origin)
    root = f"report:{report_no}"
    g.add(root, "report", f"检测报告 {report_no}", f"report {report_no}", ledgered=False)
    _lab_report(g, root, report_no)
    people = [p for n in g.nodes.values() for p in n["people"]]
    return {
        "format": FORMAT,
        "subject": {"kind": "report", "report_no": report_no},
        "verdict": {
            "signatures_ok": all(p.get("signature_ok") for p in people),
            "signers": sorted({p["account"] for p in people}),
            "superseded_by": [
                r["report_no"] for r in store.quality_rows("reports", supersedes=reports[0]["id"])
            ],
        },
        "nodes": list(g.nodes.values()),
        "edges": g.edges,
        "checkpoint": {"size": g.size, "note": g.checkpoint["note"]} if g.checkpoint is not None else None,
    }
