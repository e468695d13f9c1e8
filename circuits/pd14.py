"""Run the PD14 microcircuit preset and compare it with NEST and the published rates.

Functions
---------
run_pd14
    Build, run and analyse PD14 for several seeds; optionally write one HDF5 file per
    seed and ``results.json``.
pd14_statistics
    Per-population rate, ISI CV and synchrony after the transient.
format_rate_table
    The text table: ours (mean +- s.d. over seeds), NEST 3.10 reference, published.
run_from_cli
    ``ventral-columns experiment pd14 --scale S --seeds N --device D --threads T``.

References
----------
Potjans TC, Diesmann M (2014) Cereb Cortex 24:785. doi:10.1093/cercor/bhs358 (Fig. 6:
rates, irregularity = ISI CV, synchrony = variance/mean of the population spike count in
3 ms bins of 1000 neurons).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Network, SpikeMonitor, second

from analysis.errors import ConfigError
from analysis.outputs import write_json
from analysis.provenance import collect_provenance
from analysis.spiketrains import SpikeRecord, SpikeTrains
from circuits.simulate import (
    RunTimings,
    configure_device,
    default_build_root,
    derive_seeds,
    device_label,
    reset_device,
    run_network,
    seed_brian,
)
from columns.pd14 import NEST_REFERENCE_RATES_HZ, PD14_FULL_RATES_HZ, PD14_POPULATION_ORDER, build_pd14, pd14_params

__all__ = ["run_pd14", "run_pd14_nest", "pd14_statistics", "format_rate_table", "run_from_cli", "T_PRESIM_S", "T_SIM_S"]

logger = logging.getLogger(__name__)

#: Transient discarded before analysis, s (INM-6 reference t_presim).
T_PRESIM_S = 0.5
#: Analysed simulation time, s (INM-6 reference t_sim).
T_SIM_S = 1.0
#: Synchrony: bin (s) and number of neurons, PD14 Fig. 6.
SYNCHRONY_BIN_S = 0.003
SYNCHRONY_NEURONS = 1000
#: Minimum number of spikes of a neuron for its ISI CV and LV.
CV_MIN_SPIKES = 5


def _irregularity(ids: np.ndarray, times: np.ndarray, n_nodes: int) -> tuple[float, float]:
    """Mean per-neuron ISI CV (s.d. with ddof=1) and local variation LV over neurons with >= 5 spikes.

    ``ids``/``times`` sorted by neuron then time. The CV of a short train is biased low
    (a 4 Hz Poisson train observed for 1 s gives CV 0.82 on average, for 5 s 0.95); LV
    (Shinomoto et al. 2003, doi:10.1162/089976603322518759) is 1 for Poisson at any length.
    """
    counts = np.bincount(ids.astype(np.int64), minlength=n_nodes)
    if times.size < 2:
        return float("nan"), float("nan")
    isi = np.diff(times)
    same = ids[1:] == ids[:-1]
    owner = ids[1:].astype(np.int64)
    ok_neuron = counts >= CV_MIN_SPIKES
    use = same & ok_neuron[owner]
    if not use.any():
        return float("nan"), float("nan")
    n_isi = np.bincount(owner[use], minlength=n_nodes)
    s1 = np.bincount(owner[use], weights=isi[use], minlength=n_nodes)
    s2 = np.bincount(owner[use], weights=isi[use] ** 2, minlength=n_nodes)
    k = ok_neuron & (n_isi >= 2)
    mean = s1[k] / n_isi[k]
    var = (s2[k] - n_isi[k] * mean**2) / (n_isi[k] - 1)
    cv = float(np.mean(np.sqrt(np.maximum(var, 0.0)) / mean))
    # LV from consecutive ISI pairs of the same neuron.
    pair = use[:-1] & use[1:] & (owner[:-1] == owner[1:])
    a, b = isi[:-1][pair], isi[1:][pair]
    term = 3.0 * ((a - b) / (a + b)) ** 2
    n_pair = np.bincount(owner[:-1][pair], minlength=n_nodes)
    lv_sum = np.bincount(owner[:-1][pair], weights=term, minlength=n_nodes)
    m = n_pair > 0
    lv = float(np.mean(lv_sum[m] / n_pair[m])) if m.any() else float("nan")
    return cv, lv


def pd14_statistics(spikes: dict[str, SpikeTrains], t_start: float, t_stop: float) -> dict[str, dict[str, float]]:
    """Per-population mean rate (Hz), mean ISI CV and synchrony in ``[t_start, t_stop)``.

    Parameters
    ----------
    spikes : dict of str to SpikeTrains
    t_start, t_stop : float
        Analysis window, s.

    Returns
    -------
    dict of str to dict
        ``{"rate_hz", "cv_isi", "lv", "synchrony", "n_nodes", "n_spikes"}`` per population;
        CV and LV are means over neurons with >= 5 spikes (NaN if none; see
        :func:`_irregularity` for the short-train bias of the CV); synchrony is
        variance/mean of the spike count of the first 1000 neurons in 3 ms bins.
    """
    out: dict[str, dict[str, float]] = {}
    duration = t_stop - t_start
    for name, st in spikes.items():
        sl = st.time_slice(t_start, t_stop)
        rate = sl.n_spikes / (st.n_nodes * duration)
        order = np.lexsort((sl.times, sl.node_ids))
        ids, times = sl.node_ids[order], sl.times[order]
        cv, lv = _irregularity(ids, times, st.n_nodes)
        sub = sl.node_ids < SYNCHRONY_NEURONS
        edges = np.arange(t_start, t_stop + 1e-12, SYNCHRONY_BIN_S)
        hist, _ = np.histogram(sl.times[sub], bins=edges)
        sync = float(hist.var() / hist.mean()) if hist.mean() > 0 else float("nan")
        out[name] = {
            "rate_hz": float(rate),
            "cv_isi": cv,
            "lv": lv,
            "synchrony": sync,
            "n_nodes": int(st.n_nodes),
            "n_spikes": int(sl.n_spikes),
        }
    return out


def _short(name: str) -> str:
    return name.removeprefix("pd14_")


def format_rate_table(summary: dict[str, Any], scale: float, nest_summary: dict[str, Any] | None = None) -> str:
    """Text table: ours (mean +- s.d. over seeds), NEST on the identical network (optional),
    the NEST 3.10 numbers of issue #4, the published full-scale rates, ISI CV, LV, synchrony."""
    ref = NEST_REFERENCE_RATES_HZ.get(round(scale, 6))
    window = summary.get("analysis_window_s", [T_PRESIM_S, T_PRESIM_S + T_SIM_S])
    lines = [
        f"PD14 at scale {scale:g}: {summary['n_seeds']} seed(s), {summary['device']}, rates in spikes/s "
        f"(analysis window {window[0]:g}-{window[1]:g} s)",
        f"{'population':<11}{'ours':>13}"
        + (f"{'NEST same net':>15}{'ours/NEST':>10}" if nest_summary else "")
        + f"{'NEST #4':>9}{'ours/#4':>9}{'published':>10}{'ISI CV':>8}{'LV':>6}{'synchrony':>10}",
    ]
    for pop in PD14_POPULATION_ORDER:
        row = summary["populations"][pop]
        issue = ref[pop] if ref else float("nan")
        text = f"{pop:<11}{row['rate_hz_mean']:>7.2f} ±{row['rate_hz_sd']:>4.2f}"
        if nest_summary:
            nrow = nest_summary["populations"][pop]
            text += f"{nrow['rate_hz_mean']:>9.2f} ±{nrow['rate_hz_sd']:>4.2f}{row['rate_hz_mean'] / nrow['rate_hz_mean']:>10.3f}"
        text += (
            f"{issue:>9.2f}{row['rate_hz_mean'] / issue:>9.3f}{PD14_FULL_RATES_HZ[pop]:>10.2f}"
            f"{row['cv_isi_mean']:>8.2f}{row['lv_mean']:>6.2f}{row['synchrony_mean']:>10.2f}"
        )
        lines.append(text)
    return "\n".join(lines)


def _structure_key(scale: float, background: str, pathway_resolved: bool, threads: int, merge: bool = True,
                   hooks: Collection[str] = (), sampler: str = "event_gaps") -> str:
    # One directory per thread count too: a 2-thread run in a directory last built for 1 thread
    # gave 2-5x too high PD14 rates (measured in bench_pd14), while fresh directories agree.
    text = (f"pd14|{scale!r}|{background}|{pathway_resolved}|threads={threads}" + ("" if merge else "|unmerged")
            + (f"|hooks={','.join(sorted(hooks))}" if hooks else "") + ("" if sampler == "event_gaps" else f"|{sampler}"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def run_pd14(
    scale: float = 0.1,
    master_seeds: Sequence[int] = (1,),
    *,
    device: str = "runtime",
    target: str = "cython",
    threads: int = 1,
    background: str = "poisson",
    pathway_resolved: bool = False,
    t_presim: float = T_PRESIM_S,
    t_sim: float = T_SIM_S,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    build_root: str | os.PathLike[str] | None = None,
    merge: bool = True,
    hooks: Collection[str] = (),
    sampler: str = "event_gaps",
) -> dict[str, Any]:
    """Build and run PD14 once per master seed; analyse after ``t_presim``.

    Parameters
    ----------
    scale : float
        N and K scale (> 0).
    master_seeds : sequence of int
        One run per master seed; per-purpose seeds are derived from it.
    device : str
        ``"runtime"`` or ``"cpp_standalone"``.
    target : str
        Runtime target (``"cython"`` or ``"numpy"``).
    threads : int
        OpenMP threads (standalone).
    background : str
        ``"poisson"`` or ``"dc"``.
    pathway_resolved : bool
        Pathway-resolved currents instead of ``I_exc``/``I_inh``.
    t_presim, t_sim : float
        Discarded transient and analysed time, s.
    out : path, optional
        Directory for ``pd14_scale{S}_seed{K}.h5`` files and ``results.json``.
    overwrite : bool
        Replace existing outputs.
    build_root : path, optional
        Parent of the standalone build directories (one per network structure).
    merge : bool
        One NeuronGroup for all populations and one Synapses per pathway variable (default;
        see :func:`columns.column.build_column`); ``False`` for the per-object layout.
    hooks : collection of str
        Manipulation hooks to build (default none: PD14 runs have no manipulation, and each
        hook is per-cell state read at every step; ``columns.cell_models.HOOKS`` gives the
        layout before 2026-11-23, same spikes, for benchmarks).
    sampler : str
        How the Poisson background is drawn: ``"event_gaps"`` (default) or ``"per_step"``
        (:class:`columns.params.BackgroundParams`; same statistics, other random draws).

    Returns
    -------
    dict
        ``{"scale", "device", "threads", "n_seeds", "runs": [...], "populations": {pop:
        {"rate_hz_mean", "rate_hz_sd", "cv_isi_mean", "synchrony_mean", "nest_reference_hz",
        "published_hz"}}, "table": str}``.
    """
    if not master_seeds:
        raise ConfigError("need at least one seed")
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        from analysis.outputs import check_output_path

        # refuse before hours of simulation, not after them
        for master in master_seeds:
            check_output_path(out_dir / f"pd14_scale{scale:g}_seed{master}.h5", overwrite)
        check_output_path(out_dir / "results.json", overwrite)
        out_dir.mkdir(parents=True, exist_ok=True)
    params = pd14_params(scale, background=background, pathway_resolved=pathway_resolved, sampler=sampler)
    build_dir = Path(build_root or default_build_root()) / f"pd14_{_structure_key(scale, background, pathway_resolved, threads, merge, hooks, sampler)}"
    label = device_label(device, target)
    duration = (t_presim + t_sim) * second
    runs = []
    try:
        for master in master_seeds:
            seeds = derive_seeds(master, ("connectivity", "initial_state", "background"))
            configure_device(device, target=target, threads=threads, directory=build_dir)
            timings = RunTimings()
            t0 = time.perf_counter()
            column = build_pd14(
                params, connectivity_seed=seeds["connectivity"], initial_state_seed=seeds["initial_state"], merge=merge,
                hooks=hooks,
            )
            monitors = {name: SpikeMonitor(g, name=f"{g.name}_spikes") for name, g in column.populations.items()}
            net = Network(*column.brian_objects(), *monitors.values(), name="pd14_network")
            seed_brian(seeds["background"])
            timings.build = time.perf_counter() - t0
            phase = run_network(net, duration, directory=build_dir)
            timings.compile, timings.simulate, timings.extra = phase.compile, phase.simulate, phase.extra
            spikes = {}
            for name, mon in monitors.items():
                full = column.population(name).name
                spikes[full] = SpikeTrains(
                    full,
                    np.asarray(mon.i[:], dtype=np.uint64),
                    np.asarray(mon.t[:] / second, dtype=np.float64),
                    len(mon.source),
                    0.0,
                    float(duration / second),
                )
            stats = pd14_statistics(spikes, t_presim, t_presim + t_sim)
            n_syn = int(sum(len(s) for s in column.synapses.values()))
            whole = pd14_statistics(spikes, 0.0, float(duration / second))
            n_events = int(sum(v["n_spikes"] for v in whole.values()))
            # Synaptic events: every spike of a source is delivered to all its synapses.
            syn_events = sum(
                whole[column.population(src).name]["n_spikes"] * len(syn) / len(column.population(src))
                for (src, _tgt), syn in column.synapses.items()
            )
            run = {
                "seeds": seeds,
                "n_neurons": int(sum(len(g) for g in column.populations.values())),
                "n_synapses": n_syn,
                "wall_time_s": timings.as_dict(),
                "biological_time_s": float(duration / second),
                "populations": {_short(k): v for k, v in stats.items()},
                "mean_out_degree": n_syn / max(1, sum(len(g) for g in column.populations.values())),
                "n_spikes_total": n_events,
                "synaptic_events": float(syn_events),
            }
            if out_dir is not None:
                from analysis.hdf5_io import write_spike_record

                t0 = time.perf_counter()
                record = SpikeRecord(
                    spikes=spikes,
                    trials={"start": [0.0, t_presim], "stop": [t_presim, t_presim + t_sim], "trial": [0, 1],
                            "condition": ["transient", "spontaneous"]},
                    config={"experiment": "pd14", "scale": scale, "background": background,
                            "pathway_resolved": pathway_resolved, "t_presim_s": t_presim, "t_sim_s": t_sim},
                    provenance=collect_provenance(
                        seeds=seeds, device=label, threads=threads, biological_time_s=float(duration / second),
                        wall_time_s=timings.as_dict(),
                    ),
                )
                write_spike_record(record, out_dir / f"pd14_scale{scale:g}_seed{master}.h5", overwrite=overwrite)
                timings.write = time.perf_counter() - t0
                run["wall_time_s"] = timings.as_dict()
            logger.info("pd14 scale %g seed %d: %s", scale, master, timings.as_dict())
            runs.append(run)
    finally:
        reset_device()
    summary = _summarise(runs, scale, label, threads)
    summary["analysis_window_s"] = [t_presim, t_presim + t_sim]
    summary["table"] = format_rate_table(summary, scale)
    if out_dir is not None:
        write_json(out_dir / "results.json", summary, overwrite=overwrite)
    return summary


def run_pd14_nest(
    scale: float = 0.1,
    master_seeds: Sequence[int] = (1,),
    *,
    threads: int = 1,
    background: str = "poisson",
    t_presim: float = T_PRESIM_S,
    t_sim: float = T_SIM_S,
) -> dict[str, Any]:
    """Run the identical PD14 network in NEST 3.10 (``iaf_psc_exp``) for cross-validation.

    The network is built from the same :func:`columns.column.column_derived` numbers as ours
    (sizes, synapse numbers, mean weights, DC, background in-degree and weight); NEST draws
    the connectivity with its own ``fixed_total_number`` rule and ``redraw`` distributions.

    Parameters
    ----------
    scale, master_seeds, threads, background, t_presim, t_sim
        As in :func:`run_pd14` (``threads``: NEST local threads).

    Returns
    -------
    dict
        Same layout as :func:`run_pd14` (``device`` = ``"nest"``).
    """
    import nest  # optional dependency of the validation only

    from brian2 import mV, ms, pA, pF

    from columns.column import column_derived
    from columns.pd14 import PD14_POPULATIONS

    params = pd14_params(scale, background=background)
    derived = column_derived(params)
    runs = []
    for master in master_seeds:
        seeds = derive_seeds(master, ("connectivity",))
        nest.ResetKernel()
        nest.set(resolution=0.1, rng_seed=seeds["connectivity"] % (2**31 - 2) + 1, local_num_threads=threads, print_time=False)
        t0 = time.perf_counter()
        groups = {}
        for pop in PD14_POPULATION_ORDER:
            pp = PD14_POPULATIONS[pop]
            cell = pp.cell
            groups[pop] = nest.Create("iaf_psc_exp", derived.sizes[pop], params={
                "C_m": float(cell.c_m / pF),
                "tau_m": float(cell.tau_m / ms), "tau_syn_ex": float(cell.tau_syn_exc / ms),
                "tau_syn_in": float(cell.tau_syn_inh / ms), "t_ref": float(cell.tau_refractory / ms),
                "E_L": float(cell.v_rest / mV), "V_reset": float(cell.v_reset / mV), "V_th": float(cell.v_threshold / mV),
                "I_e": float(derived.dc[pop] / pA)})
            groups[pop].V_m = nest.random.normal(mean=float(pp.v_init_mean / mV), std=float(pp.v_init_std / mV))
            if params.background.kind == "poisson":
                gen = nest.Create("poisson_generator", params={"rate": float(params.background.rate) * derived.background_indegree[pop]})
                nest.Connect(gen, groups[pop], syn_spec={"weight": float(derived.background_weight[pop] / pA), "delay": 1.5})
        for (src, tgt), pw in params.pathways.items():
            w = float(derived.weights[(src, tgt)] / pA)
            d = float(pw.delay_mean / ms)
            nest.Connect(groups[src], groups[tgt], {"rule": "fixed_total_number", "N": derived.synapse_numbers[(src, tgt)]}, {
                "synapse_model": "static_synapse",
                "weight": nest.math.redraw(nest.random.normal(mean=w, std=abs(w) * pw.weight_rel_std),
                                           min=0.0 if w > 0 else -np.inf, max=np.inf if w > 0 else 0.0),
                "delay": nest.math.redraw(nest.random.normal(mean=d, std=d * pw.delay_rel_std), min=0.05, max=np.inf)})
        recorders = {pop: nest.Create("spike_recorder") for pop in PD14_POPULATION_ORDER}
        for pop in PD14_POPULATION_ORDER:
            nest.Connect(groups[pop], recorders[pop])
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        nest.Simulate((t_presim + t_sim) * 1000.0)
        simulate = time.perf_counter() - t0
        spikes = {}
        for pop in PD14_POPULATION_ORDER:
            ev = recorders[pop].get("events")
            first = int(groups[pop][0].global_id)
            ids = np.asarray(ev["senders"], dtype=np.int64) - first
            times = np.asarray(ev["times"], dtype=float) / 1000.0
            order = np.lexsort((ids, times))
            spikes[f"pd14_{pop}"] = SpikeTrains(f"pd14_{pop}", ids[order].astype(np.uint64), times[order],
                                                derived.sizes[pop], 0.0, t_presim + t_sim)
        stats = pd14_statistics(spikes, t_presim, t_presim + t_sim)
        runs.append({"seeds": seeds, "wall_time_s": {"build": build, "simulate": simulate},
                     "biological_time_s": t_presim + t_sim,
                     "populations": {_short(k): v for k, v in stats.items()}})
    summary = _summarise(runs, scale, f"nest {nest.__version__}", threads)
    summary["analysis_window_s"] = [t_presim, t_presim + t_sim]
    summary["table"] = format_rate_table(summary, scale)
    return summary


def _summarise(runs: list[dict[str, Any]], scale: float, label: str, threads: int) -> dict[str, Any]:
    nest = NEST_REFERENCE_RATES_HZ.get(round(scale, 6), {})
    pops = {}
    for pop in PD14_POPULATION_ORDER:
        rates = np.array([r["populations"][pop]["rate_hz"] for r in runs])
        cvs = np.array([r["populations"][pop]["cv_isi"] for r in runs])
        lvs = np.array([r["populations"][pop]["lv"] for r in runs])
        syn = np.array([r["populations"][pop]["synchrony"] for r in runs])
        pops[pop] = {
            "rate_hz_mean": float(rates.mean()),
            "rate_hz_sd": float(rates.std(ddof=1)) if rates.size > 1 else 0.0,
            "rate_hz_per_seed": rates.tolist(),
            "cv_isi_mean": float(np.nanmean(cvs)) if np.isfinite(cvs).any() else float("nan"),
            "lv_mean": float(np.nanmean(lvs)) if np.isfinite(lvs).any() else float("nan"),
            "synchrony_mean": float(np.nanmean(syn)) if np.isfinite(syn).any() else float("nan"),
            "nest_reference_hz": nest.get(pop),
            "published_hz": PD14_FULL_RATES_HZ[pop],
        }
    return {
        "experiment": "pd14",
        "scale": scale,
        "device": label,
        "threads": threads,
        "n_seeds": len(runs),
        "analysis_window_s": [T_PRESIM_S, T_PRESIM_S + T_SIM_S],
        "populations": pops,
        "runs": runs,
    }


def run_from_cli(args: Any) -> int:
    """Entry point of ``ventral-columns experiment pd14`` (see :mod:`circuits.cli`)."""
    scale = args.scale if args.scale is not None else 0.1
    n_seeds = args.seeds if args.seeds is not None else 1
    variants = getattr(args, "variants", None) or ["poisson"]
    out = Path(args.out) if args.out else Path("output") / "pd14"
    for variant in variants:
        if variant not in ("poisson", "dc"):
            raise ConfigError(f"pd14 variants are 'poisson' and 'dc', got {variant!r}")
        summary = run_pd14(
            scale,
            list(range(1, n_seeds + 1)),
            device=args.device,
            threads=args.threads,
            background=variant,
            out=out / variant if len(variants) > 1 else out,
            overwrite=args.overwrite,
        )
        print(summary["table"])  # user-facing CLI output
    return 0
