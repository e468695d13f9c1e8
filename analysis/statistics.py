"""Confidence intervals over seeds and the summary record of ``results.json``.

Every number an experiment reports is a mean over independent network seeds with a
percentile-bootstrap confidence interval (DESIGN §5: "over ≥ 5 seeds, bootstrap CI").

Functions
---------
bootstrap_ci
    Percentile-bootstrap confidence interval of a statistic of per-seed values.
summarize_seeds
    The ``{"mean", "ci_low", "ci_high", "per_seed"}`` record used in ``results.json``.
summarize_difference
    The same record for a difference between two variants (paired by seed or not).
build_metrics
    The nested ``metrics`` block of ``results.json`` from per-seed values.
binomial_chance_upper
    Accuracy a chance-level decoder exceeds only with probability ``alpha``.

References
----------
Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall,
ch. 13 (percentile intervals). doi:10.1201/9780429246593
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from analysis.errors import ConfigError, SpikeDataError

__all__ = ["bootstrap_ci", "summarize_seeds", "summarize_difference", "build_metrics", "binomial_chance_upper"]

logger = logging.getLogger(__name__)

#: Bootstrap resamples; 10,000 makes the Monte-Carlo error of a 95 % percentile bound
#: about 0.5 % of the bootstrap SD (Efron & Tibshirani 1993, §19.3).
DEFAULT_N_BOOT = 10_000
_BLOCK_VALUES = 1_000_000


def _finite_array(
    name: str,
    values: ArrayLike,
    ndim: int | tuple[int, ...] | None = None,
    min_size: int = 1,
    allow_nan: bool = False,
    nonnegative: bool = False,
) -> np.ndarray:
    """Return ``values`` as float64 after the checks every analysis function shares.

    Raises :class:`SpikeDataError` with one line naming ``name`` on a wrong number of
    dimensions, fewer than ``min_size`` elements, NaN/inf (unless ``allow_nan``) or
    negative values (when ``nonnegative``).
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpikeDataError(f"{name}: expected numbers, got {type(values).__name__}") from exc
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and array.ndim not in allowed:
        raise SpikeDataError(
            f"{name}: expected {' or '.join(map(str, allowed))} dimensions, got shape {array.shape}"
        )
    if array.size < min_size:
        raise SpikeDataError(f"{name}: needs at least {min_size} values, got {array.size}")
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if bad.any():
        raise SpikeDataError(f"{name}: contains {int(bad.sum())} NaN or infinite values")
    if nonnegative and (array < 0).any():
        raise SpikeDataError(f"{name}: must be >= 0 (rates or counts), min is {np.nanmin(array):g}")
    return array


def _generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def bootstrap_ci(
    values: ArrayLike,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | np.random.Generator | None = 0,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of a statistic of independent samples.

    Parameters
    ----------
    values : array_like, shape (n_seeds,)
        One value per independent replicate (network seed). NaN entries are dropped.
    confidence : float
        Coverage of the interval, in (0, 1).
    n_boot : int
        Number of bootstrap resamples.
    seed : int or numpy.random.Generator
        Randomness of the resampling (the interval is reproducible for a given seed).
    statistic : callable, optional
        ``statistic(samples)`` with ``samples`` of shape (n_boot, n) returning shape
        (n_boot,); default the mean along axis 1.

    Returns
    -------
    (ci_low, ci_high) : tuple of float
        The ``(1 - confidence)/2`` and ``(1 + confidence)/2`` quantiles of the bootstrap
        distribution; both equal the value for a single replicate, NaN for none.

    Raises
    ------
    ConfigError
        ``confidence`` outside (0, 1) or ``n_boot`` < 1.
    SpikeDataError
        ``values`` not one-dimensional or infinite.

    Notes
    -----
    The percentile interval undercovers for very few replicates (Efron & Tibshirani 1993,
    §13.3): for the mean of 5 Gaussian samples a nominal 95 % interval covered the true
    mean in 85 % of 2,000 simulated experiments (20 samples: 93 %).

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap, ch. 13.
    doi:10.1201/9780429246593

    Examples
    --------
    >>> low, high = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 5.0], seed=1)
    >>> bool(1.0 < low < 3.0 < high < 5.0)
    True
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence: must lie in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ConfigError(f"n_boot: must be >= 1, got {n_boot}")
    samples = _finite_array("values", values, ndim=1, min_size=0, allow_nan=True)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    if samples.size == 1:
        return float(samples[0]), float(samples[0])
    rng = _generator(seed)
    # resample in blocks of about 10⁶ values so that memory stays bounded for long inputs
    block = max(1, _BLOCK_VALUES // samples.size)
    boot = np.empty(n_boot)
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        resampled = samples[rng.integers(0, samples.size, size=(stop - start, samples.size))]
        boot[start:stop] = resampled.mean(axis=1) if statistic is None else np.asarray(statistic(resampled))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarize_seeds(
    per_seed: Sequence[float] | ArrayLike,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, float | list[float]]:
    """Mean and bootstrap CI over seeds, as stored in ``results.json`` (issue #7).

    Parameters
    ----------
    per_seed : array_like, shape (n_seeds,)
        The metric measured once per network seed; NaN marks a seed where it is undefined
        (e.g. a silent population) and is excluded from the mean and CI but kept in
        ``per_seed``.
    confidence, n_boot, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    dict
        ``{"mean": float, "ci_low": float, "ci_high": float, "per_seed": list of float}``;
        the mean is NaN if every seed is NaN.

    Examples
    --------
    >>> record = summarize_seeds([0.5, 0.7, 0.6])
    >>> round(record["mean"], 6), record["per_seed"]
    (0.6, [0.5, 0.7, 0.6])
    """
    values = _finite_array("per_seed", per_seed, ndim=1, min_size=1, allow_nan=True)
    finite = values[~np.isnan(values)]
    low, high = bootstrap_ci(finite, confidence=confidence, n_boot=n_boot, seed=seed)
    mean = float(finite.mean()) if finite.size else float("nan")
    return {"mean": mean, "ci_low": low, "ci_high": high, "per_seed": [float(v) for v in values]}


def summarize_difference(
    per_seed_a: ArrayLike,
    per_seed_b: ArrayLike,
    paired: bool = True,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, float | list[float]]:
    """Summary record of ``a − b`` between two variants (e.g. residual − hierarchical).

    Parameters
    ----------
    per_seed_a, per_seed_b : array_like, shape (n_seeds,)
        Per-seed values of the two variants.
    paired : bool
        If True (seed *i* of both variants shares stimulus and connectivity seeds), the
        differences per seed are bootstrapped and both arrays must have the same length;
        otherwise each variant is resampled independently.
    confidence, n_boot, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    dict
        As :func:`summarize_seeds`; ``per_seed`` holds the paired differences, or is empty
        when ``paired`` is False.

    Raises
    ------
    SpikeDataError
        Paired arrays of different lengths.

    Examples
    --------
    >>> summarize_difference([3.0, 4.0], [1.0, 1.0])["per_seed"]
    [2.0, 3.0]
    """
    a = _finite_array("per_seed_a", per_seed_a, ndim=1, allow_nan=True)
    b = _finite_array("per_seed_b", per_seed_b, ndim=1, allow_nan=True)
    if paired:
        if a.shape != b.shape:
            raise SpikeDataError(
                f"per_seed_b: paired comparison needs as many seeds as per_seed_a ({a.size}), got {b.size}"
            )
        return summarize_seeds(a - b, confidence=confidence, n_boot=n_boot, seed=seed)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "per_seed": []}
    rng = _generator(seed)
    boot = (a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
            - b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return {"mean": float(a.mean() - b.mean()), "ci_low": float(low), "ci_high": float(high), "per_seed": []}


def build_metrics(
    per_seed: Mapping[tuple[str, str, str, str], Sequence[float] | ArrayLike],
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, dict[str, dict[str, float | list[float]]]]]]:
    """Nested ``{variant: {station: {layer: {metric: record}}}}`` block of ``results.json``.

    Parameters
    ----------
    per_seed : mapping (variant, station, layer, metric) → array_like, shape (n_seeds,)
        Per-seed values of every metric (NaN where undefined for a seed).
    confidence, n_boot
        As in :func:`bootstrap_ci`.
    seed : int
        Base seed of the bootstrap; every record uses the same seed, so records are
        reproducible and independent of the order of ``per_seed``.

    Returns
    -------
    dict
        Keys in insertion order of ``per_seed``; leaves are :func:`summarize_seeds` records.

    Raises
    ------
    ConfigError
        A key that is not a 4-tuple of strings.

    Examples
    --------
    >>> block = build_metrics({("residual", "v1", "l5", "osi"): [0.3, 0.5]})
    >>> block["residual"]["v1"]["l5"]["osi"]["mean"]
    0.4
    """
    tree: dict = {}
    for key, values in per_seed.items():
        if not (isinstance(key, tuple) and len(key) == 4 and all(isinstance(part, str) for part in key)):
            raise ConfigError(f"per_seed: keys must be (variant, station, layer, metric) strings, got {key!r}")
        variant, station, layer, metric = key
        record = summarize_seeds(values, confidence=confidence, n_boot=n_boot, seed=seed)
        tree.setdefault(variant, {}).setdefault(station, {}).setdefault(layer, {})[metric] = record
    return tree


def binomial_chance_upper(n_trials: int, chance: float, alpha: float = 0.05) -> float:
    """Accuracy that a decoder guessing at ``chance`` exceeds with probability ≤ ``alpha``.

    Parameters
    ----------
    n_trials : int
        Number of test predictions.
    chance : float
        Probability of a correct guess, in (0, 1).
    alpha : float
        One-sided significance level.

    Returns
    -------
    float
        The smallest ``k / n_trials`` with ``P(K ≥ k) ≤ alpha`` for
        ``K ~ Binomial(n_trials, chance)``.

    References
    ----------
    Combrisson, E. & Jerbi, K. (2015). Exceeding chance level by chance. J. Neurosci.
    Methods 250, 126–136. doi:10.1016/j.jneumeth.2015.01.010

    Examples
    --------
    >>> round(binomial_chance_upper(100, 0.5), 2)
    0.59
    """
    if n_trials < 1:
        raise ConfigError(f"n_trials: must be >= 1, got {n_trials}")
    if not 0.0 < chance < 1.0:
        raise ConfigError(f"chance: must lie in (0, 1), got {chance}")
    # isf gives the largest k with P(K > k) > alpha boundary; +1 turns it into P(K >= k) <= alpha
    k = stats.binom.isf(alpha, n_trials, chance) + 1
    return float(min(k, n_trials) / n_trials)
