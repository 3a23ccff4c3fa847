"""Two recommend runs at once (an hourly run meeting the one scheduled after an ingest) leave one consistent set:
every stored pick is from one run's model, ranks are whole per user, and the saved model is that same run's."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest

from reelmind import recommend
from reelmind.config import Settings
from reelmind.records import ModelRecord, RecommendationRecord
from reelmind.recsys.cf import EASERecommender
from reelmind.store import Store

from recsys_contract import tiny_interactions, tiny_items

RUNS_EACH = 5  # several rounds each, so the two writers' commits interleave


def _run(db: str, name: str) -> None:
    items = tiny_items()
    store = Store(db)
    for round_ in range(RUNS_EACH):
        model = EASERecommender(l2=1.0).fit(tiny_interactions(items), items)
        fitted = recommend.FittedModel(model, f"{name}-{round_}", ("c0", "c1", "s0", "s1"), datetime.now(UTC))
        recommend.save_fitted(store, fitted)
        recommend.write_recommendations(store, fitted, k=3)


def test_two_runs_at_once_leave_one_consistent_set(tmp_path):
    db = str(tmp_path / "lancedb")
    context = multiprocessing.get_context("spawn")
    runs = [context.Process(target=_run, args=(db, name)) for name in ("hourly", "after-ingest")]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert [run.exitcode for run in runs] == [0, 0]

    store = Store(db)
    picks = store.rows(RecommendationRecord)
    assert len({p["model_version"] for p in picks}) == 1  # one run's picks, not a mix
    by_user: dict[str, list[int]] = {}
    for p in picks:
        by_user.setdefault(p["user_id"], []).append(p["rank"])
    assert sorted(by_user) == ["c0", "c1", "s0", "s1"]
    assert all(sorted(ranks) == [1, 2, 3] for ranks in by_user.values())
    [model_row] = store.rows(ModelRecord, ["version"])
    assert model_row["version"] in {f"{name}-{RUNS_EACH - 1}" for name in ("hourly", "after-ingest")}
    settings = Settings(db=db, data_dir=str(tmp_path))
    assert recommend.recommend_for(settings, "c0", k=3)[0]["computed"] == "stored"
    assert model_row["version"] == picks[0]["model_version"]  # and the saved model is that run's


def test_a_run_overtaken_by_a_newer_one_leaves_its_picks_unwritten(tmp_path):
    """The interleaving that mixed runs: A saves its model, B saves and writes its picks, then A writes."""
    store, items = Store(str(tmp_path / "lancedb")), tiny_items()
    runs = {name: recommend.FittedModel(EASERecommender(l2=l2).fit(tiny_interactions(items), items), name,
                                        ("c0", "s0"), datetime.now(UTC)) for name, l2 in (("a", 1.0), ("b", 5.0))}
    recommend.save_fitted(store, runs["a"])
    recommend.save_fitted(store, runs["b"])
    assert recommend.write_recommendations(store, runs["b"], k=2) == 4
    assert recommend.write_recommendations(store, runs["a"], k=2) == 0
    assert {p["model_version"] for p in store.rows(RecommendationRecord)} == {"b"}
    assert recommend.saved_version(store) == "b"
    # the written picks are indexed by user (an on-demand request reads one user's)
    indexed = {tuple(i.columns) for i in store.table(RecommendationRecord.table).list_indices()}
    assert ("user_id",) in indexed


def test_slices_are_staged_apart_and_published_in_one_commit(tmp_path):
    """Each slice of users stages its picks in a table of its own; publishing swaps them in whole and drops them,
    a slice that never ran is refused in one line with the stored picks kept, and an older run's leftovers go."""
    store, items = Store(str(tmp_path / "lancedb")), tiny_items()
    model = EASERecommender(l2=1.0).fit(tiny_interactions(items), items)
    old = recommend.FittedModel(model, "old", ("c0",), datetime.now(UTC))
    recommend.save_fitted(store, old)
    recommend.rank_slice(store, old, 0, 0, 1, k=2)  # a run that crashed before publishing
    run = recommend.FittedModel(model, "new", ("c0", "c1", "s0", "s1"), datetime.now(UTC))
    recommend.save_fitted(store, run)
    assert recommend.write_recommendations(store, run, k=2) == 8
    before = recommend.stored_recommendations(store, "s1", None)

    assert recommend.rank_slice(store, run, 0, 0, 2, k=2) == 4  # slice 1 (users 2-3) never ranked
    with pytest.raises(recommend.ModelError, match=r"slices \[1\] of run new were not ranked"):
        recommend.publish_recommendations(store, "new", 2)
    assert recommend.stored_recommendations(store, "s1", None) == before

    assert recommend.rank_slice(store, run, 1, 2, 4, k=2) == 4
    assert recommend.publish_recommendations(store, "new", 2) == 8
    picks = store.rows(RecommendationRecord)
    assert sorted((p["user_id"], p["rank"]) for p in picks) == [(u, r) for u in ("c0", "c1", "s0", "s1")
                                                               for r in (1, 2)]
    assert {p["model_version"] for p in picks} == {"new"}
    assert not [name for name in store.table_names() if name.startswith(recommend.STAGING_PREFIX)]
