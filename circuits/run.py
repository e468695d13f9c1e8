"""Run the ventral stream from a resolved configuration and write one HDF5 file.

Functions
---------
stream_params_from_config
    The :class:`~circuits.params.VentralStreamParams` of a configuration.
protocol_from_config
    The stimulus :class:`~stimuli.protocols.Protocol` of a configuration.
prepare_run
    Seeds, protocol, LGN mosaic and LGN spikes: everything that does not depend on the
    topology variant (common random numbers).
run_stream
    Build, run (in chunks, with progress and guards) and write the output file.
RunawayError
    A population's rate exploded or went silent; the run stopped early.

The data flow is DESIGN §3's: protocol → movie → LGN rates → LGN spikes → stream (built
once) → monitors → SpikeRecord arrays → HDF5 (streamed per chunk on the runtime device).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, Synapses, amp, second
from tqdm import tqdm

from analysis.errors import ConfigError, VentralColumnsError
from analysis.hdf5_io import SpikeFileWriter
from analysis.outputs import check_output_path
from analysis.provenance import collect_provenance
from analysis.spiketrains import SpikeTrains
from circuits.config import get_si, parse_quantity
from circuits.params import DEFAULT_STREAM, VentralStreamParams
from circuits.recording import epoch_charges, lgn_spike_arrays, monitor_spikes
from circuits.simulate import (
    configure_device,
    default_build_root,
    device_label,
    run_seeds,
    seed_brian,
)
from circuits.ventral_stream import VentralStream, build_ventral_stream
from stimuli import params as lgn_presets
from stimuli.lgn import LGNMosaic, build_lgn_mosaic
from stimuli.protocols import (
    Protocol,
    blank_protocol,
    context_protocol,
    edge_protocol,
    natural_image_protocol,
    orientation_tuning_protocol,
    sparse_noise_protocol,
    variability_protocol,
)
from stimuli.spike_generation import generate_lgn_spikes, lgn_node_tables

__all__ = [
    "RunawayError",
    "PreparedRun",
    "stream_params_from_config",
    "protocol_from_config",
    "prepare_run",
    "BuiltStream",
    "build_stream",
    "write_run_results",
    "run_stream",
]

logger = logging.getLogger(__name__)

_LGN_PRESETS = {"macaque_parafoveal": "MACAQUE_PARAFOVEAL", "mouse": "MOUSE"}
_BLOCK_LESION = ("l4_exc", "l4_pv", "l23_exc", "l23_pv")


class RunawayError(VentralColumnsError):
    """A population's rate exceeded the bound or it fell silent; the run stopped early."""


def stream_params_from_config(cfg: dict[str, Any], base: VentralStreamParams = DEFAULT_STREAM) -> VentralStreamParams:
    """Topology, scale and per-station settings of a resolved configuration."""
    wanted = cfg["stream"]["stations"]
    stations = tuple(s for s in base.stations if s.name in wanted)
    # the base's per-station scales (calibrated defaults) are kept; the configuration multiplies them
    background = {k: v for k, v in base.background_scale.items() if k in wanted}
    for manip in cfg.get("manipulation", []):
        if manip["kind"] == "background_scale":
            for st in manip["stations"]:
                background[st] = background.get(st, 1.0) * manip["value"]
    scale = cfg["stream"]["background_scale"]
    if scale != 1.0:
        for st in wanted:
            background[st] = background.get(st, 1.0) * scale
    column = base.column
    if column.background.sampler != cfg["run"]["background_sampler"]:
        column = dataclasses.replace(column, background=dataclasses.replace(column.background,
                                                                            sampler=cfg["run"]["background_sampler"]))
    return dataclasses.replace(
        base,
        column=column,
        stations=stations,
        variant=cfg["stream"]["variant"],
        source=cfg["stream"]["source"],
        scale=cfg["run"]["scale"],
        shortcut_scale=cfg["stream"]["shortcut_scale"],
        background_scale=background,
    )


def protocol_from_config(cfg: dict[str, Any], seed: int) -> Protocol:
    """Build the configured stimulus protocol (stimulus seed from the master seed)."""
    s = cfg["stimulus"]
    common = {
        "frame_duration": get_si(cfg, "stimulus.frame_duration"),
        "field_size_deg": get_si(cfg, "lgn.field_size"),
        "deg_per_pixel": get_si(cfg, "lgn.deg_per_pixel"),
        "seed": int(seed),
    }
    duration, blank = get_si(cfg, "stimulus.duration"), get_si(cfg, "stimulus.blank")
    kind = s["protocol"]
    if kind == "orientation_tuning":
        return orientation_tuning_protocol(
            n_orientations=s["orientations"],
            phases_deg=[360.0 * k / s["phases"] for k in range(s["phases"])],
            contrasts=s["contrasts"],
            n_repeats=s["repeats"],
            spatial_frequency_cpd=get_si(cfg, "stimulus.spatial_frequency"),
            temporal_frequency_hz=get_si(cfg, "stimulus.temporal_frequency"),
            duration=duration,
            blank=blank,
            **common,
        )
    if kind == "edges":
        return edge_protocol(
            n_orientations=s["orientations"],
            polarities=s["polarities"],
            positions_deg=[parse_quantity(p, "angle", "stimulus.positions") for p in s["positions"]],
            contrast=max(s["contrasts"]),
            n_repeats=s["repeats"],
            duration=duration,
            blank=blank,
            **common,
        )
    if kind == "context":
        return context_protocol(
            n_orientations=s["orientations"],
            phases_deg=[360.0 * k / s["phases"] for k in range(s["phases"])],
            n_repeats=s["repeats"],
            spatial_frequency_cpd=get_si(cfg, "stimulus.spatial_frequency"),
            center_diameter_deg=get_si(cfg, "stimulus.center_diameter"),
            duration=duration,
            blank=blank,
            **common,
        )
    if kind == "repeated":
        return variability_protocol(n_repeats=s["repeats"], duration=duration, blank=blank, **common)
    if kind == "sparse_noise":
        return sparse_noise_protocol(
            duration=duration,
            trial_duration=get_si(cfg, "stimulus.trial_duration"),
            dot_size_deg=get_si(cfg, "stimulus.dot_size"),
            density=s["density"],
            contrast=max(s["contrasts"]),
            noise_frame_duration=get_si(cfg, "stimulus.noise_frame_duration"),
            **common,
        )
    if kind == "natural_images":
        return natural_image_protocol(
            n_images=s["n_images"], n_repeats=s["repeats"], rms_contrast=s["rms_contrast"], duration=duration,
            blank=blank, **common,
        )
    return blank_protocol(duration, **{k: v for k, v in common.items() if k != "seed"})


@dataclass
class PreparedRun:
    """Everything of a run that does not depend on the topology variant."""

    cfg: dict[str, Any]
    seeds: dict[str, int]
    protocol: Protocol
    mosaic: LGNMosaic
    lgn_spikes: dict[str, SpikeTrains]
    dt: float


def prepare_run(cfg: dict[str, Any]) -> PreparedRun:
    """Seeds, protocol, mosaic and LGN spikes of a resolved configuration.

    Two configurations that differ only in ``stream`` settings (variant, shortcut scale,
    source) get identical stimuli and LGN spikes: common random numbers across variants.
    """
    seeds = run_seeds(cfg["run"]["master_seed"], cfg["run"].get("noise_seed", 0))
    dt = get_si(cfg, "run.dt")
    protocol = protocol_from_config(cfg, seeds["stimulus"])
    preset = getattr(lgn_presets, _LGN_PRESETS[cfg["lgn"]["preset"]])
    # The mosaic is anatomy: it derives from the connectivity seed, like the cortical wiring.
    mosaic_seed = np.random.SeedSequence([seeds["connectivity"], 0x16A])
    mosaic = build_lgn_mosaic(preset, get_si(cfg, "lgn.field_size"), mosaic_seed)
    lgn_spikes = generate_lgn_spikes(protocol, mosaic, seed=seeds["lgn_spikes"], dt=dt)
    return PreparedRun(cfg, seeds, protocol, mosaic, lgn_spikes, dt)


def draw_epoch_gains(
    seed: int, manipulations: Sequence[dict[str, Any]], n_epochs: int
) -> dict[int, list[tuple[str, np.ndarray]]]:
    """The per-epoch gains of every ``gain_noise`` manipulation: ``{index: [(station, gains)]}``.

    One gain per epoch and station, ``max(0, N(1, value))`` — trial-wise multiplicative
    noise (Goris et al. 2014) — drawn from one generator seeded with the run's
    ``trial_noise`` seed, in configuration order. The one rule both the run and the
    analyses that need the gains of a run (or of a run that was not made) use.
    """
    rng = np.random.default_rng(seed)
    out: dict[int, list[tuple[str, np.ndarray]]] = {}
    for k, manip in enumerate(manipulations):
        if manip["kind"] == "gain_noise":
            out[k] = [(station, np.maximum(0.0, rng.normal(1.0, manip["value"], n_epochs)))
                      for station in manip["stations"]]
    return out


def _gain_timelines(cfg: dict[str, Any], protocol: Protocol, seeds: dict[str, int]) -> dict[str, tuple[Quantity, np.ndarray]]:
    """Piecewise-constant gains on I_ff per population, at the frame resolution."""
    frame = protocol.frame_duration
    n_frames = protocol.n_frames
    starts = np.asarray(protocol.epoch_start_frames)
    epoch_of_frame = np.searchsorted(starts, np.arange(n_frames), side="right") - 1
    manipulations = cfg.get("manipulation", [])
    drawn = draw_epoch_gains(seeds["trial_noise"], manipulations, starts.size)
    timelines: dict[str, np.ndarray] = {}
    t_frame = np.arange(n_frames) * frame
    for k, manip in enumerate(manipulations):
        start = parse_quantity(manip["start"], "time", "manipulation.start")
        stop = parse_quantity(manip["stop"], "time", "manipulation.stop")
        window = (t_frame >= start) & (t_frame < stop)
        if manip["kind"] == "gain_noise":
            targets = ("l4_exc", "l4_pv", "l5_exc", "l5_pv")
            for station, per_epoch in drawn[k]:
                for pop in targets:
                    line = timelines.setdefault(f"{station}_{pop}", np.ones(n_frames))
                    line *= np.where(window, per_epoch[epoch_of_frame], 1.0)
        elif manip["kind"] == "top_down_gain":
            for station in manip["stations"]:
                line = timelines.setdefault(f"{station}_l5_exc", np.ones(n_frames))
                line *= np.where(window, manip["value"], 1.0)
    return {pop: (frame * second, values) for pop, values in timelines.items()}


def stream_hooks(cfg: dict[str, Any], params: VentralStreamParams, gain_populations: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The manipulation hooks each station of a configuration needs (see ``build_ventral_stream``).

    ``"silence"`` for the stations a ``silence`` or ``block_lesion`` manipulation names,
    ``"tonic"`` for ``tonic_drive`` manipulations and ``stream.l5_tonic_drive``, ``"gain"``
    for the stations of ``gain_populations`` (``{station}_{population}`` names of the gain
    timelines). Every other station is built without hooks: same spikes, less state per step.
    """
    need: dict[str, set[str]] = {}
    for manip in cfg.get("manipulation", []):
        hook = {"silence": "silence", "block_lesion": "silence", "tonic_drive": "tonic"}.get(manip["kind"])
        if hook is not None:
            for station in manip["stations"]:
                need.setdefault(station, set()).add(hook)
    for station in params.l5_tonic_drive:
        need.setdefault(station, set()).add("tonic")
    for population in gain_populations:
        need.setdefault(population.partition("_")[0], set()).add("gain")
    return {station: tuple(sorted(hooks)) for station, hooks in sorted(need.items())}


def _synapses_by_source(stream: VentralStream) -> dict[str, int]:
    """Synapse count per presynaptic population (every pathway): spikes × this = delivered events.

    Intra-column pathways are counted through their :class:`columns.column.PathwaySynapses`
    views (a merged ``Synapses`` has a whole group of populations as its source).
    """
    out: dict[str, int] = {}
    merged = set()
    for station in stream.stations.values():
        for view in station.column.synapses.values():
            out[view.source.name] = out.get(view.source.name, 0) + len(view)
        merged.update(id(obj) for obj in station.column.synapse_objects)
    for obj in stream.network.objects:
        if isinstance(obj, Synapses) and id(obj) not in merged:
            out[obj.source.name] = out.get(obj.source.name, 0) + int(len(obj))
    return out


def _trial_gains(cfg: dict[str, Any], protocol: Protocol, gains: dict[str, tuple[Quantity, np.ndarray]]) -> dict[str, np.ndarray]:
    """``ff_gain_<station>``: the feedforward gain injected at each epoch's onset (``gain_noise`` stations).

    Stored in ``/trials`` so that noise-transfer analyses read the injected gains instead
    of re-deriving them from the seed.
    """
    stations = sorted({st for m in cfg.get("manipulation", []) if m["kind"] == "gain_noise" for st in m["stations"]})
    onsets = np.asarray(protocol.epoch_start_frames)
    return {f"ff_gain_{st}": np.asarray(gains[f"{st}_l4_exc"][1], float)[onsets] for st in stations
            if f"{st}_l4_exc" in gains}


def _apply_manipulations(stream: VentralStream, cfg: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Silencing windows and tonic drives; returns the silenced windows per population (s)."""
    silenced: dict[str, tuple[float, float]] = {}
    for k, manip in enumerate(cfg.get("manipulation", [])):
        start = parse_quantity(manip["start"], "time", f"manipulation[{k}].start")
        stop = parse_quantity(manip["stop"], "time", f"manipulation[{k}].stop")
        kind = manip["kind"]
        if kind in ("silence", "block_lesion"):
            pops = _BLOCK_LESION if kind == "block_lesion" else manip["populations"]
            for station in manip["stations"]:
                for pop in pops:
                    name = f"{station}_{pop}"
                    if name in silenced:
                        raise ConfigError(f"manipulation[{k}]: {name} is already silenced; one silencing window per population")
                    stop_q = min(stop, 1e9)  # 'inf' means to the end of the run
                    stream.stations[station].column.silence(pop, start * second, stop_q * second)
                    silenced[name] = (start, stop)
        elif kind == "tonic_drive":
            current = parse_quantity(manip["current"], "current", f"manipulation[{k}].current")
            for station in manip["stations"]:
                for pop in manip["populations"]:
                    stream.stations[station].column.set_tonic_drive(pop, current * amp)
    return silenced


@contextlib.contextmanager
def _standalone_directory(params: VentralStreamParams, cfg: dict[str, Any], gain_populations: list[str],
                          hooks: dict[str, tuple[str, ...]]):
    """A build directory per network structure, locked while in use.

    Reusing the directory of the same structure lets ``make`` recompile only what changed
    (a new process regenerates identical sources for an identical structure: about 13 s
    instead of about a minute per station). Concurrent runs of one structure (a sweep's
    workers) take the next free slot.
    """
    structure = {
        "stations": [s.name for s in params.stations],
        "source": params.stream_source,  # transthalamic builds the relay whatever `source` says
        "dense": params.variant == "dense",
        "scale": params.scale,
        "charges": cfg["recording"]["currents_sample"],
        "gains": gain_populations,
        # conditions with other manipulations generate other neuron code: a directory each,
        # so that alternating conditions do not recompile each other
        "hooks": hooks,
        "sampler": cfg["run"]["background_sampler"],
        "n_channels": params.n_channels,
        # a directory last built for another thread count gave wrong rates (issue #4 notes)
        "threads": cfg["run"]["threads"],
    }
    key = hashlib.sha1(json.dumps(structure, sort_keys=True).encode()).hexdigest()[:10]
    root = default_build_root()
    root.mkdir(parents=True, exist_ok=True)
    for slot in range(64):
        directory = root / f"stream_{key}_{slot}"
        handle = open(root / f"stream_{key}_{slot}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield directory
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise VentralColumnsError(f"all 64 standalone build slots of structure {key} in {root} are busy")


#: Standalone stores the LGN spike arrays with their length in the generated sources;
#: rounding the length up keeps the sources identical across seeds and variants, so that a
#: new run of the same structure recompiles almost nothing. The smallest bucket:
_SPIKE_BUCKET = 1 << 16


def _padded_length(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`_SPIKE_BUCKET` and of a quarter of the power of two below it.

    Relative steps of 1/8 to 1/4: the spike counts of two seeds of one protocol (a few per
    cent apart) mostly share a length; the padding costs at most a quarter more memory.

    Examples
    --------
    >>> _padded_length(1), _padded_length(1 << 16), _padded_length(1_900_000), _padded_length(2_000_000)
    (65536, 65536, 2097152, 2097152)
    """
    step = max(_SPIKE_BUCKET, (1 << max(int(n).bit_length() - 1, 0)) // 4)
    return -(-int(n) // step) * step


def _pad_spikes(indices: np.ndarray, times: np.ndarray, n_cells: int, duration: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Pad spike arrays to :func:`_padded_length` with spikes after the run's end.

    The padding spikes (one per cell and time step, starting two steps after ``duration``)
    are never emitted: the simulation stops before them.
    """
    n_pad = _padded_length(indices.size) - indices.size
    k = np.arange(n_pad)
    pad_idx = k % n_cells
    pad_t = duration + (2 + k // n_cells) * dt
    return np.concatenate([indices, pad_idx]), np.concatenate([times, pad_t])


def _check_guards(
    cfg: dict[str, Any], spikes: dict[str, SpikeTrains], silenced: dict[str, tuple[float, float]]
) -> None:
    max_rate = get_si(cfg, "run.max_rate")
    for name, st in spikes.items():
        if st.duration <= 0:
            continue
        rate = st.n_spikes / (st.n_nodes * st.duration)
        if rate > max_rate:
            raise RunawayError(
                f"{name} fired at {rate:.1f} spikes/s in [{st.t_start:.3f}, {st.t_stop:.3f}] s, above run.max_rate "
                f"= {max_rate:g} Hz; stopped early (raise run.max_rate if this is intended)"
            )
        window = silenced.get(name)
        overlaps = window is not None and window[0] < st.t_stop and window[1] > st.t_start
        if cfg["run"]["silence_guard"] and st.n_spikes == 0 and st.duration >= 0.5 and not overlaps:
            raise RunawayError(
                f"{name} fired no spike in [{st.t_start:.3f}, {st.t_stop:.3f}] s; stopped early "
                f"(set run.silence_guard = false if this is intended)"
            )


@dataclass
class BuiltStream:
    """A stream built on the active Brian2 device and ready to run.

    Shared by :func:`run_stream` (one run) and :class:`circuits.session.StreamSession`
    (one build, many runs of the compiled binary).
    """

    stream: VentralStream
    params: VentralStreamParams
    gains: dict[str, tuple[Quantity, np.ndarray]]
    silenced: dict[str, tuple[float, float]]
    build_dir: Path | None
    build_time: float


#: Environment variable read by every standalone binary of the stream: its background seed.
NOISE_SEED_ENV = "VENTRAL_COLUMNS_BACKGROUND_SEED"


def _noise_seed_code(n_generators: int) -> str:
    # Brian2 writes the seed as a literal into main.cpp, so every new seed recompiled it
    # (about 25 s at scale 1). The binary seeds from the environment instead, exactly as
    # Brian2 seeds (generator k gets seed + k): the spikes equal those of the literal seed,
    # and runs of one structure share one main.cpp. It refuses to run without the seed.
    return (
        "{\n"
        f"    const char* _vc_seed = getenv(\"{NOISE_SEED_ENV}\");\n"
        "    if (_vc_seed == NULL) {\n"
        f"        std::cerr << \"{NOISE_SEED_ENV} is not set (the background seed of the run)\" << std::endl;\n"
        "        return 2;\n"
        "    }\n"
        "    const unsigned long _vc_value = strtoul(_vc_seed, NULL, 10);\n"
        f"    for (int _i=0; _i<{n_generators}; _i++)\n"
        "        brian::_random_generators[_i].seed(_vc_value + _i);\n"
        "}"
    )


def build_stream(
    cfg: dict[str, Any],
    prepared: PreparedRun,
    stack: contextlib.ExitStack,
    *,
    base: VentralStreamParams = DEFAULT_STREAM,
) -> BuiltStream:
    """Select the device and build the stream of a configuration (no simulation).

    Parameters
    ----------
    cfg : dict
        Resolved configuration.
    prepared : PreparedRun
        Seeds, protocol, mosaic and LGN spikes (:func:`prepare_run`).
    stack : contextlib.ExitStack
        Holds the standalone build directory's lock for as long as the stack is open.
    base : VentralStreamParams
        Parameters the configuration modifies.

    Notes
    -----
    On ``cpp_standalone`` the binary takes its background seed from the environment
    (:data:`NOISE_SEED_ENV`, set for ``device.run``), so that main.cpp does not depend on
    the seed and a run of an existing structure recompiles nothing.
    """
    t0 = time.perf_counter()
    seeds, protocol, mosaic = prepared.seeds, prepared.protocol, prepared.mosaic
    device = cfg["run"]["device"]
    threads = cfg["run"]["threads"]
    params = stream_params_from_config(cfg, base)
    gains = _gain_timelines(cfg, protocol, seeds)
    hooks = stream_hooks(cfg, params, sorted(gains))
    build_dir = None
    if threads > 1:
        # measured at scale 0.5-2 on 2 cores: 2 threads 1.7-3.3x slower than 1 (docs/stream.md, "Threads")
        logger.warning("run.threads = %d: this stream runs slower on several OpenMP threads than on one "
                       "(about 200 small code objects per step); give other cores other runs instead "
                       "(`ventral-columns experiment|sweep --workers N`)", threads)
    if device == "cpp_standalone":
        build_dir = stack.enter_context(_standalone_directory(params, cfg, sorted(gains), hooks))
    configure_device(device, target=cfg["run"]["codegen_target"], threads=threads, directory=build_dir,
                     dt=prepared.dt * second)
    if device == "cpp_standalone":
        from brian2 import device as brian_device

        brian_device.insert_code("main", _noise_seed_code(threads))
        # every start of the binary (device.run) gets it; a session sets its own per run
        brian_device.run_environment_variables[NOISE_SEED_ENV] = str(seeds["background"])
    else:
        seed_brian(seeds["background"])
    stream = build_ventral_stream(
        params, mosaic, seeds,
        charge_sample=cfg["recording"]["currents_sample"],
        charge_dt=protocol.frame_duration * second,
        gain_timelines=gains,
        hooks=hooks,
    )
    silenced = _apply_manipulations(stream, cfg)
    indices, times = lgn_spike_arrays(prepared.lgn_spikes, mosaic)
    if device == "cpp_standalone":
        indices, times = _pad_spikes(indices, times, mosaic.n_cells, protocol.duration, prepared.dt)
    stream.lgn.set_spikes(indices, times * second)
    return BuiltStream(stream, params, gains, silenced, build_dir, time.perf_counter() - t0)


def write_run_results(
    writer: SpikeFileWriter,
    built: BuiltStream,
    cfg: dict[str, Any],
    prepared: PreparedRun,
    seeds: dict[str, int],
    wall_time_s: dict[str, float],
    derived: dict[str, Any] | None = None,
) -> None:
    """Everything of a finished run but the spikes: nodes, trials, stimulus, charges, config, provenance.

    ``derived`` adds entries to the stored configuration's ``derived`` table.
    """
    stream, protocol, mosaic = built.stream, prepared.protocol, prepared.mosaic
    for pop, table in lgn_node_tables(mosaic).items():
        writer.write_nodes(pop, table)
    for name in stream.populations:
        writer.write_nodes(name, stream.node_table(name))
    trials = protocol.trials_table()
    trials.update(_trial_gains(cfg, protocol, built.gains))
    writer.write_trials(trials)
    # The noise patterns themselves (not only their seed): RF mapping needs no rebuild.
    writer.write_stimulus({"protocol": protocol.describe(), "lgn_mosaic": mosaic.describe()},
                          arrays=protocol.noise_arrays())
    starts, stops = np.asarray(trials["start"], float), np.asarray(trials["stop"], float)
    for name, monitor in stream.charge_monitors.items():
        sample = stream.charge_sample[name]
        table = {"node_ids": sample, **epoch_charges(monitor, stream.group(name), sample, starts, stops)}
        writer.write_currents(name, table)
    resolved = dict(cfg)
    resolved["derived"] = {
        "sizes": {name: len(stream.group(name)) for name in stream.populations},
        "lgn_cells": {pop: mosaic.n_nodes(pop) for pop in mosaic.populations},
        "wiring": stream.wiring_stats,
        "projections": {name: int(len(syn)) for name, syn in stream.projections.items()},
        "synapses_by_source": _synapses_by_source(stream),
        **(derived or {}),
    }
    writer.write_config(resolved)
    writer.write_provenance(
        collect_provenance(
            seeds=seeds,
            device=device_label(cfg["run"]["device"], cfg["run"]["codegen_target"]),
            threads=cfg["run"]["threads"],
            biological_time_s=protocol.duration,
            wall_time_s=wall_time_s,
            variant=built.params.variant,
        )
    )


def run_stream(
    cfg: dict[str, Any],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    prepared: PreparedRun | None = None,
    base: VentralStreamParams = DEFAULT_STREAM,
    keep_partial: bool = True,
) -> Path:
    """Build and run the stream of a resolved configuration; write one HDF5 file.

    Parameters
    ----------
    cfg : dict
        Resolved configuration (:func:`circuits.config.resolve_config`).
    out : path
        Output file. Written under a temporary name and renamed when complete; an
        interrupted or failed run is kept as ``<name>.partial.h5`` when ``keep_partial``.
    overwrite : bool
        Replace an existing output.
    prepared : PreparedRun, optional
        Reuse the variant-independent part (protocol, LGN spikes) of another run.
    base : VentralStreamParams
        Parameters the configuration modifies (calibrated defaults).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ConfigError, OutputExistsError
        Before anything runs.
    RunawayError
        A population exploded or fell silent (the partial file keeps what ran).
    """
    t_begin = time.perf_counter()
    check_output_path(out, overwrite)  # fail before any work, not after it
    prepared = prepared or prepare_run(cfg)
    writer = SpikeFileWriter(out, overwrite=overwrite, keep_partial=keep_partial)
    with writer, contextlib.ExitStack() as stack:
        t_prepared = time.perf_counter()
        built = build_stream(cfg, prepared, stack, base=base)
        build_time = built.build_time + (t_prepared - t_begin)
        for st in prepared.lgn_spikes.values():
            writer.write_spiketrains(st)
        for name in built.stream.populations:
            writer.add_population(name, len(built.stream.group(name)))
        compile_time, simulate_time = _simulate(built.stream, cfg, writer, prepared.protocol.duration, built.silenced,
                                                built.build_dir)
        write_run_results(writer, built, cfg, prepared, prepared.seeds,
                          {"build": build_time, "compile": compile_time, "simulate": simulate_time})
    return Path(out)


def standalone_spikes(stream: VentralStream, duration: float) -> dict[str, SpikeTrains]:
    """Every cortical population's spikes after a standalone run of ``duration`` s."""
    return {name: monitor_spikes(stream.spike_monitors[name], name, len(stream.group(name)), 0.0, duration)
            for name in stream.populations}


def _simulate(
    stream: VentralStream,
    cfg: dict[str, Any],
    writer: SpikeFileWriter,
    duration: float,
    silenced: dict[str, tuple[float, float]],
    build_dir: Path | None,
) -> tuple[float, float]:
    """Run the network; on the runtime device in chunks that are written and checked as they finish."""
    net = stream.network
    sizes = {name: len(stream.group(name)) for name in stream.populations}
    if cfg["run"]["device"] == "cpp_standalone":
        from circuits.simulate import omp_wait_policy, run_network

        with omp_wait_policy(cfg["run"]["omp_wait_policy"]):
            timings = run_network(net, duration * second, directory=build_dir)
        spikes = standalone_spikes(stream, duration)
        for name, st in spikes.items():
            writer.append(name, st.node_ids, st.times)
            writer.set_window(name, 0.0, duration)
        _check_guards(cfg, spikes, silenced)
        return timings.compile, timings.simulate
    chunk = get_si(cfg, "run.chunk")
    n_chunks = max(1, math.ceil(duration / chunk - 1e-9))
    written = {name: 0 for name in stream.populations}
    compile_time = simulate_time = 0.0
    dt = get_si(cfg, "run.dt")
    bar = tqdm(total=duration, unit="s bio", disable=not cfg["run"]["progress"], desc=f"{stream.params.variant}")
    t_now = 0.0
    try:
        for k in range(n_chunks):
            t_next = min(duration, (k + 1) * chunk)
            t0 = time.perf_counter()
            if k == 0:
                # the first step generates and compiles the code: timed apart from the simulation
                net.run(dt * second)
                compile_time = time.perf_counter() - t0
                t0 = time.perf_counter()
                net.run((t_next - t_now - dt) * second)
            else:
                net.run((t_next - t_now) * second)
            simulate_time += time.perf_counter() - t0
            spikes = {}
            for name in stream.populations:
                mon = stream.spike_monitors[name]
                spikes[name] = monitor_spikes(mon, name, sizes[name], t_now, t_next, since=written[name])
                written[name] += spikes[name].n_spikes
                writer.append(name, spikes[name].node_ids, spikes[name].times)
            bar.update(t_next - t_now)
            t_now = t_next
            _check_guards(cfg, spikes, silenced)
    finally:
        bar.close()
        for name in stream.populations:
            writer.set_window(name, 0.0, t_now)
    return compile_time, simulate_time
