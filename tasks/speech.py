"""Speech-to-text task."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FileJob
from tasks.common import RETRIES


@task(name="transcribe", task_run_name="transcribe-{job.video_id}", cache_policy=NO_CACHE, **RETRIES)
def transcribe_sound(job: FileJob, audio_json: str | None, settings: Settings) -> str | None:
    """Path of the transcript JSON (segments, language), or None when there is no sound to transcribe."""
    if audio_json is None:
        return None
    out = pipeline.transcribe_sound(job, audio_json, settings)
    data = json.loads(Path(out).read_text())
    get_run_logger().info("%s: %d segments, language %s, %.1f s", job.info.path, len(data["segments"]),
                          data["language"], data["seconds"])
    return out
