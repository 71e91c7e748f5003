"""Parse one complete frame (``##`` … CRC [CRLF]) into a :class:`Frame` or a :class:`FrameError`.

Lenient where the field is lenient and the meaning stays clear (header fields in any order, ``,`` for ``;``
in the header, spaces around keys and values, lower-case CRC hex, missing CRLF, trailing ``;``, empty CP, a
missing closing ``&&``); strict where integrity is at stake (CRC, length, size, encoding).  Every tolerance is
named in ``Frame.warnings``.  Nothing here raises on bad input: the result is a value either way.
"""

from __future__ import annotations

from collections.abc import Container

from .crc import crc16, crc16_modbus
from .model import ERROR_REPLY_CODES, Frame, FrameError, QnRtn, Version

__all__ = ["MAX_SEGMENT", "parse_frame", "parse_segment_text"]

MAX_SEGMENT = 1024  # HJ 212-2017 Table 2: 0 <= data segment length <= 1024

_HEX = frozenset("0123456789abcdefABCDEF")
_NO_MODBUS: frozenset[str] = frozenset()


def _error(
    raw: bytes, code: str, reason: str, fields: dict[str, str] | None = None, **kw: object
) -> FrameError:
    qn_rtn = ERROR_REPLY_CODES.get(code, QnRtn.UNKNOWN_ERROR)
    crc_ok = kw.get("crc_ok")
    return FrameError(
        raw=raw,
        code=code,
        reason=reason,
        fields=fields or {},
        qn_rtn=qn_rtn,
        crc_ok=crc_ok if isinstance(crc_ok, bool) else None,
    )


def _header_fields(header: str, warnings: list[str] | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    if "," in header:
        # E15: a comma where the standard has a semicolon (seen in the standard's own examples)
        header = header.replace(",", ";")
        if warnings is not None:
            warnings.append("comma used as header separator")
    for part in header.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            if warnings is not None:
                warnings.append(f"header part without '=': {part.strip()!r}")
            continue
        key = key.strip()
        if key in fields:
            if warnings is not None:
                warnings.append(f"duplicate header field {key}")
            continue
        fields[key] = value.strip()
    return fields


def _split_cp(cp: str) -> list[str]:
    """Split the CP data area into ``key=value`` pairs on ``;`` and ``,``, keeping ``//…//`` log text whole."""
    if "//" not in cp:
        return cp.replace(",", ";").split(";")
    out: list[str] = []
    start = 0
    i = 0
    n = len(cp)
    while i < n:
        c = cp[i]
        if c == "/" and cp.startswith("//", i):
            end = cp.find("//", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c in ";,":
            out.append(cp[start:i])
            start = i + 1
        i += 1
    out.append(cp[start:])
    return out


def parse_segment_text(text: str, warnings: list[str]) -> tuple[dict[str, str], dict[str, str]] | str:
    """Split a data segment into (header fields, every CP entry in order) or return an error reason."""
    cp_at = text.find("CP=")
    if cp_at < 0:
        return "no CP= field"
    header = text[:cp_at]
    fields = _header_fields(header, warnings)
    body = text[cp_at + 3 :]
    if body.startswith("&&"):
        body = body[2:]
    else:
        stripped = body.lstrip()
        if not stripped.startswith("&&"):
            return "CP does not start with &&"
        body = stripped[2:]
        warnings.append("space before CP &&")
    if body.endswith("&&"):
        body = body[:-2]
    else:
        warnings.append("CP not closed by &&")
    flat: dict[str, str] | None = None
    if not body:
        return fields, {}
    if "//" not in body and " " not in body:
        # fast path: every pair is key=value with no spaces, no log text, no empty or duplicate pairs
        parts = body.replace(",", ";").replace("=", ";").split(";")
        if len(parts) == 2 * body.count("="):
            it = iter(parts)
            flat = dict(zip(it, it, strict=True))
            if len(flat) * 2 != len(parts) or "" in flat:
                flat = None
    if flat is None:
        flat = {}
        for pair in _split_cp(body):
            if not pair.strip():
                continue
            key, sep, value = pair.partition("=")
            if not sep:
                warnings.append(f"CP part without '=': {pair.strip()[:40]!r}")
                continue
            key = key.strip()
            if key in flat:
                warnings.append(f"duplicate CP entry {key}")
                continue
            flat[key] = value.strip()
    return fields, flat


def _non_ascii_outside_info(fields: dict[str, str], data: dict[str, str]) -> str:
    for key, value in fields.items():
        if not (key.isascii() and value.isascii()):
            return f"header field {key}"
    for key, value in data.items():
        if not key.isascii():
            return f"item code {key.partition('-')[0]}" if "-" in key else f"CP field {key}"
        if not value.isascii() and not key.endswith("-Info"):
            return f"CP field {key}" if "-" not in key else f"item {key}"
    return ""


def _version(fields: dict[str, str], warnings: list[str]) -> Version | str | None:
    flag_text = fields.get("Flag")
    if flag_text is None:
        return Version.HJT212_2005  # 2005 uploads often carry no Flag (and no QN)
    if not flag_text.isdigit() or int(flag_text) > 255:
        return f"Flag {flag_text!r} is not an integer 0-255"
    bits = int(flag_text) >> 2
    try:
        return Version(bits)
    except ValueError:
        warnings.append(f"unknown version bits {bits} in Flag={flag_text}")
        return None


def parse_frame(
    raw: bytes,
    *,
    max_segment: int = MAX_SEGMENT,
    modbus_crc: Container[str] = _NO_MODBUS,
) -> Frame | FrameError:
    """Check and parse one frame.  ``modbus_crc`` names the MNs whose loggers may send the Modbus CRC variant."""
    warnings: list[str] = []
    body = raw
    if body.endswith(b"\r\n"):
        body = body[:-2]
    elif body.endswith(b"\n"):
        body = body[:-1]
        warnings.append("LF without CR")
    elif body.endswith(b"\r"):
        body = body[:-1]
        warnings.append("CR without LF")
    else:
        warnings.append("no CRLF")
    if not body.startswith(b"##"):
        return _error(raw, "bad_header", "frame does not start with ##")
    length_field = body[2:6]
    rest = body[6:]
    if len(rest) < 4:
        return _error(raw, "bad_length", f"frame too short ({len(raw)} bytes)")
    segment, crc_field = rest[:-4], rest[-4:]
    if not (len(length_field) == 4 and length_field.isdigit()):
        digits = len(body[2:]) - len(body[2:].lstrip(b"0123456789"))
        segment, crc_field = body[2 + digits : -4], body[-4:]
        return _error(
            raw,
            "bad_length",
            f"length field is not 4 digits ({digits} digits)",
            _best_effort_fields(segment),
        )
    declared = int(length_field)
    try:
        text = segment.decode("ascii")
    except UnicodeDecodeError:
        try:
            text = segment.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _error(
                raw,
                "non_ascii",
                f"byte 0x{segment[exc.start]:02X} at offset {6 + exc.start} is neither ASCII nor UTF-8",
                _best_effort_fields(segment),
            )
    if declared != len(segment):
        if declared == len(text):
            warnings.append("length field counts characters, not bytes")
        else:
            return _error(
                raw,
                "bad_length",
                f"length field says {declared}, data segment has {len(segment)} bytes",
                _best_effort_fields(segment),
            )
    if len(segment) > max_segment:
        return _error(
            raw,
            "oversize",
            f"data segment of {len(segment)} bytes exceeds the limit of {max_segment}",
            _best_effort_fields(segment),
        )
    crc_text = crc_field.decode("ascii", "replace")
    if len(crc_text) != 4 or not _HEX.issuperset(crc_text):
        return _error(
            raw, "bad_crc", f"CRC field {crc_text!r} is not 4 hex digits", _best_effort_fields(segment)
        )
    sent = int(crc_text, 16)
    computed = crc16(segment)
    parsed = parse_segment_text(text, warnings)
    variant = "hj212"
    if sent != computed:
        fields = parsed[0] if not isinstance(parsed, str) else _best_effort_fields(segment)
        mn = fields.get("MN", "")
        modbus = crc16_modbus(segment)
        modbus_le = ((modbus & 0xFF) << 8) | (modbus >> 8)
        if mn in modbus_crc and sent in (modbus, modbus_le):
            variant = "modbus"
            order = "low byte first" if sent == modbus_le and sent != modbus else "high byte first"
            warnings.append(f"Modbus CRC16 ({order}) accepted in compatibility mode")
        else:
            hint = (
                " (matches Modbus CRC16: enable compatibility mode for this MN)"
                if sent
                in (
                    modbus,
                    modbus_le,
                )
                else ""
            )
            return _error(
                raw,
                "bad_crc",
                f"CRC {crc_text} does not match the computed {computed:04X}{hint}",
                fields,
                crc_ok=False,
            )
    elif crc_text != crc_text.upper():
        warnings.append("lower-case CRC hex")
    if isinstance(parsed, str):
        return _error(raw, "bad_cp", parsed, _best_effort_fields(segment), crc_ok=variant == "hj212")
    fields, data = parsed
    where = _non_ascii_outside_info(fields, data) if not text.isascii() else ""
    if where:
        return _error(
            raw, "non_ascii", f"non-ASCII text in {where} (only -Info may carry UTF-8)", fields, crc_ok=True
        )
    version = _version(fields, warnings)
    if isinstance(version, str):
        return _error(raw, "bad_flag", version, fields, crc_ok=True)
    if "MN" not in fields or "CN" not in fields:
        missing = " and ".join(k for k in ("MN", "CN") if k not in fields)
        return _error(raw, "bad_header", f"header has no {missing}", fields, crc_ok=True)
    return Frame(
        raw=raw,
        segment=segment,
        fields=fields,
        data=data,
        version=version,
        crc_variant=variant,
        warnings=tuple(warnings),
    )


def _best_effort_fields(segment: bytes) -> dict[str, str]:
    """Header fields read from a broken segment, so that a refusal can still echo QN and MN."""
    text = segment.decode("utf-8", "replace")
    cp_at = text.find("CP=")
    header = text if cp_at < 0 else text[:cp_at]
    fields = _header_fields(header, None)
    return {k: v for k, v in fields.items() if k.isascii() and k.isalnum() and len(v) <= 64}
