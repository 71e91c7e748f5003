"""The site configuration: the documented example loads; every mistake is an error naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envtrust import settings
from envtrust.alarms.monitor import Monitor
from envtrust.alarms.process import MonitorProcess
from envtrust.alarms.setup import monitoring
from envtrust.errors import AlarmError, ConfigError
from envtrust.store import Store, open_store

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = open_store(f"sqlite:///{tmp_path / 'e.db'}")
    yield st
    st.close()


def _example(tmp_path: Path) -> Path:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    path = tmp_path / "envtrust.toml"
    path.write_text(block.group(1), encoding="utf-8")
    return path


def test_the_documented_example_configures_everything(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVTRUST_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("ENVTRUST_SMTP_PASSWORD", "pw")
    config = settings.load_file(_example(tmp_path))
    watch = monitoring(store, dict, config)
    assert isinstance(watch.monitor, MonitorProcess) and watch.book is None
    flat = next(p for c, p in watch.configured.checks if c.name == "flat_line")
    assert flat["fail_minutes"] == 90
    assert watch.config_entry is not None  # the configuration in force is ledgered …
    again = monitoring(store, dict, config, processes=0)
    assert again.config_entry is None  # … once, until it changes
    assert isinstance(again.monitor, Monitor) and again.book is not None
    assert again.book.policy.notify_severity == "medium" and again.notifier is not None
    assert again.notifier.channels == [
        "webhook:duty.example.gov.cn",
        "smtp:smtp.example.gov.cn",
    ]
    again.notifier.close()


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("[alarm]\nx = 1\n", ConfigError, "unknown section [alarm]"),
        ("[checks.flat_lines]\nfail_minutes = 1\n", ConfigError, "unknown check 'flat_lines'"),
        ("[checks.flat_line]\nfail_minutes = 'x'\n", ConfigError, "expected a number"),
        ("[alarms]\nescalate_after = 5\n", AlarmError, "unknown key 'escalate_after'"),
        ("[monitor]\nwindow_days = 0\n", ConfigError, "must be at least 1"),
        ("[monitor]\nprocesses = 2\n", ConfigError, "0 or 1"),
        ("[monitor]\nlag = 5\n", ConfigError, "unknown key 'lag'"),
        ("[[notify.webhook]]\nurl = 5\n", ConfigError, "notify.webhook[0].url"),
        ("checks = 1\n", ConfigError, "[checks] must be a table"),
        ("[monitor\n", ConfigError, "not valid TOML"),
    ],
)
def test_configuration_mistakes_are_errors(
    tmp_path: Path, store: Store, text: str, error: type[Exception], message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(error) as caught:
        monitoring(store, dict, settings.load_file(path), processes=0)
    assert message in str(caught.value)
