"""
# Recommend: refresh everyone's recommendations from what was ingested and what users did

    fit-recommender ──┬── rank-users-0 ──┬── publish-recommendations ── (artifacts: progress; sample picks)
                      ├── rank-users-1 ──┤
                      └── ...          ──┘

`fit-recommender` reads the `videos` table (titles, merged documents, text and visual vectors) and the `events`
table (views with watch fractions, likes, shares, skips, comments, searches), fits the hybrid recommender
(popularity, collaborative filtering, content-based interest profiles, fused by weights tuned on a validation
split) and saves it in the database's `models` table (arrays, JSON and LightGBM text, never code), so `reelmind
recommend` can answer users this run did not cover, and so each `rank-users` task can read it wherever it runs.
Each `rank-users` task ranks one slice of the active users (`reelmind.recommend.SLICE_USERS`) and stages their top
N in a table of its own; `publish-recommendations` swaps the slices in as the `recommendations` table in one
commit. On a Dask cluster (`REELMIND_TASK_RUNNER=dask`) the slices run at once, one per worker process; on the
default threads they run one after another (threads of one process would only share its cores and Python's lock).

Scheduled hourly and after ingests (see prefect.yaml); run it by hand with `python -m flows.recommend`.
"""

from __future__ import annotations

import base64
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import get_run_context
from prefect.futures import as_completed

from flows.runners import SettingsTaskRunner, runs_in_parallel
from reelmind.config import load_settings
from reelmind.recommend import stored_recommendations, user_slices
from reelmind.records import RecommendationRecord
from reelmind.store import Store
from tasks.recommend import fit_recommender, publish_recommendations, rank_users

# Picks stored per user; a request for more is computed on demand (reelmind.recommend.recommend_for).
TOP_N = 20
# Users shown in the run's artifact, and picks per user.
SAMPLE_USERS = 5
SAMPLE_PICKS = 3
THUMBNAIL_HEIGHT_PX = 72


@flow(name="recommend", flow_run_name="recommend-{model}", task_runner=SettingsTaskRunner())
def recommend(db: str | None = None, model: str = "hybrid", k: int = TOP_N) -> dict:
    settings = load_settings(db=db)
    version, users = fit_recommender(settings, model)
    slices = user_slices(users)
    at_once = runs_in_parallel(get_run_context().task_runner)
    progress = create_progress_artifact(0.0, key="recommend-progress",
                                        description=f"slices of {users} users ranked")
    ranked = []
    for index, (start, stop) in enumerate(slices):
        after = [] if at_once or not ranked else ranked[-1:]
        ranked.append(rank_users.submit(settings, version, index, start, stop, k, wait_for=after))
    for done, future in enumerate(as_completed(ranked), 1):
        future.result()  # a failed slice fails the run here; the stored picks stay the last run's
        update_progress_artifact(progress, 100.0 * done / len(ranked))
    if not ranked:
        update_progress_artifact(progress, 100.0)  # nobody active: nothing to rank
    rows = publish_recommendations(settings, version, len(slices))
    _publish_sample(settings, version)
    return {"model_version": version, "users": users, "rows": rows, "slices": len(slices)}


def _publish_sample(settings, version: str) -> None:
    """A Markdown artifact: a few users' top picks with thumbnails and reasons, for people to eyeball."""
    store = Store.open(settings.db)
    users = sorted({r["user_id"] for r in store.rows(RecommendationRecord, ["user_id"])})[:SAMPLE_USERS]
    if not users:
        return
    videos = {v["id"]: v for v in store.videos(["id", "title", "thumbnail_path"])}
    lines = [f"# Sample recommendations ({version})", ""]
    for user in users:
        lines += [f"## {user}", "", "| # | | video | why |", "|---|---|---|---|"]
        for r in stored_recommendations(store, user, SAMPLE_PICKS):
            video = videos.get(r["video_id"], {})
            lines.append(f"| {r['rank']} | {_thumbnail(video.get('thumbnail_path'))} | {video.get('title', '?')} "
                         f"| {r['reason']} |")
        lines.append("")
    create_markdown_artifact("\n".join(lines), key="sample-recommendations",
                             description="A few users' top picks, with why")


def _thumbnail(path: str | None) -> str:
    if not path or not Path(path).is_file():
        return "(audio)"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/jpeg;base64,{data}" height="{THUMBNAIL_HEIGHT_PX}"/>'


if __name__ == "__main__":
    print(recommend())
