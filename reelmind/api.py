"""`reelmind api`: search, videos, recommendations and user events over HTTP, and the web page that uses them.

    GET  /search?q=...&k=...[&language=...]     videos and their best moments (the search filters as parameters)
    GET  /videos/{id}                           metadata, transcript segments, frames with thumbnail URLs
    GET  /videos/{id}/similar?k=...             the videos nearest to it in content
    GET  /users                                 users with events (for the page's picker)
    GET  /users/{id}/recommendations?k=...      stored picks, or picks computed now, each with its reason
    POST /events                                one event or a list, validated as `reelmind events import` does
    GET  /media/{id}, /thumbnails/{path}        files, with HTTP range requests (a browser seeks in the video)
    GET  /health, /docs, /                      liveness, the OpenAPI page (served locally), the web page

Every route reads the same database and models as the command line (`reelmind.search`, `reelmind.recommend`,
`reelmind.events`); this module only turns HTTP into their calls and their answers into JSON. What a client sends
reaches LanceDB only through `sql_str`, a file only when it is a stored video's path or lies inside the thumbnails
folder, and nothing reaches a shell. A bad request gets a 4xx whose JSON body is one line: `{"error": "..."}`.

With `api_key` set (REELMIND_API_KEY), every route but /health needs it: header `X-API-Key` or `Authorization:
Bearer ...`. A browser cannot add headers to a video or image request, so opening `/?key=...` once stores the key
in an HttpOnly, same-site cookie and redirects to the page without it in the URL.
"""

from __future__ import annotations

import hmac
import mimetypes
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Body, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelmind.config import Settings
from reelmind.errors import ReelMindError, one_line
from reelmind.events import VideoResolver, validate, write_events
from reelmind.privacy import store_user_id
from reelmind.records import (
    EventRecord,
    FrameRecord,
    ModelRecord,
    RecommendationRecord,
    SegmentRecord,
    VideoRecord,
)
from reelmind.search import MAX_QUERY_CHARS, SearchFilters, search
from reelmind.store import Store, sql_in, sql_str

WEB_DIR = Path(__file__).with_name("web")
# Results per request: a few pages of a result list. More is a batch job (the recommend flow, `reelmind videos`).
MAX_K = 100
DEFAULT_K = 10
# Events per POST: a client's buffered batch of a few seconds; a backfill goes through `reelmind events import`.
MAX_EVENTS_PER_REQUEST = 100
# A request body past this is refused before it is parsed: 100 events of a comment each (<= 2,000 characters,
# up to 4 bytes each in UTF-8) fit in well under 1 MiB.
MAX_BODY_BYTES = 1 << 20
# User ids are names or hashes (32 hex digits when pseudonymised); anything longer is not an id.
MAX_USER_ID_CHARS = 200
# Video ids are the first 16 hex digits of the content's SHA-256 (reelmind.probe).
VIDEO_ID_PATTERN = r"^[0-9a-f]{16}$"
# Files a thumbnail URL may name (frames.py writes JPEG).
THUMBNAIL_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
KEY_COOKIE = "reelmind_api_key"
# Answers kept per route (search, recommendations), least recently used dropped first: a few thousand small JSON
# documents, a few MB. Popular queries and returning users repeat; an answer is kept only while the tables it was
# computed from are unchanged (see AnswerCache).
CACHED_ANSWERS = 2048
# The tables each cached route reads: a new version of any of them (an ingest, an event, a recommend run) is a miss.
SEARCH_TABLES = (VideoRecord.table, SegmentRecord.table, FrameRecord.table)
RECOMMEND_TABLES = (VideoRecord.table, EventRecord.table, RecommendationRecord.table, ModelRecord.table)
# How pydantic names the two forms POST /events accepts in an error's location.
EVENT_TAG, BATCH_TAG = "EventIn", "list[EventIn]"
UNION_TAGS = (EVENT_TAG, BATCH_TAG)
OPEN_ROUTES = ("/health",)


class ApiError(Exception):
    """A request the API refuses: its status and one line saying why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = one_line(reason)


class EventIn(BaseModel):
    """One user event as a client sends it (what `reelmind events import` reads from a row)."""
    user_id: str = Field(min_length=1, max_length=MAX_USER_ID_CHARS)
    event: str = Field(description="view, like, share, skip, comment or search")
    video_id: str = Field("", max_length=MAX_USER_ID_CHARS, description="video id or unique file name; "
                          "empty for a search")
    timestamp: str | float | None = Field(None, description="Unix seconds or ISO 8601; default: now")
    watch_fraction: float | None = Field(None, description="for a view: the part watched, 0..1")
    text: str | None = Field(None, max_length=MAX_QUERY_CHARS, description="a comment's or a search's words")


class AnswerCache:
    """Answers by request, valid for the table versions they were computed from. Every write to a LanceDB table
    makes a new version, so an answer served from here is the one computing it again would give (checking the
    versions costs ~1 ms; a search's query embedding ~50 ms, serialised on the text model)."""

    def __init__(self, store: Callable[[], Store], tables: Sequence[str], size: int = CACHED_ANSWERS):
        self._store, self._tables, self._size = store, tuple(tables), size
        self._answers: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request: tuple, compute: Callable[[], Any]) -> Any:
        store = self._store()
        key = (request, tuple(t.version if (t := store.table(name)) is not None else None for name in self._tables))
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = compute()  # outside the lock: other requests go on meanwhile
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return answer


def create_app(settings: Settings) -> FastAPI:
    """The API and the page over `settings.db` (the database is opened on the first request)."""
    app = FastAPI(title="ReelMind", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Search videos by what is said and shown in them, and recommend them, with reasons.")
    app.state.settings = settings
    searches = AnswerCache(lambda: _store(settings), SEARCH_TABLES)
    recommended = AnswerCache(lambda: _store(settings), RECOMMEND_TABLES)
    _add_errors(app)
    _add_auth(app, settings.api_key)
    _add_docs(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/health", tags=["service"])
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/search", tags=["search"])
    def search_videos(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Chinese or English")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = DEFAULT_K,
        language: Annotated[str | None, Query(max_length=8)] = None,
        min_duration_s: Annotated[float | None, Query(ge=0)] = None,
        max_duration_s: Annotated[float | None, Query(ge=0)] = None,
        uploader: Annotated[str | None, Query(max_length=MAX_USER_ID_CHARS)] = None,
        published_after: Annotated[str | None, Query(max_length=40, description="ISO 8601")] = None,
        published_before: Annotated[str | None, Query(max_length=40)] = None,
        has_speech: bool = False,
        has_screen_text: bool = False,
    ) -> dict:
        filters = SearchFilters(language, min_duration_s, max_duration_s, uploader, published_after,
                                published_before, has_speech, has_screen_text)

        def answer() -> dict:
            try:
                hits = search(q, settings, k=k, filters=filters)
            except ValueError as exc:  # an empty query after trimming
                raise ApiError(422, f"q: {exc}") from None
            videos = _videos_by_id(_store(settings), {h.video_id for h in hits})
            return {"query": q, "results": [
                {**_card(settings, videos.get(h.video_id, {"id": h.video_id, "title": h.title})),
                 "score": round(h.score, 4), "match": h.match,
                 "moment": None if h.start is None else {"start": h.start, "end": h.end, "text": h.text},
                 "thumbnail_url": _thumbnail_url(settings, h.thumbnail_path)}  # the moment's frame, if it is one
                for h in hits]}

        return searches.get((q, k, filters), answer)

    @app.get("/videos/{video_id}", tags=["videos"])
    def video(video_id: Annotated[str, PathParam()]) -> dict:
        row = _video_row(settings, video_id)
        store = _store(settings)
        segments = store.children(SegmentRecord, video_id, row["rev"])
        frames = store.children(FrameRecord, video_id, row["rev"])
        return {**_video_view(settings, row),
                "segments": [{"start": s["start"], "end": s["end"], "text": s["text"]} for s in segments],
                "frames": [{"time_s": f["time_s"], "labels": list(f["labels"] or []), "caption": f["caption"],
                            "ocr_text": f["ocr_text"], "thumbnail_url": _thumbnail_url(settings, f["thumbnail_path"])}
                           for f in frames]}

    @app.get("/videos/{video_id}/similar", tags=["videos"])
    def similar(video_id: str, k: Annotated[int, Query(ge=1, le=MAX_K)] = 5) -> dict:
        row = _video_row(settings, video_id)
        if row["text_vector"] is None:
            return {"video_id": video_id, "results": []}
        near = _store(settings).nearest("videos", "text_vector", row["text_vector"], k + 1)
        return {"video_id": video_id, "results": [
            {**_card(settings, r), "score": round(r["score"], 4), "reason": f"close in content to {row['title']}"}
            for r in near if r["id"] != video_id][:k]}

    @app.get("/users", tags=["recommendations"])
    def users() -> dict:
        rows = _store(settings).rows(EventRecord, ["user_id"])
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["user_id"]] = counts.get(r["user_id"], 0) + 1
        return {"users": [{"user_id": u, "events": n} for u, n in sorted(counts.items())]}

    @app.get("/users/{user_id}/recommendations", tags=["recommendations"])
    def recommendations(
        user_id: Annotated[str, PathParam(max_length=MAX_USER_ID_CHARS)],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = DEFAULT_K,
        interests: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS,
                                               description="stated interests, for a new user")] = None,
    ) -> dict:
        from reelmind.recommend import recommend_for  # imports the recommenders: only when first asked

        interests = (interests or "").strip() or None
        stored_id = store_user_id(user_id, settings)

        def answer() -> dict:
            store = _store(settings)
            if interests is None and not _known_user(store, stored_id):
                raise ApiError(404, f"unknown user {user_id!r} (no events stored; pass interests=... for a new "
                                    f"user's picks)")
            picks = recommend_for(settings, stored_id, k=k, interests=interests)
            videos = _videos_by_id(store, {p["video_id"] for p in picks})
            return {"user_id": user_id, "computed": picks[0]["computed"] if picks else None,
                    "model_version": picks[0]["model_version"] if picks else None,
                    "results": [{"rank": p["rank"], **_card(settings, videos[p["video_id"]]), "reason": p["reason"],
                                 "source": p["source"], "score": round(float(p["score"]), 4)}
                                for p in picks if p["video_id"] in videos]}

        return recommended.get((stored_id, k, interests), answer)

    @app.post("/events", tags=["recommendations"])
    def post_events(events: Annotated[EventIn | list[EventIn], Body()]) -> dict:
        batch = events if isinstance(events, list) else [events]
        if not batch:
            raise ApiError(422, "no events in the request")
        if len(batch) > MAX_EVENTS_PER_REQUEST:
            raise ApiError(413, f"{len(batch)} events in one request; the limit is {MAX_EVENTS_PER_REQUEST}")
        store = _store(settings)
        resolver = VideoResolver(store)
        now = datetime.now(UTC).isoformat()
        records = []
        for n, event in enumerate(batch):
            record = event.model_dump()
            if record["timestamp"] is None:
                record["timestamp"] = now
            try:
                records.append(validate(record, resolver, settings))
            except ValueError as exc:
                where = f"event {n}: " if len(batch) > 1 else ""
                raise ApiError(422, f"{where}{exc}; nothing was stored") from None
        return {"received": len(records), "stored": write_events(store, records)}

    @app.get("/media/{video_id}", tags=["files"], response_class=FileResponse)
    def media(video_id: str) -> FileResponse:
        path = Path(_video_row(settings, video_id, ["id", "path"])["path"])
        if not path.is_file():
            raise ApiError(404, f"the file of video {video_id} is no longer at {path}")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind)

    @app.get("/thumbnails/{name:path}", tags=["files"], response_class=FileResponse)
    def thumbnail(name: str) -> FileResponse:
        root = settings.thumbnails_dir.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or path.suffix.lower() not in THUMBNAIL_SUFFIXES or not path.is_file():
            raise ApiError(404, f"no thumbnail {name!r}")
        return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0])

    return app


# -- helpers ---------------------------------------------------------------------------------------------------------

def _store(settings: Settings) -> Store:
    return Store.open(settings.db)


def _video_row(settings: Settings, video_id: str, columns: list[str] | None = None) -> dict:
    """The stored row of `video_id` (all columns, or `columns`), or a 404."""
    rows = _store(settings).videos(columns, where=f"id = {sql_str(video_id)}") \
        if re.fullmatch(VIDEO_ID_PATTERN, video_id) else []
    if not rows:
        raise ApiError(404, f"unknown video {video_id!r}")
    return rows[0]


def _videos_by_id(store: Store, ids: set[str]) -> dict[str, dict]:
    if not ids:
        return {}
    return {r["id"]: r for r in store.videos(["id", "title", "duration_s", "language", "thumbnail_path", "has_video"],
                                             where=f"id IN {sql_in(sorted(ids))}")}


def _known_user(store: Store, user_id: str) -> bool:
    """Whether the database holds anything about the user: events or stored picks."""
    where = f"user_id = {sql_str(user_id)}"
    for record in (RecommendationRecord, EventRecord):
        table = store.table(record.table)
        if table is not None and table.count_rows(where):
            return True
    return False


def _thumbnail_url(settings: Settings, path: str | None) -> str | None:
    """The URL of a stored thumbnail, or None when there is none (audio) or it is not in the thumbnails folder."""
    if not path:
        return None
    try:
        relative = Path(path).resolve().relative_to(settings.thumbnails_dir.resolve())
    except ValueError:
        return None
    return f"/thumbnails/{relative.as_posix()}"


def _card(settings: Settings, row: dict) -> dict:
    """What a list of videos shows for one: id, title, duration, thumbnail and file URLs."""
    return {"video_id": row["id"], "title": row["title"], "duration_s": row.get("duration_s"),
            "has_video": row.get("has_video"), "thumbnail_url": _thumbnail_url(settings, row.get("thumbnail_path")),
            "media_url": f"/media/{row['id']}"}


def _video_view(settings: Settings, row: dict) -> dict:
    view = VideoRecord.public_view({c: row[c] for c in VideoRecord.public_columns() if c in row})
    return {**view, "thumbnail_url": _thumbnail_url(settings, row.get("thumbnail_path")),
            "media_url": f"/media/{row['id']}"}


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": one_line(" ".join(reason.split()))}, status_code=status)


def _add_errors(app: FastAPI) -> None:
    """Every refusal as `{"error": "<one line>"}`: ours, FastAPI's validation, Starlette's 404/405."""

    @app.exception_handler(ApiError)
    def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.reason)

    @app.exception_handler(RequestValidationError)
    def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if errors[0].get("type") == "json_invalid":
            return _error(422, "the body is not valid JSON")
        # POST /events takes one event or a list: report the errors of the form the client sent
        sent = BATCH_TAG if isinstance(getattr(exc, "body", None), list) else EVENT_TAG
        first = next((e for e in errors if sent in e.get("loc", ())), errors[0])
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", *UNION_TAGS))
        return _error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(ReelMindError)
    def refused(_request: Request, exc: ReelMindError) -> JSONResponse:
        # the database or its models cannot answer (another text model, an unreadable saved model): not the client
        return _error(503, str(exc).splitlines()[0])


def _add_auth(app: FastAPI, key: str) -> None:
    """With a key, every route but OPEN_ROUTES answers 401 without it; a body over MAX_BODY_BYTES is refused."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Any):
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
        if not key or request.url.path in OPEN_ROUTES:
            return await call_next(request)
        if request.url.path == "/" and _same(request.query_params.get("key"), key):
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "key"])
            response = RedirectResponse("/" + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict")
            return response
        bearer = request.headers.get("authorization", "")
        given = request.headers.get("x-api-key") or (bearer[7:] if bearer[:7].lower() == "bearer " else None) \
            or request.cookies.get(KEY_COOKIE)
        if not _same(given, key):
            return _error(401, "missing or wrong API key (send X-API-Key or Authorization: Bearer)")
        return await call_next(request)


def _same(given: str | None, key: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


def _add_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's files from the swagger-ui-bundle wheel: nothing is fetched from the internet."""
    import swagger_ui_bundle

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ReelMind API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


def _prewarm(settings: Settings) -> None:
    try:
        _store(settings).prewarm()
    except (OSError, RuntimeError, ValueError, ReelMindError) as exc:  # searches are only slower for it
        print(f"warning: the vector indexes were not loaded ahead: {one_line(str(exc))[:200]}", flush=True)


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn stops gracefully on both)."""
    import uvicorn
    from threadpoolctl import threadpool_limits

    # Requests are answered side by side in threads: a second BLAS thread per request only contends with the
    # others (benchmarks/recommend_speed.py: new-user p95 116 ms with two threads, 10 ms with one).
    threadpool_limits(1, "blas")
    # The vector indexes into LanceDB's cache while the server starts, and again after an upkeep changes them
    # (Store.prewarm): a search of a cold index reads each probed partition apart.
    threading.Thread(target=_prewarm, args=(settings,), name="reelmind-prewarm", daemon=True).start()
    print(f"ReelMind API on http://{host}:{port} (page: /, docs: /docs, database: {settings.db})", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
