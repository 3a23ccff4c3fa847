"""The last stage: merge the document, embed the texts, commit to LanceDB (or, for a file whose sidecar alone
changed, re-embed its document); and recording failures."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FileJob, VideoSummary
from reelmind.stages import Stage, StageResult
from reelmind.store import Store
from tasks.common import stage_task


def _log(summary: VideoSummary) -> VideoSummary:
    get_run_logger().info("%s: %s done: %s (%s)", summary.path, Stage.STORE, summary.title, summary.action)
    return summary


@stage_task(Stage.STORE, "{job.video_id}")
def store_file(job: FileJob, results: list[StageResult], settings: Settings) -> VideoSummary:
    """A file the models ran on: `results` are the model branches' stage results."""
    return _log(pipeline.store_file(job, results, settings))


@stage_task(Stage.STORE, "metadata-{job.video_id}")
def update_metadata(job: FileJob, settings: Settings) -> VideoSummary:
    """A file whose media is unchanged but whose sidecar (or path) changed: no model but the text embedding."""
    return _log(pipeline.update_metadata(job, settings))


@task(name="record-failure", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def record_failure(path: str, reason: str, stage: str, settings: Settings) -> None:
    Store.open(settings.db).record_failure(path, reason, stage)
    get_run_logger().error("%s: %s (stage %s)", path, reason, stage)


@task(name="clear-failures", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def clear_failures(paths: list[str], settings: Settings) -> None:
    """Files that failed before and are fine now (stored, updated or unchanged) keep no failure on record."""
    Store.open(settings.db).clear_failures(paths)
