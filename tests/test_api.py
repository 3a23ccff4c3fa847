"""The HTTP API over the demo database, through a real `reelmind api` (uvicorn on 127.0.0.1): every route, and the
refusals of bad input (one-line JSON errors, no file outside the library, no unescaped SQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from reelmind.api import MAX_EVENTS_PER_REQUEST, MAX_K
from reelmind.records import EventRecord
from reelmind.search import MAX_QUERY_CHARS
from reelmind.store import Store

from api_server import ApiServer, demo_database
from helpers import FIXTURES, REPO

pytestmark = pytest.mark.slow  # the ingested fixtures and a server process


@pytest.fixture(scope="module")
def api(fixtures_db, tmp_path_factory):
    source, _ = fixtures_db
    folder = tmp_path_factory.mktemp("api")
    db = demo_database(source, folder)
    server = ApiServer(db, str(Path(source).parent), folder / "api.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ids(api) -> dict[str, str]:
    """Fixture file name -> video id."""
    return {Path(v["path"]).name: v["id"] for v in Store.open(api.db).videos(["id", "path"])}


def _error(response, status: int) -> str:
    assert response.status == status, response.body
    reason = response.json()["error"]
    assert reason and "\n" not in reason
    return reason


def test_search_finds_the_video_and_its_moment_with_a_thumbnail(api, ids):
    body = api.get("/search?q=how+to+make+tomato+soup&k=2").json()
    first = body["results"][0]
    assert first["video_id"] == ids["tomato_soup_recipe.mp4"] and len(body["results"]) == 2
    assert first["title"] == "Fresh Tomato Soup with Garlic and Basil"
    assert first["moment"]["start"] <= first["moment"]["end"] and first["moment"]["text"]
    thumbnail = api.get(first["thumbnail_url"])
    assert thumbnail.status == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.body[:2] == b"\xff\xd8"  # a JPEG
    assert first["media_url"] == f"/media/{first['video_id']}"

    chinese = api.get(f"/search?q={quote('火箭发射')}&k=1").json()
    assert [h["video_id"] for h in chinese["results"]] == [ids["space_station_mandarin.mp4"]]


def test_search_filters(api, ids):
    spoken = {h["video_id"] for h in api.get("/search?q=report&k=10&has_speech=true").json()["results"]}
    assert ids["quarterly_report_silent.mp4"] not in spoken and spoken
    chinese = {h["video_id"] for h in api.get("/search?q=report&k=10&language=zh").json()["results"]}
    assert chinese == {ids["space_station_mandarin.mp4"]}
    short = api.get("/search?q=report&k=10&max_duration_s=8").json()["results"]
    expected = {v["id"] for v in Store.open(api.db).videos(["id", "duration_s"]) if v["duration_s"] <= 8}
    assert {h["video_id"] for h in short} == expected
    # a value that would break a SQL string is data: it matches nothing
    assert api.get("/search?q=report&uploader=x%27%20OR%20%271%27%3D%271").json()["results"] == []


def test_video_has_its_segments_and_frames(api, ids):
    video_id = ids["tomato_soup_recipe.mp4"]
    body = api.get(f"/videos/{video_id}").json()
    assert body["id"] == video_id and body["language"] == "en" and body["has_video"]
    assert body["segments"] and " ".join(s["text"] for s in body["segments"]).strip() == body["transcript"].strip()
    assert [f["time_s"] for f in body["frames"]] == sorted(f["time_s"] for f in body["frames"])
    assert len(body["frames"]) == body["n_frames"] and all(api.get(f["thumbnail_url"]).status == 200
                                                           for f in body["frames"])
    assert "text_vector" not in body and "rev" not in body  # internal columns stay inside


def test_similar_videos_exclude_the_video_itself(api, ids):
    video_id = ids["tomato_soup_recipe.mp4"]
    body = api.get(f"/videos/{video_id}/similar?k=2").json()
    assert len(body["results"]) == 2 and video_id not in {r["video_id"] for r in body["results"]}
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert len(api.get(f"/videos/{video_id}/similar?k={MAX_K}").json()["results"]) == len(ids) - 1


def test_recommendations_stored_and_on_demand(api, ids):
    # chen liked the space station video: the run stored the other three, each with a reason
    body = api.get("/users/chen/recommendations?k=3").json()
    assert body["computed"] == "stored" and len(body["results"]) == 3
    assert ids["space_station_mandarin.mp4"] not in {r["video_id"] for r in body["results"]}
    assert all(r["reason"] and r["title"] for r in body["results"])
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    # a new user with stated interests gets picks now
    new = api.get("/users/newcomer/recommendations?k=2&interests=I+want+to+cook+soup+at+home").json()
    assert new["computed"] == "on demand" and new["results"][0]["video_id"] == ids["tomato_soup_recipe.mp4"]
    assert "interest" in new["results"][0]["reason"]


def test_users_lists_those_with_events(api):
    assert {u["user_id"] for u in api.get("/users").json()["users"]} >= {"alice", "bob", "chen", "dana"}


def test_posted_events_are_stored_once(api, ids):
    soup = ids["tomato_soup_recipe.mp4"]
    one = {"user_id": "erin", "event": "view", "video_id": "tomato_soup_recipe.mp4", "watch_fraction": 1.0,
           "timestamp": "2026-11-24T10:00:00Z"}
    assert api.post("/events", one).json() == {"received": 1, "stored": 1}
    assert api.post("/events", one).json() == {"received": 1, "stored": 0}  # the same event again: stored once
    events = Store.open(api.db).rows(EventRecord, where="user_id = 'erin'")
    assert [(e["video_id"], e["event"], e["watch_fraction"]) for e in events] == [(soup, "view", 1.0)]
    batch = [{"user_id": "erin", "event": "like", "video_id": ids["gardening_podcast.mp3"]},  # default time: now
             {"user_id": "erin", "event": "search", "text": "园艺"}]
    assert api.post("/events", batch).json() == {"received": 2, "stored": 2}
    assert Store.open(api.db).table("events").count_rows("user_id = 'erin'") == 3


def test_a_posted_view_changes_the_next_picks_at_once(api, ids):
    """What a user just watched is not recommended to them, with no recommend run in between."""
    space = ids["space_station_mandarin.mp4"]
    before = api.get("/users/alice/recommendations?k=3").json()["results"]
    assert space in {r["video_id"] for r in before}  # alice has not watched it: it is among her picks
    view = {"user_id": "alice", "event": "view", "video_id": space, "watch_fraction": 1.0}
    assert api.post("/events", view).json()["stored"] == 1
    after = api.get("/users/alice/recommendations?k=3").json()["results"]
    assert space not in {r["video_id"] for r in after}


def test_media_is_served_with_range_requests(api, ids):
    video_id = ids["tomato_soup_recipe.mp4"]
    data = (FIXTURES / "tomato_soup_recipe.mp4").read_bytes()
    whole = api.get(f"/media/{video_id}")
    assert whole.status == 200 and whole.body == data and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = api.get(f"/media/{video_id}", Range="bytes=100-199")
    assert part.status == 206 and part.body == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert api.get(f"/media/{ids['gardening_podcast.mp3']}").headers["content-type"] == "audio/mpeg"
    assert api.get(f"/media/{video_id}", Range=f"bytes={len(data) + 10}-").status == 416


def test_docs_and_openapi_are_served_locally(api):
    docs = api.get("/docs")
    assert docs.status == 200 and b"/docs-assets/swagger-ui-bundle.js" in docs.body
    assert b"https://" not in docs.body and b"http://" not in docs.body  # nothing from the internet
    assert api.get("/docs-assets/swagger-ui-bundle.js").status == 200
    paths = set(api.get("/openapi.json").json()["paths"])
    assert paths >= {"/search", "/videos/{video_id}", "/videos/{video_id}/similar", "/users/{user_id}/recommendations",
                     "/events", "/media/{video_id}", "/thumbnails/{name}", "/health"}


@pytest.mark.parametrize(("path", "status", "reason"), [
    ("/search?k=3", 422, "q: Field required"),
    ("/search?q=", 422, "q: String should have at least 1 character"),
    ("/search?q=%20%20", 422, "q: empty query"),
    (f"/search?q={'a' * (MAX_QUERY_CHARS + 1)}", 422, f"q: String should have at most {MAX_QUERY_CHARS} characters"),
    ("/search?q=soup&k=0", 422, "k: Input should be greater than or equal to 1"),
    (f"/search?q=soup&k={MAX_K + 1}", 422, f"k: Input should be less than or equal to {MAX_K}"),
    ("/search?q=soup&k=ten", 422, "k: Input should be a valid integer"),
    ("/search?q=soup&min_duration_s=-1", 422, "min_duration_s: Input should be greater than or equal to 0"),
    ("/videos/0123456789abcdef", 404, "unknown video '0123456789abcdef'"),
    ("/videos/x'%20OR%20'1'='1", 404, "unknown video"),
    ("/videos/0123456789abcdef/similar", 404, "unknown video"),
    ("/media/0123456789abcdef", 404, "unknown video"),
    ("/users/nobody/recommendations", 404, "unknown user 'nobody'"),
    ("/users/chen/recommendations?k=0", 422, "k: Input should be greater than or equal to 1"),
    (f"/users/chen/recommendations?k={MAX_K + 1}", 422, "k: Input should be less than or equal to"),
    (f"/users/{'u' * 201}/recommendations", 422, "user_id: String should have at most 200 characters"),
    ("/thumbnails/..%2F..%2F..%2Fetc%2Fpasswd", 404, "no thumbnail"),
    ("/thumbnails/%2E%2E/lancedb/videos.lance/_versions/1.manifest", 404, "no thumbnail"),
    ("/nowhere", 404, "Not Found"),
])
def test_bad_requests_get_one_line_reasons(api, path, status, reason):
    assert reason in _error(api.get(path), status)


@pytest.mark.parametrize(("payload", "status", "reason"), [
    ({"user_id": "erin", "event": "vote", "video_id": "tomato_soup_recipe.mp4"}, 422, "event 'vote' is not one of"),
    ({"user_id": "erin", "event": "view", "video_id": "missing.mp4"}, 422, "unknown video 'missing.mp4'"),
    ({"user_id": "erin", "event": "view"}, 422, "missing video_id"),
    ({"event": "view", "video_id": "tomato_soup_recipe.mp4"}, 422, "user_id: Field required"),
    ({"user_id": "erin", "event": "view", "video_id": "tomato_soup_recipe.mp4", "watch_fraction": 2}, 422,
     "watch_fraction 2.0 is outside 0..1"),
    ({"user_id": "erin", "event": "comment", "video_id": "tomato_soup_recipe.mp4"}, 422, "needs text"),
    ({"user_id": "erin", "event": "like", "video_id": "tomato_soup_recipe.mp4", "timestamp": "yesterday"}, 422,
     "neither Unix seconds nor ISO 8601"),
    ([{"user_id": "erin", "event": "like", "video_id": "gardening_podcast.mp3"},
      {"user_id": "erin", "event": "like", "video_id": "nope.mp4"}], 422, "event 1: unknown video 'nope.mp4'"),
    ([], 422, "no events in the request"),
    ([{"user_id": "erin", "event": "search", "text": "x"}] * (MAX_EVENTS_PER_REQUEST + 1), 413, "the limit is"),
    (b"{not json", 422, "the body is not valid JSON"),
    (b"x" * ((1 << 20) + 1), 413, "request body over"),
])
def test_bad_events_are_refused_and_nothing_is_stored(api, payload, status, reason):
    before = Store.open(api.db).table("events").count_rows()
    assert reason in _error(api.post("/events", payload), status)
    assert Store.open(api.db).table("events").count_rows() == before


def test_load_script_runs_clean(api, tmp_path):
    """benchmarks/api_load.py, short: concurrent clients get no errors (its 30 s figures are in the README)."""
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "api_load.py"), "--url", api.url, "--clients",
                           "8", "--seconds", "4", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    routes = {r["route"]: r for r in json.loads(out.read_text())["routes"]}
    assert set(routes) == {"search", "recommendations"}
    assert all(r["requests"] > 0 and r["errors"] == 0 and 0 < r["p50_ms"] <= r["p95_ms"] for r in routes.values())
