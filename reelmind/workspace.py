"""Where an ingest job keeps its files, and who may use them.

Each database has its own work and thumbnail folders under the data folder (`<data>/work/<db key>/`), so sibling
databases never share one. Inside, a video's work folder holds its stage outputs until the video is committed;
an interrupted run leaves them there and the next run resumes from them.

A work folder has one user at a time: the ingest that claims it holds an exclusive lock on `<video id>.lock`
beside it. The operating system releases the lock when that process dies, however it dies, so a crashed run's
folder is free for the next one, while a second ingest of the same content (another copy of the file in the same
run, or another process) finds it taken and waits its turn instead of deleting files under the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from reelmind.config import Settings

# Hex digits of the database URI's SHA-256 that name its folders: 48 bits, no collision among a user's databases.
DB_KEY_DIGITS = 12
LOCK_SUFFIX = ".lock"


def db_key(uri: str) -> str:
    """A short, stable name for a database: its URI (a local one made absolute), hashed."""
    normalised = uri if "://" in uri else str(Path(uri).absolute())
    return hashlib.sha256(normalised.encode()).hexdigest()[:DB_KEY_DIGITS]


def video_work_dir(settings: Settings, video_id: str) -> Path:
    return settings.work_dir / db_key(settings.db) / video_id


def video_thumbnails_dir(settings: Settings, video_id: str) -> Path:
    return settings.thumbnails_dir / db_key(settings.db) / video_id


@dataclass
class Claim:
    """The right to use one video's work folder, held until `release`."""
    work_dir: Path
    _handle: object

    @property
    def lock_path(self) -> Path:
        return _lock_path(self.work_dir)


def _lock_path(work_dir: Path) -> Path:
    return work_dir.with_name(work_dir.name + LOCK_SUFFIX)


def try_claim(work_dir: str | os.PathLike) -> Claim | None:
    """Claim `work_dir`, or None while another job (in this process or another) has it."""
    work_dir = Path(work_dir)
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = _lock_path(work_dir)
    while True:
        handle = lock_path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        # The finishing owner unlinks the lock file: a lock on the unlinked file guards nothing, so take the new one.
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino:
                return Claim(work_dir, handle)
        handle.close()


def release(claim: Claim, finished: bool) -> None:
    """Give the folder up. `finished`: the video was committed (or needed no work), so its folder and lock file
    go; otherwise they stay for the run that resumes it."""
    if finished:
        shutil.rmtree(claim.work_dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            claim.lock_path.unlink()  # a job waiting on the old lock file re-claims; the video is committed by now
    fcntl.flock(claim._handle, fcntl.LOCK_UN)
    claim._handle.close()
