"""The ``ventral-columns`` command line: version, info, demo and its error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.hdf5_io import write_spike_record
from analysis.spiketrains import SpikeRecord, SpikeTrains

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "ventral-columns"


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _assert_user_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_version():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == "ventral-columns 0.1.0"


def test_info_table_and_json(tmp_path):
    st = SpikeTrains("v1_l4_exc", [0, 1, 1, 3], [0.1, 0.2, 0.3, 0.4], n_nodes=4, t_start=0.0, t_stop=2.0)
    path = write_spike_record(SpikeRecord(spikes={st.population: st}), tmp_path / "r.h5")
    proc = _cli("info", str(path))
    assert proc.returncode == 0
    row = next(line for line in proc.stdout.splitlines() if line.startswith("v1_l4_exc"))
    # 4 spikes / (4 neurons x 2 s) = 0.5 Hz
    assert row.split() == ["v1_l4_exc", "4", "4", "0.000", "2.000", "0.500"]
    info = json.loads(_cli("info", "--json", str(path)).stdout)
    assert info["populations"]["v1_l4_exc"]["mean_rate_hz"] == pytest.approx(0.5, rel=1e-12)


def test_info_errors_exit_2_with_one_line(tmp_path):
    _assert_user_error(_cli("info", str(tmp_path / "missing.h5")), "no such file")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all" * 100)
    _assert_user_error(_cli("info", str(bad)), "not a readable HDF5 file")


def test_unknown_command_and_experiment_exit_2():
    assert _cli("frobnicate").returncode == 2
    proc = _cli("experiment", "no-such-experiment")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = _cli("experiment", "pd14", "--scale", "-1")
    assert proc.returncode == 2 and "positive" in proc.stderr


def test_demo_refuses_to_overwrite_existing_results(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "results.json").write_text("{}")
    _assert_user_error(_cli("demo", "--out", str(out)), "--overwrite")
    assert (out / "results.json").read_text() == "{}"  # untouched


def test_config_show_and_check(tmp_path):
    shown = _cli("config", "show", "--doc")
    assert shown.returncode == 0 and 'variant = "residual"' in shown.stdout
    good = tmp_path / "good.toml"
    good.write_text(shown.stdout)
    proc = _cli("config", "check", str(good))
    assert proc.returncode == 0 and proc.stdout.strip() == f"{good}: ok"
    bad = tmp_path / "bad.toml"
    bad.write_text('[stream]\nvarient = "residual"\n')
    _assert_user_error(_cli("config", "check", str(bad)), "stream.varient: unknown key (did you mean 'variant'?)")


def test_export_nwb(tmp_path):
    st = SpikeTrains("v1_l4_exc", [0, 1], [0.1, 0.2], n_nodes=3, t_start=0.0, t_stop=1.0)
    path = write_spike_record(SpikeRecord(spikes={st.population: st}, trials={"start": [0.0], "stop": [1.0]}), tmp_path / "r.h5")
    proc = _cli("export", str(path), "--nwb", str(tmp_path / "r.nwb"))
    assert proc.returncode == 0 and proc.stdout.strip().endswith("3 units, 1 trials")
    _assert_user_error(_cli("export", str(path), "--nwb", str(tmp_path / "r.nwb")), "--overwrite")


def test_sigterm_during_a_run_keeps_a_marked_partial_file(tmp_path):
    import signal
    import time

    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        '[run]\nscale = 0.05\nprogress = false\nchunk = "0.05 s"\nsilence_guard = false\n'
        '[stream]\nstations = ["v1"]\n'
        '[stimulus]\norientations = 8\nphases = 2\nrepeats = 5\nduration = "0.2 s"\nblank = "0.1 s"\n'
    )
    out = tmp_path / "run.h5"
    import threading

    proc = subprocess.Popen([str(SCRIPT), "-v", "run", str(cfg), "--out", str(out)], stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.time() + 240
    # wait until the network is built (its log line): the cortical populations are added to
    # the file right after it; a fixed delay after the file appeared raced on a loaded machine
    while time.time() < deadline and not any("projections" in line for line in list(lines)):
        time.sleep(0.2)
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert not out.exists()  # never a half file under the final name
    partial = tmp_path / "run.partial.h5"
    info = json.loads(_cli("info", "--json", str(partial)).stdout)
    assert info["complete"] is False and info["populations"]["v1_l4_exc"]["n_nodes"] > 0


def test_experiment_set_and_analyse_only_errors_exit_2(tmp_path):
    out = str(tmp_path / "e")
    _assert_user_error(_cli("experiment", "edge-tuning", "--out", out, "--set", "run.nope=1"),
                       "--set run.nope: unknown configuration key")
    _assert_user_error(_cli("experiment", "edge-tuning", "--out", out, "--set", "run.scale=1"), "use --scale")
    _assert_user_error(_cli("experiment", "edge-tuning", "--out", out, "--set", "stimulus.repeats=2,3"),
                       "one value per key")
    _assert_user_error(_cli("experiment", "pd14", "--out", out, "--set", "stimulus.repeats=2"), "--set: pd14")
    _assert_user_error(_cli("experiment", "pd14", "--out", out, "--analyse-only"), "--analyse-only: pd14")
    _assert_user_error(_cli("experiment", "pd14", "--out", out, "--workers", "2"), "--workers: pd14")
    _assert_user_error(_cli("experiment", "edge-tuning", "--out", out, "--workers", "0"), "--workers")
    _assert_user_error(_cli("experiment", "edge-tuning", "--out", out, "--analyse-only", "--overwrite"),
                       "pass one of the two")
    assert not (tmp_path / "e").exists() or not any((tmp_path / "e").rglob("*.h5"))


def test_experiment_set_reaches_every_run(monkeypatch):
    import circuits.experiments as experiments
    from circuits.cli import main

    seen = {}

    def fake_run_experiment(name, out, **kwargs):
        seen.update(kwargs, name=name)
        return {"metrics": {}, "verdicts": {}, "variants": [], "seeds": [], "experiment": name}

    monkeypatch.setattr(experiments, "run_experiment", fake_run_experiment)
    monkeypatch.setattr(experiments, "print_table", lambda results: "")
    status = main(["experiment", "edge-tuning", "--out", "x", "--device", "runtime", "--analyse-only",
                   "--set", "run.background_sampler=per_step", "--set", "stimulus.repeats=5", "--workers", "2"])
    assert status == 0 and seen["name"] == "edge-tuning" and seen["analyse_only"] is True and seen["workers"] == 2
    # the runtime device's cython target and the --set keys, merged by table
    assert seen["overrides"] == {"run": {"codegen_target": "cython", "background_sampler": "per_step"},
                                 "stimulus": {"repeats": 5}}
