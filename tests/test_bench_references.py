"""The independent PD14 references of bench/reference: network construction checks.

Speed is measured in bench/, never here; these tests check that the reference networks are
the published PD14 network (synapse numbers, weights, delays), so that the benchmark compares
against the right thing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.stats import truncnorm

REF = Path(__file__).resolve().parents[1] / "bench" / "reference"
sys.path.insert(0, str(REF))
import pd14_model  # noqa: E402
from brian2_pd14 import draw_connectivity  # noqa: E402


def _expected_synapses(scale: float) -> np.ndarray:
    """PD14 fixed-total-number rule, K = ln(1-C)/ln(1-1/(N_pre N_post)) at full scale, x scale^2.

    Computed here independently of pd14_model.full_num_synapses.
    """
    n_full = pd14_model.N_FULL.astype(float)
    k = np.empty((8, 8))
    for i in range(8):
        for j in range(8):
            k[i, j] = np.log1p(-pd14_model.CONN_PROBS[i, j]) / np.log1p(-1.0 / (n_full[i] * n_full[j]))
    return k * scale * scale


def test_psc_of_psp_matches_pd14():
    # PD14 (Potjans & Diesmann 2014, Table 5): 0.15 mV PSP <-> 87.8 pA PSC amplitude
    conv = pd14_model.psc_over_psp(250.0, 10.0, 0.5)
    assert abs(0.15 * conv - 87.8) < 0.05


def test_nest_synapse_counts_follow_fixed_total_number(tmp_path):
    out = tmp_path / "nest.json"
    subprocess.run([sys.executable, str(REF / "nest_pd14.py"), "--scale", "0.01", "--t-sim", "0.2",
                    "--t-presim", "0.1", "--threads", "1", "--out", str(out)],
                   check=True, capture_output=True)
    result = json.loads(out.read_text())
    measured = np.array(result["n_synapses_per_pathway"], dtype=float)
    expected = _expected_synapses(0.01)
    # fixed-total-number realises round(K) exactly; the 3 s.d. bound of a binomial count
    # (issue #4) is the looser criterion and must hold a fortiori
    assert np.all(np.abs(measured - expected) <= np.maximum(3 * np.sqrt(expected), 0.5))
    assert np.array_equal(measured, np.round(expected))
    assert result["n_synapses_total"] == int(np.round(expected).sum())


def test_brian2_connectivity_statistics():
    p = pd14_model.derive(0.05, "poisson")
    conn = draw_connectivity(p, np.random.default_rng(3))
    off = np.concatenate([[0], np.cumsum(p["n"])])
    pop_pre = np.searchsorted(off, conn["pre"], side="right") - 1
    pop_post = np.searchsorted(off, conn["post"], side="right") - 1
    counts = np.zeros((8, 8))
    np.add.at(counts, (pop_post, pop_pre), 1)
    # same fixed-total-number expectation as NEST (formula above), exact after rounding
    assert np.array_equal(counts, np.round(_expected_synapses(0.05)))
    # weights: normal around the PD14 PSC means (Table 5, relative s.d. 0.1) and sign-preserving;
    # the mean of k draws is within 5 standard errors
    for i, j in [(0, 2), (2, 3), (4, 4)]:
        sel = (pop_post == i) & (pop_pre == j)
        mu = p["w"][i, j]
        w = conn["w"][sel]
        assert np.all(np.sign(w) == np.sign(mu))
        assert abs(w.mean() - mu) < 5 * abs(mu) * 0.1 / np.sqrt(sel.sum())
    # delays are on the dt grid and at least one step (NEST resolution rule)
    assert conn["delay_steps"].min() == 1
    exc = pop_pre % 2 == 0
    # excitatory delays: normal(1.5 ms, 0.75 ms) (PD14 Table 5) redrawn below dt/2, i.e. a
    # truncated normal, whose mean is scipy's analytic truncnorm mean; grid rounding is unbiased
    lo = (0.05 - 1.5) / 0.75
    expected = truncnorm.mean(lo, np.inf, loc=1.5, scale=0.75)
    assert abs(conn["delay_steps"][exc].mean() * 0.1 - expected) < 0.005
