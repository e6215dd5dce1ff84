"""Command-line entry point: ``reldrop3d <command> ...``.

Each command lives in its own module under :mod:`reldrop3d.commands` and provides ``HELP``
(one line), ``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports happen inside
``run`` so that ``reldrop3d --help`` stays fast.

Errors of user input (a missing or damaged file, an impossible value, an unknown name: the
``ValueError`` family, which includes ``DataError``, ``CheckpointError`` and ``ConfigError``,
``KeyError`` and file-system errors) print one line ``reldrop3d: error: <message>`` to stderr and
exit with status 2, like argparse's usage errors; ``--debug`` (or ``RELDROP3D_DEBUG=1``) shows
the full traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: exceptions reported as one line (exit status 2) unless --debug
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
               PermissionError, FileExistsError, argparse.ArgumentTypeError)

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
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of errors (also: RELDROP3D_DEBUG=1)")
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
        # also after the command; SUPPRESS: the sub-parser must not reset a --debug given before
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of errors (also: RELDROP3D_DEBUG=1)")
        p.set_defaults(_run=module.run)
    return parser


def error_line(err: BaseException) -> str:
    """The one-line message of ``err`` (a ``KeyError``'s message without its quotes; lines of a
    multi-line message joined by ``; ``)."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    elif isinstance(err, SystemExit):
        text = str(err.code)
    else:
        text = str(err) or type(err).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines) if lines else type(err).__name__


def debug_requested() -> bool:
    """``RELDROP3D_DEBUG`` is set to anything but ``0`` or empty."""
    return os.environ.get("RELDROP3D_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from .utils.allocator import tune_malloc

    tune_malloc()
    debug = args.debug or debug_requested()
    try:
        return int(args._run(args) or 0)
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"reldrop3d: error: {error_line(err)}", file=sys.stderr)
        return 2
    except SystemExit as err:  # a command's own refusal, e.g. SystemExit("render: ...")
        if debug or not isinstance(err.code, str):
            raise
        message = error_line(err)
        message = message[len("reldrop3d "):] if message.startswith("reldrop3d ") else message
        print(f"reldrop3d: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
