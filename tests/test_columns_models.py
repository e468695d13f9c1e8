"""Cell and synapse models of `columns`: analytic checks at tiny N on the numpy target."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("brian2_numpy")


def _single_cell(cell, currents=None, model="current", charges=False):
    from columns.populations import make_population

    return make_population("test_cell", 1, cell, currents or {"ff": "exc", "l4": "exc", "pv": "inh"}, model=model, charges=charges)


def _run(objects, duration):
    from brian2 import Network

    net = Network(*objects)
    net.run(duration)
    return net


@pytest.mark.parametrize("cell_name", ["DEFAULT_EXC_CELL", "DEFAULT_PV_CELL"])
def test_lif_first_spike_time_matches_analytic(brian2_numpy, cell_name):
    from brian2 import SpikeMonitor, defaultclock, ms, pA, second

    import columns.params as cp
    from columns.derived import lif_first_spike_time

    cell = getattr(cp, cell_name)
    defaultclock.dt = 0.005 * ms
    group = _single_cell(cell)
    group.I_tonic = 1000 * pA  # above both rheobases (PV: 250 pF * 15 mV / 5 ms = 750 pA)
    mon = SpikeMonitor(group, name="test_cell_spikes")
    _run([group, mon], 20 * ms)
    expected = lif_first_spike_time(1000 * pA, cell.c_m, cell.tau_m, cell.v_threshold, cell.v_rest)
    # Analytic LIF solution T = tau_m ln(I tau_m / (I tau_m - (V_th - E_L) C_m)) (PyNN scenario 2);
    # exact integration detects the crossing within one step (0.005 ms << 0.5 % of T).
    assert float(mon.t[0] / second) == pytest.approx(float(expected / second), rel=0.005)


def test_psp_peak_matches_psp_to_psc_conversion(brian2_numpy):
    from brian2 import SpikeGeneratorGroup, StateMonitor, defaultclock, ms, mV, pA

    from columns.derived import psp_to_psc
    from columns.params import DEFAULT_EXC_CELL as cell
    from columns.wiring import connect_arrays

    defaultclock.dt = 0.01 * ms
    group = _single_cell(cell)
    psc = psp_to_psc(0.15 * mV, cell.c_m, cell.tau_m, cell.tau_syn_exc)
    # PD14 Table 5 gives w = 87.8 pA for a 0.15 mV PSP.
    assert float(psc / pA) == pytest.approx(87.8, abs=0.05)
    gen = SpikeGeneratorGroup(1, [0], [1.0] * ms, name="test_gen")
    syn = connect_arrays(gen, group, name="test_gen_to_cell", i=[0], j=[0], weight=psc, delay=0.5 * ms, pathway="l4")
    mon = StateMonitor(group, "v", record=0, name="test_cell_v")
    _run([group, gen, syn, mon], 15 * ms)
    peak = float((np.max(mon.v[0]) - cell.v_rest) / mV)
    # The simulated PSP peak must equal the requested 0.15 mV (Hanuschkin et al. 2010, Eq. 5).
    assert peak == pytest.approx(0.15, rel=0.002)


def test_charge_accumulator_and_feedforward_gain(brian2_numpy):
    from brian2 import SpikeGeneratorGroup, StateMonitor, coulomb, defaultclock, ms, mV, pA

    from columns.params import DEFAULT_EXC_CELL as cell
    from columns.wiring import connect_arrays

    defaultclock.dt = 0.01 * ms
    group = _single_cell(cell, charges=True)
    from columns.populations import make_population

    gained = make_population("test_gained", 1, cell, {"ff": "exc"})
    gained.gain_ff = 2.0
    gen = SpikeGeneratorGroup(1, [0], [1.0] * ms, name="test_gen")
    s1 = connect_arrays(gen, group, name="test_gen_to_cell", i=[0], j=[0], weight=100 * pA, delay=0.1 * ms, pathway="ff")
    s2 = connect_arrays(gen, gained, name="test_gen_to_gained", i=[0], j=[0], weight=100 * pA, delay=0.1 * ms, pathway="ff")
    m1 = StateMonitor(group, "v", record=0, name="test_v1")
    m2 = StateMonitor(gained, "v", record=0, name="test_v2")
    _run([group, gained, gen, s1, s2, m1, m2], 20 * ms)
    # Total charge of an exponential PSC of amplitude w is w * tau_syn = 100 pA * 0.5 ms = 50 fC
    # (analytic; 20 ms = 38 tau_syn, the tail is negligible).
    assert float(group.Q_ff[0] / coulomb) == pytest.approx(5e-14, rel=1e-3)
    assert float(group.Q_l4[0] / coulomb) == 0.0  # no input on the L4 pathway
    # gain_ff = 2 doubles the feedforward PSP (linear membrane).
    psp1 = float(np.max(m1.v[0] - cell.v_rest) / mV)
    psp2 = float(np.max(m2.v[0] - cell.v_rest) / mV)
    assert psp2 / psp1 == pytest.approx(2.0, rel=1e-6)


def test_conductance_model_psp_scales_with_driving_force(brian2_numpy):
    from brian2 import SpikeGeneratorGroup, StateMonitor, defaultclock, ms, mV

    from columns.derived import psc_to_conductance, psp_to_psc
    from columns.params import DEFAULT_EXC_CELL as cell
    from columns.wiring import connect_arrays

    defaultclock.dt = 0.01 * ms
    group = _single_cell(cell, model="conductance", charges=True)
    v_hold = -57.5 * mV
    g = psc_to_conductance(psp_to_psc(0.15 * mV, cell.c_m, cell.tau_m, cell.tau_syn_exc), cell.e_rev_exc, v_hold)
    gen = SpikeGeneratorGroup(1, [0], [1.0] * ms, name="test_gen")
    syn = connect_arrays(gen, group, name="test_gen_to_cell", i=[0], j=[0], weight=g, delay=0.1 * ms, pathway="l4", model="conductance")
    mon = StateMonitor(group, "v", record=0, name="test_cell_v")
    _run([group, gen, syn, mon], 15 * ms)
    peak = float((np.max(mon.v[0]) - cell.v_rest) / mV)
    # At rest the driving force is 65 mV instead of 57.5 mV, so the PSP is 0.15 * 65/57.5 mV
    # (linearised conductance synapse); 2 % allows the exponential-Euler error at dt = 0.01 ms.
    assert peak == pytest.approx(0.15 * 65.0 / 57.5, rel=0.02)


def test_silencing_window_stops_firing(brian2_numpy):
    from brian2 import SpikeMonitor, defaultclock, ms, pA, second

    from columns.column import SILENCING_CURRENT
    from columns.params import DEFAULT_EXC_CELL as cell

    defaultclock.dt = 0.1 * ms
    group = _single_cell(cell)
    group.I_tonic = 500 * pA  # regular firing, period 13.9 ms + 2 ms refractory
    group.silence_start = 50 * ms
    group.silence_stop = 150 * ms
    group.silence_amplitude = SILENCING_CURRENT
    mon = SpikeMonitor(group, name="test_cell_spikes")
    _run([group, mon], 200 * ms)
    t = np.asarray(mon.t / second)
    # v_inf = E_L + (500 pA - 3 nA) * 40 MOhm is far below threshold: no spike in the window.
    assert np.sum((t >= 0.05) & (t < 0.15)) == 0
    # Outside it, the analytic period tau_m ln 4 + t_ref = 15.86 ms gives 3 spikes before 50 ms.
    assert np.sum(t < 0.05) == 3


def test_exact_propagator_rejects_foreign_equations(brian2_numpy):
    from brian2 import Equations
    from brian2.stateupdaters.base import UnsupportedEquationsException

    from columns.cell_models import EXACT_LIF

    with pytest.raises(UnsupportedEquationsException):
        EXACT_LIF(Equations("dv/dt = -v**2/(10*ms) : volt"))


def test_wrong_units_in_cell_raise_dimension_mismatch(brian2_numpy):
    import dataclasses

    from brian2 import DimensionMismatchError, Network, ms, mV
    from brian2.core.base import BrianObjectException

    from columns.params import DEFAULT_EXC_CELL

    bad = dataclasses.replace(DEFAULT_EXC_CELL, c_m=250 * mV)
    # Brian2 checks units when the group is built and run (AESTHETICS pitfall table).
    with pytest.raises((DimensionMismatchError, BrianObjectException)) as info:
        group = _single_cell(bad)
        Network(group).run(0.1 * ms)
    cause = info.value if isinstance(info.value, DimensionMismatchError) else info.value.__cause__
    assert isinstance(cause, DimensionMismatchError)
    assert "c_m" in str(cause)
