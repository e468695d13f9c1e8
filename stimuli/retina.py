"""Kernel builders of the retina/LGN linear stage (pure functions, no state).

Functions
---------
dog_density
    Continuous difference-of-Gaussians profile, 1/deg².
difference_of_gaussians_kernel
    The DoG integrated over the pixels of a grid: weights applied to contrast frames.
dog_transfer_function
    Analytic 2-D Fourier transform of the DoG at a spatial frequency (cycles/deg).
dog_peak_frequency
    The spatial frequency that maximises it (0 for a low-pass DoG).
temporal_kernel_taus
    Time constants of the two gamma lobes that give the configured peak and trough times.
temporal_kernel_function
    Continuous biphasic impulse response, 1/s.
biphasic_temporal_kernel
    The impulse response integrated over time bins: FIR weights for a given time step.

The split into "build a kernel" and "apply it" (:mod:`stimuli.lgn`) follows BMTK
FilterNet's ``spatialfilter``/``temporalfilter`` and scikit-image's ``gabor_kernel``.

References
----------
Rodieck R.W. (1965) Quantitative analysis of cat retinal ganglion cell response to visual
stimuli. Vision Res 5:583-601. doi:10.1016/0042-6989(65)90033-7 (the DoG model)
Enroth-Cugell C., Robson J.G. (1966) The contrast sensitivity of retinal ganglion cells of
the cat. J Physiol 187:517-552. doi:10.1113/jphysiol.1966.sp008107 (DoG transfer function)
Croner L.J., Kaplan E. (1995) Vision Res 35:7-24. doi:10.1016/0042-6989(94)E0066-T
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize, special

from analysis.errors import ConfigError
from stimuli.params import SpatialParams, TemporalParams

__all__ = [
    "validate_spatial",
    "validate_temporal",
    "dog_density",
    "difference_of_gaussians_kernel",
    "dog_transfer_function",
    "dog_peak_frequency",
    "temporal_kernel_taus",
    "temporal_kernel_function",
    "biphasic_temporal_kernel",
]


def validate_spatial(spatial: SpatialParams) -> None:
    """Raise :class:`ConfigError` naming the field when a DoG parameter is impossible."""
    if not spatial.sigma_center_deg > 0:
        raise ConfigError(f"sigma_center_deg must be > 0 deg, got {spatial.sigma_center_deg}")
    if not spatial.sigma_surround_deg > spatial.sigma_center_deg:
        raise ConfigError(
            f"sigma_surround_deg must be > sigma_center_deg = {spatial.sigma_center_deg} deg, "
            f"got {spatial.sigma_surround_deg}"
        )
    if not 0 <= spatial.surround_weight <= 1:
        raise ConfigError(f"surround_weight must be in [0, 1], got {spatial.surround_weight}")


def validate_temporal(temporal: TemporalParams) -> None:
    """Raise :class:`ConfigError` naming the field when a temporal parameter is impossible."""
    if not temporal.peak_time_s > 0:
        raise ConfigError(f"peak_time_s must be > 0 s, got {temporal.peak_time_s}")
    if not temporal.rebound_time_s > temporal.peak_time_s:
        raise ConfigError(
            f"rebound_time_s must be > peak_time_s = {temporal.peak_time_s} s, got {temporal.rebound_time_s}"
        )
    if not 0 <= temporal.rebound_ratio < 1:
        raise ConfigError(f"rebound_ratio must be in [0, 1), got {temporal.rebound_ratio}")
    if int(temporal.order) != temporal.order or temporal.order < 1:
        raise ConfigError(f"order must be a positive integer, got {temporal.order}")


# --- spatial --------------------------------------------------------------------------------


def dog_density(x_deg: np.ndarray, y_deg: np.ndarray, spatial: SpatialParams) -> np.ndarray:
    """Continuous DoG sensitivity profile at offsets from the RF centre.

    Parameters
    ----------
    x_deg, y_deg : array_like
        Offsets from the RF centre, deg (broadcast together).
    spatial : SpatialParams

    Returns
    -------
    numpy.ndarray
        Sensitivity, 1/deg² (float64); the centre Gaussian integrates to 1 and the
        surround to ``surround_weight``.

    Notes
    -----
    .. math:: D(r) = \\frac{e^{-r^2/2\\sigma_c^2}}{2\\pi\\sigma_c^2}
              - w_s \\frac{e^{-r^2/2\\sigma_s^2}}{2\\pi\\sigma_s^2}

    Examples
    --------
    >>> from stimuli.params import SpatialParams
    >>> p = SpatialParams(1.0, 2.0, 0.0)
    >>> round(float(dog_density(0.0, 0.0, p)), 6)  # 1 / (2 pi)
    0.159155
    """
    r2 = np.asarray(x_deg, dtype=float) ** 2 + np.asarray(y_deg, dtype=float) ** 2
    sc, ss = spatial.sigma_center_deg, spatial.sigma_surround_deg
    centre = np.exp(-r2 / (2 * sc**2)) / (2 * math.pi * sc**2)
    surround = np.exp(-r2 / (2 * ss**2)) / (2 * math.pi * ss**2)
    return centre - spatial.surround_weight * surround


def _gaussian_pixel_weights(edges: np.ndarray, sigma: float) -> np.ndarray:
    """Mass of a unit 1-D Gaussian (centred at 0) in each interval between edges."""
    cdf = special.ndtr(edges / sigma)
    return np.diff(cdf)


def difference_of_gaussians_kernel(
    spatial: SpatialParams,
    deg_per_pixel: float,
    radius_deg: float | None = None,
    offset_deg: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """DoG weights on a square pixel grid, each Gaussian integrated exactly over every pixel.

    Parameters
    ----------
    spatial : SpatialParams
        Centre and surround sigma (deg) and surround weight.
    deg_per_pixel : float
        Pixel size, deg.
    radius_deg : float, optional
        Half-width of the kernel, deg (default: 4 surround sigmas, which keeps all but
        ~3e-4 of the surround mass in the square).
    offset_deg : (float, float)
        Position (x, y) of the RF centre relative to the centre pixel, deg.

    Returns
    -------
    numpy.ndarray
        Shape ``(2 m + 1, 2 m + 1)``, float64, rows running *down* in y (image order, the
        same as stimulus frames), columns along +x. ``sum(kernel * frame)`` is the spatial
        drive in contrast units; a uniform frame of contrast c gives
        ``c (1 - surround_weight)`` (up to truncation).

    Raises
    ------
    ConfigError
        For a non-positive pixel size or radius, or impossible DoG parameters.

    Notes
    -----
    Integrating each separable Gaussian over the pixel (differences of normal CDFs)
    rather than sampling its centre keeps the DC gain exact even when ``sigma_center``
    is close to the pixel size.

    Examples
    --------
    >>> from stimuli.params import SpatialParams
    >>> k = difference_of_gaussians_kernel(SpatialParams(0.1, 0.3, 0.5), 0.02)
    >>> round(float(k.sum()), 3)  # DC gain 1 - w_s
    0.5
    """
    validate_spatial(spatial)
    if not deg_per_pixel > 0:
        raise ConfigError(f"deg_per_pixel must be > 0 deg, got {deg_per_pixel}")
    if radius_deg is None:
        radius_deg = 4.0 * spatial.sigma_surround_deg
    if not radius_deg > 0:
        raise ConfigError(f"radius_deg must be > 0 deg, got {radius_deg}")
    m = int(math.ceil(radius_deg / deg_per_pixel))
    idx = np.arange(-m, m + 2, dtype=float) - 0.5
    ox, oy = offset_deg
    edges_x = idx * deg_per_pixel - ox
    # rows run downwards: row i covers y in [-(i+0.5), -(i-0.5)] * dpp; flip the edges
    edges_y = idx * deg_per_pixel + oy
    out = np.zeros((2 * m + 1, 2 * m + 1))
    for sigma, weight in (
        (spatial.sigma_center_deg, 1.0),
        (spatial.sigma_surround_deg, -spatial.surround_weight),
    ):
        wx = _gaussian_pixel_weights(edges_x, sigma)
        wy = _gaussian_pixel_weights(edges_y, sigma)
        out += weight * np.outer(wy, wx)
    return out


def dog_transfer_function(frequency_cpd: np.ndarray, spatial: SpatialParams) -> np.ndarray:
    """Analytic Fourier transform of the DoG at spatial frequency f (cycles/deg).

    Parameters
    ----------
    frequency_cpd : array_like
        Spatial frequency, cycles/deg.
    spatial : SpatialParams

    Returns
    -------
    numpy.ndarray
        Gain per unit contrast (dimensionless), float64.

    Notes
    -----
    .. math:: \\hat D(f) = e^{-2\\pi^2\\sigma_c^2 f^2} - w_s e^{-2\\pi^2\\sigma_s^2 f^2}

    Examples
    --------
    >>> from stimuli.params import SpatialParams
    >>> round(float(dog_transfer_function(0.0, SpatialParams(0.1, 0.3, 0.55))), 12)
    0.45
    """
    f2 = np.asarray(frequency_cpd, dtype=float) ** 2
    a = 2 * math.pi**2 * f2
    return np.exp(-a * spatial.sigma_center_deg**2) - spatial.surround_weight * np.exp(
        -a * spatial.sigma_surround_deg**2
    )


def dog_peak_frequency(spatial: SpatialParams) -> float:
    """Spatial frequency (cycles/deg) at which the DoG transfer function peaks.

    Returns
    -------
    float
        ``sqrt(ln(w_s σ_s²/σ_c²) / (2π² (σ_s² − σ_c²)))``, or 0 when
        ``w_s σ_s² ≤ σ_c²`` (low-pass).

    Notes
    -----
    Setting the derivative of :func:`dog_transfer_function` with respect to ``a = 2π²f²``
    to zero gives ``σ_c² e^{-aσ_c²} = w_s σ_s² e^{-aσ_s²}``.

    Examples
    --------
    >>> from stimuli.params import SpatialParams
    >>> round(dog_peak_frequency(SpatialParams(0.1, 0.3, 0.55)), 4)
    1.0064
    """
    validate_spatial(spatial)
    sc2, ss2 = spatial.sigma_center_deg**2, spatial.sigma_surround_deg**2
    ratio = spatial.surround_weight * ss2 / sc2
    if ratio <= 1:
        return 0.0
    return math.sqrt(math.log(ratio) / (2 * math.pi**2 * (ss2 - sc2)))


# --- temporal -------------------------------------------------------------------------------


def _gamma_lobe(t: np.ndarray, order: int, tau: float) -> np.ndarray:
    """Unit-area gamma lobe t^n e^{-t/tau} / (n! tau^{n+1}); zero for t < 0."""
    t = np.asarray(t, dtype=float)
    x = np.clip(t, 0, None) / tau
    return np.where(t > 0, np.exp(order * np.log(np.maximum(x, 1e-300)) - x - special.gammaln(order + 1)) / tau, 0.0)


def _extrema_unit(order: int, rebound_ratio: float, tau_ratio: float) -> tuple[float, float]:
    """Peak and trough times of g(t; n, 1) − ρ g(t; n, r); trough NaN if none."""

    def kernel(t: np.ndarray) -> np.ndarray:
        return _gamma_lobe(t, order, 1.0) - rebound_ratio * _gamma_lobe(t, order, tau_ratio)

    t = np.linspace(0, 6 * (order + 1) * tau_ratio, 6001)[1:]
    k = kernel(t)
    step = t[1] - t[0]
    i = int(np.argmax(k))
    peak = optimize.minimize_scalar(
        lambda s: -kernel(np.array([s]))[0], bounds=(max(t[i] - step, 1e-9), t[i] + step),
        method="bounded", options={"xatol": 1e-12},
    ).x
    j = int(np.argmin(k))
    if k[j] >= 0 or j <= i:
        return float(peak), math.nan
    trough = optimize.minimize_scalar(
        lambda s: kernel(np.array([s]))[0], bounds=(t[j] - step, t[j] + step),
        method="bounded", options={"xatol": 1e-12},
    ).x
    return float(peak), float(trough)


@functools.lru_cache(maxsize=64)
def _unit_solution(order: int, rebound_ratio: float, trough_over_peak: float) -> tuple[float, float, float]:
    """(tau ratio r, unit peak time, unit trough time) matching trough/peak."""
    if rebound_ratio == 0:
        # monophasic: a single gamma lobe peaking at n * tau
        return 1.0, float(order), math.nan
    grid = np.geomspace(1.02, 40.0, 80)
    values = []
    for r in grid:
        p, q = _extrema_unit(order, rebound_ratio, r)
        values.append(q / p - trough_over_peak if np.isfinite(q) else math.nan)
    values = np.array(values)
    ok = np.isfinite(values)
    # trough/peak is U-shaped in r: below its minimum the "trough" is a vanishing tail far
    # after the peak (a practically monophasic kernel), so only the upper branch is used
    lowest = int(np.nanargmin(np.where(ok, values, np.nan)))
    ok[:lowest] = False
    sign_change = np.nonzero(ok[:-1] & ok[1:] & (np.sign(values[:-1]) != np.sign(values[1:])))[0]
    if sign_change.size == 0:
        raise ConfigError(
            f"rebound_time_s / peak_time_s = {trough_over_peak:.3g} cannot be reached with "
            f"order {order} and rebound_ratio {rebound_ratio}; try a ratio between "
            f"{values[lowest] + trough_over_peak:.3g} and {np.nanmax(values + trough_over_peak):.3g}"
        )
    k = int(sign_change[0])

    def mismatch(r: float) -> float:
        p, q = _extrema_unit(order, rebound_ratio, r)
        return q / p - trough_over_peak

    r = optimize.brentq(mismatch, grid[k], grid[k + 1], xtol=1e-13)
    p, q = _extrema_unit(order, rebound_ratio, r)
    return float(r), p, q


def temporal_kernel_taus(temporal: TemporalParams) -> tuple[float, float]:
    """Time constants (s) of the positive and negative gamma lobes.

    Parameters
    ----------
    temporal : TemporalParams

    Returns
    -------
    tau_fast, tau_slow : float
        Such that ``k(t) = g(t; n, tau_fast) − ρ g(t; n, tau_slow)`` peaks exactly at
        ``peak_time_s`` and has its trough exactly at ``rebound_time_s``.

    Notes
    -----
    The kernel shape depends only on ``tau_slow / tau_fast``; scaling both time constants
    scales every time of the kernel. The ratio is found by root finding on the
    trough/peak ratio, then both are scaled to the peak time.

    Examples
    --------
    >>> from stimuli.params import TemporalParams
    >>> tf, ts = temporal_kernel_taus(TemporalParams(0.04, 0.09, 0.6))
    >>> round(ts / tf, 3) > 1
    True
    """
    validate_temporal(temporal)
    r, p_unit, _ = _unit_solution(int(temporal.order), float(temporal.rebound_ratio),
                                  float(temporal.rebound_time_s / temporal.peak_time_s))
    tau_fast = temporal.peak_time_s / p_unit
    return tau_fast, tau_fast * r


def temporal_kernel_function(t_s: np.ndarray, temporal: TemporalParams) -> np.ndarray:
    """Continuous biphasic impulse response at times ``t_s`` (s), in 1/s.

    Its positive lobe integrates to 1 and its total integral is ``1 - rebound_ratio``.

    Examples
    --------
    >>> from stimuli.params import TemporalParams
    >>> p = TemporalParams(0.04, 0.09, 0.6)
    >>> t = np.linspace(0, 1, 200001)
    >>> round(float(t[np.argmax(temporal_kernel_function(t, p))]), 4)
    0.04
    """
    tau_fast, tau_slow = temporal_kernel_taus(temporal)
    n = int(temporal.order)
    return _gamma_lobe(t_s, n, tau_fast) - temporal.rebound_ratio * _gamma_lobe(t_s, n, tau_slow)


def biphasic_temporal_kernel(
    temporal: TemporalParams, time_step: float, tolerance: float = 1e-9
) -> np.ndarray:
    """FIR weights of the biphasic kernel integrated over bins of ``time_step`` s.

    Parameters
    ----------
    temporal : TemporalParams
    time_step : float
        Bin width, s.
    tolerance : float
        The kernel is truncated where both gamma lobes have delivered all but this
        fraction of their mass.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_taps,)``, float64; ``h[j] = ∫_{jΔ}^{(j+1)Δ} k(t) dt`` so that
        ``sum(h) ≈ 1 - rebound_ratio`` and the response to a held input is exact at bin edges.

    Raises
    ------
    ConfigError
        For a non-positive time step or impossible kernel parameters.

    Examples
    --------
    >>> from stimuli.params import TemporalParams
    >>> h = biphasic_temporal_kernel(TemporalParams(0.04, 0.09, 0.6), 0.001)
    >>> round(float(h.sum()), 6)
    0.4
    """
    if not time_step > 0:
        raise ConfigError(f"time_step must be > 0 s, got {time_step}")
    tau_fast, tau_slow = temporal_kernel_taus(temporal)
    n = int(temporal.order)
    t_max = special.gammaincinv(n + 1, 1 - tolerance) * max(tau_fast, tau_slow)
    n_taps = int(math.ceil(t_max / time_step)) + 1
    edges = np.arange(n_taps + 1) * time_step
    fast = np.diff(special.gammainc(n + 1, edges / tau_fast))
    slow = np.diff(special.gammainc(n + 1, edges / tau_slow))
    return fast - temporal.rebound_ratio * slow
