"""Pages of the interference register (干预留痕, clause 六; :mod:`envtrust.workflow.interference`).

``/interference`` lists the records the logged-in account reads, with a summary by county and the form to record
an interference; ``/interference/{id}`` shows one record in full — its attachments (downloaded through
``/interference/{id}/attachments/{att_id}``), the signature checked now, the ledger entries and the escalation
trail — with the forms of the steps the account may take.  The pages decide nothing themselves: who may read a
record is :func:`~envtrust.workflow.interference.may_read` (404 for anyone else, as if it did not exist), who may
record or take a step is what :class:`~envtrust.workflow.interference.Interference` accepts; a refusal comes back as
the form with what was typed and the reason in the reader's language.  Every record and step is signed as the
logged-in account with the passphrase of its server-sealed key, which is never stored, logged or shown again.

The record form sends its attachments as ``multipart/form-data``, read by Starlette (``python-multipart``) within
limits on the body, the number of parts and each field's size.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from ..api.app import MAX_INT
from ..errors import RecordError
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import Principal
from ..workflow.interference import (
    DISCIPLINE_ACTIONS,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MEANS,
    RECORDER_ROLES,
    Attachment,
    Interference,
)
from ..workflow.lab import LAB_ZONE, Lab
from .i18n import translator
from .lab_pages import PageKit, _field, _FormError, _iso_local, _kept, _signed, _time_field, _us_local
from .pages import PageError, _in_language, _local

__all__ = ["install_oversight_pages"]

STATES = ("recorded", "reported", "received", "investigating", "concluded")
# the bodies a record is reported to (clause 六), as the trail keeps them, by the form's value
BODIES = {"party": "同级党委", "higher": "上级机关", "discipline": "纪检监察机关"}
CHINA_OFFSET = 8 * 3600
MAX_TEXT_FORM = 64 * 1024  # an escalation step: a few short fields
MAX_PARTS = 100 + MAX_ATTACHMENTS
MAX_FIELD_BYTES = 64 * 1024  # one text field of the record form
MAX_MNS = 100
_RECORD_FORM = (
    "region",
    "occurred",
    "actor_name",
    "actor_role",
    "actor_org",
    "means",
    "request",
    "mns",
    "records",
    "other",
)
_EVENT_FORM = ("action", "to_whom", "note")
_SPLIT = re.compile(r"[\s,，;；、]+")
_REGION = re.compile(r"^[0-9]{2,12}$")


@dataclass
class _Form:
    """A submitted form: each field's values in order, and the files attached."""

    multi: dict[str, list[str]] = field(default_factory=dict)
    files: list[Attachment] = field(default_factory=list)

    @property
    def last(self) -> dict[str, str]:
        return {k: v[-1] for k, v in self.multi.items()}


def _record_limit() -> int:
    """The largest record form: every attachment at its largest, and the text fields."""
    return MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + 1024 * 1024


async def _read_form(request: Request, limit: int, t: Callable[..., str]) -> _Form:
    """A form sent URL-encoded or as ``multipart/form-data`` (413 beyond ``limit`` bytes, 400 when unreadable)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit:
        raise PageError(413, "err.400", t("itf.form_too_large"))
    try:
        async with request.form(max_files=MAX_ATTACHMENTS + 1, max_fields=MAX_PARTS,
                                max_part_size=MAX_FIELD_BYTES) as form:  # fmt: skip
            out = _Form()
            for name, value in form.multi_items():
                if isinstance(value, str):
                    out.multi.setdefault(name, []).append(value)
                    continue
                data = await value.read(MAX_ATTACHMENT_BYTES + 1)
                if not value.filename and not data:
                    continue  # a file input left empty
                out.files.append(Attachment(value.filename or "attachment", value.content_type or "", data))
            return out
    except HTTPException as exc:  # Starlette's refusals of a malformed or oversized form
        raise PageError(400, "err.400", t("itf.unreadable_form")) from exc
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "err.400", t("itf.unreadable_form")) from None


def _words(text: str, limit: int) -> list[str]:
    """The distinct words of ``text`` (separated by spaces, commas, semicolons, 、), at most ``limit``."""
    out: list[str] = []
    for word in _SPLIT.split(text or ""):
        if word and word not in out:
            out.append(word)
            if len(out) >= limit:
                break
    return out


def _attachment_response(row: Mapping[str, Any]) -> Response:
    """An attachment's bytes as a download (never rendered by the browser), with its SHA-256."""
    return Response(
        bytes(row["data"]),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(str(row['name']), safe='')}",
            "X-Content-Type-Options": "nosniff",
            "X-Content-SHA256": str(row["sha256"]),
            "Cache-Control": "no-store",
        },
    )


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1048576:.1f} MiB"


def _id_in_range(value: int) -> bool:
    return 1 <= value <= MAX_INT


def install_oversight_pages(app: FastAPI, store: Store, kit: PageKit) -> None:
    """Add the interference register's pages to ``app``."""
    render, need_login = kit.render, kit.need_login

    def register() -> Interference:  # as the API builds it (envtrust.api.oversight)
        return Interference(store, origin=load_settings().origin)

    def signature(checker: Lab, sig_id: int | None) -> dict[str, Any] | None:
        """Who signed, with which key, when, and whether the signature verifies now (as the lab pages show it)."""
        if sig_id is None:
            return None
        sigs = store.quality_rows("signatures", id=sig_id)
        if not sigs:
            return None
        sig = sigs[0]
        keys = store.quality_rows("person_keys", id=sig["key_id"])
        key = keys[0]["key_hash"] if keys else ""
        try:
            statement = json.loads(sig["note"].split("\n", 1)[0])
        except ValueError:
            statement = {}
        at = str(statement.get("at", "")) if isinstance(statement, dict) else ""
        ok, why = checker.check_signature(int(sig_id))
        return {
            "role": sig["role"],
            "key": key,
            "key_short": key,
            "signed_at": _iso_local(at, CHINA_OFFSET) if at else "",
            "ok": ok,
            "why": why,
            "entry": store.entry_index(f"signatures/{sig_id}"),
        }

    def has_active_key(reg: Interference, who: Principal) -> bool:
        now_us = time.time_ns() // 1000
        try:
            keys = reg.signer.keys(who.username)
        except RecordError:
            return False
        return any(k["revoked"] is None and k["active_from_us"] <= now_us for k in keys)

    def seen_points(who: Principal) -> list[dict[str, str]]:
        scopes = store.point_scopes()
        return [
            {"mn": p.mn, "name": p.name, "enterprise": p.enterprise.name, "region": p.region}
            for p in sorted(store.points(), key=lambda p: p.mn)
            if p.mn in scopes and who.sees_point(*scopes[p.mn])
        ]

    def line(r: dict[str, Any]) -> dict[str, Any]:
        """A record as a row of the list."""
        return {
            **r,
            "occurred_local": _local(int(r["occurred_at"]), CHINA_OFFSET),
            "request_short": _short(str(r["request"])),
            "attachment_count": len(r["attachments"]),
        }

    # ------------------------------------------------------------------------------------------ the register
    def list_view(
        who: Principal, state: str = "", means: str = "", *, error: str = "", fv: dict[str, str] | None = None,
        picked: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:  # fmt: skip
        reg = register()
        readable = reg.visible(who.username) if who.role != "admin" else []
        rows = [
            r for r in readable if (not state or r["state"] == state) and (not means or r["means"] == means)
        ]
        points = seen_points(who)
        values = dict(fv or {})
        regions = {p["region"] for p in points}
        default_region = who.region or (next(iter(regions)) if len(regions) == 1 else "")
        values.setdefault("region", default_region)
        values.setdefault("occurred", _local(time.time(), CHINA_OFFSET, "%Y-%m-%dT%H:%M"))
        for name in _RECORD_FORM:
            values.setdefault(name, "")
        can_record = who.role in RECORDER_ROLES
        return {
            "rows": [line(r) for r in rows],
            "total": len(readable),
            "summary": reg.report(rows, by="region", level=6),
            "state": state,
            "means_filter": means,
            "states": STATES,
            "means": MEANS,
            "can_record": can_record,
            "is_admin": who.role == "admin",
            "has_key": can_record and has_active_key(reg, who),
            "points": points,
            "picked": picked,
            "fv": values,
            "form_error": error,
            "max_files": MAX_ATTACHMENTS,
            "max_mb": MAX_ATTACHMENT_BYTES // 1048576,
        }

    @app.get("/interference", include_in_schema=False)
    def interference_list(request: Request, state: str = "", means: str = "") -> Response:
        who, csrf = need_login(request)
        view = list_view(who, state if state in STATES else "", means if means in MEANS else "")
        return render(request, "interference.html", **view, _user=(who, csrf, False))

    def list_refused(
        request: Request, who: Principal, csrf: str, status: int, message: str, form: _Form
    ) -> HTMLResponse:
        fv = _kept(form.last, _RECORD_FORM)
        picked = frozenset(form.multi.get("mn_pick", []))
        view = list_view(who, error=message, fv=fv, picked=picked)
        return render(request, "interference.html", status, **view, _user=(who, csrf, False))

    @app.post("/interference", include_in_schema=False)
    async def interference_record(request: Request) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = await _read_form(request, _record_limit(), t)
        fields = form.last
        kit.check_csrf(fields, csrf)
        if who.role not in RECORDER_ROLES:  # the workflow's rule: administrators do not record
            raise PageError(403, "itf.may_not_record")
        known = store.point_scopes()
        try:
            region = _field(fields, "region", t("itf.region"), t, limit=12)
            if not _REGION.match(region):
                raise _FormError(t("itf.bad_region"))
            occurred = _time_field(fields, "occurred", t("itf.occurred"), LAB_ZONE, t)
            actor_name = _field(fields, "actor_name", t("itf.actor_name"), t, limit=200)
            actor_role = _field(fields, "actor_role", t("itf.actor_role"), t, limit=200)
            actor_org = _field(fields, "actor_org", t("itf.actor_org"), t, limit=200, required=False)
            means = fields.get("means", "")
            if means not in MEANS:
                raise _FormError(t("qa.required", f=t("itf.means")))
            request_text = _field(fields, "request", t("itf.request"), t, limit=4000)
            mns: list[str] = []
            for mn in [*_SPLIT.split(fields.get("mns", "")), *form.multi.get("mn_pick", [])]:
                if mn and mn not in mns:
                    mns.append(mn)
            if len(mns) > MAX_MNS:
                raise _FormError(t("qa.too_long", f=t("itf.mns")))
            unknown = [mn for mn in mns if mn not in known]
            if unknown:
                raise _FormError(t("itf.unknown_point", mn=_short(", ".join(unknown), 200)))
            records = [r for r in _SPLIT.split(fields.get("records", "")) if r]
            if len(records) > 100:
                raise _FormError(t("qa.too_long", f=t("itf.records_field")))
            other = _field(fields, "other", t("itf.other"), t, limit=4000, required=False)
            if not (mns or records or other):
                raise _FormError(t("itf.touched_required"))
            if len(form.files) > MAX_ATTACHMENTS:
                raise _FormError(t("itf.too_many", n=MAX_ATTACHMENTS))
            for f in form.files:
                if len(f.data) > MAX_ATTACHMENT_BYTES:
                    return list_refused(
                        request, who, csrf, 413,
                        t("itf.too_large", name=f.name, mb=MAX_ATTACHMENT_BYTES // 1048576), form,
                    )  # fmt: skip
            signed = _signed(fields, t)
        except _FormError as exc:
            return list_refused(request, who, csrf, 400, str(exc), form)
        try:
            row = register().record(
                username=who.username, signed=signed, region=region, occurred_at=occurred, actor_name=actor_name,
                actor_role=actor_role, actor_org=actor_org, means=means, request=request_text, mns=mns,
                records=records, other=other, attachments=form.files,
            )  # fmt: skip
        except RecordError as exc:
            return list_refused(request, who, csrf, exc.status, _in_language(str(exc), lang), form)
        return RedirectResponse(f"/interference/{int(row['id'])}?done=recorded#done", status_code=303)

    # ------------------------------------------------------------------------------------------ one record
    def readable(who: Principal, record_id: int) -> tuple[Interference, dict[str, Any]]:
        """The record if ``who`` reads it; a 404 page otherwise (the same as for a missing record)."""
        reg = register()
        if not _id_in_range(record_id):
            raise PageError(404, "err.404")
        try:
            return reg, reg.show(record_id, who.username)
        except RecordError as exc:
            if exc.status == 404:
                raise PageError(404, "err.404") from None
            raise

    def record_view(
        who: Principal, reg: Interference, rec: dict[str, Any], *, error: str = "", error_form: str = "",
        fv: dict[str, str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        checker = reg.signer
        names = {p.mn: p for p in store.points()}
        concluded = rec["state"] == "concluded"
        events = [
            {
                **e,
                "at": _us_local(int(e["at_us"]), CHINA_OFFSET),
                "body": next((k for k, v in BODIES.items() if v == e["to_whom"]), ""),
                "sig": signature(checker, e["sig_id"]),
                "entry": store.entry_index(f"interference_events/{e['id']}"),
            }
            for e in rec["events"]
        ]
        attachments = [
            {**a, "size_text": _size(int(a["size"])), "entry": store.entry_index(f"attachments/{a['id']}")}
            for a in rec["attachments"]
        ]
        values = dict(fv or {})
        for name in _EVENT_FORM:
            values.setdefault(name, "")
        handle = [a for a in DISCIPLINE_ACTIONS if who.role == "discipline" and not concluded]
        shown = {"comment"} | ({"report"} if not concluded else set()) | ({"handle"} if handle else set())
        return {
            "rec": rec,
            "occurred_local": _local(int(rec["occurred_at"]), CHINA_OFFSET),
            "recorded_local": _us_local(int(rec["at_us"]), CHINA_OFFSET),
            "points": [
                {
                    "mn": mn,
                    "name": names[mn].name if mn in names else "",
                    "enterprise": names[mn].enterprise.name if mn in names else "",
                }
                for mn in rec["touches"]["mns"]
            ],
            "attachments": attachments,
            "sig": signature(checker, rec["sig_id"]),
            "events": events,
            "concluded": concluded,
            "can_report": not concluded,
            "handle_actions": handle,
            "bodies": BODIES,
            "has_key": has_active_key(reg, who),
            "fv": values,
            "form_error": error,
            "error_form": error_form,
            "error_inline": error_form in shown,
        }

    @app.get("/interference/{record_id}", include_in_schema=False)
    def interference_page(request: Request, record_id: int, done: str = "") -> Response:
        who, csrf = need_login(request)
        reg, rec = readable(who, record_id)
        view = record_view(who, reg, rec)
        return render(
            request,
            "interference_record.html",
            **view,
            done=done if done in ("recorded", "event") else "",
            _user=(who, csrf, False),
        )

    @app.get("/interference/{record_id}/attachments/{attachment_id}", include_in_schema=False)
    def interference_attachment(request: Request, record_id: int, attachment_id: int) -> Response:
        who, _ = need_login(request)
        if not (_id_in_range(record_id) and _id_in_range(attachment_id)):
            raise PageError(404, "err.404")
        try:
            row = register().attachment(record_id, attachment_id, who.username)
        except RecordError as exc:
            if exc.status == 404:
                raise PageError(404, "err.404") from None
            raise
        return _attachment_response(row)

    @app.post("/interference/{record_id}/events", include_in_schema=False)
    async def interference_event(request: Request, record_id: int) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        reg, rec = readable(who, record_id)
        action = form.get("action", "")
        which = "comment" if action == "comment" else "report" if action == "reported" else "handle"

        def refused(status: int, message: str) -> HTMLResponse:
            view = record_view(who, reg, rec, error=message, error_form=which, fv=_kept(form, _EVENT_FORM))
            return render(
                request, "interference_record.html", status, **view, done="", _user=(who, csrf, False)
            )

        try:
            if action not in ("reported", "comment", *DISCIPLINE_ACTIONS):
                raise _FormError(t("qa.required", f=t("itf.action")))
            to_whom = ""
            if action == "reported":
                body = form.get("to_whom", "")
                if body not in BODIES:
                    raise _FormError(t("qa.required", f=t("itf.to_whom")))
                to_whom = BODIES[body]
            note = _field(
                form, "note", t("itf.note"), t, limit=4000, required=action in ("comment", "concluded")
            )
            signed = _signed(form, t)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            reg.event(
                record_id, action=action, note=note, to_whom=to_whom, username=who.username, signed=signed
            )
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/interference/{record_id}?done=event#done", status_code=303)
