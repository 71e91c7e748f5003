"""Pages of the double-random inspections (双随机、一公开, clause 十三; :mod:`envtrust.workflow.inspection`) and of
the complaints from the public (clause 十六; :mod:`envtrust.workflow.complaints`).

Draws are public, as their results are published: ``/draws`` lists every draw and ``/draws/{id}`` shows one — its
pools, rules, commitment, beacon, seed and selection, and a **verification panel** that recomputes the draw on the
server from its public record (:func:`envtrust.draw.verify_record`) and compares the record with its two ledger
entries (:func:`draw_checks`), with the link to the export that ``envtrust draw verify`` checks offline.  Regulators
and inspectors whose region covers a draw create it (``POST /draws``) and reveal it; an inspector drawn for a target
records the inspection of it, signed with the passphrase of the account's sealed key.

Complaints: ``/complaints/new`` is the public web form (no login; attachments; at most ``PUBLIC_PER_HOUR`` per
client address per hour, as the API allows) which shows the tracking code once; ``/complaints/track`` follows a
complaint with its code (the code goes in the body of a POST, never into an address).  The staff of a complaint's
region (regulators and inspectors) list the complaints of their region on ``/complaints`` — and enter those received
by phone, WeChat, letter or visit there —, open one on ``/complaints/{id}`` (its attachments through
``/complaints/{id}/attachments/{att_id}``) and take the steps of the handling.  Anyone else gets 404 for a
complaint, as if it did not exist.  The pages decide nothing themselves: the workflows accept or refuse, and a
refusal comes back as the form with what was typed and the reason in the reader's language.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from .. import draw as core
from ..errors import RecordError
from ..settings import load as load_settings
from ..store import Store
from ..workflow.complaints import ACTIONS, CHANNELS, STAFF_ROLES, Complaints
from ..workflow.identity import Principal
from ..workflow.inspection import DRAWERS, OUTCOMES, Draws, creation_record
from ..workflow.interference import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from ..workflow.lab import Lab
from .i18n import translator
from .lab_pages import PageKit, _field, _FormError, _kept, _signed, _time_field, _us_local
from .oversight_pages import (
    MAX_TEXT_FORM,
    _attachment_response,
    _Form,
    _id_in_range,
    _read_form,
    _record_limit,
    _short,
    _size,
    _words,
)
from .pages import PageError, _in_language, _local

__all__ = ["COMPLAINT_STATES", "DRAW_KINDS", "PUBLIC_PER_HOUR", "draw_checks", "install_inspection_pages"]

CHINA_OFFSET = 8 * 3600
CHINA_ZONE = "Asia/Shanghai"
DRAW_KINDS = ("point", "enterprise")  # institution draws take a list of targets: the API and the command line
STAFF_CHANNELS = tuple(
    c for c in CHANNELS if c != "web"
)  # what staff enter; the public files on the web form
COMPLAINT_STATES = ("received", "accepted", "in_progress", "resolved", "rejected")
PUBLIC_PER_HOUR = 20  # public complaints per client address per hour (the API's limit)
FORM_COOKIE = "envtrust_complaint_csrf"  # the public form's double-submit token (no session to tie it to)
_REVEAL_KEYS = ("secret", "beacon_value", "seed", "selection")
_DRAW_FORM = (
    "title",
    "region",
    "target_kind",
    "targets",
    "inspectors_per_target",
    "same_region_allowed",
    "max_per_inspector",
    "recent_days",
    "beacon_source",
    "conflicts",
)
_INSPECT_FORM = ("target", "inspected_at", "outcome", "summary", "evidence", "team")
_COMPLAINT_FORM = (
    "channel",
    "subject",
    "description",
    "location",
    "region",
    "mn",
    "lat",
    "lon",
    "anonymous",
    "contact_name",
    "contact_phone",
)
_STEP_FORM = ("action", "note", "reply", "assignee", "links")
# which form of a complaint's page takes which action
_STEP_GROUPS = {
    "accepted": "accept",
    "assigned": "assign",
    "linked": "link",
    "replied": "reply",
    "resolved": "close",
    "rejected": "close",
    "comment": "comment",
}
_REGION = re.compile(r"^[0-9]{2,12}$")
_CONFLICT = re.compile(r"^\s*([^=＝]+?)\s*[=＝]\s*(.+?)\s*$")
_RECENT = re.compile(r"^inspected within (\d+) days$")
_PAGES = {"alarms": "/alarms/", "interference": "/interference/", "draws": "/draws/"}
_CHECK_NAMES = frozenset(
    {"format", "revealed", "commitment", "beacon", "seed", "selection", "ledger:creation_matches",
     "ledger:reveal_matches", "ledger:order"}
)  # fmt: skip
_BASIS_KEYS = ("open_alarms", "tampering_alarms", "inspections_with_problems", "given")
_EXPORT_STATES = ("ready", "no_key", "not_revealed", "no_checkpoint", "not_ledgered")
_DRAW_DONE = ("created", "revealed", "inspected")


# ------------------------------------------------------------------------------------------------ verification
def _entry(store: Store, ref: str) -> tuple[int, dict[str, Any]] | None:
    """The ledger index and the parsed entry of the record ``ref``, if it is in the ledger."""
    index = store.entry_index(ref)
    found = store.entry(index) if index is not None else None
    if index is None or found is None:
        return None
    try:
        obj = json.loads(found[2].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return (index, obj) if isinstance(obj, dict) else None


def draw_checks(
    store: Store, origin: str, draw_id: int, record: Mapping[str, Any]
) -> list[tuple[str, bool, str]]:
    """The checks of a draw's verification panel, ``(name, passed, "中文 | English")`` each: the draw recomputed
    from its public record alone (:func:`envtrust.draw.verify_record`: format, reveal, commitment, beacon, seed,
    selection), then the record compared with its ledger entries — the pools, rules and commitment are those of the
    ``draw.created`` entry, the reveal is that of the ``draw.revealed`` entry, written after the creation (what
    ``envtrust draw verify`` checks on an export, here against the server's ledger).  Never raises."""
    checks = list(core.verify_record(dict(record)).checks)
    created = _entry(store, f"draws/{draw_id}")
    ok = False
    if created is not None and created[1].get("type") == "draw.created":
        try:
            creation = {k: v for k, v in record.items() if k not in _REVEAL_KEYS}
            ok = creation == creation_record(created[1], origin)
        except (KeyError, TypeError, ValueError, core.DrawError):
            ok = False
    where = f"#{created[0]}" if created else "?"
    checks.append(("ledger:creation_matches", ok, (
        f"对象库、规则与承诺值与账本条目 {where} 一致 | the pools, rules and commitment are those of ledger entry "
        f"{where}" if ok else f"记录与账本条目 {where} 中的抽取不一致 | the record differs from the draw in ledger "
        f"entry {where}")))  # fmt: skip
    reveals = store.quality_rows("draw_reveals", draw_id=draw_id)
    if not reveals and not any(k in record for k in _REVEAL_KEYS):
        return checks
    revealed = _entry(store, f"draw_reveals/{reveals[0]['id']}") if reveals else None
    ok = bool(
        revealed is not None
        and revealed[1].get("type") == "draw.revealed"
        and revealed[1].get("draw_id") == draw_id
        and all(k in record and revealed[1].get(k) == record[k] for k in _REVEAL_KEYS)
    )
    where = f"#{revealed[0]}" if revealed else "?"
    checks.append(("ledger:reveal_matches", ok, (
        f"密钥、信标值、种子与抽取结果与账本条目 {where} 一致 | the secret, beacon value, seed and selection are "
        f"those of ledger entry {where}" if ok else f"揭示值与账本条目 {where} 不一致 | the reveal differs from "
        f"ledger entry {where}")))  # fmt: skip
    ordered = created is not None and revealed is not None and revealed[0] > created[0]
    ci, ri = (created[0] if created else "?"), (revealed[0] if revealed else "?")
    checks.append(("ledger:order", ordered, (
        f"承诺（条目 {ci}）先于揭示（条目 {ri}）写入账本 | the commitment (entry {ci}) was ledgered before the "
        f"reveal (entry {ri})" if ordered else f"揭示（条目 {ri}）并非在承诺（条目 {ci}）之后写入账本 | the reveal "
        f"(entry {ri}) was not ledgered after the commitment (entry {ci})")))  # fmt: skip
    return checks


# ------------------------------------------------------------------------------------------------ small helpers
class _PerClient:
    """At most ``PUBLIC_PER_HOUR`` public complaints filed per client address per hour (spam; staff are not
    limited).  Refused forms do not count: they record nothing."""

    def __init__(self, window_s: float = 3600.0) -> None:
        self.window_s = window_s
        self.seen: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.seen.get(client, []) if now - t < self.window_s]
            self.seen[client] = recent
            return len(recent) < PUBLIC_PER_HOUR

    def count(self, client: str) -> None:
        with self.lock:
            self.seen.setdefault(client, []).append(time.monotonic())
            if len(self.seen) > 10000:  # forget the oldest clients
                for key in list(self.seen)[:5000]:
                    del self.seen[key]


def _int_field(
    form: Mapping[str, str], name: str, label: str, t: Callable[..., str], low: int, high: int,
    default: int | None = None,
) -> int | None:  # fmt: skip
    """A whole number between ``low`` and ``high``; ``default`` when left empty (None: optional)."""
    text = form.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise _FormError(t("dr.bad_range", f=label, low=low, high=high))
    return int(text)


def _conflicts(text: str, t: Callable[..., str]) -> dict[str, list[str]]:
    """Declared conflicts of interest, one ``inspector=target`` a line."""
    out: dict[str, list[str]] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1000:
        raise _FormError(t("qa.too_long", f=t("dr.conflicts")))
    for line in lines:
        m = _CONFLICT.match(line)
        if not m or len(m.group(1)) > 64 or len(m.group(2)) > 120:
            raise _FormError(t("dr.bad_conflict", line=_short(line, 80)))
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


def _basis(basis: Mapping[str, Any], t: Callable[..., str]) -> str:
    """A target's risk weight basis in words."""
    known = [f"{t('dr.basis.' + key)} {basis[key]}" for key in _BASIS_KEYS if key in basis]
    return " · ".join(
        known + [f"{key} {value}" for key, value in sorted(basis.items()) if key not in _BASIS_KEYS]
    )


def _excluded(reason: str | None, t: Callable[..., str]) -> str:
    if reason is None:
        return ""
    m = _RECENT.match(reason)
    return t("dr.excluded_recent", d=int(m.group(1))) if m else reason


def _short_hash(value: str) -> str:
    return value[:12] + "…" if len(value) > 12 else value


def install_inspection_pages(app: FastAPI, store: Store, kit: PageKit) -> None:
    """Add the pages of the double-random draws, the inspections and the complaints to ``app``."""
    render, need_login = kit.render, kit.need_login
    limiter = _PerClient()

    def origin() -> str:  # as the API reads it (envtrust.api.oversight)
        return load_settings().origin

    def draws() -> Draws:
        return Draws(store, origin=origin())

    def complaints() -> Complaints:
        return Complaints(store)

    def may_draw(who: Principal, region: str) -> bool:
        """What :class:`Draws` accepts of a drawer (``_drawer``), to offer the forms only to them."""
        if who.is_public or who.role not in DRAWERS:
            return False
        return who.role == "admin" or region.startswith(who.region or "\0")

    def has_active_key(who: Principal) -> bool:
        now_us = time.time_ns() // 1000
        try:
            keys = Lab(store, origin=origin()).keys(who.username)
        except RecordError:
            return False
        return any(k["revoked"] is None and k["active_from_us"] <= now_us for k in keys)

    def signature(checker: Lab, sig_id: int | None) -> dict[str, Any] | None:
        """Who signed an inspection, with which key, and whether the signature verifies now."""
        if sig_id is None:
            return None
        sigs = store.quality_rows("signatures", id=sig_id)
        if not sigs:
            return None
        keys = store.quality_rows("person_keys", id=sigs[0]["key_id"])
        key = str(keys[0]["key_hash"]) if keys else ""
        ok, why = checker.check_signature(int(sig_id))
        return {"role": sigs[0]["role"], "key": key, "key_short": _short_hash(key), "signed_at": "", "ok": ok,
                "why": why, "entry": store.entry_index(f"signatures/{sig_id}")}  # fmt: skip

    def names() -> dict[str, str]:
        """Target ids (MN, credit code) → the name the registry gives them."""
        out: dict[str, str] = {}
        for p in store.points():
            out[p.mn] = f"{p.enterprise.name} · {p.name}"
            if p.enterprise.credit_code:
                out[p.enterprise.credit_code] = p.enterprise.name
            out.setdefault(p.enterprise.name, p.enterprise.name)
        return out

    # ============================================================================================ draws
    def list_view(who: Principal, *, error: str = "", fv: dict[str, str] | None = None) -> dict[str, Any]:
        rows = []
        for d in draws().listing():
            eligible = sum(1 for x in d["targets"] if x["excluded"] is None)
            by_target: dict[str, list[dict[str, Any]]] = {}
            for i in d["inspections"]:
                by_target.setdefault(str(i["target"]), []).append(i)
            chosen = []
            for a in (d["selection"] or {}).get("assignments", []):
                name = next((x.get("name", "") for x in d["targets"] if x["id"] == a["target"]), "")
                chosen.append({"target": a["target"], "name": name, "inspectors": a["inspectors"],
                               "outcomes": [i["outcome"] for i in by_target.get(a["target"], [])]})  # fmt: skip
            rows.append({**d, "created_local": _us_local(int(d["created_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                         "eligible": eligible, "pool": len(d["targets"]), "chosen": chosen,
                         "commitment_short": _short_hash(str(d["commitment"]))})  # fmt: skip
        values = dict(fv or {})
        for name, default in (("region", who.region or ""), ("target_kind", "point"), ("targets", "5"),
                              ("inspectors_per_target", "2"), ("recent_days", "365")):  # fmt: skip
            values.setdefault(name, default)
        for name in _DRAW_FORM:
            values.setdefault(name, "")
        return {"rows": rows, "can_draw": not who.is_public and who.role in DRAWERS, "kinds": DRAW_KINDS,
                "fv": values, "form_error": error}  # fmt: skip

    @app.get("/draws", include_in_schema=False)
    def draws_page(request: Request) -> Response:
        who, csrf, _ = kit.user_of(request)
        return render(request, "draws.html", **list_view(who), _user=(who, csrf, False))

    @app.post("/draws", include_in_schema=False)
    async def draw_create(request: Request) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        if who.role not in DRAWERS:
            raise PageError(403, "dr.may_not_draw")

        def refused(status: int, message: str) -> HTMLResponse:
            view = list_view(who, error=message, fv=_kept(form, _DRAW_FORM))
            return render(request, "draws.html", status, **view, _user=(who, csrf, False))

        try:
            title = _field(form, "title", t("dr.title_field"), t, limit=200)
            region = _field(form, "region", t("dr.region"), t, limit=12)
            if not _REGION.match(region):
                raise _FormError(t("dr.bad_region"))
            kind = form.get("target_kind", "")
            if kind not in DRAW_KINDS:
                raise _FormError(t("qa.required", f=t("dr.kind")))
            targets = _int_field(form, "targets", t("dr.targets"), t, 1, 10000)
            if targets is None:
                raise _FormError(t("qa.required", f=t("dr.targets")))
            per = _int_field(form, "inspectors_per_target", t("dr.per_target"), t, 0, 20, default=2)
            most = _int_field(form, "max_per_inspector", t("dr.max_per"), t, 1, 10000)
            recent = _int_field(form, "recent_days", t("dr.recent_days"), t, 0, 3650, default=365)
            beacon = _field(form, "beacon_source", t("dr.beacon_source"), t, limit=500, required=False)
            conflicts = _conflicts(form.get("conflicts", ""), t)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            row = draws().create(
                username=who.username, title=title, target_kind=kind, region=region, targets=targets,
                inspectors_per_target=2 if per is None else per,
                same_region_allowed=form.get("same_region_allowed", "") in ("1", "on", "true", "yes"),
                max_per_inspector=most, recent_days=365 if recent is None else recent, beacon_source=beacon,
                conflicts=conflicts,
            )  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/draws/{int(row['id'])}?done=created#done", status_code=303)

    def existing(draw_id: int) -> None:
        """A 404 page for a draw that does not exist."""
        if not _id_in_range(draw_id) or not store.quality_rows("draws", id=draw_id):
            raise PageError(404, "err.404")

    def draw_view(who: Principal, draw_id: int, lang: str, *, error: str = "", error_form: str = "",
                  fv: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
        t = translator(lang)
        d = draws()
        found = [x for x in d.listing() if int(x["id"]) == draw_id] if _id_in_range(draw_id) else []
        if not found:
            raise PageError(404, "err.404")
        item = found[0]
        rec = d.record_of(draw_id)
        checks = [
            {"name": name, "ok": ok, "label": t("dr.check." + name.replace(":", "."))
             if name in _CHECK_NAMES else name, "message": _in_language(message, lang)}
            for name, ok, message in draw_checks(store, origin(), draw_id, rec)
        ]  # fmt: skip
        known = names()
        selection = item["selection"] or {"targets": [], "assignments": [], "unstaffed": []}
        order = {target: n for n, target in enumerate(selection["targets"], 1)}
        targets = [
            {**x, "name": x.get("name") or known.get(x["id"], ""), "basis_text": _basis(x.get("basis", {}), t),
             "excluded_text": _excluded(x["excluded"], t), "order": order.get(x["id"])}
            for x in item["targets"]
        ]  # fmt: skip
        checker = d.signer
        done_by_target: dict[str, list[dict[str, Any]]] = {}
        for i in item["inspections"]:
            done_by_target.setdefault(str(i["target"]), []).append({
                **i, "at": _local(int(i["inspected_at"]), CHINA_OFFSET), "team": json.loads(i["inspectors"]),
                "evidence_list": json.loads(i["evidence"]), "sig": signature(checker, i["sig_id"])})  # fmt: skip
        values = dict(fv or {})
        for name in _INSPECT_FORM:
            values.setdefault(name, "")
        values.setdefault("beacon_value", "")
        assignments = []
        for n, a in enumerate(selection["assignments"], 1):
            mine = who.username in a["inspectors"] and not who.is_public
            others = [i for i in a["inspectors"] if i != who.username]
            kept = values if error_form == f"inspect-{n}" else {}
            assignments.append({
                "n": n, "target": a["target"], "name": next((x["name"] for x in targets if x["id"] == a["target"]),
                ""), "inspectors": a["inspectors"], "unstaffed": a["target"] in selection["unstaffed"],
                "inspections": done_by_target.get(a["target"], []), "mine": mine,
                "fv": {"inspected_at": kept.get("inspected_at") or _local(time.time(), CHINA_OFFSET,
                       "%Y-%m-%dT%H:%M"), "outcome": kept.get("outcome", ""), "summary": kept.get("summary", ""),
                       "evidence": kept.get("evidence", ""), "team": kept.get("team", " ".join(others))},
            })  # fmt: skip
        export_state, export_why = "no_key", ""
        if kit.log_verifier is not None:
            try:
                d.export(draw_id, log_verifier=kit.log_verifier)
                export_state = "ready"
            except RecordError as exc:
                export_state, export_why = exc.code, _in_language(str(exc), lang)
        mine = any(a["mine"] for a in assignments)
        can_reveal = not item["revealed"] and may_draw(who, str(item["region"]))
        inline = {f"inspect-{a['n']}" for a in assignments if a["mine"]} | (
            {"reveal"} if can_reveal else set()
        )
        return {
            "d": item,
            "rec": rec,
            "created_local": _us_local(int(item["created_us"]), CHINA_OFFSET),
            "targets": targets,
            "eligible": sum(1 for x in targets if x["excluded"] is None),
            "inspectors": item["inspectors"],
            "assignments": assignments,
            "unstaffed": selection["unstaffed"],
            "checks": checks,
            "all_ok": all(c["ok"] for c in checks),
            "export_state": export_state if export_state in _EXPORT_STATES else "other",
            "export_why": export_why,
            "vkey": kit.log_verifier.vkey() if kit.log_verifier is not None else "",
            "can_reveal": can_reveal,
            "has_key": mine and has_active_key(who),
            "outcomes": OUTCOMES,
            "fv": values,
            "form_error": error,
            "error_form": error_form,
            "error_inline": error_form in inline,
        }

    @app.get("/draws/{draw_id}", include_in_schema=False)
    def draw_page(request: Request, draw_id: int, done: str = "") -> Response:
        who, csrf, _ = kit.user_of(request)
        view = draw_view(who, draw_id, kit.lang_of(request))
        return render(request, "draw.html", **view, done=done if done in _DRAW_DONE else "",
                      _user=(who, csrf, False))  # fmt: skip

    @app.post("/draws/{draw_id}/reveal", include_in_schema=False)
    async def draw_reveal(request: Request, draw_id: int) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        existing(draw_id)
        try:
            declared = bool(store.quality_rows("draws", id=draw_id)[0]["beacon_source"])
            beacon = _field(form, "beacon_value", t("dr.beacon_value"), t, limit=500, required=declared)
            if beacon and not declared:
                raise _FormError(t("dr.no_beacon_value"))
            draws().reveal(draw_id, username=who.username, beacon_value=beacon)
        except (_FormError, RecordError) as exc:
            status = exc.status if isinstance(exc, RecordError) else 400
            view = draw_view(who, draw_id, lang, error=_in_language(str(exc), lang), error_form="reveal",
                             fv={"beacon_value": form.get("beacon_value", "")})  # fmt: skip
            return render(request, "draw.html", status, **view, done="", _user=(who, csrf, False))
        return RedirectResponse(f"/draws/{draw_id}?done=revealed#done", status_code=303)

    @app.post("/draws/{draw_id}/inspections", include_in_schema=False)
    async def draw_inspection(request: Request, draw_id: int) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        existing(draw_id)
        target = form.get("target", "")
        drawn = (draws().record_of(draw_id).get("selection") or {}).get("assignments", [])
        n = next((k for k, a in enumerate(drawn, 1) if a["target"] == target), 0)

        def refused(status: int, message: str) -> HTMLResponse:
            again = draw_view(who, draw_id, lang, error=message, error_form=f"inspect-{n}" if n else "inspect",
                              fv=_kept(form, _INSPECT_FORM))  # fmt: skip
            return render(request, "draw.html", status, **again, done="", _user=(who, csrf, False))

        try:
            if not target:
                raise _FormError(t("qa.required", f=t("dr.target")))
            at = _time_field(form, "inspected_at", t("dr.inspected_at"), CHINA_ZONE, t)
            outcome = form.get("outcome", "")
            if outcome not in OUTCOMES:
                raise _FormError(t("qa.required", f=t("dr.outcome")))
            summary = _field(form, "summary", t("dr.summary"), t, limit=4000)
            evidence = _words(form.get("evidence", ""), 201)
            team = _words(form.get("team", ""), 21)
            if len(evidence) > 200 or len(team) > 20:
                raise _FormError(
                    t("qa.too_long", f=t("dr.evidence") if len(evidence) > 200 else t("dr.team"))
                )
            signed = _signed(form, t)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            draws().inspect(username=who.username, signed=signed, target=target, inspected_at=at, outcome=outcome,
                            summary=summary, draw_id=draw_id, inspectors=team, evidence=evidence)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/draws/{draw_id}?done=inspected#done", status_code=303)

    # ============================================================================================ complaints
    def regions() -> list[str]:
        """The division codes of the registry's points: suggestions for the region field."""
        return sorted({p.region for p in store.points() if p.region})

    def complaint_values(fv: Mapping[str, str] | None, region: str = "") -> dict[str, str]:
        values = dict(fv or {})
        values.setdefault("region", region)
        values.setdefault("channel", "phone")
        for name in _COMPLAINT_FORM:
            values.setdefault(name, "")
        return values

    def complaint_fields(form: _Form, t: Callable[..., str]) -> dict[str, Any]:
        """The complaint form as :meth:`Complaints.file` takes it, refusing early what the page can tell."""
        fields = form.last
        out: dict[str, Any] = {
            "subject": _field(fields, "subject", t("cmp.subject"), t, limit=200),
            "description": _field(fields, "description", t("cmp.description"), t, limit=8000),
            "location": _field(fields, "location", t("cmp.location"), t, limit=500),
        }
        region = _field(fields, "region", t("cmp.region"), t, limit=12, required=False)
        mn = _field(fields, "mn", t("cmp.mn"), t, limit=64, required=False)
        if region and not _REGION.match(region):
            raise _FormError(t("cmp.bad_region"))
        if mn and mn not in store.point_scopes():
            raise _FormError(t("cmp.unknown_point", mn=_short(mn, 64)))
        if not (region or mn):
            raise _FormError(t("cmp.region_required"))
        lat = _field(fields, "lat", t("cmp.lat"), t, limit=16, required=False)
        lon = _field(fields, "lon", t("cmp.lon"), t, limit=16, required=False)
        anonymous = fields.get("anonymous", "") in ("1", "on", "true", "yes")
        name = "" if anonymous else _field(fields, "contact_name", t("cmp.contact_name"), t, limit=100,
                                           required=False)  # fmt: skip
        phone = "" if anonymous else _field(fields, "contact_phone", t("cmp.contact_phone"), t, limit=40,
                                            required=False)  # fmt: skip
        if len(form.files) > MAX_ATTACHMENTS:
            raise _FormError(t("itf.too_many", n=MAX_ATTACHMENTS))
        out |= {"region": region, "mn": mn or None, "lat": lat or None, "lon": lon or None, "contact_name": name,
                "contact_phone": phone, "attachments": form.files}  # fmt: skip
        return out

    def too_large(form: _Form, t: Callable[..., str]) -> str:
        big = next((f for f in form.files if len(f.data) > MAX_ATTACHMENT_BYTES), None)
        return t("itf.too_large", name=big.name, mb=MAX_ATTACHMENT_BYTES // 1048576) if big else ""

    # -- the public form -----------------------------------------------------------------------------------
    def new_page(request: Request, status: int = 200, *, error: str = "", fv: Mapping[str, str] | None = None,
                 filed: dict[str, Any] | None = None) -> HTMLResponse:  # fmt: skip
        kept = request.cookies.get(
            FORM_COOKIE, ""
        )  # one token for every tab of the browser, until it expires
        token = kept if re.fullmatch(r"[\w-]{32}", kept) else secrets.token_urlsafe(24)
        out = render(request, "complaint_new.html", status, form_token=token, fv=complaint_values(fv),
                     regions=regions(), form_error=error, filed=filed, max_files=MAX_ATTACHMENTS,
                     max_mb=MAX_ATTACHMENT_BYTES // 1048576)  # fmt: skip
        out.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", path="/complaints", max_age=3600)
        return out

    @app.get("/complaints/new", include_in_schema=False)
    def complaint_new(request: Request) -> Response:
        return new_page(request)

    @app.post("/complaints/new", include_in_schema=False)
    async def complaint_file(request: Request) -> Response:
        lang = kit.lang_of(request)
        t = translator(lang)
        form = await _read_form(request, _record_limit(), t)
        fields = form.last
        kept = _kept(fields, _COMPLAINT_FORM)
        cookie = request.cookies.get(FORM_COOKIE, "")
        if not cookie or not secrets.compare_digest(fields.get("csrf", ""), cookie):
            return new_page(request, 403, error=t("cmp.form_expired"), fv=kept)
        try:
            values = complaint_fields(form, t)
        except _FormError as exc:
            return new_page(request, 400, error=str(exc), fv=kept)
        big = too_large(form, t)
        if big:
            return new_page(request, 413, error=big, fv=kept)
        peer = request.client.host if request.client else "?"
        if not limiter.allow(peer):
            return new_page(request, 429, error=t("cmp.too_many"), fv=kept)
        try:
            row, code = complaints().file(channel="web", intake_by=None, **values)
        except RecordError as exc:
            return new_page(request, exc.status, error=_in_language(str(exc), lang), fv=kept)
        limiter.count(peer)
        filed = {"id": row["id"], "code": code, "due": _local(int(row["accept_due"]), CHINA_OFFSET)}
        return new_page(request, filed=filed)

    # -- tracking ------------------------------------------------------------------------------------------
    def track_page(request: Request, status: int = 200, *, code: str = "", found: dict[str, Any] | None = None,
                   error: str = "") -> HTMLResponse:  # fmt: skip
        return render(request, "complaint_track.html", status, code=code, found=found, form_error=error)

    @app.get("/complaints/track", include_in_schema=False)
    def complaint_track_form(request: Request) -> Response:
        return track_page(request)

    @app.post("/complaints/track", include_in_schema=False)
    async def complaint_track(request: Request) -> Response:
        lang = kit.lang_of(request)
        t = translator(lang)
        code = (await _read_form(request, MAX_TEXT_FORM, t)).last.get("code", "").strip()
        if not code:
            return track_page(request, 400, error=t("qa.required", f=t("cmp.code")))
        if len(code) > 40:
            return track_page(request, 404, code=code[:40], error=t("cmp.no_code"))
        try:
            tracked = complaints().track(code)
        except RecordError as exc:
            if exc.status == 404:
                return track_page(request, 404, code=code, error=t("cmp.no_code"))
            raise
        found = {
            **tracked,
            "received": _us_local(int(tracked["received_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
            "due_local": _local(int(tracked["due"]), CHINA_OFFSET) if tracked["due"] is not None else "",
            "steps": [
                {**s, "at": _us_local(int(s["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M")}
                for s in tracked["steps"]
            ],
        }
        return track_page(request, code=code, found=found)

    # -- the staff's list and intake -----------------------------------------------------------------------
    def staff(request: Request) -> tuple[Principal, str]:
        """The logged-in regulator or inspector; the login for the public, 404 for every other account."""
        who, csrf = need_login(request)
        if who.role not in STAFF_ROLES:
            raise PageError(404, "err.404")
        return who, csrf

    def line(r: Mapping[str, Any]) -> dict[str, Any]:
        return {**r, "received": _us_local(int(r["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                "due_local": _local(int(r["due"]), CHINA_OFFSET) if r["due"] is not None else "",
                "subject_short": _short(str(r["subject"]))}  # fmt: skip

    def staff_view(who: Principal, state: str = "", *, error: str = "", fv: Mapping[str, str] | None = None,
                   filed: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        rows = complaints().visible(who.username)
        shown = [line(r) for r in rows if not state or r["state"] == state]
        return {"rows": shown, "total": len(rows), "overdue": sum(1 for r in rows if r["overdue"]),
                "state": state, "states": COMPLAINT_STATES, "channels": STAFF_CHANNELS,
                "fv": complaint_values(fv, who.region or ""), "regions": regions(), "form_error": error,
                "filed": filed, "max_files": MAX_ATTACHMENTS, "max_mb": MAX_ATTACHMENT_BYTES // 1048576}  # fmt: skip

    @app.get("/complaints", include_in_schema=False)
    def complaints_page(request: Request, state: str = "") -> Response:
        who, csrf = staff(request)
        view = staff_view(who, state if state in COMPLAINT_STATES else "")
        return render(request, "complaints.html", **view, _user=(who, csrf, False))

    @app.post("/complaints", include_in_schema=False)
    async def complaint_intake(request: Request) -> Response:
        who, csrf = staff(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = await _read_form(request, _record_limit(), t)
        fields = form.last
        kit.check_csrf(fields, csrf)

        def refused(status: int, message: str) -> HTMLResponse:
            view = staff_view(who, error=message, fv=_kept(fields, _COMPLAINT_FORM))
            return render(request, "complaints.html", status, **view, _user=(who, csrf, False))

        try:
            channel = fields.get("channel", "")
            if channel not in STAFF_CHANNELS:
                raise _FormError(t("qa.required", f=t("cmp.channel")))
            values = complaint_fields(form, t)
        except _FormError as exc:
            return refused(400, str(exc))
        big = too_large(form, t)
        if big:
            return refused(413, big)
        try:
            row, code = complaints().file(channel=channel, intake_by=who.username, **values)
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        filed = {"id": row["id"], "code": code, "due": _local(int(row["accept_due"]), CHINA_OFFSET)}
        return render(request, "complaints.html", **staff_view(who, filed=filed), _user=(who, csrf, False))

    # -- one complaint -------------------------------------------------------------------------------------
    def handled(who: Principal, complaint_id: int) -> dict[str, Any]:
        """The complaint if ``who`` handles it; a 404 page otherwise (the same as for a missing complaint)."""
        if not _id_in_range(complaint_id):
            raise PageError(404, "err.404")
        try:
            return complaints().show(complaint_id, who.username)
        except RecordError as exc:
            if exc.status == 404:
                raise PageError(404, "err.404") from None
            raise

    def ref_link(ref: str) -> dict[str, str]:
        table, _, key = ref.partition("/")
        if table == "points":
            return {"text": ref, "href": f"/points/{quote(key, safe='')}"}
        if table in _PAGES:
            return {"text": ref, "href": _PAGES[table] + key}
        index = store.entry_index(ref)
        return {"text": ref, "href": f"/verify/entry/{index}" if index is not None else ""}

    def complaint_view(who: Principal, rec: dict[str, Any], *, error: str = "", error_form: str = "",
                       fv: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
        c = complaints()
        state = rec["state"]
        closed = state in ("resolved", "rejected")
        forms = {"comment"}
        if state == "received":
            forms |= {"accept", "close"}
        elif not closed:
            forms |= {"assign", "link", "reply", "close"}
        events = [
            {**e, "at": _us_local(int(e["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
             "due_local": _local(int(e["due"]), CHINA_OFFSET) if e["due"] is not None else "",
             "link_list": [ref_link(r) for r in e["links"]],
             "entry": store.entry_index(f"complaint_events/{e['id']}")}
            for e in rec["events"]
        ]  # fmt: skip
        assignees = sorted(
            a["username"] for a in store.accounts()
            if a["role"] in STAFF_ROLES and a["active"] and c.may_handle(a["username"], rec)
        )  # fmt: skip
        values = dict(fv or {})
        for name in _STEP_FORM:
            values.setdefault(name, "")
        point = next((p for p in store.points() if p.mn == rec["mn"]), None) if rec["mn"] else None
        return {
            "rec": rec,
            "received": _us_local(int(rec["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
            "due_local": _local(int(rec["due"]), CHINA_OFFSET) if rec["due"] is not None else "",
            "point_name": f"{point.enterprise.name} · {point.name}" if point else "",
            "attachments": [
                {
                    **a,
                    "size_text": _size(int(a["size"])),
                    "entry": store.entry_index(f"attachments/{a['id']}"),
                }
                for a in rec["attachments"]
            ],
            "events": events,
            "links": [ref_link(r) for r in rec["links"]],
            "forms": forms,
            "closed": closed,
            "assignees": assignees,
            "fv": values,
            "form_error": error,
            "error_form": error_form,
        }

    @app.get("/complaints/{complaint_id}", include_in_schema=False)
    def complaint_page(request: Request, complaint_id: int, done: str = "") -> Response:
        who, csrf = staff(request)
        view = complaint_view(who, handled(who, complaint_id))
        return render(request, "complaint.html", **view, done="step" if done == "step" else "",
                      _user=(who, csrf, False))  # fmt: skip

    @app.get("/complaints/{complaint_id}/attachments/{attachment_id}", include_in_schema=False)
    def complaint_attachment(request: Request, complaint_id: int, attachment_id: int) -> Response:
        who, _ = staff(request)
        if not _id_in_range(attachment_id):
            raise PageError(404, "err.404")
        rec = handled(who, complaint_id)
        if attachment_id not in {int(a["id"]) for a in rec["attachments"]}:
            raise PageError(404, "err.404")
        return _attachment_response(store.quality_rows("attachments", id=attachment_id)[0])

    @app.post("/complaints/{complaint_id}/events", include_in_schema=False)
    async def complaint_step(request: Request, complaint_id: int) -> Response:
        who, csrf = staff(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        rec = handled(who, complaint_id)
        action = form.get("action", "")

        def refused(status: int, message: str) -> HTMLResponse:
            view = complaint_view(who, rec, error=message, error_form=_STEP_GROUPS.get(action, ""),
                                  fv=_kept(form, _STEP_FORM))  # fmt: skip
            return render(request, "complaint.html", status, **view, done="", _user=(who, csrf, False))

        try:
            if action not in ACTIONS:
                raise _FormError(t("qa.required", f=t("cmp.action")))
            note = _field(form, "note", t("cmp.note"), t, limit=4000, required=action == "comment")
            reply = _field(form, "reply", t("cmp.reply"), t, limit=4000,
                           required=action in ("replied", "resolved", "rejected"))  # fmt: skip
            links = _words(form.get("links", ""), 101)
            if len(links) > 100:
                raise _FormError(t("qa.too_long", f=t("cmp.links")))
            if action == "linked" and not links:
                raise _FormError(t("qa.required", f=t("cmp.links")))
            assignee = form.get("assignee", "") if action == "assigned" else ""
            if action == "assigned" and not assignee:
                raise _FormError(t("qa.required", f=t("cmp.assignee")))
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            complaints().step(complaint_id, action=action, username=who.username, note=note, reply=reply,
                              assignee=assignee, links=links)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/complaints/{complaint_id}?done=step#done", status_code=303)
