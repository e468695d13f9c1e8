"""I/O benchmark: write and read throughput of the HDF5 file, peak RSS of the streaming writer.

10 million spikes over 20 populations, generated chunk by chunk inside the measured
process so that the streaming writer never sees all spikes at once. Each measurement runs
in its own subprocess so that its peak resident set size (``ru_maxrss``) is its own; a
baseline subprocess that imports the same modules and writes nothing gives the floor.

Writes ``<out>/io.json``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from analysis.outputs import write_json
from analysis.provenance import collect_provenance

logger = logging.getLogger("bench.io")
REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
import numpy as np
from analysis.hdf5_io import SpikeFileWriter, iter_spike_chunks, read_spikes, list_populations

mode, path, n_spikes, n_pops, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
n_nodes, duration = 10_000, 100.0
result = {}
if mode == "write":
    rng = np.random.default_rng(1)
    per_pop = n_spikes // n_pops
    n_chunks = max(1, per_pop // chunk)
    t0 = time.perf_counter()
    with SpikeFileWriter(path, overwrite=True) as w:
        names = [f"pop{k:02d}" for k in range(n_pops)]
        for name in names:
            w.add_population(name, n_nodes)
        # interleave populations chunk by chunk, as a running simulation appends them
        for c in range(n_chunks):
            t_lo = duration * c / n_chunks
            t_hi = duration * (c + 1) / n_chunks
            for name in names:
                times = np.sort(rng.uniform(t_lo, t_hi, chunk))
                w.append(name, rng.integers(0, n_nodes, chunk), times)
        for name in names:
            w.set_window(name, 0.0, duration)
    result["seconds"] = time.perf_counter() - t0
    result["n_spikes"] = n_chunks * chunk * n_pops
elif mode == "read":
    t0 = time.perf_counter()
    total = sum(read_spikes(path, p).n_spikes for p in list_populations(path))
    result["seconds"] = time.perf_counter() - t0
    result["n_spikes"] = total
elif mode == "read_streaming":
    t0 = time.perf_counter()
    total = 0
    for p in list_populations(path):
        for part in iter_spike_chunks(path, p, chunk_spikes=chunk):
            total += part.n_spikes
    result["seconds"] = time.perf_counter() - t0
    result["n_spikes"] = total
result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
"""


def _child(mode: str, path: Path, n_spikes: int, n_pops: int, chunk: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path), str(n_spikes), str(n_pops), str(chunk)],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(out_dir: Path, quick: bool = False) -> dict:
    """Measure and write ``io.json``; returns the result dictionary."""
    n_spikes = 1_000_000 if quick else 10_000_000
    n_pops, chunk = 20, 25_000  # 25k spikes per append: about one simulated second of a big population
    with tempfile.TemporaryDirectory(dir=REPO / "bench") as tmp:
        path = Path(tmp) / "bench_io.h5"
        baseline = _child("baseline", path, 0, n_pops, chunk)
        write = _child("write", path, n_spikes, n_pops, chunk)
        size = path.stat().st_size
        read = _child("read", path, n_spikes, n_pops, chunk)
        stream = _child("read_streaming", path, n_spikes, n_pops, 1_000_000)
    in_memory = write["n_spikes"] * (8 + 8)  # float64 time + uint64 id per spike
    writer_increment = write["peak_rss_bytes"] - baseline["peak_rss_bytes"]
    result = {
        "benchmark": "io",
        "n_spikes": write["n_spikes"],
        "n_populations": n_pops,
        "append_chunk_spikes": chunk,
        "file_bytes": size,
        "write_spikes_per_s": write["n_spikes"] / write["seconds"],
        "write_seconds": write["seconds"],
        "read_whole_spikes_per_s": read["n_spikes"] / read["seconds"],
        "read_streaming_spikes_per_s": stream["n_spikes"] / stream["seconds"],
        "in_memory_bytes_all_spikes": in_memory,
        "baseline_rss_bytes": baseline["peak_rss_bytes"],
        "streaming_writer_peak_rss_bytes": write["peak_rss_bytes"],
        "streaming_writer_rss_above_baseline_bytes": writer_increment,
        "writer_increment_over_in_memory_ratio": writer_increment / in_memory,
        "whole_read_peak_rss_bytes": read["peak_rss_bytes"],
        "streaming_read_peak_rss_bytes": stream["peak_rss_bytes"],
        "load_average": os.getloadavg(),
        "provenance": collect_provenance(),
    }
    write_json(out_dir / "io.json", result, overwrite=True)
    logger.info(
        "io: write %.2e spikes/s, read %.2e spikes/s, writer RSS +%.0f MB vs %.0f MB of spikes (ratio %.3f)",
        result["write_spikes_per_s"], result["read_whole_spikes_per_s"], writer_increment / 2**20,
        in_memory / 2**20, result["writer_increment_over_in_memory_ratio"],
    )
    return result
