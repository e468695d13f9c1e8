"""Machine bounds: streaming memory bandwidth and the random-access (synaptic delivery) bound.

Two figures against which the simulators' throughput is judged (issue #8):

* **Streaming bandwidth** (GB/s): STREAM-style ``copy`` (a = b, 16 bytes per element) and
  ``triad`` (a = b + s c, 24 bytes per element) over 64 Mi float64 elements (512 MiB per
  array, far beyond the caches), numba-parallel with 1 and 2 threads, best of 5. The numpy
  ``copy`` is reported too.
* **Ideal synaptic deliveries per second**: the PD14 scale-0.1 connectivity (7,717 neurons,
  about 3.0 million synapses, drawn as in ``bench/reference/brian2_pd14.py``) stored as CSR
  (target index int32 + weight float64 per synapse, sorted by source); spiking sources drawn
  with probabilities proportional to the full-scale PD14 population rates; each spike adds the
  weight of every outgoing synapse into a float64 array of one value per neuron (the summed
  synaptic current). Nothing else is done, so no simulator can deliver faster on this machine.
  With 2 threads each thread accumulates into its own copy (no atomics).
* **OpenMP parallel regions**: what a code object costs when Brian2's ``cpp_standalone`` runs
  it on several threads. A C++ loop (g++ -O2 -fopenmp) of :data:`OMP_REGIONS` regions per
  time step, as many as the default stream runs (about 200 code objects per step), each an
  ``omp parallel for`` over :data:`OMP_ITEMS` values (about the half microsecond of work an
  average code object of the stream does per step on 1 thread), and the same regions empty:
  the fork/join cost per region and the time per step on 1 and 2 threads, with the OpenMP
  wait policies passive (threads sleep at the barrier) and active (they spin).
* **Partitions** (:func:`measure_partitions`): the membrane update of a merged group after a
  background written per subgroup (our PD14 layout) or over the whole group, on 1 and 2
  threads: what moving cache lines between the cores costs when two code objects split the
  same cells differently.

Writes ``<out>/machine.json``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from analysis.outputs import write_json
from analysis.provenance import collect_provenance

logger = logging.getLogger("bench.machine")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "reference"))
import pd14_model  # noqa: E402
from brian2_pd14 import draw_connectivity  # noqa: E402


@numba.njit(parallel=True, cache=False)
def _copy(a, b):
    for k in numba.prange(a.size):
        a[k] = b[k]


@numba.njit(parallel=True, cache=False)
def _triad(a, b, c, s):
    for k in numba.prange(a.size):
        a[k] = b[k] + s * c[k]


@numba.njit(parallel=True, cache=False)
def _deliver(spikes, indptr, targets, weights, acc):
    """Scatter-add every outgoing weight of every spike; acc has one row per thread."""
    n_chunks = acc.shape[0]
    per = (spikes.size + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        row = acc[c]
        for s in range(c * per, min((c + 1) * per, spikes.size)):
            src = spikes[s]
            for k in range(indptr[src], indptr[src + 1]):
                row[targets[k]] += weights[k]


def _best(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_bandwidth(n: int, threads: int, repeats: int) -> dict:
    """Copy and triad bandwidth (GB/s, 1e9 bytes) with ``threads`` numba threads."""
    numba.set_num_threads(threads)
    a = np.zeros(n)
    b = np.ones(n)
    c = np.full(n, 2.0)
    _copy(a[:16], b[:16])
    _triad(a[:16], b[:16], c[:16], 3.0)  # compile outside the timing
    t_copy = _best(lambda: _copy(a, b), repeats)
    t_triad = _best(lambda: _triad(a, b, c, 3.0), repeats)
    return {"threads": threads, "copy_GBps": 16 * n / t_copy / 1e9,
            "triad_GBps": 24 * n / t_triad / 1e9}


def measure_delivery(threads: int, n_spikes: int, repeats: int, seed: int = 1,
                     state_size: int = 0) -> dict:
    """Ideal synaptic deliveries per second on the PD14 scale-0.1 connectivity.

    With ``state_size`` > 0 the targets are instead uniform over a state array of that many
    neurons (e.g. the 77,169 neurons of full-scale PD14, beyond the L2 cache).
    """
    numba.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    p = pd14_model.derive(0.1, "poisson")
    conn = draw_connectivity(p, rng)
    order = np.argsort(conn["pre"], kind="stable")
    n_total = int(p["n"].sum())
    targets = conn["post"][order].astype(np.int32)
    if state_size:
        targets = rng.integers(0, state_size, targets.size).astype(np.int32)
    weights = conn["w"][order].astype(np.float64)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(conn["pre"], minlength=n_total))])
    prob = np.repeat(pd14_model.FULL_MEAN_RATES, p["n"]).astype(float)
    spikes = rng.choice(n_total, size=n_spikes, p=prob / prob.sum()).astype(np.int64)
    acc = np.zeros((threads, state_size or n_total))
    _deliver(spikes[:8], indptr, targets, weights, acc)
    seconds = _best(lambda: _deliver(spikes, indptr, targets, weights, acc), repeats)
    deliveries = int((indptr[spikes + 1] - indptr[spikes]).sum())
    return {"threads": threads, "n_synapses": int(targets.size), "n_spikes": n_spikes,
            "deliveries": deliveries, "seconds": seconds,
            "deliveries_per_s": deliveries / seconds,
            "state_bytes": int((state_size or n_total) * 8)}


#: Parallel regions per simulated step and values per region of the OpenMP probe: the default
#: stream at scale 1 runs 201 code objects per step (main.cpp of its standalone build) in
#: 1.16 s per biological second on 1 thread, i.e. about 0.58 µs per object and step.
OMP_REGIONS = 200
OMP_ITEMS = 400

_OMP_SOURCE = r"""
#include <omp.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
int main(int argc, char** argv) {
    const int regions = std::atoi(argv[1]), items = std::atoi(argv[2]), steps = std::atoi(argv[3]);
    std::vector<double> x(static_cast<size_t>(regions) * items, 1.0);
    std::vector<long> touched(64, 0);  // a side effect, so that the compiler keeps the regions
    using clock = std::chrono::steady_clock;
    for (int warm = 0; warm < 100; ++warm) {
        #pragma omp parallel
        { touched[omp_get_thread_num()] += 1; }
    }
    auto t0 = clock::now();
    for (int s = 0; s < steps; ++s)
        for (int r = 0; r < regions; ++r) {
            #pragma omp parallel
            { touched[omp_get_thread_num()] += 1; }
        }
    auto t1 = clock::now();
    for (int s = 0; s < steps; ++s)
        for (int r = 0; r < regions; ++r) {
            double* p = x.data() + static_cast<size_t>(r) * items;
            #pragma omp parallel for schedule(static)
            for (int i = 0; i < items; ++i) p[i] = p[i] * 0.999 + 0.001;
        }
    auto t2 = clock::now();
    double empty = std::chrono::duration<double>(t1 - t0).count(), work = std::chrono::duration<double>(t2 - t1).count();
    std::printf("{\"threads\": %d, \"empty_region_us\": %.6f, \"step_us\": %.6f, \"checksum\": %.6f}\n",
                omp_get_max_threads(), 1e6 * empty / (1.0 * steps * regions), 1e6 * work / steps, x[items / 2] + touched[0]);
    return 0;
}
"""


_PARTITION_SOURCE = r"""
#include <omp.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
// argv: mode (0: writer per subgroup, 1: writer over the whole group), steps, then the subgroup sizes
int main(int argc, char** argv) {
    const int mode = std::atoi(argv[1]), steps = std::atoi(argv[2]);
    std::vector<int> start(1, 0);
    for (int k = 3; k < argc; ++k) start.push_back(start.back() + std::atoi(argv[k]));
    const int n = start.back(), groups = static_cast<int>(start.size()) - 1;
    std::vector<double> v(n, -65.0), I(n, 0.0), g(n, 0.0), w(n, 0.0);
    std::vector<unsigned> next(n, 0);
    using clock = std::chrono::steady_clock;
    double t_write = 0.0, t_update = 0.0;
    for (int s = 0; s < steps; ++s) {
        auto t0 = clock::now();
        // the background: each cell adds its input at its next event step (an event-gap-like write)
        if (mode == 0) {
            for (int k = 0; k < groups; ++k) {
                #pragma omp parallel for schedule(static)
                for (int i = start[k]; i < start[k + 1]; ++i)
                    if (next[i] <= static_cast<unsigned>(s)) { I[i] += 0.1; next[i] = s + 1 + (i * 7 + s) % 13; }
            }
        } else {
            #pragma omp parallel for schedule(static)
            for (int i = 0; i < n; ++i)
                if (next[i] <= static_cast<unsigned>(s)) { I[i] += 0.1; next[i] = s + 1 + (i * 7 + s) % 13; }
        }
        auto t1 = clock::now();
        // the neuron state update over the whole (merged) group
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < n; ++i) {
            const double dv = (-(v[i] + 65.0) + I[i] + g[i]) * 0.01;
            v[i] += dv; I[i] *= 0.95; g[i] *= 0.9; w[i] += 0.001 * dv;
            if (v[i] > -50.0) v[i] = -65.0;
        }
        auto t2 = clock::now();
        t_write += std::chrono::duration<double>(t1 - t0).count();
        t_update += std::chrono::duration<double>(t2 - t1).count();
    }
    std::printf("{\"threads\": %d, \"write_us\": %.6f, \"update_us\": %.6f, \"checksum\": %.6f}\n",
                omp_get_max_threads(), 1e6 * t_write / steps, 1e6 * t_update / steps, v[n / 3] + I[n / 2]);
    return 0;
}
"""


def _compile_openmp(source_text: str, tmp: Path, stem: str) -> tuple[Path | None, str]:
    """Compile a C++ probe with g++ -O2 -fopenmp; ``(binary, "")`` or ``(None, reason)``."""
    compiler = shutil.which("g++")
    if compiler is None:
        return None, "no g++ on PATH"
    source, binary = tmp / f"{stem}.cpp", tmp / stem
    source.write_text(source_text)
    built = subprocess.run([compiler, "-O2", "-fopenmp", str(source), "-o", str(binary)], capture_output=True, text=True)
    if built.returncode != 0:
        return None, f"g++ -fopenmp failed: {built.stderr.strip()[-300:]}"
    return binary, ""


def measure_partitions(steps: int, repeats: int) -> dict:
    """Cost of a second thread when two code objects split the same cells differently.

    Our PD14 draws the background in one code object per population (Brian2 splits each
    population's cells between the threads) and updates the membrane in one code object
    over the merged group (split once over all cells), so with 2 threads about half of the
    cells the background just wrote belong to the other core in the update: their cache lines
    move between the cores every step. The probe times the update after a writer split per
    subgroup (``subgroups``, our layout) and after a writer split like the update
    (``whole``), on PD14 scale-0.1 population sizes, active wait policy, best of ``repeats``.
    """
    import json

    sizes = [str(max(1, round(0.1 * float(x)))) for x in pd14_model.N_FULL]
    with tempfile.TemporaryDirectory() as tmp:
        binary, reason = _compile_openmp(_PARTITION_SOURCE, Path(tmp), "partitions")
        if binary is None:
            return {"available": False, "reason": reason}
        rows = []
        for mode, label in ((0, "subgroups"), (1, "whole")):
            for threads in (1, 2):
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "ACTIVE"}
                runs = [json.loads(subprocess.run([str(binary), str(mode), str(steps), *sizes], capture_output=True,
                                                  text=True, env=env, check=True).stdout) for _ in range(repeats)]
                rows.append({"writer": label, "threads": threads, "write_us": min(r["write_us"] for r in runs),
                             "update_us": min(r["update_us"] for r in runs)})
    return {"available": True, "subgroup_sizes": [int(x) for x in sizes], "steps": steps,
            "timing": f"best of {repeats}", "wait_policy": "active", "rows": rows}


def measure_openmp_regions(steps: int, repeats: int) -> dict:
    """Fork/join cost of an OpenMP parallel region and the time of a stream-like step (see module doc).

    Returns ``{"available": False, "reason": ...}`` when no g++ with OpenMP is found.
    """
    import json

    with tempfile.TemporaryDirectory() as tmp:
        binary, reason = _compile_openmp(_OMP_SOURCE, Path(tmp), "omp_regions")
        if binary is None:
            return {"available": False, "reason": reason}
        rows = []
        for policy in ("passive", "active"):
            for threads in (1, 2):
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": policy.upper()}
                runs = [json.loads(subprocess.run([str(binary), str(OMP_REGIONS), str(OMP_ITEMS), str(steps)],
                                                  capture_output=True, text=True, env=env, check=True).stdout)
                        for _ in range(repeats)]
                rows.append({"wait_policy": policy, "threads": threads,
                             "empty_region_us": min(r["empty_region_us"] for r in runs),
                             "step_us": min(r["step_us"] for r in runs)})
    return {"available": True, "regions_per_step": OMP_REGIONS, "items_per_region": OMP_ITEMS, "steps": steps,
            "timing": f"best of {repeats}", "rows": rows}


def run(out_dir: Path, quick: bool) -> dict:
    """Measure the machine bounds and write ``<out_dir>/machine.json``."""
    load_start = list(os.getloadavg())
    n = (1 << 24) if quick else (1 << 26)
    repeats = 3 if quick else 5
    thread_counts = [1, 2] if numba.config.NUMBA_NUM_THREADS >= 2 else [1]
    bandwidth = [measure_bandwidth(n, t, repeats) for t in thread_counts]
    a = np.zeros(n)
    b = np.ones(n)
    t_np = _best(lambda: np.copyto(a, b), repeats)
    del a, b
    n_spk = 20_000 if quick else 100_000
    delivery = [measure_delivery(t, n_spk, repeats) for t in thread_counts]
    # full-scale PD14 has 77,169 neurons (sum of pd14_model.N_FULL)
    delivery_full = [measure_delivery(t, n_spk, repeats, state_size=int(pd14_model.N_FULL.sum()))
                     for t in thread_counts]
    openmp = measure_openmp_regions(steps=500 if quick else 2000, repeats=3 if quick else 5)
    partitions = measure_partitions(steps=5000 if quick else 20000, repeats=3 if quick else 5)
    doc = {
        "benchmark": "machine",
        "openmp_regions": openmp,
        "openmp_partitions": partitions,
        "array_elements": n,
        "bandwidth": bandwidth,
        "numpy_copy_GBps": 16 * n / t_np / 1e9,
        "delivery": delivery,
        "delivery_full_scale_state": delivery_full,
        "best_triad_GBps": max(x["triad_GBps"] for x in bandwidth),
        "best_deliveries_per_s": max(x["deliveries_per_s"] for x in delivery),
        "cpu_count": os.cpu_count(),
        "load_average_start": load_start,
        "load_average": list(os.getloadavg()),
        "provenance": collect_provenance(seeds={"delivery": 1}),
    }
    for x in bandwidth:
        logger.info("bandwidth %d thread(s): copy %.1f GB/s, triad %.1f GB/s",
                    x["threads"], x["copy_GBps"], x["triad_GBps"])
    for x in delivery:
        logger.info("ideal deliveries %d thread(s): %.3g /s", x["threads"], x["deliveries_per_s"])
    for x in delivery_full:
        logger.info("ideal deliveries, full-scale state, %d thread(s): %.3g /s",
                    x["threads"], x["deliveries_per_s"])
    for row in openmp.get("rows", []):
        logger.info("OpenMP %s, %d thread(s): empty region %.2f µs, stream-like step %.0f µs",
                    row["wait_policy"], row["threads"], row["empty_region_us"], row["step_us"])
    for row in partitions.get("rows", []):
        logger.info("partitions, writer per %s, %d thread(s): write %.2f µs, update %.2f µs per step",
                    row["writer"], row["threads"], row["write_us"], row["update_us"])
    write_json(Path(out_dir) / "machine.json", doc, overwrite=True)
    return doc


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(HERE / "results", quick="--quick" in sys.argv)
