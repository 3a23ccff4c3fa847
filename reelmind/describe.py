"""Describe sampled frames: a visual vector, labels or a caption, and the text on screen, for each frame.

Frames of one shot often carry the same on-screen text; OCR (the slowest describer, ~1 s a frame here) is run
once per run of near-identical frames and its result reused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from reelmind.files import write_text_atomic
from reelmind.frames import FrameSample
from reelmind.ocr import read_text
from reelmind.timelimit import check_time_limit

# Two frames whose 64x36 grey versions differ by less than this mean absolute value (0-255) look the same to OCR.
SAME_PICTURE_MAD = 4.0


@dataclass(frozen=True)
class FrameDescription:
    time_s: float
    shot: int
    thumbnail_path: str
    labels: list[str]
    caption: str
    caption_source: str
    ocr_text: str


@dataclass(frozen=True)
class DescribedFrames:
    frames: list[FrameDescription]
    vectors: np.ndarray  # (n, dim) visual vectors, L2-normalised
    vision_model: str
    caption_model: str

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "frame_vectors.npy", self.vectors)
        meta = {"vision_model": self.vision_model, "caption_model": self.caption_model,
                "frames": [asdict(f) for f in self.frames]}
        # Written last, whole or not at all: its presence means the descriptions are complete.
        write_text_atomic(folder / "frames.json", json.dumps(meta, ensure_ascii=False))
        return folder / "frames.json"

    @classmethod
    def load(cls, path: str | Path) -> DescribedFrames:
        path = Path(path)
        meta = json.loads(path.read_text())
        return cls([FrameDescription(**f) for f in meta["frames"]], np.load(path.parent / "frame_vectors.npy"),
                   meta["vision_model"], meta["caption_model"])


def describe_frames(samples: list[FrameSample], vision, captioner, ocr: bool = True) -> DescribedFrames:
    images_bgr = [cv2.imread(s.image_path, cv2.IMREAD_COLOR) for s in samples]
    keep = [i for i, im in enumerate(images_bgr) if im is not None]
    samples = [samples[i] for i in keep]
    images_bgr = [images_bgr[i] for i in keep]
    images_rgb = [cv2.cvtColor(im, cv2.COLOR_BGR2RGB) for im in images_bgr]
    seen = vision.describe(images_rgb)
    screen = screen_text(images_bgr, [s.shot for s in samples]) if ocr else [[] for _ in samples]
    captions = captioner.caption(images_rgb, seen.labels, screen)
    frames = [FrameDescription(time_s=s.time_s, shot=s.shot, thumbnail_path=s.thumbnail_path,
                               labels=[name for name, _p in labels], caption=c.text, caption_source=c.source,
                               ocr_text=" / ".join(text))
              for s, labels, text, c in zip(samples, seen.labels, screen, captions)]
    return DescribedFrames(frames, seen.vectors, vision.model_id, captioner.model_id)


def screen_text(images_bgr: list[np.ndarray], shots: list[int]) -> list[list[str]]:
    out: list[list[str]] = []
    previous, previous_shot = None, None
    for image, shot in zip(images_bgr, shots):
        check_time_limit()
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (64, 36), interpolation=cv2.INTER_AREA)
        if previous is not None and shot == previous_shot and \
                float(np.mean(cv2.absdiff(small, previous))) < SAME_PICTURE_MAD:
            out.append(out[-1])
        else:
            out.append(read_text(image))
        previous, previous_shot = small, shot
    return out
