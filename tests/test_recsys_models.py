"""Every registered recommender held to the same contract, plus cold start for the hybrid."""

from __future__ import annotations

import numpy as np

from reelmind.recsys.cf import EASERecommender
from reelmind.recsys.content import ContentRecommender
from reelmind.recsys.hybrid import HybridRecommender
from reelmind.recsys.popularity import PopularityRecommender

from recsys_contract import RecommenderContract, tiny_interactions, tiny_items


class TestEveryRegisteredRecommender(RecommenderContract):
    pass


def tiny_components() -> dict:
    return {"popularity": PopularityRecommender(), "ease": EASERecommender(l2=1.0), "content": ContentRecommender()}


def test_popularity_explains_with_recency():
    model = PopularityRecommender().fit(tiny_interactions(tiny_items()), tiny_items())
    assert model.recommend("anyone new", k=1)[0].reason.startswith("popular")


def test_new_item_reaches_a_matching_user():
    """v4 and v9 have no interactions; a cooking user's hybrid picks include the cold cooking item v4."""
    items = tiny_items()
    model = HybridRecommender(fixed_weights={"popularity": 0.5, "ease": 1.0, "content": 1.0},
                              components=tiny_components()).fit(tiny_interactions(items), items)
    picks = [r.item_id for r in model.recommend("c0", k=2)]
    assert "v4" in picks and not {"v9"} & set(picks)
    [why] = [r for r in model.recommend("c0", k=2) if r.item_id == "v4"]
    assert why.source == "content" and why.reason.startswith("matches your interest")


def test_new_user_with_stated_interests_gets_content_first():
    items = tiny_items()
    from reelmind import registry

    text = registry.load("text", "multilingual-e5-small")
    titles = ["tomato soup recipe", "how to bake bread", "pasta for dinner", "vegetable curry", "salad ideas",
              "rocket launch", "the moon landing", "mars rover", "space station tour", "black holes explained"]
    items = items.__class__(ids=items.ids, titles=titles, texts=titles, text_vectors=text.embed_passages(titles))
    model = HybridRecommender().fit(tiny_interactions(items), items)
    recs = model.recommend("newcomer", k=3, interests="I love astronomy and rockets")
    assert int(recs[0].item_id[1:]) in range(5, 10)
    assert any(r.reason.startswith("matches your interest") for r in recs)


def test_exploration_gives_matching_new_items_the_last_place_at_a_configured_share():
    """With no weight on content, a new item still reaches users whose taste it matches: the last place of a list
    of 20 (explore_share 1 in 20), with a content reason; never an item of another taste; none with the share 0."""
    from test_recsys_rerank import planted_tastes

    inter, items, taste, group = planted_tastes(n_users=60, new_per_taste=5)
    new = [j for j in range(len(items)) if inter.item_counts()[j] == 0]
    assert new, "the planted log leaves some items unwatched"
    params = {"fixed_weights": {"popularity": 0.5, "ease": 1.0}, "components": tiny_components(),
              "learn_ranker": False, "explore_users": 1.0}
    exploring = HybridRecommender(**params).fit(inter, items)
    quiet = HybridRecommender(**params, explore_share=0.0).fit(inter, items)
    users = [f"u{u}" for u in range(60)]
    recs, plain = exploring.recommend_batch(users, k=20), quiet.recommend_batch(users, k=20)
    is_new = {items.ids[j] for j in new}
    reached = [u for u in users if recs[u][-1].item_id in is_new]
    assert len(reached) >= len(users) // 2
    for u in reached:
        last = recs[u][-1]
        assert group[items.index[last.item_id]] == taste[int(u[1:])] and last.source == "content"
        assert last.reason.startswith("matches your interest")
        assert [r.item_id for r in recs[u][:-1]] == [r.item_id for r in plain[u][:-1]]
    assert not any(r.item_id in is_new for u in users for r in plain[u])
    assert not any(r.item_id in is_new for r in exploring.recommend("u0", k=4))  # short lists: no exploration
    some = HybridRecommender(**{**params, "explore_users": 0.3}).fit(inter, items)  # a share of the users explore
    assert 0 < sum(some.explores(r) for r in range(60)) < 60
    picks = some.recommend_batch(users, k=20)
    for row, u in enumerate(users):
        assert (picks[u][-1].item_id in is_new) == (u in reached and some.explores(row))


def test_ease_reason_is_the_watched_item_that_contributes_most():
    model = EASERecommender(l2=1.0).fit(tiny_interactions(tiny_items()), tiny_items())
    [rec] = model.recommend("c0", k=1)
    row, col = model.interactions.user_index["c0"], model.items.index[rec.item_id]
    watched = model.X[row].indices
    where = {c: i for i, c in enumerate(model.warm)}
    contributions = [model.B[where[w], where[col]] for w in watched]
    assert rec.reason == f"because you watched {model.items.titles[watched[int(np.argmax(contributions))]]}"
