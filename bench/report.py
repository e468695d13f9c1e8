"""Write ``bench/RESULTS.md`` from the benchmark results ``bench/results/*.json``.

One section per benchmark: what was measured, on which machine (cores, platform, load
average) and when, the table of figures with the ratios, the reference figures of issue #8
next to ours where they exist, and every target the benchmark measured and missed, stated
plainly. Benchmarks without a dedicated renderer get a generic section (their scalar figures
and their ``targets`` list, when they have one).

``bench/run.py`` calls :func:`write_report` after the benchmarks; by hand::

    python bench/report.py [--results bench/results] [--out bench/RESULTS.md]

``pd14_ab`` writes one file per scale (``pd14_ab.json`` at 0.1, ``pd14_ab_scale0.25.json`` ...):
each gets its own section, by increasing scale.

A benchmark may state its targets as ``"targets": [{"what", "measured", "target", "met"}]``;
the renderers below derive them for the older result files that predate this convention.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("bench.report")
HERE = Path(__file__).resolve().parent

#: Simulation wall time (s) for 1 s of PD14, Poisson background, on a 2-core machine: the
#: reference ranges of issue #8 ("Reference figures", medians of two benchmark rounds),
#: keyed by scale and by our configuration labels (ours <-> the hand-written Brian2 script
#: of the same device and threads; ``references`` labels that script's standalone 2-thread
#: run ``brian2_standalone_2threads``, ``pd14_ab`` ``brian2_standalone_2t``).
ISSUE_REFERENCE_S: dict[float, dict[str, tuple[float, float]]] = {
    0.1: {"nest_1thread": (14.0, 17.0), "nest_2threads": (7.4, 7.8), "cython": (3.7, 4.3),
          "brian2_cython": (3.7, 4.3), "cpp_standalone_2t": (1.9, 2.3), "brian2_standalone_2threads": (1.9, 2.3),
          "brian2_standalone_2t": (1.9, 2.3)},
    0.25: {"nest_1thread": (70.0, 72.0), "nest_2threads": (35.0, 36.0), "cython": (11.0, 14.0),
           "brian2_cython": (11.0, 14.0), "cpp_standalone_2t": (8.3, 9.2), "brian2_standalone_2threads": (8.3, 9.2),
           "brian2_standalone_2t": (8.3, 9.2)},
}
#: Issue #8 targets used by the derived checks below.
TARGET_NEST_SPEEDUP = 6.0  # PD14 0.1, 2 threads, NEST / ours
#: ours (bench_pd14 label) -> the hand-written Brian2 configuration it must not be slower than
HANDWRITTEN = {"cython": "brian2_cython", "cpp_standalone_1t": "brian2_standalone_1thread",
               "cpp_standalone_2t": "brian2_standalone_2threads"}

Section = dict[str, Any]


# ---------------------------------------------------------------- formatting helpers


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (thousands separated), or ``-``.

    Examples
    --------
    >>> fmt(1234567.0), fmt(0.012345), fmt(None), fmt(7.0), fmt(True), fmt(0.63 - 0.62)
    ('1,234,567', '0.0123', '-', '7.00', 'yes', '0.0100')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    # round to the significant digits first, so that 0.00999999 (a difference of sums) is
    # 0.0100, not 0.01000
    value = float(f"{value:.{digits}g}")
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def mega(value: float | None) -> str:
    """Events per second in millions: ``4.4 M``."""
    return "-" if value is None else f"{value / 1e6:.1f} M"


def mib(n_bytes: float | None) -> str:
    """Bytes as whole MiB."""
    return "-" if n_bytes is None else f"{n_bytes / 2**20:,.0f}"


def reference_range(scale: float, label: str) -> str:
    """The issue-#8 reference range for ``label`` at ``scale`` (``a–b``), or ``-``."""
    ref = ISSUE_REFERENCE_S.get(round(float(scale), 4), {}).get(label)
    return "-" if ref is None else f"{fmt(ref[0], 2)}–{fmt(ref[1], 2)}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _loads(doc: dict) -> list[float]:
    """Every 1-minute load average a result file recorded (any of the naming conventions)."""
    found: list[float] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            if key.startswith(("load", "loadavg")) and len(node) == 3 and all(isinstance(x, (int, float)) for x in node):
                found.append(float(node[0]))
            else:
                for v in node:
                    walk(v, key)

    walk(doc)
    return found


def machine_line(doc: dict) -> str:
    """Cores, platform and the range of recorded 1-minute load averages."""
    prov = doc.get("provenance") or {}
    parts = []
    if doc.get("cpu_count"):
        parts.append(f"{doc['cpu_count']} cores")
    if prov.get("platform"):
        parts.append(prov["platform"])
    loads = _loads(doc)
    if loads:
        parts.append(f"1-min load average {min(loads):.1f}–{max(loads):.1f} during the run")
    if prov.get("git_revision"):
        parts.append(f"git {prov['git_revision'][:12]}")
    return "; ".join(parts) or "not recorded"


def date_line(doc: dict, path: Path | None = None) -> str:
    """When the result was written: provenance ``created``, else the file's modification time."""
    created = (doc.get("provenance") or {}).get("created")
    if created:
        return created
    if path is not None and path.exists():
        return _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc).isoformat(timespec="seconds")
    return "not recorded"


def target(what: str, measured: float | None, wanted: str, met: bool) -> dict:
    """One target row."""
    return {"what": what, "measured": measured, "target": wanted, "met": bool(met)}


# ---------------------------------------------------------------- per-benchmark renderers


def pd14_ab_name(scale: float) -> str:
    """Result name (file stem) of ``bench_pd14_ab`` at ``scale``, as ``bench_pd14_ab.result_name`` writes it.

    Examples
    --------
    >>> pd14_ab_name(0.1), pd14_ab_name(0.25)
    ('pd14_ab', 'pd14_ab_scale0.25')
    """
    return "pd14_ab" if math.isclose(float(scale), 0.1) else f"pd14_ab_scale{float(scale):g}"


def is_pd14_ab(name: str) -> bool:
    """Whether ``name`` is a ``bench_pd14_ab`` result: ``pd14_ab`` (scale 0.1) or ``pd14_ab_scale<S>``."""
    return name == "pd14_ab" or name.startswith("pd14_ab_scale")


def pd14_ab_docs(docs: dict) -> list[dict]:
    """Every ``bench_pd14_ab`` result of ``docs`` (name -> document), by increasing scale."""
    found = [doc for name, doc in docs.items() if is_pd14_ab(name)]
    return sorted(found, key=lambda doc: float(doc.get("scale", 0.1)))


def render_pd14_ab(doc: dict, docs: dict) -> Section:
    configs = doc["configurations"]
    ratios = doc.get("sim_time_ratios", {})
    scale = doc.get("scale", 0.1)
    rows = []
    for label, c in configs.items():
        ratio = ratios.get(f"nest_2threads_over_{label}", {})
        lo, hi = c.get("simulate_s_per_bio_s_range", [None, None])
        compile_s = fmt(c["compile_s"], 2)
        if c.get("compile_s_later_rounds") is not None:
            compile_s = f"{fmt(c['compile_s_first_round'], 2)} first, {fmt(c['compile_s_later_rounds'], 2)} later"
        rows.append([label, c.get("engine", ""), fmt(c["build_s"], 2), compile_s,
                     f"{fmt(c['simulate_s_per_bio_s'])} [{fmt(lo)}–{fmt(hi)}]",
                     mega(c["synaptic_events_per_s"]), mib(c["peak_rss_bytes"]),
                     fmt(ratio.get("median_of_paired_rounds")), fmt(ratio.get("of_medians")),
                     reference_range(scale, label)])
    table = markdown_table(
        ["configuration", "engine", "build (s)", "compile (s)", "simulation (s per bio-s) median [range]",
         "synaptic events/s", "peak RSS (MiB)", "NEST 2 thr / this (paired rounds)", "NEST 2 thr / this (medians)",
         "issue #8 reference (s per bio-s)"], rows)
    same = [[k, fmt(v["median_of_paired_rounds"]), ", ".join(fmt(x) for x in v["paired_rounds"])]
            for k, v in ratios.items() if not k.startswith("nest_2threads_over_") or k.endswith("_2t")]
    extra = markdown_table(["ratio (reference / ours: NEST with the same threads, or the hand-written Brian2 script on the same device)", "median of rounds", "per round"], same)
    tables = [table, extra]
    rates = doc.get("rates_relative_to_nest", {})
    if rates:
        pops = list(next(iter(rates.values())))
        tables.append(markdown_table(["our rate vs NEST (same threads)", *pops],
                                     [[k, *(f"{100 * v[p]:+.1f} %" for p in pops)] for k, v in rates.items()]))
    return {"title": f"PD14 scale {float(scale):g}: NEST 3.10 and ours interleaved A/B (`{pd14_ab_name(scale)}`)",
            "what": doc.get("what", ""), "tables": tables, "notes": [doc.get("note", "")],
            "targets": doc.get("targets", [])}


def _references_block(docs: dict, scale: float) -> dict | None:
    refs = docs.get("references")
    if not refs:
        return None
    blocks = {k: v for k, v in refs.get("scales", {}).items() if k.split()[0] == str(scale)}
    # prefer the references measured under the same OpenMP wait policy as ours
    ours = [r.get("env", {}).get("OMP_WAIT_POLICY") for r in docs.get("pd14", {}).get("results", [])]
    policy = next((p for p in ours if p), "PASSIVE")
    for key in sorted(blocks, key=lambda k: f"OMP_WAIT_POLICY={policy}" not in k):
        return blocks[key]["summary"]
    return None


def render_pd14(doc: dict, docs: dict) -> Section:
    rows, targets = [], []
    for r in sorted(doc["results"], key=lambda r: (r["scale"], r.get("config", ""))):
        label = r.get("config", f"{r['device']}_{r['threads']}t")
        if "error" in r:
            rows.append([f"{r['scale']:g}", label, "failed", "", "", "", "", "", ""])
            continue
        ref = (_references_block(docs, r["scale"]) or {}).get(HANDWRITTEN.get(label, ""))
        ratio = ref["sim_wall_s"] / r["simulate_s_per_bio_s"] if ref else None
        rows.append([f"{r['scale']:g}", label, fmt(r["build_s"], 2), fmt(r["compile_s"], 2),
                     fmt(r["simulate_s_per_bio_s"]), mega(r["synaptic_events_per_s"]),
                     mib(max(r["peak_rss_self_mb"], r["peak_rss_children_mb"]) * 2**20),
                     fmt(ratio), reference_range(r["scale"], label)])
        if r.get("background") == "dc" and r["threads"] == 2:
            # issue #8: PD14 scale 0.1 with DC background, 2 threads, at least twice real time
            targets.append(target(f"PD14 {r['scale']:g} DC background, cpp_standalone 2 threads: real-time factor",
                                  r["simulate_s_per_bio_s"], "<= 0.5", r["simulate_s_per_bio_s"] <= 0.5))
        if ref:
            targets.append(target(f"PD14 {r['scale']} {label} never slower than the hand-written Brian2 script "
                                  f"({HANDWRITTEN[label]}, `references`, a different run): hand-written / ours",
                                  ratio, ">= 1", ratio >= 1.0))
    table = markdown_table(["scale", "configuration", "build (s)", "compile (s)", "simulation (s per bio-s)",
                            "synaptic events/s", "peak RSS (MiB)", "hand-written Brian2 / ours",
                            "issue #8 reference (s per bio-s)"], rows)
    return {"title": "PD14, our engine alone (`pd14`)", "what": doc.get("note", ""), "tables": [table],
            "notes": ["Peak RSS: the larger of the Python process and its largest child (compiler or standalone "
                      "binary). The hand-written Brian2 figures come from `references`, measured in another run."],
            "targets": targets}


def render_references(doc: dict, docs: dict) -> Section:
    rows, tables = [], []
    for key, block in doc.get("scales", {}).items():
        scale = float(key.split()[0])
        ratios = block.get("sim_time_ratios", {})
        for label, s in block["summary"].items():
            lo, hi = s["sim_wall_s_range"]
            rows.append([key, label, fmt(s["build_s"], 2), fmt(s["compile_s"], 2),
                         f"{fmt(s['sim_wall_s'])} [{fmt(lo)}–{fmt(hi)}]", mega(s["synaptic_events_per_s"]),
                         mib(s["peak_rss_bytes"]), fmt(ratios.get(f"nest_2threads_over_{label}")),
                         reference_range(scale, label)])
    tables.append(markdown_table(["scale", "configuration", "build (s)", "compile (s)", "simulation (s) median [range]",
                                  "synaptic events/s", "peak RSS (MiB)", "NEST 2 thr / this",
                                  "issue #8 reference (s)"], rows))
    targets, notes = [], ["Reference simulators only (no code of ours): NEST 3.10 and the hand-written Brian2 2.9 "
                          "script, 1 s after 0.5 s presimulation, medians over seeds."]
    val = doc.get("validation")
    if val:
        comp = val["vs_issue4_nest_reference"]
        vrows = [[p, fmt(v["measured"]), fmt(v["reference"]), f"{100 * v['relative_deviation']:+.1f} %",
                  fmt(v["within_tolerance"])] for p, v in comp["populations"].items()]
        tables.append(markdown_table(["population", "NEST rate (spikes/s)", "issue #4 reference", "deviation",
                                      f"within ±{100 * comp['tolerance']:.0f} %"], vrows))
        notes.append(f"NEST rate validation: scale {val['scale']}, {val['t_sim_s']} s, seeds {val['seeds']}.")
        n_in = sum(v["within_tolerance"] for v in comp["populations"].values())
        targets.append(target(f"NEST PD14 rates within ±{100 * comp['tolerance']:.0f} % of the issue-#4 reference "
                              "(populations within)", n_in, f"{len(comp['populations'])} of {len(comp['populations'])}",
                              comp["all_within_tolerance"]))
    return {"title": "Reference simulators: NEST 3.10 and hand-written Brian2 (`references`)",
            "what": f"PD14, {doc.get('background', 'poisson')} background", "tables": tables, "notes": notes,
            "targets": targets}


def _our_event_rates(docs: dict) -> list[tuple[str, float]]:
    out = []
    for ab in pd14_ab_docs(docs):
        scale = float(ab.get("scale", 0.1))
        out += [(f"pd14_ab {scale:g} {k}", c["synaptic_events_per_s"]) for k, c in ab["configurations"].items()
                if c["engine"] == "ours"]
    pd14 = docs.get("pd14")
    if pd14:
        out += [(f"pd14 {r['scale']} {r.get('config')}", r["synaptic_events_per_s"]) for r in pd14["results"]
                if "error" not in r]
    return out


def render_machine(doc: dict, docs: dict) -> Section:
    rows = [[f"{b['threads']}", fmt(b["copy_GBps"]), fmt(b["triad_GBps"])] for b in doc["bandwidth"]]
    bw = markdown_table(["threads", "copy (GB/s)", "triad (GB/s)"], rows)
    rows = [[f"{d['threads']}", f"{d['deliveries_per_s']:.3g}", f"{f['deliveries_per_s']:.3g}"]
            for d, f in zip(doc["delivery"], doc.get("delivery_full_scale_state", doc["delivery"]))]
    dl = markdown_table(["threads", "ideal deliveries/s (scale-0.1 state)", "ideal deliveries/s (full-scale state)"], rows)
    bound = doc["best_deliveries_per_s"]
    frac = [[label, mega(ev), f"{100 * ev / bound:.2f} %"] for label, ev in _our_event_rates(docs)]
    tables = [bw, dl]
    if frac:
        tables.append(markdown_table(["our run", "synaptic events/s", "fraction of the ideal delivery bound"], frac))
    notes = []
    omp = doc.get("openmp_regions", {})
    if omp.get("available"):
        rows = [[r["wait_policy"], f"{r['threads']}", fmt(r["empty_region_us"]), fmt(r["step_us"])] for r in omp["rows"]]
        tables.append(markdown_table(["OpenMP wait policy", "threads", "empty parallel region (µs)",
                                      f"step of {omp['regions_per_step']} regions x {omp['items_per_region']} values (µs)"],
                                     rows))
        notes.append("OpenMP probe: the fork/join cost of one parallel region against the work of a stream-like step "
                     "(bench_machine.py); when a region's work is below its fork/join cost, 2 threads are slower than 1.")
    elif omp:
        notes.append(f"OpenMP probe not run: {omp.get('reason')}")
    part = doc.get("openmp_partitions", {})
    if part.get("available"):
        rows = [[r["writer"], f"{r['threads']}", fmt(r["write_us"]), fmt(r["update_us"])] for r in part["rows"]]
        tables.append(markdown_table(["background written per", "threads", "background (µs per step)",
                                      "membrane update of the whole group (µs per step)"], rows))
        upd = {(r["writer"], r["threads"]): r["update_us"] for r in part["rows"]}
        if all(k in upd for k in (("subgroups", 1), ("subgroups", 2), ("whole", 2))):
            notes.append(
                f"Partition probe ({sum(part['subgroup_sizes']):,} cells in {len(part['subgroup_sizes'])} subgroups, "
                f"PD14 scale 0.1): on 2 threads the update takes {fmt(upd[('subgroups', 2)])} µs per step after a "
                f"background split per subgroup, {fmt(upd[('whole', 2)])} µs after one split like the update "
                f"(1 thread: {fmt(upd[('subgroups', 1)])} µs); the difference is the cache lines that move between "
                "the cores when two code objects split the same cells differently.")
    elif part:
        notes.append(f"Partition probe not run: {part.get('reason')}")
    return {"title": "Machine bounds (`machine`)",
            "what": ("streaming bandwidth (copy/triad of 512 MiB float64 arrays, best of 5; numpy copy "
                     f"{fmt(doc.get('numpy_copy_GBps'))} GB/s) and ideal synaptic deliveries per second "
                     "(PD14 scale-0.1 CSR connectivity, scatter-add)"),
            "tables": tables, "notes": notes, "targets": []}


def render_analysis(doc: dict, docs: dict) -> Section:
    goal = doc.get("target_speedup", 20.0)
    rows, targets = [], []
    for name, s in doc["statistics"].items():
        rows.append([name, fmt(s["ours_s"]), fmt(s["elephant_s"]), fmt(s["speedup"]), fmt(s["meets_target"]),
                     s.get("elephant_extrapolation", "")])
        targets.append(target(f"{name}: ours vs Elephant {doc.get('elephant_version', '')}", s["speedup"],
                              f">= {fmt(goal)}x", s["meets_target"]))
    notes = []
    sta = doc.get("sta")
    if sta:
        notes.append(f"STA: {sta['what']}: {fmt(sta['seconds'])} s ({fmt(sta['spikes_per_s'])} spikes/s).")
    return {"title": "Analysis kernels vs Elephant (`analysis`)",
            "what": f"{doc['n_nodes']:,} trains x {doc['n_trials']} trials of {doc['trial_duration_s']} s "
                    f"({doc['n_spikes']:,} spikes); Elephant {doc.get('elephant_version', '')}",
            "tables": [markdown_table(["statistic", "ours (s)", "Elephant (s)", "speed-up", f">= {fmt(goal)}x",
                                       "Elephant extrapolation"], rows)],
            "notes": notes, "targets": targets}


def render_io(doc: dict, docs: dict) -> Section:
    rows = [["write", f"{doc['write_spikes_per_s']:.3g}", ""],
            ["read whole file", f"{doc['read_whole_spikes_per_s']:.3g}", mib(doc.get("whole_read_peak_rss_bytes"))],
            ["read streaming", f"{doc['read_streaming_spikes_per_s']:.3g}", mib(doc.get("streaming_read_peak_rss_bytes"))],
            ["streaming writer", "", f"{mib(doc['streaming_writer_rss_above_baseline_bytes'])} above baseline "
             f"(ratio to the spikes in memory {fmt(doc['writer_increment_over_in_memory_ratio'])})"]]
    return {"title": "HDF5 spike I/O (`io`)",
            "what": f"{doc['n_spikes']:,} spikes in {doc['n_populations']} populations, file {mib(doc['file_bytes'])} MiB",
            "tables": [markdown_table(["operation", "spikes/s", "peak RSS (MiB)"], rows)], "notes": [], "targets": []}


def render_stimuli(doc: dict, docs: dict) -> Section:
    sp, mem = doc["speed"], doc["memory"]
    rows = [["render 10 s movie", fmt(sp["render_seconds"]), ""],
            ["render + filter", fmt(sp["render_and_filter_seconds"]), f"< {fmt(doc['speed_target_seconds'])} s"],
            ["render + filter + spikes", fmt(sp["render_filter_and_spikes_seconds"]), ""],
            [f"{fmt(mem['duration_s'] / 60)}-min sparse noise -> LGN spikes", fmt(mem["seconds"]),
             f"peak RSS {mib(mem['peak_rss_bytes'])} MiB (< {mib(doc['memory_target_bytes'])} MiB)"]]
    targets = [target("render + filter of 10 s (s)", sp["render_and_filter_seconds"], f"< {doc['speed_target_seconds']}",
                      sp["render_and_filter_seconds"] < doc["speed_target_seconds"]),
               target("20-min protocol -> LGN spikes, peak RSS (MiB)", mem["peak_rss_bytes"] / 2**20,
                      f"< {doc['memory_target_bytes'] / 2**20:.0f}", mem["peak_rss_bytes"] < doc["memory_target_bytes"])]
    return {"title": "Stimuli and the LGN model (`stimuli`)",
            "what": f"{sp['n_cells']:,} LGN cells, {sp['field_size_deg']} deg field, {sp['n_frames']:,} frames",
            "tables": [markdown_table(["step", "seconds", "target"], rows)], "notes": [], "targets": targets}


def render_stream(doc: dict, docs: dict) -> Section:
    runs = list(doc["results"]) + ([doc["memory_60s"]] if doc.get("memory_60s") else [])
    rows = [[r["config"], str(r["threads"]), fmt(r["scale"]), f"{r['n_cortical_neurons']:,}", f"{r['n_synapses']:,}",
             fmt(r["build_s"]), fmt(r["compile_s"]), fmt(r["simulate_s_per_bio_s"]),
             f"{r['synaptic_events_per_s']:.3g}", fmt(r["peak_rss_mib"]),
             f"{min(r['loadavg_before'][0], r['loadavg_after'][0]):.1f}–{max(r['loadavg_before'][0], r['loadavg_after'][0]):.1f}"]
            for r in runs]
    targets = []
    mem = doc.get("memory_60s")
    if mem:
        targets.append(target("60 s protocol, peak RSS (GiB)", mem["peak_rss_mib"] / 1024, f"< {fmt(mem['target_gib'])}",
                              mem["peak_rss_mib"] / 1024 < mem["target_gib"]))
    for r in doc["results"]:
        if r["device"] == "cpp_standalone" and r["threads"] == 2 and r["scale"] == 1.0:
            # issue #8: the default stream at scale 1 in real time on 2 threads
            targets.append(target("scale 1, cpp_standalone 2 threads: s per biological second", r["simulate_s_per_bio_s"],
                                  "<= 1", r["simulate_s_per_bio_s"] <= 1.0))
    return {"title": "The default stream (`stream`)", "what": doc.get("note", ""),
            "tables": [markdown_table(["config", "threads", "scale", "cortical neurons", "synapses", "build (s)",
                                       "compile (s)", "s per bio-s", "synaptic events/s", "peak RSS (MiB)",
                                       "1-min load"], rows)],
            "notes": [], "targets": targets}


def render_session(doc: dict, docs: dict) -> Section:
    ov, sw = doc["overhead"], doc["sweep"]
    ses, ref = ov["session"], ov["per_process"]
    rows = [["session (one build, reruns of the binary)", str(ses["n_runs"]), fmt(ses["overhead_s"]["median"]),
             fmt(ses["overhead_s"]["max"]), fmt(ses["loop_s"]["median"]), fmt(ses["binary_outside_loop_s"]["median"]),
             fmt(ses["write_s"]["median"])],
            ["one process and build per run (warm build directory)", str(ref["n_runs"]), fmt(ref["overhead_s"]["median"]),
             fmt(ref["overhead_s"]["max"]), fmt(ref["loop_s"]["median"]), "-", "-"]]
    sweep_rows = [[str(sw["n_runs"]), fmt(sw["scale"]), fmt(sw["wall_1_worker_s"]), fmt(sw["wall_2_workers_s"]),
                   fmt(sw["speedup"])]]
    targets = [
        target("per-run overhead after the first build (s, max over runs)", ses["overhead_s"]["max"],
               f"< {fmt(ov['target_overhead_s'])}", ses["overhead_s"]["max"] < ov["target_overhead_s"]),
        target("sweep speed-up, 2 local workers vs 1", sw["speedup"], f">= {fmt(sw['target'])}",
               sw["speedup"] >= sw["target"]),
    ]
    notes = [f"Stream scale {fmt(ov['scale'])}, {fmt(ov['biological_time_s'])} s per run; the session's one build: "
             f"{fmt(ses['build_s'])} s in Python + {fmt(ses['compile_s'])} s compile. Overhead = wall − simulation loop; "
             f"one process per run costs {fmt(ov['overhead_ratio_per_process_over_session'])}× the session's."]
    return {"title": "Build once, run many; sweep speed-up (`session`)", "what": doc.get("note", ""),
            "tables": [markdown_table(["runs", "n", "overhead median (s)", "overhead max (s)", "loop (s)",
                                       "binary outside loop (s)", "read + write (s)"], rows),
                       markdown_table(["sweep runs", "scale", "1 worker (s)", "2 workers (s)", "speed-up"], sweep_rows)],
            "notes": notes, "targets": targets}


#: A category counts as slower (faster) on 2 threads when its time changes by more than this fraction.
PROFILE_TOLERANCE = 0.05


def _signed(value: float | None) -> str:
    """A difference with its sign: ``+0.120``, ``-0.0300``, ``0``."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + fmt(abs(value))


def _outside_row(model: dict) -> dict | None:
    """The loop time outside every profiled code object (clocks, the scheduler, barriers) as a category row."""
    loop, total = model.get("loop_s", {}), model.get("profiled_sum_s", {})
    try:
        one, two = loop["1"] - total["1"], loop["2"] - total["2"]
    except (KeyError, TypeError):
        return None
    return {"category": "outside the code objects (loop − profiled sum)", "n_code_objects": None, "s_1t": one,
            "s_2t": two, "ratio_2t_over_1t": two / one if one > 0 else None, "delta_s": two - one}


def profile_sentence(label: str, model: dict, tolerance: float = PROFILE_TOLERANCE) -> str:
    """One sentence from one model's profile: the loop's 2-thread/1-thread ratio and the categories that change.

    Categories (and the loop time outside the code objects) whose time on 2 threads exceeds
    (falls below) their time on 1 thread by more than ``tolerance`` are listed as slower
    (faster), the largest absolute change first.
    """
    loop = model.get("loop_s", {})
    one, two = loop.get("1"), loop.get("2")
    text = f"{label}: "
    if one and two:
        text += (f"the simulation loop takes {fmt(two / one)}× as long on 2 threads as on 1 ({fmt(one)} s → "
                 f"{fmt(two)} s)")
    else:
        text += "no loop time recorded"
    rows = [r for r in [*model.get("categories", []), _outside_row(model)] if r and r.get("ratio_2t_over_1t") is not None]
    slower = sorted((r for r in rows if r["ratio_2t_over_1t"] > 1 + tolerance), key=lambda r: -abs(r["delta_s"]))
    faster = sorted((r for r in rows if r["ratio_2t_over_1t"] < 1 - tolerance), key=lambda r: -abs(r["delta_s"]))
    if slower:
        text += "; slower on 2 threads: " + ", ".join(
            f"{r['category']} ({fmt(r['ratio_2t_over_1t'])}×, {_signed(r['delta_s'])} s)" for r in slower)
    else:
        text += f"; nothing is more than {tolerance:.0%} slower on 2 threads"
    if faster:
        text += "; faster: " + ", ".join(
            f"{r['category']} ({fmt(r['ratio_2t_over_1t'])}×, {_signed(r['delta_s'])} s)" for r in faster)
    return text + "."


def render_profile(doc: dict, docs: dict) -> Section:
    tables, notes = [], []
    header = ["category", "code objects", "1 thread (s)", "2 threads (s)", "2 thr / 1 thr", "2 thr − 1 thr (s)"]
    for name, model in doc["models"].items():
        label = model.get("what", name)
        if model.get("error"):
            notes.append(f"{label}: failed: {model['error'][-300:]}")
            continue
        rows = [[r["category"], fmt(r["n_code_objects"]), fmt(r["s_1t"]), fmt(r["s_2t"]), fmt(r["ratio_2t_over_1t"]),
                 _signed(r["delta_s"])] for r in model["categories"]]
        totals = (("all profiled code objects", model["profiled_sum_s"]), ("simulation loop", model["loop_s"]))
        outside = _outside_row(model)
        if outside:
            rows.append([outside["category"], "", fmt(outside["s_1t"]), fmt(outside["s_2t"]),
                         fmt(outside["ratio_2t_over_1t"]), _signed(outside["delta_s"])])
        n_objects = sum(r["n_code_objects"] or 0 for r in model["categories"])
        for what, pair in totals:
            one, two = pair.get("1"), pair.get("2")
            rows.append([f"**{what}**", fmt(n_objects) if what.startswith("all") else "", fmt(one), fmt(two),
                         fmt(two / one if one and two else None),
                         _signed(two - one if one is not None and two is not None else None)])
        tables.append(f"**{label}**\n\n" + markdown_table(header, rows))
        notes.append(profile_sentence(label, model))
    notes.append(doc.get("note", ""))
    return {"title": "Where the time goes on 1 and 2 threads: Brian2's profile of our cpp_standalone runs (`profile`)",
            "what": doc.get("what", ""), "tables": tables, "notes": notes, "targets": doc.get("targets", [])}


def render_generic(doc: dict, docs: dict) -> Section:
    rows = [[k, fmt(v)] for k, v in doc.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "cpu_count"]
    return {"title": f"`{doc.get('benchmark', '?')}`", "what": str(doc.get("what", doc.get("note", ""))),
            "tables": [markdown_table(["figure", "value"], rows)] if rows else [], "notes": [],
            "targets": doc.get("targets", [])}


RENDERERS: dict[str, Callable[[dict, dict], Section]] = {
    "pd14_ab": render_pd14_ab, "pd14": render_pd14, "references": render_references, "machine": render_machine,
    "analysis": render_analysis, "io": render_io, "stimuli": render_stimuli, "stream": render_stream,
    "session": render_session, "profile": render_profile,
}
#: Sections in this order first, then any other benchmark alphabetically; ``pd14_ab`` stands
#: for every ``pd14_ab*`` result (one per scale), by increasing scale.
ORDER = ("pd14_ab", "pd14", "references", "profile", "machine", "analysis", "stimuli", "io")


def renderer_for(name: str) -> Callable[[dict, dict], Section]:
    """The renderer of result ``name``: :data:`RENDERERS`, :func:`render_pd14_ab` for every scale, else generic."""
    if name in RENDERERS:
        return RENDERERS[name]
    return render_pd14_ab if is_pd14_ab(name) else render_generic


def section_order(results: dict[str, tuple[Path, dict]]) -> list[str]:
    """Result names in section order: :data:`ORDER` (``pd14_ab`` files by scale), then the rest alphabetically."""
    names: list[str] = []
    for name in ORDER:
        if name == "pd14_ab":
            ab = [n for n in results if is_pd14_ab(n)]
            names += sorted(ab, key=lambda n: (float(results[n][1].get("scale", 0.1)), n))
        elif name in results:
            names.append(name)
    return names + sorted(n for n in results if n not in names)


# ---------------------------------------------------------------- the document


def load_results(results_dir: str | Path) -> dict[str, tuple[Path, dict]]:
    """Every ``<name>.json`` of ``results_dir`` (name -> (path, document)); unreadable files are skipped."""
    out = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("skipping %s: %s", path, exc)
            continue
        if isinstance(doc, dict):
            out[path.stem] = (path, doc)
    return out


def render_section(name: str, path: Path | None, doc: dict, docs: dict) -> str:
    """The Markdown section of one benchmark."""
    try:
        sec = renderer_for(name)(doc, docs)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        # a result file of an older layout must not stop the report of the others
        logger.warning("%s: dedicated layout not found (%r); generic section", name, exc)
        sec = render_generic(doc, docs)
    lines = [f"## {sec['title']}", ""]
    if sec["what"]:
        lines += [f"**Measured:** {sec['what']}", ""]
    lines += [f"**Machine:** {machine_line(doc)}", "", f"**Date:** {date_line(doc, path)}", ""]
    for table in sec["tables"]:
        lines += [table, ""]
    lines += [f"{n}" for n in sec["notes"] if n] + ([""] if any(sec["notes"]) else [])
    missed = [t for t in sec["targets"] if not t["met"]]
    met = [t for t in sec["targets"] if t["met"]]
    if sec["targets"]:
        lines.append(f"**Targets:** {len(met)} of {len(sec['targets'])} met.")
        lines.append("")
    for t in missed:
        lines.append(f"- **MISSED**: {t['what']}: measured {fmt(t['measured'])}, target {t['target']}.")
    for t in met:
        lines.append(f"- met: {t['what']}: measured {fmt(t['measured'])}, target {t['target']}.")
    if sec["targets"]:
        lines.append("")
    return "\n".join(lines)


def render_markdown(results: dict[str, tuple[Path, dict]]) -> str:
    """The whole ``RESULTS.md`` for loaded results (see :func:`load_results`)."""
    docs = {name: doc for name, (_, doc) in results.items()}
    names = section_order(results)
    missed = []
    body = []
    for name in names:
        path, doc = results[name]
        body.append(render_section(name, path, doc, docs))
        missed += [f"`{name}`" for line in body[-1].splitlines() if line.startswith("- **MISSED**")]
    head = ["# Benchmark results", "",
            "Generated by `bench/report.py` from `bench/results/*.json` (`make bench` rewrites it; do not edit by "
            "hand). Ratios compare runs made in the same benchmark run on the same machine; absolute times depend "
            "on the load the machine carried, which every section states.", ""]
    if missed:
        counts = {m: missed.count(m) for m in dict.fromkeys(missed)}
        head += ["**Missed targets:** " + ", ".join(f"{n} ({k})" for n, k in counts.items()) + ".", ""]
    head += ["| benchmark | section |", "|---|---|"]
    head += [f"| `{n}` | {renderer_for(n).__name__.removeprefix('render_')} |" for n in names]
    return "\n".join(head + [""] + body).rstrip() + "\n"


def default_report_path(results_dir: str | Path) -> Path:
    """``bench/RESULTS.md`` for ``bench/results``, else ``<results_dir>/RESULTS.md``."""
    results_dir = Path(results_dir).resolve()
    return HERE / "RESULTS.md" if results_dir == HERE / "results" else results_dir / "RESULTS.md"


def write_report(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render ``results_dir/*.json`` into ``out`` (default :func:`default_report_path`); replaces it."""
    out = Path(out) if out is not None else default_report_path(results_dir)
    text = render_markdown(load_results(results_dir))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    logger.info("wrote %s", out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    write_report(a.results, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
