"""The real notes a table compares with, and the fingerprint naming them.

Real data is any dataset train.py reads (a gin config binding the DATASET
macro); without one, the data the first checkpoint's experiment.json names
when that is readable here, else the embedded default dataset.
"""
import os

import gin

from gansynth_tf2.evaluation import EvaluationError
from gansynth_tf2.evaluation import first_line

DEFAULT_DATASET_GIN = 'gin/datasets/default.gin'
# The gin name of `_real_dataset`: the command's module, as before the
# evaluation package, so that it is one name however the command is run.
GIN_MODULE = 'gansynth_tf2.evaluate'


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
    gin.parse_config(f'{GIN_MODULE}.evaluate_real_dataset.dataset = %DATASET')
    try:
      return _real_dataset()
    except TypeError as e:  # an argument the config leaves unbound
      raise EvaluationError(f'no real data: {first_line(e)}; bind it with '
                            '--gin_param') from e
    except (FileNotFoundError, ValueError, ImportError) as e:
      raise EvaluationError(f'no real data: {first_line(e)}') from e
  finally:
    gin.clear_config()


@gin.configurable('evaluate_real_dataset', module=GIN_MODULE)
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

  Raises:
    run_dir.CheckpointError: no readable, valid experiment.json.
  """
  from gansynth_tf2 import run_dir  # pylint: disable=import-outside-toplevel
  from gansynth_tf2.data import nsynth  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  run = run_dir.Run(ckpt_dir)
  config = run.hparams()
  name = config.dataset_name
  path = config.train_data_path
  what = f"{run.experiment_path}'s {name} data {path}"
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
    return None, f'{what} cannot be read ({first_line(e)})'
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


def dataset_fingerprint(dataset):
  """What identifies a dataset's notes, for the real statistics' cache key:
  class, place, filters, and each file's absolute path, size and
  modification time (`files`)."""
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


def fingerprint_summary(fingerprint):
  """A `dataset_fingerprint` without the file list (its length instead), for
  the JSON and messages."""
  return {k: v for k, v in fingerprint.items() if k != 'files'} | (
      {'num_files': len(fingerprint['files'])} if 'files' in fingerprint
      else {})
