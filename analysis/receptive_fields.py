"""Spike-triggered average (reverse correlation) of every neuron, frames streamed in blocks.

Functions
---------
spike_triggered_average
    STA of all neurons at once from an iterator of stimulus-frame blocks.
frame_blocks
    Cut an in-memory movie into blocks (for tests and small stimuli).

The stimulus is never held whole: frames arrive as ``(start_frame, frames)`` blocks
(e.g. regenerated from the seed stored in the HDF5 file, or read chunk by chunk) and
each block is added to running sums by a Numba kernel. Cost O(n_spikes × n_lags ×
n_pixels), or × the non-zero pixels per frame for sparse blocks (sparse noise); memory
O(n_nodes × n_lags × n_pixels + one block).

References
----------
Chichilnisky, E. J. (2001). A simple white noise analysis of neuronal light responses.
Network 12(2), 199-213. doi:10.1080/713663221

Jones, J. P., & Palmer, L. A. (1987). The two-dimensional spatial structure of simple
receptive fields in cat striate cortex. J Neurophysiol 58(6), 1187-1211.
doi:10.1152/jn.1987.58.6.1187
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis import _kernels
from analysis.binning import SpikesLike, flat_spikes
from analysis.errors import SpikeDataError

__all__ = ["SpikeTriggeredAverage", "spike_triggered_average", "frame_blocks"]

logger = logging.getLogger(__name__)

#: Blocks with at most this fraction of non-zero pixels take the sparse kernel (sparse
#: noise: a few spots per frame); its cost per spike and lag is the number of spots.
SPARSE_FRACTION = 0.25


@dataclass(frozen=True, eq=False)
class SpikeTriggeredAverage:
    """Result of :func:`spike_triggered_average`.

    Attributes
    ----------
    sta : numpy.ndarray, float64, shape (n_nodes, n_lags, *frame_shape)
        Mean frame shown ``lags[l]`` frames before the frame during which each spike
        occurred (minus the mean frame when ``subtract_mean``); NaN where no spike had
        that lag's frame available.
    n_spikes : numpy.ndarray, int64, shape (n_nodes, n_lags)
        Spikes averaged per neuron and lag.
    lags : numpy.ndarray, int64, shape (n_lags,)
        Lags in frames (multiply by ``frame_duration`` for s).
    frame_duration : float
        s.
    mean_frame : numpy.ndarray, float64, shape frame_shape
        Mean of all frames streamed.
    n_frames : int
        Frames streamed.
    """

    sta: np.ndarray
    n_spikes: np.ndarray
    lags: np.ndarray
    frame_duration: float
    mean_frame: np.ndarray
    n_frames: int


def frame_blocks(frames: np.ndarray, block_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start_frame, frames[start:start + block_size])`` from an in-memory movie.

    Examples
    --------
    >>> [(s, b.shape) for s, b in frame_blocks(np.zeros((5, 2, 2)), 2)]
    [(0, (2, 2, 2)), (2, (2, 2, 2)), (4, (1, 2, 2))]
    """
    if block_size <= 0:
        raise SpikeDataError(f"block_size must be a positive number of frames, got {block_size}")
    for start in range(0, len(frames), block_size):
        yield start, frames[start : start + block_size]


def spike_triggered_average(
    spiketrains: SpikesLike,
    blocks: Iterable[tuple[int, Any]],
    frame_duration: float,
    lags: Any = range(10),
    t0: float = 0.0,
    subtract_mean: bool = True,
) -> SpikeTriggeredAverage:
    """Spike-triggered average stimulus of every neuron, streaming the frames.

    Parameters
    ----------
    spiketrains : SpikeTrains or tuple (node_ids, times, n_nodes)
        Spikes (s).
    blocks : iterable of (int, array_like)
        ``(start_frame, frames)`` with ``frames`` of shape ``(n_block, *frame_shape)``
        (any pixel layout; e.g. ``(n, ny, nx)`` or ``(n, 2, ny, nx)`` for ON/OFF
        channels). Blocks must come in increasing, non-overlapping order; gaps are
        allowed (missing frames are simply not averaged).
    frame_duration : float
        Duration of one frame (s); frame ``f`` is on screen during
        ``[t0 + f·frame_duration, t0 + (f+1)·frame_duration)``.
    lags : iterable of int
        Non-negative frame lags; lag 0 is the frame on screen at the spike, lag ``l`` the
        frame ``l`` frames earlier.
    t0 : float
        Onset of frame 0 (s); spikes before it are ignored.
    subtract_mean : bool
        Subtract the mean of all streamed frames (the STA relative to the stimulus mean).

    Returns
    -------
    SpikeTriggeredAverage

    Raises
    ------
    SpikeDataError
        Bad spikes, lags, frame duration or blocks (wrong shape, order or overlap).

    Notes
    -----
    .. math:: \\mathrm{STA}_i(\\ell) = \\frac{1}{N_i(\\ell)}
              \\sum_{s \\in \\mathrm{spikes}(i)} S(f_s - \\ell) - \\bar S

    with :math:`f_s` the frame on screen at spike :math:`s`. For a linear-nonlinear-
    Poisson neuron driven by spherically symmetric (e.g. Gaussian white) noise the STA
    is proportional to the linear filter (Chichilnisky 2001); sparse noise gives the
    ON/OFF subfields (Jones & Palmer 1987).

    Examples
    --------
    >>> frames = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> res = spike_triggered_average(([0, 0], [0.15, 0.25], 1), frame_blocks(frames, 2),
    ...                               frame_duration=0.1, lags=[0, 1], subtract_mean=False)
    >>> res.sta[0].tolist(), res.n_spikes.tolist()
    ([[0.5, 1.0], [0.5, 0.5]], [[2, 2]])
    """
    times, ids, n_nodes = flat_spikes(spiketrains)
    frame_duration = float(frame_duration)
    if not np.isfinite(frame_duration) or frame_duration <= 0:
        raise SpikeDataError(f"frame_duration must be a positive number of seconds, got {frame_duration}")
    lag_arr = np.asarray(list(lags))
    if lag_arr.ndim != 1 or lag_arr.size == 0 or lag_arr.dtype.kind not in "iu" or lag_arr.min() < 0:
        raise SpikeDataError(f"lags must be a non-empty sequence of non-negative integers, got {lags!r}")
    lag_arr = lag_arr.astype(np.int64)
    t0 = float(t0)
    keep = times >= t0
    spike_frame = np.floor((times[keep] - t0) / frame_duration).astype(np.int64)
    spike_node = np.ascontiguousarray(ids[keep])
    lag_min, lag_max = int(lag_arr.min()), int(lag_arr.max())
    sta_sum = None
    n_spk = np.zeros((n_nodes, lag_arr.size), dtype=np.int64)
    frame_shape: tuple[int, ...] | None = None
    frame_sum = None
    n_frames = 0
    next_start = 0
    for start, block in blocks:
        start = int(start)
        block = np.asarray(block, dtype=np.float64)
        if block.ndim < 2:
            raise SpikeDataError(f"blocks: frames must have shape (n_block, *frame_shape), got {block.shape}")
        if frame_shape is None:
            frame_shape = block.shape[1:]
            n_pix = int(np.prod(frame_shape))
            sta_sum = np.zeros((n_nodes, lag_arr.size, n_pix))
            frame_sum = np.zeros(n_pix)
        elif block.shape[1:] != frame_shape:
            raise SpikeDataError(f"blocks: frame shape changed from {frame_shape} to {block.shape[1:]}")
        if start < next_start:
            raise SpikeDataError(f"blocks: block at frame {start} overlaps or precedes frame {next_start}")
        flat = np.ascontiguousarray(block.reshape(block.shape[0], -1))
        n_block = flat.shape[0]
        # spikes whose lagged frames fall in [start, start + n_block)
        lo = np.searchsorted(spike_frame, start + lag_min, side="left")
        hi = np.searchsorted(spike_frame, start + n_block - 1 + lag_max, side="right")
        nonzero = np.count_nonzero(flat)
        if nonzero <= SPARSE_FRACTION * flat.size:
            rows, cols = np.nonzero(flat)  # row-major order: grouped by frame
            frame_ptr = np.zeros(n_block + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=n_block), out=frame_ptr[1:])
            _kernels.sta_accumulate_sparse(
                sta_sum, n_spk, frame_ptr, cols.astype(np.int64), flat[rows, cols], start,
                spike_frame[lo:hi], spike_node[lo:hi], lag_arr,
            )
        else:
            _kernels.sta_accumulate(sta_sum, n_spk, flat, start, spike_frame[lo:hi], spike_node[lo:hi], lag_arr)
        frame_sum += flat.sum(axis=0)
        n_frames += n_block
        next_start = start + n_block
    if frame_shape is None:
        raise SpikeDataError("blocks: no stimulus frames were given")
    logger.debug("STA of %d neurons over %d frames", n_nodes, n_frames)
    mean_frame = frame_sum / max(n_frames, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sta = sta_sum / n_spk[:, :, None]
    if subtract_mean:
        sta -= mean_frame[None, None, :]
    return SpikeTriggeredAverage(
        sta=sta.reshape((n_nodes, lag_arr.size) + frame_shape),
        n_spikes=n_spk,
        lags=lag_arr,
        frame_duration=frame_duration,
        mean_frame=mean_frame.reshape(frame_shape),
        n_frames=n_frames,
    )
