"""Training checkpoints: Magenta's stage folders, written by TF2 object graphs.

Layout of a train_dir (named in run_dir.py, shared with `model.load_model`
and Magenta import):

  <train_dir>/experiment.json        Magenta's hyperparameter keys
  <train_dir>/operative_config.gin   the gin config the run used
  <train_dir>/stage_000NN/           `tf.train.CheckpointManager` files

The root checkpoint of a stage holds `generator`, `ema_generator`,
`discriminator`, `generator_optimizer`, `discriminator_optimizer`,
`image_id` (int64) and `train_time` (float64, seconds).

Crash safety: TF writes a checkpoint's data and index first and only then
replaces the small `checkpoint` state file (atomically), so a process killed
during a save leaves the previous checkpoint as the latest one. The JSON and
gin files here are written to a temporary name and renamed.
"""
import json

from absl import logging
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2 import run_dir

CHECKPOINT_NAME = 'ckpt'

# Keys of experiment.json that may differ between runs sharing a train_dir:
# where things live and how often summaries are written change neither the
# model nor the schedule.
# Keys a resumed run may change. Besides paths and logging: the data (to
# fine-tune, e.g. a converted Magenta checkpoint, on other notes) and
# total_num_images (to train the last stage for longer). The networks and the
# stage schedule must stay as they were.
RESUMABLE_KEYS = frozenset({'train_root_dir', 'train_data_path',
                            'save_summaries_num_images', 'master', 'task',
                            'ps_tasks', 'debug_hook', 'dataset_name',
                            'pitch_counts', 'total_num_images'})


class ConfigConflictError(ValueError):
  """A train_dir holds a run made with other hyperparameters."""


def stages_with_checkpoints(train_dir):
  """Sorted stage ids whose folder holds a readable checkpoint."""
  return [i for i in run_dir.stage_dir_ids(train_dir)
          if tf.train.latest_checkpoint(run_dir.stage_dir(train_dir, i))]


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


def write_or_check_experiment(train_dir, hparams, write=True):
  """Writes experiment.json, or refuses a train_dir made by another config.

  Args:
    train_dir: the training directory (created if missing).
    hparams: `hparams.HParams` of the run.
    write: False only checks an existing file (a cluster's other workers).

  Raises:
    ConfigConflictError: experiment.json exists with other values; the message
      lists every differing key.
  """
  if write:
    tf.io.gfile.makedirs(train_dir)
  path = run_dir.experiment_path(train_dir)
  config = hparams.as_dict()
  if tf.io.gfile.exists(path):
    old = run_dir.read_experiment(train_dir)
    lines = _diff(old, config)
    if lines:
      raise ConfigConflictError(
          f'{path} was written by a different config; refusing to mix runs. '
          'Use a new --train_dir, or the old config. Differences:\n' +
          '\n'.join(lines))
  if write:
    files.write_atomic(path, json.dumps(config, indent=1, sort_keys=True))


class StageCheckpoint:
  """The checkpoint of one training stage and its manager.

  Args:
    train_dir: training directory.
    stage_id: stage whose folder this writes.
    max_to_keep: checkpoints kept in the stage folder.
    write: False for the non-chief workers of a cluster: they restore from
      the chief's folder and never write.
    **objects: the root's trackables (the names of the contract above).
  """

  def __init__(self, train_dir, stage_id, max_to_keep=2, write=True,
               **objects):
    self.train_dir = train_dir
    self.stage_id = stage_id
    self.write = write
    self.directory = run_dir.stage_dir(train_dir, stage_id)
    self.objects = objects
    self.checkpoint = tf.train.Checkpoint(**objects)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self.directory, max_to_keep=max_to_keep,
        checkpoint_name=CHECKPOINT_NAME)

  @property
  def latest(self):
    if self.write:
      return self.manager.latest_checkpoint
    # The chief may have saved since this worker's manager read the folder.
    return tf.train.latest_checkpoint(self.directory)

  def restore_latest(self):
    """Restores this stage's latest checkpoint; returns its path or None."""
    path = self.latest
    if path:
      self.checkpoint.restore(path).assert_existing_objects_matched()
      logging.debug('Resumed %s', path)
    return path

  def restore_previous_stage(self, previous_path):
    """Starts this stage from the previous stage's final checkpoint.

    As Magenta's `make_scaffold`: every network variable of the previous
    stage is restored (raw, EMA, image counter, train time); the new block's
    weights keep their fresh initialization, and the optimizers start anew
    because they are left out of the restore root.

    Args:
      previous_path: checkpoint prefix of the previous stage.
    """
    keep = ('generator', 'ema_generator', 'discriminator', 'image_id',
            'train_time')
    root = tf.train.Checkpoint(
        **{k: v for k, v in self.objects.items() if k in keep})
    # expect_partial: the previous checkpoint also holds optimizer slots that
    # are deliberately not restored.
    root.restore(previous_path).expect_partial()
    logging.debug('Stage %d starts from %s (new block fresh, optimizers '
                  'reset)', self.stage_id, previous_path)

  def save(self):
    """Saves a checkpoint; returns its path."""
    if not self.write:
      raise RuntimeError('only the chief writes checkpoints')
    path = self.manager.save()
    logging.debug('Saved %s', path)
    return path


def latest_checkpoint_of_stage(train_dir, stage_id):
  return tf.train.latest_checkpoint(run_dir.stage_dir(train_dir, stage_id))


def read_scalar(checkpoint_path, name):
  """Reads the root variable `name` (e.g. 'image_id') from a checkpoint."""
  reader = tf.train.load_checkpoint(checkpoint_path)
  return reader.get_tensor(run_dir.variable_key(name))
