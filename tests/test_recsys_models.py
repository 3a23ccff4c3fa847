"""Every recommender held to the same contract, plus cold start for the hybrid."""

from __future__ import annotations

from recsys_contract import RecommenderContract, tiny_interactions, tiny_items
from reelmind.recsys.cf import ALSRecommender, EASERecommender
from reelmind.recsys.content import ContentRecommender
from reelmind.recsys.hybrid import HybridRecommender
from reelmind.recsys.popularity import PopularityRecommender


class TestPopularity(RecommenderContract):
    personalised = False

    def make(self):
        return PopularityRecommender()


class TestEASE(RecommenderContract):
    def make(self):
        return EASERecommender(l2=1.0)


class TestALS(RecommenderContract):
    def make(self):
        return ALSRecommender(factors=2, iterations=30, regularization=0.1)  # two tastes, two factors


class TestContent(RecommenderContract):
    def make(self):
        return ContentRecommender()


class TestHybrid(RecommenderContract):
    def make(self):
        return HybridRecommender(components={"popularity": PopularityRecommender,
                                             "ease": lambda: EASERecommender(l2=1.0),
                                             "content": ContentRecommender})


def test_popularity_explains_with_recency():
    model = PopularityRecommender().fit(tiny_interactions(tiny_items()), tiny_items())
    assert model.recommend("anyone new", k=1)[0].reason.startswith("popular")


def test_new_item_reaches_a_matching_user():
    """v4 and v9 have no interactions; a cooking user's hybrid picks include the cold cooking item v4."""
    items = tiny_items()
    model = HybridRecommender(weights={"popularity": 0.5, "ease": 1.0, "content": 1.0},
                              components={"popularity": PopularityRecommender,
                                          "ease": lambda: EASERecommender(l2=1.0),
                                          "content": ContentRecommender}).fit(tiny_interactions(items), items)
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
