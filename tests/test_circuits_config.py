"""Configuration: defaults, TOML round trip, unit parsing and one-line errors."""

from __future__ import annotations

import tomllib

import pytest

from analysis.errors import ConfigError
from circuits.config import (
    default_config,
    format_config,
    get_si,
    load_config,
    parse_quantity,
    resolve_config,
)


def test_defaults_round_trip_through_toml():
    cfg = default_config()
    assert resolve_config(tomllib.loads(format_config(cfg, with_doc=True))) == cfg


@pytest.mark.parametrize(
    "text, dimension, expected",
    [
        ("0.1 ms", "time", 1e-4),
        ("2 s", "time", 2.0),
        ("250 us", "time", 2.5e-4),
        ("4 Hz", "frequency", 4.0),
        ("1.5 kHz", "frequency", 1500.0),
        ("-70 mV", "voltage", -0.07),
        ("20pA", "current", 2e-11),
        ("2 cpd", "spatial_frequency", 2.0),
    ],
)
def test_parse_quantity_to_si(text, dimension, expected):
    # expected values: the SI definitions of the prefixes (m = 1e-3, u = 1e-6, k = 1e3, p = 1e-12)
    assert parse_quantity(text, dimension, "k") == pytest.approx(expected, rel=1e-12)


def test_quantities_keep_every_digit():
    cfg = resolve_config({"stimulus": {"duration": "0.123456789 s"}})
    assert get_si(cfg, "stimulus.duration") == 0.123456789


@pytest.mark.parametrize(
    "user, message",
    [
        ({"run": {"dtt": "1 ms"}}, "run.dtt: unknown key (did you mean 'dt'?)"),
        ({"rnu": {}}, "rnu: unknown table (did you mean 'run'?)"),
        ({"run": {"dt": 0.1}}, "run.dt: needs a value with a unit"),
        ({"run": {"dt": "0.1 Hz"}}, "'Hz' is a frequency unit"),
        ({"run": {"dt": "0.1 mss"}}, "did you mean 'ms'?"),
        ({"run": {"dt": "fast"}}, "cannot read 'fast'"),
        ({"run": {"scale": 0}}, "run.scale: 0 is outside the allowed range (0, 10]"),
        ({"run": {"scale": "big"}}, "run.scale: expected a finite number"),
        ({"run": {"threads": 0}}, "run.threads: 0 is outside"),
        ({"run": {"threads": 2}}, "more than 1 thread needs run.device = 'cpp_standalone'"),
        ({"run": {"progress": "yes"}}, "run.progress: expected true or false"),
        ({"stream": {"variant": "residul"}}, "did you mean 'residual'?"),
        ({"stream": {"stations": ["v2", "v1"]}}, "must be unique and in stream order"),
        ({"stream": {"stations": []}}, "needs at least one station"),
        ({"stimulus": {"contrasts": [1.5]}}, "stimulus.contrasts[0]: 1.5 is outside the allowed range [0, 1]"),
        ({"stimulus": {"duration": "-1 s"}}, "stimulus.duration: -1 s is outside"),
        ({"stimulus": {"frame_duration": "0.15 ms"}}, "not a whole multiple of run.dt"),
        ({"manipulation": [{"stations": ["v9"]}]}, "did you mean 'v4'?"),
        ({"manipulation": {"kind": "silence"}}, "expected an array of tables"),
        ({"manipulation": [{"stations": ["it"]}], "stream": {"stations": ["v1"]}}, "['it'] not in stream.stations"),
        ({"manipulation": [{"start": "2 s", "stop": "1 s"}]}, "stop (1.0 s) must be after start (2.0 s)"),
    ],
)
def test_bad_configs_give_one_line_errors(user, message):
    with pytest.raises(ConfigError) as info:
        resolve_config(user)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nseed = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text('[run]\ndt = "0.05 ms"\nmaster_seed = 7\n[stream]\nvariant = "hierarchical"\n')
    cfg = load_config(good)
    assert get_si(cfg, "run.dt") == pytest.approx(5e-5, rel=1e-12)
    assert (cfg["run"]["master_seed"], cfg["stream"]["variant"]) == (7, "hierarchical")


def test_context_protocol_from_config():
    import numpy as np

    from circuits.config import resolve_config
    from circuits.run import protocol_from_config

    cfg = resolve_config({"stimulus": {"protocol": "context", "orientations": 2, "phases": 1, "repeats": 1,
                                       "center_diameter": "0.5 deg"}})
    table = protocol_from_config(cfg, seed=3).trials_table()
    # 2 orientations x 1 phase x (centre alone, iso, cross) x 1 repeat
    assert sorted(table["label"].tolist()) == ["context_center"] * 2 + ["context_cross"] * 2 + ["context_iso"] * 2
    assert np.all(table["center_diameter_deg"] == 0.5) and set(table["stimulus"].tolist()) == {"center_surround"}
    with pytest.raises(ConfigError, match="stimulus.center_diameter"):
        resolve_config({"stimulus": {"center_diameter": "0 deg"}})
