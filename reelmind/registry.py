"""Pluggable model backends, registered by name, loaded once per process.

Four kinds, each with its base class in `reelmind.backends`: "speech", "vision", "caption", "text". A backend
module registers a class with `@register("text", "multilingual-e5-small")`; registration refuses a class that does
not implement its kind's interface and a name already taken. Callers ask `load("text", name, model)` and get one
shared, lazily loaded instance per (kind, name, model, options) in this process, or `backend_class(kind, name)` to
read a backend's capabilities without loading a model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from reelmind.backends import BASES, KINDS, Backend

__all__ = ["KINDS", "Registry", "backend_class", "load", "names", "register"]


class Registry:
    """Backend classes by (kind, name), and the instances loaded from them."""

    def __init__(self) -> None:
        self._classes: dict[tuple[str, str], type[Backend]] = {}
        self._instances: dict[tuple[str, str, str, tuple], Backend] = {}
        self._lock = threading.Lock()

    def register(self, kind: str, name: str) -> Callable[[type[Backend]], type[Backend]]:
        base = _base(kind)

        def decorate(cls: type[Backend]) -> type[Backend]:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise ValueError(f"{kind} backend {name!r}: {cls!r} is not a subclass of {base.__name__}")
            if cls.__abstractmethods__:
                raise ValueError(f"{kind} backend {name!r}: {cls.__name__} does not implement "
                                 f"{', '.join(sorted(cls.__abstractmethods__))}")
            taken = self._classes.get((kind, name))
            if taken is not None:
                raise ValueError(f"{kind} backend {name!r} is already registered "
                                 f"({taken.__module__}.{taken.__qualname__})")
            self._classes[(kind, name)] = cls
            return cls

        return decorate

    def names(self, kind: str) -> list[str]:
        _base(kind)
        return sorted(name for k, name in self._classes if k == kind)

    def backend_class(self, kind: str, name: str) -> type[Backend]:
        cls = self._classes.get((kind, name))
        if cls is None:
            raise ValueError(f"no {kind} backend named {name!r}; available: {', '.join(self.names(kind)) or 'none'}")
        return cls

    def load(self, kind: str, name: str, model: str = "", **options: Any) -> Backend:
        """The process-wide instance of backend `name` of `kind` for `model` ("" = the backend's default)."""
        cls = self.backend_class(kind, name)
        key = (kind, name, model, tuple(sorted(options.items())))
        with self._lock:
            if key not in self._instances:
                self._instances[key] = cls(model, **options)
            return self._instances[key]


def _base(kind: str) -> type[Backend]:
    if kind not in BASES:
        raise ValueError(f"unknown backend kind {kind!r}; kinds: {', '.join(KINDS)}")
    return BASES[kind]


# The process's registry: the built-in backends register here when their modules are imported.
_registry = Registry()
register = _registry.register


def names(kind: str) -> list[str]:
    _import_builtin_backends()
    return _registry.names(kind)


def backend_class(kind: str, name: str) -> type[Backend]:
    _import_builtin_backends()
    return _registry.backend_class(kind, name)


def load(kind: str, name: str, model: str = "", **options: Any) -> Backend:
    _import_builtin_backends()
    return _registry.load(kind, name, model, **options)


def _import_builtin_backends() -> None:
    # Imported here, not at module import, so `reelmind.registry` stays cheap and free of import cycles.
    from reelmind import captions, speech, text_embed, vision  # noqa: F401
