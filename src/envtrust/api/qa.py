"""Quality-record routes of the API (``/api/v1/qa/…``): analysers, reference lots, zero/span/standard checks,
comparisons, maintenance, out-of-control spans and the criteria in force (issue 6, decision 0012).

Who may do what (decision 0013): a point's records are read by every account that sees the point; analysers,
checks and maintenance are recorded by the enterprise and operator accounts of the point's enterprise (they answer
for their instruments), comparisons also by regulators and inspectors whose region covers the point (supervisory
comparisons); reference lots are registered by any account but the public, withdrawn by admins, regulators and lab
staff.  Records are never changed or deleted: there is no PUT, PATCH or DELETE.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, Field

from ..quality import point_rechecker
from ..registry import Point
from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import Principal
from ..workflow.lab import Signed
from ..workflow.qa import CHECK_KINDS, MAINTENANCE_KINDS, QualityRecords, Recorded
from .app import API_PREFIX, MAX_INT, ApiError, ErrorResponse
from .data import Caller
from .lab import Signing, signed_step

__all__ = ["install_qa_routes", "visible_mns"]

RECORDERS = {"enterprise", "operator"}  # of the point's own enterprise
SUPERVISORS = {"regulator", "inspector"}  # within their region: supervisory comparisons
LOT_WITHDRAWERS = {"admin", "regulator", "lab"}

_TEXT = {
    400: "Invalid request (bad parameter, body or time)",
    401: "An account is needed",
    403: "Outside the account's scope or role",
    404: "Not found (or outside the caller's scope)",
    409: "Conflicts with what is recorded (a lot registered twice, an analyser not after the one it replaces)",
    422: "Refused by a rule: unknown, expired or withdrawn reference lot, too few pairs, incomplete run …",
}


# a request with "prepare": true answers the statement to sign (nothing is recorded)
PREPARED: dict[int | str, dict[str, Any]] = {
    200: {"description": "`prepare`: the statement to sign with your own key and send back as `signed_note`"}
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _TEXT[s]} for s in statuses}


# ------------------------------------------------------------------------------------------------ models
Number = Annotated[
    str, Field(min_length=1, max_length=40, description="A decimal number as written, e.g. `36.40`.")
]
Time = Annotated[
    str, Field(min_length=1, max_length=40, description="ISO 8601; no offset: the point's zone.")
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class AnalyserIn(BaseModel):
    mn: str = Field(min_length=1, max_length=64)
    pollutant: str = Field(min_length=1, max_length=16, description="HJ 212 code the analyser measures.")
    serial_no: Name
    maker: Name
    model: Name
    range_low: float = Field(0.0, ge=-1e9, le=1e9)
    range_high: float = Field(ge=-1e9, le=1e9, description="Upper end of the range (full scale).")
    unit: str = Field(min_length=1, max_length=32)
    automatic: bool = Field(True, description="Calibrates itself daily (true) or is calibrated by hand.")
    valid_from: Time
    profile: str | None = Field(None, max_length=64, description="Criteria profile; default from the code.")
    s_ams: float | None = Field(None, gt=0, le=1e6, description="Repeatability for the QAL3 CUSUM.")


class LotIn(BaseModel):
    producer: Name
    certificate_no: Name
    lot_no: Name
    material: Name
    certified_value: Number
    unit: str = Field(min_length=1, max_length=32)
    uncertainty: Number
    coverage_k: float = Field(2.0, gt=0, le=10)
    expires_on: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Last day of use (YYYY-MM-DD).")
    certificate_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class WithdrawIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CheckIn(Signing):
    analyser_id: int = Field(ge=1, le=MAX_INT)
    kind: Literal["zero", "span", "standard"]
    started: Time
    ended: Time | None = Field(None, description="Default: the start.")
    reading: Number
    reference_value: Number | None = Field(
        None, description="Default: the lot's certified value; 0 for zero."
    )
    lot_id: int | None = Field(None, ge=1, le=MAX_INT, description="Needed for span and standard checks.")
    adjusted: bool = False
    reading_after: Number | None = None
    automatic: bool = False
    performed_by: str = Field(min_length=1, max_length=64)
    note: str = Field("", max_length=2000)


class PairIn(BaseModel):
    start: Time
    end: Time
    rm: Number = Field(description="The reference-method result of the run.")


class ComparisonIn(Signing):
    analyser_id: int = Field(ge=1, le=MAX_INT)
    pairs: list[PairIn] = Field(min_length=1, max_length=100)
    rm_source: Name = Field(description="The reference-method report (number, or digest of the file).")


class MaintenanceIn(Signing):
    analyser_id: int = Field(ge=1, le=MAX_INT)
    kind: Literal["maintenance", "repair", "fault", "parameter_change", "replacement", "verification"]
    started: Time
    ended: Time
    description: str = Field(min_length=1, max_length=4000)
    performed_by: str = Field(min_length=1, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict)


class RecordedOut(BaseModel):
    record: dict[str, Any] = Field(description="The row as stored (and ledgered).")
    entry: int = Field(description="Its ledger index.")
    rechecked: dict[str, int] | None = Field(
        None,
        description="When the analyser's out-of-control spans changed: what re-checking the point found.",
    )


assert set(CHECK_KINDS) == {"zero", "span", "standard"} and len(MAINTENANCE_KINDS) == 6


def visible_mns(store: Store, who: Principal, mn: str | None, what: str) -> list[str]:
    """The points whose records the caller may read (only ``mn`` when given); the public gets a 401."""
    if who.is_public:
        raise ApiError(401, "login_required", f"{what} are for accounts: send an API token")
    scopes = store.point_scopes()
    return sorted(m for m, scope in scopes.items() if who.sees_point(*scope) and (mn is None or m == mn))


def _out(r: Recorded) -> RecordedOut:
    row = dict(r.row)
    for key in ("pairs", "detail", "config"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return RecordedOut(record=row, entry=r.entry, rechecked=r.rechecked)


# ------------------------------------------------------------------------------------------------ routes
def install_qa_routes(app: FastAPI, store: Store) -> None:
    rechecker = point_rechecker(store)

    def records(recheck: bool = False) -> QualityRecords:
        origin = os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin
        return QualityRecords(store, recheck=rechecker if recheck else None, origin=origin)

    def signed(body: Signing) -> Signed | None:
        """The caller's signature of the record, when the body carries one (passphrase, note or prepare)."""
        if body.passphrase is None and body.signed_note is None and not body.prepare:
            return None
        return body.signed()

    def recorded(step: Callable[[], Recorded]) -> Any:
        return signed_step(lambda: _out(step()))

    def point_of(who: Principal, mn: str) -> Point:
        """The point, when the caller sees it (404 otherwise, as if it did not exist)."""
        if who.is_public:
            raise ApiError(401, "login_required", "quality records are for accounts: send an API token")
        point = next((p for p in store.points() if p.mn == mn), None)
        scope = store.point_scopes().get(mn)
        if point is None or scope is None or not who.sees_point(*scope):
            raise ApiError(404, "no_point", f"no point {mn}")
        return point

    def analyser_of(who: Principal, analyser_id: int) -> tuple[dict[str, Any], Point]:
        rows = store.quality_rows("analysers", id=analyser_id)
        if not rows:
            raise ApiError(404, "no_analyser", f"no analyser {analyser_id}")
        try:
            point = point_of(who, rows[0]["mn"])
        except ApiError as exc:
            if exc.status_code == 404:
                raise ApiError(404, "no_analyser", f"no analyser {analyser_id}") from None
            raise
        return rows[0], point

    def may_record(who: Principal, point: Point, *, supervisors: bool = False) -> None:
        allowed = RECORDERS | (SUPERVISORS if supervisors else set())
        if who.role not in allowed:
            raise ApiError(
                403,
                "forbidden",
                f"role {who.role} may not record this: {', '.join(sorted(allowed))} of the point may",
            )

    def at(text: str, point: Point, name: str) -> int:
        t = parse_iso_time(text, point.timezone)
        if t is None:
            raise ApiError(400, "bad_time", f"`{name}` is not an ISO 8601 time: {text!r}")
        return t

    def who_text(p: Principal) -> str:
        return p.username

    @app.get(
        f"{API_PREFIX}/qa/analysers",
        tags=["quality"],
        summary="Analysers of the points the caller sees, each with whether it is in control",
        responses=_errors(400, 401),
    )
    def list_analysers(
        who: Caller, mn: Annotated[str | None, Query(max_length=64, description="Only this point.")] = None
    ) -> list[dict[str, Any]]:
        mns = visible_mns(store, who, mn, "quality records")
        rec = records()
        return [{**a, "in_control": rec.status(a["id"])["in_control"]} for a in rec.analysers(mns)]

    @app.post(
        f"{API_PREFIX}/qa/analysers",
        tags=["quality"],
        summary="Register an analyser (it replaces the point's analyser of the same code from `valid_from` on)",
        response_model=RecordedOut,
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 422),
    )
    def add_analyser(who: Caller, body: AnalyserIn) -> RecordedOut:
        point = point_of(who, body.mn)
        may_record(who, point)
        return _out(
            records().register_analyser(
                mn=body.mn,
                pollutant=body.pollutant,
                serial_no=body.serial_no,
                maker=body.maker,
                model=body.model,
                range_low=body.range_low,
                range_high=body.range_high,
                unit=body.unit,
                automatic=body.automatic,
                valid_from=at(body.valid_from, point, "valid_from"),
                profile=body.profile,
                s_ams=body.s_ams,
                who=who_text(who),
            )
        )

    @app.get(
        f"{API_PREFIX}/qa/analysers/{{analyser_id}}",
        tags=["quality"],
        summary="An analyser's status: in control, out-of-control spans, each check's last result, due time and "
        "QAL3 CUSUM",
        responses=_errors(400, 401, 404),
    )
    def analyser_status(who: Caller, analyser_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        analyser_of(who, analyser_id)
        return records().status(analyser_id)

    @app.get(
        f"{API_PREFIX}/qa/analysers/{{analyser_id}}/records",
        tags=["quality"],
        summary="Every check, comparison and maintenance record of an analyser, oldest first",
        responses=_errors(400, 401, 404),
    )
    def analyser_records(who: Caller, analyser_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        analyser_of(who, analyser_id)
        comparisons = store.quality_rows("comparisons", order="started", analyser_id=analyser_id)
        maintenance = store.quality_rows("maintenance", order="started", analyser_id=analyser_id)
        return {
            "checks": store.quality_rows("qa_checks", order="started", analyser_id=analyser_id),
            "comparisons": [{**c, "pairs": json.loads(c["pairs"])} for c in comparisons],
            "maintenance": [{**m, "detail": json.loads(m["detail"])} for m in maintenance],
        }

    @app.post(
        f"{API_PREFIX}/qa/checks",
        tags=["quality"],
        summary="Record a zero, span or standard-sample check (judged at once; a failure invalidates data back to "
        "the last passed check of its kind)",
        response_model=RecordedOut,
        status_code=201,
        responses={**_errors(400, 401, 403, 404, 422), **PREPARED},
    )
    def add_check(who: Caller, body: CheckIn) -> Any:
        _, point = analyser_of(who, body.analyser_id)
        may_record(who, point)
        t0 = at(body.started, point, "started")
        return recorded(
            lambda: records(recheck=True).record_check(
                analyser_id=body.analyser_id,
                kind=body.kind,
                started=t0,
                ended=at(body.ended, point, "ended") if body.ended else t0,
                reading=body.reading,
                reference_value=body.reference_value,
                lot_id=body.lot_id,
                adjusted=body.adjusted,
                reading_after=body.reading_after,
                automatic=body.automatic,
                performed_by=body.performed_by,
                note=body.note,
                who=who_text(who),
                signed=signed(body),
            )
        )

    @app.post(
        f"{API_PREFIX}/qa/comparisons",
        tags=["quality"],
        summary="Record a comparison with the reference method (the analyser's side is computed from stored "
        "readings)",
        response_model=RecordedOut,
        status_code=201,
        responses={**_errors(400, 401, 403, 404, 422), **PREPARED},
    )
    def add_comparison(who: Caller, body: ComparisonIn) -> Any:
        _, point = analyser_of(who, body.analyser_id)
        may_record(who, point, supervisors=True)
        pairs = [(at(p.start, point, "start"), at(p.end, point, "end"), p.rm) for p in body.pairs]
        return recorded(
            lambda: records(recheck=True).record_comparison(
                analyser_id=body.analyser_id,
                pairs=pairs,
                rm_source=body.rm_source,
                who=who_text(who),
                signed=signed(body),
            )
        )

    @app.post(
        f"{API_PREFIX}/qa/maintenance",
        tags=["quality"],
        summary="Record maintenance, a repair, a fault, a parameter change or a metrological verification",
        response_model=RecordedOut,
        status_code=201,
        responses={**_errors(400, 401, 403, 404, 422), **PREPARED},
    )
    def add_maintenance(who: Caller, body: MaintenanceIn) -> Any:
        _, point = analyser_of(who, body.analyser_id)
        may_record(who, point)
        return recorded(
            lambda: records().record_maintenance(
                analyser_id=body.analyser_id,
                kind=body.kind,
                started=at(body.started, point, "started"),
                ended=at(body.ended, point, "ended"),
                description=body.description,
                performed_by=body.performed_by,
                detail=body.detail,
                who=who_text(who),
                signed=signed(body),
            )
        )

    @app.get(
        f"{API_PREFIX}/qa/lots",
        tags=["quality"],
        summary="Certified reference lots, with expiry and withdrawal",
        responses=_errors(401),
    )
    def list_lots(who: Caller) -> list[dict[str, Any]]:
        if who.is_public:
            raise ApiError(401, "login_required", "reference lots are for accounts: send an API token")
        return records().lots()

    @app.post(
        f"{API_PREFIX}/qa/lots",
        tags=["quality"],
        summary="Register a lot of a certified reference material",
        response_model=RecordedOut,
        status_code=201,
        responses=_errors(400, 401, 409, 422),
    )
    def add_lot(who: Caller, body: LotIn) -> RecordedOut:
        if who.is_public:
            raise ApiError(401, "login_required", "reference lots are for accounts: send an API token")
        return _out(records().register_lot(**body.model_dump(), who=who_text(who)))

    @app.post(
        f"{API_PREFIX}/qa/lots/{{lot_id}}/withdraw",
        tags=["quality"],
        summary="Withdraw a lot: no later use is accepted",
        response_model=RecordedOut,
        status_code=201,
        responses=_errors(400, 401, 403, 409, 422),
    )
    def withdraw_lot(
        who: Caller, lot_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: WithdrawIn
    ) -> RecordedOut:
        if who.is_public:
            raise ApiError(401, "login_required", "reference lots are for accounts: send an API token")
        if who.role not in LOT_WITHDRAWERS:
            raise ApiError(403, "forbidden", f"role {who.role} may not withdraw lots")
        return _out(records().withdraw_lot(lot_id, reason=body.reason, who=who_text(who)))

    @app.get(
        f"{API_PREFIX}/qa/blocked",
        tags=["quality"],
        summary="Spans in which analysers of the caller's points were out of control (their data are invalid)",
        responses=_errors(400, 401),
    )
    def blocked(
        who: Caller, mn: Annotated[str | None, Query(max_length=64, description="Only this point.")] = None
    ) -> list[dict[str, Any]]:
        mns = visible_mns(store, who, mn, "quality records")
        found = records().blocked(mns) if mns else {}
        return [
            {
                "mn": m,
                "pollutant": c,
                "start": s.start,
                "end": s.end,
                "kind": s.kind,
                "failed": list(s.failed),
                "last_pass": s.last_pass,
                "next_pass": s.next_pass,
            }
            for m, codes in sorted(found.items())
            for c, spans in sorted(codes.items())
            for s in spans
        ]

    @app.get(
        f"{API_PREFIX}/qa/criteria",
        tags=["quality"],
        summary="The acceptance criteria in force (defaults documented in decision 0012) and their digest",
    )
    def criteria() -> dict[str, Any]:
        c = records().criteria()
        return {"digest": c.digest, "config": c.config}
