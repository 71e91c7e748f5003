"""The stream message format (pure): round trips, and refusal of anything else with CodecError only."""

from __future__ import annotations

import contextlib
import hashlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrust.bus import codec
from envtrust.bus.jetstream import BusConfig, cluster_config
from envtrust.errors import ConfigError
from envtrust.store import FrameRow, ReadingRow

texts = st.text(max_size=30)
opt_texts = st.none() | texts
numbers = st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)

frame_rows = st.builds(
    FrameRow,
    received_us=st.integers(0, 2**62),
    peer=texts,
    origin=st.sampled_from(["tcp", "import"]),
    format=st.sampled_from(["hj212", "garbage", "csv"]),
    raw=st.binary(max_size=300),
    digest=st.binary(min_size=32, max_size=32),
    mn=opt_texts,
    cn=opt_texts,
    qn=opt_texts,
    status=st.sampled_from(["ok", "quarantine"]),
    error_code=opt_texts,
    reason=opt_texts,
    version=opt_texts,
    crc_ok=st.none() | st.booleans(),
    crc_variant=opt_texts,
    warnings=opt_texts,
    skip_if_known=st.booleans(),
)
reading_rows = st.builds(
    ReadingRow,
    mn=texts,
    kind=st.sampled_from(["rtd", "min", "hour", "day"]),
    pollutant=texts,
    data_time=st.integers(0, 2**40),
    code_raw=texts,
    values=st.dictionaries(
        st.sampled_from(["rtd", "avg", "min", "max", "cou", "zs_avg"]), numbers, max_size=6
    ),
    flag=opt_texts,
    eflag=opt_texts,
    extra=opt_texts,
)


@given(st.lists(st.tuples(frame_rows, st.lists(reading_rows, max_size=4)), max_size=5))
def test_records_survive_the_stream_unchanged(records: list[tuple[FrameRow, list[ReadingRow]]]) -> None:
    assert codec.decode(codec.encode(records)) == records


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_with_a_codec_error_only(data: bytes) -> None:
    with contextlib.suppress(codec.CodecError):
        codec.decode(data)


@settings(max_examples=300)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=8), c),
        max_leaves=20,
    )
)
def test_json_of_the_wrong_shape_is_refused_with_a_codec_error_only(doc: object) -> None:
    for payload in (doc, {"v": 1, "records": doc}, {"v": 1, "records": [{"row": doc, "readings": []}]}):
        with contextlib.suppress(codec.CodecError):
            codec.decode(orjson.dumps(payload))


def test_a_message_of_another_version_is_refused() -> None:
    good = codec.encode([(FrameRow(1, "p", "tcp", "hj212", b"x", hashlib.sha256(b"x").digest()), [])])
    doc = orjson.loads(good)
    doc["v"] = 2
    with pytest.raises(codec.CodecError, match="format 1"):
        codec.decode(orjson.dumps(doc))


def test_a_points_frames_share_one_partition_and_points_spread() -> None:
    mns = [f"2101001234{i:04d}" for i in range(400)]
    parts = [codec.partition_of(mn, "1.2.3.4:5", 16) for mn in mns]
    assert parts == [codec.partition_of(mn, "9.9.9.9:1", 16) for mn in mns]  # the sender does not matter
    counts = [parts.count(p) for p in range(16)]
    assert min(counts) > 10, counts
    assert codec.partition_of(None, "1.2.3.4:5", 16) == codec.partition_of(None, "1.2.3.4:6", 16)


def test_cluster_section_of_the_configuration() -> None:
    assert cluster_config({}, None) is None
    cfg = cluster_config({"partitions": 8, "replicas": 3, "lease_ttl": 5}, "nats://a:4222, nats://b:4222")
    assert cfg == BusConfig(
        servers=("nats://a:4222", "nats://b:4222"), partitions=8, replicas=3, lease_ttl=5.0
    )
    assert cluster_config({"bus": "nats://c:4222"}, None) == BusConfig(servers=("nats://c:4222",))
    tuned = cluster_config(
        {"linger": 0.005, "publish_in_flight": 0, "commit_linger": 0, "commit_min": 50},
        "nats://e:1",
    )
    assert tuned is not None and (tuned.linger, tuned.publish_in_flight, tuned.commit_min) == (0.005, 0, 50)
    assert cluster_config({"bus": "nats://c:4222"}, "nats://d:1").servers == ("nats://d:1",)  # type: ignore[union-attr]
    for bad, match in [
        ({"partitions": 0}, "at least 1"),
        ({"partitions": 2.5}, "whole number"),
        ({"replicas": True}, "number"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"stream": "a b"}, "letters, digits"),
        ({"bus": "http://x"}, "not a nats://"),
        ({"bus": ""}, "expected text"),
        ({"publish_in_flight": -1}, "at least 0"),
        ({"commit_linger": "soon"}, "number"),
    ]:
        with pytest.raises(ConfigError, match=match):
            cluster_config(bad, None if "bus" in bad else "nats://a:4222")
