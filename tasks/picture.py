"""Picture tasks: sample frames at shot changes, then describe them."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FULL, FileJob
from tasks.common import RETRIES


@task(name="sample-frames", task_run_name="sample-frames-{job.video_id}", cache_policy=NO_CACHE, **RETRIES)
def sample_picture(job: FileJob, settings: Settings) -> str | None:
    """Path of the list of sampled frames and thumbnails, or None for audio-only files and unchanged videos."""
    if job.action != FULL or not job.info.has_video:
        return None
    return pipeline.sample_picture(job, settings)


@task(name="describe-frames", task_run_name="describe-frames-{job.video_id}", cache_policy=NO_CACHE, **RETRIES)
def describe_picture(job: FileJob, samples_json: str | None, settings: Settings) -> str | None:
    """Path of the frame descriptions (visual vectors, labels or captions, on-screen text)."""
    if samples_json is None:
        return None
    out = pipeline.describe_picture(job, samples_json, settings)
    get_run_logger().info("%s: frames described", job.info.path)
    return out
