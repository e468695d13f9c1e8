"""Build once, run many: one compiled ``cpp_standalone`` stream, rerun with new values.

A :class:`StreamSession` builds the stream of a configuration and compiles it once; every
:meth:`StreamSession.run` then starts the compiled binary again (Brian2's
``device.run(run_args=...)``) with

* a new **noise realisation**: the cortical Poisson background redrawn from another seed
  while the network, the stimulus and the LGN spikes stay those of the master seed
  (``run.noise_seed`` of the configuration), and/or
* **projection weights** multiplied by a factor per thalamic or inter-areal projection
  (``stream.projections``), with each projection's balancing DC scaled with it, so the
  projection stays balanced at its source's baseline rate as in a fresh build.

and writes one HDF5 file per run in the format of ``ventral-columns run``. Nothing is
regenerated or recompiled between runs: the cost of a run after the first build is the
simulation loop plus loading the connectivity, reading the monitors and writing the file
(``StreamSession.records`` gives each run's split; ``bench/bench_session.py`` measures it).
A run equals, spike for spike, a fresh :func:`circuits.run.run_stream` of the configuration
with the same ``run.noise_seed`` (``tests/test_session.py``).

What needs a new build instead: another master seed (the connectivity), another stimulus
(Brian2 keeps a ``SpikeGeneratorGroup``'s spikes read-only at run time) or any structural key.

Examples
--------
>>> from circuits.config import resolve_config
>>> cfg = resolve_config({"run": {"device": "cpp_standalone"}})      # doctest: +SKIP
>>> with StreamSession(cfg) as session:                             # doctest: +SKIP
...     for k in (1, 2, 3):
...         session.run(f"noise{k}.h5", noise_seed=k)
...     session.run("shortcut_half.h5", weight_scale={"lgn_to_v1_l5_exc": 0.5})
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import amp, second

from analysis.errors import ConfigError, suggest
from analysis.hdf5_io import SpikeFileWriter
from analysis.outputs import check_output_path
from circuits.params import DEFAULT_STREAM, VentralStreamParams
from circuits.run import (
    NOISE_SEED_ENV,
    _check_guards,
    build_stream,
    prepare_run,
    standalone_spikes,
    write_run_results,
)
from circuits.simulate import last_standalone_loop_s, omp_wait_policy, order_clock_resets, reset_device, run_seeds
from columns.column import _holder, _offset

__all__ = ["StreamSession"]

logger = logging.getLogger(__name__)


class StreamSession:
    """One compiled ``cpp_standalone`` stream, run many times with new noise seeds or weights.

    Parameters
    ----------
    cfg : dict
        Resolved configuration (:func:`circuits.config.resolve_config`) with
        ``run.device = "cpp_standalone"``.
    base : VentralStreamParams
        Parameters the configuration modifies.

    Attributes
    ----------
    build_time, compile_time : float
        Wall time of building the network in Python and of generating + compiling the
        binary, s (paid once).
    records : list of dict
        One per finished run: ``path``, ``seeds``, ``weight_scale``, ``binary_s`` (the binary
        from start to exit: loading the connectivity, the loop, saving the results),
        ``loop_s`` (Brian2's own measure of the simulation loop), ``write_s`` (reading the
        monitors and writing the file), ``wall_s`` and ``overhead_s`` = ``wall_s - loop_s``.

    Notes
    -----
    Use as a context manager (or call :meth:`close`): the session holds the lock of its
    build directory and Brian2's device until it is closed.
    """

    def __init__(self, cfg: dict[str, Any], *, base: VentralStreamParams = DEFAULT_STREAM) -> None:
        if cfg["run"]["device"] != "cpp_standalone":
            raise ConfigError(
                f"run.device: a session reruns a compiled binary and needs 'cpp_standalone', got {cfg['run']['device']!r}"
            )
        from brian2 import device

        self.cfg = cfg
        self.records: list[dict[str, Any]] = []
        self._device = device
        self._stack = contextlib.ExitStack()
        try:
            t0 = time.perf_counter()
            self.prepared = prepare_run(cfg)
            self.built = build_stream(cfg, self.prepared, self._stack, base=base)
            self.built.stream.network.run(self.prepared.protocol.duration * second)
            order_clock_resets(self.built.stream.network)
            self.build_time = time.perf_counter() - t0
            t0 = time.perf_counter()
            device.build(directory=str(self.built.build_dir), compile=True, run=False, with_output=False)
            self.compile_time = time.perf_counter() - t0
        except BaseException:
            self.close()
            raise
        logger.info("session: built in %.1f s, compiled in %.1f s (%s)", self.build_time, self.compile_time,
                    self.built.build_dir)

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> StreamSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the build directory and return Brian2 to the runtime device."""
        try:
            reset_device()
        finally:
            self._stack.close()

    # -- runs ------------------------------------------------------------------------------
    @property
    def projections(self) -> list[str]:
        """Names of the projections :meth:`run` can rescale (``weight_scale`` keys)."""
        return sorted(self.built.stream.projections)

    def shortcut_weight_scale(self, value: float) -> dict[str, float]:
        """The ``weight_scale`` that turns the built ``stream.shortcut_scale`` into ``value``.

        Every shortcut projection (LGN → V1 L5 and L5 → L5 of the next station) scaled by
        ``value / built value``: the network of a fresh build with ``stream.shortcut_scale =
        value`` (equal to rounding; exact for powers of two). Empty for the hierarchical
        variants, which ignore the key.

        Raises
        ------
        ConfigError
            ``value`` < 0, or a nonzero ``value`` from a session built with ``shortcut_scale = 0``.
        """
        from circuits.ventral_stream import _shortcut_factor

        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"stream.shortcut_scale must be a finite number >= 0, got {value!r}")
        params = self.built.params
        if params.variant in ("hierarchical", "hierarchical_rate_matched"):
            return {}
        built = _shortcut_factor(params)
        if built == 0:
            if value == 0:
                return {}
            raise ConfigError("stream.shortcut_scale: a session built with shortcut_scale = 0 cannot scale the "
                              "shortcut up; build it with the largest value of the sweep")
        return {name: value / built for name, syn in self.built.stream.projections.items() if syn._vc_shortcut}

    def _weight_run_args(self, weight_scale: Mapping[str, float]) -> dict[Any, Any]:
        """``run_args`` that scale each projection's weights and its balancing DC."""
        projections = self.built.stream.projections
        args: dict[Any, Any] = {}
        dc_delta: dict[str, tuple[Any, Any, np.ndarray]] = {}
        for name, factor in weight_scale.items():
            if name not in projections:
                raise ConfigError(f"weight_scale: unknown projection {name!r}{suggest(name, list(projections))}")
            factor = float(factor)
            if not math.isfinite(factor) or factor < 0:
                raise ConfigError(f"weight_scale[{name!r}] must be a finite number >= 0, got {factor!r}")
            syn = projections[name]
            args[syn.w] = syn._vc_weights * factor
            column, target, dc = syn._vc_balance
            group = column.population(target)
            holder = _holder(group)
            _, _, delta = dc_delta.setdefault(holder.name, (holder, column, np.zeros(len(holder))))
            start = _offset(group)
            delta[start:start + len(group)] += (factor - 1.0) * np.asarray(dc / amp, float)
        for holder, column, delta in dc_delta.values():
            current = np.zeros(len(holder))
            for group in column.populations.values():
                if _holder(group) is holder:
                    current[_offset(group):_offset(group) + len(group)] = group._dc_values
            args[holder.I_dc] = (current + delta) * amp
        return args

    def run(
        self,
        out: str | os.PathLike[str],
        *,
        noise_seed: int | None = None,
        shortcut_scale: float | None = None,
        weight_scale: Mapping[str, float] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Run the compiled binary once and write one HDF5 file.

        Parameters
        ----------
        out : path
            Output file (written under a temporary name, renamed when complete).
        noise_seed : int, optional
            Noise realisation k > 0 of the cortical Poisson background, or 0 for the master
            seed's own background; default the configuration's ``run.noise_seed``.
        shortcut_scale : float, optional
            ``stream.shortcut_scale`` of this run (:meth:`shortcut_weight_scale`); stored
            in the file's configuration.
        weight_scale : mapping of str to float, optional
            Factor (>= 0) on the weights of each named projection (:attr:`projections`),
            relative to the built network; its balancing DC is scaled with it.
        overwrite : bool
            Replace an existing output.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        ConfigError, OutputExistsError
            Before the binary runs.
        RunawayError
            A population exploded or fell silent (no file is written).
        """
        t_begin = time.perf_counter()
        check_output_path(out, overwrite)
        seeds = dict(self.prepared.seeds)
        cfg = copy.deepcopy(self.cfg)
        if noise_seed is not None:
            if int(noise_seed) != noise_seed or noise_seed < 0:
                raise ConfigError(f"noise_seed must be a non-negative integer, got {noise_seed!r}")
            seeds = run_seeds(seeds["master"], int(noise_seed))
            cfg["run"]["noise_seed"] = int(noise_seed)
        weight_scale = dict(weight_scale or {})
        if shortcut_scale is not None:
            for name, factor in self.shortcut_weight_scale(shortcut_scale).items():
                weight_scale[name] = weight_scale.get(name, 1.0) * factor
            cfg["stream"]["shortcut_scale"] = float(shortcut_scale)
        run_args = self._weight_run_args(weight_scale)
        stream, duration = self.built.stream, self.prepared.protocol.duration
        t0 = time.perf_counter()
        # device.run hands the binary this dict over the process environment
        self._device.run_environment_variables[NOISE_SEED_ENV] = str(seeds["background"])
        with omp_wait_policy(self.cfg["run"]["omp_wait_policy"]):
            self._device.run(directory=str(self.built.build_dir), with_output=False, run_args=run_args)
        binary = time.perf_counter() - t0
        loop = last_standalone_loop_s()
        t0 = time.perf_counter()
        spikes = standalone_spikes(stream, duration)
        _check_guards(cfg, spikes, self.built.silenced)
        writer = SpikeFileWriter(out, overwrite=overwrite, keep_partial=False)
        with writer:
            for st in self.prepared.lgn_spikes.values():
                writer.write_spiketrains(st)
            for name, st in spikes.items():
                writer.add_population(name, st.n_nodes)
                writer.append(name, st.node_ids, st.times)
                writer.set_window(name, 0.0, duration)
            write_run_results(
                writer, self.built, cfg, self.prepared, seeds,
                {"build": self.build_time if not self.records else 0.0,
                 "compile": self.compile_time if not self.records else 0.0,
                 "simulate": binary},
                derived={"weight_scale": weight_scale, "session_run": len(self.records)},
            )
        write = time.perf_counter() - t0
        wall = time.perf_counter() - t_begin
        record = {"path": str(out), "seeds": seeds, "weight_scale": weight_scale, "binary_s": binary,
                  "loop_s": loop, "write_s": write, "wall_s": wall, "overhead_s": wall - loop}
        self.records.append(record)
        logger.info("session run %d (%s): loop %.2f s, overhead %.2f s", len(self.records), Path(out).name, loop,
                    wall - loop)
        return Path(out)
