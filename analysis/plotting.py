"""Figures (the only module that imports matplotlib; used by scripts and the CLI).

Functions
---------
save_figure
    Save a figure as PNG and PDF, atomically, and close it.
plot_raster
    Spike raster of several populations, stacked, one colour per population.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless machines and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.outputs import atomic_output  # noqa: E402
from analysis.spiketrains import SpikeTrains  # noqa: E402

__all__ = ["save_figure", "plot_raster"]


def save_figure(fig: plt.Figure, stem: str | os.PathLike[str], overwrite: bool = False) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf`` atomically, then close the figure."""
    paths = []
    for suffix in (".png", ".pdf"):
        final = Path(f"{stem}{suffix}")
        with atomic_output(final, overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight", format=suffix[1:])
        paths.append(final)
    plt.close(fig)
    return paths


def plot_raster(
    spiketrains: Sequence[SpikeTrains],
    t_start: float | None = None,
    t_stop: float | None = None,
    max_nodes: int = 200,
    title: str | None = None,
) -> plt.Figure:
    """Raster of several populations stacked vertically (first one at the top).

    Parameters
    ----------
    spiketrains : sequence of SpikeTrains
        Populations to draw.
    t_start, t_stop : float, optional
        Time window, s (default: the union of the windows).
    max_nodes : int
        At most this many neurons per population are drawn (the first ones).
    title : str, optional
        Figure title.
    """
    t0 = min(st.t_start for st in spiketrains) if t_start is None else t_start
    t1 = max(st.t_stop for st in spiketrains) if t_stop is None else t_stop
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.5 * len(spiketrains)))
    offset = 0
    ticks, labels = [], []
    colours = plt.get_cmap("tab10")
    for k, st in enumerate(reversed(list(spiketrains))):
        shown = min(st.n_nodes, max_nodes)
        keep = (st.node_ids < shown) & (st.times >= t0) & (st.times <= t1)
        ax.scatter(st.times[keep], offset + st.node_ids[keep].astype(float), s=1.0, marker="|",
                   color=colours(k % 10), linewidths=0.5)
        ticks.append(offset + shown / 2)
        labels.append(st.population)
        offset += shown + max(2, shown // 20)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(t0, t1)
    ax.set_ylim(-1, max(offset, 1))
    ax.set_xlabel("time (s)")
    if title:
        ax.set_title(title)
    return fig


# --- analysis figures ---
# Figures of the analyses (issue #6) read by the experiments (issue #7): PSTHs, tuning
# curves, RF maps, Fano factor, metrics along the stream, noise transfer, L5 pathway charges.

from collections.abc import Mapping  # noqa: E402

from matplotlib.patches import Circle  # noqa: E402

from analysis.errors import SpikeDataError  # noqa: E402

__all__ += [
    "STREAM_STATIONS",
    "STREAM_LAYERS",
    "plot_psth",
    "plot_tuning_curves",
    "plot_rf_maps",
    "plot_fano_factor",
    "plot_stream_metric",
    "plot_noise_transfer_matrix",
    "plot_pathway_charges",
]

#: Station and layer order of the stream (DESIGN §2.1; results.json keys of issue #7).
STREAM_STATIONS = ("lgn", "v1", "v2", "v4", "it")
STREAM_LAYERS = ("l4", "l23", "l5")
_LAYER_TITLES = {"l4": "L4", "l23": "L2/3", "l5": "L5"}
#: Coulomb → picocoulomb for the pathway-charge axis.
_PICO = 1e12


def _curves(name: str, values: object) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.size == 0:
        raise SpikeDataError(f"{name}: expected shape (n_curves, n_points), got {np.shape(values)}")
    return array


def _labels(name: str, labels: Sequence[str] | None, n: int, default: str) -> list[str]:
    if labels is None:
        return [f"{default} {k}" for k in range(n)] if n > 1 else [""]
    if len(labels) != n:
        raise SpikeDataError(f"{name}: has {len(labels)} entries for {n} curves")
    return list(labels)


def _finish(ax: plt.Axes, legend: bool, title: str | None) -> None:
    """Small frameless legend and an optional title: the common ending of one-axes figures."""
    if legend:
        ax.legend(frameon=False, fontsize="small")
    if title:
        ax.set_title(title)


def plot_psth(
    psth: np.ndarray,
    bin_size: float,
    t_start: float = 0.0,
    labels: Sequence[str] | None = None,
    stimulus_onset: float | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Peri-stimulus time histograms as step curves.

    Parameters
    ----------
    psth : array_like, shape (n_curves, n_bins) or (n_bins,)
        Rate, spikes/s (e.g. one curve per station or layer).
    bin_size : float
        Bin width, s.
    t_start : float
        Left edge of the first bin, s.
    labels : sequence of str, optional
        Legend entries, one per curve.
    stimulus_onset : float, optional
        Draws a dashed vertical line at this time, s.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes: x "time (s)", y "rate (spikes/s)".
    """
    curves = _curves("psth", psth)
    names = _labels("labels", labels, curves.shape[0], "curve")
    edges = t_start + np.arange(curves.shape[1] + 1) * bin_size
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    for curve, name in zip(curves, names):
        ax.stairs(curve, edges, label=name or None, linewidth=1.2)
    if stimulus_onset is not None:
        ax.axvline(stimulus_onset, color="0.4", linestyle="--", linewidth=0.8, label="stimulus onset")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate (spikes/s)")
    ax.set_xlim(edges[0], edges[-1])
    _finish(ax, any(names) or stimulus_onset is not None, title)
    return fig


def plot_tuning_curves(
    angles_deg: np.ndarray,
    mean: np.ndarray,
    sem: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    xlabel: str = "orientation (deg)",
    title: str | None = None,
) -> plt.Figure:
    """Tuning curves with SEM error bars.

    Parameters
    ----------
    angles_deg : array_like, shape (n_conditions,)
        Stimulus orientation or direction, deg.
    mean : array_like, shape (n_conditions, n_curves) or (n_conditions,)
        Mean response per condition, spikes/s (as from :func:`analysis.tuning.tuning_curves`).
    sem : array_like, same shape as ``mean``, optional
        Standard errors.
    labels : sequence of str, optional
        One per curve.
    xlabel : str
        x-axis label (with its unit).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes: x ``xlabel``, y "response (spikes/s)".
    """
    angles = np.asarray(angles_deg, dtype=np.float64)
    curves = _curves("mean", np.asarray(mean, dtype=np.float64).T)
    if curves.shape[1] != angles.size:
        raise SpikeDataError(f"mean: has {curves.shape[1]} conditions but angles_deg has {angles.size}")
    errors = None if sem is None else _curves("sem", np.asarray(sem, dtype=np.float64).T)
    names = _labels("labels", labels, curves.shape[0], "neuron")
    order = np.argsort(angles)
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    for k, (curve, name) in enumerate(zip(curves, names)):
        err = None if errors is None else errors[k][order]
        ax.errorbar(angles[order], curve[order], yerr=err, marker="o", markersize=3, capsize=2,
                    label=name or None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("response (spikes/s)")
    ax.set_ylim(bottom=0)
    _finish(ax, any(names), title)
    return fig


def plot_rf_maps(
    rf_maps: np.ndarray,
    x_deg: np.ndarray,
    y_deg: np.ndarray,
    titles: Sequence[str] | None = None,
    centers_deg: np.ndarray | None = None,
    sizes_deg: np.ndarray | None = None,
    n_columns: int = 4,
    colorbar_label: str = "STA (a.u.)",
) -> plt.Figure:
    """Receptive-field maps on a shared symmetric colour scale.

    Parameters
    ----------
    rf_maps : array_like, shape (n_maps, n_y, n_x) or (n_y, n_x)
        Maps, ``map[i, j]`` at azimuth ``x_deg[j]``, elevation ``y_deg[i]``.
    x_deg, y_deg : array_like
        Grid, deg.
    titles : sequence of str, optional
        One per map.
    centers_deg, sizes_deg : array_like, optional
        Fitted centres (n_maps, 2) and diameters (n_maps,), deg, drawn as circles
        (e.g. from :func:`analysis.rf_fitting.fit_gabor`).
    n_columns : int
        Panels per row.
    colorbar_label : str
        Label of the colour bar (with unit).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per map (shared axes; x label "azimuth (deg)" on the bottom panel of each
        column, y label "elevation (deg)" on the left column) and a colour bar.
    """
    maps = np.asarray(rf_maps, dtype=np.float64)
    maps = maps[None] if maps.ndim == 2 else maps
    x = np.asarray(x_deg, dtype=np.float64)
    y = np.asarray(y_deg, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[1:] != (y.size, x.size) or maps.shape[0] == 0:
        raise SpikeDataError(f"rf_maps: expected shape (n_maps, {y.size}, {x.size}), got {np.shape(rf_maps)}")
    names = _labels("titles", titles, maps.shape[0], "cell")
    n_cols = max(1, min(n_columns, maps.shape[0]))
    n_rows = int(np.ceil(maps.shape[0] / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols + 0.8, 2.4 * n_rows), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    limit = float(np.nanmax(np.abs(maps))) or 1.0
    dx, dy = (x[1] - x[0]) / 2 if x.size > 1 else 0.5, (y[1] - y[0]) / 2 if y.size > 1 else 0.5
    image = None
    for k, ax in enumerate(axes.flat):
        if k >= maps.shape[0]:
            ax.set_axis_off()
            continue
        image = ax.imshow(maps[k], origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit,
                          extent=(x[0] - dx, x[-1] + dx, y[0] - dy, y[-1] + dy))
        if centers_deg is not None and sizes_deg is not None and np.isfinite(sizes_deg[k]):
            ax.add_patch(Circle(tuple(centers_deg[k]), sizes_deg[k] / 2, fill=False, color="k", linewidth=0.8))
        # shared axes: label the outer panels only, so labels never overlap neighbours
        if k // n_cols == n_rows - 1 or k + n_cols >= maps.shape[0]:
            ax.set_xlabel("azimuth (deg)")
        if k % n_cols == 0:
            ax.set_ylabel("elevation (deg)")
        if names[k]:
            ax.set_title(names[k], fontsize="small")
    fig.colorbar(image, ax=axes, label=colorbar_label, shrink=0.8)
    return fig


def plot_fano_factor(
    times: np.ndarray,
    fano: Mapping[str, np.ndarray],
    ci: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    stimulus_onset: float | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Fano factor over time, one curve per station, and its mean after onset per station.

    Parameters
    ----------
    times : array_like, shape (n_bins,)
        Window centres, s.
    fano : mapping station → array_like, shape (n_bins,)
        Fano factor (e.g. mean-matched) per window.
    ci : mapping station → (low, high), optional
        Confidence band per station, each shape (n_bins,).
    stimulus_onset : float, optional
        Onset time, s: drawn as a dashed line; the right panel averages windows after it
        (all windows when not given).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Left axes: x "time (s)", y "Fano factor"; right axes: x "station", y "Fano factor".
    """
    t = np.asarray(times, dtype=np.float64)
    if not fano:
        raise SpikeDataError("fano: needs at least one station")
    fig, (ax, ax_bar) = plt.subplots(1, 2, figsize=(9, 3.5), gridspec_kw={"width_ratios": [2.2, 1]},
                                   layout="constrained")
    names, means = [], []
    after = t >= stimulus_onset if stimulus_onset is not None else np.ones(t.size, dtype=bool)
    for station, values in fano.items():
        curve = np.asarray(values, dtype=np.float64)
        if curve.shape != t.shape:
            raise SpikeDataError(f"fano[{station!r}]: shape {curve.shape} differs from times {t.shape}")
        line, = ax.plot(t, curve, label=station)
        if ci is not None and station in ci:
            ax.fill_between(t, ci[station][0], ci[station][1], color=line.get_color(), alpha=0.2, linewidth=0)
        names.append(station)
        means.append(float(np.nanmean(curve[after])) if after.any() else float("nan"))
    if stimulus_onset is not None:
        ax.axvline(stimulus_onset, color="0.4", linestyle="--", linewidth=0.8)
    ax.axhline(1.0, color="0.7", linewidth=0.6)  # Poisson reference
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Fano factor")
    ax.legend(frameon=False, fontsize="small")
    ax_bar.bar(names, means, color="0.5")
    ax_bar.axhline(1.0, color="0.7", linewidth=0.6)
    ax_bar.set_xlabel("station")
    ax_bar.set_ylabel("Fano factor")
    ax_bar.set_title("after onset" if stimulus_onset is not None else "mean", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_stream_metric(
    metrics: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Mapping[str, object]]]]],
    metric: str,
    ylabel: str,
    variants: Sequence[str] | None = None,
    layers: Sequence[str] = STREAM_LAYERS,
    stations: Sequence[str] = STREAM_STATIONS,
    reference: float | None = None,
    title: str | None = None,
) -> plt.Figure:
    """A metric along the stream (stations on x), one panel per layer, one line per variant.

    Parameters
    ----------
    metrics : mapping
        The ``"metrics"`` block of ``results.json``:
        ``{variant: {station: {layer: {metric: {"mean", "ci_low", "ci_high", ...}}}}}``.
        Missing entries are skipped.
    metric : str
        Metric name, e.g. ``"osi"`` or ``"decoding_accuracy"``.
    ylabel : str
        y-axis label with unit, e.g. ``"OSI (1 − circular variance)"``.
    variants : sequence of str, optional
        Variants to draw (default all, in the mapping's order).
    layers, stations : sequence of str
        Panel and x-axis order.
    reference : float, optional
        Horizontal dotted line (e.g. chance accuracy).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes per layer, x "station", y ``ylabel``; error bars are the CIs.
    """
    chosen = list(metrics) if variants is None else list(variants)
    if not chosen:
        raise SpikeDataError("metrics: contains no variant")
    fig, axes = plt.subplots(1, len(layers), figsize=(3.4 * len(layers), 3.6), sharey=True, squeeze=False,
                             layout="constrained")
    positions = np.arange(len(stations))
    width = 0.6 / max(1, len(chosen))
    drawn = 0
    for ax, layer in zip(axes.flat, layers):
        for v, variant in enumerate(chosen):
            per_station = metrics.get(variant, {})
            mean, low, high = (np.full(len(stations), np.nan) for _ in range(3))
            for s, station in enumerate(stations):
                record = per_station.get(station, {}).get(layer, {}).get(metric)
                if record is not None:
                    mean[s], low[s], high[s] = (np.nan if record.get(key) is None else float(record[key])
                                                for key in ("mean", "ci_low", "ci_high"))
            if np.isfinite(mean).any():
                drawn += 1
            shift = (v - (len(chosen) - 1) / 2) * width
            yerr = np.vstack([mean - low, high - mean])
            ax.errorbar(positions + shift, mean, yerr=np.where(np.isfinite(yerr), yerr, 0.0),
                        marker="o", markersize=4, capsize=2, label=variant)
        if reference is not None:
            ax.axhline(reference, color="0.5", linestyle=":", linewidth=0.8)
        ax.set_xticks(positions, [name.upper() if name != "lgn" else "LGN" for name in stations])
        ax.set_xlabel("station")
        ax.set_title(_LAYER_TITLES.get(layer, layer))
    axes[0, 0].set_ylabel(ylabel)
    if drawn == 0:
        raise SpikeDataError(f"metric: {metric!r} has no value for any variant, station and layer")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(4, len(names)), frameon=False,
               fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_noise_transfer_matrix(
    matrix: np.ndarray,
    stations: Sequence[str],
    title: str | None = None,
) -> plt.Figure:
    """Noise-transfer slopes ``a_kj`` (measured at station k after gain noise at station j).

    Parameters
    ----------
    matrix : array_like, shape (n_stations, n_stations)
        ``matrix[k, j] = a_kj`` (dimensionless); NaN where not measured (e.g. j ≥ k).
    stations : sequence of str
        Station names in matrix order.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes: x "noise injected at station j", y "measured at station k", with each
        value printed in its cell and a colour bar "transfer slope a_kj".
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] != len(stations):
        raise SpikeDataError(f"matrix: expected shape ({len(stations)}, {len(stations)}), got {values.shape}")
    fig, ax = plt.subplots(figsize=(1.1 * len(stations) + 2.0, 1.0 * len(stations) + 1.2), layout="constrained")
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-limit, vmax=limit)
    for k in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[k, j]):
                # white on the dark ends of the colour map, black elsewhere, for legibility
                colour = "white" if abs(values[k, j]) > 0.6 * limit else "black"
                ax.text(j, k, f"{values[k, j]:.2f}", ha="center", va="center", fontsize="small", color=colour)
    ax.set_xticks(range(len(stations)), list(stations))
    ax.set_yticks(range(len(stations)), list(stations))
    ax.set_xlabel("noise injected at station j")
    ax.set_ylabel("measured at station k")
    fig.colorbar(image, ax=ax, label="transfer slope a_kj")
    if title:
        ax.set_title(title)
    return fig


def plot_pathway_charges(
    charges: Mapping[str, Mapping[str, np.ndarray]],
    title: str | None = None,
) -> plt.Figure:
    """Synaptic charge per pathway onto L5 cells: grouped bars (mean ± SEM over cells).

    Parameters
    ----------
    charges : mapping variant → (mapping pathway → array_like, shape (n_cells,))
        Charge per cell and trial, C (signed: excitatory > 0, inhibitory < 0), e.g.
        ``{"residual": {"lgn→l5": q1, "l23→l5": q2, "pv→l5": q3}}``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes: x "pathway", y "charge per trial (pC)".
    """
    if not charges:
        raise SpikeDataError("charges: needs at least one variant")
    pathways: list[str] = []
    for per_pathway in charges.values():
        pathways.extend(p for p in per_pathway if p not in pathways)
    positions = np.arange(len(pathways))
    width = 0.8 / len(charges)
    fig, ax = plt.subplots(figsize=(1.2 * len(pathways) + 2.5, 3.5), layout="constrained")
    for v, (variant, per_pathway) in enumerate(charges.items()):
        mean, sem = np.full(len(pathways), np.nan), np.zeros(len(pathways))
        for p, pathway in enumerate(pathways):
            if pathway in per_pathway:
                q = np.asarray(per_pathway[pathway], dtype=np.float64).ravel() * _PICO
                q = q[np.isfinite(q)]
                if q.size:
                    mean[p] = q.mean()
                    sem[p] = q.std(ddof=1) / np.sqrt(q.size) if q.size > 1 else 0.0
        ax.bar(positions + (v - (len(charges) - 1) / 2) * width, mean, width, yerr=sem,
               capsize=2, label=variant)
    ax.axhline(0.0, color="k", linewidth=0.6)
    ax.set_xticks(positions, pathways, rotation=30, ha="right")
    ax.set_xlabel("pathway")
    ax.set_ylabel("charge per trial (pC)")
    _finish(ax, True, title)
    return fig


# --- stimuli figures ---
# Figures of the retina/LGN front end (issue #3). They take plain arrays and tables so that
# this module stays independent of the stimuli package.

__all__ += ["plot_stimulus_frames", "plot_lgn_mosaic", "plot_lgn_rates"]


def plot_stimulus_frames(
    frames: Sequence[np.ndarray],
    titles: Sequence[str],
    field_size_deg: float,
    n_columns: int = 5,
) -> plt.Figure:
    """Example frames, one panel each, in contrast units on a fixed [-1, 1] grey scale.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        Each ``(n_pixels, n_pixels)``, rows running downwards (image order).
    titles : sequence of str
        One per frame.
    field_size_deg : float
        Side of the field, deg (sets the axes extent, centred at 0).
    n_columns : int
        Panels per row.
    """
    if len(frames) != len(titles) or not frames:
        raise SpikeDataError("frames and titles must be non-empty and of equal length")
    n_rows = int(np.ceil(len(frames) / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(2.0 * n_columns, 2.1 * n_rows),
                             layout="constrained", squeeze=False)
    half = field_size_deg / 2
    image = None
    for ax, frame, title in zip(axes.flat, frames, titles):
        image = ax.imshow(frame, cmap="gray", vmin=-1, vmax=1, extent=(-half, half, -half, half))
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[len(frames):]:
        ax.set_axis_off()
    fig.colorbar(image, ax=axes, shrink=0.6, label="contrast")
    return fig


def plot_lgn_mosaic(
    nodes: Mapping[str, Mapping[str, np.ndarray]],
    field_size_deg: float,
    n_sigma: float = 1.0,
    title: str | None = None,
) -> plt.Figure:
    """ON and OFF mosaics with each cell's RF centre drawn as a circle of ``n_sigma`` sigmas.

    Parameters
    ----------
    nodes : mapping of population to node table
        Tables with ``x_deg``, ``y_deg``, ``sigma_center_deg`` (e.g. ``lgn_on``, ``lgn_off``).
    field_size_deg : float
        Side of the field, deg.
    n_sigma : float
        Circle radius in centre sigmas.
    title : str, optional
    """
    from matplotlib.collections import EllipseCollection

    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    colours = {"lgn_on": "tab:red", "lgn_off": "tab:blue"}
    for k, (population, table) in enumerate(nodes.items()):
        x = np.asarray(table["x_deg"], dtype=float)
        y = np.asarray(table["y_deg"], dtype=float)
        d = 2 * n_sigma * np.asarray(table["sigma_center_deg"], dtype=float)
        colour = colours.get(population, plt.get_cmap("tab10")(k % 10))
        ax.add_collection(EllipseCollection(d, d, np.zeros_like(d), units="xy", offsets=np.c_[x, y],
                                            offset_transform=ax.transData, facecolors="none",
                                            edgecolors=colour, linewidths=0.6, alpha=0.8))
        ax.plot(x, y, ".", color=colour, markersize=2, label=f"{population} ({x.size})")
    half = field_size_deg / 2
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.set_xlabel("x (deg)")
    ax.set_ylabel("y (deg)")
    ax.legend(markerscale=5, loc="upper right", framealpha=0.9, fontsize=8)
    _finish(ax, False, title)
    return fig


def plot_lgn_rates(
    rates: np.ndarray,
    time_step: float,
    labels: Sequence[str],
    spiketrains: Sequence[SpikeTrains] = (),
    max_nodes: int = 100,
    title: str | None = None,
) -> plt.Figure:
    """LGN rates of a few cells (top) above the spike rasters of the populations (bottom).

    Parameters
    ----------
    rates : numpy.ndarray
        ``(n_cells, n_steps)`` rates in Hz of the cells to draw.
    time_step : float
        Width of a rate step, s.
    labels : sequence of str
        One per row of ``rates``.
    spiketrains : sequence of SpikeTrains
        Populations for the raster (first at the top).
    max_nodes : int
        At most this many neurons per population in the raster.
    title : str, optional
    """
    rates = np.atleast_2d(np.asarray(rates, dtype=float))
    if len(labels) != rates.shape[0]:
        raise SpikeDataError(f"labels: need {rates.shape[0]} labels, got {len(labels)}")
    n_panels = 1 + (1 if spiketrains else 0)
    fig, axes = plt.subplots(n_panels, 1, figsize=(8, 2.6 * n_panels), sharex=True, layout="constrained",
                             squeeze=False)
    t = (np.arange(rates.shape[1]) + 0.5) * time_step
    ax = axes[0, 0]
    for row, label in zip(rates, labels):
        ax.plot(t, row, linewidth=0.8, label=label)
    ax.set_ylabel("rate (Hz)")
    _finish(ax, True, title)
    if spiketrains:
        ax = axes[1, 0]
        offset = 0
        ticks, names = [], []
        for k, st in enumerate(spiketrains):
            shown = min(st.n_nodes, max_nodes)
            keep = st.node_ids < shown
            ax.scatter(st.times[keep], offset + st.node_ids[keep].astype(float), s=1.0, marker="|",
                       color=plt.get_cmap("tab10")(k % 10), linewidths=0.5)
            ticks.append(offset + shown / 2)
            names.append(st.population)
            offset += shown + 2
        ax.set_yticks(ticks, names)
        ax.set_ylim(-1, max(offset, 1))
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(0, t[-1] + time_step / 2 if t.size else 1.0)
    return fig
