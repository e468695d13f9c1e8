"""Calibration probes of the stream: one run per condition with stream parameters overridden.

The tables of docs/stream.md "Calibration" were measured with this script (scale 1, seed 1,
cpp_standalone). Each condition runs in its own process (a standalone device builds one
network per process); the gate metrics of ``ventral-columns experiment calibrate`` are then
printed for every station and layer.

Examples
--------
V1 alone with the shortcut of the first defaults (20 × 1 mV onto L5 E, 20 × 0.5 mV onto PV)::

    python scripts/calibrate_stream.py probe/first --stations v1 \\
        --set thalamic.l5_exc.indegree=20 --set thalamic.l5_pv.indegree=20 --set thalamic.l5_pv.psp=0.5

The whole stream without the inter-areal in-degree cap, spontaneous activity only::

    python scripts/calibrate_stream.py probe/nocap --conditions spontaneous --set interareal.max_connection_fraction=none

``--set`` keys: ``thalamic.<projection>.<indegree|psp>`` and ``interareal.<projection>.<indegree|psp>``
(PSP in mV), ``interareal.max_connection_fraction`` (a number or ``none``),
``rate.<population>`` (balance rate of a stream source, spikes/s) and ``background.<station>``
(background scale of a station).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

CONDITIONS = ("spontaneous", "gratings", "silence_l4")
METRICS = ("rate_spont", "rate_spont_pv", "cv_isi", "cv_isi_poisson", "synchrony", "evoked",
           "evoked_kept_silence_l4", "exc_charge_kept_silence_l4", "latency", "osi", "decoding_accuracy")
#: The probes' grating protocol: 8 orientations × 2 phases × 2 repeats (16 epochs per condition).
GRATINGS = {"protocol": "orientation_tuning", "orientations": 8, "phases": 2, "repeats": 2,
            "temporal_frequency": "0 Hz", "duration": "0.3 s", "blank": "0.2 s"}


def stream_params(settings: list[str]):
    """``DEFAULT_STREAM`` with the ``--set`` overrides applied."""
    from brian2 import Hz, mV

    from analysis.errors import ConfigError
    from circuits.params import DEFAULT_STREAM

    params = DEFAULT_STREAM
    for item in settings:
        key, _, text = item.partition("=")
        parts = key.split(".")
        if parts[0] in ("thalamic", "interareal") and len(parts) == 3 and parts[2] in ("indegree", "psp"):
            table = getattr(params, parts[0])
            proj = getattr(table, parts[1])
            value = int(text) if parts[2] == "indegree" else float(text) * mV
            table = dataclasses.replace(table, **{parts[1]: dataclasses.replace(proj, **{parts[2]: value})})
            params = params.replace(**{parts[0]: table})
        elif key == "interareal.max_connection_fraction":
            value = None if text.lower() == "none" else float(text)
            params = params.replace(interareal=dataclasses.replace(params.interareal, max_connection_fraction=value))
        elif parts[0] == "rate" and len(parts) == 2:
            rates = {**params.interareal.source_rates, parts[1]: float(text) * Hz}
            params = params.replace(interareal=dataclasses.replace(params.interareal, source_rates=rates))
        elif parts[0] == "background" and len(parts) == 2:
            params = params.replace(background_scale={**params.background_scale, parts[1]: float(text)})
        else:
            raise ConfigError(f"--set {item}: unknown key; see the module docstring for the keys")
    return params


def run_condition(out: Path, condition: str, args: argparse.Namespace) -> None:
    """One run (this process): build, simulate, write ``<out>_<condition>.h5``."""
    from circuits.config import resolve_config
    from circuits.run import run_stream

    user = {"run": {"device": "cpp_standalone", "scale": args.scale, "master_seed": args.seed, "progress": False},
            "stream": {"stations": args.stations, "variant": args.variant},
            "stimulus": ({"protocol": "blank", "duration": f"{args.spontaneous} s"} if condition == "spontaneous"
                         else GRATINGS)}
    if condition == "silence_l4":
        user["manipulation"] = [{"kind": "silence", "stations": args.stations, "populations": ["l4_exc"],
                                 "start": "0 s", "stop": "inf s"}]
        user["run"]["silence_guard"] = False
    run_stream(resolve_config(user), Path(f"{out}_{condition}.h5"), overwrite=True, base=stream_params(args.set))


def report(out: Path) -> dict:
    """Gate metrics of the finished conditions, by ``station/layer/metric``."""
    from circuits.exp_calibrate import calibrate_metrics
    from circuits.experiments import RunRecords

    paths = {c: Path(f"{out}_{c}.h5") for c in CONDITIONS if Path(f"{out}_{c}.h5").exists()}
    metrics = calibrate_metrics(RunRecords(paths))
    return {f"{s}/{layer}/{m}": v for (s, layer, m), v in sorted(metrics.items()) if m in METRICS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output stem: writes <out>_<condition>.h5 and <out>.json")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--stations", nargs="+", default=["v1", "v2", "v4", "it"])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variant", default="residual", help="topology variant (stream.variant)")
    parser.add_argument("--spontaneous", type=float, default=20.5, help="spontaneous run length, s")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--one", choices=CONDITIONS, help=argparse.SUPPRESS)  # the per-condition worker
    args = parser.parse_args(argv)
    if args.one:
        run_condition(args.out, args.one, args)
        return 0
    stream_params(args.set)  # refuse a bad key before any run
    args.out.parent.mkdir(parents=True, exist_ok=True)
    forwarded = list(argv if argv is not None else sys.argv[1:])
    for condition in args.conditions:
        t0 = time.time()
        subprocess.run([sys.executable, __file__, *forwarded, "--one", condition], check=True)
        print(f"{args.out} {condition}: {time.time() - t0:.0f} s", flush=True)
    doc = report(args.out)
    Path(f"{args.out}.json").write_text(json.dumps(doc, indent=1))
    for key, value in doc.items():
        print(f"{key:40s} {value:.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
