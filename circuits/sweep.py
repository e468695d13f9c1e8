"""``ventral-columns sweep``: seeds × parameter values as independent runs scheduled by Dask.

A sweep runs :func:`circuits.run.run_stream` once for every combination of a master seed and
the values given with ``--set KEY=V1,V2,...`` (the cartesian product), each run in its own
Python process (as :mod:`circuits.experiments` does), scheduled by Dask.

Layout of a sweep directory::

    OUT/runs/<name>.h5      one HDF5 file per run, e.g. seed2_stream.shortcut_scale=0.5.h5
    OUT/runs/<name>.json    the run's record (params, seed, wall time, status), written when it ends
    OUT/sweep.json          the sweep (configuration, grid, seeds) and every run's record

Resume: a rerun of the same sweep skips every run whose HDF5 file is complete (status
``"skipped"``, with the wall time of the run that wrote it). A failed run is retried
(``retries`` times) and then reported with its error as ``"failed"``; it never disappears from
``sweep.json``.

Scheduling: every task only starts a child process and waits for it, so the isolation comes
from the child, and Dask's threaded scheduler with ``workers`` threads is the simplest scheduler
that runs ``workers`` isolated runs at a time (no cluster to start, nothing to pickle). With
``scheduler=ADDRESS`` the tasks go to a running ``dask.distributed`` scheduler instead (for
example one started by ``dask-jobqueue`` on SLURM; see ``docs/sweep.md``): the output directory
must then be on a file system the workers share.

``cpp_standalone`` runs of one network structure reuse a build directory (``circuits/run.py``,
one slot per concurrent run), so after the first build of each slot a run recompiles only
what changed.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import os
import re
import threading
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError, OutputExistsError, VentralColumnsError, suggest
from analysis.outputs import remove_stale_temporaries

__all__ = ["parse_assignments", "expand_sweep", "run_sweep", "format_summary", "register"]

logger = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
#: Keys a sweep sets itself.
_RESERVED = {"run.master_seed": "the seeds come from --seeds (first seed: run.master_seed of the configuration)"}


def _dotted_keys() -> list[str]:
    from circuits.config import SCHEMA

    return [f"{table}.{key}" for table, keys in SCHEMA.items() for key in keys]


def _parse_values(text: str) -> list[Any]:
    """The comma-separated values of one ``--set``: TOML values, bare words as strings.

    Examples
    --------
    >>> _parse_values("0.5,1")
    [0.5, 1]
    >>> _parse_values("hierarchical,residual")
    ['hierarchical', 'residual']
    >>> _parse_values('["v1"],["v1","v2"]')
    [['v1'], ['v1', 'v2']]
    >>> _parse_values("10 Hz, 20 Hz")
    ['10 Hz', '20 Hz']
    """
    try:
        return list(tomllib.loads(f"v = [{text}]")["v"])
    except tomllib.TOMLDecodeError:
        pass
    values: list[Any] = []
    for item in text.split(","):
        item = item.strip()
        try:
            values.append(tomllib.loads(f"v = {item}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(item)
    return values


def parse_assignments(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["stream.shortcut_scale=0.5,1", ...]`` → ``{"stream.shortcut_scale": [0.5, 1]}``.

    A key given twice collects the values of both.

    Parameters
    ----------
    items : sequence of str
        ``KEY=V1,V2,...`` with ``KEY`` a ``TABLE.KEY`` of the configuration schema and the
        values as TOML values (bare words are strings).

    Returns
    -------
    dict
        Dotted key → list of values, in the order given.

    Raises
    ------
    ConfigError
        An item without ``=``, an unknown key (with the nearest valid key), a reserved key,
        or no value.
    """
    valid = _dotted_keys()
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item}: expected KEY=VALUE[,VALUE...], e.g. stream.shortcut_scale=0.5,1")
        if key in _RESERVED:
            raise ConfigError(f"--set {key}: not a sweep parameter; {_RESERVED[key]}")
        if key not in valid:
            raise ConfigError(f"--set {key}: unknown configuration key{suggest(key, valid)} "
                              "(keys are TABLE.KEY, see `ventral-columns config show`)")
        values = _parse_values(text) if text.strip() else []
        if not values:
            raise ConfigError(f"--set {key}: no value given")
        grid.setdefault(key, []).extend(values)
    return grid


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ""))
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-") or "x"


def expand_sweep(cfg: dict[str, Any], grid: dict[str, list[Any]], n_seeds: int) -> list[dict[str, Any]]:
    """Every (seed, values) combination as a task: name, seed, params and resolved configuration.

    Seeds are ``cfg["run"]["master_seed"]`` and the ``n_seeds - 1`` following integers. Every
    configuration is validated here, before anything runs.

    Parameters
    ----------
    cfg : dict
        Resolved base configuration (:func:`circuits.config.load_config`).
    grid : dict
        Dotted key → values (:func:`parse_assignments`).
    n_seeds : int
        Number of master seeds.

    Returns
    -------
    list of dict
        Per run, seed-major: ``name`` (file stem), ``seed``, ``params`` (dotted key → value)
        and ``config`` (resolved).

    Raises
    ------
    ConfigError
        A value the configuration does not accept (message naming the key), ``n_seeds`` < 1.
    """
    from itertools import product

    from circuits.config import resolve_config

    if int(n_seeds) != n_seeds or n_seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {n_seeds}")
    first = int(cfg["run"]["master_seed"])
    keys = list(grid)
    tasks = []
    for seed in range(first, first + int(n_seeds)):
        for values in product(*(grid[k] for k in keys)):
            params = dict(zip(keys, values))
            user = {k: copy.deepcopy(v) for k, v in cfg.items() if k != "derived"}
            user["run"]["master_seed"] = seed
            for key, value in params.items():
                table, name = key.split(".")
                user[table][name] = value
            try:
                resolved = resolve_config(user)
            except ConfigError as exc:
                raise ConfigError(f"--set {', '.join(f'{k}={v!r}' for k, v in params.items())}: {exc}") from None
            name = "_".join([f"seed{seed}", *(f"{k}={_slug(v)}" for k, v in params.items())])
            tasks.append({"name": name, "seed": seed, "params": params, "config": resolved})
    names = [t["name"] for t in tasks]
    if len(set(names)) < len(names) or max(len(n) for n in names) > 150:
        # lossy slugs (or very long values): names from a digest of the parameters instead
        for t in tasks:
            digest = hashlib.sha1(json.dumps(t["params"], sort_keys=True).encode()).hexdigest()[:10]
            t["name"] = f"seed{t['seed']}_{digest}"
    return tasks


def _execute(task: dict[str, Any], out: str, retries: int) -> dict[str, Any]:
    """Run one task (with retries) in a child process; write and return its record."""
    from analysis.hdf5_io import read_provenance
    from analysis.outputs import write_json
    from circuits.experiments import _run_one

    runs = Path(out) / "runs"
    path = runs / f"{task['name']}.h5"
    record = {"name": task["name"], "seed": task["seed"], "params": task["params"],
              "path": str(path.relative_to(out)), "status": "failed", "attempts": 0, "error": None}
    t0 = time.perf_counter()
    record["attempt_wall_times_s"] = []
    for attempt in range(1, retries + 2):
        record["attempts"] = attempt
        t_attempt = time.perf_counter()
        try:
            _run_one(task["config"], path)
        except VentralColumnsError as exc:
            record["error"] = str(exc)
            record["attempt_wall_times_s"].append(time.perf_counter() - t_attempt)
            logger.warning("%s: attempt %d failed: %s", task["name"], attempt, exc)
            remove_stale_temporaries(path)  # a child killed by a signal leaves its temporary file
            continue
        record["attempt_wall_times_s"].append(time.perf_counter() - t_attempt)
        record.update(status="done", error=None)
        break
    record["wall_time_s"] = time.perf_counter() - t0
    if record["status"] == "done":
        record["run_wall_time_s"] = read_provenance(path).get("wall_time_s")
    write_json(runs / f"{task['name']}.json", record, overwrite=True)
    return record


#: Keys a ``cpp_standalone`` sweep varies by rerunning one compiled binary (:mod:`circuits.session`).
SESSION_KEYS = ("run.noise_seed", "stream.shortcut_scale")

_SESSION_WORKER = (
    "import json, sys, logging, signal\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    "def _stop(signum, frame):\n    raise KeyboardInterrupt\n"
    "signal.signal(signal.SIGTERM, _stop)\n"
    "from analysis.errors import VentralColumnsError\n"
    "from circuits.session import StreamSession\n"
    "cfg, jobs = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
    "with StreamSession(cfg) as session:\n"
    "    print(json.dumps({'build_s': session.build_time, 'compile_s': session.compile_time}), flush=True)\n"
    "    for job in jobs:\n"
    "        try:\n"
    "            session.run(job['path'], noise_seed=job['noise_seed'] or None, overwrite=True,\n"
    "                        shortcut_scale=job['shortcut_scale'])\n"
    "        except VentralColumnsError as exc:\n"
    "            print(json.dumps({'name': job['name'], 'error': str(exc)}), flush=True)\n"
    "            continue\n"
    "        r = session.records[-1]\n"
    "        print(json.dumps({'name': job['name'], **{k: r[k] for k in ('wall_s', 'overhead_s', 'loop_s', 'binary_s',\n"
    "                          'write_s')}}), flush=True)\n"
)


def _session_key(task: dict[str, Any]) -> str | None:
    """Runs with equal keys differ only in :data:`SESSION_KEYS`: one compiled binary serves them all."""
    cfg = task["config"]
    if cfg["run"]["device"] != "cpp_standalone":
        return None
    rest = copy.deepcopy(cfg)
    for dotted in SESSION_KEYS:
        table, key = dotted.split(".")
        rest[table].pop(key, None)
    return json.dumps(rest, sort_keys=True, default=str)


def _session_groups(tasks: list[dict[str, Any]], reuse: bool) -> list[list[dict[str, Any]]]:
    """Tasks grouped by :func:`_session_key` (in first-seen order); every other task alone."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        key = _session_key(task) if reuse else None
        groups.setdefault(key if key is not None else f"single:{task['name']}", []).append(task)
    return list(groups.values())


def _run_session(cfg: dict[str, Any], jobs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """Run ``jobs`` in one child process on one compiled binary: (build info, per-run lines, error)."""
    from circuits.experiments import _run_child

    returncode, stdout, stderr = _run_child(_SESSION_WORKER, json.dumps(cfg), json.dumps(jobs))
    lines = []
    for line in stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # Brian2's own output
    info = lines.pop(0) if lines and "build_s" in lines[0] else {}
    error = None
    if returncode != 0:
        last = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        error = f"session failed (exit code {returncode}): {last[-1] if last else 'no error message'}"
    return info, lines, error


def _execute_group(tasks: list[dict[str, Any]], out: str, retries: int) -> list[dict[str, Any]]:
    """Run a group of tasks on one compiled binary (retrying what did not finish); their records."""
    from analysis.hdf5_io import read_provenance
    from analysis.outputs import write_json

    if len(tasks) == 1:
        return [_execute(tasks[0], out, retries)]
    runs = Path(out) / "runs"
    # built with the largest shortcut of the group: a session scales weights down, never up from 0
    base = copy.deepcopy(max(tasks, key=lambda t: t["config"]["stream"]["shortcut_scale"])["config"])
    base["run"]["noise_seed"] = 0
    records = {t["name"]: {"name": t["name"], "seed": t["seed"], "params": t["params"],
                           "path": str((runs / f"{t['name']}.h5").relative_to(out)), "status": "failed",
                           "attempts": 0, "error": None, "attempt_wall_times_s": []} for t in tasks}
    pending = list(tasks)
    sessions = []
    for attempt in range(1, retries + 2):
        if not pending:
            break
        jobs = [{"name": t["name"], "path": str(runs / f"{t['name']}.h5"),
                 "noise_seed": t["config"]["run"]["noise_seed"],
                 "shortcut_scale": t["config"]["stream"]["shortcut_scale"]} for t in pending]
        t0 = time.perf_counter()
        info, lines, error = _run_session(base, jobs)
        sessions.append({**info, "attempt": attempt, "n_runs": len(jobs), "wall_s": time.perf_counter() - t0})
        finished = {line["name"]: line for line in lines}
        for t in pending:
            record = records[t["name"]]
            record["attempts"] = attempt
            line = finished.get(t["name"])
            if line is None or "error" in line:
                record["error"] = line["error"] if line else (error or "the session stopped before this run")
                logger.warning("%s: attempt %d failed: %s", t["name"], attempt, record["error"])
                remove_stale_temporaries(runs / f"{t['name']}.h5")
                continue
            record.update(status="done", error=None, wall_time_s=line["wall_s"],
                          session={"group_size": len(tasks), **{k: line[k] for k in ("overhead_s", "loop_s", "binary_s", "write_s")},
                                   "build_s": info.get("build_s"), "compile_s": info.get("compile_s")})
            record["attempt_wall_times_s"].append(line["wall_s"])
        pending = [t for t in pending if records[t["name"]]["status"] != "done"]
    out_records = []
    for t in tasks:
        record = records[t["name"]]
        record.setdefault("wall_time_s", None)
        record["sessions"] = sessions
        if record["status"] == "done":
            record["run_wall_time_s"] = read_provenance(runs / f"{t['name']}.h5").get("wall_time_s")
        write_json(runs / f"{t['name']}.json", record, overwrite=True)
        out_records.append(record)
    return out_records


def _finished(task: dict[str, Any], out: Path) -> dict[str, Any] | None:
    """The record of a run finished earlier (complete HDF5 file), status ``"skipped"``."""
    from circuits.experiments import _is_complete

    path = out / "runs" / f"{task['name']}.h5"
    if not _is_complete(path):
        return None
    sidecar = path.with_suffix(".json")
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        record = {"name": task["name"], "seed": task["seed"], "params": task["params"],
                  "path": str(path.relative_to(out)), "attempts": None, "error": None, "wall_time_s": None}
    record["status"] = "skipped"
    return record


def _compute(groups: list[list[dict[str, Any]]], out: Path, workers: int, scheduler: str | None, retries: int,
             progress: bool) -> list[dict[str, Any]]:
    """Run every group of tasks on Dask (one Dask task per group); all their records."""
    import dask
    from tqdm import tqdm

    delayed = [dask.delayed(_execute_group, pure=False)(group, str(out), retries) for group in groups]
    sizes = {d.key: len(group) for d, group in zip(delayed, groups)}
    bar = tqdm(total=sum(sizes.values()), desc="sweep", unit="run", disable=not progress)
    lock = threading.Lock()
    try:
        if scheduler:
            from distributed import Client, as_completed

            with Client(scheduler) as client:
                futures = client.compute(delayed)
                for future in as_completed(futures):
                    bar.update(sizes.get(future.key, 1))
                results = client.gather(futures)
        else:
            from dask.callbacks import Callback

            def posttask(key, result, dsk, state, worker_id):
                if key in sizes:
                    with lock:
                        bar.update(sizes[key])

            with Callback(posttask=posttask):
                results = dask.compute(*delayed, scheduler="threads", num_workers=workers)
        return [record for group in results for record in group]
    finally:
        bar.close()


def run_sweep(
    config: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    n_seeds: int = 1,
    grid: dict[str, list[Any]] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    overwrite: bool = False,
    retries: int = 1,
    progress: bool = True,
    reuse_build: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a sweep and write ``OUT/sweep.json``.

    Parameters
    ----------
    config : path
        TOML configuration of every run (``ventral-columns config show --doc``).
    out : path
        Sweep directory.
    n_seeds : int
        Master seeds ``run.master_seed`` … ``run.master_seed + n_seeds - 1``.
    grid : dict, optional
        Dotted configuration key → values (:func:`parse_assignments`); runs cover seeds × the
        cartesian product of the values.
    workers : int
        Runs at a time on this machine (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``).
    overwrite : bool
        Rerun finished runs, and replace a ``sweep.json`` of another sweep.
    retries : int
        Further attempts of a failed run.
    progress : bool
        Show a progress bar over runs.
    reuse_build : bool
        ``cpp_standalone`` runs that differ only in :data:`SESSION_KEYS` (noise seed,
        shortcut scale) share one compiled binary in one process
        (:class:`circuits.session.StreamSession`): built and compiled once, then rerun.
        ``False``: one process and build per run.

    Returns
    -------
    dict
        The ``sweep.json`` document: ``sweep`` (configuration, grid, seeds, workers), ``runs``
        (per run: ``name``, ``seed``, ``params``, ``path``, ``status`` in ``done``/``skipped``/
        ``failed``, ``wall_time_s``, ``attempts``, ``attempt_wall_times_s``, ``error``,
        ``run_wall_time_s`` = the run's own build/compile/simulate/write times), ``counts`` and
        ``wall_time_s``.

    Raises
    ------
    ConfigError
        Bad configuration, key or value, before any run starts.
    OutputExistsError
        ``OUT/sweep.json`` belongs to a different sweep and ``overwrite`` is not set.
    """
    from analysis.outputs import write_json
    from analysis.provenance import collect_provenance
    from circuits.config import load_config

    if int(workers) != workers or workers < 1:
        raise ConfigError(f"--workers must be a positive integer, got {workers}")
    if int(retries) != retries or retries < 0:
        raise ConfigError(f"retries must be a non-negative integer, got {retries}")
    t0 = time.perf_counter()
    cfg = load_config(config)
    grid = dict(grid or {})
    tasks = expand_sweep(cfg, grid, n_seeds)
    out = Path(out)
    spec = {"config": str(Path(config).resolve()), "base_config": {k: v for k, v in cfg.items() if k != "derived"},
            "grid": grid, "seeds": sorted({t["seed"] for t in tasks})}
    sweep_path = out / SWEEP_FILE
    if sweep_path.exists() and not overwrite:
        try:
            previous = json.loads(sweep_path.read_text()).get("sweep", {})
        except (OSError, json.JSONDecodeError):
            previous = {}
        if {k: previous.get(k) for k in ("base_config", "grid", "seeds")} != json.loads(
                json.dumps({k: spec[k] for k in ("base_config", "grid", "seeds")})):
            raise OutputExistsError(f"{sweep_path} belongs to a different sweep; pass --overwrite or another --out")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for task in tasks:
        done = None if overwrite else _finished(task, out)
        if done is None:
            todo.append(task)
        else:
            records[task["name"]] = done
    if records:
        logger.info("resuming: %d of %d runs already finished", len(records), len(tasks))
    groups = _session_groups(todo, reuse_build)
    for record in _compute(groups, out, int(workers), scheduler, int(retries), progress):
        records[record["name"]] = record
    runs = [records[t["name"]] for t in tasks]
    counts = {s: sum(r["status"] == s for r in runs) for s in ("done", "skipped", "failed")}
    doc = {"sweep": {**spec, "n_runs": len(tasks), "workers": int(workers), "scheduler": scheduler or "threads",
                     "retries": int(retries), "reuse_build": bool(reuse_build),
                     "sessions": sum(len(g) > 1 for g in groups)},
           "runs": runs, "counts": counts, "wall_time_s": time.perf_counter() - t0,
           "provenance": collect_provenance(seeds={"master": spec["seeds"]})}
    write_json(sweep_path, doc, overwrite=True)
    return doc


def format_summary(doc: dict[str, Any]) -> str:
    """The table of all runs of a ``sweep.json`` document, one line per run."""
    width = max([len(r["name"]) for r in doc["runs"]] + [3])
    lines = [f"{'run':<{width}}  {'status':<8}{'wall (s)':>10}{'attempts':>10}  error"]
    for r in doc["runs"]:
        wall = "-" if r.get("wall_time_s") is None else f"{r['wall_time_s']:.1f}"
        attempts = "-" if r.get("attempts") is None else str(r["attempts"])
        lines.append(f"{r['name']:<{width}}  {r['status']:<8}{wall:>10}{attempts:>10}  {r.get('error') or ''}".rstrip())
    c = doc["counts"]
    lines.append(f"{len(doc['runs'])} runs: {c['done']} done, {c['skipped']} skipped (finished earlier), "
                 f"{c['failed']} failed; {doc['wall_time_s']:.1f} s")
    return "\n".join(lines)


def _cmd_sweep(args: argparse.Namespace) -> int:
    grid = parse_assignments(args.set or [])
    doc = run_sweep(args.config, args.out, n_seeds=args.seeds, grid=grid, workers=args.workers,
                    scheduler=args.scheduler, overwrite=args.overwrite, retries=args.retries,
                    reuse_build=not args.separate_builds)
    print(format_summary(doc))
    print(f"wrote {Path(args.out) / SWEEP_FILE}")
    return 1 if doc["counts"]["failed"] else 0


def register(subparsers: Any) -> None:
    """Add the ``sweep`` subcommand (hook of :data:`circuits.cli._EXTRA_COMMANDS`)."""
    from circuits.cli import _positive_int

    p = subparsers.add_parser(
        "sweep", help="run seeds x parameter values as independent runs on Dask",
        description="Run the cartesian product of seeds and --set values, one HDF5 file per run, "
                    "on Dask (local threads driving one process per run, or a dask.distributed scheduler); "
                    "a rerun resumes (finished runs are skipped). Exit status 1 when a run failed.",
    )
    p.add_argument("config", help="TOML configuration of every run")
    p.add_argument("--out", required=True, help="sweep directory (runs/*.h5, sweep.json)")
    p.add_argument("--seeds", type=_positive_int, default=1, help="number of master seeds (default 1)")
    p.add_argument("--set", "--grid", action="append", metavar="KEY=V1[,V2...]", dest="set",
                   help="configuration key and its values, e.g. stream.shortcut_scale=0.5,1 (repeatable)")
    p.add_argument("--workers", type=_positive_int, default=1, help="runs at a time on this machine (default 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running dask.distributed scheduler (default: local)")
    p.add_argument("--retries", type=int, default=1, help="further attempts of a failed run (default 1)")
    p.add_argument("--separate-builds", action="store_true",
                   help="one process and build per run, even for cpp_standalone runs that differ only in "
                        "run.noise_seed or stream.shortcut_scale (by default these rerun one compiled binary)")
    p.add_argument("--overwrite", action="store_true", help="rerun finished runs; replace another sweep's sweep.json")
    p.set_defaults(handler=_cmd_sweep)
