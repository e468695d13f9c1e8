"""Population factory: one :class:`brian2.NeuronGroup` per population, with an explicit name.

Functions
---------
make_population
    Build the group of a population from its cell parameters and pathway currents.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from brian2 import NeuronGroup, second

from analysis.errors import ConfigError
from columns.background import sampler_variable, sampler_variables
from columns.cell_models import HOOKS, REFRACTORY, RESET, THRESHOLD, integration_method, lif_equations
from columns.params import CellParams

__all__ = ["make_population"]

logger = logging.getLogger(__name__)


def make_population(
    name: str,
    n: int,
    cell: CellParams,
    currents: Mapping[str, str],
    *,
    model: str = "current",
    charges: bool = False,
    ff_current: str = "ff",
    hooks: Collection[str] = HOOKS,
    sampler_slots: int = 0,
) -> NeuronGroup:
    """Build the NeuronGroup of one population.

    Parameters
    ----------
    name : str
        Brian2 object name, ``{station}_{layer}_{cell}`` (e.g. ``v1_l5_exc``).
    n : int
        Number of neurons (> 0).
    cell : CellParams
        Membrane and synapse parameters; they become the group's ``namespace``.
    currents : mapping of str to str
        Pathway suffix -> ``"exc"``/``"inh"`` (see :func:`columns.cell_models.lif_equations`).
    model : str
        ``"current"`` or ``"conductance"``.
    charges : bool
        Add per-pathway charge accumulators ``Q_*``.
    ff_current : str
        Pathway scaled by ``gain_ff``.
    hooks : collection of str
        Manipulation hooks (see :func:`columns.cell_models.lif_equations`; default all).
    sampler_slots : int
        Per-cell states for event-gap Poisson inputs (:mod:`columns.background`), set to
        -1 (nothing drawn yet).

    Returns
    -------
    brian2.NeuronGroup
        At rest (``v = v_rest``), ``gain_ff = 1``, no silencing window (for the hooks present).

    Raises
    ------
    ConfigError
        If ``n`` is not a positive integer.
    """
    if int(n) != n or n < 1:
        raise ConfigError(f"size of population {name!r} must be a positive integer, got {n}")
    eqs = lif_equations(currents, model=model, charges=charges, ff_current=ff_current, hooks=hooks)
    if sampler_slots:
        eqs += sampler_variables(sampler_slots)
    group = NeuronGroup(
        int(n),
        eqs,
        threshold=THRESHOLD,
        reset=RESET,
        refractory=REFRACTORY,
        method=integration_method(model),
        namespace=cell.namespace(),
        name=name,
    )
    group.v = cell.v_rest
    for slot in range(sampler_slots):
        setattr(group, sampler_variable(slot), -1.0)
    if "gain" in hooks:
        group.gain_ff = 1.0
    if "silence" in hooks:
        group.silence_start = 0 * second
        group.silence_stop = 0 * second
    logger.debug("population %s: %d neurons, pathways %s", name, n, sorted(currents))
    return group
