"""Notes through the pitch classifier, real and generated alike.

Both pass `classify`, so both are resampled to the classifier's rate and
looped to its length the same way, and FID and NDB compare like with like.
"""
import math

import numpy as np

from gansynth_tf2.data import schema
from gansynth_tf2.evaluation import scoring


def progress_bar(progress, **kwargs):
  """A tqdm bar; `progress` None: a bar only on a terminal (tqdm's rule)."""
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  return tqdm(disable=None if progress is None else not progress, **kwargs)


def classifier_pitch_range(clf):
  """(lowest, highest) MIDI pitch of a classifier (label i: MIN_PITCH + i)."""
  return schema.MIN_PITCH, schema.MIN_PITCH + int(clf.num_pitches) - 1


def loop_to_length(waves, length):
  """Notes shorter than the classifier's input, repeated to fill it.

  `[n, samples]` -> `[n, max(samples, length)]` (longer notes are left to the
  classifier's crop). The classifier learned 4 s notes: zero-padded 0.5 s
  notes (gin/cpu_small.gin's) get 13% of the real notes' pitches right within
  a semitone, the same notes looped 90%. Real and generated notes are treated
  alike, so FID and NDB compare like with like.
  """
  waves = np.asarray(waves)
  if waves.shape[1] >= length:
    return waves
  reps = -(-length // waves.shape[1])
  return np.tile(waves, (1, reps))[:, :length]


def _resample(waves, rate_in, rate_out):
  from scipy import signal  # pylint: disable=import-outside-toplevel
  g = math.gcd(int(rate_in), int(rate_out))
  return signal.resample_poly(waves, rate_out // g, rate_in // g,
                              axis=1).astype(np.float32)


def classify(clf, waves, sample_rate, batch_size):
  """Classifies `[n, samples]` notes at `sample_rate` as the classifier wants.

  Real and generated notes both pass here, so both are resampled and looped
  alike. Returns (probs `[n, classes]`, features `[n, d]`, the resampled
  `[n, samples']` waves).
  """
  from gansynth_tf2 import classifier  # pylint: disable=import-outside-toplevel
  if sample_rate != clf.sample_rate:
    waves = _resample(waves, sample_rate, clf.sample_rate)
  p, f = classifier.predict(clf, loop_to_length(waves, clf.audio_length),
                            batch_size)
  return np.asarray(p, np.float32), np.asarray(f, np.float32), waves


def generate_and_classify(model, clf, pitches, z, batch_size, pyin=False,
                          progress=None, desc='generating'):
  """Generates a note per (z, pitch), classifies it, optionally runs pYIN.

  Notes are made and classified `batch_size` at a time, so memory holds one
  batch of audio, not all of it.

  Returns:
    (probs `[n, classes]`, features `[n, d]`, pyin MIDI `[n]` (NaN where not
    measured) or None).
  """
  from gansynth_tf2 import metrics  # pylint: disable=import-outside-toplevel
  probs, features, estimates = [], [], []
  lo, hi = scoring.PYIN_PITCH_RANGE
  with progress_bar(progress, desc=desc, unit='note',
                    total=len(pitches)) as bar:
    for i in range(0, len(pitches), batch_size):
      chunk = pitches[i:i + batch_size]
      waves = np.asarray(model.generate_from_z(z[i:i + batch_size], chunk))
      p, f, waves = classify(clf, waves, model.sample_rate, batch_size)
      probs.append(p)
      features.append(f)
      if pyin:
        est = np.full(len(chunk), np.nan)
        measured = (chunk >= lo) & (chunk <= hi)
        if np.any(measured):
          est[measured] = metrics.pyin_midi(waves[measured],
                                            sample_rate=clf.sample_rate)
        estimates.append(est)
      bar.update(len(chunk))
  return (np.concatenate(probs), np.concatenate(features),
          np.concatenate(estimates) if pyin else None)
