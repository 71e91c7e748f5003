"""Accounts, roles and scopes on a real database: hashing, throttled logins, tokens, ledgered changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from envtrust.errors import AccountError, AuthError
from envtrust.registry import load_registry
from envtrust.store import Store, open_store
from envtrust.verify import verify
from envtrust.workflow.identity import PUBLIC, Accounts, LoginLimits, Principal

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only: the default costs 64 MiB


@pytest.fixture
def store(db_url: str, registry_file: Path) -> Store:
    st = open_store(db_url)
    st.load_registry(load_registry(registry_file))
    yield st
    st.close()


def test_roles_need_their_scope(store: Store) -> None:
    acc = Accounts(store, hasher=FAST)
    acc.create("admin1", "admin", who="setup", password="correct horse battery")
    acc.create("shenhe", "regulator", who="admin1", password="correct horse battery", region="210102")
    acc.create(
        "rdz", "enterprise", who="admin1", password="correct horse battery", enterprise="某热电有限公司"
    )
    acc.create("machine", "regulator", who="admin1", password=None, region="21")
    for args, message in (
        (("user1", "boss"), "unknown role"),
        (("user2", "regulator"), "needs --region"),
        (("user3", "enterprise"), "needs --enterprise"),
        (("user4", "admin", "21"), "has no region"),
        (("a b", "admin"), "user name"),
        (("shenhe", "admin"), "exists"),
    ):
        username, role, *region = args
        with pytest.raises(AccountError, match=message):
            acc.create(
                username,
                role,
                who="admin1",
                password="correct horse battery",
                region=region[0] if region else None,
            )
    with pytest.raises(AccountError, match="no enterprise"):
        acc.create("user5", "operator", who="a", password="correct horse battery", enterprise="不存在的公司")
    with pytest.raises(AccountError, match="at least 10"):
        acc.create("user6", "admin", who="a", password="short")
    with pytest.raises(AccountError, match="--who"):
        acc.create("user7", "admin", who=" ", password="correct horse battery")
    assert [a["username"] for a in store.accounts()] == ["admin1", "machine", "rdz", "shenhe"]


def test_scopes_decide_which_points_are_visible() -> None:
    county = Principal("c", "regulator", region="210102")
    city = Principal("s", "regulator", region="2101")
    firm = Principal("e", "enterprise", enterprise_id=7)
    assert county.sees_point("210102", 1) and not county.sees_point("210103", 1)
    assert city.sees_point("210102", 1) and city.sees_point("210103", 1) and not city.sees_point("210201", 1)
    assert firm.sees_point("999999", 7) and not firm.sees_point("210102", 8)
    assert Principal("a", "admin").sees_point("650000", 1)
    assert not PUBLIC.sees_point("210102", 7) and PUBLIC.is_public
    assert not Principal("l", "lab").sees_point("210102", 7)


def test_passwords_are_argon2id_and_logins_throttled(store: Store) -> None:
    acc = Accounts(store, limits=LoginLimits(max_failures=3, max_failures_per_peer=10, window_s=900))
    acc.create("duty", "regulator", who="setup", password="correct horse battery", region="2101")
    row = store.account("duty")
    assert row is not None and row["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    who = acc.authenticate("duty", "correct horse battery", peer="10.0.0.1")
    assert (who.role, who.region, who.username) == ("regulator", "2101", "duty")
    for _ in range(3):
        with pytest.raises(AuthError, match="wrong user name or password"):
            acc.authenticate("duty", "guess", peer="10.0.0.2")
    # the right password is refused too while the failures are in the window
    with pytest.raises(AuthError, match="too many failed logins"):
        acc.authenticate("duty", "correct horse battery", peer="10.0.0.1")
    with pytest.raises(AuthError, match="wrong user name or password"):  # same answer for an unknown name
        acc.authenticate("nobody", "whatever pw", peer="10.0.0.3")
    acc.set_active("duty", False, who="setup", reason="left the bureau")


def test_disabled_accounts_and_changed_passwords(store: Store) -> None:
    acc = Accounts(store, hasher=FAST)
    acc.create(
        "operator1",
        "operator",
        who="setup",
        password="correct horse battery",
        enterprise="91210100MA0XXXXX1A",
    )
    acc.set_password("operator1", "another long passphrase", who="operator1")
    with pytest.raises(AuthError):
        acc.authenticate("operator1", "correct horse battery")
    assert acc.authenticate("operator1", "another long passphrase").enterprise_id is not None
    acc.set_active("operator1", False, who="admin", reason="contract ended")
    with pytest.raises(AuthError):
        acc.authenticate("operator1", "another long passphrase")
    with pytest.raises(AccountError, match="no account"):
        acc.set_password("ghost", "long enough password", who="admin")


def test_api_tokens_are_shown_once_and_can_be_revoked(store: Store) -> None:
    acc = Accounts(store, hasher=FAST)
    acc.create("feed", "regulator", who="setup", password=None, region="21")
    tid, token = acc.create_token("feed", "province platform", who="setup", days=30)
    assert token.startswith("et_") and len(token) > 40
    [stored] = store.tokens(store.account("feed")["id"])  # type: ignore[index]
    assert token not in json.dumps(stored, default=str) and stored["token_hash"] != token
    who = acc.principal_for_token(token)
    assert who is not None and (who.username, who.region) == ("feed", "21")
    assert acc.principal_for_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert acc.principal_for_token("not a token") is None
    acc.revoke_token(tid, who="setup")
    assert acc.principal_for_token(token) is None
    with pytest.raises(AccountError, match="already revoked"):
        acc.revoke_token(tid, who="setup")
    _, expired = acc.create_token("feed", "old", who="setup", days=-1)
    assert acc.principal_for_token(expired) is None
    with pytest.raises(AuthError):  # a token-only account cannot log in with a password
        acc.authenticate("feed", "")


def test_every_change_is_a_ledger_entry_without_secrets(store: Store) -> None:
    acc = Accounts(store, hasher=FAST)
    size = store.ledger_size()
    acc.create("admin1", "admin", who="setup", password="correct horse battery")
    acc.set_password("admin1", "a different passphrase", who="admin1")
    tid, token = acc.create_token("admin1", "script", who="admin1")
    acc.revoke_token(tid, who="admin1")
    acc.set_role("admin1", "regulator", who="setup", region="2101")
    assert store.ledger_size() == size + 5
    entries = [store.entry(i) for i in range(size, size + 5)]
    text = b"".join(e[2] for e in entries if e is not None).decode()
    assert "argon2" not in text and token not in text and "passphrase" not in text
    events = store.account_events(store.account("admin1")["id"])  # type: ignore[index]
    assert [e["action"] for e in events] == ["create", "password", "token_create", "token_revoke", "update"]
    assert json.loads(events[-1]["state"])["region"] == "2101"
    assert verify(store, None).ok
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE account_events SET who = 'someone else' WHERE action = 'update'")
    assert not verify(store, None).ok
