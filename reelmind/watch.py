"""Watch a folder for uploads and announce each new media file once it is completely written.

A file is announced (by default as a Prefect event `video.uploaded`, which the ingest deployment is triggered by)
when:
- its name is not a temporary or partial one (`.part`, `.crdownload`, `.tmp`, dot-files, ...);
- its size and modification time have not changed for `settle_s` seconds;
- no process on this machine still has it open for writing (Linux: /proc/*/fdinfo);
- its content has not been announced before. Announced content hashes are kept in a state file, so a restarted
  watcher neither repeats old files nor misses the ones that arrived while it was down.

The files that become ready in one scan are announced together, as one event listing them all (up to
MAX_PATHS_PER_EVENT), so a burst of uploads starts one ingest run, which loads the models once and keeps both cores
busy, instead of one run (and one model load) per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reelmind.files import write_text_atomic
from reelmind.probe import content_hash, find_media_files, open_for_writing

EVENT_NAME = "video.uploaded"
# Paths in one event, and so in one ingest run: each video is one of the event's related resources, of which
# Prefect takes at most 100 (a larger event is refused); a folder of 10,000 new files becomes 100 runs.
MAX_PATHS_PER_EVENT = 100
# Polling, not inotify: it works the same on local disks, network mounts and object-store fuse mounts.
POLL_S = 1.0


@dataclass(frozen=True)
class Upload:
    path: str
    content_hash: str
    size_bytes: int

    @property
    def video_id(self) -> str:
        return self.content_hash[:16]


def upload_event(uploads: list[Upload]) -> dict:
    """The `video.uploaded` event (its `emit_event` arguments) for uploads that became ready together: the payload
    lists their paths (the ingest trigger passes them on), and each video is a related resource, so the event shows
    which ones."""
    ids = [u.video_id for u in uploads]
    if len(ids) == 1:
        resource = {"prefect.resource.id": f"video.{ids[0]}", "prefect.resource.name": Path(uploads[0].path).name}
    else:
        digest = hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]
        resource = {"prefect.resource.id": f"video.batch.{digest}", "prefect.resource.name": f"{len(ids)} files"}
    return {"event": EVENT_NAME, "resource": resource,
            "related": [{"prefect.resource.id": f"video.{u.video_id}", "prefect.resource.role": "video",
                         "prefect.resource.name": Path(u.path).name} for u in uploads],
            "payload": {"paths": [u.path for u in uploads],
                        "videos": [{"path": u.path, "content_hash": u.content_hash, "size_bytes": u.size_bytes}
                                   for u in uploads]}}


def emit_prefect_event(uploads: list[Upload]) -> None:
    from prefect.events import emit_event

    if emit_event(**upload_event(uploads)) is None:
        # Prefect logs why and returns nothing: raise, so that the watcher announces these files again
        raise RuntimeError(f"{EVENT_NAME}: Prefect did not take the event for {len(uploads)} file(s)")


@dataclass
class UploadWatcher:
    folder: Path
    state_file: Path
    settle_s: float = 2.0
    emit: Callable[[list[Upload]], None] = emit_prefect_event
    announced: set[str] = field(default_factory=set)
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # path -> (size, mtime_ns, since)

    def __post_init__(self) -> None:
        self.folder, self.state_file = Path(self.folder), Path(self.state_file)
        if self.state_file.is_file():
            self.announced = set(json.loads(self.state_file.read_text()).get("announced", []))

    def _save(self) -> None:
        state = {"folder": str(self.folder), "announced": sorted(self.announced)}
        write_text_atomic(self.state_file, json.dumps(state))

    def poll(self, now: float | None = None) -> list[Upload]:
        """One scan: announce the files that became complete since the last scan."""
        now = time.monotonic() if now is None else now
        ready: dict[str, tuple[str, Upload]] = {}  # content hash -> (the path as found, its upload)
        present = set()
        for path in find_media_files([self.folder]) if self.folder.is_dir() else []:
            present.add(path)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            previous = self._seen.get(path)
            if previous is None or previous[:2] != key:
                self._seen[path] = (*key, now)
                continue
            if previous[2] is None or now - previous[2] < self.settle_s or stat.st_size == 0:
                continue
            if open_for_writing(path):
                continue
            digest = content_hash(path)
            self._seen[path] = (*key, None)  # settled: not looked at again unless it changes
            if digest in self.announced or digest in ready:
                continue
            ready[digest] = (path, Upload(str(Path(path).resolve()), digest, stat.st_size))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        found = list(ready.values())
        for start in range(0, len(found), MAX_PATHS_PER_EVENT):
            batch = found[start:start + MAX_PATHS_PER_EVENT]
            try:
                self.emit([upload for _path, upload in batch])
            except BaseException:
                for path, _upload in found[start:]:  # not announced: the next scan takes them up again
                    self._seen.pop(path, None)
                raise
            self.announced.update(upload.content_hash for _path, upload in batch)
            self._save()
        return [upload for _path, upload in found]

    def run(self, stop: Callable[[], bool] = lambda: False, poll_s: float = POLL_S) -> None:
        while not stop():
            self.poll()
            time.sleep(poll_s)
