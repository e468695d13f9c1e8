"""Packaging guards: our four packages, from this checkout, with the import rules kept.

The card's generic top-level names (columns, circuits, stimuli, analysis) exist on PyPI
as unrelated distributions; these tests fail fast when one of them shadows ours
(AESTHETICS.md, "The card's top-level names and PyPI").
"""

from __future__ import annotations

import ast
import configparser
import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("columns", "circuits", "stimuli", "analysis")


@pytest.mark.parametrize("name", PACKAGES)
def test_packages_import_from_this_checkout(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO / name)


def test_distribution_metadata():
    meta = importlib.metadata.metadata("ventral-columns")
    assert "Private :: Do Not Upload" in meta.get_all("Classifier")
    assert set(meta["Requires-Python"].split(",")) == {">=3.11", "<3.12"}
    requires = importlib.metadata.requires("ventral-columns")
    # brian2 2.9.0 fails to import with numpy >= 2.4 (ndarray.ptp): the pin must stay
    assert any(r.replace(" ", "").startswith("numpy") and "<2.4" in r for r in requires)
    assert any(r.startswith("brian2") and "<2.10" in r for r in requires)
    entry = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "ventral-columns"]
    assert entry and entry[0].value == "circuits.cli:main"


def test_installs_exactly_the_four_packages():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    packages = [p.strip() for p in cfg["options"]["packages"].split() if p.strip()]
    assert sorted(packages) == sorted(PACKAGES)  # never tests/ or scripts/
    assert not (REPO / "tests" / "__init__.py").exists()
    assert not (REPO / "scripts" / "__init__.py").exists()


@pytest.mark.parametrize("name", ["analysis", "stimuli"])
def test_brian2_free_packages_do_not_import_brian2(name):
    code = (
        f"import sys, importlib, pkgutil, {name}\n"
        f"for m in pkgutil.walk_packages({name}.__path__, '{name}.'):\n"
        "    if m.name != 'analysis.plotting':\n"
        "        importlib.import_module(m.name)\n"
        "print('brian2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


# Each heavy dependency lives in one place (AESTHETICS.md, "A suggested layout").
_ALLOWED = {
    "brian2": lambda rel: rel.parts[0] in ("columns", "circuits"),
    "h5py": lambda rel: rel.as_posix() == "analysis/hdf5_io.py",
    "numba": lambda rel: rel.as_posix() == "analysis/_kernels.py",
    "matplotlib": lambda rel: rel.as_posix() == "analysis/plotting.py",
}


def test_heavy_imports_stay_in_their_module():
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO)
            for module in _imports(path) & set(_ALLOWED):
                if not _ALLOWED[module](rel):
                    offenders.append(f"{rel} imports {module}")
    assert offenders == []
