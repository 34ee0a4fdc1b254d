r"""Trains GANSynth progressively, as Magenta's `gansynth_train.py` does.

  python -m gansynth_tf2.train --gin_file=gin/quickstart.gin \
      --train_dir=/tmp/gansynth/quickstart
  python -m gansynth_tf2.train --gin_file=gin/if_mel_hq.gin \
      --gin_file=gin/datasets/nsynth_tfrecord.gin \
      --gin_param="NSynthTFRecordDataset.file_pattern='/data/nsynth-train*'" \
      --train_dir=/tmp/gansynth/if_mel_hq

Running the same command again resumes where it stopped. `--strategy`
moves the same training onto several devices or machines (distribute.py):

  python -m gansynth_tf2.train --gin_file=gin/if_mel_hq.gin \
      --strategy=mirrored --train_dir=/tmp/gansynth/if_mel_hq  # every GPU

This module is the
loop over the stages of the progressive schedule and the command line;
`trainer.StageTrainer` holds one stage's networks and compiled step, and
`summaries` what a run reports.

Magenta -> here: `gansynth_train.main/run` -> `main/train`;
`train_util.train` -> `train` + `_train_stage`.
"""
import contextlib
import dataclasses
import os
import signal
import threading
import time
import typing

from absl import app
from absl import flags
import gin
import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import distribute
from gansynth_tf2 import gin_config
from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import specgrams
from gansynth_tf2 import summaries as summaries_lib
from gansynth_tf2 import trainer as trainer_lib
from gansynth_tf2.data import pipeline


class NonFiniteLossError(FloatingPointError):
  """A loss became NaN or Inf; training stopped without saving."""


class TrainingDataError(ValueError):
  """The data could not be read during training; stopped without saving."""


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


def reading_error_line(error):
  """One line of a tf.data reading error: a reader's own message (a
  `tf.debugging.Assert` naming the file and the note) without TF's prefix
  ("{{function_node ...}} Error in user-defined function ... assertion
  failed: [...]"), else the error's first line."""
  line = (getattr(error, 'message', None) or str(error)).splitlines()[0]
  marker = 'assertion failed: ['
  if marker in line:
    line = line.split(marker, 1)[1]
    line = line[:-1] if line.endswith(']') else line
  return line


def check_dataset_readable(dataset):
  """Reads the first note; raises ValueError if the dataset yields none."""
  try:
    next(iter(dataset.provide_dataset().take(1)))
  except StopIteration:
    raise ValueError(f'{type(dataset).__name__} yields no notes (no file '
                     'matched, or none in the pitch range)') from None
  except tf.errors.OpError as e:
    raise ValueError(f'{type(dataset).__name__} cannot be read: '
                     f'{reading_error_line(e)}') from None


def experiment_fields(dataset):
  """experiment.json's `dataset_name`, `train_data_path` and `pitch_counts`
  of a dataset.

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


def init_normalizer(hp, run, dataset):
  """Fits a data-computed normalizer once (Magenta's init_data_normalizer)."""
  normalizer = run.normalizer(hp, must_exist=False)
  if hasattr(normalizer, 'exists') and not normalizer.exists():
    helper = specgrams.DataHelper.from_hparams(hp)
    # Magenta reads batches of 10 until normalizer_num_examples are seen.
    batches = pipeline.provide_batches(dataset, 10, data_helper=helper)
    normalizer.fit(data.numpy() for data, _ in batches)
  return normalizer


def use_determinism():
  """Makes this process's training repeat bit for bit (train.deterministic).

  Three settings, each found by a measured difference (docs/training.md,
  "Reliability"; tools/bench_determinism.py):
  * TensorFlow's op determinism (GPU kernels without atomics, ordered
    tf.data);
  * one intra-op thread: oneDNN's CPU convolution gradients reduce over
    threads in a varying order (a last-bit difference now and then), which
    op determinism does not cover;
  * Grappler's graph optimizations off: they are not deterministic (TF's
    determinism RFC says so). Measured on the suite's config: about one
    compiled step in ten (a fresh process or a fresh trace) gave the first
    step's losses 1e-5 apart from the same inputs and weights (0 in 160
    with the dependency optimizer off); with only that pass off, one of two
    quick-start runs still diverged in its last stage, whose 6 reruns with
    all passes off agreed (at 1.06x its step time). Adam then magnifies
    the difference.
  The thread setting must come before TensorFlow starts executing (the CLI
  calls this first).

  Raises:
    ValueError: TensorFlow already runs with several intra-op threads.
  """
  tf.config.experimental.enable_op_determinism()
  tf.config.optimizer.set_experimental_options(
      {'disable_meta_optimizer': True})
  if tf.config.threading.get_intra_op_parallelism_threads() == 1:
    return
  try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
  except RuntimeError:
    raise ValueError(
        'train.deterministic needs one intra-op thread, which can only be '
        'set before TensorFlow starts: call train.use_determinism() (or '
        'tf.config.threading.set_intra_op_parallelism_threads(1)) first, or '
        'train from the command line') from None


def hparams_from_gin_files(gin_files, gin_params=()):
  """The `hparams.HParams` a training config sets; the config is not kept
  bound. Here, not in hparams.py: such files also bind `train.*` and the
  dataset, which this module registers."""
  gin.clear_config()
  gin_config.parse_gin(gin_files, gin_params)
  try:
    return hparams_lib.from_gin()
  finally:
    gin.clear_config()


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """How a run trains, beyond the hyperparameters: `train()`'s arguments
  after the train_dir, the dataset and the strategy (see `train`)."""
  save_checkpoint_secs: float = 600
  max_to_keep: int = 2
  log_every_secs: float = 10.0
  media_summaries: bool = True
  jit_compile: bool = False
  stop_after_images: typing.Optional[int] = None
  ema_decay: float = trainer_lib.EMA_DECAY
  precision: str = 'fp32'
  subpixel_upscale: bool = False
  seed: typing.Optional[int] = None
  # The run's StopSignals (set by train, not an argument of it).
  signals: typing.Any = None


class TrainingStopped(Exception):
  """A stop signal ended the run cleanly: the step finished, then a
  checkpoint was written. `signal_name`, `stage_id`, `image_id`, `path` (the
  checkpoint; None on workers other than the chief)."""

  def __init__(self, signal_name, stage_id, image_id, path):
    super().__init__(f'stopped by {signal_name} at stage {stage_id}, image '
                     f'{image_id}' + (f': checkpoint {path}' if path else ''))
    self.signal_name = signal_name
    self.stage_id = stage_id
    self.image_id = image_id
    self.path = path


class StopSignals:
  """SIGTERM and SIGINT (Ctrl-C) during a run: the first asks for a clean
  stop (the current step ends, every worker saves a checkpoint, the run
  raises TrainingStopped), a second one aborts at once (KeyboardInterrupt,
  nothing saved). Installed only from the main thread (Python delivers
  signals there); the previous handlers come back at the end."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    return False

  def _handle(self, signum, frame):
    del frame
    name = signal.Signals(signum).name
    if self.received is not None:
      raise KeyboardInterrupt(f'second stop signal ({name}): aborted '
                              'without saving')
    self.received = name
    print(f'{name}: finishing the current step, then saving a checkpoint '
          '(send it again, or Ctrl-C again, to abort at once)', flush=True)


@gin.configurable(denylist=['hparams'])
def train(train_dir, dataset=gin.REQUIRED, save_checkpoint_secs=600,
          max_to_keep=2, log_every_secs=10.0, media_summaries=True,
          jit_compile=False, stop_after_images=None,
          ema_decay=trainer_lib.EMA_DECAY, strategy='default',
          cpu_replicas=None, tpu='', precision='fp32', seed=None,
          deterministic=False, subpixel_upscale=False, hparams=None):
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
    strategy: where the step runs: 'default', 'mirrored', 'multi_worker',
      'tpu' (see distribute.py), or a `tf.distribute.Strategy` (the CLI
      makes it from the next two and passes it). The batch size schedule
      gives the global batch, split over the replicas.
    cpu_replicas: with 'mirrored', mirror over this many logical CPU devices
      (testing multi-replica training without GPUs).
    tpu: with 'tpu', the TPU's name or address ('' = local).
    precision: 'fp32' (Magenta's numbers), 'bf16' or 'fp16' (networks in
      16 bits, weights / Adam / losses float32; fp16 with dynamic loss
      scaling): see precision.py. Checkpoints do not depend on it.
    seed: seeds Python, numpy and TensorFlow (keras.utils.set_random_seed)
      before anything is built, so a run repeats its initial weights, data
      order, latents and labels (to compare precisions or changes on the
      same draws); None: unseeded, as Magenta. Seeded or not, a resumed
      run continues exactly (the checkpoint holds the random state and the
      data position).
    deterministic: make a seeded run repeat bit for bit (`use_determinism`):
      TensorFlow's op determinism, and on CPU one intra-op thread (oneDNN's
      multi-threaded convolution gradients vary in the last bit from run to
      run, which a GAN amplifies). Costs speed: tools/bench_determinism.py.
    subpixel_upscale: the generator's upscale + first conv of each block in
      sub-pixel form (about 7% fewer FLOPs per full-size step, estimated
      from the 9.8 GFLOP per note it saves a forward pass; the same function
      up to rounding, but a step then no longer reproduces Magenta's update
      to float32 precision, so off by default).
    hparams: the run's `hparams.HParams`; None: the bound gin config's
      `hparams.*` (`hparams.from_gin()`). Not a gin binding.

  Returns:
    The last checkpoint path (None on workers other than the chief).
  """
  precision_lib.check(precision, 'train.precision')
  if deterministic:
    use_determinism()
  if seed is not None:
    keras.utils.set_random_seed(int(seed))
  if isinstance(strategy, str):
    # First: devices and the cluster must be set up before TF runs anything.
    strategy = distribute.make_strategy(strategy, cpu_replicas, tpu)
  # After the strategy: it asks TF for the machine's devices.
  precision_lib.warn_if_emulated(precision)
  chief = distribute.is_chief(strategy)
  hp = hparams_lib.from_gin() if hparams is None else hparams
  options = RunOptions(
      save_checkpoint_secs=save_checkpoint_secs, max_to_keep=max_to_keep,
      log_every_secs=log_every_secs, media_summaries=media_summaries,
      jit_compile=jit_compile, stop_after_images=stop_after_images,
      ema_decay=ema_decay, precision=precision,
      subpixel_upscale=subpixel_upscale,
      seed=None if seed is None else int(seed))
  run = run_dir.Run(train_dir)
  if getattr(dataset, 'audio_length', hp.audio_length) != hp.audio_length:
    raise ValueError(
        f'The dataset gives {dataset.audio_length}-sample notes but '
        f'hparams.audio_length is {hp.audio_length}; set both alike.')
  # Read one note before anything is written, so missing or empty data fails
  # without leaving a half-started train_dir behind.
  check_dataset_readable(dataset)
  # One trainer per run folder: the chief holds the OS lock from here (before
  # anything is written) to the end; a second trainer stops at once.
  with run.lock() if chief else contextlib.nullcontext(), \
      StopSignals() as signals:
    options = dataclasses.replace(options, signals=signals)
    hp = hp.replace(train_root_dir=os.path.abspath(train_dir),
                    **experiment_fields(dataset))
    workers = distribute.num_workers(strategy)
    if workers > 1 and hp.train_time_limit is not None:
      raise ValueError(
          'hparams.train_time_limit (a schedule by wall time) would differ '
          f'between the {workers} workers; use image counts with '
          'multi_worker.')
    change = run.data_change(hp)
    if change and chief:
      print(change, flush=True)
    run.write_experiment(hp, write=chief)
    training_schedule = schedule.TrainingSchedule.from_hparams(hp)
    if chief:
      init_normalizer(hp, run, dataset)
    try:
      # The others read the chief's normalizer and checkpoints from here on.
      distribute.barrier(strategy)
      started = run.stage_ids()
      stage_ids = training_schedule.stages_to_train(started)
      total_images = training_schedule.num_images(stage_ids[-1], started)
      line = summaries_lib.ProgressLine(log_every_secs, total_images,
                                        strategy.num_replicas_in_sync)
      return _train_stages(run, hp, training_schedule, stage_ids, dataset,
                           strategy, line, options)
    except tf.errors.OpError as e:
      if not _peer_failure(e, strategy):
        raise
      raise _cluster_error(e, workers, run) from None


def _train_stages(run, hp, training_schedule, stage_ids, dataset, strategy,
                  line, options):
  """The stages of this run, in order; returns the last checkpoint path."""
  precision = options.precision
  stop_after_images = options.stop_after_images
  chief = distribute.is_chief(strategy)
  workers = distribute.num_workers(strategy)
  who = distribute.worker_name(strategy)
  last_path = None
  for stage_id in stage_ids:
    trainer = trainer_lib.StageTrainer(
        stage_id, hp, training_schedule, run.path, dataset, strategy,
        jit_compile=options.jit_compile, max_to_keep=options.max_to_keep,
        ema_decay=options.ema_decay, precision=precision,
        subpixel_upscale=options.subpixel_upscale, seed=options.seed)
    origin = trainer.restore()
    print(f'{who + ": " if who else ""}Stage {stage_id}: '
          f'{trainer.num_blocks} blocks, batch {trainer.batch_size} '
          f'({distribute.replicas_in_sync(strategy.num_replicas_in_sync)}'
          f'{", %d workers" % workers if workers > 1 else ""}'
          f'{", " + precision if precision != "fp32" else ""}), image_id '
          f'{int(trainer.image_id.numpy())} -> {trainer.num_images}; '
          f'{origin}', flush=True)
    if trainer.done():
      last_path = trainer.checkpoint.latest
    else:
      if trainer.checkpoint.latest is None and chief:
        last_path = trainer.save()
      last_path = _train_stage(trainer, line, options) or last_path
      # The next stage starts from this stage's last checkpoint, which the
      # chief has just written.
      distribute.barrier(strategy)
    if (stop_after_images is not None and
        int(trainer.image_id.numpy()) >= stop_after_images):
      break
  return last_path if chief else None


def _peer_failure(error, strategy):
  """Whether `error` says another worker of a cluster stopped: reading a
  multi-worker batch runs collectives, so a dead peer can surface there."""
  if distribute.num_workers(strategy) == 1:
    return False
  return (isinstance(error, distribute.PEER_ERRORS) or
          'unhealthy' in error.message or 'Collective ops is aborted' in
          error.message)


def _cluster_error(error, workers, run):
  """What a worker says when another worker of the cluster stopped."""
  lines = [l.strip() for l in error.message.splitlines() if l.strip()]
  useful = [l for l in lines if 'unhealthy' in l or 'aborted' in l.lower()]
  reason = (useful or lines or ['no detail'])[0][:300]
  stages = run.stages_with_checkpoints()
  latest = run.latest_checkpoint(stages[-1]) if stages else None
  return distribute.ClusterError(
      f'a worker of the {workers}-worker cluster stopped responding '
      f'({type(error).__name__}: {reason}). Restart every worker with the '
      f'same command: training resumes from the chief\'s last checkpoint '
      f'({latest or "none yet"}).')


def _train_stage(trainer, line, options):
  """The step loop of one stage; returns the last checkpoint path."""
  save_checkpoint_secs = options.save_checkpoint_secs
  media_summaries = options.media_summaries
  stop_after_images = options.stop_after_images
  # Only the chief writes summaries, the progress line and the config.
  chief = trainer.is_chief
  summaries = (summaries_lib.Summaries(trainer,
                                       trainer.hp.save_summaries_num_images)
               if chief else None)
  if chief:
    summaries.due(int(trainer.image_id.numpy()))
  batches = trainer.real_batches()
  last_save = time.time()
  path = None
  step_in_run = 0
  wrote_config = False
  values = None
  real_data = None
  while not trainer.done():
    try:
      real_data, real_one_hot = next(batches)
    except tf.errors.OpError as e:
      if _peer_failure(e, trainer.strategy):
        raise  # another worker stopped: _train says so (_cluster_error)
      # Only the first note is checked before training; later damage (a
      # corrupt record, another sample rate) surfaces here.
      raise TrainingDataError(
          f'training data cannot be read at image_id '
          f'{int(trainer.image_id.numpy())}: {reading_error_line(e)}. '
          f'The last checkpoint stays the latest: '
          f'{trainer.checkpoint.latest or "none"}') from None
    values, duration, save = trainer.run_step(
        real_data, real_one_hot,
        save_request=time.time() - last_save >= save_checkpoint_secs,
        stop_request=bool(options.signals and options.signals.received))
    _check_finite(values, trainer, step_in_run)
    trainer.trained_on(batches)
    step_in_run += 1
    image_id = int(trainer.image_id.numpy())
    if chief:
      if not wrote_config:
        # The operative config lists what the run actually used, so it is
        # complete only after the first step.
        trainer.run.write_operative_config(gin.operative_config_str())
        wrote_config = True
      if summaries.due(image_id):
        summaries.write_scalars(values, trainer.batch_size / duration)
        if media_summaries:
          summaries.write_media(_first_replica(trainer, real_data))
      if step_in_run == 1:
        line.restart_clock(trainer)
      else:
        line.maybe_print(trainer, values)
    stop = stop_after_images is not None and image_id >= stop_after_images
    if save or stop or trainer.done():
      # Every worker agrees on `save` (the chief's clock decides); the last
      # step of a stage always saves.
      path = trainer.save()
      last_save = time.time()
    if trainer.stop_requested:  # a signal reached some worker: all stop
      name = (options.signals.received if options.signals and
              options.signals.received else 'a signal to another worker')
      raise TrainingStopped(name, trainer.stage_id, image_id, path)
    if stop:
      return path
  if values is not None and chief:
    line.maybe_print(trainer, values, force=True)
    summaries.write_scalars(values, trainer.batch_size / max(duration, 1e-9))
    if media_summaries:
      summaries.write_media(_first_replica(trainer, real_data))
  return path


def _first_replica(trainer, value):
  """This worker's first replica's part of a distributed value."""
  return trainer.strategy.experimental_local_results(value)[0]


FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The command-line flags; defined only by the CLI so that importing this
  module beside another absl program does not clash. `flag_values`: where
  (tests parse into their own `flags.FlagValues`)."""
  flags.DEFINE_multi_string('gin_file', [], 'gin config files, applied in '
                            'order (later ones override earlier ones).',
                            flag_values=flag_values)
  flags.DEFINE_multi_string('gin_param', [], 'gin bindings applied after the '
                            "files, e.g. --gin_param='hparams.fmap_max=16'.",
                            flag_values=flag_values)
  flags.DEFINE_string('train_dir', None, 'Training directory (created if '
                      'missing); rerun the same command to resume.',
                      flag_values=flag_values)
  flags.DEFINE_enum('strategy', None, list(distribute.STRATEGIES),
                    'Where the step runs (gin: train.strategy; default: '
                    'default, one device): mirrored = every GPU here, '
                    'multi_worker = the cluster in $TF_CONFIG, tpu.',
                    flag_values=flag_values)
  flags.DEFINE_integer('cpu_replicas', None, 'Testing aid: with '
                       '--strategy=mirrored, split the CPU into this many '
                       'logical devices (gin: train.cpu_replicas).',
                       flag_values=flag_values)
  flags.DEFINE_string('tpu', None, "With --strategy=tpu, the TPU's name or "
                      "grpc:// address (gin: train.tpu; '' = local).",
                      flag_values=flag_values)
  flags.DEFINE_enum('precision', None, list(precision_lib.PRECISIONS),
                    'Compute type of the networks (gin: train.precision; '
                    "default fp32, Magenta's numbers): bf16, or fp16 with "
                    'loss scaling; faster where the hardware has 16-bit '
                    'units.',
                    flag_values=flag_values)


def _distribution_settings(flag_values=FLAGS):
  """train()'s strategy, cpu_replicas, tpu and precision from flags and gin.

  A flag and a gin binding of the same setting must agree: one of them
  would otherwise be silently ignored.
  """
  settings = {}
  for name, default in (('strategy', 'default'), ('cpu_replicas', None),
                        ('tpu', ''), ('precision', 'fp32')):
    flag = getattr(flag_values, name)
    try:
      bound = gin.query_parameter(f'train.{name}')
    except ValueError:
      bound = flag if flag is not None else default
    if flag is not None and flag != bound:
      raise ValueError(f'--{name}={flag} contradicts the gin binding '
                       f'train.{name} = {bound!r}; give one of them.')
    settings[name] = bound
  return settings


def main(argv, flag_values=FLAGS):
  """The CLI after flag parsing (`flag_values`: parsed flags, for tests)."""
  del argv
  # TF's own INFO lines (one per checkpoint shard) drown the progress line.
  tf.get_logger().setLevel('WARNING')
  if not flag_values.train_dir:
    raise app.UsageError('--train_dir is required')
  if not flag_values.gin_file:
    raise app.UsageError('--gin_file is required, e.g. '
                         '--gin_file=gin/quickstart.gin')
  try:
    gin_config.parse_gin(flag_values.gin_file, flag_values.gin_param)
    settings = _distribution_settings(flag_values)
    try:
      deterministic = gin.query_parameter('train.deterministic')
    except ValueError:
      deterministic = False
    if deterministic:
      use_determinism()  # before the strategy starts TensorFlow
    # Before gin makes the dataset: a cluster or split CPU must be set up
    # before TensorFlow runs anything.
    strategy = distribute.make_strategy(settings['strategy'],
                                        settings['cpu_replicas'],
                                        settings['tpu'])
    path = train(flag_values.train_dir, strategy=strategy,
                 precision=settings['precision'],
                 hparams=hparams_lib.from_gin())
  except TrainingStopped as e:
    print(f'Stopped by {e.signal_name} at stage {e.stage_id}, image '
          f'{e.image_id}' + (f': checkpoint {e.path}' if e.path else '') +
          '. To resume, run the same command again.', flush=True)
    signum = getattr(signal, str(e.signal_name), signal.SIGTERM)
    raise SystemExit(128 + int(signum)) from None
  except (NonFiniteLossError, run_dir.ConfigConflictError, ValueError,
          OSError, distribute.ClusterError, run_dir.RunLockedError) as e:
    # Bad input or a stopped run: one clear line, no traceback.
    print(f'ERROR: {gin_config.error_message(e)}', flush=True)
    raise SystemExit(1) from None
  if path:
    print(f'Done: {path}', flush=True)
  else:
    print('Done (this worker; the chief saved the checkpoints).', flush=True)


def console_entry_point():
  define_flags()
  app.run(main)


if __name__ == '__main__':
  console_entry_point()
