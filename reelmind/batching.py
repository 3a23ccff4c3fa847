"""Work that many threads hand in, run in shared batches: group commit (the store's writes).

A caller queues its items and waits; whoever holds the lock runs every queued item in one call, then again until
the caller's own items are done. Items queued while a batch runs are taken by the next one,
so under load the batches fill up, and a lone caller waits for nobody (no timer, no added latency).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Ticket(Generic[Item, Result]):
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item: Item) -> None:
        self.item, self.result, self.error, self.done = item, None, None, False


class GroupBatcher(Generic[Item, Result]):
    def __init__(self, run: Callable[[list[Item]], Sequence[Result]]) -> None:
        """`run`: one result per item, in order."""
        self._run = run
        self._queue: list[_Ticket] = []
        self._queue_lock = threading.Lock()
        self._leader_lock = threading.Lock()

    def run_all(self, items: Sequence[Item]) -> list[Result]:
        """The results of `items`, run in batches with whatever other threads queue meanwhile. An item whose
        batch failed is run again alone, so one bad item fails only its own caller; its error is raised here."""
        tickets = [_Ticket(item) for item in items]
        with self._queue_lock:
            self._queue.extend(tickets)
        try:
            for ticket in tickets:
                while not ticket.done:
                    with self._leader_lock:
                        if not ticket.done:
                            self._run_batch(self._take())
        except BaseException:  # interrupted: its items still queued are dropped
            mine = {id(t) for t in tickets}
            with self._queue_lock:
                self._queue = [t for t in self._queue if id(t) not in mine]
            raise
        for ticket in tickets:
            if ticket.error is not None:
                raise ticket.error
        return [ticket.result for ticket in tickets]

    def _take(self) -> list[_Ticket]:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        return batch

    def _run_batch(self, batch: list[_Ticket]) -> None:
        try:
            results = self._run([t.item for t in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # find the item that failed: each alone
                for ticket in batch:
                    self._run_batch([ticket])
        except BaseException as exc:  # an interrupt: no item is done, and every caller hears of it
            for ticket in batch:
                ticket.error = exc
            raise
        else:
            for ticket, result in zip(batch, results, strict=True):
                ticket.result = result
        finally:
            for ticket in batch:
                ticket.done = True
