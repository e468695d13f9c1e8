"""PD14 microcircuit hand-written in plain Brian2 2.9: the "no abstraction" reference (issue #8).

The same network as ``nest_pd14.py`` (see ``pd14_model.py``), written the way a Brian2 user
would write it by hand: one ``NeuronGroup`` of all neurons (populations are contiguous index
ranges), one ``Synapses`` object with per-synapse weight and delay whose connectivity is
drawn in numpy (fixed total number per pathway, multapses and autapses allowed) and passed
as ``connect(i=..., j=...)``, one ``PoissonInput`` per population (binomial number of
background spikes per time step, the same process as ``K_ext`` independent Poisson trains),
or a per-neuron DC current. Exact (linear) integration, dt 0.1 ms.

Devices: ``--device runtime`` (cython target) or ``--device cpp_standalone`` (OpenMP threads
``--threads``). Timing: ``build_s`` is the Python-side creation and connectivity drawing;
runtime ``compile_s`` is the first time step (cython compilation, cached across runs in the
user's cython cache); standalone ``compile_s`` is code generation plus compilation;
``sim_wall_s`` is the timed ``--t-sim`` run only (for standalone, the binary's own timing of
its last ``run``).

Usage::

    python bench/reference/brian2_pd14.py --device cpp_standalone --threads 2 --scale 0.1 \
        --seed 1 --t-sim 1 --out /tmp/brian2.json
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pd14_model as m  # noqa: E402


def draw_connectivity(p: dict, rng: np.random.Generator) -> dict:
    """Sources, targets (global indices), weights (pA) and delays (dt steps) of all pathways.

    Weights are normal and redrawn until they keep the sign of their mean; delays are normal,
    redrawn below dt/2 and rounded to the dt grid (as ``nest.math.redraw`` and NEST's delay
    rounding do).
    """
    off = np.concatenate([[0], np.cumsum(p["n"])])
    pre, post, w, d = [], [], [], []
    for i in range(8):
        for j in range(8):
            k = int(p["n_syn"][i, j])
            if k == 0:
                continue
            pre.append(off[j] + rng.integers(0, p["n"][j], k))
            post.append(off[i] + rng.integers(0, p["n"][i], k))
            mu = p["w"][i, j]
            w.append(_redraw(rng, mu, abs(mu) * m.WEIGHT_REL_SD, k,
                             lambda x, s=np.sign(mu): np.sign(x) != s))
            dm = p["d_mean"][i, j]
            dd = _redraw(rng, dm, dm * m.DELAY_REL_SD, k, lambda x: x < 0.5 * m.DT)
            d.append(np.maximum(np.floor(dd / m.DT + 0.5), 1).astype(np.int64))
    return {"pre": np.concatenate(pre), "post": np.concatenate(post),
            "w": np.concatenate(w), "delay_steps": np.concatenate(d)}


def _redraw(rng: np.random.Generator, mean: float, sd: float, k: int, bad) -> np.ndarray:
    x = rng.normal(mean, sd, k)
    mask = bad(x)
    while mask.any():
        x[mask] = rng.normal(mean, sd, int(mask.sum()))
        mask = bad(x)
    return x


def main(argv: list[str] | None = None) -> dict:
    ap = m.parser(__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("runtime", "cpp_standalone"), default="runtime")
    ap.add_argument("--build-dir", default="/tmp/vc_brian2_pd14",
                    help="cpp_standalone project directory (one per thread count is appended)")
    args = ap.parse_args(argv)
    load_start = list(os.getloadavg())
    import brian2
    from brian2 import (Hz, Network, NeuronGroup, PoissonInput, SpikeMonitor, Synapses,
                        defaultclock, device, mV, ms, pA, pF, prefs, seed, set_device)

    standalone = args.device == "cpp_standalone"
    build_dir = Path(f"{args.build_dir}_t{args.threads}")
    if standalone:
        set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = args.threads
        # Brian2's default "make -j" is unbounded: on a small shared machine it can start one
        # compiler per source file at once and exhaust memory
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]
        if Path("/usr/bin/time").exists():
            # the binary's own peak RSS (GNU time, kB), unpolluted by the forking Python process
            prefs.devices.cpp_standalone.run_cmd_unix = [
                "/usr/bin/time", "-f", "%M", "-o", "main_maxrss_kb.txt", "./main"]
    else:
        prefs.codegen.target = "cython"
    p = m.derive(args.scale, args.background)
    rng_conn, rng_v0 = (np.random.default_rng(s) for s in np.random.SeedSequence(args.seed).spawn(2))

    t0 = m.clock()
    defaultclock.dt = m.DT * ms
    seed(args.seed)
    n_total = int(p["n"].sum())
    off = np.concatenate([[0], np.cumsum(p["n"])])
    nrn = m.NEURON
    namespace = {"E_L": nrn["E_L"] * mV, "V_th": nrn["V_th"] * mV, "V_reset": nrn["V_reset"] * mV,
                 "tau_m": nrn["tau_m"] * ms, "tau_syn": nrn["tau_syn"] * ms, "C_m": nrn["C_m"] * pF}
    eqs = """
    dV/dt = -(V - E_L) / tau_m + (I_syn + I_e) / C_m : volt (unless refractory)
    dI_syn/dt = -I_syn / tau_syn : amp
    I_e : amp (constant)
    """
    neurons = NeuronGroup(n_total, eqs, threshold="V >= V_th", reset="V = V_reset",
                          refractory=nrn["t_ref"] * ms, method="exact", namespace=namespace,
                          name="pd14_neurons")
    neurons.V = np.concatenate([rng_v0.normal(m.V0_MEAN[k], m.V0_SD[k], p["n"][k])
                                for k in range(8)]) * mV
    neurons.I_syn = 0 * pA
    neurons.I_e = np.repeat(p["dc"], p["n"]) * pA
    conn = draw_connectivity(p, rng_conn)
    synapses = Synapses(neurons, neurons, "w : amp (constant)", on_pre="I_syn_post += w",
                        name="pd14_synapses")
    synapses.connect(i=conn["pre"], j=conn["post"])
    synapses.w = conn["w"] * pA
    synapses.delay = conn["delay_steps"] * m.DT * ms
    objects = [neurons, synapses]
    if args.background == "poisson":
        # PoissonInput takes no name in Brian2 2.9: its names are auto-generated
        for k in range(8):
            objects.append(PoissonInput(neurons[off[k]:off[k + 1]], "I_syn", N=int(p["k_ext"][k]),
                                        rate=m.BG_RATE * Hz, weight=float(p["w_ext"]) * pA))
    spikes = SpikeMonitor(neurons, name="pd14_spikes")
    net = Network(*objects, spikes, name="pd14_network")
    build_s = m.clock() - t0

    result = {"simulator": "brian2", "version": brian2.__version__, "device": args.device,
              "codegen_target": "cpp" if standalone else "cython",
              "build_s": build_s, "load_average_start": load_start}
    if standalone:
        net.run(args.t_presim * 1000.0 * ms)
        net.run(args.t_sim * 1000.0 * ms)
        t1 = m.clock()
        device.build(directory=str(build_dir), compile=True, run=False)
        result["compile_s"] = m.clock() - t1
        t2 = m.clock()
        (build_dir / "main_maxrss_kb.txt").unlink(missing_ok=True)
        device.run(directory=str(build_dir))
        result["binary_wall_s"] = m.clock() - t2
        result["sim_wall_s"] = float(device._last_run_time)
        result["build_dir"] = str(build_dir)
    else:
        t1 = m.clock()
        net.run(defaultclock.dt)  # triggers code generation and cython compilation
        result["compile_s"] = m.clock() - t1
        net.run(args.t_presim * 1000.0 * ms - defaultclock.dt)
        t2 = m.clock()
        net.run(args.t_sim * 1000.0 * ms)
        result["sim_wall_s"] = m.clock() - t2
    result["peak_rss_bytes"] = m.peak_rss_bytes()
    rss_file = build_dir / "main_maxrss_kb.txt"
    if standalone and rss_file.exists():
        result["peak_rss_bytes"]["binary"] = int(rss_file.read_text().split()[-1]) * 1024
    senders = np.asarray(spikes.i[:], dtype=np.int64)
    times = np.asarray(spikes.t[:] / ms, dtype=float)
    out_degree = np.bincount(conn["pre"], minlength=n_total)
    return m.finish(result, p, senders, times, out_degree, args, args.out)


if __name__ == "__main__":
    main()
