"""Population codes: decoders, linear probes, communication subspaces, sparseness, dimensionality.

Inputs are single-trial response matrices (n_trials, n_nodes), e.g. spike counts in a
response window, and per-condition means (n_conditions, n_nodes). Comparisons between
stations or layers must use the same number of cells (``n_cells``) because decoding
accuracy and probe R² grow with population size.

Functions
---------
decode_accuracy
    Cross-validated multinomial logistic-regression decoding with repeated cell subsampling.
probe_r2
    Cross-validated ridge "probe" R² reconstructing upstream responses from a downstream population.
reduced_rank_regression
    Reduced-rank (ridge) regression coefficients of a given rank.
reduced_rank_cv
    Cross-validated R² per rank and the optimal rank (communication-subspace dimensionality).
lifetime_sparseness
    Vinje & Gallant (2000) sparseness of each neuron over stimuli.
split_half_reliability
    Correlation of mean responses between random halves of the repeats (Spearman–Brown corrected).
trial_to_trial_reliability
    Mean pairwise correlation between single repeats of each neuron's response profile.
participation_ratio
    (Σλ)² / Σλ² of the response covariance (effective dimensionality).

References
----------
Vinje, W. E. & Gallant, J. L. (2000). Sparse coding and decorrelation in primary visual cortex
during natural vision. Science 287, 1273–1276. doi:10.1126/science.287.5456.1273
Semedo, J. D., Zandvakili, A., Machens, C. K., Yu, B. M. & Kohn, A. (2019). Cortical areas
interact through a communication subspace. Neuron 102, 249–259. doi:10.1016/j.neuron.2019.01.026
Izenman, A. J. (1975). Reduced-rank regression for the multivariate linear model. J. Multivar.
Anal. 5, 248–264. doi:10.1016/0047-259X(75)90042-1
Alain, G. & Bengio, Y. (2016). Understanding intermediate layers using linear classifier probes.
arXiv:1610.01644
Gao, P., Trautmann, E., Yu, B. et al. (2017). A theory of multineuronal dimensionality, dynamics
and measurement. bioRxiv doi:10.1101/214262
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.errors import ConfigError, SpikeDataError
from analysis.statistics import _finite_array, _generator

__all__ = [
    "DecodingResult",
    "ProbeResult",
    "ReducedRankResult",
    "decode_accuracy",
    "probe_r2",
    "reduced_rank_regression",
    "reduced_rank_cv",
    "lifetime_sparseness",
    "split_half_reliability",
    "trial_to_trial_reliability",
    "participation_ratio",
]

logger = logging.getLogger(__name__)

#: Ridge penalties searched by the probe (on z-scored predictors); a wide log grid so that
#: both a noiseless map (tiny penalty) and pure noise (large penalty) are reachable.
DEFAULT_RIDGE_ALPHAS = tuple(np.logspace(-3, 5, 17))


@dataclass(frozen=True, eq=False)
class DecodingResult:
    """Outcome of :func:`decode_accuracy`.

    Attributes
    ----------
    accuracy : float
        Mean cross-validated accuracy over cell subsamples (fraction correct).
    accuracy_per_subsample : ndarray, shape (n_subsamples,)
        Cross-validated accuracy of each subsample.
    chance : float
        Accuracy of always guessing the most frequent class (1/n_classes when balanced).
    n_cells, n_classes, n_trials : int
        Cells used per subsample, number of classes, number of trials.
    shuffled : bool
        Whether labels were shuffled (the control).
    """

    accuracy: float
    accuracy_per_subsample: np.ndarray
    chance: float
    n_cells: int
    n_classes: int
    n_trials: int
    shuffled: bool


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """Outcome of :func:`probe_r2`.

    Attributes
    ----------
    r2 : float
        Mean over subsamples of the variance-weighted cross-validated R²
        (1 − Σ SS_res / Σ SS_tot over target features).
    r2_per_subsample : ndarray, shape (n_subsamples,)
    r2_per_feature : ndarray, shape (n_features,)
        Per-feature cross-validated R², mean over subsamples (NaN for constant features).
    alphas : ndarray, shape (n_subsamples, n_folds)
        Ridge penalty chosen (by generalized cross-validation) in each outer fold.
    n_cells : int
    """

    r2: float
    r2_per_subsample: np.ndarray
    r2_per_feature: np.ndarray
    alphas: np.ndarray
    n_cells: int


@dataclass(frozen=True, eq=False)
class ReducedRankResult:
    """Outcome of :func:`reduced_rank_cv`.

    Attributes
    ----------
    ranks : ndarray of int, shape (n_ranks,)
    r2 : ndarray, shape (n_ranks,)
        Mean cross-validated R² (variance-weighted over target features) per rank.
    r2_sem : ndarray, shape (n_ranks,)
        Standard error of that mean over folds.
    optimal_rank : int
        Smallest rank whose mean R² is within one SEM of the best rank's (Semedo et al. 2019).
    full_rank_r2 : float
        Cross-validated R² of the full-rank (ridge) regression.
    """

    ranks: np.ndarray
    r2: np.ndarray
    r2_sem: np.ndarray
    optimal_rank: int
    full_rank_r2: float


def _trials_matrix(name: str, values: ArrayLike) -> np.ndarray:
    return _finite_array(name, values, ndim=2, min_size=1)


def _cell_subsets(n_nodes: int, n_cells: int | None, n_subsamples: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random cell subsets without replacement (all cells once if n_cells covers them)."""
    if n_subsamples < 1:
        raise ConfigError(f"n_subsamples: must be >= 1, got {n_subsamples}")
    if n_cells is None or n_cells == n_nodes:
        return [np.arange(n_nodes)] * n_subsamples
    if not 1 <= n_cells <= n_nodes:
        raise ConfigError(f"n_cells: must lie in [1, {n_nodes}] (cells available), got {n_cells}")
    return [np.sort(rng.choice(n_nodes, size=n_cells, replace=False)) for _ in range(n_subsamples)]


def _one_blas_thread(func):
    """Run ``func`` with one BLAS thread.

    The cross-validated fits here are many small problems (trials x cells): a second
    OpenBLAS thread buys nothing, and its spinning waits collapse when the cores are busy
    with simulations — measured on the 2-core machine with two simulations running: one
    LogisticRegression fit (160 trials, 1000 cells, 8 classes) 2.92 s with 2 BLAS threads,
    0.083 s with 1; a 5-seed block-lesion analysis took 16 min.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper


@_one_blas_thread
def decode_accuracy(
    responses: ArrayLike,
    labels: ArrayLike,
    n_cells: int | None = None,
    n_subsamples: int = 10,
    n_folds: int = 5,
    regularization: float = 1.0,
    shuffle_labels: bool = False,
    seed: int | np.random.Generator | None = 0,
    conditions: ArrayLike | None = None,
) -> DecodingResult:
    """Cross-validated decoding of stimulus identity with matched numbers of cells.

    Parameters
    ----------
    responses : array_like, shape (n_trials, n_nodes)
        Single-trial responses (e.g. spike counts in the response window).
    labels : array_like, shape (n_trials,)
        Stimulus class of each trial (any hashable values: orientation, edge identity).
    n_cells : int, optional
        Cells drawn (without replacement) for each subsample; default all cells. Use the
        same value for every station and layer that is compared.
    n_subsamples : int
        Number of random cell subsets (each with a fresh fold split and, for the control,
        a fresh label permutation).
    n_folds : int
        Stratified cross-validation folds; at most the size of the smallest class (of the
        smallest label × condition stratum when ``conditions`` is given).
    regularization : float
        Inverse L2 penalty ``C`` of :class:`sklearn.linear_model.LogisticRegression`
        (features are z-scored on the training folds).
    shuffle_labels : bool
        Shuffle the labels across trials before decoding: the chance-level control.
    seed : int or numpy.random.Generator
        Randomness of cell subsets, folds and shuffles.
    conditions : array_like, shape (n_trials,), optional
        Stimulus condition of each trial when it is finer than the label, e.g. the grating
        phase when orientation is decoded. Folds are then stratified on label × condition,
        so that every condition keeps its share of every training set (see Notes). The
        shuffled control permutes labels and conditions together.

    Returns
    -------
    DecodingResult

    Raises
    ------
    SpikeDataError
        NaN, empty or mismatched inputs, fewer than 2 classes.
    ConfigError
        ``n_cells`` larger than the population, ``n_folds`` < 2 or larger than the smallest
        class (or label × condition stratum), ``n_subsamples`` < 1.

    Notes
    -----
    The classifier is multinomial logistic regression (softmax over classes, L2 penalty),
    fitted with L-BFGS. Accuracy is the fraction of held-out trials classified correctly,
    averaged over folds and then over subsamples.

    Why ``conditions``: the stimulus design is balanced (every orientation at every phase
    equally often) and the folds should keep that balance. Stratified on the label alone, a
    fold holds out some phases of a class more than others, so the training set
    under-represents the held-out trial's phase within its own class. When responses depend
    on phase the same way for every orientation, the classifier then leans away from the
    held-out pattern and decodes *below* chance (Jamalabadi et al. 2016): LGN orientation
    decoding in the scale-1 edge-tuning runs (5 seeds) was 0.057 against a chance of 0.125
    (0.123 with label × phase strata), and V1 L4 0.48 instead of 0.60. Phase patterns
    specific to each orientation (subclasses nested in the classes) bias the other way
    (Jamalabadi et al. 2018). Stratifying on label × condition keeps every training set
    balanced.

    References
    ----------
    Jamalabadi, H., Alizadeh, S., Schönauer, M., Leibold, C. & Gais, S. (2016).
    Classification based hypothesis testing in neuroscience: below-chance level
    classification rate and overlooked statistical properties of linear parametric
    classifiers. Hum. Brain Mapp. 37, 1842–1855. doi:10.1002/hbm.23140
    Jamalabadi, H., Alizadeh, S., Schönauer, M., Leibold, C. & Gais, S. (2018). Multivariate
    classification of neuroimaging data with nested subclasses: biased accuracy and
    implications for hypothesis testing. PLoS Comput. Biol. 14, e1006486.
    doi:10.1371/journal.pcbi.1006486

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1], 20)
    >>> responses = rng.normal(size=(40, 5)) + 4.0 * labels[:, None]
    >>> decode_accuracy(responses, labels, n_subsamples=2).accuracy
    1.0
    """
    data = _trials_matrix("responses", responses)
    classes = np.asarray(labels)
    if classes.ndim != 1 or classes.size != data.shape[0]:
        raise SpikeDataError(f"labels: needs one label per trial ({data.shape[0]}), got shape {classes.shape}")
    values, encoded, counts = np.unique(classes, return_inverse=True, return_counts=True)
    if values.size < 2:
        raise SpikeDataError(f"labels: need at least 2 classes, got {values.size}")
    strata, smallest, what = encoded, int(counts.min()), "smallest class size"
    if conditions is not None:
        nuisance = np.asarray(conditions)
        if nuisance.shape != classes.shape:
            raise SpikeDataError(f"conditions: needs one condition per trial ({classes.size}), got shape {nuisance.shape}")
        # sorted by label first: conditions that coincide with the labels give the label strata
        # themselves, hence the same folds as without them
        pairs = np.stack([encoded, np.unique(nuisance, return_inverse=True)[1].ravel()], axis=1)
        _, strata, per_stratum = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
        strata, smallest, what = strata.ravel(), int(per_stratum.min()), "smallest label x condition stratum"
    if not 2 <= n_folds <= smallest:
        raise ConfigError(f"n_folds: must lie in [2, {smallest}] ({what}), got {n_folds}")
    rng = _generator(seed)
    subsets = _cell_subsets(data.shape[1], n_cells, n_subsamples, rng)
    scores = np.empty(len(subsets))
    for k, cells in enumerate(subsets):
        order = rng.permutation(encoded.size) if shuffle_labels else np.arange(encoded.size)
        folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
        model = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=2000))
        split = list(folds.split(data, strata[order]))
        scores[k] = cross_val_score(model, data[:, cells], encoded[order], cv=split).mean()
    return DecodingResult(
        accuracy=float(scores.mean()),
        accuracy_per_subsample=scores,
        chance=float(counts.max() / counts.sum()),
        n_cells=int(subsets[0].size),
        n_classes=int(values.size),
        n_trials=int(data.shape[0]),
        shuffled=bool(shuffle_labels),
    )


def _variance_weighted_r2(observed: np.ndarray, predicted: np.ndarray) -> tuple[float, np.ndarray]:
    """Pooled R² (1 − Σ SS_res / Σ SS_tot) and per-feature R² (NaN for constant features)."""
    ss_res = ((observed - predicted) ** 2).sum(axis=0)
    ss_tot = ((observed - observed.mean(axis=0)) ** 2).sum(axis=0)
    varying = ss_tot > 0
    per_feature = np.full(observed.shape[1], np.nan)
    per_feature[varying] = 1.0 - ss_res[varying] / ss_tot[varying]
    total = 1.0 - ss_res[varying].sum() / ss_tot[varying].sum() if varying.any() else float("nan")
    return float(total), per_feature


@_one_blas_thread
def probe_r2(
    downstream: ArrayLike,
    upstream: ArrayLike,
    n_cells: int | None = None,
    n_subsamples: int = 1,
    n_folds: int = 5,
    alphas: tuple[float, ...] = DEFAULT_RIDGE_ALPHAS,
    seed: int | np.random.Generator | None = 0,
    conditions: ArrayLike | None = None,
) -> ProbeResult:
    """Cross-validated ridge "probe": how well a downstream population encodes upstream responses.

    Parameters
    ----------
    downstream : array_like, shape (n_trials, n_nodes)
        Single-trial responses of the population read out (the predictors), e.g. IT L5.
    upstream : array_like, shape (n_trials, n_features) or (n_trials,)
        Single-trial responses to reconstruct (the targets), e.g. LGN cells on the same trials,
        or one stimulus feature.
    n_cells : int, optional
        Downstream cells drawn without replacement per subsample (default all).
    n_subsamples : int
        Number of random downstream subsets.
    n_folds : int
        Outer cross-validation folds (held-out trials for the R²).
    alphas : tuple of float
        Ridge penalties; the best is chosen on the training folds by efficient
        leave-one-out cross-validation (:class:`sklearn.linear_model.RidgeCV`).
    seed : int or numpy.random.Generator
        Randomness of subsets and fold assignment.
    conditions : array_like, shape (n_trials,), optional
        Stimulus condition of each trial: the folds are then stratified on it, so that every
        training set keeps the design's balance of conditions (as in :func:`decode_accuracy`);
        ``n_folds`` is at most the repeats of the rarest condition.

    Returns
    -------
    ProbeResult
        R² ≈ 1 if the upstream responses are a linear function of the downstream ones,
        ≈ 0 (slightly negative) if independent.

    Raises
    ------
    SpikeDataError
        NaN, empty or mismatched inputs.
    ConfigError
        ``n_folds`` outside [2, n_trials], bad ``n_cells``/``n_subsamples``.

    Notes
    -----
    Predictions of every held-out fold are pooled before computing
    ``R² = 1 − Σ_f SS_res,f / Σ_f SS_tot,f`` over features *f* (variance weighted).

    References
    ----------
    Alain & Bengio (2016), arXiv:1610.01644 (linear probes).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(100, 8))
    >>> round(probe_r2(x, x @ rng.normal(size=(8, 3))).r2, 3)
    1.0
    """
    predictors = _trials_matrix("downstream", downstream)
    targets = _finite_array("upstream", upstream, ndim=(1, 2))
    targets = targets[:, None] if targets.ndim == 1 else targets
    if targets.shape[0] != predictors.shape[0]:
        raise SpikeDataError(
            f"upstream: has {targets.shape[0]} trials but downstream has {predictors.shape[0]}"
        )
    n_trials = predictors.shape[0]
    strata = None
    if conditions is not None:
        labels = np.asarray(conditions)
        if labels.shape != (n_trials,):
            raise SpikeDataError(f"conditions: needs one condition per trial ({n_trials}), got shape {labels.shape}")
        strata, repeats = np.unique(labels, return_inverse=True, return_counts=True)[1:]
        if not 2 <= n_folds <= repeats.min():
            raise ConfigError(f"n_folds: must lie in [2, {repeats.min()}] (repeats of the rarest condition), got {n_folds}")
    if not 2 <= n_folds <= n_trials:
        raise ConfigError(f"n_folds: must lie in [2, {n_trials}] (number of trials), got {n_folds}")
    rng = _generator(seed)
    subsets = _cell_subsets(predictors.shape[1], n_cells, n_subsamples, rng)
    totals = np.empty(len(subsets))
    per_feature = np.empty((len(subsets), targets.shape[1]))
    chosen = np.empty((len(subsets), n_folds))
    for k, cells in enumerate(subsets):
        state = int(rng.integers(2**31 - 1))
        folds = (KFold(n_splits=n_folds, shuffle=True, random_state=state).split(predictors) if strata is None
                 else StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=state).split(predictors, strata))
        predicted = np.empty_like(targets)
        for j, (train, test) in enumerate(folds):
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas))
            model.fit(predictors[train][:, cells], targets[train])
            predicted[test] = model.predict(predictors[test][:, cells]).reshape(len(test), -1)
            chosen[k, j] = model[-1].alpha_
        totals[k], per_feature[k] = _variance_weighted_r2(targets, predicted)
    return ProbeResult(
        r2=float(totals.mean()),
        r2_per_subsample=totals,
        r2_per_feature=per_feature.mean(axis=0),
        alphas=chosen,
        n_cells=int(subsets[0].size),
    )


def _ridge_and_subspace(
    source: np.ndarray, target: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centred ridge coefficients, right singular vectors of the fit, and the means."""
    x_mean, y_mean = source.mean(axis=0), target.mean(axis=0)
    xc, yc = source - x_mean, target - y_mean
    gram = xc.T @ xc + alpha * np.eye(xc.shape[1])
    coef = np.linalg.lstsq(gram, xc.T @ yc, rcond=None)[0]
    _, _, vt = np.linalg.svd(xc @ coef, full_matrices=False)
    return coef, vt, x_mean, y_mean


def reduced_rank_regression(
    source: ArrayLike, target: ArrayLike, rank: int, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Reduced-rank regression ``target ≈ source @ coef + intercept`` with ``rank(coef) ≤ rank``.

    Parameters
    ----------
    source : array_like, shape (n_trials, n_sources)
        Predictor population (e.g. V1 L2/3 single-trial counts).
    target : array_like, shape (n_trials, n_targets)
        Predicted population (e.g. V2 L4).
    rank : int
        Rank of the coefficient matrix, 1 ≤ rank ≤ min(n_sources, n_targets).
    alpha : float
        Ridge penalty (≥ 0) of the full-rank fit that is then projected.

    Returns
    -------
    coef : ndarray, shape (n_sources, n_targets)
    intercept : ndarray, shape (n_targets,)

    Raises
    ------
    SpikeDataError
        NaN, empty or mismatched inputs.
    ConfigError
        ``rank`` out of range or negative ``alpha``.

    Notes
    -----
    ``coef = B_ridge V_r V_rᵀ`` where ``V_r`` are the top-``rank`` right singular vectors
    of the fitted values ``X B_ridge`` (Izenman 1975; Semedo et al. 2019, STAR Methods).
    With ``rank = n_targets`` it equals the ridge (or least-squares) solution.

    References
    ----------
    Izenman (1975). doi:10.1016/0047-259X(75)90042-1
    Semedo et al. (2019). doi:10.1016/j.neuron.2019.01.026

    Examples
    --------
    >>> x = np.eye(3)
    >>> coef, intercept = reduced_rank_regression(x, x, rank=3)
    >>> bool(np.allclose(x @ coef + intercept, x))
    True
    """
    x = _trials_matrix("source", source)
    y = _trials_matrix("target", target)
    if x.shape[0] != y.shape[0]:
        raise SpikeDataError(f"target: has {y.shape[0]} trials but source has {x.shape[0]}")
    max_rank = min(x.shape[1], y.shape[1])
    if not 1 <= rank <= max_rank:
        raise ConfigError(f"rank: must lie in [1, {max_rank}], got {rank}")
    if alpha < 0:
        raise ConfigError(f"alpha: must be >= 0, got {alpha}")
    coef, vt, x_mean, y_mean = _ridge_and_subspace(x, y, alpha)
    projected = coef @ vt[:rank].T @ vt[:rank]
    return projected, y_mean - x_mean @ projected


def reduced_rank_cv(
    source: ArrayLike,
    target: ArrayLike,
    ranks: ArrayLike | None = None,
    n_folds: int = 10,
    alpha: float = 0.0,
    seed: int | np.random.Generator | None = 0,
) -> ReducedRankResult:
    """Cross-validated reduced-rank regression and the optimal (communication-subspace) rank.

    Parameters
    ----------
    source : array_like, shape (n_trials, n_sources)
    target : array_like, shape (n_trials, n_targets)
    ranks : array_like of int, optional
        Ranks to evaluate; default ``1 … min(n_sources, n_targets)``.
    n_folds : int
        Cross-validation folds.
    alpha : float
        Ridge penalty of the underlying full-rank fit.
    seed : int or numpy.random.Generator
        Fold assignment.

    Returns
    -------
    ReducedRankResult

    Raises
    ------
    SpikeDataError, ConfigError
        As :func:`reduced_rank_regression`; ``n_folds`` outside [2, n_trials].

    Notes
    -----
    R² per fold is ``1 − Σ SS_res / Σ SS_tot`` on the held-out trials (SS_tot about the
    held-out mean). The optimal rank is the smallest whose mean R² lies within one SEM of
    the best mean R² (Semedo et al. 2019).

    References
    ----------
    Semedo et al. (2019). doi:10.1016/j.neuron.2019.01.026

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 6))
    >>> y = x @ np.outer(rng.normal(size=6), rng.normal(size=4))
    >>> reduced_rank_cv(x, y).optimal_rank
    1
    """
    x = _trials_matrix("source", source)
    y = _trials_matrix("target", target)
    if x.shape[0] != y.shape[0]:
        raise SpikeDataError(f"target: has {y.shape[0]} trials but source has {x.shape[0]}")
    max_rank = min(x.shape[1], y.shape[1])
    rank_list = np.arange(1, max_rank + 1) if ranks is None else np.asarray(ranks, dtype=np.int64).ravel()
    if rank_list.size == 0 or rank_list.min() < 1 or rank_list.max() > max_rank:
        raise ConfigError(f"ranks: must lie in [1, {max_rank}], got {rank_list.tolist()}")
    if not 2 <= n_folds <= x.shape[0]:
        raise ConfigError(f"n_folds: must lie in [2, {x.shape[0]}] (number of trials), got {n_folds}")
    if alpha < 0:
        raise ConfigError(f"alpha: must be >= 0, got {alpha}")
    rng = _generator(seed)
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    scores = np.empty((n_folds, rank_list.size))
    full = np.empty(n_folds)
    for j, (train, test) in enumerate(folds.split(x)):
        coef, vt, x_mean, y_mean = _ridge_and_subspace(x[train], y[train], alpha)
        xc = x[test] - x_mean
        for i, rank in enumerate(rank_list):
            predicted = xc @ (coef @ vt[:rank].T @ vt[:rank]) + y_mean
            scores[j, i] = _variance_weighted_r2(y[test], predicted)[0]
        full[j] = _variance_weighted_r2(y[test], xc @ coef + y_mean)[0]
    mean = scores.mean(axis=0)
    sem = scores.std(axis=0, ddof=1) / np.sqrt(n_folds)
    best = int(np.argmax(mean))
    optimal = int(rank_list[np.argmax(mean >= mean[best] - sem[best])])
    return ReducedRankResult(ranks=rank_list, r2=mean, r2_sem=sem, optimal_rank=optimal,
                             full_rank_r2=float(full.mean()))


def lifetime_sparseness(responses: ArrayLike) -> np.ndarray | float:
    """Lifetime sparseness of each neuron over a stimulus set (Vinje & Gallant 2000).

    Parameters
    ----------
    responses : array_like, shape (n_stimuli, n_nodes) or (n_stimuli,)
        Mean response (≥ 0, spikes/s) to each stimulus, n_stimuli ≥ 2.

    Returns
    -------
    ndarray, shape (n_nodes,), or float
        ``S = (1 − (Σ r/n)² / (Σ r²/n)) / (1 − 1/n)``: 0 for equal responses to every
        stimulus, 1 for a response to a single stimulus; NaN for a silent neuron.

    Raises
    ------
    SpikeDataError
        NaN, negative values or fewer than 2 stimuli.

    References
    ----------
    Vinje & Gallant (2000). doi:10.1126/science.287.5456.1273

    Examples
    --------
    >>> lifetime_sparseness([[1.0, 0.0], [1.0, 0.0], [1.0, 3.0]]).tolist()
    [0.0, 1.0]
    """
    rates = _finite_array("responses", responses, ndim=(1, 2), nonnegative=True)
    if rates.shape[0] < 2:
        raise SpikeDataError(f"responses: needs at least 2 stimuli on axis 0, got {rates.shape[0]}")
    n = rates.shape[0]
    mean_sq = (rates**2).mean(axis=0)
    ratio = rates.mean(axis=0) ** 2 / np.where(mean_sq > 0, mean_sq, 1.0)
    sparseness = np.where(mean_sq > 0, (1.0 - ratio) / (1.0 - 1.0 / n), np.nan)
    return float(sparseness) if sparseness.ndim == 0 else sparseness


def _repeats_array(responses: ArrayLike) -> np.ndarray:
    data = _finite_array("responses", responses, ndim=3)
    if data.shape[0] < 2 or data.shape[1] < 2:
        raise SpikeDataError(
            f"responses: needs shape (n_repeats >= 2, n_conditions >= 2, n_nodes), got {data.shape}"
        )
    return data


def _columnwise_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along axis -2 (conditions) for every trailing column."""
    ac = a - a.mean(axis=-2, keepdims=True)
    bc = b - b.mean(axis=-2, keepdims=True)
    denom = np.sqrt((ac**2).sum(axis=-2) * (bc**2).sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ac * bc).sum(axis=-2) / np.where(denom > 0, denom, 1.0), np.nan)


def split_half_reliability(
    responses: ArrayLike,
    n_splits: int = 100,
    spearman_brown: bool = True,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Split-half reliability of each neuron's response profile.

    Parameters
    ----------
    responses : array_like, shape (n_repeats, n_conditions, n_nodes)
        Responses to repeated presentations; conditions are stimuli or time bins.
    n_splits : int
        Random partitions of the repeats into two halves.
    spearman_brown : bool
        Correct the half-data correlation to full data: ``2r / (1 + r)``.
    seed : int or numpy.random.Generator
        Randomness of the partitions.

    Returns
    -------
    ndarray, shape (n_nodes,)
        Mean over splits of the Pearson correlation across conditions between the two
        half means (NaN for a neuron whose half-mean profile is flat).

    Raises
    ------
    SpikeDataError
        Not 3-D, fewer than 2 repeats or conditions, NaN.

    Notes
    -----
    For responses ``s_c + ε`` with signal variance ``σ_s²`` over conditions and independent
    noise ``σ²``, the half-data correlation tends to ``σ_s² / (σ_s² + 2σ²/R)`` for ``R``
    repeats, and the Spearman–Brown value to ``σ_s² / (σ_s² + σ²/R)``.

    Examples
    --------
    >>> profile = np.arange(4.0)[None, :, None] * np.ones((6, 1, 2))
    >>> split_half_reliability(profile, n_splits=3).tolist()
    [1.0, 1.0]
    """
    data = _repeats_array(responses)
    if n_splits < 1:
        raise ConfigError(f"n_splits: must be >= 1, got {n_splits}")
    rng = _generator(seed)
    n_repeats = data.shape[0]
    half = n_repeats // 2
    order = np.argsort(rng.random((n_splits, n_repeats)), axis=1)
    first = data[order[:, :half]].mean(axis=1)
    second = data[order[:, half : 2 * half]].mean(axis=1)
    r = _columnwise_correlation(first, second)
    if spearman_brown:
        r = 2.0 * r / (1.0 + r)
    return np.nanmean(r, axis=0) if np.isfinite(r).any() else np.full(data.shape[2], np.nan)


def trial_to_trial_reliability(responses: ArrayLike) -> np.ndarray:
    """Mean pairwise correlation between single repeats of each neuron's response profile.

    Parameters
    ----------
    responses : array_like, shape (n_repeats, n_conditions, n_nodes)
        Responses to repeated presentations; conditions are stimuli or time bins.

    Returns
    -------
    ndarray, shape (n_nodes,)
        Mean of the Pearson correlations across conditions over all pairs of distinct
        repeats; tends to ``σ_s² / (σ_s² + σ²)`` for signal plus independent noise. NaN for
        a neuron with a flat profile on some repeat.

    Raises
    ------
    SpikeDataError
        Not 3-D, fewer than 2 repeats or conditions, NaN.

    Examples
    --------
    >>> profile = np.arange(4.0)[None, :, None] * np.ones((3, 1, 1))
    >>> trial_to_trial_reliability(profile).tolist()
    [1.0]
    """
    data = _repeats_array(responses)
    centred = data - data.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = centred / norms[:, None, :]
    corr = np.einsum("rcn,scn->nrs", unit, unit)
    n_repeats = data.shape[0]
    off_diagonal = corr.sum(axis=(1, 2)) - np.trace(corr, axis1=1, axis2=2)
    return off_diagonal / (n_repeats * (n_repeats - 1))


def participation_ratio(data: ArrayLike, is_covariance: bool = False) -> float:
    """Participation-ratio dimensionality ``(Σλ)² / Σλ²`` of a response covariance.

    Parameters
    ----------
    data : array_like, shape (n_samples, n_nodes) or (n_nodes, n_nodes)
        Responses (rows are trials or time bins), or a covariance matrix if
        ``is_covariance``.
    is_covariance : bool
        Treat ``data`` as a symmetric covariance matrix.

    Returns
    -------
    float
        Between 1 (one dominant dimension) and ``n_nodes`` (isotropic); NaN for zero variance.

    Raises
    ------
    SpikeDataError
        NaN, fewer than 2 samples, or a non-square/non-symmetric covariance.

    Notes
    -----
    ``(Σλ)² / Σλ² = tr(C)² / tr(C²)``, so no eigendecomposition is needed.

    References
    ----------
    Gao et al. (2017). doi:10.1101/214262
    Litwin-Kumar, A. et al. (2017). Optimal degrees of synaptic connectivity. Neuron 93,
    1153–1164. doi:10.1016/j.neuron.2017.01.030

    Examples
    --------
    >>> participation_ratio(np.diag([1.0, 1.0, 1.0, 1.0]), is_covariance=True)
    4.0
    """
    matrix = _finite_array("data", data, ndim=2)
    if is_covariance:
        if matrix.shape[0] != matrix.shape[1] or not np.allclose(matrix, matrix.T):
            raise SpikeDataError(f"data: a covariance must be square and symmetric, got shape {matrix.shape}")
        cov = matrix
    else:
        if matrix.shape[0] < 2:
            raise SpikeDataError(f"data: needs at least 2 samples (rows), got {matrix.shape[0]}")
        cov = np.cov(matrix, rowvar=False).reshape(matrix.shape[1], matrix.shape[1])
    trace = np.trace(cov)
    trace_sq = float(np.sum(cov * cov.T))
    return float(trace**2 / trace_sq) if trace_sq > 0 else float("nan")
