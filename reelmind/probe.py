"""Probe a media file: what it holds (duration, streams, resolution, fps), or a one-line reason it cannot be used.

PyAV (the FFmpeg libraries faster-whisper already depends on) opens the container; a file opens only if FFmpeg
recognises it, and we additionally decode a little at the start and near the end, because a file cut short by a
crash or an unfinished upload often opens fine and only fails where the data stops.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import av

from reelmind.errors import MediaError

# Names that download managers and editors give to files they have not finished writing.
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp", ".!ut")
# Read in 1 MiB blocks: large enough to hash at disk speed, small enough to keep memory flat.
HASH_BLOCK_BYTES = 1 << 20
# Shorter than a frame at 100 fps is nothing to see or hear (and would be stored as 0.0 s at millisecond precision).
MIN_DURATION_S = 0.01
# Decoding checks the file up to this close to its stated end (seconds).
TAIL_CHECK_S = 1.0
# ...allowing its last packet to start this much before the stated end: the last video frame or audio packet
# starts up to a frame or a codec delay (tens of ms) before it; a file cut off loses whole seconds.
TAIL_TOLERANCE_S = 0.5
# A file modified this recently is also checked for a process holding it open for writing (a writer that paused).
RECENT_WRITE_S = 600.0
# O_WRONLY | O_RDWR in a /proc/<pid>/fdinfo "flags" field (octal).
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    content_hash: str
    duration_s: float
    container: str
    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    audio_channels: int | None = None
    audio_sample_rate: int | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None

    @property
    def video_id(self) -> str:
        return self.content_hash[:16]


def is_partial_name(path: str | Path) -> bool:
    name = Path(path).name
    return name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES)


def content_hash(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def probe(path: str | Path, settle_s: float = 2.0, max_duration_s: float = math.inf,
          max_pixels: int | float = math.inf) -> MediaInfo:
    """Describe `path`, or raise MediaError with the reason it cannot be ingested (including a duration or a
    picture larger than the limits given)."""
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "broken link or link loop" if path.is_symlink() else "file not found")
    if path.is_dir():
        raise MediaError(path, "is a folder, not a media file")
    if is_partial_name(path):
        raise MediaError(path, "temporary or partial file (an unfinished download or upload?)")
    _check_not_growing(path, settle_s)
    size = path.stat().st_size
    if size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    try:
        # metadata in another encoding, or damaged, is kept with replacement characters rather than failing
        container = av.open(str(path), metadata_errors="replace")
    except av.error.InvalidDataError:
        raise MediaError(path, "not a media file, or corrupt or truncated (FFmpeg cannot read its format)") from None
    except av.error.FFmpegError as exc:
        # FFmpeg's own words, without the file name PyAV appends: e.g. a raw-video header claiming a 100000x100000
        # picture is refused as "Device or resource busy"
        raise MediaError(path, f"cannot open: FFmpeg says {exc.strerror or type(exc).__name__}") from None
    with container:
        audio = next(iter(container.streams.audio), None)
        video = next((s for s in container.streams.video if not _is_cover_art(s)), None)
        if audio is None and video is None:
            raise MediaError(path, "no audio or video stream")
        for stream in (audio, video):
            if stream is not None and stream.codec_context is None:
                raise MediaError(path, f"unsupported {stream.type} codec (FFmpeg has no decoder for it)")
        duration = _duration_s(container, audio, video)
        if duration < MIN_DURATION_S:
            raise MediaError(path, "no playable duration")
        if duration > max_duration_s:
            raise MediaError(path, f"{duration:.0f} s long, over the {max_duration_s:.0f} s limit (max_duration_s)")
        if video is not None and (video.codec_context.width or 0) * (video.codec_context.height or 0) > max_pixels:
            raise MediaError(path, f"picture {video.codec_context.width}x{video.codec_context.height} is over the "
                                   f"{max_pixels:.0f}-pixel limit (max_pixels)")
        _check_decodes(path, container, audio or video, duration)
        fps = float(video.average_rate) if video is not None and video.average_rate else None
        return MediaInfo(
            path=str(path.resolve()),
            size_bytes=size,
            content_hash=content_hash(path),
            duration_s=round(duration, 3),
            container=container.format.name,
            has_audio=audio is not None,
            has_video=video is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_channels=audio.codec_context.channels if audio is not None else None,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
            video_codec=video.codec_context.name if video is not None else None,
            width=video.codec_context.width if video is not None else None,
            height=video.codec_context.height if video is not None else None,
            fps=round(fps, 3) if fps else None,
        )


def _check_not_growing(path: Path, settle_s: float) -> None:
    """A file written to within the last `settle_s` seconds must keep its size for that long, and a recently
    written one must not be held open for writing (its writer may only have paused)."""
    before = path.stat()
    age = time.time() - before.st_mtime
    if age < RECENT_WRITE_S and open_for_writing(path):
        raise MediaError(path, "still being written (a process has it open for writing); try again when the "
                               "upload is complete")
    if settle_s <= 0 or age > settle_s:
        return
    time.sleep(settle_s)
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise MediaError(path, f"still being written (size went from {before.st_size} to {after.st_size} bytes "
                               f"in {settle_s:g} s); try again when the upload is complete")


def open_for_writing(path: str | Path) -> bool:
    """Whether any process we can see holds `path` open for writing."""
    target = os.path.realpath(path)
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                if os.readlink(fd) == target:
                    flags = (pid_dir / "fdinfo" / fd.name).read_text().split("flags:")[1].split()[0]
                    if int(flags, 8) & _WRITE_FLAGS:
                        return True
        except (OSError, IndexError, ValueError):
            continue  # the process ended, or is not ours to read
    return False


def _is_cover_art(stream: av.video.stream.VideoStream) -> bool:
    # An mp3 or m4a with album art has a one-picture "video" stream; it is a podcast, not a video.
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _duration_s(container, audio, video) -> float:
    if container.duration:
        return container.duration / av.time_base
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return 0.0


def _check_decodes(path: Path, container, stream, duration: float) -> None:
    """Decode one frame at the start, then read the packets near the stated end: a file cut short has none."""
    codec = stream.codec_context.name
    try:
        _decode_one(container, stream)
    except (av.error.FFmpegError, StopIteration):
        raise MediaError(path, f"cannot decode {stream.type} ({codec})") from None
    if duration <= 2 * TAIL_CHECK_S:
        return
    expected_end = duration - TAIL_TOLERANCE_S
    start = container.start_time / av.time_base if container.start_time else 0.0
    last_seen = 0.0
    try:
        container.seek(int((start + duration - 2 * TAIL_CHECK_S) * av.time_base), backward=True)
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                end = float(packet.pts * packet.time_base) + float((packet.duration or 0) * packet.time_base)
                last_seen = max(last_seen, end - start)
                if last_seen >= expected_end:
                    return
    except av.error.FFmpegError:
        pass
    raise MediaError(path, f"truncated or corrupt: data stops at {last_seen:.1f} s of the stated {duration:.1f} s")


def _decode_one(container, stream) -> None:
    for packet in container.demux(stream):
        for _frame in packet.decode():
            return
    raise StopIteration


# Extensions picked up when a folder is ingested; a file named explicitly is always tried.
MEDIA_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".3gp",
    ".ogv", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".wma", ".aiff", ".aif", ".amr"})


def find_media_files(paths: list[str | Path]) -> list[str]:
    """Files named directly, plus media files (by extension) found in folders, recursively, in a stable order; as
    absolute paths with links resolved, each once, so one file named two ways (relatively and absolutely, or
    through a link) is one file, and a failure is recorded under the same path as a later success.

    A folder's scan never leaves the folder: a link inside it to a file outside is skipped, and links to folders
    are not followed (one inside leads to files the scan finds anyway; one outside, or a loop, leads nowhere we
    should go). A file named directly is the user's choice and is listed wherever its links lead."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root = path.resolve()
            found += sorted(str(p.resolve()) for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS and not is_partial_name(p)
                            and p.resolve().is_relative_to(root))
        else:
            found.append(_absolute(path))
    return list(dict.fromkeys(found))


def _absolute(path: Path) -> str:
    """`path` with links resolved; a link loop is kept as named (absolute), for probe to refuse in one line."""
    try:
        return str(path.resolve())
    except RuntimeError:  # Python 3.11 reports a link loop this way
        return os.path.abspath(path)
