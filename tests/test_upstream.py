"""Upstream forwarding over real loopback sockets: an upstream that is down receives everything, in order, when it
returns; byte-exact or re-encoded in HJ 212-2017; refusals counted, not retried; the lag by the CLI."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envtrust import hj212
from envtrust.cli import app
from envtrust.errors import ConfigError
from envtrust.ingest.upstream import Forwarder, UpstreamConfig, upstreams_config
from envtrust.registry import parse_registry
from envtrust.services import Ingest
from envtrust.store import Store, open_store
from integration.test_gateway import MN, MN2, REGISTRY, frame


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Upstream:
    """An HJ 212 platform: keeps what it receives and answers 9014 (or refuses with ``refuse`` as QnRtn)."""

    def __init__(self, port: int, refuse: int | None = None) -> None:
        self.port = port
        self.refuse = refuse
        self.received: list[hj212.Frame] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = hj212.Decoder()
        while data := await reader.read(65536):
            for e in decoder.feed(data):
                assert isinstance(e, hj212.Frame), e
                self.received.append(e)
                if self.refuse is not None:
                    writer.write(hj212.reply_9011(e.fields, self.refuse))
                elif e.needs_reply:
                    writer.write(hj212.reply_9014(e.fields))
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def stored(url: str, frames: list[bytes]) -> Store:
    store = open_store(url)
    store.load_registry(parse_registry(REGISTRY))
    ingest = Ingest(store)
    ingest.record([ingest.prepare(e, peer="t:1") for e in ingest.decoder().feed(b"".join(frames))])
    return store


async def until(pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.02)


def test_an_upstream_that_was_down_receives_everything_in_order_when_it_returns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'up.db'}"
    sent = [frame(i, MN) for i in range(120)] + [frame(i, MN2) for i in range(30)]
    port = free_port()
    store = stored(url, [*sent, frame(0, "21019999999999")])  # the unknown MN is quarantined: not forwarded
    cfg = UpstreamConfig("nation", "127.0.0.1", port, window=50, ack_timeout=2.0)

    async def main() -> tuple[Upstream, list[dict[str, object]]]:
        fwd = Forwarder(store, cfg, Ingest(store).points, poll_s=0.05, max_backoff=0.2)
        task = asyncio.create_task(fwd.run())
        await until(lambda: fwd.stats.failures >= 2)  # down: nothing delivered, the problem recorded
        down = store.upstream_states()
        upstream = Upstream(port)
        await upstream.start()
        await until(lambda: fwd.stats.position >= len(sent))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await upstream.stop()
        return upstream, down

    upstream, down = asyncio.run(main())
    assert down[0]["lag_frames"] == len(sent) and down[0]["acked_upto"] == 0
    assert "ConnectionRefusedError" in str(down[0]["last_error"])
    assert [f.raw for f in upstream.received] == sent  # byte-exact, in the order received
    [state] = store.upstream_states()
    assert state["acked_upto"] == len(sent) and state["lag_frames"] == 0 and state["last_error"] is None
    assert state["acks"] == len(sent) and state["sent"] == len(sent)
    done = CliRunner().invoke(app, ["upstream", "status", "--db", url, "--json"])
    assert done.exit_code == 0, done.output
    row = json.loads(done.stdout)
    assert row["name"] == "nation" and row["lag_frames"] == 0 and row["lag_seconds"] is None
    table = CliRunner().invoke(app, ["upstream", "status", "--db", url], env={"COLUMNS": "200"})
    assert "nation" in table.stdout and "127.0.0.1" in table.stdout
    store.close()


def test_re_encoded_for_a_2017_platform_with_its_own_password_and_only_its_region(tmp_path: Path) -> None:
    seg = f"ST=32;CN=2011;PW=123456;MN={MN2};CP=&&DataTime=20260105021000;B01-Rtd=100;011-Rtd=50&&".encode()
    old = hj212.encode_frame(seg)  # HJ/T 212-2005: no QN, no Flag, 2005 codes
    url = f"sqlite:///{tmp_path / 'up.db'}"
    store = stored(url, [frame(1, MN), old])
    port = free_port()
    cfg = UpstreamConfig("city", "127.0.0.1", port, dialect="2017", pw="city-pw", regions=("210113",))

    async def main() -> Upstream:
        upstream = Upstream(port)
        await upstream.start()
        fwd = Forwarder(store, cfg, Ingest(store).points, poll_s=0.05)
        task = asyncio.create_task(fwd.run())
        await until(lambda: fwd.stats.position >= 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await upstream.stop()
        return upstream

    [got] = asyncio.run(main()).received  # MN's region 210106 is not the city's
    assert got.version == hj212.Version.HJ212_2017 and got.mn == MN2 and got.fields["PW"] == "city-pw"
    assert got.needs_reply and [(i.code, i.code_raw) for i in got.items] == [
        ("w00000", "w00000"),
        ("w01018", "w01018"),
    ]
    assert got.cp["DataTime"] == "20260105021000"
    store.close()


def test_a_refused_frame_is_counted_and_not_sent_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'up.db'}"
    store = stored(url, [frame(i) for i in range(5)])
    port = free_port()

    async def main() -> Upstream:
        upstream = Upstream(port, refuse=int(hj212.QnRtn.PW_ERROR))
        await upstream.start()
        fwd = Forwarder(store, UpstreamConfig("p", "127.0.0.1", port), Ingest(store).points, poll_s=0.05)
        task = asyncio.create_task(fwd.run())
        await until(lambda: fwd.stats.position >= 5)
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await upstream.stop()
        return upstream

    assert len(asyncio.run(main()).received) == 5
    [state] = store.upstream_states()
    assert state["refused"] == 5 and state["acks"] == 0 and state["acked_upto"] == 5
    store.close()


def test_upstream_tables_of_the_configuration() -> None:
    [u] = upstreams_config(
        [{"name": "nation", "host": "hj212.example.cn", "port": 8900, "dialect": "2017", "ack_timeout": 5}]
    )
    assert u == UpstreamConfig("nation", "hj212.example.cn", 8900, dialect="2017", ack_timeout=5.0)
    assert upstreams_config(None) == []
    for bad, match in [
        ({"name": "a", "host": "h"}, "port is required"),
        ({"name": "a", "host": "h", "port": 1, "dialect": "2005"}, "dialect"),
        ({"name": "a", "host": "h", "port": 0}, "port 1–65535"),
        ({"name": "a", "host": "h", "port": 1, "regions": "2101"}, "expected list"),
        ({"name": "a", "host": "h", "port": 1, "colour": 1}, "unknown key"),
        ({"name": "a", "host": "h", "port": True}, "expected int"),
    ]:
        with pytest.raises(ConfigError, match=match):
            upstreams_config([bad])
    with pytest.raises(ConfigError, match="used twice"):
        upstreams_config([{"name": "a", "host": "h", "port": 1}, {"name": "a", "host": "g", "port": 2}])
