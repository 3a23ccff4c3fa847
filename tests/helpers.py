"""What the tests share besides fixtures: where things are, and small helpers (import them from here, not conftest)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "media_fixtures"
SHARED_MEDIA = REPO.parent / "shared" / "media"


def shared_media(name: str) -> Path:
    path = SHARED_MEDIA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared real clips sit beside the checkout only on project machines)")
    return path


def settings_for(db: str, **overrides):
    from reelmind.config import load_settings

    return load_settings(db=db, **overrides)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def video_record(video_id: str, **fields):
    """A stored video row for tests that build a database without ingesting: an audio-only 10 s clip titled by its
    id at /media/<id>.mp4, revision r1; `fields` override any column (`title` is also the document unless given)."""
    from datetime import UTC, datetime

    from reelmind.records import VideoRecord

    title = fields.get("title", video_id)
    row = dict(id=video_id, rev="r1", path=f"/media/{video_id}.mp4", content_hash=video_id * 4, sidecar_hash="",
               size_bytes=1, title=title, description="", tags=[], uploader="", published_at="", duration_s=10.0,
               container="mp4", has_audio=True, has_video=False, width=None, height=None, fps=None,
               audio_codec="aac", video_codec=None, language="en", transcript="", captions=[], caption_source="",
               ocr_text="", document=title, n_frames=0, n_segments=0, thumbnail_path="",
               ingested_at=datetime.now(UTC))
    return VideoRecord(**(row | fields))


def prefect_api_call(url: str, path: str, body: dict | None = None):
    """POST `body` to the Prefect REST API at `url` (e.g. http://127.0.0.1:4200/api) and return the JSON answer."""
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def flow_runs(url: str) -> list[dict]:
    """The server's flow runs: id, name, deployment name and state type."""
    runs = prefect_api_call(url, "/flow_runs/filter", {"limit": 50})
    deployments = {d["id"]: d["name"] for d in prefect_api_call(url, "/deployments/filter", {"limit": 50})}
    return [{"id": r["id"], "name": r["name"], "deployment": deployments.get(r["deployment_id"]),
             "state": r["state_type"]} for r in runs]


def wait_for(predicate, timeout_s: float, what: str):
    """The first truthy value of `predicate()`, polled each second; an AssertionError naming `what` on timeout."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
