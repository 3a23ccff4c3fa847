"""Serving a user: the last run's stored picks when it stored enough, picks computed on demand when it did not."""

from __future__ import annotations

from datetime import UTC, datetime

from reelmind import recommend
from reelmind.config import Settings
from reelmind.recsys.cf import EASERecommender
from reelmind.store import Store

from recsys_contract import tiny_interactions, tiny_items


def test_asking_for_more_than_was_stored_computes_on_demand(tmp_path):
    """A run with k=2 stores two picks per user; asking for 3 must not read as the catalogue having run out."""
    settings = Settings(db=str(tmp_path / "lancedb"), data_dir=str(tmp_path))
    items = tiny_items()
    model = EASERecommender(l2=1.0).fit(tiny_interactions(items), items)
    fitted = recommend.FittedModel(model, "ease-test", ("c0", "s1"), datetime.now(UTC))
    recommend.save_fitted(Store.open(settings.db), fitted)
    assert recommend.write_recommendations(Store.open(settings.db), fitted, k=2) == 4

    stored = recommend.recommend_for(settings, "c0", k=2)
    assert [p["computed"] for p in stored] == ["stored"] * 2

    more = recommend.recommend_for(settings, "c0", k=3)  # c0 has 5 unseen items EASE has an opinion on
    assert len(more) == 3 and {p["computed"] for p in more} == {"on demand"}
    assert [p["video_id"] for p in more[:2]] == [p["video_id"] for p in stored]

    everything = recommend.recommend_for(settings, "c0", k=50)  # the catalogue runs out: fewer, on demand
    assert len(everything) == len(model.recommend("c0", k=50)) < 50
