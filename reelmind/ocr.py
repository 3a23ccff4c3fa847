"""Text on screen (titles, slides, burnt-in subtitles), read with RapidOCR's PP-OCRv4 models (Chinese and English).

The ONNX models ship inside the rapidocr-onnxruntime wheel, so this works offline.
"""

from __future__ import annotations

import threading

import numpy as np

# Recognised lines below this confidence are mostly texture read as letters.
MIN_CONFIDENCE = 0.6
# Text detection sees a frame at most this large (longest side). RapidOCR's default scales the *shortest* side up
# to 736, so a 640x360 frame was detected at 1308x736: the detector was most of OCR's cost, on frames without text
# too. Measured on the fixtures' 9 text frames and 5 frames without text: 5.1 s with the default, 2.8 s this way,
# every expected line still read (only the spaces between words differ).
DET_MAX_SIDE = 960
# ONNX Runtime threads per OCR model. OCR runs beside speech (the picture and sound branches overlap), and Whisper's
# copies already hold every core: with ONNX Runtime's default (one thread per core, spinning while it waits) the
# 16 frames of the 5-minute bench video took 0.8 s alone, and 120 s of speech decoding beside them took 0.73-0.95 s
# longer than alone; on one thread, 1.1 s alone and 0.39-0.42 s longer.
OCR_THREADS = 1

_engine = None
_lock = threading.Lock()


def load_engine():
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR(det_limit_type="max", det_limit_side_len=DET_MAX_SIDE, intra_op_num_threads=OCR_THREADS,
                               inter_op_num_threads=OCR_THREADS)
    return _engine


def read_text(bgr: np.ndarray) -> list[str]:
    """Lines of text in a BGR frame, top to bottom; boxes on one line are joined left to right."""
    engine = load_engine()
    with _lock:
        result, _elapsed = engine(bgr)
    boxes = [(box, text.strip()) for box, text, score in (result or [])
             if float(score) >= MIN_CONFIDENCE and text.strip()]
    return [" ".join(text for _box, text in line) for line in _lines(boxes)]


def _lines(boxes: list) -> list[list]:
    """Group boxes whose vertical centres lie within half a box height of each other (RapidOCR often splits one
    line of large text into several boxes, not always in reading order)."""
    def centre(box):
        ys = [p[1] for p in box]
        return (min(ys) + max(ys)) / 2, max(ys) - min(ys)

    lines: list[list] = []
    for item in sorted(boxes, key=lambda b: centre(b[0])[0]):
        y, height = centre(item[0])
        if lines and abs(y - lines[-1][-1][2]) <= max(height, lines[-1][-1][3]) / 2:
            lines[-1].append((*item, y, height))
        else:
            lines.append([(*item, y, height)])
    return [[(box, text) for box, text, _y, _h in sorted(line, key=lambda b: min(p[0] for p in b[0]))]
            for line in lines]
