"""The FastAPI application: the ledger's checkpoints, proofs, entries and witness cosignatures.

Every route lives under :data:`API_PREFIX` (``/api/v1``).  Every error, whatever raised it (a route, a bad
query parameter, an unknown path, a wrong method, a failing database), is answered with one JSON shape::

    {"error": {"code": "no_checkpoint", "message": "…", "status": 404}}

Store calls block (SQLAlchemy), so the routes are plain ``def`` functions: FastAPI runs them in its
threadpool and the event loop (shared with the HJ 212 gateway under ``envtrust serve``) never waits on the
database.

Witnesses.  ``POST /api/v1/ledger/cosignatures`` takes a checkpoint note cosigned by a witness (see
:mod:`envtrust.witness`).  It is kept only if the log's own signature verifies, at least one cosignature
line comes from a configured witness key and verifies, and the checkpoint is one this log signed (same size,
same text).  ``GET /api/v1/ledger/checkpoint`` serves the newest checkpoint with the cosignature lines of
configured witnesses for that size merged in, each verified again when served, so a row written into the
database by hand cannot put an invalid line into the published note.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import RecordError, StoreError
from ..ledger import merkle
from ..ledger.note import (
    MAX_SIGNATURES,
    CosignatureVerifier,
    NoteError,
    NoteSignature,
    Verifier,
    cosignature_timestamp,
    open_checkpoint,
    parse_note,
    verify_cosignature,
)
from ..store import Store

log = logging.getLogger(__name__)

__all__ = [
    "API_PREFIX",
    "CLOCK_SKEW",
    "MAX_NOTE_BYTES",
    "ApiError",
    "create_app",
]

API_PREFIX = "/api/v1"
MAX_NOTE_BYTES = 64 * 1024
"""Largest cosigned checkpoint note accepted (a checkpoint with 100 signature lines is about 12 KiB)."""
MAX_INT = 2**63 - 1
"""Largest integer parameter (a 64-bit database integer)."""
CLOCK_SKEW = 300
"""Seconds a cosignature may be dated after the server's clock (witness clocks drift)."""

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An error answered with the canonical shape: HTTP ``status``, machine-readable ``code``, ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code


# ------------------------------------------------------------------------------------------------ models
class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `bad_size`, `unknown_witness`.")
    message: str = Field(description="What went wrong, for people.")
    status: int = Field(description="The HTTP status code, repeated.")


class ErrorResponse(BaseModel):
    """The one error shape of the API."""

    error: ErrorBody


class CheckpointInfo(BaseModel):
    size: int = Field(description="Tree size (number of ledger entries) the checkpoint commits to.")
    root: str = Field(description="RFC 9162 root hash of the tree of that size, base64.")
    created: str = Field(description="When the log signed it, ISO 8601 (UTC).")
    cosigned_by: list[str] = Field(description="Names of the witnesses whose cosignatures the server holds.")


class ConsistencyProof(BaseModel):
    old: int
    new: int
    proof: list[str] = Field(description="RFC 9162 consistency proof PROOF(old, D[new]), base64 hashes.")


class InclusionProof(BaseModel):
    index: int
    size: int
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ entry) of the entry at `index`, base64.")
    proof: list[str] = Field(description="RFC 9162 inclusion proof PATH(index, D[size]), base64 hashes.")


class LedgerEntry(BaseModel):
    index: int
    type: str = Field(description="Entry type, e.g. `hj212.frame`, `registry.point`.")
    ref: str | None = Field(description="What the entry records, e.g. `frames/42`.")
    entry: str | None = Field(
        description="The entry: RFC 8785 canonical JSON text, exactly the hashed bytes; null when withheld."
    )
    withheld: bool = Field(
        default=False,
        description="The content is withheld: the caller may not read the record the entry records (its leaf "
        "hash and inclusion proofs are public all the same). Sealed entries and published records are shown to "
        "anyone.",
    )
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ entry), base64.")


class CosignatureInfo(BaseModel):
    size: int = Field(description="Tree size of the cosigned checkpoint.")
    witness: str = Field(description="The witness's key name.")
    timestamp: int = Field(
        description="The time in the cosignature (POSIX seconds), as the witness signed it."
    )
    received: str = Field(description="When the server received it, ISO 8601 (UTC).")


class CosignatureReceipt(BaseModel):
    size: int
    root: str = Field(description="Root hash of the cosigned checkpoint, base64.")
    cosignatures: list[CosignatureInfo] = Field(
        description="The cosignatures of configured witnesses that this note carried (new or already held)."
    )


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Invalid request (bad parameter or body)",
        403: "Cosignature from an unknown witness key, or one that does not verify",
        404: "Not found",
        409: "Not a checkpoint this log signed",
        413: "Body too large",
    }
    return {s: {"model": ErrorResponse, "description": text.get(s, "Error")} for s in statuses}


# ------------------------------------------------------------------------------------------------ helpers
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _iso_us(us: int) -> str:
    us = int(us)
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000).isoformat()


def _error_json(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=status, headers=headers
    )


def _note_text(note: str) -> str | None:
    try:
        return parse_note(note)[0]
    except NoteError:
        return None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ())]
        where = {"query": "query parameter", "path": "path parameter", "body": "body", "header": "header"}
        if loc and loc[0] in where and len(loc) > 1:
            place = f"{where[loc[0]]} {'.'.join(loc[1:])!r}"
        else:
            place = ".".join(loc) or "request"
        parts.append(f"{place}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _page_error(request: Request, status: int, message: str) -> Response | None:
    """Outside the API, an error is a page in the reader's language when the pages are installed."""
    render = getattr(request.app.state, "html_error", None)
    if render is None or request.url.path.startswith(API_PREFIX + "/"):
        return None
    out: Response = render(request, status, message)
    return out


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        page = _page_error(request, exc.status_code, "" if exc.status_code == 404 else str(exc.detail))
        if page is not None:
            return page
        code = getattr(exc, "code", None) or _DEFAULT_CODES.get(exc.status_code, f"http_{exc.status_code}")
        headers = getattr(exc, "headers", None)
        if (
            exc.status_code == 405
        ):  # every method of the path, not only those of the first route that matched it
            methods = {
                m
                for r in request.app.routes
                if isinstance(r, APIRoute) and r.path_regex.match(request.url.path)
                for m in r.methods or ()
            }
            if methods:
                headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
        return _error_json(exc.status_code, code, str(exc.detail), headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):  # a page whose address names nothing
            page = _page_error(request, 404, "")
            if page is not None:
                return page
        return _page_error(request, 400, _validation_message(exc)) or _error_json(
            400, "invalid_request", _validation_message(exc)
        )

    async def store_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("store error on %s %s: %s", request.method, request.url.path, exc)
        return _error_json(503, "store_unavailable", "the database is unavailable; try again later")

    async def record_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RecordError)
        return _page_error(request, exc.status, str(exc)) or _error_json(exc.status, exc.code, str(exc))

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return _error_json(500, "internal_error", "internal server error")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(RecordError, record_error)
    app.add_exception_handler(Exception, internal_error)


def _install_openapi(app: FastAPI) -> None:
    """The OpenAPI document without FastAPI's 422 validation shape (validation errors are 400, ours)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                fastapi_422 = "HTTPValidationError" in json.dumps(responses.get("422", {}))
                if fastapi_422 and responses.pop("422", None) is not None:  # ours (a rule refused) stays
                    responses.setdefault(
                        "400", {"description": "Invalid request parameter", "content": _ERROR_CONTENT}
                    )
                for status, response in responses.items():
                    if (
                        status[:1] in "45"
                    ):  # errors are the one JSON shape, whatever the route's own media type
                        response["content"] = _ERROR_CONTENT
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, at most ``limit`` bytes (refused with 413 without buffering more)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, "body_too_large", f"the {what} is {length} bytes, more than {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"the {what} is more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _note_body(request: Request) -> str:
    """The request body as a UTF-8 note, at most :data:`MAX_NOTE_BYTES` (read without buffering more)."""
    body = await read_body(request, MAX_NOTE_BYTES, "note")
    if not body:
        raise ApiError(400, "empty_body", "the body must be a cosigned checkpoint note (text/plain)")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_note", f"the note is not valid UTF-8 (byte {exc.start})") from None


# ------------------------------------------------------------------------------------------------ the app
def create_app(
    store: Store,
    *,
    log_verifier: Verifier,
    witnesses: Sequence[Verifier | CosignatureVerifier] = (),
    on_commit: Callable[[Sequence[Any], Sequence[Any]], None] | None = None,
) -> FastAPI:
    """The envtrust HTTP API over ``store``.

    ``log_verifier`` is the public key of this log (the key its checkpoints are signed with); ``witnesses``
    are the witness keys whose cosignatures the server accepts and shows (plain Ed25519 verifier keys or
    cosignature/v1 keys); ``on_commit`` sees every batch imported through the API (the streaming checks).  The
    caller owns ``store`` and closes it.
    """
    witness_keys: dict[tuple[str, bytes], CosignatureVerifier] = {}
    for w in witnesses:
        cv = w.cosignature_verifier() if isinstance(w, Verifier) else w
        witness_keys[(cv.name, cv.key_hash)] = cv
    log_key = (log_verifier.name, log_verifier.key_hash)

    app = FastAPIOffline(  # FastAPI whose Swagger UI comes from envtrust itself: users' networks are often closed
        static_url=f"{API_PREFIX}/docs/static",
        favicon_url="/favicon.svg",
        title="envtrust API",
        version=__version__,
        description=(
            "Trustworthy environmental monitoring data. The ledger part: signed checkpoints (C2SP "
            "tlog-checkpoint), RFC 9162 inclusion and consistency proofs, ledger entries, and witness "
            "cosignatures (C2SP tlog-cosignature). Every error is "
            '`{"error": {"code": …, "message": …, "status": …}}`.'
        ),
        openapi_tags=[
            {"name": "ledger", "description": "The tamper-evident ledger and its witnesses."},
            {"name": "accounts", "description": "Who the caller is (API tokens: `envtrust accounts token`)."},
            {"name": "points", "description": "The registry and readings, scoped to the caller."},
            {"name": "alarms", "description": "Alarms and their lifecycle, scoped to the caller."},
        ],
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.store = store
    _install_error_handlers(app)
    _install_openapi(app)

    def newest_size() -> int:
        latest = store.latest_checkpoint()
        return int(latest["size"]) if latest is not None else 0

    def checkpoint_row(size: int) -> dict[str, Any] | None:
        latest = store.latest_checkpoint()
        if latest is not None and int(latest["size"]) == size:
            return latest
        rows = store.checkpoints(after=size - 1)
        return rows[0] if rows and int(rows[0]["size"]) == size else None

    def with_cosignatures(note: str, size: int) -> str:
        """The log's note with the verified cosignature lines of configured witnesses held for ``size``."""
        try:
            text, lines = parse_note(note)
        except NoteError:  # a damaged row: serve it as it is, clients will not verify it
            log.error("the stored checkpoint of size %d is not a signed note", size)
            return note
        message = text.encode("utf-8")
        best: dict[tuple[str, bytes], tuple[int, NoteSignature]] = {}
        for row in store.cosignatures(size):
            try:
                row_text, row_lines = parse_note(row["note"])
            except NoteError:
                continue
            if row_text != text:
                continue
            for line in row_lines:
                key = (line.name, line.key_hash)
                verifier = witness_keys.get(key)
                if verifier is None or not verifier.verify(message, line.signature):
                    continue
                ts = cosignature_timestamp(line)
                if key not in best or ts > best[key][0]:
                    best[key] = (ts, line)
        if not best:
            return note
        merged = [s for s in lines if (s.name, s.key_hash) not in best]
        merged += [line for _, line in best.values()]
        return text + "\n" + "".join(s.line() for s in merged[:MAX_SIGNATURES])

    def cosignature_info(row: dict[str, Any]) -> CosignatureInfo:
        return CosignatureInfo(
            size=int(row["size"]),
            witness=row["witness"],
            timestamp=int(row["timestamp"]),
            received=_iso_us(row["received_us"]),
        )

    # ------------------------------------------------------------------------------------------ routes
    @app.get(
        f"{API_PREFIX}/ledger/checkpoint",
        tags=["ledger"],
        summary="The newest signed checkpoint, with witness cosignatures",
        description=(
            "The newest checkpoint as a C2SP signed note (tlog-checkpoint text, the log's Ed25519 "
            "signature line, then one cosignature/v1 line per configured witness that cosigned it)."
        ),
        response_class=PlainTextResponse,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The note"},
            **_errors(404),
        },
    )
    def get_checkpoint() -> PlainTextResponse:
        latest = store.latest_checkpoint()
        if latest is None:
            raise ApiError(404, "no_checkpoint", "the ledger has no signed checkpoint yet")
        note = with_cosignatures(latest["note"], int(latest["size"]))
        return PlainTextResponse(
            note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    @app.get(
        f"{API_PREFIX}/ledger/checkpoints",
        tags=["ledger"],
        summary="Signed checkpoints, oldest first",
        response_model=list[CheckpointInfo],
        responses=_errors(400),
    )
    def list_checkpoints(
        after: Annotated[
            int, Query(ge=-1, le=MAX_INT, description="Only checkpoints of a larger size.")
        ] = -1,
        limit: Annotated[int, Query(ge=1, le=10000, description="At most this many.")] = 1000,
    ) -> list[CheckpointInfo]:
        rows = store.checkpoints(after=after)[:limit]
        if not rows:
            return []
        lo, hi = int(rows[0]["size"]), int(rows[-1]["size"])
        names: dict[int, list[str]] = {}
        for c in store.cosignatures():
            size = int(c["size"])
            if lo <= size <= hi and c["witness"] not in names.setdefault(size, []):
                names[size].append(c["witness"])
        return [
            CheckpointInfo(
                size=int(r["size"]),
                root=_b64(r["root"]),
                created=_iso_us(r["created_us"]),
                cosigned_by=names.get(int(r["size"]), []),
            )
            for r in rows
        ]

    @app.get(
        f"{API_PREFIX}/ledger/proof/consistency",
        tags=["ledger"],
        summary="Consistency proof between two tree sizes",
        description="RFC 9162 §2.1.4: proves that the tree of size `old` is a prefix of the tree of size "
        "`new`. `new` must not exceed the newest signed checkpoint.",
        response_model=ConsistencyProof,
        responses=_errors(400),
    )
    def consistency(
        old: Annotated[int, Query(ge=-MAX_INT, le=MAX_INT, description="The smaller tree size.")],
        new: Annotated[
            int,
            Query(
                ge=-MAX_INT, le=MAX_INT, description="The larger tree size (at most the newest checkpoint's)."
            ),
        ],
    ) -> ConsistencyProof:
        if old < 0 or new < 0:
            raise ApiError(400, "bad_size", f"tree sizes must not be negative (old={old}, new={new})")
        if old > new:
            raise ApiError(400, "bad_size", f"old size {old} is larger than new size {new}")
        newest = newest_size()
        if new > newest:
            raise ApiError(
                400, "bad_size", f"size {new} is beyond the newest signed checkpoint (size {newest})"
            )
        proof = store.consistency_proof(old, new)
        return ConsistencyProof(old=old, new=new, proof=[_b64(h) for h in proof])

    @app.get(
        f"{API_PREFIX}/ledger/proof/inclusion",
        tags=["ledger"],
        summary="Inclusion proof of one entry in a tree size",
        description="RFC 9162 §2.1.3: proves that the entry at `index` is in the tree of size `size`. "
        "`size` must not exceed the newest signed checkpoint.",
        response_model=InclusionProof,
        responses=_errors(400),
    )
    def inclusion(
        index: Annotated[
            int, Query(ge=-MAX_INT, le=MAX_INT, description="Ledger index of the entry (0-based).")
        ],
        size: Annotated[
            int, Query(ge=-MAX_INT, le=MAX_INT, description="Tree size (at most the newest checkpoint's).")
        ],
    ) -> InclusionProof:
        if index < 0 or size < 0:
            raise ApiError(
                400, "bad_size", f"index and size must not be negative (index={index}, size={size})"
            )
        if index >= size:
            raise ApiError(400, "bad_size", f"index {index} is not in a tree of size {size}")
        newest = newest_size()
        if size > newest:
            raise ApiError(
                400, "bad_size", f"size {size} is beyond the newest signed checkpoint (size {newest})"
            )
        found = store.entry(index)
        if found is None:  # pragma: no cover - only if the ledger table was altered
            raise ApiError(404, "no_entry", f"ledger entry {index} is missing")
        proof = store.inclusion_proof(index, size)
        return InclusionProof(
            index=index,
            size=size,
            leaf_hash=_b64(merkle.leaf_hash(found[2])),
            proof=[_b64(h) for h in proof],
        )

    @app.get(
        f"{API_PREFIX}/ledger/entries/{{index}}",
        tags=["ledger"],
        summary="One ledger entry (its content only for who may read the record it records)",
        response_model=LedgerEntry,
        responses=_errors(400, 401, 404),
    )
    def get_entry(
        request: Request,
        index: Annotated[int, Path(ge=-MAX_INT, le=MAX_INT, description="Ledger index (0-based).")],
    ) -> LedgerEntry:
        if index < 0:
            raise ApiError(400, "bad_index", f"ledger index must not be negative, got {index}")
        found = store.entry(index)
        if found is None:
            raise ApiError(
                404, "no_entry", f"ledger entry {index} does not exist (ledger size {store.ledger_size()})"
            )
        kind, ref, entry = found
        from ..workflow.refs import entry_disclosed
        from .data import principal

        shown = entry_disclosed(store, kind, ref, entry, principal(request).account())
        return LedgerEntry(
            index=index,
            type=kind,
            ref=ref,
            entry=entry.decode("utf-8", "replace") if shown else None,
            withheld=not shown,
            leaf_hash=_b64(merkle.leaf_hash(entry)),
        )

    @app.post(
        f"{API_PREFIX}/ledger/cosignatures",
        tags=["ledger"],
        summary="Submit a witness's cosignature of a checkpoint",
        description=(
            "The body is the checkpoint note (text/plain) with the witness's cosignature/v1 line. It is "
            "kept if the log's signature verifies, a configured witness's cosignature verifies (403 "
            "otherwise) and the checkpoint is one this log signed (409 otherwise). 201 when something new "
            "was kept, 200 when the server held these cosignatures already."
        ),
        status_code=201,
        response_model=CosignatureReceipt,
        responses={
            200: {"model": CosignatureReceipt, "description": "Already held"},
            **_errors(400, 403, 409, 413),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def post_cosignature(response: Response, note: Annotated[str, Depends(_note_body)]) -> CosignatureReceipt:
        try:
            cp = open_checkpoint(note, log_verifier, origin=log_verifier.name)
            text, lines = parse_note(note)
        except NoteError as exc:
            raise ApiError(
                400, "bad_checkpoint", f"not a checkpoint signed by this log ({log_verifier.name}): {exc}"
            ) from None
        others = [s for s in lines if (s.name, s.key_hash) != log_key]
        if not others:
            raise ApiError(
                400, "no_cosignature", "the note carries no cosignature besides the log's signature"
            )
        mine = {
            (s.name, s.key_hash): witness_keys[(s.name, s.key_hash)]
            for s in others
            if (s.name, s.key_hash) in witness_keys
        }
        if not mine:
            labels = ", ".join(sorted({f"{s.name}+{s.key_hash.hex()}" for s in others}))
            raise ApiError(
                403, "unknown_witness", f"no cosignature from a witness this server knows: {labels}"
            )
        now = int(time.time())
        stamped: list[tuple[CosignatureVerifier, int]] = []
        for verifier in mine.values():
            try:
                ts = verify_cosignature(note, verifier)
            except NoteError as exc:
                raise ApiError(403, "invalid_cosignature", str(exc)) from None
            if ts > now + CLOCK_SKEW:
                raise ApiError(
                    400, "cosignature_in_future", f"cosignature of {verifier.name} is dated {ts}, after {now}"
                )
            stamped.append((verifier, ts))
        stored = checkpoint_row(cp.size)
        if stored is None:
            raise ApiError(409, "unknown_checkpoint", f"this log never signed a checkpoint of size {cp.size}")
        if bytes(stored["root"]) != cp.root_hash or _note_text(stored["note"]) != text:
            raise ApiError(
                409,
                "checkpoint_mismatch",
                f"the checkpoint of size {cp.size} this log signed has root {_b64(bytes(stored['root']))}, "
                f"not {_b64(cp.root_hash)}",
            )
        held = store.cosignatures(cp.size)
        log_lines = "".join(s.line() for s in lines if (s.name, s.key_hash) == log_key)
        new = False
        for verifier, ts in stamped:
            if any(r["witness"] == verifier.name and int(r["timestamp"]) == ts for r in held):
                continue
            own = "".join(
                s.line() for s in others if (s.name, s.key_hash) == (verifier.name, verifier.key_hash)
            )
            store.add_cosignature(cp.size, verifier.name, ts, text + "\n" + log_lines + own)
            log.info("cosignature of %s for checkpoint %d kept", verifier.name, cp.size)
            new = True
        if not new:
            response.status_code = 200
        wanted = {(v.name, ts) for v, ts in stamped}
        rows = [r for r in store.cosignatures(cp.size) if (r["witness"], int(r["timestamp"])) in wanted]
        return CosignatureReceipt(
            size=cp.size, root=_b64(cp.root_hash), cosignatures=[cosignature_info(r) for r in rows]
        )

    @app.get(
        f"{API_PREFIX}/ledger/cosignatures",
        tags=["ledger"],
        summary="Witness cosignatures the server holds",
        response_model=list[CosignatureInfo],
        responses=_errors(400),
    )
    def list_cosignatures(
        size: Annotated[
            int | None, Query(ge=0, le=MAX_INT, description="Only those of this tree size.")
        ] = None,
    ) -> list[CosignatureInfo]:
        return [cosignature_info(r) for r in store.cosignatures(size)]

    from .data import install_data_routes  # the data routes use the error shape above

    install_data_routes(app, store, on_commit=on_commit)
    from .qa import install_qa_routes

    install_qa_routes(app, store)
    from .lab import install_lab_routes

    install_lab_routes(app, store)
    from .marks import install_mark_routes

    install_mark_routes(app, store)
    from .oversight import install_oversight_routes

    install_oversight_routes(app, store, log_verifier=log_verifier, witnesses=witnesses)
    from ..web import install_pages  # pages share the data routes' accounts and sessions

    install_pages(app, store, log_verifier=log_verifier, witnesses=witnesses)
    return app
