"""bench/report.py renders a synthetic results directory into the expected Markdown rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parent.parent / "bench" / "report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report_under_test", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ab_doc() -> dict:
    """A pd14_ab result with round numbers chosen so that every ratio is exact."""
    nest = {"engine": "NEST 3.10", "build_s": 1.5, "compile_s": 0.0, "synaptic_events_per_s": 2.0e6,
            "peak_rss_bytes": 512 * 2**20, "n_rounds": 2}
    return {
        "benchmark": "pd14_ab", "what": "synthetic A/B", "scale": 0.1, "cpu_count": 2,
        "provenance": {"platform": "Linux-test", "created": "2026-11-22T23:00:00+00:00", "git_revision": "abc"},
        "load_average_start": [4.0, 3.0, 2.0], "load_average_end": [6.0, 5.0, 4.0],
        "configurations": {
            "nest_2threads": {**nest, "simulate_s_per_bio_s": 8.0, "simulate_s_per_bio_s_range": [7.5, 8.5]},
            "cpp_standalone_2t": {"engine": "ours", "build_s": 2.0, "compile_s": 30.0, "simulate_s_per_bio_s": 2.0,
                                  "simulate_s_per_bio_s_range": [1.5, 2.5], "synaptic_events_per_s": 4.0e6,
                                  "peak_rss_bytes": 256 * 2**20, "n_rounds": 2},
        },
        "sim_time_ratios": {"nest_2threads_over_cpp_standalone_2t": {
            "of_medians": 4.0, "median_of_paired_rounds": 4.5, "paired_rounds": [4.0, 5.0]}},
        "targets": [{"what": "NEST 2 threads / ours 2 threads", "measured": 4.5, "target": ">= 6.0", "met": False},
                    {"what": "real-time factor", "measured": 2.0, "target": "<= 1.0", "met": False}],
    }


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    (d / "pd14_ab.json").write_text(json.dumps(_ab_doc()))
    (d / "newbench.json").write_text(json.dumps({
        "benchmark": "newbench", "what": "a benchmark without a renderer", "events_per_s": 1234567.0,
        "targets": [{"what": "events/s", "measured": 1234567.0, "target": ">= 1e6", "met": True}]}))
    (d / "broken.json").write_text("{not json")
    return d


@pytest.fixture()
def text(report, results_dir: Path) -> str:
    return report.render_markdown(report.load_results(results_dir))


def test_pd14_ab_table_rows(text: str) -> None:
    # Expected cells computed by hand from _ab_doc(): 256 MiB, 4.0e6 -> "4.0 M", ratios 4.5 / 4.0,
    # and the issue-#8 reference range for standalone 2 threads at scale 0.1 (1.9-2.3 s).
    assert "| cpp_standalone_2t | ours | 2.0 | 30 | 2.00 [1.50–2.50] | 4.0 M | 256 | 4.50 | 4.00 | 1.9–2.3 |" in text
    # NEST over itself is exactly 1 and has no ratio entry: the cells stay "-"; reference 7.4-7.8 s (issue #8).
    assert "| nest_2threads | NEST 3.10 | 1.5 | 0 | 8.00 [7.50–8.50] | 2.0 M | 512 | - | - | 7.4–7.8 |" in text
    # paired per-round ratios 4.0 and 5.0 as written in the synthetic file
    assert "| nest_2threads_over_cpp_standalone_2t | 4.50 | 4.00, 5.00 |" in text


def test_machine_date_and_missed_targets(text: str) -> None:
    # load averages 4.0 and 6.0 are the first entries of the two recorded triples
    assert "**Machine:** 2 cores; Linux-test; 1-min load average 4.0–6.0 during the run; git abc" in text
    assert "**Date:** 2026-11-22T23:00:00+00:00" in text
    assert "- **MISSED**: NEST 2 threads / ours 2 threads: measured 4.50, target >= 6.0." in text
    assert "**Targets:** 0 of 2 met." in text
    # two missed targets in pd14_ab, none in newbench (its single target is met)
    assert "**Missed targets:** `pd14_ab` (2)." in text


def test_generic_section_and_unreadable_file(text: str) -> None:
    # 1234567.0 printed with thousands separators by fmt (3 significant digits asked, >= 1000)
    assert "| events_per_s | 1,234,567 |" in text
    assert "- met: events/s: measured 1,234,567, target >= 1e6." in text
    assert "broken" not in text  # an unreadable JSON is skipped, not fatal


def test_write_report_to_results_dir(report, results_dir: Path) -> None:
    path = report.write_report(results_dir)
    # outside bench/results the report goes next to the JSON files
    assert path == results_dir / "RESULTS.md"
    assert path.read_text().count("\n## ") == 2  # pd14_ab and newbench; broken.json skipped


def test_stream_section_lists_every_configuration_and_its_targets(report):
    # Synthetic stream result: 2 threads at 2.5 s per biological second misses issue #8's
    # "<= 1" (exact comparison), 692 MiB = 0.676 GiB meets #5's "< 4 GiB".
    run = {"config": "cpp_standalone_2t", "device": "cpp_standalone", "threads": 2, "scale": 1.0,
           "n_cortical_neurons": 7956, "n_synapses": 1284963, "build_s": 1.5, "compile_s": 30.0,
           "simulate_s_per_bio_s": 2.5, "synaptic_events_per_s": 5e6, "peak_rss_mib": 400.0,
           "loadavg_before": [1.0, 1.0, 1.0], "loadavg_after": [1.2, 1.0, 1.0]}
    memory = {**run, "config": "memory_60s", "threads": 1, "peak_rss_mib": 692.0, "target_gib": 4.0}
    section = report.render_stream({"benchmark": "stream", "note": "synthetic", "results": [run],
                                    "memory_60s": memory}, {})
    table = section["tables"][0]
    assert "| cpp_standalone_2t | 2 |" in table and "| memory_60s | 1 |" in table
    met = {t["what"]: t["met"] for t in section["targets"]}
    assert met == {"60 s protocol, peak RSS (GiB)": True,
                   "scale 1, cpp_standalone 2 threads: s per biological second": False}
    rss = [t["measured"] for t in section["targets"] if t["what"].startswith("60 s")][0]
    assert rss == pytest.approx(692.0 / 1024, rel=1e-12)


def test_session_section_reports_overhead_and_speedup_targets(report):
    stats = lambda v: {"median": v, "min": v, "max": v, "values": [v]}  # noqa: E731
    doc = {"benchmark": "session", "note": "synthetic",
           "overhead": {"scale": 1.0, "biological_time_s": 2.0, "target_overhead_s": 2.0,
                        "overhead_ratio_per_process_over_session": 12.5,
                        "session": {"n_runs": 5, "build_s": 20.0, "compile_s": 30.0, "overhead_s": stats(1.6),
                                    "loop_s": stats(3.0), "binary_outside_loop_s": stats(0.9), "write_s": stats(0.5)},
                        "per_process": {"n_runs": 3, "overhead_s": stats(20.0), "loop_s": stats(3.0)}},
           "sweep": {"n_runs": 4, "scale": 0.5, "wall_1_worker_s": 100.0, "wall_2_workers_s": 62.5, "speedup": 1.6,
                     "target": 1.7}}
    section = report.render_session(doc, {})
    met = {t["what"]: (t["measured"], t["met"]) for t in section["targets"]}
    assert met == {"per-run overhead after the first build (s, max over runs)": (1.6, True),
                   "sweep speed-up, 2 local workers vs 1": (1.6, False)}
    assert "| 4 | 0.500 | 100 | 62.5 | 1.60 |" in section["tables"][1]


def test_pd14_dc_background_target(report):
    def result(config, threads, background, rtf):
        return {"scale": 0.1, "config": config, "device": "cpp_standalone", "threads": threads, "background": background,
                "build_s": 1.0, "compile_s": 2.0, "simulate_s_per_bio_s": rtf, "synaptic_events_per_s": 1e7,
                "peak_rss_self_mb": 100.0, "peak_rss_children_mb": 200.0}

    doc = {"benchmark": "pd14", "results": [result("cpp_standalone_2t_dc", 2, "dc", 0.42),
                                            result("cpp_standalone_1t_dc", 1, "dc", 0.61)]}
    section = report.render_pd14(doc, {})
    # only the 2-thread DC run carries issue #8's "RTF <= 0.5 with DC background"
    assert [(t["what"], t["measured"], t["met"]) for t in section["targets"]] == [
        ("PD14 0.1 DC background, cpp_standalone 2 threads: real-time factor", 0.42, True)]
    assert "| 0.1 | cpp_standalone_1t_dc |" in section["tables"][0]


def test_stream_bench_subset_keeps_the_other_entries(tmp_path, monkeypatch):
    """``bench_stream.py --configs/--scales/--no-memory`` replaces only what it measured."""
    spec = importlib.util.spec_from_file_location("bench_stream_under_test", REPORT.parent / "bench_stream.py")
    bench_stream = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_stream)
    old = [{"config": c, "scale": s, "simulate_s_per_bio_s": 9.0} for c in ("cpp_standalone_1t", "cython") for s in (0.5, 1.0)]
    (tmp_path / "stream.json").write_text(json.dumps({"results": old, "memory_60s": {"peak_rss_mib": 675.0}}))
    monkeypatch.setattr(bench_stream, "measure", lambda label, device, threads, scale, protocol, tmp: {
        "config": label, "scale": scale, "simulate_s_per_bio_s": 1.0})
    doc = bench_stream.run(tmp_path, configs=bench_stream.CONFIGS[:1], scales=(1.0,), memory_run=False)
    by_key = {(r["config"], r["scale"]): r["simulate_s_per_bio_s"] for r in doc["results"]}
    # the measured pair is replaced, the three others kept; the stored memory run is kept
    assert by_key == {("cpp_standalone_1t", 0.5): 9.0, ("cpp_standalone_1t", 1.0): 1.0,
                      ("cython", 0.5): 9.0, ("cython", 1.0): 9.0}
    assert doc["memory_60s"] == {"peak_rss_mib": 675.0}


def test_machine_section_shows_the_openmp_probe(report) -> None:
    doc = {"bandwidth": [{"threads": 1, "copy_GBps": 10.0, "triad_GBps": 12.0}],
           "delivery": [{"threads": 1, "deliveries_per_s": 5.0e7}], "best_deliveries_per_s": 5.0e7,
           "openmp_regions": {"available": True, "regions_per_step": 200, "items_per_region": 400, "steps": 10,
                              "rows": [{"wait_policy": "passive", "threads": 2, "empty_region_us": 1.5,
                                        "step_us": 400.0}]}}
    section = report.render_machine(doc, {})
    table = section["tables"][-1]
    assert "step of 200 regions x 400 values (µs)" in table
    assert "| passive | 2 | 1.50 | 400 |" in table
    missing = report.render_machine({**doc, "openmp_regions": {"available": False, "reason": "no g++ on PATH"}}, {})
    assert missing["notes"] == ["OpenMP probe not run: no g++ on PATH"]
