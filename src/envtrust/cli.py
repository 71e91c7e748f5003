"""The ``envtrust`` command: thin commands over services.  ``envtrust COMMAND --help`` documents each one."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from . import __version__, hj212, logs, settings
from .errors import ConfigError, EnvtrustError
from .ingest.lines import events_with_lines

app = typer.Typer(
    name="envtrust",
    help="envtrust — trustworthy environmental monitoring data (HJ 212 gateway, storage, checks).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
registry_app = typer.Typer(
    help="The registry of enterprises, monitoring points (MN) and limits.", no_args_is_help=True
)
app.add_typer(registry_app, name="registry")
keys_app = typer.Typer(help="Ed25519 keys of the ledger, of witnesses and of people.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
KeysOption = Annotated[
    Path | None, typer.Option("--keys", help="Key directory (env ENVTRUST_KEYS, default ./keys).")
]

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://…); env ENVTRUST_DB."),
]


def _db(db: str | None) -> str:
    return db or settings.load().db


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(2)


def _open_ingest(db: str | None) -> Any:
    from .services import Ingest
    from .store import open_store

    return Ingest(open_store(_db(db)))


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"envtrust {__version__}")
        raise typer.Exit()


# ----------------------------------------------------------------------------------------------- decode
def _event_json(line: int, event: hj212.Event) -> dict[str, Any]:
    if isinstance(event, hj212.Frame):
        return {
            "line": line,
            "ok": True,
            "crc_ok": event.crc_ok,
            "crc_variant": event.crc_variant,
            "version": event.version.label if event.version is not None else None,
            "fields": event.fields,
            "cp": event.cp,
            "items": [{"code": i.code, "code_raw": i.code_raw, "values": i.values} for i in event.items],
            "warnings": list(event.warnings),
            "error": None,
            "raw": event.raw.decode("utf-8", "replace"),
        }
    if isinstance(event, hj212.FrameError):
        reply = hj212.error_reply(event)
        return {
            "line": line,
            "ok": False,
            "crc_ok": event.crc_ok,
            "version": None,
            "fields": event.fields,
            "error": {
                "code": event.code,
                "reason": event.reason,
                "qn_rtn": int(event.qn_rtn) if event.qn_rtn is not None else None,
                "reply": reply.decode("ascii").rstrip() if reply else None,
            },
            "raw": event.raw.decode("utf-8", "replace"),
        }
    return {
        "line": line,
        "ok": False,
        "crc_ok": None,
        "version": None,
        "fields": {},
        "error": {"code": "garbage", "reason": event.reason, "qn_rtn": None, "reply": None},
        "raw": event.raw.decode("utf-8", "replace"),
    }


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def _shown(text: str) -> str:
    """Received text for the terminal: control characters visible (never executed), markup inert."""
    return escape(text.translate(_CONTROL))


def _event_line(line: int, event: hj212.Event) -> str:
    if isinstance(event, hj212.Frame):
        version = event.version.label if event.version is not None else "?"
        head = " ".join(f"{k}={v}" for k, v in event.fields.items())
        cp = " ".join(f"{k}={v}" for k, v in event.cp.items())
        items = " ".join(
            f"{i.code}"
            + (f"({i.code_raw})" if i.code_raw != i.code else "")
            + "["
            + ",".join(f"{s}={v}" for s, v in i.values.items())
            + "]"
            for i in event.items
        )
        crc = "crc_ok=true" if event.crc_ok else f"crc_ok=false({event.crc_variant})"
        text = f"{line}: [green]OK[/] v{_shown(version)} {crc} {_shown(head)} | {_shown(cp)} {_shown(items)}"
        if event.warnings:
            text += f" [yellow]warnings: {_shown('; '.join(event.warnings))}[/]"
        return text
    if isinstance(event, hj212.FrameError):
        crc = "" if event.crc_ok is None else f" crc_ok={str(event.crc_ok).lower()}"
        head = " ".join(f"{k}={v}" for k, v in event.fields.items())
        return f"{line}: [red]ERROR {_shown(event.code)}[/]{crc} {_shown(event.reason)}" + (
            f" | {_shown(head)}" if head else ""
        )
    return f"{line}: [red]GARBAGE[/] {len(event.raw)} bytes: {_shown(repr(event.raw[:60]))}"


@app.command()
def decode(
    file: Annotated[str, typer.Argument(help="Frames log to inspect, or - for standard input.")] = "-",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per frame.")] = False,
    modbus_mn: Annotated[
        list[str] | None, typer.Option("--modbus-mn", help="Accept the Modbus CRC variant from this MN.")
    ] = None,
    max_segment: Annotated[int, typer.Option(help="Largest data segment accepted (standard: 1024).")] = 1024,
) -> None:
    """Inspect HJ 212 frames: one line per frame with fields, items, CRC verdict, version and any error."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise _fail(EnvtrustError(f"{file}: cannot read: {exc.strerror}")) from None
    decoder = hj212.Decoder(max_segment=max_segment, modbus_crc=frozenset(modbus_mn or ()))
    plain = Console(highlight=False, soft_wrap=True)
    counts = {"ok": 0, "error": 0}
    for line, _at, event in events_with_lines(data, decoder):
        counts["ok" if isinstance(event, hj212.Frame) else "error"] += 1
        if as_json:
            sys.stdout.write(json.dumps(_event_json(line, event), ensure_ascii=False) + "\n")
        else:
            plain.print(_event_line(line, event))
    if not as_json:
        err.print(f"{counts['ok']} frames ok, {counts['error']} with errors")


# ----------------------------------------------------------------------------------------------- registry
@registry_app.command("load")
def registry_load(
    file: Annotated[Path, typer.Argument(help="Registry TOML file (DESIGN.md §5).")],
    db: DbOption = None,
) -> None:
    """Load or update enterprises, points and limits from a registry file."""
    from .registry import load_registry

    try:
        points = load_registry(file)
        ingest = _open_ingest(db)
        try:
            counts = ingest.load_registry(points)
        finally:
            ingest.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    out.print(
        f"registry {escape(str(file))}: {len(points)} points — {counts['added']} added, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged",
        soft_wrap=True,
    )


@registry_app.command("list")
def registry_list(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per point.")] = False,
) -> None:
    """List the registered points."""
    try:
        with _open_ingest(db).store as store:
            points = store.points()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if as_json:
        for p in points:
            sys.stdout.write(
                json.dumps(
                    {
                        "mn": p.mn,
                        "enterprise": p.enterprise.name,
                        "name": p.name,
                        "region": p.region,
                        "medium": p.medium,
                        "reference_o2": p.reference_o2,
                        "limits": p.limits,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return
    table = Table("MN", "企业 enterprise", "点位 point", "region", "medium", "limits")
    for p in points:
        table.add_row(
            p.mn,
            p.enterprise.name,
            p.name,
            p.region,
            p.medium,
            " ".join(f"{k}={v:g}" for k, v in p.limits.items()),
        )
    out.print(table)


# ----------------------------------------------------------------------------------------------- import
@app.command("import")
def import_(
    files: Annotated[
        list[Path], typer.Argument(help="Frames logs (one HJ 212 frame per line) or CSV files.")
    ],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import frames logs and CSV (mn,pollutant,time,value,flag[,kind]) through the gateway's service path."""
    try:
        ingest = _open_ingest(db)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    try:
        reports, failed = _import_all(ingest, files, as_json)
    finally:
        ingest.store.close()
    _print_reports(reports, as_json)
    if failed:
        raise typer.Exit(2)


def _import_all(ingest: Any, files: list[Path], as_json: bool) -> tuple[list[Any], bool]:
    from .ingest.importer import import_file

    reports = []
    failed = False
    total = sum(f.stat().st_size for f in files if f.is_file())
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=as_json or total < 1_000_000,
    ) as progress:
        task = progress.add_task("importing", total=total)
        for f in files:
            progress.update(task, description=f"importing {f.name}")
            try:
                reports.append(import_file(ingest, f, progress=lambda n: progress.advance(task, n)))
            except EnvtrustError as exc:
                err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
                failed = True
    return reports, failed


def _print_reports(reports: list[Any], as_json: bool) -> None:
    for r in reports:
        if as_json:
            d = {
                k: getattr(r, k)
                for k in (
                    "path",
                    "format",
                    "records",
                    "stored",
                    "duplicates",
                    "already_stored",
                    "quarantined",
                    "readings_new",
                )
            }
            d["problems"] = [{"line": p.line, "code": p.code, "reason": p.reason} for p in r.problems]
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
            continue
        for p in r.problems[:200]:
            out.print(
                f"{escape(r.path)}:{p.line}: [red]{escape(p.code)}[/] {_shown(p.reason)}",
                highlight=False,
                soft_wrap=True,
            )
        if len(r.problems) > 200:
            out.print(f"… and {len(r.problems) - 200} more problems")
        out.print(
            f"{escape(r.path)} ({r.format}): {r.records} records — {r.stored} stored, {r.already_stored} already stored, "
            f"{r.duplicates} duplicates, {r.quarantined} quarantined; {r.readings_new} new readings",
            highlight=False,
            soft_wrap=True,
        )


# ----------------------------------------------------------------------------------------------- check
@app.command()
def check(
    files: Annotated[
        list[Path], typer.Argument(help="Frames logs (one HJ 212 frame per line) or CSV files.")
    ],
    registry: Annotated[
        Path, typer.Option(help="Registry file (TOML) of the points: limits, reference O2, zone.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON finding per line (DESIGN.md §5).")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="TOML file of check parameters: [check] param = value.")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this check (repeatable).")
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="Print only findings of this category (repeatable)."),
    ] = None,
) -> None:
    """Run the whole check catalogue over frames logs or CSV, without a server or database, and print findings."""
    from . import qc
    from .quality import load_qc_config, read_inputs, run_checks
    from .registry import load_registry

    try:
        points = load_registry(registry)
        configured = load_qc_config(config, only=only)
        bad = set(category or ()) - set(qc.CATEGORIES)
        if bad:
            raise qc.CatalogueError(f"unknown category {sorted(bad)[0]!r}; one of {', '.join(qc.CATEGORIES)}")
        total = sum(f.stat().st_size for f in files if f.is_file())
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=total < 1_000_000,
        ) as progress:
            task = progress.add_task("reading", total=total)
            inputs = read_inputs(files, points, progress=lambda n: progress.advance(task, n))
        with (
            err.status(f"checking {len(inputs.points)} points", spinner="dots")
            if total >= 1_000_000
            else nullcontext()
        ):
            findings = run_checks(inputs, configured)
    except (EnvtrustError, qc.CatalogueError) as exc:
        raise _fail(exc) from None
    for problem in inputs.problems[:50]:
        err.print(f"[yellow]{escape(problem)}[/]", highlight=False, soft_wrap=True)
    if len(inputs.problems) > 50:
        err.print(f"… and {len(inputs.problems) - 50} more input problems")
    offsets = {p.mn: p.info.utc_offset for p in inputs.points}
    shown = [f for f in findings if not category or f.category in category]
    if as_json:
        for f in shown:
            sys.stdout.write(json.dumps(f.to_json(offsets.get(f.mn, 8 * 3600)), ensure_ascii=False) + "\n")
        return
    table = Table(
        title=f"{len(shown)} findings over {len(inputs.points)} points ({inputs.frames} data frames)"
    )
    for col in ("MN", "pollutant", "check", "category", "start", "end", "message"):
        table.add_column(col, overflow="fold")
    for f in shown[:500]:
        j = f.to_json(offsets.get(f.mn, 8 * 3600))
        style = {"tampering": "bold red", "exceedance": "red", "anomaly": "yellow"}.get(f.category, "")
        table.add_row(
            f.mn,
            f.pollutant or "—",
            f.check,
            f"[{style}]{f.category}[/]" if style else f.category,
            j["start"][:16],
            j["end"][:16],
            escape(f.message),
        )
    out.print(table)
    if len(shown) > 500:
        out.print(f"… and {len(shown) - 500} more (use --json)")
    counts: dict[str, int] = {}
    for f in shown:
        counts[f.category] = counts.get(f.category, 0) + 1
    out.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no findings")


@app.command()
def checks(
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Print the catalogue as Markdown.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the check catalogue: name, category, version, parameters and their defaults."""
    from . import qc

    if as_markdown:
        sys.stdout.write(qc.catalogue.markdown())
        return
    if as_json:
        doc = {
            n: {
                "version": c.version,
                "category": c.category,
                "title_zh": c.title_zh,
                "title_en": c.title_en,
                "scope": c.scope,
                "source": c.source,
                "doc": c.doc,
                "params": c.defaults(),
            }
            for n, c in sorted(qc.CATALOGUE.items())
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"{len(qc.CATALOGUE)} checks")
    for col in ("check", "category", "中文", "parameters"):
        table.add_column(col, overflow="fold")
    for n, c in sorted(qc.CATALOGUE.items()):
        params = ", ".join(f"{k}={v}" for k, v in c.defaults().items() if k != "enabled")
        table.add_row(n, c.category, c.title_zh, params)
    out.print(table)


# ----------------------------------------------------------------------------------------------- status
@app.command()
def status(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What is stored: frames, quarantined frames, readings, points, log length and head, open alarms."""
    try:
        with _open_ingest(db).store as store:
            st = store.status()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    last = (
        datetime.fromtimestamp(st.last_received_us / 1e6, UTC).isoformat()
        if st.last_received_us is not None
        else None
    )
    d = {
        "frames": st.frames,
        "quarantined": st.quarantined,
        "duplicates": st.duplicates,
        "readings": st.readings,
        "readings_by_kind": st.by_kind,
        "points": st.points,
        "enterprises": st.enterprises,
        "ledger_size": st.ledger_size,
        "checkpoint_size": st.checkpoint_size,
        "checkpoint_root": st.checkpoint_root,
        "checkpoint_time": datetime.fromtimestamp(st.checkpoint_us / 1e6, UTC).isoformat()
        if st.checkpoint_us is not None
        else None,
        "cosignatures": st.cosignatures,
        "alarms_open": st.alarms_open,
        "alarms_unacknowledged": st.alarms_unacked,
        "last_received": last,
    }
    if as_json:
        sys.stdout.write(json.dumps(d) + "\n")
        return
    table = Table(show_header=False)
    for k, v in d.items():
        table.add_row(k, str(v))
    out.print(table)


# ----------------------------------------------------------------------------------------------- keys
@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Key name, e.g. the ledger's origin or a witness's name.")],
    keys: KeysOption = None,
) -> None:
    """Create an Ed25519 key pair (NAME.skey private, mode 0600; NAME.vkey public)."""
    from .keys import create_key

    try:
        signer = create_key(name, keys)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    out.print(signer.verifier().vkey(), highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list(keys: KeysOption = None) -> None:
    """List the keys in the key directory."""
    from .keys import list_keys

    table = Table("name", "key hash", "private", "public key (vkey)")
    for k in list_keys(keys):
        table.add_row(k.name, k.key_hash, "yes" if k.private else "no", k.vkey)
    out.print(table)


@keys_app.command("export")
def keys_export(name: Annotated[str, typer.Argument(help="Key name.")], keys: KeysOption = None) -> None:
    """Print a key's public verifier key (to give to witnesses and verifiers)."""
    from .keys import load_verifier

    try:
        out.print(load_verifier(name, keys).vkey(), highlight=False, soft_wrap=True)
    except EnvtrustError as exc:
        raise _fail(exc) from None


def log_signer(origin: str, keys: Path | None, *, create: bool) -> Any:
    """The ledger's signing key (named after the origin); created on first use when ``create``."""
    from .keys import ledger_signer

    return ledger_signer(
        origin,
        keys,
        create=create,
        on_create=lambda d, v: err.print(f"created the ledger key {origin} in {d}; public key: {v}"),
    )


# ----------------------------------------------------------------------------------------------- amendments
def _reading_key(ingest: Any, mn: str, when: str) -> int:
    from .services import parse_iso_time

    point = ingest.point(mn)
    if point is None:
        raise EnvtrustError(f"MN {mn} is not registered")
    t = parse_iso_time(when, point.timezone)
    if t is None:
        raise EnvtrustError(f"time {when!r} is not ISO 8601")
    return t


@app.command()
def amend(
    mn: Annotated[str, typer.Argument(help="MN of the point.")],
    kind: Annotated[str, typer.Argument(help="rtd, minute, hour or day.")],
    pollutant: Annotated[str, typer.Argument(help="HJ 212-2017 code, e.g. a21026.")],
    when: Annotated[str, typer.Argument(help="Time of the reading, ISO 8601 (no offset: the point's zone).")],
    set_: Annotated[
        list[str], typer.Option("--set", help="COLUMN=VALUE, e.g. avg=12.3 or flag=M (repeatable).")
    ],
    who: Annotated[str, typer.Option(help="Who makes the correction.")],
    why: Annotated[str, typer.Option(help="Why.")],
    db: DbOption = None,
) -> None:
    """Correct a reading without overwriting it: an amendment entry names the reading, who, why and when."""
    from .services import amend_reading

    changes: dict[str, object] = {}
    for item in set_:
        key, sep, value = item.partition("=")
        if not sep:
            raise _fail(EnvtrustError(f"--set {item!r}: expected COLUMN=VALUE"))
        changes[key.strip()] = value.strip()
    try:
        ingest = _open_ingest(db)
        try:
            t = _reading_key(ingest, mn, when)
            rid, idx = amend_reading(
                ingest.store,
                mn=mn,
                kind=kind,
                pollutant=pollutant,
                data_time=t,
                changes=changes,
                who=who,
                why=why,
            )
        finally:
            ingest.store.close()
    except (EnvtrustError, ValueError) as exc:
        raise _fail(exc) from None
    out.print(f"amendment {rid} recorded as ledger entry {idx}")


@app.command()
def history(
    mn: Annotated[str, typer.Argument(help="MN of the point.")],
    kind: Annotated[str, typer.Argument(help="rtd, minute, hour or day.")],
    pollutant: Annotated[str, typer.Argument(help="HJ 212-2017 code.")],
    when: Annotated[str, typer.Argument(help="Time of the reading, ISO 8601 (no offset: the point's zone).")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A reading as received, every amendment of it (who, why, when) and its current values."""
    from .services import reading_history

    try:
        ingest = _open_ingest(db)
        try:
            h = reading_history(ingest.store, mn, kind, pollutant, _reading_key(ingest, mn, when))
        finally:
            ingest.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if h is None:
        raise _fail(EnvtrustError(f"no {kind} reading of {pollutant} for {mn} at {when}"))
    if as_json:
        sys.stdout.write(json.dumps(h, ensure_ascii=False, default=str) + "\n")
        return
    original = h["original"]
    assert isinstance(original, dict) and isinstance(h["amendments"], list) and isinstance(h["current"], dict)

    def values(d: dict[str, Any]) -> str:
        return " ".join(f"{k}={v}" for k, v in d.items() if v is not None)

    out.print(f"received (frame {original['frame_id']}): {values({k: original[k] for k in h['current']})}")
    for a in h["amendments"]:
        at = datetime.fromtimestamp(a["at_us"] / 1e6, UTC).isoformat()
        out.print(
            f"amended {at} by {escape(a['who'])}: {values(a['changes'])} — {escape(a['why'])}", soft_wrap=True
        )
    out.print(f"current: {values(h['current'])}")


# ----------------------------------------------------------------------------------------------- verify
@app.command()
def verify(
    db: DbOption = None,
    keys: KeysOption = None,
    log_key: Annotated[
        str | None,
        typer.Option("--log-key", help="The ledger's public key: a .vkey file, a key name or a vkey."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the database against its ledger and signed checkpoints; exit 1 naming the first bad place."""
    from .keys import load_verifier
    from .store import open_store
    from .verify import verify as run_verify

    cfg = settings.load()
    try:
        verifier = load_verifier(log_key or cfg.origin, keys)
        store = open_store(_db(db), migrate=False)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    with store, Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("verifying", total=None)
        report = run_verify(
            store, verifier, progress=lambda what, n: progress.update(task, description=f"{what} {n}")
        )
    summary = {
        "ok": report.ok,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "frames": report.frames,
        "readings": report.readings,
        "points": report.points,
        "problems": [{"where": p.where, "what": p.what} for p in report.problems],
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    else:
        for p in report.problems:
            out.print(f"[red]✗[/] {escape(str(p))}", soft_wrap=True)
        verdict = (
            "[green]intact[/]"
            if report.ok
            else f"[red]NOT intact[/]: first problem: {escape(str(report.problems[0]))}"
        )
        out.print(
            f"{report.entries} ledger entries, {report.checkpoints} signed checkpoints, {report.frames} frames, "
            f"{report.readings} readings, {report.points} points checked — {verdict}",
            soft_wrap=True,
        )
    if not report.ok:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------- proof bundles
@app.command()
def proof(
    frame: Annotated[int | None, typer.Option("--frame", help="Prove this frames row (its id).")] = None,
    entry: Annotated[int | None, typer.Option("--entry", help="Prove this ledger entry (its index).")] = None,
    reading: Annotated[
        tuple[str, str, str, str] | None,
        typer.Option(
            "--reading",
            metavar="MN KIND POLLUTANT TIME",
            help="Prove this reading: MN, kind (rtd|minute|hour|day or 2011|2051|2061|2031), pollutant code and "
            "data time (ISO 8601, in the point's zone unless it has an offset).",
        ),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the bundle to this file (default: standard output).")
    ] = None,
    db: DbOption = None,
    keys: KeysOption = None,
    log_key: Annotated[
        str | None,
        typer.Option("--log-key", help="The ledger's public key: a .vkey file, a key name or a vkey."),
    ] = None,
    witness_key: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key",
            help="A witness's public key to put in the bundle (repeatable; default: the keys in the key "
            "directory of the witnesses that have cosigned).",
        ),
    ] = None,
) -> None:
    """Export a self-contained proof bundle of one frame, reading or ledger entry (entry, inclusion proof,
    signed and cosigned checkpoint, public keys) that `envtrust verify-bundle` checks offline."""
    from .bundle import dumps, load_vkey, make_bundle, witness_verifiers_for, write_bundle
    from .keys import load_verifier
    from .store import open_store

    if sum(x is not None for x in (frame, entry, reading)) != 1:
        raise _fail(
            EnvtrustError("give exactly one of --frame ID, --entry INDEX, --reading MN KIND POLLUTANT TIME")
        )
    cfg = settings.load()
    try:
        verifier = load_verifier(log_key or cfg.origin, keys)
        witnesses = [load_vkey(k, keys) for k in witness_key] if witness_key else None
        store = open_store(_db(db), migrate=False)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    try:
        with store:
            bundle = make_bundle(
                store,
                frame_id=frame,
                entry_index=entry,
                reading=reading,
                log_verifier=verifier,
                witness_verifiers=witnesses if witnesses is not None else witness_verifiers_for(store, keys),
            )
        if out_file is None:
            sys.stdout.write(dumps(bundle))
        else:
            write_bundle(bundle, out_file)
    except EnvtrustError as exc:
        raise _fail(exc) from None
    if out_file is not None:
        err.print(f"{escape(bundle['summary']['zh'])}\n{escape(bundle['summary']['en'])}", soft_wrap=True)
        err.print(
            f"proof bundle written to {escape(str(out_file))}; check it with: envtrust verify-bundle "
            f"{escape(str(out_file))} --log-key {escape(verifier.vkey())}",
            soft_wrap=True,
            highlight=False,
        )


@app.command("verify-bundle")
def verify_bundle_command(
    file: Annotated[str, typer.Argument(help="The proof bundle (JSON file), or - for standard input.")],
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="Pin the ledger's public key obtained out of band (a vkey or a .vkey file); default: the key "
            "in the bundle, which proves only that the bundle is consistent.",
        ),
    ] = None,
    witness_key: Annotated[
        list[str] | None,
        typer.Option("--witness-key", help="Pin a witness's public key (repeatable); default: the bundle's."),
    ] = None,
    min_cosignatures: Annotated[
        int,
        typer.Option("--min-cosignatures", min=0, help="Fail unless this many witness cosignatures verify."),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a proof bundle offline with nothing but the bundle (and public keys); exit 1 if it does not verify."""
    from .bundle import load_vkey, loads, read_bundle, verify_bundle
    from .errors import ConfigError
    from .ledger.note import Verifier

    try:
        bundle = loads(sys.stdin.buffer.read(), "standard input") if file == "-" else read_bundle(file)
        pinned = load_vkey(log_key) if log_key is not None else None
        if pinned is not None and not isinstance(pinned, Verifier):
            raise ConfigError("--log-key is a witness cosignature key (type 0x04), not a log key")
        witnesses = [load_vkey(k) for k in witness_key] if witness_key else None
    except EnvtrustError as exc:
        raise _fail(exc) from None
    report = verify_bundle(bundle, log_key=pinned, witness_keys=witnesses, min_cosignatures=min_cosignatures)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        for line in report.lines():
            color = "green" if line.startswith("✓") else "red" if line.startswith("✗") else None
            out.print(
                f"[{color}]{escape(line)}[/]" if color else escape(line), soft_wrap=True, highlight=False
            )
    if not report.ok:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------- serve
def _run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop is a declared dependency on POSIX
        return asyncio.run(coro)


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (env ENVTRUST_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(help="HJ 212 TCP port (default 6212, env ENVTRUST_PORT).")
    ] = None,
    registry: Annotated[Path | None, typer.Option(help="Load this registry file first.")] = None,
    idle_timeout: Annotated[float, typer.Option(help="Close a connection silent this many seconds.")] = 600.0,
    max_connections: Annotated[int, typer.Option(help="Connections served at once.")] = 20000,
    max_segment: Annotated[int, typer.Option(help="Largest data segment accepted (standard: 1024).")] = 1024,
    origin: Annotated[
        str | None, typer.Option(help="The ledger's name in its checkpoints (env ENVTRUST_ORIGIN).")
    ] = None,
    keys: KeysOption = None,
    checkpoint_interval: Annotated[
        float, typer.Option(help="Seconds between signed checkpoints while entries arrive.")
    ] = 5.0,
    http_host: Annotated[
        str | None, typer.Option("--http-host", help="Address of the HTTP API (default: the --host address).")
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            "--http-port", help="HTTP API port (default 8212, env ENVTRUST_HTTP_PORT; 0: any free port)."
        ),
    ] = None,
    no_http: Annotated[
        bool, typer.Option("--no-http", help="Run the HJ 212 gateway without the HTTP API.")
    ] = False,
    witness_key: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key",
            help="A witness whose cosignatures the API accepts and shows: a vkey, a .vkey file or a key name "
            "in the key directory (repeat for several witnesses).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Site configuration (TOML): [checks.<check>] parameters, [alarms], [notify] channels, [monitor]."
        ),
    ] = None,
    no_checks: Annotated[
        bool, typer.Option("--no-checks", help="Store and acknowledge only: no streaming checks, no alarms.")
    ] = False,
    public_url: Annotated[
        str | None, typer.Option(help="Public base address of this server, for links in notifications.")
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            help="all (default: gateway, storage, checks, pages and API in one process) or, in cluster mode, "
            "gateway | worker | web."
        ),
    ] = "all",
    bus: Annotated[
        str | None,
        typer.Option(
            help="Cluster mode: NATS servers with JetStream, e.g. nats://n1:4222,nats://n2:4222 (env ENVTRUST_BUS; "
            "[cluster] bus in --config)."
        ),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", help="text (default) or json: one JSON object per line.")
    ] = "text",
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the HJ 212 gateway and the HTTP API: receive, store durably, then acknowledge.  Stops cleanly on
    SIGINT/SIGTERM.

    Cluster mode (--bus, with a PostgreSQL --db): --role gateway acknowledges loggers once JetStream holds their
    frames, --role worker stores the stream into the database (and checks it, and signs checkpoints when it holds
    the sequencer lease), --role web serves pages and API; every role answers /healthz, /readyz and /metrics.

    The ledger is checkpointed (signed with the key named after the origin, created on first use) every few
    seconds while entries arrive, and once more on shutdown.  The HTTP API (/api/v1, port 8212) serves the
    signed checkpoints, proofs and entries, and takes witness cosignatures (envtrust witness).

    Every committed frame is checked on arrival by the check catalogue (per-point windows of recent days); findings
    become alarms (envtrust alarms), notified by webhook and e-mail as configured in --config.
    """
    from .bus.jetstream import cluster_config
    from .ingest.server import GatewayLimits
    from .node import ROLES, Node, NodeSpec, roles_of, until_signal
    from .registry import load_registry
    from .services import Checkpointer, Ingest
    from .store import open_store
    from .witness import load_witness_key

    watch: Any = None
    roles = roles_of(role)
    try:
        if role not in ROLES:
            raise ConfigError(f"--role: one of {', '.join(ROLES)}, not {role!r}")
        if log_format not in logs.FORMATS or log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError("--log-format: text or json; --log-level: debug, info, warning or error")
        logs.setup(log_format, log_level, role=role)
        site = settings.load_file(config) if config is not None else {}
        cfg = settings.load(site.get("server"))
        keys = keys if keys is not None else (Path(cfg.keys) if cfg.keys else None)
        public_url = public_url or cfg.public_url
        bus_cfg = cluster_config(site.get("cluster", {}), bus or cfg.bus)
        from .ingest.upstream import upstreams_config

        upstreams = upstreams_config(site.get("upstream"))
        if bus_cfg is None and role != "all":
            raise ConfigError(f"--role {role} is cluster mode: give the NATS servers with --bus nats://… ")
        url = db or cfg.db
        if bus_cfg is not None and not url.startswith("postgresql"):
            raise ConfigError("cluster mode stores into PostgreSQL: give --db postgresql://…")
        ingest = Ingest(open_store(url), max_segment=max_segment)
        signer = log_signer(origin or cfg.origin, keys, create=True)
        witnesses = [load_witness_key(w, keys) for w in witness_key or []]
        if registry is not None:
            ingest.load_registry(load_registry(registry))
    except EnvtrustError as exc:
        raise _fail(exc) from None
    checkpointer = Checkpointer(ingest.store, signer, origin or cfg.origin)

    def web_app(node: Node) -> Any:
        from .api import create_app
        from .ops import ops_routes

        api = create_app(
            ingest.store,
            log_verifier=signer.verifier(),
            witnesses=witnesses,
            on_commit=watch.monitor.committed if watch is not None else None,
        )
        api.router.routes[0:0] = ops_routes(node)
        return api

    spec = NodeSpec(
        ingest,
        role=role,
        bus=bus_cfg,
        host=host or cfg.host,
        port=port if port is not None else cfg.port,
        limits=GatewayLimits(idle_timeout=idle_timeout, max_connections=max_connections),
        checkpointer=checkpointer if "worker" in roles else None,
        checkpoint_interval=checkpoint_interval,
        http=None
        if no_http
        else (http_host or host or cfg.host, http_port if http_port is not None else cfg.http_port),
        app=web_app,
        upstreams=upstreams,
    )

    node = Node(spec)
    if not no_checks and (bus_cfg is None or "worker" in roles):
        from .alarms.setup import monitoring

        def points() -> Any:  # a worker checks the points of the partitions it holds
            every = ingest.points()
            if bus_cfg is None:
                return every
            w = node.worker
            return {mn: p for mn, p in every.items() if w is not None and w.owns(mn)}

        try:
            watch = monitoring(ingest.store, points, site, link_base=public_url)
        except EnvtrustError as exc:
            ingest.store.close()
            raise _fail(exc) from None
        spec.monitor = watch.monitor

    async def main() -> None:
        await node.start()
        gw, http = node.gateway, node.http
        parts = []
        if gw is not None:
            parts.append(
                f"gateway listening on {gw.address} (HJ 212)"
                + (f" → stream {bus_cfg.stream}" if bus_cfg else "")
            )
        if node.worker is not None:
            parts.append(f"worker {node.worker.holder} storing the stream")
        if http is not None:
            parts.append(
                f"pages on {http.url}/ and HTTP API on {http.url}/api/v1"
                if "web" in roles
                else f"metrics on {http.url}/metrics"
            )
        err.print(
            f"envtrust {role}: "
            + ", ".join(parts)
            + f"; database {url}, {len(ingest.store.points())} registered points, {len(witnesses)} witness keys, "
            + (f"{len(watch.configured.checks)} checks on arrival" if watch is not None else "no checks")
            + ". Ctrl-C stops.",
            soft_wrap=True,
        )
        await until_signal(node.stop)
        if gw is not None:
            err.print(f"stopped: {gw.stats.frames} records received, {gw.stats.acks} replies sent")
        if node.worker is not None:
            err.print(f"stopped: {node.worker.stats.frames} frames stored by this worker")

    try:
        _run(main())
    except OSError as exc:
        raise _fail(EnvtrustError(f"cannot listen: {exc.strerror or exc}")) from None
    except Exception as exc:  # NATS unreachable at the start, for one
        if bus_cfg is None:
            raise
        raise _fail(EnvtrustError(f"cluster mode: {exc.__class__.__name__}: {exc}")) from None
    finally:
        if watch is not None and watch.notifier is not None:
            watch.notifier.close(timeout=10)
        ingest.store.close()


# ----------------------------------------------------------------------------------------------- reconcile
@app.command()
def reconcile(
    files: Annotated[
        list[Path], typer.Argument(help="CSV or Excel files: mn,pollutant,period,start,value[,measure].")
    ],
    source: Annotated[
        str, typer.Option("--source", help="Where the figures come from, e.g. 自行监测报告 or 环境质量站.")
    ],
    db: DbOption = None,
    rel: Annotated[
        float, typer.Option("--rel", help="Relative tolerance (0.05: 5 % of the larger value).")
    ] = 0.05,
    abs_tol: Annotated[float, typer.Option("--abs", help="Absolute tolerance in the figures' unit.")] = 0.0,
    alarms: Annotated[
        bool, typer.Option("--alarms/--no-alarms", help="Put the findings into the alarm book (default).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One finding per line.")] = False,
) -> None:
    """Compare figures from elsewhere (self-monitoring reports, permit execution reports, another department's
    station data) with envtrust's hourly, daily and monthly values and totals; every discrepancy beyond the
    tolerance is a finding (check reconciliation) with both sources as evidence, and an alarm unless --no-alarms.
    Lines that cannot be read are reported with their file and line number."""
    from .reconcile import reconcile as run

    for path in files:
        if not path.is_file():
            raise _fail(EnvtrustError(f"{path}: no such file"))
    try:
        with _open_ingest(db).store as store:
            outcome = run(store, list(files), source=source, rel_tol=rel, abs_tol=abs_tol, alarms=alarms)
            offsets = {p.mn: _utc_offset_of(p) for p in store.points()}
    except EnvtrustError as exc:
        raise _fail(exc) from None
    for problem in outcome.problems:
        err.print(escape(str(problem)), soft_wrap=True)
    if as_json:
        for found in outcome.findings:
            typer.echo(json.dumps(found.to_json(offsets.get(found.mn, 8 * 3600)), ensure_ascii=False))
    else:
        table = Table("MN", "pollutant", "period", "source", "envtrust", "severity", "message")
        for found in outcome.findings:
            ev = found.evidence
            ours = ev["our_value"]
            table.add_row(
                found.mn, found.pollutant or "", f"{ev['period']} {ev['period_start']}", f"{ev['their_value']:g}",
                "—" if ours is None else f"{ours:g}", found.severity, escape(found.message),
            )  # fmt: skip
        if outcome.findings:
            out.print(table)
    err.print(
        f"{outcome.compared} figures compared: {outcome.agreed} agree, {len(outcome.findings)} differ"
        + (f" (alarms: {outcome.opened} opened, {outcome.updated} updated)" if alarms else "")
        + f"; {len(outcome.problems)} lines not read",
        soft_wrap=True,
    )


def _utc_offset_of(point: Any) -> int:
    from zoneinfo import ZoneInfo

    offset = datetime.now(ZoneInfo(point.timezone)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 8 * 3600


# ----------------------------------------------------------------------------------------------- witness
@app.command()
def witness(
    url: Annotated[str, typer.Option("--url", help="The envtrust server to witness, e.g. http://host:8212.")],
    log_key: Annotated[
        str,
        typer.Option(
            "--log-key", help="The log's public key: a .vkey file, a key name in the key directory or a vkey."
        ),
    ],
    key: Annotated[
        str,
        typer.Option(
            "--key", help="This witness's key name in the key directory (envtrust keys create NAME)."
        ),
    ],
    state: Annotated[
        Path, typer.Option("--state", help="State file: the last checkpoint this witness cosigned.")
    ] = Path("witness-state.json"),
    interval: Annotated[float, typer.Option("--interval", help="Seconds between rounds.")] = 60.0,
    once: Annotated[
        bool, typer.Option("--once", help="One round, then exit: 0 cosigned or current, 1 refused, 2 error.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="HTTP timeout, seconds.")] = 10.0,
    keys: KeysOption = None,
) -> None:
    """Witness a running envtrust: cosign its checkpoints only if they extend what this witness cosigned.

    Each round fetches the newest checkpoint and a consistency proof from the one cosigned last (in --state).
    Without a state file, the current checkpoint is trusted on first use.
    A forked, rolled-back or rewritten log is refused, naming sizes and roots; evidence goes beside --state.
    Stops on SIGINT/SIGTERM after the round in progress.
    """
    import signal
    import threading

    from .keys import load_signer, load_verifier
    from .witness import WitnessError, WitnessRefusal, WitnessResult, run_witness, witness_once

    try:
        log_verifier = load_verifier(log_key, keys)
        signer = load_signer(key, keys)
    except EnvtrustError as exc:
        raise _fail(exc) from None

    def report(outcome: WitnessResult | WitnessError) -> None:
        stamp = f"[dim]{time.strftime('%H:%M:%S')}[/]"
        if isinstance(outcome, WitnessRefusal):
            err.print(f"{stamp} [bold red]REFUSED[/] {escape(str(outcome))}", soft_wrap=True)
            if outcome.evidence_path is not None:
                err.print(f"  evidence kept in {escape(str(outcome.evidence_path))}", soft_wrap=True)
        elif isinstance(outcome, WitnessError):
            err.print(f"{stamp} [yellow]error:[/] {escape(str(outcome))}", soft_wrap=True)
        else:
            colour = "yellow" if outcome.tofu else "green"
            out.print(f"{stamp} [{colour}]{outcome.action}[/] {escape(outcome.message)}", soft_wrap=True)

    if once:
        try:
            result = witness_once(url, log_verifier, signer, state, timeout=timeout)
        except WitnessRefusal as exc:
            report(exc)
            raise typer.Exit(1) from None
        except WitnessError as exc:
            report(exc)
            raise typer.Exit(2) from None
        report(result)
        return

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    err.print(
        f"witnessing {escape(url)} as {escape(signer.name)} every {interval:g} s, "
        f"state {escape(str(state))}. Ctrl-C stops."
    )
    try:
        last = run_witness(
            url, log_verifier, signer, state, interval=interval, report=report, stop=stop, timeout=timeout
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if isinstance(last, WitnessRefusal):
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------- simulate
@app.command()
def simulate(
    registry: Annotated[
        Path | None, typer.Option(help="Registry file of the points to simulate (default: the demo fleet).")
    ] = None,
    host: Annotated[str, typer.Option(help="Gateway address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway HJ 212 port.")] = 6212,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    rtd_interval: Annotated[
        float, typer.Option(help="Real-time data (2011) interval, simulated seconds.")
    ] = 30.0,
    minute_interval: Annotated[int, typer.Option(help="Minute data (2051) interval, simulated minutes.")] = 1,
    duration: Annotated[float | None, typer.Option(help="Stop after this many real seconds.")] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="Simulated start time, ISO 8601 (default: now; offline: midnight --days days ago)."
        ),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write a frames log to this file offline (no gateway) instead of TCP."),
    ] = None,
    days: Annotated[
        float, typer.Option(help="Simulated days (offline); over TCP, the span random tamper windows lie in.")
    ] = 1.0,
    rtd: Annotated[
        bool | None,
        typer.Option(
            "--rtd/--no-rtd", help="Real-time data (2011) frames (default: on over TCP, off offline)."
        ),
    ] = None,
    tamper: Annotated[
        list[str] | None,
        typer.Option(
            "--tamper",
            help="Inject a scenario: SCENARIO\\[/CODE]:MN[:START[:HOURS]], START YYYY-MM-DD[THH:MM] local "
            "(repeatable; scenarios in docs/cli.md).",
        ),
    ] = None,
    tamper_random: Annotated[
        int, typer.Option("--tamper-random", help="Inject every scenario into K random points each.")
    ] = 0,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Write the true injected windows here (JSON lines).")
    ] = None,
    points_n: Annotated[
        int | None,
        typer.Option(
            "--points", help="Simulate N points (synthetic ones added when the registry has fewer)."
        ),
    ] = None,
    write_registry: Annotated[
        Path | None, typer.Option("--write-registry", help="Write the registry actually simulated (TOML).")
    ] = None,
    gaps: Annotated[
        bool, typer.Option("--gaps/--no-gaps", help="Offline: honest network gaps (frames lost).")
    ] = True,
    jobs: Annotated[int, typer.Option(help="Offline: worker processes (0: one per core).")] = 0,
) -> None:
    """Run a fleet of simulated data loggers (flue-gas CEMS, waste-water analysers) against a gateway over TCP,
    or with --out write their frames to a log offline; --tamper/--tamper-random inject tampering signatures
    and --labels writes where they are."""
    import math
    from datetime import date, timedelta
    from datetime import time as day_time

    from rich.progress import MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from .registry import format_registry, load_registry
    from .sim import demo_registry_path
    from .sim.fleet import run_fleet
    from .sim.offline import fleet_labels, generate_log, plan_fleet, tampered_models, write_labels
    from .sim.synthetic import fleet_points
    from .sim.tamper import TamperError, parse_spec

    try:
        points = load_registry(registry or demo_registry_path())
        if points_n is not None:
            points = fleet_points(points, points_n, seed)
        specs = [parse_spec(text) for text in tamper or []]
        start_at = datetime.fromisoformat(start) if start else None
        if days <= 0 or tamper_random < 0:
            raise ValueError("--days must be positive and --tamper-random not negative")
    except (EnvtrustError, ValueError) as exc:
        raise _fail(exc) from None
    if write_registry is not None:
        write_registry.write_text(
            format_registry(points, header=f"envtrust simulate registry: {len(points)} points, seed {seed}"),
            encoding="utf-8",
        )
    if out_file is not None:  # offline: a frames log, no gateway
        first = start_at or datetime.combine(date.today() - timedelta(days=math.ceil(days)), day_time())
        try:
            plan = plan_fleet(
                points, seed=seed, start=first, seconds=days * 86400, specs=specs, random_k=tamper_random
            )
        except TamperError as exc:
            raise _fail(exc) from None
        for note in plan.notes:
            err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
        progress = Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("point-minutes"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        task = progress.add_task("simulate", total=None)

        def started(total: int) -> None:
            progress.update(task, total=total)
            progress.start()  # after the workers are forked: no thread exists before

        try:
            result = generate_log(
                plan,
                out_file,
                rtd_interval=rtd_interval if rtd else None,
                minute_interval=minute_interval,
                gaps=gaps,
                jobs=jobs,
                on_start=started,
                on_progress=lambda n: progress.advance(task, n),
            )
        except (OSError, ValueError) as exc:
            raise _fail(exc) from None
        finally:
            progress.stop()
        if labels is not None:
            write_labels(labels, result.labels)
        counts = ", ".join(f"{n} × {cn}" for cn, n in result.frames.items())
        err.print(
            f"wrote {escape(str(out_file))}: {result.total} frames ({counts}) of {result.points} points over "
            f"{days:g} days from {first.isoformat()} (seed {seed}) in {result.seconds:.1f} s with "
            f"{result.workers} workers; {len(plan.injections)} injections"
            + (f", {len(result.labels)} labels → {escape(str(labels))}" if labels is not None else ""),
            soft_wrap=True,
        )
        return
    models = None
    if specs or tamper_random or labels is not None:
        start_at = start_at or datetime.now(UTC)
        try:
            plan = plan_fleet(
                points, seed=seed, start=start_at, seconds=days * 86400, specs=specs, random_k=tamper_random
            )
        except TamperError as exc:
            raise _fail(exc) from None
        for note in plan.notes:
            err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
        models = tampered_models(plan)
        if labels is not None:
            write_labels(labels, fleet_labels(plan, models))
        err.print(f"{len(plan.injections)} injections" + (f" → {escape(str(labels))}" if labels else ""))
    if rtd is False:
        rtd_interval = 0.0

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_fleet(
            points,
            host,
            port,
            seed=seed,
            speed=speed,
            rtd_interval=rtd_interval,
            minute_interval=minute_interval,
            duration=duration,
            start=start_at,
            stop=stop,
            on_event=lambda mn, text: err.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {mn}: {text}"),
            models=models,
        )

    err.print(
        f"simulating {len(points)} data loggers → {host}:{port} (seed {seed}, speed ×{speed:g}). Ctrl-C stops."
    )
    stats = _run(main())
    err.print(f"fleet stopped: {stats.summary()}")


# ----------------------------------------------------------------------------------------------- demo
@app.command()
def demo(
    db: Annotated[str, typer.Option("--db", help="Database of the demo.")] = "sqlite:///envtrust-demo.db",
    port: Annotated[int, typer.Option(help="HJ 212 port of the demo gateway (0: any free port).")] = 6212,
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated seconds per real second while the fleet replays the last minutes; then real time."
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated fleet.")] = 1,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    http_port: Annotated[int, typer.Option(help="Port of the pages and the API (0: any free port).")] = 8212,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the overview in a browser where there is a screen.")
    ] = True,
) -> None:
    """Everything at once: demo registry, gateway, simulated fleet and the web pages (the 24 h overview), with a
    live view of what arrives.  Prints the overview's address and the duty officer's login."""
    from .demo import run_demo

    try:
        _run(
            run_demo(
                db=db,
                port=port,
                speed=speed,
                seed=seed,
                duration=duration,
                console=out,
                http_port=http_port,
                open_browser=open_browser,
            )
        )
    except EnvtrustError as exc:
        raise _fail(exc) from None


from .cli_accounts import accounts_app  # noqa: E402  (they use the helpers above)
from .cli_alarms import alarms_app, recheck  # noqa: E402
from .cli_cluster import cache_app, cluster_app, upstream_app  # noqa: E402
from .cli_credit import blacklist_app, counties_app, credit_app, order_app  # noqa: E402
from .cli_lab import lab_app, marks_app, person_app, trace  # noqa: E402
from .cli_oversight import case_app, complaints_app, draw_app, inspection_app, interference_app  # noqa: E402
from .cli_qa import qa_app  # noqa: E402

app.add_typer(alarms_app, name="alarms")
app.add_typer(cluster_app, name="cluster")
app.add_typer(cache_app, name="cache")
app.add_typer(upstream_app, name="upstream")
app.add_typer(accounts_app, name="accounts")
app.add_typer(qa_app, name="qa")
app.add_typer(lab_app, name="lab")
app.add_typer(marks_app, name="marks")
app.add_typer(interference_app, name="interference")
app.add_typer(draw_app, name="draw")
app.add_typer(inspection_app, name="inspection")
app.add_typer(complaints_app, name="complaints")
app.add_typer(credit_app, name="credit")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(order_app, name="order")
app.add_typer(counties_app, name="counties")
app.add_typer(case_app, name="case")
app.command()(trace)
keys_app.add_typer(person_app, name="person")
app.command()(recheck)


def main() -> None:
    app()
