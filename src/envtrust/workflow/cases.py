"""Fraud cases and their transfer to the police (clause 八), with a package anyone can verify offline.

A regulator or inspector opens a case for an enterprise's points and a period of data, citing the evidence; staff
add the documents the law lists — the transfer letter (涉嫌犯罪案件移送书), the investigation report (调查报告), the
site-inspection record (现场勘查笔录) and, if they wish, their own list of evidence (涉案物品清单).  The **transfer
package** (:meth:`Cases.package`, ``envtrust-case-package/v1``) is one ZIP archive:

* ``README.txt`` — what is inside and how to check it, in Chinese and English;
* ``case.json`` — the case, its documents and the generated **list of evidence** (every record with its kind, a
  description, its ledger index and where it is in the archive);
* ``documents/…`` — the documents as uploaded;
* ``records.jsonl`` — every record behind the case as stored — the raw HJ 212 frames of the points in the period
  (bytes in base64), the registry entries, the alarms' events, the analysers, calibration (zero/span) checks,
  comparisons and maintenance, the data marks, the personal signatures (sign-offs) of all of these, inspections,
  orders, the case and its documents — each with its **ledger entry** and **inclusion proof** against one signed
  checkpoint (sealed entries are disclosed: the row with its salt, from which the entry is recomputed);
* ``checkpoint.txt`` — that checkpoint as the log signed it, with the witnesses' cosignatures; ``keys.json`` — the
  public keys of the log and the witnesses;
* ``manifest.json`` and ``SHA256SUMS`` — the SHA-256 of every other file (``sha256sum -c SHA256SUMS`` checks the
  files with nothing but coreutils).

:func:`verify_package` (``envtrust case verify PACKAGE``) needs nothing but the archive (and, better, the log's key
obtained out of band): the files against the manifest, the checkpoint's signature and cosignatures, each entry's
inclusion in the signed tree, and each record against its entry (recomputed from the record's own bytes).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import RecordError
from ..ledger import merkle
from ..ledger.entries import STATE_ENTRIES, frame_entry
from ..ledger.note import NoteError, Verifier, open_checkpoint, parse_vkey, verify_cosignature
from ..store import Store
from .interference import Attachment, store_attachments, text_field
from .refs import REF, common_region, readable

__all__ = ["DOC_KINDS", "FORMAT", "REQUIRED", "Cases", "verify_package"]

FORMAT = "envtrust-case-package/v1"
DOC_KINDS = ("transfer_letter", "investigation_report", "site_record", "evidence_list", "other")
REQUIRED = ("transfer_letter", "investigation_report", "site_record")
STAFF = ("regulator", "inspector")
MAX_PERIOD_S = 366 * 86400
DOC_NAMES = {
    "transfer_letter": "涉嫌犯罪案件移送书 | transfer letter",
    "investigation_report": "调查报告 | investigation report",
    "site_record": "现场勘查笔录 | site-inspection record",
    "evidence_list": "涉案物品清单 | list of evidence",
    "other": "其他材料 | other document",
}
README = """envtrust 案件移送证据包 / case transfer package ({case_no})

内容 / contents
  case.json        案件、文书与证据清单 / the case, its documents and the list of evidence
  documents/       移送书、调查报告、现场勘查笔录等 / transfer letter, investigation report, site record …
  records.jsonl    原始报文与全部相关记录，各附账本条目与包含证明 / raw frames and every record, each with its
                   ledger entry and inclusion proof
  checkpoint.txt   签名检查点（含见证人联署）/ the signed checkpoint with the witnesses' cosignatures
  keys.json        日志与见证人公钥 / public keys of the log and the witnesses
  manifest.json, SHA256SUMS  每个文件的 SHA-256 / SHA-256 of every file

核验 / how to check
  1. sha256sum -c SHA256SUMS          （仅核对文件完整性 / file integrity only）
  2. envtrust case verify {name} --log-key <公布的日志公钥 / the published log key>
     核对签名检查点、每条记录在账本中的包含证明，以及记录与账本条目一致。
     checks the signed checkpoint, each record's inclusion in the ledger and that each record matches its entry.
日志公钥 / log key in this package: {vkey}
"""


def _now_us() -> int:
    return time.time_ns() // 1000


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        out[k] = (
            {"$b64": base64.b64encode(bytes(v)).decode()}
            if isinstance(v, bytes | bytearray | memoryview)
            else v
        )
    return out


def _from_json(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        out[k] = (
            base64.b64decode(v["$b64"], validate=True) if isinstance(v, dict) and set(v) == {"$b64"} else v
        )
    return out


class Cases:
    """The fraud cases of one store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def _staff(self, username: str, region: str) -> dict[str, Any]:
        account = self.store.account(username)
        if account is None or not account["active"] or account["role"] not in STAFF:
            raise RecordError(
                "forbidden",
                "只有监管和执法人员办理案件 | only regulators and inspectors handle cases",
                status=403,
            )
        if not region.startswith(account["region"] or "\0"):
            raise RecordError("no_case", "没有该案件 | no such case", status=404)
        return account

    def open(
        self,
        *,
        username: str,
        case_no: str,
        title: str,
        enterprise: str,
        mns: Sequence[str],
        start: int,
        end: int,
        summary: str,
        evidence: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Open a case for ``mns`` and the data of ``[start, end)``."""
        scopes = self.store.point_scopes()
        if not mns or any(mn not in scopes for mn in mns):
            raise RecordError("no_point", "须列出已登记的监测点 | name registered points", status=404)
        if not 0 < end - start <= MAX_PERIOD_S:
            raise RecordError(
                "bad_span", "数据时段须在一年以内 | the period is more than nothing and at most a year"
            )
        account = self._staff(username, scopes[mns[0]][0])
        for mn in mns:  # every point in the staff member's region
            if not scopes[mn][0].startswith(account["region"] or "\0"):
                raise RecordError(
                    "forbidden", f"{mn} 不在您的辖区内 | {mn} is outside your region", status=403
                )
        region = common_region([scopes[mn][0] for mn in mns])
        for ref in evidence:  # what the package will disclose: only what the staff member may read
            if not REF.match(ref):
                raise RecordError("bad_ref", f"证据编号无效：{ref!r} | not a record reference: {ref!r}")
            if not readable(self.store, ref, account):
                raise RecordError("no_record", f"没有记录 {ref} | no record {ref}", status=404)
        if self.store.quality_rows("cases", case_no=case_no.strip()):
            raise RecordError("exists", f"案件编号 {case_no} 已存在 | case {case_no} exists", status=409)
        with self.store.quality_tx() as tx:
            row = tx.record(
                "cases",
                {"case_no": text_field(case_no, "案件编号|a case number", limit=100),
                 "title": text_field(title, "案由|a title", limit=200),
                 "enterprise": text_field(enterprise, "企业|the enterprise", limit=200),
                 "mns": json.dumps(sorted(set(mns))), "region": region, "period_start": int(start),
                 "period_end": int(end), "summary": text_field(summary, "案情|a summary", limit=8000),
                 "evidence": json.dumps(sorted(set(evidence))), "opened_by": username, "at_us": _now_us(),
                 "salt": secrets.token_hex(32)},
            )  # fmt: skip
            tx.finish()
        return row

    def _case(self, case_id: int, username: str) -> dict[str, Any]:
        rows = self.store.quality_rows("cases", id=case_id)
        if not rows:
            raise RecordError("no_case", "没有该案件 | no such case", status=404)
        self._staff(username, rows[0]["region"])
        return rows[0]

    def add_document(
        self, case_id: int, *, kind: str, title: str, file: Attachment, username: str
    ) -> dict[str, Any]:
        """Add a document (a file) of ``kind`` to a case."""
        if kind not in DOC_KINDS:
            raise RecordError(
                "bad_kind", f"文书类别须为 {', '.join(DOC_KINDS)} | kind: one of {', '.join(DOC_KINDS)}"
            )
        if not file.data:
            raise RecordError("missing", "文书文件为空 | the document's file is empty")
        self._case(case_id, username)
        with self.store.quality_tx() as tx:
            [att] = store_attachments(tx, [file], username)
            row = tx.record(
                "case_documents",
                {"case_id": case_id, "kind": kind, "title": text_field(title, "标题|a title", limit=200),
                 "attachment_id": att["id"], "who": username, "at_us": _now_us(), "salt": secrets.token_hex(32)},
            )  # fmt: skip
            tx.finish()
        return row

    def visible(self, username: str) -> list[dict[str, Any]]:
        account = self.store.account(username)
        if account is None or account["role"] not in STAFF:
            return []
        scope = account["region"] or "\0"
        return [
            self._shown(r)
            for r in reversed(self.store.quality_rows("cases"))
            if r["region"].startswith(scope)
        ]

    def show(self, case_id: int, username: str) -> dict[str, Any]:
        return self._shown(self._case(case_id, username))

    def _shown(self, row: Mapping[str, Any]) -> dict[str, Any]:
        docs = self.store.quality_rows("case_documents", case_id=row["id"])
        kinds = {d["kind"] for d in docs}
        return {
            **{k: v for k, v in row.items() if k != "salt"},
            "mns": json.loads(row["mns"]),
            "evidence": json.loads(row["evidence"]),
            "documents": [{k: v for k, v in d.items() if k != "salt"} for d in docs],
            "missing_documents": [k for k in REQUIRED if k not in kinds],
            "entry": self.store.entry_index(f"cases/{row['id']}"),
        }

    # -- the package ----------------------------------------------------------------------------------------
    def package(
        self, case_id: int, *, username: str, log_verifier: Any, witness_verifiers: Sequence[Any] = ()
    ) -> bytes:
        """The transfer package of a case (a ZIP archive, ``envtrust-case-package/v1``)."""
        from ..bundle import _cosigned_note

        case = self._case(case_id, username)
        account = self.store.account(username)
        unreadable = [ref for ref in json.loads(case["evidence"]) if not readable(self.store, ref, account)]
        if unreadable:  # the package discloses what the case cites: only to who may read all of it
            raise RecordError(
                "forbidden",
                f"案件引用了您无权查看的记录（{unreadable[0]}），请由 {case['opened_by']} 导出 | the case cites a "
                f"record you may not read ({unreadable[0]}): ask {case['opened_by']} for the package",
                status=403,
            )
        shown = self._shown(case)
        if shown["missing_documents"]:
            raise RecordError("missing_documents", "缺少文书：" + "、".join(DOC_NAMES[k].split(" | ")[0] for k in
                              shown["missing_documents"]) + " | missing documents: " + ", ".join(
                              shown["missing_documents"]), status=409)  # fmt: skip
        cp = self.store.latest_checkpoint()
        if cp is None:
            raise RecordError("no_checkpoint", "尚无签名检查点 | no signed checkpoint yet", status=409)
        size = int(cp["size"])
        collected = _Collector(self.store, size)
        mns = json.loads(case["mns"])
        start, end = int(case["period_start"]), int(case["period_end"])
        collected.case(case)
        files: dict[str, bytes] = {}
        for d in self.store.quality_rows("case_documents", case_id=case_id):
            att = self.store.quality_rows("attachments", id=d["attachment_id"])[0]
            path = f"documents/{d['id']:03d}-{d['kind']}-{att['name']}"
            files[path] = bytes(att["data"])
            collected.add("attachments", att, f"{DOC_NAMES[d['kind']]}: {d['title']}", file=path)
            collected.add("case_documents", d, f"{DOC_NAMES[d['kind']]}: {d['title']}")
        collected.evidence(mns, start, end, json.loads(case["evidence"]))
        if collected.late:
            raise RecordError(
                "no_checkpoint",
                f"{len(collected.late)} 条记录晚于最新签名检查点，请待下一个检查点 | {len(collected.late)} records "
                "are newer than the newest signed checkpoint: wait for the next one",
                status=409,
            )
        note = _cosigned_note(str(cp["note"]), self.store.cosignatures(size))
        listing = [
            {"no": n, "ref": r["ref"], "kind": r["table"], "description": r["description"], "index": r["index"],
             "file": r.get("file", "records.jsonl")}
            for n, r in enumerate(collected.records, start=1)
        ]  # fmt: skip
        case_json = {
            "format": FORMAT,
            "case": {**_jsonable({k: v for k, v in case.items() if k != "salt"}), "mns": mns,
                     "evidence": json.loads(case["evidence"])},
            "documents": [{"kind": d["kind"], "title": d["title"], "name": DOC_NAMES[d["kind"]]}
                          for d in shown["documents"]],
            "evidence_list": listing,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }  # fmt: skip
        files["case.json"] = json.dumps(case_json, ensure_ascii=False, indent=2).encode()
        files["records.jsonl"] = b"".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True).encode() + b"\n" for r in collected.records
        )
        files["checkpoint.txt"] = note.encode()
        keys = {"log": log_verifier.vkey(), "witnesses": [w.vkey() for w in witness_verifiers]}
        files["keys.json"] = json.dumps(keys, indent=2).encode()
        name = f"{re.sub(r'[^A-Za-z0-9._-]+', '_', case['case_no'])}.zip"
        files["README.txt"] = README.format(case_no=case["case_no"], name=name, vkey=keys["log"]).encode()
        manifest = {
            path: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for path, data in files.items()
        }
        files["manifest.json"] = json.dumps(
            {"format": FORMAT, "files": manifest}, indent=2, sort_keys=True
        ).encode()
        files["SHA256SUMS"] = "".join(f"{m['sha256']}  {p}\n" for p, m in sorted(manifest.items())).encode()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(files):
                z.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), files[path])
        return buf.getvalue()


class _Collector:
    """The records behind a case, each with its ledger entry and inclusion proof against the tree of ``size``."""

    def __init__(self, store: Store, size: int) -> None:
        self.store, self.size = store, size
        self.records: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.late: list[str] = []

    def add(self, table: str, row: Mapping[str, Any], description: str, *, file: str | None = None) -> None:
        ref = f"{table}/{row['id']}"
        if ref in self.seen:
            return
        self.seen.add(ref)
        index = self.store.entry_index(ref)
        if index is None:
            return
        if index >= self.size:
            self.late.append(ref)
            return
        found = self.store.entry(index)
        assert found is not None
        data = {k: v for k, v in row.items() if not (table == "attachments" and k == "data")}
        rec: dict[str, Any] = {
            "ref": ref, "table": table, "description": description, "index": index,
            "entry": base64.b64encode(found[2]).decode(),
            "proof": [base64.b64encode(h).decode() for h in self.store.inclusion_proof(index, self.size)],
            "row": _jsonable(data),
        }  # fmt: skip
        if file is not None:
            rec["file"] = file
        self.records.append(rec)
        sig = row.get("sig_id")
        if isinstance(sig, int):
            rows = self.store.quality_rows("signatures", id=sig)
            if rows:
                self.add("signatures", rows[0], "个人签名 | personal signature")

    def case(self, row: Mapping[str, Any]) -> None:
        self.add("cases", row, "案件 | the case")

    def evidence(self, mns: Sequence[str], start: int, end: int, cited: Sequence[str]) -> None:
        from ..quality import stored_frames

        ids = {fid for fid, *_ in stored_frames(self.store, start=start, end=end, mns=mns)}
        for mn in mns:
            for f in self.store.frames(mn=mn):
                if int(f["id"]) in ids:
                    self.add("frames", f, f"原始报文 {mn} | raw frame of {mn}")
            reg = self.store.entry_index(f"points/{mn}")
            if reg is not None and reg < self.size:
                found = self.store.entry(reg)
                assert found is not None
                self.seen.add(f"points/{mn}")
                self.records.append({
                    "ref": f"points/{mn}", "table": "registry", "description": f"监测点登记 {mn} | registry of {mn}",
                    "index": reg, "entry": base64.b64encode(found[2]).decode(),
                    "proof": [base64.b64encode(h).decode() for h in self.store.inclusion_proof(reg, self.size)],
                })  # fmt: skip
        for a in self.store.alarms(mn=list(mns), closed=None):
            if int(a["start_time"]) < end and int(a["end_time"]) > start:
                for e in self.store.alarm_events(int(a["id"])):
                    self.add("alarm_events", e, f"报警 #{a['id']} {a['check_name']} | alarm #{a['id']}")
        analysers = self.store.quality_rows("analysers", mn=list(mns))
        for a in analysers:
            self.add("analysers", a, f"分析仪 {a['serial_no']} | analyser")
        ids_a = [a["id"] for a in analysers]
        for table, what in (("qa_checks", "校准核查 | calibration check"), ("comparisons", "比对监测 | comparison"),
                            ("maintenance", "维护记录 | maintenance")):  # fmt: skip
            for r in self.store.quality_rows(table, analyser_id=ids_a) if ids_a else []:
                if int(r["started"]) < end + 90 * 86400 and int(r["ended"]) > start - 90 * 86400:
                    self.add(table, r, what)
        for m in self.store.quality_rows("data_marks", mn=list(mns)):
            if int(m["start"]) < end and int(m["end"]) > start:
                self.add("data_marks", m, "企业数据标记 | enterprise data mark")
                for e in self.store.quality_rows("mark_events", mark_id=m["id"]):
                    self.add("mark_events", e, "标记裁定 | decision on a mark")
        for r in self.store.quality_rows("inspections"):
            if r["target"] in mns:
                self.add("inspections", r, "现场检查 | inspection")
        for o in self.store.quality_rows("orders"):
            if set(json.loads(o["mns"])) & set(mns):
                self.add("orders", o, "责令改正决定 | order to rectify")
                for r in self.store.quality_rows("order_rechecks", order_id=o["id"]):
                    self.add("order_rechecks", r, "复查 | recheck")
        for ref in cited:
            table, _, key = ref.partition("/")
            if table in STATE_ENTRIES and key.isdigit():
                rows = self.store.quality_rows(table, id=int(key)) if table in _QUALITY else []
                if rows:
                    self.add(table, rows[0], "引用的证据 | cited evidence")


def _quality_tables() -> frozenset[str]:
    from ..store.quality import QUALITY_TABLES

    return frozenset(QUALITY_TABLES)


_QUALITY = _quality_tables()


def verify_package(data: bytes, *, log_key: Any = None) -> list[tuple[str, bool, str]]:
    """Check a case package with nothing else; ``(name, ok, message)`` per check, never raises."""
    checks: list[tuple[str, bool, str]] = []

    def add(name: str, ok: bool, message: str) -> bool:
        checks.append((name, ok, message))
        return ok

    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        files = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
        manifest = json.loads(files["manifest.json"])["files"]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        add("format", False, f"不是案件证据包 | not a case package: {exc}")
        return checks
    listed = set(manifest) | {"manifest.json", "SHA256SUMS"}
    bad = [
        p
        for p, m in manifest.items()
        if p not in files or hashlib.sha256(files[p]).hexdigest() != m.get("sha256")
    ]
    extra = sorted(set(files) - listed)
    if not add("files", not bad and not extra, "文件与清单一致 | every file matches the manifest" if not bad and not
               extra else f"文件不符 | files differ from the manifest: {', '.join(bad + extra)}"):  # fmt: skip
        return checks
    try:
        keys = json.loads(files["keys.json"])
        verifier = log_key or parse_vkey(keys["log"])
        if not isinstance(verifier, Verifier):
            raise ValueError("the log key is not a signed-note verifier key")
        note = files["checkpoint.txt"].decode()
        cp = open_checkpoint(note, verifier, origin=verifier.name)
    except (KeyError, ValueError, NoteError) as exc:
        add("checkpoint", False, f"检查点签名无效 | the checkpoint does not verify: {exc}")
        return checks
    add("checkpoint", True, f"检查点签名有效（{cp.origin}，规模 {cp.size}）| checkpoint signed by {cp.origin}, size "
        f"{cp.size}" + ("" if log_key else "; NOTE: the log key was taken from the package — compare it with the "
                       f"published key {keys['log']}"))  # fmt: skip
    for w in keys.get("witnesses", []):
        try:
            wk = parse_vkey(w)
            verify_cosignature(note, wk)
            add(f"cosignature:{wk.name}", True, f"见证人 {wk.name} 已联署 | cosigned by {wk.name}")
        except (NoteError, ValueError) as exc:
            add(f"cosignature:{w[:40]}", False, f"联署无效 | cosignature does not verify: {exc}")
    failures = 0
    count = 0
    for line in files.get("records.jsonl", b"").splitlines():
        count += 1
        try:
            rec = json.loads(line)
            entry = base64.b64decode(rec["entry"], validate=True)
            proof = [base64.b64decode(h, validate=True) for h in rec["proof"]]
            ok = merkle.verify_inclusion(
                merkle.leaf_hash(entry), int(rec["index"]), cp.size, proof, cp.root_hash
            )
            why = "" if ok else "not included in the signed tree"
            if ok and "row" in rec:
                row = _from_json(rec["row"])
                if rec["table"] == "frames":
                    again = frame_entry(int(row["id"]), row["raw"], row)
                else:
                    if rec["table"] == "attachments":
                        row["data"] = files[rec["file"]]
                    again = STATE_ENTRIES[rec["table"]][1](row)
                ok = again == entry
                why = "" if ok else "the record differs from its ledger entry"
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            ok, why = False, f"malformed record line: {exc}"
        if not ok:
            failures += 1
            if failures <= 20:
                add(f"record:{count}", False, f"记录 {count} 未通过 | record {count}: {why}")
    add("records", failures == 0 and count > 0, f"{count} 条记录均在账本中且与条目一致 | {count} records, each "
        "included in the signed tree and equal to its entry" if failures == 0 and count > 0
        else f"{failures} 条记录未通过 | {failures} of {count} records fail")  # fmt: skip
    return checks
