"""Pages of credit, the blacklist, orders to rectify with their continuous daily penalties, the county ranking and
case transfer (clauses 四, 八, 九, 十五; :mod:`envtrust.workflow.credit`, :mod:`envtrust.workflow.cases`).

* ``/credit`` (public) — credit scores, lowest first, each with its events, their evidence (linked to the record's
  page where one exists, else to its ledger entry) and decision; regulators record an event there.
* ``/blacklist`` (public) — every listing with its state, dates, reason, decision, evidence and the appeals trail,
  the export links of ``/api/v1/blacklist/export``; regulators list a party, the listed party's enterprise account
  (or the region's regulators on its behalf) appeals, regulators decide the appeal or repair the credit.
* ``/orders`` and ``/orders/{id}`` (public) — orders to rectify with their recheck and the continuous daily penalty:
  the days, the rule, and per day the alarms behind it; regulators serve an order and record its recheck.
* ``/ranking`` — the county ranking for regulators and discipline accounts whose region covers the one asked for
  (403 for the others, the login for the public), each number with its records, and a bar chart.
* ``/cases`` and ``/cases/{id}`` — the cases of the region for its regulators and inspectors (404 for every other
  account, as if they did not exist): open a case, upload its documents, the checklist of the documents the law
  requires, and the transfer package (``/cases/{id}/package``, a ZIP archive) with the offline verification
  command; a package that cannot be built yet (documents missing, no signed checkpoint covering the records) comes
  back as the case page saying why.

The pages decide nothing themselves: :class:`~envtrust.workflow.credit.Credit` and
:class:`~envtrust.workflow.cases.Cases` accept or refuse, exactly as for the API (``envtrust.api.oversight``); a
refusal comes back as the form with what was typed and the reason in the reader's language, with the workflow's
status.  These records are not signed with a personal key (as through the API): they are ledgered with the
deciding account's name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import RecordError
from ..services import parse_iso_time
from ..store import Store
from ..workflow.cases import DOC_KINDS, REQUIRED, Cases
from ..workflow.cases import STAFF as CASE_STAFF
from ..workflow.credit import (
    APPEAL_ACTIONS,
    REPAIR_MIN_DAYS,
    SUBJECT_KINDS,
    Credit,
    county_ranking,
    pending_appeal,
)
from ..workflow.identity import Principal
from ..workflow.interference import MAX_ATTACHMENT_BYTES
from .i18n import translator
from .lab_pages import PageKit, _field, _FormError, _kept, _us_local
from .oversight_pages import (
    _SPLIT,
    MAX_TEXT_FORM,
    _attachment_response,
    _Form,
    _id_in_range,
    _read_form,
    _short,
    _size,
    _words,
)
from .pages import PageError, _in_language, _local

__all__ = ["LISTING_STATES", "RANKERS", "install_credit_pages"]

CHINA_OFFSET = 8 * 3600
CHINA_ZONE = "Asia/Shanghai"
LISTING_STATES = ("scheduled", "listed", "appealed", "removed", "repaired", "expired")
ENDED = ("removed", "repaired", "expired")
DECIDERS = ("regulator",)  # who decides credit events, listings, orders and rechecks (Credit's STAFF)
RANKERS = ("regulator", "discipline")  # who reads the county ranking (as the API allows)
APPELLANTS = ("enterprise", "operator")  # a listed party appeals with its own account
RESULTS = ("continued", "rectified")
MAX_REFS = 200
MAX_MNS = 100
_CREDIT_FORM = ("subject_kind", "subject_id", "subject_name", "region", "kind", "points", "reason", "evidence",
                "decision")  # fmt: skip
_LISTING_FORM = ("subject_kind", "subject_id", "subject_name", "region", "reason", "evidence", "decision",
                 "starts_on", "ends_on")  # fmt: skip
_STEP_FORM = ("action", "note", "evidence")
_ORDER_FORM = ("order_no", "enterprise", "mns", "violation", "evidence", "served_on")
_RECHECK_FORM = ("rechecked_on", "result", "note", "evidence")
_CASE_FORM = ("case_no", "title", "enterprise", "mns", "start", "end", "summary", "evidence")
_DOC_FORM = ("kind", "title")
_REGION = re.compile(r"^[0-9]{2,12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_POINTS = re.compile(r"^[+-]?[0-9]{1,3}$")
# records that have a page of their own (the others link to their ledger entry)
_PAGES = {
    "alarms": "/alarms/",
    "interference": "/interference/",
    "draws": "/draws/",
    "complaints": "/complaints/",
    "orders": "/orders/",
}
_ANCHORS = {"blacklist": "/blacklist#listing-", "credit_events": "/credit#event-"}
_CREDIT_DONE = ("event",)
_BLACKLIST_DONE = ("listed", "step")
_ORDER_DONE = ("served", "rechecked")
_CASE_DONE = ("opened", "document")


def _refs(form: Mapping[str, str], label: str, t: Callable[..., str], *, required: bool) -> list[str]:
    refs = _words(form.get("evidence", ""), MAX_REFS + 1)
    if len(refs) > MAX_REFS or any(len(r) > 120 for r in refs):
        raise _FormError(t("qa.too_long", f=label))
    if required and not refs:
        raise _FormError(t("qa.required", f=label))
    return refs


def _date_field(form: Mapping[str, str], name: str, label: str, t: Callable[..., str]) -> str:
    text = _field(dict(form), name, label, t, limit=10)
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
    except ValueError:
        raise _FormError(t("qa.bad_time", f=label)) from None
    return text


def _region_field(form: Mapping[str, str], t: Callable[..., str]) -> str:
    region = _field(dict(form), "region", t("cr.region"), t, limit=12)
    if not _REGION.match(region):
        raise _FormError(t("cr.bad_region"))
    return region


def _choice(
    form: Mapping[str, str], name: str, choices: Sequence[str], label: str, t: Callable[..., str]
) -> str:
    value = form.get(name, "")
    if value not in choices:
        raise _FormError(t("qa.required", f=label))
    return value


def _today() -> str:
    return _local(time.time(), CHINA_OFFSET, "%Y-%m-%d")


def _package_name(case_id: int) -> str:
    return f"case-{case_id}.zip"


def install_credit_pages(app: FastAPI, store: Store, kit: PageKit) -> None:
    """Add the credit, blacklist, order and penalty, county ranking and case pages to ``app``."""
    render, need_login = kit.render, kit.need_login

    def credit() -> Credit:
        return Credit(store)

    def cases() -> Cases:
        return Cases(store)

    def decides_for(who: Principal, region: str) -> bool:
        """What :class:`Credit` accepts of a decider (``_staff``), to offer the forms only to them."""
        return who.role in DECIDERS and region.startswith(who.region or "\0")

    def ref_link(ref: str) -> dict[str, str]:
        """A record reference as a link: the record's page where one exists, else its ledger entry."""
        table, _, key = ref.partition("/")
        if table == "points":
            return {"text": ref, "href": f"/points/{quote(key, safe='')}"}
        if table in _PAGES and key.isdigit():
            return {"text": ref, "href": _PAGES[table] + key}
        if table in _ANCHORS and key.isdigit():
            return {"text": ref, "href": _ANCHORS[table] + key}
        index = store.entry_index(ref)
        return {"text": ref, "href": f"/verify/entry/{index}" if index is not None else ""}

    def point_choices(who: Principal) -> list[dict[str, str]]:
        """The points an account sees (for the MN pickers)."""
        scopes = store.point_scopes()
        return [
            {"mn": p.mn, "name": p.name, "enterprise": p.enterprise.name, "region": p.region}
            for p in sorted(store.points(), key=lambda p: p.mn)
            if p.mn in scopes and who.sees_point(*scopes[p.mn])
        ]

    def enterprises() -> list[dict[str, str]]:
        """The registered enterprises (code, name, region of their first point), for the subject pickers."""
        out: dict[str, dict[str, str]] = {}
        for p in sorted(store.points(), key=lambda p: p.mn):
            code = p.enterprise.credit_code or p.enterprise.name
            out.setdefault(code, {"code": code, "name": p.enterprise.name, "region": p.region})
        return list(out.values())

    def mns_of(form: _Form, t: Callable[..., str]) -> list[str]:
        """The MNs typed into ``mns`` and picked in ``mn_pick``, in order, without repeats."""
        mns: list[str] = []
        for mn in [*_SPLIT.split(form.last.get("mns", "")), *form.multi.get("mn_pick", [])]:
            if mn and mn not in mns:
                mns.append(mn)
        if len(mns) > MAX_MNS or any(len(mn) > 64 for mn in mns):
            raise _FormError(t("qa.too_long", f=t("ord.mns")))
        if not mns:
            raise _FormError(t("qa.required", f=t("ord.mns")))
        scopes = store.point_scopes()
        unknown = [mn for mn in mns if mn not in scopes]
        if unknown:
            raise _FormError(t("cr.unknown_point", mn=_short(", ".join(unknown), 200)))
        return mns

    # ============================================================================================ credit
    def credit_view(
        who: Principal, *, error: str = "", fv: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        subjects = []
        for s in credit().scores():
            events = [
                {**e, "at": _us_local(int(e["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                 "links": [ref_link(r) for r in e["evidence"]],
                 "entry": store.entry_index(f"credit_events/{e['id']}")}
                for e in reversed(s["events"])
            ]  # fmt: skip
            level = "bad" if s["score"] < 60 else "warn" if s["score"] < 100 else "ok"
            subjects.append({**s, "events": events, "level": level})
        values = dict(fv or {})
        for name, default in (
            ("region", who.region or ""),
            ("subject_kind", "enterprise"),
            ("kind", "negative"),
        ):
            values.setdefault(name, default)
        for name in _CREDIT_FORM:
            values.setdefault(name, "")
        return {"subjects": subjects, "kinds": SUBJECT_KINDS, "can_record": who.role in DECIDERS,
                "enterprises": enterprises(), "fv": values, "form_error": error}  # fmt: skip

    @app.get("/credit", include_in_schema=False)
    def credit_page(request: Request, done: str = "") -> Response:
        who, csrf, _ = kit.user_of(request)
        return render(request, "credit.html", **credit_view(who), done=done if done in _CREDIT_DONE else "",
                      _user=(who, csrf, False))  # fmt: skip

    @app.post("/credit", include_in_schema=False)
    async def credit_event(request: Request) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)

        def refused(status: int, message: str) -> HTMLResponse:
            view = credit_view(who, error=message, fv=_kept(form, _CREDIT_FORM))
            return render(request, "credit.html", status, **view, done="", _user=(who, csrf, False))

        try:
            kind = _choice(form, "subject_kind", SUBJECT_KINDS, t("cr.subject_kind"), t)
            subject_id = _field(form, "subject_id", t("cr.subject_id"), t, limit=64)
            subject_name = _field(form, "subject_name", t("cr.subject_name"), t, limit=200)
            region = _region_field(form, t)
            sign = _choice(form, "kind", ("negative", "positive"), t("cr.kind"), t)
            points_text = _field(form, "points", t("cr.points"), t, limit=4)
            if not _POINTS.match(points_text):
                raise _FormError(t("qa.bad_number", f=t("cr.points")))
            reason = _field(form, "reason", t("cr.reason"), t, limit=2000)
            evidence = _refs(form, t("cr.evidence"), t, required=True)
            decision = _field(form, "decision", t("cr.decision"), t, limit=200)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            credit().record_event(username=who.username, subject_kind=kind, subject_id=subject_id,
                                  subject_name=subject_name, region=region, kind=sign, points=int(points_text),
                                  reason=reason, evidence=evidence, decision=decision)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse("/credit?done=event#done", status_code=303)

    # ============================================================================================ blacklist
    def own_listing(who: Principal, listing: Mapping[str, Any]) -> bool:
        """Whether ``who`` is the listed party's own enterprise or operator account (it may appeal)."""
        return (
            who.role in APPELLANTS
            and who.enterprise_id is not None
            and who.enterprise_id == store.enterprise_id(str(listing["subject_id"]))
        )

    def blacklist_view(
        who: Principal,
        active: bool,
        *,
        error: str = "",
        error_form: str = "",
        fv: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        rows = []
        for item in credit().listings(active_only=active):
            lid = int(item["id"])
            state = item["state"]
            is_open = state not in ENDED
            pending = pending_appeal(item["events"])
            decider = decides_for(who, str(item["region"]))
            actions: list[str] = []
            if is_open and not pending and (decider or own_listing(who, item)):
                actions.append("appealed")
            if is_open and pending and decider:
                actions += ["appeal_upheld", "appeal_rejected"]
            if is_open and decider:
                actions.append("repaired")
            kept = dict(fv or {}) if error_form == f"step-{lid}" else {}
            rows.append({
                **item, "links": [ref_link(r) for r in item["evidence"]], "actions": actions,
                "listed_at": _us_local(int(item["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                "events": [{**e, "at": _us_local(int(e["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                            "links": [ref_link(r) for r in e["evidence"]],
                            "entry": store.entry_index(f"blacklist_events/{e['id']}")} for e in item["events"]],
                "fv": {name: kept.get(name, "") for name in _STEP_FORM},
            })  # fmt: skip
        values = dict(fv or {}) if error_form == "list" else {}
        start = date.fromisoformat(_today())
        try:
            three_years = start.replace(year=start.year + 3)
        except ValueError:  # 29 February
            three_years = start + timedelta(days=1096)
        for name, default in (("region", who.region or ""), ("subject_kind", "operator"), ("starts_on", _today()),
                              ("ends_on", three_years.isoformat())):  # fmt: skip
            values.setdefault(name, default)
        for name in _LISTING_FORM:
            values.setdefault(name, "")
        return {"rows": rows, "active": active, "kinds": SUBJECT_KINDS, "can_list": who.role in DECIDERS,
                "enterprises": enterprises(), "fv": values, "form_error": error, "error_form": error_form,
                "repair_days": REPAIR_MIN_DAYS}  # fmt: skip

    @app.get("/blacklist", include_in_schema=False)
    def blacklist_page(request: Request, active: str = "", done: str = "") -> Response:
        who, csrf, _ = kit.user_of(request)
        view = blacklist_view(who, active in ("1", "true", "on"))
        return render(request, "blacklist.html", **view, done=done if done in _BLACKLIST_DONE else "",
                      _user=(who, csrf, False))  # fmt: skip

    @app.post("/blacklist", include_in_schema=False)
    async def blacklist_add(request: Request) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)

        def refused(status: int, message: str) -> HTMLResponse:
            view = blacklist_view(who, False, error=message, error_form="list", fv=_kept(form, _LISTING_FORM))
            return render(request, "blacklist.html", status, **view, done="", _user=(who, csrf, False))

        try:
            kind = _choice(form, "subject_kind", SUBJECT_KINDS, t("cr.subject_kind"), t)
            subject_id = _field(form, "subject_id", t("cr.subject_id"), t, limit=64)
            subject_name = _field(form, "subject_name", t("cr.subject_name"), t, limit=200)
            region = _region_field(form, t)
            reason = _field(form, "reason", t("cr.reason"), t, limit=2000)
            evidence = _refs(form, t("cr.evidence"), t, required=True)
            decision = _field(form, "decision", t("cr.decision"), t, limit=200)
            starts_on = _date_field(form, "starts_on", t("bl.starts_on"), t)
            ends_on = _date_field(form, "ends_on", t("bl.ends_on"), t)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            row = credit().blacklist(username=who.username, subject_kind=kind, subject_id=subject_id,
                                     subject_name=subject_name, region=region, reason=reason, evidence=evidence,
                                     decision=decision, starts_on=starts_on, ends_on=ends_on)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/blacklist?done=listed#listing-{int(row['id'])}", status_code=303)

    @app.post("/blacklist/{listing_id}/events", include_in_schema=False)
    async def blacklist_step(request: Request, listing_id: int) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        if not _id_in_range(listing_id) or not store.quality_rows("blacklist", id=listing_id):
            raise PageError(404, "err.404")

        def refused(status: int, message: str) -> HTMLResponse:
            view = blacklist_view(who, False, error=message, error_form=f"step-{listing_id}",
                                  fv=_kept(form, _STEP_FORM))  # fmt: skip
            return render(request, "blacklist.html", status, **view, done="", _user=(who, csrf, False))

        try:
            action = _choice(form, "action", APPEAL_ACTIONS, t("bl.action"), t)
            note = _field(form, "note", t("bl.note"), t, limit=2000)
            evidence = _refs(form, t("cr.evidence"), t, required=action == "repaired")
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            credit().blacklist_step(
                listing_id, action=action, note=note, username=who.username, evidence=evidence
            )
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/blacklist?done=step#listing-{listing_id}", status_code=303)

    # ============================================================================================ orders
    def order_line(found: Mapping[str, Any]) -> dict[str, Any]:
        o = found["order"]
        return {**o, "links": [ref_link(r) for r in o["evidence"]], "recheck": found["recheck"],
                "days": found["days"], "days_with_alarms": found["days_with_alarms"],
                "issued_at": _us_local(int(o["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                "entry": store.entry_index(f"orders/{o['id']}")}  # fmt: skip

    def orders_view(who: Principal, *, error: str = "", fv: Mapping[str, str] | None = None,
                    picked: frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
        c = credit()
        rows = [order_line(c.penalty(int(o["id"]))) for o in reversed(store.quality_rows("orders"))]
        values = dict(fv or {})
        values.setdefault("served_on", _today())
        for name in _ORDER_FORM:
            values.setdefault(name, "")
        can_serve = who.role in DECIDERS
        return {"rows": rows, "can_serve": can_serve, "points": point_choices(who) if can_serve else [],
                "picked": picked, "fv": values, "form_error": error}  # fmt: skip

    @app.get("/orders", include_in_schema=False)
    def orders_page(request: Request) -> Response:
        who, csrf, _ = kit.user_of(request)
        return render(request, "orders.html", **orders_view(who), _user=(who, csrf, False))

    @app.post("/orders", include_in_schema=False)
    async def order_serve(request: Request) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = await _read_form(request, MAX_TEXT_FORM, t)
        fields = form.last
        kit.check_csrf(fields, csrf)

        def refused(status: int, message: str) -> HTMLResponse:
            view = orders_view(who, error=message, fv=_kept(fields, _ORDER_FORM),
                               picked=frozenset(form.multi.get("mn_pick", [])))  # fmt: skip
            return render(request, "orders.html", status, **view, _user=(who, csrf, False))

        try:
            order_no = _field(fields, "order_no", t("ord.order_no"), t, limit=200)
            enterprise = _field(fields, "enterprise", t("ord.enterprise"), t, limit=200)
            mns = mns_of(form, t)
            violation = _field(fields, "violation", t("ord.violation"), t, limit=2000)
            evidence = _refs(fields, t("cr.evidence"), t, required=True)
            served_on = _date_field(fields, "served_on", t("ord.served_on"), t)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            row = credit().order(username=who.username, order_no=order_no, enterprise=enterprise, mns=mns,
                                 violation=violation, evidence=evidence, served_on=served_on)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/orders/{int(row['id'])}?done=served#done", status_code=303)

    def order_view(who: Principal, order_id: int, lang: str, *, error: str = "",
                   fv: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
        if not _id_in_range(order_id):
            raise PageError(404, "err.404")
        try:
            found = credit().penalty(order_id)
        except RecordError as exc:
            if exc.status == 404:
                raise PageError(404, "err.404") from None
            raise
        order = order_line(found)
        names = {p.mn: p for p in store.points()}
        recheck = found["recheck"]
        basis = [
            {**b, "links": [ref_link(r) for r in b["alarms"]], "day": b["date"][5:]}
            for b in found["basis"]
        ]  # fmt: skip
        served = date.fromisoformat(str(order["served_on"]))
        values = dict(fv or {})
        values.setdefault("rechecked_on", _today())
        for name in _RECHECK_FORM:
            values.setdefault(name, "")
        return {
            "o": order,
            "points": [{"mn": mn, "name": f"{names[mn].enterprise.name} · {names[mn].name}" if mn in names else ""}
                       for mn in order["mns"]],
            "recheck": {**recheck, "links": [ref_link(r) for r in recheck["evidence"]],
                        "at": _us_local(int(recheck["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M"),
                        "entry": store.entry_index(f"order_rechecks/{recheck['id']}")} if recheck else None,
            "days": found["days"],
            "days_with_alarms": found["days_with_alarms"],
            "rule": _in_language(str(found["rule"]), lang),
            "basis": basis,
            "first_day": (served + timedelta(days=1)).isoformat(),
            "can_recheck": recheck is None and decides_for(who, str(order["region"])),
            "results": RESULTS,
            "fv": values,
            "form_error": error,
        }  # fmt: skip

    @app.get("/orders/{order_id}", include_in_schema=False)
    def order_page(request: Request, order_id: int, done: str = "") -> Response:
        who, csrf, _ = kit.user_of(request)
        view = order_view(who, order_id, kit.lang_of(request))
        return render(request, "order.html", **view, done=done if done in _ORDER_DONE else "",
                      _user=(who, csrf, False))  # fmt: skip

    @app.post("/orders/{order_id}/recheck", include_in_schema=False)
    async def order_recheck(request: Request, order_id: int) -> Response:
        who, csrf = need_login(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = (await _read_form(request, MAX_TEXT_FORM, t)).last
        kit.check_csrf(form, csrf)
        order_view(who, order_id, lang)  # 404 for an order that does not exist

        def refused(status: int, message: str) -> HTMLResponse:
            view = order_view(who, order_id, lang, error=message, fv=_kept(form, _RECHECK_FORM))
            return render(request, "order.html", status, **view, done="", _user=(who, csrf, False))

        try:
            rechecked_on = _date_field(form, "rechecked_on", t("ord.rechecked_on"), t)
            result = _choice(form, "result", RESULTS, t("ord.result"), t)
            note = _field(form, "note", t("ord.note"), t, limit=2000)
            evidence = _refs(form, t("cr.evidence"), t, required=False)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            credit().recheck(order_id, username=who.username, rechecked_on=rechecked_on, result=result, note=note,
                             evidence=evidence)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/orders/{order_id}?done=rechecked#done", status_code=303)

    # ============================================================================================ ranking
    @app.get("/ranking", include_in_schema=False)
    def ranking_page(request: Request, region: str = "", start: str = "", end: str = "") -> Response:
        who, csrf = need_login(request)
        t = translator(kit.lang_of(request))
        region = region.strip() or (who.region or "")
        if who.role not in RANKERS:
            raise PageError(403, "rk.forbidden")
        if not _REGION.match(region):
            raise PageError(400, "err.400", t("cr.bad_region"))
        if not region.startswith(who.region or "\0"):
            raise PageError(403, "rk.forbidden")
        bounds: list[int | None] = []
        for label, text in ((t("rk.start"), start), (t("rk.end"), end)):
            text = text.strip()[:40]
            at = parse_iso_time(text, CHINA_ZONE) if text else None
            if text and at is None:
                raise PageError(400, "err.400", t("qa.bad_time", f=label))
            bounds.append(at)
        rows = []
        for c in county_ranking(store, region, since=bounds[0] or 0, until=bounds[1]):
            groups = {key: [ref_link(r) for r in c[key]]
                      for key in ("fraud_inspections", "continued_orders", "blacklistings", "interference")}  # fmt: skip
            rows.append({**c, "groups": groups})
        chart = {
            "counties": [r["county"] for r in rows],
            "series": [{"key": key, "name": t(f"rk.{key}"), "values": [len(r[key]) for r in rows]}
                       for key in ("fraud_inspections", "continued_orders", "blacklistings", "interference")],
            "rate": [r["per_100_points"] for r in rows],
            "rate_name": t("rk.per_100"),
        }  # fmt: skip
        return render(request, "ranking.html", rows=rows, region=region, start=start[:40], end=end[:40],
                      chart=chart, _user=(who, csrf, False))  # fmt: skip

    # ============================================================================================ cases
    def staff(request: Request) -> tuple[Principal, str]:
        """The logged-in regulator or inspector; the login for the public, 404 for every other account."""
        who, csrf = need_login(request)
        if who.role not in CASE_STAFF:
            raise PageError(404, "err.404")
        return who, csrf

    def case_line(c: Mapping[str, Any]) -> dict[str, Any]:
        return {**c, "start_local": _local(int(c["period_start"]), CHINA_OFFSET),
                "end_local": _local(int(c["period_end"]), CHINA_OFFSET),
                "opened_at": _us_local(int(c["at_us"]), CHINA_OFFSET, "%Y-%m-%d %H:%M")}  # fmt: skip

    def cases_view(who: Principal, *, error: str = "", fv: Mapping[str, str] | None = None,
                   picked: frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
        values = dict(fv or {})
        now = time.time()
        values.setdefault("start", _local(now - 7 * 86400, CHINA_OFFSET, "%Y-%m-%dT%H:%M"))
        values.setdefault("end", _local(now, CHINA_OFFSET, "%Y-%m-%dT%H:%M"))
        for name in _CASE_FORM:
            values.setdefault(name, "")
        return {"rows": [case_line(c) for c in cases().visible(who.username)], "points": point_choices(who),
                "picked": picked, "fv": values, "form_error": error, "required": REQUIRED}  # fmt: skip

    @app.get("/cases", include_in_schema=False)
    def cases_page(request: Request) -> Response:
        who, csrf = staff(request)
        return render(request, "cases.html", **cases_view(who), _user=(who, csrf, False))

    @app.post("/cases", include_in_schema=False)
    async def case_open(request: Request) -> Response:
        who, csrf = staff(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = await _read_form(request, MAX_TEXT_FORM, t)
        fields = form.last
        kit.check_csrf(fields, csrf)

        def refused(status: int, message: str) -> HTMLResponse:
            view = cases_view(who, error=message, fv=_kept(fields, _CASE_FORM),
                              picked=frozenset(form.multi.get("mn_pick", [])))  # fmt: skip
            return render(request, "cases.html", status, **view, _user=(who, csrf, False))

        try:
            case_no = _field(fields, "case_no", t("cs.case_no"), t, limit=100)
            title = _field(fields, "title", t("cs.title_field"), t, limit=200)
            enterprise = _field(fields, "enterprise", t("ord.enterprise"), t, limit=200)
            mns = mns_of(form, t)
            times = []
            for name, label in (("start", t("cs.start")), ("end", t("cs.end"))):
                text = _field(fields, name, label, t, limit=40)
                at = parse_iso_time(text, CHINA_ZONE)
                if at is None:
                    raise _FormError(t("qa.bad_time", f=label))
                times.append(at)
            summary = _field(fields, "summary", t("cs.summary"), t, limit=8000)
            evidence = _refs(fields, t("cr.evidence"), t, required=False)
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            row = cases().open(username=who.username, case_no=case_no, title=title, enterprise=enterprise, mns=mns,
                               start=times[0], end=times[1], summary=summary, evidence=evidence)  # fmt: skip
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/cases/{int(row['id'])}?done=opened#done", status_code=303)

    def handled(who: Principal, case_id: int) -> dict[str, Any]:
        """The case if ``who`` handles it; a 404 page otherwise (the same as for a missing case)."""
        if not _id_in_range(case_id):
            raise PageError(404, "err.404")
        try:
            return cases().show(case_id, who.username)
        except RecordError as exc:
            if exc.status in (403, 404):
                raise PageError(404, "err.404") from None
            raise

    def case_view(rec: Mapping[str, Any], *, error: str = "", error_form: str = "",
                  fv: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
        names = {p.mn: p for p in store.points()}
        docs = []
        for d in rec["documents"]:
            att = store.quality_rows("attachments", id=d["attachment_id"])
            a = att[0] if att else {}
            docs.append({**d, "name": a.get("name", ""), "media_type": a.get("media_type", ""),
                         "size": int(a.get("size") or 0), "size_text": _size(int(a.get("size") or 0)),
                         "sha256": a.get("sha256", ""), "at": _us_local(int(d["at_us"]), CHINA_OFFSET,
                                                                       "%Y-%m-%d %H:%M"),
                         "entry": store.entry_index(f"case_documents/{d['id']}")})  # fmt: skip
        have = {d["kind"] for d in rec["documents"]}
        values = dict(fv or {}) if error_form == "document" else {}
        for name in _DOC_FORM:
            values.setdefault(name, "")
        vkey = kit.log_verifier.vkey() if kit.log_verifier is not None else ""
        return {
            "rec": case_line(rec),
            "points": [{"mn": mn, "name": f"{names[mn].enterprise.name} · {names[mn].name}" if mn in names else ""}
                       for mn in rec["mns"]],
            "links": [ref_link(r) for r in rec["evidence"]],
            "documents": docs,
            "checklist": [{"kind": k, "have": k in have, "required": k in REQUIRED} for k in DOC_KINDS
                          if k != "other"],
            "missing": rec["missing_documents"],
            "doc_kinds": DOC_KINDS,
            "max_mb": MAX_ATTACHMENT_BYTES // 1048576,
            "package_name": _package_name(int(rec["id"])),
            "vkey": vkey,
            "fv": values,
            "form_error": error,
            "error_form": error_form,
        }  # fmt: skip

    @app.get("/cases/{case_id}", include_in_schema=False)
    def case_page(request: Request, case_id: int, done: str = "") -> Response:
        who, csrf = staff(request)
        view = case_view(handled(who, case_id))
        return render(request, "case.html", **view, done=done if done in _CASE_DONE else "",
                      _user=(who, csrf, False))  # fmt: skip

    @app.post("/cases/{case_id}/documents", include_in_schema=False)
    async def case_document(request: Request, case_id: int) -> Response:
        who, csrf = staff(request)
        lang = kit.lang_of(request)
        t = translator(lang)
        form = await _read_form(request, MAX_ATTACHMENT_BYTES + 1024 * 1024, t)
        fields = form.last
        kit.check_csrf(fields, csrf)
        rec = handled(who, case_id)

        def refused(status: int, message: str) -> HTMLResponse:
            view = case_view(rec, error=message, error_form="document", fv=_kept(fields, _DOC_FORM))
            return render(request, "case.html", status, **view, done="", _user=(who, csrf, False))

        try:
            kind = _choice(fields, "kind", DOC_KINDS, t("cs.doc_kind"), t)
            title = _field(fields, "title", t("cs.doc_title"), t, limit=200)
            if len(form.files) != 1:
                raise _FormError(t("cs.one_file"))
            file = form.files[0]
            if len(file.data) > MAX_ATTACHMENT_BYTES:
                return refused(413, t("itf.too_large", name=file.name, mb=MAX_ATTACHMENT_BYTES // 1048576))
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            cases().add_document(case_id, kind=kind, title=title, file=file, username=who.username)
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/cases/{case_id}?done=document#done", status_code=303)

    @app.get("/cases/{case_id}/documents/{document_id}", include_in_schema=False)
    def case_document_file(request: Request, case_id: int, document_id: int) -> Response:
        who, _ = staff(request)
        rec = handled(who, case_id)
        doc = next((d for d in rec["documents"] if int(d["id"]) == document_id), None)
        rows = store.quality_rows("attachments", id=doc["attachment_id"]) if doc is not None else []
        if not rows:
            raise PageError(404, "err.404")
        return _attachment_response(rows[0])

    @app.get("/cases/{case_id}/package", include_in_schema=False)
    def case_package(request: Request, case_id: int) -> Response:
        who, csrf = staff(request)
        lang = kit.lang_of(request)
        rec = handled(who, case_id)
        if kit.log_verifier is None:
            view = case_view(rec, error=translator(lang)("cs.no_log_key"), error_form="package")
            return render(request, "case.html", 409, **view, done="", _user=(who, csrf, False))
        try:
            data = cases().package(
                case_id, username=who.username, log_verifier=kit.log_verifier, witness_verifiers=kit.witnesses
            )
        except RecordError as exc:
            view = case_view(rec, error=_in_language(str(exc), lang), error_form="package")
            return render(request, "case.html", exc.status, **view, done="", _user=(who, csrf, False))
        return Response(
            data,
            media_type="application/zip",
            headers={
                "Content-Disposition": f"attachment; filename={_package_name(case_id)}",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )
