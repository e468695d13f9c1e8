"""PD14 microcircuit in NEST 3.10: the reference our engine is compared against (issue #8).

Written from the published model description (see ``pd14_model.py``) with NEST's own
``fixed_total_number`` connection rule (multapses and autapses allowed), ``iaf_psc_exp``
neurons, truncated-normal weights and delays (``nest.math.redraw``), one Poisson generator per
population connected all-to-all (every neuron gets its own independent train of rate
``K_ext * 8`` spikes/s) or a DC background.

Timing: ``build_s`` covers create + connect + ``nest.Prepare`` (NEST builds its presynaptic
tables there); the presimulation (``--t-presim``) is untimed; ``sim_wall_s`` is the wall time of
the ``--t-sim`` simulation only. Synaptic events are counted exactly: every spike in the timed
window contributes its source neuron's number of outgoing recurrent synapses.

Usage::

    python bench/reference/nest_pd14.py --scale 0.1 --seed 1 --threads 2 --t-sim 1 \
        --background poisson --out /tmp/nest.json
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pd14_model as m  # noqa: E402


def _out_degrees(nest, neurons, first: int, n_total: int, n_syn: int) -> np.ndarray:
    """Number of outgoing recurrent synapses of every neuron, shape (n_total,), int64.

    ``SynapseCollection.get`` builds a full status dictionary per connection (about 4 us and
    a few kB each), so sources are read in chunks of about 2e5 connections to bound memory.
    """
    step = max(1, int(2e5 * n_total / max(n_syn, 1)))
    out = np.zeros(n_total, dtype=np.int64)
    for a in range(0, n_total, step):
        conns = nest.GetConnections(source=neurons[a:min(a + step, n_total)], target=neurons)
        if len(conns) == 0:
            continue
        src = np.atleast_1d(np.asarray(conns.get("source"), dtype=np.int64)) - first
        out += np.bincount(src, minlength=n_total)
    return out


def main(argv: list[str] | None = None) -> dict:
    args = m.parser(__doc__.splitlines()[0]).parse_args(argv)
    load_start = list(os.getloadavg())
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    p = m.derive(args.scale, args.background)
    t0 = m.clock()
    nest.ResetKernel()
    nest.local_num_threads = args.threads
    nest.resolution = m.DT
    nest.rng_seed = args.seed
    pops = []
    for i in range(8):
        pop = nest.Create("iaf_psc_exp", int(p["n"][i]))
        pop.set(C_m=m.NEURON["C_m"], tau_m=m.NEURON["tau_m"], tau_syn_ex=m.NEURON["tau_syn"],
                tau_syn_in=m.NEURON["tau_syn"], E_L=m.NEURON["E_L"], V_th=m.NEURON["V_th"],
                V_reset=m.NEURON["V_reset"], t_ref=m.NEURON["t_ref"], I_e=float(p["dc"][i]))
        pop.set(V_m=nest.random.normal(mean=float(m.V0_MEAN[i]), std=float(m.V0_SD[i])))
        pops.append(pop)
    recorder = nest.Create("spike_recorder")
    if args.background == "poisson":
        gens = nest.Create("poisson_generator", 8)
        gens.rate = (m.BG_RATE * p["k_ext"]).astype(float).tolist()
    for i, target in enumerate(pops):
        for j, source in enumerate(pops):
            n_syn = int(p["n_syn"][i, j])
            if n_syn == 0:
                continue
            w = float(p["w"][i, j])
            lo, hi = (-np.inf, 0.0) if w < 0 else (0.0, np.inf)
            d = float(p["d_mean"][i, j])
            nest.Connect(
                source, target, {"rule": "fixed_total_number", "N": n_syn},
                {"synapse_model": "static_synapse",
                 "weight": nest.math.redraw(nest.random.normal(mean=w, std=abs(w) * m.WEIGHT_REL_SD),
                                            min=lo, max=hi),
                 # redraw below dt/2 so that delays on the dt grid are >= dt
                 "delay": nest.math.redraw(nest.random.normal(mean=d, std=d * m.DELAY_REL_SD),
                                           min=0.5 * m.DT, max=np.inf)})
        if args.background == "poisson":
            nest.Connect(gens[i], target, "all_to_all",
                         {"synapse_model": "static_synapse", "weight": float(p["w_ext"]),
                          "delay": m.DELAY_EXC})
        nest.Connect(target, recorder)
    nest.Prepare()
    nest.Cleanup()
    build_s = m.clock() - t0

    nest.Simulate(args.t_presim * 1000.0)
    t1 = m.clock()
    nest.Simulate(args.t_sim * 1000.0)
    sim_s = m.clock() - t1

    neurons = pops[0]
    for pop in pops[1:]:
        neurons = neurons + pop
    first = neurons[0].global_id
    ev = recorder.get("events")
    senders = np.asarray(ev["senders"], dtype=np.int64) - first
    times = np.asarray(ev["times"], dtype=float)
    rss = m.peak_rss_bytes()  # before the connection read-out below, which costs memory
    per_pathway = [[len(nest.GetConnections(source=src, target=tgt)) for src in pops] for tgt in pops]
    out_degree = _out_degrees(nest, neurons, first, int(p["n"].sum()), int(p["n_syn"].sum()))
    result = {"simulator": "nest", "version": nest.__version__, "device": "nest",
              "build_s": build_s, "compile_s": 0.0, "sim_wall_s": sim_s,
              "load_average_start": load_start, "peak_rss_bytes": rss,
              "n_synapses_per_pathway": per_pathway}
    return m.finish(result, p, senders, times, out_degree, args, args.out)


if __name__ == "__main__":
    main()
