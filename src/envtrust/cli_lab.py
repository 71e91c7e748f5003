"""``envtrust lab …`` and ``envtrust keys person …``: the laboratory chain, each step signed by the person who
does it, and the people's signing keys (issue 6, decision 0012 §5 and §8)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _db, _fail, err, out
from .errors import EnvtrustError, RecordError

lab_app = typer.Typer(
    help="The laboratory chain: samples, custody, analyses, reviews, reports — each step signed by its person.",
    no_args_is_help=True,
)
person_app = typer.Typer(
    help="People's signing keys: create, prove, register, seal, revoke, list.", no_args_is_help=True
)

AsOption = Annotated[str, typer.Option("--as", help="The person who does and signs this step (user name).")]
KeyOption = Annotated[
    str | None, typer.Option("--key", help="Sign with this private key of yours (name or .skey file).")
]
PassOption = Annotated[
    bool,
    typer.Option(
        "--passphrase-stdin", help="Sign with your server-sealed key: read its passphrase from stdin."
    ),
]
KeysDir = Annotated[
    Path | None, typer.Option("--keys", help="Key directory (env ENVTRUST_KEYS, default ./keys).")
]


@contextmanager
def _lab(db: str | None) -> Iterator[Any]:
    from . import settings
    from .report_pdf import render_report
    from .store import open_store
    from .workflow.lab import Lab

    store = open_store(_db(db))
    public = os.environ.get("ENVTRUST_PUBLIC_URL", "http://127.0.0.1:8212")
    try:
        yield Lab(store, origin=settings.load().origin, render=render_report, public_url=public)
    finally:
        store.close()


def _signed(key: str | None, passphrase_stdin: bool, keys: Path | None = None) -> Any:
    from .keys import load_signer
    from .workflow.lab import Signed

    if (key is None) == (not passphrase_stdin):
        raise RecordError("missing", "sign with exactly one of --key NAME or --passphrase-stdin")
    if key is not None:
        return Signed(key=load_signer(key, keys))
    phrase = sys.stdin.readline().rstrip("\n")
    return Signed(passphrase=phrase)


def _time(text: str, what: str) -> int:
    from .services import parse_iso_time

    t = parse_iso_time(text, "Asia/Shanghai")
    if t is None:
        raise RecordError("bad_time", f"{what} {text!r}: not an ISO 8601 time")
    return t


def _recorded(what: str, row: dict[str, Any]) -> None:
    err.print(
        f"{what} #{row['id']} recorded and signed (signature #{row.get('sig_id', '—')})", soft_wrap=True
    )


# ---------------------------------------------------------------------------------------------- people
@lab_app.command("grant")
def lab_grant(
    user: Annotated[str, typer.Argument(help="Account.")],
    function: Annotated[str, typer.Argument(help="sampler, receiver, analyst, reviewer or signatory.")],
    who: Annotated[str, typer.Option("--who", help="Who grants it.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the function away instead.")] = False,
    db: DbOption = None,
) -> None:
    """Grant (or take away) a lab function; ledgered."""
    try:
        with _lab(db) as lab:
            entry = lab.grant(user, function, who=who, granted=not revoke)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"{user}: {function} {'revoked' if revoke else 'granted'} (ledger entry {entry})")


@person_app.command("create")
def person_create(user: Annotated[str, typer.Argument(help="Your user name.")], keys: KeysDir = None) -> None:
    """Create your own signing key on your machine (the private key never leaves it)."""
    from . import settings
    from .keys import create_key
    from .workflow.signing import key_name

    try:
        signer = create_key(key_name(settings.load().origin, user), keys)
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    out.print(signer.verifier().vkey())
    err.print(
        f"key {signer.name} created; give the line above and `envtrust keys person pop` to the administrator"
    )


@person_app.command("pop")
def person_pop(
    user: Annotated[str, typer.Argument(help="Your user name.")],
    key: Annotated[str, typer.Option("--key", help="Your private key (name or .skey file).")],
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Print a proof that you hold the key (a signed statement naming your account and the key)."""
    from .keys import load_signer

    try:
        signer = load_signer(key, keys)
        with _lab(db) as lab:
            account = lab.store.account(user)
            if account is None:
                raise RecordError("no_account", f"no account {user}")
            sys.stdout.write(lab.proof_of_possession(user, signer, int(account["id"])))
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None


@person_app.command("sign")
def person_sign(
    statement: Annotated[str, typer.Argument(help="File with the prepared statement, or - for stdin.")],
    key: Annotated[str, typer.Option("--key", help="Your private key (name or .skey file).")],
    keys: KeysDir = None,
) -> None:
    """Sign a statement the server prepared (``"prepare": true``) with your own key; prints the signed note to send
    back as ``note``."""
    from .keys import load_signer
    from .workflow.signing import sign_statement

    try:
        text = sys.stdin.read() if statement == "-" else Path(statement).read_text(encoding="utf-8")
        if not text.endswith("\n"):
            text += "\n"
        sys.stdout.write(sign_statement(text, load_signer(key, keys)))
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None


@person_app.command("register")
def person_register(
    user: Annotated[str, typer.Argument(help="Whose key.")],
    vkey: Annotated[Path, typer.Option("--vkey", help="File with the verifier key line.")],
    pop: Annotated[Path, typer.Option("--pop", help="File with the proof of possession.")],
    who: Annotated[str, typer.Option("--who", help="Who registers it.")],
    db: DbOption = None,
) -> None:
    """Register a key a person holds; it may sign after the activation wait (24 h)."""
    try:
        with _lab(db) as lab:
            row = lab.register_key(
                user, vkey.read_text(encoding="utf-8").strip(), pop.read_text(encoding="utf-8"), who=who
            )
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    err.print(f"key #{row['id']} ({row['key_hash']}) of {user} registered")


@person_app.command("seal")
def person_seal(
    user: Annotated[str, typer.Argument(help="Your user name.")],
    db: DbOption = None,
) -> None:
    """Create a signing key kept by the server, sealed under a passphrase you type (read from stdin; ≥ 12
    characters, never stored)."""
    try:
        phrase = sys.stdin.readline().rstrip("\n")
        with _lab(db) as lab:
            row = lab.create_sealed_key(user, phrase, who=user)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"sealed key #{row['id']} ({row['key_hash']}) of {user} created")


@person_app.command("revoke")
def person_revoke(
    key_id: Annotated[int, typer.Argument(help="Key number.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    who: Annotated[str, typer.Option("--who", help="Who revokes it.")],
    db: DbOption = None,
) -> None:
    """Revoke a key: it signs nothing more; what it signed stays valid."""
    try:
        with _lab(db) as lab:
            entry = lab.revoke_key(key_id, reason=reason, who=who)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"key #{key_id} revoked (ledger entry {entry})")


@person_app.command("list")
def person_list(user: Annotated[str, typer.Argument(help="Account.")], db: DbOption = None) -> None:
    """A person's keys: key ID, custody, active from, revoked."""
    try:
        with _lab(db) as lab:
            rows = lab.keys(user)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    table = Table(title=f"keys of {user}")
    for col in ("id", "key", "custody", "registered by", "active from (µs)", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]), r["key_hash"], r["custody"], escape(r["registered_by"]), str(r["active_from_us"]),
            escape(r["revoked"]["reason"]) if r["revoked"] else "",
        )  # fmt: skip
    out.print(table)


# ---------------------------------------------------------------------------------------------- the chain
@lab_app.command("sample")
def lab_sample(
    sample_no: Annotated[str, typer.Argument(help="Sample number.")],
    matrix: Annotated[str, typer.Option(help="What is sampled, e.g. 废水.")],
    purpose: Annotated[str, typer.Option(help="comparison, supervisory or self.")],
    who: Annotated[str, typer.Option("--who", help="Who plans it.")],
    mn: Annotated[str | None, typer.Option("--mn", help="The point sampled.")] = None,
    db: DbOption = None,
) -> None:
    """Plan a sample."""
    try:
        with _lab(db) as lab:
            sid = lab.plan_sample(sample_no, matrix=matrix, purpose=purpose, who=who, mn=mn)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    err.print(f"sample {sample_no} (#{sid}) planned")


@lab_app.command("custody")
def lab_custody(
    sample_no: Annotated[str, typer.Argument(help="Sample number.")],
    step: Annotated[str, typer.Argument(help="sampled, transported, received or rejected.")],
    at: Annotated[str, typer.Option("--at", help="When (ISO 8601, China time without offset).")],
    place: Annotated[str, typer.Option(help="Where.")],
    condition: Annotated[str, typer.Option(help="Condition: seal intact, temperature …")],
    person: AsOption,
    seal_no: Annotated[str, typer.Option("--seal", help="Seal number.")] = "",
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """A custody step, signed by the sampler (sampled, transported) or the receiver (received, rejected)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _lab(db) as lab:
            row = lab.custody(sample_no, step, at=_time(at, "--at"), place=place, condition=condition,
                              seal_no=seal_no, username=person, signed=signed)  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded(f"custody {step}", row)


@lab_app.command("analyse")
def lab_analyse(
    sample_no: Annotated[str, typer.Argument(help="Sample number.")],
    parameter: Annotated[str, typer.Option(help="HJ 212 code of the parameter.")],
    method: Annotated[str, typer.Option(help="Method standard, e.g. HJ 828-2017.")],
    instrument: Annotated[str, typer.Option(help="Instrument used.")],
    result: Annotated[str, typer.Option(help="The raw result as read (significant figures kept).")],
    unit: Annotated[str, typer.Option(help="Unit.")],
    at: Annotated[str, typer.Option("--at", help="When analysed (ISO 8601).")],
    person: AsOption,
    lot: Annotated[list[int] | None, typer.Option("--lot", help="Reference lot used (repeatable).")] = None,
    retest_of: Annotated[int | None, typer.Option(help="The analysis this repeats.")] = None,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """An analysis of a received sample, signed by the analyst."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _lab(db) as lab:
            row = lab.analyse(sample_no, parameter=parameter, method=method, instrument=instrument,
                              raw_result=result, unit=unit, analysed_at=_time(at, "--at"), lot_ids=lot or [],
                              retest_of=retest_of, username=person, signed=signed)  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded("analysis", row)


@lab_app.command("review")
def lab_review(
    analysis_id: Annotated[int, typer.Argument(help="Analysis number.")],
    person: AsOption,
    approve: Annotated[bool, typer.Option("--approve/--reject", help="The decision.")] = True,
    comment: Annotated[str, typer.Option(help="Comment.")] = "",
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Review an analysis (nobody reviews work they took part in)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _lab(db) as lab:
            row = lab.review(analysis_id, decision="approve" if approve else "reject", comment=comment,
                             username=person, signed=signed)  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded("review", row)


@lab_app.command("retract")
def lab_retract(
    analysis_id: Annotated[int, typer.Argument(help="Analysis number.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    person: AsOption,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Retract an analysis (its analyst or a signatory); the analysis is kept, marked retracted."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _lab(db) as lab:
            row = lab.retract(analysis_id, reason=reason, username=person, signed=signed)
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded("retraction", row)


@lab_app.command("issue")
def lab_issue(
    report_no: Annotated[str, typer.Argument(help="Report number.")],
    title: Annotated[str, typer.Option(help="Title.")],
    analysis: Annotated[
        list[int], typer.Option("--analysis", help="An analysis in the report (repeatable).")
    ],
    person: AsOption,
    supersedes: Annotated[str | None, typer.Option(help="The report this one replaces.")] = None,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Issue a report, signed by an authorised signatory who neither analysed nor reviewed it."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _lab(db) as lab:
            row = lab.issue(report_no, title=title, analysis_ids=analysis, username=person, signed=signed,
                            supersedes=supersedes)  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded(f"report {report_no}", row)


@lab_app.command("pdf")
def lab_pdf(
    report_no: Annotated[str, typer.Argument(help="Report number.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    db: DbOption = None,
) -> None:
    """Write an issued report's PDF, rendered again from the ledgered records; its SHA-256 must equal the one
    the signatory signed."""
    import hashlib

    try:
        with _lab(db) as lab:
            pdf = lab.report_pdf(report_no)
            [row] = lab.store.quality_rows("reports", report_no=report_no)
        out_file.write_bytes(pdf)
    except (EnvtrustError, OSError) as exc:
        raise _fail(exc) from None
    digest = hashlib.sha256(pdf).hexdigest()
    same = digest == row["pdf_sha256"]
    err.print(
        f"{out_file}: {len(pdf)} bytes, SHA-256 {digest[:16]}… "
        + ("[green]as signed[/]" if same else "[bold red]differs from the signed PDF[/]"),
        soft_wrap=True,
    )
    if not same:
        raise typer.Exit(1)


@lab_app.command("show")
def lab_show(
    sample_no: Annotated[str, typer.Argument(help="Sample number.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A sample's chain: custody, analyses (retracted or not), reviews — each with who signed and whether the
    signature verifies."""
    try:
        with _lab(db) as lab:
            chain = lab.chain(sample_no)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(chain, ensure_ascii=False, default=str) + "\n")
        return
    table = Table(title=f"sample {escape(sample_no)}")
    for col in ("step", "what", "who", "signature"):
        table.add_column(col, overflow="fold")
    for step in chain["steps"]:
        ok = step["signature_ok"]
        table.add_row(
            step["act"],
            escape(step["summary"]),
            escape(step["by"]),
            "[green]valid[/]" if ok else "[red]INVALID[/]",
        )
    out.print(table)


# ---------------------------------------------------------------------------------------------- marks and trace
marks_app = typer.Typer(
    help="Enterprise data marks (MEE 2022 No. 21): list, make, decide, withdraw — each act signed.",
    no_args_is_help=True,
)


@contextmanager
def _marks(db: str | None) -> Iterator[Any]:
    from . import settings
    from .quality import point_rechecker
    from .store import open_store
    from .workflow.marks import Marks

    store = open_store(_db(db))
    try:
        yield Marks(store, origin=settings.load().origin, recheck=point_rechecker(store))
    finally:
        store.close()


@marks_app.command("list")
def marks_list(
    db: DbOption = None,
    mn: Annotated[list[str] | None, typer.Option("--mn", help="Only this point (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON mark per line.")] = False,
) -> None:
    """The data marks with their state (effective, upheld, rejected, withdrawn) and who made them when."""
    from .workflow.marks import mark_rows

    try:
        with _marks(db) as marks:
            rows = mark_rows(marks.store, mn)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        return
    table = Table(title=f"{len(rows)} data marks")
    for col in ("id", "point", "code", "from", "to", "made by", "lag", "state", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]), r["mn"], r["code"], _iso(r["start"]), _iso(r["end"]), escape(r["made_by"]),
            f"{r['lag_s'] / 3600:.1f} h", r["state"], escape(r["reason"]),
        )  # fmt: skip
    out.print(table)


def _iso(t: int) -> str:
    from datetime import timedelta, timezone

    return datetime.fromtimestamp(t, timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


@marks_app.command("make")
def marks_make(
    mn: Annotated[str, typer.Argument(help="The point (MN).")],
    code: Annotated[
        str, typer.Option(help="stopped, startup_shutdown, maintenance, calibration, fault, comm_failure.")
    ],
    start: Annotated[str, typer.Option(help="From (ISO 8601, China time without offset).")],
    end: Annotated[str, typer.Option(help="To (exclusive).")],
    reason: Annotated[str, typer.Option(help="Why.")],
    person: AsOption,
    pollutant: Annotated[
        list[str] | None, typer.Option("--pollutant", help="Only these codes (repeatable).")
    ] = None,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """Mark a span of a point's data (an enterprise or operator account of the point's enterprise)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _marks(db) as marks:
            row = marks.make(mn, code=code, start=_time(start, "--start"), end=_time(end, "--end"), reason=reason,
                             username=person, signed=signed, pollutants=pollutant)  # fmt: skip
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded(f"mark ({code})", row)


@marks_app.command("decide")
def marks_decide(
    mark_id: Annotated[int, typer.Argument(help="Mark number.")],
    decision: Annotated[str, typer.Option(help="uphold or reject.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    person: AsOption,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """A regulator's decision on a mark the data contest (uphold: its data stay excluded; reject: they count)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _marks(db) as marks:
            row = marks.decide(mark_id, decision=decision, reason=reason, username=person, signed=signed)
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded(f"decision ({decision})", row)


@marks_app.command("withdraw")
def marks_withdraw(
    mark_id: Annotated[int, typer.Argument(help="Mark number.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    person: AsOption,
    key: KeyOption = None,
    passphrase_stdin: PassOption = False,
    keys: KeysDir = None,
    db: DbOption = None,
) -> None:
    """The enterprise withdraws its mark (kept on record)."""
    try:
        signed = _signed(key, passphrase_stdin, keys)
        with _marks(db) as marks:
            row = marks.withdraw(mark_id, reason=reason, username=person, signed=signed)
    except (EnvtrustError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _recorded("withdrawal", row)


def trace(
    what: Annotated[str, typer.Argument(help="reading, hour, day or report.")],
    subject: Annotated[
        list[str],
        typer.Argument(
            help="reading|hour|day: MN POLLUTANT TIME (ISO 8601 in the point's zone: the reading's time, the "
            "hour's start, the day's date); report: REPORT_NO."
        ),
    ],
    kind: Annotated[
        str,
        typer.Option("--kind", help="For `reading`: rtd, minute (default), or the logger's hour or day row."),
    ] = "minute",
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the trace (envtrust-trace/v1).")] = False,
) -> None:
    """Who and what stand behind a reading, an hourly or a daily value (the frames, the analyser, its last passed
    checks and reference lots, comparisons and the laboratory report behind them with everyone who signed, marks
    and out-of-control spans, the verdict) or an issued report (analyses, reviews, samples, custody, lots, every
    signature) — each record with its ledger proof."""
    from rich.tree import Tree

    from . import settings
    from .services import parse_iso_time
    from .store import open_store
    from .workflow.trace import trace_day, trace_hour, trace_reading, trace_report

    usage = "trace reading|hour|day MN POLLUTANT TIME, or trace report REPORT_NO"
    try:
        if what in ("reading", "hour", "day") and len(subject) == 3:
            mn, pollutant, at = subject
        elif what == "report" and len(subject) == 1:
            mn, pollutant, at = "", "", ""
        else:
            raise RecordError("bad_kind", usage)
        store = open_store(_db(db))
        try:
            origin = settings.load().origin
            if what == "report":
                found = trace_report(store, subject[0], origin=origin)
            else:
                point = next((p for p in store.points() if p.mn == mn), None)
                zone = point.timezone if point is not None else "Asia/Shanghai"
                t = parse_iso_time(at, zone)
                if t is None:
                    raise RecordError("bad_time", f"{at!r}: not an ISO 8601 time")
                if what in ("hour", "day"):  # the clock hour or the local day the time falls in
                    local = datetime.fromtimestamp(t, ZoneInfo(zone)).replace(
                        minute=0, second=0, microsecond=0
                    )
                    t = int((local.replace(hour=0) if what == "day" else local).timestamp())
                if what == "hour":
                    found = trace_hour(store, mn, pollutant, t, origin=origin)
                elif what == "day":
                    found = trace_day(store, mn, pollutant, t, origin=origin)
                else:
                    found = trace_reading(store, mn, pollutant, t, kind=kind, origin=origin)
        finally:
            store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False, default=str) + "\n")
        return
    verdict = found["verdict"]
    if what == "report":
        head = f"report {escape(subject[0])} — " + (
            "[green]every signature verifies[/]" if verdict["signatures_ok"] else "[red]a signature fails[/]"
        )
        verdict = {"reasons": []}
    else:
        counted = (
            f" ({verdict['valid_minutes']} valid minutes)"
            if "valid_minutes" in verdict
            else f" ({verdict['valid_hours']} valid hours)"
            if "valid_hours" in verdict
            else ""
        )
        head = (
            f"{what} {mn} {pollutant} {_iso(found['subject']['start'])}: {found['subject']['value']} — "
            + ("[green]valid[/]" if verdict["valid"] else "[red]invalid[/]")
            + counted
        )
    tree = Tree(head)
    for reason in verdict["reasons"]:
        tree.add(f"[red]{escape(json.dumps(reason, ensure_ascii=False))}[/]")
    for node in found["nodes"]:
        entry = node["entry"]
        where = f" [dim]entry {entry['index']}[/]" if entry else ""
        branch = tree.add(f"{escape(node['summary']['zh'])} | {escape(node['summary']['en'])}{where}")
        for p in node["people"]:
            ok = p.get("signature_ok")
            mark = "[green]✓[/]" if ok else "[red]✗[/]" if ok is False else "[yellow]unsigned[/]"
            branch.add(f"{p['role']}: {escape(str(p['account']))} {p.get('key') or ''} {mark}")
    out.print(tree)
