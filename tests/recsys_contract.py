"""The contract every recommender keeps, on a tiny catalogue whose right answers are known.

Two tastes: items 0-4 are cooking videos, 5-9 space videos (their vectors say so). Users c0-c5 watch cooking,
s0-s5 watch space; every user has watched three items of their side, so the right next pick for a user is an
unwatched item of their side. A test class mixes this in (like benfred/implicit's RecommenderBase) and every
recommender in reelmind.recsys.registry is held to every check: registering a model is enough to test it.
Known-answer checks (a user's own side first) apply to the models that declare themselves `personalised`.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from reelmind.recsys import registry
from reelmind.recsys.base import Recommender
from reelmind.recsys.data import Interactions, Items
from reelmind.recsys.saving import SavedModel

COOKING, SPACE = list(range(5)), list(range(5, 10))
DAY = 86_400.0
# Parameters for a catalogue of 10 items and 12 users with 3 positives each (by registered name): the defaults
# are set for thousands of items, where their regularisation is right; here it would flatten every score.
TINY_PARAMS = {
    "ease": {"l2": 1.0},
    "cf": {"l2": 1.0},
    "als": {"factors": 2, "iterations": 30, "regularization": 0.1},  # two tastes, two factors
}


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


def tiny_model(name: str) -> Recommender:
    """The registered model `name`, unfitted, with the parameters for the tiny catalogue."""
    model = registry.make(name)
    if "components" in model.get_params():  # the hybrid: its components get them too
        components = {part: prototype.clone(**TINY_PARAMS.get(part, {}))
                      for part, prototype in model.get_params()["components"].items()}
        return model.clone(components=components)
    return model.clone(**TINY_PARAMS.get(name, {}))


def ids(recs) -> list:
    return [r.item_id for r in recs]


class RecommenderContract:
    """The `model` fixture runs every check once per registered recommender, fitted on the tiny catalogue."""

    @pytest.fixture(scope="class", params=registry.names())
    @classmethod
    def model(cls, request) -> Recommender:
        items = tiny_items()
        return tiny_model(request.param).fit(tiny_interactions(items), items)

    def test_recommends_the_users_side_first(self, model):
        if not model.personalised:
            pytest.skip(f"{model.source} is not personalised: a user's history does not choose their picks")
        for user, side in (("c0", COOKING), ("s1", SPACE)):
            [best] = model.recommend(user, k=1)
            assert int(best.item_id[1:]) in side, (user, best)

    def test_never_recommends_seen_items(self, model):
        seen = {model.items.ids[c] for c in model.interactions.seen(model.interactions.user_index["c0"])}
        recs = model.recommend("c0", k=10)
        assert recs and not (set(ids(recs)) & seen)
        assert seen <= set(ids(model.recommend("c0", k=10, exclude_seen=False)))

    def test_k_beyond_the_catalogue_gives_every_unseen_item_it_has_an_opinion_on(self, model):
        row = model.interactions.user_index["s2"]
        seen = set(model.interactions.seen(row).tolist())
        opinion = np.flatnonzero(np.isfinite(model.score(np.array([row]))[0]))
        expected = {model.items.ids[c] for c in opinion if c not in seen}
        recs = model.recommend("s2", k=3 * len(model.items))
        assert len(ids(recs)) == len(set(ids(recs))), "no duplicates"
        assert set(ids(recs)) == expected

    def test_scores_in_rank_order_with_reasons(self, model):
        for k in (3, 5, 10):
            recs = model.recommend("s2", k=k)
            assert 1 <= len(recs) <= k
            assert all(a.score >= b.score for a, b in zip(recs, recs[1:])), [r.score for r in recs]
            assert all(r.reason and r.source for r in recs)

    def test_batch_equals_single(self, model):
        users = ["c1", "s3", "nobody"]
        batch = model.recommend_batch(users, k=5)
        assert set(batch) == set(users)
        for user in users:
            single = model.recommend(user, k=5)
            assert ids(batch[user]) == ids(single)
            assert np.allclose([r.score for r in batch[user]], [r.score for r in single])

    def test_save_then_load_without_pickle(self, model, monkeypatch):
        """What the recommend flow stores (arrays, JSON, texts) rebuilds a model that ranks and scores the same."""
        def refuse(*args, **kwargs):
            raise AssertionError("a saved model must not go through pickle")

        for name in ("dump", "dumps", "load", "loads"):
            monkeypatch.setattr(pickle, name, refuse)
        saved = model.save()
        again = Recommender.load(SavedModel.from_parts(saved.document_json(), saved.npz(), saved.texts_json()))
        assert type(again) is type(model) and again.get_params().keys() == model.get_params().keys()
        rows = np.array([model.interactions.user_index["c0"], model.interactions.user_index["s1"], -1])
        np.testing.assert_allclose(again.score(rows), model.score(rows), rtol=1e-6)
        for user in ("c0", "s1", "nobody"):
            mine, theirs = model.recommend(user, k=5), again.recommend(user, k=5)
            assert [(r.item_id, r.reason, r.source) for r in theirs] == [(r.item_id, r.reason, r.source) for r in mine]
            assert np.allclose([r.score for r in theirs], [r.score for r in mine])
        assert ids(again.similar_items("v5", k=3)) == ids(model.similar_items("v5", k=3))

    def test_events_since_the_fit_fold_in_at_once(self, model):
        """A user's newest events, folded into the fitted model: what they just watched is excluded, a new user's
        history chooses their side, and the fitted model itself is unchanged."""
        inter = model.interactions
        row = inter.user_index["c0"]
        cols, weights = inter.row_of("c0")
        times = inter.last_seen.data[inter.last_seen.indptr[row]:inter.last_seen.indptr[row + 1]]
        before = ids(model.recommend("c0", k=10))
        watched = model.items.index[before[0]]
        now = model.with_user("c0", np.append(cols, watched), np.append(weights, 1.0), np.append(times, inter.now))
        assert before[0] not in ids(now.recommend("c0", k=10))
        assert ids(model.recommend("c0", k=10)) == before
        newcomer = model.with_user("newcomer", np.array([5, 6, 7]), np.ones(3), np.full(3, inter.now))
        picks = newcomer.recommend("newcomer", k=2)
        assert picks and not {"v5", "v6", "v7"} & set(ids(picks))
        if model.personalised:
            assert int(picks[0].item_id[1:]) in SPACE, picks
        assert "newcomer" not in model.interactions.user_index

    def test_similar_items_never_the_item_and_on_its_side(self, model):
        similar = model.similar_items("v0", k=2)
        assert similar and all(r.item_id != "v0" for r in similar)
        if model.personalised:
            assert int(similar[0].item_id[1:]) in COOKING

    def test_unknown_user_does_not_crash(self, model):
        recs = model.recommend("nobody", k=3)
        assert isinstance(recs, list)

    def test_clone_is_unfitted_with_the_same_parameters(self, model):
        copy = model.clone()
        assert type(copy) is type(model) and not hasattr(copy, "interactions")
        assert set(copy.get_params()) == set(model.get_params())
        with pytest.raises(ValueError, match="no parameter"):
            model.clone(no_such_parameter=1)
