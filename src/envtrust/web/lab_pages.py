"""Pages of the signed laboratory chain, the signing keys, enterprise data marks, the responsibility trace and the
public verification of one ledger entry (issue 6).

The pages apply exactly the rules of the API (:mod:`envtrust.api.lab`, :mod:`envtrust.api.marks`): every step is
signed as the logged-in account with the passphrase of its server-sealed key, typed into the form and passed to
:class:`~envtrust.workflow.lab.Signed` — never stored, logged, put into an address or written back into a form
that is shown again.  The workflow refuses what its rules refuse (``own_work``, ``no_function``, an expired lot
…); the page shows the refusal in the reader's language with the workflow's HTTP status.  A sample's chain is for
lab staff, administrators and accounts that see the sample's point; marks and traces for accounts that see the
point (404 otherwise, as if it did not exist); ``/verify/entry/{index}`` and the report PDFs are public.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ..api.app import MAX_INT
from ..errors import RecordError
from ..ledger import merkle
from ..ledger.note import NoteError, Verifier, open_checkpoint
from ..quality import point_rechecker
from ..registry import Point
from ..report_pdf import render_report
from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import Principal
from ..workflow.lab import CUSTODY_STEPS, LAB_ZONE, Lab, Signed
from ..workflow.marks import DECISIONS, ENTERPRISE_ROLES, REGULATOR_ROLES, Marks, mark_rows
from ..workflow.qa import QualityRecords
from ..workflow.refs import entry_disclosed
from ..workflow.signing import MIN_PASSPHRASE
from ..workflow.trace import trace_day, trace_hour, trace_reading
from .i18n import MESSAGES, translator
from .pages import PageError, _in_language, _local, _lot_label, _lot_state, _offset_s, _zone_offset

__all__ = ["PageKit", "install_lab_pages"]

PURPOSES = ("comparison", "supervisory", "self")
MARK_CODES = ("stopped", "startup_shutdown", "maintenance", "calibration", "fault", "comm_failure")
MAX_FIELDS = 600  # a report may name up to 500 analyses
MAX_BODY = 256 * 1024
# names of values an entry must never show (entries hold none: defence in depth)
SECRET_NAMES = frozenset(
    {"sealed", "seed", "skey", "passphrase", "password", "password_hash", "secret", "token", "token_hash"}
)
# the order in which a trace's nodes are grouped
TRACE_TYPES = (
    "hour",
    "registry.point",
    "hj212.frame",
    "qa.analyser",
    "qa.check",
    "qa.reference_lot",
    "qa.comparison",
    "lab.report",
    "lab.analysis",
    "lab.review",
    "lab.sample",
    "lab.custody",
    "mark.data",
    "qa.failed",
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CODE = re.compile(r"^[A-Za-z0-9_]{1,16}$")


@dataclass(frozen=True)
class PageKit:
    """What :func:`~envtrust.web.pages.install_pages` shares with these pages: rendering, sessions, forms."""

    render: Callable[..., HTMLResponse]
    need_login: Callable[[Request], tuple[Principal, str]]
    user_of: Callable[[Request], tuple[Principal, str | None, bool]]
    lang_of: Callable[[Request], str]
    check_csrf: Callable[[dict[str, str], str], None]
    log_verifier: Verifier | None
    witnesses: Sequence[Any] = ()  # the witness keys the server accepts (case packages carry them)


class _FormError(ValueError):
    """A form field refused before the workflow sees it (the message is in the reader's language)."""


def _lab_offset() -> int:
    return _zone_offset(LAB_ZONE)


def _us_local(at_us: int | None, offset: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return _local(at_us / 1e6, offset, fmt) if at_us else ""


def _iso_local(text: str, offset: int) -> str:
    """A statement's ISO time (UTC, ``…Z``) in a zone, to the second."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    except ValueError:
        return text
    return _local(t, offset, "%Y-%m-%d %H:%M:%S")


def _duration(seconds: float, t: Callable[..., str]) -> str:
    s = abs(int(seconds))
    if s < 120:
        text = t("dur.s", n=s)
    elif s < 7200:
        text = t("dur.min", n=s // 60)
    elif s < 172800:
        text = t("dur.h", n=s // 3600)
    else:
        text = t("dur.d", n=s // 86400)
    return text if seconds >= 0 else t("mark.ahead", d=text)


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[…]" if k in SECRET_NAMES else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _field(
    form: dict[str, str], name: str, label: str, t: Callable[..., str], *, limit: int, required: bool = True
) -> str:
    value = form.get(name, "").strip()
    if not value and required:
        raise _FormError(t("qa.required", f=label))
    if len(value) > limit:
        raise _FormError(t("qa.too_long", f=label))
    return value


def _signed(form: dict[str, str], t: Callable[..., str]) -> Signed:
    """The signature of a form: the passphrase of the account's sealed key (never kept)."""
    phrase = form.get("passphrase", "")
    if not phrase:
        raise _FormError(t("qa.required", f=t("sig.passphrase")))
    if len(phrase) > 1024:
        raise _FormError(t("qa.too_long", f=t("sig.passphrase")))
    return Signed(passphrase=phrase)


def _kept(form: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    """What a refused form shows again: the named fields only (never the passphrase)."""
    return {n: form.get(n, "") for n in names if n not in ("passphrase", "passphrase2")}


def _time_field(form: dict[str, str], name: str, label: str, zone: str, t: Callable[..., str]) -> int:
    text = _field(form, name, label, t, limit=40)
    at = parse_iso_time(text, zone)
    if at is None:
        raise _FormError(t("qa.bad_time", f=label))
    return at


def _id_of(text: str) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_INT else None


def install_lab_pages(app: FastAPI, store: Store, kit: PageKit) -> None:
    """Add the laboratory, keys, marks, trace and verify pages to ``app``."""
    render, need_login = kit.render, kit.need_login

    def lab() -> Lab:  # as the API builds it (envtrust.api.lab)
        public = os.environ.get("ENVTRUST_PUBLIC_URL", "http://127.0.0.1:8212")
        return Lab(store, origin=load_settings().origin, render=render_report, public_url=public)

    def marks() -> Marks:  # as the API builds it (envtrust.api.marks)
        return Marks(store, origin=load_settings().origin, recheck=point_rechecker(store))

    async def form_of(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The form's fields (last value of each) and every value of each (for multiple choices)."""
        body = await request.body()
        if len(body) > MAX_BODY:
            raise PageError(413, "err.400", "form too large")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise PageError(400, "err.400", "unreadable form") from None
        return {k: v[-1] for k, v in parsed.items()}, parsed

    def points_by_mn() -> dict[str, Point]:
        return {p.mn: p for p in store.points()}

    def sees(who: Principal, mn: str | None) -> bool:
        scope = store.point_scopes().get(mn) if mn else None
        return scope is not None and who.sees_point(*scope)

    def reads_sample(who: Principal, sample: dict[str, Any]) -> bool:
        """The API's rule for a sample's chain: lab staff, administrators, accounts that see its point."""
        return who.role in ("lab", "admin") or sees(who, sample["mn"])

    def held_functions(who: Principal) -> set[str]:
        if who.role == "admin":
            return set()
        try:
            return lab().functions(who.username)
        except RecordError:
            return set()

    def signature(sig_id: int | None, checker: Lab | None = None) -> dict[str, Any] | None:
        """Who signed, with which key, when, and whether the signature verifies now."""
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
        except json.JSONDecodeError:
            statement = {}
        ok, why = (checker or lab()).check_signature(int(sig_id))
        return {
            "account": (statement.get("signer") or {}).get("account", ""),
            "role": sig["role"],
            "key": key,
            "key_short": key,
            "signed_at": _iso_local(str(statement.get("at", "")), _lab_offset()),
            "ok": ok,
            "why": why,
            "entry": store.entry_index(f"signatures/{sig_id}"),
        }

    # ------------------------------------------------------------------------------------------ lab state
    def lab_state() -> dict[str, Any]:
        """Every sample, custody step, analysis, review, retraction and report, indexed for the pages."""
        samples = store.quality_rows("samples")
        custody: dict[int, list[dict[str, Any]]] = {}
        for c in store.quality_rows("custody_events"):
            custody.setdefault(int(c["sample_id"]), []).append(c)
        analyses = store.quality_rows("analyses")
        reviews: dict[int, list[dict[str, Any]]] = {}
        for r in store.quality_rows("reviews"):
            reviews.setdefault(int(r["analysis_id"]), []).append(r)
        retracted = {int(x["analysis_id"]): x for x in store.quality_rows("retractions")}
        reports = store.quality_rows("reports")
        reported: dict[int, list[dict[str, Any]]] = {}
        for rep in reports:
            for aid in json.loads(rep["analysis_ids"]):
                reported.setdefault(int(aid), []).append(rep)
        return {
            "samples": samples,
            "by_id": {int(s["id"]): s for s in samples},
            "custody": custody,
            "analyses": analyses,
            "reviews": reviews,
            "retracted": retracted,
            "reports": reports,
            "reported": reported,
        }

    def steps_of(st: dict[str, Any], sample_id: int) -> list[str]:
        return [c["step"] for c in st["custody"].get(sample_id, [])]

    def chain_people(st: dict[str, Any], a: dict[str, Any]) -> set[str]:
        """As :meth:`Lab._chain_people`: everyone who signed custody of the sample, the analysis, its reviews."""
        people = {c["by"] for c in st["custody"].get(int(a["sample_id"]), [])}
        people.add(a["analyst"])
        people |= {r["reviewer"] for r in st["reviews"].get(int(a["id"]), [])}
        return people

    def analysis_state(st: dict[str, Any], a: dict[str, Any], required: int) -> str:
        aid = int(a["id"])
        if aid in st["retracted"]:
            return "retracted"
        if aid in st["reported"]:
            return "reported"
        revs = st["reviews"].get(aid, [])
        if any(r["decision"] == "reject" for r in revs):
            return "rejected"
        approvers = {r["reviewer"] for r in revs if r["decision"] == "approve"}
        return "approved" if len(approvers) >= required else "to_review"

    def sample_state(st: dict[str, Any], s: dict[str, Any]) -> str:
        steps = steps_of(st, int(s["id"]))
        if "rejected" in steps:
            return "rejected"
        if "received" in steps:
            mine = [a for a in st["analyses"] if a["sample_id"] == s["id"]]
            if any(int(a["id"]) in st["reported"] for a in mine):
                return "reported"
            return "analysed" if mine else "received"
        if "transported" in steps:
            return "transported"
        return "sampled" if "sampled" in steps else "planned"

    def custody_choices(functions: set[str], steps: list[str]) -> list[str]:
        """The custody steps an account with ``functions`` may sign next (the workflow's order rules)."""
        if "rejected" in steps:
            return []
        out = []
        if "sampler" in functions:
            out += ["sampled"] if "sampled" not in steps else ["transported"]
        if "receiver" in functions and "sampled" in steps and "received" not in steps:
            out += ["received", "rejected"]
        return out

    def analysis_line(
        st: dict[str, Any], a: dict[str, Any], lots: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        sample = st["by_id"][int(a["sample_id"])]
        return {
            **a,
            "sample_no": sample["sample_no"],
            "lots": [_lot_label(lots[i]) if i in lots else f"#{i}" for i in json.loads(a["lot_ids"])],
            "analysed_local": _local(a["analysed_at"], _lab_offset()),
        }

    # ------------------------------------------------------------------------------------------ keys
    def keys_view(who: Principal) -> list[dict[str, Any]]:
        now_us = time.time_ns() // 1000
        off = _lab_offset()
        if who.role == "admin":
            return []
        out = []
        for k in lab().keys(who.username):
            if k["revoked"] is not None:
                state = "revoked"
            elif k["active_from_us"] > now_us:
                state = "waiting"
            else:
                state = "active"
            out.append(
                {
                    **k,
                    "state": state,
                    "active_from": _us_local(k["active_from_us"], off),
                    "created": _us_local(k["at_us"], off),
                    "revoked_at": _us_local(k["revoked"]["at_us"], off) if k["revoked"] else "",
                }
            )
        return out[::-1]

    # ------------------------------------------------------------------------------------------ /lab
    def home_view(who: Principal, *, error: str = "", fv: dict[str, str] | None = None) -> dict[str, Any]:
        st = lab_state()
        functions = held_functions(who)
        lb = lab()
        required = lb.required_reviews
        off = _lab_offset()
        mine_samples = [s for s in st["samples"] if reads_sample(who, s)]
        visible = {int(s["id"]) for s in mine_samples}
        tasks: dict[str, list[dict[str, Any]]] = {
            "sample": [],
            "receive": [],
            "analyse": [],
            "review": [],
            "report": [],
        }
        for s in mine_samples:
            steps = steps_of(st, int(s["id"]))
            live = [
                a for a in st["analyses"] if a["sample_id"] == s["id"] and int(a["id"]) not in st["retracted"]
            ]
            if "sampler" in functions and not steps:
                tasks["sample"].append(s)
            if "receiver" in functions and "sampled" in steps and not {"received", "rejected"} & set(steps):
                tasks["receive"].append(s)
            if "analyst" in functions and "received" in steps and "rejected" not in steps and not live:
                tasks["analyse"].append(s)
        lots = {int(lot["id"]): lot for lot in store.quality_rows("reference_lots")}
        for a in st["analyses"]:
            if int(a["sample_id"]) not in visible:
                continue
            state = analysis_state(st, a, required)
            if state == "to_review" and "reviewer" in functions and who.username not in chain_people(st, a):
                tasks["review"].append(analysis_line(st, a, lots))
            if state == "approved" and "signatory" in functions:
                approvers = {r["reviewer"] for r in st["reviews"].get(int(a["id"]), [])}
                if who.username != a["analyst"] and who.username not in approvers:
                    tasks["report"].append(analysis_line(st, a, lots))
        recent = []
        for s in sorted(mine_samples, key=lambda s: -int(s["id"]))[:100]:
            recent.append(
                {**s, "state": sample_state(st, s), "planned": _us_local(s["at_us"], off, "%Y-%m-%d %H:%M")}
            )
        values = dict(fv or {})
        for name in ("sample_no", "matrix", "purpose", "mn", "report_no", "title", "supersedes"):
            values.setdefault(name, "")
        chosen = set(values.get("analysis_ids", "").split(",")) if values.get("analysis_ids") else set()
        return {
            "functions": sorted(functions),
            "tasks": tasks,
            "recent": recent,
            "reports": [
                {**r, "at": _us_local(r["at_us"], off, "%Y-%m-%d %H:%M")}
                for r in sorted(st["reports"], key=lambda r: -int(r["id"]))
                if any(int(a) in visible for a in json.loads(r["analysis_ids"]))
            ][:50],
            "can_plan": who.role == "lab",
            "purposes": PURPOSES,
            "mns": sorted(points_by_mn()),
            "keys": keys_view(who),
            "can_key": who.role != "admin",
            "fv": values,
            "chosen": chosen,
            "form_error": error,
            "min_phrase": MIN_PASSPHRASE,
        }

    @app.get("/lab", include_in_schema=False)
    def lab_home(request: Request, done: str = "") -> Response:
        who, csrf = need_login(request)
        return render(request, "lab.html", **home_view(who), done=_done(done), _user=(who, csrf, False))

    @app.get("/keys", include_in_schema=False)
    def keys_page(request: Request, done: str = "") -> Response:
        who, csrf = need_login(request)
        return render(
            request,
            "keys.html",
            keys=keys_view(who),
            can_key=who.role != "admin",
            form_error="",
            min_phrase=MIN_PASSPHRASE,
            done=_done(done),
            _user=(who, csrf, False),
        )

    def _done(done: str) -> str:
        return done if done in DONE_KEYS else ""

    def refuse_home(
        request: Request, who: Principal, csrf: str, status: int, message: str, **fv: str
    ) -> Response:
        view = home_view(who, error=message, fv=fv)
        return render(request, "lab.html", status, **view, done="", _user=(who, csrf, False))

    @app.post("/lab/samples", include_in_schema=False)
    async def lab_plan(request: Request) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        if who.role != "lab":  # the API's rule: samples are planned by lab staff
            raise PageError(403, "lab.may_not_plan")
        t = translator(kit.lang_of(request))
        kept = _kept(form, ("sample_no", "matrix", "purpose", "mn"))
        try:
            no = _field(form, "sample_no", t("lab.sample_no"), t, limit=64)
            matrix = _field(form, "matrix", t("lab.matrix"), t, limit=200)
            purpose = form.get("purpose", "")
            if purpose not in PURPOSES:
                raise _FormError(t("qa.required", f=t("lab.purpose")))
            mn = _field(form, "mn", t("lab.point"), t, limit=64, required=False) or None
            if mn is not None and mn not in points_by_mn():
                raise _FormError(t("lab.unknown_point", mn=mn))
        except _FormError as exc:
            return refuse_home(request, who, csrf, 400, str(exc), **kept)
        try:
            lab().plan_sample(no, matrix=matrix, purpose=purpose, who=who.username, mn=mn)
        except RecordError as exc:
            return refuse_home(
                request, who, csrf, exc.status, _in_language(str(exc), kit.lang_of(request)), **kept
            )
        return RedirectResponse(
            f"/lab/samples/{quote(no.strip(), safe='')}?done=planned#done", status_code=303
        )

    @app.post("/keys", include_in_schema=False)
    async def key_create(request: Request) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        if who.role == "admin":  # the API's rule: an administrator signs nothing and holds no key
            raise PageError(403, "key.admin")
        lang = kit.lang_of(request)
        t = translator(lang)
        back = "/keys" if form.get("back") == "keys" else "/lab"
        phrase, again = form.get("passphrase", ""), form.get("passphrase2", "")

        def refused(status: int, message: str) -> Response:
            if back == "/keys":
                return render(
                    request, "keys.html", status, keys=keys_view(who), can_key=True, form_error=message,
                    min_phrase=MIN_PASSPHRASE, done="", _user=(who, csrf, False),
                )  # fmt: skip
            return refuse_home(request, who, csrf, status, message)

        if len(phrase) < MIN_PASSPHRASE:
            return refused(400, t("key.too_short", n=MIN_PASSPHRASE))
        if len(phrase) > 1024:
            return refused(400, t("qa.too_long", f=t("sig.passphrase")))
        if phrase != again:
            return refused(400, t("key.mismatch"))
        try:
            lab().create_sealed_key(who.username, phrase, who=who.username)
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"{back}?done=key_created#keys", status_code=303)

    @app.post("/keys/{key_id}/revoke", include_in_schema=False)
    async def key_revoke(request: Request, key_id: int) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        rows = store.quality_rows("person_keys", id=key_id) if 1 <= key_id <= MAX_INT else []
        if (
            not rows or rows[0]["account_id"] != who.account_id
        ):  # the page revokes only the account's own keys
            raise PageError(404, "err.404")
        t = translator(kit.lang_of(request))
        reason = form.get("reason", "").strip()
        if not reason or len(reason) > 2000:
            raise PageError(400, "err.400", t("qa.required", f=t("key.reason")))
        try:
            lab().revoke_key(key_id, reason=reason, who=who.username)
        except RecordError as exc:
            raise PageError(exc.status, "err.400", _in_language(str(exc), kit.lang_of(request))) from None
        back = "/keys" if form.get("back") == "keys" else "/lab"
        return RedirectResponse(f"{back}?done=key_revoked#keys", status_code=303)

    # ------------------------------------------------------------------------------------------ a sample
    def visible_sample(who: Principal, sample_no: str) -> dict[str, Any]:
        rows = store.quality_rows("samples", sample_no=sample_no) if len(sample_no) <= 64 else []
        if not rows or not reads_sample(who, rows[0]):
            raise PageError(404, "err.404")
        return rows[0]

    def sample_view(
        who: Principal, sample: dict[str, Any], lang: str, *, error: str = "", form: str = "",
        fv: dict[str, str] | None = None, lot_ids: Sequence[str] = (),
    ) -> dict[str, Any]:  # fmt: skip
        t = translator(lang)
        lb = lab()
        off = _lab_offset()
        chain = lb.chain(sample["sample_no"])
        st = lab_state()
        functions = held_functions(who)
        rows: dict[str, dict[str, Any]] = {}
        for table in ("custody_events", "analyses", "reviews", "retractions", "reports"):
            ids = [
                int(s["record"].split("/")[1]) for s in chain["steps"] if s["record"].startswith(table + "/")
            ]
            for r in store.quality_rows(table, id=ids) if ids else []:
                rows[f"{table}/{r['id']}"] = r
        lots = {int(lot["id"]): lot for lot in store.quality_rows("reference_lots")}
        steps = []
        for s in chain["steps"]:
            row = rows.get(s["record"], {})
            sig = signature(s["sig_id"], lb)
            steps.append(
                {
                    **s,
                    "row": row,
                    "what": _step_text(s["act"], row, t, off),
                    "recorded": _us_local(s["at_us"], off),
                    "sig": sig,
                }
            )
        custody_steps = steps_of(st, int(sample["id"]))
        analyses = []
        for a in st["analyses"]:
            if a["sample_id"] != sample["id"]:
                continue
            state = analysis_state(st, a, lb.required_reviews)
            live = state not in ("retracted",)
            people = chain_people(st, a)
            analyses.append(
                {
                    **analysis_line(st, a, lots),
                    "state": state,
                    "reviews": st["reviews"].get(int(a["id"]), []),
                    "retraction": st["retracted"].get(int(a["id"])),
                    "reports": st["reported"].get(int(a["id"]), []),
                    "can_review": live and "reviewer" in functions and who.username not in people,
                    "can_retract": live
                    and who.role != "admin"
                    and (a["analyst"] == who.username or "signatory" in functions),
                }
            )
        now = int(time.time())
        usable = [lot for lot in QualityRecords(store).lots() if _lot_state(lot, now) == "usable"]
        values = dict(fv or {})
        now_local = _local(now, off, "%Y-%m-%dT%H:%M")
        values.setdefault("at", now_local)
        values.setdefault("analysed_at", now_local)
        for name in (*_CUSTODY_FORM, *_ANALYSIS_FORM, "comment", "reason", "decision"):
            values.setdefault(name, "")
        reports = {r["report_no"]: r for a in analyses for r in a["reports"]}
        choices = custody_choices(functions, custody_steps) if who.role != "admin" else []
        can_analyse = (
            "analyst" in functions and "received" in custody_steps and "rejected" not in custody_steps
        )
        shown = {"custody"} if choices else set()
        shown |= {"analysis"} if can_analyse else set()
        shown |= {f"review-{a['id']}" for a in analyses if a["can_review"]}
        shown |= {f"retract-{a['id']}" for a in analyses if a["can_retract"]}
        return {
            "sample": sample,
            "state": sample_state(st, sample),
            "planned": _us_local(sample["at_us"], off),
            "steps": steps,
            "analyses": analyses,
            "reports": sorted(reports.values(), key=lambda r: int(r["id"])),
            "functions": sorted(functions),
            "custody_choices": choices,
            "can_analyse": can_analyse,
            "lots": [{"id": lot["id"], "label": _lot_label(lot)} for lot in usable],
            "chosen_lots": set(lot_ids),
            "fv": values,
            "form_error": error,
            "error_form": form,
            "error_inline": form in shown,
            "has_key": any(k["state"] == "active" for k in keys_view(who)),
        }

    @app.get("/lab/samples/{sample_no:path}", include_in_schema=False)
    def lab_sample(request: Request, sample_no: str, done: str = "") -> Response:
        who, csrf = need_login(request)
        sample = visible_sample(who, sample_no)
        view = sample_view(who, sample, kit.lang_of(request))
        return render(request, "lab_sample.html", **view, done=_done(done), _user=(who, csrf, False))

    def sample_refused(
        request: Request, who: Principal, csrf: str, sample: dict[str, Any], status: int, message: str,
        which: str, form: dict[str, str], names: Sequence[str], lot_ids: Sequence[str] = (),
    ) -> Response:  # fmt: skip
        view = sample_view(
            who,
            sample,
            kit.lang_of(request),
            error=message,
            form=which,
            fv=_kept(form, names),
            lot_ids=lot_ids,
        )
        return render(request, "lab_sample.html", status, **view, done="", _user=(who, csrf, False))

    def signed_step(
        request: Request, who: Principal, csrf: str, sample: dict[str, Any], which: str, form: dict[str, str],
        names: Sequence[str], step: Callable[[Callable[..., str]], Any], done: str, lot_ids: Sequence[str] = (),
    ) -> Response:  # fmt: skip
        """Run a signed step of a sample's chain: a refused form comes back with the reason, else the chain."""
        lang = kit.lang_of(request)
        t = translator(lang)
        try:
            step(t)
        except _FormError as exc:
            return sample_refused(request, who, csrf, sample, 400, str(exc), which, form, names, lot_ids)
        except RecordError as exc:
            return sample_refused(
                request,
                who,
                csrf,
                sample,
                exc.status,
                _in_language(str(exc), lang),
                which,
                form,
                names,
                lot_ids,
            )
        target = f"/lab/samples/{quote(sample['sample_no'], safe='')}?done={done}#done"
        return RedirectResponse(target, status_code=303)

    @app.post("/lab/custody", include_in_schema=False)
    async def lab_custody(request: Request) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        sample = visible_sample(who, form.get("sample_no", ""))

        def step(t: Callable[..., str]) -> Any:
            kind = form.get("step", "")
            if kind not in CUSTODY_STEPS:
                raise _FormError(t("qa.required", f=t("lab.step")))
            at = _time_field(form, "at", t("lab.at"), LAB_ZONE, t)
            place = _field(form, "place", t("lab.place"), t, limit=400)
            condition = _field(form, "condition", t("lab.condition"), t, limit=2000)
            seal = _field(form, "seal_no", t("lab.seal"), t, limit=64, required=False)
            return lab().custody(
                sample["sample_no"], kind, at=at, place=place, condition=condition, seal_no=seal,
                username=who.username, signed=_signed(form, t),
            )  # fmt: skip

        return signed_step(request, who, csrf, sample, "custody", form, _CUSTODY_FORM, step, "custody")

    @app.post("/lab/analyses", include_in_schema=False)
    async def lab_analyse(request: Request) -> Response:
        who, csrf = need_login(request)
        form, multi = await form_of(request)
        kit.check_csrf(form, csrf)
        sample = visible_sample(who, form.get("sample_no", ""))
        lot_texts = [v for v in multi.get("lot_ids", []) if v]

        def step(t: Callable[..., str]) -> Any:
            parameter = _field(form, "parameter", t("lab.parameter"), t, limit=16)
            method = _field(form, "method", t("lab.method"), t, limit=200)
            instrument = _field(form, "instrument", t("lab.instrument"), t, limit=200)
            raw = _field(form, "raw_result", t("lab.result"), t, limit=40)
            unit = _field(form, "unit", t("lab.unit"), t, limit=32)
            at = _time_field(form, "analysed_at", t("lab.analysed_at"), LAB_ZONE, t)
            lot_ids = []
            for text in lot_texts[:20]:
                lot_id = _id_of(text)
                if lot_id is None:
                    raise _FormError(t("qa.bad_number", f=t("qa.lot")))
                lot_ids.append(lot_id)
            retest_text = form.get("retest_of", "").strip()
            retest = _id_of(retest_text) if retest_text else None
            if retest_text and retest is None:
                raise _FormError(t("qa.bad_number", f=t("lab.retest_of")))
            sha = form.get("raw_file_sha256", "").strip().lower() or None
            if sha is not None and not _SHA256.match(sha):
                raise _FormError(t("qa.bad_number", f=t("lab.raw_sha")))
            return lab().analyse(
                sample["sample_no"], parameter=parameter, method=method, instrument=instrument, raw_result=raw,
                unit=unit, analysed_at=at, lot_ids=lot_ids, retest_of=retest, raw_file_sha256=sha,
                username=who.username, signed=_signed(form, t),
            )  # fmt: skip

        return signed_step(
            request, who, csrf, sample, "analysis", form, _ANALYSIS_FORM, step, "analysed", lot_texts
        )

    def visible_analysis(who: Principal, analysis_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        rows = store.quality_rows("analyses", id=analysis_id) if 1 <= analysis_id <= MAX_INT else []
        if not rows:
            raise PageError(404, "err.404")
        samples = store.quality_rows("samples", id=rows[0]["sample_id"])
        if not samples or not reads_sample(who, samples[0]):
            raise PageError(404, "err.404")
        return rows[0], samples[0]

    @app.post("/lab/analyses/{analysis_id}/review", include_in_schema=False)
    async def lab_review(request: Request, analysis_id: int) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        _, sample = visible_analysis(who, analysis_id)

        def step(t: Callable[..., str]) -> Any:
            decision = form.get("decision", "")
            if decision not in ("approve", "reject"):
                raise _FormError(t("qa.required", f=t("lab.decision")))
            comment = _field(form, "comment", t("lab.comment"), t, limit=4000, required=False)
            return lab().review(
                analysis_id,
                decision=decision,
                comment=comment,
                username=who.username,
                signed=_signed(form, t),
            )

        return signed_step(
            request,
            who,
            csrf,
            sample,
            f"review-{analysis_id}",
            form,
            ("decision", "comment"),
            step,
            "reviewed",
        )

    @app.post("/lab/analyses/{analysis_id}/retract", include_in_schema=False)
    async def lab_retract(request: Request, analysis_id: int) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        _, sample = visible_analysis(who, analysis_id)

        def step(t: Callable[..., str]) -> Any:
            reason = _field(form, "reason", t("lab.reason"), t, limit=2000)
            return lab().retract(analysis_id, reason=reason, username=who.username, signed=_signed(form, t))

        return signed_step(
            request, who, csrf, sample, f"retract-{analysis_id}", form, ("reason",), step, "retracted"
        )

    @app.post("/lab/reports", include_in_schema=False)
    async def lab_issue(request: Request) -> Response:
        who, csrf = need_login(request)
        form, multi = await form_of(request)
        kit.check_csrf(form, csrf)
        lang = kit.lang_of(request)
        t = translator(lang)
        chosen = [v for v in multi.get("analysis_ids", []) if v][:500]
        kept = {**_kept(form, ("report_no", "title", "supersedes")), "analysis_ids": ",".join(chosen)}
        try:
            no = _field(form, "report_no", t("lab.report_no"), t, limit=64)
            title = _field(form, "title", t("lab.title_field"), t, limit=400)
            supersedes = _field(form, "supersedes", t("lab.supersedes"), t, limit=64, required=False) or None
            ids = []
            for text in chosen:
                aid = _id_of(text)
                if aid is None:
                    raise _FormError(t("qa.bad_number", f=t("lab.analyses")))
                ids.append(aid)
            if not ids:
                raise _FormError(t("lab.choose_analyses"))
            for aid in ids:  # every analysis must be one the account may read (404 otherwise, as elsewhere)
                visible_analysis(who, aid)
            signed = _signed(form, t)
        except _FormError as exc:
            return refuse_home(request, who, csrf, 400, str(exc), **kept)
        try:
            lab().issue(
                no, title=title, analysis_ids=ids, username=who.username, signed=signed, supersedes=supersedes
            )
        except RecordError as exc:
            return refuse_home(request, who, csrf, exc.status, _in_language(str(exc), lang), **kept)
        return RedirectResponse(f"/lab/reports/{quote(no, safe='')}?done=issued#done", status_code=303)

    # ------------------------------------------------------------------------------------------ a report
    @app.get("/lab/reports/{report_no:path}", include_in_schema=False)
    def lab_report(request: Request, report_no: str, done: str = "") -> Response:
        who, csrf = need_login(request)
        rows = store.quality_rows("reports", report_no=report_no) if len(report_no) <= 64 else []
        if not rows:
            raise PageError(404, "err.404")
        rep = rows[0]
        lb = lab()
        off = _lab_offset()
        st = lab_state()
        sig = signature(rep["sig_id"], lb)
        statement: dict[str, Any] = {}
        sigs = store.quality_rows("signatures", id=rep["sig_id"])
        if sigs:
            try:
                statement = json.loads(sigs[0]["note"].split("\n", 1)[0])
            except json.JSONDecodeError:
                statement = {}
        subject = statement.get("subject") or {}
        lots = {int(lot["id"]): lot for lot in store.quality_rows("reference_lots")}
        analyses, people, samples = [], [], {}
        for aid in json.loads(rep["analysis_ids"]):
            found = [a for a in st["analyses"] if int(a["id"]) == int(aid)]
            if not found:
                continue
            a = found[0]
            sample = st["by_id"][int(a["sample_id"])]
            if int(sample["id"]) not in samples:
                samples[int(sample["id"])] = {
                    **sample,
                    "readable": reads_sample(who, sample),
                    "custody": [
                        {**c, "at_local": _local(c["at"], off), "sig": signature(c["sig_id"], lb)}
                        for c in st["custody"].get(int(sample["id"]), [])
                    ],
                }
                for c in samples[int(sample["id"])]["custody"]:
                    people.append({"role": CUSTODY_STEPS[c["step"]], "what": c["step"], "sig": c["sig"]})
            reviews = [{**r, "sig": signature(r["sig_id"], lb)} for r in st["reviews"].get(int(aid), [])]
            analyses.append(
                {**analysis_line(st, a, lots), "reviews": reviews, "sig": signature(a["sig_id"], lb)}
            )
            people.append({"role": "analyst", "what": f"#{aid}", "sig": analyses[-1]["sig"]})
            people += [{"role": "reviewer", "what": f"#{aid}", "sig": r["sig"]} for r in reviews]
        people.append({"role": "signatory", "what": rep["report_no"], "sig": sig})
        pdf_ok: bool | None = None
        if rep["pdf_sha256"]:
            try:
                pdf_ok = hashlib.sha256(lb.report_pdf(rep["report_no"])).hexdigest() == rep["pdf_sha256"]
            except Exception:  # a PDF that cannot be rendered again does not match what was signed
                pdf_ok = False
        old = store.quality_rows("reports", id=rep["supersedes"]) if rep["supersedes"] is not None else []
        newer = store.quality_rows("reports", supersedes=rep["id"])
        index = subject.get("ledger_index")
        return render(
            request,
            "lab_report.html",
            rep=rep,
            issued=_us_local(rep["at_us"], off),
            sig=sig,
            analyses=analyses,
            samples=list(samples.values()),
            people=people,
            pdf_ok=pdf_ok,
            pdf_url=f"/api/v1/lab/reports/{quote(rep['report_no'], safe='')}.pdf",
            ledger_index=index if isinstance(index, int) else store.entry_index(f"reports/{rep['id']}"),
            supersedes=old[0]["report_no"] if old else None,
            superseded_by=[r["report_no"] for r in newer],
            done=_done(done),
            _user=(who, csrf, False),
        )

    # ------------------------------------------------------------------------------------------ verify
    @app.get("/verify/entry/{index}", include_in_schema=False)
    def verify_entry(request: Request, index: int) -> Response:
        if not 0 <= index <= MAX_INT:
            raise PageError(404, "err.404")
        found = store.entry(index)
        if found is None:
            raise PageError(404, "err.404")
        kind, ref, data = found
        who, csrf, _ = kit.user_of(request)
        t = translator(kit.lang_of(request))
        withheld = not entry_disclosed(store, kind, ref, data, who.account())
        try:
            obj = {} if withheld else json.loads(data.decode("utf-8"))
            if kind != "draw.revealed":  # a revealed draw's secret and seed are public by design
                obj = _redacted(obj)
            pretty = (
                t("vf.withheld")
                if withheld
                else json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True)
            )
        except (UnicodeDecodeError, json.JSONDecodeError):
            obj, pretty = {}, data.decode("utf-8", "replace")
        leaf = merkle.leaf_hash(data)
        cp = store.latest_checkpoint()
        proof: list[str] = []
        state, why = "pending", ""
        if cp is None:
            state = "no_checkpoint"
        elif index < int(cp["size"]):
            size, root = int(cp["size"]), bytes(cp["root"])
            path = store.inclusion_proof(index, size)
            proof = [h.hex() for h in path]
            note_ok, why = _checkpoint_ok(cp["note"], size, root, kit.log_verifier)
            included = merkle.verify_inclusion(leaf, index, size, path, root)
            state = "verified" if included and note_ok else "failed"
            if not included:
                why = "inclusion"
        signer = None
        if isinstance(obj, dict) and isinstance(obj.get("sig_id"), int):
            signer = signature(int(obj["sig_id"]))
        report_no = obj.get("report_no") if kind == "lab.report" and isinstance(obj, dict) else None
        role = str(signer["role"]) if signer else ""
        role_key = next((k for k in ("lab.fn." + role, "role." + role) if k in MESSAGES), None)
        return render(
            request,
            "verify_entry.html",
            index=index,
            kind=kind,
            ref=ref,
            pretty=pretty,
            leaf=leaf.hex(),
            cp=cp,
            cp_root=bytes(cp["root"]).hex() if cp else "",
            cp_at=_us_local(cp["created_us"], 8 * 3600) if cp else "",
            proof=proof,
            state=state,
            why=why,
            signer=signer,
            signer_role=t(role_key) if role_key else role,
            report_no=report_no if isinstance(report_no, str) else None,
            pdf_url=f"/api/v1/lab/reports/{quote(report_no, safe='')}.pdf"
            if isinstance(report_no, str)
            else "",
            _user=(who, csrf, False),
        )

    # ------------------------------------------------------------------------------------------ marks
    def marks_view(
        who: Principal, lang: str, mn: str = "", *, error: str = "", fv: dict[str, str] | None = None
    ) -> dict[str, Any]:
        t = translator(lang)
        points = points_by_mn()
        scopes = store.point_scopes()
        mine = sorted(m for m, sc in scopes.items() if who.sees_point(*sc) and m in points)
        shown = [m for m in mine if not mn or m == mn]
        lb = lab()
        items = []
        for m in mark_rows(store, shown) if shown else []:
            p = points[m["mn"]]
            off = _offset_s(p)
            items.append(
                {
                    **m,
                    "p": p,
                    "start_local": _local(m["start"], off),
                    "end_local": _local(m["end"], off),
                    "made": _us_local(m["at_us"], off, "%Y-%m-%d %H:%M"),
                    "lag": _duration(m["lag_s"], t),
                    "sig": signature(m["sig_id"], lb),
                    "events": [
                        {
                            **e,
                            "at": _us_local(e["at_us"], off, "%Y-%m-%d %H:%M"),
                            "sig": signature(e["sig_id"], lb),
                        }
                        for e in m["events"]
                    ],
                    "open": m["state"] != "withdrawn",
                }
            )
        items.sort(key=lambda m: -int(m["id"]))
        makes = who.role in ENTERPRISE_ROLES
        decides = who.role in REGULATOR_ROLES
        values = dict(fv or {})
        for name in _MARK_FORM:
            values.setdefault(name, "")
        return {
            "items": items,
            "points": [points[m] for m in mine],
            "mn": mn,
            "can_make": makes and bool(mine),
            "can_withdraw": makes,
            "can_decide": decides,
            "codes": MARK_CODES,
            "decisions": DECISIONS,
            "fv": values,
            "form_error": error,
        }

    @app.get("/marks", include_in_schema=False)
    def marks_page(request: Request, mn: str = "", done: str = "") -> Response:
        who, csrf = need_login(request)
        view = marks_view(who, kit.lang_of(request), mn[:64])
        return render(request, "marks.html", **view, done=_done(done), _user=(who, csrf, False))

    def marks_refused(
        request: Request, who: Principal, csrf: str, status: int, message: str, fv: dict[str, str]
    ) -> Response:
        view = marks_view(who, kit.lang_of(request), error=message, fv=fv)
        return render(request, "marks.html", status, **view, done="", _user=(who, csrf, False))

    def visible_mark(who: Principal, mark_id: int) -> dict[str, Any]:
        rows = store.quality_rows("data_marks", id=mark_id) if 1 <= mark_id <= MAX_INT else []
        if not rows or not sees(who, rows[0]["mn"]):
            raise PageError(404, "err.404")
        return rows[0]

    @app.post("/marks", include_in_schema=False)
    async def mark_make(request: Request) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        mn = form.get("mn", "")
        point = points_by_mn().get(mn)
        if point is None or not sees(who, mn):  # the API's rule: a point outside the scope does not exist
            raise PageError(404, "err.404")
        lang = kit.lang_of(request)
        t = translator(lang)
        kept = _kept(form, _MARK_FORM)
        try:
            code = form.get("code", "")
            if code not in MARK_CODES:
                raise _FormError(t("qa.required", f=t("mark.code")))
            start = _time_field(form, "start", t("mark.start"), point.timezone, t)
            end = _time_field(form, "end", t("mark.end"), point.timezone, t)
            reason = _field(form, "reason", t("mark.reason"), t, limit=2000)
            codes = [c for c in re.split(r"[\s,，;；]+", form.get("pollutants", "")) if c]
            if len(codes) > 64 or not all(_CODE.match(c) for c in codes):
                raise _FormError(t("qa.bad_number", f=t("mark.pollutants")))
            signed = _signed(form, t)
        except _FormError as exc:
            return marks_refused(request, who, csrf, 400, str(exc), kept)
        try:
            marks().make(
                mn, code=code, start=start, end=end, reason=reason, username=who.username, signed=signed,
                pollutants=codes or None,
            )  # fmt: skip
        except RecordError as exc:
            return marks_refused(request, who, csrf, exc.status, _in_language(str(exc), lang), kept)
        return RedirectResponse("/marks?done=marked#done", status_code=303)

    async def mark_event(request: Request, mark_id: int, action: str) -> Response:
        who, csrf = need_login(request)
        form, _ = await form_of(request)
        kit.check_csrf(form, csrf)
        visible_mark(who, mark_id)
        lang = kit.lang_of(request)
        t = translator(lang)
        try:
            reason = _field(form, "reason", t("mark.reason"), t, limit=2000)
            decision = form.get("decision", "")
            if action == "decision" and decision not in DECISIONS:
                raise _FormError(t("qa.required", f=t("mark.decision")))
            signed = _signed(form, t)
        except _FormError as exc:
            return marks_refused(request, who, csrf, 400, str(exc), {})
        try:
            if action == "decision":
                marks().decide(
                    mark_id, decision=decision, reason=reason, username=who.username, signed=signed
                )
            else:
                marks().withdraw(mark_id, reason=reason, username=who.username, signed=signed)
        except RecordError as exc:
            return marks_refused(request, who, csrf, exc.status, _in_language(str(exc), lang), {})
        done = "withdrawn" if action == "withdraw" else "decided"
        return RedirectResponse(f"/marks?done={done}#mark-{mark_id}", status_code=303)

    @app.post("/marks/{mark_id}/decision", include_in_schema=False)
    async def mark_decide(request: Request, mark_id: int) -> Response:
        return await mark_event(request, mark_id, "decision")

    @app.post("/marks/{mark_id}/withdraw", include_in_schema=False)
    async def mark_withdraw(request: Request, mark_id: int) -> Response:
        return await mark_event(request, mark_id, "withdraw")

    # ------------------------------------------------------------------------------------------ trace
    def traced_point(who: Principal, mn: str) -> Point:
        p = points_by_mn().get(mn)
        if p is None or not sees(who, mn):
            raise PageError(404, "err.404")
        return p

    @app.get("/trace", include_in_schema=False)
    def trace_form(
        request: Request, mn: str = "", pollutant: str = "", hour: str = "", what: str = "hour"
    ) -> Response:
        """The point page's small form: the time it names as the address of the trace of that minute reading,
        clock hour (rounded down) or local day."""
        who, _ = need_login(request)
        p = traced_point(who, mn[:64])
        start = parse_iso_time(hour[:40], p.timezone) if hour else None
        if start is None or not _CODE.match(pollutant) or what not in ("minute", "hour", "day"):
            raise PageError(400, "err.400", translator(kit.lang_of(request))("tr.bad_hour"))
        local = datetime.fromtimestamp(start, p.zone).replace(second=0, microsecond=0)
        base = f"{quote(mn, safe='')}/{quote(pollutant, safe='')}"
        if what == "day":
            target = f"/trace/day/{base}/{local.strftime('%Y-%m-%d')}"
        elif what == "minute":
            target = f"/trace/reading/{base}/{local.strftime('%Y-%m-%dT%H:%M')}"
        else:
            target = f"/trace/hour/{base}/{local.replace(minute=0).strftime('%Y-%m-%dT%H:%M')}"
        return RedirectResponse(target, status_code=303)

    def trace_view(
        request: Request, who: Principal, csrf: str, p: Point, trace: dict[str, Any], span: str, api: str
    ) -> Response:
        lang = kit.lang_of(request)
        t = translator(lang)
        off = _offset_s(p)
        kind = str(trace["subject"]["kind"])
        groups: dict[str, list[dict[str, Any]]] = {}
        for node in trace["nodes"]:
            if node["type"] == kind:
                continue  # the subject itself
            groups.setdefault(node["type"], []).append(node)
        order = [k for k in TRACE_TYPES if k in groups] + sorted(k for k in groups if k not in TRACE_TYPES)
        pollutant = str(trace["subject"]["pollutant"])
        base = f"/trace/hour/{quote(p.mn, safe='')}/{quote(pollutant, safe='')}/"

        def link(n: dict[str, Any]) -> str:  # an hour of a day's trace opens its own trace
            if n["type"] == "hour" and "start" in n["data"]:
                return base + _local(int(n["data"]["start"]), off, "%Y-%m-%dT%H:%M")
            return ""

        counted = (
            t("tr.valid_minutes", n=trace["verdict"]["valid_minutes"])
            if "valid_minutes" in trace["verdict"]
            else t("tr.valid_hours", n=trace["verdict"]["valid_hours"])
            if "valid_hours" in trace["verdict"]
            else ""
        )
        return render(
            request,
            "trace.html",
            p=p,
            pollutant=pollutant,
            kind=kind,
            reading_kind=trace["subject"].get("reading_kind", ""),
            span=span,
            counted=counted,
            api=api,
            trace=trace,
            verdict=trace["verdict"],
            value=trace["subject"]["value"],
            reasons=[_reason_text(r, t, off) for r in trace["verdict"]["reasons"]],
            groups=[
                {
                    "type": k,
                    "label": t("tr.type." + k) if "tr.type." + k in MESSAGES else k,
                    "nodes": [
                        {
                            **n,
                            "link": link(n),
                            "summary_text": n["summary"].get(lang) or n["summary"].get("zh", ""),
                            "people_shown": [
                                {
                                    **person,
                                    "role_text": _role_text(str(person.get("role", "")), t),
                                    "signed_local": _iso_local(str(person["signed_at"]), off)
                                    if person.get("signed_at")
                                    else "",
                                }
                                for person in n["people"]
                            ],
                        }
                        for n in groups[k]
                    ],
                }
                for k in order
            ],
            edges=trace["edges"],
            checkpoint=trace["checkpoint"],
            _user=(who, csrf, False),
        )

    def traced(request: Request, mn: str, pollutant: str, when: str) -> tuple[Principal, str, Point, int]:
        who, csrf = need_login(request)
        p = traced_point(who, mn[:64])
        start = parse_iso_time(when[:40], p.timezone) if len(when) <= 40 else None
        if start is None or len(pollutant) > 16:
            raise PageError(400, "err.400", translator(kit.lang_of(request))("tr.bad_hour"))
        return who, csrf, p, start

    @app.get("/trace/hour/{mn}/{pollutant}/{hour}", include_in_schema=False)
    def trace_page(request: Request, mn: str, pollutant: str, hour: str) -> Response:
        who, csrf, p, start = traced(request, mn, pollutant, hour)
        local = datetime.fromtimestamp(start, p.zone)
        if local.minute or local.second:
            raise PageError(400, "err.400", translator(kit.lang_of(request))("tr.bad_hour"))
        trace = trace_hour(store, mn, pollutant, start, origin=load_settings().origin)
        span = f"{local.strftime('%Y-%m-%d %H:%M')}–{_local(start + 3600, _offset_s(p), '%H:%M')}"
        api = f"/api/v1/trace/hour/{quote(mn, safe='')}/{quote(pollutant, safe='')}/{local.strftime('%Y-%m-%dT%H:%M')}"
        return trace_view(request, who, csrf, p, trace, span, api)

    @app.get("/trace/day/{mn}/{pollutant}/{day}", include_in_schema=False)
    def trace_day_page(request: Request, mn: str, pollutant: str, day: str) -> Response:
        who, csrf, p, start = traced(request, mn, pollutant, day)
        local = datetime.fromtimestamp(start, p.zone)
        if local.hour or local.minute or local.second:
            raise PageError(400, "err.400", translator(kit.lang_of(request))("tr.bad_hour"))
        trace = trace_day(store, mn, pollutant, start, origin=load_settings().origin)
        api = (
            f"/api/v1/trace/day/{quote(mn, safe='')}/{quote(pollutant, safe='')}/{local.strftime('%Y-%m-%d')}"
        )
        return trace_view(request, who, csrf, p, trace, local.strftime("%Y-%m-%d"), api)

    @app.get("/trace/reading/{mn}/{pollutant}/{time}", include_in_schema=False)
    def trace_reading_page(
        request: Request, mn: str, pollutant: str, time: str, kind: str = "minute"
    ) -> Response:
        who, csrf, p, at = traced(request, mn, pollutant, time)
        if kind not in ("rtd", "minute", "hour", "day"):
            raise PageError(400, "err.400", translator(kit.lang_of(request))("tr.bad_hour"))
        try:
            trace = trace_reading(store, mn, pollutant, at, kind=kind, origin=load_settings().origin)
        except RecordError as exc:
            if exc.code == "no_reading":
                raise PageError(404, "err.404", translator(kit.lang_of(request))("tr.no_reading")) from None
            raise
        local = datetime.fromtimestamp(at, p.zone).strftime("%Y-%m-%dT%H:%M:%S")
        api = f"/api/v1/trace/reading/{quote(mn, safe='')}/{quote(pollutant, safe='')}/{local}?kind={kind}"
        return trace_view(request, who, csrf, p, trace, local.replace("T", " "), api)


# ------------------------------------------------------------------------------------------------ helpers
_CUSTODY_FORM = ("step", "at", "place", "condition", "seal_no")
_ANALYSIS_FORM = (
    "parameter",
    "method",
    "instrument",
    "raw_result",
    "unit",
    "analysed_at",
    "retest_of",
    "raw_file_sha256",
)
_MARK_FORM = ("mn", "code", "start", "end", "pollutants", "reason")
DONE_KEYS = frozenset(
    {
        "planned",
        "custody",
        "analysed",
        "reviewed",
        "retracted",
        "issued",
        "key_created",
        "key_revoked",
        "marked",
        "withdrawn",
        "decided",
    }
)


def _checkpoint_ok(note: str, size: int, root: bytes, verifier: Verifier | None) -> tuple[bool, str]:
    """Whether the stored checkpoint note is signed by this log and states the stored size and root."""
    if verifier is None:
        return False, "no_log_key"
    try:
        cp = open_checkpoint(note, verifier, origin=verifier.name)
    except NoteError:
        return False, "signature"
    if cp.size != size or cp.root_hash != root:
        return False, "mismatch"
    return True, ""


def _step_text(act: str, row: dict[str, Any], t: Callable[..., str], off: int) -> dict[str, str]:
    """A chain step in words: its kind and what it records."""
    if not row:
        return {"kind": act, "detail": ""}
    if act == "lab.custody":
        seal = f" · {t('lab.seal')} {row['seal_no']}" if row.get("seal_no") else ""
        return {
            "kind": t("lab.step." + row["step"]),
            "detail": f"{_local(row['at'], off)} · {row['place']} · {row['condition']}{seal}",
        }
    if act == "lab.analysis":
        retest = f" · {t('lab.retest_of')} #{row['retest_of']}" if row.get("retest_of") else ""
        return {
            "kind": t("lab.act.analysis") + f" #{row['id']}",
            "detail": f"{row['parameter']} = {row['raw_result']} {row['unit']} · {row['method']} · "
            f"{row['instrument']}{retest}",
        }
    if act == "lab.review":
        comment = f" · {row['comment']}" if row.get("comment") else ""
        return {
            "kind": t("lab.act.review") + f" #{row['analysis_id']}",
            "detail": t("lab.decision." + row["decision"]) + comment,
        }
    if act == "lab.retraction":
        return {"kind": t("lab.act.retraction") + f" #{row['analysis_id']}", "detail": row["reason"]}
    if act == "lab.report":
        return {"kind": t("lab.act.report"), "detail": f"{row['report_no']} · {row['title']}"}
    return {"kind": act, "detail": ""}


def _role_text(role: str, t: Callable[..., str]) -> str:
    for key in ("tr.role." + role, "lab.fn." + role, "lab.step." + role, "role." + role):
        if key in MESSAGES:
            return t(key)
    return role


def _reason_text(r: dict[str, Any], t: Callable[..., str], off: int) -> dict[str, Any]:
    cause = str(r.get("cause", ""))
    key = "tr.cause." + cause
    out: dict[str, Any] = {
        "cause": cause,
        "text": t(key) if key in MESSAGES else cause,
        "detail": "",
        "records": [],
    }
    if cause == "out_of_control":
        end = _local(r["to"], off) if r.get("to") is not None else t("qa.still_open")
        kind = f"qa.kind.{r.get('kind')}"
        out["detail"] = f"{t(kind) if kind in MESSAGES else r.get('kind')} · {_local(r['from'], off)} – {end}"
        out["records"] = list(r.get("records") or [])
    elif cause == "marked":
        code, state = f"mark.code.{r.get('code')}", f"mark.state.{r.get('state')}"
        out["detail"] = (
            f"{t(code) if code in MESSAGES else r.get('code')} · {t(state) if state in MESSAGES else r.get('state')}"
        )
        out["records"] = [r["record"]] if r.get("record") else []
    elif cause == "too_few_valid_minutes":
        out["detail"] = t("tr.valid_minutes", n=r.get("valid_minutes", 0))
    return out
