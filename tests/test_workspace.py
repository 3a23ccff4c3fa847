"""Work folders: one user at a time, across threads and processes, and free again when their user dies."""

from __future__ import annotations

import subprocess
import sys

from reelmind.config import load_settings
from reelmind.workspace import db_key, release, try_claim, video_thumbnails_dir, video_work_dir


def test_sibling_databases_get_their_own_folders(tmp_path, monkeypatch):
    one, two = (load_settings(db=str(tmp_path / name)) for name in ("one", "two"))
    assert video_work_dir(one, "v1") != video_work_dir(two, "v1")
    assert video_thumbnails_dir(one, "v1") != video_thumbnails_dir(two, "v1")
    monkeypatch.chdir(tmp_path)
    assert db_key("one") == db_key(str(tmp_path / "one"))  # one database, however it is named


def test_one_claim_at_a_time_then_free(tmp_path):
    work = tmp_path / "work" / "v1"
    first = try_claim(work)
    assert first is not None and try_claim(work) is None  # a second claim in the same process waits its turn
    work.mkdir()
    (work / "audio.json").write_text("{}")
    release(first, finished=False)  # interrupted: the outputs stay for a resume
    again = try_claim(work)
    assert again is not None and (work / "audio.json").is_file()
    release(again, finished=True)
    assert not work.exists() and not work.with_name("v1.lock").exists()


def test_a_dead_owner_frees_the_folder(tmp_path):
    work = tmp_path / "work" / "v1"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from reelmind.workspace import try_claim
claim = try_claim({str(work)!r})
print("held" if claim else "refused", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert try_claim(work) is None
    finally:
        holder.kill()
        holder.wait()
    claim = try_claim(work)
    assert claim is not None
    release(claim, finished=True)
