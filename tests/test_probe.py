"""Probing: real clips are understood; every kind of bad input gets a one-line reason that names the file."""

from __future__ import annotations

import os
import struct
import subprocess
import threading
import time

import pytest

from reelmind.errors import MediaError
from reelmind.probe import find_media_files, probe

from helpers import shared_media


@pytest.mark.slow  # the shared real media
@pytest.mark.parametrize("name, has_audio, has_video, duration", [
    ("big_buck_bunny_0_30.webm", True, True, 30.0),        # VP8 + Vorbis
    ("big_buck_bunny_small_6ch.mp4", True, True, 5.3),     # H.264 + 6-channel AAC
    ("jfk_speech_over_bbb_frames.mp4", True, True, 11.0),
    ("jfk.flac", True, False, 11.0),
    ("chinese_zijide_jiao.flac", True, False, 0.96),
    ("multilingual.mp3", True, False, 59.9),
])
def test_real_clips(name, has_audio, has_video, duration):
    info = probe(shared_media(name), settle_s=0)
    assert (info.has_audio, info.has_video) == (has_audio, has_video)
    assert info.duration_s == pytest.approx(duration, abs=0.1)
    assert len(info.video_id) == 16 and info.content_hash.startswith(info.video_id)
    if has_video:
        assert info.width and info.height and info.fps


def _reason(path, **kw) -> str:
    with pytest.raises(MediaError) as caught:
        probe(path, settle_s=kw.get("settle_s", 0))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return caught.value.reason


def test_missing_file(tmp_path):
    assert _reason(tmp_path / "nope.mp4") == "file not found"


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").touch()
    assert "empty file" in _reason(tmp_path / "empty.mp4")


def test_not_media(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are meeting notes, not a video\n" * 50)
    assert "not a media file" in _reason(path)


@pytest.mark.slow  # the shared real media
def test_truncated_mp4_header(tmp_path):
    data = shared_media("jfk_speech_over_bbb_frames.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])  # this file's index (moov) is at the end: FFmpeg cannot open it
    assert "corrupt or truncated" in _reason(path)


@pytest.mark.slow  # the shared real media
def test_truncated_webm_tail(tmp_path):
    data = shared_media("big_buck_bunny_0_30.webm").read_bytes()
    path = tmp_path / "cut.webm"
    path.write_bytes(data[: len(data) * 6 // 10])  # opens fine; the data just stops
    assert "truncated" in _reason(path)


def test_unsupported_codec(tmp_path):
    samples = bytes(32000)
    fmt = struct.pack("<HHIIHH", 0x9999, 1, 16000, 32000, 2, 16)  # a WAV format tag no decoder knows
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    path = tmp_path / "odd.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert "unsupported audio codec" in _reason(path)


def test_no_streams(tmp_path):
    import imageio_ffmpeg

    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nhello\n")
    path = tmp_path / "subtitles_only.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(srt), str(path)], check=True)
    assert _reason(path) == "no audio or video stream"


def test_partial_download_name(tmp_path):
    path = tmp_path / "movie.mp4.part"
    path.write_bytes(b"\0" * 100)
    assert "partial" in _reason(path)


@pytest.mark.slow  # the shared real media
@pytest.mark.parametrize("name", ["big_buck_bunny_0_30.webm", "multilingual.mp3"])
def test_cut_within_the_last_few_percent(name, tmp_path):
    """3% of the bytes missing (a second or so of media): it still opens and its header states the full length."""
    data = shared_media(name).read_bytes()
    path = tmp_path / f"cut-{name}"
    path.write_bytes(data[: len(data) * 97 // 100])
    assert "truncated" in _reason(path)


def test_a_writer_that_paused_is_still_writing(tmp_path):
    """Not modified for longer than the settle time, but a process still holds it open for writing."""
    path = tmp_path / "upload.mp3"
    with path.open("wb") as f:
        f.write(b"\0" * 1000)
        f.flush()
        old = time.time() - 60
        os.utime(path, (old, old))
        assert "still being written" in _reason(path, settle_s=2)
    assert "still being written" not in _reason(path, settle_s=2)


def test_file_still_being_written(tmp_path):
    path = tmp_path / "uploading.mp4"
    path.write_bytes(b"\0" * 1000)
    stop = threading.Event()

    def writer():
        with path.open("ab") as f:
            while not stop.is_set():
                f.write(b"\0" * 1000)
                f.flush()
                time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert "still being written" in _reason(path, settle_s=0.5)
    finally:
        stop.set()
        thread.join()


def test_folder_scan_keeps_media_only(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.flac").write_bytes(b"x")
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "c.mp4.json").write_text("{}")
    (tmp_path / "d.mp4.part").write_bytes(b"x")
    found = find_media_files([tmp_path, tmp_path / "README.md"])
    assert [p.split("/")[-1] for p in found] == ["a.mp4", "b.flac", "README.md"]


def test_media_errors_survive_pickling():
    """A failure raised in another process (a Dask worker) keeps its file, reason and stage."""
    import pickle

    from reelmind.errors import MediaError

    error = pickle.loads(pickle.dumps(MediaError("/m/a.mp4", "file not found", "audio")))
    assert (error.path, error.reason, error.stage, str(error)) == ("/m/a.mp4", "file not found", "audio",
                                                                   "/m/a.mp4: file not found")


@pytest.mark.slow  # the shared real media
def test_limits_on_duration_and_picture():
    clip = shared_media("big_buck_bunny_0_30.webm")  # 30 s, 1280x720
    with pytest.raises(MediaError, match=r"30 s long, over the 20 s limit \(max_duration_s\)"):
        probe(clip, settle_s=0, max_duration_s=20)
    with pytest.raises(MediaError, match=r"picture 1280x720 is over the 100000-pixel limit \(max_pixels\)"):
        probe(clip, settle_s=0, max_pixels=100_000)
    assert probe(clip, settle_s=0, max_duration_s=31, max_pixels=1280 * 720).duration_s == pytest.approx(30, abs=0.1)


def test_folder_scan_stays_inside_its_folder(tmp_path):
    """A link inside the folder to a file or folder outside it is not followed out; a link to a file inside it is
    that file (one video, listed once); a file named explicitly is the user's choice, wherever it lives."""
    root, outside = tmp_path / "uploads", tmp_path / "private"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"x")
    (root / "sub" / "clip.mp4").write_bytes(b"x")
    (root / "leak.mp4").symlink_to(outside / "secret.mp4")
    (root / "leak_dir").symlink_to(outside)
    (root / "sub" / "up").symlink_to("../..")                  # a `..` escape through a relative link
    (root / "alias.mp4").symlink_to(root / "sub" / "clip.mp4")  # inside: the same file
    assert find_media_files([root]) == [str(root / "sub" / "clip.mp4")]
    assert find_media_files([root / "leak.mp4"]) == [str(outside / "secret.mp4")]
    linked_root = tmp_path / "uploads_link"                   # the folder itself named through a link
    linked_root.symlink_to(root)
    assert find_media_files([linked_root]) == [str(root / "sub" / "clip.mp4")]


def test_symlink_loops_neither_hang_nor_crash(tmp_path):
    (tmp_path / "self").symlink_to(".")
    (tmp_path / "a.mp4").symlink_to("b.mp4")
    (tmp_path / "b.mp4").symlink_to("a.mp4")
    (tmp_path / "real.mp3").write_bytes(b"x")
    assert find_media_files([tmp_path]) == [str(tmp_path / "real.mp3")]
    [named] = find_media_files([tmp_path / "a.mp4"])           # named explicitly: listed, then refused at probe
    assert "link loop" in _reason(named)


def test_a_name_with_a_line_break_stays_one_line(tmp_path):
    path = tmp_path / "two\nlines\u2028.mp4"
    path.write_bytes(b"")
    with pytest.raises(MediaError) as caught:
        probe(path, settle_s=0)
    message = str(caught.value)
    assert message.endswith("two\\nlines\\u2028.mp4: empty file (0 bytes)") and len(message.splitlines()) == 1
    assert caught.value.path == str(path)  # the error keeps the real path; only its message escapes it


def test_a_duration_that_rounds_to_nothing_is_refused(tmp_path):
    """Found by the deeper hostile-media run (an mp4 whose header's timescale was overwritten): a file of a few
    samples was described with duration 0.0 s. Here: a WAV of two samples at 8 kHz."""
    import wave

    path = tmp_path / "tiny.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 2)
    assert _reason(path) == "no playable duration"
