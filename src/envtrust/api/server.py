"""Run the HTTP API with uvicorn inside an asyncio loop that is already running (the gateway's).

uvicorn normally owns the process: it creates the loop and replaces the SIGINT/SIGTERM handlers with its
own.  Here the HJ 212 gateway owns both, so :func:`serve_http`

* binds the listening socket itself (a port in use is an :class:`OSError` for the caller, instead of
  uvicorn's ``sys.exit`` inside a task) and hands it to ``Server.serve(sockets=…)``;
* runs ``serve`` as a task of the running loop;
* uses a :class:`uvicorn.Server` subclass whose ``capture_signals`` (uvicorn ≥ 0.29;
  ``install_signal_handlers`` before) does nothing, so the gateway's ``loop.add_signal_handler``
  handlers stay in charge;
* turns uvicorn's lifespan protocol and its logging setup off (the application has no lifespan; the
  command line configures logging).

Stop with :meth:`HttpServer.stop`: stop accepting, let requests in progress finish (up to a timeout), close.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

__all__ = ["HttpServer", "serve_http"]


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process it is embedded in."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return None


@dataclass
class HttpServer:
    """A running embedded uvicorn server."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, wait up to ``timeout`` seconds for requests in progress, then close everything."""
        self.server.should_exit = True
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        if not done:
            self.server.force_exit = True
            await self.task
        self.task.result()  # re-raise what the server died of, if anything


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_http(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8212,
    *,
    access_log: bool = False,
    graceful_timeout: float = 5.0,
) -> HttpServer:
    """Start serving ``app`` on ``host:port`` (port 0: any free port) in the running loop; return once it
    accepts connections.  Raises :class:`OSError` if the address cannot be bound."""
    sock = _bind(host, port)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=access_log,
        http="httptools",  # the C parser: less time per request than the pure-Python h11 (bench/pages.py)
        ws="none",
        timeout_graceful_shutdown=int(graceful_timeout),
        server_header=False,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"envtrust-http-{bound_port}")
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # raises what stopped it
            raise RuntimeError("the HTTP server stopped while starting")
        await asyncio.sleep(0.005)
    return HttpServer(server, task, host, bound_port)
