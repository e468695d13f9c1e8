"""Parametric fits of receptive-field maps: Gabor, difference of Gaussians, 2-D Gaussian.

Maps come from :mod:`analysis.receptive_fields` (spike-triggered averages) with shape
(n_y, n_x) for one neuron or (n_nodes, n_y, n_x) for many; ``map[i, j]`` is the value at
azimuth ``x_deg[j]`` and elevation ``y_deg[i]`` (degrees of visual angle). Fits use
:func:`scipy.optimize.least_squares` from data-driven initial guesses (energy centroid and
second moments for the envelope, the 2-D Fourier peak for orientation and spatial
frequency) with a few starting phases, keeping the best.

Functions
---------
gabor_2d, difference_of_gaussians_2d, gaussian_2d
    The model functions.
fit_gabor
    Gabor fit of every map, with R², centre and size.
fit_difference_of_gaussians
    Centre–surround (DoG) fit of every map, with R², centre and size.
fit_gaussian
    Elliptical 2-D Gaussian fit of every map (for subfields).
on_off_subfield_separation
    Distance, overlap index and correlation of ON and OFF subfields.

References
----------
Jones, J. P. & Palmer, L. A. (1987). An evaluation of the two-dimensional Gabor filter model
of simple receptive fields in cat striate cortex. J. Neurophysiol. 58, 1233–1258.
doi:10.1152/jn.1987.58.6.1233
Rodieck, R. W. (1965). Quantitative analysis of cat retinal ganglion cell response to visual
stimuli. Vision Res. 5, 583–601. doi:10.1016/0042-6989(65)90033-7
Mata, M. L. & Ringach, D. L. (2005). Spatial overlap of ON and OFF subregions and its relation
to response modulation ratio in macaque primary visual cortex. J. Neurophysiol. 93, 919–928.
doi:10.1152/jn.00668.2004
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares
from tqdm.auto import tqdm

from analysis.errors import ConfigError, SpikeDataError, suggest
from analysis.statistics import _finite_array

__all__ = [
    "GABOR_PARAMETERS",
    "DOG_PARAMETERS",
    "GAUSSIAN_PARAMETERS",
    "RFFit",
    "SubfieldSeparation",
    "gabor_2d",
    "difference_of_gaussians_2d",
    "gaussian_2d",
    "fit_gabor",
    "fit_difference_of_gaussians",
    "fit_gaussian",
    "on_off_subfield_separation",
]

logger = logging.getLogger(__name__)

#: Parameter order of :func:`gabor_2d` (angles in deg, frequency in cycles/deg).
GABOR_PARAMETERS = ("amplitude", "x0_deg", "y0_deg", "sigma_x_deg", "sigma_y_deg",
                    "theta_deg", "spatial_frequency_cpd", "phase_deg", "offset")
#: Parameter order of :func:`difference_of_gaussians_2d`.
DOG_PARAMETERS = ("amplitude_center", "amplitude_surround", "x0_deg", "y0_deg",
                  "sigma_center_deg", "sigma_surround_deg", "offset")
#: Parameter order of :func:`gaussian_2d`.
GAUSSIAN_PARAMETERS = ("amplitude", "x0_deg", "y0_deg", "sigma_x_deg", "sigma_y_deg", "theta_deg", "offset")
_PROGRESS_MIN_MAPS = 200


def _rotated(x: np.ndarray, y: np.ndarray, x0: float, y0: float, theta_deg: float) -> tuple[np.ndarray, np.ndarray]:
    theta = np.deg2rad(theta_deg)
    dx, dy = x - x0, y - y0
    return dx * np.cos(theta) + dy * np.sin(theta), -dx * np.sin(theta) + dy * np.cos(theta)


def gabor_2d(x: ArrayLike, y: ArrayLike, amplitude: float, x0_deg: float, y0_deg: float,
             sigma_x_deg: float, sigma_y_deg: float, theta_deg: float,
             spatial_frequency_cpd: float, phase_deg: float, offset: float = 0.0) -> np.ndarray:
    """2-D Gabor function.

    ``G = A exp(−x'²/2σ_x² − y'²/2σ_y²) cos(2π f x' + φ) + offset`` with
    ``x' = (x−x0) cos θ + (y−y0) sin θ`` and ``y' = −(x−x0) sin θ + (y−y0) cos θ``.

    Parameters
    ----------
    x, y : array_like
        Azimuth and elevation, deg (broadcast together).
    amplitude : float
        Peak amplitude (map units).
    x0_deg, y0_deg : float
        Centre, deg.
    sigma_x_deg, sigma_y_deg : float
        Envelope SDs across and along the bars, deg.
    theta_deg : float
        Direction of the carrier's wave vector, deg; the bars (preferred edge orientation)
        lie at ``theta_deg + 90``.
    spatial_frequency_cpd : float
        Carrier spatial frequency, cycles/deg.
    phase_deg : float
        Carrier phase at the centre, deg (0 = even/ON-centred, 90 = odd).
    offset : float
        Constant added everywhere.

    Returns
    -------
    ndarray
        Broadcast shape of ``x`` and ``y``.

    References
    ----------
    Jones & Palmer (1987). doi:10.1152/jn.1987.58.6.1233

    Examples
    --------
    >>> float(gabor_2d(0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0))
    2.0
    """
    xr, yr = _rotated(np.asarray(x, float), np.asarray(y, float), x0_deg, y0_deg, theta_deg)
    envelope = np.exp(-0.5 * (xr / sigma_x_deg) ** 2 - 0.5 * (yr / sigma_y_deg) ** 2)
    return amplitude * envelope * np.cos(2 * np.pi * spatial_frequency_cpd * xr + np.deg2rad(phase_deg)) + offset


def difference_of_gaussians_2d(x: ArrayLike, y: ArrayLike, amplitude_center: float,
                               amplitude_surround: float, x0_deg: float, y0_deg: float,
                               sigma_center_deg: float, sigma_surround_deg: float,
                               offset: float = 0.0) -> np.ndarray:
    """Circular difference of Gaussians (centre–surround receptive field, Rodieck 1965).

    ``A_c exp(−r²/2σ_c²) − A_s exp(−r²/2σ_s²) + offset`` with ``r`` the distance to
    ``(x0_deg, y0_deg)``. An OFF-centre field has ``A_c < 0`` and ``A_s < 0``.

    Parameters
    ----------
    x, y : array_like
        Azimuth and elevation, deg.
    amplitude_center, amplitude_surround : float
        Peak heights of the two Gaussians (map units).
    x0_deg, y0_deg : float
        Centre, deg.
    sigma_center_deg, sigma_surround_deg : float
        SDs, deg.
    offset : float
        Constant.

    Returns
    -------
    ndarray

    References
    ----------
    Rodieck (1965). doi:10.1016/0042-6989(65)90033-7

    Examples
    --------
    >>> float(difference_of_gaussians_2d(0.0, 0.0, 1.0, 0.25, 0.0, 0.0, 0.5, 1.5))
    0.75
    """
    r2 = (np.asarray(x, float) - x0_deg) ** 2 + (np.asarray(y, float) - y0_deg) ** 2
    return (amplitude_center * np.exp(-0.5 * r2 / sigma_center_deg**2)
            - amplitude_surround * np.exp(-0.5 * r2 / sigma_surround_deg**2) + offset)


def gaussian_2d(x: ArrayLike, y: ArrayLike, amplitude: float, x0_deg: float, y0_deg: float,
                sigma_x_deg: float, sigma_y_deg: float, theta_deg: float, offset: float = 0.0) -> np.ndarray:
    """Elliptical 2-D Gaussian, axes rotated by ``theta_deg``.

    Examples
    --------
    >>> float(gaussian_2d(0.0, 0.0, 3.0, 0.0, 0.0, 1.0, 2.0, 0.0))
    3.0
    """
    xr, yr = _rotated(np.asarray(x, float), np.asarray(y, float), x0_deg, y0_deg, theta_deg)
    return amplitude * np.exp(-0.5 * (xr / sigma_x_deg) ** 2 - 0.5 * (yr / sigma_y_deg) ** 2) + offset


@dataclass(frozen=True, eq=False)
class RFFit:
    """Fitted parameters of many receptive-field maps.

    Attributes
    ----------
    model : str
        ``"gabor"``, ``"dog"`` or ``"gaussian"``.
    parameter_names : tuple of str
        Column names of ``params`` (``GABOR_PARAMETERS`` etc.).
    params : ndarray, shape (n_nodes, n_params)
        Best-fit parameters (NaN where the map was flat).
    r_squared : ndarray, shape (n_nodes,)
        ``1 − SS_res / SS_tot`` over map pixels.
    center_deg : ndarray, shape (n_nodes, 2)
        RF centre (azimuth, elevation), deg.
    size_deg : ndarray, shape (n_nodes,)
        RF diameter, deg: ``2√(σ_x σ_y)`` (Gabor envelope, Gaussian) or ``2σ_c`` (DoG centre).
    success : ndarray of bool, shape (n_nodes,)
        Whether the optimiser converged.
    """

    model: str
    parameter_names: tuple[str, ...]
    params: np.ndarray
    r_squared: np.ndarray
    center_deg: np.ndarray
    size_deg: np.ndarray
    success: np.ndarray

    def parameter(self, name: str) -> np.ndarray:
        """Column of ``params`` by name, shape (n_nodes,)."""
        if name not in self.parameter_names:
            raise ConfigError(f"name: unknown parameter {name!r}{suggest(name, self.parameter_names)}")
        return self.params[:, self.parameter_names.index(name)]


def _maps_and_grid(rf_maps: ArrayLike, x_deg: ArrayLike, y_deg: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    maps = _finite_array("rf_maps", rf_maps, ndim=(2, 3))
    maps = maps[None] if maps.ndim == 2 else maps
    x = _finite_array("x_deg", x_deg, ndim=1, min_size=3)
    y = _finite_array("y_deg", y_deg, ndim=1, min_size=3)
    if maps.shape[1:] != (y.size, x.size):
        raise SpikeDataError(
            f"rf_maps: each map must have shape (len(y_deg), len(x_deg)) = ({y.size}, {x.size}), got {maps.shape[1:]}"
        )
    return maps, x, y


def _gabor_jacobian(xx: np.ndarray, yy: np.ndarray, amplitude: float, x0: float, y0: float, sigma_x: float,
                    sigma_y: float, theta_deg: float, frequency: float, phase_deg: float,
                    offset: float = 0.0) -> np.ndarray:
    """∂ :func:`gabor_2d` / ∂ parameters (order of :data:`GABOR_PARAMETERS`), shape (n_points, 9).

    Analytic, so that a fit costs one model evaluation per step instead of one per
    parameter (finite differences); checked against finite differences in the tests.
    """
    theta = np.deg2rad(theta_deg)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    xr, yr = _rotated(xx.ravel(), yy.ravel(), x0, y0, theta_deg)
    envelope = np.exp(-0.5 * (xr / sigma_x) ** 2 - 0.5 * (yr / sigma_y) ** 2)
    argument = 2 * np.pi * frequency * xr + np.deg2rad(phase_deg)
    carrier, quadrature = np.cos(argument), np.sin(argument)
    g = amplitude * envelope
    d_xr = g * (-carrier * xr / sigma_x**2 - quadrature * 2 * np.pi * frequency)
    d_yr = g * carrier * (-yr / sigma_y**2)
    return np.column_stack([
        envelope * carrier,
        -d_xr * cos_t + d_yr * sin_t,                   # ∂xr/∂x0 = −cos θ, ∂yr/∂x0 = sin θ
        -d_xr * sin_t - d_yr * cos_t,                   # ∂xr/∂y0 = −sin θ, ∂yr/∂y0 = −cos θ
        g * carrier * xr**2 / sigma_x**3,
        g * carrier * yr**2 / sigma_y**3,
        (d_xr * yr - d_yr * xr) * (np.pi / 180),        # ∂xr/∂θ = yr, ∂yr/∂θ = −xr (θ in rad)
        -g * quadrature * 2 * np.pi * xr,
        -g * quadrature * (np.pi / 180),
        np.ones_like(xr),
    ])


def _dog_jacobian(xx: np.ndarray, yy: np.ndarray, amplitude_center: float, amplitude_surround: float, x0: float,
                  y0: float, sigma_center: float, sigma_surround: float, offset: float = 0.0) -> np.ndarray:
    """∂ :func:`difference_of_gaussians_2d` / ∂ parameters (order of :data:`DOG_PARAMETERS`), shape (n_points, 7)."""
    dx, dy = xx.ravel() - x0, yy.ravel() - y0
    r2 = dx**2 + dy**2
    centre, surround = np.exp(-0.5 * r2 / sigma_center**2), np.exp(-0.5 * r2 / sigma_surround**2)
    a_c, a_s = amplitude_center * centre / sigma_center**2, amplitude_surround * surround / sigma_surround**2
    return np.column_stack([
        centre,
        -surround,
        (a_c - a_s) * dx,
        (a_c - a_s) * dy,
        a_c * r2 / sigma_center,
        -a_s * r2 / sigma_surround,
        np.ones_like(r2),
    ])


def _r_squared(data: np.ndarray, fitted: np.ndarray) -> float:
    ss_tot = float(((data - data.mean()) ** 2).sum())
    return 1.0 - float(((data - fitted) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")


def _moments(weights: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> tuple[float, float, float]:
    """Centroid and isotropic SD of a non-negative weight map."""
    total = weights.sum()
    cx, cy = (weights * xx).sum() / total, (weights * yy).sum() / total
    var = (weights * ((xx - cx) ** 2 + (yy - cy) ** 2)).sum() / (2 * total)
    return float(cx), float(cy), float(np.sqrt(max(var, 0.0)))


def _fit_each(
    maps: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    model: Callable[..., np.ndarray],
    guesses: Callable[[np.ndarray, np.ndarray, np.ndarray], list[np.ndarray]],
    bounds: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    n_params: int,
    jacobian: Callable[..., np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xx, yy = np.meshgrid(x, y)
    params = np.full((maps.shape[0], n_params), np.nan)
    r2 = np.full(maps.shape[0], np.nan)
    success = np.zeros(maps.shape[0], dtype=bool)
    # a progress bar only where fitting takes long enough to wonder (≈ 20 ms per map)
    for k, data in enumerate(tqdm(maps, desc="RF fits", unit="map", disable=maps.shape[0] < _PROGRESS_MIN_MAPS)):
        if np.ptp(data) == 0:
            continue
        lower, upper = bounds(data, x, y)
        best = None
        for start in guesses(data, xx, yy):
            start = np.clip(start, lower, upper)
            jac = "2-point" if jacobian is None else (lambda p: jacobian(xx, yy, *p))
            result = least_squares(lambda p: (model(xx, yy, *p) - data).ravel(), start, jac=jac,
                                   bounds=(lower, upper), method="trf", x_scale="jac")
            if best is None or result.cost < best.cost:
                best = result
        params[k] = best.x
        success[k] = bool(best.success)
        r2[k] = _r_squared(data, model(xx, yy, *best.x))
    return params, r2, success


def _grid_step(x: np.ndarray, y: np.ndarray) -> float:
    return float(min(np.min(np.abs(np.diff(x))), np.min(np.abs(np.diff(y)))))


def _gabor_guesses(data: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> list[np.ndarray]:
    offset = float(np.median(data))
    centred = data - offset
    cx, cy, sd = _moments(centred**2, xx, yy)
    # the squared envelope has SD σ/√2
    sigma = max(np.sqrt(2.0) * sd, _grid_step(xx[0], yy[:, 0]))
    spectrum = np.abs(np.fft.fft2(centred, s=(4 * data.shape[0], 4 * data.shape[1])))
    fy = np.fft.fftfreq(spectrum.shape[0], d=abs(yy[1, 0] - yy[0, 0]))
    fx = np.fft.fftfreq(spectrum.shape[1], d=abs(xx[0, 1] - xx[0, 0]))
    iy, ix = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    frequency = float(np.hypot(fx[ix], fy[iy]))
    theta = float(np.rad2deg(np.arctan2(fy[iy], fx[ix])))
    amplitude = float(np.abs(centred).max())
    return [np.array([amplitude, cx, cy, sigma, sigma, theta, frequency, phase, offset])
            for phase in (0.0, 90.0, 180.0, 270.0)]


def _gabor_bounds(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = _grid_step(x, y)
    extent = max(np.ptp(x), np.ptp(y))
    lower = np.array([0.0, x.min() - extent, y.min() - extent, step / 4, step / 4, -np.inf, 0.0, -np.inf, -np.inf])
    upper = np.array([np.inf, x.max() + extent, y.max() + extent, 2 * extent, 2 * extent, np.inf,
                      0.5 / step, np.inf, np.inf])
    return lower, upper


def fit_gabor(rf_maps: ArrayLike, x_deg: ArrayLike, y_deg: ArrayLike) -> RFFit:
    """Fit a 2-D Gabor (:func:`gabor_2d`) to every receptive-field map.

    Parameters
    ----------
    rf_maps : array_like, shape (n_y, n_x) or (n_nodes, n_y, n_x)
        Receptive-field maps (e.g. spike-triggered averages), any units.
    x_deg : array_like, shape (n_x,)
        Azimuth of the map columns, deg (evenly spaced).
    y_deg : array_like, shape (n_y,)
        Elevation of the map rows, deg (evenly spaced).

    Returns
    -------
    RFFit
        ``params`` in the order of ``GABOR_PARAMETERS``, canonicalised to amplitude ≥ 0,
        ``theta_deg`` in [0, 180) and ``phase_deg`` in [0, 360). The preferred bar
        orientation is ``(theta_deg + 90) % 180``. ``size_deg = 2√(σ_x σ_y)``.

    Raises
    ------
    SpikeDataError
        NaN maps, grids of fewer than 3 points, or map/grid shape mismatch.

    Notes
    -----
    A flat map gets NaN parameters and R². Four starts differing in carrier phase are
    run and the lowest-cost fit is kept; the spatial frequency is bounded by the Nyquist
    frequency of the grid.

    References
    ----------
    Jones & Palmer (1987). doi:10.1152/jn.1987.58.6.1233
    """
    maps, x, y = _maps_and_grid(rf_maps, x_deg, y_deg)
    params, r2, success = _fit_each(maps, x, y, gabor_2d, _gabor_guesses, _gabor_bounds, len(GABOR_PARAMETERS),
                                    _gabor_jacobian)
    # θ+180° with φ → −φ describes the same Gabor: fold θ into [0, 180)
    flip = np.mod(params[:, 5], 360.0) >= 180.0
    params[:, 5] = np.mod(params[:, 5], 180.0)
    params[:, 7] = np.where(flip, -params[:, 7], params[:, 7])
    params[:, 7] = np.mod(params[:, 7], 360.0)
    size = 2.0 * np.sqrt(params[:, 3] * params[:, 4])
    return RFFit("gabor", GABOR_PARAMETERS, params, r2, params[:, 1:3].copy(), size, success)


def _dog_guesses(data: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> list[np.ndarray]:
    offset = float(np.median(data))
    centred = data - offset
    peak = np.unravel_index(np.argmax(np.abs(centred)), data.shape)
    sign = float(np.sign(centred[peak]))
    amplitude = float(centred[peak])
    pixel_area = abs((xx[0, 1] - xx[0, 0]) * (yy[1, 0] - yy[0, 0]))
    # the half-maximum region of a Gaussian has area 2π ln2 σ²
    half_area = float((sign * centred >= 0.5 * abs(amplitude)).sum()) * pixel_area
    sigma_c = max(np.sqrt(half_area / (2 * np.pi * np.log(2))), _grid_step(xx[0], yy[:, 0]) / 2)
    cx, cy = float(xx[peak]), float(yy[peak])
    return [np.array([amplitude * (1 + ratio), amplitude * ratio, cx, cy, sigma_c, factor * sigma_c, offset])
            for ratio, factor in ((0.1, 2.0), (0.3, 3.0), (0.05, 5.0))]


def _dog_bounds(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = _grid_step(x, y)
    extent = max(np.ptp(x), np.ptp(y))
    lower = np.array([-np.inf, -np.inf, x.min() - extent, y.min() - extent, step / 4, step / 4, -np.inf])
    upper = np.array([np.inf, np.inf, x.max() + extent, y.max() + extent, 2 * extent, 4 * extent, np.inf])
    return lower, upper


def fit_difference_of_gaussians(rf_maps: ArrayLike, x_deg: ArrayLike, y_deg: ArrayLike) -> RFFit:
    """Fit a centre–surround difference of Gaussians to every receptive-field map.

    Parameters
    ----------
    rf_maps : array_like, shape (n_y, n_x) or (n_nodes, n_y, n_x)
        Receptive-field maps.
    x_deg, y_deg : array_like
        Grid, deg (as in :func:`fit_gabor`).

    Returns
    -------
    RFFit
        ``params`` in the order of ``DOG_PARAMETERS``, with centre and surround swapped
        where the fit put the narrower Gaussian second, so ``sigma_center_deg ≤
        sigma_surround_deg``; ``size_deg = 2σ_c``.

    Raises
    ------
    SpikeDataError
        As :func:`fit_gabor`.

    References
    ----------
    Rodieck (1965). doi:10.1016/0042-6989(65)90033-7
    """
    maps, x, y = _maps_and_grid(rf_maps, x_deg, y_deg)
    params, r2, success = _fit_each(maps, x, y, difference_of_gaussians_2d, _dog_guesses, _dog_bounds,
                                    len(DOG_PARAMETERS), _dog_jacobian)
    swap = params[:, 4] > params[:, 5]
    params[swap] = params[swap][:, [1, 0, 2, 3, 5, 4, 6]] * np.array([-1, -1, 1, 1, 1, 1, 1])
    return RFFit("dog", DOG_PARAMETERS, params, r2, params[:, 2:4].copy(), 2.0 * params[:, 4], success)


def _gaussian_guesses(data: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> list[np.ndarray]:
    offset = float(np.median(data))
    centred = np.clip(data - offset, 0.0, None)
    if centred.sum() == 0:
        centred = np.abs(data - offset)
    cx, cy, sd = _moments(centred, xx, yy)
    sd = max(sd, _grid_step(xx[0], yy[:, 0]) / 2)
    return [np.array([float(centred.max()), cx, cy, sd, sd, angle, offset]) for angle in (0.0, 45.0)]


def _gaussian_bounds(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = _grid_step(x, y)
    extent = max(np.ptp(x), np.ptp(y))
    lower = np.array([0.0, x.min() - extent, y.min() - extent, step / 4, step / 4, -np.inf, -np.inf])
    upper = np.array([np.inf, x.max() + extent, y.max() + extent, 2 * extent, 2 * extent, np.inf, np.inf])
    return lower, upper


def fit_gaussian(rf_maps: ArrayLike, x_deg: ArrayLike, y_deg: ArrayLike) -> RFFit:
    """Fit an elliptical 2-D Gaussian bump (amplitude ≥ 0) to every map.

    Parameters
    ----------
    rf_maps : array_like, shape (n_y, n_x) or (n_nodes, n_y, n_x)
        Maps whose response of interest is positive (e.g. an ON or an OFF STA map).
    x_deg, y_deg : array_like
        Grid, deg.

    Returns
    -------
    RFFit
        ``params`` in the order of ``GAUSSIAN_PARAMETERS`` (``theta_deg`` in [0, 180));
        ``size_deg = 2√(σ_x σ_y)``.

    Raises
    ------
    SpikeDataError
        As :func:`fit_gabor`.
    """
    maps, x, y = _maps_and_grid(rf_maps, x_deg, y_deg)
    params, r2, success = _fit_each(maps, x, y, gaussian_2d, _gaussian_guesses, _gaussian_bounds,
                                    len(GAUSSIAN_PARAMETERS))
    params[:, 5] = np.mod(params[:, 5], 180.0)
    return RFFit("gaussian", GAUSSIAN_PARAMETERS, params, r2, params[:, 1:3].copy(),
                 2.0 * np.sqrt(params[:, 3] * params[:, 4]), success)


@dataclass(frozen=True, eq=False)
class SubfieldSeparation:
    """ON/OFF subfield layout of many neurons (:func:`on_off_subfield_separation`).

    Attributes
    ----------
    distance_deg : ndarray, shape (n_nodes,)
        Distance between the ON and OFF subfield centres, deg.
    normalized_distance : ndarray, shape (n_nodes,)
        ``d / (w_on + w_off)``.
    overlap_index : ndarray, shape (n_nodes,)
        ``(w_on + w_off − d) / (w_on + w_off + d)``: 1 for concentric subfields, → −1 for
        far-apart ones (Schiller et al. 1976; Mata & Ringach 2005).
    correlation : ndarray, shape (n_nodes,)
        Pearson correlation between the ON and OFF maps (negative or ≈ 0 for segregated
        subfields, positive for overlapping ones).
    on_center_deg, off_center_deg : ndarray, shape (n_nodes, 2)
    on_width_deg, off_width_deg : ndarray, shape (n_nodes,)
        Subfield widths ``w = √(σ_x σ_y)`` of the Gaussian fits, deg.
    """

    distance_deg: np.ndarray
    normalized_distance: np.ndarray
    overlap_index: np.ndarray
    correlation: np.ndarray
    on_center_deg: np.ndarray
    off_center_deg: np.ndarray
    on_width_deg: np.ndarray
    off_width_deg: np.ndarray


def on_off_subfield_separation(
    on_maps: ArrayLike, off_maps: ArrayLike, x_deg: ArrayLike, y_deg: ArrayLike
) -> SubfieldSeparation:
    """Separation and overlap of ON and OFF subfields from separate ON and OFF maps.

    Parameters
    ----------
    on_maps : array_like, shape (n_y, n_x) or (n_nodes, n_y, n_x)
        Responses to bright spots (ON STA), positive where bright spots excite.
    off_maps : array_like, same shape
        Responses to dark spots (OFF STA), positive where dark spots excite.
    x_deg, y_deg : array_like
        Grid, deg.

    Returns
    -------
    SubfieldSeparation

    Raises
    ------
    SpikeDataError
        NaN or mismatched maps.

    Notes
    -----
    Each subfield is summarised by an elliptical Gaussian fit (:func:`fit_gaussian`);
    the width ``w`` is its geometric-mean SD. Schiller et al. (1976) measured widths
    directly on hand-mapped subfields, so absolute overlap indices are comparable with
    theirs only up to that choice of width.

    References
    ----------
    Schiller, P. H., Finlay, B. L. & Volman, S. F. (1976). Quantitative studies of single-cell
    properties in monkey striate cortex. I. J. Neurophysiol. 39, 1288–1319.
    doi:10.1152/jn.1976.39.6.1288
    Mata & Ringach (2005). doi:10.1152/jn.00668.2004
    """
    on, x, y = _maps_and_grid(on_maps, x_deg, y_deg)
    off, _, _ = _maps_and_grid(off_maps, x_deg, y_deg)
    if on.shape != off.shape:
        raise SpikeDataError(f"off_maps: shape {off.shape} differs from on_maps {on.shape}")
    on_fit, off_fit = fit_gaussian(on, x, y), fit_gaussian(off, x, y)
    distance = np.hypot(*(on_fit.center_deg - off_fit.center_deg).T)
    w_on, w_off = on_fit.size_deg / 2.0, off_fit.size_deg / 2.0
    widths = w_on + w_off
    a = on.reshape(on.shape[0], -1)
    b = off.reshape(off.shape[0], -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(denom > 0, (a * b).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)
    return SubfieldSeparation(
        distance_deg=distance,
        normalized_distance=distance / widths,
        overlap_index=(widths - distance) / (widths + distance),
        correlation=correlation,
        on_center_deg=on_fit.center_deg,
        off_center_deg=off_fit.center_deg,
        on_width_deg=w_on,
        off_width_deg=w_off,
    )
