"""New items in collaborative filtering: ALS predicts their factors from their content (a ridge map learned on the
warm items), and the hybrid searches its components' settings on a validation draw."""

from __future__ import annotations

import numpy as np
import pytest

from reelmind.recsys.base import Recommender
from reelmind.recsys.cf import MAP_RIDGE_GRID, NEW_ITEM_REASON, ALSRecommender, ridge_map
from reelmind.recsys.saving import SavedModel


def test_the_ridge_map_recovers_a_linear_relation_and_predicts_held_out_rows():
    rng = np.random.default_rng(0)
    content = rng.standard_normal((400, 12))
    truth = rng.standard_normal((12, 3))
    targets = content @ truth + 5.0  # an offset too: the map is centred
    fit_on = np.arange(400) < 300
    predicted, chosen = ridge_map(content, targets, fit_on, seed=0)
    assert chosen["penalty"] == min(MAP_RIDGE_GRID)  # noiseless: the least shrinkage wins
    assert chosen["check_r2"] > 0.99
    assert np.allclose(predicted[~fit_on], targets[~fit_on], atol=0.2)  # rows it never saw


def test_pure_noise_content_explains_nothing_on_the_held_out_rows():
    rng = np.random.default_rng(1)
    predicted, chosen = ridge_map(rng.standard_normal((300, 20)), rng.standard_normal((300, 4)),
                                  np.ones(300, bool), seed=0)
    assert chosen["check_r2"] < 0.1 and chosen["penalty"] == max(MAP_RIDGE_GRID)  # shrunk towards the mean


def test_als_scores_a_new_item_by_its_content_for_the_users_of_its_taste():
    from test_recsys_rerank import planted_tastes

    inter, items, taste, group = planted_tastes(n_users=120, new_per_taste=5)
    new = np.flatnonzero(inter.item_counts() == 0)
    plain = ALSRecommender(factors=8, regularization=1.0, map_new_items=False).fit(inter, items)
    model = ALSRecommender(factors=8, regularization=1.0).fit(inter, items)
    rows = np.arange(inter.n_users)
    assert np.isinf(plain.score(rows)[:, new]).all()
    scores = model.score(rows)[:, new]
    assert np.isfinite(scores).all() and model.report()["new_item_mapping"]["check_r2"] > 0.5
    best_new = new[scores.argmax(axis=1)]
    assert np.mean(group[best_new] == taste) >= 0.9  # each user's best new item is of their taste
    warm = np.flatnonzero(inter.item_counts() > 0)
    assert np.allclose(model.score(rows)[:, warm], plain.score(rows)[:, warm])  # warm items: as ALS learned them
    assert model.explain(0, new[:1]) == [NEW_ITEM_REASON]
    saved = model.save()
    again = Recommender.load(SavedModel.from_parts(saved.document_json(), saved.npz(), saved.texts_json()))
    assert np.allclose(again.score(rows[:5]), model.score(rows[:5]))


@pytest.mark.slow  # fits the hybrid (about 10 s)
def test_the_hybrid_searches_its_components_settings_on_a_validation_draw():
    from test_recsys_rerank import planted_tastes

    from reelmind.recsys.hybrid import SEARCHED, HybridRecommender

    inter, items, _, _ = planted_tastes(n_users=160, new_per_taste=5)
    model = HybridRecommender().fit(inter, items)
    decided = model.report()["components"]
    for name, grids in SEARCHED.items():
        chosen, searched = decided[name]["chosen"], decided[name]["searched"]
        assert set(chosen) == {param for param, _ in grids}
        # each value fitted once (the previous step's winner is not fitted again)
        assert sum(len(values) for _, values in grids) - len(grids) < len(searched) <= sum(len(v) for _, v in grids)
        for param, _ in grids:  # the winner of each step is its best-scoring trial
            step = [t for t in searched if param in t and all(t.get(p) == chosen[p] for p in chosen if p != param
                                                              and p in t)]
            assert max(step, key=lambda t: t["warm_ndcg@20"])[param] == chosen[param]
        assert model.models[name].get_params().items() >= chosen.items()  # the served model uses them
