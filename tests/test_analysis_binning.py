"""Binning, PSTH and population rate: exact counts, analytic rates, one-line input errors."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.binning import bin_edges, bin_spikes, flat_spikes, population_rate, psth, time_histogram, trial_windows
from analysis.errors import SpikeDataError
from analysis.spiketrains import SpikeTrains

TRIALS = {"start": np.array([0.0, 1.0, 2.0]), "stop": np.array([0.5, 1.5, 2.5])}


def test_bin_spikes_hand_counted():
    # expected: counted by hand; bins are [k*0.1, (k+1)*0.1) after each start, a spike on the
    # window end (0.5) is dropped, one 0.05 s before the start falls in the t_pre bin
    ids = [0, 1, 0, 0, 1, 1, 0]
    times = [0.0, 0.1, 0.15, 0.5, 0.95, 1.0, 2.49]
    counts = bin_spikes((ids, times, 2), TRIALS, 0.1, t_pre=0.1)
    assert counts.shape == (3, 2, 6) and counts.dtype == np.int32
    assert counts[0, 0].tolist() == [0, 1, 1, 0, 0, 0]
    assert counts[0, 1].tolist() == [0, 0, 1, 0, 0, 0]
    assert counts[1, 1].tolist() == [1, 1, 0, 0, 0, 0]
    assert counts[2, 0].tolist() == [0, 0, 0, 0, 0, 1]
    assert counts.sum() == 7 - 1  # only the spike at the window end 0.5 s is not counted


def test_spiketrains_and_flat_arrays_bin_identically():
    # expected: the same counts from a SpikeTrains and from its flat arrays (exact)
    rng = np.random.default_rng(5)
    st = SpikeTrains("v1_l23_exc", rng.integers(0, 17, 500), rng.uniform(0, 3, 500), 17, 0.0, 3.0)
    a = bin_spikes(st, TRIALS, 0.01)
    b = bin_spikes((st.node_ids, st.times, st.n_nodes), TRIALS, 0.01)
    np.testing.assert_array_equal(a, b)
    # every spike inside [start, start + 0.5) of a trial is counted exactly once
    inside = sum(((st.times >= s) & (st.times < s + 0.5)).sum() for s in TRIALS["start"])
    assert a.sum() == inside


def test_whole_recording_is_one_trial():
    # expected: trials=None bins [t_start, t_stop] of the SpikeTrains; counts sum to n_spikes
    # minus spikes exactly at t_stop (Elephant's half-open last bin)
    st = SpikeTrains("lgn_on", [0, 1, 0], [0.0, 0.3, 1.0], 2, 0.0, 1.0)
    counts = bin_spikes(st, None, 0.25)
    assert counts.shape == (1, 2, 4)
    assert counts.sum() == 2


def test_psth_and_population_rate_of_poisson_spikes():
    # expected: homogeneous Poisson at 20 Hz; PSTH mean over 200 trials × 50 neurons × 10
    # bins = 10^5 counts of mean 0.2; SE of the mean rate = sqrt(20 / 0.1 / 10^5) = 0.045 Hz,
    # tolerance 0.3 Hz (> 6 SE)
    rng = np.random.default_rng(11)
    n_trials, n_nodes, rate, dur = 200, 50, 20.0, 1.0
    n = rng.poisson(rate * dur * n_trials * n_nodes)
    times = np.sort(rng.uniform(0, dur * n_trials, n))
    ids = rng.integers(0, n_nodes, n)
    starts = np.arange(n_trials) * dur
    counts = bin_spikes((ids, times, n_nodes), {"start": starts, "stop": starts + dur}, 0.1)
    p = psth(counts, 0.1)
    assert p.shape == (n_nodes, 10)
    assert abs(p.mean() - rate) < 0.3
    pop = population_rate(counts, 0.1)
    np.testing.assert_allclose(pop, p.mean(axis=0), rtol=1e-12)  # same average, other order
    assert np.all(np.abs(pop - rate) < 1.5)  # per bin: 10^4 counts each, SE 0.45 Hz


def test_bin_edges_and_windows():
    # expected: edges -t_pre + k * bin_size; windows [start - t_pre, start + t_post]
    np.testing.assert_allclose(bin_edges(0.1, 6, t_pre=0.1), np.arange(-1, 6) * 0.1, atol=1e-15)
    w0, w1, dur = trial_windows(TRIALS, t_pre=0.2, t_post=0.3)
    np.testing.assert_allclose(w0, TRIALS["start"] - 0.2)
    np.testing.assert_allclose(w1, TRIALS["start"] + 0.3)
    assert dur == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize(
    "spikes, field",
    [
        (([0, 1], [0.2, 0.1], 2), "sorted"),
        (([0, 1], [0.1, np.nan], 2), "NaN"),
        (([0, 1], [-0.1, 0.1], 2), ">= 0"),
        (([0, 2], [0.1, 0.2], 2), "n_nodes"),
        (([0, 1, 1], [0.1, 0.2], 2), "differ in length"),
        (([0, -1], [0.1, 0.2], 2), "node_ids"),
        (([[0, 1]], [[0.1, 0.2]], 2), "node_ids must be 1-D"),
        (([0.5], [0.1], 2), "whole numbers"),
        (([0], [0.1], -1), "n_nodes"),
        ([0, 1], "SpikeTrains or a tuple"),
    ],
)
def test_bad_spikes_raise_spike_data_error(spikes, field):
    # expected: one-line SpikeDataError naming the field
    with pytest.raises(SpikeDataError, match=field) as info:
        bin_spikes(spikes, TRIALS, 0.1)
    assert "\n" not in str(info.value)
    with pytest.raises(SpikeDataError, match=field):
        flat_spikes(spikes)


@pytest.mark.parametrize(
    "trials, field",
    [
        ({"start": np.zeros(0), "stop": np.zeros(0)}, "empty"),
        ({"start": [0.0, 1.0], "stop": [0.5]}, "differ in length"),
        ({"start": [0.0]}, "stop"),
        ({"start": [1.0], "stop": [0.5]}, "stop must be >= start"),
        ({"start": [np.nan], "stop": [0.5]}, "finite"),
        ([0.0, 1.0], "mapping"),
    ],
)
def test_bad_trials_raise_spike_data_error(trials, field):
    # expected: one-line SpikeDataError naming the trials column
    with pytest.raises(SpikeDataError, match=field):
        bin_spikes(([0], [0.1], 1), trials, 0.1)


@pytest.mark.parametrize("kwargs, field", [({"bin_size": 0.0}, "bin_size"), ({"bin_size": np.nan}, "bin_size"),
                                           ({"bin_size": 0.1, "t_pre": -1.0}, "t_pre"),
                                           ({"bin_size": 0.1, "tolerance": 2.0}, "tolerance")])
def test_bad_parameters_raise(kwargs, field):
    # expected: SpikeDataError naming the parameter
    with pytest.raises(SpikeDataError, match=field):
        bin_spikes(([0], [0.1], 1), TRIALS, **kwargs)


def test_time_histogram_and_psth_errors():
    # expected: SpikeDataError naming the argument
    with pytest.raises(SpikeDataError, match="t_start and t_stop"):
        time_histogram(([0], [0.1], 1), 0.1)
    with pytest.raises(SpikeDataError, match="output"):
        time_histogram(([0], [0.1], 1), 0.1, 0.0, 1.0, output="hz")
    with pytest.raises(SpikeDataError, match="counts must have 3 dimensions"):
        psth(np.zeros((2, 3)), 0.1)
