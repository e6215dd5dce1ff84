"""The code passes the project's linter (ruff, configured in pyproject.toml), as ``make lint``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:  # ruff is in the dev extra, which make test installs
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", "reldrop3d", "tests", "benchmarks", "viewers"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
