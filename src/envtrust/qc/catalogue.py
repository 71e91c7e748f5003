"""The check catalogue: every check with its name, version, category, parameters and documentation.

A check is a function ``(PointData, Params) → list[Finding]`` (point scope) or ``(list[PointData], Params) →
list[Finding]`` (fleet scope: checks that compare points).  :func:`configure` turns a configuration (a mapping
check name → parameter overrides, e.g. from TOML) into the checks to run; an unknown check, an unknown parameter
or a value of the wrong type is a :class:`CatalogueError`, not a warning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "SEVERITIES",
    "CatalogueError",
    "Check",
    "Configured",
    "Finding",
    "Param",
    "Params",
    "configure",
    "markdown",
    "register",
]

CATEGORIES: Final = ("exceedance", "validity", "anomaly", "tampering")
SEVERITIES: Final = ("low", "medium", "high", "critical")


class CatalogueError(ValueError):
    """A check configuration names an unknown check or parameter, or gives a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check emits (DESIGN.md §5): times are UTC epoch seconds here, ISO 8601 with the point's offset in
    :meth:`to_json`; ``end`` is exclusive."""

    mn: str
    pollutant: str | None
    check: str
    category: str
    severity: str
    start: int
    end: int
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[str, str | None, str]:
        """What identifies "the same problem" for alarms: (point, pollutant, check)."""
        return (self.mn, self.pollutant, self.check)

    def to_json(self, utc_offset: int = 8 * 3600) -> dict[str, Any]:
        tz = timezone(timedelta(seconds=utc_offset))
        return {
            "mn": self.mn,
            "pollutant": self.pollutant,
            "check": self.check,
            "category": self.category,
            "severity": self.severity,
            "start": datetime.fromtimestamp(self.start, tz).isoformat(),
            "end": datetime.fromtimestamp(self.end, tz).isoformat(),
            "message": self.message,
            "evidence": dict(self.evidence),
        }


def iso(t: int | float, utc_offset: int = 8 * 3600) -> str:
    return datetime.fromtimestamp(int(t), timezone(timedelta(seconds=utc_offset))).isoformat()


def utc_iso(t: int | float) -> str:
    return datetime.fromtimestamp(int(t), UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Any
    doc: str
    minimum: float | None = None

    def coerce(self, check: str, value: Any) -> Any:
        kind = type(self.default)
        where = f"check {check!r}, parameter {self.name!r}"
        if kind is bool:
            if not isinstance(value, bool):
                raise CatalogueError(f"{where}: expected true or false, got {value!r}")
            return value
        if kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CatalogueError(f"{where}: expected a number, got {value!r}")
            if kind is int and not float(value).is_integer():
                raise CatalogueError(f"{where}: expected a whole number, got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise CatalogueError(f"{where}: must be at least {self.minimum:g}, got {value!r}")
            return kind(value)
        if kind is str:
            if not isinstance(value, str):
                raise CatalogueError(f"{where}: expected text, got {value!r}")
            return value
        raise CatalogueError(f"{where}: unsupported parameter type")  # pragma: no cover - catalogue bug


Params = Mapping[str, Any]
PointFn = Callable[..., list[Finding]]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    version: int
    category: str
    title_zh: str
    title_en: str
    doc: str
    source: str
    params: tuple[Param, ...]
    fn: PointFn
    scope: str = "point"  # "point" or "fleet"

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


CATALOGUE: dict[str, Check] = {}


def register(
    name: str,
    *,
    version: int,
    category: str,
    title_zh: str,
    title_en: str,
    source: str,
    params: Iterable[Param] = (),
    scope: str = "point",
) -> Callable[[PointFn], PointFn]:
    """Decorator: add a check function to :data:`CATALOGUE` (its docstring is the check's documentation)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")

    def deco(fn: PointFn) -> PointFn:
        if name in CATALOGUE:
            raise ValueError(f"check {name!r} registered twice")
        params_t = (Param("enabled", True, "run this check"), *params)
        CATALOGUE[name] = Check(
            name,
            version,
            category,
            title_zh,
            title_en,
            (fn.__doc__ or "").strip(),
            source,
            params_t,
            fn,
            scope,
        )
        return fn

    return deco


@dataclass(frozen=True, slots=True)
class Configured:
    """The checks to run with their parameters, and a digest of the whole configuration (for the ledger)."""

    checks: tuple[tuple[Check, Mapping[str, Any]], ...]

    def digest(self) -> str:
        doc = {c.name: {"version": c.version, **p} for c, p in self.checks}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {c.name: {"version": c.version, "category": c.category, **p} for c, p in self.checks}


def configure(overrides: Mapping[str, Any] | None = None, *, only: Iterable[str] | None = None) -> Configured:
    """The catalogue with ``overrides`` applied (``{check: {param: value}}``), validated strictly."""
    overrides = dict(overrides or {})
    for name, values in overrides.items():
        check = CATALOGUE.get(name)
        if check is None:
            raise CatalogueError(f"unknown check {name!r}; known: {', '.join(sorted(CATALOGUE))}")
        if not isinstance(values, Mapping):
            raise CatalogueError(f"check {name!r}: expected a table of parameters, got {values!r}")
        known = {p.name for p in check.params}
        for key in values:
            if key not in known:
                raise CatalogueError(
                    f"check {name!r}: unknown parameter {key!r}; known: {', '.join(sorted(known))}"
                )
    wanted = set(only) if only is not None else None
    if wanted is not None:
        unknown = wanted - set(CATALOGUE)
        if unknown:
            raise CatalogueError(
                f"unknown check {sorted(unknown)[0]!r}; known: {', '.join(sorted(CATALOGUE))}"
            )
    out = []
    for name in sorted(CATALOGUE):
        check = CATALOGUE[name]
        params = check.defaults()
        for key, value in dict(overrides.get(name, {})).items():
            param = next(p for p in check.params if p.name == key)
            params[key] = param.coerce(name, value)
        if not params["enabled"] or (wanted is not None and name not in wanted):
            continue
        out.append((check, params))
    return Configured(tuple(out))


def markdown() -> str:
    """The catalogue as Markdown (``docs/checks.md`` is generated from it: ``envtrust checks --markdown``)."""
    lines = [
        "# Check catalogue",
        "",
        "Generated from the code by `envtrust checks --markdown`; do not edit by hand.",
        "Every parameter can be set in a TOML file given to `envtrust check --config FILE`:",
        "`[check_name]` then `parameter = value`; an unknown check or parameter is an error.",
        "Categories (DESIGN.md §5): exceedance, validity, anomaly, tampering.",
        "",
        "| check | category | 中文 | what it finds |",
        "|---|---|---|---|",
    ]
    for name in sorted(CATALOGUE):
        c = CATALOGUE[name]
        lines.append(
            f"| [`{name}`](#{name.replace('_', '_')}) | {c.category} | {c.title_zh} | {c.title_en} |"
        )
    for name in sorted(CATALOGUE):
        c = CATALOGUE[name]
        lines += [
            "",
            f"## {name}",
            "",
            f"**{c.title_zh}** — {c.title_en}. Category `{c.category}`, version {c.version}"
            + (", compares points (fleet scope)" if c.scope == "fleet" else "")
            + ".",
            "",
            " ".join(c.doc.split()),
            "",
            f"Source: {c.source}.",
            "",
            "| parameter | default | meaning |",
            "|---|---|---|",
        ]
        for prm in c.params:
            lines.append(
                f"| `{prm.name}` | `{str(prm.default).lower() if isinstance(prm.default, bool) else prm.default}` | {prm.doc} |"
            )
    return "\n".join(lines) + "\n"
