"""A burst of uploads under `reelmind serve`: every file ingested exactly once, how long it takes, peak memory.

    python benchmarks/serve_burst.py [--files 200] [--json PATH]

Makes N distinct media files (the fixtures re-muxed with a different container tag each, so every copy is new
content with real speech, text on screen and shots), starts `reelmind serve` on a temporary database with its own
Prefect server on loopback, drops all N into the watched folder at once (each written under a partial name, then
renamed, as uploads land), and waits until every one is stored. Memory is the resident set of `serve` and every
process under it (server, deployment runner, flow-run subprocesses), sampled by
`reelmind.ingest_bench.PeakMemory`. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "media_fixtures"
SOURCES = ("tomato_soup_recipe.mp4", "gardening_podcast.mp3", "space_station_mandarin.mp4",
           "quarterly_report_silent.mp4")
SAMPLE_S = 0.5
# A generous ceiling: the burst must end well before, on any machine this runs on.
TIMEOUT_S = 3 * 3600


def make_files(folder: Path, n: int) -> list[Path]:
    """N distinct files: stream copies of the fixtures whose container tag differs (new content hash each)."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    folder.mkdir(parents=True)
    made = []
    for i in range(n):
        source = FIXTURES / SOURCES[i % len(SOURCES)]
        out = folder / f"{source.stem}-{i:04d}{source.suffix}"
        subprocess.run([ffmpeg, "-v", "error", "-i", str(source), "-map", "0", "-c", "copy",
                        "-metadata", f"comment=burst {i}", str(out)], check=True)
        made.append(out)
    return made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(url: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _runs(url: str) -> dict[str, list[str]]:
    """State of each flow run that was started (not the schedule's future runs), by deployment name."""
    deployments = {d["id"]: d["name"] for d in _api(url, "/deployments/filter", {"limit": 50})}
    runs: dict[str, list[str]] = {}
    for run in _api(url, "/flow_runs/filter", {"limit": 200}):
        if run["state_type"] != "SCHEDULED":
            runs.setdefault(deployments.get(run["deployment_id"], "?"), []).append(run["state_type"])
    return runs


def run(n: int) -> dict:
    sys.path.insert(0, str(REPO))
    from reelmind.ingest_bench import PeakMemory
    from reelmind.records import FailureRecord
    from reelmind.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = make_files(tmp / "made", n)
        uploads, db, port = tmp / "uploads", str(tmp / "lancedb"), _free_port()
        uploads.mkdir()
        url = f"http://127.0.0.1:{port}/api"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(REELMIND_DATA_DIR=str(tmp / "data"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   HF_HUB_OFFLINE="1", REELMIND_RECOMMEND_DELAY_S="30")
        command = [sys.executable, "-m", "reelmind.cli", "serve", "--watch", str(uploads), "--db", db,
                   "--port", str(port)]
        if "--api-port" in subprocess.run([*command[:4], "--help"], capture_output=True, text=True).stdout:
            command += ["--api-port", "0"]
        log = (tmp / "serve.log").open("w")
        serve = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            with PeakMemory(serve.pid) as memory:
                while "watching" not in (tmp / "serve.log").read_text():
                    if serve.poll() is not None:
                        raise SystemExit((tmp / "serve.log").read_text()[-3000:])
                    time.sleep(SAMPLE_S)
                dropped = time.monotonic()
                for path in files:
                    shutil.copy(path, uploads / f"{path.name}.part")
                    (uploads / f"{path.name}.part").rename(uploads / path.name)
                stored = 0
                while time.monotonic() - dropped < TIMEOUT_S:
                    table = Store(db).table("videos")
                    stored = table.count_rows() if table is not None else 0
                    if stored >= n:
                        break
                    time.sleep(SAMPLE_S)
                wall = time.monotonic() - dropped
                store = Store(db)
                paths = [v["path"] for v in store.videos(["path"])]
                failures = len(store.rows(FailureRecord))
                # recommendations after the burst: wait for the debounced refresh to run
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and "COMPLETED" not in _runs(url).get("recommend", []):
                    time.sleep(SAMPLE_S)
                runs = _runs(url)
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(timeout=120)
            log.close()
    return {"files": n, "stored_rows": len(paths), "distinct_paths": len(set(paths)), "failures": failures,
            "wall_s": round(wall, 1), "files_per_min": round(60 * len(paths) / wall, 1),
            "peak_rss_mb": round(memory.peak / 2 ** 20), "ingest_runs": len(runs.get("ingest", [])),
            "ingest_run_states": sorted(set(runs.get("ingest", []))),
            "recommend_runs": len(runs.get("recommend", [])), "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--json", default="serve_burst.json", help="where to write the results")
    args = parser.parse_args()
    result = run(args.files)
    width = max(map(len, result))
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in result.items():
        print(f"| {key:<{width}} | {value} |")
    Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
