"""Recommendation speed on MovieLens (ml-latest-small): a full run for every user, and on-demand requests.

    python benchmarks/recommend_speed.py [DIR]

Fits the hybrid once (not timed as serving), then times recommend_batch for all users (what the recommend flow
does), 200 single-user `recommend` calls (what `reelmind recommend` does for a user the last run missed), and 60
calls for new users with stated interests (embedded on the spot). Then saves the model into a temporary database
as the flow does and times `load_fitted`: its first call (reading the model) and on-demand requests served through
it (each checks the `models` table's version, and reads nothing more while it is unchanged).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(folder: str) -> None:
    from reelmind.config import load_settings
    from reelmind.recsys import movielens, ranking

    data = movielens.load(folder)
    items = ranking.with_text_vectors(data.items, Path(load_settings().cache_dir) / "embeddings")
    train = data.interactions()
    users = list(train.user_ids)
    started = time.perf_counter()
    model = ranking.fit("hybrid", train, items)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    model.recommend_batch(users, k=20)
    batch_s = time.perf_counter() - started
    # On demand, one BLAS thread: a server answers requests side by side, and on a 2-core machine a second BLAS
    # thread per request only contends with the other work (new-user p95: 116 ms with two threads, 10 ms with one).
    limit = threadpool_limits(1, "blas")
    rng = np.random.default_rng(0)
    times = []
    for user in rng.choice(users, 200):
        t = time.perf_counter()
        model.recommend(user, k=20)
        times.append(1000 * (time.perf_counter() - t))
    t = time.perf_counter()
    model.recommend("a-new-user", k=20, interests="space battles and science fiction")
    new_user_ms = 1000 * (time.perf_counter() - t)
    said = ["space battles and science fiction", "romantic comedies set in Paris", "animated films for kids",
            "gritty crime dramas", "宇宙飞船和外星人", "documentaries about nature"]
    new_times = []
    for i in range(60):
        t = time.perf_counter()
        model.recommend(f"new-{i}", k=20, interests=f"{said[i % len(said)]} #{i}")  # distinct text: no cache
        new_times.append(1000 * (time.perf_counter() - t))
    served, load_s, save_s, size_mb = serve_saved(model, rng.choice(users, 200))
    limit.restore_original_limits()
    print(f"| {'measure':<44} | {'value':>10} |")
    print(f"|{'-' * 46}|{'-' * 12}|")
    print(f"| {'fit hybrid (tuning included), s':<44} | {fit_s:>10.1f} |")
    print(f"| {f'recommend_batch, {len(users)} users x 20, s':<44} | {batch_s:>10.2f} |")
    print(f"| {'on demand, one known user, p50 ms':<44} | {np.percentile(times, 50):>10.1f} |")
    print(f"| {'on demand, one known user, p95 ms':<44} | {np.percentile(times, 95):>10.1f} |")
    print(f"| {'first new user with interests, ms':<44} | {new_user_ms:>10.1f} |")
    print(f"| {'on demand, new user with interests, p50 ms':<44} | {np.percentile(new_times, 50):>10.1f} |")
    print(f"| {'on demand, new user with interests, p95 ms':<44} | {np.percentile(new_times, 95):>10.1f} |")
    print(f"| {'save the fitted model to its database, s':<44} | {save_s:>10.2f} |")
    print(f"| {'saved model (npz arrays), MB':<44} | {size_mb:>10.0f} |")
    print(f"| {'load_fitted, first call (reads the model), s':<44} | {load_s:>10.2f} |")
    print(f"| {'served via load_fitted, known user, p50 ms':<44} | {np.percentile(served, 50):>10.1f} |")
    print(f"| {'served via load_fitted, known user, p95 ms':<44} | {np.percentile(served, 95):>10.1f} |")


def serve_saved(model, users) -> tuple[list[float], float, float, float]:
    """(per-request ms through load_fitted, its first call's s, the save's s, the arrays' MB), in a temporary
    database."""
    from reelmind import recommend
    from reelmind.config import Settings
    from reelmind.records import ModelRecord
    from reelmind.store import Store

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "lancedb"))
        store = Store.open(settings.db)
        started = time.perf_counter()
        recommend.save_fitted(store, recommend.FittedModel(model, "benchmark", (), datetime.now(UTC)))
        save_s = time.perf_counter() - started
        size_mb = len(store.rows(ModelRecord, ["arrays"])[0]["arrays"]) / 1e6
        started = time.perf_counter()
        recommend.load_fitted(settings)
        load_s = time.perf_counter() - started
        times = []
        for user in users:
            t = time.perf_counter()
            recommend.load_fitted(settings).model.recommend(user, k=20)
            times.append(1000 * (time.perf_counter() - t))
    return times, load_s, save_s, size_mb


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[2] / "shared" / "datasets"
                                                  / "ml-latest-small"))
