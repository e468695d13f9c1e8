"""Welch spectra and band power of population rates."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import analysis.oscillations
from analysis.errors import ConfigError, SpikeDataError
from analysis.oscillations import (
    ALPHA_BETA_BAND_HZ,
    GAMMA_BAND_HZ,
    band_power,
    band_powers,
    peak_frequency,
    power_spectrum,
    relative_band_power,
)

BIN_SIZE = 0.001  # 1 ms bins, Nyquist 500 Hz


def _modulated_poisson_rate(frequency: float, rng: np.random.Generator, n_trials: int = 20,
                            duration: float = 1.0, n_nodes: int = 200) -> np.ndarray:
    """Population rate (spikes/s per neuron) of Poisson neurons sharing a sinusoidal rate."""
    t = np.arange(int(duration / BIN_SIZE)) * BIN_SIZE
    rate = 10.0 * (1.0 + 0.5 * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi, (n_trials, 1))))
    counts = rng.poisson(rate * BIN_SIZE * n_nodes)
    return counts / (n_nodes * BIN_SIZE)


@pytest.mark.parametrize("frequency", [12.0, 20.0, 40.0, 64.0])
def test_spectrum_peaks_at_injected_modulation(frequency):
    rng = np.random.default_rng(int(frequency))
    rate = _modulated_poisson_rate(frequency, rng)
    freqs, psd = power_spectrum(rate, BIN_SIZE)
    # the injected modulation is the only non-flat part of the spectrum (Poisson noise is white);
    # resolution 4 Hz, so the peak lies within half a bin of the injected frequency
    peak = float(freqs[1:][np.argmax(psd[1:])])
    assert abs(peak - frequency) <= 2.0
    band = GAMMA_BAND_HZ if frequency >= 30 else ALPHA_BETA_BAND_HZ
    other = ALPHA_BETA_BAND_HZ if frequency >= 30 else GAMMA_BAND_HZ
    assert peak_frequency(freqs, psd, band) == pytest.approx(peak, abs=1e-12)
    # a 5 spikes/s sinusoid has power 12.5 (spikes/s)² (= amplitude²/2, Parseval); white Poisson
    # noise of 10 spikes/s over 200 cells adds ≈ 2·10/200 = 0.1 (spikes/s)²/Hz per Hz
    assert band_power(freqs, psd, band) == pytest.approx(12.5 + 0.1 * (band[1] - band[0]), rel=0.15)
    assert band_power(freqs, psd, band) > 2.0 * band_power(freqs, psd, other)


def test_sinusoid_power_equals_parseval():
    # a pure sinusoid of amplitude b has total variance b²/2 (Parseval); Welch with a Hann window
    # spreads it over ±2 bins, all inside the band
    t = np.arange(4000) * BIN_SIZE
    freqs, psd = power_spectrum(3.0 + 2.0 * np.sin(2 * np.pi * 48.0 * t), BIN_SIZE)
    assert band_power(freqs, psd, GAMMA_BAND_HZ) == pytest.approx(2.0, rel=0.01)
    assert relative_band_power(freqs, psd, GAMMA_BAND_HZ) == pytest.approx(1.0, abs=0.01)


def test_band_powers_metric_names():
    rate = _modulated_poisson_rate(20.0, np.random.default_rng(0))
    result = band_powers(rate, BIN_SIZE)
    assert set(result) == {"gamma_power", "gamma_relative", "gamma_peak_hz",
                           "alpha_beta_power", "alpha_beta_relative", "alpha_beta_peak_hz"}
    # 20 Hz modulation: alpha/beta peak at 20 Hz (the injected value, 4 Hz grid)
    assert result["alpha_beta_peak_hz"] == pytest.approx(20.0, abs=2.0)
    assert result["alpha_beta_relative"] > result["gamma_relative"]


def test_relative_band_power_analytic():
    freqs = np.arange(0.0, 101.0, 1.0)
    psd = np.ones_like(freqs)
    # flat spectrum: fraction = band width / reference width = 50 / 99 (trapezoid integral of 1)
    assert relative_band_power(freqs, psd, GAMMA_BAND_HZ) == pytest.approx(50.0 / 99.0, rel=1e-12)


def test_bad_inputs():
    with pytest.raises(SpikeDataError, match="rate"):
        power_spectrum(np.array([1.0, np.nan, 2.0, 3.0]), BIN_SIZE)
    with pytest.raises(ConfigError, match="bin_size"):
        power_spectrum(np.ones(100), 0.0)
    with pytest.raises(ConfigError, match="band"):
        band_power(np.arange(10.0), np.ones(10), (30.0, 80.0))  # outside the spectrum
    with pytest.raises(SpikeDataError, match="psd"):
        band_power(np.arange(10.0), np.ones(9), (1.0, 5.0))


def test_docstring_examples_run():
    result = doctest.testmod(analysis.oscillations)
    # every Examples section of the module runs and prints what its docstring says
    assert result.failed == 0 and result.attempted >= 8
