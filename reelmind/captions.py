"""Captions: a sentence per frame, and which source produced it (`caption_source`).

- "labels" (default, offline): the frame's visual labels plus its on-screen text. Honest about being a stand-in:
  its caption_source is "labels+ocr".
- "blip": a real image-captioning model (BLIP, through transformers) from `caption_model`, a folder or model id;
  caption_source "blip".
"""

from __future__ import annotations

import threading

import numpy as np

from reelmind.backends import Caption, CaptionBackend
from reelmind.registry import register
from reelmind.vision import picture_threads

# BLIP's captions are one short sentence; 30 tokens leaves room without rambling.
MAX_CAPTION_TOKENS = 30


def labels_and_text(labels: list[tuple[str, float]], screen_text: list[str]) -> str:
    parts = []
    if labels:
        parts.append(", ".join(name for name, _p in labels))
    if screen_text:
        parts.append("on screen: " + " / ".join(screen_text))
    return "; ".join(parts)


@register("caption", "labels")
class LabelCaptioner(CaptionBackend):
    default_model_id = model_id = "labels+ocr"
    source = "labels+ocr"

    def __init__(self, model: str = ""):
        pass

    def caption(self, images: list[np.ndarray], labels: list[list[tuple[str, float]]],
                screen_text: list[list[str]]) -> list[Caption]:
        return [Caption(labels_and_text(lab, txt), self.source) for lab, txt in zip(labels, screen_text)]


@register("caption", "blip")
class BlipCaptioner(CaptionBackend):
    source = "blip"

    def __init__(self, model: str = ""):
        if not model:
            raise ValueError("the blip caption backend needs caption_model: a BLIP folder or model id "
                             "(e.g. Salesforce/blip-image-captioning-base)")
        import torch
        from transformers import AutoProcessor, BlipForConditionalGeneration

        self.model = BlipForConditionalGeneration.from_pretrained(model).eval()
        self.processor = AutoProcessor.from_pretrained(model)
        self.model_id = f"blip:{model}"
        self._torch = torch
        self._lock = threading.Lock()

    def caption(self, images: list[np.ndarray], labels: list[list[tuple[str, float]]],
                screen_text: list[list[str]]) -> list[Caption]:
        if not images:
            return []
        inputs = self.processor(images=list(images), return_tensors="pt")
        with self._lock, self._torch.inference_mode(), picture_threads(self._torch):
            ids = self.model.generate(**inputs, max_new_tokens=MAX_CAPTION_TOKENS)
        texts = self.processor.batch_decode(ids, skip_special_tokens=True)
        return [Caption(" ".join(t.split()), self.source) for t in texts]
