"""Reliability battery (issue #9): every kind of bad input a user can give, each case counted.

Categories (counted by the ``battery`` fixture of ``tests/battery_counts.py`` and written to
``.pytest_cache/battery_counts.json`` at the end of the session):

``cli``
    ``ventral-columns`` invocations with bad flags, paths and values, run in-process
    through :func:`circuits.cli.main` (which returns the exit status).
``cli-process``
    A handful of the same through the installed console script, proving at process level
    that no traceback reaches the terminal.
``toml``
    Configuration files: unknown keys, wrong types, missing or wrong units, out-of-range
    values, inconsistent combinations, syntax errors; each through
    :func:`circuits.config.load_config` and ``ventral-columns config check``.
``hdf5``
    Missing, empty, truncated, foreign, wrong-magic, partial and internally inconsistent
    files, through the readers and ``ventral-columns export``.
``spikes``
    Bad spike arrays into the analysis entry points.
``overwrite``
    Every writer refuses an existing output without ``overwrite``/``--overwrite``.

The expected outcome of every case is the contract of DESIGN §4 and issue #9: exit status
2 (CLI) or the documented exception type (API), exactly one line naming the field or the
problem, no traceback, and no pre-existing file modified (checked by a byte-level snapshot
of the working directory before and after).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from analysis.binning import bin_spikes, flat_spikes, time_histogram
from analysis.errors import ConfigError, FileFormatError, OutputExistsError, SpikeDataError
from analysis.hdf5_io import SpikeFileWriter, read_config, read_spike_record, read_spikes, write_spike_record
from analysis.outputs import write_json
from analysis.receptive_fields import spike_triggered_average
from analysis.spike_stats import cross_correlation_histogram, cv, isi_statistics, lv, spike_count_correlation
from analysis.spiketrains import SpikeRecord, SpikeTrains
from circuits.cli import main
from circuits.config import load_config

# Under pytest every DeprecationWarning is shown, and Brian2 (imported by `run` and
# `experiment`) routes warnings to its own stderr handler: pyparsing's deprecation notices
# would then appear on stderr, which no user sees outside pytest.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "ventral-columns"
POP = "v1_l4_exc"

GOOD_TOML = '[run]\nscale = 0.05\nprogress = false\n[stream]\nstations = ["v1"]\n'
BAD_KEY_TOML = '[stream]\nvarient = "residual"\n'


# --------------------------------------------------------------------------------------
# the working directory every case runs in, and its byte-level snapshot
# --------------------------------------------------------------------------------------
def _record(n_nodes: int = 4) -> SpikeRecord:
    st = SpikeTrains(POP, [0, 1, 2, 3, 1], [0.1, 0.2, 0.4, 0.6, 0.9], n_nodes, 0.0, 1.0)
    return SpikeRecord(spikes={POP: st}, trials={"start": [0.0, 0.5], "stop": [0.5, 1.0]}, config={"a": 1})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Pre-existing files a failing command must leave untouched."""
    root = tmp_path_factory.mktemp("template")
    write_spike_record(_record(), root / "good.h5")
    with pytest.raises(KeyboardInterrupt):
        with SpikeFileWriter(root / "interrupted.h5", keep_partial=True) as writer:
            writer.add_population(POP, 4)
            writer.append(POP, [0, 1], [0.1, 0.2])
            raise KeyboardInterrupt
    (root / "interrupted.partial.h5").rename(root / "partial.h5")
    with h5py.File(root / "foreign.h5", "w") as f:
        f.create_dataset("data", data=np.arange(10))
    good = (root / "good.h5").read_bytes()
    (root / "truncated.h5").write_bytes(good[: len(good) // 2])
    (root / "empty.h5").write_bytes(b"")
    (root / "file.txt").write_text("a regular file\n")
    (root / "existing.nwb").write_bytes(b"an existing NWB file: must survive\n")
    (root / "good.toml").write_text(GOOD_TOML)
    (root / "bad_key.toml").write_text(BAD_KEY_TOML)
    (root / "emptydir").mkdir()
    results = root / "results"
    (results / "runs").mkdir(parents=True)
    (results / "results.json").write_text('{"experiment": "edge-tuning", "kept": true}\n')
    (results / "runs" / "residual_seed1.h5").write_bytes(good)
    (root / "badresults").mkdir()
    (root / "badresults" / "results.json").write_text("{not json")
    (root / "foreignresults").mkdir()
    (root / "foreignresults" / "results.json").write_text('{"experiment": "no-such-experiment"}')
    return root


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest() + f":{path.stat().st_mtime_ns}"
    return out


@dataclass
class Workspace:
    root: Path
    before: dict[str, str]

    def fmt(self, args: list[str]) -> list[str]:
        return [a.replace("{ws}", str(self.root)) for a in args]

    def assert_untouched(self) -> None:
        # no pre-existing file modified and nothing new (temporary or partial files) left
        assert _snapshot(self.root) == self.before


@pytest.fixture
def ws(template, tmp_path) -> Workspace:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return Workspace(root, _snapshot(root))


def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def _problem_lines(err: str, argparse_usage: bool) -> list[str]:
    lines = [line for line in err.splitlines() if line.strip()]
    if argparse_usage:
        # argparse prints its usage synopsis ("usage: ..." and indented continuation
        # lines) before the one line that names the problem
        lines = [line for line in lines if not (line.startswith("usage:") or line.startswith(" "))]
    return lines


def _assert_user_error(status: int, err: str, fragments: tuple[str, ...], argparse_usage: bool = False) -> None:
    assert status == 2, err  # EXIT_USAGE of circuits/cli.py (argparse's own status for usage errors)
    assert "Traceback" not in err
    lines = _problem_lines(err, argparse_usage)
    assert len(lines) == 1, err  # exactly one line names the problem
    for fragment in fragments:
        assert fragment in lines[0], err


def _assert_one_line(exc: BaseException, fragments: tuple[str, ...]) -> None:
    text = str(exc)
    assert text and "\n" not in text, text
    for fragment in fragments:
        assert fragment in text, text


# --------------------------------------------------------------------------------------
# cli: argparse-level errors (bad flags and values) and handler-level errors (bad paths)
# --------------------------------------------------------------------------------------
ARGPARSE_CASES = [
    ("unknown command", ["frobnicate"], ("invalid choice", "frobnicate")),
    ("run without --out", ["run", "{ws}/good.toml"], ("--out",)),
    ("run without config", ["run", "--out", "{ws}/new.h5"], ("config",)),
    ("run --overwrite with a value", ["run", "{ws}/good.toml", "--out", "{ws}/n.h5", "--overwrite=yes"], ("--overwrite",)),
    ("info without file", ["info"], ("file",)),
    ("info unknown flag", ["info", "{ws}/good.h5", "--jsn"], ("--jsn",)),
    ("export without --nwb", ["export", "{ws}/good.h5"], ("--nwb",)),
    ("config unknown action", ["config", "validate"], ("invalid choice", "validate")),
    ("config two files", ["config", "check", "{ws}/good.toml", "{ws}/bad_key.toml"], ("unrecognized arguments",)),
    ("report without dir", ["report"], ("dir",)),
    ("experiment unknown name", ["experiment", "edge-tunning"], ("invalid choice", "edge-tunning")),
    ("experiment no name", ["experiment"], ("name",)),
    ("scale negative", ["experiment", "pd14", "--scale", "-1"], ("--scale", "positive")),
    ("scale zero", ["experiment", "pd14", "--scale", "0"], ("--scale", "positive")),
    ("scale nan", ["experiment", "pd14", "--scale", "nan"], ("--scale", "finite")),
    ("scale inf", ["experiment", "pd14", "--scale", "inf"], ("--scale", "finite")),
    ("scale text", ["experiment", "pd14", "--scale", "big"], ("--scale", "'big'")),
    ("seeds zero", ["experiment", "edge-tuning", "--seeds", "0"], ("--seeds", "positive integer")),
    ("seeds fraction", ["experiment", "edge-tuning", "--seeds", "1.5"], ("--seeds", "'1.5'")),
    ("threads zero", ["experiment", "edge-tuning", "--threads", "0"], ("--threads", "positive integer")),
    ("device unknown", ["experiment", "edge-tuning", "--device", "gpu"], ("--device", "gpu")),
    ("variants empty", ["experiment", "edge-tuning", "--variants"], ("--variants",)),
    ("demo seed negative", ["demo", "--seed", "-3"], ("--seed",)),
    ("demo scale zero", ["demo", "--scale", "0"], ("--scale",)),
    ("demo device unknown", ["demo", "--device", "cuda"], ("--device", "cuda")),
    ("demo unknown flag", ["demo", "--bogus"], ("unrecognized arguments", "--bogus")),
    ("verbose with a value", ["--verbose=2", "info", "{ws}/good.h5"], ("--verbose",)),
]


@pytest.mark.parametrize("name, argv, fragments", ARGPARSE_CASES, ids=[c[0] for c in ARGPARSE_CASES])
def test_cli_bad_flags_exit_2_with_one_line(battery, capsys, ws, name, argv, fragments):
    battery("cli", f"bad flag or value: {name}")
    status, _, err = _cli(capsys, ws.fmt(argv))
    _assert_user_error(status, err, fragments, argparse_usage=True)
    ws.assert_untouched()


HANDLER_CASES = [
    ("info missing file", ["info", "{ws}/missing.h5"], ("missing.h5", "no such file")),
    ("info directory", ["info", "{ws}/results"], ("is a directory",)),
    ("info empty file", ["info", "{ws}/empty.h5"], ("empty.h5", "not a readable HDF5 file")),
    ("info text file", ["info", "{ws}/file.txt"], ("file.txt", "not a readable HDF5 file")),
    ("info truncated file", ["info", "{ws}/truncated.h5"], ("truncated.h5",)),
    ("info foreign h5", ["info", "{ws}/foreign.h5"], ("foreign.h5", "not a SONATA spike file")),
    ("config check missing", ["config", "check", "{ws}/missing.toml"], ("missing.toml", "no such configuration file")),
    ("config check without file", ["config", "check"], ("give a CONFIG file",)),
    ("config check binary file", ["config", "check", "{ws}/good.h5"], ("good.h5", "UTF-8")),
    ("config check directory", ["config", "check", "{ws}/results"], ("no such configuration file",)),
    ("config show bad key", ["config", "show", "{ws}/bad_key.toml"], ("stream.varient", "did you mean 'variant'")),
    ("run bad config", ["run", "{ws}/bad_key.toml", "--out", "{ws}/new.h5"], ("stream.varient",)),
    ("run missing config", ["run", "{ws}/missing.toml", "--out", "{ws}/new.h5"], ("no such configuration file",)),
    ("run out is a directory", ["run", "{ws}/good.toml", "--out", "{ws}/results"], ("is a directory",)),
    ("run out under a file", ["run", "{ws}/good.toml", "--out", "{ws}/file.txt/out.h5"], ("cannot create output directory",)),
    ("export missing file", ["export", "{ws}/missing.h5", "--nwb", "{ws}/new.nwb"], ("no such file",)),
    ("export partial file", ["export", "{ws}/partial.h5", "--nwb", "{ws}/new.nwb"], ("partial file", "allow_partial")),
    ("export foreign h5", ["export", "{ws}/foreign.h5", "--nwb", "{ws}/new.nwb"], ("not a SONATA spike file",)),
    ("export truncated", ["export", "{ws}/truncated.h5", "--nwb", "{ws}/new.nwb"], ("truncated.h5",)),
    ("export nwb is a directory", ["export", "{ws}/good.h5", "--nwb", "{ws}/results"], ("is a directory",)),
    ("report missing dir", ["report", "{ws}/nope"], ("no such file",)),
    ("report dir without results", ["report", "{ws}/emptydir"], ("no such file",)),
    ("report results not json", ["report", "{ws}/badresults"], ("not an experiment results file",)),
    ("report unknown experiment", ["report", "{ws}/foreignresults"], ("no-such-experiment", "unknown")),
    ("experiment bad variant", ["experiment", "edge-tuning", "--variants", "bogus", "--out", "{ws}/new"], ("stream.variant", "bogus")),
    ("pd14 bad variant", ["experiment", "pd14", "--variants", "bogus", "--out", "{ws}/newpd"], ("pd14 variants", "bogus")),
]


@pytest.mark.parametrize("name, argv, fragments", HANDLER_CASES, ids=[c[0] for c in HANDLER_CASES])
def test_cli_bad_paths_and_contents_exit_2_with_one_line(battery, capsys, ws, name, argv, fragments):
    battery("cli", f"bad path or content: {name}")
    status, _, err = _cli(capsys, ws.fmt(argv))
    _assert_user_error(status, err, fragments)
    ws.assert_untouched()


PROCESS_CASES = [
    ("info missing file", ["info", "{ws}/missing.h5"], ("no such file",), False),
    ("config check bad key", ["config", "check", "{ws}/bad_key.toml"], ("stream.varient",), False),
    ("run bad config", ["run", "{ws}/bad_key.toml", "--out", "{ws}/new.h5"], ("stream.varient",), False),
    ("export partial file", ["export", "{ws}/partial.h5", "--nwb", "{ws}/new.nwb"], ("partial file",), False),
    ("demo unknown flag", ["demo", "--bogus"], ("--bogus",), True),
]


@pytest.mark.parametrize("name, argv, fragments, usage", PROCESS_CASES, ids=[c[0] for c in PROCESS_CASES])
def test_console_script_never_prints_a_traceback(battery, ws, name, argv, fragments, usage):
    battery("cli-process", name)
    proc = subprocess.run([str(SCRIPT), *ws.fmt(argv)], capture_output=True, text=True, cwd=ws.root, timeout=300)
    _assert_user_error(proc.returncode, proc.stderr, fragments, argparse_usage=usage)
    assert proc.stderr.strip().splitlines()[-1].startswith("ventral-columns")
    ws.assert_untouched()


# --------------------------------------------------------------------------------------
# toml: configuration files through load_config and `config check`
# --------------------------------------------------------------------------------------
TOML_CASES = [
    # (problem, toml text, fragments of the one-line message)
    ("unknown key", '[stream]\nvarient = "residual"\n', ("stream.varient", "did you mean 'variant'")),
    ("unknown key", "[run]\nsead = 3\n", ("run.sead", "unknown key")),
    ("unknown key", '[stimulis]\nprotocol = "edges"\n', ("stimulis", "did you mean 'stimulus'")),
    ("unknown key", 'seed = 1\n', ("seed", "unknown table")),
    ("unknown key", '[[manipulation]]\nknd = "silence"\n', ("manipulation[0].knd", "did you mean 'kind'")),
    ("unknown key", '[recording]\ncurrents_sampel = 3\n', ("recording.currents_sampel", "currents_sample")),
    ("wrong type", '[run]\nmaster_seed = "1"\n', ("run.master_seed", "integer")),
    ("wrong type", "[run]\nthreads = 1.5\n", ("run.threads", "integer")),
    ("wrong type", '[run]\nprogress = "yes"\n', ("run.progress", "true or false")),
    ("wrong type", '[stream]\nstations = "v1"\n', ("stream.stations", "list")),
    ("wrong type", "[stimulus]\norientations = true\n", ("stimulus.orientations", "integer")),
    ("wrong type", "[stimulus]\ncontrasts = 0.5\n", ("stimulus.contrasts", "list")),
    ("wrong type", '[run]\nscale = "big"\n', ("run.scale", "number")),
    ("wrong type", "[stream]\nvariant = 3\n", ("stream.variant", "string")),
    ("wrong type", '[lgn]\npreset = ["mouse"]\n', ("lgn.preset", "string")),
    ("wrong type", "run = 5\n", ("run", "table")),
    ("wrong type", '[manipulation]\nkind = "silence"\n', ("manipulation", "array of tables")),
    ("wrong type", "[stimulus]\ncontrasts = [1.0, \"high\"]\n", ("stimulus.contrasts[1]", "number")),
    ("missing unit", "[run]\ndt = 0.1\n", ("run.dt", "unit")),
    ("missing unit", '[run]\ndt = "0.1"\n', ("run.dt", "unit")),
    ("missing unit", "[stimulus]\nduration = 0.3\n", ("stimulus.duration", "unit")),
    ("wrong unit", '[run]\ndt = "0.1 Hz"\n', ("run.dt", "'Hz' is a frequency unit")),
    ("wrong unit", '[run]\nmax_rate = "200 ms"\n', ("run.max_rate", "'ms' is a time unit")),
    ("wrong unit", '[stimulus]\nspatial_frequency = "2 Hz"\n', ("stimulus.spatial_frequency", "frequency unit")),
    ("wrong unit", '[lgn]\nfield_size = "2 mm"\n', ("lgn.field_size", "'mm'")),
    ("wrong unit", '[stimulus]\nduration = "0.3 sec"\n', ("stimulus.duration", "'sec'")),
    ("wrong unit", '[[manipulation]]\nkind = "tonic_drive"\ncurrent = "5 mV"\n', ("manipulation[0].current", "voltage unit")),
    ("wrong unit", '[run]\ndt = "ms 0.1"\n', ("run.dt", "cannot read")),
    ("wrong unit", '[stimulus]\npositions = ["0.1 deg", "0.2 s"]\n', ("stimulus.positions[1]", "time unit")),
    ("out of range", "[run]\nscale = 0\n", ("run.scale", "outside the allowed range (0, 10]")),
    ("out of range", "[run]\nscale = -1.0\n", ("run.scale", "outside")),
    ("out of range", "[run]\nscale = 11.0\n", ("run.scale", "outside")),
    ("out of range", "[run]\nthreads = 0\n", ("run.threads", "outside")),
    ("out of range", "[run]\nthreads = 1000\n", ("run.threads", "outside")),
    ("out of range", "[run]\nmaster_seed = -1\n", ("run.master_seed", "outside")),
    ("out of range", '[run]\ndt = "10 ms"\n', ("run.dt", "outside")),
    ("out of range", '[run]\ndt = "nan ms"\n', ("run.dt", "")),
    ("out of range", '[run]\nmax_rate = "0 Hz"\n', ("run.max_rate", "outside")),
    ("out of range", "[stimulus]\ncontrasts = [1.5]\n", ("stimulus.contrasts[0]", "outside")),
    ("out of range", "[stimulus]\ndensity = 0.0\n", ("stimulus.density", "outside")),
    ("out of range", "[stimulus]\norientations = 0\n", ("stimulus.orientations", "outside")),
    ("out of range", '[stimulus]\nduration = "-1 s"\n', ("stimulus.duration", "outside")),
    ("out of range", "[stimulus]\nrms_contrast = 2.0\n", ("stimulus.rms_contrast", "outside")),
    ("out of range", "[stimulus]\npolarities = [2]\n", ("stimulus.polarities[0]", "outside")),
    ("out of range", "[stream]\nshortcut_scale = inf\n", ("stream.shortcut_scale", "finite")),
    ("out of range", "[stream]\nbackground_scale = nan\n", ("stream.background_scale", "finite")),
    ("out of range", '[[manipulation]]\nkind = "gain_noise"\nvalue = -1.0\n', ("manipulation[0].value", "outside")),
    ("out of range", '[run]\ncodegen_target = "cuda"\n', ("run.codegen_target", "'cuda'", "numpy")),
    ("out of range", '[stream]\nvariant = "hierarchical_rate_matched"\n', ("stream.variant", "choose from")),
    ("inconsistent", '[stimulus]\nframe_duration = "10.05 ms"\n', ("stimulus.frame_duration", "multiple of run.dt")),
    ("inconsistent", '[run]\ndt = "0.3 ms"\n[stimulus]\nframe_duration = "1 ms"\n', ("stimulus.frame_duration", "run.dt")),
    ("inconsistent", '[stream]\nstations = ["v1", "v2"]\n[[manipulation]]\nstations = ["v4"]\n',
     ("manipulation[0].stations", "'v4'", "not in stream.stations")),
    ("inconsistent", '[stream]\nstations = ["v2", "v1"]\n', ("stream.stations", "stream order")),
    ("inconsistent", '[stream]\nstations = ["v1", "v1"]\n', ("stream.stations", "unique")),
    ("inconsistent", "[stream]\nstations = []\n", ("stream.stations", "at least one")),
    ("inconsistent", "[run]\nthreads = 2\n", ("run.threads", "cpp_standalone")),
    ("inconsistent", '[[manipulation]]\nstart = "1 s"\nstop = "0.5 s"\n', ("manipulation[0]", "stop", "after start")),
    ("syntax", "[run\nscale = 1\n", ("not valid TOML", "line 1")),
    ("syntax", "[run]\nscale = 1\nscale = 2\n", ("not valid TOML",)),
    ("syntax", "[run]\nscale = \n", ("not valid TOML",)),
    ("syntax", b"\xff\xfe[run]\n", ("not a UTF-8 text file",)),
]


@pytest.mark.parametrize("problem, text, fragments", TOML_CASES, ids=[f"{c[0]}-{k}" for k, c in enumerate(TOML_CASES)])
def test_bad_toml_raises_config_error_and_exits_2(battery, capsys, ws, problem, text, fragments):
    battery("toml", problem)
    path = ws.root / "case.toml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    ws.before = _snapshot(ws.root)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    _assert_one_line(info.value, fragments)
    status, _, err = _cli(capsys, ["config", "check", str(path)])
    _assert_user_error(status, err, fragments)
    ws.assert_untouched()


# --------------------------------------------------------------------------------------
# hdf5: bad files through the readers and `ventral-columns export`
# --------------------------------------------------------------------------------------
def _mutate(path: Path, edit: Callable[[Any], None]) -> None:
    with h5py.File(path, "r+") as f:
        edit(f)


def _replace(group: Any, name: str, data: Any, attrs: dict[str, Any] | None = None) -> None:
    old_attrs = dict(group[name].attrs)
    del group[name]
    group.create_dataset(name, data=data)
    for key, value in {**old_attrs, **(attrs or {})}.items():
        group[name].attrs[key] = value


def _truncate(fraction: float) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return make


HDF5_CASES: list[tuple[str, Callable[[Path], None] | None, tuple[str, ...]]] = [
    # (problem, how to spoil a copy of a good file (None: remove it), message fragments)
    ("missing", None, ("no such file",)),
    ("empty", lambda p: p.write_bytes(b""), ("not a readable HDF5 file",)),
    ("text", lambda p: p.write_text("time,id\n0.1,3\n"), ("not a readable HDF5 file",)),
    ("random bytes", lambda p: p.write_bytes(np.random.default_rng(9).bytes(4096)), ("not a readable HDF5 file",)),
    ("truncated 1%", _truncate(0.01), ("case.h5",)),
    ("truncated 30%", _truncate(0.3), ("case.h5",)),
    ("truncated 60%", _truncate(0.6), ("case.h5",)),
    ("truncated 90%", _truncate(0.9), ("case.h5",)),
    ("foreign h5", lambda p: h5py.File(p, "w").close(), ("not a SONATA spike file", "magic is None")),
    ("wrong magic", lambda p: _mutate(p, lambda f: f.attrs.__setitem__("magic", np.uint32(0x1234))), ("magic is 0x1234",)),
    ("magic of the wrong type", lambda p: _mutate(p, lambda f: f.attrs.__setitem__("magic", "0x0A7A")), ("case.h5",)),
    ("no spikes group", lambda p: _mutate(p, lambda f: f.__delitem__("spikes")), ("missing the /spikes group",)),
    ("partial", lambda p: _mutate(p, lambda f: f.attrs.__setitem__("complete", False)), ("partial file",)),
    ("no timestamps", lambda p: _mutate(p, lambda f: f[f"spikes/{POP}"].__delitem__("timestamps")), ("no timestamps dataset",)),
    ("unknown time units", lambda p: _mutate(p, lambda f: f[f"spikes/{POP}/timestamps"].attrs.__setitem__("units", "furlong")),
     ("units 'furlong'",)),
    ("NaN timestamp", lambda p: _mutate(p, lambda f: _replace(f[f"spikes/{POP}"], "timestamps", [100.0, np.nan, 400, 600, 900])),
     ("inconsistent", "NaN")),
    ("timestamp outside the window", lambda p: _mutate(
        p, lambda f: _replace(f[f"spikes/{POP}"], "timestamps", [100.0, 200, 400, 600, 5000])), ("inconsistent", "t_start, t_stop")),
    ("node id out of range", lambda p: _mutate(
        p, lambda f: _replace(f[f"spikes/{POP}"], "node_ids", np.array([0, 1, 2, 9, 1], np.uint64))), ("inconsistent", "n_nodes")),
    ("lengths differ", lambda p: _mutate(
        p, lambda f: _replace(f[f"spikes/{POP}"], "node_ids", np.array([0, 1], np.uint64))), ("inconsistent", "differ in length")),
    ("timestamps 2-D", lambda p: _mutate(
        p, lambda f: _replace(f[f"spikes/{POP}"], "timestamps", [[100.0, 200, 400, 600, 900]])), ("case.h5",)),
    ("timestamps as text", lambda p: _mutate(
        p, lambda f: _replace(f[f"spikes/{POP}"], "timestamps", np.array([b"a", b"b", b"c", b"d", b"e"]))), ("case.h5",)),
    ("config not JSON", lambda p: _mutate(p, lambda f: _replace(f, "config", "{broken")), ("/config is not valid JSON",)),
    ("trials without stop", lambda p: _mutate(p, lambda f: f["trials"].__delitem__("stop")), ("case.h5",)),
]


@pytest.mark.parametrize("problem, spoil, fragments", HDF5_CASES, ids=[c[0] for c in HDF5_CASES])
def test_bad_hdf5_files_raise_file_format_error_and_exit_2(battery, capsys, ws, problem, spoil, fragments):
    battery("hdf5", problem)
    path = ws.root / "case.h5"
    if spoil is not None:
        shutil.copy(ws.root / "good.h5", path)
        spoil(path)
    ws.before = _snapshot(ws.root)
    with pytest.raises(FileFormatError) as info:
        read_spike_record(path)
    _assert_one_line(info.value, fragments)
    status, _, err = _cli(capsys, ["export", str(path), "--nwb", str(ws.root / "out.nwb")])
    _assert_user_error(status, err, fragments)
    ws.assert_untouched()


def test_a_file_that_lies_about_its_sorting_is_not_read_by_window(battery, ws):
    """``sorting = by_time`` with unsorted timestamps: a windowed read must not trust the binary search."""
    battery("hdf5", "unsorted timestamps claiming by_time")
    path = ws.root / "case.h5"
    shutil.copy(ws.root / "good.h5", path)
    _mutate(path, lambda f: _replace(f[f"spikes/{POP}"], "timestamps", [900.0, 100, 200, 400, 600]))
    # Read whole, the spikes are re-sorted on construction: the 5 spikes of the file.
    assert read_spikes(path, POP).n_spikes == 5
    with pytest.raises(FileFormatError) as info:
        read_spikes(path, POP, 0.0, 0.5)
    _assert_one_line(info.value, ("claims sorting = by_time",))


def test_a_second_interruption_keeps_the_first_partial_file(battery, ws):
    battery("overwrite", "partial file of an earlier interruption")
    final = ws.root / "interrupted.h5"
    (ws.root / "partial.h5").rename(ws.root / "interrupted.partial.h5")
    ws.before = _snapshot(ws.root)
    with pytest.raises(KeyboardInterrupt):
        with SpikeFileWriter(final, keep_partial=True) as writer:
            writer.add_population(POP, 4)
            writer.append(POP, [3], [0.5])
            raise KeyboardInterrupt
    kept = ws.root / "interrupted.partial-2.h5"
    # the new partial file holds its one spike; the earlier one still holds its two
    assert read_spikes(kept, POP, allow_partial=True).n_spikes == 1
    assert read_spikes(ws.root / "interrupted.partial.h5", POP, allow_partial=True).n_spikes == 2
    kept.unlink()
    ws.assert_untouched()


def test_partial_files_are_readable_only_when_asked(battery, capsys, ws):
    battery("hdf5", "partial file read on purpose")
    record = read_spike_record(ws.root / "partial.h5", allow_partial=True)
    assert record[POP].n_spikes == 2  # the two spikes appended before the interruption
    status, out, _ = _cli(capsys, ["info", str(ws.root / "partial.h5")])
    assert status == 0 and "PARTIAL" in out.splitlines()[0]
    assert read_config(ws.root / "partial.h5") == {}  # no config written before the interruption
    ws.assert_untouched()


# --------------------------------------------------------------------------------------
# spikes: bad spike arrays into the analysis entry points
# --------------------------------------------------------------------------------------
_TRIALS = {"start": [0.0], "stop": [1.0]}
_FRAMES = [(0, np.zeros((10, 4, 4)))]

ENTRY_POINTS: dict[str, Callable[[Any], Any]] = {
    "flat_spikes": flat_spikes,
    "bin_spikes": lambda sp: bin_spikes(sp, _TRIALS, 0.1),
    "time_histogram": lambda sp: time_histogram(sp, 0.1, 0.0, 1.0),
    "isi_statistics": isi_statistics,
    "cv": cv,
    "lv": lv,
    "cross_correlation_histogram": lambda sp: cross_correlation_histogram(sp, [(0, 1)], 0.01, 5, _TRIALS),
    "spike_count_correlation": lambda sp: spike_count_correlation(sp, 0.1, _TRIALS),
    "spike_triggered_average": lambda sp: spike_triggered_average(sp, _FRAMES, 0.1, lags=range(2)),
}

BAD_SPIKES: dict[str, tuple[Any, tuple[str, ...]]] = {
    # problem: (spikes as (node_ids, times, n_nodes), fragments of the message)
    "unsorted times": (([0, 1, 0], [0.5, 0.2, 0.3], 3), ("times must be sorted",)),
    "NaN time": (([0, 1], [0.1, np.nan], 3), ("NaN",)),
    "infinite time": (([0, 1], [0.1, np.inf], 3), ("infinite",)),
    "negative time": (([0, 1], [-0.1, 0.2], 3), ("times must be >= 0",)),
    "id out of range": (([0, 5], [0.1, 0.2], 3), ("node_ids must be < n_nodes = 3",)),
    "negative id": (([0, -1], [0.1, 0.2], 3), ("node_ids must be >= 0",)),
    "fractional id": (([0, 1.5], [0.1, 0.2], 3), ("whole numbers",)),
    "lengths differ": (([0, 1, 2], [0.1, 0.2], 3), ("differ in length",)),
    "times 2-D": (([0, 1], [[0.1, 0.2]], 3), ("times must be 1-D",)),
    "ids 2-D": (([[0, 1]], [0.1, 0.2], 3), ("node_ids must be 1-D",)),
    "times as text": (([0, 1], ["a", "b"], 3), ("times must be real numbers",)),
    "complex times": (([0, 1], [0.1 + 1j, 0.2], 3), ("times must be real numbers",)),
    "times with None": (([0, 1], [0.1, None], 3), ("times must be real numbers",)),
    "negative n_nodes": (([0], [0.1], -1), ("n_nodes",)),
    "fractional n_nodes": (([0], [0.1], 2.5), ("n_nodes",)),
    "n_nodes as text": (([0], [0.1], "x"), ("n_nodes",)),
    "list instead of tuple": ([[0], [0.1], 3], ("tuple (node_ids, times, n_nodes)",)),
    "two-tuple": (([0], [0.1]), ("tuple (node_ids, times, n_nodes)",)),
    "None": (None, ("tuple (node_ids, times, n_nodes)",)),
}


@pytest.mark.parametrize("problem", list(BAD_SPIKES))
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_bad_spike_arrays_raise_spike_data_error(battery, entry, problem):
    battery("spikes", problem)
    spikes, fragments = BAD_SPIKES[problem]
    with pytest.raises(SpikeDataError) as info:
        ENTRY_POINTS[entry](spikes)
    _assert_one_line(info.value, fragments)


SPIKETRAINS_CASES = ["NaN time", "infinite time", "id out of range", "negative id", "fractional id", "lengths differ",
                     "times 2-D", "ids 2-D", "times with None", "negative n_nodes", "fractional n_nodes", "n_nodes as text"]


@pytest.mark.parametrize("problem", SPIKETRAINS_CASES)
def test_bad_arrays_into_the_data_model_and_the_writer(battery, tmp_path, problem):
    """``SpikeTrains`` (and the writer, which validates every chunk with it) reject the same inputs."""
    battery("spikes", problem)
    (ids, times, n_nodes), _ = BAD_SPIKES[problem]
    with pytest.raises(SpikeDataError) as info:
        SpikeTrains(POP, ids, times, n_nodes, 0.0, 1.0)
    _assert_one_line(info.value, (POP,))
    if isinstance(n_nodes, int) and n_nodes >= 0:
        out = tmp_path / "w.h5"
        with pytest.raises(SpikeDataError):
            with SpikeFileWriter(out) as writer:
                writer.add_population(POP, n_nodes)
                writer.append(POP, ids, times)
        assert sorted(os.listdir(tmp_path)) == []  # nothing left: no final, partial or temporary file


def test_negative_times_are_outside_the_recording_window(battery):
    battery("spikes", "negative time")
    with pytest.raises(SpikeDataError) as info:
        SpikeTrains(POP, [0, 1], [-0.1, 0.2], 3, 0.0, 1.0)
    _assert_one_line(info.value, ("must lie in [t_start, t_stop] = [0.0, 1.0] s",))


def test_empty_spike_arrays_are_a_valid_silent_population(battery):
    """An empty population is valid input (silent neurons counted through n_nodes, DESIGN §4)."""
    battery("spikes", "empty population")
    times, ids, n_nodes = flat_spikes(([], [], 3))
    assert times.size == 0 and ids.size == 0 and n_nodes == 3
    st = SpikeTrains(POP, [], [], 3, 0.0, 2.0)
    # 0 spikes / (3 neurons x 2 s): every rate is exactly 0 Hz
    assert st.rates().tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------------------
# overwrite: no writer replaces an existing output without being asked
# --------------------------------------------------------------------------------------
OVERWRITE_CLI_CASES = [
    ("run", ["run", "{ws}/good.toml", "--out", "{ws}/good.h5"]),
    ("export --nwb", ["export", "{ws}/good.h5", "--nwb", "{ws}/existing.nwb"]),
    ("experiment", ["experiment", "edge-tuning", "--out", "{ws}/results"]),
    ("experiment with variants", ["experiment", "edge-tuning", "--variants", "residual", "--out", "{ws}/results"]),
    ("demo", ["demo", "--out", "{ws}/results"]),
]


@pytest.mark.parametrize("name, argv", OVERWRITE_CLI_CASES, ids=[c[0] for c in OVERWRITE_CLI_CASES])
def test_cli_writers_refuse_existing_outputs(battery, capsys, ws, name, argv):
    battery("overwrite", f"cli {name}")
    status, _, err = _cli(capsys, ws.fmt(argv))
    _assert_user_error(status, err, ("exists", "--overwrite"))
    ws.assert_untouched()


def _write_figure(path: Path, overwrite: bool) -> Any:
    import matplotlib.pyplot as plt

    from analysis.plotting import save_figure

    fig = plt.figure()
    try:
        return save_figure(fig, path.with_suffix(""), overwrite=overwrite)
    finally:
        plt.close(fig)


API_WRITERS: dict[str, tuple[str, Callable[[Path, bool], Any]]] = {
    "write_spike_record": ("good.h5", lambda p, o: write_spike_record(_record(), p, overwrite=o)),
    "SpikeFileWriter": ("good.h5", lambda p, o: SpikeFileWriter(p, overwrite=o).close()),
    "write_json": ("results/results.json", lambda p, o: write_json(p, {"new": True}, overwrite=o)),
    "save_figure": ("existing.png", _write_figure),
}


@pytest.mark.parametrize("writer", list(API_WRITERS))
def test_api_writers_refuse_then_replace_when_asked(battery, ws, writer):
    battery("overwrite", f"api {writer}")
    name, write = API_WRITERS[writer]
    target = ws.root / name
    if not target.exists():
        target.write_bytes(b"existing\n")
        ws.before = _snapshot(ws.root)
    with pytest.raises(OutputExistsError) as info:
        write(target, False)
    _assert_one_line(info.value, (str(target), "overwrite"))
    ws.assert_untouched()
    before = target.read_bytes()
    write(target, True)
    assert target.read_bytes() != before  # replaced, as asked
    assert not [p for p in ws.root.rglob(".*tmp*")]  # and no temporary file left behind


def test_export_overwrite_replaces_the_nwb_file(battery, capsys, ws):
    battery("overwrite", "cli export --overwrite")
    target = ws.root / "existing.nwb"
    status, out, err = _cli(capsys, ["export", str(ws.root / "good.h5"), "--nwb", str(target), "--overwrite"])
    assert status == 0, err
    # 4 units (n_nodes of the record) and 2 trials, as written by _record()
    assert out.strip().endswith("4 units, 2 trials")
    assert target.read_bytes().startswith(b"\x89HDF")  # an NWB (HDF5) file replaced the old bytes


def test_report_rewrites_only_derived_files(battery, capsys, tmp_path):
    """``report DIR`` regenerates report.md and figures/ (derived) and never touches results.json or runs/."""
    battery("overwrite", "cli report (derived files only)")
    out = tmp_path / "exp"
    (out / "runs").mkdir(parents=True)
    cell = {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6, "per_seed": [0.5]}
    results = {"experiment": "edge-tuning", "question": "q", "seeds": [1], "variants": ["residual"], "verdicts": {},
               "metrics": {"residual": {"v1": {"l4": {"osi": cell, "decoding_accuracy": cell}}}}}
    (out / "results.json").write_text(json.dumps(results))
    (out / "runs" / "residual_seed1.h5").write_bytes(b"run data\n")
    (out / "report.md").write_text("old report\n")
    kept = {p: p.read_bytes() for p in (out / "results.json", out / "runs" / "residual_seed1.h5")}
    status, _, err = _cli(capsys, ["report", str(out)])
    assert status == 0, err
    assert all(p.read_bytes() == data for p, data in kept.items())
    assert (out / "report.md").read_text() != "old report\n"
    assert (out / "figures" / "osi.png").stat().st_size > 0

