"""Data marks and the responsibility trace through the API (``/api/v1/marks…``, ``/api/v1/trace/…``), issue 6.

Marks are made and withdrawn by the point's enterprise and operator accounts and decided by regulators and
inspectors of the point's region, each act signed by the caller (``passphrase`` of a sealed key, or ``signed_note`` after
``"prepare": true``, as for the laboratory). Marks and traces are read by accounts that see the point.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from pydantic import Field

from ..quality import point_rechecker
from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import Principal
from ..workflow.marks import Marks, mark_rows
from ..workflow.trace import trace_day, trace_hour, trace_reading, trace_report
from .app import API_PREFIX, MAX_INT, ApiError, ErrorResponse
from .data import Caller
from .lab import Signing, signed_step
from .qa import visible_mns

__all__ = ["install_mark_routes"]

_TEXT = {
    400: "Invalid request",
    401: "An account is needed, or a wrong signing passphrase",
    403: "Not your point's enterprise or region; a signature that does not verify",
    404: "Not found (or outside the caller's scope)",
    409: "The mark was withdrawn",
    429: "Too many wrong signing passphrases",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _TEXT[s]} for s in statuses}


class MarkIn(Signing):
    mn: str = Field(min_length=1, max_length=64)
    code: Literal["stopped", "startup_shutdown", "maintenance", "calibration", "fault", "comm_failure"]
    start: str = Field(min_length=1, max_length=40, description="ISO 8601; no offset: the point's zone.")
    end: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=2000)
    pollutants: list[Annotated[str, Field(min_length=1, max_length=16)]] | None = Field(None, max_length=64)


class DecisionIn(Signing):
    decision: Literal["uphold", "reject"]
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawIn(Signing):
    reason: str = Field(min_length=1, max_length=2000)


def install_mark_routes(app: FastAPI, store: Store) -> None:
    def marks() -> Marks:
        return Marks(store, origin=load_settings().origin, recheck=point_rechecker(store))

    def seen(who: Principal, mn: str) -> Any:
        if who.is_public:
            raise ApiError(401, "login_required", "marks and traces are for accounts: send an API token")
        point = next((p for p in store.points() if p.mn == mn), None)
        scope = store.point_scopes().get(mn)
        if point is None or scope is None or not who.sees_point(*scope):
            raise ApiError(404, "no_point", f"no point {mn}")
        return point

    def mark_of(who: Principal, mark_id: int) -> dict[str, Any]:
        rows = store.quality_rows("data_marks", id=mark_id)
        scope = store.point_scopes().get(rows[0]["mn"]) if rows else None
        if who.is_public:
            raise ApiError(401, "login_required", "marks are for accounts: send an API token")
        if not rows or scope is None or not who.sees_point(*scope):
            raise ApiError(404, "no_mark", f"no mark {mark_id}")
        return rows[0]

    def at(text: str, zone: str, name: str) -> int:
        t = parse_iso_time(text, zone)
        if t is None:
            raise ApiError(400, "bad_time", f"`{name}` is not an ISO 8601 time: {text!r}")
        return t

    @app.get(
        f"{API_PREFIX}/marks",
        tags=["marks"],
        summary="Data marks of the points the caller sees, with their events and state",
        responses=_errors(400, 401),
    )
    def list_marks(
        who: Caller, mn: Annotated[str | None, Query(max_length=64, description="Only this point.")] = None
    ) -> list[dict[str, Any]]:
        mns = visible_mns(store, who, mn, "marks")
        return mark_rows(store, mns) if mns else []

    @app.post(
        f"{API_PREFIX}/marks",
        tags=["marks"],
        summary="Mark a span of a point's data (the point's enterprise), signed by you",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 429),
    )
    def make(who: Caller, body: MarkIn) -> Any:
        point = seen(who, body.mn)
        start, end = at(body.start, point.timezone, "start"), at(body.end, point.timezone, "end")
        return signed_step(
            lambda: marks().make(
                body.mn,
                code=body.code,
                start=start,
                end=end,
                reason=body.reason,
                username=who.username,
                signed=body.signed(),
                pollutants=body.pollutants,
            )
        )

    @app.post(
        f"{API_PREFIX}/marks/{{mark_id}}/decision",
        tags=["marks"],
        summary="Uphold or reject a mark (a regulator of the point's region), signed by you",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 429),
    )
    def decide(who: Caller, mark_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: DecisionIn) -> Any:
        mark_of(who, mark_id)
        return signed_step(
            lambda: marks().decide(
                mark_id,
                decision=body.decision,
                reason=body.reason,
                username=who.username,
                signed=body.signed(),
            )
        )

    @app.post(
        f"{API_PREFIX}/marks/{{mark_id}}/withdraw",
        tags=["marks"],
        summary="Withdraw a mark (the point's enterprise), signed by you",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 429),
    )
    def withdraw(who: Caller, mark_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: WithdrawIn) -> Any:
        mark_of(who, mark_id)
        return signed_step(
            lambda: marks().withdraw(mark_id, reason=body.reason, username=who.username, signed=body.signed())
        )

    @app.get(
        f"{API_PREFIX}/trace/report/{{report_no}}",
        tags=["marks"],
        summary="Who stands behind an issued laboratory report: analyses, reviews, samples, custody, lots and "
        "everyone who signed, each with its ledger proof (public, as the report is)",
        responses=_errors(400, 404),
    )
    def trace_of_report(report_no: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        origin = os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin
        return trace_report(store, report_no, origin=origin)

    @app.get(
        f"{API_PREFIX}/trace/hour/{{mn}}/{{pollutant}}/{{hour}}",
        tags=["marks"],
        summary="Who and what stand behind an hourly value: readings, frames, analyser, checks, comparisons, the "
        "laboratory report and its people, marks, out-of-control spans — each with its ledger proof",
        responses=_errors(400, 401, 404),
    )
    def trace(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        pollutant: Annotated[str, Path(max_length=16)],
        hour: Annotated[str, Path(max_length=40, description="The hour's start, ISO 8601 (point's zone).")],
    ) -> dict[str, Any]:
        point = seen(who, mn)
        start = at(hour, point.timezone, "hour")
        local = datetime.fromtimestamp(start, point.zone)
        if local.minute or local.second:
            raise ApiError(400, "bad_time", f"`hour` must be the start of a clock hour, not {hour!r}")
        origin = os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin
        return trace_hour(store, mn, pollutant, start, origin=origin)

    @app.get(
        f"{API_PREFIX}/trace/day/{{mn}}/{{pollutant}}/{{day}}",
        tags=["marks"],
        summary="Who and what stand behind a daily value: its hourly values, the analysers, checks, comparisons, "
        "the laboratory reports and their people, marks and out-of-control spans — each with its ledger proof",
        responses=_errors(400, 401, 404),
    )
    def trace_of_day(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        pollutant: Annotated[str, Path(max_length=16)],
        day: Annotated[str, Path(max_length=40, description="The local date, ISO 8601 (2026-06-01).")],
    ) -> dict[str, Any]:
        point = seen(who, mn)
        start = at(day, point.timezone, "day")
        local = datetime.fromtimestamp(start, point.zone)
        if local.hour or local.minute or local.second:
            raise ApiError(400, "bad_time", f"`day` must be a date or the start of a local day, not {day!r}")
        origin = os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin
        return trace_day(store, mn, pollutant, start, origin=origin)

    @app.get(
        f"{API_PREFIX}/trace/reading/{{mn}}/{{pollutant}}/{{time}}",
        tags=["marks"],
        summary="Who and what stand behind one stored reading: the frame that carried it, its flag, the analyser, "
        "checks, comparisons, marks and out-of-control spans — each with its ledger proof",
        responses=_errors(400, 401, 404),
    )
    def trace_of_reading(
        who: Caller,
        mn: Annotated[str, Path(max_length=64)],
        pollutant: Annotated[str, Path(max_length=16)],
        time: Annotated[str, Path(max_length=40, description="The reading's time, ISO 8601 (point's zone).")],
        kind: Annotated[Literal["rtd", "minute", "hour", "day"], Query()] = "minute",
    ) -> dict[str, Any]:
        point = seen(who, mn)
        t = at(time, point.timezone, "time")
        origin = os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin
        return trace_reading(store, mn, pollutant, t, kind=kind, origin=origin)
