"""Population analyses on synthetic data with known answers."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

import analysis.population
from analysis.errors import ConfigError, SpikeDataError
from analysis.population import (
    decode_accuracy,
    lifetime_sparseness,
    participation_ratio,
    probe_r2,
    reduced_rank_cv,
    reduced_rank_regression,
    split_half_reliability,
    trial_to_trial_reliability,
)


def _classes(rng, n_classes=4, n_per_class=40, n_nodes=30, separation=3.0):
    labels = np.repeat(np.arange(n_classes), n_per_class)
    centres = rng.normal(0.0, separation, size=(n_classes, n_nodes))
    return rng.normal(size=(labels.size, n_nodes)) + centres[labels], labels


def test_decoder_well_separated_classes_above_95_percent():
    rng = np.random.default_rng(0)
    responses, labels = _classes(rng)
    result = decode_accuracy(responses, labels, n_cells=20, n_subsamples=5, seed=1)
    # class centres ~3 SD apart in each of 20 cells: Bayes error ≈ 0 (issue #6 criterion ≥ 0.95)
    assert result.accuracy >= 0.95
    assert result.chance == pytest.approx(0.25, abs=1e-12)  # 4 balanced classes
    assert result.n_cells == 20 and result.accuracy_per_subsample.shape == (5,)


def test_decoder_shuffled_labels_at_chance():
    rng = np.random.default_rng(2)
    responses, labels = _classes(rng, n_per_class=50)
    result = decode_accuracy(responses, labels, n_cells=20, n_subsamples=4, shuffle_labels=True, seed=3)
    # each subsample scores 200 held-out predictions at chance 1/4: the 99 % binomial interval of one
    # subsample (scipy.stats.binom) also bounds their mean
    low, high = stats.binom.interval(0.99, labels.size, 0.25)
    assert low / labels.size <= result.accuracy <= high / labels.size
    assert result.shuffled


def test_decoder_bad_inputs():
    rng = np.random.default_rng(0)
    responses, labels = _classes(rng, n_per_class=4)
    with pytest.raises(ConfigError, match="n_cells"):
        decode_accuracy(responses, labels, n_cells=31, n_folds=4)
    with pytest.raises(ConfigError, match="n_folds"):
        decode_accuracy(responses, labels, n_folds=5)  # only 4 trials per class
    with pytest.raises(SpikeDataError, match="labels"):
        decode_accuracy(responses, labels[:-1])
    with pytest.raises(SpikeDataError, match="responses"):
        decode_accuracy(np.full((16, 3), np.nan), labels)


def test_probe_noiseless_linear_map_and_independent_data():
    rng = np.random.default_rng(4)
    downstream = rng.normal(size=(300, 40))
    upstream = downstream @ rng.normal(size=(40, 10))
    exact = probe_r2(downstream, upstream, n_cells=40, seed=0)
    # noiseless linear map: R² → 1 up to the smallest ridge penalty (1e-3 on z-scored predictors)
    assert exact.r2 == pytest.approx(1.0, abs=1e-4)
    independent = probe_r2(downstream, rng.normal(size=(300, 10)), n_cells=20, n_subsamples=3, seed=0)
    # independent data: the out-of-sample R² of a ridge fit is ≤ 0 in expectation; with 300 trials its
    # spread is a few hundredths (var ≈ p/n of OLS shrunk by the chosen penalty)
    assert independent.r2 == pytest.approx(0.0, abs=0.05)
    assert independent.r2_per_feature.shape == (10,)


def test_probe_single_feature_and_mismatched_trials():
    rng = np.random.default_rng(13)
    downstream = rng.normal(size=(200, 5))
    feature = downstream @ np.array([1.0, -2.0, 0.0, 0.5, 0.0]) + rng.normal(size=200)
    # signal variance 1 + 4 + 0.25 = 5.25, noise 1: R² → 5.25 / 6.25 = 0.84 (analytic), SE ≈ 0.02
    assert probe_r2(downstream, feature).r2 == pytest.approx(0.84, abs=0.05)
    with pytest.raises(SpikeDataError, match="upstream"):
        probe_r2(np.zeros((10, 3)), np.zeros((9, 2)))


def test_probe_conditions_keep_every_condition_in_every_training_set():
    # 40 conditions x 3 repeats; the downstream population identifies the condition exactly
    # and the upstream response is a per-condition value s_c plus unit noise. Stratified on
    # the condition (3 folds), every held-out trial is predicted by the mean of its condition's
    # 2 training repeats: residual variance 1 + 1/2, so R² = 1 - 1.5 / var(upstream) (analytic).
    # Unstratified folds leave some conditions out of training altogether.
    measured, expected, unstratified = [], [], []
    for k in range(6):
        rng = np.random.default_rng(k)
        condition = np.repeat(np.arange(40), 3)
        downstream = np.eye(40)[condition] + 0.01 * rng.normal(size=(condition.size, 40))
        upstream = rng.normal(0.0, 2.0, size=40)[condition] + rng.normal(size=condition.size)
        measured.append(probe_r2(downstream, upstream, n_folds=3, conditions=condition, seed=k).r2)
        expected.append(1 - 1.5 / upstream.var())
        unstratified.append(probe_r2(downstream, upstream, n_folds=3, seed=k).r2)
    # SE of one R² about 0.05 (residual variance from 120 trials, relative SE sqrt(2/120)),
    # of the mean of 6 about 0.02: 0.08 allows 3 SE plus the ridge shrinkage
    assert np.mean(measured) == pytest.approx(np.mean(expected), abs=0.08)
    assert np.mean(unstratified) < np.mean(measured) - 0.5
    with pytest.raises(ConfigError, match=r"n_folds: must lie in \[2, 3\] \(repeats of the rarest condition\)"):
        probe_r2(downstream, upstream, n_folds=4, conditions=condition)
    with pytest.raises(SpikeDataError, match="conditions: needs one condition per trial"):
        probe_r2(downstream, upstream, conditions=condition[1:])


def test_reduced_rank_full_rank_equals_least_squares():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(100, 6))
    y = rng.normal(size=(100, 4))
    coef, intercept = reduced_rank_regression(x, y, rank=4)
    # full rank RRR is ordinary least squares with an intercept (Izenman 1975); independent: lstsq
    design = np.c_[x, np.ones(100)]
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(coef, solution[:6], atol=1e-10)
    np.testing.assert_allclose(intercept, solution[6], atol=1e-10)
    # a rank-1 fit has a rank-1 coefficient matrix (singular values: one non-zero)
    coef1, _ = reduced_rank_regression(x, y, rank=1)
    assert np.linalg.svd(coef1, compute_uv=False)[1] == pytest.approx(0.0, abs=1e-12)


def test_reduced_rank_cv_finds_true_rank():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 12))
    true = rng.normal(size=(12, 3)) @ rng.normal(size=(3, 10))
    y = x @ true + 0.5 * rng.normal(size=(400, 10))
    result = reduced_rank_cv(x, y, n_folds=5, seed=0)
    # generated with rank 3 and SNR ≫ 1 per dimension (source: the generating model)
    assert result.optimal_rank == 3
    assert result.r2[2] == pytest.approx(result.full_rank_r2, abs=0.01)
    with pytest.raises(ConfigError, match="ranks"):
        reduced_rank_cv(x, y, ranks=[0, 1])


def test_lifetime_sparseness_analytic():
    responses = np.array([[2.0, 0.0, 1.0], [2.0, 0.0, 1.0], [2.0, 5.0, 0.0], [2.0, 0.0, 0.0]])
    # flat → 0; one non-zero → 1; two equal of four: (1 − (2/4)²/(2/4)) / (1 − 1/4) = 2/3
    # (definition of Vinje & Gallant 2000)
    np.testing.assert_allclose(lifetime_sparseness(responses), [0.0, 1.0, 2.0 / 3.0], atol=1e-12)
    assert np.isnan(lifetime_sparseness(np.zeros(4)))
    with pytest.raises(SpikeDataError, match="responses"):
        lifetime_sparseness([[1.0, -1.0], [1.0, 1.0]])


def test_reliability_signal_plus_noise():
    rng = np.random.default_rng(8)
    n_repeats, n_conditions, n_nodes = 10, 400, 3
    signal = rng.normal(size=(1, n_conditions, n_nodes))
    noise_sd = np.array([0.0, 1.0, 2.0])
    responses = signal + noise_sd * rng.normal(size=(n_repeats, n_conditions, n_nodes))
    # signal variance 1 plus independent noise σ²: trial-to-trial r → 1/(1+σ²); split-half with
    # Spearman–Brown → 1/(1+σ²/R) (classical test theory). Sampling SD over 400 conditions ≈ 0.02–0.04.
    np.testing.assert_allclose(trial_to_trial_reliability(responses), 1 / (1 + noise_sd**2), atol=0.05)
    expected_full = 1 / (1 + noise_sd**2 / n_repeats)
    np.testing.assert_allclose(split_half_reliability(responses, n_splits=20, seed=1), expected_full, atol=0.03)
    with pytest.raises(SpikeDataError, match="responses"):
        trial_to_trial_reliability(np.zeros((1, 4, 2)))


def test_participation_ratio_diagonal_covariance_exact():
    eigenvalues = np.array([4.0, 2.0, 1.0, 1.0])
    # (Σλ)²/Σλ² = 64 / 22 (definition, Gao et al. 2017)
    assert participation_ratio(np.diag(eigenvalues), is_covariance=True) == pytest.approx(64 / 22, rel=1e-12)
    # rotation invariant: the same spectrum in a rotated basis
    q, _ = np.linalg.qr(np.random.default_rng(9).normal(size=(4, 4)))
    assert participation_ratio(q @ np.diag(eigenvalues) @ q.T, is_covariance=True) == pytest.approx(64 / 22, rel=1e-12)
    # data with exactly that sample covariance: whitened samples scaled by √λ
    rng = np.random.default_rng(10)
    z = rng.normal(size=(500, 4))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)).T)
    assert participation_ratio(z * np.sqrt(eigenvalues)) == pytest.approx(64 / 22, rel=1e-10)
    with pytest.raises(SpikeDataError, match="data"):
        participation_ratio(np.ones((3, 2)), is_covariance=True)


def test_docstring_examples_run():
    result = doctest.testmod(analysis.population)
    # every Examples section of the module runs and prints what its docstring says
    assert result.failed == 0 and result.attempted >= 18


def test_decoders_run_with_one_blas_thread():
    """The fits run single-threaded in BLAS (analysis.population._one_blas_thread), and the
    limit is lifted afterwards."""
    from threadpoolctl import threadpool_info

    from analysis.population import _one_blas_thread

    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    inside = _one_blas_thread(lambda: [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"])()
    assert inside and all(n == 1 for n in inside)
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before


def _phase_only(rng, n_orientations=8, n_phases=4, n_repeats=3, n_cells=40, amplitude=3.0):
    """Balanced orientation × phase design whose responses depend on the phase alone."""
    pattern = rng.normal(size=(n_phases, n_cells))
    ori, phase = np.meshgrid(np.arange(n_orientations), np.arange(n_phases), indexing="ij")
    ori, phase = np.repeat(ori.ravel(), n_repeats), np.repeat(phase.ravel(), n_repeats)
    return amplitude * pattern[phase] + rng.normal(size=(ori.size, n_cells)), ori, phase


def test_decoder_conditions_remove_the_below_chance_bias():
    # In a balanced design the labels are independent of a response that depends on the phase
    # only, so the expected accuracy of any unbiased estimate is chance (1/8). Folds stratified
    # on the label alone under-represent the held-out trial's phase within its class and score
    # below chance (Jamalabadi et al. 2016); stratified on label x phase they must not.
    with_conditions, label_only, n_predictions = [], [], 0
    for k in range(16):
        responses, ori, phase = _phase_only(np.random.default_rng(k))
        n_predictions += ori.size
        label_only.append(decode_accuracy(responses, ori, n_subsamples=1, n_folds=3, seed=k).accuracy)
        with_conditions.append(decode_accuracy(responses, ori, n_subsamples=1, n_folds=3, seed=k,
                                               conditions=phase).accuracy)
    # 99 % binomial interval of the pooled held-out predictions at chance 1/8 (scipy.stats.binom)
    low, high = np.array(stats.binom.interval(0.99, n_predictions, 1 / 8)) / n_predictions
    assert low <= np.mean(with_conditions) <= high
    assert np.mean(label_only) < low


def test_decoder_conditions_equal_to_labels_change_nothing():
    rng = np.random.default_rng(5)
    responses, labels = _classes(rng, n_per_class=10, separation=0.3)
    plain = decode_accuracy(responses, labels, n_cells=20, n_subsamples=3, seed=2)
    # conditions that coincide with the labels (in any coding) give the same strata, hence the same folds
    same = decode_accuracy(responses, labels, n_cells=20, n_subsamples=3, seed=2, conditions=-3 * labels)
    np.testing.assert_array_equal(plain.accuracy_per_subsample, same.accuracy_per_subsample)
    shuffled = decode_accuracy(responses, labels, n_cells=20, n_subsamples=3, seed=2, shuffle_labels=True)
    same = decode_accuracy(responses, labels, n_cells=20, n_subsamples=3, seed=2, shuffle_labels=True, conditions=labels)
    np.testing.assert_array_equal(shuffled.accuracy_per_subsample, same.accuracy_per_subsample)


def test_decoder_conditions_bad_inputs():
    responses, ori, phase = _phase_only(np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"n_folds: must lie in \[2, 3\] \(smallest label x condition"):
        decode_accuracy(responses, ori, n_folds=4, conditions=phase)
    with pytest.raises(SpikeDataError, match="conditions: needs one condition per trial"):
        decode_accuracy(responses, ori, conditions=phase[:-1])
