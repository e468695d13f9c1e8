"""PD-b / G5, does the stream look hierarchical: ``python scripts/hierarchy.py --out DIR [--seeds N]``.

A thin example of the experiment API (the same as ``ventral-columns experiment
hierarchy``): sparse noise (RF size) and drifting gratings (latency, F1/F0, OSI) for every
variant x seed, then the metrics and the G5 / PD-b verdicts from ``results.json``.
``--noise`` shortens the sparse noise (s) for a quick look.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from circuits import experiments
from circuits.exp_hierarchy import DEFAULT_HIERARCHY_PROTOCOL, hierarchy_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="output/hierarchy", help="experiment directory")
    parser.add_argument("--seeds", type=int, default=5, help="number of master seeds")
    parser.add_argument("--scale", type=float, default=1.0, help="network scale")
    parser.add_argument("--variants", nargs="+", default=None, help="default: all four variants")
    parser.add_argument("--noise", type=float, default=None, help="sparse noise per run, s")
    parser.add_argument("--device", default="cpp_standalone", choices=("runtime", "cpp_standalone"))
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.noise is not None:
        noise = dataclasses.replace(DEFAULT_HIERARCHY_PROTOCOL.noise, duration=args.noise)
        protocol = dataclasses.replace(DEFAULT_HIERARCHY_PROTOCOL, noise=noise)
        experiments.EXPERIMENT_SPECS["hierarchy"] = hierarchy_spec(protocol)
    results = experiments.run_experiment("hierarchy", args.out, variants=args.variants, n_seeds=args.seeds,
                                         scale=args.scale, device=args.device, overwrite=args.overwrite)
    print(experiments.print_table(results, metrics=("rf_size_deg", "latency_s", "f1_f0", "osi")))
    for prediction, verdict in results["verdicts"].items():
        print(prediction, "supported:", verdict["supported"])


if __name__ == "__main__":
    main()
