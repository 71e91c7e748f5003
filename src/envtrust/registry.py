"""The registry file (TOML): enterprises, monitoring points (one data logger MN each) and their limits.

See DESIGN.md §5.  Minimal keys per ``[[point]]``: ``mn``, ``enterprise`` (a name or a table with ``name``,
``credit_code``, ``industry``), ``name``, ``region``, ``medium`` (gas | water | ambient); optional
``reference_o2``, ``limits`` (HJ 212-2017 code → limit in mg/m³ or mg/L), ``pw``, ``timezone``
(default Asia/Shanghai) and ``crc_compat`` ("modbus" for loggers that send the Modbus CRC variant).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import RegistryError

__all__ = ["DEFAULT_TZ", "Enterprise", "Point", "format_registry", "load_registry", "parse_registry"]

DEFAULT_TZ = "Asia/Shanghai"
MEDIA = ("gas", "water", "ambient")
_REGION = re.compile(r"^\d{2}(\d{2}(\d{2}(\d{3,6})?)?)?$")
_CODE = re.compile(r"^[A-Za-z]{1,2}\d{2,6}$|^[A-Za-z0-9]{1,12}$")
_KNOWN = {
    "mn",
    "enterprise",
    "name",
    "region",
    "medium",
    "reference_o2",
    "limits",
    "pw",
    "timezone",
    "crc_compat",
    "st",
    "latitude",
    "longitude",
    "industry",
    "notes",
}


@dataclass(frozen=True, slots=True)
class Enterprise:
    name: str
    credit_code: str | None = None
    industry: str | None = None


@dataclass(frozen=True, slots=True)
class Point:
    mn: str
    enterprise: Enterprise
    name: str
    region: str
    medium: str
    reference_o2: float | None = None
    limits: dict[str, float] = field(default_factory=dict)
    pw: str | None = None
    timezone: str = DEFAULT_TZ
    crc_compat: str | None = None
    st: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def system_code(self) -> str:
        """HJ 212 ST of the point: given, or 31 for flue gas, 32 for waste water, 22 for ambient air."""
        return self.st or {"gas": "31", "water": "32", "ambient": "22"}[self.medium]


def _fail(where: str, msg: str) -> RegistryError:
    return RegistryError(f"{where}: {msg}")


def _point(raw: dict[str, Any], where: str) -> Point:
    for key in ("mn", "enterprise", "name", "region", "medium"):
        if key not in raw:
            raise _fail(where, f"missing key '{key}'")
    mn = raw["mn"]
    if not isinstance(mn, str) or not (1 <= len(mn) <= 24) or not mn.replace("_", "").isalnum():
        raise _fail(where, f"mn must be 1-24 letters or digits, got {mn!r}")
    ent = raw["enterprise"]
    if isinstance(ent, str):
        enterprise = Enterprise(ent)
    elif isinstance(ent, dict) and isinstance(ent.get("name"), str):
        enterprise = Enterprise(ent["name"], ent.get("credit_code"), ent.get("industry"))
    else:
        raise _fail(where, "enterprise must be a name or a table with 'name'")
    medium = raw["medium"]
    if medium not in MEDIA:
        raise _fail(where, f"medium must be one of {', '.join(MEDIA)}, got {medium!r}")
    region = str(raw["region"])
    if not _REGION.match(region):
        raise _fail(
            where, f"region must be an administrative division code (2, 4, 6 or more digits), got {region!r}"
        )
    ref = raw.get("reference_o2")
    if ref is not None and (not isinstance(ref, int | float) or not 0 <= ref < 21):
        raise _fail(where, f"reference_o2 must be a percentage below 21, got {ref!r}")
    limits_raw = raw.get("limits", {})
    if not isinstance(limits_raw, dict):
        raise _fail(where, "limits must be a table of code = value")
    limits: dict[str, float] = {}
    for code, value in limits_raw.items():
        if not _CODE.match(code):
            raise _fail(where, f"limit code {code!r} is not an HJ 212 code")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _fail(where, f"limit for {code} must be a non-negative number, got {value!r}")
        limits[code] = float(value)
    tz = raw.get("timezone", DEFAULT_TZ)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise _fail(where, f"unknown timezone {tz!r}") from None
    compat = raw.get("crc_compat")
    if compat not in (None, "modbus"):
        raise _fail(where, f"crc_compat must be 'modbus' when given, got {compat!r}")
    pw = raw.get("pw")
    if pw is not None:
        pw = str(pw)
    extra = {k: v for k, v in raw.items() if k not in _KNOWN}
    return Point(
        mn=mn,
        enterprise=enterprise,
        name=str(raw["name"]),
        region=region,
        medium=medium,
        reference_o2=float(ref) if ref is not None else None,
        limits=limits,
        pw=pw,
        timezone=tz,
        crc_compat=compat,
        st=str(raw["st"]) if "st" in raw else None,
        extra=extra,
    )


def parse_registry(text: str, source: str = "<registry>") -> list[Point]:
    """Parse registry TOML; raises RegistryError naming the file, the point and the problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: not valid TOML: {exc}") from None
    raw_points = doc.get("point", [])
    if not isinstance(raw_points, list) or not raw_points:
        raise RegistryError(f"{source}: no [[point]] tables")
    points: list[Point] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_points, 1):
        where = f"{source}: point {i}" + (
            f" (mn {raw.get('mn')})" if isinstance(raw, dict) and "mn" in raw else ""
        )
        point = _point(raw, where)
        if point.mn in seen:
            raise _fail(where, f"mn {point.mn} already used by point {seen[point.mn]}")
        seen[point.mn] = i
        points.append(point)
    return points


def load_registry(path: str | Path) -> list[Point]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_registry(text, str(p))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def format_registry(points: Sequence[Point], header: str = "") -> str:
    """The registry file (TOML, ``docs/registry.md``) of ``points``, the inverse of :func:`parse_registry`: extra
    keys (process, design_flow …) kept, ``header`` written as comment lines."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for p in points:
        lines.append("")
        lines.append("[[point]]")
        lines.append(f"mn = {_toml_value(p.mn)}")
        ent: dict[str, Any] = {"name": p.enterprise.name}
        if p.enterprise.credit_code is not None:
            ent["credit_code"] = p.enterprise.credit_code
        if p.enterprise.industry is not None:
            ent["industry"] = p.enterprise.industry
        lines.append(f"enterprise = {_toml_value(ent)}")
        lines.append(f"name = {_toml_value(p.name)}")
        lines.append(f"region = {_toml_value(p.region)}")
        lines.append(f"medium = {_toml_value(p.medium)}")
        if p.reference_o2 is not None:
            lines.append(f"reference_o2 = {_toml_value(p.reference_o2)}")
        if p.limits:
            lines.append(f"limits = {_toml_value(dict(p.limits))}")
        if p.pw is not None:
            lines.append(f"pw = {_toml_value(p.pw)}")
        if p.timezone != DEFAULT_TZ:
            lines.append(f"timezone = {_toml_value(p.timezone)}")
        if p.crc_compat is not None:
            lines.append(f"crc_compat = {_toml_value(p.crc_compat)}")
        if p.st is not None:
            lines.append(f"st = {_toml_value(p.st)}")
        for key, value in p.extra.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"
