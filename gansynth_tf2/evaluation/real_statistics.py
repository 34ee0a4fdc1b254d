"""The classifier's view of the real notes, cached on disk.

A cache file `real_<hash>.npz` holds the key it was made for (JSON: the
dataset's fingerprint, a hash of the classifier's files, the audio lengths,
`max_real_notes`, CACHE_VERSION), `probs`, `features` and `pitches`; it is
reused only while that key is unchanged.
"""
import collections
import hashlib
import io
import json
import os

import numpy as np

from gansynth_tf2.data import schema
from gansynth_tf2.evaluation import classify
from gansynth_tf2.evaluation import EvaluationError
from gansynth_tf2.evaluation import first_line
from gansynth_tf2.evaluation import real_data

# Bump when what the real-data cache holds changes.
CACHE_VERSION = 1


def default_cache_dir():
  """`eval_stats/` in the dataset cache ($GANSYNTH_TF2_CACHE, ~/.cache/...)."""
  from gansynth_tf2.data import default  # pylint: disable=import-outside-toplevel
  return os.path.join(default.cache_root(), 'eval_stats')


def classifier_fingerprint(classifier_dir):
  """sha256 of every file of the classifier folder (names and bytes)."""
  digest = hashlib.sha256()
  for root, dirs, names in os.walk(classifier_dir):
    dirs.sort()
    for name in sorted(names):
      path = os.path.join(root, name)
      digest.update(os.path.relpath(path, classifier_dir).encode() + b'\0')
      with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
          digest.update(chunk)
  return digest.hexdigest()


class RealStatistics(
    collections.namedtuple('RealStatistics',
                           'probs features pitches cache_path cached')):
  """The classifier's view of the real notes.

  probs: `[n, classes]` softmax; features: `[n, d]`; pitches: `[n]` int MIDI;
  cache_path: the cache file; cached: whether it was read from there.
  """


def _read_cache(path, key_json):
  try:
    with np.load(path, allow_pickle=False) as f:
      if str(f['key']) != key_json:
        return None
      return f['probs'], f['features'], f['pitches']
  except (OSError, KeyError, ValueError):
    return None  # unreadable or half-written by an older version: redo


def _write_cache(path, key_json, probs, features, pitches):
  from gansynth_tf2 import files  # pylint: disable=import-outside-toplevel
  os.makedirs(os.path.dirname(path), exist_ok=True)
  buf = io.BytesIO()
  np.savez(buf, key=np.array(key_json), probs=probs, features=features,
           pitches=pitches)
  files.write_atomic(path, buf.getvalue())


def real_statistics(dataset, clf, classifier_dir, cache_dir=None,
                    batch_size=32, max_real_notes=None, progress=None,
                    log=print):
  """Classifier softmax and features of every real note, cached on disk.

  The cache key holds the dataset's fingerprint (files with sizes and
  modification times), a hash of the classifier's files, the audio length
  and `max_real_notes`.

  Args:
    dataset: a `data.base.NotesDataset`.
    clf: the loaded classifier (`classifier.load_classifier`).
    classifier_dir: its folder (hashed into the cache key).
    cache_dir: cache folder (default `default_cache_dir()`).
    batch_size: notes per classifier call.
    max_real_notes: use only the first this many notes in the dataset's
      order (None: all).
    progress: show a progress bar (None: only on a terminal).
    log: where to say what happens.

  Returns:
    A `RealStatistics`; notes outside the classifier's pitches are dropped.

  Raises:
    EvaluationError: the dataset cannot be read or yields no notes.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  cache_dir = os.path.expanduser(cache_dir or default_cache_dir())
  key = {'version': CACHE_VERSION,
         'dataset': real_data.dataset_fingerprint(dataset),
         'classifier': classifier_fingerprint(classifier_dir),
         'audio_length': int(dataset.audio_length),
         'classifier_audio_length': int(clf.audio_length),
         'short_notes': 'looped', 'max_real_notes': max_real_notes}
  key_json = json.dumps(key, sort_keys=True)
  name = hashlib.sha256(key_json.encode()).hexdigest()[:24]
  path = os.path.join(cache_dir, f'real_{name}.npz')
  cached = _read_cache(path, key_json) if os.path.exists(path) else None
  if cached is not None:
    log(f'using cached real statistics: {path}')
    return RealStatistics(*cached, cache_path=path, cached=True)

  lo, hi = classify.classifier_pitch_range(clf)
  ds = dataset.provide_dataset()
  if max_real_notes:
    ds = ds.take(int(max_real_notes))
  ds = ds.batch(batch_size).prefetch(1)
  probs, features, pitches = [], [], []
  dropped = 0
  try:
    with classify.progress_bar(progress, desc='real data: classifying',
                               unit='note', total=max_real_notes) as bar:
      for waves, labels in ds.as_numpy_iterator():
        note_pitches = dataset.min_pitch + np.argmax(labels, axis=1)
        keep = (note_pitches >= lo) & (note_pitches <= hi)
        dropped += int(np.sum(~keep))
        if np.any(keep):
          p, f, _ = classify.classify(clf, waves[keep, :, 0],
                                      schema.SAMPLE_RATE, batch_size)
          probs.append(p)
          features.append(f)
          pitches.append(note_pitches[keep].astype(np.int32))
        bar.update(len(waves))
  except tf.errors.OpError as e:
    raise EvaluationError(f'real data: {type(dataset).__name__} cannot be '
                          f'read: {first_line(e.message)}') from None
  if dropped:
    log(f'real data: {dropped} notes outside the classifier\'s pitches '
        f'{lo}..{hi} left out')
  if not probs:
    raise EvaluationError(
        f'no real data: {type(dataset).__name__} '
        f'({real_data.fingerprint_summary(key["dataset"])}) yields no notes '
        f'in MIDI {lo}..{hi}')
  probs, features, pitches = (np.concatenate(probs),
                              np.concatenate(features),
                              np.concatenate(pitches))
  _write_cache(path, key_json, probs, features, pitches)
  log(f'real statistics of {len(pitches)} notes cached in {path}')
  return RealStatistics(probs, features, pitches, cache_path=path,
                        cached=False)
