"""``envtrust serve`` as deployed: frames fed to the running gateway over TCP become an alarm in the database
within seconds, checked in the server's child process; SIGTERM stops both processes cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from alarms.test_monitor import GAS_MN, frames, hours_ago, send  # tests/ is on the path (rootdir conftest)
from envtrust.store import open_store


def test_a_running_server_turns_exceeding_frames_into_an_alarm(tmp_path: Path, registry_file: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ENVTRUST_KEYS": str(tmp_path / "keys")}
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    config = tmp_path / "envtrust.toml"
    config.write_text("[monitor]\nsweep_s = 1\n", encoding="utf-8")
    args = ["serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--no-http"]
    args += ["--registry", str(registry_file), "--config", str(config)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "envtrust", *args],
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
        assert "checks on arrival" in line
        port = int(re.search(r"listening on [\d.]+:(\d+)", line).group(1))  # type: ignore[union-attr]
        start = hours_ago(3)
        # an honest hour, an hour at three times the limit, and the first minute after it (the hour is over)
        batch = frames(start, 1, 12.0) + frames(start + timedelta(hours=1), 1, 105.0, offset=60)
        asyncio.run(send(port, batch))
        asyncio.run(send(port, frames(start + timedelta(hours=2), 1, 12.0, offset=120)[:1]))
        sent = time.monotonic()
        found: list[dict[str, object]] = []
        with open_store(db) as store:
            while not found and time.monotonic() - sent < 30:
                found = store.alarms(check="exceedance_hour")
                time.sleep(0.05)
        assert found, "no alarm within 30 s"
        [alarm] = found
        assert (alarm["mn"], alarm["pollutant"]) == (GAS_MN, "a21026")
        assert alarm["start_time"] == int((start + timedelta(hours=1)).timestamp())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    with open_store(db) as store:
        assert store.qc_config() is not None  # the configuration in force is on the ledger
