"""References to records (``alarms/12``, ``points/MN``, ``inspections/3`` …) that oversight records cite as
evidence or links, and that ledger entries name: their form, whether the record exists, and whether an account
may read it.

A record's reader is decided by what it is about: data of a point (frames, alarms, quality records, samples, data
marks …) by the point's access rule (:meth:`~envtrust.workflow.identity.Principal.sees_point`: its region's staff,
its enterprise, the admin); a region's complaints and cases by the staff of that region; interference records by :func:`~envtrust.workflow.interference.may_read`; published records (orders,
credit events, the blacklist, draws and inspections, laboratory reports, the check configuration, public keys) by
anyone."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from ..store import Store

__all__ = [
    "REF",
    "SEALED_TYPES",
    "common_region",
    "entry_disclosed",
    "identifier",
    "known",
    "readable",
    "registered_region",
]

REF = re.compile(
    r"^(alarms|inspections|interference|complaints|draws|qa_checks|comparisons|frames|orders|blacklist|"
    r"credit_events|data_marks|reports|analyses)/[0-9]{1,12}$|^points/[\w.-]{1,64}$"
)
_MAX_KEY = 2**62

# published by the policy (orders, credit, the blacklist; draws and inspection results: 双随机、一公开) or needed by
# anyone to check a signature or a report: read by everyone
PUBLIC_TABLES = frozenset(
    {"orders", "order_rechecks", "credit_events", "blacklist", "blacklist_events", "reports", "qa_criteria",
     "qc_configs", "person_keys", "person_key_events", "draws", "draw_reveals", "inspections"}
)  # fmt: skip
# known to every account (the laboratories' reference material and functions), not to the public
ACCOUNT_TABLES = frozenset({"reference_lots", "lot_events", "lab_functions"})
# ledger entries whose content is sealed (a salted digest): the public ledger shows them as they are
SEALED_TYPES = frozenset(
    {"interference.record", "interference.event", "attachment", "complaint.received", "complaint.event",
     "case.opened", "case.document"}
)  # fmt: skip
# the tables whose rows a personal signature (``sig_id``) can sign
SIGNED_TABLES = ("qa_checks", "comparisons", "maintenance", "custody_events", "analyses", "reviews",
                 "retractions", "reports", "data_marks", "mark_events", "inspections", "interference",
                 "interference_events", "complaint_events", "draws", "draw_reveals")  # fmt: skip
# child table -> (its parent's table, the column naming the parent)
PARENTS = {
    "alarm_events": ("alarms", "alarm_id"),
    "qa_checks": ("analysers", "analyser_id"),
    "comparisons": ("analysers", "analyser_id"),
    "maintenance": ("analysers", "analyser_id"),
    "custody_events": ("samples", "sample_id"),
    "analyses": ("samples", "sample_id"),
    "reviews": ("analyses", "analysis_id"),
    "retractions": ("analyses", "analysis_id"),
    "mark_events": ("data_marks", "mark_id"),
    "interference_events": ("interference", "interference_id"),
    "complaint_events": ("complaints", "complaint_id"),
    "case_documents": ("cases", "case_id"),
    "draw_reveals": ("draws", "draw_id"),
}
REGION_ROLES = ("regulator", "inspector", "discipline")


def known(store: Store, ref: str) -> bool:
    """Whether the record ``ref`` exists: a registered point, an alarm (its events are ledgered), or a ledgered
    record."""
    table, _, key = ref.partition("/")
    if table == "points":
        return store.row("points", key) is not None
    if table == "alarms":
        return key.isdigit() and store.alarm(int(key)) is not None
    return store.entry_index(ref) is not None


# what an identifier of a subject may be written with (after NFKC): letters and digits of the basic Latin alphabet,
# CJK characters, and the punctuation of enterprise names — no invisible format characters, no look-alike letters of
# other alphabets that would make a near-copy of a registered code or name pass for another subject
_IDENTIFIER = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff()（）·.,&'/ _-]+")


def identifier(text: str, what: str) -> str:
    """``text`` as an identifier of a subject (an MN, a credit code, an enterprise's name): NFKC, stripped, and
    refused (400 ``bad_value``) when it holds characters outside :data:`_IDENTIFIER`."""
    from ..errors import RecordError

    value = unicodedata.normalize("NFKC", text or "").strip()
    if value and not _IDENTIFIER.fullmatch(value):
        zh, _, en = what.partition("|")
        raise RecordError(
            "bad_value",
            f"{zh}含有不允许的字符：{value!r} | {en} holds characters that are not allowed: {value!r}",
        )
    return value


def same_name(a: str, b: str) -> bool:
    """Whether two MNs, credit codes or names are the same one: compared after NFKC (full-width letters and digits
    as plain ones), without surrounding spaces and without regard to case."""
    return bool(a.strip()) and _norm(a) == _norm(b)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper()


def registered(store: Store, subject: str) -> tuple[str, str] | None:
    """The registered point (by MN) or enterprise (by credit code or name) that ``subject`` names, compared as
    :func:`same_name` does: ``(region, enterprise name)`` — an enterprise's region is the one its points share —
    or None."""
    if not subject.strip():
        return None
    points = store.points()
    for p in points:
        if same_name(p.mn, subject):
            return p.region, p.enterprise.name
    same = [
        p
        for p in points
        if same_name(p.enterprise.credit_code or "", subject) or same_name(p.enterprise.name, subject)
    ]
    return (common_region([p.region for p in same]), same[0].enterprise.name) if same else None


def registered_region(store: Store, subject: str) -> str | None:
    """The region of the registered point or enterprise ``subject`` names (see :func:`registered`), else None."""
    found = registered(store, subject)
    return found[0] if found is not None else None


def common_region(regions: Sequence[str]) -> str:
    """The longest division code (2, 4 or 6 digits: province, city, county) that every one of ``regions`` lies in;
    "" when they share no province."""
    shared = os.path.commonprefix(list(regions))  # noqa: RUF071 (division codes are compared by characters)
    return shared[: len(shared) // 2 * 2]


def _row(store: Store, table: str, key: str | int) -> dict[str, Any] | None:
    if table != "points" and not (str(key).isdigit() and int(key) < _MAX_KEY):
        return None
    try:
        return store.row(table, key)
    except KeyError:  # not a table
        return None


def _sees_point(store: Store, account: Mapping[str, Any], mn: object) -> bool:
    point = _row(store, "points", str(mn)) if mn else None
    if point is None:
        return bool(account["role"] == "admin")
    role = account["role"]
    if role == "admin":
        return True
    if role in REGION_ROLES:
        return str(point["region"]).startswith(account.get("region") or "\0")
    if role in ("enterprise", "operator"):
        return bool(
            account.get("enterprise_id") is not None and point["enterprise_id"] == account["enterprise_id"]
        )
    return False


def _staff_of(account: Mapping[str, Any], region: object) -> bool:
    if account["role"] == "admin":
        return True
    return account["role"] in REGION_ROLES and str(region or "").startswith(account.get("region") or "\0")


def readable(store: Store, ref: str, account: Mapping[str, Any] | None, *, exists: bool = False) -> bool:
    """Whether ``account`` (an account row or a mapping with ``username``, ``role``, ``region`` and
    ``enterprise_id``; None for the public) may read the record ``ref`` (``table/key``) — False also when there is
    no such record, so that the answer does not tell another region's records from missing ones.  ``exists``:
    the record is known to exist (a ledger entry names it)."""
    table, _, key = ref.partition("/")
    if table in PUBLIC_TABLES:
        return exists or known(store, ref)
    if table == "signatures":  # as what it signs
        if not str(key).isdigit() or int(key) >= _MAX_KEY:
            return False
        for signed in SIGNED_TABLES:
            rows = store.quality_rows(signed, sig_id=int(key))
            if rows:
                return readable(store, f"{signed}/{rows[0]['id']}", account, exists=True)
        return bool(account is not None and account["role"] == "admin")
    if account is None or not account.get("active", True) or account.get("role") in (None, "public"):
        return False
    if table in ACCOUNT_TABLES:
        return exists or _row(store, table, key) is not None
    if table == "account_events":
        row = _row(store, table, key)
        if row is None:
            return False
        return bool(account["role"] == "admin" or row["account_id"] == account.get("id"))
    row = store.alarm(int(key)) if table == "alarms" and str(key).isdigit() else _row(store, table, key)
    if row is None:
        return False
    while table in PARENTS:  # to the record the child belongs to
        table, column = PARENTS[table]
        parent = store.alarm(int(row[column])) if table == "alarms" else _row(store, table, row[column])
        if parent is None:
            return False
        row = parent
    if table == "interference":
        from .interference import may_read

        return may_read(account, row)
    if table in ("complaints", "cases"):
        return _staff_of(account, row["region"])
    if table == "samples" and account["role"] == "lab":  # laboratory staff read every sample's chain
        return True
    if table == "points":
        return _sees_point(store, account, row["mn"])
    if "mn" in row:  # frames, amendments, alarms, analysers, samples, data marks
        return _sees_point(store, account, row["mn"])
    return bool(account["role"] == "admin")  # anything else (attachments of records, accounts' own tables)


def entry_disclosed(
    store: Store, kind: str, ref: str | None, entry: bytes, account: Mapping[str, Any] | None
) -> bool:
    """Whether the content of a ledger entry is shown to ``account`` (None: the public).  Anyone sees that an
    entry exists, its leaf hash and its inclusion in a signed checkpoint; its content only who may read the record
    it records — except sealed entries, whose content is a salted digest (shown to anyone), and published
    records."""
    if kind in SEALED_TYPES:
        return True
    if kind == "person.signature":
        try:
            if isinstance(obj := json.loads(entry), dict) and "sealed" in obj:
                return True
        except ValueError:
            return False
    if ref is None:
        return bool(account is not None and account.get("role") == "admin")
    return readable(store, ref, account, exists=True)
