"""Audio <-> spectrogram "images": Magenta's SpecgramsHelper and Keras layers.

Counterpart of Magenta's `lib/specgrams_helper.py` and `lib/data_helpers.py`.
Shapes follow Magenta: waves `[batch, samples, 1]`, stfts complex
`[batch, time, freq, 1]`, specgrams `[batch, time, freq, 2]` with channel 0
the log magnitude and channel 1 the phase or instantaneous frequency, in units
of pi.

Representations (`data_type`, Magenta's names):
  'phase'  : linear-frequency log magnitude + wrapped phase.
  'linear' : linear-frequency log magnitude + instantaneous frequency (IF).
  'mel'    : mel-frequency log power + mel IF ("IF-Mel"), the paper's best.
  'wave'   : the raw wave laid out as a `[batch, 65536, 1, 2]` image.
"""

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf2 import schedule
from gansynth_tf2 import spectral_ops

DATA_TYPES = ('phase', 'linear', 'mel', 'wave')


def _is_power_of_two(n):
  return isinstance(n, (int, np.integer)) and n > 0 and (n & (n - 1)) == 0


def _check_rank(x, rank, name, expected):
  if x.shape.rank != rank:
    raise ValueError(f'{name} must have shape {expected}, got shape {x.shape}')


def _check_finite(x, name):
  """ValueError for NaN/Inf when eager; an assertion op inside graphs."""
  if tf.executing_eagerly():
    if not np.all(np.isfinite(x.numpy())):
      raise ValueError(f'{name} contains NaN or Inf values')
    return x
  return tf.debugging.assert_all_finite(x, f'{name} contains NaN or Inf values')


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
    _check_rank(waves, 3, 'waves', expected)
    if waves.shape[2] is not None and waves.shape[2] != 1:
      raise ValueError(f'waves must have shape {expected} (mono), got shape '
                       f'{waves.shape}')
    if waves.shape[1] is not None and waves.shape[1] != self._audio_length:
      raise ValueError(f'waves must have shape {expected}, got shape '
                       f'{waves.shape}: crop or pad the audio first '
                       '(spectral_ops.crop_or_pad)')
    return _check_finite(waves, 'waves')

  def _check_image(self, x, dtype, name, height, width, channels):
    """Rank, static shape and (eager) finiteness of a `[b, H, W, C]` input."""
    x = tf.convert_to_tensor(x, dtype)
    expected = f'[batch, {height}, {width}, {channels}]'
    _check_rank(x, 4, name, expected)
    for got, want in zip(x.shape[1:], [height, width, channels]):
      if got is not None and got != want:
        raise ValueError(f'{name} must have shape {expected}, got shape '
                         f'{x.shape}')
    if not dtype.is_complex:
      return _check_finite(x, name)
    checked = _check_finite(tf.math.real(x) + tf.math.imag(x), name)
    if tf.executing_eagerly():
      return x
    with tf.control_dependencies([checked]):  # keep the check in the graph
      return tf.identity(x)

  def _check_specgrams(self, specgrams):
    return self._check_image(specgrams, tf.float32, 'specgrams',
                             *self._spec_shape, 2)

  def _check_stfts(self, stfts):
    return self._check_image(stfts, tf.complex64, 'stfts', *self._spec_shape, 1)

  def waves_to_stfts(self, waves):
    """`[batch, samples, 1]` float -> complex64 `[batch, time, freq, 1]`."""
    waves = self._check_waves(waves)
    padded = tf.pad(waves[:, :, 0], [[0, 0], [self._pad_l, 0]])
    stfts = tf.signal.stft(padded, frame_length=self._nfft,
                           frame_step=self._nhop, fft_length=self._nfft,
                           pad_end=False)
    stfts = stfts[:, :, 1:] if self._discard_dc else stfts[:, :, :-1]
    return stfts[..., tf.newaxis]

  def stfts_to_waves(self, stfts):
    """complex64 `[batch, time, freq, 1]` -> `[batch, samples, 1]`."""
    stfts = self._check_stfts(stfts)
    dc = 1 if self._discard_dc else 0
    stfts = tf.pad(stfts[..., 0], [[0, 0], [0, 0], [dc, 1 - dc]])
    waves = tf.signal.inverse_stft(
        stfts, frame_length=self._nfft, frame_step=self._nhop,
        fft_length=self._nfft,
        window_fn=tf.signal.inverse_stft_window_fn(frame_step=self._nhop))
    return waves[:, self._pad_l:, tf.newaxis]

  def stfts_to_specgrams(self, stfts):
    """complex `[batch, time, freq, 1]` -> `[batch, time, freq, 2]`."""
    stfts = self._check_stfts(stfts)[..., 0]
    logmag = self._safe_log(tf.abs(stfts))
    phase_angle = tf.math.angle(stfts)
    if self._ifreq:
      p = spectral_ops.instantaneous_frequency(phase_angle)
    else:
      p = phase_angle / np.pi
    return tf.stack([logmag, p], axis=-1)

  def specgrams_to_stfts(self, specgrams):
    """`[batch, time, freq, 2]` -> complex64 `[batch, time, freq, 1]`."""
    specgrams = self._check_specgrams(specgrams)
    mag = tf.exp(specgrams[..., 0])
    p = specgrams[..., 1]
    phase_angle = tf.cumsum(p * np.pi, axis=-2) if self._ifreq else p * np.pi
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

  def specgrams_to_melspecgrams(self, specgrams):
    """Linear specgrams -> mel specgrams, `[batch, time, freq, 2]` each.

    Channel 0 becomes log mel power (log of the mel-weighted squared
    magnitude), channel 1 the IF of the mel-weighted unwrapped phase.
    """
    if self._mel_downscale is None:
      return specgrams
    specgrams = self._check_specgrams(specgrams)
    mag2 = tf.exp(2.0 * specgrams[..., 0])
    phase_angle = tf.cumsum(specgrams[..., 1] * np.pi, axis=-2)
    l2mel = tf.constant(self.linear_to_mel_matrix(), tf.float32)
    logmelmag2 = self._safe_log(tf.tensordot(mag2, l2mel, 1))
    mel_phase_angle = tf.tensordot(phase_angle, l2mel, 1)
    mel_p = spectral_ops.instantaneous_frequency(mel_phase_angle)
    return tf.stack([logmelmag2, mel_p], axis=-1)

  def melspecgrams_to_specgrams(self, melspecgrams):
    """Mel specgrams -> linear specgrams, `[batch, time, freq, 2]` each."""
    if self._mel_downscale is None:
      return melspecgrams
    melspecgrams = self._check_image(
        melspecgrams, tf.float32, 'melspecgrams', self._spec_shape[0],
        self._spec_shape[1] // self._mel_downscale, 2)
    mel2l = tf.constant(self.mel_to_linear_matrix(), tf.float32)
    mag2 = tf.tensordot(tf.exp(melspecgrams[..., 0]), mel2l, 1)
    logmag = 0.5 * self._safe_log(mag2)
    mel_phase_angle = tf.cumsum(melspecgrams[..., 1] * np.pi, axis=-2)
    phase_angle = tf.tensordot(mel_phase_angle, mel2l, 1)
    p = spectral_ops.instantaneous_frequency(phase_angle)
    return tf.stack([logmag, p], axis=-1)

  def stfts_to_melspecgrams(self, stfts):
    return self.specgrams_to_melspecgrams(self.stfts_to_specgrams(stfts))

  def melspecgrams_to_stfts(self, melspecgrams):
    return self.specgrams_to_stfts(self.melspecgrams_to_specgrams(melspecgrams))

  def waves_to_specgrams(self, waves):
    return self.stfts_to_specgrams(self.waves_to_stfts(waves))

  def specgrams_to_waves(self, specgrams):
    return self.stfts_to_waves(self.specgrams_to_stfts(specgrams))

  def waves_to_melspecgrams(self, waves):
    return self.stfts_to_melspecgrams(self.waves_to_stfts(waves))

  def melspecgrams_to_waves(self, melspecgrams):
    return self.stfts_to_waves(self.melspecgrams_to_stfts(melspecgrams))


class DataHelper:
  """One representation's `waves_to_data` / `data_to_waves` (Magenta names).

  waves `[batch, audio_length, 1]` <-> data `[batch, height, width, 2]`.
  """

  def __init__(self, data_type, audio_length=64000, sample_rate=16000,
               spec_shape=(128, 1024)):
    if data_type not in DATA_TYPES:
      raise ValueError(f'data_type must be one of {DATA_TYPES}, got '
                       f'{data_type!r}')
    self.data_type = data_type
    self.audio_length = int(audio_length)
    self.sample_rate = sample_rate
    if data_type == 'wave':
      # Magenta's wave model: the clip padded by 768 zeros on each side to
      # 65536 samples, one column wide, duplicated into two channels.
      self.wave_pad = 768
      self.data_shape = (self.audio_length + 2 * self.wave_pad, 1, 2)
      self.specgrams_helper = None
      return
    self.specgrams_helper = SpecgramsHelper(
        audio_length=audio_length, spec_shape=spec_shape, overlap=0.75,
        sample_rate=sample_rate, mel_downscale=1,
        ifreq=data_type != 'phase')
    self.data_shape = tuple(spec_shape) + (2,)

  @classmethod
  def from_hparams(cls, hp):
    """The representation of an `hparams.HParams` at its final resolution."""
    spec_shape = schedule.ResolutionSchedule.from_hparams(hp).final_resolutions
    return cls(hp.data_type, hp.audio_length, hp.sample_rate, spec_shape)

  def waves_to_data(self, waves):
    """`[batch, audio_length, 1]` -> `[batch, *data_shape]`."""
    helper = self.specgrams_helper
    if self.data_type == 'mel':
      return helper.waves_to_melspecgrams(waves)
    if self.data_type in ('linear', 'phase'):
      return helper.waves_to_specgrams(waves)
    waves = tf.convert_to_tensor(waves, tf.float32)
    _check_rank(waves, 3, 'waves', f'[batch, {self.audio_length}, 1]')
    _check_finite(waves, 'waves')
    waves = tf.pad(waves[:, :, tf.newaxis, :],
                   [[0, 0], [self.wave_pad, self.wave_pad], [0, 0], [0, 0]])
    return tf.concat([waves, waves], axis=-1)

  def data_to_waves(self, data):
    """`[batch, *data_shape]` -> `[batch, audio_length, 1]`."""
    helper = self.specgrams_helper
    if self.data_type == 'mel':
      return helper.melspecgrams_to_waves(data)
    if self.data_type in ('linear', 'phase'):
      return helper.specgrams_to_waves(data)
    data = tf.convert_to_tensor(data, tf.float32)
    _check_rank(data, 4, 'data', f'[batch, {self.data_shape[0]}, 1, 2]')
    return data[:, self.wave_pad:-self.wave_pad, 0, :1]


def make_data_helper(data_type, audio_length=64000, sample_rate=16000,
                     spec_shape=(128, 1024)):
  """The `DataHelper` for a representation (Magenta's data_helpers registry)."""
  return DataHelper(data_type, audio_length, sample_rate, spec_shape)


class WavesToSpecgrams(keras.layers.Layer):
  """Keras layer: waves `[batch, samples(, 1)]` -> data `[batch, H, W, 2]`."""

  def __init__(self, data_type='mel', audio_length=64000, sample_rate=16000,
               spec_shape=(128, 1024), **kwargs):
    kwargs['trainable'] = False  # no weights; a fixed transform
    super().__init__(**kwargs)
    self.data_type = data_type
    self.audio_length = audio_length
    self.sample_rate = sample_rate
    self.spec_shape = tuple(spec_shape)
    self.helper = make_data_helper(data_type, audio_length, sample_rate,
                                   spec_shape)

  def call(self, waves):
    waves = tf.convert_to_tensor(waves, tf.float32)
    if waves.shape.rank == 2:
      waves = waves[..., tf.newaxis]
    return self.helper.waves_to_data(waves)

  def get_config(self):
    config = super().get_config()
    config.update(data_type=self.data_type, audio_length=self.audio_length,
                  sample_rate=self.sample_rate, spec_shape=self.spec_shape)
    return config


class SpecgramsToWaves(WavesToSpecgrams):
  """Keras layer: data `[batch, H, W, 2]` -> waves `[batch, samples, 1]`."""

  def call(self, data):  # pylint: disable=arguments-renamed
    return self.helper.data_to_waves(data)


class _MelOnly:
  """Pins a representation layer to IF-Mel (`data_type` kept for configs)."""

  def __init__(self, audio_length=64000, sample_rate=16000,
               spec_shape=(128, 1024), data_type='mel', **kwargs):
    if data_type != 'mel':
      raise ValueError(f'{type(self).__name__} is IF-Mel only; got '
                       f'data_type={data_type!r}')
    super().__init__(data_type='mel', audio_length=audio_length,
                     sample_rate=sample_rate, spec_shape=spec_shape, **kwargs)


class MelIF(_MelOnly, WavesToSpecgrams):
  """waves -> IF-Mel specgrams (the paper's best representation)."""


class InverseMelIF(_MelOnly, SpecgramsToWaves):
  """IF-Mel specgrams -> waves."""
