"""The platform-size benchmark's machinery on a small log: the synthetic log's shape, and a row per size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reelmind.recsys.bench import bench_recommend, synthetic_log


def test_the_synthetic_log_has_power_law_items_and_topic_vectors():
    log, items = synthetic_log(2000, 500, seed=1, mean_per_user=30)
    assert log.n_users == 2000 and log.n_items == len(items) == 500
    assert 20_000 < log.matrix.nnz < 60_000
    counts = np.sort(log.item_counts())[::-1]
    assert counts[:25].sum() > counts[-250:].sum()  # the top 5% of items are watched more than the bottom half
    topics = np.array([int(t.split()[1]) for t in items.texts])
    same = items.text_vectors[topics == topics[0]]
    other = items.text_vectors[topics != topics[0]]
    assert (same @ same[0]).mean() > 3 * abs((other @ same[0]).mean())


@pytest.mark.slow  # a child process stores a log in LanceDB and fits the hybrid
def test_bench_recommend_reports_each_size_and_writes_json(tmp_path):
    out = tmp_path / "recommend.json"
    result = bench_recommend(sizes=((400, 300),), json_path=str(out), say=lambda line: None)
    [row] = result["rows"]
    assert "error" not in row, row
    # the run read the log back from LanceDB and wrote picks there: up to 20 for each user active in the last 30 days
    assert row["full_run_s"] >= row["fit_s"] > row["read_s"] >= 0 and 20 * 200 < row["rows_written"] <= 20 * 400
    assert 0 < row["on_demand_p50_ms"] <= row["on_demand_p95_ms"] and row["peak_rss_gb"] > 0
    assert 0 < row["model_p50_ms"] <= row["model_p95_ms"]
    assert json.loads(out.read_text())["rows"] == result["rows"]
    assert result["400x300_fit_s"] == row["fit_s"]
