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
