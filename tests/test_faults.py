"""Faults: the Prefect server restarting in the middle of an ingest; running again completes the work, no duplicates.
(A worker killed mid-ingest is tests/test_crash_resume.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from reelmind.service import start_server, stop, wait_healthy
from reelmind.store import Store

from helpers import FIXTURES, REPO, free_port, shared_media

pytestmark = pytest.mark.slow  # real models in subprocesses against a Prefect server


def test_server_restart_mid_ingest(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    for name in ("multilingual.mp3", "big_buck_bunny_0_30.webm"):
        shutil.copy(shared_media(name), media / name)
    for name in ("tomato_soup_recipe.mp4", "space_station_mandarin.mp4"):
        shutil.copy(FIXTURES / name, media / name)
    port = free_port()
    server, url = start_server(port, tmp_path / "prefect")
    db = str(tmp_path / "lancedb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_API_URL=url, REELMIND_DB=db, REELMIND_WORKERS="1", HF_HUB_OFFLINE="1",
               REELMIND_DATA_DIR=str(tmp_path / "data"))
    try:
        wait_healthy(url, process=server)
        run = subprocess.Popen([sys.executable, "-m", "flows.ingest", str(media)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 240
        while time.time() < deadline and run.poll() is None:
            table = Store(db).table("videos")
            if table is not None and table.count_rows() >= 1:
                break
            time.sleep(0.2)
        stop(server)                                   # the server goes away mid-batch ...
        server, url = start_server(port, tmp_path / "prefect")
        wait_healthy(url, process=server)              # ... and comes back
        try:
            run.wait(timeout=240)                      # the interrupted run ends, one way or another
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()

        again = subprocess.run([sys.executable, "-m", "flows.ingest", str(media)], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=400)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    finally:
        stop(server)
    store = Store(db)
    videos = store.videos(["id", "rev", "n_segments", "n_frames"])
    assert len(videos) == len({v["id"] for v in videos}) == 4
    for video in videos:
        for table, count in (("segments", "n_segments"), ("frames", "n_frames")):
            rows = store.table(table).search().where(f"video_id = '{video['id']}'").limit(None).to_list()
            assert len(rows) == video[count] and {r["rev"] for r in rows} <= {video["rev"]}
