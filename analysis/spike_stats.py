"""Spike-train statistics with Elephant's semantics, for every neuron at once.

Functions
---------
cv
    Coefficient of variation of the inter-spike intervals (ISI) per neuron.
cv2
    Local coefficient of variation CV2 (Holt et al. 1996) per neuron.
lv
    Local variation LV (Shinomoto et al. 2003) per neuron.
isi_statistics
    CV, CV2, LV and ISI counts in one pass.
fanofactor
    Variance over mean of spike counts (Elephant's ``fanofactor``).
cross_correlation_histogram
    Cross-correlograms of many neuron pairs from binned spikes.
covariance
    Covariance matrix (or selected pairs) of binned spike counts.
correlation_coefficient
    Pearson correlation matrix (or selected pairs) of binned spike counts.
spike_count_correlation, spike_count_covariance
    The same matrices straight from the spikes, without a dense binned matrix.

Each function equals its namesake in Elephant 1.2.1 (``elephant.statistics``,
``elephant.spike_train_correlation``) on the same spikes to 1e-9 relative, which the
tests check: ``cv`` = ``scipy.stats.variation(isi(st))`` (ddof 0; NaN without ISI, 0 with
one ISI); ``cv2``/``lv`` with ``with_nan=True`` (NaN with fewer than two ISIs); the
``fanofactor`` uses the population variance (ddof 0) and is NaN when every count is 0;
correlograms count ``sum_t x_i[t] x_j[t + k]`` (a positive lag: ``j`` after ``i``);
``covariance`` uses ddof 1 like ``numpy.cov``. Binning follows
:mod:`analysis.binning` (Elephant's rule).

References
----------
Holt, G. R., Softky, W. R., Koch, C., & Douglas, R. J. (1996). Comparison of discharge
variability in vitro and in vivo in cat visual cortex neurons. J Neurophysiol 75(5),
1806-1814. doi:10.1152/jn.1996.75.5.1806

Shinomoto, S., Shima, K., & Tanji, J. (2003). Differences in spiking patterns among
cortical neurons. Neural Computation 15(12), 2823-2842. doi:10.1162/089976603322518759

Denker, M. et al. (2018). Elephant: Electrophysiology Analysis Toolkit.
doi:10.5281/zenodo.1186602
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk

from analysis import _kernels
from analysis.binning import (
    DEFAULT_TOLERANCE,
    SpikesLike,
    _check_bin_size,
    _round_n_bins,
    _tolerance,
    flat_spikes,
    trial_windows,
)
from analysis.errors import SpikeDataError

__all__ = [
    "ISIStatistics",
    "isi_statistics",
    "cv",
    "cv2",
    "lv",
    "fanofactor",
    "cross_correlation_histogram",
    "covariance",
    "correlation_coefficient",
    "spike_count_correlation",
    "spike_count_covariance",
]


@dataclass(frozen=True, eq=False)
class ISIStatistics:
    """ISI statistics per neuron; arrays of shape ``(n_nodes,)``.

    Attributes
    ----------
    n_isi : numpy.ndarray, int64
        Number of ISIs.
    mean_isi : numpy.ndarray, float64
        Mean ISI (s); NaN without ISI.
    cv : numpy.ndarray, float64
        Standard deviation (ddof 0) over mean of the ISIs; NaN without ISI.
    cv2 : numpy.ndarray, float64
        ``2 mean |I_{k+1} - I_k| / (I_{k+1} + I_k)``; NaN with fewer than two ISIs.
    lv : numpy.ndarray, float64
        ``3 mean ((I_{k+1} - I_k) / (I_{k+1} + I_k))²``; NaN with fewer than two ISIs.
    """

    n_isi: np.ndarray
    mean_isi: np.ndarray
    cv: np.ndarray
    cv2: np.ndarray
    lv: np.ndarray


def _isi_windows(spiketrains: SpikesLike, trials: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    if trials is None:
        return np.array([-np.inf]), np.array([np.inf])
    start, stop, _ = trial_windows(trials)
    # ISIs are taken inside [start, stop) of each trial
    return start, np.asarray(trials["stop"], dtype=np.float64)


def isi_statistics(spiketrains: SpikesLike, trials: Mapping[str, Any] | None = None) -> ISIStatistics:
    """CV, CV2 and LV of the inter-spike intervals of every neuron in one pass.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
        Spikes (s); see :func:`analysis.binning.flat_spikes`.
    trials : mapping, optional
        Trials table (``start``, ``stop`` in s). When given, ISIs are taken only between
        spikes of the same trial (``start <= t < stop``) and pooled over trials per
        neuron; CV2/LV pairs never span two trials. Default: the whole recording is one
        spike train per neuron.

    Returns
    -------
    ISIStatistics

    Raises
    ------
    SpikeDataError
        Bad spikes or trials table.

    Notes
    -----
    .. math::

        CV = \\frac{\\sqrt{\\langle (I - \\bar I)^2 \\rangle}}{\\bar I}, \\quad
        CV_2 = \\frac{2}{n-1}\\sum_k \\frac{|I_{k+1}-I_k|}{I_{k+1}+I_k}, \\quad
        LV = \\frac{3}{n-1}\\sum_k \\left(\\frac{I_{k+1}-I_k}{I_{k+1}+I_k}\\right)^2

    for the ``n`` ISIs ``I_k`` of a neuron (Holt et al. 1996; Shinomoto et al. 2003).
    A Poisson train has CV = CV2 = LV = 1 in expectation.

    Examples
    --------
    >>> s = isi_statistics(([0, 0, 0, 0], [0.0, 1.0, 3.0, 4.0], 1))
    >>> s.n_isi.tolist(), s.cv.round(4).tolist(), s.cv2.round(4).tolist(), s.lv.round(4).tolist()
    ([3], [0.3536], [0.6667], [0.3333])
    """
    times, ids, n_nodes = flat_spikes(spiketrains)
    win_start, win_stop = _isi_windows(spiketrains, trials)
    n_isi, mean, m2, n_pairs, sum_abs, sum_sq = _kernels.isi_moments(times, ids, win_start, win_stop, n_nodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv_ = np.where(n_isi > 0, np.sqrt(m2 / np.maximum(n_isi, 1)) / mean, np.nan)
        cv2_ = np.where(n_pairs > 0, 2.0 * sum_abs / np.maximum(n_pairs, 1), np.nan)
        lv_ = np.where(n_pairs > 0, 3.0 * sum_sq / np.maximum(n_pairs, 1), np.nan)
    return ISIStatistics(n_isi=n_isi, mean_isi=mean, cv=cv_, cv2=cv2_, lv=lv_)


def cv(spiketrains: SpikesLike, trials: Mapping[str, Any] | None = None) -> np.ndarray:
    """ISI coefficient of variation per neuron, ``elephant.statistics.cv(isi(st))``.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
    trials : mapping, optional
        See :func:`isi_statistics`.

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes,)
        NaN for neurons with fewer than two spikes; 0 with exactly two.

    Examples
    --------
    >>> cv(([0, 1, 0, 0], [0.0, 0.5, 1.0, 3.0], 2)).round(4).tolist()
    [0.3333, nan]
    """
    return isi_statistics(spiketrains, trials).cv


def cv2(spiketrains: SpikesLike, trials: Mapping[str, Any] | None = None) -> np.ndarray:
    """CV2 per neuron, ``elephant.statistics.cv2(isi(st), with_nan=True)``.

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes,)
        NaN for neurons with fewer than three spikes.

    Examples
    --------
    >>> cv2(([0, 0, 0], [0.0, 1.0, 3.0], 1)).round(4).tolist()
    [0.6667]
    """
    return isi_statistics(spiketrains, trials).cv2


def lv(spiketrains: SpikesLike, trials: Mapping[str, Any] | None = None) -> np.ndarray:
    """Local variation LV per neuron, ``elephant.statistics.lv(isi(st), with_nan=True)``.

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes,)
        NaN for neurons with fewer than three spikes.

    Examples
    --------
    >>> lv(([0, 0, 0], [0.0, 1.0, 3.0], 1)).round(4).tolist()
    [0.3333]
    """
    return isi_statistics(spiketrains, trials).lv


def fanofactor(counts: Any, axis: int = 0, ddof: int = 0) -> np.ndarray | float:
    """Fano factor ``var / mean`` of spike counts along ``axis``.

    Parameters
    ----------
    counts : array_like of int or float
        Spike counts, e.g. ``bin_spikes(st, trials, duration)[:, :, 0]`` of shape
        ``(n_trials, n_nodes)`` for one Fano factor per neuron over trials
        (Elephant's ``fanofactor`` of a ``Trials`` object), or a 1-D array of the counts
        of a list of spike trains (Elephant's ``fanofactor(list)``).
    axis : int
        Axis over which mean and variance are taken.
    ddof : int
        Delta degrees of freedom of the variance; 0 as Elephant (biased by
        ``(n-1)/n``), 1 for the unbiased variance.

    Returns
    -------
    float or numpy.ndarray, float64
        NaN where every count is 0 (Elephant) or the axis is empty.

    Raises
    ------
    SpikeDataError
        Non-numeric or non-finite counts, or a bad axis.

    Examples
    --------
    >>> fanofactor([4, 3])
    0.07142857142857142
    >>> fanofactor([[0, 2], [0, 4]]).tolist()
    [nan, 0.3333333333333333]
    """
    arr = np.asarray(counts)
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
        raise SpikeDataError(f"counts must be finite numbers, got dtype {arr.dtype}")
    if arr.ndim == 0 or not -arr.ndim <= axis < arr.ndim:
        raise SpikeDataError(f"axis {axis} is out of range for counts of shape {arr.shape}")
    if arr.shape[axis] == 0:
        out = np.full(np.delete(arr.shape, axis), np.nan)
        return float("nan") if out.ndim == 0 else out
    arr = arr.astype(np.float64, copy=False)
    mean = arr.mean(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = arr.var(axis=axis, ddof=ddof) if arr.shape[axis] > ddof else np.full_like(mean, np.nan)
        ff = np.where(mean == 0, np.nan, var / np.where(mean == 0, 1.0, mean))
    return float(ff) if np.ndim(ff) == 0 else ff


def _pairs(pairs: Any, n_nodes: int) -> np.ndarray:
    arr = np.asarray(pairs)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu":
        raise SpikeDataError(f"pairs must be an integer array of shape (n_pairs, 2), got {arr.dtype} {arr.shape}")
    if arr.min() < 0 or arr.max() >= n_nodes:
        raise SpikeDataError(f"pairs must hold node ids in [0, {n_nodes}), got [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int64)


def cross_correlation_histogram(
    spiketrains: SpikesLike,
    pairs: Any,
    bin_size: float,
    max_lag: int,
    trials: Mapping[str, Any] | None = None,
    t_pre: float = 0.0,
    t_post: float | None = None,
    border_correction: bool = False,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlograms of many neuron pairs, summed over trials.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
    pairs : array_like of int, shape (n_pairs, 2)
        ``(i, j)`` node pairs; ``(i, i)`` gives the auto-correlogram.
    bin_size : float
        Bin width (s).
    max_lag : int
        Largest lag, in bins (Elephant's ``window=[-max_lag, max_lag]``).
    trials : mapping, optional
        Trials table; each trial window (:func:`analysis.binning.bin_spikes`) is binned
        and correlated separately and the correlograms are summed. Default: the whole
        recording window of a :class:`SpikeTrains`.
    t_pre, t_post : float
        Window around each trial start (s), as in :func:`~analysis.binning.bin_spikes`.
    border_correction : bool
        Multiply lag ``k`` by ``n_bins / (n_bins - |k|)`` (Elephant's correction for the
        shrinking overlap).
    tolerance : float or None
        Binning tolerance (:mod:`analysis.binning`).

    Returns
    -------
    lags : numpy.ndarray, int64, shape (2 * max_lag + 1,)
        Lags in bins (multiply by ``bin_size`` for s).
    cch : numpy.ndarray, shape (n_pairs, 2 * max_lag + 1)
        ``cch[p, k] = sum_trials sum_t x_i[t] x_j[t + lags[k]]``: int64 counts, float64
        with ``border_correction``.

    Raises
    ------
    SpikeDataError
        Bad spikes, trials, pairs, ``bin_size`` or ``max_lag``.

    Notes
    -----
    For one trial this equals ``elephant.spike_train_correlation.
    cross_correlation_histogram(BinnedSpikeTrain(st_i), BinnedSpikeTrain(st_j),
    window=[-max_lag, max_lag])`` (counts, ``binary=False``). It works on the sorted
    spike lists (cost O(spike pairs within ``max_lag``)) rather than on dense binned
    arrays, so 10,000 neurons × 100 trials at 1 ms bins need no dense matrix.

    Examples
    --------
    >>> lags, c = cross_correlation_histogram(([0, 1, 0, 1], [0.0, 0.02, 0.05, 0.06], 2),
    ...     [[0, 1]], bin_size=0.01, max_lag=2, trials={"start": [0.0], "stop": [0.1]})
    >>> lags.tolist(), c.tolist()
    ([-2, -1, 0, 1, 2], [[0, 0, 0, 1, 1]])
    """
    times, ids, n_nodes = flat_spikes(spiketrains)
    bin_size = _check_bin_size(bin_size)
    tol = _tolerance(tolerance)
    pair_arr = _pairs(pairs, n_nodes)
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise SpikeDataError(f"max_lag must be a non-negative integer number of bins, got {max_lag!r}")
    max_lag = int(max_lag)
    win_start, win_stop, duration = trial_windows(trials, spiketrains, t_pre, t_post)
    n_bins = _round_n_bins(duration, bin_size, tol)
    indptr, bins = _kernels.binned_spike_lists(times, ids, win_start, win_stop, n_nodes, n_bins, 1.0 / bin_size, tol)
    cch = _kernels.cch_pairs(indptr, bins, n_nodes, win_start.size, pair_arr, max_lag)
    lags = np.arange(-max_lag, max_lag + 1, dtype=np.int64)
    if border_correction:
        if max_lag >= n_bins:
            raise SpikeDataError(f"border_correction needs max_lag < n_bins = {n_bins}, got {max_lag}")
        cch = cch * (float(n_bins) / (n_bins - np.abs(lags)))
    return lags, cch


def _check_matrix(counts: Any) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != 2:
        raise SpikeDataError(
            f"counts must be 2-D (n_nodes, n_samples), got shape {arr.shape}; for bin_spikes output "
            "use counts.transpose(1, 0, 2).reshape(n_nodes, -1)"
        )
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
        raise SpikeDataError(f"counts must be finite numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def covariance(counts: Any, pairs: Any | None = None, binary: bool = False) -> np.ndarray:
    """Covariance of binned spike counts between neurons (ddof 1).

    Parameters
    ----------
    counts : array_like, shape (n_nodes, n_samples)
        Counts per neuron and bin (Elephant's binned spike-train matrix). From
        :func:`~analysis.binning.bin_spikes` output ``c[n_trials, n_nodes, n_bins]``:
        ``c.transpose(1, 0, 2).reshape(n_nodes, -1)`` (trials concatenated) or
        ``c.sum(axis=2).T`` (spike-count covariance across trials).
    pairs : array_like of int, shape (n_pairs, 2), optional
        Compute only these pairs (a Numba kernel, memory O(n_pairs)) instead of the full
        matrix (BLAS, memory O(n_nodes²)).
    binary : bool
        Clip counts to 0/1 first (Elephant's ``binary=True``).

    Returns
    -------
    numpy.ndarray, float64
        ``(n_nodes, n_nodes)`` matrix, or ``(n_pairs,)`` with ``pairs``.

    Raises
    ------
    SpikeDataError
        Counts not 2-D or not finite, bad pairs, fewer than two samples.

    Notes
    -----
    Equals ``elephant.spike_train_correlation.covariance(binned)`` (``numpy.cov`` on the
    binned matrix).

    Examples
    --------
    >>> covariance([[1, 2, 3], [2, 4, 6]]).tolist()
    [[1.0, 2.0], [2.0, 4.0]]
    >>> covariance([[1, 2, 3], [2, 4, 6]], pairs=[[0, 1]]).tolist()
    [2.0]
    """
    x = _check_matrix(counts)
    if binary:
        x = (x > 0).astype(np.float64)
    if x.shape[1] < 2:
        raise SpikeDataError(f"counts: need at least 2 samples (bins) per neuron, got {x.shape[1]}")
    if pairs is not None:
        return _kernels.pair_covariance(x, _pairs(pairs, x.shape[0]), 1)
    return _dense_matrix(x, correlation=False)


#: float32 holds every integer below 2**24 exactly: a float32 Gram matrix of integer counts
#: is exact while every row's sum of squares stays below it (|G_ij| <= max_i G_ii).
_FLOAT32_EXACT = 2.0**24


def _dense_matrix(x: np.ndarray, correlation: bool) -> np.ndarray:
    # BLAS syrk fills one triangle of the Gram matrix (half the flops of a general product,
    # and unlike numpy.dot no serial copy into the other triangle); one parallel Numba pass
    # then normalises and mirrors it, instead of numpy.corrcoef's three passes over the
    # n_nodes² matrix. Integer counts take float32 ssyrk (half the time of dsyrk, and exact)
    # and exact integer arithmetic for L G - N Nᵀ; other data are centred for dsyrk, as
    # numpy.cov does. syrk's Fortran-order lower triangle is the upper triangle of its
    # C-order transpose.
    n_nodes, n_samples = x.shape
    if n_nodes == 0:
        return np.zeros((0, 0))
    if np.array_equal(x, np.rint(x)) and np.einsum("ij,ij->i", x, x).max() < _FLOAT32_EXACT:
        gram = ssyrk(1.0, x.astype(np.float32).T, trans=1, lower=1).T
        return _kernels.integer_gram_to_covariance(gram, x.sum(axis=1), n_samples, 1, correlation)
    centred = x - x.mean(axis=1, keepdims=True)
    gram = dsyrk(1.0, centred.T, trans=1, lower=1).T
    return _kernels.gram_to_covariance(gram, np.zeros(n_nodes), float(n_samples), 1, correlation)


def correlation_coefficient(counts: Any, pairs: Any | None = None, binary: bool = False) -> np.ndarray:
    """Pearson correlation of binned spike counts between neurons.

    Parameters
    ----------
    counts : array_like, shape (n_nodes, n_samples)
        See :func:`covariance`.
    pairs : array_like of int, shape (n_pairs, 2), optional
        Compute only these pairs.
    binary : bool
        Clip counts to 0/1 first.

    Returns
    -------
    numpy.ndarray, float64
        ``(n_nodes, n_nodes)`` in ``[-1, 1]`` (clipped as ``numpy.corrcoef``), or
        ``(n_pairs,)``; NaN for a neuron without variance (e.g. no spikes), where
        Elephant warns and also returns NaN.

    Notes
    -----
    Equals ``elephant.spike_train_correlation.correlation_coefficient(binned)``
    (``numpy.corrcoef`` on the binned matrix).

    Examples
    --------
    >>> correlation_coefficient([[1, 2, 3], [3, 2, 1]]).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    x = _check_matrix(counts)
    if binary:
        x = (x > 0).astype(np.float64)
    if x.shape[1] < 2:
        raise SpikeDataError(f"counts: need at least 2 samples (bins) per neuron, got {x.shape[1]}")
    with np.errstate(invalid="ignore", divide="ignore"):
        if pairs is not None:
            p = _pairs(pairs, x.shape[0])
            cov = _kernels.pair_covariance(x, p, 1)
            var = x.var(axis=1, ddof=1)
            out = cov / np.sqrt(var[p[:, 0]] * var[p[:, 1]])
        else:
            return _dense_matrix(x, correlation=True)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _binned_gram_matrix(
    spiketrains: SpikesLike,
    bin_size: float,
    trials: Mapping[str, Any] | None,
    t_pre: float,
    t_post: float | None,
    binary: bool,
    tolerance: float | None,
    correlation: bool,
) -> np.ndarray:
    times, ids, n_nodes = flat_spikes(spiketrains)
    bin_size = _check_bin_size(bin_size)
    tol = _tolerance(tolerance)
    win_start, win_stop, duration = trial_windows(trials, spiketrains, t_pre, t_post)
    n_bins = _round_n_bins(duration, bin_size, tol)
    n_samples = n_bins * win_start.size
    if n_samples < 2:
        raise SpikeDataError(f"need at least 2 bins in total, got {n_samples} (bin_size {bin_size} s)")
    return _kernels.binned_covariance(
        times, ids, win_start, win_stop, n_nodes, n_bins, 1.0 / bin_size, tol, bool(binary), 1, correlation
    )


def spike_count_correlation(
    spiketrains: SpikesLike,
    bin_size: float,
    trials: Mapping[str, Any] | None = None,
    t_pre: float = 0.0,
    t_post: float | None = None,
    binary: bool = False,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> np.ndarray:
    """Pearson correlation matrix of binned spike counts, computed from the spikes.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
    bin_size : float
        Bin width (s).
    trials : mapping, optional
        Trials table; the bins of all trial windows are concatenated (the samples of the
        correlation). Default: the recording window of a :class:`SpikeTrains`.
    t_pre, t_post : float
        Window around each trial start (s), as in :func:`~analysis.binning.bin_spikes`.
    binary : bool
        Count a neuron at most once per bin.
    tolerance : float or None
        Binning tolerance (:mod:`analysis.binning`).

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes, n_nodes)
        NaN in the rows and columns of neurons without variance (e.g. silent).

    Raises
    ------
    SpikeDataError
        Bad spikes, trials or ``bin_size``.

    Notes
    -----
    Equal to ``elephant.spike_train_correlation.correlation_coefficient(
    BinnedSpikeTrain(...))`` and to :func:`correlation_coefficient` of the dense counts,
    but it never builds the ``n_nodes × n_bins`` matrix. The binned matrix ``X`` is kept
    as sparse row and column lists; each row ``i`` of ``X Xᵀ`` is summed in a small
    integer accumulator over the neurons ``j >= i`` that share its non-empty bins
    (Gustavson's sparse product: cost ``sum_bins k²/2`` for ``k`` active neurons per bin,
    rows in parallel), normalised with Elephant's sparse formula
    ``C = (X Xᵀ - N Nᵀ / L) / (L - 1)`` and written once; the lower triangle is then
    mirrored tile by tile. At fine bins, where ``X`` is mostly zeros, this is far cheaper
    than a dense product; memory is one ``n_nodes²`` float64 matrix (0.8 GB for 10,000
    neurons) plus one ``n_nodes`` accumulator per thread.

    Examples
    --------
    >>> spike_count_correlation(([0, 1, 0, 1, 2], [0.01, 0.015, 0.21, 0.22, 0.35], 3), 0.1,
    ...     trials={"start": [0.0], "stop": [0.4]}).round(3).tolist()
    [[1.0, 1.0, -0.577], [1.0, 1.0, -0.577], [-0.577, -0.577, 1.0]]
    """
    return _binned_gram_matrix(spiketrains, bin_size, trials, t_pre, t_post, binary, tolerance, True)


def spike_count_covariance(
    spiketrains: SpikesLike,
    bin_size: float,
    trials: Mapping[str, Any] | None = None,
    t_pre: float = 0.0,
    t_post: float | None = None,
    binary: bool = False,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> np.ndarray:
    """Covariance matrix (ddof 1) of binned spike counts, computed from the spikes.

    Parameters and algorithm as :func:`spike_count_correlation`; equals
    ``elephant.spike_train_correlation.covariance(BinnedSpikeTrain(...))``.

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes, n_nodes)

    Examples
    --------
    >>> spike_count_covariance(([0, 0, 1], [0.05, 0.15, 0.18], 2), 0.1,
    ...     trials={"start": [0.0], "stop": [0.3]}).round(3).tolist()
    [[0.333, 0.167], [0.167, 0.333]]
    """
    return _binned_gram_matrix(spiketrains, bin_size, trials, t_pre, t_post, binary, tolerance, False)
