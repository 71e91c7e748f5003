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
from .process import MonitorProcess

__all__ = ["MONITOR_KEYS", "Monitoring", "monitoring"]

CONFIG_WHY = "check configuration in force from this start"

# [monitor] keys: name -> (type, minimum, default)
MONITOR_KEYS: dict[str, tuple[type, float, float]] = {
    "window_days": (int, 1, 3),
    "lag_s": (int, 0, 120),
    "sweep_s": (float, 1, 60.0),
    "fleet_s": (float, 10, 600.0),
    "processes": (int, 0, 1),  # 1: checks in a child process (the default); 0: in a thread of the server
}


@dataclass
class Monitoring:
    book: AlarmBook | None  # None when the checks run in a child process (it has its own)
    monitor: Monitor | MonitorProcess
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
        if key == "processes" and value > 1:
            raise ConfigError("[monitor] processes: 0 or 1 (more checking processes come with cluster mode)")
        out[key] = kind(value)
    return out


def monitoring(
    store: Store,
    points: Callable[[], Mapping[str, Point]],
    config: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    link_base: str | None = None,
    who: str = "envtrust serve",
    record: bool = True,
    processes: int | None = None,
) -> Monitoring:
    """Everything the streaming checks need, validated strictly; the check configuration is ledgered (``record``)
    when it differs from the one in force.  ``processes`` (default: ``[monitor] processes``, 1) puts the checks in a
    child process with its own database connection; 0 runs them in a thread of this process."""
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
    in_child = options.pop("processes", 1) if processes is None else processes
    options.pop("processes", None)
    if in_child:
        entry = record_config(store, configured, who=who, why=CONFIG_WHY) if record else None
        url = store.engine.url.render_as_string(hide_password=False)
        return Monitoring(None, MonitorProcess(url, config, link_base=link_base), None, configured, entry)
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
    entry = record_config(store, configured, who=who, why=CONFIG_WHY) if record else None
    monitor = Monitor(store, book, configured, points, **options)
    return Monitoring(book, monitor, notifier, configured, entry)
