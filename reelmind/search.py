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

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass

from reelmind import indexes, registry
from reelmind.config import Settings
from reelmind.records import FrameRecord, SegmentRecord, VideoRecord
from reelmind.store import READ_MAX_AGE_S, ROW_KEYS, Store, sql_in, sql_str

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
# What the searches read: keys and scores.
KEY_COLUMNS = ["id", "rev"]
MOMENT_KEYS = ["id", "video_id", "rev"]
# What the shown videos' rows give.
DOCUMENT_COLUMNS = list(ROW_KEYS["videos"])  # id, rev, path, title, thumbnail_path: in memory after prewarm
SEGMENT_COLUMNS = ["id", "video_id", "rev", "start", "end", "text"]
FRAME_COLUMNS = ["id", "video_id", "rev", "time_s", "ocr_text", "caption", "thumbnail_path"]
# BM25's constants (LanceDB's own), ranking the moments of one video that hold every word of the query.
BM25_K1 = 1.2
BM25_B = 0.75


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
    # Each table is checked for other processes' commits here, once, not by the queries running at once below;
    # the moments' tables while the query is embedded.
    store.table("videos", READ_MAX_AGE_S)
    checked = _POOL.submit(lambda: [store.table(name, READ_MAX_AGE_S) for name in ("segments", "frames")])
    # The word search runs while the query is embedded, the vector searches once it is. Words are looked up in
    # the documents (which hold every transcript and on-screen word); the moments holding them are found
    # afterwards among the shown videos' own segments and frames, so no search by words runs over all of them.
    # The searches read keys only (ids, revisions, scores): the columns shown are read for the k videos shown.
    worded = _POOL.submit(store.matches, "videos", "document", query, n, scope.videos, KEY_COLUMNS)
    q = text_model.embed_queries([query])[0]
    checked.result()
    documents = _POOL.submit(store.nearest, "videos", "text_vector", q, n, scope.videos, False, KEY_COLUMNS)
    moments = [(kind, _POOL.submit(store.nearest, table, column, q, many, scope.children, False, MOMENT_KEYS))
               for kind, table, column in (("speech", "segments", "vector"), ("screen", "frames", "text_vector"))]
    if registry.backend_class("vision", settings.vision_backend).embeds_text:
        vision = registry.load("vision", settings.vision_backend, settings.vision_model)
        moments.append(("screen", _POOL.submit(store.nearest, "frames", "visual_vector",
                                               vision.embed_texts([query])[0], many, scope.children, False,
                                               MOMENT_KEYS)))
    documents, worded = documents.result(), worded.result()
    moments = [(kind, row) for kind, future in moments for row in future.result()]

    # A video's own row is its commit: the documents found carry their video's committed revision. The k videos
    # ranked first are looked up (their titles and paths, and the revision of those found by a moment alone); a
    # moment of another revision (an ingest not committed yet, or superseded) does not count, so the ranking is
    # made again without it until the k first are all looked up. Their segments and frames are read meanwhile.
    revision = {r["id"]: r["rev"] for r in documents + worded}
    shown: dict[str, dict] = {}  # the looked-up videos' rows
    gone: set[str] = set()  # found by a moment only, and not (or no longer) a committed video the filters allow
    reading: list[Future] = []  # the segments and frames of the videos looked up, being read
    while True:
        ranking = _Ranking(documents, worded, moments, revision, gone)
        top = ranking.top(k)
        missing = [video_id for video_id in top if video_id not in shown]
        if not missing:
            break
        # Their moments of the revision found (a video found by a moment alone: that moment's), read while the
        # videos are looked up; read again for a video whose committed revision turns out to be another.
        assumed = {video_id: revision.get(video_id) or ranking.by_meaning[video_id][2]["rev"] for video_id in missing}
        reading += [_POOL.submit(_moments_of, store, kind, assumed) for kind in ("speech", "screen")]
        looked_up = _committed(store, missing, scope)
        for video_id in missing:
            if video_id in looked_up:
                shown[video_id] = looked_up[video_id]
                revision[video_id] = looked_up[video_id]["rev"]
            else:
                gone.add(video_id)
        other = {video_id: revision[video_id] for video_id in missing
                 if video_id in shown and revision[video_id] != assumed[video_id]}
        if other:
            reading += [_POOL.submit(_moments_of, store, kind, other) for kind in ("speech", "screen")]

    rows: dict[str, list[tuple[str, dict]]] = {video_id: [] for video_id in top}
    for future in reading:
        for kind, row in future.result():
            if row["video_id"] in rows and row["rev"] == shown[row["video_id"]]["rev"]:
                rows[row["video_id"]].append((kind, row))
    by_words = _word_moments(query, {video_id: rows[video_id] for video_id in top if video_id in ranking.words})
    hits = []
    for video_id in top:
        video, score = shown[video_id], ranking.fused[video_id]
        by_id = {(kind, row["id"]): (kind, row) for kind, row in rows[video_id]}
        closest = ranking.by_meaning.get(video_id)
        closest_key = (closest[1], closest[2]["id"]) if closest else None
        if by_words.get(video_id):
            # Of the moments holding every word, the one closest in meaning when the search by meaning found it
            # (BM25 alone favours the shortest, and stop words drop out of the words: "ask not what your country"
            # matched "ask what you can do for your country" before the line that says it)
            held = {(kind, row["id"]): (kind, row) for _, kind, row in by_words[video_id]}
            kind, row = held.get(closest_key, by_words[video_id][0][1:])
            match = kind
        elif closest_key in by_id:
            kind, row = by_id[closest_key]
            match = kind if closest[0] + MOMENT_MARGIN >= ranking.doc_score.get(video_id, -1.0) else "document"
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


class _Ranking:
    """The videos ranked by meaning (each by its document or its best moment) and by words, fused; moments of a
    revision other than their video's committed one (`revision`, where known) and `gone` videos left out."""

    def __init__(self, documents: list[dict], worded: list[dict], moments: list[tuple[str, dict]],
                 revision: dict[str, str], gone: set[str]):
        def current(video_id: str, rev: str) -> bool:  # where the committed revision is not known yet: maybe
            return video_id not in gone and revision.get(video_id, rev) == rev

        self.doc_score = {r["id"]: r["score"] for r in documents if current(r["id"], r["rev"])}
        self.by_meaning = _best_per_video([(kind, r) for kind, r in moments if current(r["video_id"], r["rev"])])
        meaning = {video_id: max(self.doc_score.get(video_id, -1.0),
                                 self.by_meaning[video_id][0] if video_id in self.by_meaning else -1.0)
                   for video_id in self.doc_score.keys() | self.by_meaning.keys()}
        self.words = {r["id"] for r in worded if current(r["id"], r["rev"])}
        self.fused = _fuse([sorted(meaning, key=lambda v: -meaning[v]),
                            [r["id"] for r in worded if r["id"] in self.words]])

    def top(self, k: int) -> list[str]:
        return [video_id for video_id, _ in sorted(self.fused.items(), key=lambda item: -item[1])[:k]]


def _committed(store: Store, video_ids: list[str], scope: _Scope) -> dict[str, dict]:
    """The committed rows of these videos, of those the filters allow."""
    if scope.postfilter:  # the filters are conditions on the rows read
        where = f"({scope.videos}) AND id IN {sql_in(video_ids)}"
        rows = store.rows(VideoRecord, DOCUMENT_COLUMNS, where, READ_MAX_AGE_S)
    else:
        rows = store.rows_of_videos(VideoRecord, DOCUMENT_COLUMNS, dict.fromkeys(video_ids), READ_MAX_AGE_S)
    return {r["id"]: r for r in rows}


def _moments_of(store: Store, kind: str, revisions: dict[str, str]) -> list[tuple[str, dict]]:
    """These videos' segments ("speech") or frames ("screen") of the given revisions: (kind, row)."""
    record, columns = (SegmentRecord, SEGMENT_COLUMNS) if kind == "speech" else (FrameRecord, FRAME_COLUMNS)
    return [(kind, r) for r in store.rows_of_videos(record, columns, revisions, READ_MAX_AGE_S)]


def _word_moments(query: str, rows: dict[str, list[tuple[str, dict]]]) -> dict[str, list[tuple[float, str, dict]]]:
    """The segments and frames of each video that hold every word of `query` (as the full-text indexes split and
    normalise words: segments' transcript text, frames' on-screen text), best first by BM25 among them:
    (score, kind, row)."""
    texts = [row["text"] if kind == "speech" else row["ocr_text"] or "" for moments in rows.values()
             for kind, row in moments]
    wanted, *split = indexes.words([query, *texts])
    if not wanted:
        return {}
    wanted_set = set(wanted)
    lengths = [len(w) for w in split]
    average = sum(lengths) / len(lengths) if lengths else 1.0
    found: dict[str, list[tuple[float, str, dict]]] = {}
    at = 0
    for video_id, moments in rows.items():
        for kind, row in moments:
            said, at = split[at], at + 1
            if said and wanted_set <= set(said):
                norm = BM25_K1 * (1 - BM25_B + BM25_B * len(said) / max(average, 1.0))
                score = sum(tf * (BM25_K1 + 1) / (tf + norm) for tf in (said.count(w) for w in wanted_set))
                found.setdefault(video_id, []).append((score, kind, row))
    return {video_id: sorted(held, key=lambda r: -r[0]) for video_id, held in found.items()}


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
