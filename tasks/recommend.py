"""Recommendation tasks: fit the models on the current catalogue and event log; write everyone's top N."""

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


@task(name="write-recommendations", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def write_recommendations(settings: Settings, k: int) -> int:
    fitted = recommend.load_fitted(settings)
    rows = recommend.write_recommendations(Store.open(settings.db), fitted, k)
    get_run_logger().info("wrote %d recommendations for %d users (%s)", rows, len(fitted.active_users),
                          fitted.version)
    return rows
