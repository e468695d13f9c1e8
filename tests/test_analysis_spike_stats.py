"""ISI statistics, Fano factor, correlograms and correlations: analytic values and errors.

Agreement with Elephant is in ``test_analysis_elephant.py``; here the expected values are
analytic (Poisson and regular trains, hand-counted correlograms).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import SpikeDataError
from analysis.spike_stats import (
    correlation_coefficient,
    covariance,
    cross_correlation_histogram,
    cv,
    fanofactor,
    isi_statistics,
)
from analysis.spiketrains import SpikeTrains


def _poisson(n_nodes: int, rate: float, duration: float, seed: int) -> SpikeTrains:
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate * duration * n_nodes)
    return SpikeTrains("v1_l5_exc", rng.integers(0, n_nodes, n), rng.uniform(0, duration, n), n_nodes, 0.0, duration)


def test_poisson_isi_statistics_are_one():
    # expected: CV = CV2 = LV = 1 for a Poisson process (Shinomoto et al. 2003). Per neuron
    # ~1000 ISIs; the SD of each estimate is <= 0.05 (sample CV of exponential ISIs:
    # sqrt(2/n)·..., checked below on the mean over 40 neurons: SD < 0.01, tolerance 0.04)
    stats = isi_statistics(_poisson(40, 20.0, 50.0, seed=1))
    for name in ("cv", "cv2", "lv"):
        values = getattr(stats, name)
        assert abs(values.mean() - 1.0) < 0.04, name
        assert np.all(np.abs(values - 1.0) < 0.25), name
    assert np.all(stats.n_isi > 800)


def test_regular_train_has_zero_variability():
    # expected: a perfectly regular train has CV = CV2 = LV = 0 (analytic)
    times = np.arange(1, 101) * 0.025  # 40 Hz, ISIs exactly 25 ms up to float rounding
    stats = isi_statistics((np.zeros(100, np.int64), times, 1))
    assert stats.cv[0] < 1e-12 and stats.cv2[0] < 1e-12 and stats.lv[0] < 1e-12
    assert stats.mean_isi[0] == pytest.approx(0.025, rel=1e-12)


def test_alternating_isis_have_known_cv2_and_lv():
    # expected: ISIs alternating a, b: CV2 = 2|a-b|/(a+b), LV = 3((a-b)/(a+b))², CV = |a-b|/(a+b)
    a, b = 0.01, 0.03
    times = np.concatenate([[0.0], np.cumsum(np.tile([a, b], 50))])  # 50 ISIs of each
    stats = isi_statistics((np.zeros(times.size, np.int64), times, 1))
    assert stats.cv2[0] == pytest.approx(2 * abs(a - b) / (a + b), rel=1e-9)
    assert stats.lv[0] == pytest.approx(3 * ((a - b) / (a + b)) ** 2, rel=1e-9)
    assert stats.cv[0] == pytest.approx(abs(a - b) / (a + b), rel=1e-9)


def test_trials_split_isis():
    # expected: two spikes in different trials give no ISI; within one trial they give one
    spikes = ([0, 0, 0], [0.1, 0.2, 1.1], 1)
    trials = {"start": [0.0, 1.0], "stop": [0.5, 1.5]}
    assert isi_statistics(spikes, trials).n_isi.tolist() == [1]
    assert isi_statistics(spikes).n_isi.tolist() == [2]


def test_poisson_fanofactor_and_ddof():
    # expected: counts Poisson(5) over 4000 repeats: FF (ddof=1) has SD sqrt(2/3999) = 0.022,
    # tolerance 0.1; the ddof=0 value is exactly (n-1)/n of the ddof=1 one
    rng = np.random.default_rng(2)
    counts = rng.poisson(5.0, size=(4000, 3))
    ff1 = fanofactor(counts, axis=0, ddof=1)
    assert np.all(np.abs(ff1 - 1) < 0.1)
    np.testing.assert_allclose(fanofactor(counts, axis=0), ff1 * 3999 / 4000, rtol=1e-12)


def test_cch_of_a_shifted_copy_peaks_at_the_shift():
    # expected: train j = train i shifted by 3 bins: CCH(i, j) has all n spikes at lag +3
    rng = np.random.default_rng(4)
    base = np.sort(rng.choice(np.arange(10, 900), 60, replace=False)) * 0.001 + 0.0005
    times = np.concatenate([base, base + 0.003])
    ids = np.repeat([0, 1], 60)
    order = np.argsort(times, kind="stable")
    lags, cch = cross_correlation_histogram((ids[order], times[order], 2), [[0, 1], [1, 0]], 0.001, 5,
                                            trials={"start": [0.0], "stop": [1.0]})
    assert cch[0, lags.tolist().index(3)] == 60
    assert cch[1, lags.tolist().index(-3)] == 60  # reversed pair: mirrored lag


def test_correlation_of_identical_and_independent_rows():
    # expected: identical rows correlate 1, a negated row -1 (exact up to rounding);
    # independent Poisson rows of 10^4 samples: |r| < 5/sqrt(10^4) = 0.05
    rng = np.random.default_rng(6)
    x = rng.poisson(4.0, size=(3, 10000)).astype(float)
    m = np.vstack([x, x[0], -x[1]])
    c = correlation_coefficient(m)
    assert c[0, 3] == pytest.approx(1.0, abs=1e-12) and c[1, 4] == pytest.approx(-1.0, abs=1e-12)
    assert abs(c[0, 1]) < 0.05 and abs(c[0, 2]) < 0.05
    np.testing.assert_allclose(covariance(m), np.cov(m), rtol=1e-12)  # numpy.cov, ddof 1


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.poisson(4.0, size=(70, 100)),  # integer counts: exact float32 ssyrk path
        lambda rng: rng.poisson(600.0, size=(70, 100)),  # row sums of squares > 2**24: dsyrk path
        lambda rng: rng.normal(size=(70, 100)),  # not integers: centred dsyrk path
    ],
)
def test_dense_matrices_equal_numpy_on_every_path(make):
    # expected: numpy.corrcoef / numpy.cov (what Elephant calls on dense bins), to 1e-9
    x = make(np.random.default_rng(7))
    x[5] = 3  # a row without variance: NaN correlations, as numpy gives
    with np.errstate(invalid="ignore", divide="ignore"):
        want_c, want_v = np.corrcoef(x), np.cov(x)
    np.testing.assert_allclose(correlation_coefficient(x), want_c, rtol=1e-9, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(covariance(x), want_v, rtol=1e-9, atol=1e-9 * np.abs(want_v).max())


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: cv(([0, 1], [0.3, 0.1], 2)), "sorted"),
        (lambda: cross_correlation_histogram(([0], [0.1], 1), [[0, 1]], 0.01, 3), "pairs"),
        (lambda: cross_correlation_histogram(([0], [0.1], 1), [0, 1], 0.01, 3), "pairs"),
        (lambda: cross_correlation_histogram(([0], [0.1], 1), [[0, 0]], 0.01, -1), "max_lag"),
        (lambda: cross_correlation_histogram(([0], [0.1], 1), [[0, 0]], 0.0, 1), "bin_size"),
        (lambda: correlation_coefficient(np.zeros((2, 3, 4))), "2-D"),
        (lambda: correlation_coefficient(np.zeros((2, 1))), "2 samples"),
        (lambda: covariance([[1.0, np.nan]]), "finite"),
        (lambda: fanofactor([1, 2], axis=1), "axis"),
        (lambda: fanofactor(["a", "b"]), "counts"),
    ],
)
def test_bad_input_raises_spike_data_error(call, field):
    # expected: one-line SpikeDataError naming the field
    with pytest.raises(SpikeDataError, match=field) as info:
        call()
    assert "\n" not in str(info.value)
