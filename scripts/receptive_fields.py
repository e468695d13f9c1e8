"""PD-a, receptive fields along the stream: ``python scripts/receptive_fields.py --out DIR [--seeds N]``.

A thin example of the experiment API (the same as ``ventral-columns experiment
receptive-fields``): sparse noise and flashed natural-like images for every variant x seed,
then the STA / LN metrics and the PD-a verdict read back from ``results.json``.
``--noise`` shortens the sparse noise (s) for a quick look; the default (300 s) is what
the STAs need at scale 1 (docs/exp_receptive_fields.md). ``--maps RUN.h5 --figure STEM``
instead draws the STA maps of the best-mapped cells of one noise run.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from analysis.hdf5_io import read_spike_record
from analysis.plotting import save_figure
from circuits import experiments
from circuits.exp_receptive_fields import DEFAULT_RF_PROTOCOL, receptive_fields_spec, rf_map_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="output/receptive-fields", help="experiment directory")
    parser.add_argument("--seeds", type=int, default=5, help="number of master seeds")
    parser.add_argument("--scale", type=float, default=1.0, help="network scale")
    parser.add_argument("--variants", nargs="+", default=None, help="default: all four variants")
    parser.add_argument("--noise", type=float, default=None, help="sparse noise per run, s")
    parser.add_argument("--device", default="cpp_standalone", choices=("runtime", "cpp_standalone"))
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--maps", default=None, help="a runs/<variant>_noise_seed<k>.h5 file: draw its STA maps")
    parser.add_argument("--figure", default="rf_maps", help="with --maps: output stem (PNG + PDF)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.maps:
        record = read_spike_record(args.maps)
        fig = rf_map_figure(record, ("lgn_on", "lgn_off", "v1_l4_exc", "v1_l5_exc"))
        print(save_figure(fig, args.figure, overwrite=args.overwrite))
        return
    if args.noise is not None:
        noise = dataclasses.replace(DEFAULT_RF_PROTOCOL.noise, duration=args.noise)
        protocol = dataclasses.replace(DEFAULT_RF_PROTOCOL, noise=noise)
        experiments.EXPERIMENT_SPECS["receptive-fields"] = receptive_fields_spec(protocol)
    results = experiments.run_experiment("receptive-fields", args.out, variants=args.variants,
                                         n_seeds=args.seeds, scale=args.scale, device=args.device,
                                         overwrite=args.overwrite)
    print(experiments.print_table(results, metrics=("ln_r", "rf_size_deg", "reliability")))
    for prediction, verdict in results["verdicts"].items():
        print(prediction, "supported:", verdict["supported"])


if __name__ == "__main__":
    main()
