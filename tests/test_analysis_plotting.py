"""Analysis figures: files written, axes labelled with units, data drawn as given.

Expected values are the inputs themselves (what is drawn must equal what was passed)
and the axis labels documented in each function's docstring.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from analysis.errors import SpikeDataError
from analysis.plotting import (
    plot_fano_factor,
    plot_noise_transfer_matrix,
    plot_pathway_charges,
    plot_psth,
    plot_rf_maps,
    plot_stream_metric,
    plot_tuning_curves,
    save_figure,
)


def _record(mean: float) -> dict:
    return {"mean": mean, "ci_low": mean - 0.05, "ci_high": mean + 0.05, "per_seed": [mean]}


def test_psth_saved_with_labels_and_steps(tmp_path):
    psth = np.array([[1.0, 5.0, 3.0], [2.0, 2.0, 2.0]])
    fig = plot_psth(psth, bin_size=0.01, t_start=-0.01, labels=["v1", "v2"], stimulus_onset=0.0)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_ylabel() == "rate (spikes/s)"
    # the stairs artist holds the values passed (source: the input array)
    stairs = [p for p in ax.patches]
    np.testing.assert_allclose(stairs[0].get_data().values, psth[0], rtol=0, atol=0)
    np.testing.assert_allclose(ax.get_xlim(), (-0.01, 0.02), atol=1e-12)
    paths = save_figure(fig, tmp_path / "psth")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)  # a real image, not an empty file


def test_tuning_curves_sorted_by_angle():
    angles = np.array([90.0, 0.0, 45.0, 135.0])
    mean = np.array([[1.0], [4.0], [2.0], [0.5]])
    fig = plot_tuning_curves(angles, mean, sem=np.full_like(mean, 0.1), labels=["cell 0"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "orientation (deg)"
    assert ax.get_ylabel() == "response (spikes/s)"
    line = ax.lines[0]
    # plotted in angle order (source: input sorted by angle)
    np.testing.assert_array_equal(line.get_xdata(), [0.0, 45.0, 90.0, 135.0])
    np.testing.assert_array_equal(line.get_ydata(), [4.0, 2.0, 1.0, 0.5])
    plt.close(fig)


def test_rf_maps_one_axes_per_map_with_degree_labels():
    x = np.linspace(-2, 2, 9)
    y = np.linspace(-1, 1, 5)
    maps = np.random.default_rng(0).normal(size=(3, 5, 9))
    fig = plot_rf_maps(maps, x, y, titles=["a", "b", "c"], centers_deg=np.zeros((3, 2)),
                       sizes_deg=np.ones(3), n_columns=2)
    image_axes = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(image_axes) == 3  # one panel per map (source: input count)
    # 2 columns: left panels carry the elevation label, the lowest panel of each column the azimuth one
    assert [ax.get_ylabel() for ax in image_axes] == ["elevation (deg)", "", "elevation (deg)"]
    assert [ax.get_xlabel() for ax in image_axes] == ["", "azimuth (deg)", "azimuth (deg)"]
    # symmetric colour scale at the largest |value| (source: documented behaviour)
    assert image_axes[0].images[0].get_clim() == pytest.approx((-np.abs(maps).max(), np.abs(maps).max()), rel=1e-12)
    assert fig.axes[-1].get_ylabel() == "STA (a.u.)"
    plt.close(fig)


def test_fano_factor_panels_and_post_onset_means():
    t = np.linspace(-0.2, 0.5, 8)
    fano = {"v1": np.where(t < 0, 1.5, 1.0), "it": np.where(t < 0, 1.4, 1.2)}
    fig = plot_fano_factor(t, fano, ci={"v1": (fano["v1"] - 0.1, fano["v1"] + 0.1)}, stimulus_onset=0.0)
    ax, ax_bar = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "Fano factor")
    assert (ax_bar.get_xlabel(), ax_bar.get_ylabel()) == ("station", "Fano factor")
    heights = [bar.get_height() for bar in ax_bar.patches]
    # mean after onset of the step curves (source: the inputs, 1.0 and 1.2)
    np.testing.assert_allclose(heights, [1.0, 1.2], rtol=1e-12)
    plt.close(fig)


def test_stream_metric_from_results_json_block():
    metrics = {
        variant: {station: {layer: {"osi": _record(offset + 0.1 * k)} for layer in ("l4", "l23", "l5")}
                  for k, station in enumerate(("v1", "v2", "v4", "it"))}
        for variant, offset in (("residual", 0.3), ("hierarchical", 0.2))
    }
    fig = plot_stream_metric(metrics, "osi", "OSI (1 − circular variance)", reference=0.1)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["L4", "L2/3", "L5"]
    assert fig.axes[0].get_ylabel() == "OSI (1 − circular variance)"
    assert all(ax.get_xlabel() == "station" for ax in fig.axes)
    residual = fig.axes[2].lines[0]
    # LGN has no entry (NaN), V1..IT the means given (source: the input records)
    np.testing.assert_allclose(residual.get_ydata()[1:], [0.3, 0.4, 0.5, 0.6], rtol=1e-12)
    assert np.isnan(residual.get_ydata()[0])
    plt.close(fig)


def test_stream_metric_without_values_raises():
    with pytest.raises(SpikeDataError, match="metric"):
        plot_stream_metric({"residual": {}}, "osi", "OSI")


def test_noise_transfer_matrix_annotated():
    stations = ["v1", "v2", "v4"]
    matrix = np.array([[np.nan, np.nan, np.nan], [0.5, np.nan, np.nan], [0.25, 0.75, np.nan]])
    fig = plot_noise_transfer_matrix(matrix, stations)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "noise injected at station j"
    assert ax.get_ylabel() == "measured at station k"
    # three measured entries, printed to 2 decimals (source: the input matrix)
    assert sorted(t.get_text() for t in ax.texts) == ["0.25", "0.50", "0.75"]
    assert fig.axes[1].get_ylabel() == "transfer slope a_kj"
    plt.close(fig)


def test_noise_transfer_matrix_shape_checked():
    with pytest.raises(SpikeDataError, match="matrix"):
        plot_noise_transfer_matrix(np.zeros((2, 3)), ["v1", "v2"])


def test_pathway_charges_in_picocoulomb():
    charges = {"residual": {"lgn→l5": np.array([1e-12, 3e-12]), "pv→l5": np.array([-2e-12, -2e-12])},
               "hierarchical": {"lgn→l5": np.array([0.0, 0.0])}}
    fig = plot_pathway_charges(charges)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("pathway", "charge per trial (pC)")
    heights = [bar.get_height() for bar in ax.patches]
    # means 2 pC and −2 pC, then 0 pC and a missing pathway (source: inputs × 1e12)
    np.testing.assert_allclose(heights[:3], [2.0, -2.0, 0.0], rtol=1e-12, atol=1e-12)
    assert np.isnan(heights[3])
    plt.close(fig)


def test_psth_labels_mismatch_raises():
    with pytest.raises(SpikeDataError, match="labels"):
        plot_psth(np.ones((2, 3)), 0.01, labels=["only one"])
