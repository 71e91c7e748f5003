"""Schema migrations with Alembic, run programmatically (no alembic.ini needed)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_LOCATION = "envtrust.store:migrations"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _LOCATION)
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(_config_none())
    head = script.get_current_head()
    assert head is not None
    return head


def _config_none() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _LOCATION)
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and check_current(engine):
        return
    command.upgrade(_config(engine.execution_options(envtrust_write=True)), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Back to an older revision (tests of migrations; never run by envtrust itself)."""
    command.downgrade(_config(engine.execution_options(envtrust_write=True)), revision)
