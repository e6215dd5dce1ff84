"""Argument helpers shared by several commands."""

from __future__ import annotations

import argparse

from ..utils.options import KeyValueArg, non_negative_int, parse_key_values

__all__ = ["KeyValueArg", "add_data_arguments", "data_kwargs_from", "non_negative_int",
           "parse_key_values"]


def add_data_arguments(p: argparse.ArgumentParser, default: str = "synthetic") -> None:
    """--data, --data-root, --format, --num-points, --normals, --skip-missing, --data-kw."""
    g = p.add_argument_group("data")
    g.add_argument("--data", default=default, help="data set name (default: %(default)s)")
    g.add_argument("--data-root", default=None, help="data set folder (default: data/<name>)")
    g.add_argument("--format", default=None, help="on-disk format, e.g. h5 | normal | off")
    g.add_argument("--num-points", type=int, default=1024, help="points per cloud")
    g.add_argument("--normals", action="store_true", help="use xyz + normals as input")
    g.add_argument("--skip-missing", action="store_true",
                   help="ModelNet / ShapeNet: use the shapes present when list files name "
                        "missing ones (how many were skipped is logged per split)")
    g.add_argument("--data-kw", nargs="*", default=[], metavar="KEY=VALUE",
                   type=KeyValueArg("--data-kw"),
                   help="extra data-set arguments, e.g. num_shapes=1000")


def data_kwargs_from(args) -> dict:
    kw = parse_key_values(args.data_kw, "--data-kw")
    if args.format:
        kw["format"] = args.format
    return kw
