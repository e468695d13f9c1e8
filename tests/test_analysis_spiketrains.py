"""The spike data model: validation, sorting, slicing and derived counts."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import SpikeDataError
from analysis.spiketrains import SpikeRecord, SpikeTrains, validate_table


def test_sorted_on_construction_by_time_then_id():
    st = SpikeTrains("v1_l4_exc", [3, 1, 2, 0], [0.3, 0.1, 0.1, 0.2], n_nodes=4, t_stop=1.0)
    # Expected order worked out by hand: (0.1, 1), (0.1, 2), (0.2, 0), (0.3, 3).
    assert st.times.tolist() == [0.1, 0.1, 0.2, 0.3]
    assert st.node_ids.tolist() == [1, 2, 0, 3]
    assert st.node_ids.dtype == np.uint64 and st.times.dtype == np.float64


def test_arrays_are_read_only_copies():
    times = np.array([0.1, 0.2])
    st = SpikeTrains("lgn_on", [0, 1], times, n_nodes=2, t_stop=1.0)
    times[0] = 0.9  # the caller's array changing must not change ours
    assert st.times[0] == 0.1
    with pytest.raises(ValueError):
        st.times[0] = 0.5


def test_rates_count_silent_neurons():
    st = SpikeTrains("v1_l5_exc", [0, 0, 2], [0.1, 0.2, 0.3], n_nodes=5, t_start=0.0, t_stop=2.0)
    # Analytic: 2 spikes / 2 s = 1 Hz, 1 / 2 s = 0.5 Hz, silent neurons 0 Hz.
    assert st.rates().tolist() == [1.0, 0.0, 0.5, 0.0, 0.0]
    assert st.mean_rate() == pytest.approx(1.5 / 5, rel=1e-15)


def test_time_slice_half_open_and_full_window_identity():
    st = SpikeTrains("v2_l4_exc", [0, 1, 0, 1], [0.0, 0.5, 0.5, 1.0], n_nodes=2, t_stop=1.0)
    first = st.time_slice(0.0, 0.5)
    assert first.times.tolist() == [0.0]  # [t_start, t_stop): the spikes at 0.5 belong to the next slice
    assert st.time_slice(0.5, 1.0).times.tolist() == [0.5, 0.5, 1.0]  # the record's end is inclusive
    assert st.time_slice(0.0, 1.0).equals(st)


def test_select_nodes_renumbers_in_given_order():
    st = SpikeTrains("v4_l5_exc", [0, 1, 2, 2], [0.1, 0.2, 0.3, 0.4], n_nodes=3, t_stop=1.0)
    sub = st.select_nodes([2, 0])
    assert sub.n_nodes == 2
    assert sub.node_ids.tolist() == [1, 0, 0]  # old 0 -> new 1, old 2 -> new 0
    assert sub.times.tolist() == [0.1, 0.3, 0.4]


def test_spike_times_per_node_and_from_lists_round_trip():
    lists = [[0.3, 0.1], [], [0.2]]
    st = SpikeTrains.from_lists("it_l5_exc", lists, t_stop=1.0)
    per_node = st.spike_times_per_node()
    assert [p.tolist() for p in per_node] == [[0.1, 0.3], [], [0.2]]
    assert st.spike_counts().tolist() == [2, 0, 1]


def test_concatenate_chunks():
    a = SpikeTrains("lgn_off", [0], [0.1], n_nodes=2, t_start=0.0, t_stop=0.5)
    b = SpikeTrains("lgn_off", [1], [0.7], n_nodes=2, t_start=0.5, t_stop=1.0)
    joined = SpikeTrains.concatenate([a, b])
    assert (joined.t_start, joined.t_stop, joined.n_spikes) == (0.0, 1.0, 2)
    with pytest.raises(SpikeDataError, match="cannot concatenate"):
        SpikeTrains.concatenate([a, SpikeTrains.empty("lgn_on", 2, 0, 1)])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"times": [np.nan]}, "NaN"),
        ({"times": [-0.1]}, r"\[t_start, t_stop\]"),
        ({"times": [2.0]}, r"\[t_start, t_stop\]"),
        ({"node_ids": [5]}, "< n_nodes = 3"),
        ({"node_ids": [-1]}, ">= 0"),
        ({"node_ids": [0.5]}, "whole numbers"),
        ({"node_ids": [0, 1]}, "differ in length"),
        ({"population": "V1 L4"}, "lowercase identifier"),
        ({"n_nodes": -1}, "non-negative"),
        ({"t_start": 1.0, "t_stop": 0.5, "times": []}, "t_start <= t_stop"),
    ],
)
def test_bad_spike_arrays_raise_one_line_errors(kwargs, message):
    args = {"population": "v1_l4_exc", "node_ids": [0], "times": [0.5], "n_nodes": 3, "t_start": 0.0, "t_stop": 1.0}
    args.update(kwargs)
    if "times" in kwargs and not kwargs["times"]:
        args["node_ids"] = []
    with pytest.raises(SpikeDataError, match=message) as info:
        SpikeTrains(**args)
    assert "\n" not in str(info.value)


def test_empty_population_is_valid():
    st = SpikeTrains.empty("v1_l23_pv", n_nodes=10, t_start=0.0, t_stop=1.0)
    assert st.n_spikes == 0 and st.rates().sum() == 0.0


def test_validate_table_checks_lengths_and_types():
    table = validate_table("nodes/x", {"x_deg": [0.0, 1.0], "layer": ["l4", "l4"]}, n_rows=2)
    assert table["layer"].dtype.kind == "U"
    with pytest.raises(SpikeDataError, match="has 1 rows, expected 2"):
        validate_table("nodes/x", {"x_deg": [0.0]}, n_rows=2)
    with pytest.raises(SpikeDataError, match="1-D"):
        validate_table("trials", {"start": [[0.0]]})
    with pytest.raises(SpikeDataError, match="numeric, boolean or string"):
        validate_table("trials", {"start": np.array([{}], dtype=object)})


def test_spike_record_validation():
    st = SpikeTrains("v1_l4_exc", [0], [0.1], n_nodes=2, t_stop=1.0)
    with pytest.raises(SpikeDataError, match="holds population"):
        SpikeRecord(spikes={"v1_l5_exc": st})
    with pytest.raises(SpikeDataError, match="has 3 rows, expected 2"):
        SpikeRecord(spikes={"v1_l4_exc": st}, nodes={"v1_l4_exc": {"x_deg": [0, 1, 2]}})
    with pytest.raises(SpikeDataError, match="missing required column"):
        SpikeRecord(spikes={"v1_l4_exc": st}, trials={"start": [0.0]})
    with pytest.raises(SpikeDataError, match="empty"):
        SpikeRecord(spikes={"v1_l4_exc": st}, trials={"start": [], "stop": []})
    with pytest.raises(SpikeDataError, match="JSON"):
        SpikeRecord(spikes={"v1_l4_exc": st}, config={"x": object()})
    with pytest.raises(SpikeDataError, match=r"did you mean 'v1_l4_exc'"):
        SpikeRecord(spikes={"v1_l4_exc": st})["v1_l4_exk"]
    with pytest.raises(SpikeDataError, match=r"expected shape \(n_epochs, 2\)"):
        SpikeRecord(spikes={}, currents={"v1_l5_exc": {"node_ids": [0, 1], "ff": np.zeros((3, 4))}})
