"""Accounts, roles and what each may see: the identity layer under the web pages and the API.

Roles (DESIGN.md §1): ``admin``; ``regulator`` (a duty officer of an environment bureau) and ``inspector`` (law
enforcement) and ``discipline`` (discipline inspection) scoped to an administrative-division code prefix — two
digits a province, four a city, six a county; ``enterprise`` and ``operator`` (its equipment operator) scoped to one
enterprise; ``lab`` (monitoring-laboratory staff); and the anonymous ``public``, who sees disclosed data only.

Passwords are hashed with Argon2id (RFC 9106, memory-hard; argon2-cffi), API tokens are random 256-bit secrets of
which only the SHA-256 is stored, failed logins are counted per user name and per address and refused for a while
past a limit, and every change of an account or a token is an ``account.event`` ledger entry (never a secret).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import AccountError, AuthError
from ..store import Store

__all__ = [
    "ROLES",
    "Accounts",
    "LoginLimits",
    "Principal",
    "Session",
]

ROLES = ("admin", "regulator", "inspector", "discipline", "enterprise", "operator", "lab")
REGION_ROLES = frozenset({"regulator", "inspector", "discipline"})
ENTERPRISE_ROLES = frozenset({"enterprise", "operator"})
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
_REGION = re.compile(r"^(\d{2}|\d{4}|\d{6})$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "et_"
TOKEN_TOUCH_US = 60_000_000  # a token's last use is written at most once a minute


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, and the scope of what they may see."""

    username: str
    role: str
    region: str | None = None
    enterprise_id: int | None = None
    account_id: int | None = None
    display_name: str = ""

    @property
    def is_public(self) -> bool:
        return self.role == "public"

    def sees_point(self, region: str, enterprise_id: int) -> bool:
        """Whether the non-public data of a point (in ``region``, of ``enterprise_id``) are this principal's to see."""
        if self.role == "admin":
            return True
        if self.role in REGION_ROLES:
            return self.region is not None and region.startswith(self.region)
        if self.role in ENTERPRISE_ROLES:
            return self.enterprise_id is not None and enterprise_id == self.enterprise_id
        return False  # lab staff and the public: disclosed data only (lab work comes with its own records)

    def account(self) -> dict[str, Any] | None:
        """The principal as the account mapping the record rules take (:mod:`envtrust.workflow.refs`); None for
        the public."""
        if self.is_public:
            return None
        return {"username": self.username, "role": self.role, "region": self.region,
                "enterprise_id": self.enterprise_id, "id": self.account_id, "active": True}  # fmt: skip


PUBLIC = Principal("public", "public")


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in session: the secret goes into a cookie (only its hash is stored), the CSRF token into pages and
    the ``X-CSRF-Token`` header of every change."""

    secret: str
    csrf: str
    principal: Principal
    expires_us: int


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """At most ``max_failures`` failed logins per user name, and ``max_failures_per_peer`` per address, within
    ``window_s``; past that, logins are refused until old failures leave the window (OWASP: throttle, do not lock
    an account for good — that would let anybody lock out a duty officer)."""

    max_failures: int = 5
    max_failures_per_peer: int = 20
    window_s: int = 900


def _now_us() -> int:
    return time.time_ns() // 1000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """The accounts of one store."""

    def __init__(
        self, store: Store, *, hasher: PasswordHasher | None = None, limits: LoginLimits | None = None
    ) -> None:
        self.store = store
        # RFC 9106 second recommended option (64 MiB, t=3, p=4) is argon2-cffi's default profile
        self.hasher = hasher or PasswordHasher()
        self.limits = limits or LoginLimits()

    # ------------------------------------------------------------------ validation
    def _check_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        if password.strip().lower() == username.lower():
            raise AccountError("the password must not be the user name")

    def _scope(self, role: str, region: str | None, enterprise: str | None) -> tuple[str | None, int | None]:
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
        if role in REGION_ROLES:
            if region is None or not _REGION.match(region):
                raise AccountError(
                    f"a {role} account needs --region: the division code prefix it covers (2, 4 or 6 digits)"
                )
        elif region is not None:
            raise AccountError(f"a {role} account has no region")
        if role in ENTERPRISE_ROLES:
            if not enterprise:
                raise AccountError(f"an {role} account needs --enterprise (its name or credit code)")
            eid = self.store.enterprise_id(enterprise)
            if eid is None:
                raise AccountError(f"no enterprise {enterprise!r} in the registry")
            return region, eid
        if enterprise is not None:
            raise AccountError(f"a {role} account has no enterprise")
        return region, None

    # ------------------------------------------------------------------ changes
    def create(
        self,
        username: str,
        role: str,
        *,
        who: str,
        password: str | None,
        display_name: str | None = None,
        region: str | None = None,
        enterprise: str | None = None,
    ) -> int:
        """A new account; ``password`` None makes an account that signs in with API tokens only."""
        if not _USERNAME.match(username):
            raise AccountError("a user name is 3–64 letters, digits, _ . @ or -")
        region, eid = self._scope(role, region, enterprise)
        if password is not None:
            self._check_password(username, password)
        digest = self.hasher.hash(password) if password is not None else None
        now = _now_us()
        with self.store.account_tx() as tx:
            if tx.account(username) is not None:
                raise AccountError(f"account {username!r} exists")
            row = tx.insert(
                {
                    "username": username,
                    "display_name": (display_name or username).strip(),
                    "role": role,
                    "region": region,
                    "enterprise_id": eid,
                    "password_hash": digest,
                    "active": True,
                    "created_us": now,
                    "updated_us": now,
                }
            )
            tx.event(row, "create", _who(who), now, {"password": digest is not None})
        return int(row["id"])

    def _change(
        self, username: str, who: str, action: str, changes: dict[str, Any], detail: dict[str, Any]
    ) -> None:
        now = _now_us()
        with self.store.account_tx() as tx:
            row = tx.account(username)
            if row is None:
                raise AccountError(f"no account {username!r}")
            row = tx.update(row, {**changes, "updated_us": now})
            tx.event(row, action, _who(who), now, detail)

    def set_password(self, username: str, password: str, *, who: str) -> None:
        self._check_password(username, password)
        self._change(username, who, "password", {"password_hash": self.hasher.hash(password)}, {})

    def set_active(self, username: str, active: bool, *, who: str, reason: str = "") -> None:
        self._change(username, who, "enable" if active else "disable", {"active": active}, {"reason": reason})

    def set_role(
        self, username: str, role: str, *, who: str, region: str | None = None, enterprise: str | None = None
    ) -> None:
        region, eid = self._scope(role, region, enterprise)
        self._change(username, who, "update", {"role": role, "region": region, "enterprise_id": eid}, {})

    # ------------------------------------------------------------------ tokens
    def create_token(
        self, username: str, name: str, *, who: str, days: float | None = 365
    ) -> tuple[int, str]:
        """A new API token for a machine acting as ``username``: ``(id, token)``; the token is shown only now."""
        if not name.strip():
            raise AccountError("name the token (what uses it)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = _now_us()
        expires = now + int(days * 86400 * 1_000_000) if days is not None else None
        with self.store.account_tx() as tx:
            row = tx.account(username)
            if row is None:
                raise AccountError(f"no account {username!r}")
            tid = tx.insert_token(
                {
                    "account_id": row["id"],
                    "name": name.strip(),
                    "token_hash": token_hash(token),
                    "created_us": now,
                    "expires_us": expires,
                }
            )
            tx.event(
                row,
                "token_create",
                _who(who),
                now,
                {"token_id": tid, "name": name.strip(), "expires_us": expires},
            )
        return tid, token

    def revoke_token(self, token_id: int, *, who: str) -> None:
        now = _now_us()
        with self.store.account_tx() as tx:
            tok = tx.token(token_id)
            if tok is None:
                raise AccountError(f"no token {token_id}")
            if tok["revoked_us"] is not None:
                raise AccountError(f"token {token_id} is already revoked")
            tx.revoke_token(token_id, now)
            owner = tx.account_by_id(int(tok["account_id"]))
            tx.event(owner, "token_revoke", _who(who), now, {"token_id": token_id, "name": tok["name"]})

    # ------------------------------------------------------------------ who is asking
    def authenticate(self, username: str, password: str, *, peer: str = "local") -> Principal:
        """The principal for a user name and password, or :class:`AuthError` — the same message whether the name or
        the password is wrong, and "too many attempts" past the limits."""
        now = _now_us()
        since = now - self.limits.window_s * 1_000_000
        by_user, by_peer = self.store.login_failures(username, peer, since)
        if by_user >= self.limits.max_failures or by_peer >= self.limits.max_failures_per_peer:
            self.store.record_login(username, peer, False, now)
            raise AuthError(f"too many failed logins; try again in {self.limits.window_s // 60} minutes")
        row = self.store.account(username)
        ok = False
        if row is not None and row["password_hash"] and row["active"]:
            try:
                ok = self.hasher.verify(row["password_hash"], password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        else:  # spend the same time as a real check, so that timing does not tell which names exist
            with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
                self.hasher.verify(_dummy_hash(self.hasher), password)
        self.store.record_login(username, peer, ok, now)
        if not ok or row is None:
            raise AuthError("wrong user name or password")
        if self.hasher.check_needs_rehash(row["password_hash"]):
            self._change(
                username,
                "system",
                "password",
                {"password_hash": self.hasher.hash(password)},
                {"rehash": True},
            )
        return _principal(row)

    def login(self, username: str, password: str, *, peer: str, hours: float = 12.0) -> Session:
        """Authenticate and open a session of ``hours`` (a duty shift); :class:`AuthError` as :meth:`authenticate`."""
        who = self.authenticate(username, password, peer=peer)
        assert who.account_id is not None
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = _now_us()
        expires = now + int(hours * 3600 * 1_000_000)
        self.store.add_session(
            {
                "secret_hash": token_hash(secret),
                "account_id": who.account_id,
                "csrf": csrf,
                "peer": peer,
                "created_us": now,
                "expires_us": expires,
            }
        )
        return Session(secret, csrf, who, expires)

    def session(self, secret: str) -> tuple[Principal, str] | None:
        """The principal and CSRF token of a live session, or None (unknown, ended, expired, account disabled)."""
        found = self.store.session_account(token_hash(secret))
        if found is None:
            return None
        ses, row = found
        if ses["ended_us"] is not None or ses["expires_us"] <= _now_us() or not row["active"]:
            return None
        return _principal(row), str(ses["csrf"])

    def logout(self, secret: str) -> None:
        self.store.end_session(token_hash(secret), _now_us())

    def principal_for_token(self, token: str) -> Principal | None:
        """The principal an API token acts as, or None (unknown, revoked, expired, or its account disabled)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        found = self.store.token_account(token_hash(token))
        if found is None:
            return None
        tok, row = found
        now = _now_us()
        if tok["revoked_us"] is not None or (tok["expires_us"] is not None and tok["expires_us"] <= now):
            return None
        if not row["active"]:
            return None
        last = tok["last_used_us"]
        if last is None or now - int(last) >= TOKEN_TOUCH_US:  # a write per request would cost every request
            self.store.touch_token(int(tok["id"]), now)
        return _principal(row)


def _principal(row: dict[str, Any]) -> Principal:
    return Principal(
        username=row["username"],
        role=row["role"],
        region=row["region"],
        enterprise_id=row["enterprise_id"],
        account_id=int(row["id"]),
        display_name=row["display_name"],
    )


def _who(who: str) -> str:
    if not who.strip():
        raise AccountError("say who makes the change (--who)")
    return who.strip()


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("envtrust-timing-equaliser")
