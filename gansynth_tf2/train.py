r"""Trains GANSynth progressively, as Magenta's `gansynth_train.py` does.

  python -m gansynth_tf2.train --gin_file=gin/quickstart.gin \
      --train_dir=/tmp/gansynth/quickstart
  python -m gansynth_tf2.train --gin_file=gin/if_mel_hq.gin \
      --gin_file=gin/datasets/nsynth_tfrecord.gin \
      --gin_param="NSynthTFRecordDataset.file_pattern='/data/nsynth-train*'" \
      --train_dir=/tmp/gansynth/if_mel_hq

Running the same command again resumes where it stopped. Each stage of the
progressive schedule (Magenta's train_util) builds networks with its number of
blocks, starts from the previous stage's checkpoint (new block fresh,
optimizers reset) and trains with a tf.function step traced once per stage:
one discriminator step, then one generator step, then the generator EMA.

Magenta -> here: `gansynth_train.main/run` -> `main/train`;
`train_util.train/make_scaffold` -> `StageTrainer` + checkpoints.py;
`train_util.define_loss/define_train_ops` + `model.Model` -> `StageTrainer`
with losses.py.
"""
import datetime
import os
import time

from absl import app
from absl import flags
import gin
import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import checkpoints
from gansynth_tf2 import files
from gansynth_tf2 import gin_config
from gansynth_tf2 import losses
from gansynth_tf2 import magenta_hparams
from gansynth_tf2 import networks
from gansynth_tf2 import normalizers
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import specgrams
from gansynth_tf2.data import pipeline

# Magenta's defaults (experiment.json's keys); gin overrides them.
MAGENTA_DEFAULTS = magenta_hparams.MAGENTA_DEFAULTS

EMA_DECAY = 0.999  # Magenta's generator ExponentialMovingAverage.


@gin.configurable
def hparams(**overrides):
  """Magenta's hyperparameters: `MAGENTA_DEFAULTS` updated by gin.

  Args:
    **overrides: `hparams.<magenta_name> = value` bindings of the gin files.

  Returns:
    Dict with every key of `MAGENTA_DEFAULTS`.

  Raises:
    ValueError: a binding names no Magenta hyperparameter.
  """
  unknown = sorted(set(overrides) - set(MAGENTA_DEFAULTS))
  if unknown:
    raise ValueError(
        f'Unknown hyperparameter(s) {unknown} bound as hparams.<name> in the '
        f'gin config; expected one of {sorted(MAGENTA_DEFAULTS)}')
  result = dict(MAGENTA_DEFAULTS)
  result.update(overrides)
  result['batch_size_schedule'] = list(result['batch_size_schedule'])
  return result


class NonFiniteLossError(FloatingPointError):
  """A loss became NaN or Inf; training stopped without saving."""


def copy_weights(source, target):
  """Copies `source`'s trainable weights into the same-shaped `target`."""
  src, dst = source.trainable_variables, target.trainable_variables
  if len(src) != len(dst):
    raise ValueError(f'{len(src)} vs {len(dst)} trainable variables')
  for s, d in zip(src, dst):
    d.assign(s)


def update_ema(model, ema_model, decay=EMA_DECAY):
  """ema = decay * ema + (1 - decay) * weights.

  Magenta's `tf.train.ExponentialMovingAverage(decay=0.999)` without
  `num_updates`, applied after each generator step.
  """
  for var, ema_var in zip(model.trainable_variables,
                          ema_model.trainable_variables):
    ema_var.assign_sub((1.0 - decay) * (ema_var - var))


def ordered_one_hot(num, num_pitches):
  """[num, num_pitches]: pitches 0, 1, ... cycling (Magenta's summaries)."""
  return tf.one_hot(np.arange(num) % num_pitches, num_pitches)


class StageTrainer:
  """Networks, optimizers, checkpoint and compiled step of one stage.

  Args:
    stage_id: stage of the progressive schedule.
    hp: Magenta hyperparameters (dict).
    training_schedule: `schedule.TrainingSchedule`.
    train_dir: training directory.
    dataset: a data.base.NotesDataset.
    strategy: tf.distribute strategy whose scope holds the variables.
    jit_compile: compile the step with XLA.
    max_to_keep: checkpoints kept per stage.
    ema_decay: decay of the generator's moving average (Magenta: 0.999).
  """

  def __init__(self, stage_id, hp, training_schedule, train_dir, dataset,
               strategy, jit_compile=False, max_to_keep=2,
               ema_decay=EMA_DECAY):
    if not 0.0 <= ema_decay < 1.0:
      raise ValueError(f'ema_decay must be in [0, 1), got {ema_decay}')
    self.ema_decay = float(ema_decay)
    self.stage_id = stage_id
    self.hp = hp
    self.schedule = training_schedule
    self.train_dir = train_dir
    self.dataset = dataset
    self.strategy = strategy
    self.num_blocks = training_schedule.num_blocks(stage_id)
    self.batch_size = training_schedule.batch_size(stage_id)
    self.num_images = training_schedule.num_images(stage_id, train_dir)
    self.time_limit = training_schedule.stage_train_time_limit(stage_id)
    self.resolution_schedule = schedule.ResolutionSchedule.from_hparams(**hp)
    self.weights = losses.LossWeights(
        **{k: hp[k] for k in losses.LossWeights().as_dict()})
    self.num_pitches = dataset.num_pitches
    self.data_helper = specgrams.make_data_helper(
        hp['data_type'], hp['audio_length'], hp['sample_rate'],
        self.resolution_schedule.final_resolutions)
    # G&L consistency only in the last stage and for Fourier data, as Magenta.
    self.use_gl_loss = (
        hp['gen_gl_consistency_loss_weight'] > 0 and
        hp['data_type'] != 'wave' and
        stage_id == training_schedule.num_stages - 1)

    normalizer = normalizers.make_normalizer(hp['data_normalizer'],
                                             train_dir, **hp)
    with strategy.scope():
      nets = {}
      for name, cls in (('generator', networks.Generator),
                        ('ema_generator', networks.Generator),
                        ('discriminator', networks.Discriminator)):
        nets[name] = cls.from_hparams(
            hp, num_blocks=self.num_blocks, normalizer=normalizer,
            num_tokens=self.num_pitches, name=name)
      self.generator = nets['generator']
      self.ema_generator = nets['ema_generator']
      self.discriminator = nets['discriminator']
      self.generator_optimizer = keras.optimizers.Adam(
          hp['generator_learning_rate'], beta_1=hp['adam_beta1'],
          beta_2=hp['adam_beta2'], epsilon=1e-8)
      self.discriminator_optimizer = keras.optimizers.Adam(
          hp['discriminator_learning_rate'], beta_1=hp['adam_beta1'],
          beta_2=hp['adam_beta2'], epsilon=1e-8)
      self.image_id = tf.Variable(0, dtype=tf.int64, trainable=False,
                                  name='image_id')
      self.train_time = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                                    name='train_time')
      self._build()

    self.checkpoint = checkpoints.StageCheckpoint(
        train_dir, stage_id, max_to_keep=max_to_keep,
        generator=self.generator, ema_generator=self.ema_generator,
        discriminator=self.discriminator,
        generator_optimizer=self.generator_optimizer,
        discriminator_optimizer=self.discriminator_optimizer,
        image_id=self.image_id, train_time=self.train_time)
    self.step = tf.function(self._distributed_step, jit_compile=jit_compile,
                            autograph=False)

  def _build(self):
    """Creates every variable (networks and optimizer slots) eagerly."""
    shape = self.data_helper.data_shape
    z = tf.zeros([1, self.hp['latent_vector_size']])
    labels = tf.zeros([1, self.num_pitches])
    progress = tf.constant(0.0)
    for g in (self.generator, self.ema_generator):
      g(z, labels, progress)
    self.discriminator(tf.zeros([1] + list(shape)), progress)
    self.generator_optimizer.build(self.generator.trainable_variables)
    self.discriminator_optimizer.build(self.discriminator.trainable_variables)

  def save(self):
    """Saves a checkpoint and says so on stdout; returns its path."""
    path = self.checkpoint.save()
    print(f'Saved {path} at image_id {int(self.image_id.numpy())}',
          flush=True)
    return path

  def restore(self):
    """Resumes this stage, or starts it from the previous one (make_scaffold).

    Returns:
      A short description of where the stage starts from.
    """
    if self.checkpoint.restore_latest():
      return f'resumed {self.checkpoint.latest}'
    # Fresh stage: the EMA starts at the initial weights (the EMA shadows of
    # Magenta start at their variables' initial values).
    copy_weights(self.generator, self.ema_generator)
    if self.stage_id == 0 or not self.hp['train_progressive']:
      return 'fresh start'
    previous = checkpoints.latest_checkpoint_of_stage(self.train_dir,
                                                      self.stage_id - 1)
    if previous is None:
      raise FileNotFoundError(
          f'Stage {self.stage_id} has no checkpoint of stage '
          f'{self.stage_id - 1} to start from in {self.train_dir}')
    self.checkpoint.restore_previous_stage(previous)
    return f'started from {previous}'

  def progress(self):
    return self.schedule.progress(self.stage_id, self.image_id,
                                  self.train_time)

  def done(self):
    if self.time_limit is not None:
      return float(self.train_time.numpy()) > self.time_limit
    return int(self.image_id.numpy()) >= self.num_images

  def _fake_inputs(self, batch_size):
    z = tf.random.normal([batch_size, self.hp['latent_vector_size']])
    # Sampled from the data's pitch counts; the dataset's Python bookkeeping
    # runs once at trace time, so autograph need not convert it.
    sample = tf.autograph.experimental.do_not_convert(
        self.dataset.provide_one_hot_labels)
    return z, sample(batch_size)

  def _gl_loss_fn(self, data):
    return losses.gl_consistency_loss(data, self.data_helper.specgrams_helper,
                                      self.hp['data_type'] == 'mel')

  def _replica_step(self, real_data, real_one_hot):
    """One D step then one G step on a batch; returns the loss terms."""
    progress = self.progress()
    real = schedule.blend_images(real_data, progress,
                                 self.resolution_schedule, self.num_blocks)
    batch_size = real.shape[0]

    # Discriminator step.
    z, fake_one_hot = self._fake_inputs(batch_size)
    fake = self.generator(z, fake_one_hot, progress)
    alpha = losses.random_interpolation_alpha(batch_size, real.shape.rank)
    with tf.GradientTape() as tape:
      d_terms = losses.compute_discriminator_losses(
          self.discriminator, real, real_one_hot, fake, alpha, progress,
          self.weights)
    variables = self.discriminator.trainable_variables
    grads = tape.gradient(d_terms['discriminator_loss'], variables)
    self.discriminator_optimizer.apply_gradients(zip(grads, variables))

    # Generator step, with fresh latents and labels as Magenta's separate
    # session run.
    z, fake_one_hot = self._fake_inputs(batch_size)
    with tf.GradientTape() as tape:
      fake = self.generator(z, fake_one_hot, progress)
      g_terms = losses.compute_generator_losses(
          self.discriminator, fake, fake_one_hot, progress, self.weights,
          gl_loss_fn=self._gl_loss_fn if self.use_gl_loss else None)
    variables = self.generator.trainable_variables
    grads = tape.gradient(g_terms['generator_loss'], variables)
    self.generator_optimizer.apply_gradients(zip(grads, variables))
    update_ema(self.generator, self.ema_generator, self.ema_decay)
    self.image_id.assign_add(batch_size)

    out = {k: v for k, v in d_terms.items() if v.shape.rank == 0}
    out.update({k: v for k, v in g_terms.items() if v.shape.rank == 0})
    out.update(progress=progress,
               d_real_score=tf.reduce_mean(d_terms['d_real_outputs']),
               d_fake_score=tf.reduce_mean(d_terms['d_gen_outputs']))
    return out

  def _distributed_step(self, real_data, real_one_hot):
    per_replica = self.strategy.run(self._replica_step,
                                    args=(real_data, real_one_hot))
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  def run_step(self, real_data, real_one_hot):
    """Runs the compiled step and adds its duration to `train_time`.

    Returns:
      (dict of Python floats: every scalar loss term, progress, mean real and
      fake scores; the step's duration in seconds).
    """
    start = time.time()
    values = {k: float(v) for k, v in self.step(real_data,
                                                real_one_hot).items()}
    duration = time.time() - start
    # Magenta's TrainTimeHook: wall time spent in training steps.
    self.train_time.assign_add(duration)
    return values, duration

  def real_batches(self):
    """Infinite iterator of (data [b, H, W, 2], one_hot [b, P]) batches."""
    return iter(pipeline.provide_batches(self.dataset, self.batch_size,
                                         data_helper=self.data_helper))


class ProgressLine:
  """A status line every `every_secs`: stage, images, speed, losses, ETA."""

  def __init__(self, every_secs, total_images):
    self.every_secs = every_secs
    self.total_images = total_images
    self._last_time = None
    self._last_images = 0

  def restart_clock(self, trainer):
    """Speed counts from here: call after a stage's first (tracing) step."""
    self._last_time = time.time()
    self._last_images = int(trainer.image_id.numpy())

  def maybe_print(self, trainer, values, force=False):
    now = time.time()
    image_id = int(trainer.image_id.numpy())
    if self._last_time is None:
      self.restart_clock(trainer)
      if not force:
        return
    if not force and now - self._last_time < self.every_secs:
      return
    if force and image_id == self._last_images:
      return  # already printed for this image count
    elapsed = max(now - self._last_time, 1e-9)
    speed = (image_id - self._last_images) / elapsed
    self._last_time, self._last_images = now, image_id

    def eta(images_left):
      if speed <= 0:
        return '?'
      return str(datetime.timedelta(seconds=int(max(images_left, 0) / speed)))

    last_stage = trainer.schedule.num_stages - 1
    print(f'stage {trainer.stage_id}/{last_stage} '
          f'({trainer.num_blocks} blocks) | images {image_id}/'
          f'{trainer.num_images} | {speed:.1f} img/s | '
          f'D {values["discriminator_loss"]:.4g} '
          f'G {values["generator_loss"]:.4g} '
          f'GP {values["gradient_penalty_loss"]:.3g} | '
          f'progress {values["progress"]:.3f} | '
          f'ETA stage {eta(trainer.num_images - image_id)}, '
          f'all {eta(self.total_images - image_id)}', flush=True)


class Summaries:
  """TensorBoard summaries of a stage, in its stage folder (as Magenta)."""

  def __init__(self, trainer, every_num_images, seed=0):
    self.trainer = trainer
    self.every = max(int(every_num_images), 1)
    self.writer = tf.summary.create_file_writer(trainer.checkpoint.directory)
    hp = trainer.hp
    self.fake_batch_size = int(hp['fake_batch_size'])
    # A fixed set of latents, with labels cycling through all pitches.
    self.z = tf.random.stateless_normal(
        [self.fake_batch_size, hp['latent_vector_size']], seed=[seed, 0])
    self.one_hot = ordered_one_hot(self.fake_batch_size, trainer.num_pitches)
    self._next = None

  def due(self, image_id):
    if self._next is None:
      self._next = (image_id // self.every + 1) * self.every
      return False
    if image_id >= self._next:
      self._next = (image_id // self.every + 1) * self.every
      return True
    return False

  def write_scalars(self, values, img_per_sec):
    t = self.trainer
    step = int(t.image_id.numpy())
    with self.writer.as_default(step=step):
      for name, value in values.items():
        tf.summary.scalar(f'losses/{name}', value)
      tf.summary.scalar('current_image_id', step)
      tf.summary.scalar('train_time', float(t.train_time.numpy()))
      tf.summary.scalar('images_per_second', img_per_sec)
    self.writer.flush()

  def write_media(self, real_data):
    """Audio and specgram images of the EMA generator and of real data."""
    t = self.trainer
    step = int(t.image_id.numpy())
    progress = t.progress()
    fake = t.ema_generator(self.z, self.one_hot, progress)
    real = schedule.blend_images(real_data, progress, t.resolution_schedule,
                                 t.num_blocks)
    rate = t.hp['sample_rate']
    with self.writer.as_default(step=step):
      for name, data in (('fake', fake), ('real', real)):
        waves = t.data_helper.data_to_waves(data)
        tf.summary.audio(f'{name}_waves', waves, rate,
                         max_outputs=int(waves.shape[0]))
        if t.hp['data_type'] != 'wave':
          for c, suffix in ((0, 'm'), (1, 'p')):
            channel = data[..., c:c + 1]
            lo = tf.reduce_min(channel, axis=[1, 2, 3], keepdims=True)
            hi = tf.reduce_max(channel, axis=[1, 2, 3], keepdims=True)
            # Magenta's layout (time down, frequency to the right): a wide
            # 128x1024 image reads better in TensorBoard than a tall one.
            image = (channel - lo) / (hi - lo + 1e-8)
            tf.summary.image(f'{name}_data_{suffix}', image,
                             max_outputs=int(data.shape[0]))
    self.writer.flush()


def _check_finite(values, trainer, step_in_run):
  bad = {k: float(v) for k, v in values.items() if not np.isfinite(v)}
  if bad:
    latest = trainer.checkpoint.latest or 'none'
    raise NonFiniteLossError(
        f'Non-finite loss at stage {trainer.stage_id}, step {step_in_run} of '
        f'this run (image_id {int(trainer.image_id.numpy())}): {bad}. '
        f'Stopped without saving; the last good checkpoint stays the latest: '
        f'{latest}')


# Magenta's `dataset_name` values for our dataset classes.
DATASET_NAMES = {'NSynthTfdsDataset': 'nsynth_tfds',
                 'NSynthTFRecordDataset': 'nsynth_tfrecord',
                 'PreparedDataset': 'prepared', 'DefaultDataset': 'default',
                 'EvalDataset': 'prepared', 'SoundfontDataset': 'prepared'}


def check_dataset_readable(dataset):
  """Reads the first note; raises ValueError if the dataset yields none."""
  try:
    next(iter(dataset.provide_dataset().take(1)))
  except StopIteration:
    raise ValueError(f'{type(dataset).__name__} yields no notes (no file '
                     'matched, or none in the pitch range)') from None
  except tf.errors.OpError as e:
    raise ValueError(f'{type(dataset).__name__} cannot be read: '
                     f'{e.message}') from None


def describe_dataset(dataset):
  """experiment.json's `dataset_name`, `train_data_path` and `pitch_counts`.

  `pitch_counts` ({"MIDI pitch": count}, JSON string keys) is our one key
  beyond Magenta's: `load_model` samples pitches from it, so a model trained
  on a few pitches is not asked for others (Magenta assumes NSynth's).
  """
  name = type(dataset).__name__
  info = {'dataset_name': DATASET_NAMES.get(name, name),
          'pitch_counts': {str(p): int(c) for p, c in
                           sorted(dataset.get_pitch_counts().items())}}
  path = dataset.describe()['path']
  if path:
    info['train_data_path'] = str(path)
  return info


def init_normalizer(hp, train_dir, dataset):
  """Fits a data-computed normalizer once (Magenta's init_data_normalizer)."""
  normalizer = normalizers.make_normalizer(hp['data_normalizer'], train_dir,
                                           **hp)
  if hasattr(normalizer, 'exists') and not normalizer.exists():
    helper = specgrams.make_data_helper(
        hp['data_type'], hp['audio_length'], hp['sample_rate'],
        schedule.ResolutionSchedule.from_hparams(**hp).final_resolutions)
    # Magenta reads batches of 10 until normalizer_num_examples are seen.
    batches = pipeline.provide_batches(dataset, 10, data_helper=helper)
    normalizer.fit(data.numpy() for data, _ in batches)
  return normalizer


@gin.configurable
def train(train_dir, dataset=gin.REQUIRED, save_checkpoint_secs=600,
          max_to_keep=2, log_every_secs=10.0, media_summaries=True,
          jit_compile=False, stop_after_images=None, ema_decay=EMA_DECAY):
  """Runs (or resumes) every remaining stage of the progressive schedule.

  Args:
    train_dir: where experiment.json, operative_config.gin and the stage
      folders go.
    dataset: a `data.base.NotesDataset` (set by a gin/datasets/*.gin file).
    save_checkpoint_secs: checkpoint interval; a checkpoint is also written
      at the start and the end of every stage.
    max_to_keep: checkpoints kept per stage folder.
    log_every_secs: interval of the progress line.
    media_summaries: write generated/real audio and specgram images every
      `save_summaries_num_images` images and at each stage end.
    jit_compile: compile the train step with XLA.
    stop_after_images: stop this run (after saving) once the image counter
      reaches this value; for tests and benchmarks.
    ema_decay: decay of the generator's exponential moving average, which
      generation uses. Magenta's 0.999 averages over ~1000 steps: right for
      runs of millions of images, but in a run of a few thousand steps the
      average still lags far behind the generator (short CPU runs use less).

  Returns:
    The last checkpoint path.
  """
  hp = hparams()
  if getattr(dataset, 'audio_length', hp['audio_length']) != hp[
      'audio_length']:
    raise ValueError(
        f'The dataset gives {dataset.audio_length}-sample notes but '
        f'hparams.audio_length is {hp["audio_length"]}; set both alike.')
  hp['train_root_dir'] = os.path.abspath(train_dir)
  # Read one note before anything is written, so missing or empty data fails
  # without leaving a half-started train_dir behind.
  check_dataset_readable(dataset)
  hp.update(describe_dataset(dataset))
  checkpoints.write_or_check_experiment(train_dir, hp)
  training_schedule = schedule.TrainingSchedule.from_hparams(**hp)
  strategy = tf.distribute.get_strategy()
  init_normalizer(hp, train_dir, dataset)
  stage_ids = training_schedule.stages_to_train(train_dir)
  total_images = training_schedule.num_images(stage_ids[-1], train_dir)
  line = ProgressLine(log_every_secs, total_images)
  last_path = None
  for stage_id in stage_ids:
    if last_path and _reached(last_path, stop_after_images):
      break
    trainer = StageTrainer(stage_id, hp, training_schedule, train_dir,
                           dataset, strategy, jit_compile=jit_compile,
                           max_to_keep=max_to_keep, ema_decay=ema_decay)
    origin = trainer.restore()
    print(f'Stage {stage_id}: {trainer.num_blocks} blocks, batch '
          f'{trainer.batch_size}, image_id {int(trainer.image_id.numpy())} '
          f'-> {trainer.num_images}; {origin}', flush=True)
    if trainer.done():
      last_path = trainer.checkpoint.latest
      continue
    if trainer.checkpoint.latest is None:
      last_path = trainer.save()
    last_path = _train_stage(trainer, line, save_checkpoint_secs,
                             media_summaries, stop_after_images) or last_path
  return last_path


def _reached(checkpoint_path, stop_after_images):
  return stop_after_images is not None and checkpoints.read_scalar(
      checkpoint_path, 'image_id') >= stop_after_images


def _train_stage(trainer, line, save_checkpoint_secs, media_summaries,
                 stop_after_images):
  """The step loop of one stage; returns the last checkpoint path."""
  summaries = Summaries(trainer, trainer.hp['save_summaries_num_images'])
  summaries.due(int(trainer.image_id.numpy()))
  batches = trainer.real_batches()
  last_save = time.time()
  path = None
  step_in_run = 0
  wrote_config = False
  values = None
  real_data = None
  while not trainer.done():
    real_data, real_one_hot = next(batches)
    values, duration = trainer.run_step(real_data, real_one_hot)
    _check_finite(values, trainer, step_in_run)
    step_in_run += 1
    if not wrote_config:
      # The operative config lists what the run actually used, so it is
      # complete only after the first step.
      files.write_atomic(
          os.path.join(trainer.train_dir, run_dir.OPERATIVE_CONFIG),
          gin.operative_config_str())
      wrote_config = True
    image_id = int(trainer.image_id.numpy())
    if summaries.due(image_id):
      summaries.write_scalars(values, trainer.batch_size / duration)
      if media_summaries:
        summaries.write_media(real_data)
    if step_in_run == 1:
      line.restart_clock(trainer)
    else:
      line.maybe_print(trainer, values)
    stop = stop_after_images is not None and image_id >= stop_after_images
    if time.time() - last_save >= save_checkpoint_secs or stop:
      path = trainer.save()
      last_save = time.time()
    if stop:
      return path
  if values is not None:
    line.maybe_print(trainer, values, force=True)
    summaries.write_scalars(values, trainer.batch_size / max(duration, 1e-9))
    if media_summaries:
      summaries.write_media(real_data)
  return trainer.save()


FLAGS = flags.FLAGS
flags.DEFINE_multi_string('gin_file', [], 'gin config files, applied in order '
                          '(later ones override earlier ones).')
flags.DEFINE_multi_string('gin_param', [], 'gin bindings applied after the '
                          "files, e.g. --gin_param='hparams.fmap_max=16'.")
flags.DEFINE_string('train_dir', None, 'Training directory (created if '
                    'missing); rerun the same command to resume.')


def hparams_from_gin(gin_files, gin_params=()):
  """The Magenta hparams a gin config sets; the config is not kept bound."""
  gin.clear_config()
  gin_config.parse_gin(gin_files, gin_params)
  try:
    return hparams()
  finally:
    gin.clear_config()


def main(argv):
  del argv
  # TF's own INFO lines (one per checkpoint shard) drown the progress line.
  tf.get_logger().setLevel('WARNING')
  if not FLAGS.train_dir:
    raise app.UsageError('--train_dir is required')
  if not FLAGS.gin_file:
    raise app.UsageError('--gin_file is required, e.g. '
                         '--gin_file=gin/quickstart.gin')
  try:
    gin_config.parse_gin(FLAGS.gin_file, FLAGS.gin_param)
    path = train(FLAGS.train_dir)
  except (NonFiniteLossError, checkpoints.ConfigConflictError, ValueError,
          OSError) as e:
    # Bad input or a stopped run: one clear line, no traceback.
    print(f'ERROR: {e}', flush=True)
    raise SystemExit(1) from None
  print(f'Done: {path}', flush=True)


def console_entry_point():
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
