"""The ``ventral-columns`` command line.

Subcommands import what they need lazily, so ``--version``, ``info`` and ``--help`` answer
without importing Brian2. User errors (:class:`~analysis.errors.VentralColumnsError`)
print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from analysis.errors import ConfigError, VentralColumnsError
from analysis.provenance import package_version
from circuits.registry import EXPERIMENT_MODULES

__all__ = ["main", "build_parser"]

logger = logging.getLogger("ventral_columns.cli")

#: Exit status of user errors (bad input, existing outputs), as argparse uses.
EXIT_USAGE = 2
#: Exit status after Ctrl-C / SIGTERM (128 + SIGINT).
EXIT_INTERRUPTED = 130


def _cmd_info(args: argparse.Namespace) -> int:
    from analysis.hdf5_io import file_info

    info = file_info(args.file)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    state = "complete" if info["complete"] else "PARTIAL (interrupted run)"
    print(f"{info['path']}: ventral-columns file format {info['format_version']}, {state}")
    print(f"{'population':<18}{'n_nodes':>9}{'n_spikes':>12}{'t_start (s)':>13}{'t_stop (s)':>12}{'rate (Hz)':>11}")
    for name, pop in info["populations"].items():
        rate = pop["mean_rate_hz"]
        rate_txt = "-" if math.isnan(rate) else f"{rate:.3f}"
        print(
            f"{name:<18}{pop['n_nodes']:>9}{pop['n_spikes']:>12}{pop['t_start_s']:>13.3f}"
            f"{pop['t_stop_s']:>12.3f}{rate_txt:>11}"
        )
    print(f"trials: {info['n_trials']}; groups: {', '.join(info['groups'])}")
    prov = info["provenance"]
    if any(v is not None for v in prov.values()):
        print(
            f"package {prov['package_version']} (git {prov['git_revision']}), device {prov['device']}, "
            f"threads {prov['threads']}, biological time {prov['biological_time_s']} s"
        )
        if prov.get("seeds"):
            print("seeds: " + ", ".join(f"{k}={v}" for k, v in prov["seeds"].items()))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from circuits.config import default_config, format_config, load_config

    if args.action == "check":
        if args.config is None:
            raise ConfigError("config check: give a CONFIG file to check")
        load_config(args.config)
        print(f"{args.config}: ok")
        return 0
    resolved = default_config() if args.config is None else load_config(args.config)
    print(format_config(resolved, with_doc=args.doc), end="")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from circuits.config import load_config
    from circuits.run import run_stream

    cfg = load_config(args.config)
    path = run_stream(cfg, args.out, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from circuits.experiments import write_report

    path = write_report(args.dir)
    print(f"wrote {path} and {path.parent / 'figures'}/")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from analysis.hdf5_io import read_spike_record
    from analysis.interop import export_nwb

    record = read_spike_record(args.file)
    path = export_nwb(record, args.nwb, overwrite=args.overwrite)
    print(f"wrote {path}: {sum(st.n_nodes for st in record)} units, {record.n_trials} trials")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from circuits.demo import run_demo

    run_demo(args.out, overwrite=args.overwrite, seed=args.seed, device=args.device, scale=args.scale)
    return 0


#: Experiments of ``ventral-columns experiment NAME``: name -> "module:function". The
#: function takes the parsed arguments and returns an exit status; it is imported only
#: when its experiment is run.
EXPERIMENTS: dict[str, str] = {
    "pd14": "circuits.pd14:run_from_cli",
    **{name: "circuits.cli:run_stream_experiment" for name in EXPERIMENT_MODULES},
}


def run_stream_experiment(args: argparse.Namespace) -> int:
    """``experiment NAME`` for the stream experiments of :mod:`circuits.experiments`."""
    from circuits.experiments import print_table, run_experiment

    out = args.out or f"output/{args.name}"
    # The runtime device of the stream compiles with Cython (the numpy target is ~80x slower
    # than real time at scale 1); tests and short checks use the configuration's numpy default.
    overrides: dict[str, dict[str, Any]] = {"run": {"codegen_target": "cython"}} if args.device == "runtime" else {}
    for key, value in experiment_settings(args.set or []).items():
        table, name = key.split(".", 1)
        overrides.setdefault(table, {})[name] = value
    results = run_experiment(
        args.name, out, variants=args.variants, n_seeds=args.seeds or 5, scale=args.scale,
        device=args.device, threads=args.threads, overwrite=args.overwrite, overrides=overrides,
        analyse_only=args.analyse_only, conditions=args.conditions, workers=args.workers,
    )
    print(print_table(results))
    for prediction, verdict in results["verdicts"].items():
        print(f"{prediction}: supported = {verdict['supported']}")
    print(f"wrote {out}/results.json, {out}/report.md and {out}/figures/")
    return 0


#: Keys an experiment sets from its own options, not from ``--set``.
_EXPERIMENT_OWNED = {
    "run.scale": "use --scale", "run.device": "use --device", "run.threads": "use --threads",
    "stream.variant": "use --variants",
}


def experiment_settings(items: Sequence[str]) -> dict[str, Any]:
    """``--set TABLE.KEY=VALUE`` items of ``experiment`` → ``{"TABLE.KEY": value}``, one value each.

    Raises
    ------
    ConfigError
        Unknown key (with the nearest valid one), several values, or a key the experiment
        sets from its own options.

    Examples
    --------
    >>> experiment_settings(["run.background_sampler=per_step", "stimulus.repeats=5"])
    {'run.background_sampler': 'per_step', 'stimulus.repeats': 5}
    """
    from circuits.sweep import parse_assignments

    settings = {}
    for key, values in parse_assignments(items).items():
        if key in _EXPERIMENT_OWNED:
            raise ConfigError(f"--set {key}: set by the experiment's own option; {_EXPERIMENT_OWNED[key]}")
        if len(values) != 1:
            raise ConfigError(f"--set {key}: one value per key in an experiment, got {len(values)} "
                              "(grids of values are `ventral-columns sweep`)")
        settings[key] = values[0]
    return settings


def _cmd_experiment(args: argparse.Namespace) -> int:
    import importlib

    if args.device is None:
        args.device = "runtime" if args.name == "pd14" else "cpp_standalone"
    if args.set and args.name == "pd14":
        raise ConfigError("--set: pd14 takes its parameters from the PD14 preset (use `ventral-columns run` with a CONFIG)")
    if args.conditions and args.name == "pd14":
        raise ConfigError("--conditions: pd14 runs a single condition")
    if args.workers > 1 and args.name == "pd14":
        raise ConfigError("--workers: pd14 runs its seeds one after the other in one process")
    if args.analyse_only and args.name == "pd14":
        raise ConfigError("--analyse-only: pd14 has no separate analysis step (its runs are analysed as they finish)")
    module_name, func_name = EXPERIMENTS[args.name].split(":")
    return int(getattr(importlib.import_module(module_name), func_name)(args) or 0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (used by :func:`main` and the docs)."""
    parser = _Parser(
        prog="ventral-columns",
        description="Spiking laminar columns chained into a ventral stream (LGN -> V1 -> V2 -> V4 -> IT).",
    )
    parser.add_argument("--version", action="version", version=f"ventral-columns {package_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="summarise an output HDF5 file", description="Summarise an output HDF5 file.")
    info.add_argument("file", help="HDF5 file written by ventral-columns (or any SONATA spike file)")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(handler=_cmd_info)

    run = sub.add_parser(
        "run", help="run the stream from a TOML configuration", description="Run the stream from a TOML configuration."
    )
    run.add_argument("config", help="TOML configuration file (see `ventral-columns config show --doc`)")
    run.add_argument("--out", required=True, help="output HDF5 file")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    run.set_defaults(handler=_cmd_run)

    report = sub.add_parser(
        "report", help="figures and a Markdown summary from an experiment directory",
        description="Rebuild report.md and the figures of an experiment directory from its results.json.",
    )
    report.add_argument("dir", help="experiment directory (holds results.json)")
    report.set_defaults(handler=_cmd_report)

    export = sub.add_parser("export", help="export an output file to NWB", description="Export an output file to NWB.")
    export.add_argument("file", help="HDF5 file written by ventral-columns")
    export.add_argument("--nwb", required=True, help="NWB file to write")
    export.add_argument("--overwrite", action="store_true", help="replace an existing NWB file")
    export.set_defaults(handler=_cmd_export)

    config = sub.add_parser(
        "config",
        help="show the resolved configuration or check a TOML file",
        description="show: print the resolved configuration (defaults when no file is given); check: validate a file.",
    )
    config.add_argument("action", choices=["show", "check"])
    config.add_argument("config", nargs="?", default=None, help="TOML configuration file")
    config.add_argument("--doc", action="store_true", help="show: comment every key with its meaning")
    config.set_defaults(handler=_cmd_config)

    demo = sub.add_parser(
        "demo", help="run the default experiment at laptop scale", description="Run the laptop-scale demo."
    )
    demo.add_argument("--out", default="demo-output", help="output directory (default: demo-output)")
    demo.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    demo.add_argument("--seed", type=_positive_int, default=1, help="first master seed (default 1)")
    demo.add_argument("--device", choices=["runtime", "cpp_standalone"], default="cpp_standalone",
                      help="Brian2 device (default cpp_standalone)")
    demo.add_argument("--scale", type=_positive_float, default=1.0, help="network scale (default 1)")
    demo.set_defaults(handler=_cmd_demo)

    exp = sub.add_parser(
        "experiment",
        help="run a named experiment (pd14, calibrate, edge-tuning, ...)",
        description="Run a named experiment: every variant x seed, HDF5 files, results.json and figures.",
    )
    exp.add_argument("name", choices=sorted(EXPERIMENTS), help="experiment name")
    exp.add_argument("--out", default=None, help="output directory (default: output/<name>)")
    exp.add_argument("--scale", type=_positive_float, default=None, help="network scale factor")
    exp.add_argument("--seeds", type=_positive_int, default=None, help="number of seeds")
    exp.add_argument("--device", choices=["runtime", "cpp_standalone"], default=None,
                     help="Brian2 device (default: runtime for pd14, cpp_standalone for the stream experiments)")
    exp.add_argument("--threads", type=_positive_int, default=1, help="OpenMP threads (cpp_standalone)")
    exp.add_argument("--workers", type=_positive_int, default=1,
                     help="runs (and analyses) at a time, each in its own process (default 1; "
                          "2 on a 2-core machine: faster than --threads 2)")
    exp.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    exp.add_argument("--variants", nargs="+", default=None, help="topology variants to run")
    exp.add_argument("--conditions", nargs="+", default=None, metavar="CONDITION",
                     help="run only these conditions of the experiment (default all; e.g. gratings of edge-tuning)")
    exp.add_argument("--set", action="append", default=None, metavar="TABLE.KEY=VALUE",
                     help="override one configuration key in every run, e.g. run.background_sampler=per_step "
                          "(keys as in `ventral-columns config show`; repeatable)")
    exp.add_argument("--analyse-only", action="store_true",
                     help="simulate nothing: recompute results.json, report.md and figures from the finished runs "
                          "in --out (the previous results.json is kept as results.before-<time>.json)")
    exp.set_defaults(handler=_cmd_experiment)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


#: Hooks that add subcommands owned by other modules: ``register(subparsers)``.
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []
_EXTRA_COMMANDS.append(lambda sub: __import__("circuits.sweep", fromlist=["register"]).register(sub))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    # SIGTERM (a scheduler or `kill`) stops like Ctrl-C: writers abort cleanly, finished
    # outputs stay, partial ones are marked or removed.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return int(args.handler(args) or 0)
    except VentralColumnsError as exc:
        print(f"ventral-columns: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ventral-columns: interrupted; finished outputs were kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `ventral-columns info f.h5 | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
