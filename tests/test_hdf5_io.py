"""The SONATA-compatible HDF5 file: round trips, SONATA compliance, safety and errors.

SONATA compliance is checked two ways that do not use our reader: a small reader written
here from the SONATA developer guide ("Spike file": root attributes ``magic`` = 0x0A7A and
``version``; ``/spikes/<population>/{timestamps,node_ids}``; ``sorting`` an HDF5 enum
none=0/by_id=1/by_time=2), and libsonata, the reference SONATA library.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import libsonata
import numpy as np
import pytest

from analysis.errors import FileFormatError, OutputExistsError, SpikeDataError
from analysis.hdf5_io import (
    SpikeFileWriter,
    file_info,
    iter_spike_chunks,
    list_populations,
    read_currents,
    read_nodes,
    read_provenance,
    read_spike_record,
    read_spikes,
    read_stimulus,
    read_trials,
    write_spike_record,
)
from analysis.outputs import partial_path, remove_stale_temporaries
from analysis.provenance import collect_provenance
from analysis.spiketrains import SpikeRecord, SpikeTrains

REPO = Path(__file__).resolve().parents[1]


def _poisson(rng, name, n_nodes, rate_hz, t_stop, t_start=0.0):
    n = rng.poisson(rate_hz * n_nodes * (t_stop - t_start))
    return SpikeTrains(name, rng.integers(0, n_nodes, n), rng.uniform(t_start, t_stop, n), n_nodes, t_start, t_stop)


def _full_record(rng) -> SpikeRecord:
    spikes = {
        "lgn_on": _poisson(rng, "lgn_on", 50, 20.0, 2.0),
        "v1_l4_exc": _poisson(rng, "v1_l4_exc", 80, 5.0, 2.0),
        # awkward cases: empty population, a single spike, silent neurons beyond the last id
        "v1_l23_pv": SpikeTrains.empty("v1_l23_pv", n_nodes=20, t_start=0.0, t_stop=2.0),
        "v1_l5_exc": SpikeTrains("v1_l5_exc", [3], [1.25], n_nodes=100, t_start=0.0, t_stop=2.0),
    }
    return SpikeRecord(
        spikes=spikes,
        nodes={
            "v1_l4_exc": {
                "x_deg": rng.normal(size=80),
                "channel": rng.integers(0, 8, 80),
                "layer": np.array(["l4"] * 80),
            }
        },
        trials={
            "start": [0.0, 1.0],
            "stop": [1.0, 2.0],
            "trial": [0, 1],
            "condition": ["grating_0deg", "grating_90deg"],
            "orientation_deg": [0.0, 90.0],
        },
        stimulus={"protocol": "orientation_tuning", "seed": 7, "epochs": [{"orientation_deg": 0.0}]},
        stimulus_arrays={"noise_frames": rng.integers(-1, 2, size=(40, 16, 16)).astype(np.int8)},
        currents={"v1_l5_exc": {"node_ids": [1, 5, 9], "ff": rng.normal(size=(2, 3)) * 1e-12}},
        config={"variant": "residual", "scale": 1.0, "stations": ["v1", "v2"]},
        provenance=collect_provenance(
            seeds={"master": 1, "connectivity": 11, "background": 12},
            device="runtime/numpy",
            threads=1,
            biological_time_s=2.0,
            wall_time_s={"build": 0.5, "compile": 0.0, "simulate": 1.5},
        ),
    )


def _assert_same_spikes(a: SpikeTrains, b: SpikeTrains) -> None:
    assert (a.population, a.n_nodes) == (b.population, b.n_nodes)
    assert a.t_start == pytest.approx(b.t_start, abs=1e-15) and a.t_stop == pytest.approx(b.t_stop, abs=1e-15)
    np.testing.assert_array_equal(a.node_ids, b.node_ids)
    # Times go through ms on disk (x * 1e3 / 1e3): at most one unit in the last place moves.
    np.testing.assert_array_max_ulp(a.times, b.times, maxulp=1)


# -- round trips ------------------------------------------------------------------------
def test_round_trip_every_group(tmp_path, rng):
    record = _full_record(rng)
    path = write_spike_record(record, tmp_path / "run.h5")
    back = read_spike_record(path)
    assert back.populations == record.populations
    for name in record.populations:
        _assert_same_spikes(record[name], back[name])
    assert back["v1_l23_pv"].n_spikes == 0 and back["v1_l23_pv"].n_nodes == 20
    assert back["v1_l5_exc"].rates().size == 100  # silent neurons counted through n_nodes
    np.testing.assert_array_equal(back.nodes["v1_l4_exc"]["x_deg"], record.nodes["v1_l4_exc"]["x_deg"])
    assert back.nodes["v1_l4_exc"]["layer"].tolist() == ["l4"] * 80
    assert back.trials["condition"].tolist() == ["grating_0deg", "grating_90deg"]
    np.testing.assert_array_equal(back.trials["stop"], [1.0, 2.0])
    assert back.stimulus == record.stimulus
    np.testing.assert_array_equal(back.stimulus_arrays["noise_frames"], record.stimulus_arrays["noise_frames"])
    # charges are stored in pC and converted back to C by the units attribute
    np.testing.assert_allclose(back.currents["v1_l5_exc"]["ff"], record.currents["v1_l5_exc"]["ff"], rtol=1e-14)
    assert back.config == record.config
    assert back.provenance["seeds"] == {"master": 1, "connectivity": 11, "background": 12}
    for key in ("package_version", "brian2_version", "numpy_version", "python_version", "git_revision",
                "device", "threads", "biological_time_s"):
        assert key in back.provenance
    walls = back.provenance["wall_time_s"]
    assert set(walls) >= {"build", "compile", "simulate", "write"}
    assert walls["simulate"] == 1.5 and walls["write"] > 0.0  # write time measured by the writer


def test_round_trip_one_million_spikes(tmp_path, rng):
    n = 1_000_000
    st = SpikeTrains("v1_l4_exc", rng.integers(0, 5000, n), np.sort(rng.uniform(0.0, 100.0, n)), 5000, 0.0, 100.0)
    path = write_spike_record(SpikeRecord(spikes={st.population: st}), tmp_path / "big.h5")
    _assert_same_spikes(st, read_spikes(path, "v1_l4_exc"))


def test_time_window_read_matches_in_memory_slice(tmp_path, rng):
    st = _poisson(rng, "v2_l5_exc", 200, 30.0, 10.0)
    path = tmp_path / "w.h5"
    # a small chunk size forces the on-disk binary search across many chunks
    with SpikeFileWriter(path, chunk_size=97) as writer:
        writer.write_spiketrains(st)
    for lo, hi in [(0.0, 10.0), (2.5, 7.25), (0.0, 0.0), (9.999, 10.0), (3.0, 3.0001)]:
        _assert_same_spikes(st.time_slice(lo, hi), read_spikes(path, "v2_l5_exc", lo, hi))
    with pytest.raises(SpikeDataError, match="must lie inside"):
        read_spikes(path, "v2_l5_exc", -1.0, 2.0)


def test_incremental_writer_equals_one_shot_and_chunked_reader(tmp_path, rng):
    st = _poisson(rng, "v4_l23_exc", 100, 20.0, 5.0)
    path = tmp_path / "inc.h5"
    with SpikeFileWriter(path, chunk_size=1000) as writer:
        writer.add_population("v4_l23_exc", n_nodes=100)
        for k in range(5):  # one chunk per simulated second, as a running simulation appends
            part = st.time_slice(float(k), float(k + 1))
            writer.append("v4_l23_exc", part.node_ids, part.times)
        writer.set_window("v4_l23_exc", 0.0, 5.0)
    _assert_same_spikes(st, read_spikes(path, "v4_l23_exc"))
    chunks = list(iter_spike_chunks(path, "v4_l23_exc", chunk_spikes=333))
    assert all(c.n_spikes <= 333 for c in chunks)
    _assert_same_spikes(st, SpikeTrains.concatenate(chunks))


def test_writer_rejects_out_of_order_chunks_and_unknown_population(tmp_path):
    with pytest.raises(SpikeDataError, match="append chunks in time order"):
        with SpikeFileWriter(tmp_path / "o.h5") as writer:
            writer.add_population("v1_l4_exc", n_nodes=2)
            writer.append("v1_l4_exc", [0], [0.5])
            writer.append("v1_l4_exc", [1], [0.2])
    assert not (tmp_path / "o.h5").exists()
    with pytest.raises(SpikeDataError, match="did you mean 'v1_l4_exc'"):
        with SpikeFileWriter(tmp_path / "u.h5") as writer:
            writer.add_population("v1_l4_exc", n_nodes=2)
            writer.append("v1_l4_ex", [0], [0.5])
    assert os.listdir(tmp_path) == []  # no temporary files left behind either


# -- SONATA compliance ------------------------------------------------------------------
def _spec_reader(path):
    """A minimal SONATA spike reader written from the specification, not from our code."""
    out = {}
    with h5py.File(path, "r") as f:
        assert int(f.attrs["magic"]) == 0x0A7A
        assert f.attrs["magic"].dtype == np.uint32
        assert list(f.attrs["version"]) == [0, 1]
        for name, group in f["spikes"].items():
            enum = h5py.check_enum_dtype(group.attrs.get_id("sorting").dtype)
            assert enum == {"none": 0, "by_id": 1, "by_time": 2}
            assert group.attrs["sorting"] == enum["by_time"]
            ts, ids = group["timestamps"], group["node_ids"]
            assert ts.dtype == np.float64 and ids.dtype == np.uint64 and ts.shape == ids.shape
            assert ts.attrs["units"] == "ms"
            t = ts[()]
            assert np.all(np.diff(t) >= 0)  # by_time means what it says
            out[name] = (ids[()], t)
    return out


def test_file_is_sonata_compliant_by_a_spec_reader_and_libsonata(tmp_path, rng):
    record = _full_record(rng)
    path = write_spike_record(record, tmp_path / "s.h5")
    spec = _spec_reader(path)
    reader = libsonata.SpikeReader(str(path))
    assert sorted(reader.get_population_names()) == sorted(record.populations)
    for name, st in record.spikes.items():
        ids, ms = spec[name]
        np.testing.assert_array_equal(ids, st.node_ids)
        np.testing.assert_allclose(ms, st.times * 1e3, rtol=0, atol=1e-12)
        pop = reader[name]
        assert pop.sorting == "by_time" and pop.time_units == "ms"
        got = pop.get_dict()
        assert len(got["node_ids"]) == st.n_spikes
        if st.n_spikes:
            np.testing.assert_array_equal(np.asarray(got["node_ids"], dtype=np.uint64), st.node_ids)
            np.testing.assert_allclose(got["timestamps"], st.times * 1e3, rtol=0, atol=1e-12)


def test_reads_a_foreign_sonata_file_in_seconds(tmp_path):
    """A BMTK-like file: no n_nodes/t_start attributes, times in s: units come from the attribute."""
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        g = f.create_group("spikes/cortex")
        g.create_dataset("timestamps", data=[0.5, 1.5, 2.5]).attrs["units"] = "s"
        g.create_dataset("node_ids", data=np.array([4, 0, 4], dtype=np.uint64))
    st = read_spikes(path, "cortex")
    assert st.times.tolist() == [0.5, 1.5, 2.5]  # exact: seconds divided by 1
    assert st.n_nodes == 5  # inferred from the largest id when the file does not say
    assert (st.t_start, st.t_stop) == (0.5, 2.5)


# -- safety: no overwrite, atomic finalisation, partial files ---------------------------------
def test_never_overwrites_without_permission(tmp_path, rng):
    record = _full_record(rng)
    path = write_spike_record(record, tmp_path / "keep.h5")
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_spike_record(record, path)
    assert path.read_bytes() == before
    write_spike_record(record, path, overwrite=True)
    assert read_spike_record(path).populations == record.populations


def test_exception_inside_writer_leaves_nothing_or_a_marked_partial_file(tmp_path):
    final = tmp_path / "run.h5"
    with pytest.raises(RuntimeError, match="simulated crash"):
        with SpikeFileWriter(final) as writer:
            writer.add_population("v1_l4_exc", n_nodes=3)
            writer.append("v1_l4_exc", [0, 1], [0.1, 0.2])
            raise RuntimeError("simulated crash")
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError):
        with SpikeFileWriter(final, keep_partial=True) as writer:
            writer.add_population("v1_l4_exc", n_nodes=3)
            writer.append("v1_l4_exc", [0, 1], [0.1, 0.2])
            raise RuntimeError("simulated crash")
    assert not final.exists()
    kept = partial_path(final)
    assert kept.name == "run.partial.h5" and kept.exists()
    with pytest.raises(FileFormatError, match="partial file"):
        read_spike_record(kept)
    st = read_spikes(kept, "v1_l4_exc", allow_partial=True)
    assert st.times.tolist() == [0.1, 0.2]  # what was finished is kept
    assert file_info(kept)["complete"] is False


def test_killed_writer_leaves_no_file_under_the_final_name(tmp_path):
    final = tmp_path / "killed.h5"
    script = textwrap.dedent(
        f"""
        import sys, time
        import numpy as np
        from analysis.hdf5_io import SpikeFileWriter
        w = SpikeFileWriter({str(final)!r})
        w.add_population("v1_l4_exc", n_nodes=10)
        t = 0.0
        for k in range(10_000):
            w.append("v1_l4_exc", np.arange(10) % 10, t + np.arange(10) * 1e-4)
            t += 1e-3
            if k == 10:
                print("writing", flush=True)
            time.sleep(0.001)
        w.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=REPO, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not final.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert all(name.startswith(".killed.h5.tmp-") for name in leftovers)  # only a hidden temporary
    # a rerun clears what the killed writer left, but not the temporary of a writer still running
    live = tmp_path / f".killed.h5.tmp-{os.getpid()}-0000.h5"
    live.write_bytes(b"")
    removed = remove_stale_temporaries(final)
    assert sorted(p.name for p in removed) == sorted(leftovers) and len(removed) >= 1
    assert [p.name for p in tmp_path.iterdir()] == [live.name]


# -- bad files ---------------------------------------------------------------------------
def test_bad_files_raise_one_line_errors(tmp_path, rng):
    cases = {}
    cases["missing"] = (tmp_path / "nope.h5", "no such file")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(rng.bytes(4096))
    cases["garbage"] = (garbage, "not a readable HDF5 file")
    good = write_spike_record(_full_record(rng), tmp_path / "good.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated"] = (truncated, "truncated or corrupt")
    wrong_magic = tmp_path / "magic.h5"
    with h5py.File(wrong_magic, "w") as f:
        f.attrs["magic"] = np.uint32(0x1234)
        f.create_group("spikes")
    cases["magic"] = (wrong_magic, "magic is 0x1234, expected 0x0a7a")
    no_spikes = tmp_path / "nospikes.h5"
    with h5py.File(no_spikes, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
    cases["no_spikes"] = (no_spikes, "missing the /spikes group")
    cases["directory"] = (tmp_path, "is a directory")
    for label, (path, message) in cases.items():
        with pytest.raises(FileFormatError, match=message) as info:
            read_spike_record(path)
        assert "\n" not in str(info.value), label


def test_unknown_population_and_units(tmp_path, rng):
    path = write_spike_record(_full_record(rng), tmp_path / "p.h5")
    with pytest.raises(FileFormatError, match="did you mean 'v1_l4_exc'"):
        read_spikes(path, "v1_l4_ex")
    with h5py.File(path, "r+") as f:
        f["spikes/lgn_on/timestamps"].attrs["units"] = "fortnights"
    with pytest.raises(FileFormatError, match="units 'fortnights'"):
        read_spikes(path, "lgn_on")


def test_readers_of_single_groups(tmp_path, rng):
    record = _full_record(rng)
    path = write_spike_record(record, tmp_path / "g.h5")
    assert list_populations(path) == record.populations
    assert read_nodes(path, "v1_l4_exc")["channel"].tolist() == record.nodes["v1_l4_exc"]["channel"].tolist()
    assert read_nodes(path, "lgn_on") == {}
    assert read_trials(path)["orientation_deg"].tolist() == [0.0, 90.0]
    assert read_stimulus(path)[0]["seed"] == 7
    assert read_currents(path)["v1_l5_exc"]["node_ids"].tolist() == [1, 5, 9]
    assert read_provenance(path)["threads"] == 1
    info = file_info(path)
    assert info["populations"]["v1_l5_exc"] == pytest.approx(
        {"n_nodes": 100, "n_spikes": 1, "t_start_s": 0.0, "t_stop_s": 2.0, "mean_rate_hz": 1 / 200, "sorting": "by_time"}
    )
    json.dumps(info)  # the CLI prints it as JSON
