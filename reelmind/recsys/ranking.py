"""The one path from data to lists: what `reelmind evaluate`, `reelmind recommend-offline` and the recommend flow
all call, so the evaluation measures the code that serves users.

`fit(name, interactions, items, user_texts)` makes the registered model and fits it; `rank(model, users, k)` is
every user's top k over the full catalogue (new items included, a user's own items never), in chunks of users
(`Recommender.recommend_batch`). Item text is built in one place (`reelmind.recsys.data.item_document`) and
embedded here (`with_text_vectors`) when the caller has no vectors (the product's catalogue has its own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from reelmind.files import atomic_path
from reelmind.recsys import registry
from reelmind.recsys.base import Recommendation, Recommender
from reelmind.recsys.data import Id, Interactions, Items

# Texts embedded per call of the text model: its batch, large enough to amortise a call and small enough to
# keep a batch's activations in a few hundred MB.
EMBED_BATCH = 256


def embed_items(texts: Sequence[str], cache_dir: str | Path) -> np.ndarray:
    """Item text vectors with the default text model, cached by content (9.7k texts take about a minute)."""
    from reelmind import registry as backends

    model = backends.load("text", "multilingual-e5-small")
    key = hashlib.sha256(("\n".join(texts) + model.model_id).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"item-vectors-{key}.npy"
    if path.is_file():
        return np.load(path)
    vectors = np.concatenate([model.embed_passages(list(texts[i:i + EMBED_BATCH]))
                              for i in range(0, len(texts), EMBED_BATCH)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.save(tmp, vectors)
    return vectors


def with_text_vectors(items: Items, cache_dir: str | Path | None = None) -> Items:
    """`items` with text vectors: its own when it has them, else its texts embedded (cached under `cache_dir`,
    by default the settings' cache folder)."""
    if items.text_vectors is not None:
        return items
    if cache_dir is None:
        from reelmind.config import load_settings

        cache_dir = Path(load_settings().cache_dir) / "embeddings"
    return items.with_vectors(text_vectors=embed_items(items.texts, cache_dir))


def fit(name: str, interactions: Interactions, items: Items,
        user_texts: Mapping[Id, Sequence[str]] | None = None) -> Recommender:
    """The registered model `name`, with its registered parameters, fitted on everything given."""
    return registry.make(name).fit(interactions, items, user_texts)


def rank(model: Recommender, users: Sequence[Id], k: int) -> dict[Id, list[Recommendation]]:
    """Each user's top k over the full catalogue, as served (new items included, their own items excluded)."""
    return model.recommend_batch(list(users), k=k)


def fit_and_rank(name: str, interactions: Interactions, items: Items, users: Sequence[Id], k: int,
                 user_texts: Mapping[Id, Sequence[str]] | None = None
                 ) -> tuple[Recommender, dict[Id, list[Recommendation]]]:
    model = fit(name, interactions, items, user_texts)
    return model, rank(model, users, k)
