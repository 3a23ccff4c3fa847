"""Search over videos and their moments, in Chinese or English: by meaning and by words, fused.

A query is embedded once and compared with three things: each video's merged document, each transcript segment
(what was said, and when) and each sampled frame's words (labels or caption plus on-screen text, and when); with a
joint image-text vision model (CLIP) frames are also matched on their pictures. A video's vector score is its best
match. The same query's words are looked up in LanceDB's full-text (BM25) index of the documents (which hold
every transcript and on-screen word; reelmind.indexes), every word required, so exact names, numbers and rare words
find their video even where the embedding misses them. The two rankings of videos are fused by reciprocal rank
fusion. The moment shown is the best segment or frame holding every query word (looked up, by words, among the
shown videos' segments and frames only), else the best-matching one by meaning.

Filters are conditions on the `videos` table, applied before the searches: on the videos directly, and on the
segments and frames as the list of the allowed videos' ids when few enough videos pass, else by over-fetching.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from reelmind import registry
from reelmind.config import Settings
from reelmind.records import VideoRecord
from reelmind.store import READ_MAX_AGE_S, Store, sql_in, sql_str

# Longest query accepted: a long paragraph. The embedder reads 512 tokens at most anyway, and tokenising 100 KB
# took 25 s; a search box never sends that much, a client that does gets an error.
MAX_QUERY_CHARS = 2_000
# Candidates fetched per source before fusing: enough that the top k videos have their best moment.
CANDIDATES_PER_RESULT = 8
# A moment must beat the whole document by this much to be what the video is found by; below it, the moment shown
# is still the best one, but the match is the document's (a title match should not lose to a stray phrase).
MOMENT_MARGIN = 0.0
# With filters that keep too many videos to list their ids, candidates are fetched by similarity and then
# filtered, so more are fetched: a filter that keeps one video in FILTERED_OVERFETCH * CANDIDATES_PER_RESULT
# still fills the results.
FILTERED_OVERFETCH = 8
# Most videos whose ids a filter hands to the segment and frame searches as `video_id IN (...)` (looked up through
# the video_id index, so the search reads only their rows); a broader filter over-fetches instead.
PREFILTER_MAX_VIDEOS = 2_000
# Reciprocal rank fusion's constant: a video ranked r in a list scores 1 / (RRF_K + r) (Cormack et al., 2009).
RRF_K = 60
# A search's LanceDB queries (three by words, three or four by meaning) run at once on these threads: LanceDB
# works outside Python's lock, and the word searches overlap the query's embedding.
SEARCH_THREADS = 4
_POOL = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="reelmind-search")
# The columns a search reads (vectors are never read back).
DOCUMENT_COLUMNS = ["id", "rev", "path", "title", "thumbnail_path"]
SEGMENT_COLUMNS = ["video_id", "rev", "start", "end", "text"]
FRAME_COLUMNS = ["video_id", "rev", "time_s", "ocr_text", "caption", "thumbnail_path"]


@dataclass(frozen=True)
class SearchFilters:
    """Which videos a search may return; None (or False for the flags) leaves that property open.
    `published_*` compare with the sidecar's ISO 8601 `published_at` as text (dates sort as text)."""
    language: str | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    uploader: str | None = None
    published_after: str | None = None
    published_before: str | None = None
    has_speech: bool = False
    has_screen_text: bool = False

    def where(self) -> str | None:
        """The filters as a SQL condition on the `videos` table (values quoted by `sql_str`), or None."""
        terms = []
        if self.language:
            terms.append(f"language = {sql_str(self.language)}")
        if self.min_duration_s is not None:
            terms.append(f"duration_s >= {float(self.min_duration_s)!r}")
        if self.max_duration_s is not None:
            terms.append(f"duration_s <= {float(self.max_duration_s)!r}")
        if self.uploader:
            terms.append(f"uploader = {sql_str(self.uploader)}")
        if self.published_after:
            terms.append(f"published_at >= {sql_str(self.published_after)}")
        if self.published_before:
            terms.append(f"published_at <= {sql_str(self.published_before)}")
        if self.has_speech:
            terms.append("n_segments > 0")
        if self.has_screen_text:
            terms.append("ocr_text != ''")
        return " AND ".join(terms) or None


@dataclass(frozen=True)
class SearchHit:
    video_id: str
    path: str
    title: str
    score: float  # reciprocal rank fusion of the meaning and word rankings: 2 / (RRF_K + 1) at most
    start: float | None
    end: float | None
    text: str
    match: str  # "speech", "screen" (frame text or picture) or "document"
    thumbnail_path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Scope:
    """Where a search looks: conditions on the videos and on their segments and frames (None: everywhere), and
    whether the results must still be filtered after the searches."""
    videos: str | None = None
    children: str | None = None
    postfilter: bool = False

    @classmethod
    def of(cls, store: Store, filters: SearchFilters | None) -> _Scope:
        where = filters.where() if filters else None
        if where is None:
            return cls()
        table = store.table("videos", READ_MAX_AGE_S)
        allowed = table.count_rows(where) if table is not None else 0
        if allowed > PREFILTER_MAX_VIDEOS:
            return cls(where, None, True)
        ids = [r["id"] for r in store.rows(VideoRecord, ["id"], where, READ_MAX_AGE_S)]
        return cls(where, f"video_id IN {sql_in(ids)}" if ids else "false")


def search(query: str, settings: Settings, k: int = 5, filters: SearchFilters | None = None) -> list[SearchHit]:
    """The `k` videos that best match `query` (among those `filters` allow), each with its best moment."""
    query = query.strip()
    if not query:
        raise ValueError("empty query")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    store = Store.open(settings.db)
    text_model = registry.load("text", settings.text_backend, settings.text_model)
    store.check_query_model("videos", "text_vector", text_model.model_id, text_model.dim)
    scope = _Scope.of(store, filters)
    n = max(k * CANDIDATES_PER_RESULT, 20)
    many = n * (FILTERED_OVERFETCH if scope.postfilter else 1)
    for name in ("videos", "segments", "frames"):
        store.table(name, READ_MAX_AGE_S)  # checked here, once, not by the queries running at once below
    # The word search runs while the query is embedded, the vector searches once it is. Words are looked up in
    # the documents (which hold every transcript and on-screen word); the moments holding them are looked up
    # afterwards among the videos shown only, so no search by words runs over all segments and frames.
    worded = _POOL.submit(store.matches, "videos", "document", query, n, scope.videos, DOCUMENT_COLUMNS)
    q = text_model.embed_queries([query])[0]
    documents = _POOL.submit(store.nearest, "videos", "text_vector", q, n, scope.videos, False, DOCUMENT_COLUMNS)
    moments = [(kind, _POOL.submit(store.nearest, table, column, q, many, scope.children, False, columns))
               for kind, table, column, columns in (("speech", "segments", "vector", SEGMENT_COLUMNS),
                                                    ("screen", "frames", "text_vector", FRAME_COLUMNS))]
    if registry.backend_class("vision", settings.vision_backend).embeds_text:
        vision = registry.load("vision", settings.vision_backend, settings.vision_model)
        moments.append(("screen", _POOL.submit(store.nearest, "frames", "visual_vector",
                                               vision.embed_texts([query])[0], many, scope.children, False,
                                               FRAME_COLUMNS)))
    documents, worded = documents.result(), worded.result()
    moments = [(kind, row) for kind, future in moments for row in future.result()]

    # A video's own row is its commit: the rows found in `videos` are committed ones, and only the videos found by
    # a moment alone are looked up.
    committed = {r["id"]: r for r in documents + worded}
    committed |= store.video_revisions({r["video_id"] for _, r in moments} - committed.keys(), READ_MAX_AGE_S)
    if scope.postfilter and committed:
        allowed = {r["id"] for r in store.rows(VideoRecord, ["id"], f"({scope.videos}) AND id IN {sql_in(committed)}",
                                               READ_MAX_AGE_S)}
        committed = {video_id: row for video_id, row in committed.items() if video_id in allowed}

    def current(video_id: str, rev: str) -> bool:  # not an uncommitted or superseded ingest
        return video_id in committed and committed[video_id]["rev"] == rev

    doc_score = {r["id"]: r["score"] for r in documents if current(r["id"], r["rev"])}
    by_meaning = _best_per_video([(kind, r) for kind, r in moments if current(r["video_id"], r["rev"])])
    meaning = {video_id: max(doc_score.get(video_id, -1.0), by_meaning[video_id][0] if video_id in by_meaning
                             else -1.0) for video_id in doc_score.keys() | by_meaning.keys()}
    words = [r["id"] for r in worded if current(r["id"], r["rev"])]
    fused = _fuse([sorted(meaning, key=lambda v: -meaning[v]), words])
    top = sorted(fused.items(), key=lambda item: -item[1])[:k]
    by_words = _word_moments(store, query, [video_id for video_id, _ in top if video_id in set(words)], current)

    hits = []
    for video_id, score in top:
        video = committed[video_id]
        if video_id in by_words:
            # Of the moments holding every word, the one closest in meaning when the search by meaning found it
            # (BM25 alone favours the shortest, and stop words drop out of the words: "ask not what your country"
            # matched "ask what you can do for your country" before the line that says it)
            closest = by_meaning.get(video_id)
            held = {_moment_key(kind, row): (kind, row) for _, kind, row in by_words[video_id]}
            kind, row = held.get(_moment_key(closest[1], closest[2]), by_words[video_id][0][1:]) if closest \
                else by_words[video_id][0][1:]
            match = kind
        elif video_id in by_meaning:
            similarity, kind, row = by_meaning[video_id]
            match = kind if similarity + MOMENT_MARGIN >= doc_score.get(video_id, -1.0) else "document"
        else:
            hits.append(SearchHit(video_id, video["path"], video["title"], score, None, None, "", "document",
                                  video.get("thumbnail_path") or ""))
            continue
        if kind == "speech":
            start, end, text, thumb = row["start"], row["end"], row["text"], video.get("thumbnail_path") or ""
        else:
            start = end = row["time_s"]
            text = row["ocr_text"] or row["caption"]
            thumb = row["thumbnail_path"]
        hits.append(SearchHit(video_id, video["path"], video["title"], score, start, end, text, match, thumb))
    return hits


def _word_moments(store: Store, query: str, video_ids: list[str],
                  current) -> dict[str, list[tuple[float, str, dict]]]:
    """The segments and frames holding every word of `query` in each of these videos (found by their words), best
    first: (score, kind, row)."""
    if not video_ids:
        return {}
    where = f"video_id IN {sql_in(video_ids)}"
    found = [(kind, _POOL.submit(store.matches, table, column, query, CANDIDATES_PER_RESULT * len(video_ids), where,
                                 columns)) for kind, table, column, columns in
             (("speech", "segments", "text", SEGMENT_COLUMNS), ("screen", "frames", "ocr_text", FRAME_COLUMNS))]
    per_video: dict[str, list[tuple[float, str, dict]]] = {}
    for kind, future in found:
        for row in future.result():
            if current(row["video_id"], row["rev"]):
                per_video.setdefault(row["video_id"], []).append((row["score"], kind, row))
    return {video_id: sorted(rows, key=lambda r: -r[0]) for video_id, rows in per_video.items()}


def _moment_key(kind: str, row: dict) -> tuple:
    return (kind, row.get("start", row.get("time_s")), row.get("end"))


def _best_per_video(moments: list[tuple[str, dict]]) -> dict[str, tuple[float, str, dict]]:
    """Each video's best moment: (score, kind, row)."""
    best: dict[str, tuple[float, str, dict]] = {}
    for kind, row in moments:
        if row["video_id"] not in best or row["score"] > best[row["video_id"]][0]:
            best[row["video_id"]] = (row["score"], kind, row)
    return best


def _fuse(rankings: list[list[str]]) -> dict[str, float]:
    """Reciprocal rank fusion: each video scores the sum of 1 / (RRF_K + rank) over the rankings it is in."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, video_id in enumerate(ranking, start=1):
            fused[video_id] = fused.get(video_id, 0.0) + 1.0 / (RRF_K + rank)
    return fused
