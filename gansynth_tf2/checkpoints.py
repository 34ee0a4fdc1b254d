"""Training checkpoints: one stage's `tf.train.CheckpointManager`.

Where they live (the stage folders of a run) is `run_dir.Run`'s; this module
says what a training checkpoint holds and how a stage starts from the one
before. The root checkpoint of a stage holds `generator`, `ema_generator`,
`discriminator`, `generator_optimizer`, `discriminator_optimizer`,
`image_id` (int64), `train_time` (float64, seconds) and what makes resuming
exact: `rng` (the `tf.random.Generator` of latents, labels and penalty
coefficients), `data_seed` and `data_position` (int64: the data order and
how far the run has read it, data/pipeline.py). Checkpoints written before
the last three existed still resume (their draws and data order start
afresh, said on stdout).

Crash safety: TF writes a checkpoint's data and index first and only then
replaces the small `checkpoint` state file (atomically), so a process killed
during a save leaves the previous checkpoint as the latest one; the old ones
are deleted only after that. A save that fails (a full disk, a file-size
limit, no permission) removes what it wrote and raises `files.WriteError`
naming the checkpoint and the cause: the previous checkpoint stays the
latest, and the same command resumes from it once there is room.
"""
import os
import re
import shutil

from absl import logging
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2 import run_dir

# Root objects older checkpoints may lack: resuming such a checkpoint keeps
# the fresh values of these and says so.
RESUME_STATE = ('rng', 'data_seed', 'data_position')


class StageCheckpoint:
  """The checkpoint of one training stage and its manager.

  Args:
    run: the `run_dir.Run` of the training directory.
    stage_id: stage whose folder this writes.
    max_to_keep: checkpoints kept in the stage folder.
    write: False for the non-chief workers of a cluster: they restore from
      the chief's folder and never write.
    **objects: the root's trackables (the names of the contract above).
  """

  def __init__(self, run, stage_id, max_to_keep=2, write=True, **objects):
    self.run = run
    self.stage_id = stage_id
    self.write = write
    self.directory = run.stage_dir(stage_id)
    self.objects = objects
    self.checkpoint = tf.train.Checkpoint(**objects)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self.directory, max_to_keep=max_to_keep,
        checkpoint_name=run_dir.CHECKPOINT_NAME)

  @property
  def latest(self):
    if self.write:
      return self.manager.latest_checkpoint
    # The chief may have saved since this worker's manager read the folder.
    return self.run.latest_checkpoint(self.stage_id)

  def restore_latest(self):
    """Restores this stage's latest readable checkpoint; returns its path or None.

    A latest checkpoint that cannot be read (a damaged or truncated file:
    TF's own writes are atomic, the disk under them need not be) is passed
    over for the one before it, saying so on stdout; the next save then
    replaces it.

    Raises:
      CheckpointError: the stage keeps checkpoints but none can be read.
    """
    latest = self.latest
    if not latest:
      return None
    number = run_dir.checkpoint_number
    older = [p for p in reversed(self.run.checkpoints(self.stage_id))
             if p != latest and number(p) < number(latest)]
    failures = []
    for path in [latest] + older:
      try:
        self.restore(path)
      # A truncated data file raises IndexError from TF's reader ("Read less
      # bytes than requested"), a damaged one DataLossError (an OpError).
      except (tf.errors.OpError, ValueError, AssertionError, IndexError) as e:
        reason = (getattr(e, 'message', None) or str(e)).splitlines()[0]
        failures.append(f'{path}: {reason}')
        print(f'WARNING: checkpoint {path} cannot be read ({reason}); '
              'trying the one before it', flush=True)
        continue
      if path != latest:
        print(f'Resuming from {path}, the last readable checkpoint of stage '
              f'{self.stage_id} (the latest, {latest}, cannot be read)',
              flush=True)
      logging.debug('Resumed %s', path)
      return path
    raise run_dir.CheckpointError(
        f'no checkpoint of stage {self.stage_id} can be read: '
        + '; '.join(failures))

  def restore(self, path):
    """Restores the checkpoint `path` (any stage's with these networks);
    RESUME_STATE it lacks keeps its fresh values (said on stdout).

    Raises:
      AssertionError: a network or optimizer variable it does not hold.
    """
    self._root_for(path).restore(path).assert_existing_objects_matched()

  def _root_for(self, path):
    """The checkpoint root to restore `path` into: all objects, less the
    RESUME_STATE ones an older checkpoint lacks (said once)."""
    keys = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    missing = [name for name in RESUME_STATE if name in self.objects and
               not any(k.startswith(name + '/') for k in keys)]
    if not missing:
      return self.checkpoint
    print(f'Note: {path} predates exact resuming (it has no '
          f'{", ".join(missing)}): the data order and the random draws '
          'start afresh from here', flush=True)
    return tf.train.Checkpoint(**{k: v for k, v in self.objects.items()
                                  if k not in missing})

  def restore_previous_stage(self, previous_path):
    """Starts this stage from the previous stage's final checkpoint.

    As Magenta's `make_scaffold`: every network variable of the previous
    stage is restored (raw, EMA, image counter, train time; here also the
    random generator and the data position, which carry on); the new block's
    weights keep their fresh initialization, and the optimizers start anew
    because they are left out of the restore root.

    Args:
      previous_path: checkpoint prefix of the previous stage.
    """
    keep = ('generator', 'ema_generator', 'discriminator', 'image_id',
            'train_time') + RESUME_STATE
    root = tf.train.Checkpoint(
        **{k: v for k, v in self.objects.items() if k in keep})
    # expect_partial: the previous checkpoint also holds optimizer slots that
    # are deliberately not restored (and an older one may lack RESUME_STATE,
    # which then keeps its fresh values).
    root.restore(previous_path).expect_partial()
    logging.debug('Stage %d starts from %s (new block fresh, optimizers '
                  'reset)', self.stage_id, previous_path)

  def save(self):
    """Saves a checkpoint; returns its path.

    Raises:
      files.WriteError: it could not be written; what it wrote is removed
        and the previous checkpoint stays the latest.
    """
    if not self.write:
      raise RuntimeError('only the chief writes checkpoints')
    latest = self.manager.latest_checkpoint
    try:
      path = self.manager.save()
    except (tf.errors.OpError, OSError) as e:
      attempted = self._remove_newer_than(latest)
      kept = latest or self._run_latest()
      raise files.WriteError(
          f'cannot write checkpoint {attempted or self.directory}: '
          f'{files.error_cause(e)}. Nothing of it was kept; the latest '
          f'checkpoint stays {kept or "none"}. Make room (or fix the folder) '
          'and run the same command again to resume from it.') from e
    logging.debug('Saved %s', path)
    return path

  def _run_latest(self):
    """The run's latest checkpoint in an earlier stage's folder, or None."""
    stages = [i for i in self.run.stages_with_checkpoints()
              if i < self.stage_id]
    return self.run.latest_checkpoint(stages[-1]) if stages else None

  def _remove_newer_than(self, latest):
    """Removes the files of checkpoints numbered above `latest` (a failed
    save's part-written data, index and `_temp` folder); returns the prefix
    of the highest one found, or None."""
    floor = run_dir.checkpoint_number(latest) if latest else -1
    pattern = re.compile(re.escape(run_dir.CHECKPOINT_NAME) +
                         r'-(\d+)(_temp|\.index|\.data-.*)$')
    highest = None
    try:
      names = os.listdir(self.directory)
    except OSError:
      return None
    for name in names:
      match = pattern.match(name)
      if not match or int(match.group(1)) <= floor:
        continue
      number = int(match.group(1))
      highest = number if highest is None else max(highest, number)
      path = os.path.join(self.directory, name)
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        try:
          os.remove(path)
        except OSError:
          pass
    if highest is None:
      return None
    return os.path.join(self.directory, f'{run_dir.CHECKPOINT_NAME}-{highest}')

