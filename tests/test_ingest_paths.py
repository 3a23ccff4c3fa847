"""Paths and identity: a file moved, copied, named two ways, or changed in place, and the failures table after it.

A video's id is its content; its row holds the one path it was last seen at. These run the real ingest flow on the
small audio fixture (a few seconds of speech).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from reelmind.records import FrameRecord, SegmentRecord
from reelmind.store import Store

from helpers import FIXTURES, REPO

PODCAST = FIXTURES / "gardening_podcast.mp3"
SOUP = FIXTURES / "tomato_soup_recipe.mp4"


def _ingest(paths, db):
    from flows.ingest import ingest

    return ingest([str(p) for p in paths], db=db)


def _rows(db: str) -> list[dict]:
    return Store(db).videos(["id", "path", "rev", "title", "tags", "n_segments"])


def test_a_moved_file_is_found_at_its_new_path(prefect_api, tmp_path):
    """No sidecar travels with it, so its tags become empty: the update must still go through."""
    db = str(tmp_path / "lancedb")
    first = tmp_path / "in" / "podcast.mp3"
    first.parent.mkdir()
    shutil.copy(PODCAST, first)
    shutil.copy(PODCAST.with_name(PODCAST.name + ".json"), first.with_name(first.name + ".json"))
    assert _ingest([first], db).ok
    moved = tmp_path / "archive" / "renamed.mp3"
    moved.parent.mkdir()
    first.rename(moved)
    report = _ingest([moved], db)
    assert report.failures == [] and [v.action for v in report.videos] == ["metadata"]
    [row] = _rows(db)
    assert row["path"] == str(moved) and row["tags"] == [] and row["title"] == "renamed"


def test_a_copy_is_one_video_and_nothing_collides(prefect_api, tmp_path):
    """Two copies of one file, and the same file named relatively and absolutely, in one run and again."""
    db = str(tmp_path / "lancedb")
    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.mp3", "b.mp3"):
        shutil.copy(PODCAST, media / name)
    relative = os.path.relpath(media / "a.mp3")
    report = _ingest([media, relative, media / "a.mp3"], db)
    assert report.failures == [], report.failures
    assert sorted(v.action for v in report.videos) == ["full", "skip"]
    [row] = _rows(db)
    assert row["path"] == str(media / "a.mp3")
    again = _ingest([media], db)
    assert again.failures == [] and {v.action for v in again.videos} == {"skip"}
    assert [r["path"] for r in _rows(db)] == [str(media / "a.mp3")]  # the row does not flip between the copies


def test_new_content_at_a_path_replaces_the_old_video(prefect_api, tmp_path):
    db = str(tmp_path / "lancedb")
    path = tmp_path / "clip.mp3"
    shutil.copy(PODCAST, path)
    assert _ingest([path], db).ok
    [old] = _rows(db)
    shutil.copy(FIXTURES / "space_station_mandarin.mp4", path)  # new content under the same name
    assert _ingest([path], db).ok
    [new] = _rows(db)
    assert new["id"] != old["id"] and new["path"] == str(path)
    leftovers = Store(db).rows(SegmentRecord, ["video_id"], where=f"video_id = '{old['id']}'")
    assert leftovers == []


def test_failures_are_cleared_once_the_file_is_fine(prefect_api, tmp_path, monkeypatch):
    db = str(tmp_path / "lancedb")
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "later.mp3"
    bad.write_bytes(b"")
    assert not _ingest(["later.mp3"], db).ok  # named relatively
    assert [f.path for f in Store(db).failures()] == [str(bad)]
    shutil.copy(PODCAST, bad)
    assert _ingest([bad], db).ok  # and now absolutely
    assert Store(db).failures() == []

    # a stored file that fails once (emptied while being replaced), then comes back unchanged: skipped, and clean
    saved = bad.read_bytes()
    bad.write_bytes(b"")
    assert not _ingest([bad], db).ok
    bad.write_bytes(saved)
    report = _ingest([bad], db)
    assert [v.action for v in report.videos] == ["skip"]
    assert Store(db).failures() == []


def test_sibling_databases_ingest_at_once(prefect_api, tmp_path):
    """Two processes, two databases in one folder, the same file: each gets its video, neither breaks the other."""
    from prefect.settings import PREFECT_API_URL

    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(SOUP, media / SOUP.name)
    dbs = [str(tmp_path / "data" / name) for name in ("one", "two")]
    procs = [subprocess.Popen([sys.executable, "-m", "flows.ingest", str(media)], cwd=REPO,
                              env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "REELMIND_DB": db},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for db in dbs]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for db in dbs:
        [row] = Store(db).videos(["id", "n_frames", "n_segments", "rev"])
        store = Store(db)
        assert row["n_frames"] > 0 and len(store.children(FrameRecord, row["id"], row["rev"])) == row["n_frames"]
        assert len(store.children(SegmentRecord, row["id"], row["rev"])) == row["n_segments"]
    assert not any((tmp_path / "data" / "work").rglob("*.json"))  # every job cleaned up after itself


def test_a_bad_sidecar_is_reported_and_its_video_still_ingested(prefect_api, tmp_path):
    db = str(tmp_path / "lancedb")
    media = tmp_path / "garden_hour.mp3"
    shutil.copy(PODCAST, media)
    sidecar = media.with_name(media.name + ".json")
    sidecar.write_text('{"title": "Garden hour", "tags": ["roses"')  # cut off mid-write
    report = _ingest([media], db)
    assert [v.action for v in report.videos] == ["full"]
    [failure] = report.failures
    assert (failure.path, failure.stage) == (str(sidecar), "metadata") and "not valid JSON" in failure.reason
    assert [r["title"] for r in _rows(db)] == ["garden hour"]
    assert [f.path for f in Store(db).failures()] == [str(sidecar)]

    sidecar.write_text('{"title": "Garden hour", "tags": ["roses"]}')  # fixed
    fixed = _ingest([media], db)
    assert fixed.ok and [v.action for v in fixed.videos] == ["metadata"]
    assert [r["title"] for r in _rows(db)] == ["Garden hour"] and Store(db).failures() == []


def test_two_processes_ingest_the_same_files_into_one_database(prefect_api, tmp_path):
    """They wait for each other on each video's work folder and commit one at a time: one row per video, each with
    exactly its committed revision's children, and both runs succeed."""
    from prefect.settings import PREFECT_API_URL

    media = tmp_path / "media"
    media.mkdir()
    for source in (PODCAST, SOUP):
        shutil.copy(source, media / source.name)
    db = str(tmp_path / "lancedb")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "REELMIND_DB": db}
    procs = [subprocess.Popen([sys.executable, "-m", "flows.ingest", str(media)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    store = Store(db)
    rows = store.videos(["id", "rev", "n_segments", "n_frames"])
    assert len(rows) == len({r["id"] for r in rows}) == 2
    for row in rows:
        assert len(store.children(SegmentRecord, row["id"], row["rev"])) == row["n_segments"]
        assert len(store.children(FrameRecord, row["id"], row["rev"])) == row["n_frames"]
        for child in (SegmentRecord, FrameRecord):  # and no rows of any other revision
            assert {r["rev"] for r in store.rows(child, ["rev"], where=f"video_id = '{row['id']}'")} <= {row["rev"]}
