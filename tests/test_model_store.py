"""The fitted model lives with its database: sibling databases keep their own, nothing in it can run code, and a
model fitted for another database is refused."""

from __future__ import annotations

import json
import pickle
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from reelmind import recommend
from reelmind.config import Settings
from reelmind.events import make_event, write_events
from reelmind.privacy import LEGACY_MODEL_FILE
from reelmind.records import ModelRecord, VectorSpec, VideoRecord
from reelmind.store import Store

from helpers import video_record
from recsys_contract import tiny_interactions, tiny_items

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def tiny_database(folder: Path, name: str) -> Settings:
    """The contract's tiny catalogue and its views, stored with video ids prefixed by `name`, so a pick says
    which database it came from. Settings as a user has them: the data folder is the databases' parent."""
    items, settings = tiny_items(), Settings(db=str(folder / name))
    store = Store.open(settings.db)
    spaces = {"text": VectorSpec("test-text", items.text_vectors.shape[1]), "visual": VectorSpec("test-visual", 4)}
    for vid, title, vector in zip(items.ids, items.titles, items.text_vectors):
        store.write_video(_video(f"{name}-{vid}", title, vector), [], [], spaces)
    inter = tiny_interactions(items)
    write_events(store, [make_event(user, f"{name}-{items.ids[col]}", "view",
                                    datetime.fromtimestamp(inter.last_seen[row, col], UTC), 1.0)
                         for row, user in enumerate(inter.user_ids) for col in inter.matrix[row].indices])
    return settings


def _video(vid: str, title: str, vector: np.ndarray) -> VideoRecord:
    return video_record(vid, title=title, duration_s=30.0, text_vector=vector.tolist(), ingested_at=NOW)


def on_demand_ids(settings: Settings, user: str = "c0", k: int = 3) -> list[str]:
    picks = recommend.recommend_for(settings, user, k=k)
    assert picks and {p["computed"] for p in picks} == {"on demand"}
    return [p["video_id"] for p in picks]


def test_sibling_databases_keep_their_own_model(tmp_path):
    a, b = tiny_database(tmp_path, "a"), tiny_database(tmp_path, "b")
    recommend.fit(a, "ease")
    recommend.fit(b, "ease")  # the old code saved both to tmp_path/models: B's replaced A's
    assert all(vid.startswith("a-") for vid in on_demand_ids(a))
    assert all(vid.startswith("b-") for vid in on_demand_ids(b))


class RunsCode:
    """Unpickling this calls open(marker, "w"): proof that a file's contents were executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_a_crafted_pickle_where_the_model_used_to_be_is_never_run(tmp_path):
    settings = tiny_database(tmp_path, "a")
    marker, old = tmp_path / "code-ran", settings.resolved_data_dir() / LEGACY_MODEL_FILE
    old.parent.mkdir(parents=True)
    old.write_bytes(pickle.dumps(RunsCode(marker)))
    assert all(vid.startswith("a-") for vid in on_demand_ids(settings))  # no model yet: one is fitted
    assert not marker.exists()
    assert all(vid.startswith("a-") for vid in on_demand_ids(settings))  # now served from the saved one
    assert not marker.exists()


def test_a_model_fitted_for_another_database_is_refused_in_one_line(tmp_path):
    a, b = tiny_database(tmp_path, "a"), tiny_database(tmp_path, "b")
    recommend.fit(a, "ease")
    shutil.copytree(Path(a.db) / "models.lance", Path(b.db) / "models.lance")  # A's model put into B
    with pytest.raises(recommend.ModelError) as refused:
        recommend.load_fitted(b)
    message = str(refused.value)
    assert "\n" not in message and str(Path(a.db).resolve()) in message and str(Path(b.db).resolve()) in message


def test_a_new_database_has_no_model_until_one_is_fitted(tmp_path):
    settings = tiny_database(tmp_path, "a")
    assert recommend.load_fitted(settings) is None
    fitted = recommend.fit(settings, "ease")
    loaded = recommend.load_fitted(settings)
    assert loaded.version == fitted.version and loaded.active_users == fitted.active_users
    assert [r.item_id for r in loaded.model.recommend("s1", k=3)] == [r.item_id for r in
                                                                      fitted.model.recommend("s1", k=3)]
    assert Store.open(settings.db).db.open_table("videos").count_rows() == 10  # the model table is beside it


def test_a_newer_model_is_loaded_once(tmp_path):
    settings = tiny_database(tmp_path, "a")
    recommend.fit(settings, "popularity")
    first = recommend.load_fitted(settings)
    assert recommend.load_fitted(settings) is first  # cached: the table has not changed
    recommend.fit(settings, "ease")
    newer = recommend.load_fitted(settings)
    assert newer.version.startswith("ease-") and recommend.load_fitted(settings) is newer


def test_a_saved_model_naming_a_class_outside_the_registry_is_refused_in_one_line(tmp_path):
    settings = tiny_database(tmp_path, "a")
    fitted = recommend.fit(settings, "ease")
    store = Store.open(settings.db)
    [row] = store.rows(ModelRecord)
    document = json.loads(row["document"])
    document["model"]["$model"] = "subprocess.Popen"
    store.replace(ModelRecord, [ModelRecord.from_row({**row, "document": json.dumps(document)})])
    with pytest.raises(recommend.ModelError, match="'subprocess.Popen' is not a registered recommender") as refused:
        recommend.load_fitted(settings)
    assert "\n" not in str(refused.value) and fitted.version in str(refused.value)


@pytest.mark.parametrize("damage", [lambda doc: doc["model"]["state"].pop("B"),
                                    lambda doc: doc["model"].update(state=[1, 2]),
                                    lambda doc: doc["model"].update(params={"l2": {"$array": 999}})])
def test_a_damaged_saved_model_is_refused_in_one_line(tmp_path, damage):
    settings = tiny_database(tmp_path, "a")
    recommend.fit(settings, "ease")
    store = Store.open(settings.db)
    [row] = store.rows(ModelRecord)
    document = json.loads(row["document"])
    damage(document)
    store.replace(ModelRecord, [ModelRecord.from_row({**row, "document": json.dumps(document)})])
    with pytest.raises(recommend.ModelError, match="cannot be read") as refused:
        recommend.load_fitted(settings)
    assert "\n" not in str(refused.value)


def test_a_model_saved_in_an_older_format_counts_as_none_yet_and_stored_picks_are_still_served(tmp_path):
    settings = tiny_database(tmp_path, "a")
    fitted = recommend.fit(settings, "ease")
    store = Store.open(settings.db)
    assert recommend.write_recommendations(store, fitted, 3) > 0
    [row] = store.rows(ModelRecord)
    document = json.loads(row["document"])
    document["format"] -= 1  # what the previous release saved
    store.replace(ModelRecord, [ModelRecord.from_row({**row, "document": json.dumps(document)})])
    recommend.forget_loaded(store)
    assert recommend.load_fitted(settings) is None
    stored = recommend.recommend_for(settings, "c0", k=3)
    assert [p["computed"] for p in stored] == ["stored"] * 3
    assert all(p["model_version"] == fitted.version for p in stored)
    assert len(on_demand_ids(settings, k=5)) == 5  # more than stored: a model is fitted anew and serves them
