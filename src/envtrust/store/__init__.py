"""Storage behind one narrow interface (:class:`Store`), with SQLite (default) and PostgreSQL backends.

SQL lives only in this package.  ``open_store(url)`` migrates the schema to the current version.
"""

from .base import CacheFill, FrameRow, ReadingRow, Status, Store, WriteResult, open_store

__all__ = ["CacheFill", "FrameRow", "ReadingRow", "Status", "Store", "WriteResult", "open_store"]
