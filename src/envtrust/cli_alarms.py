"""``envtrust alarms …`` and ``envtrust recheck``: the alarm inbox and re-running the checks over stored data."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _db, _fail, err, out
from .errors import EnvtrustError

alarms_app = typer.Typer(
    help="Alarms raised by the checks: list, show, acknowledge, clear, assign, comment.", no_args_is_help=True
)

WhoOption = Annotated[
    str, typer.Option("--who", help="Who takes the action (name and role), kept in the ledger.")
]
_STYLE = {"tampering": "bold red", "exceedance": "red", "anomaly": "yellow"}


def _book(db: str | None) -> Any:
    from .alarms.book import AlarmBook
    from .store import open_store

    store = open_store(_db(db))
    points = {p.mn: p for p in store.points()}
    return AlarmBook(store, points=points.get), points


def _shown(row: dict[str, Any], points: dict[str, Any]) -> dict[str, Any]:
    from .alarms.book import alarm_json

    return alarm_json(row, points.get(row["mn"]))


@alarms_app.command("list")
def alarms_list(
    db: DbOption = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Closed alarms too (cleared and acknowledged).")
    ] = False,
    mn: Annotated[str | None, typer.Option(help="Only this point.")] = None,
    category: Annotated[str | None, typer.Option(help="exceedance, validity, anomaly or tampering.")] = None,
    check: Annotated[str | None, typer.Option(help="Only this check.")] = None,
    unacked: Annotated[bool, typer.Option("--unacked", help="Only unacknowledged alarms.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON alarm per line.")] = False,
) -> None:
    """The alarm inbox: open alarms (active, or cleared but not yet acknowledged), newest first."""
    try:
        book, points = _book(db)
        try:
            filters: dict[str, Any] = {"closed": None if all_ else False, "mn": mn, "category": category}
            filters |= {"check": check, "acked": False if unacked else None}
            rows = book.store.alarms(limit=limit, **filters)
            total = book.store.alarm_count(**filters)
        finally:
            book.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    shown = [_shown(r, points) for r in rows]
    if as_json:
        for a in shown:
            sys.stdout.write(json.dumps(a, ensure_ascii=False) + "\n")
        return
    table = Table(
        title=f"{total} {'alarms' if all_ else 'open alarms'}"
        + (f" (newest {limit})" if total > limit else "")
    )
    for col in ("id", "point", "pollutant", "check", "category", "state", "ack", "from", "to", "message"):
        table.add_column(col, overflow="fold")
    for a in shown:
        style = _STYLE.get(a["category"], "")
        table.add_row(
            str(a["id"]),
            escape(a["point"] or a["mn"]),
            a["pollutant"] or "—",
            a["check"],
            f"[{style}]{a['category']}[/]" if style else a["category"],
            a["state"] + (f" ↑{a['escalation']}" if a["escalation"] else ""),
            "✓" if a["acknowledged"] else "",
            a["start"][:16],
            a["end"][:16],
            escape(a["message"]),
        )
    out.print(table)


@alarms_app.command("show")
def alarms_show(
    alarm_id: Annotated[int, typer.Argument(help="Alarm number.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One alarm with its evidence and every event of its history (who, when, what; each a ledger entry)."""
    try:
        book, points = _book(db)
        try:
            row = book.store.alarm(alarm_id)
            if row is None:
                raise EnvtrustError(f"no alarm {alarm_id}")
            events = book.store.alarm_events(alarm_id)
        finally:
            book.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    a = _shown(row, points)
    history = [
        {
            "action": e["action"],
            "who": e["who"],
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["at_us"] / 1e6)),
            "detail": json.loads(e["detail"]),
        }
        for e in events
    ]
    if as_json:
        sys.stdout.write(json.dumps({**a, "events": history}, ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]alarm {a['id']}[/] {escape(a['point'] or a['mn'])} {a['pollutant'] or ''} {a['check']}")
    out.print(f"  {escape(a['message'])}", soft_wrap=True)
    out.print(
        f"  {a['category']} · {a['severity']} · {a['state']} · {'acknowledged' if a['acknowledged'] else 'unacknowledged'}"
        + (f" · escalation {a['escalation']}" if a["escalation"] else "")
        + (f" · assigned to {escape(a['assignee'])}" if a["assignee"] else "")
    )
    out.print(f"  data {a['start']} → {a['end']} · {a['findings']} finding(s)")
    out.print(f"  evidence {escape(json.dumps(a['evidence'], ensure_ascii=False))}", soft_wrap=True)
    for h in history:
        detail = {k: v for k, v in h["detail"].items() if k != "finding"}
        out.print(
            f"  {h['at']}  {h['action']:<10} {escape(h['who'])}  {escape(json.dumps(detail, ensure_ascii=False)) if detail else ''}",
            soft_wrap=True,
        )


def _act(db: str | None, action: str, alarm_id: int, *args: str) -> None:
    try:
        book, _ = _book(db)
        try:
            row = getattr(book, action)(alarm_id, *args)
        finally:
            book.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    state = (
        "closed"
        if row["closed"]
        else f"{row['state']}, {'acknowledged' if row['acked'] else 'unacknowledged'}"
    )
    out.print(f"alarm {alarm_id}: {action} recorded ({state})")


@alarms_app.command("ack")
def alarms_ack(
    alarm_id: Annotated[int, typer.Argument(help="Alarm number.")],
    who: WhoOption,
    comment: Annotated[str | None, typer.Option(help="What is being done about it.")] = None,
    db: DbOption = None,
) -> None:
    """Acknowledge an alarm (somebody has seen it and takes care of it); a cleared alarm is then closed."""
    _act(db, "acknowledge", alarm_id, who, *([comment] if comment else []))


@alarms_app.command("clear")
def alarms_clear(
    alarm_id: Annotated[int, typer.Argument(help="Alarm number.")],
    who: WhoOption,
    reason: Annotated[str, typer.Option(help="Why the alarm is cleared by hand (kept in the ledger).")],
    db: DbOption = None,
) -> None:
    """Clear an alarm by hand, with the reason; it is closed once acknowledged."""
    _act(db, "clear", alarm_id, who, reason)


@alarms_app.command("assign")
def alarms_assign(
    alarm_id: Annotated[int, typer.Argument(help="Alarm number.")],
    who: WhoOption,
    to: Annotated[str, typer.Option("--to", help="The person who is to deal with it.")],
    db: DbOption = None,
) -> None:
    """Assign an alarm to a person."""
    _act(db, "assign", alarm_id, who, to)


@alarms_app.command("comment")
def alarms_comment(
    alarm_id: Annotated[int, typer.Argument(help="Alarm number.")],
    who: WhoOption,
    text: Annotated[str, typer.Option("--text", help="The comment.")],
    db: DbOption = None,
) -> None:
    """Add a comment to an alarm's history."""
    _act(db, "comment", alarm_id, who, text)


def recheck(
    db: DbOption = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Check parameters: a site configuration ([checks.<check>]) or [<check>] tables."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Data from this time on (ISO 8601; no offset: UTC+8).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Data before this time (ISO 8601).")] = None,
    mn: Annotated[list[str] | None, typer.Option("--mn", help="Only this point (repeatable).")] = None,
    who: Annotated[
        str, typer.Option(help="Who re-runs the checks (kept with a configuration change).")
    ] = "envtrust recheck",
    why: Annotated[
        str, typer.Option(help="Why (kept with a configuration change).")
    ] = "re-run of the checks over stored data",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the findings, one JSON object per line.")
    ] = False,
) -> None:
    """Re-run the check catalogue over stored data (after a catalogue or parameter change): the configuration is
    ledgered when it changed, and new findings become alarms exactly as on arrival."""
    from .quality import load_qc_config, recheck_stored, record_config
    from .services import parse_iso_time
    from .store import open_store

    try:
        bounds = []
        for name, text in (("--since", since), ("--until", until)):
            t = parse_iso_time(text, "Asia/Shanghai") if text else None
            if text and t is None:
                raise EnvtrustError(f"{name} {text!r}: not an ISO 8601 time")
            bounds.append(t)
        configured = load_qc_config(config)
        store = open_store(_db(db))
        try:
            entry = record_config(store, configured, who=who, why=why)
            with err.status("re-checking stored data", spinner="dots"):
                done = recheck_stored(
                    store, configured=configured, start=bounds[0], end=bounds[1], mns=mn, now=time.time()
                )
        finally:
            store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    except ValueError as exc:  # CatalogueError
        raise _fail(exc) from None
    inputs, findings = done.inputs, done.findings
    offsets = {pd.mn: pd.info.utc_offset for pd in inputs.points}
    if as_json:
        for f in findings:
            sys.stdout.write(json.dumps(f.to_json(offsets.get(f.mn, 8 * 3600)), ensure_ascii=False) + "\n")
    err.print(
        f"{len(findings)} findings over {len(inputs.points)} points ({inputs.frames} stored frames); alarms: "
        f"{done.opened} opened, {done.extended} extended, {done.cleared} cleared"
        + (
            f"; configuration {configured.digest()[:12]} ledgered as entry {entry}"
            if entry is not None
            else "; configuration unchanged"
        ),
        soft_wrap=True,
    )
