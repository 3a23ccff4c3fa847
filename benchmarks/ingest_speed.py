"""Ingest speed, per stage: seconds of media processed per second of wall time.

    python benchmarks/ingest_speed.py [PATH ...]      (default: media_fixtures and ../shared/media)

Runs the real ingest flow into a temporary database (models loaded once, as in a long-running worker: a warm-up
file is ingested first and not counted), then prints a table. Stage times are measured inside each stage, so with
files and branches overlapping, the stage rows add up to more than the wall time; "whole flow" is wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> None:
    from flows.ingest import ingest
    from reelmind.probe import find_media_files, probe
    from reelmind.stages import Stage

    files = find_media_files(paths)
    warm_up = next(f for f in files if (lambda i: i.has_audio and i.has_video)(probe(f, settle_s=0)))
    with tempfile.TemporaryDirectory() as tmp:
        warm = ingest([warm_up], db=f"{tmp}/warm/lancedb")  # loads every model once
        report = ingest(files, db=f"{tmp}/bench/lancedb")
    full = [v for v in report.videos if v.action == "full"]
    media = sum(v.duration_s for v in full)
    print(f"{len(full)} files, {media:.1f} s of media, {len(report.failures)} failures, "
          f"warm-up {warm.wall_s:.1f} s\n")
    print(f"| {'stage':<12} | {'files':>5} | {'media s':>8} | {'stage s':>8} | {'media s / s':>11} |")
    print(f"|{'-' * 14}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 13}|")
    for stage in Stage:
        used = [v for v in full if v.stage_seconds.get(stage, 0) > 0]
        seconds = sum(v.stage_seconds[stage] for v in used)
        stage_media = sum(v.duration_s for v in used)
        rate = stage_media / seconds if seconds else float("inf")
        print(f"| {stage:<12} | {len(used):>5} | {stage_media:>8.1f} | {seconds:>8.2f} | {rate:>11.1f} |")
    print(f"| {'whole flow':<12} | {len(full):>5} | {media:>8.1f} | {report.wall_s:>8.2f} | "
          f"{media / report.wall_s:>11.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or [str(REPO / "media_fixtures"), str(REPO.parent / "shared" / "media")])
