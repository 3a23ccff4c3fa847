"""Each model stage of a file stops at its time limit with a one-line reason naming the stage, and nothing of the
file is stored; a file within its limits is processed as before."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest

from reelmind import pipeline
from reelmind.errors import MediaError
from reelmind.stages import Stage
from reelmind.timelimit import check_time_limit, stage_time_limit, stop_at_deadline

from helpers import FIXTURES, settings_for

VIDEO = FIXTURES / "tomato_soup_recipe.mp4"  # sound and picture
LIMIT_S = 1e-3  # past at the first check


def test_the_limit_is_checked_only_inside_a_stage():
    check_time_limit()  # outside a stage: no limit
    with stage_time_limit("clip.mp4", "speech", 60.0):
        check_time_limit()
    with stage_time_limit("clip.mp4", "speech", LIMIT_S), pytest.raises(MediaError) as raised:
        time.sleep(0.01)
        check_time_limit()
    assert raised.value.stage == "speech" and raised.value.path == "clip.mp4"
    assert "\n" not in str(raised.value) and "time limit of 0 s" in str(raised.value)


def test_work_that_cannot_check_is_stopped_at_the_deadline():
    stopped = threading.Event()
    started = time.monotonic()
    with stage_time_limit("clip.mp4", "frames", 0.2), pytest.raises(MediaError, match="frames stage"), \
            stop_at_deadline(stopped.set):
        assert stopped.wait(timeout=10)  # stands for a library loop that only its own stop() ends
    assert time.monotonic() - started < 5


def test_the_limit_grows_with_the_duration(tmp_path):
    settings = settings_for(str(tmp_path / "lancedb"), data_dir=str(tmp_path), stage_timeout_s=10,
                            stage_timeout_per_media_s=3)
    job = pipeline.plan_file(str(VIDEO), settings)
    assert job.stage_limit_s == pytest.approx(10 + 3 * job.info.duration_s)


@pytest.fixture()
def hurried_job(tmp_path):
    """A planned job for a copy of a fixture, with a stage limit every stage is past at once."""
    media = tmp_path / VIDEO.name
    shutil.copy(VIDEO, media)
    settings = settings_for(str(tmp_path / "lancedb"), data_dir=str(tmp_path), settle_s=0)  # a fresh copy is whole
    job = pipeline.plan_file(str(media), settings)
    return dataclasses.replace(job, stage_limit_s=LIMIT_S), settings


@pytest.mark.slow
def test_each_model_stage_stops_at_its_limit(hurried_job):
    job, settings = hurried_job
    at_ease = dataclasses.replace(job, stage_limit_s=600.0)
    audio = pipeline.extract_sound(at_ease)  # the inputs of the later stages, made within the limit
    samples = pipeline.sample_picture(at_ease, settings)
    for stage, run in [(Stage.SPEECH, lambda: pipeline.transcribe_sound(job, audio, settings)),
                       (Stage.VISION, lambda: pipeline.describe_picture(job, samples, settings))]:
        with pytest.raises(MediaError) as raised:
            run()
        assert raised.value.stage == stage.value and "time limit" in raised.value.reason


@pytest.mark.parametrize("stage", [Stage.AUDIO, Stage.FRAMES])
def test_decoding_stages_stop_at_their_limit_and_leave_no_output(hurried_job, stage):
    job, settings = hurried_job
    run = {Stage.AUDIO: lambda: pipeline.extract_sound(job),
           Stage.FRAMES: lambda: pipeline.sample_picture(job, settings)}
    with pytest.raises(MediaError) as raised:
        run[stage]()
    assert raised.value.stage == stage.value and "ran past its time limit" in raised.value.reason
    # no stage record: a later run does the stage again instead of resuming from half an output
    assert not any(p.suffix == ".json" for p in Path(job.work_dir).glob("*"))
