"""The web page in Debian's headless Chromium, served by a real `reelmind api` over the demo database: search from
the page, the right video first with its thumbnail, a click plays it from the matched moment, a user's picks with
reasons, "more like this", and the state in the URL."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from reelmind.store import Store

from api_server import ApiServer, demo_database
from browser import CHROMIUM, Browser

pytestmark = [pytest.mark.slow,  # the ingested fixtures, a server process and a browser
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")]

READY = "document.body?.dataset.state === 'ready'"
CARDS = ("[...document.querySelectorAll('#results .card')].map(c => ({id: c.dataset.videoId, "
         "start: Number(c.dataset.start), text: c.textContent, img: c.querySelector('img')?.naturalWidth || 0}))")
# The player once the browser has sought to the clicked moment and can show it.
PLAYER = ("(() => { const v = document.getElementById('video'); return v.readyState >= 2 && !v.seeking "
          "? {id: v.dataset.videoId, time: v.currentTime, error: v.error && v.error.message} : null })()")


@pytest.fixture(scope="module")
def server(fixtures_db, tmp_path_factory):
    source, _ = fixtures_db
    folder = tmp_path_factory.mktemp("web")
    server = ApiServer(demo_database(source, folder), str(Path(source).parent), folder / "api.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def ids(server) -> dict[str, str]:
    return {Path(v["path"]).name: v["id"] for v in Store.open(server.db).videos(["id", "path"])}


def _results(browser: Browser) -> list[dict]:
    browser.wait_for(READY, what="the page to show its results")
    browser.wait_for("[...document.querySelectorAll('#results img')].every(i => i.complete)", what="the thumbnails")
    return browser.evaluate(CARDS)


def test_search_from_the_page_then_play_from_the_moment(server, browser, ids):
    browser.open(server.url + "/")
    browser.wait_for(READY)
    browser.evaluate("document.getElementById('q').value = 'how to make tomato soup'; "
                     "document.getElementById('search-form').requestSubmit()")
    browser.wait_for("location.search.includes('q=')", what="the query in the URL")
    first = _results(browser)[0]
    assert first["id"] == ids["tomato_soup_recipe.mp4"]
    assert "Fresh Tomato Soup with Garlic and Basil" in first["text"]
    assert first["img"] > 0  # its thumbnail loaded
    assert browser.evaluate("new URLSearchParams(location.search).get('q')") == "how to make tomato soup"

    browser.evaluate("document.querySelector('#results .card .thumb').click()")
    player = browser.wait_for(PLAYER, what="the video to seek to the moment")
    assert player["id"] == first["id"] and player["error"] is None
    # at the moment's start: sought there, and at most a little past it if playback has begun
    assert first["start"] - 0.05 <= player["time"] <= first["start"] + 1.0, (player, first)
    # and it plays on from there
    browser.wait_for(f"document.getElementById('video').currentTime > {player['time'] + 0.2}", timeout_s=10,
                     what="playback to advance")


def test_a_shared_search_url_opens_with_its_results(server, browser, ids):
    browser.open(f"{server.url}/?q={quote('火箭发射')}")
    results = _results(browser)
    assert results[0]["id"] == ids["space_station_mandarin.mp4"] and results[0]["img"] > 0
    assert browser.evaluate("document.getElementById('q').value") == "火箭发射"


def test_a_users_recommendations_with_reasons(server, browser):
    browser.open(server.url + "/")
    browser.wait_for("document.querySelectorAll('#user option').length > 1", what="the user picker")
    browser.evaluate("const s = document.getElementById('user'); s.value = 'chen'; "
                     "s.dispatchEvent(new Event('change'))")
    browser.wait_for("location.search === '?user=chen'", what="the user in the URL")
    shown = _results(browser)
    picks = server.get("/users/chen/recommendations?k=12").json()["results"]
    assert [c["id"] for c in shown] == [p["video_id"] for p in picks] and shown
    for card, pick in zip(shown, picks):
        assert pick["title"] in card["text"] and pick["reason"] in card["text"]
        assert str(pick["score"]) not in card["text"]  # scores are the model's, not for people
    assert all(c["img"] > 0 for c, p in zip(shown, picks) if p["thumbnail_url"])


def test_more_like_this(server, browser, ids):
    soup = ids["tomato_soup_recipe.mp4"]
    browser.open(f"{server.url}/?q=tomato")
    card = f"document.querySelector('#results .card[data-video-id=\"{soup}\"] .more')"
    browser.wait_for(READY)
    browser.evaluate(f"{card}.click()")
    browser.wait_for(f"location.search === '?similar={soup}'", what="the video in the URL")
    shown = _results(browser)
    similar = server.get(f"/videos/{soup}/similar?k=12").json()["results"]
    assert [c["id"] for c in shown] == [s["video_id"] for s in similar] and soup not in {c["id"] for c in shown}
    assert "More like “Fresh Tomato Soup with Garlic and Basil”" in browser.evaluate(
        "document.getElementById('results-title').textContent")


def test_the_page_loads_nothing_from_elsewhere(server, browser):
    browser.open(f"{server.url}/?q=soup")
    browser.wait_for(READY)
    urls = browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(server.url) for u in urls), json.dumps(urls)
