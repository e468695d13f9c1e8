"""Independent Poisson input per neuron, drawn only at the time steps that have an event.

A neuron receiving ``n`` independent Poisson sources of rate ``r`` gets, in every time step
``dt``, a count ``X ~ Binomial(n, p)`` with ``p = r dt`` (Brian2's ``PoissonInput``, the
"Efficient Poisson inputs" of its documentation, draws it at every step). With the
background of cortical models, most steps have no event at all: ``P(X = 0) = (1 - p)^n``
is 0.92–0.97 in the default stream and 0.85 in PD14 at K-scale 0.1. The counts of
successive steps are independent, so the same process is generated exactly by

* the number of empty steps before the next non-empty one, ``G ~ Geometric`` with success
  probability ``1 - (1 - p)^n`` (:math:`P(G = g) = q_0^g (1 - q_0)`, drawn by inversion,
  ``floor(log U / log q_0)``), and
* the count at a non-empty step, ``X | X >= 1`` (the zero-truncated binomial, drawn by
  inversion of its tabulated distribution function),

so a neuron costs one comparison per step and two uniform draws per event instead of one
binomial draw per step. Measured on one core (docs/columns.md): PD14 at scale 0.1, the
background operations 0.48 -> 0.39 s per biological second (what remains is mostly branch
misses and the draws at the 15 % of steps with an event); the default stream, where events
are rarer, 1.38 -> 1.08 s per biological second in all. The sampler's only state is the neuron's next event, its step and its
count packed in one per-cell variable of the group (``bg_next<k>``,
:func:`sampler_variables`): it is stored, restored and reset with the group like any other
state, and a standalone rerun starts it afresh. The truncated distribution is tabulated up to the count whose upper tail is below
:data:`TAIL`; that tail mass (not the rest of the distribution) is assigned to the last
tabulated count. Brian2's own binomial inversion restarts its draw beyond ``np + 10 sd``
instead.

Functions
---------
event_gap_functions
    The two Brian2 functions (next event step, count at a step) of one input.
sampler_variables
    The equations of a group's sampler state.

References
----------
Devroye L (1986) Non-Uniform Random Variate Generation, Springer: §X.4 (the binomial as
a sum of geometric gaps), §III.2 (inversion by sequential search).
Brian2 documentation, "Input stimuli", "Efficient Poisson inputs via PoissonInput".
"""

from __future__ import annotations

import math

import numpy as np
from brian2 import Equations
from brian2.core.functions import DEFAULT_FUNCTIONS, Function
from scipy import stats

from analysis.errors import ConfigError

__all__ = ["SAMPLERS", "TAIL", "MAX_COUNT", "event_gap_functions", "sampler_variables", "sampler_variable", "truncated_binomial_cdf"]

#: ``"event_gaps"``: draw the gaps between steps with events (this module, the default);
#: ``"per_step"``: a binomial draw per neuron and step (Brian2's ``PoissonInput``; the
#: sampler of every run made before 2026-11-23, session 4). Same statistics, other draws.
SAMPLERS = ("event_gaps", "per_step")

#: Upper-tail probability of the zero-truncated binomial left out of the table (assigned to
#: its last count).
TAIL = 1e-16

#: Largest count one step can bring (the state packs it beside the next event's step).
MAX_COUNT = 63


def sampler_variable(slot: int) -> str:
    """Name of the state of a group's ``slot``-th event-gap input: ``bg_next0``, ``bg_next1``..."""
    return f"bg_next{int(slot)}"


def sampler_variables(n_slots: int) -> Equations:
    """Equations of ``n_slots`` sampler states (next event, see :func:`event_gap_functions`; -1: not drawn yet)."""
    return Equations("\n".join(f"{sampler_variable(k)} : 1" for k in range(int(n_slots))))


def truncated_binomial_cdf(n: int, p: float, tail: float = TAIL) -> np.ndarray:
    """Distribution function of ``X | X >= 1`` for ``X ~ Binomial(n, p)`` at ``1, 2, ... K``.

    ``K`` is the first count whose conditional upper tail ``P(X > K | X >= 1)`` is below
    ``tail`` (or ``n``); the last entry is 1.
    """
    p_nonzero = -math.expm1(n * math.log1p(-p))
    ks = np.arange(1, n + 1)
    upper = stats.binom.sf(ks, n, p) / p_nonzero  # P(X > k | X >= 1), accurate in the tail
    last = int(np.argmax(upper < tail)) if np.any(upper < tail) else n - 1
    cdf = 1.0 - upper[: last + 1]
    cdf[-1] = 1.0
    return cdf


def _search(cdf: np.ndarray, indent: str, cython: bool) -> str:
    """Sequential-search inversion of ``cdf`` for a uniform ``U`` (C++ or Cython statements)."""
    end = "" if cython else ";"
    lines = [f"{indent}if U < {float(c)!r}: return {k}" if cython else f"{indent}if (U < {float(c)!r}) return {k};"
             for k, c in enumerate(cdf[:-1], start=1)]
    lines.append(f"{indent}return {len(cdf)}{end}")
    return "\n".join(lines)


def event_gap_functions(n: int, p: float, name: str) -> dict[str, Function]:
    """The Brian2 functions of one event-gap Poisson input.

    The per-cell state holds the next event and its count in one number,
    ``64 * step_of_next_event + count`` (exact in double precision below 2**46 steps;
    -1: nothing drawn yet), so that a step without an event costs one comparison and no
    branch on the count.

    Parameters
    ----------
    n : int
        Number of independent sources (> 0).
    p : float
        Probability that one source fires in one time step, ``rate * dt`` (0 < p < 1).
    name : str
        Prefix of the function names: ``{name}_advance`` and ``{name}_count``.

    Returns
    -------
    dict of str to brian2.Function
        ``{name}_advance(step, state)``: ``state`` if its event is at ``step`` or later,
        otherwise the next event drawn from ``step`` on (``step + G`` with its count
        ``X | X >= 1``); ``{name}_count(step, state)``: the count if the event is at
        ``step``, else 0. Called in this order at every step, with ``t_in_timesteps``.

    Raises
    ------
    ConfigError
        ``n < 1``, ``p`` outside (0, 1), or a distribution whose tabulated counts exceed
        :data:`MAX_COUNT` (``n p`` of several tens; use the ``per_step`` sampler).
    """
    if int(n) != n or n < 1:
        raise ConfigError(f"number of Poisson sources of {name!r} must be a positive integer, got {n}")
    if not 0.0 < p < 1.0:
        raise ConfigError(f"per-step event probability of {name!r} (rate * dt) must be in (0, 1), got {p}")
    n = int(n)
    inv_log_q0 = 1.0 / (n * math.log1p(-p))  # < 0
    cdf = truncated_binomial_cdf(n, p)
    if len(cdf) > MAX_COUNT:
        raise ConfigError(f"Poisson input {name!r} ({n} sources, {p:.3g} per step) can bring more than {MAX_COUNT} "
                          "events in one step; use the 'per_step' background sampler")
    inner = cdf[:-1]
    scale = float(MAX_COUNT + 1)

    def advance_numpy(step, state, _vectorisation_idx):
        state = np.array(state, dtype=float, copy=True, ndmin=1)
        base = scale * np.broadcast_to(np.asarray(step, dtype=float), state.shape)
        due = state < base
        k = int(due.sum())
        if k:
            count = 1 + np.searchsorted(inner, np.random.rand(k), side="right")
            gap = np.floor(np.log(1.0 - np.random.rand(k)) * inv_log_q0)
            state[due] = base[due] + scale * gap + count
        return state

    def count_numpy(step, state, _vectorisation_idx):
        d = np.asarray(state, dtype=float).reshape(-1) - scale * np.asarray(step, dtype=float)
        return np.where(d < scale, d, 0.0).astype(np.int32)

    advance_cpp = f"""
    int32_t {name}_table(const double U)
    {{
{_search(cdf, " " * 8, cython=False)}
    }}
    double {name}_advance(const int64_t step, const double state, const int _vectorisation_idx)
    {{
        const double base = {scale!r} * step;
        if (state >= base) return state;
        const double U = _rand(_vectorisation_idx);
        return base + {scale!r} * floor(log(1.0 - _rand(_vectorisation_idx)) * {inv_log_q0!r}) + {name}_table(U);
    }}
    """
    count_cpp = f"""
    int32_t {name}_count(const int64_t step, const double state, const int _vectorisation_idx)
    {{
        const double d = state - {scale!r} * step;
        return (d < {scale!r}) * (int32_t)d;
    }}
    """
    advance_cython = f"""
cdef int {name}_table(const double U):
{_search(cdf, " " * 4, cython=True)}

cdef double {name}_advance(const long step, const double state, const int _vectorisation_idx):
    cdef double base = {scale!r} * step
    if state >= base:
        return state
    cdef double U = _rand(_vectorisation_idx)
    return base + {scale!r} * floor(log(1.0 - _rand(_vectorisation_idx)) * {inv_log_q0!r}) + {name}_table(U)
"""
    count_cython = f"""
cdef int {name}_count(const long step, const double state, const int _vectorisation_idx):
    cdef double d = state - {scale!r} * step
    if d < {scale!r}:
        return <int>d
    return 0
"""
    rand = {"_rand": DEFAULT_FUNCTIONS["rand"]}
    count_fn = Function(pyfunc=count_numpy, arg_units=[1, 1], arg_types=["integer", "float"], return_unit=1,
                        return_type="integer", stateless=False, auto_vectorise=True)
    count_fn.implementations.add_implementation("numpy", count_numpy, name=f"{name}_count")
    count_fn.implementations.add_implementation("cpp", {"support_code": count_cpp}, name=f"{name}_count")
    count_fn.implementations.add_implementation("cython", count_cython, name=f"{name}_count")
    advance_fn = Function(pyfunc=advance_numpy, arg_units=[1, 1], arg_types=["integer", "float"], return_unit=1,
                          return_type="float", stateless=False, auto_vectorise=True)
    advance_fn.implementations.add_implementation("numpy", advance_numpy, name=f"{name}_advance")
    advance_fn.implementations.add_implementation("cpp", {"support_code": advance_cpp}, name=f"{name}_advance",
                                                  dependencies=rand)
    advance_fn.implementations.add_implementation("cython", advance_cython, name=f"{name}_advance", dependencies=rand)
    return {f"{name}_advance": advance_fn, f"{name}_count": count_fn}
