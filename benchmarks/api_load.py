"""Load on the HTTP API: concurrent clients against search and recommendations, for a fixed time, on loopback.

    python benchmarks/api_load.py --db data/demo/lancedb [--clients 8] [--seconds 30] [--out FILE]
    python benchmarks/api_load.py --url http://127.0.0.1:8000 ...      (a server that is already running)

Without --url it starts `reelmind api` on a free port of 127.0.0.1 and stops it afterwards. Each client is a thread
with its own keep-alive connection that sends, one after another, a search (English and Chinese queries in turn) or
a user's recommendations (the users with events, k=10, and a new user with stated interests), chosen at random
(seed per client). One request of each kind is sent before the clock starts, so the first model loads are not
counted. The API keeps answers while the tables behind them are unchanged, so repeated requests measure that
cache; --unique makes every search query and stated interest new, so those are computed in full. Prints a table
(requests, errors, p50, p95, p99, max, requests per second, per route) and writes it as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

QUERIES = ("how to make tomato soup", "火箭发射", "quarterly revenue", "pruning apple trees", "空间站 宇航员",
           "garlic and basil", "sales report slides", "园艺播客")
NEW_USER_INTERESTS = "I like cooking and vegetarian recipes"
RECOMMEND_K = 10
SEARCH_K = 5
START_TIMEOUT_S = 60
DEFAULT_OUT = "data/benchmarks/api_load.json"


@dataclass(frozen=True)
class RouteStats:
    route: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    per_s: float


def percentile(sorted_ms: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of sorted values; 0 for none."""
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, max(0, math.ceil(q / 100 * len(sorted_ms)) - 1))]


def _paths(url: str, users: list[str]) -> dict[str, list[str]]:
    # the text (q, interests) last, so --unique can extend it
    searches = [f"/search?{urllib.parse.urlencode({'k': SEARCH_K, 'q': q})}" for q in QUERIES]
    recommendations = [f"/users/{urllib.parse.quote(u, safe='')}/recommendations?k={RECOMMEND_K}" for u in users]
    recommendations.append("/users/load-test-newcomer/recommendations?"
                           + urllib.parse.urlencode({"k": RECOMMEND_K, "interests": NEW_USER_INTERESTS}))
    return {"search": searches, "recommendations": recommendations}


def _client(url: str, paths: dict[str, list[str]], stop_at: float, seed: int, out: dict[str, list], lock,
            unique: bool = False) -> None:
    parsed = urllib.parse.urlsplit(url)
    rng = random.Random(seed)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    mine: dict[str, list] = {route: [] for route in paths}  # route -> [(ms, ok)]
    while time.perf_counter() < stop_at:
        route = rng.choice(sorted(paths))
        path = rng.choice(paths[route])
        if unique and ("&q=" in path or "&interests=" in path):  # text no request has sent before: no cached answer
            path += urllib.parse.quote(f" {seed}.{len(mine[route])}")
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        mine[route].append((1000 * (time.perf_counter() - started), ok))
    connection.close()
    with lock:
        for route, samples in mine.items():
            out[route].extend(samples)


def run_load(url: str, clients: int, seconds: float, unique: bool = False) -> list[RouteStats]:
    users = [u["user_id"] for u in _get_json(url, "/users")["users"]]
    paths = _paths(url, users)
    for route in paths.values():  # warm-up: models loaded, the saved model read
        for path in route:
            _get_json(url, path)
    samples: dict[str, list] = {route: [] for route in paths}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    threads = [threading.Thread(target=_client, args=(url, paths, stop_at, seed, samples, lock, unique))
               for seed in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    stats = []
    for route, values in samples.items():
        ms = sorted(m for m, _ in values)
        stats.append(RouteStats(route, len(values), sum(1 for _, ok in values if not ok), percentile(ms, 50),
                                percentile(ms, 95), percentile(ms, 99), ms[-1] if ms else 0.0, len(values) / wall))
    return stats


def _get_json(url: str, path: str) -> dict:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"error: GET {path}: {response.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        connection.close()


def start_server(db: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "reelmind.cli", "api", "--db", db, "--port", str(port)],
                               start_new_session=True, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: reelmind api exited with status {process.returncode}")
        try:
            _get_json(url, "/health")
            return process, url
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit(f"error: reelmind api did not answer within {START_TIMEOUT_S} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="database to serve (a server is started for the run)")
    where.add_argument("--url", help="a running ReelMind API")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--unique", action="store_true", help="every search query and stated interest is new "
                        "(a suffix per request): measures answers computed in full, none from the API's cache")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be >= 1 and --seconds > 0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    server, url = start_server(args.db) if args.db else (None, args.url.rstrip("/"))
    try:
        stats = run_load(url, args.clients, args.seconds, args.unique)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    print(f"{args.clients} clients for {args.seconds:.0f} s against {url} ({os.cpu_count()} CPUs)"
          + (", every query new" if args.unique else ""))
    print(f"{'route':<16} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'req/s':>7}")
    for s in stats:
        print(f"{s.route:<16} {s.requests:>9} {s.errors:>7} {s.p50_ms:>8.1f} {s.p95_ms:>8.1f} {s.p99_ms:>8.1f} "
              f"{s.max_ms:>8.1f} {s.per_s:>7.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"url": url, "db": args.db, "clients": args.clients, "seconds": args.seconds,
                               "unique": args.unique, "cpus": os.cpu_count(), "machine": platform.platform(),
                               "routes": [asdict(s) for s in stats]}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all(s.errors == 0 for s in stats) else 1


if __name__ == "__main__":
    sys.exit(main())
