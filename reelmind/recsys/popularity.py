"""Non-personalised baselines: recency-aware popularity, and a random ranking.

Popularity is what a new user with nothing to go on is shown, and the floor every personalised model must beat.
Each interaction counts its weight times exp2(-age / half-life), so last week's hits outrank last year's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reelmind.recsys.base import Recommender, title_of
from reelmind.recsys.data import AUTO, POPULARITY_HALF_LIFE_SHARE, SECONDS_PER_DAY, recency_decay, resolve_half_life

WEEK_S = 7 * SECONDS_PER_DAY
MONTH_S = 30 * SECONDS_PER_DAY
# The random model's two independent streams of draws: per user (rankings) and per item ("similar" lists).
USER_STREAM, ITEM_STREAM = 0, 1


class PopularityRecommender(Recommender):
    """Everyone gets the same ranking: items by time-decayed total weight. Unknown users are served too."""

    source = "popularity"
    personalised = False

    def __init__(self, half_life_days: float | str | None = AUTO):
        """`half_life_days`: days, None for no decay, or AUTO: a tenth of the log's span (a feed of two months:
        6 days; 22 years of ratings: 2 years)."""
        self.half_life_days = half_life_days

    def _fit(self) -> None:
        inter = self.interactions
        now = inter.now
        positive = inter.matrix.data > 0
        decayed = inter.matrix.copy()
        half_life = resolve_half_life(self.half_life_days, inter, POPULARITY_HALF_LIFE_SHARE)
        decayed.data = (decayed.data * recency_decay(now - inter.last_seen.data, half_life)).astype(
            np.float32)
        decayed.eliminate_zeros()
        self._decayed = decayed
        self.popularity = np.asarray(decayed.sum(axis=0)).ravel()
        # log1p: same order, but a scale on which one more play matters less for a hit than for a niche item,
        # which keeps the hybrid's per-user standardisation from being dominated by the top few items.
        self._scores = np.log1p(self.popularity).astype(np.float32)
        latest = np.full(inter.n_items, -np.inf)
        np.maximum.at(latest, inter.last_seen.indices[positive], inter.last_seen.data[positive])
        self._age_s = now - latest

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        return np.tile(self._scores, (len(rows), 1))

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        return [self.reason_for(c) for c in cols]

    def reason_for(self, col: int) -> str:
        age = self._age_s[col]
        return "popular this week" if age <= WEEK_S else "popular this month" if age <= MONTH_S else \
            "popular overall"

    def item_similarity(self, col: int) -> np.ndarray:
        """"People who watched this also watched": co-watch counts, each recency-weighted."""
        watchers = self.interactions.positive()[:, col]
        co = np.asarray((watchers.T @ self._decayed).todense()).ravel().astype(np.float32)
        return np.where(co > 0, co, -np.inf)

    def similar_reason(self, col: int) -> str:
        return f"people who watched {title_of(self.items, col)} also watched this"


class RandomRecommender(Recommender):
    """A uniformly random ranking, the floor for the evaluation's table. Each user's ranking (and each item's
    "similar" list) is drawn from its own seed, so a user gets the same list alone or in a batch, and again later."""

    source = "random"
    personalised = False

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit(self) -> None:
        """Nothing to learn: the draws depend on the seed alone."""

    def _draw(self, stream: int, key: int) -> np.ndarray:
        return np.random.default_rng([self.seed, stream, key]).random(self.interactions.n_items, dtype=np.float32)

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        # row + 1: an unknown user is row -1, and a seed sequence takes no negative numbers
        draws = [self._draw(USER_STREAM, int(row) + 1) for row in rows]
        return np.stack(draws) if draws else np.zeros((0, self.interactions.n_items), np.float32)

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        return ["a random pick"] * len(cols)

    def item_similarity(self, col: int) -> np.ndarray:
        return self._draw(ITEM_STREAM, col)
