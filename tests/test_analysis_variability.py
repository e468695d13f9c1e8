"""Variability: Fano factors, Goris gain variance, noise correlations and noise transfer.

Expected values are analytic properties of Poisson and gamma-modulated Poisson (negative
binomial) counts; tolerances follow from the sampling distribution stated at each test.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import SpikeDataError
from analysis.variability import (
    gain_variance,
    mean_matched_fano_factor,
    noise_correlations,
    noise_transfer_matrix,
    noise_transfer_slope,
    population_gain,
    time_resolved_fano_factor,
)


def test_time_resolved_fano_factor_of_poisson_counts_is_one():
    # expected: Var = mean for Poisson counts, FF = 1. Per neuron and window (100 trials)
    # the unbiased FF has SD ~ sqrt(2/99) = 0.14; averaged over 300 neurons the SD is 0.008,
    # tolerance 0.04 (5 SD)
    rng = np.random.default_rng(21)
    rates = rng.uniform(0.2, 2.0, size=(1, 300, 1))
    counts = rng.poisson(rates, size=(100, 300, 24))
    res = time_resolved_fano_factor(counts, window_bins=4, step_bins=2)
    assert res.fano.shape == (300, 11) and res.window_start.tolist() == list(range(0, 21, 2))
    assert np.all(np.abs(np.nanmean(res.fano, axis=0) - 1.0) < 0.04)
    # window 3 covers bins 6..9: same mean and variance as a direct numpy computation
    direct = counts[:, :, 6:10].sum(axis=2)
    np.testing.assert_allclose(res.mean[:, 3], direct.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(res.variance[:, 3], direct.var(axis=0, ddof=1), rtol=1e-12)


def test_mean_matched_fano_factor_of_poisson_population_stays_one():
    # expected: Poisson counts whose rates rise at "stimulus onset" (bin 10) keep FF = 1;
    # mean matching must not bias it. The weighted slope over ~300 points has SD ~0.01
    # (each variance estimate SD ~ sqrt(2/(n-1)) mean, n = 80 trials); tolerance 0.06
    rng = np.random.default_rng(22)
    base = rng.uniform(0.05, 0.5, size=(1, 400, 1))
    onset = base * rng.uniform(1, 3, (1, 400, 1))
    rate = np.concatenate([np.repeat(base, 10, axis=2), np.repeat(onset, 10, axis=2)], axis=2)
    counts = rng.poisson(rate, size=(80, 400, 20))
    res = mean_matched_fano_factor(counts, bin_size=0.01, window_bins=5, step_bins=5, seed=1)
    assert res.fano.shape == (4,)
    assert np.all(np.abs(res.fano - 1.0) < 0.06), res.fano
    assert np.all(np.abs(res.fano_all - 1.0) < 0.06), res.fano_all
    # the matched mean rate barely changes while the raw population rate rises at onset
    assert res.mean_rate_all[3] > 1.5 * res.mean_rate_all[0]
    assert abs(res.mean_rate[3] - res.mean_rate[0]) < 0.1 * res.mean_rate[0]
    assert 0.0 < res.fraction_kept <= 1.0


def test_mean_matched_fano_factor_drops_when_gain_noise_stops():
    # expected: gamma gain noise of variance 0.3 before onset gives FF = 1 + 0.3 * mean
    # (Goris et al. 2014) > 1; Poisson after onset gives FF = 1: the quench of Churchland
    # et al. 2010 must appear (FF before > 1.2, after within 0.1 of 1)
    rng = np.random.default_rng(23)
    mu = rng.uniform(1.0, 4.0, size=(1, 300, 1))  # counts per 5-bin window
    gain = rng.gamma(1 / 0.3, 0.3, size=(100, 300, 1))
    pre = rng.poisson(np.repeat(gain * mu / 5, 10, axis=2))
    post = rng.poisson(np.repeat(mu / 5, 10, axis=2), size=(100, 300, 10))
    res = mean_matched_fano_factor(np.concatenate([pre, post], axis=2), 0.01, window_bins=5, step_bins=5, seed=2)
    assert res.fano[0] > 1.2 and res.fano[1] > 1.2
    assert np.all(np.abs(res.fano[2:] - 1.0) < 0.1)


@pytest.mark.parametrize("method", ["mle", "moments"])
def test_goris_gain_variance_recovered(method):
    # expected: counts Poisson(G mu_c) with G ~ Gamma(mean 1, var 0.25) are negative binomial
    # with Var = mu + 0.25 mu^2 (Goris et al. 2014); 60 neurons × 5 conditions × 120 repeats:
    # per-neuron SE ~ 0.04, mean over neurons within 10 % of 0.25 (SE ~ 0.005)
    rng = np.random.default_rng(24)
    n_cond, n_rep, n_nodes, sigma2 = 5, 120, 60, 0.25
    mu = rng.uniform(2.0, 20.0, size=(n_cond, n_nodes))
    conditions = np.repeat(np.arange(n_cond), n_rep)
    gain = rng.gamma(1 / sigma2, sigma2, size=(n_cond * n_rep, n_nodes))
    counts = rng.poisson(gain * mu[conditions])
    est = gain_variance(counts, conditions, method=method)
    assert est.shape == (n_nodes,)
    assert abs(est.mean() - sigma2) < 0.1 * sigma2, est.mean()
    assert np.all(np.abs(est - sigma2) < 0.6 * sigma2)


def test_goris_gain_variance_of_poisson_counts_is_near_zero():
    # expected: no gain noise, sigma_G^2 = 0; estimates are clamped at 0 and the largest
    # stays below 0.02 (SE of the moment estimate ~ sqrt(2/n)/mu ~ 0.01 at mu = 10, n = 400)
    rng = np.random.default_rng(25)
    counts = rng.poisson(10.0, size=(400, 30))
    est = gain_variance(counts)
    assert np.all(est >= 0) and est.max() < 0.02
    assert np.isnan(gain_variance(np.zeros((5, 1), int))[0])  # silent neuron


def test_noise_correlations_of_a_shared_gain():
    # expected: N_i ~ Poisson(G mu_i(c)) with shared G of variance s2 gives, within a
    # condition, r_ij = s2 mu_i mu_j / sqrt((mu_i + s2 mu_i^2)(mu_j + s2 mu_j^2)); pooled
    # over 4 conditions after z-scoring, r is the mean over conditions; 4000 trials:
    # SE of r ~ 1/sqrt(4000) = 0.016, tolerance 0.06. Without removing the condition means
    # the (signal) correlation would be near 1.
    rng = np.random.default_rng(26)
    s2, n_cond, n_rep = 0.1, 4, 1000
    mu = rng.uniform(2.0, 30.0, size=(n_cond, 5))
    conditions = np.repeat(np.arange(n_cond), n_rep)
    gain = rng.gamma(1 / s2, s2, size=(n_cond * n_rep, 1))
    counts = rng.poisson(gain * mu[conditions])
    r = noise_correlations(counts, conditions)
    var = mu + s2 * mu**2
    want = np.mean(s2 * mu[:, :, None] * mu[:, None, :] / np.sqrt(var[:, :, None] * var[:, None, :]), axis=0)
    np.fill_diagonal(want, 1.0)
    np.testing.assert_allclose(r, want, atol=0.06)
    pairs = np.array([[0, 1], [3, 4]])
    np.testing.assert_allclose(noise_correlations(counts, conditions, pairs=pairs), r[pairs[:, 0], pairs[:, 1]],
                               rtol=1e-12)


def test_noise_transfer_slope_recovers_known_coupling():
    # expected: downstream rate mu (1 + a (g - 1)) with a = 0.6 gives slope a; the slope is
    # within 4 standard errors of 0.6, and the standard error matches the spread of
    # 2000-trial estimates (OLS theory): SE < 0.05 here
    rng = np.random.default_rng(27)
    g = rng.gamma(1 / 0.04, 0.04, size=2000)
    conditions = np.tile([0, 1], 1000)
    mu = np.where(conditions[:, None] == 0, 5.0, 12.0) * np.ones((1, 80))
    counts = rng.poisson(mu * (1 + 0.6 * (g - 1))[:, None])
    fit = noise_transfer_slope(counts, g, conditions)
    assert fit.stderr < 0.05
    assert abs(fit.slope - 0.6) < 4 * fit.stderr
    assert fit.r > 0.5 and fit.n_trials == 2000
    gains = population_gain(counts, conditions)
    assert abs(gains.mean() - 1.0) < 1e-12  # by construction, ratio to the condition means
    # no coupling: slope within 4 SE of 0
    fit0 = noise_transfer_slope(rng.poisson(mu), g, conditions)
    assert abs(fit0.slope) < 4 * fit0.stderr


def test_noise_transfer_matrix_places_each_slope():
    # expected: gain noise injected at v1 passes to v2 with a = 0.8 and to v4 with a = 0.5
    # (simulated); each entry within 4 SE; entries never measured are NaN
    rng = np.random.default_rng(28)
    g = rng.gamma(1 / 0.04, 0.04, size=1500)
    ones = np.ones((1, 60))
    v2 = rng.poisson(8.0 * (1 + 0.8 * (g - 1))[:, None] * ones)
    v4 = rng.poisson(8.0 * (1 + 0.5 * (g - 1))[:, None] * ones)
    slope, se = noise_transfer_matrix({"v1": (g, {"v2": v2, "v4": v4})}, ["v1", "v2", "v4"])
    assert abs(slope[1, 0] - 0.8) < 4 * se[1, 0] and abs(slope[2, 0] - 0.5) < 4 * se[2, 0]
    assert np.isnan(slope[0, 0]) and np.isnan(slope[:, 1:]).all()
    with pytest.raises(SpikeDataError, match="unknown injection station 'v3'"):
        noise_transfer_matrix({"v3": (g, {"v2": v2})}, ["v1", "v2"])


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: time_resolved_fano_factor(np.zeros((3, 2)), 1), "n_trials, n_nodes, n_bins"),
        (lambda: time_resolved_fano_factor(np.zeros((3, 2, 4)), 5), "window_bins"),
        (lambda: time_resolved_fano_factor(np.zeros((3, 2, 4)), 2, step_bins=0), "step_bins"),
        (lambda: time_resolved_fano_factor(-np.ones((3, 2, 4)), 2), ">= 0"),
        (lambda: time_resolved_fano_factor(np.zeros((1, 2, 4)), 2), "at least 2 trials"),
        (lambda: gain_variance(np.ones((4, 2)), conditions=[0, 1]), "conditions"),
        (lambda: gain_variance(np.ones((4, 2)), method="ml"), "method"),
        (lambda: noise_correlations(np.ones((4, 2)), conditions=[0, 0, 0, 1]), "condition"),
        (lambda: noise_transfer_slope(np.ones((4, 2)), [1.0, 1.0]), "injected_gain"),
        (lambda: noise_transfer_slope(np.ones((4, 2)), [1.0] * 4), "no variance"),
        (lambda: mean_matched_fano_factor(np.ones((4, 2, 4)), bin_size=0.0, window_bins=2), "bin_size"),
    ],
)
def test_bad_input_raises_spike_data_error(call, field):
    # expected: one-line SpikeDataError naming the field
    with pytest.raises(SpikeDataError, match=field) as info:
        call()
    assert "\n" not in str(info.value)
