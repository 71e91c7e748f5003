"""Personal signatures: statements signed with a key only that person controls (decision 0012 §5).

A *statement* is the RFC 8785 canonical JSON of what a person vouches for — the act, their role, who they are,
when, the subject (the record's content, decimals as written) and references to the exact ledger entries it
builds on — signed as the text of a C2SP signed note with Ed25519 under the key name ``<origin>/person/<user>``,
so the offline tools that check checkpoints check these too, and a statement can never be taken for a checkpoint
(whose text starts with the origin, never ``{``).

Keys are held either by the person (``envtrust keys person create``: the private key never reaches the server) or
by the server *sealed* under a signing passphrase that is never stored: Argon2id (RFC 9106, 64 MiB) derives the
key that opens an AES-256-GCM box bound to the account and key, so a sealed key moved to another account does not
open, and an administrator with the database faces Argon2id per guess.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import RecordError
from ..ledger.entries import canonical
from ..ledger.note import NoteError, Signer, Verifier, parse_note, sign_note, verify_note

__all__ = [
    "MIN_PASSPHRASE",
    "STATEMENT",
    "key_name",
    "seal",
    "sign_statement",
    "statement_text",
    "unseal",
    "verified_statement",
]

STATEMENT = "envtrust-statement/v1"
SEALED = "envtrust-sealed-key/v1"
MIN_PASSPHRASE = 12
# Argon2id parameters of the sealing (RFC 9106 second recommended option, as for passwords); tests may lower them
ARGON2 = {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 4}


def key_name(origin: str, username: str) -> str:
    """The note key name of a person's signing key."""
    return f"{origin}/person/{username}"


def statement_text(
    *,
    origin: str,
    act: str,
    role: str,
    account: str,
    account_id: int,
    key: str,
    at: int,
    subject: dict[str, Any],
    refs: list[dict[str, Any]],
) -> str:
    """The canonical statement text (one line of JSON, then the newline a note's text ends with)."""
    body = {
        "v": STATEMENT,
        "origin": origin,
        "act": act,
        "role": role,
        "signer": {"account": account, "account_id": account_id, "key": key},
        "at": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "refs": refs,
    }
    return canonical(body).decode("utf-8") + "\n"


def sign_statement(text: str, signer: Signer) -> str:
    """The signed note of a statement."""
    return sign_note(text, [signer])


def signature_line(note: str) -> str:
    """The signature line of a signed statement (what a person-held key produces and pastes back)."""
    _, sigs = parse_note(note)
    if len(sigs) != 1:
        raise RecordError("bad_signature", "签名应恰好一行 | expected exactly one signature line", status=403)
    return sigs[0].line()


def verified_statement(note: str, verifier: Verifier) -> dict[str, Any]:
    """The statement of a note signed by ``verifier``; a bad or foreign signature is ``bad_signature``."""
    try:
        text, _ = verify_note(note, [verifier])
    except NoteError as exc:
        raise RecordError(
            "bad_signature", f"签名无效：{exc} | the signature does not verify: {exc}", status=403
        ) from None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        raise RecordError("bad_statement", "签名内容不是声明 | the signed text is not a statement") from None
    if (
        not isinstance(parsed, dict)
        or parsed.get("v") != STATEMENT
        or canonical(parsed).decode() + "\n" != text
    ):
        raise RecordError(
            "bad_statement", "签名内容不是规范声明 | the signed text is not a canonical statement"
        )
    return parsed


def _aad(account_id: int, key: str) -> bytes:
    return canonical({"v": SEALED, "account_id": account_id, "key": key})


def _kek(passphrase: str, salt: bytes) -> bytes:
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=ARGON2["time_cost"],
        memory_cost=ARGON2["memory_cost"],
        parallelism=ARGON2["parallelism"],
        hash_len=32,
        type=Type.ID,
    )


def seal(seed: bytes, passphrase: str, *, account_id: int, key: str) -> bytes:
    """``salt (16) ‖ nonce (12) ‖ AES-256-GCM(seed)`` under Argon2id(passphrase), bound to the account and key."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise RecordError(
            "weak_passphrase",
            f"签名口令至少 {MIN_PASSPHRASE} 个字符 | a signing passphrase needs at least {MIN_PASSPHRASE} characters",
        )
    salt, nonce = os.urandom(16), os.urandom(12)
    return salt + nonce + AESGCM(_kek(passphrase, salt)).encrypt(nonce, seed, _aad(account_id, key))


def unseal(blob: bytes, passphrase: str, *, account_id: int, key: str) -> bytes:
    """The seed of a sealed key; a wrong passphrase, a changed byte or another account is ``bad_passphrase``."""
    salt, nonce, box = blob[:16], blob[16:28], blob[28:]
    try:
        return AESGCM(_kek(passphrase, salt)).decrypt(nonce, box, _aad(account_id, key))
    except (InvalidTag, ValueError):
        raise RecordError(
            "bad_passphrase", "签名口令错误 | wrong signing passphrase (or a damaged key)", status=401
        ) from None
