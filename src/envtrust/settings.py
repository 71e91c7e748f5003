"""Settings from the environment (``ENVTRUST_*``), read once; command-line options override them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    bus: str | None = None  # cluster mode: NATS servers (nats://host:4222,…)
    keys: str | None = None  # the key directory
    public_url: str | None = None


# [server] keys of the site configuration file: name -> (type, environment variable)
SERVER_KEYS: dict[str, tuple[type, str]] = {
    "db": (str, "ENVTRUST_DB"),
    "host": (str, "ENVTRUST_HOST"),
    "port": (int, "ENVTRUST_PORT"),
    "http_port": (int, "ENVTRUST_HTTP_PORT"),
    "origin": (str, "ENVTRUST_ORIGIN"),
    "keys": (str, "ENVTRUST_KEYS"),
    "public_url": (str, "ENVTRUST_PUBLIC_URL"),
}


def load(server: Mapping[str, object] | None = None) -> Settings:
    """The process settings: environment variables over the ``[server]`` section of the site configuration file
    (when given) over the defaults.  Command-line options override all three."""
    from .errors import ConfigError

    file: dict[str, object] = {}
    for key, value in (server or {}).items():
        if key not in SERVER_KEYS:
            raise ConfigError(f"[server]: unknown key {key!r}; known: {', '.join(SERVER_KEYS)}")
        kind = SERVER_KEYS[key][0]
        if isinstance(value, bool) or not isinstance(value, kind) or (kind is str and not value):
            raise ConfigError(
                f"[server] {key}: expected {'a whole number' if kind is int else 'text'}, got {value!r}"
            )
        if kind is int and not 0 <= value <= 65535:  # type: ignore[operator]
            raise ConfigError(f"[server] {key}: a port number (0–65535), got {value!r}")
        file[key] = value
    env = os.environ

    def pick(key: str, default: object) -> object:
        name = SERVER_KEYS[key][1]
        if env.get(name):
            return env[name]
        return file.get(key, default)

    return Settings(
        db=str(pick("db", DEFAULT_DB)),
        host=str(pick("host", "0.0.0.0")),
        port=int(pick("port", DEFAULT_HJ212_PORT)),  # type: ignore[call-overload]
        http_port=int(pick("http_port", DEFAULT_HTTP_PORT)),  # type: ignore[call-overload]
        origin=str(pick("origin", DEFAULT_ORIGIN)),
        bus=env.get("ENVTRUST_BUS") or None,
        keys=str(k) if (k := pick("keys", None)) is not None else None,
        public_url=str(u) if (u := pick("public_url", None)) is not None else None,
    )


# the sections of the site configuration file (envtrust.toml), each validated strictly by its consumer
CONFIG_SECTIONS = ("server", "checks", "alarms", "notify", "monitor", "cluster", "upstream")


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The site configuration file: TOML with the tables ``[server]`` (database, addresses, ledger origin, key
    directory; the environment overrides them), ``[checks.<check>]`` (check parameters), ``[alarms]``
    (lifecycle and escalation), ``[notify]`` (webhook and e-mail channels), ``[monitor]`` (streaming windows),
    ``[cluster]`` (the NATS servers, the frame stream and its partitions) and ``[[upstream]]`` (platforms to forward
    accepted frames to).
    An unknown section is an error; each section's keys are checked by the part that uses it."""
    import tomllib

    from .errors import ConfigError

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key, value in doc.items():
        if key not in CONFIG_SECTIONS:
            raise ConfigError(f"{path}: unknown section [{key}]; known: {', '.join(CONFIG_SECTIONS)}")
        if key == "upstream":
            if not isinstance(value, list):
                raise ConfigError(f"{path}: upstream platforms are [[upstream]] tables, one per platform")
        elif not isinstance(value, dict):
            raise ConfigError(f"{path}: [{key}] must be a table")
    return doc
