"""A crash mid-ingest (the process killed) leaves no half-written video; running again completes the work."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from reelmind.store import Store

from helpers import REPO, shared_media

pytestmark = pytest.mark.slow  # real models in subprocesses against a Prefect server


def _committed(db: str) -> list[dict]:
    try:
        return Store(db).videos(["id", "rev", "n_segments", "n_frames"])
    except Exception:  # noqa: BLE001 - the tables may not exist yet
        return []


def test_killed_ingest_resumes_without_duplicates(prefect_api, tmp_path):
    from prefect.settings import PREFECT_API_URL

    from flows.ingest import ingest

    media = tmp_path / "media"
    media.mkdir()
    for name in ("jfk.flac", "big_buck_bunny_0_30.webm", "multilingual.mp3", "jfk_speech_over_bbb_frames.mp4"):
        shutil.copy(shared_media(name), media / name)
    db = str(tmp_path / "lancedb")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "REELMIND_DB": db, "REELMIND_WORKERS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "flows.ingest", str(media)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not _committed(db) and proc.poll() is None:
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = _committed(db)
    assert 1 <= len(first) < 4, "the kill should land mid-batch"

    report = ingest([str(media)], db=db)
    assert report.failures == [] and len(report.videos) == 4
    assert {v.action for v in report.videos if v.video_id in {r["id"] for r in first}} == {"skip"}

    store = Store(db)
    videos = store.videos(["id", "rev", "n_segments", "n_frames"])
    assert len(videos) == len({v["id"] for v in videos}) == 4
    for video in videos:  # every child row belongs to its video's committed revision: no leftovers, no duplicates
        for table, count in (("segments", "n_segments"), ("frames", "n_frames")):
            rows = store.table(table).search().where(f"video_id = '{video['id']}'").limit(None).to_list()
            assert len(rows) == video[count] and {r["rev"] for r in rows} <= {video["rev"]}
