"""Stimulus movies and protocols against their defining formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.errors import ConfigError
from analysis.spiketrains import validate_table
from stimuli import (
    BinaryNoise,
    Blank,
    CenterSurroundGrating,
    Edge,
    Epoch,
    FlashedBar,
    FullFieldFlash,
    GaussianNoise,
    Grating,
    MovingBar,
    NaturalImage,
    Protocol,
    SparseNoise,
    StimulusGrid,
    StimulusMovie,
    context_protocol,
    edge_protocol,
    natural_image_protocol,
    orientation_tuning_protocol,
    sparse_noise_protocol,
    variability_protocol,
)

GRID = StimulusGrid(1.0, 0.02)


def test_grid_coordinates():
    # pixel centres: x = -F/2 + (j + 1/2) p, y = F/2 - (i + 1/2) p (the documented convention)
    assert GRID.n_pixels == 50
    assert GRID.x_deg[0] == pytest.approx(-0.49) and GRID.y_deg[0] == pytest.approx(0.49)
    assert GRID.x_deg[-1] == pytest.approx(0.49) and GRID.y_deg[-1] == pytest.approx(-0.49)


@pytest.mark.parametrize("orientation", [0.0, 30.0, 90.0, 135.0])
def test_drifting_sine_grating_matches_formula(orientation):
    f, tf, phase, c, fd = 2.5, 3.0, 40.0, 0.8, 0.01
    g = Grating(orientation_deg=orientation, spatial_frequency_cpd=f, temporal_frequency_hz=tf, phase_deg=phase,
                contrast=c)
    frames = g.render(GRID, np.arange(5), fd)
    x, y = GRID.mesh()
    theta = math.radians(orientation)
    u = -x * math.sin(theta) + y * math.cos(theta)  # along the normal of the bars
    for k in range(5):
        expected = c * np.cos(2 * np.pi * (f * u - tf * k * fd) + math.radians(phase))
        # definition of a drifting grating (exact up to double rounding)
        np.testing.assert_allclose(frames[k], expected, atol=1e-12)


def test_square_grating_and_aperture():
    g = Grating(orientation_deg=0.0, spatial_frequency_cpd=2.0, contrast=0.5, waveform="square",
                aperture_diameter_deg=0.6, aperture_x_deg=0.1, aperture_y_deg=-0.1)
    frame = g.render(GRID, [0], 0.01)[0]
    x, y = GRID.mesh()
    inside = (x - 0.1) ** 2 + (y + 0.1) ** 2 <= 0.09
    # outside the aperture: mean grey, exactly 0
    assert np.all(frame[~inside] == 0)
    # inside: +-contrast (square wave); both values present
    assert set(np.unique(frame[inside])) == {-0.5, 0.5}


def test_center_surround_grating_contexts():
    common = {"orientation_deg": 30.0, "spatial_frequency_cpd": 2.0, "phase_deg": 45.0, "center_diameter_deg": 0.4}
    x, y = GRID.mesh()
    centre = x**2 + y**2 <= 0.04
    full = Grating(orientation_deg=30.0, spatial_frequency_cpd=2.0, phase_deg=45.0).render(GRID, [0, 3], 0.01)
    # iso: the surround continues the centre grating, so the frame is the full-field grating
    iso = CenterSurroundGrating(surround_orientation_deg=30.0, **common).render(GRID, [0, 3], 0.01)
    np.testing.assert_array_equal(iso, full)
    # no context: the centre grating in its aperture, mean grey around it
    alone = CenterSurroundGrating(surround_contrast=0.0, **common).render(GRID, [0], 0.01)[0]
    np.testing.assert_array_equal(alone, Grating(aperture_diameter_deg=0.4, orientation_deg=30.0,
                                                 spatial_frequency_cpd=2.0, phase_deg=45.0).render(GRID, [0], 0.01)[0])
    # cross: the centre as before, the surround the orthogonal grating
    cross = CenterSurroundGrating(surround_orientation_deg=120.0, **common).render(GRID, [0], 0.01)[0]
    other = Grating(orientation_deg=120.0, spatial_frequency_cpd=2.0, phase_deg=45.0).render(GRID, [0], 0.01)[0]
    np.testing.assert_array_equal(cross[centre], full[0][centre])
    np.testing.assert_array_equal(cross[~centre], other[~centre])
    with pytest.raises(ConfigError, match="surround_diameter_deg must exceed center_diameter_deg"):
        CenterSurroundGrating(center_diameter_deg=0.5, surround_diameter_deg=0.5)
    with pytest.raises(ConfigError, match="aperture"):
        CenterSurroundGrating(center_diameter_deg=0.4, center_x_deg=0.4).validate(GRID, 0.01)


def test_edge_polarity_and_position():
    edge = Edge(orientation_deg=0.0, polarity=1, position_deg=0.2, contrast=0.7)
    frame = edge.render(GRID, [0], 0.01)[0]
    _, y = GRID.mesh()
    # orientation 0: normal +y; polarity +1 bright above the contour y = 0.2 (definition)
    assert np.all(frame[y > 0.2] == 0.7) and np.all(frame[y < 0.2] == -0.7)
    flipped = Edge(orientation_deg=0.0, polarity=-1, position_deg=0.2, contrast=0.7).render(GRID, [0], 0.01)[0]
    np.testing.assert_array_equal(flipped, -frame)


def test_flashed_bar_area_and_timing():
    bar = FlashedBar(orientation_deg=90.0, width_deg=0.1, length_deg=0.6, contrast=-1.0, onset_s=0.02,
                     flash_duration_s=0.03)
    frames = bar.render(GRID, np.arange(8), 0.01)
    on = np.abs(frames).sum(axis=(1, 2)) > 0
    # on exactly during frames 2, 3, 4 (onset 20 ms, 30 ms long, 10 ms frames)
    assert on.tolist() == [False, False, True, True, True, False, False, False]
    # area: width x length / pixel area = 0.06 / 0.0004 = 150 pixels, +-1 row/column of pixels
    n_lit = np.sum(frames[2] == -1.0)
    assert abs(n_lit - 150) <= 0.6 / 0.02 + 0.1 / 0.02 + 1


def test_moving_bar_speed():
    bar = MovingBar(orientation_deg=90.0, width_deg=0.06, speed_deg_per_s=2.0, start_position_deg=-0.3)
    frames = bar.render(GRID, np.arange(20), 0.01)
    x, _ = GRID.mesh()
    # the normal of a vertical bar is -x: the centroid moves along -x at 2 deg/s
    centroids = [x[f > 0].mean() for f in frames]
    slope = np.polyfit(np.arange(20) * 0.01, centroids, 1)[0]
    # speed from the definition, within one pixel over the 0.19 s fit (0.02 / 0.19 deg/s)
    assert slope == pytest.approx(-2.0, abs=0.11)


def test_sparse_noise_statistics_and_blocks():
    noise = SparseNoise(dot_size_deg=0.05, density=0.1, contrast=0.8, noise_frame_duration_s=0.03, seed=7)
    movie = StimulusMovie(noise, 6.0, 0.01, 1.0, 0.025)
    frames = movie.to_array()
    values = set(np.unique(frames).tolist())
    assert values <= {-0.8, 0.0, 0.8}
    # each noise frame lasts 3 frames (30 ms / 10 ms)
    np.testing.assert_array_equal(frames[0], frames[2])
    assert not np.array_equal(frames[2], frames[3])
    lit = frames[::3, ::2, ::2] != 0  # one sample per 0.05-deg dot
    # binomial: density 0.1 over 200 x 400 dots, s.d. 0.001 -> 0.005 is 5 s.d.
    assert lit.mean() == pytest.approx(0.1, abs=0.005)
    # bright and dark equally likely (binomial, s.d. ~0.006 -> 0.03 is 5 s.d.)
    assert (frames[::3, ::2, ::2] > 0).sum() / lit.sum() == pytest.approx(0.5, abs=0.03)
    # rendering in blocks gives the very same frames
    blocks = np.concatenate([f for _, f in movie.iter_frames(7)])
    np.testing.assert_array_equal(blocks, frames)


def test_dense_noise_statistics():
    binary = StimulusMovie(BinaryNoise(check_size_deg=0.05, contrast=0.6, noise_frame_duration_s=0.01, seed=1),
                           2.0, 0.01, 1.0, 0.05).to_array()
    assert set(np.unique(binary).tolist()) == {-0.6, 0.6}
    # mean 0 (symmetric), n = 80,000 checks, s.d. of the mean 0.6/283 = 0.002 -> 0.01
    assert binary.mean() == pytest.approx(0.0, abs=0.01)
    gauss = StimulusMovie(GaussianNoise(check_size_deg=0.05, contrast=0.25, noise_frame_duration_s=0.01, seed=1),
                          2.0, 0.01, 1.0, 0.05).to_array()
    # s.d. = contrast (clipping at 4 s.d. removes < 1e-4 of the mass), relative s.e. 0.25 %
    assert gauss.std() == pytest.approx(0.25, rel=0.02)


def test_full_field_flash_and_blank():
    flash = FullFieldFlash(contrast=-0.5, onset_s=0.05, flash_duration_s=0.02).render(GRID, np.arange(10), 0.01)
    # frames 5 and 6 are -0.5 everywhere, the others 0 (definition)
    assert flash[:, 0, 0].tolist() == [0, 0, 0, 0, 0, -0.5, -0.5, 0, 0, 0]
    assert np.all(flash == flash[:, :1, :1])
    assert np.all(Blank().render(GRID, np.arange(3), 0.01) == 0)


def test_natural_image_has_1_over_f_spectrum():
    grid = StimulusGrid(6.4, 0.025)  # 256 px
    alpha = 1.0
    image = NaturalImage(seed=4, spectral_exponent=alpha, rms_contrast=0.2).image(grid)
    # rms contrast 0.2 (clipping at 5 s.d. is negligible), zero mean
    assert image.std() == pytest.approx(0.2, rel=0.01)
    assert abs(image.mean()) < 1e-3
    power = np.abs(np.fft.fft2(image)) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(256, 0.025), np.fft.fftfreq(256, 0.025)))
    bins = np.geomspace(0.3, 15, 15)
    idx = np.digitize(f.ravel(), bins)
    centres, means = [], []
    for k in range(1, bins.size):
        sel = idx == k
        centres.append(np.sqrt(bins[k - 1] * bins[k]))
        means.append(power.ravel()[sel].mean())
    slope = np.polyfit(np.log(centres), np.log(means), 1)[0]
    # power spectrum ~ f^(-2 alpha) (Field 1987), slope within 0.1
    assert slope == pytest.approx(-2 * alpha, abs=0.1)
    # seeded: the same seed gives the same image, another seed a different one
    assert np.array_equal(image, NaturalImage(seed=4, rms_contrast=0.2).image(grid))
    assert not np.array_equal(image, NaturalImage(seed=5, rms_contrast=0.2).image(grid))


def _protocol() -> Protocol:
    return Protocol(
        [
            Epoch(Grating(temporal_frequency_hz=2.0, aperture_diameter_deg=math.inf), 0.05, blank_after=0.02,
                  trial=0, condition=3),
            Epoch(SparseNoise(seed=2, noise_frame_duration_s=0.02), 0.04, trial=1, condition=0),
            Epoch(Edge(polarity=-1, position_deg=0.1), 0.03, blank_after=0.01, trial=0, condition=1),
        ],
        0.01, 1.0, 0.05, name="mixed",
    )


def test_protocol_frames_trials_and_description():
    p = _protocol()
    # 5 + 2 + 4 + 3 + 1 frames
    assert p.n_frames == 15 and p.duration == pytest.approx(0.15)
    frames = p.to_array()
    np.testing.assert_array_equal(frames[:5], p.epochs[0].stimulus.render(p.grid, np.arange(5), 0.01))
    assert np.all(frames[5:7] == 0)  # the blank after epoch 0
    np.testing.assert_array_equal(frames[7:11], p.epochs[1].stimulus.render(p.grid, np.arange(4), 0.01))
    assert np.all(frames[14] == 0)
    table = p.trials_table()
    validated = validate_table("trials", table)  # what analysis.hdf5_io writes to /trials
    assert validated["start"].tolist() == pytest.approx([0.0, 0.07, 0.11])
    assert validated["stop"].tolist() == pytest.approx([0.05, 0.11, 0.14])
    assert table["condition"].tolist() == [3, 0, 1] and table["trial"].tolist() == [0, 1, 0]
    assert table["stimulus"].tolist() == ["grating", "sparse_noise", "edge"]
    # parameters that do not apply are NaN
    assert table["polarity"][2] == -1 and np.isnan(table["polarity"][0])
    assert np.isnan(table["spatial_frequency_cpd"][1]) and table["spatial_frequency_cpd"][0] == 2.0
    assert table["waveform"].tolist() == ["sine", "", ""]
    # JSON round trip regenerates the frames exactly (seeds included)
    doc = json.loads(json.dumps(p.describe(), allow_nan=False))  # strict JSON (inf written as "inf")
    again = Protocol.from_description(doc)
    np.testing.assert_array_equal(again.to_array(), frames)
    # block rendering equals one-shot rendering
    np.testing.assert_array_equal(np.concatenate([f for _, f in p.iter_frames(4)]), frames)


def test_protocol_builders():
    ori = orientation_tuning_protocol(n_orientations=12, phases_deg=(0, 180), contrasts=(0.5, 1.0), n_repeats=3,
                                      field_size_deg=1.0, deg_per_pixel=0.05)
    table = ori.trials_table()
    # 12 x 2 x 2 conditions x 3 repeats; each condition exactly n_repeats times
    assert len(ori.epochs) == 144
    assert np.bincount(table["condition"]).tolist() == [3] * 48
    assert sorted(set(table["orientation_deg"].tolist())) == pytest.approx([15.0 * k for k in range(12)])
    edges = edge_protocol(n_orientations=8, polarities=(1, -1), positions_deg=(-0.2, 0, 0.2), n_repeats=2,
                          field_size_deg=1.0, deg_per_pixel=0.05)
    # DESIGN §5 P1: 8 orientations x 2 polarities x positions
    assert len(edges.epochs) == 8 * 2 * 3 * 2
    var = variability_protocol(field_size_deg=1.0, deg_per_pixel=0.05)
    # DESIGN §5 P2: >= 100 repeats of the same stimulus
    assert np.bincount(var.trials_table()["condition"]).tolist() == [100]
    context = context_protocol(n_orientations=4, phases_deg=(0, 180), n_repeats=2, field_size_deg=1.0,
                               deg_per_pixel=0.05, center_diameter_deg=0.4)
    table = context.trials_table()
    # DESIGN §5 P3 context pairs: 4 orientations x 2 phases x (centre alone, iso, cross) x 2 repeats
    assert len(context.epochs) == 48 and np.bincount(table["condition"]).tolist() == [2] * 24
    centre_only = table["label"] == "context_center"
    assert centre_only.sum() == 16 and np.all(table["surround_contrast"][centre_only] == 0)
    iso, cross = table["label"] == "context_iso", table["label"] == "context_cross"
    np.testing.assert_array_equal(table["surround_orientation_deg"][iso], table["orientation_deg"][iso])
    np.testing.assert_allclose((table["surround_orientation_deg"][cross] - table["orientation_deg"][cross]) % 180, 90)
    with pytest.raises(ConfigError, match="unknown context 'isso'.*did you mean 'iso'"):
        context_protocol(contexts=("isso",))
    nat = natural_image_protocol(n_images=4, n_repeats=5, field_size_deg=1.0, deg_per_pixel=0.05)
    assert np.bincount(nat.trials_table()["condition"]).tolist() == [5, 5, 5, 5]


def test_twenty_minute_sparse_noise_protocol_is_lazy():
    p = sparse_noise_protocol(duration=1200.0, trial_duration=10.0, field_size_deg=2.0, deg_per_pixel=0.02)
    # 20 min at 100 frames/s = 120,000 frames of 100 x 100 px, i.e. 9.6 GB as one float64
    # array: it must never be built. Rendering the last block alone is possible.
    assert p.n_frames == 120_000 and len(p.epochs) == 120
    last = p.frames(p.n_frames - 10, p.n_frames)
    assert last.shape == (10, 100, 100)
    # trials have distinct seeds derived from the master seed (SeedSequence.spawn)
    seeds = p.trials_table()["seed"]
    assert np.unique(seeds).size == 120


def test_noise_arrays_regenerate_the_frames():
    p = _protocol()  # one sparse-noise epoch of 4 frames with 20-ms noise frames
    arrays = p.noise_arrays()
    patterns = arrays["noise_patterns"]
    # 40 ms / 20 ms = 2 noise frames, from the epoch's start at 0.07 s
    assert patterns.shape[0] == 2
    assert arrays["noise_onsets_s"].tolist() == pytest.approx([0.07, 0.09])
    assert arrays["noise_epoch"].tolist() == [1, 1]
    # expanding each check over its pixels gives the rendered frames exactly (0.2-deg dots, 0.05-deg pixels)
    per = int(round(arrays["noise_check_size_deg"][0] / p.deg_per_pixel))
    expanded = np.repeat(np.repeat(patterns, per, axis=1), per, axis=2)[:, :p.grid.n_pixels, :p.grid.n_pixels]
    frames = p.to_array()
    np.testing.assert_array_equal(expanded[0], frames[7].astype(np.float32))
    np.testing.assert_array_equal(expanded[1], frames[9].astype(np.float32))
    # no noise epoch: nothing to store
    assert Protocol([Epoch(Blank(), 0.1)], 0.01, 1.0, 0.05).noise_arrays() == {}
