"""Column wiring: fixed-total-number counts, PD14 scaling, every pathway built at tiny N."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("brian2_numpy")


def test_total_synapse_number_formula():
    from columns.derived import total_synapse_number

    # K = ln(1 - C) / ln(1 - 1/(N_pre N_post)) (PD14 Eq. 1), here evaluated independently.
    c, n_pre, n_post = 0.1009, 20683, 20683
    expected = np.log(1 - c) / np.log(1 - 1 / (n_pre * n_post))
    # (log1p in ours vs the naive log here differ by ~1e-8 relative: rounding of 1 - 1/N^2.)
    assert total_synapse_number(c, n_pre, n_post) == pytest.approx(expected, rel=1e-6)


def test_fixed_total_number_gives_connection_probability(rng):
    from columns.derived import total_synapse_number
    from columns.wiring import draw_fixed_total_number

    n_pre, n_post, c = 300, 200, 0.1
    k = int(round(total_synapse_number(c, n_pre, n_post)))
    pre, post = draw_fixed_total_number(n_pre, n_post, k, rng)
    assert pre.size == k
    connected = np.unique(pre.astype(np.int64) * n_post + post).size
    pairs = n_pre * n_post
    # With replacement, P(pair connected) = 1 - (1 - 1/pairs)^K = C exactly; the count of
    # connected pairs is within 3 s.d. of the binomial expectation C * pairs.
    assert abs(connected - c * pairs) < 3 * np.sqrt(pairs * c * (1 - c))


def test_rf_falloff_keeps_total_and_prefers_near_pairs(rng):
    from columns.wiring import draw_fixed_total_number

    pos = np.column_stack([np.linspace(0, 10, 200), np.zeros(200)])
    pre, post = draw_fixed_total_number(200, 200, 5000, rng, pre_positions=pos, post_positions=pos, falloff_sigma=1.0)
    assert pre.size == 5000
    d = np.abs(pos[pre, 0] - pos[post, 0])
    # Accepted distances follow a half-normal of s.d. sigma (uniform positions, edge effects
    # shrink it slightly): mean sigma*sqrt(2/pi) = 0.80 deg; uniform pairs would give 3.3 deg.
    assert d.mean() == pytest.approx(np.sqrt(2 / np.pi), rel=0.1)


def test_pd14_derived_numbers_match_reference_sizes():
    from columns.column import column_derived
    from columns.pd14 import pd14_params

    d = column_derived(pd14_params(0.1))
    # Issue #8 table: scale 0.1 has 7.7k neurons and 3.0M synapses (PD14 full: 77,169 neurons).
    assert sum(d.sizes.values()) == pytest.approx(7717, abs=8)
    assert sum(d.synapse_numbers.values()) == pytest.approx(3.0e6, rel=0.02)
    # Weights x 1/sqrt(0.1): 87.81 pA * 3.162 = 277.7 pA (PD14 Table 5 w = 87.8 pA).
    w = d.weights[("l23_exc", "l23_exc")]
    assert float(w / 1e-12) == pytest.approx(87.81 / np.sqrt(0.1), rel=1e-3)
    # L4E -> L2/3E doubled, inhibitory g = -4 (PD14 Table 5).
    assert float(d.weights[("l4_exc", "l23_exc")] / w) == pytest.approx(2.0, rel=1e-9)
    assert float(d.weights[("l23_pv", "l23_exc")] / w) == pytest.approx(-4.0, rel=1e-9)
    # Background in-degree K_ext * k_scale: 1600 * 0.1 (PD14 Table 5).
    assert d.background_indegree["l23_exc"] == 160


def test_pd14_dc_compensation_matches_reference_helper():
    from columns.column import column_derived
    from columns.pd14 import PD14_CONNECTION_PROBABILITIES, PD14_FULL_RATES_HZ, PD14_POPULATION_ORDER, PD14_POPULATIONS, pd14_params

    k = 0.1
    d = column_derived(pd14_params(k))
    # Independent re-computation of the INM-6 helper adjust_weights_and_input_to_synapse_scaling
    # (units pA, ms, Hz): DC = 0.001 tau_syn (1 - sqrt k) (sum_j PSC_j K_j nu_j + PSC_ext K_ext nu_bg).
    psc = 87.8099
    n = np.array([PD14_POPULATIONS[p].full_size for p in PD14_POPULATION_ORDER], dtype=float)
    tgt = "l4_exc"
    rec = 0.0
    for j, src in enumerate(PD14_POPULATION_ORDER):
        c = PD14_CONNECTION_PROBABILITIES[(src, tgt)]
        k_full = np.log(1 - c) / np.log(1 - 1 / (n[j] * PD14_POPULATIONS[tgt].full_size)) / PD14_POPULATIONS[tgt].full_size
        w = psc * (1 if src.endswith("exc") else -4)
        rec += w * k_full * PD14_FULL_RATES_HZ[src]
    ext = psc * 2100 * 8.0
    expected = 0.001 * 0.5 * (1 - np.sqrt(k)) * (rec + ext)
    assert float(d.dc[tgt] / 1e-12) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("model", ["current", "conductance"])
def test_every_pathway_built_at_tiny_n(brian2_numpy, model):
    from brian2 import Network, SpikeMonitor, ms

    from columns.column import build_column
    from columns.pathways import COLUMN_PATHWAYS, DEFAULT_COLUMN

    params = dataclasses.replace(
        DEFAULT_COLUMN, n_scale=0.005, cell_model=model, charge_populations=tuple(DEFAULT_COLUMN.populations)
    )
    col = build_column(params, "v9", connectivity_seed=3, initial_state_seed=4)
    mons = [SpikeMonitor(g, name=f"{g.name}_spikes") for g in col.populations.values()]
    Network(*col.brian_objects(), *mons).run(5 * ms)
    built = {k for k in COLUMN_PATHWAYS if col.derived.synapse_numbers[k] > 0}
    assert set(col.synapses) == built and len(built) >= 20  # 22 PD14 pathways minus 0-count ones
    for key, syn in col.synapses.items():
        # Each pathway holds exactly the fixed total number (PD14 rule, scaled).
        assert len(syn) == col.derived.synapse_numbers[key]
        assert syn.name == f"v9_{key[0]}_to_v9_{key[1]}"
        mean_w = float(np.mean(syn.w[:]))
        # Weights are drawn around the derived mean with 10 % s.d. (PD14 Table 5): the sample
        # mean of n weights is within 4 s.e. of it.
        expected = float(col.derived.weights[key])
        assert abs(mean_w - expected) < 4 * 0.1 * abs(expected) / np.sqrt(len(syn)) + 1e-30
    for name in col.population_names:
        variables = col.pathway_variables(name)
        charges = col.charge_variables(name)
        assert set(variables) == {"ff", "l4", "l23", "l5", "pv", "bg"}
        for var in [*variables.values(), *charges.values()]:
            assert var in col.population(name).variables


def test_delays_respect_minimum_and_mean(rng):
    from brian2 import ms, second

    from columns.wiring import draw_delays

    d = np.asarray(draw_delays(0.75 * ms, 0.5, 200000, rng, 0.1 * ms) / second)
    assert d.min() >= 1e-4
    # Truncated normal N(0.75, 0.375) at 0.1 ms: mean = mu + sigma phi(a)/(1 - Phi(a)), a = -1.733
    # (scipy-free closed form): phi(a) = 0.0889, 1 - Phi(a) = 0.9585 -> 0.7848 ms.
    assert d.mean() * 1e3 == pytest.approx(0.7848, abs=0.003)


def test_external_input_onto_feedforward_port(brian2_numpy):
    from brian2 import Network, SpikeGeneratorGroup, StateMonitor, ms, pA

    from columns.column import build_column
    from columns.pathways import DEFAULT_COLUMN

    params = dataclasses.replace(DEFAULT_COLUMN, n_scale=0.005, pathways={}, replaced_pathways={})
    params = dataclasses.replace(params, background=dataclasses.replace(params.background, enabled=False))
    col = build_column(params, "v1", connectivity_seed=1, initial_state_seed=2)
    lgn = SpikeGeneratorGroup(2, [0, 1], [1.0, 1.0] * ms, name="lgn_on")
    targets = col.port_targets("feedforward")
    assert targets == ("l4_exc", "l4_pv")
    syn = col.connect_input(lgn, "l4_exc", i=[0, 1], j=[0, 0], weight=[100.0, 50.0] * pA, delay=[1.0, 1.0] * ms)
    assert syn.name == "lgn_on_to_v1_l4_exc"
    mon = StateMonitor(col.population("l4_exc"), "I_ff", record=[0, 1], name="v1_l4_exc_iff")
    Network(*col.brian_objects(), lgn, mon).run(3 * ms)
    i_ff = np.asarray(mon.I_ff / pA)
    t = np.asarray(mon.t / ms)
    # Both spikes arrive at 2.0 ms onto cell 0 (spike 1 ms + delay 1 ms): I_ff jumps by the
    # summed weights, 150 pA, and then decays with tau_syn = 0.5 ms; cell 1 gets nothing.
    assert np.all(i_ff[0][t < 2.0] == 0.0)
    assert i_ff[0].max() == pytest.approx(150.0, rel=1e-9)
    k = int(np.argmax(i_ff[0]))
    assert i_ff[0][k + 1] / i_ff[0][k] == pytest.approx(np.exp(-0.1 / 0.5), rel=1e-9)
    assert np.all(i_ff[1] == 0.0)


def test_merged_groups_build_the_same_network_and_spikes(brian2_numpy):
    """Merging populations into shared groups and pathways into shared Synapses changes nothing.

    Expected values come from the unmerged build (``merge=False``, one NeuronGroup per
    population and one Synapses per pathway) with the same seeds: identical connectivity,
    weights, delays and initial state, and identical spikes over 100 ms on the numpy target
    (the merged network only adds the same inputs in another order).
    """
    from brian2 import Network, SpikeMonitor, ms, second

    from columns.pd14 import build_pd14, pd14_params

    params = pd14_params(0.02, background="poisson")
    spikes = {}
    for merge in (True, False):
        brian2_numpy.seed(7)
        col = build_pd14(params, connectivity_seed=3, initial_state_seed=4, merge=merge)
        n_groups = len(col.neuron_groups)
        # PD14 has one cell type: one group when merged, eight when not; 2 vs 64 Synapses
        assert n_groups == (1 if merge else 8)
        assert len(col.synapse_objects) == (2 if merge else len(col.synapses))
        mons = {n: SpikeMonitor(g, name=f"{g.name}_spikes") for n, g in col.populations.items()}
        v0 = {n: np.array(g.v[:], copy=True) for n, g in col.populations.items()}  # [:] may be a view
        conn = {k: (s.i, s.j, np.asarray(s.w / brian2_numpy.amp), np.asarray(s.delay / second)) for k, s in col.synapses.items()}
        Network(*col.brian_objects(), *mons.values()).run(100 * ms)
        spikes[merge] = ({n: (np.asarray(m.i[:]), np.asarray(m.t[:] / ms)) for n, m in mons.items()}, v0, conn)
    (s_m, v_m, c_m), (s_u, v_u, c_u) = spikes[True], spikes[False]
    assert c_m.keys() == c_u.keys()
    for key in c_m:
        for a, b in zip(c_m[key], c_u[key]):
            np.testing.assert_array_equal(a, b)
    for name in v_m:
        np.testing.assert_array_equal(v_m[name], v_u[name])
        np.testing.assert_array_equal(s_m[name][0], s_u[name][0])
        np.testing.assert_allclose(s_m[name][1], s_u[name][1], atol=1e-9)
    assert sum(len(i) for i, _ in s_m.values()) > 50  # the comparison covers real activity


def test_silencing_one_population_of_a_shared_group_leaves_the_others(brian2_numpy):
    """The silencing window is per cell: silencing L4 E must not touch L4 PV held in the same group."""
    from brian2 import ms

    from columns.column import SILENCING_CURRENT
    from columns.pd14 import build_pd14, pd14_params

    col = build_pd14(pd14_params(0.02), connectivity_seed=3, initial_state_seed=4)
    assert col.population("l4_exc").source is col.population("l4_pv").source
    col.silence("l4_exc", 10 * ms, 20 * ms)
    assert np.all(np.asarray(col.population("l4_exc").silence_amplitude[:]) == float(SILENCING_CURRENT))
    assert np.all(np.asarray(col.population("l4_pv").silence_amplitude[:]) == 0.0)


def test_column_without_hooks_gives_identical_spikes(brian2_numpy):
    """Leaving out the manipulation hooks changes nothing but the state read per step.

    Expected values: the build with every hook (``columns.cell_models.HOOKS``) and the same
    seeds. With the hooks neutral (``I_tonic = 0``, no silencing window, ``gain_ff = 1``)
    the full model adds ``+0``, ``-0`` and ``1*`` terms, exact in IEEE arithmetic, so the
    spikes and final potentials on the numpy target must be bit-identical. The thalamus
    drives ``I_ff``, the pathway the gain hook scales, so that term is exercised too.
    """
    from brian2 import Network, SpikeMonitor, ms

    from columns.cell_models import HOOKS
    from columns.pd14 import ThalamusParams, build_pd14, pd14_params

    thalamus = ThalamusParams(enabled=True, start=20 * ms, duration=30 * ms)
    out = {}
    for hooks in (HOOKS, ()):
        brian2_numpy.seed(11)
        col = build_pd14(pd14_params(0.02), connectivity_seed=3, initial_state_seed=4, thalamus=thalamus, hooks=hooks)
        group = col.neuron_groups[0]
        assert ("gain_ff" in group.variables) == bool(hooks) and ("silence_start" in group.variables) == bool(hooks)
        mons = {n: SpikeMonitor(g, name=f"{g.name}_spikes") for n, g in col.populations.items()}
        Network(*col.brian_objects(), *mons.values()).run(80 * ms)
        out[bool(hooks)] = ({n: (np.asarray(m.i[:]), np.asarray(m.t_[:])) for n, m in mons.items()}, np.array(group.v_[:]))
    (s_full, v_full), (s_lean, v_lean) = out[True], out[False]
    for name in s_full:
        np.testing.assert_array_equal(s_full[name][0], s_lean[name][0])
        np.testing.assert_array_equal(s_full[name][1], s_lean[name][1])
    np.testing.assert_array_equal(v_full, v_lean)
    assert sum(len(i) for i, _ in s_full.values()) > 50  # the comparison covers real activity


@pytest.mark.parametrize("hook", ["silence", "tonic", "gain"])
def test_manipulation_without_its_hook_raises(brian2_numpy, hook):
    from brian2 import pA, second

    from analysis.errors import ConfigError
    from columns.pd14 import build_pd14, pd14_params

    others = [h for h in ("tonic", "silence", "gain") if h != hook]
    col = build_pd14(pd14_params(0.01), connectivity_seed=3, initial_state_seed=4, hooks=others)
    calls = {"silence": lambda: col.silence("l4_exc", 0 * second, 1 * second),
             "tonic": lambda: col.set_tonic_drive("l5_exc", 10 * pA),
             "gain": lambda: col.set_gain("l5_exc", 2.0)}
    with pytest.raises(ConfigError, match=f"without the '{hook}' hook"):
        calls[hook]()
    for other in others:  # the hooks that were built still work
        calls[other]()


def test_unknown_hook_is_refused_with_the_allowed_names():
    from analysis.errors import ConfigError
    from columns.cell_models import lif_equations

    with pytest.raises(ConfigError, match="unknown manipulation hook 'silense'.*did you mean 'silence'"):
        lif_equations({"ff": "exc"}, hooks=["silense"])
    with pytest.raises(ConfigError, match="got the string"):
        lif_equations({"ff": "exc"}, hooks="gain")
