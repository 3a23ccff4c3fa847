"""Ranking metrics over item columns: Recall@k, NDCG@k (binary relevance) and catalogue coverage.

`ranked[i]` is user i's list of item columns, best first (a padding of -1 counts as a miss); `relevant[i]` the set
of columns they went on to like. Users with nothing relevant are left out of the averages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def recall_at_k(ranked: Sequence[Sequence[int]], relevant: Sequence[set[int]], k: int) -> float:
    """Share of each user's relevant items in their top k, out of at most k (a user with 30 relevant items and a
    perfect top 20 scores 1), averaged over users."""
    scores = [len(set(r[:k]) & rel) / min(k, len(rel)) for r, rel in zip(ranked, relevant) if rel]
    return float(np.mean(scores)) if scores else 0.0


def ndcg_at_k(ranked: Sequence[Sequence[int]], relevant: Sequence[set[int]], k: int) -> float:
    """DCG of each user's top k over the DCG of a perfect top k, averaged over users."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for picks, rel in zip(ranked, relevant):
        if not rel:
            continue
        gains = np.array([c in rel for c in picks[:k]], float)
        total += float(gains @ discounts[:len(gains)]) / float(discounts[:min(len(rel), k)].sum())
    return total / max(sum(1 for r in relevant if r), 1)


def coverage(ranked: Iterable[Sequence[int]], n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's list."""
    return len({c for r in ranked for c in r if c >= 0}) / n_items
