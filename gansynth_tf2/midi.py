"""MIDI files -> notes, latent vectors over time, note envelopes and mixing.

The musical half of generation (Magenta's `lib/generate_util.py`): which notes
a MIDI file asks for, which latent vector ("instrument") plays each note, and
how the generated one-shot notes are shaped and summed into one clip. Nothing
here touches TensorFlow; generate_modes.py feeds these arrays to the model.

Differences from Magenta, on purpose:
  * MIDI is read with pretty_midi; drum tracks are skipped (they have no
    pitch), as are notes outside the model's pitch range and zero-length notes,
    and every skipped note is counted in a report instead of vanishing.
  * Instruments are spread over the whole clip with at least two of them, so a
    clip shorter than `secs_per_instrument` works (Magenta's
    `int(total / secs)` gives 0 or 1 instruments there and fails).
  * `slerp` falls back to linear interpolation for (anti)parallel vectors
    instead of dividing by sin(0).
  * Notes are normalized and mixed by their absolute peak (Magenta uses
    `max()`, which can be ~0 or negative for a note that starts with a trough).
  * A note longer than the model's note length is sustained as long as the
    audio allows and then released, so the release is never cut off.
  * A long file is mixed streamed (`NoteMixer`): notes are summed as they
    come, in onset order, and finished samples handed on, so memory stays
    bounded by the notes being generated; `check_length` refuses files over
    a length limit (generate's --max_midi_seconds).
"""

import dataclasses
import os

import numpy as np

MAX_VELOCITY = 127.0


@dataclasses.dataclass(frozen=True)
class Notes:
  """Notes to synthesize, one entry per note, sorted by start time.

  Attributes:
    pitches: [n] int32 MIDI pitches.
    velocities: [n] int32 MIDI velocities (1..127).
    start_times: [n] float64 onsets in seconds.
    end_times: [n] float64 offsets in seconds (> start_times).
    tracks: [n] int32 index of the MIDI instrument track each note came from.
  """
  pitches: np.ndarray
  velocities: np.ndarray
  start_times: np.ndarray
  end_times: np.ndarray
  tracks: np.ndarray

  def __len__(self):
    return len(self.pitches)

  @property
  def total_time(self):
    """Seconds from 0 to the last note-off."""
    return float(self.end_times.max()) if len(self) else 0.0


@dataclasses.dataclass
class MidiReport:
  """What `load_midi` kept and skipped, for the user and the JSON metadata."""
  path: str
  kept: int = 0
  drum_notes: int = 0
  out_of_range_notes: int = 0
  zero_length_notes: int = 0
  # Per kept track: name, program, number of notes kept.
  tracks: list = dataclasses.field(default_factory=list)

  @property
  def skipped(self):
    return self.drum_notes + self.out_of_range_notes + self.zero_length_notes

  def summary(self, min_pitch, max_pitch):
    """One-line human-readable account of the skipped notes."""
    parts = []
    if self.drum_notes:
      parts.append(f'{self.drum_notes} drum-track notes')
    if self.out_of_range_notes:
      parts.append(f"{self.out_of_range_notes} notes outside the model's "
                   f'pitch range {min_pitch}..{max_pitch}')
    if self.zero_length_notes:
      parts.append(f'{self.zero_length_notes} zero-length or unreleased '
                   'notes')
    skipped = ', '.join(parts) if parts else 'nothing'
    return (f'{self.path}: {self.kept} notes from {len(self.tracks)} tracks; '
            f'skipped {skipped}')


def load_midi(path, min_pitch, max_pitch):
  """Reads the notes of every pitched track of a MIDI file in a pitch range.

  Args:
    path: a .mid file.
    min_pitch, max_pitch: the model's pitch range (inclusive, MIDI numbers).

  Returns:
    (Notes, MidiReport).

  Raises:
    FileNotFoundError: `path` does not exist.
    ValueError: the file is not a readable MIDI file, has no notes, or none of
      its notes can be played by the model (only drums, only out of range,
      only zero-length); the message says which.
  """
  path = os.fspath(path)
  pm = _read(path)
  report = MidiReport(path=path)
  # pretty_midi silently drops a note whose note-off falls on its note-on's
  # tick (zero length) or that is never released; count them from the raw
  # events so the report can say so.
  parsed = sum(len(inst.notes) for inst in pm.instruments)
  report.zero_length_notes = max(0, _count_note_ons(path) - parsed)
  columns = {k: [] for k in ('pitch', 'velocity', 'start', 'end', 'track')}
  for track_id, inst in enumerate(pm.instruments):
    if inst.is_drum:
      report.drum_notes += len(inst.notes)
      continue
    kept_here = 0
    for note in inst.notes:
      if not min_pitch <= note.pitch <= max_pitch:
        report.out_of_range_notes += 1
      elif note.end <= note.start:
        report.zero_length_notes += 1
      else:
        columns['pitch'].append(note.pitch)
        columns['velocity'].append(note.velocity)
        columns['start'].append(note.start)
        columns['end'].append(note.end)
        columns['track'].append(track_id)
        kept_here += 1
    if kept_here:
      report.tracks.append({'track': track_id, 'name': inst.name,
                            'program': inst.program, 'notes': kept_here})
  report.kept = len(columns['pitch'])

  if report.kept == 0:
    if report.skipped == 0:
      raise ValueError(f'--midi_file: {path} contains no notes')
    raise ValueError(
        f'--midi_file: {path} has no notes the model can play: '
        + report.summary(min_pitch, max_pitch).split('; ', 1)[1])

  # Stable sort keeps the file's order for simultaneous notes.
  order = np.argsort(np.asarray(columns['start']), kind='stable')
  notes = Notes(
      pitches=np.asarray(columns['pitch'], np.int32)[order],
      velocities=np.asarray(columns['velocity'], np.int32)[order],
      start_times=np.asarray(columns['start'], np.float64)[order],
      end_times=np.asarray(columns['end'], np.float64)[order],
      tracks=np.asarray(columns['track'], np.int32)[order])
  return notes, report


def _read(path):
  """A MIDI file as a `pretty_midi.PrettyMIDI`, or the error `load_midi`
  documents (FileNotFoundError, ValueError naming --midi_file)."""
  # pretty_midi is imported here so `import gansynth_tf2.midi` stays light.
  import pretty_midi  # pylint: disable=import-outside-toplevel
  if not os.path.isfile(path):
    raise FileNotFoundError(f'--midi_file: no such file: {path}')
  try:
    return pretty_midi.PrettyMIDI(path)
  except Exception as e:  # mido raises a zoo of types for garbage input.
    raise ValueError(f'--midi_file: {path} is not a readable MIDI file '
                     f'({type(e).__name__}: {e})') from e


def check_length(path, max_seconds, flag='--max_midi_seconds'):
  """Refuses a MIDI file longer than `max_seconds`; returns its length.

  The length is the file's end (its last event, any track, drums and notes
  out of the model's range included), read before a model is loaded; the
  rendered clip is at most this plus the model's note length.

  Raises:
    FileNotFoundError, ValueError: as `load_midi`; ValueError also when the
      file is longer than `max_seconds`, naming the file, its length and
      `flag`.
  """
  path = os.fspath(path)
  seconds = float(_read(path).get_end_time())
  if seconds > max_seconds:
    raise ValueError(
        f'--midi_file: {path} lasts {seconds:.1f} s, longer than '
        f'{flag}={max_seconds:g}; pass a larger {flag} to render it (memory '
        'stays bounded by --batch_size; time and disk grow with the length)')
  return seconds


def _count_note_ons(path):
  """Number of note-on events (velocity > 0) in a MIDI file, all tracks."""
  import mido  # pylint: disable=import-outside-toplevel
  return sum(1 for track in mido.MidiFile(path).tracks for msg in track
             if msg.type == 'note_on' and msg.velocity > 0)


def slerp(p0, p1, t):
  """Spherical linear interpolation between latent vectors.

  Args:
    p0, p1: [d] vectors.
    t: scalar or [n] interpolation positions in [0, 1].

  Returns:
    [d] for scalar t, else [n, d]; t=0 gives p0 and t=1 gives p1.
  """
  p0 = np.asarray(p0, np.float64)
  p1 = np.asarray(p1, np.float64)
  t = np.asarray(t, np.float64)
  tt = t[..., None]
  cos = np.dot(p0, p1) / (np.linalg.norm(p0) * np.linalg.norm(p1))
  omega = np.arccos(np.clip(cos, -1.0, 1.0))
  so = np.sin(omega)
  if so < 1e-6:
    # Parallel vectors: the great circle is undefined; lerp is its limit.
    return (1.0 - tt) * p0 + tt * p1
  return (np.sin((1.0 - tt) * omega) / so * p0 + np.sin(tt * omega) / so * p1)


def instrument_times(total_time, secs_per_instrument, num_instruments=None):
  """Times (seconds) at which the latent vectors ("instruments") sit.

  Evenly spaced from 0 to `total_time`, about `secs_per_instrument` apart
  (or exactly `num_instruments` of them when given), never fewer than two so
  every note lies between two instruments.

  Returns:
    [k] float64, increasing, k >= 2 (k = num_instruments when given and >= 2).
  """
  if num_instruments is None:
    if secs_per_instrument <= 0:
      raise ValueError(f'--secs_per_instrument must be > 0, got '
                       f'{secs_per_instrument}')
    num_instruments = int(round(total_time / secs_per_instrument)) + 1
  return np.linspace(0.0, max(total_time, 1e-3), max(num_instruments, 2))


def z_for_notes(start_times, z_instruments, t_instruments):
  """Latent vector of each note: slerp between the instruments around it.

  Args:
    start_times: [n] note onsets in seconds.
    z_instruments: [k, d] latent vectors; k == 1 gives every note that vector.
    t_instruments: [k] increasing times of the instruments.

  Returns:
    [n, d] float32.
  """
  z_instruments = np.asarray(z_instruments)
  start_times = np.asarray(start_times, np.float64)
  if len(z_instruments) == 1:
    return np.repeat(z_instruments, len(start_times), axis=0).astype(np.float32)
  t_instruments = np.asarray(t_instruments, np.float64)
  # Segment i spans [t_i, t_{i+1}]; clip so onsets at either end stay inside.
  idx = np.searchsorted(t_instruments, start_times, side='right') - 1
  idx = np.clip(idx, 0, len(t_instruments) - 2)
  left, right = t_instruments[idx], t_instruments[idx + 1]
  frac = np.clip((start_times - left) / (right - left), 0.0, 1.0)
  z = [slerp(z_instruments[i], z_instruments[i + 1], f)
       for i, f in zip(idx, frac)]
  return np.stack(z).astype(np.float32)


def envelope(duration, audio_length, sample_rate=16000, attack=0.010,
             release=0.3):
  """Attack-sustain-release amplitude envelope of one note.

  The sustain lasts `duration` seconds, shortened when sustain + release would
  not fit into the model's `audio_length` samples (a long note is truncated,
  but always with its full release). The attack is inside the sustain.

  Returns:
    [m] float64 in [0, 1], m = sustain + release samples <= audio_length.
  """
  n_release = min(int(round(release * sample_rate)), audio_length)
  n_sustain = int(round(duration * sample_rate))
  n_sustain = max(0, min(n_sustain, audio_length - n_release))
  n_attack = max(int(round(attack * sample_rate)), 1)
  i = np.arange(n_sustain + n_release, dtype=np.float64)
  # The attack ramp stops where the release starts, so a note shorter than
  # its attack is released from the level it reached (no jump to 1).
  rise = np.minimum(1.0, np.minimum(i, n_sustain) / n_attack)
  fall = np.clip((n_sustain + n_release - 1 - i) / max(n_release, 1), 0.0, 1.0)
  return rise * fall


def shape_note(audio, duration, velocity, sample_rate=16000, attack=0.010,
               release=0.3):
  """One generated note with its envelope, at an absolute peak of
  velocity / 127 (a silent note stays silent).

  Args:
    audio: [audio_length] the generated note.
    duration: seconds from note-on to note-off.
    velocity: MIDI velocity.

  Returns:
    [m] float64, m <= audio_length (see `envelope`).
  """
  env = envelope(duration, len(audio), sample_rate, attack, release)
  note = audio[:len(env)] * env
  note_peak = np.abs(note).max()
  if note_peak > 0:
    note = note / note_peak * (velocity / MAX_VELOCITY)
  return note


def mix_notes(audio_notes, notes, sample_rate=16000, attack=0.010,
              release=0.3, peak=0.5):
  """Shapes each generated note and sums them into one clip, in memory.

  Each note gets its envelope, is scaled to an absolute peak of
  velocity / 127 (`shape_note`), and is added at its onset; the clip is then
  scaled to an absolute peak of `peak`. `NoteMixer` computes the same sum
  streamed, with memory bounded by one note (generate's --midi_file).

  Args:
    audio_notes: [n, audio_length] one generated note per entry of `notes`
      (or a list of n 1-D notes of any lengths, e.g. resampled ones).
    notes: Notes, n entries.
    peak: absolute peak of the returned clip.

  Returns:
    [samples] float32 clip, long enough for the last note's release (empty
    for no notes).
  """
  if len(audio_notes) != len(notes):
    raise ValueError(f'mix_notes: {len(audio_notes)} audio notes for '
                     f'{len(notes)} notes')
  shaped, starts = [], []
  for audio, t0, t1, vel in zip(audio_notes, notes.start_times,
                                notes.end_times, notes.velocities):
    shaped.append(shape_note(audio, t1 - t0, vel, sample_rate, attack,
                             release))
    starts.append(onset_sample(t0, sample_rate))
  clip = np.zeros(max((s + len(n) for s, n in zip(starts, shaped)),
                      default=0), np.float64)
  for start, note in zip(starts, shaped):
    clip[start:start + len(note)] += note
  clip_peak = np.abs(clip).max(initial=0.0)
  if clip_peak > 0:
    clip *= peak / clip_peak
  return clip.astype(np.float32)


def onset_sample(start_time, sample_rate=16000):
  """The sample a note starting at `start_time` seconds is mixed in at."""
  return int(round(start_time * sample_rate))


class NoteMixer:
  """`mix_notes`' sum, streamed: notes are added in onset order and every
  sample no later note can reach is handed to `sink` at once.

  Notes must come sorted by onset (as `load_midi` returns them): once a note
  starting at sample s is added, samples before s are final. The mixer holds
  only the samples from the latest onset to the furthest note end (at most
  one note, `audio_length` samples), so memory does not grow with the clip.
  The sums are those of `mix_notes`, added in the same order in float64, so
  bit for bit the same; the scaling to a peak needs the whole clip's peak,
  known only at the end (`peak`), and is the caller's second pass:
  `mix_notes`' clip is `(all blocks concatenated * (peak / mixer.peak))`
  cast to float32.

    mixer = midi.NoteMixer(sink=lambda block: block.tofile(raw_file))
    for wave, note in ...:  # onset order
      mixer.add(midi.onset_sample(note.start),
                midi.shape_note(wave, note.end - note.start, note.velocity))
    mixer.close()  # the rest; mixer.peak, mixer.length

  Args:
    sink: callable([k] float64 block): the final, unscaled samples, in order,
      gap-less, from sample 0 to the end of the last note.
    max_block: the most samples handed to `sink` at once (a long silence
      between notes comes in blocks of this size).
  """

  def __init__(self, sink, max_block=1 << 16):
    self._sink = sink
    self._max_block = int(max_block)
    self._buf = np.zeros(0, np.float64)  # samples from self._pos on
    self._pos = 0  # the first sample not yet handed to sink
    self._last_start = 0
    self.peak = 0.0  # absolute peak of everything handed on
    self.length = 0  # samples handed on

  def add(self, start, note):
    """Adds `note` ([m] float64, shaped) at sample `start` (>= the last)."""
    if start < self._last_start:
      raise ValueError(f'NoteMixer: note at sample {start} after one at '
                       f'{self._last_start}; notes must come in onset order')
    self._last_start = start
    self._flush(start)
    end = start + len(note)
    if end - self._pos > len(self._buf):
      self._buf = np.concatenate(
          [self._buf, np.zeros(end - self._pos - len(self._buf), np.float64)])
    self._buf[start - self._pos:end - self._pos] += note

  def close(self):
    """Hands on the remaining samples (the end of the last note)."""
    self._flush(self._pos + len(self._buf))

  def _flush(self, upto):
    """Hands on the samples before `upto` (zeros past the held ones)."""
    while self._pos < upto:
      n = min(upto - self._pos, self._max_block)
      block = self._buf[:n]
      if len(block) < n:
        block = np.concatenate([block, np.zeros(n - len(block), np.float64)])
      self._buf = self._buf[n:].copy() if len(self._buf) > n else (
          np.zeros(0, np.float64))
      if block.size:
        self.peak = max(self.peak, float(np.abs(block).max()))
      self._sink(block)
      self._pos += n
      self.length += n
