"""Wiring rules between stations, as pure functions of cell labels (no Brian2 objects).

Each rule builds a non-negative affinity matrix ``A[target, source]`` from the labels of
the two populations and draws a fixed in-degree per target cell by weighted sampling
without replacement, so every rule is seeded, vectorised and testable on its own.

Functions
---------
gabor_templates
    Values of each target cell's Gabor template at the source positions.
hubel_wiesel_affinity
    LGN → L4 (and the LGN → L5 shortcut): ``max(0, s · G(x))``, sign-matched.
broad_pooling_affinity
    LGN → PV: Gaussian pooling that ignores the sign (feed-forward inhibition).
feature_pooling_affinity
    Station k → k+1: retinotopic Gaussian pooling restricted to the target's channels
    (feature conjunctions into L4; one channel and a narrow radius for the identity-like
    shortcut into L5).
sample_fixed_indegree
    Draw ``indegree`` distinct sources per target with probability ∝ affinity.
shuffle_targets
    The ``shuffled_skip`` control: the same connections with a permuted target map.
sign_matching_index
    Fraction of LGN → cortex connections whose sign matches the template at the source.

Conventions follow :mod:`stimuli.movies`: orientation θ is the orientation of the bars,
counter-clockwise from horizontal; the contour normal is n = (−sin θ, cos θ); a template
of phase φ is ``exp(−|x − c|² / 2σ²) · cos(2π f (x − c)·n + φ)``.

References
----------
Hubel DH, Wiesel TN (1962) J Physiol 160:106-154. doi:10.1113/jphysiol.1962.sp006837
Reid RC, Alonso JM (1995) Specificity of monosynaptic connections from thalamus to visual
cortex. Nature 378:281-284. doi:10.1038/378281a0 (opposite-sign connections very rare)
Alonso JM, Usrey WM, Reid RC (2001) Rules of connectivity between geniculate cells and
simple cells in cat primary visual cortex. J Neurosci 21:4002-4015.
doi:10.1523/JNEUROSCI.21-11-04002.2001 (about 1/3 of overlapping, sign-matched pairs connected)
Efraimidis PS, Spirakis PG (2006) Weighted random sampling with a reservoir. Inf Process
Lett 97:181-185. doi:10.1016/j.ipl.2005.11.003 (the key-based sampling used here)
"""

from __future__ import annotations

import numpy as np

from analysis.errors import ConfigError

__all__ = [
    "gabor_templates",
    "hubel_wiesel_affinity",
    "broad_pooling_affinity",
    "feature_pooling_affinity",
    "sample_fixed_indegree",
    "shuffle_targets",
    "sign_matching_index",
]


def _squared_distance(tx: np.ndarray, ty: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    return (np.asarray(tx, float)[:, None] - np.asarray(sx, float)[None, :]) ** 2 + (
        np.asarray(ty, float)[:, None] - np.asarray(sy, float)[None, :]
    ) ** 2


def gabor_templates(
    source_x: np.ndarray,
    source_y: np.ndarray,
    centre_x: np.ndarray,
    centre_y: np.ndarray,
    orientation_deg: np.ndarray,
    phase_deg: np.ndarray,
    spatial_frequency_cpd: float | np.ndarray,
    sigma_deg: float | np.ndarray,
) -> np.ndarray:
    """Gabor template of every target evaluated at every source position.

    Parameters
    ----------
    source_x, source_y : array (n_sources,)
        Source positions, deg.
    centre_x, centre_y, orientation_deg, phase_deg : array (n_targets,)
        Template centre (deg), bar orientation (deg) and phase (deg) of each target.
    spatial_frequency_cpd : float or array (n_targets,)
        Carrier frequency, cycles/deg.
    sigma_deg : float or array (n_targets,)
        Gaussian envelope s.d., deg.

    Returns
    -------
    numpy.ndarray, shape (n_targets, n_sources), float64
        Values in [-1, 1].
    """
    cx = np.asarray(centre_x, float)[:, None]
    cy = np.asarray(centre_y, float)[:, None]
    theta = np.radians(np.asarray(orientation_deg, float))[:, None]
    dx = np.asarray(source_x, float)[None, :] - cx
    dy = np.asarray(source_y, float)[None, :] - cy
    u = dx * -np.sin(theta) + dy * np.cos(theta)
    sf = np.broadcast_to(np.asarray(spatial_frequency_cpd, float), (cx.shape[0],))[:, None]
    sigma = np.broadcast_to(np.asarray(sigma_deg, float), (cx.shape[0],))[:, None]
    envelope = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    return envelope * np.cos(2 * np.pi * sf * u + np.radians(np.asarray(phase_deg, float))[:, None])


def hubel_wiesel_affinity(templates: np.ndarray, source_sign: np.ndarray) -> np.ndarray:
    """Sign-matched Hubel–Wiesel affinity ``max(0, s · G(x))``.

    Parameters
    ----------
    templates : array (n_targets, n_sources)
        :func:`gabor_templates` at the LGN positions.
    source_sign : array (n_sources,)
        +1 for ON cells, −1 for OFF cells.

    Returns
    -------
    numpy.ndarray, shape (n_targets, n_sources)
        Zero wherever the source's sign disagrees with the template there.
    """
    sign = np.asarray(source_sign, float)
    if not np.all(np.isin(sign, (-1.0, 1.0))):
        raise ConfigError("source_sign: LGN signs must be +1 (ON) or -1 (OFF)")
    return np.maximum(0.0, templates * sign[None, :])


def broad_pooling_affinity(
    source_x: np.ndarray, source_y: np.ndarray, target_x: np.ndarray, target_y: np.ndarray, sigma_deg: float
) -> np.ndarray:
    """Gaussian retinotopic pooling regardless of sign or channel, shape (n_targets, n_sources)."""
    if not sigma_deg > 0:
        raise ConfigError(f"sigma_deg: pooling radius must be > 0 deg, got {sigma_deg}")
    return np.exp(-_squared_distance(target_x, target_y, source_x, source_y) / (2 * sigma_deg**2))


def feature_pooling_affinity(
    source_x: np.ndarray,
    source_y: np.ndarray,
    source_channel: np.ndarray,
    target_x: np.ndarray,
    target_y: np.ndarray,
    target_channels: np.ndarray,
    sigma_deg: float,
) -> np.ndarray:
    """Retinotopic pooling restricted to the target's channels.

    Parameters
    ----------
    source_x, source_y, source_channel : array (n_sources,)
        Source RF centres (deg) and channels (int).
    target_x, target_y : array (n_targets,)
        Target RF centres, deg.
    target_channels : array (n_targets,) or (n_targets, n_conj), int
        The channels each target samples: one (identity-like map) or a few (conjunctions).
    sigma_deg : float
        Pooling radius (Gaussian s.d.), deg.

    Returns
    -------
    numpy.ndarray, shape (n_targets, n_sources)
    """
    channels = np.asarray(target_channels)
    if channels.ndim == 1:
        channels = channels[:, None]
    match = (np.asarray(source_channel)[None, None, :] == channels[:, :, None]).any(axis=1)
    return broad_pooling_affinity(source_x, source_y, target_x, target_y, sigma_deg) * match


def sample_fixed_indegree(
    affinity: np.ndarray,
    indegree: int,
    rng: np.random.Generator,
    min_affinity: float = 1e-6,
    max_fraction: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``indegree`` distinct sources per target with probability ∝ affinity.

    Weighted sampling without replacement by exponential keys (Efraimidis & Spirakis
    2006): ``key = −log(U) / a`` and the ``indegree`` smallest keys win, equivalent to
    drawing one source at a time in proportion to the remaining affinities. Sources with
    affinity below ``min_affinity`` times the row maximum are never chosen, so a target
    near the edge of the field gets fewer inputs rather than implausible ones.

    Parameters
    ----------
    affinity : array (n_targets, n_sources), non-negative
    indegree : int
        Inputs per target (at most the number of eligible sources).
    rng : numpy.random.Generator
        The connectivity generator.
    min_affinity : float
        Relative eligibility threshold.
    max_fraction : float in (0, 1], optional
        Cap each target's in-degree at ``max_fraction`` of its effective pool
        :math:`n_{eff} = \sum_s a_s / \max_s a_s` (at least one input). Without it a small
        source pool is sampled almost whole by every target, and targets sharing all their
        inputs fire in synchrony; with it two targets of the same pool share about
        ``max_fraction`` of their inputs. The draws are the same as without the cap; a
        capped target keeps its inputs with the smallest keys (the first ones drawn).

    Returns
    -------
    i, j : numpy.ndarray of int64
        Source and target index of each connection, sorted by target.
    """
    affinity = np.asarray(affinity, float)
    if affinity.ndim != 2:
        raise ConfigError(f"affinity must be a 2-D (targets x sources) array, got shape {affinity.shape}")
    if np.any(affinity < 0) or not np.all(np.isfinite(affinity)):
        raise ConfigError("affinity must be finite and non-negative")
    if int(indegree) != indegree or indegree < 0:
        raise ConfigError(f"indegree must be a non-negative integer, got {indegree!r}")
    n_targets, n_sources = affinity.shape
    k = min(int(indegree), n_sources)
    if k == 0 or n_targets == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    row_max = affinity.max(axis=1, keepdims=True)
    eligible = affinity > min_affinity * np.where(row_max > 0, row_max, np.inf)
    with np.errstate(divide="ignore"):
        keys = np.where(eligible, -np.log(rng.random(affinity.shape)) / np.where(eligible, affinity, 1.0), np.inf)
    chosen = np.argpartition(keys, k - 1, axis=1)[:, :k]
    valid = np.take_along_axis(eligible, chosen, axis=1)
    if max_fraction is not None:
        if not 0.0 < max_fraction <= 1.0:
            raise ConfigError(f"max_fraction must be in (0, 1], got {max_fraction!r}")
        n_eff = affinity.sum(axis=1) / np.where(row_max[:, 0] > 0, row_max[:, 0], np.inf)
        k_i = np.clip(np.floor(max_fraction * n_eff + 0.5), 1, k).astype(np.int64)
        rank = np.argsort(np.argsort(np.take_along_axis(keys, chosen, axis=1), axis=1), axis=1)
        valid &= rank < k_i[:, None]
    j = np.repeat(np.arange(n_targets, dtype=np.int64), k).reshape(n_targets, k)
    i, j = chosen[valid].astype(np.int64), j[valid]
    order = np.lexsort((i, j))
    return i[order], j[order]


def shuffle_targets(
    i: np.ndarray, j: np.ndarray, n_targets: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Permute the target map: connection (i, j) becomes (i, π(j)) for a random permutation π.

    The number of connections, every in-degree and out-degree distribution and the total
    weight are unchanged; only the alignment between source and target labels is lost
    (the ``shuffled_skip`` control of DESIGN §2.5).
    """
    perm = rng.permutation(int(n_targets))
    return np.asarray(i, np.int64), perm[np.asarray(j, np.int64)]


def sign_matching_index(i: np.ndarray, j: np.ndarray, templates: np.ndarray, source_sign: np.ndarray) -> float:
    """Fraction of connections whose LGN sign equals the sign of the template at the source.

    Parameters
    ----------
    i, j : array (n_connections,)
        LGN (source) and cortical (target) indices.
    templates : array (n_targets, n_sources)
        :func:`gabor_templates` at the LGN positions.
    source_sign : array (n_sources,)
        +1 ON, −1 OFF.

    Returns
    -------
    float
        1.0 for perfectly sign-matched wiring, about 0.5 for random wiring (gate G2: ≥ 0.9).
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    if i.size == 0:
        raise ConfigError("sign_matching_index: no connections to evaluate")
    return float(np.mean(np.sign(templates[j, i]) == np.asarray(source_sign)[i]))
