"""Retry policy shared by the ingest tasks."""

from __future__ import annotations

from reelmind.errors import MediaError, StoreError


def retry_unless_bad_input(task, task_run, state) -> bool:
    """Retry transient failures only: bad media and refused writes fail the same way every time."""
    try:
        state.result()
    except (MediaError, StoreError):
        return False
    except Exception:  # noqa: BLE001 - anything else may be transient (I/O, a busy database)
        return True
    return False


RETRIES = dict(retries=1, retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input)
