"""Wiring: PD14's fixed-total-number connectivity, weight and delay draws, named Synapses.

Connectivity is drawn in numpy from an explicit :class:`numpy.random.Generator` and handed
to Brian2 as index arrays (``Synapses.connect(i=..., j=...)``): seeded per purpose,
identical on every device, and fast.

Functions
---------
draw_fixed_total_number
    Pre/post indices of a fixed number of synapses drawn uniformly with replacement
    (multapses allowed), optionally with a Gaussian fall-off with RF distance.
draw_truncated_normal
    Normal samples redrawn until they lie inside bounds (NEST ``redraw``).
draw_weights, draw_delays
    PD14 weight (sign kept) and delay (>= one time step) distributions.
connect_arrays
    A named :class:`brian2.Synapses` from explicit (i, j, weight, delay) arrays onto a
    pathway variable of the target -- the public way to connect external sources.
"""

from __future__ import annotations

import logging

import numpy as np
from brian2 import DimensionMismatchError, Quantity, Synapses, get_dimensions, second

from analysis.errors import ConfigError
from columns.synapse_models import on_pre, synapse_model, weight_unit

__all__ = [
    "draw_fixed_total_number",
    "draw_truncated_normal",
    "draw_weights",
    "draw_delays",
    "connect_arrays",
    "require_unit",
]

logger = logging.getLogger(__name__)

#: Largest number of redraw rounds before giving up (a bound far in the tail).
_MAX_REDRAWS = 1000


def require_unit(value: object, unit: Quantity, name: str) -> Quantity:
    """Return ``value`` if it has the dimensions of ``unit``, else raise a one-line ConfigError.

    Parameters
    ----------
    value : Quantity or array-like
    unit : brian2 unit (e.g. ``ms``, ``pA``)
    name : str
        The parameter's name, quoted in the message.

    Raises
    ------
    ConfigError
        ``"<name> must be in <unit> (got <dimensions>)"``.
    """
    if get_dimensions(value) is not get_dimensions(unit):
        got = get_dimensions(value)
        got_txt = "a plain number" if got.is_dimensionless else f"{got}"
        raise ConfigError(f"{name} must be a quantity in units of {unit!r}, got {got_txt}")
    return value  # type: ignore[return-value]


def draw_fixed_total_number(
    n_pre: int,
    n_post: int,
    n_synapses: int,
    rng: np.random.Generator,
    *,
    pre_positions: np.ndarray | None = None,
    post_positions: np.ndarray | None = None,
    falloff_sigma: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_synapses`` (pre, post) pairs uniformly with replacement.

    Parameters
    ----------
    n_pre, n_post : int
        Population sizes (> 0).
    n_synapses : int
        Number of synapses (>= 0), e.g. from :func:`columns.derived.scaled_synapse_number`.
    rng : numpy.random.Generator
        The connectivity generator.
    pre_positions, post_positions : ndarray, shape (n, 2), optional
        RF centres (deg) for the distance fall-off.
    falloff_sigma : float, optional
        Gaussian width (deg): a proposed pair is kept with probability
        :math:`\\exp(-d^2 / 2\\sigma^2)`; proposals repeat until ``n_synapses`` are kept, so
        the total number is unchanged.

    Returns
    -------
    pre, post : ndarray of int32, shape (n_synapses,)
        Sorted by ``post`` then ``pre`` (faster delivery, reproducible order).

    Raises
    ------
    ConfigError
        Non-positive sizes, a negative count, or a fall-off without positions.
    """
    if n_pre < 1 or n_post < 1:
        raise ConfigError(f"population sizes must be positive, got n_pre={n_pre}, n_post={n_post}")
    if n_synapses < 0:
        raise ConfigError(f"number of synapses must be >= 0, got {n_synapses}")
    if falloff_sigma is None:
        pre = rng.integers(0, n_pre, n_synapses, dtype=np.int32)
        post = rng.integers(0, n_post, n_synapses, dtype=np.int32)
    else:
        if pre_positions is None or post_positions is None:
            raise ConfigError("rf_falloff_sigma needs RF centres (rf_x, rf_y labels) of both populations")
        if not falloff_sigma > 0:
            raise ConfigError(f"rf_falloff_sigma must be positive (deg), got {falloff_sigma}")
        pre_chunks, post_chunks, kept = [], [], 0
        while kept < n_synapses:
            n_prop = max(1024, 2 * (n_synapses - kept))
            cand_pre = rng.integers(0, n_pre, n_prop, dtype=np.int32)
            cand_post = rng.integers(0, n_post, n_prop, dtype=np.int32)
            d2 = np.sum((pre_positions[cand_pre] - post_positions[cand_post]) ** 2, axis=1)
            keep = rng.random(n_prop) < np.exp(-d2 / (2.0 * falloff_sigma**2))
            pre_chunks.append(cand_pre[keep])
            post_chunks.append(cand_post[keep])
            kept += int(keep.sum())
        pre = np.concatenate(pre_chunks)[:n_synapses]
        post = np.concatenate(post_chunks)[:n_synapses]
    order = np.lexsort((pre, post))
    return pre[order], post[order]


def draw_truncated_normal(
    mean: float, std: float, n: int, rng: np.random.Generator, *, low: float = -np.inf, high: float = np.inf
) -> np.ndarray:
    """Normal samples, each redrawn until it lies in ``[low, high]`` (NEST ``redraw``).

    Parameters
    ----------
    mean, std : float
        Of the untruncated normal (plain numbers in one unit).
    n : int
    rng : numpy.random.Generator
    low, high : float

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> x = draw_truncated_normal(0.5, 1.0, 1000, np.random.default_rng(1), low=0.1)
    >>> bool(x.min() >= 0.1)
    True
    """
    out = rng.normal(mean, std, n)
    for _ in range(_MAX_REDRAWS):
        bad = (out < low) | (out > high)
        n_bad = int(bad.sum())
        if n_bad == 0:
            return out
        out[bad] = rng.normal(mean, std, n_bad)
    raise ConfigError(f"could not draw from normal({mean}, {std}) truncated to [{low}, {high}]")


def draw_weights(mean: Quantity, rel_std: float, n: int, rng: np.random.Generator) -> Quantity:
    """PD14 weights: normal with s.d. ``rel_std * |mean|``, redrawn to keep the sign of ``mean``.

    Returns
    -------
    Quantity, shape (n,)
        In the unit of ``mean``.
    """
    unit_value = float(abs(mean)) if float(mean) != 0 else 1.0
    m = float(mean) / unit_value
    low, high = (0.0, np.inf) if m >= 0 else (-np.inf, 0.0)
    return draw_truncated_normal(m, abs(m) * rel_std, n, rng, low=low, high=high) * unit_value * _unit_of(mean)


def draw_delays(mean: Quantity, rel_std: float, n: int, rng: np.random.Generator, minimum: Quantity) -> Quantity:
    """PD14 delays: normal with s.d. ``rel_std * mean``, redrawn below ``minimum`` (one dt).

    Returns
    -------
    Quantity (second), shape (n,)
    """
    m, lo = float(mean / second), float(minimum / second)
    return draw_truncated_normal(m, m * rel_std, n, rng, low=lo) * second


def _unit_of(value: Quantity) -> Quantity:
    """The SI unit (as a quantity of 1) with the dimensions of ``value``."""
    return Quantity(1.0, dim=get_dimensions(value))


def connect_arrays(
    source: object,
    target: object,
    *,
    name: str,
    i: np.ndarray,
    j: np.ndarray,
    weight: Quantity,
    delay: Quantity,
    pathway: str = "ff",
    model: str = "current",
) -> Synapses:
    """Connect ``source`` onto the pathway variable of ``target`` from explicit arrays.

    Parameters
    ----------
    source : brian2 group (NeuronGroup, SpikeGeneratorGroup, PoissonGroup...)
    target : brian2.NeuronGroup
        A population built by :func:`columns.populations.make_population`.
    name : str
        Stable Brian2 name, e.g. ``"lgn_on_to_v1_l4_exc"``.
    i, j : array of int, shape (n_synapses,)
        Source and target indices (duplicates = multapses).
    weight : Quantity, scalar or shape (n_synapses,)
        In amp (current model) or siemens (conductance model); sign = effect.
    delay : Quantity (second), scalar or shape (n_synapses,)
        Rounded by Brian2 to the time step.
    pathway : str
        Target pathway suffix: ``"ff"`` increments ``I_ff`` (``g_ff``).
    model : str
        Cell model of the target: ``"current"`` or ``"conductance"``.

    Returns
    -------
    brian2.Synapses
        Named ``name``; add it to the Network (or let the column's ``brian_objects`` do it).

    Raises
    ------
    ConfigError
        Wrong units, mismatched lengths, indices out of range, or a pathway the target
        does not have.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if i.shape != j.shape or i.ndim != 1:
        raise ConfigError(f"i and j of {name!r} must be 1-d arrays of equal length, got {i.shape} and {j.shape}")
    n_src, n_tgt = len(source), len(target)  # type: ignore[arg-type]
    if i.size and (i.min() < 0 or i.max() >= n_src):
        raise ConfigError(f"source indices i of {name!r} must be in [0, {n_src}), got [{i.min()}, {i.max()}]")
    if j.size and (j.min() < 0 or j.max() >= n_tgt):
        raise ConfigError(f"target indices j of {name!r} must be in [0, {n_tgt}), got [{j.min()}, {j.max()}]")
    require_unit(weight, weight_unit(model), f"weight of {name!r}")
    require_unit(delay, second, f"delay of {name!r}")
    for label, arr in (("weight", weight), ("delay", delay)):
        size = np.size(arr)
        if size not in (1, i.size):
            raise ConfigError(f"{label} of {name!r} must be a scalar or have {i.size} entries, got {size}")
    variable = on_pre(pathway, model).split("_post")[0]
    if variable not in target.variables:  # type: ignore[attr-defined]
        valid = sorted(v[2:] for v in target.variables if v.startswith(("I_", "g_")) and v[2:] not in ("ext", "dc", "tonic", "silence", "syn_exc", "syn_inh"))  # type: ignore[attr-defined]
        from analysis.errors import suggest

        raise ConfigError(f"target {target.name!r} has no pathway {pathway!r}; valid: {valid}{suggest(pathway, valid)}")  # type: ignore[attr-defined]
    syn = Synapses(source, target, model=synapse_model(model), on_pre=on_pre(pathway, model), name=name)
    syn.connect(i=i, j=j)
    try:
        syn.w = weight
        syn.delay = delay
    except DimensionMismatchError as exc:  # pragma: no cover - require_unit catches it first
        raise ConfigError(f"weight/delay of {name!r} have wrong units: {exc}") from exc
    logger.debug("%s: %d synapses onto %s", name, i.size, variable)
    return syn
