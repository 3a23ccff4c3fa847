"""The API's answer cache: an answer is reused only while the tables it was computed from are unchanged, and the
least recently used answers go first. A real LanceDB database, no model: fast tier."""

from __future__ import annotations

from datetime import UTC, datetime

from reelmind.api import AnswerCache
from reelmind.events import make_event, write_events
from reelmind.records import EventRecord
from reelmind.store import Store


def test_answers_are_reused_until_a_table_they_read_changes(tmp_path):
    store = Store.open(str(tmp_path / "lancedb"))
    cache = AnswerCache(lambda: store, [EventRecord.table], size=2)
    computed = []

    def answer(value):
        def compute():
            computed.append(value)
            return {"value": value}
        return compute

    assert cache.get(("a",), answer(1)) == {"value": 1}  # no table yet: a version of its own
    assert cache.get(("a",), answer(2)) == {"value": 1} and computed == [1]
    write_events(store, [make_event("u", "v", "view", datetime(2026, 1, 1, tzinfo=UTC))])  # the table appears
    assert cache.get(("a",), answer(3)) == {"value": 3}
    assert cache.get(("a",), answer(4)) == {"value": 3}
    write_events(store, [make_event("u", "v", "like", datetime(2026, 1, 2, tzinfo=UTC))])  # a new version
    assert cache.get(("a",), answer(5)) == {"value": 5} and computed == [1, 3, 5]
    # two answers kept: a third request drops the least recently used one
    cache.get(("b",), answer(6))
    cache.get(("a",), answer(7))  # a is used again: b is now the oldest
    cache.get(("c",), answer(8))
    assert cache.get(("a",), answer(9)) == {"value": 5}
    assert cache.get(("b",), answer(10)) == {"value": 10} and computed == [1, 3, 5, 6, 8, 10]
