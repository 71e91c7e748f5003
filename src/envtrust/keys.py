"""Key files: Ed25519 keys of the log (signing checkpoints), of witnesses, and later of people.

A key NAME lives in the key directory (``--keys DIR``, env ``ENVTRUST_KEYS``, default ``./keys``) as two files:
``<stem>.skey`` (the private key in the C2SP/Go note format ``PRIVATE+KEY+name+hash+base64``, mode 0600) and
``<stem>.vkey`` (the public verifier key ``name+hash+base64``, safe to publish).  ``stem`` is the name with
``/`` and other unsafe characters replaced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .ledger.note import NoteError, Signer, Verifier

__all__ = [
    "KeyInfo",
    "create_key",
    "default_dir",
    "ledger_signer",
    "list_keys",
    "load_signer",
    "load_verifier",
    "stem_of",
]


def default_dir() -> Path:
    return Path(os.environ.get("ENVTRUST_KEYS", "keys"))


def stem_of(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    vkey: str
    key_hash: str
    private: bool
    path: Path


def create_key(name: str, directory: Path | None = None, *, overwrite: bool = False) -> Signer:
    d = directory or default_dir()
    d.mkdir(parents=True, exist_ok=True)
    stem = stem_of(name)
    skey, vkey = d / f"{stem}.skey", d / f"{stem}.vkey"
    if skey.exists() and not overwrite:
        raise ConfigError(f"key {name} exists already ({skey}); keys are never overwritten silently")
    try:
        signer = Signer.generate(name)
    except NoteError as exc:
        raise ConfigError(f"cannot make a key named {name!r}: {exc}") from None
    fd = os.open(skey, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(signer.skey() + "\n")
    vkey.write_text(signer.verifier().vkey() + "\n", encoding="utf-8")
    return signer


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from None


def load_signer(name_or_path: str, directory: Path | None = None) -> Signer:
    p = Path(name_or_path)
    if p.suffix != ".skey":
        p = (directory or default_dir()) / f"{stem_of(name_or_path)}.skey"
    try:
        return Signer.from_skey(_read(p))
    except NoteError as exc:
        raise ConfigError(f"{p}: not a private key: {exc}") from None


def load_verifier(name_or_path: str, directory: Path | None = None) -> Verifier:
    """A public key from a .vkey file, a key name in the key directory, or a vkey string itself."""
    if "+" in name_or_path and not Path(name_or_path).exists():
        try:
            return Verifier.from_vkey(name_or_path)
        except NoteError:
            pass
    p = Path(name_or_path)
    if p.suffix not in (".vkey", ".skey"):
        p = (directory or default_dir()) / f"{stem_of(name_or_path)}.vkey"
    text = _read(p)
    try:
        return Signer.from_skey(text).verifier() if p.suffix == ".skey" else Verifier.from_vkey(text)
    except NoteError as exc:
        raise ConfigError(f"{p}: not a key: {exc}") from None


def ledger_signer(
    origin: str,
    directory: Path | None = None,
    *,
    create: bool,
    on_create: Callable[[Path, str], None] | None = None,
) -> Signer:
    """The ledger's signing key, named after its origin; created on first use when ``create``."""
    d = directory or default_dir()
    if not (d / f"{stem_of(origin)}.skey").exists():
        if not create:
            raise ConfigError(
                f"no ledger key for {origin} in {d}; create it with: envtrust keys create {origin}"
            )
        signer = create_key(origin, d)
        if on_create is not None:
            on_create(d, signer.verifier().vkey())
        return signer
    return load_signer(origin, d)


def list_keys(directory: Path | None = None) -> list[KeyInfo]:
    d = directory or default_dir()
    out = []
    for vkey in sorted(d.glob("*.vkey")) if d.is_dir() else []:
        try:
            v = Verifier.from_vkey(_read(vkey))
        except NoteError:
            continue
        out.append(KeyInfo(v.name, v.vkey(), v.key_hash.hex(), vkey.with_suffix(".skey").exists(), vkey))
    return out
