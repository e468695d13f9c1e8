"""Export to Neo (for Elephant) and NWB: the same spikes, labels and trials come back."""

from __future__ import annotations

import numpy as np
import pynwb
import pytest

from analysis.errors import OutputExistsError
from analysis.interop import export_nwb, split_population_name, to_neo
from analysis.spiketrains import SpikeRecord, SpikeTrains


def _record() -> SpikeRecord:
    l4 = SpikeTrains("v1_l4_exc", [0, 2, 0], [0.1, 0.2, 0.7], n_nodes=3, t_start=0.0, t_stop=1.0)
    on = SpikeTrains("lgn_on", [1], [0.05], n_nodes=2, t_start=0.0, t_stop=1.0)
    return SpikeRecord(
        spikes={"v1_l4_exc": l4, "lgn_on": on},
        nodes={"v1_l4_exc": {"x_deg": [0.0, 1.0, 2.0], "channel": [3, 4, 5]}},
        trials={"start": [0.0, 0.5], "stop": [0.5, 1.0], "condition": ["a", "b"], "orientation_deg": [0.0, 90.0]},
    )


def test_split_population_name():
    assert split_population_name("it_l23_pv") == ("it", "l23", "pv")
    assert split_population_name("v1_l6_exc") == ("v1", "l6", "exc")


def test_to_neo_one_train_per_neuron_with_annotations():
    trains = to_neo(_record())
    assert len(trains) == 5  # 3 + 2 neurons, silent ones included
    first = trains[0]
    assert first.annotations["population"] == "v1_l4_exc" and first.annotations["node_id"] == 0
    assert first.annotations["channel"] == 3 and first.annotations["layer"] == "l4"
    np.testing.assert_array_equal(first.times.rescale("s").magnitude, [0.1, 0.7])
    assert float(first.t_stop.rescale("s").magnitude) == 1.0
    assert len(trains[1]) == 0 and trains[3].annotations["station"] == "lgn"


def test_export_nwb_units_and_trials(tmp_path):
    path = export_nwb(_record(), tmp_path / "r.nwb")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert len(units) == 5
        assert units["population"].tolist() == ["v1_l4_exc"] * 3 + ["lgn_on"] * 2
        np.testing.assert_array_equal(units["spike_times"].iloc[0], [0.1, 0.7])
        assert units["layer"].tolist()[:3] == ["l4"] * 3
        trials = nwb.trials.to_dataframe()
        assert trials["start_time"].tolist() == [0.0, 0.5]
        assert trials["condition"].tolist() == ["a", "b"]
    with pytest.raises(OutputExistsError):
        export_nwb(_record(), path)
