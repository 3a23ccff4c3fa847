"""A full disk during a write: one clear error, and the database stays readable and as it was.

The test mounts a small tmpfs (root only; skipped, saying why, elsewhere) and fills it before the second write.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from reelmind.errors import StoreError
from reelmind.records import SegmentRecord, VectorSpec, VideoRecord
from reelmind.store import Store

from helpers import video_record

SPACES = {"text": VectorSpec("test-text-model", 384), "visual": VectorSpec("test-visual-model", 4)}
FS_SIZE = "8m"
LEFT_FREE = 200_000  # bytes left on the filesystem: less than the second write needs


def _video(video_id: str, n_segments: int) -> tuple[VideoRecord, list[SegmentRecord]]:
    rng = np.random.default_rng(0)
    video = video_record(video_id, n_segments=n_segments, text_vector=rng.standard_normal(384))
    segments = [SegmentRecord(f"{video_id}:{i}", video_id, "r1", i, float(i), i + 1.0, "words " * 40,
                              rng.standard_normal(384)) for i in range(n_segments)]
    return video, segments


@pytest.fixture()
def small_fs(tmp_path):
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'mount failed'}): needs root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_one_line_and_loses_nothing(small_fs):
    db = str(small_fs / "lancedb")
    store = Store(db)
    store.write_video(*_video("kept", 10), [], SPACES)
    stat = os.statvfs(small_fs)
    (small_fs / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - LEFT_FREE))

    with pytest.raises(StoreError) as caught:
        store.write_video(*_video("lost", 2000), [], SPACES)
    assert str(caught.value) == f"{db}: no space left on the device that holds the database; this write was not " \
                                f"committed"

    reopened = Store(db)  # still readable, as it was
    assert [r["id"] for r in reopened.videos(["id"])] == ["kept"]
    assert len(reopened.children(SegmentRecord, "kept", "r1")) == 10
    (small_fs / "filler").unlink()  # space again: the same write now goes through
    reopened.write_video(*_video("lost", 2000), [], SPACES)
    assert sorted(r["id"] for r in reopened.videos(["id"])) == ["kept", "lost"]
