"""The run folder: its names, its experiment.json, its checkpoints. One place.

A training run (ours, and Magenta's on disk):

  <train_dir>/experiment.json      the hyperparameters (Magenta's keys)
  <train_dir>/operative_config.gin the gin config that ran (ours only)
  <train_dir>/assets/              normalizers computed from data
  <train_dir>/stage_000NN/         one folder per progressive stage, holding
                                   TF checkpoints (`ckpt-K.index`, ... ours;
                                   `model.ckpt-K.*` Magenta's)
  <train_dir>/.trainer.lock        the trainer's OS lock (`Run.lock`): who
                                   trains the run (host, PID, start)

`Run(path)` answers every question about such a folder: which stages exist,
which checkpoints a stage keeps, which one to load (the last stage's latest,
a chosen stage's, or a given prefix), the hyperparameters (read, validated,
written or checked against a new run's). Training, the trainer's
checkpoints, Magenta import, loading, evaluation and the tools ask it;
nothing else names a stage folder or experiment.json.

Inside an object-based TF2 checkpoint a variable tracked as attribute `name`
of the root object is stored under `variable_key(name)`.
"""
import contextlib
import fcntl
import json
import os
import re
import socket
import sys
import time

import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import normalizers
from gansynth_tf2 import specgrams
from gansynth_tf2.data import nsynth

EXPERIMENT_JSON = 'experiment.json'
OPERATIVE_CONFIG = 'operative_config.gin'
# gin bindings of a converted Magenta checkpoint's hyperparameters.
HPARAMS_GIN = 'hparams.gin'
ASSETS = 'assets'  # computed normalizers' files (Magenta's name)
# The stage folder name, as Magenta's train_util.make_train_sub_dir writes it.
STAGE_DIR_PATTERN = re.compile(r'stage_(\d{5})')
# Our checkpoints' file prefix inside a stage folder (`ckpt-K.index`).
CHECKPOINT_NAME = 'ckpt'
# The trainer's lock file (Run.lock).
LOCK_FILE = '.trainer.lock'
# Key present only in TF2 object-based checkpoints (ours), not Magenta's.
OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'

# experiment.json keys the networks and the generate path cannot do without.
REQUIRED_KEYS = ('data_type', 'fmap_base', 'fmap_decay', 'fmap_max',
                 'latent_vector_size', 'kernel_size', 'scale_mode',
                 'scale_base', 'num_resolutions', 'start_height', 'start_width',
                 'stable_stage_num_images', 'transition_stage_num_images',
                 'total_num_images', 'audio_length', 'sample_rate',
                 'data_normalizer')

# Keys of experiment.json a resumed run may change. Besides paths and
# logging: the data (to fine-tune, e.g. a converted Magenta checkpoint, on
# other notes) and total_num_images (to train the last stage for longer).
# The networks and the stage schedule must stay as they were.
RESUMABLE_KEYS = frozenset({'train_root_dir', 'train_data_path',
                            'save_summaries_num_images', 'master', 'task',
                            'ps_tasks', 'debug_hook', 'dataset_name',
                            'pitch_counts', 'total_num_images'})


class CheckpointError(ValueError):
  """A checkpoint directory that cannot be loaded; the message says why."""


class ConfigConflictError(ValueError):
  """A train_dir holds a run made with other hyperparameters."""


class RunLockedError(RuntimeError):
  """Another process trains this run folder; the message says which."""


def parse_stage_dir(name):
  """The stage id of a folder named `stage_000NN`, else None."""
  match = STAGE_DIR_PATTERN.fullmatch(os.path.basename(
      os.fspath(name).rstrip('/')))
  return int(match.group(1)) if match else None


def variable_key(name):
  """The checkpoint key of the root object's variable attribute `name`."""
  return f'{name}/.ATTRIBUTES/VARIABLE_VALUE'


def _checkpoint_number(index_path):
  match = re.search(r'-(\d+)\.index$', index_path)
  return int(match.group(1)) if match else -1


def checkpoint_number(prefix):
  """The number of a checkpoint prefix (`.../ckpt-12` -> 12; -1 if none)."""
  return _checkpoint_number(os.fspath(prefix) + '.index')


class Run:
  """A run folder (ours or Magenta's). Creating one reads nothing.

  Args:
    path: the folder holding experiment.json and the stage folders.
  """

  def __init__(self, path):
    self.path = os.fspath(path).rstrip('/') or '/'

  def __repr__(self):
    return f'Run({self.path!r})'

  # Names.

  @contextlib.contextmanager
  def lock(self):
    """Holds the run's trainer lock while the block runs: one trainer per run.

    An OS lock (`flock`) on `<path>/.trainer.lock`, so the kernel releases
    it when the process ends in any way (kill -9 included): no stale lock
    is ever left to remove. The file records the holder (host, PID, start
    time, command) for the message a second trainer gets. Creates the
    folder if needed. Yields the holder record written.

    Raises:
      RunLockedError: another process (or another `lock()` of this one)
        holds it; nothing in the folder is touched.
    """
    created = not os.path.isdir(self.path)
    os.makedirs(self.path, exist_ok=True)
    path = os.path.join(self.path, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        raise RunLockedError(self._locked_message(fd, path)) from None
      holder = {'host': socket.gethostname(), 'pid': os.getpid(),
                'started': time.time(), 'command': ' '.join(sys.argv)}
      os.ftruncate(fd, 0)
      os.pwrite(fd, json.dumps(holder).encode(), 0)
      try:
        yield holder
      except BaseException:
        # A run that failed before writing anything leaves no folder.
        if created and os.listdir(self.path) == [LOCK_FILE]:
          os.remove(path)
          os.rmdir(self.path)
        raise
    finally:
      os.close(fd)  # releases the lock

  def _locked_message(self, fd, path):
    try:
      holder = json.loads(os.pread(fd, 65536, 0).decode() or '{}')
    except (OSError, ValueError):
      holder = {}
    who = 'another process'
    if holder.get('pid'):
      who = f'PID {holder["pid"]} on host {holder.get("host", "?")}'
      if holder.get('started'):
        started = time.localtime(holder['started'])
        who += (f' since {time.strftime("%H:%M", started)} '
                f'({time.strftime("%Y-%m-%d %H:%M:%S", started)}')
        if holder.get('command'):
          who += f': {holder["command"]}'
        who += ')'
    return (f'{self.path} is being trained by {who}; one trainer per run '
            f'folder (lock: {path}). Wait for it to end or stop it, or '
            'train into another --train_dir.')

  @property
  def experiment_path(self):
    return os.path.join(self.path, EXPERIMENT_JSON)

  @property
  def operative_config_path(self):
    return os.path.join(self.path, OPERATIVE_CONFIG)

  @property
  def hparams_gin_path(self):
    return os.path.join(self.path, HPARAMS_GIN)

  @property
  def assets_dir(self):
    return os.path.join(self.path, ASSETS)

  def stage_dir(self, stage_id):
    """`<path>/stage_000NN`."""
    return os.path.join(self.path, f'stage_{int(stage_id):05d}')

  # Stages and checkpoints.

  def stage_ids(self):
    """Sorted ids of the `stage_NNNNN` folders ([] if none or no folder).

    Whether a folder holds a checkpoint is `stages_with_checkpoints`'.
    """
    if not tf.io.gfile.isdir(self.path):
      return []
    return sorted(i for i in map(parse_stage_dir,
                                 tf.io.gfile.listdir(self.path))
                  if i is not None)

  def checkpoints(self, stage_id):
    """Prefixes of every checkpoint kept in a stage folder, oldest first
    (by the number after the last '-'; [] if none).

    Raises:
      CheckpointError: no folder of `stage_id`.
    """
    folder = self.stage_dir(stage_id)
    if not tf.io.gfile.isdir(folder):
      raise CheckpointError(f'{self.path} has no folder of stage {stage_id}')
    indexes = tf.io.gfile.glob(os.path.join(folder, '*.index'))
    return [i[:-len('.index')] for i in sorted(indexes,
                                               key=_checkpoint_number)]

  def latest_checkpoint(self, stage_id):
    """The stage's latest checkpoint prefix, or None.

    The `checkpoint` state file decides; where it is missing or names
    another machine's paths (a copied Magenta folder), the highest-numbered
    `*.index` does.
    """
    folder = self.stage_dir(stage_id)
    prefix = tf.train.latest_checkpoint(folder)
    if prefix is None and tf.io.gfile.isdir(folder):
      kept = self.checkpoints(stage_id)
      prefix = kept[-1] if kept else None
    return prefix

  def stages_with_checkpoints(self):
    """Sorted stage ids whose folder holds a checkpoint."""
    return [i for i in self.stage_ids() if self.latest_checkpoint(i)]

  def stage_of(self, prefix):
    """Stage id of a checkpoint prefix inside this run's stage folders.

    Raises:
      CheckpointError: the prefix is not in one of the stage folders or has
        no index file.
    """
    prefix = os.fspath(prefix)
    folder = os.path.dirname(prefix)
    stage_id = parse_stage_dir(folder)
    if (stage_id is None or os.path.abspath(os.path.dirname(folder)) !=
        os.path.abspath(self.path)):
      raise CheckpointError(
          f'checkpoint {prefix} is not in a stage_000NN folder of {self.path}')
    if not tf.io.gfile.exists(prefix + '.index'):
      raise CheckpointError(f'checkpoint {prefix} has no {prefix}.index')
    return stage_id

  def pick(self, stage_id=None, checkpoint=None):
    """(stage_id, prefix) to load: the last stage's latest checkpoint, the
    latest of `stage_id`, or the prefix `checkpoint` (its stage from its
    folder).

    Raises:
      CheckpointError: no such folder, stage or checkpoint.
      ValueError: `checkpoint` is not of `stage_id`.
    """
    if checkpoint is not None:
      found = self.stage_of(checkpoint)
      if stage_id is not None and int(stage_id) != found:
        raise ValueError(f'checkpoint {checkpoint} is of stage {found}, '
                         f'not stage_id={stage_id}')
      return found, os.fspath(checkpoint)
    if not tf.io.gfile.isdir(self.path):
      raise CheckpointError(f'{self.path} is not a directory')
    ids = self.stage_ids()
    if not ids:
      raise CheckpointError(
          f'no stage_000NN folders in {self.path}; is it the checkpoint '
          'directory (the folder holding experiment.json)?')
    if stage_id is None:
      stage_id = ids[-1]
    elif int(stage_id) not in ids:
      names = [os.path.basename(self.stage_dir(i)) for i in ids]
      raise CheckpointError(
          f'{self.path} has no folder of stage {stage_id}; it has {names}')
    prefix = self.latest_checkpoint(stage_id)
    if prefix is None:
      raise CheckpointError(
          f'{self.stage_dir(stage_id)} holds no checkpoint (*.index)')
    return int(stage_id), prefix

  # experiment.json.

  def has_experiment(self):
    return tf.io.gfile.exists(self.experiment_path)

  def read_experiment(self):
    """experiment.json's dict, as stored (no defaults filled in).

    Raises:
      OSError: no readable experiment.json.
      ValueError: it is not a JSON object (the message names the file).
    """
    path = self.experiment_path
    with tf.io.gfile.GFile(path) as f:
      text = f.read()
    try:
      value = json.loads(text)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path} is not valid JSON ({e})') from None
    if not isinstance(value, dict):
      raise ValueError(f'{path} must hold a JSON object of hyperparameters, '
                       f'got {type(value).__name__}')
    return value

  def hparams(self):
    """`hparams.HParams` of the run, Magenta's defaults filled in.

    Raises:
      CheckpointError: missing or unreadable file, required keys missing, an
        unknown data_type or a value of the wrong type.
    """
    if not self.has_experiment():
      raise CheckpointError(
          f'{self.path} is not a GANSynth checkpoint directory: it has no '
          f'{EXPERIMENT_JSON} (expected experiment.json + stage_000NN/ '
          'folders)')
    path = self.experiment_path
    try:
      config = self.read_experiment()
    except (ValueError, tf.errors.OpError) as e:
      raise CheckpointError(str(e)) from e
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
      raise CheckpointError(f'{path} lacks required keys: '
                            f'{", ".join(missing)}')
    if config['data_type'] not in specgrams.DATA_TYPES:
      raise CheckpointError(
          f'{path}: data_type {config["data_type"]!r} is not one of '
          f'{specgrams.DATA_TYPES}')
    try:
      # Keys old files lack take Magenta's defaults, as Magenta fills them.
      return hparams_lib.HParams.from_dict(config)
    except (TypeError, ValueError) as e:
      raise CheckpointError(f'{path}: {e}') from e

  def write_experiment(self, hp, write=True):
    """Writes experiment.json, or refuses a folder made by another config.

    Args:
      hp: `hparams.HParams` of the run.
      write: False only checks an existing file (a cluster's other workers).

    Raises:
      ConfigConflictError: experiment.json exists with other values; the
        message lists every differing key.
    """
    if write:
      tf.io.gfile.makedirs(self.path)
    config = hp.as_dict()
    if self.has_experiment():
      lines = _diff(self.read_experiment(), config)
      if lines:
        raise ConfigConflictError(
            f'{self.experiment_path} was written by a different config; '
            'refusing to mix runs. Use a new --train_dir, or the old config. '
            'Differences:\n' + '\n'.join(lines))
    if write:
      files.write_atomic(self.experiment_path,
                         json.dumps(config, indent=1, sort_keys=True))

  def data_change(self, hp):
    """What a resumed run changes of the data the folder was trained on: a
    line to show (fine-tuning on other notes is allowed, so it is said, not
    refused), or None for the same data or a new folder."""
    if not self.has_experiment():
      return None
    try:
      old = self.read_experiment()
    except (ValueError, tf.errors.OpError):
      return None
    new = hp.as_dict()
    changed = [k for k in ('dataset_name', 'train_data_path')
               if k in old and _normalize(old[k]) != _normalize(new.get(k))]
    if not changed:
      return None
    def describe(config):
      return ', '.join(f'{k} {config.get(k)!r}' for k in changed)
    return (f'Note: {self.path} holds a run trained on other data '
            f'({describe(old)}); this run goes on with {describe(new)} '
            '(fine-tuning). Use a new --train_dir to train from scratch.')

  def write_operative_config(self, text):
    files.write_atomic(self.operative_config_path, text)

  # What the networks need from the folder.

  def normalizer(self, hp, must_exist=True):
    """The run's normalizer; computed ones must have their asset here
    (unless `must_exist` is False: training fits it before its first use).

    Raises:
      CheckpointError: a data-computed normalizer whose file is missing.
    """
    normalizer = normalizers.from_hparams(hp, self.assets_dir)
    if (must_exist and hasattr(normalizer, 'exists') and
        not normalizer.exists()):
      raise CheckpointError(
          f'{self.path}: data_normalizer {hp.data_normalizer!r} needs '
          f'{normalizer.path}, which is missing')
    return normalizer


def pitch_counts(hp):
  """{MIDI pitch: count} a run was trained with.

  experiment.json may carry `pitch_counts` (JSON keys are strings); without
  it the counts are NSynth's GANSynth subset, which every Magenta dataset
  uses.
  """
  if hp.pitch_counts is None:
    return dict(nsynth.GANSYNTH_SUBSET_PITCH_COUNTS)
  return {int(k): int(v) for k, v in hp.pitch_counts.items()}


def _diff(old, new):
  lines = []
  for key in sorted(set(old) | set(new)):
    if key in RESUMABLE_KEYS:
      continue
    a, b = old.get(key, '<missing>'), new.get(key, '<missing>')
    if _normalize(a) != _normalize(b):
      lines.append(f'  {key}: {a!r} in train_dir, {b!r} now')
  return lines


def _normalize(value):
  # JSON turns tuples into lists and may keep ints where floats were given.
  if isinstance(value, (list, tuple)):
    return [_normalize(v) for v in value]
  if isinstance(value, bool) or value is None or isinstance(value, str):
    return value
  if isinstance(value, (int, float)):
    return float(value)
  return value


# Reading checkpoints (ours and Magenta's).


def open_reader(prefix):
  """`tf.train.load_checkpoint(prefix)`, every tensor checked readable.

  Reading each tensor once (its checksum is verified) turns a truncated or
  corrupt data file into a clear error now instead of wrong weights later;
  it costs about one pass over the file.

  Raises:
    CheckpointError: naming the checkpoint and the first unreadable tensor.
  """
  name = None
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  # IndexError: "Read less bytes than requested" from a short data file.
  except (tf.errors.OpError, ValueError, IndexError) as e:
    where = f' (variable {name})' if name else ''
    raise CheckpointError(
        f'cannot read checkpoint {prefix}{where}: truncated or corrupt? '
        f'{str(e).splitlines()[0]}') from e
  return reader


def is_ours(reader):
  """True for our object-based checkpoints, False for Magenta's TF1 ones."""
  return OBJECT_GRAPH_KEY in reader.get_variable_to_shape_map()


def read_scalar(reader, name, default=None):
  """A root scalar of our checkpoints ('image_id', 'train_time') from a
  reader or prefix; `default` where it is absent."""
  if isinstance(reader, (str, os.PathLike)):
    reader = tf.train.load_checkpoint(os.fspath(reader))
  key = variable_key(name)
  if not reader.has_tensor(key):
    if default is None:
      raise CheckpointError(f'the checkpoint holds no {name}')
    return default
  return reader.get_tensor(key)


def images_trained(reader):
  """Images a checkpoint was trained on: our `image_id`, Magenta's
  `global_step`; None if neither is there."""
  for key in (variable_key('image_id'), 'global_step'):
    if reader.has_tensor(key):
      return int(reader.get_tensor(key))
  return None


def checkpoint_position(prefix):
  """(stage id, images trained on) of a checkpoint prefix; None for what
  cannot be told (not in a stage folder, unreadable)."""
  if prefix is None:
    return None, None
  stage_id = parse_stage_dir(os.path.dirname(os.fspath(prefix)))
  try:
    image_id = images_trained(tf.train.load_checkpoint(os.fspath(prefix)))
  except (tf.errors.OpError, ValueError):
    image_id = None
  return stage_id, image_id
