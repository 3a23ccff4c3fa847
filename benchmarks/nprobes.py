"""Partitions to probe per vector index (reelmind.indexes.NPROBES), chosen on validation queries.

    python benchmarks/nprobes.py DB [--json PATH]

On a catalogue `reelmind bench search` built: for each searched vector index and each candidate number of
partitions probed, recall@10 of a top-80 search (what a search asks for at k 10) against an exact scan, and the
p50 time of that search alone (row ids and distances, as a prewarmed search reads them). The queries are corpus
sentences the bench does not search for (`bench.search_queries` left out), so the recall the bench then reports on
its own queries is measured on queries that chose nothing. The choice: the fewest partitions whose validation
recall@10 is at least TARGET_RECALL (the issue's 0.95 plus a margin for a 40-query estimate).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from reelmind import bench, indexes, registry  # noqa: E402
from reelmind.config import load_settings  # noqa: E402
from reelmind.store import Store  # noqa: E402

CANDIDATES = (2, 4, 6, 8, 10, 12, 16)
VALIDATION_QUERIES = 40
# A 40-query mean of recall@10 has a standard error of ~0.01-0.02 near 0.97, and a probe costs ~0.1-0.3 ms: 0.99
# leaves the issue's 0.95 a wide margin cheaply. (0.98 first; raised after it chose the frames' 2 exactly at 0.980.)
TARGET_RECALL = 0.99
TOP = 80


def main(db: str, json_path: str | None = None) -> dict:
    settings = load_settings(db=db)
    store = Store.open(db)
    store.prewarm()
    text = registry.load("text", settings.text_backend, settings.text_model)
    sentences = bench.corpus_sentences()
    used = set(bench.search_queries(sentences, bench.BenchOptions()))
    rest = [s for s in sentences if s not in used]
    picks = np.random.default_rng(2).choice(len(rest), VALIDATION_QUERIES, replace=False)
    vectors = text.embed_queries([rest[i] for i in picks])
    result: dict = {"queries": VALIDATION_QUERIES, "target_recall": TARGET_RECALL, "indexes": {}}
    for name, columns in indexes.VECTOR_INDEXES.items():
        for column in columns:
            exact = [{r["id"] for r in store.nearest(name, column, q, bench.RECALL_K, exact=True, columns=["id"])}
                     for q in vectors]
            rows = []
            for nprobes in CANDIDATES:
                indexes.NPROBES[name] = nprobes
                recall, times = [], []
                for q, truth in zip(vectors, exact, strict=True):
                    started = time.perf_counter()
                    found = store.nearest(name, column, q, TOP, columns=["id"])
                    times.append(time.perf_counter() - started)
                    recall.append(len({r["id"] for r in found[:bench.RECALL_K]} & truth) / max(1, len(truth)))
                rows.append({"nprobes": nprobes, "recall_at_10": round(statistics.fmean(recall), 4),
                             "p50_ms": round(1000 * statistics.median(times), 2)})
                print(f"{name}.{column:12s} nprobes {nprobes:3d}  recall@10 {rows[-1]['recall_at_10']:.3f}  "
                      f"p50 {rows[-1]['p50_ms']:6.2f} ms", flush=True)
            chosen = next((r["nprobes"] for r in rows if r["recall_at_10"] >= TARGET_RECALL), CANDIDATES[-1])
            result["indexes"][f"{name}.{column}"] = {"chosen": chosen, "sweep": rows}
            print(f"{name}.{column}: chosen {chosen}")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[args.index("--json") + 1] if "--json" in args else None)
