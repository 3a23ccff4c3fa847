"""Time limits for ingest stages, so that no file holds a batch forever.

A stage runs in a worker thread, which cannot be killed safely from outside (it may be inside a model or a
decoder), so stages stop themselves: `stage_time_limit` sets the running stage's deadline (in a context variable,
which Prefect copies into the task's thread) and the stages' loops call `check_time_limit` between units of work
(an audio chunk, a transcript segment, a decoded frame, an image read for text); past the deadline it raises a
`MediaError` naming the stage and the limit, which fails that file only. Shot detection runs inside PySceneDetect,
whose `SceneManager.stop()` is called by a timer instead (`stop_at_deadline`).

The limit grows with the file: `stage_timeout_s + stage_timeout_per_media_s * duration` (reelmind.config).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from reelmind.errors import MediaError


@dataclass(frozen=True)
class Deadline:
    path: str
    stage: str
    limit_s: float
    at: float  # time.monotonic() value

    def remaining_s(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise MediaError(self.path, f"the {self.stage} stage ran past its time limit of {self.limit_s:.0f} s "
                                        f"(stage_timeout_s + stage_timeout_per_media_s x duration)", self.stage)


_deadline: ContextVar[Deadline | None] = ContextVar("reelmind_stage_deadline", default=None)


@contextmanager
def stage_time_limit(path: str, stage: str, limit_s: float) -> Iterator[Deadline]:
    """Run the body under a deadline `limit_s` seconds from now (the body's loops check it)."""
    deadline = Deadline(str(path), stage, limit_s, time.monotonic() + limit_s)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def check_time_limit() -> None:
    """Raise the running stage's MediaError if it is past its deadline (nothing outside a stage)."""
    deadline = _deadline.get()
    if deadline is not None:
        deadline.check()


@contextmanager
def stop_at_deadline(stop: Callable[[], None]) -> Iterator[None]:
    """Call `stop` (from a timer thread) when the running stage reaches its deadline, for work that cannot check
    it itself; afterwards, the deadline is checked, so stopped work ends in the stage's MediaError."""
    deadline = _deadline.get()
    if deadline is None:
        yield
        return
    timer = threading.Timer(max(deadline.remaining_s(), 0.0), stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
    deadline.check()
