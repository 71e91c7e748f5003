"""Creating the frame stream while the NATS cluster forms: transient answers are waited out, others stand."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from envtrust.bus.jetstream import BusConfig, ensure_stream


class FormingJetStream:
    """A stand-in for JetStream that answers ``failures`` first, then creates the stream."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.created: list[Any] = []

    async def stream_info(self, name: str) -> Any:
        if self.created:
            return self.created[-1]
        raise NotFoundError

    async def add_stream(self, config: Any) -> Any:
        if self.failures:
            raise self.failures.pop(0)
        self.created.append(config)
        return config


def test_placement_refused_while_the_cluster_forms_is_retried() -> None:
    js = FormingJetStream(
        [
            BadRequestError(code=400, err_code=10005, description="no suitable peers for placement"),
            ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable"),
            TimeoutError(),
        ]
    )
    asyncio.run(ensure_stream(js, BusConfig(servers=("nats://x",), replicas=3), wait_s=10))  # type: ignore[arg-type]
    assert len(js.created) == 1 and js.created[0].num_replicas == 3 and not js.failures


def test_other_refusals_and_a_cluster_that_never_forms_stand() -> None:
    bad = BadRequestError(
        code=400, err_code=10052, description="replicas > 1 not supported in non-clustered mode"
    )
    js = FormingJetStream([bad])
    with pytest.raises(BadRequestError):
        asyncio.run(ensure_stream(js, BusConfig(servers=("nats://x",)), wait_s=10))  # type: ignore[arg-type]
    never = FormingJetStream([BadRequestError(code=400, err_code=10005)] * 100)
    with pytest.raises(BadRequestError):
        asyncio.run(ensure_stream(never, BusConfig(servers=("nats://x",)), wait_s=0.5))  # type: ignore[arg-type]
    assert never.failures and not never.created
