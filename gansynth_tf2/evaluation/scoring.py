"""One row's numbers, the real notes' split and the pitches asked of a model.

Arrays in, numbers out: the notes were classified by classify.py.
"""
import numpy as np

from gansynth_tf2.data import schema

# PA counts a note right when the classifier's pitch is within this many
# semitones of the asked one.
PA_TOLERANCE = 1
# The pYIN check covers notes asked in this range (C2..C6): the lowest notes'
# fundamentals are often weak, and pYIN then reports another octave.
PYIN_PITCH_RANGE = (36, 84)
PYIN_TOLERANCE = 0.5


def score(probs, features, asked_pitches, reference_features, ndb_k, seed):
  """One row of the table.

  Args:
    probs: `[n, classes]` classifier softmax of the notes scored.
    features: `[n, d]` their classifier features.
    asked_pitches: `[n]` MIDI pitches they should have.
    reference_features: `[m, d]` features of the real notes compared with.
    ndb_k: NDB bins (<= m).
    seed: seeds NDB's k-means.

  Returns:
    {IS, FID, PA, PE, NDB, NDB_fraction, num_samples}.
  """
  from gansynth_tf2 import metrics  # pylint: disable=import-outside-toplevel
  predicted = schema.MIN_PITCH + np.argmax(probs, axis=1)
  ndb_count, ndb_fraction = metrics.ndb(reference_features, features,
                                        k=ndb_k, seed=seed)
  return {
      'IS': metrics.inception_score(probs),
      'FID': metrics.fid_from_features(features, reference_features),
      'PA': metrics.pitch_accuracy(predicted, asked_pitches,
                                   tolerance=PA_TOLERANCE),
      'PE': metrics.pitch_entropy(probs),
      'NDB': int(ndb_count),
      'NDB_fraction': float(ndb_fraction),
      'num_samples': int(len(probs)),
  }


def pyin_pa(estimates, pitches):
  """pYIN pitch accuracy over the notes asked in PYIN_PITCH_RANGE (None: none).

  Args:
    estimates: `[n]` float MIDI from `metrics.pyin_midi` (NaN: unmeasured).
    pitches: `[n]` int MIDI pitches asked.
  """
  from gansynth_tf2 import metrics  # pylint: disable=import-outside-toplevel
  lo, hi = PYIN_PITCH_RANGE
  measured = (pitches >= lo) & (pitches <= hi)
  if not np.any(measured):
    return None
  return metrics.pyin_accuracy(estimates[measured], pitches[measured],
                               tolerance=PYIN_TOLERANCE)


def split_real(num_notes, seed):
  """(held-out indices, reference indices): a seeded split into halves."""
  order = np.random.default_rng(seed).permutation(num_notes)
  half = num_notes // 2
  return np.sort(order[:half]), np.sort(order[half:])


def sample_pitches(real_pitches, allowed, num_samples, seed):
  """`[num_samples]` MIDI pitches drawn from the real notes' pitch frequencies.

  Only pitches in `allowed` are drawn (their frequencies renormalized).

  Returns:
    (pitches, fraction of the real notes whose pitch is not allowed).
  """
  values, counts = np.unique(real_pitches, return_counts=True)
  ok = np.isin(values, list(allowed))
  if not np.any(ok):
    return None, 1.0
  p = counts[ok] / counts[ok].sum()
  rng = np.random.default_rng(seed)
  pitches = rng.choice(values[ok], size=num_samples, p=p).astype(np.int32)
  return pitches, float(counts[~ok].sum() / counts.sum())
