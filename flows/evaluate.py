"""
# Evaluate: every recommender, measured offline on MovieLens

    evaluate (one task) ── artifacts: metrics table per split, the Markdown report

Runs the protocol of `reelmind.recsys.evaluate` (positives = ratings >= 4, 10% of items held out as cold, 80/20
random and temporal splits, Recall@20 / NDCG@20 / coverage on warm, cold and mixed rankings) and publishes the
results as table artifacts. Scheduled weekly (see prefect.yaml); run it by hand with
`python -m flows.evaluate ../shared/datasets/ml-latest-small`.
"""

from __future__ import annotations

import sys

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from reelmind.recsys.evaluate import COLUMNS, run_evaluation, to_markdown


@task(name="run-evaluation", cache_policy=NO_CACHE, retries=0)
def evaluate_models(movielens: str, out_dir: str) -> dict:
    return run_evaluation(movielens, out_dir)


@flow(name="evaluate", flow_run_name="evaluate-movielens")
def evaluate(movielens: str, out_dir: str = "data/evaluation") -> dict:
    report = evaluate_models(movielens, out_dir)
    for split_name, rows in report["splits"].items():
        create_table_artifact([{"model": name, **{c: row.get(c) for c in COLUMNS}} for name, row in rows.items()],
                              key=f"evaluation-{split_name}", description=f"Recall/NDCG@20 ({split_name} split)")
    create_markdown_artifact(to_markdown(report), key="evaluation-report", description="Offline evaluation")
    return report


if __name__ == "__main__":
    evaluate(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-latest-small")
