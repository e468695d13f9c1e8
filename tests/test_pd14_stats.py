"""PD14 statistics and preset structure (fast)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("brian2_numpy")


def test_statistics_of_poisson_trains(rng):
    from analysis.spiketrains import SpikeTrains
    from circuits.pd14 import pd14_statistics

    n, rate, t = 1000, 20.0, 10.0
    counts = rng.poisson(rate * t, n)
    ids = np.repeat(np.arange(n), counts)
    times = rng.uniform(0, t, ids.size)
    st = SpikeTrains("pd14_l4_exc", ids, times, n, 0.0, t)
    stats = pd14_statistics({"pd14_l4_exc": st}, 0.0, t)["pd14_l4_exc"]
    # Homogeneous Poisson process: rate 20 Hz (s.e. 0.045 Hz), ISI CV 1 (finite-sample bias
    # about -1/(2 x 200 ISIs)), LV 1 (Shinomoto et al. 2003), population-count Fano factor 1
    # (independent trains).
    assert stats["rate_hz"] == pytest.approx(20.0, abs=0.2)
    assert stats["cv_isi"] == pytest.approx(1.0, abs=0.03)
    assert stats["lv"] == pytest.approx(1.0, abs=0.03)
    assert stats["synchrony"] == pytest.approx(1.0, abs=0.1)


def test_pd14_preset_has_thalamus_only_on_l4_and_l6(brian2_numpy):
    from columns.pd14 import DEFAULT_THALAMUS, ThalamusParams, build_pd14, pd14_params

    assert set(DEFAULT_THALAMUS.probabilities) == {"l4_exc", "l4_pv", "l6_exc", "l6_pv"}
    col = build_pd14(pd14_params(0.005), connectivity_seed=1, initial_state_seed=2, thalamus=ThalamusParams(enabled=True))
    targets = sorted(name.split("_to_pd14_")[1] for name in col.inputs)
    # PD14 Table 5: thalamic input onto L4 and L6 only.
    assert targets == ["l4_exc", "l4_pv", "l6_exc", "l6_pv"]
    # Optimised initial potentials (INM-6 reference V0 'optimized'): L2/3E mean -68.28 mV,
    # s.d. 5.36 mV; the sample of 103 cells lies within 4 s.e.
    v = np.asarray(col.population("l23_exc").v[:]) * 1e3
    assert abs(v.mean() + 68.28) < 4 * 5.36 / np.sqrt(v.size)


def test_run_pd14_writes_hdf5_with_provenance_and_results(brian2_numpy, tmp_path):
    import json

    from analysis.hdf5_io import read_provenance, read_spike_record
    from circuits.pd14 import run_pd14

    summary = run_pd14(0.01, [3], target="numpy", t_presim=0.05, t_sim=0.1, out=tmp_path)
    h5 = tmp_path / "pd14_scale0.01_seed3.h5"
    record = read_spike_record(h5)
    # PD14 x 0.01: 8 populations, L2/3E has round(20683 * 0.01) = 207 neurons (PD14 Table 5).
    assert len(record.spikes) == 8 and record["pd14_l23_exc"].n_nodes == 207
    prov = read_provenance(h5)
    assert prov["seeds"]["master"] == 3 and set(prov["seeds"]) >= {"connectivity", "initial_state", "background"}
    assert prov["device"] == "runtime/numpy" and prov["wall_time_s"]["simulate"] > 0
    doc = json.loads((tmp_path / "results.json").read_text())
    # The summary's mean rate equals the spikes counted in the file's analysis window.
    n = record["pd14_l4_exc"].time_slice(0.05, 0.15).n_spikes
    assert doc["populations"]["l4_exc"]["rate_hz_mean"] == pytest.approx(n / (219 * 0.1), rel=1e-9)
    assert summary["n_seeds"] == 1
