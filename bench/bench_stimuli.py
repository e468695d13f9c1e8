"""Stimulus/LGN benchmark: rendering + LN filtering speed, and peak memory of a 20-minute protocol.

Acceptance of issue #3:

* rendering + LGN filtering of a 10 s protocol (drifting grating) at 100 frames/s for
  ~1,000 LGN cells (parvo mosaic, 2 x 2 deg, 0.02 deg pixels): target under 5 s;
* peak resident set size of a 20-minute sparse-noise protocol taken all the way to LGN
  spikes (``generate_lgn_spikes`` with a 0.1 ms simulation step, 1 ms rate steps,
  every spike kept in memory): target under 1 GiB.

Each measurement runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its
own; a baseline subprocess that only imports the modules gives the floor. Timings are
the median of three runs in one process (first run included, as a user would see it).

Writes ``<out>/stimuli.json``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from analysis.outputs import write_json
from analysis.provenance import collect_provenance

logger = logging.getLogger("bench.stimuli")
REPO = Path(__file__).resolve().parents[1]

#: Targets of issue #3.
TARGET_SECONDS = 5.0
TARGET_RSS_BYTES = 2**30

_CHILD = r"""
import json, resource, statistics, sys, time
import numpy as np
from stimuli import (MACAQUE_PARAFOVEAL, Epoch, Grating, Protocol, build_lgn_mosaic, generate_lgn_spikes,
                     lgn_rates, sparse_noise_protocol)

mode, duration = sys.argv[1], float(sys.argv[2])
field, dpp, frame = 2.0, 0.02, 0.01
mosaic = build_lgn_mosaic(MACAQUE_PARAFOVEAL, field, 0)
result = {"n_cells": mosaic.n_cells, "field_size_deg": field, "deg_per_pixel": dpp, "frame_duration_s": frame,
          "duration_s": duration}
if mode == "speed":
    protocol = Protocol([Epoch(Grating(spatial_frequency_cpd=1.4, temporal_frequency_hz=4.0), duration)],
                        frame, field, dpp)
    render, filt, filt_1ms, spikes = [], [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        n = sum(f.shape[0] for _, f in protocol.iter_frames(100))
        render.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rates = lgn_rates(protocol, mosaic, block_frames=100)
        filt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rates_1ms = lgn_rates(protocol, mosaic, block_frames=100, time_step=0.001)
        filt_1ms.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = generate_lgn_spikes(protocol, mosaic, seed=1, dt=1e-4, block_frames=100)
        spikes.append(time.perf_counter() - t0)
    result.update(n_frames=protocol.n_frames, render_seconds=statistics.median(render),
                  render_and_filter_seconds=statistics.median(filt),
                  render_and_filter_1ms_rates_seconds=statistics.median(filt_1ms),
                  render_filter_and_spikes_seconds=statistics.median(spikes),
                  n_spikes=sum(st.n_spikes for st in out.values()),
                  mean_rate_hz=float(rates.mean()))
elif mode == "memory":
    protocol = sparse_noise_protocol(duration=duration, trial_duration=10.0, dot_size_deg=0.1, density=0.02,
                                     noise_frame_duration=0.05, frame_duration=frame, field_size_deg=field,
                                     deg_per_pixel=dpp, seed=0)
    t0 = time.perf_counter()
    out = generate_lgn_spikes(protocol, mosaic, seed=1, dt=1e-4, block_frames=100)
    result.update(seconds=time.perf_counter() - t0, n_frames=protocol.n_frames,
                  n_spikes=sum(st.n_spikes for st in out.values()),
                  spike_bytes=sum(st.times.nbytes + st.node_ids.nbytes for st in out.values()),
                  frames_bytes_if_materialised=protocol.n_frames * protocol.grid.n_pixels**2 * 8)
result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
"""


def _child(mode: str, duration: float) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(duration)],
                         capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(out_dir: Path, quick: bool = False) -> dict:
    """Measure and write ``stimuli.json``; returns the result dictionary."""
    speed_duration = 2.0 if quick else 10.0
    memory_duration = 120.0 if quick else 1200.0
    baseline = _child("baseline", 1.0)
    speed = _child("speed", speed_duration)
    memory = _child("memory", memory_duration)
    result = {
        "benchmark": "stimuli",
        "quick": quick,
        "speed": speed,
        "speed_target_seconds": TARGET_SECONDS,
        "speed_ratio_to_target": speed["render_and_filter_seconds"] / TARGET_SECONDS
        * (10.0 / speed_duration),
        "memory": memory,
        "baseline_rss_bytes": baseline["peak_rss_bytes"],
        "memory_target_bytes": TARGET_RSS_BYTES,
        "memory_ratio_to_target": memory["peak_rss_bytes"] / TARGET_RSS_BYTES,
        "load_average": os.getloadavg(),
        "provenance": collect_provenance(),
    }
    write_json(out_dir / "stimuli.json", result, overwrite=True)
    logger.info(
        "stimuli: %d cells, %.0f s at 100 frames/s: render %.2f s, render+filter %.2f s (target %.0f s), "
        "+spikes %.2f s; %.0f-min sparse noise to spikes: peak RSS %.0f MB (baseline %.0f MB, target %.0f MB), "
        "%.2e spikes in %.0f s",
        speed["n_cells"], speed_duration, speed["render_seconds"], speed["render_and_filter_seconds"],
        TARGET_SECONDS, speed["render_filter_and_spikes_seconds"], memory_duration / 60,
        memory["peak_rss_bytes"] / 2**20, baseline["peak_rss_bytes"] / 2**20, TARGET_RSS_BYTES / 2**20,
        memory["n_spikes"], memory["seconds"],
    )
    return result
