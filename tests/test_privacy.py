"""Forgetting a user removes them from every table, every old version and every file of the database; user ids can
be stored pseudonymised. The database is built directly (no Prefect): the recsys contract's tiny catalogue as
videos, its views as events, plus one user with a comment and a search, a saved hybrid model and stored picks."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from reelmind import recommend, registry
from reelmind.cli import main
from reelmind.config import Settings, SettingsError
from reelmind.events import load_events, make_event, write_events
from reelmind.privacy import LEGACY_MODEL_FILE, forget_user, store_user_id
from reelmind.records import EventRecord, RecommendationRecord, VectorSpec, VideoRecord
from reelmind.recsys import content
from reelmind.store import Store

from helpers import video_record
from recsys_contract import tiny_interactions, tiny_items

NOW = datetime(2026, 11, 1, tzinfo=UTC)
# The user to forget: a quote in the id (data, not SQL), and words of theirs no other row holds.
USER = "o'brien-7f3a"
SECRET_WORDS = "zebra marmalade sonnet 4471"
SEARCHED = "quokka lighthouse 9382"
KEY = "k" * 32
TEXT_DIM, VISUAL_DIM = tiny_items().text_vectors.shape[1], 4


class FakeText:
    """The content model's text backend, without a model: words hashed onto the catalogue's vector width."""
    model_id, dim = "fake-text", TEXT_DIM

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        rng = [np.random.default_rng(sum(map(ord, t))) for t in texts]
        vectors = np.array([r.standard_normal(self.dim) for r in rng], np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def fake_text_model(monkeypatch):
    monkeypatch.setattr(registry, "load", lambda kind, name, model="", **_: FakeText())
    content.forget_embedded_words()  # embeddings of another test's model
    yield
    content.forget_embedded_words()


def build_database(folder: Path) -> Settings:
    """Videos, everyone's events, a saved model and stored picks, each written more than once so old table
    versions hold the user too."""
    settings = Settings(db=str(folder / "lancedb"), data_dir=str(folder))
    store = Store.open(settings.db)
    items = tiny_items()
    spaces = {"text": VectorSpec("test-text", TEXT_DIM), "visual": VectorSpec("test-visual", VISUAL_DIM)}
    for vid, title, vector in zip(items.ids, items.titles, items.text_vectors):
        store.write_video(_video(vid, title, vector), [], [], spaces)
    inter = tiny_interactions(items)
    write_events(store, [make_event(user, items.ids[col], "view", datetime.fromtimestamp(inter.last_seen[row, col],
                                                                                         UTC), 1.0)
                         for row, user in enumerate(inter.user_ids) for col in inter.matrix[row].indices])
    for n in range(2):  # two fits, two pick runs: versions to clean
        write_events(store, _users_events(n))
        fitted = recommend.fit(settings)
        recommend.write_recommendations(store, fitted, k=3)
    return settings


def _users_events(n: int) -> list[EventRecord]:
    at = datetime.fromtimestamp(1_700_000_000 + 20 * 86_400 + n * 3600, UTC)
    return [make_event(USER, f"v{5 + n}", "view", at, 0.9),
            make_event(USER, f"v{6 + n}", "comment", at, None, f"{SECRET_WORDS} #{n}"),
            make_event(USER, "", "search", at, None, SEARCHED)]


def _video(vid: str, title: str, vector: np.ndarray) -> VideoRecord:
    return video_record(vid, title=title, duration_s=30.0, text_vector=vector.tolist(), ingested_at=NOW)


def files_mentioning(folder: Path, *needles: str) -> list[str]:
    """Files under `folder` whose bytes hold any needle."""
    wanted = [n.encode() for n in needles]
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and any(w in p.read_bytes() for w in wanted))


def versions_mentioning(store: Store, *needles: str) -> list[str]:
    """`table@version` for every still-existing version of every table with a value holding any needle."""
    found = []
    for name in store.table_names():
        table = store.db.open_table(name)
        for version in [v["version"] for v in table.list_versions()]:
            table.checkout(version)
            if any(_holds(value, needles) for column in table.to_arrow().columns for value in column.to_pylist()):
                found.append(f"{name}@{version}")
    return found


def _holds(value: object, needles: tuple[str, ...]) -> bool:
    if isinstance(value, bytes):
        return any(n.encode() in value for n in needles)
    return any(n in str(value) for n in needles)


def test_a_forgotten_user_is_in_no_table_version_and_no_file(tmp_path):
    settings = build_database(tmp_path)
    store, db = Store.open(settings.db), Path(settings.db)
    others = [e for e in load_events(store) if e["user_id"] != USER]
    picks = {r["user_id"]: r["video_id"] for r in store.rows(RecommendationRecord) if r["user_id"] != USER}
    # the scan finds them before: events, picks and the model, in the latest versions and the older ones
    assert {f.split("/")[0] for f in files_mentioning(db, USER, SECRET_WORDS)} == {
        "events.lance", "recommendations.lance", "models.lance"}
    assert len(versions_mentioning(store, USER, SECRET_WORDS, SEARCHED)) > 3
    legacy = db.parent / LEGACY_MODEL_FILE  # an older ReelMind's pickled model, never read now
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(pickle.dumps({"users": [USER, "c0"]}))

    report = forget_user(store, USER)

    assert {p.table: p.rows for p in report.tables} == {"events": 6, "recommendations": 3, "models": 1,
                                                         str(LEGACY_MODEL_FILE): 1}
    assert all(p.versions > 0 for p in report.tables[:3])
    assert not legacy.exists()
    assert files_mentioning(db, USER, SECRET_WORDS, SEARCHED) == []
    assert versions_mentioning(store, USER, SECRET_WORDS, SEARCHED) == []
    assert content._embed_queries.cache_info().currsize == 0
    assert recommend.database_of(store) not in recommend._loaded
    # everyone else is as they were, and served: stored picks, and on demand from a model fitted without the user
    assert sorted(e["event_id"] for e in load_events(store)) == sorted(e["event_id"] for e in others)
    assert {r["user_id"]: r["video_id"] for r in store.rows(RecommendationRecord)} == picks
    assert {p["computed"] for p in recommend.recommend_for(settings, "c0", k=3)} == {"stored"}
    assert len(recommend.recommend_for(settings, "c0", k=5)) == 5
    assert USER not in recommend.load_fitted(settings).model.interactions.user_index


def test_forgetting_is_idempotent_and_an_id_with_sql_in_it_is_data(tmp_path):
    settings = build_database(tmp_path)
    store = Store.open(settings.db)
    events = len(load_events(store))
    forget_user(store, USER)
    again = forget_user(store, USER)
    assert again.rows == 0 and all(p.versions == 0 for p in again.tables)
    remaining = len(load_events(store))
    assert remaining == events - 6
    assert forget_user(store, "nobody' OR '1'='1").rows == 0
    assert len(load_events(store)) == remaining and store.rows(RecommendationRecord)


def test_forget_user_from_the_command_line_prints_a_line_per_table(tmp_path, capsys):
    settings = build_database(tmp_path)
    assert main(["forget-user", USER, "--db", settings.db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r", \d+ old", ", N old", line) for line in lines] == [
        f"{table}: {rows} row(s) removed, N old version(s) removed"
        for table, rows in [("events", 6), ("recommendations", 3), ("models", 1)]]


def test_pseudonymised_ids_never_reach_the_disk(tmp_path, monkeypatch, capsys):
    settings = Settings(db=str(tmp_path / "lancedb"), pseudonymise_user_ids=True, user_id_key=KEY)
    stored = store_user_id(USER, settings)
    assert stored == store_user_id(USER, settings) != USER
    assert store_user_id(USER, settings.replace(user_id_key="another key, 16+ chars")) != stored
    monkeypatch.setenv("REELMIND_PSEUDONYMISE_USER_IDS", "true")
    monkeypatch.setenv("REELMIND_USER_ID_KEY", KEY)
    for words in ("first search", "second search"):
        assert main(["events", "add", "--db", settings.db, "--user", USER, "--event", "search", "--text", words]) == 0
    assert {e["user_id"] for e in load_events(Store.open(settings.db))} == {stored}
    assert files_mentioning(Path(settings.db), USER) == []
    assert files_mentioning(Path(settings.db), stored)
    capsys.readouterr()
    assert main(["forget-user", USER, "--db", settings.db]) == 0
    assert capsys.readouterr().out.startswith("events: 2 row(s) removed")
    assert files_mentioning(Path(settings.db), stored) == []


@pytest.mark.parametrize("key", ["", "s3cr3t"])
def test_pseudonymising_without_a_usable_key_is_refused_in_one_line(tmp_path, monkeypatch, capsys, key):
    with pytest.raises(SettingsError, match="REELMIND_USER_ID_KEY") as refused:
        store_user_id(USER, Settings(pseudonymise_user_ids=True, user_id_key=key))
    assert "\n" not in str(refused.value) and (not key or key not in str(refused.value))
    monkeypatch.setenv("REELMIND_PSEUDONYMISE_USER_IDS", "1")
    monkeypatch.setenv("REELMIND_USER_ID_KEY", key)
    assert main(["forget-user", USER, "--db", str(tmp_path / "lancedb")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _import_events_meanwhile(db: str, batches: int) -> None:
    store = Store(db)
    for n in range(batches):
        write_events(store, [make_event(f"writer-{n}-{i}", "v1", "view", datetime(2026, 1, 1, tzinfo=UTC), 1.0)
                             for i in range(5)])


def test_events_imported_by_another_process_while_forgetting_are_kept(tmp_path):
    import multiprocessing

    settings = build_database(tmp_path)
    store, batches = Store.open(settings.db), 20
    writer = multiprocessing.get_context("spawn").Process(target=_import_events_meanwhile, args=(settings.db, batches))
    writer.start()
    while writer.is_alive():  # forget again and again while the other process imports
        write_events(store, [make_event(USER, "v1", "like", datetime(2026, 1, 2, tzinfo=UTC))])
        forget_user(store, USER)
    writer.join()
    assert writer.exitcode == 0
    users = {e["user_id"] for e in load_events(store)}
    assert {u for u in users if u.startswith("writer-")} == {f"writer-{n}-{i}" for n in range(batches)
                                                              for i in range(5)}
