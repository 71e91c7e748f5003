"""Putting the monitoring together for ``envtrust serve``: checks, alarm policy, notification channels and the
streaming monitor, from the site configuration file (``[checks]``, ``[alarms]``, ``[notify]``, ``[monitor]``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import qc
from ..errors import ConfigError
from ..quality import record_config
from ..registry import Point
from ..store import Store
from .book import AlarmBook, AlarmPolicy
from .monitor import Monitor
from .notify import Notifier, channels_from_config

__all__ = ["MONITOR_KEYS", "Monitoring", "monitoring"]

# [monitor] keys: name -> (type, minimum, default)
MONITOR_KEYS: dict[str, tuple[type, float, float]] = {
    "window_days": (int, 1, 3),
    "lag_s": (int, 0, 120),
    "sweep_s": (float, 1, 60.0),
    "fleet_s": (float, 10, 600.0),
}


@dataclass
class Monitoring:
    book: AlarmBook
    monitor: Monitor
    notifier: Notifier | None
    configured: qc.Configured
    config_entry: int | None  # ledger index of the configuration, when it changed at this start

    def close(self) -> None:
        self.monitor.stop()
        if self.notifier is not None:
            self.notifier.close(timeout=10)


def _monitor_options(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in MONITOR_KEYS:
            raise ConfigError(f"[monitor]: unknown key {key!r}; known: {', '.join(MONITOR_KEYS)}")
        kind, minimum, _ = MONITOR_KEYS[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and value != int(value))
        ):
            raise ConfigError(
                f"[monitor] {key}: expected a {'whole ' if kind is int else ''}number, got {value!r}"
            )
        if value < minimum:
            raise ConfigError(f"[monitor] {key}: must be at least {minimum:g}, got {value!r}")
        out[key] = kind(value)
    return out


def monitoring(
    store: Store,
    points: Callable[[], Mapping[str, Point]],
    config: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    link_base: str | None = None,
    who: str = "envtrust serve",
) -> Monitoring:
    """Everything the streaming checks need, validated strictly; the check configuration is ledgered when it
    differs from the one in force."""
    config = config or {}
    try:
        configured = qc.configure(config.get("checks", {}))
    except qc.CatalogueError as exc:
        raise ConfigError(f"[checks]: {exc}") from None
    policy = AlarmPolicy.from_config(config.get("alarms", {}))
    try:
        channels = channels_from_config(config.get("notify", {}))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    options = _monitor_options(config.get("monitor", {}))
    base = link_base.rstrip("/") if link_base else None
    book = AlarmBook(
        store,
        policy,
        points=lambda mn: points().get(mn),
        link=(lambda i: f"{base}/alarms/{i}") if base else None,
    )
    notifier = Notifier(channels, on_result=book.record_delivery) if channels else None
    if notifier is not None:
        book.notify = notifier.submit
    entry = record_config(store, configured, who=who, why="check configuration in force from this start")
    monitor = Monitor(store, book, configured, points, **options)
    return Monitoring(book, monitor, notifier, configured, entry)
