"""Content-based recommendations: a user's interest profile, compared with every item's vectors.

The profile is the weighted mean of the vectors of what the user interacted with (weights from the events,
halved every `half_life_days`: by default half the log's span), plus the embedding of the user's own words:
stated interests ("I like sci-fi with space battles"), search queries, comments. Items are their text vector (the
merged document) joined with a down-weighted visual vector where there is one. Because it needs no interactions
on the item side, this is the model that reaches cold items, and, from stated interests alone, new users.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from reelmind.recsys.base import Recommender, title_of
from reelmind.recsys.data import AUTO, PROFILE_HALF_LIFE_SHARE, csr_row, recency_decay, replace_row, resolve_half_life
from reelmind.vectors import l2_normalise

# The user's own words count like this many average watched items (they are explicit, but short).
INTEREST_WEIGHT = 1.0
# The visual part of an item vector: a supporting signal (EfficientNet features are not about topics).
VISUAL_WEIGHT = 0.3
DEFAULT_TEXT_BACKEND = "multilingual-e5-small"
# Distinct word lists whose embeddings are kept (1.5 KB each): the recent requests' interests and queries.
EMBED_CACHE_SIZE = 4096


class ContentRecommender(Recommender):
    source = "content"
    personalised = True
    needs_text_vectors = True

    def __init__(self, half_life_days: float | str | None = AUTO, interest_weight: float = INTEREST_WEIGHT,
                 visual_weight: float = VISUAL_WEIGHT, text_backend: str = DEFAULT_TEXT_BACKEND,
                 text_model: str = ""):
        self.half_life_days, self.interest_weight, self.visual_weight = half_life_days, interest_weight, visual_weight
        self.text_backend, self.text_model = text_backend, text_model

    def _fit(self) -> None:
        self._derive()
        self.interest = np.zeros_like(self.history)
        self.interest_text: dict[int, str] = {}
        for user, texts in self.user_texts.items():
            row = self.interactions.user_index.get(user)
            if row is not None and texts:
                self.interest[row] = self._embed_words(texts)
                self.interest_text[row] = texts[-1]

    def _derive(self) -> None:
        """Item vectors and history profiles: a few exact array operations on the items and interactions."""
        items = self.items
        if items.text_vectors is None:
            raise ValueError("the content model needs item text vectors")
        parts = [items.text_vectors]
        if items.visual_vectors is not None and self.visual_weight > 0:
            parts.append(self.visual_weight * items.visual_vectors)
        self.V = l2_normalise(np.hstack(parts)).astype(np.float32)
        self.text_dim = items.text_vectors.shape[1]
        inter = self.interactions
        X = inter.positive()
        # matrix and last_seen share one structure, and eliminate_zeros keeps order: the mask lines them up
        ages = inter.now - inter.last_seen.data[inter.matrix.data > 0]
        half_life = resolve_half_life(self.half_life_days, inter, PROFILE_HALF_LIFE_SHARE)
        weights = sparse.csr_matrix((X.data * recency_decay(ages, half_life), X.indices, X.indptr),
                                    X.shape, dtype=np.float32)
        self.history = l2_normalise(np.asarray(weights @ self.V, np.float32))
        self.X = weights

    def _fold_in(self, row: int) -> None:
        """The user's history profile from their row as it is now; item vectors and others' profiles as fitted."""
        inter = self.interactions
        m = inter.matrix
        start, end = m.indptr[row], m.indptr[row + 1]
        cols, weights, times = m.indices[start:end], m.data[start:end], inter.last_seen.data[start:end]
        keep = weights > 0
        half_life = resolve_half_life(self.half_life_days, inter, PROFILE_HALF_LIFE_SHARE)
        decayed = (weights[keep] * recency_decay(inter.now - times[keep], half_life)).astype(np.float32)
        self.X = replace_row(self.X, row, cols[keep], decayed)
        profile = l2_normalise((decayed @ self.V[cols[keep]])[None, :])[0] if keep.any() else \
            np.zeros(self.V.shape[1], np.float32)
        grow = row - len(self.history) + 1
        self.history = np.vstack([self.history, np.zeros((max(grow, 0), self.V.shape[1]), np.float32)])
        self.history[row] = profile
        if grow > 0:
            self.interest = np.vstack([self.interest, np.zeros((grow, self.interest.shape[1]), np.float32)])

    def _state(self) -> dict[str, object]:
        """The embedded words of each user (embedding them again needs the text model); their latest words, for
        reasons."""
        return {"interest": self.interest, "interest_rows": list(self.interest_text),
                "interest_texts": list(self.interest_text.values())}

    def _restore(self, state: dict[str, object]) -> None:
        self._derive()
        self.interest = state["interest"]
        self.interest_text = dict(zip(state["interest_rows"], state["interest_texts"]))

    def _embed_words(self, texts: Sequence[str]) -> np.ndarray:
        words = _embed_queries(self.text_backend, self.text_model, tuple(texts))
        return np.concatenate([words, np.zeros(self.V.shape[1] - self.text_dim, np.float32)])

    def profiles(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        out = np.zeros((len(rows), self.V.shape[1]), np.float32)
        known = rows >= 0
        out[known] = self.history[rows[known]] + self.interest_weight * self.interest[rows[known]]
        for i, said in enumerate(interests or []):
            if said and said.strip():
                out[i] += self.interest_weight * self._embed_words([said])
        return out

    def score(self, rows: np.ndarray, interests: Sequence[str | None] | None = None) -> np.ndarray:
        profiles = self.profiles(rows, interests)
        scores = (l2_normalise(profiles) @ self.V.T).astype(np.float32)
        scores[~np.any(profiles != 0, axis=1)] = -np.inf  # nothing known about this user: no opinion
        return scores

    def explain(self, row: int, cols: np.ndarray, interests: str | None = None) -> list[str]:
        watched = csr_row(self.X, row)[0] if row >= 0 else np.array([], int)
        said = interests or (self.interest_text.get(row) if row >= 0 else None)
        said_vec = self.profiles(np.array([-1]), [said])[0] if interests else \
            (self.interest[row] if row >= 0 and said else None)
        cols = np.asarray(cols, np.int64)
        by_history = self.V[watched] @ self.V[cols].T if len(watched) else np.full((1, len(cols)), -np.inf)
        by_words = l2_normalise(said_vec) @ self.V[cols].T if said_vec is not None and said else \
            np.full(len(cols), -np.inf)
        closest = by_history.argmax(axis=0)
        return [f"matches your interest in \u201c{_short(said)}\u201d" if words >= history.max() else
                f"matches your interest in {title_of(self.items, watched[best])}"
                for words, history, best in zip(by_words, by_history.T, closest)]

    def closest_watched(self, rows: np.ndarray, cols: np.ndarray, recent: list[np.ndarray]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Per (user, candidate column): cosine of the candidate to the closest item the user watched, and to the
        closest of `recent[u]` (the columns of their latest positives); NaN for a user with no history."""
        closest = np.full(cols.shape, np.nan, np.float32)
        latest = np.full(cols.shape, np.nan, np.float32)
        for u, row in enumerate(rows):
            watched = csr_row(self.X, row)[0] if row >= 0 else ()
            if len(watched):
                sims = self.V[cols[u]] @ self.V[watched].T
                closest[u] = sims.max(axis=1)
                lately = np.isin(watched, recent[u])
                if lately.any():
                    latest[u] = sims[:, lately].max(axis=1)
        return closest, latest

    def item_similarity(self, col: int) -> np.ndarray:
        return (self.V @ self.V[col]).astype(np.float32)

    def similar_reason(self, col: int) -> str:
        return f"about the same things as {title_of(self.items, col)}"


@functools.lru_cache(maxsize=EMBED_CACHE_SIZE)
def _embed_queries(backend: str, model: str, texts: tuple[str, ...]) -> np.ndarray:
    """The normalised mean embedding of a user's words. Cached: one request embeds the same words for scoring,
    re-ranking and explaining (5 times, ~6 ms each), and a user's stated interests repeat across requests."""
    from reelmind import registry

    vectors = registry.load("text", backend, model).embed_queries(list(texts))
    words = l2_normalise(vectors.mean(axis=0))
    words.setflags(write=False)  # shared between callers
    return words


def forget_embedded_words() -> None:
    """Drop every cached embedding of users' words (a user has been forgotten): the cache is keyed by the words, not
    by who said them, so one user's entries cannot be picked out."""
    _embed_queries.cache_clear()


def _short(text: str, limit: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
