"""``envtrust accounts …`` as an administrator runs it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from envtrust.cli import app
from envtrust.store import open_store
from envtrust.workflow.identity import Accounts

runner = CliRunner()


def test_accounts_from_the_command_line(tmp_path: Path, registry_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    assert runner.invoke(app, ["registry", "load", str(registry_file), "--db", db]).exit_code == 0

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        r = runner.invoke(app, [*args, "--db", db], input=stdin)
        return r.exit_code, r.stdout, r.stderr

    code, stdout, stderr = run(
        "accounts", "create", "shenhe", "--role", "regulator", "--region", "210102", "--name", "沈河区值班员",
        "--who", "admin", "--password-stdin", stdin="correct horse battery\n",
    )  # fmt: skip
    assert code == 0, stderr
    code, _, stderr = run(
        "accounts", "create", "rdz", "--role", "enterprise", "--enterprise", "某热电有限公司", "--who", "admin",
        "--password-stdin", stdin="short\n",
    )  # fmt: skip
    assert code == 2 and "at least 10 characters" in stderr
    code, _, _ = run(
        "accounts",
        "create",
        "feed",
        "--role",
        "regulator",
        "--region",
        "21",
        "--who",
        "admin",
        "--no-password",
    )
    assert code == 0
    code, stdout, _ = run("accounts", "list", "--json")
    listed = [json.loads(line) for line in stdout.splitlines()]
    assert [(a["username"], a["role"], a["region"]) for a in listed] == [
        ("feed", "regulator", "21"),
        ("shenhe", "regulator", "210102"),
    ]
    code, token, stderr = run(
        "accounts", "token", "create", "feed", "--name", "province platform", "--who", "admin"
    )
    assert code == 0 and token.startswith("et_") and "shown only now" in stderr
    code, stdout, _ = run("accounts", "token", "list", "feed", "--json")
    [listed_token] = [json.loads(line) for line in stdout.splitlines()]
    assert listed_token["name"] == "province platform" and token.strip() not in stdout
    with open_store(db) as store:
        who = Accounts(store).principal_for_token(token.strip())
        assert who is not None and who.username == "feed"
    assert run("accounts", "token", "revoke", str(listed_token["id"]), "--who", "admin")[0] == 0
    code, _, stderr = run("accounts", "token", "revoke", str(listed_token["id"]), "--who", "admin")
    assert code == 2 and "already revoked" in stderr
    assert run("accounts", "disable", "shenhe", "--who", "admin", "--reason", "调岗")[0] == 0
    assert (
        run("accounts", "role", "shenhe", "--role", "inspector", "--region", "2101", "--who", "admin")[0] == 0
    )
    assert (
        run(
            "accounts",
            "passwd",
            "shenhe",
            "--who",
            "admin",
            "--password-stdin",
            stdin="a new long passphrase\n",
        )[0]
        == 0
    )
    code, _, stderr = run("accounts", "disable", "ghost", "--who", "admin")
    assert code == 2 and "no account 'ghost'" in stderr
    with open_store(db) as store:
        row = store.account("shenhe")
        assert row is not None and (row["role"], row["region"], row["active"]) == ("inspector", "2101", False)
