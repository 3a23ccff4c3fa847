"""Exploration chosen on the hybrid's validation draws: how a draw's list is served with it, and what the fitted
model decides and keeps."""

from __future__ import annotations

import numpy as np
import pytest

from reelmind.recsys import rerank
from reelmind.recsys.base import Recommender
from reelmind.recsys.hybrid import EXPLORE_QUANTILES, EXPLORE_USER_GRID, HybridRecommender, ValidationDraw
from reelmind.recsys.saving import SavedModel


def one_draw() -> ValidationDraw:
    """4 users, a pool of 20 warm items (EASE ranks item j at place j) and 2 new ones (20: content 0.9, 21: 0.1).
    User 0 liked warm item 19 (the 20th place) and new item 20; every user's history sets the bar at 0.8."""
    users, width = 4, 22
    cols = np.tile(np.arange(width), (users, 1))
    ease = np.tile(np.concatenate([np.arange(20, 0, -1, dtype=np.float32), [-np.inf, -np.inf]]), (users, 1))
    content = np.tile(np.concatenate([np.full(20, 0.5, np.float32), [0.9, 0.1]]), (users, 1))
    static = np.zeros((users, width, len(rerank.STATIC)), np.float32)
    static[:, 20:, rerank.STATIC.index("is_new")] = 1
    labels = np.zeros((users, width), bool)
    labels[0, [19, 20]] = True
    labels[1:, 0] = True
    return ValidationDraw(np.arange(users), cols, {"ease": ease, "content": content},
                          {"ease": ease.copy(), "content": content.copy()}, static, labels,
                          n_relevant=np.array([2, 1, 1, 1]), warm_relevant=np.array([1, 1, 1, 1]),
                          user_draws=np.array([0.01, 0.5, 0.99, 0.02]),
                          bars=np.full((users, len(EXPLORE_QUANTILES)), 0.8))


def test_a_draw_served_with_exploration_gives_the_last_place_to_the_best_matching_new_item():
    draw = one_draw()
    scores = draw.first_stage({"ease": 1.0})
    quiet = draw.served(scores, 0.0, 0, 1)
    place_20 = 1 / np.log2(21)
    ideal_2 = 1 + 1 / np.log2(3)
    assert quiet["reach"] == quiet["explored"] == 0
    assert np.isclose(quiet["warm_recall"], 1.0)  # every user's warm positive is in their 20
    assert np.isclose(quiet["mixed_ndcg"], (place_20 / ideal_2 + 3 * 1.0) / 4)
    # users 0 and 3 draw below 0.1: their 20th place goes to new item 20 (content 0.9 >= their bar 0.8, item 21
    # is below it); user 0 loses warm item 19 and gains new item 20 at the same place
    explored = draw.served(scores, 0.1, 0, 1)
    assert explored["reach"] == explored["explored"] == 0.5
    assert np.isclose(explored["warm_recall"], 3 / 4)
    assert np.isclose(explored["mixed_ndcg"], quiet["mixed_ndcg"])
    assert draw.served(scores, 1.0, 0, 1)["reach"] == 1.0
    too_high = one_draw()
    too_high.bars[:] = 0.95  # no new item matches well enough: nothing is offered
    assert too_high.served(scores, 1.0, 0, 1)["reach"] == 0


@pytest.mark.slow  # fits the hybrid (8 s)
def test_the_fitted_hybrid_chooses_exploration_on_validation_and_keeps_the_choice():
    from test_recsys_rerank import planted_tastes

    inter, items, _, _ = planted_tastes(n_users=160, new_per_taste=5)
    model = HybridRecommender().fit(inter, items)
    decision = model.report()["stages"]["exploration"]
    searched = decision["searched"]
    assert {t["users"] for t in searched} == set(EXPLORE_USER_GRID)
    assert all(0 <= t["reach_min"] <= t["reach"] <= 1 and 0 <= t["explored_min"] <= t["explored"] <= t["reach"]
               for t in searched)
    assert decision["why"] and model.exploring == {"users": decision["users"], "quantile": decision["quantile"]}
    assert decision["users"] in EXPLORE_USER_GRID and decision["quantile"] in EXPLORE_QUANTILES
    if decision["kept"]:
        assert decision["warm_recall_gain"] >= 0 and decision["mixed_ndcg_gain"] >= 0
    reaching = [t for t in searched if t["explored"] >= 0.1 and t["beats_best_single"]]
    if reaching:  # the target is met by exploration itself, at the least cost in warm Recall
        assert decision["explored"] >= 0.1
        assert decision["warm_recall_gain"] == max(t["warm_recall_gain"] for t in reaching)
    exploring = [model.explores(r) for r in range(inter.n_users)]
    assert abs(np.mean(exploring) - decision["users"]) <= 0.15
    assert model.explores(-1)  # a new user always explores
    saved = model.save()
    again = Recommender.load(SavedModel.from_parts(saved.document_json(), saved.npz(), saved.texts_json()))
    assert again.exploring == model.exploring
    assert [again.explores(r) for r in range(inter.n_users)] == exploring
