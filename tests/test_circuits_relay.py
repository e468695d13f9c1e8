"""The pulvinar-like relay (stream source ``relay``) and the ``transthalamic`` variant.

Everything runs on Brian2's numpy target at scale 0.05 with stations V1 and V2 (a few
hundred neurons, a 0.3 s protocol), like tests/test_circuits_stream.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from brian2 import Hz, amp, mV, ms, pA

from analysis.errors import ConfigError
from analysis.hdf5_io import read_spike_record
from circuits.config import resolve_config
from circuits.experiments import _population_layers
from circuits.params import DEFAULT_STREAM, ProjectionParams
from circuits.run import run_stream, stream_params_from_config
from circuits.simulate import derive_seeds
from circuits.ventral_stream import build_ventral_stream
from columns.column import label_values
from stimuli.lgn import build_lgn_mosaic

pytestmark = pytest.mark.usefixtures("brian2_numpy")

TINY = {
    "run": {"scale": 0.05, "progress": False, "chunk": "0.3 s", "silence_guard": False},
    "stream": {"stations": ["v1", "v2"], "variant": "transthalamic"},
    "stimulus": {"orientations": 2, "phases": 1, "repeats": 1, "duration": "0.1 s", "blank": "0.05 s"},
    "recording": {"currents_sample": 3},
}
RELAY = "pulvinar_v2_exc"
TWO_STATIONS = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:2])
# PD14 L5E: 4,850 cells at full scale (PD14 Table 5) x V1's n_scale 0.05 x scale 0.05
N_V1_L5 = round(4850 * 0.05 * 0.05)
# PD14 Table 5: a 0.15 mV PSP is an 87.8 pA PSC in its cell (linear in the PSP)
DRIVER_PSC = 87.8 * pA * 3.0 / 0.15


def _build(**changes):
    mosaic = build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=2)
    return build_ventral_stream(TWO_STATIONS.replace(**changes), mosaic, derive_seeds(5), charge_sample=0)


@pytest.fixture(scope="module")
def built():
    """The same seeds built with the direct stream source and through the relay."""
    import brian2

    brian2.prefs.codegen.target = "numpy"
    return {"l5_exc": _build(), "transthalamic": _build(variant="transthalamic"), "relay": _build(source="relay")}


def test_relay_size_labels_and_drivers(built):
    stream = built["transthalamic"]
    assert list(stream.relays) == [RELAY]  # one relay per transition (v1 -> v2)
    relay = stream.relays[RELAY]
    source = stream.group("v1_l5_exc")
    # size_ratio 1: as many relay cells as source cells (exact count)
    assert len(stream.group(RELAY)) == N_V1_L5 == len(source)
    table = stream.node_table(RELAY)
    # every label is copied from the source cell named in source_node (exact copies)
    for key in ("rf_x", "rf_y", "orientation", "phase", "channel"):
        np.testing.assert_array_equal(table[key], label_values(source, key)[table["source_node"]])
    assert set(table["station"]) == {"pulvinar"} and set(table["layer"]) == {"relay"}
    assert np.unique(table["source_node"]).size == N_V1_L5  # drawn without replacement

    drivers = stream.projections[f"v1_l5_exc_to_{RELAY}"]
    assert drivers.source.name == "v1_l5_exc" and drivers.target.name == RELAY  # only from V1 L5
    i, j, w = np.asarray(drivers.i[:]), np.asarray(drivers.j[:]), np.asarray(drivers.w[:] / amp)
    # fixed synapse count (zero-weight placeholders where fewer sources are eligible), 4 per cell
    assert i.size == 4 * N_V1_L5
    real = w > 0
    src_channel = label_values(source, "channel")
    # driver rule: the relay cell's own channel only (exact)
    np.testing.assert_array_equal(src_channel[i[real]], table["channel"][j[real]])
    # the copied source cell is at distance 0, the most likely driver: every relay cell has it
    pairs = set(zip(i[real].tolist(), j[real].tolist()))
    assert all((int(table["source_node"][k]), k) in pairs for k in range(N_V1_L5))
    counts = np.bincount(j[real], minlength=N_V1_L5)
    assert counts.min() >= 1 and counts.max() <= 4
    # strong drivers: 3 mV, i.e. 20 x PD14's 87.8 pA (0.15 mV) PSC; rounding of 87.8 -> rel 1e-3
    np.testing.assert_allclose(w[real], float(DRIVER_PSC / amp), rtol=1e-3)
    # drivers' mean at V1 L5's spontaneous 11.6 spikes/s (InterarealParams.source_rates) is
    # removed by DC: I_dc = -k_i * 11.6 Hz * w * tau_syn (0.5 ms, PD14 Table 5); no other DC
    # in the relay (its background is not k-scaled)
    expected_dc = -counts * float(11.6 * Hz * DRIVER_PSC * 0.5 * ms / amp)
    np.testing.assert_allclose(relay.group._dc_values, expected_dc, rtol=1e-3)


def test_relay_replaces_l5_exc_and_other_wiring_is_unchanged(built):
    direct, relayed, by_source = built["l5_exc"], built["transthalamic"], built["relay"]
    targets = ("v2_l4_exc", "v2_l4_pv", "v2_l5_exc", "v2_l5_pv")
    for target in targets:
        assert f"v1_l5_exc_to_{target}" in direct.projections
        assert f"v1_l5_exc_to_{target}" not in relayed.projections  # no direct route left
        syn = relayed.projections[f"{RELAY}_to_{target}"]
        assert syn.source.name == RELAY
        # same rule, relay in place of L5: same fixed number of synapses (placeholders included)
        assert len(syn) == len(direct.projections[f"v1_l5_exc_to_{target}"])
    # identity-like shortcut: relay cell and V2 L5 cell share the channel (exact)
    short = relayed.projections[f"{RELAY}_to_v2_l5_exc"]
    real = np.asarray(short.w[:]) > 0
    relay_ch = label_values(relayed.group(RELAY), "channel")[np.asarray(short.i[:])[real]]
    target_ch = label_values(relayed.group("v2_l5_exc"), "channel")[np.asarray(short.j[:])[real]]
    np.testing.assert_array_equal(relay_ch, target_ch)
    # common random numbers: the thalamic projections and every intra-column pathway are
    # bit-identical to the direct build (the relay draws from its own generator)
    for name in ("lgn_to_v1_l4_exc", "lgn_to_v1_l4_pv", "lgn_to_v1_l5_exc", "lgn_to_v1_l5_pv"):
        for var in ("i", "j", "w"):
            np.testing.assert_array_equal(np.asarray(getattr(direct.projections[name], var)[:]),
                                          np.asarray(getattr(relayed.projections[name], var)[:]))
    # of STREAM_COLUMN's 33 pathways, 31 (V1) and 29 (V2, smaller) get synapses at this size;
    # the others' scaled synapse numbers round to 0 (columns.derived.scaled_synapse_number)
    for station, n_pathways in (("v1", 31), ("v2", 29)):
        ours, theirs = direct.stations[station].column.synapses, relayed.stations[station].column.synapses
        assert set(ours) == set(theirs) and len(ours) == n_pathways
        for key in ours:
            for var in ("i", "j", "w"):
                np.testing.assert_array_equal(np.asarray(getattr(ours[key], var)), np.asarray(getattr(theirs[key], var)))
    # transthalamic is residual with stream.source = "relay": the same build (exact)
    for name in [f"v1_l5_exc_to_{RELAY}"] + [f"{RELAY}_to_{t}" for t in targets]:
        for var in ("i", "j", "w"):
            np.testing.assert_array_equal(np.asarray(getattr(relayed.projections[name], var)[:]),
                                          np.asarray(getattr(by_source.projections[name], var)[:]))


def test_relay_seed_sequence_leaves_the_other_children_unchanged():
    # numpy's SeedSequence.spawn: child k depends on (entropy, k) only, so spawning one more
    # child for the relays leaves the existing ones (labels, wiring, shuffle, sample) unchanged
    n_stations = 2
    old = np.random.SeedSequence(derive_seeds(5)["connectivity"]).spawn(n_stations + 3)
    new = np.random.SeedSequence(derive_seeds(5)["connectivity"]).spawn(n_stations + 4)
    for a, b in zip(old, new):
        np.testing.assert_array_equal(a.generate_state(4), b.generate_state(4))


@pytest.fixture(scope="module")
def relay_file(tmp_path_factory):
    import brian2

    brian2.prefs.codegen.target = "numpy"
    out = tmp_path_factory.mktemp("relay") / "transthalamic.h5"
    return run_stream(resolve_config(TINY), out)


def test_run_records_relay_spikes_and_nodes(relay_file):
    record = read_spike_record(relay_file)
    assert RELAY in record.populations
    spikes = record[RELAY]
    assert spikes.n_nodes == N_V1_L5
    assert spikes.t_stop - spikes.t_start == pytest.approx(0.3, abs=1e-9)  # 2 x (0.1 s + 0.05 s blank)
    rate = spikes.n_spikes / spikes.n_nodes / (spikes.t_stop - spikes.t_start)
    # The isolated relay fires 7.4 spikes/s with drivers at 11.6 spikes/s and 13.6 at 30
    # (RelayParams comment); V1 L5 fires at tens of spikes/s in this grating run (measured
    # 41 spikes/s, relay 14.7 spikes/s): a rate between 3 and 40 spikes/s (Poisson s.d. of
    # ~50 spikes is ~15 %)
    assert 3.0 <= rate <= 40.0
    nodes = record.nodes[RELAY]
    assert len(nodes["node_id"]) == N_V1_L5
    assert {str(s) for s in nodes["station"]} == {"pulvinar"}
    assert int(np.max(nodes["source_node"])) < N_V1_L5
    # the experiments' per-layer analyses skip the relay: 3 E layers x 2 stations
    layers = _population_layers(record)
    assert len(layers) == 6 and all(name != RELAY for name, _, _ in layers)


def test_config_accepts_relay_and_transthalamic():
    cfg = resolve_config({"stream": {"source": "relay"}})
    params = stream_params_from_config(cfg)
    assert params.stream_source == "relay" and params.variant == "residual"
    cfg = resolve_config({"stream": {"variant": "transthalamic"}})  # source left at l5_exc
    params = stream_params_from_config(cfg)
    assert params.stream_source == "relay" and params.source == "l5_exc"
    # 4 stations -> 3 transitions, each with its relay spontaneous rate (RelayParams defaults)
    assert len(params.relay.spontaneous_rates) == 3
    assert float(params.relay.spontaneous_rates["pulvinar_v2_exc"] / Hz) == pytest.approx(7.4, abs=1e-12)


@pytest.mark.parametrize("source", ["l23_exc", "both"])
def test_transthalamic_rejects_other_sources(source):
    with pytest.raises(ConfigError, match=r"stream\.source"):
        resolve_config({"stream": {"variant": "transthalamic", "source": source}})
    mosaic = build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=2)
    with pytest.raises(ConfigError, match=r"stream\.source"):
        build_ventral_stream(TWO_STATIONS.replace(variant="transthalamic", source=source), mosaic, derive_seeds(5))


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"size_ratio": 0.0}, "relay.size_ratio"),
        ({"driver": ProjectionParams(indegree=0, psp=3.0 * mV, delay=2.0 * ms)}, "relay.driver.indegree"),
        ({"driver": ProjectionParams(indegree=4, psp=-1.0 * mV, delay=2.0 * ms)}, "relay.driver.psp"),
        ({"driver": ProjectionParams(indegree=4, psp=3.0 * mV, delay=2.0 * Hz)}, "relay.driver.delay"),
        ({"driver_sigma_factor": 0.0}, "relay.driver_sigma_factor"),
        ({"background_indegree": -1}, "relay.background_indegree"),
        ({"background_rate": -1.0 * Hz}, "relay.background_rate"),
        ({"spontaneous_rate": 5.0 * mV}, "relay.spontaneous_rate"),
    ],
)
def test_bad_relay_parameters_name_the_field(changes, field):
    params = TWO_STATIONS.replace(variant="transthalamic", relay=dataclasses.replace(TWO_STATIONS.relay, **changes))
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        build_ventral_stream(params, build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=2), derive_seeds(5))


def test_dense_with_relay_sends_earlier_relays_to_l5():
    params = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:3], variant="dense", source="relay")
    stream = build_ventral_stream(params, build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=2), derive_seeds(5),
                                  charge_sample=0)
    assert sorted(stream.relays) == ["pulvinar_v2_exc", "pulvinar_v4_exc"]  # one per transition
    # PD14 L5E 4,850 x V2's n_scale 0.038 x scale 0.05 (size_ratio 1)
    assert len(stream.group("pulvinar_v4_exc")) == round(4850 * 0.038 * 0.05) == len(stream.group("v2_l5_exc"))
    assert stream.projections["v2_l5_exc_to_pulvinar_v4_exc"].source.name == "v2_l5_exc"
    # dense: V1's stream reaches V4's L5 through V1's relay, with the shortcut's 20 inputs per cell
    extra = stream.projections["pulvinar_v2_exc_to_v4_l5_exc_dense"]
    assert len(extra) == 20 * len(stream.group("v4_l5_exc"))
    assert not any(name.startswith("v1_l5_exc_to_v") or name.startswith("v2_l5_exc_to_v") for name in stream.projections)
