"""Spectral building blocks: mel scale, mel matrices, phase unwrapping and IF.

Counterpart of Magenta's `gansynth/lib/spectral_ops.py`. The numerics follow
Magenta exactly (same float64 mel matrix, same unwrap arithmetic) so that
spectrograms computed here feed Magenta-trained networks unchanged.
"""

import numpy as np
import tensorflow as tf

# The mel-matrix functions below are numpy, called while a tf.function or a
# tf.data map is traced. Left to autograph, their Python loops over bands
# become converted calls: ~10 s per trace at 1024 bins, against milliseconds
# as plain Python. So they are marked not to convert.
_numpy_only = tf.autograph.experimental.do_not_convert

# HTK mel scale, as Magenta uses it.
MEL_BREAK_FREQUENCY_HERTZ = 700.0
MEL_HIGH_FREQUENCY_Q = 1127.0


@_numpy_only
def mel_to_hertz(mel_values):
  """Mel values (array-like) -> frequencies in Hz (numpy, float64)."""
  mel_values = np.asarray(mel_values, dtype=np.float64)
  return MEL_BREAK_FREQUENCY_HERTZ * (
      np.exp(mel_values / MEL_HIGH_FREQUENCY_Q) - 1.0)


@_numpy_only
def hertz_to_mel(frequencies_hertz):
  """Frequencies in Hz (array-like) -> mel values (numpy, float64)."""
  frequencies_hertz = np.asarray(frequencies_hertz, dtype=np.float64)
  return MEL_HIGH_FREQUENCY_Q * np.log(
      1.0 + frequencies_hertz / MEL_BREAK_FREQUENCY_HERTZ)


@_numpy_only
def _min_half_width_mel(center_mel, min_width_hz):
  """Half width in mel of a band `min_width_hz` wide (in Hz) at a centre.

  Solves mel_to_hertz(c + d) - mel_to_hertz(c - d) = min_width_hz for d.
  """
  rhs = 0.5 * min_width_hz / (mel_to_hertz(center_mel) +
                              MEL_BREAK_FREQUENCY_HERTZ)
  return MEL_HIGH_FREQUENCY_Q * np.log(rhs + np.sqrt(1.0 + rhs**2))


@_numpy_only
def linear_to_mel_weight_matrix(num_mel_bins=20,
                                num_spectrogram_bins=129,
                                sample_rate=16000,
                                lower_edge_hertz=125.0,
                                upper_edge_hertz=3800.0,
                                magenta_edge_aliasing=True):
  """Triangular mel filterbank with Magenta's minimum band width rule.

  Unlike `tf.signal.linear_to_mel_weight_matrix`, a band narrower than
  1.5 linear bins is widened symmetrically in mel around its centre. With
  `num_mel_bins == num_spectrogram_bins` (GANSynth's setting) most low bands
  would otherwise fall between two linear bins and be all zero, which makes
  the matrix singular.

  Args:
    num_mel_bins: output (mel) bins.
    num_spectrogram_bins: input (linear) bins; bin 0 is treated as DC.
    sample_rate: audio sample rate in Hz.
    lower_edge_hertz: lowest band edge.
    upper_edge_hertz: highest band edge, at most Nyquist.
    magenta_edge_aliasing: True (default) reproduces Magenta's matrix
      exactly, including the side effects of its in-place band widening
      (see the comment in the body); False widens each band independently.

  Returns:
    float64 numpy array `[num_spectrogram_bins, num_mel_bins]`.

  Raises:
    ValueError: an argument is out of range.
  """
  if num_mel_bins <= 0:
    raise ValueError(f'num_mel_bins must be positive, got {num_mel_bins}')
  if num_spectrogram_bins <= 0:
    raise ValueError('num_spectrogram_bins must be positive, got '
                     f'{num_spectrogram_bins}')
  if sample_rate <= 0:
    raise ValueError(f'sample_rate must be positive, got {sample_rate}')
  if lower_edge_hertz < 0.0:
    raise ValueError('lower_edge_hertz must be non-negative, got '
                     f'{lower_edge_hertz}')
  if lower_edge_hertz >= upper_edge_hertz:
    raise ValueError(f'lower_edge_hertz ({lower_edge_hertz}) must be below '
                     f'upper_edge_hertz ({upper_edge_hertz})')
  nyquist_hertz = sample_rate / 2.0
  if upper_edge_hertz > nyquist_hertz:
    raise ValueError(f'upper_edge_hertz ({upper_edge_hertz}) must not exceed '
                     f'Nyquist ({nyquist_hertz}) for sample_rate {sample_rate}')

  # The DC bin gets no weight (HTK convention); it is re-added as a zero row.
  linear_hz = np.linspace(0.0, nyquist_hertz, num_spectrogram_bins)[1:, None]

  edges_mel = np.linspace(hertz_to_mel(lower_edge_hertz),
                          hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
  # Magenta's minimum width is 1.5 * nyquist / num_spectrogram_bins (not
  # bins - 1); kept for parity.
  min_width_hz = 1.5 * nyquist_hertz / float(num_spectrogram_bins)
  if magenta_edge_aliasing:
    # Magenta widens the narrow bands one at a time through numpy *views* of
    # one shared edge array: widening band i also moves the centres of bands
    # i - 1 and i + 1 and an edge of bands i - 2 and i + 2, and later bands
    # are tested against edges already moved. Every Magenta checkpoint was trained on
    # that matrix, so parity needs the same sequential in-place walk.
    lower_mel, center_mel, upper_mel = (edges_mel[:-2], edges_mel[1:-1],
                                        edges_mel[2:])
    for i in range(num_mel_bins):
      width_hz = mel_to_hertz(upper_mel[i]) - mel_to_hertz(lower_mel[i])
      if width_hz < min_width_hz:
        half = _min_half_width_mel(center_mel[i], min_width_hz)
        lower_mel[i] = center_mel[i] - half
        upper_mel[i] = center_mel[i] + half
  else:
    # The evident intent: widen each band independently around its centre.
    lower_mel = edges_mel[:-2].copy()
    center_mel = edges_mel[1:-1].copy()
    upper_mel = edges_mel[2:].copy()
    narrow = (mel_to_hertz(upper_mel) - mel_to_hertz(lower_mel)) < min_width_hz
    half = _min_half_width_mel(center_mel, min_width_hz)
    lower_mel = np.where(narrow, center_mel - half, lower_mel)
    upper_mel = np.where(narrow, center_mel + half, upper_mel)

  lower_hz = mel_to_hertz(lower_mel)[None, :]
  center_hz = mel_to_hertz(center_mel)[None, :]
  upper_hz = mel_to_hertz(upper_mel)[None, :]
  rising = (linear_hz - lower_hz) / (center_hz - lower_hz)
  falling = (upper_hz - linear_hz) / (upper_hz - center_hz)
  weights = np.maximum(0.0, np.minimum(rising, falling))
  return np.pad(weights, [[1, 0], [0, 0]])


@_numpy_only
def mel_to_linear_weight_matrix(linear_to_mel):
  """Magenta's approximate inverse of a mel filterbank.

  `M^T diag(1 / colsum(M M^T))`: the transpose, with each linear bin's
  column divided by how much the bands overlap on that bin (bins no band
  covers stay zero). Not a true pseudo-inverse; it is what Magenta-trained
  models expect.

  Args:
    linear_to_mel: `[num_linear, num_mel]` matrix (float64 numpy).

  Returns:
    float64 numpy array `[num_mel, num_linear]`.
  """
  m = np.asarray(linear_to_mel, dtype=np.float64)
  m_t = m.T
  col_sums = np.sum(m @ m_t, axis=0)
  safe = np.abs(col_sums) > 1.0e-8
  scale = np.where(safe, 1.0 / np.where(safe, col_sums, 1.0), col_sums)
  return m_t @ np.diag(scale)


class BandedMatmul:
  """`x @ matrix` over the last axis, skipping a sparse matrix's zero blocks.

  The mel matrices are ~0.2% nonzeros (each mel band covers a few adjacent
  linear bins, each linear bin at most two bands), arranged along a band
  from the low to the high bins. A dense `[..., 1024] @ [1024, 1024]` spends
  nearly all of its multiply-adds on zeros. Here the output columns are cut
  into blocks of `block` columns; each block is the dense product of the
  contiguous input columns its nonzero rows span with that small piece of the
  matrix, and blocks without nonzeros are zeros. The terms left out are
  exact zeros, so the result equals the dense product up to the order of
  float32 summation. A dense matrix still works (one span per block).

  Args:
    matrix: `[n, m]` numpy array; cast to float32 like Magenta's
      `tf.to_float` of its float64 matrices.
    block: output columns per block; 64 measures best for 1024x1024 mel
      matrices on CPU (about 6% of the dense multiply-adds, 16 matmuls).
  """

  def __init__(self, matrix, block=64):
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
      raise ValueError(f'matrix must be 2-D, got shape {matrix.shape}')
    self.shape = matrix.shape
    self._blocks = []  # (columns, first row, end row, float32 piece or None)
    for c0 in range(0, matrix.shape[1], block):
      piece = matrix[:, c0:c0 + block]
      rows = np.flatnonzero(np.any(piece != 0, axis=1))
      if rows.size == 0:
        self._blocks.append((piece.shape[1], 0, 0, None))
      else:
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        self._blocks.append((piece.shape[1], r0, r1,
                             piece[r0:r1].astype(np.float32)))

  @_numpy_only  # a Python loop over the blocks; nothing for autograph
  def __call__(self, x):
    """`[..., n]` float32 -> `[..., m]`."""
    x = tf.convert_to_tensor(x, tf.float32)
    if x.shape[-1] is not None and x.shape[-1] != self.shape[0]:
      raise ValueError(f'x has {x.shape[-1]} columns, the matrix '
                       f'{self.shape[0]} rows')
    rows = tf.reshape(x, [-1, self.shape[0]])
    parts = []
    for cols, r0, r1, piece in self._blocks:
      if piece is None:
        parts.append(tf.zeros([tf.shape(rows)[0], cols], tf.float32))
      else:
        parts.append(tf.matmul(rows[:, r0:r1], tf.constant(piece)))
    out = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [self.shape[1]]], 0))


def _normalize_axis(x, axis):
  rank = x.shape.rank
  if rank is None:
    raise ValueError('diff/unwrap need a tensor of known rank')
  if not -rank <= axis < rank:
    raise ValueError(f'axis {axis} is out of range for a tensor of rank {rank}')
  return axis % rank


def diff(x, axis=-1):
  """Finite difference `x[i+1] - x[i]` along `axis` (one shorter there)."""
  x = tf.convert_to_tensor(x)
  axis = _normalize_axis(x, axis)
  front = [slice(None)] * x.shape.rank
  back = [slice(None)] * x.shape.rank
  front[axis] = slice(1, None)
  back[axis] = slice(None, -1)
  return x[tuple(front)] - x[tuple(back)]


def unwrap(p, discont=np.pi, axis=-1):
  """Unwraps a phase tensor along `axis`, as Magenta does.

  Magenta's version differs from `np.unwrap` in one place: jumps smaller than
  `discont` are still corrected to their value modulo 2 pi (its zeroing line
  is dead code). For |jump| < pi that correction is zero up to rounding, so
  results agree with numpy to float precision; we keep Magenta's arithmetic
  so that rounding matches too. `discont` is accepted for API parity.

  Args:
    p: phase tensor, radians.
    discont: unused beyond API parity (see above).
    axis: axis to unwrap along.

  Returns:
    Tensor like `p`.
  """
  del discont
  p = tf.convert_to_tensor(p)
  axis = _normalize_axis(p, axis)
  dd = diff(p, axis=axis)
  ddmod = tf.math.floormod(dd + np.pi, 2.0 * np.pi) - np.pi
  # Map -pi to +pi for positive jumps, as np.unwrap does.
  ddmod = tf.where((ddmod == -np.pi) & (dd > 0), tf.constant(np.pi, p.dtype),
                   ddmod)
  correction = running_sum(ddmod - dd, axis=axis)
  first = [slice(None)] * p.shape.rank
  first[axis] = slice(0, 1)
  correction = tf.concat([tf.zeros_like(p[tuple(first)]), correction], axis=axis)
  return p + correction


def running_sum(x, axis=-2):
  """`tf.cumsum(x, axis)` as an unrolled chain of adds, for a short axis.

  The same sequential float32 sums (bitwise equal to tf.cumsum's), ~4x
  faster on CPU for the 128 frames of a spectrogram: TF's Cumsum kernel
  scans slowly along an axis that is not the innermost one. Falls back to
  tf.cumsum when the axis length is unknown or long (> 512).
  """
  x = tf.convert_to_tensor(x)
  axis = _normalize_axis(x, axis)
  length = x.shape[axis]
  if length is None or length > 512:
    return tf.cumsum(x, axis=axis)
  steps = tf.unstack(x, axis=axis)
  sums = [steps[0]]
  for step in steps[1:]:
    sums.append(sums[-1] + step)
  return tf.stack(sums, axis=axis)


def wrap_phase(x):
  """Angles (radians) into [-pi, pi], as Magenta's `unwrap` wraps a jump.

  `x - 2 pi round(x / 2 pi)` for |x| up to 3 pi. Round half to even keeps
  an exact +-pi where it is (x / 2 pi is then exactly +-0.5), which is the
  side Magenta's unwrap puts an exact jump of +-pi on (+pi for a positive
  jump, -pi for a negative one; the Nyquist bin's phase steps by exactly pi).
  Within a float32 rounding of +-pi otherwise, the two may land on opposite
  ends of the interval (2 pi apart). Four elementwise ops against Magenta's
  floormod, compare and select (~3x the time on CPU).
  """
  x = tf.convert_to_tensor(x)
  two_pi = tf.constant(2.0 * np.pi, x.dtype)
  return x - two_pi * tf.round(x / two_pi)


def instantaneous_frequency(phase_angle, time_axis=-2, use_unwrap=True):
  """Phase angle -> instantaneous frequency, in units of pi.

  The first frame keeps its (unwrapped) phase so the transform is invertible
  by a cumulative sum.

  Args:
    phase_angle: radians, e.g. `[batch, time, freq]`.
    time_axis: axis of time.
    use_unwrap: True is GANSynth's original path (unwrap, then difference).
      False differences first and wraps each step into [-pi, pi], which keeps
      precision on long signals (Magenta's later option).

  Returns:
    Tensor like `phase_angle`, divided by pi.
  """
  phase_angle = tf.convert_to_tensor(phase_angle)
  time_axis = _normalize_axis(phase_angle, time_axis)
  if use_unwrap:
    phase = unwrap(phase_angle, axis=time_axis)
    dphase = diff(phase, axis=time_axis)
  else:
    phase = phase_angle
    dphase = diff(phase_angle, axis=time_axis)
    dphase = tf.where(dphase > np.pi, dphase - 2 * np.pi, dphase)
    dphase = tf.where(dphase < -np.pi, dphase + 2 * np.pi, dphase)
  first = [slice(None)] * phase.shape.rank
  first[time_axis] = slice(0, 1)
  return tf.concat([phase[tuple(first)], dphase], axis=time_axis) / np.pi


def polar2rect(mag, phase_angle):
  """Magnitude and phase (real tensors) -> complex tensor."""
  mag = tf.convert_to_tensor(mag)
  phase_angle = tf.convert_to_tensor(phase_angle, dtype=mag.dtype)
  return tf.complex(mag * tf.cos(phase_angle), mag * tf.sin(phase_angle))


def crop_or_pad(waves, length, channels):
  """Forces waves to `[batch, length, channels]`.

  Short clips are zero-padded on both sides (the extra sample, if odd, on the
  left, as Magenta); long clips keep their first `length` samples; channels
  are tiled (mono -> stereo) or dropped.

  Args:
    waves: `[batch, samples, channels_in]`.
    length: output samples.
    channels: output channels.

  Returns:
    `[batch, length, channels]`.
  """
  waves = tf.convert_to_tensor(waves)
  if waves.shape.rank != 3:
    raise ValueError('crop_or_pad expects waves of shape [batch, samples, '
                     f'channels], got shape {waves.shape}')
  shape = tf.shape(waves)
  pad = tf.maximum(0, length - shape[1])
  right = pad // 2
  waves = tf.pad(waves, [[0, 0], [pad - right, right], [0, 0]])[:, :length]
  repeats = -(-channels // shape[2])  # ceil division
  waves = tf.tile(waves, [1, 1, repeats])[:, :, :channels]
  return tf.ensure_shape(waves, [waves.shape[0], length, channels])
