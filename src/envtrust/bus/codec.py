"""What travels on the frame stream in cluster mode: batches of received records, verdict included (pure).

A gateway decodes and judges each frame exactly as the single-process server does (accepted with its readings, or
quarantined with its reason) and publishes the result; a worker stores it as it arrives, so the stored row, the
ledger entry and the reply the logger got all come from the one verdict.  A message holds the records of one
partition (one subject), in the order received; the partition is chosen by the point's MN so that each point's
frames stay in order.

Encoding: JSON (orjson), bytes as base64, version field ``v``; :func:`decode` refuses anything else with
:class:`CodecError`.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from ..store import FrameRow, ReadingRow

__all__ = ["FORMAT", "CodecError", "Record", "decode", "encode", "partition_of"]

FORMAT = 1
Record = tuple[FrameRow, Sequence[ReadingRow]]

_ROW_TEXT = ("peer", "origin", "format", "mn", "cn", "qn", "status", "error_code", "reason", "version")
_ROW_MORE = ("crc_variant", "warnings")


class CodecError(ValueError):
    """A stream message that is not a batch of records in this format."""


def partition_of(mn: str | None, peer: str, partitions: int) -> int:
    """The partition of a record: by MN (a point's frames stay in order), else by the sender's address."""
    key = mn if mn else peer.rsplit(":", 1)[0]
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % partitions


def _row(row: FrameRow) -> dict[str, Any]:
    d: dict[str, Any] = {k: getattr(row, k) for k in (*_ROW_TEXT, *_ROW_MORE)}
    d["received_us"] = row.received_us
    d["raw"] = base64.b64encode(row.raw).decode()
    d["digest"] = base64.b64encode(row.digest).decode()
    d["crc_ok"] = row.crc_ok
    d["skip_if_known"] = row.skip_if_known
    return d


def encode(records: Sequence[Record]) -> bytes:
    return orjson.dumps(
        {
            "v": FORMAT,
            "records": [
                {
                    "row": _row(row),
                    "readings": [
                        [
                            r.mn,
                            r.kind,
                            r.pollutant,
                            r.data_time,
                            r.code_raw,
                            r.values,
                            r.flag,
                            r.eflag,
                            r.extra,
                        ]
                        for r in readings
                    ],
                }
                for row, readings in records
            ],
        }
    )


def _text(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is not None and not isinstance(v, str):
        raise CodecError(f"{key}: expected text")
    return v


def _reading(item: Any) -> ReadingRow:
    if not isinstance(item, list) or len(item) != 9:
        raise CodecError("a reading is a list of 9 fields")
    mn, kind, pollutant, data_time, code_raw, values, flag, eflag, extra = item
    if not all(isinstance(x, str) for x in (mn, kind, pollutant, code_raw)) or type(data_time) is not int:
        raise CodecError("reading fields of the wrong type")
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, int | float)) and not isinstance(v, bool)
        for k, v in values.items()
    ):
        raise CodecError("reading values must map names to numbers")
    for x in (flag, eflag, extra):
        if x is not None and not isinstance(x, str):
            raise CodecError("reading flags must be text")
    return ReadingRow(
        mn, kind, pollutant, data_time, code_raw, {k: v for k, v in values.items()}, flag, eflag, extra
    )


def _frame(d: Any) -> FrameRow:
    if not isinstance(d, dict):
        raise CodecError("a record's row must be an object")
    try:
        raw = base64.b64decode(d["raw"], validate=True)
        digest = base64.b64decode(d["digest"], validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise CodecError(f"raw and digest must be base64: {exc}") from None
    received = d.get("received_us")
    if type(received) is not int:
        raise CodecError("received_us must be an integer")
    crc_ok = d.get("crc_ok")
    if crc_ok is not None and not isinstance(crc_ok, bool):
        raise CodecError("crc_ok must be true, false or null")
    texts = {k: _text(d, k) for k in (*_ROW_TEXT, *_ROW_MORE)}
    for k in ("peer", "origin", "format", "status"):
        if texts[k] is None:
            raise CodecError(f"{k} is required")
    return FrameRow(
        received_us=received,
        peer=texts["peer"] or "",
        origin=texts["origin"] or "",
        format=texts["format"] or "",
        raw=raw,
        digest=digest,
        mn=texts["mn"],
        cn=texts["cn"],
        qn=texts["qn"],
        status=texts["status"] or "",
        error_code=texts["error_code"],
        reason=texts["reason"],
        version=texts["version"],
        crc_ok=crc_ok,
        crc_variant=texts["crc_variant"],
        warnings=texts["warnings"],
        skip_if_known=bool(d.get("skip_if_known", False)),
    )


def decode(payload: bytes) -> list[tuple[FrameRow, list[ReadingRow]]]:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != FORMAT or not isinstance(doc.get("records"), list):
        raise CodecError(f"not a batch of records in format {FORMAT}")
    out: list[tuple[FrameRow, list[ReadingRow]]] = []
    for rec in doc["records"]:
        if not isinstance(rec, dict) or not isinstance(rec.get("readings"), list):
            raise CodecError("a record is an object with row and readings")
        out.append((_frame(rec.get("row")), [_reading(r) for r in rec["readings"]]))
    return out
