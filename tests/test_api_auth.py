"""The API's guards on a real uvicorn server (in a thread, on 127.0.0.1) over an empty database: the API key, the
thumbnails folder as the only place thumbnails come from, the body size limit, and the page and docs served from
the package with nothing from the internet. No model is loaded: fast tier."""

from __future__ import annotations

import http.client
import re
import threading
import time
from pathlib import Path

import pytest

from reelmind.api import KEY_COOKIE, MAX_BODY_BYTES, WEB_DIR, create_app

from helpers import free_port, settings_for

KEY = "a-test-key-of-some-length"


class ThreadServer:
    """uvicorn serving the app in a thread of this process (it leaves signal handling to the main thread)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            assert time.time() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str):
        """(status, headers, body) as sent: redirects are not followed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture()
def library(tmp_path):
    """An empty database whose data folder holds one thumbnail, with a file beside the thumbnails folder."""
    thumbnails = tmp_path / "data" / "thumbnails" / "db" / "0123456789abcdef"
    thumbnails.mkdir(parents=True)
    (thumbnails / "000000500.jpg").write_bytes(b"\xff\xd8 a thumbnail")
    (thumbnails / "notes.txt").write_text("not a picture")
    (tmp_path / "data" / "secret.jpg").write_bytes(b"outside the thumbnails folder")
    (thumbnails / "link.jpg").symlink_to(tmp_path / "data" / "secret.jpg")
    return tmp_path


def _serve(library: Path, **settings):
    return ThreadServer(create_app(settings_for(str(library / "lancedb"), data_dir=str(library / "data"),
                                                **settings)))


@pytest.fixture()
def open_server(library):
    server = _serve(library)
    yield server
    server.stop()


@pytest.fixture()
def keyed_server(library):
    server = _serve(library, api_key=KEY)
    yield server
    server.stop()


def test_every_route_but_health_needs_the_key(keyed_server):
    assert keyed_server.request("GET", "/health")[0] == 200
    for path in ("/", "/docs", "/openapi.json", "/users", "/search?q=soup", "/videos/0123456789abcdef",
                 "/media/0123456789abcdef", "/thumbnails/db/0123456789abcdef/000000500.jpg", "/static/app.js"):
        status, _, body = keyed_server.request("GET", path)
        assert (status, body) == (401, b'{"error":"missing or wrong API key (send X-API-Key or Authorization: '
                                       b'Bearer)"}'), path
    assert keyed_server.request("POST", "/events", b"{}", **{"Content-Type": "application/json"})[0] == 401
    assert keyed_server.request("GET", "/users", **{"X-API-Key": KEY + "x"})[0] == 401
    assert keyed_server.request("GET", "/users", Authorization=f"Basic {KEY}")[0] == 401
    assert keyed_server.request("GET", "/users", **{"X-API-Key": KEY})[:1] == (200,)
    assert keyed_server.request("GET", "/users", Authorization=f"Bearer {KEY}")[2] == b'{"users":[]}'


def test_the_page_takes_the_key_once_and_keeps_it_in_a_cookie(keyed_server):
    assert keyed_server.request("GET", "/?key=wrong&q=soup")[0] == 401
    status, headers, _ = keyed_server.request("GET", "/?q=soup&key=" + KEY)
    assert status == 303 and headers["location"] == "/?q=soup"  # the key leaves the address bar
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{KEY_COOKIE}={KEY};") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    status, _, page = keyed_server.request("GET", "/?q=soup", Cookie=f"{KEY_COOKIE}={KEY}")
    assert status == 200 and b"<title>ReelMind</title>" in page
    assert keyed_server.request("GET", "/users", Cookie=f"{KEY_COOKIE}=wrong")[0] == 401


def test_no_key_configured_means_no_key_asked(open_server):
    assert open_server.request("GET", "/users")[2] == b'{"users":[]}'


def test_thumbnails_come_only_from_the_thumbnails_folder(open_server):
    status, headers, body = open_server.request("GET", "/thumbnails/db/0123456789abcdef/000000500.jpg")
    assert (status, headers["content-type"], body) == (200, "image/jpeg", b"\xff\xd8 a thumbnail")
    for path in ("/thumbnails/..%2F..%2Fsecret.jpg", "/thumbnails/%2E%2E/%2E%2E/%2E%2E/secret.jpg",
                 "/thumbnails/db/0123456789abcdef/link.jpg",  # a link out of the folder
                 "/thumbnails/db/0123456789abcdef/notes.txt", "/thumbnails//etc/passwd",
                 "/thumbnails/db/0123456789abcdef/missing.jpg"):
        status, _, body = open_server.request("GET", path)
        assert status == 404 and body.startswith(b'{"error":"no thumbnail '), path


def test_unknown_videos_and_oversized_bodies(open_server):
    assert open_server.request("GET", "/media/0123456789abcdef")[2] == b'{"error":"unknown video \'0123456789abcdef\'"}'
    assert open_server.request("GET", "/media/..%2F..%2Fetc%2Fpasswd")[0] == 404
    status, _, body = open_server.request("POST", "/events", b"[]" + b" " * MAX_BODY_BYTES,
                                          **{"Content-Type": "application/json"})
    assert status == 413 and body == f'{{"error":"request body over {MAX_BODY_BYTES} bytes"}}'.encode()


def test_page_and_docs_use_nothing_from_the_internet(open_server):
    for path in ("/", "/docs"):
        status, _, body = open_server.request("GET", path)
        assert status == 200
        for url in re.findall(rb'(?:src|href)="([^"]+)"', body) + re.findall(rb"url: '([^']+)'", body):
            assert url.startswith(b"/"), (path, url)  # same server
            assert open_server.request("GET", url.decode())[0] == 200, url
    for asset in WEB_DIR.iterdir():
        assert b"http://" not in asset.read_bytes() and b"https://" not in asset.read_bytes(), asset.name
