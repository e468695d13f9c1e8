"""Analysis benchmark: our Numba-backed statistics against Elephant 1.2.1, and STA throughput.

Data: 10,000 neurons × 100 contiguous 1-s trials of homogeneous Poisson spikes (rates
log-normal, median 4 Hz; about 5·10⁶ spikes), as flat arrays. Elephant gets one
``neo.SpikeTrain`` per neuron over the whole recording (the conversion time is reported
but not charged to Elephant). For each statistic both sides start from those inputs and
produce the same numbers; equality is verified on the subset Elephant computes.

When Elephant is too slow at full size it is timed on a documented subset and its time
scaled linearly to the full size (by trials, neurons or pairs, as stated in
``elephant_extrapolation``); ours always runs at full size. Numba compilation is done
once beforehand and reported as ``numba_compile_s``.

The two correlation matrices run at full size on both sides and their full
10,000 × 10,000 outputs are compared; each side's time is the median of repeated calls in
this run (ours: the public function from the spikes; Elephant: ``BinnedSpikeTrain`` plus
``correlation_coefficient``, also reported separately). For the trial-count matrix the
run also times writing a fresh dense output and the BLAS ``dsyrk`` product alone, which
bound what any implementation can reach.

STA: 1,000 neurons (Poisson, 8 Hz) over a 20-minute sparse-noise protocol (16 × 16 pixels,
10-ms frames, 120,000 frames, 3 random ±1 spots per frame, seeded), frames generated block
by block while streaming, 10 lags.

Writes ``<out>/analysis.json``.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from analysis import _kernels
from analysis.binning import bin_spikes
from analysis.outputs import write_json
from analysis.provenance import collect_provenance
from analysis.receptive_fields import spike_triggered_average
from analysis.spike_stats import (
    correlation_coefficient,
    cross_correlation_histogram,
    cv,
    fanofactor,
    isi_statistics,
    spike_count_correlation,
)
from analysis.spiketrains import SpikeTrains

logger = logging.getLogger("bench.analysis")
TARGET_SPEEDUP = 20.0
SEED = 20261122


def _timed(func, repeats: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        out = None
        gc.collect()
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _poisson_population(n_nodes: int, duration: float, rng: np.random.Generator, rates: np.ndarray) -> SpikeTrains:
    n = rng.poisson(rates * duration)
    ids = np.repeat(np.arange(n_nodes, dtype=np.uint64), n)
    times = rng.uniform(0.0, duration, ids.size)
    order = np.argsort(times, kind="stable")
    return SpikeTrains("v1_l4_exc", ids[order], times[order], n_nodes, 0.0, duration)


def _entry(ours_s: float, elephant_measured_s: float, scale: float, subset: str, extrapolation: str,
           verified: dict[str, Any], **extra: Any) -> dict[str, Any]:
    elephant_s = elephant_measured_s * scale
    speedup = elephant_s / ours_s
    return {
        "ours_s": ours_s,
        "elephant_s": elephant_s,
        "elephant_measured_s": elephant_measured_s,
        "elephant_subset": subset,
        "elephant_extrapolation": extrapolation,
        "speedup": speedup,
        "meets_target": bool(speedup >= TARGET_SPEEDUP),
        "verified": verified,
        **extra,
    }


def _compare(ours: np.ndarray, theirs: np.ndarray) -> dict[str, Any]:
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    both_nan = np.isnan(ours) & np.isnan(theirs)
    diff = np.where(both_nan, 0.0, np.abs(ours - theirs))
    scale = np.where(both_nan, 1.0, np.maximum(np.abs(theirs), 1e-300))
    return {
        "n_values": int(ours.size),
        "identical": bool(np.array_equal(ours, theirs, equal_nan=True)),
        "max_abs_diff": float(np.nanmax(diff)) if diff.size else 0.0,
        "max_rel_diff_where_nonzero": float(np.nanmax(np.where(np.abs(theirs) > 0, diff / scale, 0.0)))
        if diff.size else 0.0,
        "nan_pattern_equal": bool(np.array_equal(np.isnan(ours), np.isnan(theirs))),
        # the tests' criterion; a relative difference alone blows up where one side holds
        # rounding noise (e.g. 2e-17) and the other the exact 0
        "allclose_rtol_1e-9_atol_1e-12": bool(np.allclose(ours, theirs, rtol=1e-9, atol=1e-12, equal_nan=True)),
    }


def _compile_kernels() -> float:
    """Call every kernel once on tiny data; returns the first-call (compile) time."""
    t0 = time.perf_counter()
    st = SpikeTrains("v1_l4_exc", [0, 1, 0], [0.01, 0.02, 0.5], 2, 0.0, 1.0)
    trials = {"start": np.array([0.0]), "stop": np.array([1.0])}
    bin_spikes(st, trials, 0.1)
    isi_statistics(st)
    cross_correlation_histogram(st, [[0, 1]], 0.01, 2, trials=trials)
    spike_count_correlation(st, 0.1)
    correlation_coefficient(np.ones((2, 3)), pairs=[[0, 1]])
    correlation_coefficient(np.arange(6.0).reshape(2, 3))
    spike_triggered_average(st, iter([(0, np.zeros((5, 2, 2)))]), 0.1, lags=[0, 1])
    return time.perf_counter() - t0


def _bench_binning(st, trains, trials, n_trials, pq, BinnedSpikeTrain, sub_trials: int) -> dict[str, Any]:
    bin_size = 0.02
    ours_s, counts = _timed(lambda: bin_spikes(st, trials, bin_size), repeats=3)
    binned = []

    def elephant():
        binned.clear()
        for r in range(sub_trials):
            binned.append(BinnedSpikeTrain(trains, bin_size=bin_size * pq.s, t_start=r * pq.s, t_stop=(r + 1) * pq.s))

    el_s, _ = _timed(elephant)
    verified = _compare(counts[:sub_trials], np.stack([b.to_array() for b in binned]))
    return _entry(
        ours_s, el_s, n_trials / sub_trials, f"all neurons, first {sub_trials} trials",
        f"linear in trials (x{n_trials / sub_trials:g})", verified,
        what="counts[trial, neuron, bin], 20-ms bins (bin_spikes vs BinnedSpikeTrain per trial window)",
        output_shape=list(counts.shape),
    )


def _bench_fano(st, trains, trials, n_nodes, n_trials, pq, es, sub_nodes: int) -> dict[str, Any]:
    ours_s, ff = _timed(lambda: fanofactor(bin_spikes(st, trials, 1.0)[:, :, 0], axis=0), repeats=3)
    per_trial: list[list[Any]] = []

    def slice_trials():
        per_trial.clear()
        for s in trains[:sub_nodes]:
            per_trial.append([s.time_slice(r * pq.s, (r + 1) * pq.s) for r in range(n_trials)])

    slice_s, _ = _timed(slice_trials)
    ff_s, want = _timed(lambda: [es.fanofactor(x) for x in per_trial])
    verified = _compare(ff[:sub_nodes], np.array(want))
    entry = _entry(
        ours_s, slice_s + ff_s, n_nodes / sub_nodes, f"first {sub_nodes} neurons, all trials",
        f"linear in neurons (x{n_nodes / sub_nodes:g})", verified,
        what="Fano factor per neuron across trials (Elephant: time_slice per trial + fanofactor)",
    )
    entry["elephant_fanofactor_call_only_s"] = ff_s * n_nodes / sub_nodes
    entry["speedup_vs_fanofactor_call_only"] = entry["elephant_fanofactor_call_only_s"] / ours_s
    return entry


def _bench_isi(st, trains, n_nodes, es, sub_nodes: int) -> dict[str, Any]:
    ours_cv_s, ours_cv = _timed(lambda: cv(st), repeats=3)
    ours_all_s, stats = _timed(lambda: isi_statistics(st), repeats=3)
    sub = trains[:sub_nodes]
    el_cv_s, want_cv = _timed(lambda: [es.cv(es.isi(s)) for s in sub])
    el_cv2_s, want_cv2 = _timed(lambda: [es.cv2(es.isi(s), with_nan=True) for s in sub])
    el_lv_s, want_lv = _timed(lambda: [es.lv(es.isi(s), with_nan=True) for s in sub])
    scale = n_nodes / sub_nodes
    entry = _entry(
        ours_cv_s, el_cv_s, scale, f"first {sub_nodes} neurons",
        f"linear in neurons (x{scale:g})", _compare(ours_cv[:sub_nodes], np.array(want_cv)),
        what="ISI CV per neuron over the whole recording (elephant cv(isi(st)))",
    )
    entry["cv2_lv_cv_together"] = {
        "ours_s": ours_all_s,
        "elephant_s": (el_cv_s + el_cv2_s + el_lv_s) * scale,
        "speedup": (el_cv_s + el_cv2_s + el_lv_s) * scale / ours_all_s,
        "verified_cv2": _compare(stats.cv2[:sub_nodes], np.array(want_cv2)),
        "verified_lv": _compare(stats.lv[:sub_nodes], np.array(want_lv)),
    }
    return entry


def _bench_cch(st, trains, trials, n_nodes, n_trials, pq, esc, BinnedSpikeTrain, sub_pairs: int) -> dict[str, Any]:
    bin_size, max_lag = 0.001, 50
    pairs = np.stack([np.arange(n_nodes - 1), np.arange(1, n_nodes)], axis=1)
    ours_s, (_, cch) = _timed(
        lambda: cross_correlation_histogram(st, pairs, bin_size, max_lag, trials=trials), repeats=3
    )

    def elephant():
        binned = [
            [BinnedSpikeTrain(trains[i], bin_size=bin_size * pq.s, t_start=r * pq.s, t_stop=(r + 1) * pq.s)
             for r in range(n_trials)]
            for i in range(sub_pairs + 1)
        ]
        out = np.zeros((sub_pairs, 2 * max_lag + 1))
        for p in range(sub_pairs):
            for r in range(n_trials):
                hist, _ = esc.cross_correlation_histogram(binned[p][r], binned[p + 1][r], window=[-max_lag, max_lag])
                out[p] += hist.magnitude.ravel()
        return out

    el_s, want = _timed(elephant)
    scale = pairs.shape[0] / sub_pairs
    return _entry(
        ours_s, el_s, scale, f"first {sub_pairs} pairs (i, i+1), all trials; each train binned once per trial",
        f"linear in pairs (x{scale:g})", _compare(cch[:sub_pairs], want),
        what=f"CCH of {pairs.shape[0]} neighbour pairs, 1-ms bins, lags -50..50, summed over trials",
    )


def _median_timed(func, repeats: int) -> tuple[float, list[float], Any, list[float]]:
    """Median wall time of ``repeats`` calls, every wall time, the last call's output, and
    the process CPU time of every call (all threads; less sensitive to machine load).

    The previous output is dropped before each call, so that a 0.8-GB matrix is never
    held twice and each call allocates its output afresh, as a user's call would.
    """
    times, cpu, out = [], [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(times)), times, out, cpu


def _compare_blocked(ours: np.ndarray, theirs: np.ndarray, block: int = 500) -> dict[str, Any]:
    """:func:`_compare` of two large matrices, row block by row block (bounded memory)."""
    parts = [_compare(ours[r:r + block], theirs[r:r + block]) for r in range(0, ours.shape[0], block)]
    return {
        "n_values": int(sum(p["n_values"] for p in parts)),
        "identical": all(p["identical"] for p in parts),
        "max_abs_diff": max(p["max_abs_diff"] for p in parts),
        "max_rel_diff_where_nonzero": max(p["max_rel_diff_where_nonzero"] for p in parts),
        "nan_pattern_equal": all(p["nan_pattern_equal"] for p in parts),
        "allclose_rtol_1e-9_atol_1e-12": all(p["allclose_rtol_1e-9_atol_1e-12"] for p in parts),
    }


def _output_floor(n_nodes: int, repeats: int) -> dict[str, Any]:
    """Time to allocate and write a fresh float64 ``n_nodes²`` matrix: no implementation
    returning the dense matrix can be faster than this."""
    write_s, times, _, _ = _median_timed(lambda: np.full((n_nodes, n_nodes), 0.5), repeats)
    return {"write_fresh_dense_output_s": write_s, "write_fresh_dense_output_repeats_s": times,
            "what": f"numpy.full(({n_nodes}, {n_nodes}), 0.5): allocate and write {n_nodes ** 2 * 8 / 1e9:.2g} GB"}


def _corr_vs_elephant(ours, elephant_binning, esc, repeats: int, **extra: Any) -> dict[str, Any]:
    """Time our full matrix and Elephant's ``BinnedSpikeTrain`` + ``correlation_coefficient``,
    compare the two full outputs, and return the entry (and Elephant's binned trains).

    The calls alternate (ours, Elephant's binning, Elephant's matrix, ours, ...), so that a
    change of machine load during the run falls on both sides alike.
    """
    walls: dict[str, list[float]] = {"ours": [], "binning": [], "matrix": []}
    cpus: dict[str, list[float]] = {"ours": [], "binning": [], "matrix": []}
    last: dict[str, Any] = {}  # the latest output of each call
    calls = {"ours": ours, "binning": elephant_binning,
             "matrix": lambda: esc.correlation_coefficient(last["binning"])}
    for _ in range(repeats):
        last.pop("ours", None)
        last.pop("matrix", None)
        for key, func in calls.items():
            wall, _, last[key], cpu = _median_timed(func, 1)
            walls[key].append(wall)
            cpus[key].append(cpu[0])
    binned = last.pop("binning")
    verified = _compare_blocked(last.pop("ours"), last.pop("matrix"))
    gc.collect()
    med = {key: float(np.median(v)) for key, v in walls.items()}
    cpu_med = {key: float(np.median(v)) for key, v in cpus.items()}
    entry = _entry(med["ours"], med["binning"] + med["matrix"], 1.0, extra.pop("subset"), "none", verified,
                   timing=f"median of {repeats} calls each, alternating ours / Elephant, same run", **extra)
    entry.update(
        ours_repeats_s=walls["ours"],
        elephant_binning_s=med["binning"],
        elephant_binning_repeats_s=walls["binning"],
        elephant_matrix_s=med["matrix"],
        elephant_matrix_repeats_s=walls["matrix"],
        speedup_vs_elephant_matrix_call_only=med["matrix"] / med["ours"],
        cpu_s={"ours": cpu_med["ours"], "elephant_binning": cpu_med["binning"], "elephant_matrix": cpu_med["matrix"],
               "speedup": (cpu_med["binning"] + cpu_med["matrix"]) / cpu_med["ours"],
               "what": "median process CPU time (all threads) of the same calls"},
    )
    return entry, binned


def _bench_corr_binned(st, trains, trials, n_nodes, pq, esc, BinnedSpikeTrain, repeats: int) -> dict[str, Any]:
    bin_size = 0.005
    t_stop = float(trials["stop"][-1])
    entry, _ = _corr_vs_elephant(
        lambda: spike_count_correlation(st, bin_size, trials=trials),
        lambda: BinnedSpikeTrain(trains, bin_size=bin_size * pq.s, t_start=0 * pq.s, t_stop=t_stop * pq.s),
        esc, repeats,
        subset=f"full size (trials are contiguous, so Elephant bins [0, {t_stop:g}] s directly)",
        what=f"Pearson correlation matrix of 5-ms binned spike trains over all trials ({n_nodes:,} x {n_nodes:,}, "
        "dense float64); ours: spike_count_correlation(spikes); Elephant: BinnedSpikeTrain + "
        "correlation_coefficient (its sparse path: binned density 0.025 < 0.1)",
    )
    gc.collect()
    return entry


def _bench_corr_counts(st, trains, trials, n_nodes, n_trials, pq, esc, BinnedSpikeTrain,
                       repeats: int) -> dict[str, Any]:
    from scipy.linalg.blas import dsyrk, ssyrk

    t_stop = float(trials["stop"][-1])
    entry, binned = _corr_vs_elephant(
        lambda: correlation_coefficient(bin_spikes(st, trials, 1.0)[:, :, 0].T),
        lambda: BinnedSpikeTrain(trains, bin_size=1.0 * pq.s, t_start=0 * pq.s, t_stop=t_stop * pq.s),
        esc, repeats,
        subset="full size",
        what=f"spike-count correlation across {n_trials} trials (1-s bins), {n_nodes:,} x {n_nodes:,}, dense float64; "
        "ours: correlation_coefficient(bin_spikes(...)); Elephant: BinnedSpikeTrain + correlation_coefficient "
        "(its numpy.corrcoef path: density > 0.1)",
        note="a lower bound for any implementation is writing the 0.8-GB output plus the 5e9 multiply-adds of "
        "the Gram product; 'floor' measures both in this run, and Elephant's time over their sum bounds the "
        "attainable speed-up",
    )
    counts = binned.to_array()
    centred = counts - counts.mean(axis=1, keepdims=True)
    counts32 = counts.astype(np.float32)  # exact: integer Gram sums stay below 2**24 here
    del binned, counts
    syrk_s, syrk_times, _, _ = _median_timed(lambda: dsyrk(1.0, centred.T, trans=1, lower=1), repeats)
    ssyrk_s, ssyrk_times, _, _ = _median_timed(lambda: ssyrk(1.0, counts32.T, trans=1, lower=1), repeats)
    floor = _output_floor(n_nodes, repeats)
    write_s = floor["write_fresh_dense_output_s"]
    floor.update(
        blas_dsyrk_s=syrk_s,
        blas_dsyrk_repeats_s=syrk_times,
        blas_dsyrk_what=f"scipy dsyrk of the centred {n_nodes} x {n_trials} counts (one triangle only)",
        blas_ssyrk_s=ssyrk_s,
        blas_ssyrk_repeats_s=ssyrk_times,
        blas_ssyrk_what="scipy ssyrk of the raw counts in float32 (one triangle; a float32 output, exact for "
        "integer counts whose Gram sums stay below 2**24)",
        gram_multiply_adds=n_nodes * (n_nodes + 1) // 2 * n_trials,
        elephant_s_over_write_plus_dsyrk=entry["elephant_s"] / (write_s + syrk_s),
        elephant_s_over_write_plus_ssyrk=entry["elephant_s"] / (write_s + ssyrk_s),
        elephant_s_over_write_only=entry["elephant_s"] / write_s,
        time_left_for_product_at_20x_s=entry["elephant_s"] / TARGET_SPEEDUP - write_s,
    )
    entry["floor"] = floor
    gc.collect()
    return entry


def _bench_sta(n_nodes: int, minutes: float, rng: np.random.Generator) -> dict[str, Any]:
    side, frame_s, n_spots, rate, lags = 16, 0.01, 3, 8.0, range(10)
    n_frames = int(round(minutes * 60 / frame_s))
    duration = n_frames * frame_s
    st = _poisson_population(n_nodes, duration, rng, np.full(n_nodes, rate))
    block = 5000

    def frames():
        for start in range(0, n_frames, block):
            n = min(block, n_frames - start)
            gen = np.random.default_rng([SEED, start])  # regenerable per block, as from a stored seed
            movie = np.zeros((n, side * side))
            pix = gen.integers(0, side * side, size=(n, n_spots))
            np.put_along_axis(movie, pix, gen.choice([-1.0, 1.0], size=(n, n_spots)), axis=1)
            yield start, movie.reshape(n, side, side)

    gen_s, _ = _timed(lambda: sum(b.shape[0] for _, b in frames()))
    sta_s, res = _timed(lambda: spike_triggered_average(st, frames(), frame_s, lags=lags))
    return {
        "what": f"STA of {n_nodes} neurons, {minutes:g}-min sparse noise ({side}x{side} px, "
        f"{frame_s * 1e3:g}-ms frames, {n_spots} spots/frame), {len(lags)} lags, frames streamed in blocks of {block}",
        "n_nodes": n_nodes,
        "n_frames": n_frames,
        "n_spikes": st.n_spikes,
        "n_lags": len(lags),
        "seconds": sta_s,
        "frame_generation_s": gen_s,
        "seconds_excluding_frame_generation": sta_s - gen_s,
        "spikes_per_s": st.n_spikes / sta_s,
        "frames_per_s": n_frames / sta_s,
        "protocol_seconds_per_wall_second": duration / sta_s,
        "spike_lag_pixel_updates_per_s": st.n_spikes * len(lags) * side * side / sta_s,
        "n_spikes_averaged_lag0_min": int(res.n_spikes[:, 0].min()),
    }


def run(out_dir: Path, quick: bool = False) -> dict:
    """Measure and write ``analysis.json``; returns the result dictionary."""
    import elephant
    import neo
    import quantities as pq
    from elephant import spike_train_correlation as esc
    from elephant import statistics as es
    from elephant.conversion import BinnedSpikeTrain

    warnings.simplefilter("ignore")  # Elephant/quantities deprecation chatter
    logging.getLogger("elephant").setLevel(logging.ERROR)
    n_nodes, n_trials = (1000, 20) if quick else (10_000, 100)
    rng = np.random.default_rng(SEED)
    rates = rng.lognormal(np.log(4.0), 0.7, n_nodes)
    t0 = time.perf_counter()
    st = _poisson_population(n_nodes, float(n_trials), rng, rates)
    gen_s = time.perf_counter() - t0
    trials = {"start": np.arange(n_trials, dtype=float), "stop": np.arange(n_trials, dtype=float) + 1.0}
    compile_s = _compile_kernels()
    conv_s, trains = _timed(
        lambda: [neo.SpikeTrain(t, units="s", t_start=0.0, t_stop=float(n_trials)) for t in st.spike_times_per_node()]
    )
    logger.info("analysis bench: %d neurons x %d trials, %d spikes", n_nodes, n_trials, st.n_spikes)
    results: dict[str, Any] = {}
    results["binning"] = _bench_binning(st, trains, trials, n_trials, pq, BinnedSpikeTrain, 5 if not quick else 2)
    logger.info("binning: x%.0f", results["binning"]["speedup"])
    results["fano_factor"] = _bench_fano(st, trains, trials, n_nodes, n_trials, pq, es, 100 if not quick else 50)
    logger.info("fano: x%.0f", results["fano_factor"]["speedup"])
    results["cv"] = _bench_isi(st, trains, n_nodes, es, 2000 if not quick else 500)
    logger.info("cv: x%.0f", results["cv"]["speedup"])
    results["cch"] = _bench_cch(
        st, trains, trials, n_nodes, n_trials, pq, esc, BinnedSpikeTrain, 20 if not quick else 5
    )
    logger.info("cch: x%.0f", results["cch"]["speedup"])
    results["correlation_matrix"] = _bench_corr_binned(st, trains, trials, n_nodes, pq, esc, BinnedSpikeTrain, 3)
    logger.info("correlation matrix (5 ms bins): x%.1f", results["correlation_matrix"]["speedup"])
    results["correlation_matrix_trial_counts"] = _bench_corr_counts(st, trains, trials, n_nodes, n_trials, pq, esc,
                                                                    BinnedSpikeTrain, 5)
    logger.info("correlation matrix (trial counts): x%.1f", results["correlation_matrix_trial_counts"]["speedup"])
    del trains
    gc.collect()
    sta = _bench_sta(1000 if not quick else 100, 20.0 if not quick else 2.0, np.random.default_rng(SEED + 1))
    logger.info("STA: %.2e spikes/s, %.1f protocol s per wall s", sta["spikes_per_s"],
                sta["protocol_seconds_per_wall_second"])
    result = {
        "benchmark": "analysis",
        "quick": quick,
        "n_nodes": n_nodes,
        "n_trials": n_trials,
        "trial_duration_s": 1.0,
        "n_spikes": st.n_spikes,
        "target_speedup": TARGET_SPEEDUP,
        "data_generation_s": gen_s,
        "numba_compile_s": compile_s,
        "numba_threads": _kernels.n_threads(),
        "neo_conversion_s_not_charged_to_elephant": conv_s,
        "elephant_version": elephant.__version__,
        "statistics": results,
        "sta": sta,
        "all_meet_target": bool(all(v["meets_target"] for v in results.values())),
        "load_average": os.getloadavg(),
        "provenance": collect_provenance(seeds={"spikes": SEED, "sta_spikes": SEED + 1, "sta_frames": SEED}),
    }
    write_json(out_dir / "analysis.json", result, overwrite=True)
    return result
