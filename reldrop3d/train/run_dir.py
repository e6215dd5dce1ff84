"""A training run's output folder (``--out``): what a run is, the lock that keeps one process in
it, and the preparation that never loses an earlier run's results.

A folder *holds a run* when it has any of :data:`RUN_FILES` (``config.json``, ``metrics.csv``,
``hparams.yaml``) or a ``checkpoints/*.ckpt``. :func:`check_run_dir` refuses such a folder
unless the run is continued (``--resume``) or replaced explicitly (``--overwrite``;
:func:`clear_run_dir` then deletes exactly those files and nothing else).

:class:`RunLock` is ``OUT/train.lock``, holding the owner's PID, host and start time. It is an
``flock`` on that file, so the kernel releases it when its owner dies however it dies; a lock file
left behind by a killed run is then *stale*: the next run takes it over with a warning. Where the
file system has no ``flock`` the owner's PID decides (alive on this host: in use).

This module does not import Lightning (a lock can be inspected or held by a light process).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the owner's PID decides
    fcntl = None

log = logging.getLogger(__name__)

LOCK_NAME = "train.lock"
CHECKPOINT_DIR = "checkpoints"
#: files (beside ``checkpoints/*.ckpt``) that make a folder hold a run
RUN_FILES = ("config.json", "metrics.csv", "hparams.yaml")


class RunDirError(ValueError):
    """An output folder that cannot be used for this run (the message names the folder and the
    flag that resolves it)."""


def run_files(out: str | os.PathLike) -> list[str]:
    """The files of a training run in ``out`` (relative paths, sorted); empty: it holds no run."""
    out = Path(out)
    found = [name for name in RUN_FILES if (out / name).is_file()]
    ckpts = out / CHECKPOINT_DIR
    if ckpts.is_dir():
        found += [f"{CHECKPOINT_DIR}/{p.name}" for p in ckpts.glob("*.ckpt") if p.is_file()]
    return sorted(found)


def stale_temporary_files(out: str | os.PathLike) -> list[Path]:
    """Temporary files of interrupted atomic writes (``.NAME.*.tmp``, see
    :func:`reldrop3d.utils.io.atomic_path`) in ``out`` and ``out/checkpoints``."""
    out = Path(out)
    return sorted(p for d in (out, out / CHECKPOINT_DIR) if d.is_dir()
                  for p in d.glob(".*.tmp") if p.is_file())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _describe(owner: dict) -> str:
    pid, host = owner.get("pid", "?"), owner.get("host", "?")
    since = owner.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(
        since, (int, float)) else ""
    return f"PID {pid} on {host}{when}"


class RunLock:
    """An exclusive lock on a run folder (``OUT/train.lock``); a context manager.

    Parameters
    ----------
    out : path-like
        The run folder (created if missing).

    Raises
    ------
    RunDirError
        (on :meth:`acquire`) another live process holds the lock; the message names it by PID
        and host.

    Examples
    --------
    >>> with RunLock("runs/a"):
    ...     ...  # a second process entering runs/a gets RunDirError meanwhile
    """

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self._fd: int | None = None
        self.took_over: dict | None = None  # the stale owner replaced, if any

    @property
    def held(self) -> bool:
        return self._fd is not None

    def owner(self) -> dict:
        """The owner recorded in the lock file ({} if none or unreadable)."""
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _busy(self, owner: dict) -> RunDirError:
        return RunDirError(
            f"--out {self.out} is in use by another training run ({_describe(owner)}; lock file "
            f"{self.path}); wait for it to finish or choose another --out")

    def acquire(self) -> RunLock:
        if self.held:
            return self
        if self.out.exists() and not self.out.is_dir():
            raise RunDirError(f"--out {self.out} is a file, not a folder")
        self.out.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            locked = self._flock(fd)
            if locked is False:
                owner = self.owner()
                os.close(fd)
                raise self._busy(owner)
            try:  # its previous owner may have removed the file meanwhile: lock the current one
                current = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        previous = self.owner()
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        if previous and previous.get("pid") != me["pid"]:
            same_host = previous.get("host") == me["host"]
            alive = same_host and isinstance(previous.get("pid"), int) and _pid_alive(previous["pid"])
            if locked is None and alive:  # no flock here: a live owner keeps the folder
                os.close(fd)
                raise self._busy(previous)
            reason = "no longer running" if same_host and not alive else "it holds no lock"
            log.warning("taking over the stale lock %s of %s (%s)", self.path,
                        _describe(previous), reason)
            self.took_over = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return self

    @staticmethod
    def _flock(fd: int) -> bool | None:
        """True: locked; False: held by another process; None: no flock on this file system."""
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # e.g. ENOLCK on some network file systems
            return None
        return True

    def release(self) -> None:
        """Remove the lock file and release the lock (no-op if not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(self._fd), os.stat(self.path)):
                os.remove(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_run_dir(out: str | os.PathLike, resume: str | None = None,
                  overwrite: bool = False) -> list[str]:
    """Whether a run may start in ``out``; changes nothing (call while holding its
    :class:`RunLock`).

    Parameters
    ----------
    out : path-like
    resume : str, optional
        The checkpoint the run continues from (``--resume``): an existing run is continued.
    overwrite : bool
        ``--overwrite``: an existing run is replaced.

    Returns
    -------
    list of str
        The files of the earlier run that :func:`clear_run_dir` is to delete (only with
        ``overwrite``).

    Raises
    ------
    RunDirError
        ``out`` holds a run (:func:`run_files`) and neither ``resume`` nor ``overwrite`` is
        given, or ``resume`` is a checkpoint of another folder than ``out/checkpoints``.
    """
    out = Path(out)
    existing = run_files(out)
    if existing and resume is not None:
        own = (out / CHECKPOINT_DIR).resolve()
        if Path(resume).resolve().parent != own:
            raise RunDirError(
                f"--out {out} holds another run ({', '.join(existing)}) than the one --resume "
                f"{resume} continues; resume into the checkpoint's own folder or an empty --out")
    if not existing or resume is not None:
        return []
    if not overwrite:
        last = out / CHECKPOINT_DIR / "last.ckpt"
        hint = f"continue it with --resume {last}, " if last.is_file() else ""
        raise RunDirError(
            f"--out {out} already holds a training run ({', '.join(existing)}); {hint}replace it "
            f"with --overwrite, or choose another --out")
    return existing


def clear_run_dir(out: str | os.PathLike, replaced: list[str] = ()) -> None:
    """Delete the stale temporary files of interrupted writes (:func:`stale_temporary_files`)
    and the files ``replaced`` (from :func:`check_run_dir`); both are logged."""
    out = Path(out)
    stale = stale_temporary_files(out)
    for p in stale:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    if stale:
        log.warning("removed %d stale temporary file(s) of an interrupted run in %s: %s",
                    len(stale), out, ", ".join(p.name for p in stale))
    for name in replaced:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    if replaced:
        log.warning("--overwrite: removed the earlier run in %s (%s)", out, ", ".join(replaced))


__all__ = ["CHECKPOINT_DIR", "LOCK_NAME", "RUN_FILES", "RunDirError", "RunLock",
           "check_run_dir", "clear_run_dir", "run_files", "stale_temporary_files"]
