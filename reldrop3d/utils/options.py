"""Parsing ``KEY=VALUE`` option values (CLI ``--data-kw``, ``--model-kw``; the viewer's ``--data-kw``)."""

from __future__ import annotations

import argparse
import ast


def parse_key_values(items: list[str] | None) -> dict:
    """``["k=v", ...]`` -> dict; values are Python literals when they parse (``k=3``, ``k=True``).

    Values are read with :func:`ast.literal_eval` only (never executed); anything that is not a
    literal stays a string.
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out
