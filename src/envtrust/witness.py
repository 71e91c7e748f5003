"""The witness: a separate role, with its own key, that cosigns the log's checkpoints only if they extend
what it cosigned before.  A log that forks (two different trees of one size) or rewrites its history is
refused, and the refusal is kept as evidence.

One round (:func:`witness_once`)::

    GET  {url}/api/v1/ledger/checkpoint             the newest checkpoint note
         open it with the LOG's public key          a note signed by any other key is refused
         compare with the state file                the last checkpoint THIS witness cosigned
    GET  {url}/api/v1/ledger/proof/consistency?old=M&new=N
         merkle.verify_consistency(M, N, OLD ROOT FROM THE STATE FILE, new root, proof)
         cosign (cosignature/v1, this witness's key), save the state (atomically)
    POST {url}/api/v1/ledger/cosignatures           the note with the cosignature line

Rules: a smaller size than cosigned before is a rollback; the same size with another root is a fork; a
larger size must come with a consistency proof that verifies against the root the witness itself kept
(never a root the server sends).  Any of these raises :class:`WitnessRefusal` naming sizes and roots,
nothing is cosigned or posted, the state is not touched, and the evidence (both signed checkpoints and the
proof) is written next to the state file.  Network and server trouble raise :class:`WitnessError`: the
round is simply tried again later.

First contact (no state file): trust on first use -- the current checkpoint is cosigned and becomes the
reference, and the result says so.  To pin a reference instead, put a state file in place beforehand.

The state is saved *before* the cosignature is posted: a cosignature never leaves the witness for a
checkpoint its state does not record.  If the post then fails, the next round finds the same checkpoint
without this witness's line and posts it again.

HTTP uses only the standard library (``urllib.request``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import http.client
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, EnvtrustError
from .keys import default_dir, stem_of
from .ledger import merkle
from .ledger.note import (
    CosignatureVerifier,
    NoteError,
    Signer,
    Verifier,
    cosign,
    decode_note,
    open_checkpoint,
    parse_note,
    parse_vkey,
    verify_cosignature,
)

__all__ = [
    "API_PREFIX",
    "STATE_VERSION",
    "WitnessError",
    "WitnessRefusal",
    "WitnessResult",
    "WitnessState",
    "load_state",
    "load_witness_key",
    "run_witness",
    "save_state",
    "witness_once",
]

API_PREFIX = "/api/v1"
STATE_VERSION = 1
MAX_RESPONSE = 1 << 20  # bytes read from any answer of the server


class WitnessError(EnvtrustError):
    """A round could not be completed (server unreachable, HTTP error, malformed answer, bad state file)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class WitnessRefusal(WitnessError):
    """The log offered a checkpoint this witness must not cosign.

    ``kind``: ``bad_signature`` (not signed by the log key), ``origin`` (another log's checkpoint),
    ``rollback`` (smaller than cosigned before), ``fork`` (same size, another root), ``inconsistent`` (the
    consistency proof from the cosigned checkpoint does not verify: history rewritten or forked).
    ``evidence`` holds both notes and the proof; ``evidence_path`` where it was written, if it was.
    """

    def __init__(self, message: str, *, kind: str, evidence: dict[str, Any]) -> None:
        super().__init__(message, code=kind)
        self.kind = kind
        self.evidence = evidence
        self.evidence_path: Path | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ------------------------------------------------------------------------------------------------ state
@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint this witness cosigned (what every later checkpoint must extend)."""

    origin: str
    size: int
    root: bytes
    note: str  # the log's signed note of that checkpoint, as fetched
    log_key: str  # the log's verifier key (vkey) this state belongs to
    cosigned_at: int  # the timestamp of this witness's cosignature
    url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "origin": self.origin,
            "size": self.size,
            "root": _b64(self.root),
            "note": self.note,
            "log_key": self.log_key,
            "cosigned_at": self.cosigned_at,
            "url": self.url,
        }


def load_state(path: Path, log_verifier: Verifier | None = None) -> WitnessState | None:
    """The state in ``path``; ``None`` if there is no such file.  A state that cannot be read is an error,
    never a reason to trust on first use again.  With ``log_verifier`` the saved note is verified again and
    must match the saved size and root."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WitnessError(f"cannot read the witness state {path}: {exc.strerror}") from None
    try:
        d = json.loads(raw)
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {d.get('version')!r}")
        state = WitnessState(
            origin=str(d["origin"]),
            size=int(d["size"]),
            root=base64.b64decode(d["root"], validate=True),
            note=str(d["note"]),
            log_key=str(d["log_key"]),
            cosigned_at=int(d["cosigned_at"]),
            url=str(d.get("url", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise WitnessError(f"the witness state {path} is damaged: {exc}") from None
    if log_verifier is not None:
        if state.log_key != log_verifier.vkey():
            raise WitnessError(
                f"the witness state {path} belongs to the log key {state.log_key}, "
                f"not {log_verifier.vkey()}; "
                "use another state file for another log"
            )
        try:
            cp = open_checkpoint(state.note, log_verifier, origin=state.origin)
        except NoteError as exc:
            raise WitnessError(f"the witness state {path}: its checkpoint does not verify: {exc}") from None
        if (cp.size, cp.root_hash) != (state.size, state.root):
            raise WitnessError(f"the witness state {path}: size and root do not match its checkpoint note")
    return state


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_state(path: Path, state: WitnessState) -> None:
    """Write the state atomically (temporary file in the same directory, fsync, rename)."""
    try:
        _write_atomically(path, json.dumps(state.to_json(), ensure_ascii=False, indent=2) + "\n")
    except OSError as exc:
        raise WitnessError(f"cannot write the witness state {path}: {exc.strerror or exc}") from None


# ------------------------------------------------------------------------------------------------ HTTP
def _base(url: str) -> str:
    base = url.rstrip("/")
    if base.endswith(API_PREFIX):
        base = base[: -len(API_PREFIX)]
    return base


def _error_text(body: bytes) -> tuple[str, str | None]:
    """The message (and code) of an API error answer, or the start of whatever else came back."""
    try:
        err = json.loads(body)["error"]
        return str(err["message"]), str(err["code"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace").strip() or "(no body)", None


def _http(
    url: str, *, timeout: float, data: bytes | None = None, content_type: str | None = None
) -> tuple[int, bytes]:
    method = "POST" if data is not None else "GET"
    headers = {"User-Agent": f"envtrust-witness/{__version__}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE + 1)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(MAX_RESPONSE)
        finally:
            exc.close()
        message, code = _error_text(body)
        raise WitnessError(
            f"{method} {url}: HTTP {exc.code}: {message}", status=exc.code, code=code
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WitnessError(f"cannot reach {url}: {reason}") from None
    if len(body) > MAX_RESPONSE:
        raise WitnessError(f"{method} {url}: answer larger than {MAX_RESPONSE} bytes")
    return status, body


def _get_json(url: str, timeout: float) -> Any:
    _, body = _http(url, timeout=timeout)
    try:
        return json.loads(body)
    except ValueError:
        raise WitnessError(f"GET {url}: the answer is not JSON") from None


def _fetch_proof(base: str, old: int, new: int, timeout: float) -> list[bytes]:
    url = f"{base}{API_PREFIX}/ledger/proof/consistency?" + urllib.parse.urlencode({"old": old, "new": new})
    d = _get_json(url, timeout)
    try:
        if int(d["old"]) != old or int(d["new"]) != new or not isinstance(d["proof"], list):
            raise ValueError("it is not for the sizes asked")
        return [base64.b64decode(p, validate=True) for p in d["proof"]]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise WitnessError(f"GET {url}: malformed consistency proof: {exc}") from None


# ------------------------------------------------------------------------------------------------ a round
@dataclass(frozen=True)
class WitnessResult:
    """What a round did: ``action`` is ``tofu`` (first contact, cosigned on trust), ``cosigned`` (verified
    and cosigned) or ``current`` (nothing new: this witness's cosignature is already shown)."""

    action: str
    origin: str
    size: int
    root: bytes
    message: str
    old_size: int | None = None
    old_root: bytes | None = None
    timestamp: int | None = None
    proof: list[bytes] = field(default_factory=list)

    @property
    def tofu(self) -> bool:
        return self.action == "tofu"


def _refuse(
    kind: str,
    message: str,
    *,
    url: str,
    offered: str,
    state: WitnessState | None,
    proof: list[bytes] | None = None,
    now: int,
) -> WitnessRefusal:
    evidence: dict[str, Any] = {
        "kind": kind,
        "message": message,
        "time": now,
        "url": url,
        "offered_note": offered,
        "cosigned_note": state.note if state is not None else None,
        "proof": [_b64(p) for p in proof] if proof is not None else None,
    }
    return WitnessRefusal(message, kind=kind, evidence=evidence)


def _keep_evidence(state_path: Path, refusal: WitnessRefusal) -> None:
    """Write the refusal's evidence beside the state file, one file per refused checkpoint (kept once)."""
    digest = hashlib.sha256(refusal.evidence["offered_note"].encode("utf-8")).hexdigest()[:16]
    path = state_path.with_name(f"{state_path.name}.refused-{refusal.kind}-{digest}.json")
    refusal.evidence_path = path
    if path.exists():
        return
    try:
        _write_atomically(path, json.dumps(refusal.evidence, ensure_ascii=False, indent=2) + "\n")
    except OSError:  # the refusal stands even if the evidence cannot be written
        refusal.evidence_path = None


def _has_own_cosignature(note: str, signer: Signer) -> bool:
    try:
        verify_cosignature(note, signer.cosignature_verifier())
    except NoteError:
        return False
    return True


def witness_once(
    url: str,
    log_verifier: Verifier,
    signer: Signer,
    state_path: Path,
    *,
    now: Callable[[], float] = time.time,
    timeout: float = 10.0,
) -> WitnessResult:
    """One round: fetch, verify against the state, cosign, save, post.  See the module docstring.

    Raises :class:`WitnessRefusal` when the log misbehaves and :class:`WitnessError` when the round could not
    be completed.
    """
    base = _base(url)
    state = load_state(state_path, log_verifier)
    checkpoint_url = f"{base}{API_PREFIX}/ledger/checkpoint"
    _, body = _http(checkpoint_url, timeout=timeout)
    try:
        offered = decode_note(body)
    except NoteError as exc:
        raise WitnessError(f"GET {checkpoint_url}: {exc}") from None
    started = int(now())

    def refuse(kind: str, message: str, proof: list[bytes] | None = None) -> WitnessRefusal:
        """The refusal to raise, its evidence kept beside the state file."""
        refusal = _refuse(kind, message, url=base, offered=offered, state=state, proof=proof, now=started)
        _keep_evidence(state_path, refusal)
        return refusal

    try:
        cp = open_checkpoint(offered, log_verifier)
    except NoteError as exc:
        raise refuse(
            "bad_signature",
            f"the checkpoint from {checkpoint_url} is not signed by the log key "
            f"{log_verifier.name}+{log_verifier.key_hash.hex()}: {exc}",
        ) from None

    if state is not None and cp.origin != state.origin:
        raise refuse(
            "origin",
            f"the checkpoint is of the log {cp.origin!r}, but this witness follows {state.origin!r}",
        )
    proof: list[bytes] = []
    if state is None:
        action = "tofu"
        message = (
            f"first contact with {cp.origin}: trusting checkpoint {cp.size} (root {_b64(cp.root_hash)}) "
            "on first use"
        )
    elif cp.size < state.size:
        raise refuse(
            "rollback",
            f"the log rolled back: it offers size {cp.size} (root {_b64(cp.root_hash)}) but this "
            f"witness already cosigned size {state.size} (root {_b64(state.root)})",
        )
    elif cp.size == state.size:
        if cp.root_hash != state.root:
            raise refuse(
                "fork",
                f"the log forked: it offers size {cp.size} with root {_b64(cp.root_hash)}, but this "
                f"witness cosigned size {state.size} with root {_b64(state.root)}",
            )
        if _has_own_cosignature(offered, signer):
            return WitnessResult(
                "current",
                cp.origin,
                cp.size,
                cp.root_hash,
                f"checkpoint {cp.size} (root {_b64(cp.root_hash)}) is cosigned already; nothing new",
                old_size=state.size,
                old_root=state.root,
                timestamp=state.cosigned_at,
            )
        action = "cosigned"
        message = (
            f"checkpoint {cp.size} (root {_b64(cp.root_hash)}) unchanged but the log does not show this "
            "witness's cosignature: cosigned again"
        )
    else:
        proof = _fetch_proof(base, state.size, cp.size, timeout)
        if not merkle.verify_consistency(state.size, cp.size, state.root, cp.root_hash, proof):
            raise refuse(
                "inconsistent",
                f"the log's history was rewritten or forked: the consistency proof from size "
                f"{state.size} (root {_b64(state.root)}, as this witness cosigned it) to size {cp.size} "
                f"(root {_b64(cp.root_hash)}) does not verify",
                proof,
            )
        action = "cosigned"
        message = (
            f"checkpoint {cp.size} (root {_b64(cp.root_hash)}) is consistent with checkpoint {state.size} "
            f"(root {_b64(state.root)})"
        )

    timestamp = int(now())
    cosigned = cosign(offered, signer, timestamp)
    save_state(
        state_path,
        WitnessState(
            origin=cp.origin,
            size=cp.size,
            root=cp.root_hash,
            note=_log_only(offered, log_verifier),
            log_key=log_verifier.vkey(),
            cosigned_at=timestamp,
            url=base,
        ),
    )
    _http(
        f"{base}{API_PREFIX}/ledger/cosignatures",
        timeout=timeout,
        data=cosigned.encode("utf-8"),
        content_type="text/plain; charset=utf-8",
    )
    return WitnessResult(
        action,
        cp.origin,
        cp.size,
        cp.root_hash,
        message + f"; cosigned by {signer.name} at {timestamp}",
        old_size=state.size if state is not None else None,
        old_root=state.root if state is not None else None,
        timestamp=timestamp,
        proof=proof,
    )


def _log_only(note: str, log_verifier: Verifier) -> str:
    """The note with only the log's own signature line(s): what the state keeps as the reference."""
    text, lines = parse_note(note)
    mine = [s for s in lines if (s.name, s.key_hash) == (log_verifier.name, log_verifier.key_hash)]
    return text + "\n" + "".join(s.line() for s in mine)


def run_witness(
    url: str,
    log_verifier: Verifier,
    signer: Signer,
    state_path: Path,
    *,
    interval: float = 60.0,
    report: Callable[[WitnessResult | WitnessError], None] | None = None,
    stop: threading.Event | None = None,
    rounds: int | None = None,
    now: Callable[[], float] = time.time,
    timeout: float = 10.0,
) -> WitnessResult | WitnessError | None:
    """Repeat :func:`witness_once` every ``interval`` seconds until ``stop`` is set (or ``rounds`` rounds
    ran), handing each outcome (a result, or the refusal/error) to ``report``; return the last outcome.

    A refusal does not end the loop: the witness keeps its state and keeps refusing until the log serves a
    checkpoint consistent with what it cosigned.
    """
    stop = stop or threading.Event()
    last: WitnessResult | WitnessError | None = None
    done = 0
    while not stop.is_set():
        try:
            last = witness_once(url, log_verifier, signer, state_path, now=now, timeout=timeout)
        except WitnessError as exc:
            last = exc
        if report is not None:
            report(last)
        done += 1
        if rounds is not None and done >= rounds:
            break
        stop.wait(interval)
    return last


# ------------------------------------------------------------------------------------------------ keys
def load_witness_key(spec: str, directory: Path | None = None) -> Verifier | CosignatureVerifier:
    """A witness's public key: a vkey string (type 0x01 or cosignature/v1 0x04), a ``.vkey`` file, or a key
    name in the key directory."""
    path = Path(spec)
    if "+" in spec and not path.exists():
        text = spec
    else:
        if not path.is_file():
            path = (directory or default_dir()) / f"{stem_of(spec)}.vkey"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the witness key {path}: {exc.strerror}") from None
    try:
        return parse_vkey(text)
    except NoteError as exc:
        raise ConfigError(f"{spec}: not a witness public key: {exc}") from None
