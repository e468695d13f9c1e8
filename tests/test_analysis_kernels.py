"""Every Numba kernel of ``analysis/_kernels.py`` equals its plain-Python twin.

Expected values come from ``tests/reference_impl.py`` (independent naive loops). Sizes are
awkward on purpose (0, 1, primes, empty windows, spikes on bin edges and within the
rounding tolerance of an edge) and small, so that this file also runs quickly with
``NUMBA_DISABLE_JIT=1`` (the STUMPY ``test.sh`` coverage pass).
"""

from __future__ import annotations

import numpy as np
import pytest
import reference_impl as ref

from analysis import _kernels

SIZES = [0, 1, 2, 7, 13, 31]


def _spikes(n_spikes: int, n_nodes: int, seed: int, bin_size: float = 0.01):
    """Sorted spikes in [0, 0.3] s, a third of them exactly on or 1e-12 s below bin edges."""
    rng = np.random.default_rng(seed)
    times = rng.uniform(0.0, 0.3, n_spikes)
    on_edge = rng.random(n_spikes) < 0.35
    times[on_edge] = np.round(times[on_edge] / bin_size) * bin_size - rng.choice([0.0, 1e-12], on_edge.sum())
    times = np.clip(times, 0.0, None)
    ids = rng.integers(0, max(n_nodes, 1), n_spikes) if n_nodes else np.zeros(0, np.int64)
    order = np.lexsort((ids, times))
    return np.ascontiguousarray(times[order]), np.ascontiguousarray(ids[order].astype(np.int64))


WINDOWS = [
    (np.zeros(0), np.zeros(0)),  # no window at all
    (np.array([0.0]), np.array([0.3])),
    (np.array([0.0, 0.05, 0.17]), np.array([0.11, 0.16, 0.28])),  # overlapping windows
    (np.array([0.29]), np.array([0.4])),  # reaching past the last spike
]


@pytest.mark.parametrize("n_spikes", SIZES)
@pytest.mark.parametrize("window", range(len(WINDOWS)))
@pytest.mark.parametrize("tolerance", [1e-8, 0.0])
def test_bin_counts_and_lists_equal_twin(n_spikes, window, tolerance):
    # expected: the naive per-spike loop of reference_impl (exact integer equality)
    n_nodes = 3
    times, ids = _spikes(n_spikes, n_nodes, seed=n_spikes)
    w0, w1 = WINDOWS[window]
    args = (times, ids, w0, w1, n_nodes, 11, 1.0 / 0.01, tolerance)
    got = _kernels.bin_counts(*args)
    want = ref.bin_counts(*args)
    assert got.dtype == np.int32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    indptr, bins = _kernels.binned_spike_lists(*args)
    r_indptr, r_bins = ref.binned_spike_lists(*args)
    np.testing.assert_array_equal(indptr, r_indptr)
    np.testing.assert_array_equal(bins, r_bins)


@pytest.mark.parametrize("x", [0.0, 0.3, 2.999999999, 2.9999999999, 3.0, 7.5, 1e-9])
def test_bin_index_equals_twin(x):
    # expected: Elephant's round_binning_errors rule as written in reference_impl (exact)
    for tol in (1e-8, 0.0):
        assert _kernels.bin_index(x * 0.01, 0.0, 100.0, tol) == ref.bin_index(x * 0.01, 0.0, 100.0, tol)


@pytest.mark.parametrize("n_spikes", SIZES)
@pytest.mark.parametrize("max_lag", [0, 1, 3])
def test_cch_pairs_equals_twin(n_spikes, max_lag):
    # expected: dense sum_t x_i[t] x_j[t+k] of reference_impl (exact integer equality)
    n_nodes = 5
    times, ids = _spikes(n_spikes, n_nodes, seed=100 + n_spikes)
    w0, w1 = WINDOWS[2]
    indptr, bins = _kernels.binned_spike_lists(times, ids, w0, w1, n_nodes, 11, 100.0, 1e-8)
    pairs = np.array([[0, 1], [1, 0], [2, 2], [4, 3], [3, 4]], dtype=np.int64)
    got = _kernels.cch_pairs(indptr, bins, n_nodes, w0.size, pairs, max_lag)
    want = ref.cch_pairs(indptr, bins, n_nodes, w0.size, pairs, max_lag)
    np.testing.assert_array_equal(got, want)
    assert _kernels.cch_pairs(indptr, bins, n_nodes, w0.size, np.zeros((0, 2), np.int64), max_lag).shape == (
        0,
        2 * max_lag + 1,
    )


@pytest.mark.parametrize("n_spikes", SIZES)
@pytest.mark.parametrize("window", [1, 2])
def test_isi_moments_equals_twin(n_spikes, window):
    # expected: per-neuron numpy diff/mean of reference_impl, to 1e-12 relative
    # (summation order differs: the kernel sums sequentially, numpy pairwise)
    n_nodes = 3
    times, ids = _spikes(n_spikes, n_nodes, seed=200 + n_spikes)
    w0, w1 = WINDOWS[window]
    got = _kernels.isi_moments(times, ids, w0, w1, n_nodes)
    want = ref.isi_moments(times, ids, w0, w1, n_nodes)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15, equal_nan=True)


def test_isi_moments_no_spikes_no_nodes():
    # expected: empty inputs give empty outputs / NaN means (reference_impl)
    empty = np.zeros(0)
    got = _kernels.isi_moments(empty, np.zeros(0, np.int64), np.array([-np.inf]), np.array([np.inf]), 2)
    assert got[0].tolist() == [0, 0] and np.isnan(got[1]).all()
    got = _kernels.isi_moments(empty, np.zeros(0, np.int64), np.array([-np.inf]), np.array([np.inf]), 0)
    assert all(a.size == 0 for a in got)


@pytest.mark.parametrize("n_spikes", SIZES)
@pytest.mark.parametrize("block", [(0, 1), (0, 7), (3, 5), (11, 13)])
def test_sta_accumulate_equals_twin(n_spikes, block):
    # expected: naive per-spike, per-lag loop of reference_impl, to 1e-12 relative
    rng = np.random.default_rng(300 + n_spikes)
    n_nodes, n_pix = 3, 5
    spike_frame = np.sort(rng.integers(0, 20, n_spikes)).astype(np.int64)
    spike_node = rng.integers(0, n_nodes, n_spikes).astype(np.int64)
    start, n_block = block
    frames = rng.normal(size=(n_block, n_pix))
    lags = np.array([0, 1, 2, 5], dtype=np.int64)
    got_sum, got_n = np.zeros((n_nodes, lags.size, n_pix)), np.zeros((n_nodes, lags.size), np.int64)
    want_sum, want_n = got_sum.copy(), got_n.copy()
    _kernels.sta_accumulate(got_sum, got_n, frames, start, spike_frame, spike_node, lags)
    ref.sta_accumulate(want_sum, want_n, frames, start, spike_frame, spike_node, lags)
    np.testing.assert_array_equal(got_n, want_n)
    np.testing.assert_allclose(got_sum, want_sum, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_spikes", SIZES)
@pytest.mark.parametrize("block", [(0, 1), (0, 7), (3, 5), (11, 13)])
def test_sta_accumulate_sparse_equals_twin(n_spikes, block):
    # expected: dense frames rebuilt from the non-zero pixels, naive loop of reference_impl
    rng = np.random.default_rng(700 + n_spikes)
    n_nodes, n_pix = 3, 7
    spike_frame = np.sort(rng.integers(0, 20, n_spikes)).astype(np.int64)
    spike_node = rng.integers(0, n_nodes, n_spikes).astype(np.int64)
    start, n_block = block
    spots = rng.integers(0, 3, n_block)  # 0, 1 or 2 spots per frame, some frames blank
    frame_ptr = np.concatenate([[0], np.cumsum(spots)]).astype(np.int64)
    pixels = rng.integers(0, n_pix, frame_ptr[-1]).astype(np.int64)
    values = rng.choice([-1.0, 1.0], frame_ptr[-1])
    lags = np.array([0, 1, 4], dtype=np.int64)
    got_sum, got_n = np.zeros((n_nodes, lags.size, n_pix)), np.zeros((n_nodes, lags.size), np.int64)
    want_sum, want_n = got_sum.copy(), got_n.copy()
    args = (frame_ptr, pixels, values, start, spike_frame, spike_node, lags)
    _kernels.sta_accumulate_sparse(got_sum, got_n, *args)
    ref.sta_accumulate_sparse(want_sum, want_n, *args)
    np.testing.assert_array_equal(got_n, want_n)
    np.testing.assert_allclose(got_sum, want_sum, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_samples", [0, 1, 2, 7, 13])
@pytest.mark.parametrize("ddof", [0, 1])
def test_pair_covariance_equals_twin(n_samples, ddof):
    # expected: numpy.cov of reference_impl, to 1e-12 relative
    rng = np.random.default_rng(400 + n_samples)
    x = rng.poisson(3.0, size=(5, n_samples)).astype(np.float64)
    pairs = np.array([[0, 1], [2, 2], [4, 0], [3, 1]], dtype=np.int64)
    got = _kernels.pair_covariance(x, pairs, ddof)
    want = ref.pair_covariance(x, pairs, ddof)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


def _spikes_with_repeats(n_spikes: int, n_nodes: int, seed: int):
    """:func:`_spikes` plus a copy of every third spike: many counts of 2 and 3 per bin."""
    times, ids = _spikes(n_spikes, n_nodes, seed)
    times = np.concatenate([times, times[::3], times[::9]])
    ids = np.concatenate([ids, ids[::3], ids[::9]])
    order = np.lexsort((ids, times))
    return np.ascontiguousarray(times[order]), np.ascontiguousarray(ids[order])


@pytest.mark.parametrize("n_spikes", SIZES + [97])
@pytest.mark.parametrize("window", [0, 1, 2, 3])
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("node_dtype", [np.uint16, np.int32])
def test_binned_sparse_matrix_equals_twin(n_spikes, window, binary, node_dtype):
    # expected: row/column lists read off the dense binned matrix by reference_impl (exact)
    n_nodes = 5
    times, ids = _spikes_with_repeats(n_spikes, n_nodes, seed=500 + n_spikes)
    w0, w1 = WINDOWS[window]
    args = (times, ids, w0, w1, n_nodes, 11, 100.0, 1e-8, binary, np.zeros(0, node_dtype))
    got = _kernels.binned_sparse_matrix(*args)
    want = ref.binned_sparse_matrix(*args)
    assert len(got) == len(want) == 10
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("n_spikes", [0, 1, 13, 97])
@pytest.mark.parametrize("n_chunks", [1, 3])
@pytest.mark.parametrize("acc_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("correlation", [False, True])
def test_sparse_covariance_upper_equals_twin(n_spikes, n_chunks, acc_dtype, correlation):
    # expected: the dense outer-product formula of reference_impl, to 1e-12 (rounding only);
    # the number of chunks (threads) must not matter and the accumulators end at zero
    n_nodes = 7
    times, ids = _spikes_with_repeats(n_spikes, n_nodes, seed=550 + n_spikes)
    w0, w1 = WINDOWS[2]
    lists = _kernels.binned_sparse_matrix(times, ids, w0, w1, n_nodes, 11, 100.0, 1e-8, False,
                                          np.zeros(0, np.uint16))
    acc = np.zeros((n_chunks, n_nodes), dtype=acc_dtype)
    out = np.full((n_nodes, n_nodes), 7.0)
    _kernels.sparse_covariance_upper(out, acc, *lists, 33.0, 1, correlation)
    want = ref.sparse_covariance_upper(out.copy(), acc, *lists, 33.0, 1, correlation)
    np.testing.assert_allclose(np.triu(out), want, rtol=1e-12, atol=1e-14, equal_nan=True)
    np.testing.assert_array_equal(np.tril(out, -1), np.tril(np.full((n_nodes, n_nodes), 7.0), -1))  # untouched
    assert not acc.any()


@pytest.mark.parametrize("n_nodes", [0, 1, 2, 67, 130])  # 67, 130 > GRAM_TILE: several tiles, odd and even
def test_mirror_upper_equals_twin(n_nodes):
    # expected: numpy triu + transposed triu of reference_impl (exact copies)
    m = np.random.default_rng(650 + n_nodes).random((n_nodes, n_nodes))
    want = ref.mirror_upper(m)
    np.testing.assert_array_equal(_kernels.mirror_upper(m), want)


@pytest.mark.parametrize("n_spikes", SIZES + [97])
@pytest.mark.parametrize("window", [1, 2, 3])
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("n_nodes", [4, 37])
def test_binned_covariance_equals_dense_twin(n_spikes, window, binary, n_nodes):
    # expected: X Xᵀ of the dense binned matrix turned into a correlation / covariance by
    # reference_impl, to 1e-12 (rounding only)
    times, ids = _spikes_with_repeats(n_spikes, n_nodes, seed=700 + n_spikes)
    w0, w1 = WINDOWS[window]
    for correlation in (False, True):
        args = (times, ids, w0, w1, n_nodes, 11, 100.0, 1e-8, binary, 1, correlation)
        np.testing.assert_allclose(_kernels.binned_covariance(*args), ref.binned_covariance(*args),
                                   rtol=1e-12, atol=1e-14, equal_nan=True)


@pytest.mark.parametrize("n_nodes", [0, 1, 2, 5, 67])  # 67 > GRAM_TILE: several tiles
@pytest.mark.parametrize("correlation", [False, True])
@pytest.mark.parametrize("kernel", ["in place", "integer float32", "integer float64"])
def test_gram_to_covariance_equals_twin(n_nodes, correlation, kernel):
    # expected: numpy outer-product formula of reference_impl, to 1e-12 relative (the
    # integer kernel's arithmetic is exact, the twin's is not)
    rng = np.random.default_rng(600 + n_nodes)
    x = rng.poisson(1.0, size=(n_nodes, 13)).astype(np.float64)
    if n_nodes > 1:
        x[1] = 0.0  # a silent row: NaN correlations
    gram, rows = x @ x.T, x.sum(axis=1)
    want = ref.gram_to_covariance(gram.copy(), rows, 13, 1, correlation)
    upper = np.triu(gram)  # the kernels read the upper triangle only
    if kernel == "in place":
        got = _kernels.gram_to_covariance(upper, rows, 13, 1, correlation)
    else:
        dtype = np.float32 if kernel.endswith("32") else np.float64
        got = _kernels.integer_gram_to_covariance(upper.astype(dtype), rows, 13, 1, correlation)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, equal_nan=True)


@pytest.mark.parametrize("n_spikes", SIZES)
def test_order_by_node_equals_stable_argsort(n_spikes):
    # expected: numpy's stable argsort (reference_impl), exact
    nodes = np.random.default_rng(800 + n_spikes).integers(0, 5, n_spikes).astype(np.int64)
    np.testing.assert_array_equal(_kernels._order_by_node(nodes, 5), ref._order_by_node(nodes, 5))
