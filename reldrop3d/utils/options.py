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


def torch_device(text: str) -> str:
    """argparse ``type`` of a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``): a usage error
    naming the flag for a malformed name or a device this machine does not have."""
    if text == "cpu":
        return text
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r} (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text!r}: no CUDA device on this machine (use cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available on this machine (use cpu)")
    return text


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
