"""Plain-Python twins of every kernel of ``analysis/_kernels.py`` (STUMPY ``tests/naive.py``).

Written for clarity, not speed: each loops over neurons, windows or spikes in the most
direct way, never shares code with the kernel it checks, and returns the same shapes and
dtypes. ``tests/test_analysis_kernels.py`` compares the two on awkward sizes.
"""

from __future__ import annotations

import numpy as np


def bin_index(t, w0, inv_bin_size, tolerance):
    """Elephant's ``round_binning_errors`` applied to one spike, written as in Elephant."""
    values = np.array([(t - w0) * inv_bin_size])
    if tolerance > 0:
        mask = 1 - tolerance <= values % 1
        values[mask] += 0.5
    return int(values.astype(np.int32)[0])


def _in_window(t, w0, w1):
    return w0 <= t <= w1


def bin_counts(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance):
    counts = np.zeros((len(win_start), n_nodes, n_bins), dtype=np.int32)
    for w, (w0, w1) in enumerate(zip(win_start, win_stop)):
        for t, i in zip(times, node_ids):
            if _in_window(t, w0, w1):
                b = bin_index(t, w0, inv_bin_size, tolerance)
                if b < n_bins:
                    counts[w, i, b] += 1
    return counts


def binned_spike_lists(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance):
    rows = [[] for _ in range(len(win_start) * n_nodes)]
    for w, (w0, w1) in enumerate(zip(win_start, win_stop)):
        for t, i in zip(times, node_ids):
            if _in_window(t, w0, w1):
                b = bin_index(t, w0, inv_bin_size, tolerance)
                if b < n_bins:
                    rows[w * n_nodes + i].append(b)
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    bins = np.array([b for r in rows for b in sorted(r)], dtype=np.int64)
    return indptr, bins


def cch_pairs(indptr, bins, n_nodes, n_windows, pairs, max_lag):
    """Dense correlation of the binned trains: ``sum_t x_i[t] x_j[t + k]``."""
    n_bins = int(bins.max()) + 1 if bins.size else 1
    out = np.zeros((len(pairs), 2 * max_lag + 1), dtype=np.int64)
    for p, (a, b) in enumerate(pairs):
        for w in range(n_windows):
            xa = np.bincount(bins[indptr[w * n_nodes + a] : indptr[w * n_nodes + a + 1]], minlength=n_bins)
            xb = np.bincount(bins[indptr[w * n_nodes + b] : indptr[w * n_nodes + b + 1]], minlength=n_bins)
            for k in range(-max_lag, max_lag + 1):
                total = 0
                for t in range(n_bins):
                    if 0 <= t + k < n_bins:
                        total += xa[t] * xb[t + k]
                out[p, k + max_lag] += total
    return out


def isi_moments(times, node_ids, win_start, win_stop, n_nodes):
    n_isi = np.zeros(n_nodes, dtype=np.int64)
    mean = np.full(n_nodes, np.nan)
    m2 = np.zeros(n_nodes)
    n_pairs = np.zeros(n_nodes, dtype=np.int64)
    sum_abs = np.zeros(n_nodes)
    sum_sq = np.zeros(n_nodes)
    for i in range(n_nodes):
        isis, ratios = [], []
        for w0, w1 in zip(win_start, win_stop):
            mine = np.array([t for t, j in zip(times, node_ids) if j == i and w0 <= t < w1])
            intervals = np.diff(mine)
            isis.extend(intervals.tolist())
            if intervals.size >= 2:
                ratios.extend((np.diff(intervals) / (intervals[:-1] + intervals[1:])).tolist())
        isis = np.array(isis)
        ratios = np.array(ratios)
        n_isi[i] = isis.size
        if isis.size:
            mean[i] = isis.mean()
            m2[i] = np.sum((isis - isis.mean()) ** 2)
        n_pairs[i] = ratios.size
        sum_abs[i] = np.abs(ratios).sum()
        sum_sq[i] = (ratios**2).sum()
    return n_isi, mean, m2, n_pairs, sum_abs, sum_sq


def sta_accumulate(sta_sum, n_spikes, frames, block_start, spike_frame, spike_node, lags):
    for f_s, i in zip(spike_frame, spike_node):
        for li, lag in enumerate(lags):
            f = f_s - lag
            if block_start <= f < block_start + frames.shape[0]:
                sta_sum[i, li] += frames[f - block_start]
                n_spikes[i, li] += 1


def sta_accumulate_sparse(sta_sum, n_spikes, frame_ptr, pixels, values, block_start, spike_frame, spike_node, lags):
    """Rebuild the dense frames, then the dense twin."""
    n_block = len(frame_ptr) - 1
    frames = np.zeros((n_block, sta_sum.shape[2]))
    for f in range(n_block):
        # a pixel listed twice adds up, as in a COO sparse matrix
        np.add.at(frames[f], pixels[frame_ptr[f] : frame_ptr[f + 1]], values[frame_ptr[f] : frame_ptr[f + 1]])
    sta_accumulate(sta_sum, n_spikes, frames, block_start, spike_frame, spike_node, lags)


def pair_covariance(x, pairs, ddof):
    out = np.empty(len(pairs))
    for p, (a, b) in enumerate(pairs):
        n = x.shape[1]
        out[p] = np.cov(x[a], x[b], ddof=ddof)[0, 1] if n > ddof else np.nan
    return out


def binned_gram(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance, binary):
    """Dense product of the binned matrix (windows concatenated) with itself."""
    counts = bin_counts(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance)
    x = counts.transpose(1, 0, 2).reshape(n_nodes, -1).astype(np.float64)
    if binary:
        x = (x > 0).astype(np.float64)
    return x @ x.T, x.sum(axis=1)


def binned_sparse_matrix(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance, binary,
                         node_like):
    """Row and column lists read off the dense binned matrix (windows concatenated)."""
    counts = bin_counts(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance)
    x = counts.transpose(1, 0, 2).reshape(n_nodes, -1).astype(np.int64)
    if binary:
        x = np.minimum(x, 1)
    columns = [list(np.flatnonzero(x[:, s])) for s in range(x.shape[1])]
    extras = [list(np.flatnonzero(x[:, s] > 1)) for s in range(x.shape[1])]
    col_start = np.concatenate([[0], np.cumsum([len(c) for c in columns])]).astype(np.int64)
    ext_start = np.concatenate([[0], np.cumsum([len(e) for e in extras])]).astype(np.int64)
    row_ptr, row_sample, row_count, row_pos, row_end, row_ext, row_ext_end = [0], [], [], [], [], [], []
    for i in range(n_nodes):
        for s in np.flatnonzero(x[i]):
            row_sample.append(s)
            row_count.append(x[i, s])
            row_pos.append(col_start[s] + columns[s].index(i))
            row_end.append(col_start[s + 1])
            row_ext.append(ext_start[s] + sum(1 for j in extras[s] if j < i))
            row_ext_end.append(ext_start[s + 1])
        row_ptr.append(len(row_sample))
    col_node = np.array([j for c in columns for j in c], dtype=node_like.dtype)
    ext_node = np.array([j for e in extras for j in e], dtype=np.int64)
    ext_extra = np.array([x[j, s] - 1 for s, e in enumerate(extras) for j in e], dtype=np.int64)
    as_int = [np.array(a, dtype=np.int64) for a in (row_ptr, row_sample, row_count, row_pos, row_end, row_ext,
                                                     row_ext_end)]
    return (*as_int, col_node, ext_node, ext_extra)


def binned_covariance(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance, binary,
                      ddof, correlation):
    gram, row_sums = binned_gram(times, node_ids, win_start, win_stop, n_nodes, n_bins, inv_bin_size, tolerance,
                                 binary)
    return gram_to_covariance(gram, row_sums, len(win_start) * n_bins, ddof, correlation)


def sparse_covariance_upper(out, acc, row_ptr, row_sample, row_count, row_pos, row_end, row_ext, row_ext_end,
                            col_node, ext_node, ext_extra, n_samples, ddof, correlation):
    """Dense matrix rebuilt from the row lists, then the outer-product formula."""
    n = out.shape[0]
    x = np.zeros((n, int(n_samples)))
    for i in range(n):
        for k in range(row_ptr[i], row_ptr[i + 1]):
            x[i, row_sample[k]] = row_count[k]
    return np.triu(gram_to_covariance(x @ x.T, x.sum(axis=1), n_samples, ddof, correlation))


def mirror_upper(out):
    return np.triu(out) + np.triu(out, 1).T


def gram_to_covariance(gram, row_sums, n_samples, ddof, correlation):
    cov = gram - np.outer(row_sums, row_sums) / n_samples
    if correlation:
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(np.diag(cov))
            return np.clip(cov / std[:, None] / std[None, :], -1.0, 1.0)
    return cov / (n_samples - ddof)


def _order_by_node(spike_node, n_nodes):
    return np.argsort(spike_node, kind="stable")
