"""Double-random inspections (双随机, clause 十三): draws anyone can recompute, and the inspections they lead to.

A regulator or inspector creates a draw for a region: the pool of targets (the registry's points or enterprises of
the region, or a list given — monitoring institutions, for example), each with a risk weight and the reason it is
excluded, if it is (inspected within ``recent_days``); the pool of inspectors (the active inspector accounts whose
scope meets the region, each with the targets they declared a conflict of interest with); the rules; the SHA-256
commitment of a secret and the declared beacon source.  That creation is one ledger entry (``draw.created``),
written before anyone knows the secret.  The reveal publishes the secret and the beacon value and the selection
that :func:`envtrust.draw.select` computes from them (``draw.revealed``).  The public record
(``envtrust-draw/v1``, :mod:`envtrust.draw`) is rebuilt from those two entries alone, and ``envtrust draw verify``
recomputes the selection from it — with the ledger entries' inclusion proofs when the export carries them.

Risk weight of a target (recorded with its basis in the creation entry): ``1 + open alarms (tampering ones count
3) + 5 × inspections with problems or fraud`` over the last two years, at most 50.

Inspections record what an inspection found (``compliant``, ``problems``, ``fraud``) for a drawn target, signed by
the inspector recording it, linked to the draw and to evidence (alarms, frames, QA records).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .. import draw as core
from ..errors import RecordError
from ..store import Store
from .lab import Lab, Signed
from .refs import REF, identifier, readable, registered_region

__all__ = ["OUTCOMES", "TARGET_KINDS", "Draws"]

TARGET_KINDS = ("point", "enterprise", "institution")
OUTCOMES = ("compliant", "problems", "fraud")
DRAWERS = ("regulator", "inspector", "admin")
INSPECTOR_ROLES = ("inspector",)
MAX_WEIGHT = 50
RISK_WINDOW_S = 2 * 365 * 86400


def _now_us() -> int:
    return time.time_ns() // 1000


def _iso_us(at_us: int) -> str:
    return datetime.fromtimestamp(at_us / 1e6, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _as_enterprise(store: Store, target: str) -> dict[str, Any] | None:
    """An account mapping with the reading rights of the enterprise a target is (or whose point it is)."""
    scope = store.point_scopes(target).get(target)
    eid = scope[1] if scope is not None else store.enterprise_id(target)
    return {"username": "", "role": "enterprise", "enterprise_id": eid} if eid is not None else None


class Draws:
    """The draws and inspections of one store."""

    def __init__(
        self,
        store: Store,
        *,
        origin: str,
        activation_s: int = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.origin = origin
        self.signer = Lab(store, origin=origin, activation_s=activation_s, clock=clock)
        self.clock = clock

    # -- pools ---------------------------------------------------------------------------------------------
    def _drawer(self, username: str, region: str) -> dict[str, Any]:
        account = self.store.account(username)
        if account is None or not account["active"] or account["role"] not in DRAWERS:
            raise RecordError(
                "forbidden", "只有监管和执法账户可以抽取 | only regulators and inspectors draw", status=403
            )
        scope = account["region"] or ""
        if account["role"] != "admin" and not region.startswith(scope or "\0"):
            raise RecordError(
                "forbidden", f"{region} 不在您的辖区内 | {region} is outside your region", status=403
            )
        return account

    def _recent(self, since: int) -> set[str]:
        return {
            str(r["target"])
            for r in self.store.quality_rows("inspections")
            if int(r["inspected_at"]) >= since
        }

    def target_pool(
        self, kind: str, region: str, *, recent_days: int, given: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """The targets of ``kind`` in ``region`` with their risk weight, its basis and their exclusion."""
        now = int(self.clock())
        recent = self._recent(now - recent_days * 86400) if recent_days > 0 else set()
        past = [
            r for r in self.store.quality_rows("inspections") if int(r["inspected_at"]) >= now - RISK_WINDOW_S
        ]
        out: list[dict[str, Any]] = []
        if kind == "institution" or given:
            for g in given:
                tid, where = (
                    identifier(str(g.get("id", "")), "对象|a target"),
                    str(g.get("region", "")).strip(),
                )
                where = (
                    registered_region(self.store, tid) or where
                )  # a registered target is where it is registered
                if not tid or not where.startswith(region):
                    raise RecordError(
                        "bad_target", f"对象 {tid!r} 不在 {region} 内 | target {tid!r} is not in {region}"
                    )
                basis = {"given": int(g.get("weight", 1))}
                out.append({"id": tid, "region": where, "weight": max(1, min(MAX_WEIGHT, basis["given"])),
                            "basis": basis})  # fmt: skip
        else:
            points = [p for p in self.store.points() if p.region.startswith(region)]
            groups: dict[str, list[Any]] = {}
            for p in points:
                key = p.mn if kind == "point" else (p.enterprise.credit_code or p.enterprise.name)
                groups.setdefault(key, []).append(p)
            for key, members in sorted(groups.items()):
                mns = [p.mn for p in members]
                alarms = self.store.alarms(mn=mns) if mns else []
                tampering = sum(1 for a in alarms if a["category"] == "tampering")
                found = sum(
                    1 for r in past if r["target"] in (key, *mns) and r["outcome"] in ("problems", "fraud")
                )
                basis = {
                    "open_alarms": len(alarms),
                    "tampering_alarms": tampering,
                    "inspections_with_problems": found,
                }
                weight = 1 + len(alarms) + 2 * tampering + 5 * found
                out.append({"id": key, "region": members[0].region, "weight": min(MAX_WEIGHT, weight),
                            "basis": basis, "name": members[0].enterprise.name if kind == "enterprise"
                            else f"{members[0].enterprise.name} {members[0].name}"})  # fmt: skip
        ids = [t["id"] for t in out]
        if len(set(ids)) != len(ids):
            raise RecordError("bad_target", "对象重复 | a target is listed twice")
        for t in out:
            t["excluded"] = f"inspected within {recent_days} days" if t["id"] in recent else None
            t["conflicts"] = []
        return out

    def inspector_pool(self, region: str, conflicts: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        """The active inspector accounts whose scope meets ``region``, with their declared conflicts."""
        out = []
        for a in self.store.accounts():
            scope = a["region"] or ""
            if (
                a["role"] in INSPECTOR_ROLES
                and a["active"]
                and (scope.startswith(region) or region.startswith(scope))
            ):
                out.append({"id": a["username"], "region": scope, "weight": 1, "excluded": None,
                            "conflicts": sorted(set(conflicts.get(a["username"], ())))})  # fmt: skip
        unknown = set(conflicts) - {i["id"] for i in out}
        if unknown:
            raise RecordError(
                "bad_inspector",
                f"不在检查人员名录中：{', '.join(sorted(unknown))} | not inspectors of the region",
            )
        return out

    # -- the draw ------------------------------------------------------------------------------------------
    def create(
        self,
        *,
        username: str,
        title: str,
        target_kind: str,
        region: str,
        targets: int,
        inspectors_per_target: int = 2,
        same_region_allowed: bool = False,
        max_per_inspector: int | None = None,
        recent_days: int = 365,
        beacon_source: str = "",
        conflicts: Mapping[str, Sequence[str]] | None = None,
        given: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """Create a draw: the pools, the rules and the commitment, ledgered now; the secret kept for the reveal."""
        if target_kind not in TARGET_KINDS:
            raise RecordError(
                "bad_kind", f"对象类型须为 {', '.join(TARGET_KINDS)} | kind: one of {', '.join(TARGET_KINDS)}"
            )
        if not re.fullmatch(r"[0-9]{2,12}", region or ""):
            raise RecordError("bad_region", f"行政区划代码无效：{region!r} | not a division code: {region!r}")
        if not title.strip() or len(title) > 200 or len(beacon_source) > 500:
            raise RecordError("missing", "须有标题（200 字以内）| a title (≤ 200 characters) is required")
        self._drawer(username, region)
        try:
            rules = core.Rules(targets, inspectors_per_target, same_region_allowed, max_per_inspector)
            pool = self.target_pool(target_kind, region, recent_days=recent_days, given=given)
            people = self.inspector_pool(region, conflicts or {})
            for person in people:
                unknown = set(person["conflicts"]) - {t["id"] for t in pool}
                if unknown:
                    raise RecordError(
                        "bad_target",
                        f"冲突对象不在对象库中：{', '.join(sorted(unknown))} | unknown conflict targets",
                    )
            # the checks of the pure core, before anything is written
            candidates = [core.Candidate(t["id"], t["weight"], t["region"], t["excluded"]) for t in pool]
            staff = [core.Candidate(i["id"], 1, i["region"], None, tuple(i["conflicts"])) for i in people]
            core.draw_record("x", title, rules, candidates, staff, "0" * 64, beacon_source.strip(), "x")
        except core.DrawError as exc:
            raise RecordError("bad_draw", str(exc)) from None
        if not any(t["excluded"] is None for t in pool):
            raise RecordError("empty_pool", "没有可抽取的对象 | no eligible target in the pool", status=409)
        secret = core.new_secret()
        with self.store.quality_tx() as tx:
            row = tx.record(
                "draws",
                {
                    "title": title.strip(),
                    "target_kind": target_kind,
                    "region": region,
                    "rules": json.dumps(rules.to_json(), sort_keys=True),
                    "targets": json.dumps(pool, ensure_ascii=False, sort_keys=True),
                    "inspectors": json.dumps(people, ensure_ascii=False, sort_keys=True),
                    "commitment": core.commitment_of(secret),
                    "beacon_source": beacon_source.strip(),
                    "created_by": username,
                    "at_us": _now_us(),
                },
            )
            tx.keep_draw_secret(int(row["id"]), secret.hex())
            tx.finish()
        return row

    def _draw(self, draw_id: int) -> dict[str, Any]:
        rows = self.store.quality_rows("draws", id=draw_id)
        if not rows:
            raise RecordError("no_draw", f"没有抽取 #{draw_id} | no draw #{draw_id}", status=404)
        return rows[0]

    def draw_name(self, draw_id: int) -> str:
        """The draw's id in its public record: the ledger's origin and the draw's ledger reference."""
        return f"{self.origin}/draws/{draw_id}"

    def creation_record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The ``envtrust-draw/v1`` creation record of a ``draws`` row (what its ledger entry fixes)."""
        return creation_record(
            {**row, **{k: json.loads(row[k]) for k in ("rules", "targets", "inspectors")}}, self.origin
        )

    def reveal(self, draw_id: int, *, username: str, beacon_value: str = "") -> dict[str, Any]:
        """Reveal the secret with the beacon value; the selection follows.  Once only."""
        row = self._draw(draw_id)
        self._drawer(username, row["region"])
        if len(beacon_value) > 500:
            raise RecordError("too_long", "信标值过长 | the beacon value is too long")
        with self.store.quality_tx() as tx:
            if tx.rows("draw_reveals", draw_id=draw_id):
                raise RecordError(
                    "revealed", f"抽取 #{draw_id} 已揭示 | draw #{draw_id} is already revealed", status=409
                )
            kept = tx.draw_secret(draw_id)
            if kept is None:
                raise RecordError(
                    "no_secret", "该抽取的秘密值已丢失 | the draw's secret is missing", status=409
                )
            secret = bytes.fromhex(kept)
            try:
                full = core.reveal_record(self.creation_record(row), secret, beacon_value.strip())
            except core.DrawError as exc:
                raise RecordError("bad_reveal", str(exc)) from None
            out = tx.record(
                "draw_reveals",
                {
                    "draw_id": draw_id,
                    "secret": full["secret"],
                    "beacon_value": full["beacon_value"],
                    "seed": full["seed"],
                    "selection": json.dumps(full["selection"], ensure_ascii=False, sort_keys=True),
                    "revealed_by": username,
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return out

    def record_of(self, draw_id: int) -> dict[str, Any]:
        """The public record of a draw (``envtrust-draw/v1``), rebuilt from its ledgered rows."""
        row = self._draw(draw_id)
        rec = self.creation_record(row)
        reveals = self.store.quality_rows("draw_reveals", draw_id=draw_id)
        if reveals:
            r = reveals[0]
            rec |= {"secret": r["secret"], "beacon_value": r["beacon_value"], "seed": r["seed"],
                    "selection": json.loads(r["selection"])}  # fmt: skip
        return rec

    def listing(self) -> list[dict[str, Any]]:
        """Every draw, newest first, with its state, selection (once revealed) and inspections."""
        reveals = {int(r["draw_id"]): r for r in self.store.quality_rows("draw_reveals")}
        done: dict[int, list[dict[str, Any]]] = {}
        for i in self.store.quality_rows("inspections"):
            if i["draw_id"] is not None:
                done.setdefault(int(i["draw_id"]), []).append(i)
        out = []
        for row in reversed(self.store.quality_rows("draws")):
            rev = reveals.get(int(row["id"]))
            out.append(
                {
                    "id": row["id"],
                    "title": row["title"],
                    "target_kind": row["target_kind"],
                    "region": row["region"],
                    "rules": json.loads(row["rules"]),
                    "targets": json.loads(row["targets"]),
                    "inspectors": json.loads(row["inspectors"]),
                    "commitment": row["commitment"],
                    "beacon_source": row["beacon_source"],
                    "created_by": row["created_by"],
                    "created_us": row["at_us"],
                    "entry": self.store.entry_index(f"draws/{row['id']}"),
                    "revealed": rev is not None,
                    "beacon_value": rev["beacon_value"] if rev else None,
                    "selection": json.loads(rev["selection"]) if rev else None,
                    "reveal_entry": self.store.entry_index(f"draw_reveals/{rev['id']}") if rev else None,
                    "inspections": done.get(int(row["id"]), []),
                }
            )
        return out

    # -- inspections ---------------------------------------------------------------------------------------
    def inspect(
        self,
        *,
        username: str,
        signed: Signed,
        target: str,
        inspected_at: int,
        outcome: str,
        summary: str,
        draw_id: int | None = None,
        inspectors: Sequence[str] = (),
        evidence: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Record an inspection's result, signed by ``username`` (an inspector of the draw, when it has one)."""
        target = identifier(target, "检查对象|the target")
        if outcome not in OUTCOMES:
            raise RecordError(
                "bad_kind", f"结论须为 {', '.join(OUTCOMES)} | outcome: one of {', '.join(OUTCOMES)}"
            )
        if not summary.strip() or len(summary) > 4000:
            raise RecordError(
                "missing", "须填写检查情况（4000 字以内）| a summary (≤ 4000 characters) is required"
            )
        bad = [e for e in evidence if not REF.match(e)]
        if bad:
            raise RecordError("bad_ref", f"证据编号无效：{bad[0]!r} | not a record reference: {bad[0]!r}")
        if inspected_at > self.clock() + 300:
            raise RecordError(
                "in_future", "检查时间晚于现在 | the inspection is dated in the future", status=422
            )
        account = self.store.account(username)
        if account is None or account["role"] not in ("inspector", "regulator"):
            raise RecordError(
                "forbidden", "只有执法人员登记检查结果 | only inspectors record inspections", status=403
            )
        team = sorted(set(inspectors) | {username})
        if draw_id is not None:
            row = self._draw(draw_id)
            reveals = self.store.quality_rows("draw_reveals", draw_id=draw_id)
            if not reveals:
                raise RecordError("not_revealed", "抽取尚未揭示 | the draw is not revealed yet", status=409)
            assigned = {
                a["target"]: a["inspectors"] for a in json.loads(reveals[0]["selection"])["assignments"]
            }
            if target not in assigned:
                raise RecordError("not_drawn", f"{target} 未被抽中 | {target} was not drawn", status=409)
            if username not in assigned[target]:
                raise RecordError(
                    "not_assigned",
                    f"{username} 未被抽为 {target} 的检查人员 | not drawn to inspect it",
                    status=403,
                )
            region = next(t["region"] for t in json.loads(row["targets"]) if t["id"] == target)
        else:  # an inspection outside a draw: of a target in the inspector's own region
            region = registered_region(self.store, target) or (account["region"] or "")
            if not region.startswith(account["region"] or "\0"):
                raise RecordError(
                    "forbidden", f"{target} 不在您的辖区内 | {target} is outside your region", status=403
                )
        # what the inspector may read; on a drawn target (异地: often outside the inspector's county) also what the
        # inspected enterprise itself may read
        drawn = _as_enterprise(self.store, target) if draw_id is not None else None
        missing = [
            e for e in evidence if not readable(self.store, e, account) and not readable(self.store, e, drawn)
        ]
        if missing:
            raise RecordError("no_record", f"没有记录 {missing[0]} | no record {missing[0]}", status=404)
        refs = (
            [
                {
                    "rel": "draw",
                    "record": f"draws/{draw_id}",
                    "entry": self.store.entry_index(f"draws/{draw_id}"),
                }
            ]
            if draw_id
            else []
        )
        with self.store.quality_tx() as tx:
            subject = {"draw_id": draw_id, "target": target, "inspected_at": int(inspected_at), "outcome": outcome,
                       "summary": summary.strip(), "inspectors": team, "evidence": sorted(set(evidence))}  # fmt: skip
            sig = self.signer.sign_in(
                tx, username, "inspection.record", account["role"], subject, refs, signed
            )
            out = tx.record(
                "inspections",
                {
                    "draw_id": draw_id,
                    "target": target,
                    "region": region,
                    "inspectors": json.dumps(team),
                    "inspected_at": int(inspected_at),
                    "outcome": outcome,
                    "summary": summary.strip(),
                    "evidence": json.dumps(sorted(set(evidence))),
                    "recorded_by": username,
                    "sig_id": sig["id"],
                    "at_us": _now_us(),
                },
            )
            tx.finish()
        return out

    # -- the export an outside verifier checks ------------------------------------------------------------------
    def export(
        self, draw_id: int, *, log_verifier: Any, witness_verifiers: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """The draw's public record with proof bundles of its two ledger entries (``envtrust-draw-export/v1``):
        what :func:`verify_export` checks on a machine that has nothing else."""
        from ..bundle import BundleError, make_bundle

        rec = self.record_of(draw_id)
        if "selection" not in rec:
            raise RecordError("not_revealed", "抽取尚未揭示 | the draw is not revealed yet", status=409)
        reveal = self.store.quality_rows("draw_reveals", draw_id=draw_id)[0]
        bundles = {}
        for role, ref in (("created", f"draws/{draw_id}"), ("revealed", f"draw_reveals/{reveal['id']}")):
            index = self.store.entry_index(ref)
            if index is None:
                raise RecordError(
                    "not_ledgered", f"{ref} 不在账本中 | {ref} is not in the ledger", status=409
                )
            try:
                bundles[role] = make_bundle(
                    self.store,
                    entry_index=index,
                    log_verifier=log_verifier,
                    witness_verifiers=witness_verifiers,
                )
            except BundleError as exc:
                raise RecordError("no_checkpoint", str(exc), status=409) from None
        return {"format": EXPORT_FORMAT, "record": rec, "bundles": bundles}


EXPORT_FORMAT = "envtrust-draw-export/v1"


def creation_record(fields: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """The ``envtrust-draw/v1`` creation record from a ``draw.created`` entry's fields (JSON parsed) and the
    ledger's origin."""
    rules = fields["rules"]
    return core.draw_record(
        f"{origin}/draws/{fields['id']}",
        fields["title"],
        core.Rules(
            rules["targets"],
            rules["inspectors_per_target"],
            rules["same_region_allowed"],
            rules["max_per_inspector"],
        ),
        [core.Candidate(t["id"], t["weight"], t["region"], t["excluded"]) for t in fields["targets"]],
        [
            core.Candidate(i["id"], i["weight"], i["region"], i["excluded"], tuple(i["conflicts"]))
            for i in fields["inspectors"]
        ],
        fields["commitment"],
        fields["beacon_source"],
        _iso_us(int(fields["at_us"])),
    )


def verify_export(obj: object, *, log_key: Any = None) -> list[tuple[str, bool, str]]:
    """Check a draw export with nothing else: the selection recomputed from the record (:func:`envtrust.draw.
    verify_record`), both proof bundles (entries included in a signed checkpoint), and that the record is exactly
    what those ledger entries say (the pools, rules and commitment of the creation; the secret, beacon value, seed
    and selection of the reveal, recorded after the creation).  ``(name, ok, message)`` per check; never raises."""
    from ..bundle import verify_bundle

    checks: list[tuple[str, bool, str]] = []
    if (
        not isinstance(obj, dict)
        or obj.get("format") != EXPORT_FORMAT
        or set(obj) != {"format", "record", "bundles"}
    ):
        return [("format", False, f"不是抽取导出文件 | not an {EXPORT_FORMAT} file")]
    report = core.verify_record(obj["record"])
    checks += [(f"draw:{name}", ok, msg) for name, ok, msg in report.checks]
    bundles = obj["bundles"]
    if not isinstance(bundles, dict) or set(bundles) != {"created", "revealed"}:
        return [
            *checks,
            ("bundles", False, "须有 created 和 revealed 两个证据包 | two bundles: created, revealed"),
        ]
    entries: dict[str, tuple[int, dict[str, Any]]] = {}
    origin = None
    for role in ("created", "revealed"):
        b = verify_bundle(bundles[role], log_key=log_key)
        checks.append((f"ledger:{role}", b.ok, "; ".join(c.message for c in b.checks if not c.ok) or
                       f"账本条目 {b.entries[0]['index'] if b.entries else '?'} 已由签名检查点证明 | "
                       f"entry proven by the signed checkpoint of size {b.tree_size}"))  # fmt: skip
        if not b.ok:
            continue
        origin = b.origin
        try:
            entry = bundles[role]["entries"][0]
            entries[role] = (int(entry["index"]), json.loads(entry["entry"]))
        except (KeyError, IndexError, TypeError, ValueError):
            checks.append((f"ledger:{role}", False, "证据包中没有条目 | the bundle carries no entry"))
    if len(entries) == 2 and origin is not None:
        (ci, created), (ri, revealed) = entries["created"], entries["revealed"]
        rec = obj["record"]
        try:
            ok = created.get("type") == "draw.created" and {
                k: v for k, v in rec.items() if k not in ("secret", "beacon_value", "seed", "selection")
            } == creation_record(created, origin)
        except (KeyError, TypeError, ValueError, core.DrawError):
            ok = False
        checks.append(("ledger:creation_matches", ok, "记录的对象库、规则与承诺值与账本一致 | the pools, rules and "
                       "commitment are the ledgered ones" if ok else "记录与账本中的抽取不一致 | the record differs "
                       "from the ledgered draw"))  # fmt: skip
        try:
            ok = (
                revealed.get("type") == "draw.revealed"
                and revealed.get("draw_id") == created.get("id")
                and all(
                    revealed.get(k) == rec.get(k) for k in ("secret", "beacon_value", "seed", "selection")
                )
            )
        except (AttributeError, TypeError):
            ok = False
        checks.append(("ledger:reveal_matches", ok, "揭示值与账本一致 | the reveal is the ledgered one" if ok
                       else "揭示值与账本不一致 | the reveal differs from the ledger"))  # fmt: skip
        checks.append(("ledger:order", ri > ci, f"承诺（条目 {ci}）先于揭示（条目 {ri}）| commitment (entry {ci}) "
                       f"before reveal (entry {ri})"))  # fmt: skip
    return checks
