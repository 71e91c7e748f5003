"""The real processes together: `envtrust serve` (gateway + HTTP API + checkpoints), `envtrust witness`,
`envtrust verify` — as an operator and an outside witness would run them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .test_gateway import REGISTRY, frame, read_replies

WITNESS = "witness.test/w1"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envtrust", *args], env=env, capture_output=True, text=True, timeout=120
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_checkpoints_a_witness_cosigns_and_verify_passes(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ENVTRUST_KEYS": str(keys)}
    assert run(["keys", "create", WITNESS], env).returncode == 0
    reg = tmp_path / "registry.toml"
    reg.write_text(REGISTRY, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'serve.db'}"
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
            "--http-port",
            "0",
            "--registry",
            str(reg),
            "--witness-key",
            WITNESS,
            "--checkpoint-interval",
            "0.5",
            "--no-checks",  # exactly the entries of the registry and the frames (alarms are tested elsewhere)
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stderr is not None
    try:
        line = ""
        deadline = time.time() + 60
        while time.time() < deadline and "listening on" not in line:
            line = proc.stderr.readline().decode()
            assert line or proc.poll() is None, "serve exited"
        gw_port = int(re.search(r"listening on [\d.]+:(\d+)", line).group(1))  # type: ignore[union-attr]
        api = re.search(r"HTTP API on (http://[\d.]+:\d+)", line).group(1)  # type: ignore[union-attr]

        async def send() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw_port)
            writer.write(b"".join(frame(i) for i in range(5)))
            await writer.drain()
            replies = await read_replies(reader, 5)
            assert [r.cn for r in replies] == ["9014"] * 5
            writer.close()

        asyncio.run(send())
        deadline = time.time() + 20
        status, note = get(f"{api}/api/v1/ledger/checkpoint")
        while time.time() < deadline and not (status == 200 and note.split("\n")[1] == "7"):
            time.sleep(0.2)
            status, note = get(f"{api}/api/v1/ledger/checkpoint")
        assert status == 200 and note.split("\n")[1] == "7", note  # 2 registry entries + 5 frames

        witness_once = [
            "witness",
            "--once",
            "--url",
            api,
            "--log-key",
            "envtrust.local/ledger",
            "--key",
            WITNESS,
            "--state",
            str(tmp_path / "w1.json"),
        ]
        witnessed = run(witness_once, env)
        assert witnessed.returncode == 0, witnessed.stdout + witnessed.stderr
        assert "tofu" in witnessed.stdout
        status, body = get(f"{api}/api/v1/ledger/cosignatures")
        assert status == 200 and [c["witness"] for c in json.loads(body)] == [WITNESS]
        status, note = get(f"{api}/api/v1/ledger/checkpoint")
        assert f"— {WITNESS} " in note  # the published checkpoint now carries the cosignature
        again = run(witness_once, env)
        assert again.returncode == 0 and "current" in again.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        proc.stderr.close()
    assert code == 0
    verified = run(["verify", "--db", db], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout
