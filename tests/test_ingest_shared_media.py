"""The ingest flow (real Prefect, LanceDB and models) on the real clips in ../shared/media."""

from __future__ import annotations

from pathlib import Path

from reelmind.records import FrameRecord, SegmentRecord
from reelmind.search import search
from reelmind.store import Store

from helpers import settings_for


def _by_file(report):
    return {Path(v.path).name: v for v in report.videos}


def test_every_real_clip_ingests(shared_db):
    db, report = shared_db
    assert report.failures == []
    videos = _by_file(report)
    assert set(videos) == {"big_buck_bunny_0_30.webm", "big_buck_bunny_small_6ch.mp4", "chinese_zijide_jiao.flac",
                           "jfk.flac", "jfk_speech_over_bbb_frames.mp4", "multilingual.mp3"}
    assert videos["jfk.flac"].language == "en" and videos["jfk.flac"].n_frames == 0  # audio only: no picture branch
    assert videos["chinese_zijide_jiao.flac"].language == "zh"
    assert videos["big_buck_bunny_0_30.webm"].n_segments == 0  # music: no invented speech
    assert videos["big_buck_bunny_0_30.webm"].n_frames >= 3   # several shots in 30 s
    assert videos["big_buck_bunny_small_6ch.mp4"].n_frames >= 1


def test_jfk_is_found_first_with_its_moment(shared_db):
    db, _ = shared_db
    hits = search("ask not what your country can do", settings_for(db), k=3)
    assert "jfk" in Path(hits[0].path).name
    assert hits[0].match == "speech"
    assert hits[0].start is not None and 0 <= hits[0].start < hits[0].end <= 11.5
    assert "ask not what your country" in hits[0].text.lower()


def test_rows_are_complete(shared_db):
    db, _ = shared_db
    store = Store.open(db)
    row = store.video(next(v["id"] for v in store.videos(["id", "path"]) if v["path"].endswith("frames.mp4")))
    assert row.has_audio and row.has_video and row.width == 640 and row.fps == 24.0
    assert len(row.text_vector) == 384 and len(row.visual_vector) == 1280
    assert row.n_segments == len(store.children(SegmentRecord, row.id, row.rev))
    frames = store.children(FrameRecord, row.id, row.rev)
    assert len(frames) == row.n_frames and all(Path(f["thumbnail_path"]).is_file() for f in frames)
    assert list(Path(db).parent.joinpath("work").glob("*/*")) == []  # work folders and their locks are cleaned up


def test_unchanged_reingest_does_no_model_work(shared_db):
    from flows.ingest import ingest

    db, first = shared_db
    before = {v["id"]: (v["rev"], v["ingested_at"]) for v in Store.open(db).videos(["id", "rev", "ingested_at"])}
    again = ingest([str(Path(first.videos[0].path).parent)], db=db)
    assert {v.action for v in again.videos} == {"skip"} and again.failures == []
    assert all(v.stage_seconds == {} for v in again.videos)
    after = {v["id"]: (v["rev"], v["ingested_at"]) for v in Store.open(db).videos(["id", "rev", "ingested_at"])}
    assert after == before
