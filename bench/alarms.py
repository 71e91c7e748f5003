"""Streaming checks under load: how long from a frame's commit until the alarm it causes is in the database.

Run: ``.venv/bin/python bench/alarms.py [--points 100] [--history-days 1] [--rate 50] [--seconds 60]``.

1. A simulated fleet of ``--points`` points (flue gas and waste water; honest events and genuine exceedances) is
   generated for ``--history-days`` + the replayed span, ending before now, so no data time lies in the future.
2. A gateway with the streaming monitor runs in this process (real TCP, a real SQLite file, the whole catalogue).
   The first ``--history-days`` are sent as a back-fill (as loggers do after an outage): frames/s of storing and
   checking together.
3. The rest is replayed at ``--rate`` frames/s (time compressed: many points' minutes per second, each point over
   its own connection, waiting for each reply as a logger does), while a probe point sends ``--probe-rate`` minute
   frames/s whose odd hours exceed its SO2 limit threefold.  A watcher polls the alarm table every 2 ms; the
   latency of each exceeding hour is the time from the acknowledgement of the frame that completes it (its last
   minute: the checker judges an hour once it is over) to the first poll that sees an alarm cover it.
4. The monitor's own numbers: evaluations, evaluation cost, commit → alarms-written latency of each batch.

Prints a table and writes ``alarms.json`` into ``--out`` (default ``bench/out``).  No assertion on times: this
machine is noisy; docs/performance.md quotes the numbers with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from envtrust import hj212, qc
from envtrust.alarms.book import AlarmBook
from envtrust.alarms.monitor import Monitor
from envtrust.alarms.process import MonitorProcess
from envtrust.ingest.server import Gateway
from envtrust.registry import Point
from envtrust.services import Ingest, to_utc_epoch
from envtrust.sim.offline import generate_log, plan_fleet
from envtrust.sim.synthetic import synthetic_registry
from envtrust.store import open_store

ROOT = Path(__file__).resolve().parent
_MN = re.compile(rb"MN=([^;]+);")
_DT = re.compile(rb"DataTime=(\d{14})")
_CN = re.compile(rb"CN=(\d+);")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _backfill(port: int, frames: list[bytes]) -> float:
    """Send frames in order over one connection, 500 in flight (a logger back-filling); returns seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = hj212.Decoder()
    t0 = time.perf_counter()
    for k in range(0, len(frames), 500):
        chunk = frames[k : k + 500]
        writer.write(b"".join(chunk))
        await writer.drain()
        got = 0
        while got < len(chunk):
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("gateway closed the connection")
            got += sum(isinstance(e, hj212.Frame) for e in decoder.feed(data))
    writer.close()
    await writer.wait_closed()
    return time.perf_counter() - t0


async def _replay(port: int, frames: list[tuple[float, str, bytes]], on_ack: Any) -> float:
    """Each point's frames over its own connection, as its logger sends them: frame ``k`` is due ``frames[k][0]``
    seconds after the start, and a logger waits for the reply before its next frame.  Returns seconds."""
    by_point: dict[str, list[tuple[int, float, bytes]]] = {}
    for k, (due, mn, f) in enumerate(frames):
        by_point.setdefault(mn, []).append((k, due, f))
    t0 = time.perf_counter()

    async def logger(items: list[tuple[int, float, bytes]]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = hj212.Decoder()
        for k, due, f in items:
            delay = t0 + due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(f)
            await writer.drain()
            replied = False
            while not replied:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("gateway closed the connection")
                replied = any(isinstance(e, hj212.Frame) for e in decoder.feed(data))
            on_ack(k, time.perf_counter())
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(logger(items) for items in by_point.values()))
    return time.perf_counter() - t0


def _probe_frames(point: Point, start: datetime, n: int) -> list[tuple[bytes, int, bool]]:
    """Minute frames of the probe point: SO2 well under its limit in even hours, three times the limit in odd
    ones, a little noise; ``(frame, data time, completes an exceeding hour)``."""
    limit = point.limits.get("a21026", 35.0)
    out = []
    for m in range(n):
        t = start + timedelta(minutes=m)
        hour = m // 60
        wobble = math.sin(m * 1.7) + 0.5 * math.sin(m * 0.31)
        so2 = (3.0 if hour % 2 else 0.4) * limit + wobble
        values = {
            "a21026": so2,
            "a19001": (point.reference_o2 or 6.0) + 0.1 * wobble,
            "a00000": 1e5 + 500 * wobble,
        }
        items = [
            hj212.Item(
                code,
                {"Avg": f"{v:.2f}", "Min": f"{v * 0.95:.2f}", "Max": f"{v * 1.05:.2f}", "Flag": "N"},
                code,
            )
            for code, v in values.items()
        ]
        frame = hj212.upload(
            qn=t.strftime("%Y%m%d%H%M%S") + "000",
            st="31",
            cn="2051",
            pw=point.pw or "123456",
            mn=point.mn,
            data_time=t.strftime("%Y%m%d%H%M%S"),
            items=items,
        )
        out.append(
            (
                frame,
                to_utc_epoch(t, point.timezone),
                m % 60 == 59 and hour % 2 == 1,  # the last minute ends the hour
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--history-days", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=50.0, help="replayed frames per second")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the replay")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--mode",
        choices=("process", "thread", "none"),
        default="process",
        help="where the checks run (none: baseline)",
    )
    ap.add_argument("--probe-rate", type=float, default=4.0, help="frames per second of the probe point")
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    args = ap.parse_args()
    console = Console()
    points = synthetic_registry(args.points, seed=args.seed)
    zone = points[0].timezone
    replay_minutes = int(args.rate * args.seconds / args.points) + 2
    span = args.history_days * 86400 + replay_minutes * 60
    local_now = datetime.now(points[0].zone).replace(tzinfo=None, second=0, microsecond=0)
    start = local_now - timedelta(seconds=span + 3600)
    plan = plan_fleet(points, seed=args.seed, start=start, seconds=span, exceedance_rate=1.0)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="envtrust-bench-") as tmp:
        log = Path(tmp) / "fleet.log"
        with console.status("generating the fleet"):
            generate_log(plan, log, jobs=0)
        lines = [line + b"\r\n" for line in log.read_bytes().splitlines() if line.strip()]
        cut = to_utc_epoch(start + timedelta(days=args.history_days), zone)
        history, replay = [], []
        for line in lines:
            dt = _DT.search(line)
            t = to_utc_epoch(datetime.strptime(dt.group(1).decode(), "%Y%m%d%H%M%S"), zone) if dt else 0
            (history if t < cut else replay).append((t, line))
        replay = replay[: int(args.rate * args.seconds)]
        # the probe: a gas point of its own whose odd hours exceed; the first minute after such an hour completes it
        gas = next(p for p in points if p.medium == "gas" and "a21026" in p.limits)
        probe = replace(gas, mn="PROBE" + gas.mn[5:], name="probe")
        probe_start = (local_now - timedelta(hours=12)).replace(minute=0)
        probe_frames = _probe_frames(probe, probe_start, int(args.probe_rate * args.seconds))
        scheduled = [(i / args.rate, _MN.search(f).group(1).decode(), f) for i, (_, f) in enumerate(replay)]  # type: ignore[union-attr]
        triggers: dict[int, tuple[str, int]] = {}
        for j, (f, t, completes) in enumerate(probe_frames):
            if completes:
                triggers[len(scheduled)] = (probe.mn, t - 59 * 60)
            scheduled.append((j / args.probe_rate, probe.mn, f))
        result = asyncio.run(
            _run(Path(tmp) / "bench.db", [*points, probe], history, scheduled, triggers, args, console)
        )
    result |= {
        "mode": args.mode,
        "points": args.points,
        "history_days": args.history_days,
        "rate": args.rate,
        "seconds": args.seconds,
        "history_frames": len(history),
        "replayed_frames": len(replay),
    }
    (args.out / "alarms.json").write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"streaming checks: {args.points} points, replay at {args.rate:g} frames/s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in result.items():
        table.add_row(k, f"{v:.1f}" if isinstance(v, float) else str(v))
    console.print(table)


async def _run(
    db: Path,
    points: list[Any],
    history: list[tuple[int, bytes]],
    replay: list[tuple[float, str, bytes]],
    triggers: dict[int, tuple[str, int]],
    args: argparse.Namespace,
    console: Console,
) -> dict[str, Any]:
    with open_store(f"sqlite:///{db}") as store:
        ingest = Ingest(store)
        ingest.load_registry(points)
        monitor: Monitor | MonitorProcess
        if args.mode == "thread":
            monitor = Monitor(store, AlarmBook(store), qc.configure(), ingest.points)
        else:
            monitor = MonitorProcess(f"sqlite:///{db}")
        gw = Gateway(ingest, "127.0.0.1", 0, monitor=None if args.mode == "none" else monitor)
        await gw.start()
        if args.mode == "none":  # the baseline: storing and acknowledging only
            try:
                t_hist = await _backfill(gw.port, [f for _, f in history])
            finally:
                await gw.close()
            return {"backfill_frames_per_s": len(history) / t_hist, "backfill_store_s": t_hist}
        try:
            with console.status(f"back-filling {len(history)} frames"):
                t_hist = await _backfill(gw.port, [f for _, f in history])
                t0 = time.perf_counter()
                await asyncio.to_thread(monitor.wait_idle, 3600)
                t_drain = time.perf_counter() - t0
            hist_evals = monitor.stats.evaluations
            # the replay under a watcher
            first_seen: dict[tuple[str, int], float] = {}
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    now = time.perf_counter()
                    for a in store.alarms(check="exceedance_hour", closed=None):
                        for h in json.loads(a["evidence"]).get("hours", []):
                            first_seen.setdefault((a["mn"], int(h["start"])), now)
                    time.sleep(0.002)

            acks: dict[int, float] = {}
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            before = monitor.stats
            lat0 = len(before.latencies_ms)
            evals0, cost0 = before.evaluations, before.evaluation_s
            with console.status(f"replaying {len(replay)} frames at {args.rate:g}/s"):
                t_replay = await _replay(gw.port, replay, lambda i, t: acks.__setitem__(i, t))
                await asyncio.to_thread(monitor.wait_idle, 600)
                await asyncio.sleep(0.1)
            stop.set()
            watcher.join()
            after = monitor.stats
            batch_lat = list(after.latencies_ms)[lat0:]
            evals = after.evaluations - evals0
            cost = after.evaluation_s - cost0
        finally:
            await gw.close()
    latencies = []
    for i, (mn, hour) in triggers.items():
        seen = first_seen.get((mn, hour))
        if seen is not None and i in acks:
            latencies.append((seen - acks[i]) * 1000)
    return {
        "backfill_frames_per_s": len(history) / (t_hist + t_drain),
        "backfill_store_s": t_hist,
        "backfill_check_drain_s": t_drain,
        "backfill_evaluations": hist_evals,
        "replay_s": t_replay,
        "replay_evaluations": evals,
        "evaluation_ms_mean": 1000 * cost / evals if evals else float("nan"),
        "monitor_busy_fraction": cost / t_replay if t_replay else float("nan"),
        "batch_commit_to_alarms_ms_p50": _pct(batch_lat, 0.5),
        "batch_commit_to_alarms_ms_p95": _pct(batch_lat, 0.95),
        "batch_commit_to_alarms_ms_max": max(batch_lat) if batch_lat else float("nan"),
        "exceedance_alarms_timed": len(latencies),
        "ack_to_alarm_visible_ms_p50": _pct(latencies, 0.5),
        "ack_to_alarm_visible_ms_p95": _pct(latencies, 0.95),
        "ack_to_alarm_visible_ms_max": max(latencies) if latencies else float("nan"),
        "ack_to_alarm_visible_ms_mean": statistics.fmean(latencies) if latencies else float("nan"),
    }


if __name__ == "__main__":
    sys.exit(main())
