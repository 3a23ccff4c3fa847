"""The upload watcher: complete files only, each content once, across restarts."""

from __future__ import annotations

import shutil

import pytest

from reelmind.watch import UploadWatcher, open_for_writing

from helpers import FIXTURES


def _watcher(tmp_path, got):
    return UploadWatcher(tmp_path / "uploads", tmp_path / "state.json", settle_s=1.0, emit=got.extend)


def test_announces_complete_files_once_and_survives_restart(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    got = []
    watcher = _watcher(tmp_path, got)
    shutil.copy(FIXTURES / "gardening_podcast.mp3", uploads / "a.mp3")
    (uploads / "b.mp4.part").write_bytes(b"partial")             # a download in progress: never announced
    assert watcher.poll(now=0.0) == []                          # first sight: not yet known to be stable
    assert watcher.poll(now=0.5) == []                          # stable for less than settle_s
    [upload] = watcher.poll(now=1.6)
    assert upload.path == str((uploads / "a.mp3").resolve()) and len(upload.content_hash) == 64
    assert watcher.poll(now=5.0) == []                          # never twice
    shutil.copy(FIXTURES / "gardening_podcast.mp3", uploads / "copy-of-a.mp3")
    for t in (6.0, 7.5):
        assert watcher.poll(now=t) == []                        # same content under another name: not again

    restarted = _watcher(tmp_path, got)
    shutil.copy(FIXTURES / "tomato_soup_recipe.mp4", uploads / "new.mp4")  # arrived while it was down
    restarted.poll(now=100.0)
    assert [u.path.split("/")[-1] for u in restarted.poll(now=101.5)] == ["new.mp4"]
    assert [u.path.split("/")[-1] for u in got] == ["a.mp3", "new.mp4"]


def test_a_growing_file_waits(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    got = []
    watcher = _watcher(tmp_path, got)
    data = (FIXTURES / "tomato_soup_recipe.mp4").read_bytes()
    target = uploads / "big.mp4"
    with target.open("wb") as f:
        f.write(data[:1000])
        f.flush()
        watcher.poll(now=0.0)
        assert open_for_writing(target)
        assert watcher.poll(now=2.0) == []                      # size stable, but the writer still has it open
        f.write(data[1000:])
        f.flush()
        assert watcher.poll(now=3.0) == []                      # it grew
    assert not open_for_writing(target)
    watcher.poll(now=3.5)
    assert [u.size_bytes for u in watcher.poll(now=5.0)] == [len(data)]


def test_never_announces_a_path_outside_its_folder(tmp_path):
    """Links inside the upload folder to files or folders outside it (directly or through `..`) are not followed;
    a link to another file inside it is that file, announced once."""
    uploads, private = tmp_path / "uploads", tmp_path / "private"
    uploads.mkdir()
    private.mkdir()
    shutil.copy(FIXTURES / "gardening_podcast.mp3", private / "secret.mp3")
    shutil.copy(FIXTURES / "tomato_soup_recipe.mp4", private / "secret.mp4")
    (uploads / "leak.mp3").symlink_to(private / "secret.mp3")
    (uploads / "leak_dir").symlink_to(private)
    (uploads / "up").symlink_to("..")
    (uploads / "a..b.mp4").symlink_to("../private/secret.mp4")  # `..` in the name and the link
    shutil.copy(FIXTURES / "quarterly_report_silent.mp4", uploads / "ok.mp4")
    (uploads / "alias.mp4").symlink_to("ok.mp4")
    got = []
    watcher = _watcher(tmp_path, got)
    watcher.poll(now=0.0)
    watcher.poll(now=2.0)
    assert [u.path for u in got] == [str(uploads / "ok.mp4")]


def test_files_ready_together_are_announced_in_one_event_and_a_failed_announcement_is_retried(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    events: list[list] = []
    fail = [True]

    def emit(batch):
        if fail[0]:
            fail[0] = False
            raise ConnectionError("the Prefect API is down")
        events.append(batch)

    watcher = UploadWatcher(uploads, tmp_path / "state.json", settle_s=1.0, emit=emit)
    for name in ("gardening_podcast.mp3", "tomato_soup_recipe.mp4", "space_station_mandarin.mp4"):
        shutil.copy(FIXTURES / name, uploads / name)
    shutil.copy(FIXTURES / "gardening_podcast.mp3", uploads / "same-content.mp3")
    watcher.poll(now=0.0)
    with pytest.raises(ConnectionError):
        watcher.poll(now=1.5)
    assert events == [] and not (tmp_path / "state.json").exists()
    watcher.poll(now=2.0)  # seen again: not yet settled since
    ready = watcher.poll(now=3.5)
    assert len(events) == 1 and events[0] == ready  # one event for the whole burst
    assert len(ready) == 3  # the same content under two names is one video
    assert watcher.poll(now=10.0) == []


def test_the_largest_batch_is_an_event_prefect_takes():
    from prefect.events import Event

    from reelmind.watch import MAX_PATHS_PER_EVENT, Upload, upload_event

    uploads = [Upload(f"/up/{i}.mp4", f"{i:064x}", 1) for i in range(MAX_PATHS_PER_EVENT + 1)]
    event = Event(**upload_event(uploads[:MAX_PATHS_PER_EVENT]))
    assert event.payload["paths"] == [u.path for u in uploads[:MAX_PATHS_PER_EVENT]]
    with pytest.raises(ValueError, match="related resources"):  # why batches stop at MAX_PATHS_PER_EVENT
        Event(**upload_event(uploads))
