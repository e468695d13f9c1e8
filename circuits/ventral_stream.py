"""Build the ventral stream: LGN → V1 → V2 → V4 → IT as one explicit Brian2 ``Network``.

Classes and functions
---------------------
Station
    A station's :class:`~columns.column.LaminarColumn` and its circuit-level labels.
Relay
    A pulvinar-like relay population between two stations (stream source ``relay``).
VentralStream
    Stations, the LGN generator, inter-areal projections, monitors and the ``Network``.
build_ventral_stream
    Build everything once (named objects, seeded connectivity, common random numbers across
    topology variants).
station_labels
    Per-cell labels (RF centre, channel, orientation, phase) of a station.
feedforward_weight
    PSP (mV) → synaptic weight of a target population's cell model.

Common random numbers: every variant draws the same labels, the same connections and
the same weights in the same order; variants differ only in the shortcut weights
(``hierarchical``: 0), a permutation drawn from its own generator (``shuffled_skip``),
extra projections appended after everything else (``dense``) or a tonic drive
(``hierarchical_rate_matched``). Stimulus and LGN spikes do not depend on the variant.
The relays (stream source ``relay``, variant ``transthalamic``) draw their labels, driver
wiring and initial state from generators of their own, so the thalamic and intra-column
wiring stays identical to the ``l5_exc`` build.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from brian2 import (
    Network,
    Quantity,
    amp,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Hz,
    TimedArray,
    mV,
    ms,
    second,
)

from analysis.errors import ConfigError, suggest
from circuits.interareal import (
    broad_pooling_affinity,
    feature_pooling_affinity,
    gabor_templates,
    hubel_wiesel_affinity,
    sample_fixed_indegree,
    shuffle_targets,
    sign_matching_index,
)
from circuits.params import (
    DEFAULT_STATIONS,
    RELAY_STATION,
    STREAM_SOURCES,
    TRANSTHALAMIC_SOURCES,
    VARIANTS,
    ProjectionParams,
    RelayParams,
    StationParams,
    VentralStreamParams,
)
from columns.cell_models import HOOKS
from columns.column import LaminarColumn, build_column, label_values
from columns.derived import psc_to_conductance, psp_to_psc
from columns.params import BackgroundParams, ColumnParams, PopulationParams
from stimuli.lgn import LGNMosaic, mosaic_capacity

__all__ = [
    "Station",
    "Relay",
    "VentralStream",
    "build_ventral_stream",
    "station_labels",
    "feedforward_weight",
    "CHARGE_POPULATIONS",
]

logger = logging.getLogger(__name__)

#: Populations whose pathway-resolved charge is recorded (DESIGN §4 /currents, P3).
CHARGE_POPULATIONS = ("l4_exc", "l5_exc")
_E_POPULATIONS = ("l4_exc", "l23_exc", "l5_exc")


@dataclass
class Station:
    """One station: its column and the labels that live at circuit level.

    Attributes
    ----------
    params : StationParams
    column : LaminarColumn
    extra_labels : dict of str to dict of str to numpy.ndarray
        Per population, node-table columns beyond the column's own labels
        (``channel_b`` for conjunctions, ``rf_sigma_deg``).
    """

    params: StationParams
    column: LaminarColumn
    extra_labels: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


@dataclass
class Relay:
    """A pulvinar-like relay population: ``l5_exc`` of station k → relay → station k+1.

    Attributes
    ----------
    column : LaminarColumn
        A one-population column named ``pulvinar`` whose population ``{k+1}_exc`` is the
        relay (Brian2 name ``pulvinar_{k+1}_exc``).
    source : str
        Full name of the driving population (``"v1_l5_exc"``).
    target_station : str
        The station the relay feeds (``"v2"``).
    source_node : numpy.ndarray of int64, shape (n_cells,)
        The source cell whose labels (RF centre, channel, orientation, phase) each relay
        cell copied.
    """

    column: LaminarColumn
    source: str
    target_station: str
    source_node: np.ndarray

    @property
    def local(self) -> str:
        """Local population name in :attr:`column` (``"v2_exc"``)."""
        return f"{self.target_station}_exc"

    @property
    def group(self) -> Any:
        """The relay's NeuronGroup."""
        return self.column.population(self.local)


@dataclass
class VentralStream:
    """The built stream (see :func:`build_ventral_stream`).

    Attributes
    ----------
    params : VentralStreamParams
    mosaic : LGNMosaic
    lgn : SpikeGeneratorGroup
        All LGN cells in mosaic order (ON first), named ``lgn``, padded with silent,
        unconnected slots up to :func:`stimuli.lgn.mosaic_capacity`.
    stations : dict of str to Station
    projections : dict of str to Synapses
        Thalamic and inter-areal projections by name.
    spike_monitors : dict of str to SpikeMonitor
        By population name (``v1_l4_exc``).
    charge_monitors : dict of str to StateMonitor
        Charge accumulators of the sampled cells, by population name.
    charge_sample : dict of str to numpy.ndarray
        Indices of the sampled cells per population.
    gain_arrays : dict of str to TimedArray
        Time-varying feedforward gains (gain noise, top-down gain), by population.
    network : Network
    wiring_stats : dict
        Measured properties of the wiring (sign-matching index per LGN projection...).
    relays : dict of str to Relay
        Pulvinar-like relays by population name (``pulvinar_v2_exc``); empty unless the
        stream source is ``relay``.
    """

    params: VentralStreamParams
    mosaic: LGNMosaic
    lgn: SpikeGeneratorGroup
    stations: dict[str, Station]
    projections: dict[str, Any]
    spike_monitors: dict[str, SpikeMonitor]
    charge_monitors: dict[str, StateMonitor]
    charge_sample: dict[str, np.ndarray]
    gain_arrays: dict[str, TimedArray]
    network: Network
    wiring_stats: dict[str, Any]
    relays: dict[str, Relay] = field(default_factory=dict)

    @property
    def populations(self) -> list[str]:
        """Recorded population names: cortical ones in stream order (``v1_l4_exc``, ...), then the relays."""
        return list(self.spike_monitors)

    def group(self, population: str) -> Any:
        """The NeuronGroup of a full population name (``"v2_l5_exc"``)."""
        station, _, local = population.partition("_")
        if station == RELAY_STATION and self.relays:
            if population not in self.relays:
                raise ConfigError(f"unknown relay {population!r}{suggest(population, self.relays)}; relays: {list(self.relays)}")
            return self.relays[population].group
        if station not in self.stations:
            raise ConfigError(f"unknown station {station!r} in {population!r}{suggest(station, self.stations)}")
        return self.stations[station].column.population(local)

    def node_table(self, population: str) -> dict[str, np.ndarray]:
        """Per-neuron labels for ``/nodes/<population>``."""
        station, _, local = population.partition("_")
        if population in self.relays:
            return self._relay_node_table(self.relays[population])
        st = self.stations[station]
        table = {"node_id": np.arange(len(st.column.population(local)), dtype=np.int64)}
        table.update(st.column.labels(local))
        table.update(st.extra_labels.get(local, {}))
        n = table["node_id"].size
        layer, cell = local.split("_")
        table.update({"station": np.full(n, station), "layer": np.full(n, layer), "cell": np.full(n, cell)})
        return table

    @staticmethod
    def _relay_node_table(relay: Relay) -> dict[str, np.ndarray]:
        # labels copied from the source cell in source_node; layer "relay" (not a cortical layer)
        n = len(relay.group)
        table = {"node_id": np.arange(n, dtype=np.int64)}
        table.update(relay.column.labels(relay.local))
        table.update({
            "source_node": relay.source_node.astype(np.int64),
            "target_station": np.full(n, relay.target_station),
            "station": np.full(n, RELAY_STATION),
            "layer": np.full(n, "relay"),
            "cell": np.full(n, "exc"),
        })
        return table


def feedforward_weight(psp: Quantity, population: PopulationParams, model: str) -> Quantity:
    """Synaptic weight giving a peak PSP ``psp`` at rest in a target population.

    Current model: the PSC amplitude (PD14's PSP → PSC conversion); conductance model: the
    conductance whose current at mid-range (halfway between rest and threshold) has that
    amplitude, as :func:`columns.column.column_derived` does for intra-column weights.
    """
    cell = population.cell
    psc = psp_to_psc(psp, cell.c_m, cell.tau_m, cell.tau_syn_exc)
    if model == "current":
        return psc
    return psc_to_conductance(psc, cell.e_rev_exc, 0.5 * (cell.v_rest + cell.v_threshold))


def station_labels(
    station: StationParams, sizes: dict[str, int], n_channels: int, rng: np.random.Generator
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """Labels of every cell of a station.

    Every cell gets an RF centre uniform in the station's patch. E cells get a channel
    (balanced over ``n_channels``, randomly assigned) and the orientation of that channel
    (``channel * 180 / n_channels`` deg) and a spatial phase (uniform, deg); L4 E cells of
    stations above V1 also get ``n_conjunction - 1`` further distinct channels
    (``channel_b``...). PV cells get channel −1.

    Returns
    -------
    labels : dict
        ``{population: {"rf_x", "rf_y", "orientation", "phase", "channel"}}`` for the column.
    extra : dict
        ``{population: {"rf_sigma_deg", "channel_b", ...}}`` for the node table.
    """
    labels: dict[str, dict[str, np.ndarray]] = {}
    extra: dict[str, dict[str, np.ndarray]] = {}
    half = station.patch_deg / 2
    for pop, n in sizes.items():
        rf_x = rng.uniform(-half, half, n)
        rf_y = rng.uniform(-half, half, n)
        if pop.endswith("_exc"):
            channel = rng.permutation(np.arange(n) % n_channels)
            orientation = channel * 180.0 / n_channels
            phase = rng.uniform(0.0, 360.0, n)
        else:
            channel = np.full(n, -1)
            orientation = np.zeros(n)
            phase = np.zeros(n)
        labels[pop] = {"rf_x": rf_x, "rf_y": rf_y, "orientation": orientation, "phase": phase, "channel": channel}
        extra[pop] = {"rf_sigma_deg": np.full(n, station.rf_sigma_deg)}
        if pop == "l4_exc" and station.n_conjunction > 1:
            others = _other_channels(channel, station.n_conjunction - 1, n_channels, rng)
            for k in range(others.shape[1]):
                extra[pop][f"channel_{'bcdefgh'[k]}"] = others[:, k]
    return labels, extra


def _other_channels(channel: np.ndarray, n_other: int, n_channels: int, rng: np.random.Generator) -> np.ndarray:
    if n_other >= n_channels:
        raise ConfigError(f"n_conjunction must be <= n_channels = {n_channels}")
    keys = rng.random((channel.size, n_channels))
    keys[np.arange(channel.size), channel] = np.inf  # never the cell's own channel again
    return np.argsort(keys, axis=1)[:, :n_other]


def _check_params(params: VentralStreamParams) -> None:
    if params.variant not in VARIANTS:
        raise ConfigError(f"variant {params.variant!r} is not known{suggest(params.variant, VARIANTS)}; valid: {VARIANTS}")
    if params.source not in STREAM_SOURCES:
        raise ConfigError(f"stream source {params.source!r} is not known{suggest(params.source, STREAM_SOURCES)}")
    if params.variant == "transthalamic" and params.source not in TRANSTHALAMIC_SOURCES:
        raise ConfigError(
            f"stream.source {params.source!r} conflicts with variant 'transthalamic', whose stream goes through the "
            f"relay; use one of {TRANSTHALAMIC_SOURCES}"
        )
    _check_relay(params.relay)
    if not params.stations:
        raise ConfigError("the stream needs at least one station")
    if not params.scale > 0:
        raise ConfigError(f"scale must be > 0, got {params.scale}")
    if params.shortcut_scale < 0:
        raise ConfigError(f"shortcut_scale must be >= 0, got {params.shortcut_scale}")
    # a setting for a known station left out of this stream (e.g. the default IT background
    # in a V1-V2 stream) is unused, not an error; an unknown name is a typo
    names = [s.name for s in DEFAULT_STATIONS]
    for name in list(params.background_scale) + list(params.l5_tonic_drive):
        if name not in names:
            raise ConfigError(f"unknown station {name!r} in per-station settings{suggest(name, names)}")


def _check_relay(relay: RelayParams) -> None:
    """Reject relay parameters that cannot build (one line naming the ``relay.*`` field)."""
    if not (np.isfinite(relay.size_ratio) and relay.size_ratio > 0):
        raise ConfigError(f"relay.size_ratio must be > 0, got {relay.size_ratio}")
    if int(relay.driver.indegree) != relay.driver.indegree or relay.driver.indegree < 1:
        raise ConfigError(f"relay.driver.indegree must be an integer >= 1, got {relay.driver.indegree}")
    for name, value, unit in (("driver.psp", relay.driver.psp, mV), ("driver.delay", relay.driver.delay, ms),
                              ("background_rate", relay.background_rate, Hz), ("background_psp", relay.background_psp, mV),
                              ("spontaneous_rate", relay.spontaneous_rate, Hz),
                              *((f"spontaneous_rates[{k!r}]", v, Hz) for k, v in relay.spontaneous_rates.items())):
        if not isinstance(value, Quantity) or value.dim != unit.dim:
            raise ConfigError(f"relay.{name} needs a quantity in {unit!r}, got {value!r}")
        if not (np.isfinite(float(value)) and float(value) >= 0):
            raise ConfigError(f"relay.{name} must be >= 0, got {value}")
    if not float(relay.driver.psp) > 0:
        raise ConfigError(f"relay.driver.psp must be > 0 (excitatory drivers), got {relay.driver.psp}")
    if not (np.isfinite(relay.driver_sigma_factor) and relay.driver_sigma_factor > 0):
        raise ConfigError(f"relay.driver_sigma_factor must be > 0, got {relay.driver_sigma_factor}")
    if int(relay.background_indegree) != relay.background_indegree or relay.background_indegree < 0:
        raise ConfigError(f"relay.background_indegree must be an integer >= 0, got {relay.background_indegree}")


def _shortcut_factor(params: VentralStreamParams) -> float:
    return 0.0 if params.variant in ("hierarchical", "hierarchical_rate_matched") else params.shortcut_scale


def build_ventral_stream(
    params: VentralStreamParams,
    mosaic: LGNMosaic,
    seeds: dict[str, int],
    *,
    charge_sample: int = 20,
    charge_dt: Quantity = 10 * ms,
    gain_timelines: dict[str, tuple[Quantity, np.ndarray]] | None = None,
    hooks: Mapping[str, Collection[str]] | None = None,
) -> VentralStream:
    """Build the stream once, as named Brian2 objects in one explicit ``Network``.

    Parameters
    ----------
    params : VentralStreamParams
    mosaic : LGNMosaic
        The LGN mosaic (its spikes are set later with ``stream.lgn.set_spikes``).
    seeds : dict of str to int
        Per-purpose seeds (:func:`circuits.simulate.derive_seeds`): ``connectivity``
        (labels, wiring, weights, the shuffled map) and ``initial_state``.
    charge_sample : int
        Cells per L4/L5 E population whose pathway charges are monitored (0: none).
    charge_dt : Quantity (second)
        Sampling interval of the charge accumulators (epoch boundaries must be multiples).
    gain_timelines : dict, optional
        ``{population: (dt, values)}``: a piecewise-constant multiplicative gain on the
        population's feedforward current ``I_ff`` (gain noise, top-down gain).
    hooks : mapping of str to collection of str, optional
        Manipulation hooks per station (:data:`columns.cell_models.HOOKS`; a station left
        out gets none). Default: every hook in every station. A station needs ``"tonic"``
        for ``params.l5_tonic_drive``, ``"gain"`` for a gain timeline and ``"silence"`` to
        be silenced; without them the same network runs with less state per step
        (:func:`circuits.run.stream_hooks` picks them from a configuration).

    Returns
    -------
    VentralStream

    Raises
    ------
    ConfigError
        Unknown variant/source/station, or parameters the column rejects.
    """
    _check_params(params)
    # The relays' child comes after the others: spawning one more leaves those unchanged.
    children = np.random.SeedSequence(seeds["connectivity"]).spawn(len(params.stations) + 4)
    label_rngs = [np.random.default_rng(c) for c in children[: len(params.stations)]]
    wiring_rng = np.random.default_rng(children[len(params.stations)])
    shuffle_rng = np.random.default_rng(children[len(params.stations) + 1])
    sample_rng = np.random.default_rng(children[len(params.stations) + 2])
    init_sequence = np.random.SeedSequence(seeds["initial_state"])
    init_children = init_sequence.spawn(len(params.stations))
    column_seeds = np.random.SeedSequence(seeds["connectivity"] + 1).generate_state(len(params.stations))

    # Sized by the largest mosaic any seed can draw (the extra cells stay silent and
    # unconnected): the group's size then does not change the generated standalone code
    # from one seed to the next, which otherwise recompiled most of it per seed.
    n_slots = mosaic_capacity(mosaic.params, mosaic.field_size_deg)
    lgn = SpikeGeneratorGroup(max(n_slots, mosaic.n_cells), np.zeros(0, dtype=int), np.zeros(0) * second, name="lgn")
    stations: dict[str, Station] = {}
    for k, st_params in enumerate(params.stations):
        bg = dataclasses.replace(
            params.column.background,
            scale=params.column.background.scale * params.background_scale.get(st_params.name, 1.0),
        )
        col_params = dataclasses.replace(
            params.column,
            n_scale=st_params.n_scale * params.scale,
            k_scale=None,
            background=bg,
            charge_populations=CHARGE_POPULATIONS if charge_sample > 0 else (),
        )
        sizes = {name: max(1, int(round(pop.full_size * col_params.n_scale))) for name, pop in col_params.populations.items()}
        labels, extra = station_labels(st_params, sizes, params.n_channels, label_rngs[k])
        column = build_column(
            col_params,
            station=st_params.name,
            connectivity_seed=int(column_seeds[k]),
            initial_state_seed=int(init_children[k].generate_state(1)[0]),
            labels=labels,
            hooks=HOOKS if hooks is None else hooks.get(st_params.name, ()),
        )
        tonic = params.l5_tonic_drive.get(st_params.name)
        if tonic is not None:
            column.set_tonic_drive("l5_exc", tonic)
        stations[st_params.name] = Station(st_params, column, extra)

    projections: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    relays: dict[str, Relay] = {}  # by the name of the station whose l5_exc drives it
    if params.stream_source == "relay":
        transitions = list(zip(params.stations[:-1], params.stations[1:]))
        relay_children = children[len(params.stations) + 3].spawn(len(transitions))
        relay_init = init_sequence.spawn(len(transitions))  # after the stations' children
        for k, (lower, higher) in enumerate(transitions):
            relays[lower.name] = _build_relay(params, stations[lower.name], higher.name, relay_children[k], relay_init[k],
                                              projections)
    shortcut = _shortcut_factor(params)
    _connect_thalamus(params, mosaic, lgn, stations[params.stations[0].name], projections, stats, wiring_rng, shuffle_rng, shortcut)
    for lower, higher in zip(params.stations[:-1], params.stations[1:]):
        _connect_stations(params, stations[lower.name], stations[higher.name], projections, wiring_rng, shuffle_rng, shortcut,
                          relays)
    if params.variant == "dense":
        # Every earlier station's stream also reaches L5 directly (DESIGN §2.5), appended after
        # the common wiring so the other variants' draws are unchanged.
        for k, higher in enumerate(params.stations):
            for lower in params.stations[: max(0, k - 1)]:
                _connect_shortcut(params, stations[lower.name], stations[higher.name], projections, wiring_rng,
                                  shuffle_rng, shortcut, relays, tag="dense")

    spike_monitors = {}
    charge_monitors = {}
    samples = {}
    gain_arrays = {}
    extra_objects: list[Any] = []
    for name, station in stations.items():
        for local, group in station.column.populations.items():
            spike_monitors[group.name] = SpikeMonitor(group, record=True, name=f"{group.name}_spikes")
            if charge_sample > 0 and local in CHARGE_POPULATIONS:
                n = min(charge_sample, len(group))
                idx = np.sort(sample_rng.choice(len(group), n, replace=False))
                variables = sorted(station.column.charge_variables(local).values())
                charge_monitors[group.name] = StateMonitor(group, variables, record=idx, dt=charge_dt, name=f"{group.name}_charges")
                samples[group.name] = idx
    for relay in relays.values():
        spike_monitors[relay.group.name] = SpikeMonitor(relay.group, record=True, name=f"{relay.group.name}_spikes")
    for population, (gain_dt, values) in (gain_timelines or {}).items():
        station_name, _, local = population.partition("_")
        if station_name not in stations:
            raise ConfigError(f"gain timeline for unknown population {population!r}")
        group = stations[station_name].column.require_hook(local, "gain")
        table = TimedArray(np.asarray(values, float), dt=gain_dt, name=f"{population}_gain_table")
        gain_arrays[population] = table
        group.namespace[table.name] = table
        extra_objects.append(group.run_regularly(f"gain_ff = {table.name}(t)", dt=gain_dt, when="start", name=f"{population}_gain_update"))

    objects: list[Any] = [lgn]
    for station in stations.values():
        objects.extend(station.column.brian_objects())
    for relay in relays.values():
        objects.extend(relay.column.brian_objects())
    objects.extend(projections.values())
    objects.extend(spike_monitors.values())
    objects.extend(charge_monitors.values())
    objects.extend(extra_objects)
    network = Network(*objects, name="ventral_stream")
    logger.info(
        "stream %s: %d LGN cells, %s neurons, %d projections",
        params.variant,
        mosaic.n_cells,
        {n: sum(len(g) for g in s.column.populations.values()) for n, s in stations.items()},
        len(projections),
    )
    return VentralStream(params, mosaic, lgn, stations, projections, spike_monitors, charge_monitors, samples,
                         gain_arrays, network, stats, {r.group.name: r for r in relays.values()})


def _build_relay(
    params: VentralStreamParams,
    lower: Station,
    target_station: str,
    connectivity: np.random.SeedSequence,
    initial_state: np.random.SeedSequence,
    projections: dict[str, Any],
) -> Relay:
    """The relay ``l5_exc`` (lower) → ``pulvinar_{target}_exc``, with its driver synapses.

    Each relay cell copies the labels of a source cell drawn without replacement (with
    replacement if the relay is larger than the source), so the relay tiles the same RFs and
    channels; its drivers are ``relay.driver.indegree`` source cells of its channel, drawn
    ∝ a Gaussian of the RF distance (s.d. ``driver_sigma_factor`` × the source station's
    ``rf_sigma_deg``). Their mean input at the source's spontaneous rate is balanced by DC,
    as for every feedforward projection (:func:`_connect`).
    """
    rp = params.relay
    source = lower.column.population("l5_exc")
    n_source = len(source)
    n = max(1, int(round(rp.size_ratio * n_source)))
    label_rng = np.random.default_rng(connectivity)
    pick = np.sort(label_rng.choice(n_source, n, replace=n > n_source))
    labels = {key: label_values(source, key)[pick] for key in ("rf_x", "rf_y", "orientation", "phase", "channel")}
    local = f"{target_station}_exc"
    # PD14's L5E cell (the source's own parameters); only the private background differs.
    pop = dataclasses.replace(lower.column.params.populations["l5_exc"], full_size=n, background_indegree=int(rp.background_indegree))
    base = params.column
    col_params = ColumnParams(
        populations={local: pop},
        pathways={},
        n_scale=1.0,
        k_scale=1.0,  # the relay's inputs do not scale with the network: no DC compensation
        background=BackgroundParams(enabled=rp.background_indegree > 0, kind="poisson", rate=rp.background_rate,
                                    psp=rp.background_psp, sampler=base.background.sampler),
        cell_model=base.cell_model,
        ff_current=base.ff_current,
        background_current=base.background_current,
    )
    column = build_column(col_params, station=RELAY_STATION, connectivity_seed=int(connectivity.generate_state(1)[0]),
                          initial_state_seed=int(initial_state.generate_state(1)[0]), labels={local: labels})
    group = column.population(local)
    affinity = feature_pooling_affinity(
        label_values(source, "rf_x"), label_values(source, "rf_y"), label_values(source, "channel"),
        labels["rf_x"], labels["rf_y"], labels["channel"], rp.driver_sigma_factor * lower.params.rf_sigma_deg,
    )
    i, j = sample_fixed_indegree(affinity, int(rp.driver.indegree), label_rng)
    _connect(column, source, local, i, j, rp.driver, 1.0, projections, f"{source.name}_to_{group.name}",
             _reference_rate(params, lower, source))
    logger.info("relay %s: %d cells driven by %s", group.name, n, source.name)
    return Relay(column, source.name, target_station, pick.astype(np.int64))


def _connect(
    column: LaminarColumn,
    source: Any,
    target: str,
    i: np.ndarray,
    j: np.ndarray,
    proj: ProjectionParams,
    factor: float,
    projections: dict[str, Any],
    name: str,
    baseline_rate: Quantity,
    indegree: int | None = None,
    rescale: bool = False,
) -> None:
    """Connect and balance the projection's mean input at the source's baseline rate.

    The feedforward input's mean at the source's reference (spontaneous) rate is removed
    by an equal and opposite DC, per target cell, as PD14 treats its thalamic input as off
    in the spontaneous state: the column keeps its PD14 operating point at rest, and a
    stimulus drives it through the rate changes (and the input's fluctuations) alone.
    With ``rescale``, a target that got ``k_i`` of the nominal ``K`` inputs has its weights
    multiplied by :math:`\sqrt{K / k_i}` (PD14's in-degree scaling rule: the input variance
    is kept; the mean is balanced by the DC anyway).
    """
    pop_params = column.params.populations[target]
    weight = feedforward_weight(proj.psp, pop_params, column.params.cell_model) * factor
    group = column.population(target)
    counts = np.bincount(np.asarray(j, np.int64), minlength=len(group))
    nominal = proj.indegree if indegree is None else indegree
    per_target = np.sqrt(nominal / np.maximum(counts, 1)) if rescale else np.ones(len(group))
    # Targets near the edge of a pool may find fewer eligible sources than the in-degree;
    # zero-weight placeholder synapses keep the number of synapses, and with it the
    # generated standalone sources, identical across seeds (so a new seed recompiles
    # almost nothing). They deliver nothing.
    n_missing = len(group) * nominal - len(i)
    weights = np.concatenate([per_target[np.asarray(j, np.int64)], np.ones(max(0, n_missing))])
    if n_missing > 0:
        weights[len(i):] = 0.0
        i = np.concatenate([i, np.zeros(n_missing, np.int64)])
        j = np.concatenate([j, np.zeros(n_missing, np.int64)])
    syn = column.connect_input(source, target, i, j, weights * weight, proj.delay, name=name)
    projections[name] = syn
    # What a rerun of a compiled standalone binary needs to rescale this projection
    # (circuits.session): its weights and its balancing DC, kept in Python because a
    # standalone device cannot read them back before the first run.
    syn._vc_weights = weights * weight
    syn._vc_shortcut = False  # set by the callers that build a shortcut (weights x stream.shortcut_scale)
    syn._vc_balance = (column, target, np.zeros(len(group)) * amp)
    if column.params.cell_model == "current":
        mean = baseline_rate * weight * pop_params.cell.tau_syn_exc
        column.add_dc(target, -counts * per_target * mean)
        syn._vc_balance = (column, target, -counts * per_target * mean)


def _connect_thalamus(
    params: VentralStreamParams,
    mosaic: LGNMosaic,
    lgn: SpikeGeneratorGroup,
    v1: Station,
    projections: dict[str, Any],
    stats: dict[str, Any],
    rng: np.random.Generator,
    shuffle_rng: np.random.Generator,
    shortcut: float,
) -> None:
    th = params.thalamic
    column = v1.column
    lgn_rate = float(np.mean([mosaic.channel_params(k).nonlinearity.baseline_rate_hz for k in range(mosaic.n_cells)])) * Hz
    # E cells: sign-matched Hubel-Wiesel wiring; PV cells: broad pooling. The shortcut into
    # L5 uses the same two rules as the input to L4 (DESIGN 2.4).
    for target, proj, is_shortcut in (("l4_exc", th.l4_exc, False), ("l5_exc", th.l5_exc, True)):
        group = column.population(target)
        templates = gabor_templates(
            mosaic.x_deg, mosaic.y_deg, label_values(group, "rf_x"), label_values(group, "rf_y"),
            label_values(group, "orientation"), label_values(group, "phase"),
            th.spatial_frequency_cpd, v1.params.rf_sigma_deg,
        )
        i, j = sample_fixed_indegree(hubel_wiesel_affinity(templates, mosaic.sign), proj.indegree, rng)
        stats[f"sign_matching_index_lgn_to_{group.name}"] = sign_matching_index(i, j, templates, mosaic.sign) if i.size else None
        i, j, factor = _skip(params, i, j, len(group), shuffle_rng, shortcut) if is_shortcut else (i, j, 1.0)
        _connect(column, lgn, target, i, j, proj, factor, projections, f"lgn_to_{group.name}", lgn_rate)
        projections[f"lgn_to_{group.name}"]._vc_shortcut = is_shortcut
    for target, proj, is_shortcut in (("l4_pv", th.l4_pv, False), ("l5_pv", th.l5_pv, True)):
        pv = column.population(target)
        affinity = broad_pooling_affinity(mosaic.x_deg, mosaic.y_deg, label_values(pv, "rf_x"), label_values(pv, "rf_y"), th.pv_pool_sigma_deg)
        i, j = sample_fixed_indegree(affinity, proj.indegree, rng)
        i, j, factor = _skip(params, i, j, len(pv), shuffle_rng, shortcut) if is_shortcut else (i, j, 1.0)
        _connect(column, lgn, target, i, j, proj, factor, projections, f"lgn_to_{pv.name}", lgn_rate)
        projections[f"lgn_to_{pv.name}"]._vc_shortcut = is_shortcut


def _skip(
    params: VentralStreamParams, i: np.ndarray, j: np.ndarray, n_targets: int, shuffle_rng: np.random.Generator,
    shortcut: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """A shortcut's connections and weight factor under the topology variant."""
    if params.variant == "shuffled_skip":
        i, j = shuffle_targets(i, j, n_targets, shuffle_rng)
    return i, j, shortcut


def _reference_rate(params: VentralStreamParams, station: Station, source: Any) -> Quantity:
    """Spontaneous rate of a stream source, at which its projections are balanced.

    The measured rate in the stream (:attr:`InterarealParams.source_rates`) when known,
    for a relay then :attr:`RelayParams.spontaneous_rates` or ``spontaneous_rate``, else its
    population's full-scale PD14 rate.
    """
    measured = params.interareal.source_rates.get(source.name)
    if measured is not None:
        return measured
    if source.name.startswith(f"{RELAY_STATION}_"):
        return params.relay.spontaneous_rates.get(source.name, params.relay.spontaneous_rate)
    local = source.name.removeprefix(f"{station.params.name}_")
    return station.column.params.populations[local].full_rate


def _sources(params: VentralStreamParams, station: Station, relays: dict[str, Relay]) -> list[Any]:
    if params.stream_source == "relay":
        # the relay stands in for l5_exc in every rule (same in-degrees, PSPs, radii)
        return [relays[station.params.name].group]
    if params.source == "both":
        return [station.column.population("l5_exc"), station.column.population("l23_exc")]
    return [station.column.population(params.source)]


def _connect_stations(
    params: VentralStreamParams,
    lower: Station,
    higher: Station,
    projections: dict[str, Any],
    rng: np.random.Generator,
    shuffle_rng: np.random.Generator,
    shortcut: float,
    relays: dict[str, Relay],
) -> None:
    ia = params.interareal
    column = higher.column
    sources = _sources(params, lower, relays)
    for source in sources:
        sx, sy, sch = label_values(source, "rf_x"), label_values(source, "rf_y"), label_values(source, "channel")
        share = 1.0 / len(sources)
        l4 = column.population("l4_exc")
        conj = [label_values(l4, "channel")] + [higher.extra_labels["l4_exc"][k] for k in sorted(higher.extra_labels["l4_exc"]) if k.startswith("channel_")]
        affinity = feature_pooling_affinity(sx, sy, sch, label_values(l4, "rf_x"), label_values(l4, "rf_y"), np.stack(conj, axis=1), higher.params.rf_sigma_deg)
        k_in = int(round(ia.l4_exc.indegree * share))
        i, j = sample_fixed_indegree(affinity, k_in, rng, max_fraction=ia.max_connection_fraction)
        rate = _reference_rate(params, lower, source)
        _connect(column, source, "l4_exc", i, j, ia.l4_exc, 1.0, projections, f"{source.name}_to_{l4.name}", rate, k_in,
                 rescale=ia.max_connection_fraction is not None)
        pv = column.population("l4_pv")
        affinity = broad_pooling_affinity(sx, sy, label_values(pv, "rf_x"), label_values(pv, "rf_y"), higher.params.rf_sigma_deg)
        k_in = int(round(ia.l4_pv.indegree * share))
        i, j = sample_fixed_indegree(affinity, k_in, rng, max_fraction=ia.max_connection_fraction)
        _connect(column, source, "l4_pv", i, j, ia.l4_pv, 1.0, projections, f"{source.name}_to_{pv.name}", rate, k_in,
                 rescale=ia.max_connection_fraction is not None)
    _connect_shortcut(params, lower, higher, projections, rng, shuffle_rng, shortcut, relays, tag=None)


def _connect_shortcut(
    params: VentralStreamParams,
    lower: Station,
    higher: Station,
    projections: dict[str, Any],
    rng: np.random.Generator,
    shuffle_rng: np.random.Generator,
    shortcut: float,
    relays: dict[str, Relay],
    tag: str | None,
) -> None:
    ia = params.interareal
    column = higher.column
    sources = _sources(params, lower, relays)
    sigma = ia.shortcut_sigma_factor * higher.params.rf_sigma_deg
    for source in sources:
        sx, sy, sch = label_values(source, "rf_x"), label_values(source, "rf_y"), label_values(source, "channel")
        share = 1.0 / len(sources)
        for target, proj in (("l5_exc", ia.l5_exc), ("l5_pv", ia.l5_pv)):
            group = column.population(target)
            if target == "l5_exc":
                affinity = feature_pooling_affinity(sx, sy, sch, label_values(group, "rf_x"), label_values(group, "rf_y"), label_values(group, "channel"), sigma)
            else:
                affinity = broad_pooling_affinity(sx, sy, label_values(group, "rf_x"), label_values(group, "rf_y"), sigma)
            k_in = int(round(proj.indegree * share))
            i, j = sample_fixed_indegree(affinity, k_in, rng, max_fraction=ia.max_connection_fraction)
            i, j, factor = _skip(params, i, j, len(group), shuffle_rng, shortcut)
            name = f"{source.name}_to_{group.name}" + (f"_{tag}" if tag else "")
            _connect(column, source, target, i, j, proj, factor, projections, name, _reference_rate(params, lower, source), k_in,
                     rescale=ia.max_connection_fraction is not None)
            projections[name]._vc_shortcut = True
