"""The laminar column: named populations, PD14-style wiring, background, ports and hooks.

Classes and functions
---------------------
LaminarColumn
    The built column: populations, synapses, background inputs; ports to connect external
    sources (``feedforward`` into L4, ``shortcut`` into L5), manipulation hooks (silencing
    windows, tonic drive, top-down gain) and :meth:`LaminarColumn.brian_objects`.
build_column
    Build a column from :class:`~columns.params.ColumnParams` with explicit seeds.
validate_column_params
    Check names, probabilities, sizes, scales and units; one-line ConfigError otherwise.
column_derived
    The derived numbers of a column (sizes, synapse numbers, mean weights, DC), pure.

The column never runs a simulation and never writes files; :mod:`circuits` owns the
``Network``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import (
    DimensionMismatchError,
    Subgroup,
    NeuronGroup,
    BinomialFunction,
    Quantity,
    Synapses,
    amp,
    defaultclock,
    farad,
    hertz,
    nA,
    second,
    volt,
)

from analysis.errors import ConfigError, suggest
from columns.background import SAMPLERS, event_gap_functions, sampler_variable
from columns.cell_models import CELL_MODELS, HOOKS, charge_variable, check_hooks, current_variable
from columns.derived import dc_compensation, psc_to_conductance, psp_to_psc, scaled_synapse_number, total_synapse_number
from columns.params import CELL_TYPES, LAYERS, CellParams, ColumnParams, PathwayParams, PopulationParams
from columns.populations import make_population
from columns.synapse_models import target_variable, weight_unit
from columns.wiring import connect_arrays, draw_delays, draw_fixed_total_number, draw_weights, require_unit

__all__ = [
    "LaminarColumn",
    "build_column",
    "validate_column_params",
    "column_derived",
    "ColumnDerived",
    "PORTS",
    "SILENCING_CURRENT",
    "LABEL_NAMES",
    "label_values",
    "PathwaySynapses",
]

logger = logging.getLogger(__name__)

#: Named input ports: port -> target populations (local names). Both deliver onto ``I_ff``,
#: which ``gain_ff`` multiplies (the top-down gain on L5).
PORTS: dict[str, tuple[str, ...]] = {
    "feedforward": ("l4_exc", "l4_pv"),
    "shortcut": ("l5_exc", "l5_pv"),
}

#: Default amplitude of the silencing current: about 3x the mean excitatory input of a PD14
#: neuron (background 8 Hz x 2000 x 88 pA x 0.5 ms = 0.7 nA plus recurrent input), so that
#: an optogenetic-like hyperpolarisation stops firing (Constantinople & Bruno 2013 silenced L4
#: with muscimol/ArchT completely).
SILENCING_CURRENT = 3.0 * nA

#: Per-cell labels a caller may set (all in deg except the integer channel).
LABEL_NAMES = ("rf_x", "rf_y", "orientation", "phase", "channel")

# Cell-parameter fields and their units, for validation with a one-line message.
_CELL_UNITS = {
    "c_m": farad,
    "tau_m": second,
    "v_rest": volt,
    "v_reset": volt,
    "v_threshold": volt,
    "tau_refractory": second,
    "tau_syn_exc": second,
    "tau_syn_inh": second,
    "e_rev_exc": volt,
    "e_rev_inh": volt,
}


def _sign(psp: Quantity) -> str:
    return "exc" if float(psp / volt) >= 0 else "inh"


def _check_cell(cell: CellParams, where: str) -> None:
    for field_name, unit in _CELL_UNITS.items():
        require_unit(getattr(cell, field_name), unit, f"{field_name} of {where}")
    for field_name in ("c_m", "tau_m", "tau_syn_exc", "tau_syn_inh"):
        if not float(getattr(cell, field_name)) > 0:
            raise ConfigError(f"{field_name} of {where} must be positive, got {getattr(cell, field_name)}")
    if cell.tau_refractory < 0 * second:
        raise ConfigError(f"tau_refractory of {where} must be >= 0, got {cell.tau_refractory}")


def _check_population(name: str, pop: PopulationParams) -> None:
    where = f"population {name!r}"
    if pop.layer not in LAYERS:
        raise ConfigError(f"layer of {where} must be one of {LAYERS}, got {pop.layer!r}{suggest(pop.layer, LAYERS)}")
    if pop.cell_type not in CELL_TYPES:
        raise ConfigError(
            f"cell_type of {where} must be one of {CELL_TYPES}, got {pop.cell_type!r}{suggest(pop.cell_type, CELL_TYPES)}"
        )
    if int(pop.full_size) != pop.full_size or pop.full_size < 1:
        raise ConfigError(f"full_size of {where} must be a positive integer, got {pop.full_size}")
    if pop.background_indegree < 0:
        raise ConfigError(f"background_indegree of {where} must be >= 0, got {pop.background_indegree}")
    _check_cell(pop.cell, where)
    require_unit(pop.v_init_mean, volt, f"v_init_mean of {where}")
    require_unit(pop.v_init_std, volt, f"v_init_std of {where}")
    require_unit(pop.full_rate, hertz, f"full_rate of {where}")


def _check_pathway(key: tuple[str, str], pw: PathwayParams, sources: Sequence[str], targets: Sequence[str]) -> None:
    src, tgt = key
    if src not in sources:
        raise ConfigError(f"unknown source population {src!r} in pathway {key}{suggest(src, sources)}")
    if tgt not in targets:
        raise ConfigError(f"unknown target population {tgt!r} in pathway {key}{suggest(tgt, targets)}")
    if not 0.0 <= pw.probability <= 1.0:
        raise ConfigError(f"probability of pathway {key} must be in [0, 1], got {pw.probability}")
    if pw.probability == 1.0:
        raise ConfigError(f"probability of pathway {key} must be < 1 for the fixed-total-number rule")
    require_unit(pw.psp_mean, volt, f"psp_mean of pathway {key}")
    require_unit(pw.delay_mean, second, f"delay_mean of pathway {key}")
    if pw.weight_rel_std < 0 or pw.delay_rel_std < 0:
        raise ConfigError(f"weight_rel_std and delay_rel_std of pathway {key} must be >= 0")
    if not float(pw.delay_mean) > 0:
        raise ConfigError(f"delay_mean of pathway {key} must be positive, got {pw.delay_mean}")


def validate_column_params(params: ColumnParams) -> None:
    """Check a column's parameters before anything is built.

    Raises
    ------
    ConfigError
        Unknown population names in pathways or charge_populations (with a suggestion),
        probabilities outside [0, 1), non-positive scales or sizes, wrong units (naming the
        parameter and the expected unit), an unknown cell model, background kind or sampler.
    """
    if not params.populations:
        raise ConfigError("a column needs at least one population")
    if not (np.isfinite(params.n_scale) and params.n_scale > 0):
        raise ConfigError(f"n_scale must be a positive number, got {params.n_scale}")
    if params.k_scale is not None and not (np.isfinite(params.k_scale) and params.k_scale > 0):
        raise ConfigError(f"k_scale must be a positive number, got {params.k_scale}")
    if params.cell_model not in CELL_MODELS:
        raise ConfigError(
            f"cell_model must be one of {CELL_MODELS}, got {params.cell_model!r}{suggest(params.cell_model, CELL_MODELS)}"
        )
    bg = params.background
    if bg.kind not in ("poisson", "dc"):
        raise ConfigError(f"background kind must be 'poisson' or 'dc', got {bg.kind!r}{suggest(bg.kind, ('poisson', 'dc'))}")
    if bg.sampler not in SAMPLERS:
        raise ConfigError(f"background sampler must be one of {SAMPLERS}, got {bg.sampler!r}{suggest(bg.sampler, SAMPLERS)}")
    require_unit(bg.rate, hertz, "background rate")
    require_unit(bg.psp, volt, "background psp")
    if bg.scale < 0 or float(bg.rate) < 0:
        raise ConfigError(f"background rate and scale must be >= 0, got {bg.rate} x {bg.scale}")
    names = list(params.populations)
    for name, pop in params.populations.items():
        _check_population(name, pop)
    for name, pop in params.replaced_populations.items():
        _check_population(name, pop)
    for key, pw in params.pathways.items():
        _check_pathway(key, pw, names, names)
    for key, pw in params.replaced_pathways.items():
        _check_pathway(key, pw, list(params.replaced_populations), names)
    for name in params.charge_populations:
        if name not in params.populations:
            raise ConfigError(f"unknown population {name!r} in charge_populations{suggest(name, names)}")
    if params.rf_falloff_sigma is not None and not params.rf_falloff_sigma > 0:
        raise ConfigError(f"rf_falloff_sigma must be positive (deg), got {params.rf_falloff_sigma}")


@dataclass(frozen=True, eq=False)
class ColumnDerived:
    """Derived numbers of a column (what :func:`build_column` will build).

    Attributes
    ----------
    sizes : dict of str to int
        Neurons per population.
    synapse_numbers : dict of (str, str) to int
        Synapses per pathway (fixed total number, scaled).
    weights : dict of (str, str) to Quantity
        Mean weight per pathway (amp, or siemens for conductance cells), already x 1/sqrt(k).
    background_weight : dict of str to Quantity
        Weight of one background input per population.
    background_indegree : dict of str to int
        Scaled number of Poisson background inputs per neuron.
    replaced_indegree : dict of (str, str) to int
        Scaled Poisson in-degree replacing each left-out pathway.
    dc : dict of str to Quantity (amp)
        Constant current per population: k-scaling compensation (+ background mean if DC).
    currents : dict of str to dict of str to str
        Pathway variables per population (suffix -> exc/inh).
    """

    sizes: dict[str, int]
    synapse_numbers: dict[tuple[str, str], int]
    weights: dict[tuple[str, str], Quantity]
    background_weight: dict[str, Quantity]
    background_indegree: dict[str, int]
    replaced_indegree: dict[tuple[str, str], int]
    dc: dict[str, Quantity]
    currents: dict[str, dict[str, str]]


def _psc(psp: Quantity, cell: CellParams) -> Quantity:
    tau = cell.tau_syn_exc if _sign(psp) == "exc" else cell.tau_syn_inh
    return psp_to_psc(psp, cell.c_m, cell.tau_m, tau)


def _to_model_weight(psc: Quantity, psp: Quantity, cell: CellParams, model: str) -> Quantity:
    if model == "current":
        return psc
    # Conductance of the same PSC at the middle of the subthreshold range.
    e_rev = cell.e_rev_exc if _sign(psp) == "exc" else cell.e_rev_inh
    return psc_to_conductance(psc, e_rev, 0.5 * (cell.v_rest + cell.v_threshold))


def _replacement_current(params: ColumnParams, pw: PathwayParams) -> str:
    """Pathway variable of replaced-population input: the background current (or ``bg_inh``)."""
    return params.background_current if _sign(pw.psp_mean) == "exc" else f"{params.background_current}_inh"


def column_derived(params: ColumnParams) -> ColumnDerived:
    """Derived numbers of a column: sizes, synapse numbers, weights, DC (pure function).

    Parameters
    ----------
    params : ColumnParams

    Returns
    -------
    ColumnDerived

    Notes
    -----
    PD14 scaling (van Albada et al. 2015): sizes x ``n_scale``; synapse numbers x
    ``n_scale * k_scale`` (in-degrees x ``k_scale``); weights x :math:`1/\\sqrt{k}`; the
    lost mean input :math:`(1-\\sqrt{k}) \\sum_s \\nu_s K_s J_s \\tau_s` from full-scale rates
    is added as DC. Background Poisson input scales like a recurrent source.
    """
    validate_column_params(params)
    k = params.effective_k_scale
    sqrt_k = float(np.sqrt(k))
    sizes = {name: max(1, int(round(pop.full_size * params.n_scale))) for name, pop in params.populations.items()}
    synapse_numbers: dict[tuple[str, str], int] = {}
    weights: dict[tuple[str, str], Quantity] = {}
    mean_input = {name: 0.0 * amp for name in params.populations}
    currents: dict[str, dict[str, str]] = {name: {params.ff_current: "exc"} for name in params.populations}
    for (src, tgt), pw in params.pathways.items():
        pre, post = params.populations[src], params.populations[tgt]
        synapse_numbers[(src, tgt)] = scaled_synapse_number(pw.probability, pre.full_size, post.full_size, params.n_scale, k)
        psc = _psc(pw.psp_mean, post.cell)
        weights[(src, tgt)] = _to_model_weight(psc / sqrt_k, pw.psp_mean, post.cell, params.cell_model)
        indegree_full = total_synapse_number(pw.probability, pre.full_size, post.full_size) / post.full_size
        tau = post.cell.tau_syn_exc if _sign(pw.psp_mean) == "exc" else post.cell.tau_syn_inh
        mean_input[tgt] = mean_input[tgt] + pre.full_rate * indegree_full * psc * tau
        currents[tgt][pw.current] = _sign(pw.psp_mean)
    bg = params.background
    background_weight: dict[str, Quantity] = {}
    background_indegree: dict[str, int] = {}
    dc: dict[str, Quantity] = {}
    replaced_indegree: dict[tuple[str, str], int] = {}
    for name, pop in params.populations.items():
        psc_bg = _psc(bg.psp, pop.cell)
        background_weight[name] = _to_model_weight(psc_bg / sqrt_k, bg.psp, pop.cell, params.cell_model)
        background_indegree[name] = int(round(pop.background_indegree * k))
        dc_value = dc_compensation(mean_input[name], k)
        if bg.enabled:
            full_bg = bg.rate * bg.scale * pop.background_indegree * psc_bg * pop.cell.tau_syn_exc
            dc_value = dc_value + (full_bg if bg.kind == "dc" else dc_compensation(full_bg, k))
            currents[name][params.background_current] = "exc"
        dc[name] = dc_value
    for (src, tgt), pw in params.replaced_pathways.items():
        # Left-out populations (PD14's L6 in a 3-layer column) act like background: Poisson
        # input with their full-scale rate, or its mean as DC; nothing if background is off.
        pre, post = params.replaced_populations[src], params.populations[tgt]
        indegree_full = total_synapse_number(pw.probability, pre.full_size, post.full_size) / post.full_size
        replaced_indegree[(src, tgt)] = int(round(indegree_full * k)) if bg.enabled and bg.kind == "poisson" else 0
        if not bg.enabled:
            continue
        psc = _psc(pw.psp_mean, post.cell)
        tau = post.cell.tau_syn_exc if _sign(pw.psp_mean) == "exc" else post.cell.tau_syn_inh
        full_mean = pre.full_rate * indegree_full * psc * tau
        dc[tgt] = dc[tgt] + (full_mean if bg.kind == "dc" else dc_compensation(full_mean, k))
        if bg.kind == "poisson":
            currents[tgt][_replacement_current(params, pw)] = _sign(pw.psp_mean)
    return ColumnDerived(sizes, synapse_numbers, weights, background_weight, background_indegree, replaced_indegree, dc, currents)


class PathwaySynapses:
    """One intra-column pathway: a contiguous slice of a (merged) Brian2 ``Synapses``.

    Brian2 runs two code objects per ``Synapses`` and several per ``NeuronGroup`` on every
    time step, whatever their size; with one object per pathway this fixed cost dominated a
    PD14 step (64 pathways, about 0.25 us per call, measured with Brian2's profiler), so
    :func:`build_column` merges the pathways that share source group, target group and
    pathway variable into one ``Synapses``. Each pathway keeps its own synapses in the slice
    ``[start, stop)``; the delivered input is unchanged.

    Attributes
    ----------
    synapses : brian2.Synapses
        The object that simulates this pathway (shared with other pathways when merged).
    start, stop : int
        Synapse index range of this pathway in ``synapses``.
    name : str
        ``{station}_{source}_to_{station}_{target}``.
    source, target : NeuronGroup or Subgroup
        The populations (``i``/``j`` are relative to them).
    """

    def __init__(self, synapses: Synapses, start: int, stop: int, name: str, source: Any, target: Any) -> None:
        self.synapses = synapses
        self.start = int(start)
        self.stop = int(stop)
        self.name = name
        self.source = source
        self.target = target

    def __len__(self) -> int:
        return self.stop - self.start

    def __repr__(self) -> str:
        return f"PathwaySynapses({self.name!r}, {len(self)} synapses in {self.synapses.name!r})"

    def _slice(self, variable: str) -> Any:
        return getattr(self.synapses, variable)[self.start:self.stop]

    @property
    def w(self) -> Quantity:
        """Weights (amp or siemens), one per synapse."""
        return self._slice("w")

    @property
    def delay(self) -> Quantity:
        """Delays (second), one per synapse."""
        return self._slice("delay")

    @property
    def i(self) -> np.ndarray:
        """Presynaptic index within the source population."""
        return np.asarray(self._slice("i")) - _offset(self.source)

    @property
    def j(self) -> np.ndarray:
        """Postsynaptic index within the target population."""
        return np.asarray(self._slice("j")) - _offset(self.target)


def label_values(group: Any, key: str) -> np.ndarray:
    """A copy of the per-cell label ``key`` of a population built by :func:`build_column`.

    Read from the Python copy kept by :meth:`LaminarColumn.set_labels`, so it works before a
    ``cpp_standalone`` run (Brian2 cannot return a Subgroup's values before the run).
    """
    try:
        return group._label_values[key].copy()
    except AttributeError:
        raise ConfigError(f"{getattr(group, 'name', group)!r} is not a population built by build_column") from None
    except KeyError:
        raise ConfigError(f"unknown label {key!r}; valid: {LABEL_NAMES}{suggest(key, LABEL_NAMES)}") from None


def _offset(group: Any) -> int:
    """Index of a population's first cell in the group that holds it (0 for a NeuronGroup)."""
    return int(group.start) if isinstance(group, Subgroup) else 0


def _holder(group: Any) -> Any:
    """The NeuronGroup that holds a population (itself unless a Subgroup)."""
    return group.source if isinstance(group, Subgroup) else group


class LaminarColumn:
    """One laminar column as named Brian2 objects (build with :func:`build_column`).

    Attributes
    ----------
    station : str
        Prefix of every object name (``v1``, ``pd14``...).
    params : ColumnParams
    derived : ColumnDerived
    hooks : frozenset of str
        The manipulation hooks the populations were built with (see :func:`build_column`).
    populations : dict of str to NeuronGroup or Subgroup
        By local name (``l4_exc``); ``group.name`` is ``{station}_{local}``. Populations that
        share cell parameters, pathway variables and charge accumulators are contiguous
        ``Subgroup`` views of one NeuronGroup (see :attr:`neuron_groups`).
    neuron_groups : list of NeuronGroup
        The groups that hold the populations (what the ``Network`` runs).
    synapses : dict of (str, str) to PathwaySynapses
        Intra-column pathways by local ``(source, target)``, each named ``{src}_to_{tgt}``
        with full names: a view of its slice of the (merged) Brian2 ``Synapses``.
    synapse_objects : list of Synapses
        The Brian2 ``Synapses`` of the intra-column pathways (one per source group, target
        group and pathway variable).
    background : dict of str to CodeRunner
        Background and replaced-population Poisson inputs (see :func:`poisson_input`), by
        object name; they belong to their population group (``contained_objects``), so
        :meth:`brian_objects` does not list them twice.
    inputs : dict of str to Synapses
        External projections added with :meth:`connect_input`, by name.
    """

    def __init__(self, station: str, params: ColumnParams, derived: ColumnDerived, hooks: Collection[str] = HOOKS) -> None:
        self.station = station
        self.params = params
        self.derived = derived
        self.hooks = check_hooks(hooks)
        self.populations: dict[str, Any] = {}
        self.neuron_groups: list[NeuronGroup] = []
        self.synapses: dict[tuple[str, str], PathwaySynapses] = {}
        self.synapse_objects: list[Synapses] = []
        self.background: dict[str, Any] = {}
        self.inputs: dict[str, Synapses] = {}
        self.extra_objects: dict[str, Any] = {}

    # -- names ---------------------------------------------------------------------------
    def full_name(self, population: str) -> str:
        """Brian2 name of a population: ``"l5_exc"`` -> ``"v1_l5_exc"``."""
        self._check_population(population)
        return f"{self.station}_{population}"

    def _check_population(self, population: str) -> None:
        if population not in self.populations:
            valid = list(self.populations)
            raise ConfigError(f"unknown population {population!r} of column {self.station!r}{suggest(population, valid)}")

    def population(self, population: str) -> NeuronGroup:
        """The NeuronGroup of a population (local name, e.g. ``"l5_exc"``)."""
        self._check_population(population)
        return self.populations[population]

    def require_hook(self, population: str, hook: str) -> NeuronGroup:
        """The population's group, if the column was built with the manipulation ``hook``."""
        group = self.population(population)
        if hook not in self.hooks:
            raise ConfigError(f"column {self.station!r} was built without the {hook!r} hook "
                              f"(build_column(hooks=...) has {sorted(self.hooks)}); rebuild it with {hook!r} to use it")
        return group

    @property
    def population_names(self) -> list[str]:
        """Local population names in build order."""
        return list(self.populations)

    # -- labels --------------------------------------------------------------------------
    def set_labels(self, population: str, **labels: Any) -> None:
        """Set per-cell labels: ``rf_x``, ``rf_y`` (deg), ``orientation``, ``phase`` (deg), ``channel``.

        Values are scalars or arrays of the population's size. Labels set after
        :func:`build_column` do not rewire the RF fall-off (give them to the builder for that).

        Raises
        ------
        ConfigError
            Unknown population or label name, or a wrong array length.
        """
        group = self.population(population)
        for key, value in labels.items():
            if key not in LABEL_NAMES:
                raise ConfigError(f"unknown label {key!r}; valid: {LABEL_NAMES}{suggest(key, LABEL_NAMES)}")
            arr = np.asarray(value)
            if arr.ndim and arr.shape != (len(group),):
                raise ConfigError(f"label {key!r} of {population!r} needs {len(group)} values, got shape {arr.shape}")
            value = arr.astype(np.int32) if key == "channel" else arr.astype(float)
            setattr(group, key, value)
            group._label_values[key] = np.broadcast_to(value, (len(group),)).copy()

    def labels(self, population: str) -> dict[str, np.ndarray]:
        """Per-cell labels of a population as plain arrays (for the output file's /nodes)."""
        group = self.population(population)
        return {key: label_values(group, key) for key in LABEL_NAMES}

    # -- ports and inputs ---------------------------------------------------------------
    def port_targets(self, port: str) -> tuple[str, ...]:
        """Target populations of a named port (``feedforward``, ``shortcut``) present here."""
        if port not in PORTS:
            raise ConfigError(f"unknown port {port!r}; valid: {sorted(PORTS)}{suggest(port, PORTS)}")
        return tuple(p for p in PORTS[port] if p in self.populations)

    def connect_input(
        self,
        source: Any,
        target: str,
        i: np.ndarray,
        j: np.ndarray,
        weight: Quantity,
        delay: Quantity,
        *,
        name: str | None = None,
        pathway: str | None = None,
    ) -> Synapses:
        """Connect an external group onto a population's feedforward variable ``I_ff``.

        Parameters
        ----------
        source : SpikeGeneratorGroup, NeuronGroup, PoissonGroup...
            Must have a stable ``name``.
        target : str
            Local population name (``"l4_exc"`` for the feedforward port, ``"l5_exc"`` for
            the shortcut; see :data:`PORTS`).
        i, j : array of int, shape (n_synapses,)
            Source and target indices (duplicates allowed).
        weight : Quantity (amp; siemens for conductance cells), scalar or (n_synapses,)
        delay : Quantity (second), scalar or (n_synapses,)
        name : str, optional
            Object name; default ``"{source.name}_to_{station}_{target}"``.
        pathway : str, optional
            Target variable suffix; default the column's ``ff_current`` (``I_ff``).

        Returns
        -------
        brian2.Synapses
            Also kept in :attr:`inputs`, so :meth:`brian_objects` includes it.

        Raises
        ------
        ConfigError
            Unknown population/pathway, duplicate name, wrong units or indices.
        """
        group = self.population(target)
        name = name or f"{source.name}_to_{group.name}"
        if name in self.inputs:
            raise ConfigError(f"an input named {name!r} exists already in column {self.station!r}")
        syn = connect_arrays(
            source,
            group,
            name=name,
            i=i,
            j=j,
            weight=weight,
            delay=delay,
            pathway=pathway or self.params.ff_current,
            model=self.params.cell_model,
        )
        self.inputs[name] = syn
        return syn

    # -- manipulations ------------------------------------------------------------------
    def silence(self, population: str, t_start: Quantity, t_stop: Quantity, amplitude: Quantity = SILENCING_CURRENT) -> None:
        """Silence a population during ``[t_start, t_stop)`` with a hyperpolarising current.

        One window per population at a time; to silence several epochs call again between
        ``Network.run`` calls (runtime) or before the next run. ``amplitude`` 0 switches it off.

        Raises
        ------
        ConfigError
            Unknown population, wrong units, ``t_stop < t_start``, negative amplitude, or
            a column built without the ``"silence"`` hook.
        """
        group = self.require_hook(population, "silence")
        require_unit(t_start, second, "t_start")
        require_unit(t_stop, second, "t_stop")
        require_unit(amplitude, amp, "amplitude")
        if t_stop < t_start:
            raise ConfigError(f"t_stop must be >= t_start, got {t_start} > {t_stop}")
        if amplitude < 0 * amp:
            raise ConfigError(f"silencing amplitude must be >= 0 (hyperpolarising), got {amplitude}")
        group.silence_start = t_start
        group.silence_stop = t_stop
        group.silence_amplitude = amplitude

    def set_tonic_drive(self, population: str, current: Quantity) -> None:
        """Set the tonic current ``I_tonic`` (amp; scalar or one value per cell) of a population.

        Needs the ``"tonic"`` hook (:func:`build_column`).
        """
        group = self.require_hook(population, "tonic")
        require_unit(current, amp, "tonic drive")
        try:
            group.I_tonic = current
        except (DimensionMismatchError, ValueError) as exc:
            raise ConfigError(f"tonic drive of {population!r}: {exc}") from exc

    def add_dc(self, population: str, delta: Quantity) -> None:
        """Add ``delta`` (amp; scalar or one value per cell) to the constant current ``I_dc``.

        Kept in Python as well, so it can be called repeatedly before a ``cpp_standalone``
        run (which cannot read the group's values back).
        """
        group = self.population(population)
        require_unit(delta, amp, "DC change")
        value = group._dc_values + np.broadcast_to(np.asarray(delta / amp, float), (len(group),))
        group._dc_values = value
        group.I_dc = value * amp

    def set_gain(self, population: str, gain: float | np.ndarray) -> None:
        """Set the multiplicative gain ``gain_ff`` on the feedforward/shortcut current ``I_ff``.

        The top-down ("task relevance") gain on L5 and trial-wise gain noise use this hook
        (``"gain"``, :func:`build_column`).
        """
        group = self.require_hook(population, "gain")
        arr = np.asarray(gain)
        if isinstance(gain, Quantity) and not gain.is_dimensionless:
            raise ConfigError(f"gain must be dimensionless, got {gain}")
        if np.any(arr < 0):
            raise ConfigError("gain must be >= 0")
        group.gain_ff = arr

    def pathway_variables(self, population: str) -> dict[str, str]:
        """Pathway current variables of a population: suffix -> ``I_*`` name."""
        self._check_population(population)
        return {p: current_variable(p) for p in self.derived.currents[population]}

    def charge_variables(self, population: str) -> dict[str, str]:
        """Charge accumulators ``Q_*`` of a population (empty unless in ``charge_populations``)."""
        self._check_population(population)
        if population not in self.params.charge_populations:
            return {}
        return {p: charge_variable(p) for p in self.derived.currents[population]}

    def brian_objects(self) -> list[Any]:
        """Every Brian2 object of the column, for an explicit ``Network``."""
        return [
            *self.neuron_groups,
            *self.synapse_objects,
            *self.inputs.values(),
            *self.extra_objects.values(),
        ]

    def __repr__(self) -> str:
        n = sum(len(g) for g in self.populations.values())
        return f"LaminarColumn({self.station!r}, {len(self.populations)} populations, {n} neurons)"


def poisson_input(group: NeuronGroup, variable: str, *, n_inputs: int, rate: Quantity, weight: Quantity, name: str,
                  slot: int | None = None) -> Any:
    """Independent Poisson input of ``n_inputs`` sources of ``rate`` onto every neuron.

    In every time step each neuron receives a ``Binomial(n_inputs, rate * dt)`` count of
    input spikes times ``weight``, as with :class:`brian2.PoissonInput` (Brian docs
    "Efficient Poisson inputs"). With ``slot``, the counts are drawn by event gaps
    (:mod:`columns.background`: same process, random draws only at steps that have an
    event), keeping each neuron's next event (its step and count) in the group's
    ``bg_next<slot>`` variable; without it (or if the group lacks that variable, or the
    rate is 0) by a binomial draw per neuron and step. Either way the operation and its functions have
    stable names (``PoissonInput`` names them ``poissoninput*``, which defeats the code
    cache). The time step is read from the group's clock when this is called.

    Parameters
    ----------
    group : NeuronGroup
    variable : str
        Target variable (``I_bg`` or ``g_bg``).
    n_inputs : int
        Number of sources per neuron (> 0).
    rate : Quantity (hertz)
    weight : Quantity
        Increment per input spike, in the unit of ``variable``.
    name : str
        Name of the operation; its functions are ``{name}_advance``/``{name}_count``
        (event gaps) or ``{name}_binomial``.
    slot : int, optional
        The group's event-gap state to use (:func:`columns.background.sampler_variables`).

    Returns
    -------
    brian2 CodeRunner
        Contained in ``group`` (runs with it, in the ``synapses`` slot).
    """
    require_unit(rate, hertz, f"rate of {name!r}")
    require_unit(weight, Quantity(1, dim=group.variables[variable].dim), f"weight of {name!r}")
    p = float(rate * group.clock.dt)
    group.namespace[f"{name}_weight"] = weight
    state = sampler_variable(slot) if slot is not None else None
    if state is not None and state in group.variables and p > 0:
        group.namespace.update(event_gap_functions(int(n_inputs), p, name))
        code = (f"{state} = {name}_advance(t_in_timesteps, {state})\n"
                f"{variable} += {name}_count(t_in_timesteps, {state})*{name}_weight")
        return group.run_regularly(code, when="synapses", name=name)
    binomial = BinomialFunction(int(n_inputs), p, name=f"{name}_binomial")
    group.namespace[binomial.name] = binomial
    return group.run_regularly(f"{variable} += {binomial.name}()*{name}_weight", when="synapses", name=name)


def _poisson_inputs(params: ColumnParams, derived: ColumnDerived) -> dict[str, list[tuple[str, str, int, Quantity, Quantity]]]:
    """The Poisson inputs of every population: ``(object name suffix, variable, sources, rate, weight)``.

    The background first, then one input per replaced presynaptic population; a
    population's k-th input uses event-gap slot k.
    """
    bg = params.background
    out: dict[str, list[tuple[str, str, int, Quantity, Quantity]]] = {name: [] for name in params.populations}
    for name in params.populations:
        if bg.enabled and bg.kind == "poisson" and derived.background_indegree[name] > 0 and bg.scale > 0:
            out[name].append(("background", target_variable(params.background_current, params.cell_model),
                              derived.background_indegree[name], bg.rate * bg.scale, derived.background_weight[name]))
    for (src, tgt), pw in params.replaced_pathways.items():
        n_in = derived.replaced_indegree[(src, tgt)]
        if n_in == 0:
            continue
        post = params.populations[tgt]
        psc = _psc(pw.psp_mean, post.cell) / np.sqrt(params.effective_k_scale)
        out[tgt].append((f"{src}_replacement", target_variable(_replacement_current(params, pw), params.cell_model), n_in,
                         params.replaced_populations[src].full_rate,
                         _to_model_weight(psc, pw.psp_mean, post.cell, params.cell_model)))
    return out


def _group_key(cell: CellParams, currents: Mapping[str, str], model: str, charges: bool) -> tuple:
    """What makes two populations' equations and constants identical (so they can share a group)."""
    constants = tuple(sorted((k, repr(v)) for k, v in cell.namespace().items()))
    return constants, tuple(sorted(currents.items())), model, charges


def build_column(
    params: ColumnParams | None = None,
    station: str = "v1",
    *,
    connectivity_seed: int,
    initial_state_seed: int,
    labels: Mapping[str, Mapping[str, Any]] | None = None,
    merge: bool = True,
    hooks: Collection[str] = HOOKS,
) -> LaminarColumn:
    """Build a column as named Brian2 objects (nothing runs, nothing is written).

    Parameters
    ----------
    params : ColumnParams, optional
        Default :data:`columns.pathways.DEFAULT_COLUMN`.
    station : str
        Name prefix (``v1``, ``v2``, ``pd14``...).
    connectivity_seed : int
        Seed of the connectivity generator (pairs, weights, delays).
    initial_state_seed : int
        Seed of the initial membrane potentials.
    labels : mapping, optional
        ``{population: {"rf_x": array, "rf_y": array, "orientation": ..., "channel": ...}}``,
        set before wiring (the RF fall-off uses ``rf_x``/``rf_y``).
    merge : bool
        Hold populations with the same equations and constants in one NeuronGroup and the
        pathways with the same source group, target group and pathway variable in one
        ``Synapses`` (default). Same network, same random draws, same spikes up to the
        order of floating-point additions; ``False`` builds one object per population and
        pathway (the layout before 2026-11-23, kept for benchmarks).
    hooks : collection of str
        Manipulation hooks of every population (:data:`columns.cell_models.HOOKS`:
        ``"tonic"``, ``"silence"``, ``"gain"``; default all). A hook costs per-cell state
        read at every step; a column built without one gives the same spikes as one whose
        hook is left neutral, and its manipulation method raises :class:`ConfigError`.

    Returns
    -------
    LaminarColumn

    Raises
    ------
    ConfigError
        Invalid parameters (see :func:`validate_column_params`), unknown label populations.
    """
    if params is None:
        from columns.pathways import DEFAULT_COLUMN

        params = DEFAULT_COLUMN
    if not station.isidentifier():
        raise ConfigError(f"station name must be an identifier (letters, digits, _), got {station!r}")
    derived = column_derived(params)
    column = LaminarColumn(station, params, derived, hooks)
    conn_rng = np.random.default_rng(connectivity_seed)
    init_rng = np.random.default_rng(initial_state_seed)
    # Populations with identical equations and constants share one NeuronGroup: the per-step
    # cost of Brian2 is per object (see PathwaySynapses), not per neuron.
    buckets: dict[tuple, list[str]] = {}
    v_init: dict[str, np.ndarray] = {}
    for name, pop in params.populations.items():
        v_init[name] = init_rng.normal(float(pop.v_init_mean / volt), float(pop.v_init_std / volt), derived.sizes[name])
        key = _group_key(pop.cell, derived.currents[name], params.cell_model, name in params.charge_populations)
        buckets.setdefault(key if merge else (name,), []).append(name)
    poisson_inputs = _poisson_inputs(params, derived)
    for k, names in enumerate(buckets.values()):
        first = params.populations[names[0]]
        n_total = sum(derived.sizes[name] for name in names)
        n_slots = max(len(poisson_inputs[name]) for name in names) if params.background.sampler == "event_gaps" else 0
        holder = make_population(
            f"{station}_{names[0]}" if len(names) == 1 else f"{station}_cells{k}",
            n_total,
            first.cell,
            derived.currents[names[0]],
            model=params.cell_model,
            charges=names[0] in params.charge_populations,
            ff_current=params.ff_current,
            hooks=column.hooks,
            sampler_slots=n_slots,
        )
        column.neuron_groups.append(holder)
        start = 0
        for name in names:
            n = derived.sizes[name]
            group = holder if len(names) == 1 else Subgroup(holder, start, start + n, name=f"{station}_{name}")
            start += n
            group.v = v_init[name] * volt
            group.I_dc = derived.dc[name]
            group._dc_values = np.full(n, float(derived.dc[name] / amp))
            # Python copies of the labels: wiring reads them before the run, which a
            # cpp_standalone device cannot do for a Subgroup's values
            group._label_values = {key: np.zeros(n, np.int32 if key == "channel" else float) for key in LABEL_NAMES}
            column.populations[name] = group
    column.populations = {name: column.populations[name] for name in params.populations}  # build order
    for pop_name, pop_labels in (labels or {}).items():
        column.set_labels(pop_name, **pop_labels)
    positions = {
        name: np.column_stack([label_values(g, "rf_x"), label_values(g, "rf_y")]) for name, g in column.populations.items()
    }
    # NEST redraws delays below half a step and rounds to whole steps (INM-6 PD14 network.py).
    delay_min = 0.5 * defaultclock.dt
    drawn: dict[tuple, list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
    w_unit = weight_unit(params.cell_model)
    for (src, tgt), pw in params.pathways.items():
        n_syn = derived.synapse_numbers[(src, tgt)]
        if n_syn == 0:
            continue
        pre, post = draw_fixed_total_number(
            derived.sizes[src],
            derived.sizes[tgt],
            n_syn,
            conn_rng,
            pre_positions=positions[src],
            post_positions=positions[tgt],
            falloff_sigma=params.rf_falloff_sigma,
        )
        w = draw_weights(derived.weights[(src, tgt)], pw.weight_rel_std, n_syn, conn_rng)
        d = draw_delays(pw.delay_mean, pw.delay_rel_std, n_syn, conn_rng, delay_min)
        source, target = column.populations[src], column.populations[tgt]
        key = (_holder(source).name, _holder(target).name, pw.current) if merge else (src, tgt)
        drawn.setdefault(key, []).append(
            (src, tgt, pre + _offset(source), post + _offset(target), np.asarray(w / w_unit), np.asarray(d / second))
        )
    for key, parts in drawn.items():
        src0, tgt0 = parts[0][0], parts[0][1]
        source, target = _holder(column.populations[src0]), _holder(column.populations[tgt0])
        pw0 = params.pathways[(src0, tgt0)]
        syn = connect_arrays(
            source,
            target,
            name=f"{station}_{src0}_to_{station}_{tgt0}" if len(parts) == 1 else f"{source.name}_to_{target.name}_{pw0.current}",
            i=np.concatenate([p[2] for p in parts]),
            j=np.concatenate([p[3] for p in parts]),
            weight=np.concatenate([p[4] for p in parts]) * w_unit,
            delay=np.concatenate([p[5] for p in parts]) * second,
            pathway=pw0.current,
            model=params.cell_model,
        )
        column.synapse_objects.append(syn)
        start = 0
        for src, tgt, pre, *_ in parts:
            column.synapses[(src, tgt)] = PathwaySynapses(
                syn, start, start + len(pre), f"{station}_{src}_to_{station}_{tgt}",
                column.populations[src], column.populations[tgt],
            )
            start += len(pre)
    event_gaps = params.background.sampler == "event_gaps"
    for name, inputs in poisson_inputs.items():
        group = column.populations[name]
        for slot, (suffix, variable, n_in, rate, weight) in enumerate(inputs):
            obj_name = f"{group.name}_{suffix}"
            column.background[obj_name] = poisson_input(
                group, variable, n_inputs=n_in, rate=rate, weight=weight, name=obj_name, slot=slot if event_gaps else None
            )
    logger.info(
        "column %s: %d neurons, %d synapses",
        station,
        sum(derived.sizes.values()),
        sum(derived.synapse_numbers.values()),
    )
    return column


def replace_params(params: ColumnParams, **changes: Any) -> ColumnParams:
    """``dataclasses.replace`` for ColumnParams, with a suggestion for unknown field names."""
    fields = [f.name for f in dataclasses.fields(params)]
    for key in changes:
        if key not in fields:
            raise ConfigError(f"unknown ColumnParams field {key!r}{suggest(key, fields)}")
    return dataclasses.replace(params, **changes)
