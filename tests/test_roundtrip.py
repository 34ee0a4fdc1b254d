"""Tests for the spectral round trip demo (python -m gansynth_tf2.roundtrip)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from gansynth_tf2 import roundtrip


def test_default_tone_round_trip_writes_audio_and_picture(tmp_path):
  result = roundtrip.run(None, str(tmp_path), 'linear')
  for name in ('input.wav', 'resynth.wav', 'specgrams.png'):
    assert (tmp_path / name).stat().st_size > 0
  audio, rate = sf.read(tmp_path / 'resynth.wav')
  assert rate == 16000 and audio.shape == (64000,)
  assert result['snr_db'] > 40.0  # linear IF is invertible
  with open(tmp_path / 'specgrams.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_any_rate_and_channels_are_converted(tmp_path, capsys):
  t = np.arange(44100 * 2) / 44100.0
  stereo = 0.3 * np.stack([np.sin(2 * np.pi * 330 * t),
                           np.sin(2 * np.pi * 440 * t)], axis=1)
  path = tmp_path / 'stereo.wav'
  sf.write(path, stereo, 44100)
  result = roundtrip.run(str(path), str(tmp_path / 'out'), 'mel')
  out = capsys.readouterr().out
  assert 'mixed 2 channels to mono' in out
  assert 'resampled from 44100 Hz' in out
  assert 'padded from 2.00 s' in out
  assert 'mel round trip' in out
  assert np.isfinite(result['snr_db'])
  audio, _ = sf.read(tmp_path / 'out' / 'input.wav')
  assert audio.shape == (64000,)
  # The mel inverse is lossy in the waveform (its phase is rebuilt), so
  # check what survives it: the two tones, at their frequencies, in the
  # resynthesis (1 Hz bins over 0.5..1.5 s).
  resynth, rate = sf.read(tmp_path / 'out' / 'resynth.wav')
  spectrum = np.abs(np.fft.rfft(resynth[rate // 2:rate * 3 // 2] *
                                np.hanning(rate)))
  strongest = np.argsort(spectrum)[::-1]
  peaks = [int(strongest[0])]
  peaks.append(int(next(f for f in strongest if abs(f - peaks[0]) > 20)))
  assert sorted(peaks) == pytest.approx([330, 440], abs=2), peaks


@pytest.mark.parametrize('content,match', [
    (None, 'no such file'), (b'', 'unreadable audio'), (b'RIFF0000garbage', 'unreadable audio')])
def test_bad_files_give_clear_errors(tmp_path, content, match):
  path = tmp_path / 'bad.wav'
  if content is not None:
    path.write_bytes(content)
  with pytest.raises(ValueError, match=match):
    roundtrip.read_audio(str(path))


def test_empty_and_nan_audio_are_rejected(tmp_path):
  empty = tmp_path / 'empty.wav'
  sf.write(empty, np.zeros((0,), np.float32), 16000)
  with pytest.raises(ValueError, match='empty audio'):
    roundtrip.read_audio(str(empty))
  nan = tmp_path / 'nan.wav'
  sf.write(nan, np.full((100,), np.nan, np.float32), 16000, subtype='FLOAT')
  with pytest.raises(ValueError, match='NaN'):
    roundtrip.read_audio(str(nan))


def test_cli_exit_code_and_message(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  proc = subprocess.run(
      [sys.executable, '-m', 'gansynth_tf2.roundtrip',
       f'--wav={tmp_path}/missing.wav', f'--output_dir={tmp_path}/o'],
      capture_output=True, text=True, env=env, timeout=300)
  assert proc.returncode == 1
  assert 'missing.wav' in proc.stderr
  assert not (tmp_path / 'o').exists()
