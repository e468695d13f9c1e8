"""The retina/LGN LN model against analytic results: STA, SF tuning, flash response, rates, ON/OFF.

The spike-triggered average is computed here with plain numpy (independent of the
analysis package's STA).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import optimize

from stimuli import (
    MACAQUE_PARAFOVEAL,
    MACAQUE_PARAFOVEAL_MAGNO_PARVO,
    MOUSE,
    PARVO,
    BinaryNoise,
    Blank,
    Edge,
    Epoch,
    FullFieldFlash,
    GaussianNoise,
    Grating,
    LGNMosaic,
    LGNParams,
    Protocol,
    SpatialParams,
    StimulusMovie,
    apply_nonlinearity,
    build_lgn_mosaic,
    dog_peak_frequency,
    dog_transfer_function,
    generate_lgn_spikes,
    lgn_drive,
    lgn_rates,
)
from stimuli.retina import difference_of_gaussians_kernel


def _two_cell_mosaic(params: LGNParams, field: float, x=(0.0, 0.0), y=(0.0, 0.0)) -> LGNMosaic:
    name = params.channels[0].name
    return LGNMosaic(np.array(x, float), np.array(y, float), np.array([1, -1]), np.array([name, name]), field, params)


# --- STA under white noise -------------------------------------------------------------------

STA_CHANNEL = replace(
    PARVO,
    spatial=SpatialParams(0.08, 0.2, 0.55),
    # a high baseline and gain give many spikes and a strong modulation: the STA noise
    # per pixel falls as 1/sqrt(n_spikes)
    nonlinearity=replace(PARVO.nonlinearity, baseline_rate_hz=80.0, gain_hz=2000.0, max_rate_hz=math.inf),
)
STA_PARAMS = LGNParams(channels=(STA_CHANNEL,), name="sta_test")


def _pixel_dog(grid, x0, y0, sigma_c, sigma_s, weight, amplitude):
    """Pixel-integrated DoG centred at (x0, y0) on the grid (independent of the model's kernel path)."""
    from scipy.special import ndtr

    edges_x = -grid.field_size_deg / 2 + np.arange(grid.n_pixels + 1) * grid.deg_per_pixel
    edges_y = grid.field_size_deg / 2 - np.arange(grid.n_pixels + 1) * grid.deg_per_pixel
    out = 0.0
    for sigma, w in ((sigma_c, 1.0), (sigma_s, -weight)):
        wx = np.diff(ndtr((edges_x - x0) / sigma))
        wy = -np.diff(ndtr((edges_y - y0) / sigma))
        out = out + w * np.outer(wy, wx)
    return amplitude * out


@pytest.fixture(scope="module")
def white_noise_sta():
    field, dpp, frame = 1.2, 0.06, 0.02
    mosaic = _two_cell_mosaic(STA_PARAMS, field, x=(0.05, -0.1), y=(-0.07, 0.12))
    protocol = Protocol([Epoch(BinaryNoise(check_size_deg=dpp, contrast=1.0, noise_frame_duration_s=frame,
                                           seed=3), 400.0)], frame, field, dpp)
    spikes = generate_lgn_spikes(protocol, mosaic, STA_PARAMS, seed=5, time_step=frame, block_frames=2000)
    frames = protocol.to_array().reshape(protocol.n_frames, -1)
    n_lags = 8
    stas = {}
    for pop in ("lgn_on", "lgn_off"):
        st = spikes[pop]
        counts = np.bincount((st.times / frame).astype(np.int64), minlength=protocol.n_frames)[: protocol.n_frames]
        sta = np.stack([counts[lag:] @ frames[: protocol.n_frames - lag] for lag in range(n_lags)]) / counts.sum()
        stas[pop] = sta
    return protocol, mosaic, stas


@pytest.mark.parametrize("population,cell", [("lgn_on", 0), ("lgn_off", 1)])
def test_sta_recovers_dog_centre_size_and_sign(white_noise_sta, population, cell):
    protocol, mosaic, stas = white_noise_sta
    grid = protocol.grid
    sta = stas[population]
    # spatial profile: the STA at the lag of largest variance plus its neighbours of the
    # same sign (rank-1 SVD of lags x pixels; Chichilnisky 2001 separable STA)
    u, s, vt = np.linalg.svd(sta, full_matrices=False)
    spatial = vt[0] * np.sign(u[np.argmax(np.abs(u[:, 0])), 0])
    spatial = spatial.reshape(grid.n_pixels, grid.n_pixels)
    true = mosaic.sign[cell] * _pixel_dog(grid, mosaic.x_deg[cell], mosaic.y_deg[cell],
                                          0.08, 0.2, 0.55, 1.0)
    r = np.corrcoef(spatial.ravel(), true.ravel())[0, 1]
    # issue #3 acceptance: correlation with the true kernel >= 0.9 (the STA of an LN unit
    # driven by white noise is proportional to its linear filter; Chichilnisky 2001)
    assert r >= 0.9, r

    def model(xy, x0, y0, sc, amp):
        return _pixel_dog(grid, x0, y0, sc, 0.2, 0.55, amp).ravel()

    p0 = (0.0, 0.0, 0.1, float(np.sign(spatial.ravel()[np.argmax(np.abs(spatial))]) * np.abs(spatial).max() * 3))
    popt, _ = optimize.curve_fit(model, None, spatial.ravel(), p0=p0)
    x0, y0, sc, amp = popt
    # centre within half a pixel (0.03 deg) of the cell's true position (mosaic coordinates)
    assert abs(x0 - mosaic.x_deg[cell]) < 0.5 * grid.deg_per_pixel
    assert abs(y0 - mosaic.y_deg[cell]) < 0.5 * grid.deg_per_pixel
    # centre sigma within 15 % of the configured 0.08 deg (STA_CHANNEL)
    assert sc == pytest.approx(0.08, rel=0.15)
    # sign: ON cells have a positive centre, OFF cells a negative one (mosaic.sign)
    assert np.sign(amp) == mosaic.sign[cell]


# --- spatial-frequency tuning ---------------------------------------------------------------


def test_spatial_frequency_tuning_peaks_at_analytic_dog_peak():
    params = MACAQUE_PARAFOVEAL
    spatial = params.channels[0].spatial
    f_peak = dog_peak_frequency(spatial)  # analytic: sqrt(ln(w s_s^2/s_c^2) / (2 pi^2 (s_s^2 - s_c^2)))
    field, dpp, frame = 3.0, 0.02, 0.01
    mosaic = _two_cell_mosaic(params, field)
    freqs = np.geomspace(0.25, 12.0, 37)
    tf = 4.0
    f1_rate, f1_drive = [], []
    for f in freqs:
        movie = StimulusMovie(Grating(spatial_frequency_cpd=f, temporal_frequency_hz=tf), 0.5, frame, field, dpp)
        drive = lgn_drive(movie, mosaic)
        rates = apply_nonlinearity(drive, mosaic)[0]
        t = (np.arange(rates.size) + 0.5) * frame
        window = t >= 0.25  # one full cycle after the kernel's transient
        phasor = np.exp(-2j * np.pi * tf * t[window])
        f1_rate.append(2 * abs(np.mean(rates[window] * phasor)))
        f1_drive.append(2 * abs(np.mean(drive[0, window] * phasor)))
    f1_rate, f1_drive = np.array(f1_rate), np.array(f1_drive)
    k = int(np.argmax(f1_rate))
    # band-pass: both ends fall below the peak. Analytic ratios |D(f)|/|D(f_peak)| are 0.54
    # at 0.25 cpd and 0.03 at 12 cpd; rectification compresses them, hence 0.8 and 0.5
    assert 0 < k < freqs.size - 1
    assert f1_rate[0] < 0.8 * f1_rate[k] and f1_rate[-1] < 0.5 * f1_rate[k]
    # sub-grid peak: parabola through the three samples around the maximum, in log f
    lf = np.log(freqs[k - 1:k + 2])
    a, b, _ = np.polyfit(lf, f1_rate[k - 1:k + 2], 2)
    measured = math.exp(-b / (2 * a))
    # issue #3: within 10 % of the analytic DoG peak
    assert measured == pytest.approx(f_peak, rel=0.10)
    # the linear stage follows the analytic transfer function (Enroth-Cugell & Robson 1966)
    # times the pixel box's sinc (the kernel is integrated over pixels; the grating varies
    # along one axis), within 2 % of its peak (finite field, truncated surround)
    analytic = np.abs(dog_transfer_function(freqs, spatial) * np.sinc(freqs * dpp))
    scale = f1_drive.max() / analytic.max()
    np.testing.assert_allclose(f1_drive / scale, analytic, rtol=0, atol=0.02 * analytic.max())


# --- full-field flash -------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [0, 1])
def test_full_field_flash_response_is_biphasic_with_configured_peak_time(channel):
    params = MACAQUE_PARAFOVEAL_MAGNO_PARVO
    ch = params.channels[channel]
    one = LGNParams(channels=(ch,), name="one")
    field, dpp, frame = 1.0, 0.05, 0.001
    mosaic = _two_cell_mosaic(one, field)
    onset = 0.05
    movie = StimulusMovie(FullFieldFlash(contrast=1.0, onset_s=onset, flash_duration_s=frame), 0.4, frame, field, dpp)
    rates = lgn_rates(movie, mosaic)
    baseline = ch.nonlinearity.baseline_rate_hz
    on, off = rates[0] - baseline, rates[1] - baseline
    t_mid = (np.arange(on.size) + 0.5) * frame - onset  # bin centres relative to the flash
    peak = t_mid[np.argmax(on)]
    # issue #3: peak time = configured peak_time_s within 2 ms (the kernel is built so that
    # its continuous peak is exact; binning at 1 ms adds at most 1 ms)
    assert peak == pytest.approx(ch.temporal.peak_time_s, abs=0.002)
    # biphasic: after the positive peak the response dips below baseline, with its trough at
    # the configured rebound time (within 3 ms: the trough is broad)
    trough = t_mid[np.argmin(on)]
    assert on.min() < -0.05 * on.max()
    assert trough == pytest.approx(ch.temporal.rebound_time_s, abs=0.003)
    # the OFF cell at the same place mirrors it (linear regime: no rectification here)
    np.testing.assert_allclose(off, -on, atol=1e-9)


# --- rates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("params,field", [(MACAQUE_PARAFOVEAL, 2.0), (MACAQUE_PARAFOVEAL_MAGNO_PARVO, 2.0),
                                          (MOUSE, 80.0)])
def test_baseline_and_full_contrast_rates_in_configured_ranges(params, field):
    mosaic = build_lgn_mosaic(params, field, 7)
    dpp = field / 100
    blank = lgn_rates(StimulusMovie(Blank(), 0.2, 0.01, field, dpp), mosaic)
    for c in params.channels:
        sel = mosaic.channel == c.name
        nl = c.nonlinearity
        # mean grey: exactly the configured maintained rate (drive 0)
        np.testing.assert_allclose(blank[sel], nl.baseline_rate_hz, rtol=0, atol=1e-9)
        # ... which lies in the literature range stored with it (stimuli/params.py sources)
        assert nl.baseline_range_hz[0] <= nl.baseline_rate_hz <= nl.baseline_range_hz[1]
        f = dog_peak_frequency(c.spatial)
        tf = 4.0
        movie = StimulusMovie(Grating(spatial_frequency_cpd=f, temporal_frequency_hz=tf, contrast=1.0),
                              1.0, 0.01, field, dpp)
        rates = lgn_rates(movie, mosaic)[sel][:, 50:]  # after the 0.5 s onset transient
        mean = rates.mean()
        # mean driven rate (F0) of an optimal full-contrast grating inside the configured
        # literature range (params.driven_range_hz, sources in stimuli/params.py)
        assert nl.driven_range_hz[0] <= mean <= nl.driven_range_hz[1], (c.name, mean)
        assert mean > nl.baseline_rate_hz


def test_on_and_off_cells_respond_with_opposite_signs_to_the_same_edge():
    params = MACAQUE_PARAFOVEAL
    field, dpp = 2.0, 0.02
    mosaic = build_lgn_mosaic(params, field, 3)
    sigma_c = params.channels[0].spatial.sigma_center_deg
    # vertical contour (orientation 90 deg): normal (-1, 0), so polarity +1 is bright at x < 0
    edge = Edge(orientation_deg=90.0, polarity=1, position_deg=0.0, contrast=1.0, onset_s=0.1)
    movie = StimulusMovie(edge, 0.3, 0.01, field, dpp)
    drive = lgn_drive(movie, mosaic)
    response = drive[:, 10:16].mean(axis=1)  # 0-60 ms after onset: the positive lobe at 40 ms
    near_bright = (mosaic.x_deg < -0.5 * sigma_c) & (mosaic.x_deg > -3 * sigma_c) & (np.abs(mosaic.y_deg) < 0.6)
    on = near_bright & (mosaic.sign > 0)
    off = near_bright & (mosaic.sign < 0)
    assert on.sum() >= 5 and off.sum() >= 5
    # ON cells on the bright side are excited, OFF cells there inhibited (sign of the DoG
    # centre times the sign of the cell), every one of them
    assert np.all(response[on] > 0) and np.all(response[off] < 0)
    # an ON and an OFF cell at the same place have exactly opposite drives (linear stage)
    pair = _two_cell_mosaic(params, field, x=(-0.05, -0.05), y=(0.1, 0.1))
    d = lgn_drive(movie, pair)
    np.testing.assert_allclose(d[0], -d[1], atol=1e-12)
    # reversing the polarity reverses the response (linearity)
    flipped = lgn_drive(StimulusMovie(replace(edge, polarity=-1), 0.3, 0.01, field, dpp), pair)
    np.testing.assert_allclose(flipped, -d, atol=1e-12)


# --- block-wise filtering ---------------------------------------------------------------------


def _mixed_protocol() -> Protocol:
    return Protocol(
        [
            Epoch(Grating(temporal_frequency_hz=3.0, spatial_frequency_cpd=1.5), 0.13, blank_after=0.05),
            Epoch(GaussianNoise(check_size_deg=0.1, noise_frame_duration_s=0.02, seed=4), 0.1),
            Epoch(FullFieldFlash(contrast=-0.7, onset_s=0.02, flash_duration_s=0.03), 0.09, blank_after=0.04),
        ],
        0.01, 1.0, 0.05,
    )


@pytest.mark.parametrize("time_step", [None, 0.002])
def test_blockwise_filtering_equals_one_shot(time_step):
    protocol = _mixed_protocol()
    mosaic = build_lgn_mosaic(MACAQUE_PARAFOVEAL_MAGNO_PARVO, 1.0, 2)
    one_shot = lgn_rates(protocol, mosaic, block_frames=protocol.n_frames, time_step=time_step)
    for block in (1, 7, 23):
        blockwise = lgn_rates(protocol, mosaic, block_frames=block, time_step=time_step)
        # issue #3: identical to 1e-10 Hz (FFT rounding is ~1e-13 Hz at these rates)
        np.testing.assert_allclose(blockwise, one_shot, rtol=0, atol=1e-10)
    # the filter's memory matters: the blank after the grating is not at baseline
    assert np.ptp(one_shot[:, 13:18]) > 1.0


def test_spatial_kernel_matches_direct_sum_over_pixels():
    # the FFT path equals sum(kernel * frame) at a cell sitting on a pixel centre
    params = MACAQUE_PARAFOVEAL
    field, dpp = 1.0, 0.025
    mosaic = _two_cell_mosaic(params, field, x=(0.0125, 0.0125), y=(-0.0125, -0.0125))
    frame = GaussianNoise(check_size_deg=dpp, seed=9).render(StimulusMovie(Blank(), 0.01, 0.01, field, dpp).grid,
                                                             [0], 0.01)
    kernel = difference_of_gaussians_kernel(params.channels[0].spatial, dpp)
    m = kernel.shape[0] // 2
    padded = np.zeros((40 + 2 * m, 40 + 2 * m))
    padded[m:m + 40, m:m + 40] = frame[0]
    row, col = 20, 20  # pixel whose centre is (0.0125, -0.0125)
    direct = np.sum(padded[row:row + 2 * m + 1, col:col + 2 * m + 1] * kernel)
    from stimuli import LGNFilter

    filt = LGNFilter(mosaic, StimulusMovie(Blank(), 0.01, 0.01, field, dpp).grid, 0.01)
    spatial = filt.spatial_drive(frame)
    # FFT convolution vs direct sum: equal to double-precision rounding (1e-12)
    assert spatial[0, 0] == pytest.approx(direct, abs=1e-12)
    assert spatial[1, 0] == pytest.approx(-direct, abs=1e-12)


def test_mosaic_density_and_node_table():
    params = MACAQUE_PARAFOVEAL_MAGNO_PARVO
    field = 2.0
    mosaic = build_lgn_mosaic(params, field, 11)
    for pop in mosaic.populations:
        table = mosaic.node_table(pop)
        n = mosaic.n_nodes(pop)
        assert set(table) >= {"x_deg", "y_deg", "sign", "sigma_center_deg", "sigma_surround_deg", "channel"}
        assert all(v.shape == (n,) for v in table.values())
        for c in params.channels:
            count = np.sum(table["channel"] == c.name)
            # a lattice of spacing 1/sqrt(density) in a square of side F holds F^2 density
            # cells within one row/column of lattice points: |count - F^2 d| <= 2 F sqrt(d) + 1
            expected = field**2 * c.density_per_deg2
            assert abs(count - expected) <= 2 * field * math.sqrt(c.density_per_deg2) + 1
        assert np.all(np.abs(table["x_deg"]) <= field / 2) and np.all(np.abs(table["y_deg"]) <= field / 2)
    # seeded: the same seed gives the same mosaic, another seed a different one
    again = build_lgn_mosaic(params, field, 11)
    other = build_lgn_mosaic(params, field, 12)
    assert np.array_equal(again.x_deg, mosaic.x_deg)
    assert not np.array_equal(other.x_deg[:10], mosaic.x_deg[:10])


def test_mosaic_capacity_bounds_every_seed_and_is_reached():
    from stimuli.lgn import mosaic_capacity

    # The bound is the full lattice (side^2 per lattice); 200 seeds never exceed it, and
    # it is tight: the largest drawn mosaic is within one row+column per lattice of it.
    counts = [build_lgn_mosaic(field_size_deg=1.0, rng_or_seed=s).n_cells for s in range(200)]
    cap = mosaic_capacity(field_size_deg=1.0)
    assert max(counts) <= cap
    side = math.isqrt(cap // 2)  # one channel (parvo) x 2 signs in the default preset
    assert cap - max(counts) <= 2 * (2 * side - 1)
