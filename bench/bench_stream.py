"""Benchmark: the default ventral stream (issue #5 acceptance).

For each configuration — cpp_standalone with 1 and 2 threads and the cython runtime, at
scales 0.5, 1 and 2 (quick: scale 1, standalone 1 thread) — one run of the full stream
(LGN → V1 → V2 → V4 → IT) with a short grating protocol in its own subprocess; from the
output file: build, compile and simulation wall time, simulation time per biological
second, synaptic events per second (recurrent and feedforward synapses; the Poisson
background is not counted), neuron updates per second. A separate run measures the peak
resident memory of a 60 s protocol at scale 1 (target: under 4 GiB).

Peak RSS is sampled with psutil every 0.2 s over the worker and its children, excluding
the compiler processes (``cc1plus``, ``g++``, ``make``, ``ld``, ``as``), so it is what the
simulation itself needs (the Python process plus, on cpp_standalone, the ``main`` binary).

Output: ``bench/results/stream.json``. Standalone builds reuse the stream's build
directory per structure (circuits/run.py), so ``compile_s`` is cold for a new structure
and incremental otherwise (the first entry of a structure is the cold one).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from subset import keep_unmeasured  # noqa: E402
logger = logging.getLogger("bench_stream")

#: (label, device, threads)
CONFIGS = (("cpp_standalone_1t", "cpp_standalone", 1), ("cpp_standalone_2t", "cpp_standalone", 2),
           ("cython", "runtime", 1))
SCALES = (0.5, 1.0, 2.0)
#: The benchmark protocol: 8 orientations × 2 repeats of 0.25 s static gratings + 0.15 s blank = 6.4 s.
PROTOCOL = {"protocol": "orientation_tuning", "orientations": 8, "phases": 1, "repeats": 2,
            "temporal_frequency": "0 Hz", "duration": "0.25 s", "blank": "0.15 s"}
#: The memory run: 60 s of drifting gratings (150 epochs of 0.3 s + 0.1 s blank).
MEMORY_PROTOCOL = {"protocol": "orientation_tuning", "orientations": 8, "phases": 1, "repeats": 19,
                   "temporal_frequency": "4 Hz", "duration": "0.3 s", "blank": "0.1 s"}
MEMORY_TARGET_GIB = 4.0
_COMPILERS = {"cc1plus", "g++", "gcc", "c++", "make", "ld", "as", "collect2", "cc", "x86_64-linux-gnu-g++"}
#: the policy of bench_pd14 (see there): threads spin at barriers on the quiet benchmark machine
OMP_ENV = {"OMP_WAIT_POLICY": "ACTIVE"}


def _worker(cfg_json: str, out: str) -> None:
    from circuits.config import resolve_config
    from circuits.run import run_stream

    run_stream(resolve_config(json.loads(cfg_json)), out, overwrite=True)


def _sample_rss(pid: int, stop: threading.Event, peak: dict) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        try:
            procs = [root] + root.children(recursive=True)
            total = 0
            for p in procs:
                try:
                    if p.name() not in _COMPILERS:
                        total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            peak["rss"] = max(peak.get("rss", 0), total)
        except psutil.NoSuchProcess:
            break
        stop.wait(0.2)


def _summarise(path: Path) -> dict:
    from analysis.hdf5_io import file_info, read_config, read_provenance

    info = file_info(path)
    cfg = read_config(path)
    prov = read_provenance(path)
    derived = cfg["derived"]
    walls = prov["wall_time_s"]
    bio = float(prov["biological_time_s"])
    pops = info["populations"]
    spikes = {name: int(p["n_spikes"]) for name, p in pops.items()}
    sizes = dict(derived["sizes"])
    # the LGN generator projects as one group ("lgn"): its cells are the ON and OFF mosaics
    spikes["lgn"] = sum(n for name, n in spikes.items() if name.startswith("lgn_"))
    sizes["lgn"] = sum(derived["lgn_cells"].values())
    # every spike of a source reaches each of its synapses: spikes x mean out-degree
    events = sum(spikes.get(src, 0) * n / sizes[src] for src, n in derived["synapses_by_source"].items())
    cortical = {name: n for name, n in derived["sizes"].items()}
    n_neurons = sum(cortical.values())
    return {
        "n_cortical_neurons": n_neurons,
        "n_lgn_cells": sum(derived["lgn_cells"].values()),
        "n_synapses": int(sum(derived["synapses_by_source"].values())),
        "biological_time_s": bio,
        "build_s": walls["build"],
        "compile_s": walls["compile"],
        "simulate_s": walls["simulate"],
        "simulate_s_per_bio_s": walls["simulate"] / bio,
        "synaptic_events": int(events),
        "synaptic_events_per_s": events / walls["simulate"] if walls["simulate"] > 0 else None,
        "neuron_updates_per_s": n_neurons * bio / float(cfg["run"]["dt"].split()[0]) / walls["simulate"],
        "mean_rate_hz": {name: pops[name]["n_spikes"] / (derived["sizes"][name] * bio) for name in cortical},
    }


def measure(label: str, device: str, threads: int, scale: float, stimulus: dict, tmp: Path) -> dict:
    """One run in a subprocess; its figures and peak RSS (MiB, compilers excluded)."""
    cfg = {"run": {"scale": scale, "device": device, "threads": threads, "progress": False, "master_seed": 1},
           "stimulus": stimulus}
    if device == "runtime":
        cfg["run"]["codegen_target"] = "cython"
    out = tmp / f"{label}_{scale}.h5"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg), str(out)]
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **OMP_ENV})
    stop, peak = threading.Event(), {}
    sampler = threading.Thread(target=_sample_rss, args=(proc.pid, stop, peak), daemon=True)
    sampler.start()
    _, stderr = proc.communicate(timeout=4 * 3600)
    stop.set()
    sampler.join()
    wall = time.perf_counter() - t0
    entry = {"config": label, "device": device, "threads": threads, "scale": scale, "process_wall_s": wall,
             "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
             "peak_rss_mib": peak.get("rss", 0) / 2**20}
    if proc.returncode != 0:
        entry["error"] = stderr[-2000:]
        logger.error("stream %s scale %s failed: %s", label, scale, stderr[-500:])
        return entry
    entry.update(_summarise(out))
    out.unlink()
    logger.info("stream %s scale %s: %.2f s/bio-s, compile %.0f s, peak %.0f MiB", label, scale,
                entry["simulate_s_per_bio_s"], entry["compile_s"], entry["peak_rss_mib"])
    return entry


def run(out_dir: Path, quick: bool = False, configs: tuple = CONFIGS, scales: tuple | None = None,
        memory_run: bool = True) -> dict:
    """Measure the stream and write ``out_dir/stream.json``.

    With a subset of ``configs``/``scales`` (or ``memory_run=False``), the entries of an
    existing ``stream.json`` for the other (config, scale) pairs (and its memory run) are kept.
    """
    from analysis.outputs import write_json
    from analysis.provenance import collect_provenance

    subset = configs != CONFIGS or scales not in (None, SCALES) or not memory_run
    scales = scales or ((1.0,) if quick else SCALES)
    chosen = configs[:1] if quick else configs
    results = []
    previous_path = Path(out_dir) / "stream.json"
    previous = json.loads(previous_path.read_text()) if subset and previous_path.exists() else {}
    with tempfile.TemporaryDirectory(prefix="bench_stream_") as tmp:
        for scale in scales:
            for label, device, threads in chosen:
                results.append(measure(label, device, threads, scale, PROTOCOL, Path(tmp)))
        memory = measure("memory_60s", "cpp_standalone", 1, 1.0, MEMORY_PROTOCOL, Path(tmp)) if memory_run else None
    if memory is None:
        memory = previous.get("memory_60s", {"error": "not measured"})
    else:
        memory["target_gib"] = MEMORY_TARGET_GIB
        memory["passed"] = bool("error" not in memory and memory["peak_rss_mib"] / 1024 < MEMORY_TARGET_GIB)
    if previous:
        results = keep_unmeasured(previous.get("results", []), results)
    report = {
        "benchmark": "stream",
        "note": ("Default stream (LGN, V1, V2, V4, IT), residual, seed 1, 8 orientations x 2 repeats of 0.25 s "
                 "static gratings (6.4 s); one subprocess per configuration; synaptic events count the "
                 "recurrent and feedforward Synapses (not the Poisson background); peak RSS excludes the "
                 "compiler; the 2 cores may have been shared with other jobs (see loadavg_before/after)."),
        "cpu_count": os.cpu_count(),
        "provenance": collect_provenance(),
        "results": results,
        "memory_60s": memory,
    }
    write_json(Path(out_dir) / "stream.json", report, overwrite=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG_JSON", "OUT"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--configs", default="", help="comma-separated subset of " + ",".join(c[0] for c in CONFIGS))
    parser.add_argument("--scales", default="", help="comma-separated scales (default 0.5,1,2)")
    parser.add_argument("--no-memory", action="store_true", help="skip the 60 s memory run (keep the stored one)")
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    wanted = args.configs.split(",") if args.configs else None
    configs = tuple(c for c in CONFIGS if not wanted or c[0] in wanted)
    scales = tuple(float(x) for x in args.scales.split(",")) if args.scales else None
    run(Path(args.out), quick=args.quick, configs=configs, scales=scales, memory_run=not args.no_memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
