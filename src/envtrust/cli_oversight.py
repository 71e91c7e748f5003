"""Oversight commands (issue 7): the interference register (``envtrust interference …``)."""

from __future__ import annotations

import json
import mimetypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _db, _fail, err, out
from .cli_lab import AsOption, KeyOption, KeysDir, PassOption, _signed, _time
from .errors import EnvtrustError

interference_app = typer.Typer(
    help="The interference register (干预留痕): record, list, show, escalate, report. Every record and step is "
    "signed by its person and ledgered; nothing is ever changed or deleted.",
    no_args_is_help=True,
)

CHINA = timezone(timedelta(hours=8))


@contextmanager
def _register(db: str | None) -> Iterator[Any]:
    from . import settings
    from .store import open_store
    from .workflow.interference import Interference

    store = open_store(_db(db))
    try:
        yield Interference(store, origin=settings.load().origin)
    finally:
        store.close()


def _local(t: int) -> str:
    return datetime.fromtimestamp(t, CHINA).strftime("%Y-%m-%d %H:%M")


@interference_app.command("record")
def interference_record(
    person: AsOption,
    region: Annotated[
        str, typer.Option(help="Division code of the office whose monitoring was interfered with.")
    ],
    occurred: Annotated[str, typer.Option(help="When (ISO 8601, China time without offset).")],
    actor_name: Annotated[str, typer.Option(help="Who interfered.")],
    actor_role: Annotated[str, typer.Option(help="In what position.")],
    means: Annotated[str, typer.Option(help="written_instruction, letter, spoken, hint or other.")],
    request: Annotated[str, typer.Option(help="What was asked.")],
    actor_org: Annotated[str, typer.Option(help="The organisation of the one who interfered.")] = "",
    mn: Annotated[list[str] | None, typer.Option("--mn", help="A point it touched (repeatable).")] = None,
    record: Annotated[
        list[str] | None, typer.Option("--record", help="A record it touched, e.g. alarms/12 (repeatable).")
    ] = None,
    other: Annotated[str, typer.Option(help="Other data or stations it touched.")] = "",
    attach: Annotated[
        list[Path] | None, typer.Option("--attach", help="A file to attach (repeatable).")
    ] = None,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Record an interference by an official, signed by the person recording it."""
    from .workflow.interference import Attachment

    try:
        files = [
            Attachment(p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream", p.read_bytes())
            for p in attach or []
        ]
        signed = _signed(key, passphrase_stdin, keys)
        with _register(db) as reg:
            row = reg.record(username=person, signed=signed, region=region, occurred_at=_time(occurred, "--occurred"),
                             actor_name=actor_name, actor_role=actor_role, actor_org=actor_org, means=means,
                             request=request, mns=mn or [], records=record or [], other=other,
                             attachments=files)  # fmt: skip
            index = reg.store.entry_index(f"interference/{row['id']}")
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    err.print(
        f"interference #{row['id']} recorded and signed (signature #{row['sig_id']}, ledger entry {index})"
    )


@interference_app.command("list")
def interference_list(
    person: Annotated[
        str | None, typer.Option("--as", help="Only what this account reads (default: every record).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
    db: DbOption = None,
) -> None:
    """The register: every record (whoever runs this holds the database), or what one account reads."""
    try:
        with _register(db) as reg:
            rows = reg.visible(person) if person else reg.everything()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    table = Table("#", "occurred", "region", "who interfered", "means", "request", "state", "recorded by")
    for r in rows:
        table.add_row(str(r["id"]), _local(r["occurred_at"]), r["region"],
                      escape(f"{r['actor_name']} ({r['actor_role']}, {r['actor_org']})"), r["means"],
                      escape(r["request"][:60]), r["state"], escape(r["recorded_by"]))  # fmt: skip
    out.print(table)


@interference_app.command("show")
def interference_show(
    record_id: Annotated[int, typer.Argument(help="Record number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """One record with its attachments (name, size, SHA-256) and its escalation trail."""
    try:
        with _register(db) as reg:
            found = [r for r in reg.everything() if r["id"] == record_id]
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if not found:
        raise _fail(EnvtrustError(f"no interference record #{record_id}"))
    r = found[0]
    if as_json:
        sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]interference #{r['id']}[/] — {r['state']} (ledger entry {r['entry']})")
    out.print(f"occurred {_local(r['occurred_at'])} · region {r['region']} · means {r['means']}")
    out.print(f"who: {escape(r['actor_name'])}, {escape(r['actor_role'])}, {escape(r['actor_org'])}")
    out.print(f"asked: {escape(r['request'])}")
    out.print(f"touched: {escape(json.dumps(r['touches'], ensure_ascii=False))}")
    for a in r["attachments"]:
        out.print(f"attachment #{a['id']} {escape(a['name'])} ({a['size']} bytes, SHA-256 {a['sha256']})")
    out.print(f"recorded by {escape(r['recorded_by'])} ({r['recorder_role']}), signature #{r['sig_id']}")
    for e in r["events"]:
        when = datetime.fromtimestamp(e["at_us"] / 1e6, CHINA).strftime("%Y-%m-%d %H:%M")
        to = f" to {escape(e['to_whom'])}" if e["to_whom"] else ""
        out.print(f"  {when} {e['action']}{to} by {escape(e['who'])} ({e['role']}): {escape(e['note'])}")


@interference_app.command("event")
def interference_event(
    record_id: Annotated[int, typer.Argument(help="Record number.")],
    action: Annotated[str, typer.Option(help="reported, received, investigating, concluded or comment.")],
    person: AsOption,
    note: Annotated[str, typer.Option(help="What was done or said.")] = "",
    to_whom: Annotated[str, typer.Option(help="For reported: the body it was reported to.")] = "",
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """A signed step of the escalation trail (received, investigating and concluded: discipline accounts)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _register(db) as reg:
            row = reg.event(
                record_id, action=action, note=note, to_whom=to_whom, username=person, signed=signed
            )
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    err.print(f"interference #{record_id}: {action} recorded and signed (signature #{row['sig_id']})")


@interference_app.command("report")
def interference_report(
    by: Annotated[str, typer.Option(help="region, month, means or actor_role.")] = "region",
    level: Annotated[int, typer.Option(help="Region digits: 2 province, 4 city, 6 county.")] = 6,
    person: Annotated[str | None, typer.Option("--as", help="Only what this account reads.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Counts of records by region, month, means or actor role, each with its record numbers."""
    try:
        with _register(db) as reg:
            rows = reg.visible(person) if person else reg.everything()
            groups = reg.report(rows, by=by, level=level)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(
            json.dumps({"by": by, "total": len(rows), "groups": groups}, ensure_ascii=False) + "\n"
        )
        return
    table = Table(by, "records", "numbers")
    for g in groups:
        table.add_row(escape(g["key"]), str(g["count"]), ", ".join(f"#{i}" for i in g["records"]))
    out.print(table)
