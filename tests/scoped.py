"""The small site that the scope tests share: three points of three enterprises in two counties of one city, one
account per role, and which points each account may see."""

from __future__ import annotations

from argon2 import PasswordHasher

from envtrust.store import Store
from envtrust.workflow.identity import Accounts

# two enterprises in county 210102 (Heping), one in county 210103 (Shenhe), all in city 2101 (Shenyang)
P1, P2, P3 = "MN0000000000000001", "MN0000000000000002", "MN0000000000000003"
REGISTRY = f"""
[[point]]
mn = "{P1}"
enterprise = {{ name = "甲热电有限公司", credit_code = "91210102AAAAAAAA1A" }}
name = "1号锅炉排放口"
region = "210102"
medium = "gas"
limits = {{ a21026 = 35 }}

[[point]]
mn = "{P2}"
enterprise = {{ name = "乙水泥有限公司", credit_code = "91210102BBBBBBBB2B" }}
name = "窑尾排放口"
region = "210102"
medium = "gas"
limits = {{ a21026 = 100 }}

[[point]]
mn = "{P3}"
enterprise = {{ name = "丙污水处理厂", credit_code = "91210103CCCCCCCC3C" }}
name = "总排口"
region = "210103"
medium = "water"
limits = {{ w01018 = 50 }}
"""
CODES = {P1: "a21026", P2: "a21026", P3: "w01018"}
# user name -> (role, region, enterprise)
PEOPLE = {
    "ent1": ("enterprise", None, "甲热电有限公司"),
    "ent2": ("enterprise", None, "91210102BBBBBBBB2B"),
    "heping": ("regulator", "210102", None),
    "shenhe": ("regulator", "210103", None),
    "city": ("regulator", "2101", None),
    "admin": ("admin", None, None),
    "lab": ("lab", None, None),
}
SEES = {
    "ent1": {P1},
    "ent2": {P2},
    "heping": {P1, P2},
    "shenhe": {P3},
    "city": {P1, P2, P3},
    "admin": {P1, P2, P3},
    "lab": set(),
}


def fast_accounts(store: Store) -> Accounts:
    """Accounts with a cheap password hash (tests only)."""
    return Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def create_people(acc: Accounts, password: str | None) -> dict[str, str]:
    """One account per entry of PEOPLE; returns an API token of each."""
    tokens = {}
    for name, (role, region, ent) in PEOPLE.items():
        acc.create(name, role, who="setup", password=password, region=region, enterprise=ent)
        tokens[name] = acc.create_token(name, "test", who="setup")[1]
    return tokens
