"""PD14 validation (slow: compiled runs at scale 0.1 and 0.25, 5 seeds, 0.5 s transient discarded).

Reference for the rates: NEST 3.10 running the identical network in the same session
(:func:`circuits.pd14.run_pd14_nest`: same sizes, synapse numbers, weights, delays, DC and
background, NEST's own ``fixed_total_number`` connectivity and ``iaf_psc_exp`` neurons), mean of
5 seeds each; ours must agree within +-10 % per population (issue #4, "NEST run by our own
benchmark in the same run"). The NEST numbers quoted in issue #4 are compared in
``docs/columns.md``: neither our engine nor two independent NEST builds of the described network
reproduce them for L2/3I and L5E (see the report there).
"""

from __future__ import annotations

import pytest

from columns.pd14 import PD14_POPULATION_ORDER

pytestmark = [pytest.mark.slow, pytest.mark.compiled, pytest.mark.usefixtures("brian2_numpy")]

SEEDS = [1, 2, 3, 4, 5]
_CACHE: dict[tuple[str, float], dict] = {}


def _ours(scale: float) -> dict:
    from circuits.pd14 import run_pd14

    if ("ours", scale) not in _CACHE:
        _CACHE[("ours", scale)] = run_pd14(scale, SEEDS, device="runtime", target="cython")
    return _CACHE[("ours", scale)]


def _nest(scale: float) -> dict:
    from circuits.pd14 import run_pd14_nest

    if ("nest", scale) not in _CACHE:
        _CACHE[("nest", scale)] = run_pd14_nest(scale, SEEDS)
    return _CACHE[("nest", scale)]


@pytest.mark.parametrize("scale", [0.1, 0.25])
def test_rates_match_nest_on_identical_network(scale):
    ours, nest = _ours(scale)["populations"], _nest(scale)["populations"]
    for pop in PD14_POPULATION_ORDER:
        a, b = ours[pop]["rate_hz_mean"], nest[pop]["rate_hz_mean"]
        # Issue #4: within +-10 % of NEST 3.10 on the same network (5 seeds each).
        assert a == pytest.approx(b, rel=0.10), f"{pop}: ours {a:.3f} vs NEST {b:.3f}"


@pytest.mark.parametrize("scale", [0.1, 0.25])
def test_rate_order(scale):
    pops = _ours(scale)["populations"]
    rate = {p: pops[p]["rate_hz_mean"] for p in PD14_POPULATION_ORDER}
    # PD14 Fig. 6: inhibitory rates exceed excitatory ones in every layer ...
    for layer in ("l23", "l4", "l5", "l6"):
        assert rate[f"{layer}_pv"] > rate[f"{layer}_exc"], layer
    # ... and L2/3E and L6E are the two lowest.
    assert set(sorted(rate, key=rate.get)[:2]) == {"l23_exc", "l6_exc"}


def test_isi_cv_above_0_8_in_a_long_run():
    from circuits.pd14 import run_pd14

    # ISI CVs of 1 s trains are biased low (a 4 Hz Poisson train gives 0.82 on average), so
    # irregularity is measured on 10 s after the transient (PD14 Fig. 6: CV ~0.8-1 in every
    # population; DESIGN 5 gate G1: CV > 0.8).
    pops = run_pd14(0.1, [1], device="runtime", target="cython", t_sim=10.0)["populations"]
    for pop in PD14_POPULATION_ORDER:
        assert pops[pop]["cv_isi_mean"] > 0.8, f"{pop}: CV {pops[pop]['cv_isi_mean']:.2f}"
