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


def test_new_item_slot_when_the_fusion_gives_content_no_weight():
    """Even with no weight on content, a new item that matches a user's taste gets the last place in their list
    (the exploration slot), with a content reason; a new item of the other taste does not."""
    from reelmind.recsys.data import Items

    items = tiny_items()
    vectors = items.text_vectors.copy()
    vectors[4] = np.eye(8, dtype=np.float32)[0]  # the new video v4 is squarely about cooking
    items = Items(items.ids, items.titles, items.texts, text_vectors=vectors)
    model = HybridRecommender(fixed_weights={"popularity": 0.5, "ease": 1.0},
                              components=tiny_components()).fit(tiny_interactions(items), items)
    recs = model.recommend("c0", k=5)
    assert len(recs) == 5 and recs[-1].item_id == "v4" and "v9" not in {r.item_id for r in recs}
    assert recs[-1].source == "content" and recs[-1].reason.startswith("matches your interest")
    assert all(r.item_id != "v4" for r in model.recommend("c0", k=3))  # short lists keep every place for accuracy


def test_weights_are_tuned_on_validation():
    """Without fixed weights the hybrid tunes them on held-out positives: on two tastes with obvious co-watching
    the tuned fusion scores at least as well on validation as its best single component."""
    from reelmind.recsys.data import Interactions

    items = tiny_items()
    records = []
    for u in range(20):  # enough history per user (8 items) for a validation split
        side = (0, 1, 2, 3) if u % 2 else (5, 6, 7, 8)
        for j, item in enumerate(side * 2):
            records.append((f"u{u}", f"v{item}", 1.0, 1_700_000_000 + u * 100 + j))
    model = HybridRecommender(components=tiny_components())
    model.fit(Interactions.from_records(records, item_ids=items.ids), items)
    assert model.tuning["validation_users"] > 0 and 0 < model.tuning["validation_ndcg@20"] <= 1
    assert model.tuning["validation_ndcg@20"] >= model.tuning["best_single_ndcg@20"]
    assert set(model.weights) >= {"popularity", "ease", "content"} and max(model.weights.values()) > 0


def test_ease_reason_is_the_watched_item_that_contributes_most():
    model = EASERecommender(l2=1.0).fit(tiny_interactions(tiny_items()), tiny_items())
    [rec] = model.recommend("c0", k=1)
    row, col = model.interactions.user_index["c0"], model.items.index[rec.item_id]
    watched = model.X[row].indices
    where = {c: i for i, c in enumerate(model.warm)}
    contributions = [model.B[where[w], where[col]] for w in watched]
    assert rec.reason == f"because you watched {model.items.titles[watched[int(np.argmax(contributions))]]}"
