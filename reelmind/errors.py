"""Errors that reach a user: one line that names the file and the reason."""

from __future__ import annotations

import unicodedata
from pathlib import Path

# Characters that break a line or control a terminal: control codes, and the line and paragraph separators.
LINE_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def one_line(text: str) -> str:
    """`text` with its line breaks and control characters escaped (a file name may hold a newline), so a message
    that quotes it stays one line; every other character, in any script, is kept as it is."""
    return "".join(ch.encode("unicode_escape").decode() if unicodedata.category(ch) in LINE_BREAKING_CATEGORIES
                   else ch for ch in text)


class ReelMindError(Exception):
    """Base for errors shown to users as a single line."""


class MediaError(ReelMindError):
    """A file that cannot be ingested, and why: `str()` is `<path>: <reason>`."""

    def __init__(self, path: str | Path, reason: str, stage: str = "probe"):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # one line, whatever the library said
        self.stage = stage
        super().__init__(f"{one_line(self.path)}: {self.reason}")

    def __reduce__(self):
        # Rebuilt from its fields, not its message: a failure raised on a Dask worker reaches the flow whole.
        return type(self), (self.path, self.reason, self.stage)


class StoreError(ReelMindError):
    """The database refused a write, e.g. vectors of another model for an existing column."""
