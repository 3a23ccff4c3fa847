"""LanceDB storage of the records in `reelmind.records`, written so a crash leaves no half video.

Write protocol for one video (LanceDB has no multi-table transactions):
1. add its segments and frames, each row stamped with a new revision `rev`;
2. upsert its `videos` row carrying that `rev`: this single-row upsert is the commit;
3. delete the video's segments and frames of any other revision.
Readers join segments and frames to `videos` on (video_id, rev), so rows of an interrupted ingest are never seen,
and the next run writes the video again and sweeps them.

Each table's schema metadata records, per vector column, the model id and dimension that filled it; writing or
searching with another model is refused with a message that says which models differ. Each table also carries
its schema version: an older table is upgraded in place when first opened, a newer one is refused.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.query import FullTextOperator, MatchQuery

from reelmind import indexes
from reelmind.batching import GroupBatcher
from reelmind.errors import StoreError
from reelmind.records import (
    RECORDS,
    SCHEMA_VERSION,
    VERSION_METADATA_KEY,
    FailureRecord,
    FrameRecord,
    Record,
    SegmentRecord,
    VectorSpec,
    VideoRecord,
)

LOG = logging.getLogger(__name__)
VECTORS_METADATA_KEY = b"reelmind.vectors"
# Lance commits can conflict when several writers upsert at once; a few retries with backoff resolve it.
COMMIT_RETRIES = 5
UPGRADE_COMMAND = "reelmind upgrade --db {uri}"
# Re-embeds a database's texts with the configured text model (reelmind.reindex).
REINDEX_COMMAND = "reelmind reindex --db {uri}"
# In a local database's folder: held while a video is committed (LanceDB lists only `*.lance` folders as tables).
COMMIT_LOCK_NAME = ".reelmind-commit.lock"
# In a local database's folder, one per table: held by the one upkeep (reelmind.indexes) running on that table, in
# any process. Per table, not per database: LanceDB commits per table, and the recommend run's upkeep of `events`
# should not wait behind minutes of merging new segments into their full-text index.
UPKEEP_LOCK_NAME = ".reelmind-upkeep-{table}.lock"
# Values per `IN (...)` filter: long enough to batch, short enough for LanceDB's SQL planner.
FILTER_CHUNK = 1_000
# Videos per stale-revision sweep filter: one `(video_id = .. AND rev != ..)` term each.
SWEEP_CHUNK = 200
# Searches read tables checked for other processes' commits at most this long ago: the check costs ~3 ms per
# table, and a search reads the same tables several times (a new video shows up in searches this much later).
READ_MAX_AGE_S = 0.2
# Partitions probed in a table's vector index when indexes.NPROBES names none for it.
DEFAULT_NPROBES = 10
# More partitions than any index has: a search probing them all reads a whole vector index (`Store.prewarm`).
WARM_ALL_PARTITIONS = 1_000_000
# The key columns of each searched table that `nearest` returns from memory after `prewarm` (RowKeys), reading only
# row ids and distances from LanceDB: a top-80 search of the 2M segments returning `id, video_id, rev` took 13.7 ms
# p50 alone at 100k videos, returning row ids 5.7 ms; the three searches at once 28-30 ms against 18.5-19.7 ms.
# The videos' keys come with what a search shows of each video (reelmind.search reads these): with them in memory
# the shown videos' rows need no read from the table (4.4 ms p50 at 100k videos, beside the moments' reads); the
# moments' with their times (fixed-size numbers, 40 MB at 100k videos), as each column a take reads costs ~1.3 ms.
ROW_KEYS: dict[str, tuple[str, ...]] = {"videos": ("id", "rev", "path", "title", "thumbnail_path"),
                                        "segments": ("id", "video_id", "rev", "start", "end"),
                                        "frames": ("id", "video_id", "rev", "time_s")}
# Of those, the column holding the video's id, by which `rows_of_videos` finds a video's rows in memory: reading
# the shown videos' rows by row id took 12.1 ms p50 at 100k videos (the three tables at once), through the
# id and video_id indexes 17.8 ms.
VIDEO_KEY = {"videos": "id", "segments": "video_id", "frames": "video_id"}
# In memory at 100k videos: ~0.25 GB (the 2M segments' keys 97 MB and times 32 MB, the frames' 51 MB and 8 MB,
# each table's rows by video ~15-30 MB, the videos' ~20 MB), read in 1.3-1.9 s and 0.5-0.65 s; the videos' in
# 0.1-0.2 s.
# Least seconds between two reloads of a table's RowKeys while its rows change (each reload reads the key columns
# of every row, in the background); meanwhile rows committed since are read from the table.
ROW_KEYS_RELOAD_S = 10.0
# A `max_age_s` that never checks for newer versions (once a table has been checked at all).
LONG_AGO_S = 1e9
# How the OS's ENOSPC reads in a LanceDB error.
NO_SPACE = "No space left on device"
# A record's vector is None where there is nothing to embed (no picture, no text). LanceDB counts a null vector in
# Arrow input as one of the wrong length and refuses the write ("variable length vectors"), so nulls are declared
# fine; `Record.to_arrow` has already checked every other vector's length against the column's.
NULL_VECTORS = "null"


def table_schema(record: type[Record], spaces: Mapping[str, VectorSpec] | None = None) -> pa.Schema:
    """The record's Arrow schema, with the model behind each vector column in the schema metadata."""
    schema = record.arrow_schema(spaces)
    vectors = {column: spaces[space] for column, space in record.vector_spaces().items()} if spaces else {}
    if not vectors:
        return schema
    meta = {c: {"model_id": v.model_id, "dim": v.dim} for c, v in vectors.items()}
    return schema.with_metadata({VECTORS_METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})


def vector_specs(table: lancedb.table.Table) -> dict[str, VectorSpec]:
    raw = (table.schema.metadata or {}).get(VECTORS_METADATA_KEY)
    return {c: VectorSpec(**v) for c, v in json.loads(raw).items()} if raw else {}


def schema_version(table: lancedb.table.Table, record: type[Record]) -> int:
    """The version stamped on the table's key column; 1 for tables written before versions were stamped."""
    try:
        meta = table.schema.field(record.key).metadata or {}
    except KeyError:
        return 1
    return int(meta.get(VERSION_METADATA_KEY.encode(), b"1"))


def sql_str(value: str) -> str:
    """A SQL string literal: the only way a caller's text enters a LanceDB filter."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_in(values: Iterable[str]) -> str:
    return "(" + ", ".join(sql_str(v) for v in values) + ")"


class RowKeys:
    """Some columns of a table's rows by row id, read once and kept in memory. A row id is where the row lies
    (LanceDB's `_rowid`: its fragment's id << 32 | its place there), and LanceDB never writes into a fragment
    again nor gives its id to another (a compaction writes the rows again into new fragments), so a row found here
    has these values in every later version; rows written after the read are not here (`find` says which)."""

    def __init__(self, data: pa.Table, version: int, group: str | None = None):
        row_ids = data["_rowid"].to_numpy()
        order = np.argsort(row_ids)
        self.row_ids = row_ids[order]
        self.columns = {name: data[name].combine_chunks().take(pa.array(order)) for name in data.column_names
                        if name != "_rowid"}
        self.version = version  # the table's version read
        self._groups: dict[str, np.ndarray] = {}  # a value of the `group` column -> its rows' places here
        if group is not None:
            codes = self.columns[group].dictionary_encode()
            indices = codes.indices.to_numpy(zero_copy_only=False)
            by_value = np.argsort(indices, kind="stable")
            bounds = np.searchsorted(indices[by_value], np.arange(len(codes.dictionary) + 1))
            self._groups = {value: by_value[bounds[i]:bounds[i + 1]]
                            for i, value in enumerate(codes.dictionary.to_pylist())}

    @classmethod
    def read(cls, table: lancedb.table.Table, columns: Sequence[str], group: str | None = None) -> RowKeys:
        version = table.version
        return cls(table.search().select(list(columns)).with_row_id(True).limit(None).to_arrow(), version, group)

    def row_ids_of(self, value: str, rev: str | None = None) -> list[int]:
        """The row ids of the rows whose `group` column holds `value` (and, given, whose `rev` is `rev`)."""
        places = self._groups.get(value, np.zeros(0, np.int64))
        if rev is not None and len(places):
            places = places[np.asarray(self.columns["rev"].take(pa.array(places)).to_pylist()) == rev]
        return self.row_ids[places].tolist()

    def find(self, row_ids: Sequence[int]) -> tuple[list[dict | None], list[int]]:
        """Each row's values (None where not here), and the row ids not here."""
        wanted = np.asarray(row_ids, dtype=np.uint64)
        at = np.minimum(np.searchsorted(self.row_ids, wanted), max(len(self.row_ids) - 1, 0))
        here = (self.row_ids[at] == wanted) if len(self.row_ids) else np.zeros(len(wanted), bool)
        values = {name: column.take(pa.array(at[here])).to_pylist() for name, column in self.columns.items()}
        found: list[dict | None] = [None] * len(wanted)
        for n, i in enumerate(np.flatnonzero(here)):
            found[i] = {name: values[name][n] for name in values}
        return found, [int(row_id) for row_id, ok in zip(wanted, here, strict=True) if not ok]


# No keys read yet (of no version).
_NO_KEYS = RowKeys(pa.table({"_rowid": pa.array([], pa.uint64())}), -1)


class Store:
    """One LanceDB database. Use `Store.open(uri)`: one connection and one handle per table per process.

    Tables are opened by record (reelmind.records); a table of an older schema version is upgraded in place when
    first opened (its missing columns added as nulls, its version stamped), a newer one is refused."""

    _open: dict[str, Store] = {}
    _open_lock = threading.Lock()

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None):
        self.uri = uri
        self.db = lancedb.connect(uri, storage_options=storage_options)
        self._tables: dict[str, lancedb.table.Table] = {}
        self._write_lock = threading.Lock()
        # Group commit (write_video): writes queued by this process's threads share a commit.
        self._group_commit = GroupBatcher(self._commit_queued)
        # Upkeep (reelmind.indexes): commits so far, at the last maintenance, and tables known to have their indexes;
        # the background upkeep running (or last run) and what it did.
        self._commits = 0
        self._maintained_at = 0
        self._indexed: set[str] = set()
        self._upkeep_thread: threading.Thread | None = None
        self._upkeep_locks: dict[str, threading.Lock] = {}
        self._upkeep_locks_lock = threading.Lock()
        self.last_upkeep: list[indexes.Maintenance] = []
        self._index_cache: dict[tuple[str, int], set[tuple[str, bool]]] = {}
        # Vector indexes kept in LanceDB's cache (`prewarm`): (table, column) -> rows the warmed index held; None
        # while this process has not asked for it. Checked once per table version by `nearest`.
        self._warm: dict[tuple[str, str], int] | None = None
        self._warm_checked: dict[str, int] = {}
        self._warming: threading.Thread | None = None
        # Key columns of the searched tables in memory (`prewarm`, RowKeys), and when each was last reloaded.
        self._keys: dict[str, RowKeys] = {}
        self._keys_loaded_at: dict[str, float] = {}
        self._keys_loading: threading.Thread | None = None
        self._checked_at: dict[str, float] = {}  # when each table was last checked for newer versions

    @classmethod
    def open(cls, uri: str, storage_options: dict[str, str] | None = None) -> Store:
        with cls._open_lock:
            if uri not in cls._open:
                cls._open[uri] = cls(uri, storage_options)
            return cls._open[uri]

    # -- tables -------------------------------------------------------------------------------------------------

    def table(self, name: str, max_age_s: float = 0.0) -> lancedb.table.Table | None:
        """The table's latest version, or one checked for newer versions at most `max_age_s` ago."""
        if name not in self._tables:
            if name not in self.table_names():
                return None
            try:
                table = self.db.open_table(name)
            except ValueError:  # "not found": listed while another process creates it, before its first version
                return None
            if name in RECORDS:
                self._check_version(table, RECORDS[name])
            self._tables[name] = table
        table = self._tables[name]
        now = time.monotonic()
        if max_age_s <= 0 or now - self._checked_at.get(name, -max_age_s) >= max_age_s:
            table.checkout_latest()  # see other processes' commits
            self._checked_at[name] = now
        return table

    def table_names(self) -> list[str]:
        result = self.db.list_tables()
        return list(getattr(result, "tables", result))

    def ensure(self, record: type[Record], spaces: Mapping[str, VectorSpec] | None = None) -> lancedb.table.Table:
        """The record's table, created on first use; with vectors, refused if another model filled them."""
        schema = table_schema(record, spaces)
        table = self.table(record.table)
        if table is None:
            try:
                table = self.db.create_table(record.table, schema=schema)
            except (OSError, ValueError, RuntimeError):
                table = self._open_created_elsewhere(record.table)  # another writer created it first
            self._tables[record.table] = table
        if spaces:
            self._check_vectors(record.table, table, schema, self.uri)
        return table

    # -- schema versions ----------------------------------------------------------------------------------------

    def _check_version(self, table: lancedb.table.Table, record: type[Record]) -> None:
        version = schema_version(table, record)
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.uri}: table '{record.table}' has schema version {version}, newer than this "
                             f"ReelMind's {SCHEMA_VERSION}: upgrade ReelMind to read it")
        if version < SCHEMA_VERSION:
            try:
                self._upgrade(table, record)
            except (OSError, RuntimeError, ValueError) as exc:
                raise StoreError(f"{self.uri}: table '{record.table}' has schema version {version} and could not "
                                 f"be upgraded here ({' '.join(str(exc).split())[:200]}); run: "
                                 f"{UPGRADE_COMMAND.format(uri=self.uri)}") from None

    @staticmethod
    def _upgrade(table: lancedb.table.Table, record: type[Record]) -> None:
        """Add the record's columns the table lacks (as nulls), then stamp the version: both idempotent, so an
        upgrade interrupted between the two finishes on the next open."""
        have = set(table.schema.names)
        specs = vector_specs(table)
        # the vector columns' dimensions come from the models the table records (ValueError if it records none)
        wanted = record.arrow_schema({space: specs[column] for column, space in record.vector_spaces().items()
                                      if column in specs})
        missing = [f.remove_metadata() for f in wanted if f.name not in have]
        if missing:
            table.add_columns(missing)
        table.update_field_metadata({"path": record.key,
                                     "metadata": {VERSION_METADATA_KEY: str(SCHEMA_VERSION)}})

    def upgrade(self) -> dict[str, int]:
        """Bring every ReelMind table of this database to SCHEMA_VERSION, and give it the indexes this version
        keeps (reelmind.indexes); returns each table's version before."""
        before = {}
        for name in self.table_names():
            if name in RECORDS:
                self._tables.pop(name, None)
                before[name] = schema_version(self.db.open_table(name), RECORDS[name])
                self.table(name)
        self.maintain()
        return before

    @staticmethod
    def _check_vectors(name: str, table: lancedb.table.Table, schema: pa.Schema, uri: str) -> None:
        wanted = json.loads(schema.metadata[VECTORS_METADATA_KEY]) if schema.metadata else {}
        have = vector_specs(table)
        for column, spec in wanted.items():
            old = have.get(column)
            if old and (old.model_id, old.dim) != (spec["model_id"], spec["dim"]):
                raise StoreError(
                    f"table '{name}' column '{column}' holds vectors of {old.model_id} (dim {old.dim}); refusing "
                    f"vectors of {spec['model_id']} (dim {spec['dim']}): to re-embed the stored texts with it, "
                    f"run: {REINDEX_COMMAND.format(uri=uri)}")

    def check_query_model(self, table_name: str, column: str, model_id: str, dim: int) -> None:
        table = self.table(table_name, READ_MAX_AGE_S)
        spec = vector_specs(table).get(column) if table is not None else None
        if spec and (spec.model_id, spec.dim) != (model_id, dim):
            # Confirmed on the latest versions before refusing: a reindex may have swapped the catalogue's tables
            # since these handles were checked (within READ_MAX_AGE_S), and the searches that follow read them all.
            for name in indexes.CATALOGUE_TABLES:
                if name in self._tables:
                    self.table(name)  # the latest version
            table = self.table(table_name)
            spec = vector_specs(table).get(column) if table is not None else None
        if spec and (spec.model_id, spec.dim) != (model_id, dim):
            raise StoreError(f"table '{table_name}' column '{column}' was embedded with {spec.model_id} "
                             f"(dim {spec.dim}) but the configured model is {model_id} (dim {dim}); configure "
                             f"the same text model to search it, or re-embed with this one: "
                             f"{REINDEX_COMMAND.format(uri=self.uri)}")

    # -- writes -------------------------------------------------------------------------------------------------

    def write_video(self, video: VideoRecord, segments: Sequence[SegmentRecord], frames: Sequence[FrameRecord],
                    spaces: Mapping[str, VectorSpec]) -> list[str]:
        """Commit one video (see `write_videos`) together with the videos other threads of this process are
        writing meanwhile: group commit. The first caller commits what is queued; callers that arrive while a
        commit runs queue up and are committed together by the next one, so under load the videos finished in
        one commit's time share the next commit, and a lone writer waits for nobody. Returns the ids of the
        videos it removed."""
        outcome = self._group_commit.run_all([_PendingWrite(video, tuple(segments), tuple(frames), dict(spaces))])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _commit_queued(self, batch: list[_PendingWrite]) -> list[list[str] | BaseException]:
        """Commit the queued writes, one commit per table for each embedding-space set; each write's outcome is the
        ids of the videos it removed, or the error that stopped its commit (raised to its caller alone: the
        other sets' commits stand)."""
        groups: dict[str, list[_PendingWrite]] = {}
        for pending in batch:
            groups.setdefault(json.dumps({k: [v.model_id, v.dim] for k, v in pending.spaces.items()},
                                         sort_keys=True), []).append(pending)
        outcomes: dict[int, list[str] | BaseException] = {}
        for group in groups.values():
            try:
                removed = self.write_videos([(p.video, p.segments, p.frames) for p in group], group[0].spaces)
                outcomes |= {id(p): removed.get(p.video.id, []) for p in group}
            except Exception as exc:  # handed to the callers whose write it stopped, raised there
                outcomes |= {id(p): exc for p in group}
        return [outcomes[id(p)] for p in batch]

    def write_videos(self, items: Sequence[tuple[VideoRecord, Sequence[SegmentRecord], Sequence[FrameRecord]]],
                     spaces: Mapping[str, VectorSpec]) -> dict[str, list[str]]:
        """Commit videos in one go, one commit per table: all their children first, then all their `videos`
        rows in one upsert (the commit), then the sweeps of the children of older revisions and of the other
        videos stored at their paths (a path holds one file). A video given twice is written as its last one.
        `spaces`: the model of each embedding space ("text", "visual"). Returns, per video id, the ids of the
        videos it removed."""
        latest = {video.id: (video, segments, frames) for video, segments, frames in items}
        if not latest:
            return {}
        with self._committing():
            seg_table = self.ensure(SegmentRecord, spaces)
            frame_table = self.ensure(FrameRecord, spaces)
            video_table = self.ensure(VideoRecord, spaces)
            segments = [s for _, children, _ in latest.values() for s in children]
            frames = [f for _, _, children in latest.values() for f in children]
            if segments:
                seg_data = SegmentRecord.to_arrow(segments, seg_table.schema)
                self._retry(lambda: seg_table.add(seg_data, on_bad_vectors=NULL_VECTORS))
            if frames:
                frame_data = FrameRecord.to_arrow(frames, frame_table.schema)
                self._retry(lambda: frame_table.add(frame_data, on_bad_vectors=NULL_VECTORS))
            videos = [video for video, _, _ in latest.values()]
            self._upsert(video_table, VideoRecord.key, VideoRecord.to_arrow(videos, video_table.schema))
            for table in (seg_table, frame_table):
                self._sweep_stale(table, videos)
            removed = self._evict_paths(videos)
            self._commits += 1
            try:
                self._maintain_if_due()
            except (OSError, RuntimeError, ValueError) as exc:  # the videos are committed: upkeep can wait
                LOG.warning("%s: upkeep after a commit failed, to be retried later: %s", self.uri,
                            " ".join(str(exc).split())[:200])
            return removed

    @staticmethod
    def _stale_where(videos: Sequence[VideoRecord]) -> str:
        return " OR ".join(f"(video_id = {sql_str(v.id)} AND rev != {sql_str(v.rev)})" for v in videos)

    def _sweep_stale(self, table: lancedb.table.Table, videos: Sequence[VideoRecord]) -> None:
        """Delete the children of these videos' other revisions; no commit when there are none (new videos)."""
        for start in range(0, len(videos), SWEEP_CHUNK):
            where = self._stale_where(videos[start:start + SWEEP_CHUNK])
            if table.count_rows(where):
                self._retry(table.delete, where)

    def update_video(self, video: VideoRecord) -> list[str]:
        """Write one committed video's row again (metadata edits that need no model run; its children stay).
        A whole-row upsert: LanceDB's column update cannot set a list column to an empty list. Returns the ids of
        the videos it removed (those stored at the same path)."""
        with self._committing():
            self._upsert(self.table(VideoRecord.table), VideoRecord.key, [video.to_row()])
            return self._evict_paths([video]).get(video.id, [])

    def _evict_paths(self, videos: Sequence[VideoRecord]) -> dict[str, list[str]]:
        """Remove the other videos stored at these videos' paths: the file there now is the video written last
        with that path. Their rows go first (the commit of the removal), then their children. Returns, per
        video id, the ids it removed."""
        owner = {video.path: video.id for video in videos}
        table = self.table(VideoRecord.table)
        paths = sorted(owner)
        gone: dict[str, list[str]] = {}
        for start in range(0, len(paths), FILTER_CHUNK):
            rows = table.search().where(f"path IN {sql_in(paths[start:start + FILTER_CHUNK])}") \
                .select(["id", "path"]).limit(None).to_list()
            for row in rows:
                if row["id"] != owner[row["path"]]:
                    gone.setdefault(owner[row["path"]], []).append(row["id"])
        ids = sorted({video_id for removed in gone.values() for video_id in removed})
        for start in range(0, len(ids), FILTER_CHUNK):
            where = f"id IN {sql_in(ids[start:start + FILTER_CHUNK])}"
            self._retry(table.delete, where)
            for child in (SegmentRecord, FrameRecord):
                if (child_table := self.table(child.table)) is not None:
                    self._retry(child_table.delete, f"video_id IN {sql_in(ids[start:start + FILTER_CHUNK])}")
        return gone

    @contextmanager
    def _committing(self) -> Iterator[None]:
        """One video commit at a time: across threads (a lock) and, for a local database, across processes (an
        exclusive lock on a file in the database folder), so two writers of one video cannot interleave their
        sweeps and leave a row without its children. Object storage has no such lock: there, one writer per
        database (LanceDB's own commit conflicts are retried, COMMIT_RETRIES)."""
        with self._write_lock:
            if "://" in self.uri:
                yield
                return
            lock_path = Path(self.uri) / COMMIT_LOCK_NAME
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def record_failure(self, path: str, reason: str, stage: str) -> None:
        with self._write_lock:
            table = self.ensure(FailureRecord)
            self._upsert(table, FailureRecord.key, [FailureRecord(path, reason, stage, _now()).to_row()])

    def clear_failure(self, path: str) -> None:
        self.clear_failures([path])

    def clear_failures(self, paths: Sequence[str]) -> None:
        """Forget the failures of these paths; no write at all when none is on record (the usual case)."""
        table = self.table(FailureRecord.table)
        if table is None or not paths or table.count_rows() == 0:
            return
        # In chunks: a batch of 100k files must not become one 100k-term filter.
        for start in range(0, len(paths), FILTER_CHUNK):
            where = f"path IN {sql_in(paths[start:start + FILTER_CHUNK])}"
            if table.count_rows(where):
                with self._write_lock:
                    self._retry(table.delete, where)

    def insert_new(self, records: Sequence[Record]) -> int:
        """Add records whose key is not stored yet (others are left as they are); returns how many were new."""
        if not records:
            return 0
        record = type(records[0])
        with self._committing():  # not between a purge's read and its rewrite (reelmind.privacy)
            table = self.ensure(record)
            before = table.count_rows()
            unique = {getattr(r, record.key): r.to_row() for r in records}
            self._upsert(table, record.key, list(unique.values()), update_matched=False)
            return table.count_rows() - before

    def purge(self, record: type[Record], where: str | None) -> tuple[int, int]:
        """Remove the rows matching `where` from disk, not only from the latest version: rewrite the table without
        them in one commit, then remove every older version and the files only they use. (A delete would leave the
        rows in their data files, marked deleted, until compaction, which LanceDB skips while few are, and its
        transaction would spell out `where`.) Readers still on an older version lose it. Under the commit lock,
        which every writer of a local database takes, so no other process's rows can land between the read and the
        rewrite (on object storage, forget users while nothing else writes). Returns (rows removed, versions
        removed); `where` None removes no rows, only older versions."""
        with self._committing():
            table = self.table(record.table)
            if table is None:
                return 0, 0
            removed = table.count_rows(where) if where else 0
            if removed:
                kept = table.search().where(f"({where}) IS NOT TRUE").limit(None).to_arrow()
                table = self.db.create_table(record.table, kept, schema=table.schema, mode="overwrite")
                self._tables[record.table] = table
                self._indexed.discard(record.table)  # an overwrite has no indexes
            before = len(table.list_versions())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # that older versions go is the point here
                self._retry(lambda: table.optimize(cleanup_older_than=timedelta(0)))
            return removed, before - len(table.list_versions())

    def replace(self, record: type[Record], records: Sequence[Record] | pa.Table,
                precondition: Callable[[], bool] | None = None) -> bool:
        """Replace a whole table in one commit (a new version): readers see the old rows or the new, never a mix.
        `records`: Record objects, or their rows as an Arrow table of the record's schema (millions of rows
        without a Python object each). `precondition`, checked under the commit lock, can call the write off
        (e.g. the picks of a model that a newer run has replaced meanwhile); returns whether the table was
        replaced."""
        schema = table_schema(record)
        data = records.cast(schema) if isinstance(records, pa.Table) else \
            pa.Table.from_pylist([r.to_row() for r in records], schema=schema)
        # Under the commit lock: two processes overwriting at once (two recommend runs) made LanceDB refuse the
        # later overwrite as a commit conflict; one after the other, the last one wins whole. Conflicts with a
        # writer on another machine (object storage) are retried.
        with self._committing():
            if precondition is not None and not precondition():
                return False
            self._tables[record.table] = self._retry(
                lambda: self.db.create_table(record.table, data, mode="overwrite"))
            return True

    def drop_tables(self, chosen: Callable[[list[str]], Iterable[str]]) -> list[str]:
        """Drop the tables that `chosen` picks from the database's table names, picked and dropped under the commit
        lock, so that no commit the choice depends on (another process's save) lands in between; returns them."""
        dropped = []
        with self._committing():
            for name in chosen(self.table_names()):
                with suppress(ValueError):  # "not found": dropped meanwhile
                    self.db.drop_table(name)
                    dropped.append(name)
                self._tables.pop(name, None)
        return dropped

    def drop_old_versions(self, record: type[Record], older_than: timedelta) -> None:
        """Compact the record's table and delete its versions older than `older_than` (under the commit lock, so
        it never races another process's overwrite)."""
        table = self.table(record.table)
        if table is not None:
            with self._committing():
                self._retry(lambda: table.optimize(cleanup_older_than=older_than))

    def swap_table(self, record: type[Record], data: pa.Table, versions: Mapping[str, int]) -> None:
        """Replace the record's table by `data`, whose schema may differ (another model's vectors), in one commit
        made while no video is committed; refused if a table changed since its version in `versions` (tables the
        data was derived from: a write since would be lost). Not while an upkeep runs on the tables."""
        with self._upkeeping(record.table, wait=True), self._committing():
            changed = [name for name, version in versions.items() if self.table(name).version != version]
            if changed:
                raise StoreError(f"{self.uri}: {', '.join(changed)} changed while '{record.table}' was re-embedded; "
                                 f"run {REINDEX_COMMAND.format(uri=self.uri)} again (its finished work is kept)")
            self._tables[record.table] = self.db.create_table(record.table, data, mode="overwrite")
            self._indexed.discard(record.table)  # an overwrite has no indexes

    def _upsert(self, table: lancedb.table.Table, key: str, rows: list[dict] | pa.Table,
                update_matched: bool = True) -> None:
        def merge():
            builder = table.merge_insert(key)
            if update_matched:
                builder = builder.when_matched_update_all()
            return builder.when_not_matched_insert_all().execute(rows, on_bad_vectors=NULL_VECTORS)

        self._retry(merge)

    def _open_created_elsewhere(self, name: str) -> lancedb.table.Table:
        """A table another process is creating: listed (its creation refused ours) before its first version is
        written, when opening it says "not found" for a moment."""
        for attempt in range(COMMIT_RETRIES):
            try:
                return self.db.open_table(name)
            except ValueError:
                if attempt == COMMIT_RETRIES - 1:
                    raise
                time.sleep(0.1 * 2 ** attempt)

    def _retry(self, fn, *args):
        """Run one write, retrying commit conflicts; a full disk is one line (nothing of the write is committed:
        a Lance commit is the last step of a write, so the database stays as it was, readable)."""
        for attempt in range(COMMIT_RETRIES):
            try:
                return fn(*args)
            except (OSError, RuntimeError) as exc:
                if NO_SPACE in str(exc):
                    raise StoreError(f"{self.uri}: no space left on the device that holds the database; this "
                                     f"write was not committed") from None
                if attempt == COMMIT_RETRIES - 1 or "conflict" not in str(exc).lower():
                    raise
                time.sleep(0.1 * 2 ** attempt)

    # -- upkeep --------------------------------------------------------------------------------------------------

    def maintain(self, tables: Sequence[str] | None = None) -> list[indexes.Maintenance]:
        """Create the indexes the tables lack, then compact them, merge new rows into their indexes and drop old
        versions (`reelmind optimize`; writes start it in the background every MAINTAIN_EVERY_COMMITS commits).
        Waits for an upkeep of the same table running in any process to finish first: one at a time per table."""
        done = []
        for name in tables or self._indexed_tables():
            with self._upkeeping(name, wait=True):
                done += self._maintain([name])
        if tables is None:
            self._maintained_at = self._commits
        return done

    def wait_for_upkeep(self, timeout: float | None = None) -> list[indexes.Maintenance]:
        """Wait for the background upkeep this process started, if one runs; returns what the last one did."""
        thread = self._upkeep_thread
        if thread is not None:
            thread.join(timeout)
        return self.last_upkeep

    def _maintain_if_due(self) -> None:
        """After a commit (under the commit lock): the indexes a table lacks altogether are created at once while
        it is small (the first commit makes a full-text search possible); the scheduled upkeep (vector index
        training, compaction, merging new rows into the indexes: seconds to minutes at 100k videos) runs in a
        background thread, outside the commit lock, so no writer waits for it."""
        unchecked = [name for name in indexes.CATALOGUE_TABLES if name not in self._indexed]
        if unchecked:
            self._maintain(unchecked, optimize=False, train=False)
        if self._commits - self._maintained_at >= indexes.MAINTAIN_EVERY_COMMITS:
            self._maintained_at = self._commits  # a failed upkeep is tried again after as many commits
            self._start_upkeep()

    def _start_upkeep(self) -> None:
        if self._upkeep_thread is not None and self._upkeep_thread.is_alive():
            return  # one at a time: the rows committed meanwhile are the next one's
        # Not a daemon: a process that exits waits for its upkeep (a killed one leaves no half of it, only
        # uncommitted files that the next cleanup removes).
        self._upkeep_thread = threading.Thread(target=self._background_upkeep, name="reelmind-upkeep")
        self._upkeep_thread.start()

    def _background_upkeep(self) -> None:
        try:
            done = []
            for name in self._indexed_tables():  # a table another upkeep holds is skipped: its rows are next
                with self._upkeeping(name, wait=False) as running:
                    if running:
                        done += self._maintain([name])
            self.last_upkeep = done
        except (OSError, RuntimeError, ValueError) as exc:  # the videos are committed: upkeep can wait
            LOG.warning("%s: upkeep failed, to be retried after more commits: %s", self.uri,
                        " ".join(str(exc).split())[:200])

    @contextmanager
    def _upkeeping(self, table: str, wait: bool) -> Iterator[bool]:
        """Hold the table's upkeep lock (across threads and, for a local database, processes); yields whether it
        is held: without `wait`, False at once when another upkeep of the table runs."""
        with self._upkeep_locks_lock:
            lock = self._upkeep_locks.setdefault(table, threading.Lock())
        if not lock.acquire(blocking=wait):
            yield False
            return
        try:
            if "://" in self.uri:
                yield True
                return
            lock_path = Path(self.uri) / UPKEEP_LOCK_NAME.format(table=table)
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with lock_path.open("a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            lock.release()

    def _indexed_tables(self) -> list[str]:
        """The tables an upkeep with no tables named keeps: the catalogue's, those that exist."""
        return [name for name in indexes.CATALOGUE_TABLES if name in self.table_names()]

    def _maintain(self, tables: Sequence[str] | None, optimize: bool = True,
                  train: bool = True) -> list[indexes.Maintenance]:
        """Upkeep of the tables (default: every indexed one); `train` False leaves vector indexes for later."""
        done = []
        for name in tables or self._indexed_tables():
            if name not in self.table_names():
                continue
            # Its own handle: commits go on while an upkeep runs, and the writers' handles stay theirs.
            table = self.db.open_table(name)
            started, before = time.perf_counter(), len(table.list_versions()) if optimize else 0
            missing = [c for c in indexes.missing_indexes(name, table)
                       if train or c not in indexes.VECTOR_INDEXES.get(name, ())]
            for unkept in indexes.unkept_indexes(name, table):
                table.drop_index(unkept)
            self._retry(indexes.create_indexes, name, table, missing)
            if optimize:
                self._retry(indexes.optimize, table)
            self._indexed.add(name)
            done.append(indexes.Maintenance(name, tuple(missing), before,
                                            len(table.list_versions()) if optimize else 0,
                                            round(time.perf_counter() - started, 3)))
        return done

    # -- reads --------------------------------------------------------------------------------------------------

    def rows(self, record: type[Record], columns: Sequence[str] | None = None, where: str | None = None,
             max_age_s: float = 0.0) -> list[dict]:
        """Stored rows of the record's table (all columns, or `columns`, which must be the record's); `max_age_s`
        as for `table`."""
        if columns:
            unknown = set(columns) - set(record.column_names())
            if unknown:
                raise ValueError(f"not columns of {record.table}: {', '.join(sorted(unknown))}")
        table = self.table(record.table, max_age_s)
        if table is None:
            return []
        query = table.search()
        if where:
            query = query.where(where)
        if columns:
            query = query.select(list(columns))
        return query.limit(None).to_list()

    def rows_of_videos(self, record: type[Record], columns: Sequence[str], revisions: Mapping[str, str | None],
                       max_age_s: float = 0.0) -> list[dict]:
        """The rows of these videos in the record's table: each video's committed row (`videos`; the revisions are
        not used), or all its segments or frames of the given revision. Read by row id where the keys in memory
        (`prewarm`) hold a video's rows and the table still has them all, else through the id or video_id index."""
        name, column = record.table, VIDEO_KEY[record.table]
        wanted = [*columns, *(c for c in (column, "rev") if c not in columns)]
        table = self.table(name, max_age_s)
        if table is None:
            return []
        version = table.version  # read once: each read is a round trip to LanceDB's event loop (~0.2-0.5 ms)
        keys = self._current_keys(name, version)  # none of a table dropped and made again since they were read
        known = {} if keys is None else {video_id: keys.row_ids_of(video_id, None if name == "videos" else rev)
                                         for video_id, rev in revisions.items()}
        known = {video_id: row_ids for video_id, row_ids in known.items() if row_ids}
        rows = self._take_keyed(table, version, keys, [r for row_ids in known.values() for r in row_ids], wanted) \
            if known else []
        got: dict[str, int] = {}
        for row in rows:
            got[row[column]] = got.get(row[column], 0) + 1
        # complete: a video's one live row; all the rows of a revision (written at once, moved at once or not)
        whole = {video_id for video_id, row_ids in known.items()
                 if got.get(video_id, 0) == (1 if name == "videos" else len(row_ids))}
        rest = [video_id for video_id in revisions if video_id not in whole]
        if rest:
            rows = [row for row in rows if row[column] in whole] + self.rows(
                record, wanted, f"{column} IN {sql_in(rest)}", max_age_s)
        return [row for row in rows if name == "videos" or revisions[row[column]] in (None, row["rev"])]

    @staticmethod
    def _take_keyed(table: lancedb.table.Table, version: int, keys: RowKeys, row_ids: list[int],
                    columns: list[str]) -> list[dict]:
        """These rows' `columns` (row ids the keys in memory hold): the key columns from memory, the rest from the
        table (a take costs ~1.3 ms more per column read: 100 frames' 7 shown columns 11.0 ms, 3 of them 5.8 ms).
        All from memory while the table is at the keys' version; after a commit the table says which rows are
        still there (a video written again or removed since has lost its rows)."""
        read_columns = [c for c in columns if c not in keys.columns]
        if not read_columns and version == keys.version:
            read = [{"_rowid": row_id} for row_id in row_ids]
        else:
            read = table.take_row_ids(row_ids).select(read_columns).with_row_id().to_arrow().to_pylist()
        found, _ = keys.find([row.pop("_rowid") for row in read])
        return [row | {c: key[c] for c in columns if c in keys.columns} for row, key in zip(read, found, strict=True)
                if key is not None]

    def videos(self, columns: Sequence[str] | None = None, where: str | None = None) -> list[dict]:
        return self.rows(VideoRecord, columns, where)

    def video(self, video_id: str) -> VideoRecord | None:
        rows = self.videos(where=f"id = {sql_str(video_id)}")
        return VideoRecord.from_row(rows[0]) if rows else None

    def video_revisions(self, video_ids: Iterable[str], max_age_s: float = 0.0) -> dict[str, dict]:
        """The committed row (id, rev, path, title, thumbnail) of each of these videos that is stored."""
        ids = sorted(set(video_ids))
        if not ids:
            return {}
        rows = self.rows(VideoRecord, ["id", "rev", "path", "title", "thumbnail_path"], f"id IN {sql_in(ids)}",
                         max_age_s)
        return {r["id"]: r for r in rows}

    def children(self, record: type[SegmentRecord] | type[FrameRecord], video_id: str, rev: str) -> list[dict]:
        """A committed video's segments (in order) or frames (by time)."""
        rows = self.rows(record, where=f"video_id = {sql_str(video_id)} AND rev = {sql_str(rev)}")
        return sorted(rows, key=lambda r: r.get("idx", r.get("time_s", 0)))

    def nearest(self, table_name: str, column: str, vector, k: int, where: str | None = None,
                exact: bool = False, columns: Sequence[str] | None = None) -> list[dict]:
        """Rows nearest to `vector` by cosine distance, with `score` = cosine similarity, among the rows `where`
        selects (applied before the search). Through the column's vector index when it has one (reelmind.indexes)
        unless `exact`; `columns` limits what is read (default: all but the vector columns). After `prewarm`, key
        columns (ROW_KEYS) come from memory: LanceDB reads row ids and distances only."""
        table = self.table(table_name, READ_MAX_AGE_S)
        if table is None:
            return []
        version = table.version  # read once (a round trip to LanceDB's event loop each time)
        query = table.search(list(map(float, vector)), vector_column_name=column).distance_type("cosine")
        if exact:
            query = query.bypass_vector_index()
        elif self._has_index(table_name, table, version, column):
            query = query.nprobes(indexes.NPROBES.get(table_name, DEFAULT_NPROBES))
            self._keep_warm(table_name, version)
        if where:  # rows with no vector (null) are never returned
            query = query.where(where, prefilter=True)
        rows, distances = self._query_rows(table_name, table, version, query, k, columns, "_distance")
        return [row | {"score": 1.0 - float(distance)} for row, distance in zip(rows, distances, strict=True)
                if row is not None]

    def _current_keys(self, name: str, version: int) -> RowKeys | None:
        """The table's keys in memory (`prewarm`), if any and if of this table (at `version`): forgotten once its
        version is older than theirs (it was dropped and made again: its row ids are other rows')."""
        keys = self._keys.get(name)
        if keys is not None and version < keys.version:
            self._keys.pop(name, None)
            return None
        return keys

    def _query_rows(self, name: str, table: lancedb.table.Table, version: int, query, k: int,
                    columns: Sequence[str] | None, measure: str) -> tuple[list[dict | None], list[float]]:
        """The first k rows of a LanceDB search (`columns` of each, default all but the vectors) and each one's
        `measure` ("_distance", "_score"). After `prewarm` with key columns asked for, LanceDB returns row ids
        and the measure only, and the keys come from memory (None for a row gone meanwhile)."""
        keys = self._current_keys(name, version)
        if columns and keys is not None and set(columns) <= set(keys.columns):
            found = query.with_row_id(True).select([measure]).limit(k).to_arrow()
            return self._keyed_rows(name, table, keys, found["_rowid"].to_pylist(), columns), \
                found[measure].to_pylist()
        rows = query.select([*(columns or self._plain_columns(table)), measure]).limit(k).to_list()
        return rows, [row.pop(measure) for row in rows]

    def _keyed_rows(self, name: str, table: lancedb.table.Table, keys: RowKeys, row_ids: list[int],
                    columns: Sequence[str]) -> list[dict]:
        """The `columns` of these rows, in their order (None for a row gone meanwhile): from memory, and those
        written since it was read from the table (then it is read again, in the background)."""
        found, missing = keys.find(row_ids)
        if missing:
            read = table.take_row_ids(missing).select(list(columns)).with_row_id().to_arrow().to_pylist()
            by_id = {row.pop("_rowid"): row for row in read}
            found = [row if row is not None else by_id.get(row_id) for row, row_id in zip(found, row_ids, strict=True)]
            self._reload_keys(name)
        return [None if row is None else {c: row[c] for c in columns} for row in found]

    def prewarm(self, tables: Sequence[str] | None = None) -> dict[str, float]:
        """Load the vector indexes of these tables (default: every searched one) into LanceDB's in-process cache,
        and keep them there: from then on, `nearest` loads an index again in the background once an upkeep has
        merged new rows into it. For a process that answers many searches (the API; `reelmind bench search`).
        Also reads each table's key columns into memory (ROW_KEYS), which `nearest` then returns without reading
        them from the table. Returns the seconds each index (and each table's keys) took.

        A search that probes every partition reads an index in one pass: 0.2 s for the 1M frames' IVF_FLAT index
        here, where a search of a cold index reads each of its probed partitions apart (a top-80 search of the
        frames took 35 ms p50 cold, 15 ms afterwards, for new queries). The cache holds the indexed vectors: ~1.5 GB
        per million 384-d rows."""
        self._warm = self._warm if self._warm is not None else {}
        took = {}
        for name in tables or list(indexes.VECTOR_INDEXES):
            for column in indexes.VECTOR_INDEXES.get(name, ()):
                started = time.perf_counter()
                if self._warm_index(name, column, max_age_s=0.0):  # the latest version
                    took[f"{name}.{column}"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            if self._load_keys(name):
                took[f"{name} keys"] = round(time.perf_counter() - started, 3)
        return took

    def _load_keys(self, name: str) -> bool:
        """Read the table's key columns (ROW_KEYS) into memory, unless those of its version are; whether it read."""
        table = self.table(name, LONG_AGO_S)
        if table is None or name not in ROW_KEYS or self._keys.get(name, _NO_KEYS).version == table.version:
            return False
        self._keys_loaded_at[name] = time.monotonic()
        self._keys[name] = RowKeys.read(table, ROW_KEYS[name], VIDEO_KEY.get(name))
        return True

    def _reload_keys(self, name: str) -> None:
        """Rows were found that the table's keys in memory lack (written since): read them again in the
        background, at most every ROW_KEYS_RELOAD_S, one table at a time."""
        if time.monotonic() - self._keys_loaded_at.get(name, 0.0) < ROW_KEYS_RELOAD_S:
            return
        if self._keys_loading is not None and self._keys_loading.is_alive():
            return
        self._keys_loaded_at[name] = time.monotonic()
        self._keys_loading = threading.Thread(target=self._reload_keys_now, args=(name,), daemon=True,
                                              name="reelmind-keys")
        self._keys_loading.start()

    def _reload_keys_now(self, name: str) -> None:
        try:
            self._load_keys(name)
        except (OSError, RuntimeError, ValueError) as exc:  # a search only reads more for it
            LOG.warning("%s: could not read the %s keys into memory: %s", self.uri, name,
                        " ".join(str(exc).split())[:200])

    def _warm_index(self, name: str, column: str, max_age_s: float = READ_MAX_AGE_S) -> bool:
        """Load the column's vector index into the cache unless the same index is there; whether it loaded."""
        table = self.table(name, max_age_s)
        if table is None or not self._has_index(name, table, table.version, column):
            return False
        stats = table.index_stats(f"{column}_idx")
        rows = stats.num_indexed_rows if stats else 0
        if self._warm is None or self._warm.get((name, column)) == rows:
            return False
        probe = [1.0] + [0.0] * (table.schema.field(column).type.list_size - 1)
        table.search(probe, vector_column_name=column).distance_type("cosine").nprobes(WARM_ALL_PARTITIONS) \
            .select(["_distance"]).limit(1).to_arrow()
        self._warm[(name, column)] = rows
        return True

    def _keep_warm(self, name: str, version: int) -> None:
        """After `prewarm`: on a new version of the table, load its vector indexes again in the background if an
        upkeep changed them (one loader at a time; searches meanwhile probe the new index cold)."""
        if self._warm is None or self._warm_checked.get(name) == version:
            return
        self._warm_checked[name] = version
        if self._warming is None or not self._warming.is_alive():
            self._warming = threading.Thread(target=self._rewarm, args=(name,), name="reelmind-prewarm",
                                             daemon=True)
            self._warming.start()

    def _rewarm(self, name: str) -> None:
        try:
            for column in indexes.VECTOR_INDEXES.get(name, ()):
                self._warm_index(name, column, max_age_s=LONG_AGO_S)  # the version the searches read
        except (OSError, RuntimeError, ValueError) as exc:  # a search is only slower for it
            LOG.warning("%s: could not load the %s indexes into the cache: %s", self.uri, name,
                        " ".join(str(exc).split())[:200])

    def matches(self, table_name: str, column: str, text: str, k: int, where: str | None = None,
                columns: Sequence[str] | None = None) -> list[dict]:
        """Rows whose `column` holds every word of `text` (as the column's full-text index splits and normalises
        words), best first by BM25, with `score` = the BM25 score; none when the column has no full-text index."""
        table = self.table(table_name, READ_MAX_AGE_S)
        if table is None:
            return []
        version = table.version
        if not self._has_index(table_name, table, version, column, text=True):
            return []
        query = table.search(MatchQuery(text, column, operator=FullTextOperator.AND), query_type="fts")
        if where:
            query = query.where(where, prefilter=True)
        rows, scores = self._query_rows(table_name, table, version, query, k, columns, "_score")
        return [row | {"score": float(score)} for row, score in zip(rows, scores, strict=True) if row is not None]

    def _has_index(self, table_name: str, table: lancedb.table.Table, version: int, column: str,
                   text: bool = False) -> bool:
        """Whether the column has a vector (or, `text`, a full-text) index; looked up once per table version."""
        key = (table_name, version)
        if key not in self._index_cache:
            self._index_cache = {k: v for k, v in self._index_cache.items() if k[0] != table_name}
            self._index_cache[key] = {(tuple(i.columns)[0], i.index_type == "FTS") for i in table.list_indices()
                                      if i.index_type == "FTS" or i.index_type.startswith("Ivf")}
        return (column, text) in self._index_cache[key]

    @staticmethod
    def _plain_columns(table: lancedb.table.Table) -> list[str]:
        return [f.name for f in table.schema if not pa.types.is_fixed_size_list(f.type)]

    def failures(self) -> list[FailureRecord]:
        return [FailureRecord.from_row(r) for r in self.rows(FailureRecord)]


@dataclass(frozen=True, eq=False)
class _PendingWrite:
    """One caller's video waiting in the group-commit queue."""
    video: VideoRecord
    segments: tuple[SegmentRecord, ...]
    frames: tuple[FrameRecord, ...]
    spaces: dict[str, VectorSpec]


def _now() -> datetime:
    return datetime.now(UTC)
