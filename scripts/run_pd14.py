"""Run the PD14 microcircuit and print its rate table next to NEST and the published rates.

Usage::

    python scripts/run_pd14.py --scale 0.1 --seeds 5 --device runtime --out output/pd14
    python scripts/run_pd14.py --scale 0.25 --seeds 5 --device cpp_standalone --threads 2

The same as ``ventral-columns experiment pd14``; one HDF5 file per seed and ``results.json``
are written when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import logging
import sys

from analysis.errors import VentralColumnsError
from circuits.pd14 import T_PRESIM_S, T_SIM_S, run_pd14


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.1, help="N and K scale (default 0.1)")
    parser.add_argument("--seeds", type=int, default=1, help="number of master seeds 1..N (default 1)")
    parser.add_argument("--device", choices=["runtime", "cpp_standalone"], default="runtime")
    parser.add_argument("--target", choices=["cython", "numpy"], default="cython", help="runtime code target")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads (cpp_standalone)")
    parser.add_argument("--background", choices=["poisson", "dc"], default="poisson")
    parser.add_argument("--pathway-resolved", action="store_true", help="I_l23/I_l4/I_l5/I_l6/I_pv instead of I_exc/I_inh")
    parser.add_argument("--t-sim", type=float, default=T_SIM_S, help=f"analysed time in s (default {T_SIM_S})")
    parser.add_argument("--out", default=None, help="output directory (HDF5 per seed + results.json)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = run_pd14(
            args.scale,
            list(range(1, args.seeds + 1)),
            device=args.device,
            target=args.target,
            threads=args.threads,
            background=args.background,
            pathway_resolved=args.pathway_resolved,
            t_presim=T_PRESIM_S,
            t_sim=args.t_sim,
            out=args.out,
            overwrite=args.overwrite,
        )
    except VentralColumnsError as exc:
        print(f"run_pd14: error: {exc}", file=sys.stderr)
        return 2
    print(summary["table"])
    walls = [r["wall_time_s"] for r in summary["runs"]]
    print("wall time per seed (s): " + "; ".join(f"build {w['build']:.1f}, compile {w['compile']:.1f}, simulate {w['simulate']:.1f}" for w in walls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
