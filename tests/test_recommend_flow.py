"""The recommend flow on the ingested fixtures and the demo event log (real Prefect, LanceDB, models)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reelmind.cli import main
from reelmind.events import import_events
from reelmind.records import ModelRecord, RecommendationRecord
from reelmind.store import Store

from helpers import FIXTURES


@pytest.fixture(scope="module")
def demo_db(fixtures_db, tmp_path_factory):
    source, _ = fixtures_db
    db = str(tmp_path_factory.mktemp("recommend") / "lancedb")
    shutil.copytree(source, db)
    import_events(FIXTURES / "demo_events.csv", Store(db))
    return db


def _names(store: Store) -> dict[str, str]:
    return {v["id"]: v["path"].rsplit("/", 1)[-1] for v in store.videos(["id", "path"])}


def test_flow_writes_everyones_picks_and_replaces_them(prefect_api, demo_db):
    from flows.recommend import recommend

    first = recommend(db=demo_db)
    store = Store(demo_db)
    rows = store.table("recommendations").search().limit(None).to_list()
    assert {r["user_id"] for r in rows} == {"alice", "bob", "chen", "dana"}
    assert first["rows"] == len(rows) and first["users"] == 4
    names = _names(store)
    seen = {"alice": {"tomato_soup_recipe.mp4", "gardening_podcast.mp3", "quarterly_report_silent.mp4"},
            "bob": {"space_station_mandarin.mp4", "quarterly_report_silent.mp4"},
            "chen": {"space_station_mandarin.mp4"}, "dana": {"gardening_podcast.mp3", "tomato_soup_recipe.mp4"}}
    for user, watched in seen.items():
        picks = sorted((r for r in rows if r["user_id"] == user), key=lambda r: r["rank"])
        assert [r["rank"] for r in picks] == list(range(1, len(picks) + 1))
        assert picks and not ({names[r["video_id"]] for r in picks} & watched), user   # seen items excluded
        assert all(r["reason"] and r["model_version"] == first["model_version"] for r in picks)
    second = recommend(db=demo_db)
    assert Store(demo_db).table("recommendations").count_rows() == second["rows"] == first["rows"]
    # the model is saved in this database, one row replaced by each run, and nowhere beside it
    [model] = Store(demo_db).rows(ModelRecord, ["version", "database"])
    assert model["version"] == second["model_version"] and model["database"] == str(Path(demo_db).resolve())
    assert not (Path(demo_db).parent / "models").exists()


def test_slices_ranked_on_a_dask_cluster_give_the_same_picks(prefect_api, demo_db, monkeypatch):
    """The recommend flow on a Dask cluster: each slice of users ranked in a worker process of its own (one user a
    slice here), published in one commit, picks equal to the default runner's."""
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    from flows.recommend import recommend
    from reelmind import recommend as product

    def picks() -> list[tuple]:
        rows = Store(demo_db).rows(RecommendationRecord, ["user_id", "rank", "video_id", "model_version"])
        return sorted((r["user_id"], r["rank"], r["video_id"], r["model_version"]) for r in rows)

    threads = recommend(db=demo_db)
    on_threads = picks()
    monkeypatch.setattr(product, "SLICE_USERS", 1)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = recommend.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(db=demo_db)
    assert dask["slices"] == 4 and threads["slices"] == 1
    assert dask["rows"] == threads["rows"] == len(on_threads)
    assert picks() == on_threads
    assert not [n for n in Store(demo_db).table_names() if n.startswith(product.STAGING_PREFIX)]


def test_cli_reads_stored_picks_and_serves_new_users_on_demand(prefect_api, demo_db, capsys):
    from flows.recommend import recommend

    recommend(db=demo_db)
    capsys.readouterr()
    # chen watched 1 of the 4 videos: the run stored the other 3
    assert main(["recommend", "--user", "chen", "--k", "3", "--json", "--db", demo_db]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert len(stored) == 3 and all(p["computed"] == "stored" and p["reason"] for p in stored)
    # asking for more than was stored is answered on demand, from the same saved model: the same 3, no more
    assert main(["recommend", "--user", "chen", "--k", "10", "--json", "--db", demo_db]) == 0
    more = json.loads(capsys.readouterr().out)
    assert all(p["computed"] == "on demand" for p in more)
    assert [p["video_id"] for p in more] == [p["video_id"] for p in stored]

    assert main(["recommend", "--user", "newcomer", "--k", "2", "--json", "--db", demo_db,
                 "--interests", "I want to learn to cook soup at home"]) == 0
    picks = json.loads(capsys.readouterr().out)
    assert picks[0]["computed"] == "on demand"
    assert picks[0]["path"].endswith("tomato_soup_recipe.mp4"), picks
    assert picks[0]["reason"]
