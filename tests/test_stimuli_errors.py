"""Bad input gives a ConfigError whose one-line message names the field (issue #3)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from analysis.errors import ConfigError, VentralColumnsError
from stimuli import (
    MACAQUE_PARAFOVEAL,
    Blank,
    Edge,
    Epoch,
    FullFieldFlash,
    Grating,
    Protocol,
    SparseNoise,
    StimulusMovie,
    TemporalParams,
    biphasic_temporal_kernel,
    build_lgn_mosaic,
    check_frame_duration,
    generate_lgn_spikes,
    inhomogeneous_poisson,
    make_stimulus,
)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("duration", [0.0, -0.5, math.nan])
def test_non_positive_epoch_duration(duration):
    with pytest.raises(ConfigError, match=r"epochs\[0\]\.duration must be > 0") as exc:
        Protocol([Epoch(Blank(), duration)], 0.01, 1.0, 0.05)
    _one_line(exc)


@pytest.mark.parametrize("kwargs,field", [
    ({"duration_s": 0.0}, "duration_s"),
    ({"duration_s": -1.0}, "duration_s"),
    ({"frame_duration_s": 0.0}, "frame_duration_s"),
    ({"frame_duration_s": -0.01}, "frame_duration_s"),
])
def test_non_positive_movie_durations(kwargs, field):
    args = {"duration_s": 0.1, "frame_duration_s": 0.01, "field_size_deg": 1.0, "deg_per_pixel": 0.05} | kwargs
    with pytest.raises(ConfigError, match=field) as exc:
        StimulusMovie(Blank(), **args)
    _one_line(exc)


def test_negative_blank_and_fractional_frames():
    with pytest.raises(ConfigError, match=r"epochs\[1\]\.blank_after must be >= 0"):
        Protocol([Epoch(Blank(), 0.1), Epoch(Blank(), 0.1, blank_after=-0.1)], 0.01, 1.0, 0.05)
    with pytest.raises(ConfigError, match=r"epochs\[0\]: duration = 0.105 s is not a whole number of frames"):
        Protocol([Epoch(Blank(), 0.105)], 0.01, 1.0, 0.05)
    with pytest.raises(ConfigError, match="noise_frame_duration_s"):
        Protocol([Epoch(SparseNoise(noise_frame_duration_s=0.015), 0.1)], 0.01, 1.0, 0.05)


def test_frame_duration_not_a_multiple_of_dt():
    with pytest.raises(ConfigError, match=r"frame_duration = 0.01 s must be a whole multiple of the simulation step dt = 0.003") as exc:
        check_frame_duration(0.01, 0.003)
    _one_line(exc)
    with pytest.raises(ConfigError, match="dt must be > 0"):
        check_frame_duration(0.01, 0.0)
    # exact multiples pass and return the steps per frame (1/60 s is 1 frame of a 60 Hz screen)
    assert check_frame_duration(1 / 60, 1 / 6000) == 100
    mosaic = build_lgn_mosaic(MACAQUE_PARAFOVEAL, 0.5, 0)
    protocol = Protocol([Epoch(Blank(), 0.1)], 0.01, 0.5, 0.025)
    with pytest.raises(ConfigError, match="frame_duration"):
        generate_lgn_spikes(protocol, mosaic, seed=0, dt=0.0003)


@pytest.mark.parametrize("stimulus,field", [
    (lambda: Grating(contrast=1.5), "contrast must be in \\[-1, 1\\], got 1.5"),
    (lambda: FullFieldFlash(contrast=-2.0), "contrast must be in \\[-1, 1\\], got -2.0"),
    (lambda: SparseNoise(contrast=math.nan), "contrast must be in \\[-1, 1\\]"),
    (lambda: Edge(contrast=-0.5), "contrast of an edge must be in \\[0, 1\\]"),
    (lambda: Edge(polarity=2), "polarity must be \\+1 or -1"),
    (lambda: Grating(spatial_frequency_cpd=0.0), "spatial_frequency_cpd must be > 0"),
    (lambda: Grating(waveform="sin"), "waveform must be 'sine' or 'square'.*did you mean 'sine'"),
])
def test_bad_stimulus_parameters(stimulus, field):
    with pytest.raises(ConfigError, match=field) as exc:
        stimulus()
    _one_line(exc)


def test_empty_protocol():
    with pytest.raises(ConfigError, match="epochs: a protocol needs at least one epoch") as exc:
        Protocol([], 0.01, 1.0, 0.05)
    _one_line(exc)


def test_unknown_stimulus_type_suggests_nearest():
    with pytest.raises(ConfigError, match=r"unknown stimulus type 'gratin'.*did you mean 'grating'") as exc:
        make_stimulus("gratin", orientation_deg=0.0)
    _one_line(exc)
    with pytest.raises(ConfigError, match=r"unknown parameter 'orientation'.*did you mean 'orientation_deg'"):
        make_stimulus("grating", orientation=0.0)
    doc = Protocol([Epoch(Blank(), 0.1)], 0.01, 1.0, 0.05).describe()
    doc["epochs"][0]["stimulus"]["kind"] = "sparse_nois"
    with pytest.raises(ConfigError, match=r"epochs\[0\]\.stimulus: unknown stimulus type.*'sparse_noise'"):
        Protocol.from_description(doc)


@pytest.mark.parametrize("grating", [
    Grating(aperture_diameter_deg=1.2),
    Grating(aperture_diameter_deg=0.4, aperture_x_deg=0.4),
    Grating(aperture_diameter_deg=0.4, aperture_y_deg=-0.31),
])
def test_aperture_outside_the_field(grating):
    with pytest.raises(ConfigError, match=r"epochs\[0\]: grating: aperture .* lies outside the field of 1.0 deg") as exc:
        Protocol([Epoch(grating, 0.1)], 0.01, 1.0, 0.05)
    _one_line(exc)
    # the same aperture inside a larger field is fine (|centre| + radius <= half field)
    assert Protocol([Epoch(grating, 0.1)], 0.01, 3.0, 0.05).n_frames == 10


def test_other_bad_inputs():
    with pytest.raises(ConfigError, match="field_size_deg = 1.0 must be a whole number of pixels"):
        StimulusMovie(Blank(), 0.1, 0.01, 1.0, 0.03)
    with pytest.raises(ConfigError, match="rebound_time_s must be > peak_time_s"):
        biphasic_temporal_kernel(TemporalParams(0.04, 0.03, 0.5), 0.001)
    with pytest.raises(ConfigError, match="rates must be finite and >= 0"):
        inhomogeneous_poisson(np.full((2, 3), -1.0), 0.001)
    with pytest.raises(ConfigError, match="seed must be a non-negative int, SeedSequence or Generator"):
        inhomogeneous_poisson(np.full((2, 3), 1.0), 0.001, seed=-3)
    with pytest.raises(ConfigError, match="field_size_deg = 0.01 deg is too small"):
        build_lgn_mosaic(MACAQUE_PARAFOVEAL, 0.01, 0)
    mosaic = build_lgn_mosaic(MACAQUE_PARAFOVEAL, 1.0, 0)
    with pytest.raises(ConfigError, match="unknown LGN population 'lgn_of'.*did you mean 'lgn_off'"):
        mosaic.node_table("lgn_of")
    # every error is a VentralColumnsError (and a ValueError), so callers can catch one type
    assert issubclass(ConfigError, VentralColumnsError) and issubclass(ConfigError, ValueError)


def test_stimuli_never_imports_brian2():
    # DESIGN §3: stimuli is numpy + scipy only
    code = "import sys, stimuli, stimuli.lgn, stimuli.spike_generation; print('brian2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
