"""Argument helpers shared by several commands (argparse types of :mod:`reldrop3d.utils.options`)."""

from __future__ import annotations

from ..utils.options import KeyValueArg, non_negative_int, parse_key_values, torch_device

__all__ = ["KeyValueArg", "non_negative_int", "parse_key_values", "torch_device"]
