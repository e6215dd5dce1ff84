"""The registry of mask modes: each mode's mask function with its own keyword arguments.

A mode is registered with :func:`register_mode` beside its mask function, which declares the
inputs it accepts, whether it needs relevance, and its keyword arguments with their defaults.
:class:`reldrop3d.masking.Masker` takes a mode's name and only that mode's keyword arguments.

A mask function is called as ``fn(x, relevance, generator, **options)`` with ``x`` points
(B, N, C) or images (B, C, H, W), ``relevance`` (B, N) / (B, H, W) (None for modes that do not
use it) and returns a BoolTensor (B, N) / (B, H, W), True = dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..utils.registry import Registry

INPUTS = ("points", "images")
P_UNITS = ("sample", "batch")

MASK_MODES = Registry("mask mode")


@dataclass(frozen=True)
class MaskMode:
    """One registered mask mode.

    Attributes
    ----------
    name : str
    fn : callable
        ``fn(x, relevance, generator, **options) -> mask``.
    inputs : tuple of {"points", "images"}
        The input layouts the mode works on.
    options : dict
        Its keyword arguments and their defaults (nothing else is accepted).
    uses_relevance : bool
        False for random baselines (relevance is neither needed nor computed).
    p_per : {"sample", "batch"}
        How the share ``p`` is drawn by default: each sample alone, or the whole batch at once.
    check : callable, optional
        ``check(**options)`` raises ValueError for impossible values.
    """

    name: str
    fn: Callable
    inputs: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    uses_relevance: bool = True
    p_per: str = "sample"
    check: Callable | None = None
    summary: str = ""

    def __call__(self, x, relevance, generator=None, **options):
        return self.fn(x, relevance, generator, **options)

    def resolve(self, options: dict[str, Any]) -> dict[str, Any]:
        """The mode's options with ``options`` applied; ValueError for a foreign or bad one."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise ValueError(
                f"mask mode {self.name!r} takes no keyword argument(s) {', '.join(unknown)}; "
                f"its own: {accepted} (every mode: fill, p, p_per, fill_value)"
            )
        resolved = {**self.options, **options}
        if self.check is not None:
            self.check(**resolved)
        return resolved


def register_mode(
    name: str,
    *,
    inputs: tuple[str, ...],
    uses_relevance: bool = True,
    p_per: str = "sample",
    check: Callable | None = None,
    **options: Any,
) -> Callable:
    """Decorator registering a mask function as mode ``name`` with its keyword ``options``
    (name = default value). The function's first line of docstring is the mode's summary."""
    if not set(inputs) <= set(INPUTS) or not inputs:
        raise ValueError(f"inputs must be a subset of {INPUTS}, got {inputs}")
    if p_per not in P_UNITS:
        raise ValueError(f"p_per must be one of {P_UNITS}, got {p_per!r}")

    def deco(fn: Callable) -> Callable:
        summary = (fn.__doc__ or "").strip().split("\n")[0]
        spec = MaskMode(name, fn, tuple(inputs), dict(options), uses_relevance, p_per, check,
                        summary)
        MASK_MODES.register(name)(spec)
        return fn

    return deco


def get_mode(name: str) -> MaskMode:
    """The registered mode ``name``; ValueError naming the registered ones otherwise."""
    if not isinstance(name, str) or name not in MASK_MODES:
        raise ValueError(f"unknown mask mode {name!r}; choose from {MASK_MODES.names()}")
    return MASK_MODES.get(name)
