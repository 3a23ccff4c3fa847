"""Tasks that look at the file itself: probe it and decide what it needs, extract its sound track."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FULL, FileJob
from tasks.common import RETRIES


@task(name="probe", task_run_name="probe-{path}", cache_policy=NO_CACHE, **RETRIES)
def plan_file(path: str, settings: Settings) -> FileJob:
    """Probe the media, read its sidecar, and compare with the database: full run, metadata update or skip."""
    job = pipeline.plan_file(path, settings)
    info = job.info
    get_run_logger().info("%s: %.1f s, audio=%s video=%s %sx%s, action=%s", path, info.duration_s, info.audio_codec,
                          info.video_codec, info.width, info.height, job.action)
    return job


@task(name="extract-audio", task_run_name="extract-audio-{job.video_id}", cache_policy=NO_CACHE, **RETRIES)
def extract_sound(job: FileJob) -> str | None:
    """16 kHz mono WAV of the sound track, or None when the file has none or needs no model run."""
    if job.action != FULL or not job.info.has_audio:
        return None
    return pipeline.extract_sound(job)
