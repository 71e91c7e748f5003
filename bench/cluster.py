"""Cluster-mode benchmark: gateways and workers as processes on NATS JetStream and PostgreSQL.

Run: ``.venv/bin/python bench/cluster.py [--db URL] [--seconds 8] [--rates 250,500,1000,2500,5000] [--loggers
500] [--json FILE] [--logs DIR]`` (about 9 minutes; ``--quick``: a 1.5-minute smoke run).  To compare
``[cluster]`` settings on the same machine minutes apart: ``--variant NAME:KEY=VALUE,… [--variant …] [--repeat N]``
runs the reference under each (interleaved N times); ``--cluster-set KEY=VALUE`` sets a key for every configuration.

Everything runs on this one machine, each in its own process: three ``nats-server`` processes routed into one
JetStream cluster (the stream with 3 replicas), gateways (``envtrust serve --role gateway``) and workers
(``--role worker``), both ``--no-checks``, PostgreSQL, and a load generator (one process, uvloop) playing
``--loggers`` data loggers, each with its own MN and TCP connection, spread round-robin over the gateways.
Frames are the CEMS minute uploads of ``bench/ingest.py`` (CN 2051, 8 factors, ~885 bytes), every one
distinct.  Each configuration gets a fresh PostgreSQL schema ``bench_cluster_<hex>`` and its own stream, both
dropped at its end.

Configurations: the reference (``--reference-gateways`` gateways, 2 workers, NATS ×3 R3); the other gateway
counts of ``--gateways`` and worker counts of ``--workers`` around it (closed loop only); the reference's
gateways with no worker (the acknowledgement path alone: nothing competes for the CPU by storing); the
reference on one NATS node (R1); and, as the peer, ``envtrust serve`` in one process (role all, no bus) on the
same database.

Phases of a configuration, each ``--warmup`` s and then ``--seconds`` s measured:

* closed loop: each logger keeps ``--window`` frames in flight — the most the configuration acknowledges;
* paced, at each of ``--rates`` upwards: the loggers together offer that rate, spread evenly over the
  connections and sent whether or not the previous frames were answered (as loggers back-filling after an
  outage do); latency = frame written to the socket → its 9014 reply (matched by QN) read.  Frames not
  answered ``--drain-replies`` s after the phase count as infinitely late.  A rate above one the configuration
  could not keep up with (replies missing or behind, or p99 over 1 s) is not run, unless ``--no-skip``.

Measured per phase: frames/s sent and acknowledged (by the load generator), frames/s stored (``frames`` rows),
the stream backlog, the gateways' own receipt → acknowledgement histogram (``/metrics``), the workers'
commits, and the CPU of each group of processes (``/proc``), the load generator's own (to show it is not the
bottleneck) and everything else's ("other": another job on the machine; each phase waits up to
``--quiet-wait`` s for the others to be quiet).  After each phase the workers drain the stream with no load:
their storage rate and CPU per frame. The warnings the roles logged (publish retries, lease churn, consumer
restarts) are counted per configuration.

Peers in the same run: raw JetStream publishes of the same frames from one Python process (nats-py, 256
publishes in flight, each awaited for its acknowledgement), on R3 and R1; and plain psycopg ``COPY`` of the
rows envtrust stores for these frames (the storage ceiling of this database on this machine); and
``Store.write`` as a worker calls it, by frames per commit (the fixed cost of a commit).  The bytes on
disk per stored frame are read from PostgreSQL (``pg_total_relation_size``) before the schema is dropped.

Every process started here, and every schema and stream, is removed at the end, also on Ctrl-C or an error."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import queue
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
from nats.js.api import StorageType, StreamConfig
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from envtrust import hj212
from envtrust.bus.jetstream import BusConfig, ensure_stream
from envtrust.keys import ledger_signer
from envtrust.registry import parse_registry
from envtrust.settings import DEFAULT_ORIGIN
from envtrust.store import open_store

# bench/ingest.py, beside this script: its frames, registry and raw rows
from ingest import _raw_rows, copy_rows, minute_frame, mn_of, registry_text

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
ENVTRUST = Path(sys.executable).with_name("envtrust")
TICK = os.sysconf("SC_CLK_TCK")
console = Console(stderr=True)  # progress and messages
out = Console(width=None if sys.stdout.isatty() else 200)  # the tables


# ------------------------------------------------------------------------------------------ frames
class Frames:
    """The minute frames of ``bench/ingest.py`` (``minute_frame(mn_of(k), i)``), built ~6× faster.

    Their values depend on ``i % 13`` only, so the 13 templates are built once and each frame is a template
    with its QN, data time and MN replaced and the CRC computed again; a sample is checked against
    ``minute_frame``."""

    def __init__(self) -> None:
        self.templates = []
        for v in range(13):
            raw = minute_frame(mn_of(0), v)
            qn, dt = self._times(v)
            self.templates.append((raw[6:-6], qn, dt))
        for k, i in ((0, 5), (7, 123456), (499, 499 * 100_000 + 20_017)):
            assert self.frame(k, i)[1] == minute_frame(mn_of(k), i), "frame template out of date"

    @staticmethod
    def _times(i: int) -> tuple[bytes, bytes]:
        dt = time.strftime("%Y%m%d%H%M%S", time.gmtime(1767225600 + 60 * i + 8 * 3600)).encode()
        return dt + b"000", dt

    def frame(self, k: int, i: int) -> tuple[bytes, bytes]:
        """(QN, frame) of logger ``k``'s ``i``-th minute."""
        seg, qn0, dt0 = self.templates[i % 13]
        qn, dt = self._times(i)
        seg = (
            seg.replace(b"QN=" + qn0, b"QN=" + qn, 1)
            .replace(b"DataTime=" + dt0, b"DataTime=" + dt, 1)
            .replace(b"MN=" + mn_of(0).encode(), b"MN=" + mn_of(k).encode(), 1)
        )
        return qn, hj212.encode_frame(seg)


def frame_index(k: int, phase: int, j: int) -> int:
    """Distinct minutes per (logger, phase): 10,000 per phase, 100,000 per logger (as ``bench/ingest.py``)."""
    return k * 100_000 + (phase % 10) * 10_000 + j % 10_000


# ------------------------------------------------------------------------------------------ load generator
@dataclass
class LoadSpec:
    ports: list[int]
    loggers: int
    mode: str  # paced | window
    rate: float  # paced: frames/s offered by all loggers together
    window: int  # window: frames in flight per logger
    warmup: float
    seconds: float
    drain: float  # paced: seconds to wait for the last replies
    phase: int
    cap: float  # window mode: the most frames/s expected (how many distinct frames to build)


class _Logger(asyncio.Protocol):
    def __init__(self, gen: _LoadGen, k: int, frames: list[tuple[bytes, bytes]]) -> None:
        self.gen = gen
        self.k = k
        self.frames = frames
        self.next = 0
        self.pending: dict[bytes, float] = {}
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def send(self, n: int = 1) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        now = time.perf_counter()
        out = []
        for _ in range(n):
            qn, raw = self.frames[self.next % len(self.frames)]
            if self.next >= len(self.frames):
                self.gen.repeats += 1
            self.next += 1
            self.pending[qn] = now
            out.append(raw)
        t.write(b"".join(out) if n > 1 else out[0])
        self.gen.sent += n
        if self.gen.t_start <= now < self.gen.t_end:
            self.gen.sent_window += n

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.buf + data if self.buf else data
        end = buf.rfind(b"\n")
        if end < 0:
            self.buf = buf
            return
        self.buf = buf[end + 1 :]
        got = 0
        gen = self.gen
        for line in buf[:end].split(b"\n"):
            i = line.find(b"QN=")
            if i < 0:
                continue
            t0 = self.pending.pop(line[i + 3 : line.find(b";", i)], None)
            if t0 is None:
                continue
            got += 1
            if gen.t_start <= t0 < gen.t_end:
                gen.latencies.append(now - t0)
            if gen.t_start <= now < gen.t_end:
                gen.acked_window += 1
        gen.acked += got
        if got and gen.spec.mode == "window" and now < gen.t_end:
            self.send(got)


class _LoadGen:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.sent = self.acked = self.sent_window = self.acked_window = self.repeats = 0
        self.latencies: list[float] = []
        self.t_start = self.t_end = math.inf
        fr = Frames()
        per = (spec.rate if spec.mode == "paced" else spec.cap) * (spec.warmup + spec.seconds + 1)
        n = max(50, min(10_000, math.ceil(per / spec.loggers * 1.1) + spec.window))
        self.frames = [
            [fr.frame(k, frame_index(k, spec.phase, j)) for j in range(n)] for k in range(spec.loggers)
        ]

    async def run(self, counters: Any, go: Any, ready: Any) -> dict[str, Any]:
        spec, loop = self.spec, asyncio.get_running_loop()
        conns = [_Logger(self, k, self.frames[k]) for k in range(spec.loggers)]
        for i in range(0, len(conns), 100):  # connect in groups, round-robin over the gateways
            await asyncio.gather(
                *(
                    loop.create_connection(
                        lambda c=c: c,
                        "127.0.0.1",
                        spec.ports[c.k % len(spec.ports)],  # type: ignore[misc]
                    )
                    for c in conns[i : i + 100]
                )
            )
        ready.put("ready")
        await asyncio.to_thread(go.wait)
        t0 = time.perf_counter()
        self.t_start, self.t_end = t0 + spec.warmup, t0 + spec.warmup + spec.seconds
        feeder = asyncio.create_task(self._counters(counters))
        cpu0 = 0.0
        if spec.mode == "window":
            for c in conns:
                c.send(spec.window)
            await asyncio.sleep(spec.warmup)
            cpu0 = _self_cpu()
            await asyncio.sleep(max(0.0, self.t_end - time.perf_counter()))
            cpu1 = _self_cpu()
            await asyncio.sleep(0.3)
        else:
            issued, i, measuring = 0, 0, False
            lateness = 0.0
            while (now := time.perf_counter()) < self.t_end:
                if not measuring and now >= self.t_start:
                    cpu0, measuring = _self_cpu(), True
                due = int((now - t0) * spec.rate)
                if measuring:
                    lateness = max(lateness, (due - issued) / spec.rate)
                while issued < due:
                    conns[i].send()
                    i = (i + 1) % len(conns)
                    issued += 1
                await asyncio.sleep(0.002)
            cpu1 = _self_cpu()
            deadline = time.perf_counter() + spec.drain
            while time.perf_counter() < deadline and any(
                t0 < self.t_end for c in conns for t0 in c.pending.values()
            ):
                await asyncio.sleep(0.1)
        feeder.cancel()
        unreplied = 0
        if spec.mode == "paced":
            unreplied = sum(1 for c in conns for t in c.pending.values() if self.t_start <= t < self.t_end)
        for c in conns:
            if c.transport is not None:
                c.transport.abort()
        lat = sorted(self.latencies)
        total = len(lat) + (unreplied if spec.mode == "paced" else 0)

        def pct(q: float) -> float | None:
            if total == 0:
                return None
            k = max(0, math.ceil(q * total) - 1)
            return lat[k] * 1000 if k < len(lat) else None  # None: later than the drain time

        out = {
            "sent_per_s": self.sent_window / spec.seconds,
            "acked_per_s": self.acked_window / spec.seconds,
            "measured_frames": total,
            "unreplied": unreplied,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": (lat[-1] * 1000 if lat else None) if unreplied == 0 else None,
            "acked_total": self.acked,
            "loadgen_cpu": (cpu1 - cpu0) / spec.seconds,
            "repeated_frames": self.repeats,
            "connections_lost": sum(1 for c in conns if c.lost and c.transport is not None),
        }
        if spec.mode == "paced":
            out["pacer_late_ms"] = lateness * 1000
        return out

    async def _counters(self, counters: Any) -> None:
        while True:
            counters[0], counters[1] = self.sent, self.acked
            await asyncio.sleep(0.25)


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_main(spec: LoadSpec, counters: Any, go: Any, ready: Any, result: Any) -> None:
    """The load generator's process (spawned: it must not inherit the parent's event loop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        result.put(asyncio.run(_LoadGen(spec).run(counters, go, ready)))
    except BaseException as exc:
        ready.put(f"error: {exc.__class__.__name__}: {exc}")
        result.put({"error": f"{exc.__class__.__name__}: {exc}"})


# ------------------------------------------------------------------------------------------ processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True
    return False


@dataclass
class Proc:
    group: str  # nats | gateway | worker | single | loadgen
    popen: Any  # subprocess.Popen or multiprocessing Process
    log: Path | None = None
    port: int | None = None
    http_port: int | None = None

    @property
    def pid(self) -> int:
        return int(self.popen.pid)

    def alive(self) -> bool:
        p = self.popen
        return p.poll() is None if isinstance(p, subprocess.Popen) else bool(p.is_alive())

    def tail(self, n: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


class Reaper:
    """Every process, schema and stream made by this run, removed in :meth:`close` whatever happens."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.procs: list[Proc] = []
        self.schemas: list[str] = []

    def add(self, p: Proc) -> Proc:
        self.procs.append(p)
        return p

    def stop(self, procs: list[Proc], timeout: float = 15.0) -> None:
        """SIGTERM (a clean stop: gateways drain, workers give their leases up), SIGKILL after ``timeout``."""
        for p in procs:
            if p.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in procs:
            while p.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if p.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
            if isinstance(p.popen, subprocess.Popen):
                p.popen.wait()
            else:
                p.popen.join(5)
            if p in self.procs:
                self.procs.remove(p)

    def new_schema(self) -> tuple[str, str]:
        name = f"bench_cluster_{secrets.token_hex(4)}"
        with psycopg.connect(self.db, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {name}")
        self.schemas.append(name)
        return name, f"{self.db}{'&' if '?' in self.db else '?'}options=-csearch_path%3D{name}"

    def drop_schema(self, name: str) -> None:
        with psycopg.connect(self.db, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        if name in self.schemas:
            self.schemas.remove(name)

    def close(self) -> None:
        self.stop(list(reversed(self.procs)), timeout=10.0)
        for name in list(self.schemas):
            try:
                self.drop_schema(name)
            except Exception as exc:
                console.print(f"[red]could not drop schema {name}: {exc}[/]")


class NatsServers:
    """``n`` JetStream nats-server processes on free loopback ports, routed into one cluster when n > 1."""

    def __init__(self, reaper: Reaper, root: Path, n: int, tag: str) -> None:
        self.ports = [free_port() for _ in range(n)]
        cports = [free_port() for _ in range(n)]
        for i in range(n):
            store = root / f"{tag}{i}"
            store.mkdir()
            args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.ports[i]), "-js", "-sd", str(store)]
            if n > 1:
                routes = ",".join(f"nats://127.0.0.1:{c}" for j, c in enumerate(cports) if j != i)
                args += ["--server_name", f"{tag}{i}", "--cluster_name", f"bench-{tag}"]
                args += ["--cluster", f"nats://127.0.0.1:{cports[i]}", "--routes", routes]
            log = root / f"{tag}{i}.log"
            with open(log, "ab") as out:
                popen = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            reaper.add(Proc("nats", popen, log, self.ports[i]))

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)

    @property
    def servers(self) -> list[str]:
        return self.url.split(",")


async def wait_jetstream(servers: list[str], replicas: int, timeout: float = 60.0) -> None:
    """Until the (cluster's) JetStream answers and can place a stream of ``replicas`` replicas."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None

    async def quiet(exc: Exception) -> None:
        pass

    for url in servers:
        while not await asyncio.to_thread(port_open, int(url.rsplit(":", 1)[1])):
            if time.monotonic() > deadline:
                raise SystemExit(f"nats-server at {url} did not start")
            await asyncio.sleep(0.1)
    while time.monotonic() < deadline:
        try:
            nc = await nats.connect(
                servers=servers, connect_timeout=1, max_reconnect_attempts=1, error_cb=quiet
            )
            try:
                js = nc.jetstream(timeout=3)
                name = f"PROBE_{secrets.token_hex(3)}"
                await js.add_stream(
                    StreamConfig(name=name, subjects=[f"probe.{name}"], num_replicas=replicas)
                )
                await js.delete_stream(name)
                return
            finally:
                await nc.close()
        except Exception as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise SystemExit(f"JetStream did not become ready: {last}")


# ------------------------------------------------------------------------------------------ measuring
def cpu_of(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by a process; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_pids() -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{d}/comm", "rb") as f:
                if f.read().strip() == b"postgres":
                    out.append(int(d))
    return out


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / TICK, sum(v) / TICK


@dataclass
class Snapshot:
    t: float
    stored: int
    stream: dict[str, int]
    cpu: dict[str, float]
    busy: tuple[float, float]
    metrics: dict[str, dict[str, float]]


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[name] = float(value)
    return out


class Probe:
    """Reads, from outside the processes under test: stored frames, the stream, CPU and the roles' metrics."""

    def __init__(self, reaper: Reaper, schema_url: str, stream: str | None, js: Any) -> None:
        self.reaper = reaper
        self.con = psycopg.connect(schema_url, autocommit=True)
        self.stream = stream
        self.js = js
        self.http = httpx.AsyncClient(timeout=5.0)

    async def close(self) -> None:
        await self.http.aclose()
        self.con.close()

    def stored(self) -> int:
        row = self.con.execute("SELECT coalesce(max(id), 0) FROM frames").fetchone()
        return int(row[0]) if row else 0

    async def stream_state(self) -> dict[str, int]:
        if self.stream is None or self.js is None:
            return {}
        with contextlib.suppress(Exception):
            st = (await self.js.stream_info(self.stream)).state
            return {"messages": int(st.messages), "bytes": int(st.bytes), "last_seq": int(st.last_seq)}
        return {}

    async def metrics(self) -> dict[str, dict[str, float]]:
        async def one(p: Proc) -> tuple[str, dict[str, float]]:
            try:
                r = await self.http.get(f"http://127.0.0.1:{p.http_port}/metrics")
                return f"{p.group}:{p.pid}", parse_metrics(r.text)
            except httpx.HTTPError:
                return f"{p.group}:{p.pid}", {}

        roles = [p for p in self.reaper.procs if p.http_port is not None and p.group != "single"]
        return dict(await asyncio.gather(*(one(p) for p in roles)))

    @staticmethod
    async def cpu_snapshot(reaper: Reaper) -> Snapshot:
        cpu: dict[str, float] = {}
        for p in reaper.procs:
            cpu[p.group] = cpu.get(p.group, 0.0) + cpu_of(p.pid)
        cpu["postgres"] = sum(cpu_of(pid) for pid in postgres_pids())
        return Snapshot(time.perf_counter(), 0, {}, cpu, machine_busy(), {})

    async def snapshot(self, loadgen: Proc | None) -> Snapshot:
        cpu: dict[str, float] = {}
        for p in self.reaper.procs:
            cpu[p.group] = cpu.get(p.group, 0.0) + cpu_of(p.pid)
        if loadgen is not None:
            cpu["loadgen"] = cpu_of(loadgen.pid)
        cpu["postgres"] = sum(cpu_of(pid) for pid in postgres_pids())
        return Snapshot(
            time.perf_counter(),
            await asyncio.to_thread(self.stored),
            await self.stream_state(),
            cpu,
            machine_busy(),
            await self.metrics(),
        )


def _hist_quantile(before: dict[str, float], after: dict[str, float], q: float) -> float | None:
    """The upper bound (ms) of the gateway histogram bucket holding quantile ``q`` of the window."""
    pre = "envtrust_ack_latency_seconds_bucket{le="
    bounds = []
    for key, v in after.items():
        if key.startswith(pre):
            le = key[len(pre) + 1 : -2]
            bounds.append((math.inf if le == "+Inf" else float(le), v - before.get(key, 0.0)))
    bounds.sort()
    if not bounds or bounds[-1][1] <= 0:
        return None
    total = bounds[-1][1]
    for le, cum in bounds:
        if cum >= q * total:
            return le * 1000
    return None


def _sum_metric(s: Snapshot, group: str, name: str) -> float:
    return sum(
        m.get(name, m.get(f"{name}_total", 0.0)) for k, m in s.metrics.items() if k.startswith(group + ":")
    )


def cpu_split(a: Snapshot, b: Snapshot) -> dict[str, float]:
    """Cores used by each group of processes between two snapshots, and by everything else on the machine."""
    dt = b.t - a.t
    cores = {g: max(0.0, b.cpu.get(g, 0.0) - a.cpu.get(g, 0.0)) / dt for g in b.cpu}
    busy = (b.busy[0] - a.busy[0]) / max(1e-9, b.busy[1] - a.busy[1]) * (os.cpu_count() or 1)
    cores["other"] = max(0.0, busy - sum(cores.values()))
    return {g: round(v, 2) for g, v in cores.items()}


def window_figures(a: Snapshot, b: Snapshot, acked_total: int) -> dict[str, Any]:
    dt = b.t - a.t
    busy = (b.busy[0] - a.busy[0]) / max(1e-9, b.busy[1] - a.busy[1])
    out: dict[str, Any] = {
        "stored_per_s": (b.stored - a.stored) / dt,
        "stored_total": b.stored,
        "backlog_frames": max(0, acked_total - b.stored),
        "cpu_cores": cpu_split(a, b),
        "machine_busy": round(busy, 3),
    }
    if b.stream:
        out["stream_messages"] = b.stream["messages"]
        out["stream_bytes"] = b.stream["bytes"]
        published = b.stream["last_seq"] - a.stream.get("last_seq", 0)
        out["stream_msgs_per_s"] = published / dt
    gw_before = {}
    gw_after = {}
    for k, m in a.metrics.items():
        if k.startswith("gateway:"):
            for n, v in m.items():
                gw_before[n] = gw_before.get(n, 0.0) + v
    for k, m in b.metrics.items():
        if k.startswith("gateway:"):
            for n, v in m.items():
                gw_after[n] = gw_after.get(n, 0.0) + v
    if gw_after:
        out["gateway_p50_le_ms"] = _hist_quantile(gw_before, gw_after, 0.5)
        out["gateway_p99_le_ms"] = _hist_quantile(gw_before, gw_after, 0.99)
    commits = _sum_metric(b, "worker", "envtrust_worker_commits") - _sum_metric(
        a, "worker", "envtrust_worker_commits"
    )
    if commits > 0:
        stored = _sum_metric(b, "worker", "envtrust_worker_frames_stored") - _sum_metric(
            a, "worker", "envtrust_worker_frames_stored"
        )
        write_s = _sum_metric(b, "worker", "envtrust_worker_write_seconds") - _sum_metric(
            a, "worker", "envtrust_worker_write_seconds"
        )
        out["worker_commits_per_s"] = commits / dt
        out["worker_frames_per_commit"] = stored / commits
        out["worker_write_busy"] = write_s / dt  # summed over workers: seconds in store.write per second
    return out


# ------------------------------------------------------------------------------------------ configurations
@dataclass
class Config:
    name: str
    gateways: int = 0  # 0: one single-process ``envtrust serve`` (role all, no bus)
    workers: int = 0
    replicas: int = 3
    paced: bool = True  # run the paced phases (else the closed loop only)
    settings: list[tuple[str, str]] = field(default_factory=list)  # more [cluster] keys (a --variant)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def cluster(self) -> bool:
        return self.gateways > 0


class Bench:
    def __init__(self, args: argparse.Namespace, reaper: Reaper, root: Path, progress: Progress) -> None:
        self.args = args
        self.reaper = reaper
        self.root = root
        self.progress = progress
        self.keys = root / "keys"
        self.registry = parse_registry(registry_text(args.loggers))
        self.ctx = mp.get_context("spawn")
        self.started = 0
        self.nats3: NatsServers | None = None
        self.nats1: NatsServers | None = None

    # -------------------------------------------------------------- roles
    def serve(self, group: str, db: str, *extra: str, port: int | None = None) -> Proc:
        http = free_port()
        self.started += 1
        log = self.root / f"{group}-{self.started:02d}.log"
        args = [
            str(ENVTRUST), "serve", "--db", db, "--keys", str(self.keys), "--host", "127.0.0.1",
            "--http-port", str(http), "--no-checks",
            *(["--port", str(port)] if port is not None else []), *extra,
        ]  # fmt: skip
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
            )
        return self.reaper.add(Proc(group, popen, log, port, http))

    async def wait_ready(self, procs: list[Proc], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            for p in procs:
                while True:
                    if not p.alive():
                        raise RuntimeError(f"{p.group} exited:\n{p.tail()}")
                    if p.port is not None and not await asyncio.to_thread(port_open, p.port):
                        ok = False
                    else:
                        try:
                            ok = (
                                await client.get(f"http://127.0.0.1:{p.http_port}/readyz")
                            ).status_code == 200
                        except httpx.HTTPError:
                            ok = False
                    if ok:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{p.group} not ready after {timeout:.0f} s:\n{p.tail()}")
                    await asyncio.sleep(0.2)

    async def wait_balanced(self, workers: list[Proc], partitions: int, timeout: float = 40.0) -> None:
        """Until every worker holds its share of the partitions (leases are rebalanced every lease_ttl/3)."""
        want = partitions // len(workers)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                held = []
                for w in workers:
                    with contextlib.suppress(httpx.HTTPError):
                        m = parse_metrics((await client.get(f"http://127.0.0.1:{w.http_port}/metrics")).text)
                        held.append(int(m.get("envtrust_worker_partitions", 0)))
                if len(held) == len(workers) and sum(held) == partitions and min(held) >= want:
                    return
                await asyncio.sleep(0.5)
        console.print("[yellow]warning: the workers' partitions were not balanced in time[/]")

    # -------------------------------------------------------------- one configuration
    async def run_config(self, cfg: Config) -> None:
        a = self.args
        schema, url = self.reaper.new_schema()
        store = await asyncio.to_thread(open_store, url)
        try:
            await asyncio.to_thread(store.load_registry, self.registry)
        finally:
            store.close()
        nc = js = None
        stream = None
        started: list[Proc] = []
        try:
            if cfg.cluster:
                servers = self.nats3 if cfg.replicas > 1 else self.nats1
                assert servers is not None
                tag = secrets.token_hex(3)
                stream = f"BENCH_{tag}"
                conf = self.root / f"cluster-{tag}.toml"
                conf.write_text(
                    f'[cluster]\nstream = "{stream}"\nsubject = "bench_{tag}.frames"\n'
                    f"partitions = {a.partitions}\nreplicas = {cfg.replicas}\n"
                    + "".join(f"{k} = {v}\n" for k, v in (dict(a.cluster_set) | dict(cfg.settings)).items()),
                    encoding="utf-8",
                )
                bus = BusConfig(
                    servers=tuple(servers.servers),
                    stream=stream,
                    subject=f"bench_{tag}.frames",
                    partitions=a.partitions,
                    replicas=cfg.replicas,
                )
                nc = await nats.connect(servers=servers.servers)
                js = nc.jetstream(timeout=10)
                await ensure_stream(js, bus)
                bus_args = ("--bus", servers.url, "--config", str(conf))
                for _ in range(cfg.workers):
                    started.append(self.serve("worker", url, "--role", "worker", *bus_args))
                await self.wait_ready(started)
                gws = [
                    self.serve("gateway", url, "--role", "gateway", *bus_args, port=free_port())
                    for _ in range(cfg.gateways)
                ]
                started += gws
                await self.wait_ready(gws)
                if cfg.workers:
                    await self.wait_balanced([p for p in started if p.group == "worker"], a.partitions)
                ports = [p.port for p in gws if p.port is not None]
            else:
                single = self.serve("single", url, port=free_port())
                started.append(single)
                await self.wait_ready([single])
                ports = [single.port] if single.port is not None else []
            probe = Probe(self.reaper, url, stream, js)
            try:
                # the closed loop first (its backlog is bounded), then the paced rates upwards; a rate above
                # one that overloaded the configuration is not run (it would only queue: --no-skip runs it)
                phases: list[tuple[str, float]] = []
                if not a.no_closed_loop:
                    phases.append(("window", 0.0))
                if cfg.paced:
                    phases += [("paced", r) for r in sorted(a.rate_list)]
                out: list[dict[str, Any]] = []
                overloaded_at: float | None = None
                acked = 0
                for n, (mode, rate) in enumerate(phases):
                    if mode == "paced" and overloaded_at is not None and not a.no_skip:
                        out.append({"mode": mode, "offered_per_s": rate, "skipped": overloaded_at})
                        continue
                    quiet = await self.wait_quiet()
                    row = await self.phase(cfg, probe, ports, mode, rate, n)
                    row["others_cores_before"] = quiet
                    out.append(row)
                    acked += row["acked_total"]
                    if mode == "paced" and overloaded(row):
                        overloaded_at = rate
                    if cfg.cluster or n + 1 < len(phases):  # the last one too: the workers' rate alone
                        row["drain_after"] = await self.drain(cfg, probe)
                    if cfg.cluster and cfg.workers == 0:  # the stream holds every frame acknowledged
                        st = await probe.stream_state()
                        row["stream_bytes_per_frame"] = st.get("bytes", 0) / max(1, acked)
                cfg.result["log_warnings"] = log_warnings(started)
                cfg.result["phases"] = out
                cfg.result["sizes"] = await asyncio.to_thread(table_sizes, probe.con, schema)
            finally:
                await probe.close()
        finally:
            self.reaper.stop(started)
            if js is not None and stream is not None:
                with contextlib.suppress(Exception):
                    await js.delete_stream(stream)
            if nc is not None:
                await nc.close()
            await asyncio.to_thread(self.reaper.drop_schema, schema)

    async def drain(self, cfg: Config, probe: Probe) -> dict[str, Any]:
        """Wait until what was acknowledged is stored (the stream empty; single process: no new rows for 1 s),
        at most ``--drain`` seconds; returns the storage rate seen meanwhile (no load: the workers alone)."""
        if cfg.cluster and cfg.workers == 0:
            return {"seconds": 0.0, "frames": 0, "stored_per_s": None}
        first = await probe.snapshot(None)
        t0, s0 = first.t, first.stored
        last, still = s0, time.perf_counter()
        backlog0 = (await probe.stream_state()).get("messages", 0)
        while time.perf_counter() - t0 < self.args.drain:
            await asyncio.sleep(0.25)
            s = await asyncio.to_thread(probe.stored)
            if cfg.cluster:
                if (await probe.stream_state()).get("messages", 0) == 0:
                    break
            elif s != last:
                last, still = s, time.perf_counter()
            elif time.perf_counter() - still > 1.0:
                break
        end = await probe.snapshot(None)
        s1, dt = end.stored, end.t - t0
        left = end.stream.get("messages", 0)
        cpu = cpu_split(first, end)
        return {
            "seconds": round(dt, 2),
            "frames": s1 - s0,
            "stored_per_s": (s1 - s0) / dt if dt > 0.5 and s1 > s0 else None,
            "stream_messages_before": backlog0,
            "stream_messages_left": left,
            "cpu_cores": cpu,
            # CPU per frame stored while nothing else arrives: the storage side's cost, group by group
            "cpu_us_per_frame": {g: round(v * dt / (s1 - s0) * 1e6) for g, v in cpu.items()}
            if s1 > s0
            else {},
        }

    async def wait_quiet(self) -> float:
        """Wait (at most ``--quiet-wait`` s) until processes other than this run's use under 0.3 cores, so
        that another job does not spoil the phase; returns the cores they used just before it."""
        deadline = time.monotonic() + self.args.quiet_wait
        while True:
            a = await Probe.cpu_snapshot(self.reaper)
            await asyncio.sleep(1.0)
            other = cpu_split(a, await Probe.cpu_snapshot(self.reaper))["other"]
            if other < 0.3 or time.monotonic() > deadline:
                if other >= 0.3:
                    console.print(f"[yellow]the machine stays busy ({other:.1f} cores used by others)[/]")
                return other

    async def phase(
        self, cfg: Config, probe: Probe, ports: list[int], mode: str, rate: float, n: int
    ) -> dict[str, Any]:
        a = self.args
        spec = LoadSpec(
            ports=ports,
            loggers=a.loggers,
            mode=mode,
            rate=rate,
            window=a.window,
            warmup=a.warmup,
            seconds=a.seconds,
            drain=a.drain_replies,
            phase=n,
            cap=a.cap,
        )
        counters = self.ctx.Array("q", 2, lock=False)
        go, ready, result = self.ctx.Event(), self.ctx.Queue(), self.ctx.Queue()
        proc = self.ctx.Process(target=load_main, args=(spec, counters, go, ready, result), daemon=True)
        proc.start()
        lg = self.reaper.add(Proc("loadgen", proc))
        label = f"{cfg.name}: " + (f"{rate:,.0f} frames/s offered" if mode == "paced" else "closed loop")
        task = self.progress.add_task(label, total=a.warmup + a.seconds, info="building frames, connecting")
        try:
            msg = None
            deadline = time.monotonic() + 180
            while msg is None:
                with contextlib.suppress(queue.Empty):
                    msg = await asyncio.to_thread(ready.get, True, 0.5)
                if msg is None and (not proc.is_alive() or time.monotonic() > deadline):
                    raise RuntimeError(f"the load generator did not start (exit code {proc.exitcode})")
            if msg != "ready":
                raise RuntimeError(f"load generator: {msg}")
            acked_base = await asyncio.to_thread(probe.stored)  # all acknowledged before is stored (drained)
            go.set()
            t0 = time.perf_counter()
            before: Snapshot | None = None
            acked_at_start, info = 0, ""
            prev = (t0, 0, 0, await asyncio.to_thread(probe.stored))
            while (now := time.perf_counter()) < t0 + a.warmup + a.seconds:
                if before is None and now >= t0 + a.warmup:
                    before = await probe.snapshot(lg)
                    acked_at_start = counters[1]
                await asyncio.sleep(min(0.5, max(0.0, t0 + a.warmup + a.seconds - time.perf_counter())))
                stored = await asyncio.to_thread(probe.stored)
                now = time.perf_counter()
                dt = now - prev[0]
                sent, acked = counters[0], counters[1]
                info = (
                    f"sent {(sent - prev[1]) / dt:6,.0f}/s  acked {(acked - prev[2]) / dt:6,.0f}/s  "
                    f"stored {(stored - prev[3]) / dt:6,.0f}/s  not stored {max(0, acked - stored):7,}"
                )
                prev = (now, sent, acked, stored)
                self.progress.update(task, completed=min(now - t0, a.warmup + a.seconds), info=info)
            after = await probe.snapshot(lg)
            assert before is not None
            acked_total = counters[1]
            self.progress.update(task, info=info + "  (last replies)")
            res = await asyncio.to_thread(result.get, True, a.drain_replies + 60)
            if "error" in res:
                raise RuntimeError(f"load generator: {res['error']}")
            fig = window_figures(before, after, acked_total + acked_base)
            fig["acked_during_window_total"] = acked_total - acked_at_start
            row = {"mode": mode, "offered_per_s": rate if mode == "paced" else None, **res, **fig}
            if mode == "window":
                row["window"] = a.window
            return row
        finally:
            proc.join(10)
            self.reaper.stop([lg], timeout=2)
            self.progress.remove_task(task)


def overloaded(row: dict[str, Any]) -> bool:
    """A paced phase the configuration did not keep up with: replies missing or late, or p99 over 1 s."""
    return (
        row["unreplied"] > 0
        or row["acked_per_s"] < 0.95 * row["offered_per_s"]
        or row["p99_ms"] is None
        or row["p99_ms"] > 1000
    )


WARNINGS = {
    "publish retries": "failed (nats",
    "leases taken over": "was taken over",
    "leases lost": "lease lost",
    "resubscribes": "resubscribing",
    "write retries": "storing",
}


def log_warnings(procs: list[Proc]) -> dict[str, int]:
    """Warnings the roles logged in a configuration (publish retries, lease churn, consumer restarts)."""
    out = dict.fromkeys(WARNINGS, 0)
    for p in procs:
        if p.log is None or not p.log.exists():
            continue
        for line in p.log.read_text(errors="replace").splitlines():
            if "WARNING" in line:
                for name, needle in WARNINGS.items():
                    if needle in line:
                        out[name] += 1
    return out


def table_sizes(con: Any, schema: str) -> dict[str, dict[str, int]]:
    """Rows, bytes on disk (table, indexes, TOAST) and of them the indexes', of every table of the schema."""
    out: dict[str, dict[str, int]] = {}
    tables = con.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
    ).fetchall()
    for (t,) in tables:
        rows = con.execute(f'SELECT count(*) FROM {schema}."{t}"').fetchone()[0]
        size = con.execute(
            "SELECT pg_total_relation_size(r), pg_indexes_size(r) "
            "FROM (SELECT format('%%I.%%I', %s::text, %s::text)::regclass AS r) x",
            (schema, t),
        ).fetchone()
        out[t] = {"rows": int(rows), "bytes": int(size[0]), "index_bytes": int(size[1])}
    return out


# ------------------------------------------------------------------------------------------ peers
def raw_copy(reaper: Reaper, seconds: float) -> float:
    """Plain psycopg COPY of the frame, reading and ledger rows envtrust stores (1,000 frames a commit)."""
    schema, url = reaper.new_schema()
    try:
        open_store(url).close()  # the same schema as envtrust's
        frames = [minute_frame(mn_of(0), i) for i in range(40_000)]
        with psycopg.connect(url) as con:
            return copy_rows(con, _raw_rows(frames), seconds)
    finally:
        reaper.drop_schema(schema)


def commit_cost(reaper: Reaper, sizes: tuple[int, ...] = (1, 10, 100, 1000)) -> dict[str, dict[str, float]]:
    """``Store.write`` as a worker calls it (with stream positions), in one process, by frames per commit: the
    fixed cost of a commit decides how fast small batches are stored."""
    from envtrust.services import Ingest
    from envtrust.store import StreamPosition

    schema, url = reaper.new_schema()
    out: dict[str, dict[str, float]] = {}
    try:
        store = open_store(url)
        try:
            ingest = Ingest(store)
            ingest.load_registry(parse_registry(registry_text(64)))
            epoch = store.acquire_lease("bus/0", "bench", 600.0)
            assert epoch is not None
            fr, seq, decoder = Frames(), 0, ingest.decoder()
            for size, n in enumerate(sizes, 1):
                batches = []
                for b in range(max(3, 300 // n)):
                    rows = []
                    for i in range(n):  # every frame distinct: (logger, size, place in the batches)
                        _, raw = fr.frame(i % 64, frame_index(i % 64, size, b * n + i))
                        p = ingest.prepare(decoder.feed(raw)[0], peer="127.0.0.1:1")
                        rows.append((p.row, p.readings))
                    batches.append(rows)
                t0 = time.perf_counter()
                for rows in batches:
                    seq += len(rows)
                    positions = [
                        StreamPosition("bus/0", epoch, seq - len(rows) + i + 1) for i in range(len(rows))
                    ]
                    store.write(rows, positions)
                per_commit = (time.perf_counter() - t0) / len(batches)
                out[str(n)] = {"ms_per_commit": per_commit * 1000, "frames_per_s": n / per_commit}
        finally:
            store.close()
    finally:
        reaper.drop_schema(schema)
    return out


async def raw_jetstream(servers: list[str], replicas: int, per_msg: int, seconds: float) -> float:
    """Frames/s published by one Python process (nats-py, 256 publishes in flight) with JetStream acks."""
    fr = Frames()
    payloads = [b"".join(fr.frame(k, i)[1] for i in range(per_msg)) for k in range(64)]
    nc = await nats.connect(servers=servers)
    js = nc.jetstream(timeout=10)
    name = f"RAW_{secrets.token_hex(3)}"
    await js.add_stream(
        StreamConfig(name=name, subjects=[f"raw_{name}.*"], num_replicas=replicas, storage=StorageType.FILE)
    )
    done = 0
    try:
        end = time.perf_counter() + 1.0 + seconds
        t_start = time.perf_counter() + 1.0

        async def publisher(k: int) -> None:
            nonlocal done
            i = k
            while (now := time.perf_counter()) < end:
                await js.publish(f"raw_{name}.{i % 16}", payloads[i % len(payloads)])
                if now >= t_start:
                    done += per_msg
                i += 1

        await asyncio.gather(*(publisher(k) for k in range(256)))
        return done / seconds
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(name)
        await nc.close()


# ------------------------------------------------------------------------------------------ report
def ms(v: float | None, unreplied: int = 0) -> str:
    if v is None:
        return "> drain" if unreplied else "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def cpu_text(c: dict[str, float]) -> str:
    short = {
        "nats": "nats",
        "gateway": "gw",
        "worker": "wk",
        "single": "serve",
        "postgres": "pg",
        "loadgen": "load",
    }
    return " ".join(f"{short.get(g, g)} {v:.2f}" for g, v in c.items() if v >= 0.01)


def report(results: dict[str, Any]) -> None:
    configs = results["configs"]
    base = next((c for c in configs if c["gateways"] == 0), None)
    base_max = base["closed_loop"]["acked_per_s"] if base and base.get("closed_loop") else None

    t = Table(title="acknowledged and stored frames/s, closed loop (each logger keeps frames in flight)")
    cols = ("configuration", "acked/s", "× single", "stored/s", "not stored at end", "drain/s")
    for col in (*cols, "CPU cores", "warnings logged"):
        t.add_column(col, justify="right" if col in cols[1:] else "left")
    for c in configs:
        r = c.get("closed_loop")
        if not r:
            continue
        t.add_row(
            c["name"],
            f"{r['acked_per_s']:,.0f}",
            f"{r['acked_per_s'] / base_max:.2f}" if base_max else "–",
            f"{r['stored_per_s']:,.0f}",
            f"{r['backlog_frames']:,}",
            f"{c['drain_per_s']:,.0f}" if c.get("drain_per_s") else "–",
            cpu_text(r["cpu_cores"]),
            ", ".join(f"{k} {v}" for k, v in c.get("log_warnings", {}).items() if v),
        )
    out.print(t)

    t = Table(title="acknowledgement latency at a paced offered load (logger write → 9014 reply read)")
    cols = ("configuration", "offered/s", "sent/s", "acked/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
    for col in (*cols, "unanswered", "gw p99 ≤", "stored/s", "load CPU", "busy"):
        t.add_column(col, justify="left" if col == "configuration" else "right")
    for c in configs:
        for r in c.get("phases", []):
            if r["mode"] != "paced":
                continue
            if "skipped" in r:
                t.add_row(
                    c["name"], f"{r['offered_per_s']:,.0f}", f"not run: overloaded at {r['skipped']:,.0f}/s"
                )
                continue
            u = r["unreplied"]
            t.add_row(
                c["name"],
                f"{r['offered_per_s']:,.0f}",
                f"{r['sent_per_s']:,.0f}",
                f"{r['acked_per_s']:,.0f}",
                ms(r["p50_ms"], u),
                ms(r["p90_ms"], u),
                ms(r["p99_ms"], u),
                ms(r["max_ms"], u),
                f"{u:,}",
                ms(r.get("gateway_p99_le_ms")),
                f"{r['stored_per_s']:,.0f}",
                f"{r['loadgen_cpu']:.2f}",
                f"{r['machine_busy']:.0%}",
            )
    out.print(t)

    t = Table(title="peers in the same run")
    t.add_column("measure")
    t.add_column("frames/s", justify="right")
    for k, v in results["peers"].items():
        t.add_row(k, f"{v:,.0f}")
    out.print(t)
    for c in configs:
        per = [r["stream_bytes_per_frame"] for r in c.get("phases", []) if r.get("stream_bytes_per_frame")]
        if per:
            out.print(f"JetStream stream bytes per acknowledged frame ({c['name']}): {per[-1]:,.0f}")
    cc = results.get("commit_cost")
    if cc:
        out.print(
            "Store.write with stream positions, one process, by frames per commit: "
            + "; ".join(
                f"{n}: {v['ms_per_commit']:.1f} ms = {v['frames_per_s']:,.0f} frames/s" for n, v in cc.items()
            )
        )

    st = results.get("storage")
    if st:
        t = Table(title=f"PostgreSQL bytes per accepted frame ({st['frames']:,} frames, {st['config']})")
        t.add_column("table")
        t.add_column("rows per frame", justify="right")
        t.add_column("bytes per frame", justify="right")
        t.add_column("of which indexes", justify="right")
        for name, v in st["per_frame"].items():
            t.add_row(name, f"{v['rows']:.2f}", f"{v['bytes']:,.0f}", f"{v['index_bytes']:,.0f}")
        out.print(t)


def storage_per_frame(configs: list[dict[str, Any]]) -> dict[str, Any] | None:
    best = max(configs, key=lambda c: c.get("sizes", {}).get("frames", {}).get("rows", 0), default=None)
    if best is None or not best.get("sizes"):
        return None
    sizes = best["sizes"]
    n = sizes["frames"]["rows"]
    if n == 0:
        return None
    per = {}
    main = ("frames", "readings", "ledger_entries", "ledger_nodes")
    for t in main:
        if t in sizes:
            per[t] = {k: v / n for k, v in sizes[t].items()}
    rest = [v for k, v in sizes.items() if k not in main]
    per["all other tables"] = {k: sum(v[k] for v in rest) / n for k in ("rows", "bytes", "index_bytes")}
    per["total"] = {k: sum(v[k] for v in per.values()) for k in ("rows", "bytes", "index_bytes")}
    return {"config": best["name"], "frames": n, "per_frame": per, "tables": sizes}


# ------------------------------------------------------------------------------------------ main
async def run(args: argparse.Namespace, reaper: Reaper, root: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "logs", "rate_list")},
        "peers": {},
        "configs": [],
    }
    ledger_signer(DEFAULT_ORIGIN, root / "keys", create=True)  # one ledger key for every process
    g = args.reference_gateways
    configs = [Config("single process (serve, no bus)", paced=True)]
    if args.variant:  # the reference under each variant's settings, interleaved --repeat times
        for r in range(args.repeat):
            for name, settings in args.variant:
                label = f"{g} gw + 2 wk, NATS ×3 R3 [{name}]" + (f" #{r + 1}" if args.repeat > 1 else "")
                configs.append(Config(label, g, 2, 3, settings=settings))
    else:
        configs.append(Config(f"{g} gw + 2 wk, NATS ×3 R3", g, 2, 3))
    for n in args.gateway_list:
        if n != g:
            configs.append(Config(f"{n} gw + 2 wk, NATS ×3 R3", n, 2, 3, paced=False))
    for n in args.worker_list:
        if n != 2:
            configs.append(Config(f"{g} gw + {n} wk, NATS ×3 R3", g, n, 3, paced=False))
    if not args.no_gateways_only:  # the acknowledgement path alone: nothing stores, the stream fills
        configs.append(Config(f"{g} gw + 0 wk, NATS ×3 R3", g, 0, 3, paced=True))
    if not args.no_single_node:
        configs.append(Config(f"{g} gw + 2 wk, NATS ×1 R1", g, 2, 1, paced=True))

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    ) as progress:
        bench = Bench(args, reaper, root, progress)
        overall = progress.add_task("cluster benchmark", total=len(configs) + 2, info="")
        progress.update(overall, info="starting NATS ×3 (JetStream cluster)")
        bench.nats3 = NatsServers(reaper, root, 3, "n")
        await wait_jetstream(bench.nats3.servers, 3)
        if not args.no_single_node:
            bench.nats1 = NatsServers(reaper, root, 1, "s")
            await wait_jetstream(bench.nats1.servers, 1)

        progress.update(overall, info="peers: raw COPY and raw JetStream publishes")
        results["peers"]["raw psycopg COPY of the same rows"] = await asyncio.to_thread(
            raw_copy, reaper, args.peer_seconds
        )
        results["commit_cost"] = await asyncio.to_thread(commit_cost, reaper)
        for per in (1, 20):
            results["peers"][f"raw JetStream publish, NATS ×3 R3, {per} frame/msg"] = await raw_jetstream(
                bench.nats3.servers, 3, per, args.peer_seconds
            )
            if bench.nats1 is not None:
                results["peers"][f"raw JetStream publish, NATS ×1 R1, {per} frame/msg"] = await raw_jetstream(
                    bench.nats1.servers, 1, per, args.peer_seconds
                )
        progress.advance(overall, 2)

        for cfg in configs:
            progress.update(overall, info=cfg.name)
            try:
                await bench.run_config(cfg)
            except Exception as exc:  # reported, and the other configurations still run
                console.print(f"[red]{cfg.name}: {exc}[/]")
                cfg.result["error"] = str(exc)
            phases = cfg.result.get("phases", [])
            closed = next((p for p in phases if p["mode"] == "window"), None)
            drains = [
                p["drain_after"]["stored_per_s"]
                for p in phases
                if p.get("drain_after", {}).get("stored_per_s") and p["drain_after"]["seconds"] > 2
            ]
            results["configs"].append(
                {
                    "name": cfg.name,
                    "gateways": cfg.gateways,
                    "workers": cfg.workers,
                    "replicas": cfg.replicas if cfg.cluster else None,
                    "closed_loop": closed,
                    "drain_per_s": max(drains) if drains else None,
                    **cfg.result,
                }
            )
            progress.advance(overall)
    results["storage"] = storage_per_frame(results["configs"])
    return results


def parse_variant(text: str) -> tuple[str, list[tuple[str, str]]]:
    name, _, rest = text.partition(":")
    pairs = [tuple(kv.split("=", 1)) for kv in rest.split(",") if kv]
    if not name or any(len(kv) != 2 for kv in pairs):
        raise SystemExit(f"--variant {text!r}: give NAME:KEY=VALUE,KEY=VALUE")
    return name, [(k, v) for k, v in pairs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--db", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL (a database)"
    )
    ap.add_argument("--seconds", type=float, default=8.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--rates", default="250,500,1000,2500,5000", help="paced offered rates, frames/s")
    ap.add_argument("--loggers", type=int, default=500, help="data loggers (connections, one MN each)")
    ap.add_argument("--window", type=int, default=4, help="closed loop: frames in flight per logger")
    ap.add_argument("--gateways", default="1,2,4", help="gateway counts to run (with 2 workers)")
    ap.add_argument("--workers", default="1,2", help="worker counts to run (with the reference gateways)")
    ap.add_argument(
        "--reference-gateways", type=int, default=2, help="gateways of the reference configuration"
    )
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,…",
        help="run the reference under these [cluster] settings (repeatable; e.g. 'unbatched:publish_in_flight=0,"
        "commit_linger=0'); the variants run one after another, --repeat times",
    )
    ap.add_argument("--repeat", type=int, default=1, help="run the list of --variant this many times")
    ap.add_argument(
        "--cluster-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another [cluster] key for the gateways and workers (TOML value), e.g. linger=0.01; repeatable",
    )
    ap.add_argument(
        "--drain", type=float, default=10.0, help="seconds to let the stream drain between phases"
    )
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="most seconds to wait for a quiet machine")
    ap.add_argument("--drain-replies", type=float, default=5.0, help="seconds to wait for the last replies")
    ap.add_argument("--cap", type=float, default=8000.0, help="closed loop: most frames/s expected")
    ap.add_argument("--peer-seconds", type=float, default=5.0)
    ap.add_argument("--no-single-node", action="store_true", help="skip the single-node NATS (R1) variant")
    ap.add_argument(
        "--no-gateways-only", action="store_true", help="skip the run with gateways and no workers"
    )
    ap.add_argument("--no-closed-loop", action="store_true")
    ap.add_argument("--no-skip", action="store_true", help="run every rate, even above one that overloaded")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 4 s phases, 1 rate, fewer configs")
    ap.add_argument("--json", type=Path, default=None, help="write the results to this file")
    ap.add_argument("--logs", type=Path, default=None, help="copy every process's log into this folder")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.rates, args.gateways, args.workers = 4.0, 1.0, "1000", "2", "2"
        args.peer_seconds, args.drain, args.no_single_node, args.loggers = 2.0, 10.0, True, 200
        args.no_gateways_only = True
    args.variant = [parse_variant(v) for v in args.variant]
    args.cluster_set = [tuple(kv.split("=", 1)) for kv in args.cluster_set]
    if any(len(kv) != 2 for kv in args.cluster_set):
        raise SystemExit("--cluster-set: give KEY=VALUE")
    args.rate_list = [float(r) for r in args.rates.split(",") if r]
    args.gateway_list = [int(g) for g in args.gateways.split(",") if g]
    args.worker_list = [int(w) for w in args.workers.split(",") if w]
    if not os.path.exists(NATS_SERVER):
        raise SystemExit("nats-server is not installed (Debian package nats-server)")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every process started here

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    reaper = Reaper(args.db)
    tmp = tempfile.mkdtemp(prefix="envtrust-bench-cluster-")
    try:
        results = asyncio.run(run(args, reaper, Path(tmp)))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stopping every process and dropping the schemas[/]")
        raise SystemExit(130) from None
    finally:
        reaper.close()
        if args.logs is not None:  # the processes' logs, for a look at what went wrong or slow
            args.logs.mkdir(parents=True, exist_ok=True)
            for f in Path(tmp).glob("*.log"):
                shutil.copy(f, args.logs / f.name)
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=_jsonable), encoding="utf-8")
        console.print(f"results written to {args.json}")


def _jsonable(v: object) -> object:
    if isinstance(v, Path):
        return str(v)
    if hasattr(v, "__dataclass_fields__"):
        return asdict(v)  # type: ignore[arg-type]
    raise TypeError(type(v).__name__)


if __name__ == "__main__":
    main()
