"""Building blocks of the progressive GAN: pixel norm, equalized layers, box scaling.

Counterpart of Magenta's `gansynth/lib/layers.py`. Every function here keeps
Magenta's arithmetic (same ops, same order) so that weights trained by Magenta
give the same outputs; the Keras layers own their weights so that a network
built from them checkpoints like any Keras model.

Images are NHWC: `[batch, height (time), width (freq), channels]`.

`PixelNorm`, `MinibatchStddev`, `BoxUpscale` and `BoxDownscale` are the
weightless operations as public Keras layers, for users composing their own
models; our networks call the same functions directly (inside their
activations and blocks), which keeps their checkpoints' object graphs as
they were. Each layer is tested against its function and for its config
round trip.
"""

import functools

import keras
import numpy as np
import tensorflow as tf


# Reduced-precision compute dtypes (precision.py); statistics stay float32.
HALF_DTYPES = (tf.float16, tf.bfloat16)


def pixel_norm(images, epsilon=1.0e-8):
  """Scales each pixel's channel vector to unit root-mean-square.

  Args:
    images: `[batch, h, w, c]` (or any rank; the last axis is normalized).
    epsilon: added under the square root.

  Returns:
    `images / sqrt(mean_c(images**2) + epsilon)`, same shape.
  """
  if images.dtype in HALF_DTYPES:
    return xla_call(_pixel_norm_16bit, images, static=(epsilon,))
  scale = tf.math.rsqrt(
      tf.reduce_mean(tf.square(images), axis=-1, keepdims=True) + epsilon)
  return images * tf.cast(scale, images.dtype)


def pixel_norm_scale(images, epsilon=1.0e-8):
  """`pixel_norm`'s per-pixel factor: `[..., c]` -> float32 `[..., 1]`,
  `1 / sqrt(mean_c(images**2) + epsilon)`."""
  if images.dtype in HALF_DTYPES:
    return xla_call(_pixel_norm_scale_16bit, images, static=(epsilon,))
  return tf.math.rsqrt(tf.reduce_mean(
      tf.square(tf.cast(images, tf.float32)), axis=-1, keepdims=True) + epsilon)


def pixel_norm_phases(phases, epsilon=1.0e-8):
  """`pixel_norm` of a sub-pixel conv's phases, interleaved into one map.

  Args:
    phases: `[scale_h][scale_w]` nested list of `[b, h, w, c]` maps, as
      `upscale_conv2d` hands its `interleave`.
    epsilon: added under the square root.

  Returns:
    `[b, h * scale_h, w * scale_w, c]`: `pixel_norm(interleave(phases))`.
  """
  flat = [p for row in phases for p in row]
  if flat[0].dtype in HALF_DTYPES:
    return xla_call(_pixel_norm_phases_16bit, *flat,
                    static=(len(phases[0]), epsilon))
  return pixel_norm(interleave(phases), epsilon)


# 16 bits: XLA for these functions, the statistics in float32 (fp16 squares
# overflow past 256, epsilon is below fp16's range) and the scaling fused
# into two passes over the map, where TF's kernels take six (cast, square,
# mean, rsqrt, cast, multiply) and its 16-bit elementwise kernels are slow.
# The convs stay oneDNN's. Which XLA formulation is fastest depends on the
# channel count (measured on the AMX Xeon, bf16, batch 8, the generator's
# shapes): the channel mean as a matrix-vector product is 2-9x faster than
# XLA's reduction from 64 channels up (XLA vectorizes its dot, not that
# row reduction), the reduction is faster at 32; a sub-pixel conv's phases
# are interleaved in the same function (one pass instead of TF's two Pack
# passes: 32 channels 32 -> 15 ms, 64: 15 -> 9 ms), before the norm from 64
# channels up, after it below.
def _mean_square(stats):
  """`mean_c(stats**2)` of a float32 `[..., c]` map -> `[..., 1]`."""
  channels = stats.shape[-1]
  if channels is None or channels < 64:
    return tf.reduce_mean(tf.square(stats), axis=-1, keepdims=True)
  mean_square = tf.linalg.matvec(tf.reshape(tf.square(stats), [-1, channels]),
                                 tf.fill([channels], 1.0 / channels))
  # The batch may be unknown when traced (a SavedModel's signature).
  return tf.reshape(mean_square,
                    tf.concat([tf.shape(stats)[:-1], [1]], axis=0))


def _pixel_norm_scale_16bit(epsilon, images):
  return tf.math.rsqrt(_mean_square(tf.cast(images, tf.float32)) + epsilon)


def _pixel_norm_16bit(epsilon, images):
  """`pixel_norm` of a 16-bit map, its statistics in float32."""
  return tf.cast(tf.cast(images, tf.float32) *
                 _pixel_norm_scale_16bit(epsilon, images), images.dtype)


def _pixel_norm_phases_16bit(scale_w, epsilon, *flat):
  """`pixel_norm_phases` of 16-bit phases (flattened row by row)."""
  rows = [list(flat[i:i + scale_w]) for i in range(0, len(flat), scale_w)]
  channels = flat[0].shape[-1]
  if channels is None or channels < 64:
    return interleave([[_pixel_norm_16bit(epsilon, p) for p in row]
                       for row in rows])
  return _pixel_norm_16bit(epsilon, interleave(rows))


def xla_call(fn, *tensors, static=()):
  """`fn(*static, *tensors)` run as an XLA-compiled function: one per
  `fn`, input shapes and dtypes and `static` (hashable Python values), so
  each is traced once (one function traced at every map size of a network
  would log TF's excessive-retracing warning). Differentiable; its gradient
  is compiled too."""
  tensors = [tf.convert_to_tensor(t) for t in tensors]
  signature = tuple((tuple(t.shape.as_list()), t.dtype) for t in tensors)
  return _xla_function(fn, signature, tuple(static))(*tensors)


@functools.lru_cache(maxsize=None)
def _xla_function(fn, signature, static):
  del signature  # the cache key
  return tf.function(functools.partial(fn, *static) if static else fn,
                     jit_compile=True, autograph=False)


def _scale_bias_activation(activation, output, row_scale, bias):
  """`activation(row_scale * output + bias)`, computed in float32."""
  y = tf.cast(output, tf.float32) * row_scale + tf.cast(bias, tf.float32)
  if activation is not None:
    y = activation(y)
  return tf.cast(y, output.dtype)


def _validated_scale(scale):
  scale_int = int(scale)
  if scale_int <= 0 or scale_int != scale:
    raise ValueError(f'scale must be a positive integer, got {scale!r}')
  return scale_int


def _static_or_dynamic_shape(x):
  dynamic = tf.shape(x)
  return [d if d is not None else dynamic[i]
          for i, d in enumerate(x.shape.as_list())]


def _box_down(images, scale_h, scale_w):
  if scale_h == scale_w == 1:
    return images
  return tf.nn.avg_pool2d(images, ksize=[scale_h, scale_w],
                          strides=[scale_h, scale_w], padding='VALID')


def _box_up(images, scale_h, scale_w):
  if scale_h == scale_w == 1:
    return images
  images = tf.convert_to_tensor(images)
  b, h, w, c = _static_or_dynamic_shape(images)
  # Copying values is exact, so tile + reshape gives the numbers of Magenta's
  # batch_to_space formulation. One axis at a time keeps every tensor at most
  # 5-D, which TF Lite's Tile kernel needs.
  x = images
  if scale_w > 1:
    x = tf.tile(x[:, :, :, tf.newaxis, :], [1, 1, 1, scale_w, 1])
    x = tf.reshape(x, [b, h, w * scale_w, c])
  if scale_h > 1:
    x = tf.tile(x[:, :, tf.newaxis], [1, 1, scale_h, 1, 1])
    x = tf.reshape(x, [b, h * scale_h, w * scale_w, c])
  return x


def downscale(images, scale):
  """Box (average) downscaling along H and W: `[b, h, w, c] -> [b, h/s, w/s, c]`."""
  scale = _validated_scale(scale)
  return _box_down(images, scale, scale)


def downscale_height(images, scale):
  """Box downscaling along H only: `[b, h, w, c] -> [b, h/s, w, c]`."""
  return _box_down(images, _validated_scale(scale), 1)


def upscale(images, scale):
  """Nearest-neighbour upscaling along H and W: `[b, h, w, c] -> [b, h*s, w*s, c]`."""
  scale = _validated_scale(scale)
  return _box_up(images, scale, scale)


def upscale_height(images, scale):
  """Nearest-neighbour upscaling along H only: `[b, h, w, c] -> [b, h*s, w, c]`."""
  return _box_up(images, _validated_scale(scale), 1)


def _phase_taps(scale):
  """Per output phase, how a 3-tap kernel row folds onto the low-res grid.

  Output index `scale * i + a` of a nearest-upscaled signal reads, through tap
  `d` in {-1, 0, 1}, the source index `i + (a + d) // scale`. Returns, for
  each phase `a`, (first source offset, [tap indices per source offset]).
  """
  phases = []
  for a in range(scale):
    offsets = {}
    for d in (-1, 0, 1):
      offsets.setdefault((a + d) // scale, []).append(d + 1)
    first = min(offsets)
    phases.append((first, [offsets[e] for e in sorted(offsets)]))
  return phases


def _fold(kernel, taps, axis):
  """Sums the kernel's taps along `axis` into one tap per source offset."""
  # Slices, not tf.gather: the kernel's gradient stays a dense tensor.
  tap = (lambda t: kernel[t]) if axis == 0 else (lambda t: kernel[:, t])
  parts = []
  for group in taps:
    part = tap(group[0])
    for t in group[1:]:
      part = part + tap(t)
    parts.append(part)
  return tf.stack(parts, axis=axis)


def upscale_conv2d(images, kernel, scale_h, scale_w, per_phase=None,
                   interleave_fn=None):
  """`conv2d(nearest_upscale(images), kernel, 'SAME')`, on the low-res map.

  Each output phase (row and column position within a `scale` x `scale`
  cell) of a 3x3 conv over nearest-upscaled images only ever sees 2 distinct
  source rows and columns (sub-pixel form), so the conv is computed as
  scale_h * scale_w 2x2 (or 2x3 / 3x2) convs over the small map: at scale 2,
  4/9 of the multiply-adds. Equal to the upscale-then-conv up to float
  rounding of the folded kernel taps (~1e-6 relative).

  Args:
    images: `[b, h, w, c_in]`.
    kernel: `[3, 3, c_in, c_out]`, or its `phase_kernels`.
    scale_h, scale_w: integer upscale factors (1 keeps that axis).
    per_phase: None, or a per-pixel function (bias, activation, pixel norm)
      applied to each phase's conv output before the phases are interleaved:
      the same values as applying it after, and it sits right behind its
      conv, where oneDNN can fuse it.
    interleave_fn: None (`interleave`), or a function of the `[scale_h]
      [scale_w]` nested list of phase maps that interleaves them (and may
      do more on the way, e.g. `pixel_norm_phases`).

  Returns:
    `[b, h * scale_h, w * scale_w, c_out]`.
  """
  if isinstance(kernel, (list, tuple)):
    kernels = kernel
  else:
    if tuple(kernel.shape[:2]) != (3, 3):
      raise ValueError(
          f'upscale_conv2d needs a 3x3 kernel, got {kernel.shape}')
    kernels = phase_kernels(kernel, scale_h, scale_w)
  images = tf.convert_to_tensor(images)
  rows = []
  for (first_h, taps_h), row_kernels in zip(_phase_taps(scale_h), kernels):
    cols = []
    for (first_w, taps_w), k in zip(_phase_taps(scale_w), row_kernels):
      # The phase's 2 (or 3) source rows / columns by the conv's own zero
      # padding: no padded copy of the map and no window slices (float32:
      # the same numbers as pad + VALID windows, compared bit for bit).
      pads = [[0, 0], [-first_h, first_h + len(taps_h) - 1],
              [-first_w, first_w + len(taps_w) - 1], [0, 0]]
      phase = tf.nn.conv2d(images, k, strides=1, padding=pads)
      cols.append(phase if per_phase is None else per_phase(phase))
    rows.append(cols)
  return (interleave_fn or interleave)(rows)


def phase_kernels(kernel, scale_h, scale_w):
  """The kernels `upscale_conv2d` applies per phase: `[3, 3, c_in, c_out]`
  -> `[scale_h][scale_w]` nested list of `[taps_h, taps_w, c_in, c_out]`
  (2 or 3 taps: the 3x3 taps summed per source offset)."""
  kernel = tf.convert_to_tensor(kernel)
  kernels = []
  for _, taps_h in _phase_taps(scale_h):
    k_rows = _fold(kernel, taps_h, axis=0)
    kernels.append([_fold(k_rows, taps_w, axis=1)
                    for _, taps_w in _phase_taps(scale_w)])
  return kernels


def _scaled_kernel_16bit(scale, dtype, upscale, kernel):
  """`cast(scale * kernel)` (folded into phase kernels for an `upscale`),
  in one XLA pass: TF's separate multiply, cast and fold ops cost ~3% of
  the full-size bf16 generator's time, run on every call."""
  kernel = scale * kernel
  if upscale is None:
    return tf.cast(kernel, dtype)
  return [[tf.cast(k, dtype) for k in row]
          for row in phase_kernels(kernel, *upscale)]


def interleave(phases):
  """Sub-pixel phases into one map: `[scale_h][scale_w]` nested list of
  `[b, h, w, c]` -> `[b, h * scale_h, w * scale_w, c]`, phase `[a][e]` at
  rows `scale_h * i + a`, columns `scale_w * j + e`."""
  b, h, w, c = _static_or_dynamic_shape(phases[0][0])
  scale_h, scale_w = len(phases), len(phases[0])
  # One axis at a time (tensors stay <= 5-D for TF Lite). The channels from
  # the input, not -1: they stay known when the batch is not.
  rows = [cols[0] if scale_w == 1 else tf.reshape(
      tf.stack(cols, axis=3), [b, h, w * scale_w, c]) for cols in phases]
  if scale_h == 1:
    return rows[0]
  return tf.reshape(tf.stack(rows, axis=2), [b, h * scale_h, w * scale_w, c])


def minibatch_mean_stddev(x, group_size=None):
  """Mean over all features of the across-batch standard deviation.

  Args:
    x: `[batch, ...]`.
    group_size: None (Magenta): one statistic over the whole batch. Else the
      batch (a multiple of it, or smaller: one group) is cut into
      consecutive groups of this size, each with its own
      statistic; a batch split over replicas computes exactly that, one group
      per replica (tests compare a multi-replica step with one device so).

  Returns:
    scalar `mean(sqrt(var_batch(x) + 1e-6))`; with `group_size`, `[batch]`
    (each example gets its group's value). Computed in float32; a 16-bit `x`
    gets it rounded to its own dtype (it joins the 16-bit map), from one XLA
    function, so no float32 copy of the map is made between the convs.
  """
  if x.dtype in HALF_DTYPES:
    return xla_call(_minibatch_stddev_16bit, x, static=(group_size,))
  return _minibatch_stddev(x, group_size)


def _minibatch_stddev(x, group_size):
  if group_size is None:
    _, var = tf.nn.moments(x, axes=[0])
    return tf.reduce_mean(tf.sqrt(var + 1e-6))
  # A batch smaller than a group is one group (as in Karras et al.'s code).
  group_size = tf.minimum(group_size, tf.shape(x)[0])
  groups = tf.reshape(x, [-1, group_size, tf.reduce_prod(tf.shape(x)[1:])])
  _, var = tf.nn.moments(groups, axes=[1])
  per_group = tf.reduce_mean(tf.sqrt(var + 1e-6), axis=1)
  return tf.repeat(per_group, group_size)


def _minibatch_stddev_16bit(group_size, x):
  # A variance of 16-bit values loses too much: float32 inside the fusion.
  return tf.cast(_minibatch_stddev(tf.cast(x, tf.float32), group_size),
                 x.dtype)


def scalar_concat(tensor, scalar):
  """Appends a channel filled with `scalar`: `[b, ..., n] -> [b, ..., n + 1]`.

  `scalar` is a scalar, or `[b]` (one value per example).
  """
  ndims = tensor.shape.rank
  if ndims is None or ndims < 1:
    raise ValueError('tensor must have at least one dimension')
  shape = tf.shape(tensor)
  scalar = tf.cast(scalar, tensor.dtype)  # a float32 statistic, 16-bit maps
  if scalar.shape.rank == 1:
    scalar = tf.reshape(scalar, [-1] + [1] * (ndims - 1))
  fill = tf.ones(tf.concat([shape[:-1], [1]], axis=0),
                 dtype=tensor.dtype) * scalar
  return tf.concat([tensor, fill], axis=ndims - 1)


def he_initializer_scale(shape, slope=1.0):
  """He's standard deviation for a weight of `shape` (fan-in = all but last dim).

  Args:
    shape: weight shape, e.g. `[kh, kw, in, out]` or `[in, out]`.
    slope: negative slope of the (leaky) ReLU after the layer.

  Returns:
    float `sqrt(2 / ((1 + slope**2) * fan_in))`.
  """
  fan_in = np.prod(shape[:-1])
  return float(np.sqrt(2. / ((1. + slope**2) * fan_in)))


class _EqualizedLayer(keras.layers.Layer):
  """Shared weight handling of EqualizedConv2D / EqualizedDense.

  With `use_weight_scaling` the kernel is initialised N(0, 1) and the He scale
  multiplies the layer output at run time (equalized learning rate); without
  it the kernel is initialised N(0, he_scale**2) and used as is. The output is
  `post_scale * (x applied to kernel) + bias`, in that order, as Magenta.

  Under a 16-bit policy (precision.py) the same function is computed as
  `(x applied to cast(post_scale * kernel)) + bias` via `BiasAdd`: the scale
  multiplies the small float32 kernel once before its one cast instead of
  every output value, and conv -> BiasAdd -> activation is the pattern
  Grappler's remapper fuses into one oneDNN convolution (bias and leaky ReLU
  / tanh as post-ops), so no 16-bit map makes a round trip through memory
  between the conv and its activation. float32 keeps Magenta's order.
  """

  def __init__(self, units, activation=None, he_initializer_slope=1.0,
               use_weight_scaling=True, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    # None stays None (no op in the graph); names ('tanh') and callables are
    # resolved by Keras, so get_config can serialize what it was given.
    self.activation = (None if activation is None
                       else keras.activations.get(activation))
    self.he_initializer_slope = he_initializer_slope
    self.use_weight_scaling = use_weight_scaling
    self.post_scale = 1.0

  def _add_weights(self, kernel_shape):
    he_scale = he_initializer_scale(kernel_shape, self.he_initializer_slope)
    if self.use_weight_scaling:
      init_scale, self.post_scale = 1.0, he_scale
    else:
      init_scale, self.post_scale = he_scale, 1.0
    # Not autocast: the 16-bit path scales the float32 kernel before its
    # cast (_kernel); float32 reads them as they are either way.
    self.kernel = self.add_weight(
        name='kernel', shape=tuple(kernel_shape),
        initializer=keras.initializers.RandomNormal(stddev=init_scale),
        autocast=False)
    self.bias = self.add_weight(name='bias', shape=(self.units,),
                                initializer='zeros', autocast=False)

  @property
  def _half(self):
    return tf.as_dtype(self.compute_dtype) in HALF_DTYPES

  def _kernel(self, upscale=None):
    """The kernel the op applies: float32 as is; 16 bits with the scale in
    (and folded into `upscale_conv2d`'s phase kernels for an `upscale`)."""
    if not self._half:
      return self.kernel
    return xla_call(_scaled_kernel_16bit, self.kernel,
                    static=(self.post_scale, self.compute_dtype, upscale))

  def _finish(self, output, activation='own'):
    if self._half:  # the scale is in the kernel (_kernel)
      output = tf.nn.bias_add(output, tf.cast(self.bias, self.compute_dtype))
    else:
      output = self.post_scale * output + self.bias
    activation = self.activation if activation == 'own' else activation
    if activation is not None:
      output = activation(output)
    return output

  def get_config(self):
    config = super().get_config()
    config.update(he_initializer_slope=self.he_initializer_slope,
                  use_weight_scaling=self.use_weight_scaling,
                  activation=(None if self.activation is None else
                              keras.activations.serialize(self.activation)))
    return config


class EqualizedConv2D(_EqualizedLayer):
  """Magenta's `custom_conv2d`: `[b, h, w, c_in] -> [b, h', w', filters]`.

  Kernel `[kh, kw, c_in, filters]`, bias `[filters]`.
  """

  def __init__(self, filters, kernel_size, strides=(1, 1), padding='SAME',
               activation=None, he_initializer_slope=1.0,
               use_weight_scaling=True, **kwargs):
    super().__init__(filters, activation=activation,
                     he_initializer_slope=he_initializer_slope,
                     use_weight_scaling=use_weight_scaling, **kwargs)
    if not isinstance(kernel_size, (list, tuple)):
      kernel_size = (kernel_size, kernel_size)
    self.kernel_size = tuple(int(k) for k in kernel_size)
    self.strides = tuple(strides)
    self.padding = padding.upper()

  def build(self, input_shape):
    self._add_weights(self.kernel_size + (int(input_shape[-1]), self.units))

  def call(self, x, upscale=None, pixel_norm=True, normalize_input=False):
    """`[b, h, w, c_in] -> [b, h', w', filters]`.

    upscale: None, or `(scale_h, scale_w)`: the layer is applied to `x`
      nearest-upscaled by that much, computed in sub-pixel form on the small
      map (`upscale_conv2d`, 4/9 of the work at scale 2); needs a stride-1
      SAME 3x3 conv (`can_upscale`).
    pixel_norm: False leaves out the pixel norm that ends the activation
      (one whose `pixel_norm_of` attribute names the activation before it).
    normalize_input: True applies the layer to `pixel_norm(x)`, computed
      as the norm's per-pixel scale times the conv's output (a 1x1 conv
      only, a per-pixel linear map; bias and activation after), so the
      normalized map is never written.
    """
    before_norm = getattr(self.activation, 'pixel_norm_of', None)
    if not pixel_norm:
      if before_norm is None:
        raise ValueError(f'{self.name}: pixel_norm=False needs an activation '
                         'ending in a pixel norm')
      if upscale is not None:
        raise ValueError(f'{self.name}: pixel_norm=False with upscale')
      return self._finish(self._conv(x), activation=before_norm)
    if normalize_input:
      if self.kernel_size != (1, 1) or upscale is not None:
        raise ValueError(f'{self.name}: normalize_input needs a 1x1 conv, '
                         f'got kernel {self.kernel_size}')
      return self._row_scaled(x, pixel_norm_scale(x))
    if upscale is not None:
      if not self.can_upscale:
        raise ValueError(f'{self.name}: upscale needs a stride-1 SAME 3x3 '
                         f'conv, got kernel {self.kernel_size}, strides '
                         f'{self.strides}, padding {self.padding}')
      if self._half:  # bias and activation per phase, fused with its conv
        kernels = self._kernel(upscale=tuple(upscale))
        if before_norm is None:
          return upscale_conv2d(x, kernels, *upscale, per_phase=self._finish)
        # The activation ends in a pixel norm: that norm is done with the
        # phases' interleave, in one pass (pixel_norm_phases).
        return upscale_conv2d(
            x, kernels, *upscale,
            per_phase=functools.partial(self._finish, activation=before_norm),
            interleave_fn=pixel_norm_phases)
      return self._finish(upscale_conv2d(x, self.kernel, *upscale))
    return self._finish(self._conv(x))

  def _conv(self, x):
    return tf.nn.conv2d(x, self._kernel(), strides=self.strides,
                        padding=self.padding)

  def _row_scaled(self, x, row_scale):
    output = self._conv(x)
    if self._half:  # scale, bias and activation in one small fusion
      return xla_call(_scale_bias_activation, output, row_scale,
                      tf.cast(self.bias, self.compute_dtype),
                      static=(self.activation,))
    return self._finish(output * tf.cast(row_scale, output.dtype))

  @property
  def can_upscale(self):
    """Whether `call(x, upscale=...)` applies: a stride-1 SAME 3x3 conv."""
    return (self.kernel_size == (3, 3) and tuple(self.strides) == (1, 1)
            and self.padding == 'SAME')

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.units, kernel_size=self.kernel_size,
                  strides=self.strides, padding=self.padding)
    return config


class EqualizedDense(_EqualizedLayer):
  """Magenta's `custom_dense`: flattens `[b, ...]` then `-> [b, units]`.

  Kernel `[prod(...), units]`, bias `[units]`.
  """

  def build(self, input_shape):
    fan_in = int(np.prod(input_shape[1:]))
    self._add_weights((fan_in, self.units))

  def call(self, x):
    x = tf.reshape(x, [tf.shape(x)[0], self.kernel.shape[0]])
    return self._finish(tf.matmul(x, self._kernel()))

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units)
    return config


class PixelNorm(keras.layers.Layer):
  """`pixel_norm` as a layer: `[b, h, w, c] -> [b, h, w, c]`."""

  def __init__(self, epsilon=1.0e-8, **kwargs):
    super().__init__(**kwargs)
    self.epsilon = epsilon

  def call(self, x):
    return pixel_norm(x, self.epsilon)

  def get_config(self):
    config = super().get_config()
    config.update(epsilon=self.epsilon)
    return config


class MinibatchStddev(keras.layers.Layer):
  """Appends the minibatch mean stddev as a channel: `[b, h, w, c] -> [b, h, w, c+1]`.

  The statistic mixes the whole batch (or each consecutive `group_size`
  examples), so outputs depend on batch contents.
  """

  def __init__(self, group_size=None, **kwargs):
    super().__init__(**kwargs)
    self.group_size = group_size

  def call(self, x):
    return scalar_concat(x, minibatch_mean_stddev(x, self.group_size))

  def get_config(self):
    config = super().get_config()
    config.update(group_size=self.group_size)
    return config


class _BoxScaling(keras.layers.Layer):
  """Shared arguments of BoxUpscale / BoxDownscale."""
  _both_axes = None
  _height = None

  def __init__(self, scale, height_only=False, **kwargs):
    super().__init__(**kwargs)
    self.scale = _validated_scale(scale)
    self.height_only = height_only

  def call(self, x):
    fn = self._height if self.height_only else self._both_axes
    return fn(x, self.scale)

  def get_config(self):
    config = super().get_config()
    config.update(scale=self.scale, height_only=self.height_only)
    return config


class BoxUpscale(_BoxScaling):
  """Nearest-neighbour upscaling by `scale` along H and W, or H only."""
  _both_axes = staticmethod(upscale)
  _height = staticmethod(upscale_height)


class BoxDownscale(_BoxScaling):
  """Average-pool downscaling by `scale` along H and W, or H only."""
  _both_axes = staticmethod(downscale)
  _height = staticmethod(downscale_height)
