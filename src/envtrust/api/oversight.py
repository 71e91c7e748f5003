"""Oversight through the API (issue 7): the interference register (``/api/v1/interference…``), double-random
draws (``/api/v1/draws…``: public to read, as their results are published — 双随机、一公开) and inspections.

Records and their events are signed by the caller, as laboratory steps are (``passphrase`` of the caller's sealed
key, or ``"prepare": true`` → sign offline → ``signed_note``).  Who reads a record is decided by
:func:`envtrust.workflow.interference.may_read`; anyone else gets 404, as if it did not exist.  Nothing is ever
changed or deleted: there are no such routes (405).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
import threading
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.cases import Cases
from ..workflow.complaints import Complaints
from ..workflow.credit import EXPORT_COLUMNS, Credit, county_ranking, export_rows
from ..workflow.identity import Principal
from ..workflow.inspection import Draws
from ..workflow.interference import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, Attachment, Interference
from .app import API_PREFIX, MAX_INT, ApiError, ErrorResponse
from .data import Caller
from .lab import Signing, signed_step

__all__ = ["install_oversight_routes"]

_TEXT = {
    400: "Invalid request",
    401: "An account is needed, or a wrong signing passphrase",
    403: "This account may not take this step",
    404: "Not found (or not the caller's to read)",
    409: "The record is concluded",
    413: "An attachment is too large",
    422: "Refused by the rules: dated in the future, a malformed draw or reveal",
    429: "Too many wrong signing passphrases",
}
_B64_MAX = (MAX_ATTACHMENT_BYTES + 2) // 3 * 4


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _TEXT[s]} for s in statuses}


class AttachmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    media_type: str = Field("application/octet-stream", max_length=100)
    content_base64: str = Field(max_length=_B64_MAX, description="The file, base64 (at most 20 MiB).")


class InterferenceIn(Signing):
    region: str = Field(
        min_length=2, max_length=12, pattern=r"^[0-9]+$", description="Division code of the office concerned."
    )
    occurred_at: str = Field(min_length=1, max_length=40, description="ISO 8601; no offset: China time.")
    actor_name: str = Field(min_length=1, max_length=200, description="Who interfered.")
    actor_role: str = Field(min_length=1, max_length=200, description="In what position.")
    actor_org: str = Field("", max_length=200)
    means: Literal["written_instruction", "letter", "spoken", "hint", "other"]
    request: str = Field(min_length=1, max_length=4000, description="What was asked.")
    mns: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field([], max_length=100)
    records: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        [], max_length=100, description="Records it touched, e.g. `alarms/12`, `reports/3`."
    )
    other: str = Field("", max_length=4000, description="Other data or stations it touched.")
    attachments: list[AttachmentIn] = Field([], max_length=MAX_ATTACHMENTS)


class EventIn(Signing):
    action: Literal["reported", "received", "investigating", "concluded", "comment"]
    to_whom: str = Field("", max_length=200, description="For `reported`: the body it was reported to.")
    note: str = Field("", max_length=4000)


class Conflict(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON as the document says: `true` is no number

    inspector: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=120)


class GivenTarget(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON as the document says: `true` is no number

    id: str = Field(min_length=1, max_length=120)
    region: str = Field(min_length=2, max_length=12, pattern=r"^[0-9]+$")
    weight: int = Field(1, ge=1, le=50)


class DrawIn(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON as the document says: `true` is no number

    title: str = Field(min_length=1, max_length=200)
    target_kind: Literal["point", "enterprise", "institution"] = "point"
    region: str = Field(min_length=2, max_length=12, pattern=r"^[0-9]+$")
    targets: int = Field(ge=1, le=10000, description="How many targets to draw.")
    inspectors_per_target: int = Field(2, ge=0, le=20)
    same_region_allowed: bool = False
    max_per_inspector: int | None = Field(None, ge=1, le=10000)
    recent_days: int = Field(
        365, ge=0, le=3650, description="Exclude targets inspected within this many days."
    )
    beacon_source: str = Field("", max_length=500)
    conflicts: list[Conflict] = Field([], max_length=1000)
    given: list[GivenTarget] = Field(
        [], max_length=10000, description="The targets, for `institution` draws."
    )


class RevealIn(BaseModel):
    beacon_value: str = Field("", max_length=500)


class InspectionIn(Signing):
    target: str = Field(min_length=1, max_length=120)
    inspected_at: str = Field(min_length=1, max_length=40, description="ISO 8601; no offset: China time.")
    outcome: Literal["compliant", "problems", "fraud"]
    summary: str = Field(min_length=1, max_length=4000)
    draw_id: int | None = Field(None, ge=1, le=MAX_INT)
    inspectors: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field([], max_length=20)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field([], max_length=200)


class ComplaintIn(BaseModel):
    channel: Literal["web", "phone", "wechat", "letter", "visit"] = Field(
        "web", description="`web` for the public form; the others are entered by staff."
    )
    subject: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=8000)
    location: str = Field(min_length=1, max_length=500)
    region: str = Field("", max_length=12, pattern=r"^[0-9]*$", description="Division code; or give `mn`.")
    mn: str | None = Field(None, max_length=64, description="The monitoring point it concerns, when known.")
    lat: str | None = Field(None, max_length=16)
    lon: str | None = Field(None, max_length=16)
    contact_name: str = Field("", max_length=100, description="Empty: anonymous.")
    contact_phone: str = Field("", max_length=40)
    attachments: list[AttachmentIn] = Field([], max_length=MAX_ATTACHMENTS)


class ComplaintStepIn(BaseModel):
    action: Literal["accepted", "assigned", "linked", "replied", "resolved", "rejected", "comment"]
    note: str = Field("", max_length=4000, description="Internal: never shown to the complainant.")
    reply: str = Field("", max_length=4000, description="What the complainant reads with the tracking code.")
    assignee: str = Field("", max_length=64)
    links: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        [], max_length=100, description="`points/MN`, `alarms/12`, `inspections/3` …"
    )


class CreditEventIn(BaseModel):
    subject_kind: Literal["enterprise", "institution", "operator", "supplier"]
    subject_id: str = Field(min_length=1, max_length=64, description="Unified social credit code.")
    subject_name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=2, max_length=12, pattern=r"^[0-9]+$")
    kind: Literal["negative", "positive"]
    points: int = Field(ge=-100, le=100)
    reason: str = Field(min_length=1, max_length=2000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(min_length=1, max_length=200)
    decision: str = Field(min_length=1, max_length=200, description="The decision document's number.")


class ListingIn(BaseModel):
    subject_kind: Literal["enterprise", "institution", "operator", "supplier"]
    subject_id: str = Field(min_length=1, max_length=64)
    subject_name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=2, max_length=12, pattern=r"^[0-9]+$")
    reason: str = Field(min_length=1, max_length=2000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(min_length=1, max_length=200)
    decision: str = Field(min_length=1, max_length=200)
    starts_on: str = Field(min_length=10, max_length=10, description="YYYY-MM-DD (China).")
    ends_on: str = Field(min_length=10, max_length=10, description="YYYY-MM-DD, excluded.")


class ListingStepIn(BaseModel):
    action: Literal["appealed", "appeal_upheld", "appeal_rejected", "repaired"]
    note: str = Field(min_length=1, max_length=2000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field([], max_length=200)


class OrderIn(BaseModel):
    order_no: str = Field(min_length=1, max_length=200)
    enterprise: str = Field(min_length=1, max_length=200)
    mns: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=100)
    violation: str = Field(min_length=1, max_length=2000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(min_length=1, max_length=200)
    served_on: str = Field(min_length=10, max_length=10, description="YYYY-MM-DD (China).")


class RecheckIn(BaseModel):
    rechecked_on: str = Field(min_length=10, max_length=10)
    result: Literal["continued", "rectified"]
    note: str = Field(min_length=1, max_length=2000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field([], max_length=200)


class CaseIn(BaseModel):
    case_no: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    enterprise: str = Field(min_length=1, max_length=200)
    mns: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=100)
    start: str = Field(
        min_length=1, max_length=40, description="The data concerned from (ISO 8601, China time)."
    )
    end: str = Field(min_length=1, max_length=40)
    summary: str = Field(min_length=1, max_length=8000)
    evidence: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field([], max_length=200)


class CaseDocumentIn(BaseModel):
    kind: Literal["transfer_letter", "investigation_report", "site_record", "evidence_list", "other"]
    title: str = Field(min_length=1, max_length=200)
    file: AttachmentIn


def _bounds(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """The ``start`` and ``end`` query times (ISO 8601, China time without an offset), None when absent."""
    out = []
    for name, text in (("start", start), ("end", end)):
        t = parse_iso_time(text, "Asia/Shanghai") if text else None
        if text and t is None:
            raise ApiError(400, "bad_time", f"`{name}` is not an ISO 8601 time: {text!r}")
        out.append(t)
    return out[0], out[1]


def _files(attachments: Sequence[AttachmentIn]) -> list[Attachment]:
    files = []
    for i, a in enumerate(attachments):
        try:
            data = base64.b64decode(a.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "bad_attachment", f"attachments[{i}]: not base64") from None
        files.append(Attachment(a.name, a.media_type, data))
    return files


class _PerClient:
    """At most ``limit`` public complaints per client address per hour (spam; staff are not limited)."""

    def __init__(self, limit: int = 20, window_s: float = 3600.0) -> None:
        self.limit, self.window_s = limit, window_s
        self.seen: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.seen.get(client, []) if now - t < self.window_s]
            if len(recent) >= self.limit:
                self.seen[client] = recent
                return False
            self.seen[client] = [*recent, now]
            if len(self.seen) > 10000:  # forget the oldest clients
                for key in list(self.seen)[:5000]:
                    del self.seen[key]
            return True


def install_oversight_routes(
    app: FastAPI, store: Store, *, log_verifier: Any, witnesses: Sequence[Any] = ()
) -> None:
    def origin() -> str:
        return os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin

    def register() -> Interference:
        return Interference(store, origin=origin())

    def draws() -> Draws:
        return Draws(store, origin=origin())

    complaints_limit = _PerClient()

    def account(who: Principal) -> str:
        if who.is_public:
            raise ApiError(
                401, "login_required", "the interference register is for accounts: send an API token"
            )
        return who.username

    @app.post(
        f"{API_PREFIX}/interference",
        tags=["oversight"],
        status_code=201,
        summary="Record an interference by an official (干预留痕), signed by the caller, with attachments",
        responses=_errors(400, 401, 403, 404, 413, 422, 429),
    )
    def record_interference(who: Caller, body: InterferenceIn) -> Any:
        username = account(who)
        at = parse_iso_time(body.occurred_at, "Asia/Shanghai")
        if at is None:
            raise ApiError(400, "bad_time", f"`occurred_at` is not an ISO 8601 time: {body.occurred_at!r}")
        files = _files(body.attachments)

        def step() -> Any:
            row = register().record(
                username=username,
                signed=body.signed(),
                region=body.region,
                occurred_at=at,
                actor_name=body.actor_name,
                actor_role=body.actor_role,
                actor_org=body.actor_org,
                means=body.means,
                request=body.request,
                mns=body.mns,
                records=body.records,
                other=body.other,
                attachments=files,
            )
            return register().show(int(row["id"]), username)

        return signed_step(step)

    @app.get(
        f"{API_PREFIX}/interference",
        tags=["oversight"],
        summary="The interference records the caller reads (the recorder, discipline accounts and higher-level "
        "regulators of the region), newest first, with their events and state",
        responses=_errors(401),
    )
    def list_interference(who: Caller) -> list[dict[str, Any]]:
        return register().visible(account(who))

    @app.get(
        f"{API_PREFIX}/interference/report",
        tags=["oversight"],
        summary="Counts of the records the caller reads, by region, month, means or actor role, with the records",
        responses=_errors(400, 401),
    )
    def interference_report(
        who: Caller,
        by: Annotated[Literal["region", "month", "means", "actor_role"], Query()] = "region",
        level: Annotated[
            int, Query(ge=2, le=12, description="Region digits: 2 province, 4 city, 6 county.")
        ] = 6,
        start: Annotated[str | None, Query(max_length=40, description="Occurred from (ISO 8601).")] = None,
        end: Annotated[str | None, Query(max_length=40, description="Occurred before (ISO 8601).")] = None,
    ) -> dict[str, Any]:
        reg = register()
        rows = reg.visible(account(who))
        lo, hi = _bounds(start, end)
        rows = [
            r
            for r in rows
            if (lo is None or r["occurred_at"] >= lo) and (hi is None or r["occurred_at"] < hi)
        ]
        return {"by": by, "level": level, "total": len(rows), "groups": reg.report(rows, by=by, level=level)}

    @app.get(
        f"{API_PREFIX}/interference/{{record_id}}",
        tags=["oversight"],
        summary="One interference record with its events, attachments (metadata) and ledger index",
        responses=_errors(401, 404),
    )
    def show_interference(who: Caller, record_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        return register().show(record_id, account(who))

    @app.get(
        f"{API_PREFIX}/interference/{{record_id}}/attachments/{{attachment_id}}",
        tags=["oversight"],
        summary="An attachment of a record the caller reads, byte for byte",
        responses={
            200: {
                "description": "The file",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            **_errors(401, 404),
        },
    )
    def interference_attachment(
        who: Caller,
        record_id: Annotated[int, Path(ge=1, le=MAX_INT)],
        attachment_id: Annotated[int, Path(ge=1, le=MAX_INT)],
    ) -> Response:
        row = register().attachment(record_id, attachment_id, account(who))
        return Response(
            bytes(row["data"]),
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(row['name'])}",
                "X-Content-Type-Options": "nosniff",
                "X-Content-SHA256": row["sha256"],
            },
        )

    @app.post(
        f"{API_PREFIX}/interference/{{record_id}}/events",
        tags=["oversight"],
        status_code=201,
        summary="A signed step of the escalation trail: reported (to whom), received, investigating, concluded "
        "(discipline accounts), comment",
        responses=_errors(400, 401, 403, 404, 409, 422, 429),
    )
    def interference_event(
        who: Caller, record_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: EventIn
    ) -> Any:
        username = account(who)
        return signed_step(
            lambda: register().event(
                record_id,
                action=body.action,
                note=body.note,
                to_whom=body.to_whom,
                username=username,
                signed=body.signed(),
            )
        )

    # -- draws and inspections ------------------------------------------------------------------------------
    @app.get(
        f"{API_PREFIX}/draws",
        tags=["oversight"],
        summary="Every double-random draw (public): pools with weights and exclusions, rules, commitment, and once "
        "revealed the beacon value, the selection and the inspections",
    )
    def list_draws() -> list[dict[str, Any]]:
        return draws().listing()

    @app.post(
        f"{API_PREFIX}/draws",
        tags=["oversight"],
        status_code=201,
        summary="Create a draw: the pools, rules and commitment are ledgered now; the secret is kept for the reveal",
        responses=_errors(400, 401, 403, 409, 422),
    )
    def create_draw(who: Caller, body: DrawIn) -> dict[str, Any]:
        username = account(who)
        conflicts: dict[str, list[str]] = {}
        for c in body.conflicts:
            conflicts.setdefault(c.inspector, []).append(c.target)
        row = draws().create(username=username, title=body.title, target_kind=body.target_kind, region=body.region,
                             targets=body.targets, inspectors_per_target=body.inspectors_per_target,
                             same_region_allowed=body.same_region_allowed, max_per_inspector=body.max_per_inspector,
                             recent_days=body.recent_days, beacon_source=body.beacon_source, conflicts=conflicts,
                             given=[g.model_dump() for g in body.given])  # fmt: skip
        return draws().record_of(int(row["id"]))

    @app.get(
        f"{API_PREFIX}/draws/{{draw_id}}",
        tags=["oversight"],
        summary="A draw's public record (envtrust-draw/v1), from which anyone recomputes the selection",
        responses=_errors(404),
    )
    def show_draw(draw_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        return draws().record_of(draw_id)

    @app.post(
        f"{API_PREFIX}/draws/{{draw_id}}/reveal",
        tags=["oversight"],
        status_code=201,
        summary="Reveal the secret with the beacon's published value: the selection follows, ledgered (once)",
        responses=_errors(400, 401, 403, 404, 409, 422),
    )
    def reveal_draw(
        who: Caller, draw_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: RevealIn
    ) -> dict[str, Any]:
        draws().reveal(draw_id, username=account(who), beacon_value=body.beacon_value)
        return draws().record_of(draw_id)

    @app.get(
        f"{API_PREFIX}/draws/{{draw_id}}/export",
        tags=["oversight"],
        summary="The draw's record with proof bundles of its creation and reveal entries (envtrust-draw-export/v1), "
        "for `envtrust draw verify` offline",
        responses=_errors(404, 409),
    )
    def export_draw(draw_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        return draws().export(draw_id, log_verifier=log_verifier, witness_verifiers=witnesses)

    @app.get(
        f"{API_PREFIX}/inspections",
        tags=["oversight"],
        summary="Every inspection result (public, as double-random results are published), newest first",
    )
    def list_inspections() -> list[dict[str, Any]]:
        return list(reversed(store.quality_rows("inspections")))

    @app.post(
        f"{API_PREFIX}/inspections",
        tags=["oversight"],
        status_code=201,
        summary="Record an inspection's result, signed by the inspector (one drawn for the target, for a draw)",
        responses=_errors(400, 401, 403, 404, 409, 422, 429),
    )
    def record_inspection(who: Caller, body: InspectionIn) -> Any:
        username = account(who)
        at = parse_iso_time(body.inspected_at, "Asia/Shanghai")
        if at is None:
            raise ApiError(400, "bad_time", f"`inspected_at` is not an ISO 8601 time: {body.inspected_at!r}")
        return signed_step(
            lambda: draws().inspect(
                username=username,
                signed=body.signed(),
                target=body.target,
                inspected_at=at,
                outcome=body.outcome,
                summary=body.summary,
                draw_id=body.draw_id,
                inspectors=body.inspectors,
                evidence=body.evidence,
            )
        )

    # -- complaints ------------------------------------------------------------------------------------------
    @app.post(
        f"{API_PREFIX}/complaints",
        tags=["oversight"],
        status_code=201,
        summary="File a complaint (the public: the web form; staff: phone, WeChat, letter, visit); answers the "
        "tracking code, shown once",
        responses=_errors(400, 403, 404, 413, 422, 429),
    )
    def file_complaint(request: Request, who: Caller, body: ComplaintIn) -> dict[str, Any]:
        staff = None if who.is_public else who.username
        if staff is None and not complaints_limit.allow(request.client.host if request.client else "?"):
            raise ApiError(429, "too_many", "too many complaints from this address; try again in an hour")
        row, code = Complaints(store).file(
            channel=body.channel, subject=body.subject, description=body.description, location=body.location,
            region=body.region, mn=body.mn, lat=body.lat, lon=body.lon, contact_name=body.contact_name,
            contact_phone=body.contact_phone, attachments=_files(body.attachments), intake_by=staff,
        )  # fmt: skip
        return {"id": row["id"], "tracking_code": code, "accept_due": row["accept_due"],
                "track": f"{API_PREFIX}/complaints/track/{code}"}  # fmt: skip

    @app.get(
        f"{API_PREFIX}/complaints/track/{{code}}",
        tags=["oversight"],
        summary="What the complainant follows with the tracking code, without an account: state, deadline, replies",
        responses=_errors(404),
    )
    def track_complaint(code: Annotated[str, Path(max_length=40)]) -> dict[str, Any]:
        return Complaints(store).track(code)

    @app.get(
        f"{API_PREFIX}/complaints",
        tags=["oversight"],
        summary="The complaints of the caller's region (regulators and inspectors), newest first, with deadlines",
        responses=_errors(401),
    )
    def list_complaints(who: Caller) -> list[dict[str, Any]]:
        return Complaints(store).visible(account(who))

    @app.get(
        f"{API_PREFIX}/complaints/{{complaint_id}}",
        tags=["oversight"],
        summary="One complaint with its steps, for the staff of its region",
        responses=_errors(401, 404),
    )
    def show_complaint(who: Caller, complaint_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        return Complaints(store).show(complaint_id, account(who))

    @app.post(
        f"{API_PREFIX}/complaints/{{complaint_id}}/events",
        tags=["oversight"],
        status_code=201,
        summary="A step of the handling: accepted, assigned, linked, replied, resolved, rejected, comment",
        responses=_errors(400, 401, 404, 409, 422),
    )
    def complaint_step(
        who: Caller, complaint_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: ComplaintStepIn
    ) -> dict[str, Any]:
        return Complaints(store).step(complaint_id, action=body.action, username=account(who), note=body.note,
                                      reply=body.reply, assignee=body.assignee, links=body.links)  # fmt: skip

    # -- credit, blacklist, orders and penalties, county ranking --------------------------------------------
    @app.get(
        f"{API_PREFIX}/credit",
        tags=["oversight"],
        summary="Credit scores (100 plus each event's points) with their events and evidence (public)",
    )
    def credit_scores() -> list[dict[str, Any]]:
        return Credit(store).scores()

    @app.post(
        f"{API_PREFIX}/credit/events",
        tags=["oversight"],
        status_code=201,
        summary="A credit event decided by a regulator of the subject's region, tied to ledgered evidence",
        responses=_errors(400, 401, 403, 404, 422),
    )
    def credit_event(who: Caller, body: CreditEventIn) -> dict[str, Any]:
        return Credit(store).record_event(username=account(who), **body.model_dump())

    @app.get(
        f"{API_PREFIX}/blacklist",
        tags=["oversight"],
        summary="The blacklist (public): every listing with its state, evidence, decision and appeals",
    )
    def list_blacklist(
        active: Annotated[bool, Query(description="Only the listings in force now.")] = False,
    ) -> list[dict[str, Any]]:
        return Credit(store).listings(active_only=active)

    @app.get(
        f"{API_PREFIX}/blacklist/export",
        tags=["oversight"],
        summary="The blacklist for the credit-sharing platform: CSV (UTF-8 with BOM) or JSON, documented columns",
        responses={
            200: {
                "description": "The listings (columns in docs/oversight.md)",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                },
            },
            **_errors(400),
        },
    )
    def export_blacklist(
        format: Annotated[Literal["csv", "json"], Query()] = "csv",
        active: Annotated[bool, Query()] = True,
    ) -> Response:
        rows = export_rows(Credit(store).listings(active_only=active))
        if format == "json":
            return Response(json.dumps(rows, ensure_ascii=False), media_type="application/json")
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow([h for h, _ in EXPORT_COLUMNS])
        writer.writerows([list(r.values()) for r in rows])
        return Response(
            ("\ufeff" + buf.getvalue()).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": "attachment; filename=envtrust-blacklist.csv"},
        )

    @app.post(
        f"{API_PREFIX}/blacklist",
        tags=["oversight"],
        status_code=201,
        summary="List a party on the blacklist (a regulator of its region), with evidence and decision",
        responses=_errors(400, 401, 403, 404, 422),
    )
    def add_listing(who: Caller, body: ListingIn) -> dict[str, Any]:
        return Credit(store).blacklist(username=account(who), **body.model_dump())

    @app.post(
        f"{API_PREFIX}/blacklist/{{listing_id}}/events",
        tags=["oversight"],
        status_code=201,
        summary="An appeal (the listed party or staff), its decision, or a credit repair (a regulator of the region)",
        responses=_errors(400, 401, 403, 404, 409, 422),
    )
    def listing_step(
        who: Caller, listing_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: ListingStepIn
    ) -> dict[str, Any]:
        return Credit(store).blacklist_step(listing_id, action=body.action, note=body.note, username=account(who),
                                            evidence=body.evidence)  # fmt: skip

    @app.get(
        f"{API_PREFIX}/orders",
        tags=["oversight"],
        summary="Orders to rectify with their recheck and continuous daily penalty (public)",
    )
    def list_orders() -> list[dict[str, Any]]:
        credit = Credit(store)
        return [credit.penalty(int(o["id"])) for o in reversed(store.quality_rows("orders"))]

    @app.post(
        f"{API_PREFIX}/orders",
        tags=["oversight"],
        status_code=201,
        summary="An order to rectify served on an enterprise (a regulator of its region)",
        responses=_errors(400, 401, 403, 404, 422),
    )
    def serve_order(who: Caller, body: OrderIn) -> dict[str, Any]:
        return Credit(store).order(username=account(who), **body.model_dump())

    @app.post(
        f"{API_PREFIX}/orders/{{order_id}}/recheck",
        tags=["oversight"],
        status_code=201,
        summary="The recheck of an order: the violation continued or was rectified",
        responses=_errors(400, 401, 403, 404, 409, 422),
    )
    def recheck_order(
        who: Caller, order_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: RecheckIn
    ) -> dict[str, Any]:
        return Credit(store).recheck(order_id, username=account(who), rechecked_on=body.rechecked_on,
                                     result=body.result, note=body.note, evidence=body.evidence)  # fmt: skip

    @app.get(
        f"{API_PREFIX}/orders/{{order_id}}/penalty",
        tags=["oversight"],
        summary="The continuous daily penalty of an order: days, rule, and per day the alarms behind it (public)",
        responses=_errors(404),
    )
    def order_penalty(order_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        return Credit(store).penalty(order_id)

    @app.get(
        f"{API_PREFIX}/counties/ranking",
        tags=["oversight"],
        summary="Counties ranked by confirmed fraud and interference, each number with its records (regulators and "
        "discipline accounts whose region covers `region`)",
        responses=_errors(400, 401, 403),
    )
    def ranking(
        who: Caller,
        region: Annotated[str, Query(min_length=2, max_length=12, pattern=r"^[0-9]+$")],
        start: Annotated[str | None, Query(max_length=40)] = None,
        end: Annotated[str | None, Query(max_length=40)] = None,
    ) -> list[dict[str, Any]]:
        account(who)
        if who.role not in ("regulator", "discipline") or not region.startswith(who.region or "\0"):
            raise ApiError(
                403, "forbidden", "the ranking is for regulators and discipline bodies of the region"
            )
        lo, hi = _bounds(start, end)
        return county_ranking(store, region, since=lo or 0, until=hi)

    # -- cases ---------------------------------------------------------------------------------------------
    @app.post(
        f"{API_PREFIX}/cases",
        tags=["oversight"],
        status_code=201,
        summary="Open a fraud case for points and a period of their data (regulators and inspectors of the region)",
        responses=_errors(400, 401, 403, 404, 409, 422),
    )
    def open_case(who: Caller, body: CaseIn) -> dict[str, Any]:
        username = account(who)
        times = [parse_iso_time(t, "Asia/Shanghai") for t in (body.start, body.end)]
        if times[0] is None or times[1] is None:
            raise ApiError(400, "bad_time", "`start` and `end` must be ISO 8601 times")
        cases = Cases(store)
        row = cases.open(username=username, case_no=body.case_no, title=body.title, enterprise=body.enterprise,
                         mns=body.mns, start=times[0], end=times[1], summary=body.summary, evidence=body.evidence)  # fmt: skip
        return cases.show(int(row["id"]), username)

    @app.get(
        f"{API_PREFIX}/cases",
        tags=["oversight"],
        summary="The cases of the caller's region, with the documents still missing",
        responses=_errors(401),
    )
    def list_cases(who: Caller) -> list[dict[str, Any]]:
        return Cases(store).visible(account(who))

    @app.get(
        f"{API_PREFIX}/cases/{{case_id}}",
        tags=["oversight"],
        summary="One case with its documents",
        responses=_errors(401, 403, 404),
    )
    def show_case(who: Caller, case_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        return Cases(store).show(case_id, account(who))

    @app.post(
        f"{API_PREFIX}/cases/{{case_id}}/documents",
        tags=["oversight"],
        status_code=201,
        summary="Add a document to a case: transfer letter, investigation report, site record, evidence list, other",
        responses=_errors(400, 401, 403, 404, 413, 422),
    )
    def case_document(
        who: Caller, case_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: CaseDocumentIn
    ) -> dict[str, Any]:
        [file] = _files([body.file])
        return Cases(store).add_document(
            case_id, kind=body.kind, title=body.title, file=file, username=account(who)
        )

    @app.get(
        f"{API_PREFIX}/cases/{{case_id}}/package",
        tags=["oversight"],
        summary="The transfer package (ZIP: documents, raw frames, records, sign-offs, inclusion proofs, signed "
        "checkpoint, manifest), verified offline with `envtrust case verify`",
        responses={
            200: {
                "description": "The archive (envtrust-case-package/v1)",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            },
            **_errors(401, 403, 404, 409),
        },
    )
    def case_package(who: Caller, case_id: Annotated[int, Path(ge=1, le=MAX_INT)]) -> Response:
        data = Cases(store).package(case_id, username=account(who), log_verifier=log_verifier,
                                    witness_verifiers=witnesses)  # fmt: skip
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": f"attachment; filename=case-{case_id}.zip"})  # fmt: skip


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
