"""On-disk caches of sampled data-set arrays (``.npz``), keyed and fingerprinted.

A cache file holds the arrays of one split for one parameter set (points per shape, sampling,
normals, ...; the key is the file name, see :func:`cache_file`) plus a fingerprint of the source
files (relative path, size and modification time of every file the split was built from). When
the fingerprint no longer matches, the cache is rebuilt; an unreadable (corrupt, truncated) cache
file is rebuilt with a logged warning. Files are written atomically
(:func:`reldrop3d.utils.io.atomic_path`), so a crash never leaves a half-written cache behind.

Location: ``cache_dir`` when given, else ``$RELDROP3D_CACHE_DIR``, else
``$XDG_CACHE_HOME/reldrop3d`` (``~/.cache/reldrop3d``). The data folders themselves are never
written to, so they may be read-only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..utils.io import atomic_path

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_FINGERPRINT = "__fingerprint__"


def default_cache_root() -> Path:
    """``$RELDROP3D_CACHE_DIR``, else ``$XDG_CACHE_HOME/reldrop3d``, else ``~/.cache/reldrop3d``."""
    env = os.environ.get("RELDROP3D_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "reldrop3d"


def cache_file(cache_dir: str | Path | None, dataset: str, fmt: str, root: str | Path,
               **key) -> Path:
    """Path of the cache file of one split and parameter set.

    Parameters
    ----------
    cache_dir : path or None
        Base folder (None: :func:`default_cache_root`).
    dataset, fmt : str
        E.g. ``"modelnet40"``, ``"normal"``.
    root : path
        The data folder; its absolute path is hashed into the folder name, so two copies of a
        data set never share a cache.
    **key
        The parameters the arrays depend on, e.g. ``split="train", num_points=1024,
        sampling="fps", normals=True``; they form the file name.
    """
    base = Path(cache_dir) if cache_dir is not None else default_cache_root()
    where = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:10]
    name = "_".join(f"{k}-{_token(v)}" for k, v in key.items()) + ".npz"
    return base / f"{dataset}-{fmt}-{where}" / name


def _token(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).replace("/", "-").replace(" ", "")


def source_fingerprint(files: Iterable[str | Path], root: str | Path, extra: str = "") -> str:
    """SHA-1 over (path relative to ``root``, size, mtime) of every file, plus ``extra``.

    A missing file contributes ``missing`` (so it changes the fingerprint rather than raising).
    """
    h = hashlib.sha1(f"v{CACHE_VERSION}|{extra}".encode())
    root = Path(root)
    for f in sorted(str(p) for p in files):
        p = Path(f)
        try:
            st = p.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        try:
            rel = p.relative_to(root)
        except ValueError:
            rel = p
        h.update(f"\n{rel}|{stamp}".encode())
    return h.hexdigest()


def load_or_build(path: str | Path | None, fingerprint: str,
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays from the cache ``path`` if it is valid for ``fingerprint``, else ``build()`` them
    and write the cache.

    Parameters
    ----------
    path : path or None
        Cache file (None: no caching, always build).
    fingerprint : str
        From :func:`source_fingerprint`; stored in the file and compared on load.
    build : callable
        Returns a dict of arrays (no object arrays); called only when needed.

    Returns
    -------
    dict of str to ndarray

    Notes
    -----
    A corrupt or unreadable cache is rebuilt with a warning; a cache that cannot be written
    (read-only location, full disk) is skipped with a warning: the arrays are still returned.
    """
    if path is None:
        return build()
    path = Path(path)
    if path.exists():
        cached = _read(path)
        if cached is not None:
            stored = cached.pop(_FINGERPRINT, None)
            if stored is not None and str(stored) == fingerprint:
                return cached
            log.info("%s: source files changed since the cache was written; rebuilding", path)
    arrays = build()
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays, **{_FINGERPRINT: np.array(fingerprint)})
    except OSError as err:
        log.warning("could not write cache %s (%s); continuing without it", path, err)
    return arrays


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        log.warning("cache file %s is unreadable (%s: %s); rebuilding it", path,
                    type(err).__name__, err)
        return None
