"""Stimulus movies in contrast units: gratings, bars, edges, noise, flashes, natural-like images.

Every stimulus is a frozen dataclass of plain floats (deg, s, Hz, cycles/deg) that renders
any frame on demand, so a movie never has to sit in memory as one array; random
stimuli derive one generator per noise frame from ``(seed, frame)`` and therefore render
the same frames whatever the block size.

Conventions
-----------
* Frames have shape ``(n_frames, n_pixels, n_pixels)``, float64, values in [-1, 1]
  (Michelson contrast relative to the mean grey; 0 = mean luminance).
* Row ``i`` lies at ``y = F/2 - (i + 1/2) p`` and column ``j`` at ``x = -F/2 + (j + 1/2) p``
  (F = field size, p = degrees per pixel): rows run downwards, the field is centred at
  (0, 0) and +y is up.
* ``orientation_deg`` is the orientation of the bars / edge contour, counter-clockwise
  from horizontal (0 = horizontal bars). The contour normal is
  ``n = (-sin θ, cos θ)``: gratings drift along +n for a positive temporal frequency,
  moving bars travel along +n, and an edge of polarity +1 is bright on its +n side.

Classes
-------
StimulusGrid
    The pixel grid: field size and degrees per pixel.
Stimulus
    Base class. Subclasses (``kind`` in brackets): :class:`Grating` (``grating``),
    :class:`CenterSurroundGrating` (``center_surround``), :class:`FlashedBar` (``flashed_bar``), :class:`MovingBar` (``moving_bar``),
    :class:`Edge` (``edge``), :class:`SparseNoise` (``sparse_noise``),
    :class:`BinaryNoise` (``binary_noise``), :class:`GaussianNoise` (``gaussian_noise``),
    :class:`FullFieldFlash` (``full_field_flash``), :class:`Blank` (``blank``),
    :class:`NaturalImage` (``natural_image``).
StimulusMovie
    One stimulus on a grid, for a duration, at a frame rate, with a stimulus id.

Functions
---------
make_stimulus
    Build a stimulus from its ``kind`` and parameters (unknown names get a suggestion).
check_frame_duration
    Check that the frame duration is a whole multiple of the simulation step.

References
----------
Field D.J. (1987) Relations between the statistics of natural images and the response
properties of cortical cells. J Opt Soc Am A 4:2379-2394. doi:10.1364/JOSAA.4.002379
(1/f amplitude spectrum of natural images).
Jones J.P., Palmer L.A. (1987) The two-dimensional spatial structure of simple receptive
fields in cat striate cortex. J Neurophysiol 58:1187-1211 (sparse-noise mapping).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.errors import ConfigError, suggest

__all__ = [
    "StimulusGrid",
    "Stimulus",
    "Grating",
    "FlashedBar",
    "MovingBar",
    "Edge",
    "SparseNoise",
    "BinaryNoise",
    "GaussianNoise",
    "FullFieldFlash",
    "Blank",
    "NaturalImage",
    "STIMULUS_TYPES",
    "make_stimulus",
    "StimulusMovie",
    "check_frame_duration",
    "frame_count",
]

logger = logging.getLogger(__name__)

#: Relative tolerance when checking that one duration is a whole multiple of another.
_MULTIPLE_RTOL = 1e-6


def frame_count(duration_s: float, frame_duration_s: float, name: str = "duration_s") -> int:
    """Number of frames in ``duration_s``; it must be a whole multiple of the frame duration.

    Raises
    ------
    ConfigError
        If the duration is negative, not finite, or not a whole number of frames.

    Examples
    --------
    >>> frame_count(0.5, 0.01)
    50
    """
    if not (np.isfinite(duration_s) and duration_s >= 0):
        raise ConfigError(f"{name} must be a finite duration >= 0 s, got {duration_s}")
    n = duration_s / frame_duration_s
    k = int(round(n))
    if abs(n - k) > _MULTIPLE_RTOL * max(1.0, n):
        raise ConfigError(
            f"{name} = {duration_s} s is not a whole number of frames of {frame_duration_s} s"
        )
    return k


def check_frame_duration(frame_duration_s: float, dt_s: float) -> int:
    """Check that a frame lasts a whole number of simulation steps.

    Parameters
    ----------
    frame_duration_s : float
        Frame duration, s.
    dt_s : float
        Simulation time step, s.

    Returns
    -------
    int
        Steps per frame.

    Raises
    ------
    ConfigError
        If either value is not positive or the ratio is not a whole number.

    Examples
    --------
    >>> check_frame_duration(0.01, 0.0001)
    100
    """
    if not (np.isfinite(frame_duration_s) and frame_duration_s > 0):
        raise ConfigError(f"frame_duration must be > 0 s, got {frame_duration_s}")
    if not (np.isfinite(dt_s) and dt_s > 0):
        raise ConfigError(f"dt must be > 0 s, got {dt_s}")
    n = frame_duration_s / dt_s
    k = int(round(n))
    if k < 1 or abs(n - k) > _MULTIPLE_RTOL * max(1.0, n):
        raise ConfigError(
            f"frame_duration = {frame_duration_s} s must be a whole multiple of the simulation "
            f"step dt = {dt_s} s (got {n:.6g} steps)"
        )
    return k


@dataclass(frozen=True)
class StimulusGrid:
    """Square pixel grid centred at (0, 0).

    Parameters
    ----------
    field_size_deg : float
        Side of the square field, deg.
    deg_per_pixel : float
        Pixel size, deg; the field must hold a whole number of pixels.
    """

    field_size_deg: float
    deg_per_pixel: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.field_size_deg) and self.field_size_deg > 0):
            raise ConfigError(f"field_size_deg must be > 0 deg, got {self.field_size_deg}")
        if not (np.isfinite(self.deg_per_pixel) and self.deg_per_pixel > 0):
            raise ConfigError(f"deg_per_pixel must be > 0 deg, got {self.deg_per_pixel}")
        n = self.field_size_deg / self.deg_per_pixel
        if abs(n - round(n)) > _MULTIPLE_RTOL * max(1.0, n) or round(n) < 1:
            raise ConfigError(
                f"field_size_deg = {self.field_size_deg} must be a whole number of pixels of "
                f"deg_per_pixel = {self.deg_per_pixel} (got {n:.6g})"
            )

    @property
    def n_pixels(self) -> int:
        """Pixels per side."""
        return int(round(self.field_size_deg / self.deg_per_pixel))

    @property
    def x_deg(self) -> np.ndarray:
        """x of each column (pixel centres), deg, shape ``(n_pixels,)``."""
        return -self.field_size_deg / 2 + (np.arange(self.n_pixels) + 0.5) * self.deg_per_pixel

    @property
    def y_deg(self) -> np.ndarray:
        """y of each row (pixel centres, decreasing downwards), deg, shape ``(n_pixels,)``."""
        return self.field_size_deg / 2 - (np.arange(self.n_pixels) + 0.5) * self.deg_per_pixel

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of every pixel, each of shape ``(n_pixels, n_pixels)``, deg."""
        return np.meshgrid(self.x_deg, self.y_deg)


def _check_contrast(value: float, name: str = "contrast") -> None:
    if not (np.isfinite(value) and -1.0 <= value <= 1.0):
        raise ConfigError(f"{name} must be in [-1, 1], got {value}")


def _check_positive(value: float, name: str, allow_inf: bool = False) -> None:
    ok = value > 0 and (np.isfinite(value) or (allow_inf and value == math.inf))
    if not ok:
        raise ConfigError(f"{name} must be > 0, got {value}")


def _check_nonnegative(value: float, name: str) -> None:
    if not (np.isfinite(value) and value >= 0):
        raise ConfigError(f"{name} must be a finite value >= 0, got {value}")


@dataclass(frozen=True)
class Stimulus:
    """Base class: a stimulus that renders frames of a grid at given epoch times.

    Subclasses set the class attribute ``kind`` and implement :meth:`_render`.
    """

    kind: ClassVar[str] = ""

    def validate(self, grid: StimulusGrid, frame_duration_s: float) -> None:
        """Check the parameters that depend on the grid or the frame duration.

        Raises
        ------
        ConfigError
            Naming the offending field.
        """

    def render(self, grid: StimulusGrid, frame_indices: np.ndarray, frame_duration_s: float) -> np.ndarray:
        """Frames at the given frame indices counted from the stimulus onset.

        Parameters
        ----------
        grid : StimulusGrid
        frame_indices : array_like of int
            Frame numbers since the onset of the stimulus (frame k starts at ``k · Δ``).
        frame_duration_s : float
            Frame duration Δ, s.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(frame_indices), n_pixels, n_pixels)``, float64, in [-1, 1].
        """
        idx = np.asarray(frame_indices, dtype=np.int64).ravel()
        if idx.size == 0:
            return np.zeros((0, grid.n_pixels, grid.n_pixels))
        return self._render(grid, idx, frame_duration_s)

    def _render(self, grid: StimulusGrid, idx: np.ndarray, frame_duration_s: float) -> np.ndarray:
        raise NotImplementedError

    def parameters(self) -> dict[str, Any]:
        """The parameters as a plain dict (JSON-serialisable), without ``kind``."""
        return dataclasses.asdict(self)

    def describe(self) -> dict[str, Any]:
        """``{"kind": ..., **parameters}``: enough to rebuild it with :func:`make_stimulus`.

        Infinite values are written as the strings ``"inf"``/``"-inf"`` (strict JSON has no
        infinity); :func:`make_stimulus` reads them back.
        """
        params = {k: (("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v) else v)
                  for k, v in self.parameters().items()}
        return {"kind": self.kind, **params}


def _check_aperture(grid: StimulusGrid, diameter: float, cx: float, cy: float, kind: str) -> None:
    if diameter == math.inf:
        return
    half = grid.field_size_deg / 2
    radius = diameter / 2
    tol = 1e-9 * grid.field_size_deg
    if abs(cx) + radius > half + tol or abs(cy) + radius > half + tol:
        raise ConfigError(
            f"{kind}: aperture (diameter_deg {diameter} at x {cx}, y {cy} deg) lies outside the "
            f"field of {grid.field_size_deg} deg (|centre| + radius must be <= {half})"
        )


def _normal(orientation_deg: float) -> tuple[float, float]:
    theta = math.radians(orientation_deg)
    return -math.sin(theta), math.cos(theta)


@dataclass(frozen=True)
class Grating(Stimulus):
    """Drifting or static sine/square grating, optionally in a circular aperture.

    Parameters
    ----------
    orientation_deg : float
        Orientation of the bars, deg counter-clockwise from horizontal.
    spatial_frequency_cpd : float
        Cycles/deg (> 0).
    temporal_frequency_hz : float
        Drift frequency, Hz (0 = static; the sign sets the direction along the normal).
    phase_deg : float
        Spatial phase at the aperture centre at onset, deg (0 = bright bar at the centre).
    contrast : float
        Amplitude, in [-1, 1].
    waveform : str
        ``"sine"`` or ``"square"``.
    aperture_diameter_deg : float
        Diameter of the circular aperture, deg (``inf`` = full field); mean grey outside.
    aperture_x_deg, aperture_y_deg : float
        Centre of the aperture (and of the phase reference), deg.
    """

    kind: ClassVar[str] = "grating"
    orientation_deg: float = 0.0
    spatial_frequency_cpd: float = 2.0
    temporal_frequency_hz: float = 0.0
    phase_deg: float = 0.0
    contrast: float = 1.0
    waveform: str = "sine"
    aperture_diameter_deg: float = math.inf
    aperture_x_deg: float = 0.0
    aperture_y_deg: float = 0.0

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_positive(self.spatial_frequency_cpd, "spatial_frequency_cpd")
        _check_positive(self.aperture_diameter_deg, "aperture_diameter_deg", allow_inf=True)
        if not np.isfinite(self.temporal_frequency_hz):
            raise ConfigError(f"temporal_frequency_hz must be finite, got {self.temporal_frequency_hz}")
        if self.waveform not in ("sine", "square"):
            raise ConfigError(
                f"waveform must be 'sine' or 'square', got {self.waveform!r}"
                f"{suggest(self.waveform, ['sine', 'square'])}"
            )

    def validate(self, grid: StimulusGrid, frame_duration_s: float) -> None:
        _check_aperture(grid, self.aperture_diameter_deg, self.aperture_x_deg, self.aperture_y_deg, self.kind)

    def _render(self, grid, idx, frame_duration_s):
        x, y = grid.mesh()
        x = x - self.aperture_x_deg
        y = y - self.aperture_y_deg
        nx, ny = _normal(self.orientation_deg)
        u = x * nx + y * ny
        t = idx * frame_duration_s
        phase = (2 * math.pi * (self.spatial_frequency_cpd * u[None] - self.temporal_frequency_hz * t[:, None, None])
                 + math.radians(self.phase_deg))
        wave = np.cos(phase)
        if self.waveform == "square":
            wave = np.sign(wave)
        frames = self.contrast * wave
        if self.aperture_diameter_deg != math.inf:
            frames *= (x**2 + y**2 <= (self.aperture_diameter_deg / 2) ** 2)[None]
        return frames


@dataclass(frozen=True)
class CenterSurroundGrating(Stimulus):
    """A grating in a central disc and another in the annulus around it: a *context pair* stimulus.

    The centre is the same in every member of a pair; the surround sets the context: the
    same orientation (iso), another (e.g. orthogonal, cross), or none (``surround_contrast``
    0: mean grey). Both gratings share spatial and temporal frequency and the phase reference
    at the centre, so an iso surround continues the centre grating seamlessly.

    Parameters
    ----------
    orientation_deg : float
        Orientation of the centre's bars, deg counter-clockwise from horizontal.
    surround_orientation_deg : float
        Orientation of the surround's bars, deg.
    spatial_frequency_cpd : float
        Cycles/deg (> 0), both gratings.
    temporal_frequency_hz : float
        Drift frequency, Hz (0 = static), both gratings.
    phase_deg : float
        Spatial phase at the centre at onset, deg, both gratings.
    contrast, surround_contrast : float
        Amplitudes of the centre and the surround, in [-1, 1] (surround 0: no context).
    center_diameter_deg : float
        Diameter of the centre disc, deg (> 0).
    surround_diameter_deg : float
        Outer diameter of the annulus, deg (> ``center_diameter_deg``; ``inf`` = the rest of
        the field).
    center_x_deg, center_y_deg : float
        Centre of both, deg.

    References
    ----------
    Cavanaugh, Bair & Movshon (2002), J. Neurophysiol. 88, 2530, doi:10.1152/jn.00692.2001
    (surround suppression by iso- and cross-oriented surrounds).
    """

    kind: ClassVar[str] = "center_surround"
    orientation_deg: float = 0.0
    surround_orientation_deg: float = 0.0
    spatial_frequency_cpd: float = 2.0
    temporal_frequency_hz: float = 0.0
    phase_deg: float = 0.0
    contrast: float = 1.0
    surround_contrast: float = 1.0
    center_diameter_deg: float = 0.6
    surround_diameter_deg: float = math.inf
    center_x_deg: float = 0.0
    center_y_deg: float = 0.0

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_contrast(self.surround_contrast)
        _check_positive(self.spatial_frequency_cpd, "spatial_frequency_cpd")
        _check_positive(self.center_diameter_deg, "center_diameter_deg")
        if not self.surround_diameter_deg > self.center_diameter_deg:
            raise ConfigError(f"surround_diameter_deg must exceed center_diameter_deg ({self.center_diameter_deg}), "
                              f"got {self.surround_diameter_deg}")
        if not np.isfinite(self.temporal_frequency_hz):
            raise ConfigError(f"temporal_frequency_hz must be finite, got {self.temporal_frequency_hz}")

    def validate(self, grid: StimulusGrid, frame_duration_s: float) -> None:
        _check_aperture(grid, self.center_diameter_deg, self.center_x_deg, self.center_y_deg, self.kind)

    def _render(self, grid, idx, frame_duration_s):
        common = {"spatial_frequency_cpd": self.spatial_frequency_cpd, "temporal_frequency_hz": self.temporal_frequency_hz,
                  "phase_deg": self.phase_deg, "aperture_x_deg": self.center_x_deg, "aperture_y_deg": self.center_y_deg}
        centre = Grating(orientation_deg=self.orientation_deg, contrast=self.contrast,
                         aperture_diameter_deg=self.center_diameter_deg, **common)._render(grid, idx, frame_duration_s)
        if self.surround_contrast == 0:
            return centre
        surround = Grating(orientation_deg=self.surround_orientation_deg, contrast=self.surround_contrast,
                           **common)._render(grid, idx, frame_duration_s)
        x, y = grid.mesh()
        r2 = (x - self.center_x_deg) ** 2 + (y - self.center_y_deg) ** 2
        annulus = (r2 > (self.center_diameter_deg / 2) ** 2) & (r2 <= (self.surround_diameter_deg / 2) ** 2)
        return centre + surround * annulus[None]


def _flash_mask(idx: np.ndarray, frame_duration_s: float, onset_s: float, duration_s: float) -> np.ndarray:
    """True for frames whose start lies in [onset, onset + duration)."""
    t = idx * frame_duration_s
    eps = 1e-9 * frame_duration_s
    return (t >= onset_s - eps) & (t < onset_s + duration_s - eps)


@dataclass(frozen=True)
class FlashedBar(Stimulus):
    """A bar flashed at a fixed position.

    Parameters
    ----------
    orientation_deg : float
        Orientation of the long axis, deg counter-clockwise from horizontal.
    width_deg, length_deg : float
        Bar size, deg (``length_deg = inf`` spans the field).
    center_x_deg, center_y_deg : float
        Bar centre, deg.
    contrast : float
        Signed contrast in [-1, 1] (negative = dark bar).
    onset_s : float
        Onset after the epoch start, s.
    flash_duration_s : float
        How long it stays on, s (``inf`` = until the epoch ends).
    """

    kind: ClassVar[str] = "flashed_bar"
    orientation_deg: float = 0.0
    width_deg: float = 0.1
    length_deg: float = 1.0
    center_x_deg: float = 0.0
    center_y_deg: float = 0.0
    contrast: float = 1.0
    onset_s: float = 0.0
    flash_duration_s: float = math.inf

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_positive(self.width_deg, "width_deg")
        _check_positive(self.length_deg, "length_deg", allow_inf=True)
        _check_nonnegative(self.onset_s, "onset_s")
        _check_positive(self.flash_duration_s, "flash_duration_s", allow_inf=True)

    def _bar(self, grid: StimulusGrid, center_offset: float = 0.0) -> np.ndarray:
        x, y = grid.mesh()
        nx, ny = _normal(self.orientation_deg)
        dx, dy = x - self.center_x_deg, y - self.center_y_deg
        across = dx * nx + dy * ny - center_offset
        along = -dx * ny + dy * nx
        return (np.abs(across) <= self.width_deg / 2) & (np.abs(along) <= self.length_deg / 2)

    def _render(self, grid, idx, frame_duration_s):
        on = _flash_mask(idx, frame_duration_s, self.onset_s, self.flash_duration_s)
        return self.contrast * on[:, None, None] * self._bar(grid)[None].astype(float)


@dataclass(frozen=True)
class MovingBar(Stimulus):
    """A bar sweeping across the field along its normal at constant speed.

    Parameters
    ----------
    orientation_deg : float
        Orientation of the long axis, deg; the bar moves along the normal.
    width_deg, length_deg : float
        Bar size, deg.
    speed_deg_per_s : float
        Speed along the normal, deg/s (negative = the other way).
    start_position_deg : float
        Signed distance of the bar centre from (center_x, center_y) along the normal at onset, deg.
    center_x_deg, center_y_deg : float
        Point of the trajectory at position 0, deg.
    contrast : float
        Signed contrast in [-1, 1].
    """

    kind: ClassVar[str] = "moving_bar"
    orientation_deg: float = 0.0
    width_deg: float = 0.1
    length_deg: float = math.inf
    speed_deg_per_s: float = 4.0
    start_position_deg: float = -1.0
    center_x_deg: float = 0.0
    center_y_deg: float = 0.0
    contrast: float = 1.0

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_positive(self.width_deg, "width_deg")
        _check_positive(self.length_deg, "length_deg", allow_inf=True)
        if not np.isfinite(self.speed_deg_per_s):
            raise ConfigError(f"speed_deg_per_s must be finite, got {self.speed_deg_per_s}")

    def _render(self, grid, idx, frame_duration_s):
        x, y = grid.mesh()
        nx, ny = _normal(self.orientation_deg)
        dx, dy = x - self.center_x_deg, y - self.center_y_deg
        across = dx * nx + dy * ny
        along = np.abs(-dx * ny + dy * nx) <= self.length_deg / 2
        pos = self.start_position_deg + self.speed_deg_per_s * idx * frame_duration_s
        inside = np.abs(across[None] - pos[:, None, None]) <= self.width_deg / 2
        return self.contrast * (inside & along[None]).astype(float)


@dataclass(frozen=True)
class Edge(Stimulus):
    """A straight luminance edge: +contrast on one side, −contrast on the other.

    Parameters
    ----------
    orientation_deg : float
        Orientation of the contour, deg counter-clockwise from horizontal.
    polarity : int
        +1: bright on the +normal side; −1: dark there.
    position_deg : float
        Signed distance of the contour from the field centre along the normal, deg.
    contrast : float
        Magnitude in [0, 1] (the polarity carries the sign).
    onset_s : float
        Onset after the epoch start, s (mean grey before).
    """

    kind: ClassVar[str] = "edge"
    orientation_deg: float = 0.0
    polarity: int = 1
    position_deg: float = 0.0
    contrast: float = 1.0
    onset_s: float = 0.0

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        if self.contrast < 0:
            raise ConfigError(f"contrast of an edge must be in [0, 1] (use polarity for the sign), got {self.contrast}")
        if self.polarity not in (1, -1):
            raise ConfigError(f"polarity must be +1 or -1, got {self.polarity}")
        _check_nonnegative(self.onset_s, "onset_s")

    def validate(self, grid: StimulusGrid, frame_duration_s: float) -> None:
        if abs(self.position_deg) > grid.field_size_deg / 2:
            raise ConfigError(
                f"edge: position_deg {self.position_deg} lies outside the field (|position| <= "
                f"{grid.field_size_deg / 2} deg)"
            )

    def _render(self, grid, idx, frame_duration_s):
        x, y = grid.mesh()
        nx, ny = _normal(self.orientation_deg)
        u = x * nx + y * ny - self.position_deg
        image = self.polarity * self.contrast * np.sign(u)
        on = _flash_mask(idx, frame_duration_s, self.onset_s, math.inf)
        return on[:, None, None] * image[None]


class _NoiseMixin:
    """Helpers of frame-wise seeded noise: noise frame m uses ``default_rng([seed, m])``."""

    noise_frame_duration_s: float
    seed: int

    def _check_noise(self) -> None:
        _check_positive(self.noise_frame_duration_s, "noise_frame_duration_s")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")

    def _validate_noise(self, frame_duration_s: float) -> None:
        frame_count(self.noise_frame_duration_s, frame_duration_s, "noise_frame_duration_s")
        if round(self.noise_frame_duration_s / frame_duration_s) < 1:
            raise ConfigError(
                f"noise_frame_duration_s = {self.noise_frame_duration_s} s must be at least one frame "
                f"({frame_duration_s} s)"
            )

    def _noise_indices(self, idx: np.ndarray, frame_duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        per = max(1, int(round(self.noise_frame_duration_s / frame_duration_s)))
        noise_idx = idx // per
        unique, inverse = np.unique(noise_idx, return_inverse=True)
        return unique, inverse

    def _rng(self, noise_frame: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(noise_frame)])

    def _render_checks(self, grid: StimulusGrid, idx: np.ndarray, frame_duration_s: float,
                       check_deg: float) -> np.ndarray:
        _, check_of = _checks_to_pixels(grid, check_deg)
        unique, inverse = self._noise_indices(idx, frame_duration_s)
        patterns = np.stack([self.noise_frame(grid, m)[np.ix_(check_of, check_of)] for m in unique])
        return patterns[inverse]


def _checks_to_pixels(grid: StimulusGrid, check_deg: float) -> tuple[int, np.ndarray]:
    """Number of checks per side and the check index of every pixel row/column."""
    n_checks = int(math.ceil(grid.field_size_deg / check_deg - 1e-9))
    pos = (np.arange(grid.n_pixels) + 0.5) * grid.deg_per_pixel
    return n_checks, np.minimum((pos // check_deg).astype(np.int64), n_checks - 1)


@dataclass(frozen=True)
class SparseNoise(_NoiseMixin, Stimulus):
    """Sparse noise: a few bright and dark squares on grey, new ones every noise frame.

    Parameters
    ----------
    dot_size_deg : float
        Side of each square, deg (dots sit on a grid of this spacing).
    density : float
        Probability that a grid position is lit in a noise frame, in (0, 1].
    contrast : float
        Magnitude in (0, 1]; each dot is bright or dark with probability 1/2.
    noise_frame_duration_s : float
        How long each noise frame is shown, s (a whole number of frames).
    seed : int
        Seed of the dot sequence.
    """

    kind: ClassVar[str] = "sparse_noise"
    dot_size_deg: float = 0.2
    density: float = 0.02
    contrast: float = 1.0
    noise_frame_duration_s: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_positive(self.dot_size_deg, "dot_size_deg")
        if not 0 < self.density <= 1:
            raise ConfigError(f"density must be in (0, 1], got {self.density}")
        self._check_noise()

    def validate(self, grid, frame_duration_s):
        self._validate_noise(frame_duration_s)

    def noise_frame(self, grid: StimulusGrid, noise_frame: int) -> np.ndarray:
        """The dot pattern of noise frame ``m``: ``(n_checks, n_checks)`` in {−c, 0, +c}."""
        n_checks, _ = _checks_to_pixels(grid, self.dot_size_deg)
        rng = self._rng(noise_frame)
        lit = rng.random((n_checks, n_checks)) < self.density
        sign = np.where(rng.random((n_checks, n_checks)) < 0.5, -1.0, 1.0)
        return self.contrast * lit * sign

    def _render(self, grid, idx, frame_duration_s):
        return self._render_checks(grid, idx, frame_duration_s, self.dot_size_deg)


class _DenseNoise(_NoiseMixin, Stimulus):
    """Checks and checks-only validation shared by the dense noises (fields set by subclasses)."""

    check_size_deg: float
    contrast: float

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_positive(self.check_size_deg, "check_size_deg")
        self._check_noise()

    def validate(self, grid, frame_duration_s):
        self._validate_noise(frame_duration_s)

    def _render(self, grid, idx, frame_duration_s):
        return self._render_checks(grid, idx, frame_duration_s, self.check_size_deg)


@dataclass(frozen=True)
class BinaryNoise(_DenseNoise):
    """Dense binary white noise: every check is ±contrast with probability 1/2.

    Parameters
    ----------
    check_size_deg : float
        Side of each check, deg.
    contrast : float
        Magnitude in (0, 1].
    noise_frame_duration_s : float
        Duration of each noise frame, s.
    seed : int
    """

    kind: ClassVar[str] = "binary_noise"
    check_size_deg: float = 0.05
    contrast: float = 1.0
    noise_frame_duration_s: float = 0.01
    seed: int = 0

    def noise_frame(self, grid: StimulusGrid, noise_frame: int) -> np.ndarray:
        """Checks of noise frame ``m``: ``(n_checks, n_checks)`` in {−c, +c}."""
        n_checks, _ = _checks_to_pixels(grid, self.check_size_deg)
        bits = self._rng(noise_frame).random((n_checks, n_checks)) < 0.5
        return self.contrast * np.where(bits, 1.0, -1.0)


@dataclass(frozen=True)
class GaussianNoise(_DenseNoise):
    """Dense Gaussian white noise, clipped to [-1, 1].

    Parameters
    ----------
    check_size_deg : float
        Side of each check, deg.
    contrast : float
        Standard deviation before clipping, in (0, 1] (0.3 clips ~0.1 % of checks).
    noise_frame_duration_s : float
        Duration of each noise frame, s.
    seed : int
    """

    kind: ClassVar[str] = "gaussian_noise"
    check_size_deg: float = 0.05
    contrast: float = 0.3
    noise_frame_duration_s: float = 0.01
    seed: int = 0

    def noise_frame(self, grid: StimulusGrid, noise_frame: int) -> np.ndarray:
        """Checks of noise frame ``m``: ``(n_checks, n_checks)``, clipped to [-1, 1]."""
        n_checks, _ = _checks_to_pixels(grid, self.check_size_deg)
        values = self.contrast * self._rng(noise_frame).standard_normal((n_checks, n_checks))
        return np.clip(values, -1.0, 1.0)


@dataclass(frozen=True)
class FullFieldFlash(Stimulus):
    """Uniform flash of the whole field.

    Parameters
    ----------
    contrast : float
        Signed contrast in [-1, 1].
    onset_s : float
        Onset after the epoch start, s.
    flash_duration_s : float
        Duration, s (``inf`` = a step that lasts to the end of the epoch).
    """

    kind: ClassVar[str] = "full_field_flash"
    contrast: float = 1.0
    onset_s: float = 0.0
    flash_duration_s: float = 0.05

    def __post_init__(self) -> None:
        _check_contrast(self.contrast)
        _check_nonnegative(self.onset_s, "onset_s")
        _check_positive(self.flash_duration_s, "flash_duration_s", allow_inf=True)

    def _render(self, grid, idx, frame_duration_s):
        on = _flash_mask(idx, frame_duration_s, self.onset_s, self.flash_duration_s)
        return np.broadcast_to(self.contrast * on[:, None, None], (idx.size, grid.n_pixels, grid.n_pixels)).copy()


@dataclass(frozen=True)
class Blank(Stimulus):
    """Mean-grey screen (contrast 0 everywhere)."""

    kind: ClassVar[str] = "blank"

    def _render(self, grid, idx, frame_duration_s):
        return np.zeros((idx.size, grid.n_pixels, grid.n_pixels))


@dataclass(frozen=True)
class NaturalImage(Stimulus):
    """A seeded natural-like image: random phases with a 1/f^α amplitude spectrum.

    Parameters
    ----------
    seed : int
        Seed of the random phases (one image per seed and grid).
    spectral_exponent : float
        α of the amplitude spectrum ``|F(f)| ∝ f^-α`` (natural images: α ≈ 1, Field 1987).
    rms_contrast : float
        Root-mean-square contrast before clipping to [-1, 1], in (0, 1].
    onset_s : float
        Onset after the epoch start, s.
    flash_duration_s : float
        How long the image is shown, s (``inf`` = to the end of the epoch).
    """

    kind: ClassVar[str] = "natural_image"
    seed: int = 0
    spectral_exponent: float = 1.0
    rms_contrast: float = 0.3
    onset_s: float = 0.0
    flash_duration_s: float = math.inf

    def __post_init__(self) -> None:
        _check_contrast(self.rms_contrast, "rms_contrast")
        _check_positive(self.rms_contrast, "rms_contrast")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if not (np.isfinite(self.spectral_exponent) and self.spectral_exponent >= 0):
            raise ConfigError(f"spectral_exponent must be >= 0, got {self.spectral_exponent}")
        _check_nonnegative(self.onset_s, "onset_s")
        _check_positive(self.flash_duration_s, "flash_duration_s", allow_inf=True)

    def image(self, grid: StimulusGrid) -> np.ndarray:
        """The static image, ``(n_pixels, n_pixels)`` float64, zero mean, clipped to [-1, 1]."""
        n = grid.n_pixels
        rng = np.random.default_rng([int(self.seed), n])
        fx = np.fft.fftfreq(n, d=grid.deg_per_pixel)
        f = np.hypot(fx[:, None], fx[None, :])
        amplitude = np.zeros_like(f)
        amplitude[f > 0] = f[f > 0] ** (-self.spectral_exponent)
        spectrum = amplitude * np.exp(2j * np.pi * rng.random((n, n)))
        image = np.real(np.fft.ifft2(spectrum))
        image -= image.mean()
        std = image.std()
        if std > 0:
            image *= self.rms_contrast / std
        return np.clip(image, -1.0, 1.0)

    def _render(self, grid, idx, frame_duration_s):
        on = _flash_mask(idx, frame_duration_s, self.onset_s, self.flash_duration_s)
        return on[:, None, None] * self.image(grid)[None]


#: ``kind`` → stimulus class.
STIMULUS_TYPES: dict[str, type[Stimulus]] = {
    cls.kind: cls
    for cls in (Grating, CenterSurroundGrating, FlashedBar, MovingBar, Edge, SparseNoise, BinaryNoise, GaussianNoise,
                FullFieldFlash, Blank, NaturalImage)
}


def make_stimulus(kind: str, **parameters: Any) -> Stimulus:
    """Build a stimulus from its ``kind`` and keyword parameters.

    Raises
    ------
    ConfigError
        For an unknown kind or parameter name (with the nearest valid name) or a bad value.

    Examples
    --------
    >>> make_stimulus("grating", orientation_deg=45.0).orientation_deg
    45.0
    """
    if kind not in STIMULUS_TYPES:
        raise ConfigError(
            f"unknown stimulus type {kind!r}; valid: {sorted(STIMULUS_TYPES)}{suggest(kind, STIMULUS_TYPES)}"
        )
    cls = STIMULUS_TYPES[kind]
    names = [f.name for f in dataclasses.fields(cls)]
    for key in parameters:
        if key not in names:
            raise ConfigError(f"{kind}: unknown parameter {key!r}; valid: {names}{suggest(key, names)}")
    float_fields = {f.name for f in dataclasses.fields(cls) if f.type in ("float", float)}
    values = {k: (float(v) if k in float_fields and v in ("inf", "-inf") else v) for k, v in parameters.items()}
    return cls(**values)


class FrameSource:
    """Shared interface of :class:`StimulusMovie` and :class:`stimuli.protocols.Protocol`.

    Subclasses provide ``grid``, ``frame_duration``, ``n_frames`` and ``frames(start, stop)``.
    """

    grid: StimulusGrid
    frame_duration: float

    @property
    def n_frames(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def frames(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def duration(self) -> float:
        """Total duration, s."""
        return self.n_frames * self.frame_duration

    @property
    def field_size_deg(self) -> float:
        """Side of the square field, deg."""
        return self.grid.field_size_deg

    @property
    def deg_per_pixel(self) -> float:
        """Pixel size, deg."""
        return self.grid.deg_per_pixel

    def iter_frames(self, block_frames: int = 100) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start_frame, frames)`` blocks of at most ``block_frames`` frames.

        ``frames`` has shape ``(n, n_pixels, n_pixels)``, float64, contrast units.
        """
        if int(block_frames) != block_frames or block_frames < 1:
            raise ConfigError(f"block_frames must be a positive integer, got {block_frames}")
        block_frames = int(block_frames)
        for start in range(0, self.n_frames, block_frames):
            stop = min(start + block_frames, self.n_frames)
            yield start, self.frames(start, stop)

    def to_array(self) -> np.ndarray:
        """All frames at once, ``(n_frames, n_pixels, n_pixels)`` (short movies only)."""
        return self.frames(0, self.n_frames)


class StimulusMovie(FrameSource):
    """One stimulus rendered on a grid for a duration at a frame rate.

    Parameters
    ----------
    stimulus : Stimulus
    duration_s : float
        Duration, s (> 0, a whole number of frames).
    frame_duration_s : float
        Frame duration, s (> 0).
    field_size_deg : float
        Side of the square field, deg.
    deg_per_pixel : float
        Pixel size, deg.
    stimulus_id : str
        Free label (default: the stimulus kind).

    Raises
    ------
    ConfigError
        Non-positive durations, a duration that is not a whole number of frames, or
        stimulus parameters incompatible with the grid (e.g. an aperture outside the field).

    Examples
    --------
    >>> movie = StimulusMovie(Grating(temporal_frequency_hz=2.0), 0.1, 0.01, 1.0, 0.05)
    >>> movie.to_array().shape
    (10, 20, 20)
    """

    def __init__(
        self,
        stimulus: Stimulus,
        duration_s: float,
        frame_duration_s: float,
        field_size_deg: float,
        deg_per_pixel: float,
        stimulus_id: str = "",
    ) -> None:
        if not isinstance(stimulus, Stimulus):
            raise ConfigError(f"stimulus must be a Stimulus, got {type(stimulus).__name__}")
        if not (np.isfinite(frame_duration_s) and frame_duration_s > 0):
            raise ConfigError(f"frame_duration_s must be > 0 s, got {frame_duration_s}")
        if not (np.isfinite(duration_s) and duration_s > 0):
            raise ConfigError(f"duration_s must be > 0 s, got {duration_s}")
        self.stimulus = stimulus
        self.frame_duration = float(frame_duration_s)
        self.grid = StimulusGrid(float(field_size_deg), float(deg_per_pixel))
        self._n_frames = frame_count(duration_s, self.frame_duration, "duration_s")
        if self._n_frames < 1:
            raise ConfigError(f"duration_s = {duration_s} s is shorter than one frame")
        self.stimulus_id = stimulus_id or stimulus.kind
        stimulus.validate(self.grid, self.frame_duration)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self._n_frames

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start`` to ``stop - 1``, ``(stop - start, n_pixels, n_pixels)`` float64."""
        start, stop = max(0, int(start)), min(self.n_frames, int(stop))
        return self.stimulus.render(self.grid, np.arange(start, max(start, stop)), self.frame_duration)

    def as_protocol(self):
        """This movie as a one-epoch :class:`stimuli.protocols.Protocol`."""
        from stimuli.protocols import Epoch, Protocol

        return Protocol(
            [Epoch(self.stimulus, self.duration, condition=0, trial=0)],
            frame_duration=self.frame_duration,
            field_size_deg=self.grid.field_size_deg,
            deg_per_pixel=self.grid.deg_per_pixel,
            name=self.stimulus_id,
        )

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (that of the equivalent one-epoch protocol)."""
        return self.as_protocol().describe()

    def trials_table(self) -> dict[str, np.ndarray]:
        """The one-row trials table of the equivalent protocol."""
        return self.as_protocol().trials_table()

    @property
    def epochs(self):
        """The single epoch of the equivalent protocol."""
        return self.as_protocol().epochs
