"""Monitors → flat arrays: the one place where Brian2 units come off the recorded data.

Functions
---------
monitor_spikes
    A ``SpikeMonitor``'s spikes since a given index as :class:`~analysis.SpikeTrains`.
epoch_charges
    Pathway-resolved synaptic charge per epoch of the sampled cells (``/currents``).
lgn_spike_arrays
    LGN ``SpikeTrains`` → (mosaic index, time) arrays for the ``SpikeGeneratorGroup``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from brian2 import SpikeMonitor, StateMonitor, coulomb, second

from analysis.errors import SpikeDataError
from analysis.spiketrains import SpikeTrains
from stimuli.lgn import LGNMosaic

__all__ = ["monitor_spikes", "epoch_charges", "lgn_spike_arrays"]


def monitor_spikes(
    monitor: SpikeMonitor, population: str, n_nodes: int, t_start: float, t_stop: float, since: int = 0
) -> SpikeTrains:
    """Spikes recorded by ``monitor`` from index ``since`` on, as SpikeTrains (s).

    Parameters
    ----------
    monitor : brian2.SpikeMonitor
    population : str
        Population name of the result.
    n_nodes : int
        Size of the monitored group.
    t_start, t_stop : float
        Window of the result, s; must contain the spikes.
    since : int
        Index of the first spike to return (the count already written, for streaming).
    """
    i = np.asarray(monitor.i[since:], dtype=np.int64)
    t = np.asarray(monitor.t[since:] / second, dtype=np.float64)
    # Brian2 records spikes at the end of the step: t_stop itself may appear at most.
    return SpikeTrains(population, i, np.clip(t, t_start, t_stop), n_nodes, t_start, t_stop)


def epoch_charges(
    monitor: StateMonitor,
    group: Any,
    sample: np.ndarray,
    epoch_start: np.ndarray,
    epoch_stop: np.ndarray,
) -> dict[str, np.ndarray]:
    """Charge delivered by each pathway in each epoch, per sampled cell (C).

    Parameters
    ----------
    monitor : brian2.StateMonitor
        Records the accumulators ``Q_*`` of the sampled cells every ``monitor.clock.dt``,
        from t = 0; epoch boundaries must be multiples of that interval.
    group : brian2.NeuronGroup
        The monitored group: its ``Q_*`` at the end of the run serve epochs ending there.
    sample : array of int
        Indices of the monitored cells in ``group``.
    epoch_start, epoch_stop : array of float, shape (n_epochs,)
        Epoch boundaries, s.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{pathway: (n_epochs, n_cells)}`` with ``Q(stop) - Q(start)`` in coulombs.

    Raises
    ------
    SpikeDataError
        An epoch boundary off the sampling grid or outside the recording.
    """
    step = float(monitor.clock.dt / second)
    n_samples = len(monitor.t)
    out = {}
    for variable in monitor.record_variables:
        samples = np.asarray(getattr(monitor, variable) / coulomb)  # (n_cells, n_samples)
        final = np.asarray(getattr(group, variable)[:] / coulomb)[np.asarray(sample)]
        series = np.concatenate([samples, final[:, None]], axis=1)
        bounds = []
        for edge in (np.asarray(epoch_start, float), np.asarray(epoch_stop, float)):
            k = np.rint(edge / step).astype(np.int64)
            if np.any(np.abs(k * step - edge) > 1e-9) or np.any(k < 0) or np.any(k > n_samples):
                raise SpikeDataError(
                    f"epoch boundaries must be multiples of the charge sampling interval {step} s inside the run"
                )
            bounds.append(k)
        out[variable.removeprefix("Q_")] = (series[:, bounds[1]] - series[:, bounds[0]]).T
    return out


def lgn_spike_arrays(spikes: dict[str, SpikeTrains], mosaic: LGNMosaic) -> tuple[np.ndarray, np.ndarray]:
    """Mosaic indices and times (s) of all LGN spikes, for ``SpikeGeneratorGroup.set_spikes``."""
    indices, times = [], []
    for population, st in spikes.items():
        idx = mosaic.population_indices(population)
        indices.append(idx[st.node_ids.astype(np.int64)])
        times.append(st.times)
    return np.concatenate(indices), np.concatenate(times)
