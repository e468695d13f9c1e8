"""Build once, run many (issue #8): noise seeds, rescaled projections and sweeps on one binary.

The fast tests run on Brian2's numpy target or replace the child process of a sweep; the
end-to-end tests compile a tiny stream (V1 only, scale 0.05, 0.3 s) with ``cpp_standalone``
and are marked ``slow``. The reference for every session run is an independent fresh build
of the same configuration (:func:`circuits.run.run_stream` in its own process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import ConfigError
from analysis.hdf5_io import read_provenance, read_spike_record
from circuits import sweep
from circuits.config import resolve_config
from circuits.run import run_stream
from circuits.simulate import derive_seeds, noise_background_seed

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "run": {"scale": 0.05, "progress": False, "chunk": "0.3 s", "silence_guard": False, "master_seed": 7},
    "stream": {"stations": ["v1"]},
    "stimulus": {"orientations": 1, "phases": 1, "repeats": 1, "duration": "0.2 s", "blank": "0.1 s"},
    "recording": {"currents_sample": 2},
}


def _user(**run):
    user = json.loads(json.dumps(TINY))
    user["run"].update(run)
    return user


def _same_spikes(a, b, populations):
    return all(np.array_equal(a[p].node_ids, b[p].node_ids) and np.array_equal(a[p].times, b[p].times)
               for p in populations)


# -- noise seeds ----------------------------------------------------------------------------
def test_noise_background_seed_is_independent_of_literal_seeds():
    seeds = [noise_background_seed(1, k) for k in range(1, 50)]
    assert len(set(seeds)) == len(seeds)
    # consecutive noise seeds must not map to consecutive Brian2 seeds (thread k uses seed + k)
    assert np.min(np.abs(np.diff(np.sort(seeds)))) > 2
    assert all(0 <= s < 2**31 - 1 for s in seeds)
    assert noise_background_seed(2, 1) != noise_background_seed(1, 1)
    assert derive_seeds(1)["background"] not in seeds


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_noise_background_seed_refuses_non_positive(bad):
    with pytest.raises(ConfigError, match="noise_seed"):
        noise_background_seed(1, bad)


def test_config_refuses_negative_noise_seed():
    with pytest.raises(ConfigError, match="noise_seed"):
        resolve_config(_user(noise_seed=-2))


@pytest.mark.usefixtures("brian2_numpy")
def test_noise_seed_redraws_only_the_cortical_background(tmp_path):
    base = read_spike_record(run_stream(resolve_config(_user()), tmp_path / "base.h5"))
    path = run_stream(resolve_config(_user(noise_seed=3)), tmp_path / "noise3.h5")
    noise = read_spike_record(path)
    # the LGN spikes (stimulus) are the master seed's; the cortex sees another background
    assert _same_spikes(base, noise, ["lgn_on", "lgn_off"])
    cortical = [p for p in base.populations if p.startswith("v1_")]
    assert not _same_spikes(base, noise, cortical)
    seeds = read_provenance(path)["seeds"]
    expected = derive_seeds(7)
    assert seeds["noise"] == 3 and seeds["background"] == noise_background_seed(7, 3)
    assert {k: v for k, v in seeds.items() if k not in ("noise", "background")} == \
        {k: v for k, v in expected.items() if k != "background"}


def test_session_needs_cpp_standalone():
    from circuits.session import StreamSession

    with pytest.raises(ConfigError, match="run.device.*cpp_standalone"):
        StreamSession(resolve_config(_user()))


# -- sweep grouping (no simulation) ---------------------------------------------------------
def _tasks(device, grid, n_seeds=2):
    user = _user(device=device)
    cfg = resolve_config(user)
    return sweep.expand_sweep(cfg, grid, n_seeds)


def test_sweep_groups_runs_that_differ_only_in_session_keys():
    tasks = _tasks("cpp_standalone", {"run.noise_seed": [0, 1, 2], "stream.shortcut_scale": [0.5, 1.0]})
    groups = sweep._session_groups(tasks, reuse=True)
    # 2 master seeds (other connectivity: other binaries) x 6 runs sharing one binary each
    assert [len(g) for g in groups] == [6, 6]
    assert all(len({t["seed"] for t in g}) == 1 for g in groups)
    assert [len(g) for g in sweep._session_groups(tasks, reuse=False)] == [1] * 12


def test_sweep_does_not_group_structural_keys_or_runtime_runs():
    tasks = _tasks("cpp_standalone", {"stream.variant": ["residual", "hierarchical"]}, n_seeds=1)
    assert [len(g) for g in sweep._session_groups(tasks, reuse=True)] == [1, 1]
    runtime = _tasks("runtime", {"run.noise_seed": [1, 2]}, n_seeds=1)
    assert [len(g) for g in sweep._session_groups(runtime, reuse=True)] == [1, 1]


def test_group_retries_unfinished_runs_and_reports_failures(tmp_path, monkeypatch):
    tasks = _tasks("cpp_standalone", {"run.noise_seed": [1, 2, 3]}, n_seeds=1)
    (tmp_path / "runs").mkdir()
    calls = []

    def fake_session(cfg, jobs):
        calls.append([j["name"] for j in jobs])
        # the base of the session: the group's configuration with the master seed's own noise
        assert cfg["run"]["noise_seed"] == 0
        lines = []
        for job in jobs:
            if job["noise_seed"] == 2:
                lines.append({"name": job["name"], "error": "v1_l5_exc fell silent"})
            elif job["noise_seed"] == 3 and len(calls) == 1:
                break  # the first session dies before its last run
            else:
                Path(job["path"]).write_bytes(b"")
                lines.append({"name": job["name"], "wall_s": 1.0, "overhead_s": 0.2, "loop_s": 0.8,
                              "binary_s": 0.9, "write_s": 0.1})
        return {"build_s": 5.0, "compile_s": 20.0}, lines, "session failed (exit code 1): killed"

    monkeypatch.setattr(sweep, "_run_session", fake_session)
    monkeypatch.setattr("analysis.hdf5_io.read_provenance", lambda path: {"wall_time_s": {"simulate": 0.9}})
    records = sweep._execute_group(tasks, str(tmp_path), retries=1)
    by_seed = {r["params"]["run.noise_seed"]: r for r in records}
    assert [by_seed[k]["status"] for k in (1, 2, 3)] == ["done", "failed", "done"]
    # retried only what did not finish: runs 2 and 3, then run 2 again is reported, not dropped
    assert calls == [[t["name"] for t in tasks], [tasks[1]["name"], tasks[2]["name"]]]
    assert by_seed[1]["attempts"] == 1 and by_seed[2]["attempts"] == 2 and by_seed[3]["attempts"] == 2
    assert by_seed[2]["error"] == "v1_l5_exc fell silent"
    assert by_seed[1]["session"]["overhead_s"] == 0.2 and by_seed[1]["session"]["compile_s"] == 20.0
    assert json.loads((tmp_path / "runs" / f"{tasks[1]['name']}.json").read_text())["status"] == "failed"


# -- end to end on cpp_standalone -----------------------------------------------------------
_FRESH = """
import json, sys, logging
logging.basicConfig(level=logging.WARNING)
from circuits.config import resolve_config
from circuits.run import run_stream
run_stream(resolve_config(json.loads(sys.argv[1])), sys.argv[2])
"""

_SESSION = """
import json, sys, logging
logging.basicConfig(level=logging.WARNING)
from circuits.config import resolve_config
from circuits.session import StreamSession
out = sys.argv[2]
with StreamSession(resolve_config(json.loads(sys.argv[1]))) as s:
    s.run(out + "/noise2.h5", noise_seed=2)
    s.run(out + "/noise1.h5", noise_seed=1)
    s.run(out + "/noise2_again.h5", noise_seed=2)
    s.run(out + "/shortcut_half.h5", shortcut_scale=0.5)
    s.run(out + "/master.h5")
    s.run(out + "/master_again.h5", noise_seed=0)  # 0 = the master seed's own background
    s.run(out + "/l5_input_x0.h5", weight_scale={"lgn_to_v1_l5_exc": 0.0})
    errors = []
    for bad in ({"lgn_to_v1_l5_ex": 1.0}, {"lgn_to_v1_l5_exc": -1.0}):
        try:
            s.run(out + "/bad.h5", weight_scale=bad)
        except Exception as exc:
            errors.append(type(exc).__name__ + ": " + str(exc))
    json.dump({"records": s.records, "projections": s.projections, "compile_s": s.compile_time, "errors": errors},
              open(out + "/session.json", "w"))
"""


def _python(code, *args, env):
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def session_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("session")
    env = {**os.environ, "VENTRAL_COLUMNS_BUILD_DIR": str(root / "build")}
    user = _user(device="cpp_standalone", threads=1)
    _python(_SESSION, json.dumps(user), root, env=env)  # one compile at a time
    for name, changes in (("fresh_noise2", {"run": {"noise_seed": 2}}),
                          ("fresh_shortcut_half", {"stream": {"shortcut_scale": 0.5}})):
        cfg = json.loads(json.dumps(user))
        for table, values in changes.items():
            cfg[table].update(values)
        _python(_FRESH, json.dumps(cfg), root / f"{name}.h5", env=env)
    return root


@pytest.mark.slow
@pytest.mark.compiled
def test_session_run_equals_a_fresh_build(session_runs):
    root = session_runs
    runs = {p.stem: read_spike_record(p) for p in root.glob("*.h5")}
    populations = runs["noise2"].populations
    cortical = [p for p in populations if p.startswith("v1_")]
    assert sum(runs["noise2"][p].n_spikes for p in cortical) > 0
    # a rerun of the compiled binary is the fresh build of its configuration, spike for spike
    assert _same_spikes(runs["noise2"], runs["fresh_noise2"], populations)
    assert _same_spikes(runs["noise2"], runs["noise2_again"], populations)
    assert not _same_spikes(runs["noise2"], runs["noise1"], cortical)
    # shortcut x 0.5 (a power of two: the scaled weights and DC are exact)
    assert _same_spikes(runs["shortcut_half"], runs["fresh_shortcut_half"], populations)
    assert read_spike_record(root / "shortcut_half.h5").config["stream"]["shortcut_scale"] == 0.5
    assert read_provenance(root / "noise2.h5")["seeds"] == read_provenance(root / "fresh_noise2.h5")["seeds"]


@pytest.mark.slow
@pytest.mark.compiled
def test_session_weight_scale_and_records(session_runs):
    root = session_runs
    doc = json.loads((root / "session.json").read_text())
    assert doc["projections"] == ["lgn_to_v1_l4_exc", "lgn_to_v1_l4_pv", "lgn_to_v1_l5_exc", "lgn_to_v1_l5_pv"]
    off = read_spike_record(root / "l5_input_x0.h5")
    master = read_spike_record(root / "master.h5")  # same noise, unscaled
    assert off.config["derived"]["weight_scale"] == {"lgn_to_v1_l5_exc": 0.0}
    # the stimulus reaches L5 E through the shortcut (and L4 -> L2/3 -> L5): without the
    # shortcut L5 E fires less, while the LGN (upstream) is unchanged
    assert 0 < off["v1_l5_exc"].n_spikes < master["v1_l5_exc"].n_spikes
    assert _same_spikes(off, master, ["lgn_on", "lgn_off"])
    # bad projections and factors: one-line ConfigErrors naming the key, nothing run or written
    assert len(doc["errors"]) == 2 and all(e.startswith("ConfigError: weight_scale") for e in doc["errors"])
    assert "did you mean 'lgn_to_v1_l5_exc'" in doc["errors"][0] and ">= 0" in doc["errors"][1]
    assert not (root / "bad.h5").exists() and len(doc["records"]) == 7
    again = read_spike_record(root / "master_again.h5")
    assert _same_spikes(master, again, master.populations)
    assert read_provenance(root / "master_again.h5")["seeds"] == derive_seeds(7)
    for record in doc["records"]:
        # overhead = wall - loop, both measured; the split adds up
        assert record["overhead_s"] == pytest.approx(record["wall_s"] - record["loop_s"], rel=1e-9)
        assert 0 < record["loop_s"] <= record["binary_s"] <= record["wall_s"]


def test_cli_separate_builds_turns_reuse_off(tmp_path, monkeypatch):
    from circuits.cli import main

    seen = {}

    def fake_run_sweep(config, out, **kwargs):
        seen.update(kwargs)
        return {"runs": [], "counts": {"done": 0, "skipped": 0, "failed": 0}, "wall_time_s": 0.0}

    monkeypatch.setattr(sweep, "run_sweep", fake_run_sweep)
    config = tmp_path / "c.toml"
    config.write_text("[run]\nscale = 0.05\n")
    assert main(["sweep", str(config), "--out", str(tmp_path / "a")]) == 0
    assert seen["reuse_build"] is True
    assert main(["sweep", str(config), "--out", str(tmp_path / "b"), "--separate-builds"]) == 0
    assert seen["reuse_build"] is False


# -- OpenMP wait policy ------------------------------------------------------------------------
def test_omp_wait_policy_sets_and_restores_the_environment(monkeypatch):
    from circuits.simulate import omp_wait_policy

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    with omp_wait_policy("active"):
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"  # what libgomp reads when the binary starts
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    with omp_wait_policy("inherit"):
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    with omp_wait_policy("passive"):
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ


def test_omp_wait_policy_refuses_unknown_values():
    from circuits.simulate import omp_wait_policy

    with pytest.raises(ConfigError, match="omp_wait_policy"):
        with omp_wait_policy("spin"):
            pass
    with pytest.raises(ConfigError, match="omp_wait_policy"):
        resolve_config(_user(omp_wait_policy="spin"))
    assert resolve_config(_user())["run"]["omp_wait_policy"] == "inherit"
