"""The Potjans & Diesmann (2014) cortical microcircuit: parameters, scaling and analysis.

Shared by the two independent reference implementations ``nest_pd14.py`` (NEST 3.10) and
``brian2_pd14.py`` (plain Brian2 2.9), which import it as a sibling script. Plain floats in
the units NEST uses (mV, ms, pF, pA, spikes/s); no simulator is imported here.

The network follows the published model description and the INM-6 reference
implementation (``microcircuit-PD14-model``, ``PyNEST/src/microcircuit``):

* 8 populations of ``iaf_psc_exp`` neurons (L2/3E, L2/3I, L4E, L4I, L5E, L5I, L6E, L6I);
* fixed total number of synapses per pathway with multapses and autapses,
  ``K = ln(1 - C) / ln(1 - 1 / (N_pre N_post))`` at full scale, multiplied by the
  neuron scale and the in-degree scale;
* weights normal (relative s.d. 0.1, redrawn until they keep their sign), mean from the PSP
  amplitude 0.15 mV converted to a PSC amplitude, L4E -> L2/3E doubled, inhibitory g = -4;
* delays normal (E 1.5 ms, I 0.75 ms, relative s.d. 0.5), redrawn below dt/2, on the dt grid;
* background: Poisson input ``K_ext * 8 spikes/s`` per neuron, or its mean as DC;
* down-scaling with weights x 1/sqrt(K scale) and a DC current that restores the mean input
  lost by the scaling, computed from the full-scale mean rates;
* "optimized" initial membrane potentials (normal, per-population mean and s.d.).

References
----------
Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit: relating structure
and activity in a full-scale spiking network model. Cereb Cortex 24:785-806.
DOI: 10.1093/cercor/bhs358
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
# Full-scale population sizes, PD14 Table 5 (INM-6 parameter_definitions.full_num_neurons).
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
# Connection probabilities, target (row) x source (column), PD14 Table 5.
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
])
# External (cortico-cortical) in-degrees at full scale, PD14 Table 5.
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
BG_RATE = 8.0  # spikes/s per external input, PD14 Table 5
# Full-scale mean rates used for the DC compensation of down-scaled in-degrees
# (INM-6 parameter_definitions.full_mean_rates).
FULL_MEAN_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
# Neuron parameters, PD14 Table 5.
NEURON = {"C_m": 250.0, "tau_m": 10.0, "tau_syn": 0.5, "E_L": -65.0, "V_th": -50.0,
          "V_reset": -65.0, "t_ref": 2.0}
PSP_EXC = 0.15  # mV, PD14 Table 5
G_INH = -4.0  # relative inhibitory weight, PD14 Table 5
WEIGHT_REL_SD = 0.1  # PD14 Table 5
DELAY_EXC, DELAY_INH, DELAY_REL_SD = 1.5, 0.75, 0.5  # ms, ms, 1; PD14 Table 5
# "Optimized" initial membrane potentials (mV), INM-6 parameter_definitions.V0_*_optimized.
V0_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_SD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
DT = 0.1  # ms

# NEST 3.10 rates of this network at scale 0.1 and 0.25, mean of 5 seeds, Poisson background
# (issue #4 / DESIGN section 6), spikes/s in POPULATIONS order.
NEST_REFERENCE_RATES = {
    0.1: [0.56, 2.83, 4.21, 5.67, 8.35, 9.40, 1.01, 7.59],
    0.25: [0.65, 2.84, 4.40, 5.85, 7.75, 9.00, 1.13, 7.77],
}
# Full-scale published rates (DESIGN section 6).
FULL_SCALE_RATES = [0.90, 2.97, 4.41, 5.88, 7.57, 8.63, 1.11, 7.83]


def psc_over_psp(c_m: float, tau_m: float, tau_syn: float) -> float:
    """PSC amplitude (pA) per 1 mV PSP peak of an exponential-current LIF neuron.

    The PSP is the peak of the membrane response to ``J exp(-t/tau_syn)``.

    >>> round(psc_over_psp(250.0, 10.0, 0.5), 2)
    585.39
    """
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def full_num_synapses() -> np.ndarray:
    """Full-scale synapse numbers per pathway (target x source) of the fixed-total-number rule."""
    prod = np.outer(N_FULL, N_FULL).astype(float)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


def derive(scale: float, background: str) -> dict:
    """Sizes, synapse numbers, weights and DC currents of PD14 scaled by ``scale`` (N and K).

    Parameters
    ----------
    scale
        Scale of both the population sizes and the in-degrees, in (0, 1].
    background
        ``"poisson"`` or ``"dc"``.

    Returns
    -------
    dict
        ``n`` (8,) int, ``n_syn`` (8, 8) int target x source, ``k_ext`` (8,) int, ``w`` (8, 8)
        mean PSC amplitudes (pA), ``w_ext`` (pA), ``dc`` (8,) pA, ``d_mean`` (8, 8) ms.
    """
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    if background not in ("poisson", "dc"):
        raise ValueError(f"background must be 'poisson' or 'dc', got {background!r}")
    full_syn = full_num_synapses()
    n = np.round(N_FULL * scale).astype(int)
    n_syn = np.round(full_syn * scale * scale).astype(int)
    k_ext = np.round(K_EXT * scale).astype(int)
    conv = psc_over_psp(NEURON["C_m"], NEURON["tau_m"], NEURON["tau_syn"])
    psp = np.tile([PSP_EXC, G_INH * PSP_EXC], (8, 4))
    psp[0, 2] *= 2.0  # L4E -> L2/3E doubled, PD14 section "Model description"
    w_full = psp * conv
    w_ext_full = PSP_EXC * conv
    tau_s = NEURON["tau_syn"]
    if background == "dc":
        dc = 0.001 * tau_s * BG_RATE * K_EXT * w_ext_full
    else:
        dc = np.zeros(8)
    # In-degree scaling: weights x 1/sqrt(K), mean input restored by DC (INM-6 helpers).
    input_rec = np.sum(w_full * full_syn / N_FULL[:, None] * FULL_MEAN_RATES, axis=1)
    dc = dc + 0.001 * tau_s * (1.0 - np.sqrt(scale)) * input_rec
    if background == "poisson":
        dc = dc + 0.001 * tau_s * (1.0 - np.sqrt(scale)) * w_ext_full * K_EXT * BG_RATE
    d_mean = np.tile([DELAY_EXC, DELAY_INH], (8, 4))
    return {"n": n, "n_syn": n_syn, "k_ext": k_ext, "w": w_full / np.sqrt(scale),
            "w_ext": w_ext_full / np.sqrt(scale), "dc": dc, "d_mean": d_mean,
            "n_syn_exact": full_syn * scale * scale}


def spike_statistics(senders: np.ndarray, times: np.ndarray, n: np.ndarray,
                     t_start: float, t_stop: float) -> dict:
    """Per-population mean rate and mean ISI CV from global 0-based sender ids.

    Parameters
    ----------
    senders
        Global neuron index of each spike, populations contiguous in ``POPULATIONS`` order.
    times
        Spike times (ms).
    n
        (8,) population sizes.
    t_start, t_stop
        Analysis window (ms).

    Returns
    -------
    dict
        ``rates`` and ``cv_isi`` (population name -> float), ``n_spikes``.
    """
    keep = (times >= t_start) & (times < t_stop)
    s, t = senders[keep], times[keep]
    total = int(n.sum())
    counts = np.bincount(s, minlength=total)
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    same = s[1:] == s[:-1]
    isi = np.diff(t)[same]
    owner = s[1:][same]
    k = np.bincount(owner, minlength=total)
    m1 = np.bincount(owner, isi, total)
    m2 = np.bincount(owner, isi * isi, total)
    bounds = np.concatenate([[0], np.cumsum(n)])
    rates, cvs = {}, {}
    dur_s = (t_stop - t_start) / 1000.0
    for p, name in enumerate(POPULATIONS):
        sl = slice(bounds[p], bounds[p + 1])
        rates[name] = float(counts[sl].sum() / n[p] / dur_s)
        kk, a, b = k[sl], m1[sl], m2[sl]
        ok = kk >= 2  # at least 3 spikes
        mean = a[ok] / kk[ok]
        var = np.maximum(b[ok] / kk[ok] - mean ** 2, 0.0)
        cvs[name] = float(np.mean(np.sqrt(var) / mean)) if ok.any() else float("nan")
    return {"rates": rates, "cv_isi": cvs, "n_spikes": int(keep.sum())}


def synaptic_events(senders: np.ndarray, times: np.ndarray, out_degree: np.ndarray,
                    t_start: float, t_stop: float) -> int:
    """Number of synaptic deliveries caused by the spikes in [t_start, t_stop) (ms).

    Each spike counts its source neuron's number of outgoing recurrent synapses.
    """
    keep = (times >= t_start) & (times < t_stop)
    return int(out_degree[senders[keep]].sum())


def peak_rss_bytes() -> dict:
    """Peak resident set size of this process and of its waited-for children (bytes).

    ``self`` is ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process image
    only. ``ru_maxrss`` is not used for it: Linux carries the RSS of the image before
    ``exec`` over into it, so a child forked from a large parent would report the parent's
    size. ``children`` (``RUSAGE_CHILDREN``) has the same flaw and is only an upper bound.
    """
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"self": hwm,
            "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def parser(description: str) -> argparse.ArgumentParser:
    """The command-line interface common to both reference scripts."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", type=float, default=0.1, help="N and K scale (default 0.1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--t-sim", type=float, default=1.0, help="timed biological time (s)")
    p.add_argument("--t-presim", type=float, default=0.5,
                   help="untimed, discarded biological time before (s)")
    p.add_argument("--background", choices=("poisson", "dc"), default="poisson")
    p.add_argument("--out", default="", help="JSON result file (default: stdout)")
    return p


def finish(result: dict, params: dict, senders: np.ndarray, times: np.ndarray,
           out_degree: np.ndarray, args: argparse.Namespace, out: str) -> dict:
    """Add spike statistics, throughput and machine state to ``result``; write it as JSON."""
    t0 = args.t_presim * 1000.0
    t1 = t0 + args.t_sim * 1000.0
    stats = spike_statistics(senders, times, params["n"], t0, t1)
    events = synaptic_events(senders, times, out_degree, t0, t1)
    sim = result["sim_wall_s"]
    ref = NEST_REFERENCE_RATES.get(round(args.scale, 4))
    result.update({
        "scale": args.scale, "seed": args.seed, "threads": args.threads,
        "background": args.background, "t_presim_s": args.t_presim, "t_sim_s": args.t_sim,
        "dt_ms": DT, "populations": list(POPULATIONS),
        "n_neurons": {k: int(v) for k, v in zip(POPULATIONS, params["n"])},
        "n_neurons_total": int(params["n"].sum()),
        "n_synapses_total": int(out_degree.sum()),
        "n_synapses_expected_total": int(params["n_syn"].sum()),
        "mean_out_degree": float(out_degree.mean()),
        "rates": stats["rates"], "cv_isi": stats["cv_isi"],
        "n_spikes_timed": stats["n_spikes"],
        "rtf": sim / args.t_sim,
        "synaptic_events_timed": events,
        "synaptic_events_per_s": events / sim if sim > 0 else float("nan"),
        "load_average_end": list(os.getloadavg()),
        "nest_reference_rates": dict(zip(POPULATIONS, ref)) if ref else None,
    })
    result.setdefault("peak_rss_bytes", peak_rss_bytes())
    text = json.dumps(result, indent=2, sort_keys=True)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    else:
        print(text)
    return result


def clock() -> float:
    """Wall-clock seconds (monotonic)."""
    return time.perf_counter()
