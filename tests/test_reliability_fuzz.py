"""Property-based fuzzing of the user-facing entry points (issue #9).

Whatever a user feeds the configuration parser, the spike data model or the file reader,
the only acceptable outcomes are a valid result or our documented exception type
(:class:`~analysis.errors.VentralColumnsError`) with a one-line message: never another
exception type, a traceback from deep inside numpy/h5py, or a silently wrong result.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import ConfigError, FileFormatError, SpikeDataError, VentralColumnsError
from analysis.hdf5_io import read_spike_record, write_spike_record
from analysis.spiketrains import SpikeRecord, SpikeTrains
from circuits.config import LIST_TABLES, SCHEMA, resolve_config

_KEYS = sorted({k for table in SCHEMA.values() for k in table} | {k for t in LIST_TABLES.values() for k in t})
_TABLES = sorted(SCHEMA) + sorted(LIST_TABLES)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["0.1 ms", "4 Hz", "2 deg", "1 s", "-3 ms", "inf s", "nan s", "1e400 s", "2 cpd", "7 pA", "x ms"]),
    st.sampled_from(["residual", "numpy", "cpp_standalone", "v1", "l4_exc", "silence", "orientation_tuning"]),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
_tables = st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=6)), _values, max_size=5)
_configs = st.dictionaries(
    st.one_of(st.sampled_from(_TABLES), st.text(max_size=6)),
    st.one_of(_tables, st.lists(_tables, max_size=3), _values),
    max_size=4,
)


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_configs)
def test_config_parser_accepts_or_raises_config_error(user):
    try:
        resolved = resolve_config(user)
    except ConfigError as exc:
        _one_line(exc)
        return
    # Accepted: the result must itself be a valid configuration (idempotent resolution).
    assert resolve_config(resolved) == resolved


_arrays = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 20)), max_size=20)


@settings(max_examples=400, deadline=None)
@given(ids=_arrays, times=_arrays, n_nodes=st.integers(-2, 25), t_start=st.floats(-1, 2), t_stop=st.floats(-1, 3))
def test_spiketrains_accepts_or_raises_spike_data_error(ids, times, n_nodes, t_start, t_stop):
    try:
        spikes = SpikeTrains("v1_l4_exc", ids, times, n_nodes, t_start, t_stop)
    except SpikeDataError as exc:
        _one_line(exc)
        return
    # Accepted: every documented invariant holds.
    assert np.all(np.isfinite(spikes.times))
    assert np.all((spikes.times >= spikes.t_start) & (spikes.times <= spikes.t_stop))
    assert np.all(np.diff(spikes.times) >= 0)
    assert spikes.node_ids.size == 0 or int(spikes.node_ids.max()) < spikes.n_nodes
    assert math.isclose(spikes.spike_counts().sum(), spikes.n_spikes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 1.0), flips=st.lists(st.integers(0, 10**6), max_size=8))
def test_damaged_files_raise_file_format_error_or_read_consistently(tmp_path_factory, cut, flips):
    tmp = tmp_path_factory.mktemp("fuzz")
    spikes = SpikeTrains("v1_l4_exc", np.arange(200) % 7, np.linspace(0, 1, 200), 7, 0.0, 1.0)
    path = write_spike_record(SpikeRecord(spikes={spikes.population: spikes}, config={"a": 1}), tmp / "f.h5")
    data = bytearray(path.read_bytes())
    data = data[: max(1, int(len(data) * cut))] if cut < 1.0 else data
    for pos in flips:
        if data:
            data[pos % len(data)] ^= 0xFF
    damaged = tmp / "damaged.h5"
    damaged.write_bytes(bytes(data))
    try:
        record = read_spike_record(damaged)
    except VentralColumnsError as exc:
        assert isinstance(exc, (FileFormatError, SpikeDataError))
        _one_line(exc)
        return
    # A file that still reads must satisfy the data model (SpikeTrains validated it).
    got = record["v1_l4_exc"]
    assert got.n_spikes <= 200 and np.all(np.diff(got.times) >= 0)


@pytest.mark.parametrize("times", [["a", "b"], [1 + 2j, 0.5]])
def test_non_real_spike_times_are_spike_data_errors(times):
    from analysis.errors import SpikeDataError
    from analysis.spiketrains import SpikeTrains

    # text and complex times used to escape as ValueError/TypeError (helper-9's battery)
    with pytest.raises(SpikeDataError, match="real numbers"):
        SpikeTrains("p", [0, 1], times, 2, 0.0, 1.0)


@pytest.mark.parametrize("n_nodes", [2.5, "x", -1, True])
def test_f1_f0_rejects_bad_n_nodes(n_nodes):
    from analysis.errors import SpikeDataError
    from analysis.tuning import f1_f0_from_spike_times

    with pytest.raises(SpikeDataError, match="n_nodes"):
        f1_f0_from_spike_times([0, 1], [0.1, 0.2], n_nodes, temporal_frequency=4.0, t_start=0.0, t_stop=1.0)
