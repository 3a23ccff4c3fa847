"""Collaborative filtering: EASE (item-item, closed form) and ALS matrix factorisation (benfred/implicit).

EASE (Steck, 2019) learns an item-item weight matrix B with a zero diagonal in closed form:
P = (XᵀX + λI)⁻¹, B = I - P·diag(1/diag(P)). On MovieLens it is the strongest classical baseline. Both models
only know items someone interacted with; cold items get no score (-inf) and are left to content models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from reelmind.recsys.base import Recommender, title_of
from reelmind.recsys.data import replace_row
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


def spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix (EASE's regularised Gram) by Cholesky, LAPACK potrf and
    potri: 3-4x faster than numpy's general LU inverse at 3.6k items (0.32 s against 1.19 s here). Overwrites `a`."""
    from scipy.linalg import cho_factor, lapack

    factor, _ = cho_factor(a, lower=False, overwrite_a=True, check_finite=False)
    inverse, info = (lapack.spotri if factor.dtype == np.float32 else lapack.dpotri)(factor, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (LAPACK info {info})")
    return np.triu(inverse) + np.triu(inverse, 1).T


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
        watched = self.X[row].indices
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
        x = self.Xw[row]  # the user's positives among the items the model scores (x.indices: places in warm)
        cols = np.asarray(cols, np.int64)
        where = np.minimum(np.searchsorted(self.warm, cols), max(len(self.warm) - 1, 0))
        known = (self.warm[where] == cols) if len(self.warm) else np.zeros(len(cols), bool)
        reasons = ["people with your taste watched this"] * len(cols)
        if x.nnz and known.any():
            terms = x.data[:, None] * self.B[np.ix_(x.indices, where[known])]
            for j, b in zip(np.flatnonzero(known), terms.argmax(axis=0)):
                reasons[j] = f"because you watched {title_of(self.items, self.warm[x.indices[b]])}"
        return reasons

    def links(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per (user, candidate column): the largest single term X[u, j] B[j, i] of the score, and how many of
        the user's items contribute more than LINK_MIN; NaN for new users and items the model does not know."""
        strongest = np.full(cols.shape, np.nan, np.float32)
        count = np.full(cols.shape, np.nan, np.float32)
        where = np.minimum(np.searchsorted(self.warm, cols), len(self.warm) - 1)
        known = self.warm[where] == cols if len(self.warm) else np.zeros(cols.shape, bool)
        for u, row in enumerate(rows):
            x = self.Xw[row] if row >= 0 else None
            if x is None or not x.nnz or not known[u].any():
                continue
            terms = x.data[:, None] * self.B[np.ix_(x.indices, where[u, known[u]])]
            strongest[u, known[u]] = terms.max(axis=0)
            count[u, known[u]] = (terms > LINK_MIN).sum(axis=0)
        return strongest, count

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
                 iterations: int = ALS_ITERATIONS, alpha: float = ALS_ALPHA, seed: int = 0):
        self.factors, self.regularization, self.iterations, self.alpha, self.seed = \
            factors, regularization, iterations, alpha, seed

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
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, state: dict[str, object]) -> None:
        self._warm()
        self._set_factors(state["user_factors"], state["item_factors"])

    def _fold_in(self, row: int) -> None:
        """The user's factors solved against the fitted item factors (one ALS half-step, as implicit solves it:
        confidence alpha x weight), the items' factors unchanged."""
        super()._fold_in(row)
        cols, weights = self.positive_row(row)
        Y = self.item_factors
        confidence = self.alpha * weights.astype(np.float32)
        A = Y.T @ Y + (Y[cols].T * (confidence - 1.0)) @ Y[cols] + self.regularization * np.eye(Y.shape[1])
        x = np.linalg.solve(A, Y[cols].T @ confidence) if len(cols) else np.zeros(Y.shape[1])
        factors = self.user_factors if row < len(self.user_factors) else \
            np.vstack([self.user_factors, np.zeros((1, Y.shape[1]), np.float32)])
        self.user_factors = factors.copy() if factors is self.user_factors else factors
        self.user_factors[row] = x

    def _set_factors(self, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_factors = np.asarray(user_factors, np.float32)
        self.item_factors = np.asarray(item_factors, np.float32)
        self._unit_items = l2_normalise(self.item_factors)
        self._cold = self.interactions.item_counts() == 0

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        out = np.full((len(rows), self.interactions.n_items), -np.inf, np.float32)
        known = rows >= 0
        if known.any():
            out[known] = self.user_factors[rows[known]] @ self.item_factors.T
            out[:, self._cold] = -np.inf
        return out

    def _item_space(self, watched: np.ndarray, cols: np.ndarray) -> np.ndarray:
        sims = self._unit_items[watched] @ self._unit_items[cols].T
        return np.where(self._cold[watched][:, None] | self._cold[cols][None, :], -np.inf, sims)

    def item_similarity(self, col: int) -> np.ndarray:
        if self._cold[col]:
            return np.full(self.interactions.n_items, -np.inf, np.float32)
        sims = self._unit_items @ self._unit_items[col]
        return np.where(self._cold, -np.inf, sims).astype(np.float32)
