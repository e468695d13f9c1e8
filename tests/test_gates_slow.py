"""Calibration gates G1-G3 at scale 1 (slow: `make validate`; about 1 h on 2 quiet cores).

Runs ``ventral-columns experiment calibrate`` for ``residual`` and ``hierarchical`` with 5
seeds on cpp_standalone (issue #5 acceptance: "the gates pass for residual at scale 1 over 5
seeds"; item 7: "while hierarchical fails both" halves of G3). Thresholds are DESIGN §5's,
restated in :mod:`circuits.exp_calibrate`. ``VC_GATES_DIR`` reuses (resumes) an experiment
directory; ``VC_GATES_SEEDS`` lowers the number of seeds for a quicker look.

These tests assert the verdicts the experiment computes. Measured 2026-11-23 (5 seeds):
G1 (residual), G2 and G3 pass; the hierarchical control fails G1 in V1 L5
(docs/stream.md, "Calibration").
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.compiled]


@pytest.fixture(scope="module")
def gates(tmp_path_factory):
    from circuits.experiments import run_experiment

    out = Path(os.environ.get("VC_GATES_DIR") or tmp_path_factory.mktemp("gates"))
    results_path = out / "results.json"
    if results_path.exists():
        results_path.unlink()  # analysis is redone; finished runs are resumed
    return run_experiment("calibrate", out, variants=["residual", "hierarchical"],
                          n_seeds=int(os.environ.get("VC_GATES_SEEDS", "5")), scale=1.0,
                          device="cpp_standalone", progress=False)


def _failed(verdict):
    return [(c["name"], c["value"], c["threshold"]) for c in verdict["criteria"] if c["passed"] is not True]


def test_g1_asynchronous_irregular_spontaneous_state(gates):
    # DESIGN §5 G1: ISI CV 0.8-1.2, low synchrony (chi <= 0.3), PV rate > E rate, every
    # station x layer of residual (issue #5: "the gates pass for residual"). The verdict also
    # lists the hierarchical control's criteria, reported but not required: without the
    # shortcut its V1 L5 loses the thalamic feed-forward inhibition (measured 2026-11-23:
    # CV 0.79, E 10.2 > PV 9.4 spikes/s).
    failed = _failed(gates["verdicts"]["G1"])
    assert [f for f in failed if f[0].startswith("residual ")] == []
    assert len(gates["verdicts"]["G1"]["criteria"]) == 2 * 4 * 3 * 3  # variants x stations x layers x criteria


def test_g1_no_population_silent_or_above_50_hz(gates):
    # Issue #5 item 7: no population silent or above 50 spikes/s in the spontaneous state.
    for variant, stations in gates["metrics"].items():
        for station, layers in stations.items():
            for layer, metrics in layers.items():
                for name in ("rate_spont", "rate_spont_pv"):
                    if name in metrics:
                        assert 0.0 < metrics[name]["mean"] <= 50.0, (variant, station, layer, name)


def test_g2_sign_matching_and_v1_l4_tuning(gates):
    # DESIGN §5 G2: sign-matching index >= 0.9 and V1 L4 OSI above its shuffled control.
    assert _failed(gates["verdicts"]["G2"]) == []


def test_g3_shortcut_latency_and_evoked_response(gates):
    # DESIGN §5 G3 (residual passes) and issue #5 item 7 (hierarchical fails both halves).
    assert _failed(gates["verdicts"]["G3"]) == []
