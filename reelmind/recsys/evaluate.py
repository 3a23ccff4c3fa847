"""Offline evaluation of every recommender on MovieLens: Recall@20, NDCG@20 and catalogue coverage.

    reelmind evaluate --movielens DIR [--json]        or        python -m reelmind.recsys.evaluate DIR

Protocol (reelmind.recsys.splits.evaluation_split): positives are ratings >= 4; 10% of the items are held out
entirely as cold items; each user's other positives are split 80/20 at random (seeded), and again by time (last
20%). The models are the registered ones (reelmind.recsys.registry) named in EVALUATED, with MovieLens settings
(MOVIELENS_PARAMS). Rankings are full rankings that exclude the user's training items, in three settings: warm
test items ranked among warm items, cold items ranked among cold items, and everything ranked together ("mixed").
Prints a table, writes JSON and Markdown.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from reelmind.files import atomic_path, write_text_atomic
from reelmind.recsys import movielens, registry
from reelmind.recsys.base import Recommender
from reelmind.recsys.data import Items
from reelmind.recsys.hybrid import HybridRecommender
from reelmind.recsys.metrics import coverage, ndcg_at_k, recall_at_k
from reelmind.recsys.splits import Split, evaluation_split

K = 20
EVALUATED = ("random", "popularity", "als", "ease", "content", "hybrid")
# MovieLens ratings span 22 years; a 7-day popularity half-life would rank by last week's handful of ratings.
MOVIELENS_HALF_LIFE_DAYS = 365.0
# What the evaluation changes (with clone) in the registered models, and in the hybrid's components, by name.
# Content: no decay either: ratings are not a feed, and a rating from years ago still says what a user likes.
MOVIELENS_PARAMS: Mapping[str, Mapping[str, object]] = {
    "popularity": {"half_life_days": MOVIELENS_HALF_LIFE_DAYS},
    "content": {"half_life_days": None},
}


def movielens_model(name: str, temporal: bool) -> Recommender:
    """The registered model `name` with the MovieLens settings. The hybrid's components get them too, and it
    tunes its fusion the way the split tests (`temporal`: on latest positives, else on random ones)."""
    model = registry.make(name)
    if isinstance(model, HybridRecommender):
        components = {part: prototype.clone(**MOVIELENS_PARAMS.get(part, {}))
                      for part, prototype in model.components.items()}
        return model.clone(components=components, temporal_validation=temporal)
    return model.clone(**MOVIELENS_PARAMS.get(name, {}))


def embed_items(texts: tuple[str, ...], cache_dir: Path) -> np.ndarray:
    """Item text vectors with the default text model, cached by content (9.7k texts take about a minute)."""
    from reelmind import registry

    model = registry.load("text", "multilingual-e5-small")
    key = hashlib.sha256(("\n".join(texts) + model.model_id).encode()).hexdigest()[:16]
    path = cache_dir / f"item-vectors-{key}.npy"
    if path.is_file():
        return np.load(path)
    vectors = np.concatenate([model.embed_passages(list(texts[i:i + 256])) for i in range(0, len(texts), 256)])
    with atomic_path(path) as tmp:
        np.save(tmp, vectors)
    return vectors


def evaluate_split(split: Split, items: Items, names: list[str]) -> dict:
    users = split.train.user_ids
    warm_ids = [items.ids[c] for c in np.flatnonzero(split.warm)]
    cold_ids = [items.ids[c] for c in np.flatnonzero(split.cold)]
    results = {}
    for name in names:
        started = time.perf_counter()
        model = movielens_model(name, temporal=split.temporal).fit(split.train, items)
        fit_s = time.perf_counter() - started
        row = {"fit_s": round(fit_s, 1)}
        settings = {"warm": (warm_ids, split.held_warm), "cold": (cold_ids, split.held_cold),
                    "mixed": (None, [split.held(r) for r in range(len(users))])}
        for setting, (candidates, tests) in settings.items():
            evaluated = [r for r in range(len(users)) if tests[r]]
            started = time.perf_counter()
            recs = model.recommend_batch([users[r] for r in evaluated], k=K, candidates=candidates)
            ranked = [[items.index[pick.item_id] for pick in recs[users[r]]] for r in evaluated]
            relevant = [tests[r] for r in evaluated]
            row[f"{setting}_recall@20"] = round(recall_at_k(ranked, relevant, K), 4)
            row[f"{setting}_ndcg@20"] = round(ndcg_at_k(ranked, relevant, K), 4)
            if setting == "mixed":
                row["coverage"] = round(coverage(ranked, len(items)), 4)
                # how often a new item gets a place among everything: the cold-start route at work
                row["users_with_cold_item"] = round(float(np.mean([split.cold[r].any() for r in ranked])), 4)
                row["recommend_all_s"] = round(time.perf_counter() - started, 2)
        if name == "hybrid":
            row["weights"] = model.weights
            row["ranker_importance"] = model.tuning.get("ranker", {}).get("importance", {})
        results[name] = row
        print(f"  {split.name:8} {name:10} " + " ".join(f"{k}={v}" for k, v in row.items()
                                                        if k not in ("weights", "ranker_importance")),
              file=sys.stderr, flush=True)
    return results


def run_evaluation(movielens_dir: str | Path, out_dir: str | Path = "data/evaluation", seed: int = 42,
                   models: list[str] | None = None, cache_dir: str | Path | None = None) -> dict:
    from reelmind.config import load_settings

    names = models or list(EVALUATED)
    for name in names:
        registry.lookup(name)  # an unknown name fails now, not after the first models' minutes
    started = time.perf_counter()
    data = movielens.load(movielens_dir)
    vectors = embed_items(data.items.texts, Path(cache_dir or load_settings().cache_dir) / "embeddings")
    items = data.items.with_vectors(text_vectors=vectors)
    report = {"dataset": str(movielens_dir), "seed": seed, "k": K, "items": len(items),
              "positives": int(len(data.cols)), "splits": {}}
    positives = data.interactions()
    for temporal in (False, True):
        split = evaluation_split(positives, seed=seed, temporal=temporal)
        report["splits"][split.name] = evaluate_split(split, items, names)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "evaluation.json", json.dumps(report, indent=2))
    markdown = to_markdown(report)
    write_text_atomic(out / "evaluation.md", markdown)
    print(markdown)
    return report


COLUMNS = ["warm_recall@20", "warm_ndcg@20", "cold_recall@20", "cold_ndcg@20", "mixed_recall@20", "mixed_ndcg@20",
           "coverage", "users_with_cold_item", "fit_s", "recommend_all_s"]


def to_markdown(report: dict) -> str:
    lines = [f"# Offline evaluation, {report['dataset']} (seed {report['seed']}, k={report['k']})", ""]
    for split_name, rows in report["splits"].items():
        lines += [f"## {split_name} split", "", "| model | " + " | ".join(COLUMNS) + " |",
                  "|---|" + "---|" * len(COLUMNS)]
        for name, row in rows.items():
            lines.append(f"| {name} | " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |")
        if "hybrid" in rows:
            lines += ["", f"hybrid first-stage weights (tuned on validation): {rows['hybrid']['weights']}"]
            top = sorted(rows["hybrid"].get("ranker_importance", {}).items(), key=lambda kv: -kv[1])[:5]
            if top:
                lines += ["", "hybrid ranker, top features by gain: " + ", ".join(f"{n} {g}" for n, g in top)]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    run_evaluation(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-latest-small")
