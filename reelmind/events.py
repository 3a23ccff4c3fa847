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
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reelmind.config import Settings, SettingsError
from reelmind.errors import ReelMindError
from reelmind.privacy import store_user_id
from reelmind.records import EVENT_TYPES, TEXT_EVENTS, VIDEOLESS_EVENTS, EventRecord
from reelmind.store import Store

REQUIRED = ("user_id", "video_id", "event", "timestamp")
# Reported bad rows per file: enough to fix a file, short enough to read.
MAX_REPORTED_ERRORS = 20
# Event times a real log can hold: none before the Unix epoch (a negative or huge number is a unit or data error,
# and would break recency weights), none more than a day ahead (clock skew between machines and time zones).
EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class EventError(ReelMindError):
    """A file of events that cannot be imported; `errors` lists every reported bad row."""

    def __init__(self, source: str, errors: list[str], total: int):
        self.errors = errors
        more = f" (and {total - len(errors)} more)" if total > len(errors) else ""
        super().__init__(f"{source}: {total} bad row(s){more}; nothing was imported\n" + "\n".join(errors))


def make_event(user_id: str, video_id: str, event: str, timestamp: datetime, watch_fraction: float | None = None,
               text: str | None = None) -> EventRecord:
    """An event record whose id hashes its content, so the same event imported twice is stored once."""
    key = "\x1f".join([user_id, video_id, event, timestamp.isoformat(),
                       "" if watch_fraction is None else f"{watch_fraction:.4f}", text or ""])
    return EventRecord(hashlib.sha256(key.encode()).hexdigest()[:24], user_id, video_id, event, watch_fraction,
                       timestamp, text)


def parse_timestamp(value: object) -> datetime:
    """Unix seconds (int or float) or ISO 8601 (a date-time without a zone is taken as UTC), between
    EARLIEST_EVENT and now plus FUTURE_SLACK."""
    text = str(value).strip()
    if not text:
        raise ValueError("empty timestamp")
    parsed = _parse_time(text)
    latest = datetime.now(UTC) + FUTURE_SLACK
    if parsed is None or not EARLIEST_EVENT <= parsed <= latest:
        raise ValueError(f"timestamp {text!r} is not between {EARLIEST_EVENT:%Y-%m-%d} and {latest:%Y-%m-%d}")
    return parsed


def _parse_time(text: str) -> datetime | None:
    """The time `text` names, or None for a number no date can hold (inf, nan, 1e20); ValueError if neither form."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        earliest, latest = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        if not math.isfinite(seconds) or not earliest.timestamp() <= seconds <= latest.timestamp():
            return None
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither Unix seconds nor ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


def validate(record: dict, resolver: VideoResolver, settings: Settings | None = None) -> EventRecord:
    """The event `record` describes, its user id as stored (`settings`: reelmind.privacy.store_user_id)."""
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
    return make_event(store_user_id(user_id, settings), video_id, event, parse_timestamp(record["timestamp"]),
                      fraction, text)


def read_records(path: Path) -> list[tuple[int, dict | None, str | None]]:
    """(row number, record or None, parse error or None); CSV by header, JSON lines otherwise."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv" or (path.suffix.lower() not in (".jsonl", ".json", ".ndjson")
                                         and not text.lstrip().startswith("{")):
        reader = csv.DictReader(text.splitlines())
        _check_header(path, reader.fieldnames or [])
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


def _check_header(path: Path, columns: list[str]) -> None:
    """Every required column, each once: a repeated column would silently keep only its last value."""
    absent = [c for c in REQUIRED if c not in columns]
    if absent:
        raise EventError(str(path), [f"{path}: header lacks required column(s) {', '.join(absent)}"], 1)
    repeated = [c for c, n in Counter(columns).items() if n > 1]
    if repeated:
        raise EventError(str(path), [f"{path}: header repeats column {', '.join(map(repr, repeated))}"], 1)


def import_events(path: str | Path, store: Store, settings: Settings | None = None) -> int:
    """Validate every row of `path`, then write them all in one batch; returns the number of new events. User ids
    are stored as `settings` say (reelmind.privacy.store_user_id)."""
    path = Path(path)
    if not path.is_file():
        raise EventError(str(path), [f"{path}: file not found"], 1)
    resolver = VideoResolver(store)
    events, errors = [], []
    for n, record, problem in read_records(path):
        try:
            if problem:
                raise ValueError(problem)
            events.append(validate(record, resolver, settings))
        except SettingsError:
            raise  # the configuration, not the row: one line, not one per row
        except ValueError as exc:
            errors.append(f"{path}:{n}: {exc}")
    if errors:
        raise EventError(str(path), errors[:MAX_REPORTED_ERRORS], len(errors))
    return write_events(store, events)


def write_events(store: Store, events: list[EventRecord]) -> int:
    """Store the events in one batch; returns how many were new."""
    return store.insert_new(events)


def load_events(store: Store) -> list[dict]:
    return store.rows(EventRecord)
