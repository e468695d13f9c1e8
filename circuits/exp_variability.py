"""P2 and gate G4: trial-to-trial variability along the stream (``ventral-columns experiment variability``).

Question (DESIGN §1, P2): does the trial-to-trial variability of a station grow with the
variability of *all* preceding stations, not only the one just before it? Gate G4 (DESIGN
§5): does the mean-matched Fano factor drop at stimulus onset in every cortical station?

Protocol
--------
One static full-contrast grating repeated :data:`DEFAULT_REPEATS` times (0.3 s grating,
0.2 s blank: 50 s of biological time per run; DESIGN §5 asks for ≥ 100 repeats). Every
variant × seed runs these conditions (:func:`variability_conditions`):

``baseline``
    No manipulation: Fano factors, gain variance, and the null control of the transfer
    slopes.
``noise_<j>``
    Trial-wise multiplicative gain noise (s.d. :data:`GAIN_NOISE_SD`) on the feedforward
    input of station j (``[[manipulation]] kind = "gain_noise"``), for every station but
    the last: the slopes ``a_kj`` of every station k on the injected gain.
``noise_<j0>_lesion_<m>``
    Gain noise at the first station j0 plus a block lesion (L4 + L2/3 silenced) of
    station m, for every station m but the last: the transfer ``a_kj0`` at the station k
    after m that survives the lesion of k − 1 (residual, hierarchical and rate-matched
    hierarchical only).

Functions
---------
variability_conditions
    The conditions above for a list of stations.
injected_gains
    The per-trial gains a run injected, per station (regenerated from the trial-noise seed).
variability_metrics
    Fano factors, gain variance and transfer slopes per station × layer for one variant × seed.
variability_verdicts
    P2 and G4 restated from DESIGN §5 with the measured values.
variability_figures
    Fano factor before/after onset per station, gain variance and the noise-transfer
    matrices, from ``results.json`` alone.
transfer_matrix
    The ``a_kj`` matrix of one variant and layer from the ``metrics`` block of ``results.json``.

References
----------
Churchland et al. (2010), Nat. Neurosci. 13, 369, doi:10.1038/nn.2501 (mean-matched Fano
factor); Goris, Movshon & Simoncelli (2014), Nat. Neurosci. 17, 858, doi:10.1038/nn.3711
(gain variance). The estimators are in :mod:`analysis.variability`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.binning import bin_spikes
from analysis.errors import ConfigError, SpikeDataError
from analysis.variability import (
    gain_variance,
    mean_matched_fano_factor,
    noise_transfer_slope,
)
from circuits.config import parse_quantity
from circuits.experiments import (
    LAYERS,
    RESPONSE_DELAY,
    STATIONS,
    ExperimentSpec,
    _check,
    _criterion,
    _mean,
    _population_layers,
    _verdict,
)

__all__ = [
    "BASELINE",
    "DEFAULT_REPEATS",
    "FANO_WINDOW",
    "GAIN_NOISE_SD",
    "LESION_VARIANTS",
    "SPEC",
    "injected_gains",
    "transfer_matrix",
    "variability_conditions",
    "variability_figures",
    "variability_metrics",
    "variability_verdicts",
]

logger = logging.getLogger(__name__)

#: Repeats of the static grating: DESIGN §5 asks for at least 100.
DEFAULT_REPEATS = 100
#: Standard deviation of the injected per-trial gain (mean 1). A 20 % gain s.d. is
#: measurable with 100 trials (slope s.e. ≈ s.d.(residual gain) / (0.2·√100)) and small
#: enough for the linearised slope of :func:`analysis.variability.noise_transfer_slope`.
GAIN_NOISE_SD = 0.2
#: Counting window of the Fano factor, s: Churchland et al. (2010) used 50 ms windows.
FANO_WINDOW = 0.05
#: Cells whose mean count per response window is below this (spikes) are left out of the
#: gain-variance median: the negative-binomial fit of a nearly silent cell is undetermined
#: (Goris et al. 2014 analysed responsive units only).
MIN_GAIN_COUNT = 1.0
#: Condition without manipulation.
BASELINE = "baseline"
#: Variants that run the lesion conditions (the P2 lesion criteria name only these).
LESION_VARIANTS = ("residual", "hierarchical", "hierarchical_rate_matched")
#: Pooled E cells of a cortical station (l4 + l23 + l5) are reported under this layer key.
POOLED = "all"

_LESION = re.compile(r"^noise_(?P<j>[a-z0-9]+)_lesion_(?P<m>[a-z0-9]+)$")
_NOISE = re.compile(r"^noise_(?P<j>[a-z0-9]+)$")


def variability_conditions(stations: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Condition name → configuration overrides, for the cortical ``stations`` of a run.

    Parameters
    ----------
    stations : sequence of str
        Cortical stations in stream order, e.g. ``("v1", "v2", "v4", "it")``.

    Returns
    -------
    dict
        ``baseline``; ``noise_<j>`` for every station but the last; and
        ``noise_<first>_lesion_<m>`` for every station m but the last (gain noise at the
        first station, block lesion of m, the silence guard off because a lesioned
        hierarchical stream may fall silent by design).

    Examples
    --------
    >>> list(variability_conditions(["v1", "v2", "v4"]))
    ['baseline', 'noise_v1', 'noise_v2', 'noise_v1_lesion_v1', 'noise_v1_lesion_v2']
    """
    stations = list(stations)
    out: dict[str, dict[str, Any]] = {BASELINE: {}}
    if len(stations) < 2:
        return out
    for j in stations[:-1]:
        out[f"noise_{j}"] = {"manipulation": [_gain_noise(j)]}
    first = stations[0]
    for m in stations[:-1]:
        out[f"noise_{first}_lesion_{m}"] = {
            "manipulation": [_gain_noise(first), {"kind": "block_lesion", "stations": [m]}],
            "run": {"silence_guard": False},
        }
    return out


def _gain_noise(station: str) -> dict[str, Any]:
    return {"kind": "gain_noise", "stations": [station], "value": GAIN_NOISE_SD}


def variability_variant_conditions(variant: str, condition: str) -> bool:
    """Lesion conditions only for :data:`LESION_VARIANTS`; the rest for every variant."""
    return _LESION.match(condition) is None or variant in LESION_VARIANTS


def injected_gains(record: Any) -> dict[str, np.ndarray]:
    """The multiplicative gain each station's feedforward input had on each trial.

    Parameters
    ----------
    record : SpikeRecord
        A run of the stream.

    Returns
    -------
    dict of str to numpy.ndarray
        Station → float64 array of shape ``(n_trials,)``; only stations with gain noise.

    Notes
    -----
    Uses ``/trials`` columns ``ff_gain_<station>`` (the gain at each epoch's onset, stored
    by ``circuits.run``) when the run stored them. Otherwise (older files, and the no-noise
    null control, which asks what a noise run would have drawn) the
    gains are regenerated by the rule of ``circuits.run._gain_timelines``: one generator
    seeded with the run's ``trial_noise`` seed; for every ``gain_noise`` manipulation in
    configuration order and every station in it, ``max(0, normal(1, value, n_epochs))``
    (gains of several manipulations on one station multiply). Every manipulation of this
    experiment covers the whole run, so the gain of epoch r holds for all of trial r.
    """
    trials = record.trials
    n = len(np.asarray(trials["start"]))
    stored = {key[len("ff_gain_"):]: np.asarray(trials[key], float) for key in trials if key.startswith("ff_gain_")}
    if stored:
        return stored
    return _draw_gains(int(record.provenance["seeds"]["trial_noise"]), record.config.get("manipulation", []), n)


def _draw_gains(seed: int, manipulations: Sequence[Mapping[str, Any]], n: int) -> dict[str, np.ndarray]:
    """Per-epoch gains of the ``gain_noise`` manipulations, drawn by the run's own rule
    (:func:`circuits.run.draw_epoch_gains`); several on one station multiply."""
    from circuits.run import draw_epoch_gains

    gains: dict[str, np.ndarray] = {}
    for k, drawn in draw_epoch_gains(seed, manipulations, n).items():
        manip = manipulations[k]
        start = parse_quantity(manip.get("start", "0 s"), "time", "manipulation.start")
        stop = parse_quantity(manip.get("stop", "inf s"), "time", "manipulation.stop")
        if start > 0 or math.isfinite(stop):
            logger.warning("gain noise in the window %s-%s s: the per-trial gain holds only inside it", start, stop)
        for station, per_epoch in drawn:
            gains[station] = gains.get(station, np.ones(n)) * per_epoch
    return gains


def _shifted_counts(record: Any, population: str, trials: Mapping[str, np.ndarray], offset: float,
                    window: float) -> np.ndarray:
    """Counts in ``[start + offset, start + offset + window)`` per trial and cell, float64."""
    start = np.asarray(trials["start"], float) + offset
    shifted = {"start": start, "stop": start + window}
    return bin_spikes(record[population], shifted, bin_size=window, t_post=window)[:, :, 0].astype(float)


def _later_trials(record: Any) -> dict[str, np.ndarray]:
    """The trials table without trial 0: it has no blank before it and holds the start transient."""
    return {key: np.asarray(values)[1:] for key, values in record.trials.items()}


def _groups(record: Any) -> dict[tuple[str, str], list[str]]:
    """(station, layer) → E populations, plus each station's pooled E cells under :data:`POOLED`."""
    groups: dict[tuple[str, str], list[str]] = {}
    for population, station, layer in _population_layers(record):
        groups[(station, layer)] = [population]
        groups.setdefault((station, POOLED), []).append(population)
    return groups


def _response_window(trials: Mapping[str, np.ndarray]) -> float:
    """Length of the response window, s; checks that both Fano windows fit the protocol."""
    duration = float(np.min(np.asarray(trials["stop"], float) - np.asarray(trials["start"], float)))
    _check_windows(duration, float(np.min(np.asarray(trials["blank_after"], float))))
    return duration - RESPONSE_DELAY


def _check_windows(duration: float, blank: float) -> None:
    if duration - RESPONSE_DELAY < FANO_WINDOW - 1e-9:
        raise ConfigError(f"stimulus.duration must be >= {RESPONSE_DELAY + FANO_WINDOW} s (response delay + "
                          f"Fano window) for the variability metrics, got {duration} s")
    if blank < FANO_WINDOW - 1e-9:
        raise ConfigError(f"stimulus.blank must be >= {FANO_WINDOW} s (the Fano window before onset), got {blank} s")


def check_protocol(cfg: Mapping[str, Any]) -> None:
    """Before any run: the stimulus and blank must hold the Fano windows (see :func:`_response_window`)."""
    from circuits.config import get_si

    _check_windows(get_si(cfg, "stimulus.duration"), get_si(cfg, "stimulus.blank"))


def _fano_metrics(record: Any, trials: Mapping[str, np.ndarray], populations: list[str]) -> dict[str, float]:
    """Mean-matched Fano factor in the window before onset and the window after the response delay."""
    pre = np.concatenate([_shifted_counts(record, p, trials, -FANO_WINDOW, FANO_WINDOW) for p in populations], axis=1)
    post = np.concatenate([_shifted_counts(record, p, trials, RESPONSE_DELAY, FANO_WINDOW) for p in populations], axis=1)
    out = {"rate_pre": float(pre.mean() / FANO_WINDOW), "rate_post": float(post.mean() / FANO_WINDOW)}
    counts = np.stack([pre, post], axis=2)
    try:
        mm = mean_matched_fano_factor(counts, bin_size=FANO_WINDOW, window_bins=1, conditions=trials["condition"], seed=0)
    except SpikeDataError as exc:  # too few cells fire in both windows to match their means
        logger.info("mean-matched Fano factor undefined for %s: %s", populations, exc)
        return {**out, **dict.fromkeys(("fano_pre", "fano_post", "fano_drop", "fano_pre_raw", "fano_post_raw"), math.nan)}
    return {**out, "fano_pre": float(mm.fano[0]), "fano_post": float(mm.fano[1]),
            "fano_drop": float(mm.fano[0] - mm.fano[1]),
            "fano_pre_raw": float(mm.fano_all[0]), "fano_post_raw": float(mm.fano_all[1])}


def _gain_variance_median(counts: np.ndarray, conditions: np.ndarray) -> float:
    responsive = counts.mean(axis=0) >= MIN_GAIN_COUNT
    if responsive.sum() < 3:
        return math.nan
    values = gain_variance(counts[:, responsive], conditions)
    return float(np.nanmedian(values))


def _transfer(counts: np.ndarray, gain: np.ndarray, conditions: np.ndarray) -> tuple[float, float]:
    """Slope and standard error of the population gain on the injected gain (NaN when undefined)."""
    try:
        fit = noise_transfer_slope(counts, gain, conditions)
    except SpikeDataError as exc:  # silent population (e.g. a lesioned block)
        logger.info("noise transfer undefined: %s", exc)
        return math.nan, math.nan
    return fit.slope, fit.stderr


def variability_metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """Metrics of one variant × seed, per station × layer (E cells; ``all`` = l4 + l23 + l5 pooled).

    Parameters
    ----------
    runs : mapping of str to SpikeRecord
        Condition → run (:class:`circuits.experiments.RunRecords`).

    Returns
    -------
    dict
        ``(station, layer, metric) → value``. From ``baseline``: ``fano_pre``,
        ``fano_post`` (mean-matched Fano factor in the :data:`FANO_WINDOW` before onset and
        after the response delay), ``fano_drop`` (pre − post), ``fano_pre_raw``,
        ``fano_post_raw`` (all cells, no matching), ``rate_pre``, ``rate_post`` (spikes/s),
        ``gain_variance`` (median σ²_G of responsive cells), ``transfer_null`` (slope on a
        gain that was never injected: the estimator's null) and its s.e. ``transfer_null_se``. From ``noise_<j>``:
        ``transfer_from_<j>`` and ``transfer_from_<j>_se`` at every station. From
        ``noise_<j>_lesion_<m>``: ``transfer_from_<j>_lesion_<m>`` (and ``_se``) at the
        stations after m. Trial 0 is left out everywhere (no blank before it).
    """
    out: dict[tuple[str, str, str], float] = {}
    if BASELINE in runs:
        record = runs[BASELINE]
        trials = _later_trials(record)
        conditions = np.asarray(trials["condition"])
        window = _response_window(trials)
        # The null: the gains a noise run of this seed injects, regressed on a run without them.
        null_gain = _draw_gains(int(record.provenance["seeds"]["trial_noise"]), [_gain_noise("null")],
                                len(record.trials["start"]))["null"][1:]
        for (station, layer), populations in _groups(record).items():
            for name, value in _fano_metrics(record, trials, populations).items():
                out[(station, layer, name)] = value
            counts = np.concatenate([_shifted_counts(record, p, trials, RESPONSE_DELAY, window) for p in populations], axis=1)
            out[(station, layer, "gain_variance")] = _gain_variance_median(counts, conditions)
            out[(station, layer, "transfer_null")], out[(station, layer, "transfer_null_se")] = _transfer(
                counts, null_gain, conditions)
    for condition in runs:
        lesion, noise = _LESION.match(condition), _NOISE.match(condition)
        if lesion is None and noise is None:
            continue
        record = runs[condition]
        trials = _later_trials(record)
        conditions = np.asarray(trials["condition"])
        window = _response_window(trials)
        j = (lesion or noise)["j"]
        gain = injected_gains(record)[j][1:]
        stations = list(record.config["stream"]["stations"])
        after = stations.index(lesion["m"]) + 1 if lesion else 0
        name = f"transfer_from_{j}" + (f"_lesion_{lesion['m']}" if lesion else "")
        for (station, layer), populations in _groups(record).items():
            if stations.index(station) < after:
                continue
            counts = np.concatenate([_shifted_counts(record, p, trials, RESPONSE_DELAY, window) for p in populations], axis=1)
            slope, se = _transfer(counts, gain, conditions)
            out[(station, layer, name)] = slope
            out[(station, layer, f"{name}_se")] = se
    return out


def _stations(metrics: Mapping[str, Any], variants: Sequence[str]) -> list[str]:
    present = {s for v in variants for s in metrics.get(v, {})}
    return [s for s in STATIONS[1:] if s in present]


def variability_verdicts(metrics: dict, variants: Sequence[str]) -> dict[str, Any]:
    """P2 and G4 (DESIGN §5), restated with the measured values.

    "Positive" and "drops" are judged on the lower bound of the bootstrap CI over seeds
    (DESIGN §5: over ≥ 5 seeds, bootstrap CI); with one seed that bound is the value.

    P2: ``a_kj > 0`` at L5 for every j < k (residual); little decay, operationalised as
    ``a_(last, j) / a_(j+1, j) ≥ 0.5`` for every j with two or more later stations (at
    least half of what reaches the next station reaches the last one); a block lesion of
    k − 1 keeps ≥ 50 % of ``a_kj`` in ``residual`` and < 10 % in ``hierarchical`` (and in
    ``hierarchical_rate_matched`` when it was run). G4: the mean-matched Fano factor of the
    pooled E cells drops at onset (``fano_drop`` > 0) in every cortical station of every
    variant run. A criterion whose variant or condition was not run has ``passed = None``.
    """
    stations = _stations(metrics, variants)
    criteria = []
    for k_index, k in enumerate(stations):
        for j in stations[:k_index]:
            low = _ci_low(metrics, "residual", k, "l5", f"transfer_from_{j}")
            criteria.append(_criterion(f"residual a_kj at {k} L5 from noise at {j} (lower CI bound)", low, 0.0,
                                       None if math.isnan(low) else low > 0))
    for j_index, j in enumerate(stations[:-2]):
        nearest = _mean(metrics, "residual", stations[j_index + 1], "l5", f"transfer_from_{j}")
        farthest = _mean(metrics, "residual", stations[-1], "l5", f"transfer_from_{j}")
        ratio = farthest / nearest if nearest > 0 else math.nan
        criteria.append(_criterion(f"residual decay a_({stations[-1]},{j}) / a_({stations[j_index + 1]},{j}) at L5",
                                   ratio, 0.5, _check(ratio, 0.5)))
    if len(stations) < 3:
        criteria.append(_criterion("residual decay a_(last,j) / a_(j+1,j) at L5 (needs >= 3 stations)",
                                   math.nan, 0.5, None))
    controls = [("residual", 0.5, True), ("hierarchical", 0.1, False)]
    if "hierarchical_rate_matched" in variants:
        controls.append(("hierarchical_rate_matched", 0.1, False))
    first = stations[0] if stations else "v1"
    for m_index, m in enumerate(stations[:-1]):
        k = stations[m_index + 1]
        for variant, threshold, above in controls:
            survival = _survival(metrics, variant, k, first, m)
            relation = ">=" if above else "<"
            criteria.append(_criterion(f"{variant}: share of a_({k},{first}) at L5 surviving a block lesion of {m} "
                                       f"({relation} {threshold})", survival, threshold,
                                       _check(survival, threshold, above=above)))
    gate = []
    for variant in variants:
        for station in stations:
            low = _ci_low(metrics, variant, station, POOLED, "fano_drop")
            gate.append(_criterion(f"{variant}: {station} mean-matched Fano factor drop at onset, pre - post "
                                   "(lower CI bound)", low, 0.0, None if math.isnan(low) else low > 0))
    return {"P2": _verdict(criteria), "G4": _verdict(gate)}


def _ci_low(metrics: dict, variant: str, station: str, layer: str, metric: str) -> float:
    """Lower bootstrap CI bound over seeds (NaN when not measured)."""
    try:
        value = metrics[variant][station][layer][metric]["ci_low"]
    except KeyError:
        return math.nan
    return math.nan if value is None else float(value)


def _survival(metrics: dict, variant: str, k: str, j: str, m: str) -> float:
    """``a_kj`` with a block lesion of m over ``a_kj`` intact (NaN unless the intact slope is positive)."""
    intact = _mean(metrics, variant, k, "l5", f"transfer_from_{j}")
    lesioned = _mean(metrics, variant, k, "l5", f"transfer_from_{j}_lesion_{m}")
    return lesioned / intact if intact > 0 else math.nan


def transfer_matrix(metrics: Mapping[str, Any], variant: str, layer: str = "l5",
                    lesion: bool = False) -> tuple[np.ndarray, list[str]]:
    """The noise-transfer matrix ``a_kj`` of one variant from the ``metrics`` block of ``results.json``.

    Parameters
    ----------
    metrics : mapping
        ``{variant: {station: {layer: {metric: {"mean", ...}}}}}``.
    variant, layer : str
    lesion : bool
        Entry (k, j) is ``transfer_from_<j>_lesion_<m>`` with m the station before k
        (the slope that survives a block lesion of k − 1) instead of the intact slope.

    Returns
    -------
    matrix : numpy.ndarray, float64, shape (n_stations, n_stations)
        ``matrix[k, j]``, NaN where not measured.
    stations : list of str
        The cortical stations present, in stream order.

    Examples
    --------
    >>> m = {"residual": {"v1": {"l5": {}}, "v2": {"l5": {"transfer_from_v1": {"mean": 0.4}}}}}
    >>> transfer_matrix(m, "residual")[0].tolist()
    [[nan, nan], [0.4, nan]]
    """
    stations = _stations(metrics, [variant])
    matrix = np.full((len(stations), len(stations)), np.nan)
    for k_index, k in enumerate(stations):
        for j_index, j in enumerate(stations):
            name = f"transfer_from_{j}"
            if lesion:
                if k_index == 0:
                    continue
                name += f"_lesion_{stations[k_index - 1]}"
            matrix[k_index, j_index] = _mean(metrics, variant, k, layer, name)
    return matrix, stations


def variability_figures(results: dict[str, Any], directory: Path) -> None:
    """Figures from ``results.json``: Fano factors, gain variance, noise-transfer matrices.

    ``fano_factor_<variant>``: pooled E cells of each station before and after onset;
    ``fano_drop`` and ``gain_variance`` along the stream per layer and variant;
    ``noise_transfer_<variant>`` (L5, intact) and ``noise_transfer_<variant>_lesion``
    (L5, block lesion of k − 1) when measured.
    """
    from analysis.plotting import (
        plot_fano_factor,
        plot_noise_transfer_matrix,
        plot_stream_metric,
        save_figure,
    )

    metrics = results["metrics"]
    variants = [v for v in results["variants"] if v in metrics]
    times = np.array([-FANO_WINDOW / 2, RESPONSE_DELAY + FANO_WINDOW / 2])
    for variant in variants:
        stations = _stations(metrics, [variant])
        fano = {s: np.array([_mean(metrics, variant, s, POOLED, "fano_pre"), _mean(metrics, variant, s, POOLED, "fano_post")])
                for s in stations}
        if fano and any(np.isfinite(v).any() for v in fano.values()):
            fig = plot_fano_factor(times, fano, stimulus_onset=0.0,
                                   title=f"{variant}: mean-matched Fano factor, E cells, {FANO_WINDOW * 1e3:.0f} ms windows")
            save_figure(fig, directory / f"fano_factor_{variant}", overwrite=True)
        for lesion in (False, True):
            matrix, names = transfer_matrix(metrics, variant, "l5", lesion=lesion)
            if np.isfinite(matrix).any():
                title = f"{variant}: L5 transfer a_kj" + (" with block lesion of k-1" if lesion else "")
                fig = plot_noise_transfer_matrix(matrix, names, title=title)
                save_figure(fig, directory / f"noise_transfer_{variant}{'_lesion' if lesion else ''}", overwrite=True)
    for metric, label, reference in (("fano_drop", "Fano factor before - after onset", 0.0),
                                     ("gain_variance", "gain variance (Goris et al. 2014)", None)):
        fig = plot_stream_metric(metrics, metric, ylabel=label, variants=variants, layers=LAYERS,
                                 stations=STATIONS[1:], reference=reference)
        save_figure(fig, directory / metric, overwrite=True)


SPEC = ExperimentSpec(
    name="variability",
    question=("P2: does trial-to-trial variability at a station grow with the variability of all preceding "
              "stations (noise-transfer slopes a_kj, surviving a block lesion of k-1)? G4: does the "
              "mean-matched Fano factor drop at stimulus onset?"),
    overrides={
        "stimulus": {"protocol": "repeated", "repeats": DEFAULT_REPEATS, "duration": "0.3 s", "blank": "0.2 s"},
    },
    variants=("residual", "hierarchical", "hierarchical_rate_matched", "shuffled_skip"),
    metrics=variability_metrics,
    verdicts=variability_verdicts,
    figures=(),
    conditions=variability_conditions,
    variant_conditions=variability_variant_conditions,
    figure_hook=variability_figures,
    check=check_protocol,
)
