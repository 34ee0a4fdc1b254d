"""Reads checkpoints written by Magenta's GANSynth (TF1 graph, `tf.train.Saver`).

What is Magenta's only: its variable names (the maps below), reading them
into our networks, its Adam slots, and the conversion to our layout. The run
folder (experiment.json, `stage_000NN/` with `model.ckpt-<step>.*`; the
published checkpoints keep only the last stage) is read by `run_dir.Run`.
Variables are read by name with `tf.train.load_checkpoint` (no TF1 graph, no
dataset) and assigned to our Keras layers, which are named after Magenta's
scopes. Generation uses the generator's `ExponentialMovingAverage` shadows, as
Magenta's `Model.load_from_path` does.
"""

import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import files
from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import networks
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule

GENERATOR_SCOPE = 'Generator/progressive_gan_generator/'
DISCRIMINATOR_SCOPE = 'Discriminator/progressive_gan_discriminator/'
CLASSIFIER_SCOPE = 'Discriminator/discriminator_cond/classification_logits/'
EMA_SUFFIX = '/ExponentialMovingAverage'
OPTIMIZER_SCOPE = 'progressive_gan_train_ops/'
CheckpointError = run_dir.CheckpointError


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
  """A checkpoint of a Magenta train dir, read without TF1.

  Args:
    path: the train dir.
    stage_id, checkpoint: which checkpoint (`run_dir.Run.pick`): the last
      stage's latest by default.
    reader: a `run_dir.open_reader(prefix)` the caller already has.
    hparams: the run's `hparams.HParams` if the caller has read them
      (`run_dir.Run(path).hparams()`), else they are read here.

  Attributes:
    path: the train dir.
    hparams: experiment.json with Magenta's defaults filled in.
    stage_id: the stage read.
    prefix: its checkpoint prefix.
    num_blocks: blocks of the networks of that stage.
    global_step: images trained on (Magenta's `current_image_id`).
    train_time: seconds trained (Magenta's `Variable`), or 0.0.
    progress: Magenta's progress at that point (float).
  """

  def __init__(self, path, stage_id=None, checkpoint=None, reader=None,
               hparams=None):
    self.run = run_dir.Run(path)
    self.path = self.run.path
    self.hparams = hparams or self.run.hparams()
    self.stage_id, self.prefix = self.run.pick(stage_id, checkpoint)
    self.reader = reader or run_dir.open_reader(self.prefix)
    if run_dir.is_ours(self.reader):
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
    return run_dir.pitch_counts(self.hparams)

  def _build(self, name, **kwargs):
    return networks.build_networks(
        self.hparams, self.stage_id, self.run.normalizer(self.hparams),
        len(self.pitch_counts()), names=(name,), **kwargs)[name]

  def build_generator(self, use_ema=True, name='generator',
                      subpixel_upscale=True):
    """A `networks.Generator` holding this checkpoint's (EMA) weights.

    name: 'generator' or 'ema_generator' (the Keras name; the weights are
    chosen by `use_ema`). subpixel_upscale: as `networks.Generator`'s
    (False: Magenta's literal upscale + conv).
    """
    generator = self._build(name, subpixel_upscale=subpixel_upscale)
    self.load_generator(generator, use_ema=use_ema)
    return generator

  def build_discriminator(self):
    discriminator = self._build('discriminator')
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
    out = run_dir.Run(scratch)
    manager = tf.train.CheckpointManager(
        root, out.stage_dir(ckpt.stage_id), max_to_keep=1,
        checkpoint_name=run_dir.CHECKPOINT_NAME)
    prefix = manager.save()
    hparams = hp.replace(train_root_dir=target)
    out.write_experiment(hparams)
    files.write_atomic(out.hparams_gin_path, hparams_gin(hparams))
    # Normalizers computed from data live in assets/ and come along.
    if os.path.isdir(ckpt.run.assets_dir):
      shutil.copytree(ckpt.run.assets_dir, out.assets_dir)
  return os.path.join(run_dir.Run(target).stage_dir(ckpt.stage_id),
                      os.path.basename(prefix))
