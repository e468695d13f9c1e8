"""Parameters of the retina/LGN front end: frozen dataclasses of plain floats in SI units.

Units: angles and distances in degrees of visual angle (deg), times in seconds (s), rates
in spikes per second (Hz), densities in cells per square degree (1/deg²). Derived values
are pure functions in :mod:`stimuli.retina`; variants are made with
:func:`dataclasses.replace`.

Classes
-------
SpatialParams
    Difference-of-Gaussians (DoG) receptive field: centre and surround sigma, surround weight.
TemporalParams
    Biphasic temporal kernel: peak time, rebound (trough) time, rebound area ratio.
NonlinearityParams
    Rectifying output nonlinearity: baseline rate, gain, ceiling; plus the reference
    ranges of maintained and driven rates the model is calibrated to.
ChannelParams
    One LGN channel (e.g. parvo- or magnocellular): mosaic density and the three above.
SpikeParams
    Spike generation: absolute refractory period.
LGNParams
    The whole front end: channels, mosaic jitter, spike generation.

Instances
---------
PARVO, MAGNO
    Macaque parafoveal (about 5° eccentricity) parvo- and magnocellular channels.
MACAQUE_PARAFOVEAL
    Default: the parvo channel only (the dense, small-RF mosaic that drives V1 layer 4Cβ).
MACAQUE_PARAFOVEAL_MAGNO_PARVO
    Both channels, differing in latency, RF size and contrast gain.
MOUSE
    A mouse dLGN-like alternative (large RFs, slow kernels, low spatial frequency).
DEFAULT_LGN
    Alias of :data:`MACAQUE_PARAFOVEAL`.

References
----------
Croner L.J., Kaplan E. (1995) Receptive fields of P and M ganglion cells across the
primate retina. Vision Res 35(1):7-24. doi:10.1016/0042-6989(94)E0066-T
Benardete E.A., Kaplan E. (1997) The receptive field of the primate P retinal ganglion
cell, I: Linear dynamics. Vis Neurosci 14:169-185.
Benardete E.A., Kaplan E. (1999) The dynamics of primate M retinal ganglion cells. Vis
Neurosci 16:355-368.
Lee B.B., Kremers J., Yeh T. (1998) Receptive fields of primate retinal ganglion cells
studied with a novel technique. Vis Neurosci 15(1):161-175.
Durand S. et al. (2016) A comparison of visual response properties in the lateral
geniculate nucleus and primary visual cortex of awake and anesthetized mice. J Neurosci
36(48):12144-12156.
Grubb M.S., Thompson I.D. (2003) Quantitative characterization of visual response
properties in the mouse dorsal lateral geniculate nucleus. J Neurophysiol 90:3594-3607.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "SpatialParams",
    "TemporalParams",
    "NonlinearityParams",
    "ChannelParams",
    "SpikeParams",
    "LGNParams",
    "PARVO",
    "MAGNO",
    "MACAQUE_PARAFOVEAL",
    "MACAQUE_PARAFOVEAL_MAGNO_PARVO",
    "MOUSE",
    "DEFAULT_LGN",
]

# Croner & Kaplan (1995) fit Gaussians of the form exp(-(r/r_c)^2), i.e. with a "radius"
# r = sqrt(2)·sigma; we store sigmas, so their radii are divided by sqrt(2).
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class SpatialParams:
    """Difference-of-Gaussians receptive field (centre minus surround).

    Parameters
    ----------
    sigma_center_deg : float
        Standard deviation of the centre Gaussian, deg.
    sigma_surround_deg : float
        Standard deviation of the surround Gaussian, deg (> centre).
    surround_weight : float
        Integrated surround / integrated centre sensitivity (Croner & Kaplan's
        ``K_s r_s² / K_c r_c²``); 0 = no surround, 1 = balanced (no DC response).
    """

    sigma_center_deg: float
    sigma_surround_deg: float
    surround_weight: float


@dataclass(frozen=True)
class TemporalParams:
    """Biphasic temporal kernel, a difference of two gamma functions.

    Parameters
    ----------
    peak_time_s : float
        Time of the positive peak of the impulse response, s (exact by construction).
    rebound_time_s : float
        Time of the negative trough, s (exact by construction; > peak time).
    rebound_ratio : float
        Area of the negative lobe / area of the positive lobe, in [0, 1); the DC gain of
        the kernel is ``1 - rebound_ratio`` (0 = sustained/monophasic, near 1 = transient).
    order : int
        Order n of the gamma lobes ``t^n exp(-t/tau)``; higher = sharper onset. The trough
        can be placed no earlier than about 2.1x (n = 8) to 2.5x (n = 5) the peak time.
    """

    peak_time_s: float
    rebound_time_s: float
    rebound_ratio: float
    order: int = 8


@dataclass(frozen=True)
class NonlinearityParams:
    """Rectifying output nonlinearity ``rate = clip(baseline + gain * drive, 0, max_rate)``.

    Parameters
    ----------
    baseline_rate_hz : float
        Maintained rate at zero drive (mean-grey screen), Hz.
    gain_hz : float
        Rate per unit of linear drive, Hz. The drive is in contrast units: a full-field
        step of contrast c gives a sustained drive ``c (1 - w_s)(1 - rebound_ratio)``.
    max_rate_hz : float
        Ceiling of the rate, Hz (``inf`` for none).
    baseline_range_hz : tuple of float
        Reference range of maintained rates the baseline must fall in (literature), Hz.
    driven_range_hz : tuple of float
        Reference range of the mean rate (F0, averaged over cells and time) under an
        optimal full-contrast drifting grating, Hz; checked by the tests.
    """

    baseline_rate_hz: float
    gain_hz: float
    max_rate_hz: float = math.inf
    baseline_range_hz: tuple[float, float] = (0.0, math.inf)
    driven_range_hz: tuple[float, float] = (0.0, math.inf)


@dataclass(frozen=True)
class ChannelParams:
    """One LGN channel: its mosaic density and its linear–nonlinear model.

    Parameters
    ----------
    name : str
        Channel label stored in the node table (e.g. ``"parvo"``).
    density_per_deg2 : float
        Density of *each* of the ON and OFF mosaics, cells/deg².
    spatial : SpatialParams
    temporal : TemporalParams
    nonlinearity : NonlinearityParams
    """

    name: str
    density_per_deg2: float
    spatial: SpatialParams
    temporal: TemporalParams
    nonlinearity: NonlinearityParams


@dataclass(frozen=True)
class SpikeParams:
    """Spike generation.

    Parameters
    ----------
    refractory_s : float
        Absolute refractory period, s (0 = plain inhomogeneous Poisson). When a simulation
        step ``dt`` is given, at least ``dt`` is used so that a cell never fires twice in
        one step.
    """

    refractory_s: float = 0.0


@dataclass(frozen=True)
class LGNParams:
    """The whole retina/LGN front end.

    Parameters
    ----------
    channels : tuple of ChannelParams
        One or more channels; each has its own ON and OFF mosaic.
    jitter : float
        Positional jitter of the mosaic, as a fraction of the grid spacing (uniform in
        ``±jitter/2`` spacing along each axis); 0 = perfect square lattice.
    spikes : SpikeParams
    name : str
        Label of the parameter set (stored with the output).
    """

    channels: tuple[ChannelParams, ...]
    jitter: float = 0.5
    spikes: SpikeParams = field(default_factory=SpikeParams)
    name: str = "custom"

    def channel(self, name: str) -> ChannelParams:
        """The channel called ``name`` (raises ``ConfigError`` with a suggestion)."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        from analysis.errors import ConfigError, suggest

        names = [c.name for c in self.channels]
        raise ConfigError(f"channel {name!r} is not one of {names}{suggest(name, names)}")


# --- macaque, parafovea (about 5 deg eccentricity) ----------------------------------------

PARVO = ChannelParams(
    name="parvo",
    # Coverage factor ~1 per ON or OFF mosaic (one centre "radius" disc per cell):
    # density = 1 / (pi r_c^2) with r_c = 0.05 deg -> 127/deg^2. Coverage ~1 for midget
    # mosaics: Dacey (1993) J Neurosci 13:5334 (dendritic-field tiling).
    density_per_deg2=1.0 / (math.pi * 0.05**2),
    spatial=SpatialParams(
        # Croner & Kaplan 1995 Table 1, P cells at 5-10 deg: centre radius r_c ~0.05 deg
        # (approx.); consistent with Lee et al. 1998 (Gaussian radii 2-4 arcmin).
        sigma_center_deg=0.05 / _SQRT2,
        # Croner & Kaplan 1995 Table 1, P cells at 5-10 deg: surround radius r_s ~0.43 deg (approx.).
        sigma_surround_deg=0.43 / _SQRT2,
        # Croner & Kaplan 1995 abstract: mean surround/centre integrated gain 0.55 (M and P).
        surround_weight=0.55,
    ),
    temporal=TemporalParams(
        # Approx. impulse-response peak and trough of the linear model fitted to P cells by
        # Benardete & Kaplan 1997 (peak ~35-40 ms, trough ~70-90 ms, moderately transient).
        peak_time_s=0.040,
        rebound_time_s=0.090,
        rebound_ratio=0.6,
        # Benardete & Kaplan's model is a cascade of many low-pass stages (a sharp onset);
        # order 8 also lets the trough sit at ~2.1x the peak time or later.
        order=8,
    ),
    nonlinearity=NonlinearityParams(
        # Maintained discharge of macaque P cells at mean luminance ~10-30 Hz (Kaplan,
        # Purpura & Shapley 1987, J Physiol 391:267; Benardete & Kaplan 1997).
        baseline_rate_hz=15.0,
        # Calibrated (scripts/bench: optimal full-contrast 4 Hz grating) to a mean (F0) of
        # ~26 Hz and a peak of ~69 Hz: the low contrast gain of P cells (Kaplan & Shapley
        # 1986 PNAS 83:2755; Croner & Kaplan 1995: M gain ~6x P per unit centre area).
        gain_hz=80.0,
        max_rate_hz=300.0,
        baseline_range_hz=(5.0, 30.0),
        driven_range_hz=(20.0, 60.0),
    ),
)

MAGNO = ChannelParams(
    name="magno",
    # M cells are ~8-10x sparser than P cells with centre radii ~2x larger (Croner &
    # Kaplan 1995 abstract); coverage ~1: 1 / (pi * 0.10^2) -> 32/deg^2.
    density_per_deg2=1.0 / (math.pi * 0.10**2),
    spatial=SpatialParams(
        # Croner & Kaplan 1995: M centre radii about twice those of neighbouring P cells.
        sigma_center_deg=0.10 / _SQRT2,
        # Croner & Kaplan 1995 Table 1, M cells at 0-10 deg: surround radius ~0.72 deg (approx.).
        sigma_surround_deg=0.72 / _SQRT2,
        # Croner & Kaplan 1995 abstract: mean surround/centre gain 0.55 for M and P.
        surround_weight=0.55,
    ),
    temporal=TemporalParams(
        # Approx. from the M-cell linear model of Benardete & Kaplan 1999: shorter latency
        # (peak ~25-30 ms) and more transient (larger high-pass weight) than P cells.
        peak_time_s=0.028,
        rebound_time_s=0.065,
        rebound_ratio=0.8,
        order=8,
    ),
    nonlinearity=NonlinearityParams(
        # Maintained rates of M cells ~10-30 Hz (Kaplan et al. 1987; Benardete & Kaplan 1999).
        baseline_rate_hz=20.0,
        # Croner & Kaplan 1995 report an M contrast gain ~6x that of P cells; we use only
        # 2x the P gain so that the optimal full-contrast 4 Hz grating stays in the
        # measured range (F0 ~40 Hz, peak ~113 Hz): without contrast gain control a
        # linear-rectified model cannot match both low- and high-contrast M responses.
        gain_hz=160.0,
        max_rate_hz=400.0,
        baseline_range_hz=(5.0, 40.0),
        driven_range_hz=(30.0, 150.0),
    ),
)

MACAQUE_PARAFOVEAL = LGNParams(channels=(PARVO,), jitter=0.5, name="macaque_parafoveal")
MACAQUE_PARAFOVEAL_MAGNO_PARVO = LGNParams(
    channels=(PARVO, MAGNO), jitter=0.5, name="macaque_parafoveal_magno_parvo"
)

# --- mouse dLGN ---------------------------------------------------------------------------

_MOUSE_CHANNEL = ChannelParams(
    name="mouse_dlgn",
    # Coverage ~1 with centre radius ~5 deg: 1 / (pi 5^2) -> 0.0127/deg^2 per sign.
    density_per_deg2=1.0 / (math.pi * 5.0**2),
    spatial=SpatialParams(
        # Grubb & Thompson 2003: median dLGN centre radius ~5 deg (approx.); Durand et al.
        # 2016 report similar centre sizes in awake mice.
        sigma_center_deg=5.0 / _SQRT2,
        # Surround ~3x the centre with a weaker weight: mouse dLGN cells prefer ~0.03-0.04
        # cycles/deg with modest low-frequency attenuation (Grubb & Thompson 2003; Durand
        # et al. 2016, preferred SF ~0.03 cpd).
        sigma_surround_deg=15.0 / _SQRT2,
        surround_weight=0.5,
    ),
    temporal=TemporalParams(
        # Approx.: mouse dLGN responses are slower than primate (STA peak ~50-60 ms,
        # preferred TF ~2-4 Hz; Durand et al. 2016, Piscopo et al. 2013).
        peak_time_s=0.055,
        rebound_time_s=0.125,
        rebound_ratio=0.6,
        order=8,
    ),
    nonlinearity=NonlinearityParams(
        # Durand et al. 2016: spontaneous rates of awake mouse dLGN ~5-15 Hz (approx.).
        baseline_rate_hz=8.0,
        # Calibrated: optimal full-contrast 2-4 Hz grating -> F0 ~14 Hz, peak ~39 Hz, the
        # range of visually driven mouse dLGN rates (Durand et al. 2016, approx.).
        gain_hz=50.0,
        max_rate_hz=200.0,
        baseline_range_hz=(2.0, 20.0),
        driven_range_hz=(10.0, 50.0),
    ),
)

MOUSE = LGNParams(channels=(_MOUSE_CHANNEL,), jitter=0.5, name="mouse")

DEFAULT_LGN = MACAQUE_PARAFOVEAL
