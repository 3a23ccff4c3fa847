"""Batched writes: one commit per table for many videos, with the per-video guarantees of one write each."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from reelmind.errors import StoreError
from reelmind.records import FrameRecord, SegmentRecord, VectorSpec
from reelmind.store import Store

from helpers import video_record

DIM = 8
SPACES = {"text": VectorSpec("test:text", DIM), "visual": VectorSpec("test:visual", DIM)}


def _vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _item(video_id: str, rev: str = "r1", n_segments: int = 3, path: str | None = None, seed: int = 0):
    video = video_record(video_id, rev=rev, n_segments=n_segments, text_vector=_vector(seed),
                         **({"path": path} if path else {}))
    segments = [SegmentRecord(f"{video_id}:{i}", video_id, rev, i, float(i), i + 1.0, f"{video_id} said {i}",
                              _vector(seed + i + 1)) for i in range(n_segments)]
    frames = [FrameRecord(f"{video_id}:0", video_id, rev, 0.0, 0, "", [], "", "", "", _vector(seed), _vector(seed))]
    return video, segments, frames


def _children(store: Store, table: str) -> list[tuple[str, str]]:
    return sorted((r["video_id"], r["rev"]) for r in store.table(table).search().select(["video_id", "rev"])
                  .limit(None).to_list())


def test_a_batch_is_one_commit_per_table(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.write_videos([_item("first")], SPACES)  # creates the tables and their indexes
    before = {t: store.table(t).version for t in ("videos", "segments", "frames")}
    store.write_videos([_item(f"v{i}", seed=10 * i) for i in range(20)], SPACES)
    assert {t: store.table(t).version - before[t] for t in before} == {"videos": 1, "segments": 1, "frames": 1}
    assert store.table("videos").count_rows() == 21 and store.table("segments").count_rows() == 63


def test_concurrent_writers_share_commits_and_each_gets_its_own_outcome(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.write_video(*_item("old", path="/media/shared.mp4"), SPACES)
    before = store.table("videos").version
    start, results, errors = threading.Barrier(12), {}, {}

    def write(i: int) -> None:
        start.wait()
        path = "/media/shared.mp4" if i == 0 else None
        spaces = SPACES if i != 11 else {"text": VectorSpec("another:model", DIM), "visual": SPACES["visual"]}
        try:
            results[i] = store.write_video(*_item(f"v{i}", path=path, seed=i), spaces)
        except StoreError as exc:
            errors[i] = str(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(errors) == [11] and "another:model" in errors[11]  # only the writer whose model differs
    assert results[0] == ["old"] and all(results[i] == [] for i in range(1, 11))
    ids = sorted(r["id"] for r in store.videos(["id"]))
    assert ids == sorted(f"v{i}" for i in range(11))  # one row per video; the evicted one is gone
    assert _children(store, "segments") == sorted((f"v{i}", "r1") for i in range(11) for _ in range(3))
    assert store.table("videos").version - before < 11  # fewer commits than videos


def test_a_video_given_twice_in_a_batch_is_written_as_its_last(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.write_videos([_item("v1", "r1", n_segments=3), _item("v1", "r2", n_segments=1)], SPACES)
    assert [r["rev"] for r in store.videos(["rev"])] == ["r2"]
    assert _children(store, "segments") == [("v1", "r2")]


def test_an_interrupted_batch_is_invisible_then_completed(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.write_videos([_item("a", "r1"), _item("b", "r1")], SPACES)
    # A crash after a batch's children were added, before its videos upsert (the commit):
    store.table("segments").add([s.to_row() for v in ("a", "b", "c") for s in _item(v, "r2")[1]])
    committed = {r["id"]: r["rev"] for r in store.videos(["id", "rev"])}
    assert committed == {"a": "r1", "b": "r1"}  # readers join on (video id, rev): the r2 rows are not seen
    assert [s["rev"] for s in store.children(SegmentRecord, "a", "r1")] == ["r1"] * 3

    # The re-run commits the batch again and sweeps every leftover of the interrupted one.
    store.write_videos([_item(v, "r3") for v in ("a", "b", "c")], SPACES)
    assert _children(store, "segments") == sorted((v, "r3") for v in ("a", "b", "c") for _ in range(3))
    assert _children(store, "frames") == [("a", "r3"), ("b", "r3"), ("c", "r3")]


def test_a_failed_batch_raises_in_every_caller_and_commits_no_video(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.write_videos([_item("a")], SPACES)
    wrong = {"text": VectorSpec("test:text", DIM * 2), "visual": SPACES["visual"]}
    with pytest.raises(StoreError, match="dim 8.*refusing.*dim 16"):
        store.write_videos([_item("b"), _item("c")], wrong)
    assert [r["id"] for r in store.videos(["id"])] == ["a"]
