"""The product side of recommendations: LanceDB in (videos, events), LanceDB out (`recommendations`).

- `load_catalog`: every committed video as an `Items` row: title, merged document, text and visual vectors;
- `load_feedback`: the event log as implicit-feedback `Interactions` (weights from event type and watch fraction,
  times for recency) plus each user's own words (comments, searches) for the interest profile;
- `fit`: a recommender from `reelmind.recsys`, saved to the data folder so on-demand requests reuse it;
- `write_recommendations`: the top N of every active user, replacing the previous run's rows in one commit (a
  table overwrite is a single new LanceDB version: readers see the old rows or the new ones, never a mix).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from reelmind.config import Settings
from reelmind.events import load_events
from reelmind.recsys.data import Interactions, Items, event_weight
from reelmind.store import Store

MODEL_FILE = "recommender.pkl"
# Picks per user the recommend flow stores (flows.recommend.TOP_N); fewer stored means the catalogue ran out.
TOP_N_STORED = 20
# A user is active when they did anything in this many days before the newest event in the log.
ACTIVE_DAYS = 30
DAY_S = 86_400

RECOMMENDATIONS_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("rank", pa.int32()), ("video_id", pa.string()), ("score", pa.float32()),
    ("reason", pa.string()), ("source", pa.string()), ("model_version", pa.string()),
    ("generated_at", pa.timestamp("us", tz="UTC")),
])


@dataclass(frozen=True)
class FittedModel:
    """What the recommend flow saves: the fitted model and what it was fitted on."""
    model: object
    version: str
    active_users: tuple[str, ...]
    fitted_at: datetime


MODELS = {"popularity": "reelmind.recsys.popularity:PopularityRecommender",
          "cf": "reelmind.recsys.cf:EASERecommender",
          "content": "reelmind.recsys.content:ContentRecommender",
          "hybrid": "reelmind.recsys.hybrid:HybridRecommender"}


def model_class(name: str) -> type:
    import importlib

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; models: {', '.join(MODELS)}")
    module, _, cls = MODELS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def load_catalog(store: Store) -> Items:
    rows = sorted(store.videos(["id", "title", "document", "text_vector", "visual_vector", "ingested_at"]),
                  key=lambda r: r["id"])
    if not rows:
        raise ValueError(f"no videos in {store.uri}: ingest some first")
    visual_dim = next((len(r["visual_vector"]) for r in rows if r["visual_vector"] is not None), 0)
    visual = None
    if visual_dim:
        # Audio-only items have no picture: a zero visual vector is "no opinion" to a cosine.
        visual = np.array([r["visual_vector"] if r["visual_vector"] is not None else np.zeros(visual_dim)
                           for r in rows], dtype=np.float32)
    return Items(ids=[r["id"] for r in rows], titles=[r["title"] for r in rows],
                 texts=[r["document"] or r["title"] for r in rows],
                 text_vectors=np.array([r["text_vector"] for r in rows], dtype=np.float32), visual_vectors=visual,
                 created_at=np.array([r["ingested_at"].timestamp() for r in rows]))


def load_feedback(store: Store, items: Items) -> tuple[Interactions, dict[str, list[str]], tuple[str, ...]]:
    """(interactions, each user's own words, active users). Events on videos no longer stored are left out."""
    events = sorted(load_events(store), key=lambda e: e["timestamp"])
    records, texts = [], {}
    users = list(dict.fromkeys(e["user_id"] for e in events))
    for e in events:
        if e["text"] and e["event"] in ("comment", "search"):
            texts.setdefault(e["user_id"], []).append(e["text"])
        if e["video_id"] and e["video_id"] in items.index:
            weight = event_weight(e["event"], e["watch_fraction"])
            records.append((e["user_id"], e["video_id"], weight, e["timestamp"].timestamp()))
    interactions = Interactions.from_records(records, item_ids=items.ids, user_ids=users)
    newest = events[-1]["timestamp"].timestamp() if events else 0.0
    active = tuple(dict.fromkeys(e["user_id"] for e in events
                                 if e["timestamp"].timestamp() >= newest - ACTIVE_DAYS * DAY_S))
    return interactions, texts, active


def model_path(settings: Settings) -> Path:
    return settings.resolved_data_dir() / "models" / MODEL_FILE


def fit(settings: Settings, model: str = "hybrid") -> FittedModel:
    store = Store.open(settings.db)
    items = load_catalog(store)
    interactions, texts, active = load_feedback(store, items)
    if interactions.n_users == 0:
        model = "popularity"  # no events yet: nothing to personalise, and nobody to write picks for
    recommender = model_class(model)().fit(interactions, items, user_texts=texts)
    digest = hashlib.sha256(repr((model, items.ids, interactions.matrix.nnz, interactions.now)).encode())
    fitted = FittedModel(recommender, f"{model}-{digest.hexdigest()[:10]}", active, datetime.now(timezone.utc))
    path = model_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(fitted, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)  # atomic: an on-demand reader sees the old model or the new one
    return fitted


_loaded: dict[str, tuple[float, FittedModel]] = {}


def load_fitted(settings: Settings) -> FittedModel | None:
    """The last saved model, loaded once per process (and again only when the flow saved a newer one)."""
    path = model_path(settings)
    if not path.is_file():
        return None
    mtime = path.stat().st_mtime
    cached = _loaded.get(str(path))
    if cached is None or cached[0] != mtime:
        with path.open("rb") as f:
            cached = (mtime, pickle.load(f))
        _loaded[str(path)] = cached
    return cached[1]


def write_recommendations(store: Store, fitted: FittedModel, k: int) -> int:
    recs = fitted.model.recommend_batch(list(fitted.active_users), k=k) if fitted.active_users else {}
    now = datetime.now(timezone.utc)
    rows = [{"user_id": str(user), "rank": rank, "video_id": r.item_id, "score": float(r.score),
             "reason": r.reason, "source": r.source, "model_version": fitted.version, "generated_at": now}
            for user, picks in recs.items() for rank, r in enumerate(picks, 1)]
    store.replace_table("recommendations", pa.Table.from_pylist(rows, schema=RECOMMENDATIONS_SCHEMA))
    return len(rows)


def stored_recommendations(store: Store, user_id: str, k: int | None) -> list[dict]:
    table = store.table("recommendations")
    if table is None:
        return []
    safe = user_id.replace("'", "''")
    rows = table.search().where(f"user_id = '{safe}'").limit(None).to_list()
    return sorted(rows, key=lambda r: r["rank"])[:k] if k else sorted(rows, key=lambda r: r["rank"])


def recommend_for(settings: Settings, user_id: str, k: int = 10, interests: str | None = None) -> list[dict]:
    """The stored picks of the last run, or, for a user it did not cover or with new stated interests, picks
    computed now from the saved model (a new user gets popularity plus their interests)."""
    store = Store.open(settings.db)
    if not interests:
        stored = stored_recommendations(store, user_id, k=None)
        # enough stored picks, or all the last run could give this user (the catalogue ran out)
        if stored and (len(stored) >= k or len(stored) < TOP_N_STORED):
            return [{**r, "computed": "stored"} for r in stored[:k]]
    fitted = load_fitted(settings) or fit(settings)
    picks = fitted.model.recommend(user_id, k=k, interests=interests)
    return [{"user_id": user_id, "rank": rank, "video_id": r.item_id, "score": float(r.score), "reason": r.reason,
             "source": r.source, "model_version": fitted.version, "computed": "on demand"}
            for rank, r in enumerate(picks, 1)]
