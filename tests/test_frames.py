"""Shot changes and the frames sampled from them, on videos made here whose cuts and keyframes are known."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest

from reelmind.frames import EVERY_FRAME_MAX_PIXELS, extract_frames, sample_frames, shot_starts

FPS = 24
SIZE = (320, 180)
# Three scenes of different detailed pictures (so that a P-frame across a cut costs x264 more than a keyframe): cuts
# at 1.5 s and 3.5 s, 5 s in all.
SCENES = (("testsrc2", 1.5), ("smptehdbars", 2.0), ("mandelbrot", 1.5))
CUTS = [0.0, 1.5, 3.5]
THRESHOLD = 27.0
ONE_FRAME = 1 / FPS


def _video(path, *encoder_options: str):
    import imageio_ffmpeg

    inputs, filters = [], []
    for i, (source, seconds) in enumerate(SCENES):
        inputs += ["-f", "lavfi", "-t", str(seconds), "-i", f"{source}=s={SIZE[0]}x{SIZE[1]}:r={FPS}"]
        filters.append(f"[{i}:v]")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex",
                    "".join(filters) + f"concat=n={len(SCENES)}:v=1:a=0", "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", *encoder_options, str(path)], check=True)
    return path


def _scene_picture(shot: int) -> np.ndarray:
    """The first frame of a scene's source, as FFmpeg draws it (BGR)."""
    import imageio_ffmpeg

    source = SCENES[shot][0]
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                          f"{source}=s={SIZE[0]}x{SIZE[1]}:r={FPS}", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "bgr24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(SIZE[1], SIZE[0], 3).astype(float)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shots")
    # x264's own choice: a keyframe at each cut (scene-cut detection), at most 2 s apart
    return {"keyframe at each cut": _video(folder / "scenecut.mp4", "-g", str(2 * FPS)),
            # a keyframe every second whatever the picture does, as some platforms' encoders are set
            "keyframe every second": _video(folder / "fixed.mp4", "-g", str(FPS), "-sc_threshold", "0")}


def _close(found, expected):
    return len(found) == len(expected) and all(abs(a - b) <= ONE_FRAME for a, b in zip(found, expected))


@pytest.mark.parametrize("encoding", ["keyframe at each cut", "keyframe every second"])
def test_every_frame_finds_each_cut_at_its_frame(videos, encoding):
    found = shot_starts(videos[encoding], THRESHOLD, every_frame=True)
    assert _close(found, CUTS), found


def test_keyframes_find_each_cut_at_its_frame_where_the_encoder_put_a_keyframe_there(videos):
    found = shot_starts(videos["keyframe at each cut"], THRESHOLD, every_frame=False)
    assert _close(found, CUTS), found


def test_keyframes_find_each_cut_at_the_first_keyframe_after_it(videos):
    found = shot_starts(videos["keyframe every second"], THRESHOLD, every_frame=False)
    assert _close(found, [0.0, 2.0, 4.0]), found


@pytest.mark.parametrize("pixels_per_s, first_frames", [
    (SIZE[0] * SIZE[1] * FPS, [0.5, 2.0, 4.0]),                         # cheap to decode: every frame
    # 5 s of it is over the bound: shots from keyframes, and each shot's frame is its keyframe
    (EVERY_FRAME_MAX_PIXELS / 4.0, [0.0, 2.0, 4.0]),
    (None, [0.0, 2.0, 4.0]),                                             # size unknown: keyframes
])
def test_frames_are_sampled_from_the_shots_found_by_what_decoding_costs(videos, tmp_path, pixels_per_s, first_frames):
    samples = sample_frames(videos["keyframe every second"], 5.0, tmp_path / "frames", tmp_path / "thumbs",
                            max_frames=16, interval_s=10.0, threshold=THRESHOLD, pixels_per_s=pixels_per_s)
    assert _close([s.time_s for s in samples], first_frames), [s.time_s for s in samples]
    assert [s.shot for s in samples] == [0, 1, 2]
    scenes = [_scene_picture(shot) for shot in range(len(SCENES))]
    for sample in samples:  # a picture of its shot's scene (of the three, the nearest), whole, and its thumbnail
        picture, thumbnail = cv2.imread(sample.image_path), cv2.imread(sample.thumbnail_path)
        assert picture.shape[:2] == SIZE[::-1] and thumbnail is not None
        distances = [np.abs(picture.astype(float) - scene).mean() for scene in scenes]
        assert int(np.argmin(distances)) == sample.shot, distances


def test_on_keyframes_times_that_share_a_keyframe_give_one_frame(videos, tmp_path):
    times = [(2.1, 1), (2.6, 1), (3.2, 1)]  # keyframes every second: 2.0, 2.0 again, 3.0
    samples = extract_frames(videos["keyframe every second"], times, tmp_path / "frames", tmp_path / "thumbs",
                             keyframes=True)
    assert _close([s.time_s for s in samples], [2.0, 3.0]) and [s.shot for s in samples] == [1, 1]
