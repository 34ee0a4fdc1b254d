"""Reads checkpoints written by Magenta's GANSynth (TF1 graph, `tf.train.Saver`).

A Magenta train dir holds `experiment.json` (its hyperparameters) and one
`stage_000NN/` folder per stage with `model.ckpt-<step>.{index,data-*}` and a
`checkpoint` state file; the published checkpoints keep only the last stage.
Variables are read by name with `tf.train.load_checkpoint` (no TF1 graph, no
dataset) and assigned to our Keras layers, which are named after Magenta's
scopes. Generation uses the generator's `ExponentialMovingAverage` shadows, as
Magenta's `Model.load_from_path` does.
"""

import json
import os
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import networks
from gansynth_tf2 import normalizers
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import specgrams
from gansynth_tf2.data import nsynth

GENERATOR_SCOPE = 'Generator/progressive_gan_generator/'
DISCRIMINATOR_SCOPE = 'Discriminator/progressive_gan_discriminator/'
CLASSIFIER_SCOPE = 'Discriminator/discriminator_cond/classification_logits/'
EMA_SUFFIX = '/ExponentialMovingAverage'
OPTIMIZER_SCOPE = 'progressive_gan_train_ops/'
# Key present only in TF2 object-based checkpoints (ours).
OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'

# experiment.json keys the networks and the generate path cannot do without.
REQUIRED_KEYS = ('data_type', 'fmap_base', 'fmap_decay', 'fmap_max',
                 'latent_vector_size', 'kernel_size', 'scale_mode',
                 'scale_base', 'num_resolutions', 'start_height', 'start_width',
                 'stable_stage_num_images', 'transition_stage_num_images',
                 'total_num_images', 'audio_length', 'sample_rate',
                 'data_normalizer')
class CheckpointError(ValueError):
  """A checkpoint directory that cannot be loaded; the message says why."""


def read_experiment_json(path):
  """`hparams.HParams` of the train dir `path` (Magenta's defaults filled in).

  Raises:
    CheckpointError: missing/unreadable file, or required keys missing.
  """
  json_path = run_dir.experiment_path(path)
  if not tf.io.gfile.exists(json_path):
    raise CheckpointError(
        f'{path} is not a GANSynth checkpoint directory: it has no '
        f'{run_dir.EXPERIMENT_JSON} (expected experiment.json + stage_000NN/ '
        'folders)')
  try:
    hparams = run_dir.read_experiment(path)
  except (ValueError, tf.errors.OpError) as e:
    raise CheckpointError(str(e)) from e
  missing = [k for k in REQUIRED_KEYS if k not in hparams]
  if missing:
    raise CheckpointError(f'{json_path} lacks required keys: '
                          f'{", ".join(missing)}')
  if hparams['data_type'] not in specgrams.DATA_TYPES:
    raise CheckpointError(
        f'{json_path}: data_type {hparams["data_type"]!r} is not one of '
        f'{specgrams.DATA_TYPES}')
  try:
    # Keys old files lack take Magenta's defaults, as Magenta fills them.
    return hparams_lib.HParams.from_dict(hparams)
  except (TypeError, ValueError) as e:
    raise CheckpointError(f'{json_path}: {e}') from e


def last_stage(path, stage_id=None):
  """(stage_id, checkpoint prefix) of the last `stage_000NN` folder of `path`.

  Args:
    path: the checkpoint directory.
    stage_id: take this stage's folder instead of the last one.

  Raises:
    CheckpointError: no stage folders, no folder of `stage_id`, or the folder
      holds no checkpoint.
  """
  if not tf.io.gfile.isdir(path):
    raise CheckpointError(f'{path} is not a directory')
  ids = run_dir.stage_dir_ids(path)
  if not ids:
    raise CheckpointError(
        f'no stage_000NN folders in {path}; is it the checkpoint directory '
        '(the folder holding experiment.json)?')
  if stage_id is None:
    stage_id = ids[-1]
  elif int(stage_id) not in ids:
    names = [os.path.basename(run_dir.stage_dir(path, i)) for i in ids]
    raise CheckpointError(
        f'{path} has no folder of stage {stage_id}; it has {names}')
  stage_id = int(stage_id)
  stage_dir = run_dir.stage_dir(path, stage_id)
  prefix = tf.train.latest_checkpoint(stage_dir)
  if prefix is None:
    # The `checkpoint` state file may be missing or point elsewhere (absolute
    # paths of the training machine); fall back to the newest index file.
    kept = stage_checkpoints(path, stage_id)
    if not kept:
      raise CheckpointError(f'{stage_dir} holds no checkpoint (*.index)')
    prefix = kept[-1]
  return stage_id, prefix


def stage_checkpoints(path, stage_id):
  """Prefixes of every checkpoint kept in a stage folder, oldest first.

  Raises:
    CheckpointError: `path` has no folder of `stage_id`.
  """
  stage_dir = run_dir.stage_dir(path, int(stage_id))
  if not tf.io.gfile.isdir(stage_dir):
    raise CheckpointError(f'{path} has no folder of stage {stage_id}')
  indexes = tf.io.gfile.glob(os.path.join(stage_dir, '*.index'))
  return [i[:-len('.index')] for i in sorted(indexes, key=_checkpoint_step)]


def stage_of_checkpoint(path, prefix):
  """Stage id of a checkpoint prefix inside `path`'s stage folders.

  Raises:
    CheckpointError: the prefix is not in one of `path`'s stage folders or
      has no index file.
  """
  folder = os.path.basename(os.path.dirname(os.fspath(prefix)))
  match = re.fullmatch(r'stage_(\d+)', folder)
  if (not match or os.path.abspath(os.path.dirname(os.path.dirname(
      os.fspath(prefix)))) != os.path.abspath(path)):
    raise CheckpointError(
        f'checkpoint {prefix} is not in a stage_000NN folder of {path}')
  if not tf.io.gfile.exists(os.fspath(prefix) + '.index'):
    raise CheckpointError(f'checkpoint {prefix} has no {prefix}.index')
  return int(match.group(1))


def _checkpoint_step(index_path):
  match = re.search(r'-(\d+)\.index$', index_path)
  return int(match.group(1)) if match else -1


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


def _equalized(scope, layer, inner):
  # custom_conv2d / custom_dense keep the kernel one scope deeper
  # (`conv0/conv2d/kernel`) than the bias (`conv0/bias`).
  return {f'{scope}{inner}/kernel': layer.kernel, f'{scope}bias': layer.bias}


def _keras(scope, layer):
  return {f'{scope}kernel': layer.kernel, f'{scope}bias': layer.bias}


def generator_variable_map(generator):
  """{Magenta variable name (raw weights): our variable} for a Generator."""
  names = {}
  for block_id, block in enumerate(generator.blocks, start=1):
    scope = f'{GENERATOR_SCOPE}{networks.block_name(block_id)}/'
    if generator.simple_arch:
      inner = block.dense if block_id == 1 else block.conv2d_transpose
      names.update(_keras(f'{scope}{inner.name}/', inner))
      names.update(_keras(f'{scope}to_rgb/', block.to_rgb))
    else:
      for layer in (block.conv0, block.conv1, block.to_rgb):
        names.update(_equalized(f'{scope}{layer.name}/', layer, 'conv2d'))
  return names


def discriminator_variable_map(discriminator):
  """{Magenta variable name: our variable} for a Discriminator."""
  names = {}
  for block_id, block in enumerate(discriminator.blocks, start=1):
    scope = f'{DISCRIMINATOR_SCOPE}{networks.block_name(block_id)}/'
    if discriminator.simple_arch:
      keras_layers = [block.from_rgb] + (
          [block.last_conv, block.logits] if block_id == 1 else [block.conv])
      for layer in keras_layers:
        names.update(_keras(f'{scope}{layer.name}/', layer))
    else:
      for layer in (block.from_rgb, block.conv0, block.conv1):
        names.update(_equalized(f'{scope}{layer.name}/', layer, 'conv2d'))
      if block_id == 1:
        names.update(_equalized(f'{scope}logits/', block.logits, 'dense'))
  names.update(_equalized(CLASSIFIER_SCOPE,
                          discriminator.classification_logits, 'dense'))
  return names


def _is_network_variable(name):
  """Weights of G or D in a Magenta checkpoint (not optimizer state)."""
  return (name.startswith(('Generator/', 'Discriminator/')) and
          '/Adam' not in name)


def assign_from_reader(reader, prefix, variable_map, scope_prefixes,
                       name_suffix=''):
  """Copies checkpoint tensors into variables, checking every name and shape.

  Args:
    reader: a `tf.train.load_checkpoint` reader of `prefix`.
    prefix: the checkpoint path (for messages).
    variable_map: {Magenta name: our variable}.
    scope_prefixes: the checkpoint's variables under these prefixes (and with
      `name_suffix`) must all be mapped, else they are reported unexpected.
    name_suffix: appended to every mapped name ('/ExponentialMovingAverage'
      reads the EMA shadows).

  Raises:
    CheckpointError: listing every missing, unexpected and mis-shaped variable.
  """
  shapes = reader.get_variable_to_shape_map()
  wanted = {name + name_suffix: var for name, var in variable_map.items()}
  problems = []
  for name, var in sorted(wanted.items()):
    if name not in shapes:
      problems.append(f'missing: {name} (expected shape {var.shape.as_list()})')
    elif list(shapes[name]) != var.shape.as_list():
      problems.append(f'wrong shape: {name} is {list(shapes[name])} in the '
                      f'checkpoint, the model needs {var.shape.as_list()}')
  for name in sorted(shapes):
    if not (name.startswith(scope_prefixes) and _is_network_variable(name)):
      continue
    if name.endswith(EMA_SUFFIX) != bool(name_suffix):
      continue
    if name not in wanted:
      problems.append(f'unexpected: {name} {list(shapes[name])}')
  if problems:
    raise CheckpointError(
        f'checkpoint {prefix} does not match the model built from its '
        f'experiment.json ({len(problems)} problem(s)):\n  ' +
        '\n  '.join(problems))
  for name, var in wanted.items():
    try:
      value = reader.get_tensor(name)
    except (tf.errors.OpError, ValueError) as e:
      raise CheckpointError(f'cannot read {name} from {prefix} (truncated or '
                            f'corrupt?): {str(e).splitlines()[0]}') from e
    var.assign(np.asarray(value, dtype=np.dtype(var.dtype)))


class MagentaCheckpoint:
  """What a Magenta train dir holds, read without TF1.

  Attributes:
    path: the train dir.
    hparams: experiment.json with Magenta's defaults filled in.
    stage_id: the last stage's id.
    prefix: checkpoint prefix of that stage.
    num_blocks: blocks of the networks of that stage.
    global_step: images trained on (Magenta's `current_image_id`).
    train_time: seconds trained (Magenta's `Variable`), or 0.0.
    progress: Magenta's progress at that point (float).
  """

  def __init__(self, path, reader=None):
    self.path = os.fspath(path).rstrip('/')
    self.hparams = read_experiment_json(self.path)
    self.stage_id, self.prefix = last_stage(self.path)
    # `reader`: an `open_reader(prefix)` the caller already has.
    self.reader = reader or open_reader(self.prefix)
    if OBJECT_GRAPH_KEY in self.reader.get_variable_to_shape_map():
      raise CheckpointError(f'{self.prefix} is a TF2 object-based checkpoint '
                            '(gansynth_tf2), not Magenta\'s')
    self.training_schedule = schedule.TrainingSchedule.from_hparams(
        self.hparams)
    if not 0 <= self.stage_id < self.training_schedule.num_stages:
      raise CheckpointError(
          f'{self.prefix}: stage {self.stage_id} does not exist with '
          f'num_resolutions={self.hparams.num_resolutions} '
          f'({self.training_schedule.num_stages} stages)')
    self.num_blocks = self.training_schedule.num_blocks(self.stage_id)
    shapes = self.reader.get_variable_to_shape_map()
    self.global_step = (int(self.reader.get_tensor('global_step'))
                        if 'global_step' in shapes else 0)
    self.train_time = (float(self.reader.get_tensor('Variable'))
                       if 'Variable' in shapes else 0.0)
    self.progress = float(self.training_schedule.progress(
        self.stage_id, self.global_step, self.train_time))

  def load_generator(self, generator, use_ema=True):
    """Assigns the generator's weights (EMA shadows unless use_ema=False)."""
    assign_from_reader(self.reader, self.prefix,
                       generator_variable_map(generator), (GENERATOR_SCOPE,),
                       EMA_SUFFIX if use_ema else '')

  def load_discriminator(self, discriminator):
    assign_from_reader(self.reader, self.prefix,
                       discriminator_variable_map(discriminator),
                       (DISCRIMINATOR_SCOPE, CLASSIFIER_SCOPE))

  def pitch_counts(self):
    """{MIDI pitch: count}: experiment.json's `pitch_counts`, else NSynth's."""
    return pitch_counts_from_hparams(self.hparams)

  def _network_kwargs(self):
    hp = self.hparams
    return dict(num_blocks=self.num_blocks,
                num_tokens=len(self.pitch_counts()),
                normalizer=make_normalizer(self.path, hp))

  def build_generator(self, use_ema=True, name='generator',
                      subpixel_upscale=True):
    """A `networks.Generator` holding this checkpoint's (EMA) weights.

    subpixel_upscale: as `networks.Generator`'s (False: Magenta's literal
    upscale + conv).
    """
    generator = networks.Generator.from_hparams(
        self.hparams, name=name, subpixel_upscale=subpixel_upscale,
        **self._network_kwargs())
    self.load_generator(generator, use_ema=use_ema)
    return generator

  def build_discriminator(self):
    discriminator = networks.Discriminator.from_hparams(
        self.hparams, **self._network_kwargs())
    self.load_discriminator(discriminator)
    return discriminator

  def build_optimizer(self, network, name, learning_rate, variable_map):
    """Keras Adam for `network` with Magenta's Adam slots (if present).

    Magenta's TF1 Adam keeps `<var>/Adam` (first moment), `<var>/Adam_1`
    (second moment) and `beta2_power` = beta2**(steps + 1); its update is the
    same as Keras' with `iterations` = steps.
    """
    hp = self.hparams
    optimizer = keras.optimizers.Adam(
        learning_rate, beta_1=hp.adam_beta1, beta_2=hp.adam_beta2,
        epsilon=1e-8)
    trainable = network.trainable_variables
    optimizer.build(trainable)
    shapes = self.reader.get_variable_to_shape_map()
    index = {id(v): i for i, v in enumerate(trainable)}
    for magenta_name, var in variable_map.items():
      slot = f'{OPTIMIZER_SCOPE}{magenta_name}/Adam'
      if slot in shapes and slot + '_1' in shapes and id(var) in index:
        i = index[id(var)]
        optimizer._momentums[i].assign(self.reader.get_tensor(slot))  # pylint: disable=protected-access
        optimizer._velocities[i].assign(self.reader.get_tensor(slot + '_1'))  # pylint: disable=protected-access
    power = f'{OPTIMIZER_SCOPE}{name}_train/beta2_power'
    beta2 = hp.adam_beta2
    if power in shapes and 0 < beta2 < 1:
      steps = round(np.log(float(self.reader.get_tensor(power))) /
                    np.log(beta2)) - 1
      optimizer.iterations.assign(max(0, int(steps)))
    return optimizer


def make_normalizer(path, hparams):
  """The train dir's normalizer; computed ones must have their asset there.

  Raises:
    CheckpointError: a data-computed normalizer whose `assets/` file is
      missing from `path`.
  """
  normalizer = normalizers.from_hparams(hparams, path)
  if hasattr(normalizer, 'exists') and not normalizer.exists():
    raise CheckpointError(
        f'{path}: data_normalizer {hparams.data_normalizer!r} needs '
        f'{normalizer.path}, which is missing')
  return normalizer


def pitch_counts_from_hparams(hparams):
  """{MIDI pitch: count} the model was trained with.

  experiment.json may carry `pitch_counts` (JSON keys are strings); without it
  the counts are NSynth's GANSynth subset, which every Magenta dataset uses.
  """
  counts = hparams.pitch_counts
  if counts is None:
    return dict(nsynth.GANSYNTH_SUBSET_PITCH_COUNTS)
  return {int(k): int(v) for k, v in counts.items()}


def _gin_value(value):
  # gin parses Python literals; tuples and lists both bind fine.
  return repr(list(value) if isinstance(value, tuple) else value)


def hparams_gin(hparams):
  """`hparams.<key> = value` lines for an `hparams.HParams`.

  Keys gin cannot bind (those training records itself, and keys of the
  experiment.json that no hyperparameter holds) are written as comments, so
  the file can be included as is.
  """
  lines = ['# Hyperparameters of a converted Magenta GANSynth checkpoint.',
           '# Magenta names; include this file to train on from it.']
  config = hparams.as_dict()
  for key in sorted(config):
    line = f'hparams.{key} = {_gin_value(config[key])}'
    if key not in hparams_lib.FIELD_NAMES:
      line = '# (not a training hyperparameter here) ' + line
    elif key in hparams_lib.NOT_BINDABLE:
      line = f'# (hparams.{key} {hparams_lib.NOT_BINDABLE[key]}) ' + line
    lines.append(line)
  return '\n'.join(lines) + '\n'


def convert(magenta_dir, output_dir, overwrite=False):
  """Writes a Magenta checkpoint as one of ours (checkpoints.py's layout).

  `<output_dir>/experiment.json`, `<output_dir>/hparams.gin` and
  `<output_dir>/stage_000NN/ckpt-1.*` with generator, ema_generator,
  discriminator, both Adam optimizers (Magenta's slots), image_id and
  train_time. Everything is written into a temporary folder beside
  output_dir and renamed into place at the end; nothing is written into
  magenta_dir.

  Args:
    magenta_dir: Magenta's train dir (experiment.json + stage_000NN/).
    output_dir: where to write; must not exist (or be empty) unless overwrite.
    overwrite: replace an existing output_dir.

  Returns:
    The checkpoint prefix written.

  Raises:
    CheckpointError: bad source; ValueError: bad output_dir.
  """
  ckpt = MagentaCheckpoint(magenta_dir)  # reads only; errors name the path
  source = os.path.realpath(os.fspath(magenta_dir))
  target = os.path.realpath(os.fspath(output_dir))
  if target == source or target.startswith(source + os.sep):
    raise ValueError(f'output_dir {output_dir} is inside the source '
                     f'checkpoint {magenta_dir}; choose another folder (the '
                     'source is never written to)')
  if os.path.exists(target) and os.listdir(target) and not overwrite:
    raise ValueError(f'output_dir {output_dir} exists and is not empty; pass '
                     'overwrite=True (--overwrite) to replace it')
  ema_generator = ckpt.build_generator(use_ema=True, name='ema_generator')
  generator = ckpt.build_generator(use_ema=False)
  discriminator = ckpt.build_discriminator()
  hp = ckpt.hparams
  root = tf.train.Checkpoint(
      generator=generator, ema_generator=ema_generator,
      discriminator=discriminator,
      generator_optimizer=ckpt.build_optimizer(
          generator, 'generator', hp.generator_learning_rate,
          generator_variable_map(generator)),
      discriminator_optimizer=ckpt.build_optimizer(
          discriminator, 'discriminator',
          hp.discriminator_learning_rate,
          discriminator_variable_map(discriminator)),
      image_id=tf.Variable(ckpt.global_step, dtype=tf.int64,
                           trainable=False),
      train_time=tf.Variable(ckpt.train_time, dtype=tf.float64,
                             trainable=False))
  with files.publish_dir(target) as scratch:
    manager = tf.train.CheckpointManager(
        root, run_dir.stage_dir(scratch, ckpt.stage_id), max_to_keep=1,
        checkpoint_name='ckpt')
    prefix = manager.save()
    hparams = hp.replace(train_root_dir=target)
    with open(run_dir.experiment_path(scratch), 'w') as f:
      json.dump(hparams.as_dict(), f, indent=1, sort_keys=True)
    with open(os.path.join(scratch, 'hparams.gin'), 'w') as f:
      f.write(hparams_gin(hparams))
    # Normalizers computed from data live in assets/ and come along.
    assets = os.path.join(source, 'assets')
    if os.path.isdir(assets):
      shutil.copytree(assets, os.path.join(scratch, 'assets'))
  return os.path.join(run_dir.stage_dir(target, ckpt.stage_id),
                      os.path.basename(prefix))
