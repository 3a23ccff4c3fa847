"""The hybrid: popularity, collaborative filtering and content, in stages that must earn their place.

Validation: `validation_draws` draws carved out of the training data (each user gives up VALIDATION_FRACTION of
their positives, half their latest and half at random; a tenth of the warm items is held out whole as pseudo-new),
every component fitted once per draw. For every validation user the draw keeps a candidate pool
(reelmind.recsys.rerank.pool) with each component's scores, so what follows needs no component again.

- First stage: each component's scores standardised per user (z-scores; an item a model knows nothing of sits at
  its average, 0), summed with weights found by coordinate ascent on NDCG@20 (`WEIGHT_GRID`), including an extra
  weight on content for items nobody has interacted with (`COLD_ROUTE`). The fusion is kept only if, tuned on the
  other draws, it beats the best single component on each held-out draw by more on average than the gains' spread
  between draws (`_gate`); otherwise the best single component is the first stage.
- Second stage (reelmind.recsys.rerank): a LambdaRank model over the pool, its number of trees chosen on held-out
  draws, kept under the same rule against the first stage.
- Exploration: for a share of users (`explore_users`), `explore_share` of each list (one place in 20 by default;
  at least one place in a list of EXPLORE_MIN_K or more, the last ones) goes to the new items content matches best,
  when one matches them as well as a quantile of their own history does (`explore_quantile`); without it an item
  nobody is shown never gets its first interaction. Both are chosen on the validation draws (`_exploration`,
  whose pseudo-new items play the new items): the pair that puts a new item in EXPLORE_REACH_TARGET of users'
  lists at the least cost while the served model (stages + exploration) beats
  the best single component on warm Recall@20 and mixed NDCG@20 by more than the noise between draws.
A new user is served by their stated interests and popularity (`NEW_USER_WEIGHTS`). Picks are re-ranked for
diversity with MMR over the items' vectors, and each one's reason comes from the component that contributed most
to its first-stage score. `report()` says which stages were kept and why.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reelmind.recsys import rerank
from reelmind.recsys.base import BATCH_USERS, Recommendation, Recommender, top_k
from reelmind.recsys.cf import ALSRecommender, EASERecommender
from reelmind.recsys.content import ContentRecommender
from reelmind.recsys.data import Interactions, replace_row
from reelmind.recsys.metrics import ndcg_at_k
from reelmind.recsys.popularity import PopularityRecommender
from reelmind.recsys.saving import Text
from reelmind.recsys.splits import SplitOptions, split

# Each validation draw holds out a fifth of each user's positives (as the evaluation protocol holds out a fifth):
# half of them their latest, half drawn at random from the rest. Neither alone: a ranker trained on "what came last"
# only learned the log's drift over time and lost a quarter of warm Recall@20 on random held-out positives
# (ml-latest-small, seed 42: 0.227 against EASE's 0.305); one trained on random positives only never learned that
# what a user watched lately says more about what they watch next, and every stage chosen on such draws was
# measured below EASE on "each user's latest fifth" (warm Recall@20 0.1648 against 0.1659, 5 seeds). Half and
# half is the neutral prior between the two questions a platform asks, set, not tuned.
VALIDATION_FRACTION = 0.2
VALIDATION_LATEST_SHARE = 0.5
# Draws: at least 2 to see the noise between draws; each costs one fit of every component.
VALIDATION_DRAWS = 3
# Users per draw whose pools are kept, sampled beyond this (their pools, ~160 entries each, are what tuning reads).
MAX_VALIDATION_USERS = 2000
# Users whose histories a draw's components are fitted on, sampled beyond this (the validation users among them):
# choosing weights and stages needs the components' relative merits, not their best fit, and at 100,000 users
# four full ALS fits alone would take minutes. At 20,000 users a draw's fits take seconds.
MAX_VALIDATION_TRAIN_USERS = 20_000
# Share of warm items each draw treats as new, as a catalogue keeps receiving new items (the evaluation protocol
# holds out a tenth too): the cold route, the ranker and the exploration gate see new items in validation.
PSEUDO_NEW_FRACTION = 0.1
# Components' settings, searched on the first validation draw (each value fitted once there) by the component's
# own NDCG@20 on the draw's held-out warm positives, ranking the full catalogue; the later draws and the final fit
# use what won. In order: EASE's penalty (Steck 2019 reports 200-1000 on large catalogues; smaller ones sit lower),
# then its side-information weight as a multiple of the chosen penalty (0: none); ALS's regularisation (implicit
# does not scale it by counts, so it must be large next to a user's summed confidences).
SEARCHED = {"ease": (("l2", (50.0, 100.0, 200.0, 400.0, 800.0)), ("side_weight", (0.0, 0.5, 1.0))),
            "als": (("regularization", (10.0, 25.0, 50.0, 100.0)),)}
RELATIVE = {"side_weight": "l2"}  # searched as multiples of another setting's chosen value
# Users need this many positives to give some to validation and keep some for training.
MIN_POSITIVES_TO_SPLIT = 5
COLD_ROUTE = "content-for-new-items"
# The search range for the first stage's weights (relative: only ratios matter).
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
TUNING_PASSES = 3
TUNING_K = 20
# Ties among items the tuned components leave level (new items: no CF model scores them, so they all sit at the
# average, 0) are broken by content. At this weight it orders them without reordering what the tuned components
# separate (their z-scores differ by far more than 0.001 x a content z-score, which stays under ~10).
CONTENT_TIE_BREAK = 1e-3
# A user with no history (unknown at fit time) is served by their stated interests (content) and what is popular.
# Set, not tuned: no validation data has stated interests. Interests lead; popularity at half weight orders what
# the interests leave level, and alone serves a newcomer who stated nothing.
NEW_USER_WEIGHTS = {"content": 1.0, "popularity": 0.5}
# MMR: 1.0 is pure relevance. 0.9 swaps a near-duplicate for the next-best different item only when scores are close.
MMR_LAMBDA = 0.9
MMR_POOL = 5  # re-rank among the top k x MMR_POOL
# Exploration: the share of each list offered to new items (1 place in 20), in lists of at least EXPLORE_MIN_K.
# A new item takes a place only if content matches it to the user at least as well as a quantile of their own
# watched items match their profile (calibrated per user: at 0.75, "closer to your taste than three quarters of
# what you watched"); a user with only stated interests, EXPLORE_MIN_Z standard deviations above the catalogue
# average.
EXPLORE_SHARE = 0.05
# The search ranges for exploration, read on the validation draws: the share of users whose lists explore (chosen
# by a hash of their id, so a user's lists are stable; new users, unknown at fit time, always explore) and the
# quantile of their history a new item must match. A higher quantile offers fewer, closer new items.
EXPLORE_USER_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
EXPLORE_QUANTILES = (0.5, 0.75, 0.9)
# Issue 10's reach target: a new item in at least a tenth of users' top 20, met by the exploration places
# themselves. Not counting the new items the stages rank there on their own: validation's pseudo-new items are warm
# items held out (someone liked them), which the stages rank higher than real new uploads (ml-latest-small, 5 seeds:
# the stages alone reached 10-22% of validation lists and 5-8% of test lists, so a rule counting them chose no
# exploration and missed the target on the test split).
EXPLORE_REACH_TARGET = 0.10
# Without validation draws (too few users to carve them out) exploration takes these defaults.
EXPLORE_USERS = 0.2
EXPLORE_QUANTILE = 0.75
EXPLORE_MIN_K = 5
EXPLORE_MIN_Z = 2.0


def default_components() -> dict[str, Recommender]:
    """Unfitted prototypes, by name: the hybrid fits clones of them (on each validation draw, then on everything)."""
    return {"popularity": PopularityRecommender(), "ease": EASERecommender(), "als": ALSRecommender(),
            "content": ContentRecommender()}


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores over finite entries; entries without an opinion (-inf) get 0, the row's average: a model
    that knows nothing of an item (CF and a new video) neither pushes it up nor buries it, so the components
    that do know it (content) decide. Computed in place on one float32 copy (4x faster than with temporaries: it
    runs on every component's scores of every user)."""
    finite = np.isfinite(scores)
    missing = None if finite.all() else ~finite
    z = np.array(scores, dtype=np.float32)
    count = scores.shape[1] if missing is None else np.maximum(finite.sum(axis=1, keepdims=True), 1)
    if missing is not None:
        np.copyto(z, 0.0, where=missing)
    z -= (z.sum(axis=1, keepdims=True, dtype=np.float64) / count).astype(np.float32)
    if missing is not None:
        np.copyto(z, 0.0, where=missing)
    z /= np.maximum(np.sqrt(np.einsum("ij,ij->i", z, z)[:, None] / count), 1e-6).astype(np.float32)
    return z


def list_quality(idx: np.ndarray, labels: np.ndarray, n_relevant: np.ndarray, k: int = TUNING_K
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per user: (NDCG@k, Recall@k) of the list `idx` (pool places, best first, -1 padding), `labels` marking
    held-out positives in the pool, `n_relevant` every held-out positive (those outside the pool count as misses).
    Users without a held-out positive score NaN (callers average over the others)."""
    idx = idx[:, :k]
    hits = np.where(idx >= 0, np.take_along_axis(labels, np.maximum(idx, 0), axis=1), False)
    discounts = 1.0 / np.log2(np.arange(2, idx.shape[1] + 2))
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))[np.clip(n_relevant, 1, k) - 1]
    some = n_relevant > 0
    ndcg = np.where(some, (hits * discounts).sum(axis=1) / ideal, np.nan)
    recall = np.where(some, hits.sum(axis=1) / np.clip(np.minimum(n_relevant, k), 1, None), np.nan)
    return ndcg, recall


def pool_ndcg(scores: np.ndarray, labels: np.ndarray, n_relevant: np.ndarray, k: int = TUNING_K) -> np.ndarray:
    """Per user: NDCG@k of ranking their pool by `scores` (-inf never ranked)."""
    return list_quality(top_k(scores, k)[0], labels, n_relevant, k)[0]


def _warm_ndcg(model: Recommender, train: Interactions, rows: np.ndarray, relevant: list[set[int]]) -> float:
    """NDCG@20 of `model`'s ranking of the full catalogue (a user's training items excluded) for `rows`, against
    `relevant` (their held-out positives on warm items)."""
    lists = []
    for start in range(0, len(rows), BATCH_USERS):
        chunk = rows[start:start + BATCH_USERS]
        scores = model.mask_scores(chunk, model.score(chunk), True, None)
        lists += [list(r[r >= 0]) for r in top_k(scores, TUNING_K)[0]]
    return ndcg_at_k(lists, relevant, TUNING_K)


def explore_draw(seed: int, user_id: object) -> float:
    """A user's fixed draw in [0, 1): their lists explore when it is below the exploring share (stable across
    requests, runs and validation draws)."""
    key = hashlib.sha256(f"{seed}:{user_id}".encode()).digest()
    return int.from_bytes(key[:4], "big") / 2**32


@dataclass
class ValidationDraw:
    """One draw's validation users and, per user, their candidate pool: columns, each component's raw score and
    z-score there, the static ranker features, and which entries are held-out positives."""

    rows: np.ndarray
    cols: np.ndarray
    raw: dict[str, np.ndarray]
    z: dict[str, np.ndarray]
    static: np.ndarray
    labels: np.ndarray
    n_relevant: np.ndarray
    warm_relevant: np.ndarray  # per user: held-out positives on items kept in the draw's training data
    user_draws: np.ndarray  # per user: explore_draw of their id
    bars: np.ndarray  # (users, len(EXPLORE_QUANTILES)): those quantiles of content's scores of their own items

    @property
    def is_new(self) -> np.ndarray:
        return self.static[..., rerank.STATIC.index("is_new")] == 1

    def first_stage(self, weights: Mapping[str, float]) -> np.ndarray:
        is_new = self.is_new
        fused = np.zeros(self.cols.shape, np.float32)
        for name, part in self.z.items():
            fused += (weights.get(name, 0.0) + (CONTENT_TIE_BREAK if name == "content" else 0.0)) * part
        if "content" in self.z:
            fused += np.where(is_new, weights.get(COLD_ROUTE, 0.0) * self.z["content"], 0.0)
        return np.where(self.cols >= 0, fused, -np.inf)

    def quality(self, scores: np.ndarray) -> float:
        return float(pool_ndcg(scores, self.labels, self.n_relevant).mean())

    def served(self, scores: np.ndarray, users: float, quantile: int, slots: int) -> dict[str, float]:
        """The top TUNING_K of `scores` with exploration as served (`HybridRecommender._explore`): users whose draw
        is below `users` give their last places (up to `slots`, less the new items already there) to the new
        items of their pool content likes best, each matching at least their history's EXPLORE_QUANTILES[quantile].
        Returns mixed NDCG@20, warm Recall@20, the share of users with a new item in the list (`reach`) and the
        share given one by exploration (`explored`)."""
        idx = top_k(scores, TUNING_K)[0]
        is_new = self.is_new & (self.cols >= 0)
        listed = np.zeros(self.cols.shape, bool)
        np.put_along_axis(listed, np.maximum(idx, 0), idx >= 0, axis=1)
        content = self.raw["content"]
        offer, offer_scores = top_k(np.where(is_new & ~listed, content, -np.inf), slots)
        room = slots - (listed & is_new).sum(axis=1)
        ok = (offer >= 0) & (offer_scores >= self.bars[:, [quantile]]) & (self.user_draws < users)[:, None] \
            & (np.arange(offer.shape[1])[None, :] < room[:, None])
        n_offer = ok.sum(axis=1)
        idx = idx.copy()
        for j in range(offer.shape[1]):
            who = np.flatnonzero(j < n_offer)
            idx[who, idx.shape[1] - n_offer[who] + j] = offer[who, j]
        ndcg = list_quality(idx, self.labels, self.n_relevant)[0]
        warm = list_quality(idx, self.labels & ~self.is_new, self.warm_relevant)[1]
        reach = np.where(idx >= 0, np.take_along_axis(is_new, np.maximum(idx, 0), axis=1), False).any(axis=1)
        warm = warm[np.isfinite(warm)]  # users whose held-out positives were all on pseudo-new items have none
        return {"mixed_ndcg": float(ndcg.mean()), "warm_recall": float(warm.mean()) if len(warm) else 0.0,
                "reach": float(reach.mean()), "explored": float((n_offer > 0).mean())}


class HybridRecommender(Recommender):
    source = "hybrid"
    personalised = True
    needs_text_vectors = True  # the content component, and MMR's diversity

    def __init__(self, components: Mapping[str, Recommender] | None = None,
                 fixed_weights: Mapping[str, float] | None = None, mmr_lambda: float = MMR_LAMBDA, seed: int = 0,
                 learn_ranker: bool = True, validation_draws: int = VALIDATION_DRAWS,
                 explore_share: float = EXPLORE_SHARE, explore_users: float | None = None,
                 explore_quantile: float | None = None, gate_stages: bool = True):
        """`components`: unfitted prototype models by name (default: `default_components()`), cloned for every
        fit. `fixed_weights`: the first stage's weights, instead of tuning them. `learn_ranker`: try the second
        stage. `validation_draws`: how many draws validation carves out of the training data. `explore_share`:
        the share of each list offered to new items (0: none); `explore_users`: the share of users whose lists
        do, and `explore_quantile`: how much of a user's history a new item must match to be offered (None: each
        chosen on validation). `gate_stages`: False keeps every stage that could be trained whatever validation
        says (its numbers are still reported)."""
        self.components = dict(components) if components else default_components()
        self.fixed_weights = fixed_weights
        self.mmr_lambda, self.seed, self.learn_ranker = mmr_lambda, seed, learn_ranker
        self.validation_draws, self.explore_share, self.gate_stages = validation_draws, explore_share, gate_stages
        self.explore_users, self.explore_quantile = explore_users, explore_quantile
        self.tuning: dict = {}
        self.exploring = {"users": EXPLORE_USERS if explore_users is None else explore_users,
                          "quantile": EXPLORE_QUANTILE if explore_quantile is None else explore_quantile}

    # --- Fitting -----------------------------------------------------------------------------------------------

    def _fit(self) -> None:
        names = list(self.components)
        self.settings: dict[str, dict[str, float]] = {}
        self.tuning = {"validation": {}, "components": {}, "stages": {}}
        draws = self._draws() if self.learn_ranker or not self.fixed_weights else []
        self.tuning["validation"] = {"draws": len(draws), "users": int(sum(len(d.rows) for d in draws))}
        if self.fixed_weights:
            self.weights = dict(self.fixed_weights)
            self.tuning["stages"]["fusion"] = {"kept": True, "why": "weights fixed by the caller"}
        elif not draws:
            self.weights = {name: 1.0 for name in names}
            self.tuning["stages"]["fusion"] = {"kept": True, "why": "no validation data: equal weights"}
        else:
            self.weights = self._first_stage(draws)
        self._held_out_ranker: list[np.ndarray] | None = None
        self.ranker = self._second_stage(draws) if self.learn_ranker else None
        if not self.learn_ranker:
            self.tuning["stages"]["ranker"] = {"kept": False, "why": "not asked for"}
        served = self._held_out_ranker or [d.first_stage(self.weights) for d in draws]
        self._exploration(draws, served)
        del draws, served
        self._held_out_ranker = None
        self._derive()
        # content and popularity always: they break ties for new items, explore and serve new users
        # (NEW_USER_WEIGHTS); every component when the ranker reads them all
        wanted = set(names) if self.ranker else \
            {name for name, w in self.weights.items() if w > 0} | {"content", "popularity"}
        self.models = {name: self._component(name).fit(self.interactions, self.items, self.user_texts)
                       for name in self.components if name in wanted}
        for name, model in self.models.items():  # what a component decided while fitting (ALS's new-item map)
            if model.report():
                self.tuning["components"].setdefault(name, {}).update(model.report())

    def _derive(self) -> None:
        """Per-request lookups, computed once: who watched what, how often."""
        self._watched = self.interactions.positive()
        self._item_counts = self.interactions.item_counts()
        self._user_counts = np.diff(self._watched.indptr)
        self._cold = self._item_counts == 0

    def _state(self) -> dict[str, object]:
        """The weights, what validation decided, the fitted components (each saved with its own state) and the
        ranker as LightGBM text."""
        ranker = {"text": Text(self.ranker.to_text()), "options": asdict(self.ranker.options)} if self.ranker \
            else None
        return {"weights": self.weights, "tuning": self.tuning, "models": self.models, "ranker": ranker,
                "exploring": self.exploring}

    def _restore(self, state: dict[str, object]) -> None:
        self.weights, self.tuning, self.models = state["weights"], state["tuning"], state["models"]
        self.exploring = state.get("exploring", self.exploring)  # saved before exploration was chosen: defaults
        self._derive()
        ranker = state["ranker"]
        self.ranker = rerank.LearnedRanker.from_text(ranker["text"], rerank.RankerOptions(**ranker["options"])) \
            if ranker else None

    def report(self) -> dict:
        return self.tuning

    def _fold_in(self, row: int) -> None:
        """Every component takes the user's new row (they share these interactions); item-level lookups as fitted."""
        models = {}
        for name, model in self.models.items():
            models[name] = copy.copy(model)
            models[name].interactions = self.interactions
            models[name]._fold_in(row)
        self.models = models
        cols, weights = self.positive_row(row)
        self._watched = replace_row(self._watched, row, cols, weights)
        self._user_counts = np.diff(self._watched.indptr)

    def _draws(self) -> list[ValidationDraw]:
        """`validation_draws` splits of the training data, every component fitted once on each; per sampled
        validation user, the candidate pool and what tuning reads of it."""
        draws = []
        for d in range(self.validation_draws):
            seed = self.seed + d
            rng = np.random.default_rng(seed)
            inter = self.interactions
            if inter.n_users > MAX_VALIDATION_TRAIN_USERS:
                inter = inter.subset_users(np.sort(rng.choice(inter.n_users, MAX_VALIDATION_TRAIN_USERS,
                                                              replace=False)))
            users = None
            if inter.n_users > MAX_VALIDATION_USERS:
                users = np.zeros(inter.n_users, bool)
                users[rng.choice(inter.n_users, MAX_VALIDATION_USERS, replace=False)] = True
            options = SplitOptions(held_fraction=VALIDATION_FRACTION, cold_fraction=PSEUDO_NEW_FRACTION,
                                   latest_share=VALIDATION_LATEST_SHARE, min_positives=MIN_POSITIVES_TO_SPLIT)
            held_out = split(inter, options, seed, users=users)
            held = [held_out.held(r) for r in range(inter.n_users)]
            rows = np.array([r for r, h in enumerate(held) if h and (users is None or users[r])], dtype=np.int64)
            if len(rows) == 0:
                continue
            train = held_out.train
            searched = self._search(train, rows, [held_out.held_warm[r] for r in rows]) if not draws else {}
            models = {name: searched.get(name) or self._component(name).fit(train, self.items, self.user_texts)
                      for name in self.components}
            draws.append(self._pools(train, models, rows, [held[r] for r in rows]))
        return draws

    def _component(self, name: str) -> Recommender:
        """An unfitted component with the settings validation chose for it."""
        return self.components[name].clone(**self.settings.get(name, {}))

    def _search(self, train: Interactions, rows: np.ndarray, relevant: list[set[int]]) -> dict[str, Recommender]:
        """SEARCHED's settings, one at a time, each value fitted once on this draw's training data and measured
        by the component's own warm NDCG@20 for the validation `rows`; returns the winners, fitted."""
        fitted = {}
        for name, grids in SEARCHED.items():
            if name not in self.components:
                continue
            started = time.perf_counter()
            chosen: dict[str, float] = {}
            trials = []
            best, quality = None, -np.inf
            for param, values in grids:
                if param not in self.components[name].param_names():
                    continue
                scored = []
                for value in values:
                    value = value * chosen[RELATIVE[param]] if param in RELATIVE else value
                    if best is not None and best.get_params()[param] == value:  # the last step's winner: no refit
                        scored.append((quality, value, best))
                        continue
                    model = self.components[name].clone(**chosen, **{param: value}) \
                        .fit(train, self.items, self.user_texts)
                    trials.append({**chosen, param: value,
                                   "warm_ndcg@20": round(_warm_ndcg(model, train, rows, relevant), 4)})
                    scored.append((trials[-1]["warm_ndcg@20"], value, model))
                    del model
                quality, chosen[param], best = max(scored, key=lambda t: t[0])
                del scored
            self.settings[name] = chosen
            fitted[name] = best
            self.tuning["components"][name] = {"chosen": chosen, "searched": trials,
                                               "search_s": round(time.perf_counter() - started, 1)}
        return fitted

    def _pools(self, train: Interactions, models: Mapping[str, Recommender], rows: np.ndarray,
               relevant: list[set[int]]) -> ValidationDraw:
        positives = train.positive()
        item_counts = train.item_counts()
        user_counts = np.diff(positives.indptr)
        is_new = item_counts == 0
        parts: dict[str, list] = {"cols": [], "static": [], "labels": [], "bars": []}
        raw_parts: dict[str, list] = {name: [] for name in models}
        z_parts: dict[str, list] = {name: [] for name in models}
        for start in range(0, len(rows), BATCH_USERS):
            chunk = rows[start:start + BATCH_USERS]
            raw = {name: model.score(chunk) for name, model in models.items()}
            allowed = np.ones((len(chunk), train.n_items), bool)
            seen = train.matrix[chunk]
            allowed[np.repeat(np.arange(len(chunk)), np.diff(seen.indptr)), seen.indices] = False
            cols = rerank.pool(raw, allowed, is_new)
            for name, r in raw.items():
                raw_parts[name].append(rerank.gather(r, cols))
                z_parts[name].append(rerank.gather(standardise(r), cols, fill=0.0))
            parts["cols"].append(cols)
            parts["static"].append(rerank.static_features(models, chunk, cols, item_counts, user_counts))
            bars = np.full((len(chunk), len(EXPLORE_QUANTILES)), np.inf)
            if "content" in raw:
                for u, row in enumerate(chunk):
                    own = positives.indices[positives.indptr[row]:positives.indptr[row + 1]]
                    if len(own):
                        bars[u] = np.quantile(raw["content"][u, own], EXPLORE_QUANTILES)
            parts["bars"].append(bars)
            rel = relevant[start:start + BATCH_USERS]
            parts["labels"].append(np.array([[c in r for c in row] for row, r in zip(cols, rel)], bool)
                                   .reshape(cols.shape))
        width = max(c.shape[1] for c in parts["cols"])

        def stack(arrays: list[np.ndarray], fill: object) -> np.ndarray:
            return np.concatenate([np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2),
                                          constant_values=fill) for a in arrays])

        return ValidationDraw(rows, stack(parts["cols"], -1), {n: stack(p, -np.inf) for n, p in raw_parts.items()},
                              {n: stack(p, 0.0) for n, p in z_parts.items()}, stack(parts["static"], np.nan),
                              stack(parts["labels"], False), np.array([len(r) for r in relevant]),
                              np.array([sum(not is_new[c] for c in r) for r in relevant]),
                              np.array([explore_draw(self.seed, train.user_ids[r]) for r in rows]),
                              np.concatenate(parts["bars"]))

    def _tune(self, draws: list[ValidationDraw]) -> dict[str, float]:
        """Coordinate ascent on validation NDCG@20 over WEIGHT_GRID, from the best single component."""
        names = list(self.components) + ([COLD_ROUTE] if "content" in self.components else [])

        def quality(weights: dict[str, float]) -> float:
            return float(np.mean([d.quality(d.first_stage(weights)) for d in draws]))

        single = self._best_single(draws)
        weights = {name: float(name == single) for name in names}
        best = quality(weights)
        for _ in range(TUNING_PASSES):
            improved = False
            for name in names:
                for value in WEIGHT_GRID:
                    trial = {**weights, name: value}
                    if not any(trial[n] > 0 for n in self.components):
                        continue
                    score = quality(trial)
                    if score > best + 1e-6:
                        best, weights, improved = score, trial, True
            if not improved:
                break
        return weights

    def _best_single(self, draws: list[ValidationDraw]) -> str:
        scores = {name: np.mean([d.quality(d.first_stage({name: 1.0})) for d in draws]) for name in self.components}
        return max(scores, key=scores.get)

    def _gate(self, stage: np.ndarray, baseline: np.ndarray) -> dict:
        """Keep a stage when its mean gain over the baseline on held-out draws exceeds the gains' standard
        deviation between draws (the noise): consistent gains only."""
        gains = stage - baseline
        noise = float(np.std(gains, ddof=1)) if len(gains) > 1 else float("inf")
        kept = bool(gains.mean() > 0 and gains.mean() > noise) or not self.gate_stages
        return {"kept": kept, "gain": round(float(gains.mean()), 4), "noise": round(noise, 4),
                "stage_ndcg@20": round(float(stage.mean()), 4), "baseline_ndcg@20": round(float(baseline.mean()), 4)}

    def _first_stage(self, draws: list[ValidationDraw]) -> dict[str, float]:
        """The tuned fusion if it beats the best single component on held-out draws, else that component alone."""
        fused, single = [], []
        for d, held in enumerate(draws):
            others = [x for i, x in enumerate(draws) if i != d] or [held]
            fused.append(held.quality(held.first_stage(self._tune(others))))
            single.append(held.quality(held.first_stage({self._best_single(others): 1.0})))
        verdict = self._gate(np.array(fused), np.array(single))
        best = self._best_single(draws)
        weights = self._tune(draws) if verdict["kept"] else {best: 1.0}
        why = "beats the best single component by more than the noise between draws" if verdict["kept"] else \
            f"does not beat {best} alone by more than the noise between draws: {best} alone is the first stage"
        if len(draws) < 2:
            why = "too few validation draws to measure the noise: the best single component is the first stage"
        self.tuning["stages"]["fusion"] = {**verdict, "why": why, "best_single": best,
                                           "weights": {n: w for n, w in weights.items() if w > 0}}
        return weights

    def _features(self, draw: ValidationDraw, weights: Mapping[str, float]) -> np.ndarray:
        return rerank.features(draw.raw, draw.z, draw.first_stage(weights), draw.static, draw.cols)

    def _second_stage(self, draws: list[ValidationDraw]) -> rerank.LearnedRanker | None:
        """The ranker, its size (trees) chosen on held-out draws, kept if it beats the first stage there."""
        names = rerank.feature_names(list(self.components))
        if len(draws) < 2:
            self.tuning["stages"]["ranker"] = {"kept": False, "why": "too few validation draws"}
            return None
        feats = [self._features(d, self.weights) for d in draws]
        labels = [d.labels for d in draws]
        by_trees = {t: [] for t in rerank.TREE_COUNTS}
        predicted = {t: [] for t in rerank.TREE_COUNTS}  # each held-out draw ranked by a ranker it did not train
        first = []
        for d, held in enumerate(draws):
            ranker = rerank.LearnedRanker(rerank.RankerOptions(seed=self.seed))
            if not ranker.fit([f for i, f in enumerate(feats) if i != d], [y for i, y in enumerate(labels) if i != d],
                              names):
                self.tuning["stages"]["ranker"] = {"kept": False, "why": "too few held-out positives to learn from"}
                return None
            for trees in rerank.TREE_COUNTS:
                predicted[trees].append(ranker.predict(feats[d], trees))
                by_trees[trees].append(held.quality(predicted[trees][-1]))
            first.append(held.quality(held.first_stage(self.weights)))
        trees = max(by_trees, key=lambda t: np.mean(by_trees[t]))
        verdict = self._gate(np.array(by_trees[trees]), np.array(first))
        verdict["trees"] = trees
        if not verdict["kept"]:
            self.tuning["stages"]["ranker"] = {**verdict, "why": "does not beat the first stage by more than the "
                                                                  "noise between draws: skipped"}
            return None
        self._held_out_ranker = predicted[trees]
        ranker = rerank.LearnedRanker(rerank.RankerOptions(seed=self.seed))
        ranker.fit(feats, labels, names, trees=trees)
        self.tuning["stages"]["ranker"] = {**verdict, "why": "beats the first stage by more than the noise between "
                                                              "draws", **ranker.describe()}
        return ranker

    def _exploration(self, draws: list[ValidationDraw], served: list[np.ndarray]) -> None:
        """Choose who explores (`explore_users`) and how close a new item must be (`explore_quantile`) on the
        validation draws, each ranked as served (the ranker's scores from rankers that did not train on that draw,
        else the first stage). Every pair of the search ranges is measured against the best single component per
        draw, on warm Recall@20 (what exploration costs) and mixed NDCG@20. Kept: the cheapest pair (best warm
        Recall) whose exploration places put a new item in EXPLORE_REACH_TARGET of users' lists (mean over the
        draws: real new items, which the stages rank lower than the draws' pseudo-new ones, leave more lists to
        explore, a margin of their own) while the served model still beats that component on both by more than the
        noise between draws (`_gate`); failing that, the cheapest reaching the target whose mean gains stay >= 0;
        failing that, the largest reach that beats it by more than the noise; otherwise no exploration, except for
        new users. The target at least cost, not the largest affordable reach: the stages' gain measured on
        validation draws need not carry over to other data, while exploration's cost does."""
        quantiles = list(EXPLORE_QUANTILES) if self.explore_quantile is None else [self.explore_quantile]
        slots = self.explore_slots(TUNING_K)
        if self.explore_users is not None or len(draws) < 2 or slots == 0 or "content" not in self.components \
                or any(q not in EXPLORE_QUANTILES for q in quantiles):
            why = "configured" if self.explore_users is not None or slots == 0 else \
                "no validation draws to choose it on (or no content model): defaults"
            self.tuning["stages"]["exploration"] = {"kept": slots > 0 and self.exploring["users"] > 0, "why": why,
                                                    **self.exploring}
            return
        singles = {name: [d.served(d.first_stage({name: 1.0}), 0.0, 0, slots) for d in draws]
                   for name in self.components}

        def best(metric: str) -> tuple[str, np.ndarray]:
            name = max(singles, key=lambda n: np.mean([r[metric] for r in singles[n]]))
            return name, np.array([r[metric] for r in singles[name]])

        (warm_name, warm_base), (mixed_name, mixed_base) = best("warm_recall"), best("mixed_ndcg")
        trials = []
        for share in EXPLORE_USER_GRID:
            for q in quantiles if share > 0 else quantiles[:1]:
                runs = [d.served(s, share, EXPLORE_QUANTILES.index(q), slots) for d, s in zip(draws, served)]
                warm = self._gate(np.array([r["warm_recall"] for r in runs]), warm_base)
                mixed = self._gate(np.array([r["mixed_ndcg"] for r in runs]), mixed_base)
                reach, explored = [r["reach"] for r in runs], [r["explored"] for r in runs]
                trials.append({"users": share, "quantile": q, "reach": round(float(np.mean(reach)), 4),
                               "reach_min": round(float(np.min(reach)), 4),
                               "explored": round(float(np.mean(explored)), 4),
                               "explored_min": round(float(np.min(explored)), 4),
                               "warm_recall_gain": warm["gain"], "warm_noise": warm["noise"],
                               "mixed_ndcg_gain": mixed["gain"], "mixed_noise": mixed["noise"],
                               "beats_best_single": warm["kept"] and mixed["kept"]})
        strict = [t for t in trials if t["beats_best_single"]]
        reaching = [t for t in strict if t["explored"] >= EXPLORE_REACH_TARGET]
        floor = [t for t in trials if t["explored"] >= EXPLORE_REACH_TARGET and t["warm_recall_gain"] >= 0
                 and t["mixed_ndcg_gain"] >= 0]
        target = f"exploration placing a new item in {EXPLORE_REACH_TARGET:.0%} of users' lists"
        if reaching:
            chosen, why = max(reaching, key=lambda t: (t["warm_recall_gain"], t["reach"])), \
                f"{target} at the least cost, still beating the best single component by more than the noise"
        elif floor:
            chosen, why = max(floor, key=lambda t: (t["warm_recall_gain"], t["reach"])), \
                f"{target} at the least cost that keeps the mean at or above the best single component"
        elif strict:
            chosen, why = max(strict, key=lambda t: (t["explored"], t["warm_recall_gain"])), \
                f"{target} costs more than the stages gain: the largest reach that still beats the best single " \
                f"component by more than the noise"
        else:
            chosen, why = {**trials[0], "users": 0.0}, "no exploration the stages' gain can pay for: none " \
                                                        "(new users still explore)"
        self.exploring = {"users": chosen["users"], "quantile": chosen["quantile"]}
        why += (f" ({chosen['users']:.0%} of users explore, a new item matching their history's "
                f"{chosen['quantile']:.0%} quantile; validation: a new item in {chosen['reach']:.0%} of lists, "
                f"{chosen['explored']:.0%} placed by exploration, warm "
                f"Recall@20 {chosen['warm_recall_gain']:+.4f} and mixed NDCG@20 {chosen['mixed_ndcg_gain']:+.4f} "
                f"against the best single component)")
        self.tuning["stages"]["exploration"] = {
            "kept": chosen["users"] > 0, "why": why, **chosen, "best_single_warm_recall": warm_name,
            "best_single_mixed_ndcg": mixed_name, "searched": trials}

    # --- Serving -------------------------------------------------------------------------------------------------

    def component_scores(self, rows: np.ndarray, interests: Sequence[str | None] | None) -> dict[str, np.ndarray]:
        """Each component's weighted, standardised scores: the first stage's weights for known users, the
        new-user route for users unknown at fit time (row -1)."""
        z = {name: standardise(model.score(rows, interests)) for name, model in self.models.items()}
        return self._weighted(z, rows < 0, self._cold)

    def _weighted(self, z: dict[str, np.ndarray], new_user: np.ndarray, new_item: np.ndarray) -> dict[str, np.ndarray]:
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
        return self._ranked(rows, k, exclude_seen, interests, candidates)[0]

    def _ranked(self, rows: np.ndarray, k: int, exclude_seen: bool, interests: Sequence[str | None],
                candidates: np.ndarray | None) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict, dict]:
        """The first stage (fused, masked), the second stage when kept, MMR for diversity, then exploration: all
        from one scoring pass over the components, whose weighted parts and opinions (for the reasons) come back
        too. Diversity and exploration can place an item above one it scores lower than: each pick reports its
        score capped at the one before it, so the scores read in the order the list is in (which items are
        picked is unchanged)."""
        raw = {name: model.score(rows, interests) for name, model in self.models.items()}
        z = {name: standardise(r) for name, r in raw.items()}
        parts = self._weighted(z, rows < 0, self._cold)
        fused = sum(parts.values()).astype(np.float32)
        scores = self.mask_scores(rows, fused, exclude_seen, candidates)
        if self.ranker is not None:
            scores = self._rerank(rows, scores, raw, z)
        picks = self._mmr(scores, k)
        if "content" in raw:
            picks = self._explore(rows, picks, scores, raw["content"], z["content"], k)
        picks = [(cols, np.minimum.accumulate(vals)) for cols, vals in picks]
        return picks, parts, {name: np.isfinite(r) for name, r in raw.items()}

    def _recommend_rows(self, rows: np.ndarray, k: int, exclude_seen: bool, interests: Sequence[str | None],
                        candidates: np.ndarray | None) -> list[list[Recommendation]]:
        """As the base class does, with each pick's reason taken from the scoring pass that ranked it."""
        if k <= 0:
            return [[] for _ in rows]
        picks, parts, opinion = self._ranked(rows, k, exclude_seen, interests, candidates)
        out = []
        for u, (row, said, (cols, vals)) in enumerate(zip(rows, interests, picks)):
            reasons = self._reasons(int(row), cols, said, {n: p[u] for n, p in parts.items()},
                                    {n: o[u] for n, o in opinion.items()}) if len(cols) else []
            out.append([Recommendation(self.items.ids[c], float(v), reason, source)
                        for c, v, (reason, source) in zip(cols, vals, reasons)])
        return out

    def _rerank(self, rows: np.ndarray, fused: np.ndarray, raw: dict[str, np.ndarray],
                z: dict[str, np.ndarray]) -> np.ndarray:
        """The ranker's scores for each known user's pool, -inf elsewhere. New users keep the first stage: the
        ranker learned from users with a history, and their route (stated interests, then popularity) is set."""
        known = np.flatnonzero(rows >= 0)
        out = fused.copy()
        if len(known) == 0:
            return out
        mine = slice(None) if len(known) == len(rows) else known  # a view, not a copy, in a full run
        allowed = np.isfinite(fused[mine])
        raw = {name: r[mine] for name, r in raw.items()}
        cols = rerank.pool(raw, allowed, self._cold)
        static = rerank.static_features(self.models, rows[known], cols, self._item_counts, self._user_counts)
        feats = rerank.features({n: rerank.gather(r, cols) for n, r in raw.items()},
                                {n: rerank.gather(part[mine], cols, fill=0.0) for n, part in z.items()},
                                rerank.gather(fused[mine], cols), static, cols)
        ranked = self.ranker.predict(feats)
        out[known] = -np.inf
        users, places = np.nonzero(cols >= 0)
        out[known[users], cols[users, places]] = ranked[users, places]
        return out

    def _mmr(self, scores: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """MMR: greedily take the item with the best mix of relevance and difference from those already taken,
        for every user of the batch at once."""
        idx, vals = top_k(scores, k * MMR_POOL)
        vectors = self.items.text_vectors
        if vectors is None or self.mmr_lambda >= 1.0 or idx.shape[1] <= 1:
            return [(i[i >= 0][:k], v[i >= 0][:k]) for i, v in zip(idx, vals)]
        valid = idx >= 0
        finite = np.where(valid, vals, np.nan)
        low, high = np.nanmin(finite, axis=1, keepdims=True), np.nanmax(finite, axis=1, keepdims=True)
        span = high - low
        norm = np.where(span > 0, (finite - low) / np.where(span > 0, span, 1.0), 1.0)
        cand = vectors[np.maximum(idx, 0)]
        sims = cand @ cand.transpose(0, 2, 1)  # (users, pool, pool), batched BLAS
        users = np.arange(len(idx))
        max_sim = np.full(idx.shape, -1.0, np.float32)
        available = valid.copy()
        chosen = np.full((len(idx), min(k, idx.shape[1])), -1, np.int64)
        for step in range(chosen.shape[1]):
            mmr = self.mmr_lambda * norm - (1 - self.mmr_lambda) * np.maximum(max_sim, 0)
            mmr = np.where(available, mmr, -np.inf)
            pick = mmr.argmax(axis=1)
            ok = available[users, pick]
            chosen[ok, step] = pick[ok]
            available[users[ok], pick[ok]] = False
            max_sim = np.where(ok[:, None], np.maximum(max_sim, sims[users, pick]), max_sim)
        out = []
        for u in users:
            mine = chosen[u][chosen[u] >= 0]
            out.append((idx[u, mine], vals[u, mine]))
        return out

    def explore_slots(self, k: int) -> int:
        """Places in a list of k offered to new items."""
        if self.explore_share <= 0 or k < EXPLORE_MIN_K:
            return 0
        return max(1, int(k * self.explore_share))

    def explores(self, row: int) -> bool:
        """Whether user `row`'s lists have exploration places: every new user, and `explore_users` of the known
        ones, by a hash of their id (stable across requests and runs)."""
        if row < 0 or self.exploring["users"] >= 1.0:
            return True
        return explore_draw(self.seed, self.interactions.user_ids[row]) < self.exploring["users"]

    def _explore(self, rows: np.ndarray, picks: list[tuple[np.ndarray, np.ndarray]], scores: np.ndarray,
                 content: np.ndarray, content_z: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """A list with fewer new items than its exploration places gives its last places to the new items content
        likes best, each only if it matches the user as well as their own history does (a quantile of it)."""
        slots = self.explore_slots(k)
        new = self._cold[None, :] & np.isfinite(scores)
        if slots == 0 or not new.any():
            return picks
        best, best_scores = top_k(np.where(new, content, -np.inf), slots)
        out = []
        for u, (row, (cols, vals)) in enumerate(zip(rows, picks)):
            if not self.explores(int(row)):
                out.append((cols, vals))
                continue
            seen = self._watched.indices[self._watched.indptr[row]:self._watched.indptr[row + 1]] if row >= 0 else ()
            bar = np.quantile(content[u, seen], self.exploring["quantile"]) if len(seen) else None
            offered = [c for c, s in zip(best[u], best_scores[u]) if c >= 0 and c not in set(cols.tolist())
                       and (s >= bar if bar is not None else content_z[u, c] >= EXPLORE_MIN_Z)]
            room = slots - int(self._cold[cols].sum())
            offered = offered[:max(room, 0)]
            if offered and len(cols) >= EXPLORE_MIN_K:
                keep = len(cols) - len(offered)
                cols = np.concatenate([cols[:keep], offered])
                vals = np.concatenate([vals[:keep], scores[u, offered]])
            out.append((cols, vals))
        return out

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        return [reason for reason, _source in self.explain_with_source(row, cols, interests)]

    def explain_with_source(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[tuple[str, str]]:
        rows = np.array([row])
        raw = {name: model.score(rows, [interests]) for name, model in self.models.items()}
        parts = self._weighted({name: standardise(r) for name, r in raw.items()}, rows < 0, self._cold)
        return self._reasons(row, cols, interests, {n: p[0] for n, p in parts.items()},
                             {n: np.isfinite(r[0]) for n, r in raw.items()})

    def _reasons(self, row: int, cols: np.ndarray, interests: str | None, parts: Mapping[str, np.ndarray],
                 opinion: Mapping[str, np.ndarray]) -> list[tuple[str, str]]:
        """(reason, source) per pick: from the component that contributed most to its first-stage score among
        those with an opinion of it (CF sits at 0 for a new item, but cannot be its reason)."""
        names = list(parts)
        contribution = np.stack([parts[n][cols] for n in names])  # (components, picks)
        lead = np.where(np.stack([opinion[n][cols] for n in names]), contribution, -np.inf).argmax(axis=0)
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
