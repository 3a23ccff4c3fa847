"""The hybrid: popularity, collaborative filtering and content, fused by weights tuned on a validation split.

Each component's scores are standardised per user (z-scores over the items it has an opinion on; items it knows
nothing about sit at its average), then summed with weights found by coordinate ascent on NDCG@20 over a
validation split carved out of the training data (each user's last `VALIDATION_FRACTION` of positives, at random).
Cold start falls out of the same sum: a new user has no CF opinion, so popularity and their stated interests decide;
a new item has no CF or popularity opinion, so content similarity decides whether it reaches a user. Picks are
re-ranked for diversity with MMR over the items' vectors, and each one's reason comes from the component that
contributed most to its score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from reelmind.recsys.base import Recommender, top_k
from reelmind.recsys.cf import EASE_SIDE_WEIGHT, ALSRecommender, EASERecommender
from reelmind.recsys.content import ContentRecommender
from reelmind.recsys.data import Interactions
from reelmind.recsys.popularity import PopularityRecommender

VALIDATION_FRACTION = 0.2
# Share of warm items the tuning treats as new (as the evaluation holds out 10% of the catalogue as cold).
PSEUDO_COLD_FRACTION = 0.1
# The extra weight on content for items nobody has interacted with: the cold-start route, tuned like the others.
COLD_ROUTE = "content-for-new-items"
# Users need this many positives to give some to validation and keep some for training.
MIN_POSITIVES_TO_SPLIT = 5
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
TUNING_PASSES = 3
TUNING_K = 20
# MMR: 1.0 is pure relevance. 0.9 swaps a near-duplicate for the next-best different item only when scores are close.
MMR_LAMBDA = 0.9
MMR_POOL = 5  # re-rank among the top k x MMR_POOL


def default_components() -> dict[str, Callable[[], Recommender]]:
    # partial, not lambda: the fitted hybrid is pickled by the recommend flow for on-demand requests
    return {"popularity": PopularityRecommender, "ease": partial(EASERecommender, side_weight=EASE_SIDE_WEIGHT),
            "als": ALSRecommender, "content": ContentRecommender}


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores over finite entries; entries without an opinion (-inf) get 0, the row's average: a model
    that knows nothing of an item (CF and a new video) neither pushes it up nor buries it, so the components
    that do know it (content) decide."""
    finite = np.isfinite(scores)
    count = finite.sum(axis=1, keepdims=True)
    safe = np.where(finite, scores, 0.0)
    mean = safe.sum(axis=1, keepdims=True) / np.maximum(count, 1)
    var = (np.where(finite, (safe - mean) ** 2, 0.0)).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    z = (safe - mean) / np.maximum(np.sqrt(var), 1e-6)
    return np.where(finite, z, 0.0).astype(np.float32)


def ndcg_at_k(ranked: np.ndarray, relevant: list[set[int]], k: int) -> float:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for picks, rel in zip(ranked, relevant):
        if not rel:
            continue
        gains = np.array([c in rel for c in picks[:k]], float)
        total += float(gains @ discounts[:len(gains)]) / float(discounts[:min(len(rel), k)].sum())
    return total / max(sum(1 for r in relevant if r), 1)


def split_validation(inter: Interactions, fraction: float, seed: int,
                     cold_fraction: float = 0.0) -> tuple[Interactions, list[set[int]]]:
    """Training interactions without each user's validation positives, and those positives per row. With
    `cold_fraction`, that share of the warm items is also held out whole (all its interactions become validation
    positives), so the fusion learns how far to trust content for items nobody has watched yet."""
    rng = np.random.default_rng(seed)
    m, t = inter.matrix.tocoo(), inter.last_seen.tocoo()
    keep = np.ones(m.nnz, bool)
    warm = np.flatnonzero(inter.item_counts() > 0)
    pseudo_cold = np.zeros(inter.n_items, bool)
    if cold_fraction > 0 and len(warm):
        pseudo_cold[rng.choice(warm, size=int(round(cold_fraction * len(warm))), replace=False)] = True
    held: list[set[int]] = [set() for _ in range(inter.n_users)]
    order = np.argsort(m.row, kind="stable")
    starts = np.searchsorted(m.row[order], np.arange(inter.n_users + 1))
    for row in range(inter.n_users):
        entries = order[starts[row]:starts[row + 1]]
        cold_entries = entries[pseudo_cold[m.col[entries]]]
        keep[cold_entries] = False
        held[row] = set(m.col[cold_entries[m.data[cold_entries] > 0]].tolist())
        entries = entries[~pseudo_cold[m.col[entries]]]
        positive = entries[m.data[entries] > 0]
        if len(positive) < MIN_POSITIVES_TO_SPLIT:
            continue
        chosen = rng.choice(positive, size=max(1, int(round(fraction * len(positive)))), replace=False)
        keep[chosen] = False
        held[row] |= set(m.col[chosen].tolist())
    train = Interactions.from_arrays(inter.user_ids, inter.item_ids, m.row[keep], m.col[keep], m.data[keep],
                                     t.data[keep])
    return train, held


class HybridRecommender(Recommender):
    source = "hybrid"

    def __init__(self, components: dict[str, Callable[[], Recommender]] | None = None,
                 weights: dict[str, float] | None = None, mmr_lambda: float = MMR_LAMBDA, seed: int = 0):
        self.factories = components or default_components()
        self.fixed_weights = weights
        self.mmr_lambda, self.seed = mmr_lambda, seed
        self.tuning: dict[str, float] = {}

    def _fit(self) -> None:
        self.weights = dict(self.fixed_weights) if self.fixed_weights else self._tune()
        wanted = {name for name, w in self.weights.items() if w > 0}
        if self.weights.get(COLD_ROUTE, 0) > 0:
            wanted.add("content")
        self.models = {name: make().fit(self.interactions, self.items, self.user_texts)
                       for name, make in self.factories.items() if name in wanted}
        self._cold = self.interactions.item_counts() == 0

    def _tune(self) -> dict[str, float]:
        """Coordinate ascent on validation NDCG@20, starting from equal weights."""
        train, held = split_validation(self.interactions, VALIDATION_FRACTION, self.seed, PSEUDO_COLD_FRACTION)
        rows = np.array([r for r, h in enumerate(held) if h])
        names = list(self.factories)
        if len(rows) == 0:
            return {name: 1.0 for name in names}
        models = {name: make().fit(train, self.items, self.user_texts) for name, make in self.factories.items()}
        seen = train.matrix[rows]
        z = {}
        for name, model in models.items():
            s = standardise(model.score(rows))
            s[np.repeat(np.arange(len(rows)), np.diff(seen.indptr)), seen.indices] = -np.inf
            z[name] = s
        relevant = [held[r] for r in rows]
        if "content" in z:
            z[COLD_ROUTE] = np.where((train.item_counts() == 0)[None, :], z["content"], 0.0)
            z[COLD_ROUTE][np.isinf(z["content"])] = -np.inf
            names.append(COLD_ROUTE)

        def quality(weights: dict[str, float]) -> float:
            fused = sum(w * z[n] for n, w in weights.items() if w > 0)
            if isinstance(fused, int):
                return 0.0
            idx, _ = top_k(fused, TUNING_K)
            return ndcg_at_k(idx, relevant, TUNING_K)

        weights = {name: (0.0 if name == COLD_ROUTE else 1.0) for name in names}
        best = quality(weights)
        for _ in range(TUNING_PASSES):
            improved = False
            for name in names:
                for value in WEIGHT_GRID:
                    trial = {**weights, name: value}
                    score = quality(trial)
                    if score > best + 1e-6:
                        best, weights, improved = score, trial, True
            if not improved:
                break
        self.tuning = {"validation_ndcg@20": round(best, 4), "validation_users": int(len(rows))}
        return weights

    def component_scores(self, rows: np.ndarray, interests: Sequence[str | None] | None) -> dict[str, np.ndarray]:
        parts = {name: standardise(model.score(rows, interests)) for name, model in self.models.items()}
        out = {name: self.weights.get(name, 0.0) * z for name, z in parts.items()}
        cold_weight = self.weights.get(COLD_ROUTE, 0.0)
        if cold_weight > 0 and "content" in parts:
            out["content"] = out["content"] + cold_weight * np.where(self._cold[None, :], parts["content"], 0.0)
        return out

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        parts = self.component_scores(rows, interests)
        return sum(parts.values()).astype(np.float32)

    def select(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """MMR: greedily take the item with the best mix of relevance and difference from those already taken."""
        idx, vals = top_k(scores, k * MMR_POOL)
        vectors = self.items.text_vectors
        out = []
        for cand, rel in zip(idx, vals):
            cand, rel = cand[cand >= 0], rel[cand >= 0]
            if vectors is None or self.mmr_lambda >= 1.0 or len(cand) <= 1:
                out.append((cand[:k], rel[:k]))
                continue
            span = rel.max() - rel.min()
            norm = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
            sims = vectors[cand] @ vectors[cand].T
            chosen, max_sim = [], np.full(len(cand), -1.0, np.float32)
            available = np.ones(len(cand), bool)
            for _ in range(min(k, len(cand))):
                mmr = self.mmr_lambda * norm - (1 - self.mmr_lambda) * np.maximum(max_sim, 0)
                mmr[~available] = -np.inf
                pick = int(mmr.argmax())
                chosen.append(pick)
                available[pick] = False
                max_sim = np.maximum(max_sim, sims[pick])
            chosen = np.array(chosen)
            out.append((cand[chosen], rel[chosen]))
        return out

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        return [reason for reason, _source in self.explain_with_source(row, cols, interests)]

    def explain_with_source(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[tuple[str, str]]:
        parts = self.component_scores(np.array([row]), [interests])
        names = list(parts)
        contribution = np.stack([parts[n][0, cols] for n in names])  # (components, picks)
        lead = contribution.argmax(axis=0)
        out: list[tuple[str, str]] = [("", "")] * len(cols)
        for i, name in enumerate(names):
            mine = np.flatnonzero(lead == i)
            if len(mine):
                model = self.models[name]
                for j, reason in zip(mine, model.explain(row, cols[mine], interests)):
                    out[j] = (reason, model.source)
        return out

    def item_similarity(self, col: int) -> np.ndarray:
        sims = [max(self.weights.get(n, 0.0), 1e-3) * standardise(m.item_similarity(col)[None, :])[0]
                for n, m in self.models.items()]
        return np.sum(sims, axis=0).astype(np.float32)
