"""The TCP gateway over real loopback sockets with a real SQLite file (issue 2, "How it will be checked")."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from envtrust import hj212
from envtrust.ingest.server import Gateway, GatewayLimits
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import open_store

MN = "21010012345678ABCDEF0123"
MN2 = "21010012345678ABCDEF0456"
REGISTRY = f"""
[[point]]
mn = "{MN}"
enterprise = "沈阳某热电有限公司"
name = "1号锅炉排放口"
region = "210106"
medium = "gas"
reference_o2 = 6.0
limits = {{ a21026 = 35, a21002 = 50, a34013 = 10 }}
pw = "123456"

[[point]]
mn = "{MN2}"
enterprise = "沈阳某污水处理有限公司"
name = "总排口"
region = "210113"
medium = "water"
limits = {{ w01018 = 50, w21003 = 5 }}
"""


def frame(i: int, mn: str = MN, cn: str = "2051", pw: str = "123456", flag: int = 5) -> bytes:
    minute = i % (60 * 24 * 28)
    dt = f"202601{1 + minute // 1440:02d}{minute // 60 % 24:02d}{minute % 60:02d}00"
    items = [
        hj212.Item(code, {"Min": "10.1", "Avg": f"{20 + i % 7}.5", "Max": "30.3", "Flag": "N"}, code)
        for code in ("a21026", "a21002", "a34013", "a19001")
    ]
    return hj212.upload(
        qn=f"20260101000000{i % 1000:03d}", st="31", cn=cn, pw=pw, mn=mn, data_time=dt, items=items, flag=flag
    )


def run_with_gateway(
    tmp_path: Path, body: Callable[[Gateway], Awaitable[None]], limits: GatewayLimits | None = None
) -> str:
    url = f"sqlite:///{tmp_path / 'gw.db'}"

    async def main() -> None:
        with open_store(url) as store:
            ingest = Ingest(store)
            ingest.load_registry(parse_registry(REGISTRY))
            gw = Gateway(ingest, "127.0.0.1", 0, limits)
            await gw.start()
            try:
                await body(gw)
            finally:
                await gw.close()

    asyncio.run(main())
    return url


async def read_replies(reader: asyncio.StreamReader, n: int, timeout: float = 20.0) -> list[hj212.Frame]:
    decoder = hj212.Decoder()
    out: list[hj212.Frame] = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            data = await reader.read(65536)
            if not data:
                break
            for e in decoder.feed(data):
                assert isinstance(e, hj212.Frame), e
                out.append(e)
    return out


def rows(url: str, sql: str) -> list[tuple]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_frame_written_one_byte_at_a_time_is_stored_once_and_acknowledged(tmp_path: Path) -> None:
    data = frame(1)

    async def body(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        for b in data:
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(0.001)
        [reply] = await read_replies(reader, 1)
        assert reply.cn == "9014" and reply.st == "91" and reply.qn == "20260101000000001"
        assert reply.fields["Flag"] == "4" and reply.cp == {} and reply.items == ()
        writer.close()
        await writer.wait_closed()

    url = run_with_gateway(tmp_path, body)
    stored = rows(url, "select raw, status, cn from frames")
    assert stored == [(data, "ok", "2051")]
    assert rows(url, "select count(*) from readings") == [(4,)]


def test_bad_frames_are_answered_and_quarantined_while_others_are_served(tmp_path: Path) -> None:
    good = frame(2)
    bad_crc = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"1111") + b"\r\n"
    segment = good[6:-6]
    bad_length = b"##0999" + segment + good[-6:]
    non_ascii = hj212.encode_frame(segment.replace(b"a21026-Min=10.1", b"a21026-Min=\xff\xfe.1"))
    oversize = hj212.encode_frame(
        segment[:-2] + b";" + b";".join([b"a99%03d-Rtd=1.0" % i for i in range(90)]) + b"&&"
    )
    unknown = frame(3, mn="99999999999999999999ABCD")
    wrong_pw = frame(4, pw="654321")
    cases = {
        "bad_crc": (bad_crc, 9),
        "bad_length": (bad_length, 100),
        "non_ascii": (non_ascii, 100),
        "oversize": (oversize, 100),
        "unknown_mn": (unknown, 4),
        "bad_pw": (wrong_pw, 3),
    }

    async def body(gw: Gateway) -> None:
        r1, w1 = await asyncio.open_connection("127.0.0.1", gw.port)
        r2, w2 = await asyncio.open_connection("127.0.0.1", gw.port)
        for k, (code, (raw, qn_rtn)) in enumerate(cases.items()):
            w1.write(raw)
            await w1.drain()
            [reply] = await read_replies(r1, 1)
            assert reply.cn == "9011", code
            assert reply.cp == {"QnRtn": str(qn_rtn)}, code
            # the other logger is still served
            w2.write(frame(100 + k))
            await w2.drain()
            [ack] = await read_replies(r2, 1)
            assert ack.cn == "9014"
        for w in (w1, w2):
            w.close()
            await w.wait_closed()

    url = run_with_gateway(tmp_path, body)
    quarantined = dict(rows(url, "select error_code, raw from frames where status = 'quarantine'"))
    for code, (raw, _) in cases.items():
        assert quarantined[code] == raw, code
    reasons = rows(url, "select reason from frames where status = 'quarantine'")
    assert all(r[0] for r in reasons)
    assert rows(url, "select count(*) from frames where status = 'ok'") == [(len(cases),)]


def test_same_packet_twice_is_stored_once_with_every_raw_copy(tmp_path: Path) -> None:
    data = frame(5)

    async def body(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(data + data)
        await writer.drain()
        assert len(await read_replies(reader, 2)) == 2
        writer.close()
        await writer.wait_closed()

    url = run_with_gateway(tmp_path, body)
    assert rows(url, "select status, duplicate_of from frames order by id") == [
        ("ok", None),
        ("duplicate", 1),
    ]
    assert rows(url, "select count(*) from readings") == [(4,)]


def test_a_thousand_concurrent_connections(tmp_path: Path) -> None:
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * n + 100:
        want = min(hard, 4 * n) if hard != resource.RLIM_INFINITY else 4 * n
        if want < 2 * n + 100:
            pytest.skip(f"needs {2 * n + 100} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    async def body(gw: Gateway) -> None:
        conns = []
        for _ in range(n):
            conns.append(await asyncio.open_connection("127.0.0.1", gw.port))
        assert gw.stats.connections == n
        for i, (_, w) in enumerate(conns):
            w.write(frame(i, mn=MN if i % 2 else MN2))
        await asyncio.gather(*(w.drain() for _, w in conns))
        replies = await asyncio.gather(*(read_replies(r, 1, timeout=60) for r, _ in conns))
        assert all(len(x) == 1 and x[0].cn == "9014" for x in replies)
        for _, w in conns:
            w.close()

    url = run_with_gateway(tmp_path, body)
    assert rows(url, "select count(*) from frames where status = 'ok'") == [(n,)]


def test_idle_connections_are_closed(tmp_path: Path) -> None:
    async def body(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        async with asyncio.timeout(10):
            assert await reader.read(100) == b""  # closed by the gateway
        writer.close()

    run_with_gateway(tmp_path, body, GatewayLimits(idle_timeout=0.5, tail_wait=0.1))


def test_frame_without_crlf_is_taken_when_the_logger_goes_quiet(tmp_path: Path) -> None:
    data = frame(6)[:-2]

    async def body(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(data)
        await writer.drain()
        [reply] = await read_replies(reader, 1, timeout=10)
        assert reply.cn == "9014"
        writer.close()

    url = run_with_gateway(tmp_path, body, GatewayLimits(tail_wait=0.2))
    assert rows(url, "select raw, warnings from frames") == [(data, "no CRLF")]


# ------------------------------------------------------------------------------------- the real process
def start_server(tmp_path: Path, db: str) -> tuple[subprocess.Popen[bytes], int]:
    reg = tmp_path / "registry.toml"
    reg.write_text(REGISTRY, encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ENVTRUST_KEYS": str(tmp_path / "keys")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envtrust",
            "serve",
            "--db",
            db,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--registry",
            str(reg),
            "--http-port",
            "0",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stderr is not None
    deadline = time.time() + 60
    line = b""
    while time.time() < deadline:
        line = proc.stderr.readline()
        if b"listening on" in line:
            port = int(line.split(b"listening on ", 1)[1].split(b" ", 1)[0].rsplit(b":", 1)[1])
            return proc, port
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"server did not start: {line!r}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


async def load(port: int, conns: int, acked: set[str], stop: asyncio.Event) -> None:
    """Loggers that send frames as fast as they are acknowledged and note every acknowledged QN+DataTime."""

    async def logger(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = hj212.Decoder()
        i = 0
        try:
            while not stop.is_set():
                batch = [frame(k * 100000 + i + j, mn=MN) for j in range(5)]
                i += 5
                writer.write(b"".join(batch))
                await writer.drain()
                got = 0
                while got < len(batch):
                    data = await reader.read(65536)
                    if not data:
                        return
                    for e in decoder.feed(data):
                        assert isinstance(e, hj212.Frame)
                        got += 1
                # each reply acknowledges one frame of the batch, in order
                for f in batch:
                    acked.add(hj212.parse_frame(f).segment.decode())
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()

    await asyncio.gather(*(logger(k) for k in range(conns)), return_exceptions=True)


async def load_then(
    port: int, conns: int, acked: set[str], target: int, act: Callable[[], None], stop_load: bool = True
) -> None:
    """Run the load until ``target`` frames are acknowledged (or 30 s), then ``act`` on the server."""
    stop = asyncio.Event()
    task = asyncio.create_task(load(port, conns, acked, stop))
    deadline = time.time() + 30
    while len(acked) < target and time.time() < deadline:
        await asyncio.sleep(0.05)
    act()
    if stop_load:
        stop.set()
    await asyncio.wait_for(task, 30)


def stored_segments(db_path: Path) -> set[str]:
    con = sqlite3.connect(db_path)
    try:
        out = set()
        for (raw,) in con.execute("select raw from frames where status in ('ok', 'duplicate')"):
            out.add(raw[6:-6].decode())
        return out
    finally:
        con.close()


@pytest.mark.slow
def test_kill_9_under_load_loses_no_acknowledged_frame(tmp_path: Path) -> None:
    db_path = tmp_path / "crash.db"
    proc, port = start_server(tmp_path, f"sqlite:///{db_path}")
    acked: set[str] = set()
    try:
        # kill it in the middle of the load
        asyncio.run(load_then(port, 20, acked, 3000, lambda: os.kill(proc.pid, signal.SIGKILL)))
    finally:
        stop_server(proc)
    assert len(acked) >= 1000, "the load did not get going"
    missing = acked - stored_segments(db_path)
    assert not missing, f"{len(missing)} acknowledged frames lost"


@pytest.mark.slow
def test_sigterm_shuts_down_cleanly_and_keeps_everything_acknowledged(tmp_path: Path) -> None:
    db_path = tmp_path / "term.db"
    proc, port = start_server(tmp_path, f"sqlite:///{db_path}")
    acked: set[str] = set()
    try:
        asyncio.run(
            load_then(port, 10, acked, 1000, lambda: proc.send_signal(signal.SIGTERM), stop_load=False)
        )
        assert proc.wait(timeout=30) == 0
    finally:
        stop_server(proc)
    missing = acked - stored_segments(db_path)
    assert not missing
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
