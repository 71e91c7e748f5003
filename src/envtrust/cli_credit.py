"""Credit, blacklist, orders to rectify with their penalties, and the county ranking (issue 7)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _fail, err, out
from .cli_oversight import opened
from .errors import EnvtrustError

credit_app = typer.Typer(help="Credit events and scores (clause 十五).", no_args_is_help=True)
blacklist_app = typer.Typer(help="The blacklist: list, appeal, repair, the public list and its export.",
                            no_args_is_help=True)  # fmt: skip
order_app = typer.Typer(
    help="Orders to rectify, their rechecks and continuous daily penalties.", no_args_is_help=True
)
counties_app = typer.Typer(
    help="County accountability: the ranking behind 约谈 decisions.", no_args_is_help=True
)

AsOption = Annotated[str, typer.Option("--as", help="The deciding account (user name).")]
Evidence = Annotated[
    list[str] | None, typer.Option("--evidence", help="A record, e.g. alarms/12 (repeatable).")
]
SUBJECT = "enterprise, institution, operator or supplier."


def _credit(db: str | None) -> Any:
    from .workflow.credit import Credit

    return opened(db, Credit)


def _json_lines(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")


@credit_app.command("event")
def credit_event(
    person: AsOption,
    subject_kind: Annotated[str, typer.Option(help=SUBJECT)],
    subject_id: Annotated[str, typer.Option(help="Unified social credit code.")],
    subject_name: Annotated[str, typer.Option(help="Name.")],
    region: Annotated[str, typer.Option(help="Division code.")],
    points: Annotated[int, typer.Option(help="Score change: negative for a negative event.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    decision: Annotated[str, typer.Option(help="The decision document's number.")],
    evidence: Evidence = None,
    db: DbOption = None,
) -> None:
    """Record a credit event, tied to ledgered evidence and the decision."""
    try:
        with _credit(db) as c:
            row = c.record_event(username=person, subject_kind=subject_kind, subject_id=subject_id,
                                 subject_name=subject_name, region=region, kind="negative" if points < 0 else "positive",
                                 points=points, reason=reason, evidence=evidence or [], decision=decision)  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"credit event #{row['id']} recorded ({row['points']:+d})")


@credit_app.command("scores")
def credit_scores(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON subject per line.")] = False,
    db: DbOption = None,
) -> None:
    """Scores (100 plus each event's points), lowest first."""
    with _credit(db) as c:
        rows = c.scores()
    if as_json:
        _json_lines(rows)
        return
    table = Table("code", "name", "kind", "region", "score", "events")
    for r in rows:
        table.add_row(escape(r["subject_id"]), escape(r["subject_name"]), r["subject_kind"], r["region"],
                      str(r["score"]), str(len(r["events"])))  # fmt: skip
    out.print(table)


@blacklist_app.command("add")
def blacklist_add(
    person: AsOption,
    subject_kind: Annotated[str, typer.Option(help=SUBJECT)],
    subject_id: Annotated[str, typer.Option(help="Unified social credit code.")],
    subject_name: Annotated[str, typer.Option(help="Name.")],
    region: Annotated[str, typer.Option(help="Division code.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    decision: Annotated[str, typer.Option(help="The decision document's number.")],
    starts_on: Annotated[str, typer.Option(help="First day listed, YYYY-MM-DD.")],
    ends_on: Annotated[str, typer.Option(help="Day after the last, YYYY-MM-DD.")],
    evidence: Evidence = None,
    db: DbOption = None,
) -> None:
    """List a party on the blacklist."""
    try:
        with _credit(db) as c:
            row = c.blacklist(username=person, subject_kind=subject_kind, subject_id=subject_id,
                              subject_name=subject_name, region=region, reason=reason, evidence=evidence or [],
                              decision=decision, starts_on=starts_on, ends_on=ends_on)  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"listing #{row['id']} recorded")


@blacklist_app.command("step")
def blacklist_step(
    listing_id: Annotated[int, typer.Argument(help="Listing number.")],
    action: Annotated[str, typer.Option(help="appealed, appeal_upheld, appeal_rejected or repaired.")],
    note: Annotated[str, typer.Option(help="What and why.")],
    person: AsOption,
    evidence: Evidence = None,
    db: DbOption = None,
) -> None:
    """An appeal, its decision, or a credit repair."""
    try:
        with _credit(db) as c:
            c.blacklist_step(listing_id, action=action, note=note, username=person, evidence=evidence or [])
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"listing #{listing_id}: {action} recorded")


@blacklist_app.command("list")
def blacklist_list(
    active: Annotated[bool, typer.Option("--active", help="Only the listings in force now.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON listing per line.")] = False,
    db: DbOption = None,
) -> None:
    """The blacklist with each listing's state."""
    with _credit(db) as c:
        rows = c.listings(active_only=active)
    if as_json:
        _json_lines(rows)
        return
    table = Table("#", "code", "name", "kind", "from", "to", "state", "decision")
    for r in rows:
        table.add_row(str(r["id"]), escape(r["subject_id"]), escape(r["subject_name"]), r["subject_kind"],
                      r["starts_on"], r["ends_on"], r["state"], escape(r["decision"]))  # fmt: skip
    out.print(table)


@blacklist_app.command("export")
def blacklist_export(
    all_listings: Annotated[
        bool, typer.Option("--all", help="Every listing, not only those in force.")
    ] = False,
    db: DbOption = None,
) -> None:
    """The blacklist for the credit-sharing platform, as CSV on stdout (columns in docs/oversight.md)."""
    from .workflow.credit import EXPORT_COLUMNS, export_rows

    with _credit(db) as c:
        rows = export_rows(c.listings(active_only=not all_listings))
    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    writer.writerow([h for h, _ in EXPORT_COLUMNS])
    writer.writerows([list(r.values()) for r in rows])


@order_app.command("serve")
def order_serve(
    person: AsOption,
    order_no: Annotated[str, typer.Option(help="The order's document number.")],
    enterprise: Annotated[str, typer.Option(help="The enterprise (name or credit code).")],
    mn: Annotated[list[str], typer.Option("--mn", help="A point concerned (repeatable).")],
    violation: Annotated[str, typer.Option(help="What is to be corrected.")],
    served_on: Annotated[str, typer.Option(help="Date served, YYYY-MM-DD.")],
    evidence: Evidence = None,
    db: DbOption = None,
) -> None:
    """Record an order to rectify served on an enterprise."""
    try:
        with _credit(db) as c:
            row = c.order(username=person, order_no=order_no, enterprise=enterprise, mns=mn, violation=violation,
                          evidence=evidence or [], served_on=served_on)  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"order #{row['id']} recorded")


@order_app.command("recheck")
def order_recheck(
    order_id: Annotated[int, typer.Argument(help="Order number.")],
    person: AsOption,
    rechecked_on: Annotated[str, typer.Option(help="Date of the recheck, YYYY-MM-DD.")],
    result: Annotated[str, typer.Option(help="continued or rectified.")],
    note: Annotated[str, typer.Option(help="What the recheck found.")],
    evidence: Evidence = None,
    db: DbOption = None,
) -> None:
    """Record the recheck of an order."""
    try:
        with _credit(db) as c:
            c.recheck(order_id, username=person, rechecked_on=rechecked_on, result=result, note=note,
                      evidence=evidence or [])  # fmt: skip
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"order #{order_id}: recheck recorded ({result})")


@order_app.command("penalty")
def order_penalty(
    order_id: Annotated[int, typer.Argument(help="Order number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """The continuous daily penalty of an order: days, the rule with its dates, and per day the alarms."""
    try:
        with _credit(db) as c:
            found = c.penalty(order_id)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]{escape(found['order']['order_no'])}[/]: {found['days']} penalty days")
    out.print(escape(found["rule"]))
    for b in found["basis"]:
        out.print(f"  {b['date']}: {', '.join(b['alarms']) or '—'}")


@order_app.command("list")
def order_list(db: DbOption = None) -> None:
    """Every order with its recheck and penalty days."""
    with _credit(db) as c:
        orders = [c.penalty(int(o["id"])) for o in reversed(c.store.quality_rows("orders"))]
    table = Table("#", "order", "enterprise", "served", "recheck", "days")
    for p in orders:
        o, r = p["order"], p["recheck"]
        table.add_row(str(o["id"]), escape(o["order_no"]), escape(o["enterprise"]), o["served_on"],
                      f"{r['rechecked_on']} {r['result']}" if r else "—", str(p["days"]))  # fmt: skip
    out.print(table)


@counties_app.command("ranking")
def counties_ranking(
    region: Annotated[str, typer.Option(help="The region whose counties to rank (division-code prefix).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranking as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Counties ranked by confirmed fraud and interference, each number with its records."""
    from .workflow.credit import county_ranking

    with _credit(db) as c:
        rows = county_ranking(c.store, region)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table("rank", "county", "points", "fraud", "interference", "per 100 points", "records")
    for r in rows:
        refs = r["fraud_inspections"] + r["continued_orders"] + r["blacklistings"] + r["interference"]
        table.add_row(str(r["rank"]), r["county"], str(r["points"]), str(r["confirmed_fraud"]),
                      str(len(r["interference"])), str(r["per_100_points"] or "—"), ", ".join(refs))  # fmt: skip
    out.print(table)
