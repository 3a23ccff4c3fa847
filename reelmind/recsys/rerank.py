"""The hybrid's second stage: a learned ranker (LightGBM LambdaRank) that re-orders each user's candidate pool.

The first stage (a linear fusion of standardised component scores, or the best single component) orders items by
one number. The second stage looks at each candidate through every component at once: each model's score, its
per-user z-score and its place in the pool, the strongest item-item link that put it there (EASE), how close its
text is to something the user watched, how popular it is, how active the user is, whether nobody has watched it
yet, and how much of its EASE score and content match it owes to the user's latest few items (what they are into
now, against everything they ever watched). Trees learn what a weighted sum cannot: a niche item's modest EASE
score means more for a heavy user than for a light one, and a new item's content match means something different
from a watched item's.

The pool is the same at validation and at serving: each user's best `POOL_PER_SOURCE` items by each of
`POOL_SOURCES` (among the items they may be offered), plus the `NEW_ITEM_POOL` new items content likes best, merged
without repeats. The hybrid trains the ranker on its validation draws and keeps it only where it beats the first
stage on held-out draws (reelmind.recsys.hybrid); the number of trees is chosen there too (`TREE_COUNTS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reelmind.recsys.base import top_k

# Candidates per source and user. 50 from each of three sources, merged, is at most 150 + 10 rows per user: at
# 100k users the ranker scores 16M rows per full run, and each source's own top 20 is always in the pool.
POOL_PER_SOURCE = 50
POOL_SOURCES = ("ease", "als", "content")
NEW_ITEM_POOL = 10
# Candidate lists (users' pools with a held-out positive) one ranker learns from, sampled beyond this: LambdaRank's
# time grows with its rows (1,500 lists x ~160 candidates: about 20 ms a tree on one core), and more lists than
# the few thousand validation users of a draw add little.
RANKER_MAX_LISTS = 1500
# Fewer positives than this among the validation pools: too little to learn from; the first stage ranks.
MIN_TRAINING_POSITIVES = 300
# The ranker's sizes compared on held-out validation draws (the search range for its number of trees).
TREE_COUNTS = (25, 50, 100, 200)
# LightGBM's threads: one. Its OpenMP threads spin while they wait, and on a machine whose cores are shared with
# other work two threads trained a small ranker 20x slower than one (33 ms a tree against ~1.5 ms here).
RANKER_THREADS = 1
COMPONENT_FEATURES = ("score", "z", "rank")
# A user's latest positives that stand for what they are into now (a sitting's worth: set, not tuned). Next to the
# whole history's scores they let the ranker weigh "what next" against "what else"; it learns how much from the
# validation draws, whose held-out positives are part latest, part random (reelmind.recsys.hybrid).
RECENT_ITEMS = 5
CONTEXT_FEATURES = (
    "first_stage_rank",       # log1p of the candidate's place in the pool by the first stage
    "item_log_interactions",  # log1p of how many users interacted with it
    "user_log_interactions",  # log1p of how many items the user interacted with
    "is_new",                 # nobody has interacted with it yet
    "strongest_link",         # EASE: the largest single term of its score (the "because you watched" item's)
    "link_count",             # EASE: how many of the user's items point to it with weight > LINK_MIN
    "closest_watched_text",   # content: cosine of its vector to the nearest item the user watched
    "recent_link",            # EASE: the part of its score owed to the user's RECENT_ITEMS latest positives
    "closest_recent_text",    # content: cosine of its vector to the nearest of those latest positives
)
STATIC = CONTEXT_FEATURES[1:]  # what does not depend on the first stage's weights


@dataclass(frozen=True)
class RankerOptions:
    """LightGBM LambdaRank settings: small trees with large leaves (candidate lists from a few thousand users
    overfit quickly), a slow learning rate; the number of trees is chosen on validation."""

    n_estimators: int = max(TREE_COUNTS)
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 200
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    # LambdaRank weighs pairs involving the top 30 places: Recall@20 and NDCG@20 only see the top 20, and a
    # margin past it lets items cross the cut-off during training.
    truncation_level: int = 30
    seed: int = 0


def feature_names(components: Sequence[str]) -> tuple[str, ...]:
    """The feature columns for a hybrid with these components."""
    return tuple(f"{name}_{kind}" for name in components for kind in COMPONENT_FEATURES) + CONTEXT_FEATURES


def pool(raw: Mapping[str, np.ndarray], allowed: np.ndarray, is_new: np.ndarray) -> np.ndarray:
    """(users, P) item columns in column order, -1 padded at the end: each POOL_SOURCES component's best allowed
    items and the allowed new items content ranks highest, merged. `raw`: full score rows per component;
    `allowed`: (users, items) bool."""
    pools = [top_k(np.where(allowed, raw[name], -np.inf), POOL_PER_SOURCE)[0] for name in POOL_SOURCES
             if name in raw]
    if "content" in raw and is_new.any():
        pools.append(top_k(np.where(allowed & is_new[None, :], raw["content"], -np.inf), NEW_ITEM_POOL)[0])
    if not pools:
        return np.zeros((len(allowed), 0), np.int64)
    merged = np.sort(np.concatenate(pools, axis=1), axis=1)
    merged[:, 1:][merged[:, 1:] == merged[:, :-1]] = -1  # repeats (and repeated padding) become padding
    merged = np.take_along_axis(merged, np.argsort(merged < 0, axis=1, kind="stable"), axis=1)  # padding last
    width = int((merged >= 0).sum(axis=1).max()) if merged.size else 0
    return merged[:, :width]


def gather(scores: np.ndarray, cols: np.ndarray, fill: float = -np.inf) -> np.ndarray:
    """Each pool entry's value in `scores` (users, items); `fill` for padding."""
    at = np.take_along_axis(scores, np.maximum(cols, 0), axis=1)
    return np.where(cols >= 0, at, fill).astype(np.float32)


def places(scores: np.ndarray) -> np.ndarray:
    """Each entry's place (0 = best) in its row; NaN where the score is -inf (no opinion, or padding)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty(scores.shape, np.float32)
    np.put_along_axis(out, order, np.arange(scores.shape[1], dtype=np.float32)[None, :].repeat(len(scores), 0),
                      axis=1)
    return np.where(np.isfinite(scores), out, np.nan)


def static_features(models: Mapping[str, object], rows: np.ndarray, cols: np.ndarray, item_counts: np.ndarray,
                    user_counts: np.ndarray) -> np.ndarray:
    """(users, P, len(STATIC)) float32: the context features that do not depend on the first stage."""
    safe = np.maximum(cols, 0)
    out = np.full(cols.shape + (len(STATIC),), np.nan, np.float32)
    out[..., 0] = np.log1p(item_counts[safe])
    out[..., 1] = np.where(rows >= 0, np.log1p(user_counts[np.maximum(rows, 0)]), 0.0)[:, None]
    out[..., 2] = item_counts[safe] == 0
    some = next(iter(models.values()), None)
    recent = [some.interactions.latest_positives(row, RECENT_ITEMS) if row >= 0 else np.zeros(0, np.int64)
              for row in rows] if some is not None else []  # once per user, for both features
    if "ease" in models:
        out[..., 3], out[..., 4], out[..., 6] = models["ease"].links(rows, safe, recent)
    if "content" in models:
        out[..., 5], out[..., 7] = models["content"].closest_watched(rows, safe, recent)
    return out


def features(raw: Mapping[str, np.ndarray], z: Mapping[str, np.ndarray], first_stage: np.ndarray,
             static: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(users, P, features) float32 in `feature_names(raw)` order, NaN where a feature does not apply (LightGBM
    learns a direction for missing values). `raw`, `z`, `first_stage`: per pool entry (from `gather`)."""
    parts = []
    for name in raw:
        has = np.isfinite(raw[name])
        parts += [np.where(has, raw[name], np.nan), np.where(has, z[name], np.nan), np.log1p(places(raw[name]))]
    parts.append(np.log1p(places(first_stage)))
    out = np.concatenate([np.stack(parts, axis=2), static], axis=2).astype(np.float32)
    out[cols < 0] = np.nan
    return out


class LearnedRanker:
    """LambdaRank over candidate pools."""

    def __init__(self, options: RankerOptions = RankerOptions()):
        self.options = options
        self.booster = None
        self.feature_names: tuple[str, ...] = ()
        self.trees = options.n_estimators

    def training_lists(self, feature_lists: list[np.ndarray], label_lists: list[np.ndarray]
                       ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Rows, labels and group sizes: users' pools with at least one positive (a list with none gives
        LambdaRank no pair to learn from), at most RANKER_MAX_LISTS of them (a seeded sample), padding dropped."""
        lists = [(feats, labels) for feature_list, label_list in zip(feature_lists, label_lists)
                 for feats, labels in zip(feature_list, label_list) if labels.any()]
        if len(lists) > RANKER_MAX_LISTS:
            chosen = np.random.default_rng(self.options.seed).choice(len(lists), RANKER_MAX_LISTS, replace=False)
            lists = [lists[i] for i in np.sort(chosen)]
        X, y, groups = [], [], []
        for user_features, user_labels in lists:
            keep = ~np.all(np.isnan(user_features), axis=1)
            if user_labels[keep].any():
                X.append(user_features[keep])
                y.append(user_labels[keep])
                groups.append(int(keep.sum()))
        if not X:
            return np.zeros((0, 0), np.float32), np.zeros(0), []
        return np.concatenate(X), np.concatenate(y), groups

    def fit(self, feature_lists: list[np.ndarray], label_lists: list[np.ndarray], names: Sequence[str],
            trees: int | None = None) -> bool:
        """`feature_lists[i]`: (users, P, F) with padding rows all-NaN; `label_lists[i]`: (users, P) 1 for a
        held-out positive. False (nothing learned) with fewer than MIN_TRAINING_POSITIVES positives."""
        import lightgbm

        X, y, groups = self.training_lists(feature_lists, label_lists)
        if int(y.sum()) < MIN_TRAINING_POSITIVES:
            return False
        o = self.options
        self.trees = trees or o.n_estimators
        model = lightgbm.LGBMRanker(
            objective="lambdarank", n_estimators=self.trees, learning_rate=o.learning_rate,
            num_leaves=o.num_leaves, min_child_samples=o.min_child_samples, subsample=o.subsample, subsample_freq=1,
            colsample_bytree=o.colsample_bytree, lambdarank_truncation_level=o.truncation_level,
            random_state=o.seed, n_jobs=RANKER_THREADS, verbose=-1)
        self.feature_names = tuple(names)
        model.fit(X, y, group=groups, feature_name=list(self.feature_names))
        self.booster = model.booster_
        return True

    def to_text(self) -> str:
        """The trained trees in LightGBM's own text format (feature names included): data, not code."""
        return self.booster.model_to_string()

    @classmethod
    def from_text(cls, text: str, options: RankerOptions) -> LearnedRanker:
        import lightgbm

        ranker = cls(options)
        ranker.booster = lightgbm.Booster(model_str=text)
        ranker.feature_names = tuple(ranker.booster.feature_name())
        ranker.trees = ranker.booster.num_trees()
        return ranker

    def predict(self, feats: np.ndarray, trees: int | None = None) -> np.ndarray:
        """(users, P) scores, higher first; -inf for padding. `trees`: use only the first so many."""
        n_users, n_cand, n_feat = feats.shape
        if n_users * n_cand == 0:
            return np.zeros((n_users, n_cand), np.float32)
        scores = self.booster.predict(feats.reshape(-1, n_feat), num_iteration=trees,
                                      num_threads=1).reshape(n_users, n_cand)
        return np.where(np.all(np.isnan(feats), axis=2), -np.inf, scores).astype(np.float32)

    def importance(self) -> dict[str, float]:
        """Share of the total split gain per feature: which signals the ranker leans on."""
        gain = self.booster.feature_importance("gain")
        return {name: round(float(g / max(gain.sum(), 1e-12)), 3) for name, g in zip(self.feature_names, gain)}

    def describe(self) -> dict:
        return {"options": asdict(self.options), "trees": self.trees,
                "importance": self.importance()} if self.booster else {}
