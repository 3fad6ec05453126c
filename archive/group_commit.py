"""Group commit: concurrent single-document ingests share one batch.

Each signed version reaches the archive through its own call (one per request
thread). Alone, a call costs two transactions and one serialised audit-head
lock. Calls that arrive while a batch is running queue up; the next free caller
takes the whole queue (up to ``max_batch``) through the batch path and every
caller gets its own receipt, each acknowledged only once its batch committed.
An idle call runs at once as a batch of one, so nothing waits for company.
If a batch fails, its documents are retried one by one, so one bad document
never fails the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Receipt = TypeVar("Receipt")


class GroupCommit(Generic[Item, Receipt]):
    def __init__(self, run_batch: Callable[[Sequence[Item]], list[Receipt]], *,
                 max_batch: int = 64) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[tuple[Item, Future[Receipt]]] = []
        self._leading = False

    def submit(self, item: Item) -> Receipt:
        """Ingest ``item`` in the next batch; returns once that batch is committed."""
        done: Future[Receipt] = Future()
        with self._cond:
            self._queue.append((item, done))
            while not done.done():
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch = self._queue[:self._max_batch]
                del self._queue[:self._max_batch]
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
        return done.result()

    def _run(self, batch: list[tuple[Item, Future[Receipt]]]) -> None:
        try:
            self._run_isolated(batch)
        except BaseException as e:  # interrupted: no caller may wait for ever
            for _, done in batch:
                if not done.done():
                    done.set_exception(e)
            raise

    def _run_isolated(self, batch: list[tuple[Item, Future[Receipt]]]) -> None:
        try:
            receipts = self._run_batch([item for item, _ in batch])
        except Exception as e:  # noqa: BLE001 - handed to the waiting callers
            if len(batch) == 1:
                batch[0][1].set_exception(e)
                return
            for item, done in batch:  # isolate the document that failed
                try:
                    done.set_result(self._run_batch([item])[0])
                except Exception as one:  # noqa: BLE001 - raised in its caller
                    done.set_exception(one)
            return
        for (_, done), receipt in zip(batch, receipts, strict=True):
            done.set_result(receipt)
