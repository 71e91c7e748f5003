"""End to end: the fleet against a small HJ 212 host on 127.0.0.1 that decodes frames and answers 9014."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from envtrust.hj212 import Decoder, Frame, reply_for
from envtrust.registry import Point
from envtrust.sim.fleet import FleetStats, outage_windows, run_fleet
from envtrust.sim.frames import FrameSource
from envtrust.sim.physics import PointModel, local_seconds

from .support import gas_point, water_point

START = datetime(2026, 3, 2, 8, 0, 0)


@dataclass
class Host:
    """A minimal HJ 212 host: records every frame per MN (with the connection number) and acknowledges it."""

    drop_first_reply: Callable[[Frame], bool] = lambda f: False
    frames: dict[str, list[tuple[int, Frame]]] = field(default_factory=dict)
    connections: dict[str, int] = field(default_factory=dict)
    errors: list[object] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _conn: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conn += 1
        conn = self._conn
        self._writers.append(writer)
        decoder = Decoder()
        counted = False
        try:
            while data := await reader.read(65536):
                for ev in decoder.feed(data):
                    if not isinstance(ev, Frame):
                        self.errors.append(ev)
                        continue
                    mn = ev.mn or ""
                    if not counted:
                        self.connections[mn] = self.connections.get(mn, 0) + 1
                        counted = True
                    self.frames.setdefault(mn, []).append((conn, ev))
                    key = f"{mn}/{ev.qn}"
                    if key not in self._seen and self.drop_first_reply(ev):
                        self._seen.add(key)
                        continue
                    self._seen.add(key)
                    reply = reply_for(ev)
                    if reply is not None:
                        writer.write(reply)
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def unique(self, mn: str) -> list[Frame]:
        """Distinct frames of ``mn`` in arrival order (retransmissions removed)."""
        seen: set[str | None] = set()
        out = []
        for _, f in self.frames.get(mn, []):
            if f.qn not in seen:
                seen.add(f.qn)
                out.append(f)
        return out


async def _serve(host: Host, **kw: object) -> tuple[FleetStats, list[tuple[str, str]]]:
    server = await asyncio.start_server(host.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    events: list[tuple[str, str]] = []
    try:
        stats = await run_fleet(
            host="127.0.0.1",
            port=port,
            on_event=lambda mn, text: events.append((mn, text)),
            **kw,  # type: ignore[arg-type]
        )
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # let the handlers see the loggers' close
    return stats, events


def _expected(point: Point, count: int) -> list[bytes]:
    """The first ``count`` frames of the point's deterministic stream (seed 1, default intervals)."""
    t = local_seconds(START)
    src = FrameSource(PointModel(point, 1), t)
    frames: list[bytes] = []
    while len(frames) < count:
        t += 60
        frames += [o.frame for o in src.advance(t)[0]]
    return frames[:count]


def test_fleet_uploads_are_acknowledged_and_an_outage_is_back_filled_in_order() -> None:
    gas, water = gas_point(), water_point()
    host = Host()
    outage_at = START + timedelta(minutes=6)
    stats, events = asyncio.run(
        _serve(
            host,
            points=[gas, water],
            seed=1,
            rtd_interval=30.0,
            minute_interval=1,
            speed=600.0,  # ten simulated minutes per real second
            start=START,
            duration=2.5,
            outage_rate=0.0,
            outages={gas.mn: [(outage_at, 300.0)]},
        )
    )
    assert not stats.errors and not host.errors
    for point in (gas, water):
        frames = host.unique(point.mn)
        cns = {f.cn for f in frames}
        assert {"2011", "2051"} <= cns, cns
        qns = [f.qn or "" for f in frames]
        # nothing lost, nothing out of order: byte for byte the deterministic stream, whatever the network did
        assert [f.raw for f in frames] == _expected(point, len(frames))
        assert len(qns) > 60
        ls = stats.loggers[point.mn]
        assert ls.acked == len(qns) or ls.acked == len(qns) - 1  # the last one may be in flight at the stop
        assert ls.acked_by_cn["2011"] > 0 and ls.acked_by_cn["2051"] > 0
    # the outage: the gas logger disconnected, kept producing, reconnected and back-filled
    g = stats.loggers[gas.mn]
    assert g.outages == 1 and g.reconnects == 1
    assert host.connections[gas.mn] == 2 and host.connections[water.mn] == 1
    gas_frames = host.frames[gas.mn]
    second = [f for conn, f in gas_frames if conn == max(c for c, _ in gas_frames)]
    # the new connection starts with data produced during the outage
    assert (second[0].qn or "") < (outage_at + timedelta(minutes=5)).strftime("%Y%m%d%H%M%S000")
    texts = [t for mn, t in events if mn == gas.mn]
    assert any("network outage" in t for t in texts)
    assert any("back-filling" in t for t in texts)
    assert any("back-fill complete" in t for t in texts)
    assert stats.frames_acked >= stats.frames_sent - 2


def test_missing_replies_are_retried_with_the_same_qn() -> None:
    point = gas_point()
    host = Host(drop_first_reply=lambda f: f.cn == "2051")
    stats, _ = asyncio.run(
        _serve(
            host,
            points=[point],
            speed=300.0,
            start=START,
            duration=1.5,
            outage_rate=0.0,
            ack_timeout=0.3,
            retries=3,
        )
    )
    assert not stats.errors
    ls = stats.loggers[point.mn]
    assert ls.retries >= 1
    sent = Counter(f.qn for _, f in host.frames[point.mn])
    minute_qns = [f.qn for _, f in host.frames[point.mn] if f.cn == "2051"]
    # every minute frame whose first reply was withheld was sent again, with the same QN
    assert len(minute_qns) >= 2 and all(sent[qn] >= 2 for qn in minute_qns[:-1])
    unique = host.unique(point.mn)
    assert [f.raw for f in unique] == _expected(point, len(unique))


def test_unreachable_host_keeps_data_in_the_backlog_and_stop_ends_the_fleet() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed

    async def main() -> FleetStats:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.8, stop.set)
        return await run_fleet(
            [gas_point()], "127.0.0.1", port, speed=600.0, start=START, outage_rate=0.0, stop=stop
        )

    stats = asyncio.run(main())
    ls = stats.loggers[gas_point().mn]
    assert ls.connect_failures >= 1 and ls.sent == 0
    assert stats.backlog == ls.produced > 0


def test_ambient_points_are_skipped() -> None:
    base = gas_point()
    ambient = Point(mn="AMB1", enterprise=base.enterprise, name="站", region="210102", medium="ambient")

    async def main() -> FleetStats:
        return await run_fleet([ambient], "127.0.0.1", 9, duration=0.05)

    stats = asyncio.run(main())
    assert stats.skipped == ["AMB1"] and not stats.loggers


def test_outage_schedule_is_deterministic_and_scaled_by_rate() -> None:
    mn = gas_point().mn
    day = int(local_seconds(START) // 86400)
    assert outage_windows(1, mn, day, 2.0) == outage_windows(1, mn, day, 2.0)
    assert outage_windows(1, mn, day, 0.0) == []
    many = sum(len(outage_windows(1, mn, d, 3.0)) for d in range(day, day + 200))
    few = sum(len(outage_windows(1, mn, d, 0.3)) for d in range(day, day + 200))
    assert 450 < many < 750 and 30 < few < 100
    for d in range(day, day + 50):
        for a, b in outage_windows(7, mn, d, 1.0):
            assert d * 86400 <= a < (d + 1) * 86400 and 120 <= b - a <= 600


def test_a_fleet_started_in_the_past_catches_up_and_never_sends_the_future() -> None:
    """``catch_up``: ten minutes in the past at 600× — caught up within a second, then real time; no data time
    after now (the gas point's local time), and the ten minutes are all sent."""
    gas = gas_point()
    host = Host()
    start = (datetime.now(gas.zone) - timedelta(minutes=10)).replace(tzinfo=None, second=0, microsecond=0)
    stats, _ = asyncio.run(
        _serve(
            host, points=[gas], seed=1, speed=600.0, start=start, catch_up=True, duration=3.0, outage_rate=0.0
        )
    )
    assert not stats.errors and not host.errors
    now = datetime.now(gas.zone).replace(tzinfo=None)
    times = [datetime.strptime(f.data_time, "%Y%m%d%H%M%S") for f in host.unique(gas.mn) if f.data_time]
    minutes = {t for t in times if t.second == 0}
    assert max(times) <= now + timedelta(seconds=1), (max(times), now)
    assert len(minutes) >= 9  # the history's minutes arrived, fast
    # without catch_up the same start runs on at 600×: an hour of simulated time in those seconds
    host2 = Host()
    asyncio.run(_serve(host2, points=[gas], seed=1, speed=600.0, start=start, duration=3.0, outage_rate=0.0))
    later = [datetime.strptime(f.data_time, "%Y%m%d%H%M%S") for f in host2.unique(gas.mn) if f.data_time]
    assert max(later) > now + timedelta(minutes=10)
