"""The contract every recommender keeps, and the ranking machinery they share.

A model implements four things over matrix indices: `_fit()`, `score(rows)` (a dense users x items score matrix,
`-inf` where it has no opinion), `explain(row, cols)` (a human-readable reason per pick) and
`item_similarity(col)`. The base class turns those into the public, id-based API: one user on demand
(`recommend`), every user at once (`recommend_batch`, chunked matrix products: what makes a full run fast), and
"more like this" (`similar_items`). Seen items are removed and top-k taken in one place, so every model excludes
and orders the same way.

Like scikit-learn's and cornac's estimators, a model keeps each constructor argument as an attribute of the same
name, so `get_params()` reads them back and `clone(**changes)` builds an unfitted model of the same class with
some of them changed (how the hybrid fits its components, and how the evaluation applies dataset settings).

A fitted model is saved as data, never code (reelmind.recsys.saving): `save()` gives its arrays, JSON and texts,
`Recommender.load(saved)` rebuilds it. Each model declares what fitting learned beyond the data in `_state()` and
takes it back in `_restore(state)`; what can be recomputed quickly and exactly from the data is recomputed there.

A user unknown at fit time is row -1: each model scores it as best it can (popularity; content from stated
interests) or not at all (collaborative filtering), and then returns an empty list rather than failing.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np

from reelmind.recsys.data import Id, Interactions, Items, csr_row

if TYPE_CHECKING:
    from reelmind.recsys.saving import SavedModel

UNKNOWN = -1
# Users scored per matrix product in recommend_batch: 256 users x 10k items x 4 bytes = 10 MB per score matrix,
# small enough for a few per model (the hybrid holds one per component) and large enough to amortise the BLAS call.
BATCH_USERS = 256


@dataclass(frozen=True)
class Recommendation:
    item_id: Id
    score: float
    reason: str  # for people: "because you watched Alien", "matches your interest in space battles"
    source: str  # the model (or, in the hybrid, the component) the pick mostly came from

    def to_dict(self) -> dict:
        return asdict(self)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of each row's k best finite entries, best first; rows with fewer finite entries
    are padded with index -1 and score -inf (callers drop those). Selected by torch.topk, which reads `scores` in
    place and, on this 2-core machine, picks the top 10-100 of 256 x 20k scores 4-6x faster than numpy's
    argpartition (15 ms against 56-88 ms; float64 slower still): selection was a quarter of ranking time."""
    import torch

    n, m = scores.shape
    k = min(k, m)
    if k <= 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), scores.dtype)
    if not (scores.flags.c_contiguous and scores.flags.writeable):
        scores = np.array(scores)  # torch shares only a writable contiguous buffer
    vals, idx = torch.topk(torch.from_numpy(scores), k, dim=1, largest=True, sorted=True)
    vals, idx = vals.numpy(), idx.numpy()
    if np.isnan(vals).any():  # torch ranks NaN first; a NaN is no opinion, like -inf
        return top_k(np.where(np.isnan(scores), -np.inf, scores), k)
    idx = np.where(np.isfinite(vals), idx, -1)
    return idx, vals


def title_of(items: Items, col: int, limit: int = 60) -> str:
    title = items.titles[col] or str(items.ids[col])
    return title if len(title) <= limit else title[:limit - 1] + "…"


class Recommender(ABC):
    """fit once, then recommend for one user, for all users, or items like an item."""

    source: ClassVar[str]
    # Capabilities, readable without fitting: whether a user's own history changes their picks (popularity and
    # random rank the same for everyone), and whether fitting needs the items' text vectors.
    personalised: ClassVar[bool]
    needs_text_vectors: ClassVar[bool] = False
    interactions: Interactions
    items: Items
    user_texts: dict[Id, list[str]]

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The constructor's named parameters: what `get_params` returns and `clone` accepts."""
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return tuple(name for name, p in inspect.signature(cls.__init__).parameters.items()
                     if name != "self" and p.kind in kinds)

    def get_params(self) -> dict[str, object]:
        """The constructor arguments this model was made with (each kept as an attribute of the same name)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def clone(self, **changes: object) -> Self:
        """An unfitted model of the same class and parameters, with `changes` applied. Unchanged parameters are
        copied, so the clone shares nothing mutable (such as the hybrid's component prototypes) with this one."""
        unknown = set(changes) - set(self.param_names())
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter(s) {', '.join(sorted(unknown))}; "
                             f"parameters: {', '.join(self.param_names())}")
        kept = {name: value for name, value in self.get_params().items() if name not in changes}
        return type(self)(**copy.deepcopy(kept), **changes)

    def fit(self, interactions: Interactions, items: Items,
            user_texts: Mapping[Id, Sequence[str]] | None = None) -> Self:
        """Learn from `interactions` over the catalogue `items` (same item order). `user_texts`: a user's own
        words (stated interests, searches, comments); only content-aware models read them."""
        if tuple(interactions.item_ids) != tuple(items.ids):
            raise ValueError("interactions and items must list the same item ids in the same order")
        self.interactions, self.items = interactions, items
        self.user_texts = {u: [t for t in texts if t and t.strip()] for u, texts in (user_texts or {}).items()}
        self._fit()
        return self

    @abstractmethod
    def _fit(self) -> None:
        """Learn from self.interactions / self.items / self.user_texts."""

    def _state(self) -> dict[str, object]:
        """What fitting learned that `_restore` cannot recompute from self.interactions and self.items: arrays,
        sparse matrices, models, `saving.Text` and JSON values, by name. By default nothing: `_restore` refits,
        which suits models whose fit is a few exact array operations."""
        return {}

    def _restore(self, state: dict[str, object]) -> None:
        """Become the fitted model again from the saved data (already set) and `_state()`'s values."""
        self._fit()

    def with_user(self, user_id: Id, cols: np.ndarray, weights: np.ndarray, times: np.ndarray) -> Self:
        """This fitted model seeing `user_id`'s history as (`cols`, `weights`, `times`) instead of what it was
        fitted on (their events since the fit folded in; a user it never saw is added): their seen items are
        excluded and their profile moves at once, while everything learned from everyone else stays as fitted.
        A shallow copy: the model itself is not changed, so requests can share it."""
        model = copy.copy(self)
        model.interactions = self.interactions.with_user(user_id, cols, weights, times)
        model._fold_in(model.interactions.user_index[user_id])
        return model

    def _fold_in(self, row: int) -> None:
        """Update what fitting derived for user `row` from `self.interactions` (already replaced): by default
        nothing, for models that read a user's history only from it. Must not modify shared arrays in place."""
        return None

    def positive_row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of user `row`'s positives in self.interactions (stored zeros, skips, left out)."""
        cols, weights = csr_row(self.interactions.matrix, row)
        return cols[weights > 0], weights[weights > 0]

    def report(self) -> dict:
        """What fitting decided, for people (the evaluation report, the recommend flow's log): by default
        nothing; the hybrid says which of its stages it kept and why."""
        return {}

    def save(self) -> SavedModel:
        """This fitted model as arrays, a JSON document and texts (a `saving.SavedModel`); `user_texts`, read only
        while fitting, are not kept."""
        from reelmind.recsys import saving  # it imports this module

        return saving.save(self)

    @staticmethod
    def load(saved: SavedModel) -> Recommender:
        """The model `saved` holds, rebuilt without running anything from it (see reelmind.recsys.saving)."""
        from reelmind.recsys import saving

        return saving.load(saved)

    @abstractmethod
    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        """(len(rows), n_items) float32 scores, higher = better, -inf = no opinion. Row -1 = unknown user;
        `interests[i]`: extra words from user i right now (a stated interest or a query)."""

    @abstractmethod
    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        """A reason a person can read for each recommended column."""

    @abstractmethod
    def item_similarity(self, col: int) -> np.ndarray:
        """(n_items,) how alike each item is to item `col` (-inf = no opinion)."""

    def explain_with_source(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[tuple[str, str]]:
        """(reason, source) per pick; a single model is its own source (the hybrid names the component)."""
        return [(reason, self.source) for reason in self.explain(row, cols, interests)]

    def similar_reason(self, col: int) -> str:
        return f"similar to {title_of(self.items, col)}"

    # --- Public, id-based API --------------------------------------------------------------------------------

    def recommend(self, user_id: Id, k: int = 10, exclude_seen: bool = True,
                  interests: str | None = None) -> list[Recommendation]:
        """The top k for one user (on demand). Unknown users get what the model can give, possibly nothing."""
        row = self.interactions.user_index.get(user_id, UNKNOWN)
        return self._recommend_rows(np.array([row]), k, exclude_seen, [interests], None)[0]

    def recommend_batch(self, user_ids: Sequence[Id], k: int = 10, exclude_seen: bool = True,
                        candidates: Sequence[Id] | None = None,
                        interests: Mapping[Id, str] | None = None) -> dict[Id, list[Recommendation]]:
        """The top k for many users, BATCH_USERS at a time. `candidates`: rank only these items (the evaluation
        ranks warm and cold items separately); `interests`: per-user extra words, as in `recommend`."""
        mask = None
        if candidates is not None:
            mask = np.zeros(self.interactions.n_items, bool)
            mask[[self.items.index[i] for i in candidates]] = True
        user_ids = list(user_ids)
        out: dict[Id, list[Recommendation]] = {}
        for start in range(0, len(user_ids), BATCH_USERS):
            chunk = user_ids[start:start + BATCH_USERS]
            rows = np.array([self.interactions.user_index.get(u, UNKNOWN) for u in chunk])
            said = [interests.get(u) for u in chunk] if interests else [None] * len(chunk)
            for user_id, recs in zip(chunk, self._recommend_rows(rows, k, exclude_seen, said, mask)):
                out[user_id] = recs
        return out

    def similar_items(self, item_id: Id, k: int = 10) -> list[Recommendation]:
        """Items most like `item_id`, never itself; empty for an unknown item or one the model knows nothing of."""
        col = self.items.index.get(item_id)
        if col is None:
            return []
        sims = np.asarray(self.item_similarity(col), np.float32).copy()
        sims[col] = -np.inf
        idx, vals = top_k(sims[None, :], k)
        reason = self.similar_reason(col)
        return [Recommendation(self.items.ids[c], float(v), reason, self.source)
                for c, v in zip(idx[0], vals[0]) if c >= 0]

    # --- Shared machinery ------------------------------------------------------------------------------------

    def mask_scores(self, rows: np.ndarray, scores: np.ndarray, exclude_seen: bool,
                    candidates: np.ndarray | None) -> np.ndarray:
        """Set seen items (for known users) and non-candidates to -inf, in place."""
        if candidates is not None:
            scores[:, ~candidates] = -np.inf
        if exclude_seen:
            m = self.interactions.matrix
            known = np.flatnonzero(rows >= 0)
            if len(known):
                sub = m[rows[known]]
                scores[np.repeat(known, np.diff(sub.indptr)), sub.indices] = -np.inf
        return scores

    def rank(self, rows: np.ndarray, k: int, exclude_seen: bool, interests: Sequence[str | None],
             candidates: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The picks per user, best first: scores, seen items and non-candidates masked, top k. The hybrid
        overrides it (two stages sharing one pass over its components, then diversity)."""
        scores = self.mask_scores(rows, self.score(rows, interests), exclude_seen, candidates)
        idx, vals = top_k(scores, k)
        return [(i[i >= 0], v[i >= 0]) for i, v in zip(idx, vals)]

    def _recommend_rows(self, rows: np.ndarray, k: int, exclude_seen: bool, interests: Sequence[str | None],
                        candidates: np.ndarray | None) -> list[list[Recommendation]]:
        if k <= 0:
            return [[] for _ in rows]
        out = []
        for row, said, (cols, vals) in zip(rows, interests, self.rank(rows, k, exclude_seen, interests, candidates)):
            reasons = self.explain_with_source(int(row), cols, said) if len(cols) else []
            out.append([Recommendation(self.items.ids[c], float(v), reason, source)
                        for c, v, (reason, source) in zip(cols, vals, reasons)])
        return out
