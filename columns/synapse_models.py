"""Synapse model templates: static weights onto a pathway variable of the target.

Templates
---------
CURRENT_SYNAPSE, CONDUCTANCE_SYNAPSE
    Per-synapse weight (amp, or siemens for the conductance-based cells).
ON_PRE
    ``"{variable}_post += w"``: a presynaptic spike increments the pathway variable
    (``I_l4`` or ``g_l4``) of the target after the synapse's own delay.

Functions
---------
synapse_model, on_pre, target_variable, weight_unit
    The model string, the on_pre statement, the target variable and the weight unit of a
    pathway for a cell model.
"""

from __future__ import annotations

from brian2 import Unit, amp, siemens

from analysis.errors import ConfigError, suggest

__all__ = [
    "CURRENT_SYNAPSE",
    "CONDUCTANCE_SYNAPSE",
    "ON_PRE",
    "synapse_model",
    "on_pre",
    "target_variable",
    "weight_unit",
]

#: Static synapse with an exponential current jump (PD14 ``static_synapse`` onto
#: ``iaf_psc_exp``).
CURRENT_SYNAPSE = "w : amp (constant)"
#: Static synapse with an exponential conductance jump.
CONDUCTANCE_SYNAPSE = "w : siemens (constant)"
#: Spike transmission onto the pathway variable.
ON_PRE = "{variable}_post += w"

_MODELS = {"current": (CURRENT_SYNAPSE, "I_", amp), "conductance": (CONDUCTANCE_SYNAPSE, "g_", siemens)}


def _check(model: str) -> tuple[str, str, Unit]:
    try:
        return _MODELS[model]
    except KeyError:
        raise ConfigError(f"cell_model must be one of {tuple(_MODELS)}, got {model!r}{suggest(model, _MODELS)}") from None


def synapse_model(model: str = "current") -> str:
    """The ``model=`` string of a :class:`brian2.Synapses` for a cell model."""
    return _check(model)[0]


def target_variable(pathway: str, model: str = "current") -> str:
    """Target variable of a pathway: ``("l4", "current")`` -> ``"I_l4"``; conductance -> ``"g_l4"``."""
    return _check(model)[1] + pathway


def on_pre(pathway: str, model: str = "current") -> str:
    """The ``on_pre=`` statement delivering a spike onto the pathway variable."""
    return ON_PRE.format(variable=target_variable(pathway, model))


def weight_unit(model: str = "current") -> Unit:
    """Unit of the weights of a cell model (amp or siemens)."""
    return _check(model)[2]
