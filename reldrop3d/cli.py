"""Command-line entry point: ``reldrop3d <command> ...``.

Each command lives in its own module under :mod:`reldrop3d.commands` and provides ``HELP``
(one line), ``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports happen inside
``run`` so that ``reldrop3d --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module under reldrop3d.commands
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "demo": "demo",
    "data": "data",
    "render": "render",
    "compare": "compare",
    "bias-benchmark": "bias_benchmark",
    "robustness": "robustness",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reldrop3d",
        description="Relevance-driven input dropout for point clouds and images.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"reldrop3d.commands.{module_name}")
        except ModuleNotFoundError as err:
            if err.name == f"reldrop3d.commands.{module_name}":
                continue  # command not available in this build
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from .utils.allocator import tune_malloc

    tune_malloc()
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
