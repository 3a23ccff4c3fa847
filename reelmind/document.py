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

from reelmind.errors import MediaError

SIDECAR_SUFFIX = ".json"
SIDECAR_FIELDS = ("title", "description", "tags", "uploader", "published_at")


@dataclass(frozen=True)
class Metadata:
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    uploader: str = ""
    published_at: str = ""
    sidecar_hash: str = ""  # "" when there is no sidecar


def sidecar_path(media_path: str | Path) -> Path:
    media_path = Path(media_path)
    return media_path.with_name(media_path.name + SIDECAR_SUFFIX)


def title_from_name(media_path: str | Path) -> str:
    stem = Path(media_path).stem
    return re.sub(r"[_\-.]+", " ", stem).strip() or stem


def load_metadata(media_path: str | Path) -> Metadata:
    path = sidecar_path(media_path)
    if not path.is_file():
        return Metadata(title=title_from_name(media_path))
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError(path, f"sidecar metadata is not valid JSON ({exc})", stage="metadata") from None
    if not isinstance(data, dict):
        raise MediaError(path, "sidecar metadata must be a JSON object", stage="metadata")
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list):
        raise MediaError(path, "sidecar 'tags' must be a list of strings", stage="metadata")
    return Metadata(
        title=str(data.get("title") or title_from_name(media_path)),
        description=str(data.get("description") or ""),
        tags=tuple(str(t) for t in tags if str(t).strip()),
        uploader=str(data.get("uploader") or ""),
        published_at=str(data.get("published_at") or ""),
        sidecar_hash=hashlib.sha256(raw).hexdigest()[:16],
    )


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
