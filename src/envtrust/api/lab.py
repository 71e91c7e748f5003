"""Laboratory and signing-key routes (``/api/v1/lab/…``, ``/api/v1/keys/person…``), issue 6.

Every step is signed by the caller — never on someone else's behalf: the API always signs as the account that
asks. A step is signed either with the caller's server-sealed key (``passphrase`` in the body), or with a key the
caller holds: ask with ``"prepare": true`` to receive the statement, sign it with ``envtrust keys person sign`` (or
any C2SP note signer) and send the same body again with ``signed_note`` (the signed statement) within five
minutes.
Issued reports and their PDFs are public; the chain of a sample is for lab staff and for accounts that see its
point.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..report_pdf import render_report
from ..services import parse_iso_time
from ..settings import load as load_settings
from ..store import Store
from ..workflow.identity import Principal
from ..workflow.lab import STATEMENT_SKEW_S, Lab, Signed, StatementPrepared
from .app import API_PREFIX, MAX_INT, ApiError, ErrorResponse
from .data import Caller

__all__ = ["Signing", "install_lab_routes", "signed_step"]

_TEXT = {
    400: "Invalid request",
    401: "An account is needed, or a wrong signing passphrase",
    403: "Not your function or key; your own work; a signature that does not verify",
    404: "Not found",
    409: "Conflicts with the chain (not received, retracted, reviews missing, exists)",
    422: "Refused by a rule (expired or unknown reference lot …)",
    429: "Too many wrong signing passphrases",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _TEXT[s]} for s in statuses}


def signed_step(step: Callable[[], Any]) -> Any:
    """Run a signed step; a ``prepare`` request answers with the statement to sign instead (nothing recorded)."""
    try:
        return step()
    except StatementPrepared as prepared:
        return JSONResponse({"statement": prepared.statement, "sign_within_s": STATEMENT_SKEW_S})


class Signing(BaseModel):
    passphrase: str | None = Field(
        None, max_length=1024, description="The passphrase of your server-sealed key."
    )
    signed_note: str | None = Field(
        None,
        max_length=20000,
        description="The prepared statement, signed with your key (a C2SP signed note).",
    )
    prepare: bool = Field(False, description="Only return the statement to sign; nothing is recorded.")

    def signed(self) -> Signed:
        return Signed(note=self.signed_note, passphrase=self.passphrase, prepare=self.prepare)


class KeyIn(BaseModel):
    passphrase: str = Field(min_length=1, max_length=1024, description="≥ 12 characters; never stored.")


class RegisterIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    vkey: str = Field(min_length=1, max_length=400)
    pop: str = Field(
        min_length=1, max_length=20000, description="Proof of possession (`envtrust keys person pop`)."
    )


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class FunctionIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    function: Literal["sampler", "receiver", "analyst", "reviewer", "signatory"]
    granted: bool = True


class SampleIn(BaseModel):
    sample_no: str = Field(min_length=1, max_length=64, pattern=r"^[^/]+$")
    matrix: str = Field(min_length=1, max_length=200)
    purpose: Literal["comparison", "supervisory", "self"]
    mn: str | None = Field(None, max_length=64)


class CustodyIn(Signing):
    step: Literal["sampled", "transported", "received", "rejected"]
    at: str = Field(min_length=1, max_length=40, description="ISO 8601; no offset: China time.")
    place: str = Field(min_length=1, max_length=400)
    condition: str = Field(min_length=1, max_length=2000)
    seal_no: str = Field("", max_length=64)


class AnalysisIn(Signing):
    sample_no: str = Field(min_length=1, max_length=64)
    parameter: str = Field(min_length=1, max_length=16)
    method: str = Field(min_length=1, max_length=200)
    instrument: str = Field(min_length=1, max_length=200)
    raw_result: str = Field(min_length=1, max_length=40)
    unit: str = Field(min_length=1, max_length=32)
    analysed_at: str = Field(min_length=1, max_length=40)
    lot_ids: list[Annotated[int, Field(ge=1, le=MAX_INT)]] = Field(default_factory=list, max_length=20)
    retest_of: int | None = Field(None, ge=1, le=MAX_INT)
    raw_file_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class ReviewIn(Signing):
    decision: Literal["approve", "reject"]
    comment: str = Field("", max_length=4000)


class RetractIn(Signing):
    reason: str = Field(min_length=1, max_length=2000)


class ReportIn(Signing):
    report_no: str = Field(min_length=1, max_length=64, pattern=r"^[^/]+$")
    title: str = Field(min_length=1, max_length=400)
    analysis_ids: list[Annotated[int, Field(ge=1, le=MAX_INT)]] = Field(min_length=1, max_length=500)
    supersedes: str | None = Field(None, max_length=64)


def install_lab_routes(app: FastAPI, store: Store) -> None:
    def lab() -> Lab:
        public = os.environ.get("ENVTRUST_PUBLIC_URL", "http://127.0.0.1:8212")
        return Lab(store, origin=load_settings().origin, render=render_report, public_url=public)

    def account(who: Principal) -> str:
        if who.is_public:
            raise ApiError(401, "login_required", "signing is for accounts: log in or send an API token")
        return who.username

    def at(text: str, name: str) -> int:
        t = parse_iso_time(text, "Asia/Shanghai")
        if t is None:
            raise ApiError(400, "bad_time", f"`{name}` is not an ISO 8601 time: {text!r}")
        return t

    @app.get(
        f"{API_PREFIX}/keys/person", tags=["laboratory"], summary="Your signing keys", responses=_errors(401)
    )
    def my_keys(who: Caller) -> list[dict[str, Any]]:
        return lab().keys(account(who))

    @app.post(
        f"{API_PREFIX}/keys/person",
        tags=["laboratory"],
        summary="Create your server-sealed signing key (only you know its passphrase)",
        status_code=201,
        responses=_errors(400, 401, 403, 404),
    )
    def create_key(who: Caller, body: KeyIn) -> dict[str, Any]:
        name = account(who)
        if who.role == "admin":
            raise ApiError(403, "forbidden", "an administrator signs nothing and holds no signing key")
        return lab().create_sealed_key(name, body.passphrase, who=name)

    @app.post(
        f"{API_PREFIX}/keys/person/register",
        tags=["laboratory"],
        summary="Register a key a person holds (yourself, or an administrator for someone; it waits 24 h)",
        status_code=201,
        responses=_errors(400, 401, 403, 404),
    )
    def register_key(who: Caller, body: RegisterIn) -> dict[str, Any]:
        name = account(who)
        if body.username != name and who.role != "admin":
            raise ApiError(403, "forbidden", "only the person or an administrator registers a key")
        return lab().register_key(body.username, body.vkey, body.pop, who=name)

    @app.post(
        f"{API_PREFIX}/keys/person/{{key_id}}/revoke",
        tags=["laboratory"],
        summary="Revoke a signing key (yours, or any as administrator)",
        status_code=201,
        responses=_errors(400, 401, 403, 404),
    )
    def revoke_key(
        who: Caller, key_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: ReasonIn
    ) -> dict[str, int]:
        name = account(who)
        rows = store.quality_rows("person_keys", id=key_id)
        if not rows:
            raise ApiError(404, "no_key", f"no key {key_id}")
        own = rows[0]["account_id"] == who.account_id
        if not own and who.role != "admin":
            raise ApiError(403, "forbidden", "only the key's owner or an administrator revokes it")
        return {"entry": lab().revoke_key(key_id, reason=body.reason, who=name)}

    @app.post(
        f"{API_PREFIX}/lab/functions",
        tags=["laboratory"],
        summary="Grant or take away a lab function (administrators)",
        status_code=201,
        responses=_errors(400, 401, 403, 404),
    )
    def grant(who: Caller, body: FunctionIn) -> dict[str, int]:
        name = account(who)
        if who.role != "admin":
            raise ApiError(403, "forbidden", "lab functions are granted by administrators")
        return {"entry": lab().grant(body.username, body.function, who=name, granted=body.granted)}

    @app.post(
        f"{API_PREFIX}/lab/samples",
        tags=["laboratory"],
        summary="Plan a sample (lab staff)",
        status_code=201,
        responses=_errors(400, 401, 403, 409),
    )
    def plan(who: Caller, body: SampleIn) -> dict[str, int]:
        name = account(who)
        if who.role != "lab":
            raise ApiError(403, "forbidden", "samples are planned by lab staff")
        return {
            "id": lab().plan_sample(
                body.sample_no, matrix=body.matrix, purpose=body.purpose, who=name, mn=body.mn
            )
        }

    @app.get(
        f"{API_PREFIX}/lab/samples/{{sample_no}}",
        tags=["laboratory"],
        summary="A sample's chain: each step with who signed it and whether the signature verifies",
        responses=_errors(400, 401, 404),
    )
    def chain(who: Caller, sample_no: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        account(who)
        found = lab().chain(sample_no)
        mn = found["sample"]["mn"]
        scope = store.point_scopes().get(mn) if mn else None
        if who.role not in ("lab", "admin") and (scope is None or not who.sees_point(*scope)):
            raise ApiError(404, "no_sample", f"no sample {sample_no}")
        return found

    @app.post(
        f"{API_PREFIX}/lab/samples/{{sample_no}}/custody",
        tags=["laboratory"],
        summary="A custody step, signed by you (sampler or receiver)",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 429),
    )
    def custody(who: Caller, sample_no: Annotated[str, Path(max_length=64)], body: CustodyIn) -> Any:
        name = account(who)
        return signed_step(
            lambda: lab().custody(
                sample_no,
                body.step,
                at=at(body.at, "at"),
                place=body.place,
                condition=body.condition,
                seal_no=body.seal_no,
                username=name,
                signed=body.signed(),
            )
        )

    @app.post(
        f"{API_PREFIX}/lab/analyses",
        tags=["laboratory"],
        summary="An analysis of a received sample, signed by you (analyst)",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 422, 429),
    )
    def analyse(who: Caller, body: AnalysisIn) -> Any:
        name = account(who)
        return signed_step(
            lambda: lab().analyse(
                body.sample_no,
                parameter=body.parameter,
                method=body.method,
                instrument=body.instrument,
                raw_result=body.raw_result,
                unit=body.unit,
                analysed_at=at(body.analysed_at, "analysed_at"),
                lot_ids=body.lot_ids,
                retest_of=body.retest_of,
                raw_file_sha256=body.raw_file_sha256,
                username=name,
                signed=body.signed(),
            )
        )

    @app.post(
        f"{API_PREFIX}/lab/analyses/{{analysis_id}}/reviews",
        tags=["laboratory"],
        summary="Review an analysis, signed by you (never your own work)",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 429),
    )
    def review(who: Caller, analysis_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: ReviewIn) -> Any:
        name = account(who)
        return signed_step(
            lambda: lab().review(
                analysis_id, decision=body.decision, comment=body.comment, username=name, signed=body.signed()
            )
        )

    @app.post(
        f"{API_PREFIX}/lab/analyses/{{analysis_id}}/retract",
        tags=["laboratory"],
        summary="Retract an analysis (its analyst or a signatory); the original is kept",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 429),
    )
    def retract(who: Caller, analysis_id: Annotated[int, Path(ge=1, le=MAX_INT)], body: RetractIn) -> Any:
        name = account(who)
        return signed_step(
            lambda: lab().retract(analysis_id, reason=body.reason, username=name, signed=body.signed())
        )

    @app.post(
        f"{API_PREFIX}/lab/reports",
        tags=["laboratory"],
        summary="Issue a report, signed by you (authorised signatory)",
        status_code=201,
        responses=_errors(400, 401, 403, 404, 409, 429),
    )
    def issue(who: Caller, body: ReportIn) -> Any:
        name = account(who)
        return signed_step(
            lambda: lab().issue(
                body.report_no,
                title=body.title,
                analysis_ids=body.analysis_ids,
                username=name,
                signed=body.signed(),
                supersedes=body.supersedes,
            )
        )

    @app.get(
        f"{API_PREFIX}/lab/reports/{{report_no}}.pdf",
        tags=["laboratory"],
        summary="An issued report as PDF (public), rendered from the ledgered records",
        responses={
            200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
            **_errors(400, 404),
        },
        response_class=Response,
    )
    def report_pdf(report_no: Annotated[str, Path(max_length=64)]) -> Response:
        pdf = lab().report_pdf(report_no)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", report_no)
        return Response(
            pdf, media_type="application/pdf", headers={"Content-Disposition": f"inline; filename={safe}.pdf"}
        )
