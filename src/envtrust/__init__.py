"""envtrust: trustworthy environmental monitoring data for regulators (HJ 212 gateway, ledger, checks, workflows)."""

__version__ = "0.1.0"
