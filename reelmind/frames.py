"""Pick the frames worth looking at: one per shot, a time-based floor in long shots, a cap per video.

Shot changes come from PySceneDetect's ContentDetector (HSV difference between consecutive frames, on a
downscaled copy); frames are then read with OpenCV by seeking, written as JPEG for the describers, and as a small
thumbnail that is kept for people to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reelmind.files import atomic_path
from reelmind.timelimit import check_time_limit, stop_at_deadline

# Take the shot's frame a little after the cut: the first frames after a cut are often blurred or mid-fade.
AFTER_CUT_S = 0.5
# Frames for describers are capped at this width (OCR reads 720p subtitles well; more only costs time).
FRAME_MAX_WIDTH = 1280
THUMBNAIL_WIDTH = 320
JPEG_QUALITY = 90
THUMBNAIL_JPEG_QUALITY = 80


@dataclass(frozen=True)
class FrameSample:
    time_s: float
    shot: int
    image_path: str
    thumbnail_path: str


def shot_starts(video_path: str | Path, threshold: float) -> list[float]:
    """Start times (s) of the shots PySceneDetect finds; [0.0] for a single shot."""
    from scenedetect import ContentDetector, SceneManager, open_video

    video = open_video(str(video_path), backend="opencv")
    manager = SceneManager()
    manager.auto_downscale = True
    manager.add_detector(ContentDetector(threshold=threshold))
    with stop_at_deadline(manager.stop):  # detection decodes the whole video inside PySceneDetect
        manager.detect_scenes(video, show_progress=False)
    starts = [start.seconds for start, _end in manager.get_scene_list()]
    return starts or [0.0]


def choose_times(duration_s: float, starts: list[float], interval_s: float, max_frames: int) -> list[tuple[float, int]]:
    """(time, shot index) pairs: a frame per shot, one every `interval_s` within long shots, at most `max_frames`.

    When over the cap, shots keep priority over the time floor, and both are thinned evenly so the picks still
    cover the whole video.
    """
    # The floor below steps by interval_s: 0 or less would never reach a shot's end (`not > 0` refuses NaN too).
    if not interval_s > 0:
        raise ValueError(f"frame interval must be a number of seconds > 0, got {interval_s}")
    bounds = sorted(set(starts) | {0.0}) + [duration_s]
    per_shot, floor = [], []
    for shot, (begin, end) in enumerate(zip(bounds, bounds[1:])):
        if end - begin <= 0:
            continue
        per_shot.append((min(begin + AFTER_CUT_S, (begin + end) / 2), shot))
        t = begin + interval_s
        while t < end - AFTER_CUT_S:
            floor.append((t, shot))
            t += interval_s
    chosen = _thin(per_shot, max_frames)
    chosen += _thin(floor, max_frames - len(chosen))
    return sorted(chosen)


def _thin(items: list, keep: int) -> list:
    if keep <= 0:
        return []
    if len(items) <= keep:
        return list(items)
    picks = np.linspace(0, len(items) - 1, keep).round().astype(int)
    return [items[i] for i in sorted(set(picks))]


def extract_frames(video_path: str | Path, times: list[tuple[float, int]], frames_dir: str | Path,
                   thumbnails_dir: str | Path) -> list[FrameSample]:
    """Read the frames at `times` and write each as a JPEG and a thumbnail; frames that cannot be read are skipped."""
    frames_dir, thumbnails_dir = Path(frames_dir), Path(thumbnails_dir)
    frames_dir.mkdir(parents=True, exist_ok=True)
    thumbnails_dir.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video_path))
    samples = []
    try:
        for time_s, shot in times:
            check_time_limit()
            capture.set(cv2.CAP_PROP_POS_MSEC, time_s * 1000.0)
            ok, frame = capture.read()
            if not ok or frame is None:
                continue
            name = f"{int(round(time_s * 1000)):09d}.jpg"
            image_path, thumb_path = frames_dir / name, thumbnails_dir / name
            _write_jpeg(image_path, _fit_width(frame, FRAME_MAX_WIDTH), JPEG_QUALITY)
            _write_jpeg(thumb_path, _fit_width(frame, THUMBNAIL_WIDTH), THUMBNAIL_JPEG_QUALITY)
            samples.append(FrameSample(round(time_s, 3), shot, str(image_path), str(thumb_path)))
    finally:
        capture.release()
    return samples


def sample_frames(video_path: str | Path, duration_s: float, frames_dir: str | Path, thumbnails_dir: str | Path,
                  *, max_frames: int, interval_s: float, threshold: float) -> list[FrameSample]:
    times = choose_times(duration_s, shot_starts(video_path, threshold), interval_s, max_frames)
    return extract_frames(video_path, times, frames_dir, thumbnails_dir)


def _fit_width(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w <= width:
        return frame
    return cv2.resize(frame, (width, int(round(h * width / w))), interpolation=cv2.INTER_AREA)


def _write_jpeg(path: Path, frame: np.ndarray, quality: int) -> None:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())
