"""HJ 212 time fields (DataTime, QN, SystemTime) ⇄ naive datetimes; the zone is the caller's (the point's)."""

from __future__ import annotations

from datetime import datetime

__all__ = ["format_data_time", "parse_data_time", "qn_from_time"]


def parse_data_time(text: str) -> datetime | None:
    """``YYYYMMDDhhmmss`` (also with 3 millisecond digits, as some loggers send) → naive datetime, else None."""
    if not (text.isascii() and text.isdigit()) or len(text) not in (14, 17):
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            int(text[14:17]) * 1000 if len(text) == 17 else 0,
        )
    except ValueError:
        return None


def format_data_time(value: datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S")


def qn_from_time(value: datetime) -> str:
    """A 17-digit QN ``YYYYMMDDhhmmsszzz`` for a local time."""
    return value.strftime("%Y%m%d%H%M%S") + f"{value.microsecond // 1000:03d}"
