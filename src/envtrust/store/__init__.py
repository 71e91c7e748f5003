"""Storage behind one narrow interface (:class:`Store`), with SQLite (default) and PostgreSQL backends.

SQL lives only in this package.  ``open_store(url)`` migrates the schema to the current version.
"""

from .base import CacheFill, FrameRow, ReadingRow, Status, Store, StreamPosition, WriteResult, open_store
from .leases import Lease, LeaseLost

__all__ = [
    "CacheFill",
    "FrameRow",
    "Lease",
    "LeaseLost",
    "ReadingRow",
    "Status",
    "Store",
    "StreamPosition",
    "WriteResult",
    "open_store",
]
