"""Oversight through the API (issue 7): the interference register (``/api/v1/interference…``).

Records and their events are signed by the caller, as laboratory steps are (``passphrase`` of the caller's sealed
key, or ``"prepare": true`` → sign offline → ``signed_note``).  Who reads a record is decided by
:func:`envtrust.workflow.interference.may_read`; anyone else gets 404, as if it did not exist.  Nothing is ever
changed or deleted: there are no such routes (405).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Response
from pydantic import BaseModel, Field

from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import Principal
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
    422: "Dated in the future",
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


def install_oversight_routes(app: FastAPI, store: Store) -> None:
    def register() -> Interference:
        return Interference(store, origin=os.environ.get("ENVTRUST_ORIGIN") or load_settings().origin)

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
        files = []
        for i, a in enumerate(body.attachments):
            try:
                data = base64.b64decode(a.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, "bad_attachment", f"attachments[{i}]: not base64") from None
            files.append(Attachment(a.name, a.media_type, data))

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
        bounds = []
        for name, text in (("start", start), ("end", end)):
            t = parse_iso_time(text, "Asia/Shanghai") if text else None
            if text and t is None:
                raise ApiError(400, "bad_time", f"`{name}` is not an ISO 8601 time: {text!r}")
            bounds.append(t)
        lo, hi = bounds
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
        responses=_errors(401, 404),
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
        responses=_errors(400, 401, 403, 404, 409, 429),
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


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
