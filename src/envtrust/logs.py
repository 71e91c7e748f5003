"""Logging of the long-running commands (``envtrust serve``): readable lines for a terminal, or one JSON object
per line for a log collector (journald, Loki, Elasticsearch), with the time in UTC, level, logger, message and,
for an error, the exception."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime

import orjson

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str | None = None) -> None:
        super().__init__()
        self.role = role
        self.pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": self.pid,
        }
        if self.role is not None:
            doc["role"] = self.role
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def setup(fmt: str = "text", level: str = "info", *, role: str | None = None) -> None:
    """Send envtrust's and its libraries' log records to standard error in ``fmt`` from ``level`` up."""
    if fmt not in FORMATS:
        raise ValueError(f"log format: one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(role))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
