"""The sound track, extracted with moviepy as Whisper wants it: 16 kHz, mono, 16-bit PCM in a WAV file.

The WAV goes to the per-video work folder and only its path travels between tasks, so a long podcast's samples
never pass through Prefect results. Multi-channel tracks (5.1 AAC) are downmixed by FFmpeg (`-ac 1`).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import proglog

from reelmind.errors import MediaError
from reelmind.files import atomic_path
from reelmind.stages import Stage
from reelmind.timelimit import check_time_limit, stop_at_deadline

# Whisper's models were trained on 16 kHz audio (whisper.audio.SAMPLE_RATE).
SAMPLE_RATE = 16_000
# 16-bit PCM full scale, to map samples to [-1, 1).
PCM16_SCALE = 32768.0
# How moviepy's AudioFileClip reads a track, kept as it was (the samples it hands on depend on both): at 44.1 kHz,
# 200,000 frames at a time. (Read at 16 kHz, FFmpeg logged a non-monotonic timestamp per packet on one bench video.)
READ_RATE = 44_100
READ_BUFFER_FRAMES = 200_000


def extract_audio(media_path: str | Path, out_wav: str | Path) -> Path:
    """Write the sound track of `media_path` to `out_wav` (16 kHz mono PCM); atomic, so a crash leaves no half file."""
    from moviepy import AudioClip  # heavy imports, kept off the CLI's start-up path

    from reelmind.sound_reader import DrainedAudioReader

    try:
        # what moviepy's AudioFileClip does, on a reader that cannot hang on FFmpeg's errors (reelmind.sound_reader)
        reader = DrainedAudioReader(str(media_path), buffersize=READ_BUFFER_FRAMES, fps=READ_RATE)
        try:
            # The temporary file keeps the .wav suffix: moviepy picks the format by extension.
            with atomic_path(out_wav) as tmp, stop_at_deadline(reader.stop):
                clip = AudioClip(reader.get_frame, duration=reader.duration, fps=READ_RATE)
                clip.write_audiofile(str(tmp), fps=SAMPLE_RATE, nbytes=2, codec="pcm_s16le",
                                     ffmpeg_params=["-ac", "1"], logger=_TimeLimitLogger())
        finally:
            reader.close()
    except (OSError, KeyError, ValueError) as exc:
        check_time_limit()  # a read cut short at the time limit fails for that reason
        raise MediaError(media_path, f"cannot extract the sound track: {exc}", stage=Stage.AUDIO.value) from None
    return Path(out_wav)


class _TimeLimitLogger(proglog.ProgressBarLogger):
    """moviepy reports each chunk it writes through its logger's `iter_bar`: the stage's time limit is checked
    there (reelmind.timelimit), so a track that decodes forever stops at the limit."""

    def iter_bar(self, bar_prefix="", **kw):
        kw.pop("bar_message", None)
        _bar, iterable = kw.popitem()
        for item in iterable:
            check_time_limit()
            yield item


def load_wav(path: str | Path) -> np.ndarray:
    """Float32 samples in [-1, 1) of a 16-bit mono WAV written by `extract_audio`."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / PCM16_SCALE

