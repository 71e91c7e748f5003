"""``envtrust import``: frames logs and CSV files through the same service functions as the gateway.

A frames log is read as one byte stream by the same :class:`~envtrust.hj212.Decoder` the gateway uses, so
its raw records are exactly the bytes of the file; each record's line number is reported with any problem.
CSV rows (``mn,pollutant,time,value,flag[,kind]``) become one record each.  Importing the same file twice
stores nothing twice: a record whose digest is already stored is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import hj212
from ..errors import ImportFormatError
from ..services import Ingest, Prepared
from ..store import FrameRow, WriteResult
from .lines import events_with_lines

__all__ = ["ImportReport", "LineProblem", "import_file", "is_csv"]

BATCH = 2000


@dataclass(slots=True)
class LineProblem:
    line: int
    code: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    path: str
    format: str
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    already_stored: int = 0
    quarantined: int = 0
    readings_new: int = 0
    problems: list[LineProblem] = field(default_factory=list)


def mns_in(path: Path, data: bytes) -> set[str]:
    """The MNs a frames log or CSV file names (to check, before importing, that the importer may write them)."""
    out: set[str] = set()
    if is_csv(path, data[:4096]):
        text = data.decode("utf-8-sig", errors="replace")
        rows = csv.reader(io.StringIO(text, newline=""))
        header: list[str] | None = None
        for i, fields in enumerate(rows):
            cells = [f.strip() for f in fields]
            if not cells:
                continue
            if i == 0 and cells[0].lower() == "mn":
                header = csv_header(cells, f"{path}: line 1")
                continue
            at = header.index("mn") if header and "mn" in header else 0
            if len(cells) > at and cells[at]:
                out.add(cells[at])
        return out
    for event in hj212.Decoder().feed(data):
        mn = event.mn if isinstance(event, hj212.Frame) else getattr(event, "fields", {}).get("MN")
        if mn:
            out.add(mn)
    return out


def csv_header(cells: list[str], where: str) -> list[str]:
    """A CSV header's column names (lower case); a name given twice is refused (which of the two would count?)."""
    names = [c.lower() for c in cells]
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        raise ImportFormatError(f"{where}: the column {twice[0]!r} is named more than once")
    return names


def is_csv(path: Path, head: bytes) -> bool:
    """Whether a file is CSV rather than a frames log: a .csv name, or a first line with commas and no ``##``."""
    if path.suffix.lower() == ".csv":
        return True
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return not first.startswith(b"##") and b"," in head.split(b"\n", 1)[0]


OnCommit = Callable[[Sequence[Prepared], Sequence[WriteResult]], None]


def import_file(
    ingest: Ingest,
    path: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    peer: str | None = None,
    on_commit: OnCommit | None = None,
) -> ImportReport:
    """Import one file; ``progress`` is called with the number of bytes consumed since the last call; ``peer``
    names the source in each record (default ``file:NAME``); ``on_commit`` sees every committed batch (the
    streaming checks of a running server)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{p}: cannot read: {exc.strerror}") from None
    source = peer or f"file:{p.name}"
    if is_csv(p, data[:4096]):
        report = ImportReport(str(p), "csv")
        records = _csv_records(ingest, p, data, source)
    else:
        report = ImportReport(str(p), "frames")
        records = _frame_records(ingest, p, data, source)
    batch: list[tuple[int, Prepared]] = []
    done_bytes = 0
    for line, size, prepared in records:
        batch.append((line, prepared))
        done_bytes += size
        if len(batch) >= BATCH:
            _flush(ingest, batch, report, on_commit)
            if progress:
                progress(done_bytes)
                done_bytes = 0
    _flush(ingest, batch, report, on_commit)
    if progress and done_bytes:
        progress(done_bytes)
    return report


def _flush(
    ingest: Ingest, batch: list[tuple[int, Prepared]], report: ImportReport, on_commit: OnCommit | None = None
) -> None:
    if not batch:
        return
    results = ingest.record([p for _, p in batch])
    if on_commit is not None:
        on_commit([p for _, p in batch], results)
    for (line, prepared), result in zip(batch, results, strict=True):
        report.records += 1
        row = prepared.row
        if result.frame_id is None:
            report.already_stored += 1
            continue
        report.stored += 1
        report.readings_new += result.readings_new
        if result.status == "duplicate":
            report.duplicates += 1
        elif result.status == "quarantine":
            report.quarantined += 1
            report.problems.append(LineProblem(line, row.error_code or "error", row.reason or ""))
    batch.clear()


def _frame_records(ingest: Ingest, p: Path, data: bytes, peer: str) -> Iterator[tuple[int, int, Prepared]]:
    done = 0
    for line, at, event in events_with_lines(data, ingest.decoder()):
        end = at + len(event.raw)
        yield line, end - done, ingest.prepare(event, peer=f"{peer}:{line}", origin="import")
        done = end


def _csv_records(ingest: Ingest, p: Path, data: bytes, peer: str) -> Iterator[tuple[int, int, Prepared]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    # the physical lines exactly as the csv reader reads them (CRLF, LF or CR; a quoted field may span lines)
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFormatError(f"{p}: line {end + 1}: not CSV: {exc}") from None
        index, end = end + 1, reader.line_num  # the record's first and last line
        raw_line = "".join(lines[index - 1 : end])
        size = len(raw_line.encode())
        if not fields or all(not f.strip() for f in fields):
            continue
        cells = [f.strip() for f in fields]
        if index == 1 and cells[0].lower() == "mn":
            header = csv_header(cells, f"{p}: line 1")
            continue
        yield index, size, _csv_row(ingest, cells, header, raw_line.rstrip("\r\n"), f"{peer}:{index}")


def _csv_row(ingest: Ingest, cells: list[str], header: list[str] | None, raw: str, peer: str) -> Prepared:
    names = header or ["mn", "pollutant", "time", "value", "flag", "kind"]
    row = dict(zip(names, cells, strict=False))
    raw_bytes = raw.encode()
    frame = FrameRow(
        received_us=0,
        peer=peer,
        origin="import",
        format="csv",
        raw=raw_bytes,
        digest=hashlib.sha256(raw_bytes).digest(),
        mn=row.get("mn"),
        status="ok",
        skip_if_known=True,
    )
    return ingest.prepare_csv(frame, row)
