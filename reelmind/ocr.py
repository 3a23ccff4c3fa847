"""Text on screen (titles, slides, burnt-in subtitles), read with RapidOCR's PP-OCRv4 models (Chinese and English).

The ONNX models ship inside the rapidocr-onnxruntime wheel, so this works offline.
"""

from __future__ import annotations

import threading

import numpy as np

# Recognised lines below this confidence are mostly texture read as letters.
MIN_CONFIDENCE = 0.6

_engine = None
_lock = threading.Lock()


def _load():
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
    return _engine


def read_text(bgr: np.ndarray) -> list[str]:
    """Lines of text in a BGR frame, top to bottom."""
    engine = _load()
    with _lock:
        result, _elapsed = engine(bgr)
    if not result:
        return []
    boxes = sorted(result, key=lambda r: (min(p[1] for p in r[0]), min(p[0] for p in r[0])))
    return [text.strip() for _box, text, score in boxes if float(score) >= MIN_CONFIDENCE and text.strip()]
