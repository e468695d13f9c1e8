"""Benchmark: PD14 at scale 0.1 and 0.25 on the cython runtime and cpp_standalone (1, 2 threads).

Each configuration runs in its own subprocess (clean peak RSS, clean Brian2 state) via
``python bench/bench_pd14.py --worker ...``; the parent collects build time, compile time,
simulation wall time per biological second, synaptic events per second and peak RSS, and
the machine load (``os.getloadavg``) before and after, since other jobs may share the cores.

Output: ``bench/results/pd14.json`` (via :func:`analysis.outputs.write_json`).

Peak RSS: ``self`` is the Python process (build, connectivity, monitors); ``children`` is the
largest child (the C++ compiler or, for cpp_standalone, the simulation binary).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from columns.cell_models import HOOKS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subset import keep_unmeasured  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
logger = logging.getLogger("bench_pd14")

#: Network layouts, each a step of the engine's optimisation (same network, same spikes up to
#: the order of additions), kept to show the before/after in one run:
#: ``"default"``: populations share one NeuronGroup, pathways one Synapses per variable, no
#: manipulation hooks (PD14 has no manipulation), Poisson background drawn by event gaps
#: (the last two since 2026-11-23, session 4); ``"per_step"``: the same with a binomial draw
#: per neuron and step (Brian2's ``PoissonInput``; same statistics, other draws);
#: ``"all_hooks"``: per-step draws and every hook (tonic drive, silencing window, gain: the
#: layout before session 4); ``"unmerged"``: one object per population and pathway, every
#: hook, per-step draws (the layout before the merge of 2026-11-23).
LAYOUTS = {"default": {"merge": True, "hooks": (), "sampler": "event_gaps"},
           "per_step": {"merge": True, "hooks": (), "sampler": "per_step"},
           "all_hooks": {"merge": True, "hooks": HOOKS, "sampler": "per_step"},
           "unmerged": {"merge": False, "hooks": HOOKS, "sampler": "per_step"}}

#: (label, device, threads, layout).
CONFIGS = (
    ("cython", "runtime", 1, "default"),
    ("cpp_standalone_1t", "cpp_standalone", 1, "default"),
    ("cpp_standalone_2t", "cpp_standalone", 2, "default"),
    ("cpp_standalone_1t_per_step", "cpp_standalone", 1, "per_step"),
    ("cpp_standalone_1t_all_hooks", "cpp_standalone", 1, "all_hooks"),
    ("cpp_standalone_1t_unmerged", "cpp_standalone", 1, "unmerged"),
)
#: PD14 with its DC background instead of the Poisson inputs (issue #8: RTF <= 0.5 on 2 threads).
DC_CONFIGS = (
    ("cpp_standalone_1t_dc", "cpp_standalone", 1, "default"),
    ("cpp_standalone_2t_dc", "cpp_standalone", 2, "default"),
)
DC_SCALE = 0.1
#: Biological time of each benchmark run, s: 0.5 s transient + 1 s.
T_PRESIM_S, T_SIM_S = 0.5, 1.0


def _worker(scale: float, device: str, threads: int, seed: int, out_json: Path, layout: str = "default",
            background: str = "poisson") -> None:
    from circuits.pd14 import run_pd14

    summary = run_pd14(scale, [seed], device=device, target="cython", threads=threads, t_presim=T_PRESIM_S,
                       t_sim=T_SIM_S, background=background, **LAYOUTS[layout])
    run = summary["runs"][0]
    walls = run["wall_time_s"]
    bio = run["biological_time_s"]
    # Standalone: Brian's own measure of the simulation loop; starting the binary and loading
    # the connectivity is reported apart (NEST's connection phase is likewise outside its
    # simulation time).
    loop = walls.get("standalone_run_s")
    sim = loop if loop else walls["simulate"]
    doc = {
        "scale": scale,
        "device": summary["device"],
        "threads": threads,
        "n_neurons": run["n_neurons"],
        "n_synapses": run["n_synapses"],
        "biological_time_s": bio,
        "build_s": walls["build"],
        "compile_s": walls["compile"],
        "merged": LAYOUTS[layout]["merge"],
        "layout": layout,
        "background": background,
        "simulate_s": sim,
        "standalone_loop_s": loop,
        "binary_wall_s": walls["simulate"] if loop else None,
        "simulate_s_per_bio_s": sim / bio,
        "real_time_factor": sim / bio,
        "synaptic_events": run["synaptic_events"],
        "synaptic_events_per_s": run["synaptic_events"] / sim,
        "n_spikes": run["n_spikes_total"],
        "rates_hz": {p: v["rate_hz"] for p, v in run["populations"].items()},
        "peak_rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "peak_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
    }
    out_json.write_text(json.dumps(doc, indent=2))


#: OpenMP threads spin at the barriers (every engine, NEST too): the benchmarks run on a quiet
#: machine, where sleeping threads cost a futex wake-up per barrier — measured 2026-11-23 on 2
#: quiet cores, cpp_standalone 2 threads: PD14 0.1 0.75 s per bio-s ACTIVE, 0.97 default,
#: 2.16 PASSIVE; default stream scale 1 3.9 / 3.9 / 19.7 s. (PASSIVE was used while other jobs
#: shared the cores, where a spinning thread waits for a descheduled partner.)
OMP_ENV = {"OMP_WAIT_POLICY": "ACTIVE"}


def run_timed(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float, list[float]]:
    """Run one benchmark worker subprocess with :data:`OMP_ENV`.

    Returns
    -------
    proc, wall, load_before
        The finished process (output captured), its wall time (s) and the load average
        before it started.
    """
    load_before = list(os.getloadavg())
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600, env={**os.environ, **OMP_ENV})
    return proc, time.perf_counter() - t0, load_before


def _measure(scale: float, device: str, threads: int, tmp: Path, layout: str = "default", background: str = "poisson") -> dict:
    out_json = tmp / f"pd14_{scale}_{device}_{threads}_{layout}_{background}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--scale", str(scale), "--device", device,
           "--threads", str(threads), "--json", str(out_json), "--background", background, "--layout", layout]
    proc, wall, load_before = run_timed(cmd)
    if proc.returncode != 0:
        logger.error("pd14 %s %s x%d failed: %s", scale, device, threads, proc.stderr[-2000:])
        return {"scale": scale, "device": device, "threads": threads, "error": proc.stderr[-2000:]}
    doc = json.loads(out_json.read_text())
    doc["process_wall_s"] = wall
    doc["loadavg_before"] = list(load_before)
    doc["loadavg_after"] = list(os.getloadavg())
    doc["env"] = dict(OMP_ENV)
    logger.info("pd14 scale %s %s x%d: simulate %.2f s/bio-s, compile %.1f s", scale, device, threads,
                doc["simulate_s_per_bio_s"], doc["compile_s"])
    return doc


def run(out_dir: Path, quick: bool = False, configs: tuple = CONFIGS, scales: tuple | None = None,
        dc_configs: tuple | None = None) -> dict:
    """Measure the configurations and write ``out_dir/pd14.json``.

    ``dc_configs`` (default :data:`DC_CONFIGS`, none when quick) run at :data:`DC_SCALE` with
    PD14's DC background.

    With a subset of ``configs``/``scales``, entries of an existing ``pd14.json`` for other
    (config, scale) pairs are kept.
    """
    from analysis.outputs import write_json
    from analysis.provenance import collect_provenance

    scales = scales or ((0.05,) if quick else (0.1, 0.25))
    dc_configs = (() if quick else DC_CONFIGS) if dc_configs is None else dc_configs
    tmp = Path(out_dir) / ".pd14_tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    results = []
    for scale in scales:
        for label, device, threads, layout in configs:
            doc = _measure(scale, device, threads, tmp, layout)
            doc["config"] = label
            results.append(doc)
    for label, device, threads, layout in dc_configs:
        doc = _measure(DC_SCALE, device, threads, tmp, layout, background="dc")
        doc["config"] = label
        results.append(doc)
    for f in tmp.glob("*.json"):
        f.unlink()
    tmp.rmdir()
    previous = Path(out_dir) / "pd14.json"
    if previous.exists() and (configs != CONFIGS or scales not in ((0.1, 0.25), (0.05,)) or dc_configs != DC_CONFIGS):
        results = keep_unmeasured(json.loads(previous.read_text()).get("results", []), results)
    report = {
        "benchmark": "pd14",
        "note": ("PD14 (Poisson background; *_dc: DC background), 1 seed, 0.5 s transient + 1 s; one subprocess per configuration; "
                 "compile_s of the cython target is on whatever cache state the run found; the machine's 2 cores "
                 "were shared with other jobs, see loadavg_before/after."),
        "cpu_count": os.cpu_count(),
        "provenance": collect_provenance(),
        "results": results,
    }
    write_json(Path(out_dir) / "pd14.json", report, overwrite=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--device", default="runtime")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--layout", default="default", choices=tuple(LAYOUTS), help="worker: network layout (before/after)")
    parser.add_argument("--background", default="poisson", choices=("poisson", "dc"), help="worker: PD14 background")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--configs", default="", help="comma-separated subset of "
                        + ",".join(c[0] for c in CONFIGS + DC_CONFIGS))
    parser.add_argument("--scales", default="", help="comma-separated scales (default 0.1,0.25)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.worker:
        _worker(args.scale, args.device, args.threads, args.seed, Path(args.json), layout=args.layout,
                background=args.background)
        return 0
    wanted = args.configs.split(",") if args.configs else None
    configs = tuple(c for c in CONFIGS if not wanted or c[0] in wanted)
    dc_configs = tuple(c for c in DC_CONFIGS if c[0] in wanted) if wanted else None
    scales = tuple(float(x) for x in args.scales.split(",")) if args.scales else None
    run(Path(args.out), quick=args.quick, configs=configs, scales=scales, dc_configs=dc_configs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
