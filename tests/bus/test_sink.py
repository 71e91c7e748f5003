"""The gateway's sink, against a stand-in for JetStream: batching per partition, order, acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from envtrust.bus import codec
from envtrust.bus.jetstream import BusConfig
from envtrust.bus.sink import BusSink
from envtrust.registry import parse_registry
from envtrust.services import Ingest, Prepared
from envtrust.store import open_store
from integration.test_gateway import MN, MN2, REGISTRY, frame


def prepared(tmp_path: Path, n: int, mn: str = MN) -> list[Prepared]:
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        store.load_registry(parse_registry(REGISTRY))
        ingest = Ingest(store)
        events = ingest.decoder().feed(b"".join(frame(i, mn) for i in range(n)))
        return [ingest.prepare(e, peer="10.0.0.9:4000") for e in events]


class FakeJetStream:
    """Publishes wait for ``gate``; the first ``failures`` publishes raise."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []  # subject, message id, QNs in the message
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = failures
        self.in_flight = 0
        self.most_in_flight = 0

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str], timeout: float) -> Any:
        qns = [row.qn or "" for row, _ in codec.decode(payload)]
        self.calls.append((subject, headers["Nats-Msg-Id"], qns))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            if self.failures > 0:
                self.failures -= 1
                raise TimeoutError("no answer")
            return SimpleNamespace(duplicate=False)
        finally:
            self.in_flight -= 1


class Acks:
    def __init__(self) -> None:
        self.done: list[tuple[list[str], BaseException | None]] = []

    def __call__(self, records: Sequence[Prepared], _results: Any, error: BaseException | None) -> None:
        self.done.append(([p.row.qn or "" for p in records], error))


CFG = BusConfig(servers=("nats://unused",), partitions=4, max_records=3)


def test_records_arriving_while_a_message_is_in_flight_go_together_in_the_next(tmp_path: Path) -> None:
    recs = prepared(tmp_path, 7)
    qn = [p.row.qn for p in recs]

    async def main() -> None:
        js = FakeJetStream()
        js.gate.clear()
        sink = BusSink(js, CFG, asyncio.get_running_loop())  # type: ignore[arg-type]
        acks = Acks()
        sink.submit(recs[:1], acks)
        await asyncio.sleep(0.01)
        assert len(js.calls) == 1 and acks.done == []  # not acknowledged before JetStream
        for p in recs[1:]:  # one read each, while the first message is in flight
            sink.submit([p], acks)
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        assert len(js.calls) == 1  # one message in flight per partition
        assert sink.backlog == 7
        js.gate.set()
        await sink.drain()
        assert [c[2] for c in js.calls] == [qn[:1], qn[1:4], qn[4:7]]  # at most max_records to a message
        assert js.most_in_flight == 1
        assert [d[0] for d in acks.done] == [[q] for q in qn]
        assert all(e is None for _, e in acks.done)
        assert sink.backlog == 0 and sink.stats.messages == 3 and sink.stats.records == 7

    asyncio.run(main())


def test_a_failed_publish_is_retried_under_its_id_before_the_partitions_later_records(tmp_path: Path) -> None:
    first, later = prepared(tmp_path, 2)

    async def main() -> None:
        js = FakeJetStream(failures=2)
        sink = BusSink(js, CFG, asyncio.get_running_loop())  # type: ignore[arg-type]
        acks = Acks()
        sink.submit([first], acks)
        await asyncio.sleep(0.01)
        sink.submit([later], acks)
        await sink.drain()
        ids = [c[1] for c in js.calls]
        assert [c[2] for c in js.calls] == [[first.row.qn]] * 3 + [[later.row.qn]]
        assert ids[0] == ids[1] == ids[2] != ids[3]  # the same id: JetStream drops a copy it has
        assert [d[0] for d in acks.done] == [[first.row.qn], [later.row.qn]]
        assert sink.stats.retries == 2

    asyncio.run(main())


def test_a_read_is_acknowledged_when_all_its_partitions_are(tmp_path: Path) -> None:
    a = prepared(tmp_path / "a", 2, MN)
    b = prepared(tmp_path / "b", 2, MN2)
    assert codec.partition_of(MN, "", 4) != codec.partition_of(MN2, "", 4)

    async def main() -> None:
        js = FakeJetStream()
        js.gate.clear()
        sink = BusSink(js, CFG, asyncio.get_running_loop())  # type: ignore[arg-type]
        acks = Acks()
        sink.submit(a + b, acks)  # one read holding two points
        sink.submit([], acks)  # an empty read is answered at once
        await asyncio.sleep(0.01)
        assert len(js.calls) == 2 and acks.done == [([], None)]
        js.gate.set()
        await sink.drain()
        assert len(acks.done) == 2 and acks.done[1][1] is None

    asyncio.run(main())


def test_records_jetstream_never_took_are_not_acknowledged_at_shutdown(tmp_path: Path) -> None:
    recs = prepared(tmp_path, 2)

    async def main() -> None:
        js = FakeJetStream()
        js.gate.clear()  # JetStream never answers
        sink = BusSink(js, CFG, asyncio.get_running_loop())  # type: ignore[arg-type]
        acks = Acks()
        sink.submit(recs[:1], acks)
        await asyncio.sleep(0.01)
        sink.submit(recs[1:], acks)
        await sink.drain(timeout=0.2)
        assert len(acks.done) == 2
        assert all(isinstance(e, RuntimeError) for _, e in acks.done)
        assert sink.backlog == 0

    asyncio.run(main())


def test_publish_in_flight_bounds_the_messages_a_partition_awaits(tmp_path: Path) -> None:
    recs = prepared(tmp_path, 6)

    async def run(bound: int) -> FakeJetStream:
        js = FakeJetStream()
        js.gate.clear()
        cfg = BusConfig(servers=("nats://unused",), partitions=4, max_records=3, publish_in_flight=bound)
        sink = BusSink(js, cfg, asyncio.get_running_loop())  # type: ignore[arg-type]
        acks = Acks()
        for p in recs:  # one read per loop turn
            sink.submit([p], acks)
            await asyncio.sleep(0.001)
        in_flight = js.in_flight
        js.gate.set()
        await sink.drain()
        assert len(acks.done) == 6 and all(e is None for _, e in acks.done)
        assert [q for c in js.calls for q in c[2]] == [p.row.qn for p in recs]  # published in order
        assert js.most_in_flight == in_flight
        return js

    async def main() -> None:
        two = await run(2)
        assert two.most_in_flight == 2 and [len(c[2]) for c in two.calls] == [1, 1, 3, 1]
        unbounded = await run(0)
        assert unbounded.most_in_flight == 6 and len(unbounded.calls) == 6

    asyncio.run(main())


def test_a_worker_takes_a_message_delivered_again_into_its_next_batch(tmp_path: Path) -> None:
    """A message whose acknowledgement was lost comes again after its commit: it must be committed again (the
    store answers "known") and acknowledged then, or it would stay in the work queue for ever."""
    from envtrust.bus.worker import Worker, _Part

    rec = prepared(tmp_path, 1)[0]
    payload = codec.encode([(rec.row, rec.readings)])

    def msg(seq: int) -> Any:
        return SimpleNamespace(metadata=SimpleNamespace(sequence=SimpleNamespace(stream=seq)), data=payload)

    async def main() -> None:
        worker = Worker(None, CFG, holder="w")  # type: ignore[arg-type]
        part = _Part(0, epoch=3)
        first = worker._enqueue(part, [msg(7), msg(8)])
        assert first is not None and [p.seq for p in first.positions] == [7, 8]
        part.open = None  # the writer took and committed it; the acknowledgement of 8 got lost
        again = worker._enqueue(part, [msg(8), msg(9)])
        assert again is not None and again is not first
        assert [(p.lease, p.epoch, p.seq) for p in again.positions] == [("bus/0", 3, 8), ("bus/0", 3, 9)]
        assert len(again.msgs) == 2  # both are acknowledged after the commit

    asyncio.run(main())
