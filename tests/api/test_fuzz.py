"""The API against its own OpenAPI document, fuzzed with schemathesis: no 5xx, every status and body documented.

The application is built when the module is collected (schemathesis parametrizes per operation at collection),
over a SQLite file in a temporary directory with a point, an alarm and an admin's API token.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import REGISTRY_TOML  # the shared registry (tests/conftest.py)
from envtrust.alarms.book import AlarmBook
from envtrust.api import create_app
from envtrust.keys import ledger_signer
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import parse_registry
from envtrust.store import open_store
from envtrust.workflow.identity import Accounts

MN = "21010012345678"  # the flue-gas point of the shared registry


def _app() -> tuple[Any, str]:
    tmp = Path(tempfile.mkdtemp(prefix="envtrust-fuzz-"))
    atexit.register(shutil.rmtree, tmp, True)
    store = open_store(f"sqlite:///{tmp / 'e.db'}")
    atexit.register(store.close)
    store.load_registry(parse_registry(REGISTRY_TOML))
    finding = Finding(MN, "a21026", "flat_line", "tampering", "high", 1_767_225_600, 1_767_229_200, "m", {})
    AlarmBook(store).apply([Evaluation(MN, [finding], ("flat_line",), 1_767_229_200)])
    acc = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    acc.create("admin1", "admin", who="setup", password=None)
    token = acc.create_token("admin1", "fuzz", who="setup")[1]
    signer = ledger_signer("fuzz.envtrust/ledger", tmp / "keys", create=True)
    return create_app(store, log_verifier=signer.verifier()), token


APP, TOKEN = _app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


# A schema-valid request may still be refused on purpose: relations between parameters (old ≤ new ≤ the newest
# checkpoint, index < size) are not expressible in OpenAPI, so "valid data must be accepted" does not apply.
EXCLUDED = [positive_data_acceptance]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=EXCLUDED)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document_for_the_public(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


def _expand(words: list[str]) -> list[str]:
    """``["trace", "reading|hour|day", "{mn}"]`` → every alternative, joined by spaces."""
    import itertools

    return [" ".join(c) for c in itertools.product(*(w.split("|") for w in words))]


def test_every_route_and_command_is_documented() -> None:
    """Every API route of the OpenAPI document, and every CLI command, appears in ``docs/`` (parameter names aside;
    ``a|b`` in a path segment or a command word stands for each alternative)."""
    import re

    import typer

    from envtrust.cli import app as cli

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = "\n".join(p.read_text(encoding="utf-8") for p in docs.rglob("*.md")).replace("\\|", "|")
    documented = set()
    for found in re.findall(r"/api/v1/[\w{}|/.-]*", text):
        segments = [re.sub(r"\{[^}]*\}", "{}", seg) for seg in found.rstrip("/.").split("/")]
        documented |= {"/".join(e.split(" ")) for e in _expand(segments)}
    missing = []
    for path in APP.openapi()["paths"]:
        normal = re.sub(r"\{[^}]*\}", "{}", path)
        if normal not in documented:
            missing.append(path)
    assert not missing, f"routes not in docs/: {missing}"

    def commands(group: typer.Typer, prefix: str) -> list[str]:
        out = [
            f"{prefix} {c.name or (c.callback.__name__ if c.callback else '')}".strip()
            for c in group.registered_commands
        ]
        for sub in group.registered_groups:
            out += commands(sub.typer_instance, f"{prefix} {sub.name}".strip())  # type: ignore[arg-type]
        return out

    said = set()
    for found in re.findall(r"`(envtrust [^`]*)`", text):
        words = [w for w in found.split() if re.fullmatch(r"[a-z][a-z0-9|-]*", w)]
        for n in range(1, len(words) + 1):
            said |= set(_expand(words[:n]))
    every = commands(cli, "envtrust")
    assert len(every) > 40 and "envtrust trace" in every and "envtrust accounts token revoke" in every
    undocumented = [c for c in every if c not in said]
    assert not undocumented, f"commands not in docs/: {undocumented}"
