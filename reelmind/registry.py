"""Pluggable model backends, registered by name, loaded once per process.

Four kinds: "speech", "vision", "caption", "text". A backend module registers a factory with
`@register("text", "multilingual-e5-small")`; callers ask `load("text", name, model)` and get one shared,
lazily loaded instance per (kind, name, model) in this process. Every backend has a `model_id` that is stored with
the data it produced, so a table knows how it was embedded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

KINDS = ("speech", "vision", "caption", "text")

_factories: dict[tuple[str, str], Callable[..., Any]] = {}
_instances: dict[tuple[str, str, str, tuple], Any] = {}
_lock = threading.Lock()


def register(kind: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    if kind not in KINDS:
        raise ValueError(f"unknown backend kind {kind!r}; kinds: {', '.join(KINDS)}")

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        _factories[(kind, name)] = factory
        return factory

    return decorate


def names(kind: str) -> list[str]:
    _import_builtin_backends()
    return sorted(name for k, name in _factories if k == kind)


def load(kind: str, name: str, model: str = "", **options: Any) -> Any:
    """The process-wide instance of backend `name` of `kind` for `model` ("" = the backend's default)."""
    _import_builtin_backends()
    if (kind, name) not in _factories:
        raise ValueError(f"no {kind} backend named {name!r}; available: {', '.join(names(kind)) or 'none'}")
    key = (kind, name, model, tuple(sorted(options.items())))
    with _lock:
        if key not in _instances:
            _instances[key] = _factories[(kind, name)](model, **options)
        return _instances[key]


def _import_builtin_backends() -> None:
    # Imported here, not at module import, so `reelmind.registry` stays cheap and free of import cycles.
    from reelmind import captions, speech, text_embed, vision  # noqa: F401
