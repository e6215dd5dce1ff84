"""Keep glibc from returning large tensor buffers to the kernel after every use (CPU training).

PyTorch's CPU allocator takes each activation from ``malloc``. glibc serves requests above its
mmap threshold (dynamic, at most 32 MiB) with fresh ``mmap`` pages and unmaps them on ``free``,
so every training step page-faults its activations in again; on the 2-core CI machine a PointNet
part-segmentation epoch spent ~45 % of its wall time in the kernel, and a double backward
(input-gradient guidance losses at batch 32 x 1,024) ~55 %. Serving every block from the heap
(``M_MMAP_MAX = 0``) and trimming the heap only above 2 GiB of free top space keeps freed buffers
for reuse: the same as starting the process with ``MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=2147483647``. Measured in docs/training.md (partseg epochs) and
docs/guidance.md (guidance steps). The price: memory freed by the process stays mapped (its
peak resident size is kept), the usual trade of a training process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 2**31 - 1  # mallopt takes C ints: the largest value
_MMAP_MAX = 0
_USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_",
                   "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
_ALLOCATOR_LIBRARIES = ("jemalloc", "tcmalloc", "mimalloc", "malloc")


def _user_configured() -> bool:
    preload = os.environ.get("LD_PRELOAD", "")
    return any(v in os.environ for v in _USER_VARIABLES) or any(
        lib in preload for lib in _ALLOCATOR_LIBRARIES)


def tune_malloc() -> bool:
    """Stop glibc from unmapping freed blocks in this process; True if applied.

    A no-op (False) off Linux, with another C library, when the user configured the allocator
    (a ``MALLOC_*_`` variable, ``GLIBC_TUNABLES``, or an allocator such as jemalloc in
    ``LD_PRELOAD``: theirs wins) or set ``RELDROP3D_NO_MALLOC_TUNING=1``.
    """
    if not sys.platform.startswith("linux") or os.environ.get("RELDROP3D_NO_MALLOC_TUNING") == "1":
        return False
    if _user_configured():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok_trim = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1
    ok_mmap = mallopt(_M_MMAP_MAX, _MMAP_MAX) == 1
    return ok_trim and ok_mmap
