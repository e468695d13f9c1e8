"""``ventral-columns sweep``: files, sweep.json, resume, retries and one-line errors.

The runs are tiny (runtime numpy target, scale 0.05, V1 only, 0.2 s of stimulus), each in its
own process as in a real sweep, two at a time on Dask's threaded scheduler.
"""

from __future__ import annotations

import json

import pytest

from analysis.errors import ConfigError
from analysis.hdf5_io import file_info
from circuits import experiments
from circuits.cli import main
from circuits.sweep import parse_assignments, run_sweep

TINY_TOML = """
[run]
scale = 0.05
progress = false
silence_guard = false
chunk = "0.3 s"
[stream]
stations = ["v1"]
[stimulus]
orientations = 2
phases = 1
repeats = 1
duration = "0.05 s"
blank = "0.05 s"
"""
#: The protocol above: 2 orientations x 1 phase x 1 repeat x (0.05 s + 0.05 s blank).
PROTOCOL_S = 0.2


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep_cfg") / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


@pytest.fixture(scope="module")
def swept(tmp_path_factory, config):
    out = tmp_path_factory.mktemp("sweep")
    status = main(["sweep", str(config), "--out", str(out), "--seeds", "2", "--workers", "2"])
    return out, status


def test_files_and_sweep_json(swept):
    out, status = swept
    assert status == 0
    doc = json.loads((out / "sweep.json").read_text())
    # 2 seeds x no --set values = 2 runs, seeds from run.master_seed = 1 (the default)
    assert doc["sweep"]["seeds"] == [1, 2] and doc["sweep"]["n_runs"] == 2
    assert doc["counts"] == {"done": 2, "skipped": 0, "failed": 0}
    for seed, run in zip((1, 2), doc["runs"]):
        assert run["seed"] == seed and run["params"] == {} and run["attempts"] == 1
        assert run["path"] == f"runs/seed{seed}.h5"
        info = file_info(out / run["path"])
        assert info["complete"]
        # every run simulated exactly the protocol (times stored in ms, compared in s to 1e-9 s)
        assert info["provenance"]["biological_time_s"] == pytest.approx(PROTOCOL_S, abs=1e-9)
        assert info["provenance"]["seeds"]["master"] == seed
        assert run["wall_time_s"] > run["run_wall_time_s"]["simulate"] > 0.0


def test_resume_skips_finished_runs(swept, config, capsys):
    out, _ = swept
    first = out / "runs" / "seed1.h5"
    mtime = first.stat().st_mtime_ns
    (out / "runs" / "seed2.h5").unlink()
    assert main(["sweep", str(config), "--out", str(out), "--seeds", "2", "--workers", "1"]) == 0
    doc = json.loads((out / "sweep.json").read_text())
    # seed 1 was complete: skipped and untouched (same mtime to the nanosecond); seed 2 rerun
    assert [r["status"] for r in doc["runs"]] == ["skipped", "done"]
    assert first.stat().st_mtime_ns == mtime
    assert doc["counts"] == {"done": 1, "skipped": 1, "failed": 0}
    assert "2 runs: 1 done, 1 skipped" in capsys.readouterr().out


def test_failed_run_is_retried_and_reported(tmp_path, config, monkeypatch):
    # a child process that always fails, instead of a simulation (the threaded scheduler runs
    # the tasks in this process, so the patched worker code is the one the sweep starts)
    monkeypatch.setattr(experiments, "_WORKER", "import sys\nsys.exit('boom: simulated failure')")
    # the temporary file a killed child would leave behind (analysis.outputs naming, a process
    # id that no longer runs)
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / "runs" / f".seed1_stream.shortcut_scale=0.5.h5.tmp-{gone.pid}-dead.h5"
    stale.parent.mkdir()
    stale.write_bytes(b"")
    doc = run_sweep(config, tmp_path, n_seeds=1, grid={"stream.shortcut_scale": [0.5, 1.0]}, workers=2,
                    retries=1, progress=False)
    # 1 seed x 2 values, each tried 1 + retries = 2 times, then reported, not dropped
    assert [r["status"] for r in doc["runs"]] == ["failed", "failed"]
    assert [r["attempts"] for r in doc["runs"]] == [2, 2]
    assert [len(r["attempt_wall_times_s"]) for r in doc["runs"]] == [2, 2]
    assert not stale.exists()  # removed after the failed attempt
    assert all("boom: simulated failure" in r["error"] for r in doc["runs"])
    assert [r["params"] for r in doc["runs"]] == [{"stream.shortcut_scale": 0.5}, {"stream.shortcut_scale": 1.0}]
    assert json.loads((tmp_path / "sweep.json").read_text())["counts"]["failed"] == 2


def test_set_values_cartesian_product():
    grid = parse_assignments(["stream.variant=residual,hierarchical", "stream.shortcut_scale=0.5",
                              "stream.shortcut_scale=2", 'stream.stations=["v1"],["v1","v2"]'])
    # values as TOML: floats stay floats, bare words are strings, arrays are lists
    assert grid == {"stream.variant": ["residual", "hierarchical"], "stream.shortcut_scale": [0.5, 2.0],
                    "stream.stations": [["v1"], ["v1", "v2"]]}


@pytest.mark.parametrize(("args", "named"), [
    (["--set", "stream.shortcut_scal=0.5"], "stream.shortcut_scal"),
    (["--set", "stream.variant=nonsense"], "stream.variant"),
    (["--set", "run.master_seed=3"], "run.master_seed"),
    (["--set", "stream.shortcut_scale"], "stream.shortcut_scale"),
])
def test_bad_set_exits_2_with_one_line(tmp_path, config, capsys, args, named):
    status = main(["sweep", str(config), "--out", str(tmp_path / "s"), *args])
    err = capsys.readouterr().err.strip()
    assert status == 2  # EXIT_USAGE of circuits/cli.py
    assert len(err.splitlines()) == 1 and named in err
    assert not (tmp_path / "s").exists()  # rejected before anything was written


def test_unknown_key_suggests_nearest():
    with pytest.raises(ConfigError, match=r"stream\.shortcut_scal: unknown .*did you mean 'stream\.shortcut_scale'"):
        parse_assignments(["stream.shortcut_scal=0.5"])


def test_other_sweep_in_same_directory_refused(swept, config, capsys):
    out, _ = swept
    status = main(["sweep", str(config), "--out", str(out), "--seeds", "3"])
    assert status == 2  # EXIT_USAGE: sweep.json of a 2-seed sweep is not replaced without --overwrite
    assert "different sweep" in capsys.readouterr().err


def test_distributed_scheduler_address(tmp_path, config, monkeypatch):
    from distributed import LocalCluster

    # a 2-worker dask.distributed cluster given by address, as a SLURM cluster would be; its
    # workers are threads of this process, so the failing worker code below is what they start
    monkeypatch.setattr(experiments, "_WORKER", "import sys\nsys.exit('boom: simulated failure')")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        doc = run_sweep(config, tmp_path, n_seeds=2, scheduler=cluster.scheduler_address, retries=0, progress=False)
    assert doc["sweep"]["scheduler"] == cluster.scheduler_address
    # 2 seeds, no retries: each run tried once on the cluster and reported
    assert [(r["seed"], r["status"], r["attempts"]) for r in doc["runs"]] == [(1, "failed", 1), (2, "failed", 1)]
