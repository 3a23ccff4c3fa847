"""Events stored after the model was fitted change that user's next recommendations at once (issue 12's POST
/events): a video they watched since is excluded, a like moves their profile; nobody else's picks change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from test_recsys_models import tiny_components

from reelmind import recommend
from reelmind.config import Settings
from reelmind.events import make_event, write_events
from reelmind.recsys.hybrid import HybridRecommender
from reelmind.store import Store

from recsys_contract import COOKING, SPACE, tiny_interactions, tiny_items


def test_events_after_the_fit_reach_the_next_request(tmp_path):
    settings = Settings(db=str(tmp_path / "lancedb"), data_dir=str(tmp_path))
    store = Store.open(settings.db)
    items = tiny_items()
    log = tiny_interactions(items)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    write_events(store, [make_event(log.user_ids[r], log.item_ids[c], "view", start + timedelta(days=float(t)))
                         for r in range(log.n_users)
                         for c, t in zip(log.matrix[r].indices, range(len(log.matrix[r].indices)))])
    interactions, texts, active = recommend.load_feedback(store, items)
    model = HybridRecommender(fixed_weights={"ease": 1.0, "content": 0.5}, components=tiny_components()) \
        .fit(interactions, items)
    fitted = recommend.FittedModel(model, "hybrid-test", active, datetime.now(UTC))
    recommend.save_fitted(store, fitted)
    recommend.write_recommendations(store, fitted, k=3)
    assert recommend.events_since_fit(store, model, "c0") is None  # the model saw every stored event
    before = recommend.recommend_for(settings, "c0", k=3)
    assert {p["computed"] for p in before} == {"stored"}

    later = start + timedelta(days=60)
    write_events(store, [make_event("c0", before[0]["video_id"], "view", later, watch_fraction=0.9)])
    after = recommend.recommend_for(settings, "c0", k=3)
    assert {p["computed"] for p in after} == {"on demand"} and len(after) == 3
    assert before[0]["video_id"] not in {p["video_id"] for p in after}
    assert recommend.recommend_for(settings, "s1", k=3)[0]["computed"] == "stored"  # nobody else is affected

    newcomer = recommend.recommend_for(settings, "newcomer", k=2)  # nothing known: popularity
    assert all(p["reason"].startswith("popular") for p in newcomer)
    write_events(store, [make_event("newcomer", f"v{j}", "like", later) for j in SPACE[:3]])
    liked = recommend.recommend_for(settings, "newcomer", k=2)
    assert liked and all(int(p["video_id"][1:]) in SPACE for p in liked)
    assert not {p["video_id"] for p in liked} & {f"v{j}" for j in SPACE[:3]}
    assert int(recommend.recommend_for(settings, "c1", k=1)[0]["video_id"][1:]) in COOKING
    assert np.isfinite([p["score"] for p in liked]).all()
