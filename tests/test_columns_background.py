"""The event-gap Poisson sampler (columns.background) against the binomial it replaces.

Expected values are analytic: the per-step count of ``n`` Poisson sources of rate ``r`` is
``Binomial(n, p)`` with ``p = r dt``, independent from step to step and from cell to cell
(scipy.stats.binom gives the probabilities). Tolerances are 4 standard errors of the
estimate over the recorded cell-steps unless stated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

pytestmark = pytest.mark.usefixtures("brian2_numpy")


def _per_step_counts(n_sources: float, rate_hz: float, n_cells: int, n_steps: int, seed: int, sampler: str = "event_gaps"):
    from brian2 import Equations, Hz, Network, NeuronGroup, StateMonitor, defaultclock
    from brian2 import seed as brian_seed

    from columns.background import sampler_variables
    from columns.column import poisson_input

    eqs = Equations("x : 1") + (sampler_variables(1) if sampler == "event_gaps" else Equations(""))
    group = NeuronGroup(n_cells, eqs, name="cells")
    if sampler == "event_gaps":
        group.bg_next0 = -1
    zero = group.run_regularly("x = 0", when="start", name="cells_zero")
    source = poisson_input(group, "x", n_inputs=n_sources, rate=rate_hz * Hz, weight=1.0, name="cells_bg",
                           slot=0 if sampler == "event_gaps" else None)
    mon = StateMonitor(group, "x", record=True, when="end", name="cells_x")
    brian_seed(seed)
    Network(group, zero, source, mon).run(n_steps * defaultclock.dt)
    return np.asarray(mon.x[:]), rate_hz * float(defaultclock.dt)


@pytest.mark.parametrize(("n", "rate"), [(210, 8.0), (1600, 8.0), (40, 2.0)])
def test_event_gap_counts_are_binomial_and_independent(n, rate):
    """PD14 background at K-scale 0.1 (210 sources), at full K (1600: 1.3 events per step,
    most steps non-empty) and a sparse input (P(event) 0.008)."""
    x, p = _per_step_counts(n, rate, n_cells=300, n_steps=2000, seed=5)
    m = x.size
    mean, var = n * p, n * p * (1 - p)
    assert x.mean() == pytest.approx(mean, abs=4 * math.sqrt(var / m))
    # sample variance: s.e. sqrt((mu4 - var^2) / m), binomial mu4 = npq (1 + 3pq (n - 2))
    mu4 = n * p * (1 - p) * (1 + 3 * p * (1 - p) * (n - 2))
    assert x.var() == pytest.approx(var, abs=4 * math.sqrt((mu4 - var**2) / m))
    p0 = (1 - p) ** n
    assert (x == 0).mean() == pytest.approx(p0, abs=4 * math.sqrt(p0 * (1 - p0) / m))
    # chi-square of the count histogram against Binomial(n, p), bins with >= 5 expected
    k = np.arange(0, int(x.max()) + 1)
    expected = stats.binom.pmf(k, n, p) * m
    observed = np.bincount(x.astype(int).ravel(), minlength=k.size)
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], m - expected[keep].sum())
    chi2 = float(((obs - exp) ** 2 / np.maximum(exp, 1e-12)).sum())
    assert stats.chi2.sf(chi2, obs.size - 1) > 1e-4
    # independent in time (lag 1, 2) and across cells: correlations within 4 s.e. (1/sqrt(m))
    for lag in (1, 2):
        r = np.corrcoef(x[:, :-lag].ravel(), x[:, lag:].ravel())[0, 1]
        assert abs(r) < 4 / math.sqrt(m)
    r_cells = np.corrcoef(x[:-1].ravel(), x[1:].ravel())[0, 1]
    assert abs(r_cells) < 4 / math.sqrt(m)


def test_event_gap_sampler_matches_the_per_step_sampler():
    """Both samplers give the same count distribution (two-sample chi-square, 6e5 cell-steps each)."""
    a, _ = _per_step_counts(210, 8.0, 300, 2000, seed=1, sampler="event_gaps")
    b, _ = _per_step_counts(210, 8.0, 300, 2000, seed=2, sampler="per_step")
    k = int(max(a.max(), b.max())) + 1
    table = np.array([np.bincount(a.astype(int).ravel(), minlength=k), np.bincount(b.astype(int).ravel(), minlength=k)])
    table = table[:, table.sum(axis=0) >= 10]
    assert stats.chi2_contingency(table)[1] > 1e-4


def test_truncated_table_is_the_conditional_binomial():
    from columns.background import TAIL, truncated_binomial_cdf

    n, p = 210, 0.0008
    cdf = truncated_binomial_cdf(n, p)
    k = np.arange(1, len(cdf) + 1)
    exact = (stats.binom.cdf(k, n, p) - stats.binom.pmf(0, n, p)) / stats.binom.sf(0, n, p)
    np.testing.assert_allclose(cdf[:-1], exact[:-1], rtol=0, atol=1e-14)
    # the table stops at the first count whose conditional upper tail is below TAIL
    tail = stats.binom.sf(k, n, p) / stats.binom.sf(0, n, p)
    assert cdf[-1] == 1.0 and tail[-1] < TAIL <= tail[-2]


def test_same_seed_same_counts():
    a, _ = _per_step_counts(210, 8.0, 50, 300, seed=9)
    b, _ = _per_step_counts(210, 8.0, 50, 300, seed=9)
    np.testing.assert_array_equal(a, b)


def test_sampler_errors_name_the_input_and_the_allowed_range():
    from analysis.errors import ConfigError
    from circuits.config import SCHEMA
    from columns.background import SAMPLERS, event_gap_functions

    with pytest.raises(ConfigError, match=r"'bg' \(rate \* dt\) must be in \(0, 1\), got 1.5"):
        event_gap_functions(10, 1.5, "bg")
    with pytest.raises(ConfigError, match="positive integer"):
        event_gap_functions(0, 0.1, "bg")
    with pytest.raises(ConfigError, match="use the 'per_step' background sampler"):
        event_gap_functions(100000, 0.001, "bg")  # 100 events per step on average
    assert SCHEMA["run"]["background_sampler"].choices == SAMPLERS  # the configuration offers exactly these


_COMPILED = """
import json, sys
import numpy as np
from brian2 import Equations, Hz, Network, NeuronGroup, StateMonitor, defaultclock, device, prefs, seed, set_device
target, directory = sys.argv[1], sys.argv[2]
if target == "cpp_standalone":
    set_device("cpp_standalone", directory=directory, build_on_run=False)
else:
    prefs.codegen.target = "cython"
from columns.background import sampler_variables
from columns.column import poisson_input
group = NeuronGroup(300, Equations("x : 1") + sampler_variables(1), name="cells")
group.bg_next0 = -1
zero = group.run_regularly("x = 0", when="start", name="cells_zero")
source = poisson_input(group, "x", n_inputs=210, rate=8 * Hz, weight=1.0, name="cells_bg", slot=0)
mon = StateMonitor(group, "x", record=True, when="end", name="cells_x")
seed(4)
Network(group, zero, source, mon).run(2000 * defaultclock.dt)
if target == "cpp_standalone":
    device.build(directory=directory, compile=True, run=True, with_output=False)
x = np.asarray(mon.x[:])
print(json.dumps({"hist": np.bincount(x.astype(int).ravel()).tolist(),
                  "lag1": float(np.corrcoef(x[:, :-1].ravel(), x[:, 1:].ravel())[0, 1])}))
"""


@pytest.mark.slow
@pytest.mark.compiled
@pytest.mark.parametrize("target", ["cython", "cpp_standalone"])
def test_compiled_event_gap_counts_are_binomial(tmp_path, target):
    """The C++ and Cython implementations (the numpy one is tested above): chi-square of the
    count histogram against Binomial(210, 0.0008) and lag-1 correlation within 4 s.e."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", _COMPILED, target, str(tmp_path / "build")], capture_output=True,
                          text=True, cwd=repo, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    observed = np.asarray(doc["hist"], float)
    m = observed.sum()
    expected = stats.binom.pmf(np.arange(observed.size), 210, 0.0008) * m
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], m - expected[keep].sum())
    assert stats.chi2.sf(float(((obs - exp) ** 2 / exp).sum()), obs.size - 1) > 1e-4
    assert abs(doc["lag1"]) < 4 / math.sqrt(m)
