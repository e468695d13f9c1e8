"""``block-lesion``: does orientation information reach the last station when a block is removed?

DESIGN §5 (cf. ResNet block deletion, Veit et al. 2016, arXiv:1605.06431): silence L4 and
L2/3 of an intermediate station (V2 or V4) for the whole run and decode orientation at the
last station's L5. In the residual stream the station's L5 still relays its input through
the identity-like skip, so decoding should drop by at most 25 %; in the hierarchical model
the only route runs through the silenced layers, so decoding should fall to near chance.

Conditions (per variant × seed): ``intact`` and ``lesion_<station>`` for every station
strictly between the first and the last (``lesion_v2``, ``lesion_v4`` for the full stream;
with two stations, the first one). The protocol is edge-tuning's grating set.

Metrics per station × layer (E cells), besides edge-tuning's metrics of the intact run:

* ``decoding_accuracy_lesion_<s>``, ``rate_evoked_lesion_<s>``: the same with station
  ``s`` lesioned;
* ``decoding_retained_lesion_<s>``: ``(acc_lesion - chance) / (acc_intact - chance)``, the
  share of above-chance decoding that survives (1: untouched, 0: at chance); NaN when the
  intact accuracy is not above chance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from circuits.experiments import (
    _EDGE_TUNING,
    ExperimentSpec,
    _criterion,
    _mean,
    _verdict,
    edge_tuning_metrics,
    metric_names,
)

__all__ = ["SPEC", "lesion_conditions", "block_lesion_metrics", "block_lesion_verdicts"]

#: DESIGN §5: the residual stream keeps at least 75 % of its decoding (drop ≤ 25 %).
RESIDUAL_RETAINED_MIN = 0.75
#: "Near chance" for the hierarchical model: within 5 accuracy points of chance (our reading).
HIERARCHICAL_NEAR_CHANCE = 0.05


def lesioned_stations(stations: Sequence[str]) -> list[str]:
    """Stations whose block is lesioned: those strictly inside the stream (the first one if only two)."""
    inner = list(stations[1:-1])
    return inner if inner else list(stations[:1]) if len(stations) > 1 else []


def lesion_conditions(stations: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``intact`` plus one ``lesion_<s>`` condition (L4 + L2/3 of ``s`` silenced throughout) per inner station."""
    out: dict[str, dict[str, Any]] = {"intact": {}}
    for station in lesioned_stations(stations):
        out[f"lesion_{station}"] = {
            "manipulation": [{"kind": "block_lesion", "stations": [station], "start": "0 s", "stop": "inf s"}],
            # downstream layers may fall silent without the block: an outcome, not a broken run
            "run": {"silence_guard": False},
        }
    return out


def block_lesion_metrics(runs: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """Edge-tuning metrics of the intact run, decoding and rates of each lesioned run, retained share."""
    intact = edge_tuning_metrics(runs["intact"])
    out = dict(intact)
    for condition in runs:
        if condition == "intact":
            continue
        lesioned = edge_tuning_metrics(runs[condition])
        for (station, layer, metric), value in lesioned.items():
            if metric in ("decoding_accuracy", "rate_evoked"):
                out[(station, layer, f"{metric}_{condition}")] = value
            if metric == "decoding_accuracy":
                chance = lesioned.get((station, layer, "decoding_chance"), math.nan)
                base = intact.get((station, layer, "decoding_accuracy"), math.nan)
                above = base - chance
                out[(station, layer, f"decoding_retained_{condition}")] = (
                    (value - chance) / above if above > 0 else math.nan
                )
    return out


def block_lesion_verdicts(metrics: dict, variants: Sequence[str]) -> dict[str, Any]:
    """DESIGN §5: after lesioning station s, the last station's L5 decoding drops by ≤ 25 %
    in ``residual`` and falls to near chance (≤ 5 points above) in ``hierarchical``.

    Either criterion is ``None`` (not tested) when its intact model does not decode above
    chance at the last station: there is nothing for the lesion to remove.
    """
    some = next(iter(metrics.values()), {})
    present = [s for s in ("v1", "v2", "v4", "it") if s in some]
    last = present[-1] if present else "it"
    criteria = []
    for station in lesioned_stations(present) or ["v2", "v4"]:
        condition = f"lesion_{station}"
        retained = _mean(metrics, "residual", last, "l5", f"decoding_retained_{condition}")
        passed = None if math.isnan(retained) else bool(retained >= RESIDUAL_RETAINED_MIN)
        criteria.append(_criterion(f"residual: {last} L5 decoding retained after lesioning {station}",
                                   retained, RESIDUAL_RETAINED_MIN, passed))
        acc = _mean(metrics, "hierarchical", last, "l5", f"decoding_accuracy_{condition}")
        chance = _mean(metrics, "hierarchical", last, "l5", "decoding_chance")
        intact = _mean(metrics, "hierarchical", last, "l5", "decoding_accuracy")
        excess = acc - chance
        # "falls to near chance" only means something if the intact model was above it
        untestable = math.isnan(excess) or not intact - chance > HIERARCHICAL_NEAR_CHANCE
        passed = None if untestable else bool(excess <= HIERARCHICAL_NEAR_CHANCE)
        criteria.append(_criterion(f"hierarchical: {last} L5 decoding above chance after lesioning {station}",
                                   excess, HIERARCHICAL_NEAR_CHANCE, passed))
    return {"block_lesion": _verdict(criteria)}


def block_lesion_figures(results: dict[str, Any], directory: Path) -> None:
    """``decoding_retained_lesion_<s>`` along the stream, one figure per lesioned station."""
    from analysis.plotting import plot_stream_metric, save_figure

    names = sorted(m for m in metric_names(results["metrics"]) if m.startswith("decoding_retained_"))
    for metric in names:
        station = metric.rsplit("_", 1)[-1].upper()
        fig = plot_stream_metric(results["metrics"], metric, ylabel=f"decoding retained, {station} lesioned",
                                 reference=RESIDUAL_RETAINED_MIN)
        save_figure(fig, directory / metric, overwrite=True)


SPEC = ExperimentSpec(
    name="block-lesion",
    question="Does orientation information reach the last station's L5 when L4 + L2/3 of an inner station are silenced?",
    overrides=_EDGE_TUNING.overrides,
    variants=("residual", "hierarchical"),
    metrics=block_lesion_metrics,
    verdicts=block_lesion_verdicts,
    figures=("decoding_accuracy",),
    conditions=lesion_conditions,
    figure_hook=block_lesion_figures,
)
