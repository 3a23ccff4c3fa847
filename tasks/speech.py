"""Speech-to-text task."""

from __future__ import annotations

from reelmind import pipeline
from reelmind.config import Settings
from reelmind.pipeline import FileJob
from reelmind.stages import Stage, StageResult
from tasks.common import log_stage, stage_task


@stage_task(Stage.SPEECH, "{job.video_id}")
def transcribe_sound(job: FileJob, audio: StageResult, settings: Settings) -> StageResult:
    """The transcript (segments, language) of the extracted sound track."""
    result = pipeline.transcribe_sound(job, audio, settings)
    transcript = pipeline.load_transcript(result.output)
    return log_stage(job, result, f"{len(transcript.segments)} segments, language {transcript.language}")
