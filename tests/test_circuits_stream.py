"""The ventral stream: construction, common random numbers, reproducibility, recording, guards.

Everything runs on Brian2's numpy target at a tiny scale (a few hundred neurons), so no
compilation is needed; the calibration gates at scale 1 are `slow` tests.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import ConfigError, OutputExistsError
from analysis.hdf5_io import file_info, read_currents, read_provenance, read_spike_record
from circuits.config import resolve_config
from circuits.params import DEFAULT_STREAM
from circuits.run import RunawayError, prepare_run, run_stream
from circuits.simulate import derive_seeds
from circuits.ventral_stream import build_ventral_stream
from stimuli.lgn import build_lgn_mosaic

pytestmark = pytest.mark.usefixtures("brian2_numpy")

TINY = {
    "run": {"scale": 0.05, "progress": False, "chunk": "0.3 s", "silence_guard": False},
    "stream": {"stations": ["v1", "v2"]},
    "stimulus": {"orientations": 2, "phases": 1, "repeats": 1, "duration": "0.1 s", "blank": "0.05 s"},
    "recording": {"currents_sample": 3},
}


def _cfg(**tables):
    user = {k: dict(v) for k, v in TINY.items()}
    for key, value in tables.items():
        user[key] = {**user.get(key, {}), **value} if isinstance(value, dict) else value
    return resolve_config(user)


@pytest.fixture(scope="module")
def residual_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("stream") / "residual.h5"
    return run_stream(_cfg(), out)


def test_stream_sizes_labels_and_sign_matching(brian2_numpy):
    seeds = derive_seeds(3)
    mosaic = build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=1)
    params = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:2])
    stream = build_ventral_stream(params, mosaic, seeds, charge_sample=2)
    sizes = {name: len(stream.group(name)) for name in stream.populations}
    # PD14 proportions (L4E 21,915 and L5E 4,850 of 59,826 neurons) x n_scale x scale
    assert sizes["v1_l4_exc"] == round(21915 * 0.05 * 0.05)
    assert sizes["v2_l5_exc"] == round(4850 * 0.038 * 0.05)
    assert stream.wiring_stats["sign_matching_index_lgn_to_v1_l4_exc"] == 1.0  # the Hubel-Wiesel rule, by construction
    table = stream.node_table("v1_l4_exc")
    assert set(table) >= {"node_id", "rf_x", "rf_y", "orientation", "phase", "channel", "station", "layer", "cell"}
    assert np.all(np.abs(table["rf_x"]) <= 0.5)  # V1 patch of 1 deg centred on the fovea of the field
    # balanced channels: counts per orientation channel differ by at most one
    counts = np.bincount(table["channel"], minlength=8)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_allclose(table["orientation"], table["channel"] * 22.5)
    names = {obj.name for obj in stream.network.objects}
    assert {"lgn", "lgn_to_v1_l4_exc", "v1_l5_exc_to_v2_l4_exc", "v1_l5_exc_to_v2_l5_exc"} <= names
    # populations are views of the group that holds them; the holder is what the network runs
    l4 = stream.group("v1_l4_exc")
    assert l4.name == "v1_l4_exc" and getattr(l4, "source", l4).name in names


def test_python_copies_of_labels_and_dc_equal_the_groups(brian2_numpy):
    """Wiring reads labels and I_dc from Python copies (a standalone device cannot read them back).

    The copies must equal what the Brian2 groups hold (runtime device, where both are readable).
    """
    from brian2 import amp

    from columns.column import LABEL_NAMES, label_values

    params = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:2])
    stream = build_ventral_stream(params, build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=1), derive_seeds(3))
    for name in stream.populations:
        group = stream.group(name)
        for key in LABEL_NAMES:
            np.testing.assert_array_equal(label_values(group, key), np.asarray(getattr(group, key)[:]))
        np.testing.assert_allclose(group._dc_values, np.asarray(group.I_dc[:] / amp), rtol=1e-12)
    # the mean LGN input was subtracted from L4's DC (the copy followed the change)
    derived_dc = float(stream.stations["v1"].column.derived.dc["l4_exc"] / amp)
    assert np.all(stream.group("v1_l4_exc")._dc_values < derived_dc)


def test_stream_builds_on_the_standalone_device_without_reading_values(tmp_path):
    """Building (not compiling) under cpp_standalone: no value may be read back before the run.

    Regression: with populations as Subgroups, reading labels or I_dc back from Brian2 raised
    NotImplementedError on cpp_standalone (found by the stream benchmark, 2026-11-23).
    """
    from circuits.simulate import configure_device, reset_device

    params = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:2])
    configure_device("cpp_standalone", threads=1, directory=tmp_path / "build")
    try:
        stream = build_ventral_stream(params, build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=1), derive_seeds(3))
        assert len(stream.group("v2_l5_exc")) > 0
    finally:
        reset_device()


def test_variants_share_wiring_except_the_shortcut(brian2_numpy):
    seeds = derive_seeds(5)
    mosaic = build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=2)
    built = {}
    for variant in ("residual", "hierarchical", "shuffled_skip"):
        params = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:2], variant=variant)
        built[variant] = build_ventral_stream(params, mosaic, seeds, charge_sample=0)
    res, hier, shuf = (built[v].projections for v in ("residual", "hierarchical", "shuffled_skip"))
    for name in ("lgn_to_v1_l4_exc", "v1_l5_exc_to_v2_l4_exc"):
        # common random numbers: the non-shortcut projections are identical in every variant
        np.testing.assert_array_equal(res[name].i[:], hier[name].i[:])
        np.testing.assert_array_equal(res[name].j[:], shuf[name].j[:])
        np.testing.assert_array_equal(np.asarray(res[name].w[:]), np.asarray(hier[name].w[:]))
    shortcut = "v1_l5_exc_to_v2_l5_exc"
    assert np.all(np.asarray(hier[shortcut].w[:]) == 0)  # hierarchical: shortcut weights 0
    w_res = np.asarray(res[shortcut].w[:])
    n_targets = len(built["residual"].group("v2_l5_exc"))
    # A fixed number of synapses per projection (zero-weight placeholders where a target has
    # fewer eligible sources than its in-degree of 20) keeps standalone sources seed-independent.
    assert w_res.size == n_targets * 20
    assert np.all(w_res >= 0) and np.any(w_res > 0)
    # shuffled_skip: same sources and total weight, permuted targets
    np.testing.assert_array_equal(np.sort(res[shortcut].i[:]), np.sort(shuf[shortcut].i[:]))
    assert float(np.sum(res[shortcut].w[:])) == pytest.approx(float(np.sum(shuf[shortcut].w[:])), rel=1e-12)
    assert not np.array_equal(res[shortcut].j[:], shuf[shortcut].j[:])


def test_run_writes_every_group(residual_file):
    info = file_info(residual_file)
    assert info["complete"] is True
    pops = info["populations"]
    assert {"lgn_on", "lgn_off", "v1_l4_exc", "v2_l5_pv"} <= set(pops)
    assert set(info["groups"]) >= {"spikes", "nodes", "trials", "stimulus", "currents", "config", "provenance"}
    record = read_spike_record(residual_file)
    assert record.n_trials == 2  # 2 orientations x 1 phase x 1 repeat
    # every population was simulated for the whole protocol: 2 x (0.1 + 0.05) s
    assert all(st.t_stop == pytest.approx(0.3, abs=1e-12) for st in record)
    assert record.nodes["v1_l4_exc"]["station"][0] == "v1"
    prov = read_provenance(residual_file)
    assert set(prov["seeds"]) == {"master", "connectivity", "initial_state", "background", "stimulus", "lgn_spikes", "trial_noise"}
    assert prov["device"] == "runtime/numpy" and prov["biological_time_s"] == pytest.approx(0.3)
    currents = read_currents(residual_file)
    l5 = currents["v1_l5_exc"]
    assert l5["node_ids"].size == 3 and l5["ff"].shape == (2, 3)  # (epochs, sampled cells)
    assert np.all(l5["ff"] > 0)  # the shortcut and LGN input are excitatory: positive charge
    assert np.all(l5["pv"] <= 0)  # PV inhibition delivers negative charge


def test_same_seed_same_spikes_and_common_stimulus_across_variants(tmp_path, residual_file):
    again = run_stream(_cfg(), tmp_path / "again.h5")
    a, b = read_spike_record(residual_file), read_spike_record(again)
    for name in a.populations:  # same configuration and master seed -> identical spikes
        np.testing.assert_array_equal(a[name].node_ids, b[name].node_ids)
        np.testing.assert_array_equal(a[name].times, b[name].times)
    hier = read_spike_record(run_stream(_cfg(stream={"variant": "hierarchical"}), tmp_path / "hier.h5"))
    for name in ("lgn_on", "lgn_off"):  # the stimulus and LGN spikes do not depend on the variant
        np.testing.assert_array_equal(a[name].times, hier[name].times)
    assert hier.config["stream"]["variant"] == "hierarchical"


def test_silencing_window_stops_firing(tmp_path):
    cfg = _cfg(manipulation=[{"kind": "silence", "stations": ["v1"], "populations": ["l4_exc"], "start": "0.1 s"}])
    record = read_spike_record(run_stream(cfg, tmp_path / "silenced.h5"))
    l4 = record["v1_l4_exc"]
    # The hyperpolarising current (3 nA) clamps the cells far below threshold within a
    # membrane time constant; allow 5 ms for spikes already under way.
    assert np.sum(l4.times > 0.105) == 0
    assert np.sum(l4.times < 0.1) > 0


def test_runaway_guard_stops_and_keeps_a_partial_file(tmp_path):
    cfg = _cfg(run={"max_rate": "0.5 Hz"})
    out = tmp_path / "runaway.h5"
    with pytest.raises(RunawayError, match=r"spikes/s in \[0.000, 0.300\] s, above run.max_rate"):
        run_stream(cfg, out)
    assert not out.exists()
    partial = tmp_path / "runaway.partial.h5"
    assert partial.exists() and file_info(partial)["complete"] is False


def test_errors_before_any_work(tmp_path, residual_file):
    with pytest.raises(OutputExistsError):
        run_stream(_cfg(), residual_file)
    with pytest.raises(ConfigError, match="already silenced"):
        run_stream(_cfg(manipulation=[
            {"kind": "silence", "stations": ["v1"], "populations": ["l4_exc"]},
            {"kind": "block_lesion", "stations": ["v1"]},
        ]), tmp_path / "twice.h5")


def test_prepare_run_is_variant_independent():
    a = prepare_run(_cfg())
    b = prepare_run(_cfg(stream={"variant": "shuffled_skip"}))
    np.testing.assert_array_equal(a.lgn_spikes["lgn_on"].times, b.lgn_spikes["lgn_on"].times)
    np.testing.assert_array_equal(a.mosaic.x_deg, b.mosaic.x_deg)


def test_injected_gains_and_noise_patterns_are_stored(tmp_path):
    cfg = _cfg(
        stream={"stations": ["v1"]},
        stimulus={"protocol": "sparse_noise", "duration": "0.2 s", "trial_duration": "0.1 s",
                  "noise_frame_duration": "50 ms"},
        manipulation=[{"kind": "gain_noise", "stations": ["v1"], "value": 0.3}],
    )
    path = run_stream(cfg, tmp_path / "noise.h5")
    record = read_spike_record(path)
    gains = np.asarray(record.trials["ff_gain_v1"])
    # One gain per epoch drawn from N(1, 0.3) clipped at 0 (circuits/run.py _gain_timelines):
    # two epochs, distinct values, none negative.
    assert gains.shape == (2,) and gains[0] != gains[1] and np.all(gains >= 0)
    # The same seed gives the same gains: they derive from the trial_noise seed only.
    again = prepare_run(cfg)
    from circuits.run import _gain_timelines

    line = _gain_timelines(cfg, again.protocol, again.seeds)["v1_l4_exc"][1]
    np.testing.assert_array_equal(gains, line[again.protocol.epoch_start_frames])
    # The stored noise patterns equal the protocol's (4 noise frames of 50 ms in 0.2 s).
    expected = again.protocol.noise_arrays()
    assert record.stimulus_arrays["noise_patterns"].shape[0] == 4
    np.testing.assert_array_equal(record.stimulus_arrays["noise_patterns"], expected["noise_patterns"])


def test_synapse_counts_by_source_match_the_projections(residual_file):
    from analysis.hdf5_io import read_config

    derived = read_config(residual_file)["derived"]
    by_source = derived["synapses_by_source"]
    lgn = sum(n for name, n in derived["projections"].items() if name.startswith("lgn_to_"))
    # The LGN only has the thalamic projections: the two counts are the same synapses.
    assert by_source["lgn"] == lgn
    # Every cortical population has recurrent targets (PD14 table restricted to L2/3-L5).
    assert all(by_source.get(name, 0) > 0 for name in derived["sizes"])


def test_capped_projections_keep_each_targets_input_variance(brian2_numpy):
    """Inter-areal in-degrees capped at a quarter of the source pool, weights x sqrt(K / k).

    PD14's in-degree scaling rule: a target with k of the nominal K inputs keeps the input
    variance of K inputs, sum_i w_i^2 = K w0^2 (analytic; the mean is balanced by DC).
    """
    params = DEFAULT_STREAM.replace(scale=0.2, stations=DEFAULT_STREAM.stations[:2])
    assert params.interareal.max_connection_fraction == 0.25
    stream = build_ventral_stream(params, build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=1), derive_seeds(3),
                                  charge_sample=0)
    for name, nominal in (("v1_l5_exc_to_v2_l4_exc", 30), ("v1_l5_exc_to_v2_l5_exc", 20)):
        syn = stream.projections[name]
        w = np.asarray(syn.w[:], float)
        j = np.asarray(syn.j[:], np.int64)
        real = w > 0
        k = np.bincount(j[real], minlength=len(stream.group(name.split("_to_")[1])))
        # the source pool (V1 L5 at scale 0.2: 49 cells over 8 channels) is small: the cap binds
        assert k.max() < nominal and k.min() >= 1
        w0 = w[real][k[j[real]] == k.max()][0] * np.sqrt(k.max() / nominal)
        sum_sq = np.bincount(j[real], weights=w[real] ** 2, minlength=k.size)
        np.testing.assert_allclose(sum_sq, nominal * w0**2, rtol=1e-9)


def test_configuration_multiplies_the_base_background_scales():
    """Per-station background scales of the base parameters survive the configuration.

    Regression (2026-11-23): ``stream_params_from_config`` rebuilt ``background_scale`` from
    the configuration alone, silently dropping the base's values. Expected: base 1.1 for IT
    times the global ``stream.background_scale`` 2 = 2.2 (exact arithmetic); a station not in
    the stream is dropped.
    """
    from circuits.run import stream_params_from_config

    base = DEFAULT_STREAM.replace(background_scale={"it": 1.1, "v4": 0.9})
    cfg = resolve_config({"stream": {"stations": ["v1", "v2", "it"], "background_scale": 2.0}})
    params = stream_params_from_config(cfg, base)
    assert params.background_scale == pytest.approx({"v1": 2.0, "v2": 2.0, "it": 2.2})
    assert stream_params_from_config(resolve_config({}), base).background_scale == pytest.approx({"it": 1.1, "v4": 0.9})


def test_per_station_settings_unknown_name_is_an_error_left_out_station_is_not(brian2_numpy):
    # The default background scales name V4 and IT (circuits.params.STREAM_BACKGROUND_SCALE):
    # a V1-V2 stream ignores them; a name that is no station is a typo and must be refused.
    mosaic = build_lgn_mosaic(field_size_deg=2.0, rng_or_seed=1)
    params = DEFAULT_STREAM.replace(scale=0.05, stations=DEFAULT_STREAM.stations[:2])
    assert set(params.background_scale) == {"v4", "it"}
    assert len(build_ventral_stream(params, mosaic, derive_seeds(3), charge_sample=0).stations) == 2
    with pytest.raises(ConfigError, match="unknown station 'v9'"):
        build_ventral_stream(params.replace(background_scale={"v9": 1.0}), mosaic, derive_seeds(3), charge_sample=0)


def test_stations_get_only_the_hooks_their_manipulations_need():
    from circuits.run import stream_hooks, stream_params_from_config

    cfg = _cfg(manipulation=[
        {"kind": "silence", "stations": ["v1"], "populations": ["l4_exc"]},
        {"kind": "tonic_drive", "stations": ["v2"], "populations": ["l5_exc"], "current": "10 pA"},
        {"kind": "block_lesion", "stations": ["v2"]},
    ])
    params = stream_params_from_config(cfg, DEFAULT_STREAM)
    assert stream_hooks(cfg, params, ["v1_l5_exc"]) == {"v1": ("gain", "silence"), "v2": ("silence", "tonic")}
    assert stream_hooks(_cfg(), params.replace(l5_tonic_drive={}), []) == {}


def test_stream_without_hooks_gives_the_spikes_of_the_stream_with_every_hook(tmp_path, residual_file, monkeypatch):
    """Expected values: the run with every hook in every station (the layout before
    2026-11-23). Neutral hooks add ``+0``, ``-0`` and ``1*`` terms, exact in IEEE arithmetic,
    so the numpy target must give bit-identical spikes."""
    import circuits.run
    from columns.cell_models import HOOKS

    assert circuits.run.stream_hooks(_cfg(), DEFAULT_STREAM, []) == {}  # the default run is hook-free
    monkeypatch.setattr(circuits.run, "stream_hooks", lambda cfg, params, gains: {s.name: HOOKS for s in params.stations})
    full = read_spike_record(run_stream(_cfg(), tmp_path / "hooks.h5"))
    lean = read_spike_record(residual_file)
    for name in lean.populations:
        np.testing.assert_array_equal(lean[name].node_ids, full[name].node_ids)
        np.testing.assert_array_equal(lean[name].times, full[name].times)
    assert sum(lean[name].n_spikes for name in lean.populations if not name.startswith("lgn")) > 50


def test_run_network_profile_lists_every_code_object(brian2_numpy):
    """``run_network(profile=True)`` returns Brian2's per-object times: the state updater,
    thresholder and resetter of a NeuronGroup (the runtime lists the group itself too), all
    non-negative, summing to no more than the run's wall time."""
    from brian2 import Network, NeuronGroup, ms

    from circuits.simulate import run_network

    group = NeuronGroup(10, "dv/dt = (1.1 - v) / (10*ms) : 1", threshold="v > 1", reset="v = 0", method="exact",
                        name="profiled_cells")
    net = Network(group)
    timings = run_network(net, 20 * ms, profile=True)
    profile = timings.extra["profile"]
    names = {name for name, _, _ in profile}
    assert {"profiled_cells_spike_resetter", "profiled_cells_spike_thresholder", "profiled_cells_stateupdater"} <= names
    assert all(name.startswith("profiled_cells") for name in names)
    assert all(t >= 0 for _, t, _ in profile)
    assert sum(t for _, t, _ in profile) <= timings.compile + timings.simulate
    assert "profile" not in run_network(net, 1 * ms).extra  # only when asked


def test_lgn_spike_padding_lengths():
    """Standalone keeps the LGN spike count in main.cpp: padded lengths are coarse, so seeds
    of one protocol share one (no recompilation), at a bounded memory cost."""
    import numpy as np

    from circuits.run import _SPIKE_BUCKET, _pad_spikes, _padded_length

    for n in (0, 1, 65_535, 65_536, 65_537, 300_001, 1_000_000, 1_966_080, 2_000_000, 9_999_999):
        length = _padded_length(n)
        assert length >= n and length % _SPIKE_BUCKET == 0
        assert length - n < _SPIKE_BUCKET or length <= 1.25 * n  # at most a bucket, or a quarter more
    # two seeds' counts 2 % apart inside one step share a length
    assert _padded_length(1_850_000) == _padded_length(1_887_000) == 2_097_152
    indices, times = np.array([0, 1, 2]), np.array([0.01, 0.02, 0.03])
    idx, t = _pad_spikes(indices, times, n_cells=10, duration=0.5, dt=1e-4)
    assert idx.size == _SPIKE_BUCKET and np.array_equal(idx[:3], indices) and np.array_equal(t[:3], times)
    assert t[3:].min() > 0.5 and idx.max() < 10  # never emitted: after the run's end, valid cells
