"""The stage trainer: networks, optimizers and the compiled step of one stage.

Each stage of the progressive schedule builds networks with its number of
blocks, starts from the previous stage's checkpoint (new block fresh,
optimizers reset) and trains with a tf.function step traced once per stage:
one generator step and its EMA, then one discriminator step (the order of
Magenta's sequential train hooks). The step runs under `strategy.run` with the
schedule's batch size as the global batch (distribute.py says how it splits).
`train.py` runs the stages; this module does not read flags or gin.

Magenta -> here: `train_util.define_loss/define_train_ops` + `model.Model`
-> `StageTrainer` with losses.py; `train_util.make_scaffold` ->
`StageTrainer.restore` + checkpoints.py.
"""
import secrets
import time

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import checkpoints
from gansynth_tf2 import distribute
from gansynth_tf2 import losses
from gansynth_tf2 import networks
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import specgrams
from gansynth_tf2.data import pipeline

EMA_DECAY = 0.999  # Magenta's generator ExponentialMovingAverage.
LOSS_SCALE_START = 2.0**10  # fp16's dynamic loss scale at a stage's start


def copy_weights(source, target):
  """Copies `source`'s trainable weights into the same-shaped `target`."""
  src, dst = source.trainable_variables, target.trainable_variables
  if len(src) != len(dst):
    raise ValueError(f'{len(src)} vs {len(dst)} trainable variables')
  for s, d in zip(src, dst):
    d.assign(s)


def _zeros_for_none(grads, variables):
  """Zero gradients for the branches a constant progress left out.

  Magenta computes them (weighted 0) and Adam applies the zero gradient;
  Keras would skip a None one and warn, so the same zeros are applied here.
  """
  return [tf.zeros_like(v) if g is None else g
          for g, v in zip(grads, variables)]


def update_ema(model, ema_model, decay=EMA_DECAY):
  """ema = decay * ema + (1 - decay) * weights.

  Magenta's `tf.train.ExponentialMovingAverage(decay=0.999)` without
  `num_updates`, applied after each generator step. As there (TF's
  `assign_moving_average`), `1 - decay` is float32 arithmetic on the float32
  decay: float32(1) - float32(0.999) = 0.99998713e-3, not the float64
  1.0000000475e-3 (a 1.3e-5 relative difference in every EMA step), and the
  update is `(ema - var) * (1 - decay)` subtracted from the shadow.
  """
  factor = float(np.float32(1.0) - np.float32(decay))  # exact in float32
  for var, ema_var in zip(model.trainable_variables,
                          ema_model.trainable_variables):
    ema_var.assign_sub((ema_var - var) * factor)


# A worker's checkpoint request code in the step: 1 asks for a checkpoint,
# STOP_REQUEST for a checkpoint and a stop; the codes are summed over the
# replicas (fewer than STOP_REQUEST of them), so a stop is seen by all.
STOP_REQUEST = 4096.0

class StageTrainer:
  """Networks, optimizers, checkpoint and compiled step of one stage.

  Args:
    stage_id: stage of the progressive schedule.
    hp: `hparams.HParams` of the run.
    training_schedule: `schedule.TrainingSchedule`.
    train_dir: training directory.
    dataset: a data.base.NotesDataset.
    strategy: tf.distribute strategy whose scope holds the variables; its
      replicas share the schedule's batch size (the global batch).
    jit_compile: compile the step with XLA.
    max_to_keep: checkpoints kept per stage.
    ema_decay: decay of the generator's moving average (Magenta: 0.999).
    stddev_group_size: the discriminator's minibatch-stddev group (None:
      each replica's whole batch, as Magenta per tower).
    precision: 'fp32' (Magenta's numbers), 'bf16' or 'fp16': the networks
      compute in that type with float32 weights, Adam and losses
      (precision.py); fp16 scales the losses (Keras' LossScaleOptimizer,
      dynamic) and the gradient penalty's inner gradient alike. Checkpoints
      are the same in every precision (the loss scale is not saved), so a
      run may resume in another precision.
    subpixel_upscale: the generators' upscale + conv in sub-pixel form
      (networks.Generator): less arithmetic, same function up to rounding;
      off by default so that a step reproduces Magenta's update (Adam turns
      rounding-level differences of near-zero gradients into full steps).
    seed: None (unseeded), or the run's seed: the stage's fresh weights
      come from (seed, stage_id), the latents, labels and penalty
      coefficients from a `tf.random.Generator` seeded by it and the data
      order from it (`data_seed`), so a seeded run repeats itself.

  Resuming is exact: the checkpoint holds the random generator's state
  (`rng`), the data order's seed (`data_seed`) and how far the run has read
  (`data_position`, pipeline.py), besides the weights, Adam slots and image
  count; a stage started from the previous one carries them on.
  """

  def __init__(self, stage_id, hp, training_schedule, train_dir, dataset,
               strategy, jit_compile=False, max_to_keep=2,
               ema_decay=EMA_DECAY, stddev_group_size=None,
               precision='fp32', subpixel_upscale=False, seed=None):
    if not 0.0 <= ema_decay < 1.0:
      raise ValueError(f'ema_decay must be in [0, 1), got {ema_decay}')
    self.ema_decay = float(ema_decay)
    self.stage_id = stage_id
    self.hp = hp
    self.schedule = training_schedule
    self.train_dir = train_dir
    self.run = run_dir.Run(train_dir)
    self.dataset = dataset
    self.strategy = strategy
    self.is_chief = distribute.is_chief(strategy)
    self.num_blocks = training_schedule.num_blocks(stage_id)
    self.batch_size = training_schedule.batch_size(stage_id)
    self.num_replicas = strategy.num_replicas_in_sync
    if self.batch_size % self.num_replicas:
      raise ValueError(
          f'Stage {stage_id}: the batch size {self.batch_size} (the global '
          f'batch) does not split over {self.num_replicas} replicas; use a '
          f'hparams.batch_size_schedule of multiples of {self.num_replicas}.')
    self.replica_batch_size = self.batch_size // self.num_replicas
    self.num_images = training_schedule.num_images(stage_id,
                                                   self.run.stage_ids())
    self.time_limit = training_schedule.stage_train_time_limit(stage_id)
    self.constant_progress = self._constant_progress()
    self.resolution_schedule = schedule.ResolutionSchedule.from_hparams(hp)
    self.weights = losses.LossWeights.from_hparams(hp)
    self.num_pitches = dataset.num_pitches
    self.data_helper = specgrams.DataHelper.from_hparams(hp)
    # G&L consistency only in the last stage and for Fourier data, as Magenta.
    self.use_gl_loss = (
        hp.gen_gl_consistency_loss_weight > 0 and
        hp.data_type != 'wave' and
        stage_id == training_schedule.num_stages - 1)

    self.precision = precision_lib.check(precision)
    self.loss_scaling = precision_lib.needs_loss_scaling(precision)
    if self.loss_scaling and self.num_replicas > 1:
      raise ValueError('precision fp16 (loss scaling) runs on one device; '
                       'use bf16 (no loss scaling) with several replicas')
    if seed is not None:
      # The fresh weights of this stage depend on (seed, stage) only, not on
      # what this process built before: a run resumed at a stage's start
      # builds the same new block as the run that went on.
      keras.utils.set_random_seed((int(seed) * 1000003 + stage_id) % 2**31)
    # Outside the strategy's scope: one generator draws the global batch's
    # inputs in the step's cross-replica part. Philox, named, so that a
    # checkpoint resumes on any device.
    self.rng = (tf.random.Generator.from_seed(int(seed), alg='philox')
                if seed is not None else
                tf.random.Generator.from_non_deterministic_state(
                    alg='philox'))
    self.data_seed = tf.Variable(
        int(seed) if seed is not None else secrets.randbits(31),
        dtype=tf.int64, trainable=False, name='data_seed')
    self.data_position = tf.Variable(0, dtype=tf.int64, trainable=False,
                                     name='data_position')
    with strategy.scope():
      nets = networks.build_networks(
          hp, stage_id, self.run.normalizer(hp, must_exist=False),
          self.num_pitches,
          precision=precision, subpixel_upscale=subpixel_upscale,
          stddev_group_size=stddev_group_size)
      self.generator = nets['generator']
      self.ema_generator = nets['ema_generator']
      self.discriminator = nets['discriminator']
      # The Adams are what checkpoints hold; fp16 steps go through a
      # LossScaleOptimizer around them.
      self._generator_adam = keras.optimizers.Adam(
          hp.generator_learning_rate, beta_1=hp.adam_beta1,
          beta_2=hp.adam_beta2, epsilon=1e-8)
      self._discriminator_adam = keras.optimizers.Adam(
          hp.discriminator_learning_rate, beta_1=hp.adam_beta1,
          beta_2=hp.adam_beta2, epsilon=1e-8)
      self.generator_optimizer = self._scaled(self._generator_adam)
      self.discriminator_optimizer = self._scaled(self._discriminator_adam)
      self.image_id = tf.Variable(0, dtype=tf.int64, trainable=False,
                                  name='image_id')
      self.train_time = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                                    name='train_time')
      self._build()

    self.checkpoint = checkpoints.StageCheckpoint(
        self.run, stage_id, max_to_keep=max_to_keep,
        generator=self.generator, ema_generator=self.ema_generator,
        discriminator=self.discriminator,
        generator_optimizer=self._generator_adam,
        discriminator_optimizer=self._discriminator_adam,
        image_id=self.image_id, train_time=self.train_time,
        rng=self.rng, data_seed=self.data_seed,
        data_position=self.data_position, write=self.is_chief)
    self.step = tf.function(self._sampled_step, jit_compile=jit_compile,
                            autograph=False)
    # Set by run_step: every worker agreed to stop after that step.
    self.stop_requested = False
    self.step_with_inputs = tf.function(self._distributed_step,
                                        jit_compile=jit_compile,
                                        autograph=False)

  def _scaled(self, optimizer):
    if not self.loss_scaling:
      return optimizer
    # Keras' initial 2**15 overflows the critic's double backprop (the first
    # steps of every stage would be skipped while it halves); 2**10 fits.
    return keras.optimizers.LossScaleOptimizer(optimizer,
                                               initial_scale=LOSS_SCALE_START)

  def _scale(self, optimizer, loss):
    """The loss the gradient is taken of (times the loss scale in fp16)."""
    return optimizer.scale_loss(loss) if self.loss_scaling else loss

  def _build(self):
    """Creates every variable (networks and optimizer slots) eagerly."""
    shape = self.data_helper.data_shape
    z = tf.zeros([1, self.hp.latent_vector_size])
    labels = tf.zeros([1, self.num_pitches])
    progress = tf.constant(0.0)
    for g in (self.generator, self.ema_generator):
      g(z, labels, progress)
    self.discriminator(tf.zeros([1] + list(shape)), progress)
    self.generator_optimizer.build(self.generator.trainable_variables)
    self.discriminator_optimizer.build(self.discriminator.trainable_variables)

  def save(self):
    """Saves a checkpoint and says so on stdout; returns its path.

    Only the chief writes (other workers return None): every worker holds
    the same weights.
    """
    if not self.is_chief:
      return None
    path = self.checkpoint.save()
    print(f'Saved {path} at image_id {int(self.image_id.numpy())}',
          flush=True)
    return path

  def restore(self):
    """Resumes this stage, or starts it from the previous one (make_scaffold).

    Returns:
      A short description of where the stage starts from.
    """
    path = self.checkpoint.restore_latest()
    if path:
      return f'resumed {path}'
    # Fresh stage: the EMA starts at the initial weights (the EMA shadows of
    # Magenta start at their variables' initial values).
    copy_weights(self.generator, self.ema_generator)
    if self.stage_id == 0 or not self.hp.train_progressive:
      return 'fresh start'
    previous = self.run.latest_checkpoint(self.stage_id - 1)
    if previous is None:
      raise FileNotFoundError(
          f'Stage {self.stage_id} has no checkpoint of stage '
          f'{self.stage_id - 1} to start from in {self.train_dir}')
    self.checkpoint.restore_previous_stage(previous)
    return f'started from {previous}'

  def progress(self):
    return self.schedule.progress(self.stage_id, self.image_id,
                                  self.train_time)

  def _constant_progress(self):
    """The stage's progress as a Python float if no step can change it.

    Stable stages and non-progressive training: progress is monotone in the
    image count, so equal values at the stage's first and last step mean a
    constant. None for transitions and time-limited schedules.
    """
    if self.time_limit is not None:
      return None
    if not self.hp.train_progressive:
      return float(self.num_blocks - 1)
    start = (self.schedule.num_images(self.stage_id - 1)
             if self.stage_id > 0 else 0)
    last = max(start, self.num_images - 1)
    first_value = float(self.schedule.progress(self.stage_id, start))
    if first_value != float(self.schedule.progress(self.stage_id, last)):
      return None
    return first_value

  def done(self):
    if self.time_limit is not None:
      return float(self.train_time.numpy()) > self.time_limit
    return int(self.image_id.numpy()) >= self.num_images

  def _fake_inputs(self, batch_size):
    z = self.rng.normal([batch_size, self.hp.latent_vector_size])
    # Sampled from the data's pitch counts; the dataset's Python bookkeeping
    # runs once at trace time, so autograph need not convert it.
    sample = tf.autograph.experimental.do_not_convert(
        self.dataset.provide_one_hot_labels)
    return z, sample(batch_size, rng=self.rng)

  def _gl_loss_fn(self, data):
    return losses.gl_consistency_loss(data, self.data_helper.specgrams_helper,
                                      self.hp.data_type == 'mel')

  def generator_step(self, z, one_hot, progress):
    """One Adam step of the generator, then its EMA (Magenta's generator op).

    Args:
      z: `[b, latent_vector_size]` latents.
      one_hot: `[b, num_pitches]` pitches asked of the generator.
      progress: float scalar.

    Returns:
      The generator's loss terms (scalars).
    """
    with tf.GradientTape() as tape:
      fake = self.generator(z, one_hot, progress)
      terms, _ = losses.compute_generator_losses(
          self.discriminator, fake, one_hot, progress, self.weights,
          gl_loss_fn=self._gl_loss_fn if self.use_gl_loss else None)
      loss = self._scale(self.generator_optimizer,
                         self._replica_share(terms['generator_loss']))
    variables = self.generator.trainable_variables
    grads = _zeros_for_none(tape.gradient(loss, variables), variables)
    self.generator_optimizer.apply_gradients(zip(grads, variables))
    # Once per global step, in cross-replica context: every replica holds
    # the same (all-reduced) weights by now.
    tf.distribute.get_replica_context().merge_call(
        lambda _: update_ema(self.generator, self.ema_generator,
                             self.ema_decay))
    return terms

  def discriminator_step(self, real, real_one_hot, z, one_hot, alpha,
                         progress):
    """One Adam step of the discriminator (Magenta's discriminator op).

    Args:
      real: `[b, H, W, 2]` real data, already blended by `progress`.
      real_one_hot: `[b, num_pitches]` their pitches.
      z, one_hot: the generator's inputs for the fake half.
      alpha: `[b, 1, 1, 1]` gradient-penalty interpolation coefficients.
      progress: float scalar.

    Returns:
      (loss terms (scalars), {'d_real_outputs', 'd_gen_outputs'} scores).
    """
    fake = self.generator(z, one_hot, progress)
    with tf.GradientTape() as tape:
      terms, outputs = losses.compute_discriminator_losses(
          self.discriminator, real, real_one_hot, fake, alpha, progress,
          self.weights, loss_scale=(
              self._scale(self.discriminator_optimizer, tf.constant(1.0))
              if self.loss_scaling else None))
      loss = self._scale(self.discriminator_optimizer,
                         self._replica_share(terms['discriminator_loss']))
    variables = self.discriminator.trainable_variables
    grads = _zeros_for_none(tape.gradient(loss, variables), variables)
    self.discriminator_optimizer.apply_gradients(zip(grads, variables))
    return terms, outputs

  def _replica_share(self, loss):
    """This replica's part of the global batch's mean loss.

    Each loss is a mean over the replica's batch; the optimizer sums the
    replicas' gradients, so dividing by their number gives the gradient of
    the global batch's mean (`tf.nn.compute_average_loss` for equal splits).
    """
    return loss / self.num_replicas

  def sample_inputs(self):
    """Fresh latents, labels and penalty coefficients for the global batch.

    Returns:
      dict of `g_z`, `g_one_hot` (the generator step's fake batch), `d_z`,
      `d_one_hot` (the discriminator step's) and `alpha` `[batch, 1, 1, 1]`.
    """
    g_z, g_one_hot = self._fake_inputs(self.batch_size)
    d_z, d_one_hot = self._fake_inputs(self.batch_size)
    rank = len(self.data_helper.data_shape) + 1
    alpha = losses.random_interpolation_alpha(self.batch_size, rank,
                                              rng=self.rng)
    return {'g_z': g_z, 'g_one_hot': g_one_hot, 'd_z': d_z,
            'd_one_hot': d_one_hot, 'alpha': alpha}

  def _replica_slice(self, inputs):
    """This replica's rows of the global-batch `inputs`."""
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    start = replica * self.replica_batch_size
    return {k: v[start:start + self.replica_batch_size]
            for k, v in inputs.items()}

  def _replica_generator_step(self, inputs, progress):
    mine = self._replica_slice(inputs)
    return self.generator_step(mine['g_z'], mine['g_one_hot'], progress)

  def _replica_discriminator_step(self, real_data, real_one_hot, inputs,
                                  progress):
    mine = self._replica_slice(inputs)
    real = schedule.blend_images(real_data, progress,
                                 self.resolution_schedule, self.num_blocks)
    terms, outputs = self.discriminator_step(
        real, real_one_hot, mine['d_z'], mine['d_one_hot'], mine['alpha'],
        progress)
    return dict(terms,
                d_real_score=tf.reduce_mean(outputs['d_real_outputs']),
                d_fake_score=tf.reduce_mean(outputs['d_gen_outputs']))

  def _distributed_step(self, real_data, real_one_hot, inputs,
                        save_request=False):
    """One global step: the generator's (+EMA), then the discriminator's.

    As tfgan's sequential hooks run Magenta's two train ops (generator
    first), each with its own latents and labels.

    Args:
      real_data: `[replica_batch, H, W, 2]` real data of each replica (a
        distributed value; a plain tensor with one replica).
      real_one_hot: `[replica_batch, num_pitches]`, likewise.
      inputs: `sample_inputs()` for the global batch; each replica takes its
        rows.
      save_request: whether this worker asks for a checkpoint after the step.

    Returns:
      (loss terms, progress, mean real/fake scores, averaged over the global
      batch; whether any worker asked for a checkpoint, so all agree).
    """
    strategy = self.strategy
    # A progress that cannot change in this stage is traced as a Python
    # number: the networks then skip the branches it weights 0 (exact).
    progress = (self.constant_progress if self.constant_progress is not None
                else self.progress())
    g_terms = strategy.run(self._replica_generator_step,
                           args=(inputs, progress))
    d_terms = strategy.run(self._replica_discriminator_step,
                           args=(real_data, real_one_hot, inputs, progress))
    self.image_id.assign_add(self.batch_size)
    # Equal shares, so the mean over replicas is the global batch's mean.
    values = {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
              for k, v in dict(d_terms, **g_terms).items()}
    values['progress'] = tf.convert_to_tensor(progress, tf.float32)
    # Summed over replicas and workers, so every worker sees any one's
    # request: > 0.5 someone asks for a checkpoint, >= STOP_REQUEST for a
    # checkpoint and a stop (a signal arrived).
    request = tf.cast(save_request, tf.float32)
    requests = strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(lambda: tf.identity(request)),
                               axis=None)
    return values, requests

  def _sampled_step(self, real_data, real_one_hot, save_request):
    return self._distributed_step(real_data, real_one_hot,
                                  self.sample_inputs(), save_request)

  def run_step(self, real_data, real_one_hot, save_request=False,
               stop_request=False):
    """Runs the compiled step and adds its duration to `train_time`.

    Args:
      real_data, real_one_hot: a batch of `real_batches()`.
      save_request: this worker would like a checkpoint after the step.
      stop_request: this worker would like a checkpoint and then to stop
        (a stop signal arrived); `stop_requested` then says that every
        worker agrees after the step.

    Returns:
      (dict of Python floats: every scalar loss term, progress, mean real and
      fake scores; the step's duration in seconds; whether to save now, the
      same on every worker of a cluster).
    """
    start = time.time()
    code = STOP_REQUEST if stop_request else float(bool(save_request))
    values, requests = self.step(real_data, real_one_hot,
                                 tf.constant(code, tf.float32))
    requests = float(requests)
    self.stop_requested = requests >= STOP_REQUEST - 0.5
    save = requests > 0.5
    values = {k: float(v) for k, v in values.items()}
    duration = time.time() - start
    # Magenta's TrainTimeHook: wall time spent in training steps.
    self.train_time.assign_add(duration)
    return values, duration, save

  def real_batches(self):
    """Infinite iterator of (data, one_hot) batches for `run_step`, from
    the run's data position on (a `Batches`).

    Each replica gets `[replica_batch, H, W, 2]` data and
    `[replica_batch, P]` labels (plain tensors with one replica); each
    worker of a cluster reads its own shard of the notes.
    """
    seed = int(self.data_seed.numpy())
    start = int(self.data_position.numpy())

    def make(context):
      return pipeline.provide_batches(
          self.dataset, context.get_per_replica_batch_size(self.batch_size),
          data_helper=self.data_helper, seed=seed, start_position=start,
          shard=(context.num_input_pipelines, context.input_pipeline_id))
    return Batches(self.strategy,
                   self.strategy.distribute_datasets_from_function(make))

  def trained_on(self, batches):
    """Records that the last step used `batches`' last batch (a checkpoint
    then resumes the data after it)."""
    self.data_position.assign(batches.position)


class Batches:
  """The training batches of a stage: iterates (data, one_hot) and keeps
  `position`, the data position after the last batch it gave (pipeline.py;
  the furthest of this worker's replicas)."""

  def __init__(self, strategy, dataset):
    self._strategy = strategy
    self._iterator = iter(dataset)
    self.position = None

  def __iter__(self):
    return self

  def __next__(self):
    data, one_hot, position = next(self._iterator)
    self.position = max(int(p[-1]) for p in
                        self._strategy.experimental_local_results(position))
    return data, one_hot
