"""Group commit: records from every connection are written by one thread, many per transaction.

The event loop hands prepared records over with :meth:`GroupCommitter.submit` and gets a callback on the loop
once they are durably committed; only then does the gateway send acknowledgements.  While one transaction
commits, the next batch accumulates, so the commit rate adapts to the load.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..services import Ingest, Prepared
from ..store import WriteResult

log = logging.getLogger(__name__)

AfterCommit = Callable[[Sequence[Prepared], Sequence[WriteResult]], None]
Done = Callable[[Sequence[Prepared], Sequence[WriteResult] | None, BaseException | None], None]
Call = tuple[Done, Sequence[Prepared], Sequence[WriteResult] | None, BaseException | None]


@dataclass(slots=True)
class CommitStats:
    batches: int = 0
    records: int = 0
    failures: int = 0
    largest_batch: int = 0


class GroupCommitter:
    def __init__(
        self,
        ingest: Ingest,
        loop: asyncio.AbstractEventLoop,
        *,
        max_batch: int = 5000,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.ingest = ingest
        self.after_commit = after_commit  # called on the writer thread after each commit (must not block)
        self.loop = loop
        self.max_batch = max_batch
        self.stats = CommitStats()
        self._cond = threading.Condition()
        self._pending: deque[tuple[Sequence[Prepared], Done]] = deque()
        self._staged: list[tuple[Sequence[Prepared], Done]] = []  # gathered on the loop, handed over together
        self._pending_records = 0
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="envtrust-writer", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        return self._pending_records

    def submit(self, records: Sequence[Prepared], done: Done) -> None:
        """Queue records from the event loop; they reach the writer once per loop iteration, all together."""
        if self._closing:
            raise RuntimeError("committer is closed")
        if not self._staged:
            self.loop.call_soon(self._hand_over)
        self._staged.append((records, done))

    def hand_over_now(self) -> None:
        """Give the writer what the loop has gathered so far (on the loop's thread)."""
        if self._staged:
            self._hand_over()

    def _hand_over(self) -> None:
        if not self._staged:
            return
        staged, self._staged = self._staged, []
        with self._cond:
            self._pending.extend(staged)
            self._pending_records += sum(len(r) for r, _ in staged)
            self._idle.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._idle.set()
                    self._cond.wait()
                if not self._pending and self._closing:
                    self._idle.set()
                    return
                work: list[tuple[Sequence[Prepared], Done]] = []
                n = 0
                while self._pending and (n == 0 or n + len(self._pending[0][0]) <= self.max_batch):
                    item = self._pending.popleft()
                    work.append(item)
                    n += len(item[0])
                self._pending_records -= n
            flat = [p for records, _ in work for p in records]
            results: Sequence[WriteResult]
            try:
                results = self.ingest.record(flat)
                error: BaseException | None = None
            except BaseException as exc:  # the store failed: nobody is acknowledged
                log.error("commit of %d records failed: %s", len(flat), exc)
                results, error = [], exc
                self.stats.failures += 1
            if error is None and self.after_commit is not None:
                try:
                    self.after_commit(flat, results)
                except Exception:  # checking is downstream of durability: it never fails a commit
                    log.exception("after-commit hook failed")
            self.stats.batches += 1
            self.stats.records += len(flat)
            self.stats.largest_batch = max(self.stats.largest_batch, len(flat))
            i = 0
            calls: list[Call] = []
            for records, done in work:
                part = results[i : i + len(records)] if error is None else None
                i += len(records)
                calls.append((done, records, part, error))
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(_deliver, calls)

    async def drain(self, timeout: float = 30.0) -> None:
        """On the loop: commit what was handed over, stop the writer, and let its last acknowledgements run."""
        self.hand_over_now()
        await asyncio.to_thread(self.close)

    def close(self, timeout: float | None = None) -> None:
        """Commit everything handed over so far, then stop the writer thread (call :meth:`hand_over_now` first
        on the loop's thread)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)


def _deliver(
    calls: list[tuple[Done, Sequence[Prepared], Sequence[WriteResult] | None, BaseException | None]],
) -> None:
    for done, records, results, error in calls:
        try:
            done(records, results, error)
        except Exception:  # a closed connection must not stop the others
            log.exception("delivering acknowledgements failed")
