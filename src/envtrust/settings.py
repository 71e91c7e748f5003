"""Settings from the environment (``ENVTRUST_*``), read once; command-line options override them."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DB = "sqlite:///envtrust.db"
DEFAULT_HJ212_PORT = 6212
DEFAULT_HTTP_PORT = 8212
DEFAULT_ORIGIN = "envtrust.local/ledger"  # the ledger's name in checkpoints (C2SP origin); set per deployment


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "0.0.0.0"
    port: int = DEFAULT_HJ212_PORT
    http_port: int = DEFAULT_HTTP_PORT
    origin: str = DEFAULT_ORIGIN


def load() -> Settings:
    env = os.environ
    return Settings(
        db=env.get("ENVTRUST_DB", DEFAULT_DB),
        host=env.get("ENVTRUST_HOST", "0.0.0.0"),
        port=int(env.get("ENVTRUST_PORT", DEFAULT_HJ212_PORT)),
        http_port=int(env.get("ENVTRUST_HTTP_PORT", DEFAULT_HTTP_PORT)),
        origin=env.get("ENVTRUST_ORIGIN", DEFAULT_ORIGIN),
    )
