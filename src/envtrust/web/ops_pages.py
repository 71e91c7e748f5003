"""The operations page (运行状态): forwarding to upstream platforms and cluster mode, for administrators and
regulators.

* Upstream forwarding (上级平台转发) — per upstream of ``[[upstream]]`` (:mod:`envtrust.ingest.upstream`): its
  address, the frame it is delivered up to against the newest accepted frame, the frames waiting and how long the
  oldest has waited, the last acknowledgement, the sent / acknowledged / refused counts and the last problem.
* Cluster (集群) — the leases (:mod:`envtrust.store.leases`): the partitions of the frame stream (``bus/<n>``) with
  their holder and stream position, the checkpoint sequencer (``sequencer``), the live workers (``worker/<id>``) and
  who forwards to each upstream (``upstream/<name>``).  No lease at all: the single-process mode.

Other accounts get 403, the public the login.  Times in China time (UTC+8).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response

from ..ingest.upstream import lag_seconds
from ..store import Lease, Store
from .i18n import translator
from .lab_pages import PageKit, _us_local
from .pages import PageError

__all__ = ["LEASE_KINDS", "OPERATORS", "install_ops_pages", "waited"]

CHINA_OFFSET = 8 * 3600
OPERATORS = ("admin", "regulator")  # who reads the operations page
LEASE_KINDS = ("bus", "sequencer", "worker", "upstream", "other")
_TIME = "%Y-%m-%d %H:%M:%S"


def waited(seconds: float, t: Callable[..., str]) -> str:
    """A duration for people: its largest unit and the next one ("1 h 5 min", "1小时5分"; "2 d", "45 s")."""
    s = max(0, int(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if d:
        return t("op.dur.d_h", d=d, h=h) if h else t("op.dur.d", n=d)
    if h:
        return t("op.dur.h_min", h=h, m=m) if m else t("op.dur.h", n=h)
    if m:
        return t("op.dur.min_s", m=m, s=sec) if sec else t("op.dur.min", n=m)
    return t("op.dur.s", n=sec)


def _kind(name: str) -> str:
    if name == "sequencer":
        return "sequencer"
    head, sep, _ = name.partition("/")
    return head if sep and head in ("bus", "worker", "upstream") else "other"


def _order(lease: Lease) -> tuple[int, int, str]:
    """Partitions by number, then the sequencer, the workers, the upstreams, anything else."""
    kind = _kind(lease.name)
    tail = lease.name.partition("/")[2]
    number = int(tail) if kind == "bus" and tail.isdigit() else 0
    return LEASE_KINDS.index(kind), number, lease.name


def upstream_rows(
    states: Sequence[Mapping[str, Any]], now_us: int, t: Callable[..., str]
) -> list[dict[str, Any]]:
    rows = []
    for u in states:
        lag = lag_seconds(u, now_us)
        error = u.get("last_error") or ""
        rows.append(
            {
                "name": str(u["name"]),
                "address": str(u["address"]),
                "acked_upto": int(u.get("acked_upto") or 0),
                "newest": int(u.get("newest") or 0),
                "lag_frames": int(u.get("lag_frames") or 0),
                "lag_s": None if lag is None else int(lag),
                "waited": "" if lag is None else waited(lag, t),
                "acked_at": _us_local(u.get("acked_us"), CHINA_OFFSET, _TIME),
                "sent": int(u.get("sent") or 0),
                "acks": int(u.get("acks") or 0),
                "refused": int(u.get("refused") or 0),
                "error": str(error),
                "error_at": _us_local(u.get("error_us"), CHINA_OFFSET, _TIME) if error else "",
            }
        )
    return rows


def lease_rows(leases: Sequence[Lease], now_us: int) -> list[dict[str, Any]]:
    """The leases to show: all but the workers that are gone (a worker's lease only says it is alive)."""
    rows = []
    for lease in sorted(leases, key=_order):
        kind = _kind(lease.name)
        live = lease.live(now_us)
        if kind == "worker" and not live:
            continue
        rows.append(
            {
                "name": lease.name,
                "kind": kind,
                "holder": lease.holder or "",
                "live": live,
                "epoch": lease.epoch,
                "expires_at": _us_local(lease.expires_us, CHINA_OFFSET, _TIME),
                "position": lease.position if kind == "bus" else None,
                "info": lease.info or "",
            }
        )
    return rows


def install_ops_pages(app: FastAPI, store: Store, kit: PageKit) -> None:
    """Add the operations page (``/operations``) to ``app``."""

    @app.get("/operations", include_in_schema=False)
    def operations_page(request: Request) -> Response:
        who, csrf = kit.need_login(request)
        if who.role not in OPERATORS:
            raise PageError(403, "op.forbidden")
        t = translator(kit.lang_of(request))
        now_us = time.time_ns() // 1000
        upstreams = upstream_rows(store.upstream_states(), now_us, t)
        leases = lease_rows(store.list_leases(), now_us)
        return kit.render(request, "operations.html", upstreams=upstreams, leases=leases,
                          _user=(who, csrf, False))  # fmt: skip
