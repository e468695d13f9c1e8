"""Provenance of a run: versions, git revision, seeds, device and wall times.

Functions
---------
collect_provenance
    The provenance dictionary stored as ``/provenance`` in every output file.
git_revision
    The git revision of this checkout, or ``None`` outside a git work tree.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["collect_provenance", "git_revision", "package_version", "WALL_TIME_PHASES"]

#: The phases whose wall time (s) every run records.
WALL_TIME_PHASES = ("build", "compile", "simulate", "write")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_version() -> str:
    """Installed version of the ``ventral-columns`` distribution (``"unknown"`` if absent)."""
    return _version("ventral-columns") or "unknown"


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """``git rev-parse HEAD`` of the checkout holding this package, with ``+dirty`` if modified."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}+dirty" if dirty else rev


def collect_provenance(
    seeds: dict[str, int] | None = None,
    device: str | None = None,
    threads: int | None = None,
    biological_time_s: float | None = None,
    wall_time_s: dict[str, float] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build the provenance dictionary of a run.

    Parameters
    ----------
    seeds : dict of str to int, optional
        Every seed used, per purpose (``master``, ``connectivity``, ``stimulus``...).
    device : str, optional
        ``"runtime/numpy"``, ``"runtime/cython"`` or ``"cpp_standalone"``.
    threads : int, optional
        OpenMP threads of the simulation.
    biological_time_s : float, optional
        Simulated time, s.
    wall_time_s : dict of str to float, optional
        Wall time per phase (``build``, ``compile``, ``simulate``, ``write``), s.
    **extra
        Further JSON-serialisable entries.

    Returns
    -------
    dict
        With keys ``package_version``, ``brian2_version``, ``numpy_version``,
        ``python_version``, ``git_revision``, ``seeds``, ``device``, ``threads``,
        ``biological_time_s``, ``wall_time_s`` and ``created``, plus ``extra``.
    """
    walls = {phase: None for phase in WALL_TIME_PHASES}
    walls.update(wall_time_s or {})
    prov: dict[str, Any] = {
        "package": "ventral-columns",
        "package_version": package_version(),
        # importlib.metadata, not ``import brian2``: analysis must never import brian2.
        "brian2_version": _version("brian2"),
        "numpy_version": _version("numpy"),
        "h5py_version": _version("h5py"),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "git_revision": git_revision(),
        "seeds": dict(seeds or {}),
        "device": device,
        "threads": threads,
        "biological_time_s": biological_time_s,
        "wall_time_s": walls,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    prov.update(extra)
    return prov
