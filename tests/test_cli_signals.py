"""`reelmind ingest` stopped with SIGTERM (as a service manager or `kill` does) leaves no process behind, in
particular not the temporary Prefect server it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers import FIXTURES, REPO

pytestmark = pytest.mark.slow  # a real ingest with its own temporary Prefect server


def test_sigterm_stops_the_temporary_prefect_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "reelmind.cli", "ingest", str(FIXTURES), "--db",
                             str(tmp_path / "lancedb")], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    family = psutil.Process(proc.pid)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not family.children(recursive=True):
            time.sleep(0.2)
        assert family.children(recursive=True), "the ingest should have started its temporary Prefect server"
        time.sleep(3)  # into the flow
        children = family.children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:  # whatever happened, leave nothing running
        for leftover in [family, *family.children(recursive=True)] if family.is_running() else []:
            leftover.kill()
