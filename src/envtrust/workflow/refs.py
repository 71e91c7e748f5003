"""References to records (``alarms/12``, ``points/MN``, ``inspections/3`` …) that oversight records cite as
evidence or links: their form, and whether the record exists."""

from __future__ import annotations

import re

from ..store import Store

__all__ = ["REF", "known"]

REF = re.compile(
    r"^(alarms|inspections|interference|complaints|draws|qa_checks|comparisons|frames|orders|blacklist|"
    r"credit_events|data_marks|reports|analyses)/[0-9]{1,12}$|^points/[\w.-]{1,64}$"
)


def known(store: Store, ref: str) -> bool:
    """Whether the record ``ref`` exists: a registered point, an alarm (its events are ledgered), or a ledgered
    record."""
    table, _, key = ref.partition("/")
    if table == "points":
        return key in store.point_scopes()
    if table == "alarms":
        return key.isdigit() and store.alarm(int(key)) is not None
    return store.entry_index(ref) is not None
