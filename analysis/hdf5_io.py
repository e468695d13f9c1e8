"""The SONATA-compatible HDF5 output file: incremental writer and lazy readers.

This is the only module that imports :mod:`h5py`.

Layout (DESIGN §4)::

    /                     attrs: magic = 0x0A7A (uint32), version = [0, 1] (uint32),
                                 format = "ventral-columns", format_version, complete
    /spikes/<population>  attrs: sorting (HDF5 enum none/by_id/by_time = by_time),
                                 n_nodes, t_start, t_stop (in the timestamps' units)
        timestamps        float64, attr units = "ms"
        node_ids          uint64
    /nodes/<population>/<column>     per-neuron labels (length n_nodes)
    /trials/<column>                 epoch table; start/stop carry units = "s"
    /stimulus/protocol               JSON string; other datasets: arrays (noise frames...)
    /currents/<population>/node_ids  and /<pathway> (n_epochs, n_cells), units = "pC"
    /config                          JSON string (the resolved configuration)
    /provenance                      JSON string (versions, seeds, device, wall times)

Classes
-------
SpikeFileWriter
    Streams spikes chunk by chunk into resizable, chunked, compressed datasets; memory is
    bounded by the chunk. Finalised atomically (temporary name, then rename).

Functions
---------
write_spike_record, read_spike_record
    Whole-record round trip.
read_spikes, iter_spike_chunks
    One population, a time window, or chunk by chunk, without loading the whole file.
read_nodes, read_trials, read_config, read_provenance, read_stimulus, read_currents
    The other groups.
file_info
    A summary of a file for ``ventral-columns info``.

References
----------
Dai K. et al. (2020) The SONATA data format for efficient description of large-scale
network models. PLoS Comput Biol 16(2): e1007696. doi:10.1371/journal.pcbi.1007696
(spike file: ``/spikes/<population>/{timestamps,node_ids}``, ``sorting`` enum, ``magic``
and ``version`` root attributes).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from analysis.errors import FileFormatError, SpikeDataError, VentralColumnsError, suggest
from analysis.outputs import OutputWriteError, atomic_output, json_default, partial_path, write_failure
from analysis.provenance import collect_provenance
from analysis.spiketrains import POPULATION_NAME, SpikeRecord, SpikeTrains, validate_table

__all__ = [
    "MAGIC",
    "SONATA_VERSION",
    "FORMAT_VERSION",
    "SORTING_DTYPE",
    "SpikeFileWriter",
    "write_spike_record",
    "read_spike_record",
    "read_spikes",
    "iter_spike_chunks",
    "list_populations",
    "read_nodes",
    "read_trials",
    "read_config",
    "read_provenance",
    "read_stimulus",
    "read_currents",
    "file_info",
    "partial_path",
]

logger = logging.getLogger(__name__)

#: SONATA magic number (root attribute ``magic``).
MAGIC = 0x0A7A
#: SONATA spike-file version (root attribute ``version``).
SONATA_VERSION = (0, 1)
#: Version of our extensions (/nodes, /trials, /stimulus, /currents, /config, /provenance).
FORMAT_VERSION = "1.0"
#: SONATA's ``sorting`` attribute: an HDF5 enum over a signed char, as libsonata reads it.
SORTING_DTYPE = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype=np.int8)
_SORTING_NAMES = {0: "none", 1: "by_id", 2: "by_time"}

#: Time units the reader understands → ticks per second.
_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}
_CHARGE_UNITS = {"C": 1.0, "nC": 1e9, "pC": 1e12, "fC": 1e15}
_CHUNK = 1 << 16  # elements per HDF5 chunk: 512 KiB of float64
_STRING = h5py.string_dtype("utf-8")


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def _write_table(group: h5py.Group, table: Mapping[str, np.ndarray], units: Mapping[str, str]) -> None:
    for key, values in table.items():
        values = np.asarray(values)
        if values.dtype.kind == "U":
            dset = group.create_dataset(key, data=values.astype(object), dtype=_STRING)
        else:
            dset = group.create_dataset(key, data=values)
        if key in units:
            dset.attrs["units"] = units[key]


def _timed(method: Any) -> Any:
    """Count the wall time spent inside a writer method (outermost call only) as ``write``.

    A failed write to disk (full disk, file size limit) becomes a one-line
    :class:`~analysis.outputs.OutputWriteError`.
    """
    import functools

    @functools.wraps(method)
    def wrapper(self: SpikeFileWriter, *args: Any, **kwargs: Any) -> Any:
        self._depth += 1
        t0 = time.perf_counter()
        try:
            result = method(self, *args, **kwargs)
            if self._depth == 1:
                self._file.flush()  # metadata written now, so a failure is seen by this call
                if self._handle.failure is not None:
                    raise self._handle.failure
            return result
        except Exception as exc:
            # after a dropped write, whatever HDF5 complains about next is its consequence
            failure = self._handle.failure
            reason = write_failure(exc if failure is None else failure)
            if reason is None or isinstance(exc, OutputWriteError):
                raise
            # Every later call (e.g. a caller's cleanup that sets the window) raises this
            # same error without touching the file again: another failed HDF5 write would
            # replace the cause with a misleading message, and HDF5 may crash at close.
            self._failure = self._write_error(reason)
            raise self._failure from None
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._busy += time.perf_counter() - t0

    return wrapper


class _GuardedFile(io.RawIOBase):
    """The temporary output file as HDF5 sees it (h5py's file-object driver).

    HDF5 2.0 does not survive a write that fails: the error surfaces late (when a handle
    is freed, where h5py can only print it) and a file whose close failed crashes the
    process at exit (SIGSEGV). So HDF5 never sees a failure here: the first failed write
    (full disk, file size limit...) is remembered in :attr:`failure`, it and every later
    write are dropped, and :class:`SpikeFileWriter` raises the failure itself at the end
    of the call. The file is deleted afterwards, so what was dropped does not matter.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._raw = open(path, "w+b", buffering=0)  # closed in close()
        self.failure: OSError | None = None
        self._end = 0  # the end of the file as HDF5 believes it (dropped writes included)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._raw.seek(max(self._end, self._raw.seek(0, io.SEEK_END)) + offset)
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = self._raw.readinto(view) or 0
        if self.failure is not None and n < len(view):  # a dropped region reads as zeros
            view[n:] = bytes(len(view) - n)
            self._raw.seek(len(view) - n, io.SEEK_CUR)
            n = len(view)
        return n

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while self.failure is None and done < len(view):
            try:
                done += self._raw.write(view[done:])
            except OSError as exc:
                self.failure = exc
        if done < len(view):
            self._raw.seek(len(view) - done, io.SEEK_CUR)  # dropped, but HDF5 goes on consistently
        self._end = max(self._end, self._raw.tell())
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        self._end = size
        if self.failure is None:
            try:
                return self._raw.truncate(size)
            except OSError as exc:
                self.failure = exc
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def _json_dataset(parent: h5py.Group, name: str, document: Mapping[str, Any]) -> None:
    text = json.dumps(document, default=json_default, sort_keys=False)
    if name in parent:
        del parent[name]
    parent.create_dataset(name, data=text, dtype=_STRING)


class SpikeFileWriter:
    """Incremental, atomic writer of the HDF5 output file.

    Parameters
    ----------
    path : path-like
        Final file name. Nothing appears under it until :meth:`close` succeeds.
    overwrite : bool
        Replace an existing file. Without it an existing file raises
        :class:`~analysis.errors.OutputExistsError` before anything is written.
    keep_partial : bool
        If the writer is aborted (an exception inside the ``with`` block, or
        :meth:`abort`), keep what was written as ``<stem>.partial<suffix>`` (or
        ``.partial-2``... next to an earlier one) with the root attribute
        ``complete = False`` instead of deleting it.
    compression : {None, "gzip"}
        Filter of the spike datasets. Default ``None``: the HDF5 library inside the
        libsonata wheels has no deflate filter, so compressed spikes would be unreadable
        by that SONATA reader. ``"gzip"`` (level 1, with shuffle) halves the size for
        readers built with zlib (h5py, BMTK).
    chunk_size : int
        Elements per HDF5 chunk of the spike datasets.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is false.
    OutputWriteError
        A write failed (full disk, file size limit, quota, no permission): raised by the
        call that failed; the temporary file is removed, even with ``keep_partial``.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
    >>> with SpikeFileWriter(path) as writer:
    ...     writer.add_population("v1_l4_exc", n_nodes=3)
    ...     writer.append("v1_l4_exc", [0, 2], [0.001, 0.004])
    ...     writer.append("v1_l4_exc", [1], [0.010])
    ...     writer.set_window("v1_l4_exc", 0.0, 0.02)
    >>> read_spikes(path, "v1_l4_exc").times.tolist()
    [0.001, 0.004, 0.01]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        overwrite: bool = False,
        keep_partial: bool = False,
        compression: str | None = None,
        chunk_size: int = _CHUNK,
    ) -> None:
        if compression not in ("gzip", None):
            raise SpikeDataError(f"compression must be 'gzip' or None, got {compression!r}")
        if int(chunk_size) < 1:
            raise SpikeDataError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        self.path = Path(path)
        self._ctx = atomic_output(self.path, overwrite=overwrite, keep_partial=keep_partial)
        self._tmp = self._ctx.__enter__()
        self._busy = 0.0  # wall time spent writing (the provenance's "write" phase), s
        self._depth = 0
        self._filters = {"compression": "gzip", "compression_opts": 1, "shuffle": True} if compression else {}
        self._chunk = int(chunk_size)
        self._last_time: dict[str, float] = {}
        self._n_nodes: dict[str, int] = {}
        self._provenance: dict[str, Any] | None = None
        self._closed = False
        self._failure: OutputWriteError | None = None  # set by the first failed write
        try:
            # The default (earliest) format keeps files readable by older HDF5 libraries, e.g.
            # the HDF5 1.14 inside libsonata; libver="latest" writes layout messages they reject.
            self._handle = _GuardedFile(self._tmp)
            self._file = h5py.File(self._handle, "w", track_order=True)  # populations keep their order
            self._file.attrs.create("magic", MAGIC, dtype=np.uint32)
            self._file.attrs.create("version", np.array(SONATA_VERSION, dtype=np.uint32))
            self._file.attrs["format"] = "ventral-columns"
            self._file.attrs["format_version"] = FORMAT_VERSION
            self._file.attrs["complete"] = False
            self._file.create_group("spikes", track_order=True)
            self._file.flush()
            if self._handle.failure is not None:
                raise self._handle.failure
        except BaseException as exc:
            self._closed = True
            self._release()
            reason = write_failure(exc)
            error = self._write_error(reason) if reason is not None else exc
            self._ctx.__exit__(type(error), error, None)
            if reason is not None:
                raise error from None
            raise

    # -- context manager --------------------------------------------------------------
    def __enter__(self) -> SpikeFileWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc if exc is not None else exc_type())

    # -- spikes -----------------------------------------------------------------------
    @_timed
    def add_population(self, population: str, n_nodes: int, t_start: float = 0.0) -> None:
        """Create an empty, resizable population ``/spikes/<population>``.

        Parameters
        ----------
        population : str
            Lowercase identifier, e.g. ``"v1_l5_exc"``.
        n_nodes : int
            Number of neurons (silent ones included).
        t_start : float
            Start of the recording window, s.
        """
        self._check_open()
        if not isinstance(population, str) or not POPULATION_NAME.match(population):
            raise SpikeDataError(f"population name {population!r} must be a lowercase identifier")
        if population in self._n_nodes:
            raise SpikeDataError(f"population {population!r} was already added")
        if int(n_nodes) != n_nodes or n_nodes < 0:
            raise SpikeDataError(f"{population}: n_nodes must be a non-negative integer, got {n_nodes!r}")
        group = self._file["spikes"].create_group(population)
        group.attrs.create("sorting", 2, dtype=SORTING_DTYPE)
        group.attrs.create("n_nodes", int(n_nodes), dtype=np.uint64)
        group.attrs["t_start"] = float(t_start) * 1e3
        group.attrs["t_stop"] = float(t_start) * 1e3
        ts = group.create_dataset(
            "timestamps", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(self._chunk,), **self._filters
        )
        ts.attrs["units"] = "ms"
        group.create_dataset(
            "node_ids", shape=(0,), maxshape=(None,), dtype=np.uint64, chunks=(self._chunk,), **self._filters
        )
        self._n_nodes[population] = int(n_nodes)
        self._last_time[population] = float(t_start)

    @_timed
    def append(self, population: str, node_ids: Any, times: Any) -> None:
        """Append one chunk of spikes (times in s) to a population.

        Chunks must come in time order: every spike of a chunk is at or after the last
        spike already written, so the file stays ``sorting = by_time``.

        Raises
        ------
        SpikeDataError
            Unknown population, ids out of range, non-finite or out-of-order times.
        """
        self._check_open()
        if population not in self._n_nodes:
            raise SpikeDataError(
                f"unknown population {population!r}{suggest(population, self._n_nodes)}; add_population first"
            )
        last = self._last_time[population]
        times = np.asarray(times)
        if times.size and times.dtype.kind not in "iuf":  # np.min below needs numbers
            raise SpikeDataError(f"{population}: times must be real numbers in s, got dtype {times.dtype}")
        chunk = SpikeTrains(
            population,
            node_ids,
            times,
            self._n_nodes[population],
            t_start=min(last, np.min(times)) if np.size(times) else last,
            t_stop=max(last, np.max(times)) if np.size(times) else last,
        )
        if chunk.n_spikes == 0:
            return
        if chunk.times[0] < last:
            raise SpikeDataError(
                f"{population}: chunk starts at {chunk.times[0]} s, before the last written spike at "
                f"{last} s; append chunks in time order"
            )
        group = self._file["spikes"][population]
        n_old = group["timestamps"].shape[0]
        n_new = n_old + chunk.n_spikes
        group["timestamps"].resize((n_new,))
        group["node_ids"].resize((n_new,))
        group["timestamps"][n_old:n_new] = chunk.times * 1e3
        group["node_ids"][n_old:n_new] = chunk.node_ids
        self._last_time[population] = float(chunk.times[-1])
        group.attrs["t_stop"] = max(group.attrs["t_stop"], float(chunk.times[-1]) * 1e3)

    @_timed
    def set_window(self, population: str, t_start: float, t_stop: float) -> None:
        """Set the recording window (s) of a population; it must contain every spike."""
        self._check_open()
        if population not in self._n_nodes:
            raise SpikeDataError(f"unknown population {population!r}{suggest(population, self._n_nodes)}")
        group = self._file["spikes"][population]
        n = group["timestamps"].shape[0]
        if n and (group["timestamps"][0] < t_start * 1e3 or self._last_time[population] > t_stop):
            raise SpikeDataError(f"{population}: window [{t_start}, {t_stop}] s does not contain every spike")
        if not t_stop >= t_start:
            raise SpikeDataError(f"{population}: need t_start <= t_stop, got [{t_start}, {t_stop}]")
        group.attrs["t_start"] = float(t_start) * 1e3
        group.attrs["t_stop"] = float(t_stop) * 1e3

    @_timed
    def write_spiketrains(self, spiketrains: SpikeTrains) -> None:
        """Add a whole population in one call (chunked internally)."""
        self.add_population(spiketrains.population, spiketrains.n_nodes, spiketrains.t_start)
        for lo in range(0, spiketrains.n_spikes, self._chunk * 16):
            hi = lo + self._chunk * 16
            self.append(spiketrains.population, spiketrains.node_ids[lo:hi], spiketrains.times[lo:hi])
        self.set_window(spiketrains.population, spiketrains.t_start, spiketrains.t_stop)

    # -- the other groups ---------------------------------------------------------------
    @_timed
    def write_nodes(self, population: str, table: Mapping[str, Any]) -> None:
        """Write ``/nodes/<population>``: per-neuron label columns of length ``n_nodes``."""
        self._check_open()
        n_rows = self._n_nodes.get(population)
        table = validate_table(f"nodes/{population}", table, n_rows)
        if "nodes" not in self._file:
            self._file.create_group("nodes", track_order=True)
        group = self._file["nodes"].create_group(population, track_order=True)
        _write_table(group, table, {})

    @_timed
    def write_trials(self, table: Mapping[str, Any]) -> None:
        """Write ``/trials``, the epoch table (``start``, ``stop`` in s, plus any columns)."""
        self._check_open()
        record = SpikeRecord(spikes={}, trials=dict(table))  # validates the required columns
        group = self._file.create_group("trials", track_order=True)
        _write_table(group, record.trials or {}, {"start": "s", "stop": "s"})

    @_timed
    def write_stimulus(self, description: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Write ``/stimulus``: the protocol as JSON plus arrays stored verbatim (compressed)."""
        self._check_open()
        group = self._file.create_group("stimulus")
        _json_dataset(group, "protocol", dict(description))
        for key, arr in (arrays or {}).items():
            arr = np.asarray(arr)
            # Stimulus frames compress well and no SONATA reader looks at them.
            opts = {"compression": "gzip", "compression_opts": 1, "shuffle": True} if arr.ndim and arr.size > 1024 else {}
            group.create_dataset(key, data=arr, **opts)

    @_timed
    def write_currents(self, population: str, table: Mapping[str, Any]) -> None:
        """Write ``/currents/<population>``: ``node_ids`` and per-pathway charge (C) arrays.

        Each pathway array has shape ``(n_epochs, n_cells)`` and is stored in pC.
        """
        self._check_open()
        SpikeRecord(spikes={}, currents={population: dict(table)})  # validates shapes
        if "currents" not in self._file:
            self._file.create_group("currents", track_order=True)
        group = self._file["currents"].create_group(population, track_order=True)
        for key, values in table.items():
            values = np.asarray(values)
            if key == "node_ids":
                group.create_dataset(key, data=values.astype(np.uint64))
            else:
                group.create_dataset(key, data=values.astype(np.float64) * _CHARGE_UNITS["pC"])
                group[key].attrs["units"] = "pC"

    @_timed
    def write_config(self, config: Mapping[str, Any]) -> None:
        """Write ``/config``: the resolved configuration as one JSON string."""
        self._check_open()
        _json_dataset(self._file, "config", dict(config))

    def write_provenance(self, provenance: Mapping[str, Any]) -> None:
        """Set the provenance; written at :meth:`close` with the measured ``write`` time."""
        self._check_open()
        self._provenance = dict(provenance)

    # -- finalisation -------------------------------------------------------------------
    def _finish_provenance(self) -> None:
        prov = collect_provenance() if self._provenance is None else dict(self._provenance)
        for key, value in collect_provenance().items():
            prov.setdefault(key, value)
        walls = dict(prov.get("wall_time_s") or {})
        if walls.get("write") is None:
            walls["write"] = self._busy
        prov["wall_time_s"] = walls
        _json_dataset(self._file, "provenance", prov)

    def close(self) -> Path:
        """Finalise: write provenance, mark complete, close and rename to the final name."""
        if self._closed:
            return self.path
        if self._failure is not None:
            self.abort(self._failure)
            raise self._failure
        try:
            if "config" not in self._file:
                _json_dataset(self._file, "config", {})
            self._finish_provenance()
            self._file.attrs["complete"] = True
            self._release()
            if self._handle.failure is not None:
                raise self._handle.failure
        except BaseException as exc:
            failure = self._handle.failure
            reason = write_failure(exc if failure is None or not isinstance(exc, Exception) else failure)
            if reason is None or isinstance(exc, OutputWriteError):
                self.abort(exc)
                raise
            error = self._write_error(reason)
            self.abort(error)
            raise error from None
        self._closed = True
        self._ctx.__exit__(None, None, None)
        logger.info("wrote %s", self.path)
        return self.path

    def abort(self, exc: BaseException | None = None) -> None:
        """Stop writing: delete the temporary file, or keep it as a marked partial file."""
        if self._closed:
            return
        self._closed = True
        if self._failure is not None:  # a failed write decides: nothing is kept
            exc = self._failure
        failed_write = exc is not None and write_failure(exc) is not None
        try:
            if self._file.id.valid and not failed_write:  # a failed file is not worth annotating
                self._file.attrs["partial_reason"] = repr(exc) if exc is not None else "aborted"
                self._finish_provenance()
        except Exception:  # noqa: BLE001 - the file may be unusable; removing it is what matters
            logger.debug("could not annotate the partial file", exc_info=True)
        self._release()
        if self._handle.failure is not None and not failed_write:  # the annotation did not fit
            exc = self._write_error(write_failure(self._handle.failure) or "write failed")
        # atomic_output deletes (or keeps as partial) the temporary file; it re-raises the
        # exception it is given, which contextlib turns into a plain False return.
        reason = exc if exc is not None else RuntimeError("aborted")
        self._ctx.__exit__(type(reason), reason, None)

    def _write_error(self, reason: str) -> OutputWriteError:
        return OutputWriteError.for_path(self.path, reason)

    def _release(self) -> None:
        """Close the HDF5 file, then the file under it (HDF5 sees no failure: no exception)."""
        try:
            if getattr(self, "_file", None) is not None and self._file.id.valid:
                self._file.close()
        except Exception:  # noqa: BLE001 - the caller decides from the recorded failure
            logger.debug("closing the HDF5 file failed", exc_info=True)
        handle = getattr(self, "_handle", None)
        if handle is not None and not handle.closed:
            handle.close()

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise SpikeDataError(f"writer for {self.path} is closed")


def write_spike_record(
    record: SpikeRecord, path: str | os.PathLike[str], overwrite: bool = False, compression: str | None = None
) -> Path:
    """Write a whole :class:`SpikeRecord` to ``path`` atomically.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    with SpikeFileWriter(path, overwrite=overwrite, compression=compression) as writer:
        for spiketrains in record:
            writer.write_spiketrains(spiketrains)
        for population, table in record.nodes.items():
            writer.write_nodes(population, table)
        if record.trials is not None:
            writer.write_trials(record.trials)
        if record.stimulus or record.stimulus_arrays:
            writer.write_stimulus(record.stimulus, record.stimulus_arrays)
        for population, table in record.currents.items():
            writer.write_currents(population, table)
        writer.write_config(record.config)
        if record.provenance:
            writer.write_provenance(record.provenance)
    return Path(path)


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
class _SpikeFile:
    """An opened, checked file: the one place that turns h5py/OS failures into our errors."""

    def __init__(self, path: str | os.PathLike[str], allow_partial: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileFormatError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise FileFormatError(f"{self.path}: is a directory, expected an HDF5 spike file")
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise FileFormatError(
                f"{self.path}: not a readable HDF5 file (truncated or corrupt?): {_first_line(exc)}"
            ) from None
        try:
            magic = self.file.attrs.get("magic")
            if magic is None or int(np.asarray(magic).ravel()[0]) != MAGIC:
                raise FileFormatError(
                    f"{self.path}: not a SONATA spike file (root attribute magic is "
                    f"{None if magic is None else hex(int(np.asarray(magic).ravel()[0]))}, expected 0x0a7a)"
                )
            if "spikes" not in self.file:
                raise FileFormatError(f"{self.path}: missing the /spikes group")
            if not allow_partial and "complete" in self.file.attrs and not bool(self.file.attrs["complete"]):
                raise FileFormatError(
                    f"{self.path}: is a partial file from an interrupted run "
                    f"({self.file.attrs.get('partial_reason', 'no reason recorded')}); pass allow_partial=True to read it"
                )
        except BaseException:
            self.file.close()
            raise

    def __enter__(self) -> _SpikeFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.file.close()

    def populations(self) -> list[str]:
        return list(self.file["spikes"].keys())

    def group(self, population: str) -> h5py.Group:
        spikes = self.file["spikes"]
        if population not in spikes:
            raise FileFormatError(
                f"{self.path}: no population {population!r}{suggest(population, spikes.keys())}; "
                f"have {sorted(spikes.keys())}"
            )
        group = spikes[population]
        for name in ("timestamps", "node_ids"):
            if name not in group:
                raise FileFormatError(f"{self.path}: /spikes/{population} has no {name} dataset")
        return group

    def ticks_per_second(self, population: str) -> float:
        units = self.group(population)["timestamps"].attrs.get("units")
        if isinstance(units, bytes):
            units = units.decode()
        if units not in _TIME_UNITS:
            raise FileFormatError(
                f"{self.path}: /spikes/{population}/timestamps has units {units!r}; "
                f"expected one of {sorted(_TIME_UNITS)}"
            )
        return _TIME_UNITS[units]

    def window(self, population: str) -> tuple[float, float, int]:
        group = self.group(population)
        per_s = self.ticks_per_second(population)
        n = group["timestamps"].shape[0]
        if "t_start" in group.attrs and "t_stop" in group.attrs:
            t_start = float(group.attrs["t_start"]) / per_s
            t_stop = float(group.attrs["t_stop"]) / per_s
        else:  # a foreign SONATA file: the window is the span of the spikes
            t_start = float(group["timestamps"][0]) / per_s if n else 0.0
            t_stop = float(group["timestamps"][n - 1]) / per_s if n else 0.0
        if "n_nodes" in group.attrs:
            n_nodes = int(group.attrs["n_nodes"])
        else:
            n_nodes = int(group["node_ids"][:].max()) + 1 if n else 0
        return t_start, t_stop, n_nodes

    def sorting(self, population: str) -> str:
        value = self.group(population).attrs.get("sorting")
        if value is None:
            return "none"
        if isinstance(value, (bytes, str)):
            return value.decode() if isinstance(value, bytes) else value
        return _SORTING_NAMES.get(int(value), "none")

    def read_range(self, population: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        group = self.group(population)
        try:
            return group["node_ids"][lo:hi], group["timestamps"][lo:hi]
        except OSError as exc:
            raise FileFormatError(
                f"{self.path}: cannot read /spikes/{population} (truncated or corrupt?): {_first_line(exc)}"
            ) from None

    def index_of_time(self, population: str, t_ticks: float, side: str) -> int:
        """Binary search on the on-disk timestamps: O(log n) small reads, no full load."""
        ds = self.group(population)["timestamps"]
        lo, hi = 0, ds.shape[0]
        block = ds.chunks[0] if ds.chunks else 4096
        while hi - lo > block:
            mid = (lo + hi) // 2
            value = float(ds[mid])
            if value < t_ticks or (side == "right" and value == t_ticks):
                lo = mid + 1
            else:
                hi = mid
        tail = ds[lo:hi]
        return lo + int(np.searchsorted(tail, t_ticks, side=side))


#: How far (s) a converted spike time may fall outside its window and still be clipped:
#: dividing by the tick rate moves a spike on the window edge by an ulp or so; one
#: nanosecond is far above that and far below any simulation step.
_EDGE_TOLERANCE_S = 1e-9


def _seconds(ticks: np.ndarray, per_s: float, t_start: float, t_stop: float, where: str) -> np.ndarray:
    """Ticks → s, clipped into ``[t_start, t_stop]`` only for rounding-size excursions.

    A spike further outside the window is an inconsistent file, not a rounding error:
    clipping it would silently move it (e.g. a spike at 5 s reported at t_stop = 1 s).
    """
    times = ticks / per_s
    if times.size and (times.min() < t_start - _EDGE_TOLERANCE_S or times.max() > t_stop + _EDGE_TOLERANCE_S):
        raise FileFormatError(
            f"{where} is inconsistent: spike times [{times.min()}, {times.max()}] s lie outside the "
            f"recording window [t_start, t_stop] = [{t_start}, {t_stop}] s"
        )
    return np.clip(times, t_start, t_stop)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _damaged_file_errors(function: Any) -> Any:
    """Turn h5py's low-level failures on a damaged file into one-line FileFormatErrors.

    A corrupt object header surfaces as ``KeyError`` or ``OSError`` (and sometimes
    ``RuntimeError``/``ValueError``/``TypeError``) wherever the file is touched; our own
    errors pass through unchanged.
    """
    import functools

    @functools.wraps(function)
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(path, *args, **kwargs)
        except VentralColumnsError:
            raise
        except (KeyError, OSError, RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise FileFormatError(f"{path}: damaged or unreadable HDF5 content: {_first_line(exc)}") from None

    return wrapper


@_damaged_file_errors
def list_populations(path: str | os.PathLike[str]) -> list[str]:
    """Names of the populations under ``/spikes``."""
    with _SpikeFile(path, allow_partial=True) as f:
        return f.populations()


@_damaged_file_errors
def read_spikes(
    path: str | os.PathLike[str],
    population: str,
    t_start: float | None = None,
    t_stop: float | None = None,
    allow_partial: bool = False,
) -> SpikeTrains:
    """Read one population, optionally only the window ``[t_start, t_stop)`` (s).

    The window is found by binary search on the time-sorted dataset, so only the
    requested spikes are read from disk.

    Raises
    ------
    FileFormatError
        Missing, corrupt, foreign or partial file; unknown population; unknown units.
    """
    with _SpikeFile(path, allow_partial) as f:
        full_start, full_stop, n_nodes = f.window(population)
        per_s = f.ticks_per_second(population)
        lo_t = full_start if t_start is None else float(t_start)
        hi_t = full_stop if t_stop is None else float(t_stop)
        if not (full_start <= lo_t <= hi_t <= full_stop):
            raise SpikeDataError(
                f"{population}: window [{lo_t}, {hi_t}] s must lie inside the recording [{full_start}, {full_stop}] s"
            )
        sorted_by_time = f.sorting(population) == "by_time"
        if sorted_by_time and (t_start is not None or t_stop is not None):
            lo = f.index_of_time(population, lo_t * per_s, "left")
            hi = f.index_of_time(population, hi_t * per_s, "right" if hi_t == full_stop else "left")
            # The binary search trusts sorting = by_time; a file that lies would give a
            # silently wrong window. Check the slice and its two neighbours (cheap, partial).
            first = max(lo - 1, 0)
            node_ids, ticks = f.read_range(population, first, hi + 1)
            if ticks.size > 1 and np.any(np.diff(ticks) < 0):
                raise FileFormatError(
                    f"{f.path}: /spikes/{population} claims sorting = by_time but its timestamps are not "
                    f"sorted; read it without a time window"
                )
            node_ids, ticks = node_ids[lo - first : hi - first], ticks[lo - first : hi - first]
        else:
            node_ids, ticks = f.read_range(population, 0, f.group(population)["timestamps"].shape[0])
            if t_start is not None or t_stop is not None:
                upper = ticks <= hi_t * per_s if hi_t == full_stop else ticks < hi_t * per_s
                keep = (ticks >= lo_t * per_s) & upper
                node_ids, ticks = node_ids[keep], ticks[keep]
        times = _seconds(ticks, per_s, lo_t, hi_t, f"{f.path}: /spikes/{population}")
        try:
            return SpikeTrains(population, node_ids, times, n_nodes, lo_t, hi_t)
        except SpikeDataError as exc:
            raise FileFormatError(f"{f.path}: /spikes/{population} is inconsistent: {exc}") from None


def iter_spike_chunks(
    path: str | os.PathLike[str], population: str, chunk_spikes: int = 1_000_000, allow_partial: bool = False
) -> Iterator[SpikeTrains]:
    """Yield a population in consecutive chunks of at most ``chunk_spikes`` spikes.

    Memory stays bounded by the chunk. Each chunk spans the file's full window.
    """
    if int(chunk_spikes) < 1:
        raise SpikeDataError(f"chunk_spikes must be a positive integer, got {chunk_spikes!r}")
    with _SpikeFile(path, allow_partial) as f:
        t_start, t_stop, n_nodes = f.window(population)
        per_s = f.ticks_per_second(population)
        n = f.group(population)["timestamps"].shape[0]
        for lo in range(0, n, int(chunk_spikes)):
            node_ids, ticks = f.read_range(population, lo, lo + int(chunk_spikes))
            times = _seconds(ticks, per_s, t_start, t_stop, f"{f.path}: /spikes/{population}")
            yield SpikeTrains(population, node_ids, times, n_nodes, t_start, t_stop)


def _read_table(group: h5py.Group) -> dict[str, np.ndarray]:
    out = {}
    for key, ds in group.items():
        if not isinstance(ds, h5py.Dataset):
            continue
        values = ds[()]
        if ds.dtype.kind == "O" or h5py.check_string_dtype(ds.dtype) is not None:
            values = np.asarray(ds.asstr()[()], dtype=str)
        out[key] = np.asarray(values)
    return out


def _read_json(f: _SpikeFile, name: str, parent: str = "/") -> dict[str, Any]:
    group = f.file[parent]
    if name not in group:
        return {}
    try:
        return json.loads(group[name].asstr()[()])
    except (OSError, ValueError, TypeError) as exc:
        raise FileFormatError(f"{f.path}: {parent.rstrip('/')}/{name} is not valid JSON: {_first_line(exc)}") from None


@_damaged_file_errors
def read_nodes(path: str | os.PathLike[str], population: str) -> dict[str, np.ndarray]:
    """The node table of a population (empty dict when the file has none)."""
    with _SpikeFile(path, allow_partial=True) as f:
        nodes = f.file.get("nodes")
        return _read_table(nodes[population]) if nodes is not None and population in nodes else {}


@_damaged_file_errors
def read_trials(path: str | os.PathLike[str]) -> dict[str, np.ndarray] | None:
    """The epoch table (``start``/``stop`` converted to s by their units), or ``None``."""
    with _SpikeFile(path, allow_partial=True) as f:
        if "trials" not in f.file:
            return None
        table = _read_table(f.file["trials"])
        for key in ("start", "stop"):
            units = f.file["trials"][key].attrs.get("units", "s") if key in f.file["trials"] else "s"
            if key in table:
                table[key] = table[key] / _TIME_UNITS[units if isinstance(units, str) else units.decode()]
        return table


@_damaged_file_errors
def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The resolved configuration stored in ``/config``."""
    with _SpikeFile(path, allow_partial=True) as f:
        return _read_json(f, "config")


@_damaged_file_errors
def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance stored in ``/provenance``."""
    with _SpikeFile(path, allow_partial=True) as f:
        return _read_json(f, "provenance")


@_damaged_file_errors
def read_stimulus(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The protocol description and stored stimulus arrays."""
    with _SpikeFile(path, allow_partial=True) as f:
        if "stimulus" not in f.file:
            return {}, {}
        group = f.file["stimulus"]
        arrays = {k: ds[()] for k, ds in group.items() if k != "protocol" and isinstance(ds, h5py.Dataset)}
        return _read_json(f, "protocol", "/stimulus"), arrays


@_damaged_file_errors
def read_currents(path: str | os.PathLike[str]) -> dict[str, dict[str, np.ndarray]]:
    """Pathway-resolved charges per population, converted to C by their units."""
    with _SpikeFile(path, allow_partial=True) as f:
        out: dict[str, dict[str, np.ndarray]] = {}
        for population, group in f.file.get("currents", {}).items():
            table = {}
            for key, ds in group.items():
                units = ds.attrs.get("units")
                table[key] = ds[()] if units is None else ds[()] / _CHARGE_UNITS[units]
            out[population] = table
        return out


@_damaged_file_errors
def read_spike_record(
    path: str | os.PathLike[str],
    populations: list[str] | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
    allow_partial: bool = False,
) -> SpikeRecord:
    """Read a whole file (or some populations, or a time window) into a :class:`SpikeRecord`.

    Raises
    ------
    FileFormatError
        Missing, truncated, corrupt, foreign or partial file, or an unknown population.
    """
    with _SpikeFile(path, allow_partial) as f:
        names = f.populations() if populations is None else list(populations)
    spikes = {p: read_spikes(path, p, t_start, t_stop, allow_partial) for p in names}
    with _SpikeFile(path, allow_partial) as f:
        nodes = {p: _read_table(g) for p, g in f.file.get("nodes", {}).items() if p in spikes}
        config = _read_json(f, "config")
        provenance = _read_json(f, "provenance")
    description, arrays = read_stimulus(path)
    try:
        return SpikeRecord(
            spikes=spikes,
            nodes=nodes,
            trials=read_trials(path),
            stimulus=description,
            stimulus_arrays=arrays,
            currents=read_currents(path),
            config=config,
            provenance=provenance,
        )
    except SpikeDataError as exc:
        raise FileFormatError(f"{path}: inconsistent contents: {exc}") from None


@_damaged_file_errors
def file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Summarise a file without loading its spikes: populations, counts, window, trials.

    Returns
    -------
    dict
        ``path``, ``complete``, ``format_version``, ``populations`` (name → n_nodes,
        n_spikes, t_start, t_stop, mean_rate_hz), ``n_trials``, and provenance highlights.
    """
    with _SpikeFile(path, allow_partial=True) as f:
        pops = {}
        for name in f.populations():
            t_start, t_stop, n_nodes = f.window(name)
            n_spikes = int(f.group(name)["timestamps"].shape[0])
            duration = t_stop - t_start
            rate = n_spikes / (n_nodes * duration) if n_nodes and duration > 0 else float("nan")
            pops[name] = {
                "n_nodes": n_nodes,
                "n_spikes": n_spikes,
                "t_start_s": t_start,
                "t_stop_s": t_stop,
                "mean_rate_hz": rate,
                "sorting": f.sorting(name),
            }
        trials = f.file.get("trials")
        n_trials = int(trials["start"].shape[0]) if trials is not None and "start" in trials else 0
        prov = _read_json(f, "provenance")
        return {
            "path": str(f.path),
            "complete": bool(f.file.attrs.get("complete", True)),
            "format_version": str(f.file.attrs.get("format_version", "unknown")),
            "populations": pops,
            "n_trials": n_trials,
            "groups": sorted(k for k in f.file.keys()),
            "provenance": {
                k: prov.get(k)
                for k in ("package_version", "git_revision", "device", "threads", "biological_time_s", "seeds", "wall_time_s")
            },
        }

