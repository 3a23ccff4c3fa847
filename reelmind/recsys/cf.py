"""Collaborative filtering: EASE (item-item, closed form) and ALS matrix factorisation (benfred/implicit).

EASE (Steck, 2019) learns an item-item weight matrix B with a zero diagonal in closed form:
P = (XᵀX + λI)⁻¹, B = I - P·diag(1/diag(P)). On MovieLens it is the strongest classical baseline. EASE only knows
items someone interacted with; cold items get no score (-inf) and are left to content. ALS gives a new item factors
predicted from its content (`map_new_items`): a ridge regression from the items' text vectors (and visual vectors
where there are any) to the factors ALS learned for the warm items, so a new item gets a CF-like score from the
same user factors; the text's dimensions are weighted by what predicts taste, which matters when the text is
thin (a title and genres).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from reelmind.recsys.base import Recommender, title_of
from reelmind.recsys.data import csr_row, replace_row
from reelmind.vectors import l2_normalise

# L2 regularisation: a default from the published range (Steck 2019 reports 200-1000 on MovieLens-20M, Netflix
# and the Million Song Dataset; smaller catalogues sit at the low end).
EASE_LAMBDA = 200.0
# A watched item "links" to a candidate when it raises the candidate's score by more than this (B's entries for
# related items run ~0.01-0.1 at lambda 200; most entries are below 0.001).
LINK_MIN = 0.01
# Side information (Jeunen et al. 2020, "closed-form models for CF with side-information"): item text vectors
# enter the Gram matrix as if they were extra users who "watched" similar items together. Their weight defaults to
# the ridge penalty's: the text then pulls B towards text similarity as strongly as the penalty pulls it towards
# zero (the paper treats it as a structured regulariser). The hybrid's validation gates decide what EASE is worth.
EASE_SIDE_WEIGHT = EASE_LAMBDA
# EASE inverts a dense items x items matrix: O(n^3) time and 4n^2 bytes. It is fitted on the most-interacted
# items up to this many (5,000: 100 MB and a few seconds on two cores); the long tail is left to ALS and content.
EASE_MAX_ITEMS = 5000
# ALS, swept on the hybrid's validation split of the MovieLens protocol (training positives minus 20% per user),
# validation Recall@20: 64 factors, alpha 10, regularisation 50 -> 0.279 (EASE: 0.263). The textbook small
# penalty (0.05) overfits 600 users' histories (0.211); 16-32 factors at 0.1 reach 0.25-0.27; 128 factors, or a
# penalty of 100, collapse (0.165-0.170). implicit 0.7 does not scale the penalty by counts, so it must be large
# next to the confidences (1 + alpha x weight) summed over a user's ~60 positives.
ALS_FACTORS = 64
ALS_REGULARIZATION = 50.0
ALS_ITERATIONS = 15
# Confidence scaling of implicit weights for ALS (Hu, Koren & Volinsky's alpha); 5 and 20 gave 0.258 and 0.271.
ALS_ALPHA = 10.0
# The content-to-factors ridge: its penalty is searched over these multiples of the content matrix's mean squared
# singular value (from almost none to mostly shrinkage), on MAP_CHECK_FRACTION of the warm items held out of the
# fit (seeded); then refitted on every warm item.
MAP_RIDGE_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
MAP_CHECK_FRACTION = 0.1
# Fewer warm items than this: too few to learn a mapping; new items keep no score.
MAP_MIN_ITEMS = 50


def spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix (EASE's regularised Gram) by Cholesky, LAPACK potrf and
    potri: 3-4x faster than numpy's general LU inverse at 3.6k items (0.32 s against 1.19 s here). Overwrites `a`."""
    from scipy.linalg import cho_factor, lapack

    factor, _ = cho_factor(a, lower=False, overwrite_a=True, check_finite=False)
    inverse, info = (lapack.spotri if factor.dtype == np.float32 else lapack.dpotri)(factor, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (LAPACK info {info})")
    return np.triu(inverse) + np.triu(inverse, 1).T


NEW_ITEM_REASON = "new here, and its description resembles what you watch"


def ridge_map(content: np.ndarray, targets: np.ndarray, fit_on: np.ndarray, seed: int
              ) -> tuple[np.ndarray, dict[str, float]]:
    """Every row's `targets` predicted from its `content` by ridge regression fitted on the rows `fit_on` (centred;
    the penalty chosen on a held-out share of them from MAP_RIDGE_GRID, one SVD serving every penalty). Returns
    the predictions and {"penalty": chosen multiple, "check_r2": the held-out share of variance explained}."""
    rows = np.flatnonzero(fit_on)
    rng = np.random.default_rng(seed)
    check = np.zeros(len(rows), bool)
    check[rng.choice(len(rows), max(1, int(round(MAP_CHECK_FRACTION * len(rows)))), replace=False)] = True

    def solve(train: np.ndarray) -> tuple:
        x_mean, y_mean = content[train].mean(axis=0), targets[train].mean(axis=0)
        u, s, vt = np.linalg.svd(content[train] - x_mean, full_matrices=False)
        return x_mean, y_mean, u, s, vt, u.T @ (targets[train] - y_mean)

    def predict(fitted: tuple, scale: float, at: np.ndarray) -> np.ndarray:
        x_mean, y_mean, _u, s, vt, uty = fitted
        penalty = scale * float(np.mean(s ** 2))
        weights = vt.T @ ((s / (s ** 2 + penalty))[:, None] * uty)
        return (content[at] - x_mean) @ weights + y_mean

    fitted = solve(rows[~check])
    truth = targets[rows[check]]
    spread = float(((truth - truth.mean(axis=0)) ** 2).sum()) or 1.0
    r2 = {scale: 1 - float(((predict(fitted, scale, rows[check]) - truth) ** 2).sum()) / spread
          for scale in MAP_RIDGE_GRID}
    scale = max(r2, key=r2.get)
    return predict(solve(rows), scale, np.arange(len(content))).astype(np.float32), \
        {"penalty": scale, "check_r2": round(r2[scale], 4)}


class _CollaborativeBase(Recommender):
    """Shared: warm-item bookkeeping and 'because you watched X' reasons: the watched item most similar to the
    pick in the model's item space (for ALS an approximation of its score's decomposition, cheap enough for every
    pick; EASE overrides it with its exact one)."""

    def _warm(self, max_items: int | None = None) -> None:
        """The positives, and the items the model scores: every item someone interacted with, or the
        `max_items` most interacted of them (sorted by column)."""
        self.X = self.interactions.positive().astype(np.float32)
        counts = self.interactions.item_counts()
        warm = np.flatnonzero(counts > 0)
        if max_items is not None and len(warm) > max_items:
            warm = np.sort(warm[np.argsort(-counts[warm], kind="stable")[:max_items]])
        self.warm = warm

    def _fold_in(self, row: int) -> None:
        cols, weights = self.positive_row(row)
        self.X = replace_row(self.X, row, cols, weights.astype(np.float32))

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        """The watched item closest to each pick in the model's item space (one product for all picks)."""
        if row < 0:
            return ["no history yet"] * len(cols)
        watched = csr_row(self.X, row)[0]
        cols = np.asarray(cols, np.int64)
        if not len(watched) or not len(cols):
            return ["people with your taste watched this"] * len(cols)
        sims = self._item_space(watched, cols)  # (watched, picks)
        best = np.where(np.isfinite(sims), sims, -np.inf).argmax(axis=0)
        known = np.isfinite(sims).any(axis=0)
        return [f"because you watched {title_of(self.items, watched[b])}" if ok else
                "people with your taste watched this" for b, ok in zip(best, known)]

    def _item_space(self, watched: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(len(watched), len(cols)) similarities in the model's item space, -inf where it has none."""
        return np.stack([self.item_similarity(c)[watched] for c in cols], axis=1)


class EASERecommender(_CollaborativeBase):
    """EASE; with `side_weight` > 0 and item text vectors, the side-information variant (still closed form). Over
    the `max_items` most interacted items; the others get no score."""

    source = "ease"
    personalised = True

    def __init__(self, l2: float = EASE_LAMBDA, side_weight: float = 0.0, max_items: int = EASE_MAX_ITEMS):
        self.l2, self.side_weight, self.max_items = l2, side_weight, max_items

    def _fit(self) -> None:
        self._warm(self.max_items)
        Xw = self.Xw = self.X[:, self.warm].tocsr()
        gram = (Xw.T @ Xw).toarray().astype(np.float32)
        if self.side_weight > 0 and self.items.text_vectors is not None:
            V = self.items.text_vectors[self.warm]
            V = V - V.mean(axis=0)  # centred: what items share beyond the corpus average
            gram += self.side_weight * (V @ V.T)
        gram[np.diag_indices_from(gram)] += self.l2
        P = spd_inverse(gram)
        B = -P / np.diag(P)[None, :]
        B[np.diag_indices_from(B)] = 0.0
        self.B = B.astype(np.float32)

    def _state(self) -> dict[str, object]:
        return {"B": self.B}

    def _fold_in(self, row: int) -> None:
        """The user's row of X and of X over the scored items; B stays as fitted."""
        super()._fold_in(row)
        cols, weights = self.positive_row(row)
        where = np.searchsorted(self.warm, cols)
        scored = (where < len(self.warm)) & (self.warm[np.minimum(where, len(self.warm) - 1)] == cols) \
            if len(self.warm) else np.zeros(len(cols), bool)
        self.Xw = replace_row(self.Xw, row, where[scored], weights[scored].astype(np.float32))

    def _restore(self, state: dict[str, object]) -> None:
        self._warm(self.max_items)
        self.Xw = self.X[:, self.warm].tocsr()
        self.B = state["B"]

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        out = np.full((len(rows), self.interactions.n_items), -np.inf, np.float32)
        known = rows >= 0
        if known.any() and len(self.warm):
            user_items = self.Xw[rows[known]]
            out[np.ix_(np.flatnonzero(known), self.warm)] = (user_items @ self.B).astype(np.float32)
        return out

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        """score(u, i) = sum_j X[u, j] B[j, i]: the reason is the watched j with the largest term (exact)."""
        if row < 0:
            return ["no history yet"] * len(cols)
        places, weights = csr_row(self.Xw, row)  # the user's positives among the items the model scores
        cols = np.asarray(cols, np.int64)
        where = np.minimum(np.searchsorted(self.warm, cols), max(len(self.warm) - 1, 0))
        known = (self.warm[where] == cols) if len(self.warm) else np.zeros(len(cols), bool)
        reasons = ["people with your taste watched this"] * len(cols)
        if len(places) and known.any():
            terms = weights[:, None] * self.B[np.ix_(places, where[known])]
            for j, b in zip(np.flatnonzero(known), terms.argmax(axis=0)):
                reasons[j] = f"because you watched {title_of(self.items, self.warm[places[b]])}"
        return reasons

    def links(self, rows: np.ndarray, cols: np.ndarray, recent: list[np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per (user, candidate column): the largest single term X[u, j] B[j, i] of the score, how many of the
        user's items contribute more than LINK_MIN, and the part of the score owed to `recent[u]` (the columns of
        their latest positives: what they are into now, against their whole history); NaN for new users and
        items the model does not know."""
        strongest = np.full(cols.shape, np.nan, np.float32)
        count = np.full(cols.shape, np.nan, np.float32)
        latest = np.full(cols.shape, np.nan, np.float32)
        where = np.minimum(np.searchsorted(self.warm, cols), len(self.warm) - 1)
        known = self.warm[where] == cols if len(self.warm) else np.zeros(cols.shape, bool)
        for u, row in enumerate(rows):
            places, weights = csr_row(self.Xw, row) if row >= 0 else ((), ())
            if not len(places) or not known[u].any():
                continue
            terms = weights[:, None] * self.B[np.ix_(places, where[u, known[u]])]
            strongest[u, known[u]] = terms.max(axis=0)
            count[u, known[u]] = (terms > LINK_MIN).sum(axis=0)
            lately = np.isin(self.warm[places], recent[u])
            latest[u, known[u]] = terms[lately].sum(axis=0)
        return strongest, count, latest

    def item_similarity(self, col: int) -> np.ndarray:
        sims = np.full(self.interactions.n_items, -np.inf, np.float32)
        where = np.searchsorted(self.warm, col)
        if where < len(self.warm) and self.warm[where] == col:
            sims[self.warm] = self.B[where]  # how much watching `col` raises each item's score
        return sims


class ALSRecommender(_CollaborativeBase):
    source = "als"
    personalised = True

    def __init__(self, factors: int = ALS_FACTORS, regularization: float = ALS_REGULARIZATION,
                 iterations: int = ALS_ITERATIONS, alpha: float = ALS_ALPHA, seed: int = 0,
                 map_new_items: bool = True):
        self.factors, self.regularization, self.iterations, self.alpha, self.seed = \
            factors, regularization, iterations, alpha, seed
        self.map_new_items = map_new_items

    def _fit(self) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self._warm()
        model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                        iterations=self.iterations, alpha=self.alpha, random_state=self.seed,
                                        calculate_training_loss=False)
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; threaded BLAS inside it thrashes
            model.fit(self.X.tocsr(), show_progress=False)
        self._set_factors(model.user_factors, model.item_factors)

    def _state(self) -> dict[str, object]:
        """The factors ALS learned (new items' are predicted again from their content when restored)."""
        return {"user_factors": self.user_factors, "item_factors": self.learned_item_factors}

    def report(self) -> dict:
        return {"new_item_mapping": self.mapping} if self.mapping else {}

    def _restore(self, state: dict[str, object]) -> None:
        self._warm()
        self._set_factors(state["user_factors"], state["item_factors"])

    def _fold_in(self, row: int) -> None:
        """The user's factors solved against the fitted item factors (one ALS half-step, as implicit solves it:
        confidence alpha x weight), the items' factors unchanged."""
        super()._fold_in(row)
        cols, weights = self.positive_row(row)
        Y = self.learned_item_factors
        confidence = self.alpha * weights.astype(np.float32)
        A = Y.T @ Y + (Y[cols].T * (confidence - 1.0)) @ Y[cols] + self.regularization * np.eye(Y.shape[1])
        x = np.linalg.solve(A, Y[cols].T @ confidence) if len(cols) else np.zeros(Y.shape[1])
        factors = self.user_factors if row < len(self.user_factors) else \
            np.vstack([self.user_factors, np.zeros((1, Y.shape[1]), np.float32)])
        self.user_factors = factors.copy() if factors is self.user_factors else factors
        self.user_factors[row] = x

    def _set_factors(self, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_factors = np.asarray(user_factors, np.float32)
        self.item_factors = self.learned_item_factors = np.asarray(item_factors, np.float32)
        self._unit_items = l2_normalise(self.item_factors)
        self._cold = self.interactions.item_counts() == 0
        # items the model scores: warm ones, and new ones whose factors content predicts
        self._scored = ~self._cold
        self.mapping: dict[str, float] = {}
        if self.map_new_items and self._cold.any():
            self._map_new_items()

    def _map_new_items(self) -> None:
        """New items' factors from their content (ridge regression fitted on the warm items), when there are
        enough warm items and item vectors to learn from."""
        items = self.items
        if items.text_vectors is None or (~self._cold).sum() < MAP_MIN_ITEMS:
            return
        content = items.text_vectors if items.visual_vectors is None else \
            np.hstack([items.text_vectors, items.visual_vectors])
        predicted, self.mapping = ridge_map(np.asarray(content, np.float64), self.item_factors.astype(np.float64),
                                            ~self._cold, self.seed)
        factors = self.item_factors.copy()
        factors[self._cold] = predicted[self._cold]
        self.item_factors = factors
        self._scored = np.ones_like(self._cold)

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        out = np.full((len(rows), self.interactions.n_items), -np.inf, np.float32)
        known = rows >= 0
        if known.any():
            out[known] = self.user_factors[rows[known]] @ self.item_factors.T
            out[:, ~self._scored] = -np.inf
        return out

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        reasons = super().explain(row, cols, interests)
        return [NEW_ITEM_REASON if self._cold[c] and row >= 0 else reason
                for c, reason in zip(np.asarray(cols, np.int64), reasons)]

    def _item_space(self, watched: np.ndarray, cols: np.ndarray) -> np.ndarray:
        sims = self._unit_items[watched] @ self._unit_items[cols].T
        return np.where(self._cold[watched][:, None] | self._cold[cols][None, :], -np.inf, sims)

    def item_similarity(self, col: int) -> np.ndarray:
        if self._cold[col]:
            return np.full(self.interactions.n_items, -np.inf, np.float32)
        sims = self._unit_items @ self._unit_items[col]
        return np.where(self._cold, -np.inf, sims).astype(np.float32)
