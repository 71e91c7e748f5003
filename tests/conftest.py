"""Shared fixtures: a database URL for each backend, a small registry file, and an HJ 212 frame builder.

``db_url`` runs a test against SQLite (a file in ``tmp_path``) and PostgreSQL (127.0.0.1:5432, database
``test``, user ``postgres``; each test gets a fresh schema that is dropped afterwards).  The PostgreSQL case
is marked ``postgres`` and skipped, with the reason, where the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from envtrust import hj212
from envtrust.bus.jetstream import BusConfig
from envtrust.hj212 import Item
from envtrust.registry import load_registry
from envtrust.services import Ingest
from envtrust.store import open_store

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"

GAS_MN = "21010012345678"
GAS_PW = "123456"
WATER_MN = "21010087654321"
UNKNOWN_MN = "99999999999999"
ZONE = "Asia/Shanghai"

REGISTRY_TOML = f"""\
[[point]]
mn = "{GAS_MN}"
enterprise = {{ name = "某热电有限公司", credit_code = "91210100MA0XXXXX1A", industry = "4411" }}
name = "1号锅炉排放口"
region = "210102"
medium = "gas"
reference_o2 = 6.0
limits = {{ a21026 = 35, a21002 = 50, a34013 = 10 }}
pw = "{GAS_PW}"
timezone = "{ZONE}"

[[point]]
mn = "{WATER_MN}"
enterprise = "某污水处理厂"
name = "总排口"
region = "210102"
medium = "water"
limits = {{ w01018 = 50, w21003 = 5 }}
timezone = "{ZONE}"
"""

# ----------------------------------------------------------------------------------------------- databases
_pg_unreachable: str | None = None  # the reason, once a connection attempt has failed


def _pg_admin() -> psycopg.Connection[Any]:
    """An autocommit connection to the test database, or skip the test with the reason."""
    global _pg_unreachable
    if _pg_unreachable is not None:
        pytest.skip(_pg_unreachable)
    try:
        return psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        _pg_unreachable = f"PostgreSQL not reachable at 127.0.0.1:5432: {first}"
        pytest.skip(_pg_unreachable)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'envtrust.db'}"
        return
    yield from _pg_schema()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL of an empty PostgreSQL schema (for what runs on PostgreSQL only: cluster mode)."""
    yield from _pg_schema()


def _pg_schema() -> Iterator[str]:
    schema = f"envtrust_t_{secrets.token_hex(6)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_DSN}?options=-csearch_path%3D{schema}"
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in tmp_path (for tests that are not about the backend)."""
    return f"sqlite:///{tmp_path / 'envtrust.db'}"


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    """A registry TOML with two points: a flue-gas outlet (reference O2, limits, PW) and a waste-water outlet."""
    path = tmp_path / "registry.toml"
    path.write_text(REGISTRY_TOML, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- frames
@dataclass(frozen=True)
class FrameFactory:
    """Builds HJ 212-2017 upload frames for the registry of :func:`registry_file`.

    ``crc`` is ``"ok"`` (the standard's CRC), ``"modbus"`` (the Modbus variant) or ``"bad"`` (neither);
    ``eol`` the line end after the CRC.  ``items`` maps a factor code to its suffixed values, as sent.
    """

    gas_mn: str = GAS_MN
    gas_pw: str = GAS_PW
    water_mn: str = WATER_MN
    unknown_mn: str = UNKNOWN_MN
    zone: str = ZONE

    def __call__(
        self,
        cn: str = "2051",
        *,
        mn: str | None = None,
        pw: str | None = None,
        data_time: str | None = "20260101080000",
        items: Mapping[str, Mapping[str, str]] | None = None,
        qn: str | None = None,
        st: str = "31",
        flag: int | None = 5,
        cp: Sequence[tuple[str, str]] = (),
        crc: str = "ok",
        eol: bytes = b"\r\n",
    ) -> bytes:
        mn = self.gas_mn if mn is None else mn
        pw = (self.gas_pw if mn == self.gas_mn else "654321") if pw is None else pw
        if items is None:
            items = {"a21026": {"Avg": "12.5", "Flag": "N"}}
        if qn is None:
            qn = (data_time or "20260101080000") + "000"
        fields = [("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn)]
        if flag is not None:
            fields.append(("Flag", str(flag)))
        cp_pairs = ([("DataTime", data_time)] if data_time is not None else []) + list(cp)
        segment = hj212.encode_segment(
            fields, cp_pairs, [Item(code, dict(values), code) for code, values in items.items()]
        )
        value = {"ok": hj212.crc16, "modbus": hj212.crc16_modbus}.get(crc, hj212.crc16)(segment)
        if crc == "bad":
            value ^= 0x1234  # neither the standard's CRC nor the Modbus one
            assert value != hj212.crc16_modbus(segment)
        return b"##%04d%b%04X%b" % (len(segment), segment, value, eol)

    @staticmethod
    def decode(data: bytes, decoder: hj212.Decoder | None = None) -> list[hj212.Event]:
        """Every event of ``data`` (fed whole, then flushed)."""
        d = decoder or hj212.Decoder()
        return d.feed(data) + d.flush()

    def event(self, data: bytes, decoder: hj212.Decoder | None = None) -> hj212.Event:
        """The one event ``data`` decodes to."""
        events = self.decode(data, decoder)
        assert len(events) == 1, events
        return events[0]


@pytest.fixture
def make_frame() -> FrameFactory:
    """The frame builder: ``make_frame("2051", data_time=…, items={…})`` → bytes; ``make_frame.event(raw)``."""
    return FrameFactory()


@pytest.fixture
def ingest(sqlite_url: str, registry_file: Path) -> Iterator[Ingest]:
    """The ingest service over a fresh SQLite store with the registry of :func:`registry_file` loaded."""
    with open_store(sqlite_url) as store:
        service = Ingest(store)
        service.load_registry(load_registry(registry_file))
        yield service


@pytest.fixture(autouse=True)
def _fresh_passphrase_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no wrong signing passphrases counted (the count lives in the process)."""
    from envtrust.workflow import lab

    monkeypatch.setattr(lab, "_failures", {})


# ----------------------------------------------------------------------------------------------- cluster mode
NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
def bus_cfg() -> Iterator[BusConfig]:
    """A stream and subject of this test's own on the NATS server with JetStream at 127.0.0.1:4222 (skipped, with
    the reason, where it is absent), deleted afterwards."""
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=2):
            pass
    except OSError as exc:
        pytest.skip(f"NATS not reachable at 127.0.0.1:4222: {exc}")
    tag = secrets.token_hex(4)
    cfg = BusConfig(
        servers=(NATS_URL,), stream=f"T_{tag}", subject=f"envtrust-test.{tag}", partitions=4, lease_ttl=3.0
    )
    yield cfg

    async def drop() -> None:
        import nats

        nc = await nats.connect(NATS_URL)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(cfg.stream)
        await nc.close()

    asyncio.run(drop())
