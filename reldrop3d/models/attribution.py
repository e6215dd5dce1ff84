"""Attribution mode: how models behave while relevance is computed.

During attribution, learned input/feature transforms (PointNet's T-Nets) are treated as constants:
the transform matrix is detached, so relevance and gradients flow through the points, never into
the network that predicted the transform. Models query :func:`is_attributing`.
"""

from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def is_attributing() -> bool:
    """Whether the current thread is inside :func:`attribution_mode`."""
    return getattr(_state, "depth", 0) > 0


@contextlib.contextmanager
def attribution_mode():
    """Context in which models detach learned transforms (re-entrant, thread-local)."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1
