"""The hybrid: popularity, collaborative filtering and content, in two stages tuned on validation data.

First stage: each component's scores are standardised per user (z-scores over the items it has an opinion on;
items it knows nothing about sit at its average) and summed with weights found by coordinate ascent on NDCG@20
over validation data carved out of the training data (`VALIDATION_DRAWS` draws, each user giving up a random
`VALIDATION_FRACTION` of their positives; in the first draw a tenth of the items is also held out whole as
pseudo-new). The ascent starts from the best single component and takes a change only for a clear gain
(`MIN_RELATIVE_GAIN`). Second stage (reelmind.recsys.rerank): a LambdaRank model, trained on the same draws,
re-orders each user's candidates from every component's scores and the context; with too little data to learn
from it is skipped and the first stage ranks.
Cold start: a new item has no CF or popularity opinion, so content decides where it goes (the ranker's new-item
candidates, a tuned extra weight `COLD_ROUTE`, and a content tie-break among items the other components leave
level); a new user is served by their stated interests and popularity (`NEW_USER_WEIGHTS`). Picks are re-ranked
for diversity with MMR over the items' vectors, and each one's reason comes from the component that contributed
most to its first-stage score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reelmind.recsys import rerank
from reelmind.recsys.base import Recommender, top_k
from reelmind.recsys.cf import EASE_SIDE_WEIGHT, ALSRecommender, EASERecommender
from reelmind.recsys.content import ContentRecommender
from reelmind.recsys.data import Interactions
from reelmind.recsys.metrics import ndcg_at_k
from reelmind.recsys.popularity import PopularityRecommender
from reelmind.recsys.saving import Text
from reelmind.recsys.splits import SplitOptions, split

VALIDATION_FRACTION = 0.2
# Independent validation draws (each with its own held-out positives). The second stage learns from every draw's
# candidate lists; on MovieLens (random split, warm Recall@20) 2 draws gave 0.329, 3 0.329, 4 0.330 (each draw
# costs a fit of every component: about 6 s there).
VALIDATION_DRAWS = 4
# Users per draw, sampled beyond this: the draws hold every component's score matrix for their users.
MAX_VALIDATION_USERS = 2000
# Share of warm items the tuning treats as new (as the evaluation holds out 10% of the catalogue as cold), in the
# first PSEUDO_COLD_DRAWS draws only. Holding items out removes their interactions from the validation models too,
# which shifts CF towards ALS (on MovieLens: tuned weights ALS 1.0 / EASE 0.25 with it in every draw, EASE alone
# without; and the final, full-data EASE is the stronger); one draw of the two is enough to teach the cold route
# and the ranker about new items (warm Recall@20 0.326 with it in both of two draws, 0.329 in one).
PSEUDO_COLD_FRACTION = 0.1
PSEUDO_COLD_DRAWS = 1
# The extra weight on content for items nobody has interacted with: the cold-start route, tuned like the others.
COLD_ROUTE = "content-for-new-items"
# Users need this many positives to give some to validation and keep some for training.
MIN_POSITIVES_TO_SPLIT = 5
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
TUNING_PASSES = 3
# A weight change must raise validation NDCG@20 by this share to be taken. Below it, on MovieLens, the changes
# were noise-fitting: weights that gained 0.3-1% on validation lost as much on the test split, because the
# components are refitted on more data than they were tuned on (ALS and EASE tie on 64% of the training data,
# EASE leads on all of it), and ~600 users' NDCG moves by about that much between random validation splits.
MIN_RELATIVE_GAIN = 0.01
TUNING_K = 20
# Ties among items the tuned components leave level (cold items: no CF model scores them, so they all sit at the
# average, 0) are broken by content. At this weight it orders them without reordering what the tuned components
# separate (their z-scores differ by far more than 0.001 x a content z-score, which stays under ~10).
CONTENT_TIE_BREAK = 1e-3
# A user with no history (unknown at fit time) is served by their stated interests (content) and what is popular.
# Set, not tuned: no validation data has stated interests (MovieLens has none). Interests lead; popularity at half
# weight orders what the interests leave level, and alone serves a newcomer who stated nothing.
NEW_USER_WEIGHTS = {"content": 1.0, "popularity": 0.5}
# MMR: 1.0 is pure relevance. 0.9 swaps a near-duplicate for the next-best different item only when scores are close.
MMR_LAMBDA = 0.9
MMR_POOL = 5  # re-rank among the top k x MMR_POOL
# The new-item slot: a list of at least NEW_ITEM_MIN_K picks with no item nobody has interacted with yet gets its
# last place taken by the new item that best matches the user's content profile, if it matches it as well as the
# user's own watched items do (at least the NEW_ITEM_WATCHED_QUANTILE quantile of their similarities to the
# profile: "as close to your taste as three quarters of what you watched"); for a user with only stated interests,
# NEW_ITEM_MIN_MATCH standard deviations above the catalogue average (the top ~2%). Only without a learned ranker:
# the ranker is trained on where new items belong and places them itself. The tuned fusion alone never
# lets a new item in (on MovieLens any weight on content for new items cost more accuracy than the new items won
# back), and an item nobody is shown never gets a first interaction: one slot in K is the exploration cost,
# measured on MovieLens (random split): warm Recall@20 0.322 -> 0.317, mixed NDCG@20 0.246 -> 0.245, and 18% of
# users get a new item among their 20.
NEW_ITEM_MIN_K = 5
NEW_ITEM_WATCHED_QUANTILE = 0.25
NEW_ITEM_MIN_MATCH = 2.0


def default_components() -> dict[str, Recommender]:
    """Unfitted prototypes, by name: the hybrid fits clones of them (on each validation draw, then on everything)."""
    return {"popularity": PopularityRecommender(), "ease": EASERecommender(side_weight=EASE_SIDE_WEIGHT),
            "als": ALSRecommender(), "content": ContentRecommender()}


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


@dataclass
class ValidationDraw:
    """One validation draw: components fitted without the held-out positives, and their scores for the users
    who gave some up (raw, and standardised with nothing masked)."""

    train: Interactions
    rows: np.ndarray
    relevant: list[set[int]]
    models: dict[str, Recommender]
    raw: dict[str, np.ndarray]
    z: dict[str, np.ndarray]

    def seen(self) -> tuple[np.ndarray, np.ndarray]:
        """Index of (row, item) pairs each user trained on: what no ranking may offer them."""
        m = self.train.matrix[self.rows]
        return np.repeat(np.arange(len(self.rows)), np.diff(m.indptr)), m.indices


class HybridRecommender(Recommender):
    source = "hybrid"
    personalised = True
    needs_text_vectors = True  # the content component, and MMR's diversity

    def __init__(self, components: Mapping[str, Recommender] | None = None,
                 fixed_weights: Mapping[str, float] | None = None, mmr_lambda: float = MMR_LAMBDA, seed: int = 0,
                 temporal_validation: bool = True, learn_ranker: bool = True):
        """`components`: unfitted prototype models by name (default: `default_components()`), cloned for every
        fit. `fixed_weights`: the first stage's weights, instead of tuning them. `temporal_validation`: tune on
        each user's latest positives (the product's question: what next?); False tunes on a random choice, to
        mirror an offline protocol that tests on random held-out positives. `learn_ranker`: train the second stage
        (reelmind.recsys.rerank) when validation has enough data."""
        self.components = dict(components) if components else default_components()
        self.fixed_weights = fixed_weights
        self.mmr_lambda, self.seed, self.temporal_validation = mmr_lambda, seed, temporal_validation
        self.learn_ranker = learn_ranker
        self.tuning: dict[str, float | int | str] = {}

    def _fit(self) -> None:
        draws = self._validation_draws() if self.learn_ranker or not self.fixed_weights else []
        self.weights = dict(self.fixed_weights) if self.fixed_weights else self._tune(draws)
        self._derive()
        self.ranker = self._train_ranker(draws) if self.learn_ranker and draws else None
        del draws  # the validation models and score matrices: hundreds of MB on MovieLens
        # content and popularity always: they break ties for cold items and serve new users (NEW_USER_WEIGHTS);
        # every component when the ranker reads them all
        wanted = set(self.components) if self.ranker else \
            {name for name, w in self.weights.items() if w > 0} | {"content", "popularity"}
        self.models = {name: prototype.clone().fit(self.interactions, self.items, self.user_texts)
                       for name, prototype in self.components.items() if name in wanted}

    def _derive(self) -> None:
        """Per-request lookups, computed once: who watched what, how often."""
        self._watched = self.interactions.positive()
        self._item_counts = self.interactions.item_counts()
        self._user_counts = np.diff(self._watched.indptr)
        self._cold = self._item_counts == 0

    def _state(self) -> dict[str, object]:
        """The tuned weights, the fitted components (each saved with its own state) and the ranker as LightGBM
        text."""
        ranker = {"text": Text(self.ranker.to_text()), "options": asdict(self.ranker.options)} if self.ranker \
            else None
        return {"weights": self.weights, "tuning": self.tuning, "models": self.models, "ranker": ranker}

    def _restore(self, state: dict[str, object]) -> None:
        self.weights, self.tuning, self.models = state["weights"], state["tuning"], state["models"]
        self._derive()
        ranker = state["ranker"]
        self.ranker = rerank.LearnedRanker.from_text(ranker["text"], rerank.RankerOptions(**ranker["options"])) \
            if ranker else None

    def _validation_draws(self) -> list[ValidationDraw]:
        """VALIDATION_DRAWS random splits of the training data (each user gives up VALIDATION_FRACTION of their
        positives, a tenth of the items are held out whole as pseudo-new), every component fitted on each."""
        draws = []
        for d in range(VALIDATION_DRAWS):
            seed = self.seed + d
            users = None
            if self.interactions.n_users > MAX_VALIDATION_USERS:
                users = np.zeros(self.interactions.n_users, bool)
                users[np.random.default_rng(seed).choice(len(users), MAX_VALIDATION_USERS, replace=False)] = True
            options = SplitOptions(held_fraction=VALIDATION_FRACTION,
                                   cold_fraction=PSEUDO_COLD_FRACTION if d < PSEUDO_COLD_DRAWS else 0.0,
                                   temporal=self.temporal_validation, min_positives=MIN_POSITIVES_TO_SPLIT)
            held_out = split(self.interactions, options, seed, users=users)
            held = [held_out.held(r) for r in range(self.interactions.n_users)]
            rows = np.array([r for r, h in enumerate(held) if h and (users is None or users[r])], dtype=np.int64)
            if len(rows) == 0:
                continue
            train = held_out.train
            models = {name: prototype.clone().fit(train, self.items, self.user_texts)
                      for name, prototype in self.components.items()}
            raw = {name: model.score(rows) for name, model in models.items()}
            draws.append(ValidationDraw(train, rows, [held[r] for r in rows], models, raw,
                                        {name: standardise(r) for name, r in raw.items()}))
        return draws

    def _tune(self, draws: list[ValidationDraw]) -> dict[str, float]:
        """Coordinate ascent on validation NDCG@20, from the best single component, over WEIGHT_GRID."""
        names = list(self.components)
        if not draws:
            return {name: 1.0 for name in names}
        parts: dict[str, list[np.ndarray]] = {}
        seen, offset = [], 0
        for draw in draws:
            for name in names:
                parts.setdefault(name, []).append(draw.z[name])
            if "content" in draw.z:
                is_new = (draw.train.item_counts() == 0)[None, :]
                parts.setdefault(COLD_ROUTE, []).append(np.where(is_new, draw.z["content"], 0.0).astype(np.float32))
            r, c = draw.seen()
            seen.append((r + offset, c))
            offset += len(draw.rows)
        z = {name: np.concatenate(p) for name, p in parts.items()}
        seen_at = (np.concatenate([r for r, _ in seen]), np.concatenate([c for _, c in seen]))
        relevant = [rel for draw in draws for rel in draw.relevant]
        if COLD_ROUTE in z:
            names.append(COLD_ROUTE)

        def quality(weights: dict[str, float]) -> float:
            fused = sum(w * z[n] for n, w in weights.items() if w > 0)
            if isinstance(fused, int):
                return 0.0
            fused[seen_at] = -np.inf
            idx, _ = top_k(fused, TUNING_K)
            return ndcg_at_k(idx, relevant, TUNING_K)

        # Start from the best single component and move only for a clear gain: see MIN_RELATIVE_GAIN.
        alone = {name: quality({name: 1.0}) for name in names if name != COLD_ROUTE}
        weights = {name: float(name == max(alone, key=alone.get)) for name in names}
        best = quality(weights)
        for _ in range(TUNING_PASSES):
            improved = False
            for name in names:
                for value in WEIGHT_GRID:
                    trial = {**weights, name: value}
                    score = quality(trial)
                    if score > best * (1 + MIN_RELATIVE_GAIN):
                        best, weights, improved = score, trial, True
            if not improved:
                break
        self.tuning = {"validation_ndcg@20": round(best, 4), "best_single_ndcg@20": round(max(alone.values()), 4),
                       "best_single": max(alone, key=alone.get), "validation_users": len(relevant)}
        return weights

    def _train_ranker(self, draws: list[ValidationDraw]) -> rerank.LearnedRanker | None:
        """The second stage, trained on each draw's first-stage candidates labelled by its held-out positives."""
        feature_lists, label_lists = [], []
        for draw in draws:
            is_new = draw.train.item_counts() == 0
            fused = sum(self._weighted(draw.z, np.zeros(len(draw.rows), bool), is_new).values())
            fused[draw.seen()] = -np.inf
            cols = rerank.candidates(fused, draw.raw, is_new)
            feature_lists.append(rerank.features(draw.models, draw.raw, draw.z, fused, draw.train.item_counts(),
                                                 np.diff(draw.train.positive().indptr), draw.rows, cols))
            label_lists.append(np.array([[c in rel for c in picks] for picks, rel in zip(cols, draw.relevant)]))
        ranker = rerank.LearnedRanker()
        if not ranker.fit(feature_lists, label_lists, rerank.feature_names(list(self.components))):
            return None
        self.tuning["ranker"] = ranker.describe()
        return ranker

    def component_scores(self, rows: np.ndarray, interests: Sequence[str | None] | None) -> dict[str, np.ndarray]:
        """Each component's weighted, standardised scores: tuned weights for known users, the new-user route for
        users unknown at fit time (row -1)."""
        z = {name: standardise(model.score(rows, interests)) for name, model in self.models.items()}
        return self._weighted(z, rows < 0, self._cold)

    def _weighted(self, z: dict[str, np.ndarray], new_user: np.ndarray, new_item: np.ndarray) -> dict[str, np.ndarray]:
        """The first stage's terms from standardised component scores: the tuned weights (NEW_USER_WEIGHTS for
        new users), the content tie-break, and the cold-item route on items nobody has interacted with."""
        new_user = new_user[:, None]
        out = {}
        for name, part in z.items():
            known = self.weights.get(name, 0.0) + (CONTENT_TIE_BREAK if name == "content" else 0.0)
            out[name] = np.where(new_user, NEW_USER_WEIGHTS.get(name, 0.0), known).astype(np.float32) * part
        cold_weight = self.weights.get(COLD_ROUTE, 0.0)
        if cold_weight > 0 and "content" in z:
            out["content"] += np.where(new_item[None, :] & ~new_user, cold_weight * z["content"], 0.0)
        return out

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        parts = self.component_scores(rows, interests)
        return sum(parts.values()).astype(np.float32)

    def rank(self, rows: np.ndarray, k: int, exclude_seen: bool, interests: Sequence[str | None],
             candidates: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The first stage (fused, masked), the learned second stage when trained, MMR for diversity, then the
        new-item slot: all from one scoring pass over the components. Diversity and the slot can place an item
        above one it scores lower than: each pick reports its score capped at the one before it, so the scores
        read in the order the list is in (which items are picked is unchanged)."""
        raw = {name: model.score(rows, interests) for name, model in self.models.items()}
        z = {name: standardise(r) for name, r in raw.items()}
        fused = sum(self._weighted(z, rows < 0, self._cold).values()).astype(np.float32)
        scores = self.mask_scores(rows, fused, exclude_seen, candidates)
        if self.ranker is not None:
            scores = self._rerank(rows, scores, raw, z)
        picks = self._mmr(scores, k)
        if self.ranker is None and "content" in raw and k >= NEW_ITEM_MIN_K:
            picks = self._new_item_slot(rows, picks, scores, raw["content"], z["content"])
        return [(cols, np.minimum.accumulate(vals)) for cols, vals in picks]

    def _new_item_slot(self, rows: np.ndarray, picks: list[tuple[np.ndarray, np.ndarray]], scores: np.ndarray,
                       content: np.ndarray, content_z: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """A list with no new item gives its last place to the new item content likes best, if it matches the
        user as well as their own history does (see NEW_ITEM_WATCHED_QUANTILE)."""
        cold = self._cold[None, :] & np.isfinite(scores)
        if not cold.any():
            return picks
        best = np.where(cold, content, -np.inf).argmax(axis=1)
        out = []
        for u, (row, (cols, vals)) in enumerate(zip(rows, picks)):
            c = best[u]
            seen = self._watched.indices[self._watched.indptr[row]:self._watched.indptr[row + 1]] if row >= 0 else ()
            good = (content[u, c] >= np.quantile(content[u, seen], NEW_ITEM_WATCHED_QUANTILE) if len(seen)
                    else content_z[u, c] >= NEW_ITEM_MIN_MATCH)
            if cold[u, c] and good and len(cols) >= NEW_ITEM_MIN_K and not self._cold[cols].any():
                cols, vals = np.append(cols[:-1], c), np.append(vals[:-1], scores[u, c])
            out.append((cols, vals))
        return out

    def _rerank(self, rows: np.ndarray, fused: np.ndarray, raw: dict[str, np.ndarray],
                z: dict[str, np.ndarray]) -> np.ndarray:
        """Scores from the learned ranker for each known user's candidates (from the masked first-stage `fused`),
        -inf for everything else. New users keep the first stage: the ranker learned from users with a history,
        and their route (stated interests, then popularity) is set, not learned."""
        known = np.flatnonzero(rows >= 0)
        out = fused.copy()
        if len(known) == 0:
            return out
        raw = {name: r[known] for name, r in raw.items()}
        z = {name: part[known] for name, part in z.items()}
        cols = rerank.candidates(fused[known], raw, self._cold)
        ranked = self.ranker.predict(rerank.features(self.models, raw, z, fused[known], self._item_counts,
                                                     self._user_counts, rows[known], cols))
        out[known] = -np.inf
        users, places = np.nonzero(cols >= 0)
        out[known[users], cols[users, places]] = ranked[users, places]
        return out

    def _mmr(self, scores: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
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
        rows = np.array([row])
        parts = self.component_scores(rows, [interests])
        names = list(parts)
        contribution = np.stack([parts[n][0, cols] for n in names])  # (components, picks)
        # a component with no opinion of an item (CF and a new item) sits at 0 in the sum, but cannot be its reason
        opinion = np.stack([np.isfinite(self.models[n].score(rows, [interests])[0, cols]) for n in names])
        lead = np.where(opinion, contribution, -np.inf).argmax(axis=0)
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
