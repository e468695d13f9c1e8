"""Experiments: every variant × seed as one run, then metrics with CIs, verdicts and figures.

Classes and functions
---------------------
ExperimentSpec
    What an experiment runs (configuration overrides, default variants) and measures.
EXPERIMENT_SPECS
    The experiments implemented so far, by CLI name.
run_experiment
    Run (or resume) all runs of an experiment in an output directory, then analyse them.
analyse_experiment
    Metrics → ``results.json`` (DESIGN §5 / issue #7 shape), figures and ``report.md``.
edge_tuning_metrics
    OSI (1 − circular variance), its shuffled control, and cross-validated orientation
    decoding from matched numbers of cells, per station × layer.
lgn_probe_metrics, edge_identity_metrics
    The ridge probe of the LGN input and the edge-identity decoding of ``edge-tuning``.

Layout of an experiment directory::

    OUT/runs/<variant>[_<condition>]_seed<k>.h5   one SONATA-compatible file per run (resumable)
    OUT/results.json                  metrics per variant/station/layer with bootstrap CIs, verdicts
    OUT/figures/*.png|pdf             OSI and decoding along the stream, rasters
    OUT/report.md                     the tables in Markdown

Each run executes in its own Python process: crashes stay contained, memory is returned,
and ``cpp_standalone`` builds of one structure are recompiled incrementally. With
``workers`` > 1, that many runs (and later that many variant × seed analyses) go at a time:
on the 2-core reference machine two single-threaded runs use both cores, which one run on
two OpenMP threads does not (docs/stream.md, "Threads").
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from analysis.binning import bin_spikes
from analysis.errors import ConfigError, FileFormatError, OutputExistsError, VentralColumnsError, suggest
from analysis.hdf5_io import file_info, read_config, read_spike_record
from analysis.outputs import remove_stale_temporaries, write_json
from analysis.population import decode_accuracy, probe_r2
from analysis.statistics import build_metrics
from analysis.tuning import orientation_selectivity_index, shuffled_osi
from circuits.config import resolve_config
from circuits.registry import EXPERIMENT_MODULES

__all__ = [
    "ExperimentSpec",
    "EXPERIMENT_SPECS",
    "run_experiment",
    "analyse_experiment",
    "write_report",
    "edge_tuning_metrics",
    "edge_identity_metrics",
    "lgn_probe_metrics",
    "LAYERS",
    "STATIONS",
    "EXPERIMENT_MODULES",
    "get_spec",
    "run_filename",
    "RunRecords",
    "metric_names",
]

logger = logging.getLogger(__name__)

STATIONS = ("lgn", "v1", "v2", "v4", "it")
LAYERS = ("l4", "l23", "l5")
#: Cells per decoder: matched across stations and layers (IT L5 has about 90 cells at scale 1).
DECODER_CELLS = 40
#: Response window after stimulus onset, s (skips the LGN latency of about 40 ms).
RESPONSE_DELAY = 0.05


@dataclass(frozen=True)
class ExperimentSpec:
    """One experiment.

    Parameters
    ----------
    name : str
        CLI name.
    question : str
        What it answers (for the report).
    overrides : dict
        Configuration tables merged over the defaults (protocol, durations...).
    variants : tuple of str
        Default topology variants.
    metrics : callable
        ``metrics(record) -> {(station, layer, metric): value}`` for one run.
    verdicts : callable
        ``verdicts(results_metrics, variants) -> {prediction: verdict}``.
    figures : tuple of str
        Metrics drawn along the stream per variant (``figures/<metric>.png|pdf``).
    conditions : callable, optional
        ``conditions(stations) -> {condition: overrides}``: manipulations or stimuli run
        for every variant × seed (e.g. lesions); ``metrics`` then receives a
        :class:`RunRecords` (condition → record) instead of one record.
    variant_conditions : callable, optional
        ``variant_conditions(variant, condition) -> bool``: which conditions a variant runs.
    figure_hook : callable, optional
        ``figure_hook(results, figures_dir)``: further figures from ``results.json`` alone
        (so that ``report DIR`` can rebuild them).
    check : callable, optional
        ``check(config)`` on every resolved run configuration before anything runs; raises
        :class:`~analysis.errors.ConfigError` for a protocol the metrics cannot use.
    """

    name: str
    question: str
    overrides: dict[str, Any]
    variants: tuple[str, ...]
    metrics: Callable[[Any], dict[tuple[str, str, str], float]]
    verdicts: Callable[[dict, Sequence[str]], dict[str, Any]]
    figures: tuple[str, ...] = field(default=("osi", "decoding_accuracy"))
    conditions: Callable[[Sequence[str]], dict[str, dict[str, Any]]] | None = None
    variant_conditions: Callable[[str, str], bool] | None = None
    figure_hook: Callable[[dict[str, Any], Path], None] | None = None
    check: Callable[[dict[str, Any]], None] | None = None

    def condition_overrides(self, stations: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Condition name → configuration overrides (``{"": {}}`` for a one-condition experiment).

        Conditions are manipulations or stimuli run for every variant × seed on top of the
        experiment's overrides (e.g. ``lesion_v2``); ``stations`` are the run's stations.
        """
        return {"": {}} if self.conditions is None else dict(self.conditions(tuple(stations)))

    def runs_condition(self, variant: str, condition: str) -> bool:
        """Whether ``condition`` is run for ``variant`` (default: every condition)."""
        return True if self.variant_conditions is None else bool(self.variant_conditions(variant, condition))


def run_filename(variant: str, condition: str, seed: int) -> str:
    """``<variant>[_<condition>]_seed<k>.h5``: the file of one run in ``OUT/runs``."""
    return f"{variant}_{condition}_seed{seed}.h5" if condition else f"{variant}_seed{seed}.h5"


class RunRecords(Mapping):
    """Condition → :class:`~analysis.spiketrains.SpikeRecord` of one variant and seed, read lazily.

    What the ``metrics`` function of a multi-condition experiment receives; each file is
    read on first access and kept.
    """

    def __init__(self, paths: dict[str, Path]):
        self._paths = dict(paths)
        self._cache: dict[str, Any] = {}

    def __getitem__(self, condition: str) -> Any:
        if condition not in self._paths:
            raise KeyError(condition)
        if condition not in self._cache:
            self._cache[condition] = read_spike_record(self._paths[condition])
        return self._cache[condition]

    def __iter__(self):
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def _population_layers(record: Any) -> list[tuple[str, str, str]]:
    """(population, station, layer) of the E populations (and the LGN as layer ``all``)."""
    out = []
    for name in record.populations:
        if name.startswith("lgn"):
            continue
        station, layer, cell = name.split("_")
        if cell == "exc" and layer in LAYERS:
            out.append((name, station, layer))
    return out


def _window_counts(record: Any, population: str, window: float) -> np.ndarray:
    trials = record.trials
    shifted = {"start": np.asarray(trials["start"], float) + RESPONSE_DELAY, "stop": np.asarray(trials["stop"], float)}
    counts = bin_spikes(record[population], shifted, bin_size=window, t_post=window)
    return counts[:, :, 0].astype(float)


def _lgn_counts(record: Any, window: float) -> np.ndarray:
    parts = [_window_counts(record, pop, window) for pop in ("lgn_on", "lgn_off") if pop in record.spikes]
    return np.concatenate(parts, axis=1)


def edge_tuning_metrics(record: Any) -> dict[tuple[str, str, str], float]:
    """Per station × layer (E cells): OSI, its shuffled control, decoding accuracy, rates.

    * ``osi``: median over responsive cells (mean evoked rate ≥ 1 spike/s at the best
      orientation) of 1 − circular variance of the tuning curve averaged over phases and
      repeats (Ringach et al. 2002).
    * ``osi_shuffled``: the same with orientation labels permuted across trials (the
      untuned control; finite repeats give untuned cells an OSI above 0).
    * ``decoding_accuracy``: cross-validated multinomial logistic regression of
      orientation from the spike counts of :data:`DECODER_CELLS` randomly drawn cells
      (10 draws), chance 1/n_orientations; ``decoding_chance`` is that chance level. The
      folds (5, or the repeats of each orientation × phase when fewer) are stratified on
      orientation × phase: stratified on orientation alone, a population whose response
      depends on phase decodes below chance (see :func:`analysis.population.decode_accuracy`).
    * ``rate_evoked``: mean rate in the response window, spikes/s.
    """
    trials = record.trials
    ori = np.asarray(trials["orientation_deg"], float)
    window = _response_window(trials)
    oris = np.unique(ori)
    # gratings of one orientation at several phases are different conditions for the decoder
    phase = np.nan_to_num(np.asarray(trials["phase_deg"], float)) if "phase_deg" in trials else np.zeros_like(ori)
    out: dict[tuple[str, str, str], float] = {}
    groups = [("lgn", "lgn", "all")] + _population_layers(record)
    for population, station, layer in groups:
        counts = _lgn_counts(record, window) if station == "lgn" else _window_counts(record, population, window)
        rates = counts / window
        tuning = np.stack([rates[ori == o].mean(axis=0) for o in oris])
        responsive = tuning.max(axis=0) >= 1.0
        out[(station, layer, "rate_evoked")] = float(rates.mean())
        out[(station, layer, "fraction_responsive")] = float(responsive.mean())
        if responsive.sum() >= 3 and oris.size >= 3:
            osi = orientation_selectivity_index(tuning[:, responsive], oris)
            out[(station, layer, "osi")] = float(np.median(osi))
            control = shuffled_osi(rates[:, responsive], ori, n_shuffles=5, seed=0)
            out[(station, layer, "osi_shuffled")] = float(np.median(control))
        else:
            out[(station, layer, "osi")] = math.nan
            out[(station, layer, "osi_shuffled")] = math.nan
        n_cells = min(DECODER_CELLS, counts.shape[1])
        per_stratum = _condition_ids(ori, phase)[1]
        if n_cells >= 2 and per_stratum >= 2:
            result = decode_accuracy(counts, np.searchsorted(oris, ori), n_cells=n_cells, n_subsamples=10,
                                     n_folds=int(min(5, per_stratum)), seed=0, conditions=phase)
            out[(station, layer, "decoding_accuracy")] = float(result.accuracy)
            out[(station, layer, "decoding_chance")] = float(result.chance)
    return out


def _response_window(trials: Mapping[str, Any]) -> float:
    duration = float(np.min(np.asarray(trials["stop"], float) - np.asarray(trials["start"], float)))
    if duration - RESPONSE_DELAY <= 0:
        raise ConfigError(f"stimulus duration {duration} s is shorter than the response delay {RESPONSE_DELAY} s")
    return duration - RESPONSE_DELAY


def _condition_ids(*columns: np.ndarray) -> tuple[np.ndarray, int]:
    """One integer per distinct combination of the columns, and the repeats of the rarest one."""
    _, ids, counts = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True, return_counts=True)
    return ids.ravel(), int(counts.min())


def lgn_probe_metrics(record: Any) -> dict[tuple[str, str, str], float]:
    """``probe_r2_lgn`` per cortical station × layer (E cells): how much of the LGN input survives.

    Cross-validated ridge probe (:func:`analysis.population.probe_r2`) reconstructing the
    trial-by-trial response of every LGN cell (ON and OFF, counts in the response window)
    from :data:`DECODER_CELLS` randomly drawn cells (10 draws), the folds stratified on the
    stimulus condition (orientation × phase); R² is variance weighted over the LGN cells
    (DESIGN §5, P1: "ridge probe R² reconstructing LGN input"). Near 0 when the station
    keeps nothing of its input that a linear read-out can use.
    """
    trials = record.trials
    window = _response_window(trials)
    ori = np.asarray(trials["orientation_deg"], float)
    phase = np.nan_to_num(np.asarray(trials["phase_deg"], float)) if "phase_deg" in trials else np.zeros_like(ori)
    condition, repeats = _condition_ids(ori, phase)
    lgn = _lgn_counts(record, window)
    out: dict[tuple[str, str, str], float] = {}
    if repeats < 2:
        return out
    for population, station, layer in _population_layers(record):
        counts = _window_counts(record, population, window)
        n_cells = min(DECODER_CELLS, counts.shape[1])
        if n_cells >= 2:
            result = probe_r2(counts, lgn, n_cells=n_cells, n_subsamples=10, n_folds=min(5, repeats), seed=0,
                              conditions=condition)
            out[(station, layer, "probe_r2_lgn")] = float(result.r2)
    return out


def edge_identity_metrics(record: Any) -> dict[tuple[str, str, str], float]:
    """``edge_decoding_accuracy`` and ``edge_decoding_chance`` per station × layer, from an edge-set run.

    Edge identity is orientation × polarity (16 classes for 8 orientations); the position of
    the edge is the nuisance condition (folds stratified on identity × position, as in
    :func:`edge_tuning_metrics`): a position-invariant read-out of the edge, from
    :data:`DECODER_CELLS` randomly drawn cells (10 draws), chance 1/n_classes.
    """
    trials = record.trials
    window = _response_window(trials)
    identity = np.stack([np.asarray(trials["orientation_deg"], float), np.asarray(trials["polarity"], float)], axis=1)
    labels = np.unique(identity, axis=0, return_inverse=True)[1].ravel()
    position = np.nan_to_num(np.asarray(trials["position_deg"], float))
    per_stratum = _condition_ids(labels.astype(float), position)[1]
    out: dict[tuple[str, str, str], float] = {}
    for population, station, layer in [("lgn", "lgn", "all")] + _population_layers(record):
        counts = _lgn_counts(record, window) if station == "lgn" else _window_counts(record, population, window)
        n_cells = min(DECODER_CELLS, counts.shape[1])
        if n_cells >= 2 and per_stratum >= 2:
            result = decode_accuracy(counts, labels, n_cells=n_cells, n_subsamples=10, n_folds=min(5, per_stratum),
                                     seed=0, conditions=position)
            out[(station, layer, "edge_decoding_accuracy")] = float(result.accuracy)
            out[(station, layer, "edge_decoding_chance")] = float(result.chance)
    return out


#: Conditions of ``edge-tuning``: static gratings (orientation; OSI, decoding, the LGN probe)
#: and the edge set of DESIGN §5 (edge identity), on the same network of each variant × seed.
EDGE_TUNING_CONDITIONS: dict[str, dict[str, Any]] = {
    "gratings": {},
    "edges": {"stimulus": {"protocol": "edges"}},
}


def edge_tuning_conditions(stations: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The conditions of ``edge-tuning`` (:data:`EDGE_TUNING_CONDITIONS`), whatever the stations."""
    return dict(EDGE_TUNING_CONDITIONS)


def edge_tuning_run_metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """The metrics of one variant × seed of ``edge-tuning``: those of :func:`edge_tuning_metrics`
    and :func:`lgn_probe_metrics` from the gratings, :func:`edge_identity_metrics` from the edges
    (each only when its condition was run)."""
    out: dict[tuple[str, str, str], float] = {}
    if "gratings" in runs:
        out.update(edge_tuning_metrics(runs["gratings"]))
        out.update(lgn_probe_metrics(runs["gratings"]))
    if "edges" in runs:
        out.update(edge_identity_metrics(runs["edges"]))
    return out


def _mean(metrics: dict, variant: str, station: str, layer: str, metric: str) -> float:
    try:
        return float(metrics[variant][station][layer][metric]["mean"])
    except KeyError:
        return math.nan


def _criterion(name: str, value: float, threshold: float, passed: bool | None) -> dict[str, Any]:
    return {"name": name, "value": None if value is None or math.isnan(value) else value,
            "threshold": threshold, "passed": passed}


def _verdict(criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine criteria that must all pass (three-valued, Kleene's strong conjunction).

    One failed criterion refutes the prediction whatever the untested ones would show
    (``supported: false``); otherwise an untested criterion (``passed: null``) leaves it
    untested (``null``); all passed gives ``true``.
    """
    passed = [c["passed"] for c in criteria]
    if any(p is False for p in passed):
        supported: bool | None = False
    elif any(p is None for p in passed):
        supported = None
    else:
        supported = all(passed)
    return {"supported": supported, "criteria": criteria}


def _check(value: float, threshold: float, above: bool = True) -> bool | None:
    if value is None or math.isnan(value):
        return None
    return bool(value >= threshold) if above else bool(value < threshold)


def _p1_criteria(metrics: dict, variants: Sequence[str], metric: str) -> list[dict[str, Any]]:
    """DESIGN §5 P1 on one decoding metric: residual L5 at the last station ≥ 0.8 × V1 L5;
    residual − rate-matched hierarchical ≥ 15 points there; shuffled skip recovers < 1/3 of that."""
    last = next((s for s in reversed(STATIONS) if any(s in metrics.get(v, {}) for v in variants)), "it")
    what = "L5 decoding" if metric == "decoding_accuracy" else f"L5 {metric}"
    res_v1 = _mean(metrics, "residual", "v1", "l5", metric)
    res_it = _mean(metrics, "residual", last, "l5", metric)
    ratio = res_it / res_v1 if res_v1 and not math.isnan(res_v1) else math.nan
    criteria = [_criterion(f"residual {what} {last} / v1", ratio, 0.8, _check(ratio, 0.8))]
    control = "hierarchical_rate_matched" if "hierarchical_rate_matched" in variants else None
    gap = math.nan
    if control:
        gap = 100 * (res_it - _mean(metrics, control, last, "l5", metric))
        criteria.append(_criterion(f"residual - {control} {what} at {last} (points)", gap, 15.0, _check(gap, 15.0)))
    else:
        criteria.append(_criterion(f"residual - hierarchical_rate_matched {what} at {last} (points)", math.nan, 15.0, None))
    if "shuffled_skip" in variants and control:
        recovered = 100 * (_mean(metrics, "shuffled_skip", last, "l5", metric) - _mean(metrics, control, last, "l5", metric))
        share = recovered / gap if gap and not math.isnan(gap) and gap > 0 else math.nan
        criteria.append(_criterion("shuffled_skip recovers this share of the gap", share, 1 / 3, _check(share, 1 / 3, above=False)))
    else:
        criteria.append(_criterion("shuffled_skip recovers this share of the gap", math.nan, 1 / 3, None))
    return criteria


def edge_tuning_verdicts(metrics: dict, variants: Sequence[str]) -> dict[str, Any]:
    """P1 (DESIGN §5) on the gratings' orientation decoding, ``P1_edges`` on edge identity
    (``null`` when the edges were not run), and gate G2's OSI control."""
    gate = []
    for variant in variants:
        osi = _mean(metrics, variant, "v1", "l4", "osi")
        shuffled = _mean(metrics, variant, "v1", "l4", "osi_shuffled")
        gate.append(_criterion(f"{variant}: v1 L4 OSI above its shuffled control", osi - shuffled, 0.0,
                               _check(osi - shuffled, 0.0)))
    return {"P1": _verdict(_p1_criteria(metrics, variants, "decoding_accuracy")),
            "P1_edges": _verdict(_p1_criteria(metrics, variants, "edge_decoding_accuracy")),
            "G2_osi": _verdict(gate)}


_EDGE_TUNING = ExperimentSpec(
        name="edge-tuning",
        question="P1: is orientation (edge) information robust in L5 of every station, and does that need the shortcut?",
        overrides={
            "stimulus": {"protocol": "orientation_tuning", "orientations": 8, "phases": 4, "repeats": 3,
                         "temporal_frequency": "0 Hz", "duration": "0.3 s", "blank": "0.2 s"},
        },
        variants=("residual", "hierarchical", "hierarchical_rate_matched", "shuffled_skip"),
        metrics=edge_tuning_run_metrics,
        verdicts=edge_tuning_verdicts,
        figures=("osi", "decoding_accuracy", "edge_decoding_accuracy", "probe_r2_lgn"),
        conditions=edge_tuning_conditions,
)

#: The specs loaded so far, by name (:func:`get_spec` fills it).
EXPERIMENT_SPECS: dict[str, ExperimentSpec] = {"edge-tuning": _EDGE_TUNING}


def get_spec(name: str) -> ExperimentSpec:
    """The :class:`ExperimentSpec` of a stream experiment.

    Raises
    ------
    ConfigError
        Unknown name (nearest suggested), or an experiment whose module is not installed.
    """
    if name in EXPERIMENT_SPECS:
        return EXPERIMENT_SPECS[name]
    if name not in EXPERIMENT_MODULES:
        raise ConfigError(f"experiment {name!r} is unknown{suggest(name, EXPERIMENT_MODULES)}; "
                          f"available: {', '.join(EXPERIMENT_MODULES)}")
    import importlib

    try:
        module = importlib.import_module(EXPERIMENT_MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name != EXPERIMENT_MODULES[name]:
            raise
        raise ConfigError(f"experiment {name!r} is not implemented yet; available: "
                          f"{', '.join(n for n in EXPERIMENT_MODULES if _available(n))}") from None
    EXPERIMENT_SPECS[name] = module.SPEC
    return module.SPEC


def _available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(EXPERIMENT_MODULES[name]) is not None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in extra.items():
        if isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = list(out[key]) + list(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _run_config(spec: ExperimentSpec, variant: str, seed: int, options: dict[str, Any],
                condition: dict[str, Any] | None = None) -> dict[str, Any]:
    user = _merge(_merge(spec.overrides, options.get("overrides", {})), condition or {})
    run = dict(user.get("run", {}))
    run.update({"master_seed": seed, "progress": False})
    for key in ("scale", "device", "threads"):
        if options.get(key) is not None:
            run[key] = options[key]
    if options.get("device") == "cpp_standalone" and "codegen_target" in run:
        run.pop("codegen_target")
    user["run"] = run
    user["stream"] = {**user.get("stream", {}), "variant": "hierarchical" if variant == "hierarchical_rate_matched" else variant}
    return resolve_config(user)


_WORKER = (
    "import json, sys, logging, signal\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    # SIGTERM stops like Ctrl-C: the writer removes or marks its temporary file
    "def _stop(signum, frame):\n    raise KeyboardInterrupt\n"
    "signal.signal(signal.SIGTERM, _stop)\n"
    "from circuits.run import run_stream\n"
    "cfg = json.loads(sys.argv[1])\n"
    "run_stream(cfg, sys.argv[2], overwrite=True)\n"
)


#: Children of :func:`_run_child` still running (any thread), for :func:`_stop_children`.
_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()


def _stop(proc: subprocess.Popen) -> None:
    """Ask a child to stop (it removes its temporary file); kill it if it has not within a minute."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _stop_children() -> None:
    """Stop every running child: an interrupt reaches only the main thread, not the pool's."""
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for proc in children:
        _stop(proc)


def _run_child(code: str, *args: str) -> tuple[int, str, str]:
    """Run ``python -c code args...``; its exit code, standard output and error output.

    Interrupted (Ctrl-C, SIGTERM), the child is asked to stop first, so that it removes its
    temporary file, and killed only if it does not within a minute.
    """
    proc = subprocess.Popen([sys.executable, "-c", code, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        _stop(proc)
        raise
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)
    return proc.returncode, stdout, stderr


def _run_one(cfg: dict[str, Any], path: Path) -> None:
    remove_stale_temporaries(path)  # a run killed outright (e.g. SIGKILL) left its temporary file
    returncode, _, stderr = _run_child(_WORKER, json.dumps(cfg), str(path))
    if returncode != 0:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else "no error message"
        raise VentralColumnsError(f"run {path.name} failed (exit code {returncode}): {last}")


def _l5_rates(path: Path) -> dict[str, float]:
    """Mean L5 E rate per station during the stimulus epochs, spikes/s."""
    record = read_spike_record(path)
    trials = record.trials
    out = {}
    for population, station, layer in _population_layers(record):
        if layer == "l5":
            duration = float(np.min(np.asarray(trials["stop"]) - np.asarray(trials["start"])))
            out[station] = float(_window_counts(record, population, duration - RESPONSE_DELAY).mean()
                                 / (duration - RESPONSE_DELAY))
    return out


#: Probe current of the rate-matching calibration: a few mV of depolarisation (250 pF, 10 ms).
_PROBE_PA = 40.0


def _rate_matching_drive(cfg: dict[str, Any], out: Path, seed: int, residual: Path) -> dict[str, float]:
    """Tonic drive into L5 E per station (pA) that makes ``hierarchical`` match ``residual``'s L5 rates.

    Two short calibration runs of the hierarchical network (no drive, and a probe drive)
    give each station's rate-current slope; the drive that closes the gap to the residual
    rates is then applied (one linear step; the rates and the drive are stored in
    ``calibration/rate_matching_seed<k>.json`` and reused on resume). ``residual`` is the
    finished residual run of the same seed (first condition).
    """
    if not _is_complete(residual):
        raise ConfigError("hierarchical_rate_matched needs the residual variant of the same seed (add it to --variants)")
    calib = out / "calibration"
    calib.mkdir(exist_ok=True)
    record_path = calib / f"rate_matching_seed{seed}.json"
    if record_path.exists():
        return json.loads(record_path.read_text())["drive_pA"]
    target = _l5_rates(residual)
    _run_one(_run_config_with_drive(cfg, {}), calib / f"hier_seed{seed}_drive0.h5")
    r0 = _l5_rates(calib / f"hier_seed{seed}_drive0.h5")
    _run_one(_run_config_with_drive(cfg, {st: _PROBE_PA for st in r0}), calib / f"hier_seed{seed}_probe.h5")
    r1 = _l5_rates(calib / f"hier_seed{seed}_probe.h5")
    drive = {}
    for st in r0:
        slope = (r1[st] - r0[st]) / _PROBE_PA
        drive[st] = max(0.0, (target[st] - r0[st]) / slope) if slope > 0 else 0.0
    write_json(record_path, {"target_hz": target, "rates_no_drive_hz": r0, "rates_probe_hz": r1,
                             "probe_pA": _PROBE_PA, "drive_pA": drive}, overwrite=True)
    return drive


def _run_config_with_drive(cfg: dict[str, Any], drive_pa: dict[str, float]) -> dict[str, Any]:
    manipulations = [m for m in cfg.get("manipulation", []) if m.get("kind") != "tonic_drive" or "l5_exc" not in m["populations"]]
    for station, current in drive_pa.items():
        manipulations.append({"kind": "tonic_drive", "stations": [station], "populations": ["l5_exc"],
                              "current": f"{current} pA"})
    user = {k: v for k, v in cfg.items() if k not in ("manipulation", "derived")}
    user["manipulation"] = manipulations
    return resolve_config(user)


#: Tables a finished run must share with the requested one to be resumed (``manipulation``
#: is left out: rate matching adds its drives there).
_RESUME_TABLES = ("run", "stream", "stimulus", "lgn", "recording")

#: Keys added to the schema with a default other than how earlier runs behaved: a stored
#: configuration without the key was run with this value.
_BEFORE_KEY_EXISTED = {("run", "background_sampler"): "per_step"}


def _check_resumed(path: Path, cfg: dict[str, Any]) -> None:
    """Refuse to reuse a finished run made with other settings (it would mix silently).

    A key missing from the stored configuration was added to the schema after the run was
    made; the run behaved as its default, so it counts as the default value, or as the
    value of :data:`_BEFORE_KEY_EXISTED` where the new default behaves differently.
    """
    from circuits.config import resolve_config

    stored = read_config(path)
    defaults = resolve_config({})
    for (table, key), value in _BEFORE_KEY_EXISTED.items():
        defaults[table][key] = value
    for table in _RESUME_TABLES:
        was = {**defaults.get(table, {}), **stored.get(table, {})}
        if was != cfg.get(table):
            keys = sorted(k for k in set(was) | set(cfg.get(table, {})) if was.get(k) != cfg.get(table, {}).get(k))
            raise ConfigError(f"{path} was run with other {table} settings ({', '.join(f'{table}.{k}' for k in keys)}); "
                              "use another --out or pass --overwrite to run it again")


def _is_complete(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return bool(file_info(path)["complete"])
    except FileFormatError:
        return False


def run_experiment(
    name: str,
    out: str | os.PathLike[str],
    *,
    variants: Sequence[str] | None = None,
    n_seeds: int = 5,
    scale: float | None = None,
    device: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    first_seed: int = 1,
    analyse_only: bool = False,
    conditions: Sequence[str] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run every variant × seed of an experiment (resuming finished runs), then analyse.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENT_SPECS`.
    out : path
        Experiment directory. An existing ``results.json`` is not replaced without
        ``overwrite``; finished runs are kept and skipped (resume), unless ``overwrite``.
    variants : sequence of str, optional
        Default: the experiment's.
    n_seeds : int
        Master seeds ``first_seed .. first_seed + n_seeds - 1``.
    scale, device, threads : optional
        Override the configuration's ``run`` table.
    overrides : dict, optional
        Further configuration tables (e.g. shorter protocols for tests).
    analyse_only : bool
        Simulate nothing: recompute ``results.json``, ``report.md`` and the figures from the
        finished runs (all must be there, made with the same settings), e.g. after an
        analysis was corrected. The previous ``results.json`` is kept as
        ``results.before-<UTC time>.json``.
    conditions : sequence of str, optional
        Run (and analyse) only these conditions of a multi-condition experiment (default
        all), e.g. ``["gratings"]`` of ``edge-tuning``; verdicts that need another are ``null``.
    workers : int
        Runs at a time, each in its own process (and variant × seed analyses at a time).
        The results do not depend on it: every run draws from its own seeds.

    Returns
    -------
    dict
        The ``results.json`` document.
    """
    spec = get_spec(name)
    if analyse_only and overwrite:
        raise ConfigError("--analyse-only keeps the runs and --overwrite reruns them: pass one of the two")
    variants = tuple(variants or spec.variants)
    if int(n_seeds) != n_seeds or n_seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {n_seeds}")
    if int(workers) != workers or workers < 1:
        raise ConfigError(f"--workers must be a positive integer, got {workers}")
    out = Path(out)
    results_path = out / "results.json"
    if results_path.exists() and not (overwrite or analyse_only):
        raise OutputExistsError(f"{results_path} exists; pass --overwrite to run the experiment again")
    options = {"scale": scale, "device": device, "threads": threads, "overrides": overrides or {}}
    seeds = list(range(first_seed, first_seed + n_seeds))
    stations = _run_config(spec, variants[0], seeds[0], options)["stream"]["stations"]
    overrides_of = _selected_conditions(spec, stations, conditions)
    runs_of = {v: [c for c in overrides_of if spec.runs_condition(v, c)] for v in variants}
    configs = {(v, c, s): _run_config(spec, v, s, options, overrides_of[c])
               for v in variants for c in runs_of[v] for s in seeds}
    if spec.check is not None:
        for cfg in configs.values():
            spec.check(cfg)
    if "hierarchical_rate_matched" in variants and "residual" not in variants:
        raise ConfigError("hierarchical_rate_matched needs the residual variant of the same seeds (add it to --variants)")
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    todo = [key for key in configs if overwrite or not _is_complete(runs / run_filename(*key))]
    if not overwrite:
        for key in set(configs) - set(todo):
            _check_resumed(runs / run_filename(*key), configs[key])
    if analyse_only:
        if todo:
            raise ConfigError(f"--analyse-only: {len(todo)} of {len(configs)} runs are not finished in {runs} (first: "
                              f"{run_filename(*todo[0])}); run the experiment without --analyse-only to finish them")
        if results_path.exists():
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            results_path.rename(out / f"results.before-{stamp}.json")
    elif len(todo) < len(configs):
        logger.info("resuming: %d of %d runs already finished", len(configs) - len(todo), len(configs))
    _run_all(todo, configs, runs_of, out, workers=int(workers), desc=name, progress=progress)
    first = next(iter(configs))
    return analyse_experiment(name, out, variants, seeds, configs[first], overwrite=True,
                              conditions={v: runs_of[v] for v in variants}, workers=int(workers), progress=progress)


def _run_all(todo: list[tuple[str, str, int]], configs: dict[tuple[str, str, int], dict[str, Any]],
             runs_of: dict[str, list[str]], out: Path, *, workers: int, desc: str, progress: bool) -> None:
    """Run every (variant, condition, seed) of ``todo``, ``workers`` child processes at a time.

    Runs are queued seed by seed, so that runs going at the same time tend to be other
    conditions, i.e. other network structures, each reusing its own compiled build rather
    than compiling a second copy of one structure for the second worker. A rate-matched run
    needs the drive of its seed, computed once from the finished residual run of that seed:
    residual runs are queued before every rate-matched one (the pool starts runs in queue
    order, so a rate-matched run waits only for residual runs already running). After the first
    failure nothing new starts; runs already going finish (their files are kept) and the
    error is raised. Interrupted, the runs going are stopped.
    """
    runs = out / "runs"
    todo = sorted(todo, key=lambda key: (key[0] == "hierarchical_rate_matched", key[2]))
    drives: dict[int, dict[str, float]] = {}
    drive_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)
    futures: dict[tuple[str, str, int], Any] = {}

    def run(key: tuple[str, str, int]) -> None:
        variant, condition, seed = key
        cfg = configs[key]
        if variant == "hierarchical_rate_matched":
            first = runs_of[variant][0]
            residual_key = ("residual", runs_of["residual"][0] if "residual" in runs_of else first, seed)
            if residual_key in futures:
                futures[residual_key].result()  # the residual run of this seed failed: so does this one
            with drive_locks[seed]:
                if seed not in drives:
                    drives[seed] = _rate_matching_drive(configs[(variant, first, seed)], out, seed,
                                                        runs / run_filename(*residual_key))
            cfg = _run_config_with_drive(cfg, drives[seed])
            configs[key] = cfg
        _run_one(cfg, runs / run_filename(*key))

    with tqdm(total=len(todo), desc=desc, unit="run", disable=not progress) as bar, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run") as pool:
        for key in todo:
            futures[key] = pool.submit(run, key)
        pending = set(futures.values())
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                bar.update(len(done))
                for future in done:
                    future.result()
        except BaseException as exc:
            for future in pending:
                future.cancel()
            if not isinstance(exc, VentralColumnsError):  # interrupted: stop the runs going too
                _stop_children()
            raise


def _selected_conditions(spec: ExperimentSpec, stations: Sequence[str],
                         selected: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Condition → overrides of ``spec``, restricted to ``selected`` (ConfigError for unknown names)."""
    available = spec.condition_overrides(stations)
    if selected is None:
        return available
    if spec.conditions is None:
        raise ConfigError(f"--conditions: {spec.name} runs a single condition")
    for name in selected:
        if name not in available:
            raise ConfigError(f"--conditions: {spec.name} has no condition {name!r}{suggest(name, list(available))}; "
                              f"available: {', '.join(available)}")
    return {name: available[name] for name in available if name in selected}


def _metrics_of(name: str, out: Path, variant: str, seed: int,
                conditions: Sequence[str]) -> dict[tuple[str, str, str], float]:
    """The ``metrics`` of experiment ``name`` for the runs of one variant and seed."""
    spec = get_spec(name)
    if spec.conditions is None:
        return spec.metrics(read_spike_record(out / "runs" / run_filename(variant, "", seed)))
    return spec.metrics(RunRecords({c: out / "runs" / run_filename(variant, c, seed) for c in conditions}))


def analyse_experiment(
    name: str, out: Path, variants: Sequence[str], seeds: Sequence[int], config: dict[str, Any], overwrite: bool = False,
    conditions: dict[str, Sequence[str]] | None = None, workers: int = 1, progress: bool = False,
) -> dict[str, Any]:
    """Compute the metrics of every run, write ``results.json``, figures and ``report.md``.

    ``conditions`` (variant → condition names) is needed for multi-condition experiments;
    their ``metrics`` function then receives a :class:`RunRecords` of one variant and seed.
    With ``workers`` > 1 the variant × seed groups are analysed in that many processes
    (the metrics are the same: each group's analysis draws from its own seeds).
    """
    spec = get_spec(name)
    groups = [(variant, k, seed) for variant in variants for k, seed in enumerate(seeds)]
    args = [(name, out, variant, seed, tuple((conditions or {}).get(variant, ()))) for variant, _, seed in groups]
    bar = tqdm(total=len(groups), desc=f"{name} analysis", unit="run group", disable=not progress)
    if workers > 1 and len(groups) > 1:
        import multiprocessing

        # spawn: a fresh interpreter per worker, no forked copy of this process' threads
        with ProcessPoolExecutor(max_workers=min(workers, len(groups)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_metrics_of, *a) for a in args]
            for future in futures:
                future.add_done_callback(lambda _: bar.update())
            results = [future.result() for future in futures]
    else:
        results = []
        for a in args:
            results.append(_metrics_of(*a))
            bar.update()
    bar.close()
    per_seed: dict[tuple[str, str, str, str], list[float]] = {}
    for (variant, k, _), group_metrics in zip(groups, results):
        for (station, layer, metric), value in group_metrics.items():
            per_seed.setdefault((variant, station, layer, metric), [math.nan] * len(seeds))[k] = value
    metrics = build_metrics(per_seed)
    results = {
        "experiment": name,
        "question": spec.question,
        "config": config,
        "seeds": list(seeds),
        "variants": list(variants),
        **({"conditions": {v: list(c) for v, c in conditions.items()}} if spec.conditions is not None and conditions else {}),
        "metrics": metrics,
        "verdicts": spec.verdicts(metrics, variants),
    }
    write_json(out / "results.json", results, overwrite=overwrite)
    _figures(spec, results, out / "figures")
    _write_text(out / "report.md", report_markdown(results))
    return results


def _figures(spec: ExperimentSpec, results: dict[str, Any], directory: Path) -> None:
    from analysis.plotting import plot_stream_metric, save_figure

    directory.mkdir(parents=True, exist_ok=True)
    labels = {"osi": "OSI (1 - circular variance)", "decoding_accuracy": "decoding accuracy",
              "edge_decoding_accuracy": "edge identity decoding accuracy", "probe_r2_lgn": "probe R² of the LGN input"}
    present = metric_names(results["metrics"])
    for metric in spec.figures:
        if metric not in present:  # its condition was not run
            continue
        fig = plot_stream_metric(results["metrics"], metric, ylabel=labels.get(metric, metric))
        save_figure(fig, directory / metric, overwrite=True)
    if spec.figure_hook is not None:
        spec.figure_hook(results, directory)


def write_report(directory: str | os.PathLike[str]) -> Path:
    """Rebuild ``report.md`` and the figures of an experiment directory from ``results.json``.

    Raises
    ------
    FileFormatError
        No readable ``results.json`` in ``directory``, or not one written by an experiment.
    """
    directory = Path(directory)
    path = directory / "results.json"
    try:
        results = json.loads(path.read_text())
        spec = get_spec(results["experiment"])
        missing = {"metrics", "verdicts", "variants"} - set(results)
        if missing:
            raise KeyError(f"missing {sorted(missing)}")
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file (run `ventral-columns experiment NAME --out {directory}` first)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise FileFormatError(f"{path}: not an experiment results file ({type(exc).__name__}: {exc})") from None
    _figures(spec, results, directory / "figures")
    report = directory / "report.md"
    _write_text(report, report_markdown(results))
    return report


def _write_text(path: Path, text: str) -> None:
    """Replace a derived text file atomically (an interrupted write never truncates it)."""
    from analysis.outputs import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(text)


def metric_names(metrics: dict[str, Any]) -> set[str]:
    """Every metric name in the ``"metrics"`` block of a results document."""
    return {m for v in metrics.values() for s in v.values() for layer in s.values() for m in layer}


def report_markdown(results: dict[str, Any]) -> str:
    """The metrics and verdicts of a results document as Markdown tables."""
    lines = [f"# {results['experiment']}", "", results.get("question", ""), "",
             f"Variants: {', '.join(results['variants'])}; seeds: {results['seeds']}", ""]
    metrics = results["metrics"]
    names = sorted(metric_names(metrics))
    for metric in names:
        lines += [f"## {metric}", "", "| variant | station | layer | mean | 95 % CI |", "|---|---|---|---|---|"]
        for variant, stations in metrics.items():
            for station in STATIONS:
                for layer, values in stations.get(station, {}).items():
                    if metric in values:
                        rec = values[metric]
                        lines.append(f"| {variant} | {station} | {layer} | {rec['mean']:.3f} | "
                                     f"[{rec['ci_low']:.3f}, {rec['ci_high']:.3f}] |")
        lines.append("")
    lines += ["## Verdicts", ""]
    for prediction, verdict in results["verdicts"].items():
        lines.append(f"**{prediction}**: supported = {verdict['supported']}")
        for c in verdict["criteria"]:
            value = "n/a" if c["value"] is None else f"{c['value']:.3f}"
            lines.append(f"- {c['name']}: {value} (threshold {c['threshold']:.3g}) -> {c['passed']}")
        lines.append("")
    return "\n".join(lines)


def print_table(results: dict[str, Any], metrics: Sequence[str] = ("osi", "decoding_accuracy")) -> str:
    """A compact text table of the given metrics per station × layer × variant."""
    variants = results["variants"]
    header = f"{'station':8s}{'layer':6s}" + "".join(f"{v[:14] + ' ' + m[:8]:>26s}" for m in metrics for v in variants)
    rows = [header]
    for station in STATIONS:
        for layer in ("all",) + LAYERS:
            cells = []
            found = False
            for m in metrics:
                for v in variants:
                    rec = results["metrics"].get(v, {}).get(station, {}).get(layer, {}).get(m)
                    found |= rec is not None
                    cells.append(f"{rec['mean']:26.3f}" if rec else f"{'-':>26s}")
            if found:
                rows.append(f"{station:8s}{layer:6s}" + "".join(cells))
    return "\n".join(rows)
