"""Benchmark: PD14 at scale 0.1, NEST 3.10 and our engine interleaved A/B in one run.

Every round runs, one after the other and each in its own subprocess, NEST 3.10
(``bench/reference/nest_pd14.py``, 1 and 2 threads; side A) and our engine
(``circuits/pd14.py``: cython runtime, ``cpp_standalone`` with 1 and 2 OpenMP threads; side B)
on the identical network (same seed within a round); rounds go A B A B ..., so slow drift of
the machine's load hits both sides alike. Quick mode: 2 rounds of 0.5 s biological time after
0.5 s of presimulation; full: 5 rounds of 1 s.

Per configuration (median over rounds): build time, compile time, simulation wall time per
biological second (RTF), synaptic events per second, peak RSS; and the NEST/ours ratio of
simulation time per biological second, both of the medians and as the median of the per-round
(paired, adjacent in time) ratios.

The runs themselves reuse :func:`bench_references.run_one` (NEST) and
:func:`bench_pd14._worker` (ours). Timed windows differ in what they cover: NEST times only
the ``t_sim`` window after an untimed presimulation, ours the whole ``t_presim + t_sim``
(one ``run``); both are divided by the biological time they cover.

Peak RSS: NEST is the simulating process's ``VmHWM``; ours is the larger of the Python
process (``RUSAGE_SELF``, build and connectivity) and its largest child (``RUSAGE_CHILDREN``:
the C++ compiler or the standalone binary), both measured inside the worker subprocess.

Output: ``bench/results/pd14_ab.json``. ``python bench/bench_pd14_ab.py --help`` for options.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import bench_pd14  # noqa: E402
import bench_references  # noqa: E402  (puts bench/reference on sys.path for pd14_model)
import pd14_model  # noqa: E402

from analysis.outputs import write_json  # noqa: E402
from analysis.provenance import collect_provenance  # noqa: E402

logger = logging.getLogger("bench.pd14_ab")

SCALE = 0.1
T_PRESIM_S = 0.5
#: (label, nest_pd14.py arguments)
NEST_CONFIGS = (("nest_1thread", ["--threads", "1"]), ("nest_2threads", ["--threads", "2"]))
#: (label, brian2_pd14.py arguments): the hand-written Brian2 script on the same network (side C)
BRIAN2_CONFIGS = (
    ("brian2_cython", ["--device", "runtime", "--threads", "1"]),
    ("brian2_standalone_1t", ["--device", "cpp_standalone", "--threads", "1"]),
    ("brian2_standalone_2t", ["--device", "cpp_standalone", "--threads", "2"]),
)
#: our label -> the NEST configuration with the same number of threads
SAME_THREADS = {"cython": "nest_1thread", "cpp_standalone_1t": "nest_1thread", "cpp_standalone_2t": "nest_2threads",
                "cpp_standalone_1t_per_step": "nest_1thread", "cpp_standalone_1t_all_hooks": "nest_1thread",
                "cpp_standalone_1t_unmerged": "nest_1thread"}
#: our label -> the hand-written Brian2 configuration on the same device and threads
SAME_BRIAN2 = {"cython": "brian2_cython", "cpp_standalone_1t": "brian2_standalone_1t",
               "cpp_standalone_2t": "brian2_standalone_2t", "cpp_standalone_1t_per_step": "brian2_standalone_1t",
               "cpp_standalone_1t_all_hooks": "brian2_standalone_1t",
               "cpp_standalone_1t_unmerged": "brian2_standalone_1t"}
#: Issue #8 target: NEST 2 threads / ours 2 threads >= 6 and RTF <= 1 (Poisson background).
TARGET_SPEEDUP, TARGET_RTF = 6.0, 1.0


def _worker(device: str, threads: int, seed: int, t_presim: float, t_sim: float, out_json: Path,
            layout: str = "default") -> None:
    """Run ours once via :func:`bench_pd14._worker` with this benchmark's biological times."""
    bench_pd14.T_PRESIM_S, bench_pd14.T_SIM_S = t_presim, t_sim
    bench_pd14._worker(SCALE, device, threads, seed, out_json, layout=layout)


def run_ours(device: str, threads: int, seed: int, t_sim: float, layout: str = "default") -> dict:
    """One run of our engine in a fresh subprocess; the worker's JSON plus load and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "ours.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--device", device, "--threads",
               str(threads), "--seed", str(seed), "--t-sim", str(t_sim), "--json", str(out_json),
               "--layout", layout]
        load_before = list(os.getloadavg())
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600,
                              env={**os.environ, **bench_pd14.OMP_ENV})
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"ours {device} x{threads} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        doc = json.loads(out_json.read_text())
    doc.update(process_wall_s=wall, loadavg_before=load_before, loadavg_after=list(os.getloadavg()),
               peak_rss_bytes=max(doc["peak_rss_self_mb"], doc["peak_rss_children_mb"]) * 2**20)
    return doc


def _run_reference(script: str, extra: list[str], seed: int, t_sim: float) -> dict:
    """One run of a reference script through :func:`bench_references.run_one` (same ``OMP_WAIT_POLICY`` as ours)."""
    args = ["--scale", str(SCALE), "--seed", str(seed), "--t-sim", str(t_sim), "--t-presim", str(T_PRESIM_S), *extra]
    doc = bench_references.run_one(script, args, bench_pd14.OMP_ENV["OMP_WAIT_POLICY"])
    doc["simulate_s_per_bio_s"] = doc["sim_wall_s"] / doc["t_sim_s"]
    doc["peak_rss_bytes_max"] = max(doc["peak_rss_bytes"]["self"], doc["peak_rss_bytes"].get("binary", 0))
    return doc


def run_nest(extra: list[str], seed: int, t_sim: float) -> dict:
    """One NEST 3.10 run (``bench/reference/nest_pd14.py``)."""
    return _run_reference("nest_pd14.py", extra, seed, t_sim)


def run_brian2(extra: list[str], seed: int, t_sim: float) -> dict:
    """One run of the hand-written Brian2 script (``bench/reference/brian2_pd14.py``).

    Its simulation time is Brian's own measure of the ``t_sim`` loop (standalone) or the wall
    time of that ``run`` (cython), as ours.
    """
    return _run_reference("brian2_pd14.py", extra, seed, t_sim)


def _median(runs: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def summarise(nest: dict[str, list[dict]], ours: dict[str, list[dict]], brian2: dict[str, list[dict]] | None = None) -> dict:
    """Medians per configuration and the NEST/ours and hand-written/ours ratios (of medians and paired per round)."""
    rows = {}
    brian2 = brian2 or {}
    for label, runs in [*nest.items(), *brian2.items()]:
        rows[label] = {"engine": "NEST 3.10" if label.startswith("nest") else "hand-written Brian2", "build_s": _median(runs, "build_s"), "compile_s": 0.0,
                       "simulate_s_per_bio_s": _median(runs, "simulate_s_per_bio_s"),
                       "simulate_s_per_bio_s_range": [min(r["simulate_s_per_bio_s"] for r in runs),
                                                      max(r["simulate_s_per_bio_s"] for r in runs)],
                       "synaptic_events_per_s": _median(runs, "synaptic_events_per_s"),
                       "peak_rss_bytes": _median(runs, "peak_rss_bytes_max"), "n_rounds": len(runs)}
    for label, runs in ours.items():
        rows[label] = {"engine": "ours", "build_s": _median(runs, "build_s"), "compile_s": _median(runs, "compile_s"),
                       "compile_s_first_round": runs[0]["compile_s"],
                       # the first round may compile from scratch, later ones reuse the build
                       "compile_s_later_rounds": _median(runs[1:], "compile_s") if len(runs) > 1 else None,
                       "simulate_s_per_bio_s": _median(runs, "simulate_s_per_bio_s"),
                       "simulate_s_per_bio_s_range": [min(r["simulate_s_per_bio_s"] for r in runs),
                                                      max(r["simulate_s_per_bio_s"] for r in runs)],
                       "synaptic_events_per_s": _median(runs, "synaptic_events_per_s"),
                       "peak_rss_bytes": _median(runs, "peak_rss_bytes"), "n_rounds": len(runs)}
    ratios = {}
    references = {**nest, **brian2}
    for label, runs in ours.items():
        for ref in sorted({SAME_THREADS[label], "nest_2threads", SAME_BRIAN2[label]} & set(references)):
            paired = [n["simulate_s_per_bio_s"] / o["simulate_s_per_bio_s"] for n, o in zip(references[ref], runs)]
            ratios[f"{ref}_over_{label}"] = {
                "of_medians": rows[ref]["simulate_s_per_bio_s"] / rows[label]["simulate_s_per_bio_s"],
                "median_of_paired_rounds": float(np.median(paired)), "paired_rounds": paired}
    return {"configurations": rows, "sim_time_ratios": ratios}


def rate_agreement(nest_runs: list[dict], our_runs: list[dict]) -> dict[str, float]:
    """Relative deviation of our mean rate from NEST's per population (same populations in PD14 order)."""
    ours_pops = list(our_runs[0]["rates_hz"])
    out = {}
    for ref_pop, our_pop in zip(pd14_model.POPULATIONS, ours_pops):
        n = float(np.mean([r["rates"][ref_pop] for r in nest_runs]))
        o = float(np.mean([r["rates_hz"][our_pop] for r in our_runs]))
        out[our_pop] = (o - n) / n if n else float("nan")
    return out


def run(out_dir: Path, quick: bool = False, rounds: int | None = None, t_sim: float | None = None) -> dict:
    """Run the interleaved rounds and write ``out_dir/pd14_ab.json``."""
    rounds = rounds or (2 if quick else 5)
    t_sim = t_sim or (0.5 if quick else 1.0)
    load_start = list(os.getloadavg())
    nest: dict[str, list[dict]] = {label: [] for label, _ in NEST_CONFIGS}
    ours: dict[str, list[dict]] = {label: [] for label, *_ in bench_pd14.CONFIGS}
    brian2: dict[str, list[dict]] = {label: [] for label, _ in BRIAN2_CONFIGS}
    order = []
    for k in range(rounds):
        seed = k + 1
        for label, extra in NEST_CONFIGS:  # side A
            nest[label].append(run_nest(extra, seed, t_sim))
            order.append(label)
            logger.info("round %d %s: %.2f s per bio-s", k + 1, label, nest[label][-1]["simulate_s_per_bio_s"])
        for label, device, threads, layout in bench_pd14.CONFIGS:  # side B
            ours[label].append(run_ours(device, threads, seed, t_sim, layout))
            order.append(label)
            logger.info("round %d %s: %.2f s per bio-s", k + 1, label, ours[label][-1]["simulate_s_per_bio_s"])
        for label, extra in BRIAN2_CONFIGS:  # side C
            brian2[label].append(run_brian2(extra, seed, t_sim))
            order.append(label)
            logger.info("round %d %s: %.2f s per bio-s", k + 1, label, brian2[label][-1]["simulate_s_per_bio_s"])
    summary = summarise(nest, ours, brian2)
    ratio = summary["sim_time_ratios"].get("nest_2threads_over_cpp_standalone_2t", {}).get("median_of_paired_rounds")
    rtf = summary["configurations"]["cpp_standalone_2t"]["simulate_s_per_bio_s"]
    doc = {
        "benchmark": "pd14_ab",
        "what": (f"PD14 scale {SCALE}, Poisson background: NEST 3.10 (1, 2 threads), ours (cython, "
                 f"cpp_standalone 1 and 2 threads, and 1 thread with the earlier layouts: per-step background draws, every "
                 f"manipulation hook, and one object per population and pathway) and the hand-written Brian2 script (cython, cpp_standalone 1 and 2 threads) "
                 f"interleaved, {rounds} rounds of {t_sim} s after {T_PRESIM_S} s presimulation, seed = round "
                 f"number"),
        "quick": quick, "scale": SCALE, "rounds": rounds, "t_sim_s": t_sim, "t_presim_s": T_PRESIM_S,
        "omp_wait_policy": bench_pd14.OMP_ENV["OMP_WAIT_POLICY"],
        "order": order,
        "note": ("Load average during the run is in load_average_* and each run's loadavg. Only the paired "
                 "ratios within a round mean much. NEST and the hand-written script time only t_sim; ours "
                 "times t_presim + t_sim (standalone: Brian's measure of the simulation loop, without "
                 "starting the binary and loading the connectivity, which binary_wall_s includes); all "
                 "are divided by the biological time they cover."),
        **summary,
        "rates_relative_to_nest": {label: rate_agreement(nest[SAME_THREADS[label]], runs)
                                   for label, runs in ours.items()},
        "targets": [
            *({"what": f"PD14 0.1 Poisson: ours {label} never slower than the hand-written Brian2 script "
                       f"({SAME_BRIAN2[label]}, same run): hand-written / ours (paired median)",
               "measured": summary["sim_time_ratios"][f"{SAME_BRIAN2[label]}_over_{label}"]["median_of_paired_rounds"],
               "target": ">= 1.0",
               "met": bool(summary["sim_time_ratios"][f"{SAME_BRIAN2[label]}_over_{label}"]["median_of_paired_rounds"] >= 1.0)}
              for label in ours if label in ("cython", "cpp_standalone_1t", "cpp_standalone_2t")),
            {"what": "PD14 0.1 Poisson, 2 threads: NEST 2 threads / ours cpp_standalone 2 threads (paired median)",
             "measured": ratio, "target": f">= {TARGET_SPEEDUP}", "met": bool(ratio is not None and ratio >= TARGET_SPEEDUP)},
            {"what": "PD14 0.1 Poisson, cpp_standalone 2 threads: real-time factor",
             "measured": rtf, "target": f"<= {TARGET_RTF}", "met": bool(rtf <= TARGET_RTF)},
        ],
        "runs": {"nest": nest, "ours": ours, "brian2": brian2},
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()),
        "cpu_count": os.cpu_count(),
        "provenance": collect_provenance(seeds={"rounds": list(range(1, rounds + 1))}),
    }
    write_json(Path(out_dir) / "pd14_ab.json", doc, overwrite=True)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--quick", action="store_true", help="2 rounds of 0.5 s (default: 5 rounds of 1 s)")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="runtime", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--t-sim", type=float, default=0.0, help="biological time per run after the presimulation (s)")
    ap.add_argument("--json", default="", help=argparse.SUPPRESS)
    ap.add_argument("--layout", default="default", choices=tuple(bench_pd14.LAYOUTS), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.worker:
        _worker(a.device, a.threads, a.seed, T_PRESIM_S, a.t_sim, Path(a.json), layout=a.layout)
        return 0
    run(Path(a.out), a.quick, rounds=a.rounds or None, t_sim=a.t_sim or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
