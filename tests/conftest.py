"""Shared fixtures: Brian2 global state reset, seeded generators, temporary files.

Unit tests use Brian2's ``numpy`` code-generation target (no compilation); compiled
targets and long runs are marked ``slow``/``compiled`` and run by ``make validate``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest_plugins = ["battery_counts"]


@pytest.fixture(autouse=True)
def _reset_brian2_state():
    """Reset the Brian2 globals a test may change (as brian2/conftest.py does).

    Only when brian2 is already imported, so brian2-free tests stay brian2-free.
    """
    brian2 = sys.modules.get("brian2")
    if brian2 is not None:
        brian2.prefs.codegen.target = "numpy"
        brian2.defaultclock.dt = 0.1 * brian2.ms
    yield
    brian2 = sys.modules.get("brian2")
    if brian2 is not None:
        brian2.set_device("runtime")
        brian2.device.reinit()
        brian2.device.activate()
        brian2.prefs.reset_to_defaults()
        brian2.prefs.codegen.target = "numpy"
        brian2.defaultclock.dt = 0.1 * brian2.ms


@pytest.fixture
def brian2_numpy():
    """Import brian2 with the numpy target (no compilation) and a 0.1 ms clock.

    Tests of ``columns`` and ``circuits`` request it (e.g. with
    ``pytestmark = pytest.mark.usefixtures("brian2_numpy")``): brian2's default target
    would compile with Cython for about a minute on a cold cache.
    """
    import brian2

    brian2.prefs.codegen.target = "numpy"
    brian2.defaultclock.dt = 0.1 * brian2.ms
    return brian2


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator; each test gets the same stream."""
    return np.random.default_rng(20141114)
