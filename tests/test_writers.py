"""Tests for writers.py: the WAVs and spectrogram PNGs every tool writes."""
import numpy as np
import pytest
import soundfile

from gansynth_tf2 import midi
from gansynth_tf2 import writers

SR = 16000
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_clips_over_full_scale_are_scaled_to_minus_1_dbfs(tmp_path):
  """A player clips float WAVs above 1.0: such clips are scaled to peak at
  -1 dBFS and the gain is recorded; clips within full scale are untouched."""
  loud = np.linspace(-2.5, 2.0, 1000).astype(np.float32)
  quiet = 0.3 * loud
  scaled, gain = writers.fit_to_full_scale(loud)
  assert gain == pytest.approx(10 ** (-1 / 20) / 2.5)
  assert np.abs(scaled).max() == pytest.approx(10 ** (-1 / 20), rel=1e-6)
  np.testing.assert_allclose(scaled, loud * gain, rtol=1e-6)
  same, one = writers.fit_to_full_scale(quiet)
  assert one == 1.0
  np.testing.assert_array_equal(same, quiet)
  for name, clip in (('loud', loud), ('quiet', quiet)):
    entry = writers.write_clip(str(tmp_path), name, clip, SR, name, png=False)
    audio, _ = soundfile.read(tmp_path / entry['wav'], dtype='float32')
    assert np.abs(audio).max() <= 1.0
    np.testing.assert_allclose(audio, clip * entry['gain'], rtol=1e-6)


def test_wav_is_32_bit_float_bit_for_bit(tmp_path):
  audio = np.random.RandomState(0).uniform(-1, 1, 999).astype(np.float32)
  writers.write_wav(tmp_path / 'a.wav', audio, SR)
  assert soundfile.info(tmp_path / 'a.wav').subtype == 'FLOAT'
  back, sr = soundfile.read(tmp_path / 'a.wav', dtype='float32')
  assert sr == SR
  np.testing.assert_array_equal(back, audio)


@pytest.mark.parametrize('samples', [64000, 64000 + 100, 300])
def test_log_magnitude_is_the_package_stft_of_the_whole_clip(samples):
  """A 1 kHz tone: the loudest bin is 1 kHz in every frame that has it,
  0 dB at the peak, floored at -80 dB; any length (shorter than one frame,
  not a whole number of hops) is covered."""
  t = np.arange(samples) / SR
  db = writers.log_magnitude(0.5 * np.sin(2 * np.pi * 1000.0 * t), SR)
  hop = writers.PLOT_NFFT // 4
  assert db.shape[1] == writers.PLOT_NFFT // 2
  # The frames cover the clip, with less than one hop to spare.
  covered = (db.shape[0] - 1) * hop + writers.PLOT_NFFT
  assert covered >= samples
  assert covered - hop < samples or db.shape[0] == 1
  assert db.max() == pytest.approx(0.0, abs=1e-4) and db.min() >= -80.0
  # Bins are DC-less: bin j is (j + 1) * SR / nfft Hz.
  peak_hz = (np.argmax(db[-1]) + 1) * SR / writers.PLOT_NFFT
  assert peak_hz == pytest.approx(1000.0, abs=SR / writers.PLOT_NFFT)


def test_log_magnitude_of_silence_and_nan_draws_silence():
  assert np.all(writers.log_magnitude(np.zeros(5000), SR) == -80.0)
  bad = np.full(5000, np.nan, np.float32)
  assert np.all(writers.log_magnitude(bad, SR) == -80.0)
  assert writers.log_magnitude(np.zeros(0), SR).shape == (1, 512)


def test_pngs_with_and_without_piano_roll_and_of_specgrams(tmp_path):
  t = np.arange(2 * SR) / SR
  audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
  notes = midi.Notes(np.array([60, 64], np.int32), np.array([100, 50],
                                                             np.int32),
                     np.array([0.0, 1.0]), np.array([0.9, 1.9]),
                     np.zeros(2, np.int32))
  writers.write_png(tmp_path / 'a.png', audio, SR, 'plain')
  writers.write_png(tmp_path / 'b.png', audio, SR, 'roll', notes)
  data = np.random.RandomState(1).randn(16, 32, 2).astype(np.float32)
  writers.write_specgrams_png(tmp_path / 'c.png', data, 'mel')
  for name in ('a.png', 'b.png', 'c.png'):
    assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / name).stat().st_size > 1000


def test_streamed_spectrogram_is_bounded_and_the_same_in_any_blocks():
  """A clip fed in uneven blocks gives the spectrogram of the clip fed at
  once; a clip of 10 minutes is drawn in at most 2048 columns (each the
  loudest of its frames), with the tone's bin loudest."""
  rng = np.random.RandomState(0)
  clip = rng.standard_normal(20000)
  whole = writers.StreamedSpectrogram(len(clip))
  whole.add(clip)
  parts = writers.StreamedSpectrogram(len(clip))
  for block in np.split(clip, [7, 1500, 1501, 9000]):
    parts.add(block)
  np.testing.assert_allclose(parts.db(), whole.db(), atol=1e-4)
  hop = writers.PLOT_NFFT // 4
  assert whole.db().shape == (1 + -(-(20000 - writers.PLOT_NFFT) // hop),
                              writers.PLOT_NFFT // 2)
  samples = 600 * SR
  spec = writers.StreamedSpectrogram(samples)
  tone = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(SR) / SR)
  for _ in range(600):
    spec.add(tone)
  db = spec.db()
  assert db.shape[0] <= 2048 and db.shape[1] == writers.PLOT_NFFT // 2
  assert db.max() == pytest.approx(0.0, abs=1e-4) and db.min() >= -80.0
  peak_hz = (np.argmax(db[len(db) // 2]) + 1) * SR / writers.PLOT_NFFT
  assert peak_hz == pytest.approx(1000.0, abs=SR / writers.PLOT_NFFT)
