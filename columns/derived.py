"""Derived quantities of the column and PD14 models (pure functions, unit-checked).

Functions
---------
psc_over_psp
    Factor converting a peak PSP into the amplitude of an exponential PSC (PD14 helpers).
psp_to_psc
    Peak PSP -> PSC amplitude.
total_synapse_number
    PD14's fixed-total-number rule K = ln(1-C)/ln(1-1/(N_pre N_post)).
scaled_synapse_number
    Number of synapses of a network down-scaled by ``n_scale`` and ``k_scale``.
dc_from_poisson
    Mean current of Poisson input through exponential current synapses.
dc_compensation
    Extra DC replacing the mean input lost by scaling in-degrees by ``k_scale``.
lif_first_spike_time
    Time to the first spike of a LIF neuron at rest under a step current.
psc_to_conductance
    Peak conductance giving a PSC amplitude at a holding potential.

References
----------
Potjans TC, Diesmann M (2014) Cereb Cortex 24:785. doi:10.1093/cercor/bhs358.
van Albada SJ, Helias M, Diesmann M (2015) Scalability of asynchronous networks is limited
by one-to-one mapping between effective connectivity and correlations. PLoS Comput Biol
11:e1004490. doi:10.1371/journal.pcbi.1004490 (the 1/sqrt(K) weight and DC compensation).
Hanuschkin A et al. (2010) Front Neuroinform 4:113. doi:10.3389/fninf.2010.00113 (Eq. 5).
"""

from __future__ import annotations

import numpy as np
from brian2 import Quantity, amp, check_units, farad, hertz, second, siemens, volt

from analysis.errors import ConfigError

__all__ = [
    "psc_over_psp",
    "psp_to_psc",
    "total_synapse_number",
    "scaled_synapse_number",
    "dc_from_poisson",
    "dc_compensation",
    "lif_first_spike_time",
    "psc_to_conductance",
]


@check_units(c_m=farad, tau_m=second, tau_syn=second, result=amp / volt)
def psc_over_psp(c_m: Quantity, tau_m: Quantity, tau_syn: Quantity) -> Quantity:
    """Factor converting the peak of a PSP into the amplitude of an exponential PSC.

    Parameters
    ----------
    c_m : Quantity (farad)
        Membrane capacitance.
    tau_m : Quantity (second)
        Membrane time constant.
    tau_syn : Quantity (second)
        Synaptic time constant (must differ from ``tau_m``).

    Returns
    -------
    Quantity (amp/volt)
        PSC amplitude per volt of peak PSP.

    Raises
    ------
    ConfigError
        If ``tau_syn`` equals ``tau_m`` (the formula is singular) or either is not positive.

    Notes
    -----
    A current :math:`J e^{-t/\\tau_s}` into a LIF membrane gives
    :math:`v(t) = \\frac{J \\tau_s \\tau_m}{C (\\tau_m - \\tau_s)} (e^{-t/\\tau_m} - e^{-t/\\tau_s})`,
    maximal at :math:`t^* = \\frac{\\tau_m \\tau_s}{\\tau_m - \\tau_s} \\ln(\\tau_m/\\tau_s)`
    (Hanuschkin et al. 2010, Eq. 5); the factor is :math:`1 / v(t^*)` at :math:`J = 1`.

    Examples
    --------
    >>> from brian2 import pF, ms, mV, pA
    >>> round(float(psc_over_psp(250 * pF, 10 * ms, 0.5 * ms) * mV / pA), 2)
    585.39
    """
    if not (tau_m > 0 * second and tau_syn > 0 * second):
        raise ConfigError("tau_m and tau_syn must be positive")
    if abs(float(tau_m / tau_syn) - 1.0) < 1e-9:
        raise ConfigError("tau_syn must differ from tau_m for the PSP -> PSC conversion")
    t_peak = tau_m * tau_syn / (tau_m - tau_syn) * np.log(float(tau_m / tau_syn))
    peak_per_amp = tau_s_tau_m_over_c(c_m, tau_m, tau_syn) * (np.exp(-t_peak / tau_m) - np.exp(-t_peak / tau_syn))
    return 1.0 / peak_per_amp


def tau_s_tau_m_over_c(c_m: Quantity, tau_m: Quantity, tau_syn: Quantity) -> Quantity:
    """The prefactor tau_s tau_m / (C (tau_m - tau_s)) of the PSP kernel (ohm)."""
    return tau_syn * tau_m / (c_m * (tau_m - tau_syn))


@check_units(psp=volt, c_m=farad, tau_m=second, tau_syn=second, result=amp)
def psp_to_psc(psp: Quantity, c_m: Quantity, tau_m: Quantity, tau_syn: Quantity) -> Quantity:
    """Amplitude of the exponential PSC whose PSP peaks at ``psp``.

    Parameters
    ----------
    psp : Quantity (volt)
        Peak PSP (negative for inhibition).
    c_m, tau_m, tau_syn : Quantity
        As in :func:`psc_over_psp`.

    Returns
    -------
    Quantity (amp)

    Examples
    --------
    >>> from brian2 import pF, ms, mV, pA
    >>> round(float(psp_to_psc(0.15 * mV, 250 * pF, 10 * ms, 0.5 * ms) / pA), 2)
    87.81
    """
    return psp * psc_over_psp(c_m, tau_m, tau_syn)


@check_units(probability=1, n_pre=1, n_post=1, result=1)
def total_synapse_number(probability: float, n_pre: int, n_post: int) -> float:
    """Total number of synapses of PD14's fixed-total-number rule (with multapses).

    Parameters
    ----------
    probability : float
        Connection probability C in [0, 1] (probability that a pair has >= 1 synapse).
    n_pre, n_post : int
        Population sizes.

    Returns
    -------
    float
        :math:`K = \\ln(1 - C) / \\ln(1 - 1/(N_{pre} N_{post}))` (not rounded).

    Raises
    ------
    ConfigError
        If ``probability`` is outside [0, 1) or a size is not positive.

    Notes
    -----
    Drawing K synapses with replacement among the :math:`N_{pre} N_{post}` pairs leaves a pair
    unconnected with probability :math:`(1 - 1/(N_{pre}N_{post}))^K = 1 - C`; this keeps the
    pairwise connection probability C while allowing multapses (PD14, Eq. 1).

    Examples
    --------
    >>> round(total_synapse_number(0.1, 100, 100))
    1054
    """
    if not 0.0 <= probability < 1.0:
        raise ConfigError(f"connection probability must be in [0, 1), got {probability}")
    if n_pre < 1 or n_post < 1:
        raise ConfigError(f"population sizes must be positive, got n_pre={n_pre}, n_post={n_post}")
    pairs = float(n_pre) * float(n_post)
    if pairs == 1.0:
        return 0.0 if probability == 0 else float("inf")
    return float(np.log1p(-probability) / np.log1p(-1.0 / pairs))


@check_units(probability=1, full_n_pre=1, full_n_post=1, n_scale=1, k_scale=1, result=1)
def scaled_synapse_number(
    probability: float, full_n_pre: int, full_n_post: int, n_scale: float, k_scale: float
) -> int:
    """Synapse number of a down-scaled network, as the PD14 reference computes it.

    Parameters
    ----------
    probability : float
        Full-scale connection probability.
    full_n_pre, full_n_post : int
        Full-scale population sizes.
    n_scale, k_scale : float
        Scaling of the neuron numbers and of the in-degrees (both > 0).

    Returns
    -------
    int
        ``round(K_full * n_scale * k_scale)``: the in-degree of every target is
        ``k_scale`` times the full-scale one.

    Examples
    --------
    >>> scaled_synapse_number(0.1009, 20683, 20683, 0.1, 0.1)
    454998
    """
    if not (n_scale > 0 and k_scale > 0):
        raise ConfigError(f"n_scale and k_scale must be positive, got {n_scale}, {k_scale}")
    return int(np.round(total_synapse_number(probability, full_n_pre, full_n_post) * n_scale * k_scale))


@check_units(rate=hertz, indegree=1, psc=amp, tau_syn=second, result=amp)
def dc_from_poisson(rate: Quantity, indegree: float, psc: Quantity, tau_syn: Quantity) -> Quantity:
    """Mean current of ``indegree`` Poisson inputs of ``rate`` through exponential PSCs.

    Parameters
    ----------
    rate : Quantity (hertz)
    indegree : float
    psc : Quantity (amp)
        PSC amplitude.
    tau_syn : Quantity (second)

    Returns
    -------
    Quantity (amp)
        :math:`\\nu K J \\tau_s` (PD14 ``dc_input_compensating_poisson``).

    Examples
    --------
    >>> from brian2 import Hz, pA, ms
    >>> round(float(dc_from_poisson(8 * Hz, 1000, 100 * pA, 0.5 * ms) / pA), 6)
    400.0
    """
    return rate * indegree * psc * tau_syn


@check_units(mean_input=amp, k_scale=1, result=amp)
def dc_compensation(mean_input: Quantity, k_scale: float) -> Quantity:
    """DC replacing the mean input lost when in-degrees shrink by ``k_scale``.

    Parameters
    ----------
    mean_input : Quantity (amp)
        Mean synaptic current of the full-scale network (sum over sources of
        rate x in-degree x PSC x tau_syn).
    k_scale : float
        In-degree scale (weights are multiplied by 1/sqrt(k_scale)).

    Returns
    -------
    Quantity (amp)
        :math:`(1 - \\sqrt{k}) I_{mean}`: with weights x :math:`1/\\sqrt{k}` and in-degrees
        x :math:`k` the mean input is :math:`\\sqrt{k} I_{mean}` and the variance is
        kept (van Albada et al. 2015).

    Examples
    --------
    >>> from brian2 import pA
    >>> float(dc_compensation(100 * pA, 0.25) / pA)
    50.0
    """
    if not k_scale > 0:
        raise ConfigError(f"k_scale must be positive, got {k_scale}")
    return (1.0 - np.sqrt(k_scale)) * mean_input


@check_units(current=amp, c_m=farad, tau_m=second, v_threshold=volt, v_rest=volt, result=second)
def lif_first_spike_time(
    current: Quantity, c_m: Quantity, tau_m: Quantity, v_threshold: Quantity, v_rest: Quantity
) -> Quantity:
    """First-spike time of a LIF neuron starting at rest under a constant current.

    Parameters
    ----------
    current : Quantity (amp)
        Step current switched on at t = 0.
    c_m, tau_m : Quantity
        Capacitance and membrane time constant.
    v_threshold, v_rest : Quantity (volt)

    Returns
    -------
    Quantity (second)
        :math:`T = \\tau_m \\ln\\frac{I \\tau_m}{I \\tau_m - (V_{th} - E_L) C_m}`;
        ``inf`` below rheobase.

    Examples
    --------
    >>> from brian2 import pA, pF, ms, mV
    >>> round(float(lif_first_spike_time(500 * pA, 250 * pF, 10 * ms, -50 * mV, -65 * mV) / ms), 4)
    13.8629
    """
    drive = current * tau_m
    needed = (v_threshold - v_rest) * c_m
    if drive <= needed:
        return np.inf * second
    return tau_m * np.log(float(drive / (drive - needed)))


@check_units(psc=amp, e_rev=volt, v_hold=volt, result=siemens)
def psc_to_conductance(psc: Quantity, e_rev: Quantity, v_hold: Quantity) -> Quantity:
    """Peak conductance whose current at ``v_hold`` has amplitude ``|psc|``.

    Parameters
    ----------
    psc : Quantity (amp)
        PSC amplitude (sign ignored: the sign comes from the reversal potential).
    e_rev : Quantity (volt)
        Reversal potential.
    v_hold : Quantity (volt)
        Typical membrane potential at which the currents should agree.

    Returns
    -------
    Quantity (siemens)

    Examples
    --------
    >>> from brian2 import pA, mV, nS
    >>> round(float(psc_to_conductance(-100 * pA, -80 * mV, -60 * mV) / nS), 6)
    5.0
    """
    driving = abs(e_rev - v_hold)
    if driving == 0 * volt:
        raise ConfigError("e_rev must differ from v_hold for the PSC -> conductance conversion")
    return abs(psc) / driving


# check_units wrappers report brian2 as their module, so doctest would skip them.
__test__ = {name: globals()[name] for name in __all__}
