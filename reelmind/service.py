"""`reelmind serve`: a Prefect server (or the one at PREFECT_API_URL), the deployments, the upload watcher and the
HTTP API with its page (reelmind.api), started together and stopped together.

Stop order matters (measured with Prefect 3.8): the deployment runner first, with SIGINT, waited for; then the
server. Every child runs in its own process group, so nothing it started outlives `serve`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from reelmind.config import Settings
from reelmind.watch import UploadWatcher, emit_prefect_event

SERVER_START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20


def wait_healthy(api_url: str, timeout_s: float = SERVER_START_TIMEOUT_S,
                 process: subprocess.Popen | None = None, name: str = "the Prefect server") -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} (see its log)")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{name} at {api_url} did not answer within {timeout_s:.0f} s")


def start_server(port: int, home: Path) -> tuple[subprocess.Popen, str]:
    home.mkdir(parents=True, exist_ok=True)  # Prefect exits (status 3) when its home is missing
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           # the UI calls the API at this address; without it, it assumes port 4200 whatever --port says
           "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_SERVER_API_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    log = (home / "server.log").open("ab")
    process = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{port}/api"


def start_deployments(api_url: str, settings: Settings, movielens: str | None) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_API_URL": api_url, "REELMIND_DB": settings.db,
           "REELMIND_MOVIELENS": movielens or ""}
    return subprocess.Popen([sys.executable, "-m", "flows.service"], env=env, cwd=Path(__file__).resolve().parents[1],
                            start_new_session=True)


def start_api(settings: Settings, port: int) -> tuple[subprocess.Popen, str]:
    """`reelmind api` on 127.0.0.1:`port`, in its own process (uvicorn handles its own signals)."""
    process = subprocess.Popen([sys.executable, "-m", "reelmind.cli", "api", "--db", settings.db, "--port", str(port)],
                               cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen | None) -> None:
    """SIGINT the process group, wait, then SIGKILL whatever is left of it."""
    if process is None:
        return
    for sig, wait in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            if sig != signal.SIGKILL:
                os.killpg(process.pid, signal.SIGKILL)  # children the leader left behind
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    with contextlib.suppress(subprocess.TimeoutExpired):  # it was killed; reap it if it goes in time
        process.wait(5)


def serve(settings: Settings, watch_dir: Path, port: int, movielens: str | None = None, api_port: int = 0) -> int:
    """Run until SIGINT/SIGTERM; `api_port` 0 starts no HTTP API."""
    server = runner = api = None
    stopping = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        api_url = os.environ.get("PREFECT_API_URL")
        if not api_url:
            server, api_url = start_server(port, settings.resolved_data_dir() / "prefect")
            print(f"starting a Prefect server: open http://127.0.0.1:{port} to watch", flush=True)
        wait_healthy(api_url, process=server)
        os.environ["PREFECT_API_URL"] = api_url  # the watcher's events go to this server
        runner = start_deployments(api_url, settings, movielens)
        if api_port:
            api, reelmind_url = start_api(settings, api_port)
            wait_healthy(reelmind_url, process=api, name="the ReelMind API")
            print(f"the ReelMind page and API: open {reelmind_url}", flush=True)
        state = settings.resolved_data_dir() / "watch" / "serve.json"

        def emit(uploads):
            emit_prefect_event(uploads)
            for upload in uploads:
                print(f"video.uploaded: {upload.path}", flush=True)

        watcher = UploadWatcher(watch_dir, state, settle_s=settings.settle_s, emit=emit)
        print(f"watching {watch_dir}; Ctrl-C to stop", flush=True)
        while not stopping.is_set():
            if runner.poll() is not None:
                print("error: the deployment runner exited", file=sys.stderr)
                return 1
            if api is not None and api.poll() is not None:
                print("error: the HTTP API exited", file=sys.stderr)
                return 1
            watcher.poll()
            stopping.wait(1.0)
        return 0
    finally:
        stop(api)
        stop(runner)
        stop(server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
