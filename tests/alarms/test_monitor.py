"""Streaming checks end to end: frames over a real TCP socket into the gateway, committed to a real SQLite file,
checked by the monitor, kept as alarms — and a restarted monitor that picks up where the last one stopped."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from envtrust import hj212, qc
from envtrust.alarms.book import AlarmBook
from envtrust.alarms.monitor import Monitor
from envtrust.alarms.process import MonitorProcess
from envtrust.ingest.server import Gateway
from envtrust.registry import load_registry
from envtrust.services import Ingest
from envtrust.store import open_store

GAS_MN = "21010012345678"  # the flue-gas point of the shared registry fixture (limit SO2 a21026 = 35 mg/m³)
CST = timezone(timedelta(hours=8))


def minute_frame(t: datetime, so2: float, i: int) -> bytes:
    """A minute-data upload (2051): SO2 as given, NOx, dust, O2 at the reference 6 %, flow — with a little noise."""
    wobble = math.sin(i * 1.7) + 0.5 * math.sin(i * 0.31)
    values = {"a21026": so2 + wobble, "a21002": 30 + 2 * wobble, "a34013": 4 + 0.2 * wobble}
    values |= {"a19001": 6.0 + 0.1 * wobble, "a00000": 120000 + 500 * wobble}
    items = [
        hj212.Item(
            code, {"Min": f"{v * 0.95:.2f}", "Avg": f"{v:.2f}", "Max": f"{v * 1.05:.2f}", "Flag": "N"}, code
        )
        for code, v in values.items()
    ]
    return hj212.upload(
        qn=t.strftime("%Y%m%d%H%M%S") + "000",
        st="31",
        cn="2051",
        pw="123456",
        mn=GAS_MN,
        data_time=t.strftime("%Y%m%d%H%M%S"),
        items=items,
    )


def hours_ago(n: int) -> datetime:
    now = datetime.now(CST).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=n)


def frames(start: datetime, hours: int, so2: float, offset: int = 0) -> list[bytes]:
    return [minute_frame(start + timedelta(minutes=m), so2, offset + m) for m in range(60 * hours)]


async def send(port: int, data: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = hj212.Decoder()
    writer.write(b"".join(data))
    await writer.drain()
    got = 0
    async with asyncio.timeout(30):
        while got < len(data):
            chunk = await reader.read(65536)
            assert chunk, "the gateway closed the connection"
            got += sum(isinstance(e, hj212.Frame) for e in decoder.feed(chunk))
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_frames_sent_to_the_gateway_become_alarms_and_a_restart_keeps_them(
    db_url: str, registry_file: Path, mode: str
) -> None:
    """On SQLite and on PostgreSQL (the production path), the checks in a thread and in a child process."""
    url = db_url
    points = {p.mn: p for p in load_registry(registry_file)}
    start = hours_ago(4)
    exceeding = start + timedelta(hours=2)

    async def run(batch: list[bytes]) -> Monitor | MonitorProcess:
        with open_store(url) as store:
            ingest = Ingest(store)
            ingest.load_registry(list(points.values()))
            monitor: Monitor | MonitorProcess
            if mode == "thread":
                monitor = Monitor(store, AlarmBook(store, points=points.get), qc.configure(), ingest.points)
            else:
                monitor = MonitorProcess(url)
            gw = Gateway(ingest, "127.0.0.1", 0, monitor=monitor)
            await gw.start()
            try:
                await send(gw.port, batch)
                assert await asyncio.to_thread(monitor.wait_idle, 30)
            finally:
                await gw.close()
            return monitor

    # two honest hours, then an hour at three times the limit
    first = asyncio.run(run(frames(start, 2, 12.0) + frames(exceeding, 1, 105.0, offset=120)))
    assert first.stats.frames == 180 and first.stats.evaluations >= 1
    assert first.stats.last_latency_ms is not None
    with open_store(url) as store:
        [alarm] = store.alarms(check="exceedance_hour")
        assert (alarm["mn"], alarm["pollutant"], alarm["state"]) == (GAS_MN, "a21026", "active")
        assert alarm["start_time"] == int(exceeding.timestamp())
        assert alarm["end_time"] == int(exceeding.timestamp()) + 3600
        assert store.alarms(category="tampering") == []  # honest noise: no tampering alarm
        ledger_before = store.ledger_size()

    # a new process: its monitor warms the window from the store; the same hour does not open a second alarm,
    # and an hour of honest data later... the condition is gone only after clear_after_s (1 h) of data
    later = start + timedelta(hours=3)
    second = asyncio.run(run(frames(later, 1, 12.0, offset=180)))
    assert second.stats.warmed >= 1 and second.stats.frames == 60
    with open_store(url) as store:
        [again] = store.alarms(check="exceedance_hour", closed=None)
        assert again["id"] == alarm["id"] and again["findings"] == 1
        assert again["state"] == "cleared"  # 60 minutes of data after the exceeding hour
        actions = [e["action"] for e in store.alarm_events(alarm["id"])]
        assert actions == ["open", "clear"]
        assert store.ledger_size() > ledger_before


def test_a_silent_point_raises_an_offline_alarm(tmp_path: Path, registry_file: Path) -> None:
    """A point that stops sending makes no frame that could trigger a check: the sweep notices its silence."""
    points = {p.mn: p for p in load_registry(registry_file)}
    with open_store(f"sqlite:///{tmp_path / 'envtrust.db'}") as store:
        ingest = Ingest(store)
        ingest.load_registry(list(points.values()))
        start = hours_ago(2)
        clock = [start.timestamp() + 3600 + 30]  # the last minute has just arrived
        monitor = Monitor(
            store, AlarmBook(store), qc.configure(), ingest.points, sweep_s=0.05, clock=lambda: clock[0]
        )
        decoder = ingest.decoder()
        batch = [ingest.prepare(e, peer="test") for f in frames(start, 1, 12.0) for e in decoder.feed(f)]
        results = ingest.record(batch)
        monitor.start()
        try:
            monitor.committed(batch, results)
            assert monitor.wait_idle(10)
            time.sleep(0.2)  # sweeps while the point is live: not offline
            assert store.alarms(check="reception_gap") == []
            clock[0] = start.timestamp() + 3600 + 25 * 60  # 25 minutes after the last minute
            deadline = time.monotonic() + 10
            while not store.alarms(check="reception_gap") and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            monitor.stop()
        [gap] = store.alarms(check="reception_gap")
        assert gap["pollutant"] == "" and "离线" in gap["message"]
        assert gap["start_time"] == int(start.timestamp()) + 3600


def test_a_killed_checking_process_is_replaced_and_checks_what_it_missed(
    tmp_path: Path, registry_file: Path
) -> None:
    """kill -9 of the checking process: the watchdog starts another, which reads the windows back from the store,
    so frames committed while no checker ran still become alarms."""
    url = f"sqlite:///{tmp_path / 'envtrust.db'}"
    points = {p.mn: p for p in load_registry(registry_file)}
    start = hours_ago(4)

    async def main() -> MonitorProcess:
        with open_store(url) as store:
            ingest = Ingest(store)
            ingest.load_registry(list(points.values()))
            monitor = MonitorProcess(url)
            gw = Gateway(ingest, "127.0.0.1", 0, monitor=monitor)
            await gw.start()
            try:
                await send(gw.port, frames(start, 1, 12.0))
                assert await asyncio.to_thread(monitor.wait_idle, 30)
                pid = monitor.pid()
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                # an exceeding hour arrives while nobody checks
                await send(gw.port, frames(start + timedelta(hours=1), 1, 105.0, offset=60))
                deadline = time.monotonic() + 30
                while monitor.restarts == 0 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert monitor.restarts == 1 and monitor.pid() != pid
                await send(gw.port, frames(start + timedelta(hours=2), 1, 12.0, offset=120)[:1])
                assert await asyncio.to_thread(monitor.wait_idle, 30)
            finally:
                await gw.close()
            return monitor

    asyncio.run(main())
    with open_store(url) as store:
        [alarm] = store.alarms(check="exceedance_hour")
        assert alarm["start_time"] == int((start + timedelta(hours=1)).timestamp())
