"""The HTTP API of envtrust (FastAPI), under ``/api/v1``; one canonical JSON error shape for every error.

:func:`create_app` builds the application over a :class:`~envtrust.store.Store`; :func:`serve_http` runs it
with uvicorn inside an already running asyncio loop (beside the HJ 212 gateway), :class:`HttpServer` stops it.
"""

from __future__ import annotations

from .app import API_PREFIX, ApiError, create_app
from .server import HttpServer, serve_http

__all__ = ["API_PREFIX", "ApiError", "HttpServer", "create_app", "serve_http"]
