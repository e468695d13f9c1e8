"""The column's pathway table and its matrix view.

The 3-layer column is PD14 restricted to L2/3, L4 and L5 (E = exc, I = pv); L6's input
onto them is replaced by Poisson input (DESIGN 2.3). Pathways are keyed by
``(source, target)`` so the order cannot be misread (PD14's matrix is [target, source]).

Tables
------
COLUMN_POPULATIONS, COLUMN_PATHWAYS, REPLACED_POPULATIONS, REPLACED_PATHWAYS, DEFAULT_COLUMN

Functions
---------
pathway_matrix
    Render a pathway table as a [target, source] matrix of one field.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from analysis.errors import ConfigError, suggest
from columns.params import DEFAULT_PV_CELL, ColumnParams, PathwayParams, PopulationParams
from columns.pd14 import PD14_POPULATIONS, pd14_pathways

__all__ = [
    "COLUMN_POPULATIONS",
    "COLUMN_PATHWAYS",
    "REPLACED_POPULATIONS",
    "REPLACED_PATHWAYS",
    "DEFAULT_COLUMN",
    "DEFAULT_COLUMN_SCALE",
    "pathway_matrix",
]

_ORDER = ("l4_exc", "l4_pv", "l23_exc", "l23_pv", "l5_exc", "l5_pv")

#: Column populations: PD14's, with fast-spiking PV cells (columns.params.DEFAULT_PV_CELL).
COLUMN_POPULATIONS: dict[str, PopulationParams] = {
    name: (dataclasses.replace(PD14_POPULATIONS[name], cell=DEFAULT_PV_CELL) if name.endswith("_pv") else PD14_POPULATIONS[name])
    for name in _ORDER
}

#: Intra-column pathways: PD14 Table 5 restricted to L2/3, L4, L5, pathway-resolved.
COLUMN_PATHWAYS: dict[tuple[str, str], PathwayParams] = pd14_pathways(_ORDER, pathway_resolved=True)

#: Left-out PD14 populations whose input the column receives as Poisson background.
REPLACED_POPULATIONS: dict[str, PopulationParams] = {n: PD14_POPULATIONS[n] for n in ("l6_exc", "l6_pv")}
REPLACED_PATHWAYS: dict[tuple[str, str], PathwayParams] = pd14_pathways(_ORDER, ("l6_exc", "l6_pv"))

#: Size of the default column relative to PD14 (about 2,400 neurons: fits several stations
#: on a 2-core laptop, DESIGN 2.1).
DEFAULT_COLUMN_SCALE = 0.04

DEFAULT_COLUMN = ColumnParams(
    populations=COLUMN_POPULATIONS,
    pathways=COLUMN_PATHWAYS,
    n_scale=DEFAULT_COLUMN_SCALE,
    replaced_populations=REPLACED_POPULATIONS,
    replaced_pathways=REPLACED_PATHWAYS,
)


def pathway_matrix(
    pathways: dict[tuple[str, str], PathwayParams], order: tuple[str, ...], field: str = "probability"
) -> np.ndarray:
    """A ``[target, source]`` matrix of one pathway field (0 where there is no pathway).

    Parameters
    ----------
    pathways : dict of (str, str) to PathwayParams
    order : tuple of str
        Population order of rows (targets) and columns (sources).
    field : str
        ``probability``, ``psp_mean`` (mV), ``delay_mean`` (ms), ``weight_rel_std``...

    Returns
    -------
    ndarray of float64, shape (len(order), len(order))

    Examples
    --------
    >>> m = pathway_matrix(COLUMN_PATHWAYS, ("l4_exc", "l23_exc"))
    >>> float(m[1, 0])  # L4E -> L2/3E, PD14 Table 5
    0.0437
    """
    names = [f.name for f in dataclasses.fields(PathwayParams)]
    if field not in names:
        raise ConfigError(f"unknown pathway field {field!r}{suggest(field, names)}")
    index = {name: k for k, name in enumerate(order)}
    out = np.zeros((len(order), len(order)))
    for (src, tgt), pw in pathways.items():
        if src in index and tgt in index:
            value = getattr(pw, field)
            if field == "psp_mean":
                value = float(value / 1e-3)
            elif field == "delay_mean":
                value = float(value / 1e-3)
            out[index[tgt], index[src]] = float(value)
    return out
