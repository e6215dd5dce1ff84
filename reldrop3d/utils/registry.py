"""A minimal name -> factory registry (timm style)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class Registry:
    """Maps names to factories; modules named in ``lazy_modules`` are imported on first lookup.

    Parameters
    ----------
    kind : str
        What is registered (used in error messages), e.g. ``"model"``.
    lazy_modules : dict of str to str, optional
        ``name -> module path``: the module is imported (and registers ``name``) the first time
        ``name`` is asked for, so optional dependencies are only imported when used.
    """

    def __init__(self, kind: str, lazy_modules: dict[str, str] | None = None):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}
        self._lazy = dict(lazy_modules or {})

    def register(self, name: str | None = None) -> Callable:
        """Decorator registering a factory under ``name`` (default: the function's name)."""

        def deco(fn: Callable) -> Callable:
            key = name or fn.__name__
            if key in self._factories and self._factories[key] is not fn:
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            self._factories[key] = fn
            return fn

        return deco

    def _load(self, name: str) -> None:
        if name not in self._factories and name in self._lazy:
            importlib.import_module(self._lazy[name])

    def get(self, name: str) -> Callable[..., Any]:
        self._load(name)
        if name not in self._factories:
            raise KeyError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}"
            )
        return self._factories[name]

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        return name in self._factories or name in self._lazy

    def create(self, name: str, *args, **kwargs):
        return self.get(name)(*args, **kwargs)
