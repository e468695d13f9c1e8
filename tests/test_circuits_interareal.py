"""Wiring rules between stations: sampling statistics, sign matching, pooling and the shuffle control."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import ConfigError
from circuits.interareal import (
    broad_pooling_affinity,
    feature_pooling_affinity,
    gabor_templates,
    hubel_wiesel_affinity,
    sample_fixed_indegree,
    shuffle_targets,
    sign_matching_index,
)


def _lgn(rng, n=600, field=4.0):
    x = rng.uniform(-field / 2, field / 2, n)
    y = rng.uniform(-field / 2, field / 2, n)
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return x, y, sign


def test_gabor_matches_the_grating_convention():
    # At the centre, phase 0 gives +1 (a bright bar at the centre, as stimuli.Grating with phase 0).
    g = gabor_templates([0.0, 0.0, 0.25], [0.0, 0.25, 0.0], [0.0], [0.0], [0.0], [0.0], 1.0, 10.0)
    # Orientation 0 = horizontal bars: the carrier varies along y (normal (0, 1)), not x.
    # cos(2 pi * 1 cpd * 0.25 deg) = cos(pi/2) = 0 along y; along x the value stays at the envelope.
    envelope = np.exp(-(0.25**2) / (2 * 10.0**2))
    np.testing.assert_allclose(g[0], [1.0, 0.0, envelope], atol=1e-12)


def test_sampling_is_exact_in_degree_and_follows_affinity(rng):
    affinity = np.tile(np.array([1.0, 2.0, 3.0, 4.0, 0.0]), (20000, 1))
    i, j = sample_fixed_indegree(affinity, 1, rng)
    assert np.array_equal(np.bincount(j, minlength=20000), np.ones(20000))
    freq = np.bincount(i, minlength=5) / i.size
    # With in-degree 1 the draw is categorical with p = a / sum(a) = [0.1, 0.2, 0.3, 0.4, 0];
    # 20000 draws give a binomial s.d. <= 0.0035, so 0.015 is > 4 s.d.
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4, 0.0], atol=0.015)
    i3, j3 = sample_fixed_indegree(affinity[:50], 3, rng)
    pairs = set(zip(j3.tolist(), i3.tolist()))
    assert len(pairs) == 150 and not np.any(i3 == 4)  # distinct sources, never a zero-affinity one


def test_sampling_caps_at_eligible_sources(rng):
    affinity = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    i, j = sample_fixed_indegree(affinity, 2, rng)
    assert i.tolist() == [0] and j.tolist() == [0]


def test_hubel_wiesel_wiring_is_sign_matched_and_oriented(rng):
    x, y, sign = _lgn(rng)
    n = 200
    cx, cy = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    ori, phase = rng.choice([0.0, 90.0], n), rng.uniform(0, 360, n)
    templates = gabor_templates(x, y, cx, cy, ori, phase, 2.0, 0.3)
    i, j = sample_fixed_indegree(hubel_wiesel_affinity(templates, sign), 12, rng)
    # By construction every chosen source has s * G > 0 (the rule of Reid & Alonso 1995).
    assert sign_matching_index(i, j, templates, sign) == 1.0
    random_i = rng.integers(0, x.size, i.size)
    # Random wiring matches about half the time: 0.5 +- 4 binomial s.d. of 2400 draws (0.04).
    assert abs(sign_matching_index(random_i, j, templates, sign) - 0.5) < 0.05


def test_feature_pooling_respects_channels_and_radius(rng):
    n_src = 400
    sx, sy = rng.uniform(-2, 2, n_src), rng.uniform(-2, 2, n_src)
    channel = rng.integers(0, 8, n_src)
    tx, ty = np.zeros(50), np.zeros(50)
    conj = np.stack([np.full(50, 2), np.full(50, 5)], axis=1)
    i, j = sample_fixed_indegree(feature_pooling_affinity(sx, sy, channel, tx, ty, conj, 0.5), 10, rng)
    assert set(np.unique(channel[i])) <= {2, 5}
    # Chosen sources sit near the centre: a 2-D Gaussian with sigma 0.5 deg weighted by the
    # uniform density has mean radius sigma*sqrt(pi/2) = 0.63 deg; 0.8 leaves room for sampling.
    assert np.mean(np.hypot(sx[i], sy[i])) < 0.8
    identity = feature_pooling_affinity(sx, sy, channel, tx, ty, np.full(50, 3), 0.5)
    assert np.all(identity[:, channel != 3] == 0)


def test_broad_pooling_ignores_sign_and_rejects_bad_radius():
    a = broad_pooling_affinity([0.0, 1.0], [0.0, 0.0], [0.0], [0.0], 1.0)
    np.testing.assert_allclose(a, [[1.0, np.exp(-0.5)]], rtol=1e-15)  # Gaussian at 0 and 1 s.d.
    with pytest.raises(ConfigError, match="pooling radius"):
        broad_pooling_affinity([0.0], [0.0], [0.0], [0.0], 0.0)


def test_shuffled_skip_keeps_degrees_and_breaks_alignment(rng):
    x, y, sign = _lgn(rng)
    n = 300
    templates = gabor_templates(x, y, rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), rng.uniform(0, 180, n),
                                rng.uniform(0, 360, n), 2.0, 0.3)
    i, j = sample_fixed_indegree(hubel_wiesel_affinity(templates, sign), 10, rng)
    si, sj = shuffle_targets(i, j, n, rng)
    assert si.size == i.size
    assert sorted(np.bincount(sj, minlength=n)) == sorted(np.bincount(j, minlength=n))  # same in-degrees
    assert np.array_equal(np.bincount(si, minlength=x.size), np.bincount(i, minlength=x.size))  # same out-degrees
    # After shuffling, a target's template no longer matches its inputs: the index falls to about 0.5.
    assert sign_matching_index(si, sj, templates, sign) < 0.6


def test_bad_inputs():
    with pytest.raises(ConfigError, match="non-negative"):
        sample_fixed_indegree(np.array([[-1.0]]), 1, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="must be \\+1"):
        hubel_wiesel_affinity(np.zeros((1, 2)), [1.0, 0.0])
    with pytest.raises(ConfigError, match="indegree"):
        sample_fixed_indegree(np.ones((1, 2)), -1, np.random.default_rng(0))


def test_max_fraction_caps_the_in_degree_and_the_shared_inputs():
    # 16 equally eligible sources (n_eff = 16) and a cap of 1/4: every target keeps
    # round(0.25 * 16) = 4 inputs, and two targets share 4 * 4 / 16 = 1 input on average
    # (hypergeometric mean), i.e. a quarter of their inputs instead of all 16 uncapped.
    affinity = np.ones((400, 16))
    i, j = sample_fixed_indegree(affinity, 20, np.random.default_rng(3), max_fraction=0.25)
    assert np.array_equal(np.bincount(j, minlength=400), np.full(400, 4))
    sets = [set(i[j == t].tolist()) for t in range(400)]
    shared = np.mean([len(sets[a] & sets[a + 1]) for a in range(0, 400, 2)])
    # 200 pairs, hypergeometric s.d. 0.73 per pair -> s.e. 0.05; 0.2 is 4 s.e.
    assert abs(shared - 1.0) < 0.2


def test_max_fraction_keeps_the_draws_where_the_cap_does_not_bind():
    # A pool of 400 (n_eff ~ 200 for uniform random affinities) capped at 1/4 still allows
    # the 20 inputs: the wiring is identical to the uncapped one (same generator state).
    affinity = np.random.default_rng(5).random((100, 400))
    i0, j0 = sample_fixed_indegree(affinity, 20, np.random.default_rng(1))
    i1, j1 = sample_fixed_indegree(affinity, 20, np.random.default_rng(1), max_fraction=0.25)
    assert np.array_equal(i0, i1) and np.array_equal(j0, j1)


def test_max_fraction_keeps_the_first_drawn_inputs():
    # The capped set is the prefix of the uncapped draw order (smallest exponential keys),
    # so it is a subset of the uncapped inputs.
    affinity = np.random.default_rng(7).random((50, 12)) + 0.5
    i0, j0 = sample_fixed_indegree(affinity, 8, np.random.default_rng(2))
    i1, j1 = sample_fixed_indegree(affinity, 8, np.random.default_rng(2), max_fraction=0.25)
    full = set(zip(j0.tolist(), i0.tolist()))
    assert set(zip(j1.tolist(), i1.tolist())) <= full
    assert len(i1) < len(i0)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_max_fraction_out_of_range_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="max_fraction"):
        sample_fixed_indegree(np.ones((2, 4)), 2, np.random.default_rng(0), max_fraction=bad)
