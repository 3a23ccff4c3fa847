"""Service mode end to end, with a real Prefect server started on loopback by `reelmind serve`:
files dropped into the watched folder at once -> one `video.uploaded` -> one ingest run -> searchable -> a
recommend run;
the Prefect UI (headless Chromium) shows the run and its artifact; Ctrl-C/SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reelmind.search import search
from reelmind.store import Store

from helpers import FIXTURES, REPO, flow_runs, free_port, prefect_api_call, settings_for, wait_for

pytestmark = pytest.mark.slow  # real models in subprocesses against a Prefect server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Files dropped into the watched folder at once.
BURST = ("tomato_soup_recipe.mp4", "gardening_podcast.mp3", "space_station_mandarin.mp4")


def _browser_dom(url: str, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran, from Debian's headless Chromium (flags: no outside connections)."""
    profile = tmp_path / f"chrome-{time.monotonic_ns()}"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=30000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_upload_to_search_and_recommend(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    db = str(tmp_path / "lancedb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(REELMIND_DATA_DIR=str(tmp_path / "data"), REELMIND_SETTLE_S="1", REELMIND_RECOMMEND_DELAY_S="3",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", HF_HUB_OFFLINE="1")
    log = (tmp_path / "serve.log").open("w")
    api_port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "reelmind.cli", "serve", "--watch", str(uploads), "--db", db,
                              "--port", str(port), "--api-port", str(api_port)], cwd=REPO, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "watching" in (tmp_path / "serve.log").read_text(), 120, "the service to start")
        wait_for(lambda: {d["name"] for d in prefect_api_call(url, "/deployments/filter")} >= {"ingest", "recommend"},
                  60, "the deployments")
        for name in BURST:  # how uploads land: written under a partial name, then renamed
            shutil.copy(FIXTURES / name, uploads / f"{name}.part")
            (uploads / f"{name}.part").rename(uploads / name)

        def ingested():
            runs = [r for r in flow_runs(url) if r["deployment"] == "ingest"]
            done = [r for r in runs if r["state"] in ("COMPLETED", "FAILED", "CRASHED")]
            return runs if runs and len(done) == len(runs) and len(Store(db).videos(["id"])) == len(BURST) else None

        ingest_runs = wait_for(ingested, 240, "the burst's ingest runs")
        # the files became ready together: one run for all of them (two if the copies straddled a scan)
        assert 1 <= len(ingest_runs) <= 2 and {r["state"] for r in ingest_runs} == {"COMPLETED"}
        assert sorted(Path(v["path"]).name for v in Store(db).videos(["path"])) == sorted(BURST)  # each once
        hits = search("tomato soup recipe", settings_for(db), k=1)
        assert hits and Path(hits[0].path).name == "tomato_soup_recipe.mp4"
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/search?q=tomato+soup+recipe&k=1") as response:
            assert [h["video_id"] for h in json.loads(response.read())["results"]] == [hits[0].video_id]
        wait_for(lambda: [r for r in flow_runs(url) if r["deployment"] == "recommend"
                           and r["state"] == "COMPLETED"], 120, "a recommend run after the ingest")
        # debounced: the burst refreshed recommendations once or twice (the hourly schedule's future runs wait)
        assert len([r for r in flow_runs(url) if r["deployment"] == "recommend" and r["state"] != "SCHEDULED"]) <= 2
        ingest_run = ingest_runs[:1]
        artifacts = prefect_api_call(url, "/artifacts/filter", {"limit": 50})
        [table] = [a for a in artifacts if a["key"] == "ingested-videos"]
        assert sorted(row["file"] for row in json.loads(table["data"])) == sorted(BURST)

        if CHROMIUM:  # the UI, as a person would open it
            run_page = _browser_dom(f"http://127.0.0.1:{port}/runs/flow-run/{ingest_run[0]['id']}", tmp_path)
            assert ingest_run[0]["name"] in run_page and "Artifacts" in run_page
            artifact_page = _browser_dom(f"http://127.0.0.1:{port}/artifacts/artifact/{table['id']}", tmp_path)
            assert "ingested-videos" in artifact_page and "tomato_soup_recipe" in artifact_page
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=90)
        log.close()
    assert serve.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    time.sleep(1)
    assert not _group_alive(serve.pid)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "processes left behind"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chromium_is_usable():
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60).stdout
    assert "Chromium" in out
