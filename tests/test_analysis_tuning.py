"""Tuning statistics against analytic tuning curves and sinusoidal rates."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special

import analysis.tuning

from analysis.errors import ConfigError, SpikeDataError
from analysis.tuning import (
    direction_selectivity_index,
    f1_f0_from_spike_times,
    f1_f0_ratio,
    orientation_selectivity_index,
    preferred_direction,
    preferred_orientation,
    response_latency,
    shuffled_osi,
    tuning_curves,
)

ORIENTATIONS = np.arange(12) * 15.0  # 12 orientations over 180°
DIRECTIONS = np.arange(8) * 45.0  # 8 directions over 360°


def _angle_difference(a, b, period=180.0):
    return np.abs((np.asarray(a) - np.asarray(b) + period / 2) % period - period / 2)


def test_tuning_curves_mean_and_sem():
    rng = np.random.default_rng(1)
    conditions = np.repeat([0.0, 45.0, 90.0], 5)
    responses = rng.poisson(10.0, size=(15, 4)).astype(float)
    values, mean, sem = tuning_curves(responses, conditions)
    # independent implementation: a loop over conditions with numpy mean/std
    for k, value in enumerate([0.0, 45.0, 90.0]):
        group = responses[conditions == value]
        np.testing.assert_allclose(mean[k], group.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(sem[k], group.std(axis=0, ddof=1) / np.sqrt(5), rtol=1e-12)
    np.testing.assert_array_equal(values, [0.0, 45.0, 90.0])


def test_osi_circular_variance_cosine_tuning_exact():
    # r = a + b cos 2(θ − θ0): Σ r e^{2iθ} = N b/2 e^{2iθ0}, Σ r = N a, so OSI = b / (2a) (analytic)
    a = np.array([10.0, 10.0, 4.0])
    b = np.array([0.0, 5.0, 4.0])
    theta0 = np.array([0.0, 37.0, 100.0])
    tuning = a + b * np.cos(2 * np.deg2rad(ORIENTATIONS[:, None] - theta0))
    osi = orientation_selectivity_index(tuning, ORIENTATIONS)
    np.testing.assert_allclose(osi, b / (2 * a), rtol=0, atol=1e-12)
    # the vector-sum angle is θ0 itself (analytic); a flat curve gives OSI 0 and an arbitrary angle
    pref = preferred_orientation(tuning, ORIENTATIONS)
    np.testing.assert_allclose(pref[1:], theta0[1:], rtol=0, atol=1e-9)


def test_osi_circular_variance_von_mises_bessel():
    # r = exp(κ cos 2(θ − θ0)) sampled at N angles: OSI = (I1 + Σ_m I_{mN±1}) / (I0 + 2 Σ_m I_{mN})
    # (Fourier series e^{κ cos φ} = Σ I_k(κ) e^{ikφ} with aliasing of harmonics k ≡ ±1 mod N; θ0 on
    # the grid so that the aliased terms add in phase)
    kappa = np.array([0.5, 1.0, 2.0, 4.0])
    tuning = np.exp(kappa * np.cos(2 * np.deg2rad(ORIENTATIONS[:, None] - 30.0)))
    n = ORIENTATIONS.size
    m = np.arange(1, 6)[:, None]
    numerator = special.iv(1, kappa) + (special.iv(m * n + 1, kappa) + special.iv(m * n - 1, kappa)).sum(axis=0)
    denominator = special.iv(0, kappa) + 2 * special.iv(m * n, kappa).sum(axis=0)
    np.testing.assert_allclose(orientation_selectivity_index(tuning, ORIENTATIONS), numerator / denominator,
                               rtol=1e-12)


def test_osi_peak_cosine_tuning_exact():
    # pref = a + b, orth = a − b at θ0 ± 90°, so OSI = b / a (analytic)
    a, b = 6.0, 3.0
    tuning = a + b * np.cos(2 * np.deg2rad(ORIENTATIONS - 30.0))
    assert orientation_selectivity_index(tuning, ORIENTATIONS, method="peak") == pytest.approx(b / a, abs=1e-12)


def test_direction_indices_exact():
    # r = a + b cos(θ − θ0) + c cos 2(θ − θ0) over 8 directions, θ0 on the grid (analytic):
    # vector DSI = b / (2a); peak DSI = b / (a + c); CV-OSI = c / (2a); peak OSI = (b + 2c) / (2a + b)
    a, b, c = 10.0, 4.0, 3.0
    tuning = a + b * np.cos(np.deg2rad(DIRECTIONS - 135.0)) + c * np.cos(2 * np.deg2rad(DIRECTIONS - 135.0))
    assert direction_selectivity_index(tuning, DIRECTIONS, method="vector") == pytest.approx(b / (2 * a), abs=1e-12)
    assert direction_selectivity_index(tuning, DIRECTIONS) == pytest.approx(b / (a + c), abs=1e-12)
    assert orientation_selectivity_index(tuning, DIRECTIONS) == pytest.approx(c / (2 * a), abs=1e-12)
    assert orientation_selectivity_index(tuning, DIRECTIONS, method="peak") == pytest.approx(
        (b + 2 * c) / (2 * a + b), abs=1e-12)
    assert preferred_direction(tuning, DIRECTIONS) == pytest.approx(135.0, abs=1e-9)


def test_silent_neuron_gives_nan():
    tuning = np.zeros((12, 2))
    tuning[3, 1] = 1.0
    osi = orientation_selectivity_index(tuning, ORIENTATIONS)
    # a single responsive orientation has circular variance 0, OSI 1 (analytic); silent → NaN
    assert np.isnan(osi[0]) and osi[1] == pytest.approx(1.0, abs=1e-12)


def test_osi_bad_inputs():
    with pytest.raises(SpikeDataError, match="tuning"):
        orientation_selectivity_index(np.full(12, np.nan), ORIENTATIONS)
    with pytest.raises(SpikeDataError, match="tuning"):
        orientation_selectivity_index(np.ones(5), ORIENTATIONS)
    with pytest.raises(SpikeDataError, match="tuning"):
        orientation_selectivity_index(-np.ones(12), ORIENTATIONS)
    with pytest.raises(ConfigError, match="method"):
        orientation_selectivity_index(np.ones(12), ORIENTATIONS, method="vector_sum")
    with pytest.raises(ConfigError, match="angles_deg"):
        # 0, 60, 120: no orientation 90° from any peak
        orientation_selectivity_index([3.0, 1.0, 1.0], [0.0, 60.0, 120.0], method="peak")


def test_f1_f0_sampled_sinusoid_exact():
    # r(t) = a + b sin(2π f t) sampled at bin centres over whole cycles: F0 = a, F1 = b (DFT, analytic)
    bin_size, f = 0.002, 4.0
    t = (np.arange(500) + 0.5) * bin_size  # 1 s = 4 cycles
    a = np.array([[20.0], [10.0], [5.0]])
    b = np.array([[20.0], [3.0], [0.0]])
    psth = a + b * np.sin(2 * np.pi * f * t)
    ratio = f1_f0_ratio(psth, bin_size, f, bin_average_correction=False)
    np.testing.assert_allclose(ratio, (b / a).ravel(), rtol=0, atol=1e-12)


def test_f1_f0_bin_averaged_sinusoid_exact_with_correction():
    # bin averages of a + b sin(2π f t) have first harmonic b·sinc(f Δ) (analytic integral), so the
    # corrected ratio is exactly b / a even with 8 bins per cycle
    bin_size, f, a, b = 1 / 32, 4.0, 10.0, 7.0
    edges = np.arange(33) * bin_size
    w = 2 * np.pi * f
    averaged = a + b * (np.cos(w * edges[:-1]) - np.cos(w * edges[1:])) / (w * bin_size)
    assert f1_f0_ratio(averaged, bin_size, f) == pytest.approx(b / a, abs=1e-12)
    assert f1_f0_ratio(averaged, bin_size, f, bin_average_correction=False) == pytest.approx(
        b / a * np.sinc(f * bin_size), abs=1e-12)


def test_f1_f0_half_wave_rectified_is_pi_over_2():
    # max(0, sin): F0 = 1/π, F1 = 1/2 ⇒ π/2 (Skottun et al. 1991's simple-cell limit). With N even
    # samples per cycle the aliased odd harmonics vanish; F0 is off by O(1/N²) ≈ 1e-6 for N = 1000.
    t = (np.arange(2000) + 0.5) / 1000.0
    psth = np.maximum(0.0, np.sin(2 * np.pi * t))
    assert f1_f0_ratio(psth, 0.001, 1.0, bin_average_correction=False) == pytest.approx(np.pi / 2, rel=1e-5)


def test_f1_f0_spike_times_deterministic_and_poisson():
    # all spikes at one phase: F1/F0 = 2; spikes evenly over phase: 0 (analytic)
    phases = (np.arange(40) + 0.5) / 40
    ids = np.r_[np.zeros(10, dtype=np.int64), np.ones(40, dtype=np.int64)]
    times = np.r_[0.1 + np.arange(10) * 0.5, phases * 0.5 + np.repeat([0.0], 40)]
    ratio = f1_f0_from_spike_times(ids, times, 3, temporal_frequency=2.0, t_start=0.0, t_stop=5.0)
    assert ratio[0] == pytest.approx(2.0, abs=1e-12)
    assert ratio[1] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(ratio[2])
    # inhomogeneous Poisson a + b sin: E[F1/F0] → b/a; with ~2·10⁵ spikes the SD of the estimate
    # is ≈ 2/√n ≈ 0.005 (phasor mean), so 0.02 is a 4-SD tolerance
    rng = np.random.default_rng(3)
    a, b, f, duration = 40.0, 30.0, 2.0, 5000.0
    candidates = np.sort(rng.uniform(0, duration, rng.poisson((a + b) * duration)))
    keep = rng.uniform(size=candidates.size) < (a + b * np.sin(2 * np.pi * f * candidates)) / (a + b)
    spikes = candidates[keep]
    estimate = f1_f0_from_spike_times(np.zeros(spikes.size, dtype=np.int64), spikes, 1, f, 0.0, duration)
    assert estimate[0] == pytest.approx(b / a, abs=0.02)


def test_f1_f0_window_must_span_whole_cycles():
    with pytest.raises(ConfigError, match="psth"):
        f1_f0_ratio(np.ones(30), 0.01, 4.0)  # 0.3 s = 1.2 cycles
    with pytest.raises(SpikeDataError, match="node_ids"):
        f1_f0_from_spike_times([0, 5], [0.1, 0.2], 2, 1.0, 0.0, 1.0)


def test_latency_recovered_within_one_bin():
    # step responses with known onsets, bin-averaged, plus baseline noise (seeded)
    rng = np.random.default_rng(7)
    bin_size = 0.005
    edges = np.arange(-0.1, 0.3 + bin_size / 2, bin_size)
    onsets = rng.uniform(0.02, 0.15, size=50)
    left, right = edges[:-1], edges[1:]
    fraction = np.clip((right[None, :] - onsets[:, None]) / bin_size, 0.0, 1.0)
    psth = 5.0 + 45.0 * fraction + rng.normal(0.0, 1.0, size=fraction.shape)
    latency = response_latency(psth, bin_size, stimulus_onset=0.0, t_start=edges[0])
    # criterion: 3 bins above baseline mean + 3 SD; truth from the generating onsets
    assert np.all(np.abs(latency - onsets) <= bin_size + 1e-12)
    # baseline noise alone never stays 5 SD above its mean for 3 bins (P ≈ (3e-7)³): no latency
    flat = response_latency(5.0 + rng.normal(0.0, 1.0, size=left.size), bin_size, 0.0, t_start=edges[0],
                            n_sd=5.0)
    assert np.isnan(flat)


def test_latency_bad_inputs():
    with pytest.raises(ConfigError, match="baseline_window"):
        response_latency(np.ones(10), 0.01, stimulus_onset=0.0)
    with pytest.raises(SpikeDataError, match="psth"):
        response_latency(np.array([1.0, np.nan, 2.0]), 0.01, stimulus_onset=0.02)
    with pytest.raises(ConfigError, match="n_consecutive"):
        response_latency(np.ones(10), 0.01, stimulus_onset=0.05, n_consecutive=0)


def test_shuffled_osi_is_the_untuned_level():
    rng = np.random.default_rng(12)
    conditions = np.tile(ORIENTATIONS, 10)
    untuned = rng.poisson(5.0, size=(conditions.size, 200)).astype(float)
    tuned_rate = 5.0 + 4.0 * np.cos(2 * np.deg2rad(conditions - 45.0))
    tuned = rng.poisson(tuned_rate[:, None], size=(conditions.size, 50)).astype(float)
    measured = orientation_selectivity_index(tuning_curves(untuned, conditions)[1], ORIENTATIONS)
    control = shuffled_osi(untuned, conditions, n_shuffles=10, seed=1)
    # untuned Poisson cells: the labels carry no information, so the measured OSI and the control
    # have the same distribution (null hypothesis by construction); their means over 200 cells
    # differ by ≈ SD/√200 ≈ 0.004
    assert measured.mean() == pytest.approx(control.mean(), abs=0.015)
    assert control.mean() > 0.03  # finite-trial bias is real: E[OSI] > 0 without tuning
    # tuned cells (true OSI = 4/(2·5) = 0.4, analytic) stand well above their control
    tuned_osi = orientation_selectivity_index(tuning_curves(tuned, conditions)[1], ORIENTATIONS)
    assert tuned_osi.mean() == pytest.approx(0.4, abs=0.03)
    assert np.all(tuned_osi > shuffled_osi(tuned, conditions, n_shuffles=5, seed=2))


def test_docstring_examples_run():
    result = doctest.testmod(analysis.tuning)
    # every Examples section of the module runs and prints what its docstring says
    assert result.failed == 0 and result.attempted >= 12


@settings(max_examples=50, deadline=None)
@given(
    rates=arrays(np.float64, (12, 3), elements=st.floats(0.0, 100.0)),
    scale=st.floats(0.01, 100.0),
    shift=st.integers(0, 11),
)
def test_osi_bounded_scale_and_rotation_invariant(rates, scale, shift):
    rates[0] += 1.0  # no silent neuron
    osi = orientation_selectivity_index(rates, ORIENTATIONS)
    # 1 − circular variance lies in [0, 1] (triangle inequality) and, by definition, is unchanged by
    # a gain change or by rotating the stimulus set; the preferred angle rotates with it
    assert np.all((osi >= -1e-12) & (osi <= 1 + 1e-12))
    scaled = orientation_selectivity_index(scale * rates, ORIENTATIONS)
    np.testing.assert_allclose(scaled, osi, rtol=1e-9, atol=1e-12)
    rolled = np.roll(rates, shift, axis=0)
    np.testing.assert_allclose(orientation_selectivity_index(rolled, ORIENTATIONS), osi, rtol=1e-9, atol=1e-12)
    tuned = osi > 1e-6
    moved = _angle_difference(preferred_orientation(rolled, ORIENTATIONS),
                              preferred_orientation(rates, ORIENTATIONS) + 15.0 * shift)
    assert np.all(moved[tuned] < 1e-6)
