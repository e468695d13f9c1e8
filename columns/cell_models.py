"""Neuron model templates: leaky integrate-and-fire with pathway-resolved synaptic input.

Module-level :class:`brian2.Equations` templates are combined per population by
:func:`lif_equations` (Brian2's variable-name substitution, ``docs_sphinx/user/equations.rst``):
one membrane equation plus one exponential current (or conductance) per pathway, so each
pathway's input can be recorded on its own.

Templates and strings
---------------------
MEMBRANE
    ``dv/dt = (v_rest - v)/tau_m + (I_syn_exc + I_syn_inh + I_ext)/c_m`` with the
    manipulation currents (DC background ``I_dc``, tonic drive ``I_tonic``, silencing
    ``I_silence``) and the feedforward gain ``gain_ff``.
EXP_CURRENT, EXP_CONDUCTANCE, CHARGE, LABELS
    Per-pathway building blocks (substitute ``I``, ``g``, ``Q``, ``tau_syn``, ``e_rev``).
THRESHOLD, RESET, REFRACTORY
    Spike condition, reset and refractory period (PyNN names, NEST ``iaf_psc_exp`` semantics).

Functions and objects
---------------------
lif_equations
    The equations of one population for a set of pathway currents.
current_variable, charge_variable
    Names of the pathway variables (``I_l4``, ``Q_l4``...).
EXACT_LIF
    Exact (propagator) integration of the current-based model, as NEST's ``iaf_psc_exp``.

References
----------
Rotter S, Diesmann M (1999) Exact digital simulation of time-invariant linear systems with
applications to neuronal modeling. Biol Cybern 81:381. doi:10.1007/s004220050570.
Potjans TC, Diesmann M (2014) Cereb Cortex 24:785. doi:10.1093/cercor/bhs358.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from brian2 import Equations
from brian2.stateupdaters.base import UnsupportedEquationsException

from analysis.errors import ConfigError, suggest

__all__ = [
    "MEMBRANE",
    "EXP_CURRENT",
    "EXP_CONDUCTANCE",
    "CHARGE",
    "LABELS",
    "THRESHOLD",
    "RESET",
    "REFRACTORY",
    "CELL_MODELS",
    "HOOKS",
    "lif_equations",
    "check_hooks",
    "current_variable",
    "charge_variable",
    "integration_method",
    "EXACT_LIF",
]

#: Membrane of every model. ``I_syn_exc``/``I_syn_inh`` are the sums of the pathway
#: variables (defined by :func:`lif_equations`); the silencing current is active in
#: ``[silence_start, silence_stop)`` with amplitude ``silence_amplitude`` (>= 0,
#: hyperpolarising). The window is per cell, not shared: populations held in one group
#: (``columns.column.build_column``) are silenced independently. This is the membrane with
#: every manipulation hook (:data:`HOOKS`); :func:`lif_equations` leaves out the hooks a
#: network does not use.
_DV = "dv/dt = (v_rest - v)/tau_m + (I_syn_exc + I_syn_inh + I_ext)/c_m : volt (unless refractory)"
_SILENCE = (
    "I_silence = -silence_amplitude*int(t >= silence_start)*int(t < silence_stop) : amp",
    "silence_amplitude : amp",
    "silence_start : second",
    "silence_stop : second",
)
MEMBRANE = Equations("\n".join(
    [_DV, "I_ext = I_dc + I_tonic + I_silence : amp", _SILENCE[0], "I_dc : amp", "I_tonic : amp", "gain_ff : 1",
     *_SILENCE[1:]]
))

#: Manipulation hooks of the membrane: ``"tonic"`` (``I_tonic``), ``"silence"`` (the
#: silencing window) and ``"gain"`` (``gain_ff``). Each costs per-cell state read at every
#: step; a network built without a hook computes the same numbers as one whose hook is
#: neutral (``x + 0``, ``x - 0`` and ``1*x`` are exact in IEEE arithmetic).
HOOKS = ("tonic", "silence", "gain")


def _membrane(hooks: frozenset[str]) -> Equations:
    """The membrane equations with the given hooks (:data:`MEMBRANE` when all are present)."""
    if hooks == frozenset(HOOKS):
        return MEMBRANE
    terms = ["I_dc"] + (["I_tonic"] if "tonic" in hooks else []) + (["I_silence"] if "silence" in hooks else [])
    lines = [_DV, f"I_ext = {' + '.join(terms)} : amp", "I_dc : amp"]
    if "tonic" in hooks:
        lines.append("I_tonic : amp")
    if "gain" in hooks:
        lines.append("gain_ff : 1")
    if "silence" in hooks:
        lines += _SILENCE
    return Equations("\n".join(lines))


#: One exponentially decaying synaptic current (substitute ``I`` and ``tau_syn``).
EXP_CURRENT = Equations("dI/dt = -I/tau_syn : amp")

#: One exponentially decaying conductance and its current (substitute ``g``, ``I``,
#: ``tau_syn`` and ``e_rev``).
EXP_CONDUCTANCE = Equations(
    """
    dg/dt = -g/tau_syn : siemens
    I = g*(e_rev - v) : amp
    """
)

#: Charge delivered by one pathway since the last reset (substitute ``Q`` and ``I``).
CHARGE = Equations("dQ/dt = I : coulomb")

#: Per-cell labels set by the caller: RF centre (deg), preferred orientation (deg),
#: spatial phase (deg) and feature channel.
LABELS = Equations(
    """
    rf_x : 1 (constant)
    rf_y : 1 (constant)
    orientation : 1 (constant)
    phase : 1 (constant)
    channel : integer (constant)
    """
)

#: NEST ``iaf_psc_exp`` fires when V_m >= theta.
THRESHOLD = "v >= v_threshold"
RESET = "v = v_reset"
REFRACTORY = "tau_refractory"

#: The synapse models a population may use.
CELL_MODELS = ("current", "conductance")

_SIGNS = ("exc", "inh")


def current_variable(pathway: str) -> str:
    """Name of the pathway's current: ``"l4"`` -> ``"I_l4"``."""
    return f"I_{pathway}"


def charge_variable(pathway: str) -> str:
    """Name of the pathway's charge accumulator: ``"l4"`` -> ``"Q_l4"``."""
    return f"Q_{pathway}"


def _substitute(template: Equations, **names: str) -> Equations:
    """A template with its variable names replaced (Brian2 Equations substitution)."""
    return Equations(list(template.ordered), **names)


def lif_equations(
    currents: Mapping[str, str],
    *,
    model: str = "current",
    charges: bool = False,
    ff_current: str = "ff",
    hooks: Collection[str] = HOOKS,
) -> Equations:
    """Equations of a LIF population with one synaptic variable per pathway.

    Parameters
    ----------
    currents : mapping of str to str
        Pathway suffix -> ``"exc"`` or ``"inh"`` (selects ``tau_syn_exc``/``e_rev_exc`` or
        the inhibitory ones). ``{"ff": "exc", "l4": "exc", "pv": "inh"}`` gives ``I_ff``,
        ``I_l4`` and ``I_pv``.
    model : str
        ``"current"``: exponential currents ``I_*`` (PD14); ``"conductance"``: exponential
        conductances ``g_*`` with currents ``I_* = g_*(e_rev - v)``.
    charges : bool
        Add ``dQ_*/dt = I_*`` per pathway (pathway-resolved charge, reset by the caller).
    ff_current : str
        The pathway multiplied by ``gain_ff`` (feedforward/shortcut; top-down gain).
    hooks : collection of str
        The manipulation hooks to include (subset of :data:`HOOKS`; default all). Without
        ``"gain"`` the feedforward pathway enters unscaled.

    Returns
    -------
    brian2.Equations

    Raises
    ------
    ConfigError
        Unknown model, sign or hook.
    """
    if model not in CELL_MODELS:
        raise ConfigError(f"cell_model must be one of {CELL_MODELS}, got {model!r}{suggest(model, CELL_MODELS)}")
    hooks = check_hooks(hooks)
    eqs = _membrane(hooks) + LABELS
    sums: dict[str, list[str]] = {"exc": [], "inh": []}
    for name, sign in currents.items():
        if sign not in _SIGNS:
            raise ConfigError(f"sign of pathway current {name!r} must be 'exc' or 'inh', got {sign!r}")
        cur = current_variable(name)
        if model == "current":
            eqs += _substitute(EXP_CURRENT, I=cur, tau_syn=f"tau_syn_{sign}")
        else:
            eqs += _substitute(EXP_CONDUCTANCE, g=f"g_{name}", I=cur, tau_syn=f"tau_syn_{sign}", e_rev=f"e_rev_{sign}")
        if charges:
            eqs += _substitute(CHARGE, Q=charge_variable(name), I=cur)
        sums[sign].append(f"gain_ff*{cur}" if name == ff_current and "gain" in hooks else cur)
    for sign in _SIGNS:
        total = " + ".join(sums[sign]) if sums[sign] else "0*amp"
        eqs += Equations(f"I_syn_{sign} = {total} : amp")
    return eqs


def check_hooks(hooks: Collection[str]) -> frozenset[str]:
    """The hooks as a frozenset; :class:`ConfigError` for a name not in :data:`HOOKS`."""
    if isinstance(hooks, str):
        raise ConfigError(f"hooks must be a collection of names from {HOOKS}, got the string {hooks!r}")
    unknown = sorted(set(hooks) - set(HOOKS))
    if unknown:
        raise ConfigError(f"unknown manipulation hook {unknown[0]!r}; allowed: {', '.join(HOOKS)}{suggest(unknown[0], HOOKS)}")
    return frozenset(hooks)


def integration_method(model: str) -> Any:
    """The state updater of a model: :data:`EXACT_LIF` or ``"exponential_euler"``."""
    return EXACT_LIF if model == "current" else "exponential_euler"


class ExactLIFPropagator:
    """Exact integration of the current-based LIF model built by :func:`lif_equations`.

    Brian2's ``exact`` method solves the linear system symbolically, which takes seconds per
    population with several pathway currents and fails with charge accumulators. The system
    is known in closed form: each current decays as :math:`e^{-dt/\\tau_s}`, and the
    membrane sees only the two sums ``I_syn_exc``/``I_syn_inh``, so

    .. math::

        v(t+dt) = v_\\infty + (v - v_\\infty) e^{-dt/\\tau_m}
                  + \\sum_{s} I_s \\frac{\\tau_m \\tau_s}{C (\\tau_m - \\tau_s)}
                    (e^{-dt/\\tau_m} - e^{-dt/\\tau_s}),

    with :math:`v_\\infty = v_{rest} + I_{ext} \\tau_m / C` (``I_ext`` constant over a step),
    and the charge of a pathway grows by :math:`I \\tau_s (1 - e^{-dt/\\tau_s})`. This is
    the propagator of NEST's ``iaf_psc_exp`` (Rotter & Diesmann 1999). ``tau_syn`` must
    differ from ``tau_m``. The membrane is frozen while refractory.
    """

    __name__ = "exact_lif_propagator"

    def __call__(self, equations: Equations, variables: Any = None, method_options: Any = None) -> str:
        names = set(equations.diff_eq_names)
        if "v" not in names or "I_syn_exc" not in equations.names or "I_syn_inh" not in equations.names:
            raise UnsupportedEquationsException("not a lif_equations() current-based model")
        currents: dict[str, str] = {}
        charges: dict[str, str] = {}
        for eq in equations.ordered:
            if eq.type != "differential equation" or eq.varname == "v":
                continue
            expr = str(eq.expr.code).replace(" ", "")
            if eq.varname.startswith("I_") and expr.startswith(f"-{eq.varname}/tau_syn_"):
                currents[eq.varname] = expr.split("/", 1)[1]
            elif eq.varname.startswith("Q_") and expr == f"I_{eq.varname[2:]}":
                charges[eq.varname] = expr
            else:
                raise UnsupportedEquationsException(f"cannot integrate {eq.varname} = {expr} exactly")
        lines = [
            "_p_m = exp(-dt/tau_m)",
            "_p_exc = exp(-dt/tau_syn_exc)",
            "_p_inh = exp(-dt/tau_syn_inh)",
            "_v_inf = v_rest + I_ext*tau_m/c_m",
            "_v_new = _v_inf + (v - _v_inf)*_p_m"
            " + I_syn_exc*tau_m*tau_syn_exc/(c_m*(tau_m - tau_syn_exc))*(_p_m - _p_exc)"
            " + I_syn_inh*tau_m*tau_syn_inh/(c_m*(tau_m - tau_syn_inh))*(_p_m - _p_inh)",
            "v = v + int(not_refractory)*(_v_new - v)",
        ]
        for q, cur in charges.items():
            tau = currents[cur]
            sign = tau.removeprefix("tau_syn_")
            lines.append(f"{q} = {q} + {cur}*{tau}*(1 - _p_{sign})")
        for cur, tau in currents.items():
            lines.append(f"{cur} = {cur}*_p_{tau.removeprefix('tau_syn_')}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return "EXACT_LIF"


#: The exact propagator used for ``model="current"`` (pass as ``method=``).
EXACT_LIF = ExactLIFPropagator()
