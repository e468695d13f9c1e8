"""PD-b and gate G5: does the stream still look hierarchical (RF size, latency, selectivity)?

Two stimulus conditions per variant × seed:

* ``noise``: sparse noise; ``rf_size_deg`` and ``fraction_mapped`` as in the
  receptive-fields experiment (:func:`circuits.exp_receptive_fields.noise_metrics`, without
  the LN and Gabor/DoG fits).
* ``gratings``: drifting gratings (orientations × repeats) separated by grey blanks.
  ``latency_s`` (onset of the population PSTH above its pre-stimulus baseline,
  :func:`analysis.tuning.response_latency`), ``f1_f0`` (modulation at the drift frequency, steady state, preferred
  orientation) and the OSI, its shuffled control and orientation decoding of
  :func:`circuits.experiments.edge_tuning_metrics`.

Verdicts: ``G5`` (every variant run) and ``PD-b`` (residual): the station means (over
L4, L2/3, L5) of RF size and latency increase strictly along the stations present.

Functions
---------
hierarchy_spec
    The experiment for given protocol parameters (:data:`SPEC` uses the defaults).
grating_metrics
    Latency, F1/F0 and orientation metrics of one drifting-grating run.
hierarchy_verdicts
    G5 and PD-b.

References
----------
Maunsell, J. H. R. & Gibson, J. R. (1992). J. Neurophysiol. 68, 1332–1344. doi:10.1152/jn.1992.68.4.1332
Skottun, B. C. et al. (1991). Vision Res. 31, 1079–1086. doi:10.1016/0042-6989(91)90033-2
Schmolesky, M. T. et al. (1998). J. Neurophysiol. 79, 3272–3278. doi:10.1152/jn.1998.79.6.3272
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.binning import bin_spikes
from analysis.errors import ConfigError
from analysis.tuning import f1_f0_from_spike_times, response_latency
from circuits.exp_receptive_fields import (
    SparseNoiseParams,
    _median,
    _noise_groups,
    noise_metrics,
    stream_spec,
)
from circuits.experiments import (
    RESPONSE_DELAY,
    STATIONS,
    ExperimentSpec,
    _criterion,
    _mean,
    _verdict,
    edge_tuning_metrics,
)

__all__ = [
    "HierarchyProtocolParams",
    "DEFAULT_HIERARCHY_PROTOCOL",
    "hierarchy_spec",
    "grating_metrics",
    "latency_and_modulation",
    "hierarchy_verdicts",
    "monotone_step",
    "SPEC",
]

logger = logging.getLogger(__name__)

#: PSTH bin for latencies, s: the resolution of the latency; 5 ms separates stations whose
#: onsets differ by ~10 ms per stage in macaque (Schmolesky et al. 1998, Fig. 2).
LATENCY_BIN = 0.005
#: Baseline SDs and consecutive bins of the onset criterion (Maunsell & Gibson 1992).
LATENCY_N_SD = 3.0
LATENCY_N_BINS = 3
#: The baseline window starts at least this long after the previous grating ends, s: the
#: LGN answers an offset with a transient (impulse-response peak 40 ms, rebound 90 ms,
#: stimuli/params.py) that would otherwise inflate the baseline SD.
OFFSET_GUARD = 0.1
#: Onsets later than this after stimulus onset are not searched, s.
MAX_LATENCY = 0.25
#: Mean evoked rate (spikes/s) at the preferred orientation for a cell to enter F1/F0.
MIN_RATE = 1.0
#: Spikes (pooled over repeats) a cell needs in the F1/F0 window: F1/F0 of n spikes at random
#: phases is about sqrt(π/n) (2/sqrt(n) · sqrt(π)/2, Rayleigh mean), 0.56 at 10 spikes.
MIN_F1_SPIKES = 10


@dataclass(frozen=True)
class HierarchyProtocolParams:
    """Stimulus parameters of the hierarchy experiment (SI units: s, deg, Hz).

    Parameters
    ----------
    noise : SparseNoiseParams
        The ``noise`` condition (:class:`circuits.exp_receptive_fields.SparseNoiseParams`).
        RF size needs only the ON/OFF modulation map of mapped cells, so 200 s (instead
        of the 300 s of the LN fits) — about 800 spikes for a 4 spikes/s L4 cell.
    orientations, repeats : int
        Drifting gratings: directions in [0, 180) deg and repeats of each.
    temporal_frequency : float
        Drift frequency, Hz (4 Hz: within the range driving macaque V1 well).
    grating_duration : float
        Grating duration, s; a whole number of cycles.
    blank : float
        Grey interval after each grating, s: holds the latency baseline after
        ``OFFSET_GUARD``.
    latency_baseline : float
        Pre-stimulus window of the latency criterion, s (≤ ``blank − OFFSET_GUARD``).
    f1_start : float
        Start of the steady-state window of F1/F0 after onset, s (a whole number of cycles
        to the end of the grating).
    """

    noise: SparseNoiseParams = field(default_factory=lambda: SparseNoiseParams(duration=200.0))
    orientations: int = 8
    repeats: int = 5
    temporal_frequency: float = 4.0
    grating_duration: float = 0.75
    blank: float = 0.3
    latency_baseline: float = 0.2
    f1_start: float = 0.25

    def __post_init__(self) -> None:
        if self.latency_baseline + OFFSET_GUARD > self.blank + 1e-9:
            raise ConfigError(f"latency_baseline: must fit in the blank ({self.blank} s) after a {OFFSET_GUARD} s "
                              f"offset guard, got {self.latency_baseline} s")
        cycles = (self.grating_duration - self.f1_start) * self.temporal_frequency
        if self.f1_start < 0 or cycles < 1 - 1e-9 or abs(cycles - round(cycles)) > 1e-6:
            raise ConfigError(f"f1_start: grating_duration - f1_start must be a whole number (>= 1) of cycles at "
                              f"{self.temporal_frequency} Hz, got {cycles:.3g}")

    def conditions(self) -> dict[str, dict[str, Any]]:
        """Condition name → configuration overrides."""
        # gratings first: rate matching (hierarchical_rate_matched) calibrates on the first
        # condition, and the gratings are the shorter protocol
        return {
            "gratings": {"stimulus": {
                "protocol": "orientation_tuning", "orientations": self.orientations, "phases": 1,
                "repeats": self.repeats, "contrasts": [1.0], "temporal_frequency": f"{self.temporal_frequency} Hz",
                "duration": f"{self.grating_duration} s", "blank": f"{self.blank} s"}},
            "noise": self.noise.overrides(),
        }

    def biological_time(self) -> float:
        """Simulated time per variant × seed, s."""
        return self.noise.duration + self.orientations * self.repeats * (self.grating_duration + self.blank)


#: Defaults: 200 s of sparse noise + 8 × 5 gratings × 1.05 s = 242 s per variant × seed.
DEFAULT_HIERARCHY_PROTOCOL = HierarchyProtocolParams()


def _aligned_spikes(spikes: Any, starts: np.ndarray, window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Node ids and times (relative to each start) of the spikes in ``start + window``."""
    ids, times = [], []
    for start in starts:
        lo, hi = np.searchsorted(spikes.times, [start + window[0], start + window[1]])
        ids.append(spikes.node_ids[lo:hi].astype(np.int64))
        times.append(spikes.times[lo:hi] - start)
    return np.concatenate(ids), np.concatenate(times)


def grating_metrics(record: Any, params: HierarchyProtocolParams = DEFAULT_HIERARCHY_PROTOCOL
                    ) -> dict[tuple[str, str, str], float]:
    """Latency, F1/F0 and orientation metrics of one drifting-grating run per station × layer.

    Parameters
    ----------
    record : SpikeRecord
        A run of the ``orientation_tuning`` protocol with drifting gratings and blanks.
    params : HierarchyProtocolParams

    Returns
    -------
    dict
        ``(station, layer, metric) → value``: ``latency_s``, ``f1_f0``
        and those of :func:`circuits.experiments.edge_tuning_metrics`.

    Notes
    -----
    The latency PSTH averages every trial whose pre-stimulus window lies in the run (all
    but the first), in ``LATENCY_BIN`` bins from ``latency_baseline`` before onset to the
    end of the grating; the onset is the first of ``LATENCY_N_BINS`` consecutive bins above
    baseline mean + ``LATENCY_N_SD`` SD. ``f1_f0`` is the median over cells firing at least
    ``MIN_RATE`` at their preferred orientation of F1/F0 of the spikes in
    ``[f1_start, grating_duration)`` after onset, pooled over that orientation's repeats
    (Skottun et al. 1991; > 1 for linear, simple-like responses), with at least
    ``MIN_F1_SPIKES`` spikes there. Per-cell onsets are not reported: to a drifting grating a
    linear cell answers when its preferred phase arrives, so single-cell "latencies" mix
    onset and phase; the population PSTH averages over phases.
    """
    out = edge_tuning_metrics(record)
    out.update(latency_and_modulation(record, params))
    return out


def latency_and_modulation(record: Any, params: HierarchyProtocolParams = DEFAULT_HIERARCHY_PROTOCOL
                           ) -> dict[tuple[str, str, str], float]:
    """``latency_s`` and ``f1_f0`` of :func:`grating_metrics` (its Notes), per station × layer."""
    out: dict[tuple[str, str, str], float] = {}
    trials = record.trials
    starts = np.asarray(trials["start"], float)
    stops = np.asarray(trials["stop"], float)
    ori = np.asarray(trials["orientation_deg"], float)
    duration = float(np.min(stops - starts))
    baseline = params.latency_baseline
    late = starts >= baseline - 1e-9
    window = {"start": starts[late], "stop": stops[late]}
    n_bins = round((baseline + duration) / LATENCY_BIN)
    for station, layer, populations in _noise_groups(record):
        counts = np.concatenate([bin_spikes(record[p], window, LATENCY_BIN, t_pre=baseline,
                                            t_post=n_bins * LATENCY_BIN - baseline) for p in populations], axis=1)
        psth = counts.mean(axis=0) / LATENCY_BIN  # (n_cells, n_bins)
        kwargs: dict[str, Any] = {"bin_size": LATENCY_BIN, "stimulus_onset": 0.0, "t_start": -baseline, "n_sd": LATENCY_N_SD,
                  "n_consecutive": LATENCY_N_BINS, "max_latency": MAX_LATENCY}
        out[(station, layer, "latency_s")] = float(response_latency(psth.mean(axis=0), **kwargs))
        ratios = []
        for pop in populations:
            spikes = record[pop]
            rates = np.stack([_orientation_rates(spikes, starts[ori == o], duration) for o in np.unique(ori)])
            best = np.argmax(rates, axis=0)
            for k, o in enumerate(np.unique(ori)):
                cells_k = np.flatnonzero((best == k) & (rates[k] >= MIN_RATE))
                if cells_k.size == 0:
                    continue
                ids, times = _aligned_spikes(spikes, starts[ori == o], (params.f1_start, duration))
                ratio = f1_f0_from_spike_times(ids, times, spikes.n_nodes, params.temporal_frequency,
                                               params.f1_start, duration)
                enough = np.bincount(ids, minlength=spikes.n_nodes)[cells_k] >= MIN_F1_SPIKES
                ratios.append(ratio[cells_k[enough]])
        out[(station, layer, "f1_f0")] = _median(np.concatenate(ratios)) if ratios else math.nan
    return out


def _orientation_rates(spikes: Any, starts: np.ndarray, duration: float) -> np.ndarray:
    """Mean rate per cell in ``[start + RESPONSE_DELAY, start + duration)`` over the trials, spikes/s."""
    ids, _ = _aligned_spikes(spikes, starts, (RESPONSE_DELAY, duration))
    return np.bincount(ids, minlength=spikes.n_nodes) / (starts.size * (duration - RESPONSE_DELAY))


def _metrics_for(params: HierarchyProtocolParams):
    def metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
        out = noise_metrics(runs["noise"], params.noise.n_lags, with_ln=False, shape_fits=False)
        out.update(grating_metrics(runs["gratings"], params))
        return out

    return metrics


def station_mean(metrics: dict, variant: str, station: str, metric: str) -> float:
    """Mean of ``metric`` over L4, L2/3 and L5 of a station (NaN if any layer is missing)."""
    values = [_mean(metrics, variant, station, layer, metric) for layer in ("l4", "l23", "l5")]
    return math.nan if any(math.isnan(v) for v in values) else float(np.mean(values))


def monotone_step(values: Sequence[float]) -> float:
    """Smallest step between consecutive values (> 0 iff strictly increasing; NaN if any is NaN).

    Examples
    --------
    >>> monotone_step([0.5, 0.8, 1.6])
    0.3
    >>> monotone_step([0.5, 0.4])
    -0.1
    """
    if len(values) < 2 or any(math.isnan(v) for v in values):
        return math.nan
    return round(float(np.min(np.diff(values))), 12)


def _order_criteria(metrics: dict, variant: str, stations: list[str], ran: bool) -> list[dict[str, Any]]:
    criteria = []
    for metric, label in (("rf_size_deg", "RF size (deg)"), ("latency_s", "latency (s)")):
        step = monotone_step([station_mean(metrics, variant, s, metric) for s in stations]) if ran else math.nan
        name = f"{variant}: {label} station means increase {' < '.join(stations)} (smallest step)"
        criteria.append(_criterion(name, step, 0.0, None if math.isnan(step) else bool(step > 0.0)))
    return criteria


def hierarchy_verdicts(metrics: dict, variants: Sequence[str]) -> dict[str, Any]:
    """G5 and PD-b (DESIGN §5): RF size and latency grow along the stations.

    The station mean is the mean over L4, L2/3 and L5; the order must be strict along the
    cortical stations present (v1 < v2 < v4 < it). ``G5`` asks it of every variant run,
    ``PD-b`` of ``residual`` ("hierarchy metrics keep their order" with the shortcut);
    ``passed = None`` where the variant was not run or a value is missing.
    """
    stations = [s for s in STATIONS[1:] if any(s in metrics.get(v, {}) for v in variants)]
    gate = []
    for variant in variants:
        gate += _order_criteria(metrics, variant, stations, True)
    residual = _order_criteria(metrics, "residual", stations, "residual" in variants)
    return {"PD-b": _verdict(residual), "G5": _verdict(gate)}


#: Metric → y-axis label of the figures drawn along the stream.
FIGURE_LABELS = {
    "rf_size_deg": "RF size (deg, Gaussian fit of ON/OFF map)",
    "latency_s": "response latency (s, population PSTH)",
    "f1_f0": "F1/F0 (drifting gratings)",
    "osi": "OSI (1 - circular variance)",
}


def hierarchy_spec(params: HierarchyProtocolParams = DEFAULT_HIERARCHY_PROTOCOL) -> ExperimentSpec:
    """The hierarchy experiment for ``params`` (:data:`SPEC` uses the defaults)."""
    return stream_spec(
        "hierarchy",
        "PD-b / G5: does the stream still look hierarchical - do RF size and response latency "
        "grow from V1 to IT, with and without the shortcut?",
        params.conditions(), _metrics_for(params), hierarchy_verdicts, FIGURE_LABELS)


SPEC = hierarchy_spec()
