"""Spectral round trip demo: WAV -> IF-Mel (or another representation) -> WAV.

  python -m gansynth_tf2.roundtrip [--wav=IN.wav] [--output_dir=OUT]
      [--data_type=mel|linear|phase]

Without `--wav` a generated harmonic test tone is used, so it needs no data.
Writes `OUT/input.wav`, `OUT/resynth.wav` (16 kHz) and `OUT/specgrams.png`
(log magnitude and IF images) and prints the reconstruction error.
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

SAMPLE_RATE = 16000
AUDIO_LENGTH = 64000

_WAV = flags.DEFINE_string('wav', None, 'Input audio file (any rate/channels; '
                           'default: a generated test tone).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', 'out/roundtrip',
                                  'Where to write the WAVs and the PNG.')
_DATA_TYPE = flags.DEFINE_enum('data_type', 'mel', ['mel', 'linear', 'phase'],
                               'Representation: mel = IF-Mel (the paper\'s '
                               'best), linear = IF, phase = wrapped phase.')


def test_tone(pitch=60, seconds=4.0, sample_rate=SAMPLE_RATE):
  """A decaying harmonic note: float32 `[samples]`, peak 0.5."""
  t = np.arange(int(seconds * sample_rate)) / sample_rate
  f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
  wave = sum(np.sin(2 * np.pi * k * f0 * t) / k
             for k in range(1, 12) if k * f0 < 0.45 * sample_rate)
  envelope = np.minimum(t / 0.01, 1.0) * np.exp(-1.5 * t)
  wave = wave * envelope
  return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def read_audio(path):
  """Any soundfile-readable file -> (mono float32 16 kHz 4 s clip, notes).

  The dataset tools' reader (`data.audio_files.load_note`), so the demo mixes,
  resamples, crops and pads exactly as training data is prepared; `notes`
  says what it changed.
  """
  # pylint: disable=import-outside-toplevel
  from gansynth_tf2.data import audio_files
  if not os.path.isfile(path):
    raise ValueError(f'--wav: no such file: {path}')
  try:
    return audio_files.load_note(path, SAMPLE_RATE, AUDIO_LENGTH,
                                 min_seconds=0.0)
  except audio_files.Rejected as e:
    raise ValueError(f'--wav: {path}: {e}') from None


def run(wav_path, output_dir, data_type='mel'):
  """Round trip one clip; returns a dict of error measures."""
  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import specgrams
  from gansynth_tf2 import writers

  if wav_path:
    audio, notes = read_audio(wav_path)
    for note in notes:
      print(f'{wav_path}: {note}')
  else:
    audio = test_tone()
    print('No --wav given: using a generated 4 s harmonic test tone (C4).')
  helper = specgrams.make_data_helper(data_type, AUDIO_LENGTH, SAMPLE_RATE)
  data = helper.waves_to_data(audio[None, :, None])
  resynth = helper.data_to_waves(data).numpy()[0, :, 0]

  os.makedirs(output_dir, exist_ok=True)
  writers.write_wav(os.path.join(output_dir, 'input.wav'), audio, SAMPLE_RATE)
  writers.write_wav(os.path.join(output_dir, 'resynth.wav'), resynth,
                    SAMPLE_RATE)
  writers.write_specgrams_png(os.path.join(output_dir, 'specgrams.png'),
                              data.numpy()[0], title=data_type)

  peak = float(np.abs(audio).max()) or 1.0
  err = resynth - audio
  result = {
      'max_abs_error_over_peak': float(np.abs(err).max() / peak),
      'snr_db': float(10 * np.log10(np.sum(audio**2) /
                                    max(np.sum(err**2), 1e-20))),
  }
  print(f'{data_type} round trip: max |error| / peak = '
        f'{result["max_abs_error_over_peak"]:.4f}, SNR = '
        f'{result["snr_db"]:.1f} dB')
  if data_type == 'mel':
    print('(the mel inverse is approximate: Magenta\'s own IF-Mel round trip '
          'loses detail the same way)')
  print(f'Wrote {output_dir}/input.wav, resynth.wav and specgrams.png')
  return result


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    run(_WAV.value, _OUTPUT_DIR.value, _DATA_TYPE.value)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
