"""Hostile and broken media: whatever bytes a file holds and whatever it is called, probe either describes it
truthfully or refuses it with one line that names it; it never raises anything else, never hangs, never eats memory.

Inputs are small real clips this module encodes itself (H.264/AAC mp4, VP8/Vorbis webm, mp3, flac, wav, and an mkv
with ten streams), mutated by hypothesis: cut at any point, bytes overwritten or bits flipped (the header most
often), given another extension, replaced by nothing or by noise, and named anything a file system allows. Files
crafted to lie (a WAV claiming 37 hours, a y4m claiming a 100000x100000 picture, an mp4 whose header claims 4 billion
seconds) are explicit cases. Each probe runs in a child process with a time and an address-space limit, so a hang or
a runaway allocation fails the example instead of the test run.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import resource
import shutil
import struct
import subprocess
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reelmind.config import Settings
from reelmind.errors import MediaError, one_line
from reelmind.probe import probe
from reelmind.records import FrameRecord, SegmentRecord
from reelmind.store import Store

from helpers import FIXTURES

# The limits a default installation runs with: what "consistent with the file" is checked against.
MAX_DURATION_S = Settings().max_duration_s
MAX_PIXELS = Settings().max_pixels
# A probe reads a header and a few packets at each end: a second is slow; ten means it is stuck.
PROBE_TIMEOUT_S = 10.0
# Starting the probing process imports PyAV and this module: seconds, more on a busy machine.
PROBER_START_S = 120.0
# Address space a probe may add to what the forked child starts with (the test process's own, which depends on what
# earlier tests loaded): reading a header and a few packets needs tens of MiB; allocating a picture or a buffer for
# what a lying header claims would blow through this.
PROBE_MEMORY_BYTES = 2 << 30
# Few enough examples that the fast tier stays fast (~5 s for the file); the slow variant digs 25 times deeper.
FAST_EXAMPLES, SLOW_EXAMPLES = 200, 5000
# Where headers live in every seed: most byte damage goes here, since it changes what the demuxer believes.
HEADER_BYTES = 1024

# Two seconds of a 64x48 test picture at 10 fps and a 440 Hz tone: small (10-100 KB), quick to encode, and long
# enough that the tail check runs on a cut file.
_PICTURE = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2"]
_TONE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=16000"]
_X264 = ["-c:v", "libx264", "-preset", "ultrafast"]
SEEDS = {
    "clip.mp4": _PICTURE + _TONE + _X264 + ["-c:a", "aac", "-b:a", "32k"],
    "clip.webm": _PICTURE + _TONE + ["-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libvorbis"],
    "tone.mp3": _TONE + ["-c:a", "libmp3lame", "-b:a", "32k"],
    "tone.flac": _TONE,
    "tone.wav": _TONE,
    # the same picture and tone mapped five times each: ten streams
    "streams.mkv": _PICTURE + _TONE + [arg for _ in range(5) for arg in ("-map", "0:v", "-map", "1:a")]
    + _X264 + ["-c:a", "libvorbis"],
}
EXTENSIONS = ["", ".mp4", ".mov", ".mkv", ".webm", ".mp3", ".flac", ".wav", ".ogg", ".avi", ".txt"]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    """The folder of seed files (a path, not their bytes, so that a failing example prints short)."""
    import imageio_ffmpeg

    folder = tmp_path_factory.mktemp("seeds")
    for name, args in SEEDS.items():
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", *args, str(folder / name)],
                       check=True)
    return folder


def _crafted(seeds: Path, name: str) -> bytes:
    """Files whose headers lie about their size or length."""
    if name == "hours.wav":  # a WAV header claiming 4 GB of 16 kHz audio (37 hours), followed by 2 s of it
        fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0xFFFFFFF0)
        return b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + body + bytes(64000)
    if name == "giant.y4m":  # a raw-video header claiming a 100000x100000 picture (15 GB a frame)
        return b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(5000)
    if name == "eons.y4m":  # three tiny frames at one frame a day: three days long
        return b"YUV4MPEG2 W16 H16 F1:86400 Ip A1:1 C420jpeg\n" + (b"FRAME\n" + bytes(16 * 16 * 3 // 2)) * 3
    data = bytearray((seeds / "clip.mp4").read_bytes())
    # "mvhd.mp4" or "mdhd.mp4": the duration field of the movie's or a track's header set to 4 billion ticks
    at = data.index(name[:4].encode()) + 20
    data[at:at + 4] = struct.pack(">I", 0xFFFFFFF0)
    return bytes(data)


# -- the isolated probe ------------------------------------------------------------------------------------------

def _probe_server(conn) -> None:
    """Probe each path sent, reply with the outcome; the address space is capped once the imports are done."""
    mapped = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + PROBE_MEMORY_BYTES, mapped + PROBE_MEMORY_BYTES))
    conn.send("ready")
    while (path := conn.recv()) is not None:
        try:
            conn.send(("ok", probe(path, settle_s=0, max_duration_s=MAX_DURATION_S, max_pixels=MAX_PIXELS)))
        except MediaError as error:
            conn.send(("refused", error))
        except BaseException:  # noqa: B036 -- anything else is the bug being looked for, MemoryError included
            conn.send(("crashed", traceback.format_exc()))


class Prober:
    """probe() in a separate process, reused across examples and replaced when one hangs or kills it. Spawned, not
    forked: a fork of this process, whose other threads (Prefect's, LanceDB's) may hold locks, can hang, and that
    would read as a probe hanging."""

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._child = context.Process(target=_probe_server, args=(child_end,), daemon=True)
        self._child.start()
        child_end.close()
        assert self._conn.poll(PROBER_START_S) and self._conn.recv() == "ready", "the probing process did not start"

    def close(self) -> None:
        self._child.kill()
        self._child.join()

    def _replace(self, message: str) -> None:
        self.close()
        self._start()
        pytest.fail(message)

    def __call__(self, path: Path):
        """Its MediaInfo or MediaError; the test fails on any other exception, a hang, or the process dying."""
        self._conn.send(str(path))
        if not self._conn.poll(PROBE_TIMEOUT_S):
            self._replace(f"probe hung for over {PROBE_TIMEOUT_S:g} s on {path!r}")
        try:
            outcome, value = self._conn.recv()
        except EOFError:
            self._child.join()
            self._replace(f"probe killed its process (exit code {self._child.exitcode}) on {path!r}")
        if outcome == "crashed":
            pytest.fail(f"probe raised instead of refusing {path!r}:\n{value}")
        return value


@pytest.fixture(scope="module")
def prober():
    running = Prober()
    yield running
    running.close()


def check_outcome(prober: Prober, path: Path, data: bytes):
    """The property: a truthful description of `path`, or a one-line refusal that starts with it."""
    outcome = prober(path)
    if isinstance(outcome, MediaError):
        # one line, the name first (its line breaks and control characters escaped), then the reason
        assert outcome.path == str(path) and str(outcome) == f"{one_line(str(path))}: {outcome.reason}"
        assert len(str(outcome).splitlines()) == 1
        assert str(path) not in outcome.reason  # named once, at the start
        return outcome
    info = outcome
    assert info.path == str(path.resolve())
    assert info.size_bytes == len(data) and info.content_hash == hashlib.sha256(data).hexdigest()
    assert 0 < info.duration_s <= MAX_DURATION_S
    assert info.has_audio or info.has_video
    if info.has_video:
        assert info.width > 0 and info.height > 0 and info.width * info.height <= MAX_PIXELS
        assert info.fps is None or (math.isfinite(info.fps) and info.fps > 0)
    if info.has_audio:
        assert info.audio_channels and info.audio_sample_rate
    return info


# -- mutations -------------------------------------------------------------------------------------------------

def _offset(fraction_or_header: float | int, size: int) -> int:
    # an int is an offset into the header; a float is a place anywhere in the file
    if isinstance(fraction_or_header, int):
        return min(fraction_or_header, max(size - 1, 0))
    return int(fraction_or_header * max(size - 1, 0))


_PLACE = st.one_of(st.integers(0, HEADER_BYTES - 1), st.floats(0, 1))
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("overwrite"), _PLACE, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("flip"), _PLACE, st.integers(1, 255)),
    st.tuples(st.just("zero"), _PLACE, st.integers(1, 4096)),
    st.tuples(st.just("replace"), st.binary(max_size=2048)),  # nothing at all, or noise
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    data = bytearray(data)
    for kind, *args in mutations:
        if kind == "truncate":
            del data[int(args[0] * len(data)):]
        elif kind == "replace":
            data = bytearray(args[0])
        elif data:
            at = _offset(args[0], len(data))
            if kind == "overwrite":
                data[at:at + len(args[1])] = args[1]
            elif kind == "flip":
                data[at] ^= args[1]
            else:  # "zero"
                data[at:at + args[1]] = bytes(min(args[1], len(data) - at))
    return bytes(data)


# Any name a Linux file system takes: no slash, no NUL, at most 255 bytes; spaces, quotes, newlines, leading
# dashes, markup and emoji included. Names starting with a dot are refused as partial files, which is fine too.
NAMES = st.one_of(
    st.sampled_from(["clip", "-rf", "a b", "it's", 'say "hi"', "line\nbreak", "[bold]x", "中文 🎬", "..."]),
    st.text(st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)), min_size=1, max_size=40),
).filter(lambda name: name not in (".", "..") and len(name.encode()) <= 200)


def _run_case(prober: Prober, folder: Path, seeds: Path, seed: str, mutations: list[tuple], name: str, extension):
    data = mutate((seeds / seed).read_bytes(), mutations)
    path = folder / (name + (Path(seed).suffix if extension is None else extension))
    path.write_bytes(data)
    try:
        return check_outcome(prober, path, data)
    finally:
        path.unlink()


_CASE = dict(seed=st.sampled_from(sorted(SEEDS)), mutations=st.lists(MUTATIONS, max_size=3), name=NAMES,
             extension=st.one_of(st.none(), st.sampled_from(EXTENSIONS)))


@settings(max_examples=FAST_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**_CASE)
@example(seed="clip.mp4", mutations=[], name="clip", extension=None)
@example(seed="streams.mkv", mutations=[], name="-rf", extension=".mp3")  # a leading dash; the wrong extension
@example(seed="clip.webm", mutations=[("truncate", 0.5)], name="half", extension=None)
@example(seed="tone.wav", mutations=[("replace", b"")], name="empty", extension=None)
# found by this suite: a tag that is not UTF-8 made PyAV raise UnicodeDecodeError
@example(seed="clip.webm", mutations=[("overwrite", 0.390625, b"\x80")], name="clip", extension=None)
def test_probe_describes_or_refuses_in_one_line(prober, tmp_path, seeds, seed, mutations, name, extension):
    _run_case(prober, tmp_path, seeds, seed, mutations, name, extension)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**_CASE)
def test_probe_describes_or_refuses_in_one_line_deeper(prober, tmp_path, seeds, seed, mutations, name, extension):
    _run_case(prober, tmp_path, seeds, seed, mutations, name, extension)


@pytest.mark.parametrize("name, refused_with", [
    ("hours.wav", None),          # FFmpeg measures the data actually there: 2 s
    ("giant.y4m", "cannot open"),
    ("eons.y4m", "over the 14400 s limit (max_duration_s)"),
    ("mvhd.mp4", None),           # the tracks' own durations win: 2 s
    ("mdhd.mp4", None),
])
def test_headers_that_lie(prober, tmp_path, seeds, name, refused_with):
    path = tmp_path / name
    data = _crafted(seeds, name)
    path.write_bytes(data)
    outcome = check_outcome(prober, path, data)
    if refused_with is None:
        assert outcome.duration_s == pytest.approx(2.0, abs=0.1)
    else:
        assert refused_with in outcome.reason


def test_seeds_are_good_media(prober, seeds):
    """The mutations start from files that probe accepts; ten streams included."""
    for name in SEEDS:
        info = check_outcome(prober, seeds / name, (seeds / name).read_bytes())
        assert info.duration_s == pytest.approx(2.0, abs=0.1)
        assert info.has_video == name.endswith(("mp4", "webm", "mkv"))


# -- through the real flow -------------------------------------------------------------------------------------

PODCAST = FIXTURES / "gardening_podcast.mp3"
SOUP = FIXTURES / "tomato_soup_recipe.mp4"
# Names a user's files really have, and ones meant to break a shell, a console or a careless split on lines.
HOSTILE_NAMES = ["with spaces", "it's", 'say "hi"', "中文 标题", "emoji 🎬🍅", "line\nbreak", "-rf", "--help",
                 "[bold]markup", "[reverse]styled", "$(touch pwned) `id`; rm -rf x", "back\\slash", "tab\tname"]


def _ingest(paths, db):
    from flows.ingest import ingest

    return ingest([str(p) for p in paths], db=db)


def _assert_no_partial_rows(db: str) -> list[dict]:
    """Every stored video has all its segments and frames, and nothing else is stored."""
    store = Store(db)
    rows = store.videos(["id", "rev", "path", "n_segments", "n_frames"])
    for row in rows:
        assert len(store.children(SegmentRecord, row["id"], row["rev"])) == row["n_segments"], row
        assert len(store.children(FrameRecord, row["id"], row["rev"])) == row["n_frames"], row
    ids = {row["id"] for row in rows}
    for record in (SegmentRecord, FrameRecord):
        assert {r["video_id"] for r in store.rows(record, ["video_id"])} <= ids, f"orphan {record.table}"
    return rows


def test_hostile_names_are_data(prefect_api, tmp_path):
    """Copies of one file under hostile names: one video, the others skipped as copies of it, nothing failed, the
    stored path is the name exactly (a line break included), and no name ever reached a shell."""
    db, media = str(tmp_path / "lancedb"), tmp_path / "media"
    media.mkdir()
    paths = [media / f"{name}.mp3" for name in HOSTILE_NAMES]
    for path in paths:
        shutil.copy(PODCAST, path)
    report = _ingest([media], db)
    assert report.failures == [], report.failures
    assert sorted(v.path for v in report.videos) == sorted(map(str, paths))
    assert sorted(v.action for v in report.videos) == ["full"] + ["skip"] * (len(paths) - 1)
    [row] = _assert_no_partial_rows(db)
    assert row["path"] in map(str, paths)
    assert not list(tmp_path.rglob("pwned"))


def test_a_batch_with_hostile_files(prefect_api, tmp_path, seeds):
    """Broken, lying and unfinished files beside good ones: the good ones are stored whole, each bad one is a
    failure with a one-line reason, links out of the folder and link loops are passed over, and the batch ends."""
    db, media, outside = str(tmp_path / "lancedb"), tmp_path / "media", tmp_path / "outside"
    media.mkdir()
    outside.mkdir()
    podcast, soup = PODCAST.read_bytes(), SOUP.read_bytes()
    shutil.copy(PODCAST, media / "good.mp3")
    shutil.copy(seeds / "streams.mkv", media / "ten streams.mkv")
    bad = {
        "cut in half.mp3": podcast[: len(podcast) // 2],
        "empty.mp4": b"",
        "noise.webm": bytes(range(256)) * 16,
        "header zeroed.mp4": bytes(64) + soup[64:],
        "notes.mp4": b"meeting notes, not a video\n" * 40,
        "giant picture.mp4": _crafted(seeds, "giant.y4m"),   # a raw-video header claiming 100000x100000
        "three days.mkv": _crafted(seeds, "eons.y4m"),       # three frames, one a day: over the 4 h limit
    }
    for name, data in bad.items():
        (media / name).write_bytes(data)
    (outside / "private.mp3").write_bytes(podcast[::-1])
    (media / "escape.mp3").symlink_to(outside / "private.mp3")
    (media / "loop.mp4").symlink_to("loop.mp4")
    with (media / "uploading.mp4").open("wb") as writer:   # still being written while the batch runs
        writer.write(soup[: len(soup) // 3])
        writer.flush()
        report = _ingest([media], db)
    bad["uploading.mp4"] = b""
    assert sorted(v.path for v in report.videos) == [str(media / "good.mp3"), str(media / "ten streams.mkv")]
    assert {v.action for v in report.videos} == {"full"}
    assert sorted(f.path for f in report.failures) == sorted(str(media / name) for name in bad)
    for failure in report.failures:
        assert failure.reason and len(failure.reason.splitlines()) == 1, failure
    rows = _assert_no_partial_rows(db)
    assert sorted(r["path"] for r in rows) == [str(media / "good.mp3"), str(media / "ten streams.mkv")]
