"""Trial-to-trial variability: Fano factors, gain variance, noise correlations and transfer.

Functions
---------
time_resolved_fano_factor
    Fano factor of every neuron in sliding windows across trials.
mean_matched_fano_factor
    Population Fano factor over time with matched mean-count distributions
    (Churchland et al. 2010).
gain_variance
    Variance of a multiplicative gain from a negative-binomial (modulated Poisson) fit
    (Goris, Movshon & Simoncelli 2014).
condition_means
    Mean count of each trial's condition, per neuron (the "signal" removed below).
noise_correlations
    Spike-count correlations across repeats after removing the condition mean.
population_gain
    Per-trial multiplicative gain of a population relative to its condition means.
noise_transfer_slope
    Regression slope of a station's per-trial gain on the gain noise injected upstream.
noise_transfer_matrix
    The slopes ``a_kj`` for every receiving station k and injection station j.

Inputs are spike-count arrays from :func:`analysis.binning.bin_spikes`: ``counts`` of
shape ``(n_trials, n_nodes, n_bins)`` for time-resolved measures and
``(n_trials, n_nodes)`` (e.g. ``bin_spikes(...).sum(axis=2)``) for per-trial counts, with an
optional ``conditions`` label per trial (repeats of the same stimulus share a label).

References
----------
Churchland, M. M. et al. (2010). Stimulus onset quenches neural variability: a widespread
cortical phenomenon. Nature Neuroscience 13(3), 369-378. doi:10.1038/nn.2501

Goris, R. L. T., Movshon, J. A., & Simoncelli, E. P. (2014). Partitioning neuronal
variability. Nature Neuroscience 17(6), 858-865. doi:10.1038/nn.3711

Cohen, M. R., & Kohn, A. (2011). Measuring and interpreting neuronal correlations.
Nature Neuroscience 14(7), 811-819. doi:10.1038/nn.2842
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

from analysis.errors import SpikeDataError
from analysis.spike_stats import correlation_coefficient

__all__ = [
    "FanoTimeCourse",
    "MeanMatchedFano",
    "NoiseTransfer",
    "time_resolved_fano_factor",
    "mean_matched_fano_factor",
    "gain_variance",
    "condition_means",
    "noise_correlations",
    "population_gain",
    "noise_transfer_slope",
    "noise_transfer_matrix",
]

logger = logging.getLogger(__name__)


def _counts(counts: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != ndim:
        shape = "(n_trials, n_nodes, n_bins)" if ndim == 3 else "(n_trials, n_nodes)"
        raise SpikeDataError(f"counts must have shape {shape}, got {arr.shape}")
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
        raise SpikeDataError(f"counts must be finite numbers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise SpikeDataError("counts must be >= 0")
    if arr.shape[0] < 2:
        raise SpikeDataError(f"counts: need at least 2 trials, got {arr.shape[0]}")
    return arr.astype(np.float64, copy=False)


def _conditions(conditions: Any, n_trials: int) -> tuple[np.ndarray, int]:
    """Condition index ``0..n_conditions-1`` of each trial."""
    if conditions is None:
        return np.zeros(n_trials, dtype=np.int64), 1
    labels = np.asarray(conditions)
    if labels.ndim != 1 or labels.size != n_trials:
        raise SpikeDataError(f"conditions must have one label per trial ({n_trials}), got shape {labels.shape}")
    _, index = np.unique(labels, return_inverse=True)
    return index.astype(np.int64), int(index.max()) + 1


def _window_sums(counts: np.ndarray, window_bins: int, step_bins: int) -> tuple[np.ndarray, np.ndarray]:
    n_bins = counts.shape[2]
    for name, value in (("window_bins", window_bins), ("step_bins", step_bins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise SpikeDataError(f"{name} must be a positive integer, got {value!r}")
    if window_bins > n_bins:
        raise SpikeDataError(f"window_bins ({window_bins}) exceeds the number of bins ({n_bins})")
    csum = np.zeros(counts.shape[:2] + (n_bins + 1,))
    np.cumsum(counts, axis=2, out=csum[:, :, 1:])
    starts = np.arange(0, n_bins - window_bins + 1, step_bins)
    return csum[:, :, starts + window_bins] - csum[:, :, starts], starts


@dataclass(frozen=True, eq=False)
class FanoTimeCourse:
    """Per-neuron Fano factor in sliding windows.

    Attributes
    ----------
    fano, mean, variance : numpy.ndarray, float64, shape (n_nodes, n_windows)
        Across-trial Fano factor (NaN where the mean is 0), mean and variance of the
        windowed counts.
    window_start : numpy.ndarray, int64, shape (n_windows,)
        First bin of each window.
    window_bins : int
        Window length in bins.
    """

    fano: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    window_start: np.ndarray
    window_bins: int


def time_resolved_fano_factor(counts: Any, window_bins: int, step_bins: int = 1, ddof: int = 1) -> FanoTimeCourse:
    """Fano factor of every neuron across trials, in sliding windows.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes, n_bins)
        Output of :func:`analysis.binning.bin_spikes` (fine bins).
    window_bins : int
        Counting window in bins (Churchland et al. 2010 used 50 ms).
    step_bins : int
        Step between windows in bins.
    ddof : int
        Delta degrees of freedom of the variance; 1 (unbiased, as Churchland et al.'s
        ``var``) makes the Fano factor of Poisson counts 1 in expectation; 0 matches
        Elephant's ``fanofactor``.

    Returns
    -------
    FanoTimeCourse

    Raises
    ------
    SpikeDataError
        Bad counts or windows.

    Examples
    --------
    >>> r = time_resolved_fano_factor([[[1, 0, 2]], [[3, 0, 0]]], window_bins=2)
    >>> r.mean.tolist(), r.fano.tolist()
    ([[2.0, 1.0]], [[1.0, 2.0]])
    """
    arr = _counts(counts, 3)
    sums, starts = _window_sums(arr, window_bins, step_bins)
    mean = sums.mean(axis=0)
    var = sums.var(axis=0, ddof=ddof)
    with np.errstate(invalid="ignore", divide="ignore"):
        fano = np.where(mean > 0, var / np.where(mean > 0, mean, 1.0), np.nan)
    return FanoTimeCourse(fano=fano, mean=mean, variance=var, window_start=starts, window_bins=int(window_bins))


@dataclass(frozen=True, eq=False)
class MeanMatchedFano:
    """Population Fano factor over time (Churchland et al. 2010, ``VarVsMean``).

    Attributes
    ----------
    fano : numpy.ndarray, float64, shape (n_windows,)
        Mean-matched Fano factor (slope of variance vs mean), averaged over repeats.
    fano_ci : numpy.ndarray, float64, shape (n_windows, 2)
        Slope ± 2 standard errors of the weighted regression, averaged over repeats.
    fano_all, fano_all_ci
        The same without mean matching (all neuron × condition points).
    mean_rate, mean_rate_all : numpy.ndarray, float64, shape (n_windows,)
        Mean rate of the kept points (averaged over repeats) and of all points, Hz.
    fraction_kept : float
        Fraction of points surviving the matching at each window.
    window_start : numpy.ndarray, int64, shape (n_windows,)
        First bin of each window.
    """

    fano: np.ndarray
    fano_ci: np.ndarray
    fano_all: np.ndarray
    fano_all_ci: np.ndarray
    mean_rate: np.ndarray
    mean_rate_all: np.ndarray
    fraction_kept: float
    window_start: np.ndarray


def _weighted_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least squares through the origin, as MATLAB ``lscov(x, y, w)``."""
    sxx = float(np.sum(w * x * x))
    if x.size < 2 or sxx <= 0:
        return float("nan"), float("nan")
    slope = float(np.sum(w * x * y)) / sxx
    mse = float(np.sum(w * (y - slope * x) ** 2)) / (x.size - 1)
    return slope, float(np.sqrt(mse / sxx))


def mean_matched_fano_factor(
    counts: Any,
    bin_size: float,
    window_bins: int,
    step_bins: int = 1,
    conditions: Any = None,
    bin_spacing: float = 0.25,
    n_repeats: int = 10,
    weighted: bool = True,
    seed: int | np.random.Generator = 0,
) -> MeanMatchedFano:
    """Mean-matched Fano factor of a population over time (Churchland et al. 2010).

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes, n_bins)
        Output of :func:`analysis.binning.bin_spikes`.
    bin_size : float
        Bin width (s); sets the rates (Hz) and the regression weights.
    window_bins, step_bins : int
        Sliding counting window and step, in bins (Churchland et al.: 50 ms windows).
    conditions : array_like, shape (n_trials,), optional
        Condition label per trial; every neuron × condition is one data point.
    bin_spacing : float
        Width of the mean-count histogram bins used for matching (spikes; 0.25 in
        ``VarVsMean``).
    n_repeats : int
        Random down-selections averaged (10 in ``VarVsMean``).
    weighted : bool
        Weight each point by ``n_trials / (mean + eps)²`` with ``eps`` = 1 spike/s ×
        window (the sampling variance of a variance grows as the squared mean).
    seed : int or numpy.random.Generator
        Randomness of the down-selection.

    Returns
    -------
    MeanMatchedFano

    Raises
    ------
    SpikeDataError
        Bad counts, windows or conditions.

    Notes
    -----
    For each window, the mean and variance (ddof 1) of the count over trials is taken
    for every neuron × condition. The Fano factor is the slope of variance against mean
    through the origin (weighted least squares). To separate a change of variability from
    a change of rate, the histogram of means (bins of ``bin_spacing`` spikes) is reduced
    to the greatest distribution common to all windows (bin-wise minimum) and, at each
    window, that many points are drawn at random from each histogram bin before the
    regression; ``n_repeats`` draws are averaged. This follows Churchland et al.'s
    ``VarVsMean.m`` step by step.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> c = rng.poisson(rng.uniform(1, 8, size=(1, 200, 1)), size=(100, 200, 4))
    >>> r = mean_matched_fano_factor(c, bin_size=0.05, window_bins=2, step_bins=2)
    >>> bool(np.all(np.abs(r.fano - 1) < 0.1))
    True
    """
    arr = _counts(counts, 3)
    bin_size = float(bin_size)
    if not np.isfinite(bin_size) or bin_size <= 0:
        raise SpikeDataError(f"bin_size must be a positive number of seconds, got {bin_size}")
    if not bin_spacing > 0:
        raise SpikeDataError(f"bin_spacing must be > 0 spikes, got {bin_spacing}")
    if n_repeats < 1:
        raise SpikeDataError(f"n_repeats must be >= 1, got {n_repeats}")
    rng = np.random.default_rng(seed)
    cond, n_cond = _conditions(conditions, arr.shape[0])
    sums, starts = _window_sums(arr, window_bins, step_bins)
    n_windows = starts.size
    means, variances, n_trials = [], [], []
    for c in range(n_cond):
        sel = sums[cond == c]
        if sel.shape[0] < 2:
            raise SpikeDataError(f"conditions: every condition needs >= 2 trials, condition {c} has {sel.shape[0]}")
        means.append(sel.mean(axis=0))
        variances.append(sel.var(axis=0, ddof=1))
        n_trials.append(np.full(sel.shape[1], sel.shape[0], dtype=np.float64))
    mn = np.concatenate(means, axis=0)  # (n_points, n_windows)
    vr = np.concatenate(variances, axis=0)
    trial_count = np.concatenate(n_trials)
    window_s = window_bins * bin_size
    eps = 1.0 * window_s  # 1 spike/s over the window (VarVsMean's weightingEpsilon)

    def weights(idx: np.ndarray, t: int) -> np.ndarray:
        if not weighted:
            return np.ones(idx.size)
        return trial_count[idx] / (mn[idx, t] + eps) ** 2

    every = np.arange(mn.shape[0])
    fano_all = np.empty(n_windows)
    fano_all_ci = np.empty((n_windows, 2))
    for t in range(n_windows):
        b, sb = _weighted_slope(mn[:, t], vr[:, t], weights(every, t))
        fano_all[t], fano_all_ci[t] = b, (b - 2 * sb, b + 2 * sb)
    which = np.floor(mn / bin_spacing).astype(np.int64)
    n_hist = int(which.max()) + 1 if which.size else 1
    hist = np.stack([np.bincount(which[:, t], minlength=n_hist) for t in range(n_windows)])
    target = hist.min(axis=0)
    n_kept = int(target.sum())
    if n_kept < 5:
        raise SpikeDataError(
            f"mean matching kept only {n_kept} points; increase bin_spacing or check that rates overlap over time"
        )
    logger.debug("mean matching keeps %d of %d points per window", n_kept, mn.shape[0])
    fano = np.zeros(n_windows)
    fano_ci = np.zeros((n_windows, 2))
    rate = np.zeros(n_windows)
    for _ in range(n_repeats):
        for t in range(n_windows):
            order = np.lexsort((rng.random(mn.shape[0]), which[:, t]))
            bins_sorted = which[order, t]
            first = np.searchsorted(bins_sorted, bins_sorted, side="left")
            rank = np.arange(order.size) - first
            keep = order[rank < target[bins_sorted]]
            b, sb = _weighted_slope(mn[keep, t], vr[keep, t], weights(keep, t))
            fano[t] += b / n_repeats
            fano_ci[t] += np.array([b - 2 * sb, b + 2 * sb]) / n_repeats
            rate[t] += mn[keep, t].mean() / window_s / n_repeats
    return MeanMatchedFano(
        fano=fano,
        fano_ci=fano_ci,
        fano_all=fano_all,
        fano_all_ci=fano_all_ci,
        mean_rate=rate,
        mean_rate_all=mn.mean(axis=0) / window_s,
        fraction_kept=n_kept / mn.shape[0],
        window_start=starts,
    )


def condition_means(counts: Any, conditions: Any = None) -> np.ndarray:
    """Mean count of each trial's condition, per neuron.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes)
    conditions : array_like, shape (n_trials,), optional

    Returns
    -------
    numpy.ndarray, float64, shape (n_trials, n_nodes)

    Examples
    --------
    >>> condition_means([[1, 0], [3, 2], [5, 5]], ["a", "a", "b"]).tolist()
    [[2.0, 1.0], [2.0, 1.0], [5.0, 5.0]]
    """
    arr = np.asarray(counts)
    if arr.ndim != 2:
        raise SpikeDataError(f"counts must have shape (n_trials, n_nodes), got {arr.shape}")
    arr = arr.astype(np.float64)
    cond, n_cond = _conditions(conditions, arr.shape[0])
    sums = np.zeros((n_cond, arr.shape[1]))
    np.add.at(sums, cond, arr)
    return (sums / np.bincount(cond, minlength=n_cond)[:, None])[cond]


def _gain_loglik(n: np.ndarray, mu: np.ndarray, log_a: np.ndarray) -> np.ndarray:
    """Negative-binomial log-likelihood per neuron (up to a constant), ``a = var gain``."""
    r = np.exp(-log_a)[None, :]  # NB shape 1/a
    with np.errstate(divide="ignore", invalid="ignore"):
        term = gammaln(n + r) - gammaln(r) + r * np.log(r / (r + mu))
        term += np.where(n > 0, n * np.log(mu / (mu + r)), 0.0)
    term = np.where(mu > 0, term, 0.0)
    return term.sum(axis=0)


def gain_variance(counts: Any, conditions: Any = None, method: str = "mle") -> np.ndarray:
    """Variance of a shared multiplicative gain per neuron (modulated Poisson model).

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes)
        Spike counts per trial (repeats of one or several conditions).
    conditions : array_like, shape (n_trials,), optional
        Condition label per trial; each condition has its own mean, all share the gain
        variance.
    method : {"mle", "moments"}
        Maximum likelihood of the negative binomial (Goris et al. 2014), or the moment
        estimator ``sum_c (s²_c - m_c) / sum_c m_c²``.

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes,)
        :math:`\\sigma_G^2 \\ge 0`; 0 for under-dispersed neurons, NaN for silent ones.

    Raises
    ------
    SpikeDataError
        Bad counts, conditions or method.

    Notes
    -----
    The count is Poisson with rate :math:`G\\mu_c`, the gain :math:`G` being Gamma
    distributed with mean 1 and variance :math:`\\sigma_G^2`; the count is then negative
    binomial with

    .. math:: \\mathrm{Var}[N] = \\mu_c + \\sigma_G^2 \\mu_c^2

    (Goris et al. 2014, eq. 2). The mean of each condition is its sample mean (the
    negative-binomial maximum-likelihood mean); :math:`\\log\\sigma_G^2` maximises the
    likelihood pooled over conditions by a golden-section search in
    :math:`[10^{-5}, 10^2]`, vectorised over neurons; estimates at the lower bound are
    reported as 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = rng.gamma(1 / 0.2, 0.2, size=(4000, 1))
    >>> n = rng.poisson(10 * g * np.ones((1, 3)))
    >>> np.round(gain_variance(n), 1).tolist()
    [0.2, 0.2, 0.2]
    """
    arr = _counts(counts, 2)
    if method not in ("mle", "moments"):
        raise SpikeDataError(f"method must be 'mle' or 'moments', got {method!r}")
    cond, n_cond = _conditions(conditions, arr.shape[0])
    mu = condition_means(arr, cond)
    silent = ~np.any(arr > 0, axis=0)
    if method == "moments":
        num = np.zeros(arr.shape[1])
        den = np.zeros(arr.shape[1])
        for c in range(n_cond):
            sel = arr[cond == c]
            if sel.shape[0] < 2:
                raise SpikeDataError(f"conditions: condition {c} needs >= 2 trials for a variance")
            m = sel.mean(axis=0)
            num += sel.var(axis=0, ddof=1) - m
            den += m * m
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.maximum(num / den, 0.0)
        return np.where(silent, np.nan, est)
    lo = np.full(arr.shape[1], np.log(1e-5))
    hi = np.full(arr.shape[1], np.log(1e2))
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    x1 = hi - golden * (hi - lo)
    x2 = lo + golden * (hi - lo)
    f1 = _gain_loglik(arr, mu, x1)
    f2 = _gain_loglik(arr, mu, x2)
    for _ in range(60):  # bracket shrinks by 0.618 per step: 16.1 * 0.618**60 < 1e-11
        left = f1 >= f2  # the maximum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x1_new = np.where(left, hi - golden * (hi - lo), x2)
        x2_new = np.where(left, x1, lo + golden * (hi - lo))
        f_new = _gain_loglik(arr, mu, np.where(left, x1_new, x2_new))
        f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
        x1, x2 = x1_new, x2_new
    est = np.exp(0.5 * (lo + hi))
    est = np.where(est < 2e-5, 0.0, est)
    return np.where(silent, np.nan, est)


def noise_correlations(counts: Any, conditions: Any = None, pairs: Any = None) -> np.ndarray:
    """Spike-count correlations across repeats after removing each condition's mean.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes)
        Spike counts per trial.
    conditions : array_like, shape (n_trials,), optional
        Condition label per trial.
    pairs : array_like of int, shape (n_pairs, 2), optional
        Compute only these pairs.

    Returns
    -------
    numpy.ndarray, float64
        ``(n_nodes, n_nodes)`` or ``(n_pairs,)``; NaN for neurons without variance.

    Notes
    -----
    Counts are z-scored within each condition (mean removed, divided by the condition's
    standard deviation, ddof 1), then Pearson-correlated over all trials. Z-scoring
    rather than only subtracting the mean keeps conditions with large variance from
    dominating (Cohen & Kohn 2011, Box 1).

    Examples
    --------
    >>> c = [[1, 2], [3, 4], [10, 1], [12, 3]]
    >>> noise_correlations(c, ["a", "a", "b", "b"]).round(3).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    arr = _counts(counts, 2)
    cond, n_cond = _conditions(conditions, arr.shape[0])
    z = np.zeros_like(arr)
    for c in range(n_cond):
        sel = cond == c
        if sel.sum() < 2:
            raise SpikeDataError(f"conditions: condition {c} needs >= 2 trials")
        block = arr[sel]
        sd = block.std(axis=0, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            z[sel] = np.where(sd > 0, (block - block.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    return correlation_coefficient(z.T, pairs=pairs)


def population_gain(counts: Any, conditions: Any = None) -> np.ndarray:
    """Per-trial multiplicative gain of a population relative to its condition means.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes)
    conditions : array_like, shape (n_trials,), optional

    Returns
    -------
    numpy.ndarray, float64, shape (n_trials,)
        :math:`G_r = \\sum_i N_{ir} / \\sum_i \\mu_{i c(r)}`: 1 on an average trial; NaN
        when the condition is silent.

    Examples
    --------
    >>> population_gain([[1, 1], [3, 3]]).tolist()
    [0.5, 1.5]
    """
    arr = _counts(counts, 2)
    mu = condition_means(arr, conditions)
    den = mu.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, arr.sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True)
class NoiseTransfer:
    """Ordinary-least-squares fit ``G_k - 1 = intercept + slope · (g_j / mean(g_j) - 1)``.

    Attributes
    ----------
    slope : float
        Transfer coefficient :math:`a_{kj}` (1: the relative gain fluctuation injected at
        station j reappears unchanged at station k; 0: none of it).
    stderr : float
        Standard error of the slope (OLS).
    intercept : float
    r : float
        Pearson correlation between injected and measured gain.
    n_trials : int
    """

    slope: float
    stderr: float
    intercept: float
    r: float
    n_trials: int


def noise_transfer_slope(counts: Any, injected_gain: Any, conditions: Any = None) -> NoiseTransfer:
    """Slope of a station's per-trial gain on the gain noise injected at another station.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_nodes)
        Spike counts per trial of the receiving station k (one population or several
        concatenated along nodes).
    injected_gain : array_like, shape (n_trials,)
        Multiplicative gain applied at station j on each trial (dimensionless, e.g.
        drawn from a Gamma or log-normal distribution with mean about 1).
    conditions : array_like, shape (n_trials,), optional
        Condition label per trial; condition means are removed first.

    Returns
    -------
    NoiseTransfer

    Raises
    ------
    SpikeDataError
        Bad counts, gains or conditions, or injected gains without variance.

    Notes
    -----
    Estimator: the measured gain of station k on trial r is the population gain
    :math:`G_r = \\sum_i N_{ir} / \\sum_i \\mu_{ic(r)}` (:func:`population_gain`; pooling
    over neurons averages out Poisson noise, whose contribution to :math:`G_r` has
    variance :math:`1/\\sum_i\\mu_i`). The injected relative gain is
    :math:`x_r = g_r/\\bar g - 1`. The transfer coefficient is the OLS slope
    :math:`a_{kj} = \\mathrm{cov}(x, G)/\\mathrm{var}(x)` with an intercept.
    Poisson noise only adds variance to :math:`G` (not to :math:`x`), so the slope is
    unbiased, and its standard error shrinks as :math:`1/\\sqrt{n_{trials}}`. Gains that
    are not multiplicative downstream (e.g. saturating) give the linearised slope.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> g = rng.gamma(25.0, 1 / 25.0, size=2000)
    >>> n = rng.poisson(20.0 * (1 + 0.5 * (g - 1))[:, None] * np.ones((1, 50)))
    >>> round(noise_transfer_slope(n, g).slope, 1)
    0.5
    """
    arr = _counts(counts, 2)
    g = np.asarray(injected_gain, dtype=np.float64)
    if g.ndim != 1 or g.size != arr.shape[0]:
        raise SpikeDataError(f"injected_gain must have one value per trial ({arr.shape[0]}), got shape {g.shape}")
    if not np.all(np.isfinite(g)) or g.mean() <= 0:
        raise SpikeDataError("injected_gain must be finite with a positive mean")
    y = population_gain(arr, conditions) - 1.0
    ok = np.isfinite(y)
    x = g[ok] / g.mean() - 1.0
    y = y[ok]
    if x.size < 3:
        raise SpikeDataError(f"noise transfer needs >= 3 trials with spikes, got {x.size}")
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx <= 0:
        raise SpikeDataError("injected_gain has no variance across trials")
    dy = y - y.mean()
    slope = float(dx @ dy) / sxx
    intercept = float(y.mean() - slope * x.mean())
    resid = dy - slope * dx
    stderr = float(np.sqrt((resid @ resid) / (x.size - 2) / sxx))
    syy = float(dy @ dy)
    r = float(dx @ dy) / np.sqrt(sxx * syy) if syy > 0 else float("nan")
    return NoiseTransfer(slope=slope, stderr=stderr, intercept=intercept, r=r, n_trials=int(x.size))


def noise_transfer_matrix(
    runs: Mapping[str, tuple[Any, ...]],
    stations: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-transfer slopes ``a_kj`` for every pair of stations.

    Parameters
    ----------
    runs : mapping of str to tuple
        Injection station j → ``(injected_gain, counts_by_station)`` or
        ``(injected_gain, counts_by_station, conditions)``: the per-trial gain injected at
        j (shape ``(n_trials,)``), the spike counts of each recorded station k (mapping
        k → ``(n_trials, n_nodes_k)``) from the same trials, and optional condition labels.
    stations : sequence of str
        Station order of the matrix, e.g. ``["lgn", "v1", "v2", "v4", "it"]``.

    Returns
    -------
    slope, stderr : numpy.ndarray, float64, shape (n_stations, n_stations)
        ``slope[k, j] = a_kj`` (:func:`noise_transfer_slope`) and its standard error; NaN
        where station j had no injection run or station k was not recorded in it.

    Raises
    ------
    SpikeDataError
        Unknown station names or malformed runs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = rng.gamma(25.0, 1 / 25.0, size=1000)
    >>> v2 = rng.poisson(20.0 * g[:, None] * np.ones((1, 40)))
    >>> slope, se = noise_transfer_matrix({"v1": (g, {"v2": v2})}, ["v1", "v2"])
    >>> np.round(slope, 1).tolist()
    [[nan, nan], [1.0, nan]]
    """
    names = list(stations)
    index = {name: k for k, name in enumerate(names)}
    slope = np.full((len(names), len(names)), np.nan)
    stderr = np.full_like(slope, np.nan)
    for j_name, run in runs.items():
        if j_name not in index:
            raise SpikeDataError(f"runs: unknown injection station {j_name!r}; stations are {names}")
        if not isinstance(run, tuple) or len(run) not in (2, 3) or not isinstance(run[1], Mapping):
            raise SpikeDataError(
                f"runs[{j_name!r}] must be (injected_gain, {{station: counts}}[, conditions])"
            )
        gain, by_station = run[0], run[1]
        conditions = run[2] if len(run) == 3 else None
        for k_name, counts in by_station.items():
            if k_name not in index:
                raise SpikeDataError(f"runs[{j_name!r}]: unknown recorded station {k_name!r}; stations are {names}")
            fit = noise_transfer_slope(counts, gain, conditions)
            slope[index[k_name], index[j_name]] = fit.slope
            stderr[index[k_name], index[j_name]] = fit.stderr
    return slope, stderr
