"""Shared test set-up: real Prefect (a temporary local API), real LanceDB, the real offline models.

Tests that need real models on real media, a Prefect server, a browser or the shared media are marked `slow`
(by hand, or below for the fixtures that imply it); `pytest -m "not slow"` runs the rest in under a minute.

Expensive things happen once per session: Prefect's test harness, and ingesting `media_fixtures/` and
`../shared/media` into their own databases, which many tests then read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import FIXTURES, SHARED_MEDIA

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Fixtures that start Prefect's API or run the real ingest flow: every test using one (directly or through another
# fixture) is marked slow, so `pytest -m "not slow"` is the fast tier without anyone remembering to mark it.
SLOW_FIXTURES = frozenset({"prefect_api", "fixtures_db", "shared_db"})


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """Model caches and Prefect's home in temporary folders, so tests never touch a user's."""
    cache = Path(os.environ.get("REELMIND_TEST_CACHE") or tmp_path_factory.mktemp("model-cache"))
    os.environ["REELMIND_CACHE_DIR"] = str(cache)
    yield


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def fixtures_db(prefect_api, tmp_path_factory):
    """media_fixtures/ ingested once by the real flow; returns (db uri, report)."""
    from flows.ingest import ingest

    db = str(tmp_path_factory.mktemp("fixtures") / "lancedb")
    report = ingest([str(FIXTURES)], db=db)
    return db, report


@pytest.fixture(scope="session")
def shared_db(prefect_api, tmp_path_factory):
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is absent (the shared real clips sit beside the checkout on project machines)")
    from flows.ingest import ingest

    db = str(tmp_path_factory.mktemp("shared") / "lancedb")
    report = ingest([str(SHARED_MEDIA)], db=db)
    return db, report
