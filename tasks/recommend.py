"""Recommendation tasks: fit the models on the current catalogue and event log; rank everyone's top N in slices of
users; publish them in one commit."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reelmind import recommend
from reelmind.config import Settings
from reelmind.store import Store


@task(name="fit-recommender", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def fit_recommender(settings: Settings, model: str) -> tuple[str, int]:
    """Fit the model and save it in the database (what travels to the next task is the saved model, not this
    object); returns (version, active users)."""
    fitted = recommend.fit(settings, model)
    logger = get_run_logger()
    logger.info("fitted %s on %d users x %d videos; %d active users", fitted.version,
                fitted.model.interactions.n_users, fitted.model.interactions.n_items, len(fitted.active_users))
    report = fitted.model.report()
    for name, decided in report.get("components", {}).items():  # settings chosen on validation draws
        logger.info("component %s: %s", name, {k: v for k, v in decided.items() if k != "searched"})
    for stage, verdict in report.get("stages", {}).items():  # what validation kept, and why
        logger.info("stage %s: %s (%s)", stage, "kept" if verdict.get("kept") else "skipped", verdict.get("why", ""))
    return fitted.version, len(fitted.active_users)


@task(name="rank-users", task_run_name="rank-users-{index}", cache_policy=NO_CACHE, retries=1,
      retry_delay_seconds=5)
def rank_users(settings: Settings, version: str, index: int, start: int, stop: int, k: int) -> int:
    """Rank active users [start, stop) with the saved model and stage their picks (a table per slice); returns
    the picks staged (0 when the run was overtaken: a newer run's model replaced this run's)."""
    staged = recommend.rank_users(settings, version, index, start, stop, k)
    logger = get_run_logger()
    if staged is None:
        logger.info("slice %d: the saved model is no longer %s; a newer run writes the picks", index, version)
        return 0
    logger.info("slice %d: ranked users %d-%d, staged %d picks", index, start, stop - 1, staged)
    return staged


@task(name="publish-recommendations", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def publish_recommendations(settings: Settings, version: str, slices: int) -> int:
    """Swap the run's staged slices in as the `recommendations` table, in one commit."""
    rows = recommend.publish_recommendations(Store.open(settings.db), version, slices)
    logger = get_run_logger()
    if rows is None:
        logger.info("wrote no recommendations: a newer run's model replaced %s, and that run writes them", version)
        return 0
    logger.info("wrote %d recommendations (%s)", rows, version)
    return rows
