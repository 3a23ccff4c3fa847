"""Visual backends and captioners: the offline default on real frames, CLIP and BLIP through their real loaders."""

from __future__ import annotations

import numpy as np
import pytest

from reelmind import registry
from reelmind.captions import labels_and_text

from tiny_models import save_tiny_blip, save_tiny_clip


def _frames(n=3, size=96):
    rng = np.random.default_rng(0)
    frames = [np.full((size, size, 3), c, np.uint8) for c in ((220, 40, 40), (30, 160, 60))]
    frames.append(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return frames[:n]


def test_efficientnet_describes_frames():
    vision = registry.load("vision", "efficientnet-lite0")
    out = vision.describe(_frames())
    assert out.vectors.shape == (3, 1280) and vision.dim == 1280
    assert np.allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-4)
    assert len(out.labels) == 3 and all(isinstance(name, str) for frame in out.labels for name, _p in frame)
    # different pictures, different vectors
    assert float(out.vectors[0] @ out.vectors[2]) < 0.999
    assert registry.load("vision", "efficientnet-lite0") is vision  # loaded once per process


def test_clip_loader_on_a_tiny_saved_model(tmp_path):
    folder = save_tiny_clip(tmp_path / "tiny-clip")
    clip = registry.load("vision", "clip", str(folder))
    assert clip.model_id == f"clip:{folder}" and clip.dim == 16 and clip.embeds_text
    out = clip.describe(_frames())
    assert out.vectors.shape == (3, 16)
    assert all(len(labels) <= 3 for labels in out.labels)
    text = clip.embed_texts(["a cat", "a rocket"])
    assert text.shape == (2, 16) and np.allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-4)


def test_clip_without_a_model_says_what_to_configure():
    with pytest.raises(ValueError, match="vision_model"):
        registry.load("vision", "clip")


def test_blip_loader_on_a_tiny_saved_model(tmp_path):
    folder = save_tiny_blip(tmp_path / "tiny-blip")
    blip = registry.load("caption", "blip", str(folder))
    captions = blip.caption(_frames(2), [[], []], [[], []])
    assert [c.source for c in captions] == ["blip", "blip"]
    assert all(isinstance(c.text, str) for c in captions)


def test_label_captions_say_they_are_labels():
    captioner = registry.load("caption", "labels")
    [caption] = captioner.caption(_frames(1), [[("tomato", 0.6), ("soup bowl", 0.2)]], [["Tomato Soup Recipe"]])
    assert caption.source == "labels+ocr"
    assert caption.text == "tomato, soup bowl; on screen: Tomato Soup Recipe"
    assert labels_and_text([], []) == ""
