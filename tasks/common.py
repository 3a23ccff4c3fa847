"""What the ingest tasks share: the stage task decorator with its retry policy, and the log line of a stage."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind.errors import MediaError, StoreError
from reelmind.pipeline import FileJob
from reelmind.stages import Stage, StageResult


def retry_unless_bad_input(task, task_run, state) -> bool:
    """Retry transient failures only: bad media and refused writes fail the same way every time."""
    try:
        state.result()
    except (MediaError, StoreError):
        return False
    except Exception:  # noqa: BLE001 - anything else may be transient (I/O, a busy database)
        return True
    return False


def stage_task(stage: Stage, run_name: str):
    """The Prefect task of an ingest stage, named after it; its runs are named `<stage>-<run_name>` (a template
    of the task's parameters). Retried once unless the input is bad; no Prefect caching (see tasks/__init__.py)."""
    return task(name=stage.value, task_run_name=f"{stage}-{run_name}", cache_policy=NO_CACHE, retries=1,
                retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input)


def log_stage(job: FileJob, result: StageResult, detail: str = "") -> StageResult:
    """One line per finished stage: the file, the stage, its seconds, and the model it ran."""
    model = f" with {result.model}" if result.model else ""
    get_run_logger().info("%s: %s done in %.1f s%s%s", job.info.path, result.stage, result.seconds, model,
                          f" ({detail})" if detail else "")
    return result
