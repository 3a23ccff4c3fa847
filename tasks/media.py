"""Tasks that look at the file itself: probe it and decide what it needs, extract its sound track."""

from __future__ import annotations

from prefect import get_run_logger

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FileJob
from reelmind.stages import Stage, StageResult
from tasks.common import log_stage, stage_task


@stage_task(Stage.PROBE, "{path}")
def plan_file(path: str, settings: Settings) -> FileJob:
    """Probe the media, read its sidecar, and compare with the database: full run, metadata update or skip."""
    job = pipeline.plan_file(path, settings)
    info = job.info
    get_run_logger().info("%s: %s: %.1f s, audio=%s video=%s %sx%s, action=%s", path, Stage.PROBE, info.duration_s,
                          info.audio_codec, info.video_codec, info.width, info.height, job.action)
    return job


@stage_task(Stage.AUDIO, "{job.video_id}")
def extract_sound(job: FileJob) -> StageResult:
    """16 kHz mono WAV of the sound track."""
    return log_stage(job, pipeline.extract_sound(job))
