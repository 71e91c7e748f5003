"""Exports for people who work in spreadsheets: CSV (UTF-8 with BOM, so that Excel reads Chinese) and Excel (xlsx,
written row by row by openpyxl's write-only mode)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from openpyxl import Workbook

__all__ = ["MAX_ROWS", "csv_stream", "xlsx_bytes"]

MAX_ROWS = 1_000_000  # an xlsx sheet holds 1,048,576 rows


def _clean(value: Any) -> Any:
    """Cells as spreadsheets should see them; text that a spreadsheet would run as a formula is quoted (CSV
    injection, OWASP)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    out.writerow(header)
    for n, row in enumerate(rows, 1):
        out.writerow([_clean(v) for v in row])
        if n % 2000 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(list(header))
    for row in rows:
        ws.append([_clean(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
