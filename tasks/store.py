"""The last stage: merge the document, embed the texts, commit to LanceDB; and recording failures."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FULL, METADATA, FileJob, VideoSummary
from reelmind.store import Store
from tasks.common import RETRIES


@task(name="store", task_run_name="store-{job.video_id}", cache_policy=NO_CACHE, **RETRIES)
def store_file(job: FileJob, transcript_json: str | None, frames_json: str | None,
               settings: Settings) -> VideoSummary:
    if job.action == FULL:
        summary = pipeline.store_file(job, transcript_json, frames_json, settings)
    elif job.action == METADATA:
        summary = pipeline.update_metadata(job, settings)
    else:
        summary = pipeline.skipped_summary(job)
    get_run_logger().info("%s: %s (%s)", job.info.path, summary.title, summary.action)
    return summary


@task(name="record-failure", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def record_failure(path: str, reason: str, stage: str, settings: Settings) -> None:
    Store.open(settings.db).record_failure(path, reason, stage)
    get_run_logger().error("%s: %s (stage %s)", path, reason, stage)
