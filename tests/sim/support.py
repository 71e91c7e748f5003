"""Points shared by the simulator tests (plain helpers, imported by the test modules)."""

from __future__ import annotations

from envtrust.registry import Point, parse_registry

REGISTRY = """
[[point]]
mn = "010000A890A00010AAAAAAA1"
enterprise = { name = "测试热电有限公司", industry = "火力发电" }
name = "1号机组"
region = "210106"
medium = "gas"
reference_o2 = 6.0
limits = { a21026 = 35, a21002 = 50, a34013 = 10 }
process = "power_boiler"
design_flow = 300.0
duct_area = 25.0

[[point]]
mn = "010000A890A00020AAAAAAA2"
enterprise = { name = "测试污水处理有限公司", industry = "污水处理及其再生利用" }
name = "总排放口"
region = "210113"
medium = "water"
limits = { w01018 = 50, w21003 = 5, w21011 = 0.5, w21001 = 15 }
pw = "654321"

[[point]]
mn = "010000A890A00010AAAAAAA3"
enterprise = "测试水泥有限公司"
name = "窑尾"
region = "210124"
medium = "gas"
reference_o2 = 10.0
limits = { a21026 = 100, a21002 = 320, a34013 = 20 }
"""


def points() -> list[Point]:
    """A power-boiler stack, a municipal waste-water outfall and a cement kiln."""
    return parse_registry(REGISTRY)


def gas_point() -> Point:
    return points()[0]


def water_point() -> Point:
    return points()[1]
