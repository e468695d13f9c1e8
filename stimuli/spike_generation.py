"""LGN spike trains: inhomogeneous Poisson generation from the LN rates, block by block.

Functions
---------
inhomogeneous_poisson
    Spikes of a piecewise-constant rate array, optionally with absolute refractoriness.
iter_lgn_spikes
    Stream ``{"lgn_on": SpikeTrains, "lgn_off": SpikeTrains}`` per block of frames.
generate_lgn_spikes
    The whole protocol as one :class:`analysis.spiketrains.SpikeTrains` per population.
lgn_node_tables
    ``{"lgn_on": table, "lgn_off": table}`` for ``/nodes``.

Notes
-----
For a rate that is constant within each bin, drawing a Poisson count per bin and placing
the spikes uniformly within the bin is an exact sample of the inhomogeneous Poisson
process. Absolute refractoriness deletes every spike that falls within ``refractory_s``
of the previous *kept* spike of the same cell; as the deleted events are independent of
the kept ones, the result is exactly the renewal process with hazard ``λ(t)`` outside the
dead time and 0 inside it (its rate is ``λ/(1 + λ τ)`` for a constant λ).

Counts and spike positions use two separate generators spawned from one seed, and counts
are drawn in time-major order, so the spikes do not depend on the block size.

References
----------
Dayan P., Abbott L.F. (2001) Theoretical Neuroscience, MIT Press, §1.4 (Poisson spike
generation, dead time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from analysis.errors import ConfigError
from analysis.spiketrains import SpikeTrains
from stimuli.lgn import POPULATIONS, LGNMosaic, default_time_step, iter_lgn_rates
from stimuli.movies import StimulusMovie, check_frame_duration
from stimuli.params import LGNParams
from stimuli.protocols import Protocol

__all__ = ["inhomogeneous_poisson", "iter_lgn_spikes", "generate_lgn_spikes", "lgn_node_tables",
           "apply_dead_time"]

logger = logging.getLogger(__name__)


def apply_dead_time(node_ids: np.ndarray, times: np.ndarray, dead_time: float,
                    last_times: np.ndarray | None = None) -> np.ndarray:
    """Mask of the spikes kept by a greedy absolute refractory period.

    Parameters
    ----------
    node_ids : numpy.ndarray
        Cell of each spike (int), any order.
    times : numpy.ndarray
        Spike times (float seconds or integer steps).
    dead_time : float
        A spike closer than this to the previous kept spike of its cell is deleted.
    last_times : numpy.ndarray, optional
        Time of the last kept spike of each cell before these spikes (``-inf`` = none).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for kept spikes, in the input order.

    Examples
    --------
    >>> apply_dead_time(np.array([0, 0, 0, 1]), np.array([0.0, 0.5, 1.2, 0.6]), 1.0).tolist()
    [True, False, True, True]
    """
    n = times.size
    keep_out = np.ones(n, dtype=bool)
    if n == 0 or dead_time <= 0:
        return keep_out
    ids = node_ids.astype(np.int64)
    t = times.astype(np.float64)
    pseudo = np.zeros(n, dtype=bool)
    if last_times is not None:
        cells = np.flatnonzero(np.isfinite(last_times))
        ids = np.concatenate([ids, cells])
        t = np.concatenate([t, last_times[cells]])
        pseudo = np.concatenate([pseudo, np.ones(cells.size, dtype=bool)])
    origin = np.concatenate([np.arange(n), np.full(ids.size - n, -1)])
    order = np.lexsort((~pseudo, t, ids))  # a carried spike sorts before a new one at the same time
    ids, t, origin = ids[order], t[order], origin[order]
    keep = np.ones(ids.size, dtype=bool)
    while True:
        idx = np.flatnonzero(keep)
        ci, ct = ids[idx], t[idx]
        violation = (ci[1:] == ci[:-1]) & (ct[1:] - ct[:-1] < dead_time)
        if not violation.any():
            break
        # the predecessor is surely kept when it does not itself violate
        predecessor_ok = np.ones(violation.size, dtype=bool)
        predecessor_ok[1:] = ~violation[:-1]
        keep[idx[1:][violation & predecessor_ok]] = False
    real = origin >= 0
    keep_out[origin[real]] = keep[real]
    return keep_out


class _PoissonState:
    """Generators and refractory memory carried across blocks."""

    def __init__(self, n_cells: int, seed: Any) -> None:
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**63))
        if isinstance(seed, np.random.SeedSequence):
            ss = seed
        elif isinstance(seed, (int, np.integer)) and seed >= 0:
            ss = np.random.SeedSequence(int(seed))
        else:
            raise ConfigError(f"seed must be a non-negative int, SeedSequence or Generator, got {seed!r}")
        counts_ss, times_ss = ss.spawn(2)
        self.counts_rng = np.random.default_rng(counts_ss)
        self.times_rng = np.random.default_rng(times_ss)
        self.last = np.full(n_cells, -np.inf)


def _poisson_block(rates: np.ndarray, time_step: float, t_start: float, state: _PoissonState,
                   refractory_s: float, dt: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of one block: (cell index int64, time float64), sorted by (time, cell)."""
    if rates.size and (not np.all(np.isfinite(rates)) or rates.min() < 0):
        raise ConfigError("rates must be finite and >= 0 Hz")
    n_cells, n_bins = rates.shape
    counts = state.counts_rng.poisson(rates.T * time_step)  # (n_bins, n_cells): time-major draws
    bins, cells = np.nonzero(counts)
    reps = counts[bins, cells]
    bins, cells = np.repeat(bins, reps), np.repeat(cells, reps)
    u = state.times_rng.random(bins.size)
    if dt is None:
        times = t_start + (bins + u) * time_step
        dead = refractory_s
        t_compare, last = times, state.last
    else:
        per = int(round(time_step / dt))
        steps = np.round(t_start / dt).astype(np.int64) + bins.astype(np.int64) * per + np.floor(u * per).astype(np.int64)
        times = steps * dt
        # at least one step apart, so no cell fires twice in one simulation step
        dead = max(1, int(np.ceil(refractory_s / dt - 1e-9)))
        t_compare = steps.astype(np.float64)
        last = state.last / dt
    if dead > 0 and times.size:
        keep = apply_dead_time(cells, t_compare, dead, last)
        cells, times, t_compare = cells[keep], times[keep], t_compare[keep]
    if dead > 0 and times.size:
        # the last kept spike of each cell (times are unsorted within cells here)
        latest = np.full(n_cells, -np.inf)
        np.maximum.at(latest, cells, times)
        state.last = np.maximum(state.last, latest)
    order = np.lexsort((cells, times))
    return cells[order].astype(np.int64), times[order]


def inhomogeneous_poisson(
    rates: np.ndarray,
    time_step: float,
    seed: Any = 0,
    population: str = "lgn_on",
    t_start: float = 0.0,
    refractory_s: float = 0.0,
    dt: float | None = None,
) -> SpikeTrains:
    """Spike trains of piecewise-constant rates.

    Parameters
    ----------
    rates : numpy.ndarray
        ``(n_nodes, n_bins)`` rates in Hz, constant within each bin.
    time_step : float
        Bin width, s.
    seed : int or numpy.random.SeedSequence
        Seed of this purpose (spawns one generator for counts and one for positions).
    population : str
        Name of the returned population.
    t_start : float
        Time of the first bin's start, s.
    refractory_s : float
        Absolute refractory period, s (0 = Poisson).
    dt : float, optional
        Simulation step, s: spike times are put on its grid and at least one step apart.

    Returns
    -------
    SpikeTrains
        Window ``[t_start, t_start + n_bins · time_step]``.

    Raises
    ------
    ConfigError
        Negative or non-finite rates, a non-positive time step, a negative refractory period.

    Examples
    --------
    >>> st = inhomogeneous_poisson(np.full((10, 1000), 20.0), 0.001, seed=1)
    >>> st.n_nodes, 100 < st.n_spikes < 300
    (10, True)
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2:
        raise ConfigError(f"rates must be 2-D (n_nodes, n_bins), got shape {rates.shape}")
    if not (np.isfinite(time_step) and time_step > 0):
        raise ConfigError(f"time_step must be > 0 s, got {time_step}")
    if not (np.isfinite(refractory_s) and refractory_s >= 0):
        raise ConfigError(f"refractory_s must be >= 0 s, got {refractory_s}")
    if dt is not None:
        check_frame_duration(time_step, dt)
    state = _PoissonState(rates.shape[0], seed)
    cells, times = _poisson_block(rates, time_step, t_start, state, refractory_s, dt)
    t_stop = t_start + rates.shape[1] * time_step
    return SpikeTrains(population, cells.astype(np.uint64), np.minimum(times, t_stop), rates.shape[0],
                       t_start, t_stop)


def _iter_raw_spikes(
    protocol: Protocol | StimulusMovie,
    mosaic: LGNMosaic,
    params: LGNParams | None,
    seed: Any,
    dt: float | None,
    block_frames: int,
    time_step: float | None,
    workers: int,
    progress: bool = False,
) -> Iterator[tuple[float, float, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """``(t0, t1, {pop: (node_ids uint32, times)})`` per block, unvalidated."""
    params = mosaic.params if params is None else params
    if dt is not None:
        check_frame_duration(protocol.frame_duration, dt)
    if time_step is None:
        time_step = default_time_step(protocol.frame_duration, dt)
    elif dt is not None:
        check_frame_duration(time_step, dt)
    refractory = params.spikes.refractory_s
    state = _PoissonState(mosaic.n_cells, seed)
    pop_of = np.where(mosaic.sign > 0, 0, 1)
    local = np.empty(mosaic.n_cells, dtype=np.int64)
    for k, pop in enumerate(POPULATIONS):
        idx = mosaic.population_indices(pop)
        local[idx] = np.arange(idx.size)
    total = protocol.duration
    for start_step, rates in iter_lgn_rates(protocol, mosaic, params, block_frames, time_step, workers,
                                            progress):
        t0 = start_step * time_step
        t1 = min((start_step + rates.shape[1]) * time_step, total)
        cells, times = _poisson_block(rates, time_step, t0, state, refractory, dt)
        times = np.clip(times, t0, t1)
        out = {}
        for k, pop in enumerate(POPULATIONS):
            sel = pop_of[cells] == k
            # uint32 node ids while streaming: 12 instead of 16 bytes per spike held
            out[pop] = (local[cells[sel]].astype(np.uint32), times[sel])
        yield t0, t1, out


def iter_lgn_spikes(
    protocol: Protocol | StimulusMovie,
    mosaic: LGNMosaic,
    params: LGNParams | None = None,
    seed: Any = 0,
    dt: float | None = None,
    block_frames: int = 100,
    time_step: float | None = None,
    workers: int = 1,
    progress: bool = False,
) -> Iterator[dict[str, SpikeTrains]]:
    """Stream LGN spikes: one ``{"lgn_on": ..., "lgn_off": ...}`` per block of frames.

    Each block's :class:`SpikeTrains` covers that block's time window; node ids are the
    population's (see :meth:`LGNMosaic.population_indices`). Arguments as in
    :func:`generate_lgn_spikes`.
    """
    n_nodes = {pop: mosaic.n_nodes(pop) for pop in POPULATIONS}
    for t0, t1, block in _iter_raw_spikes(protocol, mosaic, params, seed, dt, block_frames, time_step, workers,
                                          progress):
        yield {pop: SpikeTrains(pop, ids, times, n_nodes[pop], t0, t1) for pop, (ids, times) in block.items()}


def generate_lgn_spikes(
    protocol: Protocol | StimulusMovie,
    mosaic: LGNMosaic,
    params: LGNParams | None = None,
    seed: Any = 0,
    dt: float | None = None,
    block_frames: int = 100,
    time_step: float | None = None,
    workers: int = 1,
    progress: bool = False,
) -> dict[str, SpikeTrains]:
    """LGN spike trains of a whole protocol, filtered and generated block by block.

    Parameters
    ----------
    protocol : Protocol or StimulusMovie
    mosaic : LGNMosaic
    params : LGNParams, optional
        Default: ``mosaic.params`` (its ``spikes.refractory_s`` is used).
    seed : int or numpy.random.SeedSequence
        The LGN-spike seed (one purpose of the master seed).
    dt : float, optional
        Simulation step, s. The frame duration must be a whole multiple of it
        (:func:`stimuli.movies.check_frame_duration`); spike times then lie on its grid,
        at least one step apart per cell.
    block_frames : int
        Frames per block; memory is bounded by the block plus the spikes themselves.
    time_step : float, optional
        Rate time step, s (default :func:`stimuli.lgn.default_time_step`: ≤ 1 ms).
    workers : int
        FFT threads.
    progress : bool
        Show a tqdm progress bar over the blocks.

    Returns
    -------
    dict of str to SpikeTrains
        ``{"lgn_on": ..., "lgn_off": ...}``, window ``[0, protocol.duration]`` s.

    Raises
    ------
    ConfigError
        Frame duration not a multiple of ``dt``, or bad parameters.
    """
    ids_parts: dict[str, list[np.ndarray]] = {pop: [] for pop in POPULATIONS}
    times_parts: dict[str, list[np.ndarray]] = {pop: [] for pop in POPULATIONS}
    for _, _, block in _iter_raw_spikes(protocol, mosaic, params, seed, dt, block_frames, time_step, workers,
                                        progress):
        for pop, (ids, times) in block.items():
            ids_parts[pop].append(ids)
            times_parts[pop].append(times)
    out = {}
    for pop in POPULATIONS:
        # join block by block, freeing each block as it is copied, so the blocks and the
        # joined arrays never both exist in full (peak ~2x the spikes instead of ~3x)
        id_blocks, time_blocks = ids_parts.pop(pop)[::-1], times_parts.pop(pop)[::-1]
        n = sum(block.size for block in id_blocks)
        ids, times = np.empty(n, np.uint32), np.empty(n)
        k = 0
        while id_blocks:
            block_ids, block_times = id_blocks.pop(), time_blocks.pop()
            ids[k:k + block_ids.size] = block_ids
            times[k:k + block_ids.size] = block_times
            k += block_ids.size
        out[pop] = SpikeTrains(pop, ids, times, mosaic.n_nodes(pop), 0.0, protocol.duration)
        del ids, times  # SpikeTrains keeps its own copies
    logger.info("LGN spikes: %d ON, %d OFF over %.3g s", out["lgn_on"].n_spikes, out["lgn_off"].n_spikes,
                protocol.duration)
    return out


def lgn_node_tables(mosaic: LGNMosaic) -> dict[str, dict[str, np.ndarray]]:
    """``{"lgn_on": node table, "lgn_off": node table}`` for ``/nodes`` (see :meth:`LGNMosaic.node_table`)."""
    return {pop: mosaic.node_table(pop) for pop in POPULATIONS}
