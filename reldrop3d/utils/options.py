"""Parsing ``KEY=VALUE`` option values (CLI ``--data-kw``, ``--model-kw``; the viewer's ``--data-kw``)."""

from __future__ import annotations

import argparse
import ast


def parse_key_values(items: list[str] | None, flag: str = "KEY=VALUE") -> dict:
    """``["k=v", ...]`` -> dict; values are Python literals when they parse (``k=3``, ``k=True``).

    Values are read with :func:`ast.literal_eval` only (never executed); anything that is not a
    literal stays a string. An item without ``=`` or without a key raises
    ``argparse.ArgumentTypeError`` naming ``flag``.
    """
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{flag}: expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            out[key.strip()] = value
    return out
