"""What the tests share besides fixtures: where things are, and small helpers (import them from here, not conftest)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "media_fixtures"
SHARED_MEDIA = REPO.parent / "shared" / "media"


def shared_media(name: str) -> Path:
    path = SHARED_MEDIA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared real clips sit beside the checkout only on project machines)")
    return path


def settings_for(db: str, **overrides):
    from reelmind.config import load_settings

    return load_settings(db=db, **overrides)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
