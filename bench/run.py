"""Run every benchmark module ``bench/bench_*.py`` and write its JSON under ``--out``.

Each module defines ``run(out_dir: pathlib.Path, quick: bool) -> dict`` and writes
``<out_dir>/<name>.json`` itself (via ``analysis.outputs.write_json``); at the end
``bench/report.py`` renders every JSON of ``--out`` into ``bench/RESULTS.md``. Benchmarks report
ratios against a reference run on the same machine in the same run, never absolute
pass/fail timings.

Usage::

    python bench/run.py --out bench/results [--only io,stimuli] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE / "results"), help="directory for the JSON results")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for checking the harness")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = {w for w in args.only.split(",") if w}
    modules = sorted(HERE.glob("bench_*.py"))
    unknown = wanted - {m.stem.removeprefix("bench_") for m in modules}
    if unknown:
        print(f"bench: error: unknown benchmark(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    for path in modules:
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(module)
        t0 = time.perf_counter()
        module.run(out, quick=args.quick)
        logging.info("benchmark %s done in %.1f s", name, time.perf_counter() - t0)
    # RESULTS.md from every JSON of the directory (also the benchmarks not rerun now)
    sys.path.insert(0, str(HERE))
    import report

    report.write_report(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
