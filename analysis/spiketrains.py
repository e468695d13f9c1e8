"""The spike data model shared by every package: flat, validated, unit-free arrays.

Classes
-------
SpikeTrains
    The spikes of one population: ``node_ids`` (uint64) and ``times`` (float64, seconds),
    sorted by time, with ``n_nodes`` so that silent neurons are counted.
SpikeRecord
    A whole run: populations → :class:`SpikeTrains`, node tables, the trials (epochs)
    table, the stimulus description, pathway-resolved charges, the resolved configuration
    and provenance. It is the in-memory twin of the HDF5 file of
    :mod:`analysis.hdf5_io`.

Functions
---------
validate_table
    Check a columnar table (dict of equal-length 1-D arrays).

The layout follows the SONATA spike-file specification (flat ``node_ids``/``timestamps``
per population, Dai et al. 2020, doi:10.1371/journal.pcbi.1007696), which keeps the
arrays flat for fast vectorised analysis instead of one object per neuron.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.errors import SpikeDataError, suggest
from analysis.outputs import json_default

__all__ = ["SpikeTrains", "SpikeRecord", "validate_table", "POPULATION_NAME"]

#: Population names: lowercase identifiers such as ``v2_l5_exc`` or ``lgn_on``.
POPULATION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _as_node_ids(node_ids: Any, population: str) -> np.ndarray:
    raw = np.asarray(node_ids)
    if raw.ndim != 1:
        raise SpikeDataError(f"{population}: node_ids must be 1-D, got shape {raw.shape}")
    if raw.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if raw.dtype.kind == "f":
        if not np.all(np.isfinite(raw)) or not np.all(raw == np.floor(raw)):
            raise SpikeDataError(f"{population}: node_ids must be whole numbers")
        if raw.max() >= 2.0**63:
            raise SpikeDataError(f"{population}: node_ids must be < 2**63, got {raw.max():g}")
    elif raw.dtype.kind not in "iub":
        raise SpikeDataError(f"{population}: node_ids must be integers, got dtype {raw.dtype}")
    if raw.dtype.kind in "if" and raw.min() < 0:
        raise SpikeDataError(f"{population}: node_ids must be >= 0, got {raw.min()}")
    return raw.astype(np.uint64, copy=True)


@dataclass(frozen=True, eq=False)
class SpikeTrains:
    """Spikes of one population as two flat arrays, sorted by time.

    Parameters
    ----------
    population : str
        Population name, e.g. ``"v1_l5_exc"`` or ``"lgn_on"`` (lowercase identifier).
    node_ids : array_like of int
        Neuron index of each spike, ``0 <= id < n_nodes``; stored as uint64.
    times : array_like of float
        Spike times in seconds; stored as float64.
    n_nodes : int
        Number of neurons in the population, silent ones included.
    t_start, t_stop : float
        Recording window in seconds; every spike lies in ``[t_start, t_stop]``.

    Raises
    ------
    SpikeDataError
        Non-finite or out-of-window times, ids out of range, mismatched lengths, a bad
        population name or an impossible window.

    Notes
    -----
    Spikes are stably re-sorted by ``(time, node_id)`` on construction when they are not
    already in that order, so that the arrays can be written with SONATA's
    ``sorting = by_time`` and sliced by time with a binary search. Arrays are read-only.

    Examples
    --------
    >>> st = SpikeTrains("v1_l4_exc", [2, 0], [0.02, 0.01], n_nodes=3, t_stop=0.1)
    >>> st.node_ids.tolist(), st.times.tolist()
    ([0, 2], [0.01, 0.02])
    >>> st.rates().tolist()
    [10.0, 0.0, 10.0]
    """

    population: str
    node_ids: np.ndarray
    times: np.ndarray
    n_nodes: int
    t_start: float = 0.0
    t_stop: float = 0.0

    def __post_init__(self) -> None:
        pop = self.population
        if not isinstance(pop, str) or not POPULATION_NAME.match(pop):
            raise SpikeDataError(
                f"population name {pop!r} must be a lowercase identifier like 'v1_l5_exc'"
            )
        try:
            n_nodes = int(self.n_nodes)
        except (TypeError, ValueError):
            raise SpikeDataError(f"{pop}: n_nodes must be an integer, got {self.n_nodes!r}") from None
        if n_nodes != self.n_nodes or n_nodes < 0:
            raise SpikeDataError(f"{pop}: n_nodes must be a non-negative integer, got {self.n_nodes!r}")
        try:
            t_start, t_stop = float(self.t_start), float(self.t_stop)
        except (TypeError, ValueError):
            raise SpikeDataError(f"{pop}: t_start and t_stop must be real numbers in s, got "
                                 f"{self.t_start!r}, {self.t_stop!r}") from None
        if not (np.isfinite(t_start) and np.isfinite(t_stop)) or t_stop < t_start:
            raise SpikeDataError(
                f"{pop}: need finite t_start <= t_stop (s), got [{t_start}, {t_stop}]"
            )
        node_ids = _as_node_ids(self.node_ids, pop)
        try:
            times = np.array(self.times, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise SpikeDataError(f"{pop}: times must be real numbers in s") from None
        if times.ndim != 1:
            raise SpikeDataError(f"{pop}: times must be 1-D, got shape {times.shape}")
        if times.shape != node_ids.shape:
            raise SpikeDataError(
                f"{pop}: node_ids ({node_ids.size}) and times ({times.size}) differ in length"
            )
        if times.size:
            if not np.all(np.isfinite(times)):
                raise SpikeDataError(f"{pop}: times contain NaN or infinite values")
            if times.min() < t_start or times.max() > t_stop:
                raise SpikeDataError(
                    f"{pop}: spike times must lie in [t_start, t_stop] = [{t_start}, {t_stop}] s, "
                    f"got [{times.min()}, {times.max()}]"
                )
            if node_ids.max() >= n_nodes:
                raise SpikeDataError(
                    f"{pop}: node_ids must be < n_nodes = {n_nodes}, got {int(node_ids.max())}"
                )
            if not _is_sorted_by_time(times, node_ids):
                order = np.lexsort((node_ids, times))
                times, node_ids = times[order], node_ids[order]
        object.__setattr__(self, "n_nodes", n_nodes)
        object.__setattr__(self, "t_start", t_start)
        object.__setattr__(self, "t_stop", t_stop)
        object.__setattr__(self, "node_ids", _readonly(node_ids))
        object.__setattr__(self, "times", _readonly(times))

    # -- construction helpers -------------------------------------------------------
    @classmethod
    def empty(cls, population: str, n_nodes: int, t_start: float = 0.0, t_stop: float = 0.0) -> SpikeTrains:
        """Return a population with no spikes."""
        return cls(population, np.zeros(0, np.uint64), np.zeros(0), n_nodes, t_start, t_stop)

    @classmethod
    def from_lists(
        cls,
        population: str,
        spike_times: list[Any],
        t_start: float = 0.0,
        t_stop: float | None = None,
    ) -> SpikeTrains:
        """Build from one array of spike times (s) per neuron (index = node id)."""
        arrays = [np.asarray(t, dtype=np.float64).ravel() for t in spike_times]
        times = np.concatenate(arrays) if arrays else np.zeros(0)
        ids = np.repeat(np.arange(len(arrays), dtype=np.uint64), [a.size for a in arrays])
        if t_stop is None:
            t_stop = float(times.max()) if times.size else t_start
        return cls(population, ids, times, len(arrays), t_start, t_stop)

    # -- basic properties -----------------------------------------------------------
    @property
    def n_spikes(self) -> int:
        """Total number of spikes."""
        return int(self.times.size)

    @property
    def duration(self) -> float:
        """Length of the recording window, s."""
        return self.t_stop - self.t_start

    def __len__(self) -> int:
        return self.n_spikes

    def __repr__(self) -> str:
        return (
            f"SpikeTrains({self.population!r}, n_nodes={self.n_nodes}, n_spikes={self.n_spikes}, "
            f"t=[{self.t_start:g}, {self.t_stop:g}] s)"
        )

    def spike_counts(self) -> np.ndarray:
        """Spike count per neuron, shape ``(n_nodes,)``, int64."""
        return np.bincount(self.node_ids.astype(np.int64), minlength=self.n_nodes).astype(np.int64)

    def rates(self) -> np.ndarray:
        """Mean firing rate per neuron over ``[t_start, t_stop]``, Hz, shape ``(n_nodes,)``.

        Raises
        ------
        SpikeDataError
            If the window has zero duration.
        """
        if self.duration <= 0:
            raise SpikeDataError(f"{self.population}: cannot compute rates over a zero-length window")
        return self.spike_counts() / self.duration

    def mean_rate(self) -> float:
        """Population-averaged rate, Hz (silent neurons included)."""
        if self.n_nodes == 0:
            return 0.0
        return float(self.rates().mean())

    def time_slice(self, t_start: float, t_stop: float) -> SpikeTrains:
        """Spikes with ``t_start <= t < t_stop`` (s), keeping ``n_nodes``.

        The last spike exactly at ``t_stop`` of the whole record is kept when
        ``t_stop == self.t_stop`` so that slicing the full window is the identity.
        """
        if not (self.t_start <= t_start <= t_stop <= self.t_stop):
            raise SpikeDataError(
                f"{self.population}: window [{t_start}, {t_stop}] s must lie inside "
                f"[{self.t_start}, {self.t_stop}] s"
            )
        lo = np.searchsorted(self.times, t_start, side="left")
        side = "right" if t_stop == self.t_stop else "left"
        hi = np.searchsorted(self.times, t_stop, side=side)
        return SpikeTrains(
            self.population, self.node_ids[lo:hi], self.times[lo:hi], self.n_nodes, t_start, t_stop
        )

    def select_nodes(self, node_ids: Any) -> SpikeTrains:
        """Spikes of the given neurons only, renumbered ``0..len(node_ids)-1`` in that order."""
        wanted = _as_node_ids(node_ids, self.population)
        if wanted.size and wanted.max() >= self.n_nodes:
            raise SpikeDataError(
                f"{self.population}: selected node_ids must be < n_nodes = {self.n_nodes}"
            )
        if np.unique(wanted).size != wanted.size:
            raise SpikeDataError(f"{self.population}: selected node_ids must be unique")
        lookup = np.full(self.n_nodes, -1, dtype=np.int64)
        lookup[wanted.astype(np.int64)] = np.arange(wanted.size)
        new_ids = lookup[self.node_ids.astype(np.int64)]
        keep = new_ids >= 0
        return SpikeTrains(
            self.population, new_ids[keep], self.times[keep], int(wanted.size), self.t_start, self.t_stop
        )

    def spike_times_per_node(self) -> list[np.ndarray]:
        """One sorted array of spike times (s) per neuron, length ``n_nodes``."""
        order = np.argsort(self.node_ids, kind="stable")
        counts = self.spike_counts()
        return np.split(self.times[order], np.cumsum(counts)[:-1]) if self.n_nodes else []

    def equals(self, other: object) -> bool:
        """Exact equality of name, window, size and arrays."""
        return (
            isinstance(other, SpikeTrains)
            and self.population == other.population
            and self.n_nodes == other.n_nodes
            and self.t_start == other.t_start
            and self.t_stop == other.t_stop
            and np.array_equal(self.node_ids, other.node_ids)
            and np.array_equal(self.times, other.times)
        )

    @staticmethod
    def concatenate(parts: list[SpikeTrains]) -> SpikeTrains:
        """Join consecutive chunks of the same population into one.

        The chunks must share population name and ``n_nodes``; the window spans all of them.
        """
        if not parts:
            raise SpikeDataError("concatenate needs at least one SpikeTrains")
        first = parts[0]
        for part in parts[1:]:
            if part.population != first.population or part.n_nodes != first.n_nodes:
                raise SpikeDataError(
                    f"cannot concatenate {part.population} (n_nodes={part.n_nodes}) with "
                    f"{first.population} (n_nodes={first.n_nodes})"
                )
        return SpikeTrains(
            first.population,
            np.concatenate([p.node_ids for p in parts]),
            np.concatenate([p.times for p in parts]),
            first.n_nodes,
            min(p.t_start for p in parts),
            max(p.t_stop for p in parts),
        )


def _is_sorted_by_time(times: np.ndarray, node_ids: np.ndarray) -> bool:
    if times.size < 2:
        return True
    dt = np.diff(times)
    if np.any(dt < 0):
        return False
    ties = dt == 0
    return not np.any(ties & (node_ids[1:] < node_ids[:-1]))


def validate_table(name: str, table: Mapping[str, Any], n_rows: int | None = None) -> dict[str, np.ndarray]:
    """Check and normalise a columnar table: a mapping of column name → 1-D array.

    Parameters
    ----------
    name : str
        Table name used in error messages (e.g. ``"trials"`` or ``"nodes/v1_l4_exc"``).
    table : mapping of str to array_like
        The columns. Strings become numpy unicode arrays.
    n_rows : int, optional
        Required number of rows (e.g. ``n_nodes`` for a node table).

    Returns
    -------
    dict of str to numpy.ndarray
        Read-only copies of the columns, all of the same length.

    Raises
    ------
    SpikeDataError
        On a non-string or empty column name, a column that is not 1-D, unequal column
        lengths, a length different from ``n_rows`` or an object-dtype column.
    """
    out: dict[str, np.ndarray] = {}
    length = n_rows
    for key, values in table.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise SpikeDataError(f"{name}: column names must be non-empty strings without '/', got {key!r}")
        array = np.array(values, copy=True)
        if array.dtype == object:
            raise SpikeDataError(f"{name}.{key}: columns must be numeric, boolean or string, not objects")
        if array.ndim != 1:
            raise SpikeDataError(f"{name}.{key}: columns must be 1-D, got shape {array.shape}")
        if length is None:
            length = array.size
        elif array.size != length:
            raise SpikeDataError(f"{name}.{key}: has {array.size} rows, expected {length}")
        out[key] = _readonly(array)
    return out


def _check_json(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SpikeDataError(f"{name} must be a mapping (JSON object), got {type(value).__name__}")
    try:
        json.dumps(value, default=json_default)
    except (TypeError, ValueError) as exc:
        raise SpikeDataError(f"{name} is not JSON-serialisable: {exc}") from None
    return dict(value)


#: Required columns of the trials (epochs) table, seconds.
TRIAL_COLUMNS = ("start", "stop")


@dataclass(eq=False)
class SpikeRecord:
    """Everything one run produced, in memory; mirrors the HDF5 file layout.

    Parameters
    ----------
    spikes : dict of str to SpikeTrains
        Population name → spikes. Keys must equal each value's ``population``.
    nodes : dict of str to dict of str to array, optional
        Population → node table (per-neuron labels: station, layer, RF centre in deg,
        channel...), each column of length ``n_nodes``.
    trials : dict of str to array, optional
        The epoch table: columns ``start`` and ``stop`` (s) plus any of ``trial``,
        ``condition`` and stimulus parameters, one row per epoch.
    stimulus : dict, optional
        JSON-serialisable protocol description (what regenerates the frames, with seeds).
    stimulus_arrays : dict of str to numpy.ndarray, optional
        Arrays that must be stored verbatim (e.g. noise frames used for RF mapping).
    currents : dict of str to dict of str to numpy.ndarray, optional
        Population → ``{"node_ids": (n_cells,), <pathway>: (n_epochs, n_cells) charge in C}``.
    config, provenance : dict, optional
        The resolved configuration and the provenance (versions, seeds, device, wall
        times); both JSON-serialisable.

    Raises
    ------
    SpikeDataError
        On inconsistent names, table lengths or non-serialisable metadata.
    """

    spikes: dict[str, SpikeTrains]
    nodes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    trials: dict[str, np.ndarray] | None = None
    stimulus: dict[str, Any] = field(default_factory=dict)
    stimulus_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    currents: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, st in self.spikes.items():
            if not isinstance(st, SpikeTrains):
                raise SpikeDataError(f"spikes[{key!r}] must be a SpikeTrains, got {type(st).__name__}")
            if st.population != key:
                raise SpikeDataError(f"spikes[{key!r}] holds population {st.population!r}")
        self.nodes = {
            pop: validate_table(
                f"nodes/{pop}", table, self.spikes[pop].n_nodes if pop in self.spikes else None
            )
            for pop, table in self.nodes.items()
        }
        for pop in self.nodes:
            if not POPULATION_NAME.match(pop):
                raise SpikeDataError(f"nodes: population name {pop!r} is not a lowercase identifier")
        if self.trials is not None:
            self.trials = validate_table("trials", self.trials)
            missing = [c for c in TRIAL_COLUMNS if c not in self.trials]
            if missing:
                raise SpikeDataError(f"trials: missing required column(s) {missing} (start, stop in s)")
            start = np.asarray(self.trials["start"], dtype=float)
            stop = np.asarray(self.trials["stop"], dtype=float)
            if start.size == 0:
                raise SpikeDataError("trials: the table is empty; pass trials=None for no epochs")
            if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop)) and np.all(stop >= start)):
                raise SpikeDataError("trials: need finite start <= stop (s) in every row")
        self.stimulus = _check_json("stimulus", self.stimulus)
        self.config = _check_json("config", self.config)
        self.provenance = _check_json("provenance", self.provenance)
        for key, arr in self.stimulus_arrays.items():
            if not isinstance(arr, np.ndarray) or arr.dtype == object:
                raise SpikeDataError(f"stimulus_arrays[{key!r}] must be a numeric numpy array")
        for pop, table in self.currents.items():
            if "node_ids" not in table:
                raise SpikeDataError(f"currents/{pop}: needs a 'node_ids' column")
            n_cells = np.asarray(table["node_ids"]).size
            for key, arr in table.items():
                arr = np.asarray(arr)
                if key != "node_ids" and (arr.ndim != 2 or arr.shape[1] != n_cells):
                    raise SpikeDataError(
                        f"currents/{pop}/{key}: expected shape (n_epochs, {n_cells}), got {arr.shape}"
                    )

    @property
    def populations(self) -> list[str]:
        """Population names in insertion order."""
        return list(self.spikes)

    def __getitem__(self, population: str) -> SpikeTrains:
        try:
            return self.spikes[population]
        except KeyError:
            raise SpikeDataError(
                f"no population {population!r} in this record{suggest(population, self.spikes)}; "
                f"have {sorted(self.spikes)}"
            ) from None

    def __iter__(self) -> Iterator[SpikeTrains]:
        return iter(self.spikes.values())

    @property
    def n_trials(self) -> int:
        """Number of rows of the trials table (0 when there is none)."""
        return 0 if self.trials is None else int(np.asarray(self.trials["start"]).size)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per population: ``n_nodes``, ``n_spikes`` and mean rate (Hz)."""
        out = {}
        for st in self:
            rate = st.mean_rate() if st.duration > 0 else float("nan")
            out[st.population] = {"n_nodes": st.n_nodes, "n_spikes": st.n_spikes, "mean_rate_hz": rate}
        return out
