"""Spike-triggered average: recovers the filter of LN-Poisson units; streaming is exact."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import SpikeDataError
from analysis.receptive_fields import frame_blocks, spike_triggered_average

FRAME = 0.01  # s
SIDE = 10  # pixels per side
LAG_WEIGHTS = np.array([0.0, 0.4, 1.0, 0.6, -0.3])  # temporal filter, lags 0..4 frames


def _gabor(x0: float, y0: float, theta: float) -> np.ndarray:
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(float)
    xr = (x - x0) * np.cos(theta) + (y - y0) * np.sin(theta)
    envelope = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * 2.0**2))
    return envelope * np.cos(2 * np.pi * xr / 5.0)


def _ln_poisson(n_frames: int, seed: int):
    """Three LN-Poisson units (Gabor × biphasic temporal filter, exponential nonlinearity)."""
    rng = np.random.default_rng(seed)
    stim = rng.normal(size=(n_frames, SIDE, SIDE))
    spatial = np.stack([_gabor(3, 4, 0.0), _gabor(6, 6, 1.0), _gabor(5, 2, 2.0)])
    spatial /= np.linalg.norm(spatial, axis=(1, 2), keepdims=True)
    proj = np.einsum("fyx,nyx->fn", stim, spatial)  # (n_frames, 3)
    drive = np.zeros_like(proj)
    for lag, w in enumerate(LAG_WEIGHTS):
        drive[lag:] += w * proj[: n_frames - lag]
    rate = 40.0 * np.exp(0.8 * drive - 0.5)  # Hz
    counts = rng.poisson(rate * FRAME)
    frame_idx, node = np.nonzero(counts)
    reps = counts[frame_idx, node]
    frame_idx, node = np.repeat(frame_idx, reps), np.repeat(node, reps)
    times = (frame_idx + rng.uniform(0, 1, frame_idx.size)) * FRAME
    order = np.argsort(times, kind="stable")
    filters = LAG_WEIGHTS[None, :, None, None] * spatial[:, None]  # (3, n_lags, y, x)
    return stim, (node[order], times[order], 3), filters


def test_sta_recovers_ln_poisson_filters():
    # expected: for Gaussian white noise the STA is proportional to the linear filter
    # (Chichilnisky 2001; Bussgang); with 6e4 frames and ~3e4 spikes per unit the
    # correlation with the true spatio-temporal filter is >= 0.95
    stim, spikes, filters = _ln_poisson(60000, seed=7)
    res = spike_triggered_average(spikes, frame_blocks(stim, 997), FRAME, lags=range(5))
    assert res.sta.shape == (3, 5, SIDE, SIDE)
    assert res.n_frames == 60000
    for i in range(3):
        r = np.corrcoef(res.sta[i].ravel(), filters[i].ravel())[0, 1]
        assert r >= 0.95, (i, r)
        assert res.n_spikes[i, 0] > 20000


def test_streaming_is_independent_of_block_size():
    # expected: identical sums whatever the block size (1 frame, a prime, all frames at
    # once), to 1e-12 relative; equal to a brute-force numpy average
    stim, spikes, _ = _ln_poisson(600, seed=8)
    lags = [0, 2, 3]
    results = [spike_triggered_average(spikes, frame_blocks(stim, b), FRAME, lags=lags) for b in (1, 7, 600)]
    for other in results[1:]:
        np.testing.assert_allclose(other.sta, results[0].sta, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(other.n_spikes, results[0].n_spikes)
    node, times, _ = spikes
    frame = np.floor(times / FRAME).astype(int)
    mean = stim.mean(axis=0)
    for i in range(3):
        for li, lag in enumerate(lags):
            f = frame[(node == i) & (frame - lag >= 0)] - lag
            want = stim[f].mean(axis=0) - mean
            np.testing.assert_allclose(results[0].sta[i, li], want, rtol=1e-9, atol=1e-12)
            assert results[0].n_spikes[i, li] == f.size


def test_sparse_frames_give_the_dense_result():
    # expected: sparse-noise blocks (3 spots of 64 pixels, sparse kernel) and the same frames
    # with one dense pixel everywhere (dense kernel) give the same STA after removing that
    # constant, to 1e-12
    rng = np.random.default_rng(9)
    n_frames = 400
    movie = np.zeros((n_frames, 8, 8))
    for f in range(n_frames):
        movie[f].flat[rng.choice(64, 3, replace=False)] = rng.choice([-1.0, 1.0], 3)
    times = np.sort(rng.uniform(0, n_frames * FRAME, 300))
    spikes = (rng.integers(0, 2, 300), times, 2)
    sparse = spike_triggered_average(spikes, frame_blocks(movie, 64), FRAME, lags=[0, 1, 3], subtract_mean=False)
    dense = spike_triggered_average(spikes, frame_blocks(movie + 0.5, 64), FRAME, lags=[0, 1, 3], subtract_mean=False)
    np.testing.assert_allclose(sparse.sta, dense.sta - 0.5, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sparse.n_spikes, dense.n_spikes)


def test_gaps_and_silent_neurons():
    # expected: a neuron without spikes has NaN STA and 0 counts; frames never streamed
    # are not averaged (the spike at frame 5 with lag 0 is skipped when frames 4-5 are missing)
    frames = np.arange(8, dtype=float)[:, None] * np.ones((1, 2))
    blocks = [(0, frames[:4]), (6, frames[6:])]
    res = spike_triggered_average(([0, 0], [0.055, 0.075], 2), blocks, FRAME, lags=[0], subtract_mean=False)
    assert res.n_spikes.tolist() == [[1], [0]]
    assert res.sta[0, 0].tolist() == [7.0, 7.0]
    assert np.isnan(res.sta[1]).all()


@pytest.mark.parametrize(
    "kwargs, blocks, field",
    [
        ({"lags": [-1]}, [(0, np.zeros((3, 2)))], "lags"),
        ({"lags": []}, [(0, np.zeros((3, 2)))], "lags"),
        ({"frame_duration": 0.0}, [(0, np.zeros((3, 2)))], "frame_duration"),
        ({}, [(0, np.zeros((3, 2))), (2, np.zeros((3, 2)))], "overlaps"),
        ({}, [(0, np.zeros((3, 2))), (3, np.zeros((3, 3)))], "frame shape"),
        ({}, [(0, np.zeros(3))], "n_block"),
        ({}, [], "no stimulus frames"),
    ],
)
def test_bad_input_raises_spike_data_error(kwargs, blocks, field):
    # expected: one-line SpikeDataError naming the argument
    args = {"frame_duration": FRAME, **kwargs}
    with pytest.raises(SpikeDataError, match=field):
        spike_triggered_average(([0], [0.01], 1), iter(blocks), **args)
