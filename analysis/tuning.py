"""Orientation and direction tuning, F1/F0 modulation and response latency.

All functions work on every neuron at once: tuning curves are arrays of shape
(n_conditions, n_nodes), PSTHs of shape (n_nodes, n_bins). Angles are in degrees, times in
seconds, rates in spikes/s.

Functions
---------
tuning_curves
    Mean and SEM response per stimulus condition from single-trial responses.
orientation_selectivity_index
    OSI as 1 − circular variance (Ringach et al. 2002) or peak-based (pref − orth)/(pref + orth).
direction_selectivity_index
    DSI as peak-based (pref − null)/(pref + null) or 1 − directional circular variance.
preferred_orientation, preferred_direction
    Vector-sum preferred orientation (0–180°) and direction (0–360°).
f1_f0_ratio
    First-harmonic over mean response of a PSTH to a drifting grating (Skottun et al. 1991).
f1_f0_from_spike_times
    The same from spike times, without binning.
shuffled_osi
    OSI after permuting condition labels across trials: the untuned control (finite-trial bias).
response_latency
    First of ``n_consecutive`` bins above baseline mean + ``n_sd`` SD after stimulus onset.

References
----------
Ringach, D. L., Shapley, R. M. & Hawken, M. J. (2002). Orientation selectivity in macaque V1:
diversity and laminar dependence. J. Neurosci. 22, 5639–5651.
doi:10.1523/JNEUROSCI.22-13-05639.2002
Mazurek, M., Kager, M. & Van Hooser, S. D. (2014). Robust quantification of orientation
selectivity and direction selectivity. Front. Neural Circuits 8, 92. doi:10.3389/fncir.2014.00092
Skottun, B. C., De Valois, R. L., Grosof, D. H., Movshon, J. A., Albrecht, D. G. & Bonds, A. B.
(1991). Classifying simple and complex cells on the basis of response modulation. Vision Res.
31, 1079–1086. doi:10.1016/0042-6989(91)90033-2
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike

from analysis.errors import ConfigError, SpikeDataError
from analysis.statistics import _finite_array, _generator

__all__ = [
    "tuning_curves",
    "orientation_selectivity_index",
    "direction_selectivity_index",
    "preferred_orientation",
    "preferred_direction",
    "f1_f0_ratio",
    "f1_f0_from_spike_times",
    "shuffled_osi",
    "response_latency",
]

logger = logging.getLogger(__name__)

#: Angles closer than this (deg) count as the same condition when looking up the
#: orthogonal or opposite stimulus.
ANGLE_TOLERANCE_DEG = 1e-6


def _tuning_and_angles(tuning: ArrayLike, angles_deg: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate a tuning array (n_conditions[, n_nodes]) against its angles; 2-D view."""
    curves = _finite_array("tuning", tuning, ndim=(1, 2), nonnegative=True)
    angles = _finite_array("angles_deg", angles_deg, ndim=1)
    if curves.shape[0] != angles.size:
        raise SpikeDataError(
            f"tuning: first axis has {curves.shape[0]} conditions but angles_deg has {angles.size}"
        )
    if angles.size < 2:
        raise SpikeDataError(f"angles_deg: needs at least 2 conditions, got {angles.size}")
    squeeze = curves.ndim == 1
    return (curves[:, None] if squeeze else curves), angles, squeeze


def _vector_strength(curves: np.ndarray, angles_deg: np.ndarray, harmonic: int) -> np.ndarray:
    """|Σ r e^{i·harmonic·θ}| / Σ r per neuron (NaN where Σ r = 0)."""
    phasors = np.exp(1j * harmonic * np.deg2rad(angles_deg))
    total = curves.sum(axis=0)
    resultant = np.abs(phasors @ curves)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, resultant / np.where(total > 0, total, 1.0), np.nan)


def _response_at_offset(curves: np.ndarray, angles: np.ndarray, period: float, offset: float) -> np.ndarray:
    """Response at (preferred-peak angle + offset) mod period, per neuron.

    Raises ConfigError if that angle was not presented.
    """
    wrapped = np.mod(angles, period)
    pref_idx = np.argmax(curves, axis=0)
    target = np.mod(wrapped[pref_idx] + offset, period)
    distance = np.abs(np.mod(wrapped[:, None] - target[None, :] + period / 2, period) - period / 2)
    match = distance <= ANGLE_TOLERANCE_DEG
    if not match.any(axis=0).all():
        raise ConfigError(
            f"angles_deg: the peak-based index needs the stimulus {offset:g} deg from each preferred "
            "one; sample angles evenly over the full period"
        )
    idx = np.argmax(match, axis=0)
    return curves[idx, np.arange(curves.shape[1])]


def tuning_curves(
    responses: ArrayLike, conditions: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error of the response per stimulus condition.

    Parameters
    ----------
    responses : array_like, shape (n_trials, n_nodes) or (n_trials,)
        Single-trial responses (e.g. spike counts / window duration, spikes/s).
    conditions : array_like, shape (n_trials,)
        Condition value of each trial (e.g. orientation in deg).

    Returns
    -------
    values : ndarray, shape (n_conditions,)
        Sorted unique condition values.
    mean : ndarray, shape (n_conditions, n_nodes) (or (n_conditions,)), float64
        Mean response per condition.
    sem : ndarray, same shape as ``mean``
        Standard error of the mean (ddof=1; NaN for a condition with one trial).

    Raises
    ------
    SpikeDataError
        Empty, NaN or mismatched inputs.

    Examples
    --------
    >>> values, mean, sem = tuning_curves([1.0, 3.0, 10.0, 14.0], [0, 0, 90, 90])
    >>> values.tolist(), mean.tolist()
    ([0.0, 90.0], [2.0, 12.0])
    """
    data = _finite_array("responses", responses, ndim=(1, 2))
    labels = _finite_array("conditions", conditions, ndim=1)
    if labels.size != data.shape[0]:
        raise SpikeDataError(
            f"conditions: has {labels.size} entries but responses has {data.shape[0]} trials"
        )
    squeeze = data.ndim == 1
    data2 = data[:, None] if squeeze else data
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.zeros((values.size, data2.shape[1]))
    np.add.at(sums, inverse, data2)
    mean = sums / counts[:, None]
    squares = np.zeros_like(sums)
    np.add.at(squares, inverse, (data2 - mean[inverse]) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = squares / (counts[:, None] - 1)
        sem = np.sqrt(var / counts[:, None])
    sem[counts == 1] = np.nan
    if squeeze:
        return values, mean[:, 0], sem[:, 0]
    return values, mean, sem


def orientation_selectivity_index(
    tuning: ArrayLike, angles_deg: ArrayLike, method: str = "circular_variance"
) -> np.ndarray | float:
    """Orientation selectivity index of every neuron.

    Parameters
    ----------
    tuning : array_like, shape (n_conditions, n_nodes) or (n_conditions,)
        Mean response (≥ 0, spikes/s) per condition, e.g. from :func:`tuning_curves`.
    angles_deg : array_like, shape (n_conditions,)
        Orientation (0–180°) or drift direction (0–360°) of each condition, deg; both
        work because orientation is taken modulo 180°.
    method : {"circular_variance", "peak"}
        ``"circular_variance"``: 1 − CV = |Σ r_k e^{2iθ_k}| / Σ r_k (Ringach et al. 2002).
        ``"peak"``: (R_pref − R_orth)/(R_pref + R_orth) with R_pref the largest response and
        R_orth the mean response at the orientation 90° away (both directions of it when
        directions are given).

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        OSI in [0, 1]; NaN for a neuron that never responds.

    Raises
    ------
    SpikeDataError
        NaN, negative or mismatched inputs.
    ConfigError
        Unknown ``method``, or (peak) the orthogonal orientation was not presented.

    Notes
    -----
    With evenly spaced angles, the circular-variance OSI of a von Mises tuning curve
    ``r(θ) = exp(κ cos 2(θ − θ0))`` is ``I1(κ)/I0(κ)`` (modified Bessel functions), which
    the tests use.

    References
    ----------
    Ringach et al. (2002). doi:10.1523/JNEUROSCI.22-13-05639.2002
    Mazurek et al. (2014). doi:10.3389/fncir.2014.00092

    Examples
    --------
    >>> float(orientation_selectivity_index([1.0, 0.0, 0.0, 0.0], [0, 45, 90, 135]))
    1.0
    >>> float(orientation_selectivity_index([3.0, 2.0, 1.0, 2.0], [0, 45, 90, 135], method="peak"))
    0.5
    """
    curves, angles, squeeze = _tuning_and_angles(tuning, angles_deg)
    if method == "circular_variance":
        osi = _vector_strength(curves, angles, harmonic=2)
    elif method == "peak":
        pref = curves.max(axis=0)
        if np.any(np.mod(angles, 360.0) >= 180.0 + ANGLE_TOLERANCE_DEG):
            # directions: the orthogonal orientation is two directions, pref ± 90°
            orth = 0.5 * (_response_at_offset(curves, angles, 360.0, 90.0)
                          + _response_at_offset(curves, angles, 360.0, 270.0))
        else:
            orth = _response_at_offset(curves, angles, 180.0, 90.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            osi = np.where(pref > 0, (pref - orth) / np.where(pref + orth > 0, pref + orth, 1.0), np.nan)
    else:
        raise ConfigError(f"method: must be 'circular_variance' or 'peak', got {method!r}")
    return float(osi[0]) if squeeze else osi


def direction_selectivity_index(
    tuning: ArrayLike, directions_deg: ArrayLike, method: str = "peak"
) -> np.ndarray | float:
    """Direction selectivity index of every neuron.

    Parameters
    ----------
    tuning : array_like, shape (n_directions, n_nodes) or (n_directions,)
        Mean response (≥ 0, spikes/s) per drift direction.
    directions_deg : array_like, shape (n_directions,)
        Drift directions over 0–360°, deg.
    method : {"peak", "vector"}
        ``"peak"``: (R_pref − R_null)/(R_pref + R_null), R_null the response 180° from the
        peak. ``"vector"``: 1 − directional circular variance, |Σ r_k e^{iθ_k}| / Σ r_k
        (Mazurek et al. 2014).

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        DSI in [0, 1]; NaN for a neuron that never responds.

    Raises
    ------
    SpikeDataError
        NaN, negative or mismatched inputs.
    ConfigError
        Unknown ``method`` or (peak) the opposite direction was not presented.

    References
    ----------
    Mazurek et al. (2014). doi:10.3389/fncir.2014.00092

    Examples
    --------
    >>> float(direction_selectivity_index([4.0, 1.0, 2.0, 1.0], [0, 90, 180, 270]))
    0.3333333333333333
    """
    curves, angles, squeeze = _tuning_and_angles(tuning, directions_deg)
    if method == "vector":
        dsi = _vector_strength(curves, angles, harmonic=1)
    elif method == "peak":
        pref = curves.max(axis=0)
        null = _response_at_offset(curves, angles, 360.0, 180.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            dsi = np.where(pref > 0, (pref - null) / np.where(pref + null > 0, pref + null, 1.0), np.nan)
    else:
        raise ConfigError(f"method: must be 'peak' or 'vector', got {method!r}")
    return float(dsi[0]) if squeeze else dsi


def shuffled_osi(
    responses: ArrayLike,
    conditions: ArrayLike,
    n_shuffles: int = 20,
    method: str = "circular_variance",
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """OSI of every neuron after permuting the condition labels across trials.

    The OSI of an untuned neuron measured from finitely many noisy trials is above 0; this
    control gives the value expected without tuning, with the same trials and responses.

    Parameters
    ----------
    responses : array_like, shape (n_trials, n_nodes)
        Single-trial responses (≥ 0, spikes/s).
    conditions : array_like, shape (n_trials,)
        Orientation or direction of each trial, deg.
    n_shuffles : int
        Number of label permutations averaged.
    method : {"circular_variance", "peak"}
        As in :func:`orientation_selectivity_index`.
    seed : int or numpy.random.Generator
        Randomness of the permutations.

    Returns
    -------
    ndarray, shape (n_nodes,)
        Mean OSI over permutations (NaN for silent neurons).

    Raises
    ------
    SpikeDataError, ConfigError
        As :func:`tuning_curves` and :func:`orientation_selectivity_index`;
        ``n_shuffles`` < 1.

    Examples
    --------
    >>> responses = np.tile([[4.0], [0.0]], (10, 1))
    >>> conditions = np.tile([0.0, 90.0], 10)
    >>> bool(shuffled_osi(responses, conditions)[0] < orientation_selectivity_index(
    ...     tuning_curves(responses, conditions)[1], [0.0, 90.0])[0])
    True
    """
    if n_shuffles < 1:
        raise ConfigError(f"n_shuffles: must be >= 1, got {n_shuffles}")
    data = _finite_array("responses", responses, ndim=2)
    labels = _finite_array("conditions", conditions, ndim=1)
    rng = _generator(seed)
    total = np.zeros(data.shape[1])
    for _ in range(n_shuffles):
        values, mean, _sem = tuning_curves(data, rng.permutation(labels))
        total += orientation_selectivity_index(mean, values, method=method)
    return total / n_shuffles


def preferred_orientation(tuning: ArrayLike, angles_deg: ArrayLike) -> np.ndarray | float:
    """Preferred orientation from the vector sum on the doubled angle, deg in [0, 180).

    Parameters
    ----------
    tuning : array_like, shape (n_conditions, n_nodes) or (n_conditions,)
        Mean response (≥ 0) per condition.
    angles_deg : array_like, shape (n_conditions,)
        Orientation or direction of each condition, deg.

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        ``arg(Σ r_k e^{2iθ_k}) / 2`` in degrees (Ringach et al. 2002); NaN for a silent neuron.

    Examples
    --------
    >>> float(preferred_orientation([0.0, 1.0, 0.0, 0.0], [0, 45, 90, 135]))
    45.0
    """
    curves, angles, squeeze = _tuning_and_angles(tuning, angles_deg)
    resultant = np.exp(2j * np.deg2rad(angles)) @ curves
    pref = np.mod(np.rad2deg(np.angle(resultant)) / 2.0, 180.0)
    pref = np.where(curves.sum(axis=0) > 0, pref, np.nan)
    return float(pref[0]) if squeeze else pref


def preferred_direction(tuning: ArrayLike, directions_deg: ArrayLike) -> np.ndarray | float:
    """Preferred drift direction from the vector sum, deg in [0, 360).

    Parameters
    ----------
    tuning : array_like, shape (n_directions, n_nodes) or (n_directions,)
        Mean response (≥ 0) per direction.
    directions_deg : array_like, shape (n_directions,)
        Drift directions, deg.

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        ``arg(Σ r_k e^{iθ_k})`` in degrees; NaN for a silent neuron.

    Examples
    --------
    >>> float(preferred_direction([0.0, 0.0, 2.0, 0.0], [0, 90, 180, 270]))
    180.0
    """
    curves, angles, squeeze = _tuning_and_angles(tuning, directions_deg)
    resultant = np.exp(1j * np.deg2rad(angles)) @ curves
    pref = np.mod(np.rad2deg(np.angle(resultant)), 360.0)
    pref = np.where(curves.sum(axis=0) > 0, pref, np.nan)
    return float(pref[0]) if squeeze else pref


def _check_whole_cycles(duration: float, temporal_frequency: float, name: str) -> None:
    cycles = duration * temporal_frequency
    if abs(cycles - round(cycles)) > 1e-6 * max(1.0, cycles) or round(cycles) < 1:
        raise ConfigError(
            f"{name}: must span a whole number of cycles of temporal_frequency={temporal_frequency:g} Hz "
            f"(got {cycles:.4g} cycles); trim it to {max(1, int(cycles)) / temporal_frequency:g} s"
        )


def f1_f0_ratio(
    psth: ArrayLike,
    bin_size: float,
    temporal_frequency: float,
    bin_average_correction: bool = True,
) -> np.ndarray | float:
    """F1/F0 modulation ratio of PSTHs to a drifting grating (Skottun et al. 1991).

    Parameters
    ----------
    psth : array_like, shape (n_nodes, n_bins) or (n_bins,)
        Rate (spikes/s, ≥ 0) in consecutive bins covering a whole number of stimulus
        cycles, typically the trial-averaged steady-state response.
    bin_size : float
        Bin width, s.
    temporal_frequency : float
        Drift temporal frequency of the grating, Hz.
    bin_average_correction : bool
        If True (for PSTHs of spike counts, which average the rate over each bin), divide
        F1 by ``sinc(temporal_frequency · bin_size)`` to undo the attenuation that
        averaging over a bin applies to a sinusoid; set False for sampled rates.

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        ``F1 / F0``; NaN where F0 = 0. Simple cells have F1/F0 > 1, complex cells < 1.

    Raises
    ------
    SpikeDataError
        NaN or negative rates, fewer than 2 bins.
    ConfigError
        Non-positive ``bin_size``/``temporal_frequency``, a window that is not a whole
        number of cycles, or a frequency at or above the Nyquist frequency.

    Notes
    -----
    ``F0 = mean(r)`` and ``F1 = 2 |Σ_k r_k e^{-2πi f t_k}| / n_bins`` (amplitude of the
    first harmonic). For ``r(t) = a + b sin(2π f t)`` this gives ``F1/F0 = b/a``; for a
    half-wave rectified sinusoid ``max(0, sin 2π f t)`` it gives ``π/2``.

    References
    ----------
    Skottun et al. (1991). doi:10.1016/0042-6989(91)90033-2

    Examples
    --------
    >>> t = (np.arange(100) + 0.5) * 0.01
    >>> round(f1_f0_ratio(10 + 5 * np.sin(2 * np.pi * 2.0 * t), 0.01, 2.0, False), 9)
    0.5
    """
    rates = _finite_array("psth", psth, ndim=(1, 2), min_size=2, nonnegative=True)
    if bin_size <= 0 or temporal_frequency <= 0:
        raise ConfigError(
            f"bin_size and temporal_frequency: must be > 0, got {bin_size:g} s and {temporal_frequency:g} Hz"
        )
    n_bins = rates.shape[-1]
    _check_whole_cycles(n_bins * bin_size, temporal_frequency, "psth")
    if temporal_frequency >= 0.5 / bin_size:
        raise ConfigError(
            f"temporal_frequency: {temporal_frequency:g} Hz is at or above the Nyquist frequency {0.5 / bin_size:g} Hz"
        )
    times = (np.arange(n_bins) + 0.5) * bin_size
    phasor = np.exp(-2j * np.pi * temporal_frequency * times)
    f0 = rates.mean(axis=-1)
    f1 = 2.0 * np.abs(rates @ phasor) / n_bins
    if bin_average_correction:
        f1 = f1 / np.sinc(temporal_frequency * bin_size)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(f0 > 0, f1 / np.where(f0 > 0, f0, 1.0), np.nan)
    return float(ratio) if ratio.ndim == 0 else ratio


def f1_f0_from_spike_times(
    node_ids: ArrayLike,
    times: ArrayLike,
    n_nodes: int,
    temporal_frequency: float,
    t_start: float,
    t_stop: float,
) -> np.ndarray:
    """F1/F0 of every neuron from spike times, without binning.

    Parameters
    ----------
    node_ids : array_like of int, shape (n_spikes,)
        Neuron of each spike (as in :class:`analysis.spiketrains.SpikeTrains`); pool the
        spikes of all trials after aligning each trial to its stimulus onset.
    times : array_like, shape (n_spikes,)
        Spike times, s, relative to the phase origin of the grating.
    n_nodes : int
        Number of neurons.
    temporal_frequency : float
        Drift temporal frequency, Hz.
    t_start, t_stop : float
        Analysis window, s; must span a whole number of cycles. Spikes outside it are ignored.

    Returns
    -------
    ndarray, shape (n_nodes,), float64
        ``F1/F0`` with ``F0 = n/T`` and ``F1 = 2|Σ_j e^{-2πi f t_j}|/T``; NaN for a neuron
        without spikes in the window.

    Raises
    ------
    SpikeDataError
        Mismatched lengths, NaN times, ids outside [0, n_nodes).
    ConfigError
        A window that is not a whole number of cycles.

    References
    ----------
    Skottun et al. (1991). doi:10.1016/0042-6989(91)90033-2

    Examples
    --------
    >>> f1_f0_from_spike_times([0, 0], [0.25, 1.25], 1, 1.0, 0.0, 2.0).round(6).tolist()
    [2.0]
    """
    ids = np.asarray(node_ids)
    spike_times = _finite_array("times", times, ndim=1, min_size=0)
    if ids.ndim != 1 or ids.size != spike_times.size:
        raise SpikeDataError(
            f"node_ids: must be 1-D with one entry per spike time ({spike_times.size}), got shape {ids.shape}"
        )
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 0:
        raise SpikeDataError(f"n_nodes: must be a non-negative integer, got {n_nodes!r}")
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= n_nodes):
        raise SpikeDataError(f"node_ids: must be integers in [0, n_nodes={n_nodes})")
    if temporal_frequency <= 0 or t_stop <= t_start:
        raise ConfigError(
            "temporal_frequency and t_start/t_stop: need f > 0 and t_stop > t_start, "
            f"got {temporal_frequency:g}, {t_start:g}, {t_stop:g}"
        )
    duration = t_stop - t_start
    _check_whole_cycles(duration, temporal_frequency, "t_start/t_stop")
    keep = (spike_times >= t_start) & (spike_times < t_stop)
    ids, spike_times = ids[keep].astype(np.int64), spike_times[keep]
    phase = 2.0 * np.pi * temporal_frequency * spike_times
    real = np.bincount(ids, weights=np.cos(phase), minlength=n_nodes)
    imag = np.bincount(ids, weights=np.sin(phase), minlength=n_nodes)
    counts = np.bincount(ids, minlength=n_nodes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, 2.0 * np.hypot(real, imag) / np.where(counts > 0, counts, 1.0), np.nan)


def response_latency(
    psth: ArrayLike,
    bin_size: float,
    stimulus_onset: float,
    t_start: float = 0.0,
    baseline_window: tuple[float, float] | None = None,
    n_sd: float = 3.0,
    n_consecutive: int = 3,
    max_latency: float | None = None,
) -> np.ndarray | float:
    """Response onset latency of every neuron, detected against its baseline.

    Parameters
    ----------
    psth : array_like, shape (n_nodes, n_bins) or (n_bins,)
        Trial-averaged rate, spikes/s; bin ``k`` covers
        ``[t_start + k·bin_size, t_start + (k+1)·bin_size)``.
    bin_size : float
        Bin width, s.
    stimulus_onset : float
        Stimulus onset time on the PSTH's clock, s.
    t_start : float
        Left edge of the first bin, s.
    baseline_window : (float, float), optional
        Baseline interval, s; default every bin that ends at or before ``stimulus_onset``.
    n_sd : float
        Threshold in baseline standard deviations above the baseline mean.
    n_consecutive : int
        Number of consecutive bins that must all exceed the threshold.
    max_latency : float, optional
        Search only this long after onset, s (default to the end of the PSTH).

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        Latency, s: left edge of the first bin (at or after onset) that starts a run of
        ``n_consecutive`` bins strictly above ``mean + n_sd·sd`` of the baseline, minus
        ``stimulus_onset``. NaN if no such run exists. The resolution is one bin.

    Raises
    ------
    SpikeDataError
        NaN rates.
    ConfigError
        No baseline bins, ``n_consecutive`` < 1, non-positive ``bin_size``.

    Notes
    -----
    The criterion (k consecutive bins above mean + n·SD of the pre-stimulus rate) is the
    usual one for V1 PSTHs, e.g. Maunsell & Gibson (1992), J. Neurophysiol. 68, 1332–1344,
    doi:10.1152/jn.1992.68.4.1332; requiring several bins suppresses single-bin crossings
    by noise.

    Examples
    --------
    >>> psth = np.r_[np.full(10, 5.0), np.full(10, 50.0)]
    >>> round(response_latency(psth, 0.001, stimulus_onset=0.005), 6)
    0.005
    """
    rates = _finite_array("psth", psth, ndim=(1, 2), min_size=1)
    if bin_size <= 0:
        raise ConfigError(f"bin_size: must be > 0 s, got {bin_size:g}")
    if n_consecutive < 1:
        raise ConfigError(f"n_consecutive: must be >= 1, got {n_consecutive}")
    squeeze = rates.ndim == 1
    rates = rates[None, :] if squeeze else rates
    n_bins = rates.shape[1]
    left = t_start + np.arange(n_bins) * bin_size
    eps = 1e-9 * bin_size
    if baseline_window is None:
        in_baseline = left + bin_size <= stimulus_onset + eps
    else:
        in_baseline = (left >= baseline_window[0] - eps) & (left + bin_size <= baseline_window[1] + eps)
    if not in_baseline.any():
        raise ConfigError("baseline_window: contains no complete PSTH bin before the stimulus onset")
    baseline = rates[:, in_baseline]
    threshold = baseline.mean(axis=1) + n_sd * baseline.std(axis=1)
    search = left >= stimulus_onset - eps
    if max_latency is not None:
        search &= left < stimulus_onset + max_latency - eps
    above = rates > threshold[:, None]
    latency = np.full(rates.shape[0], np.nan)
    if n_bins >= n_consecutive:
        runs = np.lib.stride_tricks.sliding_window_view(above, n_consecutive, axis=1).all(axis=2)
        runs &= search[: runs.shape[1]]
        found = runs.any(axis=1)
        first = np.argmax(runs, axis=1)
        latency[found] = left[first[found]] - stimulus_onset
    return float(latency[0]) if squeeze else latency
