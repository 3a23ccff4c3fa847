"""SIGKILL at each ingest stage, then a re-run: the work is completed, with no duplicate rows, no rows of another
revision, no orphan thumbnails and no work folders left.

The ingest runs in a subprocess against the session's Prefect API; the test watches that API for the stage's task
run to be running and kills the whole process group at that moment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from prefect.client.schemas.objects import StateType

from reelmind.config import load_settings
from reelmind.records import FrameRecord, SegmentRecord
from reelmind.stages import Stage
from reelmind.store import Store
from reelmind.workspace import db_key

from helpers import FIXTURES, REPO

pytestmark = pytest.mark.slow  # real models in a subprocess, six times
CLIP = FIXTURES / "tomato_soup_recipe.mp4"  # sound and picture: every stage runs
# Probe runs for a fraction of a second, and the API hears of a task run only after a moment: the probe stage is
# caught as soon as the flow run is running, before any stage has finished.


def _running_stage(stage: Stage, since: datetime) -> bool:
    """Whether a task run of `stage` (for probe: the ingest flow run) that started after `since` is running (runs of
    killed ingests stay "running" in the API forever, hence the time)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
        TaskRunFilter,
        TaskRunFilterName,
        TaskRunFilterStartTime,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )

    running = [StateType.RUNNING]
    with get_client(sync_client=True) as client:
        if stage == Stage.PROBE:
            return bool(client.read_flow_runs(flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(after_=since),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=running)))))
        return bool(client.read_task_runs(task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(like_=f"{stage.value}-"), start_time=TaskRunFilterStartTime(after_=since),
            state=TaskRunFilterState(type=TaskRunFilterStateType(any_=running)))))


@pytest.mark.parametrize("stage", list(Stage))
def test_killed_at_a_stage_then_run_again(prefect_api, tmp_path, stage):
    from prefect.settings import PREFECT_API_URL

    from flows.ingest import ingest

    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(CLIP, media / CLIP.name)
    db = str(tmp_path / "lancedb")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "REELMIND_DB": db}
    since = datetime.now(UTC)
    proc = subprocess.Popen([sys.executable, "-m", "flows.ingest", str(media)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and not _running_stage(stage, since):
            time.sleep(0.05)
        assert proc.poll() is None, f"the ingest finished before its {stage} stage was seen running"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    report = ingest([str(media)], db=db)
    assert report.failures == [] and len(report.videos) == 1

    store = Store(db)
    [row] = store.videos(["id", "rev", "n_segments", "n_frames"])
    for child, count in ((SegmentRecord, "n_segments"), (FrameRecord, "n_frames")):
        rows = store.rows(child, ["rev"], where=f"video_id = '{row['id']}'")
        assert len(rows) == row[count] and {r["rev"] for r in rows} <= {row["rev"]}, (stage, child.table)
    settings = load_settings(db=db)
    thumbnails = sorted(p.name for p in (settings.thumbnails_dir / db_key(db) / row["id"]).iterdir())
    stored = sorted(os.path.basename(f["thumbnail_path"]) for f in store.children(FrameRecord, row["id"], row["rev"]))
    assert thumbnails == stored  # nothing but the committed frames' thumbnails
    assert not any((settings.work_dir / db_key(db)).iterdir())  # no work folder, no lock file
