"""ON/OFF LGN mosaics and their linear–nonlinear (LN) model, filtered block by block.

Pipeline for one block of frames (contrast units):

1. *Spatial*: one FFT convolution of each frame with the channel's DoG kernel
   (:func:`stimuli.retina.difference_of_gaussians_kernel`), on a zero-padded grid (the
   world outside the field is mean grey), then cubic-convolution interpolation (Keys
   1981) at every cell's centre.
   ON cells take the result, OFF cells its negative.
2. *Temporal*: each frame is held for ``frame_duration``; the held signal, at the rate
   time step, is convolved causally with the channel's biphasic kernel
   (:func:`stimuli.retina.biphasic_temporal_kernel`). The last ``n_taps − 1`` inputs are
   kept between blocks, so filtering a protocol in one block or in many gives the same
   result (to rounding, ~1e-15 relative).
3. *Nonlinearity*: ``rate = clip(baseline + gain · drive, 0, max_rate)`` per channel.

Classes
-------
LGNMosaic
    Cell positions (deg), signs, channels; population indices and node tables.
LGNFilter
    The stateful block-wise spatio-temporal filter of one mosaic on one grid.

Functions
---------
build_lgn_mosaic
    Jittered square-lattice ON and OFF mosaics for every channel.
iter_lgn_drive, iter_lgn_rates
    Stream ``(start_step, array[n_cells, n_steps])`` blocks of drive or rates.
lgn_rates, lgn_drive
    The same, concatenated (short protocols).
default_time_step
    The rate time step used for spike generation.

References
----------
Rodieck R.W. (1965) Vision Res 5:583-601. doi:10.1016/0042-6989(65)90033-7 (DoG)
Chichilnisky E.J. (2001) A simple white noise analysis of neuronal light responses.
Network 12:199-213. doi:10.1080/713663221 (LN model)
Cai D., DeAngelis G.C., Freeman R.D. (1997) Spatiotemporal receptive field organization in
the lateral geniculate nucleus of cats and kittens. J Neurophysiol 78:1045-1061.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy import signal

from analysis.errors import ConfigError, suggest
from stimuli.movies import FrameSource, StimulusGrid, StimulusMovie
from stimuli.params import DEFAULT_LGN, ChannelParams, LGNParams
from stimuli.protocols import Protocol
from stimuli.retina import biphasic_temporal_kernel, difference_of_gaussians_kernel, validate_spatial, validate_temporal

__all__ = [
    "POPULATIONS",
    "LGNMosaic",
    "build_lgn_mosaic",
    "mosaic_capacity",
    "LGNFilter",
    "default_time_step",
    "iter_lgn_drive",
    "iter_lgn_rates",
    "lgn_drive",
    "lgn_rates",
    "apply_nonlinearity",
]

logger = logging.getLogger(__name__)

#: Frames per spatial FFT batch (bounds the padded complex arrays to a few MB).
_FFT_CHUNK = 16

#: Population names of the ON and OFF mosaics.
POPULATIONS = ("lgn_on", "lgn_off")
_SIGN_OF = {"lgn_on": 1, "lgn_off": -1}


def _rng(rng_or_seed: Any) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if isinstance(rng_or_seed, (np.random.SeedSequence, int, np.integer)):
        return np.random.default_rng(rng_or_seed)
    raise ConfigError(f"rng_or_seed must be a numpy Generator, SeedSequence or int, got {type(rng_or_seed).__name__}")


def _validate_params(params: LGNParams) -> None:
    if not isinstance(params, LGNParams):
        raise ConfigError(f"params must be an LGNParams, got {type(params).__name__}")
    if not params.channels:
        raise ConfigError("params.channels must hold at least one ChannelParams")
    names = [c.name for c in params.channels]
    if len(set(names)) != len(names):
        raise ConfigError(f"params.channels: channel names must be unique, got {names}")
    if not 0 <= params.jitter <= 1:
        raise ConfigError(f"params.jitter must be in [0, 1] (fraction of the spacing), got {params.jitter}")
    if not (np.isfinite(params.spikes.refractory_s) and params.spikes.refractory_s >= 0):
        raise ConfigError(f"params.spikes.refractory_s must be >= 0 s, got {params.spikes.refractory_s}")
    for c in params.channels:
        if not (np.isfinite(c.density_per_deg2) and c.density_per_deg2 > 0):
            raise ConfigError(f"channel {c.name!r}: density_per_deg2 must be > 0, got {c.density_per_deg2}")
        validate_spatial(c.spatial)
        validate_temporal(c.temporal)
        nl = c.nonlinearity
        if not (np.isfinite(nl.baseline_rate_hz) and nl.baseline_rate_hz >= 0):
            raise ConfigError(f"channel {c.name!r}: baseline_rate_hz must be >= 0 Hz, got {nl.baseline_rate_hz}")
        if not (np.isfinite(nl.gain_hz) and nl.gain_hz >= 0):
            raise ConfigError(f"channel {c.name!r}: gain_hz must be >= 0 Hz, got {nl.gain_hz}")
        if not nl.max_rate_hz > 0:
            raise ConfigError(f"channel {c.name!r}: max_rate_hz must be > 0 Hz, got {nl.max_rate_hz}")


@dataclass(frozen=True, eq=False)
class LGNMosaic:
    """Positions, signs and channels of all LGN cells (ON cells first, then OFF).

    Parameters
    ----------
    x_deg, y_deg : numpy.ndarray
        RF centres, deg, shape ``(n_cells,)``; the field is centred at (0, 0).
    sign : numpy.ndarray
        +1 for ON, −1 for OFF, int8.
    channel : numpy.ndarray
        Channel name of each cell (str).
    field_size_deg : float
        Side of the square field the mosaic covers, deg.
    params : LGNParams
        The parameters it was built with (channels give the RF sizes).

    Notes
    -----
    Population ``lgn_on`` is the ON cells in mosaic order, node id ``k`` = the k-th ON
    cell; likewise ``lgn_off``. :meth:`population_indices` maps node ids to mosaic indices.
    """

    x_deg: np.ndarray
    y_deg: np.ndarray
    sign: np.ndarray
    channel: np.ndarray
    field_size_deg: float
    params: LGNParams = DEFAULT_LGN

    def __post_init__(self) -> None:
        n = np.asarray(self.x_deg).size
        for name in ("x_deg", "y_deg", "sign", "channel"):
            arr = np.array(getattr(self, name), copy=True)
            if arr.shape != (n,):
                raise ConfigError(f"LGNMosaic.{name} must have shape ({n},), got {arr.shape}")
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        if not np.all(np.isin(self.sign, (-1, 1))):
            raise ConfigError("LGNMosaic.sign must hold only +1 (ON) and -1 (OFF)")
        known = [c.name for c in self.params.channels]
        for name in np.unique(self.channel):
            if name not in known:
                raise ConfigError(f"LGNMosaic.channel {name!r} is not a channel of params{suggest(str(name), known)}")
        if n and np.any(self.sign[:-1] < self.sign[1:]):
            raise ConfigError("LGNMosaic: ON cells (+1) must come before OFF cells (-1)")

    @property
    def n_cells(self) -> int:
        """Number of cells (ON + OFF)."""
        return int(self.x_deg.size)

    @property
    def populations(self) -> tuple[str, str]:
        """``("lgn_on", "lgn_off")``."""
        return POPULATIONS

    def population_indices(self, population: str) -> np.ndarray:
        """Mosaic indices of the cells of ``population`` (int64, in node-id order)."""
        if population not in _SIGN_OF:
            raise ConfigError(f"unknown LGN population {population!r}; valid: {list(POPULATIONS)}"
                              f"{suggest(population, POPULATIONS)}")
        return np.flatnonzero(self.sign == _SIGN_OF[population]).astype(np.int64)

    def n_nodes(self, population: str) -> int:
        """Number of cells in ``population``."""
        return int(self.population_indices(population).size)

    def channel_params(self, index: int) -> ChannelParams:
        """The :class:`ChannelParams` of cell ``index``."""
        return self.params.channel(str(self.channel[index]))

    def _per_cell(self, getter) -> np.ndarray:
        out = np.empty(self.n_cells)
        for c in self.params.channels:
            out[self.channel == c.name] = getter(c)
        return out

    @property
    def sigma_center_deg(self) -> np.ndarray:
        """Centre sigma of each cell, deg."""
        return self._per_cell(lambda c: c.spatial.sigma_center_deg)

    @property
    def sigma_surround_deg(self) -> np.ndarray:
        """Surround sigma of each cell, deg."""
        return self._per_cell(lambda c: c.spatial.sigma_surround_deg)

    def node_table(self, population: str) -> dict[str, np.ndarray]:
        """The ``/nodes/<population>`` table.

        Returns
        -------
        dict of str to numpy.ndarray
            Columns of length ``n_nodes``: ``node_id`` (int64), ``x_deg``, ``y_deg``
            (float64, deg), ``sign`` (int8), ``sigma_center_deg``, ``sigma_surround_deg``
            (deg), ``surround_weight``, ``channel`` (str), ``station`` (``"lgn"``).
        """
        idx = self.population_indices(population)
        weight = self._per_cell(lambda c: c.spatial.surround_weight)
        return {
            "node_id": np.arange(idx.size, dtype=np.int64),
            "x_deg": self.x_deg[idx].astype(np.float64),
            "y_deg": self.y_deg[idx].astype(np.float64),
            "sign": self.sign[idx].astype(np.int8),
            "sigma_center_deg": self.sigma_center_deg[idx],
            "sigma_surround_deg": self.sigma_surround_deg[idx],
            "surround_weight": weight[idx],
            "channel": self.channel[idx].astype(str),
            "station": np.full(idx.size, "lgn"),
        }

    def describe(self) -> dict[str, Any]:
        """Summary for the configuration (counts per population and channel)."""
        return {
            "field_size_deg": self.field_size_deg,
            "params": self.params.name,
            "n_cells": self.n_cells,
            "counts": {
                pop: {c.name: int(np.sum((self.sign == _SIGN_OF[pop]) & (self.channel == c.name)))
                      for c in self.params.channels}
                for pop in POPULATIONS
            },
        }


def _jittered_lattice(
    field_size_deg: float, density: float, jitter: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    spacing = 1.0 / math.sqrt(density)
    half = field_size_deg / 2
    offset = rng.random(2) * spacing
    side = _lattice_side(field_size_deg, density)
    xs = -half + offset[0] + spacing * np.arange(side)
    ys = -half + offset[1] + spacing * np.arange(side)
    xs, ys = xs[xs < half], ys[ys < half]
    x, y = np.meshgrid(xs, ys)
    x, y = x.ravel(), y.ravel()
    x = x + (rng.random(x.size) - 0.5) * jitter * spacing
    y = y + (rng.random(y.size) - 0.5) * jitter * spacing
    # reflect jittered cells back into the field so the density stays uniform at the border
    x = np.where(x < -half, -2 * half - x, np.where(x > half, 2 * half - x, x))
    y = np.where(y < -half, -2 * half - y, np.where(y > half, 2 * half - y, y))
    return x, y


def _lattice_side(field_size_deg: float, density: float) -> int:
    return int(math.ceil(field_size_deg / (1.0 / math.sqrt(density)))) + 1


def mosaic_capacity(params: LGNParams = DEFAULT_LGN, field_size_deg: float = 2.0) -> int:
    """The largest number of cells :func:`build_lgn_mosaic` can return for any seed.

    Each jittered lattice keeps at most its full ``side × side`` grid (reflection at the
    border moves cells, it never adds them). A simulator sized by this bound instead of
    the drawn count has the same shape for every seed (Brian2 standalone then reuses its
    generated code).

    Examples
    --------
    >>> cap = mosaic_capacity(field_size_deg=1.0)
    >>> all(build_lgn_mosaic(field_size_deg=1.0, rng_or_seed=s).n_cells <= cap for s in range(5))
    True
    """
    return 2 * sum(_lattice_side(field_size_deg, c.density_per_deg2) ** 2 for c in params.channels)


def build_lgn_mosaic(
    params: LGNParams = DEFAULT_LGN,
    field_size_deg: float = 2.0,
    rng_or_seed: Any = 0,
) -> LGNMosaic:
    """Jittered square-lattice ON and OFF mosaics for every channel of ``params``.

    Parameters
    ----------
    params : LGNParams
        Channels (density per sign, RF parameters) and jitter.
    field_size_deg : float
        Side of the square field centred at (0, 0), deg.
    rng_or_seed : numpy.random.Generator, SeedSequence or int
        Randomness of the lattice offsets and jitter (the "connectivity"-like seed).

    Returns
    -------
    LGNMosaic
        ON cells first (channel by channel), then OFF cells.

    Raises
    ------
    ConfigError
        A non-positive field, impossible parameters or a mosaic without cells.

    Notes
    -----
    Each of the 2 × n_channels lattices has spacing ``1/sqrt(density)`` and its own
    random offset, and each cell is displaced uniformly by up to ±``jitter``/2 spacing in
    x and y, so the ON and OFF mosaics are independent, as observed for the
    ON/OFF parasol and midget mosaics (Wässle et al. 1981).

    Examples
    --------
    >>> m = build_lgn_mosaic(field_size_deg=1.0, rng_or_seed=1)
    >>> m.populations, m.n_nodes("lgn_on") > 100
    (('lgn_on', 'lgn_off'), True)
    """
    _validate_params(params)
    if not (np.isfinite(field_size_deg) and field_size_deg > 0):
        raise ConfigError(f"field_size_deg must be > 0 deg, got {field_size_deg}")
    rng = _rng(rng_or_seed)
    xs, ys, signs, channels = [], [], [], []
    for sign in (1, -1):
        for c in params.channels:
            x, y = _jittered_lattice(field_size_deg, c.density_per_deg2, params.jitter, rng)
            xs.append(x)
            ys.append(y)
            signs.append(np.full(x.size, sign, dtype=np.int8))
            channels.append(np.full(x.size, c.name))
    mosaic = LGNMosaic(np.concatenate(xs), np.concatenate(ys), np.concatenate(signs),
                       np.concatenate(channels).astype(str), float(field_size_deg), params)
    for pop in POPULATIONS:
        if mosaic.n_nodes(pop) == 0:
            raise ConfigError(
                f"field_size_deg = {field_size_deg} deg is too small for any {pop} cell at the "
                f"configured density; enlarge the field or raise density_per_deg2"
            )
    logger.info("LGN mosaic: %d ON + %d OFF cells in %.3g deg", mosaic.n_nodes("lgn_on"),
                mosaic.n_nodes("lgn_off"), field_size_deg)
    return mosaic


def _cubic_weights(frac: np.ndarray) -> np.ndarray:
    """Keys (1981) cubic-convolution weights (a = -1/2) of the taps at -1, 0, +1, +2 pixels.

    Bilinear interpolation low-passes the filtered image (a 5 % loss at 0.1 cycles/pixel
    for a cell between pixels); cubic convolution is third-order accurate.
    Keys R. (1981) IEEE Trans ASSP 29:1153-1160. doi:10.1109/TASSP.1981.1163711
    """
    a = -0.5

    def near(x):  # |x| <= 1
        return (a + 2) * x**3 - (a + 3) * x**2 + 1

    def far(x):  # 1 < |x| < 2
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a

    t = np.asarray(frac, dtype=float)
    return np.stack([far(1 + t), near(t), near(1 - t), far(2 - t)])


def _substeps(frame_duration: float, time_step: float) -> int:
    n = frame_duration / time_step
    k = int(round(n))
    if k < 1 or abs(n - k) > 1e-6 * max(1.0, n):
        raise ConfigError(
            f"time_step = {time_step} s must divide the frame duration {frame_duration} s into a whole number of steps"
        )
    return k


def default_time_step(frame_duration: float, dt: float | None = None, max_step: float = 1e-3) -> float:
    """The rate time step: the longest divisor of the frame that is ≤ ``max_step`` (s).

    With a simulation step ``dt`` it is also a whole multiple of ``dt``.

    Examples
    --------
    >>> default_time_step(0.01, 0.0001)
    0.001
    >>> default_time_step(0.0005)
    0.0005
    """
    if dt is None:
        n_sub = max(1, int(math.ceil(frame_duration / max_step - 1e-9)))
        return frame_duration / n_sub
    from stimuli.movies import check_frame_duration

    steps = check_frame_duration(frame_duration, dt)
    for n_sub in range(1, steps + 1):
        if steps % n_sub == 0 and frame_duration / n_sub <= max_step * (1 + 1e-9):
            return frame_duration / n_sub
    return dt


def _as_source(source: Any) -> FrameSource:
    if isinstance(source, (Protocol, StimulusMovie)):
        return source
    if isinstance(source, FrameSource):
        return source
    raise ConfigError(f"expected a Protocol or StimulusMovie, got {type(source).__name__}")


class LGNFilter:
    """Stateful block-wise spatio-temporal filter of one mosaic on one stimulus grid.

    Parameters
    ----------
    mosaic : LGNMosaic
    grid : StimulusGrid
    frame_duration : float
        s.
    params : LGNParams, optional
        Default: ``mosaic.params``.
    time_step : float, optional
        Output time step, s; must divide ``frame_duration`` (default: one per frame).
    workers : int
        Threads of the spatial FFTs (``scipy.fft`` ``workers``).

    Notes
    -----
    Call :meth:`process` with consecutive blocks of frames; the state (the last
    ``n_taps − 1`` held inputs per cell) carries across calls.
    """

    def __init__(self, mosaic: LGNMosaic, grid: StimulusGrid, frame_duration: float,
                 params: LGNParams | None = None, time_step: float | None = None, workers: int = 1) -> None:
        self.params = mosaic.params if params is None else params
        _validate_params(self.params)
        self.mosaic = mosaic
        self.grid = grid
        self.frame_duration = float(frame_duration)
        self.time_step = self.frame_duration if time_step is None else float(time_step)
        self.n_sub = _substeps(self.frame_duration, self.time_step)
        self.workers = int(workers)
        half = grid.field_size_deg / 2
        outside = (np.abs(mosaic.x_deg) > half + 1e-9) | (np.abs(mosaic.y_deg) > half + 1e-9)
        if np.any(outside):
            raise ConfigError(
                f"{int(outside.sum())} LGN cells lie outside the stimulus field of {grid.field_size_deg} deg; "
                f"use a field at least as large as the mosaic ({mosaic.field_size_deg} deg)"
            )
        n = grid.n_pixels
        self._groups = []
        for c in self.params.channels:
            cells = np.flatnonzero(mosaic.channel == c.name)
            if cells.size == 0:
                continue
            if grid.deg_per_pixel > c.spatial.sigma_center_deg:
                logger.warning("channel %s: pixel (%.3g deg) larger than the centre sigma (%.3g deg); "
                               "the RF centre is under-sampled", c.name, grid.deg_per_pixel,
                               c.spatial.sigma_center_deg)
            kernel = difference_of_gaussians_kernel(c.spatial, grid.deg_per_pixel)
            m = kernel.shape[0] // 2
            pad = m + 2  # two more pixels for the 4-tap interpolation at the border
            size = sfft.next_fast_len(n + 2 * pad + 1, real=True)
            kpad = np.zeros((size, size))
            kpad[: 2 * m + 1, : 2 * m + 1] = kernel
            kpad = np.roll(kpad, (-m, -m), axis=(0, 1))
            kernel_ft = sfft.rfft2(kpad, workers=self.workers)
            # fractional padded-array coordinates of each cell centre
            col = (mosaic.x_deg[cells] + half) / grid.deg_per_pixel - 0.5 + pad
            row = (half - mosaic.y_deg[cells]) / grid.deg_per_pixel - 0.5 + pad
            c0 = np.clip(np.floor(col).astype(np.int64), 1, size - 3)
            r0 = np.clip(np.floor(row).astype(np.int64), 1, size - 3)
            wc, wr = _cubic_weights(col - c0), _cubic_weights(row - r0)
            taps = biphasic_temporal_kernel(c.temporal, self.time_step)
            self._groups.append({
                "channel": c, "cells": cells, "sign": mosaic.sign[cells].astype(float),
                "pad": pad, "size": size, "kernel_ft": kernel_ft,
                "r0": r0, "c0": c0, "wr": wr, "wc": wc,
                "taps": taps, "history": np.zeros((cells.size, taps.size - 1)),
            })
        self.steps_done = 0

    @property
    def n_cells(self) -> int:
        """Number of cells (the whole mosaic)."""
        return self.mosaic.n_cells

    def reset(self) -> None:
        """Forget the past: grey before the next block."""
        for g in self._groups:
            g["history"][:] = 0.0
        self.steps_done = 0

    def spatial_drive(self, frames: np.ndarray) -> np.ndarray:
        """DoG-filtered contrast at each cell centre, sign included: ``(n_cells, n_frames)``."""
        frames = np.asarray(frames, dtype=np.float64)
        n = self.grid.n_pixels
        if frames.ndim != 3 or frames.shape[1:] != (n, n):
            raise ConfigError(f"frames must have shape (n_frames, {n}, {n}), got {frames.shape}")
        out = np.zeros((self.n_cells, frames.shape[0]))
        if frames.shape[0] == 0:
            return out
        for g in self._groups:
            pad, size = g["pad"], g["size"]
            r0, c0, wr, wc = g["r0"], g["c0"], g["wr"], g["wc"]
            # a few frames per FFT keeps the padded complex arrays small (memory, cache)
            for lo in range(0, frames.shape[0], _FFT_CHUNK):
                chunk = frames[lo:lo + _FFT_CHUNK]
                padded = np.zeros((chunk.shape[0], size, size))
                padded[:, pad:pad + n, pad:pad + n] = chunk
                filtered = sfft.irfft2(sfft.rfft2(padded, workers=self.workers) * g["kernel_ft"],
                                       s=(size, size), workers=self.workers)
                sampled = np.zeros((chunk.shape[0], r0.size))
                for i in range(4):
                    for j in range(4):
                        sampled += filtered[:, r0 + i - 1, c0 + j - 1] * (wr[i] * wc[j])
                out[g["cells"], lo:lo + chunk.shape[0]] = (sampled * g["sign"]).T
        return out

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Linear drive of the next block: ``(n_cells, n_frames · n_sub)`` float64.

        The drive is in contrast units (see :class:`stimuli.params.NonlinearityParams`).
        """
        spatial = self.spatial_drive(frames)
        held = np.repeat(spatial, self.n_sub, axis=1)
        out = np.empty_like(held)
        for g in self._groups:
            x = np.concatenate([g["history"], held[g["cells"]]], axis=1)
            taps = g["taps"]
            if held.shape[1]:
                out[g["cells"]] = signal.oaconvolve(x, taps[None, :], mode="valid", axes=1)
            k = taps.size - 1
            if k:
                g["history"] = x[:, -k:].copy()
        self.steps_done += held.shape[1]
        return out

    def rates(self, drive: np.ndarray) -> np.ndarray:
        """Apply each channel's nonlinearity to a drive block (Hz, same shape)."""
        return apply_nonlinearity(drive, self.mosaic, self.params)


def apply_nonlinearity(drive: np.ndarray, mosaic: LGNMosaic, params: LGNParams | None = None) -> np.ndarray:
    """``clip(baseline + gain · drive, 0, max_rate)`` per channel; Hz, shape of ``drive``.

    Parameters
    ----------
    drive : numpy.ndarray
        ``(n_cells, n_steps)`` linear drive (contrast units).
    mosaic : LGNMosaic
    params : LGNParams, optional
        Default: ``mosaic.params``.
    """
    params = mosaic.params if params is None else params
    rates = np.empty_like(drive, dtype=np.float64)
    for c in params.channels:
        cells = mosaic.channel == c.name
        nl = c.nonlinearity
        rates[cells] = np.clip(nl.baseline_rate_hz + nl.gain_hz * drive[cells], 0.0, nl.max_rate_hz)
    return rates


def iter_lgn_drive(source: Protocol | StimulusMovie, mosaic: LGNMosaic, params: LGNParams | None = None,
                   block_frames: int = 100, time_step: float | None = None,
                   workers: int = 1, progress: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Stream the linear drive: ``(start_step, drive[n_cells, n_steps])`` per block of frames.

    ``start_step`` counts rate time steps (``time_step``, default one frame) from t = 0.
    ``progress`` shows a tqdm bar over the blocks (long protocols).
    """
    from tqdm.auto import tqdm

    source = _as_source(source)
    filt = LGNFilter(mosaic, source.grid, source.frame_duration, params, time_step, workers)
    n_blocks = -(-source.n_frames // max(1, int(block_frames)))
    for start, frames in tqdm(source.iter_frames(block_frames), total=n_blocks, disable=not progress,
                              desc="LGN", unit="block"):
        yield start * filt.n_sub, filt.process(frames)


def iter_lgn_rates(source: Protocol | StimulusMovie, mosaic: LGNMosaic, params: LGNParams | None = None,
                   block_frames: int = 100, time_step: float | None = None,
                   workers: int = 1, progress: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Stream the rates: ``(start_step, rates[n_cells, n_steps])`` in Hz per block of frames.

    Memory is bounded by the block, whatever the protocol length.
    """
    params = mosaic.params if params is None else params
    for start, drive in iter_lgn_drive(source, mosaic, params, block_frames, time_step, workers, progress):
        yield start, apply_nonlinearity(drive, mosaic, params)


def lgn_drive(source: Protocol | StimulusMovie, mosaic: LGNMosaic, params: LGNParams | None = None,
              block_frames: int = 100, time_step: float | None = None) -> np.ndarray:
    """The whole linear drive, ``(n_cells, n_steps)`` float64 (contrast units)."""
    blocks = [d for _, d in iter_lgn_drive(source, mosaic, params, block_frames, time_step)]
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((mosaic.n_cells, 0))


def lgn_rates(source: Protocol | StimulusMovie, mosaic: LGNMosaic, params: LGNParams | None = None,
              block_frames: int = 100, time_step: float | None = None) -> np.ndarray:
    """Rates of every mosaic cell, ``(n_cells, n_steps)`` float64, Hz.

    Parameters
    ----------
    source : Protocol or StimulusMovie
    mosaic : LGNMosaic
    params : LGNParams, optional
        Default: ``mosaic.params``.
    block_frames : int
        Frames filtered per block (the result does not depend on it).
    time_step : float, optional
        Output time step, s (default: the frame duration); must divide the frame.

    Returns
    -------
    numpy.ndarray
        Row ``i`` is mosaic cell ``i``; column ``k`` covers ``[k Δt, (k+1) Δt)``.

    Examples
    --------
    >>> from stimuli.movies import Blank
    >>> m = build_lgn_mosaic(field_size_deg=0.5, rng_or_seed=0)
    >>> r = lgn_rates(StimulusMovie(Blank(), 0.05, 0.01, 0.5, 0.025), m)
    >>> float(r.min()), float(r.max())  # the maintained rate of the parvo channel
    (15.0, 15.0)
    """
    params = mosaic.params if params is None else params
    return apply_nonlinearity(lgn_drive(source, mosaic, params, block_frames, time_step), mosaic, params)
