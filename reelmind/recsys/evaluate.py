"""Offline evaluation: every recommender over several seeds, splits and variants of a MovieLens folder.

    reelmind evaluate --movielens DIR [--seeds 5] [--quick] [--json]   or   python -m reelmind.recsys.evaluate DIR

Protocol (reelmind.recsys.splits.evaluation_split): 10% of the items are held out whole as new items; each user's
other positives are split 80/20, at random (seeded) or by time (each user's latest 20%). Every model is fitted and
ranks through `reelmind.recsys.ranking`, the path `recommend-offline` and the recommend flow take, with its
registered parameters (nothing set for this dataset), and ranks the full catalogue as users are served. Measured
@20 on that ranking: mixed Recall and NDCG (every held-out positive), warm Recall and NDCG (the held-out positives on
items kept in training), the share of users with a new item in their list, the new items' hit rate (share of the
new items placed in lists that the user went on to like), coverage. Extra columns, clearly named: a ranking among
warm items only (`warm_only_*`) and among new items only (`cold_only_recall@20`).

The robustness protocol repeats this over `seeds` seeds and over VARIANTS of the dataset (all of it; the item text
without users' tags; half of the users; a stricter positive threshold), on the random split and, for the full
dataset, the temporal split, and reports each metric's mean and standard deviation. Prints the table and writes
JSON and Markdown (`data/evaluation/`).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelmind.files import write_text_atomic
from reelmind.recsys import movielens, ranking, registry
from reelmind.recsys.base import Recommendation, Recommender
from reelmind.recsys.data import Id, Interactions, Items
from reelmind.recsys.metrics import coverage, ndcg_at_k, recall_at_k
from reelmind.recsys.splits import Split, evaluation_split

K = 20
EVALUATED = ("random", "popularity", "als", "ease", "content", "hybrid")
# The single models the hybrid must match or beat (its components).
COMPONENTS = ("popularity", "als", "ease", "content")
FIRST_SEED = 42
SEEDS = 5


@dataclass(frozen=True)
class Variant:
    """A dataset built from the MovieLens folder: `with_tags` (users' tags in the item text), `positive_rating`
    (the rating that counts as a positive), `user_share` (the share of users kept, drawn per seed)."""

    name: str
    description: str
    with_tags: bool = True
    positive_rating: float = movielens.POSITIVE_RATING
    user_share: float = 1.0
    temporal_too: bool = False  # also evaluated on the temporal split


VARIANTS = (
    Variant("full", "every user, title + genres + tags, positives >= 4", temporal_too=True),
    Variant("no-tags", "item text is title + genres only (thin text)", with_tags=False),
    Variant("half-users", "a random half of the users (drawn per seed)", user_share=0.5),
    Variant("positives-4.5", "positives are ratings >= 4.5 (about half as many)", positive_rating=4.5),
)


def ranked(name: str, split: Split, items: Items, k: int = K) -> tuple[Recommender, dict[Id, list[Recommendation]]]:
    """The model `name` fitted on the split's training data, and every user's top k over the full catalogue:
    `reelmind.recsys.ranking.fit_and_rank`, exactly as recommend-offline and the recommend flow call it."""
    users = [u for u, n in zip(split.train.user_ids, np.diff(split.train.matrix.indptr)) if n]
    return ranking.fit_and_rank(name, split.train, items, users, k)


def _columns(recs: Mapping[Id, list[Recommendation]], items: Items, users: tuple[Id, ...]) -> list[list[int]]:
    return [[items.index[r.item_id] for r in recs.get(u, [])] for u in users]


def evaluate_split(split: Split, items: Items, names: list[str]) -> dict:
    users = split.train.user_ids
    new = split.train.item_counts() == 0  # what the model sees as new: the held-out items, and any never liked
    held = [split.held(r) for r in range(len(users))]
    evaluated = [r for r in range(len(users)) if held[r]]
    results = {}
    for name in names:
        started = time.perf_counter()
        model, recs = ranked(name, split, items)
        row: dict[str, object] = {"fit_and_rank_s": round(time.perf_counter() - started, 1)}
        lists = _columns(recs, items, users)
        row.update(_metrics(lists, held, split, new, evaluated))
        row["coverage"] = round(coverage([lists[r] for r in evaluated], len(items)), 4)
        warm_ids = [items.ids[c] for c in np.flatnonzero(split.warm)]
        cold_ids = [items.ids[c] for c in np.flatnonzero(split.cold)]
        for setting, candidates, tests in (("warm_only", warm_ids, split.held_warm),
                                           ("cold_only", cold_ids, split.held_cold)):
            who = [r for r in evaluated if tests[r]]
            picked = model.recommend_batch([users[r] for r in who], k=K, candidates=candidates)
            cols = [[items.index[p.item_id] for p in picked[users[r]]] for r in who]
            row[f"{setting}_recall@20"] = round(recall_at_k(cols, [tests[r] for r in who], K), 4)
            if setting == "warm_only":
                row["warm_only_ndcg@20"] = round(ndcg_at_k(cols, [tests[r] for r in who], K), 4)
        report = model.report()
        if report:
            row["model"] = report
        if getattr(model, "explore_share", 0):  # the price of exploration: the same model without its slot
            quiet = copy.copy(model)
            quiet.explore_share = 0.0
            quiet_lists = _columns(ranking.rank(quiet, [users[r] for r in evaluated], K), items, users)
            row["without_exploration"] = _metrics(quiet_lists, held, split, new, evaluated)
        results[name] = row
        print(f"  {split.name:8} {name:10} " + " ".join(f"{k}={v}" for k, v in row.items()
                                                        if not isinstance(v, dict)), file=sys.stderr, flush=True)
    return results


def _metrics(lists: list[list[int]], held: list[set[int]], split: Split, new: np.ndarray,
             evaluated: list[int]) -> dict[str, float]:
    ranked_lists = [lists[r] for r in evaluated]
    new_picks = [[c for c in lists[r][:K] if new[c]] for r in evaluated]
    hits = sum(len(set(p) & held[r]) for p, r in zip(new_picks, evaluated))
    shown = sum(len(p) for p in new_picks)
    return {
        "mixed_recall@20": round(recall_at_k(ranked_lists, [held[r] for r in evaluated], K), 4),
        "mixed_ndcg@20": round(ndcg_at_k(ranked_lists, [held[r] for r in evaluated], K), 4),
        "warm_recall@20": round(recall_at_k(ranked_lists, [split.held_warm[r] for r in evaluated], K), 4),
        "warm_ndcg@20": round(ndcg_at_k(ranked_lists, [split.held_warm[r] for r in evaluated], K), 4),
        "users_with_new_item@20": round(float(np.mean([bool(p) for p in new_picks])) if new_picks else 0.0, 4),
        "new_item_hit_rate@20": round(hits / shown, 4) if shown else 0.0,
    }


def variant_data(folder: str | Path, variant: Variant, seed: int, cache_dir: Path) -> tuple[Interactions, Items]:
    """The variant's positives (for `seed`: its half of the users) and its items with text vectors."""
    data = movielens.load(folder, with_tags=variant.with_tags, positive_rating=variant.positive_rating)
    items = ranking.with_text_vectors(data.items, cache_dir)
    positives = data.interactions()
    if variant.user_share < 1.0:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(positives.n_users, int(round(variant.user_share * positives.n_users)),
                                  replace=False))
        positives = positives.subset_users(keep)
    return positives, items


METRICS = ("mixed_ndcg@20", "mixed_recall@20", "warm_recall@20", "warm_ndcg@20", "users_with_new_item@20",
           "new_item_hit_rate@20", "warm_only_recall@20", "cold_only_recall@20", "coverage", "fit_and_rank_s")


def run_evaluation(movielens_dir: str | Path, out_dir: str | Path = "data/evaluation", seeds: int = SEEDS,
                   models: list[str] | None = None, variants: tuple[Variant, ...] = VARIANTS,
                   cache_dir: str | Path | None = None) -> dict:
    from reelmind.config import load_settings

    if seeds < 1:
        raise ValueError(f"seeds must be at least 1 (got {seeds})")
    names = models or list(EVALUATED)
    for name in names:
        registry.lookup(name)  # an unknown name fails now, not after the first models' minutes
    cache = Path(cache_dir or load_settings().cache_dir) / "embeddings"
    started = time.perf_counter()
    report: dict = {"dataset": str(movielens_dir), "seeds": list(range(FIRST_SEED, FIRST_SEED + seeds)), "k": K,
                    "runs": {}, "summary": {}}
    for variant in variants:
        for temporal in (False, True) if variant.temporal_too else (False,):
            key = f"{variant.name}/{'temporal' if temporal else 'random'}"
            runs = []
            for seed in report["seeds"]:
                positives, items = variant_data(movielens_dir, variant, seed, cache)
                split = evaluation_split(positives, seed=seed, temporal=temporal)
                print(f"{key} seed {seed}: {positives.n_users} users, {len(items)} items", file=sys.stderr)
                runs.append(evaluate_split(split, items, names))
            report["runs"][key] = runs
            report["summary"][key] = summarise(runs, variant.description)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "evaluation.json", json.dumps(report, indent=2))
    markdown = to_markdown(report)
    write_text_atomic(out / "evaluation.md", markdown)
    print(markdown)
    return report


def summarise(runs: list[dict], description: str) -> dict:
    """Per model and metric, mean and standard deviation over the seeds; the hybrid's stage decisions counted."""
    out: dict = {"description": description, "models": {}}
    for name in runs[0]:
        rows = [run[name] for run in runs]
        stats = {m: {"mean": round(float(np.mean([r[m] for r in rows])), 4),
                     "std": round(float(np.std([r[m] for r in rows])), 4)} for m in METRICS if m in rows[0]}
        quiet = [r["without_exploration"] for r in rows if "without_exploration" in r]
        if quiet:
            stats["without_exploration"] = {m: round(float(np.mean([q[m] for q in quiet])), 4) for m in quiet[0]}
        stages = [r["model"].get("stages") for r in rows if isinstance(r.get("model"), dict)]
        if any(stages):
            kept: dict[str, int] = {}
            for decision in stages:
                for stage, verdict in (decision or {}).items():
                    kept[stage] = kept.get(stage, 0) + int(verdict.get("kept", False))
            stats["stages_kept"] = {stage: f"{n}/{len(stages)}" for stage, n in kept.items()}
            explored = [(decision or {}).get("exploration", {}) for decision in stages]
            if any("users" in e for e in explored):  # chosen on each seed's validation draws
                stats["exploration_chosen"] = [f"{e.get('users', 0):.0%} of users, quantile {e.get('quantile')}"
                                               for e in explored]
        out["models"][name] = stats
    return out


TABLE = ("mixed_ndcg@20", "mixed_recall@20", "warm_recall@20", "warm_ndcg@20", "users_with_new_item@20",
         "new_item_hit_rate@20", "warm_only_recall@20", "cold_only_recall@20")


def to_markdown(report: dict) -> str:
    seeds = report["seeds"]
    lines = [f"# Offline evaluation, {report['dataset']} (@{report['k']}, mean ± std over seeds "
             f"{seeds[0]}-{seeds[-1]})", ""]
    for key, summary in report["summary"].items():
        lines += [f"## {key}: {summary['description']}", "",
                  "| model | " + " | ".join(TABLE) + " |", "|---|" + "---|" * len(TABLE)]
        for name, stats in summary["models"].items():
            cells = [f"{stats[m]['mean']:.4f} ± {stats[m]['std']:.4f}" if m in stats else "" for m in TABLE]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for name, stats in summary["models"].items():
            if "without_exploration" in stats:
                q = stats["without_exploration"]
                lines += ["", f"{name} without its exploration slot: mixed NDCG {q['mixed_ndcg@20']}, warm Recall "
                              f"{q['warm_recall@20']}, users with a new item {q['users_with_new_item@20']}"]
            if "stages_kept" in stats:
                lines += ["", f"{name} stages kept (seeds): " + ", ".join(f"{s} {v}"
                                                                         for s, v in stats["stages_kept"].items())]
            if "exploration_chosen" in stats:
                lines += ["", f"{name} exploration chosen on validation (per seed): "
                              + "; ".join(stats["exploration_chosen"])]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    run_evaluation(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-latest-small")
