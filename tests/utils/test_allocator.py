"""glibc allocator tuning: applied on Linux/glibc, skipped when the user configured malloc."""

import sys

import pytest

from reldrop3d.utils import allocator
from reldrop3d.utils.allocator import tune_malloc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_applied_on_linux(monkeypatch):
    for var in (*allocator._USER_VARIABLES, "LD_PRELOAD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("RELDROP3D_NO_MALLOC_TUNING", raising=False)
    assert tune_malloc() is True


@pytest.mark.parametrize("var, value", [("MALLOC_MMAP_THRESHOLD_", "65536"),
                                        ("LD_PRELOAD", "libjemalloc.so.2"),
                                        ("RELDROP3D_NO_MALLOC_TUNING", "1")])
def test_user_settings_win(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    assert tune_malloc() is False


def test_values_fit_mallopt_int_argument():
    # mallopt(int, int): a larger value would wrap silently (a trim threshold of 0 made training
    # slower than glibc's defaults)
    for value in (allocator._TRIM_THRESHOLD, allocator._MMAP_MAX):
        assert 0 <= value < 2**31
