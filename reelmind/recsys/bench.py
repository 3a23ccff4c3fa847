"""The recommend flow's work at platform size, on a synthetic power-law log: fit, full run, memory, on demand.

    python -m reelmind.recsys.bench [--sizes 10000x5000,100000x20000] [--model hybrid] [--json PATH]
    reelmind bench recommend            (reelmind.bench calls `bench_recommend`)

For each size (users x items) a child process builds a synthetic log (`synthetic_log`: item popularity and user
activity follow power laws, users have a few favourite topics, item vectors sit near their topic's) and stores it
in a fresh LanceDB database as the product holds it (a `videos` row per item, an `events` row per interaction;
`setup_s`, not part of the run). Then it runs what the recommend flow's tasks run (reelmind.recommend): `fit`
(read the catalogue and the events from LanceDB, validation draws, stages, the final components, the model saved in
the `models` table) and `write_recommendations` (every active user's top 20, ranked slice by slice as the flow's
`rank-users` tasks do on the default runner, each slice staged, then published as the `recommendations` table
in one commit); then 200 on-demand requests for known users through `recommend_for`, the
API's path (stored picks, after checking the user's events for any since the fit), and the same users ranked by
the model itself (one BLAS thread, as a server answers). Reported per size: fit s, rank-and-write s, full run s
(the two), peak memory of the child (RSS, GB), on-demand p50/p95 ms (the API's path; the model's ranking). Prints
a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass

import numpy as np

SIZES = ((10_000, 5_000), (100_000, 20_000))
# Draws per user on average. Repeated draws of a popular item collapse into one interaction, leaving about two
# thirds: 75 draws give ~48 distinct interactions per user, 100k users ~4.8M, the platform size of issue 10 (50
# draws gave 3.5M there).
MEAN_PER_USER = 75
TOPICS = 50
# Share of a user's interactions inside their favourite topics; the rest follow global popularity.
IN_TOPIC = 0.8
# Zipf exponent of item popularity (within a topic and overall) and lognormal spread of user activity.
ZIPF = 1.0
ACTIVITY_SIGMA = 1.0
VECTOR_DIM = 384  # the default text model's
VECTOR_NOISE = 0.6  # an item vector: its topic's direction plus this much noise (cosine to the centre ~0.85)
LOG_DAYS = 60
ON_DEMAND_REQUESTS = 200
K = 20


@dataclass(frozen=True)
class Size:
    users: int
    items: int

    def __str__(self) -> str:
        return f"{self.users}x{self.items}"


def synthetic_log(users: int, items: int, seed: int = 0, mean_per_user: int = MEAN_PER_USER):
    """(Interactions, Items): a power-law log with topic structure CF and content can both find."""
    from reelmind.recsys.data import Interactions, Items

    rng = np.random.default_rng(seed)
    topic = rng.integers(0, TOPICS, items)
    rank = np.empty(items)
    rank[rng.permutation(items)] = np.arange(1, items + 1)
    weight = rank ** -ZIPF
    global_p = weight / weight.sum()
    members = [np.flatnonzero(topic == t) for t in range(TOPICS)]
    topic_p = [weight[m] / weight[m].sum() for m in members]
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, users)
    counts = np.clip(np.round(activity / activity.mean() * mean_per_user), 1, items // 2).astype(np.int64)
    rows, cols = [], []
    for u in range(users):
        n = counts[u]
        favourites = rng.choice(TOPICS, 3, replace=False)
        inside = rng.random(n) < IN_TOPIC
        picks = rng.choice(items, n - inside.sum(), p=global_p).tolist()
        chosen_topics = rng.choice(favourites, inside.sum())
        for t in np.unique(chosen_topics):
            picks += rng.choice(members[t], int((chosen_topics == t).sum()), p=topic_p[t]).tolist()
        picks = np.unique(picks)
        rows.append(np.full(len(picks), u))
        cols.append(picks)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    times = 1_700_000_000 + rng.random(len(rows)) * LOG_DAYS * 86_400
    centres = rng.standard_normal((TOPICS, VECTOR_DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((items, VECTOR_DIM)).astype(np.float32) * VECTOR_NOISE / np.sqrt(VECTOR_DIM)
    ids = [f"v{i}" for i in range(items)]
    catalogue = Items(ids, [f"video {i}" for i in range(items)], [f"topic {t}" for t in topic],
                      text_vectors=centres[topic] + noise)
    log = Interactions.from_arrays([f"u{u}" for u in range(users)], ids, rows, cols, np.ones(len(rows)), times)
    return log, catalogue


def _database(log, items) -> tuple[str, float]:
    """A fresh database holding `items` as videos and every interaction of `log` as a full view; (path, seconds)."""
    import tempfile
    from datetime import UTC, datetime

    import pyarrow as pa

    from reelmind.records import EventRecord, VectorSpec, VideoRecord
    from reelmind.recsys.content import DEFAULT_TEXT_BACKEND
    from reelmind.store import Store, table_schema

    started = time.perf_counter()
    db = tempfile.mkdtemp(prefix="reelmind-recommend-bench-")
    store = Store.open(db)
    now = datetime.now(UTC)
    videos = [VideoRecord(id=item_id, rev="r1", path=f"/bench/{item_id}.mp4", content_hash=item_id, sidecar_hash="",
                          size_bytes=1, title=title, description=text, tags=[], uploader="", published_at="",
                          duration_s=30.0, container="mp4", has_audio=True, has_video=False, width=None, height=None,
                          fps=None, audio_codec="aac", video_codec=None, language="en", transcript="", captions=[],
                          caption_source="", ocr_text="", document=f"{title}. {text}", n_frames=0, n_segments=0,
                          thumbnail_path="", text_vector=vector, visual_vector=None, models={}, stage_seconds={},
                          ingested_at=now)
              for item_id, title, text, vector in zip(items.ids, items.titles, items.texts, items.text_vectors)]
    store.write_videos([(video, [], []) for video in videos], {"text": VectorSpec(DEFAULT_TEXT_BACKEND, VECTOR_DIM),
                                                              "visual": VectorSpec("none", 1)})  # no pictures
    del videos
    m = log.matrix
    rows = np.repeat(np.arange(log.n_users), np.diff(m.indptr))
    events = pa.table({"event_id": pa.array([f"e{n}" for n in range(m.nnz)]),
                       "user_id": pa.array(np.array(log.user_ids, dtype=object)[rows], pa.string()),
                       "video_id": pa.array(np.array(items.ids, dtype=object)[m.indices], pa.string()),
                       "event": pa.array(["view"] * m.nnz), "watch_fraction": pa.array(np.ones(m.nnz, np.float32)),
                       "timestamp": pa.array((log.last_seen.data * 1e6).astype(np.int64), pa.timestamp("us", "UTC")),
                       "text": pa.nulls(m.nnz, pa.string())})
    store.ensure(EventRecord).add(events.cast(table_schema(EventRecord)))
    return db, time.perf_counter() - started


def _measure(size: Size, model_name: str, seed: int) -> dict:
    """In a child process: one size, end to end."""
    import shutil

    from threadpoolctl import threadpool_limits

    from reelmind import recommend
    from reelmind.config import load_settings
    from reelmind.store import Store

    started = time.perf_counter()
    log, items = synthetic_log(size.users, size.items, seed)
    generate_s = time.perf_counter() - started
    db, setup_s = _database(log, items)
    users, interactions = log.user_ids, int(log.matrix.nnz)
    del log, items
    try:
        settings = load_settings(db=db)
        started = time.perf_counter()
        fitted = recommend.fit(settings, model_name)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        written = recommend.write_recommendations(Store.open(db), fitted, K)
        write_s = time.perf_counter() - started
        rng = np.random.default_rng(seed)
        served, ranked = [], []
        with threadpool_limits(1, "blas"):
            for user in rng.choice(len(users), ON_DEMAND_REQUESTS):
                t = time.perf_counter()
                recommend.recommend_for(settings, users[user], k=K)
                served.append(1000 * (time.perf_counter() - t))
                t = time.perf_counter()
                fitted.model.recommend(users[user], k=K)
                ranked.append(1000 * (time.perf_counter() - t))
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux: KB
        started = time.perf_counter()
        store = Store.open(db)
        recommend.load_feedback(store, recommend.load_catalog(store))
        read_s = time.perf_counter() - started  # measured again apart, after the run: a share of fit_s
    finally:
        shutil.rmtree(db, ignore_errors=True)
    report = fitted.model.report()
    stages = {name: stage.get("kept") for name, stage in report.get("stages", {}).items()}
    return {"size": str(size), "users": size.users, "items": size.items, "interactions": interactions,
            "model": model_name, "generate_s": round(generate_s, 1), "setup_s": round(setup_s, 1),
            "fit_s": round(fit_s, 1), "read_s": round(read_s, 1), "rank_write_s": round(write_s, 1),
            "full_run_s": round(fit_s + write_s, 1), "rows_written": written,
            "peak_rss_gb": round(peak_gb, 2),
            "on_demand_p50_ms": round(float(np.percentile(served, 50)), 1),
            "on_demand_p95_ms": round(float(np.percentile(served, 95)), 1),
            "model_p50_ms": round(float(np.percentile(ranked, 50)), 1),
            "model_p95_ms": round(float(np.percentile(ranked, 95)), 1),
            "stages_kept": stages, "exploring_users": report.get("stages", {}).get("exploration", {}).get("users")}


def _child(size: Size, model_name: str, seed: int, out) -> None:
    try:
        out.send(_measure(size, model_name, seed))
    except Exception as exc:  # noqa: BLE001 - reported in the parent's row
        out.send({"size": str(size), "error": f"{type(exc).__name__}: {exc}"})


def bench_recommend(options: object | None = None, sizes: tuple[tuple[int, int], ...] = SIZES,
                    model: str = "hybrid", json_path: str | None = None, say=print) -> dict:
    """Run every size in its own process (so each peak memory is its own); returns {"rows": [...]} plus each
    row's numbers as "<users>x<items>_<measure>" keys, and writes JSON when `json_path` is given. `options`: the
    `reelmind bench` options (its seed is used)."""
    seed = int(getattr(options, "seed", 0) or 0)
    context = multiprocessing.get_context("spawn")
    rows = []
    for users, items in sizes:
        size = Size(users, items)
        say(f"recommend: {size} ({model}) ...")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(size, model, seed, send))
        child.start()
        row = receive.recv()
        child.join()
        rows.append(row)
        say("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    result: dict = {"rows": rows}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, int | float) and key not in ("users", "items"):
                result[f"{row['size']}_{key}"] = value
    if json_path:
        from reelmind.files import write_text_atomic

        write_text_atomic(json_path, json.dumps(result, indent=2) + "\n")
    return result


COLUMNS = ("size", "interactions", "fit_s", "read_s", "rank_write_s", "full_run_s", "peak_rss_gb", "on_demand_p50_ms",
           "on_demand_p95_ms", "model_p95_ms", "stages_kept")


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row.get(c, row.get("error", ""))) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(f"{u}x{i}" for u, i in SIZES))
    parser.add_argument("--model", default="hybrid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="data/bench/recommend.json")
    args = parser.parse_args(argv)
    sizes = tuple(tuple(int(n) for n in part.split("x")) for part in args.sizes.split(","))
    result = bench_recommend(argparse.Namespace(seed=args.seed), sizes, args.model, args.json,
                             say=lambda line: print(line, file=sys.stderr, flush=True))
    print(table(result["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
