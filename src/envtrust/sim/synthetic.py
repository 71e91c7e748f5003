"""Synthetic monitoring points for large simulations, and the registry file (TOML) of any list of points.

:func:`synthetic_registry` invents ``n`` fictional points deterministically from a seed: flue-gas stacks and
waste-water outfalls of varied processes, Shenyang county-level regions, limits of the applicable standards
(sometimes stricter local ones), fictional enterprises whose unified social credit codes (GB 32100-2015) carry
valid check characters, and 24-hex-digit MNs in the demo registry's convention (header ``01``, manufacturer
``0000A89``… here ``0000B17`` so that they never collide with the demo fleet, object class ``0A0001`` flue gas /
``0A0002`` waste water, a 9-hex-digit serial).  :func:`envtrust.registry.format_registry` writes points back in the registry format
(``docs/registry.md``), so that a checker can load exactly the registry that was simulated.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from typing import Any

from ..registry import DEFAULT_TZ, Enterprise, Point
from .physics import PROCESSES

__all__ = ["credit_code", "fleet_points", "synthetic_registry"]

_MANUFACTURER = "0000B17"
_REGIONS = (
    "210102",
    "210103",
    "210104",
    "210105",
    "210106",
    "210111",
    "210112",
    "210113",
    "210114",
    "210115",
    "210123",
    "210124",
    "210181",
)
_PLACES = (
    "沈北",
    "浑河",
    "北陵",
    "铁西",
    "辽中",
    "新民",
    "苏家屯",
    "于洪",
    "大东",
    "皇姑",
    "和平",
    "康平",
    "法库",
)
_WORDS = (
    "宏达",
    "远航",
    "鑫盛",
    "瑞丰",
    "华晟",
    "恒信",
    "东升",
    "兴业",
    "嘉禾",
    "泰和",
    "润泽",
    "昌源",
    "永安",
    "广汇",
)
# process → (share of the fleet, reference O2, enterprise suffix, industry, point names, limit variants)
_KINDS: dict[str, tuple[float, float | None, str, str, tuple[str, ...], tuple[dict[str, float], ...]]] = {
    "power_boiler": (
        0.16,
        6.0,
        "热电有限公司",
        "火力发电",
        ("1号机组烟气排放口", "2号机组烟气排放口", "3号机组烟气排放口"),
        ({"a21026": 35, "a21002": 50, "a34013": 10},),
    ),
    "heating_boiler": (
        0.12,
        9.0,
        "热力有限公司",
        "热力生产和供应",
        ("供热锅炉总排放口", "1号锅炉排放口", "2号锅炉排放口"),
        ({"a21026": 35, "a21002": 50, "a34013": 10}, {"a21026": 200, "a21002": 200, "a34013": 30}),
    ),
    "industrial_boiler": (
        0.12,
        9.0,
        "实业有限公司",
        "化学原料和化学制品制造",
        ("动力车间锅炉排放口", "1号锅炉排放口"),
        ({"a21026": 200, "a21002": 200, "a34013": 30}, {"a21026": 50, "a21002": 150, "a34013": 20}),
    ),
    "gas_boiler": (
        0.1,
        3.5,
        "能源有限公司",
        "热力生产和供应",
        ("燃气锅炉排放口",),
        ({"a21026": 50, "a21002": 150, "a34013": 20}, {"a21026": 10, "a21002": 50, "a34013": 5}),
    ),
    "cement_kiln": (
        0.08,
        10.0,
        "水泥有限公司",
        "水泥制造",
        ("窑尾排放口", "窑头排放口"),
        ({"a21026": 100, "a21002": 320, "a34013": 20}, {"a21026": 50, "a21002": 100, "a34013": 10}),
    ),
    "incinerator": (
        0.08,
        11.0,
        "环保能源有限公司",
        "生活垃圾焚烧发电",
        ("1号焚烧线排放口", "2号焚烧线排放口"),
        ({"a21026": 100, "a21002": 300, "a34013": 30}, {"a21026": 80, "a21002": 250, "a34013": 20}),
    ),
    "sinter": (
        0.06,
        16.0,
        "钢铁有限公司",
        "炼铁",
        ("烧结机机头排放口",),
        ({"a21026": 35, "a21002": 50, "a34013": 10}, {"a21026": 200, "a21002": 300, "a34013": 40}),
    ),
    "municipal_wwtp": (
        0.14,
        None,
        "水务有限公司",
        "污水处理及其再生利用",
        ("污水处理厂总排放口",),
        (
            {"w01018": 50, "w21003": 5, "w21011": 0.5, "w21001": 15},
            {"w01018": 30, "w21003": 1.5, "w21011": 0.3},
        ),
    ),
    "industrial_wastewater": (
        0.14,
        None,
        "化工有限公司",
        "化学原料和化学制品制造",
        ("废水总排放口", "车间排放口"),
        ({"w01018": 100, "w21003": 15, "w21011": 1.0, "w21001": 30}, {"w01018": 120, "w21003": 25}),
    ),
}

_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_code(region: str, body: str) -> str:
    """A unified social credit code (GB 32100-2015) ``91`` + region + organisation code (``body``: 8 characters
    of :data:`_USCC` plus its GB 11714 check character) + the check character."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    org = body + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    first = "91" + region + org
    check = (31 - sum(_USCC.index(c) * w for c, w in zip(first, _USCC_WEIGHTS, strict=True)) % 31) % 31
    return first + _USCC[check]


def _rng(seed: int, *parts: object) -> random.Random:
    text = "|".join(str(p) for p in ("envtrust.sim.synthetic", seed, *parts))
    return random.Random(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))


def synthetic_registry(n: int, seed: int = 1) -> list[Point]:
    """``n`` fictional monitoring points, a pure function of ``(n, seed)`` (point ``i`` does not depend on
    ``n``): about two thirds flue gas, one third waste water; several points per enterprise now and then."""
    names = list(_KINDS)
    weights = [_KINDS[k][0] for k in names]
    points: list[Point] = []
    enterprise: Enterprise | None = None
    kind = names[0]
    ent_region = _REGIONS[0]
    outlets = 0
    for i in range(n):
        rng = _rng(seed, "point", i)
        if enterprise is None or outlets <= 0 or rng.random() < 0.6:
            kind = rng.choices(names, weights)[0]
            region = rng.choice(_REGIONS)
            body = "".join(rng.choice(_USCC[:-1]) for _ in range(8))
            _, _, suffix, industry, point_names, _ = _KINDS[kind]
            name = f"沈阳{rng.choice(_PLACES)}{rng.choice(_WORDS)}{suffix}"
            enterprise = Enterprise(name, credit_code(region, body), industry)
            outlets = len(point_names)
            ent_region = region
        _, ref, _, _, point_names, variants = _KINDS[kind]
        outlet = point_names[len(point_names) - outlets]
        outlets -= 1
        medium = PROCESSES[kind].medium
        process = PROCESSES[kind]
        scale = math.exp(rng.uniform(math.log(0.5), math.log(1.8)))
        extra: dict[str, Any] = {
            "process": kind,
            "design_flow": round(process.design_flow * scale, 1),
        }
        if medium == "gas":
            extra["duct_area"] = round(process.duct_area * scale * rng.uniform(0.9, 1.1), 1)
        serial = f"{int.from_bytes(hashlib.blake2b(f'{seed}|{i}'.encode(), digest_size=5).digest(), 'big') % 16**9:09X}"
        mn = f"01{_MANUFACTURER}0A000{1 if medium == 'gas' else 2}{serial}"
        limits = {k: float(v) for k, v in rng.choice(variants).items()}
        points.append(
            Point(
                mn=mn,
                enterprise=enterprise,
                name=outlet,
                region=ent_region,
                medium=medium,
                reference_o2=ref,
                limits=limits,
                pw=f"{rng.randrange(0, 1_000_000):06d}",
                timezone=DEFAULT_TZ,
                extra=extra,
            )
        )
    return points


def fleet_points(points: Sequence[Point], n: int, seed: int = 1) -> list[Point]:
    """Exactly ``n`` points to simulate: the first ``n`` flue-gas and waste-water points of ``points``, then
    :func:`synthetic_registry` points when there are fewer."""
    if n < 1:
        raise ValueError("the number of points must be at least 1")
    kept = [p for p in points if p.medium in ("gas", "water")][:n]
    taken = {p.mn for p in points}
    extra = [p for p in synthetic_registry(n - len(kept) + 8, seed) if p.mn not in taken]
    return kept + extra[: n - len(kept)]
