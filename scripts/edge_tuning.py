"""P1, edge tuning along the stream: ``python scripts/edge_tuning.py --out DIR [--seeds N]``.

A thin, readable example of the experiment API (the same as
``ventral-columns experiment edge-tuning``): run every variant x seed, then read the
metrics and verdicts back from ``results.json``.
"""

from __future__ import annotations

import argparse
import logging

from circuits.experiments import print_table, run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="output/edge-tuning", help="experiment directory")
    parser.add_argument("--seeds", type=int, default=5, help="number of master seeds")
    parser.add_argument("--scale", type=float, default=1.0, help="network scale")
    parser.add_argument("--variants", nargs="+", default=None, help="default: all four P1 variants")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = run_experiment("edge-tuning", args.out, variants=args.variants, n_seeds=args.seeds,
                             scale=args.scale, device="cpp_standalone", overwrite=args.overwrite)
    print(print_table(results))
    for prediction, verdict in results["verdicts"].items():
        print(prediction, "supported:", verdict["supported"])


if __name__ == "__main__":
    main()
