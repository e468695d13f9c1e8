"""P3, cancellation: is part of the feedforward/shortcut input to L5 cancelled by local PV inhibition?

The residual-stream view (DESIGN §1, P3) says each station *edits* the stream: L5 receives the
station's input directly (the shortcut) and the station's own computation (L4, L2/3 → L5 PV
cells) removes part of it. Two signatures are measured on the static-grating set of P1:

* **charge** (intact network): the pathway-resolved synaptic charge of sampled L5 E cells per
  stimulus epoch (``/currents``; pathways ``ff`` = shortcut, ``l4``, ``l23``, ``l5`` local
  excitation, ``pv`` inhibition, ``bg`` background). If inhibition cancels the shortcut, the PV
  charge a cell receives must follow the shortcut charge *of that cell* across stimuli
  (tuned cancellation), more than chance pairings of the same numbers do.
* **silencing** (as Pluta et al. 2015 for L4 and 2019 for L2/3 in mouse barrel cortex):
  hyperpolarise ``l4_exc`` (or ``l23_exc``) of every station. Where L4/L2/3 drive inhibition
  onto L5, some L5 cells fire *more*. A hierarchical network (no shortcut) cannot show this
  for L4: its L5 loses its drive.

Functions
---------
tuned_cancellation_index
    Per cell: Pearson correlation across stimulus conditions of the condition-mean inhibitory
    charge magnitude and the condition-mean feedforward (shortcut) charge.
shuffled_cancellation_index
    The same after permuting the stimulus labels of the inhibition (chance co-tuning).
deletion_ratio, deletion_slope
    |inhibitory| / feedforward charge (pooled), and the per-cell regression slope of
    inhibition on feedforward charge across stimulus conditions (baseline-free).
silencing_effect
    Per-cell change of the evoked rate after silencing and a one-sided paired test of it.
cancellation_metrics, cancellation_verdicts, cancellation_figures
    The experiment's ``metrics``, ``verdicts`` and ``figure_hook``.
SPEC
    The :class:`~circuits.experiments.ExperimentSpec` behind ``ventral-columns experiment cancellation``.

References
----------
Pluta, S. et al. (2015). A direct translaminar inhibitory circuit tunes cortical output.
Nat. Neurosci. 18, 1631–1640. doi:10.1038/nn.4123
Pluta, S. R., Telian, G. I., Naka, A. & Adesnik, H. (2019). Superficial layers suppress the deep
layers to fine-tune cortical coding. J. Neurosci. 39, 2052–2064. doi:10.1523/JNEUROSCI.1459-18.2018
Constantinople, C. M. & Bruno, R. M. (2013). Deep cortical layers are activated directly by
thalamus. Science 340, 1591–1594. doi:10.1126/science.1236425
Wehr, M. & Zador, A. M. (2003). Balanced inhibition underlies tuning and sharpens spike timing
in auditory cortex. Nature 426, 442–446. doi:10.1038/nature02116
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from analysis.errors import ConfigError, SpikeDataError
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
    "ALPHA",
    "CONDITIONS",
    "SPEC",
    "cancellation_figures",
    "cancellation_metrics",
    "cancellation_verdicts",
    "deletion_ratio",
    "deletion_slope",
    "raised_chance_bound",
    "shuffled_cancellation_index",
    "silencing_effect",
    "tuned_cancellation_index",
]

logger = logging.getLogger(__name__)

#: Conditions run for every variant × seed: the intact network and the two silencing experiments.
CONDITIONS = ("intact", "silence_l4", "silence_l23")
#: The context-pair condition (DESIGN §5 P3 "P1 set + context pairs"): each centre grating
#: alone, with an iso- and with a cross-oriented surround (:func:`stimuli.context_protocol`),
#: 2 phases (8 x 2 x 3 conditions x 3 repeats: 72 s of biological time).
CONTEXT = "context"
CONTEXT_STIMULUS = {"protocol": "context", "phases": 2}
#: Cells whose receptive-field centre lies this far inside the centre disc's edge count as
#: centred (deg): their classical RF sees the centre, the surround only around it.
CONTEXT_MARGIN_DEG = 0.1
#: Population silenced by each silencing condition (every station of the run).
SILENCED = {"silence_l4": "l4_exc", "silence_l23": "l23_exc"}
#: One-sided significance level of the per-cell "raised by silencing" test; under no effect at
#: most this fraction of cells is called raised (the false-positive rate).
ALPHA = 0.05
#: Permutations of the inhibition's stimulus labels in the shuffled control.
N_SHUFFLES = 20
#: Seed of those permutations (fixed: the control must not change between analyses of one run).
SHUFFLE_SEED = 0
#: Fewer valid sampled cells than this make a station's charge index undefined (NaN).
MIN_CELLS = 3
#: Pathways of the L5 charge table (``/currents``), in the order of the figure.
PATHWAYS = ("ff", "l4", "l23", "l5", "bg", "pv")
_PICO = 1e12


# --------------------------------------------------------------------------------------
# pure statistics
# --------------------------------------------------------------------------------------
def _condition_means(values: np.ndarray, labels: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(n_levels, n_cells) means of ``values`` (n_epochs, n_cells) over the epochs of each level."""
    index = np.searchsorted(levels, labels)
    sums = np.zeros((levels.size, values.shape[1]))
    np.add.at(sums, index, values)
    return sums / np.bincount(index, minlength=levels.size)[:, None]


def _columnwise_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column pair; NaN where either column is constant."""
    dx, dy = x - x.mean(axis=0), y - y.mean(axis=0)
    sx, sy = np.sqrt((dx**2).sum(axis=0)), np.sqrt((dy**2).sum(axis=0))
    scale = np.maximum(np.abs(x).max(axis=0, initial=0.0), np.abs(y).max(axis=0, initial=0.0))
    # a column constant up to rounding (e.g. a shortcut of zero weight) has no tuning
    valid = (sx > 1e-9 * scale * np.sqrt(x.shape[0])) & (sy > 1e-9 * scale * np.sqrt(y.shape[0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (dx * dy).sum(axis=0) / (sx * sy)
    return np.where(valid, np.clip(r, -1.0, 1.0), np.nan)


def _charge_inputs(excitation: ArrayLike, inhibition: ArrayLike, conditions: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    exc = np.asarray(excitation, dtype=np.float64)
    inh = np.asarray(inhibition, dtype=np.float64)
    labels = np.asarray(conditions)
    if exc.ndim != 2 or exc.shape != inh.shape:
        raise SpikeDataError(f"excitation and inhibition must be (n_epochs, n_cells) arrays of one shape, got "
                             f"{exc.shape} and {inh.shape}")
    if labels.shape != (exc.shape[0],):
        raise SpikeDataError(f"conditions must have one label per epoch ({exc.shape[0]}), got shape {labels.shape}")
    if not (np.all(np.isfinite(exc)) and np.all(np.isfinite(inh))):
        raise SpikeDataError("excitation and inhibition must be finite")
    levels = np.unique(labels)
    if levels.size < 3:
        raise SpikeDataError(f"conditions: need at least 3 stimulus conditions for a correlation, got {levels.size}")
    return exc, inh, labels, levels


def tuned_cancellation_index(excitation: ArrayLike, inhibition: ArrayLike, conditions: ArrayLike) -> np.ndarray:
    """Per cell: how closely the inhibitory charge follows the feedforward charge across stimuli.

    Parameters
    ----------
    excitation : array_like, shape (n_epochs, n_cells)
        Feedforward (shortcut) charge per stimulus epoch and cell, C (excitatory: ≥ 0).
    inhibition : array_like, shape (n_epochs, n_cells)
        Inhibitory (PV) charge per epoch and cell, C (signed: ≤ 0); its magnitude is used.
    conditions : array_like, shape (n_epochs,)
        Stimulus condition of each epoch (e.g. the orientation × phase index); ≥ 3 distinct.

    Returns
    -------
    numpy.ndarray of float64, shape (n_cells,)
        Pearson correlation, across stimulus conditions, of the condition-mean |inhibitory|
        charge and the condition-mean feedforward charge of the same cell; in [−1, 1], NaN
        for a cell whose feedforward or inhibitory charge does not vary with the stimulus
        (e.g. a shortcut of weight 0).

    Raises
    ------
    SpikeDataError
        Mismatched shapes, non-finite charges, or fewer than 3 conditions.

    Notes
    -----
    +1 means the inhibition a cell receives rises and falls with its feedforward input as the
    stimulus changes: co-tuned ("balanced") inhibition (Wehr & Zador 2003), the signature of
    a cancellation of the input's stimulus-dependent part; 0 means untuned inhibition.

    Examples
    --------
    >>> exc = np.array([[1.0], [2.0], [3.0], [1.0], [2.0], [3.0]])
    >>> inh = -0.5 * exc
    >>> tuned_cancellation_index(exc, inh, [0, 1, 2, 0, 1, 2]).round(6).tolist()
    [1.0]
    """
    exc, inh, labels, levels = _charge_inputs(excitation, inhibition, conditions)
    return _columnwise_correlation(_condition_means(exc, labels, levels), _condition_means(-inh, labels, levels))


def shuffled_cancellation_index(
    excitation: ArrayLike,
    inhibition: ArrayLike,
    conditions: ArrayLike,
    n_shuffles: int = N_SHUFFLES,
    seed: int = SHUFFLE_SEED,
) -> np.ndarray:
    """The tuned-cancellation index with the stimulus labels of the inhibition permuted.

    Parameters
    ----------
    excitation, inhibition, conditions
        As in :func:`tuned_cancellation_index`.
    n_shuffles : int
        Permutations averaged (≥ 1).
    seed : int
        Seed of the permutations (one generator for this purpose only).

    Returns
    -------
    numpy.ndarray of float64, shape (n_cells,)
        Mean over permutations of the per-cell index; each permutation reassigns the epochs'
        condition labels of the inhibition (the same permutation for every cell, so shared
        trial-to-trial fluctuations survive), while the feedforward tuning keeps the true labels.

    Raises
    ------
    SpikeDataError
        As :func:`tuned_cancellation_index`.
    ConfigError
        ``n_shuffles`` < 1.

    Notes
    -----
    The chance level of the index for this number of conditions and repeats: near 0 in
    expectation, but with finite repeats the condition means of the inhibition keep trial noise.

    Examples
    --------
    >>> exc = np.tile([[1.0], [2.0], [3.0], [4.0]], (5, 1))
    >>> inh = -exc
    >>> labels = np.tile([0, 1, 2, 3], 5)
    >>> bool(abs(shuffled_cancellation_index(exc, inh, labels)[0]) < 0.5)
    True
    """
    exc, inh, labels, levels = _charge_inputs(excitation, inhibition, conditions)
    if int(n_shuffles) != n_shuffles or n_shuffles < 1:
        raise ConfigError(f"n_shuffles must be a positive integer, got {n_shuffles}")
    rng = np.random.default_rng(seed)
    tuning_exc = _condition_means(exc, labels, levels)
    total = np.zeros(exc.shape[1])
    count = np.zeros(exc.shape[1])
    for _ in range(int(n_shuffles)):
        r = _columnwise_correlation(tuning_exc, _condition_means(-inh, rng.permutation(labels), levels))
        ok = np.isfinite(r)
        total[ok] += r[ok]
        count[ok] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def deletion_ratio(excitation: ArrayLike, inhibition: ArrayLike) -> float:
    """|Inhibitory| over feedforward charge, pooled over cells and epochs.

    Parameters
    ----------
    excitation : array_like
        Feedforward (shortcut) charge, C (≥ 0).
    inhibition : array_like
        Inhibitory charge of the same cells and epochs, C (≤ 0).

    Returns
    -------
    float
        ``sum |inhibition| / sum excitation``; NaN when there is no feedforward charge (the
        hierarchical variant). Above 1: the PV charge exceeds the shortcut charge (it also
        balances local and background excitation).

    Examples
    --------
    >>> deletion_ratio([2.0, 2.0], [-1.0, -2.0])
    0.75
    """
    exc = np.asarray(excitation, dtype=np.float64)
    inh = np.asarray(inhibition, dtype=np.float64)
    if exc.shape != inh.shape:
        raise SpikeDataError(f"excitation and inhibition must have one shape, got {exc.shape} and {inh.shape}")
    total = float(exc.sum())
    return float(np.abs(inh).sum() / total) if total > 0 else math.nan


def deletion_slope(excitation: ArrayLike, inhibition: ArrayLike, conditions: ArrayLike) -> np.ndarray:
    """Per cell: extra |inhibitory| charge per extra feedforward charge across stimuli.

    Parameters
    ----------
    excitation, inhibition, conditions
        As in :func:`tuned_cancellation_index`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_cells,)
        Least-squares slope of the condition-mean |inhibitory| charge on the condition-mean
        feedforward charge (dimensionless; NaN where the feedforward charge is untuned). Unlike
        :func:`deletion_ratio` it ignores the stimulus-independent (background) parts: 0.3
        means 30 % of each stimulus-driven increment of shortcut charge is matched by inhibition.

    Examples
    --------
    >>> exc = np.array([[1.0], [2.0], [3.0]])
    >>> deletion_slope(exc, -(0.3 * exc + 5.0), [0, 1, 2]).round(6).tolist()
    [0.3]
    """
    exc, inh, labels, levels = _charge_inputs(excitation, inhibition, conditions)
    x, y = _condition_means(exc, labels, levels), _condition_means(-inh, labels, levels)
    dx, dy = x - x.mean(axis=0), y - y.mean(axis=0)
    var = (dx**2).sum(axis=0)
    scale = np.abs(x).max(axis=0, initial=0.0)
    valid = np.sqrt(var) > 1e-9 * scale * np.sqrt(x.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, (dx * dy).sum(axis=0) / var, np.nan)


def silencing_effect(intact: ArrayLike, silenced: ArrayLike, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell change of the response after silencing, and which cells rise or fall significantly.

    Parameters
    ----------
    intact, silenced : array_like, shape (n_epochs, n_cells)
        Evoked rate (spikes/s) per stimulus epoch and cell in the intact and the silenced run;
        epoch k shows the same stimulus in both (same protocol and seed), so epochs are paired.
    alpha : float
        One-sided significance level, in (0, 1).

    Returns
    -------
    change : numpy.ndarray of float64, shape (n_cells,)
        Mean silenced minus mean intact rate, spikes/s.
    raised, lowered : numpy.ndarray of bool, shape (n_cells,)
        One-sided Wilcoxon signed-rank test of the paired differences (epochs with no change
        dropped) at level ``alpha``: silenced > intact, resp. silenced < intact. A cell that
        never changes is neither.

    Raises
    ------
    SpikeDataError
        Shapes differ or are not 2-D.

    Examples
    --------
    >>> intact = np.zeros((12, 2))
    >>> silenced = np.column_stack([np.arange(1.0, 13.0), np.zeros(12)])
    >>> change, raised, lowered = silencing_effect(intact, silenced)
    >>> change.tolist(), raised.tolist(), lowered.tolist()
    ([6.5, 0.0], [True, False], [False, False])
    """
    a = np.asarray(intact, dtype=np.float64)
    b = np.asarray(silenced, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise SpikeDataError(f"intact and silenced must be (n_epochs, n_cells) arrays of one shape, got {a.shape} and {b.shape}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    diff = b - a
    change = diff.mean(axis=0)
    raised = np.zeros(diff.shape[1], dtype=bool)
    lowered = np.zeros(diff.shape[1], dtype=bool)
    for cell in range(diff.shape[1]):
        d = diff[:, cell]
        if np.count_nonzero(d) == 0:
            continue
        p_up = stats.wilcoxon(d, alternative="greater", zero_method="wilcox").pvalue
        p_down = stats.wilcoxon(d, alternative="less", zero_method="wilcox").pvalue
        raised[cell] = p_up < alpha
        lowered[cell] = p_down < alpha
    return change, raised, lowered


def raised_chance_bound(n_cells: int, alpha: float = ALPHA, confidence: float = 0.95) -> float:
    """Largest fraction of cells called "raised" by chance alone (no effect), at ``confidence``.

    Parameters
    ----------
    n_cells : int
        Cells tested (≥ 1).
    alpha : float
        Per-cell false-positive rate of :func:`silencing_effect`.
    confidence : float
        One-sided confidence of the bound.

    Returns
    -------
    float
        ``k / n_cells`` with k the ``confidence`` quantile of Binomial(n_cells, alpha): more
        raised cells than this are unlikely (< 1 − confidence) if silencing raised none.

    Examples
    --------
    >>> raised_chance_bound(100)
    0.09
    """
    if int(n_cells) != n_cells or n_cells < 1:
        raise ConfigError(f"n_cells must be a positive integer, got {n_cells}")
    return float(stats.binom.ppf(confidence, int(n_cells), alpha) / n_cells)


# --------------------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------------------
def _conditions(stations: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Intact, and the hyperpolarisation of ``l4_exc`` / ``l23_exc`` of every station.

    One silencing window per population (``columns.column.LaminarColumn.silence``): the window
    covers the whole run (stimulus epochs and blanks), like a pharmacological or sustained
    optogenetic silencing. The silence guard is off there: a population falling silent
    downstream of a silenced layer (hierarchical L5) is a result, not a failure.
    """
    out: dict[str, dict[str, Any]] = {"intact": {}}
    for name, population in SILENCED.items():
        out[name] = {
            "run": {"silence_guard": False},
            "manipulation": [{"kind": "silence", "stations": list(stations), "populations": [population],
                              "start": "0 s", "stop": "inf s"}],
        }
    out[CONTEXT] = {"stimulus": dict(CONTEXT_STIMULUS)}
    return out


def _centred_cells(record: Any, population: str, radius_deg: float) -> np.ndarray:
    """Boolean mask of the cells whose RF centre (node labels ``rf_x``/``rf_y``) lies in the disc."""
    nodes = record.nodes.get(population, {})
    if "rf_x" not in nodes or "rf_y" not in nodes:
        return np.ones(record[population].n_nodes, dtype=bool)
    return np.hypot(np.asarray(nodes["rf_x"], float), np.asarray(nodes["rf_y"], float)) <= radius_deg


def context_metrics(record: Any) -> dict[tuple[str, str, str], float]:
    """Surround (context) modulation per station × layer (E cells) from a context-pair run.

    Cells are those whose RF centre lies :data:`CONTEXT_MARGIN_DEG` inside the centre disc
    and that fire ≥ 1 spike/s to the centre alone (mean over its conditions).

    * ``context_rate_center``, ``context_rate_iso``, ``context_rate_cross``: mean evoked
      rate of those cells per context, spikes/s;
    * ``surround_suppression_iso``, ``surround_suppression_cross``: median over the cells of
      1 − R_context / R_centre, rates averaged over orientations and phases (Cavanaugh et al.
      2002: > 0 suppression, < 0 facilitation);
    * ``context_cells``: how many cells entered;
    * layer ``l5``, from the sampled cells' charges (all sampled cells):
      ``context_charge_ff_iso_change``, ``context_charge_pv_iso_change``: mean shortcut and
      PV charge with the iso surround minus with the centre alone, pC. An iso context that
      suppresses L5 through a larger PV charge while the shortcut charge stays is an *edit*
      of the shortcut input by the station's computation.
    """
    trials = record.trials
    labels = np.asarray(trials["label"]).astype(str)
    centre_diameter = float(np.nanmax(np.asarray(trials["center_diameter_deg"], float)))
    out: dict[tuple[str, str, str], float] = {}
    contexts = {name: labels == f"context_{name}" for name in ("center", "iso", "cross")}
    if not contexts["center"].any():
        raise ConfigError("context metrics need the 'context' stimulus protocol (no context_center trials)")
    for population, station, layer in _population_layers(record):
        rates, _ = _response_rates(record, population)
        mask = _centred_cells(record, population, centre_diameter / 2 - CONTEXT_MARGIN_DEG)
        mean = {name: rates[sel][:, mask].mean(axis=0) for name, sel in contexts.items() if sel.any()}
        responsive = mean["center"] >= 1.0
        out[(station, layer, "context_cells")] = float(responsive.sum())
        for name, values in mean.items():
            out[(station, layer, f"context_rate_{name}")] = float(values[responsive].mean()) if responsive.any() else math.nan
        for name in ("iso", "cross"):
            if name in mean:
                index = 1 - mean[name][responsive] / mean["center"][responsive]
                out[(station, layer, f"surround_suppression_{name}")] = (
                    float(np.median(index)) if index.size >= MIN_CELLS else math.nan)
        table = (record.currents or {}).get(f"{station}_l5_exc") if layer == "l5" else None
        if table and contexts["iso"].any():
            for pathway in ("ff", "pv"):
                if pathway in table:
                    charge = np.asarray(table[pathway], float)
                    change = charge[contexts["iso"]].mean() - charge[contexts["center"]].mean()
                    out[(station, "l5", f"context_charge_{pathway}_iso_change")] = float(change * _PICO)
    return out


def _response_rates(record: Any, population: str) -> tuple[np.ndarray, float]:
    trials = record.trials
    duration = float(np.min(np.asarray(trials["stop"], float) - np.asarray(trials["start"], float)))
    window = duration - RESPONSE_DELAY
    if window <= 0:
        raise ConfigError(f"stimulus duration {duration} s is shorter than the response delay {RESPONSE_DELAY} s")
    return _window_counts(record, population, window) / window, window


def _charge_metrics(record: Any, station: str) -> dict[str, float]:
    table = (record.currents or {}).get(f"{station}_l5_exc")
    if not table:
        return {}
    labels = np.asarray(record.trials["condition"])
    out = {f"charge_{p}": float(np.mean(table[p]) * _PICO) for p in PATHWAYS if p in table}
    if "ff" not in table or "pv" not in table:
        return out
    if np.unique(labels).size < 3:
        logger.warning("%s L5: fewer than 3 stimulus conditions, the cancellation indices are undefined", station)
        return out
    exc, inh = np.asarray(table["ff"], float), np.asarray(table["pv"], float)
    index = tuned_cancellation_index(exc, inh, labels)
    control = shuffled_cancellation_index(exc, inh, labels)
    valid = np.isfinite(index) & np.isfinite(control)
    enough = valid.sum() >= MIN_CELLS
    out["cancellation_index"] = float(np.mean(index[valid])) if enough else math.nan
    out["cancellation_index_shuffled"] = float(np.mean(control[valid])) if enough else math.nan
    out["cancellation_index_excess"] = float(np.mean(index[valid] - control[valid])) if enough else math.nan
    out["deletion_ratio"] = deletion_ratio(exc, inh)
    slope = deletion_slope(exc, inh, labels)
    out["deletion_slope"] = float(np.median(slope[np.isfinite(slope)])) if np.isfinite(slope).sum() >= MIN_CELLS else math.nan
    return out


def cancellation_metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """Metrics of one variant and seed from its runs (condition → record).

    Per station, layer ``l5`` (E cells), from the ``intact`` run:

    * ``charge_<pathway>``: mean charge per sampled cell and stimulus epoch, pC (pathways
      ``ff`` = feedforward/shortcut, ``l4``, ``l23``, ``l5``, ``bg``, ``pv``; PV negative).
    * ``cancellation_index``: mean over sampled cells of :func:`tuned_cancellation_index`
      (stimulus conditions = the protocol's orientation × phase conditions);
      ``cancellation_index_shuffled``: the same cells' :func:`shuffled_cancellation_index`;
      ``cancellation_index_excess``: mean of the per-cell difference (index − control).
    * ``deletion_ratio`` (:func:`deletion_ratio`), ``deletion_slope`` (median :func:`deletion_slope`).

    From the silencing runs (all L5 E cells, response window from :data:`RESPONSE_DELAY` to
    the end of each stimulus): ``rate_change_<cond>`` (mean over cells, spikes/s),
    ``fraction_raised_<cond>`` and ``fraction_lowered_<cond>`` (:func:`silencing_effect`),
    ``raised_chance_bound`` (:func:`raised_chance_bound` for that many cells), and
    ``charge_pv_<cond>`` (pC). For every layer ``l4, l23, l5``: ``rate_<cond>``, the mean
    evoked rate in each condition (the manipulation check: silenced layers near 0).
    From the context-pair run: :func:`context_metrics`.
    """
    if "intact" not in runs:
        raise ConfigError("cancellation metrics need the 'intact' condition")
    intact = runs["intact"]
    out: dict[tuple[str, str, str], float] = {}
    rates: dict[str, dict[tuple[str, str], np.ndarray]] = {}
    for condition in CONDITIONS:
        if condition not in runs:
            continue
        record = runs[condition]
        rates[condition] = {}
        for population, station, layer in _population_layers(record):
            r, _ = _response_rates(record, population)
            rates[condition][(station, layer)] = r
            out[(station, layer, f"rate_{condition}")] = float(r.mean())
    if CONTEXT in runs:
        out.update(context_metrics(runs[CONTEXT]))
    for population, station, layer in _population_layers(intact):
        if layer != "l5":
            continue
        for metric, value in _charge_metrics(intact, station).items():
            out[(station, "l5", metric)] = value
        base = rates["intact"][(station, "l5")]
        out[(station, "l5", "raised_chance_bound")] = raised_chance_bound(base.shape[1])
        for condition in SILENCED:
            if condition not in rates:
                continue
            change, raised, lowered = silencing_effect(base, rates[condition][(station, "l5")])
            out[(station, "l5", f"rate_change_{condition}")] = float(change.mean())
            out[(station, "l5", f"fraction_raised_{condition}")] = float(raised.mean())
            out[(station, "l5", f"fraction_lowered_{condition}")] = float(lowered.mean())
            table = (runs[condition].currents or {}).get(f"{station}_l5_exc")
            if table and "pv" in table:
                out[(station, "l5", f"charge_pv_{condition}")] = float(np.mean(table["pv"]) * _PICO)
    return out


def _record(metrics: dict, variant: str, station: str, metric: str, key: str) -> float:
    try:
        value = metrics[variant][station]["l5"][metric][key]
    except KeyError:
        return math.nan
    return math.nan if value is None else float(value)


def _stations(metrics: dict, variants: Sequence[str]) -> list[str]:
    return [s for s in STATIONS if s != "lgn" and any(s in metrics.get(v, {}) for v in variants)]


def _max_raised(metrics: dict, variant: str, station: str) -> float:
    values = [_mean(metrics, variant, station, "l5", f"fraction_raised_{c}") for c in SILENCED]
    if any(math.isnan(v) for v in values):
        return math.nan
    return max(values)


def _above(value: float) -> bool | None:
    """Strictly above 0 (None when not measured)."""
    return None if value is None or math.isnan(value) else bool(value > 0.0)


def _not_above(value: float) -> bool | None:
    """At most 0 (None when not measured)."""
    return None if value is None or math.isnan(value) else bool(value <= 0.0)


def _raised_excess(metrics: dict, variant: str, station: str) -> float:
    """Larger fraction of L5 cells raised by silencing L4 or L2/3, minus its chance bound."""
    return _max_raised(metrics, variant, station) - _mean(metrics, variant, station, "l5", "raised_chance_bound")


def cancellation_verdicts(metrics: dict, variants: Sequence[str]) -> dict[str, Any]:
    """P3 (DESIGN §5), per station of the run.

    * residual: the cancellation index exceeds its shuffled-inhibition control (lower bound
      of the seed-bootstrap CI of the per-cell excess > 0);
    * residual: silencing L4 or L2/3 raises some L5 cells (the larger of the two fractions
      of significantly raised cells exceeds the binomial chance bound of the 5 % test);
    * hierarchical: it cannot (that fraction stays within the chance bound).

    ``P3_rate_matched`` asks the same of ``hierarchical_rate_matched`` (L5 held at the residual
    rate by a tonic drive): is a rise only a matter of L5 keeping *some* drive?
    A criterion is ``None`` when its variant or condition was not run.
    """
    stations = _stations(metrics, variants) or ["v1"]
    criteria = []
    for station in stations:
        excess = _record(metrics, "residual", station, "cancellation_index_excess", "ci_low")
        criteria.append(_criterion(f"residual {station} L5: cancellation index - shuffled control (CI low)",
                                   excess, 0.0, _above(excess)))
    for station in stations:
        excess = _raised_excess(metrics, "residual", station)
        criteria.append(_criterion(f"residual {station} L5: fraction raised by silencing L4 or L2/3 - chance bound",
                                   excess, 0.0, _above(excess)))
    for station in stations:
        excess = _raised_excess(metrics, "hierarchical", station)
        criteria.append(_criterion(f"hierarchical {station} L5: fraction raised by silencing L4 or L2/3 - chance bound",
                                   excess, 0.0, _not_above(excess)))
    control = []
    for station in stations:
        excess = _raised_excess(metrics, "hierarchical_rate_matched", station)
        control.append(_criterion(f"hierarchical_rate_matched {station} L5: fraction raised by silencing - chance bound",
                                  excess, 0.0, _not_above(excess)))
    return {"P3": _verdict(criteria), "P3_rate_matched": _verdict(control)}


def cancellation_figures(results: dict[str, Any], directory: Path) -> None:
    """``l5_pathway_charges_<station>`` (charge per pathway onto L5 E, mean ± SEM over seeds)
    and the cancellation index / raised fractions along the stream, from ``results.json``."""
    from analysis.plotting import plot_pathway_charges, plot_stream_metric, save_figure

    metrics = results["metrics"]
    labels = {"ff": "shortcut (ff)", "l4": "L4", "l23": "L2/3", "l5": "L5", "bg": "background", "pv": "PV"}
    for station in STATIONS:
        charges: dict[str, dict[str, np.ndarray]] = {}
        for variant in results["variants"]:
            layer = metrics.get(variant, {}).get(station, {}).get("l5", {})
            per_pathway = {labels[p]: np.asarray(layer[f"charge_{p}"]["per_seed"], float) / _PICO
                           for p in PATHWAYS if f"charge_{p}" in layer}
            if per_pathway:
                charges[variant] = per_pathway
        if charges:
            fig = plot_pathway_charges(charges, title=f"{station} L5 E: charge per stimulus epoch (intact)")
            save_figure(fig, directory / f"l5_pathway_charges_{station}", overwrite=True)
    panels = {
        "cancellation_index": ("tuned-cancellation index (r)", {
            "": "cancellation_index", " (shuffled inhibition)": "cancellation_index_shuffled"}),
        "fraction_raised": ("fraction of L5 E cells raised", {
            ", L4 silenced": "fraction_raised_silence_l4", ", L2/3 silenced": "fraction_raised_silence_l23"}),
    }
    for stem, (ylabel, series) in panels.items():
        lines = _pseudo_variants(metrics, results["variants"], series)
        if stem == "fraction_raised" and lines:
            # the chance bound depends on the number of cells only: one line for all variants
            first = next(v for v in results["variants"] if v in metrics)
            lines.update(_pseudo_variants(metrics, [first], {"": "raised_chance_bound"}, label="chance bound"))
        if lines:
            fig = plot_stream_metric(lines, "value", ylabel=ylabel, layers=("l5",), stations=STATIONS[1:])
            save_figure(fig, directory / stem, overwrite=True)


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _pseudo_variants(metrics: dict, variants: Sequence[str], series: dict[str, str],
                     label: str | None = None) -> dict[str, Any]:
    """Several metrics as lines of :func:`~analysis.plotting.plot_stream_metric` (one per variant × metric)."""
    out: dict[str, Any] = {}
    for variant in variants:
        for suffix, metric in series.items():
            per_station = {station: {"l5": {"value": layers["l5"][metric]}}
                           for station, layers in metrics.get(variant, {}).items()
                           if _finite(layers.get("l5", {}).get(metric, {}).get("mean"))}
            if per_station:
                out[label or f"{variant}{suffix}"] = per_station
    return out


SPEC = ExperimentSpec(
    name="cancellation",
    question=("P3: is part of the feedforward/shortcut input to L5 cancelled by inhibition the station "
              "computes, so that silencing L4 or L2/3 raises some L5 responses?"),
    overrides={
        # the static-grating set of P1 (circuits.experiments edge-tuning): 8 x 4 x 3 epochs
        "stimulus": {"protocol": "orientation_tuning", "orientations": 8, "phases": 4, "repeats": 3,
                     "temporal_frequency": "0 Hz", "duration": "0.3 s", "blank": "0.2 s"},
    },
    variants=("residual", "hierarchical", "hierarchical_rate_matched"),
    metrics=cancellation_metrics,
    verdicts=cancellation_verdicts,
    figures=(),
    conditions=_conditions,
    figure_hook=cancellation_figures,
)
