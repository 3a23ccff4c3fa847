"""A real `reelmind api` server for the API, page and load tests: the demo database (media_fixtures ingested, the
demo users' events, a fitted model and stored picks) served by uvicorn on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from helpers import FIXTURES, REPO, free_port

START_TIMEOUT_S = 60
# Picks stored per user by the test's recommend run (as the recommend flow's TOP_N would).
STORED_PICKS = 20


def demo_database(ingested_db: str, folder: Path) -> str:
    """A copy of an ingested media_fixtures database with the demo events, a fitted model and stored picks (what
    `make demo` builds), fitted by the plain functions the recommend flow's tasks call."""
    from reelmind.config import load_settings
    from reelmind.events import import_events
    from reelmind.recommend import fit, write_recommendations
    from reelmind.store import Store

    db = str(folder / "lancedb")
    shutil.copytree(ingested_db, db)
    settings = load_settings(db=db, data_dir=str(Path(ingested_db).parent))  # the thumbnails stay where they are
    import_events(FIXTURES / "demo_events.csv", Store.open(db), settings)
    write_recommendations(Store.open(db), fit(settings), STORED_PICKS)
    return db


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class ApiServer:
    """`python -m reelmind.cli api` in its own process group, stopped with SIGTERM (uvicorn's graceful stop)."""

    def __init__(self, db: str, data_dir: str, log: Path, **env: str):
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, "REELMIND_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1", **env}
        self.log = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "reelmind.cli", "api", "--db", db, "--port",
                                         str(self.port)], cwd=REPO, env=environ, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._log_path = log
        deadline = time.time() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"reelmind api exited: {log.read_text()[-2000:]}")
            try:
                if self.get("/health").status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise AssertionError(f"reelmind api did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.2)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        """The response, whatever its status (4xx and 5xx included)."""
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Response(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def get(self, path: str, **headers: str) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, payload, **headers: str) -> Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json", **headers})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
