"""``envtrust accounts …``: people and machines that use the pages and the API, their roles, scopes and tokens."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .cli import DbOption, _db, _fail, out
from .errors import EnvtrustError

accounts_app = typer.Typer(
    help="Accounts: roles (admin, regulator, inspector, discipline, enterprise, operator, lab), scopes, API tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="API tokens for machines acting as an account.", no_args_is_help=True)
accounts_app.add_typer(token_app, name="token")

WhoOption = Annotated[str, typer.Option("--who", help="Who makes the change (kept in the ledger).")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


def _accounts(db: str | None) -> Any:
    from .store import open_store
    from .workflow.identity import Accounts

    return Accounts(open_store(_db(db)))


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


def _us(us: int | None) -> str | None:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds") if us is not None else None


@accounts_app.command("create")
def accounts_create(
    username: Annotated[str, typer.Argument(help="User name (3–64 letters, digits, _ . @ -).")],
    role: Annotated[
        str, typer.Option(help="admin, regulator, inspector, discipline, enterprise, operator or lab.")
    ],
    who: WhoOption,
    region: Annotated[
        str | None,
        typer.Option(
            help="Division code prefix covered (regulator, inspector, discipline): 21, 2101, 210102."
        ),
    ] = None,
    enterprise: Annotated[
        str | None, typer.Option(help="Enterprise name or credit code (enterprise and operator accounts).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name shown (default: the user name).")] = None,
    no_password: Annotated[
        bool,
        typer.Option("--no-password", help="An account for machines: API tokens only, no password login."),
    ] = False,
    password_stdin: StdinOption = False,
    db: DbOption = None,
) -> None:
    """Create an account; the password is asked for (twice) unless --password-stdin or --no-password."""
    password = None if no_password else _password(password_stdin)
    try:
        acc = _accounts(db)
        try:
            aid = acc.create(
                username,
                role,
                who=who,
                password=password,
                display_name=name,
                region=region,
                enterprise=enterprise,
            )
        finally:
            acc.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    out.print(f"account {username} ({role}) created as number {aid}")


@accounts_app.command("list")
def accounts_list(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every account: role, scope, whether active."""
    try:
        acc = _accounts(db)
        try:
            rows = acc.store.accounts()
        finally:
            acc.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    keys = ("username", "display_name", "role", "region", "enterprise_id", "active")
    shown = [{k: r[k] for k in keys} | {"created": _us(r["created_us"])} for r in rows]
    if as_json:
        for r in shown:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(shown)} accounts")
    for col in ("user", "name", "role", "region", "enterprise", "active", "created"):
        table.add_column(col)
    for r in shown:
        table.add_row(
            r["username"],
            escape(r["display_name"]),
            r["role"],
            r["region"] or "",
            str(r["enterprise_id"] or ""),
            "yes" if r["active"] else "[red]no[/]",
            r["created"] or "",
        )
    out.print(table)


@accounts_app.command("passwd")
def accounts_passwd(
    username: Annotated[str, typer.Argument(help="User name.")],
    who: WhoOption,
    password_stdin: StdinOption = False,
    db: DbOption = None,
) -> None:
    """Set a new password."""
    password = _password(password_stdin)
    _change(db, lambda acc: acc.set_password(username, password, who=who), f"password of {username} changed")


def _change(db: str | None, fn: Any, done: str) -> None:
    try:
        acc = _accounts(db)
        try:
            fn(acc)
        finally:
            acc.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    out.print(done)


@accounts_app.command("disable")
def accounts_disable(
    username: Annotated[str, typer.Argument(help="User name.")],
    who: WhoOption,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "",
    db: DbOption = None,
) -> None:
    """Disable an account: it can no longer log in, and its tokens stop working."""
    _change(db, lambda acc: acc.set_active(username, False, who=who, reason=reason), f"{username} disabled")


@accounts_app.command("enable")
def accounts_enable(
    username: Annotated[str, typer.Argument(help="User name.")],
    who: WhoOption,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "",
    db: DbOption = None,
) -> None:
    """Enable a disabled account again."""
    _change(db, lambda acc: acc.set_active(username, True, who=who, reason=reason), f"{username} enabled")


@accounts_app.command("role")
def accounts_role(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="The new role.")],
    who: WhoOption,
    region: Annotated[str | None, typer.Option(help="Division code prefix (region roles).")] = None,
    enterprise: Annotated[str | None, typer.Option(help="Enterprise name or credit code.")] = None,
    db: DbOption = None,
) -> None:
    """Change an account's role and scope."""
    _change(
        db,
        lambda acc: acc.set_role(username, role, who=who, region=region, enterprise=enterprise),
        f"{username} is now {role}",
    )


@token_app.command("create")
def token_create(
    username: Annotated[str, typer.Argument(help="The account the token acts as.")],
    name: Annotated[str, typer.Option(help="What uses the token (e.g. 'province platform').")],
    who: WhoOption,
    days: Annotated[float, typer.Option(help="Valid for this many days.")] = 365.0,
    db: DbOption = None,
) -> None:
    """Create an API token; it is printed once (only its SHA-256 is kept)."""
    try:
        acc = _accounts(db)
        try:
            tid, token = acc.create_token(username, name, who=who, days=days)
        finally:
            acc.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    sys.stdout.write(token + "\n")
    sys.stderr.write(
        f"token {tid} for {username}; shown only now — send it as 'Authorization: Bearer <token>'\n"
    )


@token_app.command("list")
def token_list(
    username: Annotated[str, typer.Argument(help="User name.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """An account's tokens: name, created, expires, revoked, last used (never the token)."""
    try:
        acc = _accounts(db)
        try:
            row = acc.store.account(username)
            if row is None:
                raise EnvtrustError(f"no account {username!r}")
            tokens = acc.store.tokens(int(row["id"]))
        finally:
            acc.store.close()
    except EnvtrustError as exc:
        raise _fail(exc) from None
    shown = [
        {"id": t["id"], "name": t["name"]}
        | {k: _us(t[f"{k}_us"]) for k in ("created", "expires", "revoked", "last_used")}
        for t in tokens
    ]
    if as_json:
        for t in shown:
            sys.stdout.write(json.dumps(t, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"tokens of {username}")
    for col in ("id", "name", "created", "expires", "revoked", "last_used"):
        table.add_column(col)
    for t in shown:
        table.add_row(
            *(str(t[c] or "") for c in ("id", "name", "created", "expires", "revoked", "last_used"))
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token number (accounts token list).")],
    who: WhoOption,
    db: DbOption = None,
) -> None:
    """Revoke an API token."""
    _change(db, lambda acc: acc.revoke_token(token_id, who=who), f"token {token_id} revoked")
