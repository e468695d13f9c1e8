"""PD-a, receptive fields along the stream: sparse-noise STAs, LN fits, reliability, sparseness.

Two stimulus conditions per variant × seed:

* ``noise``: sparse noise (a few bright and dark squares on grey, a new pattern every noise
  frame), cut into trials with their own seeds. The frames are not stored in the run file;
  :func:`rebuild_noise` regenerates them from the resolved configuration and the stimulus
  seed and checks them against the file's trial table.
* ``images``: seeded 1/f natural-like images, each flashed ``repeats`` times.

Per station × layer (E cells; the LGN ON and OFF cells pooled as layer ``all``) the
metrics are (definitions in ``docs/exp_receptive_fields.md``): ``ln_r`` (cross-validated
LN-model prediction of the noise responses), ``gabor_r2`` and ``dog_r2`` (parametric fits
of the linear STA), ``rf_size_deg`` (Gaussian fit of the ON/OFF modulation map),
``fraction_mapped``, ``sta_peak_lag_s``, ``rate_noise``, and from the images
``reliability`` (split-half, Spearman–Brown) and ``lifetime_sparseness``.

Functions
---------
receptive_fields_spec
    An :class:`~circuits.experiments.ExperimentSpec` for given protocol parameters
    (:data:`SPEC` is the default one).
rebuild_noise
    The sparse-noise patterns of a run, regenerated and checked against the file.
population_rfs
    ON/OFF spike-triggered averages, z-scored, at the population's peak lag.
ln_prediction_r
    Two-fold cross-validated LN prediction of every cell's noise responses.
receptive_field_metrics, receptive_field_verdicts
    The experiment's metrics and the PD-a verdict.

References
----------
Jones, J. P. & Palmer, L. A. (1987). J. Neurophysiol. 58, 1187–1211. doi:10.1152/jn.1987.58.6.1187
Chichilnisky, E. J. (2001). Network 12, 199–213. doi:10.1080/713663221
Vinje, W. E. & Gallant, J. L. (2000). Science 287, 1273–1276. doi:10.1126/science.287.5456.1273
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.errors import ConfigError, FileFormatError, SpikeDataError
from analysis.population import lifetime_sparseness, split_half_reliability
from analysis.receptive_fields import frame_blocks, spike_triggered_average
from analysis.rf_fitting import fit_difference_of_gaussians, fit_gabor, fit_gaussian
from analysis.spiketrains import SpikeTrains
from circuits.experiments import (
    RESPONSE_DELAY,
    STATIONS,
    ExperimentSpec,
    _criterion,
    _mean,
    _population_layers,
    _verdict,
    _window_counts,
)

__all__ = [
    "RFProtocolParams",
    "DEFAULT_RF_PROTOCOL",
    "NoiseMovie",
    "PopulationRF",
    "receptive_fields_spec",
    "SparseNoiseParams",
    "stream_spec",
    "rebuild_noise",
    "population_rfs",
    "ln_prediction_r",
    "image_response_matrix",
    "receptive_field_metrics",
    "receptive_field_verdicts",
    "stream_figures",
    "rf_map_figure",
    "SPEC",
]

logger = logging.getLogger(__name__)

#: A cell's RF is "mapped" when its ON or OFF STA exceeds this many null SDs at some check at
#: the population's peak lag. Under the null, 2 × 100 checks give a false-positive rate of
#: about 200 × 6.8e-6 ≈ 0.14 % per cell (two-sided normal tail at 4.5).
Z_MAPPED = 4.5
#: Fewer effective spikes than this and the null of the z-scores is not normal (one spike
#: after a dot gives z ≈ 3 at density 0.1): such cells are never counted as mapped.
MIN_SPIKES_MAP = 50
#: Cells with fewer spikes in the noise run are left out of the LN fit (the STA of a
#: held-out half would rest on fewer than ~15 spikes).
MIN_SPIKES_LN = 30
#: Mapped cells fitted per population (random subset, seeded): bounds the fit time (Gabor
#: and DoG fits of a 10 × 10 map take 0.3–0.9 s each on the reference machine).
MAX_FITS = 20
#: Quantile bins of the LN model's static nonlinearity.
NONLINEARITY_BINS = 10
#: Mean rate (spikes/s) over the images above which a cell enters reliability/sparseness.
MIN_IMAGE_RATE = 1.0


@dataclass(frozen=True)
class SparseNoiseParams:
    """The sparse-noise condition (SI units: s, deg); shared with the hierarchy experiment.

    Parameters
    ----------
    duration : float
        Total sparse noise per run, s. STA noise falls as ``1/sqrt(N_spikes)``: a cell
        needs a few hundred spikes for a map at ``Z_MAPPED`` (docs/exp_receptive_fields.md
        derives it), so 300 s at the 1–10 spikes/s of cortical E cells at scale 1.
    trial_duration : float
        Sparse-noise trial (own seed; the LN fit's cross-validation folds), s.
    dot_size : float
        Side of a noise dot, deg; 0.2 deg samples V1 RFs (σ = 0.35 deg, circuits/params.py)
        with about 3.5 checks per diameter and drives cells that pool many LGN inputs.
    density : float
        Fraction of checks lit per noise frame (10 dots of 100 at 0.1): in 40 s the LGN
        cells (about 600 spikes each) are mapped at 88 %, peaks within 0.08 deg of their
        centres (measured, seed 1).
    frame_duration : float
        Duration of one noise pattern, s (50 ms: about one LGN integration time).
    n_lags : int
        STA lags in noise frames (0 … n_lags − 1, i.e. up to 250 ms at 5 × 50 ms).
    """

    duration: float = 300.0
    trial_duration: float = 10.0
    dot_size: float = 0.2
    density: float = 0.1
    frame_duration: float = 0.05
    n_lags: int = 5

    def __post_init__(self) -> None:
        if self.n_lags < 1:
            raise ConfigError(f"n_lags: must be >= 1, got {self.n_lags}")

    def overrides(self) -> dict[str, Any]:
        """Configuration overrides of the condition."""
        return {"stimulus": {
            "protocol": "sparse_noise", "duration": f"{self.duration} s",
            "trial_duration": f"{self.trial_duration} s", "dot_size": f"{self.dot_size} deg",
            "density": self.density, "noise_frame_duration": f"{self.frame_duration} s",
            "contrasts": [1.0]}}


@dataclass(frozen=True)
class RFProtocolParams:
    """Stimulus parameters of the receptive-field experiment (SI units: s, deg).

    Parameters
    ----------
    noise : SparseNoiseParams
        The ``noise`` condition.
    n_images, image_repeats : int
        Natural-like images and repeats of each (None for ``n_images`` drops the condition).
    image_duration, image_blank : float
        Flash and grey interval, s.
    """

    noise: SparseNoiseParams = field(default_factory=SparseNoiseParams)
    n_images: int | None = 20
    image_repeats: int = 10
    image_duration: float = 0.3
    image_blank: float = 0.3

    def __post_init__(self) -> None:
        if self.n_images is not None and (self.n_images < 2 or self.image_repeats < 2):
            raise ConfigError("n_images and image_repeats: reliability needs >= 2 images and >= 2 repeats "
                              f"(got {self.n_images}, {self.image_repeats})")

    def conditions(self) -> dict[str, dict[str, Any]]:
        """Condition name → configuration overrides."""
        # images first: rate matching (hierarchical_rate_matched) calibrates on the first
        # condition, and the image set is the shorter protocol
        out: dict[str, dict[str, Any]] = {}
        if self.n_images is not None:
            out["images"] = {"stimulus": {
                "protocol": "natural_images", "n_images": self.n_images, "repeats": self.image_repeats,
                "duration": f"{self.image_duration} s", "blank": f"{self.image_blank} s"}}
        out["noise"] = self.noise.overrides()
        return out

    def biological_time(self) -> float:
        """Simulated time per variant × seed, s."""
        images = 0.0 if self.n_images is None else self.n_images * self.image_repeats * (self.image_duration + self.image_blank)
        return self.noise.duration + images


#: Defaults: 300 s of sparse noise + 20 images × 10 repeats × 0.6 s = 420 s per variant × seed.
DEFAULT_RF_PROTOCOL = RFProtocolParams()


@dataclass(frozen=True, eq=False)
class NoiseMovie:
    """Sparse-noise patterns of one run, at the noise-frame rate.

    Attributes
    ----------
    patterns : numpy.ndarray, float64, shape (n_frames, n_y, n_x)
        Contrast of every check (0 grey, ±c dots); row 0 at the top.
    frame_duration : float
        Noise frame, s; frame ``f`` is on screen in ``[t0 + f·frame_duration, …)``.
    t0 : float
        Onset of frame 0, s.
    trial : numpy.ndarray, int64, shape (n_frames,)
        Trial (epoch) index of every frame.
    x_deg, y_deg : numpy.ndarray
        Check centres, deg (azimuth per column, elevation per row).
    """

    patterns: np.ndarray
    frame_duration: float
    t0: float
    trial: np.ndarray
    x_deg: np.ndarray
    y_deg: np.ndarray

    @property
    def channels(self) -> np.ndarray:
        """ON (bright) and OFF (dark) channels, shape (n_frames, 2, n_y, n_x), ≥ 0."""
        return np.stack([np.clip(self.patterns, 0, None), np.clip(-self.patterns, 0, None)], axis=1)

    def frame_of(self, times: np.ndarray) -> np.ndarray:
        """Noise frame on screen at each time (−1 before ``t0``, ``n_frames`` after the end)."""
        f = np.floor((np.asarray(times, float) - self.t0) / self.frame_duration).astype(np.int64)
        return np.clip(f, -1, self.patterns.shape[0])


def rebuild_noise(record: Any) -> NoiseMovie:
    """Regenerate the sparse-noise patterns of a run and check them against the file.

    The stimulus seed is the run's (``record.provenance["seeds"]["stimulus"]``, else derived
    from ``run.master_seed`` with :func:`circuits.simulate.derive_seeds`); the protocol is
    rebuilt with :func:`circuits.run.protocol_from_config` from ``record.config``.

    Parameters
    ----------
    record : SpikeRecord
        A run of the ``sparse_noise`` protocol.

    Returns
    -------
    NoiseMovie

    Raises
    ------
    FileFormatError
        Not a sparse-noise run, or the rebuilt protocol's trials (start, stop, per-trial
        seeds) or description differ from the file's.
    """
    from circuits.run import protocol_from_config
    from circuits.simulate import derive_seeds

    cfg = record.config
    if cfg.get("stimulus", {}).get("protocol") != "sparse_noise":
        raise FileFormatError(f"stimulus.protocol: the run used {cfg.get('stimulus', {}).get('protocol')!r}, "
                              "receptive fields need 'sparse_noise'")
    seeds = record.provenance.get("seeds") or derive_seeds(cfg["run"]["master_seed"])
    protocol = protocol_from_config(cfg, seeds["stimulus"])
    rebuilt = protocol.trials_table()
    for column in ("start", "stop", "seed"):
        if column not in record.trials or not np.array_equal(np.asarray(record.trials[column], float),
                                                             np.asarray(rebuilt[column], float)):
            raise FileFormatError(f"trials.{column}: the rebuilt sparse-noise protocol differs from the file's; "
                                  "the frames cannot be regenerated")
    stored = record.stimulus.get("protocol")
    if stored is not None and stored.get("epochs") != protocol.describe()["epochs"]:
        raise FileFormatError("stimulus/protocol: the rebuilt sparse-noise description differs from the file's")
    # the run stores the patterns it showed (circuits.run); older files get them rebuilt
    stored_arrays = record.stimulus_arrays or {}
    arrays = dict(stored_arrays) if "noise_patterns" in stored_arrays else protocol.noise_arrays()
    onsets = arrays["noise_onsets_s"]
    frame = float(protocol.epochs[0].stimulus.noise_frame_duration_s)
    if not np.allclose(np.diff(onsets), frame, atol=1e-9):
        raise FileFormatError("stimulus: sparse-noise frames are not contiguous (a blank between trials?)")
    n_checks = arrays["noise_patterns"].shape[1]
    size = float(arrays["noise_check_size_deg"][0])
    grid = protocol.grid
    # check centres as the mean pixel centre of each check (the last check may be cut by the field)
    index = np.minimum(((np.arange(grid.n_pixels) + 0.5) * grid.deg_per_pixel // size).astype(np.int64), n_checks - 1)
    counts = np.bincount(index, minlength=n_checks)
    x = np.bincount(index, weights=grid.x_deg, minlength=n_checks) / counts
    y = np.bincount(index, weights=grid.y_deg, minlength=n_checks) / counts
    return NoiseMovie(arrays["noise_patterns"].astype(np.float64), frame, float(onsets[0]),
                      arrays["noise_epoch"].astype(np.int64), x, y)


@dataclass(frozen=True, eq=False)
class PopulationRF:
    """ON/OFF spike-triggered averages of one population (:func:`population_rfs`).

    Attributes
    ----------
    z_on, z_off : numpy.ndarray, shape (n_nodes, n_y, n_x)
        STA of the bright (ON) and dark (OFF) channels at the peak lag, in null SDs:
        positive where the dots preceded spikes more often than chance.
    linear : numpy.ndarray, shape (n_nodes, n_y, n_x)
        ``STA_on − STA_off`` at the peak lag (the linear STA of the signed contrast).
    peak_lag : int
        Lag (noise frames) maximising the population mean of ``z_on² + z_off²``.
    n_spikes : numpy.ndarray, int64, shape (n_nodes,)
    mapped : numpy.ndarray of bool, shape (n_nodes,)
        ``max(|z_on|, |z_off|) ≥ Z_MAPPED`` somewhere, with at least ``MIN_SPIKES_MAP``
        effective spikes.
    """

    z_on: np.ndarray
    z_off: np.ndarray
    linear: np.ndarray
    peak_lag: int
    n_spikes: np.ndarray
    mapped: np.ndarray

    @property
    def modulation(self) -> np.ndarray:
        """``sqrt(z_on² + z_off²)``: where any dot changes the response (simple and complex cells)."""
        return np.hypot(self.z_on, self.z_off)


def _effective_spikes(spikes: SpikeTrains, movie: NoiseMovie) -> np.ndarray:
    """``(Σ n_f)² / Σ n_f²`` per cell: spikes in one noise frame share its stimulus."""
    frames = movie.frame_of(spikes.times)
    n_frames = movie.patterns.shape[0]
    keep = (frames >= 0) & (frames < n_frames)
    key = spikes.node_ids[keep].astype(np.int64) * n_frames + frames[keep]
    unique, counts = np.unique(key, return_counts=True)
    cell = unique // n_frames
    total = np.bincount(cell, weights=counts, minlength=spikes.n_nodes)
    square = np.bincount(cell, weights=counts.astype(float) ** 2, minlength=spikes.n_nodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(square > 0, total**2 / np.where(square > 0, square, 1.0), 0.0)


def population_rfs(spikes: SpikeTrains, movie: NoiseMovie, n_lags: int = 5) -> PopulationRF:
    """ON/OFF STAs of every cell, z-scored against the null of a spike-independent stimulus.

    Parameters
    ----------
    spikes : SpikeTrains
        One population during the noise.
    movie : NoiseMovie
    n_lags : int
        Lags 0 … n_lags − 1 noise frames.

    Returns
    -------
    PopulationRF

    Notes
    -----
    Under the null (spikes independent of the stimulus) the mean-subtracted STA of a check
    is ``Σ_f (n_f/N − 1/F) s_f`` over the ``F`` frames, with SD
    ``sqrt(var_f · (1/N_eff − 1/F))``: ``var_f`` is the variance of that channel over frames
    and ``N_eff = (Σ n_f)² / Σ n_f²`` (spikes in one frame share it). The peak lag is chosen
    once per population, so a cell's map is not the maximum of several noisy lags; the
    population-mean map is removed before comparing lags, because in short runs every cell
    sees the same few frames and that shared STA noise would otherwise pick the lag.
    """
    channels = movie.channels
    sta = spike_triggered_average(spikes, frame_blocks(channels, 2048), movie.frame_duration,
                                  lags=range(n_lags), t0=movie.t0)
    null_sd = np.sqrt(channels.var(axis=0))  # (2, n_y, n_x)
    n_eff = _effective_spikes(spikes, movie)
    n_frames = channels.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        # the mean frame subtracted from the STA shares its frames: variance × (1/N_eff − 1/F)
        spread = np.where(n_eff > 0, 1.0 / np.where(n_eff > 0, n_eff, 1.0) - 1.0 / n_frames, np.nan)
        scale = np.sqrt(np.clip(spread, 0.0, None))
        z = np.nan_to_num(sta.sta / (null_sd[None, None] * scale[:, None, None, None, None]))
    energy = ((z - z.mean(axis=0, keepdims=True)) ** 2).sum(axis=(2, 3, 4)).mean(axis=0)
    peak = int(np.argmax(energy))
    z_on, z_off = z[:, peak, 0], z[:, peak, 1]
    linear = np.nan_to_num(sta.sta[:, peak, 0] - sta.sta[:, peak, 1])
    peak_z = np.maximum(np.abs(z_on), np.abs(z_off)).reshape(z.shape[0], -1).max(axis=1)
    mapped = (peak_z >= Z_MAPPED) & (n_eff >= MIN_SPIKES_MAP)
    return PopulationRF(z_on, z_off, linear, peak, sta.n_spikes[:, 0].copy(), mapped)


def _counts_per_frame(spikes: SpikeTrains, movie: NoiseMovie) -> np.ndarray:
    n_frames = movie.patterns.shape[0]
    frames = movie.frame_of(spikes.times)
    keep = (frames >= 0) & (frames < n_frames)
    flat = np.bincount(frames[keep] * spikes.n_nodes + spikes.node_ids[keep].astype(np.int64),
                       minlength=n_frames * spikes.n_nodes)
    return flat.reshape(n_frames, spikes.n_nodes).astype(np.float32)


def _nonlinearity(drive: np.ndarray, counts: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Histogram nonlinearity of one cell fitted on ``train`` frames, applied to ``test`` frames."""
    edges = np.unique(np.quantile(drive[train], np.linspace(0, 1, NONLINEARITY_BINS + 1)[1:-1]))
    bins_train = np.searchsorted(edges, drive[train], side="right")
    n_bins = edges.size + 1
    sums = np.bincount(bins_train, weights=counts[train], minlength=n_bins)
    numbers = np.bincount(bins_train, minlength=n_bins)
    table = np.where(numbers > 0, sums / np.maximum(numbers, 1), counts[train].mean())
    return table[np.searchsorted(edges, drive[test], side="right")]


def ln_prediction_r(spikes: SpikeTrains, movie: NoiseMovie, n_lags: int = 5,
                    min_spikes: int = MIN_SPIKES_LN) -> np.ndarray:
    """Cross-validated LN-model prediction of every cell's spike counts per noise frame.

    Parameters
    ----------
    spikes : SpikeTrains
        One population during the noise.
    movie : NoiseMovie
    n_lags : int
        Temporal extent of the linear filter, noise frames.
    min_spikes : int
        Cells with fewer spikes get NaN.

    Returns
    -------
    numpy.ndarray, float64, shape (n_nodes,)
        Mean over two folds (even and odd trials held out in turn) of the Pearson
        correlation between predicted and observed counts on the held-out frames.

    Notes
    -----
    The linear filter is the spatio-temporal STA of the signed contrast on the training
    trials only (:func:`analysis.receptive_fields.spike_triggered_average`, fed the
    training frames alone so that no held-out response enters it); the static
    nonlinearity is the mean count in ``NONLINEARITY_BINS`` quantile bins of the filter
    output on the training frames (Chichilnisky 2001). A perfect LN-Poisson cell still
    has r < 1: the bound falls with the rate, so compare layers of similar rates.
    """
    counts = _counts_per_frame(spikes, movie)
    n_frames, n_nodes = counts.shape
    flat = movie.patterns.reshape(n_frames, -1)
    total = counts.sum(axis=0)
    r = np.zeros((2, n_nodes))
    frames = movie.frame_of(spikes.times)
    inside = (frames >= 0) & (frames < n_frames)
    for fold in (0, 1):
        train_frames = (movie.trial % 2) != fold
        test_frames = ~train_frames
        keep = inside & train_frames[np.clip(frames, 0, n_frames - 1)]
        blocks = _train_blocks(movie.patterns, train_frames)
        sta = spike_triggered_average((spikes.node_ids[keep], spikes.times[keep], n_nodes), blocks,
                                      movie.frame_duration, lags=range(n_lags), t0=movie.t0)
        filters = np.nan_to_num(sta.sta.reshape(n_nodes, n_lags, -1))
        drive = np.zeros((n_frames, n_nodes))
        for lag in range(n_lags):
            drive[lag:] += flat[: n_frames - lag] @ filters[:, lag].T
        for cell in range(n_nodes):
            if total[cell] < min_spikes:
                r[fold, cell] = np.nan
                continue
            predicted = _nonlinearity(drive[:, cell], counts[:, cell], train_frames, test_frames)
            observed = counts[test_frames, cell]
            if predicted.std() == 0 or observed.std() == 0:
                r[fold, cell] = 0.0 if observed.std() > 0 else np.nan
            else:
                r[fold, cell] = float(np.corrcoef(predicted, observed)[0, 1])
    finite = np.isfinite(r)
    n_finite = finite.sum(axis=0)
    return np.where(n_finite > 0, np.where(finite, r, 0.0).sum(axis=0) / np.maximum(n_finite, 1), np.nan)


def _train_blocks(patterns: np.ndarray, train: np.ndarray):
    """``(start, frames)`` blocks of the contiguous runs of training frames."""
    edges = np.flatnonzero(np.diff(np.r_[0, train.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        yield int(start), patterns[start:stop]


def image_response_matrix(record: Any, population: str) -> np.ndarray:
    """Rates (spikes/s) of ``population`` per repeat, image and cell: shape (n_repeats, n_images, n_nodes).

    The window starts ``RESPONSE_DELAY`` after each flash onset and ends with the flash.

    Raises
    ------
    FileFormatError
        Images shown unequal numbers of times.
    """
    trials = record.trials
    window = float(np.min(np.asarray(trials["stop"], float) - np.asarray(trials["start"], float))) - RESPONSE_DELAY
    if window <= 0:
        raise ConfigError(f"stimulus.duration: flashes must last longer than the response delay {RESPONSE_DELAY} s")
    rates = _window_counts(record, population, window) / window
    condition = np.asarray(trials["condition"])
    images = np.unique(condition)
    per_image = [rates[condition == c] for c in images]
    if len({p.shape[0] for p in per_image}) != 1:
        raise FileFormatError("trials.condition: images were shown unequal numbers of times")
    return np.stack(per_image, axis=1)


def _median(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def _fit_subset(rf: PopulationRF, rng: np.random.Generator) -> np.ndarray:
    cells = np.flatnonzero(rf.mapped)
    if cells.size > MAX_FITS:
        cells = np.sort(rng.choice(cells, MAX_FITS, replace=False))
    return cells


def _noise_groups(record: Any) -> list[tuple[str, str, list[str]]]:
    lgn = [p for p in ("lgn_on", "lgn_off") if p in record.spikes]
    return [("lgn", "all", lgn)] + [(station, layer, [pop]) for pop, station, layer in _population_layers(record)]


def noise_metrics(record: Any, n_lags: int, with_ln: bool = True,
                  shape_fits: bool = True) -> dict[tuple[str, str, str], float]:
    """RF metrics of one sparse-noise run per station × layer (see the module docstring).

    ``with_ln`` adds ``ln_r``; ``shape_fits`` adds ``gabor_r2`` and ``dog_r2`` (the slow part).
    """
    movie = rebuild_noise(record)
    rng = np.random.default_rng(0)  # which mapped cells are fitted: fixed, independent of the run
    out: dict[tuple[str, str, str], float] = {}
    for station, layer, populations in _noise_groups(record):
        sizes, gabor, dog, ln, mapped, lags, rates = [], [], [], [], [], [], []
        for pop in populations:
            spikes = record[pop]
            rf = population_rfs(spikes, movie, n_lags)
            cells = _fit_subset(rf, rng)
            mapped.append(rf.mapped)
            lags.append(rf.peak_lag)
            rates.append(spikes.n_spikes / max(spikes.n_nodes, 1) / (movie.patterns.shape[0] * movie.frame_duration))
            if cells.size:
                sizes.append(fit_gaussian(rf.modulation[cells], movie.x_deg, movie.y_deg).size_deg)
                if shape_fits:
                    gabor.append(fit_gabor(rf.linear[cells], movie.x_deg, movie.y_deg).r_squared)
                    dog.append(fit_difference_of_gaussians(rf.linear[cells], movie.x_deg, movie.y_deg).r_squared)
            if with_ln:
                ln.append(ln_prediction_r(spikes, movie, n_lags))
        cat = (lambda parts: np.concatenate(parts) if parts else np.array([]))
        out[(station, layer, "rf_size_deg")] = _median(cat(sizes))
        if shape_fits:
            out[(station, layer, "gabor_r2")] = _median(cat(gabor))
            out[(station, layer, "dog_r2")] = _median(cat(dog))
        out[(station, layer, "fraction_mapped")] = float(np.mean(cat(mapped))) if mapped else math.nan
        out[(station, layer, "sta_peak_lag_s")] = float(np.mean(lags)) * movie.frame_duration if lags else math.nan
        out[(station, layer, "rate_noise")] = float(np.average(rates, weights=[record[p].n_nodes for p in populations]))
        if with_ln:
            out[(station, layer, "ln_r")] = _median(cat(ln))
    return out


def image_metrics(record: Any) -> dict[tuple[str, str, str], float]:
    """Split-half reliability and lifetime sparseness over the images, per station × layer."""
    out: dict[tuple[str, str, str], float] = {}
    for station, layer, populations in _noise_groups(record):
        responses = np.concatenate([image_response_matrix(record, pop) for pop in populations], axis=2)
        responsive = responses.mean(axis=(0, 1)) >= MIN_IMAGE_RATE
        out[(station, layer, "fraction_image_responsive")] = float(responsive.mean())
        if responsive.any():
            reliability = split_half_reliability(responses[:, :, responsive], n_splits=20, seed=0)
            out[(station, layer, "reliability")] = _median(reliability)
            out[(station, layer, "lifetime_sparseness")] = _median(lifetime_sparseness(responses.mean(axis=0)[:, responsive]))
        else:
            out[(station, layer, "reliability")] = math.nan
            out[(station, layer, "lifetime_sparseness")] = math.nan
    return out


def _metrics_for(params: RFProtocolParams):
    def metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
        out = noise_metrics(runs["noise"], params.noise.n_lags)
        if "images" in runs:
            out.update(image_metrics(runs["images"]))
        return out

    return metrics


def receptive_field_metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """Metrics of one variant × seed with the default protocol (``runs``: condition → record)."""
    return _metrics_for(DEFAULT_RF_PROTOCOL)(runs)


def _last_station(metrics: dict, variants: Sequence[str]) -> str:
    return next((s for s in reversed(STATIONS) if any(s in metrics.get(v, {}) for v in variants)), "it")


def ln_gap_widening(metrics: dict, variant: str, last: str) -> float:
    """``(ln_r L5 − ln_r L2/3)`` at ``last`` minus the same at V1 (NaN when missing)."""
    def gap(station: str) -> float:
        return _mean(metrics, variant, station, "l5", "ln_r") - _mean(metrics, variant, station, "l23", "ln_r")

    return gap(last) - gap("v1")


def receptive_field_verdicts(metrics: dict, variants: Sequence[str]) -> dict[str, Any]:
    """PD-a (DESIGN §5): the LN fit gap L5 − L2/3 widens along the stream in residual only.

    Criteria: the residual gap at the last station minus at V1 is > 0; for each control
    (``hierarchical``, ``hierarchical_rate_matched``) the same widening is ≤ 0. A criterion
    whose variant was not run has ``passed = None`` (and so has the verdict).
    """
    last = _last_station(metrics, variants)
    criteria = []
    for variant, above in (("residual", True), ("hierarchical", False), ("hierarchical_rate_matched", False)):
        value = ln_gap_widening(metrics, variant, last) if variant in variants else math.nan
        name = (f"{variant}: (L5 - L2/3 LN fit r) at {last} minus at v1 "
                + ("> 0 (gap widens)" if above else "<= 0 (gap does not widen)"))
        passed = None if math.isnan(value) else bool(value > 0.0 if above else value <= 0.0)
        criteria.append(_criterion(name, value, 0.0, passed))
    return {"PD-a": _verdict(criteria)}


#: Metric → y-axis label of the figures drawn along the stream.
FIGURE_LABELS = {
    "rf_size_deg": "RF size (deg, Gaussian fit of ON/OFF map)",
    "ln_r": "LN prediction r (cross-validated)",
    "gabor_r2": "Gabor fit R² of the STA",
    "reliability": "split-half reliability (images)",
    "lifetime_sparseness": "lifetime sparseness (images)",
}


def stream_figures(labels: Mapping[str, str], prefix: str):
    """A ``figure_hook`` drawing each metric of ``labels`` along the stream (those present)."""
    def hook(results: dict[str, Any], directory: Path) -> None:
        from analysis.plotting import plot_stream_metric, save_figure

        for metric, label in labels.items():
            try:
                fig = plot_stream_metric(results["metrics"], metric, ylabel=label, layers=("all", "l4", "l23", "l5"))
            except SpikeDataError:
                logger.info("figure %s skipped: no value of %s", metric, metric)
                continue
            save_figure(fig, Path(directory) / f"{prefix}{metric}", overwrite=True)

    return hook


def rf_map_figure(record: Any, populations: Sequence[str], n_per_population: int = 4, n_lags: int = 5) -> Any:
    """ON − OFF z maps of the most strongly mapped cells of each population of a noise run.

    Parameters
    ----------
    record : SpikeRecord
        A sparse-noise run.
    populations : sequence of str
        E.g. ``("lgn_on", "v1_l4_exc")``.
    n_per_population : int
        Cells per population, by decreasing peak |z|.
    n_lags : int
        STA lags, noise frames.

    Returns
    -------
    matplotlib.figure.Figure
        :func:`analysis.plotting.plot_rf_maps` of ``z_on − z_off`` at each population's
        peak lag, titled ``population #node (peak z)``.
    """
    from analysis.plotting import plot_rf_maps

    movie = rebuild_noise(record)
    maps, titles = [], []
    for population in populations:
        rf = population_rfs(record[population], movie, n_lags)
        peak = np.maximum(np.abs(rf.z_on), np.abs(rf.z_off)).reshape(rf.z_on.shape[0], -1).max(axis=1)
        for cell in np.argsort(-peak)[:n_per_population]:
            maps.append(rf.z_on[cell] - rf.z_off[cell])
            titles.append(f"{population} #{cell} (z {peak[cell]:.1f})")
    # plot_rf_maps draws row i at elevation y[i] with origin="lower": give it rising elevations
    order = np.argsort(movie.y_deg)
    return plot_rf_maps(np.stack(maps)[:, order], movie.x_deg, movie.y_deg[order], titles=titles,
                        n_columns=n_per_population, colorbar_label="ON - OFF STA (z)")


def stream_spec(name: str, question: str, conditions: dict[str, dict[str, Any]], metrics: Any, verdicts: Any,
                labels: Mapping[str, str]) -> ExperimentSpec:
    """A multi-condition experiment over the four default variants, drawn with :func:`stream_figures`."""
    return ExperimentSpec(
        name=name, question=question, overrides={},
        variants=("residual", "hierarchical", "hierarchical_rate_matched", "shuffled_skip"),
        metrics=metrics, verdicts=verdicts, figures=(),
        conditions=lambda stations: conditions,
        figure_hook=stream_figures(labels, ""),
    )


def receptive_fields_spec(params: RFProtocolParams = DEFAULT_RF_PROTOCOL) -> ExperimentSpec:
    """The receptive-fields experiment for ``params`` (:data:`SPEC` uses the defaults)."""
    return stream_spec(
        "receptive-fields",
        "PD-a: are receptive fields LN-like and reliable early and sparse later, and does the "
        "LN fit gap L5 - L2/3 widen along the stream only with the shortcut?",
        params.conditions(), _metrics_for(params), receptive_field_verdicts, FIGURE_LABELS)


SPEC = receptive_fields_spec()
