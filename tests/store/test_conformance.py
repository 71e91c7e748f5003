"""Conformance of the store: one suite, run against every backend (``db_url``: SQLite and PostgreSQL).

Everything goes through the narrow interface (:func:`open_store`, :class:`Store`); plain SQL is used only to
and keep every record in the ledger (tampering itself is tested in tests/ledger/test_verify.py).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from envtrust.errors import SchemaError, StoreError
from envtrust.registry import Enterprise, Point, load_registry
from envtrust.services import Ingest
from envtrust.store import FrameRow, ReadingRow, Store, WriteResult, open_store
from envtrust.store.migrate import current_revision, head_revision
from envtrust.store.schema import VALUE_COLUMNS, metadata
from envtrust.verify import verify

if TYPE_CHECKING:
    from conftest import FrameFactory

MN_A = "21010012345678"
MN_B = "21010087654321"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
US0 = T0 * 1_000_000


def frame_row(
    raw: bytes,
    *,
    segment: bytes | None = None,
    status: str = "ok",
    received_us: int = US0,
    peer: str = "10.0.0.7:50123",
    origin: str = "tcp",
    fmt: str = "hj212",
    mn: str | None = MN_A,
    cn: str | None = "2051",
    qn: str | None = "20260101080000000",
    error_code: str | None = None,
    reason: str | None = None,
    skip_if_known: bool = False,
) -> FrameRow:
    """A frame row; the digest is that of ``segment`` (default: the raw bytes), as the services compute it."""
    return FrameRow(
        received_us=received_us,
        peer=peer,
        origin=origin,
        format=fmt,
        raw=raw,
        digest=hashlib.sha256(raw if segment is None else segment).digest(),
        mn=mn,
        cn=cn,
        qn=qn,
        status=status,
        error_code=error_code,
        reason=reason,
        version="2017" if fmt == "hj212" else None,
        crc_ok=True if status == "ok" else None,
        crc_variant="hj212" if status == "ok" else None,
        skip_if_known=skip_if_known,
    )


def reading(
    *,
    mn: str = MN_A,
    kind: str = "minute",
    pollutant: str = "a21026",
    data_time: int = T0,
    value: float = 12.5,
    flag: str | None = "N",
) -> ReadingRow:
    column = "rtd" if kind == "rtd" else "avg"
    return ReadingRow(mn, kind, pollutant, data_time, pollutant, {column: value}, flag=flag)


def numbered(i: int, **kw: object) -> FrameRow:
    """A distinct small frame row (its own digest)."""
    raw = b"##0010QN=%06d;CP=&&&&0000\r\n" % i
    kw.setdefault("received_us", US0 + i)
    return frame_row(raw, **kw)  # type: ignore[arg-type]


def write_numbered(store: Store, n: int) -> list[WriteResult]:
    return store.write([(numbered(i), [reading(data_time=T0 + 60 * i)]) for i in range(1, n + 1)])


# ----------------------------------------------------------------------------------------------- migrations
def test_migrations_create_the_schema_and_reopening_changes_nothing(db_url: str) -> None:
    with open_store(db_url) as store:
        assert current_revision(store.engine) == head_revision()
        assert set(inspect(store.engine).get_table_names()) >= set(metadata.tables)
        write_numbered(store, 2)
    with open_store(db_url) as store:  # the second open finds the schema current and migrates nothing
        assert current_revision(store.engine) == head_revision()
        assert store.status().frames == 2
        assert store.reading_count() == 2
    with open_store(db_url, migrate=False) as store:
        assert store.status().ledger_size == 2


def test_migrated_schema_equals_the_table_definitions(db_url: str) -> None:
    with open_store(db_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


def test_an_unmigrated_database_is_refused_without_migrate(db_url: str) -> None:
    with pytest.raises(SchemaError, match="not at the current schema version"):
        open_store(db_url, migrate=False)
    gc.collect()  # a refused open leaves no open connection behind (ResourceWarning)


def test_an_unreachable_database_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open database") as info:
        open_store("postgresql://nobody:s3cret@127.0.0.1:1/none?connect_timeout=2")
    assert "s3cret" not in str(info.value)
    gc.collect()


# ----------------------------------------------------------------------------------------------- registry
def test_registry_load_counts_and_round_trips(db_url: str, registry_file: Path) -> None:
    points = load_registry(registry_file)
    with open_store(db_url) as store:
        assert store.load_registry(points) == {"added": 2, "changed": 0, "unchanged": 0}
        assert store.points() == points
        assert store.load_registry(points) == {"added": 0, "changed": 0, "unchanged": 2}

        gas, water = points
        third = Point(
            mn="21010099999999",
            enterprise=Enterprise("某化工有限公司", "91210100MA0YYYYY2B", "2614"),
            name="焚烧炉排口",
            region="210103",
            medium="gas",
            reference_o2=11.0,
            limits={"a21026": 100.0},
            timezone="Asia/Urumqi",
            crc_compat="modbus",
            st="31",
            extra={"latitude": 41.8},
        )
        edited = [
            dataclasses.replace(gas, limits={"a21026": 30.0, "a21002": 50.0}),  # one changed, one removed
            dataclasses.replace(water, crc_compat="modbus", pw="888888"),
            third,
        ]
        assert store.load_registry(edited) == {"added": 1, "changed": 2, "unchanged": 0}
        stored = {p.mn: p for p in store.points()}
        assert stored == {p.mn: p for p in edited}
        assert stored[third.mn].timezone == "Asia/Urumqi"
        assert stored[third.mn].crc_compat == "modbus"
        assert stored[third.mn].enterprise == third.enterprise
        assert stored[gas.mn].limits == {"a21026": 30.0, "a21002": 50.0}
        status = store.status()
        assert (status.points, status.enterprises) == (3, 3)


# ----------------------------------------------------------------------------------------------- writing
def test_frames_are_stored_byte_exact(db_url: str) -> None:
    rows = [
        frame_row(b"##0010QN=1;CP=&&&&0000\r\n"),
        frame_row(b"##0010QN=2;CP=&&&&0000\n", peer="file:log.txt:2", origin="import"),
        frame_row(
            "##0060QN=3;ST=31;CN=3020;CP=&&i12001-Info=炉膛温度异常，已处理&&1C80\r\n".encode(),
            mn="站点-甲",
            reason=None,
        ),
        frame_row(
            b"\x00\xff\xfe garbage \x80\x81\r\n\r\n",
            fmt="garbage",
            status="quarantine",
            mn=None,
            cn=None,
            qn=None,
            error_code="garbage",
            reason="bytes outside a frame",
        ),
        frame_row(
            b"##0010QN=4;CP=&&&&FFFF\r\n",
            status="quarantine",
            error_code="bad_crc",
            reason="CRC FFFF does not match the computed 1C80",
        ),
    ]
    rows[-1].crc_ok = False
    rows[2].warnings = "lower-case CRC hex; 警告"
    with open_store(db_url) as store:
        results = store.write([(r, []) for r in rows])
        assert [r.frame_id for r in results] == [1, 2, 3, 4, 5]
        stored = list(store.frames())
    assert len(stored) == len(rows)
    for row, got in zip(rows, stored, strict=True):
        assert type(got["raw"]) is bytes
        assert got["raw"] == row.raw
        assert got["digest"] == row.digest
        for name in (
            "received_us",
            "peer",
            "origin",
            "mn",
            "cn",
            "qn",
            "status",
            "error_code",
            "reason",
            "version",
            "crc_ok",
            "crc_variant",
            "warnings",
        ):
            assert got[name] == getattr(row, name), name
        assert got["format"] == row.format
        assert got["duplicate_of"] is None


def test_readings_keep_every_value_column_flag_eflag_and_extra(db_url: str) -> None:
    full = ReadingRow(
        mn=MN_A,
        kind="hour",
        pollutant="a21026",
        data_time=T0,
        code_raw="02",
        values={col: float(i) * 1.25 - 3.0 for i, col in enumerate(VALUE_COLUMNS)},
        flag="N",
        eflag="Md",
        extra='{"SampleTime":"20260101080000","Info":"正常"}',
    )
    sparse = [
        ReadingRow(MN_A, "rtd", "a21026", T0, "a21026", {"rtd": 1e-9}, flag="D"),
        ReadingRow(MN_A, "minute", "a21026", T0, "a21026", {"avg": -0.0, "cou": 1.5e12}),
        ReadingRow(MN_A, "day", "a21026", T0, "a21026", {"avg": None, "max": 99.0}, eflag="x"),
    ]
    with open_store(db_url) as store:
        [result] = store.write([(numbered(1), [full, *sparse])])
        assert (result.readings_new, result.readings_known) == (4, 0)
        got = {r["kind"]: r for r in store.readings()}
    assert set(got) == {"rtd", "minute", "hour", "day"}
    hour = got["hour"]
    for col in VALUE_COLUMNS:
        assert hour[col] == full.values[col], col
    assert (hour["flag"], hour["eflag"], hour["extra"]) == ("N", "Md", full.extra)
    assert (hour["code_raw"], hour["frame_id"], hour["data_time"]) == ("02", 1, T0)
    assert got["rtd"]["rtd"] == 1e-9 and got["rtd"]["flag"] == "D"
    assert got["minute"]["cou"] == 1.5e12 and got["minute"]["flag"] is None
    assert got["day"]["avg"] is None and got["day"]["max"] == 99.0 and got["day"]["eflag"] == "x"
    assert all(got["day"][c] is None for c in VALUE_COLUMNS if c != "max")


def test_a_second_copy_of_a_segment_is_a_duplicate_and_adds_no_readings(db_url: str) -> None:
    segment = (
        b"QN=20260101080000000;ST=31;CN=2051;PW=123456;MN=%b;Flag=5;CP=&&DataTime=20260101080000;a21026-Avg=12.5&&"
        % (MN_A.encode())
    )
    crlf = b"##%04d%b1C80\r\n" % (len(segment), segment)
    lf = crlf[:-2] + b"\n"  # the same packet, sent again with another line end
    with open_store(db_url) as store:
        [first] = store.write([(frame_row(crlf, segment=segment), [reading()])])
        assert first == WriteResult(1, "ok", readings_new=1)
        [again] = store.write([(frame_row(lf, segment=segment, peer="10.0.0.7:50999"), [reading()])])
        assert again == WriteResult(2, "duplicate")
        # twice more in one batch: both are copies of the first
        batch = store.write([(frame_row(crlf, segment=segment), [reading()]) for _ in range(2)])
        assert batch == [WriteResult(3, "duplicate"), WriteResult(4, "duplicate")]
        frames = list(store.frames())
        assert [(f["id"], f["status"], f["duplicate_of"]) for f in frames] == [
            (1, "ok", None),
            (2, "duplicate", 1),
            (3, "duplicate", 1),
            (4, "duplicate", 1),
        ]
        assert [f["raw"] for f in frames] == [crlf, lf, crlf, crlf]  # every raw copy kept
        assert [r["frame_id"] for r in store.readings()] == [1]
        status = store.status()
        assert (status.frames, status.duplicates, status.readings, status.ledger_size) == (4, 3, 1, 4)


def test_a_duplicate_within_one_batch(db_url: str) -> None:
    row = numbered(1)
    with open_store(db_url) as store:
        results = store.write([(row, [reading()]), (dataclasses.replace(row), [reading()])])
        assert results == [WriteResult(1, "ok", readings_new=1), WriteResult(2, "duplicate")]
        assert store.reading_count() == 1


def test_readings_already_stored_from_another_frame_are_known_not_overwritten(db_url: str) -> None:
    with open_store(db_url) as store:
        [a] = store.write([(numbered(1), [reading(value=1.0)])])
        # a different packet (another QN) with the same reading: re-sent data
        [b] = store.write([(numbered(2), [reading(value=2.0), reading(pollutant="a21002")])])
        assert (a.readings_new, b.readings_new, b.readings_known) == (1, 1, 1)
        # and within one batch
        c, d = store.write(
            [(numbered(3), [reading(data_time=T0 + 60)]), (numbered(4), [reading(data_time=T0 + 60)])]
        )
        assert (c.readings_new, c.readings_known, d.readings_new, d.readings_known) == (1, 0, 0, 1)
        rows = {(r["pollutant"], r["data_time"]): r for r in store.readings()}
        assert rows[("a21026", T0)]["avg"] == 1.0 and rows[("a21026", T0)]["frame_id"] == 1
        assert rows[("a21026", T0 + 60)]["frame_id"] == 3
        assert len(rows) == 3


def test_skip_if_known_skips_what_the_same_file_line_stored_before(db_url: str) -> None:
    """An import stores nothing twice: a record already imported from the same file line (any status) is
    skipped; the same bytes from another line or from the gateway are another raw copy."""
    line1 = {"origin": "import", "peer": "file:a.log:1", "skip_if_known": True}
    line2 = {"origin": "import", "peer": "file:a.log:2", "skip_if_known": True}
    with open_store(db_url) as store:
        first = [
            (numbered(1, **line1), [reading()]),
            (
                numbered(
                    2, status="quarantine", error_code="unknown_mn", reason="MN is not registered", **line2
                ),
                [],
            ),
            (numbered(5), []),  # received by the gateway
        ]
        store.write(first)
        before = store.status()
        again = [
            numbered(1, **line1),
            numbered(2, status="quarantine", error_code="unknown_mn", reason="MN is not registered", **line2),
            numbered(1, origin="import", peer="file:a.log:3", skip_if_known=True),
            numbered(5, origin="import", peer="file:b.log:1", skip_if_known=True),
            numbered(3, origin="import", peer="file:a.log:4", skip_if_known=True),
        ]
        results = store.write([(r, [reading(data_time=T0 + 3600)]) for r in again])
        assert results[:2] == [WriteResult(None, "known")] * 2
        assert [r.status for r in results[2:]] == ["duplicate", "duplicate", "ok"]
        assert results[4].readings_new == 1
        after = store.status()
        assert after.frames == before.frames + 3
        assert after.ledger_size == before.ledger_size + 3
        assert after.readings == before.readings + 1
        assert intact(store)


def test_quarantined_records_are_kept_with_code_and_reason(db_url: str) -> None:
    segment = b"QN=1;ST=31;CN=2051;PW=1;MN=X;Flag=5;CP=&&&&"
    raw = b"##%04d%bFFFF\r\n" % (len(segment), segment)
    bad = frame_row(
        raw,
        segment=segment,
        status="quarantine",
        error_code="bad_crc",
        reason="CRC FFFF does not match the computed 8F41",
    )
    with open_store(db_url) as store:
        # readings handed in with a quarantined record are not stored
        [q] = store.write([(bad, [reading()])])
        assert q == WriteResult(1, "quarantine")
        # a quarantined copy stays in quarantine; an accepted copy later is accepted, not a duplicate
        [q2] = store.write([(dataclasses.replace(bad), [])])
        [accepted] = store.write([(frame_row(raw, segment=segment), [reading()])])
        assert (q2.status, accepted.status, accepted.readings_new) == ("quarantine", "ok", 1)
        frames = list(store.frames(status="quarantine"))
        assert [(f["id"], f["error_code"], f["reason"], f["duplicate_of"]) for f in frames] == [
            (1, "bad_crc", "CRC FFFF does not match the computed 8F41", None),
            (2, "bad_crc", "CRC FFFF does not match the computed 8F41", None),
        ]
        assert all(f["raw"] == raw for f in frames)
        assert [r["frame_id"] for r in store.readings()] == [3]
        assert store.status().quarantined == 2


def test_a_failed_write_raises_store_error_and_stores_nothing(db_url: str) -> None:
    broken = numbered(2)
    broken.peer = None  # type: ignore[assignment]  # violates NOT NULL: the database refuses the batch
    with open_store(db_url) as store:
        with pytest.raises(StoreError, match="write failed"):
            store.write([(numbered(1), [reading()]), (broken, [])])
        status = store.status()
        assert (status.frames, status.readings, status.ledger_size) == (0, 0, 0)
        assert store.write([(numbered(1), [reading()])]) == [WriteResult(1, "ok", readings_new=1)]


def test_received_text_with_nul_bytes_is_stored(
    db_url: str, registry_file: Path, make_frame: FrameFactory
) -> None:
    """A frame whose header carries a NUL byte (line noise) is quarantined and kept, on every backend."""
    raw = make_frame(mn="2101\x0012345678", crc="bad")
    with open_store(db_url) as store:
        ingest = Ingest(store)
        ingest.load_registry(load_registry(registry_file))
        prepared = ingest.prepare(make_frame.event(raw), peer="10.0.0.7:50123")
        assert prepared.row.error_code == "bad_crc"
        [result] = ingest.record([prepared])
        assert result.status == "quarantine"
        [stored] = store.frames()
        assert stored["raw"] == raw


# ----------------------------------------------------------------------------------------------- the ledger
def intact(store: Store) -> bool:
    """The ledger, its tree and every stored row agree (no checkpoints are signed in these tests, and the
    synthetic frames here carry no readings of their own, so readings are not re-derived)."""
    report = verify(store, None, check_readings=False)
    return report.ok


def test_every_stored_record_is_a_ledger_entry(db_url: str) -> None:
    with open_store(db_url) as store:
        assert intact(store)
        write_numbered(store, 3)
        store.write([(numbered(9, status="quarantine", error_code="garbage", reason="x"), [])])
        assert intact(store)
        entries = list(store.iter_entries())
        assert [idx for idx, _, _, _ in entries] == [0, 1, 2, 3]
        assert [ref for _, _, ref, _ in entries] == ["frames/1", "frames/2", "frames/3", "frames/4"]
        assert store.status().ledger_size == 4


# ----------------------------------------------------------------------------------------------- reads
def test_status_counts(db_url: str, registry_file: Path) -> None:
    with open_store(db_url) as store:
        empty = store.status()
        assert (empty.frames, empty.readings, empty.ledger_size, empty.checkpoint_size) == (0, 0, 0, None)
        assert empty.last_received_us is None
        store.load_registry(load_registry(registry_file))
        a, b = numbered(1), numbered(2, received_us=US0 + 500)
        store.write(
            [
                (a, [reading(), reading(pollutant="a21002"), reading(kind="hour")]),
                (b, [reading(kind="rtd", data_time=T0 + 30)]),
                (dataclasses.replace(a, received_us=US0 + 7), []),
                (numbered(3, status="quarantine", error_code="bad_pw", reason="wrong PW"), []),
                (numbered(4, status="quarantine", error_code="garbage", reason="x", fmt="garbage"), []),
            ]
        )
        st = store.status()
    assert (st.frames, st.quarantined, st.duplicates) == (5, 2, 1)
    assert st.readings == 4
    assert st.by_kind == {"minute": 2, "hour": 1, "rtd": 1}
    assert (st.points, st.enterprises) == (2, 2)
    assert st.ledger_size == 5 + 2  # five records and two registry entries
    assert st.last_received_us == US0 + 500


def test_readings_filters(db_url: str) -> None:
    rows = [
        reading(mn=mn, kind=kind, pollutant=pol, data_time=T0 + 3600 * h)
        for mn in (MN_A, MN_B)
        for kind in ("minute", "hour")
        for pol in ("a21026", "a21002")
        for h in range(4)
    ]
    with open_store(db_url) as store:
        store.write([(numbered(1), rows)])

        def keys(**kw: object) -> list[tuple[str, str, str, int]]:
            return [(r["mn"], r["kind"], r["pollutant"], r["data_time"]) for r in store.readings(**kw)]  # type: ignore[arg-type]

        everything = keys()
        assert len(everything) == len(rows)
        assert everything == sorted(everything)
        assert all(k[0] == MN_B for k in keys(mn=MN_B)) and len(keys(mn=MN_B)) == 16
        assert all(k[1] == "hour" for k in keys(kind="hour")) and len(keys(kind="hour")) == 16
        assert len(keys(pollutant="a21002", mn=MN_A)) == 8
        window = keys(mn=MN_A, kind="minute", pollutant="a21026", start=T0 + 3600, end=T0 + 3 * 3600)
        assert window == [
            (MN_A, "minute", "a21026", T0 + 3600),  # start is inclusive
            (MN_A, "minute", "a21026", T0 + 7200),  # end is exclusive
        ]
        assert keys(mn="nobody") == []


def test_two_stores_writing_alternately_share_ids_and_chain(db_url: str) -> None:
    with open_store(db_url) as one, open_store(db_url) as two:
        ids: list[int | None] = []
        for i in range(8):
            store = (one, two)[i % 2]
            batch = [(numbered(10 * i + j), [reading(data_time=T0 + 60 * (10 * i + j))]) for j in range(3)]
            ids += [r.frame_id for r in store.write(batch)]
        assert ids == list(range(1, 25))
        for store in (one, two):
            assert intact(store)
            assert store.reading_count() == 24


def test_two_stores_writing_concurrently_keep_the_ledger_intact(db_url: str) -> None:
    errors: list[BaseException] = []
    ids: list[int | None] = []
    lock = threading.Lock()

    def writer(store: Store, base: int) -> None:
        try:
            for i in range(10):
                results = store.write([(numbered(base + 2 * i + j), []) for j in range(2)])
                with lock:
                    ids.extend(r.frame_id for r in results)
        except BaseException as exc:  # reported below
            errors.append(exc)

    with open_store(db_url) as one, open_store(db_url) as two:
        threads = [threading.Thread(target=writer, args=(s, b)) for s, b in ((one, 1000), (two, 2000))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert sorted(ids) == list(range(1, 41))  # type: ignore[type-var]
        assert intact(one) and one.ledger_size() == 40


def test_a_reader_does_not_block_writers(db_url: str) -> None:
    """The gateway's writes go on while someone reads (WAL on SQLite): a long read must not hold the write lock."""
    with open_store(db_url) as reader, open_store(db_url) as writer:
        write_numbered(reader, 3)
        rows = reader.frames()
        next(rows)  # a read in progress (an export, a web page streaming rows)
        done = threading.Event()

        def write() -> None:
            writer.write([(numbered(99), [])])
            done.set()

        thread = threading.Thread(target=write)
        thread.start()
        try:
            finished_while_reading = done.wait(3)
        finally:
            rows.close()  # end the read: a blocked writer can go on
            thread.join(60)
        assert finished_while_reading, "a write waited for a read to finish"
        assert writer.status().frames == 4
