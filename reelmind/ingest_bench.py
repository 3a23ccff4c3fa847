"""`reelmind bench ingest`: ingest throughput end to end, against bare speech-to-text on the same audio.

Two workloads, made with FFmpeg (imageio-ffmpeg's binary) from real speech and real pictures:
- long speech videos (LONG_S, 5 minutes; LONG_REPEATS of them, from different points): the shared
  `multilingual.mp3` read over Big Buck Bunny frames when `../shared/media` is beside the checkout, otherwise the
  fixtures' speech clips looped;
- a folder of short clips (`--clips`, 100 by default) of 5 to 30 s each, cut at different points of the same
  sources, so every clip is different content.
In one process, models loaded once by a warm-up file first (as in a long-running worker), it measures:
faster-whisper's own sequential decoder on a long video's sound track alone ("bare STT", one copy of the model on
every core, as faster-whisper runs by default) and the ingest flow on that video, for each long video in turn, then
the ingest flow on the folder, all into one database; each as media seconds per wall second ("x real time"), and
the peak resident memory of this process.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
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
# Bare STT and the long video's ingest are each timed this many times, alternately; the means are reported (single
# runs of either moved by 10-20% between runs on this shared machine).
LONG_REPEATS = 3
# Where each long video starts in the (looped) speech source: a different stretch of speech each time.
LONG_OFFSET_S = 37.0
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
    """The peak memory of a process (this one by default) and all its children, sampled in a thread: the process's
    resident set, plus each child's unique set (the pages only it holds). A child's resident set would also count the
    pages it shares with its parent: a child just forked to run FFmpeg holds all of this process's pages until it
    executes, and summing resident sets reported 4.3-5.8 GB peaks for the 100 clips when this process never held more
    than 2.35 GB (its own `ru_maxrss`) and its children ~240 MB."""

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
                    rss += child.memory_full_info().uss
            self.peak = max(self.peak, rss)
            self._stop.wait(MEMORY_SAMPLE_S)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def bare_whisper(settings):
    """faster-whisper as its own README runs it on a CPU: the configured weights, one copy of the model on every
    core. (The ingest's backend holds copies on fewer threads each, which its own sequential decoder would run
    slower: the bare figure would flatter the ingest.)"""
    from faster_whisper import WhisperModel

    from reelmind.pipeline import backend

    speech = backend("speech", settings)
    return WhisperModel(speech.source, device="cpu", compute_type=speech.compute_type, cpu_threads=os.cpu_count() or 1)


def bare_stt_seconds(media: Path, whisper) -> float:
    """Wall seconds of bare sequential speech-to-text on the file's sound track (extracted beforehand, not
    counted): faster-whisper's own `transcribe`, one window after another, with ReelMind's decoding options."""
    from reelmind.audio import extract_audio, load_wav
    from reelmind.speech import BEAM_SIZE, VAD_OPTIONS

    with tempfile.TemporaryDirectory() as tmp:
        samples = load_wav(extract_audio(media, Path(tmp) / "audio.wav"))
    started = time.perf_counter()
    # temperature 0 only, as ReelMind decodes: faster-whisper's default also decodes a window again at rising
    # temperatures (up to five more times) where the output repeats itself, which the ingest never does; one of the
    # bench's long videos took 19.9-24.8 s so against 10-11 s for the others.
    segments, _info = whisper.transcribe(samples, beam_size=BEAM_SIZE, vad_filter=True, vad_parameters=VAD_OPTIONS,
                                         condition_on_previous_text=False, temperature=0.0)
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
        say(f"making {LONG_REPEATS} speech videos of {LONG_S:.0f} s and {n_clips} clips of "
            f"{SHORT_MIN_S:.0f}-{SHORT_MAX_S:.0f} s")
        # different stretches of the sources, so that each is a new video to the same database
        long_videos = [make_clip(tmp / f"speech-5min-{run}.mp4", LONG_S, offset=LONG_OFFSET_S * run)
                       for run in range(LONG_REPEATS)]
        short = make_short_clips(tmp / "short", n_clips)
        warm = make_clip(tmp / "warm.mp4", 8.0, offset=3.0)
        settings = load_settings(db=str(tmp / "db" / "lancedb"), data_dir=str(tmp / "db"))
        with PeakMemory() as memory:
            started = time.perf_counter()
            ingest([str(warm)], db=str(tmp / "warm" / "lancedb"))
            warm_up_s = time.perf_counter() - started
            peaks = {"warm_up": memory.peak}
            whisper = bare_whisper(settings)
            bare_runs, long_reports = [], []
            for run, long_video in enumerate(long_videos):  # alternately: both see the same moments of the machine
                say(f"bare speech-to-text on a long video's sound track ({run + 1} of {LONG_REPEATS})")
                bare_runs.append(bare_stt_seconds(long_video, whisper))
                say(f"ingest: the long video ({run + 1} of {LONG_REPEATS})")
                long_reports.append(ingest([str(long_video)], db=settings.db))
            del whisper
            peaks["long_videos"] = memory.peak
            say(f"ingest: {n_clips} short clips")
            short_report = ingest([str(path) for path in short], db=settings.db)
            peaks["short_clips"] = memory.peak
    long_runs = [report.wall_s for report in long_reports]
    bare_s, long_s = statistics.mean(bare_runs), statistics.mean(long_runs)
    long_stages = [v.stage_seconds for report in long_reports for v in report.videos]
    failures = sum(len(report.failures) for report in long_reports) + len(short_report.failures)
    short_media = sum(v.duration_s for v in short_report.videos)
    return {
        "warm_up_s": round(warm_up_s, 1),
        "long_media_s": LONG_S,
        "bare_stt_s": round(bare_s, 2),
        "bare_stt_s_runs": [round(s, 2) for s in bare_runs],
        "bare_stt_x_realtime": round(LONG_S / bare_s, 2),
        "long_ingest_s": round(long_s, 2),
        "long_ingest_s_runs": long_runs,
        "long_x_realtime": round(LONG_S / long_s, 2),
        "long_over_bare_stt": round(long_s / bare_s, 2),
        "long_over_bare_stt_runs": [round(long / bare, 2) for long, bare in zip(long_runs, bare_runs)],
        "short_clips": len(short_report.videos),
        "short_media_s": round(short_media, 1),
        "short_ingest_s": short_report.wall_s,
        "short_x_realtime": round(short_media / short_report.wall_s, 2),
        "failures": failures,
        "peak_rss_mb": round(memory.peak / 2 ** 20),
        "peak_rss_mb_by_end_of": {phase: round(peak / 2 ** 20) for phase, peak in peaks.items()},
        "stage_seconds_long_mean": {stage: round(statistics.mean(s[stage] for s in long_stages), 3)
                                    for stage in (long_stages[0] if long_stages else {})},
        "stage_seconds_short_mean": {stage: round(sum(v.stage_seconds.get(stage, 0) for v in short_report.videos)
                                                  / max(len(short_report.videos), 1), 3)
                                     for stage in (short_report.videos[0].stage_seconds if short_report.videos
                                                   else {})},
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_ingest(clips=int(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
