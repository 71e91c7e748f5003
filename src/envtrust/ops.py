"""Operations endpoints of every ``envtrust serve`` process: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` answers while the process's event loop runs (liveness); ``/readyz`` answers 200 only when the
database answers and each role is connected (the gateway to JetStream, the worker to NATS), else 503 with what is
missing (readiness, for a load balancer or systemd).  ``/metrics`` is the Prometheus text format, read from the
running parts at scrape time (names in docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .node import Node

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Collector:
    """Reads the node's parts when Prometheus scrapes (``figures``: database figures fetched just before)."""

    def __init__(self, node: Node, figures: dict[str, Any]) -> None:
        self.node = node
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        node = self.node
        gw = node.gateway
        if gw is not None:
            st = gw.stats
            yield _counter(
                "envtrust_frames_received",
                "Records received and made durable (stored or in the stream).",
                st.frames,
            )
            yield _counter(
                "envtrust_frames_quarantined", "Records received that were quarantined.", st.quarantined
            )
            yield _counter("envtrust_acks_sent", "HJ 212 replies sent to data loggers.", st.acks)
            yield _gauge("envtrust_connections", "Data logger connections open.", st.connections)
            committer = getattr(gw, "committer", None)
            if committer is not None:
                yield _gauge(
                    "envtrust_ingest_backlog",
                    "Records received and not yet durable (waiting for the database or JetStream).",
                    committer.backlog,
                )
            lat = st.ack_latency
            h = HistogramMetricFamily(
                "envtrust_ack_latency_seconds", "Time from receiving a record to acknowledging it."
            )
            cum, buckets = 0, []
            for bound, n in zip((*lat.buckets, float("inf")), lat.counts, strict=True):
                cum += n
                buckets.append((_le(bound), cum))
            h.add_metric([], buckets, lat.total)
            yield h
        w = node.worker
        if w is not None:
            ws = w.stats
            yield _counter("envtrust_worker_frames_stored", "Frames stored by this worker.", ws.frames)
            yield _counter(
                "envtrust_worker_frames_known",
                "Redelivered frames found stored already (not stored again).",
                ws.known,
            )
            yield _counter("envtrust_worker_commits", "Transactions committed by this worker.", ws.batches)
            yield _counter("envtrust_worker_write_seconds", "Time spent in commits.", ws.write_s)
            yield _counter(
                "envtrust_worker_write_failures", "Commits that failed and were retried.", ws.write_failures
            )
            yield _counter(
                "envtrust_worker_leases_lost", "Partitions taken over by another worker.", ws.leases_lost
            )
            yield _gauge(
                "envtrust_worker_partitions",
                "Partitions of the frame stream this worker holds.",
                len(w.owned),
            )
            yield _gauge(
                "envtrust_sequencer",
                "1 when this process signs the ledger's checkpoints.",
                int(w.sequencer_epoch is not None),
            )
        forwarders = list(node.forwarders)
        if w is not None:
            forwarders += [f for _, f, _ in w.forwarders.values()]
        if forwarders:
            fams = {
                "sent": CounterMetricFamily(
                    "envtrust_upstream_sent", "Frames sent to an upstream.", labels=["upstream"]
                ),
                "acks": CounterMetricFamily(
                    "envtrust_upstream_acks", "Acknowledgements (9014) from an upstream.", labels=["upstream"]
                ),
                "refused": CounterMetricFamily(
                    "envtrust_upstream_refused", "Frames an upstream refused (9011).", labels=["upstream"]
                ),
                "failures": CounterMetricFamily(
                    "envtrust_upstream_failures", "Failed deliveries (retried).", labels=["upstream"]
                ),
            }
            behind = GaugeMetricFamily(
                "envtrust_upstream_behind_frames",
                "Frames stored after the position an upstream has acknowledged (its lag).",
                labels=["upstream"],
            )
            for f in forwarders:
                for key, fam in fams.items():
                    fam.add_metric([f.cfg.name], getattr(f.stats, key))
                if "newest_frame" in self.figures:
                    behind.add_metric([f.cfg.name], max(0, self.figures["newest_frame"] - f.stats.position))
            yield from fams.values()
            yield behind
        monitor = node.spec.monitor
        mst = getattr(monitor, "stats", None)
        if mst is not None:
            yield _counter(
                "envtrust_checks_frames", "Committed frames checked on arrival.", getattr(mst, "frames", 0)
            )
            yield _counter(
                "envtrust_checks_evaluations", "Check evaluations run.", getattr(mst, "evaluations", 0)
            )
            yield _counter(
                "envtrust_findings", "Findings raised by the streaming checks.", getattr(mst, "findings", 0)
            )
        f = self.figures
        if "stream_messages" in f:
            yield _gauge(
                "envtrust_stream_pending",
                "Messages in the frame stream not yet stored by a worker (queue lag).",
                f["stream_messages"],
            )
        if "ledger_size" in f:
            yield _gauge("envtrust_ledger_entries", "Entries in the ledger.", f["ledger_size"])
            yield _gauge("envtrust_alarms_open", "Open alarms.", f["alarms_open"])
            yield _gauge(
                "envtrust_alarms_unacknowledged", "Open alarms not yet acknowledged.", f["alarms_unacked"]
            )
            if f["checkpoint_us"] is not None:
                yield _gauge(
                    "envtrust_checkpoint_age_seconds",
                    "Seconds since the newest signed checkpoint.",
                    max(0.0, time.time() - f["checkpoint_us"] / 1e6),
                )
                yield _gauge(
                    "envtrust_checkpoint_lag_entries",
                    "Ledger entries not yet covered by a signed checkpoint.",
                    f["ledger_size"] - f["checkpoint_size"],
                )
        yield _gauge("envtrust_up", "1 while this process runs.", 1)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


async def _figures(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # the database is down: the metrics say what the process knows
        out.update(await asyncio.wait_for(asyncio.to_thread(node.spec.ingest.store.ops_figures), 5.0))
    js = node.stream_context()
    if js is not None and node.spec.bus is not None:
        with contextlib.suppress(Exception):
            info = await asyncio.wait_for(js.stream_info(node.spec.bus.stream), 2.0)
            out["stream_messages"] = int(info.state.messages)
    return out


async def metrics_text(node: Node) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(node, await _figures(node)))
    return generate_latest(registry)


async def readiness(node: Node) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = dict(node.ready())
    try:
        await asyncio.wait_for(asyncio.to_thread(node.spec.ingest.store.ledger_size), 5.0)
        checks["database"] = True
    except Exception as exc:
        checks["database"] = False
        checks["database_error"] = f"{exc.__class__.__name__}: {exc}"[:300]
    ok = all(v for k, v in checks.items() if isinstance(v, bool))
    return ok, checks


def ops_routes(node: Node) -> list[Route]:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "roles": sorted(node.roles)})

    async def readyz(_: Request) -> Response:
        ok, checks = await readiness(node)
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    async def metrics(_: Request) -> Response:
        return Response(await metrics_text(node), media_type=CONTENT_TYPE)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def ops_app(node: Node) -> Starlette:
    """The HTTP app of a gateway or worker process (no pages, no API): operations endpoints only."""
    return Starlette(routes=ops_routes(node))
