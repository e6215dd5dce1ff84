"""The house plan (docs/architecture.md): no package imports a higher layer, lazy imports included."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reldrop3d"
LAYERS = [
    {"utils", "ops"},
    {"data", "models", "masking"},
    {"explain"},
    {"guidance"},
    {"train"},
    {"eval", "viz"},
    {"experiments"},
    {"commands", "cli", "__main__"},
]
LEVEL = {name: i for i, group in enumerate(LAYERS) for name in group}


def imported_packages(path: Path):
    """(line, top-level reldrop3d package) of every import in ``path``, relative ones resolved."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    here = list(rel[:-1]) if rel[-1] != "__init__" else list(rel[:-1])
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
                if not parts and not node.module:
                    parts = [a.name for a in node.names]
                    for name in parts:
                        yield node.lineno, name
                    continue
                if parts:
                    yield node.lineno, parts[0]
            elif node.module and node.module.startswith("reldrop3d."):
                yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("reldrop3d."):
                    yield node.lineno, a.name.split(".")[1]


def test_every_package_has_a_layer():
    packages = {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    assert packages <= set(LEVEL), f"give these a layer in docs/architecture.md: {packages - set(LEVEL)}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_import(path):
    rel = path.relative_to(PACKAGE)
    own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    if own == "__init__":
        return  # the package's own front door re-exports
    upward = [f"line {line}: {pkg}" for line, pkg in imported_packages(path)
              if pkg in LEVEL and LEVEL[pkg] > LEVEL[own]]
    assert not upward, f"{rel} imports a higher layer: {upward}"
