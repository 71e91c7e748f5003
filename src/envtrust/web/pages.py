"""Server-rendered pages beside the API: login, the 24 h overview, point detail with charts, the alarm inbox,
the ledger and the public portal (the laboratory, signing-key, data-mark, trace and verify pages are in
:mod:`envtrust.web.lab_pages`, installed from here).

Pages share the API's session (the ``envtrust_session`` cookie, :class:`~envtrust.workflow.identity.Accounts`)
and its access rules: a point outside the account's scope is a 404 exactly like one that does not exist.  Every
change is a form ``POST`` that carries the session's CSRF token; the login form carries its own (double-submit
cookie), so that no other site can log a browser in or act through it.  Charts fetch the API's ``/series``
columns with the same cookie and draw them with plotly.js, served from the plotly wheel (no CDN).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..alarms.book import AlarmBook, alarm_json
from ..api.app import MAX_INT
from ..api.qa import LOT_WITHDRAWERS
from ..api.qa import RECORDERS as QA_RECORDERS
from ..errors import AlarmError, AuthError, RecordError
from ..ledger.note import Verifier
from ..qc import qa as qa_core
from ..quality import point_rechecker
from ..registry import Point
from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import PUBLIC, Accounts, Principal
from ..workflow.lab import Signed
from ..workflow.qa import CHECK_KINDS, LOT_ZONE, QualityRecords, lot_expiry
from .i18n import (
    DEFAULT,
    LANGS,
    MESSAGES,
    check_title,
    flag_text,
    pollutant_label,
    pollutant_unit,
    translator,
)

__all__ = ["OFFLINE_AFTER_S", "install_pages"]

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "envtrust_session"
LANG_COOKIE = "envtrust_lang"
LOGIN_CSRF_COOKIE = "envtrust_login_csrf"
OFFLINE_AFTER_S = 600  # no frame for 10 minutes: offline (points that send only hourly data: 2 hours)
HOURLY_OFFLINE_AFTER_S = 7200
ACTORS = {"admin", "regulator", "inspector"}
COMMENTERS = ACTORS | {"enterprise", "operator"}
PUBLIC_KINDS = ("hour", "day")
KIND_SPANS = {"rtd": 6 * 3600, "minute": 86400, "hour": 7 * 86400, "day": 31 * 86400}
MAX_FORM = 64 * 1024
CATEGORY_ORDER = {"tampering": 0, "exceedance": 1, "validity": 2, "anomaly": 3}


class PageError(Exception):
    """A page request that cannot be served: rendered as an HTML error page with ``status``."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.status, self.key, self.detail = status, key, detail


@dataclass
class VerifyJob:
    """The ledger page's full verification: one at a time, in a thread, its progress and outcome kept."""

    state: str = "idle"  # idle | running | done
    started_us: int = 0
    finished_us: int = 0
    by: str = ""
    stage: str = ""
    done_items: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, store: Store, key: Verifier | None, by: str) -> bool:
        from ..verify import verify

        with self.lock:
            if self.state == "running":
                return False
            self.state, self.by, self.stage, self.done_items = "running", by, "", 0
            self.started_us, self.report = time.time_ns() // 1000, {}

        def progress(stage: str, n: int) -> None:
            self.stage, self.done_items = stage, n

        def run() -> None:
            try:
                r = verify(store, key, progress=progress)
                report: dict[str, Any] = {
                    "ok": r.ok,
                    "entries": r.entries,
                    "checkpoints": r.checkpoints,
                    "frames": r.frames,
                    "readings": r.readings,
                    "problems": [str(p) for p in r.problems],
                }
            except Exception as exc:  # reported on the page, not swallowed: the outcome is "not verified"
                report = {"ok": False, "problems": [f"verification stopped: {exc}"]}
            with self.lock:
                self.report, self.state = report, "done"
                self.finished_us = time.time_ns() // 1000

        threading.Thread(target=run, name="envtrust-web-verify", daemon=True).start()
        return True

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "state": self.state,
                "by": self.by,
                "stage": self.stage,
                "done": self.done_items,
                "started": _local(self.started_us / 1e6, 8 * 3600, "%Y-%m-%d %H:%M:%S")
                if self.started_us
                else None,
                "finished": _local(self.finished_us / 1e6, 8 * 3600, "%Y-%m-%d %H:%M:%S")
                if self.finished_us
                else None,
                "report": self.report,
            }


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# The overview's rows hold text already escaped for HTML (``_esc``): the template prints them in an
# ``autoescape false`` block, which saves ~50,000 escaping calls for 2,000 points.  Every str field is escaped.
@dataclass(slots=True)
class OverviewValue:
    label: str
    value: str
    limit: str
    cls: str  # ok | near | over | flag
    flag: str
    title: str


@dataclass(slots=True)
class OverviewRow:
    mn: str
    name: str
    enterprise: str
    region: str
    medium: str
    state: str  # online | offline | nodata
    state_text: str
    age: str
    last_local: str
    received: str
    values: list[OverviewValue]
    exceeding: bool
    alarms: int
    unacked: int
    alarms_text: str
    worst: str
    sort_key: tuple[str, str]


OVERVIEW_PAGE_ROWS = 500  # rows of the overview on one page (``?per=`` up to 5,000)


def _value_class(v: dict[str, Any] | None, lim: float) -> tuple[str, float | None]:
    """How the overview shows a point's newest value against its limit: ``flag`` (not flagged N), ``over`` the limit,
    ``near`` it (above 80 %) or ``ok``, with the value shown (the converted one where the logger sends it)."""
    if v is None:
        return "", None
    shown = v["zs"] if v["zs"] is not None else v["value"]
    if shown is None:
        return "", None
    if (v["flag"] or "N") != "N":
        return "flag", shown
    ratio = shown / lim if lim else 0.0
    return ("over" if ratio > 1 else ("near" if ratio > 0.8 else "ok")), shown


_ZONE_OFFSETS: dict[str, int] = {}


def _zone_offset(zone: str | None) -> int:
    """UTC offset in seconds of a time zone name (Asia/Shanghai when none is given): China has no summer time."""
    name = zone or "Asia/Shanghai"
    off = _ZONE_OFFSETS.get(name)
    if off is None:
        delta = datetime(2020, 1, 1, tzinfo=ZoneInfo(name)).utcoffset() or timedelta(0)
        off = _ZONE_OFFSETS[name] = int(delta.total_seconds())
    return off


def _offset_s(point: Point | None) -> int:
    if point is None:
        return 8 * 3600
    off = datetime(2020, 1, 1, tzinfo=point.zone).utcoffset() or timedelta(0)
    return int(off.total_seconds())


def _local(t: float | None, offset_s: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if t is None:
        return ""
    return time.strftime(fmt, time.gmtime(t + offset_s))


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, no ``//``) may follow a login or a language switch."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _plotly_js() -> bytes:
    return resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()


def install_pages(
    app: FastAPI, store: Store, *, log_verifier: Verifier | None = None, witnesses: Sequence[Any] = ()
) -> None:
    """Add the pages to ``app`` (after :func:`~envtrust.api.data.install_data_routes`, whose accounts they share)."""

    def accounts() -> (
        Accounts
    ):  # read at each request: the app's accounts may be replaced (tests: a fast hasher)
        acc: Accounts = app.state.accounts
        return acc

    book = AlarmBook(store)
    job = VerifyJob()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["in_lang"] = lambda message, lang: _in_language(str(message or ""), lang)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    plotly_cache: dict[str, bytes] = {}

    # ------------------------------------------------------------------------------------------ context
    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT
        return lang if lang in LANGS else DEFAULT

    def user_of(request: Request) -> tuple[Principal, str | None, bool]:
        """(who, CSRF token of the session or None, whether a session cookie had expired)."""
        secret = request.cookies.get(SESSION_COOKIE)
        if not secret:
            return PUBLIC, None, False
        found = accounts().session(secret)
        if found is None:
            return PUBLIC, None, True
        return found[0], found[1], False

    def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = lang_of(request)
        who, csrf, _ = ctx.pop("_user", None) or user_of(request)
        t = translator(lang)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        body = env.get_template(name).render(
            t=t,
            lang=lang,
            other_lang="en" if lang == "zh" else "zh",
            who=who,
            csrf=csrf,
            here=here,
            here_q=quote(_strip_lang(here), safe=""),
            pollutant_label=lambda c: pollutant_label(c, lang),
            pollutant_unit=pollutant_unit,
            flag_text=lambda f: flag_text(f, lang),
            check_title=lambda c: check_title(c, lang),
            **ctx,
        )
        out = HTMLResponse(body, status_code=status)
        out.headers["Cache-Control"] = "no-store"
        out.headers["X-Frame-Options"] = "DENY"
        out.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
        if request.query_params.get("lang") in LANGS:
            out.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
        return out

    def need_login(request: Request) -> tuple[Principal, str]:
        who, csrf, expired = user_of(request)
        if who.is_public or csrf is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise _Redirect(f"/login?next={quote(target, safe='')}" + ("&expired=1" if expired else ""))
        return who, csrf

    async def form_of(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > MAX_FORM:
            raise PageError(413, "err.400", "form too large")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            raise PageError(400, "err.400", "unreadable form") from None
        return {k: v[-1] for k, v in parsed.items()}

    def check_csrf(form: dict[str, str], csrf: str) -> None:
        if not secrets.compare_digest(form.get("csrf", ""), csrf):
            raise PageError(403, "err.csrf")

    def scoped(mn: str | None = None) -> tuple[dict[str, Point], dict[str, tuple[str, int]]]:
        """Points and their scopes: every point, or only ``mn`` (a few indexed reads)."""
        return {p.mn: p for p in store.points(mn)}, store.point_scopes(mn)

    def visible_mns(who: Principal, scopes: dict[str, tuple[str, int]]) -> set[str]:
        return {mn for mn, sc in scopes.items() if who.sees_point(*sc)}

    # ------------------------------------------------------------------------------------------ errors
    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        detail = _in_language(exc.detail, lang_of(request))  # a "中文 | English" reason: the reader's half
        return render(request, "error.html", exc.status, key=exc.key, detail=detail, code=exc.status)

    def html_error(request: Request, status: int, message: str) -> Response:
        key = {404: "err.404", 403: "err.403", 409: "err.409"}.get(status, "err.400")
        detail = _in_language(message, lang_of(request))
        return render(request, "error.html", status, key=key, detail=detail, code=status)

    app.state.html_error = html_error

    @app.exception_handler(_Redirect)
    async def redirect(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Redirect)
        return RedirectResponse(exc.target, status_code=303)

    # ------------------------------------------------------------------------------------------ assets
    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        if not plotly_cache:
            raw = _plotly_js()
            plotly_cache["raw"], plotly_cache["gz"] = raw, gzip.compress(raw, 6)
            plotly_cache["etag"] = hashlib.sha256(raw).hexdigest()[:16].encode()
        etag = f'"{plotly_cache["etag"].decode()}"'
        headers = {"Cache-Control": "public, max-age=86400", "ETag": etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(plotly_cache["gz"], media_type="text/javascript", headers=headers)
        return Response(plotly_cache["raw"], media_type="text/javascript", headers=headers)

    @app.get("/favicon.svg", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)  # browsers ask for it whatever the page says
    def favicon() -> Response:
        icon = (resources.files("envtrust.web") / "static" / "favicon.svg").read_bytes()
        return Response(icon, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    # ------------------------------------------------------------------------------------------ login
    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/", expired: int = 0) -> Response:
        token = secrets.token_urlsafe(24)
        out = render(
            request,
            "login.html",
            next=_safe_next(next),
            login_csrf=token,
            error="login.expired" if expired else None,
            _user=(PUBLIC, None, False),
        )
        out.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login", max_age=3600
        )
        return out

    @app.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await form_of(request)
        target = _safe_next(form.get("next"))
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(form.get("csrf", ""), cookie):
            raise PageError(403, "err.csrf")
        peer = request.client.host if request.client else "unknown"
        try:
            ses = accounts().login(form.get("username", ""), form.get("password", ""), peer=peer)
        except AuthError as exc:
            error = "login.throttled" if "too many" in str(exc) else "login.failed"
            token = secrets.token_urlsafe(24)
            out = render(
                request,
                "login.html",
                401 if error == "login.failed" else 429,
                next=target,
                login_csrf=token,
                error=error,
                username=form.get("username", "")[:64],
                _user=(PUBLIC, None, False),
            )
            out.set_cookie(
                LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login", max_age=3600
            )
            return out
        done = RedirectResponse(target, status_code=303)
        done.set_cookie(
            SESSION_COOKIE,
            ses.secret,
            max_age=int((ses.expires_us - time.time_ns() // 1000) / 1e6),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return done

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await form_of(request)
        secret = request.cookies.get(SESSION_COOKIE)
        found = accounts().session(secret) if secret else None
        if found is not None:
            check_csrf(form, found[1])
            accounts().logout(secret or "")
        out = RedirectResponse("/login", status_code=303)
        out.delete_cookie(SESSION_COOKIE, path="/")
        return out

    @app.get("/lang/{code}", include_in_schema=False)
    def switch_lang(code: str, next: str = "/") -> Response:
        out = RedirectResponse(_safe_next(next), status_code=303)
        if code in LANGS:
            out.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
        return out

    # ------------------------------------------------------------------------------------------ overview
    @app.get("/", include_in_schema=False)
    def overview(
        request: Request,
        region: str = "",
        medium: str = "",
        status: str = "",
        q: str = "",
        page: int = Query(1, ge=1),
        per: int = Query(OVERVIEW_PAGE_ROWS, ge=1, le=5000),
    ) -> Response:
        who, csrf = need_login(request)
        rows, summary, regions, shown = overview_rows(
            who, lang_of(request), region=region, medium=medium, status=status, q=q, page=page, per=per
        )
        pages = max(1, -(-summary["points"] // per))
        page = min(page, pages)
        return render(
            request,
            "overview.html",
            rows=rows,
            summary=summary,
            regions=regions,
            page=page,
            pages=pages,
            per=per,
            first=shown[0],
            last=shown[1],
            f={"region": region, "medium": medium, "status": status, "q": q},
            _user=(who, csrf, False),
        )

    def overview_rows(
        who: Principal,
        lang: str,
        *,
        region: str,
        medium: str,
        status: str,
        q: str,
        page: int = 1,
        per: int = OVERVIEW_PAGE_ROWS,
    ) -> tuple[list[OverviewRow], dict[str, int], list[str], tuple[int, int]]:
        """One page of the overview's rows, ready to print, the summary of every point that matches, the regions,
        and the positions (from 1) of the first and last row shown.

        Points needing attention come first (unacknowledged alarms, alarms, exceeding, offline, no data).  Every
        matching point is judged (state, exceeding, alarms: the tiles and the order need them), but only the rows
        of the page are formatted, and every text is made here, once, so that the template only places them."""
        now = time.time()
        t = translator(lang)
        scopes = store.point_scopes()
        mine = {mn for mn in visible_mns(who, scopes) if scopes[mn][0].startswith(region)}
        data = store.overview(mine) if mine else []
        open_alarms: dict[str, list[Any]] = {}
        for a in store.alarms(mn=sorted(mine), closed=False) if mine else []:
            o = open_alarms.setdefault(a["mn"], [0, 0, None])
            o[0] += 1
            o[1] += 0 if a["acked"] else 1
            if o[2] is None or CATEGORY_ORDER.get(a["category"], 9) < CATEGORY_ORDER.get(o[2], 9):
                o[2] = a["category"]
        summary = {
            "points": 0,
            "online": 0,
            "offline": 0,
            "nodata": 0,
            "exceeding": 0,
            "alarms": 0,
            "unacked": 0,
        }
        regions = sorted({r["region"] for r in data})
        needle = q.strip().lower()
        rank = {"offline": 1, "nodata": 2, "online": 3}
        judged: list[tuple[tuple[Any, ...], dict[str, Any], str, float | None, bool]] = []
        for r in data:
            if region and not r["region"].startswith(region):
                continue
            if medium and r["medium"] != medium:
                continue
            if needle and needle not in (r["name"] + " " + r["enterprise"] + " " + r["mn"]).lower():
                continue
            hourly_only = not r["latest"] and bool(r["hourly"])
            latest = r["latest"] or r["hourly"]
            received = r["last_received_us"] / 1e6 if r["last_received_us"] else None
            # the newest data time (a back-fill of old data does not make a silent point current); the period
            # of an hourly value ends an hour after its time
            times = [
                v["time"] + (3600 if hourly_only else 0) for v in latest.values() if v["time"] is not None
            ]
            last = max(times) if times else received
            limit_s = HOURLY_OFFLINE_AFTER_S if hourly_only else OFFLINE_AFTER_S
            state = "nodata" if last is None else ("online" if now - last <= limit_s else "offline")
            exceeding = any(
                _value_class(latest.get(code), lim)[0] == "over" for code, lim in r["limits"].items()
            )
            n_alarms, n_unacked, _ = open_alarms.get(r["mn"], (0, 0, None))
            if status == "alarm" and not n_alarms:
                continue
            if status == "exceeding" and not exceeding:
                continue
            if status in ("online", "offline", "nodata") and state != status:
                continue
            summary["points"] += 1
            summary[state] += 1
            summary["exceeding"] += 1 if exceeding else 0
            summary["alarms"] += n_alarms
            summary["unacked"] += n_unacked
            order = (-n_unacked, -n_alarms, not exceeding, rank[state], r["enterprise"], r["name"], r["mn"])
            judged.append((order, r, state, last, exceeding))
        judged.sort(key=lambda j: j[0])
        pages = max(1, -(-len(judged) // per))
        start = (min(page, pages) - 1) * per
        titles: dict[tuple[str, bool, str], tuple[str, str, str]] = {}
        state_text = {k: t("ov." + k) for k in ("online", "offline", "nodata")}
        medium_text = {k: t("medium." + k) for k in ("gas", "water", "ambient", "noise")}
        unacked_word, converted_word, received_word = t("ov.unacked"), t("ov.converted"), t("ov.received")
        out: list[OverviewRow] = []
        for _, r, state, last, exceeding in judged[start : start + per]:
            off = _zone_offset(r.get("timezone"))
            received = r["last_received_us"] / 1e6 if r["last_received_us"] else None
            latest = r["latest"] or r["hourly"]
            values: list[OverviewValue] = []
            for code, lim in sorted(r["limits"].items()):
                v = latest.get(code)
                cls, shown = _value_class(v, lim)
                if v is None or shown is None:
                    continue
                flag = v["flag"] or "N"
                key = (code, v["zs"] is not None, flag)
                words = titles.get(key)
                if words is None:  # label and tooltip: a few kinds of them, made once
                    label = pollutant_label(code, lang)
                    title = label + (" · " + converted_word if v["zs"] is not None else "")
                    title += " · " + flag_text(flag, lang) if flag != "N" else ""
                    words = titles[key] = (_esc(label), _esc(flag), _esc(title))
                values.append(OverviewValue(words[0], f"{shown:.2f}", f"{lim:g}", cls, words[1], words[2]))
            n_alarms, n_unacked, worst = open_alarms.get(r["mn"], (0, 0, None))
            age = ""
            if last is not None:
                age_key, n = _age(now - last)
                age = t(age_key, n=n)
            out.append(
                OverviewRow(
                    mn=_esc(r["mn"]),
                    name=_esc(r["name"]),
                    enterprise=_esc(r["enterprise"]),
                    region=_esc(r["region"]),
                    medium=_esc(medium_text.get(r["medium"], r["medium"])),
                    state=state,
                    state_text=_esc(state_text[state]),
                    age=_esc(age),
                    last_local=_local(last, off),
                    received=_esc(f"{received_word} {_local(received, off, '%Y-%m-%d %H:%M:%S')}"),
                    values=values,
                    exceeding=exceeding,
                    alarms=n_alarms,
                    unacked=n_unacked,
                    alarms_text=_esc(
                        f"{n_alarms} ({n_unacked} {unacked_word})" if n_unacked else str(n_alarms)
                    ),
                    worst=worst or "",
                    sort_key=(r["enterprise"], r["name"]),
                )
            )
        return out, summary, regions, (start + 1 if out else 0, start + len(out))

    # ------------------------------------------------------------------------------------------ point detail
    @app.get("/points/{mn}", include_in_schema=False)
    def point_page(request: Request, mn: str, kind: str = "") -> Response:
        who, csrf, _ = user_of(request)
        points, scopes = scoped(mn)
        p = points.get(mn)
        if p is None:
            raise PageError(404, "err.404")
        readable = mn in scopes and who.sees_point(*scopes[mn])
        kinds = ["rtd", "minute", "hour", "day"] if readable else list(PUBLIC_KINDS)
        if kind not in kinds:
            kind = "minute" if readable else "hour"
        alarms = []
        if readable and not who.is_public:
            for a in store.alarms(mn=[mn], closed=None, limit=50):
                alarms.append(alarm_json(a, p))
        codes = sorted(set(p.limits) | set(_channels(store, mn, kind)))
        now = int(time.time())
        return render(
            request,
            "point.html",
            p=p,
            readable=readable,
            kinds=kinds,
            kind=kind,
            codes=codes,
            alarms=alarms,
            trace_default=_local(now - 3600, _offset_s(p), "%Y-%m-%dT%H:00"),
            chart={
                "mn": mn,
                "kind": kind,
                "codes": codes,
                "limits": dict(p.limits),
                "span": KIND_SPANS[kind],
                "end": now,
                "offset": _offset_s(p),
                "live": kind in ("rtd", "minute"),
                "alarms": [
                    {
                        "pollutant": a["pollutant"],
                        "start": a["start"],
                        "end": a["end"],
                        "category": a["category"],
                        "check": a["check"],
                    }
                    for a in alarms
                ],
                "labels": {c: f"{pollutant_label(c, lang_of(request))}" for c in codes},
                "units": {c: pollutant_unit(c) for c in codes},
            },
            _user=(who, csrf, False),
        )

    # ------------------------------------------------------------------------------------------ alarms
    @app.get("/alarms", include_in_schema=False)
    def alarm_inbox(
        request: Request,
        state: str = "",
        category: str = "",
        acked: str = "",
        closed: int = 0,
        mn: str = "",
        page: int = 1,
    ) -> Response:
        who, csrf = need_login(request)
        points, scopes = scoped()
        mine = sorted(m for m in visible_mns(who, scopes) if not mn or m == mn)
        filters: dict[str, Any] = {
            "mn": mine,
            "state": state if state in ("active", "cleared") else None,
            "category": category if category in CATEGORY_ORDER else None,
            "closed": None if closed else False,
        }
        per_page = 50
        page = max(1, min(page, 10**6))
        rows = store.alarms(limit=None, **filters) if mine else []
        if acked in ("yes", "no"):
            rows = [r for r in rows if bool(r["acked"]) == (acked == "yes")]
        total = len(rows)
        rows = rows[(page - 1) * per_page : page * per_page]
        items = [alarm_json(r, points.get(r["mn"])) for r in rows]
        return render(
            request,
            "alarms.html",
            items=items,
            total=total,
            page=page,
            pages=max(1, -(-total // per_page)),
            f={"state": state, "category": category, "acked": acked, "closed": closed, "mn": mn},
            can_act=who.role in ACTORS,
            _user=(who, csrf, False),
        )

    def visible_alarm(who: Principal, alarm_id: int) -> tuple[dict[str, Any], Point | None]:
        row = store.alarm(alarm_id)
        points, scopes = scoped(row["mn"]) if row is not None and row["mn"] else ({}, {})
        if row is None or row["mn"] not in scopes or not who.sees_point(*scopes[row["mn"]]):
            raise PageError(404, "err.404")
        return row, points.get(row["mn"])

    @app.get("/alarms/{alarm_id}", include_in_schema=False)
    def alarm_page(request: Request, alarm_id: int, done: int = 0) -> Response:
        who, csrf = need_login(request)
        row, p = visible_alarm(who, alarm_id)
        events: list[dict[str, Any]] = []
        for e in store.alarm_events(alarm_id):
            at = _local(e["at_us"] / 1e6, _offset_s(p), "%Y-%m-%d %H:%M:%S")
            last = events[-1] if events else None
            if last is not None and e["action"] == last["action"] == "update" and e["who"] == last["who"]:
                # the checks find the problem again every round: one row per run of these, with its newest detail
                last.update(times=last["times"] + 1, until=at, detail=json.loads(e["detail"]))
                continue
            events.append(
                {"action": e["action"], "who": e["who"], "at": at, "until": "", "times": 1,
                 "detail": json.loads(e["detail"])}
            )  # fmt: skip
        a = alarm_json(row, p)
        return render(
            request,
            "alarm.html",
            a=a,
            events=events,
            evidence=json.dumps(a["evidence"], ensure_ascii=False, indent=1),
            can_act=who.role in ACTORS,
            can_comment=who.role in COMMENTERS,
            done=bool(done),
            event_keys={k for k in MESSAGES if k.startswith("ev.")},
            _user=(who, csrf, False),
        )

    @app.post("/alarms/{alarm_id}/{action}", include_in_schema=False)
    async def alarm_action(request: Request, alarm_id: int, action: str) -> Response:
        who, csrf = need_login(request)
        form = await form_of(request)
        check_csrf(form, csrf)
        visible_alarm(who, alarm_id)
        if action not in ("ack", "clear", "assign", "comment"):
            raise PageError(404, "err.404")
        allowed = COMMENTERS if action == "comment" else ACTORS
        if who.role not in allowed:
            raise PageError(403, "al.not_allowed")
        name = f"{who.display_name} ({who.username})" if who.display_name else who.username
        text = form.get("text", "").strip()[:2000]
        acts: dict[str, Callable[[], object]] = {
            "ack": lambda: book.acknowledge(alarm_id, name, text or None),
            "clear": lambda: book.clear(alarm_id, name, text),
            "assign": lambda: book.assign(alarm_id, name, text),
            "comment": lambda: book.comment(alarm_id, name, text),
        }
        try:
            acts[action]()
        except (AlarmError, ValueError) as exc:
            raise PageError(409, "err.409", str(exc)) from None
        back = _safe_next(form.get("next") or f"/alarms/{alarm_id}?done=1")
        return RedirectResponse(back, status_code=303)

    # ------------------------------------------------------------------------------------------ ledger
    @app.get("/ledger", include_in_schema=False)
    def ledger_page(request: Request) -> Response:
        who, csrf, _ = user_of(request)
        latest = store.latest_checkpoint()
        cosigs = store.cosignatures(int(latest["size"])) if latest else []
        recent = store.checkpoints(newest=12)[::-1]
        return render(
            request,
            "ledger.html",
            size=store.ledger_size(),
            latest=latest,
            latest_at=_local(latest["created_us"] / 1e6, 8 * 3600, "%Y-%m-%d %H:%M:%S") if latest else "",
            note=latest["note"] if latest else "",
            cosigs=[
                {
                    "witness": c["witness"],
                    "at": _local(c["timestamp"], 8 * 3600, "%Y-%m-%d %H:%M:%S"),
                }
                for c in cosigs
            ],
            recent=[
                {
                    "size": r["size"],
                    "root": bytes(r["root"]).hex(),
                    "at": _local(r["created_us"] / 1e6, 8 * 3600, "%Y-%m-%d %H:%M:%S"),
                }
                for r in recent
            ],
            job=job.as_json(),
            _user=(who, csrf, False),
        )

    @app.post("/ledger/verify", include_in_schema=False)
    async def ledger_verify(request: Request) -> Response:
        who, csrf = need_login(request)
        form = await form_of(request)
        check_csrf(form, csrf)
        job.start(store, log_verifier, who.username)
        return RedirectResponse("/ledger#verify", status_code=303)

    @app.get("/ledger/verify.json", include_in_schema=False)
    def ledger_verify_state(request: Request) -> Response:
        state = job.as_json()
        if user_of(request)[0].is_public:  # who ran it is for accounts to see
            state.pop("by", None)
        return Response(json.dumps(state, ensure_ascii=False), media_type="application/json")

    # ------------------------------------------------------------------------------------------ quality records
    # The same rules as the API's /api/v1/qa routes (envtrust.api.qa): a point's records are read by the accounts
    # that see the point (404 otherwise, as if it did not exist); checks are recorded by the enterprise and
    # operator accounts of the point's enterprise; lots are registered by any account and withdrawn by admin,
    # regulator and lab accounts.
    def qa_records(recheck: bool = False, signing: bool = False) -> QualityRecords:
        origin = (os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin) if signing else None
        return QualityRecords(store, recheck=point_rechecker(store) if recheck else None, origin=origin)

    def visible_analyser(who: Principal, analyser_id: int) -> tuple[dict[str, Any], Point]:
        rows = store.quality_rows("analysers", id=analyser_id) if 1 <= analyser_id <= MAX_INT else []
        if not rows:
            raise PageError(404, "err.404")
        mn = rows[0]["mn"]
        points, scopes = scoped(mn)
        p = points.get(mn)
        if p is None or mn not in scopes or not who.sees_point(*scopes[mn]):
            raise PageError(404, "err.404")
        return rows[0], p

    @app.get("/qa", include_in_schema=False)
    def qa_index(request: Request, mn: str = "") -> Response:
        who, csrf = need_login(request)
        lang = lang_of(request)
        points, scopes = scoped()
        mine = sorted(visible_mns(who, scopes) & set(points))
        rec = qa_records()
        rows = rec.analysers(mine) if mine else []
        successors = _successors(rows)
        criteria = rec.criteria()
        now = int(time.time())
        groups: dict[str, dict[str, Any]] = {}
        for a in sorted(rows, key=lambda a: (a["pollutant"], a["valid_from"], a["id"])):
            if mn and a["mn"] != mn:
                continue
            p = points[a["mn"]]
            g = groups.setdefault(a["mn"], {"p": p, "analysers": []})
            g["analysers"].append(_analyser_summary(rec, criteria, a, p, successors.get(a["id"]), lang, now))
        ordered = sorted(groups.values(), key=lambda g: (g["p"].enterprise.name, g["p"].name, g["p"].mn))
        with_analysers = sorted(
            {a["mn"] for a in rows}, key=lambda m: (points[m].enterprise.name, points[m].name)
        )
        return render(
            request,
            "qa.html",
            groups=ordered,
            options=[points[m] for m in with_analysers],
            mn=mn,
            sees_points=bool(mine),
            _user=(who, csrf, False),
        )

    def analyser_view(
        who: Principal,
        a: dict[str, Any],
        p: Point,
        lang: str,
        *,
        form: dict[str, str] | None = None,
        error: str = "",
        recorded: int | None = None,
        rechecked: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Everything the analyser page shows; ``form`` and ``error`` re-fill a refused check form."""
        t = translator(lang)
        rec = qa_records()
        now = int(time.time())
        off = _offset_s(p)
        criteria = rec.criteria()
        st = rec.status(a["id"], now=now)
        profile = criteria.profile(a["profile"])
        all_lots = rec.lots()
        lot_names = {lot["id"]: f"{lot['certificate_no']} / {lot['lot_no']}" for lot in all_lots}
        checks = store.quality_rows("qa_checks", order="started", analyser_id=a["id"])
        comparisons = store.quality_rows("comparisons", order="started", analyser_id=a["id"])
        maintenance = store.quality_rows("maintenance", order="started", analyser_id=a["id"])
        successors = store.quality_rows("analysers", replaces_id=a["id"])
        summary = _analyser_summary(rec, criteria, a, p, successors[0] if successors else None, lang, now, st)
        spans = [
            {
                "kind": s["kind"],
                "start": _local(s["start"], off),
                "end": _local(s["end"], off) if s["end"] is not None else None,
                "failed": [_record_ref(r, t) for r in s["failed"]],
                "last_pass": _record_ref(s["last_pass"], t) if s["last_pass"] else None,
                "next_pass": _record_ref(s["next_pass"], t) if s["next_pass"] else None,
            }
            for s in st["out_of_control"]
        ]
        charts = []
        for kind in profile.checks():
            spec = profile.check(kind)
            assert spec is not None
            mine = [c for c in checks if c["kind"] == kind]
            cus = st["checks"].get(kind, {}).get("cusum")
            charts.append(
                {
                    "kind": kind,
                    "label": t("qa.kind." + kind),
                    "unit": _check_unit(profile, kind),
                    "technical": spec.technical,
                    "ooc": spec.out_of_control,
                    "x": [_local(c["started"], off, "%Y-%m-%d %H:%M:%S") for c in mine],
                    "y": [c["value"] for c in mine],
                    "verdict": [t("qa.verdict." + c["verdict"]) for c in mine],
                    "cls": [c["verdict"] for c in mine],
                    "range": [
                        _local(a["valid_from"], off, "%Y-%m-%d %H:%M:%S"),
                        _local(now, off, "%Y-%m-%d %H:%M:%S"),
                    ],
                    "cusum": None
                    if not cus
                    else {
                        "x": [_local(x["t"], off, "%Y-%m-%d %H:%M:%S") for x in cus["series"]],
                        "p": [x["p"] for x in cus["series"]],
                        "n": [x["n"] for x in cus["series"]],
                        "h_x": cus["h_x"],
                        "drift": bool(cus["drift_alarm"]),
                        "precision": bool(cus["precision_alarm"]),
                    },
                }
            )
        usable = [lot for lot in all_lots if _lot_state(lot, now) == "usable"]
        done = None
        if recorded is not None:
            row = next((c for c in checks if c["id"] == recorded), None)
            if row is not None:
                done = {
                    "text": t(
                        "qa.recorded",
                        kind=t("qa.kind." + row["kind"]),
                        value=f"{row['value']:g} {row['unit']}",
                    ),
                    "verdict": row["verdict"],
                    "rechecked": t("qa.rechecked", **rechecked) if rechecked else "",
                }
        values = {k: v for k, v in (form or {}).items() if k in _CHECK_FORM}
        values.setdefault("kind", profile.checks()[0] if profile.checks() else "zero")
        values.setdefault("started", _local(now, off, "%Y-%m-%dT%H:%M"))
        values.setdefault("performed_by", who.display_name or who.username)
        for name in _CHECK_FORM:
            values.setdefault(name, "")
        return {
            "a": summary,
            "p": p,
            "spans": spans,
            "charts": charts,
            "check_rows": [
                {
                    **c,
                    "started_local": _local(c["started"], off),
                    "ended_local": _local(c["ended"], off) if c["ended"] != c["started"] else "",
                    "lot": lot_names.get(c["lot_id"], "") if c["lot_id"] is not None else "",
                }
                for c in reversed(checks)
            ],
            "comparison_rows": [
                {
                    **c,
                    "started_local": _local(c["started"], off),
                    "ended_local": _local(c["ended"], off),
                    "n_pairs": len(json.loads(c["pairs"])),
                }
                for c in reversed(comparisons)
            ],
            "maintenance_rows": [
                {**m, "started_local": _local(m["started"], off), "ended_local": _local(m["ended"], off)}
                for m in reversed(maintenance)
            ],
            "can_record": who.role in QA_RECORDERS,
            "check_kinds": [k for k in profile.checks() if k in CHECK_KINDS],
            "lots": [{"id": lot["id"], "label": _lot_label(lot)} for lot in usable],
            "fv": values,
            "form_error": error,
            "done": done,
        }

    @app.get("/qa/analysers/{analyser_id}", include_in_schema=False)
    def qa_analyser(
        request: Request,
        analyser_id: int,
        recorded: int | None = None,
        findings: int | None = None,
        opened: int = 0,
        cleared: int = 0,
    ) -> Response:
        who, csrf = need_login(request)
        a, p = visible_analyser(who, analyser_id)
        rechecked = None if findings is None else {"findings": findings, "opened": opened, "cleared": cleared}
        view = analyser_view(who, a, p, lang_of(request), recorded=recorded, rechecked=rechecked)
        return render(request, "qa_analyser.html", **view, _user=(who, csrf, False))

    @app.post("/qa/analysers/{analyser_id}/checks", include_in_schema=False)
    async def qa_record_check(request: Request, analyser_id: int) -> Response:
        who, csrf = need_login(request)
        form = await form_of(request)
        check_csrf(form, csrf)
        a, p = visible_analyser(who, analyser_id)
        if who.role not in QA_RECORDERS:
            raise PageError(403, "qa.not_allowed")
        lang = lang_of(request)

        def refused(status: int, message: str) -> Response:
            view = analyser_view(who, a, p, lang, form=form, error=message)
            return render(request, "qa_analyser.html", status, **view, _user=(who, csrf, False))

        try:
            fields = _check_fields(form, p, translator(lang))
        except _FormError as exc:
            return refused(400, str(exc))
        phrase = form.get("passphrase", "")
        if len(phrase) > 1024:
            return refused(400, translator(lang)("qa.too_long", f=translator(lang)("sig.passphrase")))
        # with a passphrase the record is signed by the person recording it, with their own sealed key
        signed = Signed(passphrase=phrase) if phrase else None
        try:
            done = qa_records(recheck=True, signing=signed is not None).record_check(
                analyser_id=a["id"], who=who.username, signed=signed, **fields
            )
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        target = f"/qa/analysers/{a['id']}?recorded={done.row['id']}"
        if done.rechecked is not None:
            r = done.rechecked
            target += (
                f"&findings={r.get('findings', 0)}&opened={r.get('opened', 0)}&cleared={r.get('cleared', 0)}"
            )
        return RedirectResponse(target + "#recorded", status_code=303)

    def lots_view(who: Principal, *, form: dict[str, str] | None = None, error: str = "") -> dict[str, Any]:
        now = int(time.time())
        china = _zone_offset(LOT_ZONE)
        items = []
        for lot in sorted(qa_records().lots(), key=lambda lot: -int(lot["id"])):
            w = lot["withdrawn"]
            items.append(
                {
                    **lot,
                    "state": _lot_state(lot, now),
                    "withdrawn_at": _local(w["at_us"] / 1e6, china) if w else "",
                    "registered_at": _local(lot["at_us"] / 1e6, china),
                }
            )
        values = {k: v for k, v in (form or {}).items() if k in _LOT_FORM}
        values.setdefault("coverage_k", "2")
        for name in _LOT_FORM:
            values.setdefault(name, "")
        return {
            "lots": items,
            "can_withdraw": who.role in LOT_WITHDRAWERS,
            "fv": values,
            "form_error": error,
        }

    @app.get("/qa/lots", include_in_schema=False)
    def qa_lots(request: Request, done: str = "") -> Response:
        who, csrf = need_login(request)
        return render(
            request,
            "qa_lots.html",
            **lots_view(who),
            done=done if done in ("registered", "withdrawn") else "",
            _user=(who, csrf, False),
        )

    @app.post("/qa/lots", include_in_schema=False)
    async def qa_register_lot(request: Request) -> Response:
        who, csrf = need_login(request)
        form = await form_of(request)
        check_csrf(form, csrf)
        lang = lang_of(request)

        def refused(status: int, message: str) -> Response:
            view = lots_view(who, form=form, error=message)
            return render(request, "qa_lots.html", status, **view, done="", _user=(who, csrf, False))

        try:
            fields = _lot_fields(form, translator(lang))
        except _FormError as exc:
            return refused(400, str(exc))
        try:
            done = qa_records().register_lot(**fields, who=who.username)
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/qa/lots?done=registered#lot-{done.row['id']}", status_code=303)

    @app.post("/qa/lots/{lot_id}/withdraw", include_in_schema=False)
    async def qa_withdraw_lot(request: Request, lot_id: int) -> Response:
        who, csrf = need_login(request)
        form = await form_of(request)
        check_csrf(form, csrf)
        if who.role not in LOT_WITHDRAWERS:
            raise PageError(403, "lot.may_not_withdraw")
        lang = lang_of(request)
        if not any(lot["id"] == lot_id for lot in qa_records().lots()):
            raise PageError(404, "err.404")
        reason = form.get("reason", "").strip()

        def refused(status: int, message: str) -> Response:
            view = lots_view(who, error=message)
            return render(request, "qa_lots.html", status, **view, done="", _user=(who, csrf, False))

        t = translator(lang)
        if not reason:
            return refused(400, t("qa.required", f=t("lot.reason")))
        if len(reason) > 2000:
            return refused(400, t("qa.too_long", f=t("lot.reason")))
        try:
            qa_records().withdraw_lot(lot_id, reason=reason, who=who.username)
        except RecordError as exc:
            return refused(exc.status, _in_language(str(exc), lang))
        return RedirectResponse(f"/qa/lots?done=withdrawn#lot-{lot_id}", status_code=303)

    # ------------------------------------------------------------------------------------------ public
    @app.get("/public", include_in_schema=False)
    def public_index(request: Request) -> Response:
        points = store.points()
        by_ent: dict[int, dict[str, Any]] = {}
        scopes = store.point_scopes()
        exceed = _exceedance_hours(store, points, days=30)
        for p in points:
            eid = scopes[p.mn][1]
            e = by_ent.setdefault(
                eid,
                {
                    "id": eid,
                    "name": p.enterprise.name,
                    "code": p.enterprise.credit_code,
                    "points": 0,
                    "hours": 0,
                },
            )
            e["points"] += 1
            e["hours"] += len(exceed.get(p.mn, []))
        ents = sorted(by_ent.values(), key=lambda e: (-e["hours"], e["name"]))
        return render(request, "public.html", ents=ents)

    @app.get("/public/enterprises/{eid}", include_in_schema=False)
    def public_enterprise(request: Request, eid: int) -> Response:
        scopes = store.point_scopes()
        points = [p for p in store.points() if scopes.get(p.mn, ("", -1))[1] == eid]
        if not points:
            raise PageError(404, "err.404")
        latest = {r["mn"]: r for r in store.overview({p.mn for p in points})}
        exceed = _exceedance_hours(store, points, days=30)
        rows = []
        for p in points:
            off = _offset_s(p)
            hourly = latest.get(p.mn, {}).get("hourly", {})
            values = []
            for code in sorted(set(p.limits) | set(hourly)):
                v = hourly.get(code)
                if v is None:
                    continue
                shown = v["zs"] if v["zs"] is not None else v["value"]
                lim = p.limits.get(code)
                values.append(
                    {
                        "code": code,
                        "value": shown,
                        "limit": lim,
                        "flag": v["flag"] or "N",
                        "over": lim is not None and shown is not None and shown > lim,
                        "time": _local(v["time"], off),
                    }
                )
            rows.append(
                {
                    "p": p,
                    "values": values,
                    "exceed": [
                        {**x, "time": _local(x["t"], off)}
                        for x in sorted(exceed.get(p.mn, []), key=lambda x: -x["t"])
                    ][:200],
                    "chart": {
                        "mn": p.mn,
                        "kind": "hour",
                        "codes": sorted(p.limits),
                        "limits": dict(p.limits),
                        "span": 7 * 86400,
                        "end": int(time.time()),
                        "offset": off,
                        "live": False,
                        "alarms": [],
                        "labels": {c: pollutant_label(c, lang_of(request)) for c in p.limits},
                        "units": {c: pollutant_unit(c) for c in p.limits},
                    },
                }
            )
        # The enterprise's orders to rectify (clause 十六), newest first as on /orders, with exactly the fields
        # /orders shows to anonymous visitors.  An order belongs to the enterprise when one of its MNs is one of
        # the enterprise's points: the MNs are checked against the registered points when the order is served
        # (Credit.order), whereas its `enterprise` column is free text typed by the regulator (a name or a credit
        # code, possibly misspelt), so it is shown but never matched on; the case files match orders the same way.
        # An order naming points of several enterprises appears on each of their pages.
        from ..workflow.credit import Credit

        credit = Credit(store)
        mns = {p.mn for p in points}
        orders: list[dict[str, Any]] = []
        for o in reversed(store.quality_rows("orders")):
            if not mns & set(json.loads(o["mns"])):
                continue
            found = credit.penalty(int(o["id"]))
            recheck = found["recheck"]
            orders.append(
                {
                    "id": int(o["id"]),
                    "order_no": o["order_no"],
                    "enterprise": o["enterprise"],
                    "mns": found["order"]["mns"],
                    "violation": o["violation"],
                    "served_on": o["served_on"],
                    "recheck": (
                        {"rechecked_on": recheck["rechecked_on"], "result": recheck["result"]}
                        if recheck
                        else None
                    ),
                    "days": found["days"],
                    "days_with_alarms": found["days_with_alarms"],
                }
            )
        e = points[0].enterprise
        return render(request, "enterprise.html", e=e, rows=rows, orders=orders)

    # ------------------------------------------------------------------------------------------ laboratory & co
    from .credit_pages import install_credit_pages
    from .inspection_pages import install_inspection_pages
    from .lab_pages import PageKit, install_lab_pages
    from .ops_pages import install_ops_pages
    from .oversight_pages import install_oversight_pages

    kit = PageKit(
        render=render,
        need_login=need_login,
        user_of=user_of,
        lang_of=lang_of,
        check_csrf=check_csrf,
        log_verifier=log_verifier,
        witnesses=witnesses,
    )
    install_lab_pages(app, store, kit)
    install_oversight_pages(app, store, kit)  # the interference register (干预留痕)
    install_credit_pages(app, store, kit)  # credit, blacklist, daily penalties, county ranking, cases
    install_inspection_pages(app, store, kit)  # double-random draws (双随机) and complaints (投诉)
    install_ops_pages(app, store, kit)  # operations (运行状态): upstream forwarding, cluster leases


class _Redirect(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def _strip_lang(path: str) -> str:
    if "lang=" not in path:
        return path
    base, _, query = path.partition("?")
    kept = [kv for kv in query.split("&") if not kv.startswith("lang=")]
    return base + ("?" + "&".join(kept) if kept else "")


def _age(seconds: float) -> tuple[str, int]:
    s = max(0, int(seconds))
    if s < 120:
        return "ov.ago_s", s
    if s < 7200:
        return "ov.ago_min", s // 60
    if s < 172800:
        return "ov.ago_h", s // 3600
    return "ov.ago_d", s // 86400


def _channels(store: Store, mn: str, kind: str) -> list[str]:
    """Pollutants a point sent ``kind`` readings of (newest first page of its readings)."""
    seen: list[str] = []
    after: tuple[str, int] | None = None
    for _ in range(40):
        rows = store.readings_page(mn, kind, after=after, limit=1)
        if not rows:
            break
        code = rows[0]["pollutant"]
        seen.append(code)
        after = (code, 2**62)
    return seen


def _exceedance_hours(store: Store, points: list[Point], *, days: int) -> dict[str, list[dict[str, Any]]]:
    """Per point, the hours of the last ``days`` whose valid hourly value (converted where the logger sends one)
    is above the point's limit — computed from the disclosed hourly data."""
    end = int(time.time()) + 3600
    start = end - days * 86400 - 3600
    out: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        for code, lim in p.limits.items():
            for t, avg, _lo, _hi, zs, _rtd, flag in store.series(p.mn, "hour", code, start, end):
                v = zs if zs is not None else avg
                if v is not None and (flag or "N") == "N" and v > lim:
                    out.setdefault(p.mn, []).append({"t": t, "code": code, "value": v, "limit": lim})
    return out


# ------------------------------------------------------------------------------------------------ quality records
class _FormError(ValueError):
    """A form field the page refuses before the records see it (the message is in the reader's language)."""


_CHECK_FORM = (
    "kind",
    "started",
    "ended",
    "reading",
    "reference_value",
    "lot_id",
    "adjusted",
    "reading_after",
    "performed_by",
    "note",
)
_LOT_FORM = (
    "producer",
    "certificate_no",
    "lot_no",
    "material",
    "certified_value",
    "unit",
    "uncertainty",
    "coverage_k",
    "expires_on",
    "certificate_sha256",
)
_SPLIT = re.compile(r"\s?\|\s")


def _in_language(message: str, lang: str) -> str:
    """One language of a "中文 | English" message (messages without the bar are shown as they are)."""
    parts = _SPLIT.split(message, maxsplit=1)
    if len(parts) != 2:
        return message
    return (parts[1] if lang == "en" else parts[0]).strip()


def _successors(analysers: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per analyser id, the analyser that replaced it (the earliest, when several did)."""
    out: dict[int, dict[str, Any]] = {}
    for a in sorted(analysers, key=lambda a: (a["valid_from"], a["id"])):
        if a["replaces_id"] is not None:
            out.setdefault(int(a["replaces_id"]), a)
    return out


def _check_unit(profile: qa_core.Profile, kind: str) -> str:
    spec = profile.check(kind)
    if spec is None:
        return ""
    return {"fs": "%FS", "relative": "%"}.get(spec.metric, profile.unit)


def _analyser_summary(
    rec: QualityRecords,
    criteria: qa_core.Criteria,
    a: dict[str, Any],
    p: Point,
    successor: dict[str, Any] | None,
    lang: str,
    now: int,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An analyser with its state and, per kind of check, the last result and the due time, ready to print."""
    st = status if status is not None else rec.status(a["id"], now=now)
    off = _offset_s(p)
    profile = criteria.profile(a["profile"])
    kinds = []
    for kind, c in st["checks"].items():
        last = c["last"]
        unit = _check_unit(profile, kind) if kind != "comparison" else ""
        cus = c.get("cusum") or {}
        kinds.append(
            {
                "kind": kind,
                "value": f"{last['value']:g} {unit}".strip() if last else "",
                "verdict": last["verdict"] if last else None,
                "at": _local(last["started"], off) if last else "",
                "record": last["record"].replace("/", "-") if last else "",
                "count": c["count"],
                "due": _local(c["due"], off) if c["due"] is not None and successor is None else "",
                "overdue": bool(c["overdue"]) and successor is None,
                "drift_alarm": bool(cus.get("drift_alarm")),
                "precision_alarm": bool(cus.get("precision_alarm")),
            }
        )
    open_span = st["open"]
    return {
        **a,
        "label": pollutant_label(a["pollutant"], lang),
        "in_control": st["in_control"],
        "since": _local(open_span["start"], off) if open_span else "",
        "valid_from_local": _local(a["valid_from"], off),
        "range": f"{a['range_low']:g}–{a['range_high']:g} {a['unit']}",
        "replaced_by": successor["id"] if successor else None,
        "replaced_at": _local(successor["valid_from"], off) if successor else "",
        "kinds": kinds,
    }


def _record_ref(record: str, t: Callable[..., str]) -> dict[str, str]:
    """A record name such as ``qa_checks/12`` as words and an anchor of the records list."""
    table, _, rid = record.partition("/")
    key = "qa.ref." + table
    word = t(key) if key in MESSAGES else table
    return {"text": f"{word} #{rid}", "href": f"#{table}-{rid}"}


def _lot_state(lot: dict[str, Any], now: int) -> str:
    if lot["withdrawn"] is not None:
        return "withdrawn"
    return "expired" if now >= lot_expiry(lot["expires_on"]) else "usable"


def _lot_label(lot: dict[str, Any]) -> str:
    return (
        f"{lot['certificate_no']} / {lot['lot_no']} · {lot['material']} {lot['certified_value']} ± "
        f"{lot['uncertainty']} {lot['unit']} (≤ {lot['expires_on']})"
    )


def _field(
    form: dict[str, str], name: str, label: str, t: Callable[..., str], *, limit: int, required: bool = True
) -> str | None:
    value = form.get(name, "").strip()
    if not value:
        if required:
            raise _FormError(t("qa.required", f=label))
        return None
    if len(value) > limit:
        raise _FormError(t("qa.too_long", f=label))
    return value


def _check_fields(form: dict[str, str], p: Point, t: Callable[..., str]) -> dict[str, Any]:
    """The check form as :meth:`QualityRecords.record_check` takes it, with the API's limits (``CheckIn``)."""
    kind = form.get("kind", "")
    if kind not in CHECK_KINDS:
        raise _FormError(t("qa.required", f=t("qa.kind")))

    def when(name: str, label: str, required: bool) -> int | None:
        text = _field(form, name, label, t, limit=40, required=required)
        if text is None:
            return None
        at = parse_iso_time(text, p.timezone)
        if at is None:
            raise _FormError(t("qa.bad_time", f=label))
        return at

    started = when("started", t("qa.started"), True)
    assert started is not None
    ended = when("ended", t("qa.ended"), False)
    lot_text = _field(form, "lot_id", t("qa.lot"), t, limit=20, required=False)
    lot_id = None
    if lot_text is not None:
        if not lot_text.isdigit() or not 1 <= int(lot_text) <= MAX_INT:
            raise _FormError(t("qa.bad_number", f=t("qa.lot")))
        lot_id = int(lot_text)
    return {
        "kind": kind,
        "started": started,
        "ended": started if ended is None else ended,
        "reading": _field(form, "reading", t("qa.reading"), t, limit=40),
        "reference_value": _field(form, "reference_value", t("qa.reference"), t, limit=40, required=False),
        "lot_id": lot_id,
        "adjusted": form.get("adjusted", "") in ("1", "on", "true", "yes"),
        "reading_after": _field(form, "reading_after", t("qa.reading_after"), t, limit=40, required=False),
        # the records keep at most 64 characters of a name (the API's 200 are refused there)
        "performed_by": _field(form, "performed_by", t("qa.performed_by"), t, limit=64),
        "note": _field(form, "note", t("qa.note"), t, limit=2000, required=False) or "",
    }


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _lot_fields(form: dict[str, str], t: Callable[..., str]) -> dict[str, Any]:
    """The lot form as :meth:`QualityRecords.register_lot` takes it, with the API's limits (``LotIn``)."""
    out: dict[str, Any] = {}
    for name, key, limit in (
        ("producer", "lot.producer", 200),
        ("certificate_no", "lot.certificate", 200),
        ("lot_no", "lot.lot_no", 200),
        ("material", "lot.material", 200),
        ("certified_value", "lot.certified_value", 40),
        ("unit", "lot.unit", 32),
        ("uncertainty", "lot.uncertainty", 40),
        ("expires_on", "lot.expires", 10),
    ):
        out[name] = _field(form, name, t(key), t, limit=limit)
    if not _DATE.match(out["expires_on"]):
        raise _FormError(t("qa.bad_time", f=t("lot.expires")))
    k_text = _field(form, "coverage_k", t("lot.k"), t, limit=20, required=False) or "2"
    try:
        k = float(k_text)
    except ValueError:
        raise _FormError(t("qa.bad_number", f=t("lot.k"))) from None
    if not 0 < k <= 10:  # also refuses nan
        raise _FormError(t("qa.bad_number", f=t("lot.k")))
    out["coverage_k"] = k
    sha = (_field(form, "certificate_sha256", t("lot.sha"), t, limit=64, required=False) or "").lower()
    if sha and not _SHA256.match(sha):
        raise _FormError(t("qa.bad_number", f=t("lot.sha")))
    out["certificate_sha256"] = sha or None
    return out
