"""The laptop-scale demo behind ``make demo`` / ``ventral-columns demo``.

Interim version (issue #2): until the stream (#5) and the experiments (#7) land, the demo
exercises the data path end to end on synthetic homogeneous Poisson spikes: it writes an
HDF5 file in the SONATA layout, a JSON summary read back from that file, and a raster
figure (PNG + PDF).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from analysis.hdf5_io import file_info, write_spike_record
from analysis.outputs import write_json
from analysis.provenance import collect_provenance
from analysis.spiketrains import SpikeRecord, SpikeTrains

__all__ = ["run_demo"]

logger = logging.getLogger(__name__)

_DEMO_POPULATIONS = {"lgn_on": (200, 10.0), "v1_l4_exc": (400, 4.0), "v1_l5_exc": (300, 7.0)}


def run_demo(out: str | os.PathLike[str], overwrite: bool = False, seed: int = 1) -> dict:
    """Write ``demo.h5``, ``summary.json`` and ``raster.{png,pdf}`` under ``out``."""
    from analysis.plotting import plot_raster, save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = {"master": seed, "spikes": int(np.random.SeedSequence(seed).generate_state(1)[0])}
    rng = np.random.default_rng(seeds["spikes"])
    duration = 2.0
    spikes = {}
    for name, (n_nodes, rate) in _DEMO_POPULATIONS.items():
        n = rng.poisson(rate * n_nodes * duration)
        spikes[name] = SpikeTrains(name, rng.integers(0, n_nodes, n), rng.uniform(0, duration, n), n_nodes, 0.0, duration)
    record = SpikeRecord(
        spikes=spikes,
        trials={"start": [0.0, 1.0], "stop": [1.0, 2.0], "trial": [0, 1], "condition": ["blank", "blank"]},
        config={"demo": "synthetic-poisson", "rates_hz": {k: v[1] for k, v in _DEMO_POPULATIONS.items()}},
        provenance=collect_provenance(seeds=seeds, device="none", threads=1, biological_time_s=duration),
    )
    h5 = write_spike_record(record, out / "demo.h5", overwrite=overwrite)
    summary = file_info(h5)
    write_json(out / "summary.json", summary, overwrite=overwrite)
    save_figure(plot_raster(list(record), title="demo (synthetic Poisson)"), out / "raster", overwrite=overwrite)
    for name, pop in summary["populations"].items():
        logger.info("%s: %d spikes, %.2f Hz", name, pop["n_spikes"], pop["mean_rate_hz"])
    print(f"demo: wrote {h5}, {out / 'summary.json'}, {out / 'raster.png'}")  # user-facing CLI output
    return summary
