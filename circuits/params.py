"""Parameters of the ventral stream: stations, thalamic and inter-areal projections.

Classes
-------
StationParams
    One cortical station: column size, retinotopic patch, RF size, feature conjunctions.
ProjectionParams
    One projection rule's in-degree, PSP and delay.
ThalamicParams
    LGN → V1: Hubel–Wiesel input to L4, feed-forward inhibition onto L4 PV, the L5 shortcut.
InterarealParams
    Station k → k+1: pooled input to L4 (+ PV), identity-like shortcut into L5.
RelayParams
    The pulvinar-like relay between stations (stream source ``relay``, variant ``transthalamic``).
VentralStreamParams
    The whole stream: stations, projections, variant, stream source, base column.

Default instances: :data:`DEFAULT_STATIONS`, :data:`DEFAULT_THALAMIC`,
:data:`DEFAULT_INTERAREAL`, :data:`DEFAULT_RELAY`, :data:`DEFAULT_STREAM`.

Sizes (DESIGN §2.1): about 8,000 cortical neurons at ``scale`` 1, V1 largest and IT
smallest, each station a PD14-proportioned column (:mod:`columns.pathways`) scaled with
PD14's N/K rule.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from brian2 import Hz, Quantity, mV, ms, pA

from columns.params import ColumnParams
from columns.pathways import DEFAULT_COLUMN
from columns.pd14 import PD14_POPULATIONS

__all__ = [
    "StationParams",
    "ProjectionParams",
    "ThalamicParams",
    "InterarealParams",
    "RelayParams",
    "VentralStreamParams",
    "DEFAULT_STATIONS",
    "DEFAULT_THALAMIC",
    "DEFAULT_INTERAREAL",
    "DEFAULT_RELAY",
    "DEFAULT_STREAM",
    "VARIANTS",
    "STREAM_SOURCES",
    "TRANSTHALAMIC_SOURCES",
    "RELAY_STATION",
]

#: Topology variants (DESIGN §2.5).
VARIANTS = ("residual", "hierarchical", "hierarchical_rate_matched", "shuffled_skip", "dense", "transthalamic")
#: What station k sends to station k+1 (``relay``: its ``l5_exc`` through a pulvinar-like relay).
STREAM_SOURCES = ("l5_exc", "l23_exc", "both", "relay")
#: Stream sources ``transthalamic`` accepts (it always uses the relay; ``l5_exc`` is the default).
TRANSTHALAMIC_SOURCES = ("l5_exc", "relay")
#: Station prefix of the relay populations: ``pulvinar_v2_exc`` feeds V2.
RELAY_STATION = "pulvinar"


@dataclass(frozen=True)
class StationParams:
    """One cortical station.

    Parameters
    ----------
    name : str
        ``v1``, ``v2``, ``v4`` or ``it``.
    n_scale : float
        Column size relative to full-scale PD14 (before the global ``scale``).
    patch_deg : float
        RF centres are uniform in the square ``[-patch/2, patch/2]²`` (deg).
    rf_sigma_deg : float
        V1: Gabor envelope s.d.; higher stations: pooling radius (s.d.) of the
        feedforward input into L4, deg. About doubles per station (Gattass et al. 1981,
        1988; Smith et al. 2001, doi:10.1093/cercor/11.12.1182).
    n_conjunction : int
        Channels each L4 E cell samples from the stream (1 in V1: its own orientation).
    """

    name: str
    n_scale: float
    patch_deg: float
    rf_sigma_deg: float
    n_conjunction: int = 2


@dataclass(frozen=True)
class ProjectionParams:
    """In-degree, PSP and delay of one projection.

    Parameters
    ----------
    indegree : int
        Inputs per target cell (fixed in-degree).
    psp : Quantity (volt)
        Peak PSP of one input at rest (converted to a PSC per target cell type).
    delay : Quantity (second)
        Transmission delay.
    """

    indegree: int
    psp: Quantity
    delay: Quantity


@dataclass(frozen=True)
class ThalamicParams:
    """LGN → V1.

    Parameters
    ----------
    l4_exc, l5_exc, l5_pv : ProjectionParams
        Hubel–Wiesel (sign-matched Gabor) input; into L5 it is the shortcut.
    l4_pv : ProjectionParams
        Broad, sign-blind pooling (feed-forward inhibition).
    pv_pool_sigma_deg : float
        Pooling radius of the LGN → PV projection, deg.
    spatial_frequency_cpd : float
        Carrier frequency of the V1 Gabor templates, cycles/deg.
    """

    l4_exc: ProjectionParams
    l4_pv: ProjectionParams
    l5_exc: ProjectionParams
    l5_pv: ProjectionParams
    pv_pool_sigma_deg: float = 0.4
    spatial_frequency_cpd: float = 2.0


@dataclass(frozen=True)
class InterarealParams:
    """Station k → k+1 (from the stream source of k).

    Parameters
    ----------
    l4_exc : ProjectionParams
        Retinotopic pooling over the target's conjunction channels.
    l4_pv : ProjectionParams
        Broad pooling (feed-forward inhibition).
    l5_exc, l5_pv : ProjectionParams
        Identity-like shortcut: same channel, nearby RF.
    shortcut_sigma_factor : float
        Radius of the identity map as a fraction of the target station's ``rf_sigma_deg``.
    max_connection_fraction : float or None
        Cap of each target's in-degree as a fraction of its effective source pool
        (:func:`circuits.interareal.sample_fixed_indegree`), weights of a capped target
        scaled by :math:`\sqrt{K / k_i}`; ``None``: no cap.
    source_rates : dict of str to Quantity (hertz)
        Spontaneous rate of a stream source population (e.g. ``"v1_l5_exc"``) at which its
        projections' mean is balanced by DC; a source not listed uses its PD14 full-scale
        rate.
    """

    l4_exc: ProjectionParams
    l4_pv: ProjectionParams
    l5_exc: ProjectionParams
    l5_pv: ProjectionParams
    shortcut_sigma_factor: float = 0.5
    max_connection_fraction: float | None = None
    source_rates: dict[str, Quantity] = field(default_factory=dict)


DEFAULT_STATIONS = (
    # n_scale: V1 3,000 > V2 2,300 > V4 1,600 > IT 1,100 neurons (about 8,000 in total).
    StationParams("v1", n_scale=0.050, patch_deg=1.0, rf_sigma_deg=0.35, n_conjunction=1),
    StationParams("v2", n_scale=0.038, patch_deg=1.0, rf_sigma_deg=0.5),
    StationParams("v4", n_scale=0.027, patch_deg=1.0, rf_sigma_deg=1.0),
    StationParams("it", n_scale=0.018, patch_deg=1.0, rf_sigma_deg=2.0),
)

# Thalamocortical latency about 2-3 ms (Ferster & Lindström 1983, J Physiol 342:181,
# doi:10.1113/jphysiol.1983.sp014846). In-degrees: a V1 simple cell receives from about
# 1/3 of the overlapping, sign-matched LGN cells, a few tens (Alonso et al. 2001,
# doi:10.1523/JNEUROSCI.21-11-04002.2001). PV cells get stronger, less selective
# thalamic input (Cruikshank et al. 2007, doi:10.1038/nn1861; Ji et al. 2016,
# doi:10.1093/cercor/bhv201). PSPs are calibrated by `ventral-columns experiment calibrate`.
#
# The shortcut into L5 (G3, calibrated at scale 1, seed 1, V1 alone, 16 grating epochs per
# condition; docs/circuits.md "Calibration"): L5's evoked response must survive silencing
# L4 (≥ 80 %, Constantinople & Bruno 2013, doi:10.1126/science.1236425), so its evoked
# drive (∝ K·w) must dominate L4's, while its spontaneous fluctuations (∝ K·w²) raise L5's
# rate above PV's (G1). Many small inputs do both: 20 × 1 mV kept 0.52 of the response;
# 20 × 3 mV kept 0.84 but fired L5 at 19 spikes/s (PV 11); 120 × 1 mV onto E with
# 100 × 1 mV onto PV (feed-forward inhibition) keeps 0.81 with L5 E 11.5 < PV 12.3 spikes/s
# and L5's latency equal to L4's.
DEFAULT_THALAMIC = ThalamicParams(
    l4_exc=ProjectionParams(indegree=20, psp=2.0 * mV, delay=2.0 * ms),
    l4_pv=ProjectionParams(indegree=40, psp=1.0 * mV, delay=2.0 * ms),
    l5_exc=ProjectionParams(indegree=120, psp=1.0 * mV, delay=2.0 * ms),
    l5_pv=ProjectionParams(indegree=100, psp=1.0 * mV, delay=2.0 * ms),
)

# Inter-areal feedforward latency increments of about 10 ms per stage are mostly
# integration; the conduction delay itself is a few ms (Nowak & Bullier 1997).
#
# G1 (calibrated at scale 1, seed 1, 20 s of spontaneous activity): the stream's source
# pools are small (IT's L5 cells sample ~16 V4 L5 cells of their channel), so fixed
# in-degrees of 20-30 gave every target nearly the same inputs and synchrony grew along
# the stream (Golomb chi 0.08 in V1 L4 -> 0.43 in IT L4). Capping each in-degree at a
# quarter of the source pool (weights x sqrt(K/k), PD14's rule) brings chi to <= 0.23 in
# every station. The projections are balanced at their sources' measured spontaneous rates
# (PD14's reference rates left V1's 11.6 spikes/s L5 as a net excitatory drive that
# cascaded along the stream). V4's L5 was measured at 4.5 spikes/s before its background was
# raised (STREAM_BACKGROUND_SCALE); it now fires ~6.2, a net drive into IT that is part of
# the calibrated state (G1 measured with it).
DEFAULT_INTERAREAL = InterarealParams(
    l4_exc=ProjectionParams(indegree=30, psp=1.0 * mV, delay=3.0 * ms),
    l4_pv=ProjectionParams(indegree=40, psp=1.0 * mV, delay=3.0 * ms),
    l5_exc=ProjectionParams(indegree=20, psp=1.0 * mV, delay=3.0 * ms),
    l5_pv=ProjectionParams(indegree=20, psp=1.0 * mV, delay=3.0 * ms),
    max_connection_fraction=0.25,
    source_rates={"v1_l5_exc": 11.6 * Hz, "v2_l5_exc": 6.2 * Hz, "v4_l5_exc": 4.5 * Hz},
)


@dataclass(frozen=True)
class RelayParams:
    """The pulvinar-like relay between station k and k+1 (DESIGN §2.4, §2.5).

    One relay per transition, named ``pulvinar_{k+1}_exc``: LIF cells with the cell
    parameters of the source ``l5_exc`` population (PD14's L5E), each driven by a few
    strong "driver" synapses from ``l5_exc`` cells of station k of its own channel and
    nearby RF (Sherman & Guillery 2002, doi:10.1098/rstb.2002.1161), plus private Poisson
    background. The relay then stands in for ``l5_exc`` in every projection into k+1.

    Parameters
    ----------
    size_ratio : float
        Relay cells per source ``l5_exc`` cell (> 0).
    driver : ProjectionParams
        ``l5_exc`` (k) → relay: in-degree, PSP and delay of the driver synapses; their mean
        input at the source's spontaneous rate is balanced by DC.
    driver_sigma_factor : float
        Radius (Gaussian s.d.) of the driver pooling around the relay cell's RF centre, as a
        fraction of the source station's ``rf_sigma_deg`` (> 0).
    background_indegree : int
        Private Poisson inputs per relay cell (>= 0), not scaled with ``scale``.
    background_rate : Quantity (hertz)
        Rate of each background input.
    background_psp : Quantity (volt)
        PSP of one background input.
    spontaneous_rate : Quantity (hertz)
        Spontaneous rate of a relay at which its projections into k+1 are balanced, when
        neither :attr:`InterarealParams.source_rates` nor ``spontaneous_rates`` lists it.
    spontaneous_rates : dict of str to Quantity (hertz)
        The same per relay population (``"pulvinar_v2_exc"``).
    """

    size_ratio: float = 1.0
    driver: ProjectionParams = field(default_factory=lambda: ProjectionParams(indegree=4, psp=3.0 * mV, delay=2.0 * ms))
    driver_sigma_factor: float = 0.5
    background_indegree: int = 800
    background_rate: Quantity = field(default_factory=lambda: 8.0 * Hz)
    background_psp: Quantity = field(default_factory=lambda: 0.15 * mV)
    spontaneous_rate: Quantity = field(default_factory=lambda: 7.4 * Hz)
    spontaneous_rates: dict[str, Quantity] = field(default_factory=dict)


# Relay (design choices, stated; measured with PD14's L5E cell, 200 relay cells whose 4
# drivers were independent Poisson trains, 2 s after 0.3 s, numpy target, 2026-11-23):
# - size_ratio 1: "about as many relay cells as source cells" (issue #5); a pulvinar
#   neuron count per cortical area is not part of the model.
# - 4 drivers x 3 mV: few and strong (Sherman & Guillery 2002: a relay cell gets a handful
#   of driver inputs with large EPSPs, unlike the many small cortico-cortical ones, PD14's
#   0.15 mV). Fewer/stronger drivers make the relay a faithful copy of few L5 cells.
# - driver delay 2 ms: the thalamocortical latency of DEFAULT_THALAMIC (Ferster & Lindström
#   1983) reused for the corticothalamic leg, a design choice (no L5 → pulvinar latency is
#   calibrated here). The relay → k+1 delay is the inter-areal 3 ms (InterarealParams), so
#   the relayed route is 2 ms + the relay's integration slower than the direct one.
# - driver_sigma_factor 0.5: drivers from within half the source station's RF s.d.
#   (topographic, like the identity-like shortcut's shortcut_sigma_factor 0.5).
# - background: PD14's external input (8 Hz, 0.15 mV; PD14 Table 5) with 800 inputs, chosen
#   so the relay fires spontaneously at a few spikes/s: measured 7.4 spikes/s with drivers
#   at V1 L5's 11.6 spikes/s, 4.5 at V2's 6.2 and 3.5 at V4's 4.5 (600 inputs: 1.3;
#   1,000: 21.5; 1,200: 40). Drivers at 30 spikes/s (evoked) raise it to 13.6 spikes/s.
# - spontaneous_rates: those measured rates, at which relay → k+1 is balanced (the isolated
#   relay). Inside the stream (transthalamic, scale 1, seed 1, 20 s blank, 2026-11-23) the
#   relays fire 7.8, 5.0 and 4.2 spikes/s: the balance is within 0.7 spikes/s.
DEFAULT_RELAY = RelayParams(
    spontaneous_rates={"pulvinar_v2_exc": 7.4 * Hz, "pulvinar_v4_exc": 4.5 * Hz, "pulvinar_it_exc": 3.5 * Hz},
)


@dataclass(frozen=True)
class VentralStreamParams:
    """The whole stream.

    Parameters
    ----------
    stations : tuple of StationParams
        In stream order.
    column : ColumnParams
        Base column (its ``n_scale`` is replaced per station).
    thalamic : ThalamicParams
    interareal : InterarealParams
    variant : str
        One of :data:`VARIANTS`.
    source : str
        Stream source population of each station (:data:`STREAM_SOURCES`). ``transthalamic``
        always uses the relay: it accepts ``l5_exc`` (the default) or ``relay`` and rejects
        ``l23_exc``/``both`` (:attr:`stream_source`).
    relay : RelayParams
        The pulvinar-like relay (used when :attr:`stream_source` is ``relay``).
    n_channels : int
        Orientation channels (V1 preferred orientations ``k * 180 / n_channels``).
    scale : float
        Multiplies every station's ``n_scale``.
    shortcut_scale : float
        Multiplies every shortcut PSP (``residual`` default 1; ``hierarchical`` uses 0).
    background_scale : dict of str to float
        Per-station multiplier of the Poisson background rate (default 1).
    l5_tonic_drive : dict of str to Quantity (amp)
        Extra tonic current into ``l5_exc`` per station (``hierarchical_rate_matched``).
    """

    stations: tuple[StationParams, ...] = DEFAULT_STATIONS
    column: ColumnParams = DEFAULT_COLUMN  # DEFAULT_STREAM uses STREAM_COLUMN
    thalamic: ThalamicParams = DEFAULT_THALAMIC
    interareal: InterarealParams = DEFAULT_INTERAREAL
    relay: RelayParams = DEFAULT_RELAY
    variant: str = "residual"
    source: str = "l5_exc"
    n_channels: int = 8
    scale: float = 1.0
    shortcut_scale: float = 1.0
    background_scale: dict[str, float] = field(default_factory=dict)
    l5_tonic_drive: dict[str, Quantity] = field(default_factory=dict)

    @property
    def stream_source(self) -> str:
        """The source actually wired: ``relay`` for ``transthalamic``, else :attr:`source`."""
        return "relay" if self.variant == "transthalamic" else self.source

    def station(self, name: str) -> StationParams:
        """The parameters of one station by name."""
        for st in self.stations:
            if st.name == name:
                return st
        from analysis.errors import ConfigError, suggest

        names = [s.name for s in self.stations]
        raise ConfigError(f"unknown station {name!r}{suggest(name, names)}; stations: {names}")

    def replace(self, **changes) -> VentralStreamParams:
        """``dataclasses.replace`` (variants are parameter changes, never new code)."""
        return dataclasses.replace(self, **changes)


#: The stream's column: PD14's populations and cells restricted to L2/3-L5. PD14's balance
#: was tuned with identical E and I cells; the faster PV parameters of
#: ``columns.params.DEFAULT_PV_CELL`` (tau_m 5 ms) raised spontaneous E rates 3-8x in V1
#: at n_scale 0.05 (L5E 41 Hz instead of 5 Hz; measured with ``scripts/calibrate_stream.py``),
#: so the stream keeps PD14's cells and gets PV-likeness from the stronger thalamic drive.
STREAM_COLUMN = dataclasses.replace(DEFAULT_COLUMN, populations={k: PD14_POPULATIONS[k] for k in DEFAULT_COLUMN.populations})

#: Background of the higher stations (calibrated 2026-11-23, scale 1, seed 1, 60 s
#: spontaneous; docs/stream.md "Calibration"): with their feedforward input balanced, V4 and
#: IT sat far below PD14's operating point (IT L2/3 0.09, L5 3.1 spikes/s against PD14's
#: 0.9 and 7.6) and IT L2/3 was too sparse for an ISI CV above 0.8. Their rates rise
#: steeply with the background (IT x1.1: L2/3 1.6, L5 11.1 spikes/s, L5 CV 0.79); x1.02 (V4)
#: and x1.04 (IT) give IT L2/3 0.56 (CV 0.89), L5 6.5 (CV 0.84), V4 L5 6.0 spikes/s.
#: Upstream stations are untouched (V1 and V2 spikes bit-identical: the stream has no
#: feedback and the draws do not depend on the rates).
STREAM_BACKGROUND_SCALE = {"v4": 1.02, "it": 1.04}

DEFAULT_STREAM = VentralStreamParams(column=STREAM_COLUMN, background_scale=dict(STREAM_BACKGROUND_SCALE))

#: No extra tonic drive.
ZERO_CURRENT = 0.0 * pA
