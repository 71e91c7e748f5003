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
from typing import Any

from ..errors import RecordError
from ..ledger import merkle
from ..store import Store
from .lab import Lab
from .qa import QualityRecords

__all__ = ["FORMAT", "trace_hour", "trace_report"]

FORMAT = "envtrust-trace/v1"
MIN_VALID_MINUTES = 45


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


def trace_hour(store: Store, mn: str, pollutant: str, start: int, *, origin: str) -> dict[str, Any]:
    """The trace of the hourly value of ``pollutant`` at ``mn`` for the local clock hour starting at ``start``."""
    from ..quality import stored_inputs
    from .marks import mark_contexts, mark_rows, marks_for_checks

    point = next((p for p in store.points() if p.mn == mn), None)
    if point is None:
        raise RecordError("no_point", f"监测点 {mn} 未登记 | no registered point {mn}", status=404)
    end = start + 3600
    g = _Graph(store, origin)
    records = QualityRecords(store)
    blocked = records.blocked([mn])
    marks = marks_for_checks(store, [mn])
    inputs = stored_inputs(
        store, [point], start=start - 86400, end=end + 86400, mns=[mn], blocked=blocked, marks=marks,
        contexts=mark_contexts(store, [mn]),
    )  # fmt: skip
    value: float | None = None
    valid_minutes = 0
    reasons: list[dict[str, Any]] = []
    hour_ref = f"hour:{mn}/{pollutant}/{start}"
    if (
        inputs.points
        and inputs.points[0].minute is not None
        and pollutant in inputs.points[0].minute.channels
    ):
        pd = inputs.points[0]
        agg = pd.hourly(pollutant)
        hit = [i for i, s in enumerate(agg.start.tolist()) if s == start]
        if hit:
            i = hit[0]
            valid_minutes = int(agg.count[i])
            mean = float(agg.conv[i])
            value = round(mean, 4) if valid_minutes else None
    valid = valid_minutes >= MIN_VALID_MINUTES
    g.add(hour_ref, "hour", f"{pollutant} 小时均值", f"{pollutant} hourly value", ledgered=False,
          data={"value": value, "valid_minutes": valid_minutes})  # fmt: skip

    # readings and the frames that carried them
    rows = store.readings_page(mn, "minute", pollutant=pollutant, start=start, end=end, limit=100)
    if not rows:  # no minute data: the logger's hourly value
        rows = store.readings_page(mn, "hour", pollutant=pollutant, start=start, end=end, limit=1)
    frames = sorted({int(r["frame_id"]) for r in rows if r.get("frame_id") is not None})
    for fid in frames:
        ref = g.add(f"frames/{fid}", "hj212.frame", "原始报文", "raw frame as received")
        g.link(hour_ref, ref, "computed_from")
    reg = g.add(f"points/{mn}", "registry.point", f"监测点 {point.name}", f"point {point.name}",
                data={"limits": dict(point.limits), "reference_o2": point.reference_o2})  # fmt: skip
    g.link(hour_ref, reg, "judged_with")

    # the analyser in force, its checks, comparisons and the laboratory behind them
    analysers = [
        a for a in records.analysers([mn]) if a["pollutant"] == pollutant and int(a["valid_from"]) <= start
    ]
    if analysers:
        a = max(analysers, key=lambda r: (r["valid_from"], r["id"]))
        aref = g.add(f"analysers/{a['id']}", "qa.analyser", f"分析仪 {a['maker']} {a['model']} {a['serial_no']}",
                     f"analyser {a['maker']} {a['model']} {a['serial_no']}", data=a)  # fmt: skip
        g.link(hour_ref, aref, "measured_by")
        checks = store.quality_rows("qa_checks", order="started", analyser_id=a["id"])
        for kind in ("zero", "span", "standard"):
            before = [
                c for c in checks if c["kind"] == kind and c["ended"] <= start and c["verdict"] != "fail"
            ]
            if not before:
                continue
            c = before[-1]
            cref = g.add(f"qa_checks/{c['id']}", "qa.check", f"{kind} 核查 {c['verdict']}",
                         f"{kind} check {c['verdict']}", data=c)  # fmt: skip
            g.link(aref, cref, f"last_passed_{kind}")
            signer = g.person(c.get("sig_id"), "recorded_by")
            if signer is not None:
                g.nodes[cref]["people"].append({**signer, "performed_by": c["performed_by"]})
            else:
                g.nodes[cref]["people"].append({"role": "operator", "account": c["performed_by"], "signature": None,
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
        after = [c for c in comps if c["started"] >= end]
        pair: list[tuple[str, dict[str, Any] | None]] = [
            ("last_comparison", prior[-1] if prior else None),
            ("next_comparison", after[0] if after else None),
        ]
        for rel, comparison in pair:
            if comparison is None:
                continue
            cmp = comparison
            cref = g.add(f"comparisons/{cmp['id']}", "qa.comparison", f"比对监测 {cmp['verdict']}",
                         f"comparison {cmp['verdict']}", data={**cmp, "pairs": json.loads(cmp["pairs"])},
                         people=[g.person(cmp.get("sig_id"), "recorded_by")])  # fmt: skip
            g.link(aref, cref, rel)
            _lab_report(g, cref, cmp["rm_source"])
    else:
        reasons.append({"cause": "no_analyser", "detail": "no analyser registered for the hour"})

    # what makes the hour invalid
    for span in blocked.get(mn, {}).get(pollutant, []):
        if span.start < end and (span.end is None or span.end > start):
            reasons.append({"cause": "out_of_control", "kind": span.kind, "records": list(span.failed),
                            "from": span.start, "to": span.end})  # fmt: skip
            for rec in span.failed:
                g.link(hour_ref, g.add(rec, "qa.failed", "不合格记录", "failed record"), "invalidated_by")
    for m in mark_rows(store, [mn]):
        if (
            m["start"] < end
            and m["end"] > start
            and (m["pollutants"] is None or pollutant in m["pollutants"])
        ):
            mref = g.add(f"data_marks/{m['id']}", "mark.data", f"企业标记 {m['code']}（{m['state']}）",
                         f"enterprise mark {m['code']} ({m['state']})",
                         people=[g.person(m["sig_id"], "marked_by")], data=m)  # fmt: skip
            g.link(hour_ref, mref, "marked")
            reasons.append({"cause": "marked", "record": mref, "code": m["code"], "state": m["state"]})
    if not valid and not reasons:
        reasons.append({"cause": "too_few_valid_minutes", "valid_minutes": valid_minutes})
    return {
        "format": FORMAT,
        "subject": {
            "kind": "hour",
            "mn": mn,
            "pollutant": pollutant,
            "start": start,
            "end": end,
            "value": value,
        },
        "verdict": {"valid": valid, "valid_minutes": valid_minutes, "reasons": reasons},
        "nodes": list(g.nodes.values()),
        "edges": g.edges,
        "checkpoint": {"size": g.size, "note": g.checkpoint["note"]} if g.checkpoint is not None else None,
    }


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
