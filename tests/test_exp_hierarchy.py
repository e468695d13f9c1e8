"""PD-b / G5 hierarchy experiment: verdict logic on synthetic metrics, then a tiny run end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.errors import ConfigError
from analysis.spiketrains import SpikeRecord, SpikeTrains
from circuits import experiments
from circuits.exp_hierarchy import (
    HierarchyProtocolParams,
    hierarchy_spec,
    hierarchy_verdicts,
    latency_and_modulation,
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


def _synthetic_grating_record(latencies: dict[str, float], params: HierarchyProtocolParams, n_cells: int = 50,
                              seed: int = 0) -> SpikeRecord:
    """Poisson cells: 5 spikes/s at rest, a half-wave rectified sinusoid of 200 spikes/s peak at the
    drift frequency from ``latency`` after each grating onset to its end (no offset response)."""
    rng = np.random.default_rng(seed)
    dt = 5e-4
    epoch = params.grating_duration + params.blank
    n_trials = params.orientations * params.repeats
    t = np.arange(0.0, n_trials * epoch, dt)
    since = np.mod(t, epoch)
    spikes = {}
    for population, latency in latencies.items():
        driven = (since >= latency) & (since < params.grating_duration)
        rate = np.where(driven, 200.0 * np.clip(np.sin(2 * np.pi * params.temporal_frequency * (since - latency)), 0, None),
                        5.0)
        counts = rng.poisson(rate * dt, size=(n_cells, t.size))
        cell, step = np.nonzero(counts)
        times = t[step] + rng.random(step.size) * dt
        spikes[population] = SpikeTrains(population, cell, times, n_cells, 0.0, float(t[-1] + dt))
    starts = np.arange(n_trials) * epoch
    orientation = np.tile(np.arange(params.orientations) * 180.0 / params.orientations, params.repeats)
    trials = {"start": starts, "stop": starts + params.grating_duration, "orientation_deg": orientation}
    return SpikeRecord(spikes=spikes, trials=trials)


def test_latency_and_f1_f0_recover_the_synthetic_response():
    params = HierarchyProtocolParams(orientations=4, repeats=10, grating_duration=0.5, blank=0.3, f1_start=0.25)
    record = _synthetic_grating_record({"lgn_on": 0.040, "v1_l4_exc": 0.060}, params)
    out = latency_and_modulation(record, params)
    # the synthetic onsets, to one 5 ms bin: the response rises from 0 at the latency
    assert out[("lgn", "all", "latency_s")] == pytest.approx(0.040, abs=0.0051)
    assert out[("v1", "l4", "latency_s")] == pytest.approx(0.060, abs=0.0051)
    # half-wave rectified sinusoid: F1/F0 = pi/2 (Skottun et al. 1991; analytic); ~160 spikes per
    # cell in the window give a per-cell SD of about 0.1, the median of 50 cells about 0.02
    assert out[("lgn", "all", "f1_f0")] == pytest.approx(np.pi / 2, abs=0.1)
    assert out[("v1", "l4", "f1_f0")] == pytest.approx(np.pi / 2, abs=0.1)


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
