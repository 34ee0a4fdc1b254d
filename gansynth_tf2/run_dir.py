"""The run folder's layout, in one place.

A training run (ours, and Magenta's on disk):

  <train_dir>/experiment.json      the hyperparameters (Magenta's keys)
  <train_dir>/operative_config.gin the gin config that ran (ours only)
  <train_dir>/stage_000NN/         one folder per progressive stage, holding
                                   TF checkpoints (`ckpt-K.index`, ...)

Inside an object-based TF2 checkpoint a variable tracked as attribute `name`
of the root object is stored under `variable_key(name)`.

Training (checkpoints.py, schedule.get_stage_ids), Magenta import, loading
and evaluation all read the layout through these names.
"""
import json
import os
import re

import tensorflow as tf

EXPERIMENT_JSON = 'experiment.json'
OPERATIVE_CONFIG = 'operative_config.gin'
# The stage folder name, as Magenta's train_util.make_train_sub_dir writes it.
STAGE_DIR_PATTERN = re.compile(r'stage_(\d{5})')


def stage_dir(train_dir, stage_id):
  """`<train_dir>/stage_000NN`."""
  return os.path.join(train_dir, f'stage_{stage_id:05d}')


def stage_dir_ids(train_dir):
  """Sorted ids of the `stage_NNNNN` folders in `train_dir` ([] if none).

  Whether a folder holds a checkpoint is the caller's question.
  """
  if not tf.io.gfile.isdir(train_dir):
    return []
  ids = []
  for name in tf.io.gfile.listdir(train_dir):
    match = STAGE_DIR_PATTERN.fullmatch(name.rstrip('/'))
    if match:
      ids.append(int(match.group(1)))
  return sorted(ids)


def experiment_path(train_dir):
  return os.path.join(train_dir, EXPERIMENT_JSON)


def read_experiment(train_dir):
  """experiment.json's dict, as stored (no defaults filled in).

  Raises:
    OSError: no readable experiment.json.
    ValueError: it is not a JSON object (the message names the file).
  """
  path = experiment_path(train_dir)
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


def variable_key(name):
  """The checkpoint key of the root object's variable attribute `name`."""
  return f'{name}/.ATTRIBUTES/VARIABLE_VALUE'
