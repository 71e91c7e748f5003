"""The one exception tree of envtrust.

::

    EnvtrustError                   program or input problems that stop an operation
    ├── ConfigError                 bad settings or command-line values
    ├── RegistryError               a registry file that cannot be loaded (carries the line/point)
    ├── ImportFormatError           an import file that cannot be read at all (bad lines are reported, not raised)
    └── StoreError                  the database refused or is unreachable
        └── SchemaError             the database schema is not what this version expects

Data problems are not exceptions: a malformed frame is a :class:`envtrust.hj212.FrameError` value (with the
HJ 212 reply it implies) that ends up in quarantine; a suspicious number is a finding.
"""

from __future__ import annotations


class EnvtrustError(Exception):
    """Base of every error envtrust raises on purpose."""


class ConfigError(EnvtrustError):
    pass


class RegistryError(EnvtrustError):
    pass


class ImportFormatError(EnvtrustError):
    pass


class StoreError(EnvtrustError):
    pass


class SchemaError(StoreError):
    pass
