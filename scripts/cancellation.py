"""P3, cancellation in L5: ``python scripts/cancellation.py --out DIR [--seeds N]``.

A thin, readable example of the experiment API (the same as
``ventral-columns experiment cancellation``): for every variant x seed, run the P1 grating
set intact, with L4 silenced and with L2/3 silenced; then print the L5 charge metrics, the
effect of silencing and the P3 verdicts read back from ``results.json``.
"""

from __future__ import annotations

import argparse
import logging

from circuits.experiments import STATIONS, run_experiment

METRICS = ("cancellation_index", "cancellation_index_shuffled", "deletion_ratio",
           "fraction_raised_silence_l4", "fraction_raised_silence_l23")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="output/cancellation", help="experiment directory")
    parser.add_argument("--seeds", type=int, default=5, help="number of master seeds")
    parser.add_argument("--scale", type=float, default=1.0, help="network scale")
    parser.add_argument("--variants", nargs="+", default=None,
                        help="default: residual, hierarchical, hierarchical_rate_matched")
    parser.add_argument("--device", default="cpp_standalone", choices=("runtime", "cpp_standalone"))
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = run_experiment("cancellation", args.out, variants=args.variants, n_seeds=args.seeds,
                             scale=args.scale, device=args.device, overwrite=args.overwrite)
    print(f"{'variant':28s}{'station':8s}" + "".join(f"{m[-20:]:>22s}" for m in METRICS))
    for variant, stations in results["metrics"].items():
        for station in STATIONS:
            l5 = stations.get(station, {}).get("l5")
            if l5:
                cells = [f"{l5[m]['mean']:22.3f}" if m in l5 else f"{'-':>22s}" for m in METRICS]
                print(f"{variant:28s}{station:8s}" + "".join(cells))
    for prediction, verdict in results["verdicts"].items():
        print(f"\n{prediction} supported: {verdict['supported']}")
        for criterion in verdict["criteria"]:
            value = "n/a" if criterion["value"] is None else f"{criterion['value']:+.3f}"
            print(f"  {criterion['name']}: {value} -> {criterion['passed']}")
    print(f"\nfigures in {args.out}/figures")


if __name__ == "__main__":
    main()
