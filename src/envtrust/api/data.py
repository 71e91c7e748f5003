"""Data routes of the API: who is asking, points, readings and alarms — each scoped to what the caller may see.

A caller is identified by an API token (``Authorization: Bearer et_…``, ``envtrust accounts token create``);
without one it is the public. The registry (points, enterprises, limits) is public information; readings are
public only as hourly and daily values (disclosed data); minute and real-time readings, and alarms, are for accounts
whose scope covers the point (:meth:`~envtrust.workflow.identity.Principal.sees_point`). A point or alarm outside
the caller's scope answers 404, exactly as one that does not exist, so that scopes do not leak what exists.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from ..alarms.book import AlarmBook, alarm_json
from ..errors import AlarmError, AuthError, ImportFormatError
from ..ingest.importer import OnCommit, import_file, mns_in
from ..registry import Point
from ..services import Ingest, parse_iso_time
from ..store import CacheFill, Store
from ..store.series import NONE64, Columns, decimal_scale, runs
from ..workflow.identity import PUBLIC, Accounts, Principal
from ..workflow.qa import QualityRecords
from .app import API_PREFIX, MAX_INT, ApiError, ErrorResponse, log, read_body
from .export import MAX_ROWS, csv_stream, xlsx_bytes

__all__ = ["channels_body", "install_data_routes"]

PUBLIC_KINDS = ("hour", "day")  # disclosed to everyone (clauses 七 and 十六)
ACTORS = {"admin", "regulator", "inspector"}  # may acknowledge, clear and assign alarms
COMMENTERS = ACTORS | {"enterprise", "operator"}  # may also comment (answer for their own data)


# ------------------------------------------------------------------------------------------------ models
class Me(BaseModel):
    username: str
    role: str = Field(
        description="admin, regulator, inspector, discipline, enterprise, operator, lab or public."
    )
    region: str | None = Field(description="Division-code prefix the account covers (region roles).")
    enterprise_id: int | None = Field(description="Enterprise the account belongs to (enterprise, operator).")
    display_name: str


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(Me):
    csrf_token: str = Field(description="Send as X-CSRF-Token with every change made through this session.")
    expires: str


class PointOut(BaseModel):
    mn: str
    name: str
    enterprise: str
    credit_code: str | None
    region: str
    medium: str
    reference_o2: float | None
    limits: dict[str, float]
    timezone: str
    readable: bool = Field(description="Whether the caller may read this point's non-public data.")


class ReadingOut(BaseModel):
    pollutant: str
    time: str = Field(description="Data time (period start), ISO 8601 in the point's zone.")
    avg: float | None
    min: float | None
    max: float | None
    rtd: float | None
    cou: float | None
    zs_avg: float | None = Field(description="Converted (reference-O2) average as sent by the logger.")
    zs_rtd: float | None
    flag: str | None = Field(description="HJ 212 data flag (N valid; F M S D C T B).")
    valid: bool = Field(
        description="Flag N (or none), a value, and the analyser not out of control in the reading's period: "
        "usable for averages and limits."
    )
    reasons: list[str] = Field(
        default_factory=list,
        description="Why not valid: `flag` (a flag other than N), `no_value`, `out_of_control` (a failed QA check "
        "or comparison covers the period: /api/v1/qa/blocked).",
    )


class ReadingsPage(BaseModel):
    mn: str
    kind: str
    items: list[ReadingOut]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class SeriesOut(BaseModel):
    mn: str
    kind: str
    pollutant: str
    start: int = Field(description="UTC epoch seconds of the first slot asked for.")
    end: int = Field(description="UTC epoch seconds, exclusive.")
    t: list[int] = Field(description="Data times (period starts), UTC epoch seconds.")
    avg: list[float | None] = Field(description="Average (real-time value for kind rtd).")
    min: list[float | None]
    max: list[float | None]
    zs: list[float | None] = Field(
        description="Converted (reference-O2) value as sent (ZsAvg; ZsRtd for kind rtd)."
    )
    flag: str = Field(description="One HJ 212 data flag per value ('-' where none was sent).")


class ChannelOut(BaseModel):
    pollutant: str
    n: int = Field(description="Number of readings.")
    t: list[list[int]] = Field(
        description="Data times (period starts, UTC epoch seconds) as runs `[first, step, count]`: "
        "`first + step·i` for `i < count`, the runs one after another."
    )
    avg: list[float | None] | None = Field(
        default=None,
        description="Average (real-time value for kind rtd); left out when no value is in the range.",
    )
    min: list[float | None] | None = None
    max: list[float | None] | None = None
    zs: list[float | None] | None = Field(
        default=None, description="Converted (reference-O2) value as sent (ZsAvg; ZsRtd for kind rtd)."
    )
    cou: list[float | None] | None = Field(default=None, description="Cumulative value (Cou), e.g. flow.")
    scale: dict[str, int] | None = Field(
        default=None,
        description="Columns sent as exact scaled integers: divide each number of column `c` by 10^scale[c] "
        "(this gives exactly the double of the decimal the logger sent). Columns not named here hold the values.",
    )
    flag: str = Field(description="One HJ 212 data flag per value ('-' where none was sent).")


class ChannelsOut(BaseModel):
    mn: str
    kind: str
    start: int = Field(description="UTC epoch seconds of the first slot asked for.")
    end: int = Field(description="UTC epoch seconds, exclusive.")
    channels: list[ChannelOut] = Field(description="By pollutant code.")


class ImportProblem(BaseModel):
    line: int
    code: str
    reason: str


class ImportOut(BaseModel):
    name: str
    format: str = Field(description="csv or frames")
    records: int
    stored: int
    duplicates: int
    already_stored: int
    quarantined: int
    readings_new: int
    problems: list[ImportProblem] = Field(description="Quarantined records by line (the first 1,000).")


class AlarmOut(BaseModel):
    id: int
    mn: str
    pollutant: str | None
    check: str
    category: str
    severity: str
    state: str
    acknowledged: bool
    closed: bool
    assignee: str | None
    escalation: int
    start: str
    end: str
    message: str
    evidence: dict[str, Any]
    findings: int
    opened: str
    updated: str
    point: str | None
    enterprise: str | None
    region: str | None


class AlarmEventOut(BaseModel):
    action: str
    who: str
    at: str
    detail: dict[str, Any]


class AlarmDetail(AlarmOut):
    events: list[AlarmEventOut]


class AlarmsPage(BaseModel):
    items: list[AlarmOut]
    total: int
    limit: int
    offset: int


class AckIn(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)


class ClearIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=200)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


# ------------------------------------------------------------------------------------------------ helpers
_TEXT = {
    429: "Too many failed logins: wait and try again",
    400: "Invalid request (bad parameter, body, time or cursor)",
    401: "No token, or a token that does not authenticate; or an account is needed",
    403: "Outside the account's scope or role, or a session change without its CSRF token",
    404: "Not found (or outside the caller's scope)",
    409: "The alarm's state does not allow this (e.g. acknowledged twice)",
    413: "The body is too large",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse, "description": _TEXT[code]} for code in statuses}


def _cursor(key: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _uncursor(text: str) -> tuple[str, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        code, t = raw
        if not isinstance(code, str) or not isinstance(t, int):
            raise ValueError
        return code, t
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ApiError(400, "bad_cursor", "`after` is not a cursor this API returned") from None


def _iso(t: int, point: Point) -> str:
    off = datetime(2020, 1, 1, tzinfo=point.zone).utcoffset() or timedelta(0)
    return datetime.fromtimestamp(t, timezone(off)).isoformat()


def _time(text: str | None, name: str, point: Point) -> int | None:
    if text is None:
        return None
    t = parse_iso_time(text, point.timezone)
    if t is None:
        raise ApiError(400, "bad_time", f"`{name}` is not an ISO 8601 time: {text!r}")
    return t


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file (CSV: UTF-8 with BOM; Excel: xlsx)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _export(fmt: str, name: str, header: list[str], rows: Any) -> Response:
    disposition = f"attachment; filename={name}.{fmt}"
    if fmt == "csv":
        return StreamingResponse(
            csv_stream(header, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    return Response(
        xlsx_bytes(name, header, rows), media_type=XLSX, headers={"Content-Disposition": disposition}
    )


def _who(p: Principal) -> str:
    return (
        f"{p.display_name} ({p.username})" if p.display_name and p.display_name != p.username else p.username
    )


SESSION_COOKIE = "envtrust_session"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def principal(request: Request) -> Principal:
    """The caller: the account of a valid API token, else of a live session cookie, else the public.  A bad or
    unknown token is a 401; a change made through a session needs its CSRF token in ``X-CSRF-Token`` (403)."""
    accounts: Accounts = request.app.state.accounts
    auth = request.headers.get("authorization")
    if not auth:
        secret = request.cookies.get(SESSION_COOKIE)
        if not secret:
            return PUBLIC
        found = accounts.session(secret)
        if found is None:
            raise ApiError(401, "session_expired", "the session has ended or expired: log in again")
        who, csrf = found
        if request.method in UNSAFE and not secrets.compare_digest(
            request.headers.get("x-csrf-token", ""), csrf
        ):
            raise ApiError(403, "csrf", "a change through a session needs the session's X-CSRF-Token header")
        return who
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "bad_authorization", "use `Authorization: Bearer <token>`")
    by_token = accounts.principal_for_token(token.strip())
    if by_token is None:
        raise ApiError(
            401, "invalid_token", "the token is unknown, revoked or expired, or its account disabled"
        )
    return by_token


Caller = Annotated[Principal, Depends(principal)]


def channels_body(mn: str, kind: str, start: int, end: int, found: dict[str, Columns]) -> dict[str, Any]:
    """The ``/channels`` answer for ``orjson.dumps(…, option=OPT_SERIALIZE_NUMPY)``: times as runs, each value
    column left out when empty, else as exact scaled integers (pre-encoded) where its values allow, else numbers."""
    out = []
    for code, c in found.items():
        ch: dict[str, Any] = {"pollutant": code, "n": len(c), "t": runs(c.t)}
        scale: dict[str, int] = {}
        for name, col in (("avg", c.value), ("min", c.min), ("max", c.max), ("zs", c.zs), ("cou", c.cou)):
            if not len(col) or np.isnan(col).all():
                continue  # no value in the range: left out
            exact = decimal_scale(col)
            if exact is None:
                ch[name] = col  # NaN is encoded as null
                continue
            scale[name], ints, missing = exact
            text = orjson.dumps(ints, option=_NUMPY)
            ch[name] = orjson.Fragment(text.replace(_NONE64, b"null") if missing else text)
        if scale:
            ch["scale"] = scale
        ch["flag"] = c.flag
        out.append(ch)
    return {"mn": mn, "kind": kind, "start": start, "end": end, "channels": out}


def _fill_cache(store: Store, fills: list[CacheFill]) -> None:
    """Add what a series request read to the cache; a failure here costs only speed, never the answer."""
    for fill in fills:
        try:
            store.fill_cache(fill)
        except Exception:  # a busy or read-only database: the next request reads the readings again
            log.warning("series cache not filled for %s %s", fill.mn, fill.kind, exc_info=True)


# ------------------------------------------------------------------------------------------------ routes
MAX_IMPORT = 200 * 1024 * 1024
MAX_SERIES_SPAN = 31 * 86400
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_NONE64 = str(NONE64).encode()
IMPORTERS = {"admin", "regulator", "enterprise", "operator"}


def install_data_routes(
    app: FastAPI, store: Store, accounts: Accounts | None = None, *, on_commit: OnCommit | None = None
) -> None:
    app.state.accounts = accounts or Accounts(store)
    book = AlarmBook(store)

    def registry(mn: str | None = None) -> tuple[dict[str, Point], dict[str, tuple[str, int]]]:
        """Points and their scopes: every point, or only ``mn`` (a few indexed reads)."""
        return {p.mn: p for p in store.points(mn)}, store.point_scopes(mn)

    def readable(who: Principal, mn: str, scopes: dict[str, tuple[str, int]]) -> bool:
        scope = scopes.get(mn)
        return scope is not None and who.sees_point(*scope)

    def point_out(p: Point, who: Principal, scopes: dict[str, tuple[str, int]]) -> PointOut:
        return PointOut(
            mn=p.mn,
            name=p.name,
            enterprise=p.enterprise.name,
            credit_code=p.enterprise.credit_code,
            region=p.region,
            medium=p.medium,
            reference_o2=p.reference_o2,
            limits=dict(p.limits),
            timezone=p.timezone,
            readable=readable(who, p.mn, scopes),
        )

    def visible_alarm(who: Principal, alarm_id: int) -> tuple[dict[str, Any], Point | None]:
        if who.is_public:
            raise ApiError(401, "login_required", "alarms are for accounts: send an API token")
        row = store.alarm(alarm_id)
        points, scopes = registry(row["mn"]) if row is not None and row["mn"] else ({}, {})
        if row is None or not readable(who, row["mn"], scopes):
            raise ApiError(404, "no_alarm", f"no alarm {alarm_id}")
        return row, points.get(row["mn"])

    def readable_point(who: Principal, mn: str, kind: str) -> Point:
        """The point whose ``kind`` readings the caller asks for: 404 unknown, 401/403 outside the caller's access."""
        points, scopes = registry(mn)
        p = points.get(mn)
        if p is None:
            raise ApiError(404, "no_point", f"no point {mn}")
        if kind not in PUBLIC_KINDS and not readable(who, mn, scopes):
            if who.is_public:
                raise ApiError(401, "login_required", f"{kind} readings are for accounts: send an API token")
            raise ApiError(403, "forbidden", f"{kind} readings of {mn} are outside your account's scope")
        return p

    def my_points(who: Principal, mn: str | None) -> tuple[dict[str, Point], list[str]]:
        """The registry, and the MNs whose alarms the caller may see (only ``mn`` when given)."""
        if who.is_public:
            raise ApiError(401, "login_required", "alarms are for accounts: send an API token")
        points, scopes = registry()
        return points, sorted(m for m in scopes if readable(who, m, scopes) and (mn is None or m == mn))

    errors = _errors(400, 401, 404)

    @app.get(
        f"{API_PREFIX}/me",
        tags=["accounts"],
        summary="Who the caller is",
        response_model=Me,
        responses=errors,
    )
    def me(who: Caller) -> Me:
        return Me(
            username=who.username,
            role=who.role,
            region=who.region,
            enterprise_id=who.enterprise_id,
            display_name=who.display_name or who.username,
        )

    @app.post(
        f"{API_PREFIX}/session",
        tags=["accounts"],
        summary="Log in: a session cookie (HttpOnly) and the CSRF token for changes",
        response_model=SessionOut,
        responses=_errors(400, 401, 429),
    )
    def login(request: Request, response: Response, body: LoginIn) -> SessionOut:
        peer = request.client.host if request.client else "unknown"
        try:
            ses = app.state.accounts.login(body.username, body.password, peer=peer)
        except AuthError as exc:
            status = 429 if "too many" in str(exc) else 401
            raise ApiError(status, "too_many_attempts" if status == 429 else "bad_login", str(exc)) from None
        response.set_cookie(
            SESSION_COOKIE,
            ses.secret,
            max_age=int((ses.expires_us - time.time_ns() // 1000) / 1e6),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        who = ses.principal
        return SessionOut(
            username=who.username,
            role=who.role,
            region=who.region,
            enterprise_id=who.enterprise_id,
            display_name=who.display_name or who.username,
            csrf_token=ses.csrf,
            expires=datetime.fromtimestamp(ses.expires_us / 1e6, UTC).isoformat(),
        )

    @app.delete(
        f"{API_PREFIX}/session",
        tags=["accounts"],
        summary="Log out (the session ends at once)",
        status_code=204,
        responses=_errors(401, 403),
    )
    def logout(request: Request, who: Caller) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret and not who.is_public:
            app.state.accounts.logout(secret)
        out = Response(status_code=204)
        out.delete_cookie(SESSION_COOKIE, path="/")
        return out

    @app.post(
        f"{API_PREFIX}/imports",
        tags=["points"],
        summary="Import a frames log or CSV file (the body) through the gateway's own path",
        description="The body is the file (text/csv or text/plain). Every MN it names must be in the caller's "
        "scope; records are stored and ledgered exactly as `envtrust import` stores them, checked by a running "
        "server's streaming checks, and bad records are quarantined with their line numbers. At most 200 MB.",
        response_model=ImportOut,
        responses=_errors(400, 401, 403, 413),
    )
    async def import_(
        request: Request,
        who: Caller,
        name: Annotated[
            str, Query(pattern=r"^[\w.\-]{1,100}$", description="File name (decides CSV by .csv).")
        ],
    ) -> ImportOut:
        if who.is_public:
            raise ApiError(401, "login_required", "imports are for accounts: send an API token")
        if who.role not in IMPORTERS:
            raise ApiError(403, "forbidden", f"a {who.role} account cannot import data")
        data = await read_body(request, MAX_IMPORT, "file")
        if not data.strip():
            raise ApiError(400, "empty_body", "the body must be the file to import")
        return await asyncio.to_thread(_import, who, name, data)

    def _import(who: Principal, name: str, data: bytes) -> ImportOut:
        scopes = store.point_scopes()
        with tempfile.TemporaryDirectory(prefix="envtrust-import-") as tmp:
            path = FsPath(tmp) / name
            path.write_bytes(data)
            try:
                named = mns_in(path, data)
            except ImportFormatError as exc:
                raise ApiError(400, "bad_file", str(exc).replace(str(path), name)) from None
            outside = sorted(m for m in named if m in scopes and not who.sees_point(*scopes[m]))
            if outside:
                raise ApiError(
                    403,
                    "forbidden",
                    f"the file has data of points outside your scope: {', '.join(outside[:10])}",
                )
            ingest = Ingest(store)
            try:
                report = import_file(ingest, path, peer=f"api:{who.username}:{name}", on_commit=on_commit)
            except ImportFormatError as exc:
                raise ApiError(400, "bad_file", str(exc).replace(str(path), name)) from None
        return ImportOut(
            name=name,
            format=report.format,
            records=report.records,
            stored=report.stored,
            duplicates=report.duplicates,
            already_stored=report.already_stored,
            quarantined=report.quarantined,
            readings_new=report.readings_new,
            problems=[
                ImportProblem(line=x.line, code=x.code, reason=x.reason) for x in report.problems[:1000]
            ],
        )

    @app.get(
        f"{API_PREFIX}/points",
        tags=["points"],
        summary="Registered monitoring points (public registry facts)",
        response_model=list[PointOut],
        responses=errors,
    )
    def list_points(
        who: Caller,
        region: Annotated[
            str | None, Query(pattern=r"^\d{1,6}$", description="Division-code prefix.")
        ] = None,
        medium: Annotated[Literal["gas", "water", "ambient"] | None, Query()] = None,
    ) -> list[PointOut]:
        points, scopes = registry()
        return [
            point_out(p, who, scopes)
            for p in points.values()
            if (region is None or p.region.startswith(region)) and (medium is None or p.medium == medium)
        ]

    @app.get(
        f"{API_PREFIX}/points/{{mn}}",
        tags=["points"],
        summary="One monitoring point",
        response_model=PointOut,
        responses=errors,
    )
    def get_point(who: Caller, mn: Annotated[str, Path(max_length=64)]) -> PointOut:
        points, scopes = registry(mn)
        p = points.get(mn)
        if p is None:
            raise ApiError(404, "no_point", f"no point {mn}")
        return point_out(p, who, scopes)

    @app.get(
        f"{API_PREFIX}/points/{{mn}}/readings",
        tags=["points"],
        summary="Readings of a point (pages of up to `limit`, by pollutant then time)",
        description="Hourly and daily values are public; real-time and minute values need an account whose scope "
        "covers the point. Times without an offset are the point's local time.",
        response_model=ReadingsPage,
        responses=_errors(400, 401, 403, 404),
    )
    def readings(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        kind: Annotated[Literal["rtd", "minute", "hour", "day"], Query()] = "hour",
        pollutant: Annotated[str | None, Query(max_length=16)] = None,
        start: Annotated[str | None, Query(description="From this time (ISO 8601).", max_length=40)] = None,
        end: Annotated[str | None, Query(description="Before this time (ISO 8601).", max_length=40)] = None,
        after: Annotated[
            str | None, Query(description="Cursor from the previous page.", max_length=200)
        ] = None,
        limit: Annotated[int, Query(ge=1, le=50000)] = 5000,
    ) -> ReadingsPage:
        p = readable_point(who, mn, kind)
        rows = store.readings_page(
            mn,
            kind,
            pollutant=pollutant,
            start=_time(start, "start", p),
            end=_time(end, "end", p),
            after=_uncursor(after) if after else None,
            limit=limit,
        )
        spans = QualityRecords(store).blocked([mn]).get(mn, {})
        length = {"hour": 3600, "day": 86400}.get(kind, 1)

        def reasons(r: dict[str, Any]) -> list[str]:
            out = []
            if r["flag"] not in (None, "", "N"):
                out.append("flag")
            if not any(r[k] is not None for k in ("avg", "rtd", "cou")):
                out.append("no_value")
            t = int(r["data_time"])
            for span in spans.get(r["pollutant"], ()):
                if span.start < t + length and (span.end is None or span.end > t):
                    out.append("out_of_control")
                    break
            return out

        items = [
            ReadingOut(
                pollutant=r["pollutant"],
                time=_iso(int(r["data_time"]), p),
                avg=r["avg"],
                min=r["min"],
                max=r["max"],
                rtd=r["rtd"],
                cou=r["cou"],
                zs_avg=r["zs_avg"],
                zs_rtd=r["zs_rtd"],
                flag=r["flag"],
                valid=not (why := reasons(r)),
                reasons=why,
            )
            for r in rows
        ]
        nxt = _cursor((rows[-1]["pollutant"], int(rows[-1]["data_time"]))) if len(rows) == limit else None
        return ReadingsPage(mn=mn, kind=kind, items=items, next=nxt)

    @app.get(
        f"{API_PREFIX}/points/{{mn}}/readings/export",
        tags=["points"],
        summary="Readings of a point as a CSV or Excel file (access as for readings)",
        response_class=Response,
        responses={**EXPORT_CONTENT, **_errors(400, 401, 403, 404)},
    )
    def export_readings(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
        kind: Annotated[Literal["rtd", "minute", "hour", "day"], Query()] = "hour",
        pollutant: Annotated[str | None, Query(max_length=16)] = None,
        start: Annotated[str | None, Query(max_length=40)] = None,
        end: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        p = readable_point(who, mn, kind)
        a, b = _time(start, "start", p), _time(end, "end", p)
        found = store.readings(mn=mn, kind=kind, pollutant=pollutant, start=a, end=b)
        header = ["mn", "point", "enterprise", "pollutant", "kind", "time", "avg", "min", "max", "cou"]
        header += ["zs_avg", "rtd", "flag", "valid"]

        def row(r: dict[str, Any]) -> list[Any]:
            values = [r[k] for k in ("avg", "min", "max", "cou", "zs_avg", "rtd", "flag")]
            when = _iso(int(r["data_time"]), p)
            return [
                mn,
                p.name,
                p.enterprise.name,
                r["pollutant"],
                kind,
                when,
                *values,
                r["flag"] in (None, "", "N"),
            ]

        rows = (row(r) for r in itertools.islice(found, MAX_ROWS))
        return _export(format, f"{mn}-{kind}", header, rows)

    def series_span(start: str | None, end: str | None, p: Point) -> tuple[int, int]:
        b = _time(end, "end", p)
        b = int(time.time()) if b is None else b
        a = _time(start, "start", p)
        a = b - 86400 if a is None else a
        if not 0 < b - a <= MAX_SERIES_SPAN:
            raise ApiError(400, "bad_span", "`start` must be before `end`, at most 31 days before it")
        return a, b

    def cached(body: dict[str, Any], fills: list[CacheFill]) -> Response:
        """The JSON answer; the days read from the readings table go to the series cache after it is sent."""
        task = BackgroundTask(_fill_cache, store, fills) if fills else None
        return Response(orjson.dumps(body, option=_NUMPY), media_type="application/json", background=task)

    @app.get(
        f"{API_PREFIX}/points/{{mn}}/series",
        tags=["points"],
        summary="One channel of a point as columns, for charts (fast: up to 31 days of minute data)",
        description="Access as for readings. Default: the 24 hours before `end` (default now). At most 31 days. "
        "For every channel at once, in a more compact form, see `/points/{mn}/channels`.",
        response_model=SeriesOut,
        responses=_errors(400, 401, 403, 404),
    )
    def series(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        pollutant: Annotated[str, Query(max_length=16, description="HJ 212-2017 code, e.g. a21026.")],
        kind: Annotated[Literal["rtd", "minute", "hour", "day"], Query()] = "minute",
        start: Annotated[str | None, Query(max_length=40)] = None,
        end: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        p = readable_point(who, mn, kind)
        a, b = series_span(start, end, p)
        fills: list[CacheFill] = []
        c = store.columns(mn, kind, a, b, [pollutant], defer=fills)[pollutant]
        body = {
            "mn": mn,
            "kind": kind,
            "pollutant": pollutant,
            "start": a,
            "end": b,
            "t": c.t,
            "avg": c.value,
            "min": c.min,
            "max": c.max,
            "zs": c.zs,
            "flag": c.flag,
        }
        return cached(body, fills)

    @app.get(
        f"{API_PREFIX}/points/{{mn}}/channels",
        tags=["points"],
        summary="Every channel of a point (or those asked for) as compact columns: a point-month in one request",
        description="Access as for readings. Default: the 24 hours before `end` (default now). At most 31 days. "
        "Times come as runs `[first, step, count]` (the times `first + step·i`, `i < count`; one run per gap in "
        "regular data); a value column that has no value in the range is left out; a column named in `scale` "
        "holds integers k for the values k / 10^scale (exact).",
        response_model=ChannelsOut,
        responses=_errors(400, 401, 403, 404),
    )
    def channels(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        kind: Annotated[Literal["rtd", "minute", "hour", "day"], Query()] = "minute",
        pollutant: Annotated[
            list[Annotated[str, Field(max_length=16)]] | None,
            Query(
                max_length=64,
                description="Only these channels (repeat the parameter, at most 64 times); default every channel "
                "the point has sent readings of this kind of.",
            ),
        ] = None,
        start: Annotated[str | None, Query(max_length=40)] = None,
        end: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        p = readable_point(who, mn, kind)
        a, b = series_span(start, end, p)
        fills: list[CacheFill] = []
        found = store.columns(mn, kind, a, b, pollutant, defer=fills)
        return cached(channels_body(mn, kind, a, b, found), fills)

    @app.get(
        f"{API_PREFIX}/alarms",
        tags=["alarms"],
        summary="Alarms of the points in the caller's scope, newest first",
        response_model=AlarmsPage,
        responses=errors,
    )
    def list_alarms(
        who: Caller,
        state: Annotated[Literal["active", "cleared"] | None, Query()] = None,
        category: Annotated[Literal["exceedance", "validity", "anomaly", "tampering"] | None, Query()] = None,
        check: Annotated[str | None, Query(max_length=64)] = None,
        mn: Annotated[str | None, Query(max_length=64)] = None,
        include_closed: Annotated[bool, Query(description="Closed alarms too.")] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    ) -> AlarmsPage:
        points, mine = my_points(who, mn)
        filters: dict[str, Any] = {"mn": mine, "state": state, "category": category, "check": check}
        filters["closed"] = None if include_closed else False
        rows = store.alarms(limit=limit, offset=offset, **filters) if mine else []
        total = store.alarm_count(**filters) if mine else 0
        return AlarmsPage(
            items=[AlarmOut(**alarm_json(r, points.get(r["mn"]))) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    def detail(alarm_id: int, point: Point | None) -> AlarmDetail:
        row = store.alarm(alarm_id)
        assert row is not None
        events = [
            AlarmEventOut(
                action=e["action"],
                who=e["who"],
                at=datetime.fromtimestamp(e["at_us"] / 1e6, UTC).isoformat(),
                detail=json.loads(e["detail"]),
            )
            for e in store.alarm_events(alarm_id)
        ]
        return AlarmDetail(**alarm_json(row, point), events=events)

    @app.get(
        f"{API_PREFIX}/alarms/export",
        tags=["alarms"],
        summary="Alarms in the caller's scope (with their findings' messages) as a CSV or Excel file",
        response_class=Response,
        responses={**EXPORT_CONTENT, **_errors(400, 401)},
    )
    def export_alarms(
        who: Caller,
        format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
        category: Annotated[Literal["exceedance", "validity", "anomaly", "tampering"] | None, Query()] = None,
        check: Annotated[str | None, Query(max_length=64)] = None,
        mn: Annotated[str | None, Query(max_length=64)] = None,
        include_closed: Annotated[bool, Query()] = True,
    ) -> Response:
        points, mine = my_points(who, mn)
        filters: dict[str, Any] = {"mn": mine, "category": category, "check": check}
        filters["closed"] = None if include_closed else False
        found = store.alarms(limit=MAX_ROWS, **filters) if mine else []
        header = [
            "id",
            "mn",
            "point",
            "enterprise",
            "region",
            "pollutant",
            "check",
            "category",
            "severity",
            "state",
        ]
        header += ["acknowledged", "closed", "assignee", "start", "end", "findings", "message"]
        rows = ([a[k] for k in header] for a in (alarm_json(r, points.get(r["mn"])) for r in found))
        return _export(format, "alarms", header, rows)

    @app.get(
        f"{API_PREFIX}/alarms/{{alarm_id}}",
        tags=["alarms"],
        summary="One alarm with its evidence and history",
        response_model=AlarmDetail,
        responses=errors,
    )
    def get_alarm(who: Caller, alarm_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> AlarmDetail:
        _, point = visible_alarm(who, alarm_id)
        return detail(alarm_id, point)

    def act(who: Principal, alarm_id: int, allowed: set[str], fn: Any) -> AlarmDetail:
        _, point = visible_alarm(who, alarm_id)
        if who.role not in allowed:
            raise ApiError(403, "forbidden", f"a {who.role} account cannot do this to an alarm")
        try:
            fn(_who(who))
        except AlarmError as exc:
            raise ApiError(409, "alarm_state", str(exc)) from None
        return detail(alarm_id, point)

    action_errors = _errors(400, 401, 403, 404, 409)

    @app.post(
        f"{API_PREFIX}/alarms/{{alarm_id}}/ack",
        tags=["alarms"],
        summary="Acknowledge an alarm",
        response_model=AlarmDetail,
        responses=action_errors,
    )
    def ack(who: Caller, alarm_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: AckIn) -> AlarmDetail:
        return act(who, alarm_id, ACTORS, lambda w: book.acknowledge(alarm_id, w, body.comment))

    @app.post(
        f"{API_PREFIX}/alarms/{{alarm_id}}/clear",
        tags=["alarms"],
        summary="Clear an alarm by hand, with the reason",
        response_model=AlarmDetail,
        responses=action_errors,
    )
    def clear(who: Caller, alarm_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: ClearIn) -> AlarmDetail:
        return act(who, alarm_id, ACTORS, lambda w: book.clear(alarm_id, w, body.reason))

    @app.post(
        f"{API_PREFIX}/alarms/{{alarm_id}}/assign",
        tags=["alarms"],
        summary="Assign an alarm to a person",
        response_model=AlarmDetail,
        responses=action_errors,
    )
    def assign(who: Caller, alarm_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: AssignIn) -> AlarmDetail:
        return act(who, alarm_id, ACTORS, lambda w: book.assign(alarm_id, w, body.assignee))

    @app.post(
        f"{API_PREFIX}/alarms/{{alarm_id}}/comment",
        tags=["alarms"],
        summary="Comment on an alarm (enterprises answer for their own data here)",
        response_model=AlarmDetail,
        responses=action_errors,
    )
    def comment(
        who: Caller, alarm_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: CommentIn
    ) -> AlarmDetail:
        return act(who, alarm_id, COMMENTERS, lambda w: book.comment(alarm_id, w, body.text))
