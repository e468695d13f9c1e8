"""Spike data model, HDF5 I/O and analyses of ventral-columns (never imports brian2).

The data model (:class:`SpikeTrains`, :class:`SpikeRecord`) and the SONATA-compatible
file (:func:`write_spike_record`, :func:`read_spike_record`, :class:`SpikeFileWriter`)
are re-exported here; analyses live in their own modules.
"""

from analysis.errors import (
    ConfigError,
    FileFormatError,
    OutputExistsError,
    SpikeDataError,
    VentralColumnsError,
)
from analysis.hdf5_io import (
    SpikeFileWriter,
    file_info,
    iter_spike_chunks,
    read_spike_record,
    read_spikes,
    read_trials,
    write_spike_record,
)
from analysis.spiketrains import SpikeRecord, SpikeTrains

__all__ = [
    "SpikeTrains",
    "SpikeRecord",
    "SpikeFileWriter",
    "write_spike_record",
    "read_spike_record",
    "read_spikes",
    "iter_spike_chunks",
    "read_trials",
    "file_info",
    "VentralColumnsError",
    "ConfigError",
    "SpikeDataError",
    "FileFormatError",
    "OutputExistsError",
]
