"""Device, clock, code target and seeds: the only place that sets Brian2's global state.

Functions
---------
derive_seeds
    Per-purpose seeds (connectivity, initial state, background...) from one master seed.
configure_device
    Select the runtime target (numpy/cython) or ``cpp_standalone`` (threads, build
    directory, ``build_on_run=False``) and set ``defaultclock.dt``.
seed_brian
    ``brian2.seed`` for Brian's own random numbers (Poisson background draws).
run_network
    Run an explicit ``Network``, timing compilation and simulation separately, building
    and running the standalone binary when that device is active.
order_clock_resets
    Make the generated main.cpp independent of Python's object addresses (no needless
    recompilation of a structure built before).
reset_device
    Back to the runtime device with default preferences.

Nothing else in the package calls ``brian2.seed``, ``set_device`` or sets ``defaultclock.dt``
or ``prefs.codegen.target`` (AESTHETICS: global state in one place).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Network, Quantity, defaultclock, device, get_device, ms, prefs, second, set_device
from brian2 import seed as brian_seed

from analysis.errors import ConfigError, suggest

__all__ = [
    "SEED_PURPOSES",
    "DEVICES",
    "RunTimings",
    "derive_seeds",
    "configure_device",
    "seed_brian",
    "run_network",
    "order_clock_resets",
    "reset_device",
    "default_build_root",
    "device_label",
    "noise_background_seed",
    "omp_wait_policy",
    "environment_variable",
    "run_seeds",
    "last_standalone_loop_s",
]

logger = logging.getLogger(__name__)

#: Purposes with their own seed, derived from the master seed (DESIGN 3).
SEED_PURPOSES = ("connectivity", "initial_state", "background", "stimulus", "lgn_spikes", "trial_noise")
#: Devices accepted by :func:`configure_device`.
DEVICES = ("runtime", "cpp_standalone")
#: PD14 reference time step (INM-6 sim_resolution).
DEFAULT_DT = 0.1 * ms


@dataclass
class RunTimings:
    """Wall times (s) of the phases of one run."""

    build: float = 0.0
    compile: float = 0.0
    simulate: float = 0.0
    write: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        """``{"build": ..., "compile": ..., "simulate": ..., "write": ...}`` plus extras."""
        return {"build": self.build, "compile": self.compile, "simulate": self.simulate, "write": self.write, **self.extra}


def derive_seeds(master_seed: int, purposes: Sequence[str] = SEED_PURPOSES) -> dict[str, int]:
    """Independent per-purpose seeds from one master seed (``numpy.random.SeedSequence``).

    Parameters
    ----------
    master_seed : int
        >= 0.
    purposes : sequence of str
        Names of the purposes; the child for purpose k is the k-th spawned sequence of
        :data:`SEED_PURPOSES` order, so adding purposes at the end keeps earlier seeds.

    Returns
    -------
    dict of str to int
        ``{"master": master_seed, purpose: seed, ...}`` (seeds < 2**31, valid for Brian2).

    Examples
    --------
    >>> s = derive_seeds(1)
    >>> s["master"], s["connectivity"] != s["background"]
    (1, True)
    """
    if int(master_seed) != master_seed or master_seed < 0:
        raise ConfigError(f"master seed must be a non-negative integer, got {master_seed}")
    unknown = [p for p in purposes if p not in SEED_PURPOSES]
    if unknown:
        raise ConfigError(f"unknown seed purpose {unknown[0]!r}{suggest(unknown[0], SEED_PURPOSES)}")
    children = np.random.SeedSequence(int(master_seed)).spawn(len(SEED_PURPOSES))
    seeds = {"master": int(master_seed)}
    for purpose, child in zip(SEED_PURPOSES, children):
        if purpose in purposes:
            seeds[purpose] = int(child.generate_state(1)[0] % (2**31 - 1))
    return seeds


def noise_background_seed(master_seed: int, noise_seed: int) -> int:
    """The background seed of noise realisation ``noise_seed`` (> 0) of master seed ``master_seed``.

    Drawn from ``SeedSequence([master_seed, noise_seed])`` rather than used literally:
    Brian2 seeds OpenMP thread k's generator with ``seed + k``, so literal consecutive seeds
    would share streams between realisations on more than one thread.

    Examples
    --------
    >>> noise_background_seed(1, 1) != noise_background_seed(1, 2) != derive_seeds(1)["background"]
    True
    """
    if int(noise_seed) != noise_seed or noise_seed < 1:
        raise ConfigError(f"noise_seed must be a positive integer, got {noise_seed!r}")
    if int(master_seed) != master_seed or master_seed < 0:
        raise ConfigError(f"master_seed must be a non-negative integer, got {master_seed!r}")
    state = np.random.SeedSequence([int(master_seed), int(noise_seed)]).generate_state(1)[0]
    return int(state % (2**31 - 1))


def default_build_root() -> Path:
    """Where standalone builds live: ``$VENTRAL_COLUMNS_BUILD_DIR`` or ``~/.cache/ventral-columns``."""
    env = os.environ.get("VENTRAL_COLUMNS_BUILD_DIR")
    return Path(env) if env else Path.home() / ".cache" / "ventral-columns" / "standalone"


def configure_device(
    device_name: str = "runtime",
    *,
    target: str = "cython",
    threads: int = 1,
    directory: str | os.PathLike[str] | None = None,
    dt: Quantity = DEFAULT_DT,
) -> None:
    """Select and reset the Brian2 device, code target and clock before building a network.

    Parameters
    ----------
    device_name : str
        ``"runtime"`` or ``"cpp_standalone"``.
    target : str
        Runtime code target: ``"cython"`` (compiled, cached in Brian's persistent cache) or
        ``"numpy"`` (no compilation).
    threads : int
        OpenMP threads of ``cpp_standalone`` (ignored at runtime).
    directory : path, optional
        Standalone project directory; keep one per network structure so reruns only
        recompile what changed.
    dt : Quantity (second)
        Simulation time step.

    Raises
    ------
    ConfigError
        Unknown device/target, ``threads`` < 1, or a missing directory for standalone.
    """
    if device_name not in DEVICES:
        raise ConfigError(f"device must be one of {DEVICES}, got {device_name!r}{suggest(device_name, DEVICES)}")
    if target not in ("cython", "numpy"):
        raise ConfigError(f"target must be 'cython' or 'numpy', got {target!r}")
    if int(threads) != threads or threads < 1:
        raise ConfigError(f"threads must be a positive integer, got {threads}")
    if device_name == "cpp_standalone":
        if directory is None:
            raise ConfigError("cpp_standalone needs a build directory")
        set_device("runtime")
        device.reinit()
        set_device("cpp_standalone", directory=str(directory), build_on_run=False)
        # A standalone device that already built a network must be reset before the next
        # one (Brian2: "call device.reinit() and device.activate()").
        device.reinit()
        device.activate(directory=str(directory), build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = int(threads)
        # Brian's default "make -j" starts one compiler per code object (hundreds for a
        # column network) and can exhaust the memory of a small machine.
        prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{max(2, os.cpu_count() or 2)}"]
    else:
        set_device("runtime")
        device.reinit()
        device.activate()
        prefs.codegen.target = target
    defaultclock.dt = dt


def device_label(device_name: str, target: str = "cython") -> str:
    """``"runtime/cython"``, ``"runtime/numpy"`` or ``"cpp_standalone"`` for provenance."""
    return device_name if device_name == "cpp_standalone" else f"runtime/{target}"


def seed_brian(seed: int) -> None:
    """Seed Brian2's random numbers (background Poisson draws) -- the only call of ``brian2.seed``."""
    brian_seed(int(seed))


@contextlib.contextmanager
def omp_wait_policy(policy: str = "inherit"):
    """Set ``OMP_WAIT_POLICY`` for the standalone binaries started inside the block.

    ``"active"``: OpenMP threads spin at the barriers between code objects; ``"passive"``:
    they sleep and are woken (a futex round trip per barrier); ``"inherit"``: the
    environment decides (libgomp's default spins a while, then sleeps). Measured on the
    2-core machine, quiet, cpp_standalone with 2 threads (bench/RESULTS.md): the default
    stream at scale 1 takes 3.9 s per biological second with ``active`` or the default
    and 19.7 s with ``passive``; PD14 at scale 0.1 0.75 / 0.97 / 2.16 s.
    """
    if policy not in ("inherit", "active", "passive"):
        raise ConfigError(f"omp_wait_policy must be 'inherit', 'active' or 'passive', got {policy!r}")
    with environment_variable("OMP_WAIT_POLICY", None if policy == "inherit" else policy.upper()):
        yield


@contextlib.contextmanager
def environment_variable(name: str, value: str | None):
    """Set the environment variable ``name`` to ``value`` inside the block (``None``: leave it).

    How values reach a standalone binary: Brian2 starts it with this process's environment.
    """
    if value is None:
        yield
        return
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def run_seeds(master_seed: int, noise_seed: int = 0) -> dict[str, int]:
    """The seeds of a run: :func:`derive_seeds` of ``master_seed``, with noise realisation ``noise_seed``.

    ``noise_seed`` 0 keeps the master seed's own background; k > 0 adds ``"noise": k`` and
    replaces ``"background"`` by :func:`noise_background_seed` (``run.noise_seed``).
    """
    seeds = derive_seeds(master_seed)
    if noise_seed:
        seeds["noise"] = int(noise_seed)
        seeds["background"] = noise_background_seed(seeds["master"], seeds["noise"])
    return seeds


def last_standalone_loop_s() -> float:
    """Brian2's own measure of the last standalone simulation loop, s (NaN before any run)."""
    from brian2.devices.device import all_devices

    return float(getattr(all_devices["cpp_standalone"], "_last_run_time", float("nan")))


def order_clock_resets(net: Network) -> int:
    """Put the clock resets that ``net.run`` recorded for standalone in name order; how many blocks were sorted.

    Brian2 resets the clocks of a run by iterating over a set of ``Clock`` objects, whose
    order follows their memory addresses, so the generated main.cpp of one network
    structure differed from process to process and every run recompiled it (about 25 s
    at scale 1). Each reset assigns its own clock's ``t`` or ``timestep``, so within a
    block of consecutive resets of distinct arrays the order does not matter. Call after
    ``net.run`` and before ``device.build``.
    """
    dev = get_device()
    clock_arrays = set()
    for clock in {obj.clock for obj in net.sorted_objects}:
        for name in ("t", "timestep"):
            clock_arrays.add(dev.get_array_name(clock.variables[name], access_data=False))

    def is_reset(item: Any) -> bool:
        return item[0] == "set_by_single_value" and item[1][0] in clock_arrays

    queue, sorted_blocks, i = dev.main_queue, 0, 0
    while i < len(queue):
        j = i
        while j < len(queue) and is_reset(queue[j]):
            j += 1
        names = [item[1][0] for item in queue[i:j]]
        if len(names) > 1 and len(set(names)) == len(names):
            queue[i:j] = sorted(queue[i:j], key=lambda item: item[1][0])
            sorted_blocks += 1
        i = max(j, i + 1)
    return sorted_blocks


def run_network(net: Network, duration: Quantity, *, directory: str | os.PathLike[str] | None = None,
                profile: bool = False) -> RunTimings:
    """Run ``net`` for ``duration`` on the active device and time the phases.

    Runtime: a first one-step run generates and compiles the code (``compile``), the rest
    is ``simulate``. ``cpp_standalone``: ``net.run`` records the run, ``device.build``
    compiles (``compile``) and ``device.run`` executes the binary (``simulate``, including
    loading the connectivity); results are then readable from the monitors.

    Parameters
    ----------
    net : brian2.Network
    duration : Quantity (second)
    directory : path, optional
        Standalone project directory (the one given to :func:`configure_device`).
    profile : bool
        Time every code object (Brian2's ``profile=True``): ``extra["profile"]`` lists
        ``[name, seconds, template]`` per code object (template ``""`` where unknown).

    Returns
    -------
    RunTimings
        ``compile`` and ``simulate`` filled in; ``extra["standalone_run_s"]`` is Brian's own
        measure of the simulation loop in standalone mode; with ``profile`` in standalone
        mode also ``extra["codegen_s"]``, the time ``net.run`` took to record the run and
        generate its code.
    """
    timings = RunTimings()
    dev = get_device()
    if dev.__class__.__name__ == "CPPStandaloneDevice":
        t0 = time.perf_counter()
        net.run(duration, profile=profile)
        order_clock_resets(net)
        codegen = time.perf_counter() - t0
        t0 = time.perf_counter()
        dev.build(directory=str(directory) if directory else None, compile=True, run=False, with_output=False)
        timings.compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        dev.run(directory=str(directory) if directory else None, with_output=False)
        timings.simulate = time.perf_counter() - t0
        last = getattr(dev, "_last_run_time", None)
        if last is not None:
            timings.extra["standalone_run_s"] = float(last)
        if profile:
            timings.extra["codegen_s"] = codegen
            templates = {name: getattr(co, "template_name", "") for name, co in getattr(dev, "code_objects", {}).items()}
            timings.extra["profile"] = [[name, float(t / second), templates.get(name, "")] for name, t in net.profiling_info]
        return timings
    dt = defaultclock.dt
    t0 = time.perf_counter()
    net.run(dt, profile=profile)
    timings.compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    if duration > dt:
        net.run(duration - dt, profile=profile)
    timings.simulate = time.perf_counter() - t0
    if profile:
        timings.extra["profile"] = [[name, float(t / second), ""] for name, t in net.profiling_info]
    return timings


def reset_device() -> None:
    """Back to the runtime device (used after standalone runs and by tests)."""
    set_device("runtime")
    device.reinit()
    device.activate()
    defaultclock.dt = DEFAULT_DT
