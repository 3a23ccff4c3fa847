"""
# Ingest: media files in, searchable multimodal records in LanceDB out

For every audio or video file, this flow runs the DAG

    probe ──┬── audio ── speech ───┬── store
            └── frames ── vision ──┘

(the stages of `reelmind.stages.Stage`, which name the tasks, failures and each video's `stage_seconds`).
`probe` reads the container (duration, streams, resolution, fps), reads the sidecar metadata, and compares both
with what the database holds, and the flow acts on that plan once: an unchanged file needs nothing, a changed
sidecar needs only its document re-embedded (a store task alone), anything else gets the model branches its
streams call for. The sound branch (moviepy to 16 kHz mono, then Whisper behind voice activity detection) and the
picture branch (shots and a time floor with PySceneDetect and OpenCV, then a visual model, OCR and captions) run
concurrently, and up to `workers` files are in flight at once, so one file's speech overlaps another's frames.
`store` merges title, description, tags, transcript, captions and on-screen text into one document, embeds it and
every transcript segment and frame text in one batch, and commits the video to LanceDB.

A file that fails (missing, not media, truncated, ...) is reported with a one-line reason, recorded in the
`failures` table, and does not stop the others. Run it with `reelmind ingest PATH...` or `python -m flows.ingest`.
"""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.futures import wait
from prefect.runtime import deployment, flow_run

from flows.runners import RUNNER_THREADS, SettingsTaskRunner
from reelmind.config import Settings, load_settings
from reelmind.document import sidecar_path
from reelmind.errors import MediaError, StoreError
from reelmind.pipeline import METADATA, SKIP, FileJob, VideoSummary, plan_is_current, skipped_summary, start_preloading
from reelmind.probe import find_media_files
from reelmind.stages import Stage
from reelmind.workspace import Claim, release, try_claim
from tasks.media import extract_sound, plan_file
from tasks.picture import describe_picture, sample_picture
from tasks.speech import transcribe_sound
from tasks.store import clear_failures, record_failure, store_file, update_metadata

# At most one task per stage per file. Tasks waiting on upstream futures hold a runner thread, so the runner has a
# thread for every task of every file in flight, and files in flight are limited instead.
TASKS_PER_FILE = len(Stage)
# Seconds between tries to claim a video's work folder that another job of the same content holds.
CLAIM_RETRY_S = 1.0


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str
    stage: str


@dataclass(frozen=True)
class IngestReport:
    videos: list[VideoSummary] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def _run_name() -> str:
    paths = flow_run.parameters.get("paths") or []
    if len(paths) == 1:
        return f"ingest-{Path(paths[0]).stem or Path(paths[0]).name}"
    return f"ingest-{len(paths)}-paths"


def _failure(path: str, chain: dict) -> Failure:
    """The first stage that failed, and why, in one line."""
    for stage in Stage:
        future = chain.get(stage)
        if future is None or not future.state.is_failed():
            continue
        exc = future.result(raise_on_failure=False)
        if isinstance(exc, MediaError):  # probe's own error says which part of it failed (e.g. the sidecar)
            return Failure(path, exc.reason, exc.stage if stage == Stage.PROBE else stage.value)
        if isinstance(exc, StoreError):
            return Failure(path, str(exc), stage.value)
        if isinstance(exc, BaseException):
            return Failure(path, " ".join(f"{type(exc).__name__}: {exc}".split()), stage.value)
        return Failure(path, str(future.state.message or "failed"), stage.value)
    return Failure(path, "did not complete", "unknown")


def _record(failure: Failure, settings: Settings) -> None:
    """Record a failure in the database; when even that fails (a full disk, a read-only database) the batch goes
    on: the failure is still in the report and in the log."""
    try:
        record_failure(*astuple(failure), settings)
    except Exception as exc:  # noqa: BLE001 - whatever the database says, the other files still get their turn
        get_run_logger().error("%s: could not record this failure (%s)", failure.path, " ".join(str(exc).split()))


def _claim_for(job: FileJob, held: Claim | None) -> Claim | None:
    """The claim on the job's work folder: the one held while the file waited its turn, or a new one."""
    if held is not None and str(held.work_dir) == job.work_dir:
        return held
    if held is not None:  # the file changed while it waited: another video now
        release(held, finished=False)
    return try_claim(job.work_dir)


def _submit_work(job: FileJob, settings: Settings) -> dict:
    """The work a planned file needs, decided here once: the metadata update alone when only its sidecar (or path)
    changed; otherwise the model branches its streams call for, then store. (An unchanged file needs none.)"""
    if job.action == METADATA:
        return {Stage.STORE: update_metadata.submit(job, settings)}
    chain = {}
    if job.info.has_audio:
        chain[Stage.AUDIO] = extract_sound.submit(job)
        chain[Stage.SPEECH] = transcribe_sound.submit(job, chain[Stage.AUDIO], settings)
    if job.info.has_video:
        chain[Stage.FRAMES] = sample_picture.submit(job, settings)
        chain[Stage.VISION] = describe_picture.submit(job, chain[Stage.FRAMES], settings)
    chain[Stage.STORE] = store_file.submit(job, list(chain.values()), settings)
    return chain


@flow(name="ingest", flow_run_name=_run_name, task_runner=SettingsTaskRunner())
def ingest(paths: list[str], db: str | None = None, show_progress: bool = False) -> IngestReport:
    """Ingest media files and folders (recursively) into the LanceDB at `db` (default: settings)."""
    started = time.perf_counter()
    logger = get_run_logger()
    settings = load_settings(db=db)
    if isinstance(paths, str):  # an event trigger's template renders one path
        paths = [paths]
    files = find_media_files(paths)
    logger.info("%d media files to ingest into %s", len(files), settings.db)
    if files:
        start_preloading(settings)  # the first files' probes run meanwhile
    window = max(1, min(settings.workers, RUNNER_THREADS // TASKS_PER_FILE))
    progress_id = create_progress_artifact(0.0, key="ingest-progress",
                                           description=f"Files done out of {len(files)}")
    bar = _ProgressBar(len(files)) if show_progress else None
    summaries, failures = [], []
    pending, in_flight = list(files), {}
    # path -> (when to try again, its video's work folder), while another job has that folder; the path is planned
    # again once it is claimed (the other job has committed the video by then), not re-probed while it waits
    waiting: dict[str, tuple[float, str]] = {}
    claims: dict[str, Claim] = {}
    noted: set[str] = set()  # files whose bad sidecar is already reported
    sidecar_failures: list[Failure] = []
    try:
        while pending or in_flight or waiting:
            now = time.monotonic()
            for path, (when, work_dir) in list(waiting.items()):
                if when <= now and (claim := try_claim(work_dir)) is not None:
                    del waiting[path]
                    claims[path] = claim
                    pending.append(path)
                elif when <= now:
                    waiting[path] = (now + CLAIM_RETRY_S, work_dir)
            while pending and len(in_flight) < window:
                path = pending.pop(0)
                in_flight[path] = {Stage.PROBE: plan_file.submit(path, settings)}
            if not in_flight:
                time.sleep(CLAIM_RETRY_S)
                continue
            # A file's chain is its probe until the plan is in, then the work the plan asked for, ending in store.
            done, _ = wait([chain.get(Stage.STORE, chain[Stage.PROBE]) for chain in in_flight.values()],
                           timeout=0.5)
            for path, chain in list(in_flight.items()):
                last = chain.get(Stage.STORE, chain[Stage.PROBE])
                if last not in done:
                    continue
                for future in chain.values():
                    future.wait()  # sets each future's final state locally; `.state` would otherwise ask the API
                if not last.state.is_completed():
                    outcome = _failure(path, chain)
                elif Stage.STORE in chain:
                    outcome = last.result()
                else:  # the plan is in
                    job = last.result()
                    if job.meta.problem and path not in noted:
                        # a bad sidecar does not stop its video (titled by its file name), but is reported
                        noted.add(path)
                        sidecar_failures.append(Failure(str(sidecar_path(path)), job.meta.problem, "metadata"))
                        _record(sidecar_failures[-1], settings)
                    if job.action == SKIP:
                        outcome = skipped_summary(job)
                        logger.info("%s: %s (%s)", path, job.meta.title, SKIP)
                    elif (claim := _claim_for(job, claims.pop(path, None))) is None:
                        # the same content is being ingested (another copy of the file, another process)
                        del in_flight[path]
                        waiting[path] = (time.monotonic() + CLAIM_RETRY_S, job.work_dir)
                        continue
                    elif not plan_is_current(job, settings):
                        # the video was stored by another job between this plan and the claim: plan again
                        claims[path] = claim
                        chain[Stage.PROBE] = plan_file.submit(path, settings)
                        continue
                    else:
                        claims[path] = claim
                        chain.update(_submit_work(job, settings))
                        continue  # in flight until its store step is done
                if isinstance(outcome, Failure):
                    failures.append(outcome)
                    _record(outcome, settings)
                else:
                    summaries.append(outcome)
                if path in claims:
                    release(claims.pop(path), finished=not isinstance(outcome, Failure))
                del in_flight[path]
                finished = len(summaries) + len(failures)
                update_progress_artifact(progress_id, 100.0 * finished / max(len(files), 1))
                if bar:
                    bar.advance(Path(path).name)
    finally:
        for claim in claims.values():  # interrupted: the work folders stay for the run that resumes them
            release(claim, finished=False)
    if summaries:  # what failed before and is fine now keeps no failure on record (a sidecar bad just now does)
        fine = [v.path for v in summaries]
        clear_failures(fine + [str(sidecar_path(p)) for p in fine if p not in noted], settings)
    if bar:
        bar.close()
    report = IngestReport(summaries, failures + sidecar_failures, round(time.perf_counter() - started, 2))
    _publish(report)
    if deployment.id and any(v.action != SKIP for v in report.videos):
        schedule_recommend_after_ingest(settings.recommend_delay_s)
    return report


def schedule_recommend_after_ingest(delay_s: float) -> None:
    """Debounce: many ingests finishing within `delay_s` of each other lead to one recommend run.

    The run is keyed by the time window it falls in, so the API refuses a second one for the same window; and a
    recommend run already waiting is enough on its own.
    """
    from datetime import UTC, datetime, timedelta

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    logger = get_run_logger()
    now = datetime.now(UTC)
    due = now + timedelta(seconds=delay_s)
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name("recommend/recommend")
        except ObjectNotFound:
            logger.info("no recommend deployment: not scheduling a refresh")
            return
        waiting = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["recommend"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])),
                # the hourly schedule's next run does not count: it may be up to an hour away
                expected_start_time=FlowRunFilterExpectedStartTime(before_=due)))
    if waiting:
        logger.info("a recommend run is already waiting (%s)", waiting[0].name)
        return
    window = int(now.timestamp() // max(delay_s, 1))
    run = run_deployment("recommend/recommend", scheduled_time=due, timeout=0,
                         idempotency_key=f"after-ingest-{window}", as_subflow=False)
    logger.info("recommend run %s scheduled in %.0f s", run.name, delay_s)


def _publish(report: IngestReport) -> None:
    rows = [{"title": v.title, "file": Path(v.path).name, "action": v.action, "duration_s": v.duration_s,
             "language": v.language or "", "segments": v.n_segments, "frames": v.n_frames,
             **{f"{stage}_s": seconds for stage, seconds in v.stage_seconds.items()}} for v in report.videos]
    if rows:
        create_table_artifact(rows, key="ingested-videos", description="Videos ingested in this run")
    if report.failures:
        create_table_artifact([{"file": f.path, "stage": f.stage, "reason": f.reason} for f in report.failures],
                              key="ingest-failures", description="Files that could not be ingested, and why")


class _ProgressBar:
    """A terminal progress bar (rich, on stderr) for people running the flow from a shell."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # markup=False: the description is a file name, which may hold text that looks like rich markup
        self.progress = Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.description}", markup=False), console=Console(stderr=True),
                                 transient=False)
        self.progress.start()
        self.task = self.progress.add_task("", total=total)

    def advance(self, name: str) -> None:
        self.progress.update(self.task, advance=1, description=name)

    def close(self) -> None:
        self.progress.stop()


if __name__ == "__main__":
    import sys

    result = ingest(sys.argv[1:] or ["media_fixtures"], show_progress=True)
    for video in result.videos:
        print(f"{video.action:8} {video.title} ({video.duration_s:.1f} s)")
    for failure in result.failures:
        print(f"FAILED {failure.path}: {failure.reason}")
    sys.exit(0 if result.ok else 1)
