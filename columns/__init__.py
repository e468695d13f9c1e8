"""One laminar cortical column as named Brian2 objects (builds, never runs, never writes files).

Modules: :mod:`columns.params` (parameter dataclasses), :mod:`columns.pathways` (the
connection table), :mod:`columns.derived` (PSP->PSC, scaling, DC compensation),
:mod:`columns.cell_models` / :mod:`columns.synapse_models` (equation templates),
:mod:`columns.populations`, :mod:`columns.wiring`, :mod:`columns.column` and the PD14 preset
:mod:`columns.pd14`.
"""

from columns.column import PORTS, LaminarColumn, build_column, column_derived, validate_column_params
from columns.params import (
    DEFAULT_BACKGROUND,
    DEFAULT_EXC_CELL,
    DEFAULT_PV_CELL,
    BackgroundParams,
    CellParams,
    ColumnParams,
    PathwayParams,
    PopulationParams,
)
from columns.pathways import COLUMN_PATHWAYS, DEFAULT_COLUMN, pathway_matrix
from columns.pd14 import build_pd14, pd14_params
from columns.wiring import connect_arrays

__all__ = [
    "LaminarColumn",
    "build_column",
    "column_derived",
    "validate_column_params",
    "PORTS",
    "CellParams",
    "PopulationParams",
    "PathwayParams",
    "BackgroundParams",
    "ColumnParams",
    "DEFAULT_EXC_CELL",
    "DEFAULT_PV_CELL",
    "DEFAULT_BACKGROUND",
    "DEFAULT_COLUMN",
    "COLUMN_PATHWAYS",
    "pathway_matrix",
    "pd14_params",
    "build_pd14",
    "connect_arrays",
]
