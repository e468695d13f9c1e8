"""P2 and G4, variability along the stream: ``python scripts/variability.py --out DIR [--seeds N]``.

A thin example of the experiment API (the same as ``ventral-columns experiment
variability``): run every variant x seed x condition (baseline, gain noise at each station,
gain noise plus a block lesion), then read the noise-transfer slopes, Fano factors and
verdicts back from ``results.json``. See docs/exp_variability.md.
"""

from __future__ import annotations

import argparse
import logging

from circuits.experiments import print_table, run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="output/variability", help="experiment directory")
    parser.add_argument("--seeds", type=int, default=5, help="number of master seeds")
    parser.add_argument("--scale", type=float, default=1.0, help="network scale")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of the grating (default 100)")
    parser.add_argument("--variants", nargs="+", default=None, help="default: all four variants")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = {"stimulus": {"repeats": args.repeats}} if args.repeats else None
    results = run_experiment("variability", args.out, variants=args.variants, n_seeds=args.seeds, scale=args.scale,
                             device="cpp_standalone", overwrite=args.overwrite, overrides=overrides)
    stations = [s for s in ("v1", "v2", "v4") if any(s in v for v in results["metrics"].values())]
    print(print_table(results, ["fano_drop", "gain_variance"] + [f"transfer_from_{s}" for s in stations]))
    for prediction, verdict in results["verdicts"].items():
        print(prediction, "supported:", verdict["supported"])
        for criterion in verdict["criteria"]:
            print(f"  {criterion['name']}: {criterion['value']} -> {criterion['passed']}")


if __name__ == "__main__":
    main()
