"""The laboratory chain, each step signed by the person who did it (clause 十一: 谁出数谁负责、谁签字谁负责).

Sample → custody (sampled, transported, received or rejected) → analysis (raw result, method, instrument, certified
reference lots) → reviews → report, issued by an authorised signatory.  Every step is an insert-only row, a ledger
entry, and a ``person.signature`` entry: a statement (:mod:`envtrust.workflow.signing`) of exactly what the row
records, signed with the person's own key — held by the person, or sealed by the server under a passphrase only
the person knows — so nobody, an administrator included, can sign for someone else.

Rules (decision 0012 §8): each step needs the person's lab function; nobody reviews work they signed any step of
(``own_work``); a report needs ``required_reviews`` approvals by distinct reviewers of each analysis and no rejection
(``reviews_missing``), and a signatory who neither analysed nor reviewed it (``own_work``); retraction and retest
keep the original (a retraction is a row naming the analysis; a retest a new analysis naming the one it repeats);
reference lots must be usable when the analysis was made.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import RecordError
from ..ledger.entries import canonical
from ..ledger.note import NoteError, Signer, Verifier
from ..store import Store
from ..store.quality import QualityTx
from .qa import decimal_text, usable_lot
from .signing import (
    key_name,
    seal,
    sign_statement,
    statement_text,
    unseal,
    verified_statement,
)

__all__ = ["CUSTODY_STEPS", "FUNCTIONS", "Lab", "Signed", "StatementPrepared"]

FUNCTIONS = ("sampler", "receiver", "analyst", "reviewer", "signatory")
# custody step -> the function of the person who signs it
CUSTODY_STEPS = {
    "sampled": "sampler",
    "transported": "sampler",
    "received": "receiver",
    "rejected": "receiver",
}
STATEMENT_SKEW_S = 300  # a signed statement's time may differ from the server's by this much
LAB_ZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Signed:
    """How a person signs a step: with the private key they hold, on their own machine (``key``: the command line
    signs the statement there); with the statement prepared for them, signed elsewhere (``note``, the whole signed
    note); or with the passphrase of their server-sealed key."""

    key: Signer | None = None
    note: str | None = None
    passphrase: str | None = None
    prepare: bool = False  # only build the statement to be signed: :class:`StatementPrepared` carries it


class StatementPrepared(Exception):
    """Raised (nothing is recorded) when a step is asked with ``Signed(prepare=True)``: ``statement`` is the text
    the person signs with their own key and sends back as ``Signed(note=…)`` within five minutes."""

    def __init__(self, statement: str) -> None:
        super().__init__("statement prepared")
        self.statement = statement


def _now_us() -> int:
    return time.time_ns() // 1000


class Lab:
    """The laboratory chain of one store.  ``origin`` names the ledger (key names are ``<origin>/person/<user>``);
    ``activation_s`` is how long a new key waits before it may sign (a window in which the person is told and can
    revoke it); ``required_reviews`` approvals by distinct reviewers are needed per analysis."""

    def __init__(
        self,
        store: Store,
        *,
        origin: str,
        activation_s: int = 24 * 3600,
        required_reviews: int = 1,
        clock: Callable[[], float] = time.time,
        render: Callable[[Any], bytes] | None = None,
        public_url: str = "http://127.0.0.1:8212",
    ) -> None:
        if required_reviews < 1:
            raise ValueError("required_reviews must be at least 1")
        self.store = store
        self.origin = origin
        self.activation_s = activation_s
        self.required_reviews = required_reviews
        self.clock = clock
        self.render = render
        self.public_url = public_url

    # ------------------------------------------------------------------ people
    def _account(self, username: str) -> dict[str, Any]:
        row = self.store.account(username)
        if row is None or not row["active"]:
            raise RecordError(
                "no_account", f"没有有效账户 {username} | no active account {username}", status=404
            )
        return row

    def functions(self, username: str) -> set[str]:
        """The lab functions an account holds now."""
        account = self._account(username)
        held: dict[str, bool] = {}
        for row in self.store.quality_rows("lab_functions", account_id=account["id"]):
            held[row["function"]] = bool(row["granted"])
        return {f for f, on in held.items() if on}

    def grant(self, username: str, function: str, *, who: str, granted: bool = True) -> int:
        """Grant (or revoke) a lab function; returns the ledger index."""
        if function not in FUNCTIONS:
            raise RecordError("bad_kind", f"function: one of {', '.join(FUNCTIONS)}")
        account = self._account(username)
        if account["role"] == "admin":
            raise RecordError(
                "forbidden", "管理员不能担任实验室职能 | an administrator holds no lab function", status=403
            )
        with self.store.quality_tx() as tx:
            tx.record(
                "lab_functions",
                {
                    "account_id": account["id"],
                    "function": function,
                    "granted": granted,
                    "who": who,
                    "at_us": _now_us(),
                },
            )
            entry = tx.finish()
        assert entry is not None
        return entry

    # ------------------------------------------------------------------ keys
    def keys(self, username: str) -> list[dict[str, Any]]:
        """An account's keys (without the sealed secret), each with ``revoked`` (the event or None)."""
        account = self._account(username)
        revoked = {e["key_id"]: e for e in self.store.quality_rows("person_key_events", action="revoke")}
        return [
            {**{k: v for k, v in row.items() if k != "sealed"}, "revoked": revoked.get(row["id"])}
            for row in self.store.quality_rows("person_keys", account_id=account["id"])
        ]

    def create_sealed_key(self, username: str, passphrase: str, *, who: str) -> dict[str, Any]:
        """A new key kept by the server, sealed under the person's signing passphrase (never stored)."""
        account = self._account(username)
        signer = Signer.generate(key_name(self.origin, username))
        blob = seal(signer.seed, passphrase, account_id=account["id"], key=signer.key_hash.hex())
        return self._add_key(account, signer.verifier(), "sealed", blob, None, who)

    def register_key(self, username: str, vkey: str, pop: str, *, who: str) -> dict[str, Any]:
        """A key the person holds: its verifier key and a proof of possession (a ``person.key`` statement naming
        the account and this verifier key, signed with the key)."""
        account = self._account(username)
        try:
            verifier = Verifier.from_vkey(vkey.strip())
        except (NoteError, ValueError) as exc:
            raise RecordError("bad_value", f"vkey: {exc}") from None
        if verifier.name != key_name(self.origin, username):
            raise RecordError(
                "bad_value",
                f"密钥名应为 {key_name(self.origin, username)} | the key must be named "
                f"{key_name(self.origin, username)}, not {verifier.name}",
            )
        statement = verified_statement(pop, verifier)
        if (
            statement.get("act") != "person.key"
            or statement.get("signer", {}).get("account") != username
            or statement.get("subject", {}).get("vkey") != verifier.vkey()
        ):
            raise RecordError(
                "bad_pop",
                "持有证明与账户或密钥不符 | the proof of possession names another account or key",
                status=403,
            )
        return self._add_key(account, verifier, "person", None, pop, who)

    def proof_of_possession(self, username: str, signer: Signer, account_id: int) -> str:
        """The proof of possession a person signs with a key they hold (``envtrust keys person pop``)."""
        text = statement_text(
            origin=self.origin,
            act="person.key",
            role="keyholder",
            account=username,
            account_id=account_id,
            key=signer.key_hash.hex(),
            at=int(self.clock()),
            subject={"vkey": signer.verifier().vkey()},
            refs=[],
        )
        return sign_statement(text, signer)

    def _add_key(
        self,
        account: dict[str, Any],
        verifier: Verifier,
        custody: str,
        sealed: bytes | None,
        pop: str | None,
        who: str,
    ) -> dict[str, Any]:
        now = _now_us()
        with self.store.quality_tx() as tx:
            row = tx.record(
                "person_keys",
                {
                    "account_id": account["id"],
                    "key_hash": verifier.key_hash.hex(),
                    "vkey": verifier.vkey(),
                    "custody": custody,
                    "sealed": sealed,
                    "sealed_sha256": hashlib.sha256(sealed).hexdigest() if sealed is not None else None,
                    "active_from_us": now + self.activation_s * 1_000_000,
                    "registered_by": who,
                    "pop": pop,
                    "at_us": now,
                },
            )
            tx.finish()
        return {k: v for k, v in row.items() if k != "sealed"}

    def revoke_key(self, key_id: int, *, reason: str, who: str) -> int:
        """Revoke a key: it signs nothing more; what it signed stays valid."""
        if not reason.strip():
            raise RecordError("missing", "须说明理由 | a reason is required")
        with self.store.quality_tx() as tx:
            if tx.one("person_keys", key_id) is None:
                raise RecordError("no_key", f"没有密钥 #{key_id} | no key #{key_id}", status=404)
            tx.record(
                "person_key_events",
                {"key_id": key_id, "action": "revoke", "reason": reason, "who": who, "at_us": _now_us()},
            )
            entry = tx.finish()
        assert entry is not None
        return entry

    def _active_key(self, tx: QualityTx, account: dict[str, Any], now_us: int) -> dict[str, Any]:
        revoked = {e["key_id"] for e in tx.rows("person_key_events", action="revoke")}
        keys = [k for k in tx.rows("person_keys", account_id=account["id"]) if k["id"] not in revoked]
        usable = [k for k in keys if k["active_from_us"] <= now_us]
        if not usable:
            waiting = ("（新密钥登记 24 小时后生效）", " (a new key becomes active 24 h after registration)")
            zh, en = waiting if keys else ("", "")
            raise RecordError(
                "key_not_active",
                f"{account['username']} 没有可用的签名密钥{zh} | {account['username']} has no active signing key{en}",
                status=403,
            )
        return usable[-1]

    # ------------------------------------------------------------------ signing
    def prepare(
        self, username: str, act: str, role: str, subject: dict[str, Any], refs: list[dict[str, Any]]
    ) -> str:
        """The statement text a person signs for an act (with their active key's ID and the server's time);
        nothing is recorded."""
        try:
            with self.store.quality_tx() as tx:
                self.sign_in(tx, username, act, role, subject, refs, Signed(prepare=True))
        except StatementPrepared as prepared:
            return prepared.statement
        raise AssertionError("sign_in returns a prepared statement")  # pragma: no cover

    def sign_in(
        self,
        tx: QualityTx,
        username: str,
        act: str,
        role: str,
        subject: dict[str, Any],
        refs: list[dict[str, Any]],
        signed: Signed,
        at: int | None = None,
        sealed: bool = False,
    ) -> dict[str, Any]:
        """Check the signature of ``username`` over exactly this act and record it (a ``person.signature``;
        ``sealed``: a confidential act, whose entry shows neither the signer nor the statement)."""
        account = self._account(username)
        if account["role"] == "admin":
            raise RecordError("forbidden", "管理员不能签署 | an administrator signs nothing", status=403)
        if role in FUNCTIONS and role not in self.functions(username):
            raise RecordError(
                "no_function",
                f"{username} 未被授予 {role} 职能 | {username} does not hold the lab function {role}",
                status=403,
            )
        now = int(self.clock()) if at is None else at
        key = self._active_key(tx, account, max(_now_us(), int(now * 1_000_000)))
        verifier = Verifier.from_vkey(key["vkey"])
        text = statement_text(
            origin=self.origin,
            act=act,
            role=role,
            account=username,
            account_id=account["id"],
            key=key["key_hash"],
            at=now,
            subject=subject,
            refs=refs,
        )
        if signed.prepare:
            raise StatementPrepared(text)
        if signed.passphrase is not None or signed.key is not None:
            if signed.key is not None:
                if signed.key.key_hash.hex() != key["key_hash"] or signed.key.name != verifier.name:
                    raise RecordError(
                        "bad_signature",
                        f"该私钥不是 {username} 的有效密钥 | this private key is not {username}'s active key",
                        status=403,
                    )
                holder = signed.key
            else:
                if key["custody"] != "sealed":
                    raise RecordError(
                        "bad_signature",
                        "该密钥由本人持有，须用本人私钥签名 | this key is held by its owner: sign with it",
                        status=403,
                    )
                assert signed.passphrase is not None
                seed = _unseal_throttled(key, signed.passphrase, account["id"])
                holder = Signer(verifier.name, seed)
            note = sign_statement(text, holder)
            verified_statement(note, verifier)  # the key that signed is the registered one
        elif signed.note is not None:
            note = signed.note if signed.note.endswith("\n") else signed.note + "\n"
            statement = verified_statement(note, verifier)
            signer = statement.get("signer", {})
            if signer.get("account") != username or signer.get("account_id") != account["id"]:
                raise RecordError(
                    "signer_mismatch",
                    "声明中的签署人不是本人 | the statement names another signer",
                    status=403,
                )
            if statement.get("act") != act or statement.get("role") != role:
                raise RecordError(
                    "statement_mismatch", "声明与本操作不符 | the statement is for another act", status=403
                )
            if canonical(statement.get("subject")) != canonical(subject) or canonical(
                statement.get("refs")
            ) != canonical(refs):
                raise RecordError(
                    "statement_mismatch",
                    "声明内容与记录不符 | the statement does not match what is being recorded",
                    status=403,
                )
            signed_at = _parse_at(str(statement.get("at", "")))
            if abs(signed_at - int(self.clock())) > STATEMENT_SKEW_S:
                raise RecordError(
                    "stale_statement",
                    "声明时间与服务器时间相差过大 | the statement's time is too far from now",
                )
        else:
            raise RecordError(
                "missing", "须提供签名或签名口令 | a signature or the signing passphrase is required"
            )
        return tx.record(
            "signatures",
            {
                "account_id": account["id"],
                "key_id": key["id"],
                "role": role,
                "act": act,
                "note": note,
                "at_us": _now_us(),
                "salt": secrets.token_hex(32) if sealed else None,
            },
        )

    def _refs(self, tx: QualityTx, *refs: tuple[str, str]) -> list[dict[str, Any]]:
        out = []
        for rel, ref in refs:
            index = self.store.entry_index(ref)
            out.append({"rel": rel, "record": ref, "entry": index})
        return out

    # ------------------------------------------------------------------ the chain
    def plan_sample(
        self, sample_no: str, *, matrix: str, purpose: str, who: str, mn: str | None = None
    ) -> int:
        """A sample to be taken (not signed: the plan vouches for nothing measured)."""
        if purpose not in ("comparison", "supervisory", "self"):
            raise RecordError("bad_kind", "purpose: comparison, supervisory or self")
        if not sample_no.strip() or not matrix.strip():
            raise RecordError("missing", "须填写样品编号与介质 | sample_no and matrix are required")
        if "/" in sample_no:
            raise RecordError("bad_value", "样品编号不能含 / | a sample number cannot contain /")
        with self.store.quality_tx() as tx:
            if tx.rows("samples", sample_no=sample_no.strip()):
                raise RecordError(
                    "sample_exists", f"样品 {sample_no} 已登记 | sample {sample_no} exists", status=409
                )
            row = tx.record(
                "samples",
                {
                    "sample_no": sample_no.strip(),
                    "mn": mn,
                    "matrix": matrix.strip(),
                    "purpose": purpose,
                    "planned_by": who,
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return int(row["id"])

    def sample(self, sample_no: str) -> dict[str, Any]:
        rows = self.store.quality_rows("samples", sample_no=sample_no)
        if not rows:
            raise RecordError("no_sample", f"没有样品 {sample_no} | no sample {sample_no}", status=404)
        return rows[0]

    def custody(
        self,
        sample_no: str,
        step: str,
        *,
        at: int,
        place: str,
        condition: str,
        username: str,
        signed: Signed,
        seal_no: str = "",
    ) -> dict[str, Any]:
        """A custody step, signed by the sampler (sampled, transported) or the receiver (received, rejected)."""
        if step not in CUSTODY_STEPS:
            raise RecordError("bad_kind", f"step: one of {', '.join(CUSTODY_STEPS)}")
        sample = self.sample(sample_no)
        with self.store.quality_tx() as tx:
            steps = [e["step"] for e in tx.rows("custody_events", sample_id=sample["id"])]
            if "rejected" in steps:
                raise RecordError("sample_rejected", "样品已拒收 | the sample was rejected", status=409)
            if step != "sampled" and "sampled" not in steps:
                raise RecordError(
                    "out_of_order", "样品尚未采集 | the sample has not been taken yet", status=409
                )
            if step in ("sampled", "received") and step in steps:
                raise RecordError(
                    "out_of_order", f"已有 {step} 记录 | {step} is recorded already", status=409
                )
            subject = {
                "sample_no": sample["sample_no"],
                "step": step,
                "at": at,
                "place": place,
                "condition": condition,
                "seal_no": seal_no,
            }
            refs = self._refs(tx, ("sample", f"samples/{sample['id']}"))
            sig = self.sign_in(tx, username, "lab.custody", CUSTODY_STEPS[step], subject, refs, signed)
            row = tx.record(
                "custody_events",
                {
                    "sample_id": sample["id"],
                    "step": step,
                    "at": at,
                    "place": place,
                    "condition": condition,
                    "seal_no": seal_no,
                    "by": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return row

    def analyse(
        self,
        sample_no: str,
        *,
        parameter: str,
        method: str,
        instrument: str,
        raw_result: str,
        unit: str,
        analysed_at: int,
        username: str,
        signed: Signed,
        lot_ids: Sequence[int] = (),
        retest_of: int | None = None,
        raw_file_sha256: str | None = None,
    ) -> dict[str, Any]:
        """An analysis of a received sample, signed by the analyst; every reference lot must be usable then."""
        result = decimal_text(raw_result, "raw_result")
        sample = self.sample(sample_no)
        with self.store.quality_tx() as tx:
            steps = [e["step"] for e in tx.rows("custody_events", sample_id=sample["id"])]
            if "received" not in steps or "rejected" in steps:
                raise RecordError(
                    "not_received",
                    "样品未被实验室接收 | the laboratory has not received the sample",
                    status=409,
                )
            lots = [usable_lot(tx, lot_id, analysed_at, LAB_ZONE) for lot_id in lot_ids]
            if retest_of is not None:
                first = tx.one("analyses", retest_of)
                if first is None or first["sample_id"] != sample["id"] or first["parameter"] != parameter:
                    raise RecordError(
                        "bad_retest",
                        "复测须针对同一样品同一项目 | a retest repeats an analysis of the same sample and parameter",
                    )
            subject = {
                "sample_no": sample["sample_no"],
                "parameter": parameter,
                "method": method,
                "instrument": instrument,
                "lots": [int(lot["id"]) for lot in lots],
                "raw_result": result,
                "unit": unit,
                "analysed_at": analysed_at,
                "retest_of": retest_of,
                "raw_file_sha256": raw_file_sha256,
            }
            refs = self._refs(
                tx,
                ("sample", f"samples/{sample['id']}"),
                *(("lot", f"reference_lots/{lot['id']}") for lot in lots),
                *((("retest_of", f"analyses/{retest_of}"),) if retest_of is not None else ()),
            )
            sig = self.sign_in(tx, username, "lab.analysis", "analyst", subject, refs, signed)
            row = tx.record(
                "analyses",
                {
                    "sample_id": sample["id"],
                    "parameter": parameter,
                    "method": method,
                    "instrument": instrument,
                    "lot_ids": json.dumps([int(lot["id"]) for lot in lots]),
                    "raw_result": result,
                    "unit": unit,
                    "raw_file_sha256": raw_file_sha256,
                    "analysed_at": analysed_at,
                    "retest_of": retest_of,
                    "analyst": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return row

    def _chain_people(self, tx: QualityTx, analysis: dict[str, Any]) -> set[str]:
        """Everyone who signed a step of an analysis' chain: custody of its sample, the analysis, its reviews."""
        people = {e["by"] for e in tx.rows("custody_events", sample_id=analysis["sample_id"])}
        people.add(analysis["analyst"])
        people |= {r["reviewer"] for r in tx.rows("reviews", analysis_id=analysis["id"])}
        return people

    def _analysis(self, tx: QualityTx, analysis_id: int) -> dict[str, Any]:
        row = tx.one("analyses", analysis_id)
        if row is None:
            raise RecordError(
                "no_analysis", f"没有分析 #{analysis_id} | no analysis #{analysis_id}", status=404
            )
        if tx.rows("retractions", analysis_id=analysis_id):
            raise RecordError(
                "retracted", f"分析 #{analysis_id} 已撤回 | analysis #{analysis_id} is retracted", status=409
            )
        return row

    def review(
        self, analysis_id: int, *, decision: str, comment: str, username: str, signed: Signed
    ) -> dict[str, Any]:
        """A review of an analysis by someone who signed no step of its chain."""
        if decision not in ("approve", "reject"):
            raise RecordError("bad_kind", "decision: approve or reject")
        with self.store.quality_tx() as tx:
            analysis = self._analysis(tx, analysis_id)
            if username in self._chain_people(tx, analysis):
                raise RecordError(
                    "own_work",
                    "不能审核自己参与的工作 | nobody reviews work they took part in (sampling, custody, analysis, an "
                    "earlier review)",
                    status=403,
                )
            subject = {"analysis_id": analysis_id, "decision": decision, "comment": comment}
            refs = self._refs(tx, ("analysis", f"analyses/{analysis_id}"))
            sig = self.sign_in(tx, username, "lab.review", "reviewer", subject, refs, signed)
            row = tx.record(
                "reviews",
                {
                    "analysis_id": analysis_id,
                    "decision": decision,
                    "comment": comment,
                    "reviewer": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return row

    def retract(self, analysis_id: int, *, reason: str, username: str, signed: Signed) -> dict[str, Any]:
        """Retract an analysis (its analyst, or a signatory); the analysis stays, marked retracted."""
        if not reason.strip():
            raise RecordError("missing", "须说明理由 | a reason is required")
        with self.store.quality_tx() as tx:
            analysis = self._analysis(tx, analysis_id)
            role = "analyst" if analysis["analyst"] == username else "signatory"
            subject = {"analysis_id": analysis_id, "reason": reason}
            refs = self._refs(tx, ("analysis", f"analyses/{analysis_id}"))
            sig = self.sign_in(tx, username, "lab.retraction", role, subject, refs, signed)
            row = tx.record(
                "retractions",
                {
                    "analysis_id": analysis_id,
                    "reason": reason,
                    "by": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return row

    def issue(
        self,
        report_no: str,
        *,
        title: str,
        analysis_ids: Sequence[int],
        username: str,
        signed: Signed,
        supersedes: str | None = None,
    ) -> dict[str, Any]:
        """Issue a report of reviewed analyses, signed by an authorised signatory who took no part in them."""
        if not analysis_ids:
            raise RecordError("missing", "报告须包含分析结果 | a report needs analyses")
        if "/" in report_no or not report_no.strip():
            raise RecordError(
                "bad_value", "报告编号不能为空或含 / | a report number is not empty and has no /"
            )
        with self.store.quality_tx() as tx:
            if tx.rows("reports", report_no=report_no):
                raise RecordError(
                    "report_exists", f"报告 {report_no} 已签发 | report {report_no} exists", status=409
                )
            old = None
            if supersedes is not None:
                found = tx.rows("reports", report_no=supersedes)
                if not found:
                    raise RecordError(
                        "no_report", f"没有报告 {supersedes} | no report {supersedes}", status=404
                    )
                old = found[0]
            people: set[str] = set()
            refs = []
            for aid in sorted(set(analysis_ids)):
                analysis = self._analysis(tx, aid)
                reviews = tx.rows("reviews", analysis_id=aid)
                if any(r["decision"] == "reject" for r in reviews):
                    raise RecordError(
                        "rejected", f"分析 #{aid} 审核未通过 | analysis #{aid} was rejected", status=409
                    )
                approvers = {r["reviewer"] for r in reviews if r["decision"] == "approve"}
                if len(approvers) < self.required_reviews:
                    raise RecordError(
                        "reviews_missing",
                        f"分析 #{aid} 需要 {self.required_reviews} 人审核，现有 {len(approvers)} | analysis #{aid} needs "
                        f"{self.required_reviews} approving reviewer(s), has {len(approvers)}",
                        status=409,
                    )
                people |= {analysis["analyst"], *approvers}
                refs += self._refs(tx, ("analysis", f"analyses/{aid}"))
                refs += self._refs(tx, *(("review", f"reviews/{r['id']}") for r in reviews))
            if username in people:
                raise RecordError(
                    "own_work",
                    "签发人不能是分析或审核人 | the signatory must not have analysed or reviewed",
                    status=403,
                )
            index = tx.next_index() + 1  # after the signature's entry
            # the issue time is the signature's: a statement prepared and signed elsewhere carries its own
            now = _note_at(signed.note) if signed.note is not None else int(self.clock())
            subject: dict[str, Any] = {
                "report_no": report_no,
                "title": title,
                "analysis_ids": sorted(set(analysis_ids)),
                "supersedes": supersedes,
                "ledger_index": index,
            }
            pdf_sha256 = None
            if self.render is not None:
                key = self._active_key(tx, self._account(username), _now_us())
                doc = self._report_doc(tx, subject, username, key["key_hash"], now)
                pdf_sha256 = hashlib.sha256(self.render(doc)).hexdigest()
            subject["pdf_sha256"] = pdf_sha256
            sig = self.sign_in(tx, username, "lab.report", "signatory", subject, refs, signed, at=now)
            row = tx.record(
                "reports",
                {
                    "report_no": report_no,
                    "title": title,
                    "analysis_ids": json.dumps(sorted(set(analysis_ids))),
                    "supersedes": old["id"] if old is not None else None,
                    "pdf_sha256": pdf_sha256,
                    "signatory": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            first = tx.finish()
            assert first is not None and first + 1 == index
        return row

    # ------------------------------------------------------------------ reading the chain
    def _statement_of(self, tx: QualityTx, sig_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        sig = tx.rows("signatures", id=sig_id)[0]
        key = tx.rows("person_keys", id=sig["key_id"])[0]
        text = sig["note"].split("\n\n", 1)[0]
        return json.loads(text), key

    def _report_doc(
        self, tx: QualityTx, subject: dict[str, Any], signatory: str, key_hash: str, at: int
    ) -> Any:
        """What the report PDF shows: every step behind its analyses with who signed it and when."""
        from datetime import UTC, datetime, timedelta, timezone

        from ..report_pdf import ReportDoc, ResultLine, SampleLine
        from ..report_pdf import Signer as PdfSigner

        cn = timezone(timedelta(hours=8))

        def iso(t: int) -> str:
            return datetime.fromtimestamp(t, cn).isoformat()

        def name(username: str) -> str:
            acc = self.store.account(username)
            return str(acc["display_name"]) if acc is not None else username

        def signer(sig_id: int, role: str) -> PdfSigner:
            statement, key = self._statement_of(tx, sig_id)
            at_s = int(
                datetime.fromisoformat(statement["at"].replace("Z", "+00:00")).astimezone(UTC).timestamp()
            )
            who = statement["signer"]["account"]
            return PdfSigner(role, name(who), who, key["key_hash"], iso(at_s))

        samples: dict[int, SampleLine] = {}
        results: list[ResultLine] = []
        signers: list[PdfSigner] = []
        for aid in subject["analysis_ids"]:
            a = tx.rows("analyses", id=aid)[0]
            sample = tx.rows("samples", id=a["sample_id"])[0]
            custody = tx.rows("custody_events", order="at", sample_id=sample["id"])
            if sample["id"] not in samples:
                taken = next((c for c in custody if c["step"] == "sampled"), None)
                got = next((c for c in custody if c["step"] == "received"), None)
                samples[sample["id"]] = SampleLine(
                    sample["sample_no"], sample["mn"] or "", sample["matrix"],
                    iso(taken["at"]) if taken else "", name(taken["by"]) if taken else "",
                    iso(got["at"]) if got else None, name(got["by"]) if got else None,
                    got["condition"] if got else "",
                )  # fmt: skip
                signers += [signer(c["sig_id"], CUSTODY_STEPS[c["step"]]) for c in custody]
            lots = []
            for lot_id in json.loads(a["lot_ids"]):
                lot = tx.rows("reference_lots", id=lot_id)[0]
                lots.append(f"{lot['certificate_no']} 批号 {lot['lot_no']} 有效期至 {lot['expires_on']}")
            results.append(
                ResultLine(
                    sample["sample_no"],
                    a["parameter"],
                    a["parameter"],
                    a["method"],
                    a["instrument"],
                    tuple(lots),
                    a["raw_result"],
                    a["unit"],
                    name(a["analyst"]),
                    f"#{a['retest_of']}" if a["retest_of"] is not None else None,
                )
            )
            signers.append(signer(a["sig_id"], "analyst"))
            signers += [signer(r["sig_id"], "reviewer") for r in tx.rows("reviews", analysis_id=aid)]
        signers.append(PdfSigner("signatory", name(signatory), signatory, key_hash, iso(at)))
        url = f"{self.public_url.rstrip('/')}/verify/entry/{subject['ledger_index']}"
        return ReportDoc(
            report_no=subject["report_no"],
            title=subject["title"],
            laboratory=self.origin,
            issued_at=iso(at),
            samples=tuple(samples.values()),
            results=tuple(results),
            signers=tuple(signers),
            ledger_index=int(subject["ledger_index"]),
            leaf_hex="",
            verify_url=url,
            supersedes=subject["supersedes"],
        )

    def report_pdf(self, report_no: str) -> bytes:
        """The issued report's PDF, rendered again from the ledgered records (the same bytes as when issued)."""
        if self.render is None:
            raise RecordError("no_renderer", "no PDF renderer configured")
        with self.store.quality_tx() as tx:
            rows = tx.rows("reports", report_no=report_no)
            if not rows:
                raise RecordError("no_report", f"没有报告 {report_no} | no report {report_no}", status=404)
            statement, key = self._statement_of(tx, rows[0]["sig_id"])
            subject = {k: v for k, v in statement["subject"].items() if k != "pdf_sha256"}
            at = int(datetime.fromisoformat(statement["at"].replace("Z", "+00:00")).timestamp())
            doc = self._report_doc(tx, subject, rows[0]["signatory"], key["key_hash"], at)
        return self.render(doc)

    def chain(self, sample_no: str) -> dict[str, Any]:
        """A sample's chain: custody, analyses, retractions, reviews and reports that include them, in order, each
        with its signer and whether the signature verifies."""
        sample = self.sample(sample_no)
        steps: list[dict[str, Any]] = []

        def add(act: str, record: str, summary: str, by: str, sig_id: int, at_us: int) -> None:
            ok, why = self.check_signature(sig_id)
            steps.append({"act": act, "record": record, "summary": summary, "by": by, "sig_id": sig_id,
                          "at_us": at_us, "signature_ok": ok, "signature_check": why,
                          "entry": self.store.entry_index(record)})  # fmt: skip

        for c in self.store.quality_rows("custody_events", sample_id=sample["id"]):
            add("lab.custody", f"custody_events/{c['id']}", f"{c['step']} {c['place']} {c['condition']}", c["by"],
                c["sig_id"], c["at_us"])  # fmt: skip
        analyses = self.store.quality_rows("analyses", sample_id=sample["id"])
        ids = {a["id"] for a in analyses}
        for a in analyses:
            add("lab.analysis", f"analyses/{a['id']}", f"{a['parameter']} = {a['raw_result']} {a['unit']}",
                a["analyst"], a["sig_id"], a["at_us"])  # fmt: skip
        for r in self.store.quality_rows("reviews", analysis_id=sorted(ids)) if ids else []:
            add("lab.review", f"reviews/{r['id']}", f"{r['decision']} analysis #{r['analysis_id']}", r["reviewer"],
                r["sig_id"], r["at_us"])  # fmt: skip
        for x in self.store.quality_rows("retractions", analysis_id=sorted(ids)) if ids else []:
            add("lab.retraction", f"retractions/{x['id']}", f"analysis #{x['analysis_id']}: {x['reason']}", x["by"],
                x["sig_id"], x["at_us"])  # fmt: skip
        for rep in self.store.quality_rows("reports"):
            if ids & set(json.loads(rep["analysis_ids"])):
                add("lab.report", f"reports/{rep['id']}", f"{rep['report_no']} {rep['title']}", rep["signatory"],
                    rep["sig_id"], rep["at_us"])  # fmt: skip
        steps.sort(key=lambda x: x["at_us"])
        return {"sample": sample, "steps": steps}

    def check_signature(self, sig_id: int) -> tuple[bool, str]:
        """Whether a recorded signature verifies with its key (and the statement is well formed)."""
        sigs = self.store.quality_rows("signatures", id=sig_id)
        if not sigs:
            return False, "no such signature"
        sig = sigs[0]
        keys = self.store.quality_rows("person_keys", id=sig["key_id"])
        if not keys:
            return False, "the signing key is not registered"
        key = keys[0]
        try:
            statement = verified_statement(sig["note"], Verifier.from_vkey(key["vkey"]))
        except RecordError as exc:
            return False, str(exc)
        if statement.get("act") != sig["act"] or statement.get("role") != sig["role"]:
            return False, "the statement is for another act"
        return True, "ok"


# wrong signing passphrases per key: at most PASSPHRASE_FAILURES within PASSPHRASE_WINDOW_S (as logins); a key is
# named by its sealed seed's SHA-256, which no other key shares (a row id would be shared by two databases)
PASSPHRASE_FAILURES = 5
PASSPHRASE_WINDOW_S = 900
_failures: dict[str, list[float]] = {}
_failures_lock = threading.Lock()


def _unseal_throttled(key: dict[str, Any], passphrase: str, account_id: int) -> bytes:
    now = time.monotonic()
    name = str(key["sealed_sha256"] or key["key_hash"])
    with _failures_lock:
        recent = [t for t in _failures.get(name, []) if now - t < PASSPHRASE_WINDOW_S]
        _failures[name] = recent
        if len(recent) >= PASSPHRASE_FAILURES:
            raise RecordError(
                "too_many_attempts",
                "签名口令错误次数过多，请稍后再试 | too many wrong signing passphrases: try again later",
                status=429,
            )
    try:
        return unseal(bytes(key["sealed"]), passphrase, account_id=account_id, key=key["key_hash"])
    except RecordError:
        with _failures_lock:
            _failures.setdefault(name, []).append(now)
        raise


def _note_at(note: str) -> int:
    """The time a (not yet verified) signed statement states; the signature check verifies it later."""
    try:
        return _parse_at(str(json.loads(note.split("\n", 1)[0]).get("at", "")))
    except (json.JSONDecodeError, AttributeError):
        raise RecordError("bad_statement", "the signed text is not a statement") from None


def _parse_at(text: str) -> int:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise RecordError("bad_statement", f"statement time {text!r} is not ISO 8601") from None
