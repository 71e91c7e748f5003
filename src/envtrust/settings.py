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
    bus: str | None = None  # cluster mode: NATS servers (nats://host:4222,…)


def load() -> Settings:
    env = os.environ
    return Settings(
        db=env.get("ENVTRUST_DB", DEFAULT_DB),
        host=env.get("ENVTRUST_HOST", "0.0.0.0"),
        port=int(env.get("ENVTRUST_PORT", DEFAULT_HJ212_PORT)),
        http_port=int(env.get("ENVTRUST_HTTP_PORT", DEFAULT_HTTP_PORT)),
        origin=env.get("ENVTRUST_ORIGIN", DEFAULT_ORIGIN),
        bus=env.get("ENVTRUST_BUS") or None,
    )


# the sections of the site configuration file (envtrust.toml), each validated strictly by its consumer
CONFIG_SECTIONS = ("checks", "alarms", "notify", "monitor", "cluster")


def load_file(path: str | os.PathLike[str]) -> dict[str, dict[str, object]]:
    """The site configuration file: TOML with the tables ``[checks.<check>]`` (check parameters), ``[alarms]``
    (lifecycle and escalation), ``[notify]`` (webhook and e-mail channels), ``[monitor]`` (streaming windows) and
    ``[cluster]`` (the NATS servers, the frame stream and its partitions).
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
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{key}] must be a table")
    return doc
