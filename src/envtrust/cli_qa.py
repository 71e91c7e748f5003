"""``envtrust qa …``: analysers, certified reference lots, zero/span/standard checks, comparisons, maintenance and
the spans in which an analyser was out of control (issue 6, decision 0012)."""

from __future__ import annotations

import csv
import io
import json
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _db, _fail, err, out
from .errors import EnvtrustError, RecordError

qa_app = typer.Typer(
    help="Quality records of analysers: registration, reference lots, checks, comparisons, maintenance, status.",
    no_args_is_help=True,
)
lot_app = typer.Typer(
    help="Certified reference materials (有证标准物质): register, list, withdraw.", no_args_is_help=True
)
qa_app.add_typer(lot_app, name="lot")

WhoOption = Annotated[str, typer.Option("--who", help="Who records it (kept in the ledger).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_VERDICT = {"pass": "green", "adjust": "yellow", "fail": "bold red"}


@contextmanager
def _records(db: str | None, *, recheck: bool = False) -> Iterator[Any]:
    from .quality import point_rechecker
    from .store import open_store
    from .workflow.qa import QualityRecords

    store = open_store(_db(db))
    try:
        yield QualityRecords(store, recheck=point_rechecker(store) if recheck else None)
    finally:
        store.close()


def _zone_of(records: Any, mn: str) -> str:
    point = next((p for p in records.store.points() if p.mn == mn), None)
    return point.timezone if point is not None else "Asia/Shanghai"


def _time(text: str, zone: str, what: str) -> int:
    from .services import parse_iso_time

    t = parse_iso_time(text, zone)
    if t is None:
        raise RecordError("bad_time", f"{what} {text!r}: not an ISO 8601 time")
    return t


def _iso(t: int | None, offset: int = 8 * 3600) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, timezone(timedelta(seconds=offset))).strftime("%Y-%m-%d %H:%M")


def _verdict(verdict: str | None) -> str:
    style = _VERDICT.get(verdict or "")
    return f"[{style}]{verdict}[/]" if style else escape(verdict or "—")


def _done(recorded: Any, what: str) -> None:
    row = recorded.row
    verdict = row.get("verdict")
    shown = f" {_verdict(verdict)}" if verdict else ""
    err.print(f"{what} #{row['id']} recorded as ledger entry {recorded.entry}{shown}", soft_wrap=True)
    if recorded.rechecked is not None:
        r = recorded.rechecked
        err.print(
            f"out-of-control spans changed: checks re-run on the point ({r['findings']} findings; alarms "
            f"{r['opened']} opened, {r['cleared']} cleared)",
            soft_wrap=True,
        )


def _json_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


# ---------------------------------------------------------------------------------------------- analysers
@qa_app.command("analysers")
def qa_analysers(
    db: DbOption = None,
    mn: Annotated[list[str] | None, typer.Option("--mn", help="Only this point (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The registered analysers, each with whether it is in control now."""
    try:
        with _records(db) as records:
            rows = records.analysers(mn)
            states = {a["id"]: records.status(a["id"]) for a in rows}
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        _json_rows([{**a, "in_control": states[a["id"]]["in_control"]} for a in rows])
        return
    table = Table(title=f"{len(rows)} analysers")
    for col in ("id", "point", "pollutant", "maker / model", "serial", "range", "profile", "from", "state"):
        table.add_column(col, overflow="fold")
    for a in rows:
        ok = states[a["id"]]["in_control"]
        table.add_row(
            str(a["id"]),
            a["mn"],
            a["pollutant"],
            escape(f"{a['maker']} {a['model']}"),
            escape(a["serial_no"]),
            f"{a['range_low']:g}–{a['range_high']:g} {escape(a['unit'])}",
            a["profile"],
            _iso(a["valid_from"]),
            "[green]in control[/]" if ok else "[bold red]out of control[/]",
        )
    out.print(table)


@qa_app.command("analyser-add")
def qa_analyser_add(
    who: WhoOption,
    mn: Annotated[str, typer.Option("--mn", help="The point (MN).")],
    pollutant: Annotated[str, typer.Option(help="HJ 212 code the analyser measures, e.g. a21026.")],
    serial: Annotated[str, typer.Option(help="Serial number.")],
    maker: Annotated[str, typer.Option(help="Manufacturer.")],
    model: Annotated[str, typer.Option(help="Model.")],
    range_high: Annotated[float, typer.Option("--range-high", help="Upper end of the range (full scale).")],
    unit: Annotated[str, typer.Option(help="Unit of the range, e.g. mg/m3.")],
    valid_from: Annotated[str, typer.Option("--from", help="In force from (ISO 8601, point's zone).")],
    range_low: Annotated[float, typer.Option("--range-low", help="Lower end of the range.")] = 0.0,
    automatic: Annotated[
        bool, typer.Option("--automatic/--manual", help="Calibrates itself daily, or is calibrated by hand.")
    ] = True,
    profile: Annotated[
        str | None, typer.Option(help="Criteria profile (default from the code, e.g. hj75/so2).")
    ] = None,
    s_ams: Annotated[
        float | None, typer.Option("--s-ams", help="Repeatability for the QAL3 CUSUM (QAL1 certificate).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Register an analyser of a point; it replaces the one registered for the same code from ``--from`` on."""
    try:
        with _records(db) as records:
            recorded = records.register_analyser(
                mn=mn,
                pollutant=pollutant,
                serial_no=serial,
                maker=maker,
                model=model,
                range_low=range_low,
                range_high=range_high,
                unit=unit,
                automatic=automatic,
                valid_from=_time(valid_from, _zone_of(records, mn), "--from"),
                profile=profile,
                s_ams=s_ams,
                who=who,
            )
    except EnvtrustError as exc:
        raise _fail(exc) from None
    _done(recorded, f"analyser ({recorded.row['profile']})")


@qa_app.command("status")
def qa_status(
    analyser_id: Annotated[int, typer.Argument(help="Analyser number.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """An analyser's state: in control or not (since when, why), the last result and due time of each check, and
    the QAL3 CUSUM of its drift."""
    try:
        with _records(db) as records:
            st = records.status(analyser_id)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(st, ensure_ascii=False, default=str) + "\n")
        return
    a = st["analyser"]
    out.print(
        f"analyser #{a['id']} {a['mn']} {a['pollutant']} — {escape(a['maker'])} {escape(a['model'])}, "
        f"profile {a['profile']}: "
        + ("[green]in control[/]" if st["in_control"] else "[bold red]out of control[/]"),
        soft_wrap=True,
    )
    table = Table(title="checks")
    for col in ("kind", "count", "last", "value", "verdict", "due", "CUSUM"):
        table.add_column(col)
    for kind, k in st["checks"].items():
        last = k["last"] or {}
        cu = k.get("cusum")
        cusum = ""
        if cu:
            cusum = (
                f"P {cu['p']:.2f} N {cu['n']:.2f} / h {cu['h_x']:.2f}"
                + (" [bold red]drift[/]" if cu["drift_alarm"] else "")
                + (" [bold red]precision[/]" if cu["precision_alarm"] else "")
            )
        verdict = last.get("verdict")
        table.add_row(
            kind,
            str(k["count"]),
            _iso(last.get("ended")),
            "" if not last else f"{last['value']:g}",
            _verdict(verdict),
            _iso(k["due"]) + (" [bold red]overdue[/]" if k["overdue"] else ""),
            cusum,
        )
    out.print(table)
    for s in st["out_of_control"]:
        out.print(
            f"[red]out of control[/] {_iso(s['start'])} → {_iso(s['end']) if s['end'] else 'now'} "
            f"({s['kind']}: failed {', '.join(s['failed'])}; last pass {s['last_pass'] or '—'}, next pass "
            f"{s['next_pass'] or '—'})",
            soft_wrap=True,
        )


@qa_app.command("blocked")
def qa_blocked(
    db: DbOption = None,
    mn: Annotated[list[str] | None, typer.Option("--mn", help="Only this point (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The spans in which analysers were out of control: their data are invalid for every check."""
    try:
        with _records(db) as records:
            blocked = records.blocked(mn)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    rows = [
        {
            "mn": m,
            "pollutant": c,
            "start": s.start,
            "end": s.end,
            "kind": s.kind,
            "failed": list(s.failed),
            "last_pass": s.last_pass,
            "next_pass": s.next_pass,
        }
        for m, codes in sorted(blocked.items())
        for c, spans in sorted(codes.items())
        for s in spans
    ]
    if as_json:
        _json_rows(rows)
        return
    table = Table(title=f"{len(rows)} out-of-control spans")
    for col in ("point", "pollutant", "from", "to", "failed", "bounded by"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["mn"],
            r["pollutant"],
            _iso(r["start"]),
            _iso(r["end"]) if r["end"] else "now",
            f"{r['kind']}: {', '.join(r['failed'])}",
            f"{r['last_pass'] or '—'} … {r['next_pass'] or '—'}",
        )
    out.print(table)


# ---------------------------------------------------------------------------------------------- lots
@lot_app.command("add")
def lot_add(
    who: WhoOption,
    producer: Annotated[str, typer.Option(help="Producer of the material.")],
    certificate: Annotated[str, typer.Option(help="Certificate number, e.g. GBW(E)080123.")],
    lot: Annotated[str, typer.Option(help="Lot (batch) number.")],
    material: Annotated[str, typer.Option(help="What it is, e.g. SO2/N2.")],
    value: Annotated[str, typer.Option(help="Certified value, as on the certificate.")],
    unit: Annotated[str, typer.Option(help="Unit of the value.")],
    uncertainty: Annotated[str, typer.Option(help="Expanded uncertainty U (same unit).")],
    expires: Annotated[str, typer.Option(help="Expiry date YYYY-MM-DD (usable to the end of that day).")],
    k: Annotated[float, typer.Option(help="Coverage factor of U.")] = 2.0,
    certificate_file: Annotated[
        Path | None, typer.Option(help="Scan of the certificate: its SHA-256 is recorded.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Register a lot of a certified reference material."""
    import hashlib

    try:
        digest = None
        if certificate_file is not None:
            digest = hashlib.sha256(certificate_file.read_bytes()).hexdigest()
        with _records(db) as records:
            recorded = records.register_lot(
                producer=producer,
                certificate_no=certificate,
                lot_no=lot,
                material=material,
                certified_value=value,
                unit=unit,
                uncertainty=uncertainty,
                expires_on=expires,
                coverage_k=k,
                certificate_sha256=digest,
                who=who,
            )
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    _done(recorded, "reference lot")


@lot_app.command("list")
def lot_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every registered lot, with its expiry and whether it is withdrawn."""
    try:
        with _records(db) as records:
            rows = records.lots()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        _json_rows(rows)
        return
    today = datetime.now(UTC).date().isoformat()
    table = Table(title=f"{len(rows)} reference lots")
    for col in ("id", "certificate", "lot", "material", "value", "U (k)", "expires", "state"):
        table.add_column(col, overflow="fold")
    for r in rows:
        state = (
            "[red]withdrawn[/]"
            if r["withdrawn"]
            else "[red]expired[/]"
            if r["expires_on"] < today
            else "[green]usable[/]"
        )
        table.add_row(
            str(r["id"]),
            escape(r["certificate_no"]),
            escape(r["lot_no"]),
            escape(r["material"]),
            f"{r['certified_value']} {escape(r['unit'])}",
            f"{r['uncertainty']} ({r['coverage_k']:g})",
            r["expires_on"],
            state,
        )
    out.print(table)


@lot_app.command("withdraw")
def lot_withdraw(
    lot_id: Annotated[int, typer.Argument(help="Lot number.")],
    who: WhoOption,
    reason: Annotated[str, typer.Option(help="Why.")],
    db: DbOption = None,
) -> None:
    """Withdraw a lot: no later use is accepted."""
    try:
        with _records(db) as records:
            recorded = records.withdraw_lot(lot_id, reason=reason, who=who)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    _done(recorded, "withdrawal")


# ---------------------------------------------------------------------------------------------- results
@qa_app.command("check")
def qa_check(
    analyser_id: Annotated[int, typer.Argument(help="Analyser number.")],
    who: WhoOption,
    kind: Annotated[str, typer.Option(help="zero, span or standard.")],
    start: Annotated[str, typer.Option(help="Start (ISO 8601, point's zone).")],
    reading: Annotated[str, typer.Option(help="What the analyser read.")],
    performed_by: Annotated[str, typer.Option(help="Who did the check.")],
    end: Annotated[str | None, typer.Option(help="End (default: the start).")] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference value (default: the lot's certified value; 0 for zero).")
    ] = None,
    lot: Annotated[
        int | None, typer.Option(help="Reference lot used (needed for span and standard).")
    ] = None,
    adjusted: Annotated[
        bool, typer.Option("--adjusted", help="The analyser was adjusted afterwards.")
    ] = False,
    reading_after: Annotated[str | None, typer.Option(help="Reading after the adjustment.")] = None,
    automatic: Annotated[bool, typer.Option("--automatic", help="Made by the analyser itself.")] = False,
    note: Annotated[str, typer.Option(help="A note.")] = "",
    db: DbOption = None,
) -> None:
    """Record a zero, span or standard-sample check; it is judged at once, and a failure makes the analyser's data
    invalid back to its last passed check of the same kind (the point's checks are re-run)."""
    try:
        with _records(db, recheck=True) as records:
            zone = _zone_of(records, records.analyser(analyser_id)["mn"])
            t0 = _time(start, zone, "--start")
            recorded = records.record_check(
                analyser_id=analyser_id,
                kind=kind,
                started=t0,
                ended=_time(end, zone, "--end") if end else t0,
                reading=reading,
                reference_value=reference,
                lot_id=lot,
                adjusted=adjusted,
                reading_after=reading_after,
                automatic=automatic,
                performed_by=performed_by,
                note=note,
                who=who,
            )
    except EnvtrustError as exc:
        raise _fail(exc) from None
    r = recorded.row
    _done(recorded, f"{kind} check ({r['value']:g} {r['unit']})")


def _pairs(items: list[str], file: Path | None, zone: str) -> list[tuple[int, int, str]]:
    """Pairs from ``START/END=RM`` options and a CSV file (columns start, end, rm; a header line)."""
    out: list[tuple[int, int, str]] = []
    for item in items:
        span, sep, rm = item.partition("=")
        a, sep2, b = span.partition("/")
        if not sep or not sep2:
            raise RecordError("bad_pair", f"--pair {item!r}: expected START/END=RM")
        out.append((_time(a, zone, "pair start"), _time(b, zone, "pair end"), rm.strip()))
    if file is not None:
        text = file.read_text(encoding="utf-8-sig")
        rows = csv.reader(io.StringIO(text))
        header = [h.strip().lower() for h in next(rows, [])]
        if header[:3] != ["start", "end", "rm"]:
            raise RecordError("bad_file", f"{file}: line 1: expected the header start,end,rm")
        for line, row in enumerate(rows, 2):
            if not any(c.strip() for c in row):
                continue
            if len(row) < 3:
                raise RecordError("bad_file", f"{file}: line {line}: expected start,end,rm")
            try:
                out.append(
                    (_time(row[0].strip(), zone, "start"), _time(row[1].strip(), zone, "end"), row[2].strip())
                )
            except RecordError as exc:
                raise RecordError("bad_file", f"{file}: line {line}: {exc}") from None
    return out


@qa_app.command("compare")
def qa_compare(
    analyser_id: Annotated[int, typer.Argument(help="Analyser number.")],
    who: WhoOption,
    rm_source: Annotated[str, typer.Option(help="The reference-method report (number or file digest).")],
    pair: Annotated[
        list[str] | None,
        typer.Option("--pair", help="One run: START/END=RM (ISO times, point's zone); repeat."),
    ] = None,
    pairs_file: Annotated[Path | None, typer.Option("--pairs", help="CSV of runs: start,end,rm.")] = None,
    db: DbOption = None,
) -> None:
    """Record a comparison with the reference method: the analyser's side of each run is the mean of its stored
    valid readings (never typed in); judged at once, and a failure makes its data invalid back to the last passed
    comparison."""
    try:
        with _records(db, recheck=True) as records:
            zone = _zone_of(records, records.analyser(analyser_id)["mn"])
            recorded = records.record_comparison(
                analyser_id=analyser_id,
                pairs=_pairs(pair or [], pairs_file, zone),
                rm_source=rm_source,
                who=who,
            )
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    r = recorded.row
    err.print(f"{r['band']}: {r['metric']} {r['value']:g} (limit {r['limit_value']:g})", soft_wrap=True)
    _done(recorded, "comparison")


@qa_app.command("maintenance")
def qa_maintenance(
    analyser_id: Annotated[int, typer.Argument(help="Analyser number.")],
    who: WhoOption,
    kind: Annotated[
        str, typer.Option(help="maintenance, repair, fault, parameter_change, replacement, verification.")
    ],
    start: Annotated[str, typer.Option(help="Start (ISO 8601, point's zone).")],
    end: Annotated[str, typer.Option(help="End (ISO 8601).")],
    description: Annotated[str, typer.Option(help="What was done.")],
    performed_by: Annotated[str, typer.Option(help="Who did it.")],
    detail: Annotated[
        str | None, typer.Option(help="JSON object: parameters before/after, certificate …")
    ] = None,
    db: DbOption = None,
) -> None:
    """Record maintenance, a repair, a fault, a parameter change or a metrological verification."""
    try:
        extra = json.loads(detail) if detail else {}
        if not isinstance(extra, dict):
            raise RecordError("bad_value", "--detail: a JSON object")
        with _records(db) as records:
            zone = _zone_of(records, records.analyser(analyser_id)["mn"])
            recorded = records.record_maintenance(
                analyser_id=analyser_id,
                kind=kind,
                started=_time(start, zone, "--start"),
                ended=_time(end, zone, "--end"),
                description=description,
                performed_by=performed_by,
                detail=extra,
                who=who,
            )
    except json.JSONDecodeError as exc:
        raise _fail(RecordError("bad_value", f"--detail: not JSON ({exc})")) from None
    except EnvtrustError as exc:
        raise _fail(exc) from None
    _done(recorded, f"{kind}")


@qa_app.command("criteria")
def qa_criteria(
    db: DbOption = None,
    set_file: Annotated[
        Path | None,
        typer.Option("--set", help='TOML with overrides of the defaults ([profiles."hj75/so2"] …).'),
    ] = None,
    who: Annotated[str, typer.Option(help="Who changes them.")] = "envtrust qa criteria",
    why: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "",
) -> None:
    """Print the acceptance criteria in force (JSON), or bring new ones into force with ``--set`` (ledgered)."""
    try:
        with _records(db) as records:
            if set_file is None:
                c = records.criteria()
                sys.stdout.write(
                    json.dumps({"digest": c.digest, "config": c.config}, ensure_ascii=False, indent=1)
                )
                sys.stdout.write("\n")
                return
            if not why.strip():
                raise RecordError("missing", "--why is required with --set")
            try:
                overrides = tomllib.loads(set_file.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise RecordError("bad_file", f"{set_file}: {exc}") from None
            recorded = records.set_criteria(overrides, who=who, why=why)
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    if recorded is None:
        err.print("criteria unchanged")
    else:
        err.print(f"criteria {recorded.row['digest'][:12]} in force, ledger entry {recorded.entry}")
