"""Parameter dataclasses of one laminar column (Brian2 quantities, no logic).

Classes
-------
CellParams
    Leaky integrate-and-fire membrane and synaptic time constants (PyNN names).
PopulationParams
    One population: layer, cell type, full-scale size, initial state, background in-degree.
PathwayParams
    One intra-column pathway: full-scale connection probability, PSP, delays, target current.
BackgroundParams
    Poisson (or DC) background input of every population.
ColumnParams
    A whole column: populations, pathways, background, scaling.

Default instances
-----------------
DEFAULT_EXC_CELL, DEFAULT_PV_CELL, DEFAULT_BACKGROUND, DEFAULT_COLUMN (built in
:mod:`columns.pathways`, where the PD14 tables live).

The parameter names follow PyNN's standard names (``tau_m``, ``v_rest``, ``c_m``...);
the same identifiers appear in the Brian2 equations and in the ``namespace`` of every
group, so no translation table exists inside the package.

References
----------
Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit. Cereb Cortex
24:785-806. doi:10.1093/cercor/bhs358 (Tables 4 and 5; referred to as PD14).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from brian2 import Hz, Quantity, mV, ms, pF

__all__ = [
    "CellParams",
    "PopulationParams",
    "PathwayParams",
    "BackgroundParams",
    "ColumnParams",
    "DEFAULT_EXC_CELL",
    "DEFAULT_PV_CELL",
    "DEFAULT_BACKGROUND",
    "CELL_TYPES",
    "LAYERS",
]

#: Cell types of a column population (``exc``: pyramidal/spiny stellate; ``pv``: fast-spiking).
CELL_TYPES = ("exc", "pv")
#: Layers known to the package (``l6`` only in the PD14 preset).
LAYERS = ("l23", "l4", "l5", "l6")


@dataclass(frozen=True)
class CellParams:
    """Leaky integrate-and-fire neuron with exponential synaptic currents or conductances.

    Parameters
    ----------
    c_m : Quantity (farad)
        Membrane capacitance.
    tau_m : Quantity (second)
        Membrane time constant.
    v_rest, v_reset, v_threshold : Quantity (volt)
        Resting (leak reversal) potential, reset potential, spike threshold.
    tau_refractory : Quantity (second)
        Absolute refractory period (membrane clamped at ``v_reset``).
    tau_syn_exc, tau_syn_inh : Quantity (second)
        Decay time constants of excitatory and inhibitory synaptic currents (or conductances).
    e_rev_exc, e_rev_inh : Quantity (volt)
        Reversal potentials, used by the conductance-based variant only.
    """

    c_m: Quantity
    tau_m: Quantity
    v_rest: Quantity
    v_reset: Quantity
    v_threshold: Quantity
    tau_refractory: Quantity
    tau_syn_exc: Quantity
    tau_syn_inh: Quantity
    e_rev_exc: Quantity
    e_rev_inh: Quantity

    def namespace(self) -> dict[str, Any]:
        """The ``namespace`` of a group using this cell: field name -> quantity."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


DEFAULT_EXC_CELL = CellParams(
    c_m=250.0 * pF,  # PD14 Table 5 (C_m)
    tau_m=10.0 * ms,  # PD14 Table 5 (tau_m)
    v_rest=-65.0 * mV,  # PD14 Table 5 (E_L)
    v_reset=-65.0 * mV,  # PD14 Table 5 (V_reset)
    v_threshold=-50.0 * mV,  # PD14 Table 5 (theta)
    tau_refractory=2.0 * ms,  # PD14 Table 5 (tau_ref)
    tau_syn_exc=0.5 * ms,  # PD14 Table 5 (tau_syn)
    tau_syn_inh=0.5 * ms,  # PD14 Table 5 (tau_syn)
    e_rev_exc=0.0 * mV,  # AMPA reversal; Destexhe, Mainen & Sejnowski 1994, doi:10.1007/BF00961734
    e_rev_inh=-80.0 * mV,  # GABA_A reversal; Destexhe, Mainen & Sejnowski 1994, doi:10.1007/BF00961734
)

DEFAULT_PV_CELL = dataclasses.replace(
    DEFAULT_EXC_CELL,
    # Fast-spiking PV basket cells have about half the membrane time constant of pyramidal
    # cells and sub-ms to 1 ms refractoriness: Tremblay, Lee & Rudy 2016, Neuron 91:260,
    # doi:10.1016/j.neuron.2016.06.033 (Table 1: tau_m 5-8 ms, spike width < 0.4 ms).
    tau_m=5.0 * ms,
    tau_refractory=1.0 * ms,
)


@dataclass(frozen=True)
class PopulationParams:
    """One population of a column.

    Parameters
    ----------
    layer : str
        ``l23``, ``l4``, ``l5`` (or ``l6`` in the PD14 preset).
    cell_type : str
        ``exc`` or ``pv``.
    full_size : int
        Number of neurons of the full-scale network (``n_scale`` = 1).
    cell : CellParams
        Membrane and synapse parameters.
    v_init_mean, v_init_std : Quantity (volt)
        Normal distribution of the initial membrane potential.
    background_indegree : int
        Full-scale number of external (cortico-cortical) Poisson inputs per neuron, K_ext.
    full_rate : Quantity (hertz)
        Mean rate of this population in the full-scale network; needed for the DC
        compensation of down-scaled in-degrees (PD14 ``full_mean_rates``).
    """

    layer: str
    cell_type: str
    full_size: int
    cell: CellParams
    v_init_mean: Quantity
    v_init_std: Quantity
    background_indegree: int
    full_rate: Quantity


@dataclass(frozen=True)
class PathwayParams:
    """One pathway ``(source, target)`` of the column's connection table.

    Parameters
    ----------
    probability : float
        Full-scale connection probability C (PD14 Table 5); with the fixed-total-number
        rule the full-scale number of synapses is ln(1-C)/ln(1-1/(N_pre N_post)).
    psp_mean : Quantity (volt)
        Mean peak PSP amplitude; negative for inhibitory pathways.
    weight_rel_std : float
        Standard deviation of the weights relative to the mean.
    delay_mean : Quantity (second)
        Mean transmission delay.
    delay_rel_std : float
        Standard deviation of the delays relative to the mean.
    current : str
        Suffix of the target's pathway variable (``"l4"`` -> ``I_l4``; ``"pv"`` -> ``I_pv``).
    """

    probability: float
    psp_mean: Quantity
    weight_rel_std: float
    delay_mean: Quantity
    delay_rel_std: float
    current: str


@dataclass(frozen=True)
class BackgroundParams:
    """Background input to every population (PD14's cortico-cortical input).

    Parameters
    ----------
    enabled : bool
        Switch the background (Poisson or DC) on or off.
    kind : str
        ``"poisson"``: independent Poisson input per neuron (``PoissonInput``);
        ``"dc"``: its mean as a constant current.
    rate : Quantity (hertz)
        Rate of each external source.
    scale : float
        Multiplies ``rate`` (background-noise scale per station).
    psp : Quantity (volt)
        PSP of one external input.
    delay : Quantity (second)
        Delay of the external input (irrelevant for Poisson statistics; kept for the record).
    sampler : str
        How the Poisson counts are drawn (same statistics, other random draws; see
        :mod:`columns.background`): ``"event_gaps"`` (draws only at steps with an event,
        default) or ``"per_step"`` (a binomial draw per neuron and step, as Brian2's
        ``PoissonInput``; runs made before 2026-11-23, session 4). Also used for the
        Poisson inputs that replace missing populations.
    """

    enabled: bool = True
    kind: str = "poisson"
    rate: Quantity = field(default_factory=lambda: 8.0 * Hz)  # PD14 Table 5 (nu_bg)
    scale: float = 1.0
    psp: Quantity = field(default_factory=lambda: 0.15 * mV)  # PD14 Table 5 (w)
    delay: Quantity = field(default_factory=lambda: 1.5 * ms)  # PD14 reference delay_poisson
    sampler: str = "event_gaps"


DEFAULT_BACKGROUND = BackgroundParams()


@dataclass(frozen=True)
class ColumnParams:
    """A whole column.

    Parameters
    ----------
    populations : dict of str to PopulationParams
        By local name (``l4_exc``...); the Brian2 name is ``{station}_{local}``.
    pathways : dict of (str, str) to PathwayParams
        Connection table keyed by ``(source, target)`` local names.
    n_scale : float
        Population sizes are ``round(full_size * n_scale)``.
    k_scale : float or None
        In-degrees are ``k_scale`` times the full-scale ones (weights x 1/sqrt(k_scale),
        lost mean input replaced by DC); ``None`` means ``n_scale``.
    background : BackgroundParams
        Background input.
    replaced_populations : dict of str to PopulationParams
        Populations left out of the column (PD14's L6 for a 3-layer column) whose input
        is replaced by Poisson input of the same in-degree, weight and full-scale rate.
    replaced_pathways : dict of (str, str) to PathwayParams
        Their pathways onto column populations.
    cell_model : str
        ``"current"`` (exponential current synapses, exact integration) or
        ``"conductance"`` (exponential conductances, exponential Euler).
    rf_falloff_sigma : float or None
        Gaussian fall-off (deg) of the connection probability with the RF-centre distance of
        the two cells; ``None`` for none. Totals stay fixed.
    charge_populations : tuple of str
        Populations with per-pathway charge accumulators ``Q_*``.
    ff_current : str
        Pathway suffix of feedforward/shortcut input (``I_ff``).
    background_current : str
        Pathway suffix of the background input (``I_bg``).
    """

    populations: dict[str, PopulationParams]
    pathways: dict[tuple[str, str], PathwayParams]
    n_scale: float = 1.0
    k_scale: float | None = None
    background: BackgroundParams = DEFAULT_BACKGROUND
    replaced_populations: dict[str, PopulationParams] = field(default_factory=dict)
    replaced_pathways: dict[tuple[str, str], PathwayParams] = field(default_factory=dict)
    cell_model: str = "current"
    rf_falloff_sigma: float | None = None
    charge_populations: tuple[str, ...] = ()
    ff_current: str = "ff"
    background_current: str = "bg"

    @property
    def effective_k_scale(self) -> float:
        """``k_scale``, or ``n_scale`` when it was left ``None``."""
        return self.n_scale if self.k_scale is None else self.k_scale
