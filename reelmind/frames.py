"""Pick the frames worth looking at: one per shot, a time-based floor in long shots, a cap per video.

Shot changes come from PySceneDetect's ContentDetector (HSV difference between frames, on a downscaled copy). Where
decoding every frame is cheap (short or small videos) it compares consecutive frames and finds each cut at its own
frame; otherwise it compares consecutive keyframes only, which FFmpeg decodes alone, tens of times cheaper: encoders
put a keyframe at each cut (x264's and libvpx's scene-cut detection), so there a cut is still found at its own time;
where they do not (a fixed keyframe interval), at the first keyframe after it, and a shot shorter than that interval
may be missed. Frames are then read at the chosen times, with OpenCV by seeking where every frame was decoded; on
keyframes, the keyframe at or before each time, which decodes alone (16 frames of the 5-minute bench video: 0.11 s
against 0.87 s of seeking and decoding up to each time): so there a shot's frame is its first, not one half a
second in, and two times with the same keyframe give one frame. Each is written as JPEG for the describers, and as
a small thumbnail that is kept for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
# Shots are found on every frame up to this much decoding (width x height x frames), on keyframes beyond it. Every
# frame cost ~2 ns a pixel here (3.4 s for the 7,200 frames of a 5-minute 640x360 video, decoding and comparing;
# its 50 keyframes took 0.16 s, and gave 31 of its 40 cuts at their frame, 9 a quarter second late and 10 more inside
# moving shots): this bounds it to ~0.5 s, e.g. 45 s of 360p or 11 s of 720p at 24 fps, next to the ~1.5 s that
# Whisper spends on 45 s of speech.
EVERY_FRAME_MAX_PIXELS = 250_000_000


@dataclass(frozen=True)
class FrameSample:
    time_s: float
    shot: int
    image_path: str
    thumbnail_path: str


def shot_starts(video_path: str | Path, threshold: float, every_frame: bool = True) -> list[float]:
    """Start times (s) of the shots PySceneDetect finds, on every frame or on keyframes only; [0.0] for one shot."""
    starts = _cuts_in_every_frame(video_path, threshold) if every_frame else _cuts_at_keyframes(video_path, threshold)
    return sorted({0.0, *starts})


def _cuts_in_every_frame(video_path: str | Path, threshold: float) -> list[float]:
    from scenedetect import ContentDetector, SceneManager, open_video

    video = open_video(str(video_path), backend="opencv")
    manager = SceneManager()
    manager.auto_downscale = True
    manager.add_detector(ContentDetector(threshold=threshold))
    with stop_at_deadline(manager.stop):  # detection decodes the whole video inside PySceneDetect
        manager.detect_scenes(video, show_progress=False)
    return [start.seconds for start, _end in manager.get_scene_list()]


def _cuts_at_keyframes(video_path: str | Path, threshold: float) -> list[float]:
    """Cuts between consecutive keyframes, at the later one's time (see the module's docstring)."""
    import av
    from scenedetect import ContentDetector, FrameTimecode
    from scenedetect.scene_manager import compute_downscale_factor

    # Keyframes are seconds apart: a cut may follow another at the next keyframe (no minimum shot length).
    detector, cuts = ContentDetector(threshold=threshold, min_scene_len=0), []
    with _keyframes_only(video_path) as (container, stream):
        fps = float(stream.average_rate or stream.guessed_rate or 1)
        # the size PySceneDetect compares frames at when it reads every frame (its auto downscale)
        factor = max(1.0, compute_downscale_factor(stream.codec_context.width))
        size = dict(width=max(1, int(stream.codec_context.width / factor)),
                    height=max(1, int(stream.codec_context.height / factor)))
        try:
            for frame in container.decode(stream):
                check_time_limit()
                if frame.time is not None:
                    picture = frame.to_ndarray(format="bgr24", **size)
                    cuts += [cut.seconds for cut in detector.process_frame(FrameTimecode(frame.time, fps), picture)]
        except av.error.InvalidDataError:  # a damaged or cut-off stream: the cuts up to there, as OpenCV does
            pass
    return cuts


@contextmanager
def _keyframes_only(video_path: str | Path) -> Iterator[tuple]:
    """(container, video stream) opened with PyAV so that decoding yields keyframes alone (FFmpeg skips the rest)."""
    import av

    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        yield container, stream


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
                   thumbnails_dir: str | Path, keyframes: bool = False) -> list[FrameSample]:
    """Read the frames at `times` (on `keyframes`: the keyframe at or before each) and write each as a JPEG and a
    thumbnail; frames that cannot be read are skipped."""
    frames_dir, thumbnails_dir = Path(frames_dir), Path(thumbnails_dir)
    frames_dir.mkdir(parents=True, exist_ok=True)
    thumbnails_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    for time_s, shot, frame in (_keyframes_at if keyframes else _frames_at)(video_path, times):
        name = f"{int(round(time_s * 1000)):09d}.jpg"
        image_path, thumb_path = frames_dir / name, thumbnails_dir / name
        _write_jpeg(image_path, _fit_width(frame, FRAME_MAX_WIDTH), JPEG_QUALITY)
        _write_jpeg(thumb_path, _fit_width(frame, THUMBNAIL_WIDTH), THUMBNAIL_JPEG_QUALITY)
        samples.append(FrameSample(round(time_s, 3), shot, str(image_path), str(thumb_path)))
    return samples


def _frames_at(video_path: str | Path, times: list[tuple[float, int]]) -> Iterator[tuple[float, int, np.ndarray]]:
    """(time, shot, BGR picture) of each frame at `times`, read with OpenCV by seeking."""
    capture = cv2.VideoCapture(str(video_path))
    try:
        for time_s, shot in times:
            check_time_limit()
            capture.set(cv2.CAP_PROP_POS_MSEC, time_s * 1000.0)
            ok, frame = capture.read()
            if ok and frame is not None:
                yield time_s, shot, frame
    finally:
        capture.release()


def _keyframes_at(video_path: str | Path, times: list[tuple[float, int]]) -> Iterator[tuple[float, int, np.ndarray]]:
    """(its time, shot, BGR picture) of the keyframe at or before each of `times`, each keyframe once. The shot
    stays the time's: shots found on keyframes start at one, so the keyframe before a time is in its shot."""
    import av

    seen = set()
    with _keyframes_only(video_path) as (container, stream):
        for time_s, shot in times:
            check_time_limit()
            try:
                container.seek(int(time_s / stream.time_base), stream=stream, backward=True, any_frame=False)
                frame = next((f for f in container.decode(stream) if f.time is not None), None)
            except av.error.InvalidDataError:  # a damaged or cut-off stream: the frames up to there
                return
            if frame is not None and frame.time not in seen:
                seen.add(frame.time)
                yield frame.time, shot, frame.to_ndarray(format="bgr24")


def sample_frames(video_path: str | Path, duration_s: float, frames_dir: str | Path, thumbnails_dir: str | Path,
                  *, max_frames: int, interval_s: float, threshold: float, pixels_per_s: float | None = None
                  ) -> list[FrameSample]:
    """`pixels_per_s`: width x height x fps, from the probe (None where unknown: then shots come from keyframes)."""
    every_frame = pixels_per_s is not None and pixels_per_s * duration_s <= EVERY_FRAME_MAX_PIXELS
    times = choose_times(duration_s, shot_starts(video_path, threshold, every_frame), interval_s, max_frames)
    return extract_frames(video_path, times, frames_dir, thumbnails_dir, keyframes=not every_frame)


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
