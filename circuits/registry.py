"""Names of the experiments and the modules that define them (no heavy imports: the CLI reads it)."""

from __future__ import annotations

__all__ = ["EXPERIMENT_MODULES"]

#: Stream experiments of ``ventral-columns experiment NAME``: name → module defining ``SPEC``
#: (a :class:`circuits.experiments.ExperimentSpec`). Modules are imported on first use.
EXPERIMENT_MODULES: dict[str, str] = {
    "calibrate": "circuits.exp_calibrate",
    "edge-tuning": "circuits.experiments",
    "variability": "circuits.exp_variability",
    "cancellation": "circuits.exp_cancellation",
    "receptive-fields": "circuits.exp_receptive_fields",
    "hierarchy": "circuits.exp_hierarchy",
    "block-lesion": "circuits.exp_block_lesion",
}
