"""Picture tasks: sample frames at shot changes, then describe them."""

from __future__ import annotations

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FileJob
from reelmind.stages import Stage, StageResult
from tasks.common import log_stage, stage_task


@stage_task(Stage.FRAMES, "{job.video_id}")
def sample_picture(job: FileJob, settings: Settings) -> StageResult:
    """The list of sampled frames and thumbnails."""
    return log_stage(job, pipeline.sample_picture(job, settings))


@stage_task(Stage.VISION, "{job.video_id}")
def describe_picture(job: FileJob, samples: StageResult, settings: Settings) -> StageResult:
    """The frame descriptions (visual vectors, labels or captions, on-screen text)."""
    return log_stage(job, pipeline.describe_picture(job, samples, settings))
