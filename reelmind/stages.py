"""The ingest stages, named once: Prefect task names, the flow's failure records, log lines and the keys of each
video's `stage_seconds` all use these; and the small result each stage hands to the next."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """In DAG order: the first failed stage of a file, in this order, is the one its failure names."""
    PROBE = "probe"     # read the container and sidecar, compare with the database
    AUDIO = "audio"     # the sound track as 16 kHz mono WAV
    SPEECH = "speech"   # Whisper: timed segments and the spoken language
    FRAMES = "frames"   # frames sampled at shot changes, with thumbnails
    VISION = "vision"   # a vector, labels or a caption, and the on-screen text of each frame
    STORE = "store"     # one document, embedded with the segments and frame texts, committed to LanceDB


@dataclass(frozen=True)
class StageResult:
    """What a stage hands on: the path of its output in the file's work folder (never the data itself, so nothing
    large travels between tasks), how long it took, and the model it ran ("" for none)."""
    stage: Stage
    output: str
    seconds: float
    model: str = ""
