"""The hybrid's learned second stage: candidate pooling, rank features, and a ranker trained on a planted answer."""

from __future__ import annotations

import numpy as np
import pytest

from reelmind.recsys import rerank
from reelmind.recsys.base import Recommender
from reelmind.recsys.data import Interactions, Items
from reelmind.recsys.hybrid import HybridRecommender
from reelmind.recsys.saving import SavedModel

DAY = 86_400.0


def test_candidates_merge_the_sources_and_add_the_best_new_items(monkeypatch):
    monkeypatch.setattr(rerank, "CANDIDATES", 2)
    monkeypatch.setattr(rerank, "NEW_ITEM_CANDIDATES", 1)
    inf = np.inf
    fused = np.array([[5.0, 4.0, 3.0, 0.0, 0.1, 0.2, -inf]])  # item 6 is not allowed (seen)
    raw = {"ease": np.array([[9.0, 0.0, 8.0, 7.0, -inf, -inf, 10.0]]),
           "content": np.array([[0.0, 0.0, 0.0, 0.0, 0.3, 0.9, 1.0]])}
    is_new = np.array([False, False, False, False, True, True, True])
    cols = rerank.candidates(fused, raw, is_new)
    # first stage 0, 1; EASE's best allowed 0, 2 (6 is seen); the best allowed new item by content: 5
    assert cols.tolist() == [[0, 1, 2, 5]]


def test_ranks_are_places_in_the_users_own_ranking():
    scores = np.array([[3.0, 1.0, 2.0, -np.inf], [0.0, 5.0, 5.0, 1.0]])
    places = rerank.ranks(scores, np.array([[0, 1, 2, 3], [3, 1, 2, 0]]))
    assert places[0, :3].tolist() == [0, 2, 1] and np.isnan(places[0, 3])
    assert places[1].tolist() == [2, 0, 0, 3]


def planted_tastes(n_users: int = 240, per_taste: int = 50, tastes: int = 4, seed: int = 0):
    """Each user likes one of `tastes` groups of items (their vectors say which) and watched 24 of its items and
    3 others: the right picks for a user are the unwatched items of their group."""
    rng = np.random.default_rng(seed)
    n_items = per_taste * tastes
    group = np.repeat(np.arange(tastes), per_taste)
    vectors = np.eye(8, dtype=np.float32)[group] + 0.1 * rng.standard_normal((n_items, 8)).astype(np.float32)
    items = Items([f"i{j}" for j in range(n_items)], [f"item {j}" for j in range(n_items)],
                  [f"group {g}" for g in group], text_vectors=vectors)
    taste = rng.integers(0, tastes, n_users)
    records = []
    for u in range(n_users):
        mine = rng.choice(np.flatnonzero(group == taste[u]), 24, replace=False)
        other = rng.choice(np.flatnonzero(group != taste[u]), 3, replace=False)
        for t, j in enumerate(np.concatenate([mine, other])):
            records.append((f"u{u}", f"i{j}", 1.0, 1_700_000_000 + (u + t) * DAY))
    return Interactions.from_records(records, item_ids=items.ids), items, taste, group


@pytest.fixture(scope="module")
def planted():
    inter, items, taste, group = planted_tastes()
    return HybridRecommender().fit(inter, items), inter, taste, group


def test_the_ranker_is_trained_and_recommends_the_planted_taste(planted):
    model, inter, taste, group = planted
    assert model.ranker is not None
    importance = model.tuning["ranker"]["importance"]
    assert set(importance) == set(rerank.feature_names(list(model.components)))
    assert abs(sum(importance.values()) - 1) < 0.01
    users = [f"u{u}" for u in range(0, 240, 8)]
    recs = model.recommend_batch(users, k=10)
    on_taste = [np.mean([group[int(r.item_id[1:])] == taste[int(u[1:])] for r in recs[u]]) for u in users]
    assert np.mean(on_taste) >= 0.9
    for u in users:
        seen = {inter.item_ids[c] for c in inter.matrix[inter.user_index[u]].indices}
        assert len(recs[u]) == 10 and not seen & {r.item_id for r in recs[u]}
        assert all(r.reason for r in recs[u])


def test_the_ranked_hybrid_is_saved_with_its_ranker_as_text_and_serves_new_users(planted):
    model = planted[0]
    saved = model.save()  # as the recommend flow stores it: the ranker in LightGBM's own text format
    assert [text[:5] for text in saved.texts.values()] == ["tree\n"]
    again = Recommender.load(SavedModel.from_parts(saved.document_json(), saved.npz(), saved.texts_json()))
    assert again.ranker is not None and again.ranker.feature_names == model.ranker.feature_names
    for user in ("u3", "u10"):
        mine, theirs = model.recommend(user, k=10), again.recommend(user, k=10)
        assert [r.item_id for r in theirs] == [r.item_id for r in mine]
        assert np.allclose([r.score for r in theirs], [r.score for r in mine])
    stranger = model.recommend("someone new", k=5)  # no history: the first stage's popularity route
    assert len(stranger) == 5 and all(r.reason.startswith("popular") for r in stranger)


def test_too_little_validation_data_keeps_the_linear_fusion():
    inter, items, _, _ = planted_tastes(n_users=12)
    assert HybridRecommender().fit(inter, items).ranker is None
