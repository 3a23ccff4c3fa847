"""GroupBatcher: callers from many threads share batches, and one bad item fails only its own caller."""

from __future__ import annotations

import threading
import time

from reelmind.batching import GroupBatcher


def run_while_busy(run, calls: dict[str, list]) -> tuple[list[list], dict[str, object]]:
    """Start caller "first" alone; while its batch runs, queue every other caller; then let it finish. Returns the
    batches run and each caller's results (or the error it raised)."""
    first_running, release = threading.Event(), threading.Event()
    batches = []

    def blocking(items):
        batches.append(list(items))
        if len(batches) == 1:
            first_running.set()
            release.wait(5)
        return run(items)

    batcher = GroupBatcher(blocking)
    outcome = {}

    def call(name):
        try:
            outcome[name] = batcher.run_all(calls[name])
        except Exception as exc:  # noqa: BLE001 - the test looks at which callers failed
            outcome[name] = exc

    threads = [threading.Thread(target=call, args=("first",))]
    threads[0].start()
    first_running.wait(5)
    queued = sum(len(items) for name, items in calls.items() if name != "first")
    threads += [threading.Thread(target=call, args=(name,)) for name in calls if name != "first"]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 5
    while len(batcher._queue) < queued and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(5)
    return batches, outcome


def test_items_queued_while_a_batch_runs_share_the_next_batch():
    batches, outcome = run_while_busy(lambda items: [i.upper() for i in items],
                                      {"first": ["a"], "b": ["b", "b2"], "c": ["c", "c2"], "d": ["d"]})
    assert batches[0] == ["a"]
    assert len(batches) == 2 and sorted(batches[1]) == ["b", "b2", "c", "c2", "d"]
    assert outcome == {"first": ["A"], "b": ["B", "B2"], "c": ["C", "C2"], "d": ["D"]}


def test_a_failing_item_fails_only_its_caller():
    def run(items):
        if "bad" in items:
            raise ValueError("cannot decode bad")
        return [len(item) for item in items]

    batches, outcome = run_while_busy(run, {"first": ["x"], "good": ["good", "fine"], "broken": ["bad"]})
    assert sorted(batches[1]) == ["bad", "fine", "good"]  # shared a batch, which failed; then each ran alone
    assert outcome["first"] == [1] and outcome["good"] == [4, 4]
    assert isinstance(outcome["broken"], ValueError)
