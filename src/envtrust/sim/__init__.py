"""Fleet simulator: realistic flue-gas CEMS and waste-water data loggers speaking HJ 212-2017 over TCP.

* :mod:`envtrust.sim.physics`: deterministic value models (load, flow, O2, pollutants, honest events);
* :mod:`envtrust.sim.frames`: the HJ 212 upload frames (2011, 2051, 2061, 2031) a logger produces over time;
* :mod:`envtrust.sim.fleet`: :func:`run_fleet`, one asyncio TCP client per point, with acks, retries,
  backlog, outages and back-fill;
* :mod:`envtrust.sim.tamper`: tampering signatures and honest events injected into chosen windows, and their labels;
* :mod:`envtrust.sim.offline`: the fleet's frames written to a frames log without a gateway (worker processes);
* :mod:`envtrust.sim.synthetic`: fictional extra points and the registry file of the points simulated;
* ``demo_registry.toml``: the demo registry (Shenyang enterprises, fictional), see :func:`demo_registry_path`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .fleet import FleetStats, LoggerStats, run_fleet
from .frames import FrameSource, Outgoing
from .physics import PointModel

__all__ = [
    "FleetStats",
    "FrameSource",
    "LoggerStats",
    "Outgoing",
    "PointModel",
    "demo_registry_path",
    "run_fleet",
]


def demo_registry_path() -> Path:
    """Path of the demo registry shipped with the package (``envtrust/sim/demo_registry.toml``)."""
    return Path(str(resources.files(__name__).joinpath("demo_registry.toml")))
