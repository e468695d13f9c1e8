"""Reference simulators on PD14: NEST 3.10 and hand-written Brian2 2.9, same machine, same run.

Runs ``bench/reference/nest_pd14.py`` (1 and 2 threads) and ``bench/reference/brian2_pd14.py``
(cython runtime; cpp_standalone with 1 and 2 OpenMP threads) at PD14 scale 0.1 (and 0.25
unless ``quick``), 1 s of biological time after 0.5 s of untimed presimulation, seeds 1..3,
each run in its own subprocess (so that peak RSS is the run's own), configurations interleaved
seed by seed to spread machine drift over all of them. Reports medians over seeds.

Then validates the NEST network: scale 0.1, 5 s after 0.5 s, seeds 1..5, 1 thread; the mean
rate of each population over seeds is compared with the NEST 3.10 reference rates of issue #4
(DESIGN section 6) with a +-10 % tolerance, and the comparison is recorded.

Writes ``<out>/references.json``; ``python bench/bench_references.py --help`` for options.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from analysis.outputs import write_json
from analysis.provenance import collect_provenance

logger = logging.getLogger("bench.references")
HERE = Path(__file__).resolve().parent
REF = HERE / "reference"
sys.path.insert(0, str(REF))
import pd14_model  # noqa: E402

# (label, script, extra arguments)
CONFIGS = (
    ("nest_1thread", "nest_pd14.py", ["--threads", "1"]),
    ("nest_2threads", "nest_pd14.py", ["--threads", "2"]),
    ("brian2_cython", "brian2_pd14.py", ["--device", "runtime", "--threads", "1"]),
    ("brian2_standalone_1thread", "brian2_pd14.py", ["--device", "cpp_standalone", "--threads", "1"]),
    ("brian2_standalone_2threads", "brian2_pd14.py", ["--device", "cpp_standalone", "--threads", "2"]),
)
MEDIAN_KEYS = ("build_s", "compile_s", "sim_wall_s", "rtf", "synaptic_events_per_s")
TOLERANCE = 0.10  # relative, issue #4


def run_one(script: str, args: list[str], omp_wait_policy: str = "") -> dict:
    """Run one reference script in a fresh subprocess and return its JSON result.

    ``omp_wait_policy`` (``"PASSIVE"``/``"ACTIVE"``) sets ``OMP_WAIT_POLICY`` for NEST and the
    standalone binary alike; on an oversubscribed machine spinning OpenMP threads lose their
    time slices to each other, which ``PASSIVE`` avoids.
    """
    env = dict(os.environ)
    if omp_wait_policy:
        env["OMP_WAIT_POLICY"] = omp_wait_policy
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(REF / script), *args, "--out", str(out)]
        logger.info("running %s", " ".join(cmd[1:]))
        for _attempt in range(3):
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode >= 0:
                break
            # killed by a signal (on a shared machine: the OOM killer); the run is retried
            logger.warning("%s killed by signal %d, retrying", script, -proc.returncode)
        if proc.returncode != 0:
            raise RuntimeError(f"{script} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        result = json.loads(out.read_text())
    prefix = [f"OMP_WAIT_POLICY={omp_wait_policy}"] if omp_wait_policy else []
    result["command"] = " ".join([*prefix, "python", f"bench/reference/{script}", *args])
    result["omp_wait_policy"] = omp_wait_policy or os.environ.get("OMP_WAIT_POLICY", "")
    return result


def summarise(runs: list[dict]) -> dict:
    """Medians (and min/max) over seeds of the timing figures; mean rates over seeds."""
    summary = {k: float(np.median([r[k] for r in runs])) for k in MEDIAN_KEYS}
    summary.update({f"{k}_range": [float(min(r[k] for r in runs)), float(max(r[k] for r in runs))]
                    for k in ("sim_wall_s", "synaptic_events_per_s")})
    # the simulating process: the Python process itself, or the standalone binary
    summary["peak_rss_bytes"] = float(np.median(
        [max(r["peak_rss_bytes"]["self"], r["peak_rss_bytes"].get("binary", 0)) for r in runs]))
    summary["rates"] = {p: float(np.mean([r["rates"][p] for r in runs])) for p in pd14_model.POPULATIONS}
    summary["n_neurons_total"] = runs[0]["n_neurons_total"]
    summary["n_synapses_total"] = runs[0]["n_synapses_total"]
    summary["n_seeds"] = len(runs)
    summary["compile_s_first_run"] = float(runs[0]["compile_s"])
    return summary


def compare_rates(rates: dict, reference: dict, tolerance: float = TOLERANCE) -> dict:
    """Per-population relative deviation of ``rates`` from ``reference`` and a pass flag."""
    rows = {}
    for p in pd14_model.POPULATIONS:
        rel = (rates[p] - reference[p]) / reference[p]
        rows[p] = {"measured": rates[p], "reference": reference[p], "relative_deviation": rel,
                   "within_tolerance": bool(abs(rel) <= tolerance)}
    return {"tolerance": tolerance, "populations": rows,
            "all_within_tolerance": all(r["within_tolerance"] for r in rows.values())}


def validate_nest(seeds: int, t_sim: float, threads: int = 1, scale: float = 0.1) -> dict:
    """NEST PD14 rates averaged over seeds 1..``seeds`` versus the issue-#4 reference."""
    runs = [run_one("nest_pd14.py", ["--scale", str(scale), "--seed", str(s), "--threads",
                                     str(threads), "--t-sim", str(t_sim), "--t-presim", "0.5"])
            for s in range(1, seeds + 1)]
    rates = {p: float(np.mean([r["rates"][p] for r in runs])) for p in pd14_model.POPULATIONS}
    sem = {p: float(np.std([r["rates"][p] for r in runs], ddof=1) / np.sqrt(len(runs)))
           if len(runs) > 1 else float("nan") for p in pd14_model.POPULATIONS}
    cv = {p: float(np.mean([r["cv_isi"][p] for r in runs])) for p in pd14_model.POPULATIONS}
    ref = dict(zip(pd14_model.POPULATIONS, pd14_model.NEST_REFERENCE_RATES[scale]))
    full = dict(zip(pd14_model.POPULATIONS, pd14_model.FULL_SCALE_RATES))
    return {"scale": scale, "seeds": list(range(1, seeds + 1)), "t_sim_s": t_sim, "t_presim_s": 0.5,
            "threads": threads, "rates_mean": rates, "rates_sem": sem, "cv_isi_mean": cv,
            "per_seed_rates": [r["rates"] for r in runs],
            "vs_issue4_nest_reference": compare_rates(rates, ref),
            "vs_full_scale_published": compare_rates(rates, full, 0.15),
            "load_average": [r["load_average_end"] for r in runs]}


def markdown_table(doc: dict) -> str:
    """The timing table of ``doc`` as Markdown."""
    lines = ["| scale | configuration | build (s) | compile (s) | simulation (s, median [min-max]) "
             "| RTF | synaptic events/s | peak RSS (MiB) |", "|---|---|---|---|---|---|---|---|"]
    for scale, block in doc["scales"].items():
        for label, s in block["summary"].items():
            lo, hi = s["sim_wall_s_range"]
            lines.append(f"| {scale} | {label} | {s['build_s']:.1f} | {s['compile_s']:.1f} | "
                         f"{s['sim_wall_s']:.2f} [{lo:.2f}-{hi:.2f}] | {s['rtf']:.2f} | "
                         f"{s['synaptic_events_per_s'] / 1e6:.1f} M | {s['peak_rss_bytes'] / 2**20:.0f} |")
    return "\n".join(lines)


def run(out_dir: Path, quick: bool, scales: list[float] | None = None, seeds: int | None = None,
        validation_seeds: int | None = None, validation_t_sim: float | None = None,
        configs: list[str] | None = None, merge: bool = False, timing: bool = True,
        omp_wait_policy: str = "") -> dict:
    """Run the reference benchmark and the NEST rate validation; write ``references.json``.

    With ``merge`` the scales and the validation of an existing ``references.json`` that this
    call does not rerun are kept.
    """
    load_start = list(os.getloadavg())
    scales = (scales or ([0.1] if quick else [0.1, 0.25])) if timing else []
    seeds = seeds or (1 if quick else 3)
    validation_seeds = validation_seeds if validation_seeds is not None else (1 if quick else 5)
    validation_t_sim = validation_t_sim or (1.0 if quick else 5.0)
    chosen = [c for c in CONFIGS if configs is None or c[0] in configs]
    doc = {"benchmark": "references", "t_sim_s": 1.0, "t_presim_s": 0.5, "background": "poisson",
           "seeds": list(range(1, seeds + 1)), "scales": {}, "load_average_start": load_start}
    for scale in scales:
        runs: dict[str, list[dict]] = {label: [] for label, _, _ in chosen}
        for s in range(1, seeds + 1):
            for label, script, extra in chosen:
                args = ["--scale", str(scale), "--seed", str(s), "--t-sim", "1", "--t-presim", "0.5",
                        *extra]
                runs[label].append(run_one(script, args, omp_wait_policy))
        summary = {label: summarise(r) for label, r in runs.items()}
        ratios = {}
        if "nest_2threads" in summary:
            base = summary["nest_2threads"]["sim_wall_s"]
            ratios = {f"nest_2threads_over_{k}": base / v["sim_wall_s"] for k, v in summary.items()}
        rate_agreement = {}
        if "nest_2threads" in summary:
            nest_rates = summary["nest_2threads"]["rates"]
            for k, v in summary.items():
                if k.startswith("brian2"):
                    rate_agreement[k] = {p: (v["rates"][p] - nest_rates[p]) / nest_rates[p]
                                         for p in pd14_model.POPULATIONS}
        key = str(scale) + (f" OMP_WAIT_POLICY={omp_wait_policy}" if omp_wait_policy else "")
        doc["scales"][key] = {"omp_wait_policy": omp_wait_policy, "summary": summary,
                              "sim_time_ratios": ratios,
                              "brian2_rates_relative_to_nest": rate_agreement, "runs": runs}
        _write(doc, out_dir, merge)  # keep finished blocks if a later one fails
    if validation_seeds:
        doc["validation"] = validate_nest(validation_seeds, validation_t_sim)
    _write(doc, out_dir, merge)
    logger.info("\n%s", doc["table_markdown"])
    return doc


def _write(doc: dict, out_dir: Path, merge: bool) -> None:
    path = Path(out_dir) / "references.json"
    if merge and path.exists():
        old = json.loads(path.read_text())
        for key, block in old.get("scales", {}).items():
            doc["scales"].setdefault(key, block)
        if "validation" not in doc and "validation" in old:
            doc["validation"] = old["validation"]
    doc["load_average"] = list(os.getloadavg())
    doc["table_markdown"] = markdown_table(doc)
    doc["provenance"] = collect_provenance(seeds={"runs": doc["seeds"]})
    write_json(path, doc, overwrite=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scales", default="", help="comma-separated, e.g. 0.1,0.25")
    ap.add_argument("--seeds", type=int, default=0, help="timed runs per configuration")
    ap.add_argument("--validation-seeds", type=int, default=-1, help="0 skips the validation")
    ap.add_argument("--validation-t-sim", type=float, default=0.0)
    ap.add_argument("--merge", action="store_true",
                    help="keep the scales/validation of an existing references.json not rerun")
    ap.add_argument("--omp-wait-policy", default="", choices=("", "PASSIVE", "ACTIVE"),
                    help="OMP_WAIT_POLICY for the timed runs (default: inherited)")
    ap.add_argument("--validation-only", action="store_true", help="skip the timed runs")
    ap.add_argument("--configs", default="", help="comma-separated subset of "
                    + ",".join(c[0] for c in CONFIGS))
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(Path(a.out), a.quick,
        scales=[float(x) for x in a.scales.split(",") if x] or None,
        seeds=a.seeds or None,
        validation_seeds=None if a.validation_seeds < 0 else a.validation_seeds,
        validation_t_sim=a.validation_t_sim or None,
        configs=[x for x in a.configs.split(",") if x] or None, merge=a.merge,
        timing=not a.validation_only, omp_wait_policy=a.omp_wait_policy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
