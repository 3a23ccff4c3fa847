"""The contract every recommender keeps, on a tiny catalogue whose right answers are known.

Two tastes: items 0-4 are cooking videos, 5-9 space videos (their vectors say so). Users c0-c5 watch cooking,
s0-s5 watch space; every user has watched three items of their side, so the right next pick for a user is an
unwatched item of their side. Each model's test class mixes this in (like benfred/implicit's RecommenderBase).
"""

from __future__ import annotations

import numpy as np

from reelmind.recsys.base import Recommender
from reelmind.recsys.data import Interactions, Items

COOKING, SPACE = list(range(5)), list(range(5, 10))
DAY = 86_400.0


def tiny_items() -> Items:
    rng = np.random.default_rng(0)
    base = np.zeros((10, 8), np.float32)
    base[COOKING, 0] = 1.0
    base[SPACE, 1] = 1.0
    vectors = base + 0.05 * rng.standard_normal(base.shape).astype(np.float32)
    titles = [f"cooking {i}" for i in COOKING] + [f"space {i}" for i in SPACE]
    return Items(ids=[f"v{i}" for i in range(10)], titles=titles, texts=titles, text_vectors=vectors)


def tiny_interactions(items: Items) -> Interactions:
    records = []
    for u in range(6):
        for side, name in ((COOKING, "c"), (SPACE, "s")):
            for j in range(3):
                item = side[(u + j) % 4]  # item 4 and 9 are watched by nobody: cold
                records.append((f"{name}{u}", f"v{item}", 1.0, 1_700_000_000 + (u * 3 + j) * DAY))
    return Interactions.from_records(records, item_ids=items.ids)


class RecommenderContract:
    """Subclasses set `make()` returning an unfitted model."""

    def make(self) -> Recommender:
        raise NotImplementedError

    personalised = True

    def fitted(self) -> Recommender:
        items = tiny_items()
        return self.make().fit(tiny_interactions(items), items)

    def test_recommends_the_users_side_first(self):
        if not self.personalised:
            return
        model = self.fitted()
        for user, side in (("c0", COOKING), ("s1", SPACE)):
            [best] = model.recommend(user, k=1)
            assert int(best.item_id[1:]) in side, (user, best)

    def test_never_recommends_seen_items(self):
        model = self.fitted()
        seen = {model.items.ids[c] for c in model.interactions.seen(model.interactions.user_index["c0"])}
        recs = model.recommend("c0", k=10)
        assert recs and not ({r.item_id for r in recs} & seen)
        with_seen = model.recommend("c0", k=10, exclude_seen=False)
        assert {r.item_id for r in with_seen} & seen or not self.personalised

    def test_k_scores_descending_and_reasons(self):
        model = self.fitted()
        recs = model.recommend("s2", k=3)
        assert 1 <= len(recs) <= 3
        assert all(a.score >= b.score for a, b in zip(recs, recs[1:])) or model.source == "hybrid"
        assert all(r.reason and r.source for r in recs)

    def test_batch_equals_single(self):
        model = self.fitted()
        batch = model.recommend_batch(["c1", "s3"], k=3)
        assert [r.item_id for r in batch["c1"]] == [r.item_id for r in model.recommend("c1", k=3)]
        assert set(batch) == {"c1", "s3"}

    def test_similar_items_stay_on_their_side(self):
        model = self.fitted()
        similar = model.similar_items("v0", k=2)
        assert similar and all(r.item_id != "v0" for r in similar)
        if self.personalised:
            assert int(similar[0].item_id[1:]) in COOKING

    def test_unknown_user_does_not_crash(self):
        recs = self.fitted().recommend("nobody", k=3)
        assert isinstance(recs, list)
