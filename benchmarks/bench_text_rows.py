"""Cost of validating whole ``modelnet40_normal_resampled`` files (issue 15): with
``sampling=first`` the loader used to parse only the first N rows, so files truncated or holding
inf after row N trained silently; it now parses and validates all 10,000 rows, once, when the
cache is built. Measured interleaved on the shared real sample (median of ``--rounds``):

* ``read_point_rows`` of the whole file (what the loader and ``data check`` run now),
* ``np.loadtxt(max_rows=1024)`` (what ``sampling=first`` parsed before).

    python benchmarks/bench_text_rows.py [--shapes 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from reldrop3d.data.readers import read_point_rows

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "modelnet40_normal_resampled"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=SAMPLE)
    p.add_argument("--shapes", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    files = sorted(args.root.glob("*/*.txt"))[: args.shapes]
    cases = {
        "whole file, validated (now)": lambda f: read_point_rows(f, 6, ","),
        "first 1,024 rows (before)": lambda f: np.loadtxt(f, delimiter=",", dtype=np.float32,
                                                          ndmin=2, comments=None, max_rows=1024),
    }
    times = {k: [] for k in cases}
    for _ in range(args.rounds):
        for name, parse in cases.items():
            t = time.perf_counter()
            for f in files:
                parse(f)
            times[name].append((time.perf_counter() - t) / len(files))
    base = statistics.median(times["first 1,024 rows (before)"])
    for name, values in times.items():
        m = statistics.median(values)
        print(f"{name}: {m * 1e3:.1f} ms / shape ({m / base:.1f}x)")


if __name__ == "__main__":
    main()
