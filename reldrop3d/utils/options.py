"""Parsing ``KEY=VALUE`` option values (CLI ``--data-kw``, ``--model-kw``; the viewer's ``--data-kw``)."""

from __future__ import annotations

import argparse
import ast


class KeyValueArg:
    """argparse ``type`` of one ``KEY=VALUE`` item: a usage error naming the flag otherwise.

    Parameters
    ----------
    flag : str
        The option's spelling, e.g. ``"--data-kw"`` (argparse names it in the error).
    """

    def __init__(self, flag: str):
        self.flag = flag
        self.__name__ = f"{flag} KEY=VALUE"

    def __call__(self, text: str) -> str:
        key, sep, _ = text.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
        return text


def non_negative_int(text: str) -> int:
    """argparse ``type`` of an integer >= 0 (seeds, counts): a usage error naming the flag."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


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
