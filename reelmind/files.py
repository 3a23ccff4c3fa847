"""Files written whole or not at all: a reader (or a resumed run) never sees half a file.

Everything ReelMind writes outside LanceDB (stage outputs, saved models, reports, the watcher's state) goes through
`atomic_path`: write to a temporary name beside the target, then rename over it, which POSIX makes atomic within
one file system. A failed write leaves the old file, or none, and no temporary file behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix, so tools that choose a format by extension still do); it
    replaces `path` when the block succeeds. Unique per process and thread, so concurrent writers never collide."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
