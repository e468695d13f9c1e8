"""The stimuli figures of analysis.plotting draw what they are given."""

from __future__ import annotations

import numpy as np

from analysis.plotting import plot_lgn_mosaic, plot_lgn_rates, plot_stimulus_frames, save_figure
from stimuli import MACAQUE_PARAFOVEAL, Grating, StimulusGrid, build_lgn_mosaic, inhomogeneous_poisson, lgn_node_tables


def test_stimulus_frames_figure(tmp_path):
    grid = StimulusGrid(1.0, 0.05)
    frames = [Grating(orientation_deg=o).render(grid, [0], 0.01)[0] for o in (0.0, 45.0, 90.0)]
    fig = plot_stimulus_frames(frames, ["0", "45", "90"], 1.0, n_columns=2)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    # one image per frame, shown unchanged on the fixed [-1, 1] contrast scale
    assert len(images) == 3
    np.testing.assert_array_equal(images[1].get_array(), frames[1])
    assert images[0].get_clim() == (-1, 1)
    paths = save_figure(fig, tmp_path / "frames")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)


def test_mosaic_and_rates_figures():
    mosaic = build_lgn_mosaic(MACAQUE_PARAFOVEAL, 0.6, 0)
    fig = plot_lgn_mosaic(lgn_node_tables(mosaic), 0.6)
    ax = fig.axes[0]
    # one outline per cell (an EllipseCollection per population) with diameter 2 sigma_c
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [mosaic.n_nodes("lgn_on"), mosaic.n_nodes("lgn_off")]
    rates = np.vstack([np.full(100, 10.0), np.linspace(0, 50, 100)])
    spikes = inhomogeneous_poisson(rates, 0.01, seed=0, population="lgn_on")
    fig = plot_lgn_rates(rates, 0.01, ["flat", "ramp"], [spikes])
    top = fig.axes[0]
    # the two rate curves as given, at bin centres
    np.testing.assert_allclose(top.lines[1].get_ydata(), rates[1])
    np.testing.assert_allclose(top.lines[0].get_xdata()[:2], [0.005, 0.015])
    # the raster holds every spike of the population (2 nodes < max_nodes)
    assert len(fig.axes[1].collections[0].get_offsets()) == spikes.n_spikes
