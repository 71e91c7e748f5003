"""C2SP signed notes, checkpoints and Ed25519 cosignatures, so that transparency-log witnesses can cosign.

Implements, byte for byte, what these specifications say (and Go's ``golang.org/x/mod/sumdb/note`` does):

``c2sp.org/signed-note``
    A note is a text ending in ``\\n``, a blank line, then one or more signature lines
    ``— <key name> <base64(4-byte key ID || signature)>\\n`` (em dash U+2014, space).  The whole note is
    valid UTF-8 without ASCII control characters other than ``\\n``; the text is everything up to the *last*
    blank line (it may contain blank lines itself); key names are non-empty without Unicode spaces or ``+``.
    Ed25519 (signature type ``0x01``) signs the text; its key ID is
    ``SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]``.
    Keys are written as Go writes them: verifier key ``<name>+<8 hex key ID>+<base64(0x01 || public key)>``,
    signer key ``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>``.

``c2sp.org/tlog-checkpoint``
    The note text of a checkpoint is the origin line (non-empty), the tree size (ASCII decimal, no leading
    zeros), the base64 RFC 6962 root hash (32 bytes here: SHA-256), then optional non-empty extension lines,
    each ending in ``\\n``.  The log's key name should be the origin; :func:`sign_checkpoint` insists on it.

``c2sp.org/tlog-cosignature`` (Ed25519, ``cosignature/v1``, signature type ``0x04``)
    A witness cosignature is one more signature line on the checkpoint note.  Its key ID is
    ``SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]``; its payload (after the key ID) is the
    8-byte big-endian POSIX timestamp (at most 2^63 - 1) then the 64-byte Ed25519 signature of
    ``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole checkpoint text.  A witness public key may
    be written as a verifier key with type byte ``0x04`` (:class:`CosignatureVerifier`).

API
    :class:`Signer` / :class:`Verifier` -- a named Ed25519 key (``0x01``); ``skey()`` / ``vkey()`` and
    ``from_skey`` / ``from_vkey`` for the text forms; :func:`parse_vkey` reads either kind of verifier key.
    :func:`sign_note`, :func:`add_signatures`, :func:`parse_note` (format only), :func:`verify_note`.
    :class:`Checkpoint` (``body()``, ``parse``), :func:`sign_checkpoint`, :func:`open_checkpoint`.
    Cosignatures use the witness's ordinary :class:`Signer`; only the key ID and the signed message differ:
    :func:`cosign` (note + witness + timestamp -> note with the witness line added or replaced),
    :func:`verify_cosignature` (-> the verified timestamp; accepts the witness's :class:`Verifier` or its
    :class:`CosignatureVerifier`), :func:`cosignature_key_hash`, :func:`cosignature_message`,
    :func:`cosignature_timestamp` (reads an unverified line).  A :class:`CosignatureVerifier` can also be
    given to :func:`verify_note` next to the log's :class:`Verifier`.

Every malformed input raises :class:`NoteError`.  Where this module is stricter than Go's package:
every signature line of a known key is verified (Go skips repeated lines of a key it has already checked;
the spec says a known key's signature MUST be verified); base64 must be canonical (what every encoder
writes); two *different* verifiers with the same name and key ID are refused.  Like Go, a note may carry at
most 100 signature lines (the spec requires accepting at least 16).  A witness must verify the log's
signature (:func:`open_checkpoint`) and the consistency of the tree before calling :func:`cosign`, and a
client must check the log's signature as well as :func:`verify_cosignature`; neither function does that.

This module is pure: no file, network or clock access (timestamps are parameters).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "COSIGNATURE_HEADER",
    "MAX_SIGNATURES",
    "MAX_TIMESTAMP",
    "MAX_TREE_SIZE",
    "SIG_COSIGNATURE_V1",
    "SIG_ED25519",
    "Checkpoint",
    "CosignatureVerifier",
    "NoteError",
    "NoteSignature",
    "NoteVerifier",
    "Signer",
    "Verifier",
    "add_signatures",
    "cosign",
    "cosignature_key_hash",
    "cosignature_message",
    "cosignature_timestamp",
    "decode_note",
    "ed25519_key_hash",
    "open_checkpoint",
    "parse_note",
    "parse_vkey",
    "sign_checkpoint",
    "sign_note",
    "verify_cosignature",
    "verify_note",
]

SIG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note)."""
SIG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature)."""
MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (Go's limit; the spec requires at least 16)."""
MAX_TIMESTAMP = 2**63 - 1
"""Largest cosignature timestamp the spec allows."""
MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size (uint64, as in Go's checkpoint type)."""
COSIGNATURE_HEADER = "cosignature/v1"
"""First line of the message a cosignature/v1 signature signs."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_SEED_SIZE = 32
_PUBLIC_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_TIMESTAMP_SIZE = 8
_HASH_SIZE = 32
_KEY_HASH_SIZE = 4
# Unicode White_Space, which is what Go's unicode.IsSpace tests
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A malformed or unverifiable note, key, checkpoint or cosignature."""


# --- small checks --------------------------------------------------------------------------------------


def _show(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise NoteError(f"{what} must be a str, not {type(value).__name__}")
    return value


def _require_bytes(value: object, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise NoteError(f"{what} must be bytes, not {type(value).__name__}")
    if size is not None and len(value) != size:
        raise NoteError(f"{what} must be {size} bytes, not {len(value)}")
    return value


def _check_chars(text: str, what: str) -> None:
    """Valid UTF-8 (no lone surrogates) and no ASCII control character other than newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8 (lone surrogate at offset {exc.start})") from None
    bad = _CONTROL.search(text)
    if bad is not None:
        raise NoteError(f"{what} contains control character U+{ord(bad.group()):04X} at offset {bad.start()}")


def _check_name(name: object, what: str = "key name") -> str:
    name = _require_str(name, what)
    if not name:
        raise NoteError(f"{what} is empty")
    if "+" in name:
        raise NoteError(f"{what} {_show(name)} contains '+'")
    if any(c in _WHITE_SPACE for c in name):
        raise NoteError(f"{what} {_show(name)} contains a space character")
    _check_chars(name, what)
    return name


def _check_text(text: object) -> str:
    text = _require_str(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_chars(text, "note text")
    return text


def _check_timestamp(timestamp: object) -> int:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise NoteError(f"timestamp must be an int, not {type(timestamp).__name__}")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"timestamp {timestamp} is outside 0..2^63-1")
    return timestamp


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise NoteError(f"{what} is not valid base64") from None
    if _b64encode(data) != text:
        raise NoteError(f"{what} is not canonical base64")
    return data


def _key_hash(name: str, typed_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + typed_key).digest()[:_KEY_HASH_SIZE]


def _key_label(name: str, key_hash: bytes) -> str:
    return f"{name}+{key_hash.hex()}"


def ed25519_key_hash(name: str, public_key: bytes) -> bytes:
    """Key ID of an Ed25519 note key: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    _check_name(name)
    _require_bytes(public_key, "Ed25519 public key", _PUBLIC_KEY_SIZE)
    return _key_hash(name, bytes([SIG_ED25519]) + public_key)


def cosignature_key_hash(name: str, public_key: bytes) -> bytes:
    """Key ID of an Ed25519 cosignature/v1 key: ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``."""
    _check_name(name)
    _require_bytes(public_key, "Ed25519 public key", _PUBLIC_KEY_SIZE)
    return _key_hash(name, bytes([SIG_COSIGNATURE_V1]) + public_key)


def decode_note(data: bytes) -> str:
    """The note (or key, or checkpoint) in ``data`` as text; :class:`NoteError` if it is not UTF-8."""
    _require_bytes(data, "note")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError(f"note is not valid UTF-8 (byte {exc.start})") from None


# --- keys ----------------------------------------------------------------------------------------------


def _split_vkey(text: object) -> tuple[str, bytes, bytes]:
    """``<name>+<hex key ID>+<base64 typed key>`` -> (name, key ID, typed key), key ID checked as Go does."""
    text = _require_str(text, "verifier key")
    name, _, rest = text.partition("+")
    hash16, _, key64 = rest.partition("+")
    _check_name(name, "verifier key name")
    if not _HEX8.fullmatch(hash16):
        raise NoteError("malformed verifier key: the key ID must be 8 hex digits")
    typed = _b64decode(key64, "verifier key material")
    if not typed:
        raise NoteError("malformed verifier key: no key material")
    key_hash = bytes.fromhex(hash16)
    if _key_hash(name, typed) != key_hash:
        raise NoteError(f"verifier key {name}+{hash16}: key ID does not match the key")
    return name, key_hash, typed


@dataclass(frozen=True)
class _PublicKey:
    """A named Ed25519 public key of one signature type (the type is fixed per subclass)."""

    SIG_TYPE: ClassVar[int]

    name: str
    public_key: bytes
    key_hash: bytes = field(init=False, repr=False, compare=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _require_bytes(self.public_key, "Ed25519 public key", _PUBLIC_KEY_SIZE)
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:  # pragma: no cover - OpenSSL loads any 32 bytes
            raise NoteError(f"invalid Ed25519 public key: {exc}") from None
        object.__setattr__(self, "key_hash", _key_hash(self.name, bytes([self.SIG_TYPE]) + self.public_key))
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_vkey(cls, text: str) -> Self:
        """Parse a verifier key ``<name>+<hex key ID>+<base64(type || public key)>`` of this key's type."""
        name, _, typed = _split_vkey(text)
        if typed[0] != cls.SIG_TYPE:
            raise NoteError(
                f"verifier key {name}: signature type 0x{typed[0]:02x}, expected 0x{cls.SIG_TYPE:02x}"
            )
        if len(typed) != 1 + _PUBLIC_KEY_SIZE:
            raise NoteError(f"verifier key {name}: Ed25519 key of {len(typed) - 1} bytes, expected 32")
        return cls(name, typed[1:])

    def vkey(self) -> str:
        """The verifier key text, as Go's ``note.NewEd25519VerifierKey`` writes it."""
        return f"{self.name}+{self.key_hash.hex()}+{_b64encode(bytes([self.SIG_TYPE]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the payload after the key ID) signs ``message``; per subclass."""
        raise NotImplementedError

    def _ed25519_verify(self, message: bytes, signature: bytes) -> bool:
        if not isinstance(message, bytes) or not isinstance(signature, bytes):
            return False
        if len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Verifier(_PublicKey):
    """An Ed25519 note verifier key (signature type 0x01): ``name``, 32-byte ``public_key``, ``key_hash``."""

    SIG_TYPE: ClassVar[int] = SIG_ED25519

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, without the key ID) is this key's signature of ``message``."""
        return self._ed25519_verify(message, signature)

    def cosignature_verifier(self) -> CosignatureVerifier:
        """The same key as a cosignature/v1 verifier (for a witness whose plain key you have)."""
        return CosignatureVerifier(self.name, self.public_key)


@dataclass(frozen=True)
class CosignatureVerifier(_PublicKey):
    """A witness's Ed25519 key for cosignature/v1 (type 0x04): the key ID and the signed message differ."""

    SIG_TYPE: ClassVar[int] = SIG_COSIGNATURE_V1

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` = 8-byte big-endian timestamp || 64-byte Ed25519 signature of
        ``cosignature/v1\\ntime <timestamp>\\n`` + ``message`` (the checkpoint text) is valid."""
        if not isinstance(message, bytes) or not isinstance(signature, bytes):
            return False
        if len(signature) != _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        signed = f"{COSIGNATURE_HEADER}\ntime {timestamp}\n".encode("ascii") + message
        return self._ed25519_verify(signed, signature[_TIMESTAMP_SIZE:])


def parse_vkey(text: str) -> Verifier | CosignatureVerifier:
    """Parse a verifier key of type 0x01 (:class:`Verifier`) or 0x04 (:class:`CosignatureVerifier`)."""
    name, _, typed = _split_vkey(text)
    if typed[0] == SIG_ED25519:
        return Verifier.from_vkey(text)
    if typed[0] == SIG_COSIGNATURE_V1:
        return CosignatureVerifier.from_vkey(text)
    raise NoteError(f"verifier key {name}: unsupported signature type 0x{typed[0]:02x}")


@dataclass(frozen=True)
class Signer:
    """An Ed25519 key that signs notes: ``name`` and 32-byte ``seed`` (the RFC 8032 private key).

    ``public_key`` and ``key_hash`` (type 0x01) are derived.  The seed is kept out of ``repr``.
    """

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False, repr=False, compare=False)
    key_hash: bytes = field(init=False, repr=False, compare=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _require_bytes(self.seed, "Ed25519 seed", _SEED_SIZE)
        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        public_key = key.public_key().public_bytes_raw()
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_hash", _key_hash(self.name, bytes([SIG_ED25519]) + public_key))

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new random key named ``name``."""
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_skey(cls, text: str) -> Signer:
        """Parse a signer key ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`` (Go's format)."""
        text = _require_str(text, "signer key")
        priv1, _, rest = text.partition("+")
        priv2, _, rest = rest.partition("+")
        if priv1 != "PRIVATE" or priv2 != "KEY":
            raise NoteError("malformed signer key: it must start with PRIVATE+KEY+")
        name, _, rest = rest.partition("+")
        hash16, _, key64 = rest.partition("+")
        _check_name(name, "signer key name")
        if not _HEX8.fullmatch(hash16):
            raise NoteError("malformed signer key: the key ID must be 8 hex digits")
        try:
            typed = _b64decode(key64, "signer key material")
        except NoteError:
            raise NoteError("malformed signer key: the key material is not canonical base64") from None
        if not typed:
            raise NoteError("malformed signer key: no key material")
        if typed[0] != SIG_ED25519:
            raise NoteError(f"signer key {name}: unsupported signature type 0x{typed[0]:02x}")
        if len(typed) != 1 + _SEED_SIZE:
            raise NoteError(f"signer key {name}: Ed25519 seed of {len(typed) - 1} bytes, expected 32")
        signer = cls(name, typed[1:])
        if signer.key_hash != bytes.fromhex(hash16):
            raise NoteError(f"signer key {name}+{hash16}: key ID does not match the key")
        return signer

    def skey(self) -> str:
        """The signer key text (secret!), as Go's ``note.GenerateKey`` writes it."""
        return f"PRIVATE+KEY+{self.name}+{self.key_hash.hex()}+{_b64encode(bytes([SIG_ED25519]) + self.seed)}"

    def verifier(self) -> Verifier:
        """The matching note verifier (type 0x01)."""
        return Verifier(self.name, self.public_key)

    def cosignature_verifier(self) -> CosignatureVerifier:
        """The matching cosignature/v1 verifier (type 0x04), for a witness key."""
        return CosignatureVerifier(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``message``."""
        _require_bytes(message, "message")
        return self._key.sign(message)


class NoteVerifier(Protocol):
    """What :func:`verify_note` needs of a verifier (:class:`Verifier` and :class:`CosignatureVerifier`)."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


# --- notes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key ``name``, 4-byte ``key_hash`` (key ID) and the ``signature`` payload after it."""

    name: str
    key_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        _require_bytes(self.key_hash, "key ID", _KEY_HASH_SIZE)
        _require_bytes(self.signature, "signature")
        if not self.signature:
            raise NoteError("empty signature")

    def line(self) -> str:
        """The signature line, ending in newline."""
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_hash + self.signature)}\n"


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    where = f"signature line {number}"
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"{where} does not start with an em dash and a space: {_show(line)}")
    name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not space or not b64:
        raise NoteError(f"{where} has no signature after the key name")
    _check_name(name, f"{where}: key name")
    raw = _b64decode(b64, f"{where}: signature")
    if len(raw) <= _KEY_HASH_SIZE:
        raise NoteError(f"{where}: signature of {len(raw)} bytes is too short")
    return NoteSignature(name, raw[:_KEY_HASH_SIZE], raw[_KEY_HASH_SIZE:])


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking the format only (nothing verified)."""
    note = _require_str(note, "note")
    _check_chars(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("malformed note: no signature lines")
    if not block.endswith("\n"):
        raise NoteError("malformed note: it does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signature lines, more than {MAX_SIGNATURES}")
    return text, [_parse_signature_line(line, i) for i, line in enumerate(lines, 1)]


def _assemble(text: str, signatures: Sequence[NoteSignature]) -> str:
    if not signatures:
        raise NoteError("a signed note needs at least one signature")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note can carry at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(s.line() for s in signatures)


def _new_signatures(text: str, signers: Sequence[Signer]) -> list[NoteSignature]:
    message = text.encode("utf-8")
    out: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for signer in signers:
        if (signer.name, signer.key_hash) in seen:
            continue
        seen.add((signer.name, signer.key_hash))
        out.append(NoteSignature(signer.name, signer.key_hash, signer.sign(message)))
    return out


def _replace(existing: Sequence[NoteSignature], new: Sequence[NoteSignature]) -> list[NoteSignature]:
    """Existing lines, minus those of a key that signs anew, then the new lines (Go's ``note.Sign``)."""
    renewed = {(s.name, s.key_hash) for s in new}
    return [s for s in existing if (s.name, s.key_hash) not in renewed] + list(new)


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The signed note of ``text`` (which must end in newline) with one line per signer, in order."""
    text = _check_text(text)
    if not signers:
        raise NoteError("no signers")
    return _assemble(text, _new_signatures(text, signers))


def add_signatures(note: str, signers: Sequence[Signer]) -> str:
    """``note`` with the signers' lines appended; an existing line of the same key is replaced.

    The existing signatures are kept as they are, not verified.
    """
    text, existing = parse_note(note)
    if not signers:
        raise NoteError("no signers")
    return _assemble(text, _replace(existing, _new_signatures(text, signers)))


V = TypeVar("V", bound=NoteVerifier)


def verify_note(note: str, verifiers: Sequence[V]) -> tuple[str, list[V]]:
    """Verify ``note`` against the known ``verifiers``: return its text and the verifiers that signed it.

    Lines of unknown keys (name and key ID not both matching a verifier) are ignored.  Raises
    :class:`NoteError` if the note is malformed, if any line of a known key does not verify, or if no
    known key signed it.
    """
    text, signatures = parse_note(note)
    known: dict[tuple[str, bytes], V] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_hash)
        if key in known and known[key] != verifier:
            raise NoteError(f"two different verifiers for key {_key_label(*key)}")
        known.setdefault(key, verifier)
    message = text.encode("utf-8")
    verified: list[V] = []
    for sig in signatures:
        found = known.get((sig.name, sig.key_hash))
        if found is None:
            continue
        if not found.verify(message, sig.signature):
            raise NoteError(f"invalid signature for key {_key_label(sig.name, sig.key_hash)}")
        if found not in verified:
            verified.append(found)
    if not verified:
        raise NoteError("note has no verifiable signatures: no line from a known key")
    return text, verified


# --- checkpoints ---------------------------------------------------------------------------------------


def _check_line(value: object, what: str) -> str:
    value = _require_str(value, what)
    if not value:
        raise NoteError(f"{what} is empty")
    if "\n" in value:
        raise NoteError(f"{what} contains a newline")
    _check_chars(value, what)
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint: ``origin``, tree ``size``, 32-byte RFC 6962 ``root_hash``, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "checkpoint origin")
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise NoteError(f"tree size must be an int, not {type(self.size).__name__}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"tree size {self.size} is outside 0..2^64-1")
        _require_bytes(self.root_hash, "root hash", _HASH_SIZE)
        if not isinstance(self.extensions, tuple):
            raise NoteError(f"extensions must be a tuple of lines, not {type(self.extensions).__name__}")
        for i, line in enumerate(self.extensions, 1):
            _check_line(line, f"extension line {i}")

    def body(self) -> str:
        """The checkpoint text (the note text that the log signs)."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse checkpoint text (a note's text, ending in newline), with the spec's validation."""
        text = _require_str(text, "checkpoint")
        _check_chars(text, "checkpoint")
        if not text.endswith("\n"):
            raise NoteError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs an origin, a tree size and a root hash line")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not _TREE_SIZE.fullmatch(size_text):
            raise NoteError(f"tree size {_show(size_text)} is not a decimal number without leading zeros")
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise NoteError(f"tree size {size_text} does not fit in 64 bits")
        root_hash = _b64decode(root_text, "root hash")
        if len(root_hash) != _HASH_SIZE:
            raise NoteError(f"root hash is {len(root_hash)} bytes, expected {_HASH_SIZE}")
        for i, line in enumerate(extensions, 1):
            if not line:
                raise NoteError(f"extension line {i} is empty")
        return cls(origin, size, root_hash, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> str:
    """The signed checkpoint note.  The signer's key name must be the origin (the spec's recommendation)."""
    if signer.name != cp.origin:
        raise NoteError(
            f"log key name {_show(signer.name)} differs from the checkpoint origin {_show(cp.origin)}"
        )
    return sign_note(cp.body(), [signer])


def open_checkpoint(note: str, log_verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify the log's signature on a checkpoint note and parse its text.

    With ``origin``, the checkpoint's origin line must also be exactly that.  Cosignatures and other
    lines of unknown keys are ignored (see :func:`verify_cosignature`).
    """
    text, _ = verify_note(note, [log_verifier])
    cp = Checkpoint.parse(text)
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint origin {_show(cp.origin)} is not {_show(origin)}")
    return cp


# --- cosignatures --------------------------------------------------------------------------------------


def cosignature_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: ``cosignature/v1\\ntime <timestamp>\\n`` then the checkpoint text."""
    body = _require_str(body, "checkpoint")
    timestamp = _check_timestamp(timestamp)
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n".encode("ascii") + body.encode("utf-8")


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The timestamp in an Ed25519 cosignature line (not verified: use :func:`verify_cosignature`)."""
    payload = signature.signature
    if len(payload) != _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
        raise NoteError(
            f"signature of {_key_label(signature.name, signature.key_hash)} is {len(payload)} bytes, "
            f"not an Ed25519 cosignature ({_TIMESTAMP_SIZE + _SIGNATURE_SIZE})"
        )
    timestamp = int.from_bytes(payload[:_TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} exceeds 2^63-1")
    return timestamp


def cosign(note: str, witness: Signer, timestamp: int) -> str:
    """``note`` (a signed checkpoint) with ``witness``'s cosignature/v1 line for ``timestamp`` added.

    A previous cosignature line of the same witness key is replaced.  This does not verify the log's
    signature: a witness must have done that (:func:`open_checkpoint`) and checked consistency first.
    """
    text, existing = parse_note(note)
    Checkpoint.parse(text)
    timestamp = _check_timestamp(timestamp)
    payload = timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + witness.sign(cosignature_message(text, timestamp))
    line = NoteSignature(witness.name, cosignature_key_hash(witness.name, witness.public_key), payload)
    return _assemble(text, _replace(existing, [line]))


def verify_cosignature(note: str, witness: Verifier | CosignatureVerifier, *, now: int | None = None) -> int:
    """Verify ``witness``'s cosignature on a checkpoint note and return its timestamp.

    ``witness`` is the witness's key, as a plain :class:`Verifier` or as a :class:`CosignatureVerifier`
    (from a type 0x04 verifier key).  Raises :class:`NoteError` if the note is not a checkpoint note, if
    the witness has no cosignature line in it, if any of its lines does not verify, or (with ``now``) if
    the timestamp is later than ``now``.  If the witness signed more than once, the latest timestamp is
    returned.  The log's own signature is not checked here: use :func:`open_checkpoint` too.
    """
    cosigner = witness.cosignature_verifier() if isinstance(witness, Verifier) else witness
    text, signatures = parse_note(note)
    Checkpoint.parse(text)
    mine = [s for s in signatures if s.name == cosigner.name and s.key_hash == cosigner.key_hash]
    label = _key_label(cosigner.name, cosigner.key_hash)
    if not mine:
        raise NoteError(f"no cosignature from {label}")
    message = text.encode("utf-8")
    for sig in mine:
        if not cosigner.verify(message, sig.signature):
            raise NoteError(f"invalid cosignature from {label}")
    latest = max(cosignature_timestamp(sig) for sig in mine)
    if now is not None and latest > now:
        raise NoteError(f"cosignature from {label} is dated {latest}, after {now}")
    return latest
