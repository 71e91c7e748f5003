"""Oversight commands (issue 7): the interference register (``envtrust interference …``)."""

from __future__ import annotations

import json
import mimetypes
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

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
T = TypeVar("T")


@contextmanager
def opened(db: str | None, make: Callable[[Any], T]) -> Iterator[T]:
    """A workflow over the database ``db`` (``make(store)``), the store closed afterwards."""
    from .store import open_store

    store = open_store(_db(db))
    try:
        yield make(store)
    finally:
        store.close()


def _register(db: str | None) -> Any:
    from . import settings
    from .workflow.interference import Interference

    return opened(db, lambda store: Interference(store, origin=settings.load().origin))


def _report(checks: list[tuple[str, bool, str]], as_json: bool, good: str, bad: str) -> None:
    """Print offline checks (``✓ [name] message`` lines and a verdict, or JSON); exit 1 unless all passed."""
    ok = bool(checks) and all(c[1] for c in checks)
    if as_json:
        found = [{"name": n, "ok": o, "message": m} for n, o, m in checks]
        sys.stdout.write(json.dumps({"ok": ok, "checks": found}, ensure_ascii=False) + "\n")
    else:
        for name, passed, message in checks:
            out.print(f"{'✓' if passed else '✗'} {escape(f'[{name}]')} {escape(message)}", highlight=False)
        out.print(f"结论：{good if ok else bad}", highlight=False)
    if not ok:
        raise typer.Exit(1)


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


# ------------------------------------------------------------------------------------------------------ draws
draw_app = typer.Typer(
    help="Double-random inspection draws (双随机): create (commitment ledgered), reveal, list, show, export, and "
    "verify offline — anyone can recompute the selection.",
    no_args_is_help=True,
)
inspection_app = typer.Typer(
    help="Inspection results, signed and linked to their draw.", no_args_is_help=True
)
KeysOption = Annotated[Path | None, typer.Option("--keys", help="Key directory (env ENVTRUST_KEYS).")]


def _draws(db: str | None) -> Any:
    from . import settings
    from .workflow.inspection import Draws

    return opened(db, lambda store: Draws(store, origin=settings.load().origin))


def _given_targets(path: Path) -> list[dict[str, Any]]:
    """id,region[,weight] lines of a CSV file (a header line naming the columns)."""
    import csv

    from .errors import RecordError

    rows = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            if not row.get("id") or not row.get("region"):
                raise RecordError("bad_target", f"{path}:{n}: id and region are required")
            weight = row.get("weight") or "1"
            if not weight.isdigit():
                raise RecordError("bad_target", f"{path}:{n}: weight {weight!r} is not a whole number")
            rows.append({"id": row["id"].strip(), "region": row["region"].strip(), "weight": int(weight)})
    return rows


@draw_app.command("create")
def draw_create(
    person: Annotated[str, typer.Option("--as", help="The regulator or inspector drawing (user name).")],
    title: Annotated[str, typer.Option(help="What the draw is for.")],
    region: Annotated[str, typer.Option(help="The region drawn from (division-code prefix).")],
    targets: Annotated[int, typer.Option(help="How many targets to draw.")],
    kind: Annotated[str, typer.Option(help="point, enterprise or institution.")] = "point",
    inspectors_per_target: Annotated[int, typer.Option(help="Inspectors per target.")] = 2,
    same_region_allowed: Annotated[
        bool, typer.Option(help="Allow inspectors of the target's own region (default: no, 异地检查).")
    ] = False,
    max_per_inspector: Annotated[
        int | None, typer.Option(help="At most this many targets per inspector.")
    ] = None,
    recent_days: Annotated[int, typer.Option(help="Exclude targets inspected within this many days.")] = 365,
    beacon_source: Annotated[
        str,
        typer.Option(help="The public random value to be published later, e.g. a lottery draw of a date."),
    ] = "",
    conflict: Annotated[
        list[str] | None,
        typer.Option("--conflict", help="USER=TARGET: a declared conflict of interest (repeatable)."),
    ] = None,
    targets_file: Annotated[
        Path | None,
        typer.Option("--targets-file", help="CSV id,region[,weight] of the targets (institutions)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a draw: the pools with their weights and exclusions, the rules and the commitment are ledgered now;
    the secret is kept until the reveal."""
    try:
        conflicts: dict[str, list[str]] = {}
        for c in conflict or []:
            user, sep, target = c.partition("=")
            if not sep or not user or not target:
                raise EnvtrustError(f"--conflict {c!r}: write USER=TARGET")
            conflicts.setdefault(user, []).append(target)
        given = _given_targets(targets_file) if targets_file else []
        with _draws(db) as draws:
            row = draws.create(username=person, title=title, target_kind=kind, region=region, targets=targets,
                               inspectors_per_target=inspectors_per_target, same_region_allowed=same_region_allowed,
                               max_per_inspector=max_per_inspector, recent_days=recent_days,
                               beacon_source=beacon_source, conflicts=conflicts, given=given)  # fmt: skip
            pool = json.loads(row["targets"])
            index = draws.store.entry_index(f"draws/{row['id']}")
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    eligible = sum(1 for t in pool if t["excluded"] is None)
    err.print(f"draw #{row['id']} created: {eligible} of {len(pool)} targets eligible; commitment "
              f"{row['commitment']} (ledger entry {index}); reveal it with: envtrust draw reveal {row['id']}")  # fmt: skip


@draw_app.command("reveal")
def draw_reveal(
    draw_id: Annotated[int, typer.Argument(help="Draw number.")],
    person: Annotated[str, typer.Option("--as", help="The regulator or inspector revealing (user name).")],
    beacon_value: Annotated[
        str, typer.Option(help="The beacon's published value (when a source was declared).")
    ] = "",
    db: DbOption = None,
) -> None:
    """Reveal the secret with the beacon value: the selection follows, ledgered."""
    try:
        with _draws(db) as draws:
            draws.reveal(draw_id, username=person, beacon_value=beacon_value)
            rec = draws.record_of(draw_id)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    table = Table("target", "inspectors")
    for a in rec["selection"]["assignments"]:
        table.add_row(escape(a["target"]), escape(", ".join(a["inspectors"]) or "— (unstaffed)"))
    out.print(table)
    err.print(f"seed {rec['seed']}")


@draw_app.command("list")
def draw_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON draw per line.")] = False,
    db: DbOption = None,
) -> None:
    """Every draw with its state and selection."""
    try:
        with _draws(db) as draws:
            rows = draws.listing()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    table = Table("#", "title", "kind", "region", "pool", "state", "selected", "inspections")
    for r in rows:
        chosen = ", ".join(r["selection"]["targets"]) if r["selection"] else ""
        table.add_row(str(r["id"]), escape(r["title"]), r["target_kind"], r["region"], str(len(r["targets"])),
                      "revealed" if r["revealed"] else "committed", escape(chosen), str(len(r["inspections"])))  # fmt: skip
    out.print(table)


@draw_app.command("show")
def draw_show(
    draw_id: Annotated[int, typer.Argument(help="Draw number.")],
    db: DbOption = None,
) -> None:
    """The draw's public record (envtrust-draw/v1) as JSON."""
    try:
        with _draws(db) as draws:
            rec = draws.record_of(draw_id)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    sys.stdout.write(json.dumps(rec, ensure_ascii=False, indent=2) + "\n")


@draw_app.command("export")
def draw_export(
    draw_id: Annotated[int, typer.Argument(help="Draw number.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="The ledger's public key (default: its name).")
    ] = None,
    keys: KeysOption = None,
    db: DbOption = None,
) -> None:
    """The draw's record with proof bundles of its creation and reveal entries (envtrust-draw-export/v1), for
    `envtrust draw verify` on a machine that has nothing else."""
    from . import settings
    from .bundle import witness_verifiers_for
    from .keys import load_verifier

    try:
        verifier = load_verifier(log_key or settings.load().origin, keys)
        with _draws(db) as draws:
            found = draws.export(draw_id, log_verifier=verifier,
                                 witness_verifiers=witness_verifiers_for(draws.store, keys))  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    text = json.dumps(found, ensure_ascii=False, indent=2) + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.write_text(text, encoding="utf-8")
    err.print(f"draw #{draw_id} exported to {escape(str(out_file))}; check it with: envtrust draw verify "
              f"{escape(str(out_file))} --log-key {escape(verifier.vkey())}", soft_wrap=True, highlight=False)  # fmt: skip


@draw_app.command("verify")
def draw_verify(
    file: Annotated[
        str, typer.Argument(help="A draw export (or a bare envtrust-draw/v1 record), or - for stdin.")
    ],
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="Pin the ledger's public key (a vkey or .vkey file).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The checks as JSON.")] = False,
) -> None:
    """Recompute a draw from its public record alone, and check its ledger proofs; exit 1 if anything fails."""
    from .bundle import load_vkey
    from .draw import verify_record
    from .workflow.inspection import EXPORT_FORMAT, verify_export

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
        obj = json.loads(text)
        pinned = load_vkey(log_key) if log_key else None
    except (OSError, ValueError, EnvtrustError) as exc:
        raise _fail(EnvtrustError(f"{file}: {exc}")) from None
    if isinstance(obj, dict) and obj.get("format") == EXPORT_FORMAT:
        checks = verify_export(obj, log_key=pinned)
    else:
        checks = verify_record(obj).checks
        checks.append(("ledger", False, "只有抽取记录，没有账本证明：请用 envtrust draw export 导出 | a bare record, "
                       "no ledger proof: export it with envtrust draw export"))  # fmt: skip
    _report(checks, as_json, "抽取可复算、与账本一致 / verdict: the draw VERIFIES",
            "验证未通过 / verdict: the draw does NOT verify")  # fmt: skip


@inspection_app.command("record")
def inspection_record(
    person: AsOption,
    target: Annotated[str, typer.Option(help="The target inspected (MN, credit code, institution id).")],
    at: Annotated[str, typer.Option("--at", help="When (ISO 8601, China time without offset).")],
    outcome: Annotated[str, typer.Option(help="compliant, problems or fraud.")],
    summary: Annotated[str, typer.Option(help="What the inspection found.")],
    draw: Annotated[int | None, typer.Option("--draw", help="The draw that selected the target.")] = None,
    inspector: Annotated[
        list[str] | None, typer.Option("--inspector", help="Another inspector present.")
    ] = None,
    evidence: Annotated[
        list[str] | None,
        typer.Option("--evidence", help="A record it rests on, e.g. alarms/12 (repeatable)."),
    ] = None,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Record an inspection's result, signed by the inspector (drawn for the target, when it came from a draw)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _draws(db) as draws:
            row = draws.inspect(username=person, signed=signed, target=target, inspected_at=_time(at, "--at"),
                                outcome=outcome, summary=summary, draw_id=draw, inspectors=inspector or [],
                                evidence=evidence or [])  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    err.print(f"inspection #{row['id']} of {escape(target)} recorded and signed (signature #{row['sig_id']})")


@inspection_app.command("list")
def inspection_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON inspection per line.")] = False,
    db: DbOption = None,
) -> None:
    """Every inspection result."""
    try:
        with _draws(db) as draws:
            rows = list(reversed(draws.store.quality_rows("inspections")))
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    table = Table("#", "draw", "target", "when", "outcome", "inspectors", "summary")
    for r in rows:
        table.add_row(str(r["id"]), str(r["draw_id"] or ""), escape(r["target"]), _local(r["inspected_at"]),
                      r["outcome"], escape(", ".join(json.loads(r["inspectors"]))), escape(r["summary"][:60]))  # fmt: skip
    out.print(table)


# -------------------------------------------------------------------------------------------------- complaints
complaints_app = typer.Typer(
    help="Complaints (12369): enter one taken by phone, WeChat, letter or visit; list, show, handle, track.",
    no_args_is_help=True,
)


def _complaints(db: str | None) -> Any:
    from .workflow.complaints import Complaints

    return opened(db, Complaints)


@complaints_app.command("file")
def complaints_file(
    person: Annotated[str, typer.Option("--as", help="The staff member taking the complaint.")],
    channel: Annotated[str, typer.Option(help="phone, wechat, letter or visit.")],
    subject: Annotated[str, typer.Option(help="What it is about, in a line.")],
    description: Annotated[str, typer.Option(help="What the complainant says.")],
    location: Annotated[str, typer.Option(help="Where.")],
    region: Annotated[str, typer.Option(help="Division code (or give --mn).")] = "",
    mn: Annotated[str | None, typer.Option(help="The monitoring point it concerns.")] = None,
    contact_name: Annotated[str, typer.Option(help="The complainant's name (empty: anonymous).")] = "",
    contact_phone: Annotated[str, typer.Option(help="The complainant's phone.")] = "",
    attach: Annotated[list[Path] | None, typer.Option("--attach", help="A file (repeatable).")] = None,
    db: DbOption = None,
) -> None:
    """Enter a complaint received by phone, WeChat, letter or visit; prints the tracking code to give the caller."""
    from .workflow.interference import Attachment

    try:
        files = [
            Attachment(p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream", p.read_bytes())
            for p in attach or []
        ]
        with _complaints(db) as c:
            row, code = c.file(channel=channel, subject=subject, description=description, location=location,
                               region=region, mn=mn, contact_name=contact_name, contact_phone=contact_phone,
                               attachments=files, intake_by=person)  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    out.print(code)
    err.print(f"complaint #{row['id']} recorded; give the caller the tracking code above (shown once)")


@complaints_app.command("list")
def complaints_list(
    person: Annotated[str, typer.Option("--as", help="The staff account whose region's complaints to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON complaint per line.")] = False,
    db: DbOption = None,
) -> None:
    """The complaints of a staff account's region, newest first, with their deadlines."""
    try:
        with _complaints(db) as c:
            rows = c.visible(person)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    table = Table("#", "received", "channel", "region", "subject", "state", "due")
    for r in rows:
        due = (_local(r["due"]) + (" [red]overdue[/]" if r["overdue"] else "")) if r["due"] else ""
        table.add_row(str(r["id"]), _local(r["at_us"] // 1_000_000), r["channel"], r["region"],
                      escape(r["subject"]), r["state"], due)  # fmt: skip
    out.print(table)


@complaints_app.command("step")
def complaints_step(
    complaint_id: Annotated[int, typer.Argument(help="Complaint number.")],
    action: Annotated[
        str, typer.Option(help="accepted, assigned, linked, replied, resolved, rejected, comment.")
    ],
    person: Annotated[str, typer.Option("--as", help="The staff member taking the step.")],
    note: Annotated[str, typer.Option(help="Internal note.")] = "",
    reply: Annotated[str, typer.Option(help="What the complainant reads.")] = "",
    assignee: Annotated[str, typer.Option(help="For assigned: the staff account.")] = "",
    link: Annotated[
        list[str] | None, typer.Option("--link", help="A record, e.g. alarms/12 (repeatable).")
    ] = None,
    db: DbOption = None,
) -> None:
    """A step of the handling, by staff of the complaint's region."""
    try:
        with _complaints(db) as c:
            c.step(complaint_id, action=action, username=person, note=note, reply=reply, assignee=assignee,
                   links=link or [])  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"complaint #{complaint_id}: {action} recorded")


@complaints_app.command("track")
def complaints_track(
    code: Annotated[str, typer.Argument(help="The tracking code.")],
    db: DbOption = None,
) -> None:
    """What the complainant sees with the tracking code."""
    try:
        with _complaints(db) as c:
            found = c.track(code)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    sys.stdout.write(json.dumps(found, ensure_ascii=False, indent=2) + "\n")


# ------------------------------------------------------------------------------------------------------ cases
case_app = typer.Typer(
    help="Fraud cases transferred to the police: open, add documents, build the transfer package, verify it offline.",
    no_args_is_help=True,
)


def _cases(db: str | None) -> Any:
    from .workflow.cases import Cases

    return opened(db, Cases)


@case_app.command("open")
def case_open(
    person: Annotated[str, typer.Option("--as", help="The regulator or inspector (user name).")],
    case_no: Annotated[str, typer.Option(help="The case number.")],
    title: Annotated[str, typer.Option(help="What the case is.")],
    enterprise: Annotated[str, typer.Option(help="The enterprise.")],
    mn: Annotated[list[str], typer.Option("--mn", help="A point concerned (repeatable).")],
    start: Annotated[str, typer.Option(help="The data concerned from (ISO 8601, China time).")],
    end: Annotated[str, typer.Option(help="… to (exclusive).")],
    summary: Annotated[str, typer.Option(help="The facts.")],
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="A record cited (repeatable).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Open a case for points and a period of their data."""
    try:
        with _cases(db) as c:
            row = c.open(username=person, case_no=case_no, title=title, enterprise=enterprise, mns=mn,
                         start=_time(start, "--start"), end=_time(end, "--end"), summary=summary,
                         evidence=evidence or [])  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"case #{row['id']} ({escape(row['case_no'])}) opened")


@case_app.command("document")
def case_document(
    case_id: Annotated[int, typer.Argument(help="Case number (id).")],
    kind: Annotated[
        str, typer.Option(help="transfer_letter, investigation_report, site_record, evidence_list, other.")
    ],
    title: Annotated[str, typer.Option(help="The document's title.")],
    file: Annotated[Path, typer.Option("--file", help="The document (PDF, scan …).")],
    person: Annotated[str, typer.Option("--as", help="The regulator or inspector (user name).")],
    db: DbOption = None,
) -> None:
    """Add a document to a case."""
    from .workflow.interference import Attachment

    try:
        att = Attachment(
            file.name, mimetypes.guess_type(file.name)[0] or "application/octet-stream", file.read_bytes()
        )
        with _cases(db) as c:
            c.add_document(case_id, kind=kind, title=title, file=att, username=person)
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    err.print(f"case #{case_id}: {kind} added")


@case_app.command("list")
def case_list(
    person: Annotated[str, typer.Option("--as", help="The staff account whose region's cases to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON case per line.")] = False,
    db: DbOption = None,
) -> None:
    """The cases of a staff account's region, with the documents still missing."""
    with _cases(db) as c:
        rows = c.visible(person)
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    table = Table("#", "case", "title", "enterprise", "points", "documents", "missing")
    for r in rows:
        table.add_row(str(r["id"]), escape(r["case_no"]), escape(r["title"]), escape(r["enterprise"]),
                      ", ".join(r["mns"]), str(len(r["documents"])), ", ".join(r["missing_documents"]))  # fmt: skip
    out.print(table)


@case_app.command("package")
def case_package(
    case_id: Annotated[int, typer.Argument(help="Case number (id).")],
    person: Annotated[str, typer.Option("--as", help="The regulator or inspector (user name).")],
    out_file: Annotated[Path, typer.Option("--out", help="The archive to write (.zip).")],
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="The ledger's public key (default: its name).")
    ] = None,
    keys: KeysOption = None,
    db: DbOption = None,
) -> None:
    """Build the transfer package (one ZIP archive) for the police and the procuratorate."""
    from . import settings
    from .bundle import witness_verifiers_for
    from .keys import load_verifier

    try:
        verifier = load_verifier(log_key or settings.load().origin, keys)
        with _cases(db) as c:
            data = c.package(case_id, username=person, log_verifier=verifier,
                             witness_verifiers=witness_verifiers_for(c.store, keys))  # fmt: skip
        out_file.write_bytes(data)
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    err.print(f"package written to {escape(str(out_file))} ({len(data)} bytes); check it with: envtrust case verify "
              f"{escape(str(out_file))} --log-key {escape(verifier.vkey())}", soft_wrap=True, highlight=False)  # fmt: skip


@case_app.command("verify")
def case_verify(
    file: Annotated[Path, typer.Argument(help="The transfer package (.zip).")],
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="Pin the ledger's public key (vkey or file).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The checks as JSON.")] = False,
) -> None:
    """Check a transfer package with nothing but itself; exit 1 if anything fails."""
    from .bundle import load_vkey
    from .workflow.cases import verify_package

    try:
        data = file.read_bytes()
        pinned = load_vkey(log_key) if log_key else None
    except (OSError, EnvtrustError) as exc:
        raise _fail(EnvtrustError(f"{file}: {exc}")) from None
    checks = verify_package(data, log_key=pinned)
    _report(checks, as_json, "证据包验证通过 / verdict: the package VERIFIES",
            "验证未通过 / verdict: the package does NOT verify")  # fmt: skip
