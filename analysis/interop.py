"""Export to the formats other tools read: Neo spike trains (for Elephant) and NWB.

Both are optional extras (``pip install -e .[neo]`` / ``.[nwb]``); they are imported only
when called. Converting to one object per neuron is slow for large records, so the flat
arrays stay the primary representation and these are on request only.

Functions
---------
split_population_name
    ``"v2_l5_exc"`` → ``("v2", "l5", "exc")``; ``"lgn_on"`` → ``("lgn", "", "on")``.
to_neo
    A :class:`SpikeRecord` as a list of ``neo.SpikeTrain`` with annotations.
export_nwb
    Write an NWB file with a ``Units`` table (station, layer, cell columns) and trials.

References
----------
Garcia S. et al. (2014) Neo: an object model for handling electrophysiology data in
multiple formats. Front. Neuroinform. 8:10. doi:10.3389/fninf.2014.00010
Rübel O. et al. (2022) The Neurodata Without Borders ecosystem for neurophysiological data
science. eLife 11:e78362. doi:10.7554/eLife.78362
"""

from __future__ import annotations

import datetime
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from analysis.errors import VentralColumnsError
from analysis.outputs import atomic_output
from analysis.spiketrains import SpikeRecord

__all__ = ["split_population_name", "to_neo", "export_nwb"]

_LAYERS = ("l23", "l4", "l5", "l6")


def split_population_name(population: str) -> tuple[str, str, str]:
    """Station, layer and cell type of a population name (``""`` where absent).

    Examples
    --------
    >>> split_population_name("v2_l5_exc")
    ('v2', 'l5', 'exc')
    >>> split_population_name("lgn_on")
    ('lgn', '', 'on')
    >>> split_population_name("l23_pv")
    ('', 'l23', 'pv')
    """
    parts = population.split("_")
    layer_at = next((k for k, p in enumerate(parts) if p in _LAYERS), None)
    if layer_at is None:
        return parts[0], "", "_".join(parts[1:])
    return "_".join(parts[:layer_at]), parts[layer_at], "_".join(parts[layer_at + 1 :])


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise VentralColumnsError(f"{module} is not installed; install the extra: pip install -e '.[{extra}]'") from None


def _node_labels(record: SpikeRecord, population: str, node: int) -> dict[str, Any]:
    table = record.nodes.get(population, {})
    return {key: values[node].item() for key, values in table.items()}


def to_neo(record: SpikeRecord, populations: list[str] | None = None) -> list[Any]:
    """Convert a record to a list of ``neo.SpikeTrain``, one per neuron, in seconds.

    Each train is annotated with ``population``, ``station``, ``layer``, ``cell`` and
    ``node_id``, plus the columns of the population's node table.

    Parameters
    ----------
    record : SpikeRecord
        The spikes.
    populations : list of str, optional
        Only these populations (default: all).

    Returns
    -------
    list of neo.SpikeTrain
    """
    neo = _require("neo", "neo")
    quantities = _require("quantities", "neo")
    trains = []
    for name in populations or record.populations:
        st = record[name]
        station, layer, cell = split_population_name(name)
        for node, times in enumerate(st.spike_times_per_node()):
            train = neo.SpikeTrain(
                times * quantities.s, t_start=st.t_start * quantities.s, t_stop=st.t_stop * quantities.s,
                name=f"{name}[{node}]",
            )
            train.annotate(population=name, station=station, layer=layer, cell=cell, node_id=node,
                           **_node_labels(record, name, node))
            trains.append(train)
    return trains


def export_nwb(record: SpikeRecord, path: str | os.PathLike[str], overwrite: bool = False,
               session_description: str = "ventral-columns simulation") -> Path:
    """Write ``record`` as an NWB file (atomically).

    The ``Units`` table has one row per neuron with its spike times (s) and the columns
    ``population``, ``station``, ``layer``, ``cell`` and ``node_id``; the epoch table goes
    into the NWB trials table (``start_time``/``stop_time`` plus every other column).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    pynwb = _require("pynwb", "nwb")
    created = record.provenance.get("created")
    start = datetime.datetime.fromisoformat(created) if created else datetime.datetime.now(datetime.timezone.utc)
    nwb = pynwb.NWBFile(
        session_description=session_description,
        identifier=str(uuid.uuid4()),
        session_start_time=start,
        source_script=record.provenance.get("package", "ventral-columns"),
        source_script_file_name="ventral-columns",
    )
    for column, text in [("population", "population name"), ("station", "station (lgn, v1, v2, v4, it)"),
                         ("layer", "cortical layer (l23, l4, l5)"), ("cell", "cell type (exc, pv, on, off)"),
                         ("node_id", "index within the population")]:
        nwb.add_unit_column(name=column, description=text)
    for name in record.populations:
        st = record[name]
        station, layer, cell = split_population_name(name)
        for node, times in enumerate(st.spike_times_per_node()):
            nwb.add_unit(spike_times=times, population=name, station=station, layer=layer, cell=cell, node_id=node)
    if record.trials is not None:
        extra = [c for c in record.trials if c not in ("start", "stop")]
        for column in extra:
            nwb.add_trial_column(name=column, description=f"epoch table column {column}")
        for row in range(record.n_trials):
            values = {c: np.asarray(record.trials[c])[row].item() for c in extra}
            nwb.add_trial(start_time=float(record.trials["start"][row]), stop_time=float(record.trials["stop"][row]), **values)
    with atomic_output(path, overwrite=overwrite) as tmp:
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return Path(path)
