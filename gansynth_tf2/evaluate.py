r"""Scores generators as the GANSynth paper's Table 1: IS, FID, PA, PE, NDB.

  python -m gansynth_tf2.evaluate --ckpt_dir=runs/if_mel_hq \
      --ckpt_dir=acoustic_only --classifier_dir=runs/classifier \
      [--gin_file=gin/datasets/default.gin] [--num_samples=1000] [--seed=0] \
      [--output_json=table.json] [--pyin]

One row per checkpoint (ours or Magenta's) plus a "real data" row, scored
with a pitch classifier (`gansynth_tf2.classifier`):

  * model rows: `num_samples` notes generated with pitches drawn from the
    real data's pitch distribution (seeded); IS, PA (classifier argmax vs
    asked pitch, within 1 semitone) and PE from their softmax; FID and NDB
    of their classifier features against those of all real notes.
  * the real row: the real notes split (seeded) into a held-out half and a
    reference half; IS, PA, PE on the held-out half, FID and NDB of
    held-out vs reference: the best a model can hope for on this data.

Real data is any dataset train.py reads (`--gin_file`/`--gin_param` binding
the DATASET macro, e.g. gin/datasets/prepared.gin). Without them it is the
data the first checkpoint's experiment.json names (`dataset_name`,
`train_data_path`) when that is readable here, else the embedded default
dataset (gin/datasets/default.gin). The classifier's softmax and features of
the real notes are cached in `--cache_dir` and reused while the dataset's
files, the classifier's files and the audio length are unchanged.

Numbers are comparable between models measured with the same classifier
and real data, not with the paper's Table 1 (its classifier is unreleased).
"""

import collections
import datetime
import gc
import hashlib
import io
import json
import math
import os
import sys

from absl import app
from absl import flags
import gin
import numpy as np

# TensorFlow, the classifier and the metrics are imported where needed, so a
# mistyped flag fails in a second, not after TensorFlow has loaded.
from gansynth_tf2.data import schema

FLAGS = flags.FLAGS

REAL_ROW = 'real data'
# The keys every row has (the paper's Table 1 columns).
METRIC_KEYS = ('IS', 'FID', 'PA', 'PE', 'NDB', 'NDB_fraction')
DEFAULT_NUM_SAMPLES = 1000
DEFAULT_NDB_K = 50
# PA counts a note right when the classifier's pitch is within this many
# semitones of the asked one.
PA_TOLERANCE = 1
# The pYIN check covers notes asked in this range (C2..C6): the lowest notes'
# fundamentals are often weak, and pYIN then reports another octave.
PYIN_PITCH_RANGE = (36, 84)
PYIN_TOLERANCE = 0.5
# Bump when what the real-data cache holds changes.
CACHE_VERSION = 1
DEFAULT_DATASET_GIN = 'gin/datasets/default.gin'


class EvaluationError(ValueError):
  """Bad input to the evaluation; the message says what to change."""


def default_cache_dir():
  """`eval_stats/` in the dataset cache ($GANSYNTH_TF2_CACHE, ~/.cache/...)."""
  from gansynth_tf2.data import default  # pylint: disable=import-outside-toplevel
  return os.path.join(default.cache_root(), 'eval_stats')


def _progress_bar(progress, **kwargs):
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  # None: a bar only on a terminal (tqdm's own rule).
  return tqdm(disable=None if progress is None else not progress, **kwargs)


# ------------------------------------------------------------------ real data


def dataset_from_gin(gin_files, gin_params=()):
  """The dataset a gin config binds to the DATASET macro (as train.py reads it).

  Clears the global gin config before and after: for command lines, not for
  a process that still needs its own bindings.

  Raises:
    EvaluationError: no DATASET macro, or the dataset cannot be built.
  """
  # Importing train registers the configurables training configs bind
  # (train.*, hparams.*) besides the dataset's.
  from gansynth_tf2 import gin_config  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import train  # pylint: disable=import-outside-toplevel,unused-import
  gin.clear_config()
  try:
    try:
      gin_config.parse_gin(gin_files, list(gin_params))
    except gin_config.GinConfigError as e:  # missing file, typo
      raise EvaluationError(str(e)) from e
    try:
      gin.query_parameter('%DATASET')
    except ValueError:
      raise EvaluationError(
          f'no real data: the gin config ({", ".join(gin_files) or "none"}) '
          'binds no DATASET macro; pass e.g. '
          f'--gin_file={DEFAULT_DATASET_GIN} or gin/datasets/prepared.gin '
          'with --gin_param="PreparedDataset.data_dir=\'DIR\'"') from None
    # Module-qualified: run as __main__, this file may also be imported.
    gin.parse_config(f'{__name__}.evaluate_real_dataset.dataset = %DATASET')
    try:
      return _real_dataset()
    except TypeError as e:  # an argument the config leaves unbound
      raise EvaluationError(f'no real data: {_first_line(e)}; bind it with '
                            '--gin_param') from e
    except (FileNotFoundError, ValueError, ImportError) as e:
      raise EvaluationError(f'no real data: {_first_line(e)}') from e
  finally:
    gin.clear_config()


def _first_line(error):
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__


@gin.configurable('evaluate_real_dataset')
def _real_dataset(dataset=gin.REQUIRED):
  """What `evaluate_real_dataset.dataset = %DATASET` evaluates to."""
  return dataset


def dataset_from_experiment(ckpt_dir):
  """The real data a checkpoint's experiment.json names, if readable here.

  `dataset_name` as our training writes it: `prepared` and `default` read
  `train_data_path` as a folder of NSynth-schema shards, `nsynth_tfrecord`
  as a file pattern (with the paper's filters), `nsynth_tfds` as a TFDS data
  dir. Magenta's checkpoints name data of their training machine, usually
  absent here.

  Returns:
    (dataset or None, a sentence saying what was chosen or why not).
  """
  from gansynth_tf2 import magenta_checkpoint  # pylint: disable=import-outside-toplevel
  from gansynth_tf2.data import nsynth  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  config = magenta_checkpoint.read_experiment_json(ckpt_dir)
  name = config.dataset_name
  path = config.train_data_path
  what = f"{ckpt_dir}/experiment.json's {name} data {path}"
  # Real notes as long as the model's (cpu_small trains on 0.5 s of each).
  length = dict(audio_length=int(config.audio_length))
  try:
    if name in ('prepared', 'default') and path and os.path.isdir(path):
      return nsynth.PreparedDataset(path, **length), what
    if name == 'nsynth_tfrecord' and path and tf.io.gfile.glob(path):
      return nsynth.NSynthTFRecordDataset(path, **length), what
    if name == 'nsynth_tfds' and path and os.path.isdir(path):
      return nsynth.NSynthTfdsDataset(path, **length), what
  except (FileNotFoundError, ValueError) as e:
    return None, f'{what} cannot be read ({_first_line(e)})'
  return None, f'{what} is not available here'


def resolve_real_data(ckpt_dirs, gin_files=(), gin_params=(), log=print):
  """The real data: the gin config's, else the first checkpoint's, else default.

  Returns:
    (a `data.base.NotesDataset`, how it was chosen).
  """
  if gin_files or gin_params:
    return dataset_from_gin(gin_files, gin_params), (
        f'gin: {", ".join(list(gin_files) + list(gin_params))}')
  dataset, why = dataset_from_experiment(ckpt_dirs[0])
  if dataset is not None:
    log(f'real data: {why}')
    return dataset, why
  from gansynth_tf2.data import default  # pylint: disable=import-outside-toplevel
  log(f'real data: {why}; using the embedded default dataset '
      f'({DEFAULT_DATASET_GIN}); pass --gin_file to choose')
  return default.DefaultDataset(), f'{DEFAULT_DATASET_GIN} (default)'


def describe_dataset(dataset):
  """What identifies a dataset's notes: class, place, filters, file stamps."""
  desc = {k: list(v) if isinstance(v, tuple) else v
          for k, v in dataset.describe().items() if v is not None}
  stamps = []
  for path in getattr(dataset, 'files', None) or []:
    try:
      st = os.stat(path)
      stamps.append([os.path.abspath(path), st.st_size, st.st_mtime_ns])
    except OSError:  # not a local file (e.g. gs://): its name must do
      stamps.append([path, None, None])
  if stamps:
    desc['files'] = stamps
  return desc


def _summary_of(desc):
  """A short description for the JSON and messages (no file list)."""
  return {k: v for k, v in desc.items() if k != 'files'} | (
      {'num_files': len(desc['files'])} if 'files' in desc else {})


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

  The cache key holds the dataset's description (files with sizes and
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
  key = {'version': CACHE_VERSION, 'dataset': describe_dataset(dataset),
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

  lo, hi = classifier_pitch_range(clf)
  ds = dataset.provide_dataset()
  if max_real_notes:
    ds = ds.take(int(max_real_notes))
  ds = ds.batch(batch_size).prefetch(1)
  probs, features, pitches = [], [], []
  dropped = 0
  try:
    with _progress_bar(progress, desc='real data: classifying', unit='note',
                       total=max_real_notes) as bar:
      for waves, labels in ds.as_numpy_iterator():
        note_pitches = dataset.min_pitch + np.argmax(labels, axis=1)
        keep = (note_pitches >= lo) & (note_pitches <= hi)
        dropped += int(np.sum(~keep))
        if np.any(keep):
          p, f, _ = _classify(clf, waves[keep, :, 0], schema.SAMPLE_RATE,
                              batch_size)
          probs.append(p)
          features.append(f)
          pitches.append(note_pitches[keep].astype(np.int32))
        bar.update(len(waves))
  except tf.errors.OpError as e:
    raise EvaluationError(f'real data: {type(dataset).__name__} cannot be '
                          f'read: {_first_line(e.message)}') from None
  if dropped:
    log(f'real data: {dropped} notes outside the classifier\'s pitches '
        f'{lo}..{hi} left out')
  if not probs:
    raise EvaluationError(
        f'no real data: {type(dataset).__name__} '
        f'({_summary_of(key["dataset"])}) yields no notes in MIDI {lo}..{hi}')
  probs, features, pitches = (np.concatenate(probs),
                              np.concatenate(features),
                              np.concatenate(pitches))
  _write_cache(path, key_json, probs, features, pitches)
  log(f'real statistics of {len(pitches)} notes cached in {path}')
  return RealStatistics(probs, features, pitches, cache_path=path,
                        cached=False)


def classifier_pitch_range(clf):
  """(lowest, highest) MIDI pitch of a classifier (label i: MIN_PITCH + i)."""
  return schema.MIN_PITCH, schema.MIN_PITCH + int(clf.num_pitches) - 1


# -------------------------------------------------------------------- scoring


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


def row_names(ckpt_dirs):
  """Unique row names: folder basenames, with parents or numbers if equal."""
  paths = [os.path.abspath(os.fspath(d)).rstrip('/') for d in ckpt_dirs]
  base_names = [os.path.basename(p) for p in paths]
  names = [
      os.path.join(os.path.basename(os.path.dirname(p)), b)
      if base_names.count(b) > 1 or b == REAL_ROW else b
      for p, b in zip(paths, base_names)]
  seen = collections.Counter()
  numbered = []
  for name in names:
    seen[name] += 1
    numbered.append(f'{name} #{seen[name]}' if names.count(name) > 1 else name)
  return numbered


def _checkpoint_position(model):
  """(stage, images trained on) of the checkpoint a model was loaded from."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import run_dir  # pylint: disable=import-outside-toplevel
  prefix = model.checkpoint_path
  if prefix is None:  # built in memory, e.g. a network at initialisation
    return None, None
  stage = run_dir.STAGE_DIR_PATTERN.fullmatch(
      os.path.basename(os.path.dirname(prefix)))
  image_id = None
  try:
    reader = tf.train.load_checkpoint(prefix)
    for key in (run_dir.variable_key('image_id'), 'global_step'):
      if reader.has_tensor(key):
        image_id = int(reader.get_tensor(key))
        break
  except (tf.errors.OpError, ValueError):
    pass
  return (int(stage.group(1)) if stage else None), image_id


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


def _classify(clf, waves, sample_rate, batch_size):
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
  lo, hi = PYIN_PITCH_RANGE
  with _progress_bar(progress, desc=desc, unit='note',
                     total=len(pitches)) as bar:
    for i in range(0, len(pitches), batch_size):
      chunk = pitches[i:i + batch_size]
      waves = np.asarray(model.generate_from_z(z[i:i + batch_size], chunk))
      p, f, waves = _classify(clf, waves, model.sample_rate, batch_size)
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


def _check_arguments(ckpt_dirs, classifier_dir, num_samples, batch_size,
                     ndb_k, max_real_notes):
  if not ckpt_dirs:
    raise EvaluationError('--ckpt_dir: give at least one checkpoint '
                          'directory (repeat the flag for several models)')
  for d in ckpt_dirs:
    if not os.path.isdir(d):
      raise EvaluationError(f'--ckpt_dir: no such directory: {d}')
    if not os.path.exists(os.path.join(d, 'experiment.json')):
      raise EvaluationError(
          f'--ckpt_dir: {d} is not a checkpoint directory (no '
          'experiment.json; expected a training dir or an unzipped Magenta '
          'checkpoint)')
  if not classifier_dir:
    raise EvaluationError('--classifier_dir is required (train one with '
                          'python -m gansynth_tf2.train_classifier)')
  if not os.path.isdir(classifier_dir):
    raise EvaluationError(f'--classifier_dir: no such directory: '
                          f'{classifier_dir}')
  if num_samples < 2:
    raise EvaluationError(f'--num_samples must be >= 2 (FID needs a '
                          f'covariance), got {num_samples}')
  if batch_size < 1:
    raise EvaluationError(f'--batch_size must be >= 1, got {batch_size}')
  if ndb_k < 1:
    raise EvaluationError(f'--ndb_k must be >= 1, got {ndb_k}')
  if max_real_notes is not None and max_real_notes < 4:
    raise EvaluationError(f'--max_real_notes must be >= 4 (two halves of at '
                          f'least 2), got {max_real_notes}')


def evaluate_models(ckpt_dirs, classifier_dir, dataset=None, *,
                    num_samples=DEFAULT_NUM_SAMPLES, seed=0, batch_size=8,
                    cache_dir=None, ndb_k=DEFAULT_NDB_K, pyin=False,
                    max_real_notes=None, use_ema=True, progress=None,
                    models=None, log=print):
  """The table of `python -m gansynth_tf2.evaluate`, as a dict.

  Args:
    ckpt_dirs: checkpoint folders, ours or Magenta's (a row each).
    classifier_dir: a folder of `classifier.save_classifier`.
    dataset: the real data (a `data.base.NotesDataset`); None: the first
      checkpoint's training data when readable, else the embedded default
      (`resolve_real_data`; this does not touch the gin config).
    num_samples: notes generated per model.
    seed: seeds latents, pitches, the real split and NDB's k-means.
    batch_size: notes per generator and classifier call.
    cache_dir: real-statistics cache (default `default_cache_dir()`).
    ndb_k: NDB bins; lowered to the reference half's size if larger.
    pyin: also measure the generated notes' pitch with pYIN (slow: seconds
      per note on a CPU).
    max_real_notes: use only the first this many real notes.
    use_ema: generate with the EMA weights (as Magenta).
    progress: progress bars (None: only on a terminal).
    models: already loaded models (`load_model`), one per ckpt_dir, or None
      to load them (then one at a time, each freed after its row).
    log: where notes go (print).

  Returns:
    {'rows': {name: {IS, FID, PA, PE, NDB, NDB_fraction, num_samples, ...}},
     'real_data': {...}, 'classifier_dir', 'seed', 'num_samples', 'ndb_k',
     'pa_tolerance', 'pyin', 'created'}; the real row is named 'real data'
     and comes first. Non-finite numbers are None.

  Raises:
    EvaluationError (a ValueError): bad arguments, no real data.
    CheckpointError (a ValueError): a checkpoint that cannot be loaded.
  """
  ckpt_dirs = [os.fspath(d) for d in ckpt_dirs]
  if models is not None and len(models) != len(ckpt_dirs):
    raise EvaluationError(f'{len(models)} models for {len(ckpt_dirs)} '
                          'checkpoint directories')
  _check_arguments(ckpt_dirs, classifier_dir, num_samples, batch_size, ndb_k,
                   max_real_notes)
  import gansynth_tf2  # pylint: disable=import-outside-toplevel
  from gansynth_tf2 import classifier  # pylint: disable=import-outside-toplevel
  chosen_by = 'given'
  if dataset is None:
    dataset, chosen_by = resolve_real_data(ckpt_dirs, log=log)
  clf = classifier.load_classifier(classifier_dir)

  real = real_statistics(dataset, clf, classifier_dir, cache_dir,
                         batch_size=batch_size, max_real_notes=max_real_notes,
                         progress=progress, log=log)
  n_real = len(real.pitches)
  if n_real < 4:
    raise EvaluationError(
        f'real data: {n_real} notes; need at least 4 (a held-out and a '
        'reference half of 2 or more)')
  held, ref = split_real(n_real, seed)
  k = min(int(ndb_k), len(ref))
  if k < ndb_k:
    log(f'--ndb_k={ndb_k} is more than the {len(ref)} real reference notes; '
        f'using {k} bins')
  names = row_names(ckpt_dirs)
  rows = {REAL_ROW: dict(score(real.probs[held], real.features[held],
                               real.pitches[held], real.features[ref], k,
                               seed), pyin_PA=None)}
  lo, hi = classifier_pitch_range(clf)
  for i, (name, ckpt_dir) in enumerate(zip(names, ckpt_dirs)):
    if models is None:
      model = gansynth_tf2.load_model(ckpt_dir, use_ema=use_ema,
                                      batch_size=batch_size)
    else:
      model = models[i]
    allowed = set(model.pitches) & set(range(lo, hi + 1))
    pitches, left_out = sample_pitches(real.pitches, allowed, num_samples,
                                       seed)
    if pitches is None:
      raise EvaluationError(
          f'{ckpt_dir}: the model\'s pitches {model.min_pitch}..'
          f'{model.max_pitch} share none with the real notes\' pitches '
          f'within the classifier\'s {lo}..{hi}')
    if left_out:
      log(f'{name}: {left_out:.1%} of the real notes have pitches the model '
          f'or the classifier lacks (model {model.min_pitch}..'
          f'{model.max_pitch}, classifier {lo}..{hi}); pitches are drawn from '
          'the rest')
    if model.sample_rate != clf.sample_rate:
      log(f'{name}: resampling {model.sample_rate} Hz notes to the '
          f"classifier's {clf.sample_rate} Hz")
    z = model.generate_z(num_samples, seed=seed)
    probs, features, estimates = generate_and_classify(
        model, clf, pitches, z, batch_size, pyin=pyin, progress=progress,
        desc=f'{name}: generating + classifying')
    row = score(probs, features, pitches, real.features, k, seed)
    stage, image_id = _checkpoint_position(model)
    row.update(pyin_PA=pyin_pa(estimates, pitches) if pyin else None,
               ckpt_dir=os.path.abspath(ckpt_dir), source=model.source,
               stage=stage, image_id=image_id,
               sample_rate=model.sample_rate,
               audio_length=model.audio_length,
               pitches_left_out=left_out)
    rows[name] = row
    del model
    gc.collect()

  return _finite({
      'rows': rows,
      'real_data': dict(_summary_of(describe_dataset(dataset)),
                        chosen_by=chosen_by, num_notes=n_real,
                        held_out=len(held), reference=len(ref),
                        cache=real.cache_path),
      'classifier_dir': os.path.abspath(classifier_dir),
      'seed': seed, 'num_samples': num_samples, 'ndb_k': k,
      'pa_tolerance': PA_TOLERANCE, 'pyin': bool(pyin),
      'created': datetime.datetime.now(datetime.timezone.utc).isoformat(),
  })


def _finite(value):
  """numpy scalars -> Python; NaN/Inf -> None (JSON has no NaN)."""
  if isinstance(value, dict):
    return {k: _finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite(v) for v in value]
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


# --------------------------------------------------------------------- output


def markdown_table(results):
  """Table 1 style: Model | IS | FID | PA | PE | NDB | NDB frac (| pYIN PA)."""
  columns = [('IS', '{:.2f}'), ('FID', '{:.2f}'), ('PA', '{:.3f}'),
             ('PE', '{:.3f}'), ('NDB', '{:d}'), ('NDB_fraction', '{:.3f}')]
  headers = ['Model', 'IS', 'FID', 'PA', 'PE', 'NDB', 'NDB frac']
  if results.get('pyin'):
    columns.append(('pyin_PA', '{:.3f}'))
    headers.append('pYIN PA')
  lines = ['| ' + ' | '.join(headers) + ' |',
           '|' + '---|' + '---:|' * (len(headers) - 1)]
  for name, row in results['rows'].items():
    cells = [name] + ['-' if row.get(key) is None else fmt.format(row[key])
                      for key, fmt in columns]
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def write_json(path, results):
  """Writes the results atomically (temporary file, then rename)."""
  from gansynth_tf2 import files  # pylint: disable=import-outside-toplevel
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  files.write_atomic(path, json.dumps(results, indent=2) + '\n')


# ------------------------------------------------------------------------ CLI


def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI so that importing this
  module beside another absl program does not clash. `flag_values`: where
  (tests parse into their own `flags.FlagValues`)."""
  flags.DEFINE_multi_string(
      'gin_file', [], 'Real data: gin files binding the DATASET macro, as '
      'train.py reads them (e.g. gin/datasets/prepared.gin). Default: the '
      "first checkpoint's training data when readable, else "
      f'{DEFAULT_DATASET_GIN}',
      flag_values=flag_values)
  flags.DEFINE_multi_string(
      'gin_param', [], 'gin bindings applied after the files, e.g. '
      "--gin_param=\"PreparedDataset.data_dir='data/mine'\"",
      flag_values=flag_values)
  flags.DEFINE_multi_string(
      'ckpt_dir', [], 'Checkpoint directory, ours (a training dir) or '
      "Magenta's (experiment.json + stage_000NN/); one row each",
      flag_values=flag_values)
  flags.DEFINE_string(
      'classifier_dir', None, 'Required: the pitch classifier folder (made by '
      'python -m gansynth_tf2.train_classifier --output_dir=...).',
      flag_values=flag_values)
  flags.DEFINE_integer('num_samples', DEFAULT_NUM_SAMPLES,
                       'Notes generated per model.',
                       flag_values=flag_values)
  flags.DEFINE_integer(
      'seed', 0, 'Seeds latents, pitches, the real-data split and NDB; the '
      'same seed gives the same numbers.',
      flag_values=flag_values)
  flags.DEFINE_string('output_json', None,
                      'Also write the table as JSON here (atomically).',
                      flag_values=flag_values)
  flags.DEFINE_string(
      'cache_dir', None, "Cache of the real notes' classifier outputs "
      '(default: eval_stats/ in $GANSYNTH_TF2_CACHE, else in '
      '~/.cache/gansynth_tf2).',
      flag_values=flag_values)
  flags.DEFINE_integer('batch_size', 8,
                       'Notes per generator and classifier call.',
                       flag_values=flag_values)
  flags.DEFINE_boolean(
      'pyin', False, "Also check the generated notes' pitch with pYIN "
      f'(notes asked in MIDI {PYIN_PITCH_RANGE[0]}..{PYIN_PITCH_RANGE[1]}, '
      f'within {PYIN_TOLERANCE} semitone); classifier-independent but slow, '
      'about 2 s per note on a CPU.',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'ndb_k', DEFAULT_NDB_K, 'NDB bins (k-means on real features); lowered '
      'to the size of the real reference half when that is smaller.',
      flag_values=flag_values)
  flags.DEFINE_integer(
      'max_real_notes', None, 'Use only the first this many real notes, in '
      "the dataset's order (default: all).",
      flag_values=flag_values)
  flags.DEFINE_boolean('use_ema', True,
                       "Generate with the generator's EMA weights.",
                       flag_values=flag_values)


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  fv = flag_values
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    # The cheap checks first, so a typo fails before TensorFlow loads.
    _check_arguments(fv.ckpt_dir, fv.classifier_dir, fv.num_samples,
                     fv.batch_size, fv.ndb_k, fv.max_real_notes)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.get_logger().setLevel('ERROR')
    dataset, chosen_by = resolve_real_data(fv.ckpt_dir, fv.gin_file,
                                           fv.gin_param)
    results = evaluate_models(
        fv.ckpt_dir, fv.classifier_dir, dataset,
        num_samples=fv.num_samples, seed=fv.seed,
        batch_size=fv.batch_size, cache_dir=fv.cache_dir,
        ndb_k=fv.ndb_k, pyin=fv.pyin,
        max_real_notes=fv.max_real_notes, use_ema=fv.use_ema)
    results['real_data']['chosen_by'] = chosen_by
    if fv.output_json:
      write_json(fv.output_json, results)
  except (ValueError, OSError) as e:
    # Bad input (EvaluationError, CheckpointError and the classifier's errors
    # among them): one clear line, no traceback.
    print(f'ERROR: {_first_line(e)}', file=sys.stderr, flush=True)
    raise SystemExit(1) from None
  print(markdown_table(results), flush=True)
  if fv.output_json:
    print(f'wrote {fv.output_json}')


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
