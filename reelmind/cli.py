"""The `reelmind` command line.

    reelmind ingest PATH... [--db URI]          files or folders, into LanceDB (exit 1 if any file failed)
    reelmind search "QUERY" [--k N] [--json]    videos and moments, in Chinese or English
    reelmind videos [--json]                    what is stored
    reelmind failures [--json]                  files that could not be ingested, and why
    reelmind upgrade [--db URI]                 bring an older database to this version's schema
    reelmind reindex [--db URI]                 re-embed the stored texts with the configured text model
    reelmind forget-user USER [--db URI]        delete a user's events, picks and model data, old versions too
    reelmind api [--db URI] [--port 8000]       the HTTP API and the web page
    reelmind optimize [--db URI]                create missing indexes, compact, drop old versions
    reelmind bench {store,search,ingest,recommend,all} [--videos N] [--json PATH]   performance at catalogue size

Usage errors exit with status 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from datetime import UTC
from pathlib import Path

from reelmind.errors import one_line
from reelmind.records import EVENT_TYPES

# argparse's status for a usage error; a bad setting is one too.
USAGE_ERROR = 2
# Enough of an unrecognised LanceDB error to tell what went wrong, within one terminal line or two.
LANCE_REASON_CHARS = 200


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def _cell(value: object, style: str = ""):
    """Data for a rich table (a title, a path, a transcript, a query) as plain text: brackets in it are shown as
    typed, never read as console markup (`[/bold]` would crash the table, `[reverse]x.mp4` would show as `x.mp4`)."""
    from rich.text import Text

    if isinstance(value, Text):  # already built from data, e.g. with a style
        return value
    return Text("" if value is None else str(value), style=style)


def _table(title: str, columns: tuple[str, ...]):
    from rich.table import Table

    table = Table(title=_cell(title))
    for column in columns:
        table.add_column(column)
    return table


def _add_row(table, *cells) -> None:
    """Every cell through `_cell`, so no value from the data reaches rich's markup parser."""
    table.add_row(*map(_cell, cells))


def _open_store(uri: str):
    """The database at `uri`, or one line saying why it cannot be opened (a file there, an unreachable store)."""
    from reelmind.errors import StoreError
    from reelmind.store import Store

    if "://" not in uri and Path(uri).is_file():
        raise StoreError(f"{uri}: is a file, not a database folder")
    try:
        return Store.open(uri)
    except OSError as exc:
        raise StoreError(f"{uri}: cannot open the database ({exc.strerror or _lance_reason(exc)})") from None
    except (RuntimeError, ValueError) as exc:  # LanceDB's errors from object storage, e.g. an unreachable endpoint
        raise StoreError(f"{uri}: cannot open the database ({_lance_reason(exc)})") from None


def _lance_reason(exc: Exception) -> str:
    """The innermost reason in a LanceDB error, whose text nests whole Rust error structures, on one short line."""
    text = " ".join(str(exc).split())
    messages = re.findall(r'message: "([^"]+)"', text)
    return messages[-1] if messages else text[:LANCE_REASON_CHARS]


def _check_writable(uri: str) -> None:
    """Ingest writes every folder of a local database: refuse one that cannot be written before any work starts.
    `os.access` also answers for root, which may write anything except on a read-only mount or an immutable folder."""
    from reelmind.errors import StoreError

    if "://" in uri:
        return
    folder = Path(uri)
    while not folder.exists():  # a new database is created inside the nearest folder that exists
        folder = folder.parent
    for path in [folder, *(Path(d) for d, _, _ in os.walk(folder) if d != str(folder))]:
        if not os.access(path, os.W_OK | os.X_OK):
            raise StoreError(f"{uri}: cannot ingest into a database that cannot be written ({path} is read-only)")


def _console():
    from rich.console import Console

    return Console()


def ingest_summary(report):
    """The table `reelmind ingest` prints: a row per stored, updated or skipped file, then one per failure."""
    table = _table(f"Ingested in {report.wall_s:.1f} s",
                   ("file", "title", "status", "duration", "language", "segments", "frames"))
    for v in report.videos:
        _add_row(table, Path(v.path).name, v.title, v.action, f"{v.duration_s:.1f} s", v.language or "-",
                 v.n_segments, v.n_frames)
    for f in report.failures:
        _add_row(table, Path(f.path).name, "", _cell(f"failed ({f.stage})", "red"), "", "", "", "")
    return table


@contextlib.contextmanager
def _sigterm_unwinds():
    """SIGTERM ends the block as Ctrl-C would, by unwinding, so Prefect stops the temporary server it started;
    Python's default is to die on the spot and leave that server running."""
    import signal

    def unwind(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_ingest(args: argparse.Namespace) -> int:
    if not args.verbose:
        # The progress bar and the summary table are the terminal's view; Prefect's logs still reach its API/UI.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from flows.ingest import ingest
    from reelmind.config import load_settings
    from reelmind.pipeline import start_preloading

    # A bad setting or a database that cannot be written is reported now, before a Prefect server starts.
    settings = load_settings(db=args.db)
    _open_store(settings.db)
    _check_writable(settings.db)
    start_preloading(settings)  # the models load while Prefect starts its temporary server
    with _sigterm_unwinds():
        report = ingest(args.paths, db=args.db, show_progress=True)
    console = _console()
    console.print(ingest_summary(report))
    for f in report.failures:
        print(f"error: {one_line(f.path)}: {f.reason}", file=sys.stderr)
    media_s = sum(v.duration_s for v in report.videos if v.action == "full")
    console.print(f"{len(report.videos)} ok ({media_s:.1f} s of media through the models), "
                  f"{len(report.failures)} failed")
    return 0 if report.ok else 1


def cmd_search(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.search import SearchFilters, search

    settings = load_settings(db=args.db)
    _open_store(settings.db)  # a database that cannot be opened is reported before the model loads
    filters = SearchFilters(language=args.language, min_duration_s=args.min_duration, max_duration_s=args.max_duration,
                            uploader=args.uploader, published_after=args.published_after,
                            published_before=args.published_before, has_speech=args.has_speech,
                            has_screen_text=args.has_screen_text)
    hits = search(args.query, settings, k=args.k, filters=filters)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no results")
        return 0
    table = _table(f"Search: {args.query}", ("#", "score", "title", "moment", "what matched"))
    for rank, h in enumerate(hits, 1):
        span = "" if h.start is None else _fmt_time(h.start) if h.start == h.end else \
            f"{_fmt_time(h.start)}-{_fmt_time(h.end)}"
        _add_row(table, rank, f"{h.score:.3f}", _cell(h.title) + "\n" + _cell(h.path, "dim"), span,
                 f"[{h.match}] {h.text}")
    _console().print(table)
    return 0


def cmd_videos(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.records import SegmentRecord, VideoRecord

    store = _open_store(load_settings(db=args.db).db)
    rows = sorted(store.videos(VideoRecord.public_columns() + ["rev"]), key=lambda r: r["path"])
    if args.json:
        for row in rows:
            segments = store.children(SegmentRecord, row["id"], row["rev"])
            view = {**VideoRecord.public_view(row),
                    "segments": [{"start": s["start"], "end": s["end"], "text": s["text"]} for s in segments]}
            print(json.dumps(view, ensure_ascii=False))
        return 0
    table = _table(f"{len(rows)} videos in {store.uri}",
                   ("id", "title", "duration", "language", "frames", "transcript"))
    for r in rows:
        _add_row(table, r["id"], r["title"], f"{r['duration_s']:.1f} s", r["language"] or "-", r["n_frames"],
                 (r["transcript"] or "")[:60])
    _console().print(table)
    return 0


def cmd_failures(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings

    for failure in _open_store(load_settings(db=args.db).db).failures():
        if args.json:
            print(json.dumps(failure.to_json(), ensure_ascii=False))
        else:
            print(f"{failure.path}: {failure.reason} (stage {failure.stage}, {failure.failed_at:%Y-%m-%d %H:%M})")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.records import SCHEMA_VERSION

    store = _open_store(load_settings(db=args.db).db)
    for name, version in store.upgrade().items():
        state = "already current" if version == SCHEMA_VERSION else f"upgraded from version {version}"
        print(f"{store.uri}: {name}: {state} (schema version {SCHEMA_VERSION})")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings

    store = _open_store(load_settings(db=args.db).db)
    done = store.maintain()
    table = _table(f"Optimized {store.uri}", ("table", "indexes created", "versions before", "after", "seconds"))
    for m in done:
        _add_row(table, m.table, ", ".join(m.created) or "-", m.versions_before, m.versions_after, m.seconds)
    _console().print(table)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from reelmind import bench

    if args.videos < 1:
        raise ValueError("--videos must be at least 1")
    if args.reuse and not args.db:
        raise ValueError("--reuse needs --db: the folder of the catalogue to measure again")
    options = bench.BenchOptions(videos=args.videos, db=args.db, reuse=args.reuse)
    result = bench.run([args.part], options, say=lambda line: print(line, file=sys.stderr))
    if args.json:
        bench.write_json(result, args.json)
    if set(result.get("not_available", [])) == set(result["parts"]):
        return 1  # nothing could be measured: each part said why
    _console().print(bench.table(result))
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.reindex import needs_reindex, reindex, target_spec

    settings = load_settings(db=args.db)
    store = _open_store(settings.db)
    reason = needs_reindex(store, settings)
    if reason is None:
        print(f"{store.uri}: already indexed with {target_spec(settings).model_id}")
        return 0
    print(f"{store.uri}: {reason}")
    with _ReindexProgress() as progress:
        report = reindex(store, settings, progress=progress.update)
    rows = ", ".join(f"{n} {table}" for table, n in report.embedded.items())
    reused = sum(report.reused.values())
    print(f"{store.uri}: re-embedded {rows} with {report.model_id} (dim {report.dim}) in {report.seconds:.1f} s"
          + (f" ({reused} rows staged by an earlier, interrupted run reused)" if reused else ""))
    return 0


class _ReindexProgress:
    """A terminal progress bar per table (rich, on stderr), as the ingest shows one."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("reindex {task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True))
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def update(self, table: str, done: int, total: int) -> None:
        if table not in self.tasks:
            self.tasks[table] = self.progress.add_task(table, total=total)
        self.progress.update(self.tasks[table], completed=done)


def cmd_events_import(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.events import import_events

    settings = load_settings(db=args.db)
    added = import_events(args.file, _open_store(settings.db), settings)
    print(f"{args.file}: {added} new events imported")
    return 0


def cmd_events_add(args: argparse.Namespace) -> int:
    from datetime import datetime

    from reelmind.config import load_settings
    from reelmind.events import VideoResolver, validate, write_events

    settings = load_settings(db=args.db)
    store = _open_store(settings.db)
    record = {"user_id": args.user, "video_id": args.video or "", "event": args.event,
              "timestamp": args.timestamp or datetime.now(UTC).isoformat(),
              "watch_fraction": args.watch_fraction, "text": args.text}
    try:
        event = validate(record, VideoResolver(store), settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_events(store, [event])
    print(f"added {event.event} by {event.user_id}" + (f" on {event.video_id}" if event.video_id else ""))
    return 0


def cmd_events_list(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.events import load_events
    from reelmind.privacy import store_user_id

    settings = load_settings(db=args.db)
    rows = sorted(load_events(_open_store(settings.db)), key=lambda r: (r["timestamp"], r["user_id"]))
    user = store_user_id(args.user, settings) if args.user else None
    for r in rows:
        if user and r["user_id"] != user:
            continue
        print(json.dumps({**r, "timestamp": r["timestamp"].isoformat()}, ensure_ascii=False))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    import signal

    from reelmind.config import load_settings
    from reelmind.watch import EVENT_NAME, UploadWatcher, emit_prefect_event

    settings = load_settings(db=args.db, settle_s=args.settle)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder}: not a folder", file=sys.stderr)
        return 2
    state = Path(args.state) if args.state else settings.resolved_data_dir() / "watch" / (
        folder.resolve().as_posix().strip("/").replace("/", "_") + ".json")

    def emit(uploads):
        emit_prefect_event(uploads)
        for upload in uploads:
            print(f"{EVENT_NAME}: {upload.path} ({upload.size_bytes} bytes)", flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print(f"watching {folder} (state: {state}); Ctrl-C to stop", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a person stops it
        UploadWatcher(folder, state, settle_s=settings.settle_s, emit=emit).run(stop=lambda: bool(stopping))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.privacy import store_user_id
    from reelmind.recommend import recommend_for

    settings = load_settings(db=args.db)
    store = _open_store(settings.db)
    picks = recommend_for(settings, store_user_id(args.user, settings), k=args.k, interests=args.interests)
    videos = {v["id"]: v for v in store.videos(["id", "title", "path"])}
    out = [{"rank": p["rank"], "video_id": p["video_id"], "title": videos.get(p["video_id"], {}).get("title", ""),
            "path": videos.get(p["video_id"], {}).get("path", ""), "score": round(float(p["score"]), 4),
            "reason": p["reason"], "source": p["source"], "model_version": p["model_version"],
            "computed": p["computed"]} for p in picks]
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    # No score column: a pick's score is the model's internal fusion of standardised parts (it can be negative and
    # means nothing across users); the rank and the reason say what a reader needs. --json keeps it.
    table = _table(f"Recommendations for {args.user}" + (f" ({out[0]['computed']})" if out else ""),
                   ("#", "title", "why"))
    for p in out:
        _add_row(table, p["rank"], p["title"], p["reason"])
    _console().print(table if out else "no recommendations (no videos?)")
    return 0


def cmd_forget_user(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.privacy import forget_user, store_user_id

    settings = load_settings(db=args.db)
    report = forget_user(_open_store(settings.db), store_user_id(args.user, settings))
    for part in report.tables:
        print(f"{part.table}: {part.rows} row(s) removed, {part.versions} old version(s) removed")
    return 0


def cmd_recommend_offline(args: argparse.Namespace) -> int:
    from reelmind.recsys.offline import recommend_offline

    recommend_offline(args.items, args.interactions, args.k, args.out, model=args.model)
    print(f"wrote {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from reelmind.recsys.evaluate import run_evaluation

    results = run_evaluation(args.movielens, args.out, seeds=args.seeds)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from reelmind.api import run
    from reelmind.config import load_settings

    settings = load_settings(db=args.db)
    _open_store(settings.db)  # a database that cannot be opened is reported before the server starts
    run(settings, args.host, args.port)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from reelmind.config import load_settings
    from reelmind.service import serve

    if not Path(args.watch).is_dir():
        print(f"error: {args.watch}: not a folder", file=sys.stderr)
        return 2
    return serve(load_settings(db=args.db), Path(args.watch), args.port, args.movielens, api_port=args.api_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelmind", description="Understand videos and recommend them.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", help="LanceDB URI (default: $REELMIND_DB or ./data/lancedb)")
        return p

    p = with_db(sub.add_parser("ingest", help="ingest media files or folders"))
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--verbose", action="store_true", help="show Prefect's logs on the terminal")
    p.set_defaults(func=cmd_ingest)

    p = with_db(sub.add_parser("search", help="semantic search over videos and moments"))
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, help="number of videos (default 5)")
    p.add_argument("--json", action="store_true")
    filters = p.add_argument_group("filters (only videos that match them all)")
    filters.add_argument("--language", help="spoken language code, e.g. en or zh")
    filters.add_argument("--min-duration", type=float, metavar="SECONDS")
    filters.add_argument("--max-duration", type=float, metavar="SECONDS")
    filters.add_argument("--uploader")
    filters.add_argument("--published-after", metavar="DATE", help="ISO 8601, e.g. 2024-01-31")
    filters.add_argument("--published-before", metavar="DATE")
    filters.add_argument("--has-speech", action="store_true", help="only videos with transcribed speech")
    filters.add_argument("--has-screen-text", action="store_true", help="only videos with on-screen text")
    p.set_defaults(func=cmd_search)

    p = with_db(sub.add_parser("videos", help="list stored videos"))
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_videos)

    events = sub.add_parser("events", help="user events: import, add, list").add_subparsers(dest="events_command",
                                                                                          required=True)
    p = with_db(events.add_parser("import", help="import events from CSV or JSON lines (all or nothing)"))
    p.add_argument("file")
    p.set_defaults(func=cmd_events_import)
    p = with_db(events.add_parser("add", help="add one event"))
    p.add_argument("--user", required=True)
    p.add_argument("--video", help="video id or unique file name (not needed for search events)")
    p.add_argument("--event", required=True, choices=EVENT_TYPES)
    p.add_argument("--watch-fraction", type=float)
    p.add_argument("--text", help="the comment or the search query")
    p.add_argument("--timestamp", help="Unix seconds or ISO 8601 (default: now)")
    p.set_defaults(func=cmd_events_add)
    p = with_db(events.add_parser("list", help="events as JSON lines"))
    p.add_argument("--user")
    p.set_defaults(func=cmd_events_list)

    p = with_db(sub.add_parser("recommend", help="recommendations for a user, with reasons"))
    p.add_argument("--user", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--interests", help='stated interests, e.g. "I like sci-fi with space battles"')
    p.set_defaults(func=cmd_recommend)

    p = with_db(sub.add_parser("forget-user", help="delete everything stored about a user, old versions too"))
    p.add_argument("user", metavar="USER")
    p.set_defaults(func=cmd_forget_user)

    p = sub.add_parser("recommend-offline", help="batch recommendations from CSV files (for evaluation)")
    p.add_argument("--items", required=True, help="ITEMS.csv: item_id,title,text")
    p.add_argument("--interactions", required=True, help="TRAIN.csv: user_id,item_id,timestamp[,weight]")
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--out", required=True, help="RECS.csv: user_id,rank,item_id,score")
    from reelmind.recsys.registry import RECOMMENDERS

    p.add_argument("--model", choices=list(RECOMMENDERS), default="hybrid", metavar="MODEL",
                   help="; ".join(f"{name}: {entry.description}" for name, entry in RECOMMENDERS.items())
                   + " (default: hybrid)")
    p.set_defaults(func=cmd_recommend_offline)

    p = sub.add_parser("evaluate", help="offline evaluation on a MovieLens folder: every model, several seeds, "
                                        "random and temporal splits, variants of the dataset")
    p.add_argument("--movielens", required=True, metavar="DIR")
    p.add_argument("--seeds", type=int, default=5, help="seeds per split and variant (default 5: mean and std)")
    p.add_argument("--out", default="data/evaluation", help="folder for the JSON and Markdown reports")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = with_db(sub.add_parser("watch", help="announce new media files in a folder as Prefect events"))
    p.add_argument("folder")
    p.add_argument("--state", help="file that remembers what was announced (default: under the data folder)")
    p.add_argument("--settle", type=float, help="seconds a file must stay unchanged (default: settle_s, 2)")
    p.set_defaults(func=cmd_watch)

    p = with_db(sub.add_parser("serve", help="run as a service: Prefect server, deployments, upload watcher"))
    p.add_argument("--watch", required=True, metavar="DIR", help="folder where uploads land")
    p.add_argument("--port", type=int, default=4200, help="Prefect server port when one is started (4200)")
    p.add_argument("--movielens", metavar="DIR", help="MovieLens folder for the weekly evaluation")
    p.add_argument("--api-port", type=int, default=8000, help="port of the HTTP API and web page on 127.0.0.1 "
                   "(8000; 0: no API)")
    p.set_defaults(func=cmd_serve)

    p = with_db(sub.add_parser("api", help="the HTTP API and web page: search, videos, recommendations, events"))
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=cmd_api)

    p = with_db(sub.add_parser("upgrade", help="bring an older database's tables to this version's schema"))
    p.set_defaults(func=cmd_upgrade)

    p = with_db(sub.add_parser("reindex", help="re-embed the stored texts with the configured text model"))
    p.set_defaults(func=cmd_reindex)

    p = with_db(sub.add_parser("optimize", help="create missing indexes, compact tables, drop old versions"))
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("bench", help="build a synthetic catalogue and measure store, search, ingest, recommend")
    p.add_argument("part", choices=["store", "search", "ingest", "recommend", "all"])
    p.add_argument("--videos", type=int, default=10_000, help="catalogue size (default 10,000)")
    p.add_argument("--json", metavar="PATH", help="also write the results, with the machine's facts, as JSON")
    p.add_argument("--db", help="build the catalogue here and keep it (default: a temporary folder, removed)")
    p.add_argument("--reuse", action="store_true",
                   help="measure the catalogue already in --db (grown to --videos if smaller) instead of refusing it")
    p.set_defaults(func=cmd_bench)

    p = with_db(sub.add_parser("failures", help="files that could not be ingested"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_failures)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
        parser.error("--k must be at least 1")
    from reelmind.config import SettingsError
    from reelmind.errors import ReelMindError

    try:
        return args.func(args)
    except SettingsError as exc:  # the configuration is a usage error: exit 2 as argparse does
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (ReelMindError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
