"""Keep glibc from returning large tensor buffers to the kernel after every use (CPU training).

PyTorch's CPU allocator takes each activation from ``malloc``. glibc serves requests above its
mmap threshold (dynamic, starting at 128 KiB) with fresh ``mmap`` pages and unmaps them on
``free``, so every training step page-faults its activations in again: on the 2-core CI machine
a PointNet part-segmentation epoch spent ~40% of its wall time in the kernel. Raising the mmap
and trim thresholds (what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do at start-up)
keeps freed buffers in the heap for reuse. Measured (docs/training.md has the command): 3 epochs
of ``reldrop3d train --task partseg`` 198 s -> 111 s wall, kernel time 160 s -> 17 s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's upper limit on 64-bit
_TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int: the largest value


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds for this process; True if applied.

    A no-op (False) off Linux, with another C library, or when the user set either
    ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` (theirs wins) or
    ``RELDROP3D_NO_MALLOC_TUNING=1``.
    """
    if not sys.platform.startswith("linux") or os.environ.get("RELDROP3D_NO_MALLOC_TUNING") == "1":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
    ok_trim = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1
    return ok_mmap and ok_trim
