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
binned_sparse_matrix
    The binned spike matrix ``X`` as row and column lists, straight from the spikes.
sparse_covariance_upper
    Upper triangle of the covariance or correlation of ``X`` (row-wise sparse product).
mirror_upper
    Copy the upper triangle of a square matrix onto the lower one.
binned_covariance
    Plain-Python glue of the three above: the full matrix from the spikes.
gram_to_covariance
    Turn a dense Gram matrix (one triangle) into a covariance or correlation, in place.
integer_gram_to_covariance
    The same from an exact integer Gram matrix (e.g. float32 BLAS on counts), exactly.

Design (spikeinterface ``postprocessing/correlograms.py``, STUMPY ``stump.py``): kernels
are compiled lazily on first call (``njit`` without signatures, so importing the package
compiles nothing), cached on disk only when ``NUMBA_CACHE_DIR`` is set (``cache=True``
would fail in a read-only install), use ``error_model="numpy"`` so that 0/0 gives NaN as
in numpy and Elephant, and accumulate every sum in a fixed order, so a result never
changes between runs. Most are serial; the ones that produce ``n_nodes²`` matrices
(:func:`sparse_covariance_upper`, :func:`_fill_symmetric`) run their rows on
``n_threads()`` threads, each output element computed whole by one thread, so their
results do not depend on the number of threads either. Every kernel has a plain-Python
twin in ``tests/reference_impl.py`` and the kernel tests also run with
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
    "binned_sparse_matrix",
    "sparse_covariance_upper",
    "mirror_upper",
    "binned_covariance",
    "gram_to_covariance",
    "integer_gram_to_covariance",
    "n_threads",
]

#: Persist compiled kernels only where the user asked for a cache directory.
_CACHE = bool(os.environ.get("NUMBA_CACHE_DIR"))


def _jit(func):
    return numba.njit(cache=_CACHE, error_model="numpy", nogil=True)(func)


def n_threads() -> int:
    """Number of threads the parallel kernels use (``NUMBA_NUM_THREADS``, default: all cores)."""
    return numba.get_num_threads()


def _jit_parallel(func):
    return numba.njit(cache=_CACHE, error_model="numpy", nogil=True, parallel=True)(func)


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


#: Side of the square tiles in which a symmetric matrix is normalised and mirrored: two
#: 64 × 64 float64 tiles (64 KB) stay in a core's L1/L2 cache while one is transposed.
GRAM_TILE = 64


@_jit
def _paired_index(p, side, count):
    """Item ``p`` (side 0) or ``count - 1 - p`` (side 1) of pair ``p``; -1 for the middle item's twin.

    Dealing items ``0 .. count - 1`` to threads as pairs ``(p, count - 1 - p)`` evens out
    work that falls linearly with the index, as along the rows of a triangle.
    """
    if side == 0:
        return p
    q = count - 1 - p
    return q if q != p else -1


@_jit
def binned_sparse_matrix(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance, binary,
                         node_like):
    """The binned spike matrix ``X`` (windows concatenated) in both sparse orientations.

    ``X[i, s]`` is the count of node ``i`` in sample ``s = w * n_bins + b`` (bin ``b`` of
    window ``w``), the binning of :func:`bin_counts`. Non-zero entries are stored once by
    row (node) and once by column (sample), and each row entry knows where it sits in its
    column, so that a row meets the columns it shares from itself onwards
    (:func:`sparse_covariance_upper`) reading only sequential per-entry arrays and the
    column segments themselves. Columns store only which nodes fire (``X > 0``);
    counts above 1 are rare at fine bins and kept apart as ``X - 1`` ("extras"), so that
    the product's inner loop reads one small integer per entry.

    Parameters
    ----------
    times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance
        As :func:`bin_counts`.
    binary : bool
        Clip every count to 1 (Elephant's ``binarize``).
    node_like : array
        Its dtype is that of ``col_node``: uint16 when ``n_nodes <= 65536`` halves the
        memory traffic of the product, else int32.

    Returns
    -------
    row_ptr : int64[n_nodes + 1]
        Entries of node ``i`` are ``row_ptr[i]:row_ptr[i + 1]``, samples ascending.
    row_sample : int64[nnz]
    row_count : int64[nnz]
        Count ``X[i, s] >= 1`` of each entry.
    row_pos, row_end : int64[nnz]
        ``col_node[row_pos[k]:row_end[k]]`` are the nodes ``j >= i`` firing in the
        sample of entry ``k`` (node ``i`` first).
    row_ext, row_ext_end : int64[nnz]
        ``ext_node[row_ext[k]:row_ext_end[k]]`` are the nodes ``j >= i`` with a count
        above 1 in that sample.
    col_node : node_like.dtype[nnz]
        Nodes firing in each sample, ascending, samples one after the other.
    ext_node, ext_extra : int64[n_ext]
        Node and ``X[j, s] - 1`` of the entries with a count above 1, grouped by sample,
        nodes ascending.
    """
    n_windows = win_start.shape[0]
    n_samples = n_windows * n_bins
    # two passes over the spikes (count per node, then place), instead of storing every
    # spike's node and sample first; windows come in order and spikes are time-sorted
    # within one, so the samples of each node come out ascending
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    for w in range(n_windows):
        w0 = win_start[w]
        for s in range(np.searchsorted(times, w0, side="left"), np.searchsorted(times, win_stop[w], side="right")):
            if bin_index(times[s], w0, inv_bin_size, tolerance) < n_bins:
                ptr[node_ids[s] + 1] += 1
    for i in range(n_nodes):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    sample = np.empty(ptr[n_nodes], dtype=np.int64)
    for w in range(n_windows):
        w0 = win_start[w]
        for s in range(np.searchsorted(times, w0, side="left"), np.searchsorted(times, win_stop[w], side="right")):
            b = bin_index(times[s], w0, inv_bin_size, tolerance)
            if b < n_bins:
                i = node_ids[s]
                sample[fill[i]] = w * n_bins + b
                fill[i] += 1
    # spikes of one node in one sample are adjacent now: merge them into one entry
    row_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    row_sample = np.empty(sample.shape[0], dtype=np.int64)
    row_count = np.empty(sample.shape[0], dtype=np.int64)
    col_ptr = np.zeros(n_samples + 1, dtype=np.int64)
    ext_ptr = np.zeros(n_samples + 1, dtype=np.int64)
    nnz = 0
    for i in range(n_nodes):
        for p in range(ptr[i], ptr[i + 1]):
            if p > ptr[i] and sample[p] == sample[p - 1]:
                if not binary:
                    if row_count[nnz - 1] == 1:
                        ext_ptr[sample[p] + 1] += 1
                    row_count[nnz - 1] += 1
            else:
                row_sample[nnz] = sample[p]
                row_count[nnz] = 1
                col_ptr[sample[p] + 1] += 1
                nnz += 1
        row_ptr[i + 1] = nnz
    row_sample = row_sample[:nnz]
    row_count = row_count[:nnz]
    for s in range(n_samples):
        col_ptr[s + 1] += col_ptr[s]
        ext_ptr[s + 1] += ext_ptr[s]
    fill = col_ptr[:-1].copy()
    ext_fill = ext_ptr[:-1].copy()
    col_node = np.empty(nnz, dtype=node_like.dtype)
    row_pos = np.empty(nnz, dtype=np.int64)
    row_end = np.empty(nnz, dtype=np.int64)
    row_ext = np.empty(nnz, dtype=np.int64)
    row_ext_end = np.empty(nnz, dtype=np.int64)
    ext_node = np.empty(ext_ptr[n_samples], dtype=np.int64)
    ext_extra = np.empty(ext_ptr[n_samples], dtype=np.int64)
    for i in range(n_nodes):  # nodes in order, so they ascend within every column
        for k in range(row_ptr[i], row_ptr[i + 1]):
            s = row_sample[k]
            row_pos[k] = fill[s]
            row_end[k] = col_ptr[s + 1]
            col_node[fill[s]] = i
            fill[s] += 1
            # the extras of sample s placed so far belong to nodes below i
            row_ext[k] = ext_fill[s]
            row_ext_end[k] = ext_ptr[s + 1]
            if row_count[k] > 1:
                ext_node[ext_fill[s]] = i
                ext_extra[ext_fill[s]] = row_count[k] - 1
                ext_fill[s] += 1
    return row_ptr, row_sample, row_count, row_pos, row_end, row_ext, row_ext_end, col_node, ext_node, ext_extra


@_jit_parallel
def sparse_covariance_upper(out, acc, row_ptr, row_sample, row_count, row_pos, row_end, row_ext, row_ext_end, col_node,
                            ext_node, ext_extra, n_samples, ddof, correlation):
    """Upper triangle of the covariance (or correlation) matrix of a sparse binned matrix.

    Row ``i`` of the Gram matrix ``G = X Xᵀ`` is accumulated in a dense integer row
    (Gustavson's algorithm): for every sample where node ``i`` fires, the nodes ``j >= i``
    firing in the same sample are added, so the cost is ``sum_samples k²/2`` for ``k``
    nodes per sample. With ``X = B + E`` (``B = X > 0``, ``E`` the extras),
    ``X_is X_js = 1 + E_is + E_js + E_is E_js`` where both fire: the inner loop over the
    column adds the 1 (and ``E_is`` for the rare ``E_is > 0``), the short extra lists add
    the rest. The row is then normalised and written to ``out[i, i:]`` once with Elephant's
    ``_covariance_sparse`` formula, ``v = G_ij - N_i N_j / L``, then
    ``v / (sqrt(v_ii) sqrt(v_jj))`` clipped to ``[-1, 1]`` (correlation) or
    ``v / (L - ddof)``, using reciprocals computed once per row (the results differ from
    Elephant's by rounding only); NaN for a row without variance. The lower triangle is
    not written (:func:`mirror_upper`).

    Parameters
    ----------
    out : float64[n_nodes, n_nodes]
        Output; only ``out[i, j]`` with ``j >= i`` is written.
    acc : int32 or int64[n_chunks, n_nodes], zeros
        One accumulator row per parallel chunk (left zero on return); int32 suffices when
        every diagonal element of ``G`` is below 2**31 (``|G_ij| <= max G_ii``).
    row_ptr, row_sample, row_count, row_pos, row_end, row_ext, row_ext_end, col_node, ext_node, ext_extra
        Output of :func:`binned_sparse_matrix`.
    n_samples : float
        ``L``, the number of samples (bins) per node.
    ddof : int
    correlation : bool

    Notes
    -----
    Rows are dealt to ``n_chunks`` parallel chunks in pairs ``(p, n - 1 - p)``, which
    carry about the same work (:func:`_paired_index`). Integer sums do not depend on their order and every
    output element is computed by one thread, so the result does not depend on the
    number of threads.
    """
    n = out.shape[0]
    n_chunks = acc.shape[0]
    sums = np.zeros(n, dtype=np.float64)
    sd = np.zeros(n, dtype=np.float64)
    for i in range(n):
        total = 0
        sq = 0
        for k in range(row_ptr[i], row_ptr[i + 1]):
            total += row_count[k]
            sq += row_count[k] * row_count[k]
        sums[i] = total
        sd[i] = np.sqrt(sq - (sums[i] / n_samples) * sums[i])
    inv_sd = 1.0 / sd
    inv_dof = 1.0 / (n_samples - ddof)
    n_pairs = (n + 1) // 2
    for c in numba.prange(n_chunks):
        a = acc[c]
        for p in range(c, n_pairs, n_chunks):
            for side in range(2):
                i = _paired_index(p, side, n)
                if i < 0:
                    continue
                for k in range(row_ptr[i], row_ptr[i + 1]):
                    lo = row_pos[k]
                    hi = row_end[k]
                    for q in range(lo, hi):
                        a[col_node[q]] += 1
                    e = row_count[k] - 1
                    if e > 0:
                        for q in range(lo, hi):
                            a[col_node[q]] += e
                    for x in range(row_ext[k], row_ext_end[k]):
                        a[ext_node[x]] += ext_extra[x] * (e + 1)
                # one division per row, none per element: this loop writes n²/2 values
                mean_i = sums[i] / n_samples
                if correlation:
                    inv_i = 1.0 / sd[i]
                    for j in range(i, n):
                        v = (a[j] - mean_i * sums[j]) * (inv_i * inv_sd[j])
                        a[j] = 0
                        v = 1.0 if v > 1.0 else v  # selects, not branches: NaN passes through
                        v = -1.0 if v < -1.0 else v
                        out[i, j] = v
                else:
                    for j in range(i, n):
                        out[i, j] = (a[j] - mean_i * sums[j]) * inv_dof
                        a[j] = 0
    return out


def binned_covariance(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance, binary,
                      ddof, correlation):
    """Covariance (or correlation) matrix of the binned spike matrix, straight from the spikes.

    Plain Python glue (not compiled) around :func:`binned_sparse_matrix`,
    :func:`sparse_covariance_upper` and :func:`mirror_upper`: picks the accumulator width
    and one accumulator row per thread. Arguments as those kernels.

    Returns
    -------
    float64[n_nodes, n_nodes]
    """
    node_like = np.zeros(0, dtype=np.uint16 if n_nodes <= 2**16 else np.int32)
    lists = binned_sparse_matrix(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance,
                                 binary, node_like)
    row_count = lists[2]
    # |G_ij| <= max_i G_ii <= max(count) * (total count): int32 when that fits, which halves
    # the accumulator (10,000 nodes: 40 KB, inside a core's L1 cache)
    bound = int(row_count.max()) * int(row_count.sum()) if row_count.size else 0
    acc_dtype = np.int32 if bound < 2**31 else np.int64
    n_chunks = max(1, min(n_threads(), (n_nodes + 1) // 2))
    acc = np.zeros((n_chunks, n_nodes), dtype=acc_dtype)
    # touching the fresh 0.8 GB once from one thread first is cheaper than taking its page
    # faults inside the parallel kernel (about 0.1 CPU-s of 0.9 for 10,000 nodes, measured)
    out = np.full((n_nodes, n_nodes), np.nan)
    sparse_covariance_upper(out, acc, *lists, float(win_start.shape[0] * n_bins), ddof, correlation)
    return mirror_upper(out)


@_jit_parallel
def _fill_symmetric(src, out, row_sums, alpha, beta, denominator, mode):
    """Walk the upper triangle of ``src`` tile by tile and write both triangles of ``out``.

    ``src`` may be ``out`` itself (in place) or a separate matrix of another float type.
    ``mode`` 0 copies; 1 and 2 first turn each Gram element into
    ``v = alpha G_ac - beta N_a N_c`` and then into a covariance ``v / denominator`` or a
    correlation ``v / sqrt(v_aa v_cc)`` clipped to ``[-1, 1]`` as ``numpy.corrcoef``
    does (NaN for a row without variance). Tiles of ``GRAM_TILE`` rows and columns keep
    the transposed writes in cache; tile rows go to the threads in balanced pairs
    (:func:`_paired_index`) and every element is computed by one thread, so the result
    does not depend on the number of threads.
    """
    n = out.shape[0]
    diag = np.empty(n, dtype=np.float64)
    for a in range(n):
        diag[a] = alpha * src[a, a] - beta * (row_sums[a] * row_sums[a])
    n_tiles = (n + GRAM_TILE - 1) // GRAM_TILE
    for p in numba.prange((n_tiles + 1) // 2):
        for side in range(2):
            t = _paired_index(p, side, n_tiles)
            if t < 0:
                continue
            i0 = t * GRAM_TILE
            i1 = min(i0 + GRAM_TILE, n)
            for j0 in range(i0, n, GRAM_TILE):
                j1 = min(j0 + GRAM_TILE, n)
                for a in range(i0, i1):
                    for c in range(max(a, j0), j1):
                        v = np.float64(src[a, c])
                        if mode != 0:
                            v = alpha * v - beta * (row_sums[a] * row_sums[c])
                            if mode == 2:
                                v = v / np.sqrt(diag[a] * diag[c])
                                if v > 1.0:
                                    v = 1.0
                                elif v < -1.0:
                                    v = -1.0
                            else:
                                v = v / denominator
                        out[a, c] = v
                        out[c, a] = v
    return out


def mirror_upper(out):
    """Copy the upper triangle of a square float64 matrix onto its lower triangle, in place."""
    return _fill_symmetric(out, out, np.zeros(out.shape[0]), 1.0, 0.0, 1.0, 0)


def gram_to_covariance(gram, row_sums, n_samples, ddof, correlation):
    """Covariance (or Pearson correlation) from ``G = X Xᵀ`` and the row sums, in place.

    Only the upper triangle of ``gram`` is read; the result is symmetric.
    ``C = (G - N Nᵀ / L) / (L - ddof)`` (Elephant's ``_covariance_sparse``); with
    ``correlation`` the result is ``C_ij / sqrt(C_ii C_jj)`` clipped to ``[-1, 1]`` as
    ``numpy.corrcoef`` does, NaN for a row without variance. Pass zero ``row_sums`` for a
    Gram matrix of already centred rows. See :func:`_fill_symmetric`.
    """
    n_samples = float(n_samples)
    return _fill_symmetric(gram, gram, row_sums, 1.0, 1.0 / n_samples, n_samples - ddof, 2 if correlation else 1)


def integer_gram_to_covariance(gram, row_sums, n_samples, ddof, correlation):
    """:func:`gram_to_covariance` of an exact integer Gram matrix (any float type) into a new
    float64 matrix, with integer arithmetic where it matters.

    ``L G - N Nᵀ`` is computed exactly (every term is an integer below 2**53), so the
    covariance ``(L G - N Nᵀ) / (L (L - ddof))`` and the correlation are correctly
    rounded. Only the upper triangle of ``gram`` is read.

    Returns
    -------
    float64[n, n]
    """
    n_samples = float(n_samples)
    out = np.empty(gram.shape, dtype=np.float64)
    return _fill_symmetric(gram, out, row_sums, n_samples, 1.0, n_samples * (n_samples - ddof),
                           2 if correlation else 1)
