"""Power spectra and band power of population activity (per station × layer).

Laminar theories predict gamma (30–80 Hz) in L2/3 and alpha/beta (8–30 Hz) in L5
(Buffalo et al. 2011; van Kerkoerle et al. 2014; Bastos et al. 2015). The input is a binned
population rate (spikes/s per neuron), e.g. the mean over neurons of the counts from
:func:`analysis.binning.bin_spikes` divided by ``bin_size``.

Functions
---------
power_spectrum
    Welch power spectral density of population rates, averaged over trials.
band_power
    Integrated power in a frequency band.
relative_band_power
    Band power as a fraction of the power in a reference band.
peak_frequency
    Frequency of the largest PSD value inside a band.
band_powers
    Absolute and relative gamma and alpha/beta power of a rate in one call.

References
----------
Welch, P. D. (1967). The use of fast Fourier transform for the estimation of power spectra.
IEEE Trans. Audio Electroacoust. 15, 70–73. doi:10.1109/TAU.1967.1161901
Buffalo, E. A., Fries, P., Landman, R., Buschman, T. J. & Desimone, R. (2011). Laminar
differences in gamma and alpha coherence in the ventral stream. PNAS 108, 11262–11267.
doi:10.1073/pnas.1011284108
van Kerkoerle, T. et al. (2014). Alpha and gamma oscillations characterize feedback and
feedforward processing in monkey visual cortex. PNAS 111, 14332–14341.
doi:10.1073/pnas.1402773111
Bastos, A. M. et al. (2015). Visual areas exert feedforward and feedback influences through
distinct frequency channels. Neuron 85, 390–401. doi:10.1016/j.neuron.2014.12.018
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike
from scipy import signal

from analysis.errors import ConfigError, SpikeDataError
from analysis.statistics import _finite_array

__all__ = [
    "GAMMA_BAND_HZ",
    "ALPHA_BETA_BAND_HZ",
    "power_spectrum",
    "band_power",
    "relative_band_power",
    "peak_frequency",
    "band_powers",
]

logger = logging.getLogger(__name__)

#: Gamma band, Hz (Buffalo et al. 2011, superficial-layer gamma; van Kerkoerle et al. 2014).
GAMMA_BAND_HZ = (30.0, 80.0)
#: Alpha/beta band, Hz (Buffalo et al. 2011, deep-layer alpha; Bastos et al. 2015, beta feedback).
ALPHA_BETA_BAND_HZ = (8.0, 30.0)
#: Default Welch segment length, s: 4 Hz resolution resolves the 8 Hz lower band edge with
#: two bins while giving several segments in a 1-s trial.
DEFAULT_SEGMENT_S = 0.25


def power_spectrum(
    rate: ArrayLike,
    bin_size: float,
    segment_duration: float = DEFAULT_SEGMENT_S,
    detrend: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density of population rates, averaged over trials.

    Parameters
    ----------
    rate : array_like, shape (n_bins,) or (n_trials, n_bins)
        Population rate, spikes/s, sampled every ``bin_size``.
    bin_size : float
        Sampling interval, s (Nyquist frequency ``1 / (2·bin_size)``).
    segment_duration : float
        Welch segment length, s (Hann window, 50 % overlap); shortened to the trial
        length if longer. The frequency resolution is ``1 / segment_duration``.
    detrend : {"constant", "linear"}
        Detrending of each segment (removes the mean rate, which would otherwise leak
        into the lowest frequencies).

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
        Frequencies, Hz.
    psd : ndarray, shape (n_freqs,)
        One-sided PSD, (spikes/s)²/Hz, the mean over trials.

    Raises
    ------
    SpikeDataError
        NaN or empty rates, fewer than 4 bins.
    ConfigError
        Non-positive ``bin_size``/``segment_duration`` or unknown ``detrend``.

    References
    ----------
    Welch (1967). doi:10.1109/TAU.1967.1161901

    Examples
    --------
    >>> t = np.arange(2000) * 0.001
    >>> freqs, psd = power_spectrum(10 + 5 * np.sin(2 * np.pi * 40 * t), 0.001)
    >>> float(freqs[np.argmax(psd)])
    40.0
    """
    rates = _finite_array("rate", rate, ndim=(1, 2), min_size=4)
    if rates.shape[-1] < 4:
        raise SpikeDataError(f"rate: needs at least 4 time bins, got {rates.shape[-1]}")
    if bin_size <= 0 or segment_duration <= 0:
        raise ConfigError(
            f"bin_size and segment_duration: must be > 0 s, got {bin_size:g} and {segment_duration:g}"
        )
    if detrend not in ("constant", "linear"):
        raise ConfigError(f"detrend: must be 'constant' or 'linear', got {detrend!r}")
    n_bins = rates.shape[-1]
    nperseg = int(min(n_bins, max(4, round(segment_duration / bin_size))))
    freqs, psd = signal.welch(rates, fs=1.0 / bin_size, window="hann", nperseg=nperseg,
                              detrend=detrend, scaling="density", axis=-1)
    psd = psd.reshape(-1, freqs.size).mean(axis=0)
    return freqs, psd


def _spectrum_and_band(
    freqs: ArrayLike, psd: ArrayLike, band: tuple[float, float], name: str = "band"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = _finite_array("freqs", freqs, ndim=1, min_size=2)
    p = _finite_array("psd", psd, ndim=1, min_size=2, nonnegative=True)
    if f.size != p.size:
        raise SpikeDataError(f"psd: has {p.size} values but freqs has {f.size}")
    low, high = band
    if not 0 <= low < high:
        raise ConfigError(f"{name}: needs 0 <= low < high Hz, got {band}")
    inside = (f >= low) & (f <= high)
    if inside.sum() < 2:
        raise ConfigError(
            f"{name}: {band} Hz contains fewer than 2 frequency bins of the spectrum "
            f"(resolution {f[1] - f[0]:g} Hz, up to {f[-1]:g} Hz)"
        )
    return f, p, inside


def band_power(freqs: ArrayLike, psd: ArrayLike, band: tuple[float, float]) -> float:
    """Power in a frequency band (trapezoidal integral of the PSD).

    Parameters
    ----------
    freqs : array_like, shape (n_freqs,)
        Frequencies, Hz (as returned by :func:`power_spectrum`).
    psd : array_like, shape (n_freqs,)
        Power spectral density, (spikes/s)²/Hz.
    band : (float, float)
        Band edges, Hz (inclusive).

    Returns
    -------
    float
        Power, (spikes/s)².

    Raises
    ------
    ConfigError
        A band with fewer than 2 frequency bins.

    Examples
    --------
    >>> band_power([0.0, 10.0, 20.0, 30.0], [1.0, 1.0, 1.0, 1.0], (10.0, 30.0))
    20.0
    """
    f, p, inside = _spectrum_and_band(freqs, psd, band)
    return float(np.trapezoid(p[inside], f[inside]))


def relative_band_power(
    freqs: ArrayLike,
    psd: ArrayLike,
    band: tuple[float, float],
    reference_band: tuple[float, float] | None = None,
) -> float:
    """Band power as a fraction of the power in ``reference_band``.

    Parameters
    ----------
    freqs, psd, band
        As in :func:`band_power`.
    reference_band : (float, float), optional
        Denominator band, Hz; default from the first non-zero frequency to the highest.

    Returns
    -------
    float
        Fraction in [0, 1] when ``band`` lies inside ``reference_band``; NaN if the
        reference power is 0.

    Examples
    --------
    >>> relative_band_power([0.0, 10.0, 20.0, 30.0, 40.0], [0.0, 1.0, 1.0, 1.0, 1.0], (10.0, 20.0))
    0.3333333333333333
    """
    f = _finite_array("freqs", freqs, ndim=1, min_size=2)
    reference = (float(f[f > 0].min()), float(f.max())) if reference_band is None else reference_band
    numerator = band_power(freqs, psd, band)
    f_ref, p_ref, inside = _spectrum_and_band(freqs, psd, reference, name="reference_band")
    denominator = float(np.trapezoid(p_ref[inside], f_ref[inside]))
    return numerator / denominator if denominator > 0 else float("nan")


def peak_frequency(freqs: ArrayLike, psd: ArrayLike, band: tuple[float, float]) -> float:
    """Frequency of the largest PSD value inside ``band``, Hz.

    Examples
    --------
    >>> peak_frequency([0.0, 10.0, 20.0, 30.0], [5.0, 1.0, 3.0, 2.0], (10.0, 30.0))
    20.0
    """
    f, p, inside = _spectrum_and_band(freqs, psd, band)
    return float(f[inside][np.argmax(p[inside])])


def band_powers(
    rate: ArrayLike,
    bin_size: float,
    segment_duration: float = DEFAULT_SEGMENT_S,
) -> dict[str, float]:
    """Gamma and alpha/beta power of a population rate, absolute and relative.

    Parameters
    ----------
    rate : array_like, shape (n_bins,) or (n_trials, n_bins)
        Population rate, spikes/s.
    bin_size : float
        Sampling interval, s; must resolve 80 Hz (``bin_size < 1/160`` s).
    segment_duration : float
        Welch segment length, s.

    Returns
    -------
    dict
        ``{"gamma_power", "alpha_beta_power"}`` in (spikes/s)², ``{"gamma_relative",
        "alpha_beta_relative"}`` as fractions of the power from 1/segment_duration Hz to
        Nyquist, and ``{"gamma_peak_hz", "alpha_beta_peak_hz"}``. These are the metric
        names used in ``results.json``.

    Raises
    ------
    SpikeDataError, ConfigError
        As :func:`power_spectrum` and :func:`band_power`.

    Examples
    --------
    >>> t = np.arange(4000) * 0.001
    >>> powers = band_powers(10 + 5 * np.sin(2 * np.pi * 48 * t), 0.001)
    >>> powers["gamma_peak_hz"], powers["gamma_relative"] > 0.9
    (48.0, True)
    """
    freqs, psd = power_spectrum(rate, bin_size, segment_duration=segment_duration)
    result: dict[str, float] = {}
    for name, band in (("gamma", GAMMA_BAND_HZ), ("alpha_beta", ALPHA_BETA_BAND_HZ)):
        result[f"{name}_power"] = band_power(freqs, psd, band)
        result[f"{name}_relative"] = relative_band_power(freqs, psd, band)
        result[f"{name}_peak_hz"] = peak_frequency(freqs, psd, band)
    return result
