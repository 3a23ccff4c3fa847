"""The sound track: a damaged AAC track is still extracted, and an extraction that waits on FFmpeg forever stops at
the audio stage's time limit with its reason."""

from __future__ import annotations

import random
import subprocess
import threading
import time

import pytest

from reelmind.audio import SAMPLE_RATE, extract_audio, load_wav
from reelmind.errors import MediaError
from reelmind.timelimit import stage_time_limit

TRACK_S = 120.0
# A damaged byte run every this many bytes of the AAC data: FFmpeg logs an error for nearly every frame, ~300 KB in
# all, far more than the 64 KB a pipe holds.
DAMAGE_EVERY = 500
LIMIT_S = 3.0


@pytest.fixture(scope="module")
def damaged_track(tmp_path_factory):
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("audio") / "damaged.m4a"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={TRACK_S:.0f}", "-c:a", "aac", "-b:a", "64k", str(path)], check=True)
    data, rng = bytearray(path.read_bytes()), random.Random(0)
    for start in range(len(data) // 20, len(data) * 19 // 20, DAMAGE_EVERY):  # the header and the index stay whole
        data[start:start + 8] = rng.randbytes(8)
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_track_whose_errors_fill_a_pipe_is_still_extracted(damaged_track, tmp_path):
    with stage_time_limit(damaged_track, "audio", 60.0):
        wav = extract_audio(damaged_track, tmp_path / "audio.wav")
    assert abs(len(load_wav(wav)) / SAMPLE_RATE - TRACK_S) < 1.0


def test_an_extraction_waiting_on_ffmpeg_stops_at_the_time_limit(damaged_track, tmp_path, monkeypatch):
    """With FFmpeg's errors left in their pipe, as moviepy leaves them, FFmpeg blocks and the read waits forever:
    the stage's time limit stops FFmpeg and fails the file for that reason, leaving no file behind."""
    monkeypatch.setattr("reelmind.sound_reader._read_away", lambda stream: None)
    outcome = []

    def extract():
        try:
            with stage_time_limit(damaged_track, "audio", LIMIT_S):
                extract_audio(damaged_track, tmp_path / "audio.wav")
        except MediaError as exc:
            outcome.append(exc)

    started = time.perf_counter()
    worker = threading.Thread(target=extract, daemon=True)
    worker.start()
    worker.join(timeout=60.0)
    assert not worker.is_alive(), "the extraction is still waiting on FFmpeg"
    assert outcome and "time limit" in outcome[0].reason and outcome[0].stage == "audio", outcome
    assert time.perf_counter() - started < LIMIT_S + 30.0
    assert list(tmp_path.iterdir()) == []
