"""User events (views, likes, shares, skips, comments, searches): validated, then written to LanceDB in one batch.

A file is checked whole before anything is written: every bad row is reported (file, row number, reason), and a
file with any bad row changes nothing. Each event's id is a hash of its content, so importing a file twice adds
nothing the second time.

Videos may be named by id or, for readable logs, by file name (`tomato_soup_recipe.mp4`) when that name is unique.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from reelmind.errors import ReelMindError
from reelmind.store import Store

EVENT_TYPES = ("view", "like", "share", "skip", "comment", "search")
REQUIRED = ("user_id", "video_id", "event", "timestamp")
# Events that carry the user's own words, and those that need a video.
TEXT_EVENTS = ("comment", "search")
VIDEOLESS_EVENTS = ("search",)
# Reported bad rows per file: enough to fix a file, short enough to read.
MAX_REPORTED_ERRORS = 20

EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("user_id", pa.string()), ("video_id", pa.string()), ("event", pa.string()),
    ("watch_fraction", pa.float32()), ("timestamp", pa.timestamp("us", tz="UTC")), ("text", pa.string()),
])


class EventError(ReelMindError):
    """A file of events that cannot be imported; `errors` lists every reported bad row."""

    def __init__(self, source: str, errors: list[str], total: int):
        self.errors = errors
        more = f" (and {total - len(errors)} more)" if total > len(errors) else ""
        super().__init__(f"{source}: {total} bad row(s){more}; nothing was imported\n" + "\n".join(errors))


@dataclass(frozen=True)
class Event:
    user_id: str
    video_id: str
    event: str
    timestamp: datetime
    watch_fraction: float | None = None
    text: str | None = None

    @property
    def event_id(self) -> str:
        key = "\x1f".join([self.user_id, self.video_id, self.event, self.timestamp.isoformat(),
                           "" if self.watch_fraction is None else f"{self.watch_fraction:.4f}", self.text or ""])
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    def row(self) -> dict:
        return {"event_id": self.event_id, "user_id": self.user_id, "video_id": self.video_id, "event": self.event,
                "watch_fraction": self.watch_fraction, "timestamp": self.timestamp, "text": self.text}


def parse_timestamp(value: object) -> datetime:
    """Unix seconds (int or float) or ISO 8601 (a date-time without a zone is taken as UTC)."""
    text = str(value).strip()
    if not text:
        raise ValueError("empty timestamp")
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither Unix seconds nor ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class VideoResolver:
    """Maps a video reference (id, or unique file name) to a stored video id."""

    def __init__(self, store: Store):
        rows = store.videos(["id", "path"])
        self.ids = {r["id"] for r in rows}
        self.by_name: dict[str, set[str]] = {}
        for r in rows:
            self.by_name.setdefault(Path(r["path"]).name, set()).add(r["id"])

    def resolve(self, ref: str) -> str:
        if ref in self.ids:
            return ref
        matches = self.by_name.get(ref, set())
        if len(matches) == 1:
            return next(iter(matches))
        if len(matches) > 1:
            raise ValueError(f"video {ref!r} names {len(matches)} stored videos; use the video id")
        raise ValueError(f"unknown video {ref!r} (not an ingested video id or file name)")


def validate(record: dict, resolver: VideoResolver) -> Event:
    missing = [c for c in REQUIRED if c not in record or (record[c] in (None, "") and c != "video_id")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    event = str(record["event"]).strip().lower()
    if event not in EVENT_TYPES:
        raise ValueError(f"event {record['event']!r} is not one of {', '.join(EVENT_TYPES)}")
    user_id = str(record["user_id"]).strip()
    if not user_id:
        raise ValueError("empty user_id")
    ref = str(record.get("video_id") or "").strip()
    if not ref and event not in VIDEOLESS_EVENTS:
        raise ValueError(f"missing video_id (only {', '.join(VIDEOLESS_EVENTS)} events may omit it)")
    video_id = resolver.resolve(ref) if ref else ""
    fraction = record.get("watch_fraction")
    if fraction in (None, ""):
        fraction = None
    else:
        try:
            fraction = float(fraction)
        except (TypeError, ValueError):
            raise ValueError(f"watch_fraction {fraction!r} is not a number") from None
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"watch_fraction {fraction} is outside 0..1")
    text = str(record.get("text") or "").strip() or None
    if event in TEXT_EVENTS and not text:
        raise ValueError(f"a {event} event needs text (the comment or the query)")
    return Event(user_id, video_id, event, parse_timestamp(record["timestamp"]), fraction, text)


def read_records(path: Path) -> list[tuple[int, dict | None, str | None]]:
    """(row number, record or None, parse error or None); CSV by header, JSON lines otherwise."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv" or (path.suffix.lower() not in (".jsonl", ".json", ".ndjson")
                                         and not text.lstrip().startswith("{")):
        reader = csv.DictReader(text.splitlines())
        absent = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if absent:
            raise EventError(str(path), [f"{path}: header lacks required column(s) {', '.join(absent)}"], 1)
        return [(n, dict(row), None) for n, row in enumerate(reader, start=2)]  # row 1 is the header
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            out.append((n, record, None) if isinstance(record, dict) else (n, None, "not a JSON object"))
        except json.JSONDecodeError as exc:
            out.append((n, None, f"invalid JSON ({exc.msg})"))
    return out


def import_events(path: str | Path, store: Store) -> int:
    """Validate every row of `path`, then write them all in one batch; returns the number of new events."""
    path = Path(path)
    if not path.is_file():
        raise EventError(str(path), [f"{path}: file not found"], 1)
    resolver = VideoResolver(store)
    events, errors = [], []
    for n, record, problem in read_records(path):
        try:
            if problem:
                raise ValueError(problem)
            events.append(validate(record, resolver))
        except ValueError as exc:
            errors.append(f"{path}:{n}: {exc}")
    if errors:
        raise EventError(str(path), errors[:MAX_REPORTED_ERRORS], len(errors))
    return write_events(store, events)


def write_events(store: Store, events: list[Event]) -> int:
    if not events:
        return 0
    table = store.ensure_table("events", EVENTS_SCHEMA)
    before = table.count_rows()
    rows = list({e.event_id: e.row() for e in events}.values())
    store.upsert(table, "event_id", rows, update_matched=False)
    return table.count_rows() - before


def load_events(store: Store) -> list[dict]:
    table = store.table("events")
    return table.search().limit(None).to_list() if table is not None else []
