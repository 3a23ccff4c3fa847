"""The Prefect server on PostgreSQL runs ReelMind's deployments: Debian's PostgreSQL, started by the test on
127.0.0.1 in a temporary folder; `reelmind serve`'s server and deployment runner (reelmind.service) pointed at it;
an ingest run created through the API completes, its video is searchable, and the run is in PostgreSQL's tables."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from reelmind.config import Settings
from reelmind.service import start_deployments, start_server, stop, wait_healthy
from reelmind.store import Store

from helpers import FIXTURES, flow_runs, free_port, prefect_api_call, wait_for

pytestmark = pytest.mark.slow


def _postgres_bin() -> str | None:
    """Debian keeps the server's programs off PATH, in /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(os.path.realpath(found))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(versions[-1]) if versions else None


PG_BIN = _postgres_bin()


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture()
def postgres():
    """A PostgreSQL server on 127.0.0.1 with a `prefect` database; yields its SQLAlchemy URL for Prefect."""
    if PG_BIN is None:
        pytest.skip("Debian's postgresql is not installed (.ci/run installs it)")
    run_as = _as_postgres_user()
    # Not under pytest's temporary folder, which only root may enter: the server's own user must reach its data.
    root = Path(tempfile.mkdtemp(prefix="reelmind-pg-"))
    root.chmod(0o755)
    data, port = root / "data", free_port()
    data.mkdir()
    if run_as:
        shutil.chown(data, "postgres")
    subprocess.run([*run_as, f"{PG_BIN}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*run_as, f"{PG_BIN}/pg_ctl", "-D", str(data), "-w", "-l", str(data / "server.log"), "-o",
                    f"-h 127.0.0.1 -p {port} -k {data}", "start"], check=True, capture_output=True)
    try:
        subprocess.run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect"],
                       check=True, capture_output=True)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect", port
    finally:
        subprocess.run([*run_as, f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _psql(port: int, sql: str) -> str:
    return subprocess.run([f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "prefect",
                           "-tAc", sql], check=True, capture_output=True, text=True).stdout.strip()


def test_deployments_run_on_a_prefect_server_backed_by_postgresql(postgres, tmp_path, monkeypatch):
    url, port = postgres
    for name in [k for k in os.environ if k.startswith("PREFECT_")]:
        monkeypatch.delenv(name)  # this test's server only, not the session's temporary one
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", url)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    settings = Settings(db=str(tmp_path / "lancedb"), data_dir=str(tmp_path / "data"))
    server, api = start_server(free_port(), tmp_path / "prefect")
    runner = None
    try:
        wait_healthy(api, process=server)
        runner = start_deployments(api, settings, None)
        [deployment] = wait_for(lambda: [d for d in prefect_api_call(api, "/deployments/filter")
                                         if d["name"] == "ingest"], 120, "the ingest deployment")
        media = str(FIXTURES / "gardening_podcast.mp3")
        run = prefect_api_call(api, f"/deployments/{deployment['id']}/create_flow_run",
                               {"parameters": {"paths": [media], "db": settings.db}})
        wait_for(lambda: [r for r in flow_runs(api) if r["id"] == run["id"]
                          and r["state"] in ("COMPLETED", "FAILED", "CRASHED")], 300, "the ingest run")
        assert [r["state"] for r in flow_runs(api) if r["id"] == run["id"]] == ["COMPLETED"]
    finally:
        stop(runner)
        stop(server)
    assert [v["path"] for v in Store(settings.db).videos(["path"])] == [media]
    # the run lives in PostgreSQL: Prefect's own tables there hold it
    assert _psql(port, f"SELECT state_type FROM flow_run WHERE id = '{run['id']}'") == "COMPLETED"
