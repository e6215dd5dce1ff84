"""``reldrop3d data check ROOT``: validate a data folder (counts per split and class, problems)."""

from __future__ import annotations

import argparse
import sys

HELP = "inspect data folders (data check ROOT: counts per split and class, every problem)"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    c = sub.add_parser("check", help="validate a data folder; exit code 1 when problems exist",
                       description="Find ModelNet40/10 and ShapeNetPart data (any format) under "
                       "ROOT, read every file, print shapes per split and class and every problem "
                       "found. Exit code 0: no problems, 1: problems, 2: usage error.")
    c.add_argument("root", metavar="ROOT", help="data folder, e.g. data/modelnet40")
    c.add_argument("--dataset", default=None,
                   help="only this data set: modelnet40, modelnet10, shapenetpart (or shapenet)")
    c.add_argument("--format", default=None, help="only this format: h5, normal, off")
    c.add_argument("--num-points", type=int, default=None, metavar="N",
                   help="also report shapes with fewer than N points (those that `train "
                        "--num-points N` refuses; ShapeNetPart pads such shapes and is exempt)")
    c.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the full traceback of errors")


def run(args) -> int:
    if getattr(args, "data_command", None) != "check":
        print("usage: reldrop3d data check ROOT [--dataset NAME] [--format FMT]", file=sys.stderr)
        return 2
    from ..data.check import check_root

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.num_points is not None and args.num_points < 1:
        raise ValueError(f"--num-points must be >= 1, got {args.num_points}")
    report = check_root(args.root, args.dataset, args.format,
                        progress=None if args.quiet else progress, num_points=args.num_points)
    print(report.format())
    return 0 if report.ok else 1
