"""Magenta's `SpecgramsHelper`: waves <-> stfts <-> (mel) specgrams.

Why ~470 lines in one module: it is one class, Magenta's
`lib/specgrams_helper.py` with its method names, whose forward and inverse
transforms share one frame layout (padding in front, the dropped bin, the
mel matrices and their banded products, the channel packing); the fused
IF-Mel paths and the parity notes they need sit beside the step-by-step
ones they must equal (tests/test_specgrams.py against Magenta's outputs).
The representations built on it (`DataHelper` per `data_type`, the real-op
inverse for TF Lite, the Keras layers) are in `specgrams.py`, which also
re-exports this class.

Shapes follow Magenta: waves `[batch, samples, 1]`, stfts complex
`[batch, time, freq, 1]`, specgrams `[batch, time, freq, 2]` with channel 0
the log magnitude and channel 1 the phase or instantaneous frequency, in units
of pi.
"""

import copy

import numpy as np
import tensorflow as tf
# pylint: disable-next=g-direct-tensorflow-import
from tensorflow.python.ops import control_flow_util

from gansynth_tf2 import spectral_ops


def _is_power_of_two(n):
  return isinstance(n, (int, np.integer)) and n > 0 and (n & (n - 1)) == 0


def check_rank(x, rank, name, expected):
  if x.shape.rank != rank:
    raise ValueError(f'{name} must have shape {expected}, got shape {x.shape}')


def check_finite(x, name):
  """ValueError for NaN/Inf when eager; an assertion op inside graphs."""
  if tf.executing_eagerly():
    if not np.all(np.isfinite(x.numpy())):
      raise ValueError(f'{name} contains NaN or Inf values')
    return x
  return tf.debugging.assert_all_finite(x, f'{name} contains NaN or Inf values')


def _in_xla_context():
  """Whether ops are being traced for XLA (e.g. a jit_compile tf.function)."""
  try:
    return control_flow_util.GraphOrParentsInXlaContext(
        tf.compat.v1.get_default_graph())
  except Exception:  # pylint: disable=broad-except  (a private TF API)
    return False


# `[..., n]` x 2 <-> `[..., n, 2]`. tf.stack / slicing on the last axis move
# one float at a time on CPU (~25 ms per batch-8 128x1024 image, as much as
# the mel matmuls and the FFT together). A complex64 tensor has exactly the
# interleaved layout, so tf.complex + tf.bitcast does the same in one fast
# pass. XLA has no complex bitcast but fuses tf.stack, so it keeps that.
@tf.custom_gradient
def _interleave_bitcast(a, b):
  def grad(g):
    return _deinterleave_bitcast(g)
  return tf.bitcast(tf.complex(a, b), tf.float32), grad


@tf.custom_gradient
def _deinterleave_bitcast(x):
  c = tf.bitcast(x, tf.complex64)
  def grad(grad_a, grad_b):
    grad_a = tf.zeros_like(tf.math.real(c)) if grad_a is None else grad_a
    grad_b = tf.zeros_like(tf.math.real(c)) if grad_b is None else grad_b
    return _interleave_bitcast(grad_a, grad_b)
  return (tf.math.real(c), tf.math.imag(c)), grad


def _sqrt_with_finite_gradient(x):
  """`tf.sqrt(x)` for x >= 0, value for value, with a gradient of 0 where
  x == 0 (tf.sqrt's is inf there, and inf * 0 makes NaN): the bin that
  stays exactly 0 would otherwise turn every gradient through the inverse
  transform into NaN (inversion.py optimises latents through it)."""
  positive = x > 0
  return tf.where(positive, tf.sqrt(tf.where(positive, x, 1.0)), 0.0)


def overlap_add(frames, hop, num_frames):
  """`tf.signal.overlap_and_add` for a frame length that is a multiple of
  `hop`, as one padded add per hop of a frame (real ops only, faster on CPU).

  `[batch, num_frames, frame_length]` -> `[batch, (num_frames - 1) * hop +
  frame_length]`. Used by `SpecgramsHelper`'s inverse STFT and by
  `specgrams.RealInverseTransform` (TF Lite).
  """
  parts = frames.shape[-1] // hop
  hops = tf.reshape(frames, [-1, num_frames, parts, hop])
  waves = tf.add_n([
      tf.pad(hops[:, :, i], [[0, 0], [i, parts - 1 - i], [0, 0]])
      for i in range(parts)])
  return tf.reshape(waves, [-1, (num_frames + parts - 1) * hop])


def _interleave(a, b):
  """`tf.stack([a, b], axis=-1)` for float32 a and b."""
  if _in_xla_context():
    return tf.stack([a, b], axis=-1)
  return _interleave_bitcast(a, b)


def _deinterleave(x):
  """`(x[..., 0], x[..., 1])` for float32 x with a last axis of 2."""
  if _in_xla_context() or x.shape[-1] != 2:
    return x[..., 0], x[..., 1]
  return _deinterleave_bitcast(x)


class SpecgramsHelper:
  """Conversions between waves, stfts, specgrams and mel specgrams.

  Same constructor and method names as Magenta's `SpecgramsHelper`.

  Args:
    audio_length: samples per clip (64000 for NSynth).
    spec_shape: `(time, freq)` of the stfts, freq a power of two. The paper's
      high frequency resolution is (128, 1024): nfft 2048, hop 512.
    overlap: frame overlap; hop = (1 - overlap) * nfft.
    sample_rate: Hz.
    mel_downscale: mel bins = freq bins // mel_downscale; None disables mel.
    ifreq: True for instantaneous frequency, False for wrapped phase.
    discard_dc: drop the DC bin (True) or the Nyquist bin (False) so that
      freq is a power of two.
  """

  def __init__(self, audio_length, spec_shape, overlap, sample_rate,
               mel_downscale, ifreq=True, discard_dc=True):
    spec_shape = tuple(int(s) for s in spec_shape)
    if len(spec_shape) != 2:
      raise ValueError(f'spec_shape must be (time, freq), got {spec_shape}')
    if not _is_power_of_two(spec_shape[1]):
      raise ValueError('spec_shape: the number of frequency bins must be a '
                       f'power of 2, got {spec_shape[1]} in {spec_shape}')
    if not 0.0 <= overlap < 1.0:
      raise ValueError(f'overlap must be in [0, 1), got {overlap}')
    if audio_length <= 0:
      raise ValueError(f'audio_length must be positive, got {audio_length}')
    self._audio_length = int(audio_length)
    self._spec_shape = spec_shape
    self._overlap = overlap
    self._sample_rate = sample_rate
    self._mel_downscale = mel_downscale
    self._ifreq = ifreq
    self._discard_dc = discard_dc
    self._eps = 1.0e-6

    self._nfft = spec_shape[1] * 2
    self._nhop = int((1.0 - overlap) * self._nfft)
    # Samples covered by spec_shape[0] frames. All padding goes in front, as
    # Magenta does for NSynth (so the note onset is not smeared; edge effects
    # land in the quiet tail instead).
    num_samples = self._nhop * (spec_shape[0] - 1) + self._nfft
    if num_samples < self._audio_length:
      raise ValueError(
          f'audio_length {self._audio_length} is longer than the '
          f'{num_samples} samples that {spec_shape[0]} frames of hop '
          f'{self._nhop} and nfft {self._nfft} cover (spec_shape '
          f'{spec_shape}, overlap {overlap})')
    self._pad_l = num_samples - self._audio_length
    self._l2mel = None
    self._mel2l = None
    self._banded_cache = {}  # BandedMatmul per (matrix, with the dropped bin)
    self._complex_free = False  # see without_complex_ops

  def without_complex_ops(self):
    """This helper, its channel (de)interleaving done with stack / slice.

    The default packs the two channels through a complex64 bitcast (one fast
    pass on CPU); TF Lite's builtin ops have no complex type, so graphs
    converted to TF Lite (specgrams.RealInverseTransform) use this copy.
    """
    clone = copy.copy(self)
    clone._complex_free = True  # pylint: disable=protected-access
    return clone

  def _interleave(self, a, b):
    if self._complex_free:
      return tf.stack([a, b], axis=-1)
    return _interleave(a, b)

  def _deinterleave(self, x):
    if self._complex_free:
      return x[..., 0], x[..., 1]
    return _deinterleave(x)

  @property
  def nfft(self):
    return self._nfft

  @property
  def nhop(self):
    return self._nhop

  @property
  def spec_shape(self):
    return self._spec_shape

  @property
  def audio_length(self):
    return self._audio_length

  def _safe_log(self, x):
    return tf.math.log(x + self._eps)

  def _check_waves(self, waves):
    waves = tf.convert_to_tensor(waves, tf.float32)
    expected = f'[batch, {self._audio_length}, 1]'
    check_rank(waves, 3, 'waves', expected)
    if waves.shape[2] is not None and waves.shape[2] != 1:
      raise ValueError(f'waves must have shape {expected} (mono), got shape '
                       f'{waves.shape}')
    if waves.shape[1] is not None and waves.shape[1] != self._audio_length:
      raise ValueError(f'waves must have shape {expected}, got shape '
                       f'{waves.shape}: crop or pad the audio first '
                       '(spectral_ops.crop_or_pad)')
    return check_finite(waves, 'waves')

  def _check_image(self, x, dtype, name, height, width, channels):
    """Rank, static shape and (eager) finiteness of a `[b, H, W, C]` input."""
    x = tf.convert_to_tensor(x, dtype)
    expected = f'[batch, {height}, {width}, {channels}]'
    check_rank(x, 4, name, expected)
    for got, want in zip(x.shape[1:], [height, width, channels]):
      if got is not None and got != want:
        raise ValueError(f'{name} must have shape {expected}, got shape '
                         f'{x.shape}')
    if not dtype.is_complex:
      return check_finite(x, name)
    checked = check_finite(tf.math.real(x) + tf.math.imag(x), name)
    if tf.executing_eagerly():
      return x
    with tf.control_dependencies([checked]):  # keep the check in the graph
      return tf.identity(x)

  def _check_specgrams(self, specgrams):
    return self._check_image(specgrams, tf.float32, 'specgrams',
                             *self._spec_shape, 2)

  def _check_stfts(self, stfts):
    return self._check_image(stfts, tf.complex64, 'stfts', *self._spec_shape, 1)

  def _full_stfts(self, waves):
    """Checked waves -> complex64 `[batch, time, nfft / 2 + 1]`, all bins."""
    padded = tf.pad(waves[:, :, 0], [[0, 0], [self._pad_l, 0]])
    frames_per_window, rem = divmod(self._nfft, self._nhop)
    if rem:
      return tf.signal.stft(padded, frame_length=self._nfft,
                            frame_step=self._nhop, fft_length=self._nfft,
                            pad_end=False)
    # tf.signal.stft's framing, window and rfft, with the frames cut as
    # whole hops (contiguous copies instead of a gather).
    num_frames = self._spec_shape[0]
    hops = tf.reshape(padded,
                      [-1, num_frames - 1 + frames_per_window, self._nhop])
    frames = tf.concat([hops[:, i:i + num_frames]
                        for i in range(frames_per_window)], axis=-1)
    window = tf.signal.hann_window(self._nfft, periodic=True)
    return tf.signal.rfft(frames * window, [self._nfft])

  def _full_stfts_to_waves(self, stfts):
    """complex64 `[batch, time, nfft / 2 + 1]` -> `[batch, samples, 1]`."""
    window = tf.signal.inverse_stft_window_fn(frame_step=self._nhop)(
        self._nfft, tf.float32)
    frames = tf.signal.irfft(stfts, [self._nfft]) * window
    if self._nfft % self._nhop:
      waves = tf.signal.overlap_and_add(frames, self._nhop)
    else:
      waves = overlap_add(frames, self._nhop, self._spec_shape[0])
    return waves[:, self._pad_l:, tf.newaxis]

  def waves_to_stfts(self, waves):
    """`[batch, samples, 1]` float -> complex64 `[batch, time, freq, 1]`."""
    stfts = self._full_stfts(self._check_waves(waves))
    stfts = stfts[:, :, 1:] if self._discard_dc else stfts[:, :, :-1]
    return stfts[..., tf.newaxis]

  def stfts_to_waves(self, stfts):
    """complex64 `[batch, time, freq, 1]` -> `[batch, samples, 1]`."""
    stfts = self._check_stfts(stfts)
    dc = 1 if self._discard_dc else 0
    stfts = tf.pad(stfts[..., 0], [[0, 0], [0, 0], [dc, 1 - dc]])
    return self._full_stfts_to_waves(stfts)

  def stfts_to_specgrams(self, stfts):
    """complex `[batch, time, freq, 1]` -> `[batch, time, freq, 2]`."""
    stfts = self._check_stfts(stfts)[..., 0]
    logmag = self._safe_log(tf.abs(stfts))
    # tf.math.angle is a scalar loop on CPU (~14x slower than atan2).
    phase_angle = tf.math.atan2(tf.math.imag(stfts), tf.math.real(stfts))
    if self._ifreq:
      p = spectral_ops.instantaneous_frequency(phase_angle)
    else:
      p = phase_angle / np.pi
    return self._interleave(logmag, p)

  def specgrams_to_stfts(self, specgrams):
    """`[batch, time, freq, 2]` -> complex64 `[batch, time, freq, 1]`."""
    logmag, p = self._deinterleave(self._check_specgrams(specgrams))
    mag = tf.exp(logmag)
    if self._ifreq:
      phase_angle = spectral_ops.running_sum(p * np.pi, axis=-2)
    else:
      phase_angle = p * np.pi
    return spectral_ops.polar2rect(mag, phase_angle)[..., tf.newaxis]

  @tf.autograph.experimental.do_not_convert  # numpy (see spectral_ops)
  def linear_to_mel_matrix(self):
    """float64 `[freq, mel]` matrix, mel band edges from 0 Hz to Nyquist."""
    if self._l2mel is None:
      num_freq_bins = self._nfft // 2
      self._l2mel = spectral_ops.linear_to_mel_weight_matrix(
          num_mel_bins=num_freq_bins // self._mel_downscale,
          num_spectrogram_bins=num_freq_bins,
          sample_rate=self._sample_rate,
          lower_edge_hertz=0.0,
          upper_edge_hertz=self._sample_rate / 2.0)
    return self._l2mel

  @tf.autograph.experimental.do_not_convert  # numpy (see spectral_ops)
  def mel_to_linear_matrix(self):
    """float64 `[mel, freq]` approximate inverse of `linear_to_mel_matrix`."""
    if self._mel2l is None:
      self._mel2l = spectral_ops.mel_to_linear_weight_matrix(
          self.linear_to_mel_matrix())
    return self._mel2l

  def _banded(self, name, all_bins):
    """Cached `spectral_ops.BandedMatmul` of a mel matrix.

    Args:
      name: 'l2mel' (`[freq, mel]`) or 'mel2l' (`[mel, freq]`).
      all_bins: the linear side has all nfft / 2 + 1 rfft bins, the one the
        specgrams drop (DC, or Nyquist with discard_dc=False) as a zero row
        (l2mel) or column (mel2l), so the full rfft goes in or comes out
        without a slice or pad.
    """
    key = (name, all_bins)
    if key not in self._banded_cache:
      if name == 'l2mel':
        m = self.linear_to_mel_matrix()
      else:
        m = self.mel_to_linear_matrix().T
      if all_bins:  # m is [freq, mel] here
        m = np.insert(m, 0 if self._discard_dc else m.shape[0], 0.0, axis=0)
      self._banded_cache[key] = spectral_ops.BandedMatmul(
          m if name == 'l2mel' else m.T)
    return self._banded_cache[key]

  def specgrams_to_melspecgrams(self, specgrams):
    """Linear specgrams -> mel specgrams, `[batch, time, freq, 2]` each.

    Channel 0 becomes log mel power (log of the mel-weighted squared
    magnitude), channel 1 the IF of the mel-weighted unwrapped phase.
    """
    if self._mel_downscale is None:
      return specgrams
    specgrams = self._check_specgrams(specgrams)
    logmag, p = self._deinterleave(specgrams)
    mag2 = tf.exp(2.0 * logmag)
    phase_angle = spectral_ops.running_sum(p * np.pi, axis=-2)
    l2mel = self._banded('l2mel', all_bins=False)
    logmelmag2 = self._safe_log(l2mel(mag2))
    mel_phase_angle = l2mel(phase_angle)
    mel_p = spectral_ops.instantaneous_frequency(mel_phase_angle)
    return self._interleave(logmelmag2, mel_p)

  def melspecgrams_to_specgrams(self, melspecgrams):
    """Mel specgrams -> linear specgrams, `[batch, time, freq, 2]` each."""
    if self._mel_downscale is None:
      return melspecgrams
    melspecgrams = self._check_melspecgrams(melspecgrams)
    logmelmag2, mel_p = self._deinterleave(melspecgrams)
    mel2l = self._banded('mel2l', all_bins=False)
    mag2 = mel2l(tf.exp(logmelmag2))
    logmag = 0.5 * self._safe_log(mag2)
    mel_phase_angle = spectral_ops.running_sum(mel_p * np.pi, axis=-2)
    phase_angle = mel2l(mel_phase_angle)
    p = spectral_ops.instantaneous_frequency(phase_angle)
    return self._interleave(logmag, p)

  def _check_melspecgrams(self, melspecgrams):
    return self._check_image(
        melspecgrams, tf.float32, 'melspecgrams', self._spec_shape[0],
        self._spec_shape[1] // self._mel_downscale, 2)

  # The IF-Mel transforms in one step. Magenta composes them from the
  # linear ones: IF (unwrap, diff), then back to phase (cumsum), the mel
  # matmul, IF again (unwrap, diff); and inverse the same way round. Since
  # the mel matmul (over frequency) commutes with the sums and differences
  # over time, and the phase only matters modulo 2 pi, most of that cancels:
  #   forward: d = wrap(phase[t] - phase[t - 1]) (the linear IF times pi,
  #     first frame the phase itself), mel IF = wrap(d @ l2mel) / pi
  #     (first frame not wrapped);
  #   inverse: phase = cumsum over time of mel IF @ (pi mel2l), already the
  #     phase Magenta's cumsum of the re-derived linear IF gives, modulo 2 pi.
  # Same values up to float32 rounding (Magenta's own: its cumulative phases
  # reach hundreds of radians), at a fraction of the ops; see
  # tests/test_specgrams.py for parity with Magenta's oracle.

  def _stfts_to_melspecgrams(self, stfts, all_bins):
    """complex64 `[batch, time, bins]` -> mel specgrams `[b, t, mel, 2]`."""
    re, im = tf.math.real(stfts), tf.math.imag(stfts)
    mag = tf.sqrt(re * re + im * im)  # tf.abs of complex64 is ~3x slower
    phase = tf.math.atan2(im, re)
    previous = tf.pad(phase[:, :-1], [[0, 0], [1, 0], [0, 0]])
    dphase = spectral_ops.wrap_phase(phase - previous)
    l2mel = self._banded('l2mel', all_bins)
    logmelmag2 = self._safe_log(l2mel(tf.square(mag + self._eps)))
    mel_dphase = l2mel(dphase)
    # wrap_phase on frames 1.., frame 0 kept whole.
    mel_p = (mel_dphase * (1.0 / np.pi) -
             2.0 * tf.round(mel_dphase * self._turn_scale()))
    return self._interleave(logmelmag2, mel_p)

  def _melspecgrams_to_stfts(self, melspecgrams, all_bins):
    """Checked mel specgrams -> complex64 `[batch, time, bins]`."""
    logmelmag2, mel_p = self._deinterleave(melspecgrams)
    mag2 = self._banded('mel2l', all_bins)(tf.exp(logmelmag2))
    eps = self._eps
    if all_bins:  # the added bin stays exactly 0, as the pad makes it
      eps = np.full([self._nfft // 2 + 1], self._eps, np.float32)
      eps[0 if self._discard_dc else -1] = 0.0
    mag = _sqrt_with_finite_gradient(mag2 + eps)  # exp(0.5 log(mag2 + eps))
    # Magenta's phase, to its float32 rounding: the mel cumulative phase
    # (hundreds of radians, rounded to float32 as it accumulates) through
    # the matrix, less the whole turns its unwrap then removes, a float32
    # running sum of float32 2 pi's (not 2 pi). These roundings move the
    # waves by ~1e-4 of peak: the exact phase, or the cumulative sum of the
    # linear phase advances, misses Magenta's waves by that much.
    cumulative = self._banded('mel2l', all_bins)(
        spectral_ops.running_sum(mel_p * np.pi, axis=-2))
    advance = cumulative - tf.pad(cumulative[:, :-1], [[0, 0], [1, 0], [0, 0]])
    turns = tf.round(advance * self._turn_scale())
    # Summed as float32 multiples of 2 pi, as Magenta's unwrap sums them.
    phase = cumulative + spectral_ops.running_sum(
        turns * np.float32(-2.0 * np.pi), axis=-2)
    return tf.complex(mag * tf.cos(phase), mag * tf.sin(phase))

  def _turn_scale(self):
    """`[time, 1]`: 1 / (2 pi), but 0 on frame 0 (its phase stays whole)."""
    scale = np.full([self._spec_shape[0], 1], 1.0 / (2.0 * np.pi), np.float32)
    scale[0] = 0.0
    return scale

  def stfts_to_melspecgrams(self, stfts):
    if self._mel_downscale is None:
      return self.stfts_to_specgrams(stfts)
    return self._stfts_to_melspecgrams(self._check_stfts(stfts)[..., 0],
                                       all_bins=False)

  def melspecgrams_to_stfts(self, melspecgrams):
    if self._mel_downscale is None:
      return self.specgrams_to_stfts(melspecgrams)
    stfts = self._melspecgrams_to_stfts(
        self._check_melspecgrams(melspecgrams), all_bins=False)
    return stfts[..., tf.newaxis]

  def waves_to_specgrams(self, waves):
    return self.stfts_to_specgrams(self.waves_to_stfts(waves))

  def specgrams_to_waves(self, specgrams):
    return self.stfts_to_waves(self.specgrams_to_stfts(specgrams))

  def waves_to_melspecgrams(self, waves):
    if self._mel_downscale is None:
      return self.waves_to_specgrams(waves)
    return self._stfts_to_melspecgrams(
        self._full_stfts(self._check_waves(waves)), all_bins=True)

  def melspecgrams_to_waves(self, melspecgrams):
    if self._mel_downscale is None:
      return self.specgrams_to_waves(melspecgrams)
    return self._full_stfts_to_waves(self._melspecgrams_to_stfts(
        self._check_melspecgrams(melspecgrams), all_bins=True))

