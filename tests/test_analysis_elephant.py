"""Our statistics agree with Elephant 1.2.1 on the same seeded spikes, to 1e-9 relative.

Expected values: Elephant itself (``elephant.statistics``, ``elephant.conversion``,
``elephant.spike_train_correlation``) run on ``neo.SpikeTrain`` copies of the same spikes.
The spike set mixes Poisson trains with edge cases: an empty train, a single spike, two
spikes, spikes exactly on bin edges and 1e-12 s below them (Elephant's rounding tolerance),
a spike at ``t_start`` and one at ``t_stop``. Counts must match exactly; real-valued
statistics to ``rtol=1e-9`` (only summation order differs).
"""

from __future__ import annotations

import warnings

import neo
import numpy as np
import pytest
import quantities as pq
from elephant import statistics as es
from elephant import spike_train_correlation as esc
from elephant.conversion import BinnedSpikeTrain

from analysis.binning import bin_spikes, time_histogram
from analysis.spike_stats import (
    correlation_coefficient,
    covariance,
    cross_correlation_histogram,
    cv,
    cv2,
    fanofactor,
    lv,
    spike_count_correlation,
    spike_count_covariance,
)
from analysis.spiketrains import SpikeTrains

T_STOP = 2.0
BIN = 0.005
RTOL = 1e-9


def _trains() -> list[np.ndarray]:
    rng = np.random.default_rng(20261122)
    trains = [np.sort(rng.uniform(0, T_STOP, rng.poisson(rate * T_STOP))) for rate in (3, 8, 15, 30, 50, 80)]
    trains += [
        np.zeros(0),  # empty train
        np.array([0.731]),  # single spike
        np.array([0.2, 1.1]),  # two spikes: one ISI
        np.arange(1, 40) * BIN,  # every spike exactly on a bin edge
        np.arange(1, 40) * 7 * BIN - 1e-12,  # just below edges: moved up by the tolerance
        np.array([0.0, 0.5 * BIN, 1.0, T_STOP]),  # spikes at t_start and t_stop
        np.sort(rng.uniform(0, T_STOP, 60)),
    ]
    return trains


@pytest.fixture(scope="module")
def spikes():
    trains = _trains()
    st = SpikeTrains.from_lists("v1_l4_exc", trains, t_stop=T_STOP)
    neo_trains = [neo.SpikeTrain(t, units="s", t_start=0.0, t_stop=T_STOP) for t in trains]
    return trains, st, neo_trains


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.mark.parametrize("output", ["counts", "mean", "rate"])
@pytest.mark.parametrize("binary", [False, True])
def test_time_histogram_equals_elephant(spikes, output, binary):
    # expected: elephant.statistics.time_histogram on the same trains (exact for counts)
    _, st, neo_trains = spikes
    want = _quiet(es.time_histogram, neo_trains, bin_size=BIN * pq.s, output=output, binary=binary)
    got = time_histogram(st, BIN, output=output, binary=binary)
    np.testing.assert_allclose(got, want.magnitude.ravel(), rtol=RTOL, atol=0)
    want = _quiet(
        es.time_histogram, neo_trains, bin_size=0.1 * pq.s, t_start=0.3 * pq.s, t_stop=1.7 * pq.s, output=output
    )
    got = time_histogram(st, 0.1, t_start=0.3, t_stop=1.7, output=output)
    np.testing.assert_allclose(got, want.magnitude.ravel(), rtol=RTOL, atol=0)


@pytest.mark.parametrize("tolerance", [1e-8, None])
def test_bin_spikes_equals_binned_spike_train(spikes, tolerance):
    # expected: BinnedSpikeTrain(t_start=start - t_pre, t_stop=start + t_post).to_array() per trial (exact)
    _, st, neo_trains = spikes
    trials = {"start": np.array([0.1, 0.6, 1.3]), "stop": np.array([0.5, 1.0, 1.7])}
    counts = bin_spikes(st, trials, BIN, t_pre=0.05, t_post=0.35, tolerance=tolerance)
    # n_bins = (t_pre + t_post) / bin_size = 79.99999999999999: 80 with the tolerance, 79 without
    assert counts.shape == (3, st.n_nodes, 80 if tolerance else 79)
    for r, start in enumerate(trials["start"]):
        binned = _quiet(
            BinnedSpikeTrain,
            neo_trains,
            bin_size=BIN * pq.s,
            t_start=(start - 0.05) * pq.s,
            t_stop=(start + 0.35) * pq.s,
            tolerance=tolerance,
        )
        # Without tolerance Elephant's n_bins follows each window's (t_stop - t_start) and is
        # 79 or 80 depending on the trial; our n_bins is common to all trials; the shared
        # bins agree exactly.
        n = min(counts.shape[2], binned.n_bins)
        assert binned.n_bins == counts.shape[2] or tolerance is None
        np.testing.assert_array_equal(counts[r, :, :n], binned.to_array()[:, :n])


def test_isi_statistics_equal_elephant(spikes):
    # expected: elephant cv(isi), cv2(isi, with_nan=True), lv(isi, with_nan=True) per train
    trains, st, _ = spikes
    want_cv = [_quiet(es.cv, es.isi(t)) for t in trains]
    want_cv2 = [_quiet(es.cv2, es.isi(t), with_nan=True) for t in trains]
    want_lv = [_quiet(es.lv, es.isi(t), with_nan=True) for t in trains]
    np.testing.assert_allclose(cv(st), want_cv, rtol=RTOL, equal_nan=True)
    np.testing.assert_allclose(cv2(st), want_cv2, rtol=RTOL, equal_nan=True)
    np.testing.assert_allclose(lv(st), want_lv, rtol=RTOL, equal_nan=True)
    # the edge cases really are edge cases: NaN for 0/1 spike, CV 0 for one ISI
    assert np.isnan(cv(st)[6]) and np.isnan(cv(st)[7]) and cv(st)[8] == 0.0 and np.isnan(lv(st)[8])


def test_isi_statistics_per_trial_equal_elephant_on_pooled_isis(spikes):
    # expected: elephant cv of the ISIs pooled over trials (ISIs never span two trials)
    trains, st, _ = spikes
    trials = {"start": np.array([0.0, 0.7, 1.4]), "stop": np.array([0.6, 1.3, 2.0])}
    got = cv(st, trials)
    for i, t in enumerate(trains):
        isis = np.concatenate([np.diff(t[(t >= a) & (t < b)]) for a, b in zip(trials["start"], trials["stop"])])
        want = _quiet(es.cv, isis)
        np.testing.assert_allclose(got[i], want, rtol=RTOL, equal_nan=True)


def test_fanofactor_equals_elephant(spikes):
    # expected: elephant.statistics.fanofactor of each neuron's list of per-trial trains
    trains, st, _ = spikes
    starts = np.arange(10) * 0.2
    trials = {"start": starts, "stop": starts + 0.2}
    counts = bin_spikes(st, trials, 0.2)[:, :, 0]
    got = fanofactor(counts, axis=0)
    for i, t in enumerate(trains):
        per_trial = [neo.SpikeTrain(t[(t >= a) & (t < a + 0.2)], units="s", t_start=a, t_stop=a + 0.2) for a in starts]
        want = _quiet(es.fanofactor, per_trial)
        np.testing.assert_allclose(got[i], want, rtol=RTOL, equal_nan=True)
    # a plain list of spike trains: one count per train (Elephant's list semantics)
    want = _quiet(es.fanofactor, [neo.SpikeTrain(t, units="s", t_stop=T_STOP) for t in trains])
    np.testing.assert_allclose(fanofactor(st.spike_counts()), want, rtol=RTOL)
    assert np.isnan(fanofactor([0, 0, 0])) and np.isnan(_quiet(es.fanofactor, [[], []]))


@pytest.mark.parametrize("border_correction", [False, True])
@pytest.mark.parametrize("max_lag", [1, 5, 40])  # Elephant refuses window [0, 0]
def test_cross_correlation_histogram_equals_elephant(spikes, border_correction, max_lag):
    # expected: elephant cross_correlation_histogram(window=[-L, L]) of each pair
    _, st, neo_trains = spikes
    pairs = np.array([[0, 1], [4, 3], [5, 5], [9, 10], [6, 2], [11, 12], [12, 4]])
    lags, got = cross_correlation_histogram(st, pairs, BIN, max_lag, border_correction=border_correction)
    np.testing.assert_array_equal(lags, np.arange(-max_lag, max_lag + 1))
    for p, (i, j) in enumerate(pairs):
        bi = _quiet(BinnedSpikeTrain, neo_trains[i], bin_size=BIN * pq.s)
        bj = _quiet(BinnedSpikeTrain, neo_trains[j], bin_size=BIN * pq.s)
        cch, want_lags = _quiet(
            esc.cross_correlation_histogram, bi, bj, window=[-max_lag, max_lag], border_correction=border_correction
        )
        np.testing.assert_array_equal(lags, want_lags)
        np.testing.assert_allclose(got[p], cch.magnitude.ravel(), rtol=RTOL, atol=0)


def test_cross_correlation_histogram_over_trials_is_the_sum_of_elephant(spikes):
    # expected: sum over trials of Elephant's CCH of each trial window
    _, st, neo_trains = spikes
    trials = {"start": np.array([0.0, 0.5, 1.2]), "stop": np.array([0.4, 0.9, 1.6])}
    pairs = np.array([[3, 4], [5, 4]])
    _, got = cross_correlation_histogram(st, pairs, BIN, 10, trials=trials)
    for p, (i, j) in enumerate(pairs):
        want = 0
        for a, b in zip(trials["start"], trials["stop"]):
            kw = dict(bin_size=BIN * pq.s, t_start=a * pq.s, t_stop=b * pq.s)
            bi = _quiet(BinnedSpikeTrain, neo_trains[i], **kw)
            bj = _quiet(BinnedSpikeTrain, neo_trains[j], **kw)
            want = want + _quiet(esc.cross_correlation_histogram, bi, bj, window=[-10, 10])[0].magnitude.ravel()
        np.testing.assert_array_equal(got[p], want)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("fast", [True, False])
def test_correlation_and_covariance_equal_elephant(spikes, binary, fast):
    # expected: elephant correlation_coefficient / covariance of the BinnedSpikeTrain
    # (fast=True: numpy.corrcoef/cov; fast=False: Elephant's sparse formula)
    _, st, neo_trains = spikes
    bin_size = 0.02
    binned = _quiet(BinnedSpikeTrain, neo_trains, bin_size=bin_size * pq.s)
    counts = bin_spikes(st, None, bin_size)[0]
    want_c = _quiet(esc.correlation_coefficient, binned, binary=binary, fast=fast)
    want_v = _quiet(esc.covariance, binned, binary=binary, fast=fast)
    got_c = correlation_coefficient(counts, binary=binary)
    got_v = covariance(counts, binary=binary)
    # relative to the largest entry: off-diagonal covariances near 0 have no meaningful rtol
    np.testing.assert_allclose(got_v, want_v, rtol=RTOL, atol=RTOL * np.abs(want_v).max())
    np.testing.assert_allclose(got_c, want_c, rtol=RTOL, atol=RTOL, equal_nan=True)
    assert np.isnan(got_c[6]).all()  # the empty train, where Elephant warns and gives NaN
    pairs = np.array([[0, 1], [3, 5], [6, 2], [12, 12]])
    np.testing.assert_allclose(
        correlation_coefficient(counts, pairs=pairs, binary=binary), want_c[pairs[:, 0], pairs[:, 1]],
        rtol=RTOL, atol=RTOL, equal_nan=True,
    )
    np.testing.assert_allclose(
        covariance(counts, pairs=pairs, binary=binary), want_v[pairs[:, 0], pairs[:, 1]],
        rtol=RTOL, atol=RTOL * np.abs(want_v).max(),
    )


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("bin_size", [BIN, 0.05])
def test_spike_count_matrices_from_spikes_equal_elephant(spikes, binary, bin_size):
    # expected: elephant correlation_coefficient / covariance of BinnedSpikeTrain; at 5 ms the
    # binned matrix is sparse (Elephant takes its sparse path), at 50 ms dense (numpy.corrcoef)
    _, st, neo_trains = spikes
    binned = _quiet(BinnedSpikeTrain, neo_trains, bin_size=bin_size * pq.s)
    want_c = _quiet(esc.correlation_coefficient, binned, binary=binary)
    want_v = _quiet(esc.covariance, binned, binary=binary)
    got_c = spike_count_correlation(st, bin_size, binary=binary)
    got_v = spike_count_covariance(st, bin_size, binary=binary)
    np.testing.assert_allclose(got_v, want_v, rtol=RTOL, atol=RTOL * np.abs(want_v).max())
    np.testing.assert_allclose(got_c, want_c, rtol=RTOL, atol=RTOL, equal_nan=True)


@pytest.mark.parametrize("ours, numpy_twin", [(spike_count_correlation, np.corrcoef),
                                              (spike_count_covariance, np.cov)])
@pytest.mark.parametrize("bin_size", [0.01, 0.1])  # 0.1 s: most non-zero bins hold several spikes
def test_spike_count_matrices_over_trials_equal_elephant_on_concatenated_bins(spikes, ours, numpy_twin, bin_size):
    # expected: numpy.corrcoef / numpy.cov (what Elephant's correlation_coefficient and
    # covariance call on dense bins) of the trial-concatenated BinnedSpikeTrain arrays
    _, st, neo_trains = spikes
    trials = {"start": np.array([0.1, 0.9]), "stop": np.array([0.6, 1.4])}
    arrays = [
        _quiet(BinnedSpikeTrain, neo_trains, bin_size=bin_size * pq.s, t_start=a * pq.s, t_stop=b * pq.s).to_array()
        for a, b in zip(trials["start"], trials["stop"])
    ]
    want = _quiet(numpy_twin, np.concatenate(arrays, axis=1))
    got = ours(st, bin_size, trials=trials)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.nanmax(np.abs(want)), equal_nan=True)
