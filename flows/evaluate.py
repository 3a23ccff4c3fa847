"""
# Evaluate: every recommender, measured offline on MovieLens

    evaluate (one task) ── artifacts: metrics table per split, the Markdown report

Runs the protocol of `reelmind.recsys.evaluate` (every model over several seeds, random and temporal splits and
variants of the dataset; each ranking the full catalogue through the path the product serves) and publishes the
mean and standard deviation of each metric as table artifacts. Scheduled weekly (see prefect.yaml); run it by hand with
`python -m flows.evaluate ../shared/datasets/ml-latest-small`.
"""

from __future__ import annotations

import sys

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from reelmind.recsys.evaluate import TABLE, run_evaluation, to_markdown


@task(name="run-evaluation", cache_policy=NO_CACHE, retries=0)
def evaluate_models(movielens: str, out_dir: str) -> dict:
    return run_evaluation(movielens, out_dir)


@flow(name="evaluate", flow_run_name="evaluate-movielens")
def evaluate(movielens: str, out_dir: str = "data/evaluation") -> dict:
    report = evaluate_models(movielens, out_dir)
    for key, summary in report["summary"].items():
        rows = [{"model": name, **{m: f"{stats[m]['mean']:.4f} ± {stats[m]['std']:.4f}" for m in TABLE if m in stats}}
                for name, stats in summary["models"].items()]
        create_table_artifact(rows, key=f"evaluation-{key.replace('/', '-').replace('.', '-')}",
                              description=f"@20, mean ± std over seeds ({key}: {summary['description']})")
    create_markdown_artifact(to_markdown(report), key="evaluation-report", description="Offline evaluation")
    return report


if __name__ == "__main__":
    evaluate(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ml-latest-small")
