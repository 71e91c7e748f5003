"""Real processes on loopback for the cluster tests: a NATS cluster of three ``nats-server`` processes (Debian
package) and ``envtrust serve`` processes in their roles, plus data loggers that resend what was not acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from envtrust import hj212

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


class NatsCluster:
    """Three JetStream-enabled nats-server processes routed into one cluster."""

    def __init__(self, root: Path, n: int = 3) -> None:
        if not os.path.exists(NATS_SERVER):
            pytest.skip("nats-server is not installed (Debian package nats-server; make test installs it)")
        self.root = root
        self.ports = [free_port() for _ in range(n)]
        self.cports = [free_port() for _ in range(n)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        for i in range(n):
            self.start(i)
        for p in self.ports:
            wait_port(p)

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)

    def start(self, i: int) -> None:
        routes = ",".join(f"nats://127.0.0.1:{c}" for j, c in enumerate(self.cports) if j != i)
        store = self.root / f"nats{i}"
        store.mkdir(exist_ok=True)
        with open(self.root / f"nats{i}.log", "ab") as log:
            self.procs[i] = self._popen(i, store, routes, log)

    def _popen(self, i: int, store: Path, routes: str, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                NATS_SERVER,
                "-a", "127.0.0.1",
                "-p", str(self.ports[i]),
                "-js",
                "-sd", str(store),
                "--server_name", f"n{i}",
                "--cluster_name", "envtrust-test",
                "--cluster", f"nats://127.0.0.1:{self.cports[i]}",
                "--routes", routes,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self, i: int) -> None:
        p = self.procs[i]
        if p is not None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            self.procs[i] = None

    def close(self) -> None:
        for i in range(len(self.procs)):
            self.kill(i)


@dataclass
class Role:
    name: str
    proc: subprocess.Popen[bytes]
    port: int | None  # HJ 212 port (gateways)
    http_port: int
    log: Path

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return int(self.proc.returncode)


@dataclass
class Cluster:
    root: Path
    db: str
    bus: str
    config: Path
    roles: list[Role] = field(default_factory=list)

    def serve(self, role: str, *extra: str) -> Role:
        port = free_port() if role == "gateway" else None
        http = free_port()
        log = self.root / f"{role}-{len(self.roles)}.log"
        args = [
            sys.executable, "-m", "envtrust", "serve",
            "--role", role,
            "--bus", self.bus,
            "--db", self.db,
            "--config", str(self.config),
            "--keys", str(self.root / "keys"),
            "--host", "127.0.0.1",
            "--http-port", str(http),
            "--checkpoint-interval", "1",
            "--no-checks",
            *(["--port", str(port)] if port is not None else []),
            *extra,
        ]  # fmt: skip
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=self.root)
        r = Role(role, proc, port, http, log)
        self.roles.append(r)
        wait_port(port if port is not None else http, timeout=60)
        return r

    def close(self) -> None:
        for r in self.roles:
            r.kill()


@dataclass
class Logger:
    """Data loggers that send numbered frames to the gateways and resend, on a new connection to the next gateway,
    whatever was not acknowledged — as real loggers do after a timeout."""

    frames: dict[str, bytes]  # QN -> frame
    acked: set[str] = field(default_factory=set)
    ack_times: list[float] = field(default_factory=list)

    async def run(self, ports: list[int], connections: int, rate: float, deadline: float) -> None:
        """Send every frame at about ``rate`` frames/s over ``connections`` connections until all are acknowledged
        or ``deadline`` (monotonic) passes."""
        qns = list(self.frames)
        share = [qns[i::connections] for i in range(connections)]
        await asyncio.gather(
            *(self._conn(i, s, ports, rate / connections, deadline) for i, s in enumerate(share))
        )

    async def _conn(self, i: int, qns: list[str], ports: list[int], rate: float, deadline: float) -> None:
        attempt = i
        todo = list(qns)
        while todo and time.monotonic() < deadline:
            port = ports[attempt % len(ports)]
            attempt += 1
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2.0)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            got = asyncio.create_task(self._read(reader))
            try:
                for qn in todo:
                    writer.write(self.frames[qn])
                    await writer.drain()
                    await asyncio.sleep(1 / rate)
                    if got.done():
                        break
                wait_until = time.monotonic() + 10
                while (
                    time.monotonic() < wait_until
                    and not got.done()
                    and any(q not in self.acked for q in todo)
                ):
                    await asyncio.sleep(0.05)
            except (OSError, ConnectionError):
                pass
            finally:
                got.cancel()
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            todo = [q for q in todo if q not in self.acked]

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = hj212.Decoder()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for e in decoder.feed(data):
                if isinstance(e, hj212.Frame) and e.qn is not None and e.qn not in self.acked:
                    self.acked.add(e.qn)
                    self.ack_times.append(time.monotonic())


def numbered_frames(mns: list[str], n: int) -> dict[str, bytes]:
    """``n`` distinct upload frames spread over the points; the QN (unique) identifies each."""
    out: dict[str, bytes] = {}
    for i in range(n):
        mn = mns[i % len(mns)]
        k = i // len(mns)
        dt = f"202601{1 + k // 1440:02d}{k // 60 % 24:02d}{k % 60:02d}00"
        qn = f"{20260101000000000 + i}"
        items = [hj212.Item(c, {"Avg": f"{10 + i % 13}.5", "Flag": "N"}, c) for c in ("a21026", "a21002")]
        out[qn] = hj212.upload(
            qn=qn, st="31", cn="2051", pw="123456", mn=mn, data_time=dt, items=items, flag=5
        )
    return out


def registry_of(mns: list[str]) -> str:
    return "".join(
        f'[[point]]\nmn = "{mn}"\nenterprise = "测试企业{i}"\nname = "排放口{i}"\nregion = "210102"\n'
        f'medium = "gas"\nlimits = {{ a21026 = 35 }}\npw = "123456"\n\n'
        for i, mn in enumerate(mns)
    )


@contextlib.contextmanager
def nats_cluster(root: Path) -> Iterator[NatsCluster]:
    c = NatsCluster(root)
    try:
        yield c
    finally:
        c.close()
