"""Sidecar metadata and the merged document: everything known about a video as one text to embed and to read.

A sidecar is an optional `<media file>.json` beside the file: {"title", "description", "tags", "uploader",
"published_at"}. Without it the title comes from the file name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

SIDECAR_SUFFIX = ".json"
SIDECAR_FIELDS = ("title", "description", "tags", "uploader", "published_at")
# Limits on what a sidecar may bring. A platform's own are far smaller (YouTube: a 100-character title, a
# 5,000-byte description, 500 characters of tags); without them a 256 KB description took the store stage 54 s
# and a 10 MB one did not finish. Longer values are cut, not refused: the rest of the metadata is still good.
MAX_SIDECAR_BYTES = 1 << 20
MAX_TITLE_CHARS = 300
MAX_DESCRIPTION_CHARS = 5_000
MAX_TAGS = 50
MAX_TAG_CHARS = 100
MAX_SHORT_FIELD_CHARS = 200  # uploader, published_at


@dataclass(frozen=True)
class Metadata:
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    uploader: str = ""
    published_at: str = ""
    sidecar_hash: str = ""  # "" when there is no sidecar
    problem: str = ""  # why the sidecar could not be used (then only the file name is known), in one line


def sidecar_path(media_path: str | Path) -> Path:
    media_path = Path(media_path)
    return media_path.with_name(media_path.name + SIDECAR_SUFFIX)


def title_from_name(media_path: str | Path) -> str:
    stem = Path(media_path).stem
    return (re.sub(r"[_\-.]+", " ", stem).strip() or stem)[:MAX_TITLE_CHARS]


class SidecarError(ValueError):
    """A sidecar that cannot be used; the message says why, in one line."""


def load_metadata(media_path: str | Path) -> Metadata:
    """The sidecar's metadata, with over-long values cut; without a usable sidecar, the title from the file name
    and, for a bad sidecar, `problem` saying why it was not used (the video is ingested all the same)."""
    path = sidecar_path(media_path)
    if not path.is_file():
        return Metadata(title=title_from_name(media_path))
    stat = path.stat()
    # what identifies this version of the sidecar, so an edit is noticed: its bytes, or for one too large to
    # read, its size and time
    raw = path.read_bytes() if stat.st_size <= MAX_SIDECAR_BYTES else f"{stat.st_size}:{stat.st_mtime_ns}".encode()
    sidecar_hash = hashlib.sha256(raw).hexdigest()[:16]
    try:
        if stat.st_size > MAX_SIDECAR_BYTES:
            raise SidecarError(f"{stat.st_size} bytes, over the {MAX_SIDECAR_BYTES} allowed")
        return _parse(raw, media_path, sidecar_hash)
    except SidecarError as exc:
        return Metadata(title=title_from_name(media_path), sidecar_hash=sidecar_hash,
                        problem=f"sidecar metadata not used ({exc}); the title is the file name")


def _parse(raw: bytes, media_path: str | Path, sidecar_hash: str) -> Metadata:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SidecarError(f"not valid JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise SidecarError("not a JSON object")
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list) or not all(isinstance(t, str | int | float) for t in tags):
        raise SidecarError("'tags' must be a list of strings")
    for name in ("title", "description", "uploader", "published_at"):
        if not isinstance(data.get(name) or "", str | int | float):
            raise SidecarError(f"'{name}' must be a string, not {type(data[name]).__name__}")
    return Metadata(
        title=_one_line(data.get("title"))[:MAX_TITLE_CHARS] or title_from_name(media_path),
        description=str(data.get("description") or "")[:MAX_DESCRIPTION_CHARS],
        tags=tuple(_one_line(t)[:MAX_TAG_CHARS] for t in tags if str(t).strip())[:MAX_TAGS],
        uploader=_one_line(data.get("uploader"))[:MAX_SHORT_FIELD_CHARS],
        published_at=_one_line(data.get("published_at"))[:MAX_SHORT_FIELD_CHARS],
        sidecar_hash=sidecar_hash,
    )


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


def build_document(meta: Metadata, transcript: str, captions: list[str], screen_text: list[str]) -> str:
    """Title, description and tags first (they survive an embedding model's length limit), then what was
    shown on screen, what the frames look like, and the transcript."""
    lines = [meta.title]
    if meta.description:
        lines.append(meta.description)
    if meta.tags:
        lines.append("Tags: " + ", ".join(meta.tags))
    if screen_text:
        lines.append("On screen: " + " / ".join(_unique(screen_text)))
    if captions:
        lines.append("Pictures: " + "; ".join(_unique(captions)))
    if transcript:
        lines.append("Transcript: " + transcript)
    return "\n".join(lines)


def _unique(items: list[str]) -> list[str]:
    seen, out = set(), []
    for item in items:
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(item.strip())
    return out
