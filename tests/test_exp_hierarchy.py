"""PD-b / G5 hierarchy experiment: verdict logic on synthetic metrics, then a tiny run end to end."""

from __future__ import annotations

import json
import math

import pytest

from analysis.errors import ConfigError
from circuits import experiments
from circuits.exp_hierarchy import (
    HierarchyProtocolParams,
    hierarchy_spec,
    hierarchy_verdicts,
    monotone_step,
)
from circuits.exp_receptive_fields import SparseNoiseParams


def _metrics(values: dict) -> dict:
    out: dict = {}
    for (variant, station, metric), value in values.items():
        for layer in ("l4", "l23", "l5"):
            out.setdefault(variant, {}).setdefault(station, {}).setdefault(layer, {})[metric] = {"mean": value}
    return out


def test_order_verdicts_restate_the_station_means():
    metrics = _metrics({("residual", "v1", "rf_size_deg"): 0.5, ("residual", "v2", "rf_size_deg"): 0.9,
                        ("residual", "v1", "latency_s"): 0.05, ("residual", "v2", "latency_s"): 0.06,
                        ("hierarchical", "v1", "rf_size_deg"): 0.5, ("hierarchical", "v2", "rf_size_deg"): 0.4,
                        ("hierarchical", "v1", "latency_s"): 0.05, ("hierarchical", "v2", "latency_s"): 0.07})
    verdicts = hierarchy_verdicts(metrics, ["residual", "hierarchical"])
    pd_b = verdicts["PD-b"]
    # steps by hand: residual RF 0.9 - 0.5 = 0.4, latency 0.06 - 0.05 = 0.01
    assert [c["value"] for c in pd_b["criteria"]] == pytest.approx([0.4, 0.01], abs=1e-9)
    assert pd_b["supported"] is True
    gate = verdicts["G5"]
    assert [c["passed"] for c in gate["criteria"]] == [True, True, False, True]  # hierarchical RF shrinks
    assert gate["supported"] is False
    missing = hierarchy_verdicts(metrics, ["hierarchical"])["PD-b"]
    assert missing["supported"] is None and all(c["passed"] is None for c in missing["criteria"])


def test_monotone_step_and_protocol_checks():
    assert monotone_step([1.0, 2.0, 2.5]) == pytest.approx(0.5, abs=1e-12)  # smallest of the steps 1.0, 0.5
    assert math.isnan(monotone_step([1.0, math.nan]))
    with pytest.raises(ConfigError, match="f1_start"):
        HierarchyProtocolParams(grating_duration=0.6, f1_start=0.25)  # 1.4 cycles at 4 Hz
    with pytest.raises(ConfigError, match="latency_baseline"):
        HierarchyProtocolParams(blank=0.25, latency_baseline=0.2)  # 0.1 s offset guard leaves 0.15 s


TINY_PROTOCOL = HierarchyProtocolParams(SparseNoiseParams(duration=3.0, trial_duration=1.0), orientations=4, repeats=2,
                                        temporal_frequency=8.0, grating_duration=0.25, f1_start=0.125, blank=0.2,
                                        latency_baseline=0.1)
TINY = {"stream": {"stations": ["v1", "v2"]}, "run": {"silence_guard": False, "chunk": "6 s"}}


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("hierarchy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(experiments.EXPERIMENT_SPECS, "hierarchy", hierarchy_spec(TINY_PROTOCOL))
        experiments.run_experiment("hierarchy", out, variants=["residual"], n_seeds=1, scale=0.05,
                                   device="runtime", overrides=TINY, progress=False)
    return out, json.loads((out / "results.json").read_text())


def test_results_json_structure(tiny_results):
    out, results = tiny_results
    assert results["experiment"] == "hierarchy" and results["variants"] == ["residual"]
    assert results["conditions"] == {"residual": ["gratings", "noise"]}
    stations = results["metrics"]["residual"]
    assert set(stations) == {"lgn", "v1", "v2"} and set(stations["v2"]) == {"l4", "l23", "l5"}
    assert {"rf_size_deg", "fraction_mapped", "latency_s", "f1_f0", "osi",
            "osi_shuffled"} <= set(stations["v1"]["l4"])
    names = [c["name"] for c in results["verdicts"]["G5"]["criteria"]]
    assert names == ["residual: RF size (deg) station means increase v1 < v2 (smallest step)",
                     "residual: latency (s) station means increase v1 < v2 (smallest step)"]
    assert results["verdicts"]["PD-b"]["supported"] in (True, False, None)
    assert (out / "figures" / "latency_s.png").stat().st_size > 0


def test_lgn_leads_v1_and_responds_linearly(tiny_results):
    _, results = tiny_results
    stations = results["metrics"]["residual"]
    lgn = stations["lgn"]["all"]["latency_s"]["mean"]
    v1_l4 = stations["v1"]["l4"]["latency_s"]["mean"]
    # V1 L4 is driven by these LGN spikes through synapses with delays: its onset cannot precede
    # the LGN's (the LGN impulse response peaks at 40 ms, stimuli/params.py).
    assert lgn is not None and v1_l4 is not None and lgn < v1_l4
    assert 0.0 <= lgn < 0.1
    # LGN cells are linear-nonlinear: a drifting grating modulates them at its frequency, a
    # half-wave rectified sinusoid giving F1/F0 = pi/2 (Skottun et al. 1991); > 1 is the
    # simple-cell-like side.
    assert stations["lgn"]["all"]["f1_f0"]["mean"] > 1.0
