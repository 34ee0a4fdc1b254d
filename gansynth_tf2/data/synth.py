"""A small numpy synthesizer of pitched timbres, for when fluidsynth is absent.

Four band-limited timbres (additive and FM) with a 3 s note-on and a release,
enough for the embedded default dataset to have distinct, clearly pitched
instruments without any download.
"""
import numpy as np

from gansynth_tf2.data import schema

_FAMILY = {name: i for i, name in enumerate(schema.INSTRUMENT_FAMILIES)}
SYNTHETIC = schema.INSTRUMENT_SOURCES.index('synthetic')

# name -> NSynth instrument family.
TIMBRES = {
    'organ': _FAMILY['organ'],
    'reed': _FAMILY['reed'],
    'pluck': _FAMILY['guitar'],
    'fm_brass': _FAMILY['brass'],
}


def _envelope(n, sample_rate, note_seconds, attack=0.01, release=0.25):
  """[n] attack-sustain-release amplitude, released at note_seconds."""
  t = np.arange(n) / sample_rate
  env = np.minimum(t / attack, 1.0)
  after = t - note_seconds
  decay = np.exp(-np.maximum(after, 0) / (release / 5))
  return np.where(after > 0, env * decay, env)


def _harmonics(freq, t, amps, decays=None, sample_rate=schema.SAMPLE_RATE):
  """Sum of harmonics k*freq (k = 1..len(amps)) kept below 0.45 * sample_rate."""
  out = np.zeros_like(t)
  for k, amp in enumerate(amps, start=1):
    if k * freq >= 0.45 * sample_rate:
      break
    partial = amp * np.sin(2 * np.pi * k * freq * t)
    if decays is not None:
      partial *= np.exp(-t * decays[k - 1])
    out += partial
  return out


def synthesize(timbre, pitch, velocity=100, sample_rate=schema.SAMPLE_RATE,
               audio_length=schema.AUDIO_LENGTH, note_seconds=3.0):
  """One note of a TIMBRES instrument.

  Args:
    timbre: a key of TIMBRES.
    pitch: MIDI pitch.
    velocity: MIDI velocity; scales the level.
    sample_rate: Hz.
    audio_length: samples.
    note_seconds: note-on time before the release.

  Returns:
    [audio_length] float32 wave, peak 0.5 * velocity / 127.
  """
  if timbre not in TIMBRES:
    raise ValueError(f'Unknown timbre {timbre!r}; choose from {list(TIMBRES)}.')
  freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
  t = np.arange(audio_length) / sample_rate
  n = np.arange(1, 41)
  if timbre == 'organ':
    wave = _harmonics(freq, t, 1.0 / n, sample_rate=sample_rate)
  elif timbre == 'reed':
    wave = _harmonics(freq, t, np.where(n % 2 == 1, 1.0 / n, 0.05 / n),
                      sample_rate=sample_rate)
  elif timbre == 'pluck':
    # Upper partials die away faster, as on a plucked string.
    wave = _harmonics(freq, t, 1.0 / n, decays=0.8 + 0.6 * n,
                      sample_rate=sample_rate)
  else:  # fm_brass: a 1:1 FM pair whose index follows the envelope.
    bandwidth_room = 0.45 * sample_rate / freq - 1.0
    index = np.clip(bandwidth_room, 0.0, 3.0) * (0.4 + 0.6 * np.exp(-t * 2.0))
    wave = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * freq * t))
  wave = wave * _envelope(audio_length, sample_rate, note_seconds)
  wave *= 0.5 * velocity / 127.0 / np.max(np.abs(wave))
  return wave.astype(np.float32)
