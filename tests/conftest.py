"""Shared test set-up: real Prefect (a temporary local API), real LanceDB, the real offline models.

Expensive things happen once per session: Prefect's test harness, and ingesting `media_fixtures/` and
`../shared/media` into their own databases, which many tests then read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "media_fixtures"
SHARED_MEDIA = REPO.parent / "shared" / "media"


def shared_media(name: str) -> Path:
    path = SHARED_MEDIA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared real clips sit beside the checkout only on project machines)")
    return path


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


def settings_for(db: str, **overrides):
    from reelmind.config import load_settings

    return load_settings(db=db, **overrides)
