"""LanceDB storage: the `videos`, `segments`, `frames` and `failures` tables, written so a crash leaves no half video.

Write protocol for one video (LanceDB has no multi-table transactions):
1. add its segments and frames, each row stamped with a new revision `rev`;
2. upsert its `videos` row carrying that `rev`: this single-row upsert is the commit;
3. delete the video's segments and frames of any other revision.
Readers join segments and frames to `videos` on (video_id, rev), so rows of an interrupted ingest are never seen,
and the next run writes the video again and sweeps them.

Each table's schema metadata records, per vector column, the model id and dimension that filled it; writing or
searching with another model is refused with a message that says which models differ.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import lancedb
import pyarrow as pa

from reelmind.errors import StoreError

VECTORS_METADATA_KEY = b"reelmind.vectors"
# Lance commits can conflict when several writers upsert at once; a few retries with backoff resolve it.
COMMIT_RETRIES = 5


@dataclass(frozen=True)
class VectorSpec:
    model_id: str
    dim: int


def _vec(dim: int) -> pa.DataType:
    return pa.list_(pa.float32(), dim)


def videos_schema(text: VectorSpec, visual: VectorSpec) -> pa.Schema:
    return _with_vectors(pa.schema([
        ("id", pa.string()), ("rev", pa.string()), ("path", pa.string()), ("content_hash", pa.string()),
        ("sidecar_hash", pa.string()), ("size_bytes", pa.int64()),
        ("title", pa.string()), ("description", pa.string()), ("tags", pa.list_(pa.string())),
        ("uploader", pa.string()), ("published_at", pa.string()),
        ("duration_s", pa.float64()), ("container", pa.string()), ("has_audio", pa.bool_()),
        ("has_video", pa.bool_()), ("width", pa.int32()), ("height", pa.int32()), ("fps", pa.float32()),
        ("audio_codec", pa.string()), ("video_codec", pa.string()),
        ("language", pa.string()), ("transcript", pa.string()), ("captions", pa.list_(pa.string())),
        ("caption_source", pa.string()), ("ocr_text", pa.string()), ("document", pa.string()),
        ("n_frames", pa.int32()), ("n_segments", pa.int32()), ("thumbnail_path", pa.string()),
        ("text_vector", _vec(text.dim)), ("visual_vector", _vec(visual.dim)),
        ("models", pa.string()), ("stage_seconds", pa.string()), ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]), {"text_vector": text, "visual_vector": visual})


def segments_schema(text: VectorSpec) -> pa.Schema:
    return _with_vectors(pa.schema([
        ("id", pa.string()), ("video_id", pa.string()), ("rev", pa.string()), ("idx", pa.int32()),
        ("start", pa.float64()), ("end", pa.float64()), ("text", pa.string()), ("vector", _vec(text.dim)),
    ]), {"vector": text})


def frames_schema(text: VectorSpec, visual: VectorSpec) -> pa.Schema:
    return _with_vectors(pa.schema([
        ("id", pa.string()), ("video_id", pa.string()), ("rev", pa.string()), ("time_s", pa.float64()),
        ("shot", pa.int32()), ("thumbnail_path", pa.string()), ("labels", pa.list_(pa.string())),
        ("caption", pa.string()), ("caption_source", pa.string()), ("ocr_text", pa.string()),
        ("visual_vector", _vec(visual.dim)), ("text_vector", _vec(text.dim)),
    ]), {"visual_vector": visual, "text_vector": text})


FAILURES_SCHEMA = pa.schema([
    ("path", pa.string()), ("reason", pa.string()), ("stage", pa.string()),
    ("failed_at", pa.timestamp("us", tz="UTC")),
])


def _with_vectors(schema: pa.Schema, vectors: dict[str, VectorSpec]) -> pa.Schema:
    meta = {c: {"model_id": v.model_id, "dim": v.dim} for c, v in vectors.items()}
    return schema.with_metadata({VECTORS_METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})


def vector_specs(table: lancedb.table.Table) -> dict[str, VectorSpec]:
    raw = (table.schema.metadata or {}).get(VECTORS_METADATA_KEY)
    return {c: VectorSpec(**v) for c, v in json.loads(raw).items()} if raw else {}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_sql_str(v) for v in values) + ")"


class Store:
    """One LanceDB database. Use `Store.open(uri)`: one connection and one handle per table per process."""

    _open: dict[str, "Store"] = {}
    _open_lock = threading.Lock()

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None):
        self.uri = uri
        self.db = lancedb.connect(uri, storage_options=storage_options)
        self._tables: dict[str, lancedb.table.Table] = {}
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, uri: str, storage_options: dict[str, str] | None = None) -> "Store":
        with cls._open_lock:
            if uri not in cls._open:
                cls._open[uri] = cls(uri, storage_options)
            return cls._open[uri]

    # -- tables -------------------------------------------------------------------------------------------------

    def table(self, name: str) -> lancedb.table.Table | None:
        if name not in self._tables:
            if name not in self._table_names():
                return None
            self._tables[name] = self.db.open_table(name)
        table = self._tables[name]
        table.checkout_latest()  # see other processes' commits
        return table

    def _table_names(self) -> list[str]:
        result = self.db.list_tables()
        return list(getattr(result, "tables", result))

    def _ensure(self, name: str, schema: pa.Schema) -> lancedb.table.Table:
        table = self.table(name)
        if table is None:
            try:
                table = self.db.create_table(name, schema=schema)
            except (OSError, ValueError, RuntimeError):
                table = self.db.open_table(name)  # another writer created it first
            self._tables[name] = table
        self._check_vectors(name, table, schema)
        return table

    @staticmethod
    def _check_vectors(name: str, table: lancedb.table.Table, schema: pa.Schema) -> None:
        wanted = json.loads(schema.metadata[VECTORS_METADATA_KEY]) if schema.metadata else {}
        have = vector_specs(table)
        for column, spec in wanted.items():
            old = have.get(column)
            if old and (old.model_id, old.dim) != (spec["model_id"], spec["dim"]):
                raise StoreError(
                    f"table '{name}' column '{column}' holds vectors of {old.model_id} (dim {old.dim}); refusing "
                    f"vectors of {spec['model_id']} (dim {spec['dim']}): use another database (--db) for this "
                    f"model, or re-ingest everything into a new one")

    def check_query_model(self, table_name: str, column: str, model_id: str, dim: int) -> None:
        table = self.table(table_name)
        spec = vector_specs(table).get(column) if table is not None else None
        if spec and (spec.model_id, spec.dim) != (model_id, dim):
            raise StoreError(f"table '{table_name}' column '{column}' was embedded with {spec.model_id} "
                             f"(dim {spec.dim}) but the configured model is {model_id} (dim {dim}); configure "
                             f"the same text model to search it")

    # -- writes -------------------------------------------------------------------------------------------------

    def write_video(self, video: dict[str, Any], segments: list[dict], frames: list[dict],
                    text: VectorSpec, visual: VectorSpec) -> None:
        """Children first, then the `videos` row (the commit), then sweep the children of older revisions."""
        video_id, rev = video["id"], video["rev"]
        with self._write_lock:
            seg_table = self._ensure("segments", segments_schema(text))
            frame_table = self._ensure("frames", frames_schema(text, visual))
            video_table = self._ensure("videos", videos_schema(text, visual))
            if segments:
                self._retry(seg_table.add, segments)
            if frames:
                self._retry(frame_table.add, frames)
            self._upsert(video_table, "id", [video])
            stale = f"video_id = {_sql_str(video_id)} AND rev != {_sql_str(rev)}"
            self._retry(seg_table.delete, stale)
            self._retry(frame_table.delete, stale)

    def update_video(self, video_id: str, values: dict[str, Any]) -> None:
        """Change columns of one committed row (metadata edits that need no model run)."""
        with self._write_lock:
            table = self.table("videos")
            self._retry(lambda: table.update(where=f"id = {_sql_str(video_id)}", values=values))

    def record_failure(self, path: str, reason: str, stage: str) -> None:
        with self._write_lock:
            table = self._ensure_failures()
            row = {"path": path, "reason": reason, "stage": stage, "failed_at": _now()}
            self._upsert(table, "path", [row])

    def clear_failure(self, path: str) -> None:
        table = self.table("failures")
        if table is not None:
            with self._write_lock:
                self._retry(table.delete, f"path = {_sql_str(path)}")

    def _ensure_failures(self) -> lancedb.table.Table:
        return self.ensure_table("failures", FAILURES_SCHEMA)

    def ensure_table(self, name: str, schema: pa.Schema) -> lancedb.table.Table:
        """A table without vector columns (failures, events, ...), created on first use."""
        table = self.table(name)
        if table is None:
            table = self.db.create_table(name, schema=schema, exist_ok=True)
            self._tables[name] = table
        return table

    def replace_table(self, name: str, data: pa.Table) -> None:
        """Replace a whole table in one commit (a new version): readers see the old rows or the new, never a mix."""
        with self._write_lock:
            self._tables[name] = self.db.create_table(name, data, mode="overwrite")

    def upsert(self, table: lancedb.table.Table, key: str, rows: list[dict], update_matched: bool = True) -> None:
        with self._write_lock:
            self._upsert(table, key, rows, update_matched)

    def _upsert(self, table: lancedb.table.Table, key: str, rows: list[dict], update_matched: bool = True) -> None:
        def merge():
            builder = table.merge_insert(key)
            if update_matched:
                builder = builder.when_matched_update_all()
            return builder.when_not_matched_insert_all().execute(rows)

        self._retry(merge)

    @staticmethod
    def _retry(fn, *args):
        for attempt in range(COMMIT_RETRIES):
            try:
                return fn(*args)
            except (OSError, RuntimeError) as exc:
                if attempt == COMMIT_RETRIES - 1 or "conflict" not in str(exc).lower():
                    raise
                time.sleep(0.1 * 2 ** attempt)

    # -- reads --------------------------------------------------------------------------------------------------

    def videos(self, columns: list[str] | None = None, where: str | None = None) -> list[dict]:
        table = self.table("videos")
        if table is None:
            return []
        query = table.search()
        if where:
            query = query.where(where)
        if columns:
            query = query.select(columns)
        return query.limit(None).to_list() if hasattr(query, "limit") else query.to_list()

    def video(self, video_id: str, columns: list[str] | None = None) -> dict | None:
        rows = self.videos(columns, where=f"id = {_sql_str(video_id)}")
        return rows[0] if rows else None

    def video_revisions(self, video_ids: Iterable[str]) -> dict[str, dict]:
        ids = sorted(set(video_ids))
        if not ids:
            return {}
        rows = self.videos(["id", "rev", "path", "title", "thumbnail_path"], where=f"id IN {_in_list(ids)}")
        return {r["id"]: r for r in rows}

    def children(self, table_name: str, video_id: str, rev: str) -> list[dict]:
        table = self.table(table_name)
        if table is None:
            return []
        rows = (table.search().where(f"video_id = {_sql_str(video_id)} AND rev = {_sql_str(rev)}")
                .limit(None).to_list())
        return sorted(rows, key=lambda r: r.get("idx", r.get("time_s", 0)))

    def nearest(self, table_name: str, column: str, vector, k: int) -> list[dict]:
        """Rows nearest to `vector` by cosine distance, with `score` = cosine similarity."""
        table = self.table(table_name)
        if table is None or table.count_rows() == 0:
            return []
        rows = (table.search(list(map(float, vector)), vector_column_name=column).metric("cosine")
                .where(f"{column} IS NOT NULL", prefilter=True).limit(k).to_list())
        for row in rows:
            row["score"] = 1.0 - float(row.pop("_distance"))
        return rows

    def failures(self) -> list[dict]:
        table = self.table("failures")
        return table.search().limit(None).to_list() if table is not None else []


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
