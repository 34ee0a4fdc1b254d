"""Tests for metrics.py: closed forms, hand-made inputs, synthesized tones."""
import math

import numpy as np
import pytest
from scipy import linalg
import threadpoolctl

from gansynth_tf2 import metrics

SR = 16000


@pytest.fixture(autouse=True)
def one_thread():
  """k-means on these tiny sets is ~10x faster on one thread than on an
  OpenMP team fighting over a busy machine."""
  with threadpoolctl.threadpool_limits(1):
    yield


def random_spd(rng, d, scale=1.0):
  """A random symmetric positive definite [d, d] matrix."""
  a = rng.normal(size=(d, d))
  return scale * (a @ a.T / d + 0.1 * np.eye(d))


def psd_sqrt(s):
  """Square root of a symmetric PSD matrix via its eigen-decomposition."""
  w, v = np.linalg.eigh(s)
  return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_by_eigh(mu1, s1, mu2, s2):
  """Independent closed form: tr sqrt(s1 s2) = tr sqrt(s1^1/2 s2 s1^1/2)."""
  r1 = psd_sqrt(s1)
  cross = np.trace(psd_sqrt(r1 @ s2 @ r1))
  diff = mu1 - mu2
  return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * cross


def harmonic_tone(midi, seconds, sr=SR):
  """A float32 tone with 5 harmonics (amplitude 1/k) at a MIDI pitch."""
  f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
  t = np.arange(int(seconds * sr)) / sr
  wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
  return (0.3 * wave).astype(np.float32)


# ----------------------------------------------------------------------------
# FID.


def test_frechet_distance_diagonal_closed_form():
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
  s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  expected = (np.sum((mu1 - mu2) ** 2) +
              np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2)))
  got = metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
  assert isinstance(got, float)
  np.testing.assert_allclose(got, expected, rtol=1e-10)
  # 1 + 0 + 6.25 + (1+9-6) + (4+1-4) + 0
  np.testing.assert_allclose(got, 12.25, rtol=1e-10)


def test_frechet_distance_full_covariance_matches_eigh():
  rng = np.random.default_rng(1)
  d = 6
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  s1, s2 = random_spd(rng, d), random_spd(rng, d, scale=3.0)
  got = metrics.frechet_distance(mu1, s1, mu2, s2)
  np.testing.assert_allclose(got, frechet_by_eigh(mu1, s1, mu2, s2),
                             rtol=1e-8)
  # Symmetric in its two Gaussians.
  np.testing.assert_allclose(metrics.frechet_distance(mu2, s2, mu1, s1), got,
                             rtol=1e-8)


def test_fid_of_a_set_with_itself_is_zero():
  rng = np.random.default_rng(2)
  feats = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
  scale = np.trace(np.cov(feats, rowvar=False))
  assert metrics.fid_from_features(feats, feats) < 1e-6 * scale


def test_fid_from_features_approaches_closed_form():
  rng = np.random.default_rng(3)
  d, n = 4, 20000
  mu1, mu2 = np.zeros(d), np.array([1.0, 0.0, 0.5, -0.5])
  s1, s2 = random_spd(rng, d), random_spd(rng, d, scale=2.0)
  a = rng.multivariate_normal(mu1, s1, size=n)
  b = rng.multivariate_normal(mu2, s2, size=n)
  expected = frechet_by_eigh(mu1, s1, mu2, s2)
  assert expected > 1.0  # the comparison below is not against ~0
  np.testing.assert_allclose(metrics.fid_from_features(a, b), expected,
                             rtol=0.03)


def test_fid_shifted_set_is_clearly_larger():
  rng = np.random.default_rng(4)
  a, b = rng.normal(size=(2, 2000, 8))
  same = metrics.fid_from_features(a, b)
  shifted = metrics.fid_from_features(a, b + 1.0)
  assert same < 0.1
  # A shift of 1 in each of 8 dimensions adds ~8.
  assert shifted == pytest.approx(8.0, rel=0.1)
  assert shifted > 20 * same


def test_fid_single_feature_and_fewer_samples_than_features():
  rng = np.random.default_rng(5)
  # d = 1: np.cov returns a scalar there.
  a, b = rng.normal(size=(2, 4000, 1))
  assert metrics.fid_from_features(a, b + 2.0) == pytest.approx(4.0, rel=0.05)
  # n < d: singular covariances still give a finite, non-negative number.
  fid = metrics.fid_from_features(rng.normal(size=(5, 10)),
                                  rng.normal(size=(6, 10)))
  assert np.isfinite(fid) and fid >= 0


def test_frechet_distance_retries_with_eps_when_sqrtm_is_not_finite(
    monkeypatch):
  real_sqrtm = linalg.sqrtm
  seen = []

  def flaky_sqrtm(a):
    seen.append(a.copy())
    if len(seen) == 1:
      return np.full_like(a, np.nan)
    # A tiny imaginary part, as sqrtm can return: must be dropped.
    return real_sqrtm(a) + 1e-14j

  monkeypatch.setattr(linalg, 'sqrtm', flaky_sqrtm)
  s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
  got = metrics.frechet_distance(np.zeros(2), s1, np.zeros(2), s2)
  assert len(seen) == 2
  eps = metrics._SQRTM_EPS  # pylint: disable=protected-access
  np.testing.assert_allclose(seen[1], (s1 + eps * np.eye(2)) @
                             (s2 + eps * np.eye(2)))
  assert isinstance(got, float)
  np.testing.assert_allclose(got, 2.0, atol=1e-4)  # (1+4-4) + (4+1-4)


def test_frechet_distance_gives_up_when_sqrtm_stays_non_finite(monkeypatch):
  monkeypatch.setattr(linalg, 'sqrtm', lambda a: np.full_like(a, np.inf))
  with pytest.raises(ValueError, match='not finite even after'):
    metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))


@pytest.mark.parametrize('args, match', [
    ((np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)), 'mu1 and mu2'),
    ((np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)), r'sigma1 must be'),
    ((np.zeros(3), np.eye(3), np.zeros(3), np.zeros(3)), r'sigma2 .*rank 2'),
    ((np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3)), r'mu1 .*rank 1'),
    ((np.zeros(0), np.eye(0), np.zeros(0), np.eye(0)), 'mu1 must not be empty'),
    ((np.array([np.nan, 0]), np.eye(2), np.zeros(2), np.eye(2)), 'mu1 .*NaN'),
])
def test_frechet_distance_bad_input(args, match):
  with pytest.raises(ValueError, match=match):
    metrics.frechet_distance(*args)


def test_fid_from_features_bad_input():
  good = np.zeros((10, 3))
  with pytest.raises(ValueError, match='same feature size'):
    metrics.fid_from_features(good, np.zeros((10, 4)))
  with pytest.raises(ValueError, match=r'feats_a .*\[n, d\]'):
    metrics.fid_from_features(np.zeros(10), good)
  with pytest.raises(ValueError, match='feats_b needs at least 2 rows'):
    metrics.fid_from_features(good, np.zeros((1, 3)))
  with pytest.raises(ValueError, match='feats_b must not be empty'):
    metrics.fid_from_features(good, np.zeros((0, 3)))


# ----------------------------------------------------------------------------
# Inception score, pitch accuracy and entropy.


def test_inception_score_limits():
  c = 8
  assert metrics.inception_score(np.full((40, c), 1.0 / c)) == pytest.approx(
      1.0, abs=1e-12)
  diverse = np.eye(c)[np.arange(5 * c) % c]  # one-hot, each class 5 times
  assert metrics.inception_score(diverse) == pytest.approx(c, rel=1e-9)
  collapsed = np.eye(c)[np.full(40, 3)]
  assert metrics.inception_score(collapsed) == pytest.approx(1.0, abs=1e-12)


def test_inception_score_by_hand():
  probs = np.array([[0.5, 0.5], [1.0, 0.0]])
  p_y = np.array([0.75, 0.25])
  kl0 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
  kl1 = math.log(1.0 / 0.75)
  expected = math.exp((kl0 + kl1) / 2)
  assert p_y.sum() == 1.0
  assert metrics.inception_score(probs) == pytest.approx(expected, rel=1e-9)


def test_pitch_accuracy():
  true = np.array([60, 60, 60])
  pred = np.array([60, 61, 62])  # off by 0, 1, 2 semitones
  assert metrics.pitch_accuracy(pred, true) == pytest.approx(2 / 3)
  assert metrics.pitch_accuracy(pred, true, tolerance=0) == pytest.approx(1 / 3)
  assert metrics.pitch_accuracy(pred, true, tolerance=2) == 1.0
  assert metrics.pitch_accuracy([58.5, np.nan], [60, 60]) == 0.0


def test_pitch_entropy():
  c = 61
  assert metrics.pitch_entropy(np.full((3, c), 1.0 / c)) == pytest.approx(
      math.log(c), rel=1e-12)
  assert metrics.pitch_entropy(np.eye(c)[:5]) == pytest.approx(0.0, abs=1e-12)
  # Mean over rows: one uniform over 2 (ln 2) and one one-hot (0).
  assert metrics.pitch_entropy([[0.5, 0.5], [0.0, 1.0]]) == pytest.approx(
      math.log(2) / 2, rel=1e-12)


@pytest.mark.parametrize('fn', [metrics.inception_score,
                                metrics.pitch_entropy])
def test_probability_metrics_bad_input(fn):
  with pytest.raises(ValueError, match=r'probs .*\[n, classes\].*rank 2'):
    fn(np.array([0.5, 0.5]))
  with pytest.raises(ValueError, match='probs must not be empty'):
    fn(np.zeros((0, 4)))
  with pytest.raises(ValueError, match=r'sum to 1 .*row 1 sums to 3'):
    fn(np.array([[0.5, 0.5], [1.0, 2.0]]))  # logits, not probabilities
  with pytest.raises(ValueError, match='non-negative'):
    fn(np.array([[1.5, -0.5]]))


def test_pitch_accuracy_bad_input():
  with pytest.raises(ValueError, match='same length, got 3 and 2'):
    metrics.pitch_accuracy([60, 61, 62], [60, 61])
  with pytest.raises(ValueError, match='pred_pitches must not be empty'):
    metrics.pitch_accuracy([], [])
  with pytest.raises(ValueError, match=r'true_pitches .*rank 1'):
    metrics.pitch_accuracy([60], [[60]])
  with pytest.raises(ValueError, match='tolerance'):
    metrics.pitch_accuracy([60], [60], tolerance=-1)


# ----------------------------------------------------------------------------
# NDB.


def test_ndb_same_distribution_flags_few_bins():
  rng = np.random.default_rng(6)
  real, fake = rng.normal(size=(2, 2000, 2))
  count, fraction = metrics.ndb(real, fake, k=20)
  assert isinstance(count, int) and isinstance(fraction, float)
  assert fraction == count / 20
  assert fraction <= 0.2


def test_ndb_collapsed_generator_flags_most_bins():
  rng = np.random.default_rng(7)
  real = rng.normal(size=(2000, 2))
  # Mode collapse: everything near one real sample.
  point = real[0] + 0.01 * rng.normal(size=(2000, 2))
  assert metrics.ndb(real, point, k=20)[1] >= 0.5
  # Partial collapse: only a narrow sub-region (x > 1) of the real set.
  region = rng.normal(size=(20000, 2))
  region = region[region[:, 0] > 1][:2000]
  assert metrics.ndb(real, region, k=20)[1] >= 0.5


def test_ndb_is_deterministic_with_a_seed():
  rng = np.random.default_rng(8)
  real = rng.normal(size=(600, 3))
  fake = 1.2 * rng.normal(size=(500, 3)) + 0.2
  first = metrics.ndb(real, fake, k=10, seed=3)
  assert metrics.ndb(real, fake, k=10, seed=3) == first


def test_ndb_bad_input():
  real, fake = np.zeros((30, 2)), np.zeros((30, 2))
  with pytest.raises(ValueError, match='k=50 .* 30 real samples'):
    metrics.ndb(real, fake, k=50)
  with pytest.raises(ValueError, match='k must be a positive int'):
    metrics.ndb(real, fake, k=0)
  with pytest.raises(ValueError, match='same feature size'):
    metrics.ndb(real, np.zeros((30, 3)), k=5)
  with pytest.raises(ValueError, match='fake_feats must not be empty'):
    metrics.ndb(real, np.zeros((0, 2)), k=5)
  with pytest.raises(ValueError, match='alpha'):
    metrics.ndb(real, fake, k=5, alpha=1.5)


# ----------------------------------------------------------------------------
# pYIN. Short windows: pyin's cost grows with the number of frames.


def test_pyin_midi_on_harmonic_tones_and_silence():
  pitches = [48.0, 60.0, 69.3]
  waves = np.stack([harmonic_tone(p, 0.6) for p in pitches] +
                   [np.zeros(int(0.6 * SR), np.float32)])
  midi = metrics.pyin_midi(waves, start_s=0.05, end_s=0.55)
  assert midi.shape == (4,)
  np.testing.assert_allclose(midi[:3], pitches, atol=0.1)
  assert np.isnan(midi[3])


def test_pyin_midi_default_window_and_ragged_list():
  # The default window (0.1 s .. 2.1 s); the shorter wave is cut at its end.
  waves = [harmonic_tone(64.0, 2.2), harmonic_tone(55.0, 0.5)]
  np.testing.assert_allclose(metrics.pyin_midi(waves), [64.0, 55.0],
                             atol=0.1)


def test_pyin_accuracy():
  est = [60.1, 61.0, np.nan, 59.6]
  assert metrics.pyin_accuracy(est, [60, 60, 60, 60]) == 0.5
  assert metrics.pyin_accuracy(est, [60, 60, 60, 60], tolerance=1.0) == 0.75
  assert metrics.pyin_accuracy([np.nan], [60]) == 0.0


def test_pyin_bad_input():
  with pytest.raises(ValueError, match=r'waves must be \[n, samples\]'):
    metrics.pyin_midi(np.zeros(SR, np.float32))
  with pytest.raises(ValueError, match='at least one wave'):
    metrics.pyin_midi([])
  with pytest.raises(ValueError, match=r'waves\[1\] must be 1-D'):
    metrics.pyin_midi([np.zeros(SR), np.zeros((2, SR))])
  with pytest.raises(ValueError, match=r'waves\[0\] has 800 samples'):
    metrics.pyin_midi([np.zeros(800)])
  with pytest.raises(ValueError, match='start_s < end_s'):
    metrics.pyin_midi([np.zeros(SR)], start_s=0.5, end_s=0.2)
  with pytest.raises(ValueError, match='same length'):
    metrics.pyin_accuracy([60.0], [60, 61])
