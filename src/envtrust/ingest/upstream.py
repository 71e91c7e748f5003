"""Upstream forwarding: accepted frames sent on to other HJ 212 platforms (a city's, the province's, the nation's).

The frames table is the outbox: each upstream has a position (``upstreams.acked_upto``, a frame id) and gets every
accepted frame after it, in id order (the order of commit), in windows of ``window`` frames over one TCP
connection, as a data logger would send them — byte-exact (``dialect = "raw"``) or re-encoded in HJ 212-2017
(``dialect = "2017"``: 2005 codes mapped, the Flag's A bit set, an upstream ``pw`` when given).  A window counts as
delivered when the upstream has answered every frame of it that asks for an answer (9014, or a 9011 refusal, which is
counted and not retried: sending it again cannot help); then the position moves past it.  When the upstream is
down, slow or silent, the connection is dropped and the window sent again after a back-off (1 s doubling to 60 s),
for as long as it takes: an upstream that was down for an hour receives everything, in order, when it returns.
Delivery is at least once (a window cut off mid-way is sent again whole; HJ 212 platforms recognise a repeated QN).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import hj212
from ..errors import ConfigError
from ..registry import Point
from ..store import Store

log = logging.getLogger(__name__)

DIALECTS = ("raw", "2017")


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    name: str
    host: str
    port: int
    dialect: str = "raw"
    pw: str | None = None  # the access password the upstream expects (re-encoded frames only)
    regions: tuple[str, ...] = ()  # forward the points of these region-code prefixes (empty: every point)
    mns: tuple[str, ...] = ()  # … or of these MNs
    window: int = 100  # frames sent before waiting for their answers
    ack_timeout: float = 10.0  # seconds to wait for the answers of a window
    require_ack: bool = True  # wait for the answers of frames that ask for one

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


_KEYS: dict[str, type] = {
    "name": str, "host": str, "port": int, "dialect": str, "pw": str, "regions": list, "mns": list,
    "window": int, "ack_timeout": float, "require_ack": bool,
}  # fmt: skip


def upstreams_config(tables: Any) -> list[UpstreamConfig]:
    """The ``[[upstream]]`` tables of the site configuration file, checked strictly."""
    if tables is None:
        return []
    if not isinstance(tables, list):
        raise ConfigError("[[upstream]]: an array of tables, one per upstream platform")
    out: list[UpstreamConfig] = []
    for i, t in enumerate(tables, 1):
        where = f"[[upstream]] #{i}"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: must be a table")
        for key, value in t.items():
            kind = _KEYS.get(key)
            if kind is None:
                raise ConfigError(f"{where}: unknown key {key!r}; known: {', '.join(_KEYS)}")
            ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok or (kind is list and not all(isinstance(x, str) and x for x in value)):
                raise ConfigError(f"{where} {key}: expected {kind.__name__}, got {value!r}")
        for key in ("name", "host", "port"):
            if key not in t:
                raise ConfigError(f"{where}: {key} is required")
        if t.get("dialect", "raw") not in DIALECTS:
            raise ConfigError(f"{where} dialect: one of {', '.join(DIALECTS)}")
        if not 0 < t["port"] < 65536 or t.get("window", 100) < 1 or t.get("ack_timeout", 10.0) <= 0:
            raise ConfigError(f"{where}: port 1–65535, window ≥ 1, ack_timeout > 0")
        if any(u.name == t["name"] for u in out):
            raise ConfigError(f"{where}: the name {t['name']!r} is used twice")
        out.append(
            UpstreamConfig(
                name=t["name"],
                host=t["host"],
                port=t["port"],
                dialect=t.get("dialect", "raw"),
                pw=t.get("pw"),
                regions=tuple(t.get("regions", ())),
                mns=tuple(t.get("mns", ())),
                window=t.get("window", 100),
                ack_timeout=float(t.get("ack_timeout", 10.0)),
                require_ack=t.get("require_ack", True),
            )
        )
    return out


@dataclass(slots=True)
class ForwarderStats:
    sent: int = 0
    acks: int = 0
    refused: int = 0
    windows: int = 0
    failures: int = 0
    connected: bool = False
    last_error: str | None = None
    position: int = 0


@dataclass(slots=True)
class _Window:
    last_id: int
    data: list[bytes] = field(default_factory=list)
    expected: int = 0


class Forwarder:
    """Forwards to one upstream until cancelled (``await forwarder.run()`` in a task)."""

    def __init__(
        self,
        store: Store,
        cfg: UpstreamConfig,
        points: Callable[[], Mapping[str, Point]],
        *,
        poll_s: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.points = points
        self.poll_s = poll_s
        self.max_backoff = max_backoff
        self.stats = ForwarderStats()
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def _selected(self, mn: str | None) -> bool:
        cfg = self.cfg
        if not cfg.regions and not cfg.mns:
            return True
        if mn is None:
            return False
        if mn in cfg.mns:
            return True
        point = self.points().get(mn)
        return point is not None and any(point.region.startswith(r) for r in cfg.regions)

    def _window(self, rows: Sequence[Mapping[str, Any]]) -> _Window:
        w = _Window(int(rows[-1]["id"]))
        for r in rows:
            if not self._selected(r["mn"]):
                continue
            raw = bytes(r["raw"])
            decoder = hj212.Decoder(modbus_crc=frozenset({r["mn"]}))
            events = decoder.feed(raw) + decoder.flush()
            frame = next((e for e in events if isinstance(e, hj212.Frame)), None)
            if self.cfg.dialect == "2017" and frame is not None:
                w.data.append(hj212.to_2017(frame, pw=self.cfg.pw, ack=self.cfg.require_ack))
                w.expected += int(self.cfg.require_ack)
            else:
                w.data.append(raw)
                w.expected += int(self.cfg.require_ack and frame is not None and frame.needs_reply)
        return w

    def _rows(self, after: int) -> list[dict[str, Any]]:
        return list(self.store.frames(status="ok", after_id=after, limit=self.cfg.window))

    async def run(self) -> None:
        cfg = self.cfg
        state = await asyncio.to_thread(self.store.upstream, cfg.name, cfg.address)
        position = int(state["acked_upto"])
        self.stats.position = position
        backoff = 1.0
        try:
            while True:
                rows = await asyncio.to_thread(self._rows, position)
                if not rows:
                    await asyncio.sleep(self.poll_s)
                    continue
                window = self._window(rows)
                try:
                    acks, refused = await self._deliver(window) if window.data else (0, 0)
                except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                    self._close()
                    self.stats.failures += 1
                    reason = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                    self.stats.last_error = reason
                    log.warning(
                        "upstream %s (%s): %s; retrying in %.1fs", cfg.name, cfg.address, reason, backoff
                    )
                    await asyncio.to_thread(
                        self.store.upstream_progress, cfg.name, acked_upto=position, error=reason
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                backoff = 1.0
                position = window.last_id
                self.stats.position = position
                self.stats.sent += len(window.data)
                self.stats.acks += acks
                self.stats.refused += refused
                self.stats.windows += 1
                self.stats.last_error = None
                await asyncio.to_thread(
                    self.store.upstream_progress,
                    cfg.name,
                    acked_upto=position,
                    sent=len(window.data),
                    acks=acks,
                    refused=refused,
                )
        finally:
            self._close()

    async def _deliver(self, window: _Window) -> tuple[int, int]:
        """Send a window and read the answers it asks for; (acknowledged, refused)."""
        if self._conn is None:
            self._conn = await asyncio.wait_for(asyncio.open_connection(self.cfg.host, self.cfg.port), 5.0)
            self.stats.connected = True
        reader, writer = self._conn
        writer.write(b"".join(window.data))
        await asyncio.wait_for(writer.drain(), self.cfg.ack_timeout)
        acks = refused = 0
        decoder = hj212.Decoder()
        async with asyncio.timeout(self.cfg.ack_timeout):
            while acks + refused < window.expected:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("the upstream closed the connection")
                for e in decoder.feed(data):
                    if not isinstance(e, hj212.Frame):
                        continue
                    if e.cn == "9014":
                        acks += 1
                    elif e.cn == "9011" and e.cp.get("QnRtn", "1") != "1":
                        refused += 1
                        log.warning("upstream %s refused a frame: QnRtn=%s", self.cfg.name, e.cp.get("QnRtn"))
        return acks, refused

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn[1].close()
            self._conn = None
        self.stats.connected = False


def lag_seconds(state: Mapping[str, Any], now_us: int | None = None) -> float | None:
    """How long the oldest frame not yet delivered has waited (None: nothing waits)."""
    first = state.get("oldest_unacked_us")
    if first is None:
        return None
    return max(0.0, ((now_us if now_us is not None else time.time_ns() // 1000) - int(first)) / 1e6)
