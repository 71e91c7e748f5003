"""Cluster-mode operations: who holds which partition of the frame stream, the sequencer, live workers; monthly
partitions of the readings on PostgreSQL (issue 8)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _fail, err, out
from .cli_oversight import opened
from .errors import EnvtrustError

cluster_app = typer.Typer(help="Cluster mode: partitions, workers, the sequencer; readings partitions.",
                          no_args_is_help=True)  # fmt: skip
upstream_app = typer.Typer(
    help="Forwarding to upstream HJ 212 platforms: delivery and lag.", no_args_is_help=True
)


def _when(us: int) -> str | None:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds") if us > 0 else None


@cluster_app.command("status")
def cluster_status(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The leases: each partition of the frame stream (holder, epoch, stored up to which stream sequence), the
    checkpoint sequencer and the live workers."""
    try:
        with opened(db, lambda store: store) as store:
            leases = store.list_leases()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    now = time.time_ns() // 1000
    rows = [
        {
            "name": lease.name,
            "holder": lease.holder,
            "live": lease.live(now),
            "epoch": lease.epoch,
            "expires": _when(lease.expires_us),
            "position": lease.position,
        }
        for lease in sorted(
            leases,
            key=lambda x: (
                x.name.split("/")[0],
                int(x.name.split("/")[1]) if x.name.startswith("bus/") else 0,
                x.name,
            ),
        )
    ]
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        out.print("no leases: this database has not run in cluster mode")
        return
    table = Table("lease", "holder", "live", "epoch", "expires (UTC)", "stream position")
    for r in rows:
        table.add_row(
            str(r["name"]),
            escape(str(r["holder"] or "—")),
            "yes" if r["live"] else "no",
            str(r["epoch"]),
            str(r["expires"] or "—"),
            str(r["position"]) if str(r["name"]).startswith("bus/") else "",
        )
    out.print(table)


@cluster_app.command("partitions")
def readings_partitions(
    db: DbOption = None,
    months_ahead: Annotated[
        int, typer.Option("--months-ahead", help="Create the partitions of this many months ahead.")
    ] = 3,
    list_only: Annotated[bool, typer.Option("--list", help="Only list the partitions.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """PostgreSQL: partition the readings table by month (the first run moves the rows; run it monthly, e.g. from a
    systemd timer, to create the months ahead); list the partitions with their estimated rows."""
    try:
        with opened(db, lambda store: store) as store:
            created = [] if list_only else store.partition_readings(months_ahead)
            parts = store.readings_partitions()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "created": created,
                    "partitions": [
                        {"name": p.name, "start": p.start, "end": p.end, "rows_estimate": p.rows}
                        for p in parts
                    ],
                }
            )
        )
        return
    if created:
        out.print(f"created {len(created)} partitions: {', '.join(created)}")
    if not parts:
        out.print("the readings table is not partitioned")
        return
    table = Table("partition", "from (UTC)", "to (UTC)", "rows (estimate)")
    for p in parts:
        table.add_row(
            p.name,
            _when(p.start * 1_000_000) if p.start is not None else "default",
            _when(p.end * 1_000_000) if p.end is not None else "",
            f"{p.rows:,}" if p.rows >= 0 else "?",
        )
    out.print(table)


@upstream_app.command("status")
def upstream_status(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each upstream platform ([[upstream]] in the site configuration): address, the frame id delivered and
    acknowledged up to, frames waiting (the lag) and how long the oldest has waited, counts, the last problem."""
    from .ingest.upstream import lag_seconds

    try:
        with opened(db, lambda store: store) as store:
            states = store.upstream_states()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    rows = [
        {
            "name": st["name"],
            "address": st["address"],
            "acked_upto": st["acked_upto"],
            "newest_frame": st["newest"],
            "lag_frames": st["lag_frames"],
            "lag_seconds": lag_seconds(st),
            "acked": _when(st["acked_us"] or 0),
            "sent": st["sent"],
            "acks": st["acks"],
            "refused": st["refused"],
            "last_error": st["last_error"],
            "error_time": _when(st["error_us"] or 0),
        }
        for st in states
    ]
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        out.print("no upstream has been forwarded to: add [[upstream]] tables to the site configuration")
        return
    table = Table(
        "upstream", "address", "acked up to", "lag (frames)", "lag", "sent", "acks", "refused", "last problem"
    )
    for r in rows:
        lag = r["lag_seconds"]
        table.add_row(
            escape(str(r["name"])),
            escape(str(r["address"])),
            f"{r['acked_upto']} / {r['newest_frame']}",
            f"{r['lag_frames']:,}",
            "—" if lag is None else f"{lag:,.0f} s",
            f"{r['sent']:,}",
            f"{r['acks']:,}",
            f"{r['refused']:,}",
            escape(f"{r['last_error']} ({r['error_time']})") if r["last_error"] else "",
        )
    out.print(table)


cache_app = typer.Typer(
    help="The series cache of minute and real-time data (what makes a point-month fast).",
    no_args_is_help=True,
)


@cache_app.command("warm")
def cache_warm(
    db: DbOption = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many ended UTC days back.")] = 31,
    mn: Annotated[list[str] | None, typer.Option("--mn", help="Only this point (repeat for more).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make the series cache rows of every ended day of the last DAYS that lacks them (after an import or a
    back-fill; `serve` does the same every ten minutes), so that the first request for a month is as fast as the
    next."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    try:
        with opened(db, lambda store: store) as store:
            gaps = store.cache_gaps(days, mn)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
                disable=as_json,
            ) as progress:
                task = progress.add_task("warming the series cache", total=len(gaps))
                put = store.warm_cache(
                    days, mn, progress=lambda done, total: progress.update(task, completed=done, total=total)
                )
    except EnvtrustError as exc:
        raise _fail(exc) from None
    channels = len({(g[0], g[1]) for g in gaps})
    if as_json:
        typer.echo(json.dumps({"gaps": len(gaps), "point_kinds": channels, "rows": put}))
    else:
        out.print(
            f"series cache: {put} rows made for {len(gaps)} runs of days of {channels} point/kind pairs"
        )
