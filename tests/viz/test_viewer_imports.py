"""The viewers use reldrop3d's public API only: names from ``reldrop3d.viz`` itself (or other public
modules), never an underscore name or a module inside ``reldrop3d.viz``."""

import ast
from pathlib import Path

import pytest

import reldrop3d.viz as viz

VIEWERS = sorted((Path(__file__).resolve().parents[2] / "viewers").glob("*.py"))


def reldrop3d_imports(path):
    """(module, name) of every ``import reldrop3d...`` / ``from reldrop3d... import name``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "reldrop3d":
                out += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names
                    if alias.name.split(".")[0] == "reldrop3d"]
    return out


def private_imports(path):
    bad = []
    for module, name in reldrop3d_imports(path):
        parts = module.split(".")
        if any(p.startswith("_") for p in parts) or (name or "").startswith("_"):
            bad.append(f"{module}:{name} (underscore name)")
        elif parts[:2] == ["reldrop3d", "viz"] and len(parts) > 2:
            bad.append(f"{module}:{name} (import it from reldrop3d.viz)")
        elif module == "reldrop3d.viz" and name not in viz.__all__:
            bad.append(f"{module}:{name} (not in reldrop3d.viz.__all__)")
    return bad


def test_there_are_viewers():
    assert VIEWERS and any(reldrop3d_imports(p) for p in VIEWERS)


@pytest.mark.parametrize("path", VIEWERS, ids=lambda p: p.name)
def test_viewer_imports_only_public_names(path):
    assert private_imports(path) == []


def test_the_check_catches_private_imports(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from reldrop3d.viz.render_o3d import draw_points_o3d\n"
                   "from reldrop3d.viz import _helper\n"
                   "from reldrop3d.commands._options import parse_key_values\n"
                   "import reldrop3d.viz.scene\n"
                   "def f():\n    from reldrop3d.viz import not_exported\n")
    assert len(private_imports(bad)) == 5


@pytest.mark.parametrize("name", viz.__all__)
def test_every_public_name_exists(name):
    assert hasattr(viz, name)
