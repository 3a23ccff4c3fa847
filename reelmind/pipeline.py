"""The ingest pipeline as plain functions, one per unit of work; Prefect tasks in `tasks/` are thin wrappers.

`plan_file` decides once per file what it needs (full, metadata or skip). Every model stage writes its output
into the file's work folder (`<data>/work/<video id>/`) and returns a `StageResult` with the path, its seconds
and model, so nothing large travels between tasks; a stage whose output is already there (an interrupted earlier
run with the same models) is not run again. The `store` stage commits the video to LanceDB, with every stage's
seconds, and removes the work folder.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reelmind import registry
from reelmind.audio import extract_audio, load_wav
from reelmind.backends import Segment, Transcript
from reelmind.config import Settings
from reelmind.describe import DescribedFrames, describe_frames
from reelmind.document import Metadata, build_document, load_metadata
from reelmind.files import write_text_atomic
from reelmind.frames import FrameSample, sample_frames
from reelmind.probe import MediaInfo, probe
from reelmind.records import FrameRecord, SegmentRecord, VectorSpec, VideoRecord
from reelmind.stages import Stage, StageResult
from reelmind.store import Store
from reelmind.timelimit import stage_time_limit
from reelmind.vectors import l2_normalise
from reelmind.workspace import video_thumbnails_dir, video_work_dir

FULL, METADATA, SKIP = "full", "metadata", "skip"


@dataclass(frozen=True)
class FileJob:
    """What one file needs: `full` (models run), `metadata` (sidecar changed only) or `skip` (unchanged)."""
    info: MediaInfo
    meta: Metadata
    action: str
    rev: str
    work_dir: str
    thumbnails_dir: str
    probe_s: float = 0.0
    stage_limit_s: float = float("inf")  # each model stage's time limit for this file (reelmind.timelimit)

    @property
    def video_id(self) -> str:
        return self.info.video_id


@dataclass(frozen=True)
class VideoSummary:
    video_id: str
    path: str
    title: str
    action: str
    duration_s: float
    language: str | None = None
    n_segments: int = 0
    n_frames: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)


def models_config(settings: Settings) -> dict[str, str]:
    """Which backends and models this configuration uses; a stored video made with another needs a full run."""
    return {kind: f"{getattr(settings, kind + '_backend')}:{getattr(settings, kind + '_model')}"
            for kind in registry.KINDS}


def backend(kind: str, settings: Settings):
    """The configured backend of `kind`, given the options it takes from the settings."""
    # Whisper assembles its bundled weights in the cache folder on first use.
    options = {"cache_dir": settings.cache_dir} if kind == "speech" else {}
    return registry.load(kind, getattr(settings, kind + "_backend"), getattr(settings, kind + "_model"), **options)


def preload_models(settings: Settings) -> None:
    """Load every configured model, and run the text model once (it loads on first use), so that the first file
    of a run does not wait for them. Started in a thread while Prefect starts its server (about 5 s here, about as
    long as the loads): the registry's lock makes a task that needs a model wait for this load, not repeat it. A
    model that fails to load is not reported here: the stage that needs it fails with its reason."""
    try:
        for kind in registry.KINDS:
            backend(kind, settings)
        backend("text", settings).embed_passages(["warm up"])
        if settings.ocr:
            from reelmind.ocr import load_engine

            load_engine()
    except Exception:  # noqa: BLE001 - see above: the stage reports it, with the file it was for
        pass


def start_preloading(settings: Settings) -> threading.Thread:
    thread = threading.Thread(target=preload_models, args=(settings,), name="preload-models", daemon=True)
    thread.start()
    return thread


def plan_file(path: str, settings: Settings) -> FileJob:
    started = time.perf_counter()
    info = probe(path, settle_s=settings.settle_s, max_duration_s=settings.max_duration_s,
                 max_pixels=settings.max_pixels)
    meta = load_metadata(path)
    row = Store.open(settings.db).video(info.video_id)
    action = _action(info, meta, row, settings)
    return FileJob(info, meta, action, rev=(row.rev if action != FULL else uuid.uuid4().hex[:12]),
                   work_dir=str(video_work_dir(settings, info.video_id)),
                   thumbnails_dir=str(video_thumbnails_dir(settings, info.video_id)),
                   probe_s=round(time.perf_counter() - started, 3),
                   stage_limit_s=settings.stage_timeout_s + settings.stage_timeout_per_media_s * info.duration_s)


def _action(info: MediaInfo, meta: Metadata, row: VideoRecord | None, settings: Settings) -> str:
    """What a file needs, given what the database holds for its content."""
    if not (row and row.content_hash == info.content_hash and row.models.get("config") == models_config(settings)):
        return FULL
    same_meta = row.sidecar_hash == meta.sidecar_hash and row.path == info.path
    # Another copy of a stored file is that video, already stored where it was first found; a file whose stored
    # path is gone was moved, and its row follows it.
    copy = row.path != info.path and Path(row.path).is_file()
    return SKIP if same_meta or copy else METADATA


def plan_is_current(job: FileJob, settings: Settings) -> bool:
    """Whether the database still calls for what `job` plans (another job may have stored the same content since
    the plan was made: then it is planned again)."""
    return _action(job.info, job.meta, Store.open(settings.db).video(job.video_id), settings) == job.action


def _finish(stage: Stage, record: Path, payload: dict, started: float, model: str = "",
            output: Path | None = None) -> StageResult:
    """Write the stage's record (last, whole or not at all: its presence means the stage finished) and hand on its
    result. The record keeps the seconds and model too, for a later run that resumes from it."""
    result = StageResult(stage, str(output or record), round(time.perf_counter() - started, 3), model)
    write_text_atomic(record, json.dumps({**payload, "seconds": result.seconds, "model": model}, ensure_ascii=False))
    return result


def _resumed(stage: Stage, record: Path, config: object = None, output: Path | None = None) -> StageResult | None:
    """The result of this stage from an earlier, interrupted run (made with the same models, where models matter)."""
    if not record.is_file() or (output is not None and not output.is_file()):
        return None
    data = json.loads(record.read_text())
    if config is not None and data.get("config") != config:
        return None
    return StageResult(stage, str(output or record), data["seconds"], data.get("model", ""))


def extract_sound(job: FileJob) -> StageResult:
    record = Path(job.work_dir) / "audio.json"
    if resumed := _resumed(Stage.AUDIO, record):
        return resumed
    started = time.perf_counter()
    with stage_time_limit(job.info.path, Stage.AUDIO, job.stage_limit_s):
        wav = extract_audio(job.info.path, Path(job.work_dir) / "audio.wav")
    return _finish(Stage.AUDIO, record, {"wav": str(wav)}, started)


def transcribe_sound(job: FileJob, audio: StageResult, settings: Settings) -> StageResult:
    record = Path(job.work_dir) / "transcript.json"
    config = models_config(settings)["speech"]
    if resumed := _resumed(Stage.SPEECH, record, config):
        return resumed
    started = time.perf_counter()
    samples = load_wav(json.loads(Path(audio.output).read_text())["wav"])
    with stage_time_limit(job.info.path, Stage.SPEECH, job.stage_limit_s):
        transcript = backend("speech", settings).transcribe(samples, languages=settings.languages)
    return _finish(Stage.SPEECH, record, {"config": config, **asdict(transcript)}, started, transcript.model_id)


def load_transcript(path: str) -> Transcript:
    data = json.loads(Path(path).read_text())
    return Transcript(data["language"], data["language_probability"],
                      tuple(Segment(**s) for s in data["segments"]), data["model_id"])


def sample_picture(job: FileJob, settings: Settings) -> StageResult:
    record = Path(job.work_dir) / "samples.json"
    if resumed := _resumed(Stage.FRAMES, record):
        return resumed
    started = time.perf_counter()
    with stage_time_limit(job.info.path, Stage.FRAMES, job.stage_limit_s):
        info = job.info
        pixels_per_s = info.width * info.height * info.fps if info.width and info.height and info.fps else None
        samples = sample_frames(info.path, info.duration_s, Path(job.work_dir) / "frames", job.thumbnails_dir,
                                max_frames=settings.max_frames, interval_s=settings.frame_interval_s,
                                threshold=settings.shot_threshold, pixels_per_s=pixels_per_s)
    return _finish(Stage.FRAMES, record, {"samples": [asdict(s) for s in samples]}, started)


def describe_picture(job: FileJob, samples: StageResult, settings: Settings) -> StageResult:
    """Hands on the path of the frame descriptions (`described/frames.json`); the stage's own record, with its
    timing and models, is `describe.json` beside them."""
    out = Path(job.work_dir) / "described" / "frames.json"
    record = Path(job.work_dir) / "describe.json"
    config = [models_config(settings)["vision"], models_config(settings)["caption"]]
    if resumed := _resumed(Stage.VISION, record, config, out):
        return resumed
    started = time.perf_counter()
    frames = [FrameSample(**s) for s in json.loads(Path(samples.output).read_text())["samples"]]
    with stage_time_limit(job.info.path, Stage.VISION, job.stage_limit_s):
        described = describe_frames(frames, backend("vision", settings), backend("caption", settings), settings.ocr)
    described.save(out.parent)
    return _finish(Stage.VISION, record, {"config": config}, started, described.vision_model, out)


def store_file(job: FileJob, results: list[StageResult], settings: Settings) -> VideoSummary:
    """Merge everything into one document, embed the texts in one batch, and commit the video to LanceDB.

    `results`: what the model branches handed on (the speech and vision stages' outputs are read here; none for a
    file with neither a sound track nor a picture)."""
    started = time.perf_counter()
    text_model, vision = backend("text", settings), backend("vision", settings)
    by_stage = {r.stage: r for r in results}
    speech, seen = by_stage.get(Stage.SPEECH), by_stage.get(Stage.VISION)
    transcript = load_transcript(speech.output) if speech else Transcript(None, 0.0)
    described = DescribedFrames.load(seen.output) if seen else None
    frames = described.frames if described else []
    screen = [f.ocr_text for f in frames if f.ocr_text]
    captions = [f.caption for f in frames if f.caption]
    document = build_document(job.meta, transcript.text, captions, screen)
    frame_texts = [f.caption or f.ocr_text for f in frames]
    vectors = text_model.embed_passages([document] + [s.text for s in transcript.segments] + frame_texts)
    doc_vector, seg_vectors, frame_vectors = vectors[0], vectors[1:1 + len(transcript.segments)], \
        vectors[1 + len(transcript.segments):]
    visual = None
    if described is not None and len(described.vectors):
        visual = l2_normalise(described.vectors.mean(axis=0))

    # Every stage has its key, 0.0 where it did not run (no sound track, no picture); store's is added last.
    seconds = {Stage.PROBE: job.probe_s} | {r.stage: r.seconds for r in results}
    stage_seconds = {stage.value: seconds.get(stage, 0.0) for stage in Stage if stage != Stage.STORE}
    models = {"config": models_config(settings), "speech": transcript.model_id,
              "vision": described.vision_model if described else "", "caption": described.caption_model
              if described else "", "text": text_model.model_id}
    info, meta = job.info, job.meta
    segments = [SegmentRecord(f"{job.video_id}:{i}", job.video_id, job.rev, i, s.start, s.end, s.text, v)
                for i, (s, v) in enumerate(zip(transcript.segments, seg_vectors))]
    frame_rows = [FrameRecord(f"{job.video_id}:{int(round(f.time_s * 1000))}", job.video_id, job.rev, f.time_s,
                              f.shot, f.thumbnail_path, f.labels, f.caption, f.caption_source, f.ocr_text, vv, tv)
                  for f, vv, tv in zip(frames, described.vectors if described else [], frame_vectors)]
    stage_seconds[Stage.STORE.value] = round(time.perf_counter() - started, 3)
    video = VideoRecord(
        id=job.video_id, rev=job.rev, path=info.path, content_hash=info.content_hash,
        sidecar_hash=meta.sidecar_hash, size_bytes=info.size_bytes, title=meta.title,
        description=meta.description, tags=list(meta.tags), uploader=meta.uploader,
        published_at=meta.published_at, duration_s=info.duration_s, container=info.container,
        has_audio=info.has_audio, has_video=info.has_video, width=info.width, height=info.height,
        fps=info.fps, audio_codec=info.audio_codec, video_codec=info.video_codec,
        language=transcript.language, transcript=transcript.text, captions=captions,
        caption_source=frames[0].caption_source if frames else "", ocr_text=" / ".join(dict.fromkeys(screen)),
        document=document, n_frames=len(frames), n_segments=len(segments),
        thumbnail_path=frames[0].thumbnail_path if frames else "",
        text_vector=doc_vector, visual_vector=visual, models=models,
        stage_seconds=stage_seconds, ingested_at=datetime.now(UTC))
    store = Store.open(settings.db)
    replaced = store.write_video(video, segments, frame_rows, {"text": VectorSpec(text_model.model_id, text_model.dim),
                                                               "visual": VectorSpec(vision.model_id, vision.dim)})
    _remove_thumbnails(settings, replaced)
    store.clear_failure(info.path)
    shutil.rmtree(job.work_dir, ignore_errors=True)
    return VideoSummary(job.video_id, info.path, meta.title, FULL, info.duration_s, transcript.language,
                        len(segments), len(frames), stage_seconds)


def update_metadata(job: FileJob, settings: Settings) -> VideoSummary:
    """The sidecar (or the path) changed but the media did not: rebuild the document, re-embed it, no other model."""
    store = Store.open(settings.db)
    row = store.video(job.video_id)
    meta = job.meta
    document = build_document(meta, row.transcript or "", list(row.captions or []),
                              [t for t in (row.ocr_text or "").split(" / ") if t])
    vector = backend("text", settings).embed_passages([document])[0]
    replaced = store.update_video(dataclasses.replace(
        row, path=job.info.path, sidecar_hash=meta.sidecar_hash, title=meta.title, description=meta.description,
        tags=list(meta.tags), uploader=meta.uploader, published_at=meta.published_at, document=document,
        text_vector=vector))
    _remove_thumbnails(settings, replaced)
    store.clear_failure(job.info.path)
    return VideoSummary(job.video_id, job.info.path, meta.title, METADATA, row.duration_s, row.language,
                        row.n_segments, row.n_frames)


def _remove_thumbnails(settings: Settings, video_ids: list[str]) -> None:
    """The thumbnails of videos no longer stored (their path now holds another file)."""
    for video_id in video_ids:
        shutil.rmtree(video_thumbnails_dir(settings, video_id), ignore_errors=True)


def skipped_summary(job: FileJob) -> VideoSummary:
    return VideoSummary(job.video_id, job.info.path, job.meta.title, SKIP, job.info.duration_s)
