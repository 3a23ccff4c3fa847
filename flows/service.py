"""
# Service: the ingest, recommend and evaluate deployments, served from one process

`reelmind serve` starts this module next to a Prefect server; it registers the deployments and runs their flow
runs as they come due:

- `ingest/ingest` runs for every `video.uploaded` event (emitted by `reelmind watch`), with the uploaded files'
  paths from the event payload (the files that became ready together: one run for a burst), one run at a time
  (further runs wait their turn: each loads the models, and one run already keeps the cores busy);
- `recommend/recommend` runs hourly, and, debounced, a short while after ingests (see `flows.ingest`);
- `evaluate/evaluate` runs weekly on the MovieLens folder, when one is configured.

The same deployments are declared in prefect.yaml for `prefect deploy --all` with a process work pool.
"""

from __future__ import annotations

import os

from prefect import serve
from prefect.events import DeploymentEventTrigger

from flows.ingest import ingest
from flows.recommend import recommend
from reelmind.watch import EVENT_NAME as UPLOAD_EVENT

# prefect.yaml declares the same schedules for `prefect deploy` (tests/test_deployments.py keeps them equal).
RECOMMEND_CRON = "0 * * * *"        # hourly, on the hour
EVALUATE_CRON = "0 3 * * 1"         # Mondays 03:00
# The ingest run an upload event starts: its paths come from the event (a single-expression template keeps the
# list a list), and runs beyond this many at once wait in the queue.
UPLOAD_PARAMETERS = {"paths": "{{ event.payload.paths }}"}
INGEST_CONCURRENCY = 1


def deployments(db: str | None = None, movielens: str | None = None) -> list:
    params = {"db": db} if db else {}
    found = [
        ingest.to_deployment(
            name="ingest", tags=["reelmind", "ingest"], parameters=params, concurrency_limit=INGEST_CONCURRENCY,
            triggers=[DeploymentEventTrigger(
                name="on-upload", expect={UPLOAD_EVENT}, match={"prefect.resource.id": "video.*"},
                parameters={**UPLOAD_PARAMETERS, **params})]),
        recommend.to_deployment(name="recommend", tags=["reelmind", "recommend"], cron=RECOMMEND_CRON,
                                parameters=params),
    ]
    if movielens:
        from flows.evaluate import evaluate

        found.append(evaluate.to_deployment(name="evaluate", tags=["reelmind", "evaluate"], cron=EVALUATE_CRON,
                                            parameters={"movielens": movielens}))
    return found


if __name__ == "__main__":
    serve(*deployments(os.environ.get("REELMIND_DB"), os.environ.get("REELMIND_MOVIELENS") or None),
          print_starting_message=True)
