"""The interface every dataset here has: pitched 4 s notes with one-hot pitch labels.

Method names are Magenta's (`provide_dataset`, `get_pitch_counts`,
`provide_one_hot_labels`, `get_pitches`), so a training loop written against
Magenta's datasets reads the same.
"""
import collections

import numpy as np
import tensorflow as tf

from gansynth_tf2 import spectral_ops
from gansynth_tf2.data import schema

MIN_PITCH = schema.MIN_PITCH
MAX_PITCH = schema.MAX_PITCH


class NotesDataset:
  """Base class: labels are one-hot over the contiguous pitches min..max.

  Unlike Magenta, where the label space is the keys of the pitch-count table,
  the label index is always `pitch - min_pitch`, so a dataset missing some
  pitches still has the model's 61 labels; those pitches get count 0 and are
  never sampled as fake labels.
  """

  def __init__(self, min_pitch=MIN_PITCH, max_pitch=MAX_PITCH,
               audio_length=schema.AUDIO_LENGTH):
    if not 0 <= min_pitch <= max_pitch <= 127:
      raise ValueError('Need 0 <= min_pitch <= max_pitch <= 127, got '
                       f'min_pitch={min_pitch}, max_pitch={max_pitch}.')
    self.min_pitch = int(min_pitch)
    self.max_pitch = int(max_pitch)
    self.audio_length = int(audio_length)

  def describe(self):
    """What identifies this dataset's notes, as JSON values.

    `class`, `path` (where the notes are read from; None for a dataset that
    has no place) and the filters applied. Recorded in experiment.json
    (`train_data_path`), classifier.json and evaluate's real-data key, so
    subclasses say it themselves instead of callers guessing attributes.
    """
    return {'class': type(self).__name__, 'path': None,
            'min_pitch': self.min_pitch, 'max_pitch': self.max_pitch,
            'audio_length': self.audio_length}

  @property
  def pitches(self):
    """The model's pitches, label i <-> pitches[i]."""
    return list(range(self.min_pitch, self.max_pitch + 1))

  @property
  def num_pitches(self):
    return self.max_pitch - self.min_pitch + 1

  def provide_dataset(self):
    """Returns a tf.data.Dataset of (wave [audio_length, 1] float32, one_hot [num_pitches]).

    Not shuffled nor repeated: pipeline.py does that for training.
    """
    raise NotImplementedError

  def _count_pitches(self):
    """{pitch: count} of the notes in this dataset (any subset of pitches)."""
    raise NotImplementedError

  def get_pitch_counts(self):
    """Returns {pitch: count} for every model pitch (0 for absent ones).

    Raises:
      ValueError: no note has a pitch in min_pitch..max_pitch.
    """
    counts = self._count_pitches()
    counts = {p: int(counts.get(p, 0)) for p in self.pitches}
    if not any(counts.values()):
      raise ValueError(
          f'{type(self).__name__} has no notes with pitch in '
          f'{self.min_pitch}..{self.max_pitch} (after its filters); check '
          'the files, min_pitch/max_pitch and instrument_sources.')
    return counts

  def provide_one_hot_labels(self, batch_size, seed=None, rng=None):
    """Samples labels with the data's pitch frequencies, as Magenta does.

    Args:
      batch_size: number of labels.
      seed: optional op seed.
      rng: a `tf.random.Generator` to draw from instead (its state moves
        on, so a checkpoint of it resumes the same draws); `seed` unused.

    Returns:
      [batch_size, num_pitches] float32 one-hot labels.
    """
    counts = self.get_pitch_counts()
    logits = tf.math.log([[float(counts[p]) for p in self.pitches]])
    if rng is not None:
      indices = tf.random.stateless_categorical(
          logits, batch_size, seed=rng.make_seeds(1)[:, 0])[0]
    else:
      indices = tf.random.categorical(logits, batch_size, seed=seed)[0]
    return tf.one_hot(indices, self.num_pitches, dtype=tf.float32)

  def get_pitches(self, num_samples, seed=None):
    """Returns a Counter {pitch: n} of `num_samples` pitches drawn by frequency."""
    counts = self.get_pitch_counts()
    total = sum(counts.values())
    probs = np.array([counts[p] / total for p in self.pitches])
    rng = np.random.default_rng(seed)
    draws = rng.choice(self.pitches, size=num_samples, p=probs)
    return collections.Counter(int(p) for p in draws)

  def _wave_and_label(self, audio, pitch):
    """Crops or pads `audio` [n] to audio_length and one-hots `pitch`.

    Magenta's crop_or_pad: short clips are padded on both sides. NSynth notes
    and our tools' notes are exactly audio_length long, so it only matters
    for other files.
    """
    wave = spectral_ops.crop_or_pad(audio[tf.newaxis, :, tf.newaxis],
                                    self.audio_length, 1)[0]
    label = tf.one_hot(tf.cast(pitch, tf.int32) - self.min_pitch,
                       self.num_pitches, dtype=tf.float32)
    return wave, label
