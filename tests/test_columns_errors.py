"""Bad input to `columns`: one-line ConfigError naming the field, with suggestions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis.errors import ConfigError

pytestmark = pytest.mark.usefixtures("brian2_numpy")


@pytest.fixture
def tiny_column(brian2_numpy):
    from columns.column import build_column
    from columns.pathways import DEFAULT_COLUMN

    return build_column(dataclasses.replace(DEFAULT_COLUMN, n_scale=0.005), "v1", connectivity_seed=1, initial_state_seed=2)


def test_unknown_population_suggests_nearest(tiny_column):
    with pytest.raises(ConfigError, match=r"unknown population 'l5_exk'.*did you mean 'l5_exc'"):
        tiny_column.population("l5_exk")


def test_unknown_pathway_suggests_nearest(tiny_column):
    from brian2 import SpikeGeneratorGroup, ms, pA

    gen = SpikeGeneratorGroup(1, [0], [1.0] * ms, name="gen_bad")
    with pytest.raises(ConfigError, match=r"no pathway 'l44'.*did you mean 'l4'"):
        tiny_column.connect_input(gen, "l4_exc", [0], [0], 10 * pA, 1 * ms, pathway="l44")


def test_unknown_port_and_label(tiny_column):
    with pytest.raises(ConfigError, match=r"unknown port 'shortcutt'.*did you mean 'shortcut'"):
        tiny_column.port_targets("shortcutt")
    with pytest.raises(ConfigError, match=r"unknown label 'rf_z'"):
        tiny_column.set_labels("l4_exc", rf_z=0.0)


def test_wrong_units_name_parameter_and_unit(tiny_column):
    from brian2 import SpikeGeneratorGroup, mV, ms

    with pytest.raises(ConfigError, match=r"^tonic drive must be a quantity in units of .*amp"):
        tiny_column.set_tonic_drive("l5_exc", 5 * mV)
    gen = SpikeGeneratorGroup(1, [0], [1.0] * ms, name="gen_units")
    with pytest.raises(ConfigError, match=r"weight of 'gen_units_to_v1_l4_exc' must be a quantity in units of .*amp.*plain number"):
        tiny_column.connect_input(gen, "l4_exc", [0], [0], 10.0, 1 * ms)
    with pytest.raises(ConfigError, match=r"t_start must be a quantity in units of .*second"):
        tiny_column.silence("l4_exc", 5.0, 10 * ms)


def test_wrong_unit_in_cell_params_is_config_error():
    from brian2 import mV

    from columns.column import validate_column_params
    from columns.pathways import DEFAULT_COLUMN

    pop = DEFAULT_COLUMN.populations["l4_exc"]
    bad_pop = dataclasses.replace(pop, cell=dataclasses.replace(pop.cell, tau_m=10 * mV))
    params = dataclasses.replace(DEFAULT_COLUMN, populations={**DEFAULT_COLUMN.populations, "l4_exc": bad_pop})
    with pytest.raises(ConfigError) as info:
        validate_column_params(params)
    msg = str(info.value)
    assert "tau_m of population 'l4_exc'" in msg and "second" in msg and "\n" not in msg


def test_probability_outside_unit_interval():
    from columns.column import validate_column_params
    from columns.pathways import DEFAULT_COLUMN

    key = ("l4_exc", "l23_exc")
    bad = dataclasses.replace(DEFAULT_COLUMN.pathways[key], probability=1.5)
    params = dataclasses.replace(DEFAULT_COLUMN, pathways={**DEFAULT_COLUMN.pathways, key: bad})
    with pytest.raises(ConfigError, match=r"probability of pathway \('l4_exc', 'l23_exc'\) must be in \[0, 1\]"):
        validate_column_params(params)


def test_unknown_population_in_pathway_table():
    from columns.column import validate_column_params
    from columns.pathways import DEFAULT_COLUMN

    pw = DEFAULT_COLUMN.pathways[("l4_exc", "l23_exc")]
    params = dataclasses.replace(DEFAULT_COLUMN, pathways={("l4_exc", "l23_ecx"): pw})
    with pytest.raises(ConfigError, match=r"unknown target population 'l23_ecx'.*did you mean 'l23_exc'"):
        validate_column_params(params)


@pytest.mark.parametrize("field,value", [("n_scale", 0.0), ("n_scale", -1.0), ("k_scale", 0.0)])
def test_non_positive_scale(field, value):
    from columns.column import validate_column_params
    from columns.pathways import DEFAULT_COLUMN

    with pytest.raises(ConfigError, match=field):
        validate_column_params(dataclasses.replace(DEFAULT_COLUMN, **{field: value}))


def test_non_positive_sizes(brian2_numpy):
    from columns.params import DEFAULT_EXC_CELL
    from columns.populations import make_population
    from columns.wiring import draw_fixed_total_number

    with pytest.raises(ConfigError, match=r"size of population 'v1_l4_exc' must be a positive integer"):
        make_population("v1_l4_exc", 0, DEFAULT_EXC_CELL, {"ff": "exc"})
    with pytest.raises(ConfigError, match="population sizes must be positive"):
        draw_fixed_total_number(0, 10, 5, np.random.default_rng(0))


def test_pd14_scale_and_background_checked():
    from columns.pd14 import pd14_params

    with pytest.raises(ConfigError, match="scale must be a positive number"):
        pd14_params(0.0)
    with pytest.raises(ConfigError, match="background must be 'poisson' or 'dc'"):
        pd14_params(0.1, background="poison")


def test_derive_seeds_deterministic_and_distinct():
    from circuits.simulate import SEED_PURPOSES, derive_seeds

    a, b = derive_seeds(7), derive_seeds(7)
    assert a == b
    # SeedSequence children are independent: all purposes get different seeds.
    assert len({a[p] for p in SEED_PURPOSES}) == len(SEED_PURPOSES)
    assert derive_seeds(8)["connectivity"] != a["connectivity"]
    with pytest.raises(ConfigError, match=r"unknown seed purpose 'conectivity'.*did you mean 'connectivity'"):
        derive_seeds(1, ("conectivity",))
