"""`reelmind bench ingest`: ingest throughput end to end, against bare speech-to-text on the same audio.

Two workloads, made with FFmpeg (imageio-ffmpeg's binary) from real speech and real pictures:
- one long speech video (LONG_S, 5 minutes): the shared `multilingual.mp3` read over Big Buck Bunny frames when
  `../shared/media` is beside the checkout, otherwise the fixtures' speech clips looped;
- a folder of short clips (`--clips`, 100 by default) of 5 to 30 s each, cut at different points of the same
  sources, so every clip is different content.
In one process, models loaded once by a warm-up file first (as in a long-running worker), it measures: the
faster-whisper's own sequential decoder on the long video's sound track alone ("bare STT"), the ingest flow on the
long video, and the ingest flow on the folder; each as media seconds per wall second ("x real time"), and the peak
resident memory of this process.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_MEDIA = REPO.parent / "shared" / "media"
FIXTURES = REPO / "media_fixtures"
LONG_S = 300.0
SHORT_MIN_S, SHORT_MAX_S = 5.0, 30.0
DEFAULT_CLIPS = 100
# Picture size of the made videos: what a phone-shot short is delivered at (360p), enough for OCR and shots.
VIDEO_FILTER = "scale=640:-2"
MEMORY_SAMPLE_S = 0.2


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _sources() -> tuple[Path, Path]:
    """(speech, picture): real speech and real moving pictures."""
    if (SHARED_MEDIA / "multilingual.mp3").is_file() and (SHARED_MEDIA / "big_buck_bunny_0_30.webm").is_file():
        return SHARED_MEDIA / "multilingual.mp3", SHARED_MEDIA / "big_buck_bunny_0_30.webm"
    return FIXTURES / "gardening_podcast.mp3", FIXTURES / "tomato_soup_recipe.mp4"


def make_clip(out: Path, seconds: float, offset: float = 0.0) -> Path:
    """`seconds` of the speech source (looped, from `offset`) over the picture source (looped) as H.264 + AAC."""
    speech, picture = _sources()
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-stream_loop", "-1", "-ss", f"{offset:.2f}", "-i", str(speech),
                    "-stream_loop", "-1", "-ss", f"{offset % 20:.2f}", "-i", str(picture), "-map", "1:v:0",
                    "-map", "0:a:0", "-t", f"{seconds:.2f}", "-vf", VIDEO_FILTER, "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "28", "-c:a", "aac", "-b:a", "64k", str(out)], check=True)
    return out


def make_short_clips(folder: Path, n: int, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    return [make_clip(folder / f"clip-{i:03d}.mp4", rng.uniform(SHORT_MIN_S, SHORT_MAX_S), rng.uniform(0, 50))
            for i in range(n)]


class PeakMemory:
    """The peak resident set of a process (this one by default) and all its children, sampled in a thread."""

    def __init__(self, pid: int | None = None) -> None:
        import psutil

        self._process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                rss, children = self._process.memory_info().rss, self._process.children(recursive=True)
            except psutil.Error:  # the process itself has ended: its peak is in
                return
            for child in children:
                with contextlib.suppress(psutil.Error):  # a child that just ended
                    rss += child.memory_info().rss
            self.peak = max(self.peak, rss)
            self._stop.wait(MEMORY_SAMPLE_S)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def bare_stt_seconds(media: Path, settings) -> float:
    """Wall seconds of bare sequential speech-to-text on the file's sound track (extracted beforehand, not
    counted): faster-whisper's own `transcribe`, one window after another, with ReelMind's decoding options."""
    from reelmind.audio import extract_audio, load_wav
    from reelmind.pipeline import backend
    from reelmind.speech import VAD_OPTIONS

    with tempfile.TemporaryDirectory() as tmp:
        samples = load_wav(extract_audio(media, Path(tmp) / "audio.wav"))
    whisper = backend("speech", settings).model  # the loaded faster-whisper WhisperModel
    started = time.perf_counter()
    segments, _info = whisper.transcribe(samples, beam_size=5, vad_filter=True, vad_parameters=VAD_OPTIONS,
                                         condition_on_previous_text=False)
    for _segment in segments:  # decoding happens as the segments are read
        pass
    return time.perf_counter() - started


def bench_ingest(options=None, clips: int | None = None, say=print) -> dict:
    """Run the ingest benchmark (see the module's docstring); `options.videos` is not used here."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from flows.ingest import ingest
    from reelmind.config import load_settings

    n_clips = clips or DEFAULT_CLIPS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        say(f"making a {LONG_S:.0f} s speech video and {n_clips} clips of {SHORT_MIN_S:.0f}-{SHORT_MAX_S:.0f} s")
        long_video = make_clip(tmp / "speech-5min.mp4", LONG_S)
        short = make_short_clips(tmp / "short", n_clips)
        warm = make_clip(tmp / "warm.mp4", 8.0, offset=3.0)
        settings = load_settings(db=str(tmp / "db" / "lancedb"), data_dir=str(tmp / "db"))
        with PeakMemory() as memory:
            started = time.perf_counter()
            ingest([str(warm)], db=str(tmp / "warm" / "lancedb"))
            warm_up_s = time.perf_counter() - started
            say("bare speech-to-text on the long video's sound track")
            bare_s = bare_stt_seconds(long_video, settings)
            say("ingest: the long video")
            long_report = ingest([str(long_video)], db=settings.db)
            say(f"ingest: {n_clips} short clips")
            short_report = ingest([str(path) for path in short], db=settings.db)
    failures = len(long_report.failures) + len(short_report.failures)
    short_media = sum(v.duration_s for v in short_report.videos)
    return {
        "warm_up_s": round(warm_up_s, 1),
        "long_media_s": LONG_S,
        "bare_stt_s": round(bare_s, 1),
        "bare_stt_x_realtime": round(LONG_S / bare_s, 2),
        "long_ingest_s": long_report.wall_s,
        "long_x_realtime": round(LONG_S / long_report.wall_s, 2),
        "long_over_bare_stt": round(long_report.wall_s / bare_s, 2),
        "short_clips": len(short_report.videos),
        "short_media_s": round(short_media, 1),
        "short_ingest_s": short_report.wall_s,
        "short_x_realtime": round(short_media / short_report.wall_s, 2),
        "failures": failures,
        "peak_rss_mb": round(memory.peak / 2 ** 20),
        "stage_seconds_long": long_report.videos[0].stage_seconds if long_report.videos else {},
        "stage_seconds_short_mean": {stage: round(sum(v.stage_seconds.get(stage, 0) for v in short_report.videos)
                                                  / max(len(short_report.videos), 1), 3)
                                     for stage in (short_report.videos[0].stage_seconds if short_report.videos
                                                   else {})},
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_ingest(clips=int(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
