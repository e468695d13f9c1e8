"""Figures of the stimulus/LGN front end: example frames, the LGN mosaic, rasters and rates.

Writes (PNG + PDF) into ``--out``:

* ``stimulus_frames``: one example frame of every stimulus type;
* ``lgn_mosaic``: ON and OFF RF centres with 1-sigma outlines;
* ``lgn_drifting_grating``: rates of an ON and an OFF cell and the LGN rasters for a
  drifting grating (1.5 s, 4 Hz, the channel's optimal spatial frequency).

Usage::

    python scripts/plot_stimuli.py --out figures/stimuli [--params macaque|macaque_mp|mouse] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from analysis.errors import VentralColumnsError
from analysis.plotting import plot_lgn_mosaic, plot_lgn_rates, plot_stimulus_frames, save_figure
from stimuli import (
    MACAQUE_PARAFOVEAL,
    MACAQUE_PARAFOVEAL_MAGNO_PARVO,
    MOUSE,
    BinaryNoise,
    Blank,
    Edge,
    Epoch,
    FlashedBar,
    FullFieldFlash,
    GaussianNoise,
    Grating,
    MovingBar,
    NaturalImage,
    Protocol,
    SparseNoise,
    StimulusGrid,
    build_lgn_mosaic,
    dog_peak_frequency,
    generate_lgn_spikes,
    lgn_node_tables,
    lgn_rates,
)

PARAMS = {"macaque": MACAQUE_PARAFOVEAL, "macaque_mp": MACAQUE_PARAFOVEAL_MAGNO_PARVO, "mouse": MOUSE}
logger = logging.getLogger("plot_stimuli")


def example_frames(field: float, dpp: float) -> tuple[list[np.ndarray], list[str]]:
    """One frame of every stimulus type on a ``field`` deg grid."""
    grid = StimulusGrid(field, dpp)
    s = field / 2  # scale sizes with the field so that the mouse field looks alike
    examples = [
        ("drifting sine grating", Grating(orientation_deg=30.0, spatial_frequency_cpd=3.0 / s)),
        ("square grating, aperture", Grating(orientation_deg=90.0, spatial_frequency_cpd=2.0 / s,
                                             waveform="square", aperture_diameter_deg=1.2 * s)),
        ("flashed bar", FlashedBar(orientation_deg=60.0, width_deg=0.15 * s, length_deg=1.2 * s)),
        ("moving bar", MovingBar(orientation_deg=90.0, width_deg=0.1 * s, contrast=-1.0, start_position_deg=0.3 * s)),
        ("edge", Edge(orientation_deg=45.0, polarity=1, position_deg=0.2 * s)),
        ("sparse noise", SparseNoise(dot_size_deg=0.1 * s, density=0.05, seed=1)),
        ("binary noise", BinaryNoise(check_size_deg=0.05 * s, seed=1)),
        ("Gaussian noise", GaussianNoise(check_size_deg=0.05 * s, seed=1)),
        ("full-field flash", FullFieldFlash(contrast=-0.6)),
        ("blank", Blank()),
        ("natural-like image", NaturalImage(seed=3)),
    ]
    frames = [stim.render(grid, [0], 0.01)[0] for _, stim in examples]
    return frames, [name for name, _ in examples]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--params", default="macaque", choices=sorted(PARAMS), help="LGN parameter set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mosaic and of the spikes")
    parser.add_argument("--overwrite", action="store_true", help="replace existing figures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = PARAMS[args.params]
    field = 80.0 if args.params == "mouse" else 2.0
    dpp = field / 100
    try:
        frames, titles = example_frames(field, dpp)
        save_figure(plot_stimulus_frames(frames, titles, field), out / "stimulus_frames", overwrite=args.overwrite)

        seeds = np.random.SeedSequence(args.seed).spawn(2)  # one per purpose: mosaic, spikes
        mosaic = build_lgn_mosaic(params, field, np.random.default_rng(seeds[0]))
        save_figure(plot_lgn_mosaic(lgn_node_tables(mosaic), field, title=f"LGN mosaic ({params.name})"),
                    out / "lgn_mosaic", overwrite=args.overwrite)

        channel = params.channels[0]
        grating = Grating(spatial_frequency_cpd=dog_peak_frequency(channel.spatial), temporal_frequency_hz=4.0)
        protocol = Protocol([Epoch(Blank(), 0.25), Epoch(grating, 1.5, blank_after=0.25)], 0.01, field, dpp,
                            name="drifting_grating")
        rates = lgn_rates(protocol, mosaic, time_step=0.001)
        spikes = generate_lgn_spikes(protocol, mosaic, seed=seeds[1], dt=1e-4)
        centre = np.hypot(mosaic.x_deg, mosaic.y_deg)
        on = mosaic.population_indices("lgn_on")
        off = mosaic.population_indices("lgn_off")
        pick = [int(on[np.argmin(centre[on])]), int(off[np.argmin(centre[off])])]
        fig = plot_lgn_rates(rates[pick], 0.001, ["ON cell nearest the centre", "OFF cell nearest the centre"],
                             [spikes["lgn_on"], spikes["lgn_off"]],
                             title=f"drifting grating {grating.spatial_frequency_cpd:.2g} cpd, 4 Hz (0.25-1.75 s)")
        save_figure(fig, out / "lgn_drifting_grating", overwrite=args.overwrite)
    except VentralColumnsError as exc:
        print(f"plot_stimuli: error: {exc}", file=sys.stderr)
        return 2
    logger.info("figures written to %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
