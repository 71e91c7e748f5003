"""The streaming monitor in its own process, so that checking never competes with the gateway for the GIL.

The gateway's writer thread hands each committed batch to :meth:`MonitorProcess.committed`, which puts a compact,
picklable form of it (frame id, MN, QN, readings) on a queue; a child process runs an ordinary
:class:`~envtrust.alarms.monitor.Monitor` over its own connection to the same database, with its own alarm book and
notification channels.  If the child dies, nothing acknowledged is lost: frames are stored before they are checked,
and a new monitor warms its windows from the store, re-evaluates them and raises what was not yet raised.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ..registry import Point
from ..services import Prepared
from ..store import Store, WriteResult, open_store
from .monitor import Monitor, MonitorStats, work_of

__all__ = ["MonitorProcess"]

log = logging.getLogger(__name__)


class _Registry:
    """The registered points, re-read from the store at most every ``ttl`` seconds (registry loads happen in
    other processes)."""

    def __init__(self, store: Store, ttl: float = 30.0) -> None:
        self.store = store
        self.ttl = ttl
        self._points: dict[str, Point] = {}
        self._at = -ttl

    def __call__(self) -> Mapping[str, Point]:
        now = time.monotonic()
        if now - self._at >= self.ttl:
            self._points = {p.mn: p for p in self.store.points()}
            self._at = now
        return self._points


def _child(
    url: str, config: Mapping[str, Any], link_base: str | None, inbox: Any, outbox: Any, parent: int
) -> None:
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole group; the parent says when to stop
    from .setup import monitoring

    store = open_store(url, migrate=False)
    watch = monitoring(store, _Registry(store), config, link_base=link_base, record=False, processes=0)
    monitor = watch.monitor
    assert isinstance(monitor, Monitor)
    monitor.start()
    outbox.put(("ready",))
    try:
        while True:
            try:
                msg = inbox.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the server is gone: stop rather than linger
                    break
                continue
            if msg[0] == "work":
                monitor.submit(msg[1], msg[2])
            elif msg[0] == "sync":
                monitor.wait_idle()
                stats = asdict(monitor.stats)
                stats["latencies_ms"] = list(stats["latencies_ms"])
                outbox.put(("sync", msg[1], stats))
            elif msg[0] == "stop":
                break
    finally:
        watch.close()
        store.close()


class MonitorProcess:
    """The interface of :class:`~envtrust.alarms.monitor.Monitor` (committed, start, stop, wait_idle, stats), with
    the checking done in a child process.  A watchdog restarts a child that dies (with fresh queues: a killed
    process may leave a queue's lock held); the new child reads the windows back from the store, so the frames
    committed meanwhile are checked too."""

    def __init__(
        self, url: str, config: Mapping[str, Any] | None = None, *, link_base: str | None = None
    ) -> None:
        self.url = url
        self.config = dict(config or {})
        self.link_base = link_base
        self._ctx = mp.get_context("spawn")  # no fork: the parent has threads and open database connections
        self._lock = threading.Lock()
        self._inbox: Any = None
        self._outbox: Any = None
        self._proc: Any = None
        self._token = 0
        self._last = MonitorStats()
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.restarts = 0

    def _spawn(self, timeout: float = 60.0) -> None:
        inbox, outbox = self._ctx.Queue(), self._ctx.Queue()
        proc = self._ctx.Process(
            target=_child,
            args=(self.url, self.config, self.link_base, inbox, outbox, os.getpid()),
            name="envtrust-checks",
            daemon=True,
        )
        proc.start()
        try:
            msg = outbox.get(timeout=timeout)
        except queue.Empty:
            proc.terminate()
            raise RuntimeError("the checking process did not start") from None
        if msg[0] != "ready":  # pragma: no cover - protocol error
            raise RuntimeError(f"the checking process said {msg!r}")
        with self._lock:
            self._inbox, self._outbox, self._proc = inbox, outbox, proc

    def start(self, timeout: float = 60.0) -> None:
        self._spawn(timeout)
        self._watchdog = threading.Thread(target=self._watch, name="envtrust-checks-watchdog", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            proc = self._proc
            if proc is None or proc.is_alive() or self._stopping.is_set():
                continue
            log.error("the checking process died (exit code %s); starting another", proc.exitcode)
            try:
                self._spawn()
                self.restarts += 1
            except Exception:  # try again at the next round
                log.exception("restarting the checking process failed")

    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def committed(self, batch: Sequence[Prepared], results: Sequence[WriteResult]) -> None:
        work = work_of(batch, results)
        with self._lock:
            if work and self._proc is not None and self._proc.is_alive():
                self._inbox.put(("work", time.monotonic(), work))

    def _sync(self, timeout: float | None) -> dict[str, Any] | None:
        if self._proc is None or not self._proc.is_alive():
            return None
        self._token += 1
        self._inbox.put(("sync", self._token))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                msg = self._outbox.get(timeout=left)
            except queue.Empty:
                return None
            if msg[0] == "sync" and msg[1] == self._token:
                stats: dict[str, Any] = msg[2]
                return stats

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the child has checked everything handed to it so far."""
        stats = self._sync(timeout)
        if stats is not None:
            self._last = MonitorStats(**stats)
        return stats is not None

    @property
    def stats(self) -> MonitorStats:
        """The child's statistics after everything handed to it so far (a round trip)."""
        self.wait_idle(60)
        return self._last

    def stop(self, timeout: float | None = 30.0) -> None:
        """Check what is queued, then stop the child."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join(5)
        if self._proc is None or not self._proc.is_alive():
            return
        self.wait_idle(timeout)
        self._inbox.put(("stop",))
        self._proc.join(timeout)
        if self._proc.is_alive():  # pragma: no cover - a stuck child
            log.error("the checking process did not stop; terminating it")
            self._proc.terminate()
            self._proc.join(5)
        with contextlib.suppress(Exception):
            self._inbox.close()
            self._outbox.close()
