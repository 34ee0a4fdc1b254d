"""GANSynth's progressive generator and discriminator as Keras models.

Counterpart of Magenta's `gansynth/lib/networks.py` (`generator`,
`discriminator`, `num_filters`) together with `network_functions.py`
(`generator_fn_specgram`, `discriminator_fn_specgram`): the generator
concatenates latent and one-hot pitch and returns DENORMALIZED spectrogram
images; the discriminator normalizes (with clipping) its input itself and
returns the WGAN logits and the auxiliary pitch-classification logits.

A network is built for `num_blocks` blocks (1 .. num_resolutions); the next
training stage builds a bigger one and restores this one's weights, the new
block starting fresh (Magenta's `make_scaffold`). `progress` is a call
argument: a tensor lets one traced graph serve a whole stage; a Python number
lets the graph skip blocks whose weight is exactly 0 (same numbers, less work).

Layer names follow Magenta's variable scopes (`progressive_gan_block_<id>`,
`conv0`, `conv1`, `to_rgb`, `from_rgb`, `logits`, `classification_logits`),
which is what `magenta_checkpoint.py` maps Magenta's checkpoints by.
`build_networks` is the one place either network is constructed for
training and loading.

(Over 450 lines on purpose: the generator and discriminator mirror each
other block for block and share their base class; they are read together.)
"""

import math

import keras
import tensorflow as tf

from gansynth_tf2 import hparams as hparams_lib
from gansynth_tf2 import layers
from gansynth_tf2 import normalizers
from gansynth_tf2 import precision as precision_lib
from gansynth_tf2 import schedule

# Keys of Magenta's experiment.json that shape both networks.
SHARED_HPARAMS = ('fmap_base', 'fmap_decay', 'fmap_max', 'kernel_size',
                  'start_height', 'start_width', 'scale_mode', 'scale_base',
                  'num_resolutions', 'simple_arch')

TO_RGB_ACTIVATIONS = {'tanh': tf.tanh, 'linear': None}


def num_filters(block_id, fmap_base=4096, fmap_decay=1.0, fmap_max=256):
  """Channels of block `block_id`: `int(min(fmap_base / 2**(block_id * fmap_decay), fmap_max))`."""
  return int(min(fmap_base / math.pow(2.0, block_id * fmap_decay), fmap_max))


def block_name(block_id):
  """Magenta's scope name of block `block_id`."""
  return f'progressive_gan_block_{block_id}'


# Registered so that an EqualizedConv2D's config names its activation and
# from_config rebuilds the same layer.
@keras.saving.register_keras_serializable(package='gansynth_tf2')
def _leaky_relu(x):
  if x.dtype in layers.HALF_DTYPES:
    return _leaky_relu_grad_by_output(x)
  return tf.nn.leaky_relu(x, alpha=0.2)


@tf.custom_gradient
def _leaky_relu_grad_by_output(x):
  """Leaky ReLU whose gradient reads its output, not its input (the same
  numbers: with alpha > 0 both have the same sign). So in a 16-bit training
  step the pre-activation has no second consumer and Grappler fuses
  conv -> BiasAdd -> LeakyRelu into one oneDNN conv there too (measured,
  full-size bf16 step on the AMX Xeon: 11.1 -> 10.0 s). Differentiable
  again (LeakyReluGrad has a gradient) for the gradient penalty."""
  y = tf.nn.leaky_relu(x, alpha=0.2)

  def grad(dy):
    # The features only pick the slope (their own gradient is zero): stopped,
    # so a second-order tape (the gradient penalty's) does not differentiate
    # back through the forward LeakyRelu to its input, which would give the
    # pre-activation a second consumer again (and Grappler's remapper fails
    # on that graph).
    return layers.xla_call(_leaky_relu_grad_16bit, dy, tf.stop_gradient(y))
  return y, grad


def _leaky_relu_grad_16bit(dy, y):
  # XLA, not TF's LeakyReluGrad: its 16-bit kernel was 20% of a full-size
  # bf16 training step's kernel time on the AMX Xeon; this fusion takes
  # 0.35-0.7 of its time on the step's shapes.
  return tf.where(y > 0, dy, dy * tf.constant(0.2, dy.dtype))


@keras.saving.register_keras_serializable(package='gansynth_tf2')
def _leaky_relu_pixel_norm(x):
  return layers.pixel_norm(_leaky_relu(x))


# EqualizedConv2D's 16-bit sub-pixel path applies the leaky ReLU per phase
# (fused into each phase's conv) and the pixel norm with the interleave.
_leaky_relu_pixel_norm.pixel_norm_of = _leaky_relu


def _he_init():
  # Magenta's simple_arch uses tf_slim's variance_scaling_initializer
  # (factor 2, fan-in, truncated normal).
  return keras.initializers.VarianceScaling(2.0, 'fan_in', 'truncated_normal')


def _is_static(progress):
  """A Python number (known when tracing), not a tensor."""
  return isinstance(progress, (int, float))


class _ProgressiveNetwork(keras.Model):
  """Hyperparameters and resolution arithmetic shared by G and D."""

  def __init__(self, num_blocks=None, fmap_base=4096, fmap_decay=1.0,
               fmap_max=256, kernel_size=3, start_height=2, start_width=16,
               scale_mode='ALL', scale_base=2, num_resolutions=7,
               simple_arch=False, normalizer=None, **kwargs):
    super().__init__(**kwargs)
    if num_blocks is None:
      num_blocks = num_resolutions
    if not 1 <= num_blocks <= num_resolutions:
      raise ValueError(f'num_blocks must be in [1, {num_resolutions}] '
                       f'(num_resolutions), got {num_blocks}')
    self.num_blocks = int(num_blocks)
    self.fmap_base = fmap_base
    self.fmap_decay = fmap_decay
    self.fmap_max = fmap_max
    self.kernel_size = kernel_size
    self.simple_arch = bool(simple_arch)
    self.resolution_schedule = schedule.ResolutionSchedule(
        scale_mode, (start_height, start_width), scale_base, num_resolutions)
    # Keras would cast every float argument to a mixed policy's 16-bit type,
    # `progress` too (bf16 rounds 2.37 to 2.375): call() casts what it
    # feeds the layers itself (numpy inputs included).
    self._convert_input_args = False
    self._allow_non_tensor_positional_args = True
    # Spectrogram <-> [-1, 1]; default: the paper's prespecified constants.
    self.normalizer = (normalizer if normalizer is not None else
                       normalizers.PrespecifiedNormalizer())

  def _add_block(self, block_id, block):
    # One attribute per block: Keras' list wrapper is not a TF trackable, so
    # blocks kept only in a list would be left out of tf.train.Checkpoint.
    setattr(self, block_name(block_id), block)

  @property
  def blocks(self):
    """The blocks 1..num_blocks, in order."""
    return [getattr(self, block_name(i))
            for i in range(1, self.num_blocks + 1)]

  def num_filters(self, block_id):
    return num_filters(block_id, self.fmap_base, self.fmap_decay,
                       self.fmap_max)

  @property
  def image_shape(self):
    """(height, width) of the images at the final resolution."""
    return self.resolution_schedule.final_resolutions

  def _upscale(self, x, scale):
    return self.resolution_schedule.upscale(x, scale)

  def _downscale(self, x, scale):
    return self.resolution_schedule.downscale(x, scale)

  def with_dtype(self, dtype):
    """The same network (a new object, same weights) computing in `dtype`.

    dtype: a Keras dtype policy or its name, e.g. 'mixed_bfloat16'
      (variables stay float32; see precision.py).
    """
    clone = type(self)(**dict(self._init_args, dtype=dtype))
    clone.set_weights(self.get_weights())
    return clone

  @classmethod
  def from_hparams(cls, hp, num_blocks=None, normalizer=None, **kwargs):
    """Builds from an `hparams.HParams` (the fields in `HPARAMS`); loaders
    and training go through `build_networks`, which sets the rest."""
    return cls(num_blocks=num_blocks, normalizer=normalizer,
               **hparams_lib.pick(hp, cls.HPARAMS), **kwargs)


class _GeneratorBlock(keras.layers.Layer):
  """Block `block_id` of the generator: features in, features and to_rgb out."""

  def __init__(self, block_id, filters, kernel_size, start_hw, colors,
               to_rgb_activation, simple_arch, strides, subpixel_upscale=True,
               **kwargs):
    super().__init__(name=block_name(block_id), **kwargs)
    policy = self.dtype_policy  # sub-layers compute in the network's dtype
    self.block_id = block_id
    self.simple_arch = simple_arch
    self.strides = tuple(strides)  # the upscale factor (h, w) into this block
    self.subpixel_upscale = subpixel_upscale
    self.start_hw = start_hw
    self.filters = filters
    if simple_arch:
      if block_id == 1:
        self.dense = keras.layers.Dense(start_hw[0] * start_hw[1] * filters,
                                        kernel_initializer=_he_init(),
                                        name='dense', dtype=policy)
      else:
        self.conv2d_transpose = keras.layers.Conv2DTranspose(
            filters, kernel_size, strides=strides, padding='same',
            kernel_initializer=_he_init(), name='conv2d_transpose',
            dtype=policy)
      self.to_rgb = keras.layers.Conv2D(colors, 1, padding='same',
                                        kernel_initializer=_he_init(),
                                        activation=to_rgb_activation,
                                        name='to_rgb', dtype=policy)
    else:
      first_kernel = start_hw if block_id == 1 else kernel_size
      self.conv0 = layers.EqualizedConv2D(
          filters, first_kernel, padding='VALID' if block_id == 1 else 'SAME',
          activation=_leaky_relu_pixel_norm, he_initializer_slope=0.0,
          name='conv0', dtype=policy)
      self.conv1 = layers.EqualizedConv2D(
          filters, kernel_size, activation=_leaky_relu_pixel_norm,
          he_initializer_slope=0.0, name='conv1', dtype=policy)
      self.to_rgb = layers.EqualizedConv2D(colors, 1,
                                           activation=to_rgb_activation,
                                           name='to_rgb', dtype=policy)

  def build(self, input_shape):
    """input_shape: `[b, latent + tokens]` for block 1, else `[b, h, w, c]`."""
    h, w = self.start_hw
    if self.simple_arch:
      if self.block_id == 1:
        self.dense.build(input_shape)
      else:
        self.conv2d_transpose.build(input_shape)
    else:
      if self.block_id == 1:
        # The 1x1 latent is zero-padded to (2h - 1) x (2w - 1) first.
        self.conv0.build((None, 2 * h - 1, 2 * w - 1, input_shape[-1]))
      else:
        self.conv0.build(input_shape)
      self.conv1.build((None, None, None, self.filters))
    self.to_rgb.build((None, None, None, self.filters))

  def call(self, x, upscale_fn=None, pixel_norm=True):
    """Features in, this block's features out.

    pixel_norm=False (the progressive architecture only): the last conv's
    output without its pixel norm (`to_rgb_of_features` applies it).
    """
    h, w = self.start_hw
    if self.simple_arch:
      if self.block_id == 1:
        x = tf.nn.relu(self.dense(x))
        return tf.reshape(x, [tf.shape(x)[0], h, w, self.filters])
      return tf.nn.relu(self.conv2d_transpose(x))
    if self.block_id == 1:
      x = layers.pixel_norm(x[:, tf.newaxis, tf.newaxis, :])
      x = tf.pad(x, [[0, 0], [h - 1, h - 1], [w - 1, w - 1], [0, 0]])
    elif self.subpixel_upscale and self.conv0.can_upscale:
      # conv0(upscale(x)) without making the upscaled map (the same
      # function; the folded kernel taps round otherwise, ~1e-6 relative).
      return self.conv1(self.conv0(x, upscale=self.strides),
                        pixel_norm=pixel_norm)
    else:
      x = upscale_fn(x)
    return self.conv1(self.conv0(x), pixel_norm=pixel_norm)

  def to_rgb_of_features(self, x, pixel_norm=True):
    """to_rgb of `call`'s output; pixel_norm=False: of its output without
    the pixel norm, applied here as a per-pixel scale of the 1x1 conv's
    output (the same function: the norm's scale commutes with a per-pixel
    linear map), so the full-size normalized map is never written."""
    if pixel_norm:
      return self.to_rgb(x)
    return self.to_rgb(x, normalize_input=True)


class Generator(_ProgressiveNetwork):
  """Progressive GAN generator (Magenta's `generator_fn_specgram`).

  `generator(z [b, latent_vector_size], one_hot_labels [b, num_tokens],
  progress=None)` -> images `[b, H, W, 2]` in data space (denormalized), H x W the
  final resolution whatever `num_blocks` (smaller blocks are upscaled).

  `subpixel_upscale` (default True) computes each block's upscale + first
  3x3 conv in sub-pixel form (`layers.upscale_conv2d`): Magenta's numbers up
  to ~1e-6 relative rounding, with 4/9 of that conv's arithmetic; False runs
  Magenta's literal upscale-then-conv.
  """

  HPARAMS = SHARED_HPARAMS + ('latent_vector_size', 'to_rgb_activation')

  def __init__(self, num_blocks=None, latent_vector_size=256, num_tokens=61,
               to_rgb_activation='tanh', colors=2, subpixel_upscale=True,
               **kwargs):
    kwargs.setdefault('name', 'generator')
    init_args = dict(num_blocks=num_blocks,
                     latent_vector_size=latent_vector_size,
                     num_tokens=num_tokens,
                     to_rgb_activation=to_rgb_activation, colors=colors,
                     subpixel_upscale=subpixel_upscale, **kwargs)
    super().__init__(num_blocks=num_blocks, **kwargs)
    self._init_args = init_args
    policy = self.dtype_policy
    if to_rgb_activation not in TO_RGB_ACTIVATIONS:
      raise ValueError(f'to_rgb_activation must be one of '
                       f'{sorted(TO_RGB_ACTIVATIONS)}, got {to_rgb_activation!r}')
    self.latent_vector_size = latent_vector_size
    self.num_tokens = num_tokens
    self.colors = colors
    self.to_rgb_activation = to_rgb_activation
    rs = self.resolution_schedule
    for block_id in range(1, self.num_blocks + 1):
      self._add_block(block_id, _GeneratorBlock(
          block_id, self.num_filters(block_id), self.kernel_size,
          rs.start_resolutions, colors, TO_RGB_ACTIVATIONS[to_rgb_activation],
          self.simple_arch, rs.strides, subpixel_upscale=subpixel_upscale,
          dtype=policy))
    self.subpixel_upscale = subpixel_upscale
    self.build()

  def build(self, input_shape=None):
    del input_shape  # All shapes follow from the hyperparameters.
    shape = (None, self.latent_vector_size + self.num_tokens)
    for block_id, block in enumerate(self.blocks, start=1):
      block.build(shape)
      h, w = self.resolution_schedule.resolution(block_id)
      shape = (None, h, w, self.num_filters(block_id))

  def features(self, z, one_hot_labels, num_blocks=None,
               defer_last_norm=False):
    """Each block's output, `[b, h, w, c]` per block, for the first
    `num_blocks` blocks (None: all); `z` `[b, latent_vector_size]`,
    `one_hot_labels` `[b, num_tokens]`. defer_last_norm: the last one
    without its pixel norm (`to_rgb_of_features(pixel_norm=False)` applies
    it)."""
    dtype = self.compute_dtype  # float32, or 16-bit (precision.py)
    x = tf.concat([tf.cast(z, dtype), tf.cast(one_hot_labels, dtype)], axis=1)
    base = self.resolution_schedule.scale_base
    blocks = self.blocks[:num_blocks]
    features = []
    for block in blocks:
      defer = defer_last_norm and block is blocks[-1]
      x = block(x, upscale_fn=lambda t: self._upscale(t, base),
                **({'pixel_norm': False} if defer else {}))
      features.append(x)
    return features

  def call(self, z, one_hot_labels, progress=None, denormalize=True):
    """Images from latents and pitches.

    Args:
      z: `[b, latent_vector_size]`.
      one_hot_labels: `[b, num_tokens]`.
      progress: float scalar tensor; or a Python number, given by keyword
        (Keras takes only tensors positionally), to skip zero-weight blocks;
        None: `num_blocks - 1`, the stage's final progress (generation).
      denormalize: False returns the network's `[-1, 1]` output (Magenta's
        `end_points['predictions']`).

    Returns:
      `[b, H, W, colors]`.
    """
    if progress is None:
      progress = self.num_blocks - 1.0
    static = _is_static(progress)
    # 16 bits: the last block's features feed only its to_rgb, which applies
    # their pixel norm (one pass over the largest map less; measured on the
    # AMX Xeon, bf16 full size: ~10 ms of ~200 per batch of 8).
    defer_norm = (tf.as_dtype(self.compute_dtype) in layers.HALF_DTYPES
                  and not self.simple_arch)
    features = self.features(z, one_hot_labels, defer_last_norm=defer_norm)
    outputs = []
    for block_id, (block, lod) in enumerate(zip(self.blocks, features),
                                            start=1):
      alpha = schedule.generator_alpha(block_id, progress)
      if static and alpha == 0.0:
        continue  # adds exact zeros in Magenta's sum
      rgb = block.to_rgb_of_features(
          lod, pixel_norm=not (defer_norm and block_id == self.num_blocks))
      if not (static and alpha == 1.0):  # x * 1.0 is x: skipped
        rgb = rgb * tf.cast(alpha, rgb.dtype)
      # Nearest-neighbour copies are exact, so scaling before upscaling gives
      # Magenta's numbers with less work.
      outputs.append(self._upscale(
          rgb, self.resolution_schedule.scale_factor(block_id)))
    images = outputs[0] if len(outputs) == 1 else tf.add_n(outputs)
    finish = self.normalizer.denormalize if denormalize else None
    if images.dtype != tf.float32:
      # Cast and denormalize in one XLA pass (TF's 16-bit cast and its
      # broadcast ops over 2 channels took ~4% of the bf16 generator).
      return layers.xla_call(_float32_then, images, static=(finish,))
    return images if finish is None else finish(images)


def _float32_then(fn, images):
  images = tf.cast(images, tf.float32)
  return images if fn is None else fn(images)


class _DiscriminatorBlock(keras.layers.Layer):
  """Block `block_id` of the discriminator (from_rgb + its convs)."""

  def __init__(self, block_id, filters, filters_below, kernel_size, start_hw,
               simple_arch, strides, stddev_group_size=None, **kwargs):
    super().__init__(name=block_name(block_id), **kwargs)
    policy = self.dtype_policy  # sub-layers compute in the network's dtype
    self.block_id = block_id
    self.stddev_group_size = stddev_group_size
    self.simple_arch = simple_arch
    self.filters = filters
    self.filters_below = filters_below
    if simple_arch:
      self.from_rgb = keras.layers.Conv2D(filters, 1, padding='same',
                                          activation='relu',
                                          kernel_initializer=_he_init(),
                                          name='from_rgb', dtype=policy)
      if block_id == 1:
        self.last_conv = keras.layers.Dense(filters_below,
                                            kernel_initializer=_he_init(),
                                            name='last_conv', dtype=policy)
        self.logits = keras.layers.Dense(1, kernel_initializer=_he_init(),
                                         name='logits', dtype=policy)
      else:
        self.conv = keras.layers.Conv2D(filters_below, kernel_size,
                                        strides=strides, padding='same',
                                        activation='relu',
                                        kernel_initializer=_he_init(),
                                        name='conv', dtype=policy)
    else:
      self.from_rgb = layers.EqualizedConv2D(
          filters, 1, activation=_leaky_relu, he_initializer_slope=0.0,
          name='from_rgb', dtype=policy)
      self.conv0 = layers.EqualizedConv2D(
          filters, kernel_size, activation=_leaky_relu,
          he_initializer_slope=0.0, name='conv0', dtype=policy)
      # Block 1's conv1 is the VALID "last conv" over the start resolution.
      self.conv1 = layers.EqualizedConv2D(
          filters_below, start_hw if block_id == 1 else kernel_size,
          padding='VALID' if block_id == 1 else 'SAME',
          activation=_leaky_relu, he_initializer_slope=0.0, name='conv1',
          dtype=policy)
      if block_id == 1:
        self.logits = layers.EqualizedDense(1, name='logits', dtype=policy)

  def build(self, input_shape):
    """input_shape: `[b, h, w, colors]` of the block's resolution."""
    h, w = input_shape[1:3]
    self.from_rgb.build(input_shape)
    feats = (None, h, w, self.filters)
    if self.simple_arch:
      if self.block_id == 1:
        self.last_conv.build((None, h * w * (self.filters + 1)))
        self.logits.build((None, self.filters_below))
      else:
        self.conv.build(feats)
      return
    if self.block_id == 1:
      self.conv0.build((None, h, w, self.filters + 1))
      self.conv1.build(feats)
      self.logits.build((None, 1, 1, self.filters_below))
    else:
      self.conv0.build(feats)
      self.conv1.build(feats)

  def call(self, x, downscale_fn=None):
    """Features of this block's resolution -> features one block down (or last conv)."""
    if self.simple_arch:
      if self.block_id == 1:
        x = layers.scalar_concat(x, layers.minibatch_mean_stddev(
            x, self.stddev_group_size))
        x = self.last_conv(tf.reshape(x, [tf.shape(x)[0], -1]))
        return tf.nn.relu(x)[:, tf.newaxis, tf.newaxis, :]
      return self.conv(x)
    if self.block_id == 1:
      x = layers.scalar_concat(x, layers.minibatch_mean_stddev(
          x, self.stddev_group_size))
      return self.conv1(self.conv0(x))
    return downscale_fn(self.conv1(self.conv0(x)))


class Discriminator(_ProgressiveNetwork):
  """Progressive GAN discriminator (Magenta's `discriminator_fn_specgram`).

  `discriminator(images [b, H, W, colors] in data space, progress=None)` ->
  `(logits [b, 1], classification_logits [b, num_tokens])`. The images are
  normalized and clipped to [-1, 1] inside. The minibatch-stddev feature mixes
  the batch, so each output depends on the whole batch; `stddev_group_size`
  (not Magenta's: None = the whole batch) limits that to consecutive groups,
  which is what a batch split over replicas computes.
  """

  HPARAMS = SHARED_HPARAMS

  def __init__(self, num_blocks=None, num_tokens=61, colors=2,
               stddev_group_size=None, **kwargs):
    kwargs.setdefault('name', 'discriminator')
    init_args = dict(num_blocks=num_blocks, num_tokens=num_tokens,
                     colors=colors, stddev_group_size=stddev_group_size,
                     **kwargs)
    super().__init__(num_blocks=num_blocks, **kwargs)
    self._init_args = init_args
    policy = self.dtype_policy
    self.num_tokens = num_tokens
    self.colors = colors
    rs = self.resolution_schedule
    for block_id in range(1, self.num_blocks + 1):
      self._add_block(block_id, _DiscriminatorBlock(
          block_id, self.num_filters(block_id), self.num_filters(block_id - 1),
          self.kernel_size, rs.start_resolutions, self.simple_arch,
          rs.strides, stddev_group_size, dtype=policy))
    # Magenta: `discriminator_cond/classification_logits`, a custom_dense on
    # the flattened last conv.
    self.classification_logits = layers.EqualizedDense(
        num_tokens, name='classification_logits', dtype=policy)
    self.build()

  def build(self, input_shape=None):
    del input_shape  # All shapes follow from the hyperparameters.
    for block_id, block in enumerate(self.blocks, start=1):
      h, w = self.resolution_schedule.resolution(block_id)
      block.build((None, h, w, self.colors))
    self.classification_logits.build((None, self.num_filters(0)))

  def call(self, images, progress=None, normalize=True):
    """Logits for images.

    Args:
      images: `[b, H, W, colors]` at the final resolution, data space (or
        already in [-1, 1] with normalize=False).
      progress: float scalar tensor; or a Python number, given by keyword,
        to skip zero-weight inputs; None: `num_blocks - 1`.
      normalize: apply the normalizer (with clipping) first, as Magenta.

    Returns:
      (logits `[b, 1]`, classification_logits `[b, num_tokens]`).
    """
    if progress is None:
      progress = self.num_blocks - 1.0
    images = tf.cast(images, tf.float32)  # numpy in; float32 statistics
    x0 = self.normalizer.normalize(images) if normalize else images
    static = _is_static(progress)
    base = self.resolution_schedule.scale_base
    x = None
    for block_id in range(self.num_blocks, 0, -1):
      block = self.blocks[block_id - 1]
      alpha = schedule.discriminator_alpha(block_id, progress)
      if x is not None and static and alpha == 0.0:
        # `0 * from_rgb + 1 * x` is exactly x.
        lod = None
      else:
        lod = block.from_rgb(self._downscale(
            x0, self.resolution_schedule.scale_factor(block_id)))
      if x is None:
        x = lod
      elif lod is not None:
        alpha = tf.cast(alpha, x.dtype)
        x = alpha * lod + (1.0 - alpha) * x
      if block_id > 1:
        x = block(x, downscale_fn=lambda t: self._downscale(t, base))
    last_conv = self.blocks[0](x)
    flat = tf.reshape(last_conv, [tf.shape(last_conv)[0], -1])
    if self.simple_arch:
      logits = self.blocks[0].logits(flat)
    else:
      logits = self.blocks[0].logits(last_conv)
    # float32 logits whatever the compute dtype (the losses stay float32).
    return (tf.cast(logits, tf.float32),
            tf.cast(self.classification_logits(flat), tf.float32))


NETWORK_NAMES = ('generator', 'ema_generator', 'discriminator')


def build_networks(hp, stage_id, normalizer, num_tokens, precision='fp32',
                   names=NETWORK_NAMES, subpixel_upscale=True,
                   stddev_group_size=None):
  """The networks of stage `stage_id` of a run: the one way they are built.

  Training, both checkpoint loaders (ours and Magenta's) and the tools build
  here, so a network always has the blocks, pitches, normalizer and compute
  type its checkpoint was trained with.

  Args:
    hp: the run's `hparams.HParams`.
    stage_id: stage of the progressive schedule; gives the number of blocks.
    normalizer: the run's normalizer (`run_dir.Run.normalizer(hp)`).
    num_tokens: number of pitches of the one-hot input.
    precision: 'fp32', 'bf16' or 'fp16' (precision.py): the Keras policy.
    names: which of 'generator', 'ema_generator' (both a `Generator`) and
      'discriminator' to build, in this order.
    subpixel_upscale: the generators' upscale + conv in sub-pixel form (see
      `Generator`); False is Magenta's literal arithmetic.
    stddev_group_size: the discriminator's minibatch-stddev group.

  Returns:
    {name: network} for `names`.

  Raises:
    ValueError: a stage the schedule of `hp` does not have, or an unknown name.
  """
  training_schedule = schedule.TrainingSchedule.from_hparams(hp)
  if not 0 <= int(stage_id) < training_schedule.num_stages:
    raise ValueError(f'stage {stage_id} does not exist with num_resolutions='
                     f'{hp.num_resolutions} ({training_schedule.num_stages} '
                     'stages)')
  unknown = sorted(set(names) - set(NETWORK_NAMES))
  if unknown:
    raise ValueError(f'unknown network names {unknown}; expected some of '
                     f'{NETWORK_NAMES}')
  common = dict(num_blocks=training_schedule.num_blocks(int(stage_id)),
                normalizer=normalizer, num_tokens=int(num_tokens),
                dtype=precision_lib.policy(precision))
  built = {}
  for name in names:
    if name == 'discriminator':
      built[name] = Discriminator.from_hparams(
          hp, name=name, stddev_group_size=stddev_group_size, **common)
    else:
      built[name] = Generator.from_hparams(
          hp, name=name, subpixel_upscale=subpixel_upscale, **common)
  return built
