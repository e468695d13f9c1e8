"""Poisson spike generation: Fano factor, exponential ISIs, time rescaling, dead time, streaming."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.spiketrains import SpikeRecord
from stimuli import (
    MACAQUE_PARAFOVEAL,
    Epoch,
    Grating,
    LGNParams,
    Protocol,
    SpikeParams,
    build_lgn_mosaic,
    generate_lgn_spikes,
    inhomogeneous_poisson,
    lgn_node_tables,
    lgn_rates,
)
from stimuli.spike_generation import apply_dead_time, iter_lgn_spikes


def test_homogeneous_poisson_fano_factor_is_one():
    rate, n_nodes, duration, window = 20.0, 200, 50.0, 1.0
    st = inhomogeneous_poisson(np.full((n_nodes, int(duration / 0.001)), rate), 0.001, seed=11)
    counts = np.stack([np.bincount(st.node_ids[(st.times >= t) & (st.times < t + window)].astype(int),
                                   minlength=n_nodes) for t in np.arange(0, duration, window)])
    ff = counts.var(ddof=1) / counts.mean()
    # Poisson: Fano factor 1 (analytic). 10,000 windows of mean 20: the sampling s.d. of the
    # variance/mean ratio is ~sqrt(2/(n-1)) = 0.014, so 0.05 is > 3.5 s.d.
    assert ff == pytest.approx(1.0, abs=0.05)
    # mean count = rate * window (analytic), within 4 s.e. (sqrt(20/10000) = 0.045)
    assert counts.mean() == pytest.approx(rate * window, abs=0.18)


def test_homogeneous_isis_are_exponential():
    rate = 30.0
    st = inhomogeneous_poisson(np.full((50, 20000), rate), 0.001, seed=3)
    isis = np.concatenate([np.diff(t) for t in st.spike_times_per_node()])
    # seeded KS test against Exp(1/rate) (Elephant test_spike_train_generation does the same).
    # Under H0 p is uniform; with a fixed seed the test is deterministic; p > 0.01 rejects a
    # wrong distribution at n = 30,000 ISIs (a 2 % error in rate already gives p < 1e-6)
    p = stats.kstest(isis, "expon", args=(0, 1 / rate)).pvalue
    assert p > 0.01, p
    # sensitivity check: the same ISIs against a 3 % faster rate are rejected
    assert stats.kstest(isis, "expon", args=(0, 1 / (1.03 * rate))).pvalue < 1e-3


def test_inhomogeneous_poisson_obeys_time_rescaling():
    # time-rescaling theorem (Brown et al. 2002, doi:10.1162/089976602317250861): with
    # Lambda(t) = integral of the rate, the rescaled ISIs are Exp(1)
    dt = 0.001
    t = np.arange(0, 200.0, dt)
    rate = 20.0 + 18.0 * np.sin(2 * np.pi * 2.0 * t)
    st = inhomogeneous_poisson(rate[None, :], dt, seed=8)
    cumulative = np.concatenate([[0.0], np.cumsum(rate) * dt])
    big_lambda = np.interp(st.times, np.arange(t.size + 1) * dt, cumulative)
    rescaled = np.diff(big_lambda)
    p = stats.kstest(rescaled, "expon").pvalue
    # same tolerance argument as the homogeneous test (n ~ 4,000 intervals)
    assert p > 0.01, p
    # the spike count follows the integrated rate: 4000 expected, Poisson s.d. 63, 4 s.d.
    assert st.n_spikes == pytest.approx(cumulative[-1], abs=4 * np.sqrt(cumulative[-1]))


def test_absolute_refractoriness():
    rate, tau = 100.0, 0.004
    st = inhomogeneous_poisson(np.full((100, 20000), rate), 0.001, seed=5, refractory_s=tau)
    isis = np.concatenate([np.diff(t) for t in st.spike_times_per_node()])
    # no interval shorter than the dead time (exact by construction)
    assert isis.min() >= tau
    # dead-time Poisson: rate = lambda / (1 + lambda tau) = 71.43 Hz (Dayan & Abbott 2001,
    # §1.4); 100 cells x 20 s = 142,857 expected spikes, Poisson s.d. ~380 -> 4 s.d. = 0.01
    measured = st.n_spikes / (100 * 20.0)
    assert measured == pytest.approx(rate / (1 + rate * tau), rel=0.01)
    # ISIs minus the dead time are Exp(lambda) (renewal process with shifted exponential)
    p = stats.kstest(isis[:20000] - tau, "expon", args=(0, 1 / rate)).pvalue
    assert p > 0.01, p


def test_dead_time_greedy_against_a_loop():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, 400)
    times = rng.random(400)
    keep = apply_dead_time(ids, times, 0.02)
    # plain-Python greedy twin: keep a spike if it is >= tau after the last kept one
    expected = np.zeros(400, bool)
    last = {}
    for i in np.lexsort((times, ids)):
        if times[i] - last.get(ids[i], -np.inf) >= 0.02:
            expected[i] = True
            last[ids[i]] = times[i]
    assert np.array_equal(keep, expected)


def test_generate_lgn_spikes_streams_and_matches_rates():
    params = MACAQUE_PARAFOVEAL
    mosaic = build_lgn_mosaic(params, 1.0, 0)
    protocol = Protocol([Epoch(Grating(temporal_frequency_hz=4.0, spatial_frequency_cpd=1.4), 2.0, 0.5)],
                        0.01, 1.0, 0.025)
    spikes = generate_lgn_spikes(protocol, mosaic, seed=1, dt=0.0001, block_frames=37)
    assert set(spikes) == {"lgn_on", "lgn_off"}
    for pop in ("lgn_on", "lgn_off"):
        st = spikes[pop]
        assert st.n_nodes == mosaic.n_nodes(pop)
        assert st.t_start == 0.0 and st.t_stop == pytest.approx(protocol.duration)
        # spike times on the 0.1 ms simulation grid (to float rounding, 1e-9 steps)
        steps = st.times / 0.0001
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
        # never two spikes of one cell within one step
        for t in st.spike_times_per_node():
            assert np.all(np.diff(np.round(t / 0.0001)) >= 1)
    # mean spike rate = mean LN rate: expected count sum(rates) * dt, 4 Poisson s.d.
    rates = lgn_rates(protocol, mosaic, time_step=0.001)
    expected = rates.sum() * 0.001
    total = spikes["lgn_on"].n_spikes + spikes["lgn_off"].n_spikes
    assert total == pytest.approx(expected, abs=4 * np.sqrt(expected) + 0.01 * expected)
    # the block size does not change the spikes (draws are time-major, generators per purpose)
    again = generate_lgn_spikes(protocol, mosaic, seed=1, dt=0.0001, block_frames=250)
    assert all(spikes[p].equals(again[p]) for p in spikes)
    other = generate_lgn_spikes(protocol, mosaic, seed=2, dt=0.0001, block_frames=250)
    assert not spikes["lgn_on"].equals(other["lgn_on"])
    # a SpikeRecord accepts spikes, node tables and the trials table as they come
    record = SpikeRecord(spikes=spikes, nodes=lgn_node_tables(mosaic), trials=protocol.trials_table(),
                         stimulus=protocol.describe())
    assert record.nodes["lgn_off"]["sign"].tolist() == [-1] * mosaic.n_nodes("lgn_off")


def test_refractory_parameter_is_used_by_generate_lgn_spikes():
    params = LGNParams(channels=MACAQUE_PARAFOVEAL.channels, spikes=SpikeParams(refractory_s=0.003))
    mosaic = build_lgn_mosaic(params, 0.6, 0)
    protocol = Protocol([Epoch(Grating(temporal_frequency_hz=4.0, spatial_frequency_cpd=1.4), 1.0)], 0.01, 0.6, 0.03)
    blocks = list(iter_lgn_spikes(protocol, mosaic, seed=4, block_frames=9))
    # one dict per block of 9 frames: ceil(100 / 9) = 12
    assert len(blocks) == 12
    joined = generate_lgn_spikes(protocol, mosaic, seed=4, block_frames=9)
    for t in joined["lgn_on"].spike_times_per_node():
        # the dead time holds across block boundaries too (exact)
        assert np.all(np.diff(t) >= 0.003 - 1e-12)
