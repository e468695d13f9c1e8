"""Protocols: ordered epochs of stimuli that render lazily, block by block.

A 20-minute protocol is never one array: :meth:`Protocol.iter_frames` renders only the
frames of the requested block, and every epoch knows its own frames from its stimulus
parameters (and seeds). :meth:`Protocol.describe` is a JSON document from which
:meth:`Protocol.from_description` rebuilds the very same frames; :meth:`Protocol.trials_table`
is the ``/trials`` table of the output file.

Classes
-------
Epoch
    One stimulus presentation: stimulus, duration, blank after, trial index, condition id.
Protocol
    The ordered epochs on one grid at one frame rate.

Functions
---------
orientation_tuning_protocol
    Gratings: orientations × phases × contrasts × repeats (DESIGN §5, P1).
edge_protocol
    Edges: orientations × polarities × positions × repeats (P1).
context_protocol
    Context pairs: a centre grating alone, with an iso- and a cross-oriented surround (P3).
variability_protocol
    The same static stimuli repeated ≥ 100 times (P2).
sparse_noise_protocol
    Sparse-noise receptive-field mapping (PD-a/PD-b).
natural_image_protocol
    Seeded 1/f natural-like images × repeats (PD-a).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.errors import ConfigError, suggest
from stimuli.movies import (
    Blank,
    CenterSurroundGrating,
    Edge,
    FrameSource,
    Grating,
    NaturalImage,
    SparseNoise,
    Stimulus,
    StimulusGrid,
    frame_count,
    make_stimulus,
)

__all__ = [
    "Epoch",
    "Protocol",
    "orientation_tuning_protocol",
    "edge_protocol",
    "context_protocol",
    "CONTEXTS",
    "variability_protocol",
    "sparse_noise_protocol",
    "natural_image_protocol",
    "blank_protocol",
]

#: Version of the JSON written by :meth:`Protocol.describe`.
DESCRIPTION_VERSION = 1


@dataclass(frozen=True)
class Epoch:
    """One stimulus presentation.

    Parameters
    ----------
    stimulus : Stimulus
    duration : float
        Stimulus duration, s (> 0, a whole number of frames).
    blank_after : float
        Mean-grey interval after the stimulus, s (>= 0, a whole number of frames).
    trial : int
        Repeat index of this condition.
    condition : int
        Condition id (the same stimulus parameters share it).
    label : str
        Free text (e.g. ``"orientation"``).
    """

    stimulus: Stimulus
    duration: float
    blank_after: float = 0.0
    trial: int = 0
    condition: int = 0
    label: str = ""

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "stimulus": self.stimulus.describe(),
            "duration": float(self.duration),
            "blank_after": float(self.blank_after),
            "trial": int(self.trial),
            "condition": int(self.condition),
            "label": self.label,
        }


class Protocol(FrameSource):
    """Ordered epochs rendered lazily on one grid at one frame rate.

    Parameters
    ----------
    epochs : sequence of Epoch
        At least one.
    frame_duration : float
        Frame duration, s.
    field_size_deg : float
        Side of the square field, deg.
    deg_per_pixel : float
        Pixel size, deg.
    name : str
        Label stored in the description.

    Raises
    ------
    ConfigError
        Empty protocol, non-positive or fractional-frame durations, a negative blank,
        or stimulus parameters incompatible with the grid (the message names the epoch
        and the field).

    Examples
    --------
    >>> p = Protocol([Epoch(Grating(), 0.1, blank_after=0.05)], 0.01, 1.0, 0.05)
    >>> p.n_frames, round(p.duration, 6)
    (15, 0.15)
    >>> p.trials_table()["stop"].tolist()
    [0.1]
    """

    def __init__(
        self,
        epochs: Sequence[Epoch],
        frame_duration: float,
        field_size_deg: float,
        deg_per_pixel: float,
        name: str = "protocol",
    ) -> None:
        epochs = tuple(epochs)
        if not epochs:
            raise ConfigError("epochs: a protocol needs at least one epoch (got an empty protocol)")
        if not (np.isfinite(frame_duration) and frame_duration > 0):
            raise ConfigError(f"frame_duration must be > 0 s, got {frame_duration}")
        self.frame_duration = float(frame_duration)
        self.grid = StimulusGrid(float(field_size_deg), float(deg_per_pixel))
        self.name = str(name)
        n_stim, n_blank = [], []
        for k, epoch in enumerate(epochs):
            if not isinstance(epoch, Epoch):
                raise ConfigError(f"epochs[{k}] must be an Epoch, got {type(epoch).__name__}")
            if not isinstance(epoch.stimulus, Stimulus):
                raise ConfigError(f"epochs[{k}].stimulus must be a Stimulus, got {type(epoch.stimulus).__name__}")
            if not (np.isfinite(epoch.duration) and epoch.duration > 0):
                raise ConfigError(f"epochs[{k}].duration must be > 0 s, got {epoch.duration}")
            if not (np.isfinite(epoch.blank_after) and epoch.blank_after >= 0):
                raise ConfigError(f"epochs[{k}].blank_after must be >= 0 s, got {epoch.blank_after}")
            try:
                n_stim.append(frame_count(epoch.duration, self.frame_duration, "duration"))
                n_blank.append(frame_count(epoch.blank_after, self.frame_duration, "blank_after"))
                epoch.stimulus.validate(self.grid, self.frame_duration)
            except ConfigError as exc:
                raise ConfigError(f"epochs[{k}]: {exc}") from None
            if n_stim[-1] < 1:
                raise ConfigError(f"epochs[{k}].duration = {epoch.duration} s is shorter than one frame")
        self.epochs = epochs
        self._n_stim = np.array(n_stim, dtype=np.int64)
        self._n_blank = np.array(n_blank, dtype=np.int64)
        self._start = np.concatenate([[0], np.cumsum(self._n_stim + self._n_blank)[:-1]]).astype(np.int64)
        self._n_frames = int(np.sum(self._n_stim + self._n_blank))

    def __repr__(self) -> str:
        return (
            f"Protocol({self.name!r}, {len(self.epochs)} epochs, {self.duration:g} s, "
            f"{self.frame_duration * 1e3:g} ms frames, {self.grid.n_pixels}^2 px)"
        )

    @property
    def n_frames(self) -> int:
        """Total number of frames (stimuli and blanks)."""
        return self._n_frames

    @property
    def epoch_start_frames(self) -> np.ndarray:
        """First frame of each epoch, int64, shape ``(n_epochs,)``."""
        return self._start.copy()

    @property
    def epoch_stimulus_frames(self) -> np.ndarray:
        """Number of stimulus frames (blank excluded) of each epoch, int64."""
        return self._n_stim.copy()

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start`` … ``stop − 1`` as ``(n, n_pixels, n_pixels)`` float64 (blank = 0)."""
        start, stop = max(0, int(start)), min(self.n_frames, int(stop))
        n_pix = self.grid.n_pixels
        out = np.zeros((max(0, stop - start), n_pix, n_pix))
        if stop <= start:
            return out
        first = max(0, int(np.searchsorted(self._start, start, side="right")) - 1)
        for k in range(first, len(self.epochs)):
            e_start = int(self._start[k])
            if e_start >= stop:
                break
            lo = max(start, e_start)
            hi = min(stop, e_start + int(self._n_stim[k]))
            if hi > lo:
                out[lo - start:hi - start] = self.epochs[k].stimulus.render(
                    self.grid, np.arange(lo - e_start, hi - e_start), self.frame_duration
                )
        return out

    def trials_table(self) -> dict[str, np.ndarray]:
        """The ``/trials`` table: one row per epoch.

        Returns
        -------
        dict of str to numpy.ndarray
            Equal-length 1-D columns: ``start``, ``stop`` (s; the stimulus only, blank
            excluded), ``epoch``, ``trial``, ``condition`` (int64), ``stimulus`` (kind,
            str), ``label`` (str), ``blank_after`` (s), then one column per stimulus
            parameter met in any epoch: float64 with NaN where the parameter does not
            apply, or str with ``""`` for text parameters.
        """
        fd = self.frame_duration
        n = len(self.epochs)
        table: dict[str, Any] = {
            "start": self._start * fd,
            "stop": (self._start + self._n_stim) * fd,
            "epoch": np.arange(n, dtype=np.int64),
            "trial": np.array([e.trial for e in self.epochs], dtype=np.int64),
            "condition": np.array([e.condition for e in self.epochs], dtype=np.int64),
            "stimulus": np.array([e.stimulus.kind for e in self.epochs], dtype=str),
            "label": np.array([e.label for e in self.epochs], dtype=str),
            "blank_after": np.array([e.blank_after for e in self.epochs], dtype=np.float64),
        }
        params = [e.stimulus.parameters() for e in self.epochs]
        names: dict[str, None] = {}
        for p in params:
            names.update(dict.fromkeys(p))
        for key in names:
            values = [p.get(key) for p in params]
            present = [v for v in values if v is not None]
            if key in table:
                key_out = f"stimulus_{key}"
            else:
                key_out = key
            if all(isinstance(v, (int, float, bool, np.integer, np.floating)) for v in present):
                table[key_out] = np.array([np.nan if v is None else float(v) for v in values])
            else:
                table[key_out] = np.array(["" if v is None else str(v) for v in values], dtype=str)
        return table

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description that regenerates the frames exactly (seeds included)."""
        return {
            "type": "protocol",
            "version": DESCRIPTION_VERSION,
            "name": self.name,
            "frame_duration": self.frame_duration,
            "field_size_deg": self.grid.field_size_deg,
            "deg_per_pixel": self.grid.deg_per_pixel,
            "duration": self.duration,
            "n_frames": self.n_frames,
            "epochs": [e.describe() for e in self.epochs],
        }

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> Protocol:
        """Rebuild a protocol from :meth:`describe` output.

        Raises
        ------
        ConfigError
            Missing keys, an unknown stimulus kind or parameter.
        """
        try:
            epochs = []
            for k, doc in enumerate(description["epochs"]):
                stim = dict(doc["stimulus"])
                kind = stim.pop("kind")
                try:
                    stimulus = make_stimulus(kind, **stim)
                except ConfigError as exc:
                    raise ConfigError(f"epochs[{k}].stimulus: {exc}") from None
                epochs.append(Epoch(stimulus, float(doc["duration"]), float(doc.get("blank_after", 0.0)),
                                    int(doc.get("trial", 0)), int(doc.get("condition", 0)), str(doc.get("label", ""))))
            return cls(epochs, float(description["frame_duration"]), float(description["field_size_deg"]),
                       float(description["deg_per_pixel"]), str(description.get("name", "protocol")))
        except KeyError as exc:
            raise ConfigError(f"protocol description: missing key {exc.args[0]!r}") from None

    def noise_arrays(self) -> dict[str, np.ndarray]:
        """The check patterns of every noise epoch, for ``/stimulus`` (RF mapping, DESIGN §4).

        Returns
        -------
        dict of str to numpy.ndarray
            Empty when the protocol has no noise epoch; otherwise
            ``noise_patterns`` (n, n_checks, n_checks) float32 in contrast units (row 0 at
            the top), ``noise_onsets_s`` (n,) float64, ``noise_stops_s`` (n,) float64,
            ``noise_epoch`` (n,) int64, and ``noise_check_size_deg`` (1,) float64.
            Frames follow from the patterns by repeating each check over its pixels.

        Raises
        ------
        ConfigError
            If the noise epochs use different check sizes (store them separately then).
        """
        from stimuli.movies import BinaryNoise, GaussianNoise

        noise_types = (SparseNoise, BinaryNoise, GaussianNoise)
        patterns, onsets, stops, epochs, sizes = [], [], [], [], set()
        fd = self.frame_duration
        for k, epoch in enumerate(self.epochs):
            stim = epoch.stimulus
            if not isinstance(stim, noise_types):
                continue
            size = stim.dot_size_deg if isinstance(stim, SparseNoise) else stim.check_size_deg
            sizes.add(size)
            per = int(round(stim.noise_frame_duration_s / fd))
            n_noise = -(-int(self._n_stim[k]) // per)
            start = float(self._start[k] * fd)
            end = float((self._start[k] + self._n_stim[k]) * fd)
            for m in range(n_noise):
                patterns.append(stim.noise_frame(self.grid, m).astype(np.float32))
                onsets.append(start + m * per * fd)
                stops.append(min(start + (m + 1) * per * fd, end))
                epochs.append(k)
        if not patterns:
            return {}
        if len(sizes) > 1:
            raise ConfigError(f"noise epochs use different check sizes {sorted(sizes)} deg; noise_arrays needs one")
        return {
            "noise_patterns": np.stack(patterns),
            "noise_onsets_s": np.array(onsets),
            "noise_stops_s": np.array(stops),
            "noise_epoch": np.array(epochs, dtype=np.int64),
            "noise_check_size_deg": np.array([sizes.pop()], dtype=np.float64),
        }

    def epoch_index(self, frame: int) -> int:
        """Index of the epoch (stimulus or its blank) that contains frame ``frame``."""
        if not 0 <= frame < self.n_frames:
            raise ConfigError(f"frame must be in [0, {self.n_frames}), got {frame}")
        return int(np.searchsorted(self._start, frame, side="right")) - 1


def _epochs_from_conditions(
    conditions: Sequence[Stimulus],
    n_repeats: int,
    duration: float,
    blank: float,
    label: str,
    seed: int | None,
) -> list[Epoch]:
    if int(n_repeats) != n_repeats or n_repeats < 1:
        raise ConfigError(f"n_repeats must be a positive integer, got {n_repeats}")
    rng = np.random.default_rng(seed) if seed is not None else None
    epochs = []
    for repeat in range(int(n_repeats)):
        order = np.arange(len(conditions))
        if rng is not None:
            rng.shuffle(order)
        for c in order:
            epochs.append(Epoch(conditions[int(c)], duration, blank, trial=repeat, condition=int(c), label=label))
    return epochs


def _orientations(n_orientations: int) -> list[float]:
    """``n_orientations`` equally spaced orientations in [0, 180) deg, checked."""
    if int(n_orientations) != n_orientations or n_orientations < 1:
        raise ConfigError(f"n_orientations must be a positive integer, got {n_orientations}")
    return [180.0 * k / n_orientations for k in range(int(n_orientations))]


def orientation_tuning_protocol(
    n_orientations: int = 8,
    phases_deg: Iterable[float] = (0.0, 90.0, 180.0, 270.0),
    contrasts: Iterable[float] = (1.0,),
    n_repeats: int = 10,
    spatial_frequency_cpd: float = 2.0,
    temporal_frequency_hz: float = 0.0,
    waveform: str = "sine",
    aperture_diameter_deg: float = math.inf,
    duration: float = 0.5,
    blank: float = 0.5,
    frame_duration: float = 0.01,
    field_size_deg: float = 2.0,
    deg_per_pixel: float = 0.02,
    seed: int | None = 0,
) -> Protocol:
    """Gratings at ``n_orientations`` orientations in [0°, 180°) × phases × contrasts × repeats.

    Conditions are numbered in the order of ``itertools.product(orientations, phases,
    contrasts)``; within each repeat their order is shuffled by ``seed`` (``None`` keeps it).
    Durations in s, angles in deg, frequencies in cycles/deg and Hz.

    Examples
    --------
    >>> p = orientation_tuning_protocol(n_orientations=4, phases_deg=(0,), n_repeats=2,
    ...                                 field_size_deg=1.0, deg_per_pixel=0.05)
    >>> len(p.epochs), sorted(set(p.trials_table()["orientation_deg"].tolist()))
    (8, [0.0, 45.0, 90.0, 135.0])
    """
    orientations = _orientations(n_orientations)
    conditions = [
        Grating(orientation_deg=o, spatial_frequency_cpd=spatial_frequency_cpd,
                temporal_frequency_hz=temporal_frequency_hz, phase_deg=float(ph), contrast=float(c),
                waveform=waveform, aperture_diameter_deg=aperture_diameter_deg)
        for o, ph, c in itertools.product(orientations, list(phases_deg), list(contrasts))
    ]
    epochs = _epochs_from_conditions(conditions, n_repeats, duration, blank, "orientation_tuning", seed)
    return Protocol(epochs, frame_duration, field_size_deg, deg_per_pixel, name="orientation_tuning")


#: Contexts of :func:`context_protocol`: surround orientation relative to the centre (deg),
#: ``None`` for no surround.
CONTEXTS: dict[str, float | None] = {"center": None, "iso": 0.0, "cross": 90.0}


def context_protocol(
    n_orientations: int = 8,
    phases_deg: Iterable[float] = (0.0, 180.0),
    contexts: Iterable[str] = ("center", "iso", "cross"),
    n_repeats: int = 3,
    spatial_frequency_cpd: float = 2.0,
    center_diameter_deg: float = 0.6,
    duration: float = 0.3,
    blank: float = 0.2,
    frame_duration: float = 0.01,
    field_size_deg: float = 2.0,
    deg_per_pixel: float = 0.02,
    seed: int | None = 0,
) -> Protocol:
    """Context pairs: the same centre grating alone, with an iso- and with a cross-oriented surround.

    Static :class:`~stimuli.movies.CenterSurroundGrating` conditions, numbered in the order of
    ``itertools.product(orientations, phases, contexts)``, shuffled within each repeat by
    ``seed``; the surround fills the field around the centre disc. The trials table gets the
    stimulus parameters (``surround_orientation_deg``, ``surround_contrast`` 0 for ``center``)
    and the context name as ``label`` (``context_<name>``). Durations in s, angles in deg.

    Examples
    --------
    >>> p = context_protocol(n_orientations=2, phases_deg=(0,), n_repeats=1, field_size_deg=1.0,
    ...                      deg_per_pixel=0.05, center_diameter_deg=0.4, seed=None)
    >>> p.trials_table()["label"].tolist()
    ['context_center', 'context_iso', 'context_cross', 'context_center', 'context_iso', 'context_cross']
    """
    contexts = list(contexts)
    for name in contexts:
        if name not in CONTEXTS:
            raise ConfigError(f"contexts: unknown context {name!r}; valid: {list(CONTEXTS)}{suggest(name, CONTEXTS)}")
    orientations = _orientations(n_orientations)
    conditions, labels = [], []
    for o, ph, name in itertools.product(orientations, list(phases_deg), contexts):
        relative = CONTEXTS[name]
        conditions.append(CenterSurroundGrating(
            orientation_deg=o, surround_orientation_deg=(o + (relative or 0.0)) % 180.0,
            spatial_frequency_cpd=spatial_frequency_cpd, phase_deg=float(ph),
            surround_contrast=0.0 if relative is None else 1.0, center_diameter_deg=center_diameter_deg))
        labels.append(f"context_{name}")
    epochs = _epochs_from_conditions(conditions, n_repeats, duration, blank, "context", seed)
    epochs = [dataclasses.replace(e, label=labels[e.condition]) for e in epochs]
    return Protocol(epochs, frame_duration, field_size_deg, deg_per_pixel, name="context_pairs")


def edge_protocol(
    n_orientations: int = 8,
    polarities: Iterable[int] = (1, -1),
    positions_deg: Iterable[float] = (-0.25, 0.0, 0.25),
    contrast: float = 1.0,
    n_repeats: int = 10,
    duration: float = 0.3,
    blank: float = 0.5,
    frame_duration: float = 0.01,
    field_size_deg: float = 2.0,
    deg_per_pixel: float = 0.02,
    seed: int | None = 0,
) -> Protocol:
    """Luminance edges: orientations in [0°, 180°) × polarities × positions × repeats (s, deg).

    Examples
    --------
    >>> p = edge_protocol(n_orientations=2, positions_deg=(0.0,), n_repeats=1,
    ...                   field_size_deg=1.0, deg_per_pixel=0.05)
    >>> p.trials_table()["polarity"].tolist()  # shuffled by seed 0
    [1.0, 1.0, -1.0, -1.0]
    """
    orientations = _orientations(n_orientations)
    conditions = [
        Edge(orientation_deg=o, polarity=int(pol), position_deg=float(pos), contrast=contrast)
        for o, pol, pos in itertools.product(orientations, list(polarities), list(positions_deg))
    ]
    epochs = _epochs_from_conditions(conditions, n_repeats, duration, blank, "edge", seed)
    return Protocol(epochs, frame_duration, field_size_deg, deg_per_pixel, name="edge_set")


def variability_protocol(
    stimuli: Sequence[Stimulus] | None = None,
    n_repeats: int = 100,
    duration: float = 0.5,
    blank: float = 0.5,
    frame_duration: float = 0.01,
    field_size_deg: float = 2.0,
    deg_per_pixel: float = 0.02,
    seed: int | None = 0,
) -> Protocol:
    """The same static stimuli repeated ``n_repeats`` (≥ 100 by default) times (P2).

    Parameters
    ----------
    stimuli : sequence of Stimulus, optional
        Conditions (default: one static full-contrast grating at 0° and 2 cycles/deg).
    n_repeats : int
        Repeats of each condition.
    duration, blank, frame_duration : float
        s.
    field_size_deg, deg_per_pixel : float
        deg.
    seed : int or None
        Shuffles the condition order within each repeat.
    """
    if stimuli is None:
        stimuli = [Grating(orientation_deg=0.0, spatial_frequency_cpd=2.0, contrast=1.0)]
    epochs = _epochs_from_conditions(list(stimuli), n_repeats, duration, blank, "variability", seed)
    return Protocol(epochs, frame_duration, field_size_deg, deg_per_pixel, name="variability")


def sparse_noise_protocol(
    duration: float = 1200.0,
    trial_duration: float = 10.0,
    dot_size_deg: float = 0.1,
    density: float = 0.02,
    contrast: float = 1.0,
    noise_frame_duration: float = 0.05,
    frame_duration: float = 0.01,
    field_size_deg: float = 2.0,
    deg_per_pixel: float = 0.02,
    seed: int = 0,
) -> Protocol:
    """Sparse-noise RF mapping, cut into trials of ``trial_duration`` s with their own seeds.

    The seed of trial k is ``SeedSequence(seed).spawn(n_trials)[k]``'s first word, so
    the whole sequence follows from ``seed`` and each trial is stored in the description.

    Examples
    --------
    >>> p = sparse_noise_protocol(duration=2.0, trial_duration=1.0, field_size_deg=1.0,
    ...                           deg_per_pixel=0.05)
    >>> len(p.epochs), p.n_frames
    (2, 200)
    """
    n_trials = frame_count(duration, trial_duration, "duration")
    if n_trials < 1:
        raise ConfigError(f"duration must be >= trial_duration = {trial_duration} s, got {duration}")
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n_trials)]
    epochs = [
        Epoch(SparseNoise(dot_size_deg=dot_size_deg, density=density, contrast=contrast,
                          noise_frame_duration_s=noise_frame_duration, seed=s),
              trial_duration, 0.0, trial=k, condition=0, label="sparse_noise")
        for k, s in enumerate(seeds)
    ]
    return Protocol(epochs, frame_duration, field_size_deg, deg_per_pixel, name="sparse_noise")


def natural_image_protocol(
    n_images: int = 10,
    n_repeats: int = 10,
    rms_contrast: float = 0.3,
    spectral_exponent: float = 1.0,
    duration: float = 0.3,
    blank: float = 0.3,
    frame_duration: float = 0.01,
    field_size_deg: float = 2.0,
    deg_per_pixel: float = 0.02,
    seed: int = 0,
) -> Protocol:
    """``n_images`` seeded 1/f^α images (seeds ``seed``, ``seed + 1``, …) × repeats, flashed (s).

    Examples
    --------
    >>> p = natural_image_protocol(n_images=3, n_repeats=2, field_size_deg=1.0, deg_per_pixel=0.05)
    >>> sorted(set(p.trials_table()["seed"].tolist()))
    [0.0, 1.0, 2.0]
    """
    if int(n_images) != n_images or n_images < 1:
        raise ConfigError(f"n_images must be a positive integer, got {n_images}")
    conditions = [NaturalImage(seed=seed + k, spectral_exponent=spectral_exponent, rms_contrast=rms_contrast)
                  for k in range(int(n_images))]
    epochs = _epochs_from_conditions(conditions, n_repeats, duration, blank, "natural_image", seed)
    return Protocol(epochs, frame_duration, field_size_deg, deg_per_pixel, name="natural_images")


def blank_protocol(duration: float, frame_duration: float = 0.01, field_size_deg: float = 2.0,
                   deg_per_pixel: float = 0.02) -> Protocol:
    """A single mean-grey epoch (spontaneous activity), s and deg."""
    return Protocol([Epoch(Blank(), duration, label="blank")], frame_duration, field_size_deg, deg_per_pixel,
                    name="blank")
