"""Reproducibility on cpp_standalone (issue #9): same configuration and master seed, same spikes.

Two runs of a tiny stream (V1 only, scale 0.05, 0.3 s, 1 thread, master seed 7), each in
its own process, with a fresh build directory: the first compiles from scratch, the second
reuses that build (the path every later run of the same structure takes). The runtime
device has the same test in ``tests/test_circuits_stream.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.hdf5_io import read_provenance, read_spike_record
from circuits.simulate import SEED_PURPOSES, derive_seeds

REPO = Path(__file__).resolve().parents[1]
MASTER_SEED = 7

_RUN = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from circuits.config import resolve_config
from circuits.run import run_stream
user = {
    "run": {"device": "cpp_standalone", "threads": 1, "scale": 0.05, "master_seed": MASTER_SEED, "progress": False,
            "silence_guard": False},
    "stream": {"stations": ["v1"]},
    "stimulus": {"orientations": 1, "phases": 1, "repeats": 1, "duration": "0.2 s", "blank": "0.1 s"},
    "recording": {"currents_sample": 2},
}
run_stream(resolve_config(user), sys.argv[1])
""".replace("MASTER_SEED", str(MASTER_SEED))


@pytest.mark.slow
@pytest.mark.compiled
def test_same_seed_gives_identical_spikes_on_cpp_standalone(tmp_path):
    env = {**os.environ, "VENTRAL_COLUMNS_BUILD_DIR": str(tmp_path / "build")}
    paths = [tmp_path / f"run{k}.h5" for k in (1, 2)]
    for path in paths:  # one after the other: never two compiles at once
        proc = subprocess.run([sys.executable, "-c", _RUN, str(path)], capture_output=True, text=True, cwd=REPO,
                              env=env, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = (read_spike_record(p) for p in paths)
    assert first.populations == second.populations
    cortical = [p for p in first.populations if p.startswith("v1_")]
    # the comparison means something only if the cortex fired
    assert sum(first[p].n_spikes for p in cortical) > 0
    for population in first.populations:
        # same device, thread count and seeds: bit-identical spikes (exact, no tolerance)
        np.testing.assert_array_equal(first[population].node_ids, second[population].node_ids)
        np.testing.assert_array_equal(first[population].times, second[population].times)
    for path in paths:
        provenance = read_provenance(path)
        # every per-purpose seed, derived from the master seed by circuits.simulate.derive_seeds
        assert provenance["seeds"] == derive_seeds(MASTER_SEED)
        assert set(SEED_PURPOSES) <= set(provenance["seeds"])
        assert provenance["device"] == "cpp_standalone" and provenance["threads"] == 1


_RUN_ALL_HOOKS = _RUN.replace(
    "from circuits.run import run_stream\n",
    "from circuits.run import run_stream\n"
    "import circuits.run\n"
    "from columns.cell_models import HOOKS\n"
    "circuits.run.stream_hooks = lambda cfg, params, gains: {s.name: HOOKS for s in params.stations}\n",
)


@pytest.mark.slow
@pytest.mark.compiled
def test_hook_free_build_gives_the_spikes_of_the_build_with_every_hook(tmp_path):
    """Leaving out unused manipulation hooks (default since 2026-11-23) keeps compiled spikes.

    Expected values: the same run with every hook in every station (the earlier layout),
    compiled with Brian2's default flags (``-O3 -ffast-math``). Neutral hooks add ``+0``,
    ``-0`` and ``1*`` terms; this asserts the compiler keeps the results bit-identical, so
    runs made before and after the change can be pooled in one experiment.
    """
    env = {**os.environ, "VENTRAL_COLUMNS_BUILD_DIR": str(tmp_path / "build")}
    paths = {}
    for label, code in (("lean", _RUN), ("all_hooks", _RUN_ALL_HOOKS)):
        paths[label] = tmp_path / f"{label}.h5"
        proc = subprocess.run([sys.executable, "-c", code, str(paths[label])], capture_output=True, text=True, cwd=REPO,
                              env=env, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
    lean, full = (read_spike_record(p) for p in paths.values())
    assert sum(lean[p].n_spikes for p in lean.populations if p.startswith("v1_")) > 0
    for population in lean.populations:
        np.testing.assert_array_equal(lean[population].node_ids, full[population].node_ids)
        np.testing.assert_array_equal(lean[population].times, full[population].times)


_RUN_SEED = _RUN.replace(f'"master_seed": {MASTER_SEED}', '"master_seed": int(sys.argv[2])')

#: Brian2's own seeding (the literal ``seed(...)`` in main.cpp) instead of the environment's.
_RUN_LITERAL_SEED = _RUN_SEED.replace(
    "from circuits.run import run_stream\n",
    "from circuits.run import run_stream\n"
    "import circuits.run\n"
    "from circuits.simulate import derive_seeds, seed_brian\n"
    "circuits.run._noise_seed_code = lambda n: ''\n"
    "_configure = circuits.run.configure_device\n"
    "def _literal(*args, **kwargs):\n"
    "    _configure(*args, **kwargs)\n"
    "    seed_brian(derive_seeds(int(sys.argv[2]))['background'])\n"
    "circuits.run.configure_device = _literal\n",
)


def _objects(build: Path) -> dict[str, int]:
    return {str(p.relative_to(build)): p.stat().st_mtime_ns for p in build.rglob("*.o")}


@pytest.mark.slow
@pytest.mark.compiled
def test_a_new_seed_recompiles_nothing_and_keeps_brians_seeding(tmp_path):
    """A second master seed of a built structure rebuilds no object file (main.cpp no longer
    holds the seed, nor the clocks in address order), and the binary seeded from the
    environment gives the spikes of Brian2's literal seed (expected: bit-identical)."""
    build = tmp_path / "build"
    env = {**os.environ, "VENTRAL_COLUMNS_BUILD_DIR": str(build)}

    def run(code: str, name: str, seed: int) -> Path:
        path = tmp_path / name
        proc = subprocess.run([sys.executable, "-c", code, str(path), str(seed)], capture_output=True, text=True,
                              cwd=REPO, env=env, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return path

    first = run(_RUN_SEED, "seed7.h5", 7)
    (directory,) = [p for p in build.iterdir() if p.is_dir()]
    main_cpp, objects = (directory / "main.cpp").read_text(), _objects(directory)
    second = run(_RUN_SEED, "seed8.h5", 8)
    assert (directory / "main.cpp").read_text() == main_cpp
    assert _objects(directory) == objects  # not one file recompiled
    literal = run(_RUN_LITERAL_SEED, "seed7_literal.h5", 7)
    a, b, c = (read_spike_record(p) for p in (first, second, literal))
    assert sum(a[p].n_spikes for p in a.populations if p.startswith("v1_")) > 0
    assert any(not np.array_equal(a[p].times, b[p].times) for p in a.populations)  # another seed, other spikes
    for population in a.populations:
        np.testing.assert_array_equal(a[population].node_ids, c[population].node_ids)
        np.testing.assert_array_equal(a[population].times, c[population].times)


def test_clock_resets_are_put_in_name_order_whatever_the_set_order(tmp_path):
    """Brian2 records the clock resets of a run in the iteration order of a set of clocks
    (memory addresses); after ``order_clock_resets`` main.cpp lists them by array name, the
    same in every process. Other queue items keep their places. Recorded, never compiled."""
    import random

    from brian2 import Network, NeuronGroup, StateMonitor, get_device, ms

    from circuits.simulate import configure_device, order_clock_resets, reset_device

    configure_device("cpp_standalone", directory=tmp_path / "build")
    try:
        group = NeuronGroup(3, "dv/dt = -v / (10*ms) : 1", name="g")
        monitors = [StateMonitor(group, "v", record=True, dt=(k + 2) * 0.1 * ms, name=f"m{k}") for k in range(6)]
        net = Network(group, *monitors, name="net")
        net.run(1 * ms)
        queue = get_device().main_queue
        resets = [k for k, item in enumerate(queue)
                  if item[0] == "set_by_single_value" and item[1][0].endswith(("clock_t", "clock_timestep"))]
        assert len(resets) == 2 * 7  # t and timestep of defaultclock and of the 6 monitor clocks
        lo, hi = min(resets), max(resets) + 1
        assert resets == list(range(lo, hi))  # one block
        before, after = queue[:lo], queue[hi:]
        block = queue[lo:hi]
        random.Random(1).shuffle(block)  # any set order
        queue[lo:hi] = block
        assert order_clock_resets(net) == 1
        names = [item[1][0] for item in queue[lo:hi]]
        assert names == sorted(names) and sorted(names) == sorted(item[1][0] for item in block)
        assert queue[:lo] == before and queue[hi:] == after
    finally:
        reset_device()
