"""Benchmark: Brian2's per-code-object profile of our cpp_standalone runs on 1 and 2 OpenMP threads.

Issue #8 asks, where a speed target is missed, for the profile that shows why. Our
``cpp_standalone`` runs are slower on 2 OpenMP threads than on 1 (``pd14_ab``, ``stream``);
this benchmark runs the same network on 1 and 2 threads with Brian2's profiler
(``net.run(..., profile=True)``: the generated code times every call of every code object)
and sums the times per category of code object, so that the report shows which parts get
slower with a second thread and by how much.

Two models, each configuration (model x threads) in its own subprocess with
``bench_pd14.OMP_ENV`` (threads spin at barriers, as in the other benchmarks):

* ``pd14``: PD14 at scale 0.1 with its Poisson background drawn by event gaps, built as
  :func:`circuits.pd14.run_pd14` builds it (merged layout, no manipulation hooks, one
  ``SpikeMonitor`` per population), 1 s of biological time from the start (no
  presimulation; quick: 0.5 s);
* ``stream``: the default stream at scale 1 with a short static-grating protocol (4
  orientations of 0.35 s + 0.15 s blank = 2 s; quick: 2 orientations, 1 s), built by
  :func:`circuits.run.build_stream` as the ``stream`` benchmark runs it.

Categories (:func:`categorise`, from the code object's name and Brian2 template): the
Poisson background (our event-gap or per-step background and the inputs replacing left-out
populations, ``*_background``/``*_replacement``, and Brian2's ``poissoninput``), neuron state
update, threshold, reset, spike queue push, synaptic delivery (``*_pre``/``*_post``), spike
monitors, state (charge) monitors, the LGN spike generator and other.

What the profile measures: Brian2 reads a wall clock (``omp_get_wtime``; OpenMP is compiled
in for 1 thread as well) before and after each call, so the per-object times include the
fork/join of that object's parallel regions, and the loop time outside all code objects is
the scheduler's and the clocks' (``loop - profiled sum``). The two timer reads per call make
a profiled loop somewhat slower than the unprofiled one of ``pd14_ab``/``stream``; the
comparison here is between thread counts under the same instrumentation. One run per
configuration; the load average before and after each run is recorded.

Profiled builds go to ``<build root>/profile/`` (the build root of
:func:`circuits.simulate.default_build_root`), one directory per model and thread count, so
that they neither overwrite each other nor make the unprofiled benchmark builds recompile.

Duration (estimated from the compile and run times of ``pd14``/``stream``): PD14 about 1 min
per thread count, mostly compiling; the stream at scale 1 about 5 min per thread count in a
cold build directory, about 1-2 min warm; ``--quick`` saves only simulation seconds.

Output: ``bench/results/profile.json``. ``python bench/bench_profile.py --help`` for options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import bench_pd14  # noqa: E402

logger = logging.getLogger("bench.profile")

MODELS = ("pd14", "stream")
THREADS = (1, 2)
PD14_SCALE = 0.1
#: Biological time of the PD14 run, s (full, quick).
PD14_T_S = {False: 1.0, True: 0.5}
PD14_SEED = 1
STREAM_SCALE = 1.0
#: Static gratings as in /work/runs/profile_stream.py: 4 orientations x (0.35 s + 0.15 s blank) = 2 s.
STREAM_PROTOCOL = {"protocol": "orientation_tuning", "orientations": 4, "phases": 1, "repeats": 1,
                   "temporal_frequency": "0 Hz", "duration": "0.35 s", "blank": "0.15 s"}
#: Quick: 2 orientations, 1 s (same network structure, so the same build directory).
STREAM_PROTOCOL_QUICK = {**STREAM_PROTOCOL, "orientations": 2}
#: Report order of the categories.
CATEGORIES = ("Poisson background", "neuron state update", "threshold", "reset", "spike queue push",
              "synaptic delivery", "spike monitors", "state monitors", "LGN spike generator", "other")


def categorise(name: str, template: str | None = None) -> str:
    """The category of a code object from its name and (when known) its Brian2 template.

    The names are those Brian2 gives our objects (``<group>_stateupdater_codeobject``,
    ``<group>_spike_thresholder_codeobject``, ``<synapses>_pre_push_spikes``, ``<synapses>_pre_codeobject``,
    ``<population>_background_codeobject`` ...); the template separates what the names do not
    (a ``run_regularly`` operation and a state updater share the ``stateupdate`` template; the
    LGN ``SpikeGeneratorGroup`` is ``lgn_codeobject``).

    Examples
    --------
    >>> categorise("pd14_l23_exc_background_codeobject", "stateupdate")
    'Poisson background'
    >>> categorise("pd14_cells0_to_pd14_cells0_exc_pre_push_spikes")
    'spike queue push'
    >>> categorise("pd14_l4_pv_spikes_codeobject", "spikemonitor")
    'spike monitors'
    >>> categorise("lgn_codeobject", "spikegenerator")
    'LGN spike generator'
    """
    template = template or ""
    if name.startswith(("before_run_", "after_run_")):
        return "other"  # once per run, not per step
    if template == "synapses_push_spikes" or name.endswith("_push_spikes"):
        return "spike queue push"
    if template == "threshold" or "_spike_thresholder" in name:
        return "threshold"
    if template == "reset" or "_spike_resetter" in name:
        return "reset"
    # before the state updater: our background is a run_regularly with the stateupdate template
    if "poisson" in name or "_background_" in name or name.endswith("_background") or "_replacement" in name:
        return "Poisson background"
    if "_stateupdater" in name:
        return "neuron state update"
    if template in ("synapses", "synapses_post") or "_pre_codeobject" in name or "_post_codeobject" in name:
        return "synaptic delivery"
    if template == "spikemonitor" or "spikemonitor" in name or name.endswith("_spikes_codeobject"):
        return "spike monitors"
    if template == "statemonitor" or "statemonitor" in name or name.endswith("_charges_codeobject"):
        return "state monitors"
    if template == "spikegenerator" or "spikegenerator" in name:
        return "LGN spike generator"
    if template == "stateupdate":
        return "neuron state update"
    return "other"


def by_category(code_objects: list[list]) -> dict[str, dict[str, float]]:
    """Seconds and number of code objects per category from ``[[name, seconds, template], ...]``."""
    out: dict[str, dict[str, float]] = {}
    for name, seconds, template in code_objects:
        entry = out.setdefault(categorise(name, template), {"seconds": 0.0, "n_code_objects": 0})
        entry["seconds"] += float(seconds)
        entry["n_code_objects"] += 1
    return out


def compare(one: dict, two: dict) -> dict:
    """Category rows of a 1-thread and a 2-thread run (worker documents), plus loop and profiled totals."""
    cat1, cat2 = by_category(one["code_objects"]), by_category(two["code_objects"])
    rows = []
    for category in CATEGORIES:
        if category not in cat1 and category not in cat2:
            continue
        s1 = cat1.get(category, {}).get("seconds", 0.0)
        s2 = cat2.get(category, {}).get("seconds", 0.0)
        rows.append({"category": category,
                     # the same network on both thread counts: the same code objects
                     "n_code_objects": max(cat1.get(category, {}).get("n_code_objects", 0),
                                           cat2.get(category, {}).get("n_code_objects", 0)),
                     "s_1t": s1, "s_2t": s2, "ratio_2t_over_1t": s2 / s1 if s1 > 0 else None, "delta_s": s2 - s1})
    return {"categories": rows,
            "loop_s": {"1": one["loop_s"], "2": two["loop_s"]},
            "profiled_sum_s": {"1": sum(t for _, t, _ in one["code_objects"]),
                               "2": sum(t for _, t, _ in two["code_objects"])},
            "binary_wall_s": {"1": one["binary_wall_s"], "2": two["binary_wall_s"]}}


# ---------------------------------------------------------------- worker (one model, one thread count)


def _profile_root() -> Path:
    from circuits.simulate import default_build_root

    return default_build_root() / "profile"


def _run_profiled(net, build_dir: Path, duration_s: float) -> dict:
    """Run ``net`` with Brian2's profiler through :func:`circuits.simulate.run_network`; timings and the profile."""
    from brian2 import second

    from circuits.simulate import run_network

    timings = run_network(net, duration_s * second, directory=build_dir, profile=True)
    objects = timings.extra["profile"]
    return {"codegen_s": timings.extra["codegen_s"], "compile_s": timings.compile, "binary_wall_s": timings.simulate,
            "loop_s": timings.extra["standalone_run_s"], "n_code_objects": len(objects),
            "code_objects": sorted(objects, key=lambda o: -o[1])}


def _profile_pd14(threads: int, quick: bool) -> dict:
    """PD14 scale 0.1 as :func:`circuits.pd14.run_pd14` builds it, run with the profiler."""
    from brian2 import Network, SpikeMonitor

    from circuits.simulate import (
        configure_device,
        derive_seeds,
        reset_device,
        seed_brian,
    )
    from columns.pd14 import build_pd14, pd14_params

    duration = PD14_T_S[quick]
    build_dir = _profile_root() / f"pd14_scale{PD14_SCALE:g}_{threads}t"
    # the layout of run_pd14's defaults (bench_pd14.LAYOUTS["default"]): merged groups, no hooks, event gaps
    layout = bench_pd14.LAYOUTS["default"]
    params = pd14_params(PD14_SCALE, background="poisson", sampler=layout["sampler"])
    seeds = derive_seeds(PD14_SEED, ("connectivity", "initial_state", "background"))
    try:
        configure_device("cpp_standalone", threads=threads, directory=build_dir)
        t0 = time.perf_counter()
        column = build_pd14(params, connectivity_seed=seeds["connectivity"], initial_state_seed=seeds["initial_state"],
                            merge=layout["merge"], hooks=layout["hooks"])
        monitors = [SpikeMonitor(g, name=f"{g.name}_spikes") for g in column.populations.values()]
        net = Network(*column.brian_objects(), *monitors, name="pd14_network")
        seed_brian(seeds["background"])
        build_s = time.perf_counter() - t0
        doc = _run_profiled(net, build_dir, duration)
        # a sanity figure: the 1- and 2-thread runs of one seed should fire alike
        doc["n_spikes"] = int(sum(int(m.num_spikes) for m in monitors))
        doc["n_neurons"] = int(sum(len(g) for g in column.populations.values()))
    finally:
        reset_device()
    return {"model": "pd14", "scale": PD14_SCALE, "threads": threads, "biological_time_s": duration,
            "build_s": build_s, "build_dir": str(build_dir), **doc}


def _profile_stream(threads: int, quick: bool) -> dict:
    """The default stream at scale 1 with a short grating protocol, run with the profiler."""
    from circuits.config import resolve_config
    from circuits.run import build_stream, prepare_run
    from circuits.simulate import reset_device

    # build_stream picks its directory under default_build_root(), which reads this variable
    os.environ["VENTRAL_COLUMNS_BUILD_DIR"] = str(_profile_root())
    protocol = STREAM_PROTOCOL_QUICK if quick else STREAM_PROTOCOL
    cfg = resolve_config({"run": {"scale": STREAM_SCALE, "device": "cpp_standalone", "threads": threads,
                                  "progress": False}, "stimulus": protocol})
    prepared = prepare_run(cfg)
    try:
        with contextlib.ExitStack() as stack:
            built = build_stream(cfg, prepared, stack)
            doc = _run_profiled(built.stream.network, built.build_dir, float(prepared.protocol.duration))
            build_dir = str(built.build_dir)
            build_s = built.build_time
    finally:
        reset_device()
    return {"model": "stream", "scale": STREAM_SCALE, "threads": threads, "protocol": protocol,
            "biological_time_s": float(prepared.protocol.duration), "build_s": build_s, "build_dir": build_dir, **doc}


def _worker(model: str, threads: int, quick: bool, out_json: Path) -> None:
    doc = (_profile_pd14 if model == "pd14" else _profile_stream)(threads, quick)
    out_json.write_text(json.dumps(doc, indent=2))


# ---------------------------------------------------------------- parent


def measure(model: str, threads: int, quick: bool, tmp: Path) -> dict:
    """One profiled run in a fresh subprocess (clean Brian2 state); the worker's JSON plus load and wall time."""
    out_json = tmp / f"profile_{model}_{threads}t.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--model", model, "--threads", str(threads),
           "--json", str(out_json)] + (["--quick"] if quick else [])
    proc, wall, load_before = bench_pd14.run_timed(cmd)
    if proc.returncode != 0:
        logger.error("profile %s x%d failed: %s", model, threads, proc.stderr[-2000:])
        return {"model": model, "threads": threads, "error": proc.stderr[-2000:]}
    doc = json.loads(out_json.read_text())
    out_json.unlink()
    doc.update(process_wall_s=wall, loadavg_before=load_before, loadavg_after=list(os.getloadavg()),
               env=dict(bench_pd14.OMP_ENV))
    logger.info("profile %s x%d: loop %.2f s, %d code objects, profiled sum %.2f s", model, threads, doc["loop_s"],
                doc["n_code_objects"], sum(t for _, t, _ in doc["code_objects"]))
    return doc


def _model_what(model: str, quick: bool) -> str:
    if model == "pd14":
        return f"PD14 scale {PD14_SCALE:g}, Poisson background (event gaps), {PD14_T_S[quick]:g} s"
    protocol = STREAM_PROTOCOL_QUICK if quick else STREAM_PROTOCOL
    return (f"default stream scale {STREAM_SCALE:g}, {protocol['orientations']} static gratings of "
            f"{protocol['duration']} + {protocol['blank']} blank")


def run(out_dir: Path, quick: bool = False, models: tuple[str, ...] = MODELS) -> dict:
    """Profile every model on 1 and 2 threads and write ``out_dir/profile.json``.

    Parameters
    ----------
    out_dir : Path
        Directory of the result file.
    quick : bool
        Shorter biological times (PD14 0.5 s, the stream 1 s); same networks.
    models : tuple of str
        A subset of :data:`MODELS`.

    Returns
    -------
    dict
        The document written.
    """
    from analysis.outputs import write_json
    from analysis.provenance import collect_provenance

    tmp = Path(out_dir) / ".profile_tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    load_start = list(os.getloadavg())
    results = {}
    for model in models:
        runs = {str(t): measure(model, t, quick, tmp) for t in THREADS}
        entry = {"what": _model_what(model, quick), "runs": runs}
        errors = [r["error"] for r in runs.values() if "error" in r]
        if errors:
            entry["error"] = errors[0]
        else:
            entry["biological_time_s"] = runs["1"]["biological_time_s"]
            entry.update(compare(runs["1"], runs["2"]))
        results[model] = entry
    with contextlib.suppress(OSError):
        tmp.rmdir()
    doc = {
        "benchmark": "profile",
        "what": ("Brian2's profile (profile=True) of our cpp_standalone runs on 1 and 2 OpenMP threads, one run "
                 "each, seconds summed per category of code object over the whole run"),
        "quick": quick, "threads": list(THREADS), "omp_wait_policy": bench_pd14.OMP_ENV["OMP_WAIT_POLICY"],
        "note": ("Per-object times are wall-clock (omp_get_wtime) around each call, so they include the fork/join "
                 "of the object's parallel regions; 'outside the code objects' is the loop's remaining time "
                 "(clocks, scheduling). The timer reads make the profiled loop slower than an unprofiled one; "
                 "compare the thread counts with each other, not with pd14_ab or stream."),
        "models": results,
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()),
        "cpu_count": os.cpu_count(),
        "provenance": collect_provenance(seeds={"pd14_master": PD14_SEED}),
    }
    write_json(Path(out_dir) / "profile.json", doc, overwrite=True)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--quick", action="store_true", help="PD14 0.5 s and the stream 1 s (default: 1 s and 2 s)")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="pd14", choices=MODELS, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--json", default="", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.worker:
        _worker(a.model, a.threads, a.quick, Path(a.json))
        return 0
    models = tuple(m for m in a.models.split(",") if m)
    unknown = set(models) - set(MODELS)
    if unknown:
        ap.error(f"unknown model(s) {sorted(unknown)}; choose from {','.join(MODELS)}")
    run(Path(a.out), a.quick, models=models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
