"""The Potjans & Diesmann (2014) microcircuit as a preset of the column builder.

Eight populations (L2/3, L4, L5, L6 x exc/pv), PD14's connection table with the
fixed-total-number rule, Poisson or DC background, optimised initial membrane potentials,
N/K scaling with 1/sqrt(K) weights and DC compensation, and an optional transient
thalamic input onto L4 and L6 only.

Tables
------
PD14_POPULATIONS
    Population parameters (sizes, K_ext, initial potentials, full-scale rates).
PD14_CONNECTION_PROBABILITIES
    Connection probabilities keyed by ``(source, target)``.
PD14_FULL_RATES_HZ, NEST_REFERENCE_RATES_HZ
    Published full-scale rates and NEST 3.10 rates of the down-scaled network.

Functions
---------
pd14_pathways, pd14_params, build_pd14
    The pathway table, the ColumnParams and the built column (+ thalamus).

References
----------
Potjans TC, Diesmann M (2014) Cereb Cortex 24:785. doi:10.1093/cercor/bhs358.
INM-6/microcircuit-PD14-model, PyNEST/src/microcircuit (parameter values, V0 'optimized',
full_mean_rates, scaling helpers).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
from brian2 import Hz, PoissonGroup, Quantity, ms, mV

from analysis.errors import ConfigError
from columns.cell_models import HOOKS
from columns.column import LaminarColumn, build_column
from columns.derived import psp_to_psc, total_synapse_number
from columns.params import DEFAULT_EXC_CELL, BackgroundParams, ColumnParams, PathwayParams, PopulationParams
from columns.wiring import draw_delays, draw_fixed_total_number, draw_weights

__all__ = [
    "PD14_POPULATION_ORDER",
    "PD14_POPULATIONS",
    "PD14_CONNECTION_PROBABILITIES",
    "PD14_FULL_RATES_HZ",
    "NEST_REFERENCE_RATES_HZ",
    "ThalamusParams",
    "DEFAULT_THALAMUS",
    "pd14_pathways",
    "pd14_params",
    "build_pd14",
]

#: Order of PD14's tables (L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I).
PD14_POPULATION_ORDER = ("l23_exc", "l23_pv", "l4_exc", "l4_pv", "l5_exc", "l5_pv", "l6_exc", "l6_pv")

# PD14 Table 5 (N): full-scale sizes.
_FULL_SIZES = (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)
# PD14 Table 5 (K_ext): external in-degrees.
_K_EXT = (1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100)
# INM-6 reference V0_type 'optimized' (V0_mean_optimized, V0_std_optimized), mV.
_V0_MEAN = (-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43)
_V0_STD = (5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48)

#: Full-scale mean rates, spikes/s (INM-6 reference ``full_mean_rates``; PD14 Fig. 6).
PD14_FULL_RATES_HZ: dict[str, float] = dict(
    zip(PD14_POPULATION_ORDER, (0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829))
)

#: NEST 3.10 on the down-scaled PD14 (Poisson background, fixed total number, 1/sqrt(K)
#: weights, DC compensation), mean of 5 seeds, first 500 ms discarded (issue #4).
NEST_REFERENCE_RATES_HZ: dict[float, dict[str, float]] = {
    0.1: dict(zip(PD14_POPULATION_ORDER, (0.56, 2.83, 4.21, 5.67, 8.35, 9.40, 1.01, 7.59))),
    0.25: dict(zip(PD14_POPULATION_ORDER, (0.65, 2.84, 4.40, 5.85, 7.75, 9.00, 1.13, 7.77))),
}

#: PD14 Table 5 connection probabilities, rows = target, columns = source, in
#: :data:`PD14_POPULATION_ORDER`.
_CONN_PROBS = (
    (0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0),
    (0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0),
    (0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0),
    (0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0),
    (0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0),
    (0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0),
    (0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252),
    (0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443),
)

#: ``(source, target) -> C`` (keyed by names, so the matrix order cannot be misread).
PD14_CONNECTION_PROBABILITIES: dict[tuple[str, str], float] = {
    (src, tgt): _CONN_PROBS[t][s]
    for t, tgt in enumerate(PD14_POPULATION_ORDER)
    for s, src in enumerate(PD14_POPULATION_ORDER)
}

PD14_POPULATIONS: dict[str, PopulationParams] = {
    name: PopulationParams(
        layer=name.split("_")[0],
        cell_type=name.split("_")[1],
        full_size=_FULL_SIZES[k],
        cell=DEFAULT_EXC_CELL,  # PD14: one neuron model for all populations (Table 5)
        v_init_mean=_V0_MEAN[k] * mV,
        v_init_std=_V0_STD[k] * mV,
        background_indegree=_K_EXT[k],
        full_rate=PD14_FULL_RATES_HZ[name] * Hz,
    )
    for k, name in enumerate(PD14_POPULATION_ORDER)
}

_PSP_EXC = 0.15 * mV  # PD14 Table 5 (w +- dw: 0.15 mV)
_G = -4.0  # PD14 Table 5 (g)
_WEIGHT_REL_STD = 0.1  # PD14 Table 5 (dw/w)
_DELAY_EXC = 1.5 * ms  # PD14 Table 5 (d_e)
_DELAY_INH = 0.75 * ms  # PD14 Table 5 (d_i)
_DELAY_REL_STD = 0.5  # PD14 Table 5 (dd/d)


def pd14_pathways(
    populations: tuple[str, ...] = PD14_POPULATION_ORDER,
    sources: tuple[str, ...] | None = None,
    *,
    pathway_resolved: bool = True,
) -> dict[tuple[str, str], PathwayParams]:
    """PD14's pathway table restricted to ``sources`` -> ``populations`` (non-zero C only).

    Parameters
    ----------
    populations : tuple of str
        Target populations (local names).
    sources : tuple of str, optional
        Source populations (default: ``populations``).
    pathway_resolved : bool
        ``True``: excitatory input goes to ``I_{source layer}`` and PV input to ``I_pv``;
        ``False``: to ``I_exc``/``I_inh`` (fewer state variables, same dynamics).

    Returns
    -------
    dict of (str, str) to PathwayParams
        With PD14's PSP (doubled for L4E -> L2/3E), weight and delay distributions.
    """
    sources = populations if sources is None else sources
    out: dict[tuple[str, str], PathwayParams] = {}
    for src in sources:
        for tgt in populations:
            c = PD14_CONNECTION_PROBABILITIES[(src, tgt)]
            if c == 0.0:
                continue
            exc = src.endswith("_exc")
            psp = _PSP_EXC if exc else _G * _PSP_EXC
            if (src, tgt) == ("l4_exc", "l23_exc"):
                psp = 2.0 * _PSP_EXC  # PD14 Sec. 2.2: L4E -> L2/3E PSP doubled
            if pathway_resolved:
                current = src.split("_")[0] if exc else "pv"
            else:
                current = "exc" if exc else "inh"
            out[(src, tgt)] = PathwayParams(
                probability=c,
                psp_mean=psp,
                weight_rel_std=_WEIGHT_REL_STD,
                delay_mean=_DELAY_EXC if exc else _DELAY_INH,
                delay_rel_std=_DELAY_REL_STD,
                current=current,
            )
    return out


@dataclass(frozen=True)
class ThalamusParams:
    """PD14's transient thalamic input (onto L4 and L6 only).

    Parameters
    ----------
    enabled : bool
        Off by default, as in the reference.
    n_neurons : int
        Thalamic Poisson sources (PD14: 902).
    rate : Quantity (hertz)
        Rate while active.
    start, duration : Quantity (second)
        Activity window.
    probabilities : dict of str to float
        Connection probability onto each target.
    psp : Quantity (volt)
    delay_mean : Quantity (second)
    delay_rel_std : float
    """

    enabled: bool = False
    n_neurons: int = 902  # PD14 Table 5 (N_th)
    rate: Quantity = field(default_factory=lambda: 120.0 * Hz)  # INM-6 reference th_rate
    start: Quantity = field(default_factory=lambda: 700.0 * ms)  # INM-6 reference th_start
    duration: Quantity = field(default_factory=lambda: 10.0 * ms)  # INM-6 reference th_duration
    probabilities: dict[str, float] = field(
        default_factory=lambda: {"l4_exc": 0.0983, "l4_pv": 0.0619, "l6_exc": 0.0512, "l6_pv": 0.0196}
    )  # PD14 Table 5 (C_th)
    psp: Quantity = field(default_factory=lambda: 0.15 * mV)  # INM-6 reference PSP_th
    delay_mean: Quantity = field(default_factory=lambda: 1.5 * ms)  # INM-6 reference delay_th_mean
    delay_rel_std: float = 0.5  # INM-6 reference delay_th_rel_std


DEFAULT_THALAMUS = ThalamusParams()


def pd14_params(
    scale: float = 0.1,
    *,
    k_scale: float | None = None,
    background: str = "poisson",
    pathway_resolved: bool = False,
    sampler: str = "event_gaps",
) -> ColumnParams:
    """ColumnParams of the full 8-population PD14 microcircuit.

    Parameters
    ----------
    scale : float
        ``n_scale`` (and ``k_scale`` unless given), > 0.
    k_scale : float, optional
    background : str
        ``"poisson"`` or ``"dc"``.
    pathway_resolved : bool
        Pathway-resolved currents (``I_l23, I_l4, I_l5, I_l6, I_pv``) instead of
        ``I_exc``/``I_inh``; the dynamics are identical, the lumped form is faster.
    sampler : str
        How the Poisson background is drawn (:class:`columns.params.BackgroundParams`).

    Returns
    -------
    ColumnParams

    Raises
    ------
    ConfigError
        Non-positive scale or unknown background kind.
    """
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"scale must be a positive number, got {scale}")
    if background not in ("poisson", "dc"):
        raise ConfigError(f"background must be 'poisson' or 'dc', got {background!r}")
    return ColumnParams(
        populations=dict(PD14_POPULATIONS),
        pathways=pd14_pathways(pathway_resolved=pathway_resolved),
        n_scale=scale,
        k_scale=k_scale,
        background=BackgroundParams(kind=background, sampler=sampler),
        background_current="bg" if pathway_resolved else "exc",
    )


def build_pd14(
    params: ColumnParams | None = None,
    *,
    connectivity_seed: int,
    initial_state_seed: int,
    thalamus: ThalamusParams = DEFAULT_THALAMUS,
    station: str = "pd14",
    merge: bool = True,
    hooks: Collection[str] = HOOKS,
) -> LaminarColumn:
    """Build the PD14 microcircuit (and its thalamus when enabled) as a LaminarColumn.

    Parameters
    ----------
    params : ColumnParams, optional
        Default ``pd14_params(0.1)``.
    connectivity_seed, initial_state_seed : int
        Per-purpose seeds (see :func:`columns.column.build_column`).
    thalamus : ThalamusParams
        The thalamic input: a ``PoissonGroup`` named ``{station}_thalamus`` active in
        ``[start, start + duration)``, connected with the fixed-total-number rule
        (x ``n_scale * k_scale``) onto ``I_ff`` of L4 and L6.
    station : str
    merge : bool
        Shared groups and merged pathways (see :func:`columns.column.build_column`).
    hooks : collection of str
        Manipulation hooks (see :func:`columns.column.build_column`; default all). The
        benchmark and validation runs use none: PD14 has no manipulation.

    Returns
    -------
    LaminarColumn
        The thalamus, when enabled, is in ``column.extra_objects``.
    """
    params = pd14_params(0.1) if params is None else params
    column = build_column(
        params, station, connectivity_seed=connectivity_seed, initial_state_seed=initial_state_seed, merge=merge,
        hooks=hooks,
    )
    if thalamus.enabled:
        rng = np.random.default_rng([connectivity_seed, 1])
        th = PoissonGroup(
            thalamus.n_neurons,
            rates="th_rate*int(t >= th_start and t < th_stop)",
            namespace={"th_rate": thalamus.rate, "th_start": thalamus.start, "th_stop": thalamus.start + thalamus.duration},
            name=f"{station}_thalamus",
        )
        column.extra_objects[th.name] = th
        k = params.effective_k_scale
        for tgt, c in thalamus.probabilities.items():
            if tgt not in column.populations or c == 0:
                continue
            post = params.populations[tgt]
            n_syn = int(round(total_synapse_number(c, thalamus.n_neurons, post.full_size) * params.n_scale * k))
            pre, postidx = draw_fixed_total_number(thalamus.n_neurons, len(column.populations[tgt]), n_syn, rng)
            w_mean = psp_to_psc(thalamus.psp, post.cell.c_m, post.cell.tau_m, post.cell.tau_syn_exc) / np.sqrt(k)
            column.connect_input(
                th,
                tgt,
                pre,
                postidx,
                draw_weights(w_mean, _WEIGHT_REL_STD, n_syn, rng),
                draw_delays(thalamus.delay_mean, thalamus.delay_rel_std, n_syn, rng, 0.1 * ms),
            )
    return column
