"""Where one search's time goes, on a catalogue `reelmind bench search` built: each call search makes, timed.

    python benchmarks/search_phases.py DB [QUERIES] [--prewarm]   (default 40 queries, after 5 to warm up;
                                                                   --prewarm: Store.prewarm first, as the API)

Runs `reelmind.search.search` (k 10) over real sentences of the bench's corpus, as `reelmind bench search` does,
with the query's embedding, each LanceDB call (by table) and the moments' word matching timed where they run:
the calls on the pool's threads overlap, so the phases add up to more than the total. Prints p50/p95 per phase.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from reelmind import bench, registry, search  # noqa: E402
from reelmind.config import load_settings  # noqa: E402
from reelmind.store import Store  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)


def _timed(owner, name: str, label) -> None:
    real = getattr(owner, name)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            TIMES[label(args)].append(time.perf_counter() - started)

    setattr(owner, name, timed)


def main(db: str, queries: int = 40, prewarm: bool = False) -> None:
    settings = load_settings(db=db)
    if prewarm:
        started = time.perf_counter()
        print(f"prewarm: {Store.open(db).prewarm()} ({time.perf_counter() - started:.1f} s)")
    text = registry.load("text", settings.text_backend, settings.text_model)
    _timed(Store, "nearest", lambda a: f"vector search: {a[1]}")
    _timed(Store, "matches", lambda a: f"full-text search: {a[1]}")
    _timed(Store, "rows", lambda a: f"rows by key: {a[1].table}")
    _timed(Store, "rows_of_videos", lambda a: f"rows of the shown videos: {a[1].table}")
    _timed(type(text), "embed_queries", lambda a: "query embedding")
    _timed(search, "_word_moments", lambda a: "word moments (tokenise, match)")
    _timed(search, "search", lambda a: "search, end to end")
    sentences = bench.corpus_sentences()
    picks = np.random.default_rng(11).choice(len(sentences), queries + bench.WARMUP_QUERIES, replace=False)
    for i, pick in enumerate(picks):
        if i == bench.WARMUP_QUERIES:
            TIMES.clear()
        search.search(sentences[pick], settings, k=10)
    for label, times in sorted(TIMES.items()):
        times.sort()
        print(f"{label:40s} calls {len(times):4d}  p50 {1000 * times[len(times) // 2]:7.1f} ms  "
              f"p95 {1000 * times[min(len(times) - 1, int(0.95 * len(times)))]:7.1f} ms")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--prewarm"]
    main(args[0], int(args[1]) if len(args) > 1 else 40, "--prewarm" in sys.argv)
