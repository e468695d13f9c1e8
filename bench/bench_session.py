"""Benchmark: build once, run many, and the sweep's speed-up on local workers (issue #8).

Part 1, per-run overhead after the first build. The default stream (scale 1; quick 0.25),
cpp_standalone, 1 thread, a 2 s grating protocol, in two ways in the same benchmark run:

* ``session``: one :class:`circuits.session.StreamSession` (built and compiled once), then
  ``N_RUNS`` reruns of the binary (noise seeds 1..N-1 and a shortcut × 0.5);
* ``per_process`` (the reference): ``N_REFERENCE`` runs of ``run_stream`` each in its own
  process, after a first run that leaves a warm build directory (what a sweep with
  ``--separate-builds`` does): every run rebuilds the network in Python, regenerates the
  code, recompiles what changed and runs.

Overhead of a run = its wall time minus the simulation loop (Brian2's own measure of
``Network.run`` in the binary). Target: under 2 s per run after the first build.

Part 2, the sweep's speed-up: ``ventral-columns sweep`` of ``SWEEP_RUNS`` independent runs
(master seeds, separate builds, scale 0.5, 1 thread each, 4 s protocol) with 1 and with 2
local Dask workers, after a warm-up that compiles both build slots; speed-up = wall(1) /
wall(2). Target: ≥ 1.7×.

Output: ``bench/results/session.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
logger = logging.getLogger("bench_session")

N_RUNS = 5
N_REFERENCE = 3
OVERHEAD_TARGET_S = 2.0
SPEEDUP_TARGET = 1.7
SWEEP_RUNS = 4
#: 4 orientations x 1 repeat of 0.35 s gratings + 0.15 s blank = 2 s.
PROTOCOL = {"protocol": "orientation_tuning", "orientations": 4, "phases": 1, "repeats": 1,
            "temporal_frequency": "0 Hz", "duration": "0.35 s", "blank": "0.15 s"}
#: the sweep's runs: 8 orientations of 0.35 + 0.15 s = 4 s each
SWEEP_PROTOCOL = {**PROTOCOL, "orientations": 8}

_SESSION_WORKER = """
import json, sys, logging
logging.basicConfig(level=logging.WARNING)
from circuits.config import resolve_config
from circuits.session import StreamSession
cfg, out, n = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with StreamSession(resolve_config(cfg)) as s:
    for k in range(1, n):
        s.run(f"{out}/noise{k}.h5", noise_seed=k, overwrite=True)
    s.run(f"{out}/shortcut_half.h5", shortcut_scale=0.5, overwrite=True)
    print(json.dumps({"build_s": s.build_time, "compile_s": s.compile_time, "records": s.records}))
"""

_FRESH_WORKER = """
import json, sys, time, logging
t0 = time.perf_counter()
logging.basicConfig(level=logging.WARNING)
from circuits.config import resolve_config
from circuits.run import run_stream
from circuits.simulate import last_standalone_loop_s
run_stream(resolve_config(json.loads(sys.argv[1])), sys.argv[2], overwrite=True)
print(json.dumps({"loop_s": last_standalone_loop_s(), "in_process_s": time.perf_counter() - t0}))
"""


def _python(code: str, *args: str, env: dict | None = None) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=4 * 3600, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def measure_overhead(scale: float, tmp: Path) -> dict:
    """Session reruns against one process and build per run, same configuration."""
    cfg = {"run": {"scale": scale, "device": "cpp_standalone", "threads": 1, "progress": False, "master_seed": 1},
           "stimulus": PROTOCOL}
    tmp.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    session, session_wall = _python(_SESSION_WORKER, json.dumps(cfg), str(tmp), str(N_RUNS))
    records = session["records"]
    fresh = []
    for k in range(N_REFERENCE + 1):  # the first one may compile; it is not counted
        doc, wall = _python(_FRESH_WORKER, json.dumps(cfg), str(tmp / f"fresh{k}.h5"))
        fresh.append({"wall_s": wall, "loop_s": doc["loop_s"], "overhead_s": wall - doc["loop_s"]})
    reference = fresh[1:]
    result = {
        "scale": scale,
        "biological_time_s": 2.0,
        "session": {
            "build_s": session["build_s"], "compile_s": session["compile_s"], "process_wall_s": session_wall,
            "n_runs": len(records),
            "overhead_s": _stats([r["overhead_s"] for r in records]),
            "loop_s": _stats([r["loop_s"] for r in records]),
            "binary_s": _stats([r["binary_s"] for r in records]),
            "write_s": _stats([r["write_s"] for r in records]),
            # loading the connectivity and saving the results: the binary's time outside the loop
            "binary_outside_loop_s": _stats([r["binary_s"] - r["loop_s"] for r in records]),
        },
        "per_process": {
            "first_wall_s": fresh[0]["wall_s"],
            "n_runs": len(reference),
            "overhead_s": _stats([r["overhead_s"] for r in reference]),
            "loop_s": _stats([r["loop_s"] for r in reference]),
            "wall_s": _stats([r["wall_s"] for r in reference]),
        },
        "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
    }
    ours = result["session"]["overhead_s"]["median"]
    result["overhead_ratio_per_process_over_session"] = result["per_process"]["overhead_s"]["median"] / ours
    result["target_overhead_s"] = OVERHEAD_TARGET_S
    result["passed"] = bool(result["session"]["overhead_s"]["max"] < OVERHEAD_TARGET_S)
    logger.info("session scale %s: overhead per run %.2f s (per process %.2f s), compile once %.0f s", scale, ours,
                result["per_process"]["overhead_s"]["median"], session["compile_s"])
    return result


def measure_sweep(scale: float, tmp: Path) -> dict:
    """Wall time of one sweep of independent runs with 1 and 2 local workers."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "sweep.toml"
    lines = ["[run]", f"scale = {scale}", 'device = "cpp_standalone"', "threads = 1", "progress = false", "",
             "[stimulus]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in SWEEP_PROTOCOL.items()]
    config.write_text("\n".join(lines) + "\n")

    def sweep(workers: int, out: Path) -> float:
        cmd = [sys.executable, "-m", "circuits.cli", "sweep", str(config), "--out", str(out), "--seeds", str(SWEEP_RUNS),
               "--workers", str(workers), "--overwrite"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=4 * 3600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        return time.perf_counter() - t0

    load_before = os.getloadavg()
    warm = sweep(2, tmp / "warm")  # compiles the two build slots
    one = sweep(1, tmp / "one")
    two = sweep(2, tmp / "two")
    speedup = one / two
    logger.info("sweep of %d runs: 1 worker %.1f s, 2 workers %.1f s: x%.2f", SWEEP_RUNS, one, two, speedup)
    return {"scale": scale, "n_runs": SWEEP_RUNS, "biological_time_s_per_run": 4.0, "warm_up_wall_s": warm,
            "wall_1_worker_s": one, "wall_2_workers_s": two, "speedup": speedup, "target": SPEEDUP_TARGET,
            "passed": bool(speedup >= SPEEDUP_TARGET), "cpu_count": os.cpu_count(),
            "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg())}


def run(out_dir: Path, quick: bool = False) -> dict:
    """Measure both parts and write ``out_dir/session.json``."""
    from analysis.outputs import write_json
    from analysis.provenance import collect_provenance

    with tempfile.TemporaryDirectory(prefix="bench_session_") as tmp:
        overhead = measure_overhead(0.25 if quick else 1.0, Path(tmp) / "overhead")
        speedup = measure_sweep(0.1 if quick else 0.5, Path(tmp) / "sweep")
    report = {
        "benchmark": "session",
        "note": ("Build once, run many: per-run overhead (wall - simulation loop) of StreamSession reruns vs one "
                 "process and build per run (warm build directory); ventral-columns sweep of independent runs "
                 "with 1 vs 2 local Dask workers. cpp_standalone, 1 thread per run."),
        "cpu_count": os.cpu_count(),
        "provenance": collect_provenance(),
        "overhead": overhead,
        "sweep": speedup,
    }
    write_json(Path(out_dir) / "session.json", report, overwrite=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(Path(args.out), quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
