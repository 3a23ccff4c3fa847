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


def test_the_pool_merges_the_sources_and_adds_the_best_new_items(monkeypatch):
    monkeypatch.setattr(rerank, "POOL_PER_SOURCE", 2)
    monkeypatch.setattr(rerank, "NEW_ITEM_POOL", 1)
    inf = np.inf
    raw = {"ease": np.array([[9.0, 0.0, 8.0, 7.0, -inf, -inf, 10.0]]),
           "als": np.array([[5.0, 4.0, 3.0, 0.0, -inf, -inf, 6.0]]),
           "content": np.array([[0.0, 0.0, 0.0, 0.0, 0.3, 0.9, 1.0]])}
    allowed = np.array([[True] * 6 + [False]])  # item 6 is seen
    is_new = np.array([False, False, False, False, True, True, True])
    cols = rerank.pool(raw, allowed, is_new)
    # EASE's best allowed 0, 2; ALS's 0, 1; content's 5, 4; the best allowed new item by content: 5
    assert cols.tolist() == [[0, 1, 2, 4, 5]]
    two = rerank.pool({name: np.vstack([r, r]) for name, r in raw.items()},
                      np.array([[True] * 6 + [False], [False] * 2 + [True] * 5]), is_new)
    assert two[0].tolist() == [0, 1, 2, 4, 5] and two[1].tolist() == [2, 5, 6, -1, -1]
    assert rerank.gather(raw["als"], np.array([[1, -1]])).tolist() == [[4.0, -inf]]


def test_places_are_each_entrys_place_in_its_row():
    scores = np.array([[3.0, 1.0, 2.0, -np.inf], [0.0, 5.0, 4.0, 1.0]])
    places = rerank.places(scores)
    assert places[0, :3].tolist() == [0, 2, 1] and np.isnan(places[0, 3])
    assert places[1].tolist() == [3, 0, 1, 2]


def planted_tastes(n_users: int = 240, per_taste: int = 50, tastes: int = 4, seed: int = 0, new_per_taste: int = 0):
    """Each user likes one of `tastes` groups of items (their vectors say which) and watched 24 of its items and
    3 others: the right picks for a user are the unwatched items of their group. The last `new_per_taste` items
    of each group are new: nobody watched them."""
    rng = np.random.default_rng(seed)
    n_items = per_taste * tastes
    group = np.repeat(np.arange(tastes), per_taste)
    vectors = np.eye(8, dtype=np.float32)[group] + 0.1 * rng.standard_normal((n_items, 8)).astype(np.float32)
    items = Items([f"i{j}" for j in range(n_items)], [f"item {j}" for j in range(n_items)],
                  [f"group {g}" for g in group], text_vectors=vectors)
    taste = rng.integers(0, tastes, n_users)
    old = np.arange(n_items) % per_taste < per_taste - new_per_taste
    records = []
    for u in range(n_users):
        mine = rng.choice(np.flatnonzero((group == taste[u]) & old), 24, replace=False)
        other = rng.choice(np.flatnonzero((group != taste[u]) & old), 3, replace=False)
        for t, j in enumerate(np.concatenate([mine, other])):
            records.append((f"u{u}", f"i{j}", 1.0, 1_700_000_000 + (u + t) * DAY))
    return Interactions.from_records(records, item_ids=items.ids), items, taste, group


def test_the_recent_features_tell_what_a_user_is_into_now_from_their_whole_history():
    """A user who watched 20 items of taste 0 long ago and 5 of taste 1 lately: an unwatched taste-1 item owes
    its EASE score and its content match to their latest positives, a taste-0 item does not (RECENT_ITEMS is 5)."""
    from reelmind.recsys.cf import EASERecommender
    from reelmind.recsys.content import ContentRecommender

    inter, items, _taste, group = planted_tastes(n_users=160)
    then, lately = np.flatnonzero(group == 0)[:20], np.flatnonzero(group == 1)[:5]
    cols = np.concatenate([then, lately])
    times = np.concatenate([1_600_000_000 + DAY * np.arange(20), 1_700_000_000 + DAY * np.arange(5)])
    inter = inter.with_user("drifter", cols, np.ones(25), times)
    row = inter.user_index["drifter"]
    models = {"ease": EASERecommender(l2=10.0).fit(inter, items), "content": ContentRecommender().fit(inter, items)}
    candidates = np.array([[np.flatnonzero(group == 0)[30], np.flatnonzero(group == 1)[30]]])
    static = rerank.static_features(models, np.array([row]), candidates, inter.item_counts(),
                                    np.diff(inter.positive().indptr))
    recent_link = static[0, :, rerank.STATIC.index("recent_link")]
    recent_text = static[0, :, rerank.STATIC.index("closest_recent_text")]
    closest_text = static[0, :, rerank.STATIC.index("closest_watched_text")]
    assert recent_link[1] > recent_link[0] and recent_text[1] > recent_text[0] + 0.5
    assert abs(closest_text[1] - closest_text[0]) < 0.2  # the whole history matches both tastes alike
    newcomer = rerank.static_features(models, np.array([-1]), candidates, inter.item_counts(),
                                      np.diff(inter.positive().indptr))
    assert np.isnan(newcomer[0, :, [rerank.STATIC.index("recent_link"),
                                    rerank.STATIC.index("closest_recent_text")]]).all()  # no history: no opinion


@pytest.fixture(scope="module")
def planted():
    inter, items, taste, group = planted_tastes(n_users=160)
    return HybridRecommender(gate_stages=False).fit(inter, items), inter, taste, group


def test_each_stage_is_kept_only_when_it_beats_its_baseline_by_more_than_the_noise(planted):
    """The hybrid measures its fusion against the best single component, and its ranker against the first stage,
    on held-out validation draws; what it decided (and why) is in its report and survives saving."""
    model = planted[0]
    report = model.report()
    assert report["validation"]["draws"] == 3 and report["validation"]["users"] > 0
    fusion, ranker = report["stages"]["fusion"], report["stages"]["ranker"]
    for stage in (fusion, ranker):
        assert stage["why"] and stage["kept"]  # kept whatever validation says (gate_stages=False) ...
        assert isinstance(stage["gain"], float) and stage["noise"] >= 0  # ... and measured all the same
    assert model.ranker is not None and ranker["trees"] in rerank.TREE_COUNTS
    saved = model.save()
    again = Recommender.load(SavedModel.from_parts(saved.document_json(), saved.npz(), saved.texts_json()))
    assert again.report() == report


def test_the_gate_keeps_a_stage_only_for_gains_larger_than_the_noise_between_draws():
    hybrid = HybridRecommender()
    baseline = np.full(3, 0.30)
    assert hybrid._gate(np.array([0.31, 0.32, 0.315]), baseline)["kept"]  # consistent gains
    assert not hybrid._gate(np.array([0.30, 0.36, 0.27]), baseline)["kept"]  # a gain on average, within the noise
    assert not hybrid._gate(np.full(3, 0.29), baseline)["kept"]
    assert HybridRecommender(gate_stages=False)._gate(np.full(3, 0.29), baseline)["kept"]


def test_the_ranker_is_trained_and_recommends_the_planted_taste(planted):
    model, inter, taste, group = planted
    assert model.ranker is not None
    importance = model.report()["stages"]["ranker"]["importance"]
    assert set(importance) == set(rerank.feature_names(list(model.components)))
    assert abs(sum(importance.values()) - 1) < 0.01
    users = [f"u{u}" for u in range(0, 160, 5)]
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
