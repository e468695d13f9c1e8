"""Run configuration: TOML files over a documented default, every key validated.

A configuration is a nested mapping (TOML tables). :data:`SCHEMA` documents every key:
its default, type, unit, allowed range or choices. :func:`resolve_config` merges a user
mapping over the defaults and validates it; unknown keys are errors with the nearest valid
key suggested; physical values must carry a unit (``"0.1 ms"``, ``"4 Hz"``, ``"2 deg"``)
and are checked against the expected dimension.

The resolved configuration is plain JSON (quantities as strings in SI units, e.g.
``"0.0001 s"``), so it can be stored in the output file and read back as input.

Functions
---------
load_config
    Read a TOML file and resolve it.
resolve_config
    Validate a mapping against :data:`SCHEMA`, filling defaults.
parse_quantity
    ``"0.1 ms"`` → ``1e-4`` (SI float), checking the dimension.
get_si
    A resolved quantity as an SI float.
format_config
    The resolved configuration as TOML text (for ``config show``).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError, suggest

__all__ = [
    "Option",
    "SCHEMA",
    "UNITS",
    "load_config",
    "resolve_config",
    "parse_quantity",
    "get_si",
    "format_config",
    "default_config",
]

#: Units accepted per dimension → factor to the SI unit (listed first).
UNITS: dict[str, dict[str, float]] = {
    "time": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0},
    "frequency": {"Hz": 1.0, "kHz": 1e3},
    "angle": {"deg": 1.0},  # visual angle and orientation are kept in degrees throughout
    "spatial_frequency": {"cpd": 1.0},  # cycles per degree
    "current": {"A": 1.0, "nA": 1e-9, "pA": 1e-12},
    "voltage": {"V": 1.0, "mV": 1e-3},
    "dimensionless": {"": 1.0},
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True)
class Option:
    """One configuration key.

    Parameters
    ----------
    default : object
        Default value (quantities as strings with units).
    kind : {"int", "float", "bool", "str", "quantity", "list[str]", "list[int]", "list[float]", "list[quantity]"}
        Expected type.
    doc : str
        What the key means (shown by ``config show --doc``).
    dimension : str, optional
        For quantities: a key of :data:`UNITS`.
    low, high : float, optional
        Allowed range (in SI units for quantities); ``low_open``/``high_open`` exclude the bound.
    choices : tuple of str, optional
        Allowed values of a string (or each item of a list of strings).
    """

    default: Any
    kind: str
    doc: str
    dimension: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None


STATIONS = ("v1", "v2", "v4", "it")
# ``hierarchical_rate_matched`` needs a calibration against ``residual`` and is run by the
# experiments. ``transthalamic`` is ``residual`` with the stream through the pulvinar-like relay.
VARIANTS = ("residual", "hierarchical", "shuffled_skip", "dense", "transthalamic")
#: ``relay``: station k's ``l5_exc`` reaches k+1 through a pulvinar-like relay (docs/stream.md).
SOURCES = ("l5_exc", "l23_exc", "both", "relay")
#: What ``transthalamic`` accepts as ``stream.source`` (it always uses the relay).
TRANSTHALAMIC_SOURCES = ("l5_exc", "relay")
POPULATIONS = ("l4_exc", "l4_pv", "l23_exc", "l23_pv", "l5_exc", "l5_pv")
MANIPULATIONS = ("silence", "block_lesion", "gain_noise", "background_scale", "top_down_gain", "tonic_drive")

#: Every key of a run configuration, by table. Tables listed in :data:`LIST_TABLES` are
#: arrays of tables (``[[manipulation]]``), each entry validated against its schema.
SCHEMA: dict[str, dict[str, Option]] = {
    "run": {
        "master_seed": Option(1, "int", "master seed; every per-purpose seed derives from it", low=0),
        "noise_seed": Option(
            0, "int",
            "background-noise seed: 0 = derived from master_seed; k > 0 keeps master_seed's network, stimulus and "
            "LGN spikes and redraws only the cortical Poisson background (noise realisation k of the same network)",
            low=0,
        ),
        "background_sampler": Option(
            "event_gaps", "str",
            "how the cortical Poisson background is drawn, same statistics either way: 'event_gaps' draws only at the "
            "time steps that have an input event (fast); 'per_step' draws a binomial count per neuron and step, as "
            "Brian2's PoissonInput and every run made before 2026-11-23",
            choices=("event_gaps", "per_step"),
        ),
        "device": Option("runtime", "str", "Brian2 device", choices=("runtime", "cpp_standalone")),
        "codegen_target": Option("numpy", "str", "runtime code generation target", choices=("numpy", "cython")),
        "threads": Option(1, "int", "OpenMP threads (cpp_standalone)", low=1, high=256),
        "omp_wait_policy": Option(
            "inherit", "str",
            "how OpenMP threads wait at the barriers of every time step (cpp_standalone, threads > 1): 'active' "
            "spins (fastest on cores nobody else uses), 'passive' sleeps (cores shared with other jobs), "
            "'inherit' keeps the environment's OMP_WAIT_POLICY",
            choices=("inherit", "active", "passive"),
        ),
        "dt": Option("0.1 ms", "quantity", "simulation time step", "time", low=1e-6, high=1e-3),
        "scale": Option(1.0, "float", "multiplies every population size (PD14 N/K scaling)", low=0.0, low_open=True, high=10.0),
        "progress": Option(True, "bool", "show a progress bar over simulated time"),
        "max_rate": Option("200 Hz", "quantity", "runaway guard: stop when a population's rate exceeds this", "frequency", low=0.0, low_open=True),
        "silence_guard": Option(True, "bool", "stop when a cortical population fires no spike for a whole chunk (unless silenced)"),
        "chunk": Option("1 s", "quantity", "runtime device: simulated time between writes to disk and guard checks", "time", low=1e-3, high=3600.0),
    },
    "stream": {
        "variant": Option("residual", "str", "topology variant (DESIGN §2.5)", choices=VARIANTS),
        "stations": Option(list(STATIONS), "list[str]", "cortical stations in order", choices=STATIONS),
        "source": Option(
            "l5_exc", "str",
            "output population projecting to the next station (relay: l5_exc through a pulvinar-like relay; "
            "variant transthalamic always uses the relay and accepts l5_exc or relay)",
            choices=SOURCES,
        ),
        "shortcut_scale": Option(1.0, "float", "multiplies the calibrated shortcut weights (residual)", low=0.0, high=10.0),
        "background_scale": Option(1.0, "float", "multiplies the Poisson background rate of every station", low=0.0, high=10.0),
    },
    "lgn": {
        "preset": Option("macaque_parafoveal", "str", "retina/LGN parameter set", choices=("macaque_parafoveal", "mouse")),
        "field_size": Option("2 deg", "quantity", "side of the square visual field covered by the mosaic and the stimulus", "angle", low=0.0, low_open=True, high=60.0),
        "deg_per_pixel": Option("0.02 deg", "quantity", "stimulus pixel size", "angle", low=1e-4, high=1.0),
    },
    "stimulus": {
        "protocol": Option(
            "orientation_tuning", "str", "protocol builder",
            choices=("orientation_tuning", "edges", "context", "repeated", "sparse_noise", "natural_images", "blank"),
        ),
        "orientations": Option(8, "int", "number of orientations (0-180 deg)", low=1, high=72),
        "phases": Option(2, "int", "number of spatial phases", low=1, high=16),
        "contrasts": Option([1.0], "list[float]", "Michelson contrasts", low=0.0, high=1.0),
        "repeats": Option(2, "int", "repeats of each condition", low=1, high=10000),
        "spatial_frequency": Option("2 cpd", "quantity", "grating spatial frequency", "spatial_frequency", low=0.0, low_open=True, high=30.0),
        "temporal_frequency": Option("4 Hz", "quantity", "drift frequency (0 for static)", "frequency", low=0.0, high=100.0),
        "duration": Option("0.3 s", "quantity", "stimulus duration of each epoch", "time", low=0.0, low_open=True, high=3600.0),
        "blank": Option("0.2 s", "quantity", "blank after each epoch", "time", low=0.0, high=3600.0),
        "frame_duration": Option("10 ms", "quantity", "frame duration (a multiple of dt)", "time", low=1e-4, high=1.0),
        "positions": Option(["-0.25 deg", "0 deg", "0.25 deg"], "list[quantity]", "edges: positions of the edge along its normal", "angle", low=-30.0, high=30.0),
        "polarities": Option([1, -1], "list[int]", "edges: polarities (+1 bright on the normal side, -1 dark)", low=-1, high=1),
        "center_diameter": Option("0.6 deg", "quantity", "context: diameter of the centre grating's disc (the surround fills the field around it)", "angle", low=0.0, low_open=True, high=60.0),
        "n_images": Option(10, "int", "natural_images: number of seeded 1/f images", low=1, high=10000),
        "rms_contrast": Option(0.3, "float", "natural_images: RMS contrast", low=0.0, low_open=True, high=1.0),
        "dot_size": Option("0.1 deg", "quantity", "sparse_noise: dot size", "angle", low=0.0, low_open=True, high=10.0),
        "density": Option(0.02, "float", "sparse_noise: fraction of pixels lit per noise frame", low=0.0, low_open=True, high=1.0),
        "noise_frame_duration": Option("50 ms", "quantity", "sparse_noise: duration of one noise frame", "time", low=1e-3, high=10.0),
        "trial_duration": Option("10 s", "quantity", "sparse_noise: duration of one trial (epoch)", "time", low=0.01, high=3600.0),
    },
    "recording": {
        "currents_sample": Option(20, "int", "L4 and L5 E cells per station whose pathway charges are recorded", low=0),
        "state_traces": Option(False, "bool", "record membrane potential traces of the sampled cells"),
        "stream_to_disk": Option(True, "bool", "append spikes to the HDF5 file during long runtime runs"),
    },
}

#: Arrays of tables: ``[[manipulation]]`` entries.
LIST_TABLES: dict[str, dict[str, Option]] = {
    "manipulation": {
        "kind": Option("silence", "str", "what to do", choices=MANIPULATIONS),
        "stations": Option(list(STATIONS), "list[str]", "stations affected", choices=STATIONS),
        "populations": Option(["l4_exc"], "list[str]", "populations affected", choices=POPULATIONS),
        "start": Option("0 s", "quantity", "start of the window", "time", low=0.0),
        "stop": Option("inf s", "quantity", "end of the window (inf: to the end)", "time", low=0.0),
        "value": Option(1.0, "float", "gain, scale, or noise s.d. (depends on kind)", low=0.0),
        "current": Option("0 pA", "quantity", "tonic drive or silencing current", "current"),
    },
}


def parse_quantity(text: Any, dimension: str, key: str) -> float:
    """Parse ``"<number> <unit>"`` into an SI float.

    Parameters
    ----------
    text : str
        E.g. ``"0.1 ms"``; ``"inf s"`` is allowed.
    dimension : str
        A key of :data:`UNITS`.
    key : str
        Dotted key name, for the error message.

    Raises
    ------
    ConfigError
        A bare number, an unknown unit or a unit of the wrong dimension.

    Examples
    --------
    >>> parse_quantity("0.1 ms", "time", "run.dt")
    0.0001
    """
    allowed = UNITS[dimension]
    if dimension == "dimensionless" and isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if isinstance(text, bool) or not isinstance(text, str):
        example = next(iter(u for u in allowed if u))
        raise ConfigError(f"{key}: needs a value with a unit, e.g. '{1} {example}' (units: {', '.join(allowed)}); got {text!r}")
    text = text.strip()
    if text.lower().startswith("inf"):
        number, unit = math.inf, text[3:].strip()
    else:
        match = _QUANTITY.match(text)
        if not match:
            raise ConfigError(f"{key}: cannot read {text!r} as '<number> <unit>' (units: {', '.join(allowed)})")
        number, unit = float(match.group(1)), match.group(2)
    if unit not in allowed:
        other = next((dim for dim, units in UNITS.items() if unit in units), None)
        hint = f" ({unit!r} is a {other} unit)" if other else suggest(unit, allowed)
        raise ConfigError(f"{key}: unit {unit!r} is not a {dimension} unit{hint}; use one of {', '.join(allowed)}")
    return number * allowed[unit]


def _si_string(value: float, dimension: str) -> str:
    unit = next(iter(UNITS[dimension]))
    # repr gives the shortest string that reads back to the same float (no lost digits)
    return f"{float(value)!r} {unit}".strip() if math.isfinite(value) else f"inf {unit}"


def _check_range(key: str, value: float, option: Option, unit: str = "") -> None:
    low_ok = option.low is None or (value > option.low if option.low_open else value >= option.low)
    high_ok = option.high is None or (value < option.high if option.high_open else value <= option.high)
    if not (low_ok and high_ok):
        lo = "-inf" if option.low is None else f"{option.low:g}"
        hi = "inf" if option.high is None else f"{option.high:g}"
        brackets = ("(" if option.low_open else "[") + f"{lo}, {hi}" + (")" if option.high_open else "]")
        raise ConfigError(f"{key}: {value:g}{(' ' + unit) if unit else ''} is outside the allowed range {brackets}")


def _validate_value(key: str, value: Any, option: Option) -> Any:
    kind = option.kind
    if kind.startswith("list["):
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        item = Option(None, kind[5:-1], option.doc, option.dimension, option.low, option.high,
                      option.low_open, option.high_open, option.choices)
        return [_validate_value(f"{key}[{k}]", v, item) for k, v in enumerate(value)]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        _check_range(key, value, option)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        _check_range(key, float(value), option)
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        if option.choices and value not in option.choices:
            raise ConfigError(
                f"{key}: {value!r} is not allowed{suggest(value, option.choices)}; choose from {', '.join(option.choices)}"
            )
        return value
    if kind == "quantity":
        si = parse_quantity(value, option.dimension or "dimensionless", key)
        if math.isnan(si):
            raise ConfigError(f"{key}: NaN is not a value")
        _check_range(key, si, option, next(iter(UNITS[option.dimension or "dimensionless"])))
        return _si_string(si, option.dimension or "dimensionless")
    raise AssertionError(f"unknown option kind {kind}")  # a schema bug, not user input


def _shown(name: Any) -> str:
    """A user-given name fit for a one-line message (quoted when it is not plain)."""
    text = str(name)
    return text if text.isprintable() and text.strip() == text and text else repr(name)


def _resolve_table(prefix: str, user: Mapping[str, Any], schema: Mapping[str, Option]) -> dict[str, Any]:
    if not isinstance(user, Mapping):
        raise ConfigError(f"{prefix}: expected a table, got {type(user).__name__}")
    for key in user:
        if key not in schema:
            raise ConfigError(
                f"{prefix}.{_shown(key)}: unknown key{suggest(str(key), schema)}; valid keys: {', '.join(schema)}"
            )
    out = {}
    for key, option in schema.items():
        value = user.get(key, option.default)
        out[key] = _validate_value(f"{prefix}.{key}", value, option)
    return out


def default_config() -> dict[str, Any]:
    """The documented default configuration, resolved."""
    return resolve_config({})


def resolve_config(user: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``user`` against :data:`SCHEMA` and fill in the defaults.

    Raises
    ------
    ConfigError
        Unknown tables or keys (with the nearest valid name), wrong types, missing or wrong
        units, out-of-range values, inconsistent combinations.
    """
    if not isinstance(user, Mapping):
        raise ConfigError(f"configuration must be a table, got {type(user).__name__}")
    valid = list(SCHEMA) + list(LIST_TABLES)
    for table in user:
        if table not in valid:
            raise ConfigError(
                f"{_shown(table)}: unknown table{suggest(str(table), valid)}; valid tables: {', '.join(valid)}"
            )
    resolved: dict[str, Any] = {name: _resolve_table(name, user.get(name, {}), schema) for name, schema in SCHEMA.items()}
    for name, schema in LIST_TABLES.items():
        entries = user.get(name, [])
        if not isinstance(entries, list):
            raise ConfigError(f"{name}: expected an array of tables ([[{name}]]), got {type(entries).__name__}")
        resolved[name] = [_resolve_table(f"{name}[{k}]", entry, schema) for k, entry in enumerate(entries)]
    _check_consistency(resolved)
    return resolved


def get_si(resolved: Mapping[str, Any], dotted: str) -> float:
    """A resolved quantity (``"table.key"``) as an SI float."""
    table, key = dotted.split(".")
    option = SCHEMA[table][key]
    return parse_quantity(resolved[table][key], option.dimension or "dimensionless", dotted)


def _check_consistency(cfg: Mapping[str, Any]) -> None:
    dt = get_si(cfg, "run.dt")
    frame = get_si(cfg, "stimulus.frame_duration")
    steps = frame / dt
    if abs(steps - round(steps)) > 1e-6:
        raise ConfigError(
            f"stimulus.frame_duration: {cfg['stimulus']['frame_duration']} is not a whole multiple of run.dt = {cfg['run']['dt']}"
        )
    stations = cfg["stream"]["stations"]
    if not stations:
        raise ConfigError("stream.stations: needs at least one station, e.g. ['v1']")
    if list(stations) != [s for s in STATIONS if s in stations]:
        raise ConfigError(f"stream.stations: must be unique and in stream order ({', '.join(STATIONS)}), got {stations}")
    if cfg["stream"]["variant"] == "transthalamic" and cfg["stream"]["source"] not in TRANSTHALAMIC_SOURCES:
        raise ConfigError(
            f"stream.source: {cfg['stream']['source']!r} conflicts with stream.variant = 'transthalamic', whose stream "
            f"goes through the relay; use one of {', '.join(TRANSTHALAMIC_SOURCES)}"
        )
    if cfg["run"]["threads"] > 1 and cfg["run"]["device"] != "cpp_standalone":
        raise ConfigError("run.threads: more than 1 thread needs run.device = 'cpp_standalone'")
    for k, manip in enumerate(cfg.get("manipulation", [])):
        missing = [s for s in manip["stations"] if s not in stations]
        if missing:
            raise ConfigError(
                f"manipulation[{k}].stations: {missing} not in stream.stations ({', '.join(stations)})"
            )
        start = parse_quantity(manip["start"], "time", f"manipulation[{k}].start")
        stop = parse_quantity(manip["stop"], "time", f"manipulation[{k}].stop")
        if stop <= start:
            raise ConfigError(f"manipulation[{k}]: stop ({manip['stop']}) must be after start ({manip['start']})")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file and resolve it.

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error (with line), or any validation error.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        with open(path, "rb") as handle:
            user = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    return resolve_config(user)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def format_config(resolved: Mapping[str, Any], with_doc: bool = False) -> str:
    """Render a resolved configuration as TOML (readable back by :func:`load_config`)."""
    lines: list[str] = []
    for table, schema in SCHEMA.items():
        lines.append(f"[{table}]")
        for key, option in schema.items():
            if with_doc:
                lines.append(f"# {option.doc}")
            lines.append(f"{key} = {_toml_value(resolved[table][key])}")
        lines.append("")
    for table, schema in LIST_TABLES.items():
        for entry in resolved.get(table, []):
            lines.append(f"[[{table}]]")
            lines.extend(f"{key} = {_toml_value(entry[key])}" for key in schema)
            lines.append("")
    return "\n".join(lines)
