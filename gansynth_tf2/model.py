"""Generation from a checkpoint, ours or Magenta's: `load_model(path)`.

Counterpart of Magenta's `lib/model.py` generate path (`Model.load_from_path`,
`generate_z`, `generate_samples`, `generate_samples_from_z`) without its
training graph or dataset. Which kind of checkpoint a folder holds is told by
`_CHECKPOINTABLE_OBJECT_GRAPH`, a key only TF2 object-based checkpoints have.

Both kinds share the run folder layout (`run_dir.Run` reads it and picks the
checkpoint); the last stage is loaded, with the generator's
exponential-moving-average weights by default (what Magenta generates with).
"""

import numpy as np
import tensorflow as tf

from gansynth_tf2 import magenta_checkpoint
from gansynth_tf2 import networks
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2 import run_dir
from gansynth_tf2 import schedule
from gansynth_tf2 import specgrams

CheckpointError = run_dir.CheckpointError

# Magenta generates in batches of the last stage's training batch size.
DEFAULT_BATCH_SIZE = 8


class GANSynthModel:
  """A generator ready to make notes.

  Attributes:
    hparams: the run's `hparams.HParams` (its experiment.json).
    config: the experiment.json dict (`hparams.as_dict()`).
    generator: the Keras `networks.Generator` (EMA weights by default).
    data_helper: `specgrams.DataHelper` of the model's data_type.
    pitch_counts: {MIDI pitch: count} of the training data.
    pitches: sorted MIDI pitches; label i is pitches[i].
    min_pitch, max_pitch: the pitch range, inclusive.
    latent_size, sample_rate, audio_length: as in hparams.
    progress: the training progress the generator is run at.
    batch_size: notes per generator call (inputs are padded to it).
    source: 'magenta' or 'gansynth_tf2'.
    checkpoint_path: the checkpoint prefix loaded.
    model_dir: the folder it was loaded from (load_model sets it; where
      `generate_from_z(..., edits=)` finds directions.npz), or None.
    exact: True when the generator runs Magenta's own arithmetic (literal
      upscale then conv, TensorFlow's kernels, float32): bit for bit what
      Magenta's graph computes from the same weights on the same CPU.
    arithmetic: which arithmetic the generator uses, in words: 'exact'
      (as above), 'subpixel' (the default: `layers.upscale_conv2d` folds
      each 2x upscale into the conv that follows it; 3e-4 of the audio's
      peak from Magenta's on a full-size checkpoint), 'subpixel+xla'
      (`jit_compile` set), or 'literal' / 'literal+xla' (a generator built
      with `subpixel_upscale=False` without `exact`); `precision` says the
      compute type.
    discriminator: the discriminator, loaded from the checkpoint on first use.

  The generator and the inverse transform run as one `tf.function` traced
  once for `[batch_size, latent_size]`. `jit_compile`: False (the default)
  runs TensorFlow's kernels; 'generator' compiles the generator with XLA,
  which fuses each pixel norm and activation into one pass (1.7x faster
  generation on the 2-core dev CPU) and leaves the inverse transform to
  TensorFlow's kernels (XLA's CPU atan2 / sin / cos are slower); True
  compiles both. XLA's kernels round otherwise than oneDNN's (7.6e-5 of the
  audio's peak on the full-size model; the narrow tiny oracle amplifies it to
  ~1e-3), hence opt-in; the first call pays the compilation.

  `exact=True` needs a generator built with `subpixel_upscale=False`,
  `jit_compile=False` and precision 'fp32' (load_model builds it so).
  """

  def __init__(self, generator, hparams, pitch_counts, progress,
               batch_size=DEFAULT_BATCH_SIZE, source='gansynth_tf2',
               checkpoint_path=None, jit_compile=False,
               discriminator_loader=None, precision='fp32', exact=False,
               model_dir=None):
    self.precision = precision_lib.check(precision)
    precision_lib.check_exact(exact, jit_compile, precision)
    if exact and generator.subpixel_upscale:
      raise ValueError('exact=True needs a generator built with '
                       'subpixel_upscale=False (the literal upscale + conv)')
    self.exact = bool(exact)
    if exact:
      self.arithmetic = 'exact'
    else:
      self.arithmetic = ('subpixel' if generator.subpixel_upscale
                         else 'literal') + ('+xla' if jit_compile else '')
    self.generator = precision_lib.cast_network(generator, precision)
    self.hparams = hparams
    self.pitch_counts = dict(pitch_counts)
    self.pitches = sorted(self.pitch_counts)
    self.min_pitch, self.max_pitch = self.pitches[0], self.pitches[-1]
    self._label_of_pitch = {p: i for i, p in enumerate(self.pitches)}
    self.latent_size = int(hparams.latent_vector_size)
    self.sample_rate = int(hparams.sample_rate)
    self.audio_length = int(hparams.audio_length)
    self.progress = float(progress)
    self.batch_size = int(batch_size)
    self.source = source
    self.checkpoint_path = checkpoint_path
    self.model_dir = model_dir
    self._directions = None  # latents.Directions, loaded on the first edit
    self._discriminator_loader = discriminator_loader
    self._discriminator = None
    self.data_helper = specgrams.make_data_helper(
        hparams.data_type, self.audio_length, self.sample_rate,
        generator.image_shape)
    if tuple(self.data_helper.data_shape[:2]) != tuple(generator.image_shape):
      raise CheckpointError(
          f'{checkpoint_path}: the networks make {generator.image_shape} '
          f'images but data_type {hparams.data_type!r} needs '
          f'{self.data_helper.data_shape[:2]}')
    # One graph per model: fixed batch, generator + inverse transform.
    spec = [tf.TensorSpec([self.batch_size, self.latent_size], tf.float32),
            tf.TensorSpec([self.batch_size], tf.int32)]
    if jit_compile not in (True, False, 'generator'):
      raise ValueError("jit_compile must be True, False or 'generator', got "
                       f'{jit_compile!r}')
    self.jit_compile = jit_compile
    self._images_fn = tf.function(self.images_from_z, input_signature=spec,
                                  jit_compile=bool(jit_compile))
    if jit_compile == 'generator':
      self._waves_fn = tf.function(
          lambda z, labels: self._images_to_waves(self._images_fn(z, labels)),
          input_signature=spec)
    else:
      self._waves_fn = tf.function(self._waves_from_z, input_signature=spec,
                                   jit_compile=jit_compile)

  @property
  def config(self):
    """The experiment.json dict (Magenta's keys, defaults filled in)."""
    return self.hparams.as_dict()

  @property
  def discriminator(self):
    """The checkpoint's `networks.Discriminator`, loaded on first use.

    `discriminator(images, progress=model.progress)` -> (logits `[b, 1]`,
    classification_logits `[b, num_pitches]`).
    """
    if self._discriminator is None:
      if self._discriminator_loader is None:
        raise ValueError('this model was built without a discriminator')
      self._discriminator = self._discriminator_loader()
    return self._discriminator

  def images_from_z(self, z, labels):
    """Denormalized generator images; traceable.

    Args:
      z: `[b, latent_size]` float32.
      labels: `[b]` int, indices into `pitches` (pitch - min_pitch for a
        contiguous range).

    Returns:
      `[b, H, W, 2]` (e.g. `[b, 128, 1024, 2]` IF-Mel spectrograms).
    """
    one_hot = tf.one_hot(labels, len(self.pitches))
    return self.generator(z, one_hot, progress=self.progress)

  def _waves_from_z(self, z, labels):
    return self._images_to_waves(self.images_from_z(z, labels))

  def _images_to_waves(self, images):
    waves = self.data_helper.data_to_waves(images)
    return waves[:, :self.audio_length, 0]

  # Input checks.

  def label_table(self):
    """`[max_pitch - min_pitch + 1]` int32: label of MIDI pitch min_pitch + i.

    Label i is the i-th of `pitches`; a pitch in the range that the model
    does not have maps to -1. The graphs that serve the model (export.py)
    look labels up in it.
    """
    table = np.full(self.max_pitch - self.min_pitch + 1, -1, np.int32)
    table[np.array(self.pitches) - self.min_pitch] = np.arange(len(self.pitches))
    return table

  def labels_of(self, pitches):
    """MIDI pitches -> label indices; raises for pitches outside the model's."""
    pitches = np.asarray(pitches).reshape(-1)
    bad = sorted({int(p) for p in pitches if int(p) not in self._label_of_pitch})
    if pitches.size and not np.all(np.equal(np.mod(pitches, 1), 0)):
      raise ValueError(f'pitches must be integer MIDI numbers, got {pitches}')
    if bad:
      raise ValueError(
          f'pitches {bad} are outside the pitches this model was trained on '
          f'(MIDI {self.min_pitch}..{self.max_pitch})')
    return np.array([self._label_of_pitch[int(p)] for p in pitches], np.int32)

  def _check_z(self, z, pitches):
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or z.shape[1] != self.latent_size:
      raise ValueError(f'z must have shape [n, {self.latent_size}] '
                       f'(latent_vector_size), got {list(z.shape)}')
    if not np.all(np.isfinite(z)):
      raise ValueError('z contains NaN or Inf values')
    labels = self.labels_of(pitches)
    if len(labels) != len(z):
      raise ValueError(f'z has {len(z)} rows but {len(labels)} pitches were '
                       'given; pass one pitch per latent vector')
    return z, labels

  def _batched(self, fn, z, pitches, empty_shape):
    """Runs fn over fixed-size batches, zero-padding the last (as Magenta)."""
    z, labels = self._check_z(z, pitches)
    n = len(z)
    if n == 0:
      return np.zeros((0,) + tuple(empty_shape), np.float32)
    pad = -n % self.batch_size
    z = np.concatenate([z, np.zeros([pad, self.latent_size], np.float32)])
    labels = np.concatenate([labels, np.zeros([pad], np.int32)])
    outputs = [fn(z[i:i + self.batch_size], labels[i:i + self.batch_size])
               for i in range(0, n + pad, self.batch_size)]
    return np.concatenate([o.numpy() for o in outputs])[:n]

  # Magenta's generate API.

  def specgrams_from_z(self, z, pitches, edits=None):
    """`[n, H, W, 2]` denormalized images for latents `[n, latent]` and MIDI
    pitches `[n]`; `edits` as generate_from_z's."""
    if edits:
      z = self.edit_z(self._check_z(z, pitches)[0], edits)
    return self._batched(self._images_fn, z, pitches,
                         tuple(self.generator.image_shape) + (2,))

  def generate_from_z(self, z, pitches, max_audio_length=None, edits=None):
    """`[n, audio_length]` float32 audio for latents `[n, latent]` and MIDI pitches `[n]`.

    edits: {direction number (1 = PC1): amount in standard deviations,
      sensible within +-3} to move every latent along the model's latent
      directions (its folder's directions.npz, see latents.py) first;
      None or {} generates from `z` as given.
    """
    if edits:
      z = self.edit_z(self._check_z(z, pitches)[0], edits)
    waves = self._batched(self._waves_fn, z, pitches, (self.audio_length,))
    if max_audio_length is not None:
      waves = waves[:, :max_audio_length]
    return waves

  # Magenta's name.
  generate_samples_from_z = generate_from_z

  @property
  def directions(self):
    """The `latents.Directions` of this model (its folder's directions.npz,
    read on first use); ValueError saying how to fit them if there are none."""
    if self._directions is None:
      from gansynth_tf2 import latents  # pylint: disable=import-outside-toplevel
      self._directions = latents.model_directions(self)
    return self._directions

  def edit_z(self, z, edits):
    """`[n, latent]` latents moved along the model's directions: z + sum of
    amount * std * direction over `edits` {number (1-based): amount}."""
    from gansynth_tf2 import latents  # pylint: disable=import-outside-toplevel
    return latents.apply_edits(z, self.directions, edits)

  def invert(self, waves, pitches, **kwargs):
    """The latents whose notes best match recordings: `inversion.invert`.

    Args:
      waves: `[n, audio_length]` notes at `sample_rate` (a recording of
        another rate or length: `inversion.prepare_wave` first).
      pitches: `[n]` MIDI pitches of this model (`inversion.detect_pitch`
        finds one by pYIN).
      **kwargs: `inversion.invert`'s options (num_random, steps, seed, ...).

    Returns:
      An `inversion.Inversion`: `.z` `[n, latent_size]` (for
      `generate_from_z`), `.distance_db` and the best-of-random baseline's
      `.baseline_db` (log-mel L1, dB), `.reconstructions`.
    """
    from gansynth_tf2 import inversion  # pylint: disable=import-outside-toplevel
    return inversion.invert(self, waves, pitches, **kwargs)

  @staticmethod
  def _check_count(n, name='n'):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
      raise ValueError(f'{name} must be a positive integer number of notes, '
                       f'got {n!r}')

  def generate_z(self, n, seed=None):
    """`[n, latent_size]` float32 standard-normal latents (seeded if `seed`)."""
    self._check_count(n)
    rng = np.random.RandomState(seed)
    return rng.standard_normal([n, self.latent_size]).astype(np.float32)

  def sample_pitches(self, n, seed=None):
    """`[n]` MIDI pitches drawn from the training pitch distribution."""
    self._check_count(n)
    rng = np.random.RandomState(seed)
    counts = np.array([self.pitch_counts[p] for p in self.pitches], np.float64)
    return rng.choice(self.pitches, size=n, p=counts / counts.sum())

  def generate_samples(self, n_samples, pitch=None, max_audio_length=None,
                       seed=None):
    """`[n_samples, audio_length]` audio of random notes.

    Args:
      n_samples: number of notes.
      pitch: one MIDI pitch for all notes; None samples pitches from the
        training distribution, as Magenta does.
      max_audio_length: trim to this many samples (Magenta's argument order).
      seed: seeds pitches and latents.
    """
    self._check_count(n_samples, 'n_samples')
    if pitch is None:
      pitches = self.sample_pitches(n_samples, seed)
    else:
      pitches = [pitch] * n_samples
    z = self.generate_z(n_samples, seed)
    return self.generate_from_z(z, pitches, max_audio_length)


def _load_magenta(run, hparams, stage_id, prefix, reader, use_ema,
                  **kwargs):
  ckpt = magenta_checkpoint.MagentaCheckpoint(
      run.path, stage_id=stage_id, checkpoint=prefix, reader=reader,
      hparams=hparams)
  generator = ckpt.build_generator(
      use_ema=use_ema, subpixel_upscale=not kwargs.get('exact', False))
  return GANSynthModel(generator, ckpt.hparams,
                       ckpt.pitch_counts(), ckpt.progress, source='magenta',
                       model_dir=run.path,
                       checkpoint_path=ckpt.prefix,
                       discriminator_loader=ckpt.build_discriminator, **kwargs)


def _restore_ours(prefix, name, network):
  """Restores root attribute `name` of our checkpoint into `network`."""
  try:
    status = tf.train.Checkpoint(**{name: network}).read(prefix)
    # Matching goes by the object graph (a variable's key may sit under an
    # optimizer's path): this proves every weight of `network` was found.
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise CheckpointError(
        f'checkpoint {prefix} does not match the {name} built from its '
        f'experiment.json: {str(e).splitlines()[0]}') from e
  status.expect_partial()
  return network


def _load_ours(run, hparams, stage_id, prefix, reader, use_ema, **kwargs):
  pitch_counts = run_dir.pitch_counts(hparams)
  normalizer = run.normalizer(hparams)

  def build(name, **network_kwargs):
    try:
      network = networks.build_networks(
          hparams, stage_id, normalizer, len(pitch_counts), names=(name,),
          **network_kwargs)[name]
    except ValueError as e:  # a stage the schedule does not have
      raise CheckpointError(f'{prefix}: {e}') from e
    return _restore_ours(prefix, name, network)

  generator = build('ema_generator' if use_ema else 'generator',
                    subpixel_upscale=not kwargs.get('exact', False))
  progress = schedule.TrainingSchedule.from_hparams(hparams).progress(
      stage_id, run_dir.read_scalar(reader, 'image_id', 0),
      run_dir.read_scalar(reader, 'train_time', 0.0))
  return GANSynthModel(generator, hparams, pitch_counts, float(progress),
                       source='gansynth_tf2', checkpoint_path=prefix,
                       model_dir=run.path,
                       discriminator_loader=lambda: build('discriminator'),
                       **kwargs)


def load_model(path, use_ema=True, batch_size=DEFAULT_BATCH_SIZE,
               jit_compile=False, stage_id=None, precision='fp32',
               checkpoint=None, exact=False):
  """Loads the last stage of a checkpoint directory, ours or Magenta's.

  Args:
    path: the folder holding experiment.json and stage_000NN/ folders.
    use_ema: use the generator's moving-average weights (as Magenta does);
      False loads the raw training weights.
    batch_size: notes per generator call.
    jit_compile: False (default): no XLA; 'generator': the generator
      compiled with XLA, the inverse transform not (the fastest on CPUs
      without AVX-512); True: both (see GANSynthModel); 'auto': False or
      'generator', whichever is the faster kind on this machine, chosen from
      its features (`precision.auto_jit_compile`; printed).
    stage_id: load the latest checkpoint of this stage instead of the last
      stage's (e.g. to follow learning through the stages).
    precision: 'fp32' (Magenta's numbers), 'bf16' or 'fp16': the generator
      computes in that type (weights kept float32, inverse transform float32;
      see precision.py). Faster only where the hardware has 16-bit units.
    checkpoint: a checkpoint prefix inside one of `path`'s stage folders
      (e.g. `<path>/stage_00008/ckpt-30`, as listed by
      `run_dir.Run(path).checkpoints(stage_id)`) instead of the latest one, to
      follow learning within a stage; its stage is taken from the folder.
    exact: False (default): the fast sub-pixel generator, whose folded
      upscale + conv rounds otherwise than Magenta's graph (waves 3e-4 of
      the peak from Magenta's on a full-size checkpoint, see
      docs/generation.md); True: Magenta's arithmetic, the literal upscale
      then conv with TensorFlow's kernels, bit for bit what Magenta's graph
      computes from the same weights on the same CPU (slower: 28.4 instead
      of 18.6 GFLOP per full-size note).
      Refused with `jit_compile` or a 16-bit `precision`.

  Returns:
    A `GANSynthModel`.

  Raises:
    CheckpointError: not a checkpoint directory, bad experiment.json, a
      truncated checkpoint, or weights that do not fit the configuration.
  """
  if int(batch_size) < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}')
  run = run_dir.Run(path)
  hparams = run.hparams()
  stage_id, prefix = run.pick(stage_id, checkpoint)
  precision_lib.check(precision)
  precision_lib.check_exact(exact, jit_compile, precision)
  if jit_compile == 'auto':
    jit_compile, why = precision_lib.auto_jit_compile()
    print(f"jit_compile='auto': {jit_compile!r} ({why})", flush=True)
  precision_lib.warn_if_emulated(precision)
  reader = run_dir.open_reader(prefix)  # clear error if broken
  kwargs = dict(batch_size=batch_size, jit_compile=jit_compile,
                precision=precision, exact=exact)
  if not run_dir.is_ours(reader):
    return _load_magenta(run, hparams, stage_id, prefix, reader, use_ema,
                         **kwargs)
  return _load_ours(run, hparams, stage_id, prefix, reader, use_ema,
                    **kwargs)
