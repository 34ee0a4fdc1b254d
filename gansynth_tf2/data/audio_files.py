"""One audio file -> one checked note: decoding, pitch from the name or pYIN.

Each file is one note. Its pitch comes from the file name (NSynth style
`name-PPP-VVV.wav` by default, or any regex with a `pitch` or `note` group) or
is estimated with librosa's pYIN. Audio is mixed to mono and resampled to
16 kHz with librosa, then cropped or padded to 4 s. A bad file is rejected
with its reason, never raised. No TensorFlow here: folders.py runs this in
freshly spawned worker processes, which then start quickly.
"""
import os
import re

import librosa
import numpy as np
import soundfile as sf

from gansynth_tf2.data import schema

AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.aif', '.aiff', '.mp3')
# NSynth's file names: <instrument>-<pitch>-<velocity>, e.g.
# guitar_acoustic_001-060-100.wav.
NSYNTH_PATTERN = r'^(?P<name>.+)-(?P<pitch>\d{1,3})-(?P<velocity>\d{1,3})$'
DEFAULT_VELOCITY = 100
# Below this peak a file counts as silent.
SILENCE_PEAK = 1e-4
# pYIN must find a pitch in at least this fraction of the note's frames (white
# noise gets ~25%, the notes of a GM soundfont ~100%), and that fraction of the
# voiced frames must lie within half a semitone of their median.
MIN_VOICED_FRACTION = 0.5


class Rejected(Exception):
  """A file is not usable; the message is the manifest's reason."""


def find_audio_files(input_dir, extensions=AUDIO_EXTENSIONS):
  """Sorted audio files under `input_dir` (recursive).

  Raises:
    FileNotFoundError: if `input_dir` is not a folder or holds no audio file.
  """
  if not os.path.isdir(input_dir):
    raise FileNotFoundError(f'--input_dir={input_dir} is not a folder.')
  found = []
  for root, dirs, files in os.walk(input_dir):
    dirs.sort()
    found.extend(os.path.join(root, f) for f in sorted(files)
                 if f.lower().endswith(extensions) and not f.startswith('.'))
  if not found:
    raise FileNotFoundError(
        f'No audio files ({", ".join(extensions)}) under --input_dir='
        f'{input_dir}.')
  return found


def check_pattern(pattern):
  """Raises ValueError unless `pattern` compiles and has a pitch or note group."""
  try:
    groups = re.compile(pattern).groupindex
  except re.error as e:
    raise ValueError(f'--pitch_regex {pattern!r} is not a regex: {e}') from e
  if 'pitch' not in groups and 'note' not in groups:
    raise ValueError(f'--pitch_regex {pattern!r} needs a (?P<pitch>...) or '
                     '(?P<note>...) group.')


def parse_filename(path, pattern=NSYNTH_PATTERN):
  """Pitch, velocity and instrument name from a file name (without extension).

  Args:
    path: the file path.
    pattern: regex matched against the name without extension; a `pitch`
      group (MIDI number) or `note` group (e.g. 'C#4', librosa's note names)
      is required, `velocity` and `name` groups are optional.

  Returns:
    (pitch, velocity, name); velocity defaults to 100 and name to the
    parent folder's name.

  Raises:
    Rejected: the name does not match.
  """
  stem = os.path.splitext(os.path.basename(path))[0]
  match = re.search(pattern, stem)
  if not match:
    raise Rejected(f'file name {stem!r} does not match the pitch pattern '
                   f'{pattern!r} (set --pitch_regex or --estimate_pitch)')
  groups = match.groupdict()
  try:
    if groups.get('pitch') is not None:
      pitch = int(groups['pitch'])
    else:
      pitch = int(librosa.note_to_midi(groups['note']))
  except (TypeError, ValueError, librosa.util.exceptions.ParameterError) as e:
    raise Rejected(f'no pitch in {stem!r} with pattern {pattern!r}') from e
  velocity = int(groups.get('velocity') or DEFAULT_VELOCITY)
  name = groups.get('name') or os.path.basename(os.path.dirname(
      os.path.abspath(path)))
  return pitch, velocity, name


def estimate_pitch(wave, sample_rate=schema.SAMPLE_RATE):
  """The note's MIDI pitch by pYIN: the median f0 over voiced frames.

  Raises:
    Rejected: too few frames have a pitch.
  """
  # The first 2 s of the note-on part: release tails and silence would only
  # add unvoiced frames. A 1/4 semitone grid makes pYIN several times faster
  # than its default 1/10 and is ample for rounding to semitones.
  f0, voiced, _ = librosa.pyin(wave[:2 * sample_rate],
                               fmin=librosa.midi_to_hz(21),
                               fmax=librosa.midi_to_hz(108), sr=sample_rate,
                               frame_length=2048, resolution=0.25)
  fraction = float(np.mean(voiced))
  if fraction < MIN_VOICED_FRACTION:
    raise Rejected(f'no clear pitch: pYIN found one in {fraction:.0%} of '
                   'frames')
  midi = librosa.hz_to_midi(f0[voiced])
  median = float(np.median(midi))
  stable = float(np.mean(np.abs(midi - median) < 0.5))
  if stable < MIN_VOICED_FRACTION:
    raise Rejected(f'no steady pitch: only {stable:.0%} of voiced frames '
                   f'within half a semitone of {median:.1f}')
  return int(np.round(median))


def load_note(path, sample_rate=schema.SAMPLE_RATE,
              audio_length=schema.AUDIO_LENGTH, min_seconds=0.25):
  """Reads a file as one mono note at `sample_rate`, cropped or padded.

  Returns:
    (wave [audio_length] float32, notes): notes lists what was changed.

  Raises:
    Rejected: unreadable, empty, too short, non-finite or silent audio.
  """
  try:
    audio, rate = sf.read(path, dtype='float32', always_2d=True)
  except Exception as e:  # soundfile raises several types for bad files.
    raise Rejected(f'unreadable audio ({type(e).__name__}: {e})') from e
  notes = []
  if audio.shape[0] == 0:
    raise Rejected('empty audio (0 samples)')
  if not np.all(np.isfinite(audio)):
    bad = ~np.isfinite(audio)
    first = int(np.argmax(np.any(bad, axis=1)))
    raise Rejected(f'non-finite samples (NaN or inf): '
                   f'{int(np.isnan(audio).sum())} NaN, '
                   f'{int(np.isinf(audio).sum())} Inf, the first at sample '
                   f'{first} ({first / rate:.3f} s)')
  seconds = audio.shape[0] / rate
  if seconds < min_seconds:
    raise Rejected(f'too short: {seconds:.3f} s < {min_seconds} s')
  if audio.shape[1] > 1:
    notes.append(f'mixed {audio.shape[1]} channels to mono')
  wave = librosa.to_mono(audio.T)
  if rate != sample_rate:
    notes.append(f'resampled from {rate} Hz')
    wave = librosa.resample(wave, orig_sr=rate, target_sr=sample_rate)
  if len(wave) > audio_length:
    notes.append(f'cropped from {seconds:.2f} s')
  elif len(wave) < audio_length:
    notes.append(f'padded from {seconds:.2f} s')
  wave = np.pad(wave[:audio_length], [0, max(0, audio_length - len(wave))])
  if np.max(np.abs(wave)) < SILENCE_PEAK:
    raise Rejected(f'silent (peak below {SILENCE_PEAK:g})')
  if np.max(np.abs(wave)) > 1.0:
    notes.append('clipped to [-1, 1]')
    wave = np.clip(wave, -1.0, 1.0)
  return wave.astype(np.float32), notes


def process_file(path, input_dir, pitch_regex=NSYNTH_PATTERN,
                 use_estimate=False, min_pitch=schema.MIN_PITCH,
                 max_pitch=schema.MAX_PITCH, sample_rate=schema.SAMPLE_RATE,
                 audio_length=schema.AUDIO_LENGTH):
  """One file -> (entry, wave) or (entry with 'reason', None); never raises.

  `pitch_regex` must have passed check_pattern.
  """
  entry = dict(file=os.path.relpath(path, input_dir))
  try:
    try:
      pitch, velocity, name = parse_filename(path, pitch_regex)
    except Rejected:
      if not use_estimate:
        raise
      pitch, velocity = None, DEFAULT_VELOCITY
      name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    wave, notes = load_note(path, sample_rate, audio_length)
    if use_estimate:
      estimated = estimate_pitch(wave, sample_rate)
      if pitch is not None and pitch != estimated:
        notes.append(f'file name says pitch {pitch}, pYIN {estimated}')
      pitch = estimated
    entry.update(pitch=pitch, velocity=velocity, instrument_str=name,
                 note_str=schema.note_str(name, pitch, velocity))
    if not min_pitch <= pitch <= max_pitch:
      raise Rejected(f'pitch {pitch} outside the model range '
                     f'{min_pitch}..{max_pitch}')
    if notes:
      entry['notes'] = notes
    return entry, wave
  except Rejected as e:
    entry['reason'] = str(e)
    return entry, None
  except Exception as e:  # pylint: disable=broad-except
    # Anything unexpected from a decoder or librosa rejects only this file.
    entry['reason'] = f'error: {type(e).__name__}: {e}'
    return entry, None


