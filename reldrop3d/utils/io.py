"""Atomic file writes: a crash mid-write never leaves a truncated file behind.

Files are created with the mode a plain ``open(path, "w")`` would give them (``0o666`` minus
the process umask), not the ``0o600`` of :func:`tempfile.mkstemp`, so checkpoints, configs and
caches stay readable by whoever the user's umask allows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

TMP_SUFFIX = ".tmp"
_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask: from ``/proc/self/status`` on Linux (read-only), else by setting and
    restoring it (two system calls; other threads could create a file in between)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open(path, "w")`` gives a new file."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    The rename is atomic on POSIX file systems, so readers see either the old file or the
    complete new one. On an exception the temporary file is removed and ``path`` is untouched.
    The file gets the umask-derived mode (:func:`default_file_mode`). Temporary files are
    named ``.<name>.<random>.tmp`` (see :func:`remove_stale_tmp`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_file_mode())  # the writer may have replaced the file: chmod last
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def remove_stale_tmp(folder: str | os.PathLike, older_than_s: float = 3600.0) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` leaves behind when a process is killed.

    Parameters
    ----------
    folder : path
        Searched non-recursively for ``.<name>.<random>.tmp`` files.
    older_than_s : float
        Only files not modified for this many seconds are removed (a live writer's file is
        younger); 0 removes all of them.

    Returns
    -------
    list of Path
        The files removed (a missing ``folder`` gives an empty list).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now, removed = time.time(), []
    for p in folder.glob(f".*{TMP_SUFFIX}"):
        try:
            if p.is_file() and now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:  # removed meanwhile by another process
            continue
    return removed
