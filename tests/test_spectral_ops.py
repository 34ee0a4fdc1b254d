"""Tests for spectral_ops: mel scale, mel matrices, diff/unwrap/IF, helpers."""
import librosa
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import spectral_ops


def test_mel_scale_matches_librosa_htk_and_round_trips():
  hz = np.array([0.0, 100.0, 700.0, 1000.0, 4000.0, 8000.0])
  mel = spectral_ops.hertz_to_mel(hz)
  # librosa's HTK formula is 2595 * log10(1 + f / 700); Magenta's 1127 ln
  # differs from it only in the constant's last digits.
  np.testing.assert_allclose(mel, librosa.hz_to_mel(hz, htk=True), rtol=2e-5)
  np.testing.assert_allclose(spectral_ops.mel_to_hertz(mel), hz, atol=1e-9)


def test_mel_matrix_equals_librosa_htk_when_no_band_is_widened():
  # 20 bands over 125..3800 Hz from 129 bins are all wider than 1.5 bins, so
  # Magenta's rule changes nothing. Like librosa (and unlike tf.signal, which
  # interpolates in mel), Magenta's triangles are linear in Hz.
  ours = spectral_ops.linear_to_mel_weight_matrix(20, 129, 16000, 125., 3800.)
  theirs = librosa.filters.mel(sr=16000, n_fft=256, n_mels=20, fmin=125.0,
                               fmax=3800.0, htk=True, norm=None).T
  np.testing.assert_allclose(ours, theirs, atol=1e-6)
  fixed = spectral_ops.linear_to_mel_weight_matrix(
      20, 129, 16000, 125., 3800., magenta_edge_aliasing=False)
  np.testing.assert_array_equal(ours, fixed)


def test_mel_matrix_widens_narrow_bands():
  kw = dict(num_mel_bins=1024, num_spectrogram_bins=1024, sample_rate=16000,
            lower_edge_hertz=0.0, upper_edge_hertz=8000.0)
  plain = librosa.filters.mel(sr=16000, n_fft=2046, n_mels=1024, fmin=0.0,
                              fmax=8000.0, htk=True, norm=None).T
  magenta = spectral_ops.linear_to_mel_weight_matrix(**kw)
  fixed = spectral_ops.linear_to_mel_weight_matrix(
      magenta_edge_aliasing=False, **kw)
  assert magenta.shape == fixed.shape == (1024, 1024)
  # Without widening many low bands see no linear bin at all.
  assert np.sum(plain.sum(axis=0) == 0) > 50
  # With it, only band 0 (centred below the first non-DC bin) stays empty.
  np.testing.assert_array_equal(np.where(magenta.sum(axis=0) == 0)[0], [0])
  np.testing.assert_array_equal(np.where(fixed.sum(axis=0) == 0)[0], [0])
  # The in-place aliasing really changes Magenta's matrix (kept for parity;
  # the oracle parity test in test_specgrams pins the Magenta variant).
  assert np.abs(magenta - fixed).max() > 1e-3
  assert np.all(magenta[0] == 0) and np.all(fixed[0] == 0)  # DC row


@pytest.mark.parametrize('bad', [
    dict(num_mel_bins=0), dict(num_spectrogram_bins=0), dict(sample_rate=0),
    dict(lower_edge_hertz=-1.0), dict(lower_edge_hertz=4000.0),
    dict(upper_edge_hertz=9000.0)])
def test_mel_matrix_rejects_bad_arguments(bad):
  kw = dict(num_mel_bins=20, num_spectrogram_bins=129, sample_rate=16000,
            lower_edge_hertz=125.0, upper_edge_hertz=3800.0)
  kw.update(bad)
  with pytest.raises(ValueError, match=next(iter(bad))):
    spectral_ops.linear_to_mel_weight_matrix(**kw)


def test_mel_to_linear_is_magentas_normalised_transpose():
  m = spectral_ops.linear_to_mel_weight_matrix(64, 64, 16000, 0.0, 8000.0)
  inv = spectral_ops.mel_to_linear_weight_matrix(m)
  assert inv.shape == (64, 64)
  overlap = (m @ m.T).sum(axis=0)
  covered = np.where(overlap > 1e-8)[0]
  assert len(covered) > 50
  for j in covered:  # each linear bin's column of M^T scaled by 1 / overlap
    np.testing.assert_allclose(inv[:, j], m.T[:, j] / overlap[j], rtol=1e-12)
  # Bins no band covers (DC among them) stay zero instead of dividing by 0.
  assert np.all(inv[:, overlap <= 1e-8] == 0) and 0 not in covered


def test_diff_matches_numpy_on_every_axis():
  x = np.random.RandomState(0).randn(3, 4, 5).astype(np.float32)
  for axis in (0, 1, 2, -1, -2):
    np.testing.assert_allclose(spectral_ops.diff(x, axis=axis).numpy(),
                               np.diff(x, axis=axis), rtol=1e-6)
  with pytest.raises(ValueError, match='axis'):
    spectral_ops.diff(x, axis=3)


def test_unwrap_matches_numpy():
  rng = np.random.RandomState(1)
  true_phase = np.cumsum(rng.uniform(-3.0, 3.0, size=(2, 50, 7)), axis=1)
  wrapped = np.angle(np.exp(1j * true_phase))
  ours = spectral_ops.unwrap(tf.constant(wrapped), axis=1).numpy()
  np.testing.assert_allclose(ours, np.unwrap(wrapped, axis=1), atol=1e-9)
  np.testing.assert_allclose(ours - ours[:, :1], true_phase - true_phase[:, :1],
                             atol=1e-9)


@pytest.mark.parametrize('use_unwrap', [True, False])
def test_instantaneous_frequency_is_the_wrapped_phase_step(use_unwrap):
  rng = np.random.RandomState(2)
  steps = rng.uniform(-3.1, 3.1, size=(2, 40, 6))
  phase = np.angle(np.exp(1j * np.cumsum(steps, axis=1)))
  inst = spectral_ops.instantaneous_frequency(
      tf.constant(phase), time_axis=1, use_unwrap=use_unwrap).numpy()
  assert inst.shape == phase.shape
  np.testing.assert_allclose(inst[:, 0], phase[:, 0] / np.pi, atol=1e-12)
  np.testing.assert_allclose(inst[:, 1:], steps[:, 1:] / np.pi, atol=1e-9)
  # cumsum inverts it (what specgrams_to_stfts relies on), modulo 2 pi.
  back = np.cumsum(inst * np.pi, axis=1)
  np.testing.assert_allclose(np.exp(1j * back), np.exp(1j * phase), atol=1e-9)


def test_polar2rect():
  mag = np.array([1.0, 2.0, 0.5], np.float32)
  ph = np.array([0.0, np.pi / 2, -2.0], np.float32)
  out = spectral_ops.polar2rect(mag, ph).numpy()
  assert out.dtype == np.complex64
  np.testing.assert_allclose(out, mag * np.exp(1j * ph), atol=1e-6)


def test_crop_or_pad():
  x = np.arange(10, dtype=np.float32).reshape(1, 5, 2)
  padded = spectral_ops.crop_or_pad(x, 8, 2).numpy()
  assert padded.shape == (1, 8, 2)
  np.testing.assert_array_equal(padded[0, 2:7], x[0])  # 3 pad: 2 left, 1 right
  assert np.all(padded[0, :2] == 0) and np.all(padded[0, 7:] == 0)
  cropped = spectral_ops.crop_or_pad(x, 3, 1).numpy()
  np.testing.assert_array_equal(cropped, x[:, :3, :1])
  mono = x[:, :, :1]
  np.testing.assert_array_equal(spectral_ops.crop_or_pad(mono, 5, 2).numpy(),
                                np.concatenate([mono, mono], axis=-1))
  with pytest.raises(ValueError, match=r'\[batch, samples, channels\]'):
    spectral_ops.crop_or_pad(x[0], 5, 2)
