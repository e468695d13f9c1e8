"""Bootstrap confidence intervals and the results.json summary record."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from scipy import stats

import analysis.statistics
from analysis.errors import ConfigError, SpikeDataError
from analysis.statistics import (
    binomial_chance_upper,
    bootstrap_ci,
    build_metrics,
    summarize_difference,
    summarize_seeds,
)


def test_bootstrap_ci_coverage_near_nominal():
    # 400 synthetic experiments of 20 Gaussian "seeds" each (seeded). The percentile interval of the
    # mean covers the true mean at ≈ 0.95·(1 − O(1/n)) ≈ 0.93 for n = 20 (Efron & Tibshirani 1993,
    # §13.3); the binomial SD of the observed rate over 400 experiments is ≈ 0.013, so we accept
    # [0.89, 0.98].
    rng = np.random.default_rng(2026)
    covered = 0
    for k in range(400):
        sample = rng.normal(3.0, 2.0, size=20)
        low, high = bootstrap_ci(sample, n_boot=2000, seed=k)
        covered += low <= 3.0 <= high
    assert 0.89 <= covered / 400 <= 0.98


def test_bootstrap_ci_matches_normal_theory_for_large_n():
    # for n = 2000 the bootstrap distribution of the mean is ≈ normal with SD s/√n (central limit
    # theorem); the 95 % bounds agree with mean ± 1.96·s/√n to within 5 % of the half-width
    rng = np.random.default_rng(5)
    sample = rng.exponential(1.0, size=2000)
    low, high = bootstrap_ci(sample, seed=1)
    half = 1.959964 * sample.std(ddof=1) / np.sqrt(sample.size)
    assert low == pytest.approx(sample.mean() - half, abs=0.05 * half)
    assert high == pytest.approx(sample.mean() + half, abs=0.05 * half)


def test_bootstrap_ci_seeded_and_degenerate_cases():
    values = [0.2, 0.5, 0.4, 0.9, 0.3]
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)  # same seed, same interval
    assert bootstrap_ci([0.7]) == (0.7, 0.7)  # one replicate: no spread (documented)
    assert all(np.isnan(bootstrap_ci([np.nan, np.nan])))


def test_summarize_seeds_record_is_json_ready():
    record = summarize_seeds([0.5, np.nan, 0.7, 0.6], seed=0)
    # mean of the defined seeds (NaN excluded), per_seed kept in order (documented contract)
    assert record["mean"] == pytest.approx(0.6, abs=1e-12)
    assert record["ci_low"] <= 0.6 <= record["ci_high"]
    assert 0.5 <= record["ci_low"] and record["ci_high"] <= 0.7  # bootstrap bounds lie in the sample range
    assert np.isnan(record["per_seed"][1]) and record["per_seed"][0] == 0.5
    assert set(record) == {"mean", "ci_low", "ci_high", "per_seed"}
    assert json.loads(json.dumps(record))["per_seed"][2] == 0.7


def test_build_metrics_nests_records_like_results_json():
    values = {("residual", "v1", "l5", "osi"): [0.3, 0.5, 0.4],
              ("residual", "it", "l5", "osi"): [0.2, 0.2, 0.2],
              ("hierarchical", "v1", "l4", "decoding_accuracy"): [0.9, 0.8, 0.85]}
    block = build_metrics(values)
    # shape {variant: {station: {layer: {metric: record}}}} of issue #7; means by arithmetic
    assert block["residual"]["v1"]["l5"]["osi"]["mean"] == pytest.approx(0.4, abs=1e-12)
    assert block["hierarchical"]["v1"]["l4"]["decoding_accuracy"]["mean"] == pytest.approx(0.85, abs=1e-12)
    # identical seeds give a zero-width interval (every resample has mean 0.2)
    constant = block["residual"]["it"]["l5"]["osi"]
    assert constant["ci_low"] == pytest.approx(0.2, abs=1e-12) and constant["ci_high"] == pytest.approx(0.2, abs=1e-12)
    with pytest.raises(ConfigError, match="per_seed"):
        build_metrics({("residual", "v1", "osi"): [0.1]})


def test_summarize_difference_paired_and_unpaired():
    a = np.array([0.8, 0.85, 0.9, 0.82, 0.88])
    b = np.array([0.5, 0.55, 0.6, 0.5, 0.6])
    paired = summarize_difference(a, b)
    # paired differences 0.30 0.30 0.30 0.32 0.28: mean 0.3 (arithmetic)
    assert paired["mean"] == pytest.approx(0.3, abs=1e-12)
    assert 0.28 <= paired["ci_low"] <= 0.3 <= paired["ci_high"] <= 0.32
    unpaired = summarize_difference(a, b, paired=False)
    assert unpaired["mean"] == pytest.approx(0.3, abs=1e-12)
    # independent resampling ignores the pairing, so its interval is wider here
    assert unpaired["ci_high"] - unpaired["ci_low"] > paired["ci_high"] - paired["ci_low"]
    with pytest.raises(SpikeDataError, match="per_seed_b"):
        summarize_difference(a, b[:3])


def test_binomial_chance_upper_matches_scipy():
    for n, p in ((100, 0.5), (240, 0.125), (64, 0.25)):
        threshold = binomial_chance_upper(n, p, alpha=0.05)
        k = round(threshold * n)
        # smallest k with P(K ≥ k) ≤ 0.05 (scipy.stats.binom.sf as the independent implementation)
        assert stats.binom.sf(k - 1, n, p) <= 0.05 < stats.binom.sf(k - 2, n, p)


def test_bad_options():
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(SpikeDataError, match="values"):
        bootstrap_ci(np.ones((2, 2)))
    with pytest.raises(SpikeDataError, match="per_seed"):
        summarize_seeds([])
    with pytest.raises(SpikeDataError, match="per_seed"):
        summarize_seeds([1.0, np.inf])


def test_docstring_examples_run():
    result = doctest.testmod(analysis.statistics)
    # every Examples section of the module runs and prints what its docstring says
    assert result.failed == 0 and result.attempted >= 8
