"""Spike counts per trial × neuron × bin, PSTHs and population rates, all neurons at once.

Functions
---------
flat_spikes
    Validate flat ``(node_ids, times, n_nodes)`` arrays (or a :class:`SpikeTrains`).
trial_windows
    Validate a trials table and turn it into per-trial analysis windows.
bin_spikes
    Counts ``[n_trials, n_nodes, n_bins]`` aligned on trial starts.
bin_edges
    Bin edges relative to the trial start (s) matching :func:`bin_spikes`.
psth
    Trial-averaged rate per neuron and bin (Hz).
population_rate
    Rate averaged over trials and neurons (Hz).
time_histogram
    Summed spike counts over neurons per bin, equal to ``elephant.statistics.time_histogram``.

Binning convention (identical to ``elephant.conversion.BinnedSpikeTrain`` 1.2.1, so that
every count equals Elephant's): for a window ``[w0, w1]`` of ``n_bins`` bins a spike at
``t`` with ``w0 <= t <= w1`` gets ``x = (t - w0) * (1 / bin_size)``; if the fractional
part of ``x`` is within ``tolerance`` (default 1e-8, in bins) of 1, the spike is moved
into the next bin to undo floating-point error; the bin is ``int(x)`` and bins
``>= n_bins`` are dropped. Hence bins are half-open ``[edge_k, edge_{k+1})`` and a spike
exactly on ``w1`` is not counted. ``n_bins`` is ``(w1 - w0) / bin_size`` rounded down
with the same tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from analysis import _kernels
from analysis.errors import SpikeDataError
from analysis.spiketrains import SpikeTrains

__all__ = [
    "flat_spikes",
    "trial_windows",
    "bin_spikes",
    "bin_edges",
    "psth",
    "population_rate",
    "time_histogram",
    "DEFAULT_TOLERANCE",
]

#: Elephant's ``BinnedSpikeTrain`` default rounding tolerance, in bins
#: (``elephant/conversion.py``, Elephant 1.2.1).
DEFAULT_TOLERANCE = 1e-8

SpikesLike = SpikeTrains | tuple


def flat_spikes(spiketrains: SpikesLike) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate spikes and return ``(times float64, node_ids int64, n_nodes)``.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
        A :class:`~analysis.spiketrains.SpikeTrains` (already validated and sorted), or
        flat arrays: ``node_ids`` (non-negative integers), ``times`` (s, finite,
        non-negative, non-decreasing) of equal length and the population size ``n_nodes``.

    Returns
    -------
    times : numpy.ndarray, float64, shape (n_spikes,)
    node_ids : numpy.ndarray, int64, shape (n_spikes,)
    n_nodes : int

    Raises
    ------
    SpikeDataError
        Unsorted, NaN or negative times, ids out of range or mismatched lengths.

    Examples
    --------
    >>> t, i, n = flat_spikes(([1, 0], [0.1, 0.2], 2))
    >>> t.tolist(), i.tolist(), n
    ([0.1, 0.2], [1, 0], 2)
    """
    if isinstance(spiketrains, SpikeTrains):
        return (
            np.ascontiguousarray(spiketrains.times, dtype=np.float64),
            spiketrains.node_ids.astype(np.int64),
            spiketrains.n_nodes,
        )
    if not isinstance(spiketrains, tuple) or len(spiketrains) != 3:
        raise SpikeDataError(
            "spiketrains must be a SpikeTrains or a tuple (node_ids, times, n_nodes), "
            f"got {type(spiketrains).__name__}"
        )
    node_ids, times, n_nodes = spiketrains
    try:
        n = int(n_nodes)
    except (TypeError, ValueError):
        raise SpikeDataError(f"n_nodes must be a non-negative integer, got {n_nodes!r}") from None
    if n != n_nodes or n < 0:
        raise SpikeDataError(f"n_nodes must be a non-negative integer, got {n_nodes!r}")
    ids = np.asarray(node_ids)
    t = np.asarray(times)
    if ids.ndim != 1:
        raise SpikeDataError(f"node_ids must be 1-D, got shape {ids.shape}")
    if t.ndim != 1:
        raise SpikeDataError(f"times must be 1-D, got shape {t.shape}")
    if ids.size != t.size:
        raise SpikeDataError(f"node_ids ({ids.size}) and times ({t.size}) differ in length")
    if t.size and t.dtype.kind not in "iuf":
        raise SpikeDataError(f"times must be real numbers in s, got dtype {t.dtype}")
    t = np.ascontiguousarray(t, dtype=np.float64)
    if ids.size:
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or not np.all(ids == np.floor(ids)):
                raise SpikeDataError("node_ids must be whole numbers")
        elif ids.dtype.kind not in "iub":
            raise SpikeDataError(f"node_ids must be integers, got dtype {ids.dtype}")
        if ids.dtype.kind in "if" and ids.min() < 0:
            raise SpikeDataError(f"node_ids must be >= 0, got {ids.min()}")
        if int(ids.max()) >= n:
            raise SpikeDataError(f"node_ids must be < n_nodes = {n}, got {int(ids.max())}")
        if not np.all(np.isfinite(t)):
            raise SpikeDataError("times contain NaN or infinite values")
        if t.min() < 0:
            raise SpikeDataError(f"times must be >= 0 s, got {t.min()}")
        step = np.diff(t)
        if np.any(step < 0):
            k = int(np.argmax(step < 0))
            raise SpikeDataError(f"times must be sorted (non-decreasing); times[{k + 1}] < times[{k}]")
    return t, ids.astype(np.int64), n


def _check_bin_size(bin_size: float) -> float:
    try:
        value = float(bin_size)
    except (TypeError, ValueError):
        raise SpikeDataError(f"bin_size must be a positive number of seconds, got {bin_size!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise SpikeDataError(f"bin_size must be a positive number of seconds, got {bin_size!r}")
    return value


def _tolerance(tolerance: float | None) -> float:
    if tolerance is None:
        return 0.0
    value = float(tolerance)
    if not (0.0 <= value < 1.0):
        raise SpikeDataError(f"tolerance must be in [0, 1) bins or None, got {tolerance!r}")
    return value


def _round_n_bins(duration: float, bin_size: float, tolerance: float) -> int:
    """Number of whole bins in ``duration``, as ``elephant.utils.round_binning_errors``."""
    x = duration / bin_size
    if tolerance > 0 and x % 1.0 >= 1.0 - tolerance:
        x += 0.5
    return int(x)


def trial_windows(
    trials: Mapping[str, Any] | None,
    spiketrains: SpikesLike | None = None,
    t_pre: float = 0.0,
    t_post: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Analysis windows ``[start - t_pre, start + t_post]`` (s), one per trial.

    Parameters
    ----------
    trials : mapping or None
        The trials table: at least columns ``start`` and ``stop`` (s), one row per trial.
        ``None`` uses the recording window of ``spiketrains`` (a :class:`SpikeTrains`).
    spiketrains : SpikeTrains, optional
        Needed only when ``trials`` is None.
    t_pre : float
        Time before each trial start included in the window (s), >= 0.
    t_post : float, optional
        Window length after the start (s); default the shortest trial (``stop - start``).

    Returns
    -------
    win_start, win_stop : numpy.ndarray, float64, shape (n_trials,)
    duration : float
        ``t_pre + t_post`` (s), the common window length that sets the number of bins.

    Raises
    ------
    SpikeDataError
        Empty or malformed trials table, or a negative ``t_pre``/``t_post``.

    Examples
    --------
    >>> trial_windows({"start": [0.0, 1.0], "stop": [0.5, 1.5]}, t_pre=0.1)
    (array([-0.1,  0.9]), array([0.5, 1.5]), 0.6)
    """
    t_pre = float(t_pre)
    if not np.isfinite(t_pre) or t_pre < 0:
        raise SpikeDataError(f"t_pre must be a finite number of seconds >= 0, got {t_pre}")
    if trials is None:
        if not isinstance(spiketrains, SpikeTrains):
            raise SpikeDataError("trials is None: pass a trials table, or a SpikeTrains whose window is used")
        start = np.array([spiketrains.t_start])
        stop = np.array([spiketrains.t_stop])
    else:
        if not isinstance(trials, Mapping):
            raise SpikeDataError(f"trials must be a mapping with columns start, stop (s), got {type(trials).__name__}")
        for key in ("start", "stop"):
            if key not in trials:
                raise SpikeDataError(f"trials: missing column {key!r} (start and stop in s are required)")
        start = np.asarray(trials["start"], dtype=np.float64)
        stop = np.asarray(trials["stop"], dtype=np.float64)
        if start.ndim != 1 or stop.ndim != 1:
            raise SpikeDataError("trials: start and stop must be 1-D columns")
        if start.size == 0:
            raise SpikeDataError("trials: the table is empty (need at least one row of start, stop)")
        if start.size != stop.size:
            raise SpikeDataError(f"trials: start ({start.size}) and stop ({stop.size}) differ in length")
        if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop))):
            raise SpikeDataError("trials: start and stop must be finite (s)")
        if np.any(stop < start):
            raise SpikeDataError("trials: stop must be >= start (s) in every row")
    if t_post is None:
        t_post = float(np.min(stop - start))
    t_post = float(t_post)
    if not np.isfinite(t_post) or t_post < 0:
        raise SpikeDataError(f"t_post must be a finite number of seconds >= 0, got {t_post}")
    return start - t_pre, start + t_post, t_pre + t_post


def bin_spikes(
    spiketrains: SpikesLike,
    trials: Mapping[str, Any] | None,
    bin_size: float,
    t_pre: float = 0.0,
    t_post: float | None = None,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> np.ndarray:
    """Spike counts per trial, neuron and bin, aligned on each trial's start.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
        The spikes (times in s); see :func:`flat_spikes`.
    trials : mapping or None
        Trials table with ``start`` and ``stop`` columns (s); ``None`` bins the whole
        recording window of a :class:`SpikeTrains` as one trial.
    bin_size : float
        Bin width (s).
    t_pre : float
        Time before the trial start covered by the bins (s).
    t_post : float, optional
        Time after the trial start covered (s); default the shortest trial.
    tolerance : float or None
        Rounding tolerance in bins (Elephant's ``BinnedSpikeTrain`` rule, module notes);
        None disables it.

    Returns
    -------
    counts : numpy.ndarray, int32, shape (n_trials, n_nodes, n_bins)
        ``n_bins = (t_pre + t_post) / bin_size`` rounded down (with ``tolerance``).
        Bin ``k`` of trial ``r`` covers ``[start_r - t_pre + k·bin_size,
        start_r - t_pre + (k+1)·bin_size)``.

    Raises
    ------
    SpikeDataError
        Bad spikes (:func:`flat_spikes`), trials table (:func:`trial_windows`) or
        ``bin_size``.

    Notes
    -----
    One pass over the time-sorted spikes per trial window (a binary search finds the
    window), so the cost is O(n_spikes + n_trials × n_nodes × n_bins) and no per-neuron
    object is created. Every count equals ``BinnedSpikeTrain(..., t_start=start_r -
    t_pre, t_stop=start_r + t_post, bin_size=bin_size)`` of Elephant.

    Examples
    --------
    >>> counts = bin_spikes(([0, 1, 0], [0.05, 0.12, 1.3], 2),
    ...                     {"start": [0.0, 1.0], "stop": [0.2, 1.2]}, bin_size=0.1)
    >>> counts.shape, counts[:, 0].tolist(), counts[:, 1].tolist()
    ((2, 2, 2), [[1, 0], [0, 0]], [[0, 1], [0, 0]])
    """
    times, ids, n_nodes = flat_spikes(spiketrains)
    bin_size = _check_bin_size(bin_size)
    tol = _tolerance(tolerance)
    win_start, win_stop, duration = trial_windows(trials, spiketrains, t_pre, t_post)
    n_bins = _round_n_bins(duration, bin_size, tol)
    return _kernels.bin_counts(times, ids, win_start, win_stop, n_nodes, n_bins, 1.0 / bin_size, tol)


def bin_edges(bin_size: float, n_bins: int, t_pre: float = 0.0) -> np.ndarray:
    """Bin edges relative to the trial start (s), shape ``(n_bins + 1,)``.

    Examples
    --------
    >>> bin_edges(0.1, 3, t_pre=0.1).round(3).tolist()
    [-0.1, 0.0, 0.1, 0.2]
    """
    bin_size = _check_bin_size(bin_size)
    return -float(t_pre) + bin_size * np.arange(int(n_bins) + 1)


def _check_counts(counts: Any, ndim: int, name: str = "counts") -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != ndim:
        raise SpikeDataError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
        raise SpikeDataError(f"{name} must be finite numbers, got dtype {arr.dtype}")
    return arr


def psth(counts: np.ndarray, bin_size: float) -> np.ndarray:
    """Peri-stimulus time histogram: trial-averaged rate per neuron and bin.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes, n_bins)
        Output of :func:`bin_spikes`.
    bin_size : float
        Bin width (s).

    Returns
    -------
    rate : numpy.ndarray, float64, shape (n_nodes, n_bins)
        Hz.

    Examples
    --------
    >>> psth([[[1, 0]], [[3, 2]]], bin_size=0.5).tolist()
    [[4.0, 2.0]]
    """
    arr = _check_counts(counts, 3)
    if arr.shape[0] == 0:
        raise SpikeDataError("counts: need at least one trial")
    return arr.mean(axis=0, dtype=np.float64) / _check_bin_size(bin_size)


def population_rate(counts: np.ndarray, bin_size: float) -> np.ndarray:
    """Rate averaged over trials and neurons (silent ones included) per bin, Hz.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes, n_bins)
    bin_size : float
        Bin width (s).

    Returns
    -------
    rate : numpy.ndarray, float64, shape (n_bins,)

    Examples
    --------
    >>> population_rate([[[1, 0], [3, 0]]], bin_size=0.1).tolist()
    [20.0, 0.0]
    """
    arr = _check_counts(counts, 3)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise SpikeDataError("counts: need at least one trial and one neuron")
    return arr.mean(axis=(0, 1), dtype=np.float64) / _check_bin_size(bin_size)


def time_histogram(
    spiketrains: SpikesLike,
    bin_size: float,
    t_start: float | None = None,
    t_stop: float | None = None,
    output: str = "counts",
    binary: bool = False,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> np.ndarray:
    """Spikes of all neurons per bin, as ``elephant.statistics.time_histogram``.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
        All ``n_nodes`` neurons count as spike trains, silent ones included.
    bin_size : float
        Bin width (s).
    t_start, t_stop : float, optional
        Window (s); default the recording window of a :class:`SpikeTrains` (required
        for flat arrays).
    output : {"counts", "mean", "rate"}
        Summed counts; counts divided by ``n_nodes``; or that divided by ``bin_size`` (Hz).
    binary : bool
        Count each neuron at most once per bin (Elephant's ``binary=True``).
    tolerance : float or None
        Binning tolerance (module notes).

    Returns
    -------
    hist : numpy.ndarray, shape (n_bins,)
        int64 for ``"counts"``, float64 otherwise.

    Raises
    ------
    SpikeDataError
        Bad spikes, window, ``bin_size`` or ``output``.

    Examples
    --------
    >>> time_histogram(([0, 1, 0], [0.3, 0.7, 4.5], 2), 1.0, 0.0, 5.0).tolist()
    [2, 0, 0, 0, 1]
    """
    times, ids, n_nodes = flat_spikes(spiketrains)
    bin_size = _check_bin_size(bin_size)
    tol = _tolerance(tolerance)
    if output not in ("counts", "mean", "rate"):
        raise SpikeDataError(f"output must be 'counts', 'mean' or 'rate', got {output!r}")
    if isinstance(spiketrains, SpikeTrains):
        t_start = spiketrains.t_start if t_start is None else t_start
        t_stop = spiketrains.t_stop if t_stop is None else t_stop
    if t_start is None or t_stop is None:
        raise SpikeDataError("t_start and t_stop (s) are required for flat spike arrays")
    t_start, t_stop = float(t_start), float(t_stop)
    if not (np.isfinite(t_start) and np.isfinite(t_stop)) or t_stop <= t_start:
        raise SpikeDataError(f"need finite t_start < t_stop (s), got [{t_start}, {t_stop}]")
    n_bins = _round_n_bins(t_stop - t_start, bin_size, tol)
    if n_bins <= 0:
        raise SpikeDataError(f"window [{t_start}, {t_stop}] s holds no whole bin of {bin_size} s")
    counts = _kernels.bin_counts(
        times, ids, np.array([t_start]), np.array([t_stop]), n_nodes, n_bins, 1.0 / bin_size, tol
    )[0]
    if binary:
        hist = np.count_nonzero(counts, axis=0).astype(np.int64)
    else:
        hist = counts.sum(axis=0, dtype=np.int64)
    if output == "counts":
        return hist
    if n_nodes == 0:
        raise SpikeDataError("output 'mean'/'rate' needs at least one neuron (n_nodes = 0)")
    if output == "mean":
        return hist / n_nodes
    return hist / (n_nodes * bin_size)
