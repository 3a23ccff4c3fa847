"""Vector arithmetic shared by the models, the store and the recommenders."""

from __future__ import annotations

import numpy as np

# Below this norm a vector is treated as zero (it stays zero instead of dividing by nothing).
MIN_NORM = 1e-12


def l2_normalise(vectors: np.ndarray, axis: int = -1) -> np.ndarray:
    """Unit vectors along `axis`, in the input's float precision (float32 for anything else); zero vectors stay
    zero, so a cosine with them is 0: "no opinion"."""
    vectors = np.asarray(vectors)
    if not np.issubdtype(vectors.dtype, np.floating):
        vectors = vectors.astype(np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=axis, keepdims=True), MIN_NORM)
