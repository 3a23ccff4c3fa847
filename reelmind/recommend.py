"""The product side of recommendations: LanceDB in (videos, events), LanceDB out (`recommendations`).

- `load_catalog`: every committed video as an `Items` row: title, merged document, text and visual vectors;
- `load_feedback`: the event log as implicit-feedback `Interactions` (weights from event type and watch fraction,
  times for recency) plus each user's own words (comments, searches) for the interest profile;
- `fit`: a recommender from `reelmind.recsys.registry`, saved to the data folder so on-demand requests reuse it;
- `write_recommendations`: the top k of every active user, replacing the previous run's rows in one commit (a
  table overwrite is a single new LanceDB version: readers see the old rows or the new ones, never a mix);
- `recommend_for`: a user's stored picks when the last run stored at least as many as asked for, else picks
  computed on demand from the saved model.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from reelmind.config import Settings
from reelmind.events import load_events
from reelmind.files import atomic_path
from reelmind.records import TEXT_EVENTS, RecommendationRecord
from reelmind.recsys import registry
from reelmind.recsys.data import Interactions, Items, event_weight
from reelmind.store import Store, sql_str

MODEL_FILE = "recommender.pkl"
# A user is active when they did anything in this many days before the newest event in the log.
ACTIVE_DAYS = 30
DAY_S = 86_400

@dataclass(frozen=True)
class FittedModel:
    """What the recommend flow saves: the fitted model and what it was fitted on."""
    model: object
    version: str
    active_users: tuple[str, ...]
    fitted_at: datetime


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
        if e["text"] and e["event"] in TEXT_EVENTS:
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
    recommender = registry.make(model).fit(interactions, items, user_texts=texts)
    digest = hashlib.sha256(repr((model, items.ids, interactions.matrix.nnz, interactions.now)).encode())
    fitted = FittedModel(recommender, f"{model}-{digest.hexdigest()[:10]}", active, datetime.now(UTC))
    with atomic_path(model_path(settings)) as tmp:  # an on-demand reader sees the old model or the new one
        tmp.write_bytes(pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
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
    now = datetime.now(UTC)
    rows = [RecommendationRecord(str(user), rank, r.item_id, float(r.score), r.reason, r.source, fitted.version, now)
            for user, picks in recs.items() for rank, r in enumerate(picks, 1)]
    store.replace(RecommendationRecord, rows)
    return len(rows)


def stored_recommendations(store: Store, user_id: str, k: int | None) -> list[dict]:
    rows = store.rows(RecommendationRecord, where=f"user_id = {sql_str(user_id)}")
    return sorted(rows, key=lambda r: r["rank"])[:k] if k else sorted(rows, key=lambda r: r["rank"])


def recommend_for(settings: Settings, user_id: str, k: int = 10, interests: str | None = None) -> list[dict]:
    """The stored picks of the last run when it stored at least k for this user; otherwise (a user it did not
    cover, new stated interests, or more picks than the run stored) picks computed now from the saved model, which
    are fewer than k only when the catalogue runs out (a new user gets popularity plus their interests)."""
    store = Store.open(settings.db)
    if not interests:
        stored = stored_recommendations(store, user_id, k)
        if len(stored) == k:
            return [{**r, "computed": "stored"} for r in stored]
    fitted = load_fitted(settings) or fit(settings)
    picks = fitted.model.recommend(user_id, k=k, interests=interests)
    return [{"user_id": user_id, "rank": rank, "video_id": r.item_id, "score": float(r.score), "reason": r.reason,
             "source": r.source, "model_version": fitted.version, "computed": "on demand"}
            for rank, r in enumerate(picks, 1)]
