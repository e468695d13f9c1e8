"""Private Numba kernels of the analyses: flat arrays in, arrays out, no validation.

This is the ONLY module of the project that imports :mod:`numba`. The public wrappers in
:mod:`analysis.binning`, :mod:`analysis.spike_stats`, :mod:`analysis.variability` and
:mod:`analysis.receptive_fields` validate and convert their input (float64 times sorted
by time, int64 node ids, int64 indices) before calling a kernel; a kernel trusts it.

Kernels
-------
bin_index
    Elephant's bin index of one spike time (``BinnedSpikeTrain`` rounding rule).
bin_counts
    Spike counts ``(n_windows, n_nodes, n_bins)`` from time-sorted spikes.
binned_spike_lists
    The same binning as a sparse CSR list of bin indices per (window, node).
cch_pairs
    Cross-correlogram counts of many neuron pairs, summed over windows.
isi_moments
    Per-neuron ISI mean and squared deviations, and the CV2/LV pair sums.
sta_accumulate
    Add one block of stimulus frames to the spike-triggered sums of every neuron.
sta_accumulate_sparse
    The same for frames given by their non-zero pixels (sparse noise).
pair_covariance
    Sample covariance of selected rows of a matrix (pairs of neurons).
binned_gram
    ``X Xᵀ`` of the binned spike matrix from the spikes directly (sparse co-occurrences).
gram_to_covariance
    Turn that Gram matrix into a covariance or correlation matrix, in place.

Design (spikeinterface ``postprocessing/correlograms.py``, STUMPY ``stump.py``): kernels
are compiled lazily on first call (``njit`` without signatures, so importing the package
compiles nothing), cached on disk only when ``NUMBA_CACHE_DIR`` is set (``cache=True``
would fail in a read-only install), use ``error_model="numpy"`` so that 0/0 gives NaN as
in numpy and Elephant, and are serial: every sum is accumulated in a fixed order, so a
result never changes between runs or with the number of threads. Every kernel has a
plain-Python twin in ``tests/reference_impl.py`` and the kernel tests also run with
``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import os

import numba
import numpy as np

__all__ = [
    "bin_index",
    "bin_counts",
    "binned_spike_lists",
    "cch_pairs",
    "isi_moments",
    "sta_accumulate",
    "sta_accumulate_sparse",
    "pair_covariance",
    "binned_gram",
    "gram_to_covariance",
]

#: Persist compiled kernels only where the user asked for a cache directory.
_CACHE = bool(os.environ.get("NUMBA_CACHE_DIR"))


def _jit(func):
    return numba.njit(cache=_CACHE, error_model="numpy", nogil=True)(func)


@_jit
def bin_index(t, w0, inv_bin_size, tolerance):
    """Bin of time ``t`` in a window starting at ``w0``, Elephant's rounding rule.

    ``x = (t - w0) * inv_bin_size``; when the fractional part of ``x`` is within
    ``tolerance`` of 1 the spike is moved into the next bin (``elephant.utils.
    round_binning_errors``); the bin is ``int(x)``. ``tolerance <= 0`` disables the shift.
    """
    x = (t - w0) * inv_bin_size
    if tolerance > 0.0 and x % 1.0 >= 1.0 - tolerance:
        x += 0.5
    return int(x)


@_jit
def _binned_rows(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance):
    """Row ``w * n_nodes + node`` and bin of every spike that falls in a bin of a window.

    Spikes come out window by window, in time order within a window; a spike in two
    overlapping windows appears twice.
    """
    n_windows = win_start.shape[0]
    total = 0
    for w in range(n_windows):
        total += np.searchsorted(times, win_stop[w], side="right") - np.searchsorted(times, win_start[w], side="left")
    rows = np.empty(total, dtype=np.int64)
    bins = np.empty(total, dtype=np.int64)
    m = 0
    for w in range(n_windows):
        w0 = win_start[w]
        lo = np.searchsorted(times, w0, side="left")
        hi = np.searchsorted(times, win_stop[w], side="right")
        for s in range(lo, hi):
            b = bin_index(times[s], w0, inv_bin_size, tolerance)
            if b < n_bins:
                rows[m] = w * n_nodes + node_ids[s]
                bins[m] = b
                m += 1
    return rows[:m], bins[:m]


@_jit
def bin_counts(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance):
    """Spike counts per window, node and bin.

    Parameters
    ----------
    times : float64[n_spikes]
        Spike times (s), non-decreasing.
    node_ids : int64[n_spikes]
        Node of each spike, ``0 <= id < n_nodes``.
    win_start, win_stop : float64[n_windows]
        Window edges (s); spikes with ``win_start <= t <= win_stop`` are binned and bins
        ``>= n_bins`` dropped, as ``elephant.conversion.BinnedSpikeTrain`` does.
    n_nodes, n_bins : int
    inv_bin_size : float
        ``1 / bin_size`` (1/s), multiplied as Elephant does (not a division).
    tolerance : float
        Elephant's rounding tolerance in bins (1e-8 there); 0 disables it.

    Returns
    -------
    counts : int32[n_windows, n_nodes, n_bins]
    """
    n_windows = win_start.shape[0]
    rows, bins = _binned_rows(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance)
    counts = np.zeros((n_windows, n_nodes, n_bins), dtype=np.int32)
    flat = counts.reshape(n_windows * n_nodes, n_bins)
    for k in range(rows.shape[0]):
        flat[rows[k], bins[k]] += 1
    return counts


@_jit
def binned_spike_lists(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance):
    """Sparse form of :func:`bin_counts`: the bin of every binned spike, per (window, node).

    Returns
    -------
    indptr : int64[n_windows * n_nodes + 1]
        Spikes of window ``w`` and node ``i`` are ``bins[indptr[k]:indptr[k + 1]]`` with
        ``k = w * n_nodes + i``.
    bins : int64[n_binned]
        Bin indices, non-decreasing within each (window, node) row; a bin holding two
        spikes appears twice.
    """
    n_rows = win_start.shape[0] * n_nodes
    rows, found = _binned_rows(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance)
    m = rows.shape[0]
    # a stable counting sort groups the rows and keeps the time order within each
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for k in range(m):
        indptr[rows[k] + 1] += 1
    for k in range(n_rows):
        indptr[k + 1] += indptr[k]
    fill = indptr[:-1].copy()
    bins = np.empty(m, dtype=np.int64)
    for k in range(m):
        bins[fill[rows[k]]] = found[k]
        fill[rows[k]] += 1
    return indptr, bins


@_jit
def cch_pairs(indptr, bins, n_nodes, n_windows, pairs, max_lag):
    """Cross-correlogram counts ``C[p, k + max_lag] = sum_w sum_t x_i[t] x_j[t + k]``.

    Parameters
    ----------
    indptr, bins : int64 arrays
        Output of :func:`binned_spike_lists`.
    n_nodes, n_windows : int
    pairs : int64[n_pairs, 2]
        ``(i, j)`` rows; a positive lag means that ``j`` fires after ``i``
        (``elephant.spike_train_correlation.cross_correlation_histogram`` convention).
    max_lag : int
        Largest lag in bins; lags are ``-max_lag .. max_lag``.

    Returns
    -------
    cch : int64[n_pairs, 2 * max_lag + 1]
    """
    n_pairs = pairs.shape[0]
    n_lags = 2 * max_lag + 1
    out = np.zeros((n_pairs, n_lags), dtype=np.int64)
    for p in range(n_pairs):
        a = pairs[p, 0]
        b = pairs[p, 1]
        for w in range(n_windows):
            ka = w * n_nodes + a
            kb = w * n_nodes + b
            b_lo = indptr[kb]
            b_hi = indptr[kb + 1]
            if b_lo == b_hi:
                continue
            first = b_lo
            for s in range(indptr[ka], indptr[ka + 1]):
                t = bins[s]
                # bins of row a are non-decreasing, so the window start only moves right
                while first < b_hi and bins[first] < t - max_lag:
                    first += 1
                q = first
                while q < b_hi and bins[q] <= t + max_lag:
                    out[p, bins[q] - t + max_lag] += 1
                    q += 1
    return out


@_jit
def isi_moments(times, node_ids, win_start, win_stop, n_nodes):
    """Inter-spike-interval sums per neuron, ISIs taken within each window only.

    Two passes over the spikes (mean first, then squared deviations from it), so the
    variance does not lose precision to cancellation for regular trains.

    Parameters
    ----------
    times : float64[n_spikes]
        Non-decreasing spike times (s).
    node_ids : int64[n_spikes]
    win_start, win_stop : float64[n_windows]
        Spikes with ``win_start <= t < win_stop`` form one train per neuron and window;
        ISIs never span two windows.
    n_nodes : int

    Returns
    -------
    n_isi : int64[n_nodes]
        Number of ISIs.
    mean : float64[n_nodes]
        Mean ISI (s); NaN without ISI.
    m2 : float64[n_nodes]
        Sum of squared deviations of the ISIs from ``mean`` (s²).
    n_pairs : int64[n_nodes]
        Number of consecutive ISI pairs ``(I_k, I_{k+1})``.
    sum_abs : float64[n_nodes]
        ``sum |I_{k+1} - I_k| / (I_{k+1} + I_k)`` over the pairs (CV2 = 2 × mean).
    sum_sq : float64[n_nodes]
        ``sum ((I_{k+1} - I_k) / (I_{k+1} + I_k))²`` (LV = 3 × mean).
    """
    n_isi = np.zeros(n_nodes, dtype=np.int64)
    total = np.zeros(n_nodes, dtype=np.float64)
    n_pairs = np.zeros(n_nodes, dtype=np.int64)
    sum_abs = np.zeros(n_nodes, dtype=np.float64)
    sum_sq = np.zeros(n_nodes, dtype=np.float64)
    last_t = np.zeros(n_nodes, dtype=np.float64)
    last_isi = np.zeros(n_nodes, dtype=np.float64)
    spike_win = np.full(n_nodes, -1, dtype=np.int64)
    isi_win = np.full(n_nodes, -1, dtype=np.int64)
    n_windows = win_start.shape[0]
    for w in range(n_windows):
        lo = np.searchsorted(times, win_start[w], side="left")
        hi = np.searchsorted(times, win_stop[w], side="left")
        for s in range(lo, hi):
            i = node_ids[s]
            t = times[s]
            if spike_win[i] == w:
                isi = t - last_t[i]
                n_isi[i] += 1
                total[i] += isi
                if isi_win[i] == w:
                    ratio = (isi - last_isi[i]) / (last_isi[i] + isi)
                    n_pairs[i] += 1
                    sum_abs[i] += abs(ratio)
                    sum_sq[i] += ratio * ratio
                last_isi[i] = isi
                isi_win[i] = w
            last_t[i] = t
            spike_win[i] = w
    mean = np.full(n_nodes, np.nan)
    for i in range(n_nodes):
        if n_isi[i] > 0:
            mean[i] = total[i] / n_isi[i]
    m2 = np.zeros(n_nodes, dtype=np.float64)
    spike_win[:] = -1
    for w in range(n_windows):
        lo = np.searchsorted(times, win_start[w], side="left")
        hi = np.searchsorted(times, win_stop[w], side="left")
        for s in range(lo, hi):
            i = node_ids[s]
            t = times[s]
            if spike_win[i] == w:
                d = (t - last_t[i]) - mean[i]
                m2[i] += d * d
            last_t[i] = t
            spike_win[i] = w
    return n_isi, mean, m2, n_pairs, sum_abs, sum_sq


@_jit
def _order_by_node(spike_node, n_nodes):
    """Spike indices grouped by node (stable counting sort), so that each neuron's
    spike-triggered sums stay in cache while its spikes are added."""
    start = np.zeros(n_nodes + 1, dtype=np.int64)
    for s in range(spike_node.shape[0]):
        start[spike_node[s] + 1] += 1
    for i in range(n_nodes):
        start[i + 1] += start[i]
    order = np.empty(spike_node.shape[0], dtype=np.int64)
    for s in range(spike_node.shape[0]):
        order[start[spike_node[s]]] = s
        start[spike_node[s]] += 1
    return order


@_jit
def sta_accumulate(sta_sum, n_spikes, frames, block_start, spike_frame, spike_node, lags):
    """Add one block of frames to the spike-triggered sums, in place.

    Parameters
    ----------
    sta_sum : float64[n_nodes, n_lags, n_pixels]
        Running sum of the frames shown ``lags[l]`` frames before each spike's frame.
    n_spikes : int64[n_nodes, n_lags]
        Running number of (spike, lag) terms added (a lag whose frame lies before the
        first frame or after the last one is not counted).
    frames : float64[n_block, n_pixels]
        Frames ``block_start .. block_start + n_block - 1``.
    block_start : int
    spike_frame : int64[n_spikes]
        Index of the frame on screen at each spike, non-decreasing.
    spike_node : int64[n_spikes]
    lags : int64[n_lags]
        Non-negative frame lags.
    """
    n_block = frames.shape[0]
    n_pix = frames.shape[1]
    n_lags = lags.shape[0]
    for s in _order_by_node(spike_node, sta_sum.shape[0]):
        i = spike_node[s]
        for li in range(n_lags):
            f = spike_frame[s] - lags[li] - block_start
            if 0 <= f < n_block:
                n_spikes[i, li] += 1
                for p in range(n_pix):
                    sta_sum[i, li, p] += frames[f, p]


@_jit
def sta_accumulate_sparse(sta_sum, n_spikes, frame_ptr, pixels, values, block_start, spike_frame, spike_node, lags):
    """:func:`sta_accumulate` for frames stored by their non-zero pixels, in place.

    Frame ``block_start + f`` has values ``values[frame_ptr[f]:frame_ptr[f + 1]]`` at
    pixels ``pixels[frame_ptr[f]:frame_ptr[f + 1]]`` (zeros elsewhere); the block holds
    ``frame_ptr.shape[0] - 1`` frames; a pixel listed twice adds up (COO convention).
    The cost per (spike, lag) is the number of non-zero
    pixels instead of all pixels: sparse noise has a few spots per frame.
    """
    n_block = frame_ptr.shape[0] - 1
    n_lags = lags.shape[0]
    for s in _order_by_node(spike_node, sta_sum.shape[0]):
        i = spike_node[s]
        for li in range(n_lags):
            f = spike_frame[s] - lags[li] - block_start
            if 0 <= f < n_block:
                n_spikes[i, li] += 1
                for k in range(frame_ptr[f], frame_ptr[f + 1]):
                    sta_sum[i, li, pixels[k]] += values[k]


@_jit
def pair_covariance(x, pairs, ddof):
    """Covariance of rows ``x[i]`` and ``x[j]`` for each pair, centred two-pass.

    Parameters
    ----------
    x : float64[n_rows, n_samples]
    pairs : int64[n_pairs, 2]
    ddof : int
        Delta degrees of freedom (1 as in ``numpy.cov``).

    Returns
    -------
    cov : float64[n_pairs]
        NaN when ``n_samples <= ddof``.
    """
    n_rows = x.shape[0]
    n = x.shape[1]
    mean = np.zeros(n_rows, dtype=np.float64)
    for i in range(n_rows):
        acc = 0.0
        for k in range(n):
            acc += x[i, k]
        mean[i] = acc / n if n > 0 else np.nan
    out = np.empty(pairs.shape[0], dtype=np.float64)
    for p in range(pairs.shape[0]):
        a = pairs[p, 0]
        b = pairs[p, 1]
        acc = 0.0
        for k in range(n):
            acc += (x[a, k] - mean[a]) * (x[b, k] - mean[b])
        out[p] = acc / (n - ddof) if n > ddof else np.nan
    return out


#: Rows of the Gram matrix updated together: 32 rows × 10,000 float64 columns = 2.5 MB,
#: about one core's share of cache, so the scattered co-occurrence updates stay in cache.
GRAM_ROW_BLOCK = 32
#: Side of the square tiles in which the symmetric matrix is normalised and mirrored.
GRAM_TILE = 64


@_jit
def binned_gram(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance, binary):
    """Upper triangle of the Gram matrix ``G = X Xᵀ`` and row sums of the binned matrix ``X``.

    ``X[i, (w, b)]`` is the count of node ``i`` in bin ``b`` of window ``w`` (the binning
    of :func:`bin_counts`, windows concatenated). Only bins holding spikes contribute:
    for the ``k`` spikes of one bin every pair adds one co-occurrence, so the cost is
    ``sum_bins k²/2`` rather than the ``n_nodes² × n_samples`` of a dense product. The
    spikes are first grouped by bin (node ids sorted within a bin), then the rows of
    ``G`` are filled ``GRAM_ROW_BLOCK`` at a time so that the updates stay in cache.

    Parameters
    ----------
    times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance
        As :func:`bin_counts`.
    binary : bool
        Count a node at most once per bin (Elephant's ``binarize``).

    Returns
    -------
    gram : float64[n_nodes, n_nodes]
        ``G[i, j]`` for ``i <= j``; zeros below the diagonal. Exact integers (float64
        holds integers up to 2**53 exactly).
    row_sums : float64[n_nodes]
        ``X.sum(axis=1)``.
    """
    indptr, nodes = binned_spike_lists(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance)
    n_windows = win_start.shape[0]
    n_groups = n_windows * n_bins
    # regroup the (window, node) rows by (window, bin): a stable counting sort
    group_ptr = np.zeros(n_groups + 1, dtype=np.int64)
    for w in range(n_windows):
        for i in range(n_nodes):
            k = w * n_nodes + i
            for s in range(indptr[k], indptr[k + 1]):
                group_ptr[w * n_bins + nodes[s] + 1] += 1
    for g in range(n_groups):
        group_ptr[g + 1] += group_ptr[g]
    fill = group_ptr[:-1].copy()
    members = np.empty(group_ptr[n_groups], dtype=np.int64)
    for w in range(n_windows):
        for i in range(n_nodes):
            k = w * n_nodes + i
            for s in range(indptr[k], indptr[k + 1]):
                g = w * n_bins + nodes[s]
                members[fill[g]] = i  # node ids ascend within each group (rows visited in order)
                fill[g] += 1
    if binary:
        # drop repeated nodes within a group, compacting in place
        m = 0
        start = 0
        for g in range(n_groups):
            stop = group_ptr[g + 1]
            group_ptr[g] = m
            for p in range(start, stop):
                if p == start or members[p] != members[p - 1]:
                    members[m] = members[p]
                    m += 1
            start = stop
        group_ptr[n_groups] = m
    gram = np.zeros((n_nodes, n_nodes), dtype=np.float64)
    row_sums = np.zeros(n_nodes, dtype=np.float64)
    for p in range(group_ptr[n_groups]):
        row_sums[members[p]] += 1.0
    # cursor[g]: first member of group g not yet visited; blocks ascend, so it only advances
    cursor = group_ptr[:-1].copy()
    for r0 in range(0, n_nodes, GRAM_ROW_BLOCK):
        r1 = min(r0 + GRAM_ROW_BLOCK, n_nodes)
        for g in range(n_groups):
            p = cursor[g]
            hi = group_ptr[g + 1]
            while p < hi and members[p] < r1:
                a = members[p]
                gram[a, a] += 1.0
                for q in range(p + 1, hi):
                    c = members[q]
                    if c == a:
                        gram[a, a] += 2.0  # x² = k + 2·C(k, 2) for k spikes of one node
                    else:
                        gram[a, c] += 1.0
                p += 1
            cursor[g] = p
    return gram, row_sums


@_jit
def gram_to_covariance(gram, row_sums, n_samples, ddof, correlation):
    """Covariance (or Pearson correlation) from ``G = X Xᵀ`` and the row sums, in place.

    Only the upper triangle of ``gram`` is read; the result is symmetric.
    ``C = (G - N Nᵀ / L) / (L - ddof)`` (Elephant's ``_covariance_sparse``); with
    ``correlation`` the result is ``C_ij / sqrt(C_ii C_jj)`` clipped to ``[-1, 1]`` as
    ``numpy.corrcoef`` does, NaN for a row without variance. Pass zero ``row_sums`` for a
    Gram matrix of already centred rows. Tiles of ``GRAM_TILE`` rows and columns keep the
    mirrored writes in cache.
    """
    n = gram.shape[0]
    diag = np.empty(n, dtype=np.float64)
    for a in range(n):
        diag[a] = gram[a, a] - row_sums[a] * row_sums[a] / n_samples
    for i0 in range(0, n, GRAM_TILE):
        i1 = min(i0 + GRAM_TILE, n)
        for j0 in range(i0, n, GRAM_TILE):
            j1 = min(j0 + GRAM_TILE, n)
            for a in range(i0, i1):
                for c in range(max(a, j0), j1):
                    v = gram[a, c] - row_sums[a] * row_sums[c] / n_samples
                    if correlation:
                        v = v / np.sqrt(diag[a] * diag[c])
                        if v > 1.0:
                            v = 1.0
                        elif v < -1.0:
                            v = -1.0
                    else:
                        v = v / (n_samples - ddof)
                    gram[a, c] = v
                    gram[c, a] = v
    return gram
